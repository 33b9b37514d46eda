//! Detector state that survives a restart.
//!
//! A restart must neither reopen an incident that is already open nor
//! forget a window half filled towards a threshold. So the detector can be
//! written out ([`Detector::snapshot`](crate::Detector::snapshot)) and read
//! back ([`Detector::restore`](crate::Detector::restore)) as a
//! [`DetectorState`]: serde data, meant to be stored beside the source
//! positions it goes with, so that both describe the same moment (after the
//! same events).
//!
//! # What is kept
//!
//! - per rule, by **rule id** (not position: rules may be added, removed or
//!   reordered between runs), every group: its incident key, what its rule
//!   type remembers (window, counts, steps, known values, ...) and its open
//!   incident in full, so that a match after the restart updates the same
//!   incident (same id) instead of opening another; for rules with `flap`,
//!   also the resolved incident a refire would still reopen, so that a
//!   flapping incident stays one incident across a restart;
//! - per source, the latest event time it showed, and the watermark.
//!
//! Other resolved incidents are not kept: they are stored in the index
//! already and can no longer change. The deadline heap is not kept either: it is
//! rebuilt from the groups. The size is what the detector's caps already
//! bound (see [`crate::limits`]).
//!
//! # When the rules changed between runs
//!
//! - A rule that no longer exists: its groups are dropped.
//! - A rule whose *definition* changed starts fresh. The definition is what
//!   a group's state and open incident depend on: the type with its
//!   parameters (`count`, `window`, ...), `group_by`, `resolve_after`, the
//!   title and the severity (an open incident carries the last two), and
//!   `key`, `for`, `flap` and `escalate` when the rule has them (groups are
//!   stored by incident key). What a
//!   rule matches (`filter:`, `match:`, `when:`) may change without losing
//!   the windows: the matches already counted were matches when they came.
//!   The steps of a `sequence` or `together` are part of the definition
//!   (a hash of their canonical text), as its state says which step
//!   matched: swapped or changed steps start fresh.
//! - A new rule starts empty.
//!
//! # Sources across a restart
//!
//! Restored sources are taken as finished: a source that is not part of the
//! new run does not hold event time back. A source that the new run
//! declares again ([`Detector::expect_source`](crate::Detector::expect_source))
//! runs again, from the time it had reached. The watermark never moves back
//! behind the restored one.
//!
//! # Versions
//!
//! The state says `"version": 1`. A state of another version does not
//! deserialise (the error says which version it is), and the caller starts
//! a fresh detector instead. Incidents gained a state (`pending`), a
//! description, a `flapping` mark and a history within version 1: what
//! older builds wrote reads with no description, not flapping and an empty
//! history, so the version did not change. A pending incident is kept
//! like an open one, and still waits for `for` after the restart. The
//! resolved incident a refire could reopen (`recent`) came later still:
//! a state without it restores with nothing to reopen.

use std::fmt::Write as _;

use firewatch_event::{Incident, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};

use crate::rule::{Kind, Rule};
use crate::state::GroupState;

/// The version of [`DetectorState`] written by this build.
pub const DETECTOR_STATE_VERSION: u32 = 1;

/// A detector's state, to restore after a restart: per rule (by id) each
/// group's window or counts and its open incident, per source the latest
/// event time, and the watermark. Serde data, `"version": 1`.
///
/// Restored into a changed rule set, the groups of a rule that is gone are
/// dropped, and a rule whose type, type parameters, `group_by`, `key`,
/// `resolve_after`, title, severity or lifecycle keys changed starts fresh;
/// a change to what a rule matches keeps its windows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DetectorState {
    #[serde(deserialize_with = "supported_version")]
    version: u32,
    pub(crate) rules: Vec<RuleState>,
    pub(crate) sources: Vec<SourceTime>,
    pub(crate) watermark: Option<Timestamp>,
}

impl DetectorState {
    pub(crate) fn new(
        rules: Vec<RuleState>,
        sources: Vec<SourceTime>,
        watermark: Option<Timestamp>,
    ) -> Self {
        Self {
            version: DETECTOR_STATE_VERSION,
            rules,
            sources,
            watermark,
        }
    }

    /// Groups held, over every rule.
    pub fn group_count(&self) -> usize {
        self.rules.iter().map(|rule| rule.groups.len()).sum()
    }
}

/// The groups of one rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RuleState {
    pub id: String,
    /// [`definition`] of the rule when the state was taken.
    pub definition: String,
    pub groups: Vec<GroupSnapshot>,
}

/// One group: its key, its type's state, its open incident and the
/// resolved one a refire would reopen.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct GroupSnapshot {
    pub key: String,
    pub state: GroupState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Incident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<Incident>,
}

/// The latest event time a source showed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SourceTime {
    pub name: String,
    pub latest: Option<Timestamp>,
}

fn supported_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let version = u32::deserialize(deserializer)?;
    if version == DETECTOR_STATE_VERSION {
        Ok(version)
    } else {
        Err(serde::de::Error::custom(format!(
            "detector state version {version} is not supported \
             (this build reads version {DETECTOR_STATE_VERSION})"
        )))
    }
}

/// What a rule's saved state depends on, as text: equal texts mean the
/// state still applies (see the module documentation).
pub(crate) fn definition(rule: &Rule) -> String {
    let mut text = String::from(rule.kind.name());
    // Writing to a String cannot fail.
    let _ = match &rule.kind {
        Kind::Any => Ok(()),
        Kind::Threshold(threshold) => write!(
            text,
            " count={} window={:#}",
            threshold.count, threshold.window
        ),
        Kind::Spike {
            window,
            factor,
            min_count,
        } => write!(
            text,
            " window={window:#} factor={factor} min_count={min_count}"
        ),
        Kind::Absence { period, expect } => write!(text, " period={period:#} expect={expect:?}"),
        Kind::Sequence { within, steps, .. } => {
            write!(text, " within={within:#} steps={steps:016x}")
        }
        Kind::Together {
            of,
            count,
            within,
            steps,
        } => write!(
            text,
            " of={} count={count} within={within:#} steps={steps:016x}",
            of.len()
        ),
        Kind::NewValue { field, learn } => write!(text, " field={field:?} learn={learn:#}"),
        Kind::Cardinality {
            field,
            count,
            window,
        } => write!(text, " field={field:?} count={count} window={window:#}"),
        Kind::Ratio {
            above,
            window,
            min_count,
            ..
        } => write!(
            text,
            " above={above} window={window:#} min_count={min_count}"
        ),
    };
    let _ = write!(
        text,
        " group_by={:?} resolve_after={:#} severity={} title={:?}",
        rule.group_by, rule.resolve_after, rule.severity, rule.title
    );
    if let Some(key) = rule.key_template() {
        // Groups are stored by key: other keys, other groups. Only when
        // set, like the lifecycle below.
        let _ = write!(text, " key={key:?}");
    }
    if !rule.lifecycle.is_default() {
        // Only when set, so that the definitions of rules written before
        // these keys existed, and their saved groups, stay the same.
        let _ = write!(text, " lifecycle={:?}", rule.lifecycle);
    }
    text
}

/// True when `state` is the state a rule of type `kind` keeps.
pub(crate) fn fits(kind: &Kind, state: &GroupState) -> bool {
    matches!(
        (kind, state),
        (Kind::Any | Kind::Threshold(_), GroupState::Matches(_))
            | (
                Kind::Spike { .. } | Kind::Ratio { .. },
                GroupState::Counts(_)
            )
            | (Kind::Sequence { .. }, GroupState::Steps(_))
            | (Kind::Together { .. }, GroupState::Together(_))
            | (Kind::NewValue { .. }, GroupState::Known(_))
            | (Kind::Cardinality { .. }, GroupState::Distinct(_))
            | (Kind::Absence { .. }, GroupState::LastSeen(_))
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use firewatch_event::{Event, IncidentId, IncidentState};

    use crate::testing::{event_at, second};
    use crate::{Detector, DetectorState, RuleSet};

    const BURST: &str = "
id: burst
title: burst on {host}
severity: high
match: { any: [fail] }
threshold: { count: 3, window: 1m }
group_by: [host]
resolve_after: 2m
";

    fn rules(yaml: &str) -> Arc<RuleSet> {
        Arc::new(RuleSet::from_yaml(yaml, "<inline>").unwrap())
    }

    /// A failure on `host` at `offset` seconds.
    fn fail(offset: i64, host: &str) -> Event {
        let mut event = event_at(offset, "fail");
        event.host = Some(host.into());
        event
    }

    /// Saves the detector as JSON and starts another from it, as a
    /// restart does; the new run declares the source `app` again.
    fn restart(detector: &Detector, rules: Arc<RuleSet>) -> Detector {
        let json = serde_json::to_string(&detector.snapshot()).unwrap();
        let state: DetectorState = serde_json::from_str(&json).unwrap();
        let mut restored = Detector::restore(rules, state);
        restored.expect_source("app");
        restored
    }

    /// Observes the events; returns the incident ids of the matches.
    fn observe_all(detector: &mut Detector, events: &[Event]) -> Vec<Option<IncidentId>> {
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for event in events {
            out.clear();
            detector.observe(event, &mut out);
            ids.extend(out.iter().map(|found| found.incident));
        }
        ids
    }

    /// Every incident's final state, from the changes reported.
    fn fold(
        changes: &mut BTreeMap<IncidentId, firewatch_event::Incident>,
        detector: &mut Detector,
    ) {
        for incident in detector.take_changes() {
            changes.insert(incident.id, incident);
        }
    }

    #[test]
    fn a_run_split_anywhere_gives_the_incidents_of_an_unbroken_run() {
        // Two hosts, bursts that fill across the split, late events, and a
        // quiet period that resolves the first incident.
        let events = [
            fail(0, "a"),
            fail(10, "b"),
            fail(30, "a"),
            fail(5, "b"),
            fail(50, "a"),
            fail(55, "a"),
            fail(40, "b"),
            fail(200, "a"),
            fail(190, "b"),
            fail(400, "a"),
            fail(410, "a"),
            fail(405, "a"),
            fail(420, "b"),
        ];
        let rules = rules(BURST);
        let mut unbroken = Detector::new(Arc::clone(&rules));
        let expected_matches = observe_all(&mut unbroken, &events);
        unbroken.advance_to(second(10_000));
        let mut expected = BTreeMap::new();
        fold(&mut expected, &mut unbroken);
        assert_eq!(expected.len(), 3, "{expected:#?}");

        for split in 0..=events.len() {
            let mut first = Detector::new(Arc::clone(&rules));
            let mut matches = observe_all(&mut first, &events[..split]);
            let mut changes = BTreeMap::new();
            fold(&mut changes, &mut first);
            let mut second_run = restart(&first, Arc::clone(&rules));
            matches.extend(observe_all(&mut second_run, &events[split..]));
            second_run.advance_to(second(10_000));
            fold(&mut changes, &mut second_run);
            assert_eq!(matches, expected_matches, "split at {split}");
            assert_eq!(changes, expected, "split at {split}");
        }
    }

    #[test]
    fn an_open_incident_stays_the_same_incident_and_resolves_once() {
        let rules = rules(BURST);
        let mut first = Detector::new(Arc::clone(&rules));
        observe_all(&mut first, &[fail(0, "a"), fail(1, "a"), fail(2, "a")]);
        let opened = first.take_changes();
        assert_eq!(opened.len(), 1);
        let id = opened[0].id;

        let mut second_run = restart(&first, Arc::clone(&rules));
        assert_eq!(
            observe_all(&mut second_run, &[fail(60, "a")]),
            [Some(id)],
            "the match updates the restored incident"
        );
        let updated = second_run.take_changes();
        assert_eq!(updated.len(), 1);
        assert_eq!((updated[0].id, updated[0].count), (id, 4));
        assert_eq!(updated[0].state, IncidentState::Open);

        second_run.advance_to(second(1_000));
        let resolved = second_run.take_changes();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].id, id);
        assert_eq!(resolved[0].resolved_at, Some(second(180)));
        second_run.advance_to(second(2_000));
        assert!(second_run.take_changes().is_empty());
    }

    #[test]
    fn a_changed_rule_starts_fresh_and_a_removed_rule_is_dropped() {
        // `burst` second here, first (and alone) below: state goes by id.
        let two = format!(
            "rules:\n  - {{ id: other, title: t, severity: low, match: {{ any: [fail] }}, \
             threshold: {{ count: 5, window: 1m }} }}\n  - {}\n",
            BURST.trim().replace('\n', "\n    ")
        );
        let mut first = Detector::new(rules(&two));
        observe_all(&mut first, &[fail(0, "a"), fail(1, "a")]);
        assert_eq!(first.snapshot().group_count(), 2);

        // Only `burst` is left, unchanged: its half-filled window goes on.
        let mut same = restart(&first, rules(BURST));
        assert_eq!(same.snapshot().group_count(), 1, "other's group is dropped");
        assert!(observe_all(&mut same, &[fail(2, "a")])[0].is_some());

        // `burst` with a wider window is another rule: it starts empty.
        let wider = BURST.replace("window: 1m", "window: 2m");
        let mut changed = restart(&first, rules(&wider));
        assert_eq!(changed.snapshot().group_count(), 0);
        assert_eq!(observe_all(&mut changed, &[fail(2, "a")]), [None]);
    }

    #[test]
    fn a_state_of_another_version_is_refused_with_its_version() {
        let first = Detector::new(rules(BURST));
        let mut json = serde_json::to_value(first.snapshot()).unwrap();
        assert_eq!(json["version"], 1);
        json["version"] = 2.into();
        let error = serde_json::from_value::<DetectorState>(json).unwrap_err();
        assert!(error.to_string().contains("version 2"), "{error}");
    }
}
