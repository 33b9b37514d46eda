//! One JSON object per line (the shape of Docker, Bunyan, pino, zap, logrus,
//! Elastic Common Schema and most structured loggers).
//!
//! The object's well-known keys become the event's time, level, message,
//! host and service (see `known_keys`); every other key stays in the fields
//! as it was, nested objects included. A line that is not a JSON object
//! (malformed, an array, a bare value) is rejected.
//!
//! The object is read straight into a [`KnownKeys`] collector rather than
//! into a map first, so that well-known keys never enter the field map and
//! keys without escapes are borrowed from the line until they are stored.

use std::borrow::Cow;
use std::fmt;

use firewatch_event::Event;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::known_keys::KnownKeys;
use crate::parser::Rejection;
use crate::time::TimeContext;

/// Parses a line holding one JSON object.
pub(crate) fn parse_json(
    line: &str,
    context: &TimeContext<'_>,
    event: &mut Event,
) -> Result<(), Rejection> {
    match serde_json::from_str::<JsonObject>(line) {
        Ok(JsonObject(keys)) => {
            keys.fill_event(line, context, event);
            Ok(())
        }
        // A data error is valid JSON of the wrong type (an array, a number).
        Err(error) if error.is_data() => Err(Rejection::JsonNotObject),
        Err(error) => Err(Rejection::Json(error)),
    }
}

/// A JSON object, read into a collector.
struct JsonObject(KnownKeys);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut keys = KnownKeys::new();
        while let Some(Key(key)) = map.next_key()? {
            keys.insert(key, map.next_value::<Value>()?);
        }
        Ok(JsonObject(keys))
    }
}

/// An object key, borrowed from the line when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }

    fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key)))
    }
}
