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
    /// Streams opened (files, standard input, or syslog connections).
    pub files: AtomicU64,
    /// Followed files that left their path (renamed or deleted by
    /// rotation); each is read to its end before it is closed.
    pub rotations: AtomicU64,
    /// Files found truncated or rewritten in place (shorter than what was
    /// read, or with other first bytes), and read again from the start.
    pub truncations: AtomicU64,
    /// Times a network source lost its connection and connected again.
    pub reconnects: AtomicU64,
    /// Messages received but thrown away because the pipeline was behind
    /// (UDP syslog, which cannot slow its senders down).
    pub dropped: AtomicU64,
    /// Connections closed because the peer broke the protocol (a bad
    /// syslog octet count, a failed TLS handshake).
    pub protocol_errors: AtomicU64,
}

impl SourceCounters {
    /// A plain copy of the counters as they are now.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            lines: self.lines.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            truncated: self.truncated.load(Ordering::Relaxed),
            files: self.files.load(Ordering::Relaxed),
            rotations: self.rotations.load(Ordering::Relaxed),
            truncations: self.truncations.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            protocol_errors: self.protocol_errors.load(Ordering::Relaxed),
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
    /// Files that left their path by rotation.
    pub rotations: u64,
    /// Files found truncated or rewritten.
    pub truncations: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Messages dropped because the pipeline was behind.
    pub dropped: u64,
    /// Connections closed for breaking the protocol.
    pub protocol_errors: u64,
}
