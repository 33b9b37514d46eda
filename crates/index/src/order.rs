//! Event-time order, as a tantivy top-k sort key.
//!
//! Search results come in event-time order. Sorting every match in memory
//! would cost as much as the matches; instead each day index runs tantivy's
//! top-k collector keyed on fast fields, which keeps only `limit` candidates
//! per segment. The key is `(timestamp, line, event_id)`, so that events
//! with the same timestamp (common with second-precision logs) always come
//! out in the same order: by line in their stream, then by id.

use std::cmp::Ordering;

use tantivy::collector::sort_key::Comparator;
use tantivy::collector::{SegmentSortKeyComputer, SortKeyComputer};
use tantivy::columnar::Column;
use tantivy::{DateTime, DocId, Score, SegmentReader};

use crate::event_document::{EVENT_ID_FIELD, LINE_FIELD, TIMESTAMP_FIELD};

/// Which end of the timeline comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// `(timestamp in nanoseconds, line, event id)`.
pub(crate) type EventSortKey = (i64, u64, u64);

/// Sorts matches by [`EventSortKey`] in the given [`Order`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventTimeOrder {
    pub(crate) order: Order,
}

/// Compares keys so that the keys tantivy keeps ("greatest first") are the
/// first ones in the requested order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EventTimeComparator {
    order: Order,
}

impl Comparator<EventSortKey> for EventTimeComparator {
    fn compare(&self, lhs: &EventSortKey, rhs: &EventSortKey) -> Ordering {
        match self.order {
            Order::Ascending => rhs.cmp(lhs),
            Order::Descending => lhs.cmp(rhs),
        }
    }
}

impl SortKeyComputer for EventTimeOrder {
    type SortKey = EventSortKey;
    type Child = SegmentEventTimeOrder;
    type Comparator = EventTimeComparator;

    fn comparator(&self) -> EventTimeComparator {
        EventTimeComparator { order: self.order }
    }

    fn segment_sort_key_computer(
        &self,
        segment_reader: &SegmentReader,
    ) -> tantivy::Result<SegmentEventTimeOrder> {
        let fast_fields = segment_reader.fast_fields();
        Ok(SegmentEventTimeOrder {
            timestamp: fast_fields.date(TIMESTAMP_FIELD)?,
            line: fast_fields.u64(LINE_FIELD)?,
            event_id: fast_fields.u64(EVENT_ID_FIELD)?,
            comparator: self.comparator(),
        })
    }
}

/// [`EventTimeOrder`] over the fast fields of one segment.
pub(crate) struct SegmentEventTimeOrder {
    timestamp: Column<DateTime>,
    line: Column<u64>,
    event_id: Column<u64>,
    comparator: EventTimeComparator,
}

impl SegmentSortKeyComputer for SegmentEventTimeOrder {
    type SortKey = EventSortKey;
    type SegmentSortKey = EventSortKey;
    type SegmentComparator = EventTimeComparator;

    fn segment_comparator(&self) -> EventTimeComparator {
        self.comparator
    }

    fn segment_sort_key(&mut self, doc: DocId, _score: Score) -> EventSortKey {
        // Every event document has all three values; a missing one sorts as zero.
        (
            self.timestamp
                .first(doc)
                .map_or(0, DateTime::into_timestamp_nanos),
            self.line.first(doc).unwrap_or(0),
            self.event_id.first(doc).unwrap_or(0),
        )
    }

    fn convert_segment_sort_key(&self, sort_key: EventSortKey) -> EventSortKey {
        sort_key
    }
}
