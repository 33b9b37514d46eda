//! What sources hand to the pipeline, and what a commit makes durable.
//!
//! A source reads *streams* (a file, a socket, a queue) and emits [`Batch`]es
//! of [`RawRecord`]s. Each batch ends at a [`Position`] in one stream. The
//! pipeline folds the positions of the batches it has indexed into a
//! [`Checkpoint`], which the index stores as the payload of the commit that
//! holds those batches' events: documents and positions become durable in
//! one step, and a restart resumes exactly there.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::EventId;

/// One record as it arrived: usually one line, or several lines joined by a
/// multiline rule. Bytes are kept as they came (without the line terminator);
/// UTF-8 is checked by the parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    /// Stable id of the event this record becomes.
    pub id: EventId,
    /// 1-based line number in the stream where the record starts.
    pub line: u64,
    /// The bytes of the record, without the trailing newline.
    pub bytes: Vec<u8>,
    /// The source cut the record at its size limit.
    pub truncated: bool,
    /// The network peer that sent the record, used as host when the record
    /// names none.
    pub peer_host: Option<Arc<str>>,
}

impl RawRecord {
    /// A record with no truncation and no peer.
    pub fn new(id: EventId, line: u64, bytes: Vec<u8>) -> Self {
        Self {
            id,
            line,
            bytes,
            truncated: false,
            peer_host: None,
        }
    }
}

/// Progress in one stream of a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// What identifies the stream across restarts (for files: device, inode
    /// and a fingerprint of the first bytes; for stdin: `stdin`).
    pub stream: String,
    /// Where the stream was last seen (a file path), for people and for
    /// finding the stream again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Bytes consumed (or, for queues, the last settled delivery).
    pub offset: u64,
    /// Lines consumed, so that line numbers go on after a restart.
    pub line: u64,
}

/// A batch of records from one source, ending at one position.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The source's configured name.
    pub source: Arc<str>,
    /// When the records were read.
    pub received: Timestamp,
    /// The records, in stream order.
    pub records: Vec<RawRecord>,
    /// Where the stream stands once these records are durable; `None` for
    /// sources that cannot resume (stdin).
    pub position: Option<Position>,
    /// Some records may be in the index already (a queue delivered them
    /// again after a crash or a lost connection): the index replaces any
    /// earlier copy, by id, instead of adding a second one.
    pub redelivered: bool,
}

impl Batch {
    /// Total bytes of the records, for counters.
    pub fn byte_len(&self) -> usize {
        self.records.iter().map(|record| record.bytes.len()).sum()
    }
}

/// Every source's position in every stream: the payload of an index commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// source name -> stream -> position.
    pub sources: BTreeMap<String, BTreeMap<String, Position>>,
}

impl Checkpoint {
    /// Records that `source` has reached `position` in its stream.
    pub fn advance(&mut self, source: &str, position: Position) {
        self.sources
            .entry(source.to_owned())
            .or_default()
            .insert(position.stream.clone(), position);
    }

    /// The position of one stream of one source, if any was committed.
    pub fn position(&self, source: &str, stream: &str) -> Option<&Position> {
        self.sources.get(source)?.get(stream)
    }

    /// Forgets one stream of one source (a queue channel that is gone, whose
    /// positions mean nothing any more), and the source when it has no
    /// stream left. Returns the position it had.
    pub fn remove(&mut self, source: &str, stream: &str) -> Option<Position> {
        let streams = self.sources.get_mut(source)?;
        let removed = streams.remove(stream);
        if streams.is_empty() {
            self.sources.remove(source);
        }
        removed
    }

    /// All committed streams of one source.
    pub fn streams(&self, source: &str) -> impl Iterator<Item = &Position> {
        self.sources
            .get(source)
            .into_iter()
            .flat_map(|streams| streams.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_keeps_the_latest_position_per_stream() {
        let mut checkpoint = Checkpoint::default();
        let at = |stream: &str, offset| Position {
            stream: stream.into(),
            path: None,
            offset,
            line: offset,
        };
        checkpoint.advance("app", at("a", 10));
        checkpoint.advance("app", at("b", 5));
        checkpoint.advance("app", at("a", 20));
        assert_eq!(checkpoint.position("app", "a").unwrap().offset, 20);
        assert_eq!(checkpoint.streams("app").count(), 2);
        let json = serde_json::to_string(&checkpoint).unwrap();
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&json).unwrap(),
            checkpoint
        );
    }

    #[test]
    fn removing_a_stream_forgets_it_and_then_its_empty_source() {
        let mut checkpoint = Checkpoint::default();
        let at = |stream: &str| Position {
            stream: stream.into(),
            path: None,
            offset: 1,
            line: 1,
        };
        checkpoint.advance("queue", at("logs#1"));
        checkpoint.advance("queue", at("logs#2"));
        assert_eq!(
            checkpoint.remove("queue", "logs#1").unwrap().stream,
            "logs#1"
        );
        assert!(checkpoint.remove("queue", "logs#1").is_none());
        assert!(checkpoint.remove("other", "logs#2").is_none());
        assert_eq!(checkpoint.streams("queue").count(), 1);
        checkpoint.remove("queue", "logs#2");
        assert!(checkpoint.sources.is_empty());
    }
}
