//! Instants as the index holds them.
//!
//! tantivy stores a date as signed 64-bit nanoseconds since the Unix epoch,
//! which spans the years 1677 to 2262; jiff spans years -9999 to 9999. A log
//! line can claim any year, so instants outside tantivy's span are clamped to
//! its ends for indexing (the event lands in the first or last day), and the
//! exact value is kept elsewhere for rebuilding.

use jiff::Timestamp;
use tantivy::DateTime;

/// The tantivy date of an instant, and whether it had to be clamped.
pub(crate) fn to_index_date(time: Timestamp) -> (DateTime, bool) {
    match i64::try_from(time.as_nanosecond()) {
        Ok(nanos) => (DateTime::from_timestamp_nanos(nanos), false),
        Err(_) if time.as_nanosecond() < 0 => (DateTime::MIN, true),
        Err(_) => (DateTime::MAX, true),
    }
}

/// The instant of a tantivy date. Every tantivy date is a valid jiff
/// timestamp; `None` is only a safeguard.
pub(crate) fn from_index_date(date: DateTime) -> Option<Timestamp> {
    Timestamp::from_nanosecond(i128::from(date.into_timestamp_nanos())).ok()
}

/// The instant as the index sees it (clamped to tantivy's span).
pub(crate) fn index_instant(time: Timestamp) -> Timestamp {
    let (date, _) = to_index_date(time);
    from_index_date(date).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_span_round_trip_to_the_nanosecond() {
        let time: Timestamp = "2026-11-26T10:00:00.123456789Z".parse().unwrap();
        let (date, clamped) = to_index_date(time);
        assert!(!clamped);
        assert_eq!(from_index_date(date), Some(time));
        assert_eq!(index_instant(time), time);
    }

    #[test]
    fn instants_outside_the_span_are_clamped() {
        let far: Timestamp = "9999-01-01T00:00:00Z".parse().unwrap();
        let (date, clamped) = to_index_date(far);
        assert!(clamped);
        assert_eq!(date, DateTime::MAX);
        assert_eq!(index_instant(far).to_string()[..4].to_owned(), "2262");
        let early: Timestamp = "1000-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(to_index_date(early), (DateTime::MIN, true));
    }
}
