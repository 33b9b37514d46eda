//! Commit rounds, their payloads, and recovery from an interrupted round.
//!
//! # On disk
//!
//! ```text
//! DATA_DIR/logs/2026.11.26/   a tantivy index per UTC day of event time
//! DATA_DIR/incidents/         a tantivy index
//! ```
//!
//! Every tantivy commit carries a payload (JSON, in tantivy's `meta.json`):
//!
//! ```text
//! {"generation": 7, "checkpoint": {"sources": {...}}, "touched": ["2026.11.26"]}
//! ```
//!
//! While a recovery runs (below), the payload also carries it:
//! `"recovery": {"target": {...}, "days": ["2026.11.26"]}`.
//!
//! The incidents index's payload (only it: the day indexes do not need it)
//! also carries the detector's state when the writer is given one
//! (`"rule_state": {...}`, opaque JSON to this crate): the rule windows and
//! open incidents after exactly the events up to the round's checkpoint.
//! Being in the same payload as the checkpoint, the two always match: a
//! writer resumes from the state of the round it resumes from.
//!
//! tantivy swaps `meta.json` atomically, so each index, on its own, is at
//! exactly one commit after a crash: the last one that completed.
//!
//! # A commit round
//!
//! Round `N` commits, in this order, with the same payload:
//! 1. every day index that received documents (or deletions) since round
//!    `N - 1` (the `touched` days), then
//! 2. the incidents index, always, even when no incident changed.
//!
//! Afterwards, day writers that were not touched are closed.
//!
//! # Invariants
//!
//! 1. Generations grow by one per round and are never reused: a writer
//!    starts at the highest generation found on disk.
//! 2. The incidents index is committed last, so its generation `G` names the
//!    last round that completed.
//! 3. When the incidents index is at `G`, every day index holds every event
//!    up to checkpoint `G`: a day that received events in some round `<= G`
//!    committed before the incidents index did in that round, and a day that
//!    received nothing in a round has nothing to lose.
//! 4. A day index at a generation `M > G` holds some events past checkpoint
//!    `G`, none past checkpoint `M`.
//! 5. A round that fails leaves the writer unusable
//!    ([`crate::IndexError::WriterFailed`]): what happens next is decided
//!    from the disk alone, at the next open.
//!
//! Event ids are derived from where a record sits in its stream, so a record
//! read twice yields the same id twice: that is what lets recovery replace
//! instead of double.
//!
//! # Crash cases
//!
//! - Between rounds, or inside round `M` before its first commit: every index
//!   is at `G` or older, `G` is the highest generation. Resume from
//!   checkpoint `G`; what was added after it was never durable and is read
//!   again.
//! - Inside round `M`, after some touched days committed, before the
//!   incidents index did: the highest generation is `M = G + 1`. Resume from
//!   checkpoint `G` (enough, by invariant 3). The days already at `M` hold
//!   events that the sources will deliver again, so the writer enters
//!   *recovery mode*: every added event first deletes any document with its
//!   id, until a round's checkpoint reaches checkpoint `M` in every stream
//!   (by offset; a stream missing from the round's checkpoint has not
//!   reached it). Past that point no event can have been committed before.
//!   A re-read event usually lands in the same day as its first copy; one
//!   whose time is its receive time (the line carried none) may land in
//!   another, so for those the delete also goes to every day that committed
//!   round `M`, the only days that can hold a copy.
//! - During recovery, after a round that did not yet reach the target: that
//!   round's payload carries the recovery, so the next open resumes from its
//!   checkpoint and goes on recovering towards the same target. If a round
//!   is interrupted during recovery, the new recovery covers both (the
//!   further target per stream, the days of both).
//! - The incidents index lost or recreated: `G = 0`; resume from the start,
//!   in recovery mode up to the highest checkpoint found.
//! - A day directory deleted (retention): its events are gone on purpose;
//!   the remaining indexes decide.
//!
//! Resuming from the checkpoint of the last complete round rather than from
//! the oldest generation among the touched days matters: a day that was idle
//! for many rounds keeps an old generation and an old checkpoint, and
//! replaying from there would re-read far more than needed, possibly from
//! files that have since rotated away.

use std::path::Path;

use firewatch_event::Checkpoint;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use tantivy::Index;

use crate::IndexError;
use crate::day::{day_name, parse_day_name};

/// The payload of every commit of a round.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommitPayload {
    /// The round's number, from 1.
    pub(crate) generation: u64,
    /// Every source's position once the round's documents are durable.
    pub(crate) checkpoint: Checkpoint,
    /// The day indexes committed in this round (`2026.11.26`).
    pub(crate) touched: Vec<String>,
    /// Present while a recovery is still running after this round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) recovery: Option<OwedReplay>,
    /// The detector's state after the round's events (incidents index
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rule_state: Option<serde_json::Value>,
}

/// The incidents index's payload: the round's, with the detector's state
/// (borrowed, so that a large state is not copied to be written).
#[derive(Serialize)]
pub(crate) struct IncidentsPayload<'a> {
    #[serde(flatten)]
    pub(crate) round: &'a CommitPayload,
    pub(crate) rule_state: &'a serde_json::Value,
}

/// A recovery carried from round to round until its target is reached, so
/// that a crash during recovery does not forget it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OwedReplay {
    /// The checkpoint the recovery runs to.
    pub(crate) target: Checkpoint,
    /// The days that may hold an earlier copy of a re-read event.
    pub(crate) days: Vec<String>,
}

impl CommitPayload {
    /// The payload of the last commit of `index` (at `path`); `None` for an
    /// index that was never committed by firewatch.
    pub(crate) fn read(
        index: &Index,
        path: &Path,
        data_dir: &Path,
    ) -> Result<Option<Self>, IndexError> {
        let metas = index
            .load_metas()
            .map_err(|error| IndexError::tantivy(data_dir, path, error))?;
        let Some(text) = metas.payload else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| IndexError::BadPayload {
                path: path.to_owned(),
                reason: error.to_string(),
            })
    }
}

/// Where a writer starts, decided from the payloads on disk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ResumePlan {
    /// The highest generation on disk; the next round is this plus one.
    pub(crate) generation: u64,
    /// What the sources resume from: the checkpoint of the last complete round.
    pub(crate) checkpoint: Checkpoint,
    /// The detector's state stored with that checkpoint.
    pub(crate) rule_state: Option<serde_json::Value>,
    /// Set when a round was interrupted, or a recovery was still running.
    pub(crate) recovery: Option<Recovery>,
}

/// A replay in which every added event replaces any earlier copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// Until a round's checkpoint reaches this one, events may have been
    /// committed before.
    pub(crate) target: Checkpoint,
    /// Days that committed an interrupted round: the only places an earlier
    /// copy of a re-read event can be.
    pub(crate) days: Vec<Date>,
    /// Days touched by the interrupted round that did not commit it (for
    /// the log).
    pub(crate) lagging_days: Vec<String>,
}

impl Recovery {
    fn owed(owed: &OwedReplay) -> Self {
        Recovery {
            target: owed.target.clone(),
            days: owed
                .days
                .iter()
                .filter_map(|name| parse_day_name(name))
                .collect(),
            lagging_days: Vec::new(),
        }
    }

    /// One recovery that covers both.
    fn merge(mut self, other: Recovery) -> Self {
        self.target = furthest(&self.target, &other.target);
        for day in other.days {
            if !self.days.contains(&day) {
                self.days.push(day);
            }
        }
        self.lagging_days.extend(other.lagging_days);
        self
    }

    /// What a payload carries while this recovery runs.
    pub(crate) fn to_owed(&self) -> OwedReplay {
        OwedReplay {
            target: self.target.clone(),
            days: self.days.iter().copied().map(day_name).collect(),
        }
    }
}

impl ResumePlan {
    /// Decides from the incidents index's payload and every day index's
    /// payload; see the module documentation.
    pub(crate) fn decide(
        incidents: Option<CommitPayload>,
        days: &[(Date, Option<CommitPayload>)],
    ) -> Self {
        let completed = incidents.unwrap_or_default();
        let carried = completed.recovery.as_ref().map(Recovery::owed);
        let newest = days
            .iter()
            .filter_map(|(_, payload)| payload.as_ref())
            .max_by_key(|payload| payload.generation)
            .filter(|newest| newest.generation > completed.generation);
        let Some(newest) = newest else {
            return ResumePlan {
                generation: completed.generation,
                checkpoint: completed.checkpoint,
                rule_state: completed.rule_state,
                recovery: carried,
            };
        };
        let generation_of = |name: &str| {
            days.iter()
                .find(|(day, _)| day_name(*day) == name)
                .map(|(_, payload)| payload.as_ref().map_or(0, |payload| payload.generation))
        };
        let mut recovery = Recovery {
            target: newest.checkpoint.clone(),
            days: days
                .iter()
                .filter(|(_, payload)| {
                    payload
                        .as_ref()
                        .is_some_and(|payload| payload.generation == newest.generation)
                })
                .map(|(day, _)| *day)
                .collect(),
            lagging_days: newest
                .touched
                .iter()
                .filter(|name| {
                    generation_of(name).is_some_and(|generation| generation < newest.generation)
                })
                .cloned()
                .collect(),
        };
        // The interrupted round may itself have run during a recovery.
        for owed in [carried, newest.recovery.as_ref().map(Recovery::owed)]
            .into_iter()
            .flatten()
        {
            recovery = recovery.merge(owed);
        }
        ResumePlan {
            generation: newest.generation,
            checkpoint: completed.checkpoint,
            rule_state: completed.rule_state,
            recovery: Some(recovery),
        }
    }
}

/// Per stream, the further of two checkpoints' positions.
fn furthest(left: &Checkpoint, right: &Checkpoint) -> Checkpoint {
    let mut merged = left.clone();
    for (source, streams) in &right.sources {
        for (stream, position) in streams {
            let behind = merged
                .position(source, stream)
                .is_none_or(|known| known.offset < position.offset);
            if behind {
                merged.advance(source, position.clone());
            }
        }
    }
    merged
}

/// Whether `checkpoint` is at or past `target` in every stream of `target`.
pub(crate) fn reaches(checkpoint: &Checkpoint, target: &Checkpoint) -> bool {
    target.sources.iter().all(|(source, streams)| {
        streams.iter().all(|(stream, goal)| {
            checkpoint
                .position(source, stream)
                .is_some_and(|position| position.offset >= goal.offset)
        })
    })
}

#[cfg(test)]
mod tests {
    use firewatch_event::Position;

    use super::*;

    fn checkpoint(streams: &[(&str, &str, u64)]) -> Checkpoint {
        let mut checkpoint = Checkpoint::default();
        for (source, stream, offset) in streams {
            checkpoint.advance(
                source,
                Position {
                    stream: (*stream).to_owned(),
                    path: None,
                    offset: *offset,
                    line: *offset / 10,
                },
            );
        }
        checkpoint
    }

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn payload(generation: u64, offset: u64, touched: &[&str]) -> Option<CommitPayload> {
        Some(CommitPayload {
            generation,
            checkpoint: checkpoint(&[("app", "a", offset)]),
            touched: touched.iter().map(|day| (*day).to_owned()).collect(),
            recovery: None,
            rule_state: None,
        })
    }

    #[test]
    fn a_new_data_dir_starts_from_nothing() {
        assert_eq!(
            ResumePlan::decide(None, &[]),
            ResumePlan {
                generation: 0,
                checkpoint: Checkpoint::default(),
                rule_state: None,
                recovery: None,
            }
        );
    }

    #[test]
    fn a_complete_round_resumes_from_its_checkpoint() {
        let days = [
            (date("2026-11-25"), payload(2, 200, &["2026.11.25"])),
            (date("2026-11-26"), payload(5, 500, &["2026.11.26"])),
        ];
        let plan = ResumePlan::decide(payload(5, 500, &["2026.11.26"]), &days);
        assert_eq!(plan.generation, 5);
        assert_eq!(plan.checkpoint, checkpoint(&[("app", "a", 500)]));
        assert_eq!(plan.recovery, None);
    }

    #[test]
    fn an_interrupted_round_resumes_from_the_last_complete_one_in_recovery() {
        // Round 6 touched both days; only 2026.11.26 committed before the crash.
        // 2026.11.25 was last touched in round 2: its old checkpoint is not used.
        let touched = &["2026.11.25", "2026.11.26"];
        let days = [
            (date("2026-11-25"), payload(2, 200, &["2026.11.25"])),
            (date("2026-11-26"), payload(6, 600, touched)),
        ];
        let plan = ResumePlan::decide(payload(5, 500, &["2026.11.26"]), &days);
        assert_eq!(plan.generation, 6);
        assert_eq!(plan.checkpoint, checkpoint(&[("app", "a", 500)]));
        assert_eq!(
            plan.recovery,
            Some(Recovery {
                target: checkpoint(&[("app", "a", 600)]),
                days: vec![date("2026-11-26")],
                lagging_days: vec!["2026.11.25".to_owned()],
            })
        );
    }

    #[test]
    fn a_lost_incidents_index_replays_everything_in_recovery() {
        let days = [(date("2026-11-26"), payload(3, 300, &["2026.11.26"]))];
        let plan = ResumePlan::decide(None, &days);
        assert_eq!(plan.checkpoint, Checkpoint::default());
        let recovery = plan.recovery.unwrap();
        assert_eq!(recovery.target, checkpoint(&[("app", "a", 300)]));
        assert_eq!(recovery.days, [date("2026-11-26")]);
        assert_eq!(plan.generation, 3);
    }

    #[test]
    fn a_recovery_still_running_at_the_last_complete_round_goes_on() {
        let mut completed = payload(7, 500, &["2026.11.26"]).unwrap();
        completed.recovery = Some(OwedReplay {
            target: checkpoint(&[("app", "a", 600)]),
            days: vec!["2026.11.26".to_owned()],
        });
        let days = [(date("2026-11-26"), Some(completed.clone()))];
        let plan = ResumePlan::decide(Some(completed), &days);
        assert_eq!(plan.checkpoint, checkpoint(&[("app", "a", 500)]));
        let recovery = plan.recovery.unwrap();
        assert_eq!(recovery.target, checkpoint(&[("app", "a", 600)]));
        assert_eq!(recovery.days, [date("2026-11-26")]);
    }

    #[test]
    fn a_round_interrupted_during_recovery_keeps_the_further_target_and_all_days() {
        // Round 8 ran during a recovery towards 900 on the 25th, reached 700
        // on the 26th, and was interrupted.
        let mut interrupted = payload(8, 700, &["2026.11.26"]).unwrap();
        interrupted.recovery = Some(OwedReplay {
            target: checkpoint(&[("app", "a", 900), ("app", "b", 10)]),
            days: vec!["2026.11.25".to_owned()],
        });
        let days = [
            (date("2026-11-25"), payload(6, 400, &["2026.11.25"])),
            (date("2026-11-26"), Some(interrupted)),
        ];
        let plan = ResumePlan::decide(payload(7, 500, &["2026.11.25"]), &days);
        let recovery = plan.recovery.unwrap();
        assert_eq!(
            recovery.target,
            checkpoint(&[("app", "a", 900), ("app", "b", 10)])
        );
        assert_eq!(recovery.days, [date("2026-11-26"), date("2026-11-25")]);
        assert_eq!(plan.generation, 8);
    }

    #[test]
    fn reaching_needs_every_stream_at_or_past_the_target() {
        let target = checkpoint(&[("app", "a", 100), ("app", "b", 50)]);
        assert!(reaches(
            &checkpoint(&[("app", "a", 100), ("app", "b", 60)]),
            &target
        ));
        assert!(!reaches(
            &checkpoint(&[("app", "a", 99), ("app", "b", 60)]),
            &target
        ));
        assert!(
            !reaches(&checkpoint(&[("app", "a", 100)]), &target),
            "b missing"
        );
        assert!(!reaches(
            &checkpoint(&[("web", "a", 100), ("web", "b", 50)]),
            &target
        ));
        assert!(reaches(&Checkpoint::default(), &Checkpoint::default()));
    }
}
