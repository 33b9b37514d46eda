//! The `[notify]` table of a pipeline file, read faithfully, and its
//! validation into a [`NotifyPlan`].
//!
//! ```toml
//! [notify]
//! renotify_interval = "4h"
//!
//! [[notify.receivers]]
//! name = "oncall"
//! type = "alertmanager"
//! url = "http://127.0.0.1:9093/api/v2/webhook"
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use firewatch_event::{Severity, parse_duration};
use reqwest::Url;
use serde::Deserialize;

use crate::inhibit::InhibitRule;
use crate::matcher::Matcher;
use crate::retry::RetryPolicy;

/// The environment variable a `pagerduty` receiver reads its routing key
/// from unless told otherwise.
pub const DEFAULT_ROUTING_KEY_ENV: &str = "FIREWATCH_PAGERDUTY_ROUTING_KEY";
/// Where PagerDuty's Events API v2 takes events.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// The shortest `renotify_interval`: open incidents are checked once a
/// second, and receivers should not be flooded.
const MIN_RENOTIFY_INTERVAL: Duration = Duration::from_secs(1);

/// The `[notify]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Tell the receivers again about incidents still open after this long
    /// (wall clock). Default: never.
    pub renotify_interval: Option<String>,
    /// Attempts per notification, at least 1 (default 5).
    pub attempts: Option<u32>,
    /// Wait after the first failed attempt, doubled after each (default `1s`).
    pub retry_delay: Option<String>,
    /// Longest wait between attempts (default `1m`).
    pub max_retry_delay: Option<String>,
    /// How long a stopping pipeline waits for deliveries in flight
    /// (default `10s`).
    pub shutdown_timeout: Option<String>,
    /// Where to send notifications.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Inhibition rules. Absent: the default rule (an open critical incident
    /// suppresses lower ones on its host); `inhibit = []`: none.
    pub inhibit: Option<Vec<InhibitConfig>>,
}

/// One `[[notify.receivers]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Unique name, recorded with each delivery.
    pub name: String,
    /// What it speaks.
    #[serde(rename = "type")]
    pub kind: ReceiverType,
    /// `alertmanager`, `json`: where to POST (required); `pagerduty`: the
    /// Events API v2 URL (default PagerDuty's).
    pub url: Option<String>,
    /// `pagerduty`: the environment variable holding the routing key
    /// (default `FIREWATCH_PAGERDUTY_ROUTING_KEY`).
    pub routing_key_env: Option<String>,
    /// `pagerduty`: a file holding the routing key (instead of the
    /// environment).
    pub routing_key_file: Option<PathBuf>,
    /// `command`: the program and its arguments; it gets the incident as
    /// JSON on standard input.
    #[serde(default)]
    pub command: Vec<String>,
    /// Longest wait for one attempt: the HTTP request, or the command, which
    /// is killed then (default `10s`).
    pub timeout: Option<String>,
    /// Only incidents of at least this severity.
    pub min_severity: Option<Severity>,
    /// Only incidents of these rules (default: all).
    #[serde(default)]
    pub rules: Vec<String>,
}

/// The kinds of receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverType {
    /// An Alertmanager-compatible webhook.
    Alertmanager,
    /// PagerDuty's Events API v2.
    Pagerduty,
    /// The incident as plain JSON.
    Json,
    /// A program run with the incident on standard input.
    Command,
}

/// One `[[notify.inhibit]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitConfig {
    /// Matchers an open incident must satisfy to inhibit (`severity=critical`).
    #[serde(default)]
    pub source: Vec<String>,
    /// Matchers an incident must satisfy to be inhibited.
    #[serde(default)]
    pub target: Vec<String>,
    /// Labels both must have, with equal values (`host`).
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A secret that never shows in `Debug` output or errors.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Notifications, validated and ready to start.
#[derive(Debug)]
pub struct NotifyPlan {
    /// At least one.
    pub receivers: Vec<ReceiverPlan>,
    /// Inhibition rules.
    pub inhibit: Vec<InhibitRule>,
    /// Re-notify still open incidents this often; `None`: never.
    pub renotify_interval: Option<Duration>,
    /// Retries.
    pub retry: RetryPolicy,
    /// Longest wait for deliveries in flight when stopping.
    pub shutdown_timeout: Duration,
}

/// One receiver, validated.
#[derive(Debug)]
pub struct ReceiverPlan {
    /// Its unique name.
    pub name: String,
    /// Where and how to send.
    pub target: ReceiverTarget,
    /// Longest wait for one attempt.
    pub timeout: Duration,
    /// Only incidents of at least this severity.
    pub min_severity: Option<Severity>,
    /// Only incidents of these rules (empty: all).
    pub rules: Vec<String>,
}

/// Where and how a receiver sends.
#[derive(Debug)]
pub enum ReceiverTarget {
    /// POST an Alertmanager webhook body.
    Alertmanager {
        /// Where.
        url: Url,
    },
    /// POST a PagerDuty Events API v2 event.
    Pagerduty {
        /// Where.
        url: Url,
        /// The integration's routing key.
        routing_key: Secret,
    },
    /// POST the incident as JSON.
    Json {
        /// Where.
        url: Url,
    },
    /// Run a program with the incident as JSON on standard input.
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

fn duration(key: &str, text: Option<&str>, default: Duration) -> Result<Duration, String> {
    let Some(text) = text else {
        return Ok(default);
    };
    parse_duration(text)
        .ok()
        .and_then(|duration| Duration::try_from(duration).ok())
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("{key} {text:?} must be a positive duration, e.g. \"10s\""))
}

fn matchers(key: &str, texts: &[String]) -> Result<Vec<Matcher>, String> {
    texts
        .iter()
        .map(|text| text.parse().map_err(|error| format!("{key}: {error}")))
        .collect()
}

impl NotifyConfig {
    /// Validates the table, and reads routing keys from the environment or
    /// their files. `None` when there is no receiver: nothing to notify.
    /// Errors say which key is wrong, never a secret.
    pub fn plan(&self) -> Result<Option<NotifyPlan>, String> {
        let renotify_interval = self
            .renotify_interval
            .as_deref()
            .map(|text| duration("notify.renotify_interval", Some(text), Duration::ZERO))
            .transpose()?;
        if let (Some(interval), Some(text)) = (renotify_interval, &self.renotify_interval)
            && interval < MIN_RENOTIFY_INTERVAL
        {
            return Err(format!(
                "notify.renotify_interval {text:?} is too short: it must be at least \"1s\""
            ));
        }
        let attempts = self.attempts.unwrap_or(RetryPolicy::default().attempts);
        if attempts == 0 {
            return Err("notify.attempts must be at least 1".into());
        }
        let retry = RetryPolicy {
            attempts,
            base_delay: duration(
                "notify.retry_delay",
                self.retry_delay.as_deref(),
                RetryPolicy::default().base_delay,
            )?,
            max_delay: duration(
                "notify.max_retry_delay",
                self.max_retry_delay.as_deref(),
                RetryPolicy::default().max_delay,
            )?,
        };
        let shutdown_timeout = duration(
            "notify.shutdown_timeout",
            self.shutdown_timeout.as_deref(),
            Duration::from_secs(10),
        )?;
        let inhibit = match &self.inhibit {
            None => vec![InhibitRule::default_rule()],
            Some(rules) => rules
                .iter()
                .map(|rule| {
                    Ok(InhibitRule {
                        source: matchers("notify.inhibit.source", &rule.source)?,
                        target: matchers("notify.inhibit.target", &rule.target)?,
                        equal: rule.equal.clone(),
                    })
                })
                .collect::<Result<_, String>>()?,
        };
        let mut receivers: Vec<ReceiverPlan> = Vec::with_capacity(self.receivers.len());
        for receiver in &self.receivers {
            let planned = receiver.plan()?;
            if receivers.iter().any(|known| known.name == planned.name) {
                return Err(format!("two receivers are named {:?}", planned.name));
            }
            receivers.push(planned);
        }
        if receivers.is_empty() {
            return Ok(None);
        }
        Ok(Some(NotifyPlan {
            receivers,
            inhibit,
            renotify_interval,
            retry,
            shutdown_timeout,
        }))
    }
}

impl ReceiverConfig {
    fn plan(&self) -> Result<ReceiverPlan, String> {
        let name = self.name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "receiver name {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"
            ));
        }
        let context = |message: &str| format!("receiver {name:?}: {message}");
        let url = |default: Option<&str>| -> Result<Url, String> {
            let text = self
                .url
                .as_deref()
                .or(default)
                .ok_or_else(|| context("needs `url`, like \"http://127.0.0.1:9093/hook\""))?;
            let url =
                Url::parse(text).map_err(|error| context(&format!("invalid url: {error}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(context("url must start with http:// or https://"));
            }
            Ok(url)
        };
        let has_routing_key = self.routing_key_env.is_some() || self.routing_key_file.is_some();
        if self.kind != ReceiverType::Pagerduty && has_routing_key {
            return Err(context(
                "routing_key_env and routing_key_file are for pagerduty receivers",
            ));
        }
        if self.kind != ReceiverType::Command && !self.command.is_empty() {
            return Err(context("`command` is for command receivers"));
        }
        if self.kind == ReceiverType::Command && self.url.is_some() {
            return Err(context("a command receiver takes no `url`"));
        }
        let target = match self.kind {
            ReceiverType::Alertmanager => ReceiverTarget::Alertmanager { url: url(None)? },
            ReceiverType::Json => ReceiverTarget::Json { url: url(None)? },
            ReceiverType::Pagerduty => ReceiverTarget::Pagerduty {
                url: url(Some(PAGERDUTY_EVENTS_URL))?,
                routing_key: self.routing_key().map_err(|message| context(&message))?,
            },
            ReceiverType::Command => {
                let (program, args) = self
                    .command
                    .split_first()
                    .filter(|(program, _)| !program.trim().is_empty())
                    .ok_or_else(|| {
                        context("a command receiver needs `command = [\"program\", \"arg\", ...]`")
                    })?;
                ReceiverTarget::Command {
                    program: program.clone(),
                    args: args.to_vec(),
                }
            }
        };
        Ok(ReceiverPlan {
            name: name.to_owned(),
            target,
            timeout: duration(
                &format!("receiver {name:?}: timeout"),
                self.timeout.as_deref(),
                Duration::from_secs(10),
            )?,
            min_severity: self.min_severity,
            rules: self.rules.clone(),
        })
    }

    /// The routing key from its file or variable; errors name those, never
    /// the key.
    fn routing_key(&self) -> Result<Secret, String> {
        let key = match (&self.routing_key_file, &self.routing_key_env) {
            (Some(_), Some(_)) => {
                return Err("give `routing_key_env` or `routing_key_file`, not both".into());
            }
            (Some(path), None) => std::fs::read_to_string(path).map_err(|error| {
                format!(
                    "cannot read the routing key from {}: {error}",
                    path.display()
                )
            })?,
            (None, variable) => {
                let variable = variable.as_deref().unwrap_or(DEFAULT_ROUTING_KEY_ENV);
                std::env::var(variable).map_err(|_| {
                    format!(
                        "the environment variable {variable} must hold the PagerDuty routing key and is not set"
                    )
                })?
            }
        };
        let key = key.trim();
        if key.is_empty() {
            return Err("the PagerDuty routing key is empty".into());
        }
        Ok(Secret(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Option<NotifyPlan>, String> {
        #[derive(Deserialize)]
        struct Wrapper {
            notify: NotifyConfig,
        }
        let wrapper: Wrapper = serde_json::from_str(text).map_err(|error| error.to_string())?;
        wrapper.notify.plan()
    }

    #[test]
    fn a_full_table_plans() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "s3cr3t-key\n").unwrap();
        let text = serde_json::json!({ "notify": {
            "renotify_interval": "4h", "attempts": 3, "retry_delay": "100ms",
            "max_retry_delay": "2s", "shutdown_timeout": "5s",
            "receivers": [
                { "name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093/hook",
                  "min_severity": "high", "rules": ["db-down"] },
                { "name": "pd", "type": "pagerduty", "routing_key_file": key_file },
                { "name": "hook", "type": "json", "url": "https://example.org/x", "timeout": "2s" },
                { "name": "page", "type": "command", "command": ["/bin/cat", "-"] },
            ],
            "inhibit": [{ "source": ["rule=db-down"], "target": ["rule=~conn.*"], "equal": ["host"] }],
        }})
        .to_string();
        let plan = plan(&text).unwrap().unwrap();
        assert_eq!(plan.renotify_interval, Some(Duration::from_secs(4 * 3600)));
        assert_eq!(plan.retry.attempts, 3);
        assert_eq!(plan.retry.base_delay, Duration::from_millis(100));
        assert_eq!(plan.receivers.len(), 4);
        assert_eq!(plan.receivers[0].min_severity, Some(Severity::High));
        let ReceiverTarget::Pagerduty { url, routing_key } = &plan.receivers[1].target else {
            panic!("not pagerduty");
        };
        assert_eq!(url.as_str(), PAGERDUTY_EVENTS_URL);
        assert_eq!(routing_key.expose(), "s3cr3t-key");
        assert!(!format!("{plan:?}").contains("s3cr3t"));
        assert_eq!(plan.receivers[2].timeout, Duration::from_secs(2));
        assert_eq!(plan.inhibit.len(), 1);
    }

    #[test]
    fn defaults_and_no_receivers() {
        assert!(plan(r#"{"notify": {}}"#).unwrap().is_none());
        let planned = plan(
            r#"{"notify": {"receivers": [{"name": "j", "type": "json", "url": "http://h/"}]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(planned.retry, RetryPolicy::default());
        assert_eq!(planned.renotify_interval, None);
        assert_eq!(planned.inhibit.len(), 1, "the default inhibition rule");
        let none = plan(
            r#"{"notify": {"inhibit": [], "receivers": [{"name": "j", "type": "json", "url": "http://h/"}]}}"#,
        )
        .unwrap()
        .unwrap();
        assert!(none.inhibit.is_empty());
    }

    #[test]
    fn invalid_tables_say_what_is_wrong() {
        for (receivers, expected) in [
            (r#"[{"name": "a", "type": "json"}]"#, "needs `url`"),
            (
                r#"[{"name": "a", "type": "json", "url": "ftp://h/"}]"#,
                "http:// or https://",
            ),
            (
                r#"[{"name": "a", "type": "json", "url": "not a url"}]"#,
                "invalid url",
            ),
            (r#"[{"name": "a", "type": "command"}]"#, "needs `command"),
            (
                r#"[{"name": "a", "type": "json", "url": "http://h/", "command": ["x"]}]"#,
                "for command receivers",
            ),
            (
                r#"[{"name": "a", "type": "json", "url": "http://h/", "routing_key_env": "X"}]"#,
                "for pagerduty receivers",
            ),
            (
                r#"[{"name": "a", "type": "pagerduty", "routing_key_env": "FIREWATCH_TEST_UNSET_KEY"}]"#,
                "FIREWATCH_TEST_UNSET_KEY",
            ),
            (
                r#"[{"name": "a b", "type": "json", "url": "http://h/"}]"#,
                "receiver name",
            ),
            (
                r#"[{"name": "a", "type": "json", "url": "http://h/"}, {"name": "a", "type": "json", "url": "http://h/"}]"#,
                "two receivers",
            ),
            (
                r#"[{"name": "a", "type": "json", "url": "http://h/", "timeout": "0s"}]"#,
                "timeout",
            ),
        ] {
            let text = format!(r#"{{"notify": {{"receivers": {receivers}}}}}"#);
            let error = plan(&text).unwrap_err();
            assert!(error.contains(expected), "{receivers}: {error}");
        }
        let error = plan(r#"{"notify": {"attempts": 0}}"#).unwrap_err();
        assert!(error.contains("attempts"), "{error}");
        let error = plan(r#"{"notify": {"renotify_interval": "500ms"}}"#).unwrap_err();
        assert!(
            error.contains("notify.renotify_interval \"500ms\" is too short"),
            "{error}"
        );
        let shortest = plan(
            r#"{"notify": {"renotify_interval": "1s", "receivers": [{"name": "j", "type": "json", "url": "http://h/"}]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(shortest.renotify_interval, Some(Duration::from_secs(1)));
        let error = plan(r#"{"notify": {"inhibit": [{"source": ["severity"]}]}}"#).unwrap_err();
        assert!(error.contains("notify.inhibit.source"), "{error}");
    }
}
