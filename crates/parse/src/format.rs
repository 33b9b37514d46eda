//! The log formats a parser can be told to expect.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::Error;

/// Which parser to use for a source's lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Decide per line: JSON objects, syslog with a priority or a BSD
    /// header, logfmt, else plain text. Never marks a line unparsed.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// RFC 5424 or RFC 3164 syslog, with or without the `<PRI>` prefix
    /// (files such as `/var/log/messages` omit it).
    Syslog,
    /// `key=value key2="quoted value"` pairs.
    Logfmt,
    /// Anything: a leading time stamp and level word are taken out, the rest
    /// is the message. Never marks a line unparsed.
    Plain,
}

impl Format {
    /// Every format, in the order the error message lists them.
    pub const ALL: [Format; 5] = [
        Format::Auto,
        Format::Json,
        Format::Syslog,
        Format::Logfmt,
        Format::Plain,
    ];

    /// The lower-case name used in pipeline files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Json => "json",
            Format::Syslog => "syslog",
            Format::Logfmt => "logfmt",
            Format::Plain => "plain",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == name)
            .ok_or_else(|| Error::UnknownFormat(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>().unwrap(), format);
            assert_eq!(format.to_string(), format.as_str());
        }
        let error = "csv".parse::<Format>().unwrap_err().to_string();
        assert!(error.contains("\"csv\""), "{error}");
        for format in Format::ALL {
            assert!(error.contains(format.as_str()), "{error}");
        }
    }

    #[test]
    fn deserializes_from_lower_case_names() {
        let format: Format = serde_json::from_str("\"logfmt\"").unwrap();
        assert_eq!(format, Format::Logfmt);
        assert!(serde_json::from_str::<Format>("\"JSON\"").is_err());
    }
}
