//! Incidents: what detection rules turn matches into.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::EventId;
use crate::id::hash_parts;

/// How urgent an incident is, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nobody needs to act.
    Info,
    /// Look at it during working hours.
    Low,
    /// Look at it today.
    Medium,
    /// Look at it now.
    High,
    /// Wake someone up.
    Critical,
}

impl Severity {
    /// The lower-case name used in rule files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            other => {
                return Err(format!(
                    "unknown severity {other:?}: expected critical, high, medium, low or info"
                ));
            }
        })
    }
}

/// The stable id of an incident: a hash of its rule, its key and the event
/// time it opened at, so that replaying the same input yields the same ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentId(pub u64);

impl IncidentId {
    /// The id of the incident of `rule` with `key` that opened at `opened`.
    pub fn new(rule: &str, key: &str, opened: Timestamp) -> Self {
        let nanos = opened.as_nanosecond().to_le_bytes();
        Self(hash_parts(&[rule.as_bytes(), key.as_bytes(), &nanos]))
    }
}

crate::id::hex_id_text!(IncidentId);

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// The rule's condition fired but has not yet held for the rule's
    /// `for` duration: not reported, dropped if the matches stop.
    Pending,
    /// Matches keep coming, or came within the rule's quiet period.
    Open,
    /// No match for the rule's quiet period.
    Resolved,
}

impl IncidentState {
    /// The lower-case name used in output and the index.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Pending => "pending",
            IncidentState::Open => "open",
            IncidentState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The most [`StateChange`]s an incident keeps: the oldest go first.
pub const MAX_HISTORY: usize = 50;

/// What happened to an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    /// The condition fired; the incident waits for the rule's `for`.
    Pending,
    /// The incident opened.
    Fired,
    /// Its severity rose.
    Escalated {
        /// Severity before.
        from: Severity,
        /// Severity after.
        to: Severity,
    },
    /// It resolved.
    Resolved,
    /// It fired again soon after resolving, and opened again.
    Reopened,
    /// It reopened often enough to count as flapping.
    Flapping,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Pending => f.write_str("pending"),
            Change::Fired => f.write_str("fired"),
            Change::Escalated { from, to } => write!(f, "escalated {from} -> {to}"),
            Change::Resolved => f.write_str("resolved"),
            Change::Reopened => f.write_str("reopened"),
            Change::Flapping => f.write_str("flapping"),
        }
    }
}

/// One entry of an incident's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// Event time of the change.
    pub at: Timestamp,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

/// One event kept as an example of what an incident is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The event's id, to find it (and its neighbours) in the logs index.
    pub event_id: EventId,
    /// Event time.
    pub time: Timestamp,
    /// The event's message.
    pub message: String,
}

/// An incident: the matches of one rule for one group, deduplicated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id.
    pub id: IncidentId,
    /// Id of the rule that opened it.
    pub rule: String,
    /// The rule's title, with group values filled in.
    pub title: String,
    /// Severity: the rule's, or higher once escalated.
    pub severity: Severity,
    /// The rule's description, with group values filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The deduplication key, e.g. `db-down/api/web-03`.
    pub key: String,
    /// The values of the rule's `group_by` fields for this incident.
    pub group: BTreeMap<String, String>,
    /// Pending, open or resolved.
    pub state: IncidentState,
    /// It resolved and reopened often enough to count as flapping.
    #[serde(default)]
    pub flapping: bool,
    /// What happened to it, oldest first, at most [`MAX_HISTORY`] entries.
    #[serde(default)]
    pub history: Vec<StateChange>,
    /// Event time of the first event that counted towards it.
    pub first_seen: Timestamp,
    /// Event time of the last matching event.
    pub last_seen: Timestamp,
    /// Event time at which it resolved.
    pub resolved_at: Option<Timestamp>,
    /// Matching events counted, including those that opened it.
    pub count: u64,
    /// The first few matching events.
    pub samples: Vec<Sample>,
    /// Ids of the events that made it fire (the threshold window), which
    /// were processed before the incident existed.
    pub trigger_events: Vec<EventId>,
}

impl Incident {
    /// Appends to the history, forgetting the oldest entry beyond
    /// [`MAX_HISTORY`].
    pub fn record(&mut self, at: Timestamp, change: Change) {
        if self.history.len() >= MAX_HISTORY {
            self.history.remove(0);
        }
        self.history.push(StateChange { at, change });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_are_stable_and_round_trip() {
        let at = Timestamp::from_second(1_700_000_000).unwrap();
        let id = IncidentId::new("db-down", "db-down/api", at);
        assert_eq!(id, IncidentId::new("db-down", "db-down/api", at));
        assert_ne!(id, IncidentId::new("db-down", "db-down/web", at));
        assert_eq!(id.to_string().parse::<IncidentId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<IncidentId>(&json).unwrap(), id);
    }

    #[test]
    fn history_keeps_the_latest_entries_and_round_trips() {
        let at = Timestamp::from_second(1_700_000_000).unwrap();
        let mut incident = Incident {
            id: IncidentId(1),
            rule: "r".into(),
            title: "t".into(),
            severity: Severity::Low,
            description: None,
            key: "r".into(),
            group: BTreeMap::new(),
            state: IncidentState::Open,
            flapping: false,
            history: Vec::new(),
            first_seen: at,
            last_seen: at,
            resolved_at: None,
            count: 1,
            samples: Vec::new(),
            trigger_events: Vec::new(),
        };
        incident.record(at, Change::Fired);
        for second in 1..=i64::try_from(MAX_HISTORY).unwrap() {
            let later = Timestamp::from_second(1_700_000_000 + second).unwrap();
            incident.record(later, Change::Reopened);
        }
        assert_eq!(incident.history.len(), MAX_HISTORY);
        assert_eq!(incident.history[0].change, Change::Reopened);
        incident.record(
            at,
            Change::Escalated {
                from: Severity::Low,
                to: Severity::High,
            },
        );
        let json = serde_json::to_string(&incident).unwrap();
        assert!(
            json.contains(r#""change":"escalated","from":"low","to":"high""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), incident);
        // Incidents stored before the history existed still read.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        for key in ["history", "flapping"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let read: Incident = serde_json::from_value(old).unwrap();
        assert!(read.history.is_empty() && !read.flapping);
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!("medium".parse::<Severity>().unwrap(), Severity::Medium);
        assert!("urgent".parse::<Severity>().is_err());
    }
}
