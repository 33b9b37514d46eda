//! The drill and checking commands through the real binary: `parse`,
//! `detect`, `rules lint`, and what they do with bad input.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::Write;
use std::process::Stdio;

use common::{firewatch, json_lines, loghub, stdout_of, success};

#[test]
fn parse_gives_one_event_per_loghub_line() {
    for system in [
        "HDFS",
        "Hadoop",
        "Spark",
        "Zookeeper",
        "Linux",
        "OpenSSH",
        "Apache",
    ] {
        let path = loghub().join(format!("{system}_2k.log"));
        let events = json_lines(&success(firewatch().arg("parse").arg(&path)));
        assert_eq!(events.len(), 2000, "{system}");
        for (index, event) in events.iter().enumerate() {
            assert_eq!(event["line"], index as u64 + 1, "{system}");
            for key in [
                "timestamp",
                "level",
                "host",
                "service",
                "message",
                "fields",
                "parse_error",
            ] {
                assert!(event.get(key).is_some(), "{system}: no {key} in {event}");
            }
            assert!(
                event["timestamp"].is_string(),
                "{system} line {}: no time",
                index + 1
            );
        }
    }
}

#[test]
fn parse_marks_bad_input_and_drops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.log");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"{\"level\": \"error\", \"msg\": \"broken\"\n");
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(b"caf\xe9 au lait\r\n");
    bytes.extend_from_slice(&vec![b'x'; 5 << 20]);
    bytes.extend_from_slice(b"\nlast line without newline");
    fs::write(&path, &bytes).unwrap();

    let events = json_lines(&success(firewatch().arg("parse").arg(&path).args([
        "--format",
        "json",
        "--max-line-bytes",
        "65536",
    ])));
    assert_eq!(events.len(), 5);
    assert_eq!(events[0]["parse_error"], true, "malformed JSON is marked");
    assert!(
        events[0]["message"].as_str().unwrap().contains("broken"),
        "raw text kept"
    );
    assert_eq!(events[2]["problem"]["invalid_utf8"], true);
    assert_eq!(events[2]["line"], 3);
    assert_eq!(events[3]["problem"]["truncated"], true);
    assert!(events[3]["message"].as_str().unwrap().len() <= 65536);
    assert_eq!(events[4]["line"], 5);
}

#[test]
fn parse_reads_stdin() {
    let mut child = firewatch()
        .args(["parse", "-", "--format", "logfmt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"ts=2026-11-26T10:00:00Z level=warn service=api msg=\"slow request\" latency_ms=900\n",
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let events = json_lines(&output);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["timestamp"], "2026-11-26T10:00:00Z");
    assert_eq!(events[0]["level"], "warn");
    assert_eq!(events[0]["service"], "api");
    assert_eq!(events[0]["message"], "slow request");
    assert_eq!(events[0]["fields"]["latency_ms"], "900");
}

#[test]
fn detect_reports_each_match_with_its_line_then_the_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    fs::write(
        &rules,
        "rules:\n  - id: ssh-invalid-user\n    title: Invalid users on {host}\n    severity: medium\n    match:\n      any: [\"invalid user\"]\n    threshold: {count: 3, window: 1m}\n    group_by: [host]\n",
    )
    .unwrap();
    let log = loghub().join("OpenSSH_2k.log");
    let lines: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let output = json_lines(&success(
        firewatch()
            .arg("detect")
            .arg(&log)
            .arg("--rules")
            .arg(&rules)
            .arg("--json"),
    ));
    let matches: Vec<_> = output
        .iter()
        .filter(|line| line.get("rule").is_some())
        .collect();
    let expected = lines
        .iter()
        .filter(|line| line.to_lowercase().contains("invalid user"))
        .count();
    assert_eq!(matches.len(), expected);
    for found in &matches {
        let line = found["line"].as_u64().unwrap() as usize;
        assert!(
            lines[line - 1].to_lowercase().contains("invalid user"),
            "line {line}"
        );
        assert_eq!(found["rule"], "ssh-invalid-user");
        assert_eq!(found["severity"], "medium");
        assert_eq!(found["incident_key"], "ssh-invalid-user/LabSZ");
    }
    let incidents: Vec<_> = output
        .iter()
        .filter_map(|line| line.get("incident").filter(|value| value.is_object()))
        .collect();
    assert!(!incidents.is_empty());
    assert!(
        incidents
            .iter()
            .all(|incident| incident["key"] == "ssh-invalid-user/LabSZ")
    );
}

#[test]
fn lint_points_at_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    fs::write(
        &path,
        "rules:\n  - id: broken\n    title: Broken\n    severity: high\n    match:\n      any: [oops]\n      regexx: ['(']\n",
    )
    .unwrap();
    let output = firewatch()
        .args(["rules", "lint"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!("{}:7:7:", path.display())),
        "{stdout}"
    );
    assert!(stdout.contains("regexx"), "{stdout}");

    let pack = success(firewatch().args(["rules", "lint", "pipelines/rules"]));
    assert!(String::from_utf8_lossy(&pack.stdout).starts_with("ok: "));
}

#[test]
fn a_bad_pipeline_or_missing_data_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    fs::write(
        &pipeline,
        "[[sources]]\nname = \"a\"\ntype = \"file\"\npathz = [\"x\"]\n",
    )
    .unwrap();
    let output = firewatch().arg("run").arg(&pipeline).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("p.toml:4:1:") && stderr.contains("pathz"),
        "{stderr}"
    );

    let output = firewatch()
        .args(["search", "error", "--data-dir"])
        .arg(dir.path().join("nothing-here"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("nothing-here")
    );
}

#[test]
fn parse_with_templates_groups_messages_that_differ_in_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    fs::write(
        &path,
        concat!(
            "2026-11-26T10:00:00Z ERROR connection to 10.0.0.1:5432 timed out after 300 ms\n",
            "{\"level\":\"error\",\"msg\":\"connection to 10.0.0.2:5432 timed out after 12 ms\"}\n",
            "2026-11-26T10:00:02Z WARN disk full on sda\n",
            "2026-11-26T10:00:03Z WARN disk full on sdb\n",
        ),
    )
    .unwrap();

    let events = json_lines(&success(
        firewatch().arg("parse").arg(&path).arg("--templates"),
    ));
    assert_eq!(events.len(), 4);
    // Two formats, one template: the miner sees the message, not the line.
    assert_eq!(events[0]["template_id"], events[1]["template_id"]);
    assert_eq!(
        events[1]["template"],
        "connection to <*> timed out after <*> ms"
    );
    assert_eq!(events[2]["template"], "disk full on sda");
    assert_eq!(events[3]["template"], "disk full on <*>");
    assert_eq!(
        events[2]["template_id"], events[3]["template_id"],
        "the id stays as the template generalises"
    );
    assert_ne!(events[0]["template_id"], events[2]["template_id"]);
    let id = events[0]["template_id"].as_str().unwrap();
    assert!(id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()));

    let plain = json_lines(&success(firewatch().arg("parse").arg(&path)));
    assert!(
        plain[0].get("template_id").is_none(),
        "templates are opt-in"
    );
}

#[test]
fn rules_test_passes_the_default_pack_and_fails_a_wrong_expectation_with_a_diff() {
    let pack = success(firewatch().args(["rules", "test", "pipelines/rules"]));
    let stdout = String::from_utf8(pack.stdout).unwrap();
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains(", 0 failed"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let rules = common::root().join("pipelines/rules/network.yml");
    let test = dir.path().join("refused.test.yml");
    fs::write(
        &test,
        format!(
            "rules: [{}]
tests:
  - name: nine refusals are taken for ten
    input:
      - series: 'ts={{time}} level=error service=worker host=worker-01 msg=\"connect: connection refused\"'
        start: 2026-11-20T09:05:00Z
        every: 5s
        count: 9
    expect:
      - at: 2026-11-20T09:06:00Z
        incidents: [{{ rule: connection-refused, state: open }}]
",
            rules.display()
        ),
    )
    .unwrap();
    let output = firewatch()
        .args(["rules", "test"])
        .arg(&test)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "FAILED  {}: nine refusals are taken for ten\n\
             \x20 at 2026-11-20T09:06:00Z: incidents differ (- expected, + actual)\n\
             \x20   - rule=connection-refused state=open\n\
             \x20   + (no incident)\n",
            test.display()
        )),
        "{stdout}"
    );

    let json = json_lines(
        &firewatch()
            .args(["rules", "test", "--json"])
            .arg(&test)
            .output()
            .unwrap(),
    );
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["passed"], false);
    assert_eq!(
        json[0]["failures"][0]["missing"][0]["rule"],
        "connection-refused"
    );

    fs::write(&test, "rules: [x.yml]\ntests:\n  - name: t\n    input: []\n    expect: [{ at: soon, incidents: [] }]\n").unwrap();
    let output = firewatch()
        .args(["rules", "test"])
        .arg(&test)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!("{}:5:20: invalid time \"soon\"", test.display())),
        "{stdout}"
    );
}

#[test]
fn rules_test_covers_every_rule_type_and_lifecycle_feature() {
    // One rule file and one test file per type, one for `for`, `flap` and
    // `escalate`, and one for conditions: each fires, nearly fires, takes
    // lines out of order and goes through a restart.
    let dir = common::root().join("fixtures/rule-types");
    for name in [
        "any",
        "threshold",
        "spike",
        "absence",
        "sequence",
        "together",
        "new_value",
        "cardinality",
        "ratio",
        "lifecycle",
        "conditions",
    ] {
        assert!(dir.join(format!("{name}.yml")).is_file(), "{name}");
        assert!(
            dir.join(format!("tests/{name}.test.yml")).is_file(),
            "{name}"
        );
    }
    assert_eq!(
        stdout_of(&["rules", "lint", "fixtures/rule-types"]),
        "ok: 13 rules\n"
    );
    let stdout = stdout_of(&["rules", "test", "fixtures/rule-types"]);
    assert!(
        stdout.ends_with("44 tests in 11 files: 44 passed, 0 failed\n"),
        "{stdout}"
    );
}

#[test]
fn a_pending_incident_is_listed_only_when_asked_and_never_as_open() {
    // Two slow queries a minute apart: the condition holds, but not for
    // the five minutes `for` asks.
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    fs::write(
        &rules,
        "id: slow-queries\ntitle: slow queries on {host}\nseverity: medium\n\
         match: { any: [slow query] }\ngroup_by: [host]\nresolve_after: 10m\nfor: 5m\n",
    )
    .unwrap();
    let log = dir.path().join("db.log");
    fs::write(
        &log,
        "{\"ts\":\"2026-11-20T09:00:00Z\",\"host\":\"db-01\",\"msg\":\"slow query\"}\n\
         {\"ts\":\"2026-11-20T09:01:00Z\",\"host\":\"db-01\",\"msg\":\"slow query\"}\n",
    )
    .unwrap();
    let detect = || {
        let mut command = firewatch();
        command.arg("detect").arg(&log).arg("--rules").arg(&rules);
        command
    };
    let human = String::from_utf8(success(&mut detect()).stdout).unwrap();
    assert!(
        human.contains("2 matches, 0 incidents (1 pending not shown: --all)\n"),
        "{human}"
    );
    assert!(human.ends_with("\nno incidents\n"), "{human}");
    let all = json_lines(&success(detect().args(["--all", "--json"])));
    let pending: Vec<_> = all
        .iter()
        .filter_map(|line| line.get("incident").filter(|value| value.is_object()))
        .collect();
    assert_eq!(pending.len(), 1, "{all:?}");
    assert_eq!(pending[0]["state"], "pending");

    // A run keeps it in its rule state only: not stored as an incident,
    // not counted as opened.
    let pipeline = dir.path().join("pipeline.toml");
    fs::write(
        &pipeline,
        format!(
            "[[sources]]\nname = \"db\"\ntype = \"file\"\npaths = [{log:?}]\nformat = \"json\"\n\n\
             [rules]\npaths = [{rules:?}]\n",
            log = log.display().to_string(),
            rules = rules.display().to_string(),
        ),
    )
    .unwrap();
    let data_dir = dir.path().join("data");
    let run = json_lines(&success(
        firewatch()
            .arg("run")
            .arg(&pipeline)
            .arg("--json")
            .arg("--data-dir")
            .arg(&data_dir),
    ));
    let summary = &run.last().unwrap()["summary"];
    assert_eq!(summary["events"], 2);
    assert_eq!(summary["incidents_opened"], 0);
    assert_eq!(summary["incidents"], serde_json::json!([]));
    let listed = success(
        firewatch()
            .args(["incidents", "list", "--json", "--data-dir"])
            .arg(&data_dir),
    );
    assert!(listed.stdout.is_empty(), "{listed:?}");
}
