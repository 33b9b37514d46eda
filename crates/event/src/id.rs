//! Stable identifiers.
//!
//! Ids are 64-bit xxh3 hashes of what identifies a thing at its origin (a file's
//! fingerprint and byte offset, a queue message's id and line), printed as 16
//! lower-case hex digits. The same input always yields the same id, on every
//! machine and release: that is what lets a re-delivered line replace its first
//! copy instead of doubling it.

use xxhash_rust::xxh3::Xxh3;

/// The stable id of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId(pub u64);

/// A string that is not 16 hex digits was given as an id.
#[derive(Debug, thiserror::Error)]
#[error("invalid id {0:?}: expected 16 hexadecimal digits")]
pub struct InvalidId(pub String);

/// Hashes parts with a separator-free length prefix, so that `["ab", "c"]`
/// and `["a", "bc"]` differ.
pub(crate) fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.digest()
}

pub(crate) fn parse_hex_id(text: &str) -> Result<u64, InvalidId> {
    // `from_str_radix` alone would accept a leading `+`.
    if text.len() != 16 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(InvalidId(text.to_owned()));
    }
    u64::from_str_radix(text, 16).map_err(|_| InvalidId(text.to_owned()))
}

/// Gives a `u64` newtype id its text form, 16 lower-case hex digits, for
/// display, parsing and serde alike, so that every id reads the same way.
macro_rules! hex_id_text {
    ($id:ty) => {
        impl std::fmt::Display for $id {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl std::str::FromStr for $id {
            type Err = $crate::InvalidId;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $crate::id::parse_hex_id(text).map(Self)
            }
        }

        impl serde::Serialize for $id {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $id {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use hex_id_text;

impl EventId {
    /// The id of an event identified by `parts` (e.g. source name, file
    /// fingerprint and byte offset).
    pub fn from_parts(parts: &[&[u8]]) -> Self {
        Self(hash_parts(parts))
    }
}

hex_id_text!(EventId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_round_trip() {
        let id = EventId::from_parts(&[b"app", b"42"]);
        assert_eq!(id, EventId::from_parts(&[b"app", b"42"]));
        assert_ne!(id, EventId::from_parts(&[b"ap", b"p42"]));
        assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
        assert!("xyz".parse::<EventId>().is_err());
        assert!("+00000000000000f".parse::<EventId>().is_err());
    }
}
