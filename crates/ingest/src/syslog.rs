//! Syslog listeners: UDP datagrams, TCP streams and TLS over TCP
//! (RFC 5426, RFC 6587, RFC 5425).
//!
//! A [`SyslogSource`] binds its socket when it is built, so that a port in
//! use or an unreadable certificate stops start-up with the address or
//! path, before anything else runs; [`SyslogSource::local_address`] tells
//! the address actually bound (port 0 picks a free one). It binds exactly
//! the configured address: nothing listens anywhere else.
//!
//! Each message becomes one record whose `peer_host` is the sender's IP
//! address, which the parser uses as host when the message names none.
//! Record ids hash the source name, the moment the source was bound, the
//! connection and the message's number on it: syslog is never redelivered,
//! so ids only need to be unique.
//!
//! # Batches and backpressure
//!
//! Every connection (and the UDP socket) fills its own batch and sends it
//! when it holds `batch_lines` records or when its oldest record has waited
//! `batch_interval`, so that a sender of a few lines a minute is indexed
//! promptly too.
//!
//! - TCP and TLS: a connection waits in the bounded channel's `send` while
//!   the pipeline is behind, and does not read its socket meanwhile: the
//!   kernel buffers fill and TCP flow control slows the sender down. At
//!   most `max_connections` are served at a time; further clients wait in
//!   the listen backlog until one closes.
//! - UDP has no flow control, and a socket not read for a while loses
//!   datagrams silently in the kernel. The socket is therefore always read
//!   (into a large receive buffer), complete batches wait in a small queue
//!   for room in the channel, and a datagram that finds the queue full is
//!   dropped and counted in `dropped`. Datagrams the kernel dropped for
//!   want of buffer space are added to `dropped` when the source stops
//!   (on Linux, from `/proc/net/udp`).
//!
//! # What a stop or a crash loses
//!
//! Batches carry no position: a listener cannot ask a sender to send again.
//! On shutdown the source stops accepting, reads what connections and the
//! UDP socket have already received until each has been quiet for 100 ms,
//! sends it, and returns: a graceful stop loses nothing that reached the
//! machine before it. (A client that never pauses is cut off after 30
//! seconds.) A crash loses what was received since the last index commit,
//! so at most one commit interval of messages.
//!
//! # Bad input
//!
//! A message longer than `max_message_bytes` is cut and marked truncated,
//! and the connection goes on (see the `framing` module). A TCP stream that
//! cannot be framed (an octet count that is not a number, or absurdly
//! large), or a TLS handshake that fails, closes that connection only, with
//! a warning and a count in `protocol_errors`.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use firewatch_event::{Batch, EventId, RawRecord, Timestamp};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::IngestError;
use crate::file::DEFAULT_BATCH_LINES;
use crate::framing::{FramingError, SyslogFrame, SyslogFrameDecoder};
use crate::source::{Source, SourceContext, SourceFuture};

/// Default longest message: 64 KiB, the largest a UDP datagram can carry.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 10;

/// Default most connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Default longest wait of a received message before its batch is sent.
pub const DEFAULT_SYSLOG_BATCH_INTERVAL: Duration = Duration::from_millis(200);

/// On shutdown, a connection is read until it has been quiet this long.
const DRAIN_QUIET: Duration = Duration::from_millis(100);

/// On shutdown, a connection that never goes quiet is closed after this.
/// It is generous: while the pipeline is behind, a connection's unread
/// backlog takes a while to index, and closing early would lose it.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Complete UDP batches waiting for room in the channel; beyond them,
/// datagrams are dropped.
const UDP_QUEUE_BATCHES: usize = 16;

/// Receive buffer asked of the kernel for a UDP socket (it may grant less;
/// Linux caps it at `net.core.rmem_max`).
const UDP_RECEIVE_BUFFER_BYTES: usize = 8 << 20;

/// Largest UDP payload.
const MAX_DATAGRAM_BYTES: usize = 65_535;

/// Bytes asked of a TCP socket per read.
const READ_CHUNK_BYTES: usize = 64 << 10;

/// Pending TCP connections the kernel queues while all are busy.
const LISTEN_BACKLOG: i32 = 1024;

/// A TLS client that has not finished its handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How messages reach a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One message per datagram (RFC 5426).
    Udp,
    /// A stream of framed messages (RFC 6587).
    Tcp,
    /// The same stream inside TLS (RFC 5425).
    Tls,
}

/// Where a syslog source listens: `udp://`, `tcp://` or `tls://`, then an
/// IP address and a port (`tcp://127.0.0.1:5514`, `udp://[::1]:5514`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddress {
    /// The protocol.
    pub transport: Transport,
    /// The address bound, exactly as given.
    pub address: SocketAddr,
}

impl FromStr for ListenAddress {
    type Err = IngestError;

    fn from_str(text: &str) -> Result<Self, IngestError> {
        let invalid = |reason: &str| IngestError::InvalidListenAddress {
            address: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("expected udp://, tcp:// or tls:// before the address"))?;
        let transport = match scheme {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(invalid("the scheme must be udp, tcp or tls")),
        };
        let address = rest.parse().map_err(|_| {
            invalid("expected an IP address and a port, like 127.0.0.1:5514 or [::1]:5514")
        })?;
        Ok(Self { transport, address })
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        write!(f, "{scheme}://{}", self.address)
    }
}

/// The PEM files of a TLS listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Settings of a [`SyslogSource`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogSourceConfig {
    /// The source's name, which is also the `source` of its events.
    pub name: String,
    /// Where to listen. The default is `tcp://127.0.0.1:5514`: loopback only.
    pub listen: ListenAddress,
    /// Longest message in bytes: longer ones are cut and marked truncated.
    pub max_message_bytes: usize,
    /// Certificate and key, for `tls://` only.
    pub tls: Option<TlsFiles>,
    /// Most TCP or TLS connections served at once.
    pub max_connections: usize,
    /// Most records in one batch.
    pub batch_lines: usize,
    /// Longest a received message waits before its batch is sent.
    pub batch_interval: Duration,
}

impl Default for SyslogSourceConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            listen: ListenAddress {
                transport: Transport::Tcp,
                address: SocketAddr::from(([127, 0, 0, 1], 5514)),
            },
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            batch_lines: DEFAULT_BATCH_LINES,
            batch_interval: DEFAULT_SYSLOG_BATCH_INTERVAL,
        }
    }
}

/// A bound syslog listener.
#[derive(Debug)]
pub struct SyslogSource {
    config: SyslogSourceConfig,
    socket: BoundSocket,
    local_address: SocketAddr,
}

enum BoundSocket {
    Udp(UdpSocket),
    Tcp(TcpListener, Option<TlsAcceptor>),
}

impl fmt::Debug for BoundSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Udp(socket) => f.debug_tuple("Udp").field(socket).finish(),
            Self::Tcp(listener, tls) => f
                .debug_struct("Tcp")
                .field("listener", listener)
                .field("tls", &tls.is_some())
                .finish(),
        }
    }
}

impl SyslogSource {
    /// Binds the configured address (and reads the TLS files). Must be
    /// called within a tokio runtime.
    pub fn bind(config: SyslogSourceConfig) -> Result<Self, IngestError> {
        let address = config.listen.address;
        let bind_error = |error| IngestError::Bind {
            source_name: config.name.clone(),
            address: config.listen.to_string(),
            error,
        };
        let socket = match config.listen.transport {
            Transport::Udp => BoundSocket::Udp(bind_udp(address).map_err(bind_error)?),
            Transport::Tcp | Transport::Tls => {
                let acceptor = match (&config.tls, config.listen.transport) {
                    (Some(files), Transport::Tls) => Some(tls_acceptor(files)?),
                    (None, Transport::Tls) => {
                        return Err(IngestError::InvalidListenAddress {
                            address: config.listen.to_string(),
                            reason: "a tls:// listener needs a certificate and a key".into(),
                        });
                    }
                    _ => None,
                };
                BoundSocket::Tcp(bind_tcp(address).map_err(bind_error)?, acceptor)
            }
        };
        let local_address = match &socket {
            BoundSocket::Udp(socket) => socket.local_addr(),
            BoundSocket::Tcp(listener, _) => listener.local_addr(),
        }
        .map_err(bind_error)?;
        Ok(Self {
            config,
            socket,
            local_address,
        })
    }

    /// The address the socket is bound to (with the port picked by the
    /// system when the configuration said 0).
    pub fn local_address(&self) -> SocketAddr {
        self.local_address
    }
}

fn bind_udp(address: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // A bigger buffer rides out bursts while the queue is full; the kernel
    // may grant less, which is not an error.
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    UdpSocket::from_std(socket.into())
}

fn bind_tcp(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // A restarted firewatch can bind again while old connections linger
    // in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, IngestError> {
    let file_error = |path: &Path, reason: String| IngestError::TlsFile {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| file_error(&files.cert, error.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|error| file_error(&files.key, error.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
    .map_err(|error| IngestError::TlsConfig {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason: error.to_string(),
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Source for SyslogSource {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(async move {
            let intake = Arc::new(Intake {
                source: self.config.name.as_str().into(),
                bound_at: Timestamp::now().as_nanosecond().to_le_bytes(),
                max_message_bytes: self.config.max_message_bytes.max(1),
                batch_lines: self.config.batch_lines.max(1),
                batch_interval: self.config.batch_interval,
                context,
            });
            let listen = ListenAddress {
                address: self.local_address,
                ..self.config.listen
            };
            tracing::info!(source = %intake.source, %listen, "listening");
            let outcome = match self.socket {
                BoundSocket::Udp(socket) => serve_udp(socket, &intake).await,
                BoundSocket::Tcp(listener, tls) => {
                    serve_tcp(listener, tls, self.config.max_connections, &intake).await
                }
            };
            intake.context.settle(outcome)
        })
    }
}

/// What every task of one source shares.
struct Intake {
    source: Arc<str>,
    /// Makes ids unique across runs of the same source.
    bound_at: [u8; 16],
    max_message_bytes: usize,
    batch_lines: usize,
    batch_interval: Duration,
    context: SourceContext,
}

/// The batch one stream (a connection, or the UDP socket) is filling.
struct MessageBatch {
    stream_key: String,
    messages: u64,
    records: Vec<RawRecord>,
    truncated: u64,
    oldest: Option<Instant>,
}

impl MessageBatch {
    fn new(stream_key: String, intake: &Intake) -> Self {
        Self {
            stream_key,
            messages: 0,
            records: Vec::with_capacity(intake.batch_lines),
            truncated: 0,
            oldest: None,
        }
    }

    fn push(&mut self, frame: SyslogFrame, peer_host: &Arc<str>, intake: &Intake) {
        self.messages += 1;
        let id = EventId::from_parts(&[
            intake.source.as_bytes(),
            &intake.bound_at,
            self.stream_key.as_bytes(),
            &self.messages.to_le_bytes(),
        ]);
        self.truncated += u64::from(frame.truncated);
        self.oldest.get_or_insert_with(Instant::now);
        self.records.push(RawRecord {
            id,
            line: self.messages,
            bytes: frame.bytes,
            truncated: frame.truncated,
            peer_host: Some(Arc::clone(peer_host)),
        });
    }

    fn is_full(&self, intake: &Intake) -> bool {
        self.records.len() >= intake.batch_lines
    }

    /// When the batch must be sent even if not full.
    fn due(&self, intake: &Intake) -> Option<Instant> {
        self.oldest.map(|oldest| oldest + intake.batch_interval)
    }

    /// The records as a batch, counted as read; `None` when empty.
    fn take(&mut self, intake: &Intake) -> Option<Batch> {
        if self.records.is_empty() {
            return None;
        }
        let records = std::mem::replace(&mut self.records, Vec::with_capacity(intake.batch_lines));
        let counters = &intake.context.counters;
        counters
            .lines
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        counters
            .truncated
            .fetch_add(std::mem::take(&mut self.truncated), Ordering::Relaxed);
        self.oldest = None;
        Some(Batch {
            source: Arc::clone(&intake.source),
            received: Timestamp::now(),
            records,
            position: None,
            redelivered: false,
        })
    }

    /// Sends the batch, waiting for room in the channel.
    async fn send(&mut self, intake: &Intake) -> Result<(), IngestError> {
        match self.take(intake) {
            Some(batch) => intake.context.deliver(batch).await,
            None => Ok(()),
        }
    }
}

/// A deadline far enough away to never fire, for a disabled timer branch.
fn never() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

async fn serve_udp(socket: UdpSocket, intake: &Intake) -> Result<(), IngestError> {
    intake
        .context
        .counters
        .files
        .fetch_add(1, Ordering::Relaxed);
    let mut datagram = vec![0; MAX_DATAGRAM_BYTES];
    let mut queue = DatagramQueue {
        batch: MessageBatch::new("udp".to_owned(), intake),
        ready: VecDeque::with_capacity(UDP_QUEUE_BATCHES),
        last_peer: None,
    };
    loop {
        let due = queue
            .batch
            .due(intake)
            .filter(|_| queue.ready.len() < UDP_QUEUE_BATCHES);
        tokio::select! {
            biased;
            () = intake.context.shutdown.cancelled() => break,
            permit = intake.context.output.reserve(), if !queue.ready.is_empty() => {
                let permit = permit.map_err(|_| IngestError::OutputClosed {
                    source_name: intake.source.to_string(),
                })?;
                if let Some(batch) = queue.ready.pop_front() {
                    permit.send(batch);
                }
            }
            received = socket.recv_from(&mut datagram) => match received {
                Ok((length, peer)) => queue.receive(&datagram[..length], peer, intake),
                // ICMP errors surface here on some systems; the socket
                // itself is fine.
                Err(error) => {
                    tracing::debug!(source = %intake.source, %error, "udp receive failed");
                }
            },
            () = tokio::time::sleep_until(due.unwrap_or_else(never)), if due.is_some() => {
                queue.ready.extend(queue.batch.take(intake));
            }
        }
    }
    // Shutdown: take what the kernel already holds, then send everything.
    while let Ok((length, peer)) = socket.try_recv_from(&mut datagram) {
        queue.receive(&datagram[..length], peer, intake);
    }
    if let Some(dropped) = socket.local_addr().ok().and_then(kernel_drops) {
        intake
            .context
            .counters
            .dropped
            .fetch_add(dropped, Ordering::Relaxed);
    }
    queue.ready.extend(queue.batch.take(intake));
    for batch in queue.ready {
        intake.context.deliver(batch).await?;
    }
    Ok(())
}

/// UDP messages on their way to the channel: the batch being filled and
/// complete batches waiting for room.
struct DatagramQueue {
    batch: MessageBatch,
    ready: VecDeque<Batch>,
    /// The last sender, whose host name is reused while it keeps sending.
    last_peer: Option<(IpAddr, Arc<str>)>,
}

impl DatagramQueue {
    fn receive(&mut self, datagram: &[u8], peer: SocketAddr, intake: &Intake) {
        let counters = &intake.context.counters;
        counters
            .bytes
            .fetch_add(datagram.len() as u64, Ordering::Relaxed);
        if self.batch.is_full(intake) {
            if self.ready.len() == UDP_QUEUE_BATCHES {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.ready.extend(self.batch.take(intake));
        }
        let peer_host = match &self.last_peer {
            Some((ip, host)) if *ip == peer.ip() => Arc::clone(host),
            _ => {
                let host: Arc<str> = peer.ip().to_string().into();
                self.last_peer = Some((peer.ip(), Arc::clone(&host)));
                host
            }
        };
        self.batch
            .push(datagram_frame(datagram, intake), &peer_host, intake);
    }
}

/// Datagrams the kernel dropped because the socket's receive buffer was
/// full, from the `drops` column of Linux's `/proc/net/udp` (or `udp6`);
/// `None` where that is not available.
fn kernel_drops(local: SocketAddr) -> Option<u64> {
    // The kernel prints each 32-bit word of the address in host byte
    // order, then the port, in hexadecimal.
    let (table, address) = match local.ip() {
        IpAddr::V4(ip) => (
            "/proc/net/udp",
            format!("{:08X}", u32::from_ne_bytes(ip.octets())),
        ),
        IpAddr::V6(ip) => (
            "/proc/net/udp6",
            ip.octets()
                .chunks_exact(4)
                .map(|word| {
                    format!(
                        "{:08X}",
                        u32::from_ne_bytes([word[0], word[1], word[2], word[3]])
                    )
                })
                .collect(),
        ),
    };
    let wanted = format!("{address}:{:04X}", local.port());
    let text = std::fs::read_to_string(table).ok()?;
    text.lines()
        .find(|line| line.split_whitespace().nth(1) == Some(wanted.as_str()))
        .and_then(|line| line.split_whitespace().last()?.parse().ok())
}

/// One datagram as a frame: cut at the limit, without a trailing line end.
fn datagram_frame(datagram: &[u8], intake: &Intake) -> SyslogFrame {
    let mut message = datagram;
    if let Some(rest) = message.strip_suffix(b"\n") {
        message = rest.strip_suffix(b"\r").unwrap_or(rest);
    }
    let truncated = message.len() > intake.max_message_bytes;
    SyslogFrame {
        bytes: message[..message.len().min(intake.max_message_bytes)].to_vec(),
        truncated,
    }
}

async fn serve_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    max_connections: usize,
    intake: &Arc<Intake>,
) -> Result<(), IngestError> {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let sequence = AtomicU64::new(0);
    let mut connections = JoinSet::new();
    let mut outcome = Ok(());
    let start = |stream: TcpStream,
                 peer: SocketAddr,
                 slot: Option<OwnedSemaphorePermit>,
                 connections: &mut JoinSet<Result<(), IngestError>>| {
        let number = sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let intake = Arc::clone(intake);
        let tls = tls.clone();
        connections.spawn(async move {
            let outcome = serve_connection(stream, peer, number, tls, &intake).await;
            drop(slot);
            outcome
        });
    };
    loop {
        while let Some(finished) = connections.try_join_next() {
            outcome = outcome.and(connection_outcome(finished));
        }
        // Waiting for a free slot before accepting leaves extra clients in
        // the backlog, where TCP makes them wait.
        let slot = tokio::select! {
            () = intake.context.shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        tokio::select! {
            () = intake.context.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => start(stream, peer, Some(slot), &mut connections),
                Err(error) => {
                    // Out of file descriptors, usually: wait for some to close.
                    tracing::warn!(source = %intake.source, %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    // Shutdown: serve the connections that were already established and
    // are waiting in the backlog, so that what they sent is not lost.
    while let Some(Ok((stream, peer))) = tokio::select! {
        biased;
        accepted = listener.accept() => Some(accepted),
        () = std::future::ready(()) => None,
    } {
        start(stream, peer, None, &mut connections);
    }
    while let Some(finished) = connections.join_next().await {
        outcome = outcome.and(connection_outcome(finished));
    }
    outcome
}

fn connection_outcome(
    finished: Result<Result<(), IngestError>, tokio::task::JoinError>,
) -> Result<(), IngestError> {
    match finished {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Ok(()),
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    number: u64,
    tls: Option<TlsAcceptor>,
    intake: &Intake,
) -> Result<(), IngestError> {
    intake
        .context
        .counters
        .files
        .fetch_add(1, Ordering::Relaxed);
    let stream_key = format!("{peer}#{number}");
    let Some(acceptor) = tls else {
        return read_messages(stream, peer, stream_key, intake).await;
    };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => read_messages(stream, peer, stream_key, intake).await,
        Ok(Err(error)) => {
            protocol_error(intake, peer, &error.to_string());
            Ok(())
        }
        Err(_) => {
            protocol_error(intake, peer, "tls handshake timed out");
            Ok(())
        }
    }
}

fn protocol_error(intake: &Intake, peer: SocketAddr, error: &str) {
    intake
        .context
        .counters
        .protocol_errors
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(source = %intake.source, %peer, %error, "closing the connection");
}

/// Reads one connection's messages until it closes, breaks the protocol,
/// or goes quiet after shutdown.
async fn read_messages<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    stream_key: String,
    intake: &Intake,
) -> Result<(), IngestError> {
    let peer_host: Arc<str> = peer.ip().to_string().into();
    let mut decoder = SyslogFrameDecoder::new(intake.max_message_bytes);
    let mut buffer = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut batch = MessageBatch::new(stream_key, intake);
    let mut drain_until = None;
    loop {
        let due = batch.due(intake);
        let draining = drain_until.is_some();
        let drain_deadline = drain_until.unwrap_or_else(never);
        buffer.reserve(READ_CHUNK_BYTES);
        let read = tokio::select! {
            // `read_buf` is cancel safe: when another branch wins, no byte is lost.
            read = stream.read_buf(&mut buffer) => read,
            () = tokio::time::sleep_until(due.unwrap_or_else(never)), if due.is_some() => {
                batch.send(intake).await?;
                continue;
            }
            () = intake.context.shutdown.cancelled(), if drain_until.is_none() => {
                drain_until = Some(Instant::now() + DRAIN_LIMIT);
                continue;
            }
            () = tokio::time::sleep(DRAIN_QUIET), if draining => break,
            () = tokio::time::sleep_until(drain_deadline), if draining => break,
        };
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                tracing::debug!(source = %intake.source, %peer, %error, "connection lost");
                break;
            }
        };
        intake
            .context
            .counters
            .bytes
            .fetch_add(read as u64, Ordering::Relaxed);
        let at_end = read == 0;
        loop {
            let decoded = if at_end {
                decoder.decode_eof(&mut buffer)
            } else {
                decoder.decode(&mut buffer)
            };
            match decoded {
                Ok(Some(frame)) => {
                    batch.push(frame, &peer_host, intake);
                    if batch.is_full(intake) {
                        batch.send(intake).await?;
                    }
                }
                Ok(None) => break,
                Err(FramingError::Io(error)) => {
                    tracing::debug!(source = %intake.source, %peer, %error, "connection lost");
                    return batch.send(intake).await;
                }
                Err(error) => {
                    protocol_error(intake, peer, &error.to_string());
                    return batch.send(intake).await;
                }
            }
        }
        if at_end {
            break;
        }
    }
    batch.send(intake).await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    use super::*;

    fn config(listen: &str) -> SyslogSourceConfig {
        SyslogSourceConfig {
            name: "net".into(),
            listen: listen.parse().unwrap(),
            max_message_bytes: 64,
            batch_interval: Duration::from_millis(20),
            ..SyslogSourceConfig::default()
        }
    }

    struct Running {
        address: SocketAddr,
        batches: mpsc::Receiver<Batch>,
        shutdown: CancellationToken,
        counters: Arc<crate::SourceCounters>,
        task: tokio::task::JoinHandle<Result<(), IngestError>>,
    }

    fn start(config: SyslogSourceConfig, channel: usize) -> Running {
        let source = SyslogSource::bind(config).unwrap();
        let address = source.local_address();
        let (output, batches) = mpsc::channel(channel);
        let context = SourceContext {
            output,
            resume: Default::default(),
            shutdown: CancellationToken::new(),
            counters: Arc::default(),
            committed: watch::channel(Default::default()).1,
        };
        let shutdown = context.shutdown.clone();
        let counters = Arc::clone(&context.counters);
        let task = tokio::spawn(Box::new(source).run(context));
        Running {
            address,
            batches,
            shutdown,
            counters,
            task,
        }
    }

    impl Running {
        async fn records(&mut self, count: usize) -> Vec<RawRecord> {
            let mut records = Vec::new();
            while records.len() < count {
                let batch = tokio::time::timeout(Duration::from_secs(10), self.batches.recv())
                    .await
                    .expect("records in time")
                    .expect("the source is running");
                assert!(batch.position.is_none());
                records.extend(batch.records);
            }
            records
        }

        async fn stop(mut self) -> Vec<RawRecord> {
            self.shutdown.cancel();
            let mut records = Vec::new();
            while let Some(batch) = self.batches.recv().await {
                records.extend(batch.records);
            }
            self.task.await.unwrap().unwrap();
            records
        }
    }

    fn texts(records: &[RawRecord]) -> Vec<String> {
        records
            .iter()
            .map(|record| String::from_utf8_lossy(&record.bytes).into_owned())
            .collect()
    }

    #[test]
    fn listen_addresses_name_a_scheme_an_ip_and_a_port() {
        let parsed: ListenAddress = "tls://[::1]:6514".parse().unwrap();
        assert_eq!(parsed.transport, Transport::Tls);
        assert_eq!(parsed.to_string(), "tls://[::1]:6514");
        for bad in [
            "127.0.0.1:5514",
            "http://127.0.0.1:80",
            "tcp://localhost:5514",
            "udp://127.0.0.1",
        ] {
            let error = bad.parse::<ListenAddress>().unwrap_err().to_string();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[tokio::test]
    async fn tcp_clients_in_either_framing_are_read_side_by_side() {
        let mut running = start(config("tcp://127.0.0.1:0"), 16);
        let mut counted = TcpStream::connect(running.address).await.unwrap();
        let mut lines = TcpStream::connect(running.address).await.unwrap();
        counted.write_all(b"19 <13>1 - - - - - one").await.unwrap();
        lines.write_all(b"<13>two\r\n<13>three\n").await.unwrap();
        let mut got = texts(&running.records(3).await);
        got.sort();
        assert_eq!(got, ["<13>1 - - - - - one", "<13>three", "<13>two"]);

        let long = format!("<13>{}\n", "x".repeat(100));
        lines.write_all(long.as_bytes()).await.unwrap();
        lines.write_all(b"<13>after\n").await.unwrap();
        let records = running.records(2).await;
        assert!(records[0].truncated);
        assert_eq!(records[0].bytes.len(), 64);
        assert_eq!(texts(&records[1..]), ["<13>after"]);
        assert_eq!(records[1].peer_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(records[1].line, 4, "the fourth message of its connection");
        drop((counted, lines));

        let counters = running.counters.snapshot();
        assert_eq!(
            (counters.lines, counters.truncated, counters.files),
            (5, 1, 2)
        );
        assert!(running.stop().await.is_empty());
    }

    #[tokio::test]
    async fn a_bad_octet_count_closes_that_connection_only() {
        let mut running = start(config("tcp://127.0.0.1:0"), 16);
        let mut good = TcpStream::connect(running.address).await.unwrap();
        for junk in [&b"12x <13>junk"[..], b"99999999999 <13>absurd"] {
            let mut bad = TcpStream::connect(running.address).await.unwrap();
            bad.write_all(junk).await.unwrap();
            let mut rest = Vec::new();
            // The server closes the connection: reading ends.
            tokio::time::timeout(Duration::from_secs(10), bad.read_to_end(&mut rest))
                .await
                .expect("closed in time")
                .ok();
        }
        good.write_all(b"<13>still here\n").await.unwrap();
        assert_eq!(texts(&running.records(1).await), ["<13>still here"]);
        assert_eq!(running.counters.snapshot().protocol_errors, 2);
        drop(good);
        running.stop().await;
    }

    #[tokio::test]
    async fn a_full_channel_stops_reading_the_socket_until_there_is_room() {
        let mut config = config("tcp://127.0.0.1:0");
        config.batch_lines = 4;
        let mut running = start(config, 1);
        let mut sent = Vec::new();
        for number in 0..200_000 {
            sent.extend_from_slice(format!("<13>message {number}\n").as_bytes());
        }
        let total = sent.len() as u64;
        let mut client = TcpStream::connect(running.address).await.unwrap();
        let writer = tokio::spawn(async move { client.write_all(&sent).await });
        // Nobody takes batches: the source reads a little, then stops
        // reading (the rest waits in the kernel's buffers, then the sender
        // is held back by TCP).
        let counters = Arc::clone(&running.counters);
        let mut last = u64::MAX;
        while counters.snapshot().bytes != last {
            last = counters.snapshot().bytes;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(last < total / 2, "read {last} of {total} bytes");
        // Room again: everything arrives.
        let records = running.records(200_000).await;
        assert_eq!(records.len(), 200_000);
        writer.await.unwrap().unwrap();
        running.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_beyond_max_connections_wait_their_turn() {
        let mut config = config("tcp://127.0.0.1:0");
        config.max_connections = 4;
        let mut running = start(config, 64);
        let mut clients = JoinSet::new();
        for client in 0..50 {
            let address = running.address;
            clients.spawn(async move {
                let mut stream = TcpStream::connect(address).await.unwrap();
                for number in 0..10 {
                    let message = format!("<13>client {client} message {number}\n");
                    stream.write_all(message.as_bytes()).await.unwrap();
                }
            });
        }
        clients.join_all().await;
        let records = running.records(500).await;
        let unique: std::collections::HashSet<_> = texts(&records).into_iter().collect();
        assert_eq!(unique.len(), 500);
        assert_eq!(running.counters.snapshot().files, 50);
        running.stop().await;
    }

    #[tokio::test]
    async fn shutdown_drains_what_connections_already_sent() {
        let running = start(config("tcp://127.0.0.1:0"), 1024);
        let mut client = TcpStream::connect(running.address).await.unwrap();
        let mut sent = Vec::new();
        for number in 0..2000 {
            sent.extend_from_slice(format!("<13>message {number}\n").as_bytes());
        }
        client.write_all(&sent).await.unwrap();
        // A connection still in the listen backlog is drained too.
        let mut late = TcpStream::connect(running.address).await.unwrap();
        late.write_all(b"<13>late\n").await.unwrap();
        let records = running.stop().await;
        assert_eq!(records.len(), 2001);
        let ids: std::collections::HashSet<_> = records.iter().map(|record| record.id).collect();
        assert_eq!(ids.len(), 2001, "ids are unique");
    }

    #[test]
    fn kernel_drops_are_read_for_a_bound_socket() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        if std::path::Path::new("/proc/net/udp").exists() {
            assert_eq!(kernel_drops(local), Some(0));
        }
        let unbound = SocketAddr::from(([127, 0, 0, 1], local.port() ^ 1));
        if kernel_drops(unbound).is_some() {
            // Another socket happens to hold the neighbouring port.
            return;
        }
        assert_eq!(kernel_drops(unbound), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn udp_datagrams_are_messages_and_drops_are_counted() {
        let mut config = config("udp://127.0.0.1:0");
        config.batch_lines = 4;
        let mut running = start(config, 1);
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender
            .send_to(b"<13>Nov 20 09:40:12 web-01 app: one\n", running.address)
            .unwrap();
        let records = running.records(1).await;
        assert_eq!(texts(&records), ["<13>Nov 20 09:40:12 web-01 app: one"]);
        assert_eq!(records[0].peer_host.as_deref(), Some("127.0.0.1"));

        // Nobody takes batches now: the queue fills, then datagrams drop.
        let counters = Arc::clone(&running.counters);
        let first_bytes = counters.snapshot().bytes;
        let sent = 200;
        let mut sent_bytes = 0;
        for number in 0..sent {
            let message = format!("<13>m{number}");
            sent_bytes += sender.send_to(message.as_bytes(), running.address).unwrap() as u64;
            if number % 20 == 0 {
                // Small bursts, so that the kernel's buffer never overflows.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while counters.snapshot().bytes < first_bytes + sent_bytes {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("every datagram received");
        let delivered = running.stop().await.len() as u64;
        let counted = counters.snapshot();
        assert!(counted.dropped > 0, "the queue is small: some must drop");
        assert_eq!(
            delivered + counted.dropped,
            sent,
            "each datagram delivered or counted"
        );
    }

    /// A self-signed certificate for 127.0.0.1, made by the `openssl` tool.
    fn certificate(dir: &Path) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        let status = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args([
                "-subj",
                "/CN=firewatch",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .arg("-keyout")
            .arg(&files.key)
            .arg("-out")
            .arg(&files.cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success());
        files
    }

    #[tokio::test]
    async fn tls_clients_are_read_and_bad_handshakes_counted() {
        let dir = tempfile::tempdir().unwrap();
        let files = certificate(dir.path());
        let mut config = config("tls://127.0.0.1:0");
        config.tls = Some(files.clone());
        let mut running = start(config, 16);

        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&files.cert).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = TcpStream::connect(running.address).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"17 <13>1 - - - - - x<14>y\n").await.unwrap();
        tls.flush().await.unwrap();
        assert_eq!(
            texts(&running.records(2).await),
            ["<13>1 - - - - - x", "<14>y"]
        );

        let mut plain = TcpStream::connect(running.address).await.unwrap();
        plain.write_all(b"<13>not tls\n").await.unwrap();
        let mut rest = Vec::new();
        let _ = plain.read_to_end(&mut rest).await;
        assert_eq!(running.counters.snapshot().protocol_errors, 1);
        drop(tls);
        running.stop().await;
    }

    #[tokio::test]
    async fn unusable_tls_files_stop_start_up_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let files = certificate(dir.path());
        let mut config = config("tls://127.0.0.1:0");
        let missing = dir.path().join("missing.pem");
        config.tls = Some(TlsFiles {
            cert: files.cert.clone(),
            key: missing.clone(),
        });
        let error = SyslogSource::bind(config.clone()).unwrap_err().to_string();
        assert!(error.contains(&missing.display().to_string()), "{error}");

        config.tls = Some(TlsFiles {
            cert: files.key.clone(),
            key: files.key.clone(),
        });
        let error = SyslogSource::bind(config.clone()).unwrap_err().to_string();
        assert!(error.contains("no certificate"), "{error}");

        config.tls = None;
        let error = SyslogSource::bind(config).unwrap_err().to_string();
        assert!(error.contains("needs a certificate"), "{error}");
    }
}
