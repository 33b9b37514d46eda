//! The quickstart story end to end through the real binary: `run` finds
//! exactly the incidents the story contains, `search` finds known lines by
//! phrase, field and time range, and a second run doubles nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::{firewatch, json_lines, root, success};
use serde_json::Value;

/// Runs the quickstart into a fresh data dir and returns (dir, JSON lines).
fn run_quickstart() -> (tempfile::TempDir, Vec<Value>) {
    let data = tempfile::tempdir().unwrap();
    let output = success(
        firewatch()
            .args(["run", "pipelines/quickstart.toml", "--json", "--data-dir"])
            .arg(data.path()),
    );
    (data, json_lines(&output))
}

fn summary(lines: &[Value]) -> &Value {
    &lines.last().unwrap()["summary"]
}

/// Lines of the story's files that contain every one of `needles`.
fn count_fixture_lines(file: &str, needles: &[&str]) -> usize {
    fs::read_to_string(root().join("fixtures/quickstart").join(file))
        .unwrap()
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .count()
}

fn search(data: &tempfile::TempDir, args: &[&str]) -> Vec<Value> {
    let output = success(
        firewatch()
            .arg("search")
            .args(args)
            .args(["--json", "--limit", "100000", "--data-dir"])
            .arg(data.path()),
    );
    json_lines(&output)
}

#[test]
fn quickstart_finds_exactly_the_story_incidents_and_search_finds_known_lines() {
    let (data, lines) = run_quickstart();

    let expected: Vec<Value> = serde_json::from_str(
        &fs::read_to_string(root().join("fixtures/quickstart/expected-incidents.json")).unwrap(),
    )
    .unwrap();
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|incident| {
            (
                incident["rule"].as_str().unwrap().to_owned(),
                incident["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let found: BTreeSet<(String, String)> = summary(&lines)["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|incident| {
            (
                incident["rule"].as_str().unwrap().to_owned(),
                incident["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, expected, "incidents differ from the story's");
    assert!(expected.len() >= 3);

    // Every line of every file became exactly one event.
    let total_lines: usize = [
        "api.log",
        "worker.log",
        "postgresql.log",
        "syslog.log",
        "auth.log",
    ]
    .iter()
    .map(|file| count_fixture_lines(file, &[]))
    .sum();
    assert_eq!(
        summary(&lines)["events"].as_u64().unwrap() as usize,
        total_lines
    );
    assert_eq!(summary(&lines)["parse_errors"].as_u64().unwrap(), 0);

    // A phrase.
    let disk_full = search(&data, &["\"no space left on device\""]);
    let expected_disk_full: usize = [
        "api.log",
        "worker.log",
        "postgresql.log",
        "syslog.log",
        "auth.log",
    ]
    .iter()
    .map(|file| {
        fs::read_to_string(root().join("fixtures/quickstart").join(file))
            .unwrap()
            .lines()
            .filter(|line| line.to_lowercase().contains("no space left on device"))
            .count()
    })
    .sum();
    assert!(expected_disk_full > 0);
    assert_eq!(disk_full.len(), expected_disk_full);

    // A field and a phrase.
    let failed = search(&data, &["host:bastion-01 AND \"Failed password\""]);
    assert_eq!(
        failed.len(),
        count_fixture_lines("auth.log", &["bastion-01", "Failed password"])
    );
    assert!(failed.iter().all(|event| event["host"] == "bastion-01"));

    // A structured field with a time range, against a count made from the
    // JSON file directly.
    let (since, until) = ("2026-11-20T09:40:00Z", "2026-11-20T09:50:00Z");
    let hits = search(
        &data,
        &["fields.status:503", "--since", since, "--until", until],
    );
    let expected_503 = fs::read_to_string(root().join("fixtures/quickstart/api.log"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| {
            let ts = event["ts"].as_str().unwrap();
            event["status"] == 503 && ts >= since && ts < until
        })
        .count();
    assert!(expected_503 > 0);
    assert_eq!(hits.len(), expected_503);
    let times: Vec<&str> = hits
        .iter()
        .map(|event| event["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "results are in time order"
    );

    // incidents list / show read the same data.
    let listed = json_lines(&success(
        firewatch()
            .args(["incidents", "list", "--json", "--data-dir"])
            .arg(data.path()),
    ));
    assert_eq!(listed.len(), expected.len());
    let id = listed[0]["id"].as_str().unwrap();
    let shown = json_lines(&success(
        firewatch()
            .args(["incidents", "show", id, "--json", "--data-dir"])
            .arg(data.path()),
    ));
    assert_eq!(shown[0]["incident"]["id"], id);
    assert!(
        !shown[0]["events"].as_array().unwrap().is_empty(),
        "an incident shows its events"
    );
    assert!(
        !shown[0]["context"].as_array().unwrap().is_empty(),
        "an incident shows its context"
    );

    // A second run over the same files reads nothing new and doubles nothing.
    let again = json_lines(&success(
        firewatch()
            .args(["run", "pipelines/quickstart.toml", "--json", "--data-dir"])
            .arg(data.path()),
    ));
    assert_eq!(summary(&again)["events"], 0);
    let everything = search(&data, &["*"]);
    assert_eq!(everything.len(), total_lines);
}

#[test]
fn retention_removes_day_indexes_that_aged_out() {
    let (data, _) = run_quickstart();
    let stats = |data: &tempfile::TempDir| {
        json_lines(&success(
            firewatch()
                .args(["index", "stats", "--json", "--data-dir"])
                .arg(data.path()),
        ))
    };
    assert_eq!(stats(&data).len(), 1, "the story's day is indexed");

    // The story happened on 2026-11-20: with a one-day retention its day has
    // aged out, and the next run removes it before reading anything.
    let pipeline = fs::read_to_string(root().join("pipelines/quickstart.toml"))
        .unwrap()
        .replace("[index]\n", "[index]\nretention = \"1d\"\n");
    assert!(pipeline.contains("retention"));
    let path = data.path().join("retention.toml");
    fs::write(&path, pipeline).unwrap();
    success(
        firewatch()
            .arg("run")
            .arg(&path)
            .arg("--data-dir")
            .arg(data.path()),
    );
    assert!(stats(&data).is_empty(), "{:?}", stats(&data));
}
