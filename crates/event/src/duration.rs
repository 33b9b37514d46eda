//! Durations as people write them in rules, pipeline files and on the
//! command line: `30s`, `5m`, `1h30m`, `2d`, `1w`, `500ms`, or ISO 8601 (`PT5M`).
//! Days are 24 hours and weeks 7 days: log windows are about elapsed time,
//! not the calendar.

use jiff::{SignedDuration, Span, SpanRelativeTo};
use serde::{Deserialize, Deserializer};

/// A duration that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration {text:?}: {reason} (expected e.g. 30s, 5m, 1h30m, 2d)")]
pub struct InvalidDuration {
    text: String,
    reason: String,
}

/// Parses a non-negative duration such as `5m`, `1h30m` or `14d`.
pub fn parse_duration(text: &str) -> Result<SignedDuration, InvalidDuration> {
    let invalid = |reason: String| InvalidDuration {
        text: text.to_owned(),
        reason,
    };
    let span: Span = text
        .trim()
        .parse()
        .map_err(|error: jiff::Error| invalid(error.to_string()))?;
    let duration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|error| invalid(error.to_string()))?;
    if duration.is_negative() {
        return Err(invalid("durations cannot be negative".into()));
    }
    Ok(duration)
}

/// Deserializes a duration from its text form, for use with
/// `#[serde(deserialize_with = "firewatch_event::deserialize_duration")]`.
pub fn deserialize_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<SignedDuration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_spellings_parse() {
        for (text, seconds) in [
            ("30s", 30),
            ("5m", 300),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("1w", 604_800),
            ("PT5M", 300),
        ] {
            assert_eq!(parse_duration(text).unwrap().as_secs(), seconds, "{text}");
        }
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5m").is_err());
    }
}
