//! From raw log records to events.
//!
//! Sources hand the pipeline [`RawRecord`](firewatch_event::RawRecord)s: the
//! bytes of one line (or of several lines joined by the [`Joiner`]), with a
//! stable id and a line number. A [`Parser`] turns each record into exactly
//! one [`Event`](firewatch_event::Event): event time, level, host, service,
//! message and structured fields.
//!
//! Parsing never fails. Bad input is not an error but a marked event:
//! invalid UTF-8 is replaced and marked, a line the configured [`Format`]
//! cannot read keeps its raw text as message and is marked `unparsed` with a
//! short reason, and a cut line keeps the `truncated` mark its source gave
//! it. Nothing is dropped, so every line can be counted and found again.
//!
//! The formats, one module each:
//!
//! * `json`: one object per line; common key spellings become time, level,
//!   message, host and service (`known_keys`), the rest stays as fields;
//! * `syslog`: RFC 5424, RFC 3164, and the BSD file format of
//!   `/var/log/messages`;
//! * `logfmt`: `key=value` pairs;
//! * `plain`: anything; a leading time stamp (`time`), level word
//!   (`level_word`), thread and logger are taken out of the message;
//! * [`Format::Auto`] picks one of the above per line and falls back to
//!   plain, so it never marks a line unparsed.
//!
//! Zone-less time stamps are read in [`ParserConfig::time_zone`]; year-less
//! ones (BSD syslog) get the year of the receive time.
//!
//! ```
//! use std::sync::Arc;
//!
//! use firewatch_event::{EventId, Level, RawRecord, Timestamp};
//! use firewatch_parse::{Parser, ParserConfig};
//!
//! let parser = Parser::new(ParserConfig::default());
//! let source: Arc<str> = Arc::from("app");
//! let received: Timestamp = "2026-11-26T10:00:05Z".parse().unwrap();
//! let line = b"2026-11-26 10:00:00,123 ERROR [main] com.example.Db: connection refused\r";
//! let event = parser.parse(&RawRecord::new(EventId(7), 1, line.to_vec()), &source, received);
//!
//! assert_eq!(event.level, Level::Error);
//! assert_eq!(event.message, "connection refused");
//! assert_eq!(event.timestamp.unwrap().to_string(), "2026-11-26T10:00:00.123Z");
//! assert_eq!(event.field_text("logger").unwrap(), "com.example.Db");
//! assert!(event.problem.is_clean());
//! ```
//!
//! Next, read `firewatch-rules` for how events become incidents.

mod error;
mod format;
mod json;
mod known_keys;
mod level_word;
mod logfmt;
mod multiline;
mod parser;
mod plain;
mod syslog;
mod time;

#[cfg(test)]
mod loghub_agreement;
#[cfg(test)]
mod throughput;

pub use error::Error;
pub use format::Format;
pub use multiline::{Joiner, MultilineConfig};
pub use parser::{Parser, ParserConfig};
