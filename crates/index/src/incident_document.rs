//! The schema of the incidents index, and the mapping between an
//! [`Incident`] and its tantivy document.
//!
//! One document per incident, replaced whenever the incident changes
//! (delete by `incident_id`, then add). The searchable fields (`incident_id`,
//! `rule`, `state`, `severity`, `key` as keywords, `first_seen`/`last_seen`
//! as dates, `title` as log text) serve queries; the whole incident is also
//! stored as JSON so that it comes back exactly as it was written.

use std::path::Path;

use firewatch_event::{Incident, IncidentId};
use tantivy::schema::{Field, STORED, Schema, TextOptions, Value};
use tantivy::{TantivyDocument, Term};

use crate::IndexError;
use crate::event_document::{instant_options, keyword_options, log_text_indexing};
use crate::time::to_index_date;

/// The schema of the incidents index, with its field handles.
#[derive(Clone)]
pub(crate) struct IncidentsSchema {
    pub(crate) schema: Schema,
    incident_id: Field,
    rule: Field,
    state: Field,
    severity: Field,
    key: Field,
    first_seen: Field,
    last_seen: Field,
    title: Field,
    incident: Field,
}

impl IncidentsSchema {
    pub(crate) fn new() -> Self {
        let mut builder = Schema::builder();
        let keyword = || keyword_options("raw").set_stored().set_fast("raw");
        let incident_id = builder.add_text_field("incident_id", keyword());
        let rule = builder.add_text_field("rule", keyword());
        let state = builder.add_text_field("state", keyword());
        let severity = builder.add_text_field("severity", keyword());
        let key = builder.add_text_field("key", keyword());
        let first_seen = builder.add_date_field("first_seen", instant_options());
        let last_seen = builder.add_date_field("last_seen", instant_options());
        let title = builder.add_text_field(
            "title",
            TextOptions::default().set_indexing_options(log_text_indexing()),
        );
        let incident = builder.add_text_field("incident", STORED);
        IncidentsSchema {
            schema: builder.build(),
            incident_id,
            rule,
            state,
            severity,
            key,
            first_seen,
            last_seen,
            title,
            incident,
        }
    }

    /// The term that identifies an incident's document.
    pub(crate) fn id_term(&self, id: IncidentId) -> Term {
        Term::from_field_text(self.incident_id, &id.to_string())
    }

    /// The document of an incident, for the index at `path`.
    pub(crate) fn document(
        &self,
        incident: &Incident,
        path: &Path,
    ) -> Result<TantivyDocument, IndexError> {
        let json = serde_json::to_string(incident).map_err(|error| {
            IndexError::bad_document(path, format!("incident {}: {error}", incident.id))
        })?;
        let mut document = TantivyDocument::new();
        document.add_text(self.incident_id, incident.id.to_string());
        document.add_text(self.rule, &incident.rule);
        document.add_text(self.state, incident.state.as_str());
        document.add_text(self.severity, incident.severity.as_str());
        document.add_text(self.key, &incident.key);
        document.add_date(self.first_seen, to_index_date(incident.first_seen).0);
        document.add_date(self.last_seen, to_index_date(incident.last_seen).0);
        document.add_text(self.title, &incident.title);
        document.add_text(self.incident, json);
        Ok(document)
    }

    /// Rebuilds an incident from its stored document in the index at `path`.
    pub(crate) fn incident(
        &self,
        document: &TantivyDocument,
        path: &Path,
    ) -> Result<Incident, IndexError> {
        let json = document
            .get_first(self.incident)
            .and_then(|value| value.as_str())
            .ok_or_else(|| IndexError::bad_document(path, "no stored incident"))?;
        serde_json::from_str(json)
            .map_err(|error| IndexError::bad_document(path, format!("stored incident: {error}")))
    }
}
