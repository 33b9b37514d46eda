//! Reloading rules while `firewatch run` follows a file, through the real
//! binary: a rule file added to the rules directory, an invalid edit, and
//! SIGHUP. Lines are appended only once the run has said that it reloaded
//! (or rejected) the rules, so nothing here depends on how fast that is;
//! every wait is a poll with a generous deadline.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{firewatch, json_lines, success};
use serde_json::Value;
use tempfile::TempDir;

/// Every failed login opens (then updates) one incident per host, which
/// stays open for an hour of quiet.
const LOGINS: &str = "\
rules:
  - id: login-failed
    title: failed logins on {host}
    severity: high
    match: { any: [login failed] }
    group_by: [host]
    resolve_after: 1h
";

const DISK: &str = "\
rules:
  - id: disk-full
    title: disk full on {host}
    severity: medium
    match: { any: [disk full] }
    group_by: [host]
    resolve_after: 1h
";

/// How long any one wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A rules directory, a followed log file and a data directory.
struct Setup {
    dir: TempDir,
    rules: PathBuf,
    log: PathBuf,
    pipeline: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        fs::create_dir(&rules).unwrap();
        fs::write(rules.join("logins.yml"), LOGINS).unwrap();
        let log = dir.path().join("app.log");
        fs::write(&log, "").unwrap();
        let pipeline = dir.path().join("pipeline.toml");
        fs::write(
            &pipeline,
            format!(
                "[[sources]]\nname = \"app\"\ntype = \"file\"\npaths = [{log:?}]\n\
                 format = \"json\"\nfollow = true\nstart_at = \"beginning\"\n\n\
                 [rules]\npaths = [{rules:?}]\n\n[index]\ncommit_interval = \"100ms\"\n",
                log = log.display().to_string(),
                rules = rules.display().to_string(),
            ),
        )
        .unwrap();
        Setup {
            dir,
            rules,
            log,
            pipeline,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Appends a line from web-01 at this second past 10:00.
    fn append(&self, second: u32, message: &str) {
        self.append_from("web-01", second, message);
    }

    /// Appends a line from `host` at this second past 10:00.
    fn append_from(&self, host: &str, second: u32, message: &str) {
        let mut file = OpenOptions::new().append(true).open(&self.log).unwrap();
        writeln!(
            file,
            r#"{{"ts": "2026-11-26T10:00:{second:02}Z", "level": "warn", "host": "{host}", "msg": "{message}"}}"#
        )
        .unwrap();
    }

    /// Replaces a rule file in one step, as a deployment would, so that a
    /// poll never sees it half written.
    fn replace_rule_file(&self, name: &str, text: &str) {
        let staged = self.dir.path().join(name);
        fs::write(&staged, text).unwrap();
        fs::rename(&staged, self.rules.join(name)).unwrap();
    }

    fn start(&self) -> Running {
        let mut child = firewatch()
            .arg("run")
            .arg(&self.pipeline)
            .arg("--json")
            .arg("--data-dir")
            .arg(self.data_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
                if lines_tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let shared = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    return;
                }
                shared
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    fn incidents(&self) -> Vec<Value> {
        json_lines(&success(
            firewatch()
                .args(["incidents", "list", "--json", "--data-dir"])
                .arg(self.data_dir()),
        ))
    }
}

/// A `firewatch run` in progress: its JSON lines and its stderr.
struct Running {
    child: Child,
    lines: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Waits for the first line of stdout that `wanted` accepts.
    fn wait_for(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "no {what} on stdout; stderr:\n{}",
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Waits for the incident of `key` to open; returns it.
    fn opened(&self, key: &str) -> Value {
        self.wait_for(&format!("opening of {key}"), |line| {
            line["change"] == "opened" && line["incident"]["key"] == key
        })["incident"]
            .clone()
    }

    fn reloaded(&self) -> Value {
        self.wait_for("reload", |line| line.get("reloaded").is_some())
    }

    /// Waits until stderr holds `needle`; returns all of it.
    fn wait_for_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stderr = self.stderr.lock().unwrap().clone();
            if stderr.contains(needle) {
                return stderr;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on stderr:\n{stderr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Stops the run the way an operator does (SIGTERM: drain, commit);
    /// returns its summary.
    fn stop(mut self) -> Value {
        self.signal("TERM");
        let summary = self.wait_for("summary", |line| line.get("summary").is_some());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        summary["summary"].clone()
    }
}

fn only_incident_of(incidents: &[Value], rule: &str) -> Value {
    let found: Vec<&Value> = incidents
        .iter()
        .filter(|incident| incident["rule"] == rule)
        .collect();
    assert_eq!(found.len(), 1, "{incidents:#?}");
    found[0].clone()
}

#[test]
fn a_rule_file_added_to_the_directory_detects_and_open_incidents_go_on() {
    let setup = Setup::new();
    let run = setup.start();
    setup.append(0, "login failed for admin");
    let login = run.opened("login-failed/web-01");

    fs::write(setup.rules.join("disk.yml"), DISK).unwrap();
    assert_eq!(run.reloaded()["reloaded"]["rules"], 2);
    setup.append(10, "login failed for root");
    setup.append(20, "disk full on /var");
    let disk = run.opened("disk-full/web-01");
    assert_eq!(disk["first_seen"], "2026-11-26T10:00:20Z");

    let summary = run.stop();
    assert_eq!(summary["rule_reloads"]["applied"], 1);
    assert_eq!(summary["rule_reloads"]["failed"], 0);
    assert_eq!(summary["incidents_opened"], 2, "the login incident went on");
    let incidents = setup.incidents();
    let kept = only_incident_of(&incidents, "login-failed");
    assert_eq!(kept["id"], login["id"]);
    assert_eq!(kept["state"], "open");
    assert_eq!(kept["count"], 2);
    assert_eq!(kept["last_seen"], "2026-11-26T10:00:10Z");
    assert_eq!(only_incident_of(&incidents, "disk-full")["count"], 1);
}

#[test]
fn an_invalid_edit_is_reported_and_the_old_rules_stay_in_force() {
    let setup = Setup::new();
    let run = setup.start();
    setup.append(0, "login failed for admin");
    let login = run.opened("login-failed/web-01");

    setup.replace_rule_file("logins.yml", &LOGINS.replace("high", "severe"));
    let stderr = run.wait_for_stderr("rules not reloaded");
    let place = format!(
        "{}:4:15: unknown severity",
        path(&setup.rules.join("logins.yml"))
    );
    assert!(stderr.contains(&place), "{stderr}");
    setup.append(10, "login failed for root");
    setup.append(20, "disk full on /var");

    // Fixed again: loaded, and the incident still goes on.
    setup.replace_rule_file("logins.yml", &format!("{LOGINS}{}", &DISK[7..]));
    assert_eq!(run.reloaded()["reloaded"]["rules"], 2);
    setup.append(30, "login failed for guest");
    setup.append(40, "disk full on /srv");
    run.opened("disk-full/web-01");

    let summary = run.stop();
    assert_eq!(summary["rule_reloads"]["applied"], 1);
    assert_eq!(summary["rule_reloads"]["failed"], 1);
    let incidents = setup.incidents();
    let kept = only_incident_of(&incidents, "login-failed");
    assert_eq!(kept["id"], login["id"]);
    assert_eq!(
        kept["count"], 3,
        "the old rule detected while the edit was bad"
    );
    let disk = only_incident_of(&incidents, "disk-full");
    assert_eq!(
        (&disk["first_seen"], &disk["count"]),
        (&Value::from("2026-11-26T10:00:40Z"), &Value::from(1)),
        "the line before the fix was not matched"
    );
}

#[test]
fn sighup_reloads_a_change_the_file_watch_cannot_see() {
    let setup = Setup::new();
    let run = setup.start();
    setup.append(0, "login failed for admin");
    let login = run.opened("login-failed/web-01");

    // Same size and modification time: only a SIGHUP tells the run. A
    // change of what the rule matches keeps its incident open.
    let file = setup.rules.join("logins.yml");
    let modified = fs::metadata(&file).unwrap().modified().unwrap();
    let edited = LOGINS.replace("login failed", "login denied");
    let staged = setup.dir.path().join("staged.yml");
    fs::write(&staged, &edited).unwrap();
    fs::File::options()
        .write(true)
        .open(&staged)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    fs::rename(&staged, &file).unwrap();

    run.signal("HUP");
    assert_eq!(run.reloaded()["reloaded"]["rules"], 1);
    setup.append(10, "login failed for root");
    setup.append(20, "login denied for root");
    // Updates are not printed; a new group's opening is, and it comes
    // after the lines before it.
    setup.append_from("web-02", 30, "login denied for guest");
    run.opened("login-failed/web-02");
    let summary = run.stop();
    assert_eq!(summary["rule_reloads"]["applied"], 1);
    assert_eq!(summary["events"], 4);
    let incidents = setup.incidents();
    let kept = incidents
        .iter()
        .find(|incident| incident["key"] == "login-failed/web-01")
        .unwrap();
    assert_eq!(kept["id"], login["id"]);
    assert_eq!(
        kept["count"], 2,
        "the edited rule matched the denied line only"
    );
    assert_eq!(kept["last_seen"], "2026-11-26T10:00:20Z");
}

#[test]
fn a_deleted_rule_file_drops_its_rules_and_resolves_their_incidents() {
    let setup = Setup::new();
    fs::write(setup.rules.join("disk.yml"), DISK).unwrap();
    let run = setup.start();
    setup.append(0, "disk full on /var");
    setup.append(10, "login failed for admin");
    run.opened("login-failed/web-01");

    fs::remove_file(setup.rules.join("disk.yml")).unwrap();
    assert_eq!(run.reloaded()["reloaded"]["rules"], 1);
    setup.append(20, "disk full on /srv");
    setup.append_from("web-02", 30, "login failed for root");
    run.opened("login-failed/web-02");

    let summary = run.stop();
    assert_eq!(summary["rule_reloads"]["applied"], 1);
    let incidents = setup.incidents();
    let disk = only_incident_of(&incidents, "disk-full");
    assert_eq!(disk["state"], "resolved");
    assert_eq!(disk["count"], 1, "the deleted rule matched nothing after");
    let resolved_at = disk["resolved_at"].as_str().unwrap();
    assert!(
        ("2026-11-26T10:00:10Z".."2026-11-26T10:00:20Z").contains(&resolved_at),
        "resolved at the reload, before the next line: {resolved_at}"
    );
}

#[test]
fn a_sigma_file_with_an_unsupported_rule_reloads_its_other_rules() {
    let setup = Setup::new();
    let run = setup.start();
    setup.append(0, "login failed for admin");
    run.opened("login-failed/web-01");
    setup.replace_rule_file(
        "sigma.yml",
        "title: Disk full\nname: disk-full\nlevel: medium\n\
         detection:\n  keywords: ['disk full']\n  condition: keywords\n---\n\
         title: Dashed option\nname: dashed\ndetection:\n  \
         sel: { CommandLine|windash: ' -f ' }\n  condition: sel\n",
    );
    assert_eq!(run.reloaded()["reloaded"]["rules"], 2);
    let stderr = run.wait_for_stderr("1 sigma rule skipped");
    let warning = format!(
        "{}:11:10: sigma rule `dashed` (Dashed option) skipped: modifier `windash` is not supported",
        path(&setup.rules.join("sigma.yml"))
    );
    assert!(stderr.contains(&warning), "{stderr}");
    setup.append(10, "disk full on /var");
    run.opened("disk-full");
    let summary = run.stop();
    assert_eq!(summary["rule_reloads"]["failed"], 0);
}

fn path(path: &Path) -> String {
    path.display().to_string()
}
