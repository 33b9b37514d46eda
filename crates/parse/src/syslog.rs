//! Syslog: RFC 5424, RFC 3164, and the BSD file format of `/var/log/messages`.
//!
//! RFC 5424 lines (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`) are read
//! with `syslog_loose`, which also unescapes structured data.
//!
//! RFC 3164 lines and the BSD file format (the same without `<PRI>`) are read
//! here. `syslog_loose` reads them too, but for files it falls short: it takes
//! a `-` at the start of a message for an empty structured-data element and
//! drops it, it reads the fraction of `Oct 11 22:14:15.123` as part of the
//! host, and its zone handling goes through chrono's local zone. The header
//! is simple enough to read directly: after the time stamp come a host and a
//! tag (`sshd[24200]:`, `sshd(pam_unix)[19939]:`, `kernel:`), then the
//! message. The plain-text parser reuses this for lines that start with a
//! BSD time stamp ([`scan_header`], [`apply_header`]).
//!
//! What an event gets from a syslog line:
//!
//! * `host`: the hostname; `service`: the tag (APP-NAME) as written, e.g.
//!   `sshd(pam_unix)`, so that a tag that carries a module stays apart from
//!   the plain program name;
//! * fields `facility` and `severity` (names such as `auth` and `err`, only
//!   when the line has a `<PRI>`), `procid`, `msgid`, and structured data as
//!   `sd` (`{"id": {"param": "value"}}`), each only when present;
//! * the level: a level word at the start of the message (`ERROR ...`,
//!   `[error] ...`, `warning: ...`, see `level_word`) wins over the PRI
//!   severity, because programs that log through `syslog(3)` or `logger`
//!   often send every line with one fixed priority while the text says what
//!   the line is. Without either, the level is unknown. The message keeps
//!   the word: it is part of what the program wrote.
//!
//! The first word after the time is the host, unless it ends in a colon
//! (`kernel: ...`, as some daemons write local lines): then it is the tag
//! and there is no host.
//!
//! A line with a `<PRI>` but no time stamp after it is not accepted: it is
//! more likely a cut-off line than a sender that omits the time.

use firewatch_event::{Event, Level};
use serde_json::Value;
use syslog_loose::{Message, ProcId, Variant, decompose_pri};

use crate::level_word::{LevelPosition, scan_level_word};
use crate::parser::Rejection;
use crate::time::{TimeContext, TimeShape, scan_leading_time};

/// The highest valid priority: facility 23 (local7), severity 7 (debug).
const MAX_PRIORITY: u8 = 191;

/// Tags longer than this are taken for message text. RFC 3164 allows 32
/// characters; real programs use a few more (`systemd-networkd-wait-online`).
const MAX_TAG_LEN: usize = 64;

/// How sure we are that a syslog header follows the time stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderStrictness {
    /// After a BSD time stamp or in syslog mode: whatever follows is a
    /// header, as syslog daemons read it.
    Lenient,
    /// After an ISO time stamp in plain text, where an application's own
    /// format is as likely: only `HOST TAG[PID]: ` or `HOST TAG: ` counts,
    /// and the host must not be a level word.
    Strict,
}

/// The parts of a BSD syslog header after the time stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BsdHeader<'a> {
    pub(crate) host: Option<&'a str>,
    pub(crate) tag: Option<&'a str>,
    pub(crate) procid: Option<&'a str>,
    pub(crate) message: &'a str,
}

/// Parses a syslog line (RFC 5424, RFC 3164, BSD file format).
pub(crate) fn parse_syslog(
    line: &str,
    context: &TimeContext<'_>,
    event: &mut Event,
) -> Result<(), Rejection> {
    let (priority, rest) = match line.strip_prefix('<') {
        Some(after) => {
            let (priority, rest) = split_priority(after).ok_or(Rejection::SyslogPriority)?;
            (Some(priority), rest)
        }
        None => (None, line),
    };
    if let Some(priority) = priority.filter(|_| starts_with_version(rest)) {
        return parse_rfc5424(line, priority, event);
    }
    let rest = rest.trim_start_matches(' ');
    let leading = scan_leading_time(rest)
        .filter(|leading| leading.shape != TimeShape::Other)
        .ok_or(Rejection::SyslogTime)?;
    let header = scan_header(&rest[leading.len..], HeaderStrictness::Lenient)
        .ok_or(Rejection::SyslogHeader)?;
    event.timestamp = context.resolve(leading.written);
    apply_header(&header, priority, event);
    Ok(())
}

/// Reads `HOST TAG[PID]: MESSAGE` (with its leading space) after a time stamp.
pub(crate) fn scan_header(after_time: &str, strictness: HeaderStrictness) -> Option<BsdHeader<'_>> {
    let mut header = BsdHeader {
        host: None,
        tag: None,
        procid: None,
        message: "",
    };
    if after_time.is_empty() {
        return (strictness == HeaderStrictness::Lenient).then_some(header);
    }
    let rest = after_time.strip_prefix(' ')?.trim_start_matches(' ');
    let (first, after_first) = split_word(rest);
    // A line written by the local daemon may lack a host: `kernel: ...`.
    if let Some(tag) = scan_tag(rest, strictness).filter(|tag| tag.has_colon) {
        header.tag = Some(tag.name);
        header.procid = tag.procid;
        header.message = tag.message;
        return (strictness == HeaderStrictness::Lenient).then_some(header);
    }
    if strictness == HeaderStrictness::Strict && !is_plausible_host(first) {
        return None;
    }
    header.host = Some(first).filter(|host| !host.is_empty());
    let rest = after_first.trim_start_matches(' ');
    match scan_tag(rest, strictness) {
        Some(tag) => {
            header.tag = Some(tag.name);
            header.procid = tag.procid;
            header.message = tag.message;
        }
        None if strictness == HeaderStrictness::Strict => return None,
        None => header.message = rest,
    }
    Some(header)
}

/// Fills an event from a BSD header and an optional priority.
pub(crate) fn apply_header(header: &BsdHeader<'_>, priority: Option<u8>, event: &mut Event) {
    event.host = header.host.map(str::to_owned);
    event.service = header.tag.map(str::to_owned);
    if let Some(procid) = header.procid {
        event.fields.insert("procid".into(), procid.into());
    }
    apply_priority(priority, header.message, event);
    event.message = header.message.to_owned();
}

/// Sets the facility and severity fields and the level (see the module
/// documentation for why the message's own level word wins).
fn apply_priority(priority: Option<u8>, message: &str, event: &mut Event) {
    let mut severity_level = None;
    if let Some(priority) = priority {
        let (facility, severity) = decompose_pri(priority);
        if let Some(facility) = facility {
            event
                .fields
                .insert("facility".into(), facility.as_str().into());
        }
        if let Some(severity) = severity {
            event
                .fields
                .insert("severity".into(), severity.as_str().into());
            severity_level = Level::from_syslog_severity(severity as u8);
        }
    }
    event.level = scan_level_word(message, LevelPosition::Start)
        .map(|word| word.level)
        .or(severity_level)
        .unwrap_or_default();
}

fn parse_rfc5424(line: &str, priority: u8, event: &mut Event) -> Result<(), Rejection> {
    // RFC 5424 time stamps always carry a year and a zone: the year
    // resolver is never asked.
    let message: Message<&str> =
        syslog_loose::parse_message_with_year_exact(line, |_| 1970, Variant::RFC5424)
            .map_err(|_| Rejection::Rfc5424Header)?;
    event.timestamp = message.timestamp.and_then(|stamp| {
        let nanos = i32::try_from(stamp.timestamp_subsec_nanos()).ok()?;
        jiff::Timestamp::new(stamp.timestamp(), nanos).ok()
    });
    event.host = message.hostname.map(str::to_owned);
    event.service = message.appname.map(str::to_owned);
    match message.procid {
        Some(ProcId::PID(pid)) => event.fields.insert("procid".into(), pid.to_string().into()),
        Some(ProcId::Name(name)) => event.fields.insert("procid".into(), name.into()),
        None => None,
    };
    if let Some(msgid) = message.msgid {
        event.fields.insert("msgid".into(), msgid.into());
    }
    if !message.structured_data.is_empty() {
        let mut elements = serde_json::Map::new();
        for element in &message.structured_data {
            let params: serde_json::Map<String, Value> = element
                .params()
                .map(|(name, value)| (name.to_string(), Value::String(value)))
                .collect();
            elements.insert(element.id.to_owned(), Value::Object(params));
        }
        event.fields.insert("sd".into(), Value::Object(elements));
    }
    // RFC 5424 allows a byte order mark before a UTF-8 message.
    let text = message.msg.strip_prefix('\u{feff}').unwrap_or(message.msg);
    apply_priority(Some(priority), text, event);
    event.message = text.to_owned();
    Ok(())
}

/// `NNN>` after the `<`: the priority and what follows.
fn split_priority(after_bracket: &str) -> Option<(u8, &str)> {
    let digits = after_bracket
        .bytes()
        .take(4)
        .take_while(u8::is_ascii_digit)
        .count();
    if !(1..=3).contains(&digits) || after_bracket.as_bytes().get(digits) != Some(&b'>') {
        return None;
    }
    let priority: u8 = after_bracket[..digits].parse().ok()?;
    (priority <= MAX_PRIORITY).then(|| (priority, &after_bracket[digits + 1..]))
}

/// RFC 5424 puts a version number and a space right after the priority.
fn starts_with_version(rest: &str) -> bool {
    let digits = rest.bytes().take(3).take_while(u8::is_ascii_digit).count();
    (1..=2).contains(&digits) && rest.as_bytes().get(digits) == Some(&b' ')
}

/// The first space-separated word and what follows it.
fn split_word(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(text.len());
    text.split_at(end)
}

fn is_plausible_host(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
        && Level::parse(word).is_none()
}

/// A tag and the message after it.
struct Tag<'a> {
    name: &'a str,
    procid: Option<&'a str>,
    has_colon: bool,
    message: &'a str,
}

/// `name[pid]: message`, `name: message`, or (lenient only) `name message`
/// where the name is a word of letters and digits (`syslogd 1.4.1: restart.`).
fn scan_tag(text: &str, strictness: HeaderStrictness) -> Option<Tag<'_>> {
    let name_len = text
        .bytes()
        .take(MAX_TAG_LEN + 1)
        .take_while(|&b| !b.is_ascii_whitespace() && b != b'[' && b != b':')
        .count();
    if name_len == 0 || name_len > MAX_TAG_LEN {
        return None;
    }
    let (name, mut rest) = text.split_at(name_len);
    let mut procid = None;
    if let Some(after_bracket) = rest.strip_prefix('[') {
        let close = after_bracket.find(']')?;
        let id = &after_bracket[..close];
        if id.is_empty() || id.contains(|c: char| c.is_ascii_whitespace()) {
            return None;
        }
        procid = Some(id);
        rest = &after_bracket[close + 1..];
    }
    let has_colon = match rest.strip_prefix(':') {
        Some(after) if after.is_empty() || after.starts_with(|c: char| c.is_ascii_whitespace()) => {
            rest = after;
            true
        }
        _ => false,
    };
    if !has_colon {
        let ends_word = rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace());
        let simple_name = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && name.as_bytes()[0].is_ascii_alphabetic();
        let accepted = match strictness {
            HeaderStrictness::Strict => false,
            HeaderStrictness::Lenient => ends_word && (procid.is_some() || simple_name),
        };
        if !accepted {
            return None;
        }
    }
    Some(Tag {
        name,
        procid,
        has_colon,
        message: rest.trim_start_matches([' ', '\t']),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use HeaderStrictness::{Lenient, Strict};

    fn header<'a>(
        host: Option<&'a str>,
        tag: Option<&'a str>,
        procid: Option<&'a str>,
        message: &'a str,
    ) -> BsdHeader<'a> {
        BsdHeader {
            host,
            tag,
            procid,
            message,
        }
    }

    #[test]
    fn bsd_headers_as_daemons_write_them() {
        for (after_time, expected) in [
            (
                " combo sshd(pam_unix)[19939]: check pass; user unknown",
                header(
                    Some("combo"),
                    Some("sshd(pam_unix)"),
                    Some("19939"),
                    "check pass; user unknown",
                ),
            ),
            (
                " LabSZ sshd[24200]: Invalid user webmaster",
                header(
                    Some("LabSZ"),
                    Some("sshd"),
                    Some("24200"),
                    "Invalid user webmaster",
                ),
            ),
            (
                " combo kernel: Linux version 2.6.5",
                header(Some("combo"), Some("kernel"), None, "Linux version 2.6.5"),
            ),
            (
                " combo syslogd 1.4.1: restart.",
                header(Some("combo"), Some("syslogd"), None, "1.4.1: restart."),
            ),
            (
                " combo  -- root[2421]: ROOT LOGIN ON tty2",
                header(
                    Some("combo"),
                    None,
                    None,
                    "-- root[2421]: ROOT LOGIN ON tty2",
                ),
            ),
            (
                " host -- MARK --",
                header(Some("host"), None, None, "-- MARK --"),
            ),
            (
                " host app: - leading dash kept",
                header(Some("host"), Some("app"), None, "- leading dash kept"),
            ),
            (
                " host app[12]:",
                header(Some("host"), Some("app"), Some("12"), ""),
            ),
            (
                " kernel: no host here",
                header(None, Some("kernel"), None, "no host here"),
            ),
            (" host", header(Some("host"), None, None, "")),
            ("", header(None, None, None, "")),
        ] {
            assert_eq!(
                scan_header(after_time, Lenient),
                Some(expected),
                "{after_time:?}"
            );
        }
    }

    #[test]
    fn strict_headers_need_host_tag_and_colon() {
        assert_eq!(
            scan_header(" web-1 nginx[12]: GET /", Strict),
            Some(header(Some("web-1"), Some("nginx"), Some("12"), "GET /"))
        );
        assert_eq!(
            scan_header(" web-1 app: started", Strict),
            Some(header(Some("web-1"), Some("app"), None, "started"))
        );
        for after_time in [
            " ERROR [main] foo.Bar: x",
            " INFO app: x",
            " [main] foo.Bar: x",
            " web-1 started the thing",
            " kernel: no host",
            "",
            "x",
        ] {
            assert_eq!(scan_header(after_time, Strict), None, "{after_time:?}");
        }
    }

    #[test]
    fn priorities_are_validated() {
        assert_eq!(split_priority("34>rest"), Some((34, "rest")));
        assert_eq!(split_priority("191>"), Some((191, "")));
        for bad in ["192>", "999>", ">", "1234>", "34", "x>"] {
            assert_eq!(split_priority(bad), None, "{bad}");
        }
    }
}
