//! From a faithful [`PipelineConfig`] to a validated, runnable [`Plan`].
//!
//! Everything that can be wrong with a pipeline file is found here, before
//! anything starts: duplicate source names, missing paths, unknown time
//! zones, bad durations, rule files that do not compile.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use firewatch_event::parse_duration;
use firewatch_index::IndexConfig;
use firewatch_ingest::{
    AmqpSourceConfig, DEFAULT_MAX_LINE_BYTES, FileSourceConfig, SecretUrl, StartAt,
};
use firewatch_parse::ParserConfig;
use firewatch_rules::{RuleFilesStamp, RuleSet};

use crate::PipelineError;
use crate::config::{PipelineConfig, SourceConfig, SourceKind, StartAtConfig};

/// The data directory used when neither the pipeline, `--data-dir` nor
/// `FIREWATCH_DATA_DIR` names one: `firewatch-data` in the current directory.
pub const DEFAULT_DATA_DIR: &str = "firewatch-data";

/// A pipeline ready to run.
#[derive(Debug)]
pub struct Plan {
    /// Where the indexes live.
    pub data_dir: PathBuf,
    /// The sources, in file order.
    pub sources: Vec<SourcePlan>,
    /// The compiled rules.
    pub rules: Arc<RuleSet>,
    /// The rule files and directories they came from, watched during a run
    /// so that a change reloads them.
    pub rule_paths: Vec<PathBuf>,
    /// How the rule files looked when they were loaded.
    pub rule_files: RuleFilesStamp,
    /// Index writer settings and commit policy.
    pub index: IndexPlan,
    /// Notifications; `None` when the pipeline names no receiver.
    pub notify: Option<firewatch_notify::NotifyPlan>,
}

/// One source, validated.
#[derive(Debug)]
pub struct SourcePlan {
    /// Its unique name.
    pub name: Arc<str>,
    /// How to read it.
    pub input: InputPlan,
    /// How to parse its lines.
    pub parser: ParserConfig,
}

/// How a source reads.
#[derive(Debug)]
pub enum InputPlan {
    /// Files matched by globs.
    File(FileSourceConfig),
    /// Standard input.
    Stdin {
        /// Longer lines are cut and marked.
        max_line_bytes: usize,
        /// Join stack-trace continuation lines.
        multiline: bool,
    },
    /// A RabbitMQ queue.
    Amqp(AmqpSourceConfig),
    /// A syslog listener.
    Syslog(firewatch_ingest::SyslogSourceConfig),
}

impl SourcePlan {
    /// True when the source keeps running after it reaches the end of its
    /// input (it then stops only on shutdown).
    pub fn follows(&self) -> bool {
        match &self.input {
            InputPlan::File(file) => file.follow,
            InputPlan::Amqp(_) => true,
            InputPlan::Syslog(_) => true,
            InputPlan::Stdin { .. } => false,
        }
    }
}

/// Index settings and when to commit.
#[derive(Debug)]
pub struct IndexPlan {
    /// Writer settings.
    pub config: IndexConfig,
    /// Commit at least this often.
    pub commit_interval: Duration,
    /// Commit when this many events wait.
    pub commit_documents: u64,
    /// Day indexes whose whole day is older than this (before now) are
    /// removed ([`firewatch_index::retention::remove_days_older_than`]);
    /// `None` keeps every day.
    pub retention: Option<jiff::SignedDuration>,
}

impl PipelineConfig {
    /// Validates the configuration and compiles its rules.
    /// `data_dir_override` (from `--data-dir` or the environment) wins over
    /// the file's `data_dir`.
    pub fn plan(
        self,
        path: &Path,
        data_dir_override: Option<PathBuf>,
    ) -> Result<Plan, PipelineError> {
        let invalid = |message: String| PipelineError::Invalid {
            path: path.to_owned(),
            message,
        };
        if self.sources.is_empty() {
            return Err(invalid(
                "no [[sources]]: a pipeline needs at least one".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut sources = Vec::with_capacity(self.sources.len());
        for source in self.sources {
            let name = source.name.trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(invalid(format!(
                    "source name {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"
                )));
            }
            if !names.insert(name.to_owned()) {
                return Err(invalid(format!("two sources are named {name:?}")));
            }
            let time_zone = match &source.time_zone {
                None => jiff::tz::TimeZone::UTC,
                Some(zone) => jiff::tz::TimeZone::get(zone).map_err(|error| {
                    invalid(format!(
                        "source {name:?}: unknown time_zone {zone:?}: {error}"
                    ))
                })?,
            };
            let max_line_bytes = source.max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES);
            if max_line_bytes < 64 {
                return Err(invalid(format!(
                    "source {name:?}: max_line_bytes must be at least 64"
                )));
            }
            if source.kind != SourceKind::Amqp && source.has_amqp_keys() {
                return Err(invalid(format!(
                    "source {name:?}: url_env, url_file, queue, declare, exchange, routing_key and prefetch are for amqp sources"
                )));
            }
            if source.kind != SourceKind::Syslog && source.has_syslog_keys() {
                return Err(invalid(format!(
                    "source {name:?}: listen, tls_cert, tls_key, max_message_bytes and max_connections are for syslog sources"
                )));
            }
            let input = match source.kind {
                SourceKind::File => {
                    if source.paths.is_empty() {
                        return Err(invalid(format!(
                            "source {name:?}: a file source needs `paths`"
                        )));
                    }
                    InputPlan::File(FileSourceConfig {
                        name: name.to_owned(),
                        paths: source.paths,
                        follow: source.follow,
                        start_at: match source.start_at {
                            StartAtConfig::Beginning => StartAt::Beginning,
                            StartAtConfig::End => StartAt::End,
                        },
                        max_line_bytes,
                        multiline: source.multiline,
                        ..FileSourceConfig::default()
                    })
                }
                SourceKind::Stdin => {
                    if !source.paths.is_empty() || source.follow {
                        return Err(invalid(format!(
                            "source {name:?}: a stdin source takes no `paths` and no `follow`"
                        )));
                    }
                    InputPlan::Stdin {
                        max_line_bytes,
                        multiline: source.multiline,
                    }
                }
                SourceKind::Amqp => {
                    InputPlan::Amqp(amqp_plan(name, &source, max_line_bytes).map_err(invalid)?)
                }
                SourceKind::Syslog => {
                    InputPlan::Syslog(syslog_plan(name, &source).map_err(invalid)?)
                }
            };
            sources.push(SourcePlan {
                name: name.into(),
                input,
                parser: ParserConfig {
                    // A listener's messages are syslog unless the file says otherwise.
                    format: match (source.kind, source.format) {
                        (SourceKind::Syslog, firewatch_parse::Format::Auto) => {
                            firewatch_parse::Format::Syslog
                        }
                        (_, format) => format,
                    },
                    time_zone,
                },
            });
        }
        if sources
            .iter()
            .filter(|source| matches!(source.input, InputPlan::Stdin { .. }))
            .count()
            > 1
        {
            return Err(invalid("only one source can read stdin".into()));
        }

        // Stamped before loading, so that a change made meanwhile reloads.
        let rule_files = RuleFilesStamp::read(&self.rules.paths);
        let rules = RuleSet::load(&self.rules.paths).map_err(PipelineError::Rules)?;
        crate::reload::warn_of_skipped(&rules);
        let notify = self.notify.plan().map_err(invalid)?;
        let rule_paths = self.rules.paths;

        let commit_interval = match &self.index.commit_interval {
            None => Duration::from_secs(5),
            Some(text) => {
                let duration = parse_duration(text)
                    .map_err(|error| invalid(format!("index.commit_interval: {error}")))?;
                Duration::try_from(duration)
                    .ok()
                    .filter(|duration| !duration.is_zero())
                    .ok_or_else(|| invalid("index.commit_interval must be positive".into()))?
            }
        };
        let retention = match &self.index.retention {
            None => None,
            Some(text) => Some(
                parse_duration(text)
                    .ok()
                    .filter(|duration| *duration >= jiff::SignedDuration::from_hours(24))
                    .ok_or_else(|| {
                        invalid(format!(
                            "index.retention {text:?} must be a duration of at least one day, e.g. \"14d\""
                        ))
                    })?,
            ),
        };
        let mut index_config = IndexConfig::default();
        if let Some(megabytes) = self.index.memory_budget_mb {
            if megabytes < 32 {
                return Err(invalid("index.memory_budget_mb must be at least 32".into()));
            }
            index_config.memory_budget_bytes = megabytes << 20;
        }
        index_config.writer_threads = match self.index.writer_threads {
            Some(0) => return Err(invalid("index.writer_threads must be at least 1".into())),
            Some(threads) => threads,
            // A small budget gets fewer threads rather than an error.
            None => default_writer_threads()
                .min(index_config.most_writer_threads())
                .max(1),
        };

        let data_dir = data_dir_override
            .or(self.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(Plan {
            data_dir,
            sources,
            rules: Arc::new(rules),
            rule_paths,
            rule_files,
            index: IndexPlan {
                config: index_config,
                commit_interval,
                commit_documents: self.index.commit_documents.unwrap_or(200_000).max(1),
                retention,
            },
            notify,
        })
    }
}

/// The environment variable an amqp source reads its URL from by default.
pub const DEFAULT_AMQP_URL_ENV: &str = "FIREWATCH_AMQP_URL";

/// Checks an amqp source and reads its URL from the environment or a file.
/// Errors name the variable or the file, never the URL itself.
fn amqp_plan(
    name: &str,
    source: &SourceConfig,
    max_line_bytes: usize,
) -> Result<AmqpSourceConfig, String> {
    if !source.paths.is_empty() || source.follow || source.multiline {
        return Err(format!(
            "source {name:?}: an amqp source takes no `paths`, `follow` or `multiline`"
        ));
    }
    let queue = source
        .queue
        .as_deref()
        .map(str::trim)
        .filter(|queue| !queue.is_empty())
        .ok_or_else(|| format!("source {name:?}: an amqp source needs `queue`"))?;
    let (url, origin) = match (&source.url_file, &source.url_env) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "source {name:?}: give `url_env` or `url_file`, not both"
            ));
        }
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!(
                    "source {name:?}: cannot read the broker URL from {}: {error}",
                    path.display()
                )
            })?;
            (text, format!("file {}", path.display()))
        }
        (None, variable) => {
            let variable = variable.as_deref().unwrap_or(DEFAULT_AMQP_URL_ENV);
            let text = std::env::var(variable).map_err(|_| {
                format!(
                    "source {name:?}: the environment variable {variable} must hold the broker URL (amqp://user:password@host:5672/vhost) and is not set"
                )
            })?;
            (text, format!("environment variable {variable}"))
        }
    };
    let url = SecretUrl::new(url);
    if !(url.expose().starts_with("amqp://") || url.expose().starts_with("amqps://")) {
        return Err(format!(
            "source {name:?}: the broker URL in the {origin} must start with amqp:// or amqps://"
        ));
    }
    let prefetch = source
        .prefetch
        .unwrap_or(firewatch_ingest::DEFAULT_PREFETCH);
    if prefetch == 0 {
        return Err(format!("source {name:?}: prefetch must be at least 1"));
    }
    let mut config = AmqpSourceConfig::new(name, url, queue);
    config.declare = source.declare;
    config.exchange = source.exchange.clone();
    config.routing_key = source.routing_key.clone().unwrap_or_default();
    config.prefetch = prefetch;
    config.max_line_bytes = max_line_bytes;
    Ok(config)
}

impl SourceConfig {
    fn has_amqp_keys(&self) -> bool {
        self.url_env.is_some()
            || self.url_file.is_some()
            || self.queue.is_some()
            || self.declare
            || self.exchange.is_some()
            || self.routing_key.is_some()
            || self.prefetch.is_some()
    }
}

/// Checks a syslog source. A listener binds exactly the address given, and
/// there is no default address: nothing listens unless the file says
/// where. An address beyond loopback is allowed, and logged.
fn syslog_plan(
    name: &str,
    source: &SourceConfig,
) -> Result<firewatch_ingest::SyslogSourceConfig, String> {
    use firewatch_ingest::{
        ListenAddress, MAX_OCTET_COUNT, SyslogSourceConfig, TlsFiles, Transport,
    };

    if !source.paths.is_empty()
        || source.follow
        || source.multiline
        || source.max_line_bytes.is_some()
    {
        return Err(format!(
            "source {name:?}: a syslog source takes no `paths`, `follow`, `multiline` or `max_line_bytes` (its limit is `max_message_bytes`)"
        ));
    }
    let text = source.listen.as_deref().ok_or_else(|| {
        format!("source {name:?}: a syslog source needs `listen`, like \"tcp://127.0.0.1:5514\"")
    })?;
    let listen: ListenAddress = text
        .parse()
        .map_err(|error| format!("source {name:?}: {error}"))?;
    let tls = match (&source.tls_cert, &source.tls_key, listen.transport) {
        (Some(cert), Some(key), Transport::Tls) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None, Transport::Tls) => {
            return Err(format!(
                "source {name:?}: a tls:// listener needs `tls_cert` and `tls_key`"
            ));
        }
        (None, None, _) => None,
        (_, _, Transport::Tls) => {
            return Err(format!(
                "source {name:?}: give both `tls_cert` and `tls_key`"
            ));
        }
        _ => {
            return Err(format!(
                "source {name:?}: `tls_cert` and `tls_key` need a tls:// listener"
            ));
        }
    };
    let mut config = SyslogSourceConfig {
        name: name.to_owned(),
        listen,
        tls,
        ..SyslogSourceConfig::default()
    };
    if let Some(bytes) = source.max_message_bytes {
        if !(64..=MAX_OCTET_COUNT).contains(&bytes) {
            return Err(format!(
                "source {name:?}: max_message_bytes must be between 64 and {MAX_OCTET_COUNT}"
            ));
        }
        config.max_message_bytes = bytes;
    }
    if let Some(connections) = source.max_connections {
        if connections == 0 {
            return Err(format!(
                "source {name:?}: max_connections must be at least 1"
            ));
        }
        config.max_connections = connections;
    }
    if !listen.address.ip().is_loopback() {
        tracing::info!(source = name, %listen, "syslog source listens beyond loopback");
    }
    Ok(config)
}

impl SourceConfig {
    fn has_syslog_keys(&self) -> bool {
        self.listen.is_some()
            || self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.max_message_bytes.is_some()
            || self.max_connections.is_some()
    }
}

/// Two indexing threads wherever there are two cores: tantivy's indexing
/// is the most expensive step of a run, and with one thread it holds the
/// whole pipeline to one core while parsing and detection leave the other
/// mostly idle (`firewatch run` on 2 cores went about 1.2x faster with two).
fn default_writer_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    cores.min(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan, PipelineError> {
        let path = Path::new("p.toml");
        PipelineConfig::from_toml(text, path)?.plan(path, None)
    }

    #[test]
    fn a_minimal_pipeline_plans_with_defaults() {
        let plan =
            plan("[[sources]]\nname = \"app\"\ntype = \"file\"\npaths = [\"x.log\"]\n").unwrap();
        assert_eq!(plan.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(plan.index.commit_interval, Duration::from_secs(5));
        assert!(!plan.sources[0].follows());
        assert!(plan.rules.is_empty());
        assert_eq!(plan.index.retention, None);
    }

    #[test]
    fn a_small_budget_gets_fewer_default_threads_and_a_set_count_is_kept() {
        let source = "[[sources]]\nname = \"app\"\ntype = \"stdin\"\n";
        let small = plan(&format!("{source}[index]\nmemory_budget_mb = 64\n")).unwrap();
        assert_eq!(small.index.config.writer_threads, 1);
        let set = plan(&format!(
            "{source}[index]\nmemory_budget_mb = 64\nwriter_threads = 2\n"
        ))
        .unwrap();
        assert_eq!(set.index.config.writer_threads, 2);
        let default = plan(source).unwrap();
        assert_eq!(
            default.index.config.writer_threads,
            default_writer_threads()
        );
    }

    #[test]
    fn retention_is_carried_in_the_index_plan() {
        let plan =
            plan("[[sources]]\nname = \"app\"\ntype = \"stdin\"\n[index]\nretention = \"14d\"\n")
                .unwrap();
        assert_eq!(
            plan.index.retention,
            Some(jiff::SignedDuration::from_hours(14 * 24))
        );
    }

    #[test]
    fn invalid_pipelines_say_what_is_wrong() {
        for (text, expected) in [
            ("", "no [[sources]]"),
            (
                "[[sources]]\nname = \"a\"\ntype = \"file\"\n",
                "needs `paths`",
            ),
            (
                "[[sources]]\nname = \"a\"\ntype = \"file\"\npaths = [\"x\"]\n[[sources]]\nname = \"a\"\ntype = \"stdin\"\n",
                "two sources are named",
            ),
            (
                "[[sources]]\nname = \"a b\"\ntype = \"stdin\"\n",
                "must be non-empty",
            ),
            (
                "[[sources]]\nname = \"a\"\ntype = \"stdin\"\ntime_zone = \"Mars/Olympus\"\n",
                "unknown time_zone",
            ),
            (
                "[[sources]]\nname = \"a\"\ntype = \"stdin\"\n[index]\ncommit_interval = \"soon\"\n",
                "index.commit_interval",
            ),
            (
                "[[sources]]\nname = \"a\"\ntype = \"stdin\"\n[index]\nretention = \"2h\"\n",
                "index.retention",
            ),
        ] {
            let error = plan(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn amqp_sources_read_their_url_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("url");
        std::fs::write(&url_file, "amqp://ingest:hunter2@127.0.0.1:5672/%2f\n").unwrap();
        let text = format!(
            "[[sources]]\nname = \"q\"\ntype = \"amqp\"\nqueue = \"logs\"\nurl_file = {:?}\nprefetch = 50\nexchange = \"ex\"\n",
            url_file.display().to_string()
        );
        let planned = plan(&text).unwrap();
        assert!(planned.sources[0].follows());
        let InputPlan::Amqp(config) = &planned.sources[0].input else {
            panic!("not an amqp plan");
        };
        assert_eq!(
            config.url.expose(),
            "amqp://ingest:hunter2@127.0.0.1:5672/%2f"
        );
        assert_eq!((config.queue.as_str(), config.prefetch), ("logs", 50));
        assert!(!format!("{planned:?}").contains("hunter2"));

        std::fs::write(&url_file, "http://ingest:hunter2@host/").unwrap();
        let error = plan(&text).unwrap_err().to_string();
        assert!(error.contains("must start with amqp://"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");

        for (text, expected) in [
            (
                "[[sources]]\nname = \"q\"\ntype = \"amqp\"\nqueue = \"logs\"\nurl_env = \"FIREWATCH_TEST_UNSET_VARIABLE\"\n",
                "environment variable FIREWATCH_TEST_UNSET_VARIABLE",
            ),
            (
                "[[sources]]\nname = \"q\"\ntype = \"amqp\"\n",
                "needs `queue`",
            ),
            (
                "[[sources]]\nname = \"a\"\ntype = \"stdin\"\nqueue = \"logs\"\n",
                "are for amqp sources",
            ),
        ] {
            let error = plan(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn syslog_sources_need_an_address_and_parse_as_syslog() {
        let planned = plan(
            "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"udp://127.0.0.1:5514\"\nmax_message_bytes = 1024\ntime_zone = \"Europe/Paris\"\n",
        )
        .unwrap();
        let source = &planned.sources[0];
        assert!(source.follows());
        assert_eq!(source.parser.format, firewatch_parse::Format::Syslog);
        let InputPlan::Syslog(config) = &source.input else {
            panic!("not a syslog plan");
        };
        assert_eq!(config.listen.to_string(), "udp://127.0.0.1:5514");
        assert_eq!(config.max_message_bytes, 1024);

        for (text, expected) in [
            (
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\n",
                "needs `listen`",
            ),
            (
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"127.0.0.1:5514\"\n",
                "expected udp://",
            ),
            (
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"tls://127.0.0.1:6514\"\n",
                "needs `tls_cert` and `tls_key`",
            ),
            (
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"tcp://127.0.0.1:5514\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
                "need a tls:// listener",
            ),
            (
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"tls://127.0.0.1:6514\"\ntls_cert = \"c.pem\"\n",
                "give both",
            ),
            (
                "[[sources]]\nname = \"net\"\ntype = \"syslog\"\nlisten = \"tcp://127.0.0.1:5514\"\nmax_message_bytes = 10\n",
                "max_message_bytes must be between",
            ),
            (
                "[[sources]]\nname = \"a\"\ntype = \"stdin\"\nlisten = \"tcp://127.0.0.1:5514\"\n",
                "are for syslog sources",
            ),
        ] {
            let error = plan(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn notify_tables_plan_with_the_pipeline() {
        let without = plan("[[sources]]\nname = \"a\"\ntype = \"stdin\"\n").unwrap();
        assert!(without.notify.is_none());
        let with = plan(
            "[[sources]]\nname = \"a\"\ntype = \"stdin\"\n[notify]\nrenotify_interval = \"1h\"\n\
             [[notify.receivers]]\nname = \"hook\"\ntype = \"json\"\nurl = \"http://127.0.0.1:9/x\"\n",
        )
        .unwrap();
        let notify = with.notify.unwrap();
        assert_eq!(notify.receivers[0].name, "hook");
        assert_eq!(notify.renotify_interval, Some(Duration::from_secs(3600)));

        let error = plan(
            "[[sources]]\nname = \"a\"\ntype = \"stdin\"\n[[notify.receivers]]\nname = \"hook\"\ntype = \"json\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("p.toml: receiver \"hook\": needs `url`"),
            "{error}"
        );
        let error = plan(
            "[[sources]]\nname = \"a\"\ntype = \"stdin\"\n[[notify.receivers]]\nname = \"hook\"\ntype = \"json\"\nurll = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("p.toml:7:1:"), "{error}");
    }

    #[test]
    fn the_override_wins_over_the_file() {
        let path = Path::new("p.toml");
        let config = PipelineConfig::from_toml(
            "data_dir = \"a\"\n[[sources]]\nname = \"s\"\ntype = \"stdin\"\n",
            path,
        )
        .unwrap();
        let plan = config.plan(path, Some(PathBuf::from("b"))).unwrap();
        assert_eq!(plan.data_dir, PathBuf::from("b"));
    }
}
