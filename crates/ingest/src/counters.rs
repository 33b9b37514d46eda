//! What a source has read so far, for progress and the run summary.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters a source keeps while it runs. They are shared with the pipeline,
/// which reads them for progress and for the summary at the end of a run.
///
/// Sources add to them once per chunk read, not once per line, so that
/// a reader polling them costs the hot path nothing.
#[derive(Default, Debug)]
pub struct SourceCounters {
    /// Physical lines read (before multiline joining).
    pub lines: AtomicU64,
    /// Bytes read, including line terminators and the skipped tails of
    /// overlong lines.
    pub bytes: AtomicU64,
    /// Lines cut at the source's line length limit.
    pub truncated: AtomicU64,
    /// Streams opened (files, or standard input).
    pub files: AtomicU64,
}

impl SourceCounters {
    /// A plain copy of the counters as they are now.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            lines: self.lines.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            truncated: self.truncated.load(Ordering::Relaxed),
            files: self.files.load(Ordering::Relaxed),
        }
    }
}

/// The values of [`SourceCounters`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Physical lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines cut at the length limit.
    pub truncated: u64,
    /// Streams opened.
    pub files: u64,
}
