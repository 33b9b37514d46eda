//! Sliding windows of matches in event time, for `threshold:`.
//!
//! Events may arrive out of order, so a window keeps its matches sorted by
//! event time and a late match is inserted where its time puts it, not at
//! the end. A run of `count` matches whose first and last are at most
//! `window` apart fires. Before an insert no such run exists (it would
//! have fired), so only runs that contain the new match need checking:
//! at most `count` of them.

use std::collections::VecDeque;

use firewatch_event::{Sample, Timestamp};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

/// Matches of one rule for one group that have not opened an incident yet,
/// sorted by event time (equal times in arrival order).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MatchWindow {
    entries: VecDeque<Sample>,
}

impl MatchWindow {
    /// Event time of the latest match held.
    pub fn newest(&self) -> Option<Timestamp> {
        self.entries.back().map(|entry| entry.time)
    }

    /// Inserts a match where its time puts it; returns its index.
    pub fn insert(&mut self, sample: Sample) -> usize {
        let index = self
            .entries
            .partition_point(|entry| entry.time <= sample.time);
        self.entries.insert(index, sample);
        index
    }

    /// The start of the earliest run of `count` matches that includes the
    /// one at `index` and spans at most `window`.
    pub fn firing_run(&self, index: usize, count: usize, window: SignedDuration) -> Option<usize> {
        let count = count.max(1);
        let first_start = index.saturating_sub(count - 1);
        (first_start..=index).find(|&start| {
            self.entries
                .get(start + count - 1)
                .is_some_and(|last| last.time.duration_since(self.entries[start].time) <= window)
        })
    }

    /// Removes and returns the matches from `start` on, in time order, and
    /// forgets the older ones.
    pub fn take_from(&mut self, start: usize) -> VecDeque<Sample> {
        let taken = self.entries.split_off(start);
        self.entries.clear();
        taken
    }

    /// Forgets matches older than `cutoff`.
    pub fn drop_older_than(&mut self, cutoff: Timestamp) {
        while self
            .entries
            .front()
            .is_some_and(|entry| entry.time < cutoff)
        {
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use firewatch_event::EventId;

    use super::*;

    fn at(second: i64) -> Sample {
        Sample {
            event_id: EventId(second as u64),
            time: Timestamp::from_second(1_700_000_000 + second).unwrap(),
            message: String::new(),
        }
    }

    fn times(window: &MatchWindow) -> Vec<u64> {
        window
            .entries
            .iter()
            .map(|entry| entry.event_id.0)
            .collect()
    }

    #[test]
    fn late_matches_are_inserted_by_time() {
        let mut window = MatchWindow::default();
        for second in [10, 30, 20, 5, 30] {
            window.insert(at(second));
        }
        assert_eq!(times(&window), [5, 10, 20, 30, 30]);
        window.drop_older_than(at(20).time);
        assert_eq!(times(&window), [20, 30, 30]);
    }

    #[test]
    fn runs_fire_only_within_the_window() {
        let minute = SignedDuration::from_mins(1);
        let mut window = MatchWindow::default();
        window.insert(at(0));
        window.insert(at(61));
        let index = window.insert(at(70));
        assert_eq!(window.firing_run(index, 3, minute), None);
        // A late match completes a run: 0..61 is too wide, 30..70 is not.
        let index = window.insert(at(30));
        assert_eq!(window.firing_run(index, 3, minute), Some(1));
        assert_eq!(window.firing_run(index, 2, minute), Some(0));
        let taken: Vec<u64> = window
            .take_from(1)
            .iter()
            .map(|entry| entry.event_id.0)
            .collect();
        assert_eq!(taken, [30, 61, 70]);
        assert_eq!(window.newest(), None);
    }
}
