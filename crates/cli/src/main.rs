//! `firewatch`: log-driven incident detection with searchable history.
//!
//! Each subcommand lives in its own module under `commands/`; this file only
//! declares the command line and dispatches.

mod commands;
mod input;
mod output;
mod timearg;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc rather than the system allocator: events, documents and index
/// buffers are allocated on one thread and freed on another, which glibc's
/// malloc handles slowly (it was a tenth of `run`'s CPU time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Watches logs for smoke: parses them, runs detection rules, opens
/// incidents, and keeps every event searchable for the postmortem.
#[derive(Debug, Parser)]
#[command(name = "firewatch", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// More log output on stderr (-v: debug, -vv: trace). `FIREWATCH_LOG`
    /// takes a full filter (e.g. `firewatch_ingest=debug`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Where the indexes are, for commands that read or write them.
#[derive(Debug, Args)]
struct DataDirArg {
    /// Data directory [default: the pipeline's `data_dir`, else ./firewatch-data].
    #[arg(long, env = "FIREWATCH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDirArg {
    fn resolve(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(firewatch_pipeline::DEFAULT_DATA_DIR))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline: read its sources, detect incidents, index everything.
    Run(commands::run::RunArgs),
    /// Search indexed events (tantivy query syntax; message by default).
    Search(commands::search::SearchArgs),
    /// The lines around one event, from the same source and host.
    Context(commands::context::ContextArgs),
    /// Size of the indexes, and removal of old days.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
    /// List and inspect incidents.
    #[command(subcommand)]
    Incidents(commands::incidents::IncidentsCommand),
    /// Silence notifications of matching incidents for a while.
    #[command(subcommand)]
    Silence(commands::silence::SilenceCommand),
    /// Check detection rules.
    #[command(subcommand)]
    Rules(commands::rules::RulesCommand),
    /// Show how lines are parsed: one JSON object per event.
    Parse(commands::parse::ParseArgs),
    /// Run rules over a file without indexing (a drill).
    Detect(commands::detect::DetectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Context(args) => commands::context::run(args),
        Command::Index(command) => commands::index::run(command),
        Command::Incidents(command) => commands::incidents::run(command),
        Command::Silence(command) => commands::silence::run(command),
        Command::Rules(command) => commands::rules::run(command),
        Command::Parse(args) => commands::parse::run(args),
        Command::Detect(args) => commands::detect::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if output::is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr, so that stdout stays clean for results.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("FIREWATCH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
