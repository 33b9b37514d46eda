//! Search for postmortems end to end through the real binary, on the
//! quickstart story: every count firewatch gives is checked against a count
//! made here, independently, from the fixture file itself.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{firewatch, histogram_buckets, json_lines, root, success};
use serde_json::Value;

/// Runs the quickstart into a fresh data dir.
fn run_quickstart() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    success(
        firewatch()
            .args(["run", "pipelines/quickstart.toml", "--data-dir"])
            .arg(data.path()),
    );
    data
}

/// Runs `firewatch ARGS --data-dir DATA` and returns its stdout.
fn stdout(data: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
    success(firewatch().args(args).arg("--data-dir").arg(data.path()))
}

/// The JSON lines of `fixtures/quickstart/api.log`, with their line numbers
/// (from 1).
fn api_lines() -> Vec<(u64, Value)> {
    std::fs::read_to_string(root().join("fixtures/quickstart/api.log"))
        .unwrap()
        .lines()
        .zip(1..)
        .map(|(line, number)| (number, serde_json::from_str(line).unwrap()))
        .collect()
}

#[test]
fn histogram_counts_equal_a_count_of_the_file() {
    let data = run_quickstart();
    let (since, until) = ("2026-11-20T09:30:00Z", "2026-11-20T10:30:00Z");
    let output = stdout(
        &data,
        &[
            "search",
            "source:api AND fields.status:503",
            "--histogram",
            "1m",
            "--since",
            since,
            "--until",
            until,
            "--json",
        ],
    );
    let buckets = histogram_buckets(&output);

    // Every minute of the hour, zero unless the file says otherwise.
    let mut expected: BTreeMap<String, u64> = (30..90)
        .map(|minute| {
            (
                format!("2026-11-20T{:02}:{:02}:00Z", 9 + minute / 60, minute % 60),
                0,
            )
        })
        .collect();
    for (_, line) in api_lines() {
        let ts = line["ts"].as_str().unwrap();
        if line["status"] == 503 && (since..until).contains(&ts) {
            *expected.get_mut(&format!("{}:00Z", &ts[..16])).unwrap() += 1;
        }
    }
    assert!(
        expected.values().sum::<u64>() > 100,
        "the story has a 503 storm"
    );
    assert_eq!(buckets, expected.into_iter().collect::<Vec<_>>());

    // Piped, the same counts as plain columns and a total.
    let plain = stdout(
        &data,
        &[
            "search",
            "source:api AND fields.status:503",
            "--histogram",
            "1m",
            "--since",
            since,
            "--until",
            until,
        ],
    );
    let text = String::from_utf8(plain.stdout).unwrap();
    assert!(!text.contains('█'), "no bars when piped: {text}");
    let rows: Vec<u64> = text
        .lines()
        .filter(|line| !line.starts_with("--"))
        .map(|line| line.split_whitespace().last().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        rows,
        buckets.iter().map(|(_, count)| *count).collect::<Vec<_>>()
    );
}

#[test]
fn count_by_host_equals_a_count_of_the_file() {
    let data = run_quickstart();
    let output = stdout(
        &data,
        &[
            "search",
            "source:api AND fields.status:[500 TO 599]",
            "--count-by",
            "host",
            "--json",
        ],
    );
    let counted: BTreeMap<String, u64> = json_lines(&output)
        .iter()
        .map(|row| {
            (
                row["value"].as_str().unwrap().to_owned(),
                row["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected = BTreeMap::new();
    for (_, line) in api_lines() {
        if (500..600).contains(&line["status"].as_u64().unwrap_or(0)) {
            *expected
                .entry(line["host"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    assert_eq!(counted, expected);
}

#[test]
fn context_returns_the_neighbouring_lines_of_the_same_host() {
    let data = run_quickstart();
    let found = json_lines(&stdout(
        &data,
        &[
            "search",
            "\"connection refused\"",
            "--host",
            "web-01",
            "-n",
            "1",
            "--json",
        ],
    ));
    let id = found[0]["id"].as_str().unwrap();
    let line = found[0]["line"].as_u64().unwrap();

    let context = json_lines(&stdout(
        &data,
        &["context", id, "--before", "3", "--after", "3", "--json"],
    ));
    let shown: Vec<(i64, u64, String)> = context
        .iter()
        .map(|event| {
            (
                event["position"].as_i64().unwrap(),
                event["line"].as_u64().unwrap(),
                event["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();

    // The file is in time order per host: the neighbours are the nearest
    // lines of web-01 in the file.
    let web_01: Vec<(u64, Value)> = api_lines()
        .into_iter()
        .filter(|(_, event)| event["host"] == "web-01")
        .collect();
    let at = web_01
        .iter()
        .position(|(number, _)| *number == line)
        .unwrap();
    let expected: Vec<(i64, u64, String)> = web_01[at - 3..=at + 3]
        .iter()
        .zip(-3..)
        .map(|((number, event), position)| {
            (position, *number, event["msg"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(shown, expected);

    // People see the event marked among its neighbours, ids first.
    let text =
        String::from_utf8(stdout(&data, &["context", id, "-B", "3", "-A", "3"]).stdout).unwrap();
    let marked: Vec<&str> = text.lines().filter(|row| row.starts_with('>')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with(&format!("> {id}  ")), "{text}");
    assert_eq!(text.lines().count(), 7);
}

#[test]
fn index_stats_lists_the_day_with_every_event() {
    let data = run_quickstart();
    let fixture_lines: usize = ["api", "auth", "postgresql", "syslog", "worker"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(root().join(format!("fixtures/quickstart/{name}.log")))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    let days = json_lines(&stdout(&data, &["index", "stats", "--json"]));
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0]["day"], "2026-11-20");
    assert_eq!(days[0]["events"].as_u64().unwrap(), fixture_lines as u64);
    assert!(days[0]["bytes"].as_u64().unwrap() > 0);
    assert!(days[0]["segments"].as_u64().unwrap() >= 1);

    let text = String::from_utf8(stdout(&data, &["index", "stats"]).stdout).unwrap();
    assert!(text.contains("2026-11-20"), "{text}");
    assert!(text.contains(&fixture_lines.to_string()), "{text}");

    // Nothing in the story is older than ten years: prune keeps the day.
    let pruned =
        String::from_utf8(stdout(&data, &["index", "prune", "--older-than", "3650d"]).stdout)
            .unwrap();
    assert!(!pruned.contains("removed"), "{pruned}");
    assert_eq!(
        json_lines(&stdout(&data, &["index", "stats", "--json"])).len(),
        1
    );
}

#[test]
fn host_service_and_level_shortcuts_filter_like_the_file_says() {
    let data = run_quickstart();
    let events = json_lines(&stdout(
        &data,
        &[
            "search",
            "--host",
            "web-02",
            "--service",
            "api",
            "--level",
            "warn",
            "-n",
            "10000",
            "--json",
        ],
    ));
    let expected: Vec<u64> = api_lines()
        .into_iter()
        .filter(|(_, event)| {
            event["host"] == "web-02" && (event["level"] == "warn" || event["level"] == "error")
        })
        .map(|(number, _)| number)
        .collect();
    let lines: Vec<u64> = events
        .iter()
        .map(|event| event["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, expected);

    // Human output starts each row with the event id.
    let text = String::from_utf8(
        stdout(
            &data,
            &["search", "--host", "web-02", "--level", "error", "-n", "1"],
        )
        .stdout,
    )
    .unwrap();
    let first = json_lines(&stdout(
        &data,
        &[
            "search", "--host", "web-02", "--level", "error", "-n", "1", "--json",
        ],
    ));
    assert!(
        text.starts_with(&format!("{}  ", first[0]["id"].as_str().unwrap())),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour when piped: {text}");
}
