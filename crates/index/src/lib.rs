//! Where firewatch keeps what it has seen: tantivy indexes of events and
//! incidents under a data directory, and the search over them.
//!
//! ```text
//! DATA_DIR/logs/2026.11.26/   one tantivy index per UTC day of event time
//! DATA_DIR/incidents/         one tantivy index, one document per incident
//! ```
//!
//! Splitting the logs by day makes retention a directory delete and lets a
//! time-ranged search open only the days it needs. Each event document
//! carries the ids of the incidents it counted towards, and each incident
//! lists the events that made it fire, so an incident's logs are one query
//! away in either direction.
//!
//! The main types:
//!
//! - [`IndexWriter`] adds events ([`IndexWriter::add_event`]) and incident
//!   states ([`IndexWriter::upsert_incident`]), and commits them together
//!   with the sources' [`Checkpoint`](firewatch_event::Checkpoint)
//!   ([`IndexWriter::commit`]). On open it tells the pipeline where to
//!   resume ([`IndexWriter::resume_checkpoint`]), and repairs the effects of
//!   a crash in the middle of a commit (the protocol is in the `commit`
//!   module's header).
//! - [`IndexReader`] searches with tantivy's query syntax over a log
//!   tokenizer fit for logs (`ECONNREFUSED`, `502`, `trace_id`,
//!   `"connection refused"`, `fields.status:503`, `fields.duration_ms:>500`,
//!   `level:error`, `level_rank:>=5`), plus exact filters and a time range, in event-time
//!   order ([`SearchRequest`], [`SearchResults`]); it also lists incidents
//!   and days. It also counts without reading documents: the top values
//!   of a field ([`IndexReader::count_by`]) and matches per time bucket
//!   ([`IndexReader::histogram`]), also on either side of a moment
//!   ([`IndexReader::timelines`]); and it shows the lines around one event
//!   ([`IndexReader::context`]) and the size of each day
//!   ([`IndexReader::days`]).
//! - [`retention::remove_days_older_than`] forgets whole days.
//!
//! ```
//! use firewatch_event::{Checkpoint, Event, EventId, Level, Timestamp};
//! use firewatch_index::{IndexConfig, IndexReader, IndexWriter, SearchRequest};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data_dir = tempfile::TempDir::new()?;
//! let mut writer = IndexWriter::open(data_dir.path(), IndexConfig::default())?;
//! let received: Timestamp = "2026-11-26T10:00:00Z".parse()?;
//! let mut event = Event::new(EventId(42), "app".into(), received);
//! event.level = Level::Error;
//! event.message = "upstream: Connection refused (ECONNREFUSED)".into();
//! writer.add_event(&event, &[], false)?;
//! writer.commit(&Checkpoint::default())?;
//!
//! let reader = IndexReader::open(data_dir.path())?;
//! let results = reader.search(&SearchRequest {
//!     query: "level:ERROR AND \"connection refused\"".into(),
//!     ..SearchRequest::default()
//! })?;
//! assert_eq!(results.total_matches, 1);
//! assert_eq!(results.hits[0].event, event);
//! # Ok(())
//! # }
//! ```
//!
//! This crate does no async work: the pipeline runs the writer on its own
//! thread. Next, read `firewatch-pipeline` for how batches reach the writer
//! and when it commits.

mod aggregate;
mod commit;
mod context;
mod day;
mod error;
mod event_document;
mod format;
mod highlight;
mod id_set;
mod incident_document;
mod order;
mod query;
mod reader;
pub mod retention;
mod time;
mod timeline;
mod tokenizer;
mod window;
mod writer;

pub use aggregate::{MAX_BUCKETS, ValueCounts};
pub use context::EventContext;
pub use error::IndexError;
pub use highlight::Highlighter;
pub use order::Order;
pub use reader::{DayStats, EventHit, IndexReader, SearchRequest, SearchResults};
pub use timeline::{Timeline, TimelineBucket};
pub use tokenizer::message_words;
pub use writer::{IndexConfig, IndexWriter};

#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
