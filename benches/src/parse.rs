//! `parse`: records to events with `firewatch_parse::Parser`, on one thread
//! and on every core, against the bare library decode underneath (a
//! `serde_json::Value` per JSON line, `syslog_loose` per syslog line).
//!
//! The corpus is split into records before the clock starts; the events are
//! dropped as soon as they are made, so that the figure is parsing alone.

use std::hint::black_box;
use std::time::Instant;

use firewatch_event::{RawRecord, Timestamp};
use firewatch_parse::Parser;

use crate::Bench;
use crate::corpus::{Corpus, CorpusFormat, source_name};
use crate::report::{Measurement, median_of};

const STAGE: &str = "parse";

/// Measures both corpus formats.
pub fn bench(bench: &Bench) -> anyhow::Result<Vec<Measurement>> {
    let mut rows = Vec::new();
    for format in [CorpusFormat::Json, CorpusFormat::Syslog] {
        let corpus = bench.corpus(format, bench.stage_size())?;
        let records = corpus.records()?;
        rows.extend(bench_corpus(bench, &corpus, &records)?);
    }
    Ok(rows)
}

fn bench_corpus(
    bench: &Bench,
    corpus: &Corpus,
    records: &[RawRecord],
) -> anyhow::Result<Vec<Measurement>> {
    let runs = bench.stage_repeat();
    let parser = corpus.parser();
    let received = Timestamp::now();

    let library = median_of(runs, || {
        let started = Instant::now();
        match corpus.format {
            CorpusFormat::Json => records.iter().for_each(|record| {
                black_box(serde_json::from_slice::<serde_json::Value>(&record.bytes).ok());
            }),
            CorpusFormat::Syslog => records.iter().for_each(|record| {
                if let Ok(line) = std::str::from_utf8(&record.bytes) {
                    black_box(syslog_loose::parse_message(
                        line,
                        syslog_loose::Variant::Either,
                    ));
                }
            }),
        }
        Ok(started.elapsed())
    })?;
    let library_name = match corpus.format {
        CorpusFormat::Json => "serde_json::Value decode",
        CorpusFormat::Syslog => "syslog_loose::parse_message",
    };
    let library = Measurement::new(STAGE, library_name, corpus, library);

    let mut unparsed = 0;
    let one_thread = median_of(runs, || {
        let started = Instant::now();
        unparsed = parse_all(&parser, records, received);
        Ok(started.elapsed())
    })?;
    let one_thread = Measurement::new(STAGE, "firewatch, 1 thread", corpus, one_thread)
        .compared_to(&library)
        .with_note(format!("{unparsed} events marked unparsed"));

    let threads = bench.cores();
    let all_cores = median_of(runs, || {
        let started = Instant::now();
        let chunk = records.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for part in records.chunks(chunk) {
                let parser = &parser;
                scope.spawn(move || parse_all(parser, part, received));
            }
        });
        Ok(started.elapsed())
    })?;
    let all_cores = Measurement::new(
        STAGE,
        format!("firewatch, {threads} threads"),
        corpus,
        all_cores,
    )
    .compared_to(&one_thread);

    Ok(vec![library, one_thread, all_cores])
}

/// Parses every record and drops the event; returns how many were marked
/// unparsed (a sanity check: the corpus is clean, so this should be 0).
fn parse_all(parser: &Parser, records: &[RawRecord], received: Timestamp) -> usize {
    let source = source_name();
    records
        .iter()
        .filter(|record| parser.parse(record, &source, received).problem.unparsed)
        .count()
}
