//! Incidents: what detection rules turn matches into.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::EventId;
use crate::id::{InvalidId, hash_parts, parse_hex_id};

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

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for IncidentId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_id(s).map(Self)
    }
}

impl Serialize for IncidentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IncidentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// Matches keep coming, or came within the rule's quiet period.
    Open,
    /// No match for the rule's quiet period.
    Resolved,
}

impl IncidentState {
    /// The lower-case name used in output and the index.
    pub fn as_str(self) -> &'static str {
        match self {
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
    /// Severity.
    pub severity: Severity,
    /// The deduplication key, e.g. `db-down/api/web-03`.
    pub key: String,
    /// The values of the rule's `group_by` fields for this incident.
    pub group: BTreeMap<String, String>,
    /// Open or resolved.
    pub state: IncidentState,
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
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!("medium".parse::<Severity>().unwrap(), Severity::Medium);
        assert!("urgent".parse::<Severity>().is_err());
    }
}
