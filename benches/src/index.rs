//! `index`: `firewatch_index::IndexWriter` adding pre-parsed JSON events and
//! committing, with its default configuration (one indexing thread, 256 MiB),
//! against tantivy-cli indexing the same file with one indexing thread and
//! the same memory budget.
//!
//! The comparison leans towards tantivy-cli: it also decodes the JSON (on
//! a thread of its own), while firewatch's figure starts from events. What
//! firewatch adds is its richer document (ids, both times, level rank,
//! every field as JSON, a log tokenizer) and the commit payload.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use firewatch_event::{Checkpoint, Event};
use firewatch_index::{IndexConfig, IndexWriter};

use crate::Bench;
use crate::corpus::CorpusFormat;
use crate::report::{Measurement, median_of};
use crate::scratch::{fresh_dir, on_disk};
use crate::tantivy_cli;

const STAGE: &str = "index";

/// Events between commits: the pipeline's default `commit_documents`.
const COMMIT_EVERY: usize = 200_000;

/// Measures tantivy-cli, then firewatch, on the stage-size JSON corpus.
pub fn bench(bench: &Bench) -> anyhow::Result<Vec<Measurement>> {
    let corpus = bench.corpus(CorpusFormat::Json, bench.stage_size())?;
    let runs = bench.stage_repeat();

    let (tantivy_row, _) = tantivy_cli::measure(bench, STAGE, &corpus, 1, runs)?;

    let events = corpus.events()?;
    let data_dir = bench.work_dir.join("index-firewatch");
    let firewatch_timing = median_of(runs, || {
        fresh_dir(&data_dir)?;
        let started = Instant::now();
        index_all(&data_dir, &events)?;
        Ok(started.elapsed())
    })?;
    let firewatch_row = Measurement::new(
        STAGE,
        "firewatch, 1 indexing thread",
        &corpus,
        firewatch_timing,
    )
    .compared_to(&tantivy_row)
    .with_note(format!(
        "{}; a commit every {COMMIT_EVERY} events",
        on_disk(&data_dir)?
    ));

    std::fs::remove_dir_all(&data_dir)
        .with_context(|| format!("cannot remove {}", data_dir.display()))?;
    Ok(vec![tantivy_row, firewatch_row])
}

/// Indexes every event into a new data directory, committing as the
/// pipeline would with its default settings.
fn index_all(data_dir: &Path, events: &[Event]) -> anyhow::Result<()> {
    let mut writer = IndexWriter::open(data_dir, IndexConfig::default())
        .with_context(|| format!("cannot open an index in {}", data_dir.display()))?;
    let checkpoint = Checkpoint::default();
    for batch in events.chunks(COMMIT_EVERY) {
        for event in batch {
            writer.add_event(event, &[], false)?;
        }
        writer.commit(&checkpoint)?;
    }
    Ok(())
}
