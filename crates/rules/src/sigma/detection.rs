//! Sigma `detection:` sections, translated into condition trees.
//!
//! A selection that is a map is the AND of its field items, a list of maps
//! the OR of the maps, and a list of plain values (or a `'|all'` key) a
//! keyword search of the message. A field item is `field|modifier|...:
//! values`, the values OR'd (AND'd with `|all`).
//!
//! Plain values match as Sigma says: whole value, case-insensitive, `*`
//! and `?` wildcards (`\` escapes them). They become the cheapest
//! firewatch condition that matches the same: keywords of the prefilter
//! for a message that must contain a text, `in` for exact values without
//! letters (or `|cased`), and otherwise one case-insensitive regex for all
//! the values of an item.

use serde_saphyr::{Location, Spanned};

use crate::compile::Problems;
use crate::limits::{MAX_KEYWORD_BYTES, MAX_REGEX_BYTES};
use crate::syntax::{ConditionSpec, KeywordSpec, Literal, TextList, place, scalar_source};

use super::{LogSource, Node, expression, join, mapping, negate, spanned};

/// The condition of a detection, narrowed by its log source; `None` when
/// it has a problem (reported).
pub(crate) fn translate(
    detection: &Spanned<Node>,
    log_source: Option<&Spanned<LogSource>>,
    problems: &mut Problems<'_>,
) -> Option<Spanned<ConditionSpec>> {
    let Node::Map(entries) = &detection.value else {
        problems.at(
            place(detection),
            "detection must be a mapping of selections and a condition",
        );
        return None;
    };
    let mut selections = Vec::new();
    let mut condition = None;
    for (key, value) in entries {
        match key.value.as_str() {
            "condition" => condition = Some(value),
            "timeframe" => problems.unsupported(
                place(key),
                "timeframe is not supported: write a correlation rule with a timespan",
            ),
            name => selections.push((name.to_owned(), selection(value, problems))),
        }
    }
    let Some(condition) = condition else {
        problems.at(place(detection), "detection has no condition");
        return None;
    };
    let translated = expression::translate(condition, &selections, problems)?;
    Some(
        match log_source.and_then(|log_source| mapping::log_source(&log_source.value)) {
            Some(narrowing) => join(true, vec![narrowing, translated], detection.referenced),
            None => translated,
        },
    )
}

/// One selection; `None` when it has a problem (reported).
fn selection(value: &Spanned<Node>, problems: &mut Problems<'_>) -> Option<Spanned<ConditionSpec>> {
    let location = value.referenced;
    match &value.value {
        Node::Map(entries) => {
            if entries.is_empty() {
                problems.at(place(value), "empty selection");
                return None;
            }
            let items: Vec<Option<Spanned<ConditionSpec>>> = entries
                .iter()
                .map(|(key, values)| field_item(key, values, problems))
                .collect();
            Some(join(
                true,
                items.into_iter().collect::<Option<_>>()?,
                location,
            ))
        }
        Node::List(items) if items.iter().all(|item| matches!(item.value, Node::Map(_))) => {
            if items.is_empty() {
                problems.at(place(value), "empty selection");
                return None;
            }
            let maps: Vec<Option<Spanned<ConditionSpec>>> =
                items.iter().map(|item| selection(item, problems)).collect();
            Some(join(
                false,
                maps.into_iter().collect::<Option<_>>()?,
                location,
            ))
        }
        Node::List(items) if items.iter().any(|item| matches!(item.value, Node::Map(_))) => {
            problems.at(
                place(value),
                "a selection lists either maps or plain values, not both",
            );
            None
        }
        _ => {
            let modifiers = Modifiers {
                kind: Kind::Contains,
                all: false,
                cased: false,
            };
            matcher("message", &modifiers, value, problems)
        }
    }
}

/// How a field item compares its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
    /// `re`, with its `i`, `m` and `s` flags.
    Regex {
        flags: [bool; 3],
    },
    Cidr,
    Exists,
    /// `lt`, `lte`, `gt`, `gte`, as the firewatch op.
    Compare(&'static str),
}

#[derive(Debug)]
struct Modifiers {
    kind: Kind,
    /// `all`: every value must match, not one.
    all: bool,
    /// `cased`: plain values match case-sensitively.
    cased: bool,
}

/// Modifiers of the Sigma specification that firewatch does not apply.
const UNSUPPORTED: [&str; 16] = [
    "base64",
    "base64offset",
    "utf16",
    "utf16le",
    "utf16be",
    "wide",
    "windash",
    "fieldref",
    "expand",
    "neq",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
];

fn modifiers(names: &[&str], at: Spanned<()>, problems: &mut Problems<'_>) -> Option<Modifiers> {
    let mut parsed = Modifiers {
        kind: Kind::Exact,
        all: false,
        cased: false,
    };
    let mut ok = true;
    for name in names {
        let kind = match *name {
            "all" => {
                parsed.all = true;
                continue;
            }
            "cased" => {
                parsed.cased = true;
                continue;
            }
            "i" | "m" | "s" => {
                if let Kind::Regex { flags } = &mut parsed.kind {
                    let index = usize::from(*name == "m") + 2 * usize::from(*name == "s");
                    flags[index] = true;
                } else {
                    problems.at(place(&at), format!("modifier `{name}` applies to re only"));
                    ok = false;
                }
                continue;
            }
            "contains" => Kind::Contains,
            "startswith" => Kind::StartsWith,
            "endswith" => Kind::EndsWith,
            "re" => Kind::Regex { flags: [false; 3] },
            "cidr" => Kind::Cidr,
            "exists" => Kind::Exists,
            "lt" => Kind::Compare("<"),
            "lte" => Kind::Compare("<="),
            "gt" => Kind::Compare(">"),
            "gte" => Kind::Compare(">="),
            unsupported if UNSUPPORTED.contains(&unsupported) => {
                problems.unsupported(
                    place(&at),
                    format!("modifier `{unsupported}` is not supported"),
                );
                ok = false;
                continue;
            }
            unknown => {
                problems.unsupported(place(&at), format!("unknown modifier `{unknown}`"));
                ok = false;
                continue;
            }
        };
        if parsed.kind != Kind::Exact {
            problems.at(
                place(&at),
                format!("modifier `{name}` conflicts with the one before it"),
            );
            ok = false;
        }
        parsed.kind = kind;
    }
    ok.then_some(parsed)
}

/// One `field|modifiers: values` item.
fn field_item(
    key: &Spanned<String>,
    values: &Spanned<Node>,
    problems: &mut Problems<'_>,
) -> Option<Spanned<ConditionSpec>> {
    let mut parts = key.value.split('|');
    let field = parts.next().unwrap_or_default().trim();
    let names: Vec<&str> = parts.map(str::trim).collect();
    let modifiers = modifiers(&names, spanned((), key.referenced), problems)?;
    if field.is_empty() {
        // `'|all': [...]`: keywords of the message.
        if modifiers.kind != Kind::Exact {
            problems.at(
                place(key),
                "a keyword list takes no modifier but all (it matches anywhere in the message)",
            );
            return None;
        }
        let modifiers = Modifiers {
            kind: Kind::Contains,
            ..modifiers
        };
        return matcher("message", &modifiers, values, problems);
    }
    matcher(&mapping::field(field), &modifiers, values, problems)
}

/// One value of a field item.
enum Value {
    Null,
    Bool(bool),
    /// A number, and its text as written: `1.10` matches `1.10`, not
    /// `1.1`, and integers past 2^53 keep every digit.
    Number(f64, String),
    Text(String),
}

impl Value {
    fn text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Bool(value) => Some(value.to_string()),
            Value::Number(_, text) => Some(text.clone()),
            Value::Text(text) => Some(text.clone()),
        }
    }
}

/// The values of an item: one scalar or a list of scalars.
fn values(node: &Spanned<Node>, problems: &mut Problems<'_>) -> Option<Vec<(Value, Location)>> {
    let scalar = |node: &Spanned<Node>, problems: &mut Problems<'_>| {
        let value = match &node.value {
            Node::Null => Value::Null,
            Node::Bool(value) => Value::Bool(*value),
            Node::Number(number) => {
                let written = scalar_source(node.defined, problems.source);
                Value::Number(
                    *number,
                    if written.is_empty() {
                        number.to_string()
                    } else {
                        written
                    },
                )
            }
            Node::Text(text) => Value::Text(text.clone()),
            Node::List(_) | Node::Map(_) => {
                problems.at(place(node), "a value must be a string, a number or null");
                return None;
            }
        };
        Some((value, node.referenced))
    };
    match &node.value {
        Node::List(items) if items.is_empty() => {
            problems.at(place(node), "an empty list of values never matches");
            None
        }
        Node::List(items) => items
            .iter()
            .map(|item| scalar(item, problems))
            .collect::<Vec<_>>()
            .into_iter()
            .collect(),
        _ => Some(vec![scalar(node, problems)?]),
    }
}

/// `{ field, op, value }`.
fn comparison(
    field: &str,
    op: &str,
    value: Option<Literal>,
    at: Location,
) -> Spanned<ConditionSpec> {
    spanned(
        ConditionSpec {
            field: Some(spanned(field.to_owned(), at)),
            op: Some(spanned(op.to_owned(), at)),
            value: value.map(|value| spanned(value, at)),
            ..ConditionSpec::default()
        },
        at,
    )
}

fn texts(items: Vec<(String, Location)>) -> Literal {
    Literal::List(
        items
            .into_iter()
            .map(|(text, at)| spanned(Literal::Text(text), at))
            .collect(),
    )
}

/// The condition of one field item.
fn matcher(
    field: &str,
    modifiers: &Modifiers,
    node: &Spanned<Node>,
    problems: &mut Problems<'_>,
) -> Option<Spanned<ConditionSpec>> {
    let at = node.referenced;
    let values = values(node, problems)?;
    let mut ok = true;
    let mut text_of = |value: &Value, location: Location, problems: &mut Problems<'_>| {
        let text = value.text();
        if text.is_none() {
            problems.at(
                place(&spanned((), location)),
                "null matches only as a plain value (a missing field)",
            );
            ok = false;
        }
        text
    };
    let parts: Vec<Spanned<ConditionSpec>> = match modifiers.kind {
        Kind::Exists => match values.as_slice() {
            [(Value::Bool(exists), location)] => {
                let test = comparison(field, "exists", None, *location);
                vec![if *exists {
                    test
                } else {
                    negate(test, *location)
                }]
            }
            _ => {
                problems.at(place(node), "exists takes true or false");
                return None;
            }
        },
        Kind::Cidr => {
            let items: Vec<(String, Location)> = values
                .iter()
                .filter_map(|(value, location)| {
                    text_of(value, *location, problems).map(|text| (text, *location))
                })
                .collect();
            if modifiers.all {
                items
                    .into_iter()
                    .map(|item| comparison(field, "cidr", Some(texts(vec![item.clone()])), item.1))
                    .collect()
            } else {
                vec![comparison(field, "cidr", Some(texts(items)), at)]
            }
        }
        Kind::Compare(op) => {
            let mut parts = Vec::new();
            for (value, location) in &values {
                match value {
                    Value::Number(number, _) => {
                        parts.push(comparison(
                            field,
                            op,
                            Some(Literal::Number(*number)),
                            *location,
                        ));
                    }
                    _ => {
                        problems.at(
                            place(&spanned((), *location)),
                            "lt, lte, gt and gte compare with a number",
                        );
                        ok = false;
                    }
                }
            }
            parts
        }
        Kind::Regex { flags } => {
            let prefix: String = ['i', 'm', 's']
                .iter()
                .zip(flags)
                .filter(|(_, set)| *set)
                .map(|(flag, _)| *flag)
                .collect();
            let mut beyond = false;
            let items: Vec<(String, Location)> = values
                .iter()
                .filter_map(|(value, location)| {
                    let text = text_of(value, *location, problems)?;
                    if let Some(part) = beyond_the_engine(&text) {
                        problems.unsupported(
                            place(&spanned((), *location)),
                            format!("{part} in a regex are not supported by the regex engine"),
                        );
                        beyond = true;
                        return None;
                    }
                    let pattern = if prefix.is_empty() {
                        text
                    } else {
                        format!("(?{prefix}){text}")
                    };
                    Some((pattern, *location))
                })
                .collect();
            if beyond {
                return None;
            }
            if modifiers.all {
                items
                    .into_iter()
                    .map(|item| comparison(field, "regex", Some(texts(vec![item.clone()])), item.1))
                    .collect()
            } else {
                vec![comparison(field, "regex", Some(texts(items)), at)]
            }
        }
        Kind::Exact | Kind::Contains | Kind::StartsWith | Kind::EndsWith => {
            let mut plain = Plain::default();
            for (value, location) in &values {
                if let Value::Null = value {
                    if modifiers.kind == Kind::Exact {
                        plain.missing.push(negate(
                            comparison(field, "exists", None, *location),
                            *location,
                        ));
                    } else {
                        text_of(value, *location, problems);
                    }
                    continue;
                }
                let Some(text) = value.text() else {
                    continue;
                };
                plain.add(field, modifiers, text, *location);
            }
            plain.conditions(field, modifiers, at)
        }
    };
    if !ok || parts.is_empty() {
        return None;
    }
    Some(join(modifiers.all, parts, at))
}

/// What a Sigma regex uses that the Rust regex engine cannot run
/// (look-around, back-references), if anything; other syntax errors are
/// left to the compiler, which reports them as errors.
fn beyond_the_engine(pattern: &str) -> Option<&'static str> {
    use regex_syntax::ast::ErrorKind;
    let error = regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .err()?;
    match error.kind() {
        ErrorKind::UnsupportedLookAround => Some("look-around assertions"),
        ErrorKind::UnsupportedBackreference => Some("back-references"),
        _ => None,
    }
}

/// The plain values of one item, sorted by the condition they become.
#[derive(Default)]
struct Plain {
    /// Texts the message must contain (prefilter keywords).
    keywords: Vec<(String, Location)>,
    /// Exact values, compared with `in`.
    exact: Vec<(String, Location)>,
    /// Anchored regex fragments, case-insensitive unless `cased`.
    patterns: Vec<(String, Location)>,
    /// `null`: the field is missing.
    missing: Vec<Spanned<ConditionSpec>>,
}

impl Plain {
    fn add(&mut self, field: &str, modifiers: &Modifiers, text: String, at: Location) {
        let (fragment, literal) = wildcard(&text);
        match literal {
            // A keyword of the prefilter, when it matches as Sigma means:
            // its case-insensitive scan folds ASCII letters only, and it
            // takes neither an empty text nor a very long one. Other texts
            // take the Unicode-aware regex, as on every other field.
            Some(literal)
                if field == "message"
                    && modifiers.kind == Kind::Contains
                    && !literal.is_empty()
                    && literal.len() <= MAX_KEYWORD_BYTES
                    && (modifiers.cased || literal.is_ascii()) =>
            {
                self.keywords.push((literal, at));
            }
            Some(literal)
                if modifiers.kind == Kind::Exact
                    && (modifiers.cased || !literal.chars().any(char::is_alphabetic)) =>
            {
                self.exact.push((literal, at));
            }
            _ => {
                let anchored = match modifiers.kind {
                    Kind::Exact => format!("^{fragment}$"),
                    Kind::StartsWith => format!("^{fragment}"),
                    Kind::EndsWith => format!("{fragment}$"),
                    _ => fragment,
                };
                // `^.*x` is `x`, and `x.*$` is `x`: the regex engine
                // then searches for the literal.
                let anchored = anchored.strip_prefix("^.*").unwrap_or(&anchored);
                let anchored = anchored.strip_suffix(".*$").unwrap_or(anchored);
                self.patterns.push((anchored.to_owned(), at));
            }
        }
    }

    /// The conditions of the values: with `all`, one per value; else one
    /// per kind of condition (to be OR'd).
    fn conditions(
        self,
        field: &str,
        modifiers: &Modifiers,
        at: Location,
    ) -> Vec<Spanned<ConditionSpec>> {
        let flags = if modifiers.cased { "(?s)" } else { "(?is)" };
        let mut parts = self.missing;
        if !self.keywords.is_empty() {
            let items: Vec<Spanned<String>> = self
                .keywords
                .into_iter()
                .map(|(text, location)| spanned(text, location))
                .collect();
            let list = Some(spanned(TextList::Many(items), at));
            let keywords = if modifiers.all {
                KeywordSpec {
                    all: list,
                    case_sensitive: Some(modifiers.cased),
                    ..KeywordSpec::default()
                }
            } else {
                KeywordSpec {
                    any: list,
                    case_sensitive: Some(modifiers.cased),
                    ..KeywordSpec::default()
                }
            };
            parts.push(spanned(
                ConditionSpec {
                    keywords: Some(spanned(keywords, at)),
                    ..ConditionSpec::default()
                },
                at,
            ));
        }
        if modifiers.all {
            for (text, location) in self.exact {
                parts.push(comparison(field, "==", Some(Literal::Text(text)), location));
            }
            for (pattern, location) in self.patterns {
                let regex = texts(vec![(format!("{flags}{pattern}"), location)]);
                parts.push(comparison(field, "regex", Some(regex), location));
            }
            return parts;
        }
        if !self.exact.is_empty() {
            parts.push(comparison(field, "in", Some(texts(self.exact)), at));
        }
        if !self.patterns.is_empty() {
            parts.push(comparison(
                field,
                "regex",
                Some(texts(alternations(flags, self.patterns))),
                at,
            ));
        }
        parts
    }
}

/// Fragments joined into as few regexes as the size limit allows, each
/// `FLAGS(?:a|b|...)`.
fn alternations(flags: &str, fragments: Vec<(String, Location)>) -> Vec<(String, Location)> {
    let mut regexes: Vec<(String, Location)> = Vec::new();
    let mut current: Option<(String, Location)> = None;
    for (fragment, location) in fragments {
        match &mut current {
            Some((pattern, _)) if pattern.len() + fragment.len() + 2 < MAX_REGEX_BYTES => {
                pattern.push('|');
                pattern.push_str(&fragment);
            }
            _ => {
                if let Some(done) = current.take() {
                    regexes.push(done);
                }
                current = Some((fragment, location));
            }
        }
    }
    regexes.extend(current);
    regexes
        .into_iter()
        .map(|(pattern, location)| (format!("{flags}(?:{pattern})"), location))
        .collect()
}

/// A Sigma value as a regex fragment (`*` any text, `?` one character, a
/// backslash escaping `*`, `?` and itself), and its plain text when it has
/// no wildcard.
fn wildcard(value: &str) -> (String, Option<String>) {
    let mut fragment = String::new();
    let mut literal = String::new();
    let mut has_wildcard = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                let escaped = chars.next().unwrap_or('\\');
                fragment.push_str(&regex::escape(escaped.encode_utf8(&mut [0; 4])));
                literal.push(escaped);
            }
            '*' => {
                fragment.push_str(".*");
                has_wildcard = true;
            }
            '?' => {
                fragment.push('.');
                has_wildcard = true;
            }
            other => {
                fragment.push_str(&regex::escape(other.encode_utf8(&mut [0; 4])));
                literal.push(other);
            }
        }
    }
    (fragment, (!has_wildcard).then_some(literal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_escapes_become_regex_fragments() {
        assert_eq!(
            wildcard("a.b"),
            (r"a\.b".to_owned(), Some("a.b".to_owned()))
        );
        assert_eq!(wildcard("a*b?c"), ("a.*b.c".to_owned(), None));
        assert_eq!(
            wildcard(r"a\*b"),
            (r"a\*b".to_owned(), Some("a*b".to_owned()))
        );
        assert_eq!(
            wildcard(r"C:\\x\y"),
            (r"C:\\x\\y".to_owned(), Some(r"C:\x\y".to_owned()))
        );
        assert_eq!(wildcard(r"\\*"), (r"\\.*".to_owned(), None));
    }
}
