//! The detection phrases, as the two things that search for them: firewatch
//! keyword rules (one rule per phrase) and a ripgrep pattern file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use firewatch_rules::RuleSet;

/// The first `count` phrases of the shared list, in a scratch directory.
#[derive(Clone, Debug)]
pub struct Patterns {
    phrases: Vec<String>,
    work_dir: PathBuf,
}

impl Patterns {
    /// Reads the first `count` phrases of `shared/bench/patterns-1000.txt`
    /// (blank lines carry none).
    pub fn load(shared_dir: &Path, work_dir: &Path, count: usize) -> anyhow::Result<Patterns> {
        let path = shared_dir.join("bench/patterns-1000.txt");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let phrases: Vec<String> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .take(count)
            .map(str::to_owned)
            .collect();
        if phrases.len() < count {
            bail!(
                "{} holds {} phrases, fewer than {count}",
                path.display(),
                phrases.len()
            );
        }
        Ok(Patterns {
            phrases,
            work_dir: work_dir.to_owned(),
        })
    }

    /// How many phrases there are.
    pub fn count(&self) -> usize {
        self.phrases.len()
    }

    /// One keyword rule per phrase: `match: {any: [PHRASE]}`. Phrases are
    /// written as JSON strings, which YAML reads as double-quoted scalars.
    pub fn rules_yaml(&self) -> String {
        let mut yaml = String::from("rules:\n");
        for (number, phrase) in self.phrases.iter().enumerate() {
            let quoted = serde_json::Value::from(phrase.as_str()).to_string();
            yaml.push_str(&format!(
                "  - id: keyword-{number:04}\n    title: keyword {number}\n    severity: medium\n    match: {{ any: [{quoted}] }}\n"
            ));
        }
        yaml
    }

    /// The rules, compiled.
    pub fn rule_set(&self) -> anyhow::Result<RuleSet> {
        RuleSet::from_yaml(&self.rules_yaml(), "<benchmark rules>").with_context(|| {
            format!(
                "cannot compile the {} generated keyword rules",
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
        std::fs::write(&path, self.rules_yaml())
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
        let rules = patterns(&phrases).rule_set().unwrap();
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
    fn the_shared_list_loads_in_order() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
        let ten = Patterns::load(&shared, Path::new("."), 10).unwrap();
        assert_eq!(ten.count(), 10);
        assert_eq!(ten.phrases[0], "connection refused");
        assert!(Patterns::load(&shared, Path::new("."), 100_000).is_err());
    }
}
