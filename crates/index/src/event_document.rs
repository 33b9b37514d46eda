//! The schema of the logs indexes, and the mapping between an [`Event`] and
//! its tantivy document.
//!
//! | field | type | how | why |
//! |---|---|---|---|
//! | `event_id` | u64 | stored, fast | lookup by id and upserts through the column ([`crate::id_set`]), tie-break |
//! | `timestamp` | date (µs) | indexed, stored, fast | event time: time ranges and ordering |
//! | `received` | date | stored | receive time |
//! | `time_is_received` | bool | indexed, stored | the line carried no time: `timestamp` is the receive time |
//! | `exact_times` | text | stored | only when a time lies outside tantivy's span (see [`crate::time`]) |
//! | `source`, `host`, `service` | keyword | indexed, stored, fast | exact filters; absent host/service = no value |
//! | `level` | keyword, lowercased | indexed, stored, fast | `level:ERROR` = `level:error` |
//! | `level_rank` | u64 | indexed, fast | "at least warn": `level_rank:>=5` |
//! | `line` | u64 | stored, fast | line in the stream; fast for deterministic ordering |
//! | `message` | text (log tokenizer, positions) | indexed, stored | free text and phrases |
//! | `fields` | JSON (log tokenizer, dots expanded) | indexed, stored, fast | `fields.status:503`, `fields.http.method:get`, ranges `fields.duration_ms:>500` |
//! | `incident` | keyword, multi-valued | indexed, stored | the incidents the event counted towards |
//! | `problem` | keyword, multi-valued | indexed, stored | `unparsed`, `truncated`, `invalid_utf8` |
//! | `problem_reason` | text | stored | why the line is marked |
//! | `template` | keyword | indexed, stored, fast | the message's template id (16 hex digits): `template:ID`, counts by template |
//!
//! Level is lowercased at both ends by a keyword tokenizer: stored values are
//! already the canonical lower-case names, and the query parser runs the
//! user's term through the same tokenizer, so any spelling of the case works.
//! Host, service and source stay case-sensitive: they are names.
//!
//! No field keeps norms: results are ordered by time, never by relevance.
//! Structured fields are stored exactly as given: strings that look like
//! dates stay strings (tantivy's own JSON conversion would turn them into
//! dates and lose their spelling).

use std::path::Path;
use std::sync::Arc;

use firewatch_event::{
    Event, EventId, FieldMap, IncidentId, Level, ParseProblem, TemplateId, Timestamp,
};
use serde::{Deserialize, Serialize};
use tantivy::TantivyDocument;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, NumericOptions,
    STORED, Schema, TextFieldIndexing, TextOptions, Value,
};

use crate::time::{from_index_date, to_index_date};
use crate::tokenizer::{LOG_TOKENIZER, LOWERCASE_KEYWORD_TOKENIZER};
use crate::{EventHit, IndexError};

/// Problem marks as indexed in the `problem` field.
const UNPARSED: &str = "unparsed";
const TRUNCATED: &str = "truncated";
const INVALID_UTF8: &str = "invalid_utf8";

/// Options of an exact-value field: one token, no norms.
pub(crate) fn keyword_options(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

/// Options of a free-text field: log tokenizer with positions, for phrases.
pub(crate) fn log_text_indexing() -> TextFieldIndexing {
    TextFieldIndexing::default()
        .set_tokenizer(LOG_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions)
        .set_fieldnorms(false)
}

/// Options of a date field that is searched by range and sorted on.
pub(crate) fn instant_options() -> DateOptions {
    DateOptions::default()
        .set_indexed()
        .set_stored()
        .set_fast()
        .set_precision(DateTimePrecision::Microseconds)
}

/// Both times of an event, exactly, for events whose times tantivy cannot hold.
#[derive(Serialize, Deserialize)]
struct ExactTimes {
    timestamp: Option<Timestamp>,
    received: Timestamp,
}

/// The schema of a day index, with its field handles.
#[derive(Clone)]
pub(crate) struct LogsSchema {
    pub(crate) schema: Schema,
    pub(crate) event_id: Field,
    pub(crate) timestamp: Field,
    received: Field,
    time_is_received: Field,
    exact_times: Field,
    pub(crate) source: Field,
    pub(crate) host: Field,
    pub(crate) service: Field,
    pub(crate) level: Field,
    pub(crate) level_rank: Field,
    line: Field,
    pub(crate) message: Field,
    fields: Field,
    pub(crate) incident: Field,
    pub(crate) problem: Field,
    problem_reason: Field,
    pub(crate) template: Field,
}

/// Field names the sort order reads as fast fields.
pub(crate) const TIMESTAMP_FIELD: &str = "timestamp";
pub(crate) const LINE_FIELD: &str = "line";
pub(crate) const EVENT_ID_FIELD: &str = "event_id";
/// The field of template ids.
pub(crate) const TEMPLATE_FIELD: &str = "template";

impl LogsSchema {
    pub(crate) fn new() -> Self {
        let mut builder = Schema::builder();
        let keyword = || keyword_options("raw").set_stored().set_fast("raw");
        let event_id = builder.add_u64_field(
            EVENT_ID_FIELD,
            NumericOptions::default().set_stored().set_fast(),
        );
        let timestamp = builder.add_date_field(TIMESTAMP_FIELD, instant_options());
        let received = builder.add_date_field("received", STORED);
        let time_is_received = builder.add_bool_field(
            "time_is_received",
            NumericOptions::default().set_indexed().set_stored(),
        );
        let exact_times = builder.add_text_field("exact_times", STORED);
        let source = builder.add_text_field("source", keyword());
        let host = builder.add_text_field("host", keyword());
        let service = builder.add_text_field("service", keyword());
        let level = builder.add_text_field(
            "level",
            keyword_options(LOWERCASE_KEYWORD_TOKENIZER)
                .set_stored()
                .set_fast("raw"),
        );
        let level_rank = builder.add_u64_field(
            "level_rank",
            NumericOptions::default().set_indexed().set_fast(),
        );
        let line = builder.add_u64_field(
            LINE_FIELD,
            NumericOptions::default().set_stored().set_fast(),
        );
        let message = builder.add_text_field(
            "message",
            TextOptions::default()
                .set_indexing_options(log_text_indexing())
                .set_stored(),
        );
        let fields = builder.add_json_field(
            "fields",
            JsonObjectOptions::default()
                .set_stored()
                .set_indexing_options(log_text_indexing())
                .set_expand_dots_enabled()
                .set_fast("raw"),
        );
        let incident = builder.add_text_field("incident", keyword_options("raw").set_stored());
        let problem = builder.add_text_field("problem", keyword_options("raw").set_stored());
        let problem_reason = builder.add_text_field("problem_reason", STORED);
        let template = builder.add_text_field(TEMPLATE_FIELD, keyword());
        LogsSchema {
            schema: builder.build(),
            event_id,
            timestamp,
            received,
            time_is_received,
            exact_times,
            source,
            host,
            service,
            level,
            level_rank,
            line,
            message,
            fields,
            incident,
            problem,
            problem_reason,
            template,
        }
    }

    /// The document of one event tagged with the incidents it counted towards.
    pub(crate) fn document(&self, event: &Event, incidents: &[IncidentId]) -> TantivyDocument {
        let mut document = TantivyDocument::new();
        document.add_u64(self.event_id, event.id.0);
        let (time, time_clamped) = to_index_date(event.time());
        let (received, received_clamped) = to_index_date(event.received);
        document.add_date(self.timestamp, time);
        document.add_date(self.received, received);
        if event.timestamp.is_none() {
            document.add_bool(self.time_is_received, true);
        }
        if time_clamped || received_clamped {
            let exact = ExactTimes {
                timestamp: event.timestamp,
                received: event.received,
            };
            if let Ok(text) = serde_json::to_string(&exact) {
                document.add_text(self.exact_times, text);
            }
        }
        document.add_text(self.source, &*event.source);
        if let Some(host) = &event.host {
            document.add_text(self.host, host);
        }
        if let Some(service) = &event.service {
            document.add_text(self.service, service);
        }
        document.add_text(self.level, event.level.as_str());
        document.add_u64(self.level_rank, u64::from(event.level.rank()));
        document.add_u64(self.line, event.line);
        document.add_text(self.message, &event.message);
        if !event.fields.is_empty() {
            document.add_field_value(self.fields, LiteralJson::Object(&event.fields));
        }
        for incident in incidents {
            document.add_text(self.incident, incident.to_string());
        }
        let problem = &event.problem;
        for (marked, name) in [
            (problem.unparsed, UNPARSED),
            (problem.truncated, TRUNCATED),
            (problem.invalid_utf8, INVALID_UTF8),
        ] {
            if marked {
                document.add_text(self.problem, name);
            }
        }
        if let Some(reason) = &problem.reason {
            document.add_text(self.problem_reason, reason);
        }
        if let Some(template) = event.template {
            document.add_text(self.template, template.to_string());
        }
        document
    }

    /// Rebuilds the event (and its incident ids) from a stored document of
    /// the index at `path`.
    pub(crate) fn event_hit(
        &self,
        document: &TantivyDocument,
        path: &Path,
    ) -> Result<EventHit, IndexError> {
        let bad = |reason: &str| IndexError::bad_document(path, reason);
        let text = |field: Field| document.get_first(field).and_then(|value| value.as_str());
        let number = |field: Field, name: &str| {
            document
                .get_first(field)
                .and_then(|value| value.as_u64())
                .ok_or_else(|| bad(&format!("no {name}")))
        };
        let instant = |field: Field, name: &str| {
            document
                .get_first(field)
                .and_then(|value| value.as_datetime())
                .and_then(from_index_date)
                .ok_or_else(|| bad(&format!("no {name}")))
        };

        let id = EventId(number(self.event_id, "event_id")?);
        let mut received = instant(self.received, "received")?;
        let is_received = document
            .get_first(self.time_is_received)
            .and_then(|value| value.as_bool())
            .unwrap_or(false);
        let mut timestamp = if is_received {
            None
        } else {
            Some(instant(self.timestamp, "timestamp")?)
        };
        if let Some(exact) = text(self.exact_times) {
            let exact: ExactTimes = serde_json::from_str(exact)
                .map_err(|error| bad(&format!("exact_times: {error}")))?;
            timestamp = exact.timestamp;
            received = exact.received;
        }
        let level_name = text(self.level).ok_or_else(|| bad("no level"))?;
        let level = Level::ALL
            .into_iter()
            .find(|level| level.as_str() == level_name)
            .ok_or_else(|| bad(&format!("unknown level {level_name:?}")))?;
        let fields = match document.get_first(self.fields) {
            Some(value) => match json_of(value) {
                serde_json::Value::Object(map) => map,
                _ => return Err(bad("fields is not an object")),
            },
            None => FieldMap::new(),
        };
        let mut problem = ParseProblem {
            reason: text(self.problem_reason).map(str::to_owned),
            ..ParseProblem::default()
        };
        for mark in document
            .get_all(self.problem)
            .filter_map(|value| value.as_str())
        {
            match mark {
                UNPARSED => problem.unparsed = true,
                TRUNCATED => problem.truncated = true,
                INVALID_UTF8 => problem.invalid_utf8 = true,
                other => return Err(bad(&format!("unknown problem mark {other:?}"))),
            }
        }
        let incidents = document
            .get_all(self.incident)
            .filter_map(|value| value.as_str())
            .map(|id| {
                id.parse::<IncidentId>()
                    .map_err(|error| bad(&format!("incident: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let template = text(self.template)
            .map(|id| {
                id.parse::<TemplateId>()
                    .map_err(|error| bad(&format!("template: {error}")))
            })
            .transpose()?;
        let event = Event {
            id,
            timestamp,
            received,
            source: Arc::from(text(self.source).ok_or_else(|| bad("no source"))?),
            line: number(self.line, "line")?,
            host: text(self.host).map(str::to_owned),
            service: text(self.service).map(str::to_owned),
            level,
            message: text(self.message).unwrap_or_default().to_owned(),
            fields,
            problem,
            template,
        };
        Ok(EventHit { event, incidents })
    }
}

/// A borrowed JSON value as tantivy should see it: strings stay strings.
///
/// tantivy's own `Value` impl for `serde_json::Value` turns strings that
/// parse as RFC 3339 into dates, which would change them on the way back.
#[derive(Clone, Copy, Debug)]
enum LiteralJson<'a> {
    Value(&'a serde_json::Value),
    Object(&'a FieldMap),
}

type ArrayOf<'a> = std::iter::Map<
    std::slice::Iter<'a, serde_json::Value>,
    fn(&'a serde_json::Value) -> LiteralJson<'a>,
>;
type ObjectOf<'a> = std::iter::Map<
    serde_json::map::Iter<'a>,
    fn((&'a String, &'a serde_json::Value)) -> (&'a str, LiteralJson<'a>),
>;

fn literal_item(value: &serde_json::Value) -> LiteralJson<'_> {
    LiteralJson::Value(value)
}

fn literal_entry<'a>(
    (key, value): (&'a String, &'a serde_json::Value),
) -> (&'a str, LiteralJson<'a>) {
    (key.as_str(), LiteralJson::Value(value))
}

impl<'a> Value<'a> for LiteralJson<'a> {
    type ArrayIter = ArrayOf<'a>;
    type ObjectIter = ObjectOf<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        let value = match *self {
            LiteralJson::Object(map) => {
                return ReferenceValue::Object(map.iter().map(literal_entry as fn(_) -> _));
            }
            LiteralJson::Value(value) => value,
        };
        let leaf = match value {
            serde_json::Value::Null => ReferenceValueLeaf::Null,
            serde_json::Value::Bool(flag) => ReferenceValueLeaf::Bool(*flag),
            serde_json::Value::Number(number) => {
                if let Some(signed) = number.as_i64() {
                    ReferenceValueLeaf::I64(signed)
                } else if let Some(unsigned) = number.as_u64() {
                    ReferenceValueLeaf::U64(unsigned)
                } else {
                    number
                        .as_f64()
                        .map_or(ReferenceValueLeaf::Null, ReferenceValueLeaf::F64)
                }
            }
            serde_json::Value::String(text) => ReferenceValueLeaf::Str(text),
            serde_json::Value::Array(items) => {
                return ReferenceValue::Array(items.iter().map(literal_item as fn(_) -> _));
            }
            serde_json::Value::Object(map) => {
                return ReferenceValue::Object(map.iter().map(literal_entry as fn(_) -> _));
            }
        };
        ReferenceValue::Leaf(leaf)
    }
}

/// The JSON value of a stored tantivy value (the inverse of [`LiteralJson`]).
fn json_of<'a, V: Value<'a>>(value: V) -> serde_json::Value {
    match value.as_value() {
        ReferenceValue::Leaf(leaf) => match leaf {
            ReferenceValueLeaf::Null => serde_json::Value::Null,
            ReferenceValueLeaf::Bool(flag) => serde_json::Value::Bool(flag),
            ReferenceValueLeaf::I64(signed) => serde_json::Value::from(signed),
            ReferenceValueLeaf::U64(unsigned) => serde_json::Value::from(unsigned),
            ReferenceValueLeaf::F64(float) => serde_json::Number::from_f64(float)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            ReferenceValueLeaf::Str(text) => serde_json::Value::String(text.to_owned()),
            ReferenceValueLeaf::Date(date) => from_index_date(date)
                .map_or(serde_json::Value::Null, |time| {
                    serde_json::Value::String(time.to_string())
                }),
            ReferenceValueLeaf::Facet(text) => serde_json::Value::String(text.to_owned()),
            ReferenceValueLeaf::IpAddr(address) => serde_json::Value::String(address.to_string()),
            ReferenceValueLeaf::PreTokStr(text) => serde_json::Value::String(text.text),
            ReferenceValueLeaf::Bytes(_) | ReferenceValueLeaf::Custom(_) => serde_json::Value::Null,
        },
        ReferenceValue::Array(items) => items.map(json_of).collect(),
        ReferenceValue::Object(entries) => serde_json::Value::Object(
            entries
                .map(|(key, value)| (key.to_owned(), json_of(value)))
                .collect(),
        ),
    }
}
