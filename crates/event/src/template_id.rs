//! The id of a log template, as events carry it.
//!
//! `firewatch-template` mines the templates; the id lives here so that an
//! [`Event`](crate::Event) can hold it without the event model depending on
//! the miner.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::xxh3_64;

use crate::InvalidId;

/// The stable id of a template: the xxh3 hash of the template's text when
/// it was first seen.
///
/// The id does not follow the template as it generalises
/// (`disk sda full` becoming `disk <*> full`): an id stored with an event
/// yesterday still finds today's events of the same template. It also
/// depends on nothing but that first text, so the same first message gives
/// the same id in every process and after a template was evicted and seen
/// again. Shown and parsed as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemplateId(pub u64);

impl TemplateId {
    /// The id of a template whose first text is `text`.
    pub fn of_text(text: &str) -> Self {
        Self(xxh3_64(text.as_bytes()))
    }
}

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for TemplateId {
    type Err = InvalidId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidId(text.to_owned());
        // `from_str_radix` alone would accept a leading `+`.
        if text.len() != 16 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        u64::from_str_radix(text, 16)
            .map(Self)
            .map_err(|_| invalid())
    }
}

impl Serialize for TemplateId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TemplateId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_sixteen_hex_digits() {
        let id = TemplateId::of_text("disk <*> full");
        let text = id.to_string();
        assert_eq!(text.len(), 16);
        assert_eq!(text.parse::<TemplateId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<TemplateId>(&json).unwrap(), id);
        assert!("xyz".parse::<TemplateId>().is_err());
        assert!("000000000000000g".parse::<TemplateId>().is_err());
        assert!("+00000000000000f".parse::<TemplateId>().is_err());
    }
}
