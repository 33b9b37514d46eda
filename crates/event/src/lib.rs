//! The data model every firewatch crate speaks.
//!
//! firewatch moves log lines from sources to sinks in [`Batch`]es. A batch holds
//! [`RawRecord`]s (bytes as they arrived, with their line number and a stable
//! [`EventId`]) and the [`Position`] the source reaches once the batch is durable.
//! `firewatch-parse` turns each record into an [`Event`]; `firewatch-rules` turns
//! events into [`Incident`]s; `firewatch-index` stores both, and writes the
//! [`Checkpoint`] (every source's position) into the same commit as the documents.
//!
//! This crate does no I/O and knows nothing of tokio: it is plain data with
//! serde support, so that positions and incidents can travel in index commits.
//!
//! ```
//! use firewatch_event::{Event, EventId, Level, Timestamp};
//!
//! let received = Timestamp::UNIX_EPOCH;
//! let mut event = Event::new(EventId::from_parts(&[b"app", b"42"]), "app".into(), received);
//! event.level = Level::parse("ERR").unwrap_or_default();
//! event.message = "connection refused".into();
//! assert_eq!(event.level, Level::Error);
//! assert_eq!(event.time(), received);
//! ```
//!
//! Next, read `firewatch-parse` for how lines become events.

mod batch;
mod delivery;
mod duration;
mod event;
mod id;
mod incident;
mod level;
mod template_id;
mod time;

pub use batch::{Batch, Checkpoint, Position, RawRecord};
pub use delivery::{DELIVERIES_FILE, Delivery, DeliveryOutcome, NotifyReason};
pub use duration::{InvalidDuration, deserialize_duration, parse_duration};
pub use event::{Event, FieldMap, ParseProblem};
pub use id::{EventId, InvalidId};
pub use incident::{
    Change, Incident, IncidentId, IncidentState, MAX_HISTORY, Sample, Severity, StateChange,
};
pub use level::Level;
pub use template_id::TemplateId;
pub use time::short_time;

/// An instant in UTC, as used for event time and receive time.
pub use jiff::Timestamp;
