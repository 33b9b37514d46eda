//! `when:` conditions through the detector, named conditions and lists
//! across files, and the problems `lint` reports in them.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use firewatch_event::{Event, EventId, Level, Timestamp};
use firewatch_rules::{Detector, Diagnostic, RuleSet, RulesError, lint};

/// An info event on host `web-01`, service `api`, with these fields.
fn event(message: &str, fields: serde_json::Value) -> Event {
    let mut event = Event::new(EventId(1), "app".into(), Timestamp::UNIX_EPOCH);
    event.level = Level::Info;
    event.host = Some("web-01".into());
    event.service = Some("api".into());
    event.message = message.into();
    event.fields = fields.as_object().unwrap().clone();
    event
}

/// The ids of the rules of `yaml` that match `event`, in rule order.
fn matching(yaml: &str, event: &Event) -> Vec<String> {
    let rules = RuleSet::from_yaml(yaml, "t.yml").unwrap();
    let mut detector = Detector::new(Arc::new(rules));
    let mut out = Vec::new();
    detector.observe(event, &mut out);
    out.into_iter()
        .map(|found| found.rule.to_string())
        .collect()
}

/// One rule per `when:` given, with ids r0, r1, ...
fn rules_with(conditions: &[&str]) -> String {
    let mut yaml = String::from("rules:\n");
    for (index, condition) in conditions.iter().enumerate() {
        yaml.push_str(&format!(
            "  - {{ id: r{index}, title: t, severity: low, when: {condition} }}\n"
        ));
    }
    yaml
}

#[test]
fn each_operator_compares_as_documented() {
    let conditions = [
        r#"{ field: fields.status, op: "==", value: 503 }"#,
        r#"{ field: fields.status, op: "==", value: "503" }"#,
        r#"{ field: fields.method, op: "!=", value: GET }"#,
        r#"{ field: fields.missing, op: "!=", value: x }"#,
        r#"{ field: fields.method, op: in, value: [PUT, POST] }"#,
        r#"{ field: fields.method, op: not_in, value: [PUT, POST] }"#,
        r#"{ field: fields.status, op: "<", value: 500 }"#,
        r#"{ field: fields.status, op: "<=", value: 503 }"#,
        r#"{ field: fields.latency, op: ">", value: 0.25 }"#,
        r#"{ field: fields.latency, op: ">=", value: 1 }"#,
        r#"{ field: fields.latency, op: exists }"#,
        r#"{ field: fields.missing, op: exists }"#,
        r#"{ field: fields.path, op: glob, value: "/api/*" }"#,
        r#"{ field: fields.path, op: regex, value: '^/api/v\d+/' }"#,
        r#"{ field: fields.client, op: cidr, value: ["10.0.0.0/8", "192.168.0.0/16"] }"#,
        r#"{ field: fields.client, op: cidr, value: "172.16.0.0/12" }"#,
        r#"{ field: fields.method, op: "<", value: 5 }"#,
    ];
    let matched = matching(
        &rules_with(&conditions),
        &event(
            "request",
            serde_json::json!({
                "status": 503, "method": "POST", "latency": 0.5,
                "path": "/api/v2/users", "client": "10.1.2.3"
            }),
        ),
    );
    assert_eq!(
        matched,
        [
            "r0", "r1", "r2", "r3", "r4", "r7", "r8", "r10", "r12", "r13", "r14"
        ]
    );
}

#[test]
fn level_keywords_and_composition() {
    let conditions = [
        "{ min_level: warn }",
        "{ min_level: info }",
        "{ keywords: { any: [TIMEOUT, refused] } }",
        "{ keywords: { all: [upstream, timeout] } }",
        "{ keywords: { any: [Timeout], case_sensitive: true } }",
        "{ keywords: { any: [timeout], case_sensitive: true } }",
        "{ all: [{ min_level: info }, { keywords: { any: [upstream] } }] }",
        "{ any: [{ min_level: error }, { field: host, op: '==', value: web-01 }] }",
        "{ not: { field: service, op: '==', value: api } }",
        "{ all: [{ not: { min_level: error } }, { any: [{ field: service, op: glob, value: 'a*' }] }] }",
    ];
    let matched = matching(
        &rules_with(&conditions),
        &event("upstream Timeout after 5s", serde_json::json!({})),
    );
    assert_eq!(matched, ["r1", "r2", "r3", "r4", "r6", "r7", "r9"]);
}

#[test]
fn when_narrows_match_and_filter() {
    let yaml = r#"
id: slow-checkout
title: t
severity: low
filter: { service: api }
match: { any: [checkout] }
when: { field: fields.ms, op: ">", value: 1000 }
"#;
    let slow = event("checkout done", serde_json::json!({"ms": 2500}));
    let fast = event("checkout done", serde_json::json!({"ms": 80}));
    let other = event("login done", serde_json::json!({"ms": 2500}));
    assert_eq!(matching(yaml, &slow), ["slow-checkout"]);
    assert!(matching(yaml, &fast).is_empty());
    assert!(matching(yaml, &other).is_empty());
}

#[test]
fn named_conditions_and_lists_are_shared_across_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        r#"
rules:
  - id: external-5xx
    title: t
    severity: high
    when:
      all:
        - condition: is_5xx
        - not: { field: fields.client, op: cidr, value: $internal_nets }
  - id: internal-5xx
    title: t
    severity: low
    when: { all: [{ condition: is_5xx }, { condition: internal }] }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        r#"
conditions:
  is_5xx: { field: fields.status, op: ">=", value: 500 }
  internal: { field: fields.client, op: cidr, value: $internal_nets }
lists:
  internal_nets: ["10.0.0.0/8", "192.168.0.0/16"]
"#,
    )
    .unwrap();
    assert_eq!(lint(&[dir.path()]), []);
    let rules = RuleSet::load(&[dir.path()]).unwrap();
    let mut detector = Detector::new(Arc::new(rules));
    let mut matched = |status: u16, client: &str| {
        let mut out = Vec::new();
        let event = event(
            "request",
            serde_json::json!({"status": status, "client": client}),
        );
        detector.observe(&event, &mut out);
        out.into_iter()
            .map(|found| found.rule.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(matched(502, "203.0.113.5"), ["external-5xx"]);
    assert_eq!(matched(502, "192.168.1.1"), ["internal-5xx"]);
    assert!(matched(200, "203.0.113.5").is_empty());
}

#[test]
fn condition_only_rules_are_routed_by_service_and_level() {
    // Thousands of condition-only rules, each for its own service: an
    // event reaches the one for its service (and the level rule), and the
    // answer is the same as evaluating every rule.
    let mut yaml = String::from("rules:\n");
    for index in 0..2000 {
        yaml.push_str(&format!(
            "  - {{ id: s{index}, title: t, severity: low, \
             when: {{ all: [{{ field: service, op: '==', value: svc-{index} }}, \
             {{ field: fields.status, op: '>=', value: 500 }}] }} }}\n"
        ));
    }
    yaml.push_str(
        "  - { id: errors, title: t, severity: low, filter: { min_level: error } }\n\
         \x20 - { id: host, title: t, severity: low, filter: { host: [web-01, web-02] } }\n",
    );
    let mut detector = Detector::new(Arc::new(RuleSet::from_yaml(&yaml, "t.yml").unwrap()));
    let mut matched = |event: &Event| {
        let mut out = Vec::new();
        detector.observe(event, &mut out);
        out.into_iter()
            .map(|found| found.rule.to_string())
            .collect::<Vec<_>>()
    };
    let mut hit = event("x", serde_json::json!({"status": 500}));
    hit.service = Some("svc-1234".into());
    assert_eq!(matched(&hit), ["s1234", "host"]);
    hit.level = Level::Critical;
    hit.host = Some("db-01".into());
    assert_eq!(matched(&hit), ["s1234", "errors"]);
    hit.fields["status"] = 200.into();
    assert_eq!(matched(&hit), ["errors"]);
}

/// Every problem of `yaml` as (line, column, message).
fn problems(yaml: &str) -> Vec<(usize, usize, String)> {
    match RuleSet::from_yaml(yaml, "t.yml") {
        Ok(_) => Vec::new(),
        Err(RulesError::Invalid(found)) => found
            .into_iter()
            .map(
                |Diagnostic {
                     line,
                     column,
                     message,
                     ..
                 }| (line, column, message),
            )
            .collect(),
        Err(other) => panic!("unexpected {other}"),
    }
}

fn assert_problem(yaml: &str, line: usize, column: usize, needle: &str) {
    let found = problems(yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    let (found_line, found_column, message) = &found[0];
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    assert_eq!((*found_line, *found_column), (line, column), "{message}");
}

const HEAD: &str = "id: a\ntitle: A\nseverity: low\n";

#[test]
fn condition_problems_are_placed() {
    assert_problem(
        &format!("{HEAD}when: {{ field: status, op: '=~', value: 5 }}\n"),
        4,
        28,
        "unknown op \"=~\"",
    );
    assert_problem(
        &format!("{HEAD}when: {{ field: status, op: '>', value: '500' }}\n"),
        4,
        40,
        "is not a number",
    );
    assert_problem(
        &format!("{HEAD}when:\n  condition: is_5xx\n"),
        5,
        14,
        "unknown condition `is_5xx`",
    );
    assert_problem(
        &format!("{HEAD}when: {{ field: ip, op: cidr, value: [10.0.0.0/8, 10.0.0.0/40] }}\n"),
        4,
        50,
        "invalid CIDR",
    );
    assert_problem(
        &format!("{HEAD}when: {{ field: ip, op: cidr, value: $nets }}\n"),
        4,
        37,
        "unknown list `nets`",
    );
    assert_problem(
        &format!("{HEAD}when: {{ field: msg, op: regex, value: '(' }}\n"),
        4,
        39,
        "invalid regex",
    );
    assert_problem(
        &format!("{HEAD}when: {{ field: ip, op: exists, value: 1 }}\n"),
        4,
        39,
        "exists takes no value",
    );
    assert_problem(
        &format!("{HEAD}when: {{ min_level: error, field: x, op: exists }}\n"),
        4,
        7,
        "a condition has one of",
    );
    assert_problem(
        &format!("{HEAD}when: {{ all: [] }}\n"),
        4,
        14,
        "empty list of conditions",
    );
    assert_problem(
        &format!("{HEAD}when: {{ fields: x }}\n"),
        4,
        9,
        "unknown field `fields`",
    );
}

#[test]
fn named_condition_cycles_and_duplicates_are_errors() {
    let found = problems(
        "conditions:\n  a: { condition: b }\n  b: { not: { condition: a } }\n\
         rules:\n  - { id: r, title: t, severity: low, when: { condition: a } }\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].2.contains("refers to itself"), "{found:?}");
    assert_eq!((found[0].0, found[0].1), (3, 26));
}

#[test]
fn rule_type_problems_are_placed() {
    assert_problem(
        &format!("{HEAD}match: {{ any: [x] }}\ntype: burst\n"),
        5,
        7,
        "unknown rule type \"burst\"",
    );
    assert_problem(
        &format!("{HEAD}match: {{ any: [x] }}\ntype: spike\n"),
        5,
        7,
        "needs a spike: section",
    );
    assert_problem(
        &format!(
            "{HEAD}match: {{ any: [x] }}\ntype: spike\nspike: {{ window: 1m, factor: 3 }}\n\
             threshold: {{ count: 2, window: 1m }}\n"
        ),
        7,
        12,
        "threshold: does not apply",
    );
    assert_problem(
        &format!("{HEAD}match: {{ any: [x] }}\nspike: {{ window: 1m, factor: 0.5 }}\n"),
        5,
        30,
        "factor must be above 1",
    );
    assert_problem(
        &format!(
            "{HEAD}match: {{ any: [x] }}\nratio: {{ of: {{ min_level: info }}, window: 1m }}\n"
        ),
        5,
        8,
        "ratio has no above",
    );
    assert_problem(
        &format!(
            "{HEAD}match: {{ any: [x] }}\ngroup_by: [host]\n\
             absence: {{ period: 5m, expect: [{{ service: a }}] }}\n"
        ),
        6,
        33,
        "not in group_by",
    );
    assert_problem(
        &format!("{HEAD}ratio: {{ of: {{ min_level: info }}, above: 0.1, window: 1m }}\n"),
        1,
        1,
        "ratio without match or when",
    );
    assert_problem(
        &format!("{HEAD}sequence: {{ first: {{ min_level: warn }}, within: 1m }}\n"),
        4,
        11,
        "sequence has no then",
    );
    assert_problem(
        &format!(
            "{HEAD}match: {{ any: [x] }}\ncardinality: {{ field: user, count: 0, window: 1m }}\n"
        ),
        5,
        36,
        "count must be 1 to",
    );
}

#[test]
fn hostile_pattern_counts_and_lengths_are_refused_quickly() {
    let started = std::time::Instant::now();
    let mut yaml = String::from("rules:\n");
    for index in 0..=firewatch_rules::limits::MAX_REGEXES {
        yaml.push_str(&format!(
            "  - {{ id: r{index}, title: t, severity: low, match: {{ regex: ['a{index}b+'] }} }}\n"
        ));
    }
    let found = problems(&yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].2.contains("more than"), "{found:?}");
    let long = "k".repeat(firewatch_rules::limits::MAX_KEYWORD_BYTES + 1);
    assert_problem(
        &format!("{HEAD}match: {{ any: [{long}] }}\n"),
        4,
        16,
        "bytes long",
    );
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn problems_in_shared_definitions_are_placed_in_their_own_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "lists:\n  nets: [10.0.0.0/8]\n\
         rules:\n  - { id: r, title: t, severity: low, when: { condition: bad } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        "conditions:\n  bad: { field: ip, op: cidr, value: [10.0.0.0/99] }\n\
         \x20 unused: { min_level: loud }\nlists:\n  nets: [192.168.0.0/16]\n",
    )
    .unwrap();
    let found: Vec<(String, usize, usize)> = lint(&[dir.path()])
        .into_iter()
        .map(|problem| {
            let file = problem
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, problem.line, problem.column)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("b.yml".to_owned(), 5, 9),
            ("b.yml".to_owned(), 2, 39),
            ("b.yml".to_owned(), 3, 24)
        ]
    );
}

#[test]
fn typed_scalars_are_keywords_as_written() {
    let yaml = "id: a\ntitle: t\nseverity: low\nwhen: { keywords: { any: 404 } }\n";
    assert_eq!(
        matching(yaml, &event("GET / 404", serde_json::json!({}))),
        ["a"]
    );
    assert!(matching(yaml, &event("GET / 200", serde_json::json!({}))).is_empty());
}
