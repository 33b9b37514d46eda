//! Grouping accuracy on LogHub's 2k samples, beside Drain's.
//!
//! Each `X_2k.log` is parsed with [`Format::Auto`]; the miner, with the
//! default configuration for every system, sees each event's message. The
//! grouping accuracy (GA) counts a line as correct when the lines of its
//! template are exactly the lines that share its ground-truth `EventId` in
//! `X_2k.log_structured.csv`. The table printed (`cargo test -p
//! firewatch-template --test loghub_accuracy -- --nocapture`) puts our GA
//! beside Drain's published figure (logparser's benchmark: a log format and
//! masking regexes written for each system) and beside Drain3's, measured in
//! the same run by `scripts/drain3_accuracy.py` with its default settings
//! when Python and `drain3` are installed: on the raw lines, and on the same
//! messages our miner sees (which separates what the parser does from what
//! the miner does). Each system has a floor a little under what the miner
//! reaches, so that a regression fails.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use firewatch_event::{EventId, RawRecord, Timestamp};
use firewatch_parse::{Format, Parser, ParserConfig};
use firewatch_template::{MinerConfig, TemplateMiner};
use jiff::tz::TimeZone;

/// A sample, Drain's published GA on it, and the floor we hold.
struct Sample {
    name: &'static str,
    drain: f64,
    floor: f64,
}

const SAMPLES: [Sample; 7] = [
    Sample {
        name: "HDFS",
        drain: 0.9975,
        floor: 0.99,
    },
    Sample {
        name: "Hadoop",
        drain: 0.9475,
        floor: 0.95,
    },
    Sample {
        name: "Spark",
        drain: 0.92,
        floor: 0.91,
    },
    Sample {
        name: "Zookeeper",
        drain: 0.9665,
        floor: 0.95,
    },
    Sample {
        name: "Linux",
        drain: 0.69,
        floor: 0.74,
    },
    Sample {
        name: "Apache",
        drain: 1.0,
        floor: 0.99,
    },
    Sample {
        name: "OpenSSH",
        drain: 0.7875,
        floor: 0.98,
    },
];

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/loghub")
}

fn read(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The fields of a CSV row: commas split unless quoted, `""` is a quote.
fn csv_fields(row: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => in_quotes = !in_quotes,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The ground-truth `EventId` of every line of a sample.
fn event_ids(name: &str) -> Vec<String> {
    let csv = read(&format!("{name}_2k.log_structured.csv"));
    let mut rows = csv.lines().map(csv_fields);
    let header = rows.next().unwrap();
    let column = header.iter().position(|cell| cell == "EventId").unwrap();
    rows.map(|mut row| row.swap_remove(column)).collect()
}

/// Lines whose predicted group is exactly their true group, as a share.
fn grouping_accuracy<T: Hash + Eq, P: Hash + Eq>(truth: &[T], predicted: &[P]) -> f64 {
    assert_eq!(truth.len(), predicted.len());
    let mut truth_sizes: HashMap<&T, usize> = HashMap::new();
    let mut group_sizes: HashMap<&P, usize> = HashMap::new();
    let mut pairs: HashMap<(&P, &T), usize> = HashMap::new();
    for (label, group) in truth.iter().zip(predicted) {
        *truth_sizes.entry(label).or_default() += 1;
        *group_sizes.entry(group).or_default() += 1;
        *pairs.entry((group, label)).or_default() += 1;
    }
    let correct: usize = pairs
        .iter()
        .filter(|((group, label), size)| {
            **size == group_sizes[group] && **size == truth_sizes[label]
        })
        .map(|(_, size)| size)
        .sum();
    correct as f64 / truth.len() as f64
}

/// The message of every line of a sample, as our parser finds it.
fn messages(name: &str) -> Vec<String> {
    let parser = Parser::new(ParserConfig {
        format: Format::Auto,
        time_zone: TimeZone::UTC,
    });
    let source: Arc<str> = Arc::from("loghub");
    let received: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
    read(&format!("{name}_2k.log"))
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let number = index as u64 + 1;
            let record = RawRecord::new(EventId(number), number, line.as_bytes().to_vec());
            parser.parse(&record, &source, received).message
        })
        .collect()
}

/// Our template id for every message, one miner per sample.
fn mine(messages: &[String]) -> Vec<u64> {
    let mut miner = TemplateMiner::new(MinerConfig::default());
    messages
        .iter()
        .map(|message| miner.add(message).id.0)
        .collect()
}

/// Starts Drain3 on every sample, if Python and `drain3` are there: on the
/// raw lines, or with `--messages DIR` on the messages written there.
fn start_drain3(messages_dir: Option<&Path>) -> Option<Child> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/drain3_accuracy.py");
    let mut command = Command::new("python3");
    command.arg(script);
    if let Some(dir) = messages_dir {
        command.arg("--messages").arg(dir);
    }
    command
        .arg(data_dir())
        .args(SAMPLES.iter().map(|sample| sample.name))
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// The figures a Drain3 run printed, by sample; none if it did not run.
fn drain3_figures(child: Option<Child>) -> HashMap<String, String> {
    let Some(output) = child.and_then(|child| child.wait_with_output().ok()) else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, figure)| (name.to_owned(), figure.to_owned()))
        .collect()
}

#[test]
fn grouping_accuracy_on_loghub_samples() {
    let messages: Vec<Vec<String>> = SAMPLES.iter().map(|sample| messages(sample.name)).collect();
    let messages_dir = tempfile::tempdir().unwrap();
    for (sample, messages) in SAMPLES.iter().zip(&messages) {
        let path = messages_dir
            .path()
            .join(format!("{}.messages", sample.name));
        std::fs::write(path, messages.join("\n")).unwrap();
    }
    let drain3_raw = start_drain3(None);
    let drain3_messages = start_drain3(Some(messages_dir.path()));
    let ours: Vec<f64> = SAMPLES
        .iter()
        .zip(&messages)
        .map(|(sample, messages)| grouping_accuracy(&event_ids(sample.name), &mine(messages)))
        .collect();
    let drain3_raw = drain3_figures(drain3_raw);
    let drain3_messages = drain3_figures(drain3_messages);

    println!(
        "{:<10} {:>8} {:>8} {:>12} {:>17}",
        "sample", "ours", "Drain", "Drain3 raw", "Drain3 messages"
    );
    for (sample, ours) in SAMPLES.iter().zip(&ours) {
        let raw = drain3_raw.get(sample.name).map_or("-", String::as_str);
        let on_messages = drain3_messages.get(sample.name).map_or("-", String::as_str);
        println!(
            "{:<10} {ours:>8.4} {:>8.4} {raw:>12} {on_messages:>17}",
            sample.name, sample.drain
        );
    }
    println!(
        "{:<10} {:>8.4} {:>8.4}",
        "mean",
        ours.iter().sum::<f64>() / ours.len() as f64,
        SAMPLES.iter().map(|sample| sample.drain).sum::<f64>() / SAMPLES.len() as f64
    );
    for (sample, ours) in SAMPLES.iter().zip(&ours) {
        assert!(
            *ours >= sample.floor,
            "{}: GA {ours:.4} fell below {}",
            sample.name,
            sample.floor
        );
    }
}

#[test]
fn grouping_accuracy_counts_only_exact_groups() {
    // Truth: {0,1} {2} {3}. Predicted: {0,1} exact, {2,3} merged.
    assert_eq!(grouping_accuracy(&["a", "a", "b", "c"], &[1, 1, 2, 2]), 0.5);
    // Splitting a true group fails all its lines.
    assert_eq!(grouping_accuracy(&["a", "a", "b"], &[1, 2, 3]), 1.0 / 3.0);
    assert_eq!(grouping_accuracy(&["a", "a", "b"], &[7, 7, 8]), 1.0);
}
