//! The documents of a day whose event time lies in a window, found once
//! and shared by every question asked about that window.
//!
//! `incidents explain` counts hundreds of words and templates in the same
//! two windows. Putting the time range in each of those queries would scan
//! the day's timestamps once per word; checking each match's timestamp
//! decodes a fast-field value per match, and a common word matches all day
//! long. Instead the window is found once per day (tantivy's range query
//! over the timestamp column) as one bit set per segment, and each match is
//! a bit test.

use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{BitSet, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::reader::DaySearcher;
use crate::{IndexError, IndexReader, SearchRequest};

/// Per segment of one day (by segment ordinal), the documents in a window.
#[derive(Clone)]
pub(crate) struct WindowDocs {
    segments: Vec<Arc<BitSet>>,
}

impl WindowDocs {
    /// The documents of `segment` in the window; `None` when unbounded.
    pub(crate) fn of(window: Option<&WindowDocs>, segment: SegmentOrdinal) -> Option<Arc<BitSet>> {
        window.map(|window| {
            window
                .segments
                .get(segment as usize)
                .cloned()
                .unwrap_or_else(|| Arc::new(BitSet::with_max_value(0)))
        })
    }
}

impl IndexReader {
    /// The documents of `day` in the time range of `request` (its query
    /// and filters are ignored); `None` when the range is unbounded.
    pub(crate) fn window_docs(
        &self,
        day: &DaySearcher,
        request: &SearchRequest,
    ) -> Result<Option<WindowDocs>, IndexError> {
        if request.since.is_none() && request.until.is_none() {
            return Ok(None);
        }
        let range = self.build_query(&SearchRequest {
            since: request.since,
            until: request.until,
            ..SearchRequest::default()
        })?;
        let mut found = day.search(&*range, &WindowCollector)?;
        found.sort_by_key(|(segment, _)| *segment);
        Ok(Some(WindowDocs {
            segments: found.into_iter().map(|(_, docs)| Arc::new(docs)).collect(),
        }))
    }
}

/// Collects the matching documents of each segment in a bit set.
struct WindowCollector;

impl Collector for WindowCollector {
    type Fruit = Vec<(SegmentOrdinal, BitSet)>;
    type Child = SegmentWindowCollector;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentWindowCollector> {
        Ok(SegmentWindowCollector {
            segment,
            docs: BitSet::with_max_value(reader.max_doc()),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<(SegmentOrdinal, BitSet)>>,
    ) -> tantivy::Result<Vec<(SegmentOrdinal, BitSet)>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

/// [`WindowCollector`] on one segment.
struct SegmentWindowCollector {
    segment: SegmentOrdinal,
    docs: BitSet,
}

impl SegmentCollector for SegmentWindowCollector {
    type Fruit = Vec<(SegmentOrdinal, BitSet)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.docs.insert(doc);
    }

    fn harvest(self) -> Vec<(SegmentOrdinal, BitSet)> {
        vec![(self.segment, self.docs)]
    }
}
