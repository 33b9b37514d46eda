//! Notification deliveries: what firewatch told whom about an incident.
//!
//! Every attempt to notify a receiver is recorded as one [`Delivery`], one
//! JSON object per line, in [`DELIVERIES_FILE`] under the data directory, so
//! that `incidents show` and postmortem reports can tell who was told what,
//! when, and whether it arrived.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::IncidentId;

/// The log of delivery attempts, relative to the data directory.
pub const DELIVERIES_FILE: &str = "notifications/deliveries.jsonl";

/// Why a notification was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyReason {
    /// The incident fired (opened, or reopened after resolving).
    Fired,
    /// Its severity rose.
    Escalated,
    /// It is still open after the re-notify interval.
    Renotify,
    /// It resolved.
    Resolved,
}

impl NotifyReason {
    /// The lower-case name used in the deliveries file and output.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyReason::Fired => "fired",
            NotifyReason::Escalated => "escalated",
            NotifyReason::Renotify => "renotify",
            NotifyReason::Resolved => "resolved",
        }
    }
}

impl fmt::Display for NotifyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum DeliveryOutcome {
    /// The receiver accepted it.
    Delivered,
    /// The attempt failed; another may follow.
    Failed {
        /// What went wrong (HTTP status, connection error, exit code).
        error: String,
    },
    /// The last attempt failed: no more will be made.
    GaveUp {
        /// What went wrong on the last attempt.
        error: String,
    },
    /// Not sent because a silence or an inhibiting incident matched.
    Suppressed {
        /// The silence id, or the id of the inhibiting incident.
        by: String,
    },
}

impl fmt::Display for DeliveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryOutcome::Delivered => f.write_str("delivered"),
            DeliveryOutcome::Failed { error } => write!(f, "failed: {error}"),
            DeliveryOutcome::GaveUp { error } => write!(f, "gave up: {error}"),
            DeliveryOutcome::Suppressed { by } => write!(f, "suppressed by {by}"),
        }
    }
}

/// One attempt to tell a receiver about an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Wall-clock time of the attempt.
    pub at: Timestamp,
    /// The incident it was about.
    pub incident: IncidentId,
    /// The incident's rule.
    pub rule: String,
    /// The receiver's name from the pipeline file.
    pub receiver: String,
    /// Why it was sent.
    pub reason: NotifyReason,
    /// 1 for the first attempt, then 2, 3...; 0 when none was made (the
    /// notification was suppressed, or found the receiver's queue full).
    pub attempt: u32,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: DeliveryOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_round_trip_as_flat_json() {
        let delivery = Delivery {
            at: Timestamp::from_second(1_700_000_000).unwrap(),
            incident: IncidentId(7),
            rule: "db-down".into(),
            receiver: "oncall".into(),
            reason: NotifyReason::Fired,
            attempt: 2,
            outcome: DeliveryOutcome::Failed {
                error: "HTTP 503".into(),
            },
        };
        let json = serde_json::to_string(&delivery).unwrap();
        assert!(
            json.contains(r#""outcome":"failed","error":"HTTP 503""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Delivery>(&json).unwrap(), delivery);
        assert!(json.contains(r#""reason":"fired""#), "{json}");
        assert_eq!(delivery.reason.to_string(), "fired");
        assert_eq!(delivery.outcome.to_string(), "failed: HTTP 503");
    }
}
