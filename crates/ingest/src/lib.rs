//! Sources of log records: files and standard input.
//!
//! A source reads one or more *streams* (a file, standard input) and sends
//! [`Batch`](firewatch_event::Batch)es of raw records down a bounded channel
//! to the pipeline. Each batch holds records of one stream, in order, and
//! the [`Position`](firewatch_event::Position) that stream reaches once the
//! batch is durable; the pipeline stores positions with each index commit,
//! and hands them back at the next start, so that a file is read on from
//! exactly where the last commit left it: nothing lost, nothing read twice.
//!
//! The main types:
//! - [`Source`], the seam: a name and a `run` future that takes a
//!   [`SourceContext`] (the output channel, the positions to resume from, a
//!   shutdown token and the [`SourceCounters`]).
//! - [`FileSource`], configured by [`FileSourceConfig`]: files named by glob
//!   patterns, read once or followed as they grow, with a line length cap
//!   and optional multiline joining. Its design notes (positions, partial
//!   lines, file identity, truncation) are in the `file` and `identity`
//!   modules.
//! - [`StdinSource`]: standard input, which cannot be resumed.
//!
//! Records keep their bytes as they came, minus the line terminator (`\n`
//! or `\r\n`): invalid UTF-8 passes through for the parser to mark, and a
//! line over the cap is cut and marked truncated. Each record's id is a hash
//! of the source name, the stream key and the record's byte offset, so the
//! same line of the same file always gets the same id.
//!
//! ```
//! use firewatch_ingest::{FileSource, FileSourceConfig, Source, SourceContext};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("app.log"), "started\r\nERROR db down")?;
//! let directory = glob::Pattern::escape(&dir.path().display().to_string());
//! let source: Box<dyn Source> = Box::new(FileSource::new(FileSourceConfig {
//!     name: "app".into(),
//!     paths: vec![format!("{directory}/*.log")],
//!     ..FileSourceConfig::default()
//! }));
//!
//! let (output, mut batches) = tokio::sync::mpsc::channel(16);
//! let context = SourceContext {
//!     output,
//!     resume: Default::default(),
//!     shutdown: Default::default(),
//!     counters: Default::default(),
//! };
//! let counters = context.counters.clone();
//! source.run(context).await?;
//!
//! let batch = batches.recv().await.ok_or("no batch")?;
//! assert_eq!(batch.records[1].bytes, b"ERROR db down");
//! assert_eq!(batch.position.ok_or("no position")?.offset, 22);
//! assert_eq!(counters.snapshot().lines, 2);
//! # Ok(())
//! # }
//! ```
//!
//! Next, read `firewatch-parse` for how records become events, and
//! `firewatch-pipeline` for how sources are started, drained and stopped.

mod counters;
mod error;
mod file;
mod identity;
mod lines;
mod records;
mod source;
mod stdin;

pub use counters::{CounterSnapshot, SourceCounters};
pub use error::IngestError;
pub use file::{
    DEFAULT_BATCH_LINES, DEFAULT_MAX_LINE_BYTES, DEFAULT_POLL_INTERVAL, FileSource,
    FileSourceConfig, StartAt,
};
pub use source::{Source, SourceContext, SourceFuture};
pub use stdin::StdinSource;
