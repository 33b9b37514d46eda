//! Notifications through the real binary: `firewatch run` over a small
//! log sends to a real HTTP server started here (Alertmanager, PagerDuty
//! and JSON bodies, a receiver that fails once, one that is busy once and
//! asks to wait, one that refuses the request, one that refuses
//! connections, one that never answers) and to a command; a silence made
//! with `firewatch silence add` and the default inhibition rule suppress
//! what they match, and every attempt lands in the deliveries file. A
//! restarted run still knows the incidents open before: they inhibit and
//! escalate, and one that no receiver was told of fires then. A following
//! run tells receivers again about an incident that stays open.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{firewatch, indexed_events, json_lines, success};
use serde_json::Value;

/// One request the server received.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    body: Value,
}

/// A small HTTP/1.1 server on 127.0.0.1: it records every POST and answers
/// 200, except 500 to the first request on `/flaky`, 429 with
/// `Retry-After: 1` to the first on `/busy`, 400 to all on `/bad`, and
/// nothing at all on `/hang` (it holds the connection open).
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve(stream, &seen));
            }
        });
        Server { port, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn bodies(&self, path: &str) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.path == path)
            .map(|request| request.body.clone())
            .collect()
    }
}

/// Serves the requests of one connection.
fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if path == "/hang" {
            // Never answer; the client's timeout ends the attempt.
            std::thread::park();
            return;
        }
        let first_on_path = {
            let mut seen = seen.lock().unwrap();
            let first = !seen.iter().any(|request| request.path == path);
            seen.push(Request {
                path: path.clone(),
                body: serde_json::from_slice(&body).unwrap(),
            });
            first
        };
        let (status, headers) = match path.as_str() {
            "/flaky" if first_on_path => ("500 Internal Server Error", ""),
            "/busy" if first_on_path => ("429 Too Many Requests", "retry-after: 1\r\n"),
            "/bad" => ("400 Bad Request", ""),
            _ => ("200 OK", ""),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\n{headers}content-length: 2\r\nconnection: keep-alive\r\n\r\nok"
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

const RULES: &str = "\
rules:
  - id: db-down
    title: database down on {host}
    severity: critical
    match: { any: [database down] }
    group_by: [host]
    resolve_after: 10m
  - id: disk-slow
    title: slow disk on {host}
    severity: high
    match: { any: [disk slow] }
    group_by: [host]
    resolve_after: 10m
  - id: api-errors
    title: API errors on {host}
    severity: medium
    match: { any: [api error] }
    group_by: [service, host]
    resolve_after: 10m
    escalate: [{ count: 3, severity: high }]
";

fn line(time: &str, host: &str, service: &str, message: &str) -> String {
    format!(
        "{{\"time\":\"2026-11-20T{time}Z\",\"host\":\"{host}\",\"service\":\"{service}\",\"level\":\"error\",\"message\":\"{message}\"}}\n"
    )
}

/// A line that names no host.
fn hostless(time: &str, message: &str) -> String {
    format!("{{\"time\":\"2026-11-20T{time}Z\",\"level\":\"error\",\"message\":\"{message}\"}}\n")
}

struct Setup {
    dir: tempfile::TempDir,
    log: PathBuf,
    pipeline: PathBuf,
}

impl Setup {
    /// A pipeline over `app.log` with these `[[notify.receivers]]`.
    fn with_receivers(receivers: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let rules = dir.path().join("rules.yml");
        fs::write(&rules, RULES).unwrap();
        fs::write(&log, "").unwrap();
        let pipeline = dir.path().join("pipeline.toml");
        fs::write(
            &pipeline,
            format!(
                r#"data_dir = {data:?}
[[sources]]
name = "app"
type = "file"
paths = [{log:?}]
format = "json"

[rules]
paths = [{rules:?}]

[notify]
attempts = 3
retry_delay = "50ms"
shutdown_timeout = "20s"

{receivers}"#,
                data = dir.path().join("data").display().to_string(),
                log = log.display().to_string(),
                rules = rules.display().to_string(),
                receivers = receivers(dir.path()),
            ),
        )
        .unwrap();
        Setup { dir, log, pipeline }
    }

    fn new(server: &Server) -> Self {
        // A port nothing listens on: connections are refused.
        let refused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::with_receivers(|dir| {
            format!(
                r#"[[notify.receivers]]
name = "am"
type = "alertmanager"
url = "{am}"

[[notify.receivers]]
name = "pd"
type = "pagerduty"
url = "{pd}"
routing_key_env = "FIREWATCH_TEST_PD_KEY"

[[notify.receivers]]
name = "hook"
type = "json"
url = "{json}"

[[notify.receivers]]
name = "flaky"
type = "json"
url = "{flaky}"
rules = ["db-down"]

[[notify.receivers]]
name = "busy"
type = "json"
url = "{busy}"
rules = ["db-down"]

[[notify.receivers]]
name = "bad"
type = "json"
url = "{bad}"
rules = ["db-down"]

[[notify.receivers]]
name = "refused"
type = "json"
url = "http://127.0.0.1:{refused}/x"
rules = ["db-down"]

[[notify.receivers]]
name = "hang"
type = "json"
url = "{hang}"
timeout = "300ms"
min_severity = "critical"

[[notify.receivers]]
name = "script"
type = "command"
command = ["sh", "-c", "cat >> '{command_out}'; echo >> '{command_out}'"]
"#,
                am = server.url("/am"),
                pd = server.url("/pd"),
                json = server.url("/json"),
                flaky = server.url("/flaky"),
                busy = server.url("/busy"),
                bad = server.url("/bad"),
                hang = server.url("/hang"),
                command_out = dir.join("command.jsonl").display(),
            )
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn append(&self, lines: &[String]) {
        let mut file = fs::OpenOptions::new().append(true).open(&self.log).unwrap();
        for line in lines {
            file.write_all(line.as_bytes()).unwrap();
        }
    }

    fn run(&self) -> Vec<Value> {
        json_lines(&success(
            firewatch()
                .env("FIREWATCH_TEST_PD_KEY", "test-routing-key")
                .arg("run")
                .arg(&self.pipeline)
                .arg("--json"),
        ))
    }

    fn firewatch(&self, args: &[&str]) -> std::process::Output {
        success(
            firewatch()
                .args(args)
                .arg("--data-dir")
                .arg(self.data_dir()),
        )
    }

    fn deliveries(&self) -> Vec<Value> {
        read_lines(&self.data_dir().join("notifications/deliveries.jsonl"))
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The ids of the incidents a run opened, by rule/key.
fn opened(lines: &[Value]) -> HashMap<String, String> {
    lines
        .iter()
        .filter(|line| line["change"] == "opened")
        .map(|line| {
            (
                line["incident"]["key"].as_str().unwrap().to_owned(),
                line["incident"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// (receiver, reason, attempt, outcome) of the deliveries about one incident.
fn attempts(deliveries: &[Value], incident: &str) -> Vec<(String, String, u64, String)> {
    deliveries
        .iter()
        .filter(|delivery| delivery["incident"] == incident)
        .map(|delivery| {
            (
                delivery["receiver"].as_str().unwrap().to_owned(),
                delivery["reason"].as_str().unwrap().to_owned(),
                delivery["attempt"].as_u64().unwrap(),
                delivery["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn incidents_reach_receivers_unless_silenced_or_inhibited() {
    let server = Server::start();
    let setup = Setup::new(&server);
    setup.append(&[
        line("10:00:00", "db-01", "postgres", "database down"),
        line("10:00:05", "db-01", "postgres", "database down"),
        line("10:01:00", "db-01", "kernel", "disk slow"),
        line("10:02:00", "web-01", "api", "api error: upstream"),
        line("10:02:01", "web-01", "api", "api error: upstream"),
    ]);
    let silence = String::from_utf8(
        setup
            .firewatch(&[
                "silence",
                "add",
                "--match",
                "service=api",
                "--for",
                "2h",
                "--comment",
                "api deploy",
            ])
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    assert_eq!(silence.len(), 16, "{silence}");

    // The first run opens the incidents; they stay open at its end. The
    // second resolves them, an hour later in event time, and opens another
    // API incident, which the silence still covers.
    let lines = setup.run();
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["events"], 5);
    let ids = opened(&lines);
    setup.append(&[
        line("11:00:00", "web-01", "cron", "nightly job done"),
        line("12:00:00", "web-02", "api", "api error: upstream"),
    ]);
    let second = setup.run();
    assert_eq!(second.last().unwrap()["summary"]["events"], 2);
    assert_eq!(indexed_events(&setup.data_dir()).len(), 7);
    let db_down = &ids["db-down/db-01"];
    let disk_slow = &ids["disk-slow/db-01"];
    let api_errors = &ids["api-errors/api/web-01"];

    // Alertmanager: firing then resolved, for db-down only (disk-slow is
    // inhibited by it, api-errors silenced).
    let am = server.bodies("/am");
    assert_eq!(am.len(), 2, "{am:#?}");
    for (body, status) in am.iter().zip(["firing", "resolved"]) {
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], status);
        assert_eq!(body["receiver"], "am");
        assert_eq!(body["groupLabels"]["alertname"], "db-down");
        let alert = &body["alerts"][0];
        assert_eq!(alert["status"], status);
        assert_eq!(alert["labels"]["alertname"], "db-down");
        assert_eq!(alert["labels"]["severity"], "critical");
        assert_eq!(alert["labels"]["host"], "db-01");
        assert_eq!(alert["labels"]["incident_id"], db_down.as_str());
        assert_eq!(alert["annotations"]["summary"], "database down on db-01");
        assert_eq!(alert["startsAt"], "2026-11-20T10:00:00Z");
        assert_eq!(alert["fingerprint"], db_down.as_str());
    }
    assert_eq!(am[0]["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(am[1]["alerts"][0]["endsAt"], "2026-11-20T10:10:05Z");

    // PagerDuty: trigger then resolve on the incident key.
    let pd = server.bodies("/pd");
    assert_eq!(pd.len(), 2, "{pd:#?}");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["routing_key"], "test-routing-key");
    assert_eq!(pd[0]["dedup_key"], "db-down/db-01");
    assert_eq!(pd[0]["payload"]["severity"], "critical");
    assert_eq!(pd[0]["payload"]["source"], "db-01");
    assert_eq!(pd[0]["payload"]["summary"], "database down on db-01");
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[1]["dedup_key"], "db-down/db-01");

    // Plain JSON: the reason and the incident as stored.
    let json = server.bodies("/json");
    assert_eq!(json.len(), 2, "{json:#?}");
    assert_eq!(json[0]["reason"], "fired");
    assert_eq!(json[0]["incident"]["id"], db_down.as_str());
    assert_eq!(json[0]["incident"]["state"], "open");
    assert_eq!(json[1]["reason"], "resolved");
    assert_eq!(json[1]["incident"]["state"], "resolved");

    // The command got the same JSON on its standard input.
    let command = read_lines(&setup.dir.path().join("command.jsonl"));
    assert_eq!(command, json);

    let deliveries = setup.deliveries();
    let db = attempts(&deliveries, db_down);
    let of = |receiver: &str| -> Vec<(String, u64, String)> {
        db.iter()
            .filter(|(name, ..)| name == receiver)
            .map(|(_, reason, attempt, outcome)| (reason.clone(), *attempt, outcome.clone()))
            .collect()
    };
    let row =
        |reason: &str, attempt, outcome: &str| (reason.to_owned(), attempt, outcome.to_owned());
    // Failed once with HTTP 500, then delivered; the resolution went through at once.
    assert_eq!(
        of("flaky"),
        [
            row("fired", 1, "failed"),
            row("fired", 2, "delivered"),
            row("resolved", 1, "delivered")
        ]
    );
    let flaky_error = deliveries
        .iter()
        .find(|delivery| delivery["receiver"] == "flaky" && delivery["outcome"] == "failed")
        .unwrap();
    assert!(
        flaky_error["error"].as_str().unwrap().contains("500"),
        "{flaky_error}"
    );
    // 429 is tried again, after the second the receiver asked for rather
    // than the 50ms of retry_delay.
    assert_eq!(
        of("busy"),
        [
            row("fired", 1, "failed"),
            row("fired", 2, "delivered"),
            row("resolved", 1, "delivered")
        ]
    );
    let busy_at: Vec<jiff::Timestamp> = deliveries
        .iter()
        .filter(|delivery| delivery["receiver"] == "busy")
        .map(|delivery| delivery["at"].as_str().unwrap().parse().unwrap())
        .collect();
    let waited = busy_at[1].duration_since(busy_at[0]);
    assert!(
        waited >= jiff::SignedDuration::from_millis(900),
        "retried after {waited:#}"
    );
    // 400 is not: the same request would be refused again.
    assert_eq!(
        of("bad"),
        [row("fired", 1, "gaveup"), row("resolved", 1, "gaveup")]
    );
    // Refused and never answered: three attempts each, then given up.
    for receiver in ["refused", "hang"] {
        assert_eq!(
            of(receiver),
            [
                row("fired", 1, "failed"),
                row("fired", 2, "failed"),
                row("fired", 3, "gaveup"),
                row("resolved", 1, "failed"),
                row("resolved", 2, "failed"),
                row("resolved", 3, "gaveup"),
            ],
            "{receiver}"
        );
    }
    for receiver in ["am", "pd", "hook", "script"] {
        assert_eq!(
            of(receiver),
            [
                row("fired", 1, "delivered"),
                row("resolved", 1, "delivered")
            ],
            "{receiver}"
        );
    }

    // Silenced: recorded as suppressed by the silence, for every receiver
    // that wants it (not flaky and refused, which take db-down only, nor
    // hang, which takes critical only).
    let silenced: Vec<_> = deliveries
        .iter()
        .filter(|delivery| delivery["incident"] == api_errors.as_str())
        .collect();
    let mut receivers: Vec<&str> = silenced
        .iter()
        .map(|delivery| delivery["receiver"].as_str().unwrap())
        .collect();
    receivers.sort_unstable();
    receivers.dedup();
    assert_eq!(receivers, ["am", "hook", "pd", "script"]);
    for delivery in &silenced {
        assert_eq!(delivery["outcome"], "suppressed");
        assert_eq!(delivery["by"], silence.as_str());
        assert_eq!(delivery["attempt"], 0);
    }

    // Inhibited: disk-slow fired while the critical db-down was open on
    // the same host; it resolved after db-down did, but its resolution
    // is no news to receivers that were not told it fired (the second run
    // knows from the deliveries file).
    let inhibited = deliveries
        .iter()
        .filter(|delivery| delivery["incident"] == disk_slow.as_str())
        .collect::<Vec<_>>();
    assert_eq!(inhibited.len(), 8, "{inhibited:#?}");
    for delivery in inhibited {
        assert_eq!(delivery["outcome"], "suppressed");
        assert_eq!(delivery["by"], db_down.as_str());
    }

    // `incidents show` lists the attempts.
    let shown = String::from_utf8(setup.firewatch(&["incidents", "show", db_down]).stdout).unwrap();
    assert!(
        shown.contains(&format!("notifications ({}):", db.len())),
        "{shown}"
    );
    assert!(shown.contains("failed: HTTP 500"), "{shown}");
    let shown = json_lines(&setup.firewatch(&["incidents", "show", api_errors, "--json"]));
    assert_eq!(shown[0]["silenced_by"], silence.as_str());
    // `incidents list` says which incidents the silence covers.
    let listed = json_lines(&setup.firewatch(&["incidents", "list", "--json"]));
    for incident in &listed {
        let expected = if incident["key"].as_str().unwrap().starts_with("api-errors/") {
            serde_json::json!(silence)
        } else {
            serde_json::Value::Null
        };
        assert_eq!(incident["silenced_by"], expected, "{incident}");
    }
    let table = String::from_utf8(setup.firewatch(&["incidents", "list"]).stdout).unwrap();
    let row = |id: &str| {
        table
            .lines()
            .find(|line| line.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not listed:\n{table}"))
            .to_owned()
    };
    assert!(
        table.lines().next().unwrap().contains("SILENCED BY"),
        "{table}"
    );
    assert!(row(api_errors).contains(&silence), "{table}");
    assert!(!row(db_down).contains(&silence), "{table}");
    let listed = shown[0]["deliveries"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|delivery| delivery["by"] == silence.as_str())
    );

    // The silence holds across runs: the API incident of the second run
    // is suppressed by it too.
    let new_api = opened(&second)["api-errors/api/web-02"].clone();
    let deliveries = setup.deliveries();
    let about_new = attempts(&deliveries, &new_api);
    assert!(!about_new.is_empty());
    assert!(
        about_new
            .iter()
            .all(|(.., outcome)| outcome == "suppressed")
    );
    assert_eq!(server.bodies("/am").len(), 2);

    // Once expired, it no longer suppresses: the next API incident is sent.
    setup.firewatch(&["silence", "expire", &silence]);
    let listed = String::from_utf8(setup.firewatch(&["silence", "list"]).stdout).unwrap();
    assert!(listed.contains("no silences"), "{listed}");
    setup.append(&[line("13:00:00", "web-03", "api", "api error: upstream")]);
    let third = setup.run();
    let sent = opened(&third)["api-errors/api/web-03"].clone();
    assert!(
        server
            .bodies("/am")
            .iter()
            .any(|body| body["alerts"][0]["labels"]["incident_id"] == sent.as_str()),
        "no notification about {sent}"
    );
}

#[test]
fn a_restarted_run_still_knows_the_incidents_open_before() {
    let server = Server::start();
    let setup = Setup::with_receivers(|_| {
        format!(
            r#"[[notify.receivers]]
name = "pd"
type = "pagerduty"
url = "{pd}"
routing_key_env = "FIREWATCH_TEST_PD_KEY"
"#,
            pd = server.url("/pd"),
        )
    });
    // Run 1 opens a critical incident on db-01, a medium one on web-01,
    // and a critical one on no host at all.
    setup.append(&[
        line("10:00:00", "db-01", "postgres", "database down"),
        line("10:00:10", "web-01", "api", "api error: upstream"),
        hostless("10:00:20", "database down"),
    ]);
    let first = opened(&setup.run());
    let triggered = |key: &str| -> Vec<Value> {
        server
            .bodies("/pd")
            .into_iter()
            .filter(|body| body["dedup_key"] == key)
            .collect()
    };
    assert_eq!(triggered("db-down/db-01").len(), 1);
    assert_eq!(triggered("api-errors/api/web-01").len(), 1);
    let hostless_down = triggered("db-down/-");
    assert_eq!(hostless_down.len(), 1);
    // No host: the source says where it comes from, and no component.
    assert_eq!(hostless_down[0]["payload"]["source"], "firewatch");
    assert!(hostless_down[0]["payload"].get("component").is_none());

    // Run 2 resumes: a lesser incident on db-01, which the critical one
    // from run 1 inhibits; a lesser one on no host, which the critical
    // one on no host does not ("no host" is not a host); and the web-01
    // incident reaches its escalation step.
    setup.append(&[
        line("10:01:00", "db-01", "kernel", "disk slow"),
        hostless("10:01:10", "disk slow"),
        line("10:01:20", "web-01", "api", "api error: upstream"),
        line("10:01:30", "web-01", "api", "api error: upstream"),
    ]);
    let second = opened(&setup.run());
    let deliveries = setup.deliveries();
    let disk_slow = &second["disk-slow/db-01"];
    let suppressed = attempts(&deliveries, disk_slow);
    assert_eq!(
        suppressed,
        [(
            "pd".to_owned(),
            "fired".to_owned(),
            0,
            "suppressed".to_owned()
        )]
    );
    let by = deliveries
        .iter()
        .find(|delivery| delivery["incident"] == disk_slow.as_str())
        .unwrap();
    assert_eq!(by["by"], first["db-down/db-01"].as_str());
    assert!(triggered("disk-slow/db-01").is_empty());
    let hostless_slow = triggered("disk-slow/-");
    assert_eq!(hostless_slow.len(), 1, "not inhibited");
    assert_eq!(
        hostless_slow[0]["payload"]["custom_details"]["reason"],
        "fired"
    );

    // The escalation, the first change of the incident after the
    // restart, is sent: PagerDuty hears the new severity.
    let api = triggered("api-errors/api/web-01");
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(api[0]["payload"]["severity"], "warning");
    assert_eq!(api[1]["event_action"], "trigger");
    assert_eq!(api[1]["payload"]["severity"], "error");
    assert_eq!(api[1]["payload"]["custom_details"]["reason"], "escalated");
    assert_eq!(api[1]["payload"]["custom_details"]["count"], 3);
    // What was told before the restart is not told again.
    assert_eq!(triggered("db-down/db-01").len(), 1);
    assert_eq!(triggered("db-down/-").len(), 1);
}

#[test]
fn an_incident_open_before_receivers_were_added_fires_once_they_are() {
    let server = Server::start();
    let setup = Setup::with_receivers(|_| String::new());
    setup.append(&[line("10:00:00", "db-01", "postgres", "database down")]);
    let first = opened(&setup.run());
    assert!(server.bodies("/late").is_empty());
    // The deliveries file has no record of it: the next run, with a
    // receiver, tells of it once, though it changes no more.
    let mut pipeline = fs::read_to_string(&setup.pipeline).unwrap();
    pipeline.push_str(&format!(
        "[[notify.receivers]]\nname = \"late\"\ntype = \"json\"\nurl = \"{}\"\n",
        server.url("/late")
    ));
    fs::write(&setup.pipeline, pipeline).unwrap();
    for _ in 0..2 {
        setup.run();
    }
    let late = server.bodies("/late");
    assert_eq!(late.len(), 1, "{late:#?}");
    assert_eq!(late[0]["reason"], "fired");
    assert_eq!(late[0]["incident"]["id"], first["db-down/db-01"].as_str());
}

#[test]
fn an_incident_still_open_is_told_again_every_renotify_interval() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let rules = dir.path().join("rules.yml");
    fs::write(&rules, RULES).unwrap();
    fs::write(&log, "").unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    fs::write(
        &pipeline,
        format!(
            r#"data_dir = {data:?}
[[sources]]
name = "app"
type = "file"
paths = [{log:?}]
format = "json"
follow = true

[rules]
paths = [{rules:?}]

[notify]
renotify_interval = "1s"

[[notify.receivers]]
name = "hook"
type = "json"
url = "{url}"
"#,
            data = dir.path().join("data").display().to_string(),
            log = log.display().to_string(),
            rules = rules.display().to_string(),
            url = server.url("/renotify"),
        ),
    )
    .unwrap();
    let mut child = firewatch()
        .arg("run")
        .arg(&pipeline)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    fs::write(&log, line("10:00:00", "db-01", "postgres", "database down")).unwrap();

    // Fired, then told again while it stays open (resolve_after is 10m of
    // event time, and no later line moves event time on).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let reasons = loop {
        let reasons: Vec<String> = server
            .bodies("/renotify")
            .iter()
            .map(|body| body["reason"].as_str().unwrap().to_owned())
            .collect();
        if reasons.len() >= 3 || std::time::Instant::now() > deadline {
            break reasons;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(reasons.len() >= 3, "{reasons:?}");
    assert_eq!(
        reasons[..3],
        ["fired", "renotify", "renotify"],
        "{reasons:?}"
    );
    let bodies = server.bodies("/renotify");
    let ids: Vec<&Value> = bodies.iter().map(|body| &body["incident"]["id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}
