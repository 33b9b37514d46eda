//! Templates, their ids and their text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::xxh3_64;

use crate::Error;

/// What a template shows where its messages differ.
pub const WILDCARD: &str = "<*>";

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
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::InvalidTemplateId(text.to_owned());
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

/// One token of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TemplateToken {
    /// `None` for a wildcard.
    pub(crate) literal: Option<Box<str>>,
    /// No space before this token in the text.
    pub(crate) glued: bool,
}

/// Writes the text of `tokens` into `text`: tokens separated by one space
/// unless glued, wildcards as [`WILDCARD`].
pub(crate) fn render(tokens: &[TemplateToken], text: &mut String) {
    text.clear();
    for (index, token) in tokens.iter().enumerate() {
        if index > 0 && !token.glued {
            text.push(' ');
        }
        text.push_str(token.literal.as_deref().unwrap_or(WILDCARD));
    }
}

/// A template as [`TemplateMiner::templates`](crate::TemplateMiner::templates)
/// lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template<'a> {
    /// Its stable id.
    pub id: TemplateId,
    /// Its current text, `<*>` where its messages differ.
    pub text: &'a str,
    /// How many messages it has grouped since it was created.
    pub count: u64,
}

/// What [`TemplateMiner::add`](crate::TemplateMiner::add) did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateMatch<'a> {
    /// The id of the message's template.
    pub id: TemplateId,
    /// The template's text after this message (it may just have
    /// generalised).
    pub template: &'a str,
    /// The message started a new template.
    pub is_new: bool,
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
