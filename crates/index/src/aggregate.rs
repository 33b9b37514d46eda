//! Counting matches without reading a single stored document: the top
//! values of a field ([`IndexReader::count_by`]) and the matches per time
//! bucket ([`IndexReader::histogram`]), the two questions of "what is this
//! about" and "when did it start".
//!
//! Both are tantivy collectors over fast fields, run on every day index the
//! time range overlaps and merged in memory, so counts are exact (unlike a
//! terms aggregation, which keeps only the top values of each segment).
//! Per segment, a string column counts by term ordinal in a vector and
//! turns ordinals into text once, at the end; numbers count in a hash map.
//!
//! Histogram buckets are aligned on multiples of the bucket width since
//! the Unix epoch (a `1m` bucket starts on a whole minute), so the same
//! question asked twice draws the same bars. Every bucket between the
//! first and the last is returned, empty ones included: a gap in the logs
//! is an answer too. With `since`/`until`, the buckets span that range,
//! and the first and last ones may be partial.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Arc;

use firewatch_event::Timestamp;
use jiff::SignedDuration;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, DynamicColumn, StrColumn};
use tantivy::{BitSet, DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::event_document::TIMESTAMP_FIELD;
use crate::time::{from_index_date, to_index_date};
use crate::window::WindowDocs;
use crate::{IndexError, IndexReader, SearchRequest};

/// Most buckets a histogram may have, so that `--histogram 1s` over a year
/// is an error instead of a 30-million-line answer.
pub const MAX_BUCKETS: u64 = 100_000;

/// Fields that have one value per event and can be counted.
const COUNTABLE_FIELDS: [&str; 5] = ["host", "service", "level", "source", "template"];

/// The values of one field among the matching events, most frequent first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueCounts {
    /// `(value, events)`, most events first, ties by value; at most `limit`.
    pub values: Vec<(String, u64)>,
    /// Distinct values in all, including those past `limit`.
    pub distinct: u64,
    /// Events matching the request.
    pub matches: u64,
    /// Matching events without a value for the field.
    pub missing: u64,
}

impl IndexReader {
    /// The most frequent values of `field` (`host`, `service`, `level`,
    /// `source`, `template` or `fields.NAME`) among the events matching `request`
    /// (its `limit` and `order` are ignored), at most `limit` of them.
    pub fn count_by(
        &self,
        request: &SearchRequest,
        field: &str,
        limit: usize,
    ) -> Result<ValueCounts, IndexError> {
        let countable = COUNTABLE_FIELDS.contains(&field)
            || field
                .strip_prefix("fields.")
                .is_some_and(|name| !name.is_empty());
        if !countable {
            return Err(IndexError::InvalidAggregation(format!(
                "cannot count by `{field}`: expected one of {}, or fields.NAME",
                COUNTABLE_FIELDS.join(", ")
            )));
        }
        let query = self.build_query(request)?;
        let collector = ValueCounter { field };
        let mut total = Tally::default();
        for day in self.open_days(request.since, request.until)? {
            total.merge(day.search(&*query, &collector)?);
        }
        let distinct = total.counts.len() as u64;
        let mut values: Vec<(String, u64)> = total.counts.into_iter().collect();
        values.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
        values.truncate(limit);
        Ok(ValueCounts {
            values,
            distinct,
            matches: total.matches,
            missing: total.missing,
        })
    }

    /// How many events match `request` and, in turn, each entry of
    /// `variants` (more exact-value filters, ANDed like
    /// [`SearchRequest::filters`]): one count per variant, in order. The
    /// days are opened once for all of them, so that comparing many words
    /// or values between two time windows stays cheap.
    pub fn count_each(
        &self,
        request: &SearchRequest,
        variants: &[Vec<(String, String)>],
    ) -> Result<Vec<u64>, IndexError> {
        // The time window is found once per day and checked on each match
        // (see `crate::window`) rather than put in every variant's query.
        let queries = variants
            .iter()
            .map(|filters| {
                let mut narrowed = SearchRequest {
                    since: None,
                    until: None,
                    ..request.clone()
                };
                narrowed.filters.extend(filters.iter().cloned());
                self.build_query(&narrowed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = vec![0; queries.len()];
        for day in self.open_days(request.since, request.until)? {
            let window = self.window_docs(&day, request)?;
            let collector = WindowCount {
                window: window.as_ref(),
            };
            for (count, query) in counts.iter_mut().zip(&queries) {
                *count += day.search(&**query, &collector)?;
            }
        }
        Ok(counts)
    }

    /// Events matching `request` per `bucket` of event time, oldest bucket
    /// first, each labelled by its start; empty buckets included (see the
    /// module header for the alignment).
    pub fn histogram(
        &self,
        request: &SearchRequest,
        bucket: SignedDuration,
    ) -> Result<Vec<(Timestamp, u64)>, IndexError> {
        let width = bucket_width(bucket)?;
        // The window is checked on each match: one query reads the
        // timestamps of its matches anyway.
        let query = self.build_query(&SearchRequest {
            since: None,
            until: None,
            ..request.clone()
        })?;
        let collector = BucketCounter {
            width,
            since: request.since.map_or(i64::MIN, index_nanos),
            until: request.until.map_or(i64::MAX, index_nanos),
        };
        let mut counts = BTreeMap::new();
        for day in self.open_days(request.since, request.until)? {
            for (bucket, count) in day.search(&*query, &collector)? {
                *counts.entry(bucket).or_insert(0) += count;
            }
        }
        let nanos = |time: Timestamp| to_index_date(time).0.into_timestamp_nanos();
        let first = request
            .since
            .map(|since| nanos(since).div_euclid(width))
            .or_else(|| counts.keys().next().copied());
        let last = request
            .until
            .map(|until| nanos(until).saturating_sub(1).div_euclid(width))
            .or_else(|| counts.keys().next_back().copied());
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Vec::new());
        };
        if last < first {
            return Ok(Vec::new());
        }
        let buckets = last.abs_diff(first).saturating_add(1);
        if buckets > MAX_BUCKETS {
            return Err(IndexError::InvalidAggregation(format!(
                "a histogram of {bucket:#} buckets over this range has {buckets} buckets, \
                 more than {MAX_BUCKETS}: use wider buckets or a shorter --since/--until range"
            )));
        }
        (first..=last)
            .map(|index| {
                Ok((
                    bucket_start(index, width)?,
                    counts.get(&index).copied().unwrap_or(0),
                ))
            })
            .collect()
    }
}

/// A bucket's width in nanoseconds; an error unless positive.
pub(crate) fn bucket_width(bucket: SignedDuration) -> Result<i64, IndexError> {
    i64::try_from(bucket.as_nanos())
        .ok()
        .filter(|width| *width > 0)
        .ok_or_else(|| {
            IndexError::InvalidAggregation(format!("histogram bucket {bucket:#} must be positive"))
        })
}

/// The start of bucket `index` (buckets of `width` nanoseconds since the epoch).
pub(crate) fn bucket_start(index: i64, width: i64) -> Result<Timestamp, IndexError> {
    from_index_date(DateTime::from_timestamp_nanos(index.saturating_mul(width)))
        .ok_or_else(|| IndexError::InvalidAggregation("histogram bucket out of range".to_owned()))
}

/// Value counts of one segment, day or search.
#[derive(Default)]
struct Tally {
    counts: HashMap<String, u64>,
    matches: u64,
    missing: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (value, count) in other.counts {
            *self.counts.entry(value).or_insert(0) += count;
        }
        self.matches += other.matches;
        self.missing += other.missing;
    }
}

/// Counts the values of one fast field.
struct ValueCounter<'a> {
    field: &'a str,
}

impl Collector for ValueCounter<'_> {
    type Fruit = Tally;
    type Child = SegmentValueCounter;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentValueCounter> {
        let mut columns: Vec<Box<dyn ColumnTally>> = Vec::new();
        for handle in reader.fast_fields().dynamic_column_handles(self.field)? {
            match handle.open()? {
                DynamicColumn::Str(column) => columns.push(Box::new(StrTally {
                    counts: vec![0; column.num_terms()],
                    column,
                })),
                DynamicColumn::I64(column) => {
                    columns.push(Box::new(NumberTally::new(column, std::convert::identity)))
                }
                DynamicColumn::U64(column) => {
                    columns.push(Box::new(NumberTally::new(column, std::convert::identity)))
                }
                DynamicColumn::F64(column) => {
                    columns.push(Box::new(NumberTally::new(column, F64Key)))
                }
                DynamicColumn::Bool(column) => {
                    columns.push(Box::new(NumberTally::new(column, std::convert::identity)))
                }
                DynamicColumn::DateTime(column) => {
                    columns.push(Box::new(NumberTally::new(column, DateKey)))
                }
                // Structured fields never hold addresses or bytes.
                DynamicColumn::IpAddr(_) | DynamicColumn::Bytes(_) => {}
            }
        }
        Ok(SegmentValueCounter {
            columns,
            matches: 0,
            missing: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Tally>) -> tantivy::Result<Tally> {
        let mut total = Tally::default();
        for fruit in fruits {
            total.merge(fruit);
        }
        Ok(total)
    }
}

/// [`ValueCounter`] on one segment: a JSON path can have a column per
/// value type (`"503"` and `503`), each counted on its own.
struct SegmentValueCounter {
    columns: Vec<Box<dyn ColumnTally>>,
    matches: u64,
    missing: u64,
}

impl SegmentCollector for SegmentValueCounter {
    type Fruit = Tally;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.matches += 1;
        let mut found = false;
        for column in &mut self.columns {
            found |= column.collect(doc);
        }
        if !found {
            self.missing += 1;
        }
    }

    fn harvest(self) -> Tally {
        let mut tally = Tally {
            counts: HashMap::new(),
            matches: self.matches,
            missing: self.missing,
        };
        for column in self.columns {
            column.harvest(&mut tally.counts);
        }
        tally
    }
}

/// Counts of one typed column of a segment.
trait ColumnTally: Send {
    /// Counts the values of `doc`; false when it has none.
    fn collect(&mut self, doc: DocId) -> bool;
    /// Adds the counts, as text, to `counts`.
    fn harvest(self: Box<Self>, counts: &mut HashMap<String, u64>);
}

/// A string column, counted by term ordinal.
struct StrTally {
    column: StrColumn,
    counts: Vec<u64>,
}

impl ColumnTally for StrTally {
    fn collect(&mut self, doc: DocId) -> bool {
        let mut found = false;
        for ordinal in self.column.term_ords(doc) {
            if let Some(count) = usize::try_from(ordinal)
                .ok()
                .and_then(|ordinal| self.counts.get_mut(ordinal))
            {
                *count += 1;
                found = true;
            }
        }
        found
    }

    fn harvest(self: Box<Self>, counts: &mut HashMap<String, u64>) {
        let counted: Vec<u64> = (0u64..)
            .zip(&self.counts)
            .filter(|(_, count)| **count > 0)
            .map(|(ordinal, _)| ordinal)
            .collect();
        // The dictionary is read once, block after block, rather than a
        // block (decompressed anew) per value: high-cardinality fields have
        // thousands. A term missing from it cannot happen in a consistent
        // segment; such counts are dropped.
        let mut ordinals = counted.iter();
        let _ = self
            .column
            .dictionary()
            .sorted_ords_to_term_cb(&counted, |bytes| {
                let count = ordinals
                    .next()
                    .and_then(|ordinal| usize::try_from(*ordinal).ok())
                    .and_then(|ordinal| self.counts.get(ordinal))
                    .copied()
                    .unwrap_or(0);
                if let Ok(text) = std::str::from_utf8(bytes) {
                    *counts.entry(text.to_owned()).or_insert(0) += count;
                }
            });
    }
}

/// How a column value becomes a hash key and, at the end, text.
trait KeyOf<T>: Send + 'static {
    type Key: Hash + Eq + Send;
    fn key(&self, value: T) -> Self::Key;
    fn text(&self, key: Self::Key) -> String;
}

impl<T, F> KeyOf<T> for F
where
    F: Fn(T) -> T + Send + 'static,
    T: Hash + Eq + Send + ToString,
{
    type Key = T;
    fn key(&self, value: T) -> T {
        self(value)
    }
    fn text(&self, key: T) -> String {
        key.to_string()
    }
}

/// Floats count by their bits (`f64` is not `Hash`).
struct F64Key;

impl KeyOf<f64> for F64Key {
    type Key = u64;
    fn key(&self, value: f64) -> u64 {
        value.to_bits()
    }
    fn text(&self, key: u64) -> String {
        f64::from_bits(key).to_string()
    }
}

/// Dates count by nanoseconds and read back as RFC 3339.
struct DateKey;

impl KeyOf<DateTime> for DateKey {
    type Key = i64;
    fn key(&self, value: DateTime) -> i64 {
        value.into_timestamp_nanos()
    }
    fn text(&self, key: i64) -> String {
        from_index_date(DateTime::from_timestamp_nanos(key))
            .map_or_else(|| key.to_string(), |time| time.to_string())
    }
}

/// A numeric, boolean or date column, counted in a hash map.
struct NumberTally<T, K: KeyOf<T>> {
    column: Column<T>,
    keys: K,
    counts: HashMap<K::Key, u64>,
}

impl<T, K: KeyOf<T>> NumberTally<T, K> {
    fn new(column: Column<T>, keys: K) -> Self {
        NumberTally {
            column,
            keys,
            counts: HashMap::new(),
        }
    }
}

impl<T, K> ColumnTally for NumberTally<T, K>
where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
    K: KeyOf<T>,
{
    fn collect(&mut self, doc: DocId) -> bool {
        let mut found = false;
        for value in self.column.values_for_doc(doc) {
            *self.counts.entry(self.keys.key(value)).or_insert(0) += 1;
            found = true;
        }
        found
    }

    fn harvest(self: Box<Self>, counts: &mut HashMap<String, u64>) {
        let NumberTally {
            keys, counts: own, ..
        } = *self;
        for (key, count) in own {
            *counts.entry(keys.text(key)).or_insert(0) += count;
        }
    }
}

/// Event time as the index holds it, in nanoseconds since the epoch.
pub(crate) fn index_nanos(time: Timestamp) -> i64 {
    to_index_date(time)
        .0
        .truncate(tantivy::schema::DateTimePrecision::Microseconds)
        .into_timestamp_nanos()
}

/// Counts matches in a window (all of them without one).
struct WindowCount<'a> {
    window: Option<&'a WindowDocs>,
}

impl Collector for WindowCount<'_> {
    type Fruit = u64;
    type Child = SegmentWindowCount;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        _reader: &SegmentReader,
    ) -> tantivy::Result<SegmentWindowCount> {
        Ok(SegmentWindowCount {
            window: WindowDocs::of(self.window, segment),
            count: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<u64>) -> tantivy::Result<u64> {
        Ok(fruits.into_iter().sum())
    }
}

/// [`WindowCount`] on one segment.
struct SegmentWindowCount {
    window: Option<Arc<BitSet>>,
    count: u64,
}

impl SegmentCollector for SegmentWindowCount {
    type Fruit = u64;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if self
            .window
            .as_ref()
            .is_none_or(|window| window.contains(doc))
        {
            self.count += 1;
        }
    }

    fn harvest(self) -> u64 {
        self.count
    }
}

/// Counts matches in `[since, until)` (nanoseconds) per bucket of
/// `timestamp`, by bucket index since the epoch.
struct BucketCounter {
    width: i64,
    since: i64,
    until: i64,
}

impl Collector for BucketCounter {
    type Fruit = HashMap<i64, u64>;
    type Child = SegmentBucketCounter;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentBucketCounter> {
        Ok(SegmentBucketCounter {
            timestamp: reader.fast_fields().date(TIMESTAMP_FIELD)?,
            width: self.width,
            since: self.since,
            until: self.until,
            counts: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<HashMap<i64, u64>>) -> tantivy::Result<HashMap<i64, u64>> {
        let mut total = HashMap::new();
        for fruit in fruits {
            for (bucket, count) in fruit {
                *total.entry(bucket).or_insert(0) += count;
            }
        }
        Ok(total)
    }
}

/// [`BucketCounter`] on one segment.
struct SegmentBucketCounter {
    timestamp: Column<DateTime>,
    width: i64,
    since: i64,
    until: i64,
    counts: HashMap<i64, u64>,
}

impl SegmentCollector for SegmentBucketCounter {
    type Fruit = HashMap<i64, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        // Every event document has a timestamp.
        if let Some(time) = self.timestamp.first(doc) {
            let nanos = time.into_timestamp_nanos();
            if self.since <= nanos && nanos < self.until {
                *self.counts.entry(nanos.div_euclid(self.width)).or_insert(0) += 1;
            }
        }
    }

    fn harvest(self) -> HashMap<i64, u64> {
        self.counts
    }
}
