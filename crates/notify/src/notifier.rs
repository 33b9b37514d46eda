//! The notifier: from incident changes on the detector's thread to
//! deliveries on the async runtime.
//!
//! ```text
//! processor thread ──change──> queue ──> dispatcher task ──Job──> one worker task per receiver
//!  (Notifications)          coalesced     silences, inhibition,    try_send   attempts, backoff,
//!                          per incident   re-notify timer                     deliveries file
//! ```
//!
//! The processor never waits for the notifier: [`Notifications::changed`]
//! puts the change in a queue that keeps, per incident, only what the
//! dispatcher still needs (see [`Queue`]), so it holds at most one entry
//! per incident and nothing is ever dropped. The dispatcher decides, per
//! notification and receiver, whether it is sent or suppressed (recording
//! the suppression). Each receiver has its own worker, so a slow or
//! failing receiver delays only its own notifications, which stay in order
//! (an incident's resolution never overtakes its firing). Every attempt is
//! appended to the deliveries file as it ends.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use firewatch_event::{
    Delivery, DeliveryOutcome, Incident, IncidentId, IncidentState, NotifyReason, Severity,
    Timestamp,
};
use reqwest::Client;
use tokio::sync::{Notify, mpsc};
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

/// Notifications waiting for one receiver.
const RECEIVER_QUEUE: usize = 256;
/// How often open incidents are checked for re-notifying: precise enough
/// for intervals of a second and more.
const RENOTIFY_CHECK: Duration = Duration::from_secs(1);

/// Something worth telling the receivers, with the incident as it was then.
struct Notice {
    reason: NotifyReason,
    incident: Arc<Incident>,
}

/// What waits for the dispatcher about one incident.
struct Waiting {
    /// Notable changes in order; at most two (see [`Queue::push`]).
    notices: Vec<Notice>,
    /// The incident's latest state, after plain updates too: what
    /// re-notifying sends and inhibition looks at.
    latest: Arc<Incident>,
}

/// Incident changes the dispatcher has not taken yet.
///
/// A bounded channel of notices would have to drop some when the
/// dispatcher falls behind, and a dropped resolution would leave the
/// incident open in the notifier for good. Instead the changes are
/// coalesced per incident: the dispatcher only needs each incident's
/// latest state and the notable changes it has not told yet, which fold
/// into at most two notices per incident. So the queue is bounded by the
/// detector's number of incidents, and nothing is lost.
#[derive(Default)]
struct Queue {
    /// Incidents with something waiting, in the order they first changed.
    order: Vec<IncidentId>,
    waiting: HashMap<IncidentId, Waiting>,
}

impl Queue {
    /// Notes a change of `latest`, and the notice it makes, if any.
    /// Notices fold: a reopening cancels a resolution not yet told
    /// (receivers still know the incident as firing), and an escalation
    /// updates a firing or escalation not yet told (it is told at the new
    /// severity), so that an incident never has more than a firing or an
    /// escalation followed by a resolution waiting.
    fn push(&mut self, latest: Arc<Incident>, notice: Option<Notice>) {
        use NotifyReason::{Escalated, Fired, Resolved};
        let waiting = self.waiting.entry(latest.id).or_insert_with(|| {
            self.order.push(latest.id);
            Waiting {
                notices: Vec::new(),
                latest: Arc::clone(&latest),
            }
        });
        waiting.latest = latest;
        let Some(notice) = notice else { return };
        let notices = &mut waiting.notices;
        match (notice.reason, notices.last().map(|last| last.reason)) {
            (Fired, Some(Resolved)) => {
                notices.pop();
                if let Some(last) = notices.last_mut() {
                    last.incident = notice.incident;
                }
            }
            (Escalated, Some(Fired | Escalated)) => {
                if let Some(last) = notices.last_mut() {
                    last.incident = notice.incident;
                }
            }
            _ => notices.push(notice),
        }
    }
}

/// The queue between the detector's thread and the dispatcher.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the dispatcher when there is something in the queue.
    wake: Notify,
    /// The detector's handle is gone: nothing more will come.
    closed: AtomicBool,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The detector's side of the notifier: told every incident change, it
/// picks out what is worth a notification and hands it over without
/// waiting. Owned by the thread that runs the detector.
pub struct Notifications {
    shared: Arc<Shared>,
    /// Severity last seen of each open incident, to tell an escalation.
    severities: HashMap<IncidentId, Severity>,
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
        let latest = Arc::new(incident.clone());
        let mut queue = self.shared.queue();
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
            queue.push(
                Arc::clone(&latest),
                Some(Notice {
                    reason: *reason,
                    incident,
                }),
            );
        }
        if reasons.is_empty() {
            queue.push(latest, None);
        }
        drop(queue);
        self.shared.wake.notify_one();
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// The running notifier's tasks, to wait for at the end.
pub struct Notifier {
    dispatcher: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
    shutdown_timeout: Duration,
}

impl Notifier {
    /// Starts the dispatcher and one worker per receiver on the current
    /// tokio runtime; returns them and the handle for the detector's
    /// thread. Deliveries are recorded and silences read under `data_dir`.
    ///
    /// `restored` are the incidents open when the previous run stopped:
    /// they inhibit, are re-notified and escalate as if this run had seen
    /// them open. One whose firing the deliveries file records (sent or
    /// suppressed) is not announced again; one it does not (the previous
    /// run stopped before telling it, or had no receivers) fires now, as
    /// Alertmanager notifies of alerts its notification log has no record of.
    pub fn start(
        plan: NotifyPlan,
        data_dir: &Path,
        restored: &[Incident],
    ) -> Result<(Self, Notifications), NotifyError> {
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
        let mut dispatcher = Dispatcher {
            receivers: queues,
            silences: SilenceCache::new(SilenceStore::new(data_dir)),
            inhibitor: Inhibitor::new(plan.inhibit),
            open: HashMap::new(),
            renotify_interval: plan.renotify_interval,
            told: told(&read_deliveries(data_dir, None)?),
            log,
        };
        let shared = Arc::new(Shared::default());
        let mut handle = Notifications {
            shared: Arc::clone(&shared),
            severities: HashMap::new(),
        };
        for incident in restored
            .iter()
            .filter(|incident| incident.state == IncidentState::Open)
        {
            handle.severities.insert(incident.id, incident.severity);
            let incident = Arc::new(incident.clone());
            match dispatcher.told.get(&incident.id).map(|told| told.at) {
                Some(told_at) => dispatcher.restore(incident, told_at),
                None => shared.queue().push(
                    Arc::clone(&incident),
                    Some(Notice {
                        reason: NotifyReason::Fired,
                        incident,
                    }),
                ),
            }
        }
        shared.wake.notify_one();
        let notifier = Notifier {
            dispatcher: tokio::spawn(dispatcher.run(shared)),
            workers,
            shutdown_timeout: plan.shutdown_timeout,
        };
        Ok((notifier, handle))
    }

    /// Waits, at most the plan's shutdown timeout, for the notifications
    /// already handed over to be delivered (or given up); call it after
    /// dropping the [`Notifications`] handle. Deliveries still in flight
    /// then are abandoned, with a warning.
    pub async fn finish(self) {
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

/// What receivers were last told of an open incident's firing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Told {
    /// `None`: its firing (or a later escalation or re-notification) was
    /// sent; `Some`: its firing was suppressed by this silence or incident,
    /// and nothing about it has been sent since.
    suppressed_by: Option<String>,
    /// When receivers were last told, or held back from being told, of it.
    at: Timestamp,
}

/// Takes note of a decision about a notification of `incident`:
/// `suppressed_by` it, or sent. A resolution ends what is known.
fn note(
    told: &mut HashMap<IncidentId, Told>,
    incident: IncidentId,
    reason: NotifyReason,
    suppressed_by: Option<&str>,
    at: Timestamp,
) {
    match (reason, suppressed_by) {
        (NotifyReason::Resolved, _) => {
            told.remove(&incident);
        }
        // Held back: what receivers know does not change.
        (NotifyReason::Escalated | NotifyReason::Renotify, Some(by)) => {
            told.entry(incident)
                .and_modify(|told| told.at = at)
                .or_insert_with(|| Told {
                    suppressed_by: Some(by.to_owned()),
                    at,
                });
        }
        (_, by) => {
            told.insert(
                incident,
                Told {
                    suppressed_by: by.map(str::to_owned),
                    at,
                },
            );
        }
    }
}

/// What receivers were told of the incidents not resolved since, from the
/// deliveries recorded before (by an earlier run).
fn told(deliveries: &[Delivery]) -> HashMap<IncidentId, Told> {
    let mut told = HashMap::new();
    for delivery in deliveries {
        let suppressed_by = match &delivery.outcome {
            DeliveryOutcome::Suppressed { by } => Some(by.as_str()),
            _ => None,
        };
        note(
            &mut told,
            delivery.incident,
            delivery.reason,
            suppressed_by,
            delivery.at,
        );
    }
    told
}

/// Decides, per notice and receiver, whether to send or to suppress.
struct Dispatcher {
    receivers: Vec<(Arc<ReceiverPlan>, mpsc::Sender<Job>)>,
    silences: SilenceCache,
    inhibitor: Inhibitor,
    /// Open incidents, as of their latest change, and when receivers were
    /// last told of them, for re-notifying.
    open: HashMap<IncidentId, (Arc<Incident>, Instant)>,
    renotify_interval: Option<Duration>,
    /// What receivers were told of each incident not resolved yet: one
    /// whose firing was sent is told it resolved, silenced or not; one
    /// whose firing was suppressed has its resolution suppressed by the
    /// same, since nobody was told it fired (as Alertmanager does not send
    /// a resolution alone).
    told: HashMap<IncidentId, Told>,
    log: Arc<DeliveryLog>,
}

impl Dispatcher {
    async fn run(mut self, shared: Arc<Shared>) {
        let mut ticker = tokio::time::interval(RENOTIFY_CHECK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shared.wake.notified() => {
                    // Read before taking, so that nothing queued before
                    // the handle closed is left behind.
                    let closed = shared.closed.load(Ordering::Acquire);
                    let queue = std::mem::take(&mut *shared.queue());
                    self.take(queue);
                    if closed {
                        return;
                    }
                }
                _ = ticker.tick(), if self.renotify_interval.is_some() => self.renotify(),
            }
        }
    }

    /// Dispatches what waited in the queue, incident by incident.
    fn take(&mut self, mut queue: Queue) {
        for id in queue.order {
            let Some(waiting) = queue.waiting.remove(&id) else {
                continue;
            };
            for notice in waiting.notices {
                self.follow(&notice.incident);
                self.dispatch(notice.reason, &notice.incident);
            }
            self.follow(&waiting.latest);
        }
    }

    /// An incident open when the previous run stopped, whose receivers
    /// were last told of it at `told_at`.
    fn restore(&mut self, incident: Arc<Incident>, told_at: Timestamp) {
        let now = Instant::now();
        let since = Timestamp::now()
            .duration_since(told_at)
            .try_into()
            .unwrap_or(Duration::ZERO);
        self.inhibitor.update(&incident);
        self.open.insert(
            incident.id,
            (incident, now.checked_sub(since).unwrap_or(now)),
        );
    }

    /// Takes note of an incident's state: what inhibits, what is open.
    fn follow(&mut self, incident: &Arc<Incident>) {
        self.inhibitor.update(incident);
        if incident.state == IncidentState::Open {
            self.open
                .entry(incident.id)
                .and_modify(|(latest, _)| *latest = Arc::clone(incident))
                .or_insert_with(|| (Arc::clone(incident), Instant::now()));
        } else {
            self.open.remove(&incident.id);
        }
    }

    fn renotify(&mut self) {
        let Some(interval) = self.renotify_interval else {
            return;
        };
        let now = Instant::now();
        let due: Vec<Arc<Incident>> = self
            .open
            .values()
            .filter(|(_, last)| now.duration_since(*last) >= interval)
            .map(|(incident, _)| Arc::clone(incident))
            .collect();
        for incident in due {
            self.dispatch(NotifyReason::Renotify, &incident);
        }
    }

    /// Hands the notification to every receiver that wants it, or records
    /// why it was not sent.
    fn dispatch(&mut self, reason: NotifyReason, incident: &Arc<Incident>) {
        let now = Timestamp::now();
        if let Some((_, last)) = self.open.get_mut(&incident.id) {
            *last = Instant::now();
        }
        let suppressed_by = match (reason, self.told.get(&incident.id)) {
            // Receivers told it fired are told it is over; those never
            // told are not, by what held the firing back.
            (NotifyReason::Resolved, Some(told)) => told.suppressed_by.clone(),
            _ => self.suppressed_by(incident, now),
        };
        note(
            &mut self.told,
            incident.id,
            reason,
            suppressed_by.as_deref(),
            now,
        );
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

    /// The silence or the incident that holds notifications of `incident`
    /// back now, if any.
    fn suppressed_by(&mut self, incident: &Incident, now: Timestamp) -> Option<String> {
        let labels = incident_labels(incident);
        self.silences
            .current()
            .iter()
            .find(|silence| silence.silences(&labels, now))
            .map(|silence| silence.id.clone())
            .or_else(|| {
                self.inhibitor
                    .inhibited_by(incident)
                    .map(|id| id.to_string())
            })
    }
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
                Err(failure) => match retry
                    .delay_after(attempt)
                    .filter(|_| failure.retryable)
                    // The receiver's Retry-After, within the longest wait.
                    .map(|delay| {
                        failure
                            .retry_after
                            .map_or(delay, |asked| asked.min(retry.max_delay))
                    }) {
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

    fn handle() -> Notifications {
        Notifications {
            shared: Arc::new(Shared::default()),
            severities: HashMap::new(),
        }
    }

    /// The notices waiting, in order, taking them.
    fn waiting(notifications: &Notifications) -> Vec<(NotifyReason, IncidentState)> {
        let mut queue = std::mem::take(&mut *notifications.shared.queue());
        queue
            .order
            .iter()
            .filter_map(|id| queue.waiting.remove(id))
            .flat_map(|waiting| waiting.notices)
            .map(|notice| (notice.reason, notice.incident.state))
            .collect()
    }

    fn reasons(notifications: &Notifications) -> Vec<NotifyReason> {
        waiting(notifications)
            .into_iter()
            .map(|(reason, _)| reason)
            .collect()
    }

    #[test]
    fn changes_become_fired_escalated_and_resolved() {
        use IncidentState::{Open, Pending, Resolved};
        let mut notifications = handle();
        let mut seen = incident("r", &[]);
        seen.state = Pending;
        notifications.changed(None, &seen);
        assert_eq!(reasons(&notifications), []);
        seen.state = Open;
        notifications.changed(Some(Pending), &seen);
        notifications.changed(Some(Open), &seen);
        assert_eq!(reasons(&notifications), [NotifyReason::Fired]);
        seen.severity = Severity::Critical;
        notifications.changed(Some(Open), &seen);
        notifications.changed(Some(Open), &seen);
        assert_eq!(reasons(&notifications), [NotifyReason::Escalated]);
        seen.state = Resolved;
        notifications.changed(Some(Open), &seen);
        assert_eq!(reasons(&notifications), [NotifyReason::Resolved]);
        // Reopening fires again.
        seen.state = Open;
        notifications.changed(Some(Resolved), &seen);
        assert_eq!(reasons(&notifications), [NotifyReason::Fired]);
        // Open and resolved between two looks: both.
        let mut quick = incident("q", &[]);
        quick.state = Resolved;
        notifications.changed(None, &quick);
        assert_eq!(
            waiting(&notifications),
            [
                (NotifyReason::Fired, Open),
                (NotifyReason::Resolved, Resolved)
            ]
        );
        // An incident open before a restart whose severity is unknown: its
        // first change is no news, and its severity is learnt then.
        let mut restored = incident("s", &[]);
        restored.state = Open;
        notifications.changed(Some(Open), &restored);
        assert_eq!(reasons(&notifications), []);
        restored.severity = Severity::Critical;
        notifications.changed(Some(Open), &restored);
        assert_eq!(reasons(&notifications), [NotifyReason::Escalated]);
    }

    #[test]
    fn changes_wait_coalesced_per_incident_and_none_is_dropped() {
        use IncidentState::{Open, Resolved};
        let mut notifications = handle();
        // Far more than any bounded queue would have taken.
        for index in 0..5000 {
            notifications.changed(None, &incident(&format!("r{index}"), &[]));
        }
        assert_eq!(waiting(&notifications).len(), 5000);

        // One incident's many changes fold into what receivers must hear.
        let mut flapping = incident("f", &[]);
        notifications.changed(None, &flapping);
        flapping.severity = Severity::Critical;
        notifications.changed(Some(Open), &flapping);
        for _ in 0..100 {
            flapping.state = Resolved;
            notifications.changed(Some(Open), &flapping);
            flapping.state = Open;
            notifications.changed(Some(Resolved), &flapping);
        }
        flapping.count = 99;
        notifications.changed(Some(Open), &flapping);
        flapping.state = Resolved;
        notifications.changed(Some(Open), &flapping);
        let queue = std::mem::take(&mut *notifications.shared.queue());
        assert_eq!(queue.order, [flapping.id]);
        let waiting = &queue.waiting[&flapping.id];
        let notices: Vec<_> = waiting
            .notices
            .iter()
            .map(|notice| (notice.reason, notice.incident.severity))
            .collect();
        assert_eq!(
            notices,
            [
                (NotifyReason::Fired, Severity::Critical),
                (NotifyReason::Resolved, Severity::Critical)
            ]
        );
        assert_eq!(*waiting.latest, flapping);
        // A plain update waits too, for its latest state.
        flapping.state = Open;
        notifications.changed(None, &flapping);
        flapping.count = 100;
        notifications.changed(Some(Open), &flapping);
        let queue = std::mem::take(&mut *notifications.shared.queue());
        assert_eq!(queue.waiting[&flapping.id].latest.count, 100);
    }

    #[test]
    fn what_receivers_were_told_is_read_from_the_deliveries_file() {
        let at = |second: i64| Timestamp::from_second(1_790_000_000 + second).unwrap();
        let delivery = |incident, reason, second, outcome| Delivery {
            at: at(second),
            incident: IncidentId(incident),
            rule: "r".into(),
            receiver: "hook".into(),
            reason,
            attempt: 0,
            outcome,
        };
        let by = |by: &str| DeliveryOutcome::Suppressed { by: by.into() };
        let remembered = told(&[
            delivery(1, NotifyReason::Fired, 1, by("silence")),
            delivery(1, NotifyReason::Renotify, 2, by("silence")),
            delivery(2, NotifyReason::Fired, 1, by("000000000000000a")),
            delivery(2, NotifyReason::Resolved, 2, by("000000000000000a")),
            delivery(3, NotifyReason::Fired, 1, by("silence")),
            delivery(3, NotifyReason::Renotify, 3, DeliveryOutcome::Delivered),
            delivery(4, NotifyReason::Fired, 4, DeliveryOutcome::Delivered),
            delivery(4, NotifyReason::Escalated, 5, by("silence")),
        ]);
        let entry = |suppressed_by: Option<&str>, second| Told {
            suppressed_by: suppressed_by.map(str::to_owned),
            at: at(second),
        };
        assert_eq!(
            remembered,
            HashMap::from([
                (IncidentId(1), entry(Some("silence"), 2)),
                (IncidentId(3), entry(None, 3)),
                (IncidentId(4), entry(None, 5)),
            ])
        );
    }

    /// A dispatcher with one receiver, whose jobs come out of the channel.
    fn dispatcher(
        dir: &Path,
        inhibit: Vec<crate::InhibitRule>,
    ) -> (Dispatcher, mpsc::Receiver<Job>) {
        let (jobs_tx, jobs) = mpsc::channel(8);
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
        let dispatcher = Dispatcher {
            receivers: vec![(receiver, jobs_tx)],
            silences: SilenceCache::new(SilenceStore::new(dir)),
            inhibitor: Inhibitor::new(inhibit),
            open: HashMap::new(),
            renotify_interval: Some(Duration::from_secs(3600)),
            told: HashMap::new(),
            log: Arc::new(DeliveryLog::open(dir).unwrap()),
        };
        (dispatcher, jobs)
    }

    fn sent(jobs: &mut mpsc::Receiver<Job>) -> Vec<(NotifyReason, Arc<Incident>)> {
        std::iter::from_fn(|| jobs.try_recv().ok())
            .map(|job| (job.reason, job.incident))
            .collect()
    }

    /// Hands the dispatcher one change, as the queue would.
    fn change(dispatcher: &mut Dispatcher, incident: &Incident, reason: Option<NotifyReason>) {
        let mut queue = Queue::default();
        let latest = Arc::new(incident.clone());
        let notice = reason.map(|reason| Notice {
            reason,
            incident: Arc::clone(&latest),
        });
        queue.push(latest, notice);
        dispatcher.take(queue);
    }

    fn reasons_sent(jobs: &mut mpsc::Receiver<Job>) -> Vec<NotifyReason> {
        sent(jobs).into_iter().map(|(reason, _)| reason).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn open_incidents_are_renotified_every_interval_until_they_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let (mut dispatcher, mut jobs) = dispatcher(dir.path(), Vec::new());
        let mut open = incident("r", &[]);
        change(&mut dispatcher, &open, Some(NotifyReason::Fired));
        assert_eq!(reasons_sent(&mut jobs), [NotifyReason::Fired]);
        tokio::time::advance(Duration::from_secs(59 * 60)).await;
        dispatcher.renotify();
        assert_eq!(reasons_sent(&mut jobs), []);
        // A plain update: re-notifying sends the incident as it is now.
        open.count = 40;
        open.description = Some("40 failures".into());
        change(&mut dispatcher, &open, None);
        assert_eq!(reasons_sent(&mut jobs), []);
        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        dispatcher.renotify();
        dispatcher.renotify();
        let renotified = sent(&mut jobs);
        assert_eq!(renotified.len(), 1);
        assert_eq!(renotified[0].0, NotifyReason::Renotify);
        assert_eq!(*renotified[0].1, open);
        open.state = IncidentState::Resolved;
        change(&mut dispatcher, &open, Some(NotifyReason::Resolved));
        tokio::time::advance(Duration::from_secs(2 * 3600)).await;
        dispatcher.renotify();
        assert_eq!(reasons_sent(&mut jobs), [NotifyReason::Resolved]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_receiver_told_of_a_firing_is_told_of_its_resolution_silenced_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let (mut dispatcher, mut jobs) =
            dispatcher(dir.path(), vec![crate::InhibitRule::default_rule()]);
        let mut told = incident("disk-slow", &[("host", "db-01")]);
        change(&mut dispatcher, &told, Some(NotifyReason::Fired));
        assert_eq!(reasons_sent(&mut jobs), [NotifyReason::Fired]);
        // Then a silence, and a critical incident on the same host.
        let now = Timestamp::now();
        SilenceStore::new(dir.path())
            .add(crate::NewSilence {
                matchers: vec!["host=db-01".parse().unwrap()],
                starts_at: now,
                ends_at: now + jiff::SignedDuration::from_hours(1),
                created_by: "ops".into(),
                comment: "maintenance".into(),
            })
            .unwrap();
        let mut critical = incident("db-down", &[("host", "db-01")]);
        critical.severity = Severity::Critical;
        change(&mut dispatcher, &critical, Some(NotifyReason::Fired));
        // Re-notifying is held back; the resolution is not.
        tokio::time::advance(Duration::from_secs(3600)).await;
        dispatcher.renotify();
        told.state = IncidentState::Resolved;
        change(&mut dispatcher, &told, Some(NotifyReason::Resolved));
        assert_eq!(reasons_sent(&mut jobs), [NotifyReason::Resolved]);
        // The critical incident's firing was held back: so is its resolution.
        critical.state = IncidentState::Resolved;
        change(&mut dispatcher, &critical, Some(NotifyReason::Resolved));
        assert_eq!(reasons_sent(&mut jobs), []);
        let outcomes: Vec<_> = read_deliveries(dir.path(), None)
            .unwrap()
            .into_iter()
            .map(|delivery| (delivery.incident, delivery.reason, delivery.outcome))
            .collect();
        assert!(
            outcomes
                .iter()
                .all(|(_, _, outcome)| matches!(outcome, DeliveryOutcome::Suppressed { .. })),
            "{outcomes:?}"
        );
        let recorded: Vec<_> = outcomes
            .iter()
            .map(|(incident, reason, _)| (*incident, *reason))
            .collect();
        assert_eq!(recorded.len(), 4, "{recorded:?}");
        for expected in [
            (critical.id, NotifyReason::Fired),
            (told.id, NotifyReason::Renotify),
            (critical.id, NotifyReason::Renotify),
            (critical.id, NotifyReason::Resolved),
        ] {
            assert!(recorded.contains(&expected), "{recorded:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn restored_incidents_inhibit_and_are_renotified() {
        let dir = tempfile::tempdir().unwrap();
        let (mut dispatcher, mut jobs) =
            dispatcher(dir.path(), vec![crate::InhibitRule::default_rule()]);
        let mut critical = incident("db-down", &[("host", "db-01")]);
        critical.severity = Severity::Critical;
        // Last told 50 minutes ago, by the run before.
        let told_at = Timestamp::now() - jiff::SignedDuration::from_mins(50);
        dispatcher.restore(Arc::new(critical.clone()), told_at);
        let symptom = incident("disk-slow", &[("host", "db-01")]);
        change(&mut dispatcher, &symptom, Some(NotifyReason::Fired));
        assert_eq!(reasons_sent(&mut jobs), []);
        tokio::time::advance(Duration::from_secs(9 * 60)).await;
        dispatcher.renotify();
        assert_eq!(reasons_sent(&mut jobs), []);
        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        dispatcher.renotify();
        let renotified = sent(&mut jobs);
        assert_eq!(renotified.len(), 1);
        assert_eq!(*renotified[0].1, critical);
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
