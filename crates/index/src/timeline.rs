//! Where the matches of a question lie on either side of a moment
//! ([`IndexReader::timelines`]): per bucket of event time, how many before
//! it, and after it how many and which came first.
//!
//! `incidents explain` asks this of each of dozens of candidate causes, all
//! over the same window: the busiest bucket of the baseline says what
//! counts as a surge, the first bucket after the split that reaches it is
//! the onset, and its first event is the example. One pass over each
//! candidate's matches answers all three, where two histograms and two
//! top-1 searches would read them four times.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use firewatch_event::Timestamp;
use jiff::SignedDuration;
use tantivy::collector::{Collector, SegmentCollector, SegmentSortKeyComputer, SortKeyComputer};
use tantivy::columnar::Column;
use tantivy::{BitSet, DateTime, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::aggregate::{bucket_start, bucket_width, index_nanos};
use crate::event_document::TIMESTAMP_FIELD;
use crate::order::{EventSortKey, EventTimeOrder, Order, SegmentEventTimeOrder};
use crate::reader::DaySearcher;
use crate::window::WindowDocs;
use crate::{EventHit, IndexError, IndexReader, SearchRequest};

/// The matches of one request around a split (see the module header).
pub struct Timeline {
    /// Matches per bucket before the split, oldest first; empty buckets
    /// left out. The bucket holding the split counts only what came before it.
    pub before: Vec<(Timestamp, u64)>,
    /// Buckets from the split on, oldest first; empty ones left out.
    pub after: Vec<TimelineBucket>,
    days: Arc<Vec<DaySearcher>>,
}

/// One bucket from the split on.
pub struct TimelineBucket {
    /// Its start (aligned as histogram buckets are; the first one may start
    /// before the split, but counts only what came at or after it).
    pub start: Timestamp,
    /// Matches in it.
    pub count: u64,
    first: FirstMatch,
}

/// The earliest match of a bucket, in search order, and where it is: the
/// day (an index into [`Timeline`]'s days, 0 within one day's search) and
/// the document.
#[derive(Clone, Copy)]
struct FirstMatch {
    key: EventSortKey,
    day: usize,
    address: DocAddress,
}

impl IndexReader {
    /// The matches of each of `requests` (their query and filters: their
    /// own time range, limit and order are ignored) in `window`, on either
    /// side of `split`, per `bucket` (aligned as in
    /// [`IndexReader::histogram`]); one timeline per request, in order.
    /// The window's documents are found once for all of them (see
    /// `crate::window`).
    pub fn timelines(
        &self,
        window: Range<Timestamp>,
        split: Timestamp,
        bucket: SignedDuration,
        requests: &[SearchRequest],
    ) -> Result<Vec<Timeline>, IndexError> {
        let width = bucket_width(bucket)?;
        let in_window = SearchRequest {
            since: Some(window.start),
            until: Some(window.end),
            ..SearchRequest::default()
        };
        let queries = requests
            .iter()
            .map(|request| {
                self.build_query(&SearchRequest {
                    since: None,
                    until: None,
                    ..request.clone()
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let days = Arc::new(self.open_days(in_window.since, in_window.until)?);
        let mut sides: Vec<Sides> = queries.iter().map(|_| Sides::default()).collect();
        for (day, searcher) in days.iter().enumerate() {
            let window_docs = self.window_docs(searcher, &in_window)?;
            let collector = TimelineCollector {
                width,
                split: index_nanos(split),
                window: window_docs.as_ref(),
            };
            for (query, sides) in queries.iter().zip(&mut sides) {
                let mut found = searcher.search(&**query, &collector)?;
                for (_, first) in found.after.values_mut() {
                    first.day = day;
                }
                sides.merge(found);
            }
        }
        sides
            .into_iter()
            .map(|sides| sides.timeline(width, &days))
            .collect()
    }

    /// The first event of `bucket` of `timeline`, in search order.
    pub fn first_in(
        &self,
        timeline: &Timeline,
        bucket: &TimelineBucket,
    ) -> Result<EventHit, IndexError> {
        let day = timeline.days.get(bucket.first.day).ok_or_else(|| {
            IndexError::InvalidAggregation("a bucket of another timeline".to_owned())
        })?;
        self.event_at(day, bucket.first.address)
    }
}

/// Counts per bucket index before and after the split, and the earliest
/// match of each bucket after it.
#[derive(Default)]
struct Sides {
    before: HashMap<i64, u64>,
    after: HashMap<i64, (u64, FirstMatch)>,
}

impl Sides {
    fn merge(&mut self, other: Sides) {
        for (index, count) in other.before {
            *self.before.entry(index).or_insert(0) += count;
        }
        for (index, (count, first)) in other.after {
            self.after
                .entry(index)
                .and_modify(|(total, earliest)| {
                    *total += count;
                    if first.key < earliest.key {
                        *earliest = first;
                    }
                })
                .or_insert((count, first));
        }
    }

    /// The timeline of these counts, buckets in time order.
    fn timeline(self, width: i64, days: &Arc<Vec<DaySearcher>>) -> Result<Timeline, IndexError> {
        let mut before: Vec<(i64, u64)> = self.before.into_iter().collect();
        before.sort_unstable();
        let mut after: Vec<(i64, (u64, FirstMatch))> = self.after.into_iter().collect();
        after.sort_unstable_by_key(|(index, _)| *index);
        Ok(Timeline {
            before: before
                .into_iter()
                .map(|(index, count)| Ok((bucket_start(index, width)?, count)))
                .collect::<Result<_, IndexError>>()?,
            after: after
                .into_iter()
                .map(|(index, (count, first))| {
                    Ok(TimelineBucket {
                        start: bucket_start(index, width)?,
                        count,
                        first,
                    })
                })
                .collect::<Result<_, IndexError>>()?,
            days: days.clone(),
        })
    }
}

/// The split (in nanoseconds), bucket width and window of a timeline.
struct TimelineCollector<'a> {
    width: i64,
    split: i64,
    window: Option<&'a WindowDocs>,
}

impl Collector for TimelineCollector<'_> {
    type Fruit = Sides;
    type Child = SegmentTimeline;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTimeline> {
        Ok(SegmentTimeline {
            segment,
            timestamp: reader.fast_fields().date(TIMESTAMP_FIELD)?,
            order: EventTimeOrder {
                order: Order::Ascending,
            }
            .segment_sort_key_computer(reader)?,
            width: self.width,
            split: self.split,
            window: WindowDocs::of(self.window, segment),
            sides: Sides::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Sides>) -> tantivy::Result<Sides> {
        let mut total = Sides::default();
        for fruit in fruits {
            total.merge(fruit);
        }
        Ok(total)
    }
}

/// [`TimelineCollector`] on one segment.
struct SegmentTimeline {
    segment: SegmentOrdinal,
    timestamp: Column<DateTime>,
    order: SegmentEventTimeOrder,
    width: i64,
    split: i64,
    window: Option<Arc<BitSet>>,
    sides: Sides,
}

impl SegmentCollector for SegmentTimeline {
    type Fruit = Sides;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if self
            .window
            .as_ref()
            .is_some_and(|window| !window.contains(doc))
        {
            return;
        }
        // Every event document has a timestamp.
        let Some(time) = self.timestamp.first(doc) else {
            return;
        };
        let nanos = time.into_timestamp_nanos();
        let index = nanos.div_euclid(self.width);
        if nanos < self.split {
            *self.sides.before.entry(index).or_insert(0) += 1;
            return;
        }
        match self.sides.after.get_mut(&index) {
            Some((count, first)) => {
                *count += 1;
                // The full key (line and id break ties) only when the time
                // alone cannot tell.
                if nanos <= first.key.0 {
                    let key = self.order.segment_sort_key(doc, 0.0);
                    if key < first.key {
                        first.key = key;
                        first.address = DocAddress::new(self.segment, doc);
                    }
                }
            }
            None => {
                let first = FirstMatch {
                    key: self.order.segment_sort_key(doc, 0.0),
                    day: 0,
                    address: DocAddress::new(self.segment, doc),
                };
                self.sides.after.insert(index, (1, first));
            }
        }
    }

    fn harvest(self) -> Sides {
        self.sides
    }
}
