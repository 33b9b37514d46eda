//! Syslog listeners end to end: real senders (`logger`, rsyslog's
//! `omfwd`, raw sockets) to a real `firewatch run`, stopped with SIGTERM,
//! then `search` must find every message exactly once, parsed.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{firewatch, json_lines, success};
use serde_json::Value;

/// Messages per sender path, as the issue asks; `logger` sends them in a
/// fraction of a second.
const MESSAGES: usize = 20_000;

/// A running `firewatch run` with one syslog source named `net`.
struct Listener {
    child: Child,
    port: u16,
    data: tempfile::TempDir,
    stdout: std::thread::JoinHandle<Vec<String>>,
}

impl Listener {
    /// Starts firewatch on a free port of 127.0.0.1 with `scheme`
    /// (`tcp`/`udp`) and `extra` source keys, and waits until it listens.
    fn start(scheme: &str, extra: &str) -> Self {
        for _ in 0..5 {
            let port = free_port(scheme);
            if let Some(listener) = Self::try_start(scheme, port, extra) {
                return listener;
            }
        }
        panic!("no free port found for firewatch to listen on");
    }

    fn try_start(scheme: &str, port: u16, extra: &str) -> Option<Self> {
        let data = tempfile::tempdir().unwrap();
        let pipeline = data.path().join("pipeline.toml");
        std::fs::write(
            &pipeline,
            format!(
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"{scheme}://127.0.0.1:{port}\"\n{extra}\n[index]\ncommit_interval = \"1s\"\n"
            ),
        )
        .unwrap();
        let mut child = firewatch()
            .arg("run")
            .arg(&pipeline)
            .arg("--json")
            .arg("--data-dir")
            .arg(data.path().join("index"))
            .env("FIREWATCH_LOG", "firewatch_ingest=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (ready_tx, ready) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let _ = ready_tx.send(true);
                }
                if line.contains("cannot listen") {
                    let _ = ready_tx.send(false);
                }
            }
        });
        let out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        match ready.recv_timeout(Duration::from_secs(30)) {
            Ok(true) => Some(Self {
                child,
                port,
                data,
                stdout,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGTERM: firewatch drains, commits and exits 0. Returns the run
    /// summary.
    fn stop(mut self) -> (tempfile::TempDir, Value) {
        success(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let status = self.child.wait().unwrap();
        assert!(status.success(), "firewatch exited with {status}");
        let lines = self.stdout.join().unwrap();
        let summary: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        (self.data, summary["summary"]["sources"][0].clone())
    }
}

/// A port that was free a moment ago (firewatch binds it next; a
/// conflict is retried by the caller).
fn free_port(scheme: &str) -> u16 {
    if scheme == "udp" {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// Every event of the run, by message.
fn indexed(data: &Path) -> Vec<Value> {
    json_lines(&success(
        firewatch()
            .args(["search", "source:net", "--json", "--limit", "1000000"])
            .arg("--data-dir")
            .arg(data.join("index")),
    ))
}

/// Writes `count` numbered lines to a file for `logger -f`.
fn numbered_lines(dir: &Path, count: usize) -> std::path::PathBuf {
    let path = dir.join("messages.txt");
    let text: String = (0..count)
        .map(|number| format!("message {number}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Checks that each numbered message is present exactly once, parsed, and
/// returns how many were.
fn check_numbered(events: &[Value], host: &str) -> usize {
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for event in events {
        let message = event["message"].as_str().unwrap();
        let Some(number) = message.strip_prefix("message ") else {
            continue;
        };
        *seen.entry(number.parse().unwrap()).or_default() += 1;
        assert_eq!(event["host"], host, "{event}");
        assert_eq!(event["service"], "app", "{event}");
        assert_eq!(event["level"], "notice", "{event}");
        assert_eq!(event["fields"]["facility"], "user", "{event}");
        assert_eq!(event["parse_error"], false, "{event}");
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(doubled.is_empty(), "indexed twice: {doubled:?}");
    seen.len()
}

fn hostname() -> String {
    let output = success(&mut Command::new("hostname"));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn logger(listener: &Listener, options: &[&str], file: &Path) {
    success(
        Command::new("logger")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &listener.port.to_string(),
            ])
            .args(["-t", "app", "-p", "user.notice"])
            .args(options)
            .arg("-f")
            .arg(file),
    );
}

#[test]
fn logger_over_tcp_octet_counted_rfc5424_is_indexed_exactly_once() {
    let listener = Listener::start("tcp", "");
    let file = numbered_lines(listener.data.path(), MESSAGES);
    logger(&listener, &["--tcp", "--octet-count", "--rfc5424"], &file);
    let (data, summary) = listener.stop();
    let events = indexed(data.path());
    assert_eq!(check_numbered(&events, &hostname()), MESSAGES);
    assert_eq!(events.len(), MESSAGES);
    assert!(
        events[0]["fields"]["sd"]["timeQuality"].is_object(),
        "{}",
        events[0]
    );
    assert_eq!(summary["lines"], MESSAGES as u64);
    assert_eq!(summary["dropped"], 0);
}

#[test]
fn logger_over_tcp_newline_framed_rfc3164_is_indexed_exactly_once() {
    let listener = Listener::start("tcp", "time_zone = \"Europe/Paris\"");
    let file = numbered_lines(listener.data.path(), MESSAGES);
    logger(&listener, &["--tcp", "--rfc3164"], &file);
    // RFC 3164 time stamps carry no zone: the source's zone applies.
    let mut client = TcpStream::connect(listener.address()).unwrap();
    client
        .write_all(b"<13>Nov 20 09:40:12 web-01 app: in paris time\n")
        .unwrap();
    drop(client);
    let (data, _) = listener.stop();
    let events = indexed(data.path());
    assert_eq!(check_numbered(&events, &hostname()), MESSAGES);
    let paris = events
        .iter()
        .find(|event| event["message"] == "in paris time")
        .unwrap();
    assert!(
        paris["timestamp"]
            .as_str()
            .unwrap()
            .ends_with("-11-20T08:40:12Z"),
        "{paris}"
    );
}

#[test]
fn logger_over_udp_rfc3164_delivers_or_counts_every_datagram() {
    let listener = Listener::start("udp", "");
    let file = numbered_lines(listener.data.path(), MESSAGES);
    logger(&listener, &["--udp", "--rfc3164"], &file);
    let (data, summary) = listener.stop();
    let delivered = check_numbered(&indexed(data.path()), &hostname());
    let dropped = summary["dropped"].as_u64().unwrap() as usize;
    // A flood may overrun the pipeline: every datagram is then either
    // indexed or counted as dropped.
    assert_eq!(delivered + dropped, MESSAGES, "{summary}");
}

#[test]
fn logger_over_udp_at_a_modest_rate_loses_nothing() {
    // A listener of its own, so that no earlier flood is still draining:
    // a rate the pipeline keeps up with loses nothing.
    let listener = Listener::start("udp", "");
    let modest = listener.data.path().join("modest.txt");
    for burst in 0..20 {
        let text: String = (0..10)
            .map(|number| format!("modest {}\n", burst * 10 + number))
            .collect();
        std::fs::write(&modest, text).unwrap();
        logger(&listener, &["--udp", "--rfc3164"], &modest);
        std::thread::sleep(Duration::from_millis(50));
    }
    let (data, summary) = listener.stop();
    let modest_seen = indexed(data.path())
        .iter()
        .filter(|event| event["message"].as_str().unwrap().starts_with("modest "))
        .count();
    assert_eq!(summary["dropped"], 0, "{summary}");
    assert_eq!(modest_seen, 200, "{summary}");
}

#[test]
fn rsyslog_forwarding_over_tcp_is_indexed_exactly_once() {
    let Some(rsyslogd) = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .into_iter()
        .find(|path| Path::new(path).exists())
    else {
        panic!("rsyslogd is not installed (apt-get install rsyslog)");
    };
    let listener = Listener::start("tcp", "");
    let dir = listener.data.path();
    let input_port = free_port("tcp");
    let config = dir.join("rsyslog.conf");
    std::fs::write(
        &config,
        format!(
            r#"global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{input_port}")
action(type="omfwd" target="127.0.0.1" port="{output}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
       queue.type="LinkedList" queue.size="100000" action.resumeRetryCount="-1")
"#,
            work = dir.display(),
            output = listener.port,
        ),
    )
    .unwrap();
    let mut rsyslog = Command::new(rsyslogd)
        .args(["-n", "-f"])
        .arg(&config)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", input_port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "rsyslogd did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let file = numbered_lines(dir, MESSAGES);
    success(
        Command::new("logger")
            .args(["--server", "127.0.0.1", "--port", &input_port.to_string()])
            .args(["-t", "app", "-p", "user.notice", "--tcp", "--octet-count"])
            .arg("-f")
            .arg(&file),
    );
    // rsyslog forwards asynchronously: wait until everything is indexed
    // (firewatch commits every second), then stop both.
    let forwarded = Instant::now();
    while indexed(dir).len() < MESSAGES {
        assert!(
            forwarded.elapsed() < Duration::from_secs(60),
            "rsyslog forwarded {} of {MESSAGES}",
            indexed(dir).len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    success(Command::new("kill").args(["-TERM", &rsyslog.id().to_string()]));
    let status = rsyslog.wait().unwrap();
    let mut stderr = String::new();
    rsyslog
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "rsyslogd: {status}: {stderr}");
    let (data, summary) = listener.stop();
    let events = indexed(data.path());
    assert_eq!(check_numbered(&events, &hostname()), MESSAGES, "{summary}");
}

#[test]
fn openssl_over_tls_octet_counted_is_indexed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    success(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=firewatch"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    let listener = Listener::start(
        "tls",
        &format!(
            "tls_cert = {:?}\ntls_key = {:?}",
            cert.display().to_string(),
            key.display().to_string()
        ),
    );
    let count = 2_000;
    let host = hostname();
    let framed: String = (0..count)
        .map(|number| {
            let message = format!("<13>1 2026-11-20T09:40:12Z {host} app - - - message {number}");
            format!("{} {message}", message.len())
        })
        .collect();
    let input = dir.path().join("framed.txt");
    std::fs::write(&input, framed).unwrap();
    success(
        Command::new("openssl")
            .args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
            .args(["-connect", &listener.address().to_string()])
            .arg("-CAfile")
            .arg(&cert)
            .stdin(std::fs::File::open(&input).unwrap()),
    );
    let (data, summary) = listener.stop();
    let events = indexed(data.path());
    assert_eq!(check_numbered(&events, &host), count, "{summary}");
    assert_eq!(summary["protocol_errors"], 0, "{summary}");
}

#[test]
fn garbage_and_absurd_octet_counts_close_only_their_connection() {
    let listener = Listener::start("tcp", "");
    let mut good = TcpStream::connect(listener.address()).unwrap();
    good.write_all(b"<13>1 2026-11-20T09:40:12Z - app - - - before\n")
        .unwrap();
    for junk in [&b"12x garbage"[..], b"999999999999 <13>absurd", b"5 a"] {
        let mut bad = TcpStream::connect(listener.address()).unwrap();
        bad.write_all(junk).unwrap();
        bad.shutdown(std::net::Shutdown::Write).unwrap();
        bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // firewatch closes the connection: the read ends without data.
        let mut rest = Vec::new();
        assert_eq!(bad.read_to_end(&mut rest).unwrap(), 0);
    }
    good.write_all(b"<13>1 2026-11-20T09:40:13Z - app - - - after\n")
        .unwrap();
    drop(good);
    let (data, summary) = listener.stop();
    let events = indexed(data.path());
    let messages: Vec<&str> = events
        .iter()
        .map(|event| event["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"before") && messages.contains(&"after"),
        "{messages:?}"
    );
    // Messages that name no host get the sender's address.
    let after = events
        .iter()
        .find(|event| event["message"] == "after")
        .unwrap();
    assert_eq!(after["host"], "127.0.0.1");
    assert_eq!(summary["protocol_errors"], 2, "{summary}");
    assert!(
        messages.contains(&"a"),
        "a short final frame is kept: {messages:?}"
    );
}

#[test]
fn nothing_listens_unless_configured_and_then_only_where_configured() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        "[[sources]]\nname = \"net\"\ntype = \"syslog\"\n",
    )
    .unwrap();
    let output = firewatch()
        .arg("run")
        .arg(&pipeline)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs `listen`"), "{stderr}");

    let listener = Listener::start("tcp", "");
    // Bound to 127.0.0.1 only: the same port on another local address is
    // free.
    let other = std::net::Ipv4Addr::new(127, 0, 0, 2);
    assert!(TcpListener::bind((other, listener.port)).is_ok());
    listener.stop();
}
