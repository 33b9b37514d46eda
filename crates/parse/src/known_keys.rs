//! The keys structured logs (JSON, logfmt) use for an event's time, level,
//! message, host and service.
//!
//! Each part has a list of spellings, tried in order; the first key whose
//! value can be read fills the part and leaves the fields, every other key
//! stays in the fields (a second spelling too: `{"msg": .., "message": ..}`
//! keeps `msg`). A dotted spelling matches a flat key (`"log.level"`) or a
//! nested one (`{"log": {"level": ..}}`); a nested object left empty is
//! removed.
//!
//! | part | keys | accepted values |
//! |---|---|---|
//! | time | `timestamp`, `@timestamp`, `ts`, `time`, `t`, `datetime`, `date` | a string in any shape of the `time` module, or an epoch count (number or numeric string; the unit follows from the magnitude) |
//! | level | `level`, `lvl`, `severity`, `loglevel`, `log.level`, `levelname` | a string `Level::parse` knows; a number 0-7 (syslog severity) or 10, 20, .. 60 (bunyan and pino) |
//! | message | `message`, `msg`, `@message`, `log`, `text`, `event` | a string |
//! | host | `host`, `hostname`, `host.name`, `@host` | a string |
//! | service | `service`, `service.name`, `app`, `application`, `app_name`, `appname`, `program` | a string |
//!
//! A logger name (`logger`, `logger_name`, `component`) is not a service: one
//! service has many loggers, so those stay in the fields.
//!
//! A line without a message key keeps its whole text as the message, so
//! that keyword rules and full-text search still see it.
//!
//! Parsers hand every key to a [`KnownKeys`] collector as they read it. The
//! collector sets well-known spellings aside instead of putting them into
//! the field map (and taking them out again): on the JSON hot path that
//! saves a key allocation and two map operations per well-known key.

use std::borrow::Cow;

use firewatch_event::{Event, FieldMap, Level};
use serde_json::{Map, Value};

use crate::time::{TimeContext, epoch_from_float, epoch_from_parts, parse_time_text};

/// A part of an event that well-known keys fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Time,
    Level,
    Message,
    Host,
    Service,
}

/// Every spelling, grouped by part, each group in order of preference.
const SPELLINGS: [(Part, &str); 30] = [
    (Part::Time, "timestamp"),
    (Part::Time, "@timestamp"),
    (Part::Time, "ts"),
    (Part::Time, "time"),
    (Part::Time, "t"),
    (Part::Time, "datetime"),
    (Part::Time, "date"),
    (Part::Level, "level"),
    (Part::Level, "lvl"),
    (Part::Level, "severity"),
    (Part::Level, "loglevel"),
    (Part::Level, "log.level"),
    (Part::Level, "levelname"),
    (Part::Message, "message"),
    (Part::Message, "msg"),
    (Part::Message, "@message"),
    (Part::Message, "log"),
    (Part::Message, "text"),
    (Part::Message, "event"),
    (Part::Host, "host"),
    (Part::Host, "hostname"),
    (Part::Host, "host.name"),
    (Part::Host, "@host"),
    (Part::Service, "service"),
    (Part::Service, "service.name"),
    (Part::Service, "app"),
    (Part::Service, "application"),
    (Part::Service, "app_name"),
    (Part::Service, "appname"),
    (Part::Service, "program"),
];

fn spelling_index(key: &str) -> Option<usize> {
    SPELLINGS.iter().position(|(_, spelling)| *spelling == key)
}

/// The keys and values of one structured line, with the well-known
/// spellings set aside until [`fill_event`](KnownKeys::fill_event).
pub(crate) struct KnownKeys {
    /// The value of each spelling of [`SPELLINGS`] met as a flat key.
    set_aside: [Option<Value>; SPELLINGS.len()],
    fields: FieldMap,
}

impl KnownKeys {
    pub(crate) fn new() -> Self {
        Self {
            set_aside: [const { None }; SPELLINGS.len()],
            fields: FieldMap::new(),
        }
    }

    /// Adds a key; a repeated key replaces the earlier value.
    pub(crate) fn insert(&mut self, key: Cow<'_, str>, value: Value) {
        match spelling_index(&key) {
            Some(index) => self.set_aside[index] = Some(value),
            None => {
                self.fields.insert(key.into_owned(), value);
            }
        }
    }

    /// Moves the well-known parts into `event`, and the rest into
    /// `event.fields`. `line` is the message when no key holds one.
    pub(crate) fn fill_event(mut self, line: &str, context: &TimeContext<'_>, event: &mut Event) {
        event.timestamp = self
            .take(Part::Time, |value| time_of(value, context))
            .map(|(instant, _)| instant);
        event.level = self
            .take(Part::Level, level_of)
            .map(|(level, _)| level)
            .unwrap_or_default();
        event.message = self
            .take_string(Part::Message)
            .unwrap_or_else(|| line.to_owned());
        event.host = self.take_string(Part::Host);
        event.service = self.take_string(Part::Service);
        // Spellings not taken (a second spelling, an unreadable value) are
        // ordinary fields under their own names.
        for ((_, spelling), value) in SPELLINGS.iter().zip(self.set_aside) {
            if let Some(value) = value {
                self.fields.insert((*spelling).to_owned(), value);
            }
        }
        event.fields = self.fields;
    }

    /// The first spelling of `part` whose value `read` accepts, with that
    /// value, which is removed.
    fn take<T>(&mut self, part: Part, read: impl Fn(&Value) -> Option<T>) -> Option<(T, Value)> {
        for (index, (spelling_part, spelling)) in SPELLINGS.iter().enumerate() {
            if *spelling_part != part {
                continue;
            }
            if let Some(found) = self.set_aside[index].as_ref().and_then(&read) {
                return Some((found, self.set_aside[index].take()?));
            }
            let Some((parent, child)) = spelling.split_once('.') else {
                continue;
            };
            let Some(object) = self.object_mut(parent) else {
                continue;
            };
            if let Some(found) = object.get(child).and_then(&read) {
                let value = object.remove(child)?;
                if object.is_empty() {
                    self.remove(parent);
                }
                return Some((found, value));
            }
        }
        None
    }

    fn take_string(&mut self, part: Part) -> Option<String> {
        match self.take(part, |value| value.is_string().then_some(()))? {
            (_, Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// The object under a top-level key, wherever it was put.
    fn object_mut(&mut self, key: &str) -> Option<&mut Map<String, Value>> {
        let value = match spelling_index(key) {
            Some(index) => self.set_aside[index].as_mut(),
            None => self.fields.get_mut(key),
        };
        value?.as_object_mut()
    }

    fn remove(&mut self, key: &str) {
        match spelling_index(key) {
            Some(index) => self.set_aside[index] = None,
            None => {
                self.fields.remove(key);
            }
        }
    }
}

fn time_of(value: &Value, context: &TimeContext<'_>) -> Option<jiff::Timestamp> {
    match value {
        Value::String(text) => context.resolve(parse_time_text(text)?),
        Value::Number(number) => match number.as_i64() {
            Some(whole) => epoch_from_parts(i128::from(whole), ""),
            None => epoch_from_float(number.as_f64()?),
        },
        _ => None,
    }
}

fn level_of(value: &Value) -> Option<Level> {
    match value {
        Value::String(text) => Level::parse(text),
        Value::Number(number) => match number.as_u64()? {
            severity @ 0..=7 => Level::from_syslog_severity(u8::try_from(severity).ok()?),
            10 => Some(Level::Trace),
            20 => Some(Level::Debug),
            30 => Some(Level::Info),
            40 => Some(Level::Warn),
            50 => Some(Level::Error),
            60 => Some(Level::Fatal),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use firewatch_event::{EventId, Timestamp};
    use jiff::tz::TimeZone;
    use serde_json::json;

    use super::*;

    fn filled(fields: Value) -> Event {
        let zone = TimeZone::UTC;
        let context = TimeContext {
            zone: &zone,
            received: Timestamp::UNIX_EPOCH,
        };
        let mut event = Event::new(EventId(1), Arc::from("test"), Timestamp::UNIX_EPOCH);
        let Value::Object(fields) = fields else {
            panic!("not an object")
        };
        let mut keys = KnownKeys::new();
        for (key, value) in fields {
            keys.insert(Cow::Owned(key), value);
        }
        keys.fill_event("the line", &context, &mut event);
        event
    }

    #[test]
    fn first_readable_spelling_wins_and_the_rest_stay() {
        let event = filled(json!({
            "time": "not a time",
            "ts": 1_700_000_000,
            "msg": "second",
            "message": "first",
            "level": {"odd": true},
            "severity": "ERROR",
            "host": {"name": "web-3", "ip": "10.0.0.3"},
            "app": "api",
            "logger": "db.pool",
        }));
        assert_eq!(event.timestamp.unwrap().to_string(), "2023-11-14T22:13:20Z");
        assert_eq!(event.message, "first");
        assert_eq!(event.level, Level::Error);
        assert_eq!(event.host.as_deref(), Some("web-3"));
        assert_eq!(event.service.as_deref(), Some("api"));
        assert_eq!(
            Value::Object(event.fields),
            json!({
                "time": "not a time",
                "msg": "second",
                "level": {"odd": true},
                "host": {"ip": "10.0.0.3"},
                "logger": "db.pool",
            })
        );
    }

    #[test]
    fn nested_parts_are_found_and_empty_parents_removed() {
        let event = filled(json!({
            "@timestamp": "2026-11-26T10:00:00.5Z",
            "log": {"level": "warn"},
            "service": {"name": "checkout"},
            "event": {"dataset": "x"},
        }));
        assert_eq!(
            event.timestamp.unwrap().to_string(),
            "2026-11-26T10:00:00.5Z"
        );
        assert_eq!(event.level, Level::Warn);
        assert_eq!(event.service.as_deref(), Some("checkout"));
        assert_eq!(event.message, "the line");
        assert_eq!(
            Value::Object(event.fields),
            json!({"event": {"dataset": "x"}})
        );
    }

    #[test]
    fn numeric_levels() {
        for (value, level) in [
            (json!(3), Level::Error),
            (json!(30), Level::Info),
            (json!(60), Level::Fatal),
            (json!("4"), Level::Warn),
            (json!(35), Level::Unknown),
            (json!(-1), Level::Unknown),
        ] {
            assert_eq!(filled(json!({ "level": value })).level, level, "{value}");
        }
    }
}
