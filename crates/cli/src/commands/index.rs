//! `firewatch index stats` and `firewatch index prune`: what the indexes
//! hold and how much disk they take, and forgetting old days by hand.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use firewatch_index::IndexReader;
use firewatch_index::retention::remove_days_older_than;
use jiff::Timestamp;
use serde_json::json;

use crate::DataDirArg;
use crate::output::write_json_line;

/// Subcommands of `firewatch index`.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Days indexed: events, size on disk and segments of each.
    Stats(StatsArgs),
    /// Remove the day indexes whose whole day is older than a duration
    /// (what `retention` in the pipeline's [index] table does while it runs).
    Prune(PruneArgs),
}

/// Arguments of `firewatch index stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One JSON object per day.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    data_dir: DataDirArg,
}

/// Arguments of `firewatch index prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep this much history back from now (`14d`); older whole days go.
    #[arg(long, value_name = "DURATION")]
    older_than: String,

    #[command(flatten)]
    data_dir: DataDirArg,
}

pub fn run(command: IndexCommand) -> anyhow::Result<ExitCode> {
    match command {
        IndexCommand::Stats(args) => stats(args),
        IndexCommand::Prune(args) => prune(args),
    }
}

fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let days = IndexReader::open(&args.data_dir.resolve())?.days()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for day in &days {
            write_json_line(
                &mut out,
                &json!({
                    "day": day.day.to_string(),
                    "events": day.documents,
                    "bytes": day.bytes,
                    "segments": day.segments,
                }),
            )?;
        }
    } else {
        writeln!(
            out,
            "{:10}  {:>10}  {:>12}  {:>8}",
            "DAY", "EVENTS", "BYTES", "SEGMENTS"
        )?;
        for day in &days {
            writeln!(
                out,
                "{:10}  {:>10}  {:>12}  {:>8}",
                day.day.to_string(),
                day.documents,
                day.bytes,
                day.segments
            )?;
        }
        writeln!(
            out,
            "{:10}  {:>10}  {:>12}  {:>8}",
            "total",
            days.iter().map(|day| day.documents).sum::<u64>(),
            days.iter().map(|day| day.bytes).sum::<u64>(),
            days.iter().map(|day| day.segments).sum::<usize>()
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let keep = firewatch_event::parse_duration(&args.older_than)
        .with_context(|| format!("--older-than {:?}: expected e.g. 14d", args.older_than))?;
    let cutoff = Timestamp::now().checked_sub(keep)?;
    let data_dir = args.data_dir.resolve();
    // Opening a reader checks that this is a firewatch data directory.
    IndexReader::open(&data_dir)?;
    let removed = remove_days_older_than(&data_dir, cutoff)?;
    let mut out = std::io::stdout().lock();
    if removed.is_empty() {
        writeln!(out, "no day ends before {cutoff}")?;
    }
    for day in removed {
        writeln!(out, "removed {day}")?;
    }
    Ok(ExitCode::SUCCESS)
}
