//! One delivery attempt to one receiver: an HTTP POST or a command run.

use std::process::Stdio;
use std::time::Duration;

use firewatch_event::{Incident, NotifyReason};
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

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
    let bytes = serde_json::to_vec(body).map_err(|error| Failure {
        error: format!("cannot serialise the body: {error}"),
        retryable: false,
    })?;
    let response = client
        .post(url.clone())
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(|error| Failure {
            error: error_chain(&error.without_url()),
            retryable: true,
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(Failure {
        error: format!("HTTP {status}"),
        retryable: status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT,
    })
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

/// The longest tail of a command's standard error kept in an error.
const MAX_STDERR_SHOWN: usize = 200;

/// Runs the program with the body on standard input; exit status 0 is
/// success. Past `timeout` the program is killed.
async fn run_command(
    program: &str,
    args: &[String],
    body: &Value,
    timeout: Duration,
) -> Result<(), Failure> {
    let input = serde_json::to_vec(body).map_err(|error| Failure {
        error: format!("cannot serialise the body: {error}"),
        retryable: false,
    })?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| Failure {
            error: format!("cannot run {program}: {error}"),
            retryable: error.kind() != std::io::ErrorKind::NotFound
                && error.kind() != std::io::ErrorKind::PermissionDenied,
        })?;
    let stdin = child.stdin.take();
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A program that exits without reading its input is judged by
            // its exit status, not by the broken pipe.
            let _ = stdin.write_all(&input).await;
        }
    };
    // Dropping the child on timeout kills it (`kill_on_drop`).
    let run = async { tokio::join!(write, child.wait_with_output()).1 };
    let output = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| Failure {
            error: format!("{program} did not finish within {timeout:?} and was killed"),
            retryable: true,
        })?
        .map_err(|error| Failure {
            error: format!("{program}: {error}"),
            retryable: true,
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    let tail_start = stderr
        .char_indices()
        .rev()
        .nth(MAX_STDERR_SHOWN)
        .map_or(0, |(index, _)| index);
    Err(Failure {
        error: if stderr.is_empty() {
            format!("{program} exited with {}", output.status)
        } else {
            format!(
                "{program} exited with {}: {}",
                output.status,
                &stderr[tail_start..]
            )
        },
        retryable: true,
    })
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
}
