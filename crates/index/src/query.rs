//! From a [`SearchRequest`] to one tantivy query over a day index.
//!
//! The query text uses tantivy's syntax (Lucene-like). The default field is
//! `message`, and terms without an operator must all match
//! (`connection refused` means both words, as one expects when searching
//! logs). Filters are exact values ANDed to the query, and the time range
//! is a range over the `timestamp` fast field, compared at microsecond
//! precision (the precision of the index).

use std::ops::Bound;

use firewatch_event::{EventId, IncidentId, Level, TemplateId, Timestamp};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, QueryParser, QueryParserError, RangeQuery, TermQuery,
};
use tantivy::schema::{DateTimePrecision, Field, IndexRecordOption};

use crate::event_document::LogsSchema;
use crate::id_set::one_event_id;
use crate::time::to_index_date;
use crate::tokenizer::tokenizer_manager;
use crate::{IndexError, SearchRequest};

/// Fields a query may name, for error messages.
const QUERYABLE_FIELDS: &str = "message (default), host, service, level, level_rank, source, \
                                fields.NAME, incident, problem, template, timestamp";

/// Filter fields a [`SearchRequest`] accepts.
const FILTER_FIELDS: &str =
    "host, service, level, min_level, source, incident, event_id, problem, template or word";

/// Turns search requests into queries over the logs schema.
pub(crate) struct QueryBuilder {
    schema: LogsSchema,
    parser: QueryParser,
}

impl QueryBuilder {
    pub(crate) fn new(schema: LogsSchema) -> Self {
        let mut parser = QueryParser::new(
            schema.schema.clone(),
            vec![schema.message],
            tokenizer_manager(),
        );
        parser.set_conjunction_by_default();
        QueryBuilder { schema, parser }
    }

    /// The query of a request: its text, its filters and its time range, all required.
    pub(crate) fn build(&self, request: &SearchRequest) -> Result<Box<dyn Query>, IndexError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text = request.query.trim();
        if !(text.is_empty() || text == "*") {
            let query =
                self.parser
                    .parse_query(text)
                    .map_err(|error| IndexError::InvalidQuery {
                        query: request.query.clone(),
                        reason: describe(&error),
                    })?;
            clauses.push((Occur::Must, query));
        }
        for (field, value) in &request.filters {
            clauses.push((Occur::Must, self.filter(field, value)?));
        }
        if request.since.is_some() || request.until.is_some() {
            let bound = |time: Timestamp| {
                let date = to_index_date(time)
                    .0
                    .truncate(DateTimePrecision::Microseconds);
                Term::from_field_date(self.schema.timestamp, date)
            };
            let lower = request
                .since
                .map_or(Bound::Unbounded, |since| Bound::Included(bound(since)));
            let upper = request
                .until
                .map_or(Bound::Unbounded, |until| Bound::Excluded(bound(until)));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        Ok(match clauses.len() {
            0 => Box::new(AllQuery),
            1 => clauses.remove(0).1,
            _ => Box::new(BooleanQuery::new(clauses)),
        })
    }

    /// The exact-value query of one filter.
    fn filter(&self, field: &str, value: &str) -> Result<Box<dyn Query>, IndexError> {
        let invalid = |reason: String| IndexError::InvalidFilter {
            field: field.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let text_term = |field: Field, text: &str| Term::from_field_text(field, text);
        let term = match field {
            "host" => text_term(self.schema.host, value),
            "service" => text_term(self.schema.service, value),
            "source" => text_term(self.schema.source, value),
            "problem" => text_term(self.schema.problem, value),
            "template" => {
                let id: TemplateId = value.parse().map_err(|error| invalid(format!("{error}")))?;
                text_term(self.schema.template, &id.to_string())
            }
            // One word of the message, as `message_words` cuts it.
            "word" => text_term(self.schema.message, &value.to_lowercase()),
            // Stored lowercased, like the query parser does for `level:`.
            "level" => text_term(self.schema.level, &value.to_lowercase()),
            "incident" => {
                let id: IncidentId = value.parse().map_err(|error| invalid(format!("{error}")))?;
                text_term(self.schema.incident, &id.to_string())
            }
            "min_level" => {
                let level = Level::parse(value).ok_or_else(|| {
                    invalid("not a level; expected e.g. info, warn, error".into())
                })?;
                let rank = Term::from_field_u64(self.schema.level_rank, u64::from(level.rank()));
                return Ok(Box::new(RangeQuery::new(
                    Bound::Included(rank),
                    Bound::Unbounded,
                )));
            }
            "event_id" => {
                let id: EventId = value.parse().map_err(|error| invalid(format!("{error}")))?;
                return Ok(one_event_id(self.schema.event_id, id.0));
            }
            _ => {
                return Err(invalid(format!(
                    "unknown filter field; expected {FILTER_FIELDS}"
                )));
            }
        };
        Ok(Box::new(TermQuery::new(term, IndexRecordOption::Basic)))
    }
}

/// A query parser error in words a user can act on.
fn describe(error: &QueryParserError) -> String {
    match error {
        QueryParserError::SyntaxError(_) => "not valid query syntax: check parentheses, quotes \
                                              and `field:value` terms, e.g. \
                                              `level:error AND \"timed out\"`"
            .to_owned(),
        QueryParserError::FieldDoesNotExist(field) => {
            format!("unknown field `{field}`; queryable fields: {QUERYABLE_FIELDS}")
        }
        QueryParserError::FieldNotIndexed(field) => {
            format!(
                "field `{field}` is stored but not searchable; queryable fields: {QUERYABLE_FIELDS}"
            )
        }
        QueryParserError::AllButQueryForbidden => {
            "a query cannot only exclude: add something to match, e.g. `* -level:debug`".to_owned()
        }
        other => {
            let text = other.to_string();
            let mut characters = text.chars();
            match characters.next() {
                Some(first) => first.to_lowercase().chain(characters).collect(),
                None => text,
            }
        }
    }
}
