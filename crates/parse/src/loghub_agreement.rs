//! Agreement with LogHub's own split of its sample logs.
//!
//! Each `X_2k.log` is parsed with [`Format::Auto`] and compared, line by
//! line, with `X_2k.log_structured.csv`: the time stamp (in the CSV's own
//! spelling), the level where the CSV has one, and the message against the
//! `Content` column.

use std::path::PathBuf;
use std::sync::Arc;

use firewatch_event::{Event, EventId, Level, RawRecord, Timestamp};
use jiff::tz::TimeZone;

use crate::{Format, Parser, ParserConfig};

/// One sample file and how its CSV spells what we compare.
struct Sample {
    name: &'static str,
    /// CSV columns that together hold the time, and the `strftime` spelling
    /// of each.
    time_columns: &'static [(&'static str, &'static str)],
    /// Whether the CSV's `Level` column holds the level (in Linux it holds
    /// the host).
    has_level: bool,
    /// How many messages differ from `Content`, each difference explained
    /// where it is set.
    known_message_differences: usize,
}

const SAMPLES: [Sample; 7] = [
    Sample {
        name: "HDFS",
        time_columns: &[("Date", "%y%m%d"), ("Time", "%H%M%S")],
        has_level: true,
        known_message_differences: 0,
    },
    Sample {
        name: "Hadoop",
        time_columns: &[("Date", "%Y-%m-%d"), ("Time", "%H:%M:%S,%3f")],
        has_level: true,
        known_message_differences: 0,
    },
    Sample {
        name: "Spark",
        time_columns: &[("Date", "%y/%m/%d"), ("Time", "%H:%M:%S")],
        has_level: true,
        // `INFO Remoting: Starting remoting` (2 lines): Akka's logger has no
        // package, and a bare `Word:` after the level is as often the start
        // of the message (`Connection: refused`), so it stays in the message.
        known_message_differences: 2,
    },
    Sample {
        name: "Zookeeper",
        time_columns: &[("Date", "%Y-%m-%d"), ("Time", "%H:%M:%S,%3f")],
        has_level: true,
        known_message_differences: 0,
    },
    Sample {
        name: "Apache",
        time_columns: &[("Time", "%a %b %d %H:%M:%S %Y")],
        has_level: true,
        known_message_differences: 0,
    },
    Sample {
        name: "Linux",
        time_columns: &[("Month", "%b"), ("Date", "%-d"), ("Time", "%H:%M:%S")],
        has_level: false,
        // `syslogd 1.4.1: restart.` (7 lines): LogHub takes `syslogd 1.4.1`
        // for the tag, RFC 3164 ends the tag at the space, so the message is
        // `1.4.1: restart.`. `combo  -- root[2421]: ...` (1 line): LogHub
        // takes `-- root` for the tag; a tag does not start with `-`, so the
        // message is the whole rest.
        known_message_differences: 8,
    },
    Sample {
        name: "OpenSSH",
        time_columns: &[("Date", "%b"), ("Day", "%-d"), ("Time", "%H:%M:%S")],
        has_level: false,
        known_message_differences: 0,
    },
];

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/loghub")
}

fn read(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the LogHub sample {}: {error}; these tests need /work/shared/data/loghub",
            path.display()
        )
    })
}

/// Splits one CSV row, honouring quotes (`"a, b"`, `""` inside quotes).
fn split_csv_row(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        let cell = cells.last_mut().expect("cells is never empty");
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(String::new()),
            _ => cell.push(c),
        }
    }
    cells
}

/// The records of a log file as a line splitter hands them over: split at
/// `\n`, the `\r` of CRLF left in, a last line without terminator kept.
fn records(text: &str) -> Vec<RawRecord> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(index, line)| {
            let number = index as u64 + 1;
            RawRecord::new(EventId(number), number, line.as_bytes().to_vec())
        })
        .collect()
}

fn time_in_csv_spelling(event: &Event, sample: &Sample) -> Option<String> {
    let zoned = event.timestamp?.to_zoned_datetime(TimeZone::UTC);
    let spellings: Vec<String> = sample
        .time_columns
        .iter()
        .map(|(_, format)| zoned.strftime(format).to_string())
        .collect();
    Some(spellings.join(" "))
}

#[test]
fn loghub_samples_agree_with_their_structured_csv() {
    assert!(
        data_dir().is_dir(),
        "the LogHub samples are missing: expected them in {}",
        data_dir().display()
    );
    let parser = Parser::new(ParserConfig {
        format: Format::Auto,
        time_zone: TimeZone::UTC,
    });
    let source: Arc<str> = Arc::from("loghub");
    let received: Timestamp = "2026-11-26T12:00:00Z".parse().expect("valid time");
    for sample in &SAMPLES {
        let log = read(&format!("{}_2k.log", sample.name));
        let csv = read(&format!("{}_2k.log_structured.csv", sample.name));
        let mut rows = csv.lines().map(split_csv_row);
        let header = rows.next().expect("a header row");
        let column = |name: &str| {
            header
                .iter()
                .position(|cell| cell == name)
                .unwrap_or_else(|| panic!("{}: no column {name}", sample.name))
        };
        let rows: Vec<Vec<String>> = rows.collect();
        let records = records(&log);
        assert_eq!(records.len(), 2000, "{}: records", sample.name);
        assert_eq!(rows.len(), records.len(), "{}: CSV rows", sample.name);

        let (mut times, mut levels, mut messages) = (0, 0, 0);
        let mut message_mismatches = Vec::new();
        for (record, row) in records.iter().zip(&rows) {
            let event = parser.parse(record, &source, received);
            assert_eq!((event.id, event.line), (record.id, record.line));
            assert!(event.problem.is_clean(), "{}: {event:?}", sample.name);

            let expected_time: Vec<&str> = sample
                .time_columns
                .iter()
                .map(|(name, _)| row[column(name)].as_str())
                .collect();
            if time_in_csv_spelling(&event, sample).as_deref() == Some(&expected_time.join(" ")) {
                times += 1;
            } else {
                eprintln!(
                    "{} line {}: time {:?}",
                    sample.name, record.line, event.timestamp
                );
            }
            if sample.has_level {
                let expected = Level::parse(&row[column("Level")]).unwrap_or_default();
                if event.level == expected {
                    levels += 1;
                } else {
                    eprintln!(
                        "{} line {}: level {}",
                        sample.name, record.line, event.level
                    );
                }
            }
            let content = &row[column("Content")];
            if &event.message == content {
                messages += 1;
            } else {
                message_mismatches.push((record.line, event.message.clone(), content.clone()));
            }
        }
        let total = records.len() as f64;
        let rate = |count: usize| count as f64 / total;
        eprintln!(
            "{:<9} time {:>6.2}%  level {:>7}  message {:>6.2}%",
            sample.name,
            100.0 * rate(times),
            if sample.has_level {
                format!("{:.2}%", 100.0 * rate(levels))
            } else {
                "n/a".to_owned()
            },
            100.0 * rate(messages),
        );
        for (line, message, content) in message_mismatches.iter().take(10) {
            eprintln!("  line {line}: message {message:?}\n           content {content:?}");
        }
        assert_eq!(times, records.len(), "{}: time agreement", sample.name);
        if sample.has_level {
            assert_eq!(levels, records.len(), "{}: level agreement", sample.name);
        }
        assert!(
            message_mismatches.len() <= sample.known_message_differences,
            "{}: {} messages differ from Content, {} expected",
            sample.name,
            message_mismatches.len(),
            sample.known_message_differences
        );
    }
}
