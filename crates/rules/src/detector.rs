//! The detector: events in, matches and incident changes out.

use std::sync::Arc;

use firewatch_event::{Event, Incident, IncidentId, Severity, Timestamp};

use regex::SetMatches;

use crate::clock::EventClock;
use crate::incidents::{IncidentBook, Role};
use crate::prefilter::{Prefilter, Scan};
use crate::rule::{Kind, Rule};
use crate::ruleset::RuleSet;
use crate::snapshot::DetectorState;

/// One rule matching one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// The rule's id.
    pub rule: Arc<str>,
    /// The rule's severity.
    pub severity: Severity,
    /// The incident key: the rule id and the group values, joined by `/`.
    pub incident_key: String,
    /// The incident this event now belongs to, when the rule's incident is
    /// open after this event. `None` while what the rule's type waits for
    /// (a threshold, a spike, the second step of a sequence, ...) has not
    /// happened.
    pub incident: Option<IncidentId>,
}

/// Runs a [`RuleSet`] over events, in event time, and keeps the incidents.
///
/// A detector is single-threaded state (windows, open incidents); the rule
/// set it reads is shared. Its memory is bounded: see [`crate::limits`].
#[derive(Debug)]
pub struct Detector {
    rules: Arc<RuleSet>,
    book: IncidentBook,
    scan: Scan,
    /// Per-event buffers, reused so that an event that matches nothing
    /// allocates nothing: the rules the event reached, in rule order.
    passed: Vec<(u32, Role)>,
    key: String,
    clock: EventClock,
    /// Whether the groups that `absence` rules expect are watched yet
    /// (from the first watermark on).
    watching_expected: bool,
}

impl Detector {
    /// A detector with no incidents yet.
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self {
            book: IncidentBook::new(rules.len()),
            rules,
            scan: Scan::default(),
            passed: Vec::new(),
            key: String::new(),
            clock: EventClock::default(),
            watching_expected: false,
        }
    }

    /// A detector that goes on from a state saved by
    /// [`Detector::snapshot`], possibly by an earlier run with other rules:
    /// groups of rules that are gone or whose definition changed are
    /// dropped (see [`DetectorState`]). Sources of the saved run no longer
    /// hold event time back until declared again with
    /// [`Detector::expect_source`].
    pub fn restore(rules: Arc<RuleSet>, state: DetectorState) -> Self {
        let mut detector = Self::new(rules);
        detector.clock = EventClock::restore(state.sources, state.watermark);
        detector.book.restore(detector.rules.rules(), state.rules);
        detector
    }

    /// The state to restore after a restart: windows, open incidents and
    /// per-source event times. Incident changes not yet taken
    /// ([`Detector::take_changes`]) are not part of it.
    pub fn snapshot(&self) -> DetectorState {
        DetectorState::new(
            self.book.snapshot(self.rules.rules()),
            self.clock.snapshot(),
            self.clock.watermark(),
        )
    }

    /// Goes on with another rule set, as a reload does: event time and
    /// the sources stay as they are, and a rule is matched to its former
    /// self by id. When its definition is the same (the one a restart
    /// compares, see [`DetectorState`]), its windows, open and pending
    /// incidents and learnt values carry on; a rule that is gone or whose
    /// definition changed has its open incidents resolved now (reported by
    /// [`Detector::take_changes`]) and its pending ones dropped, and a
    /// changed or new rule starts empty. Incidents resolved earlier stay
    /// remembered, so a flapping refire still reopens its incident.
    pub fn replace_rules(&mut self, rules: Arc<RuleSet>) {
        let now = self.clock.watermark();
        self.book
            .replace_rules(self.rules.rules(), rules.rules(), now);
        self.rules = rules;
        if let Some(now) = now.filter(|_| self.watching_expected) {
            // New `absence` rules watch their expected groups from now on.
            self.book.watch_expected(self.rules.rules(), now);
        }
    }

    /// The rules this detector runs.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Declares a source whose events will come. Until it shows an event
    /// or [finishes](Self::finish_source), it holds event time back, so
    /// that sources read side by side give the same incidents whatever
    /// their speed (see the `clock` module). Sources never declared are
    /// taken into account from their first event on.
    pub fn expect_source(&mut self, source: &str) {
        self.clock.expect(source);
    }

    /// `source` will send no more events: it no longer holds time back.
    pub fn finish_source(&mut self, source: &str) {
        let watermark = self.clock.finish(source);
        self.expire(watermark);
    }

    /// Moves an idle source's event time on to `now`, so that quiet periods
    /// can pass while it sends nothing (a followed file with no new lines).
    pub fn advance_source_to(&mut self, source: &str, now: Timestamp) {
        let watermark = self.clock.advance_source(source, now);
        self.expire(watermark);
    }

    /// Runs every rule on one event (in event time); appends the matches
    /// to `out` (cleared by the caller), in rule order.
    ///
    /// A match is an event that counts for a rule: a `ratio` rule's
    /// population events that it does not match are counted but not
    /// reported, a `new_value` rule reports only values it did not know,
    /// and an `absence` rule reports none (its incident opens when the line
    /// it expects is missing).
    ///
    /// The event's time first moves the watermark forward, which resolves
    /// incidents whose quiet period has passed; a match after that opens a
    /// new incident.
    pub fn observe(&mut self, event: &Event, out: &mut Vec<Match>) {
        let watermark = self.clock.observe(&event.source, event.time());
        self.expire(watermark);
        self.find_matching_rules(event);
        let rules = self.rules.rules();
        // While time is held back, windows keep everything.
        let prune_before = watermark.unwrap_or(Timestamp::MIN);
        for &(index, role) in &self.passed {
            let index = index as usize;
            let rule = &rules[index];
            self.key.clear();
            rule.write_incident_key(event, &mut self.key);
            let recorded = self
                .book
                .record(index, rule, &self.key, event, role, prune_before);
            if recorded.is_match {
                out.push(Match {
                    rule: Arc::clone(&rule.id),
                    severity: rule.severity,
                    incident_key: self.key.clone(),
                    incident: recorded.incident,
                });
            }
        }
    }

    /// Moves event time forward to `now` for every source: open incidents
    /// quiet for their rule's `resolve_after` resolve, at
    /// `last_seen + resolve_after`. The watermark never moves backwards.
    pub fn advance_to(&mut self, now: Timestamp) {
        let watermark = self.clock.advance_all(now);
        self.expire(watermark);
    }

    /// Incidents opened, updated or resolved since the last call (each
    /// incident once, in its latest state).
    pub fn take_changes(&mut self) -> Vec<Incident> {
        self.book.take_changes()
    }

    /// Every incident this detector remembers (open, and the latest
    /// resolved ones), ordered by first_seen.
    pub fn incidents(&self) -> Vec<Incident> {
        self.book.incidents()
    }

    /// Event-time watermark: no event earlier than this is expected any
    /// more (with several sources, the slowest running one's latest time).
    pub fn watermark(&self) -> Option<Timestamp> {
        self.clock.watermark()
    }

    fn expire(&mut self, watermark: Option<Timestamp>) {
        if let Some(watermark) = watermark {
            if !self.watching_expected {
                self.watching_expected = true;
                self.book.watch_expected(self.rules.rules(), watermark);
            }
            self.book.expire(self.rules.rules(), watermark);
        }
    }

    /// Leaves in `passed`, in rule order, the rules that `event` reaches
    /// and how.
    fn find_matching_rules(&mut self, event: &Event) {
        let Self {
            rules,
            scan,
            passed,
            ..
        } = self;
        let prefilter = rules.prefilter();
        let rules = rules.rules();
        passed.clear();
        prefilter.scan(event, scan);
        // The regex set runs at most once per event, and only when a rule
        // that passed everything cheaper needs it.
        let mut regex_matches: Option<SetMatches> = None;
        for &index in scan.candidates.iter().chain(prefilter.always()) {
            let rule = &rules[index as usize];
            if let Kind::Ratio { population, .. } = &rule.kind {
                if !rule
                    .filter
                    .as_ref()
                    .is_none_or(|filter| filter.matches(event))
                    || !population.holds(event, scan)
                {
                    continue;
                }
                let matched = message_holds(rule, event, scan, prefilter, &mut regex_matches)
                    && rule
                        .when
                        .as_ref()
                        .is_none_or(|when| when.holds(event, scan));
                passed.push((
                    index,
                    if matched {
                        Role::Match
                    } else {
                        Role::Population
                    },
                ));
                continue;
            }
            if !rule
                .message
                .as_ref()
                .is_none_or(|message| message.keywords_hold(scan))
                || !rule
                    .filter
                    .as_ref()
                    .is_none_or(|filter| filter.matches(event))
                || !message_holds(rule, event, scan, prefilter, &mut regex_matches)
                || !rule
                    .when
                    .as_ref()
                    .is_none_or(|when| when.holds(event, scan))
            {
                continue;
            }
            let role = match &rule.kind {
                Kind::Sequence { first, then, .. } => {
                    let (first, then) = (first.holds(event, scan), then.holds(event, scan));
                    if !first && !then {
                        continue;
                    }
                    Role::Step { first, then }
                }
                Kind::Together { of, .. } => {
                    let matched = of
                        .iter()
                        .enumerate()
                        .filter(|(_, condition)| condition.holds(event, scan))
                        .fold(0_u64, |bits, (index, _)| bits | (1 << index));
                    if matched == 0 {
                        continue;
                    }
                    Role::Steps(matched)
                }
                _ => Role::Match,
            };
            passed.push((index, role));
        }
        passed.sort_unstable_by_key(|(index, _)| *index);
    }
}

/// True when the rule's `match:` holds for the event: keywords, then
/// regexes (running the regex set on first need).
fn message_holds(
    rule: &Rule,
    event: &Event,
    scan: &Scan,
    prefilter: &Prefilter,
    regex_matches: &mut Option<SetMatches>,
) -> bool {
    let Some(message) = &rule.message else {
        return true;
    };
    if !message.keywords_hold(scan) {
        return false;
    }
    if !message.needs_regexes() {
        return true;
    }
    let matches = regex_matches.get_or_insert_with(|| prefilter.regex_matches(&event.message));
    message.regexes_hold(matches)
}

#[cfg(test)]
mod tests {
    use firewatch_event::{EventId, IncidentState, Level};

    use super::*;
    use crate::testing::{event_at, second};

    fn detector(yaml: &str) -> Detector {
        Detector::new(Arc::new(RuleSet::from_yaml(yaml, "<inline>").unwrap()))
    }

    /// The ids of the rules matching `event`, in rule order.
    fn matched(detector: &mut Detector, event: &Event) -> Vec<String> {
        let mut out = Vec::new();
        detector.observe(event, &mut out);
        out.iter().map(|found| found.rule.to_string()).collect()
    }

    /// Observes `event`; returns the incident of its one match.
    fn observe_one(detector: &mut Detector, event: &Event) -> Option<IncidentId> {
        let mut out = Vec::new();
        detector.observe(event, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        out[0].incident
    }

    #[test]
    fn keywords_any_all_none_case_and_regex() {
        let mut detector = detector(
            r#"
rules:
  - { id: any, title: t, severity: low, match: { any: [alpha, beta] } }
  - { id: all, title: t, severity: low, match: { all: [alpha, beta] } }
  - { id: none, title: t, severity: low, match: { any: [alpha], none: [beta] } }
  - { id: cs, title: t, severity: low, match: { any: [Alpha], case_sensitive: true } }
  - { id: ci, title: t, severity: low, match: { any: [GAMMA] } }
  - { id: re, title: t, severity: low, match: { regex: ['code=5\d\d\b'] } }
  - { id: any-re, title: t, severity: low, match: { any: [alpha], regex: ['\d{3}'] } }
  - { id: only-none, title: t, severity: low, match: { none: [alpha, beta, gamma, code] } }
"#,
        );
        let cases: [(&str, &[&str]); 9] = [
            ("alpha", &["any", "none"]),
            ("ALPHA and beta", &["any", "all"]),
            ("Alpha", &["any", "none", "cs"]),
            ("gAmMa", &["ci"]),
            ("code=503 failed", &["re"]),
            ("code=5033", &[]),
            ("alpha 123", &["any", "none", "any-re"]),
            ("betalpha", &["any", "all"]),
            ("quiet line", &["only-none"]),
        ];
        for (message, expected) in cases {
            assert_eq!(
                matched(&mut detector, &event_at(0, message)),
                expected,
                "{message}"
            );
        }
    }

    #[test]
    fn filters_on_level_service_host_source_and_fields() {
        let mut detector = detector(
            r#"
rules:
  - { id: level, title: t, severity: low, filter: { min_level: warn } }
  - { id: service, title: t, severity: low, filter: { service: "pay*" }, match: { any: [x] } }
  - { id: host, title: t, severity: low, filter: { host: ["web-*", db-01] }, match: { any: [x] } }
  - { id: source, title: t, severity: low, filter: { source: app, service: api } }
  - id: fields
    title: t
    severity: low
    filter: { fields: { status: "5??", http.method: [GET, HEAD] } }
"#,
        );
        let mut event = event_at(0, "x");
        assert_eq!(matched(&mut detector, &event), ["host", "source"]);

        event.level = Level::Error;
        event.service = Some("payment-service".into());
        event.host = Some("db-01".into());
        assert_eq!(matched(&mut detector, &event), ["level", "service", "host"]);

        event.level = Level::Unknown;
        event.host = Some("db-02".into());
        event.service = None;
        event.fields = serde_json::json!({"status": 503, "http": {"method": "HEAD"}})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(matched(&mut detector, &event), ["fields"]);

        event.fields["status"] = 404.into();
        assert_eq!(matched(&mut detector, &event), Vec::<String>::new());
    }

    const THRESHOLD: &str = "
id: burst
title: burst on {host}
severity: high
match: { any: [fail] }
threshold: { count: 3, window: 1m }
group_by: [host]
";

    #[test]
    fn a_threshold_fires_at_exactly_count_within_the_window() {
        let mut detector = detector(THRESHOLD);
        assert_eq!(observe_one(&mut detector, &event_at(0, "fail")), None);
        assert_eq!(observe_one(&mut detector, &event_at(20, "fail")), None);
        let id = observe_one(&mut detector, &event_at(60, "fail")).unwrap();
        assert_eq!(observe_one(&mut detector, &event_at(70, "fail")), Some(id));

        let incidents = detector.take_changes();
        assert_eq!(incidents.len(), 1);
        let incident = &incidents[0];
        assert_eq!(
            incident.id,
            IncidentId::new("burst", "burst/web-01", second(0))
        );
        assert_eq!(
            (incident.first_seen, incident.last_seen),
            (second(0), second(70))
        );
        assert_eq!(incident.count, 4);
        assert_eq!(
            incident.trigger_events,
            [EventId(0), EventId(20), EventId(60)]
        );
        assert_eq!(incident.samples.len(), 4);
        assert_eq!(incident.title, "burst on web-01");
        assert_eq!(incident.key, "burst/web-01");
        assert_eq!(incident.group["host"], "web-01");
    }

    #[test]
    fn a_group_value_the_events_lack_is_absent_from_the_incident() {
        let mut detector = detector(THRESHOLD);
        let mut id = None;
        for offset in [0, 20, 60] {
            let mut event = event_at(offset, "fail");
            event.host = None;
            id = observe_one(&mut detector, &event);
        }
        assert!(id.is_some());
        let incident = &detector.take_changes()[0];
        // The key and the title still say `-`; the group has no host.
        assert_eq!(incident.key, "burst/-");
        assert_eq!(incident.title, "burst on -");
        assert!(incident.group.is_empty(), "{:?}", incident.group);
    }

    #[test]
    fn matches_spread_wider_than_the_window_do_not_fire_and_the_window_slides() {
        let mut detector = detector(THRESHOLD);
        for offset in [0, 40, 80] {
            assert_eq!(observe_one(&mut detector, &event_at(offset, "fail")), None);
        }
        // 40, 80 and 90 are within a minute: the window slid past 0.
        let id = observe_one(&mut detector, &event_at(90, "fail")).unwrap();
        assert_eq!(id, IncidentId::new("burst", "burst/web-01", second(40)));
        let incident = &detector.take_changes()[0];
        assert_eq!(incident.count, 3);
        assert_eq!(
            incident.trigger_events,
            [EventId(40), EventId(80), EventId(90)]
        );
    }

    #[test]
    fn group_by_splits_incidents() {
        let mut detector = detector(THRESHOLD);
        for offset in 0..5 {
            let mut event = event_at(offset, "fail");
            event.host = Some(if offset % 2 == 0 { "a" } else { "b" }.into());
            let mut out = Vec::new();
            detector.observe(&event, &mut out);
            assert_eq!(
                out[0].incident_key,
                format!("burst/{}", event.host.unwrap())
            );
            assert_eq!(out[0].incident.is_some(), offset == 4, "{offset}");
        }
        let mut event = event_at(5, "fail");
        event.host = None;
        let mut out = Vec::new();
        detector.observe(&event, &mut out);
        assert_eq!(out[0].incident_key, "burst/-");
        let incidents = detector.incidents();
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].key, "burst/a");
    }

    #[test]
    fn late_events_count_by_their_own_time() {
        let mut detector = detector(THRESHOLD);
        assert_eq!(observe_one(&mut detector, &event_at(0, "fail")), None);
        assert_eq!(observe_one(&mut detector, &event_at(30, "fail")), None);
        // Another host's event moves the watermark two minutes ahead ...
        let mut other = event_at(150, "fail");
        other.host = Some("elsewhere".into());
        assert_eq!(observe_one(&mut detector, &other), None);
        assert_eq!(detector.watermark(), Some(second(150)));
        // ... and a late event still lands between 0 and 30.
        let id = observe_one(&mut detector, &event_at(10, "fail")).unwrap();
        assert_eq!(id, IncidentId::new("burst", "burst/web-01", second(0)));
        let incident = &detector.take_changes()[0];
        assert_eq!(
            incident.trigger_events,
            [EventId(0), EventId(10), EventId(30)]
        );
        assert_eq!(detector.watermark(), Some(second(150)));
    }

    #[test]
    fn a_match_too_late_to_count_leaves_no_state() {
        let mut detector = detector(THRESHOLD);
        detector.advance_to(second(3600));
        assert_eq!(observe_one(&mut detector, &event_at(0, "fail")), None);
        assert_eq!(detector.book.active_groups(), 0);
        // One still within the window and the allowance is kept.
        assert_eq!(
            observe_one(&mut detector, &event_at(3600 - 300, "fail")),
            None
        );
        assert_eq!(detector.book.active_groups(), 1);
    }

    #[test]
    fn quiet_incidents_resolve_and_a_later_match_opens_a_new_one() {
        let mut detector = detector(
            "id: down\ntitle: down\nseverity: critical\nmatch: { any: [down] }\nresolve_after: 5m\n",
        );
        let first = observe_one(&mut detector, &event_at(0, "down")).unwrap();
        assert_eq!(
            observe_one(&mut detector, &event_at(100, "down")),
            Some(first)
        );
        assert_eq!(detector.take_changes().len(), 1);

        detector.advance_to(second(399));
        assert!(detector.take_changes().is_empty());
        detector.advance_to(second(400));
        let resolved = detector.take_changes();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].state, IncidentState::Resolved);
        assert_eq!(resolved[0].resolved_at, Some(second(400)));
        assert_eq!(resolved[0].count, 2);

        let second_id = observe_one(&mut detector, &event_at(500, "down")).unwrap();
        assert_ne!(second_id, first);
        // An unrelated later event resolves it too.
        assert!(matched(&mut detector, &event_at(800, "up")).is_empty());
        let changes = detector.take_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].id, changes[0].state),
            (second_id, IncidentState::Resolved)
        );

        let all = detector.incidents();
        assert_eq!(
            all.iter().map(|incident| incident.id).collect::<Vec<_>>(),
            [first, second_id]
        );
        // The watermark never moves back.
        detector.advance_to(second(10));
        assert_eq!(detector.watermark(), Some(second(800)));
    }

    #[test]
    fn identical_runs_give_identical_incidents() {
        let run = || {
            let mut detector = detector(THRESHOLD);
            for offset in [0, 5, 10, 200, 204, 208, 212, 900] {
                let mut event = event_at(offset, "fail");
                event.host = Some(if offset < 100 { "a" } else { "b" }.into());
                detector.observe(&event, &mut Vec::new());
            }
            detector.advance_to(second(5000));
            detector.incidents()
        };
        let first = run();
        assert_eq!(first.len(), 2, "{first:?}");
        assert_eq!(first, run());
    }

    #[test]
    fn memory_stays_bounded() {
        let mut detector = detector(
            "id: each\ntitle: t\nseverity: low\nmatch: { any: [hit] }\n\
             threshold: { count: 2, window: 10s }\ngroup_by: [fields.n]\nresolve_after: 1s\n",
        );
        let total = crate::limits::MAX_RESOLVED_INCIDENTS + 50;
        for n in 0..total {
            let offset = n as i64 * 10;
            for delta in [0, 1] {
                let mut event = event_at(offset + delta, "hit");
                event.fields.insert("n".into(), n.into());
                detector.observe(&event, &mut Vec::new());
            }
            // A lone match leaves a window that must be dropped later.
            let mut lone = event_at(offset + 2, "hit");
            lone.fields.insert("n".into(), (total + n).into());
            detector.observe(&lone, &mut Vec::new());
        }
        detector.advance_to(second(total as i64 * 10 + 3600));
        assert_eq!(
            detector.incidents().len(),
            crate::limits::MAX_RESOLVED_INCIDENTS
        );
        assert_eq!(detector.book.active_groups(), 0);
        // Changes not taken before their incident was forgotten still arrive.
        assert_eq!(detector.take_changes().len(), total);
    }

    /// Runs `rule` over the events of two sources, fed in the given order,
    /// and returns the (key, first_seen, last_seen, state) of the incidents.
    fn incidents_of(
        order: &[(&str, i64, &str)],
    ) -> Vec<(String, Timestamp, Timestamp, IncidentState)> {
        let mut detector = detector(
            "id: burst\ntitle: t\nseverity: high\nmatch: { any: [fail] }\n\
             threshold: { count: 3, window: 1m }\ngroup_by: [host]\nresolve_after: 5m\n",
        );
        detector.expect_source("fast");
        detector.expect_source("slow");
        for (source, offset, host) in order {
            let mut event = event_at(*offset, "fail");
            event.source = (*source).into();
            event.host = Some((*host).into());
            detector.observe(&event, &mut Vec::new());
        }
        detector.finish_source("fast");
        detector.finish_source("slow");
        detector
            .incidents()
            .into_iter()
            .map(|incident| {
                (
                    incident.key,
                    incident.first_seen,
                    incident.last_seen,
                    incident.state,
                )
            })
            .collect()
    }

    #[test]
    fn a_source_read_ahead_of_another_does_not_change_the_incidents() {
        // "fast" covers two hours; "slow" has a burst early on. Read in event
        // time order, and with "fast" read to its end before "slow" starts:
        // the same incidents either way.
        let fast: Vec<_> = (0..240).map(|n| ("fast", n * 30, "web-01")).collect();
        let slow: Vec<_> = (0..6).map(|n| ("slow", 100 + n * 10, "db-01")).collect();
        let mut in_time_order: Vec<_> = fast.iter().chain(&slow).copied().collect();
        in_time_order.sort_by_key(|(_, offset, _)| *offset);
        let fast_first: Vec<_> = fast.iter().chain(&slow).copied().collect();

        let expected = incidents_of(&in_time_order);
        assert_eq!(incidents_of(&fast_first), expected);
        let db = expected
            .iter()
            .filter(|(key, ..)| key == "burst/db-01")
            .count();
        assert_eq!(
            db, 1,
            "one incident for the burst, not one per late match: {expected:?}"
        );
    }
}

#[cfg(test)]
mod reload_tests {
    use firewatch_event::IncidentState;

    use super::*;
    use crate::testing::{event_at, second};

    fn rules(yaml: &str) -> Arc<RuleSet> {
        Arc::new(RuleSet::from_yaml(yaml, "<inline>").unwrap())
    }

    /// The incidents of the matches of `event`, by rule id.
    fn observe(detector: &mut Detector, event: &Event) -> Vec<(String, Option<IncidentId>)> {
        let mut out = Vec::new();
        detector.observe(event, &mut out);
        out.into_iter()
            .map(|found| (found.rule.to_string(), found.incident))
            .collect()
    }

    const BURST: &str = "
  - id: burst
    title: burst
    severity: high
    match: { any: [fail] }
    threshold: { count: 3, window: 1m }
    resolve_after: 10m
";
    const DOWN: &str = "
  - id: down
    title: down
    severity: critical
    match: { any: [down] }
    resolve_after: 10m
";
    const DISK: &str = "
  - id: disk
    title: disk
    severity: low
    match: { any: [disk full] }
";

    #[test]
    fn unchanged_rules_keep_windows_and_incidents_wherever_they_move() {
        let mut detector = Detector::new(rules(&format!("rules:{BURST}{DOWN}")));
        observe(&mut detector, &event_at(0, "fail"));
        observe(&mut detector, &event_at(10, "fail"));
        let down = observe(&mut detector, &event_at(20, "down"))[0].1.unwrap();
        detector.take_changes();

        // A new rule first, so that both kept rules change position; and a
        // `match:` edit, which what was counted does not depend on.
        let edited = BURST.replace("any: [fail]", "any: [fail, failure]");
        detector.replace_rules(rules(&format!("rules:{DISK}{DOWN}{edited}")));
        assert!(detector.take_changes().is_empty(), "nothing resolves");

        let burst = observe(&mut detector, &event_at(30, "failure"));
        assert_eq!(burst[0].0, "burst");
        let burst = burst[0].1.expect("the window kept its two matches");
        assert_eq!(
            observe(&mut detector, &event_at(40, "down")),
            [("down".into(), Some(down))]
        );
        assert!(
            observe(&mut detector, &event_at(50, "disk full"))[0]
                .1
                .is_some()
        );
        let incidents = detector.incidents();
        let of = |id| incidents.iter().find(|incident| incident.id == id).unwrap();
        assert_eq!((of(burst).first_seen, of(burst).count), (second(0), 3));
        assert_eq!((of(down).first_seen, of(down).count), (second(20), 2));
    }

    #[test]
    fn removed_and_changed_rules_resolve_their_incidents_and_start_fresh() {
        let mut detector = Detector::new(rules(&format!("rules:{BURST}{DOWN}")));
        for offset in [0, 10, 20] {
            observe(&mut detector, &event_at(offset, "fail"));
        }
        observe(&mut detector, &event_at(30, "down"));
        observe(&mut detector, &event_at(40, "fail"));
        detector.take_changes();

        let changed = BURST.replace("count: 3", "count: 2");
        detector.replace_rules(rules(&format!("rules:{changed}")));
        let resolved = detector.take_changes();
        assert_eq!(resolved.len(), 2, "{resolved:?}");
        for incident in &resolved {
            assert_eq!(incident.state, IncidentState::Resolved);
            assert_eq!(incident.resolved_at, Some(second(40)), "{}", incident.rule);
        }
        // The changed rule's window starts empty: one match is not two.
        assert_eq!(
            observe(&mut detector, &event_at(50, "fail")),
            [("burst".into(), None)]
        );
        assert!(observe(&mut detector, &event_at(60, "down")).is_empty());
        assert!(observe(&mut detector, &event_at(70, "fail"))[0].1.is_some());
    }

    #[test]
    fn a_step_rule_keeps_its_steps_only_while_they_mean_the_same() {
        let steps = |first: &str, then: &str| {
            format!(
                "
  - id: order
    title: order
    severity: high
    sequence:
      first: {{ keywords: {{ any: [{first}] }} }}
      then: {{ keywords: {{ any: [{then}] }} }}
      within: 1m
  - id: both
    title: both
    severity: high
    together:
      of: [{{ keywords: {{ any: [{first}] }} }}, {{ keywords: {{ any: [{then}] }} }}]
      within: 1m
"
            )
        };
        let fired = |found: Vec<(String, Option<IncidentId>)>| -> Vec<String> {
            found
                .into_iter()
                .filter(|(_, incident)| incident.is_some())
                .map(|(rule, _)| rule)
                .collect()
        };
        // Unchanged, behind a new rule (so that keyword ids shift) and with
        // a step's keyword in other letter case: the first step is kept.
        let mut detector = Detector::new(rules(&format!("rules:{}", steps("alpha", "beta"))));
        observe(&mut detector, &event_at(0, "alpha"));
        detector.replace_rules(rules(&format!("rules:{DISK}{}", steps("ALPHA", "beta"))));
        assert_eq!(
            fired(observe(&mut detector, &event_at(10, "beta"))),
            ["order", "both"]
        );

        // Swapped steps: what matched first is now the second step, and
        // must not count as the first.
        let mut detector = Detector::new(rules(&format!("rules:{}", steps("alpha", "beta"))));
        observe(&mut detector, &event_at(0, "alpha"));
        detector.replace_rules(rules(&format!("rules:{}", steps("beta", "alpha"))));
        assert!(fired(observe(&mut detector, &event_at(10, "alpha"))).is_empty());

        // A changed step: the old step's match does not stand for the new.
        let mut detector = Detector::new(rules(&format!("rules:{}", steps("alpha", "beta"))));
        observe(&mut detector, &event_at(0, "alpha"));
        detector.replace_rules(rules(&format!("rules:{}", steps("gamma", "beta"))));
        assert!(fired(observe(&mut detector, &event_at(10, "beta"))).is_empty());
    }

    #[test]
    fn a_pending_incident_of_an_unchanged_rule_still_fires_after_its_for() {
        let pending = "
  - id: slow
    title: slow
    severity: medium
    match: { any: [slow] }
    resolve_after: 1m
    for: 2m
";
        let mut detector = Detector::new(rules(&format!("rules:{pending}")));
        for offset in [0, 50, 100] {
            assert_eq!(observe(&mut detector, &event_at(offset, "slow"))[0].1, None);
        }
        detector.replace_rules(rules(&format!("rules:{DOWN}{pending}")));
        let fired = observe(&mut detector, &event_at(130, "slow"))[0].1.unwrap();
        let incident = &detector.take_changes()[0];
        assert_eq!((incident.id, incident.first_seen), (fired, second(0)));

        // Changed, a pending incident goes without a trace.
        let mut detector = Detector::new(rules(&format!("rules:{pending}")));
        observe(&mut detector, &event_at(0, "slow"));
        detector.replace_rules(rules(&format!("rules:{}", pending.replace("2m", "3m"))));
        assert!(detector.take_changes().is_empty());
        assert!(detector.incidents().is_empty());
    }

    #[test]
    fn a_resolved_incident_still_reopens_after_a_reload() {
        let flapping = "
  - id: flaky
    title: flaky
    severity: low
    match: { any: [flaky] }
    resolve_after: 1m
    flap: { count: 3, within: 10m }
";
        let mut detector = Detector::new(rules(&format!("rules:{flapping}")));
        let first = observe(&mut detector, &event_at(0, "flaky"))[0].1.unwrap();
        detector.advance_to(second(120));
        assert_eq!(detector.take_changes()[0].state, IncidentState::Resolved);
        detector.replace_rules(rules(&format!("rules:{DISK}{flapping}")));
        assert_eq!(
            observe(&mut detector, &event_at(180, "flaky"))[0].1,
            Some(first)
        );
    }

    #[test]
    fn a_keyed_rule_keeps_its_window_through_a_reload_unless_its_key_changed() {
        let keyed = format!("{BURST}    group_by: [host]\n    key: 'burst on {{host}}'\n");
        let mut detector = Detector::new(rules(&format!("rules:{keyed}")));
        observe(&mut detector, &event_at(0, "fail"));
        observe(&mut detector, &event_at(10, "fail"));
        detector.replace_rules(rules(&format!("rules:{DOWN}{keyed}")));
        assert!(observe(&mut detector, &event_at(20, "fail"))[0].1.is_some());
        assert_eq!(detector.take_changes()[0].key, "burst on web-01");

        // Another key is another set of groups: the window starts empty.
        let mut detector = Detector::new(rules(&format!("rules:{keyed}")));
        observe(&mut detector, &event_at(0, "fail"));
        observe(&mut detector, &event_at(10, "fail"));
        let rekeyed = keyed.replace("burst on", "burst at");
        detector.replace_rules(rules(&format!("rules:{rekeyed}")));
        assert_eq!(observe(&mut detector, &event_at(20, "fail"))[0].1, None);
    }

    #[test]
    fn a_new_absence_rule_watches_its_expected_groups_from_the_reload_on() {
        let mut detector = Detector::new(rules(&format!("rules:{DOWN}")));
        observe(&mut detector, &event_at(0, "up"));
        detector.replace_rules(rules(
            "rules:
  - id: heartbeat
    title: no heartbeat from {host}
    severity: high
    type: absence
    match: { any: [heartbeat] }
    absence: { period: 1m, expect: [{ host: db-01 }] }
    group_by: [host]
",
        ));
        detector.advance_to(second(59));
        assert!(detector.take_changes().is_empty());
        detector.advance_to(second(60));
        let missing = detector.take_changes();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].key, "heartbeat/db-01");
    }
}
