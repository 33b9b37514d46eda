//! `run`: `firewatch run` end to end, the release binary reading the JSON
//! corpus with the 1,000 keyword rules into a fresh data directory, against
//! `cat` (reading the file: the I/O floor) and tantivy-cli (indexing the
//! same documents with two threads: the indexing yardstick).
//!
//! Every program runs under GNU time, which gives its peak resident memory.
//! The corpus is read by `cat` first, so that every run finds it in the page
//! cache: the figures are CPU throughput, not disk throughput.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use serde_json::Value;

use crate::Bench;
use crate::corpus::{Corpus, CorpusFormat};
use crate::external::External;
use crate::patterns::Patterns;
use crate::report::Measurement;
use crate::scratch::{fresh_dir, on_disk};
use crate::tantivy_cli;

const STAGE: &str = "run";

/// The rule count of the end-to-end run.
const RULES: usize = 1_000;

/// Indexing threads given to tantivy-cli.
pub const TANTIVY_THREADS: usize = 2;

/// Measures `cat`, tantivy-cli and `firewatch run` on the run-size corpus.
pub fn bench(bench: &Bench) -> anyhow::Result<Vec<Measurement>> {
    let corpus = bench.corpus(CorpusFormat::Json, bench.run_size())?;
    let runs = bench.run_repeat();

    let cat = External::new("cat").args([&corpus.path]);
    let (timing, last_run) = cat.time_runs(runs, &bench.work_dir, || Ok(()))?;
    let cat_row = Measurement::new(STAGE, "cat", &corpus, timing).with_command(&cat, &last_run);

    let (tantivy_row, _) = tantivy_cli::measure(bench, STAGE, &corpus, TANTIVY_THREADS, runs)?;

    let data_dir = bench.work_dir.join("run-data");
    let firewatch = firewatch_binary(bench)?;
    let firewatch_row =
        index_with_firewatch(bench, &firewatch, STAGE, &corpus, RULES, &data_dir, runs)?
            .compared_to(&tantivy_row);

    std::fs::remove_dir_all(&data_dir)
        .with_context(|| format!("cannot remove {}", data_dir.display()))?;
    Ok(vec![cat_row, tantivy_row, firewatch_row])
}

/// Times `firewatch run --json` (the binary `firewatch`) indexing `corpus` with the first `rules`
/// keyword rules into a fresh `data_dir`, `runs` times (the pipeline file is
/// `STAGE-pipeline.toml` in the scratch directory). The row notes the run's
/// summary and the data directory's size; the last run's index stays.
pub fn index_with_firewatch(
    bench: &Bench,
    firewatch: &Path,
    stage: &'static str,
    corpus: &Corpus,
    rules: usize,
    data_dir: &Path,
    runs: usize,
) -> anyhow::Result<Measurement> {
    let patterns = Patterns::load(&bench.shared_dir, &bench.work_dir, rules)?;
    let rules_dir = patterns.write_rules()?;
    let pipeline = bench.work_dir.join(format!("{stage}-pipeline.toml"));
    std::fs::write(&pipeline, pipeline_toml(&corpus.path, &rules_dir, data_dir))
        .with_context(|| format!("cannot write {}", pipeline.display()))?;
    let firewatch_run = External::new(firewatch)
        .args(["run", "--json", "--data-dir"])
        .args([data_dir, &pipeline])
        .capture_stdout();
    let (timing, last_run) =
        firewatch_run.time_runs(runs, &bench.work_dir, || fresh_dir(data_dir))?;
    let summary = last_summary(&last_run.stdout)?;
    let events = summary["events"].as_u64().unwrap_or(corpus.lines);
    Ok(Measurement::new(
        stage,
        format!("firewatch run, {rules} rules"),
        corpus,
        timing,
    )
    .with_events(events)
    .with_command(&firewatch_run, &last_run)
    .with_note(format!(
        "parse errors: {}, incidents opened: {}, commits: {}, {}",
        summary["parse_errors"],
        summary["incidents_opened"],
        summary["commits"],
        on_disk(data_dir)?
    )))
}

/// Events committed in `data_dir`'s day indexes, as `firewatch index stats`
/// counts them (0 while it cannot tell, e.g. before the first commit).
pub fn indexed_events(firewatch: &Path, data_dir: &Path) -> anyhow::Result<u64> {
    let output = Command::new(firewatch)
        .args(["index", "stats", "--json", "--data-dir"])
        .arg(data_dir)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {} index stats", firewatch.display()))?;
    if !output.status.success() {
        return Ok(0);
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|day| day["events"].as_u64())
        .sum())
}

/// The firewatch binary: the one given, else the workspace's release build,
/// brought up to date by cargo first.
pub fn firewatch_binary(bench: &Bench) -> anyhow::Result<PathBuf> {
    if let Some(path) = &bench.firewatch {
        return Ok(path.clone());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate has no parent directory")?;
    let build = External::new("cargo")
        .args(["build", "--release", "-p", "firewatch", "--manifest-path"])
        .args([workspace.join("Cargo.toml")]);
    eprintln!("building firewatch: {}", build.command_line());
    build.run(&bench.work_dir)?;
    Ok(workspace.join("target/release/firewatch"))
}

/// One file source in JSON format, read once from the beginning, and the
/// generated rules. Strings are written as JSON strings, whose escapes TOML
/// basic strings share.
pub fn pipeline_toml(corpus: &Path, rules_dir: &Path, data_dir: &Path) -> String {
    let quoted = |path: &Path| Value::from(path.to_string_lossy()).to_string();
    format!(
        "data_dir = {}\n\n\
         [[sources]]\n\
         name = \"bench\"\n\
         type = \"file\"\n\
         paths = [{}]\n\
         format = \"json\"\n\
         follow = false\n\
         start_at = \"beginning\"\n\n\
         [rules]\n\
         paths = [{}]\n",
        quoted(data_dir),
        quoted(corpus),
        quoted(rules_dir),
    )
}

/// The summary `firewatch run --json` prints last.
pub fn last_summary(stdout: &[u8]) -> anyhow::Result<Value> {
    let text = String::from_utf8_lossy(stdout);
    let last = text.lines().last().unwrap_or_default();
    let mut line: Value = serde_json::from_str(last)
        .with_context(|| format!("firewatch run printed {last:?} last, not a summary"))?;
    Ok(line["summary"].take())
}

#[cfg(test)]
mod tests {
    use firewatch_pipeline::{PipelineConfig, SourceKind};

    use super::*;

    #[test]
    fn the_pipeline_file_reads_back_with_the_paths_given() {
        let corpus = Path::new("/tmp/bench \"1\"/corpus-json-1G.log");
        let toml = pipeline_toml(
            corpus,
            Path::new("/tmp/rules-1000"),
            Path::new("/tmp/run-data"),
        );
        let config = PipelineConfig::from_toml(&toml, Path::new("run-pipeline.toml")).unwrap();
        assert_eq!(config.data_dir.unwrap(), Path::new("/tmp/run-data"));
        assert_eq!(config.sources.len(), 1);
        let source = &config.sources[0];
        assert_eq!(source.kind, SourceKind::File);
        assert_eq!(source.paths, [corpus.to_string_lossy()]);
        assert_eq!(source.format, firewatch_parse::Format::Json);
        assert!(!source.follow);
        assert_eq!(config.rules.paths, [Path::new("/tmp/rules-1000")]);
    }

    #[test]
    fn the_summary_is_taken_from_the_last_line() {
        let stdout = b"{\"change\":\"opened\"}\n{\"summary\":{\"events\":42}}\n";
        assert_eq!(last_summary(stdout).unwrap()["events"], 42);
        assert!(last_summary(b"no json\n").is_err());
    }
}
