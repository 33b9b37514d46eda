//! Log levels, normalised from the many spellings found in the wild.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious an event is, from `Trace` to `Fatal`; `Unknown` when the line
/// does not say. The order is meaningful: `Level::Warn < Level::Error`, and
/// `Unknown` sorts lowest, so that "at least warn" never matches a line whose
/// level is unknown.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The line carries no recognisable level.
    #[default]
    Unknown,
    /// Finest tracing output.
    Trace,
    /// Debugging output.
    Debug,
    /// Normal operation.
    Info,
    /// Normal but significant (syslog `notice`).
    Notice,
    /// Something unexpected that the program survived.
    Warn,
    /// An operation failed.
    Error,
    /// A component failed (syslog `crit` and `alert`).
    Critical,
    /// The program or system cannot go on (syslog `emerg`, `FATAL`, `PANIC`).
    Fatal,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 9] = [
        Level::Unknown,
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Notice,
        Level::Warn,
        Level::Error,
        Level::Critical,
        Level::Fatal,
    ];

    /// Reads a level word in any common spelling, case-insensitively:
    /// `ERROR`, `err`, `E`, `warning`, `W`, `FATAL`, `panic`, `crit`,
    /// syslog severity names, and the digits 0-7 as syslog severities.
    /// Returns `None` for anything else.
    pub fn parse(word: &str) -> Option<Level> {
        let word = word.trim();
        // Level words are short ASCII: lower-case them on the stack, as this
        // runs for nearly every line.
        let mut buffer = [0u8; 13];
        let lower = buffer.get_mut(..word.len())?;
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        let lower = std::str::from_utf8(lower).ok()?;
        let level = match lower {
            "trace" | "trc" | "t" | "finest" | "finer" | "verbose" | "v" => Level::Trace,
            "debug" | "dbg" | "d" | "fine" | "config" => Level::Debug,
            "info" | "inf" | "i" | "information" | "informational" => Level::Info,
            "notice" | "n" => Level::Notice,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "e" | "severe" | "eror" => Level::Error,
            "critical" | "crit" | "c" | "alert" => Level::Critical,
            "fatal" | "ftl" | "f" | "panic" | "emerg" | "emergency" => Level::Fatal,
            _ => {
                return lower
                    .parse::<u8>()
                    .ok()
                    .and_then(Level::from_syslog_severity);
            }
        };
        Some(level)
    }

    /// Maps a syslog severity (RFC 5424 section 6.2.1, 0 = emergency) to a level.
    pub fn from_syslog_severity(severity: u8) -> Option<Level> {
        Some(match severity {
            0 => Level::Fatal,
            1 | 2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warn,
            5 => Level::Notice,
            6 => Level::Info,
            7 => Level::Debug,
            _ => return None,
        })
    }

    /// The canonical lower-case name, as stored in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Critical => "critical",
            Level::Fatal => "fatal",
        }
    }

    /// A small number that keeps the order (`Unknown` = 0 .. `Fatal` = 8),
    /// for range queries.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_normalise() {
        for (word, level) in [
            ("ERROR", Level::Error),
            ("Err", Level::Error),
            ("E", Level::Error),
            ("WARN", Level::Warn),
            ("warning", Level::Warn),
            ("FATAL", Level::Fatal),
            ("crit", Level::Critical),
            ("3", Level::Error),
            ("notice", Level::Notice),
            ("  info ", Level::Info),
        ] {
            assert_eq!(Level::parse(word), Some(level), "{word}");
        }
        assert_eq!(Level::parse("errors"), None);
        assert_eq!(Level::parse("9"), None);
    }

    #[test]
    fn names_round_trip_and_order_holds() {
        for level in Level::ALL {
            if level != Level::Unknown {
                assert_eq!(Level::parse(level.as_str()), Some(level));
            }
        }
        assert!(Level::Unknown < Level::Trace && Level::Error < Level::Fatal);
    }
}
