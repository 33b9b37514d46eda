//! Runs a firewatch pipeline: the glue between sources, parsing, rules and
//! the index.
//!
//! A pipeline file ([`PipelineConfig`], TOML) is read faithfully, then
//! validated into a [`Plan`] (sources ready to start, rules compiled, index
//! settings checked), then [`run`]. The [`Processor`] — parsing and
//! detection — is public on its own, so that `firewatch detect` drills rules
//! over a file exactly as a live run would, without an index.
//!
//! ```no_run
//! # async fn example() -> Result<(), firewatch_pipeline::PipelineError> {
//! use std::path::Path;
//! use firewatch_pipeline::{IncidentChange, PipelineConfig, RunObserver, run};
//! use firewatch_event::Incident;
//!
//! struct Print;
//! impl RunObserver for Print {
//!     fn incident(&mut self, change: IncidentChange, incident: &Incident) {
//!         println!("{change:?} {}", incident.key);
//!     }
//! }
//!
//! let path = Path::new("pipelines/quickstart.toml");
//! let plan = PipelineConfig::load(path)?.plan(path, None)?;
//! let summary = run(plan, Box::new(Print), Default::default()).await?;
//! println!("{} events", summary.events);
//! # Ok(()) }
//! ```
//!
//! Where to go next: `firewatch-ingest` for sources, `firewatch-rules` for
//! the detector, `firewatch-index` for what a commit makes durable.

mod config;
mod plan;
mod processor;
mod reload;
mod rule_tests;
mod run;

use std::path::PathBuf;

pub use config::{
    IndexSettings, PipelineConfig, RulesConfig, SourceConfig, SourceKind, StartAtConfig,
};
pub use plan::{DEFAULT_AMQP_URL_ENV, DEFAULT_DATA_DIR, IndexPlan, InputPlan, Plan, SourcePlan};
pub use processor::{
    ParseCounts, Processed, Processor, ProcessorSource, TaggedEvent, stored_templates,
};
pub use reload::RuleReloads;
pub use rule_tests::{
    CheckFailure, ExpectedIncident, RuleTestError, RuleTestFile, RuleTestOutcome,
    find_rule_test_files,
};
pub use run::{IncidentChange, Progress, RunObserver, RunSummary, SourceSummary, run};

/// Why a pipeline could not be planned or run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file could not be read.
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The pipeline file is not valid TOML or has unknown or mistyped keys.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The pipeline file is well-formed but does not make sense.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The rules did not load.
    #[error(transparent)]
    Rules(#[from] firewatch_rules::RulesError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] firewatch_index::IndexError),
    /// A source failed.
    #[error("source {name}: {message}")]
    Source {
        /// The source's name.
        name: String,
        /// What happened.
        message: String,
    },
    /// Notifications could not start.
    #[error(transparent)]
    Notify(#[from] firewatch_notify::NotifyError),
    /// A thread could not be started.
    #[error("cannot start a pipeline thread: {0}")]
    Thread(std::io::Error),
    /// A pipeline stage stopped unexpectedly.
    #[error("the {0} stage stopped unexpectedly")]
    Stage(&'static str),
}
