//! The parser: one record in, one event out, whatever the bytes.

use std::borrow::Cow;
use std::sync::Arc;

use firewatch_event::{Event, RawRecord, Timestamp};
use jiff::tz::TimeZone;

use crate::Format;
use crate::json::parse_json;
use crate::logfmt::{looks_like_logfmt, parse_logfmt};
use crate::plain::parse_plain;
use crate::syslog::parse_syslog;
use crate::time::TimeContext;

/// Options of a parser (one per source).
#[derive(Clone, Debug)]
pub struct ParserConfig {
    /// Which format the source's lines are in.
    pub format: Format,
    /// Time zone for time stamps that carry none (RFC 3164 syslog,
    /// `2026-11-26 10:00:00,123`, loghub-style plain lines). Default UTC.
    pub time_zone: TimeZone,
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self {
            format: Format::Auto,
            time_zone: TimeZone::UTC,
        }
    }
}

/// Turns records into events. Holds no per-line state, so one parser can
/// serve every worker thread (it is `Send + Sync`; clone it or share it by
/// reference).
#[derive(Clone, Debug)]
pub struct Parser {
    config: ParserConfig,
}

/// Why a line is not in the format it was read as. Its text becomes
/// `ParseProblem::reason`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Rejection {
    #[error("invalid json: {0}")]
    Json(serde_json::Error),
    #[error("invalid json: the line is not an object")]
    JsonNotObject,
    #[error("invalid syslog priority: expected <0> to <191>")]
    SyslogPriority,
    #[error("invalid syslog header: no time stamp where one is expected")]
    SyslogTime,
    #[error("invalid syslog header: no space after the time stamp")]
    SyslogHeader,
    #[error("invalid rfc 5424 syslog header")]
    Rfc5424Header,
    #[error("no key=value pair")]
    NoLogfmtPair,
}

impl Parser {
    /// A parser with the given options.
    pub fn new(config: ParserConfig) -> Self {
        Self { config }
    }

    /// Parses one record. `received` is when the batch was read; it is also
    /// the reference for years missing from time stamps.
    ///
    /// Never fails: invalid UTF-8 is replaced (and marked), a line the
    /// chosen format cannot read keeps its raw text as message and is marked
    /// `unparsed` with a reason, an empty line is an event with an empty
    /// message. Trailing whitespace (a `\r` included) is not part of the
    /// message, nor is a byte order mark at the start of the line. When the
    /// line names no host, the record's peer is the host.
    pub fn parse(&self, record: &RawRecord, source: &Arc<str>, received: Timestamp) -> Event {
        let mut event = Event::new(record.id, Arc::clone(source), received);
        event.line = record.line;
        event.problem.truncated = record.truncated;
        // Checking first is much faster than `from_utf8_lossy` on valid text.
        let text = match std::str::from_utf8(&record.bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                event.problem.invalid_utf8 = true;
                String::from_utf8_lossy(&record.bytes)
            }
        };
        // A byte order mark starts the first line of files saved by some
        // editors; it is not part of the text.
        let line = text.trim_end().trim_start_matches('\u{feff}');
        if !line.is_empty() {
            let context = TimeContext {
                zone: &self.config.time_zone,
                received,
            };
            let outcome = match self.config.format {
                Format::Auto => {
                    parse_auto(line, &context, &mut event);
                    Ok(())
                }
                Format::Json => parse_json(line, &context, &mut event),
                Format::Syslog => parse_syslog(line, &context, &mut event),
                Format::Logfmt => parse_logfmt(line, &context, &mut event),
                Format::Plain => {
                    parse_plain(line, &context, &mut event);
                    Ok(())
                }
            };
            if let Err(rejection) = outcome {
                // The format parsers leave the event untouched when they reject.
                event.message = line.to_owned();
                event.problem.unparsed = true;
                event.problem.reason = Some(rejection.to_string());
            }
            // Structured messages end in whitespace too (Docker's `"log":"...\n"`).
            let message_len = event.message.trim_end().len();
            event.message.truncate(message_len);
        }
        if event.host.is_none() {
            event.host = record.peer_host.as_deref().map(str::to_owned);
        }
        event
    }
}

/// Picks the format from the line's first bytes; a line that turns out not
/// to be in that format is read as plain text.
fn parse_auto(line: &str, context: &TimeContext<'_>, event: &mut Event) {
    let bytes = line.trim_start().as_bytes();
    let parsed = match bytes {
        [b'{', ..] => parse_json(line, context, event).is_ok(),
        [b'<', digit, ..] if digit.is_ascii_digit() => parse_syslog(line, context, event).is_ok(),
        _ if looks_like_logfmt(line) => parse_logfmt(line, context, event).is_ok(),
        _ => false,
    };
    if !parsed {
        parse_plain(line, context, event);
    }
}

#[cfg(test)]
mod tests {
    use firewatch_event::{EventId, Level};
    use serde_json::{Value, json};

    use super::*;

    fn received() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    fn parse_bytes(format: Format, bytes: &[u8]) -> Event {
        let parser = Parser::new(ParserConfig {
            format,
            ..ParserConfig::default()
        });
        let record = RawRecord::new(EventId(9), 42, bytes.to_vec());
        parser.parse(&record, &Arc::from("src"), received())
    }

    fn parse(format: Format, line: &str) -> Event {
        parse_bytes(format, line.as_bytes())
    }

    fn time_of(event: &Event) -> Option<String> {
        event.timestamp.map(|instant| instant.to_string())
    }

    /// The parts most tests look at, in one comparable value.
    fn summary(event: &Event) -> Value {
        json!({
            "time": time_of(event),
            "level": event.level.as_str(),
            "host": event.host,
            "service": event.service,
            "message": event.message,
            "fields": event.fields,
            "unparsed": event.problem.unparsed,
        })
    }

    fn expect(
        time: Option<&str>,
        level: &str,
        host: Option<&str>,
        service: Option<&str>,
        message: &str,
        fields: Value,
    ) -> Value {
        json!({
            "time": time,
            "level": level,
            "host": host,
            "service": service,
            "message": message,
            "fields": fields,
            "unparsed": false,
        })
    }

    fn assert_parses(format: Format, cases: Vec<(&str, Value)>) {
        for (line, expected) in cases {
            let event = parse(format, line);
            assert_eq!(summary(&event), expected, "{format}: {line}");
            assert!(event.problem.is_clean(), "{format}: {line}");
            assert_eq!(event.problem.reason, None, "{format}: {line}");
        }
    }

    fn assert_unparsed(format: Format, line: &str, reason_start: &str) {
        let event = parse(format, line);
        assert!(event.problem.unparsed, "{format}: {line}");
        let reason = event.problem.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with(reason_start),
            "{format}: {line}: {reason}"
        );
        assert_eq!(event.message, line.trim_end(), "{format}: {line}");
        assert_eq!((event.timestamp, event.level), (None, Level::Unknown));
        assert!(event.fields.is_empty() && event.host.is_none());
        let auto = parse(Format::Auto, line);
        assert!(!auto.problem.unparsed, "auto falls back to plain: {line}");
        assert_eq!(auto.problem.reason, None);
    }

    #[test]
    fn json_lines() {
        assert_parses(
            Format::Json,
            vec![
                (
                    r#"{"ts":"2026-11-26T10:00:00.5Z","level":"error","msg":"db down","host":"web-1","service":"api","user":{"id":7},"retry":true}"#,
                    expect(
                        Some("2026-11-26T10:00:00.5Z"),
                        "error",
                        Some("web-1"),
                        Some("api"),
                        "db down",
                        json!({"user": {"id": 7}, "retry": true}),
                    ),
                ),
                (
                    r#"  {"message":"padded","level":"WARNING"}  "#,
                    expect(None, "warn", None, None, "padded", json!({})),
                ),
                (
                    r#"{"status":503,"path":"/api"}"#,
                    expect(
                        None,
                        "unknown",
                        None,
                        None,
                        r#"{"status":503,"path":"/api"}"#,
                        json!({"status": 503, "path": "/api"}),
                    ),
                ),
            ],
        );
    }

    #[test]
    fn parsers_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Parser>();
    }

    #[test]
    fn structured_messages_lose_trailing_whitespace_and_lines_their_bom() {
        let docker = parse(
            Format::Json,
            r#"{"log":"listening on :8080\n","stream":"stdout","time":"2026-11-26T10:00:00.000000001Z"}"#,
        );
        assert_eq!(docker.message, "listening on :8080");
        assert_eq!(time_of(&docker).unwrap(), "2026-11-26T10:00:00.000000001Z");
        assert_eq!(docker.fields["stream"], "stdout");
        let with_bom = parse(Format::Auto, "\u{feff}{\"msg\":\"first line\"}");
        assert_eq!(with_bom.message, "first line");
        assert!(with_bom.problem.is_clean());
    }

    #[test]
    fn json_time_shapes() {
        for (value, instant) in [
            (r#""2026-11-26T10:00:00+01:00""#, "2026-11-26T09:00:00Z"),
            (
                r#""2026-11-26T10:00:00.123456Z""#,
                "2026-11-26T10:00:00.123456Z",
            ),
            (r#""2026-11-26 10:00:00,123""#, "2026-11-26T10:00:00.123Z"),
            (r#""Nov 26 10:00:00""#, "2026-11-26T10:00:00Z"),
            ("1700000000", "2023-11-14T22:13:20Z"),
            ("1700000000123", "2023-11-14T22:13:20.123Z"),
            ("1700000000.25", "2023-11-14T22:13:20.25Z"),
            (r#""1700000000""#, "2023-11-14T22:13:20Z"),
            (r#""1700000000123""#, "2023-11-14T22:13:20.123Z"),
            (r#""1700000000123456789""#, "2023-11-14T22:13:20.123456789Z"),
        ] {
            let line = format!(r#"{{"time":{value},"msg":"x"}}"#);
            let event = parse(Format::Json, &line);
            assert_eq!(time_of(&event).as_deref(), Some(instant), "{line}");
            assert!(event.fields.is_empty(), "{line}");
        }
        let unreadable = parse(Format::Json, r#"{"time":"next tuesday","msg":"x"}"#);
        assert_eq!(unreadable.timestamp, None);
        assert_eq!(unreadable.fields["time"], "next tuesday");
    }

    #[test]
    fn json_rejects_what_is_not_an_object() {
        assert_unparsed(
            Format::Json,
            r#"{"level":"error","msg":"cut he"#,
            "invalid json: EOF",
        );
        assert_unparsed(
            Format::Json,
            r#"{"a":1} trailing"#,
            "invalid json: trailing",
        );
        assert_unparsed(
            Format::Json,
            "[1, 2, 3]",
            "invalid json: the line is not an object",
        );
        assert_unparsed(
            Format::Json,
            "42",
            "invalid json: the line is not an object",
        );
        assert_unparsed(Format::Json, "plain text", "invalid json: expected value");
    }

    #[test]
    fn syslog_lines() {
        assert_parses(
            Format::Syslog,
            vec![
                (
                    r#"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 [exampleSDID@32473 iut="3" eventSource="Application"][meta x="a\"b"] 'su root' failed"#,
                    expect(
                        Some("2003-10-11T22:14:15.003Z"),
                        "critical",
                        Some("mymachine.example.com"),
                        Some("su"),
                        "'su root' failed",
                        json!({
                            "facility": "auth",
                            "severity": "crit",
                            "msgid": "ID47",
                            "sd": {
                                "exampleSDID@32473": {"iut": "3", "eventSource": "Application"},
                                "meta": {"x": "a\"b"},
                            },
                        }),
                    ),
                ),
                (
                    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - \u{feff}%% It's time",
                    expect(
                        Some("2003-08-24T12:14:15.000003Z"),
                        "notice",
                        Some("192.0.2.1"),
                        Some("myproc"),
                        "%% It's time",
                        json!({"facility": "local4", "severity": "notice", "procid": "8710"}),
                    ),
                ),
                (
                    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick",
                    expect(
                        Some("2026-10-11T22:14:15Z"),
                        "critical",
                        Some("mymachine"),
                        Some("su"),
                        "'su root' failed for lonvick",
                        json!({"facility": "auth", "severity": "crit"}),
                    ),
                ),
                (
                    "<13>Nov 26 09:00:00 web app[12]: ERROR payment failed",
                    expect(
                        Some("2026-11-26T09:00:00Z"),
                        "error",
                        Some("web"),
                        Some("app"),
                        "ERROR payment failed",
                        json!({"facility": "user", "severity": "notice", "procid": "12"}),
                    ),
                ),
                (
                    "<30>2026-11-26T10:00:00.123456+01:00 host systemd[1]: Started x.",
                    expect(
                        Some("2026-11-26T09:00:00.123456Z"),
                        "info",
                        Some("host"),
                        Some("systemd"),
                        "Started x.",
                        json!({"facility": "daemon", "severity": "info", "procid": "1"}),
                    ),
                ),
                (
                    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4 \r",
                    expect(
                        Some("2026-06-14T15:16:01Z"),
                        "unknown",
                        Some("combo"),
                        Some("sshd(pam_unix)"),
                        "authentication failure; rhost=218.188.2.4",
                        json!({"procid": "19939"}),
                    ),
                ),
                (
                    "Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect [preauth]",
                    expect(
                        Some("2025-12-10T06:55:46Z"),
                        "error",
                        Some("LabSZ"),
                        Some("sshd"),
                        "error: Received disconnect [preauth]",
                        json!({"procid": "24200"}),
                    ),
                ),
            ],
        );
    }

    #[test]
    fn syslog_rejects_cut_and_foreign_lines() {
        assert_unparsed(Format::Syslog, "<34>Oct 11 22:1", "invalid syslog header");
        assert_unparsed(Format::Syslog, "<34>", "invalid syslog header");
        assert_unparsed(Format::Syslog, "<34", "invalid syslog priority");
        assert_unparsed(
            Format::Syslog,
            "<999>Oct 11 22:14:15 h a: x",
            "invalid syslog priority",
        );
        assert_unparsed(
            Format::Syslog,
            "<34>1 2003-10-11T22:14:15.003Z mymachine",
            "invalid rfc 5424",
        );
        assert_unparsed(
            Format::Syslog,
            "hello world",
            "invalid syslog header: no time",
        );
        assert_unparsed(
            Format::Syslog,
            "Oct 11 22:14:15:x y",
            "invalid syslog header: no space",
        );
        assert_unparsed(
            Format::Syslog,
            "081109 203615 148 INFO x: y",
            "invalid syslog header",
        );
    }

    #[test]
    fn logfmt_lines() {
        assert_parses(
            Format::Logfmt,
            vec![
                (
                    r#"ts=2026-11-26T10:00:00Z level=warn msg="disk \"sda\" at 91%\nsecond line" host=db-1 app=pg free=9% dry_run"#,
                    expect(
                        Some("2026-11-26T10:00:00Z"),
                        "warn",
                        Some("db-1"),
                        Some("pg"),
                        "disk \"sda\" at 91%\nsecond line",
                        json!({"free": "9%", "dry_run": true}),
                    ),
                ),
                (
                    "time=1700000000123 lvl=E message=done status=503",
                    expect(
                        Some("2023-11-14T22:13:20.123Z"),
                        "error",
                        None,
                        None,
                        "done",
                        json!({"status": "503"}),
                    ),
                ),
                (
                    "status=200",
                    expect(
                        None,
                        "unknown",
                        None,
                        None,
                        "status=200",
                        json!({"status": "200"}),
                    ),
                ),
            ],
        );
        assert_unparsed(Format::Logfmt, "just some words", "no key=value pair");
    }

    #[test]
    fn plain_lines() {
        assert_parses(
            Format::Plain,
            vec![
                (
                    "2026-11-26T10:00:00Z web-1 nginx[12]: GET /",
                    expect(
                        Some("2026-11-26T10:00:00Z"),
                        "unknown",
                        Some("web-1"),
                        Some("nginx"),
                        "GET /",
                        json!({"procid": "12"}),
                    ),
                ),
                (
                    "2026-11-26T10:00:00.5+01:00 ERROR payment failed",
                    expect(
                        Some("2026-11-26T09:00:00.5Z"),
                        "error",
                        None,
                        None,
                        "payment failed",
                        json!({}),
                    ),
                ),
                (
                    "2026/11/26 10:00:00 [error] 31#31: *1 open() failed",
                    expect(
                        Some("2026-11-26T10:00:00Z"),
                        "error",
                        None,
                        None,
                        "31#31: *1 open() failed",
                        json!({}),
                    ),
                ),
                (
                    "1700000000 E boom",
                    expect(
                        Some("2023-11-14T22:13:20Z"),
                        "error",
                        None,
                        None,
                        "boom",
                        json!({}),
                    ),
                ),
                (
                    "2026-11-26 10:00:00 | INFO | ready",
                    expect(
                        Some("2026-11-26T10:00:00Z"),
                        "info",
                        None,
                        None,
                        "ready",
                        json!({}),
                    ),
                ),
                (
                    "2026-11-26 10:00:00 Info about the weather",
                    expect(
                        Some("2026-11-26T10:00:00Z"),
                        "unknown",
                        None,
                        None,
                        "Info about the weather",
                        json!({}),
                    ),
                ),
                (
                    "Nov 26 10:00:00 ERROR [worker] cache.Store: evicted",
                    expect(
                        Some("2026-11-26T10:00:00Z"),
                        "error",
                        None,
                        None,
                        "evicted",
                        json!({"thread": "worker", "logger": "cache.Store"}),
                    ),
                ),
                (
                    "[Tue Jun 08 11:54:08.929301 2021] [php7:emerg] [pid 1374899] boom",
                    expect(
                        Some("2021-06-08T11:54:08.929301Z"),
                        "fatal",
                        None,
                        None,
                        "[pid 1374899] boom",
                        json!({}),
                    ),
                ),
                (
                    "WARN: disk almost full",
                    expect(None, "warn", None, None, "disk almost full", json!({})),
                ),
                (
                    "[notice] config reloaded",
                    expect(None, "notice", None, None, "config reloaded", json!({})),
                ),
                (
                    "FATAL [main] org.example.Boot: cannot start",
                    expect(
                        None,
                        "fatal",
                        None,
                        None,
                        "cannot start",
                        json!({"thread": "main", "logger": "org.example.Boot"}),
                    ),
                ),
                (
                    "  just text, indented: kept as is",
                    expect(
                        None,
                        "unknown",
                        None,
                        None,
                        "  just text, indented: kept as is",
                        json!({}),
                    ),
                ),
                (
                    "E something that only looks like a level",
                    expect(
                        None,
                        "unknown",
                        None,
                        None,
                        "E something that only looks like a level",
                        json!({}),
                    ),
                ),
                (
                    "2026-11-26 10:00:00,123 ERROR Error: config.yaml is missing",
                    expect(
                        Some("2026-11-26T10:00:00.123Z"),
                        "error",
                        None,
                        None,
                        "Error: config.yaml is missing",
                        json!({}),
                    ),
                ),
            ],
        );
    }

    #[test]
    fn auto_picks_the_format_per_line() {
        let json = parse(Format::Auto, r#"{"msg":"from json","level":"info"}"#);
        assert_eq!(
            (json.message.as_str(), json.level),
            ("from json", Level::Info)
        );
        let syslog = parse(Format::Auto, "<11>Nov 26 10:00:00 h app: from syslog");
        assert_eq!(
            (syslog.message.as_str(), syslog.level),
            ("from syslog", Level::Error)
        );
        assert_eq!(syslog.fields["facility"], "user");
        let bsd = parse(Format::Auto, "Nov 26 10:00:00 h app[1]: from a file");
        assert_eq!(
            (bsd.host.as_deref(), bsd.service.as_deref()),
            (Some("h"), Some("app"))
        );
        let logfmt = parse(Format::Auto, "level=error msg=\"from logfmt\"");
        assert_eq!(
            (logfmt.message.as_str(), logfmt.level),
            ("from logfmt", Level::Error)
        );
        let plain = parse(Format::Auto, "user=bob logged in");
        assert_eq!(plain.message, "user=bob logged in");
        assert!(plain.fields.is_empty());
        for line in [r#"{"broken"#, "<12>not syslog", "[1, 2]"] {
            let event = parse(Format::Auto, line);
            assert_eq!(event.message, line);
            assert!(
                event.problem.is_clean() && event.problem.reason.is_none(),
                "{line}"
            );
        }
    }

    #[test]
    fn empty_and_blank_lines_are_empty_events_in_every_format() {
        for format in Format::ALL {
            for line in ["", "\r", "   \t\r"] {
                let event = parse(format, line);
                assert_eq!(event.message, "", "{format} {line:?}");
                assert!(event.problem.is_clean(), "{format} {line:?}");
                assert_eq!(
                    (event.id, event.line, event.level),
                    (EventId(9), 42, Level::Unknown)
                );
            }
        }
    }

    #[test]
    fn crlf_and_trailing_whitespace_are_not_part_of_the_message() {
        for format in Format::ALL {
            let event = parse(format, "level=info msg=ready  \r");
            assert!(
                !event.message.ends_with([' ', '\r']),
                "{format}: {:?}",
                event.message
            );
        }
        let event = parse(Format::Plain, "2026-11-26 10:00:00 INFO ready \t\r");
        assert_eq!(event.message, "ready");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_marked() {
        for (format, bytes) in [
            (Format::Json, &b"{\"msg\":\"caf\xe9 ok\"}"[..]),
            (Format::Syslog, b"<13>Nov 26 10:00:00 h app: caf\xe9 ok"),
            (Format::Logfmt, b"level=info msg=\"caf\xe9 ok\""),
            (Format::Plain, b"INFO caf\xe9 ok"),
            (Format::Auto, b"INFO caf\xe9 ok"),
        ] {
            let event = parse_bytes(format, bytes);
            assert!(event.problem.invalid_utf8, "{format}");
            assert!(!event.problem.unparsed, "{format}");
            assert_eq!(event.message, "caf\u{fffd} ok", "{format}");
        }
        assert!(parse(Format::Plain, "café").problem.is_clean());
    }

    #[test]
    fn truncated_records_keep_their_mark_and_text() {
        let mut bytes = br#"{"msg":""#.to_vec();
        bytes.resize(5 << 20, b'a');
        let record = RawRecord {
            truncated: true,
            ..RawRecord::new(EventId(3), 7, bytes)
        };
        for format in Format::ALL {
            let parser = Parser::new(ParserConfig {
                format,
                ..ParserConfig::default()
            });
            let event = parser.parse(&record, &Arc::from("big"), received());
            assert!(event.problem.truncated, "{format}");
            let rejects = matches!(format, Format::Json | Format::Syslog | Format::Logfmt);
            assert_eq!(event.problem.unparsed, rejects, "{format}");
            assert_eq!(event.message.len(), 5 << 20, "{format}");
            assert_eq!((event.id, event.line), (EventId(3), 7));
        }
    }

    #[test]
    fn the_peer_is_the_host_when_the_line_names_none() {
        let parser = Parser::new(ParserConfig::default());
        let mut record =
            RawRecord::new(EventId(1), 1, b"<13>Nov 26 10:00:00 web-1 app: x".to_vec());
        record.peer_host = Some("10.0.0.9".into());
        let named = parser.parse(&record, &Arc::from("syslog"), received());
        assert_eq!(named.host.as_deref(), Some("web-1"));
        record.bytes = b"no host here".to_vec();
        let unnamed = parser.parse(&record, &Arc::from("syslog"), received());
        assert_eq!(unnamed.host.as_deref(), Some("10.0.0.9"));
        assert_eq!(&*unnamed.source, "syslog");
        assert_eq!(unnamed.received, received());
    }

    #[test]
    fn zone_less_times_use_the_configured_zone() {
        let parser = Parser::new(ParserConfig {
            format: Format::Auto,
            time_zone: TimeZone::get("Europe/Berlin").unwrap(),
        });
        let parse = |line: &[u8]| {
            let record = RawRecord::new(EventId(1), 1, line.to_vec());
            time_of(&parser.parse(&record, &Arc::from("app"), received())).unwrap()
        };
        assert_eq!(
            parse(b"2026-11-26 10:00:00,123 INFO x"),
            "2026-11-26T09:00:00.123Z"
        );
        assert_eq!(
            parse(b"Jul  1 10:00:00 host app: x"),
            "2026-07-01T08:00:00Z"
        );
        assert_eq!(
            parse(b"2026-11-26T10:00:00Z INFO x"),
            "2026-11-26T10:00:00Z"
        );
    }

    /// A small deterministic generator (xorshift), so that failures repeat.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    #[test]
    fn random_bytes_always_give_one_event_with_the_records_identity() {
        // Pieces that steer the parsers into their deeper paths.
        const PIECES: &[&[u8]] = &[
            b"{",
            b"}",
            b"\"",
            b":",
            b"<",
            b">",
            b"[",
            b"]",
            b"=",
            b" ",
            b"\t",
            b"\r",
            b"\\",
            b"-",
            b".",
            b",",
            b"1",
            b"9",
            b"<34>",
            b"<165>1 ",
            b"Oct 11 22:14:15 ",
            b"Feb 29 ",
            b"2026-11-26T10:00:00",
            b"2026-11-26 10:00:00,123",
            b"Z",
            b"+01:00",
            b"081109 203615 ",
            b"17/06/09 20:10:41 ",
            b"[Sun Dec 04 04:47:44 2005] ",
            b"1700000000 ",
            b"INFO ",
            b"[error] ",
            b"E ",
            b"WARN: ",
            b"[main] ",
            b"org.x.Y: ",
            b"host ",
            b"app[12]: ",
            b"level=",
            b"msg=\"",
            b"ts=",
            b"{\"ts\":",
            b"{\"level\":3}",
            b"\xff",
            b"\xc3",
            b"\xe9",
            "\u{feff}".as_bytes(),
            "é".as_bytes(),
        ];
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for case in 0..20_000_u64 {
            let mut bytes = Vec::new();
            for _ in 0..random.below(12) {
                if random.below(3) == 0 {
                    bytes.push(random.next() as u8);
                } else {
                    bytes.extend_from_slice(PIECES[random.below(PIECES.len())]);
                }
            }
            let format = Format::ALL[random.below(Format::ALL.len())];
            let parser = Parser::new(ParserConfig {
                format,
                ..ParserConfig::default()
            });
            let record = RawRecord::new(EventId(case), case + 1, bytes.clone());
            let event = parser.parse(&record, &Arc::from("fuzz"), received());
            assert_eq!(
                (event.id, event.line),
                (EventId(case), case + 1),
                "{bytes:?}"
            );
            assert_eq!(
                event.problem.invalid_utf8,
                std::str::from_utf8(&bytes).is_err(),
                "{bytes:?}"
            );
            if format == Format::Auto || format == Format::Plain {
                assert!(!event.problem.unparsed, "{format}: {bytes:?}");
            }
        }
    }
}
