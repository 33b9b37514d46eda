//! `detect`: `firewatch_rules::Detector` over pre-parsed JSON events on one
//! thread, against ripgrep searching the same file for the same phrases on
//! one thread. Two rule mixes:
//!
//! - keyword rules, one per phrase, with 10 and with 1,000 rules;
//! - the eight rule types in turn, with 10, 1,000 and 10,000 rules, each
//!   also noting its speed against the 10-rule set of the same mix and how
//!   long its rules take to compile.
//!
//! The rules match keywords ASCII case-insensitively (their default), so
//! ripgrep runs with `-i` to do the same job. The two counts differ by
//! design: a rule looks at the event's message only, ripgrep at the whole
//! line (host, service and trace id included). ripgrep and the detector
//! take turns, run by run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use firewatch_event::Event;
use firewatch_rules::{Detector, RuleSet};

use crate::Bench;
use crate::corpus::{Corpus, CorpusFormat};
use crate::external::External;
use crate::patterns::{Patterns, RuleMix};
use crate::report::{Measurement, median_of, medians_in_turn};

const STAGE: &str = "detect";

/// Events per batch: the pipeline takes incident changes once per batch.
const BATCH_EVENTS: usize = 1_000;

/// The rule sets measured: each mix with its rule counts, smallest first.
const RULE_SETS: [(RuleMix, &[usize]); 2] = [
    (RuleMix::Keywords, &[10, 1_000]),
    (RuleMix::EveryType, &[10, 1_000, 10_000]),
];

/// Measures every rule set of [`RULE_SETS`].
pub fn bench(bench: &Bench) -> anyhow::Result<Vec<Measurement>> {
    let corpus = bench.corpus(CorpusFormat::Json, bench.stage_size())?;
    let events = corpus.events()?;
    let mut rows = Vec::new();
    for (mix, counts) in RULE_SETS {
        let mut smallest: Option<Measurement> = None;
        for &rule_count in counts {
            let patterns = Patterns::load(&bench.shared_dir, &bench.work_dir, rule_count)?;
            let [ripgrep_row, detector_row] = bench_rules(bench, &corpus, &events, &patterns, mix)?;
            let detector_row = match &smallest {
                Some(baseline) => {
                    let speed = detector_row.mb_per_second() / baseline.mb_per_second();
                    let note = format!("{speed:.2}x the speed of {}", baseline.subject());
                    detector_row.with_note(note)
                }
                None => {
                    smallest = Some(detector_row.clone());
                    detector_row
                }
            };
            rows.extend([ripgrep_row, detector_row]);
        }
    }
    Ok(rows)
}

fn bench_rules(
    bench: &Bench,
    corpus: &Corpus,
    events: &[Event],
    patterns: &Patterns,
    mix: RuleMix,
) -> anyhow::Result<[Measurement; 2]> {
    let runs = bench.stage_repeat();
    let count = patterns.count();

    let mut rules = None;
    let compile = median_of(runs, || {
        let started = Instant::now();
        rules = Some(Arc::new(patterns.rule_set(mix)?));
        Ok(started.elapsed())
    })?;
    let rules = rules.context("the rules were never compiled")?;

    let ripgrep = External::new("rg")
        .args(["-j1", "-c", "-F", "-i", "-f"])
        .args([patterns.write_pattern_file()?, corpus.path.clone()])
        .capture_stdout();
    let mut ripgrep_runs = ripgrep.timed_runs(&bench.work_dir);
    let mut outcome = Outcome::default();
    let [ripgrep_timing, detector_timing] = medians_in_turn(
        runs,
        [&mut || ripgrep_runs.once(), &mut || {
            let (elapsed, run_outcome) = detect_all(&rules, events);
            outcome = run_outcome;
            Ok(elapsed)
        }],
    )?;

    let last_run = ripgrep_runs.last()?;
    let printed = String::from_utf8_lossy(&last_run.stdout);
    let matched_lines: u64 = printed
        .trim()
        .parse()
        .with_context(|| format!("rg printed {printed:?}, not a line count"))?;
    let ripgrep_row = Measurement::new(
        STAGE,
        format!("rg -j1 -F -i, {count} patterns"),
        corpus,
        ripgrep_timing,
    )
    .with_command(&ripgrep, &last_run)
    .with_note(format!("{matched_lines} lines matched"));

    let what = match mix {
        RuleMix::Keywords => format!("firewatch, {count} keyword rules"),
        RuleMix::EveryType => format!("firewatch, {count} rules of 8 types"),
    };
    let detector_row = Measurement::new(STAGE, what, corpus, detector_timing)
        .compared_to(&ripgrep_row)
        .with_note(format!(
            "{} events matched, {} incidents; rules compiled in {:.3} s",
            outcome.matched_events, outcome.incidents, compile.seconds
        ));
    Ok([ripgrep_row, detector_row])
}

/// What a pass of the detector over the corpus found.
#[derive(Debug, Default)]
struct Outcome {
    /// Events that matched at least one rule.
    matched_events: u64,
    /// Incidents the detector holds at the end, open or resolved.
    incidents: usize,
}

/// Runs a fresh detector over every event, taking incident changes once
/// per batch as the pipeline does; returns how long that took (creating
/// the detector included, dropping it not) and what it found.
fn detect_all(rules: &Arc<RuleSet>, events: &[Event]) -> (Duration, Outcome) {
    let started = Instant::now();
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
    let elapsed = started.elapsed();
    let outcome = Outcome {
        matched_events,
        incidents: detector.incidents().len(),
    };
    (elapsed, outcome)
}
