//! The detection phrases, as the two things that search for them: firewatch
//! rules (one rule per phrase) and a ripgrep pattern file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use firewatch_rules::RuleSet;

/// What the rules made from the phrases are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleMix {
    /// One keyword rule per phrase: `match: {any: [PHRASE]}`.
    Keywords,
    /// The eight rule types in turn (any, threshold, spike, absence,
    /// sequence, new_value, cardinality, ratio), each with its phrase as
    /// keyword, some with `when:` conditions or grouped by a field.
    EveryType,
}

/// Rule types in [`RuleMix::EveryType`]'s turn.
const RULE_TYPES: usize = 8;

/// The first `count` phrases of the shared list, in a scratch directory.
#[derive(Clone, Debug)]
pub struct Patterns {
    phrases: Vec<String>,
    work_dir: PathBuf,
}

impl Patterns {
    /// Reads the first `count` phrases of `shared/bench/patterns-1000.txt`
    /// (blank lines carry none). Past the end of the list it starts again
    /// with a suffix (`PHRASE #1`, `PHRASE #2`...), so that every phrase
    /// stays distinct.
    pub fn load(shared_dir: &Path, work_dir: &Path, count: usize) -> anyhow::Result<Patterns> {
        let path = shared_dir.join("bench/patterns-1000.txt");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let list: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        if list.is_empty() && count > 0 {
            bail!("{} holds no phrase", path.display());
        }
        let phrases = (0..count)
            .map(|number| {
                let phrase = list[number % list.len()];
                match number / list.len() {
                    0 => phrase.to_owned(),
                    round => format!("{phrase} #{round}"),
                }
            })
            .collect();
        Ok(Patterns {
            phrases,
            work_dir: work_dir.to_owned(),
        })
    }

    /// How many phrases there are.
    pub fn count(&self) -> usize {
        self.phrases.len()
    }

    /// One rule per phrase, of the given mix. Phrases are written as JSON
    /// strings, which YAML reads as double-quoted scalars.
    pub fn rules_yaml(&self, mix: RuleMix) -> String {
        let quoted: Vec<String> = self
            .phrases
            .iter()
            .map(|phrase| serde_json::Value::from(phrase.as_str()).to_string())
            .collect();
        let mut yaml = String::from("rules:\n");
        for (number, phrase) in quoted.iter().enumerate() {
            let _ = match mix {
                RuleMix::Keywords => write!(
                    yaml,
                    "  - id: keyword-{number:04}\n    title: keyword {number}\n    severity: medium\n    match: {{ any: [{phrase}] }}\n"
                ),
                RuleMix::EveryType => {
                    let next = &quoted[(number + 1) % quoted.len()];
                    write!(
                        yaml,
                        "  - id: rule-{number:05}\n    title: \"{{rule}}\"\n    severity: low\n{}",
                        rule_body(number % RULE_TYPES, phrase, next)
                    )
                }
            };
        }
        yaml
    }

    /// The rules of the given mix, compiled.
    pub fn rule_set(&self, mix: RuleMix) -> anyhow::Result<RuleSet> {
        RuleSet::from_yaml(&self.rules_yaml(mix), "<benchmark rules>").with_context(|| {
            format!(
                "cannot compile the {} generated {mix:?} rules",
                self.count()
            )
        })
    }

    /// Writes the rules as `rules-N/keywords.yml` and returns the directory.
    pub fn write_rules(&self) -> anyhow::Result<PathBuf> {
        let dir = self.work_dir.join(format!("rules-{}", self.count()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("keywords.yml");
        std::fs::write(&path, self.rules_yaml(RuleMix::Keywords))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(dir)
    }

    /// Writes the phrases one per line as `patterns-N.txt`, for `rg -f`.
    pub fn write_pattern_file(&self) -> anyhow::Result<PathBuf> {
        let path = self.work_dir.join(format!("patterns-{}.txt", self.count()));
        let mut text = self.phrases.join("\n");
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

/// The type-specific part of an [`RuleMix::EveryType`] rule of type
/// `kind` looking for `phrase` (`next` is a sequence's second step). Windows
/// are minutes long, a fraction of the corpus's time span, so that windows
/// open, fill and close throughout the run.
fn rule_body(kind: usize, phrase: &str, next: &str) -> String {
    match kind {
        0 => format!("    match: {{ any: [{phrase}] }}\n    group_by: [host]\n"),
        1 => format!(
            "    match: {{ any: [{phrase}] }}\n    \
             when: {{ not: {{ field: host, op: glob, value: 'test-*' }} }}\n    \
             threshold: {{ count: 5, window: 1m }}\n    group_by: [host]\n"
        ),
        2 => format!(
            "    match: {{ any: [{phrase}] }}\n    \
             spike: {{ window: 5m, factor: 3, min_count: 10 }}\n    group_by: [service]\n"
        ),
        3 => format!(
            "    match: {{ any: [{phrase}] }}\n    absence: {{ period: 10m }}\n    group_by: [host]\n"
        ),
        4 => format!(
            "    sequence:\n      first: {{ keywords: {{ any: [{phrase}] }} }}\n      \
             then: {{ keywords: {{ any: [{next}] }} }}\n      within: 10m\n    group_by: [host]\n"
        ),
        5 => format!(
            "    match: {{ any: [{phrase}] }}\n    \
             new_value: {{ field: fields.status, learn: 10m }}\n    group_by: [service]\n"
        ),
        6 => format!(
            "    match: {{ any: [{phrase}] }}\n    \
             cardinality: {{ field: host, count: 3, window: 5m }}\n    group_by: [service]\n"
        ),
        _ => format!(
            "    when: {{ field: fields.latency_ms, op: '>', value: 250 }}\n    \
             ratio: {{ of: {{ keywords: {{ any: [{phrase}] }} }}, above: 0.1, window: 5m, min_count: 20 }}\n    \
             group_by: [service]\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use firewatch_event::{Event, EventId, Timestamp};
    use firewatch_rules::Detector;

    use super::*;

    fn patterns(phrases: &[&str]) -> Patterns {
        Patterns {
            phrases: phrases.iter().map(|phrase| phrase.to_string()).collect(),
            work_dir: PathBuf::new(),
        }
    }

    #[test]
    fn every_phrase_becomes_a_rule_even_with_yaml_punctuation() {
        let phrases = [
            "connection refused",
            "KeyError:",
            "TypeError: 'NoneType' object is not subscriptable",
            "tls: handshake failure",
            "PANIC:  could not write to file",
            "a \"quoted\" [bracket] {brace} # hash",
        ];
        let rules = patterns(&phrases).rule_set(RuleMix::Keywords).unwrap();
        assert_eq!(rules.len(), phrases.len());

        let mut detector = Detector::new(Arc::new(rules));
        let mut matches = Vec::new();
        for (number, phrase) in phrases.iter().enumerate() {
            let mut event = Event::new(
                EventId(number as u64),
                "bench".into(),
                Timestamp::UNIX_EPOCH,
            );
            event.message = format!("before {phrase} after");
            matches.clear();
            detector.observe(&event, &mut matches);
            assert!(
                matches
                    .iter()
                    .any(|found| *found.rule == *format!("keyword-{number:04}")),
                "{phrase}: {matches:?}"
            );
        }
    }

    #[test]
    fn every_type_mix_compiles_and_takes_the_types_in_turn() {
        let phrases: Vec<String> = (0..2 * RULE_TYPES).map(|n| format!("phrase {n}")).collect();
        let phrases: Vec<&str> = phrases.iter().map(String::as_str).collect();
        let rules = patterns(&phrases).rule_set(RuleMix::EveryType).unwrap();
        let types: Vec<&str> = rules.rules().iter().map(|rule| rule.rule_type()).collect();
        let expected = [
            "any",
            "threshold",
            "spike",
            "absence",
            "sequence",
            "new_value",
            "cardinality",
            "ratio",
        ];
        assert_eq!(types[..RULE_TYPES], expected);
        assert_eq!(types[RULE_TYPES..], expected);
    }

    #[test]
    fn the_shared_list_loads_in_order() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
        let ten = Patterns::load(&shared, Path::new("."), 10).unwrap();
        assert_eq!(ten.count(), 10);
        assert_eq!(ten.phrases[0], "connection refused");
        let past_the_end = Patterns::load(&shared, Path::new("."), 2_001).unwrap();
        assert_eq!(past_the_end.phrases[1_000], "connection refused #1");
        assert_eq!(past_the_end.phrases[2_000], "connection refused #2");
        let distinct: std::collections::HashSet<&String> = past_the_end.phrases.iter().collect();
        assert_eq!(distinct.len(), 2_001);
    }
}
