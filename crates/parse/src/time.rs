//! Time stamps as logs write them.
//!
//! Every line passes through here, so the recognisers are a small
//! hand-written scanner over bytes rather than a list of patterns tried one
//! after another: the first byte picks the family (`[`, a digit, a letter),
//! and each family reads its fields in one pass. A shape is only accepted
//! when every field is in range and the stamp ends at a word boundary, so
//! that numbers inside ordinary text are not taken for times.
//!
//! Shapes recognised at the start of a line:
//!
//! | shape | example |
//! |---|---|
//! | ISO 8601 / RFC 3339, `T` or space, optional fraction (`.` or `,`) and zone | `2026-11-26T10:00:00.123Z`, `2026-11-26 10:00:00,123` |
//! | the same with slashes | `2026/11/26 10:00:00` |
//! | BSD syslog, no year | `Oct 11 22:14:15`, `Jul  1 09:00:55` |
//! | BSD syslog with a year | `Oct 11 2024 22:14:15` |
//! | ctime, as Apache writes it | `Sun Dec 04 04:47:44 2005` |
//! | two-digit year, compact (HDFS) | `081109 203615` |
//! | two-digit year with slashes (Spark) | `17/06/09 20:10:41` |
//! | epoch seconds or milliseconds, then a space | `1700000000 `, `1700000000123 ` |
//!
//! Any of them may be wrapped in `[...]`. Times without a zone are read in
//! the configured zone; times without a year get one from the receive time
//! (see [`TimeContext::resolve`]). Two-digit years 00-68 are 20xx, 69-99 19xx.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// How far after the receive time a year-less time stamp may lie before it
/// is taken to be from the previous year (clocks of senders drift, and a
/// batch may be read a little before the lines it holds were written).
const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(7 * 24);

/// How many years back a year-less `Feb 29` may go to find a leap year.
const MAX_YEARS_BACK: i16 = 8;

/// A time stamp as written, before a zone and a year are settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WrittenTime {
    /// It carried an offset, or was an epoch count: an instant already.
    Instant(Timestamp),
    /// A date and time of day without a zone.
    Civil(DateTime),
    /// Month, day and time of day, without year or zone (BSD syslog).
    NoYear { month: i8, day: i8, time: Time },
}

/// Which family a leading time stamp belongs to, as far as it tells what
/// may follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeShape {
    /// BSD syslog (`Oct 11 22:14:15`): a syslog header usually follows.
    Bsd,
    /// ISO 8601 with a `T` separator: a syslog header may follow (rsyslog's
    /// high-precision file format), or an application's own.
    IsoT,
    /// Any other shape.
    Other,
}

/// A time stamp found at the start of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LeadingTime {
    pub(crate) written: WrittenTime,
    /// Bytes the stamp takes, brackets included.
    pub(crate) len: usize,
    pub(crate) shape: TimeShape,
}

/// What zone-less and year-less times are read against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeContext<'a> {
    pub(crate) zone: &'a TimeZone,
    pub(crate) received: Timestamp,
}

impl TimeContext<'_> {
    /// The instant a written time stands for: civil times are read in the
    /// configured zone; a time without a year gets the year of the receive
    /// time (in that zone), or an earlier one when that would put it more
    /// than 7 days after the receive time (a December line read in
    /// January) or when the date does not exist that year (`Feb 29`).
    pub(crate) fn resolve(&self, written: WrittenTime) -> Option<Timestamp> {
        match written {
            WrittenTime::Instant(instant) => Some(instant),
            WrittenTime::Civil(datetime) => self.zone.to_timestamp(datetime).ok(),
            WrittenTime::NoYear { month, day, time } => {
                let latest = self.received.checked_add(MAX_FUTURE).ok()?;
                let year = self.zone.to_datetime(self.received).year();
                (0..=MAX_YEARS_BACK)
                    .filter_map(|back| {
                        let date = Date::new(year.checked_sub(back)?, month, day).ok()?;
                        self.zone.to_timestamp(date.to_datetime(time)).ok()
                    })
                    .find(|instant| *instant <= latest)
            }
        }
    }
}

/// Reads a time stamp at the very start of `text`.
pub(crate) fn scan_leading_time(text: &str) -> Option<LeadingTime> {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b'[') {
        let inner = scan_bare(&bytes[1..])?;
        if bytes.get(1 + inner.len) != Some(&b']') {
            return None;
        }
        // A bracketed stamp is an application's, never a syslog header.
        return Some(LeadingTime {
            len: inner.len + 2,
            shape: TimeShape::Other,
            ..inner
        });
    }
    scan_bare(bytes)
}

/// Reads a value that should be a time and nothing else, as found in JSON
/// and logfmt time fields: any leading shape spanning the whole text, or
/// an epoch count (see [`epoch_from_text`]).
pub(crate) fn parse_time_text(text: &str) -> Option<WrittenTime> {
    let text = text.trim();
    if let Some(instant) = epoch_from_text(text) {
        return Some(WrittenTime::Instant(instant));
    }
    scan_leading_time(text)
        .filter(|leading| leading.len == text.len())
        .map(|leading| leading.written)
}

/// An epoch count written as decimal text, with an optional fraction
/// (`1700000000`, `"1700000000123"`, `1700000000.5`). The unit follows from
/// the magnitude of the integer part (see [`epoch_from_parts`]).
pub(crate) fn epoch_from_text(text: &str) -> Option<Timestamp> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 19 || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    epoch_from_parts(if negative { -whole } else { whole }, fraction)
}

/// An epoch count given as a JSON float (`1700000000.123`). A double holds
/// about 16 significant digits, so the fraction is rounded to microseconds
/// rather than carrying noise into the nanoseconds.
pub(crate) fn epoch_from_float(value: f64) -> Option<Timestamp> {
    if !value.is_finite() || value.abs() >= 1e20 {
        return None;
    }
    let whole = value.trunc() as i128;
    let nanos_per_unit = epoch_unit_nanos(whole.abs());
    let fraction_micros = (value.fract() * (nanos_per_unit / 1000) as f64).round() as i128;
    let nanos = whole.checked_mul(nanos_per_unit)? + fraction_micros * 1000;
    Timestamp::from_nanosecond(nanos).ok()
}

/// An epoch count from its integer part and the decimal digits after the
/// point. Below 10^11 it counts seconds (up to the year 5138), below 10^14
/// milliseconds, below 10^17 microseconds, and nanoseconds above.
pub(crate) fn epoch_from_parts(whole: i128, fraction_digits: &str) -> Option<Timestamp> {
    let nanos_per_unit = epoch_unit_nanos(whole.abs());
    let mut fraction_nanos: i128 = 0;
    let mut scale = nanos_per_unit;
    for digit in fraction_digits.bytes().take(9) {
        scale /= 10;
        fraction_nanos += i128::from(digit - b'0') * scale;
    }
    let nanos = whole.checked_mul(nanos_per_unit)?;
    let nanos = if whole < 0 {
        nanos - fraction_nanos
    } else {
        nanos + fraction_nanos
    };
    Timestamp::from_nanosecond(nanos).ok()
}

fn epoch_unit_nanos(magnitude: i128) -> i128 {
    match magnitude {
        0..100_000_000_000 => 1_000_000_000,
        100_000_000_000..100_000_000_000_000 => 1_000_000,
        100_000_000_000_000..100_000_000_000_000_000 => 1_000,
        _ => 1,
    }
}

/// A leading time stamp without brackets, ending at a word boundary.
fn scan_bare(bytes: &[u8]) -> Option<LeadingTime> {
    let first = *bytes.first()?;
    let found = if first.is_ascii_digit() {
        scan_numeric(bytes)
    } else if first.is_ascii_alphabetic() {
        scan_named(bytes)
    } else {
        None
    }?;
    match bytes.get(found.len) {
        Some(next) if next.is_ascii_alphanumeric() => None,
        _ => Some(found),
    }
}

/// Shapes that start with a digit: ISO dates, HDFS, Spark, epoch counts.
fn scan_numeric(bytes: &[u8]) -> Option<LeadingTime> {
    let mut cursor = Cursor::new(bytes);
    match (bytes.get(2), bytes.get(4), bytes.get(6)) {
        (_, Some(b'-' | b'/'), _) => scan_iso(&mut cursor),
        (Some(b'/'), _, _) => {
            // Spark: yy/MM/dd HH:mm:ss
            let year = two_digit_year(cursor.number(2)?);
            cursor.expect(b'/')?;
            let month = cursor.number(2)?;
            cursor.expect(b'/')?;
            let day = cursor.number(2)?;
            cursor.expect(b' ')?;
            let time = cursor.clock_time()?;
            civil(&cursor, year, month, day, time, TimeShape::Other)
        }
        (_, _, Some(b' ')) => {
            // HDFS: yyMMdd HHmmss
            let year = two_digit_year(cursor.number(2)?);
            let month = cursor.number(2)?;
            let day = cursor.number(2)?;
            cursor.expect(b' ')?;
            let hour = cursor.number(2)?;
            let minute = cursor.number(2)?;
            let second = cursor.number(2)?;
            let time = time_of_day(hour, minute, second, 0)?;
            civil(&cursor, year, month, day, time, TimeShape::Other)
        }
        _ => scan_epoch(&mut cursor),
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff][zone]`, also with `/` in the date.
fn scan_iso(cursor: &mut Cursor<'_>) -> Option<LeadingTime> {
    let year = cursor.number(4)?;
    let separator = cursor.next()?;
    let month = cursor.number(2)?;
    cursor.expect(separator)?;
    let day = cursor.number(2)?;
    let shape = match cursor.next()? {
        b'T' | b't' => TimeShape::IsoT,
        b' ' => TimeShape::Other,
        _ => return None,
    };
    let time = cursor.clock_time()?;
    let date = Date::new(i16::try_from(year).ok()?, month_of(month)?, day_of(day)?).ok()?;
    let datetime = date.to_datetime(time);
    let written = match cursor.zone_offset() {
        Some(offset) => WrittenTime::Instant(offset.to_timestamp(datetime).ok()?),
        None => WrittenTime::Civil(datetime),
    };
    Some(LeadingTime {
        written,
        len: cursor.position,
        shape,
    })
}

/// Epoch seconds (10 digits, optional fraction) or milliseconds (13
/// digits), followed by a space or the end of the line.
fn scan_epoch(cursor: &mut Cursor<'_>) -> Option<LeadingTime> {
    let whole_len = cursor
        .rest()
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let whole = cursor.number(whole_len)?;
    let instant = match whole_len {
        10 => {
            let nanos = if cursor.peek() == Some(b'.') {
                cursor.position += 1;
                cursor.fraction_nanos()?
            } else {
                0
            };
            Timestamp::new(whole, i32::try_from(nanos).ok()?).ok()?
        }
        13 => Timestamp::from_millisecond(whole).ok()?,
        _ => return None,
    };
    if !matches!(cursor.peek(), None | Some(b' ' | b'\t')) {
        return None;
    }
    Some(LeadingTime {
        written: WrittenTime::Instant(instant),
        len: cursor.position,
        shape: TimeShape::Other,
    })
}

/// Shapes that start with a letter: BSD syslog and ctime.
fn scan_named(bytes: &[u8]) -> Option<LeadingTime> {
    let mut cursor = Cursor::new(bytes);
    if let Some(month) = cursor.month_name() {
        // BSD: `Mmm dd HH:MM:SS` or `Mmm dd YYYY HH:MM:SS`; days may be space-padded.
        cursor.spaces()?;
        let day = cursor.short_number()?;
        cursor.expect(b' ')?;
        if cursor.rest().get(2) == Some(&b':') {
            let time = cursor.clock_time()?;
            let month = month_of(month)?;
            let day = day_of(day)?;
            // Reject `Feb 30` now rather than when a year is chosen.
            Date::new(2000, month, day).ok()?;
            return Some(LeadingTime {
                written: WrittenTime::NoYear { month, day, time },
                len: cursor.position,
                shape: TimeShape::Bsd,
            });
        }
        let year = cursor.number(4)?;
        cursor.expect(b' ')?;
        let time = cursor.clock_time()?;
        return civil(&cursor, year, month, day, time, TimeShape::Bsd);
    }
    // ctime: `Www Mmm dd HH:MM:SS[.ffffff] YYYY`
    cursor.weekday_name()?;
    cursor.expect(b' ')?;
    let month = cursor.month_name()?;
    cursor.spaces()?;
    let day = cursor.short_number()?;
    cursor.expect(b' ')?;
    let time = cursor.clock_time()?;
    cursor.expect(b' ')?;
    let year = cursor.number(4)?;
    civil(&cursor, year, month, day, time, TimeShape::Other)
}

fn civil(
    cursor: &Cursor<'_>,
    year: i64,
    month: i64,
    day: i64,
    time: Time,
    shape: TimeShape,
) -> Option<LeadingTime> {
    let date = Date::new(i16::try_from(year).ok()?, month_of(month)?, day_of(day)?).ok()?;
    Some(LeadingTime {
        written: WrittenTime::Civil(date.to_datetime(time)),
        len: cursor.position,
        shape,
    })
}

fn two_digit_year(year: i64) -> i64 {
    if year <= 68 { 2000 + year } else { 1900 + year }
}

fn month_of(month: i64) -> Option<i8> {
    i8::try_from(month)
        .ok()
        .filter(|month| (1..=12).contains(month))
}

fn day_of(day: i64) -> Option<i8> {
    i8::try_from(day).ok().filter(|day| (1..=31).contains(day))
}

/// A time of day; a leap second (`:60`) is read as `:59`.
fn time_of_day(hour: i64, minute: i64, second: i64, nanos: i64) -> Option<Time> {
    Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second.min(59)).ok()?,
        i32::try_from(nanos).ok()?,
    )
    .ok()
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];
const WEEKDAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];

/// A position in the bytes of a time stamp being read.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.position.min(self.bytes.len())..]
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Exactly `count` digits (at most 18, so that the value fits).
    fn number(&mut self, count: usize) -> Option<i64> {
        let digits = self.rest().get(..count)?;
        if count == 0 || count > 18 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.position += count;
        Some(
            digits
                .iter()
                .fold(0, |value, digit| value * 10 + i64::from(digit - b'0')),
        )
    }

    /// One or two digits, as days are written in BSD syslog and ctime.
    fn short_number(&mut self) -> Option<i64> {
        let count = self
            .rest()
            .iter()
            .take(3)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count > 2 {
            return None;
        }
        self.number(count)
    }

    /// At least one space.
    fn spaces(&mut self) -> Option<()> {
        let count = self.rest().iter().take_while(|&&b| b == b' ').count();
        self.position += count;
        (count > 0).then_some(())
    }

    /// `HH:MM:SS` with an optional fraction after `.` or `,`.
    fn clock_time(&mut self) -> Option<Time> {
        let hour = self.number(2)?;
        self.expect(b':')?;
        let minute = self.number(2)?;
        self.expect(b':')?;
        let second = self.number(2)?;
        let nanos = match (self.peek(), self.bytes.get(self.position + 1)) {
            (Some(b'.' | b','), Some(next)) if next.is_ascii_digit() => {
                self.position += 1;
                self.fraction_nanos()?
            }
            _ => 0,
        };
        time_of_day(hour, minute, second, nanos)
    }

    /// Decimal fraction digits as nanoseconds; digits past the ninth are
    /// read and dropped.
    fn fraction_nanos(&mut self) -> Option<i64> {
        let count = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count == 0 {
            return None;
        }
        let kept = count.min(9);
        let value = self.number(kept)?;
        self.position += count - kept;
        Some(value * 10_i64.pow(9 - kept as u32))
    }

    /// `Z`, `+HH`, `+HHMM` or `+HH:MM` (or `-`), right after the time.
    fn zone_offset(&mut self) -> Option<Offset> {
        let start = self.position;
        let offset = self.read_zone_offset();
        if offset.is_none() {
            self.position = start;
        }
        offset
    }

    fn read_zone_offset(&mut self) -> Option<Offset> {
        let sign = match self.next()? {
            b'Z' | b'z' => return Some(Offset::UTC),
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hours = self.number(2)?;
        let minutes = if self.peek() == Some(b':') {
            self.position += 1;
            self.number(2)?
        } else {
            self.number(2).unwrap_or(0)
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        let seconds = i32::try_from(sign * (hours * 3600 + minutes * 60)).ok()?;
        Offset::from_seconds(seconds).ok()
    }

    /// A three-letter English month name, any case, as a number 1-12.
    fn month_name(&mut self) -> Option<i64> {
        let index = self.three_letter_name(&MONTHS)?;
        Some(index as i64 + 1)
    }

    fn weekday_name(&mut self) -> Option<()> {
        self.three_letter_name(&WEEKDAYS).map(|_| ())
    }

    fn three_letter_name(&mut self, names: &[&[u8; 3]]) -> Option<usize> {
        let word = self.rest().get(..3)?;
        let index = names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(word))?;
        self.position += 3;
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> TimeContext<'static> {
        static UTC: TimeZone = TimeZone::UTC;
        TimeContext {
            zone: &UTC,
            received: "2026-11-26T12:00:00Z".parse().unwrap(),
        }
    }

    /// The instant and length of a leading stamp, read in UTC.
    fn leading(text: &str) -> Option<(String, usize, TimeShape)> {
        let found = scan_leading_time(text)?;
        let instant = utc().resolve(found.written)?;
        Some((instant.to_string(), found.len, found.shape))
    }

    #[test]
    fn every_documented_shape_is_read() {
        for (text, instant, len) in [
            ("2026-11-26T10:00:00.123Z x", "2026-11-26T10:00:00.123Z", 24),
            ("2026-11-26T10:00:00+01:00 x", "2026-11-26T09:00:00Z", 25),
            ("2026-11-26T10:00:00-0130 x", "2026-11-26T11:30:00Z", 24),
            ("2026-11-26T10:00:00+02", "2026-11-26T08:00:00Z", 22),
            (
                "2026-11-26 10:00:00,123 INFO",
                "2026-11-26T10:00:00.123Z",
                23,
            ),
            ("2026-11-26 10:00:00 - x", "2026-11-26T10:00:00Z", 19),
            ("2026/11/26 10:00:00 [error]", "2026-11-26T10:00:00Z", 19),
            (
                "2026-11-26T10:00:00.123456789123Z",
                "2026-11-26T10:00:00.123456789Z",
                33,
            ),
            ("Oct 11 22:14:15 host", "2026-10-11T22:14:15Z", 15),
            ("Jul  1 09:00:55 combo", "2026-07-01T09:00:55Z", 15),
            ("oct 11 2024 22:14:15 host", "2024-10-11T22:14:15Z", 20),
            (
                "[Sun Dec 04 04:47:44 2005] [error]",
                "2005-12-04T04:47:44Z",
                26,
            ),
            (
                "Tue Jun 08 11:54:08.929301 2021",
                "2021-06-08T11:54:08.929301Z",
                31,
            ),
            ("081109 203615 148 INFO", "2008-11-09T20:36:15Z", 13),
            ("17/06/09 20:10:41 INFO", "2017-06-09T20:10:41Z", 17),
            ("69/01/01 00:00:00", "1969-01-01T00:00:00Z", 17),
            ("1700000000 started", "2023-11-14T22:13:20Z", 10),
            ("1700000000.25 started", "2023-11-14T22:13:20.25Z", 13),
            ("1700000000123 started", "2023-11-14T22:13:20.123Z", 13),
            ("[2026-11-26 10:00:00,5] x", "2026-11-26T10:00:00.5Z", 23),
            ("2026-12-31T23:59:60Z", "2026-12-31T23:59:59Z", 20),
        ] {
            let (found, found_len, _) = leading(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((found.as_str(), found_len), (instant, len), "{text}");
        }
    }

    #[test]
    fn shapes_tell_where_syslog_headers_may_follow() {
        assert_eq!(leading("Oct 11 22:14:15 h").unwrap().2, TimeShape::Bsd);
        assert_eq!(
            leading("2026-11-26T10:00:00Z h").unwrap().2,
            TimeShape::IsoT
        );
        assert_eq!(
            leading("2026-11-26 10:00:00 h").unwrap().2,
            TimeShape::Other
        );
        assert_eq!(leading("[Oct 11 22:14:15] h").unwrap().2, TimeShape::Other);
    }

    #[test]
    fn near_misses_are_not_times() {
        for text in [
            "",
            "hello world",
            "2026-13-26T10:00:00Z",
            "2026-02-30 10:00:00",
            "2026-11-26T25:00:00Z",
            "2026-11-26",
            "2026-11-26T10:00:00Zulu",
            "2026-11-26X10:00:00",
            "Oct 32 22:14:15",
            "Feb 30 22:14:15",
            "Oct 11 22:14",
            "Octopus 11 22:14:15",
            "Oct 111 22:14:15",
            "Sun Dec 04 04:47:44",
            "[Sun Dec 04 04:47:44 2005",
            "081109 203615x",
            "081309 203615",
            "17/13/09 20:10:41",
            "170000000 x",
            "17000000001 x",
            "1700000000,x",
            "404 Not Found",
            "12345678901234567890123 x",
        ] {
            assert_eq!(scan_leading_time(text), None, "{text}");
        }
    }

    #[test]
    fn year_less_times_take_the_receive_year_unless_too_far_ahead() {
        let context = utc();
        let resolve = |month, day| {
            let time = Time::new(10, 0, 0, 0).unwrap();
            context
                .resolve(WrittenTime::NoYear { month, day, time })
                .map(|instant| instant.to_string())
        };
        assert_eq!(resolve(11, 26).unwrap(), "2026-11-26T10:00:00Z");
        assert_eq!(resolve(12, 3).unwrap(), "2026-12-03T10:00:00Z");
        assert_eq!(resolve(12, 4).unwrap(), "2025-12-04T10:00:00Z");
        assert_eq!(resolve(2, 29).unwrap(), "2024-02-29T10:00:00Z");
    }

    #[test]
    fn year_less_times_follow_the_configured_zone() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let context = TimeContext {
            zone: &zone,
            // Already 2027 in UTC, still 2026 in New York.
            received: "2027-01-01T03:00:00Z".parse().unwrap(),
        };
        let found = scan_leading_time("Jul  4 12:00:00 host").unwrap();
        let instant = context.resolve(found.written).unwrap();
        assert_eq!(instant.to_string(), "2026-07-04T16:00:00Z");
    }

    #[test]
    fn whole_values_and_epoch_counts() {
        let read = |text: &str| {
            parse_time_text(text)
                .and_then(|written| utc().resolve(written))
                .map(|instant| instant.to_string())
        };
        assert_eq!(read("1700000000").unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(read("1700000000123").unwrap(), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            read("1700000000123456").unwrap(),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            read("1700000000123456789").unwrap(),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(read("1700000000.5").unwrap(), "2023-11-14T22:13:20.5Z");
        assert_eq!(read("-1.5").unwrap(), "1969-12-31T23:59:58.5Z");
        assert_eq!(
            read(" 2026-11-26T10:00:00Z ").unwrap(),
            "2026-11-26T10:00:00Z"
        );
        assert_eq!(read("2026-11-26T10:00:00Z trailing"), None);
        assert_eq!(read("soon"), None);
        assert_eq!(read("1.2.3"), None);
        assert_eq!(read(""), None);
        let float = epoch_from_float(1_700_000_000.25).unwrap();
        assert_eq!(float.to_string(), "2023-11-14T22:13:20.25Z");
        let millis = epoch_from_float(1_700_000_000_123.0).unwrap();
        assert_eq!(millis.to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(epoch_from_float(f64::NAN), None);
        assert_eq!(epoch_from_float(1e300), None);
    }
}
