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
//!   lines, file identity, rotation, truncation) are in the `file` and
//!   `identity` modules.
//! - [`StdinSource`]: standard input, which cannot be resumed.
//! - [`SyslogSource`], configured by [`SyslogSourceConfig`]: a UDP, TCP or
//!   TLS listener for syslog senders (rsyslog, `logger`, applications),
//!   which cannot be resumed either; its TCP framing is the
//!   [`SyslogFrameDecoder`] codec. The design notes (backpressure, drops,
//!   what a stop loses) are in the `syslog` and `framing` modules.
//! - [`AmqpSource`], configured by [`AmqpSourceConfig`]: a RabbitMQ queue,
//!   whose messages are acknowledged once the index commit that holds them
//!   is made (see [`SourceContext::committed`]); the design notes are in the
//!   `amqp` module.
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
//!     committed: tokio::sync::watch::channel(Default::default()).1,
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

mod amqp;
mod counters;
mod error;
mod file;
mod framing;
mod identity;
mod lines;
mod records;
mod source;
mod stdin;
mod syslog;

pub use amqp::{AmqpSource, AmqpSourceConfig, DEFAULT_BATCH_INTERVAL, DEFAULT_PREFETCH, SecretUrl};
pub use counters::{CounterSnapshot, SourceCounters};
pub use error::IngestError;
pub use file::{
    DEFAULT_BATCH_LINES, DEFAULT_MAX_LINE_BYTES, DEFAULT_POLL_INTERVAL, FileSource,
    FileSourceConfig, StartAt,
};
pub use framing::{FramingError, MAX_OCTET_COUNT, SyslogFrame, SyslogFrameDecoder};
pub use source::{Source, SourceContext, SourceFuture};
pub use stdin::StdinSource;
pub use syslog::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SYSLOG_BATCH_INTERVAL,
    ListenAddress, SyslogSource, SyslogSourceConfig, TlsFiles, Transport,
};
