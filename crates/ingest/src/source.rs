//! The seam between sources and the pipeline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use firewatch_event::{Batch, Checkpoint};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{IngestError, SourceCounters};

/// What [`Source::run`] returns: a future the pipeline spawns as a task.
pub type SourceFuture = Pin<Box<dyn Future<Output = Result<(), IngestError>> + Send>>;

/// What every source gets when it starts.
#[derive(Debug)]
pub struct SourceContext {
    /// Where batches go. The channel is bounded: waiting in `send` is how
    /// a slow index slows the sources down.
    pub output: mpsc::Sender<Batch>,
    /// The last committed positions of every source (possibly empty); a
    /// source resumes its streams from its own entries.
    pub resume: Checkpoint,
    /// Cancelled when the pipeline stops: the source stops reading, sends the
    /// complete records it holds, and returns.
    pub shutdown: CancellationToken,
    /// The source's counters, which the pipeline reads while it runs.
    pub counters: Arc<SourceCounters>,
    /// The checkpoint of the last successful index commit, updated after
    /// every commit: a queue source acknowledges what it holds. Sources
    /// that resume from positions instead ignore it.
    pub committed: watch::Receiver<Checkpoint>,
}

impl SourceContext {
    /// Sends one batch, waiting while the channel is full.
    ///
    /// A source keeps waiting here after shutdown is requested: the batch
    /// it holds was already counted as read, and dropping it would lose it.
    /// The pipeline keeps receiving until every source has returned.
    pub(crate) async fn deliver(&self, batch: Batch) -> Result<(), IngestError> {
        self.output
            .send(batch)
            .await
            .map_err(|closed| IngestError::OutputClosed {
                source_name: closed.0.source.to_string(),
            })
    }

    /// A closed output after shutdown was requested is the normal end of a
    /// run, not a failure.
    pub(crate) fn settle(&self, outcome: Result<(), IngestError>) -> Result<(), IngestError> {
        match outcome {
            Err(IngestError::OutputClosed { .. }) if self.shutdown.is_cancelled() => Ok(()),
            other => other,
        }
    }
}

/// A source of records: files, standard input, a socket, a queue.
///
/// The contract:
/// - `run` reads its streams and sends [`Batch`]es to `context.output`, each
///   holding records of one stream in order and the [`Position`] reached
///   once they are durable. Positions never pass a record that has not been
///   sent, so a checkpoint made of them is always safe to resume from.
/// - It returns `Ok` when its input is exhausted (a file source that does
///   not follow, standard input at its end) or after `context.shutdown` is
///   cancelled. Bad data is never an error (see [`IngestError`]).
/// - After shutdown is requested it sends at most the complete records it
///   holds; the pipeline must keep receiving until the source returns (or
///   drop the receiver, which ends the source too).
///
/// [`Position`]: firewatch_event::Position
pub trait Source: Send {
    /// The source's configured name, which is also the `source` of its
    /// batches and its key in checkpoints.
    fn name(&self) -> &str;

    /// Whether records may come again after they were indexed (a queue
    /// redelivers what was not acknowledged before a crash). Such a source
    /// marks the batches that may repeat records
    /// ([`Batch::redelivered`]), whose events the index then upserts by id,
    /// and reads one stream at a time: the pipeline keeps only its latest
    /// stream in the checkpoint.
    fn redelivers(&self) -> bool {
        false
    }

    /// A flag the source raises when it needs a commit before the commit
    /// interval is up (a queue source whose window of unacknowledged
    /// messages is filling, and which gets no more until some are
    /// acknowledged). The pipeline commits after the next batch it adds
    /// and lowers the flag.
    fn commit_requests(&self) -> Option<Arc<AtomicBool>> {
        None
    }

    /// Starts the source; the pipeline spawns the returned future.
    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture;
}
