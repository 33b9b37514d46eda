//! Joining continuation lines (stack traces) onto the record they belong to.
//!
//! A program that logs an exception writes one log line and then the trace,
//! line by line. Searching and alerting want them as one event, so the
//! [`Joiner`] sits between the line splitter and the parser and appends
//! every continuation line to the record before it.
//!
//! A line continues the record before it when:
//!
//! * it starts with a space or a tab (Java `\tat ...`, Python `  File "..."`,
//!   Go `\t/src/main.go:12 +0x1d`, wrapped messages);
//! * it starts with `at ` and ends with `)` (a Java frame without its tab),
//!   `Caused by: `, `Suppressed: `, or `... N more`;
//! * it is a Java exception header such as
//!   `java.lang.IllegalStateException: boom` (a dotted name ending in
//!   `Exception`, `Error` or `Throwable`), as loggers print it after the
//!   line that logged it;
//! * it is `Traceback (most recent call last):`, or, inside a Python
//!   traceback, the exception line that ends it (`ValueError: bad input`);
//! * after a Go `panic:` or `fatal error:` line, it is `[signal ...]` or
//!   `goroutine N [state]:`; inside a goroutine dump, a frame
//!   (`main.main()`) or `created by ...`.
//!
//! An empty or blank line never continues a record, and a blank record is
//! never continued. Go prints a blank line between `panic: ...` and the
//! goroutine dump, so there the panic line and the dump become two events
//! (the dump starting at `goroutine 1 [running]:`); collectors that drop
//! blank lines get one.
//!
//! Joined records keep the first record's id, line number and peer, have
//! their lines separated by `\n` (the `\r` of CRLF lines is dropped when
//! joining), and are marked `truncated` if any line was. A record stops
//! growing at [`MultilineConfig::max_lines`] lines or
//! [`MultilineConfig::max_bytes`] bytes: further continuation lines are
//! still recognised and swallowed, so that the rest of one stack trace does
//! not turn into hundreds of events, but their bytes are dropped and the
//! record is marked `truncated`.

use firewatch_event::RawRecord;

/// Limits of a joined record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultilineConfig {
    /// Most lines kept in one record, the first included. Default 500.
    pub max_lines: usize,
    /// Most bytes kept in one record, separators included. Default 1 MiB.
    pub max_bytes: usize,
}

impl Default for MultilineConfig {
    fn default() -> Self {
        Self {
            max_lines: 500,
            max_bytes: 1 << 20,
        }
    }
}

/// Joins continuation lines onto the record before them, for one stream.
///
/// Feed it a stream's records in order with [`push`](Joiner::push); it
/// hands back each record once the next one shows that it is complete.
/// Call [`flush`](Joiner::flush) at the end of the input, or when the
/// stream has been quiet for a while, to get the record it still holds.
#[derive(Debug)]
pub struct Joiner {
    config: MultilineConfig,
    pending: Option<Pending>,
}

/// The record being built, and what kind of trace it is in.
#[derive(Debug)]
struct Pending {
    record: RawRecord,
    lines: usize,
    /// A limit was hit: continuation lines are counted but not kept.
    capped: bool,
    trace: Trace,
}

/// The kind of trace a record holds, where that changes which lines
/// continue it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trace {
    None,
    GoPanic,
    GoStack,
    PythonTraceback,
}

impl Joiner {
    /// A joiner with the given limits.
    pub fn new(config: MultilineConfig) -> Self {
        Self {
            config,
            pending: None,
        }
    }

    /// Feeds the next record of a stream. Returns the previous record once
    /// it is complete (this one is not a continuation of it).
    pub fn push(&mut self, record: RawRecord) -> Option<RawRecord> {
        if let Some(pending) = &mut self.pending {
            let record_is_blank = pending.lines == 1 && is_blank(strip_cr(&pending.record.bytes));
            if let Some(trace) = continues(pending.trace, record_is_blank, &record.bytes) {
                pending.append(record, trace, &self.config);
                return None;
            }
        }
        let started = Pending {
            trace: trace_started_by(strip_cr(&record.bytes)),
            record,
            lines: 1,
            capped: false,
        };
        self.pending.replace(started).map(|pending| pending.record)
    }

    /// Ends the pending record (end of input or a quiet period).
    pub fn flush(&mut self) -> Option<RawRecord> {
        self.pending.take().map(|pending| pending.record)
    }

    /// The line number where the pending record starts, if one is pending.
    pub fn pending_line(&self) -> Option<u64> {
        self.pending.as_ref().map(|pending| pending.record.line)
    }
}

impl Pending {
    fn append(&mut self, record: RawRecord, trace: Trace, config: &MultilineConfig) {
        self.lines += 1;
        self.trace = trace;
        self.record.truncated |= record.truncated;
        let line = strip_cr(&record.bytes);
        let joined_len = self.record.bytes.len() + 1 + line.len();
        if self.capped || self.lines > config.max_lines || joined_len > config.max_bytes {
            self.capped = true;
            self.record.truncated = true;
            return;
        }
        if self.record.bytes.last() == Some(&b'\r') {
            self.record.bytes.pop();
        }
        self.record.bytes.push(b'\n');
        self.record.bytes.extend_from_slice(line);
    }
}

/// The trace kind a record's first line opens.
fn trace_started_by(line: &[u8]) -> Trace {
    if line.starts_with(b"panic: ") || line.starts_with(b"fatal error: ") {
        Trace::GoPanic
    } else if is_goroutine_header(line) {
        Trace::GoStack
    } else if line == b"Traceback (most recent call last):" {
        Trace::PythonTraceback
    } else {
        Trace::None
    }
}

/// Whether `line` continues a record in the `trace` state, and the trace
/// state after it.
fn continues(trace: Trace, record_is_blank: bool, line: &[u8]) -> Option<Trace> {
    let line = strip_cr(line);
    if is_blank(line) || record_is_blank {
        return None;
    }
    if matches!(line[0], b' ' | b'\t')
        || line.starts_with(b"Caused by: ")
        || line.starts_with(b"Suppressed: ")
        || is_java_frame(line)
        || is_omitted_frames(line)
        || is_java_exception_header(line)
    {
        return Some(trace);
    }
    if line == b"Traceback (most recent call last):" {
        return Some(Trace::PythonTraceback);
    }
    match trace {
        Trace::PythonTraceback if is_python_exception(line) => Some(Trace::None),
        Trace::GoPanic if is_goroutine_header(line) => Some(Trace::GoStack),
        Trace::GoPanic if line.starts_with(b"[signal ") => Some(Trace::GoPanic),
        Trace::GoStack if is_go_frame(line) || line.starts_with(b"created by ") => {
            Some(Trace::GoStack)
        }
        _ => None,
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// `at com.example.App.main(App.java:10)` without its indentation.
fn is_java_frame(line: &[u8]) -> bool {
    line.starts_with(b"at ") && line.contains(&b'(') && line.ends_with(b")")
}

/// `... 12 more`
fn is_omitted_frames(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"... ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && &rest[digits..] == b" more"
}

/// The name before the first `:` (or the whole line), when it is a dotted
/// identifier such as `java.lang.IllegalStateException` or `ValueError`,
/// and the colon is followed by a space or ends the line.
fn exception_name(line: &[u8]) -> Option<&[u8]> {
    let name_len = line.iter().position(|&b| b == b':').unwrap_or(line.len());
    let (name, after) = line.split_at(name_len);
    let identifier = name
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'));
    let separated = after.is_empty() || after == b":" || after.starts_with(b": ");
    (identifier && separated).then_some(name)
}

fn is_java_exception_header(line: &[u8]) -> bool {
    exception_name(line).is_some_and(|name| {
        name.contains(&b'.')
            && [&b"Exception"[..], b"Error", b"Throwable"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
    })
}

fn is_python_exception(line: &[u8]) -> bool {
    exception_name(line).is_some()
}

/// `goroutine 1 [running]:`
fn is_goroutine_header(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"goroutine ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest[digits..].starts_with(b" [") && rest.ends_with(b"]:")
}

/// `main.main()`, `main.(*Server).Serve(0xc000010000)`, `panic({0x4a2b60?, 0xc0000a0000?})`
fn is_go_frame(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b'(') {
        Some(open) => open > 0 && !line[..open].contains(&b' ') && line.ends_with(b")"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use firewatch_event::EventId;

    use super::*;

    fn records(text: &str) -> Vec<RawRecord> {
        text.split('\n')
            .enumerate()
            .map(|(index, line)| {
                let number = index as u64 + 1;
                RawRecord::new(EventId(number), number, line.as_bytes().to_vec())
            })
            .collect()
    }

    fn join_all(config: MultilineConfig, input: Vec<RawRecord>) -> Vec<RawRecord> {
        let mut joiner = Joiner::new(config);
        let mut output: Vec<RawRecord> = input.into_iter().filter_map(|r| joiner.push(r)).collect();
        output.extend(joiner.flush());
        assert_eq!(joiner.flush(), None, "a second flush has nothing left");
        output
    }

    /// The joined texts and the line each starts at.
    fn joined(text: &str) -> Vec<(u64, String)> {
        join_all(MultilineConfig::default(), records(text))
            .into_iter()
            .map(|record| (record.line, String::from_utf8(record.bytes).unwrap()))
            .collect()
    }

    #[test]
    fn java_stack_trace_with_cause() {
        let text = "\
2026-11-26 10:00:00,123 ERROR [main] com.example.App: request failed
java.lang.IllegalStateException: boom
\tat com.example.App.handle(App.java:42)
\tat com.example.App.main(App.java:10)
Caused by: java.io.IOException: Broken pipe
at java.base/sun.nio.ch.IOUtil.write(IOUtil.java:62)
\t... 2 more
2026-11-26 10:00:01,000 INFO [main] com.example.App: next";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            joined(text),
            vec![(1, lines[..7].join("\n")), (8, lines[7].to_owned())]
        );
    }

    #[test]
    fn python_traceback_ends_at_the_exception_line() {
        let text = "\
ERROR:root:job failed
Traceback (most recent call last):
  File \"job.py\", line 3, in <module>
    run()
ValueError: bad input
KeyError: 'not part of the traceback'
INFO:root:next";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            joined(text),
            vec![
                (1, lines[..5].join("\n")),
                (6, lines[5].to_owned()),
                (7, lines[6].to_owned()),
            ]
        );
    }

    #[test]
    fn go_panic_with_and_without_the_blank_line() {
        let dump = "\
goroutine 1 [running]:
main.(*Server).handle(0xc000010000, {0x4a2b60?, 0xc0000a0000?})
\t/src/server.go:42 +0x1d
created by main.main in goroutine 1
\t/src/main.go:12 +0x45";
        let without_blank = format!(
            "panic: runtime error: index out of range\n[signal SIGSEGV: segmentation violation]\n{dump}\nexit status 2"
        );
        let lines: Vec<&str> = without_blank.lines().collect();
        assert_eq!(
            joined(&without_blank),
            vec![(1, lines[..7].join("\n")), (8, "exit status 2".to_owned())]
        );
        let with_blank = format!("panic: boom\n\n{dump}\n\ngoroutine 7 [select]:\nmain.worker()");
        assert_eq!(
            joined(&with_blank),
            vec![
                (1, "panic: boom".to_owned()),
                (2, String::new()),
                (3, dump.to_owned()),
                (8, String::new()),
                (9, "goroutine 7 [select]:\nmain.worker()".to_owned()),
            ]
        );
    }

    #[test]
    fn ordinary_lines_stay_apart_and_blank_lines_join_nothing() {
        let text = "first\nsecond: at noon\nat the end of the day\n\n  indented after blank\nValueError: not in a traceback\nmain.main()";
        assert_eq!(
            joined(text),
            vec![
                (1, "first".to_owned()),
                (2, "second: at noon".to_owned()),
                (3, "at the end of the day".to_owned()),
                (4, String::new()),
                (5, "  indented after blank".to_owned()),
                (6, "ValueError: not in a traceback".to_owned()),
                (7, "main.main()".to_owned()),
            ]
        );
        assert_eq!(
            joined("  \n\tat x.y(Z.java:1)"),
            vec![(1, "  ".to_owned()), (2, "\tat x.y(Z.java:1)".to_owned())]
        );
    }

    #[test]
    fn crlf_is_dropped_when_joining_and_flags_carry_over() {
        let mut input = records("head\r\n\tat a.b(C.java:1)\r\nnext\r");
        input[1].truncated = true;
        input[0].peer_host = Some("10.0.0.1".into());
        let output = join_all(MultilineConfig::default(), input);
        assert_eq!(output.len(), 2);
        assert_eq!(output[0].bytes, b"head\n\tat a.b(C.java:1)");
        assert!(output[0].truncated);
        assert_eq!(output[0].id, EventId(1));
        assert_eq!(output[0].peer_host.as_deref(), Some("10.0.0.1"));
        assert_eq!(
            output[1].bytes, b"next\r",
            "a record that is not joined keeps its bytes"
        );
        assert!(!output[1].truncated);
    }

    #[test]
    fn limits_cut_the_record_but_swallow_the_rest_of_the_trace() {
        let text = "head\n\tat 1\n\tat 2\n\tat 3\n\tat 4\nnext";
        let config = MultilineConfig {
            max_lines: 3,
            max_bytes: 1 << 20,
        };
        let output = join_all(config, records(text));
        assert_eq!(output.len(), 2);
        assert_eq!(output[0].bytes, b"head\n\tat 1\n\tat 2");
        assert!(output[0].truncated);
        assert_eq!(output[1].bytes, b"next");

        let config = MultilineConfig {
            max_lines: 500,
            max_bytes: 16,
        };
        let output = join_all(config, records(text));
        assert_eq!(output.len(), 2);
        assert_eq!(
            output[0].bytes, b"head\n\tat 1\n\tat 2",
            "16 bytes fit, 22 would not"
        );
        assert!(output[0].truncated);
    }

    #[test]
    fn pending_line_follows_the_record_being_built() {
        let mut joiner = Joiner::new(MultilineConfig::default());
        assert_eq!(joiner.pending_line(), None);
        let mut input = records("a\n\tb\nc").into_iter();
        assert_eq!(joiner.push(input.next().unwrap()), None);
        assert_eq!(joiner.push(input.next().unwrap()), None);
        assert_eq!(joiner.pending_line(), Some(1));
        assert_eq!(joiner.push(input.next().unwrap()).unwrap().line, 1);
        assert_eq!(joiner.pending_line(), Some(3));
        assert_eq!(joiner.flush().unwrap().line, 3);
        assert_eq!(joiner.pending_line(), None);
    }

    /// A naive twin of the streaming joiner: group all lines first, then
    /// join each group. The joiner must agree with it, and flushing at any
    /// record boundary must not change the outcome.
    fn group_naively(lines: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut groups: Vec<(Trace, Vec<&[u8]>)> = Vec::new();
        for &line in lines {
            let continued = groups
                .last()
                .and_then(|(trace, group)| continues(*trace, is_blank(strip_cr(group[0])), line));
            match (continued, groups.last_mut()) {
                (Some(trace), Some(last)) => {
                    last.0 = trace;
                    last.1.push(line);
                }
                _ => groups.push((trace_started_by(strip_cr(line)), vec![line])),
            }
        }
        groups
            .into_iter()
            .map(|(_, group)| {
                if group.len() == 1 {
                    return group[0].to_vec();
                }
                let lines: Vec<&[u8]> = group.into_iter().map(strip_cr).collect();
                lines.join(&b'\n')
            })
            .collect()
    }

    #[test]
    fn streaming_agrees_with_grouping_whatever_the_flush_points() {
        let text = "\
start\r
\tat a.b(C.java:1)\r
java.lang.RuntimeException: x
plain line

Traceback (most recent call last):
  File \"x.py\", line 1
OSError: gone
panic: boom
goroutine 3 [running]:
main.f()
\t/x.go:1
done\r";
        let input = records(text);
        let lines: Vec<&[u8]> = input.iter().map(|record| &record.bytes[..]).collect();
        let expected = group_naively(&lines);
        assert_eq!(expected.len(), 6);

        let bytes_of = |output: Vec<RawRecord>| -> Vec<Vec<u8>> {
            output.into_iter().map(|record| record.bytes).collect()
        };
        assert_eq!(
            bytes_of(join_all(MultilineConfig::default(), input.clone())),
            expected
        );

        let mut boundaries = Vec::new();
        let mut joiner = Joiner::new(MultilineConfig::default());
        for (index, record) in input.iter().cloned().enumerate() {
            if joiner.push(record).is_some() {
                boundaries.push(index);
            }
        }
        assert_eq!(boundaries.len(), expected.len() - 1);
        for flush_before in boundaries {
            let mut joiner = Joiner::new(MultilineConfig::default());
            let mut output = Vec::new();
            for (index, record) in input.iter().cloned().enumerate() {
                if index == flush_before {
                    output.extend(joiner.flush());
                }
                output.extend(joiner.push(record));
            }
            output.extend(joiner.flush());
            assert_eq!(
                bytes_of(output),
                expected,
                "flushed before record {flush_before}"
            );
        }
    }
}
