//! From the bytes of one stream to batches of records, each batch with the
//! point in the stream it reaches.
//!
//! The invariant every batch keeps: its end point is the offset of the first
//! byte that is in neither this batch nor an earlier one. Lines that the
//! multiline joiner still holds are not done, so while the joiner holds a
//! record the end point stays where that record starts; a resume from any
//! batch's end point therefore neither skips nor repeats a record.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use firewatch_event::{EventId, RawRecord};
use firewatch_parse::{Joiner, MultilineConfig};

use crate::SourceCounters;
use crate::lines::{Line, LineSplitter};

/// How far a stream has been consumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamPoint {
    /// Bytes consumed.
    pub(crate) offset: u64,
    /// Lines consumed; the next line is number `line + 1`.
    pub(crate) line: u64,
}

/// How records are cut and grouped; the same for every stream of a source.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordSettings {
    pub(crate) max_line_bytes: usize,
    pub(crate) multiline: bool,
    pub(crate) batch_lines: usize,
}

/// Records ready to send, and the point the stream reaches once they are
/// durable.
#[derive(Debug)]
pub(crate) struct ReadyBatch {
    pub(crate) records: Vec<RawRecord>,
    pub(crate) end: StreamPoint,
}

/// Turns one stream's bytes into batches of records.
pub(crate) struct RecordAssembler {
    source: Arc<str>,
    stream_key: String,
    splitter: LineSplitter,
    joiner: Option<Joiner>,
    settings: RecordSettings,
    /// Where the record the joiner holds starts (meaningful while it holds one).
    held_start: StreamPoint,
    /// The end of the last line given to the joiner.
    last_line_end: StreamPoint,
    filling: ReadyBatch,
    full: VecDeque<ReadyBatch>,
    counters: Arc<SourceCounters>,
}

impl RecordAssembler {
    /// An assembler for the stream `stream_key` of `source`, starting at `start`.
    pub(crate) fn new(
        source: Arc<str>,
        stream_key: String,
        start: StreamPoint,
        settings: RecordSettings,
        counters: Arc<SourceCounters>,
    ) -> Self {
        Self {
            source,
            stream_key,
            splitter: LineSplitter::new(settings.max_line_bytes, start.offset, start.line + 1),
            joiner: settings
                .multiline
                .then(|| Joiner::new(MultilineConfig::default())),
            settings,
            held_start: start,
            last_line_end: start,
            filling: ReadyBatch {
                records: Vec::new(),
                end: start,
            },
            full: VecDeque::new(),
            counters,
        }
    }

    /// Starts over at `start` under a new key (a file that was truncated),
    /// dropping any unfinished line and held record.
    pub(crate) fn restart(&mut self, stream_key: String, start: StreamPoint) {
        let settings = self.settings;
        *self = Self::new(
            Arc::clone(&self.source),
            stream_key,
            start,
            settings,
            Arc::clone(&self.counters),
        );
    }

    /// The source name, as the batches carry it.
    pub(crate) fn source(&self) -> &Arc<str> {
        &self.source
    }

    /// The key ids and positions are made with.
    pub(crate) fn stream_key(&self) -> &str {
        &self.stream_key
    }

    /// Changes the key for the records still to come (a file whose
    /// fingerprint became complete).
    pub(crate) fn set_stream_key(&mut self, stream_key: String) {
        self.stream_key = stream_key;
    }

    /// Stream offset of the next byte to be pushed.
    pub(crate) fn offset(&self) -> u64 {
        self.splitter.offset()
    }

    /// Consumes bytes from the front of `input` until it is used up or a
    /// batch is full, and returns how many it consumed. Taking the full
    /// batch lets it go on; at most one batch of records is held at a time,
    /// whatever the size of `input`.
    pub(crate) fn push_bytes(&mut self, input: &[u8]) -> usize {
        let mut consumed = 0;
        let mut lines = 0;
        let mut truncated = 0;
        while consumed < input.len() && self.full.is_empty() {
            let (used, line) = self.splitter.split_next(&input[consumed..]);
            consumed += used;
            if let Some(line) = line {
                lines += 1;
                truncated += u64::from(line.truncated);
                self.accept(line);
            }
        }
        self.counters.lines.fetch_add(lines, Ordering::Relaxed);
        self.counters
            .truncated
            .fetch_add(truncated, Ordering::Relaxed);
        consumed
    }

    /// The stream ended: its last line counts even without a newline, and
    /// a record the joiner holds is complete.
    pub(crate) fn end_of_input(&mut self) {
        if let Some(line) = self.splitter.finish() {
            self.counters.lines.fetch_add(1, Ordering::Relaxed);
            self.counters
                .truncated
                .fetch_add(u64::from(line.truncated), Ordering::Relaxed);
            self.accept(line);
        }
        self.flush_joiner();
    }

    /// Ends the record the joiner holds, if any (the stream went quiet).
    pub(crate) fn flush_joiner(&mut self) {
        if let Some(record) = self.joiner.as_mut().and_then(Joiner::flush) {
            self.emit(record, self.last_line_end);
        }
    }

    /// The joiner holds lines that may still be continued.
    pub(crate) fn holds_record(&self) -> bool {
        self.joiner
            .as_ref()
            .is_some_and(|joiner| joiner.pending_line().is_some())
    }

    /// Takes the next full batch, if one is ready.
    pub(crate) fn take_full_batch(&mut self) -> Option<ReadyBatch> {
        self.full.pop_front()
    }

    /// Takes the next batch, full or not, if there are records to send.
    pub(crate) fn take_batch(&mut self) -> Option<ReadyBatch> {
        self.full.pop_front().or_else(|| {
            (!self.filling.records.is_empty()).then(|| ReadyBatch {
                records: std::mem::take(&mut self.filling.records),
                end: self.filling.end,
            })
        })
    }

    fn accept(&mut self, line: Line) {
        let id = EventId::from_parts(&[
            self.source.as_bytes(),
            self.stream_key.as_bytes(),
            &line.start.to_le_bytes(),
        ]);
        let record = RawRecord {
            id,
            line: line.number,
            bytes: line.bytes,
            truncated: line.truncated,
            peer_host: None,
        };
        let line_end = StreamPoint {
            offset: line.end,
            line: line.number,
        };
        let Some(joiner) = self.joiner.as_mut() else {
            self.emit(record, line_end);
            return;
        };
        let completed = joiner.push(record);
        if joiner.pending_line() == Some(line.number) {
            self.held_start = StreamPoint {
                offset: line.start,
                line: line.number - 1,
            };
        }
        let settled = if joiner.pending_line().is_some() {
            self.held_start
        } else {
            line_end
        };
        self.last_line_end = line_end;
        if let Some(record) = completed {
            self.emit(record, settled);
        }
    }

    fn emit(&mut self, record: RawRecord, end: StreamPoint) {
        self.filling.records.push(record);
        self.filling.end = end;
        let batch_lines = self.settings.batch_lines.max(1);
        if self.filling.records.len() >= batch_lines {
            let records =
                std::mem::replace(&mut self.filling.records, Vec::with_capacity(batch_lines));
            self.full.push_back(ReadyBatch { records, end });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assembler(multiline: bool, batch_lines: usize) -> RecordAssembler {
        RecordAssembler::new(
            "app".into(),
            "stream".into(),
            StreamPoint::default(),
            RecordSettings {
                max_line_bytes: 1024,
                multiline,
                batch_lines,
            },
            Arc::default(),
        )
    }

    fn push_all(assembler: &mut RecordAssembler, input: &[u8]) -> Vec<ReadyBatch> {
        let mut batches = Vec::new();
        let mut at = 0;
        while at < input.len() {
            at += assembler.push_bytes(&input[at..]);
            batches.extend(std::iter::from_fn(|| assembler.take_full_batch()));
        }
        batches
    }

    #[test]
    fn batches_are_bounded_and_end_after_their_last_record() {
        let mut assembler = assembler(false, 2);
        let batches = push_all(&mut assembler, b"a\nbb\nccc\ndddd\neeeee\nf");
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].end, StreamPoint { offset: 5, line: 2 });
        assert_eq!(
            batches[1].end,
            StreamPoint {
                offset: 14,
                line: 4
            }
        );
        let rest = assembler.take_batch().unwrap();
        assert_eq!(rest.records.len(), 1);
        assert_eq!(
            rest.end,
            StreamPoint {
                offset: 20,
                line: 5
            }
        );
        assert!(assembler.take_batch().is_none());
        assembler.end_of_input();
        let last = assembler.take_batch().unwrap();
        assert_eq!(last.records[0].bytes, b"f");
        assert_eq!(
            last.end,
            StreamPoint {
                offset: 21,
                line: 6
            }
        );
        assert_eq!(assembler.counters.snapshot().lines, 6);
    }

    #[test]
    fn ids_name_the_source_stream_and_offset() {
        let mut assembler = assembler(false, 100);
        push_all(&mut assembler, b"one\ntwo\n");
        let batch = assembler.take_batch().unwrap();
        let expected = EventId::from_parts(&[b"app", b"stream", &4u64.to_le_bytes()]);
        assert_eq!(batch.records[1].id, expected);
        assert_ne!(batch.records[0].id, batch.records[1].id);
    }

    #[test]
    fn a_batch_never_ends_past_a_record_the_joiner_holds() {
        let mut assembler = assembler(true, 100);
        let input =
            b"2024-05-01 INFO up\n2024-05-01 ERROR boom\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)\n";
        push_all(&mut assembler, input);
        assert!(assembler.holds_record());
        let batch = assembler.take_batch().unwrap();
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.records[0].bytes, b"2024-05-01 INFO up");
        assert_eq!(
            batch.end,
            StreamPoint {
                offset: 19,
                line: 1
            }
        );
        assembler.flush_joiner();
        let batch = assembler.take_batch().unwrap();
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.records[0].line, 2);
        assert!(batch.records[0].bytes.starts_with(b"2024-05-01 ERROR boom"));
        assert!(batch.records[0].bytes.ends_with(b"F.java:2)"));
        assert_eq!(
            batch.end,
            StreamPoint {
                offset: input.len() as u64,
                line: 4
            }
        );
    }
}
