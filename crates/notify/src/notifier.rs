//! The notifier: from incident changes on the detector's thread to
//! deliveries on the async runtime.
//!
//! ```text
//! processor thread ──Notice──> dispatcher task ──Job──> one worker task per receiver
//!  (Notifications)   try_send   silences, inhibition,    try_send   attempts, backoff,
//!                    bounded    re-notify timer                     deliveries file
//! ```
//!
//! The processor never waits: [`Notifications::changed`] only `try_send`s,
//! and counts what a full queue drops. The dispatcher decides, per receiver,
//! whether a notice is sent or suppressed (recording the suppression). Each
//! receiver has its own worker, so a slow or failing receiver delays only
//! its own notifications, which stay in order (an incident's resolution
//! never overtakes its firing). Every attempt is appended to the
//! deliveries file as it ends.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use firewatch_event::{
    Delivery, DeliveryOutcome, Incident, IncidentId, IncidentState, NotifyReason, Severity,
    Timestamp,
};
use reqwest::Client;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::NotifyError;
use crate::config::{NotifyPlan, ReceiverPlan};
use crate::deliveries::{DeliveryLog, read_deliveries};
use crate::inhibit::Inhibitor;
use crate::matcher::incident_labels;
use crate::retry::RetryPolicy;
use crate::send;
use crate::silence::{SilenceCache, SilenceStore};

/// Notices waiting for the dispatcher. A notice is a notable change (fired,
/// escalated, resolved), not every update, so this is plenty.
const NOTICE_QUEUE: usize = 1024;
/// Notifications waiting for one receiver.
const RECEIVER_QUEUE: usize = 256;

/// Something worth telling the receivers.
struct Notice {
    reason: NotifyReason,
    incident: Arc<Incident>,
}

/// The detector's side of the notifier: told every incident change, it
/// picks out what is worth a notification and hands it over without
/// waiting. Owned by the thread that runs the detector.
pub struct Notifications {
    notices: mpsc::Sender<Notice>,
    /// Severity last seen of each open incident, to tell an escalation.
    severities: HashMap<IncidentId, Severity>,
    dropped: Arc<AtomicU64>,
}

impl Notifications {
    /// An incident changed; `previous` is the state it was known in before
    /// (`None`: never seen; an incident open before a restart is known as
    /// open). Fired: it opened, or reopened after resolving; escalated: its
    /// severity rose while open; resolved: it resolved.
    pub fn changed(&mut self, previous: Option<IncidentState>, incident: &Incident) {
        use IncidentState::{Open, Pending, Resolved};
        let mut reasons: &[NotifyReason] = &[];
        match (previous, incident.state) {
            (None | Some(Pending) | Some(Resolved), Open) => reasons = &[NotifyReason::Fired],
            (Some(Open), Resolved) => reasons = &[NotifyReason::Resolved],
            // Opened and resolved between two looks.
            (None | Some(Pending), Resolved) => {
                reasons = &[NotifyReason::Fired, NotifyReason::Resolved];
            }
            (Some(Open), Open) => {
                let known = self.severities.get(&incident.id);
                if known.is_some_and(|known| incident.severity > *known) {
                    reasons = &[NotifyReason::Escalated];
                }
            }
            _ => {}
        }
        if incident.state == Open {
            self.severities.insert(incident.id, incident.severity);
        } else {
            self.severities.remove(&incident.id);
        }
        if reasons.is_empty() {
            return;
        }
        let latest = Arc::new(incident.clone());
        for reason in reasons {
            let incident = if *reason == NotifyReason::Fired && incident.state == Resolved {
                // It fired before it resolved: tell of the firing as it was.
                let mut fired = incident.clone();
                fired.state = Open;
                fired.resolved_at = None;
                Arc::new(fired)
            } else {
                Arc::clone(&latest)
            };
            let notice = Notice {
                reason: *reason,
                incident,
            };
            if self.notices.try_send(notice).is_err() {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    incident = %latest.id,
                    reason = ?reason,
                    dropped,
                    "the notifier is behind: notification dropped"
                );
            }
        }
    }
}

/// The running notifier's tasks, to wait for at the end.
pub struct Notifier {
    dispatcher: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
    shutdown_timeout: Duration,
    dropped: Arc<AtomicU64>,
}

impl Notifier {
    /// Starts the dispatcher and one worker per receiver on the current
    /// tokio runtime; returns them and the handle for the detector's
    /// thread. Deliveries are recorded and silences read under `data_dir`.
    pub fn start(plan: NotifyPlan, data_dir: &Path) -> Result<(Self, Notifications), NotifyError> {
        let log = Arc::new(DeliveryLog::open(data_dir)?);
        let client = Client::builder()
            .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| NotifyError::Client(error.to_string()))?;
        let mut workers = Vec::with_capacity(plan.receivers.len());
        let mut queues = Vec::with_capacity(plan.receivers.len());
        for receiver in plan.receivers {
            let receiver = Arc::new(receiver);
            let (jobs_tx, jobs_rx) = mpsc::channel(RECEIVER_QUEUE);
            workers.push(tokio::spawn(work(
                Arc::clone(&receiver),
                client.clone(),
                plan.retry,
                jobs_rx,
                Arc::clone(&log),
            )));
            queues.push((receiver, jobs_tx));
        }
        let (notices_tx, notices_rx) = mpsc::channel(NOTICE_QUEUE);
        let dispatcher = Dispatcher {
            receivers: queues,
            silences: SilenceCache::new(SilenceStore::new(data_dir)),
            inhibitor: Inhibitor::new(plan.inhibit),
            open: HashMap::new(),
            renotify_interval: plan.renotify_interval,
            unannounced: unannounced(&read_deliveries(data_dir, None)?),
            log,
        };
        let dropped = Arc::new(AtomicU64::new(0));
        let notifier = Notifier {
            dispatcher: tokio::spawn(dispatcher.run(notices_rx)),
            workers,
            shutdown_timeout: plan.shutdown_timeout,
            dropped: Arc::clone(&dropped),
        };
        let handle = Notifications {
            notices: notices_tx,
            severities: HashMap::new(),
            dropped,
        };
        Ok((notifier, handle))
    }

    /// Waits, at most the plan's shutdown timeout, for the notifications
    /// already handed over to be delivered (or given up); call it after
    /// dropping the [`Notifications`] handle. Deliveries still in flight
    /// then are abandoned, with a warning.
    pub async fn finish(self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "notifications dropped because the notifier was behind"
            );
        }
        let mut tasks = self.workers;
        tasks.push(self.dispatcher);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(self.shutdown_timeout, all)
            .await
            .is_err()
        {
            tracing::warn!(
                timeout = ?self.shutdown_timeout,
                "notifications still in flight at shutdown were abandoned"
            );
            for abort in aborts {
                abort.abort();
            }
        }
    }
}

/// A notification for one receiver.
struct Job {
    reason: NotifyReason,
    incident: Arc<Incident>,
}

/// Decides, per notice and receiver, whether to send or to suppress.
struct Dispatcher {
    receivers: Vec<(Arc<ReceiverPlan>, mpsc::Sender<Job>)>,
    silences: SilenceCache,
    inhibitor: Inhibitor,
    /// Open incidents and when they were last notified, for re-notifying.
    open: HashMap<IncidentId, (Arc<Incident>, Instant)>,
    renotify_interval: Option<Duration>,
    /// Incidents whose firing was suppressed, and by what: their
    /// resolution is suppressed by the same, since nobody was told they
    /// fired (as Alertmanager does not send a resolution alone).
    unannounced: HashMap<IncidentId, String>,
    log: Arc<DeliveryLog>,
}

impl Dispatcher {
    async fn run(mut self, mut notices: mpsc::Receiver<Notice>) {
        // Re-notifying is checked once a second (or more often for a
        // shorter interval), which is precise enough for intervals of hours.
        let period = self
            .renotify_interval
            .map_or(Duration::from_secs(3600), |interval| {
                interval.min(Duration::from_secs(1))
            });
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(notice) => self.notice(notice),
                    None => return,
                },
                _ = ticker.tick() => self.renotify(),
            }
        }
    }

    fn notice(&mut self, notice: Notice) {
        let incident = &notice.incident;
        self.inhibitor.update(incident);
        if incident.state == IncidentState::Open {
            self.open
                .insert(incident.id, (Arc::clone(incident), Instant::now()));
        } else {
            self.open.remove(&incident.id);
        }
        self.dispatch(notice.reason, incident);
    }

    fn renotify(&mut self) {
        let Some(interval) = self.renotify_interval else {
            return;
        };
        let now = Instant::now();
        let due: Vec<Arc<Incident>> = self
            .open
            .values_mut()
            .filter(|(_, last)| now.duration_since(*last) >= interval)
            .map(|(incident, last)| {
                *last = now;
                Arc::clone(incident)
            })
            .collect();
        for incident in due {
            self.dispatch(NotifyReason::Renotify, &incident);
        }
    }

    /// Hands the notification to every receiver that wants it, or records
    /// why it was not sent.
    fn dispatch(&mut self, reason: NotifyReason, incident: &Arc<Incident>) {
        let now = Timestamp::now();
        let labels = incident_labels(incident);
        let suppressed_by = self
            .silences
            .current()
            .iter()
            .find(|silence| silence.silences(&labels, now))
            .map(|silence| silence.id.clone())
            .or_else(|| {
                self.inhibitor
                    .inhibited_by(incident)
                    .map(|id| id.to_string())
            });
        let suppressed_by = match (reason, suppressed_by) {
            (NotifyReason::Resolved, by) => {
                let unannounced = self.unannounced.remove(&incident.id);
                by.or(unannounced)
            }
            (NotifyReason::Fired, Some(by)) => {
                self.unannounced.insert(incident.id, by.clone());
                Some(by)
            }
            (_, Some(by)) => Some(by),
            // Told now, so a later resolution is news.
            (_, None) => {
                self.unannounced.remove(&incident.id);
                None
            }
        };
        for (receiver, jobs) in &self.receivers {
            if !wants(receiver, incident) {
                continue;
            }
            let outcome = match &suppressed_by {
                Some(by) => DeliveryOutcome::Suppressed { by: by.clone() },
                None => {
                    let job = Job {
                        reason,
                        incident: Arc::clone(incident),
                    };
                    match jobs.try_send(job) {
                        Ok(()) => continue,
                        Err(_) => DeliveryOutcome::GaveUp {
                            error: format!(
                                "{RECEIVER_QUEUE} notifications were already waiting for this receiver"
                            ),
                        },
                    }
                }
            };
            self.log
                .append(&record(&receiver.name, reason, incident, 0, outcome));
        }
    }
}

/// The incidents whose firing was suppressed and that have not resolved
/// since, from the deliveries recorded before (by an earlier run).
fn unannounced(deliveries: &[Delivery]) -> HashMap<IncidentId, String> {
    let mut unannounced = HashMap::new();
    for delivery in deliveries {
        match (&delivery.outcome, delivery.reason) {
            (DeliveryOutcome::Suppressed { by }, NotifyReason::Fired) => {
                unannounced.insert(delivery.incident, by.clone());
            }
            (
                DeliveryOutcome::Suppressed { .. },
                NotifyReason::Escalated | NotifyReason::Renotify,
            ) => {}
            // Resolved, or someone was told.
            _ => {
                unannounced.remove(&delivery.incident);
            }
        }
    }
    unannounced
}

/// Whether a receiver's filter lets the incident through.
fn wants(receiver: &ReceiverPlan, incident: &Incident) -> bool {
    receiver
        .min_severity
        .is_none_or(|min| incident.severity >= min)
        && (receiver.rules.is_empty() || receiver.rules.contains(&incident.rule))
}

fn record(
    receiver: &str,
    reason: NotifyReason,
    incident: &Incident,
    attempt: u32,
    outcome: DeliveryOutcome,
) -> Delivery {
    Delivery {
        at: Timestamp::now(),
        incident: incident.id,
        rule: incident.rule.clone(),
        receiver: receiver.to_owned(),
        reason,
        attempt,
        outcome,
    }
}

/// Delivers one receiver's notifications in order, each with its retries.
async fn work(
    receiver: Arc<ReceiverPlan>,
    client: Client,
    retry: RetryPolicy,
    mut jobs: mpsc::Receiver<Job>,
    log: Arc<DeliveryLog>,
) {
    while let Some(job) = jobs.recv().await {
        let mut attempt = 1;
        loop {
            let result = send::attempt(&receiver, &client, job.reason, &job.incident).await;
            let (outcome, delay) = match result {
                Ok(()) => (DeliveryOutcome::Delivered, None),
                Err(failure) => match retry.delay_after(attempt).filter(|_| failure.retryable) {
                    Some(delay) => (
                        DeliveryOutcome::Failed {
                            error: failure.error,
                        },
                        Some(delay),
                    ),
                    None => (
                        DeliveryOutcome::GaveUp {
                            error: failure.error,
                        },
                        None,
                    ),
                },
            };
            log.append(&record(
                &receiver.name,
                job.reason,
                &job.incident,
                attempt,
                outcome,
            ));
            let Some(delay) = delay else { break };
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::incident;

    fn handle() -> (Notifications, mpsc::Receiver<Notice>) {
        let (notices, receiver) = mpsc::channel(4);
        (
            Notifications {
                notices,
                severities: HashMap::new(),
                dropped: Arc::new(AtomicU64::new(0)),
            },
            receiver,
        )
    }

    fn reasons(receiver: &mut mpsc::Receiver<Notice>) -> Vec<NotifyReason> {
        std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|notice| notice.reason)
            .collect()
    }

    #[test]
    fn changes_become_fired_escalated_and_resolved() {
        use IncidentState::{Open, Pending, Resolved};
        let (mut notifications, mut notices) = handle();
        let mut seen = incident("r", &[]);
        seen.state = Pending;
        notifications.changed(None, &seen);
        assert_eq!(reasons(&mut notices), []);
        seen.state = Open;
        notifications.changed(Some(Pending), &seen);
        notifications.changed(Some(Open), &seen);
        assert_eq!(reasons(&mut notices), [NotifyReason::Fired]);
        seen.severity = Severity::Critical;
        notifications.changed(Some(Open), &seen);
        notifications.changed(Some(Open), &seen);
        assert_eq!(reasons(&mut notices), [NotifyReason::Escalated]);
        seen.state = Resolved;
        notifications.changed(Some(Open), &seen);
        assert_eq!(reasons(&mut notices), [NotifyReason::Resolved]);
        // Reopening fires again.
        seen.state = Open;
        notifications.changed(Some(Resolved), &seen);
        assert_eq!(reasons(&mut notices), [NotifyReason::Fired]);
        // Open and resolved between two looks: both.
        let mut quick = incident("q", &[]);
        quick.state = Resolved;
        notifications.changed(None, &quick);
        let told: Vec<_> = std::iter::from_fn(|| notices.try_recv().ok())
            .map(|notice| (notice.reason, notice.incident.state))
            .collect();
        assert_eq!(
            told,
            [
                (NotifyReason::Fired, Open),
                (NotifyReason::Resolved, Resolved)
            ]
        );
        // An incident open before a restart: its first change is no news,
        // and its severity is learnt then.
        let mut restored = incident("s", &[]);
        restored.state = Open;
        notifications.changed(Some(Open), &restored);
        assert_eq!(reasons(&mut notices), []);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (mut notifications, mut notices) = handle();
        for index in 0..6 {
            let mut open = incident(&format!("r{index}"), &[]);
            open.state = IncidentState::Open;
            notifications.changed(None, &open);
        }
        assert_eq!(notifications.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(reasons(&mut notices).len(), 4);
    }

    #[test]
    fn suppressed_firings_are_remembered_from_the_deliveries_file() {
        let delivery = |incident, reason, outcome| Delivery {
            at: Timestamp::now(),
            incident: IncidentId(incident),
            rule: "r".into(),
            receiver: "hook".into(),
            reason,
            attempt: 0,
            outcome,
        };
        let by = |by: &str| DeliveryOutcome::Suppressed { by: by.into() };
        let remembered = unannounced(&[
            delivery(1, NotifyReason::Fired, by("silence")),
            delivery(2, NotifyReason::Fired, by("000000000000000a")),
            delivery(2, NotifyReason::Resolved, by("000000000000000a")),
            delivery(3, NotifyReason::Fired, by("silence")),
            delivery(3, NotifyReason::Renotify, DeliveryOutcome::Delivered),
        ]);
        assert_eq!(
            remembered,
            HashMap::from([(IncidentId(1), "silence".to_owned())])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn open_incidents_are_renotified_every_interval_until_they_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let (jobs_tx, mut jobs) = mpsc::channel(8);
        let receiver = Arc::new(ReceiverPlan {
            name: "hook".into(),
            target: crate::config::ReceiverTarget::Command {
                program: "true".into(),
                args: Vec::new(),
            },
            timeout: Duration::from_secs(1),
            min_severity: None,
            rules: Vec::new(),
        });
        let mut dispatcher = Dispatcher {
            receivers: vec![(receiver, jobs_tx)],
            silences: SilenceCache::new(SilenceStore::new(dir.path())),
            inhibitor: Inhibitor::new(Vec::new()),
            open: HashMap::new(),
            renotify_interval: Some(Duration::from_secs(3600)),
            unannounced: HashMap::new(),
            log: Arc::new(DeliveryLog::open(dir.path()).unwrap()),
        };
        let mut told = || {
            std::iter::from_fn(|| jobs.try_recv().ok())
                .map(|job| job.reason)
                .collect::<Vec<_>>()
        };
        let open = Arc::new(incident("r", &[]));
        dispatcher.notice(Notice {
            reason: NotifyReason::Fired,
            incident: Arc::clone(&open),
        });
        assert_eq!(told(), [NotifyReason::Fired]);
        tokio::time::advance(Duration::from_secs(59 * 60)).await;
        dispatcher.renotify();
        assert_eq!(told(), []);
        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        dispatcher.renotify();
        dispatcher.renotify();
        assert_eq!(told(), [NotifyReason::Renotify]);
        let mut resolved = (*open).clone();
        resolved.state = IncidentState::Resolved;
        dispatcher.notice(Notice {
            reason: NotifyReason::Resolved,
            incident: Arc::new(resolved),
        });
        tokio::time::advance(Duration::from_secs(2 * 3600)).await;
        dispatcher.renotify();
        assert_eq!(told(), [NotifyReason::Resolved]);
    }

    #[test]
    fn receiver_filters_pick_severity_and_rules() {
        let receiver = |min_severity, rules: &[&str]| ReceiverPlan {
            name: "r".into(),
            target: crate::config::ReceiverTarget::Command {
                program: "true".into(),
                args: Vec::new(),
            },
            timeout: Duration::from_secs(1),
            min_severity,
            rules: rules.iter().map(|rule| rule.to_string()).collect(),
        };
        let high = incident("db-down", &[]);
        assert!(wants(&receiver(None, &[]), &high));
        assert!(wants(&receiver(Some(Severity::High), &["db-down"]), &high));
        assert!(!wants(&receiver(Some(Severity::Critical), &[]), &high));
        assert!(!wants(&receiver(None, &["disk-full"]), &high));
    }
}
