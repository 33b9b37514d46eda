//! Measures how fast a detector matches many keyword rules.
//!
//! Every line of PATTERNS becomes one rule (`match: { any: [line] }`,
//! case-insensitive unless `--case-sensitive`), and every line of MESSAGES
//! one event; the detector then observes all events once. Prints the rule
//! count, compile time, lines that matched at least one rule (compare with
//! `rg -c -F -i -f PATTERNS MESSAGES`) and throughput over the message bytes
//! (best of five passes; reading the file is not timed).
//!
//! ```sh
//! python3 gen-corpus.py --lines 200000 --format json --out /tmp/x.log
//! python3 -c 'import json,sys; [print(json.loads(l)["msg"]) for l in open("/tmp/x.log")]' > /tmp/msgs.txt
//! cargo run --release -p firewatch-rules --example match_throughput -- patterns-1000.txt /tmp/msgs.txt
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use firewatch_event::{Event, EventId, Timestamp};
use firewatch_rules::{Detector, RuleSet};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let case_sensitive = args.iter().any(|arg| arg == "--case-sensitive");
    let paths: Vec<&String> = args.iter().filter(|arg| !arg.starts_with("--")).collect();
    let [patterns_path, messages_path] = paths.as_slice() else {
        return Err("usage: match_throughput [--case-sensitive] PATTERNS MESSAGES".into());
    };

    let patterns = std::fs::read_to_string(patterns_path)?;
    let mut yaml = String::from("rules:\n");
    for (index, pattern) in patterns.lines().filter(|line| !line.is_empty()).enumerate() {
        let quoted = serde_json::to_string(pattern)?;
        yaml.push_str(&format!(
            "  - {{ id: p{index}, title: t, severity: low, \
             match: {{ any: [{quoted}], case_sensitive: {case_sensitive} }} }}\n"
        ));
    }
    let started = Instant::now();
    let rules = RuleSet::from_yaml(&yaml, patterns_path)?;
    let compile_time = started.elapsed();

    let messages = std::fs::read_to_string(messages_path)?;
    let events: Vec<Event> = messages
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let mut event =
                Event::new(EventId(index as u64), "bench".into(), Timestamp::UNIX_EPOCH);
            event.message = line.to_owned();
            event
        })
        .collect();
    let bytes: usize = events.iter().map(|event| event.message.len()).sum();

    // Best of a few passes, each with a fresh detector, to see past noise.
    let rule_count = rules.len();
    let rules = Arc::new(rules);
    let mut matches = Vec::new();
    let mut matched_lines = 0usize;
    let mut elapsed = f64::INFINITY;
    for _ in 0..5 {
        let mut detector = Detector::new(Arc::clone(&rules));
        matched_lines = 0;
        let started = Instant::now();
        for event in &events {
            matches.clear();
            detector.observe(event, &mut matches);
            matched_lines += usize::from(!matches.is_empty());
        }
        elapsed = elapsed.min(started.elapsed().as_secs_f64());
    }

    println!(
        "{rule_count} rules (compiled in {:.0} ms), {} lines, {:.1} MB of messages",
        compile_time.as_secs_f64() * 1e3,
        events.len(),
        bytes as f64 / 1e6
    );
    println!(
        "{matched_lines} lines matched; {:.3} s, {:.1} MB/s, {:.2} M lines/s",
        elapsed,
        bytes as f64 / 1e6 / elapsed,
        events.len() as f64 / 1e6 / elapsed
    );
    Ok(())
}
