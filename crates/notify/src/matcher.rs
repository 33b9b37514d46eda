//! Label matchers, as in Alertmanager: `service=api`, `host!=web-01`,
//! `host=~web-.*`, `host!~db-.*`.
//!
//! An incident's labels ([`incident_labels`]) are its rule, severity, key
//! and id, and the values of its rule's `group_by` fields under their own
//! names (`host`, `service`, `fields.rhost`). A label an incident does not
//! have matches as the empty string, as in Alertmanager: `host!=web-01`
//! matches an incident without a host. Regexes are anchored at both ends.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use firewatch_event::Incident;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The longest regex a matcher accepts, in bytes of text.
const MAX_REGEX_BYTES: usize = 4096;
/// The most memory one compiled matcher regex may take.
const MAX_REGEX_COMPILED_BYTES: usize = 1 << 20;

/// How a matcher compares a label with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`: equal.
    Equal,
    /// `!=`: not equal.
    NotEqual,
    /// `=~`: the whole value matches the regex.
    Regex,
    /// `!~`: the whole value does not match the regex.
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One condition on one label.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// The label's name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regex as written.
    pub value: String,
    /// The anchored regex, for `=~` and `!~`.
    regex: Option<Regex>,
}

/// A matcher that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid matcher {text:?}: {reason}")]
pub struct InvalidMatcher {
    text: String,
    reason: String,
}

impl Matcher {
    /// A matcher from its parts; fails on a bad label name or regex.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, InvalidMatcher> {
        let text = format!("{name}{}{value}", op.as_str());
        let invalid = |reason: String| InvalidMatcher {
            text: text.clone(),
            reason,
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(invalid(
                "the label name must be non-empty and use only letters, digits, '_', '.' and '-'"
                    .into(),
            ));
        }
        let regex = match op {
            MatchOp::Equal | MatchOp::NotEqual => None,
            MatchOp::Regex | MatchOp::NotRegex => {
                if value.len() > MAX_REGEX_BYTES {
                    return Err(invalid(format!(
                        "the regex is longer than {MAX_REGEX_BYTES} bytes"
                    )));
                }
                let compile = |pattern: &str| {
                    regex::RegexBuilder::new(pattern)
                        .size_limit(MAX_REGEX_COMPILED_BYTES)
                        .build()
                        .map_err(|error| invalid(format!("bad regex: {error}")))
                };
                // The regex as written first, so that an error points into
                // it rather than into the anchors around it.
                compile(value)?;
                Some(compile(&format!("^(?:{value})$"))?)
            }
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// Whether the labels satisfy this matcher (a missing label is empty).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(regex)) => regex.is_match(value),
            (MatchOp::NotRegex, Some(regex)) => !regex.is_match(value),
            // `new` compiles a regex for both regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

/// Whether every matcher holds (true for none).
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|matcher| matcher.matches(labels))
}

impl FromStr for Matcher {
    type Err = InvalidMatcher;

    /// Reads `name=value`, `name!=value`, `name=~regex` or `name!~regex`;
    /// the value may be quoted (`host="web 01"`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| InvalidMatcher {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let split = text.find(['=', '!']).ok_or_else(|| {
            invalid("expected name=value, name!=value, name=~regex or name!~regex")
        })?;
        let (name, rest) = text.split_at(split);
        let (op, value) = if let Some(value) = rest.strip_prefix("=~") {
            (MatchOp::Regex, value)
        } else if let Some(value) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, value)
        } else if let Some(value) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, value)
        } else if let Some(value) = rest.strip_prefix('=') {
            (MatchOp::Equal, value)
        } else {
            return Err(invalid(
                "expected name=value, name!=value, name=~regex or name!~regex",
            ));
        };
        let value = value
            .strip_prefix('"')
            .and_then(|quoted| quoted.strip_suffix('"'))
            .unwrap_or(value);
        Matcher::new(name, op, value)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), self.value)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.op, &self.value) == (&other.name, other.op, &other.value)
    }
}

impl Eq for Matcher {}

impl Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The labels silences and inhibition rules match on: `rule`, `severity`,
/// `key`, `incident_id`, then the group values under their field names
/// (which never replace the four above).
pub fn incident_labels(incident: &Incident) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = incident
        .group
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    labels.insert("rule".into(), incident.rule.clone());
    labels.insert("severity".into(), incident.severity.as_str().into());
    labels.insert("key".into(), incident.key.clone());
    labels.insert("incident_id".into(), incident.id.to_string());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn operators_follow_alertmanager() {
        let web = labels(&[("service", "api"), ("host", "web-01")]);
        let bare = labels(&[("service", "api")]);
        for (text, on_web, on_bare) in [
            ("service=api", true, true),
            ("host=web-01", true, false),
            ("host!=web-01", false, true),
            ("host=~web-.*", true, false),
            // Anchored: a partial match is no match.
            ("host=~web", false, false),
            ("host=~eb-0.", false, false),
            ("host!~db-.*", true, true),
            // A missing label is the empty string.
            ("host=", false, true),
            ("host=~.*", true, true),
            (r#"service="api""#, true, true),
        ] {
            let matcher: Matcher = text.parse().unwrap();
            assert_eq!(matcher.matches(&web), on_web, "{text} on web");
            assert_eq!(matcher.matches(&bare), on_bare, "{text} on bare");
        }
    }

    #[test]
    fn matchers_round_trip_as_text() {
        for text in ["service=api", "host!=web-01", "host=~web-.*", "host!~db-.*"] {
            let matcher: Matcher = text.parse().unwrap();
            assert_eq!(matcher.to_string(), text);
            let json = serde_json::to_string(&matcher).unwrap();
            assert_eq!(serde_json::from_str::<Matcher>(&json).unwrap(), matcher);
        }
    }

    #[test]
    fn bad_matchers_say_why() {
        for (text, expected) in [
            ("service", "expected name=value"),
            ("=api", "label name"),
            ("host=~web-(", "bad regex"),
            ("sp ace=x", "label name"),
        ] {
            let error = text.parse::<Matcher>().unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let huge = format!("host=~{}", "a".repeat(MAX_REGEX_BYTES + 1));
        assert!(huge.parse::<Matcher>().is_err());
    }
}
