//! `when:` conditions, compiled: a tree of field comparisons, level and
//! keyword tests joined by all / any / not.
//!
//! Everything that can be prepared is prepared when the rules compile:
//! regexes are compiled `Regex`es, globs a `GlobSet`, CIDR blocks parsed
//! networks, numbers parsed, and keywords interned into the prefilter's
//! automaton, so that a keyword test is a lookup in the event's scan. A
//! named condition is compiled once and shared (`Arc`) by every rule that
//! refers to it.
//!
//! Evaluation never fails: a missing field, or a value of the wrong kind
//! (`>` on a field that is not a number), makes the comparison false.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use firewatch_event::{Event, Level};
use globset::GlobSet;
use regex::Regex;

use crate::prefilter::Scan;

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Condition {
    /// Every one holds.
    All(Box<[Condition]>),
    /// At least one holds.
    Any(Box<[Condition]>),
    /// It does not hold.
    Not(Box<Condition>),
    /// A named condition, shared by the rules that use it.
    Named(Arc<Condition>),
    /// The event's level is at least this (never for an unknown level).
    MinLevel(Level),
    /// Keywords of the message, as literal ids of the prefilter.
    Keywords { any: Box<[u32]>, all: Box<[u32]> },
    /// A test on one field.
    Field { path: Box<str>, test: FieldTest },
}

/// What a field must satisfy.
#[derive(Clone, Debug)]
pub(crate) enum FieldTest {
    /// The field is present (and not null).
    Exists,
    /// The field equals one of the values (`==` with one, `in` with many).
    OneOf(ValueSet),
    /// The field is missing or equals none of the values (`!=`, `not_in`).
    NoneOf(ValueSet),
    /// The field is a number (or numeric text) in this relation to a bound.
    Compare(Ordering, f64),
    /// The field's text matches one of the globs (written as `patterns`).
    Glob {
        set: GlobSet,
        patterns: Box<[Box<str>]>,
    },
    /// The field's text matches one of the regexes.
    Regex(Box<[Regex]>),
    /// The field is an IP address inside one of the networks.
    Cidr(Box<[Network]>),
}

/// A relation for numeric comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ordering {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// Literals to compare a field with: texts compare as text, numbers as
/// numbers (so that `500` equals a field holding `500` or `"500.0"`). Texts
/// are hashed, so that `in` with a long list costs one lookup.
#[derive(Clone, Debug, Default)]
pub(crate) struct ValueSet {
    pub texts: HashSet<Box<str>>,
    pub numbers: Vec<f64>,
}

impl ValueSet {
    fn contains(&self, text: &str) -> bool {
        self.texts.contains(text)
            || (!self.numbers.is_empty()
                && text
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|number| self.numbers.contains(&number)))
    }
}

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `address/prefix`, or one address (a network of one).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("invalid CIDR {text:?}: {address:?} is not an IP address"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => match prefix.trim().parse::<u8>() {
                Ok(prefix) if prefix <= width => prefix,
                _ => {
                    return Err(format!(
                        "invalid CIDR {text:?}: the prefix length must be 0 to {width}"
                    ));
                }
            },
        };
        Ok(Self { address, prefix })
    }

    /// True when `address` lies inside the network.
    pub fn contains(&self, address: IpAddr) -> bool {
        let (network, candidate, width) = match (self.address, address) {
            (IpAddr::V4(network), IpAddr::V4(candidate)) => (
                u128::from(u32::from(network)),
                u128::from(u32::from(candidate)),
                32,
            ),
            (IpAddr::V6(network), IpAddr::V6(candidate)) => {
                (u128::from(network), u128::from(candidate), 128)
            }
            _ => return false,
        };
        let host_bits = width - u32::from(self.prefix);
        host_bits >= 128 || (network >> host_bits) == (candidate >> host_bits)
    }
}

impl Condition {
    /// True when the condition holds for `event`; `scan` is the event's
    /// prefilter scan (for keyword tests).
    pub fn holds(&self, event: &Event, scan: &Scan) -> bool {
        match self {
            Condition::All(parts) => parts.iter().all(|part| part.holds(event, scan)),
            Condition::Any(parts) => parts.iter().any(|part| part.holds(event, scan)),
            Condition::Not(inner) => !inner.holds(event, scan),
            Condition::Named(shared) => shared.holds(event, scan),
            Condition::MinLevel(level) => event.level != Level::Unknown && event.level >= *level,
            Condition::Keywords { any, all } => {
                (any.is_empty() || any.iter().any(|literal| scan.hit(*literal)))
                    && all.iter().all(|literal| scan.hit(*literal))
            }
            Condition::Field { path, test } => test.holds(event, path),
        }
    }
}

impl Condition {
    /// Keyword literals one of which must occur in the message for the
    /// condition to hold, if the condition requires any: the prefilter
    /// triggers the rule on them instead of evaluating it on every event.
    pub fn required_literals(&self) -> Option<Vec<u32>> {
        match self {
            Condition::Keywords { any, all } => match all.first() {
                Some(first) => Some(vec![*first]),
                None => (!any.is_empty()).then(|| any.to_vec()),
            },
            Condition::All(parts) => parts.iter().find_map(Condition::required_literals),
            Condition::Any(parts) => {
                let mut union = Vec::new();
                for part in parts {
                    union.extend(part.required_literals()?);
                }
                Some(union)
            }
            Condition::Named(shared) => shared.required_literals(),
            Condition::Not(_) | Condition::MinLevel(_) | Condition::Field { .. } => None,
        }
    }
}

impl Condition {
    /// The condition as canonical text, named conditions expanded and
    /// keywords given by `keyword` (their literal ids differ from one
    /// rule set to the next): two conditions with the same text match the
    /// same events.
    pub(crate) fn describe(&self, keyword: &dyn Fn(u32) -> String, out: &mut String) {
        let list = |name: &str, items: &[Condition], out: &mut String| {
            out.push_str(name);
            out.push('(');
            for item in items {
                item.describe(keyword, out);
                out.push(',');
            }
            out.push(')');
        };
        match self {
            Condition::All(items) => list("all", items, out),
            Condition::Any(items) => list("any", items, out),
            Condition::Not(inner) => list("not", std::slice::from_ref(inner), out),
            Condition::Named(inner) => inner.describe(keyword, out),
            Condition::MinLevel(level) => out.push_str(&format!("min_level({level:?})")),
            Condition::Keywords { any, all } => {
                let words = |ids: &[u32]| ids.iter().map(|id| keyword(*id)).collect::<Vec<_>>();
                out.push_str(&format!(
                    "keywords(any={:?},all={:?})",
                    words(any),
                    words(all)
                ));
            }
            Condition::Field { path, test } => {
                let test = match test {
                    FieldTest::Exists => "exists".to_owned(),
                    FieldTest::OneOf(values) => format!("in{}", values.describe()),
                    FieldTest::NoneOf(values) => format!("not_in{}", values.describe()),
                    FieldTest::Compare(ordering, bound) => format!("{ordering:?}({bound})"),
                    FieldTest::Glob { patterns, .. } => format!("glob{patterns:?}"),
                    FieldTest::Regex(regexes) => {
                        let sources: Vec<&str> = regexes.iter().map(Regex::as_str).collect();
                        format!("regex{sources:?}")
                    }
                    FieldTest::Cidr(networks) => format!("cidr{networks:?}"),
                };
                out.push_str(&format!("field({path:?},{test})"));
            }
        }
    }
}

impl ValueSet {
    /// The values, sorted.
    fn describe(&self) -> String {
        let mut texts: Vec<&str> = self.texts.iter().map(AsRef::as_ref).collect();
        texts.sort_unstable();
        format!("({texts:?},{:?})", self.numbers)
    }
}

impl FieldTest {
    fn holds(&self, event: &Event, path: &str) -> bool {
        let text = event.field_text(path);
        match self {
            FieldTest::Exists => text.is_some(),
            FieldTest::OneOf(values) => text.is_some_and(|text| values.contains(&text)),
            FieldTest::NoneOf(values) => !text.is_some_and(|text| values.contains(&text)),
            FieldTest::Compare(ordering, bound) => text
                .and_then(|text| text.trim().parse::<f64>().ok())
                .is_some_and(|number| match ordering {
                    Ordering::Less => number < *bound,
                    Ordering::LessOrEqual => number <= *bound,
                    Ordering::Greater => number > *bound,
                    Ordering::GreaterOrEqual => number >= *bound,
                }),
            FieldTest::Glob { set, .. } => text.is_some_and(|text| set.is_match(text.as_ref())),
            FieldTest::Regex(regexes) => {
                text.is_some_and(|text| regexes.iter().any(|regex| regex.is_match(&text)))
            }
            FieldTest::Cidr(networks) => text
                .and_then(|text| text.trim().parse::<IpAddr>().ok())
                .is_some_and(|address| networks.iter().any(|network| network.contains(address))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let private = Network::parse("10.0.0.0/8").unwrap();
        assert!(private.contains("10.200.3.4".parse().unwrap()));
        assert!(!private.contains("11.0.0.1".parse().unwrap()));
        assert!(!private.contains("::1".parse().unwrap()));
        let everything = Network::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains("203.0.113.9".parse().unwrap()));
        let one = Network::parse("192.168.1.7").unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        for bad in ["10.0.0.0/33", "10.0.0/8", "x/8", "::/129"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_equal_numeric_text() {
        let numbers = ValueSet {
            numbers: vec![500.0],
            ..ValueSet::default()
        };
        assert!(numbers.contains("500"));
        assert!(numbers.contains("500.0"));
        assert!(!numbers.contains("5xx"));
        let texts = ValueSet {
            texts: HashSet::from(["500".into()]),
            ..ValueSet::default()
        };
        assert!(texts.contains("500"));
        assert!(!texts.contains("500.0"));
    }
}
