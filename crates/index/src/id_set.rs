//! Events by id without a term per event.
//!
//! Every event has its own id, so indexing ids would add one term per
//! document to the term dictionary, for lookups that only `context`,
//! `explain` and upserts make. Ids are a fast column instead: one id is
//! found by a range query over the column ([`one_event_id`]; tantivy reads
//! fast columns for ranges), and the ids of a batch of upserts by one pass
//! over it per segment ([`EventIdSet`]), so that replacing a batch costs one
//! deletion, not one per event.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use tantivy::columnar::Column;
use tantivy::query::doc_predicate_query::{
    ConstOrVariableSegmentPredicate, DocPredicate, DocPredicateQuery, SegmentDocPredicate,
};
use tantivy::query::{AllScorer, Query, RangeQuery};
use tantivy::schema::Field;
use tantivy::{DocId, SegmentReader, Term};

use crate::event_document::EVENT_ID_FIELD;

/// The query of the event with id `id` in the `event_id` field.
pub(crate) fn one_event_id(field: Field, id: u64) -> Box<dyn Query> {
    let term = Term::from_field_u64(field, id);
    Box::new(RangeQuery::new(
        Bound::Included(term.clone()),
        Bound::Included(term),
    ))
}

/// The events whose id is one of a set.
#[derive(Debug)]
pub(crate) struct EventIdSet {
    ids: Arc<HashSet<u64>>,
    lowest: u64,
    highest: u64,
}

impl EventIdSet {
    /// The query of the events with any of `ids`.
    pub(crate) fn query(ids: HashSet<u64>) -> DocPredicateQuery {
        let lowest = ids.iter().copied().min().unwrap_or(u64::MAX);
        let highest = ids.iter().copied().max().unwrap_or(u64::MIN);
        DocPredicateQuery::from(EventIdSet {
            ids: Arc::new(ids),
            lowest,
            highest,
        })
    }
}

impl DocPredicate for EventIdSet {
    type SegmentDocPredicate = SegmentEventIdSet;

    fn doc_predicate(
        &self,
        reader: &SegmentReader,
    ) -> tantivy::Result<ConstOrVariableSegmentPredicate<SegmentEventIdSet>> {
        let column = reader.fast_fields().u64(EVENT_ID_FIELD)?;
        // A segment whose ids all lie outside the set's range holds none.
        if self.ids.is_empty()
            || column.max_value() < self.lowest
            || column.min_value() > self.highest
        {
            return Ok(ConstOrVariableSegmentPredicate::Const(false));
        }
        Ok(ConstOrVariableSegmentPredicate::Variable {
            predicate: SegmentEventIdSet {
                column,
                ids: self.ids.clone(),
            },
            necessary_condition: Box::new(AllScorer::new(reader.max_doc())),
        })
    }
}

/// [`EventIdSet`] on one segment.
pub(crate) struct SegmentEventIdSet {
    column: Column<u64>,
    ids: Arc<HashSet<u64>>,
}

impl SegmentDocPredicate for SegmentEventIdSet {
    fn eval(&mut self, doc: DocId) -> bool {
        self.column
            .first(doc)
            .is_some_and(|id| self.ids.contains(&id))
    }
}
