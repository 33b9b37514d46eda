//! The pipeline file, read faithfully.
//!
//! These structs mirror the TOML a user writes, key for key, with
//! `deny_unknown_fields` so that a typo is an error rather than a silently
//! ignored option. Checking that the values make sense, and turning them
//! into something runnable, is [`crate::plan`]'s job.

use std::path::{Path, PathBuf};

use firewatch_parse::Format;
use serde::Deserialize;

use crate::PipelineError;

/// A pipeline file: where logs come from, which rules run, where data goes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Directory of the indexes (relative paths are relative to the current
    /// directory). `--data-dir` and `FIREWATCH_DATA_DIR` override it.
    pub data_dir: Option<PathBuf>,
    /// The sources, at least one.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Rule files and directories.
    #[serde(default)]
    pub rules: RulesConfig,
    /// Index tuning.
    #[serde(default)]
    pub index: IndexSettings,
    /// Notifications: receivers, re-notifying, retries, inhibition.
    #[serde(default)]
    pub notify: firewatch_notify::NotifyConfig,
}

/// One `[[sources]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name; it is stored with every event (`source:NAME` in searches).
    pub name: String,
    /// What kind of source it is.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// Files to read (globs). Required for `file` sources.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Keep tailing files as they grow (`file` only). Default false.
    #[serde(default)]
    pub follow: bool,
    /// Where to start in a file with no committed position: `beginning` or `end`.
    #[serde(default)]
    pub start_at: StartAtConfig,
    /// How lines are parsed. Default `auto`.
    #[serde(default)]
    pub format: Format,
    /// Join stack-trace continuation lines onto the line before. Default false.
    #[serde(default)]
    pub multiline: bool,
    /// Longer lines are cut and marked. Default 1 MiB.
    pub max_line_bytes: Option<usize>,
    /// Time zone for time stamps that carry none (IANA name, e.g.
    /// `Europe/Paris`). Default UTC.
    pub time_zone: Option<String>,
    /// `amqp`: the environment variable that holds the broker URL
    /// (default `FIREWATCH_AMQP_URL`).
    pub url_env: Option<String>,
    /// `amqp`: a file that holds the broker URL (instead of `url_env`).
    pub url_file: Option<PathBuf>,
    /// `amqp`: the queue to consume. Required for `amqp` sources.
    pub queue: Option<String>,
    /// `amqp`: declare the queue (durable) if it does not exist. Default false.
    #[serde(default)]
    pub declare: bool,
    /// `amqp`: bind the queue to this exchange.
    pub exchange: Option<String>,
    /// `amqp`: the routing key of that binding (default empty).
    pub routing_key: Option<String>,
    /// `amqp`: unacknowledged messages the broker may send ahead (default 5000).
    pub prefetch: Option<u16>,
    /// `syslog`: where to listen, `udp://`, `tcp://` or `tls://` then an IP
    /// address and a port (`tcp://127.0.0.1:5514`). Required for `syslog`
    /// sources; nothing listens unless it is given.
    pub listen: Option<String>,
    /// `syslog`: the certificate chain (PEM) of a `tls://` listener.
    pub tls_cert: Option<PathBuf>,
    /// `syslog`: the private key (PEM) of a `tls://` listener.
    pub tls_key: Option<PathBuf>,
    /// `syslog`: longer messages are cut and marked. Default 64 KiB.
    pub max_message_bytes: Option<usize>,
    /// `syslog`: most TCP or TLS connections served at once. Default 1024.
    pub max_connections: Option<usize>,
}

/// The kinds of source this version runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Files matched by globs.
    File,
    /// The process's standard input.
    Stdin,
    /// A RabbitMQ queue.
    Amqp,
    /// A syslog listener (UDP, TCP or TLS).
    Syslog,
}

/// `start_at` as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAtConfig {
    /// Read files from their first byte.
    #[default]
    Beginning,
    /// Read only what is appended from now on.
    End,
}

/// The `[rules]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Rule files or directories of them.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

/// The `[index]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSettings {
    /// Commit at least this often (default `5s`).
    pub commit_interval: Option<String>,
    /// Commit when this many events are waiting (default 200,000).
    pub commit_documents: Option<u64>,
    /// Memory budget of the index writers in MiB (default 256).
    pub memory_budget_mb: Option<usize>,
    /// Indexing threads (default: 2, or 1 on a single core).
    pub writer_threads: Option<usize>,
    /// Keep day indexes this long (`14d`); older whole days are removed.
    /// Default: kept forever.
    pub retention: Option<String>,
}

impl PipelineConfig {
    /// Reads and deserialises a pipeline file. Errors name the file and,
    /// for syntax and unknown keys, the line and column.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Deserialises pipeline TOML; `path` names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, PipelineError> {
        toml::from_str(text).map_err(|error| {
            let (line, column) = error
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            PipelineError::Config {
                path: path.to_owned(),
                line,
                column,
                message: error.message().trim_end_matches('.').to_owned(),
            }
        })
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_pipeline() {
        let text = r#"
data_dir = "data"
[[sources]]
name = "app"
type = "file"
paths = ["logs/*.log"]
follow = true
start_at = "end"
format = "json"
multiline = true
max_line_bytes = 4096
time_zone = "Europe/Paris"
[rules]
paths = ["rules"]
[index]
commit_interval = "2s"
commit_documents = 1000
memory_budget_mb = 64
writer_threads = 2
retention = "14d"
"#;
        let config = PipelineConfig::from_toml(text, Path::new("p.toml")).unwrap();
        assert_eq!(config.sources[0].kind, SourceKind::File);
        assert_eq!(config.sources[0].start_at, StartAtConfig::End);
        assert_eq!(config.sources[0].format, Format::Json);
        assert_eq!(config.index.commit_documents, Some(1000));
        assert_eq!(config.index.retention.as_deref(), Some("14d"));
    }

    #[test]
    fn unknown_keys_are_errors_with_a_position() {
        let text = "[[sources]]\nname = \"app\"\ntype = \"file\"\npaths = []\nfolow = true\n";
        let error = PipelineConfig::from_toml(text, Path::new("p.toml")).unwrap_err();
        let shown = error.to_string();
        assert!(shown.starts_with("p.toml:5:1:"), "{shown}");
        assert!(shown.contains("folow"), "{shown}");
    }

    #[test]
    fn unknown_source_types_are_errors() {
        let text = "[[sources]]\nname = \"app\"\ntype = \"kafka\"\n";
        let error = PipelineConfig::from_toml(text, Path::new("p.toml")).unwrap_err();
        assert!(error.to_string().starts_with("p.toml:3:8:"), "{error}");
    }
}
