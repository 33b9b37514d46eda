//! Where the matches of one question lie on either side of a moment
//! ([`IndexReader::timeline`]): per bucket of event time, how many before
//! it, and after it how many and which came first.
//!
//! `incidents explain` asks this of each of dozens of candidate causes: the
//! busiest bucket of the baseline says what counts as a surge, the first
//! bucket after the split that reaches it is the onset, and its first
//! event is the example. One pass over the matches answers all three,
//! where two histograms and two top-1 searches would read them four times.

use std::collections::HashMap;

use firewatch_event::Timestamp;
use jiff::SignedDuration;
use tantivy::collector::{Collector, SegmentCollector, SegmentSortKeyComputer, SortKeyComputer};
use tantivy::columnar::Column;
use tantivy::{DateTime, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::aggregate::{bucket_start, bucket_width, index_nanos};
use crate::event_document::TIMESTAMP_FIELD;
use crate::order::{EventSortKey, EventTimeOrder, Order, SegmentEventTimeOrder};
use crate::reader::DaySearcher;
use crate::{EventHit, IndexError, IndexReader, SearchRequest};

/// The matches of a request around a split (see the module header).
pub struct Timeline {
    /// Matches per bucket before the split, oldest first; empty buckets
    /// left out. The bucket holding the split counts only what came before it.
    pub before: Vec<(Timestamp, u64)>,
    /// Buckets from the split on, oldest first; empty ones left out.
    pub after: Vec<TimelineBucket>,
    days: Vec<DaySearcher>,
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
    /// The matches of `request` in `[since, until)` on either side of
    /// `split`, per `bucket` (aligned as in [`IndexReader::histogram`]);
    /// `limit` and `order` are ignored.
    pub fn timeline(
        &self,
        request: &SearchRequest,
        bucket: SignedDuration,
        split: Timestamp,
    ) -> Result<Timeline, IndexError> {
        let width = bucket_width(bucket)?;
        // The window is checked on each match, as in `count_each`.
        let query = self.build_query(&SearchRequest {
            since: None,
            until: None,
            ..request.clone()
        })?;
        let collector = TimelineCollector {
            width,
            since: request.since.map_or(i64::MIN, index_nanos),
            split: index_nanos(split),
            until: request.until.map_or(i64::MAX, index_nanos),
        };
        let days = self.open_days(request.since, request.until)?;
        let mut sides = Sides::default();
        for (day, searcher) in days.iter().enumerate() {
            let mut found = searcher.search(&*query, &collector)?;
            for (_, first) in found.after.values_mut() {
                first.day = day;
            }
            sides.merge(found);
        }
        let mut before: Vec<(i64, u64)> = sides.before.into_iter().collect();
        before.sort_unstable();
        let mut after: Vec<(i64, (u64, FirstMatch))> = sides.after.into_iter().collect();
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
            days,
        })
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
}

/// Nanosecond bounds and bucket width of a timeline.
struct TimelineCollector {
    width: i64,
    since: i64,
    split: i64,
    until: i64,
}

impl Collector for TimelineCollector {
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
            since: self.since,
            split: self.split,
            until: self.until,
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
    since: i64,
    split: i64,
    until: i64,
    sides: Sides,
}

impl SegmentCollector for SegmentTimeline {
    type Fruit = Sides;

    fn collect(&mut self, doc: DocId, _score: Score) {
        // Every event document has a timestamp.
        let Some(time) = self.timestamp.first(doc) else {
            return;
        };
        let nanos = time.into_timestamp_nanos();
        if nanos < self.since || nanos >= self.until {
            return;
        }
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
