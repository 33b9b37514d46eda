//! From an incident to its root cause, end to end through the real binary:
//! `incidents explain` and `incidents report` on the quickstart story and
//! on the multi-day corpus (`fixtures/multiday`), plus `context`, `search
//! --histogram` and `index stats` across days. Every expected answer is
//! worked out here from the fixture files themselves.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{firewatch, histogram_buckets, json_lines, root, success};
use serde_json::Value;

/// Runs a pipeline into a fresh data dir.
fn run_pipeline(pipeline: &str) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    success(
        firewatch()
            .args(["run", pipeline, "--data-dir"])
            .arg(data.path()),
    );
    data
}

/// Runs `firewatch ARGS --data-dir DATA`.
fn run(data: &Path, args: &[&str]) -> std::process::Output {
    success(firewatch().args(args).arg("--data-dir").arg(data))
}

fn text(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The id of the incident with this key.
fn incident_id(data: &Path, key: &str) -> String {
    json_lines(&run(data, &["incidents", "list", "--json"]))
        .into_iter()
        .find(|incident| incident["key"] == key)
        .unwrap_or_else(|| panic!("no incident {key}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The earliest event that counted towards the incident with this key.
fn first_event_of(data: &Path, key: &str) -> Value {
    let id = incident_id(data, key);
    let query = format!("incident:{id}");
    json_lines(&run(data, &["search", &query, "-n", "1", "--json"])).remove(0)
}

/// The event ids of the first three findings of `incidents explain`.
fn top_three(data: &Path, key: &str) -> Vec<String> {
    let id = incident_id(data, key);
    let explanation = json_lines(&run(data, &["incidents", "explain", &id, "--json"])).remove(0);
    assert_eq!(explanation["incident"], id.as_str());
    explanation["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|finding| finding["example"]["event_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Lines of a fixture file.
fn fixture_lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(root().join(path))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn explain_ranks_db_01s_first_disk_error_in_the_top_three_of_the_failover_incidents() {
    let data = run_pipeline("pipelines/quickstart.toml");
    let first_failure = first_event_of(data.path(), "disk-io-error/db-01");
    // The file agrees: the first disk error db-01's kernel logged.
    let expected = fixture_lines("fixtures/quickstart/syslog.log")
        .into_iter()
        .find(|line| line.contains(" db-01 kernel") && line.contains("I/O"))
        .unwrap();
    let message = first_failure["message"].as_str().unwrap();
    assert!(expected.ends_with(message), "{expected} / {message}");
    let first_failure = first_failure["id"].as_str().unwrap();

    for key in [
        "db-unavailable/postgres/db-01",
        "http-5xx-burst/api/web-01",
        "db-pool-exhausted/api/web-01",
        "connection-refused/api/web-01",
    ] {
        let top = top_three(data.path(), key);
        assert!(
            top.iter().any(|id| id == first_failure),
            "{key}: {first_failure} not in the top three {top:?}"
        );
    }

    // People read the ranked hints with their evidence.
    let id = incident_id(data.path(), "db-unavailable/postgres/db-01");
    let shown = text(&run(data.path(), &["incidents", "explain", &id]));
    let ranked = shown.split("ranked hints").nth(1).unwrap();
    let first = ranked.lines().nth(1).unwrap();
    assert!(first.trim_start().starts_with("1. "), "{shown}");
    assert!(
        first.contains("db-01") && first.contains(message),
        "{shown}"
    );
    for section in [
        "templates new or surged:",
        "words over-represented:",
        "field values over-represented:",
        "first error per host and service:",
        "incidents nearby:",
    ] {
        assert!(shown.contains(section), "{section} missing:\n{shown}");
    }
    assert!(shown.contains("in foreground") && shown.contains("in baseline"));

    // Windows are options; a look-back that misses the disk still answers.
    let narrow = json_lines(&run(
        data.path(),
        &[
            "incidents",
            "explain",
            &id,
            "--lookback",
            "30s",
            "--baseline",
            "10m",
            "--json",
        ],
    ))
    .remove(0);
    assert_eq!(narrow["foreground"]["since"], "2026-11-20T09:42:10.118966Z");
    assert!(
        !narrow["ranked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|finding| finding["example"]["event_id"] == first_failure)
    );
}

#[test]
fn explain_and_report_refuse_unknown_incidents_and_bad_windows() {
    let data = run_pipeline("pipelines/quickstart.toml");
    let id = incident_id(data.path(), "db-unavailable/postgres/db-01");
    for args in [
        vec!["incidents", "explain", "0000000000000000"],
        vec!["incidents", "report", "0000000000000000"],
        vec!["incidents", "explain", &id, "--lookback", "0s"],
        vec!["incidents", "explain", &id, "--baseline", "soon"],
    ] {
        let output = firewatch()
            .args(&args)
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let error = String::from_utf8(output.stderr).unwrap();
        assert!(error.starts_with("error: "), "{args:?}: {error}");
        assert!(!error.contains("panicked"), "{args:?}: {error}");
    }
}

#[test]
fn report_is_a_markdown_draft_with_timeline_excerpts_notifications_and_hints() {
    let data = run_pipeline("pipelines/quickstart.toml");
    let id = incident_id(data.path(), "db-unavailable/postgres/db-01");
    let other = incident_id(data.path(), "disk-io-error/db-01");
    let first_failure = first_event_of(data.path(), "disk-io-error/db-01");

    // What a notifier recorded: two attempts for the page, one for the
    // resolution, and one about another incident.
    let deliveries = data.path().join("notifications/deliveries.jsonl");
    std::fs::create_dir_all(deliveries.parent().unwrap()).unwrap();
    let delivery = |at: &str, incident: &str, reason: &str, attempt: u32, outcome: &str| {
        format!(
            r#"{{"at":"{at}","incident":"{incident}","rule":"db-unavailable","receiver":"oncall-pager","reason":"{reason}","attempt":{attempt},{outcome}}}"#
        )
    };
    let lines = [
        delivery(
            "2026-11-20T09:42:41Z",
            &id,
            "fired",
            1,
            r#""outcome":"failed","error":"HTTP 503""#,
        ),
        delivery(
            "2026-11-20T09:42:43Z",
            &id,
            "fired",
            2,
            r#""outcome":"delivered""#,
        ),
        delivery(
            "2026-11-20T09:40:13Z",
            &other,
            "fired",
            1,
            r#""outcome":"delivered""#,
        ),
        delivery(
            "2026-11-20T09:47:41Z",
            &id,
            "resolved",
            1,
            r#""outcome":"delivered""#,
        ),
    ];
    std::fs::write(&deliveries, lines.join("\n") + "\n").unwrap();

    let markdown = text(&run(data.path(), &["incidents", "report", &id]));
    let headings: Vec<&str> = markdown
        .lines()
        .filter(|line| line.starts_with('#'))
        .collect();
    assert_eq!(
        headings,
        [
            "# Postmortem: Database unavailable (postgres on db-01)",
            "## Summary",
            "## Timeline",
            "### Log excerpts",
            "## Root-cause hints",
            "## Impact",
            "## Action items",
            "## Lessons learned",
        ],
        "{markdown}"
    );
    assert!(markdown.contains("| Severity | critical |"), "{markdown}");
    assert!(
        markdown.contains("| Affected hosts | db-01 |"),
        "{markdown}"
    );
    // The timeline table, in time order, from the disk to the resolution.
    let rows: Vec<(&str, &str)> = markdown
        .split("## Timeline")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("| 2026-"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            (cells[0].trim_start_matches("| "), cells[1])
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2026-11-20 09:40:12.000Z", "first anomaly"),
            ("2026-11-20 09:42:40.118Z", "first matching event"),
            ("2026-11-20 09:42:40.120Z", "detected (fired)"),
            ("2026-11-20 09:42:41.000Z", "notification"),
            ("2026-11-20 09:42:43.000Z", "notification"),
            ("2026-11-20 09:47:40.126Z", "resolved"),
            ("2026-11-20 09:47:41.000Z", "notification"),
        ],
        "{markdown}"
    );
    assert!(markdown.contains("oncall-pager (fired, attempt 1): failed: HTTP 503"));
    // Log excerpts are fenced, the first anomaly's line among them.
    let excerpt = format!(
        "```text\n2026-11-20 09:40:12.000Z  db-01  kernel  unknown  {}\n```",
        first_failure["message"].as_str().unwrap()
    );
    assert!(markdown.contains(&excerpt), "{markdown}");
    assert!(markdown.contains("_To be written"));

    // The same draft as JSON, written to a file.
    let path = data.path().join("report.json");
    let written = run(
        data.path(),
        &[
            "incidents",
            "report",
            &id,
            "--format",
            "json",
            "--output",
            path.to_str().unwrap(),
        ],
    );
    assert!(written.stdout.is_empty());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(report["incident"], id.as_str());
    assert_eq!(report["severity"], "critical");
    assert_eq!(report["started"], "2026-11-20T09:40:12Z");
    assert_eq!(report["resolved"], "2026-11-20T09:47:40.126609Z");
    assert_eq!(report["duration_seconds"], 448);
    assert_eq!(report["affected_services"], serde_json::json!(["postgres"]));
    assert_eq!(
        report["hints"][0]["example"]["event_id"],
        first_failure["id"]
    );
    let kinds: Vec<&str> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "first_anomaly",
            "first_match",
            "fired",
            "notification",
            "notification",
            "resolved",
            "notification"
        ]
    );
    assert_eq!(report["impact"], "");
    assert_eq!(report["action_items"], serde_json::json!([]));
    assert_eq!(report["lessons_learned"], "");
}

/// Every line of the multi-day corpus as (file, line number, UTC time text
/// to the millisecond at least, the line).
fn multiday_lines() -> Vec<(&'static str, u64, String, String)> {
    let mut all = Vec::new();
    for file in ["gateway", "inventory", "mysql", "system"] {
        for (line, number) in fixture_lines(&format!("fixtures/multiday/{file}.log"))
            .into_iter()
            .zip(1..)
        {
            let time = match file {
                "gateway" => serde_json::from_str::<Value>(&line).unwrap()["ts"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                "inventory" => line.split(' ').next().unwrap()["ts=".len()..].to_owned(),
                _ => line.split(' ').nth(1).unwrap().replace("+00:00", "Z"),
            };
            all.push((file, number, time, line));
        }
    }
    all
}

#[test]
fn multiday_explain_context_histogram_and_days_agree_with_the_files() {
    let data = run_pipeline("fixtures/multiday/pipeline.toml");
    let lines = multiday_lines();

    // Explain: the disk's first medium error leads every failover incident.
    let first_failure = first_event_of(data.path(), "disk-io-error/mysql-a");
    let expected = lines
        .iter()
        .find(|(file, _, _, line)| *file == "system" && line.contains("critical medium error"))
        .unwrap();
    assert!(
        expected
            .3
            .ends_with(first_failure["message"].as_str().unwrap())
    );
    let first_failure = first_failure["id"].as_str().unwrap();
    for key in [
        "db-unavailable/inventory/app-3",
        "db-unavailable/inventory/app-4",
        "db-unavailable/mysqld/mysql-b",
        "db-replication-broken/mysqld/mysql-b",
        "http-5xx-burst/gateway/shop-gw-1",
        "connection-refused/inventory/app-3",
    ] {
        let top = top_three(data.path(), key);
        assert!(
            top.iter().any(|id| id == first_failure),
            "{key}: {first_failure} not in the top three {top:?}"
        );
    }

    // Days: one index per day, each with the lines the files date to it.
    let mut per_day: BTreeMap<String, u64> = BTreeMap::new();
    for (_, _, time, _) in &lines {
        *per_day.entry(time[..10].to_owned()).or_insert(0) += 1;
    }
    let days: BTreeMap<String, u64> = json_lines(&run(data.path(), &["index", "stats", "--json"]))
        .iter()
        .map(|day| {
            (
                day["day"].as_str().unwrap().to_owned(),
                day["events"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(days, per_day);
    assert_eq!(days.len(), 3);

    // Histogram of 502s per hour over the three days, against the file.
    let output = run(
        data.path(),
        &[
            "search",
            "source:gateway AND fields.status:502",
            "--histogram",
            "1h",
            "--since",
            "2026-10-05T00:00:00Z",
            "--until",
            "2026-10-08T00:00:00Z",
            "--json",
        ],
    );
    let buckets = histogram_buckets(&output);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for day in 5..=7 {
        for hour in 0..24 {
            expected.insert(format!("2026-10-{day:02}T{hour:02}:00:00Z"), 0);
        }
    }
    for (file, _, time, line) in &lines {
        if *file == "gateway" && serde_json::from_str::<Value>(line).unwrap()["status"] == 502 {
            *expected
                .get_mut(&format!("{}:00:00Z", &time[..13]))
                .unwrap() += 1;
        }
    }
    assert!(expected.values().sum::<u64>() > 100);
    assert_eq!(buckets, expected.into_iter().collect::<Vec<_>>());

    // Every event per day, in day buckets, against the files.
    let all_days = histogram_buckets(&run(
        data.path(),
        &["search", "*", "--histogram", "1d", "--json"],
    ));
    let counted: BTreeMap<String, u64> = all_days
        .into_iter()
        .map(|(start, count)| (start[..10].to_owned(), count))
        .collect();
    assert_eq!(counted, per_day);

    // Context across midnight: shop-gw-1's last line of the first day and
    // its neighbours, which reach into the second day.
    let shop_gw_1: Vec<&(&str, u64, String, String)> = lines
        .iter()
        .filter(|(file, _, _, line)| *file == "gateway" && line.contains("\"shop-gw-1\""))
        .collect();
    let at = shop_gw_1
        .iter()
        .rposition(|(_, _, time, _)| time.as_str() < "2026-10-06")
        .unwrap();
    let (_, line, time, _) = shop_gw_1[at];
    let found = json_lines(&run(
        data.path(),
        &[
            "search",
            "--host",
            "shop-gw-1",
            "--since",
            time,
            "--until",
            "2026-10-06T00:00:00Z",
            "--json",
        ],
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["line"], *line);
    let id = found[0]["id"].as_str().unwrap();
    let context = json_lines(&run(
        data.path(),
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
    let expected: Vec<(i64, u64, String)> = shop_gw_1[at - 3..=at + 3]
        .iter()
        .zip(-3..)
        .map(|((_, number, _, line), position)| {
            let event: Value = serde_json::from_str(line).unwrap();
            (position, *number, event["msg"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(shown, expected);
    assert!(context[4]["timestamp"].as_str().unwrap() >= "2026-10-06");
}
