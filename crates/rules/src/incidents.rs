//! From matches to incidents: grouping, thresholds, quiet periods.
//!
//! State is kept per *group*: one rule and one incident key. A group holds
//! either a [`MatchWindow`] that is filling towards the rule's threshold, or
//! an open incident that further matches update. Nothing else is kept per
//! key, so memory follows the keys active in event time, not the input
//! length.
//!
//! Time is event time, moved by the watermark (the latest event time seen).
//! Every group has one armed deadline in a min-heap: for an open incident
//! `last_seen + resolve_after`, when it resolves; for a filling window
//! `newest match + window + LATE_EVENT_ALLOWANCE`, when the whole window
//! is too old to count and the group is dropped. A deadline that moved
//! later while waiting (a new match) is re-armed when it comes due, so a
//! busy group costs one heap entry, not one per match.
//!
//! Caps, so that memory stays bounded however long the input:
//! - [`MAX_RESOLVED_INCIDENTS`] resolved incidents are remembered, oldest
//!   resolution forgotten first (an unreported change is still reported);
//! - [`MAX_SAMPLES`] samples and [`MAX_TRIGGER_EVENTS`] trigger ids per
//!   incident;
//! - a window keeps matches for `window + LATE_EVENT_ALLOWANCE` behind the
//!   watermark, and fewer than `count` fit in any `window`, so it holds at
//!   most about `count × (2 + LATE_EVENT_ALLOWANCE / window)` matches.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use firewatch_event::{Event, Incident, IncidentId, IncidentState, Sample, Timestamp};
use jiff::SignedDuration;

use crate::limits::{
    LATE_EVENT_ALLOWANCE, MAX_RESOLVED_INCIDENTS, MAX_SAMPLES, MAX_TRIGGER_EVENTS,
};
use crate::rule::Rule;
use crate::window::MatchWindow;

/// Matches and incidents of every rule, by incident key.
#[derive(Debug)]
pub(crate) struct IncidentBook {
    /// Per rule (by index): incident key -> group.
    groups: Vec<HashMap<Box<str>, Group>>,
    deadlines: BinaryHeap<Reverse<Deadline>>,
    store: IncidentStore,
}

#[derive(Debug)]
struct Group {
    window: MatchWindow,
    open: Option<usize>,
    /// The deadline of this group's live heap entry; other entries for the
    /// group are stale and skipped.
    armed: Timestamp,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    at: Timestamp,
    rule: usize,
    key: Box<str>,
}

impl IncidentBook {
    /// An empty book for `rule_count` rules.
    pub fn new(rule_count: usize) -> Self {
        Self {
            groups: (0..rule_count).map(|_| HashMap::new()).collect(),
            deadlines: BinaryHeap::new(),
            store: IncidentStore::default(),
        }
    }

    /// Records a match of rule `rule_index` for the incident `key`. Returns
    /// the incident the match belongs to, when one is open after it.
    pub fn record(
        &mut self,
        rule_index: usize,
        rule: &Rule,
        key: &str,
        event: &Event,
        watermark: Timestamp,
    ) -> Option<IncidentId> {
        let groups = self.groups.get_mut(rule_index)?;
        let is_new = !groups.contains_key(key);
        if is_new {
            groups.insert(
                key.into(),
                Group {
                    window: MatchWindow::default(),
                    open: None,
                    armed: Timestamp::MAX,
                },
            );
        }
        let group = groups.get_mut(key)?;

        if let Some(slot) = group.open {
            return self.store.update(slot, event);
        }
        let sample = Sample {
            event_id: event.id,
            time: event.time(),
            message: event.message.clone(),
        };
        let fired = match rule.threshold {
            None => VecDeque::from([sample]),
            Some(threshold) => {
                let index = group.window.insert(sample);
                let count = usize::try_from(threshold.count).unwrap_or(usize::MAX);
                match group.window.firing_run(index, count, threshold.window) {
                    Some(start) => group.window.take_from(start),
                    None => {
                        let retention = threshold.window.saturating_add(LATE_EVENT_ALLOWANCE);
                        group.window.drop_older_than(earlier(watermark, retention));
                        if group.window.newest().is_none() {
                            // The match came too late to count with anything:
                            // keep no state for it.
                            groups.remove(key);
                        } else if is_new {
                            arm(
                                &mut self.deadlines,
                                group,
                                rule_index,
                                key,
                                rule,
                                &self.store,
                            );
                        }
                        return None;
                    }
                }
            }
        };
        let (slot, id) = self.store.open(rule, key, event, fired);
        group.open = Some(slot);
        arm(
            &mut self.deadlines,
            group,
            rule_index,
            key,
            rule,
            &self.store,
        );
        Some(id)
    }

    /// Resolves incidents and drops windows whose deadline the watermark
    /// has reached.
    pub fn expire(&mut self, rules: &[Rule], watermark: Timestamp) {
        while self
            .deadlines
            .peek()
            .is_some_and(|Reverse(deadline)| deadline.at <= watermark)
        {
            let Some(Reverse(deadline)) = self.deadlines.pop() else {
                break;
            };
            let (Some(groups), Some(rule)) =
                (self.groups.get_mut(deadline.rule), rules.get(deadline.rule))
            else {
                continue;
            };
            let Some(group) = groups.get_mut(&deadline.key) else {
                continue;
            };
            if group.armed != deadline.at {
                continue;
            }
            if let Some(slot) = group.open
                && let Some(resolve_at) = self.store.resolve_time(slot)
                && resolve_at <= watermark
            {
                self.store.resolve(slot, resolve_at);
                group.open = None;
            }
            match next_deadline(group, rule, &self.store) {
                Some(at) if at > watermark => {
                    group.armed = at;
                    self.deadlines.push(Reverse(Deadline { at, ..deadline }));
                }
                _ => {
                    groups.remove(&deadline.key);
                }
            }
        }
    }

    /// Incidents changed since the last call, each once, in its latest state.
    pub fn take_changes(&mut self) -> Vec<Incident> {
        self.store.take_changes()
    }

    /// Groups holding a window or an open incident.
    #[cfg(test)]
    pub fn active_groups(&self) -> usize {
        self.groups.iter().map(HashMap::len).sum()
    }

    /// Every incident remembered, ordered by first_seen (then id).
    pub fn incidents(&self) -> Vec<Incident> {
        let mut incidents: Vec<Incident> = self
            .store
            .slots
            .iter()
            .flatten()
            .map(|tracked| tracked.incident.clone())
            .collect();
        incidents.sort_by_key(|incident| (incident.first_seen, incident.id));
        incidents
    }
}

/// Arms the group's deadline when it is earlier than the one armed.
fn arm(
    deadlines: &mut BinaryHeap<Reverse<Deadline>>,
    group: &mut Group,
    rule_index: usize,
    key: &str,
    rule: &Rule,
    store: &IncidentStore,
) {
    if let Some(at) = next_deadline(group, rule, store)
        && at < group.armed
    {
        group.armed = at;
        deadlines.push(Reverse(Deadline {
            at,
            rule: rule_index,
            key: key.into(),
        }));
    }
}

/// When the group next needs attention: its open incident resolves, or its
/// window is too old to count. `None` when it holds nothing.
fn next_deadline(group: &Group, rule: &Rule, store: &IncidentStore) -> Option<Timestamp> {
    if let Some(slot) = group.open {
        return store.resolve_time(slot);
    }
    let retention = rule
        .threshold
        .map_or(SignedDuration::ZERO, |threshold| threshold.window)
        .saturating_add(LATE_EVENT_ALLOWANCE);
    group.window.newest().map(|newest| later(newest, retention))
}

fn later(time: Timestamp, duration: SignedDuration) -> Timestamp {
    time.checked_add(duration).unwrap_or(Timestamp::MAX)
}

fn earlier(time: Timestamp, duration: SignedDuration) -> Timestamp {
    time.checked_sub(duration).unwrap_or(Timestamp::MIN)
}

/// Incidents in reusable slots, with what changed since the last report.
#[derive(Debug, Default)]
struct IncidentStore {
    slots: Vec<Option<Tracked>>,
    free: Vec<usize>,
    /// Resolved incidents' slots, oldest resolution first.
    resolved: VecDeque<usize>,
    /// Slots whose incident may have changed since the last report; the
    /// `changed` flag of the slot decides.
    changed: Vec<usize>,
    /// Changed incidents forgotten before they were reported.
    forgotten_changes: Vec<Incident>,
}

#[derive(Debug)]
struct Tracked {
    incident: Incident,
    resolve_after: SignedDuration,
    changed: bool,
}

impl IncidentStore {
    /// Opens an incident from the matches that fired it (sorted by time).
    fn open(
        &mut self,
        rule: &Rule,
        key: &str,
        event: &Event,
        fired: VecDeque<Sample>,
    ) -> (usize, IncidentId) {
        let first_seen = fired
            .front()
            .map_or_else(|| event.time(), |sample| sample.time);
        let last_seen = fired
            .back()
            .map_or_else(|| event.time(), |sample| sample.time);
        let values = rule.group_values(event);
        let id = IncidentId::new(&rule.id, key, first_seen);
        let incident = Incident {
            id,
            rule: rule.id.to_string(),
            title: rule.title_template.render(&rule.id, &values),
            severity: rule.severity,
            key: key.to_owned(),
            group: rule
                .group_by
                .iter()
                .cloned()
                .zip(values)
                .collect::<BTreeMap<_, _>>(),
            state: IncidentState::Open,
            first_seen,
            last_seen,
            resolved_at: None,
            count: fired.len() as u64,
            trigger_events: fired
                .iter()
                .take(MAX_TRIGGER_EVENTS)
                .map(|sample| sample.event_id)
                .collect(),
            samples: fired.into_iter().take(MAX_SAMPLES).collect(),
        };
        let tracked = Tracked {
            incident,
            resolve_after: rule.resolve_after,
            changed: false,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(tracked);
                slot
            }
            None => {
                self.slots.push(Some(tracked));
                self.slots.len() - 1
            }
        };
        self.mark_changed(slot);
        (slot, id)
    }

    /// Counts a further match of an open incident.
    fn update(&mut self, slot: usize, event: &Event) -> Option<IncidentId> {
        let incident = &mut self.slots.get_mut(slot)?.as_mut()?.incident;
        let time = event.time();
        incident.count += 1;
        incident.last_seen = incident.last_seen.max(time);
        if incident.samples.len() < MAX_SAMPLES {
            incident.samples.push(Sample {
                event_id: event.id,
                time,
                message: event.message.clone(),
            });
        }
        let id = incident.id;
        self.mark_changed(slot);
        Some(id)
    }

    fn resolve_time(&self, slot: usize) -> Option<Timestamp> {
        let tracked = self.slots.get(slot)?.as_ref()?;
        Some(later(tracked.incident.last_seen, tracked.resolve_after))
    }

    fn resolve(&mut self, slot: usize, at: Timestamp) {
        let Some(tracked) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        tracked.incident.state = IncidentState::Resolved;
        tracked.incident.resolved_at = Some(at);
        self.mark_changed(slot);
        self.resolved.push_back(slot);
        while self.resolved.len() > MAX_RESOLVED_INCIDENTS {
            let Some(oldest) = self.resolved.pop_front() else {
                break;
            };
            if let Some(forgotten) = self.slots[oldest].take() {
                if forgotten.changed {
                    self.forgotten_changes.push(forgotten.incident);
                }
                self.free.push(oldest);
            }
        }
    }

    fn mark_changed(&mut self, slot: usize) {
        if let Some(tracked) = self.slots.get_mut(slot).and_then(Option::as_mut)
            && !tracked.changed
        {
            tracked.changed = true;
            self.changed.push(slot);
        }
    }

    fn take_changes(&mut self) -> Vec<Incident> {
        let mut changes = std::mem::take(&mut self.forgotten_changes);
        for slot in self.changed.drain(..) {
            if let Some(tracked) = self.slots.get_mut(slot).and_then(Option::as_mut)
                && tracked.changed
            {
                tracked.changed = false;
                changes.push(tracked.incident.clone());
            }
        }
        changes
    }
}
