//! Event time across several sources: the detector's watermark.
//!
//! Incidents resolve, and old window entries are dropped, when event time
//! has passed their deadline. With one source, event time is simply the
//! latest event time seen. With several sources read side by side (a JSON
//! file, a syslog file, a queue), one source may be hours ahead of another:
//! a replay reads each file as fast as it can. Were the watermark the latest
//! time of *any* source, the slower source's events would arrive "late" and
//! find their incidents already resolved, so the same logs would give
//! different incidents depending on read speed.
//!
//! So the watermark is the *minimum* over the sources still running of the
//! latest event time each has shown, as in stream processors' watermark
//! alignment:
//! - a source that is expected but has shown nothing yet holds the
//!   watermark back (it may still send early events);
//! - a finished source no longer holds it back;
//! - when every source has finished, the watermark is the latest time seen;
//! - an idle followed source is moved on by its owner
//!   ([`EventClock::advance_source`]) so that quiet periods pass;
//! - the watermark never moves backwards;
//! - after a restart, the sources of the last run come back finished (one
//!   that is not part of the new run holds nothing back) with the time each
//!   had reached; one that the new run declares again runs from there.

use std::collections::HashMap;
use std::sync::Arc;

use firewatch_event::Timestamp;

use crate::snapshot::SourceTime;

/// Per-source event times and the watermark derived from them.
#[derive(Debug, Default)]
pub(crate) struct EventClock {
    sources: HashMap<Arc<str>, SourceClock>,
    watermark: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct SourceClock {
    latest: Option<Timestamp>,
    finished: bool,
}

impl EventClock {
    /// The watermark: no event earlier than this is expected any more.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
    }

    /// Declares a source that will send events; it holds the watermark back
    /// until it shows an event or finishes. A source restored from the last
    /// run runs again, from the time it had reached.
    pub fn expect(&mut self, source: &str) {
        self.sources.entry(source.into()).or_default().finished = false;
    }

    /// Every source's latest time, to restore after a restart.
    pub fn snapshot(&self) -> Vec<SourceTime> {
        self.sources
            .iter()
            .map(|(name, clock)| SourceTime {
                name: name.to_string(),
                latest: clock.latest,
            })
            .collect()
    }

    /// A clock at the state of [`EventClock::snapshot`], every source
    /// finished until declared again.
    pub fn restore(sources: Vec<SourceTime>, watermark: Option<Timestamp>) -> Self {
        Self {
            sources: sources
                .into_iter()
                .map(|source| {
                    let clock = SourceClock {
                        latest: source.latest,
                        finished: true,
                    };
                    (source.name.into(), clock)
                })
                .collect(),
            watermark,
        }
    }

    /// `source` showed an event at `time`; returns the watermark.
    pub fn observe(&mut self, source: &Arc<str>, time: Timestamp) -> Option<Timestamp> {
        let clock = match self.sources.get_mut(source) {
            Some(clock) => clock,
            None => self.sources.entry(Arc::clone(source)).or_default(),
        };
        if clock.latest.is_some_and(|latest| latest >= time) {
            // Not newer than what this source showed: nothing moves.
            return self.watermark;
        }
        clock.latest = Some(time);
        self.recompute()
    }

    /// Moves an idle source's time on to `now` without an event.
    pub fn advance_source(&mut self, source: &str, now: Timestamp) -> Option<Timestamp> {
        let clock = self.sources.entry(source.into()).or_default();
        clock.latest = Some(clock.latest.map_or(now, |latest| latest.max(now)));
        self.recompute()
    }

    /// Moves every source's time on to at least `now`.
    pub fn advance_all(&mut self, now: Timestamp) -> Option<Timestamp> {
        for clock in self.sources.values_mut() {
            clock.latest = Some(clock.latest.map_or(now, |latest| latest.max(now)));
        }
        self.watermark = Some(self.watermark.map_or(now, |watermark| watermark.max(now)));
        self.recompute()
    }

    /// `source` will send nothing more.
    pub fn finish(&mut self, source: &str) -> Option<Timestamp> {
        self.sources.entry(source.into()).or_default().finished = true;
        self.recompute()
    }

    fn recompute(&mut self) -> Option<Timestamp> {
        let mut running = self
            .sources
            .values()
            .filter(|clock| !clock.finished)
            .peekable();
        let candidate = if running.peek().is_some() {
            // Any running source that has shown nothing holds time back.
            running.map(|clock| clock.latest).min().flatten()
        } else {
            self.sources.values().filter_map(|clock| clock.latest).max()
        };
        if let Some(candidate) = candidate {
            self.watermark = Some(
                self.watermark
                    .map_or(candidate, |watermark| watermark.max(candidate)),
            );
        }
        self.watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::second;

    #[test]
    fn one_source_is_its_latest_time() {
        let mut clock = EventClock::default();
        let app: Arc<str> = "app".into();
        assert_eq!(clock.observe(&app, second(10)), Some(second(10)));
        assert_eq!(
            clock.observe(&app, second(5)),
            Some(second(10)),
            "late events do not move it back"
        );
        assert_eq!(clock.observe(&app, second(20)), Some(second(20)));
    }

    #[test]
    fn the_slowest_running_source_sets_the_watermark() {
        let mut clock = EventClock::default();
        let (fast, slow): (Arc<str>, Arc<str>) = ("fast".into(), "slow".into());
        clock.expect("fast");
        clock.expect("slow");
        assert_eq!(
            clock.observe(&fast, second(3600)),
            None,
            "slow has shown nothing yet"
        );
        assert_eq!(clock.observe(&slow, second(60)), Some(second(60)));
        assert_eq!(clock.observe(&fast, second(7200)), Some(second(60)));
        assert_eq!(clock.observe(&slow, second(120)), Some(second(120)));
        assert_eq!(
            clock.finish("slow"),
            Some(second(7200)),
            "a finished source holds nothing back"
        );
    }

    #[test]
    fn all_finished_is_the_latest_time_seen() {
        let mut clock = EventClock::default();
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        clock.expect("a");
        clock.expect("b");
        clock.observe(&a, second(50));
        clock.observe(&b, second(10));
        assert_eq!(clock.watermark(), Some(second(10)));
        clock.finish("a");
        assert_eq!(clock.finish("b"), Some(second(50)));
    }

    #[test]
    fn restored_sources_hold_time_back_only_once_declared_again() {
        let mut clock = EventClock::default();
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        clock.expect("a");
        clock.expect("b");
        clock.observe(&a, second(50));
        clock.observe(&b, second(30));
        let mut restored = EventClock::restore(clock.snapshot(), clock.watermark());
        assert_eq!(restored.watermark(), Some(second(30)));
        // Only `b` runs again: `a`, absent from this run, holds nothing back.
        restored.expect("b");
        assert_eq!(restored.observe(&b, second(40)), Some(second(40)));
        assert_eq!(
            restored.observe(&b, second(20)),
            Some(second(40)),
            "never back"
        );
    }

    #[test]
    fn idle_sources_can_be_moved_on() {
        let mut clock = EventClock::default();
        let (busy, idle): (Arc<str>, Arc<str>) = ("busy".into(), "idle".into());
        clock.expect("idle");
        clock.observe(&busy, second(100));
        clock.observe(&idle, second(10));
        assert_eq!(clock.advance_source("idle", second(90)), Some(second(90)));
        assert_eq!(clock.advance_all(second(500)), Some(second(500)));
    }
}
