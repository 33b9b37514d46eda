//! How firewatch shows an instant to people.

use jiff::Timestamp;

/// Time as people read it in tables and reports: UTC, to the millisecond
/// (`2026-11-26 10:00:00.123Z`).
pub fn short_time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_show_in_utc_to_the_millisecond() {
        let time: Timestamp = "2026-11-26T11:00:00.123456+01:00".parse().unwrap();
        assert_eq!(short_time(time), "2026-11-26 10:00:00.123Z");
    }
}
