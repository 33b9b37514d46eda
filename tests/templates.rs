//! Log templates end to end through the real binary: every event is given
//! a template id at ingest, stored in the index, counted and searched by it,
//! and the ids go on across a restart.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use common::{firewatch, indexed_events, json_lines, root, success};
use serde_json::Value;

/// True when `message` reads as `template`, each `<*>` standing for one or
/// more characters.
fn matches_template(message: &str, template: &str) -> bool {
    let mut parts = template.split("<*>");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = message.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (index, part) in parts.iter().enumerate() {
        if index + 1 == parts.len() {
            return rest.len() > part.len() && rest.ends_with(part);
        }
        // The wildcard takes at least one character, then the next literal.
        let Some(found) = rest.get(1..).and_then(|tail| tail.find(part)) else {
            return false;
        };
        rest = &rest[1 + found + part.len()..];
    }
    rest.is_empty()
}

#[test]
fn the_wildcard_matcher_of_this_test_is_sound() {
    assert!(matches_template("GET /a 200 8ms", "GET <*> <*> <*>"));
    assert!(!matches_template("GET /a 200", "GET <*> <*> <*>"));
    assert!(!matches_template("POST /a 200 8ms", "GET <*> <*> <*>"));
    assert!(matches_template("job started", "job started"));
    assert!(!matches_template("job started late", "job started"));
}

#[test]
fn the_top_template_counts_and_finds_the_lines_of_its_text() {
    let data = tempfile::tempdir().unwrap();
    success(
        firewatch()
            .args(["run", "pipelines/quickstart.toml", "--data-dir"])
            .arg(data.path()),
    );
    let search = |args: &[&str]| {
        json_lines(&success(
            firewatch().args(args).arg("--data-dir").arg(data.path()),
        ))
    };
    let top = search(&[
        "search",
        "*",
        "--count-by",
        "template",
        "--limit",
        "1",
        "--json",
    ]);
    let id = top[0]["value"].as_str().unwrap().to_owned();
    let count = top[0]["count"].as_u64().unwrap();
    let text = top[0]["template"].as_str().unwrap().to_owned();
    assert!(text.contains("<*>"), "{text}");

    // Only api lines have this template; count them in the file itself.
    let by_source = search(&[
        "search",
        &format!("template:{id}"),
        "--count-by",
        "source",
        "--json",
    ]);
    assert_eq!(by_source.len(), 1, "{by_source:?}");
    assert_eq!(by_source[0]["value"], "api");
    let in_file = fs::read_to_string(root().join("fixtures/quickstart/api.log"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| matches_template(line["msg"].as_str().unwrap(), &text))
        .count() as u64;
    assert_eq!(count, in_file);

    let hits = search(&[
        "search",
        &format!("template:{id}"),
        "--limit",
        "100000",
        "--json",
    ]);
    assert_eq!(hits.len() as u64, count);
    for hit in &hits {
        assert_eq!(hit["template_id"], id.as_str());
        assert_eq!(hit["template"], text.as_str());
        assert!(
            matches_template(hit["message"].as_str().unwrap(), &text),
            "{hit}"
        );
    }
}

/// Writes a pipeline reading `log` to its end into `dir`.
fn pipeline(dir: &Path, log: &Path) -> std::path::PathBuf {
    let path = dir.join(format!(
        "{}.toml",
        log.file_stem().unwrap().to_str().unwrap()
    ));
    fs::write(
        &path,
        format!(
            "[[sources]]\nname = \"app\"\ntype = \"file\"\npaths = [{log:?}]\n\
             format = \"json\"\nstart_at = \"beginning\"\n",
            log = log.display().to_string(),
        ),
    )
    .unwrap();
    path
}

fn append(log: &Path, messages: &[&str]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    for message in messages {
        let line = serde_json::json!({"ts": "2026-11-20T10:00:00Z", "msg": message});
        writeln!(file, "{line}").unwrap();
    }
}

/// Template id by line number, of every event indexed under `data`.
fn ids_by_line(data: &Path) -> BTreeMap<u64, String> {
    indexed_events(data)
        .into_iter()
        .map(|event| (event.line, event.template.unwrap().to_string()))
        .collect()
}

#[test]
fn template_ids_survive_a_restart() {
    // Words, not numbers, vary: a miner that forgot `alice` would give
    // `bob`'s line an id of its own.
    let first_half = ["session opened for user alice", "cache warmed"];
    let second_half = [
        "session opened for user bob",
        "cache warmed",
        "session opened for user carol",
    ];
    let dir = tempfile::tempdir().unwrap();

    let once = dir.path().join("once.log");
    append(&once, &first_half);
    append(&once, &second_half);
    let once_data = dir.path().join("once-data");
    success(
        firewatch()
            .arg("run")
            .arg(pipeline(dir.path(), &once))
            .arg("--data-dir")
            .arg(&once_data),
    );

    let twice = dir.path().join("twice.log");
    let twice_pipeline = pipeline(dir.path(), &twice);
    let twice_data = dir.path().join("twice-data");
    append(&twice, &first_half);
    let run_twice = || {
        success(
            firewatch()
                .arg("run")
                .arg(&twice_pipeline)
                .arg("--data-dir")
                .arg(&twice_data),
        )
    };
    run_twice();
    append(&twice, &second_half);
    run_twice();

    let expected = ids_by_line(&once_data);
    assert_eq!(expected.len(), 5);
    assert_eq!(expected[&1], expected[&3]);
    assert_eq!(expected[&1], expected[&5]);
    assert_eq!(ids_by_line(&twice_data), expected);
}
