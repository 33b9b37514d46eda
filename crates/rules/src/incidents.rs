//! From matches to incidents: grouping, rule types, quiet periods.
//!
//! State is kept per *group*: one rule and one incident key. A group holds
//! what its rule type remembers between events (a [`GroupState`]: a window
//! filling towards a threshold, bucket counts, sequence steps, known
//! values, ...), and an open incident if there is one. Nothing else is
//! kept per key, so memory follows the keys active in event time, not the
//! input length; `absence` and `new_value` groups, which must outlive their
//! events, are capped at [`MAX_REMEMBERED_GROUPS`] per rule instead.
//!
//! Time is event time, moved by the watermark. Every group has one armed
//! deadline in a min-heap: for an open incident `last_seen +
//! resolve_after`, when it resolves; for an `absence` group `last_seen +
//! period`, when the missing line opens an incident; for other state the
//! time its newest entry is too old to count (`window` plus
//! `LATE_EVENT_ALLOWANCE` behind), when the group is dropped. A deadline
//! that moved later while waiting (a new match) is re-armed when it comes
//! due, so a busy group costs one heap entry, not one per match.
//!
//! An `absence` incident resolves only when the expected line comes back,
//! not after a quiet period.
//!
//! An incident's life past firing (pending under `for`, reopening and
//! flapping, escalation, its history) follows the `lifecycle` module. A
//! pending incident sits in the store like an open one (same deadline:
//! `last_seen + resolve_after`, when it is dropped instead of resolved) but
//! is not reported until it fires. A group whose rule has `flap` remembers
//! its last resolved incident (`recent`) and stays until `within` after the
//! resolution, so that a refire reopens that incident.
//!
//! The groups (with their open incidents) can be written out and taken back
//! across a restart; the heap is rebuilt from them (see the `snapshot`
//! module).
//!
//! Caps, so that memory stays bounded however long the input:
//! - [`MAX_RESOLVED_INCIDENTS`] resolved incidents are remembered, oldest
//!   resolution forgotten first (an unreported change is still reported);
//! - [`MAX_SAMPLES`] samples and [`MAX_TRIGGER_EVENTS`] trigger ids per
//!   incident;
//! - a threshold window keeps matches for `window + LATE_EVENT_ALLOWANCE`
//!   behind the watermark, and fewer than `count` fit in any `window`, so
//!   it holds at most about `count × (2 + LATE_EVENT_ALLOWANCE / window)`
//!   matches; the other types' state is bounded as `state` describes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use firewatch_event::{Change, Event, Incident, IncidentId, IncidentState, Sample, Timestamp};
use jiff::SignedDuration;

use crate::limits::{
    LATE_EVENT_ALLOWANCE, MAX_REMEMBERED_GROUPS, MAX_RESOLVED_INCIDENTS, MAX_SAMPLES,
    MAX_TRIGGER_EVENTS,
};
use crate::rule::{Kind, Rule};
use crate::snapshot::{GroupSnapshot, RuleState, definition, fits};
use crate::state::{
    BucketCounts, Buckets, DistinctValues, GroupState, KnownValues, LastSeen, StepEvents,
    TogetherEvents, WINDOW_BUCKETS,
};
use crate::template::MISSING;
use crate::window::MatchWindow;

/// How an event that reached a rule relates to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The event matches the rule.
    Match,
    /// The event is only part of a `ratio` rule's population.
    Population,
    /// The event is a step of a `sequence` rule (one or both).
    Step { first: bool, then: bool },
    /// The event matches the `together` conditions whose bits are set.
    Steps(u64),
}

/// What recording an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The event counts as a match of the rule (to report).
    pub is_match: bool,
    /// The incident the match belongs to, when one is open after it.
    pub incident: Option<IncidentId>,
}

impl Recorded {
    const NOTHING: Recorded = Recorded {
        is_match: false,
        incident: None,
    };
    const PENDING: Recorded = Recorded {
        is_match: true,
        incident: None,
    };
}

/// What an incident opens with.
struct Fired {
    samples: VecDeque<Sample>,
    count: u64,
    values: Vec<String>,
}

/// What one event does to its group.
enum Outcome {
    /// Not a match of the rule (population only, a known value, the line
    /// an absence waits for).
    NotMatch,
    /// A match, counted, no incident yet.
    Pending,
    /// A match of the open incident.
    Update(usize),
    /// A match that opens an incident.
    Fire(VecDeque<Sample>, u64),
    /// The line an absence incident waited for: it resolves.
    Resolve(usize),
}

/// Matches and incidents of every rule, by incident key.
#[derive(Debug)]
pub(crate) struct IncidentBook {
    /// Per rule (by index): incident key -> group.
    groups: Vec<HashMap<Box<str>, Group>>,
    deadlines: BinaryHeap<Reverse<Deadline>>,
    store: IncidentStore,
}

/// One rule's state for one incident key.
#[derive(Debug)]
struct Group {
    state: GroupState,
    /// Slot of the open (or pending) incident in the store.
    open: Option<usize>,
    /// Slot and id of the incident that resolved last, while a refire may
    /// still reopen it (rules with `flap` only).
    recent: Option<(usize, IncidentId)>,
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

impl Kind {
    /// True when groups outlive their events (and are capped instead).
    fn remembers_groups(&self) -> bool {
        matches!(self, Kind::Absence { .. } | Kind::NewValue { .. })
    }

    /// How long behind the watermark an event still counts with others.
    fn retention(&self) -> SignedDuration {
        let kept = match self {
            Kind::Threshold(threshold) => threshold.window,
            Kind::Spike { window, .. } => window.saturating_mul(2),
            Kind::Ratio { window, .. } | Kind::Cardinality { window, .. } => *window,
            Kind::Sequence { within, .. } | Kind::Together { within, .. } => *within,
            Kind::Any | Kind::Absence { .. } | Kind::NewValue { .. } => SignedDuration::ZERO,
        };
        kept.saturating_add(LATE_EVENT_ALLOWANCE)
    }

    /// The state of a group whose first event is `event`.
    fn initial_state(&self, rule: &Rule, event: &Event) -> GroupState {
        match self {
            Kind::Any | Kind::Threshold(_) => GroupState::Matches(MatchWindow::default()),
            Kind::Spike { .. } | Kind::Ratio { .. } => GroupState::Counts(BucketCounts::default()),
            Kind::Sequence { .. } => GroupState::Steps(StepEvents::default()),
            Kind::Together { .. } => GroupState::Together(TogetherEvents::default()),
            Kind::NewValue { .. } => GroupState::Known(KnownValues::new(event.time())),
            Kind::Cardinality { .. } => GroupState::Distinct(DistinctValues::default()),
            Kind::Absence { .. } => GroupState::LastSeen(LastSeen {
                time: event.time(),
                values: rule.group_values(event),
            }),
        }
    }
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

    /// Starts watching the groups that `absence` rules list in `expect`,
    /// as if their line was last seen at `start`.
    pub fn watch_expected(&mut self, rules: &[Rule], start: Timestamp) {
        for (rule_index, rule) in rules.iter().enumerate() {
            let Kind::Absence { expect, .. } = &rule.kind else {
                continue;
            };
            for values in expect {
                let key = rule.key_of_values(values);
                let Some(groups) = self.groups.get_mut(rule_index) else {
                    continue;
                };
                if groups.contains_key(key.as_str()) || groups.len() >= MAX_REMEMBERED_GROUPS {
                    continue;
                }
                let group = groups.entry(key.as_str().into()).or_insert(Group {
                    state: GroupState::LastSeen(LastSeen {
                        time: start,
                        values: values.clone(),
                    }),
                    open: None,
                    recent: None,
                    armed: Timestamp::MAX,
                });
                arm(
                    &mut self.deadlines,
                    group,
                    rule_index,
                    &key,
                    rule,
                    &self.store,
                );
            }
        }
    }

    /// Records an event that reached rule `rule_index` for the incident
    /// `key`, in the given role; `watermark` is event time now.
    pub fn record(
        &mut self,
        rule_index: usize,
        rule: &Rule,
        key: &str,
        event: &Event,
        role: Role,
        watermark: Timestamp,
    ) -> Recorded {
        let value = match &rule.kind {
            Kind::NewValue { field, .. } | Kind::Cardinality { field, .. } => {
                match event.field_text(field) {
                    Some(value) => Some(value),
                    None => return Recorded::NOTHING,
                }
            }
            _ => None,
        };
        let Some(groups) = self.groups.get_mut(rule_index) else {
            return Recorded::NOTHING;
        };
        let is_new = !groups.contains_key(key);
        if is_new {
            if rule.kind.remembers_groups() && groups.len() >= MAX_REMEMBERED_GROUPS {
                return Recorded::NOTHING;
            }
            groups.insert(
                key.into(),
                Group {
                    state: rule.kind.initial_state(rule, event),
                    open: None,
                    recent: None,
                    armed: Timestamp::MAX,
                },
            );
        }
        let Some(group) = groups.get_mut(key) else {
            return Recorded::NOTHING;
        };
        let outcome = step(group, rule, event, role, value.as_deref(), watermark);
        let opened_or_resolved = matches!(outcome, Outcome::Fire(..) | Outcome::Resolve(_));
        let recorded = match outcome {
            Outcome::NotMatch => Recorded::NOTHING,
            Outcome::Pending => Recorded::PENDING,
            Outcome::Update(slot) => Recorded {
                is_match: true,
                incident: self.store.update(slot, event, rule),
            },
            Outcome::Resolve(slot) => {
                let opened = self.store.first_seen(slot).unwrap_or(event.time());
                self.store.resolve(slot, event.time().max(opened), rule);
                group.open = None;
                Recorded::NOTHING
            }
            Outcome::Fire(samples, count) => {
                let fired = Fired {
                    samples,
                    count,
                    values: rule.group_values(event),
                };
                let reopen = group
                    .recent
                    .take()
                    .filter(|&(slot, id)| self.store.may_reopen(slot, id, rule, event.time()));
                let (slot, incident) = match reopen {
                    Some((slot, id)) => {
                        self.store.reopen(slot, rule, fired, event.time());
                        (slot, Some(id))
                    }
                    None => self.store.open(rule, key, fired, event.time()),
                };
                group.open = Some(slot);
                Recorded {
                    is_match: true,
                    incident,
                }
            }
        };
        if group.open.is_none()
            && group.recent.is_none()
            && !rule.kind.remembers_groups()
            && group.state.is_empty()
        {
            // The event came too late to count with anything: keep no
            // state for it.
            groups.remove(key);
        } else if is_new || opened_or_resolved {
            arm(
                &mut self.deadlines,
                group,
                rule_index,
                key,
                rule,
                &self.store,
            );
        }
        recorded
    }

    /// Resolves incidents, opens absence incidents and drops stale groups
    /// whose deadline the watermark has reached.
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
            group.armed = Timestamp::MAX;
            match (&rule.kind, group.open, &group.state) {
                (Kind::Absence { period, .. }, None, GroupState::LastSeen(last)) => {
                    let due = later(last.time, *period);
                    if due <= watermark {
                        let fired = Fired {
                            samples: VecDeque::new(),
                            count: 0,
                            values: last.values.clone(),
                        };
                        let (slot, _) = self.store.open(rule, &deadline.key, fired, due);
                        group.open = Some(slot);
                        group.recent = None;
                    }
                }
                (Kind::Absence { .. }, _, _) => {}
                (_, Some(slot), _) => {
                    if let Some(resolve_at) = self.store.resolve_time(slot)
                        && resolve_at <= watermark
                    {
                        group.open = None;
                        if self.store.is_pending(slot) {
                            // The condition stopped before `for`: no incident.
                            self.store.drop_pending(slot);
                        } else {
                            self.store.resolve(slot, resolve_at, rule);
                            group.recent = rule
                                .lifecycle
                                .flap
                                .and_then(|_| Some((slot, self.store.incident(slot)?.id)));
                        }
                    }
                }
                _ => {}
            }
            if let Some((slot, _)) = group.recent
                && self
                    .store
                    .reopen_until(slot, rule)
                    .is_none_or(|until| until <= watermark)
            {
                group.recent = None;
            }
            match next_deadline(group, rule, &self.store) {
                Some(at) if at > watermark => {
                    group.armed = at;
                    self.deadlines.push(Reverse(Deadline { at, ..deadline }));
                }
                _ if rule.kind.remembers_groups() => {}
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

    /// Every group of every rule, by rule id, with its open incident.
    pub fn snapshot(&self, rules: &[Rule]) -> Vec<RuleState> {
        rules
            .iter()
            .zip(&self.groups)
            .filter(|(_, groups)| !groups.is_empty())
            .map(|(rule, groups)| RuleState {
                id: rule.id.to_string(),
                definition: definition(rule),
                groups: groups
                    .iter()
                    .map(|(key, group)| GroupSnapshot {
                        key: key.to_string(),
                        state: group.state.clone(),
                        open: group
                            .open
                            .and_then(|slot| self.store.incident(slot))
                            .cloned(),
                        recent: group
                            .recent
                            .and_then(|(slot, id)| {
                                self.store.incident(slot).filter(|incident| {
                                    incident.id == id && incident.state == IncidentState::Resolved
                                })
                            })
                            .cloned(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Takes back groups saved by [`IncidentBook::snapshot`], into an empty
    /// book: those of rules that are gone, or whose definition changed,
    /// are dropped (see the `snapshot` module). Deadlines are armed anew.
    pub fn restore(&mut self, rules: &[Rule], saved: Vec<RuleState>) {
        let by_id: HashMap<&str, usize> = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| (&*rule.id, index))
            .collect();
        for saved in saved {
            let Some(&rule_index) = by_id.get(saved.id.as_str()) else {
                continue;
            };
            let (Some(rule), Some(groups)) =
                (rules.get(rule_index), self.groups.get_mut(rule_index))
            else {
                continue;
            };
            if definition(rule) != saved.definition {
                continue;
            }
            for GroupSnapshot {
                key,
                state,
                open,
                recent,
            } in saved.groups
            {
                if !fits(&rule.kind, &state)
                    || groups.contains_key(key.as_str())
                    || (rule.kind.remembers_groups() && groups.len() >= MAX_REMEMBERED_GROUPS)
                {
                    continue;
                }
                let open = open
                    .filter(|incident| incident.state != IncidentState::Resolved)
                    .map(|incident| {
                        let quiet = rule.lifecycle.quiet_period(&incident, rule.resolve_after);
                        self.store.adopt(incident, quiet)
                    });
                let recent = recent
                    .filter(|incident| {
                        incident.state == IncidentState::Resolved && rule.lifecycle.flap.is_some()
                    })
                    .map(|incident| {
                        let id = incident.id;
                        (self.store.adopt_resolved(incident, rule.resolve_after), id)
                    });
                let group = groups.entry(key.as_str().into()).or_insert(Group {
                    state,
                    open,
                    recent,
                    armed: Timestamp::MAX,
                });
                arm(
                    &mut self.deadlines,
                    group,
                    rule_index,
                    &key,
                    rule,
                    &self.store,
                );
            }
        }
    }

    /// Goes on with another rule set (a reload), by rule id: the groups of
    /// a rule whose [`definition`] is unchanged move over whole (windows,
    /// open and pending incidents, known values, the incident a refire
    /// would reopen), at the rule's new position. A rule that is gone, or
    /// whose definition changed, loses its groups: its open incidents
    /// resolve at `now` (event time; not before their last match), its
    /// pending ones are dropped. Resolved incidents stay remembered.
    /// Deadlines are armed anew.
    pub fn replace_rules(&mut self, old: &[Rule], new: &[Rule], now: Option<Timestamp>) {
        let by_id: HashMap<&str, usize> = new
            .iter()
            .enumerate()
            .map(|(index, rule)| (&*rule.id, index))
            .collect();
        let old_groups = std::mem::replace(
            &mut self.groups,
            (0..new.len()).map(|_| HashMap::new()).collect(),
        );
        for (old_rule, groups) in old.iter().zip(old_groups) {
            let kept = by_id
                .get(&*old_rule.id)
                .copied()
                .filter(|&index| definition(&new[index]) == definition(old_rule));
            if let Some(index) = kept {
                self.groups[index] = groups;
                continue;
            }
            for group in groups.into_values() {
                let Some(slot) = group.open else {
                    continue;
                };
                if self.store.is_pending(slot) {
                    self.store.drop_pending(slot);
                } else if let Some(last_seen) = self.store.incident(slot).map(|i| i.last_seen) {
                    let at = now.map_or(last_seen, |now| now.max(last_seen));
                    self.store.resolve(slot, at, old_rule);
                }
            }
        }
        self.deadlines.clear();
        for (rule_index, (rule, groups)) in new.iter().zip(&mut self.groups).enumerate() {
            for (key, group) in groups.iter_mut() {
                group.armed = Timestamp::MAX;
                arm(
                    &mut self.deadlines,
                    group,
                    rule_index,
                    key,
                    rule,
                    &self.store,
                );
            }
        }
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

/// What one event does to its group's state, by rule type.
fn step(
    group: &mut Group,
    rule: &Rule,
    event: &Event,
    role: Role,
    value: Option<&str>,
    watermark: Timestamp,
) -> Outcome {
    let time = event.time();
    let cutoff = earlier(watermark, rule.kind.retention());
    let sample = || Sample {
        event_id: event.id,
        time,
        message: event.message.clone(),
    };
    let one = |sample: Sample| VecDeque::from([sample]);
    match (&rule.kind, &mut group.state) {
        (Kind::Absence { .. }, GroupState::LastSeen(last)) => {
            last.time = last.time.max(time);
            match group.open {
                Some(slot) => Outcome::Resolve(slot),
                None => Outcome::NotMatch,
            }
        }
        (Kind::NewValue { learn, .. }, GroupState::Known(known)) => {
            if !known.is_new(value.unwrap_or_default(), time, *learn) {
                Outcome::NotMatch
            } else if let Some(slot) = group.open {
                Outcome::Update(slot)
            } else {
                Outcome::Fire(one(sample()), 1)
            }
        }
        (
            Kind::Ratio {
                above,
                window,
                min_count,
                ..
            },
            GroupState::Counts(counts),
        ) => {
            let matched = role == Role::Match;
            if time >= cutoff {
                let buckets = Buckets::for_window(*window);
                counts.add(buckets.index(time), matched);
                counts.drop_before(buckets.index(cutoff));
            }
            if !matched {
                return Outcome::NotMatch;
            }
            if let Some(slot) = group.open {
                return Outcome::Update(slot);
            }
            let buckets = Buckets::for_window(*window);
            let fired = window_ends(counts, buckets.index(time)).find_map(|end| {
                let (matching, population) = counts.sum(end - WINDOW_BUCKETS + 1, end);
                #[allow(clippy::cast_precision_loss)]
                let above_bound = matching as f64 > *above * population as f64;
                (population >= *min_count && above_bound).then_some(matching)
            });
            match fired {
                Some(matching) if time >= cutoff => {
                    counts.clear();
                    Outcome::Fire(one(sample()), matching)
                }
                _ => Outcome::Pending,
            }
        }
        (_, _) if group.open.is_some() => group.open.map_or(Outcome::Pending, Outcome::Update),
        (_, _) if time < cutoff && !matches!(rule.kind, Kind::Any | Kind::Threshold(_)) => {
            // Too late to count with anything.
            Outcome::Pending
        }
        (
            Kind::Spike {
                window,
                factor,
                min_count,
            },
            GroupState::Counts(counts),
        ) => {
            let buckets = Buckets::for_window(*window);
            let now = buckets.index(time);
            counts.add(now, true);
            counts.drop_before(buckets.index(cutoff));
            let fired = window_ends(counts, now).find_map(|end| {
                let (current, _) = counts.sum(end - WINDOW_BUCKETS + 1, end);
                let (baseline, _) = counts.sum(end - 2 * WINDOW_BUCKETS + 1, end - WINDOW_BUCKETS);
                #[allow(clippy::cast_precision_loss)]
                let spiked = current as f64 >= *factor * baseline as f64;
                (current >= *min_count && spiked).then_some(current)
            });
            match fired {
                Some(current) => {
                    counts.clear();
                    Outcome::Fire(one(sample()), current)
                }
                None => Outcome::Pending,
            }
        }
        (Kind::Sequence { within, .. }, GroupState::Steps(steps)) => {
            let Role::Step { first, then } = role else {
                return Outcome::NotMatch;
            };
            steps.drop_older_than(cutoff);
            match steps.record(sample(), first, then, *within) {
                Some(pair) => Outcome::Fire(VecDeque::from(pair), 2),
                None => Outcome::Pending,
            }
        }
        (
            Kind::Together {
                of, count, within, ..
            },
            GroupState::Together(together),
        ) => {
            let Role::Steps(matched) = role else {
                return Outcome::NotMatch;
            };
            together.drop_older_than(cutoff);
            match together.record(sample(), matched, of.len(), *count, *within) {
                Some(events) => {
                    let matched_count = events.len() as u64;
                    Outcome::Fire(VecDeque::from(events), matched_count)
                }
                None => Outcome::Pending,
            }
        }
        (Kind::Cardinality { count, window, .. }, GroupState::Distinct(distinct)) => {
            distinct.drop_older_than(cutoff);
            let count = usize::try_from(*count).unwrap_or(usize::MAX);
            let seen = distinct.record(value.unwrap_or_default(), time, *window, count);
            if seen >= count {
                distinct.clear();
                Outcome::Fire(one(sample()), seen as u64)
            } else {
                Outcome::Pending
            }
        }
        (Kind::Threshold(threshold), GroupState::Matches(window)) => {
            let index = window.insert(sample());
            let count = usize::try_from(threshold.count).unwrap_or(usize::MAX);
            match window.firing_run(index, count, threshold.window) {
                Some(start) => {
                    let fired = window.take_from(start);
                    let count = fired.len() as u64;
                    Outcome::Fire(fired, count)
                }
                None => {
                    window.drop_older_than(cutoff);
                    Outcome::Pending
                }
            }
        }
        _ => Outcome::Fire(one(sample()), 1),
    }
}

/// The last buckets of the windows to check after counting an event in
/// bucket `now`: the window ending with it and, when later events came
/// before it (out of order), the latest window that still holds it.
fn window_ends(counts: &BucketCounts, now: i64) -> impl Iterator<Item = i64> {
    let latest = counts
        .newest()
        .unwrap_or(now)
        .min(now.saturating_add(WINDOW_BUCKETS - 1));
    std::iter::once(now).chain((latest > now).then_some(latest))
}

/// When the group next needs attention: its open incident resolves, its
/// absence is due, or its state is too old to count. `None` when nothing
/// is due.
fn next_deadline(group: &Group, rule: &Rule, store: &IncidentStore) -> Option<Timestamp> {
    if let Kind::Absence { period, .. } = rule.kind {
        return match (&group.state, group.open) {
            (GroupState::LastSeen(last), None) => Some(later(last.time, period)),
            _ => None,
        };
    }
    if let Some(slot) = group.open {
        return store.resolve_time(slot);
    }
    let reopen_until = group
        .recent
        .and_then(|(slot, _)| store.reopen_until(slot, rule));
    let newest = match &group.state {
        GroupState::Matches(window) => window.newest(),
        GroupState::Counts(counts) => {
            let window = match rule.kind {
                Kind::Spike { window, .. } | Kind::Ratio { window, .. } => window,
                _ => SignedDuration::ZERO,
            };
            let buckets = Buckets::for_window(window);
            counts
                .newest()
                .map(|index| buckets.start(index.saturating_add(1)))
        }
        GroupState::Steps(steps) => steps.newest(),
        GroupState::Together(together) => together.newest(),
        GroupState::Distinct(distinct) => distinct.newest(),
        GroupState::Known(_) | GroupState::LastSeen(_) => None,
    };
    let forget = newest.map(|newest| later(newest, rule.kind.retention()));
    forget.max(reopen_until)
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
    /// Opens an incident from the matches that fired it (sorted by time),
    /// which count `count`; with no match (an absence), at `at`. Under
    /// `for` it is pending, and its id is not given out.
    fn open(
        &mut self,
        rule: &Rule,
        key: &str,
        fired: Fired,
        at: Timestamp,
    ) -> (usize, Option<IncidentId>) {
        let Fired {
            samples: fired,
            count,
            values,
        } = fired;
        let first_seen = fired.front().map_or(at, |sample| sample.time);
        let last_seen = fired.back().map_or(at, |sample| sample.time);
        let id = IncidentId::new(&rule.id, key, first_seen);
        let pending = rule.lifecycle.pending_for.is_some();
        let mut incident = Incident {
            id,
            rule: rule.id.to_string(),
            title: rule.title_template.render(&rule.id, &values, count),
            severity: rule.severity,
            description: rule
                .description_template
                .as_ref()
                .map(|template| template.render(&rule.id, &values, count)),
            key: key.to_owned(),
            // A value the events lack is left out, not stored as `-`:
            // an incident without a host has no `host`.
            group: rule
                .group_by
                .iter()
                .cloned()
                .zip(values)
                .filter(|(_, value)| value != MISSING)
                .collect::<BTreeMap<_, _>>(),
            state: if pending {
                IncidentState::Pending
            } else {
                IncidentState::Open
            },
            flapping: false,
            history: Vec::new(),
            first_seen,
            last_seen,
            resolved_at: None,
            count,
            trigger_events: fired
                .iter()
                .take(MAX_TRIGGER_EVENTS)
                .map(|sample| sample.event_id)
                .collect(),
            samples: fired.into_iter().take(MAX_SAMPLES).collect(),
        };
        if pending {
            incident.record(at, Change::Pending);
            return (self.adopt(incident, rule.resolve_after), None);
        }
        incident.record(at, Change::Fired);
        rule.lifecycle.escalate(&mut incident, at);
        let slot = self.adopt(incident, rule.resolve_after);
        self.mark_changed(slot);
        (slot, Some(id))
    }

    /// True when a refire at `at` reopens the resolved incident `id` in
    /// `slot` (the slot may have been reused since).
    fn may_reopen(&self, slot: usize, id: IncidentId, rule: &Rule, at: Timestamp) -> bool {
        self.incident(slot)
            .is_some_and(|incident| incident.id == id && incident.state == IncidentState::Resolved)
            && self
                .reopen_until(slot, rule)
                .is_some_and(|until| at <= until)
    }

    /// Until when a refire reopens the resolved incident in `slot`.
    fn reopen_until(&self, slot: usize, rule: &Rule) -> Option<Timestamp> {
        let flap = rule.lifecycle.flap?;
        Some(later(self.incident(slot)?.resolved_at?, flap.within))
    }

    /// Reopens the resolved incident in `slot` with the matches that fired
    /// again at `at`.
    fn reopen(&mut self, slot: usize, rule: &Rule, fired: Fired, at: Timestamp) {
        self.resolved.retain(|&resolved| resolved != slot);
        let Some(tracked) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let incident = &mut tracked.incident;
        incident.state = IncidentState::Open;
        incident.resolved_at = None;
        incident.count = incident.count.saturating_add(fired.count);
        if let Some(last) = fired.samples.back() {
            incident.last_seen = incident.last_seen.max(last.time);
        } else {
            incident.last_seen = incident.last_seen.max(at);
        }
        let room = MAX_SAMPLES.saturating_sub(incident.samples.len());
        incident
            .samples
            .extend(fired.samples.into_iter().take(room));
        rule.lifecycle.reopened(incident, at);
        rule.lifecycle.escalate(incident, at);
        tracked.resolve_after = rule.lifecycle.quiet_period(incident, rule.resolve_after);
        render_description(incident, rule);
        self.mark_changed(slot);
    }

    fn is_pending(&self, slot: usize) -> bool {
        self.incident(slot)
            .is_some_and(|incident| incident.state == IncidentState::Pending)
    }

    /// Forgets a pending incident whose condition stopped before `for`.
    fn drop_pending(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot)
            && entry.take().is_some()
        {
            self.free.push(slot);
        }
    }

    /// Keeps an incident opened elsewhere (restored after a restart) in a
    /// slot, as not changed: it is stored already.
    fn adopt(&mut self, incident: Incident, resolve_after: SignedDuration) -> usize {
        let tracked = Tracked {
            incident,
            resolve_after,
            changed: false,
        };
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(tracked);
                slot
            }
            None => {
                self.slots.push(Some(tracked));
                self.slots.len() - 1
            }
        }
    }

    fn incident(&self, slot: usize) -> Option<&Incident> {
        Some(&self.slots.get(slot)?.as_ref()?.incident)
    }

    /// Counts a further match of an open (or pending) incident; a pending
    /// one fires when the match comes `for` after the condition fired.
    /// The id when the incident is open after it.
    fn update(&mut self, slot: usize, event: &Event, rule: &Rule) -> Option<IncidentId> {
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
        if incident.state == IncidentState::Pending {
            let since = incident
                .history
                .first()
                .map_or(incident.first_seen, |entry| entry.at);
            let due = rule
                .lifecycle
                .pending_for
                .map(|pending| later(since, pending));
            if due.is_none_or(|due| time < due) {
                return None;
            }
            incident.state = IncidentState::Open;
            incident.record(time, Change::Fired);
            render_description(incident, rule);
        }
        let severity = incident.severity;
        rule.lifecycle.escalate(incident, time);
        if incident.severity != severity {
            render_description(incident, rule);
        }
        let id = incident.id;
        self.mark_changed(slot);
        Some(id)
    }

    fn first_seen(&self, slot: usize) -> Option<Timestamp> {
        Some(self.slots.get(slot)?.as_ref()?.incident.first_seen)
    }

    fn resolve_time(&self, slot: usize) -> Option<Timestamp> {
        let tracked = self.slots.get(slot)?.as_ref()?;
        Some(later(tracked.incident.last_seen, tracked.resolve_after))
    }

    fn resolve(&mut self, slot: usize, at: Timestamp, rule: &Rule) {
        let Some(tracked) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        tracked.incident.state = IncidentState::Resolved;
        tracked.incident.resolved_at = Some(at);
        tracked.incident.record(at, Change::Resolved);
        render_description(&mut tracked.incident, rule);
        self.mark_changed(slot);
        self.remember_resolved(slot);
    }

    /// Keeps a resolved incident restored after a restart, as not changed.
    fn adopt_resolved(&mut self, incident: Incident, resolve_after: SignedDuration) -> usize {
        let slot = self.adopt(incident, resolve_after);
        self.remember_resolved(slot);
        slot
    }

    /// Counts the resolved incident in `slot` among those remembered,
    /// forgetting the oldest beyond the cap.
    fn remember_resolved(&mut self, slot: usize) {
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

/// Renders the rule's description for `incident` again, with its current
/// count: descriptions follow the incident's state changes.
fn render_description(incident: &mut Incident, rule: &Rule) {
    let Some(template) = &rule.description_template else {
        return;
    };
    let values: Vec<String> = rule
        .group_by
        .iter()
        .map(|field| {
            incident
                .group
                .get(field)
                .map_or_else(|| MISSING.to_owned(), String::clone)
        })
        .collect();
    incident.description = Some(template.render(&rule.id, &values, incident.count));
}
