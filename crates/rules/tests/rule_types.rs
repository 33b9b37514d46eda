//! Every rule type through the detector: fires, does not fire, groups,
//! takes events out of order, resolves.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use firewatch_event::{Event, EventId, Incident, IncidentState, Level, Timestamp};
use firewatch_rules::{Detector, RuleSet};

fn second(offset: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + offset).unwrap()
}

/// An info event at `second(offset)` on host `web-01`, service `api`.
fn event(offset: i64, message: &str) -> Event {
    let mut event = Event::new(EventId(offset as u64), "app".into(), second(offset));
    event.level = Level::Info;
    event.host = Some("web-01".into());
    event.service = Some("api".into());
    event.message = message.into();
    event
}

fn on_host(mut event: Event, host: &str) -> Event {
    event.host = Some(host.into());
    event
}

fn with_field(mut event: Event, name: &str, value: serde_json::Value) -> Event {
    event.fields.insert(name.into(), value);
    event
}

fn detector_for(yaml: &str) -> Detector {
    Detector::new(Arc::new(RuleSet::from_yaml(yaml, "t.yml").unwrap()))
}

/// Observes each event; returns how many matches each gave and whether an
/// incident was open after it.
fn feed(detector: &mut Detector, events: impl IntoIterator<Item = Event>) -> Vec<(usize, bool)> {
    events
        .into_iter()
        .map(|event| {
            let mut out = Vec::new();
            detector.observe(&event, &mut out);
            (out.len(), out.iter().any(|found| found.incident.is_some()))
        })
        .collect()
}

fn open_keys(detector: &Detector) -> Vec<String> {
    detector
        .incidents()
        .into_iter()
        .filter(|incident| incident.state == IncidentState::Open)
        .map(|incident| incident.key)
        .collect()
}

fn only(incidents: Vec<Incident>) -> Incident {
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    incidents.into_iter().next().unwrap()
}

const SPIKE: &str = "
id: error-spike
title: error spike on {host}
severity: high
match: { any: [error] }
spike: { window: 1m, factor: 3, min_count: 5 }
group_by: [host]
resolve_after: 2m
";

#[test]
fn spike_fires_at_factor_times_the_baseline() {
    let mut detector = detector_for(SPIKE);
    let baseline = [10, 20].map(|at| event(at, "error"));
    let current = [70, 75, 80, 85, 90, 95].map(|at| event(at, "error"));
    feed(&mut detector, baseline);
    let fired: Vec<bool> = feed(&mut detector, current)
        .into_iter()
        .map(|(_, open)| open)
        .collect();
    // 5 in the window is not 3 × 2; the sixth is.
    assert_eq!(fired, [false, false, false, false, false, true]);
    let incident = only(detector.take_changes());
    assert_eq!(incident.key, "error-spike/web-01");
    assert_eq!(incident.count, 6);
    assert_eq!(incident.title, "error spike on web-01");

    detector.advance_to(second(95 + 120));
    let resolved = only(detector.take_changes());
    assert_eq!(resolved.state, IncidentState::Resolved);
}

#[test]
fn spike_needs_the_factor_and_the_minimum_per_group() {
    let mut detector = detector_for(SPIKE);
    // A steady 4 per minute, then 11 in a minute: below 3 × 4.
    let steady = (0..9).map(|n| event(n * 15, "error"));
    let more = (0..10).map(|n| event(122 + n * 5, "error"));
    let results = feed(&mut detector, steady.chain(more));
    assert!(results.iter().all(|(_, open)| !open), "{results:?}");
    // Four on another host with no baseline are below min_count.
    let other = (0..4).map(|n| on_host(event(200 + n, "error"), "web-02"));
    assert!(feed(&mut detector, other).iter().all(|(_, open)| !open));
    assert!(detector.incidents().is_empty());
}

#[test]
fn spike_counts_late_events_by_their_time() {
    let mut detector = detector_for(SPIKE);
    let events = [10, 20, 95, 70, 90, 75, 85, 80].map(|at| event(at, "error"));
    let results = feed(&mut detector, events);
    // Only the sixth of the current minute, whenever it arrives, fires.
    assert_eq!(results.last(), Some(&(1, true)));
    assert_eq!(results.iter().filter(|(_, open)| *open).count(), 1);
}

const ABSENCE: &str = "
id: heartbeat-missing
title: no heartbeat from {host}
severity: critical
match: { any: [heartbeat] }
absence:
  period: 5m
  expect: [{ host: web-02 }]
group_by: [host]
";

#[test]
fn absence_opens_when_event_time_passes_the_period_and_the_line_resolves_it() {
    let mut detector = detector_for(ABSENCE);
    // Heartbeats are not matches: they are what the rule waits for.
    assert_eq!(
        feed(&mut detector, [0, 60, 120].map(|at| event(at, "heartbeat"))),
        [(0, false); 3]
    );
    detector.advance_to(second(299));
    assert!(detector.take_changes().is_empty());
    // web-02 was expected from the start and never came.
    detector.advance_to(second(300));
    let missing = only(detector.take_changes());
    assert_eq!(missing.key, "heartbeat-missing/web-02");
    assert_eq!(missing.title, "no heartbeat from web-02");
    assert_eq!(missing.first_seen, second(300));
    detector.advance_to(second(419));
    assert!(detector.take_changes().is_empty());
    detector.advance_to(second(420));
    let web01 = only(detector.take_changes());
    assert_eq!(
        (web01.key.as_str(), web01.first_seen),
        ("heartbeat-missing/web-01", second(420))
    );
    // Absence incidents do not resolve by waiting ...
    detector.advance_to(second(5000));
    assert!(detector.take_changes().is_empty());
    // ... but when the line comes back.
    feed(&mut detector, [event(5001, "heartbeat")]);
    let back = only(detector.take_changes());
    assert_eq!(back.key, "heartbeat-missing/web-01");
    assert_eq!(
        (back.state, back.resolved_at),
        (IncidentState::Resolved, Some(second(5001)))
    );
    assert_eq!(open_keys(&detector), ["heartbeat-missing/web-02"]);
}

#[test]
fn absence_takes_the_latest_line_whatever_the_arrival_order() {
    let mut detector = detector_for(
        "id: cron\ntitle: t\nseverity: low\nmatch: { any: [backup done] }\n\
         absence: { period: 5m }\ngroup_by: [host]\n",
    );
    feed(
        &mut detector,
        [event(200, "backup done"), event(100, "backup done")],
    );
    detector.advance_to(second(499));
    assert!(detector.take_changes().is_empty());
    detector.advance_to(second(500));
    assert_eq!(only(detector.take_changes()).first_seen, second(500));
}

const SEQUENCE: &str = "
id: deploy-then-errors
title: errors after a deploy on {host}
severity: high
sequence:
  first: { keywords: { any: [deploy finished] } }
  then: { min_level: error }
  within: 10m
group_by: [host]
";

fn error(offset: i64) -> Event {
    let mut event = event(offset, "request failed");
    event.level = Level::Error;
    event
}

#[test]
fn sequence_fires_on_a_then_b_within_the_time_for_the_same_group() {
    let mut detector = detector_for(SEQUENCE);
    let results = feed(&mut detector, [event(0, "deploy finished"), error(100)]);
    assert_eq!(results, [(1, false), (1, true)]);
    let incident = only(detector.take_changes());
    assert_eq!(incident.trigger_events, [EventId(0), EventId(100)]);
    assert_eq!(incident.count, 2);

    let mut detector = detector_for(SEQUENCE);
    // B before A, A and B too far apart, A and B on different hosts.
    feed(
        &mut detector,
        [
            error(100),
            event(200, "deploy finished"),
            error(801),
            on_host(event(1000, "deploy finished"), "web-02"),
            error(1010),
        ],
    );
    assert!(detector.incidents().is_empty());
}

#[test]
fn sequence_orders_by_event_time_not_arrival() {
    let mut detector = detector_for(SEQUENCE);
    // The error arrives first, the deploy before it arrives late.
    let results = feed(&mut detector, [error(100), event(50, "deploy finished")]);
    assert_eq!(results, [(1, false), (1, true)]);
    let incident = only(detector.take_changes());
    assert_eq!(incident.trigger_events, [EventId(50), EventId(100)]);
    assert_eq!(incident.first_seen, second(50));
}

const NEW_VALUE: &str = "
id: new-error-class
title: new error class in {service}
severity: medium
filter: { min_level: error }
new_value: { field: fields.class, learn: 1h }
group_by: [service]
";

fn classed(offset: i64, class: &str) -> Event {
    with_field(error(offset), "class", class.into())
}

#[test]
fn new_value_learns_first_then_fires_on_unseen_values() {
    let mut detector = detector_for(NEW_VALUE);
    let learning = feed(
        &mut detector,
        [classed(0, "Timeout"), classed(1800, "Refused")],
    );
    assert_eq!(learning, [(0, false), (0, false)]);
    let later = feed(
        &mut detector,
        [
            classed(3600, "Timeout"),
            classed(3700, "OutOfMemory"),
            classed(3800, "OutOfMemory"),
            classed(3900, "Deadlock"),
        ],
    );
    // Known values are not matches; a new one opens, the next updates.
    assert_eq!(later, [(0, false), (1, true), (0, false), (1, true)]);
    let incident = only(detector.take_changes());
    assert_eq!(incident.count, 2);
    assert_eq!(incident.key, "new-error-class/api");

    // A late event from the learning period is learned, not new; events
    // without the field are not counted.
    let mut late = error(1000);
    late.service = Some("api".into());
    let results = feed(&mut detector, [classed(1000, "Late"), late]);
    assert_eq!(results, [(0, false), (0, false)]);
}

#[test]
fn new_value_learns_per_group() {
    let mut detector = detector_for(NEW_VALUE);
    let mut other = classed(4000, "Timeout");
    other.service = Some("billing".into());
    feed(&mut detector, [classed(0, "Timeout"), other]);
    // billing started learning at 4000: Timeout is known there.
    assert!(detector.incidents().is_empty());
}

const CARDINALITY: &str = "
id: many-users-one-address
title: many users failing from {fields.src}
severity: high
match: { any: [login failed] }
cardinality: { field: fields.user, count: 3, window: 1m }
group_by: [fields.src]
";

fn failed_login(offset: i64, user: &str, src: &str) -> Event {
    let event = with_field(event(offset, "login failed"), "user", user.into());
    with_field(event, "src", src.into())
}

#[test]
fn cardinality_fires_on_distinct_values_within_the_window() {
    let mut detector = detector_for(CARDINALITY);
    let results = feed(
        &mut detector,
        [
            failed_login(0, "alice", "10.0.0.9"),
            failed_login(10, "alice", "10.0.0.9"),
            failed_login(20, "bob", "10.0.0.9"),
            failed_login(25, "carol", "10.0.0.7"),
            failed_login(30, "carol", "10.0.0.9"),
        ],
    );
    assert_eq!(
        results.iter().map(|(_, open)| *open).collect::<Vec<_>>(),
        [false, false, false, false, true]
    );
    let incident = only(detector.take_changes());
    assert_eq!(incident.key, "many-users-one-address/10.0.0.9");
    assert_eq!(incident.count, 3);
}

#[test]
fn cardinality_ignores_values_outside_the_window_and_takes_late_ones() {
    let mut detector = detector_for(CARDINALITY);
    feed(
        &mut detector,
        [
            failed_login(0, "alice", "a"),
            failed_login(70, "bob", "a"),
            failed_login(140, "carol", "a"),
        ],
    );
    assert!(detector.incidents().is_empty());
    // Late logins: dave at 100 makes no three within a minute (bob at 70
    // and carol at 140 are 70 s apart); erin at 120 does, with bob and
    // dave.
    feed(&mut detector, [failed_login(100, "dave", "a")]);
    assert!(detector.incidents().is_empty());
    feed(&mut detector, [failed_login(120, "erin", "a")]);
    assert_eq!(open_keys(&detector), ["many-users-one-address/a"]);
}

const RATIO: &str = r#"
id: http-5xx-ratio
title: many 5xx from {service}
severity: high
when: { field: status, op: ">=", value: 500 }
ratio: { of: { field: status, op: exists }, above: 0.5, window: 1m, min_count: 4 }
group_by: [service]
"#;

fn request(offset: i64, status: u16) -> Event {
    with_field(event(offset, "request"), "status", status.into())
}

#[test]
fn ratio_fires_when_the_share_of_matches_exceeds_the_bound() {
    let mut detector = detector_for(RATIO);
    let results = feed(
        &mut detector,
        [
            request(0, 200),
            request(1, 503),
            request(2, 500),
            request(3, 502),
        ],
    );
    // Population-only events are not matches; 3 of 4 is above one half.
    assert_eq!(results, [(0, false), (1, false), (1, false), (1, true)]);
    let incident = only(detector.take_changes());
    assert_eq!(incident.count, 3);
    // Events without the field are outside the population.
    assert_eq!(feed(&mut detector, [event(4, "no status")]), [(0, false)]);
}

#[test]
fn ratio_needs_the_minimum_population_and_a_share_above_the_bound() {
    let mut detector = detector_for(RATIO);
    // 3 of 3 is below min_count; then 3 of 6 is not above one half.
    feed(
        &mut detector,
        [
            request(0, 500),
            request(1, 500),
            request(2, 500),
            request(3, 200),
            request(4, 200),
            request(5, 200),
        ],
    );
    assert!(detector.incidents().is_empty());
}

#[test]
fn ratio_counts_late_events_by_their_time() {
    let mut detector = detector_for(RATIO);
    // A later request moves event time on; the others arrive late and
    // shuffled, and still count in their own minute.
    let results = feed(
        &mut detector,
        [
            request(300, 200),
            request(30, 500),
            request(10, 200),
            request(20, 500),
            request(40, 500),
        ],
    );
    assert_eq!(results.last(), Some(&(1, true)));
}
