//! Times on the command line: `--since 2h`, `--until 2026-11-26T10:00:00Z`.

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::civil::DateTime;

/// Reads a point in time: a duration back from `now` (`15m`, `2h`, `7d`),
/// an RFC 3339 time stamp, or a date and time without zone (taken as UTC):
/// `2026-11-26`, `2026-11-26 10:00`, `2026-11-26T10:00:00`.
pub fn parse_time(text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp);
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && text.contains('-') {
        let civil: DateTime = text
            .parse()
            .or_else(|_| text.parse::<jiff::civil::Date>().map(|date| date.to_datetime(jiff::civil::Time::midnight())))
            .with_context(|| format!("invalid time {text:?}: expected e.g. 2h, 2026-11-26T10:00:00Z or 2026-11-26 10:00"))?;
        return Ok(civil
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)?
            .timestamp());
    }
    match firewatch_event::parse_duration(text) {
        Ok(ago) => Ok(now.checked_sub(ago)?),
        Err(_) => bail!(
            "invalid time {text:?}: expected e.g. 2h, 2026-11-26T10:00:00Z or 2026-11-26 10:00"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_timestamps_and_dates() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_time("2h", now).unwrap().to_string(),
            "2026-11-26T10:00:00Z"
        );
        assert_eq!(
            parse_time("1d", now).unwrap().to_string(),
            "2026-11-25T12:00:00Z"
        );
        assert_eq!(
            parse_time("2026-11-26T10:00:00+01:00", now)
                .unwrap()
                .to_string(),
            "2026-11-26T09:00:00Z"
        );
        assert_eq!(
            parse_time("2026-11-26 10:00", now).unwrap().to_string(),
            "2026-11-26T10:00:00Z"
        );
        assert_eq!(
            parse_time("2026-11-26", now).unwrap().to_string(),
            "2026-11-26T00:00:00Z"
        );
        assert!(parse_time("yesterday", now).is_err());
    }
}
