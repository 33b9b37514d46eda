//! Rule state across a restart, through the real binary: `firewatch run`
//! over a file, stopped (at the end of the file, or killed after a commit
//! on its interval), the file grown, run again. The second run must go on
//! with the first run's threshold windows and open incidents.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{firewatch, json_lines, success};
use serde_json::Value;
use tempfile::TempDir;

/// Four failed logins within a minute on one host open an incident, which
/// stays open for ten quiet minutes.
const RULES: &str = "\
rules:
  - id: login-burst
    title: failed logins on {host}
    severity: high
    match: { any: [login failed] }
    threshold: { count: 4, window: 1m }
    group_by: [host]
    resolve_after: 10m
";

/// A data directory, a log file, and two pipelines over it: one reads it
/// to its end, the other follows it and commits every 100 ms.
struct Setup {
    dir: TempDir,
    log: PathBuf,
    pipeline: PathBuf,
    following: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        let rules = dir.path().join("rules.yml");
        fs::write(&log, "").unwrap();
        fs::write(&rules, RULES).unwrap();
        let write_pipeline = |name: &str, follow: bool| {
            let path = dir.path().join(name);
            fs::write(
                &path,
                format!(
                    "[[sources]]\nname = \"auth\"\ntype = \"file\"\npaths = [{log:?}]\n\
                     format = \"json\"\nfollow = {follow}\nstart_at = \"beginning\"\n\n\
                     [rules]\npaths = [{rules:?}]\n\n[index]\ncommit_interval = \"100ms\"\n",
                    log = log.display().to_string(),
                    rules = rules.display().to_string(),
                ),
            )
            .unwrap();
            path
        };
        let pipeline = write_pipeline("pipeline.toml", false);
        let following = write_pipeline("following.toml", true);
        Setup {
            dir,
            log,
            pipeline,
            following,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Appends failed logins on web-01 at these seconds past 10:00.
    fn append_failures(&self, seconds: &[u32]) {
        let mut file = OpenOptions::new().append(true).open(&self.log).unwrap();
        for second in seconds {
            writeln!(
                file,
                r#"{{"ts": "2026-11-26T10:00:{second:02}Z", "level": "warn", "host": "web-01", "msg": "login failed for admin"}}"#
            )
            .unwrap();
        }
    }

    /// Runs the pipeline to the end of the file; returns its summary.
    fn run(&self) -> Value {
        let output = success(
            firewatch()
                .arg("run")
                .arg(&self.pipeline)
                .arg("--json")
                .arg("--data-dir")
                .arg(self.data_dir()),
        );
        json_lines(&output).pop().unwrap()["summary"].take()
    }

    fn incidents(&self) -> Vec<Value> {
        json_lines(&success(
            firewatch()
                .args(["incidents", "list", "--json", "--data-dir"])
                .arg(self.data_dir()),
        ))
    }
}

fn data_dir_exists(path: &Path) -> bool {
    path.join("incidents").is_dir()
}

/// The incidents index's commit payload as stored (empty before the first
/// commit).
fn incidents_payload(data_dir: &Path) -> String {
    let Ok(meta) = fs::read_to_string(data_dir.join("incidents").join("meta.json")) else {
        return String::new();
    };
    let meta: Value = serde_json::from_str(&meta).unwrap_or_default();
    meta["payload"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_window_half_filled_before_a_restart_fires_after_it() {
    let setup = Setup::new();
    setup.append_failures(&[0, 10]);
    let first = setup.run();
    assert_eq!(first["events"], 2);
    assert_eq!(first["incidents_opened"], 0);
    assert!(data_dir_exists(&setup.data_dir()));
    assert!(setup.incidents().is_empty());

    // Two more: only with the first two, kept across the restart, are
    // there four within the minute.
    setup.append_failures(&[20, 30]);
    let second = setup.run();
    assert_eq!(second["events"], 2, "the file resumes where it stopped");
    assert_eq!(second["incidents_opened"], 1);
    let incidents = setup.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["rule"], "login-burst");
    assert_eq!(incidents[0]["count"], 4);
    assert_eq!(incidents[0]["first_seen"], "2026-11-26T10:00:00Z");
}

#[test]
fn an_open_incident_goes_on_after_a_restart_instead_of_opening_again() {
    let setup = Setup::new();
    setup.append_failures(&[0, 10, 20, 30]);
    let first = setup.run();
    assert_eq!(first["incidents_opened"], 1);
    let opened = setup.incidents();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["state"], "open");
    assert_eq!(opened[0]["count"], 4);

    setup.append_failures(&[40, 50]);
    let second = setup.run();
    assert_eq!(second["events"], 2);
    assert_eq!(second["incidents_opened"], 0, "an update, not an opening");
    let incidents = setup.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["id"], opened[0]["id"]);
    assert_eq!(incidents[0]["count"], 6);
    assert_eq!(incidents[0]["last_seen"], "2026-11-26T10:00:50Z");
}

#[test]
fn a_commit_during_a_run_stores_the_window_with_the_positions() {
    let setup = Setup::new();
    setup.append_failures(&[0, 10]);
    let mut following = firewatch()
        .arg("run")
        .arg(&setup.following)
        .arg("--data-dir")
        .arg(setup.data_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a commit on the interval past both lines, with their window.
    let end = format!("\"offset\":{}", fs::metadata(&setup.log).unwrap().len());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let payload = incidents_payload(&setup.data_dir());
        if payload.contains(&end) && payload.contains("login-burst/web-01") {
            break;
        }
        assert!(Instant::now() < deadline, "no commit with the window");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Killed: no last commit on the way out.
    following.kill().unwrap();
    following.wait().unwrap();

    setup.append_failures(&[20, 30]);
    let second = setup.run();
    assert_eq!(
        second["events"], 2,
        "the file resumes where it was committed"
    );
    assert_eq!(second["incidents_opened"], 1);
    let incidents = setup.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["count"], 4);
}
