//! `firewatch-bench`: firewatch's throughput, stage by stage and end to end,
//! each figure beside a baseline measured in the same run.
//!
//! | stage | what is timed | baseline |
//! |---|---|---|
//! | `parse` | `Parser` over pre-split JSON and syslog records, 1 thread and every core | the bare library decode (serde_json, syslog_loose); 1 thread for N threads |
//! | `detect` | `Detector` over pre-parsed JSON events: 10 and 1,000 keyword rules; 10, 1,000 and 10,000 rules of 8 types | `rg -j1 -F -i` with the same phrases |
//! | `index` | `IndexWriter` adding pre-parsed events and committing | tantivy-cli, 1 indexing thread |
//! | `run` | the `firewatch run` binary, end to end, 1,000 rules | `cat` and tantivy-cli with 2 threads |
//! | `intake` | `firewatch run` fed over loopback: syslog TCP and UDP, RabbitMQ | `firewatch run` reading the same events from a file |
//! | `query` | `firewatch search` and `context` over 10 million events in 7 day indexes: median and p99 latency | `firewatch --version` (process start); tantivy-cli's index size |
//!
//! Corpora come from the shared generator and are kept in a scratch
//! directory between runs. Nothing here asserts a speed: the output is for
//! people (release notes), as tables or as JSON lines. The README next to
//! this crate says how to run it and what each figure means.

mod corpus;
mod detect;
mod external;
mod index;
mod intake;
mod parse;
mod patterns;
mod query;
mod report;
mod run;
mod scratch;
mod tantivy_cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::corpus::{Corpus, CorpusFormat, Count, Extent, Size};
use crate::report::{Machine, Report, StageRows};

/// Corpus size of the stage benchmarks unless `--size` says otherwise.
const STAGE_SIZE: Size = Size(256 << 20);
/// Corpus size of the end-to-end run unless `--size` says otherwise.
const RUN_SIZE: Size = Size(1 << 30);
/// Lines of each intake corpus unless `--size` says otherwise.
const INTAKE_LINES: u64 = 1_000_000;
/// Timed runs of a stage benchmark unless `--repeat` says otherwise.
const STAGE_REPEAT: usize = 3;
/// Timed runs of the end-to-end run unless `--repeat` says otherwise.
const RUN_REPEAT: usize = 1;
/// Events of the query corpus unless `--events` says otherwise.
const QUERY_EVENTS: u64 = 10_000_000;
/// Days the query corpus spans.
const QUERY_DAYS: u32 = 7;
/// Timed runs of each query unless `--repeat` says otherwise: six per day.
const QUERY_REPEAT: usize = 6 * QUERY_DAYS as usize;

/// Measures firewatch's throughput stage by stage and end to end, each
/// figure beside a baseline measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "firewatch-bench")]
struct Cli {
    /// What to measure.
    #[arg(value_enum)]
    stage: Stage,

    /// Scratch directory for corpora and indexes (corpora are reused).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,

    /// The shared directory with `bench/gen-corpus.py` and the patterns.
    #[arg(long, value_name = "DIR")]
    shared: Option<PathBuf>,

    /// Corpus size for every stage, e.g. 64M [default: 256M for parse,
    /// detect and index; 1G for run; 1,000,000 lines for intake].
    #[arg(long, value_name = "SIZE")]
    size: Option<Size>,

    /// Timed runs per figure; the median is reported [default: 3; 1 for
    /// run and intake; 42 per query].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,

    /// Events of the `query` corpus, spread over 7 days, e.g. 200k for a
    /// quick look [default: 10M].
    #[arg(long, value_name = "COUNT")]
    events: Option<Count>,

    /// JSON lines instead of tables.
    #[arg(long)]
    json: bool,

    /// The firewatch binary for `run` [default: target/release/firewatch,
    /// built with cargo first].
    #[arg(long, value_name = "PATH")]
    firewatch: Option<PathBuf>,

    /// The tantivy-cli binary [default: `tantivy` on PATH].
    #[arg(long, value_name = "PATH")]
    tantivy: Option<PathBuf>,
}

/// The stages, and all of them in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Stage {
    /// Records to events.
    Parse,
    /// Events through the rules.
    Detect,
    /// Events into the index.
    Index,
    /// `firewatch run`, end to end.
    Run,
    /// `firewatch run` fed by syslog and RabbitMQ over loopback.
    Intake,
    /// Every stage above, in that order.
    All,
    /// Search and context latency over a week of day indexes (on its own:
    /// its corpus and index take long to build the first time).
    Query,
}

/// What every stage needs: where things are, how big, how often.
#[derive(Debug)]
pub struct Bench {
    /// Scratch directory: corpora, rule files, indexes.
    pub work_dir: PathBuf,
    /// The shared directory (generator and patterns).
    pub shared_dir: PathBuf,
    /// The firewatch binary, when given.
    pub firewatch: Option<PathBuf>,
    /// The tantivy-cli binary.
    pub tantivy: PathBuf,
    size: Option<Size>,
    repeat: Option<usize>,
    events: Option<Count>,
}

impl Bench {
    /// Corpus size of the stage benchmarks.
    pub fn stage_size(&self) -> Size {
        self.size.unwrap_or(STAGE_SIZE)
    }

    /// Corpus size of the end-to-end run.
    pub fn run_size(&self) -> Size {
        self.size.unwrap_or(RUN_SIZE)
    }

    /// Timed runs per stage figure.
    pub fn stage_repeat(&self) -> usize {
        self.repeat.unwrap_or(STAGE_REPEAT)
    }

    /// Timed runs per end-to-end figure.
    pub fn run_repeat(&self) -> usize {
        self.repeat.unwrap_or(RUN_REPEAT)
    }

    /// Timed runs of each query.
    pub fn query_repeat(&self) -> usize {
        self.repeat.unwrap_or(QUERY_REPEAT)
    }

    /// The query corpus: `--events` (else [`QUERY_EVENTS`]) JSON events
    /// over [`QUERY_DAYS`] days, generated if needed.
    pub fn query_corpus(&self) -> anyhow::Result<Corpus> {
        let events = self.events.map_or(QUERY_EVENTS, |count| count.0);
        let extent = Extent::Days {
            events,
            days: QUERY_DAYS,
        };
        Corpus::ensure(&self.work_dir, &self.shared_dir, CorpusFormat::Json, extent)
    }

    /// Cores to use for multi-threaded figures.
    pub fn cores(&self) -> usize {
        std::thread::available_parallelism().map_or(1, |cores| cores.get())
    }

    /// The corpus of this format and size, generated if needed.
    pub fn corpus(&self, format: CorpusFormat, size: Size) -> anyhow::Result<Corpus> {
        Corpus::ensure(
            &self.work_dir,
            &self.shared_dir,
            format,
            Extent::Bytes(size),
        )
    }

    /// The intake corpus of this format: `--size` if given, else
    /// [`INTAKE_LINES`] lines, so that both formats carry as many events.
    pub fn intake_corpus(&self, format: CorpusFormat) -> anyhow::Result<Corpus> {
        let extent = self.size.map_or(Extent::Lines(INTAKE_LINES), Extent::Bytes);
        Corpus::ensure(&self.work_dir, &self.shared_dir, format, extent)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let bench = Bench {
        work_dir: cli
            .work
            .unwrap_or_else(|| std::env::temp_dir().join("firewatch-bench")),
        shared_dir: cli
            .shared
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")),
        firewatch: cli.firewatch,
        tantivy: tantivy_cli::binary(cli.tantivy.as_ref()),
        size: cli.size,
        repeat: cli.repeat.map(|runs| runs as usize),
        events: cli.events,
    };
    std::fs::create_dir_all(&bench.work_dir).with_context(|| {
        format!(
            "cannot create the scratch directory {}",
            bench.work_dir.display()
        )
    })?;
    let report = Report { json: cli.json };
    report.machine(&Machine::detect());

    for (title, stage_bench) in cli.stage.selected() {
        report.stage(title, &stage_bench(&bench)?);
    }
    Ok(())
}

/// A stage's benchmark: its rows, baselines included.
type StageBench = fn(&Bench) -> anyhow::Result<StageRows>;

impl Stage {
    /// The benchmarks this choice runs, in order, with their titles.
    fn selected(self) -> Vec<(&'static str, StageBench)> {
        let stages: [(Stage, &'static str, StageBench); 6] = [
            (Stage::Parse, "parse", |bench| {
                parse::bench(bench).map(Into::into)
            }),
            (Stage::Detect, "detect", |bench| {
                detect::bench(bench).map(Into::into)
            }),
            (Stage::Index, "index", |bench| {
                index::bench(bench).map(Into::into)
            }),
            (Stage::Run, "run", |bench| run::bench(bench).map(Into::into)),
            (Stage::Intake, "intake", |bench| {
                intake::bench(bench).map(Into::into)
            }),
            (Stage::Query, "query", query::bench),
        ];
        stages
            .into_iter()
            .filter(|&(stage, ..)| stage == self || (self == Stage::All && stage != Stage::Query))
            .map(|(_, title, stage_bench)| (title, stage_bench))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_runs_every_stage_in_order_and_one_runs_itself() {
        let titles = |stage: Stage| -> Vec<&str> {
            stage
                .selected()
                .into_iter()
                .map(|(title, _)| title)
                .collect()
        };
        assert_eq!(
            titles(Stage::All),
            ["parse", "detect", "index", "run", "intake"]
        );
        assert_eq!(titles(Stage::Index), ["index"]);
        assert_eq!(titles(Stage::Query), ["query"]);
    }

    #[test]
    fn sizes_and_repeats_default_per_stage_unless_given() {
        let cli = Cli::try_parse_from(["firewatch-bench", "all"]).unwrap();
        assert_eq!((cli.size, cli.repeat), (None, None));
        let cli = Cli::try_parse_from(["firewatch-bench", "run", "--size", "64M", "--repeat", "2"])
            .unwrap();
        assert_eq!((cli.size, cli.repeat), (Some(Size(64 << 20)), Some(2)));
        assert!(Cli::try_parse_from(["firewatch-bench", "run", "--repeat", "0"]).is_err());
        assert!(Cli::try_parse_from(["firewatch-bench", "run", "--size", "lots"]).is_err());
        let cli = Cli::try_parse_from(["firewatch-bench", "query", "--events", "200k"]).unwrap();
        assert_eq!(cli.events, Some(Count(200_000)));
    }
}
