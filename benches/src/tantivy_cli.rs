//! tantivy-cli as the indexing baseline: an index with a schema close to
//! firewatch's logs index, fed the same JSON corpus on standard input.
//!
//! The corpus's keys (`ts`, `level`, `service`, `host`, `msg`, `trace_id`,
//! `latency_ms`, `status`) are the schema's field names, so the documents
//! need no transformation. The schema is written as `meta.json` directly,
//! which is what `tantivy new` would write after its questions.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::Bench;
use crate::corpus::Corpus;
use crate::external::External;
use crate::report::Measurement;
use crate::scratch::{directory_bytes, fresh_dir, on_disk};

/// Indexing memory of tantivy-cli, the same as firewatch's default budget
/// (its own default is 1 GB).
pub const MEMORY_BUDGET_BYTES: u64 = 256 << 20;

/// The `meta.json` of an empty index with the benchmark schema.
fn meta_json() -> Value {
    let keyword = |name: &str| {
        json!({
            "name": name,
            "type": "text",
            "options": {
                "indexing": { "record": "basic", "fieldnorms": false, "tokenizer": "raw" },
                "stored": true,
                "fast": true,
            },
        })
    };
    let number = |name: &str| {
        json!({
            "name": name,
            "type": "u64",
            "options": { "indexed": true, "fieldnorms": false, "fast": false, "stored": true },
        })
    };
    json!({
        "index_settings": { "docstore_compression": "lz4", "docstore_blocksize": 16384 },
        "segments": [],
        "schema": [
            {
                "name": "ts",
                "type": "date",
                "options": {
                    "indexed": true, "fieldnorms": false, "fast": true, "stored": true,
                    "precision": "microseconds",
                },
            },
            keyword("level"),
            keyword("service"),
            keyword("host"),
            {
                "name": "msg",
                "type": "text",
                "options": {
                    "indexing": { "record": "position", "fieldnorms": false, "tokenizer": "default" },
                    "stored": true,
                    "fast": false,
                },
            },
            keyword("trace_id"),
            number("latency_ms"),
            number("status"),
        ],
        "opstamp": 0,
    })
}

/// Creates an empty index in `index_dir` (replacing any earlier one).
fn create_index(index_dir: &Path) -> anyhow::Result<()> {
    fresh_dir(index_dir)?;
    let meta = index_dir.join("meta.json");
    std::fs::write(&meta, meta_json().to_string())
        .with_context(|| format!("cannot write {}", meta.display()))
}

/// Times tantivy-cli indexing `corpus` with `threads` indexing threads into
/// a fresh index in the scratch directory, `runs` times; the row notes the
/// index's size, which comes back beside it, and the index is removed
/// afterwards.
pub fn measure(
    bench: &Bench,
    stage: &'static str,
    corpus: &Corpus,
    threads: usize,
    runs: usize,
) -> anyhow::Result<(Measurement, u64)> {
    let index_dir = bench.work_dir.join(format!("{stage}-tantivy-cli"));
    let command = External::new(&bench.tantivy)
        .args(["index", "-i"])
        .args([&index_dir])
        .args([
            "-t".to_owned(),
            threads.to_string(),
            "-m".to_owned(),
            MEMORY_BUDGET_BYTES.to_string(),
        ])
        .stdin(&corpus.path)
        .capture_stdout();
    let (timing, last_run) =
        command.time_runs(runs, &bench.work_dir, || create_index(&index_dir))?;
    check_every_document_indexed(&last_run.stdout)?;
    let subject = format!(
        "tantivy-cli, {threads} indexing thread{}",
        if threads == 1 { "" } else { "s" }
    );
    let index_bytes = directory_bytes(&index_dir)?;
    let row = Measurement::new(stage, subject, corpus, timing)
        .with_command(&command, &last_run)
        .with_note(on_disk(&index_dir)?);
    std::fs::remove_dir_all(&index_dir)
        .with_context(|| format!("cannot remove {}", index_dir.display()))?;
    Ok((row, index_bytes))
}

/// tantivy-cli skips a line that does not fit the schema, saying so on
/// standard output, and still succeeds: a baseline that indexed less than
/// the corpus would flatter itself.
fn check_every_document_indexed(stdout: &[u8]) -> anyhow::Result<()> {
    const SKIPPED: &str = "Failed to add document";
    let stdout = String::from_utf8_lossy(stdout);
    let skipped = stdout
        .lines()
        .filter(|line| line.starts_with(SKIPPED))
        .count();
    match stdout.lines().find(|line| line.starts_with(SKIPPED)) {
        Some(first) => bail!("tantivy-cli skipped {skipped} documents; the first: {first}"),
        None => Ok(()),
    }
}

/// The tantivy-cli binary to use: the one given, else `tantivy` on `PATH`.
pub fn binary(given: Option<&PathBuf>) -> PathBuf {
    given.cloned().unwrap_or_else(|| PathBuf::from("tantivy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_documents_fail_the_baseline() {
        assert!(
            check_every_document_indexed(b"100 Docs\nCommit succeed, docstamp at 101\n").is_ok()
        );
        let error = check_every_document_indexed(b"Failed to add document doc ValueParsingError\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("skipped 1 documents"), "{error}");
    }

    #[test]
    fn the_schema_names_every_key_of_a_corpus_line() {
        let generator =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/gen-corpus.py");
        let output = std::process::Command::new("python3")
            .arg(generator)
            .args(["--lines", "1", "--format", "json", "--out", "-"])
            .output()
            .unwrap();
        let line: serde_json::Map<String, Value> = serde_json::from_slice(&output.stdout).unwrap();
        let mut keys: Vec<&str> = line.keys().map(String::as_str).collect();
        let meta = meta_json();
        let mut names: Vec<&str> = meta["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|field| field["name"].as_str().unwrap())
            .collect();
        keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(keys, names);
    }
}
