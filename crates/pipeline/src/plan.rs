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
use firewatch_ingest::{DEFAULT_MAX_LINE_BYTES, FileSourceConfig, StartAt};
use firewatch_parse::ParserConfig;
use firewatch_rules::RuleSet;

use crate::PipelineError;
use crate::config::{PipelineConfig, SourceKind, StartAtConfig};

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
    /// Index writer settings and commit policy.
    pub index: IndexPlan,
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
}

impl SourcePlan {
    /// True when the source keeps running after it reaches the end of its
    /// input (it then stops only on shutdown).
    pub fn follows(&self) -> bool {
        matches!(&self.input, InputPlan::File(file) if file.follow)
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
            };
            sources.push(SourcePlan {
                name: name.into(),
                input,
                parser: ParserConfig {
                    format: source.format,
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

        let rules = RuleSet::load(&self.rules.paths).map_err(PipelineError::Rules)?;

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
            None => default_writer_threads(),
        };

        let data_dir = data_dir_override
            .or(self.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(Plan {
            data_dir,
            sources,
            rules: Arc::new(rules),
            index: IndexPlan {
                config: index_config,
                commit_interval,
                commit_documents: self.index.commit_documents.unwrap_or(200_000).max(1),
            },
        })
    }
}

/// One indexing thread leaves the second core of a small machine to parsing
/// and detection; bigger machines get two.
fn default_writer_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    if cores <= 2 { 1 } else { 2 }
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
        ] {
            let error = plan(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
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
