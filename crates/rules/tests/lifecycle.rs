//! The incident lifecycle through the detector: pending under `for`,
//! reopening and flapping, escalation, descriptions and history.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use firewatch_event::{
    Change, Event, EventId, Incident, IncidentId, IncidentState, Level, Severity, Timestamp,
};
use firewatch_rules::{Detector, DetectorState, RuleSet};

fn second(offset: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + offset).unwrap()
}

/// A failure at `second(offset)` on host `web-01`.
fn fail(offset: i64) -> Event {
    let mut event = Event::new(EventId(offset as u64), "app".into(), second(offset));
    event.level = Level::Info;
    event.host = Some("web-01".into());
    event.message = "login failed".into();
    event
}

fn rules(yaml: &str) -> Arc<RuleSet> {
    Arc::new(RuleSet::from_yaml(yaml, "t.yml").unwrap())
}

/// Observes the failures at the given offsets; the incident each match
/// was attributed to.
fn feed(detector: &mut Detector, offsets: &[i64]) -> Vec<Option<IncidentId>> {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for &offset in offsets {
        out.clear();
        detector.observe(&fail(offset), &mut out);
        ids.extend(out.iter().map(|found| found.incident));
    }
    ids
}

fn only(incidents: Vec<Incident>) -> Incident {
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    incidents.into_iter().next().unwrap()
}

/// The history as (offset in seconds, change).
fn history(incident: &Incident) -> Vec<(i64, Change)> {
    incident
        .history
        .iter()
        .map(|entry| (entry.at.as_second() - 1_700_000_000, entry.change))
        .collect()
}

const PENDING: &str = "
id: login-failures
title: login failures on {host}
severity: medium
match: { any: [failed] }
group_by: [host]
resolve_after: 1m
for: 2m
";

#[test]
fn a_blip_stays_pending_and_is_dropped_without_a_trace() {
    let mut detector = Detector::new(rules(PENDING));
    assert_eq!(feed(&mut detector, &[0, 30]), [None, None]);
    assert!(
        detector.take_changes().is_empty(),
        "pending is not reported"
    );
    let pending = only(detector.incidents());
    assert_eq!(pending.state, IncidentState::Pending);
    assert_eq!(history(&pending), [(0, Change::Pending)]);

    detector.advance_to(second(91));
    assert!(detector.incidents().is_empty());
    assert!(detector.take_changes().is_empty());
    // A later burst starts pending afresh.
    assert_eq!(feed(&mut detector, &[200]), [None]);
    assert_eq!(only(detector.incidents()).first_seen, second(200));
}

#[test]
fn a_condition_that_holds_for_the_duration_fires() {
    let mut detector = Detector::new(rules(PENDING));
    let ids = feed(&mut detector, &[0, 50, 100, 119, 120, 130]);
    assert_eq!(ids[..4], [None; 4]);
    let fired = only(detector.take_changes());
    assert_eq!(ids[4..], [Some(fired.id), Some(fired.id)]);
    assert_eq!(fired.state, IncidentState::Open);
    assert_eq!(fired.first_seen, second(0));
    assert_eq!(fired.count, 6);
    assert_eq!(
        history(&fired),
        [(0, Change::Pending), (120, Change::Fired)]
    );

    detector.advance_to(second(1000));
    let resolved = only(detector.take_changes());
    assert_eq!(resolved.state, IncidentState::Resolved);
    assert_eq!(history(&resolved).last(), Some(&(190, Change::Resolved)));
}

#[test]
fn late_events_do_not_make_a_pending_incident_fire_early() {
    let mut detector = Detector::new(rules(PENDING));
    // The newest time comes first: the late ones are older than `for`.
    assert_eq!(feed(&mut detector, &[100, 0, 10, 150]), [None; 4]);
    assert_eq!(only(detector.incidents()).state, IncidentState::Pending);
    let ids = feed(&mut detector, &[200, 220]);
    let fired = only(detector.take_changes());
    assert_eq!(ids, [None, Some(fired.id)]);
    assert_eq!((fired.first_seen, fired.count), (second(100), 6));
    assert_eq!(
        history(&fired),
        [(100, Change::Pending), (220, Change::Fired)]
    );
}

#[test]
fn a_pending_incident_survives_a_restart() {
    let rules = rules(PENDING);
    let mut first = Detector::new(Arc::clone(&rules));
    feed(&mut first, &[0, 50]);
    let json = serde_json::to_string(&first.snapshot()).unwrap();
    let state: DetectorState = serde_json::from_str(&json).unwrap();
    let mut second_run = Detector::restore(rules, state);
    second_run.expect_source("app");
    assert_eq!(only(second_run.incidents()).state, IncidentState::Pending);
    let ids = feed(&mut second_run, &[100, 125]);
    let fired = only(second_run.take_changes());
    assert_eq!(ids, [None, Some(fired.id)]);
    assert_eq!(fired.count, 4);
    assert_eq!(
        history(&fired),
        [(0, Change::Pending), (125, Change::Fired)]
    );
}

const FLAPPING: &str = "
id: link-down
title: link down on {host}
severity: high
match: { any: [failed] }
group_by: [host]
resolve_after: 1m
flap: { count: 2, within: 10m }
";

#[test]
fn a_refire_soon_after_resolving_reopens_and_then_flaps() {
    let mut detector = Detector::new(rules(FLAPPING));
    let first = feed(&mut detector, &[0]);
    let id = only(detector.take_changes()).id;
    assert_eq!(first, [Some(id)]);

    detector.advance_to(second(100));
    assert_eq!(only(detector.take_changes()).state, IncidentState::Resolved);
    assert_eq!(feed(&mut detector, &[200]), [Some(id)], "same incident");
    let reopened = only(detector.take_changes());
    assert_eq!((reopened.id, reopened.state), (id, IncidentState::Open));
    assert!(!reopened.flapping && reopened.resolved_at.is_none());

    detector.advance_to(second(300));
    assert_eq!(feed(&mut detector, &[400]), [Some(id)]);
    let flapping = only(detector.take_changes());
    assert!(flapping.flapping);
    assert_eq!(flapping.count, 3);
    assert_eq!(
        history(&flapping),
        [
            (0, Change::Fired),
            (60, Change::Resolved),
            (200, Change::Reopened),
            (260, Change::Resolved),
            (400, Change::Reopened),
            (400, Change::Flapping),
        ]
    );

    // Flapping, it stays open until quiet for `within`.
    detector.advance_to(second(400 + 300));
    assert!(detector.take_changes().is_empty());
    detector.advance_to(second(400 + 600));
    let resolved = only(detector.take_changes());
    assert_eq!((resolved.id, resolved.state), (id, IncidentState::Resolved));

    // Quiet for longer than `within`: a new incident.
    let later = feed(&mut detector, &[400 + 600 + 601]);
    let new = only(detector.take_changes());
    assert_ne!(new.id, id);
    assert_eq!(later, [Some(new.id)]);
    assert_eq!(history(&new), [(1601, Change::Fired)]);
}

#[test]
fn without_flap_a_refire_is_a_new_incident() {
    let mut detector = Detector::new(rules(PENDING.replace("for: 2m", "").as_str()));
    feed(&mut detector, &[0]);
    let first = only(detector.take_changes()).id;
    detector.advance_to(second(100));
    detector.take_changes();
    feed(&mut detector, &[200]);
    assert_ne!(only(detector.take_changes()).id, first);
}

const ESCALATING: &str = "
id: auth-burst
title: auth burst on {host}
description: '{count} failed logins on {host} ({rule})'
severity: low
match: { any: [failed] }
threshold: { count: 3, window: 1m }
group_by: [host]
resolve_after: 1m
escalate:
  - { count: 5, severity: high }
  - { count: 8, severity: critical }
";

#[test]
fn escalation_raises_the_severity_and_records_it() {
    let mut detector = Detector::new(rules(ESCALATING));
    feed(&mut detector, &[0, 1, 2]);
    let opened = only(detector.take_changes());
    assert_eq!(opened.severity, Severity::Low);
    assert_eq!(
        opened.description.as_deref(),
        Some("3 failed logins on web-01 (auth-burst)")
    );

    feed(&mut detector, &[3]);
    assert_eq!(only(detector.take_changes()).severity, Severity::Low);
    feed(&mut detector, &[4]);
    let high = only(detector.take_changes());
    assert_eq!(high.severity, Severity::High);
    assert_eq!(
        high.description.as_deref(),
        Some("5 failed logins on web-01 (auth-burst)")
    );
    feed(&mut detector, &[5, 6, 7, 8, 9]);
    let critical = only(detector.take_changes());
    assert_eq!(critical.severity, Severity::Critical);
    assert_eq!(
        history(&critical),
        [
            (2, Change::Fired),
            (
                4,
                Change::Escalated {
                    from: Severity::Low,
                    to: Severity::High
                }
            ),
            (
                7,
                Change::Escalated {
                    from: Severity::High,
                    to: Severity::Critical
                }
            ),
        ]
    );

    detector.advance_to(second(1000));
    let resolved = only(detector.take_changes());
    assert_eq!(resolved.severity, Severity::Critical, "never falls back");
    assert_eq!(
        resolved.description.as_deref(),
        Some("10 failed logins on web-01 (auth-burst)")
    );
}

#[test]
fn a_burst_that_fires_past_a_step_escalates_at_once() {
    let yaml = ESCALATING.replace("count: 3, window", "count: 6, window");
    let mut detector = Detector::new(rules(&yaml));
    feed(&mut detector, &[0, 1, 2, 3, 4, 5]);
    let opened = only(detector.take_changes());
    assert_eq!(opened.severity, Severity::High);
    assert_eq!(
        history(&opened),
        [
            (5, Change::Fired),
            (
                5,
                Change::Escalated {
                    from: Severity::Low,
                    to: Severity::High
                }
            ),
        ]
    );
}

#[test]
fn a_flapping_incident_keeps_its_history_and_quiet_period_across_a_restart() {
    let rules = rules(FLAPPING);
    let mut first = Detector::new(Arc::clone(&rules));
    feed(&mut first, &[0]);
    first.advance_to(second(100));
    feed(&mut first, &[200]);
    first.advance_to(second(300));
    feed(&mut first, &[400]);
    let before = only(first.take_changes());
    assert!(before.flapping);

    let json = serde_json::to_string(&first.snapshot()).unwrap();
    let state: DetectorState = serde_json::from_str(&json).unwrap();
    let mut second_run = Detector::restore(rules, state);
    second_run.expect_source("app");
    let restored = only(second_run.incidents());
    assert_eq!(restored, before);
    second_run.advance_to(second(400 + 300));
    assert!(second_run.take_changes().is_empty(), "still flapping open");
    second_run.advance_to(second(400 + 600));
    let resolved = only(second_run.take_changes());
    assert_eq!(resolved.id, before.id);
    assert_eq!(resolved.history.len(), before.history.len() + 1);
}

#[test]
fn a_late_event_between_resolution_and_refire_does_not_lose_the_reopening() {
    let yaml = FLAPPING.replace(
        "resolve_after: 1m",
        "resolve_after: 1m\nthreshold: { count: 2, window: 1m }",
    );
    let mut detector = Detector::new(rules(&yaml));
    feed(&mut detector, &[0, 1]);
    let id = only(detector.take_changes()).id;
    detector.advance_to(second(500));
    assert_eq!(only(detector.take_changes()).state, IncidentState::Resolved);
    // Too old to count with anything: no state is kept for it.
    assert_eq!(feed(&mut detector, &[100]), [None]);
    assert_eq!(feed(&mut detector, &[600, 601]), [None, Some(id)]);
    let reopened = only(detector.take_changes());
    assert_eq!((reopened.id, reopened.state), (id, IncidentState::Open));
}
