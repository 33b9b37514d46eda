//! Standard input as a source, and the reader behind it, which takes any
//! [`AsyncRead`].
//!
//! Standard input cannot be read again, so its batches carry no position
//! and nothing is held back: a batch is sent after every read that
//! completed a record (lines arrive one by one when a person types or a
//! program trickles them), and at shutdown the unfinished last line and
//! the record the multiline joiner holds are sent as they are; waiting for
//! a next run would lose them.
//!
//! tokio reads standard input on a blocking thread that cannot be
//! interrupted: a runtime that shuts down while a terminal is idle waits
//! for the next line unless it is shut down with a timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use firewatch_event::{Batch, Timestamp};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::IngestError;
use crate::file::{CHUNK_BYTES, DEFAULT_BATCH_LINES, QUIET_PERIOD};
use crate::records::{RecordAssembler, RecordSettings, StreamPoint};
use crate::source::{Source, SourceContext, SourceFuture};

/// The stream key of standard input, used in record ids.
const STDIN_STREAM: &str = "stdin";

/// Reads records from standard input until it ends.
#[derive(Debug)]
pub struct StdinSource {
    name: String,
    settings: RecordSettings,
}

impl StdinSource {
    /// A source named `name` that cuts lines at `max_line_bytes` and joins
    /// continuation lines when `multiline` is set.
    pub fn new(name: String, max_line_bytes: usize, multiline: bool) -> Self {
        Self {
            name,
            settings: RecordSettings {
                max_line_bytes,
                multiline,
                batch_lines: DEFAULT_BATCH_LINES,
            },
        }
    }
}

impl Source for StdinSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(async move {
            let outcome = read_stream(
                tokio::io::stdin(),
                self.name.into(),
                self.settings,
                &context,
            )
            .await;
            context.settle(outcome)
        })
    }
}

/// Reads `reader` to its end (or until shutdown), sending batches without
/// positions.
pub(crate) async fn read_stream<R: AsyncRead + Unpin>(
    mut reader: R,
    source: Arc<str>,
    settings: RecordSettings,
    context: &SourceContext,
) -> Result<(), IngestError> {
    context.counters.files.fetch_add(1, Ordering::Relaxed);
    let mut records = RecordAssembler::new(
        source,
        STDIN_STREAM.to_owned(),
        StreamPoint::default(),
        settings,
        Arc::clone(&context.counters),
    );
    let mut buffer = vec![0; CHUNK_BYTES];
    let mut last_data = Instant::now();
    loop {
        let quiet_deadline = last_data + QUIET_PERIOD;
        let read = tokio::select! {
            biased;
            () = context.shutdown.cancelled() => break,
            // `read` is cancel safe: when another branch wins, no byte is lost.
            read = reader.read(&mut buffer) => read.map_err(IngestError::Stdin)?,
            () = tokio::time::sleep_until(quiet_deadline), if records.holds_record() => {
                records.flush_joiner();
                send_ready(&mut records, context).await?;
                continue;
            }
        };
        if read == 0 {
            break;
        }
        last_data = Instant::now();
        context
            .counters
            .bytes
            .fetch_add(read as u64, Ordering::Relaxed);
        let mut at = 0;
        while at < read {
            at += records.push_bytes(&buffer[at..read]);
            send_ready(&mut records, context).await?;
        }
    }
    records.end_of_input();
    send_ready(&mut records, context).await
}

async fn send_ready(
    records: &mut RecordAssembler,
    context: &SourceContext,
) -> Result<(), IngestError> {
    while let Some(batch) = records.take_batch() {
        context
            .deliver(Batch {
                source: Arc::clone(records.source()),
                received: Timestamp::now(),
                records: batch.records,
                position: None,
                redelivered: false,
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use firewatch_event::EventId;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::*;

    fn settings(multiline: bool, max_line_bytes: usize) -> RecordSettings {
        RecordSettings {
            max_line_bytes,
            multiline,
            batch_lines: 2,
        }
    }

    fn context() -> (SourceContext, mpsc::Receiver<Batch>) {
        let (output, batches) = mpsc::channel(64);
        let context = SourceContext {
            output,
            resume: Default::default(),
            shutdown: CancellationToken::new(),
            counters: Arc::default(),
            committed: tokio::sync::watch::channel(Default::default()).1,
        };
        (context, batches)
    }

    fn drain(batches: &mut mpsc::Receiver<Batch>) -> Vec<Batch> {
        std::iter::from_fn(|| batches.try_recv().ok()).collect()
    }

    #[tokio::test]
    async fn lines_from_a_reader_become_batches_without_positions() {
        let (context, mut batches) = context();
        let input: &[u8] = b"one\r\n\ntoo long for the limit here\n\xffraw\nlast";
        read_stream(input, "stdin-app".into(), settings(false, 16), &context)
            .await
            .unwrap();
        let batches = drain(&mut batches);
        assert!(batches.iter().all(|batch| batch.position.is_none()));
        assert!(batches.iter().all(|batch| batch.records.len() <= 2));
        let records: Vec<_> = batches.iter().flat_map(|batch| &batch.records).collect();
        let bytes: Vec<&[u8]> = records.iter().map(|record| &record.bytes[..]).collect();
        assert_eq!(
            bytes,
            [&b"one"[..], b"", b"too long for the", b"\xffraw", b"last"]
        );
        assert!(records[2].truncated);
        assert_eq!(records[4].line, 5);
        let expected_id = EventId::from_parts(&[b"stdin-app", b"stdin", &5u64.to_le_bytes()]);
        assert_eq!(records[1].id, expected_id);
        let counted = context.counters.snapshot();
        assert_eq!(
            (
                counted.lines,
                counted.truncated,
                counted.bytes,
                counted.files
            ),
            (5, 1, input.len() as u64, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_reader_completes_the_held_record_and_shutdown_sends_the_rest() {
        let (context, mut batches) = context();
        let (mut writer, reader) = tokio::io::duplex(1024);
        let shutdown = context.shutdown.clone();
        let counters = Arc::clone(&context.counters);
        let task = tokio::spawn(async move {
            read_stream(reader, "app".into(), settings(true, 1024), &context).await
        });

        writer
            .write_all(b"2024-05-01 ERROR failed\n\tat a.B(C.java:1)\n")
            .await
            .unwrap();
        let joined = tokio::time::timeout(Duration::from_secs(5), batches.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(joined.records.len(), 1);
        assert!(joined.records[0].bytes.ends_with(b"C.java:1)"));

        writer.write_all(b"unfinished").await.unwrap();
        while counters.snapshot().bytes < 52 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        shutdown.cancel();
        task.await.unwrap().unwrap();
        let rest = drain(&mut batches);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].records[0].bytes, b"unfinished");
    }
}
