//! Measures detection throughput with many rules of every type, next to
//! ripgrep looking for the same keywords, and compile time.
//!
//! Rules are made from the lines of PATTERNS, cycled with a numeric suffix
//! past its end so that every rule has its own keyword. Rule `i` is of type
//! `i mod 8` (any, threshold, spike, absence, sequence, new_value,
//! cardinality, ratio), some with `when:` conditions. CORPUS is a JSON-lines
//! file as `gen-corpus.py --format json` writes it; each line becomes one
//! event (time, level, service, host, message, status and latency fields).
//! For each rule count the detector observes every event (best of three
//! passes, reading and parsing not timed), then `rg -c -F -i -f` runs over
//! the same messages with the same keywords (best of three).
//!
//! ```sh
//! python3 gen-corpus.py --lines 300000 --format json --out /tmp/c.json
//! cargo run --release -p firewatch-rules --example rule_types_throughput -- \
//!     patterns-1000.txt /tmp/c.json 10 1000 10000
//! ```

use std::error::Error;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use firewatch_event::{Event, EventId, Level, Timestamp};
use firewatch_rules::{Detector, RuleSet};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [patterns_path, corpus_path, counts @ ..] = args.as_slice() else {
        return Err("usage: rule_types_throughput PATTERNS CORPUS [RULE_COUNT...]".into());
    };
    let counts: Vec<usize> = if counts.is_empty() {
        vec![10, 1_000, 10_000]
    } else {
        counts
            .iter()
            .map(|count| count.parse())
            .collect::<Result<_, _>>()?
    };
    let patterns: Vec<String> = std::fs::read_to_string(patterns_path)?
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let events = read_corpus(corpus_path)?;
    let bytes: usize = events.iter().map(|event| event.message.len()).sum();
    let scratch = tempfile::tempdir()?;
    let messages_path = scratch.path().join("messages.txt");
    let mut messages = String::with_capacity(bytes + events.len());
    for event in &events {
        messages.push_str(&event.message);
        messages.push('\n');
    }
    std::fs::write(&messages_path, messages)?;
    println!(
        "{} events, {:.1} MB of messages",
        events.len(),
        bytes as f64 / 1e6
    );

    for count in counts {
        let keywords: Vec<String> = (0..count).map(|index| keyword(&patterns, index)).collect();
        let yaml = rules_yaml(&keywords)?;
        let started = Instant::now();
        let rules = Arc::new(RuleSet::from_yaml(&yaml, "generated")?);
        let compile = started.elapsed().as_secs_f64();

        let mut out = Vec::new();
        let mut best = f64::INFINITY;
        let mut matched_lines = 0usize;
        let mut incidents = 0usize;
        for _ in 0..3 {
            let mut detector = Detector::new(Arc::clone(&rules));
            matched_lines = 0;
            let started = Instant::now();
            for event in &events {
                out.clear();
                detector.observe(event, &mut out);
                matched_lines += usize::from(!out.is_empty());
            }
            best = best.min(started.elapsed().as_secs_f64());
            incidents = detector.incidents().len();
        }

        let keywords_path = scratch.path().join("keywords.txt");
        std::fs::write(&keywords_path, keywords.join("\n") + "\n")?;
        let mut rg_best = f64::INFINITY;
        let mut rg_lines = String::new();
        for _ in 0..3 {
            let started = Instant::now();
            let output = Command::new("rg")
                .args(["-c", "-F", "-i", "-f"])
                .arg(&keywords_path)
                .arg(&messages_path)
                .output()?;
            rg_best = rg_best.min(started.elapsed().as_secs_f64());
            rg_lines = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        println!(
            "{count:>6} rules: compile {:>7.1} ms | detect {:.3} s, {:>6.1} MB/s, {:.2} M lines/s, \
             {matched_lines} lines matched, {incidents} incidents | rg {:.3} s, {:>6.1} MB/s, \
             {rg_lines} lines",
            compile * 1e3,
            best,
            bytes as f64 / 1e6 / best,
            events.len() as f64 / 1e6 / best,
            rg_best,
            bytes as f64 / 1e6 / rg_best,
        );
    }
    Ok(())
}

/// The keyword of rule `index`: the patterns in turn, then again with a
/// suffix, so that every rule has a distinct keyword.
fn keyword(patterns: &[String], index: usize) -> String {
    let pattern = &patterns[index % patterns.len()];
    match index / patterns.len() {
        0 => pattern.clone(),
        round => format!("{pattern} #{round}"),
    }
}

/// One rule per keyword, the types in turn.
fn rules_yaml(keywords: &[String]) -> Result<String, Box<dyn Error>> {
    let mut yaml = String::from("rules:\n");
    for (index, keyword) in keywords.iter().enumerate() {
        let quoted = serde_json::to_string(keyword)?;
        let next = serde_json::to_string(&keywords[(index + 1) % keywords.len()])?;
        let head = format!("  - id: r{index}\n    title: \"{{rule}}\"\n    severity: low\n");
        let body = match index % 8 {
            0 => format!("    match: {{ any: [{quoted}] }}\n    group_by: [host]\n"),
            1 => format!(
                "    match: {{ any: [{quoted}] }}\n    \
                 when: {{ not: {{ field: host, op: glob, value: 'test-*' }} }}\n    \
                 threshold: {{ count: 5, window: 1m }}\n    group_by: [host]\n"
            ),
            2 => format!(
                "    match: {{ any: [{quoted}] }}\n    \
                 spike: {{ window: 5m, factor: 3, min_count: 10 }}\n    group_by: [service]\n"
            ),
            3 => format!(
                "    match: {{ any: [{quoted}] }}\n    absence: {{ period: 10m }}\n    \
                 group_by: [host]\n"
            ),
            4 => format!(
                "    sequence:\n      first: {{ keywords: {{ any: [{quoted}] }} }}\n      \
                 then: {{ keywords: {{ any: [{next}] }} }}\n      within: 10m\n    \
                 group_by: [host]\n"
            ),
            5 => format!(
                "    match: {{ any: [{quoted}] }}\n    \
                 new_value: {{ field: fields.status, learn: 10m }}\n    group_by: [service]\n"
            ),
            6 => format!(
                "    match: {{ any: [{quoted}] }}\n    \
                 cardinality: {{ field: host, count: 3, window: 5m }}\n    group_by: [service]\n"
            ),
            _ => format!(
                "    when: {{ field: fields.latency_ms, op: '>', value: 250 }}\n    \
                 ratio: {{ of: {{ keywords: {{ any: [{quoted}] }} }}, above: 0.1, window: 5m, \
                 min_count: 20 }}\n    group_by: [service]\n"
            ),
        };
        let _ = write!(yaml, "{head}{body}");
    }
    Ok(yaml)
}

/// Events from a JSON-lines corpus.
fn read_corpus(path: &str) -> Result<Vec<Event>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let serde_json::Value::Object(mut record) = serde_json::from_str(line)? else {
            continue;
        };
        let mut text_of = |key: &str| match record.remove(key) {
            Some(serde_json::Value::String(text)) => Some(text),
            _ => None,
        };
        let time: Option<Timestamp> = text_of("ts").and_then(|ts| ts.parse().ok());
        let level = text_of("level").and_then(|level| Level::parse(&level));
        let service = text_of("service");
        let host = text_of("host");
        let message = text_of("msg").unwrap_or_default();
        let mut event = Event::new(
            EventId(index as u64),
            "bench".into(),
            time.unwrap_or(Timestamp::UNIX_EPOCH),
        );
        event.timestamp = time;
        event.level = level.unwrap_or_default();
        event.service = service;
        event.host = host;
        event.message = message;
        event.fields = record;
        events.push(event);
    }
    Ok(events)
}
