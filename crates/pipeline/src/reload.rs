//! Reloading rules while a pipeline runs.
//!
//! A watcher task looks at the rule files every [`POLL_EVERY`]: when a file
//! under the pipeline's rules paths was added, removed, renamed or written
//! (a [`RuleFilesStamp`] differs), or when the process gets SIGHUP, it
//! loads the rules again. Loading and compiling happen here, on a blocking
//! thread of the runtime, never on the processor's thread, so detection
//! does not stall while a large rule pack compiles.
//!
//! - An invalid change (a YAML error, a bad regex, a duplicate id, a file
//!   that cannot be read) is logged with every problem at
//!   `file:line:column` and counted; the old rules stay in force, and the
//!   next change is tried again.
//! - Sigma rules that use parts firewatch does not support are skipped,
//!   each logged as a warning, and the others load (`RuleSet::warnings`).
//! - A valid change goes to the processor as one more item of its input, so
//!   it takes effect between two batches, and the detector's state saved
//!   with each commit is always that of one rule set after exactly the
//!   batches committed. The processor keeps what it learnt for the rules
//!   whose definition did not change (`Detector::replace_rules`).
//!
//! Polling metadata every two seconds costs a few `stat` calls, needs no
//! platform watcher, and sees changes on network filesystems and through
//! symlink swaps (as done by configuration management) alike. An editor
//! that writes a file in several steps may be caught halfway: that shows as
//! an invalid change, and the finished file is loaded on the next poll.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use firewatch_rules::{RuleFilesStamp, RuleSet};
use serde::Serialize;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use crate::run::Input;

/// How often the rule files' metadata is compared.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(2);

/// What reloading did during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleReloads {
    /// Rule sets loaded again and handed to the processor.
    pub applied: u64,
    /// Changes rejected because the rules did not load (the old rules
    /// stayed in force).
    pub failed: u64,
}

/// The SIGHUP listener, installed before the run starts so that a signal
/// sent once the run shows output cannot end the process instead. `None`
/// (logged) when it cannot be installed: the files are still watched.
pub(crate) fn listen_for_hangup() -> Option<Signal> {
    signal(SignalKind::hangup())
        .inspect_err(|error| {
            tracing::warn!(%error, "cannot listen for SIGHUP: rules reload on file changes only");
        })
        .ok()
}

/// Watches the rules under `paths` and sends each valid new rule set to the
/// processor, until the processor's input closes. `loaded` is the stamp of
/// the files the running rules came from.
pub(crate) async fn watch_rules(
    paths: Vec<PathBuf>,
    loaded: RuleFilesStamp,
    mut hangup: Option<Signal>,
    input: mpsc::Sender<Input>,
) -> RuleReloads {
    let mut reloads = RuleReloads::default();
    let mut stamp = loaded;
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    poll.tick().await;
    loop {
        let cause = tokio::select! {
            _ = poll.tick() => "rule files changed",
            Some(()) = recv(&mut hangup) => "SIGHUP",
            _ = input.closed() => return reloads,
        };
        let Some(now) = blocking(&paths, RuleFilesStamp::read).await else {
            return reloads;
        };
        if cause != "SIGHUP" && now == stamp {
            continue;
        }
        // Stamped before loading: a change made while loading is seen by
        // the next poll.
        stamp = now;
        let Some(loaded) = blocking(&paths, RuleSet::load).await else {
            return reloads;
        };
        match loaded {
            Ok(rules) => {
                warn_of_skipped(&rules);
                let count = rules.len();
                if input.send(Input::Reload(Arc::new(rules))).await.is_err() {
                    return reloads;
                }
                reloads.applied += 1;
                tracing::info!(rules = count, cause, "rules reloaded");
            }
            Err(error) => {
                reloads.failed += 1;
                tracing::error!(
                    cause,
                    "rules not reloaded, the rules in force stay:\n{error}"
                );
            }
        }
    }
}

/// Logs the Sigma rules that were skipped (each unsupported part at its
/// `file:line:column`), so that they are not left out in silence.
pub(crate) fn warn_of_skipped(rules: &RuleSet) {
    for warning in rules.warnings() {
        tracing::warn!("{warning}");
    }
    let skipped = rules.skipped_rules();
    if skipped > 0 {
        let plural = |count: usize| if count == 1 { "" } else { "s" };
        tracing::warn!(
            "{skipped} sigma rule{} skipped; {} rule{} loaded",
            plural(skipped),
            rules.len(),
            plural(rules.len())
        );
    }
}

/// Runs `work` on the rules paths on a blocking thread; `None` when the
/// runtime is shutting down.
async fn blocking<T: Send + 'static>(
    paths: &[PathBuf],
    work: impl FnOnce(&[PathBuf]) -> T + Send + 'static,
) -> Option<T> {
    let paths = paths.to_vec();
    tokio::task::spawn_blocking(move || work(&paths)).await.ok()
}

/// The next SIGHUP; never, without a listener.
async fn recv(hangup: &mut Option<Signal>) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
