//! `intake`: `firewatch run` fed over loopback, beside the same binary
//! reading the same events from a file.
//!
//! Four ways in, each its own row:
//!
//! - **file** (the baseline, once per format): one file source, read once.
//! - **syslog TCP**: a `tcp://127.0.0.1:PORT` listener, [`CONNECTIONS`]
//!   sender threads of this process, each on its own connection with a
//!   contiguous share of the syslog corpus, one octet-counted frame per line
//!   (the line as it is in the file).
//! - **syslog UDP**: the same senders on `udp://`, one datagram per line, as
//!   fast as the kernel takes them. UDP has no back-pressure, so the row
//!   counts what was delivered, and the note what was offered and what was
//!   dropped (the run summary's `dropped`, which includes the kernel's).
//! - **RabbitMQ**: a fresh queue, consumed by an `amqp` source while
//!   [`PUBLISHERS`] publisher tasks of this process send the JSON corpus,
//!   [`LINES_PER_MESSAGE`] lines per message, with publisher confirms. The
//!   queue is deleted afterwards. Without a broker the row is skipped with a
//!   note on standard error.
//!
//! A network source never ends by itself: the harness polls `firewatch
//! index stats --json` until every event sent is committed, then sends
//! SIGTERM and waits for the exit (the final drain and commit are in the
//! figure). Every pipeline commits every [`COMMIT_INTERVAL`], so that the
//! last events are not left waiting for the default interval. For UDP, where
//! some events never arrive, the poll ends when the count has not moved for
//! [`UDP_SETTLED`], and the figure runs to the last poll that saw it grow.
//!
//! Peak RSS comes from GNU time as for every external row; firewatch runs as
//! its child, so the signal goes to firewatch's own process id, found in
//! `/proc`.

use std::fmt;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::Value;

use crate::Bench;
use crate::corpus::{Corpus, CorpusFormat};
use crate::external::{External, Finished, GNU_TIME, parse_peak_rss};
use crate::report::{Measurement, median_of};
use crate::run::{firewatch_binary, indexed_events, last_summary};
use crate::scratch::fresh_dir;

const STAGE: &str = "intake";

/// Sender threads (and connections) of the syslog rows.
const CONNECTIONS: usize = 4;

/// Publisher tasks (one channel each) of the RabbitMQ row.
const PUBLISHERS: usize = 4;

/// Corpus lines per RabbitMQ message.
const LINES_PER_MESSAGE: usize = 100;

/// The variable with the broker URL, for the harness and (set by it) for
/// the firewatch it starts.
const AMQP_URL_VARIABLE: &str = "FIREWATCH_BENCH_AMQP_URL";

/// The broker when [`AMQP_URL_VARIABLE`] is not set.
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// `commit_interval` of every intake pipeline, the file baseline's included.
const COMMIT_INTERVAL: &str = "1s";

/// How often the index is asked how many events it holds.
const POLL: Duration = Duration::from_millis(250);

/// UDP: the index count has not moved for this long, so nothing more is coming.
const UDP_SETTLED: Duration = Duration::from_secs(3);

/// TCP and RabbitMQ: the index count has not moved for this long while
/// events are missing; the run is stopped and the row shows the shortfall.
const STALLED: Duration = Duration::from_secs(60);

/// How long firewatch may take to listen or to start consuming.
const STARTUP: Duration = Duration::from_secs(30);

/// Measures file, syslog TCP and UDP intake on the syslog corpus, then file
/// and RabbitMQ intake on the JSON corpus.
pub fn bench(bench: &Bench) -> anyhow::Result<Vec<Measurement>> {
    let syslog = bench.intake_corpus(CorpusFormat::Syslog)?;
    let json = bench.intake_corpus(CorpusFormat::Json)?;
    let intake = Intake {
        firewatch: firewatch_binary(bench)?,
        work_dir: bench.work_dir.clone(),
        data_dir: bench.work_dir.join("intake-data"),
        runs: bench.run_repeat(),
    };

    let syslog_file = intake.file(&syslog)?;
    let text = read(&syslog)?;
    let lines = lines_of(&text);
    let tcp = intake
        .syslog(&syslog, &lines, Transport::Tcp)?
        .compared_to(&syslog_file);
    let udp = intake.syslog(&syslog, &lines, Transport::Udp)?;
    drop(text);

    let json_file = intake.file(&json)?;
    let mut rows = vec![syslog_file, tcp, udp, json_file.clone()];
    if let Some(amqp) = intake.amqp(&json)? {
        rows.push(amqp.compared_to(&json_file));
    }
    if intake.data_dir.exists() {
        std::fs::remove_dir_all(&intake.data_dir)
            .with_context(|| format!("cannot remove {}", intake.data_dir.display()))?;
    }
    Ok(rows)
}

/// Where the runs of this stage live, and how often they repeat.
struct Intake {
    firewatch: PathBuf,
    work_dir: PathBuf,
    data_dir: PathBuf,
    runs: usize,
}

/// A syslog transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Tcp,
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// What the senders managed.
#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    /// Lines handed to the kernel.
    events: u64,
    /// Sends the kernel refused (UDP only; TCP fails the run instead).
    refused: u64,
    /// From the first send to the last sender's end.
    elapsed: Duration,
}

impl Intake {
    /// `firewatch run` reading the corpus from one file.
    fn file(&self, corpus: &Corpus) -> anyhow::Result<Measurement> {
        let format = match corpus.format {
            CorpusFormat::Json => "json",
            CorpusFormat::Syslog => "syslog",
        };
        let source = format!(
            "type = \"file\"\npaths = [{}]\nformat = \"{format}\"\nfollow = false\nstart_at = \"beginning\"\n",
            toml_string(&corpus.path)
        );
        let pipeline = self.write_pipeline(&format!("file-{format}"), &source)?;
        let command = self.run_command(&pipeline).capture_stdout();
        let (timing, last_run) =
            command.time_runs(self.runs, &self.work_dir, || fresh_dir(&self.data_dir))?;
        let summary = last_summary(&last_run.stdout)?;
        Ok(
            Measurement::new(STAGE, format!("file, {format}"), corpus, timing)
                .with_events(summary["events"].as_u64().unwrap_or(0))
                .with_command(&command, &last_run)
                .with_note(format!("parse errors: {}", summary["parse_errors"])),
        )
    }

    /// `firewatch run` with a syslog listener, fed by [`CONNECTIONS`] senders.
    fn syslog(
        &self,
        corpus: &Corpus,
        lines: &[&[u8]],
        transport: Transport,
    ) -> anyhow::Result<Measurement> {
        let (mut last, mut pipeline) = (None, PathBuf::new());
        let timing = median_of(self.runs, || {
            fresh_dir(&self.data_dir)?;
            let port = free_port(transport)?;
            pipeline = self.write_pipeline(
                &format!("syslog-{transport}"),
                &format!("type = \"syslog\"\nlisten = \"{transport}://127.0.0.1:{port}\"\n"),
            )?;
            let mut live = Live::start(self, &pipeline, None)?;
            live.wait_listening(transport, port)?;
            let started = Instant::now();
            let sent = match transport {
                Transport::Tcp => send_tcp(port, lines)?,
                Transport::Udp => send_udp(port, lines)?,
            };
            let settle = match transport {
                Transport::Tcp => STALLED,
                Transport::Udp => UDP_SETTLED,
            };
            let last_growth = live.wait_indexed(self, sent.events, settle)?;
            let stopped = live.stop()?;
            let elapsed = match transport {
                Transport::Tcp => started.elapsed(),
                Transport::Udp => last_growth.saturating_duration_since(started),
            };
            last = Some((sent, stopped));
            Ok(elapsed)
        })?;
        let (sent, stopped) = last.context("no run was made")?;
        let source = &stopped.summary["sources"][0];
        let delivered = stopped.summary["events"].as_u64().unwrap_or(0);
        let subject = format!(
            "syslog {}, {CONNECTIONS} senders",
            transport.to_string().to_uppercase()
        );
        let row = Measurement::new(STAGE, subject, corpus, timing)
            .with_events(delivered)
            .with_command(&self.run_command(&pipeline), &stopped.finished);
        let sender_seconds = sent.elapsed.as_secs_f64().max(1e-9);
        Ok(match transport {
            Transport::Tcp => row.with_note(format!(
                "sent {} in {sender_seconds:.2} s; parse errors: {}, protocol errors: {}",
                sent.events, stopped.summary["parse_errors"], source["protocol_errors"]
            )),
            Transport::Udp => {
                let dropped = source["dropped"].as_u64().unwrap_or(0);
                row.with_note(format!(
                    "offered {} at {:.0} events/s ({} sends refused); delivered {delivered}; \
                     dropped (counted) {dropped}; missing uncounted {}",
                    sent.events,
                    sent.events as f64 / sender_seconds,
                    sent.refused,
                    sent.events.saturating_sub(delivered + dropped),
                ))
            }
        })
    }

    /// `firewatch run` consuming a fresh queue while [`PUBLISHERS`] publish
    /// the corpus; `None` when no broker answers.
    fn amqp(&self, corpus: &Corpus) -> anyhow::Result<Option<Measurement>> {
        let url = std::env::var(AMQP_URL_VARIABLE).unwrap_or_else(|_| DEFAULT_AMQP_URL.into());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the publishers' runtime")?;
        let connection = runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(5),
                Connection::connect(&url, ConnectionProperties::default()),
            )
            .await
        });
        let connection = match connection {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                eprintln!(
                    "intake: RabbitMQ row skipped: no broker at ${AMQP_URL_VARIABLE} (or {DEFAULT_AMQP_URL}): {error}"
                );
                return Ok(None);
            }
            Err(_) => {
                eprintln!(
                    "intake: RabbitMQ row skipped: no broker answered at ${AMQP_URL_VARIABLE} (or {DEFAULT_AMQP_URL}) within 5 s"
                );
                return Ok(None);
            }
        };
        let text = read(corpus)?;
        let messages = messages_of(&lines_of(&text));
        drop(text);
        let message_count: usize = messages.iter().map(Vec::len).sum();

        let (mut last, mut pipeline) = (None, PathBuf::new());
        let timing = median_of(self.runs, || {
            fresh_dir(&self.data_dir)?;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos());
            let queue = format!("firewatch-bench-{}-{nanos}", std::process::id());
            let channel = runtime.block_on(async {
                let channel = connection.create_channel().await?;
                channel
                    .queue_declare(
                        queue.as_str().into(),
                        QueueDeclareOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                Ok::<_, lapin::Error>(channel)
            })?;
            let measured = (|| {
                pipeline = self.write_pipeline("amqp", &format!(
                    "type = \"amqp\"\nurl_env = \"{AMQP_URL_VARIABLE}\"\nqueue = \"{queue}\"\nformat = \"json\"\n"
                ))?;
                let mut live = Live::start(self, &pipeline, Some(&url))?;
                let waiting = Instant::now();
                while runtime
                    .block_on(async {
                        channel
                            .queue_declare(
                                queue.as_str().into(),
                                QueueDeclareOptions {
                                    passive: true,
                                    ..QueueDeclareOptions::default()
                                },
                                FieldTable::default(),
                            )
                            .await
                    })?
                    .consumer_count()
                    == 0
                {
                    live.check_running()?;
                    if waiting.elapsed() > STARTUP {
                        bail!("firewatch did not start consuming {queue} within {STARTUP:?}");
                    }
                    std::thread::sleep(POLL);
                }
                let started = Instant::now();
                runtime.block_on(publish(&connection, &queue, &messages))?;
                live.wait_indexed(self, corpus.lines, STALLED)?;
                let stopped = live.stop()?;
                Ok((started.elapsed(), stopped))
            })();
            // On a channel of its own: a failed passive declare closes `channel`.
            let deleted = runtime.block_on(async {
                connection
                    .create_channel()
                    .await?
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await
            });
            let (elapsed, stopped) = measured?;
            deleted.with_context(|| format!("cannot delete the queue {queue}"))?;
            last = Some(stopped);
            Ok(elapsed)
        })?;
        // The queues are gone; closing is a courtesy to the broker, and lapin
        // reports channels it is still closing as an error of the connection's.
        let _ = runtime.block_on(async { connection.close(200, "done".into()).await });
        let stopped = last.context("no run was made")?;
        let events = stopped.summary["events"].as_u64().unwrap_or(0);
        Ok(Some(
            Measurement::new(
                STAGE,
                format!("RabbitMQ, {PUBLISHERS} publishers"),
                corpus,
                timing,
            )
            .with_events(events)
            .with_command(&self.run_command(&pipeline), &stopped.finished)
            .with_note(format!(
                "{message_count} messages of {LINES_PER_MESSAGE} lines; parse errors: {}, reconnects: {}",
                stopped.summary["parse_errors"], stopped.summary["sources"][0]["reconnects"]
            )),
        ))
    }

    /// Writes the pipeline of `row`: one source named `bench`, and the
    /// commit interval.
    fn write_pipeline(&self, row: &str, source: &str) -> anyhow::Result<PathBuf> {
        let pipeline = self.work_dir.join(format!("intake-{row}.toml"));
        let text = format!(
            "[[sources]]\nname = \"bench\"\n{source}\n[index]\ncommit_interval = \"{COMMIT_INTERVAL}\"\n"
        );
        std::fs::write(&pipeline, text)
            .with_context(|| format!("cannot write {}", pipeline.display()))?;
        Ok(pipeline)
    }

    /// `firewatch run --json`, its output kept.
    fn run_command(&self, pipeline: &Path) -> External {
        External::new(&self.firewatch)
            .args(["run", "--json", "--data-dir"])
            .args([&self.data_dir, pipeline])
            .capture_stdout()
    }

    /// Events committed so far (0 before the first commit).
    fn committed(&self) -> anyhow::Result<u64> {
        indexed_events(&self.firewatch, &self.data_dir)
    }
}

/// A `firewatch run` in the background, under GNU time when there is one.
struct Live {
    child: Child,
    /// firewatch's own process id (GNU time's child, or `child` itself).
    pid: u32,
    peak_rss_file: PathBuf,
    stdout_file: PathBuf,
    stderr_file: PathBuf,
    started: Instant,
}

/// How a [`Live`] run ended.
struct Stopped {
    summary: Value,
    finished: Finished,
}

impl Live {
    /// Starts `firewatch run --json`, with the broker URL in its environment
    /// when given.
    fn start(intake: &Intake, pipeline: &Path, amqp_url: Option<&str>) -> anyhow::Result<Live> {
        let peak_rss_file = intake.work_dir.join("intake-peak-rss.txt");
        let stdout_file = intake.work_dir.join("intake-stdout.jsonl");
        let stderr_file = intake.work_dir.join("intake-stderr.log");
        let with_time = Path::new(GNU_TIME).is_file();
        let mut command = if with_time {
            let mut command = Command::new(GNU_TIME);
            command
                .args(["-f", "%M", "-o"])
                .arg(&peak_rss_file)
                .arg(&intake.firewatch);
            command
        } else {
            Command::new(&intake.firewatch)
        };
        command
            .args(["run", "--json", "--data-dir"])
            .args([&intake.data_dir, pipeline])
            .stdin(Stdio::null())
            .stdout(create(&stdout_file)?)
            .stderr(create(&stderr_file)?);
        if let Some(url) = amqp_url {
            command.env(AMQP_URL_VARIABLE, url);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", intake.firewatch.display()))?;
        let pid = if with_time {
            child_of(child.id())?
        } else {
            child.id()
        };
        Ok(Live {
            child,
            pid,
            peak_rss_file: if with_time {
                peak_rss_file
            } else {
                PathBuf::new()
            },
            stdout_file,
            stderr_file,
            started,
        })
    }

    /// Fails, with the end of firewatch's standard error, if it has exited.
    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait().context("cannot wait for firewatch")? {
            bail!(
                "firewatch run exited early ({status}):\n{}",
                stderr_tail(&self.stderr_file)
            );
        }
        Ok(())
    }

    /// Waits until the listener is bound, as the kernel lists it.
    fn wait_listening(&mut self, transport: Transport, port: u16) -> anyhow::Result<()> {
        while !is_listening(transport, port) {
            self.check_running()?;
            if self.started.elapsed() > STARTUP {
                bail!("firewatch did not listen on {transport} port {port} within {STARTUP:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Polls the index until it holds `expected` events, or its count has
    /// not moved for `settle`; returns when the count was last seen growing.
    fn wait_indexed(
        &mut self,
        intake: &Intake,
        expected: u64,
        settle: Duration,
    ) -> anyhow::Result<Instant> {
        let (mut count, mut changed) = (intake.committed()?, Instant::now());
        while count < expected && changed.elapsed() < settle {
            self.check_running()?;
            std::thread::sleep(POLL);
            let now = intake.committed()?;
            if now != count {
                (count, changed) = (now, Instant::now());
            }
        }
        Ok(changed)
    }

    /// SIGTERM, then the exit: the summary and the peak memory.
    fn stop(mut self) -> anyhow::Result<Stopped> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed ({status})", self.pid);
        }
        let status = self.child.wait().context("cannot wait for firewatch")?;
        let elapsed = self.started.elapsed();
        if !status.success() {
            bail!(
                "firewatch run failed ({status}):\n{}",
                stderr_tail(&self.stderr_file)
            );
        }
        let stdout = std::fs::read(&self.stdout_file)
            .with_context(|| format!("cannot read {}", self.stdout_file.display()))?;
        let peak_rss_bytes = std::fs::read_to_string(&self.peak_rss_file)
            .ok()
            .and_then(|text| parse_peak_rss(&text));
        Ok(Stopped {
            summary: last_summary(&stdout)?,
            finished: Finished {
                elapsed,
                peak_rss_bytes,
                stdout,
            },
        })
    }
}

impl Drop for Live {
    /// A run abandoned on an error is killed, so that no listener or
    /// consumer outlives the harness; a stopped run has been waited for.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

fn create(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

fn stderr_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(10).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// The process id of `pid`'s first child (firewatch under GNU time).
fn child_of(pid: u32) -> anyhow::Result<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(child) = text.split_whitespace().next() {
            return child
                .parse()
                .with_context(|| format!("{path} holds {text:?}, not process ids"));
        }
        if Instant::now() > deadline {
            bail!("GNU time (process {pid}) started no child; {path} is empty");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A port nothing on 127.0.0.1 uses right now (the kernel's pick).
fn free_port(transport: Transport) -> anyhow::Result<u16> {
    let address = (Ipv4Addr::LOCALHOST, 0);
    let port = match transport {
        Transport::Tcp => TcpListener::bind(address)?.local_addr()?.port(),
        Transport::Udp => UdpSocket::bind(address)?.local_addr()?.port(),
    };
    Ok(port)
}

/// Whether `/proc/net/tcp` lists a listener on 127.0.0.1:`port`, or
/// `/proc/net/udp` a bound socket.
fn is_listening(transport: Transport, port: u16) -> bool {
    let (table, state) = match transport {
        Transport::Tcp => ("/proc/net/tcp", "0A"),
        Transport::Udp => ("/proc/net/udp", "07"),
    };
    let text = std::fs::read_to_string(table).unwrap_or_default();
    listed(&text, port, state)
}

/// Whether a `/proc/net/{tcp,udp}` table has a socket bound to
/// 127.0.0.1:`port` in `state` (addresses are hexadecimal, the IPv4 one in
/// host byte order).
fn listed(table: &str, port: u16, state: &str) -> bool {
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&state)
    })
}

fn read(corpus: &Corpus) -> anyhow::Result<Vec<u8>> {
    std::fs::read(&corpus.path).with_context(|| format!("cannot read {}", corpus.path.display()))
}

/// The corpus's lines, without terminators, as a source would frame them.
fn lines_of(text: &[u8]) -> Vec<&[u8]> {
    text.split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .collect()
}

/// Contiguous shares of `lines`, one per sender.
fn shares<T>(lines: &[T], senders: usize) -> impl Iterator<Item = &[T]> {
    lines.chunks(lines.len().div_ceil(senders).max(1))
}

/// Octet-counted frames (`LEN SP MSG`) of every line, [`CONNECTIONS`]
/// connections at once.
fn send_tcp(port: u16, lines: &[&[u8]]) -> anyhow::Result<Sent> {
    let started = Instant::now();
    let events = std::thread::scope(|scope| {
        let senders: Vec<_> = shares(lines, CONNECTIONS)
            .map(|share| {
                scope.spawn(move || -> anyhow::Result<u64> {
                    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                        .with_context(|| format!("cannot connect to 127.0.0.1:{port}"))?;
                    let mut writer = BufWriter::with_capacity(256 << 10, stream);
                    for line in share {
                        write!(writer, "{} ", line.len())?;
                        writer.write_all(line)?;
                    }
                    writer.flush()?;
                    Ok(share.len() as u64)
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|sender| {
                sender
                    .join()
                    .map_err(|_| anyhow::anyhow!("a TCP sender panicked"))?
            })
            .sum::<anyhow::Result<u64>>()
    })
    .context("sending syslog over TCP")?;
    Ok(Sent {
        events,
        refused: 0,
        elapsed: started.elapsed(),
    })
}

/// One datagram per line, [`CONNECTIONS`] sockets at once; sends the
/// kernel refuses are counted, not retried.
fn send_udp(port: u16, lines: &[&[u8]]) -> anyhow::Result<Sent> {
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let senders: Vec<_> = shares(lines, CONNECTIONS)
            .map(|share| {
                scope.spawn(move || -> anyhow::Result<(u64, u64)> {
                    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
                    socket.connect((Ipv4Addr::LOCALHOST, port))?;
                    let (mut sent, mut refused) = (0, 0);
                    for line in share {
                        match socket.send(line) {
                            Ok(_) => sent += 1,
                            Err(_) => refused += 1,
                        }
                    }
                    Ok((sent, refused))
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|sender| {
                sender
                    .join()
                    .map_err(|_| anyhow::anyhow!("a UDP sender panicked"))?
            })
            .collect::<anyhow::Result<Vec<(u64, u64)>>>()
    })
    .context("sending syslog over UDP")?;
    Ok(Sent {
        events: counts.iter().map(|&(sent, _)| sent).sum(),
        refused: counts.iter().map(|&(_, refused)| refused).sum(),
        elapsed: started.elapsed(),
    })
}

/// Message bodies, [`LINES_PER_MESSAGE`] lines joined by line feeds, in
/// [`PUBLISHERS`] contiguous shares. Built before the clock starts.
fn messages_of(lines: &[&[u8]]) -> Vec<Vec<Vec<u8>>> {
    let bodies: Vec<Vec<u8>> = lines
        .chunks(LINES_PER_MESSAGE)
        .map(|group| group.join(&b'\n'))
        .collect();
    shares(&bodies, PUBLISHERS)
        .map(<[Vec<u8>]>::to_vec)
        .collect()
}

/// Publishes every share on a channel of its own, at once, and waits for
/// the broker's confirms. Each message has an id of its own, so that none
/// is taken for a redelivery of another.
async fn publish(
    connection: &Connection,
    queue: &str,
    shares: &[Vec<Vec<u8>>],
) -> anyhow::Result<()> {
    let mut publishers = Vec::with_capacity(shares.len());
    for (publisher, share) in shares.iter().enumerate() {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let (queue, share) = (queue.to_owned(), share.clone());
        publishers.push(tokio::spawn(async move {
            for (number, body) in share.iter().enumerate() {
                let id = format!("{publisher}-{number}");
                channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        body,
                        BasicProperties::default().with_message_id(id.as_str().into()),
                    )
                    .await?;
            }
            channel.wait_for_confirms().await?;
            Ok::<_, lapin::Error>(())
        }));
    }
    for publisher in publishers {
        publisher.await.context("a publisher panicked")??;
    }
    Ok(())
}

/// A path as a TOML basic string (JSON's escapes are TOML's).
fn toml_string(path: &Path) -> String {
    Value::from(path.to_string_lossy()).to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use firewatch_pipeline::{PipelineConfig, SourceKind};

    use super::*;

    #[test]
    fn listeners_are_found_by_address_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n   \
                     0: 0100007F:15B3 00000000:0000 0A 00000000:00000000\n   \
                     1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000\n";
        assert!(listed(table, 5555, "0A"));
        assert!(!listed(table, 8080, "0A"), "an established connection");
        assert!(!listed(table, 5556, "0A"));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(is_listening(Transport::Tcp, port));
        drop(listener);
        assert!(!is_listening(Transport::Tcp, port));
    }

    #[test]
    fn tcp_senders_frame_every_line_by_its_length() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines: Vec<&[u8]> = vec![b"<13>a", b"<13>bc", b"<13>def"];
        let received = std::thread::spawn(move || {
            let mut streams = Vec::new();
            // Three lines over four senders: one connection per line.
            for _ in 0..3 {
                let mut text = String::new();
                listener
                    .accept()
                    .unwrap()
                    .0
                    .read_to_string(&mut text)
                    .unwrap();
                streams.push(text);
            }
            streams.sort();
            streams.concat()
        });
        let sent = send_tcp(port, &lines).unwrap();
        assert_eq!(sent.events, 3);
        assert_eq!(received.join().unwrap(), "5 <13>a6 <13>bc7 <13>def");
    }

    #[test]
    fn udp_senders_send_one_datagram_per_line() {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = socket.local_addr().unwrap().port();
        let lines: Vec<&[u8]> = vec![b"one", b"two"];
        let sent = send_udp(port, &lines).unwrap();
        assert_eq!((sent.events, sent.refused), (2, 0));
        let mut datagrams = Vec::new();
        let mut buffer = [0; 16];
        for _ in 0..2 {
            let length = socket.recv(&mut buffer).unwrap();
            datagrams.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
        }
        datagrams.sort();
        assert_eq!(datagrams, ["one", "two"]);
    }

    #[test]
    fn messages_hold_a_hundred_lines_in_a_share_per_publisher() {
        let text: Vec<u8> = (0..1001)
            .flat_map(|n| format!("{n}\n").into_bytes())
            .collect();
        let shares = messages_of(&lines_of(&text));
        assert_eq!(shares.len(), PUBLISHERS);
        let bodies: Vec<&Vec<u8>> = shares.iter().flatten().collect();
        assert_eq!(bodies.len(), 11);
        assert_eq!(bodies[0].split(|&byte| byte == b'\n').count(), 100);
        assert!(bodies[0].starts_with(b"0\n1\n"));
        assert_eq!(bodies[10], b"1000");
    }

    #[test]
    fn every_pipeline_reads_back_with_its_source() {
        let dir = tempfile::TempDir::new().unwrap();
        let intake = Intake {
            firewatch: PathBuf::from("firewatch"),
            work_dir: dir.path().to_owned(),
            data_dir: dir.path().join("data"),
            runs: 1,
        };
        for (source, kind) in [
            (
                "type = \"syslog\"\nlisten = \"udp://127.0.0.1:5514\"\n".to_owned(),
                SourceKind::Syslog,
            ),
            (
                format!(
                    "type = \"amqp\"\nurl_env = \"{AMQP_URL_VARIABLE}\"\nqueue = \"q\"\nformat = \"json\"\n"
                ),
                SourceKind::Amqp,
            ),
        ] {
            let pipeline = intake.write_pipeline("row", &source).unwrap();
            let text = std::fs::read_to_string(&pipeline).unwrap();
            let config = PipelineConfig::from_toml(&text, &pipeline).unwrap();
            assert_eq!(config.sources[0].kind, kind);
            assert_eq!(
                config.index.commit_interval.as_deref(),
                Some(COMMIT_INTERVAL)
            );
        }
    }
}
