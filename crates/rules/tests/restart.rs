//! A restart anywhere changes nothing, for every rule type and lifecycle
//! feature: a detector saved after any prefix of the events (as JSON, as
//! a pipeline commit stores it), restored and fed the rest gives the same
//! matches and the same incidents, field for field, as one that saw every
//! event without a break. Each case takes some events out of order, and
//! most split a window, a learning period or a pending `for` in two.
//! With `flap`, the incident a refire reopens is kept too: a flapping
//! incident stays one incident across a restart.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use firewatch_event::{Event, EventId, Incident, IncidentId, Level, Timestamp};
use firewatch_rules::{Detector, DetectorState, RuleSet};

fn second(offset: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + offset).unwrap()
}

/// An event at `second(offset)` from `host`, with optional fields.
fn event(offset: i64, host: &str, level: Level, message: &str, fields: &[(&str, &str)]) -> Event {
    let mut event = Event::new(EventId(offset as u64), "app".into(), second(offset));
    event.level = level;
    event.host = Some(host.into());
    event.service = Some("api".into());
    event.message = message.into();
    for (name, value) in fields {
        event.fields.insert((*name).into(), (*value).into());
    }
    event
}

fn info(offset: i64, host: &str, message: &str) -> Event {
    event(offset, host, Level::Info, message, &[])
}

/// Every event's matches as (rule, key, incident), and every incident's
/// final state.
type Outcome = (
    Vec<(String, String, Option<IncidentId>)>,
    BTreeMap<IncidentId, Incident>,
);

fn observe(detector: &mut Detector, events: &[Event], outcome: &mut Outcome) {
    let mut out = Vec::new();
    for event in events {
        out.clear();
        detector.observe(event, &mut out);
        outcome.0.extend(out.iter().map(|found| {
            (
                found.rule.to_string(),
                found.incident_key.clone(),
                found.incident,
            )
        }));
        fold(detector, outcome);
    }
}

fn fold(detector: &mut Detector, outcome: &mut Outcome) {
    for incident in detector.take_changes() {
        outcome.1.insert(incident.id, incident);
    }
}

/// Runs `events` with a restart after the first `split` (none when
/// `split` is `None`), then lets event time run to `end`.
fn run(rules: &Arc<RuleSet>, events: &[Event], split: Option<usize>, end: i64) -> Outcome {
    let mut outcome = Outcome::default();
    let mut detector = Detector::new(Arc::clone(rules));
    let split = split.unwrap_or(events.len());
    observe(&mut detector, &events[..split], &mut outcome);
    let json = serde_json::to_string(&detector.snapshot()).unwrap();
    let state: DetectorState = serde_json::from_str(&json).unwrap();
    let mut detector = Detector::restore(Arc::clone(rules), state);
    detector.expect_source("app");
    observe(&mut detector, &events[split..], &mut outcome);
    detector.advance_to(second(end));
    fold(&mut detector, &mut outcome);
    outcome
}

struct Case {
    name: &'static str,
    rule: &'static str,
    events: Vec<Event>,
    /// Incidents the events open.
    incidents: usize,
}

fn cases() -> Vec<Case> {
    let fail = |offset, host| info(offset, host, "request failed");
    // Heartbeats of a and b, out of order, then a long gap; c comes late.
    let heartbeats = vec![
        info(0, "a", "heartbeat"),
        info(60, "b", "heartbeat"),
        info(30, "a", "heartbeat"),
        info(100, "b", "heartbeat"),
        info(400, "a", "heartbeat"),
        info(410, "c", "heartbeat"),
    ];
    // Two bursts on host a, out of order, and a lone failure on b.
    let threshold_failures = vec![
        fail(0, "a"),
        fail(40, "a"),
        fail(20, "a"),
        fail(50, "b"),
        fail(300, "a"),
        fail(330, "a"),
        fail(310, "a"),
    ];
    let login = |offset, user| {
        event(
            offset,
            "bastion",
            Level::Warn,
            "authentication failure",
            &[("user", user), ("rhost", "203.0.113.9")],
        )
    };
    let response = |offset, status| {
        event(
            offset,
            "web-01",
            Level::Info,
            "GET /",
            &[("status", status)],
        )
    };
    let classed = |offset, class| {
        event(
            offset,
            "web-01",
            Level::Error,
            "request failed",
            &[("class", class)],
        )
    };
    vec![
        Case {
            name: "any",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\ngroup_by: [host]\nresolve_after: 1m\n",
            events: vec![
                fail(0, "a"),
                fail(30, "b"),
                fail(10, "a"),
                fail(200, "a"),
                fail(190, "b"),
            ],
            incidents: 4,
        },
        Case {
            name: "flap",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\ngroup_by: [host]\n\
                   resolve_after: 1m\nflap: { count: 2, within: 10m }\n",
            // Lines that match nothing move event time past each
            // resolution, so that some restarts fall between a resolution
            // and the refire that reopens it.
            events: vec![
                fail(0, "a"),
                fail(20, "a"),
                info(120, "a", "all good"),
                info(100, "a", "all good"),
                fail(150, "a"),
                info(250, "a", "all good"),
                fail(300, "a"),
                fail(460, "a"),
                info(1_200, "a", "all good"),
                fail(2_000, "a"),
            ],
            // Reopened twice (flapping), then a new one once `within` passed.
            incidents: 2,
        },
        Case {
            name: "threshold",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\n\
                   threshold: { count: 3, window: 1m }\ngroup_by: [host]\nresolve_after: 2m\n",
            events: threshold_failures.clone(),
            incidents: 2,
        },
        Case {
            name: "threshold with a key",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\nkey: 'failures on {host}'\n\
                   threshold: { count: 3, window: 1m }\ngroup_by: [host]\nresolve_after: 2m\n",
            events: threshold_failures.clone(),
            incidents: 2,
        },
        Case {
            name: "spike",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\n\
                   spike: { window: 1m, factor: 3, min_count: 4 }\nresolve_after: 2m\n",
            events: vec![
                fail(10, "a"),
                fail(70, "a"),
                fail(90, "a"),
                fail(80, "a"),
                fail(100, "a"),
                fail(110, "a"),
                fail(500, "a"),
            ],
            incidents: 1,
        },
        Case {
            name: "absence",
            rule: "id: r\ntitle: t\nseverity: low\ntype: absence\nmatch: { any: [heartbeat] }\n\
                   absence: { period: 2m, expect: [{ host: c }] }\ngroup_by: [host]\n",
            events: heartbeats.clone(),
            incidents: 5,
        },
        Case {
            // The expected group and the seen one share their key: host c
            // is one group, not two.
            name: "absence with a key",
            rule: "id: r\ntitle: t\nseverity: low\ntype: absence\nmatch: { any: [heartbeat] }\n\
                   key: '{rule}:{host}'\nabsence: { period: 2m, expect: [{ host: c }] }\ngroup_by: [host]\n",
            events: heartbeats.clone(),
            incidents: 5,
        },
        Case {
            name: "sequence",
            rule: "id: r\ntitle: t\nseverity: low\ntype: sequence\n\
                   sequence: { first: { keywords: { any: [deploy] } }, then: { min_level: error }, within: 2m }\n\
                   group_by: [host]\nresolve_after: 1m\n",
            events: vec![
                info(0, "a", "deploy finished"),
                event(90, "a", Level::Error, "crash", &[]),
                info(20, "b", "deploy finished"),
                event(10, "b", Level::Error, "crash before the deploy", &[]),
                event(400, "b", Level::Error, "crash", &[]),
                info(380, "b", "deploy finished"),
            ],
            incidents: 2,
        },
        Case {
            name: "together",
            rule: "id: r\ntitle: t\nseverity: low\ntype: together\n\
                   together: { of: [{ keywords: { any: [replace] } }, { keywords: { any: [reload] } }], within: 2m }\n\
                   group_by: [host]\nresolve_after: 1m\n",
            events: vec![
                info(0, "a", "crontab replace"),
                info(90, "a", "cron reload"),
                info(30, "b", "cron reload"),
                info(20, "b", "crontab replace"),
                info(200, "b", "cron reload"),
                info(400, "b", "crontab replace"),
            ],
            incidents: 2,
        },
        Case {
            name: "new_value",
            rule: "id: r\ntitle: t\nseverity: low\ntype: new_value\nfilter: { min_level: error }\n\
                   new_value: { field: fields.class, learn: 2m }\ngroup_by: [host]\nresolve_after: 1m\n",
            events: vec![
                classed(0, "timeout"),
                classed(100, "refused"),
                classed(130, "timeout"),
                classed(60, "reset"),
                classed(150, "reset"),
                classed(160, "overflow"),
                classed(400, "disk"),
            ],
            incidents: 2,
        },
        Case {
            name: "cardinality",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [authentication failure] }\n\
                   cardinality: { field: fields.user, count: 3, window: 1m }\ngroup_by: [fields.rhost]\nresolve_after: 1m\n",
            events: vec![
                login(0, "alice"),
                login(40, "carol"),
                login(20, "alice"),
                login(30, "bob"),
                login(300, "dave"),
                login(310, "erin"),
            ],
            incidents: 1,
        },
        Case {
            name: "ratio",
            rule: "id: r\ntitle: t\nseverity: low\ntype: ratio\nwhen: { field: fields.status, op: \">=\", value: 500 }\n\
                   ratio: { of: { field: fields.status, op: exists }, above: 0.5, window: 1m, min_count: 4 }\nresolve_after: 1m\n",
            events: vec![
                response(0, "200"),
                response(30, "503"),
                response(10, "503"),
                response(20, "502"),
                response(40, "200"),
                response(300, "503"),
            ],
            incidents: 1,
        },
        Case {
            name: "for (pending)",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\ngroup_by: [host]\n\
                   resolve_after: 1m\nfor: 2m\n",
            events: vec![
                fail(0, "a"),
                fail(50, "a"),
                fail(40, "b"),
                fail(100, "a"),
                fail(90, "a"),
                fail(130, "a"),
                fail(400, "b"),
            ],
            incidents: 1,
        },
        Case {
            name: "escalate",
            rule: "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\ngroup_by: [host]\n\
                   resolve_after: 1m\nescalate: [{ count: 3, severity: high }, { count: 5, severity: critical }]\n",
            events: vec![
                fail(0, "a"),
                fail(20, "a"),
                fail(10, "a"),
                fail(40, "a"),
                fail(30, "a"),
                fail(50, "a"),
            ],
            incidents: 1,
        },
    ]
}

#[test]
fn a_restart_after_any_event_gives_the_incidents_of_an_unbroken_run() {
    for case in cases() {
        let rules = Arc::new(RuleSet::from_yaml(case.rule, "t.yml").unwrap());
        let unbroken = run(&rules, &case.events, None, 5_000);
        assert_eq!(
            unbroken.1.len(),
            case.incidents,
            "{}: {:#?}",
            case.name,
            unbroken.1
        );
        for split in 0..=case.events.len() {
            let restarted = run(&rules, &case.events, Some(split), 5_000);
            assert_eq!(
                restarted.0, unbroken.0,
                "{}: matches, restart after {split}",
                case.name
            );
            assert_eq!(
                restarted.1, unbroken.1,
                "{}: incidents, restart after {split}",
                case.name
            );
        }
    }
}

#[test]
fn incidents_carry_the_key_their_rule_writes() {
    let by_key = |rule: &str| {
        let rules = Arc::new(RuleSet::from_yaml(rule, "t.yml").unwrap());
        let fail = |offset| info(offset, "web-01", "request failed");
        let (matches, incidents) = run(&rules, &[fail(0), fail(1)], Some(1), 5_000);
        let keys: Vec<String> = incidents
            .values()
            .map(|incident| incident.key.clone())
            .collect();
        (matches[0].1.clone(), keys)
    };
    let rule =
        "id: r\ntitle: t\nseverity: low\nmatch: { any: [failed] }\ngroup_by: [host, service]\n";
    assert_eq!(
        by_key(rule),
        ("r/web-01/api".to_owned(), vec!["r/web-01/api".to_owned()]),
        "the default key"
    );
    assert_eq!(
        by_key(&format!(
            "{rule}key: '{{service}} on {{host}} ({{rule}})'\n"
        )),
        (
            "api on web-01 (r)".to_owned(),
            vec!["api on web-01 (r)".to_owned()]
        )
    );
}
