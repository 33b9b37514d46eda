//! Plain text: whatever a line holds, take out the header that log
//! libraries put in front of the message.
//!
//! Reading left to right:
//!
//! 1. a time stamp (any shape of the `time` module). After a BSD syslog
//!    time the line is read as a syslog header (host, tag, pid), with the
//!    same code as syslog mode; after an ISO time with `T` only when a
//!    `host tag[pid]:` header follows beyond doubt (rsyslog's precise file
//!    format). Neither when a level word follows the time: then the line is
//!    an application's own format;
//! 2. a separator (`-` or `|`), then a process id if a level word follows
//!    it (`081109 203615 148 INFO`, HDFS), kept as the field `procid`;
//! 3. a level word (see `level_word`), then a separator;
//! 4. after a bare level word, a bracketed thread name (`INFO [main]`,
//!    `WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688]`),
//!    kept as the field `thread`, then a separator. After a bracketed level
//!    (`[error] [client 1.2.3.4] ...`, Apache) brackets are message text;
//! 5. after a level word, a Java-style logger name and a colon
//!    (`org.apache.hadoop.mapred.Task:`, `dfs.DataNode$PacketResponder:`),
//!    kept as the field `logger`. It must hold a `.` or `$`, so that the
//!    first word of a message (`Error: ...`) is not taken for one.
//!
//! The rest is the message. A line with neither a time stamp nor a level
//! word is all message, leading spaces included. Plain never rejects a line.

use firewatch_event::Event;
use serde_json::Value;

use crate::level_word::{LevelPosition, LevelWord, scan_level_word};
use crate::syslog::{self, HeaderStrictness};
use crate::time::{TimeContext, TimeShape, scan_leading_time};

/// Longest thread name taken out of a header; longer brackets are text.
const MAX_THREAD_LEN: usize = 256;

/// Longest logger name taken out of a header.
const MAX_LOGGER_LEN: usize = 256;

/// Parses a plain-text line.
pub(crate) fn parse_plain(line: &str, context: &TimeContext<'_>, event: &mut Event) {
    let mut rest = line;
    let mut position = LevelPosition::Start;
    if let Some(leading) = scan_leading_time(line) {
        event.timestamp = context.resolve(leading.written);
        let after_time = &line[leading.len..];
        let strictness = match leading.shape {
            TimeShape::Bsd => Some(HeaderStrictness::Lenient),
            TimeShape::IsoT => Some(HeaderStrictness::Strict),
            TimeShape::Other => None,
        };
        // An application that writes syslog-like times puts its level there.
        let header = strictness
            .filter(|_| {
                scan_level_word(after_time.trim_start(), LevelPosition::AfterTime).is_none()
            })
            .and_then(|strictness| syslog::scan_header(after_time, strictness));
        if let Some(header) = header {
            syslog::apply_header(&header, None, event);
            return;
        }
        rest = skip_separator(after_time);
        position = LevelPosition::AfterTime;
    }
    let level_word = match scan_level_word(rest, position) {
        Some(word) => Some(word),
        None if position == LevelPosition::AfterTime => {
            procid_then_level(rest).map(|(procid, word, after_procid)| {
                event.fields.insert("procid".into(), procid.into());
                rest = after_procid;
                word
            })
        }
        None => None,
    };
    let Some(level_word) = level_word else {
        event.message = rest.to_owned();
        return;
    };
    event.level = level_word.level;
    rest = skip_separator(&rest[level_word.len..]);
    rest = take_thread(rest, &level_word, event);
    rest = take_logger(rest, event);
    event.message = rest.to_owned();
}

/// `148 INFO ...` after a time stamp: a number, then a level word.
fn procid_then_level(text: &str) -> Option<(&str, LevelWord, &str)> {
    let digits = text.bytes().take(11).take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 10 || text.as_bytes().get(digits) != Some(&b' ') {
        return None;
    }
    let after = text[digits..].trim_start_matches(' ');
    let word = scan_level_word(after, LevelPosition::AfterTime)?;
    Some((&text[..digits], word, after))
}

/// Spaces, then an optional `-` or `|` separator and the spaces after it.
fn skip_separator(text: &str) -> &str {
    let text = text.trim_start_matches([' ', '\t']);
    match text.as_bytes() {
        [b'-' | b'|'] => "",
        [b'-' | b'|', b' ' | b'\t', ..] => text[1..].trim_start_matches([' ', '\t']),
        _ => text,
    }
}

/// A bracketed thread name right after a bare level word.
fn take_thread<'a>(text: &'a str, level_word: &LevelWord, event: &mut Event) -> &'a str {
    if level_word.bracketed || !text.starts_with('[') {
        return text;
    }
    let mut depth = 0_usize;
    let close = text.bytes().take(MAX_THREAD_LEN).position(|b| {
        match b {
            b'[' => depth += 1,
            b']' => depth -= 1,
            _ => {}
        }
        depth == 0
    });
    let Some(close) = close else {
        return text;
    };
    event
        .fields
        .insert("thread".into(), Value::String(text[1..close].to_owned()));
    skip_separator(&text[close + 1..])
}

/// `org.apache.hadoop.mapred.Task: ` at the start of the text.
fn take_logger<'a>(text: &'a str, event: &mut Event) -> &'a str {
    let name_len = text
        .bytes()
        .take(MAX_LOGGER_LEN + 1)
        .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'$' | b'_'))
        .count();
    let name = &text[..name_len];
    let after = &text[name_len..];
    let is_logger = name_len <= MAX_LOGGER_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.contains(['.', '$'])
        && !name.ends_with('.')
        && after.strip_prefix(':').is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace())
        });
    if !is_logger {
        return text;
    }
    event.fields.insert("logger".into(), name.into());
    after[1..].trim_start()
}
