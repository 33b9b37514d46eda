//! The id of a log template, as events carry it.
//!
//! `firewatch-template` mines the templates; the id lives here so that an
//! [`Event`](crate::Event) can hold it without the event model depending on
//! the miner.

use xxhash_rust::xxh3::xxh3_64;

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

crate::id::hex_id_text!(TemplateId);

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
