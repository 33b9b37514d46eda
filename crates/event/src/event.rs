//! One parsed log event.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{EventId, Level, TemplateId};

/// Structured fields of an event: a JSON object.
pub type FieldMap = serde_json::Map<String, serde_json::Value>;

/// Why an event is not a clean parse. An event with a problem is still kept and
/// indexed: the mark tells people (and counters) what happened to the line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseProblem {
    /// The line could not be parsed in the requested (or any) format; the
    /// message holds the raw text.
    pub unparsed: bool,
    /// The line was longer than the source's limit and was cut.
    pub truncated: bool,
    /// The line was not valid UTF-8; invalid bytes were replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// A short, lower-case explanation, e.g. `invalid json: expected value at column 3`.
    pub reason: Option<String>,
}

impl ParseProblem {
    /// True when nothing went wrong.
    pub fn is_clean(&self) -> bool {
        !self.unparsed && !self.truncated && !self.invalid_utf8
    }
}

/// One log event, as parsed from one record (one line, or several joined lines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable id, derived from where the record came from.
    pub id: EventId,
    /// Time the event says it happened, when the line carries one.
    pub timestamp: Option<Timestamp>,
    /// Time firewatch received the line.
    pub received: Timestamp,
    /// Name of the source (as configured in the pipeline).
    pub source: Arc<str>,
    /// 1-based line number within the source stream where the event starts.
    pub line: u64,
    /// Host that produced the event.
    pub host: Option<String>,
    /// Service, application or program that produced the event.
    pub service: Option<String>,
    /// Normalised level.
    pub level: Level,
    /// The human message (for unparsed lines, the raw text).
    pub message: String,
    /// Structured fields (JSON keys, logfmt pairs, syslog facility, severity...).
    pub fields: FieldMap,
    /// What went wrong while reading or parsing, if anything.
    pub problem: ParseProblem,
    /// The template of the message, once a template miner has seen it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateId>,
}

impl Event {
    /// An empty event with an id, a source and a receive time.
    pub fn new(id: EventId, source: Arc<str>, received: Timestamp) -> Self {
        Self {
            id,
            timestamp: None,
            received,
            source,
            line: 0,
            host: None,
            service: None,
            level: Level::Unknown,
            message: String::new(),
            fields: FieldMap::new(),
            problem: ParseProblem::default(),
            template: None,
        }
    }

    /// Event time: the parsed time stamp, else the receive time. Rules and
    /// the index order events by this.
    pub fn time(&self) -> Timestamp {
        self.timestamp.unwrap_or(self.received)
    }

    /// Looks up a field by the names rules and queries use: `host`,
    /// `service`, `source`, `level`, `message`, or a structured field,
    /// optionally prefixed with `fields.` and dotted for nesting
    /// (`fields.http.status`). Numbers and booleans are returned as text.
    pub fn field_text(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match name {
            "host" => self.host.as_deref().map(Cow::Borrowed),
            "service" => self.service.as_deref().map(Cow::Borrowed),
            "source" => Some(Cow::Borrowed(&self.source)),
            "level" => Some(Cow::Borrowed(self.level.as_str())),
            "message" => Some(Cow::Borrowed(&self.message)),
            _ => {
                let path = name.strip_prefix("fields.").unwrap_or(name);
                let value = self.field_value(path)?;
                match value {
                    serde_json::Value::String(text) => Some(Cow::Borrowed(text)),
                    serde_json::Value::Null => None,
                    other => Some(Cow::Owned(other.to_string())),
                }
            }
        }
    }

    /// A structured field by dotted path: an exact key first (`http.status`
    /// as one key), then nested objects.
    pub fn field_value(&self, path: &str) -> Option<&serde_json::Value> {
        if let Some(value) = self.fields.get(path) {
            return Some(value);
        }
        let mut parts = path.split('.');
        let mut value = self.fields.get(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_text_reads_named_and_nested_fields() {
        let mut event = Event::new(EventId(1), "app".into(), Timestamp::UNIX_EPOCH);
        event.host = Some("web-03".into());
        event.fields = serde_json::json!({"http": {"status": 503}, "a.b": "flat"})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(event.field_text("host").unwrap(), "web-03");
        assert_eq!(event.field_text("fields.http.status").unwrap(), "503");
        assert_eq!(event.field_text("http.status").unwrap(), "503");
        assert_eq!(event.field_text("a.b").unwrap(), "flat");
        assert_eq!(event.field_text("service"), None);
        assert_eq!(event.field_text("level").unwrap(), "unknown");
    }
}
