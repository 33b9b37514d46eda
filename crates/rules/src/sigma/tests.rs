//! Sigma documents through the real compiler and detector.

use std::sync::Arc;

use firewatch_event::{Event, IncidentState};

use crate::testing::event_at;
use crate::{Detector, RuleSet, RulesError};

const HEAD: &str =
    "title: Test rule\nid: 0f4c7f4e-2f51-4f5f-9d3a-8c1a1b7d0001\nname: t\nlevel: high\n";

fn rules(yaml: &str) -> RuleSet {
    match RuleSet::from_yaml(yaml, "s.yml") {
        Ok(rules) => rules,
        Err(error) => panic!("{error}"),
    }
}

/// A rule `t` whose detection is `detection` (indented YAML).
fn detection(detection: &str) -> RuleSet {
    rules(&format!("{HEAD}detection:\n{detection}"))
}

fn event(message: &str, fields: serde_json::Value) -> Event {
    let mut event = event_at(0, message);
    event.fields = fields.as_object().cloned().unwrap_or_default();
    event
}

/// Which of `events` the rule set matches.
fn matching(rules: RuleSet, events: &[Event]) -> Vec<bool> {
    let mut detector = Detector::new(Arc::new(rules));
    events
        .iter()
        .map(|event| {
            let mut out = Vec::new();
            detector.observe(event, &mut out);
            !out.is_empty()
        })
        .collect()
}

/// The diagnostics of `yaml` as `line:column: message`.
fn problems(yaml: &str) -> Vec<String> {
    match RuleSet::from_yaml(yaml, "s.yml") {
        Ok(_) => Vec::new(),
        Err(RulesError::Invalid(found)) => found
            .iter()
            .map(|diagnostic| {
                format!(
                    "{}:{}: {}",
                    diagnostic.line, diagnostic.column, diagnostic.message
                )
            })
            .collect(),
        Err(other) => panic!("{other}"),
    }
}

fn assert_problem(yaml: &str, expected: &str) {
    let found = problems(yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(expected), "{found:?} lacks {expected:?}");
}

/// The warnings of `yaml`, which must load, as `line:column: message`.
fn warnings(yaml: &str) -> Vec<String> {
    rules(yaml)
        .warnings()
        .iter()
        .map(|warning| format!("{}:{}: {}", warning.line, warning.column, warning.message))
        .collect()
}

/// `yaml` loads with one rule skipped, for the one reason `expected`.
fn assert_skipped(yaml: &str, expected: &str) {
    let set = rules(yaml);
    assert_eq!(set.skipped_rules(), 1);
    let found = warnings(yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(expected), "{found:?} lacks {expected:?}");
}

#[test]
fn header_becomes_the_rule() {
    let set = detection("  keywords: [boom]\n  condition: keywords\n");
    let rule = &set.rules()[0];
    assert_eq!(rule.id(), "t");
    assert_eq!(rule.title(), "Test rule");
    assert_eq!(rule.severity(), firewatch_event::Severity::High);
    let without_name = rules(
        "title: T {x}\nid: 0F4C7F4E-2F51-4F5F-9D3A-8C1A1B7D0002\nlevel: informational\n\
         detection: { k: [boom], condition: k }\n",
    );
    let rule = &without_name.rules()[0];
    assert_eq!(rule.id(), "0f4c7f4e-2f51-4f5f-9d3a-8c1a1b7d0002");
    assert_eq!(rule.severity(), firewatch_event::Severity::Info);
    let mut detector = Detector::new(Arc::new(without_name));
    detector.observe(&event_at(0, "BOOM"), &mut Vec::new());
    assert_eq!(detector.take_changes()[0].title, "T {x}");
}

#[test]
fn plain_values_match_whole_and_case_insensitively() {
    let set =
        detection("  sel:\n    program: SSHD\n    msg: 'accepted*for root'\n  condition: sel\n");
    let mut yes = event("Accepted publickey for ROOT", serde_json::json!({}));
    yes.service = Some("sshd".into());
    let mut no = yes.clone();
    no.message = "Accepted publickey for root from x".into();
    let mut other = yes.clone();
    other.service = Some("sshd2".into());
    assert_eq!(matching(set, &[yes, no, other]), [true, false, false]);
}

#[test]
fn each_modifier_translates() {
    let cases: [(&str, serde_json::Value, bool); 14] = [
        (
            "user|contains: DMi",
            serde_json::json!({"user": "sysadmin"}),
            true,
        ),
        (
            "user|contains: xyz",
            serde_json::json!({"user": "sysadmin"}),
            false,
        ),
        (
            "user|startswith: SYS",
            serde_json::json!({"user": "sysadmin"}),
            true,
        ),
        (
            "user|startswith: admin",
            serde_json::json!({"user": "sysadmin"}),
            false,
        ),
        (
            "user|endswith: Admin",
            serde_json::json!({"user": "sysadmin"}),
            true,
        ),
        (
            "user|re: '^sys[a-z]+$'",
            serde_json::json!({"user": "sysadmin"}),
            true,
        ),
        (
            "user|re: '^SYS'",
            serde_json::json!({"user": "sysadmin"}),
            false,
        ),
        (
            "user|re|i: '^SYS'",
            serde_json::json!({"user": "sysadmin"}),
            true,
        ),
        (
            "user|contains|all: [sys, min]",
            serde_json::json!({"user": "sysadmin"}),
            true,
        ),
        (
            "user|contains|all: [sys, root]",
            serde_json::json!({"user": "sysadmin"}),
            false,
        ),
        (
            "rhost|cidr: [10.0.0.0/8, 192.168.0.0/16]",
            serde_json::json!({"rhost": "10.2.3.4"}),
            true,
        ),
        (
            "rhost|exists: true",
            serde_json::json!({"rhost": "x"}),
            true,
        ),
        (
            "rhost|exists: false",
            serde_json::json!({"rhost": "x"}),
            false,
        ),
        (
            "user|cased: SysAdmin",
            serde_json::json!({"user": "sysadmin"}),
            false,
        ),
    ];
    for (item, fields, expected) in cases {
        let set = detection(&format!("  sel:\n    {item}\n  condition: sel\n"));
        assert_eq!(matching(set, &[event("x", fields)]), [expected], "{item}");
    }
    let numbers =
        detection("  sel:\n    status|gte: 500\n    code: [401, 403]\n  condition: sel\n");
    let found = matching(
        numbers,
        &[
            event("x", serde_json::json!({"status": 503, "code": 403})),
            event("x", serde_json::json!({"status": 404, "code": 403})),
            event("x", serde_json::json!({"status": 503, "code": "401"})),
        ],
    );
    assert_eq!(found, [true, false, true]);
    let null = detection("  sel:\n    user: null\n  condition: sel\n");
    let found = matching(
        null,
        &[
            event("x", serde_json::json!({})),
            event("x", serde_json::json!({"user": "a"})),
        ],
    );
    assert_eq!(found, [true, false]);
}

#[test]
fn regex_flags_comparisons_and_wildcards_match_events() {
    let lines = serde_json::json!({"text": "first\nsecond", "status": 404});
    for (item, expected) in [
        ("text|re: '^second$'", false),
        ("text|re|m: '^second$'", true),
        ("text|re: 'first.second'", false),
        ("text|re|s: 'first.second'", true),
        ("text|re|i|s: 'FIRST.second'", true),
        ("status|lt: 500", true),
        ("status|lt: 404", false),
        ("status|lte: 404", true),
        ("status|lte: 403", false),
        ("status|gt: 403", true),
        ("status|gt: 404", false),
    ] {
        let set = detection(&format!("  sel:\n    {item}\n  condition: sel\n"));
        assert_eq!(
            matching(set, &[event("x", lines.clone())]),
            [expected],
            "{item}"
        );
    }
    let one = detection("  sel:\n    user: 'ro?t'\n  condition: sel\n");
    let found = matching(
        one,
        &[
            event("x", serde_json::json!({"user": "root"})),
            event("x", serde_json::json!({"user": "ROAT"})),
            event("x", serde_json::json!({"user": "rot"})),
            event("x", serde_json::json!({"user": "rooot"})),
        ],
    );
    assert_eq!(found, [true, true, false, false]);
    let escaped = detection("  sel:\n    cmd: 'a\\*b'\n  condition: sel\n");
    let found = matching(
        escaped,
        &[
            event("x", serde_json::json!({"cmd": "a*b"})),
            event("x", serde_json::json!({"cmd": "axb"})),
        ],
    );
    assert_eq!(found, [true, false]);
    assert_problem(
        &format!("{HEAD}detection:\n  sel:\n    user|contains: null\n  condition: sel\n"),
        "7:20: sigma rule `t` (Test rule): null matches only as a plain value",
    );
}

#[test]
fn numbers_match_as_written() {
    let set = detection(
        "  sel:\n    ver: 1.10\n  big:\n    id: 9007199254740993\n  condition: sel or big\n",
    );
    let found = matching(
        set,
        &[
            event("x", serde_json::json!({"ver": "1.10"})),
            event("x", serde_json::json!({"ver": "1.1"})),
            event("x", serde_json::json!({"id": 9_007_199_254_740_993_u64})),
            event("x", serde_json::json!({"id": "9007199254740992"})),
        ],
    );
    assert_eq!(found, [true, false, true, false]);
}

#[test]
fn keyword_lists_search_the_message() {
    let any = detection(
        "  keywords:\n    - 'FAILED password'\n    - 'invalid*user'\n  condition: keywords\n",
    );
    let found = matching(
        any,
        &[
            event("Failed password for x", serde_json::json!({})),
            event("Invalid user oracle", serde_json::json!({})),
            event("Accepted password", serde_json::json!({})),
        ],
    );
    assert_eq!(found, [true, true, false]);
    let all = detection("  keywords:\n    '|all': [session, root]\n  condition: keywords\n");
    let found = matching(
        all,
        &[
            event("session opened for user root", serde_json::json!({})),
            event("session opened for user bob", serde_json::json!({})),
        ],
    );
    assert_eq!(found, [true, false]);
}

#[test]
fn message_values_match_like_those_of_other_fields() {
    // Letters beyond ASCII fold case on the message as on a field.
    let accented = detection("  sel:\n    msg|contains: ÉCHEC\n  condition: sel\n");
    let found = matching(
        accented,
        &[
            event("connexion: échec", serde_json::json!({})),
            event("connexion: ÉCHEC", serde_json::json!({})),
            event("connexion: echec", serde_json::json!({})),
        ],
    );
    assert_eq!(found, [true, true, false]);
    let keywords = detection("  keywords: [Überlauf]\n  condition: keywords\n");
    assert_eq!(
        matching(keywords, &[event("puffer-ÜBERLAUF", serde_json::json!({}))]),
        [true]
    );
    // An empty text is in every message; a long one still matches.
    let empty = detection("  sel:\n    msg|contains: ''\n  condition: sel\n");
    assert_eq!(
        matching(empty, &[event("anything", serde_json::json!({}))]),
        [true]
    );
    let long = "x".repeat(crate::limits::MAX_KEYWORD_BYTES + 1);
    let set = detection(&format!("  keywords: ['{long}']\n  condition: keywords\n"));
    let found = matching(
        set,
        &[
            event(&format!("a {long} b"), serde_json::json!({})),
            event("a x b", serde_json::json!({})),
        ],
    );
    assert_eq!(found, [true, false]);
}

#[test]
fn lists_of_maps_are_or_and_maps_are_and() {
    let set = detection(
        "  sel:\n    - { user: root, rhost: 1.2.3.4 }\n    - { user: admin }\n  condition: sel\n",
    );
    let found = matching(
        set,
        &[
            event("x", serde_json::json!({"user": "root", "rhost": "1.2.3.4"})),
            event("x", serde_json::json!({"user": "root", "rhost": "5.6.7.8"})),
            event("x", serde_json::json!({"user": "ADMIN"})),
        ],
    );
    assert_eq!(found, [true, false, true]);
}

#[test]
fn every_condition_form_translates() {
    let selections =
        "  sel_a: { a: 1 }\n  sel_b: { b: 1 }\n  filter: { c: 1 }\n  _hidden: { d: 1 }\n";
    let events: Vec<Event> = [
        serde_json::json!({"a": 1}),
        serde_json::json!({"a": 1, "b": 1}),
        serde_json::json!({"a": 1, "c": 1}),
        serde_json::json!({"d": 1}),
        serde_json::json!({"a": 1, "b": 1, "c": 1, "d": 1}),
    ]
    .into_iter()
    .map(|fields| event("x", fields))
    .collect();
    let cases: [(&str, [bool; 5]); 9] = [
        ("sel_a and not filter", [true, true, false, false, false]),
        (
            "sel_a and sel_b or filter",
            [false, true, true, false, true],
        ),
        (
            "sel_a and (sel_b or filter)",
            [false, true, true, false, true],
        ),
        (
            "not (sel_a or _hidden)",
            [false, false, false, false, false],
        ),
        ("1 of sel_*", [true, true, true, false, true]),
        ("all of sel_*", [false, true, false, false, true]),
        ("1 of them", [true, true, true, false, true]),
        ("all of them", [false, false, false, false, true]),
        (
            "ALL OF sel_* AND NOT 1 OF filter*",
            [false, true, false, false, false],
        ),
    ];
    for (condition, expected) in cases {
        let set = detection(&format!("{selections}  condition: {condition}\n"));
        assert_eq!(matching(set, &events), expected, "{condition}");
    }
    let list = detection(&format!("{selections}  condition: [sel_b, _hidden]\n"));
    assert_eq!(matching(list, &events), [false, true, false, true, true]);
}

#[test]
fn log_sources_narrow_to_their_programs() {
    let set = rules(&format!(
        "{HEAD}logsource: {{ product: linux, service: sshd }}\n\
         detection: {{ k: [failed], condition: k }}\n"
    ));
    let mut sshd = event_at(0, "Failed password");
    sshd.service = Some("sshd-session".into());
    let api = event_at(1, "failed password");
    assert_eq!(matching(set, &[sshd, api]), [true, false]);
}

#[test]
fn unsupported_parts_skip_the_rule_with_a_warning_naming_it_at_their_place() {
    let rule = |detection: &str| format!("{HEAD}detection:\n{detection}");
    assert_skipped(
        &rule("  sel:\n    cmd|base64: evil\n  condition: sel\n"),
        "7:5: sigma rule `t` (Test rule) skipped: modifier `base64` is not supported",
    );
    for (modifier, message) in [
        ("windash", "modifier `windash` is not supported"),
        ("fieldref", "modifier `fieldref` is not supported"),
        ("expand", "modifier `expand` is not supported"),
        ("frobnicate", "unknown modifier `frobnicate`"),
    ] {
        assert_skipped(
            &rule(&format!(
                "  sel:\n    cmd|{modifier}: x\n  condition: sel\n"
            )),
            message,
        );
    }
    assert_skipped(
        &rule("  sel: { a: 1 }\n  condition: sel | count() > 5\n"),
        "7:18: sigma rule `t` (Test rule) skipped: aggregations",
    );
    assert_skipped(
        &rule("  sel: { a: 1 }\n  condition: sel near other\n"),
        "7:18: sigma rule `t` (Test rule) skipped: near is not supported",
    );
    assert_skipped(
        &rule("  sel: { a: 1 }\n  condition: 2 of sel*\n"),
        "`2 of` is not supported",
    );
    assert_skipped(
        &rule("  sel: { a: 1 }\n  timeframe: 5m\n  condition: sel\n"),
        "timeframe is not supported",
    );
    assert_skipped(
        &rule("  sel: { a|re: 'x(?=y)' }\n  condition: sel\n"),
        "6:16: sigma rule `t` (Test rule) skipped: look-around assertions in a regex are not \
         supported",
    );
    assert_skipped(
        &rule("  sel: { a|re: '(a)\\1' }\n  condition: sel\n"),
        "back-references in a regex are not supported",
    );
    assert_skipped(
        &format!("{HEAD}levle: high\ndetection: {{ k: [x], condition: k }}\n"),
        "5:1: sigma rule `t` (Test rule) skipped: unknown field `levle`",
    );
    assert_skipped(
        &format!(
            "{HEAD}logsource: {{ service: sshd, os: linux }}\ndetection: {{ k: [x], condition: k }}\n"
        ),
        "unknown logsource field `os`",
    );
}

#[test]
fn the_supported_rules_of_a_file_load_beside_a_skipped_one() {
    let yaml = format!(
        "{HEAD}detection: {{ k: [alpha], condition: k }}\n---\n\
         title: Dashes\nname: dashes\ndetection:\n  sel: {{ cmd|windash: '-x' }}\n  condition: sel\n"
    );
    let set = rules(&yaml);
    let ids: Vec<&str> = set.rules().iter().map(|rule| rule.id()).collect();
    assert_eq!(ids, ["t"]);
    assert_eq!(set.skipped_rules(), 1);
    assert_eq!(
        warnings(&yaml),
        ["10:10: sigma rule `dashes` (Dashes) skipped: modifier `windash` is not supported"]
    );
    assert_eq!(matching(set, &[event_at(0, "alpha")]), [true]);
}

#[test]
fn errors_in_a_sigma_rule_fail_the_load() {
    let rule = |detection: &str| format!("{HEAD}detection:\n{detection}");
    assert_problem(
        &rule("  sel:\n    cmd|contains|endswith: x\n  condition: sel\n"),
        "conflicts",
    );
    assert_problem(
        &rule("  sel: { a: 1 }\n  condition: 'sel and nope'\n"),
        "7:23: sigma rule `t` (Test rule): condition names `nope`",
    );
    assert_problem(
        &rule("  sel: { a|re: '(unclosed' }\n  condition: sel\n"),
        "6:16: sigma rule `t` (Test rule): invalid regex",
    );
    assert_problem(
        &rule("  sel: { a|cidr: 10.0.0.0/33 }\n  condition: sel\n"),
        "invalid CIDR",
    );
    assert_problem(
        "title: T\nlevel: high\ndetection: { k: [x], condition: k }\n",
        "a Sigma rule needs a name or an id",
    );
    // An unsupported part beside an error is reported with it.
    let found = problems(&format!(
        "{HEAD}status: bogus\ndetection:\n  sel: {{ a|base64: x }}\n  condition: sel\n"
    ));
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn deep_nesting_in_a_condition_is_an_error_not_a_stack_overflow() {
    let rule = |condition: &str| {
        format!("{HEAD}detection:\n  sel: {{ a: 1 }}\n  condition: '{condition}'\n")
    };
    let deep = format!("{}sel{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_problem(&rule(&deep), "condition nests ( and not more than 64 deep");
    let negations = format!("{}sel", "not ".repeat(100_000));
    assert_problem(
        &rule(&negations),
        "7:271: sigma rule `t` (Test rule): condition nests",
    );
    let unclosed = "(".repeat(100_000);
    assert_problem(&rule(&unclosed), "condition nests");
    let fine = format!("{}sel{}", "(not ".repeat(30), ")".repeat(30));
    assert_eq!(problems(&rule(&fine)), Vec::<String>::new());
}

const BASE: &str = "title: Failed login\nname: failed-login\nlevel: low\n\
    logsource: { product: linux, service: sshd }\n\
    detection:\n  sel: { msg|contains: 'failed password' }\n  condition: sel\n";

#[test]
fn event_count_is_a_threshold_and_consumes_its_rule() {
    let yaml = format!(
        "{BASE}---\ntitle: Brute force\nname: brute\nlevel: high\ncorrelation:\n  type: event_count\n  \
         rules: [failed-login]\n  group-by: [Computer]\n  timespan: 1m\n  condition: {{ gt: 2 }}\n"
    );
    let set = rules(&yaml);
    let ids: Vec<&str> = set.rules().iter().map(|rule| rule.id()).collect();
    assert_eq!(ids, ["brute"]);
    assert_eq!(set.rules()[0].threshold().unwrap().count, 3);
    assert_eq!(set.rules()[0].group_by(), ["host"]);

    let generated = rules(&yaml.replace("level: high\n", "level: high\ngenerate: true\n"));
    assert_eq!(generated.len(), 2);

    let mut detector = Detector::new(Arc::new(set));
    for offset in 0..3 {
        let mut failed = event_at(offset * 10, "Failed password for root");
        failed.service = Some("sshd".into());
        detector.observe(&failed, &mut Vec::new());
    }
    let incidents = detector.take_changes();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].key, "brute/web-01");
    assert_eq!(incidents[0].title, "Brute force (web-01)");
    assert_eq!(incidents[0].count, 3);
}

#[test]
fn value_count_is_a_cardinality() {
    let yaml = format!(
        "{BASE}---\ntitle: Spray\nname: spray\ncorrelation:\n  type: value_count\n  \
         rules: [failed-login]\n  group-by: [rhost]\n  timespan: 10m\n  \
         condition: {{ field: User, gte: 3 }}\n"
    );
    let mut detector = Detector::new(Arc::new(rules(&yaml)));
    for (offset, user) in ["a", "b", "a", "c"].iter().enumerate() {
        let mut failed = event_at(offset as i64, "Failed password");
        failed.fields = serde_json::json!({"user": user, "rhost": "203.0.113.9"})
            .as_object()
            .cloned()
            .unwrap();
        failed.service = Some("sshd".into());
        detector.observe(&failed, &mut Vec::new());
    }
    let incidents = detector.take_changes();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].key, "spray/203.0.113.9");
}

#[test]
fn temporal_is_together_and_temporal_ordered_of_two_is_a_sequence() {
    let rules_of = |kind: &str| {
        format!(
            "title: A\nname: a\ndetection: {{ k: [alpha], condition: k }}\n---\n\
             title: B\nname: b\ndetection: {{ k: [beta], condition: k }}\n---\n\
             title: C\nname: c\ncorrelation:\n  type: {kind}\n  rules: [a, b]\n  \
             group-by: [host]\n  timespan: 1m\n"
        )
    };
    let together = rules(&rules_of("temporal"));
    assert_eq!(together.rules()[0].rule_type(), "together");
    let mut detector = Detector::new(Arc::new(together));
    detector.observe(&event_at(30, "beta"), &mut Vec::new());
    detector.observe(&event_at(40, "alpha"), &mut Vec::new());
    let incidents = detector.take_changes();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].state, IncidentState::Open);

    let ordered = rules(&rules_of("temporal_ordered"));
    assert_eq!(ordered.rules()[0].rule_type(), "sequence");
    let mut detector = Detector::new(Arc::new(ordered));
    detector.observe(&event_at(30, "beta"), &mut Vec::new());
    detector.observe(&event_at(40, "alpha"), &mut Vec::new());
    assert!(detector.take_changes().is_empty());
}

#[test]
fn temporal_counts_rules_and_temporal_ordered_takes_two() {
    let three = |kind: &str, condition: &str| {
        format!(
            "title: A\nname: a\ndetection: {{ k: [alpha], condition: k }}\n---\n\
             title: B\nname: b\ndetection: {{ k: [beta], condition: k }}\n---\n\
             title: G\nname: g\ndetection: {{ k: [gamma], condition: k }}\n---\n\
             title: C\nname: c\ncorrelation:\n  type: {kind}\n  rules: [a, b, g]\n  \
             timespan: 1m\n{condition}"
        )
    };
    let two_of_three = rules(&three("temporal", "  condition: { gte: 2 }\n"));
    let mut detector = Detector::new(Arc::new(two_of_three));
    detector.observe(&event_at(0, "gamma"), &mut Vec::new());
    assert!(detector.take_changes().is_empty());
    detector.observe(&event_at(10, "alpha"), &mut Vec::new());
    assert_eq!(detector.take_changes().len(), 1);
    assert_problem(
        &three("temporal", "  condition: { gte: 4 }\n"),
        "a temporal condition counts rules: 1 to 3 here",
    );
    let ordered = three("temporal_ordered", "");
    assert_skipped(
        &ordered,
        "sigma rule `c` (C) skipped: temporal_ordered is supported for two rules",
    );
    assert!(rules(&ordered).is_empty(), "its rules stay consumed");
}

#[test]
fn unsupported_correlations_are_skipped_by_name() {
    let correlation = |body: &str| {
        format!(
            "{BASE}---\ntitle: C\nname: c\ncorrelation:\n  rules: [failed-login]\n  timespan: 1m\n{body}"
        )
    };
    assert_skipped(
        &correlation("  type: value_sum\n  condition: { gte: 1 }\n"),
        "sigma rule `c` (C) skipped: correlation type \"value_sum\" is not supported",
    );
    for (bound, at) in [
        ("lt: 3", "15:16"),
        ("lte: 3", "15:16"),
        ("eq: 3", "15:16"),
        ("neq: 3", "15:16"),
        ("range: 3..5", "15:16"),
        ("gte: 1, range: 3..5", "15:24"),
    ] {
        let key = bound
            .rsplit(", ")
            .next()
            .and_then(|key| key.split(':').next());
        assert_skipped(
            &correlation(&format!(
                "  type: event_count\n  condition: {{ {bound} }}\n"
            )),
            &format!(
                "{at}: sigma rule `c` (C) skipped: correlation condition `{}` is not supported",
                key.unwrap_or_default()
            ),
        );
    }
    assert_skipped(
        &correlation(
            "  type: event_count\n  condition: { gte: 3 }\n  aliases: { ip: { failed-login: rhost } }\n",
        ),
        "correlation key `aliases` is not supported",
    );
    assert_skipped(
        &format!(
            "{}extra: 1\n",
            correlation("  type: event_count\n  condition: { gte: 3 }\n")
        ),
        "unknown field `extra`",
    );
    // The skipped correlation still consumes its rule.
    let set = rules(&correlation(
        "  type: event_count\n  condition: { eq: 3 }\n",
    ));
    assert!(set.is_empty());
    assert_problem(
        &correlation("  type: value_count\n  condition: { gte: 3 }\n"),
        "a value_count condition needs field",
    );
    assert_problem(
        &format!(
            "{BASE}---\ntitle: C\nname: c\ncorrelation:\n  type: event_count\n  rules: [nothing]\n  \
             timespan: 1m\n  condition: {{ gte: 2 }}\n"
        ),
        "13:11: sigma rule `c` (C): no Sigma rule has the name or id `nothing`",
    );
}

#[test]
fn correlations_over_a_skipped_rule_or_a_correlation_are_skipped() {
    let skipped = "title: Dashes\nname: dashes\ndetection:\n  sel: { cmd|windash: '-x' }\n  \
        condition: sel\n---\ntitle: C\nname: c\ncorrelation:\n  type: event_count\n  \
        rules: [dashes]\n  timespan: 1m\n  condition: { gte: 2 }\n";
    let set = rules(skipped);
    assert!(set.is_empty());
    assert_eq!(set.skipped_rules(), 2);
    assert!(
        warnings(skipped)[1].contains("sigma rule `c` (C) skipped: `dashes` is not loaded"),
        "{:?}",
        warnings(skipped)
    );
    let chained = format!(
        "{BASE}---\ntitle: C\nname: c\ncorrelation:\n  type: event_count\n  rules: [failed-login]\n  \
         timespan: 1m\n  condition: {{ gte: 2 }}\n---\ntitle: D\nname: d\ncorrelation:\n  \
         type: event_count\n  rules: [c]\n  timespan: 5m\n  condition: {{ gte: 2 }}\n"
    );
    assert_skipped(
        &chained,
        "sigma rule `d` (D) skipped: `c` is a correlation: chained correlations are not supported",
    );
    let ids: Vec<String> = rules(&chained)
        .rules()
        .iter()
        .map(|rule| rule.id().to_owned())
        .collect();
    assert_eq!(ids, ["c"]);
}

#[test]
fn sigma_files_are_told_apart_by_content() {
    use crate::syntax::{FileKind, RuleFileShape};
    let shape = |source: &str| match FileKind::of(source) {
        FileKind::Sigma => "sigma",
        FileKind::Rules(RuleFileShape::OneRule) => "one rule",
        FileKind::Rules(RuleFileShape::RuleList) => "rule list",
        FileKind::Rules(RuleFileShape::Empty) => "empty",
        FileKind::Unreadable(_) => "unreadable",
    };
    assert_eq!(shape("title: x\ndetection: {}\n"), "sigma");
    assert_eq!(shape("title: a\n---\ncorrelation: {}\n"), "sigma");
    assert_eq!(shape("detection: [\n"), "sigma");
    assert_eq!(
        shape("id: a\ntitle: A\nseverity: low\nmatch: { any: [x] }\n"),
        "one rule"
    );
    assert_eq!(shape("rules: []\n"), "rule list");
    assert_eq!(shape("lists: {}\n"), "rule list");
    assert_eq!(shape("rules: [\n"), "unreadable");
    assert_eq!(shape("# nothing\n"), "empty");
}

#[test]
fn a_yaml_error_in_a_sigma_file_is_reported_as_sigma() {
    let found = problems(&format!(
        "{HEAD}logsource: {{ service: sshd }}\ndetection:\n  sel: [a\n  condition: sel\n"
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(": sigma: "), "{found:?}");
}
