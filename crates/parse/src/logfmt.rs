//! logfmt: `key=value key2="quoted value"` pairs, as Heroku, Grafana,
//! Prometheus and Go's `log/slog` text handler write them.
//!
//! Keys run up to `=`, a space or a quote. Values are bare (up to the next
//! space; `a=b=c` has the value `b=c`) or quoted, where `\"`, `\\`, `\n`,
//! `\r` and `\t` are escapes and any other backslash stays as written. A
//! quote left open runs to the end of the line. A word without `=` is a
//! flag and becomes the field `true`. Values stay strings (`status=503` is
//! `"503"`): logfmt has no types, and guessing them would make the same key
//! a number on one line and a string on the next.
//!
//! The well-known keys are the same as in JSON (see `known_keys`). A line
//! without a single `key=value` pair is rejected.

use std::borrow::Cow;

use firewatch_event::Event;
use serde_json::Value;

use crate::known_keys::KnownKeys;
use crate::parser::Rejection;
use crate::time::TimeContext;

/// Parses a logfmt line.
pub(crate) fn parse_logfmt(
    line: &str,
    context: &TimeContext<'_>,
    event: &mut Event,
) -> Result<(), Rejection> {
    let mut keys = KnownKeys::new();
    let mut pairs = 0;
    for token in Tokens::new(line) {
        match token {
            Token::Pair(key, value) => {
                pairs += 1;
                keys.insert(Cow::Borrowed(key), Value::String(value.into_owned()));
            }
            Token::Flag(key) => keys.insert(Cow::Borrowed(key), Value::Bool(true)),
            Token::Malformed => {}
        }
    }
    if pairs == 0 {
        return Err(Rejection::NoLogfmtPair);
    }
    keys.fill_event(line, context, event);
    Ok(())
}

/// Whether a line is logfmt beyond doubt: it starts with two `key=value`
/// pairs whose keys are identifiers (`ts=... level=...`). Plain text with
/// an `=` somewhere (`user=bob logged in`) does not qualify.
pub(crate) fn looks_like_logfmt(line: &str) -> bool {
    let is_identifier = |key: &str| {
        key.bytes().enumerate().all(|(index, b)| {
            b.is_ascii_alphabetic()
                || b == b'_'
                || b == b'@'
                || (index > 0 && (b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'/')))
        })
    };
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '@') {
        return false;
    }
    let mut tokens = Tokens::new(line);
    (0..2).all(|_| matches!(tokens.next(), Some(Token::Pair(key, _)) if is_identifier(key)))
}

/// One item of a logfmt line.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Pair(&'a str, Cow<'a, str>),
    Flag(&'a str),
    /// Something that is neither (`=value`, a stray quoted string); skipped.
    Malformed,
}

/// The items of a logfmt line, left to right.
struct Tokens<'a> {
    line: &'a str,
    position: usize,
}

impl<'a> Tokens<'a> {
    fn new(line: &'a str) -> Self {
        Self { line, position: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.line[self.position..]
    }

    /// Moves past a quoted string starting at the current position (which
    /// holds the opening quote) and returns its unescaped content.
    fn quoted(&mut self) -> Cow<'a, str> {
        let body = &self.rest()[1..];
        let mut escaped = false;
        let mut has_escapes = false;
        let mut end = None;
        for (index, byte) in body.bytes().enumerate() {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => {
                    escaped = true;
                    has_escapes = true;
                }
                b'"' => {
                    end = Some(index);
                    break;
                }
                _ => {}
            }
        }
        let (content, consumed) = match end {
            Some(end) => (&body[..end], end + 2),
            None => (body, body.len() + 1),
        };
        self.position += consumed;
        if has_escapes {
            Cow::Owned(unescape(content))
        } else {
            Cow::Borrowed(content)
        }
    }

    /// Moves past the bare word at the current position and returns it.
    fn bare(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        self.position += end;
        &rest[..end]
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = self.rest();
        self.position += rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let rest = self.rest();
        let first = *rest.as_bytes().first()?;
        if first == b'"' {
            self.quoted();
            return Some(Token::Malformed);
        }
        if first == b'=' {
            self.bare();
            return Some(Token::Malformed);
        }
        let key_len = rest.find([' ', '\t', '=', '"']).unwrap_or(rest.len());
        let key = &rest[..key_len];
        self.position += key_len;
        match self.rest().as_bytes().first() {
            Some(b'=') => {
                self.position += 1;
                let value = if self.rest().starts_with('"') {
                    self.quoted()
                } else {
                    Cow::Borrowed(self.bare())
                };
                Some(Token::Pair(key, value))
            }
            // `key"junk"`: not logfmt; skip the rest of the word.
            Some(b'"') => {
                self.bare();
                Some(Token::Malformed)
            }
            _ => Some(Token::Flag(key)),
        }
    }
}

fn unescape(content: &str) -> String {
    let mut unescaped = String::with_capacity(content.len());
    let mut chars = content.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            unescaped.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => unescaped.push('"'),
            Some('\\') => unescaped.push('\\'),
            Some('n') => unescaped.push('\n'),
            Some('r') => unescaped.push('\r'),
            Some('t') => unescaped.push('\t'),
            Some(other) => {
                unescaped.push('\\');
                unescaped.push(other);
            }
            None => unescaped.push('\\'),
        }
    }
    unescaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(line: &str) -> Vec<Token<'_>> {
        Tokens::new(line).collect()
    }

    fn pair<'a>(key: &'a str, value: &'a str) -> Token<'a> {
        Token::Pair(key, Cow::Borrowed(value))
    }

    #[test]
    fn pairs_quotes_escapes_and_flags() {
        assert_eq!(
            tokens(r#"a=1 b="two words"  c= d=x=y flag e="say \"hi\"\n\\ \q""#),
            vec![
                pair("a", "1"),
                pair("b", "two words"),
                pair("c", ""),
                pair("d", "x=y"),
                Token::Flag("flag"),
                pair("e", "say \"hi\"\n\\ \\q"),
            ]
        );
        assert_eq!(
            tokens(r#"msg="open to the end"#),
            vec![pair("msg", "open to the end")]
        );
        assert_eq!(
            tokens(r#"msg="ends in backslash\"#),
            vec![pair("msg", "ends in backslash\\")]
        );
        assert_eq!(tokens("k=\"\" x=é"), vec![pair("k", ""), pair("x", "é")]);
    }

    #[test]
    fn malformed_items_are_skipped() {
        assert_eq!(
            tokens(r#"=v "quoted junk" k"x" ok=1"#),
            vec![
                Token::Malformed,
                Token::Malformed,
                Token::Malformed,
                pair("ok", "1")
            ]
        );
        assert_eq!(tokens("   "), vec![]);
    }

    #[test]
    fn only_lines_starting_with_two_pairs_look_like_logfmt() {
        assert!(looks_like_logfmt(
            "ts=2026-11-26T10:00:00Z level=info msg=hi"
        ));
        assert!(looks_like_logfmt(r#"level=warn msg="disk low""#));
        assert!(looks_like_logfmt("@t=1 log.level=x"));
        assert!(!looks_like_logfmt("user=bob logged in"));
        assert!(!looks_like_logfmt(" level=info msg=hi"));
        assert!(!looks_like_logfmt("1a=b c=d"));
        assert!(!looks_like_logfmt("a=b c d=e"));
        assert!(!looks_like_logfmt("GET /index?a=b&c=d HTTP/1.1"));
        assert!(!looks_like_logfmt(""));
    }
}
