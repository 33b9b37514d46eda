//! Running a plan: sources, the processor thread, the index thread.
//!
//! ```text
//! source task ──Batch──> forwarder ─┐
//! source task ──Batch──> forwarder ─┼─Input──> processor thread ──IndexWork──> index thread
//!   (tokio)      bounded            │ bounded  (parse + detect)    bounded     (tantivy, commits)
//!                         ticker ───┤
//!                   rule watcher ───┘ (reloaded rules, see the `reload` module)
//! ```
//!
//! Each source has its own forwarder, which says when the source has sent
//! its last batch: the detector's event time waits for every running source
//! (see `firewatch_rules::Detector::expect_source`), so the message must come
//! after that source's batches and not overtake them.
//!
//! Every channel is bounded, so a slow index slows the processor, which
//! slows the sources: nothing piles up in memory. Parsing and detection run
//! on a thread of their own rather than on the async runtime, so that
//! sources keep being served while a batch is being worked on.
//!
//! The index thread folds each batch's position into a [`Checkpoint`] after
//! adding the batch's events, and commits both together; batches arrive in
//! the order the processor finished them, which is the order sources sent
//! them, so a committed position never runs ahead of committed events.
//! Each commit also stores the detector's state (rule windows, open
//! incidents, per-source event time) as it was after exactly the batches
//! whose positions it stores, so that a restart resumes both together. The
//! processor owns the detector, the index thread decides when to commit: it
//! raises a flag (and wakes an idle processor through its input), and the
//! processor answers after its current item with the state, sent down the
//! same channel as the batches. The index thread commits when the state
//! arrives, with the checkpoint folded up to it, so a commit comes later
//! than its interval or size asked by the batches already on their way (at
//! most two channels' worth). The last state goes with the last commit.
//!
//! After each commit the index thread publishes the checkpoint it stored
//! (`SourceContext::committed`): a queue source acknowledges its messages
//! only then, and may ask for a commit before the interval is up when its
//! window of unacknowledged messages fills.
//!
//! Shutdown: cancelling the token stops the sources; each sends what it has
//! and returns; the channels then close one after the other, the index
//! thread makes a last commit, and [`run`] returns the summary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use firewatch_event::{Batch, Checkpoint, Incident, IncidentId, IncidentState};
use firewatch_index::IndexWriter;
use firewatch_ingest::{
    AmqpSource, FileSource, Source, SourceContext, SourceCounters, StdinSource,
};
use firewatch_rules::RuleSet;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::PipelineError;
use crate::plan::{IndexPlan, InputPlan, Plan};
use crate::processor::{ParseCounts, Processed, Processor, ProcessorSource};
use crate::reload::{RuleReloads, listen_for_hangup, watch_rules};

/// How an incident changed, as told to a [`RunObserver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentChange {
    /// It fired for the first time.
    Opened,
    /// More matches came in.
    Updated,
    /// It went quiet for its rule's resolve period.
    Resolved,
}

/// Progress of a run, for a status line.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Events processed so far.
    pub events: u64,
    /// Bytes read so far.
    pub bytes: u64,
    /// Incidents open now.
    pub open_incidents: usize,
    /// Time since the run started.
    pub elapsed: Duration,
}

/// Receives what happens during a run. Called from the processor thread:
/// keep it quick.
pub trait RunObserver: Send {
    /// An incident opened, changed or resolved.
    fn incident(&mut self, change: IncidentChange, incident: &Incident);
    /// About once a second.
    fn progress(&mut self, _progress: &Progress) {}
    /// The rules were reloaded; `rules` run from the next batch on.
    fn rules_reloaded(&mut self, _rules: usize) {}
}

/// What one source did.
#[derive(Clone, Debug, Serialize)]
pub struct SourceSummary {
    /// The source's name.
    pub name: String,
    /// Physical lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Files (streams) opened.
    pub files: u64,
    /// Messages dropped because the pipeline was behind (UDP syslog).
    pub dropped: u64,
    /// Connections closed for breaking the protocol (syslog framing, TLS).
    pub protocol_errors: u64,
    /// Followed files that left their path by rotation.
    pub rotations: u64,
    /// Files found truncated or rewritten in place.
    pub truncations: u64,
    /// Times a network source lost its connection and connected again.
    pub reconnects: u64,
    /// What parsing made of the lines.
    #[serde(flatten)]
    pub parsed: ParseCounts,
    /// Why the source stopped early, if it did.
    pub error: Option<String>,
}

/// What a run did, printed at its end.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Per source.
    pub sources: Vec<SourceSummary>,
    /// Events processed and indexed.
    pub events: u64,
    /// Events that could not be parsed (kept as raw text).
    pub parse_errors: u64,
    /// Incidents that opened during the run.
    pub incidents_opened: u64,
    /// Incidents that resolved during the run.
    pub incidents_resolved: u64,
    /// Incidents of this run, oldest first, in their final state.
    pub incidents: Vec<Incident>,
    /// Index commits made.
    pub commits: u64,
    /// Rule reloads applied and rejected.
    pub rule_reloads: RuleReloads,
    /// Sigma rules left out of the rules in force at the end, for parts
    /// firewatch does not support (each logged as a warning at load).
    pub sigma_rules_skipped: usize,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
}

/// Work for the processor thread.
pub(crate) enum Input {
    Batch(Batch),
    /// The named source has sent everything it will send.
    Finished(Arc<str>),
    /// A second passed: report progress; let idle followed sources' time pass.
    Tick,
    /// The index thread wants to commit: wakes an idle processor, which
    /// answers with the detector's state (see [`StateRequest`]).
    StateWanted,
    /// Rules loaded again (see the `reload` module), to run from now on.
    Reload(Arc<RuleSet>),
}

/// Work for the index thread.
enum IndexWork {
    Batch(Processed),
    Incidents(Vec<Incident>),
    /// The detector's state after everything sent before it, as asked by
    /// the index thread; `None` when it could not be serialised (the
    /// commit then stores none, and the next run starts empty).
    RuleState(Option<serde_json::Value>),
}

/// Batches in flight between stages. Small: a batch holds up to a thousand
/// lines, and a deeper queue only adds memory, not throughput.
const CHANNEL_BATCHES: usize = 8;

/// Runs a plan until its sources are exhausted (or, for followed sources,
/// until `shutdown` is cancelled), and returns what it did.
pub async fn run(
    plan: Plan,
    observer: Box<dyn RunObserver>,
    shutdown: CancellationToken,
) -> Result<RunSummary, PipelineError> {
    let started = Instant::now();
    let Plan {
        data_dir,
        sources,
        rules,
        rule_paths,
        rule_files,
        index,
        notify,
    } = plan;

    let writer = {
        let data_dir = data_dir.clone();
        let config = index.config.clone();
        tokio::task::spawn_blocking(move || IndexWriter::open(&data_dir, config))
            .await
            .map_err(|_| PipelineError::Stage("index writer start-up"))??
    };
    let resume = writer.resume_checkpoint().clone();
    let mut processor = Processor::new(
        sources.iter().map(|source| ProcessorSource {
            name: &source.name,
            parser: &source.parser,
            follows: source.follows(),
        }),
        rules,
    );
    let mut restored_open = writer
        .resume_rule_state()
        .map(|state| processor.restore_rule_state(state))
        .unwrap_or_default();
    // A restored pending incident has not opened yet: its firing counts.
    restored_open.retain(|incident| incident.state == IncidentState::Open);
    let restored: HashSet<IncidentId> = restored_open.iter().map(|incident| incident.id).collect();
    // Notifications run on the runtime; the processor hands them changes.
    // They start knowing the incidents still open from before.
    let (notifier, notifications) = match notify {
        Some(plan) => {
            let (notifier, notifications) =
                firewatch_notify::Notifier::start(plan, &data_dir, &restored_open)?;
            (Some(notifier), Some(notifications))
        }
        None => (None, None),
    };
    // Raised by the index thread when it wants to commit.
    let rule_state_wanted = Arc::new(AtomicBool::new(false));

    // Sources, each with its forwarder, and the ticker.
    let (input_tx, input_rx) = mpsc::channel::<Input>(CHANNEL_BATCHES);
    let mut running = Vec::with_capacity(sources.len());
    // Sources that may deliver a record again after it was indexed.
    let mut redelivering = HashSet::new();
    let mut commit_requests = Vec::new();
    let (committed_tx, committed_rx) = watch::channel(resume.clone());
    for source in sources {
        let (batch_tx, batch_rx) = mpsc::channel::<Batch>(2);
        let counters = Arc::new(SourceCounters::default());
        let reader: Box<dyn Source> = match source.input {
            InputPlan::File(config) => Box::new(FileSource::new(config)),
            InputPlan::Stdin {
                max_line_bytes,
                multiline,
            } => Box::new(StdinSource::new(
                source.name.to_string(),
                max_line_bytes,
                multiline,
            )),
            InputPlan::Amqp(config) => Box::new(AmqpSource::new(config)),
            InputPlan::Syslog(config) => Box::new(
                firewatch_ingest::SyslogSource::bind(config).map_err(|error| {
                    PipelineError::Source {
                        name: source.name.to_string(),
                        message: error.to_string(),
                    }
                })?,
            ),
        };
        if reader.redelivers() {
            redelivering.insert(source.name.clone());
        }
        commit_requests.extend(reader.commit_requests());
        tokio::spawn(forward(source.name.clone(), batch_rx, input_tx.clone()));
        let context = SourceContext {
            output: batch_tx,
            resume: resume.clone(),
            shutdown: shutdown.clone(),
            counters: counters.clone(),
            committed: committed_rx.clone(),
        };
        let task = tokio::spawn(reader.run(context));
        running.push((source.name, counters, task));
    }
    let source_count = running.len();
    let state_request = StateRequest {
        wanted: Arc::clone(&rule_state_wanted),
        wake: input_tx.clone(),
    };
    let reloads = tokio::spawn(watch_rules(
        rule_paths,
        rule_files,
        listen_for_hangup(),
        input_tx.clone(),
    ));
    tokio::spawn(tick(input_tx));

    // Index thread.
    let (work_tx, work_rx) = sync_channel::<IndexWork>(CHANNEL_BATCHES);
    let index_data_dir = data_dir.clone();
    let index_thread = std::thread::Builder::new()
        .name("firewatch-index".into())
        .spawn(move || {
            let sources = SourceCommits {
                redelivering,
                commit_requests,
                committed: committed_tx,
            };
            let housekeeping = Housekeeping::new(index_data_dir, index.retention);
            index_loop(
                writer,
                work_rx,
                index,
                resume,
                &sources,
                &state_request,
                housekeeping,
            )
        })
        .map_err(PipelineError::Thread)?;

    // Processor thread.
    let counters: Vec<Arc<SourceCounters>> = running
        .iter()
        .map(|(_, counters, _)| counters.clone())
        .collect();
    let processor_thread = std::thread::Builder::new()
        .name("firewatch-detect".into())
        .spawn({
            let shutdown = shutdown.clone();
            move || {
                let mut lifecycle =
                    Lifecycle::new(observer, counters, started, restored, notifications);
                let finished = process_loop(
                    &mut processor,
                    input_rx,
                    &work_tx,
                    source_count,
                    &mut lifecycle,
                    &rule_state_wanted,
                );
                if finished {
                    // The last commit stores the final state.
                    let _ = work_tx.send(IndexWork::RuleState(rule_state(&processor)));
                }
                drop(work_tx);
                // A failed index thread drops its receiver; stop the sources too.
                shutdown.cancel();
                (processor, lifecycle)
            }
        })
        .map_err(PipelineError::Thread)?;

    let mut source_errors = HashMap::new();
    for (name, _, task) in &mut running {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(source = %name, %error, "source stopped");
                source_errors.insert(name.clone(), error.to_string());
                shutdown.cancel();
            }
            Err(_) => {
                source_errors.insert(name.clone(), "source task panicked".to_owned());
                shutdown.cancel();
            }
        }
    }
    let (processor, mut lifecycle) = tokio::task::spawn_blocking(move || processor_thread.join())
        .await
        .map_err(|_| PipelineError::Stage("processor"))?
        .map_err(|_| PipelineError::Stage("processor"))?;
    // No more changes: the notifier delivers what it has, then stops.
    drop(lifecycle.notifications.take());
    let commits = tokio::task::spawn_blocking(move || index_thread.join())
        .await
        .map_err(|_| PipelineError::Stage("index writer"))?
        .map_err(|_| PipelineError::Stage("index writer"))??;
    let rule_reloads = reloads
        .await
        .map_err(|_| PipelineError::Stage("rule watcher"))?;
    if let Some(notifier) = notifier {
        notifier.finish().await;
    }

    let sources: Vec<SourceSummary> = running
        .iter()
        .map(|(name, counters, _)| {
            let read = counters.snapshot();
            SourceSummary {
                name: name.to_string(),
                lines: read.lines,
                bytes: read.bytes,
                files: read.files,
                dropped: read.dropped,
                protocol_errors: read.protocol_errors,
                rotations: read.rotations,
                truncations: read.truncations,
                reconnects: read.reconnects,
                parsed: processor.counts(name),
                error: source_errors.get(name).cloned(),
            }
        })
        .collect();
    if let Some((name, error)) = source_errors.into_iter().next() {
        return Err(PipelineError::Source {
            name: name.to_string(),
            message: error,
        });
    }
    Ok(RunSummary {
        events: sources.iter().map(|source| source.parsed.events).sum(),
        parse_errors: sources
            .iter()
            .map(|source| source.parsed.parse_errors)
            .sum(),
        sources,
        incidents_opened: lifecycle.opened,
        incidents_resolved: lifecycle.resolved,
        incidents: lifecycle.of_this_run(processor.incidents()),
        commits,
        rule_reloads,
        sigma_rules_skipped: processor.rules().skipped_rules(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Moves one source's batches to the processor, then says it is finished.
async fn forward(name: Arc<str>, mut batches: mpsc::Receiver<Batch>, input: mpsc::Sender<Input>) {
    while let Some(batch) = batches.recv().await {
        if input.send(Input::Batch(batch)).await.is_err() {
            return;
        }
    }
    let _ = input.send(Input::Finished(name)).await;
}

/// A tick every second, so that the processor reports progress and lets
/// time pass while followed sources are idle. Ends with the processor.
async fn tick(input: mpsc::Sender<Input>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                // A full queue means the processor is busy: the tick can wait.
                let _ = input.try_send(Input::Tick);
            }
            _ = input.closed() => return,
        }
    }
}

/// Tracks incident states across batches to tell opened from updated from
/// resolved, and reports to the observer.
struct Lifecycle {
    observer: Box<dyn RunObserver>,
    counters: Vec<Arc<SourceCounters>>,
    started: Instant,
    states: HashMap<IncidentId, IncidentState>,
    /// Incidents open before the run started (restored): their first change
    /// is an update, not an opening.
    restored: HashSet<IncidentId>,
    opened: u64,
    resolved: u64,
    events: u64,
    last_progress: Instant,
    /// Told every change, when the pipeline has receivers.
    notifications: Option<firewatch_notify::Notifications>,
}

impl Lifecycle {
    fn new(
        observer: Box<dyn RunObserver>,
        counters: Vec<Arc<SourceCounters>>,
        started: Instant,
        restored: HashSet<IncidentId>,
        notifications: Option<firewatch_notify::Notifications>,
    ) -> Self {
        Self {
            observer,
            counters,
            started,
            states: HashMap::new(),
            restored,
            opened: 0,
            resolved: 0,
            events: 0,
            last_progress: started,
            notifications,
        }
    }

    fn changed(&mut self, incidents: &[Incident]) {
        for incident in incidents {
            let previous = self.states.insert(incident.id, incident.state).or_else(|| {
                self.restored
                    .contains(&incident.id)
                    .then_some(IncidentState::Open)
            });
            if let Some(notifications) = &mut self.notifications {
                notifications.changed(previous, incident);
            }
            // Only firing counts: a pending incident is not open yet, and
            // one that reopens (flapping) is the same incident again.
            let change = match (previous, incident.state) {
                (None | Some(IncidentState::Pending), IncidentState::Open) => {
                    self.opened += 1;
                    IncidentChange::Opened
                }
                (Some(IncidentState::Open), IncidentState::Resolved) => {
                    self.resolved += 1;
                    IncidentChange::Resolved
                }
                (None | Some(IncidentState::Pending), IncidentState::Resolved) => {
                    // Opened and resolved within one batch.
                    self.opened += 1;
                    self.resolved += 1;
                    self.observer.incident(IncidentChange::Opened, incident);
                    IncidentChange::Resolved
                }
                _ => IncidentChange::Updated,
            };
            self.observer.incident(change, incident);
        }
    }

    fn progress(&mut self, force: bool) {
        if !force && self.last_progress.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_progress = Instant::now();
        let progress = Progress {
            events: self.events,
            bytes: self
                .counters
                .iter()
                .map(|counters| counters.snapshot().bytes)
                .sum(),
            open_incidents: self
                .states
                .values()
                .filter(|state| **state == IncidentState::Open)
                .count(),
            elapsed: self.started.elapsed(),
        };
        self.observer.progress(&progress);
    }

    /// The incidents this run opened or changed.
    fn of_this_run(&self, incidents: Vec<Incident>) -> Vec<Incident> {
        incidents
            .into_iter()
            .filter(|incident| self.states.contains_key(&incident.id))
            .collect()
    }
}

/// Processes the sources' input until every source has finished; after
/// each item, answers the index thread's wish for the detector's state.
/// Returns false when the index thread stopped taking work.
fn process_loop(
    processor: &mut Processor,
    mut input: mpsc::Receiver<Input>,
    output: &SyncSender<IndexWork>,
    mut running_sources: usize,
    lifecycle: &mut Lifecycle,
    rule_state_wanted: &AtomicBool,
) -> bool {
    while running_sources > 0 {
        let Some(work) = input.blocking_recv() else {
            return true;
        };
        let sent = match work {
            Input::Batch(batch) => {
                let processed = processor.process(batch, |_, _| {});
                lifecycle.events += processed.events.len() as u64;
                lifecycle.changed(&processed.incident_changes);
                let sent = output.send(IndexWork::Batch(processed)).is_ok();
                lifecycle.progress(false);
                sent
            }
            Input::Finished(source) => {
                running_sources -= 1;
                send_changes(processor.finish_source(&source), output, lifecycle)
            }
            Input::Tick => {
                lifecycle.progress(true);
                send_changes(processor.idle_tick(Instant::now()), output, lifecycle)
            }
            Input::StateWanted => true,
            Input::Reload(rules) => {
                lifecycle.observer.rules_reloaded(rules.len());
                send_changes(processor.replace_rules(rules), output, lifecycle)
            }
        };
        if !sent {
            return false;
        }
        if rule_state_wanted.swap(false, Ordering::Relaxed)
            && output
                .send(IndexWork::RuleState(rule_state(processor)))
                .is_err()
        {
            return false;
        }
    }
    true
}

/// Reports incident changes and sends them to the index thread; false when
/// it stopped taking work.
fn send_changes(
    changes: Vec<Incident>,
    output: &SyncSender<IndexWork>,
    lifecycle: &mut Lifecycle,
) -> bool {
    if changes.is_empty() {
        return true;
    }
    lifecycle.changed(&changes);
    output.send(IndexWork::Incidents(changes)).is_ok()
}

/// The detector's state to commit; `None` (logged) if it cannot be
/// serialised.
fn rule_state(processor: &Processor) -> Option<serde_json::Value> {
    processor
        .rule_state()
        .inspect_err(|error| {
            tracing::error!(%error, "the rule state cannot be serialised: committing without it");
        })
        .ok()
}

/// What the index thread owes the sources besides indexing their batches.
struct SourceCommits {
    /// Sources that may deliver records again (their batches say when).
    /// Such a source reads one stream at a time (a queue channel), and a
    /// stream it has left is dead: its positions are dropped from the
    /// checkpoint once the next stream has a position, so that the
    /// checkpoint does not grow with every reconnection.
    redelivering: HashSet<Arc<str>>,
    /// Raised by sources that need a commit before the interval is up.
    commit_requests: Vec<Arc<AtomicBool>>,
    /// Where each committed checkpoint is published.
    committed: watch::Sender<Checkpoint>,
}

impl SourceCommits {
    /// Whether a source asked for a commit.
    fn commit_requested(&self) -> bool {
        self.commit_requests
            .iter()
            .any(|request| request.load(Ordering::Relaxed))
    }
}

/// How the index thread asks the processor for the detector's state.
struct StateRequest {
    /// Checked by the processor after each item it handles.
    wanted: Arc<AtomicBool>,
    /// Wakes the processor when it is idle; when its queue is full it is
    /// busy, and sees `wanted` after its current item.
    wake: mpsc::Sender<Input>,
}

impl StateRequest {
    fn ask(&self) {
        if !self.wanted.swap(true, Ordering::Relaxed) {
            let _ = self.wake.try_send(Input::StateWanted);
        }
    }
}

/// Adds what the processor sends to the index and commits on the plan's
/// interval and size, when a source asks, and once more at the end; after
/// each commit, tells the sources. Each commit waits for the detector's
/// state, asked for through `state_request`. Returns the commits made.
fn index_loop(
    mut writer: IndexWriter,
    work: Receiver<IndexWork>,
    plan: IndexPlan,
    mut checkpoint: Checkpoint,
    sources: &SourceCommits,
    state_request: &StateRequest,
    mut housekeeping: Housekeeping,
) -> Result<u64, PipelineError> {
    housekeeping.run();
    let mut commits = 0;
    let mut dirty = false;
    // Asked for a state that has not arrived yet: the batches already on
    // their way must not ask again, or each answer would make a commit of
    // its own.
    let mut awaiting_state = false;
    let ask_for_state = |awaiting_state: &mut bool| {
        if !*awaiting_state {
            state_request.ask();
            *awaiting_state = true;
        }
    };
    let mut next_commit = Instant::now() + plan.commit_interval;
    loop {
        let wait = next_commit.saturating_duration_since(Instant::now());
        match work.recv_timeout(wait) {
            Ok(IndexWork::Batch(processed)) => {
                for tagged in &processed.events {
                    writer.add_event(&tagged.event, &tagged.incidents, processed.redelivered)?;
                }
                for incident in &processed.incident_changes {
                    writer.upsert_incident(incident)?;
                }
                if let Some(position) = processed.position {
                    if sources.redelivering.contains(&processed.source) {
                        let dead: Vec<String> = checkpoint
                            .streams(&processed.source)
                            .filter(|old| old.stream != position.stream)
                            .map(|old| old.stream.clone())
                            .collect();
                        for stream in dead {
                            checkpoint.remove(&processed.source, &stream);
                        }
                    }
                    checkpoint.advance(&processed.source, position);
                }
                dirty = true;
                if writer.pending_documents() >= plan.commit_documents || sources.commit_requested()
                {
                    ask_for_state(&mut awaiting_state);
                }
            }
            Ok(IndexWork::Incidents(incidents)) => {
                for incident in &incidents {
                    writer.upsert_incident(incident)?;
                }
                dirty = true;
            }
            Ok(IndexWork::RuleState(rule_state)) => {
                awaiting_state = false;
                if dirty {
                    commit(&mut writer, &checkpoint, rule_state.as_ref(), sources)?;
                    commits += 1;
                    dirty = false;
                    housekeeping.run_if_due();
                }
                next_commit = Instant::now() + plan.commit_interval;
            }
            Err(RecvTimeoutError::Timeout) => {
                if dirty {
                    ask_for_state(&mut awaiting_state);
                }
                next_commit = Instant::now() + plan.commit_interval;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if dirty {
        // The processor stopped without its last state: the positions are
        // stored without one, so the next run starts with empty windows
        // rather than with a state that misses the last events.
        commit(&mut writer, &checkpoint, None, sources)?;
        commits += 1;
    }
    Ok(commits)
}

/// Retention: removes day indexes that have aged out. It runs on the index
/// thread, between commits, so the writer never opens a day while it is
/// being removed (and the removal skips any day a writer holds locked).
struct Housekeeping {
    data_dir: PathBuf,
    retention: Option<jiff::SignedDuration>,
    last_run: Instant,
}

impl Housekeeping {
    /// Days age out slowly: looking once an hour is plenty.
    const EVERY: Duration = Duration::from_secs(3600);

    fn new(data_dir: PathBuf, retention: Option<jiff::SignedDuration>) -> Self {
        Self {
            data_dir,
            retention,
            last_run: Instant::now(),
        }
    }

    fn run_if_due(&mut self) {
        if self.last_run.elapsed() >= Self::EVERY {
            self.run();
        }
    }

    fn run(&mut self) {
        self.last_run = Instant::now();
        let Some(retention) = self.retention else {
            return;
        };
        let Ok(cutoff) = jiff::Timestamp::now().checked_sub(retention) else {
            return;
        };
        match firewatch_index::retention::remove_days_older_than(&self.data_dir, cutoff) {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(days = ?removed, %cutoff, "removed day indexes past retention");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "retention could not remove old day indexes"),
        }
    }
}

/// Commits, then tells the sources what is now durable. The commit answers
/// every request made before it.
fn commit(
    writer: &mut IndexWriter,
    checkpoint: &Checkpoint,
    rule_state: Option<&serde_json::Value>,
    sources: &SourceCommits,
) -> Result<(), PipelineError> {
    for request in &sources.commit_requests {
        request.store(false, Ordering::Relaxed);
    }
    match rule_state {
        Some(rule_state) => writer.commit_with_rule_state(checkpoint, rule_state)?,
        None => writer.commit(checkpoint)?,
    }
    sources.committed.send_replace(checkpoint.clone());
    Ok(())
}

#[cfg(test)]
mod lifecycle_tests {
    use std::sync::Mutex;

    use firewatch_event::{Event, EventId, Timestamp};
    use firewatch_rules::{Detector, RuleSet};

    use super::*;

    /// Keeps the changes told, for the test to read.
    struct Changes(Arc<Mutex<Vec<IncidentChange>>>);

    impl RunObserver for Changes {
        fn incident(&mut self, change: IncidentChange, _incident: &Incident) {
            self.0.lock().unwrap().push(change);
        }
    }

    fn fail(offset: i64) -> Event {
        let time = Timestamp::from_second(1_700_000_000 + offset).unwrap();
        let mut event = Event::new(EventId(offset.unsigned_abs()), "app".into(), time);
        event.message = "login failed".into();
        event
    }

    #[test]
    fn pending_and_reopening_are_not_counted_as_opened() {
        let rules = RuleSet::from_yaml(
            "id: r\ntitle: R\nseverity: low\nmatch: { any: [failed] }\n\
             resolve_after: 1m\nfor: 1m\nflap: { count: 5, within: 10m }\n",
            "t.yml",
        )
        .unwrap();
        let mut detector = Detector::new(Arc::new(rules));
        let told = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let mut lifecycle = Lifecycle::new(
            Box::new(Changes(Arc::clone(&told))),
            Vec::new(),
            started,
            HashSet::new(),
            None,
        );
        let mut out = Vec::new();
        // Pending, then firing, resolving, and reopening twice.
        for (offset, then) in [(0, None), (30, None), (60, Some(200)), (300, Some(400))] {
            detector.observe(&fail(offset), &mut out);
            lifecycle.changed(&detector.take_changes());
            if let Some(then) = then {
                detector.advance_to(fail(then).time());
                lifecycle.changed(&detector.take_changes());
            }
        }
        detector.observe(&fail(450), &mut out);
        lifecycle.changed(&detector.take_changes());
        assert_eq!((lifecycle.opened, lifecycle.resolved), (1, 2));
        assert_eq!(
            *told.lock().unwrap(),
            [
                IncidentChange::Opened,
                IncidentChange::Resolved,
                IncidentChange::Updated,
                IncidentChange::Resolved,
                IncidentChange::Updated,
            ]
        );
    }
}
