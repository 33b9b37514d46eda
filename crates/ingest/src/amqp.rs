//! A RabbitMQ queue as a source, acknowledged only once indexed.
//!
//! # Design
//!
//! The source consumes one queue over one channel at a time. A message
//! becomes one or more records (see [`split_message`]): the lines of its
//! body, or the elements of a JSON array, or one pretty-printed JSON object.
//! Records go out in batches like those of every other source; what is
//! special is what a batch's [`Position`] means and when a message is
//! acknowledged.
//!
//! **Positions.** A batch ends at `Position { stream: "<queue>#<generation>",
//! offset: <last delivery tag in the batch> }`. Delivery tags count up from
//! 1 on each channel, and only mean something on the channel that issued
//! them, so the stream names the channel: its *generation* goes up by one
//! on every reconnection, and a new process starts past the highest
//! generation of the checkpoint it resumes from. A committed position can
//! therefore never be mistaken for a tag of another channel.
//!
//! **Acknowledgement after commit.** The pipeline publishes each committed
//! checkpoint on [`SourceContext::committed`]. When the committed position
//! of the current channel passes the last acknowledged tag, the source
//! acknowledges up to it with `multiple = true`: batches are sent and
//! committed in order, so every message with a smaller tag is durable too.
//! Nothing is ever rejected or requeued: a message that cannot be parsed is
//! indexed as a marked event and acknowledged like any other, so a poison
//! message cannot loop.
//!
//! **Crash cases.**
//! - The process dies (`kill -9`) or the connection drops before a commit:
//!   the broker requeues every unacknowledged message and delivers it again.
//! - The process dies after a commit but before the acknowledgement
//!   reaches the broker: the message is delivered again although it is
//!   already indexed. The broker marks it `redelivered`; its records get
//!   the same ids as the first time (ids come from the message, not from
//!   the delivery), and a batch holding a redelivered message is marked
//!   [`Batch::redelivered`], so the index replaces the first copy instead
//!   of adding a second: nothing is doubled. A first delivery cannot be in
//!   the index, so the common case pays nothing for this.
//! - The broker restarts: the channel dies with its unacknowledged
//!   deliveries, the source reconnects with backoff (100 ms doubling up to
//!   10 s, with jitter) on a new generation, and the broker redelivers.
//! - Graceful stop: the source stops consuming, sends what it holds, closes
//!   its output, and waits for the pipeline's last commit to acknowledge it
//!   before closing the connection, so that a clean restart gets nothing
//!   twice from the broker.
//!
//! **Message identity.** A record's id is a hash of the source name, the
//! message's identity and the record's index within the message. The
//! identity is the `message_id` property when the publisher sets one;
//! otherwise it is a hash of the body and the `timestamp` property. A
//! redelivery has the same body and properties, so it gets the same ids.
//! Without a `message_id`, two distinct messages with the same body and
//! timestamp cannot be told apart: both are indexed, but should one of
//! them be redelivered, it replaces the other. Publishers that can send
//! identical messages should set `message_id`. A message published twice
//! (a publisher retrying) is two deliveries, neither redelivered, and is
//! indexed twice: only the broker's redeliveries are folded.
//!
//! **Throughput.** The broker sends at most `prefetch` unacknowledged
//! messages, and they are acknowledged once per commit. So that the
//! commit interval does not cap the rate at `prefetch` messages per
//! interval, the source asks the pipeline for an early commit (see
//! [`Source::commit_requests`]) once half the window waits for one.
//!
//! The URL is held in a [`SecretUrl`], whose `Debug` and `Display` show
//! `user:****@`; errors and logs show only that form, and any text from the
//! client library has the password scrubbed before it is shown.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use firewatch_event::{Batch, Checkpoint, EventId, Position, RawRecord, Timestamp};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use tokio::time::Instant;

use crate::file::{DEFAULT_BATCH_LINES, DEFAULT_MAX_LINE_BYTES};
use crate::lines::LineSplitter;
use crate::{IngestError, Source, SourceContext, SourceCounters, SourceFuture};

/// Messages the broker may send before any is acknowledged, by default.
///
/// Acknowledgements wait for a commit, so the window must hold what
/// arrives while a commit is made: with messages of a hundred lines, 1,000
/// forced a commit every 50,000 lines and took 59% of the file source's
/// rate, 5,000 took 67-72%. Memory held is at most this many messages.
pub const DEFAULT_PREFETCH: u16 = 5000;

/// How long a partly filled batch waits for more messages, by default.
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_millis(100);

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How long connecting, declaring and starting to consume may take: a
/// broker that is starting up can accept connections and not answer.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a stopping source waits for the commit that holds its last
/// batch before it closes the connection anyway (the broker then
/// redelivers, and the ids make that harmless).
const FINAL_COMMIT_WAIT: Duration = Duration::from_secs(30);

/// An AMQP URL that may hold a password. `Debug` and `Display` print it
/// with the password replaced by `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL such as `amqp://user:password@host:5672/%2f`.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into().trim().to_owned())
    }

    /// The URL with its password, for the client library only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The byte range of the password in the URL, if it has one.
    fn password_range(&self) -> Option<std::ops::Range<usize>> {
        let scheme_end = self.0.find("://")? + 3;
        let rest = &self.0[scheme_end..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let userinfo = &authority[..authority.rfind('@')?];
        let colon = userinfo.find(':')?;
        let start = scheme_end + colon + 1;
        Some(start..scheme_end + userinfo.len())
    }

    /// `text` with every occurrence of the password replaced by `****`, for
    /// messages that come from the client library.
    pub fn scrub(&self, text: &str) -> String {
        match self.password_range() {
            Some(range) if !range.is_empty() => text.replace(&self.0[range], "****"),
            _ => text.to_owned(),
        }
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.password_range() {
            Some(range) => write!(f, "{}****{}", &self.0[..range.start], &self.0[range.end..]),
            None => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({:?})", self.to_string())
    }
}

/// Configuration of an [`AmqpSource`].
#[derive(Clone, Debug)]
pub struct AmqpSourceConfig {
    /// The source's name (its batches' `source`, its checkpoint key).
    pub name: String,
    /// The broker, with credentials.
    pub url: SecretUrl,
    /// The queue to consume.
    pub queue: String,
    /// Declare the queue (durable) before consuming, instead of expecting
    /// it to exist.
    pub declare: bool,
    /// Bind the queue to this exchange (which must exist) before consuming.
    pub exchange: Option<String>,
    /// The routing key of that binding.
    pub routing_key: String,
    /// Unacknowledged messages the broker may send ahead (AMQP QoS).
    pub prefetch: u16,
    /// Records per batch at most.
    pub batch_lines: usize,
    /// A partly filled batch is sent after this long.
    pub batch_interval: Duration,
    /// Longer records are cut and marked.
    pub max_line_bytes: usize,
}

impl AmqpSourceConfig {
    /// A configuration with default settings for consuming `queue`.
    pub fn new(name: impl Into<String>, url: SecretUrl, queue: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url,
            queue: queue.into(),
            declare: false,
            exchange: None,
            routing_key: String::new(),
            prefetch: DEFAULT_PREFETCH,
            batch_lines: DEFAULT_BATCH_LINES,
            batch_interval: DEFAULT_BATCH_INTERVAL,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Consumes a RabbitMQ queue (see the module documentation for how and
/// when messages are acknowledged).
#[derive(Debug)]
pub struct AmqpSource {
    config: AmqpSourceConfig,
    commit_wanted: Arc<AtomicBool>,
}

impl AmqpSource {
    /// A source that will consume as `config` says once run.
    pub fn new(config: AmqpSourceConfig) -> Self {
        Self {
            config,
            commit_wanted: Arc::default(),
        }
    }
}

impl Source for AmqpSource {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn redelivers(&self) -> bool {
        true
    }

    fn commit_requests(&self) -> Option<Arc<AtomicBool>> {
        Some(Arc::clone(&self.commit_wanted))
    }

    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(run(self.config, self.commit_wanted, context))
    }
}

/// How one connection ended.
enum SessionEnd {
    /// Shutdown was requested and the source has finished.
    Stopped,
    /// The connection or channel failed; reconnect.
    Lost(lapin::Error),
    /// The pipeline stopped taking batches.
    OutputClosed(IngestError),
}

async fn run(
    config: AmqpSourceConfig,
    commit_wanted: Arc<AtomicBool>,
    mut context: SourceContext,
) -> Result<(), IngestError> {
    let source: Arc<str> = config.name.as_str().into();
    let mut generation = first_generation(&context.resume, &config.name, &config.queue);
    let mut backoff = Backoff::default();
    let mut connected_once = false;
    loop {
        if context.shutdown.is_cancelled() {
            return Ok(());
        }
        let opened = tokio::time::timeout(OPEN_TIMEOUT, open(&config))
            .await
            .unwrap_or_else(|_| {
                Err(lapin::Error::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the broker did not answer in time",
                )))
            });
        let lost = match opened {
            Ok((connection, channel, consumer)) => {
                connected_once = true;
                backoff.reset();
                tracing::info!(source = %source, url = %config.url, queue = %config.queue, generation, "consuming");
                let mut session = Session {
                    config: &config,
                    source: &source,
                    commit_wanted: &commit_wanted,
                    stream: format!("{}#{generation}", config.queue),
                    channel,
                    acked: 0,
                    records: Vec::with_capacity(config.batch_lines),
                    last_tag: None,
                    redelivered: false,
                    sent: 0,
                };
                let end = session.consume(consumer, &mut context).await;
                let _ = connection.close(200, "firewatch stopped".into()).await;
                match end {
                    SessionEnd::Stopped => return Ok(()),
                    SessionEnd::OutputClosed(error) => return context.settle(Err(error)),
                    SessionEnd::Lost(error) => error,
                }
            }
            Err(error) if !connected_once && is_access_refused(&error) => {
                return Err(amqp_error(&config, "authentication failed", &error));
            }
            Err(error) => error,
        };
        let delay = backoff.next_delay();
        tracing::warn!(
            source = %source,
            url = %config.url,
            error = %config.url.scrub(&lost.to_string()),
            retry_in_ms = delay.as_millis() as u64,
            "amqp connection lost"
        );
        context.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        generation += 1;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = context.shutdown.cancelled() => return Ok(()),
        }
    }
}

fn amqp_error(config: &AmqpSourceConfig, what: &str, error: &lapin::Error) -> IngestError {
    IngestError::Amqp {
        source_name: config.name.clone(),
        url: config.url.to_string(),
        reason: format!("{what}: {}", config.url.scrub(&error.to_string())),
    }
}

/// The broker refused the credentials (or the virtual host).
fn is_access_refused(error: &lapin::Error) -> bool {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => amqp.get_id() == 403,
        _ => false,
    }
}

/// Connects, opens a channel, sets QoS, declares and binds as configured,
/// and starts consuming.
async fn open(config: &AmqpSourceConfig) -> Result<(Connection, Channel, Consumer), lapin::Error> {
    let connection =
        Connection::connect(config.url.expose(), ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(config.prefetch, BasicQosOptions::default())
        .await?;
    if config.declare {
        channel
            .queue_declare(
                config.queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await?;
    }
    if let Some(exchange) = &config.exchange {
        channel
            .queue_bind(
                config.queue.as_str().into(),
                exchange.as_str().into(),
                config.routing_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    let consumer = channel
        .basic_consume(
            config.queue.as_str().into(),
            format!("firewatch-{}", config.name).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((connection, channel, consumer))
}

/// One channel's worth of consuming.
struct Session<'a> {
    config: &'a AmqpSourceConfig,
    source: &'a Arc<str>,
    /// Raised when half the prefetch window waits for a commit.
    commit_wanted: &'a AtomicBool,
    /// `<queue>#<generation>`: the stream of this channel's positions.
    stream: String,
    channel: Channel,
    /// The highest delivery tag acknowledged on this channel.
    acked: u64,
    /// Records of the batch being filled.
    records: Vec<RawRecord>,
    /// The last delivery tag taken into the batch being filled.
    last_tag: Option<u64>,
    /// The batch being filled holds a message the broker delivered before.
    redelivered: bool,
    /// The last delivery tag sent in a batch.
    sent: u64,
}

impl Session<'_> {
    async fn consume(&mut self, mut consumer: Consumer, context: &mut SourceContext) -> SessionEnd {
        let mut flush_at: Option<Instant> = None;
        let mut commits_open = true;
        loop {
            tokio::select! {
                biased;
                () = context.shutdown.cancelled() => {
                    return self.stop(consumer, context).await;
                }
                changed = context.committed.changed(), if commits_open => {
                    if changed.is_err() {
                        commits_open = false;
                        continue;
                    }
                    let committed = context.committed.borrow_and_update().clone();
                    if let Err(error) = self.acknowledge(&committed).await {
                        return SessionEnd::Lost(error);
                    }
                }
                () = sleep_until(flush_at), if flush_at.is_some() => {
                    flush_at = None;
                    if let Err(error) = self.flush(context).await {
                        return SessionEnd::OutputClosed(error);
                    }
                }
                delivery = consumer.next() => {
                    let delivery = match delivery {
                        Some(Ok(delivery)) => delivery,
                        Some(Err(error)) => return SessionEnd::Lost(error),
                        None => return SessionEnd::Lost(lapin::Error::from(
                            std::io::Error::other("the broker cancelled the consumer"),
                        )),
                    };
                    split_message(
                        self.source,
                        &delivery.data,
                        &delivery.properties,
                        self.config.max_line_bytes,
                        &mut self.records,
                        &context.counters,
                    );
                    self.last_tag = Some(delivery.delivery_tag);
                    self.redelivered |= delivery.redelivered;
                    // Tags count deliveries, so this is how many messages
                    // wait for a commit. The broker sends none past the
                    // prefetch window: asking for a commit at half of it
                    // keeps messages flowing while the commit is made.
                    let waiting = delivery.delivery_tag.saturating_sub(self.acked);
                    if waiting >= u64::from(self.config.prefetch).div_ceil(2) {
                        self.commit_wanted.store(true, Ordering::Relaxed);
                    }
                    if self.records.len() >= self.config.batch_lines {
                        flush_at = None;
                        if let Err(error) = self.flush(context).await {
                            return SessionEnd::OutputClosed(error);
                        }
                    } else if flush_at.is_none() {
                        flush_at = Some(Instant::now() + self.config.batch_interval);
                    }
                }
            }
        }
    }

    /// Sends the batch being filled, if a message went into it.
    async fn flush(&mut self, context: &SourceContext) -> Result<(), IngestError> {
        let Some(tag) = self.last_tag.take() else {
            return Ok(());
        };
        self.sent = tag;
        let records = std::mem::replace(
            &mut self.records,
            Vec::with_capacity(self.config.batch_lines),
        );
        context
            .deliver(Batch {
                source: Arc::clone(self.source),
                received: Timestamp::now(),
                records,
                position: Some(Position {
                    stream: self.stream.clone(),
                    path: None,
                    offset: tag,
                    line: 0,
                }),
                redelivered: std::mem::take(&mut self.redelivered),
            })
            .await
    }

    /// Acknowledges everything up to the committed position of this channel.
    async fn acknowledge(&mut self, committed: &Checkpoint) -> Result<(), lapin::Error> {
        let Some(position) = committed.position(self.source, &self.stream) else {
            return Ok(());
        };
        if position.offset <= self.acked {
            return Ok(());
        }
        self.channel
            .basic_ack(position.offset, BasicAckOptions { multiple: true })
            .await?;
        self.acked = position.offset;
        Ok(())
    }

    /// Stops consuming, sends what is held, and acknowledges it once the
    /// pipeline's last commit holds it.
    async fn stop(&mut self, consumer: Consumer, context: &mut SourceContext) -> SessionEnd {
        // Deliveries already prefetched but not taken stay unacknowledged
        // and go back to the queue when the connection closes.
        let _ = self
            .channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await;
        if let Err(error) = self.flush(context).await {
            return SessionEnd::OutputClosed(error);
        }
        // The pipeline makes its last commit only after every source has
        // closed its output.
        let (closed, _) = tokio::sync::mpsc::channel(1);
        drop(std::mem::replace(&mut context.output, closed));
        let all_acknowledged = tokio::time::timeout(FINAL_COMMIT_WAIT, async {
            loop {
                let committed = context.committed.borrow_and_update().clone();
                if self.acknowledge(&committed).await.is_err() || self.acked >= self.sent {
                    return;
                }
                if context.committed.changed().await.is_err() {
                    let committed = context.committed.borrow().clone();
                    let _ = self.acknowledge(&committed).await;
                    return;
                }
            }
        })
        .await;
        if all_acknowledged.is_err() {
            tracing::warn!(
                source = %self.source,
                "the last commit did not come in time; unacknowledged messages will be delivered again"
            );
        }
        SessionEnd::Stopped
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The generation of this process's first channel: past every generation
/// of `queue` in the checkpoint, so that a tag committed by an earlier
/// process is never taken for one of ours.
fn first_generation(resume: &Checkpoint, source: &str, queue: &str) -> u64 {
    resume
        .streams(source)
        .filter_map(|position| {
            let (stream_queue, generation) = position.stream.rsplit_once('#')?;
            (stream_queue == queue).then(|| generation.parse::<u64>().ok())?
        })
        .max()
        .map_or(1, |last| last + 1)
}

/// Exponential backoff with jitter between reconnection attempts.
#[derive(Debug)]
struct Backoff {
    next: Duration,
    random: RandomState,
    draws: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: MIN_BACKOFF,
            random: RandomState::new(),
            draws: 0,
        }
    }
}

impl Backoff {
    /// A wait between half and all of the current step, then doubles the
    /// step: jitter keeps many consumers from reconnecting in lockstep
    /// after a broker restart.
    fn next_delay(&mut self) -> Duration {
        self.draws += 1;
        let fraction = (self.random.hash_one(self.draws) % 1000) as f64 / 1000.0;
        let delay = self.next.mul_f64(0.5 + fraction / 2.0);
        self.next = (self.next * 2).min(MAX_BACKOFF);
        delay
    }

    fn reset(&mut self) {
        self.next = MIN_BACKOFF;
    }
}

/// The records of one message, appended to `records`:
/// - a body that is a JSON array gives one record per element, each
///   serialised back to one line;
/// - a body that is one JSON object spread over several lines gives one
///   record, serialised back to one line;
/// - any other body (lines of JSON, of text, invalid UTF-8, broken JSON)
///   gives one record per line, which the parser marks if it cannot parse.
///
/// Records longer than `max_line_bytes` are cut and marked truncated.
fn split_message(
    source: &str,
    body: &[u8],
    properties: &BasicProperties,
    max_line_bytes: usize,
    records: &mut Vec<RawRecord>,
    counters: &SourceCounters,
) {
    let identity = message_identity(body, properties);
    let first = records.len();
    let push = |bytes: Vec<u8>, truncated: bool, records: &mut Vec<RawRecord>| {
        let index = (records.len() - first) as u64;
        let id = EventId::from_parts(&[
            source.as_bytes(),
            &identity.0.to_le_bytes(),
            &index.to_le_bytes(),
        ]);
        records.push(RawRecord {
            id,
            line: index + 1,
            bytes,
            truncated,
            peer_host: None,
        });
    };
    let trimmed = body.trim_ascii();
    let json_values = match trimmed.first() {
        Some(b'[') => serde_json::from_slice::<Vec<serde_json::Value>>(trimmed).ok(),
        // Lines of JSON end their first line with `}`; a pretty-printed
        // object does not, and only then is the whole body parsed.
        Some(b'{') if first_line_is_open(trimmed) => {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(trimmed)
                .ok()
                .map(|object| vec![serde_json::Value::Object(object)])
        }
        _ => None,
    };
    let mut truncated_count = 0;
    match json_values {
        Some(values) => {
            for value in values {
                let mut bytes = value.to_string().into_bytes();
                let truncated = bytes.len() > max_line_bytes;
                bytes.truncate(max_line_bytes);
                truncated_count += u64::from(truncated);
                push(bytes, truncated, records);
            }
        }
        None => {
            let mut splitter = LineSplitter::new(max_line_bytes, 0, 1);
            let mut at = 0;
            while at < body.len() {
                let (used, line) = splitter.split_next(&body[at..]);
                at += used;
                if let Some(line) = line {
                    truncated_count += u64::from(line.truncated);
                    push(line.bytes, line.truncated, records);
                }
            }
            if let Some(line) = splitter.finish() {
                truncated_count += u64::from(line.truncated);
                push(line.bytes, line.truncated, records);
            }
        }
    }
    counters
        .lines
        .fetch_add((records.len() - first) as u64, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    counters
        .truncated
        .fetch_add(truncated_count, Ordering::Relaxed);
}

/// Whether the first line of a body that starts with `{` leaves the
/// object open (a pretty-printed object) rather than closing it.
fn first_line_is_open(body: &[u8]) -> bool {
    match memchr::memchr(b'\n', body) {
        Some(newline) => !body[..newline].trim_ascii_end().ends_with(b"}"),
        None => false,
    }
}

/// What names a message across redeliveries: its `message_id`, or else its
/// body and `timestamp` (see the module documentation).
fn message_identity(body: &[u8], properties: &BasicProperties) -> EventId {
    match properties.message_id() {
        Some(message_id) => EventId::from_parts(&[b"message_id", message_id.as_str().as_bytes()]),
        None => {
            let timestamp = properties.timestamp().unwrap_or(0);
            EventId::from_parts(&[b"body", body, &timestamp.to_le_bytes()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &[u8], properties: &BasicProperties) -> Vec<RawRecord> {
        let mut records = Vec::new();
        split_message(
            "queue",
            body,
            properties,
            64,
            &mut records,
            &SourceCounters::default(),
        );
        records
    }

    fn texts(records: &[RawRecord]) -> Vec<String> {
        records
            .iter()
            .map(|record| String::from_utf8_lossy(&record.bytes).into_owned())
            .collect()
    }

    #[test]
    fn secret_urls_never_show_the_password() {
        let url = SecretUrl::new("amqp://ingest:s3cr3t:x@broker:5672/%2f");
        assert_eq!(url.to_string(), "amqp://ingest:****@broker:5672/%2f");
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert_eq!(url.expose(), "amqp://ingest:s3cr3t:x@broker:5672/%2f");
        assert_eq!(
            url.scrub("refused for ingest:s3cr3t:x"),
            "refused for ingest:****"
        );
        for plain in ["amqp://broker:5672/%2f", "amqp://user@broker/", "not a url"] {
            assert_eq!(SecretUrl::new(plain).to_string(), plain);
            assert_eq!(SecretUrl::new(plain).scrub("text"), "text");
        }
        let at_in_path = SecretUrl::new("amqp://u:p@h/vhost@x");
        assert_eq!(at_in_path.to_string(), "amqp://u:****@h/vhost@x");
    }

    #[test]
    fn bodies_split_into_lines_array_elements_or_one_object() {
        let none = BasicProperties::default();
        assert_eq!(
            texts(&split(b"one\r\ntwo\n\nthree\n", &none)),
            ["one", "two", "", "three"]
        );
        assert_eq!(
            texts(&split(b" [{\"a\": 1}, \"x\", 2]\n", &none)),
            ["{\"a\":1}", "\"x\"", "2"]
        );
        assert_eq!(
            texts(&split(b"{\n  \"a\": 1,\n  \"b\": [2]\n}\n", &none)),
            ["{\"a\":1,\"b\":[2]}"]
        );
        // Lines of JSON objects are lines.
        assert_eq!(
            texts(&split(b"{\"a\":1}\n{\"a\":2}", &none)),
            ["{\"a\":1}", "{\"a\":2}"]
        );
        // Broken JSON and invalid UTF-8 pass through as lines for the parser to mark.
        assert_eq!(texts(&split(b"[1, 2\nend", &none)), ["[1, 2", "end"]);
        let invalid = split(b"caf\xe9\n", &none);
        assert_eq!(invalid[0].bytes, b"caf\xe9");
        assert!(split(b"", &none).is_empty());
    }

    #[test]
    fn long_records_are_cut_and_marked() {
        let none = BasicProperties::default();
        let long = "x".repeat(100);
        let records = split(format!("{long}\nshort").as_bytes(), &none);
        assert!(records[0].truncated && records[0].bytes.len() == 64);
        assert!(!records[1].truncated);
        let records = split(format!("[\"{long}\"]").as_bytes(), &none);
        assert!(records[0].truncated && records[0].bytes.len() == 64);
    }

    #[test]
    fn ids_follow_the_message_not_the_delivery() {
        let none = BasicProperties::default();
        let first = split(b"a\nb", &none);
        assert_eq!(first, split(b"a\nb", &none));
        assert_ne!(first[0].id, first[1].id);
        assert_eq!((first[0].line, first[1].line), (1, 2));

        let stamped = BasicProperties::default().with_timestamp(1_700_000_000);
        assert_ne!(split(b"a\nb", &stamped)[0].id, first[0].id);

        let named = |id: &str| BasicProperties::default().with_message_id(id.into());
        assert_eq!(
            split(b"a", &named("m-1"))[0].id,
            split(b"z", &named("m-1"))[0].id
        );
        assert_ne!(
            split(b"a", &named("m-1"))[0].id,
            split(b"a", &named("m-2"))[0].id
        );
    }

    #[test]
    fn new_processes_start_past_the_committed_generations() {
        let mut checkpoint = Checkpoint::default();
        assert_eq!(first_generation(&checkpoint, "q", "logs"), 1);
        for stream in ["logs#3", "logs#12", "other#40", "logs#bad"] {
            checkpoint.advance(
                "q",
                Position {
                    stream: stream.into(),
                    path: None,
                    offset: 7,
                    line: 0,
                },
            );
        }
        assert_eq!(first_generation(&checkpoint, "q", "logs"), 13);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= MIN_BACKOFF / 2 && delays[0] <= MIN_BACKOFF);
        assert!(delays[9] >= MAX_BACKOFF / 2 && delays[9] <= MAX_BACKOFF);
        backoff.reset();
        assert!(backoff.next_delay() <= MIN_BACKOFF);
    }
}
