//! `detect`: `firewatch_rules::Detector` over pre-parsed JSON events, with
//! 10 and with 1,000 keyword rules, on one thread, against ripgrep searching
//! the same file for the same phrases on one thread.
//!
//! The rules match keywords ASCII case-insensitively (their default), so
//! ripgrep runs with `-i` to do the same job. The two counts differ by
//! design: a rule looks at the event's message only, ripgrep at the whole
//! line (host, service and trace id included).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use firewatch_event::Event;
use firewatch_rules::{Detector, RuleSet};

use crate::Bench;
use crate::corpus::{Corpus, CorpusFormat};
use crate::external::External;
use crate::patterns::Patterns;
use crate::report::{Measurement, median_of};

const STAGE: &str = "detect";

/// Events per batch: the pipeline takes incident changes once per batch.
const BATCH_EVENTS: usize = 1_000;

/// Measures the 10-rule and the 1,000-rule sets.
pub fn bench(bench: &Bench) -> anyhow::Result<Vec<Measurement>> {
    let corpus = bench.corpus(CorpusFormat::Json, bench.stage_size())?;
    let events = corpus.events()?;
    let mut rows = Vec::new();
    for rule_count in [10, 1_000] {
        let patterns = Patterns::load(&bench.shared_dir, &bench.work_dir, rule_count)?;
        rows.extend(bench_rules(bench, &corpus, &events, &patterns)?);
    }
    Ok(rows)
}

fn bench_rules(
    bench: &Bench,
    corpus: &Corpus,
    events: &[Event],
    patterns: &Patterns,
) -> anyhow::Result<Vec<Measurement>> {
    let runs = bench.stage_repeat();
    let count = patterns.count();

    let ripgrep = External::new("rg")
        .args(["-j1", "-c", "-F", "-i", "-f"])
        .args([patterns.write_pattern_file()?, corpus.path.clone()])
        .capture_stdout();
    let (timing, last_run) = ripgrep.time_runs(runs, &bench.work_dir, || Ok(()))?;
    let printed = String::from_utf8_lossy(&last_run.stdout);
    let matched_lines: u64 = printed
        .trim()
        .parse()
        .with_context(|| format!("rg printed {printed:?}, not a line count"))?;
    let ripgrep_row = Measurement::new(
        STAGE,
        format!("rg -j1 -F -i, {count} patterns"),
        corpus,
        timing,
    )
    .with_command(&ripgrep, &last_run)
    .with_note(format!("{matched_lines} lines matched"));

    let compiling = Instant::now();
    let rules = Arc::new(patterns.rule_set()?);
    let compile_seconds = compiling.elapsed().as_secs_f64();
    let mut matched_events = 0;
    let detector_timing = median_of(runs, || {
        let started = Instant::now();
        matched_events = detect_all(&rules, events);
        Ok(started.elapsed())
    })?;
    let detector_row = Measurement::new(
        STAGE,
        format!("firewatch, {count} rules"),
        corpus,
        detector_timing,
    )
    .compared_to(&ripgrep_row)
    .with_note(format!(
        "{matched_events} events matched; rules compiled in {compile_seconds:.3} s"
    ));
    Ok(vec![ripgrep_row, detector_row])
}

/// Runs a fresh detector over every event, taking incident changes once
/// per batch as the pipeline does; returns how many events matched a rule.
fn detect_all(rules: &Arc<RuleSet>, events: &[Event]) -> u64 {
    let mut detector = Detector::new(Arc::clone(rules));
    let mut matches = Vec::new();
    let mut matched_events = 0;
    for batch in events.chunks(BATCH_EVENTS) {
        for event in batch {
            matches.clear();
            detector.observe(event, &mut matches);
            matched_events += u64::from(!matches.is_empty());
        }
        drop(detector.take_changes());
    }
    matched_events
}
