//! One delivery attempt to one receiver: an HTTP POST or a command run.

use std::process::Stdio;
use std::time::Duration;

use firewatch_event::{Incident, NotifyReason};
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::{ReceiverPlan, ReceiverTarget};
use crate::payload;

/// Why an attempt failed, and whether trying again may help.
#[derive(Debug)]
pub struct Failure {
    /// For the deliveries file: HTTP status, connection error, exit status.
    pub error: String,
    /// False when the same request would fail again (HTTP 4xx, a program
    /// that does not exist).
    pub retryable: bool,
    /// How long the receiver asked to wait before the next attempt
    /// (`Retry-After` of a 429 or 503).
    pub retry_after: Option<Duration>,
}

impl Failure {
    fn new(error: String, retryable: bool) -> Self {
        Self {
            error,
            retryable,
            retry_after: None,
        }
    }
}

/// Makes one attempt; `Ok` when the receiver accepted the notification.
pub async fn attempt(
    receiver: &ReceiverPlan,
    client: &Client,
    reason: NotifyReason,
    incident: &Incident,
) -> Result<(), Failure> {
    match &receiver.target {
        ReceiverTarget::Alertmanager { url } => {
            let body = payload::alertmanager(&receiver.name, reason, incident);
            post(client, url, &body, receiver.timeout).await
        }
        ReceiverTarget::Pagerduty { url, routing_key } => {
            let body = payload::pagerduty(routing_key.expose(), reason, incident);
            post(client, url, &body, receiver.timeout).await
        }
        ReceiverTarget::Json { url } => {
            let body = payload::plain(reason, incident);
            post(client, url, &body, receiver.timeout).await
        }
        ReceiverTarget::Command { program, args } => {
            let body = payload::plain(reason, incident);
            run_command(program, args, &body, receiver.timeout).await
        }
    }
}

/// POSTs a JSON body; any 2xx status is success. 5xx, 408 and 429 may pass
/// on a later attempt, other statuses will not.
async fn post(client: &Client, url: &Url, body: &Value, timeout: Duration) -> Result<(), Failure> {
    let bytes = serde_json::to_vec(body)
        .map_err(|error| Failure::new(format!("cannot serialise the body: {error}"), false))?;
    let response = client
        .post(url.clone())
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(|error| Failure::new(error_chain(&error.without_url()), true))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let busy = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
    Err(Failure {
        error: format!("HTTP {status}"),
        retryable: status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT,
        retry_after: busy.then(|| retry_after(response.headers())).flatten(),
    })
}

/// A `Retry-After` header in seconds (`Retry-After: 30`); the HTTP-date
/// form is not read, and leaves the usual backoff.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// An error and its causes, joined: reqwest's own text is only the outer
/// layer ("error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The longest tail of a command's standard error shown in an error.
const MAX_STDERR_SHOWN: usize = 200;
/// The most of a command's standard error kept while it runs: its end.
const MAX_STDERR_KEPT: usize = 4096;

/// Runs the program with the body on standard input; exit status 0 is
/// success. It runs in a process group of its own, so that past `timeout`
/// it is killed with everything it started (`sh -c` and its children).
async fn run_command(
    program: &str,
    args: &[String],
    body: &Value,
    timeout: Duration,
) -> Result<(), Failure> {
    let input = serde_json::to_vec(body)
        .map_err(|error| Failure::new(format!("cannot serialise the body: {error}"), false))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            Failure::new(
                format!("cannot run {program}: {error}"),
                error.kind() != std::io::ErrorKind::NotFound
                    && error.kind() != std::io::ErrorKind::PermissionDenied,
            )
        })?;
    // The group's id is the child's: it leads the group.
    let group = child.id();
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A program that exits without reading its input is judged by
            // its exit status, not by the broken pipe.
            let _ = stdin.write_all(&input).await;
        }
    };
    let run = async {
        let ((), stderr, status) = tokio::join!(write, tail(stderr), child.wait());
        status.map(|status| (status, stderr))
    };
    let Ok(finished) = tokio::time::timeout(timeout, run).await else {
        // Safe from pid reuse: a group's id stays taken while any member
        // lives, reaped leader or not.
        if let Some(group) = group {
            kill_group(group).await;
        }
        return Err(Failure::new(
            format!("{program} did not finish within {timeout:?} and was killed"),
            true,
        ));
    };
    let (status, stderr) =
        finished.map_err(|error| Failure::new(format!("{program}: {error}"), true))?;
    if status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr = stderr.trim();
    let tail_start = stderr
        .char_indices()
        .rev()
        .nth(MAX_STDERR_SHOWN)
        .map_or(0, |(index, _)| index);
    Err(Failure::new(
        if stderr.is_empty() {
            format!("{program} exited with {status}")
        } else {
            format!("{program} exited with {status}: {}", &stderr[tail_start..])
        },
        true,
    ))
}

/// Reads `stream` to its end, keeping only its last [`MAX_STDERR_KEPT`]
/// bytes.
async fn tail(stream: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut stream) = stream else {
        return kept;
    };
    let mut chunk = [0; MAX_STDERR_KEPT];
    while let Ok(read @ 1..) = stream.read(&mut chunk).await {
        kept.extend_from_slice(&chunk[..read]);
        kept.drain(..kept.len().saturating_sub(MAX_STDERR_KEPT));
    }
    kept
}

/// Kills every process of a process group, with `kill(1)`: signalling a
/// group from Rust itself takes `libc` and unsafe code.
async fn kill_group(group: u32) {
    let killed = tokio::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !killed.is_ok_and(|status| status.success()) {
        tracing::warn!(group, "cannot kill a timed-out command's process group");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_get_the_body_on_stdin_and_fail_on_a_bad_exit() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        let body = serde_json::json!({ "reason": "fired" });
        let script = format!("cat > {}", out.display());
        run_command("sh", &["-c".into(), script], &body, Duration::from_secs(10))
            .await
            .unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(written, body);

        let failure = run_command(
            "sh",
            &["-c".into(), "echo no pager here >&2; exit 3".into()],
            &body,
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(
            failure.error.contains("exit status: 3"),
            "{}",
            failure.error
        );
        assert!(failure.error.contains("no pager here"), "{}", failure.error);

        let missing = run_command("/nonexistent/pager", &[], &body, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(!missing.retryable, "{}", missing.error);
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed() {
        let body = serde_json::json!({});
        let failure = run_command("sleep", &["30".into()], &body, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(failure.error.contains("was killed"), "{}", failure.error);
        assert!(failure.retryable);
    }

    #[tokio::test]
    async fn a_timed_out_command_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
        let failure = run_command(
            "sh",
            &["-c".into(), script],
            &serde_json::json!({}),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(failure.error.contains("was killed"), "{}", failure.error);
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        // Gone, or a zombie nobody has reaped yet: not running.
        let running = || {
            std::fs::read_to_string(&stat).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'))
            })
        };
        for _ in 0..50 {
            if !running() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the command's child {} is still running", pid.trim());
    }

    #[tokio::test]
    async fn only_the_end_of_standard_error_is_kept() {
        let long: Vec<u8> = (0..3 * MAX_STDERR_KEPT).map(|i| (i % 251) as u8).collect();
        let kept = tail(Some(&long[..])).await;
        assert_eq!(kept, long[long.len() - MAX_STDERR_KEPT..]);
        assert_eq!(tail(Some(&b"short"[..])).await, b"short");
        assert!(tail(None::<&[u8]>).await.is_empty());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
