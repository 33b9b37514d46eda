//! Days: how event time maps to the per-day log indexes.
//!
//! Each UTC day of event time has its own index directory under
//! `DATA_DIR/logs/`, named `YYYY.MM.DD` (e.g. `2026.11.26`). Retention is a
//! directory delete, and a time-ranged search opens only the days that
//! overlap its range.

use std::path::Path;

use jiff::civil::Date;
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};

use crate::IndexError;

/// The UTC day of an instant.
pub(crate) fn day_of(time: Timestamp) -> Date {
    Offset::UTC.to_datetime(time).date()
}

/// The directory name of a day: `2026.11.26`.
pub(crate) fn day_name(day: Date) -> String {
    format!("{:04}.{:02}.{:02}", day.year(), day.month(), day.day())
}

/// The day a directory name stands for; `None` for any name that
/// [`day_name`] would not have written.
pub(crate) fn parse_day_name(name: &str) -> Option<Date> {
    let mut parts = name.split('.');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let date = Date::new(year, month, day).ok()?;
    (day_name(date) == name).then_some(date)
}

/// The days of the time range `[since, until)`, as the first and last day
/// (inclusive); an open end stays open. `None` when the range is empty.
pub(crate) fn day_span(
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Option<(Option<Date>, Option<Date>)> {
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        return None;
    }
    let first = since.map(day_of);
    // The last instant inside the range is one nanosecond before `until`.
    let last = until.map(|until| {
        day_of(
            until
                .checked_sub(SignedDuration::from_nanos(1))
                .unwrap_or(until),
        )
    });
    Some((first, last))
}

/// The days among `available` that overlap `[since, until)`, in the order given.
pub(crate) fn days_overlapping(
    available: &[Date],
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Vec<Date> {
    let Some((first, last)) = day_span(since, until) else {
        return Vec::new();
    };
    available
        .iter()
        .copied()
        .filter(|day| first.is_none_or(|first| *day >= first))
        .filter(|day| last.is_none_or(|last| *day <= last))
        .collect()
}

/// The day indexes present under `logs_dir`, oldest first. Entries whose
/// names are not days are ignored; a missing directory holds no days.
pub(crate) fn list_days(logs_dir: &Path) -> Result<Vec<Date>, IndexError> {
    let entries = match std::fs::read_dir(logs_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(IndexError::io(logs_dir, error)),
    };
    let mut days = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| IndexError::io(logs_dir, error))?;
        let is_dir = entry
            .file_type()
            .map_err(|error| IndexError::io(&entry.path(), error))?
            .is_dir();
        if let Some(day) = entry.file_name().to_str().and_then(parse_day_name)
            && is_dir
        {
            days.push(day);
        }
    }
    days.sort_unstable();
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn day_names_round_trip_and_reject_lookalikes() {
        let day = date("2026-11-26");
        assert_eq!(day_name(day), "2026.11.26");
        assert_eq!(parse_day_name("2026.11.26"), Some(day));
        for name in [
            "2026.1.26",
            "2026.11.26.x",
            "2026-11-26",
            "2026.02.30",
            "logs",
            "",
        ] {
            assert_eq!(parse_day_name(name), None, "{name}");
        }
    }

    #[test]
    fn event_time_maps_to_its_utc_day() {
        assert_eq!(
            day_of(at("2026-11-26T23:59:59.999999999Z")),
            date("2026-11-26")
        );
        assert_eq!(day_of(at("2026-11-27T00:00:00Z")), date("2026-11-27"));
        assert_eq!(day_of(at("2026-11-27T01:00:00+02:00")), date("2026-11-26"));
    }

    #[test]
    fn a_range_selects_only_the_days_it_overlaps() {
        let days = [
            date("2026-11-25"),
            date("2026-11-26"),
            date("2026-11-27"),
            date("2026-11-28"),
        ];
        let names = |since: Option<&str>, until: Option<&str>| -> Vec<String> {
            days_overlapping(&days, since.map(at), until.map(at))
                .into_iter()
                .map(day_name)
                .collect()
        };
        assert_eq!(names(None, None).len(), 4);
        assert_eq!(
            names(Some("2026-11-26T10:00:00Z"), Some("2026-11-27T00:00:00Z")),
            ["2026.11.26"],
            "until is exclusive: midnight does not open the next day"
        );
        assert_eq!(
            names(
                Some("2026-11-26T10:00:00Z"),
                Some("2026-11-27T00:00:00.000001Z")
            ),
            ["2026.11.26", "2026.11.27"]
        );
        assert_eq!(
            names(Some("2026-11-27T00:00:00Z"), None),
            ["2026.11.27", "2026.11.28"]
        );
        assert_eq!(
            names(None, Some("2026-11-26T00:00:01Z")),
            ["2026.11.25", "2026.11.26"]
        );
        assert!(names(Some("2026-11-27T00:00:00Z"), Some("2026-11-26T00:00:00Z")).is_empty());
        assert!(names(Some("2026-11-27T00:00:00Z"), Some("2026-11-27T00:00:00Z")).is_empty());
        assert!(names(Some("2030-01-01T00:00:00Z"), None).is_empty());
    }

    #[test]
    fn listing_ignores_foreign_entries() {
        let dir = tempfile::TempDir::new().unwrap();
        for name in ["2026.11.27", "2026.11.25", "notes", "2026.13.01"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("2026.11.26"), b"a file, not a day").unwrap();
        assert_eq!(
            list_days(dir.path()).unwrap(),
            [date("2026-11-25"), date("2026-11-27")]
        );
        assert!(list_days(&dir.path().join("missing")).unwrap().is_empty());
    }
}
