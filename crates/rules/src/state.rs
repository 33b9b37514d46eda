//! What each rule type remembers per group between events.
//!
//! One value of [`GroupState`] lives in each group (one rule, one incident
//! key), beside the group's open incident if any. Every type works in event
//! time and accepts events out of order within the late-event allowance:
//! each entry is placed by its own time, never by arrival. Every state is
//! `serde`-serialisable, so that a detector's groups can be saved and
//! restored across a restart.
//!
//! Memory per group (caps in [`crate::limits`]):
//! - `spike`, `ratio`: counts in time buckets of 1/[`BUCKETS_PER_WINDOW`]
//!   of the window, for the windows counted plus the late-event allowance;
//! - `sequence`: the latest [`MAX_SEQUENCE_STEPS`] step events of each kind
//!   within `within` plus the allowance;
//! - `together`: the latest [`MAX_SEQUENCE_STEPS`] events of each of its
//!   conditions within `within` plus the allowance;
//! - `new_value`: up to [`MAX_KNOWN_VALUES`] values (kept for good);
//! - `cardinality`: at most `count` values, an exact set: once `count`
//!   distinct values are within the window the rule fires and the set is
//!   emptied, and a new value beyond `count` replaces the oldest;
//! - `absence`: the last time and the group values.

use std::collections::{HashMap, HashSet, VecDeque};

use firewatch_event::{Sample, Timestamp};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::limits::{BUCKETS_PER_WINDOW, MAX_KNOWN_VALUES, MAX_SEQUENCE_STEPS};
use crate::window::MatchWindow;

/// What one group of one rule remembers, by rule type.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum GroupState {
    /// `any` and `threshold`: matches not yet part of an incident.
    Matches(MatchWindow),
    /// `spike` and `ratio`: counts by time bucket.
    Counts(BucketCounts),
    /// `sequence`: recent events of each step.
    Steps(StepEvents),
    /// `together`: recent events of each condition.
    Together(TogetherEvents),
    /// `new_value`: values known in the group.
    Known(KnownValues),
    /// `cardinality`: distinct values and when each was last seen.
    Distinct(DistinctValues),
    /// `absence`: when the expected line was last seen.
    LastSeen(LastSeen),
}

impl GroupState {
    /// True when the state holds nothing that could count with a later
    /// event.
    pub fn is_empty(&self) -> bool {
        match self {
            GroupState::Matches(window) => window.newest().is_none(),
            GroupState::Counts(counts) => counts.newest().is_none(),
            GroupState::Steps(steps) => steps.newest().is_none(),
            GroupState::Together(together) => together.newest().is_none(),
            GroupState::Distinct(distinct) => distinct.newest().is_none(),
            GroupState::Known(_) | GroupState::LastSeen(_) => false,
        }
    }
}

/// Matching and population counts per time bucket, sorted by bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct BucketCounts {
    buckets: VecDeque<Bucket>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Bucket {
    index: i64,
    matched: u64,
    population: u64,
}

/// Bucket arithmetic for one window length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Buckets {
    width_nanos: i128,
}

impl Buckets {
    /// Buckets of 1/[`BUCKETS_PER_WINDOW`] of `window` (at least 1 ns).
    pub fn for_window(window: SignedDuration) -> Self {
        Self {
            width_nanos: (window.as_nanos() / i128::from(BUCKETS_PER_WINDOW)).max(1),
        }
    }

    /// The bucket `time` falls in.
    pub fn index(self, time: Timestamp) -> i64 {
        let index = time.as_nanosecond().div_euclid(self.width_nanos);
        i64::try_from(index).unwrap_or(if index < 0 { i64::MIN } else { i64::MAX })
    }

    /// The start of bucket `index`.
    pub fn start(self, index: i64) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(index) * self.width_nanos).unwrap_or(if index < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
    }
}

/// The number of buckets in one window.
pub(crate) const WINDOW_BUCKETS: i64 = BUCKETS_PER_WINDOW;

impl BucketCounts {
    /// Counts one event in bucket `index`.
    pub fn add(&mut self, index: i64, matched: bool) {
        let position = self.buckets.partition_point(|bucket| bucket.index < index);
        if self
            .buckets
            .get(position)
            .is_none_or(|bucket| bucket.index != index)
        {
            self.buckets.insert(
                position,
                Bucket {
                    index,
                    matched: 0,
                    population: 0,
                },
            );
        }
        if let Some(bucket) = self.buckets.get_mut(position) {
            bucket.population += 1;
            bucket.matched += u64::from(matched);
        }
    }

    /// (matched, population) over the buckets `from..=to`.
    pub fn sum(&self, from: i64, to: i64) -> (u64, u64) {
        let start = self.buckets.partition_point(|bucket| bucket.index < from);
        self.buckets
            .range(start..)
            .take_while(|bucket| bucket.index <= to)
            .fold((0, 0), |(matched, population), bucket| {
                (matched + bucket.matched, population + bucket.population)
            })
    }

    /// Forgets the buckets before `index`.
    pub fn drop_before(&mut self, index: i64) {
        while self
            .buckets
            .front()
            .is_some_and(|bucket| bucket.index < index)
        {
            self.buckets.pop_front();
        }
    }

    /// The latest bucket counted in.
    pub fn newest(&self) -> Option<i64> {
        self.buckets.back().map(|bucket| bucket.index)
    }

    /// Forgets everything (the counts made an incident).
    pub fn clear(&mut self) {
        self.buckets.clear();
    }
}

/// Recent events of a sequence's two steps, each sorted by time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct StepEvents {
    firsts: VecDeque<Sample>,
    thens: VecDeque<Sample>,
}

impl StepEvents {
    /// Records a step event; returns the pair (first, then) it completes
    /// within `within`, if any, and then forgets both steps' events.
    ///
    /// A late `first` may complete a `then` seen before it, as long as the
    /// `then` is later in event time: order is by time, not arrival. One
    /// event that is both steps does not complete a sequence on its own.
    pub fn record(
        &mut self,
        sample: Sample,
        is_first: bool,
        is_then: bool,
        within: SignedDuration,
    ) -> Option<[Sample; 2]> {
        let time = sample.time;
        let earlier =
            |first: &&Sample| first.time <= time && time.duration_since(first.time) <= within;
        if is_then && let Some(first) = self.firsts.iter().rev().find(earlier) {
            let pair = [first.clone(), sample];
            self.clear();
            return Some(pair);
        }
        if is_first
            && let Some(then) = self
                .thens
                .iter()
                .find(|then| then.time >= time && then.time.duration_since(time) <= within)
        {
            let pair = [sample, then.clone()];
            self.clear();
            return Some(pair);
        }
        if is_first {
            insert_sorted(&mut self.firsts, sample.clone());
        }
        if is_then {
            insert_sorted(&mut self.thens, sample);
        }
        None
    }

    /// Forgets step events before `cutoff`.
    pub fn drop_older_than(&mut self, cutoff: Timestamp) {
        for steps in [&mut self.firsts, &mut self.thens] {
            while steps.front().is_some_and(|step| step.time < cutoff) {
                steps.pop_front();
            }
        }
    }

    /// The latest step event held.
    pub fn newest(&self) -> Option<Timestamp> {
        let newest = |steps: &VecDeque<Sample>| steps.back().map(|step| step.time);
        newest(&self.firsts).max(newest(&self.thens))
    }

    fn clear(&mut self) {
        self.firsts.clear();
        self.thens.clear();
    }
}

/// Recent events of each condition of a `together` rule, each list sorted
/// by time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct TogetherEvents {
    steps: Vec<VecDeque<Sample>>,
}

impl TogetherEvents {
    /// Records an event that matches the conditions whose bits are set in
    /// `matched`; returns the events it completes a span with, if any, and
    /// then forgets every condition's events.
    ///
    /// A span is complete when events of at least `needed` distinct
    /// conditions, this event among them, lie within `within` of each
    /// other, in any order of time or arrival. An event counts for every
    /// condition it matches.
    pub fn record(
        &mut self,
        sample: Sample,
        matched: u64,
        steps: usize,
        needed: usize,
        within: SignedDuration,
    ) -> Option<Vec<Sample>> {
        self.steps.resize_with(steps, VecDeque::new);
        let time = sample.time;
        for (index, events) in self.steps.iter_mut().enumerate() {
            if matched & (1 << index) != 0 {
                insert_sorted(events, sample.clone());
            }
        }
        let earliest = time.checked_sub(within).unwrap_or(Timestamp::MIN);
        // The span that completes, if one does, starts at one of the events
        // held from `earliest` to this one.
        let mut starts: Vec<Timestamp> = self
            .steps
            .iter()
            .flatten()
            .map(|event| event.time)
            .filter(|start| (earliest..=time).contains(start))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        for start in starts {
            let end = start.checked_add(within).unwrap_or(Timestamp::MAX);
            let chosen: Vec<&Sample> = self
                .steps
                .iter()
                .enumerate()
                .filter_map(|(index, events)| {
                    if matched & (1 << index) != 0 {
                        return Some(&sample);
                    }
                    events
                        .iter()
                        .find(|event| (start..=end).contains(&event.time))
                })
                .collect();
            if chosen.len() >= needed {
                let mut fired: Vec<Sample> = Vec::with_capacity(chosen.len());
                for event in chosen {
                    if !fired.iter().any(|kept| kept.event_id == event.event_id) {
                        fired.push(event.clone());
                    }
                }
                fired.sort_by_key(|event| event.time);
                self.steps.iter_mut().for_each(VecDeque::clear);
                return Some(fired);
            }
        }
        None
    }

    /// Forgets events before `cutoff`.
    pub fn drop_older_than(&mut self, cutoff: Timestamp) {
        for events in &mut self.steps {
            while events.front().is_some_and(|event| event.time < cutoff) {
                events.pop_front();
            }
        }
    }

    /// The latest event held.
    pub fn newest(&self) -> Option<Timestamp> {
        self.steps
            .iter()
            .filter_map(|events| events.back().map(|event| event.time))
            .max()
    }
}

/// Inserts by time, keeping the latest [`MAX_SEQUENCE_STEPS`].
fn insert_sorted(steps: &mut VecDeque<Sample>, sample: Sample) {
    let index = steps.partition_point(|step| step.time <= sample.time);
    steps.insert(index, sample);
    if steps.len() > MAX_SEQUENCE_STEPS {
        steps.pop_front();
    }
}

/// Values a `new_value` rule knows in one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KnownValues {
    /// Event time of the group's earliest event: learning lasts from it.
    pub first_seen: Timestamp,
    values: HashSet<String>,
}

impl KnownValues {
    /// A group first seen at `time`.
    pub fn new(time: Timestamp) -> Self {
        Self {
            first_seen: time,
            values: HashSet::new(),
        }
    }

    /// Records `value` seen at `time`; true when it is new after the
    /// learning period (`learn` from the group's first event).
    pub fn is_new(&mut self, value: &str, time: Timestamp, learn: SignedDuration) -> bool {
        self.first_seen = self.first_seen.min(time);
        if self.values.contains(value) {
            return false;
        }
        if self.values.len() < MAX_KNOWN_VALUES {
            self.values.insert(value.to_owned());
        }
        let learning_ends = self.first_seen.checked_add(learn).unwrap_or(Timestamp::MAX);
        time >= learning_ends
    }
}

/// Distinct values of a `cardinality` rule in one group, each with the
/// latest time it was seen.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct DistinctValues {
    latest: HashMap<String, Timestamp>,
}

impl DistinctValues {
    /// Records `value` at `time`; returns how many distinct values fall
    /// in the window ending at `time` or, when later values came before it
    /// (out of order), in the latest window that still holds `time`. Each
    /// value counts at the latest time it was seen. Holds at most `count`
    /// values: a new one beyond that replaces the one seen longest ago.
    pub fn record(
        &mut self,
        value: &str,
        time: Timestamp,
        window: SignedDuration,
        count: usize,
    ) -> usize {
        match self.latest.get_mut(value) {
            Some(latest) => *latest = (*latest).max(time),
            None => {
                if self.latest.len() >= count
                    && let Some(oldest) = self
                        .latest
                        .iter()
                        .min_by_key(|(_, seen)| **seen)
                        .map(|(oldest, _)| oldest.clone())
                {
                    self.latest.remove(&oldest);
                }
                self.latest.insert(value.to_owned(), time);
            }
        }
        let newest = self.newest().unwrap_or(time);
        let latest_end = newest.min(time.checked_add(window).unwrap_or(Timestamp::MAX));
        [time, latest_end]
            .into_iter()
            .map(|end| {
                let start = end.checked_sub(window).unwrap_or(Timestamp::MIN);
                self.latest
                    .values()
                    .filter(|seen| (start..=end).contains(*seen))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// Forgets values last seen before `cutoff`.
    pub fn drop_older_than(&mut self, cutoff: Timestamp) {
        self.latest.retain(|_, seen| *seen >= cutoff);
    }

    /// The latest time any value was seen.
    pub fn newest(&self) -> Option<Timestamp> {
        self.latest.values().max().copied()
    }

    /// Forgets every value (they made an incident).
    pub fn clear(&mut self) {
        self.latest.clear();
    }
}

/// When an `absence` rule's group last showed its expected line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct LastSeen {
    /// Event time of the latest expected line (or when watching began,
    /// for a group listed in `expect`).
    pub time: Timestamp,
    /// The group values, for the incident's title.
    pub values: Vec<String>,
}

#[cfg(test)]
mod tests {
    use firewatch_event::EventId;

    use super::*;
    use crate::testing::second;

    fn at(offset: i64) -> Sample {
        Sample {
            event_id: EventId(offset as u64),
            time: second(offset),
            message: String::new(),
        }
    }

    #[test]
    fn buckets_count_by_time_whatever_the_arrival_order() {
        let buckets = Buckets::for_window(SignedDuration::from_secs(30));
        let mut counts = BucketCounts::default();
        for (offset, matched) in [(10, true), (0, false), (29, true), (5, true), (40, false)] {
            counts.add(buckets.index(second(offset)), matched);
        }
        let (from, to) = (buckets.index(second(0)), buckets.index(second(29)));
        assert_eq!(counts.sum(from, to), (3, 4));
        counts.drop_before(buckets.index(second(10)));
        assert_eq!(counts.sum(i64::MIN, i64::MAX), (2, 3));
        assert_eq!(counts.newest(), Some(buckets.index(second(40))));
        assert!(buckets.start(buckets.index(second(40))) <= second(40));
    }

    #[test]
    fn sequences_complete_in_event_time_order_only() {
        let within = SignedDuration::from_mins(1);
        let mut steps = StepEvents::default();
        assert!(steps.record(at(100), false, true, within).is_none());
        // A first after the then, in event time: no sequence.
        assert!(steps.record(at(130), true, false, within).is_none());
        // A late first before it completes it.
        let pair = steps.record(at(70), true, false, within).unwrap();
        assert_eq!(pair.map(|step| step.event_id.0), [70, 100]);
        assert_eq!(steps.newest(), None);
        // Too far apart.
        assert!(steps.record(at(200), true, false, within).is_none());
        assert!(steps.record(at(261), false, true, within).is_none());
        // One event that is both steps does not complete itself.
        let mut both = StepEvents::default();
        assert!(both.record(at(0), true, true, within).is_none());
        assert!(both.record(at(10), true, true, within).is_some());
    }

    #[test]
    fn together_fires_on_every_condition_within_the_span_in_any_order() {
        let within = SignedDuration::from_mins(1);
        let mut together = TogetherEvents::default();
        // Conditions 0, 1, 2; events arrive out of order.
        assert!(together.record(at(100), 0b100, 3, 3, within).is_none());
        assert!(together.record(at(130), 0b001, 3, 3, within).is_none());
        let fired = together.record(at(90), 0b010, 3, 3, within).unwrap();
        let ids: Vec<u64> = fired.iter().map(|event| event.event_id.0).collect();
        assert_eq!(ids, [90, 100, 130]);
        assert_eq!(together.newest(), None);

        // Too far apart: 0 at 200, 1 at 230, 2 at 261.
        assert!(together.record(at(200), 0b001, 3, 3, within).is_none());
        assert!(together.record(at(230), 0b010, 3, 3, within).is_none());
        assert!(together.record(at(261), 0b100, 3, 3, within).is_none());
        // ... but a second 0 at 240 completes 230, 240, 261.
        let fired = together.record(at(240), 0b001, 3, 3, within).unwrap();
        let ids: Vec<u64> = fired.iter().map(|event| event.event_id.0).collect();
        assert_eq!(ids, [230, 240, 261]);

        // Two of three suffice when count is 2; one event may be both.
        let mut two = TogetherEvents::default();
        assert_eq!(two.record(at(10), 0b110, 3, 2, within).unwrap().len(), 1);
        assert!(two.record(at(12), 0b001, 3, 2, within).is_none());
        assert!(two.record(at(15), 0b001, 3, 2, within).is_none());
        let fired = two.record(at(20), 0b100, 3, 2, within).unwrap();
        let ids: Vec<u64> = fired.iter().map(|event| event.event_id.0).collect();
        assert_eq!(ids, [12, 20]);
    }

    #[test]
    fn new_values_are_learned_then_fire_once() {
        let learn = SignedDuration::from_mins(10);
        let mut known = KnownValues::new(second(0));
        assert!(!known.is_new("a", second(0), learn));
        assert!(!known.is_new("b", second(599), learn));
        assert!(known.is_new("c", second(600), learn));
        assert!(!known.is_new("c", second(700), learn));
        assert!(!known.is_new("a", second(800), learn));
        // A late event from the learning period is learned, not new.
        assert!(!known.is_new("d", second(300), learn));
    }

    #[test]
    fn distinct_values_are_counted_within_the_window_and_capped() {
        let window = SignedDuration::from_mins(1);
        let mut distinct = DistinctValues::default();
        assert_eq!(distinct.record("a", second(0), window, 3), 1);
        assert_eq!(distinct.record("b", second(30), window, 3), 2);
        assert_eq!(distinct.record("a", second(40), window, 3), 2);
        // "b" at 30 and "a" at 40 are within a minute of 85; "c" is new.
        assert_eq!(distinct.record("c", second(85), window, 3), 3);
        // A fourth value replaces the oldest.
        assert_eq!(distinct.record("d", second(100), window, 3), 3);
        assert_eq!(distinct.latest.len(), 3);
        distinct.drop_older_than(second(86));
        assert_eq!(distinct.newest(), Some(second(100)));
        assert_eq!(distinct.latest.len(), 1);
    }

    #[test]
    fn states_round_trip_through_serde() {
        let mut state = GroupState::Steps(StepEvents::default());
        if let GroupState::Steps(steps) = &mut state {
            steps.record(at(5), true, false, SignedDuration::from_mins(1));
        }
        let text = serde_json::to_string(&state).unwrap();
        let back: GroupState = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        let text = serde_json::to_string(&GroupState::Matches(MatchWindow::default())).unwrap();
        assert!(serde_json::from_str::<GroupState>(&text).is_ok());
    }
}
