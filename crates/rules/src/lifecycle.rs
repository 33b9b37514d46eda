//! How an incident lives once its rule's condition fires: `for`, `flap`,
//! `escalate`.
//!
//! - **Pending** (`for: 2m`). When the condition first fires, the incident
//!   is *pending*: kept by the detector, not reported. The condition
//!   *holds* while matches of the group keep coming, none more than the
//!   rule's `resolve_after` after the one before (the same quiet period
//!   that would resolve an open incident); for a threshold, ratio, spike or
//!   cardinality rule these are the matches after the one that crossed the
//!   bound. The first match at least `for` after the condition fired makes
//!   the incident fire: it opens, is reported, and its `first_seen` stays
//!   where the condition first fired. A pending incident whose matches stop
//!   for `resolve_after` is dropped without a trace. A lone blip therefore
//!   never fires when `for` is set. `absence` rules take no `for`: their
//!   `period` already says how long the line must be missing.
//! - **Flapping** (`flap: { count: 3, within: 30m }`, off by default). When
//!   the condition fires again within `within` of the incident's
//!   resolution, the *same* incident (same id) reopens instead of a new
//!   one. Once it has reopened `count` times within `within`, it is marked
//!   flapping, and from then on resolves only after `within` of quiet (or
//!   `resolve_after` if longer). A reopened incident skips `for`: it held
//!   long enough before. The resolved incident a refire may reopen is part
//!   of the state kept across a restart (see `snapshot`), so a restart in
//!   between still reopens it.
//! - **Escalation** (`escalate: [{ count: 50, severity: critical }]`). When
//!   the incident's match count (for a threshold rule, the matches that
//!   fired it count) reaches a step's `count`, its severity rises to the
//!   step's; it never falls back. Steps must rise in both count and
//!   severity, above the rule's own severity.
//!
//! Every change is recorded in the incident's history, in event time.

use firewatch_event::{Change, Incident, Severity, Timestamp};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::compile::{Problems, positive_duration};
use crate::syntax::{Place, place};

/// `flap:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlapSpec {
    pub count: Option<Spanned<u64>>,
    pub within: Option<Spanned<String>>,
}

/// One step of `escalate:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalationSpec {
    pub count: Option<Spanned<u64>>,
    pub severity: Option<Spanned<String>>,
}

/// When an incident that keeps resolving and reopening counts as flapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flap {
    /// Reopenings (1 or more) within `within` that mark it flapping.
    pub count: u64,
    /// How soon after resolving a refire reopens the same incident.
    pub within: SignedDuration,
}

/// A severity an incident rises to once it counts enough matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escalation {
    /// Matches of the incident (1 or more).
    pub count: u64,
    /// The severity from then on.
    pub severity: Severity,
}

/// The lifecycle keys of one rule, compiled.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Lifecycle {
    pub pending_for: Option<SignedDuration>,
    pub flap: Option<Flap>,
    /// Rising in count and severity.
    pub escalate: Vec<Escalation>,
}

/// The lifecycle keys of a rule as written.
pub(crate) struct LifecycleSpecs {
    pub pending_for: Option<Spanned<String>>,
    pub flap: Option<Spanned<FlapSpec>>,
    pub escalate: Option<Vec<Spanned<EscalationSpec>>>,
}

impl Lifecycle {
    /// Checks and compiles the keys of a rule of severity `severity`;
    /// `absence` says whether its type is `absence`.
    pub fn compile(
        specs: LifecycleSpecs,
        severity: Option<Severity>,
        absence: bool,
        problems: &mut Problems<'_>,
    ) -> Option<Self> {
        let mut ok = true;
        let pending_for = match specs.pending_for {
            Some(text) if absence => {
                problems.at(
                    place(&text),
                    "for does not apply to absence rules: lengthen absence.period instead",
                );
                ok = false;
                None
            }
            Some(text) => {
                let duration = positive_duration(&text, "for", problems);
                ok &= duration.is_some();
                duration
            }
            None => None,
        };
        let flap = specs.flap.and_then(|spec| {
            let flap = compile_flap(spec, problems);
            ok &= flap.is_some();
            flap
        });
        let mut escalate: Vec<Escalation> = Vec::new();
        for spec in specs.escalate.unwrap_or_default() {
            let step_place = place(&spec);
            let spec = spec.value;
            let count = match spec.count {
                None => {
                    problems.at(step_place, "escalation step has no count");
                    None
                }
                Some(count) if count.value == 0 => {
                    problems.at(place(&count), "escalation count must be 1 or more");
                    None
                }
                Some(count) => Some((count.value, place(&count))),
            };
            let step_severity = match spec.severity {
                None => {
                    problems.at(step_place, "escalation step has no severity");
                    None
                }
                Some(text) => match text.value.trim().parse::<Severity>() {
                    Ok(parsed) => Some((parsed, place(&text))),
                    Err(message) => {
                        problems.at(place(&text), message);
                        None
                    }
                },
            };
            let (Some((count, count_place)), Some((to, severity_place))) = (count, step_severity)
            else {
                ok = false;
                continue;
            };
            let (below_count, below) = escalate
                .last()
                .map_or((0, severity), |last| (last.count, Some(last.severity)));
            if count <= below_count {
                ok = false;
                problems.at(
                    count_place,
                    format!(
                        "escalation count {count} must be above the step before ({below_count})"
                    ),
                );
            }
            if let Some(below) = below
                && to <= below
            {
                ok = false;
                problems.at(
                    severity_place,
                    format!("escalation to {to} must raise the severity above {below}"),
                );
            }
            escalate.push(Escalation {
                count,
                severity: to,
            });
        }
        ok.then_some(Self {
            pending_for,
            flap,
            escalate,
        })
    }

    /// True when nothing differs from a rule without lifecycle keys.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Raises the severity of `incident` to the highest step its count
    /// reached, recording the change at `at`.
    pub fn escalate(&self, incident: &mut Incident, at: Timestamp) {
        let Some(step) = self
            .escalate
            .iter()
            .rev()
            .find(|step| incident.count >= step.count)
        else {
            return;
        };
        if step.severity > incident.severity {
            let from = incident.severity;
            incident.severity = step.severity;
            incident.record(
                at,
                Change::Escalated {
                    from,
                    to: step.severity,
                },
            );
        }
    }

    /// Records that `incident` reopened at `at`, and marks it flapping when
    /// it reopened often enough lately. True when it just started flapping.
    pub fn reopened(&self, incident: &mut Incident, at: Timestamp) -> bool {
        incident.record(at, Change::Reopened);
        let Some(flap) = self.flap else {
            return false;
        };
        if incident.flapping {
            return false;
        }
        let since = at.checked_sub(flap.within).unwrap_or(Timestamp::MIN);
        let reopenings = incident
            .history
            .iter()
            .filter(|entry| entry.change == Change::Reopened && entry.at >= since)
            .count();
        if u64::try_from(reopenings).unwrap_or(u64::MAX) >= flap.count {
            incident.flapping = true;
            incident.record(at, Change::Flapping);
            return true;
        }
        false
    }

    /// How long an open incident stays open without a match.
    pub fn quiet_period(
        &self,
        incident: &Incident,
        resolve_after: SignedDuration,
    ) -> SignedDuration {
        match self.flap {
            Some(flap) if incident.flapping => resolve_after.max(flap.within),
            _ => resolve_after,
        }
    }
}

fn compile_flap(spec: Spanned<FlapSpec>, problems: &mut Problems<'_>) -> Option<Flap> {
    let at: Place = place(&spec);
    let spec = spec.value;
    let count = match spec.count {
        None => {
            problems.at(at, "flap has no count");
            None
        }
        Some(count) if count.value == 0 => {
            problems.at(place(&count), "flap count must be 1 or more");
            None
        }
        Some(count) => Some(count.value),
    };
    let within = match spec.within {
        None => {
            problems.at(at, "flap has no within");
            None
        }
        Some(text) => positive_duration(&text, "flap.within", problems),
    };
    Some(Flap {
        count: count?,
        within: within?,
    })
}

#[cfg(test)]
mod tests {
    use crate::{Diagnostic, RuleSet, RulesError};

    const HEAD: &str = "id: a\ntitle: A\nseverity: high\nmatch: { any: [x] }\n";

    /// Every diagnostic of the rule `HEAD` + `keys`, as (line, column,
    /// message).
    fn problems(keys: &str) -> Vec<(usize, usize, String)> {
        match RuleSet::from_yaml(&format!("{HEAD}{keys}"), "t.yml") {
            Ok(_) => Vec::new(),
            Err(RulesError::Invalid(diagnostics)) => diagnostics
                .into_iter()
                .map(
                    |Diagnostic {
                         line,
                         column,
                         message,
                         ..
                     }| (line, column, message),
                )
                .collect(),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    fn assert_problem(keys: &str, line: usize, column: usize, needle: &str) {
        let found = problems(keys);
        assert_eq!(found.len(), 1, "{found:?}");
        let (found_line, found_column, message) = &found[0];
        assert_eq!((*found_line, *found_column), (line, column), "{message}");
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }

    #[test]
    fn lifecycle_keys_compile() {
        assert_eq!(
            problems(
                "for: 2m\nflap: { count: 3, within: 30m }\n\
                 escalate:\n  - { count: 50, severity: critical }\n"
            ),
            []
        );
    }

    #[test]
    fn bad_durations_are_placed_at_the_value() {
        assert_problem("for: -1m\n", 5, 6, "negative");
        assert_problem("for: 0s\n", 5, 6, "for must be longer than 0s");
        assert_problem("flap: { count: 2, within: soon }\n", 5, 27, "soon");
    }

    #[test]
    fn flap_needs_a_count_of_one_or_more() {
        assert_problem(
            "flap: { count: 0, within: 5m }\n",
            5,
            16,
            "flap count must be 1 or more",
        );
        assert_problem("flap: { within: 5m }\n", 5, 7, "flap has no count");
    }

    #[test]
    fn escalation_must_raise_the_severity_and_the_count() {
        assert_problem(
            "escalate:\n  - { count: 5, severity: low }\n",
            6,
            27,
            "must raise the severity above high",
        );
        let found = problems(
            "escalate:\n  - { count: 5, severity: critical }\n  - { count: 5, severity: critical }\n",
        );
        let places: Vec<(usize, usize)> = found
            .iter()
            .map(|(line, column, _)| (*line, *column))
            .collect();
        assert_eq!(places, [(7, 14), (7, 27)], "{found:?}");
        assert!(
            found[0].2.contains("above the step before (5)"),
            "{found:?}"
        );
        let found = problems("escalate:\n  - { count: 0, severity: urgent }\n");
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn absence_rules_take_no_for() {
        let found = problems("type: absence\nabsence: { period: 5m }\ngroup_by: [host]\nfor: 1m\n");
        assert!(
            found
                .iter()
                .any(|(line, column, message)| (*line, *column) == (8, 6)
                    && message.contains("lengthen absence.period")),
            "{found:?}"
        );
    }
}
