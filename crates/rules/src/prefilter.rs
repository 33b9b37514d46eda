//! One pass over a message for all rules at once.
//!
//! Every keyword of every rule goes into one aho-corasick automaton (ASCII
//! case-insensitive), or into a second one for rules that ask for case-
//! sensitive keywords; every regex goes into one `RegexSet`. Keywords are
//! interned: a keyword used by many rules is one pattern, and rules refer to
//! it by its literal id.
//!
//! Per event, each automaton runs once over the message with overlapping
//! search, so that every distinct keyword present is found even when
//! keywords overlap ("connection refused" and "refused"). The hits land in
//! a reused [`Scan`]. Only the rules that one of the hit keywords can
//! *trigger* are then evaluated, plus the rules that no keyword can
//! trigger (filter-only, condition-only, `none`-only and regex-only rules):
//! those are found by their service, host, source or level where they pin
//! one down (see `routing`), else evaluated on every event. A rule's trigger
//! is one keyword of its `all` list (all must hit, so any one of them is
//! necessary), or else its whole `any` list. So the cost per event is one
//! automaton pass plus work proportional to the rules that could match, not
//! to the number of rules.
//!
//! The regex set runs last and only when some rule that survived its
//! keywords and filter still needs a regex: most events never pay for it.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, BuildError, MatchKind};
use regex::{RegexSet, RegexSetBuilder, SetMatches};

use firewatch_event::Event;

use crate::condition::Condition;
use crate::limits::REGEX_SET_SIZE_LIMIT;
use crate::routing::Routes;
use crate::rule::{Kind, Rule};

/// The compiled `match:` of one rule, as ids into the prefilter's tables.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageMatch {
    /// At least one of these literals occurs (when not empty).
    pub any: Box<[u32]>,
    /// Every one of these literals occurs.
    pub all: Box<[u32]>,
    /// None of these literals occurs.
    pub none: Box<[u32]>,
    /// At least one of these regexes matches (when not empty).
    pub regexes: Box<[u32]>,
}

impl MessageMatch {
    /// The literals one of which must occur for the rule to match, if any.
    fn trigger(&self) -> Option<&[u32]> {
        if let Some(first) = self.all.first() {
            Some(std::slice::from_ref(first))
        } else if !self.any.is_empty() {
            Some(&self.any)
        } else {
            None
        }
    }

    /// True when the keyword parts hold for the literals found by `scan`.
    pub fn keywords_hold(&self, scan: &Scan) -> bool {
        let hit = |literal: &u32| scan.hit[*literal as usize];
        (self.any.is_empty() || self.any.iter().any(hit))
            && self.all.iter().all(hit)
            && !self.none.iter().any(hit)
    }

    /// True when the rule has no regex, or one of them matched.
    pub fn regexes_hold(&self, matches: &SetMatches) -> bool {
        self.regexes.is_empty()
            || self
                .regexes
                .iter()
                .any(|regex| matches.matched(*regex as usize))
    }

    /// True when the rule needs the regex set to decide.
    pub fn needs_regexes(&self) -> bool {
        !self.regexes.is_empty()
    }
}

/// Interns keywords and regexes while rules compile.
#[derive(Debug, Default)]
pub(crate) struct PatternTable {
    insensitive: HashMap<String, u32>,
    sensitive: HashMap<String, u32>,
    /// Pattern text and literal id, per automaton.
    insensitive_patterns: Vec<(String, u32)>,
    sensitive_patterns: Vec<(String, u32)>,
    literal_count: u32,
    regex_ids: HashMap<String, u32>,
    regexes: Vec<String>,
}

impl PatternTable {
    /// The literal id of `keyword`; case-insensitive keywords that differ
    /// only in ASCII case share one id.
    pub fn literal(&mut self, keyword: &str, case_sensitive: bool) -> u32 {
        let (ids, patterns, key) = if case_sensitive {
            (
                &mut self.sensitive,
                &mut self.sensitive_patterns,
                keyword.to_owned(),
            )
        } else {
            (
                &mut self.insensitive,
                &mut self.insensitive_patterns,
                keyword.to_ascii_lowercase(),
            )
        };
        *ids.entry(key).or_insert_with(|| {
            let id = self.literal_count;
            self.literal_count += 1;
            patterns.push((keyword.to_owned(), id));
            id
        })
    }

    /// The text of the keyword with literal id `id`, marked `(cased)` when
    /// it is case-sensitive (lower case otherwise).
    pub fn keyword(&self, id: u32) -> String {
        let find = |ids: &HashMap<String, u32>| {
            ids.iter()
                .find(|(_, found)| **found == id)
                .map(|(text, _)| text.clone())
        };
        find(&self.insensitive)
            .or_else(|| find(&self.sensitive).map(|text| format!("{text}(cased)")))
            .unwrap_or_default()
    }

    /// The regex id of `source` (already checked to compile on its own).
    pub fn regex(&mut self, source: &str) -> u32 {
        *self.regex_ids.entry(source.to_owned()).or_insert_with(|| {
            self.regexes.push(source.to_owned());
            u32::try_from(self.regexes.len() - 1).unwrap_or(u32::MAX)
        })
    }
}

/// Why the shared automata or regex set could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PrefilterError {
    #[error("the keywords of all rules together are too many to compile: {0}")]
    Keywords(#[from] BuildError),
    #[error("the regexes of all rules together are too big to compile: {0}")]
    Regexes(#[from] regex::Error),
}

/// The compiled prefilter of a rule set.
#[derive(Clone, Debug)]
pub(crate) struct Prefilter {
    insensitive: Option<Automaton>,
    sensitive: Option<Automaton>,
    literal_count: usize,
    regexes: RegexSet,
    /// Literal id -> the rules it triggers, in rule order.
    triggered_by: Box<[Box<[u32]>]>,
    /// Rules no literal triggers, found by their fields or level.
    routes: Routes,
    /// Rules neither a literal nor a route finds, in rule order.
    always: Box<[u32]>,
}

#[derive(Clone, Debug)]
struct Automaton {
    searcher: AhoCorasick,
    /// Pattern index -> literal id.
    literals: Box<[u32]>,
}

impl Automaton {
    fn build(
        patterns: Vec<(String, u32)>,
        case_insensitive: bool,
    ) -> Result<Option<Self>, BuildError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let (texts, literals): (Vec<String>, Vec<u32>) = patterns.into_iter().unzip();
        let searcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(case_insensitive)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&texts)
            .or_else(|_| {
                // A DFA over very many keywords can exceed its size limits;
                // the contiguous NFA is smaller and only a little slower.
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(case_insensitive)
                    .build(&texts)
            })?;
        Ok(Some(Self {
            searcher,
            literals: literals.into(),
        }))
    }

    fn scan(&self, message: &str, scan: &mut Scan) {
        // Most lines hold no keyword at all, and a plain match test is
        // measurably cheaper than setting up an overlapping search.
        if !self.searcher.is_match(message) {
            return;
        }
        for found in self.searcher.find_overlapping_iter(message) {
            let literal = self.literals[found.pattern().as_usize()];
            let seen = &mut scan.hit[literal as usize];
            if !*seen {
                *seen = true;
                scan.hit_literals.push(literal);
            }
        }
    }
}

impl Prefilter {
    /// Builds the automata and the regex set for `rules` (their compiled
    /// message matches, in rule order).
    pub fn build(table: PatternTable, rules: &[Rule]) -> Result<Self, PrefilterError> {
        let literal_count = table.literal_count as usize;
        let mut triggered_by = vec![Vec::new(); literal_count];
        let mut routes = Routes::default();
        let mut always = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            match trigger(rule) {
                Some(literals) => {
                    for literal in literals {
                        let rules = &mut triggered_by[literal as usize];
                        if rules.last() != Some(&index) {
                            rules.push(index);
                        }
                    }
                }
                None if routes.add(index, rule) => {}
                None => always.push(index),
            }
        }
        let regexes = RegexSetBuilder::new(&table.regexes)
            .size_limit(REGEX_SET_SIZE_LIMIT)
            .build()?;
        Ok(Self {
            insensitive: Automaton::build(table.insensitive_patterns, true)?,
            sensitive: Automaton::build(table.sensitive_patterns, false)?,
            literal_count,
            regexes,
            triggered_by: triggered_by
                .into_iter()
                .map(Vec::into_boxed_slice)
                .collect(),
            routes,
            always: always.into(),
        })
    }

    /// Finds the keywords in the event's message and the rules they
    /// trigger, and the rules routed to the event by its fields.
    pub fn scan(&self, event: &Event, scan: &mut Scan) {
        scan.reset(self.literal_count);
        for automaton in [&self.insensitive, &self.sensitive].into_iter().flatten() {
            automaton.scan(&event.message, scan);
        }
        for literal in &scan.hit_literals {
            scan.candidates
                .extend_from_slice(&self.triggered_by[*literal as usize]);
        }
        self.routes.candidates(event, &mut scan.candidates);
        scan.candidates.sort_unstable();
        scan.candidates.dedup();
    }

    /// Rules that neither a keyword nor a route finds: they are evaluated
    /// on every event.
    pub fn always(&self) -> &[u32] {
        &self.always
    }

    /// Which regexes match `message`.
    pub fn regex_matches(&self, message: &str) -> SetMatches {
        self.regexes.matches(message)
    }
}

/// The literals one of which must occur for `rule` to be worth evaluating:
/// its `match:` trigger, else keywords its `when:` requires, else for a
/// sequence or a together keywords every step requires. A ratio rule counts the events its
/// keywords do not match too, so only its population can trigger it.
fn trigger(rule: &Rule) -> Option<Vec<u32>> {
    if let Kind::Ratio { population, .. } = &rule.kind {
        return population.required_literals();
    }
    if let Some(literals) = rule.message.as_ref().and_then(MessageMatch::trigger) {
        return Some(literals.to_vec());
    }
    if let Some(literals) = rule.when.as_ref().and_then(Condition::required_literals) {
        return Some(literals);
    }
    match &rule.kind {
        Kind::Sequence { first, then, .. } => {
            let mut literals = first.required_literals()?;
            literals.extend(then.required_literals()?);
            Some(literals)
        }
        Kind::Together { of, .. } => {
            let mut literals = Vec::new();
            for condition in of {
                literals.extend(condition.required_literals()?);
            }
            Some(literals)
        }
        _ => None,
    }
}

/// Reused per-event state of a scan: which literals hit and which rules they
/// trigger. Clearing touches only what the last event set.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    hit: Vec<bool>,
    hit_literals: Vec<u32>,
    /// Rules triggered by the hit literals, sorted, without duplicates.
    pub candidates: Vec<u32>,
}

impl Scan {
    /// True when the literal occurs in the scanned message.
    pub fn hit(&self, literal: u32) -> bool {
        self.hit.get(literal as usize).copied().unwrap_or(false)
    }

    fn reset(&mut self, literal_count: usize) {
        for literal in self.hit_literals.drain(..) {
            self.hit[literal as usize] = false;
        }
        if self.hit.len() != literal_count {
            self.hit = vec![false; literal_count];
        }
        self.candidates.clear();
    }
}

#[cfg(test)]
mod tests {
    //! The prefilter against a naive twin that evaluates each rule on its
    //! own with `str::contains` and `Regex::is_match`: both must find
    //! exactly the same matches on every line.

    use std::sync::Arc;

    use firewatch_event::{Event, Level};
    use regex::Regex;

    use crate::testing::event_at;
    use crate::{Detector, RuleSet};

    fn bench_file(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/bench/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    /// One rule, evaluated the slow and obvious way.
    #[derive(Default)]
    struct NaiveRule {
        id: String,
        any: Vec<String>,
        all: Vec<String>,
        none: Vec<String>,
        regexes: Vec<Regex>,
        case_sensitive: bool,
        min_level: Option<Level>,
        hosts: Vec<String>,
        service_prefix: Option<String>,
    }

    impl NaiveRule {
        fn matches(&self, event: &Event) -> bool {
            let (text, fold): (String, fn(&str) -> String) = if self.case_sensitive {
                (event.message.clone(), str::to_owned)
            } else {
                (event.message.to_ascii_lowercase(), str::to_ascii_lowercase)
            };
            let occurs = |keyword: &String| text.contains(&fold(keyword));
            (self.any.is_empty() || self.any.iter().any(occurs))
                && self.all.iter().all(occurs)
                && !self.none.iter().any(occurs)
                && (self.regexes.is_empty()
                    || self
                        .regexes
                        .iter()
                        .any(|regex| regex.is_match(&event.message)))
                && self
                    .min_level
                    .is_none_or(|level| event.level != Level::Unknown && event.level >= level)
                && (self.hosts.is_empty()
                    || event
                        .host
                        .as_ref()
                        .is_some_and(|host| self.hosts.contains(host)))
                && self.service_prefix.as_ref().is_none_or(|prefix| {
                    event
                        .service
                        .as_ref()
                        .is_some_and(|service| service.starts_with(prefix))
                })
        }

        fn yaml(&self) -> String {
            let list = |items: &[String]| serde_json::to_string(items).unwrap();
            let mut matching = Vec::new();
            for (key, items) in [("any", &self.any), ("all", &self.all), ("none", &self.none)] {
                if !items.is_empty() {
                    matching.push(format!("{key}: {}", list(items)));
                }
            }
            if !self.regexes.is_empty() {
                let sources: Vec<String> =
                    self.regexes.iter().map(|regex| regex.to_string()).collect();
                matching.push(format!("regex: {}", list(&sources)));
            }
            if self.case_sensitive {
                matching.push("case_sensitive: true".into());
            }
            let mut filter = Vec::new();
            if let Some(level) = self.min_level {
                filter.push(format!("min_level: {level}"));
            }
            if !self.hosts.is_empty() {
                filter.push(format!("host: {}", list(&self.hosts)));
            }
            if let Some(prefix) = &self.service_prefix {
                filter.push(format!("service: \"{prefix}*\""));
            }
            let mut yaml = format!("  - id: {}\n    title: t\n    severity: low\n", self.id);
            if !matching.is_empty() {
                yaml.push_str(&format!("    match: {{ {} }}\n", matching.join(", ")));
            }
            if !filter.is_empty() {
                yaml.push_str(&format!("    filter: {{ {} }}\n", filter.join(", ")));
            }
            yaml
        }
    }

    fn naive_rules(patterns: &[String], regexes: &[String]) -> Vec<NaiveRule> {
        let mut rules = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            let next = |step: usize| patterns[(index + step) % patterns.len()].clone();
            let mut rule = NaiveRule {
                id: format!("p{index:04}"),
                ..NaiveRule::default()
            };
            match index % 10 {
                3 => {
                    rule.any = vec![pattern.clone()];
                    rule.case_sensitive = true;
                }
                5 => rule.all = vec![pattern.clone(), next(1)],
                7 => {
                    rule.any = vec![pattern.clone()];
                    rule.none = vec![next(2)];
                }
                _ => rule.any = vec![pattern.clone()],
            }
            if index % 50 == 11 {
                rule.min_level = Some(Level::Warn);
            }
            rules.push(rule);
        }
        for (index, source) in regexes.iter().enumerate() {
            let mut rule = NaiveRule {
                id: format!("r{index:02}"),
                regexes: vec![Regex::new(source).unwrap()],
                ..NaiveRule::default()
            };
            if index % 4 == 1 {
                rule.any = vec![patterns[index].clone()];
            }
            rules.push(rule);
        }
        let filter_only = [
            (Some(Level::Error), vec![], None),
            (None, vec!["db-01".to_string(), "web-02".to_string()], None),
            (None, vec![], Some("pay".to_string())),
            (Some(Level::Warn), vec![], Some("api".to_string())),
        ];
        for (index, (min_level, hosts, service_prefix)) in filter_only.into_iter().enumerate() {
            rules.push(NaiveRule {
                id: format!("f{index}"),
                min_level,
                hosts,
                service_prefix,
                ..NaiveRule::default()
            });
        }
        rules.push(NaiveRule {
            id: "n0".into(),
            none: vec![patterns[0].clone(), "GET".into()],
            ..NaiveRule::default()
        });
        rules
    }

    /// A small deterministic generator (xorshift64*).
    struct Random(u64);

    impl Random {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    /// Pattern pairs where the end of one is the start of the other, so
    /// that writing them overlapped ("...refused" + "refused by peer") puts
    /// two matches on the same bytes.
    fn overlapping_pairs(patterns: &[String]) -> Vec<String> {
        let mut joined = Vec::new();
        for first in patterns {
            for second in patterns {
                let overlap = (3..first.len().min(second.len())).rev().find(|&len| {
                    first.is_char_boundary(first.len() - len)
                        && second.is_char_boundary(len)
                        && first[first.len() - len..] == second[..len]
                });
                if let Some(len) = overlap {
                    joined.push(format!("{first}{}", &second[len..]));
                }
            }
            if joined.len() >= 200 {
                break;
            }
        }
        joined
    }

    fn mixed_case(text: &str, random: &mut Random) -> String {
        match random.below(3) {
            0 => text.to_owned(),
            1 => text.to_ascii_uppercase(),
            _ => text
                .chars()
                .map(|c| {
                    if random.below(2) == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
        }
    }

    fn generated_events(patterns: &[String], count: usize) -> Vec<Event> {
        let fillers = [
            "GET",
            "/api/v1/orders",
            "status=503",
            "user=42",
            "took",
            "12ms",
            "Über",
            "straße",
            "\"quoted\"",
            "request",
            "id=7f3a",
            "ERROR",
            "retrying",
            "",
            "->",
        ];
        let hosts = ["web-01", "web-02", "db-01", "api-03"];
        let services = ["api-gateway", "payment-service", "postgres", "nginx"];
        let overlapping = overlapping_pairs(patterns);
        assert!(overlapping.len() > 20, "{}", overlapping.len());
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        (0..count)
            .map(|index| {
                let mut parts: Vec<String> = (0..random.below(8))
                    .map(|_| random.pick(&fillers).to_string())
                    .collect();
                for _ in 0..random.below(4) {
                    let chosen = random.below(patterns.len());
                    let text = match random.below(5) {
                        0 => random.pick(&overlapping).clone(),
                        1 => format!(
                            "{}{}",
                            patterns[chosen],
                            patterns[(chosen + 1) % patterns.len()]
                        ),
                        _ => patterns[chosen].clone(),
                    };
                    let text = mixed_case(&text, &mut random);
                    match random.below(3) {
                        0 => parts.insert(0, text),
                        1 => parts.push(text),
                        _ => {
                            let at = random.below(parts.len() + 1);
                            parts.insert(at, text);
                        }
                    }
                }
                let separator = if random.below(6) == 0 { "" } else { " " };
                let mut event = event_at(index as i64, &parts.join(separator));
                event.level = *random.pick(&Level::ALL);
                event.host = Some(random.pick(&hosts).to_string());
                event.service = Some(random.pick(&services).to_string());
                event
            })
            .collect()
    }

    #[test]
    fn a_thousand_rules_match_exactly_like_their_naive_twin() {
        let patterns: Vec<String> = bench_file("patterns-1000.txt")
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(patterns.len(), 1000);
        let regexes: Vec<String> = bench_file("regexes-20.txt")
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        let naive = naive_rules(&patterns, &regexes);
        let yaml: String = std::iter::once("rules:\n".to_string())
            .chain(naive.iter().map(NaiveRule::yaml))
            .collect();
        let rules = RuleSet::from_yaml(&yaml, "<generated>").unwrap();
        assert_eq!(rules.len(), naive.len());
        let mut detector = Detector::new(Arc::new(rules));

        let mut matched_rules = std::collections::HashSet::new();
        let mut total = 0;
        let mut out = Vec::new();
        for event in generated_events(&patterns, 3000) {
            out.clear();
            detector.observe(&event, &mut out);
            let fast: Vec<&str> = out.iter().map(|found| &*found.rule).collect();
            let slow: Vec<&str> = naive
                .iter()
                .filter(|rule| rule.matches(&event))
                .map(|rule| rule.id.as_str())
                .collect();
            assert_eq!(fast, slow, "message: {:?}", event.message);
            total += fast.len();
            matched_rules.extend(slow.iter().map(|id| id.to_string()));
        }
        // The input exercises every kind of rule, not only the easy ones.
        let matched_kind =
            |kind: &dyn Fn(&str) -> bool| matched_rules.iter().filter(|id| kind(id)).count();
        let pattern_kind = |id: &str, rest: usize| {
            id.strip_prefix('p')
                .and_then(|index| index.parse::<usize>().ok())
                .is_some_and(|index| index % 10 == rest)
        };
        assert!(
            matched_kind(&|id| pattern_kind(id, 3)) > 20,
            "case-sensitive"
        );
        assert!(matched_kind(&|id| pattern_kind(id, 5)) > 20, "all");
        assert!(matched_kind(&|id| pattern_kind(id, 7)) > 20, "any and none");
        assert!(matched_kind(&|id| id.starts_with('r')) > 10, "regex");
        assert!(matched_kind(&|id| id.starts_with('f')) == 4, "filter-only");
        assert!(matched_rules.contains("n0") && matched_rules.contains("p0011"));
        assert!(matched_rules.len() > 500, "{}", matched_rules.len());
        assert!(total > 10_000, "{total}");
    }
}
