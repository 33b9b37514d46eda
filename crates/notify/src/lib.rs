//! Gets incident news to people.
//!
//! A pipeline's `[notify]` table ([`NotifyConfig`]) names receivers: an
//! Alertmanager-compatible webhook, PagerDuty's Events API v2, a plain JSON
//! webhook, or a command that gets the incident on standard input. It is
//! validated into a [`NotifyPlan`]; [`Notifier::start`] then runs it on the
//! tokio runtime and returns the [`Notifications`] handle that the
//! detector's thread tells of every incident change, without ever waiting.
//!
//! Receivers are told when an incident fires (or reopens), escalates,
//! resolves, and, if asked, again every `renotify_interval` while it stays
//! open. Each notification is tried with exponential backoff
//! ([`RetryPolicy`]), and every attempt is recorded as a
//! [`firewatch_event::Delivery`] in the deliveries file
//! ([`read_deliveries`]).
//!
//! Before sending, two things may suppress a notification, as in
//! Alertmanager: a [`Silence`] (matchers on the incident's labels and a
//! time range, kept in `DATA_DIR/silences.json` by [`SilenceStore`], which
//! `firewatch silence` edits while a pipeline runs), and an
//! [`InhibitRule`] (an open incident that outranks it). A suppressed
//! notification is recorded with what suppressed it; the incident itself
//! is detected and indexed as usual.
//!
//! ```
//! use firewatch_notify::{Matcher, incident_labels};
//! # let incident: firewatch_event::Incident = serde_json::from_value(serde_json::json!({
//! #   "id": "00000000000000aa", "rule": "db-down", "title": "T", "severity": "critical",
//! #   "key": "db-down/db-01", "group": {"host": "db-01"}, "state": "open",
//! #   "first_seen": "2026-11-20T09:00:00Z", "last_seen": "2026-11-20T09:00:00Z",
//! #   "resolved_at": null, "count": 1, "samples": [], "trigger_events": []
//! # })).unwrap();
//! let matcher: Matcher = "host=~db-.*".parse().unwrap();
//! assert!(matcher.matches(&incident_labels(&incident)));
//! ```
//!
//! Where to go next: `firewatch-pipeline`'s `run` for where incident
//! changes come from.

mod config;
mod deliveries;
mod inhibit;
mod matcher;
mod notifier;
mod payload;
mod retry;
mod send;
mod silence;

use std::path::PathBuf;

pub use config::{
    DEFAULT_ROUTING_KEY_ENV, InhibitConfig, NotifyConfig, NotifyPlan, PAGERDUTY_EVENTS_URL,
    ReceiverConfig, ReceiverPlan, ReceiverTarget, ReceiverType, Secret,
};
pub use deliveries::{DeliveryLog, read_deliveries};
pub use inhibit::{InhibitRule, Inhibitor};
pub use matcher::{InvalidMatcher, MatchOp, Matcher, all_match, incident_labels};
pub use notifier::{Notifications, Notifier};
pub use retry::RetryPolicy;
pub use silence::{NewSilence, SILENCES_FILE, Silence, SilenceCache, SilenceState, SilenceStore};

/// Why notifications could not start, or silences could not be read or
/// changed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The silences file is not valid, or a change to it is not.
    #[error("{}: {message}", path.display())]
    Silences {
        /// The silences file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use firewatch_event::{Incident, IncidentId, IncidentState, Severity, Timestamp};

    /// A high open incident of `rule` with these group values.
    pub fn incident(rule: &str, group: &[(&str, &str)]) -> Incident {
        let at = Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let group: BTreeMap<String, String> = group
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let key = std::iter::once(rule.to_owned())
            .chain(group.values().cloned())
            .collect::<Vec<_>>()
            .join("/");
        Incident {
            id: IncidentId::new(rule, &key, at),
            rule: rule.into(),
            title: format!("{rule} happened"),
            severity: Severity::High,
            description: None,
            key,
            group,
            state: IncidentState::Open,
            flapping: false,
            history: Vec::new(),
            first_seen: at,
            last_seen: at,
            resolved_at: None,
            count: 3,
            samples: Vec::new(),
            trigger_events: Vec::new(),
        }
    }
}
