//! The RabbitMQ source through the real binary and a real broker.
//!
//! Each test publishes numbered messages (`seq=N`) to a queue of its own,
//! runs `firewatch run` on it, disturbs it (SIGKILL of firewatch, a broker
//! restart), and checks that the index holds every number exactly once
//! and that the queue is empty at the end: nothing lost, nothing doubled,
//! nothing left unacknowledged.
//!
//! The broker is named by `FIREWATCH_TEST_AMQP_URL` (`.ci/run` starts
//! RabbitMQ and sets it). Without it the tests say they are skipped, unless
//! `CI=true`, where a missing broker fails them. They run one at a time:
//! the broker restart would disturb the others.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{firewatch, indexed_events};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const URL_VARIABLE: &str = "FIREWATCH_TEST_AMQP_URL";

/// One test at a time talks to the broker.
static BROKER: Mutex<()> = Mutex::new(());

/// The broker URL, or `None` (with a note) when tests are to be skipped.
fn broker_url(test: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{URL_VARIABLE} is not set: CI must run RabbitMQ for {test}")
        }
        Err(_) => {
            eprintln!("{test}: skipped, {URL_VARIABLE} is not set (no RabbitMQ to test against)");
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A queue of the test's own, deleted when dropped, and a data dir and
/// pipeline that consume it.
struct Fixture {
    url: String,
    queue: String,
    dir: tempfile::TempDir,
    pipeline: PathBuf,
}

impl Fixture {
    fn new(url: String, test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let queue = format!("firewatch-test-{test}-{}-{nanos}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let pipeline = dir.path().join("pipeline.toml");
        std::fs::write(
            &pipeline,
            format!(
                "data_dir = {:?}\n\
                 [[sources]]\nname = \"queue\"\ntype = \"amqp\"\nurl_env = \"{URL_VARIABLE}\"\n\
                 queue = \"{queue}\"\ndeclare = true\nprefetch = 5000\nformat = \"json\"\n\
                 [index]\ncommit_interval = \"200ms\"\n",
                dir.path().join("data").display().to_string()
            ),
        )
        .unwrap();
        let fixture = Self {
            url,
            queue,
            dir,
            pipeline,
        };
        runtime().block_on(async {
            let (_connection, channel) = fixture.channel().await;
            fixture.declare(&channel).await;
        });
        fixture
    }

    async fn channel(&self) -> (Connection, Channel) {
        let connection = Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        (connection, channel)
    }

    /// Declares the queue as firewatch does (durable), and returns how many
    /// messages are ready in it.
    async fn declare(&self, channel: &Channel) -> u32 {
        channel
            .queue_declare(
                self.queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count()
    }

    /// Publishes persistent messages and waits until the broker has them all.
    fn publish(&self, bodies: impl IntoIterator<Item = Vec<u8>>) {
        self.publish_with(
            bodies
                .into_iter()
                .map(|body| (body, BasicProperties::default())),
        );
    }

    /// Publishes persistent messages with the given properties.
    fn publish_with(&self, messages: impl IntoIterator<Item = (Vec<u8>, BasicProperties)>) {
        runtime().block_on(async {
            let (connection, channel) = self.channel().await;
            publish_confirmed(&channel, &self.queue, messages).await;
            connection.close(200, "done".into()).await.unwrap();
        });
    }

    /// Takes `count` messages without acknowledging them and closes the
    /// channel: the broker puts them back, marked redelivered.
    fn take_back_unacknowledged(&self, count: usize) {
        runtime().block_on(async {
            let (connection, channel) = self.channel().await;
            for _ in 0..count {
                let message = channel
                    .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
                    .await
                    .unwrap();
                assert!(message.is_some());
            }
            connection.close(200, "done".into()).await.unwrap();
        });
    }

    /// Messages ready in the queue (not counting unacknowledged ones).
    fn ready(&self) -> u32 {
        runtime().block_on(async {
            let (connection, channel) = self.channel().await;
            let ready = self.declare(&channel).await;
            let _ = connection.close(200, "done".into()).await;
            ready
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts `firewatch run --json`, its stdout and stderr going to files
    /// of their own.
    fn start(&self) -> Running {
        let run = std::fs::read_dir(self.dir.path()).unwrap().count();
        let log = self.dir.path().join(format!("stderr-{run}.log"));
        let out = self.dir.path().join(format!("stdout-{run}.json"));
        let child = firewatch()
            .arg("run")
            .arg("--json")
            .arg(&self.pipeline)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Running {
            child: Some(child),
            log,
            out,
        }
    }

    /// Every event in the index.
    fn events(&self) -> Vec<firewatch_event::Event> {
        indexed_events(&self.data_dir())
    }

    /// Waits until the index holds at least `events` events.
    fn wait_for_events(&self, events: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let indexed = self.events().len();
            if indexed >= events {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {indexed} of {events} events indexed in time"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// How many times each number 1..=count is in the index.
    fn tally(&self, count: u64) -> Vec<u32> {
        let mut seen = vec![0u32; count as usize + 1];
        for event in self.events() {
            let number: u64 = event
                .message
                .strip_prefix("seq=")
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("not a numbered message: {:?}", event.message));
            assert!(
                (1..=count).contains(&number),
                "out of range: {}",
                event.message
            );
            seen[number as usize] += 1;
        }
        seen
    }

    /// Checks that every number is indexed once and the queue is empty.
    fn assert_exactly_once(&self, count: u64) {
        let seen = self.tally(count);
        let missing: Vec<usize> = (1..seen.len()).filter(|&n| seen[n] == 0).collect();
        let doubled: Vec<usize> = (1..seen.len()).filter(|&n| seen[n] > 1).collect();
        assert!(
            missing.is_empty() && doubled.is_empty(),
            "{} missing (first {:?}), {} doubled (first {:?})",
            missing.len(),
            &missing[..missing.len().min(5)],
            doubled.len(),
            &doubled[..doubled.len().min(5)]
        );
        assert_eq!(self.ready(), 0, "messages left in the queue");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        runtime().block_on(async {
            if let Ok(connection) =
                Connection::connect(&self.url, ConnectionProperties::default()).await
                && let Ok(channel) = connection.create_channel().await
            {
                let _ = channel
                    .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
                let _ = connection.close(200, "done".into()).await;
            }
        });
    }
}

/// Publishes persistent messages on a channel and waits until the broker
/// has them all.
async fn publish_confirmed(
    channel: &Channel,
    queue: &str,
    messages: impl IntoIterator<Item = (Vec<u8>, BasicProperties)>,
) {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for (body, properties) in messages {
        channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                properties.with_delivery_mode(2),
            )
            .await
            .unwrap();
    }
    channel.wait_for_confirms().await.unwrap();
}

/// Numbered messages published from a thread of their own, a chunk at a
/// time, until stopped: whatever firewatch is doing meanwhile, messages
/// keep arriving, so a kill always lands while they flow.
struct Stream {
    stop: Arc<AtomicBool>,
    /// The last number the broker has confirmed.
    published: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Stream {
    const CHUNK: u64 = 250;
    const PAUSE: Duration = Duration::from_millis(50);

    /// Starts publishing at `first`.
    fn start(fixture: &Fixture, first: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let published = Arc::new(AtomicU64::new(first - 1));
        let (url, queue) = (fixture.url.clone(), fixture.queue.clone());
        let thread = std::thread::spawn({
            let (stop, published) = (stop.clone(), published.clone());
            move || {
                runtime().block_on(async {
                    let connection = Connection::connect(&url, ConnectionProperties::default())
                        .await
                        .unwrap();
                    let channel = connection.create_channel().await.unwrap();
                    while !stop.load(Ordering::SeqCst) {
                        let next = published.load(Ordering::SeqCst) + 1;
                        let last = next + Self::CHUNK - 1;
                        let messages =
                            numbered(next..=last).map(|body| (body, BasicProperties::default()));
                        publish_confirmed(&channel, &queue, messages).await;
                        published.store(last, Ordering::SeqCst);
                        tokio::time::sleep(Self::PAUSE).await;
                    }
                    connection.close(200, "done".into()).await.unwrap();
                });
            }
        });
        Self {
            stop,
            published,
            thread,
        }
    }

    /// Waits until the broker has confirmed messages published after now.
    fn wait_for_more(&self) {
        let now = self.published.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.published.load(Ordering::SeqCst) <= now {
            assert!(Instant::now() < deadline, "publishing stalled");
            std::thread::sleep(Self::PAUSE);
        }
    }

    /// Stops publishing; returns the last number published.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        self.published.load(Ordering::SeqCst)
    }
}

fn numbered(range: std::ops::RangeInclusive<u64>) -> impl Iterator<Item = Vec<u8>> {
    range.map(|number| {
        format!("{{\"timestamp\":\"2026-11-20T10:00:00Z\",\"level\":\"info\",\"message\":\"seq={number}\"}}")
            .into_bytes()
    })
}

/// A running `firewatch run`; killed if a test fails while it runs, and
/// its stderr shown then.
struct Running {
    child: Option<Child>,
    log: PathBuf,
    out: PathBuf,
}

impl Running {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The run summary, the last line of `--json` output.
    fn summary(&self) -> serde_json::Value {
        let out = std::fs::read_to_string(&self.out).unwrap();
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("firewatch stderr:\n{}", self.stderr());
            }
        }
    }
}

/// Sends SIGTERM and waits; returns stderr and the summary, failing unless
/// it exits 0.
fn terminate(mut running: Running) -> (String, serde_json::Value) {
    let mut child = running.child.take().unwrap();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    let stderr = running.stderr();
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\nstderr:\n{stderr}"
    );
    (stderr, running.summary())
}

fn kill_hard(mut running: Running) {
    let mut child = running.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Waits until the queue has nothing ready and the index holds `events`.
fn wait_until_consumed(fixture: &Fixture, events: usize, timeout: Duration) {
    fixture.wait_for_events(events, timeout);
    let deadline = Instant::now() + timeout;
    while fixture.ready() > 0 {
        assert!(
            Instant::now() < deadline,
            "the queue was not drained in time"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_message_is_indexed_once_across_two_kills() {
    let Some(url) = broker_url("every_message_is_indexed_once_across_two_kills") else {
        return;
    };
    let _broker = BROKER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let count: u64 = std::env::var("FIREWATCH_AMQP_CRASH_MESSAGES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100_000);
    let fixture = Fixture::new(url, "crash");
    fixture.publish(numbered(1..=count));
    let stream = Stream::start(&fixture, count + 1);

    for fraction in [5, 2] {
        let running = fixture.start();
        fixture.wait_for_events((count / fraction) as usize, Duration::from_secs(120));
        kill_hard(running);
        // Messages published after the kill cannot have been indexed
        // before it: the kill came while the queue was being consumed.
        stream.wait_for_more();
    }
    let count = stream.stop();

    let running = fixture.start();
    wait_until_consumed(&fixture, count as usize, Duration::from_secs(120));
    terminate(running);
    fixture.assert_exactly_once(count);
}

#[test]
fn a_broker_restart_loses_and_doubles_nothing() {
    let Some(url) = broker_url("a_broker_restart_loses_and_doubles_nothing") else {
        return;
    };
    let _broker = BROKER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let rabbitmqctl = |action: &str| {
        Command::new("rabbitmqctl")
            .arg("-q")
            .arg(action)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    if !rabbitmqctl("status").is_ok_and(|status| status.success()) {
        eprintln!(
            "a_broker_restart_loses_and_doubles_nothing: skipped, rabbitmqctl cannot reach the broker"
        );
        return;
    }
    let count = 30_000;
    let fixture = Fixture::new(url, "restart");
    fixture.publish(numbered(1..=count));
    let running = fixture.start();
    fixture.wait_for_events(count as usize / 5, Duration::from_secs(60));
    assert!(rabbitmqctl("stop_app").unwrap().success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(rabbitmqctl("start_app").unwrap().success());
    wait_until_consumed(&fixture, count as usize, Duration::from_secs(120));
    let (stderr, summary) = terminate(running);
    fixture.assert_exactly_once(count);
    assert!(stderr.contains("amqp connection lost"), "{stderr}");
    let reconnects = &summary["summary"]["sources"][0]["reconnects"];
    assert!(reconnects.as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn bad_bodies_become_marked_events_and_are_acknowledged() {
    let Some(url) = broker_url("bad_bodies_become_marked_events_and_are_acknowledged") else {
        return;
    };
    let _broker = BROKER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fixture = Fixture::new(url, "bad");
    fixture.publish([
        b"caf\xe9 au lait".to_vec(),
        b"[{\"message\": \"cut short".to_vec(),
        b"[{\"message\":\"first\"},{\"message\":\"second\"}]".to_vec(),
        b"{\"message\":\"one\"}\n{\"message\":\"two\"}\n".to_vec(),
    ]);
    let running = fixture.start();
    wait_until_consumed(&fixture, 6, Duration::from_secs(60));
    terminate(running);

    let events = fixture.events();
    let mut messages: Vec<&str> = events.iter().map(|event| event.message.as_str()).collect();
    messages.sort_unstable();
    assert_eq!(
        messages,
        [
            "[{\"message\": \"cut short",
            "caf\u{fffd} au lait",
            "first",
            "one",
            "second",
            "two"
        ]
    );
    let problems: Vec<_> = events
        .iter()
        .filter(|event| !event.problem.is_clean())
        .map(|event| event.message.as_str())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    // Acknowledged, not requeued: a second run finds nothing to index.
    assert_eq!(fixture.ready(), 0);
    let running = fixture.start();
    std::thread::sleep(Duration::from_secs(1));
    terminate(running);
    assert_eq!(fixture.events().len(), 6);
}

#[test]
fn a_message_delivered_again_replaces_its_first_copy() {
    let Some(url) = broker_url("a_message_delivered_again_replaces_its_first_copy") else {
        return;
    };
    let _broker = BROKER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fixture = Fixture::new(url, "redelivery");
    let with_id = |id: &str| BasicProperties::default().with_message_id(id.into());
    let message = |number: u64| numbered(number..=number).next().unwrap();
    fixture.publish_with([(message(1), with_id("m-1")), (message(2), with_id("m-2"))]);
    let running = fixture.start();
    wait_until_consumed(&fixture, 2, Duration::from_secs(60));
    terminate(running);

    // What the broker does when an acknowledgement was lost after the
    // commit: the same message (same id, same body) comes again, marked
    // redelivered. Without an id, the same body comes again too. A new id
    // is a new message.
    fixture.publish_with([
        (message(1), with_id("m-1")),
        (message(3), BasicProperties::default()),
        (message(3), BasicProperties::default()),
        (message(2), with_id("m-2-resent")),
    ]);
    fixture.take_back_unacknowledged(4);
    let running = fixture.start();
    wait_until_consumed(&fixture, 4, Duration::from_secs(60));
    terminate(running);
    assert_eq!(fixture.tally(3), [0, 1, 2, 1]);
}

#[test]
fn a_refused_password_is_never_shown() {
    let Some(url) = broker_url("a_refused_password_is_never_shown") else {
        return;
    };
    let _broker = BROKER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fixture = Fixture::new(url.clone(), "password");
    let password = format!("Pw-{}-not-a-real-one", std::process::id());
    let host = url.rsplit_once('@').map_or(url.as_str(), |(_, host)| host);
    let url_file = fixture.dir.path().join("url");
    std::fs::write(
        &url_file,
        format!("amqp://firewatch-nobody:{password}@{host}\n"),
    )
    .unwrap();
    let pipeline = fixture.dir.path().join("wrong.toml");
    std::fs::write(
        &pipeline,
        format!(
            "data_dir = {:?}\n[[sources]]\nname = \"queue\"\ntype = \"amqp\"\nurl_file = {:?}\nqueue = \"{}\"\n",
            fixture.data_dir().display().to_string(),
            url_file.display().to_string(),
            fixture.queue
        ),
    )
    .unwrap();
    let output = run_with_debug_logs(&pipeline);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(stderr.contains("firewatch-nobody:****@"), "{stderr}");
    assert!(
        !stdout.contains(&password) && !stderr.contains(&password),
        "the password was shown:\n{stdout}\n{stderr}"
    );
}

/// Runs a pipeline with every log level on, and returns its output.
fn run_with_debug_logs(pipeline: &Path) -> Output {
    let mut child = firewatch()
        .arg("run")
        .arg(pipeline)
        .env("FIREWATCH_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("firewatch kept running with a refused password");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
