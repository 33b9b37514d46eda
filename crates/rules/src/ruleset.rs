//! A compiled, immutable set of rules, and the two ways to check rule files.

use std::io;
use std::path::{Path, PathBuf};

use crate::compile::Compiler;
use crate::diagnostic::{Diagnostic, RulesError};
use crate::files::{ReadProblem, read_rule_file, rule_files};
use crate::prefilter::Prefilter;
use crate::rule::Rule;

/// Rules compiled together: the rules in load order and the prefilter that
/// matches all of them in one pass. Immutable and `Send + Sync`, so that
/// workers share one behind an `Arc` and a reload swaps in a new one.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    prefilter: Prefilter,
    skipped: Skipped,
}

/// Sigma rules left out of a rule set because they use what firewatch
/// does not support.
#[derive(Clone, Debug, Default)]
pub(crate) struct Skipped {
    /// How many rules.
    pub rules: usize,
    /// One warning per unsupported part, naming the rule.
    pub reasons: Vec<Diagnostic>,
}

impl RuleSet {
    pub(crate) fn new(rules: Vec<Rule>, prefilter: Prefilter, skipped: Skipped) -> Self {
        Self {
            rules,
            prefilter,
            skipped,
        }
    }

    /// Loads and compiles every rule under these files and directories.
    ///
    /// On any problem in the rule files, returns all the diagnostics found
    /// (not just the first); a path that cannot be read is an
    /// [`RulesError::Io`].
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<RuleSet, RulesError> {
        let (compiler, mut unreadable) = compile_paths(paths);
        if !unreadable.is_empty() {
            let (path, source) = unreadable.swap_remove(0);
            return Err(RulesError::Io { path, source });
        }
        compiler.finish().map_err(RulesError::Invalid)
    }

    /// Compiles rules from YAML text; `origin` names the text in
    /// diagnostics (a path, or `<inline>`).
    pub fn from_yaml(text: &str, origin: &str) -> Result<RuleSet, RulesError> {
        let mut compiler = Compiler::default();
        compiler.add_file(Path::new(origin), text);
        compiler.finish().map_err(RulesError::Invalid)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in load order (files in path order, rules in file order).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id() == id)
    }

    /// How many Sigma rules were skipped because they use a part firewatch
    /// does not support (the other rules loaded).
    pub fn skipped_rules(&self) -> usize {
        self.skipped.rules
    }

    /// Why Sigma rules were skipped: one warning per unsupported part, at
    /// its `file:line:column`, naming the rule.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.skipped.reasons
    }

    pub(crate) fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }
}

/// Checks rule files without building a detector; returns every problem
/// found, unreadable paths included (empty = clean). A clean result means
/// that [`RuleSet::load`] succeeds on the same paths.
pub fn lint(paths: &[impl AsRef<Path>]) -> Vec<Diagnostic> {
    let (mut compiler, unreadable) = compile_paths(paths);
    for (path, error) in unreadable {
        compiler.file_problem(Diagnostic::whole_file(
            path,
            format!("cannot read: {error}"),
        ));
    }
    compiler.into_diagnostics()
}

/// Reads and compiles the rule files under `paths`. Paths that cannot be
/// read come back apart: `load` fails on them, `lint` reports them.
fn compile_paths(paths: &[impl AsRef<Path>]) -> (Compiler, Vec<(PathBuf, io::Error)>) {
    let (files, mut unreadable) = rule_files(paths);
    let mut compiler = Compiler::default();
    for path in files {
        match read_rule_file(&path) {
            Ok(text) => compiler.add_file(&path, &text),
            Err(ReadProblem::Io(error)) => unreadable.push((path, error)),
            Err(ReadProblem::Content(diagnostic)) => compiler.file_problem(diagnostic),
        }
    }
    (compiler, unreadable)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const ONE_RULE: &str =
        "id: single\ntitle: one rule\nseverity: info\nfilter: { min_level: error }\n";
    const TWO_RULES: &str = "rules:\n\
        \x20 - { id: first, title: t, severity: low, match: { any: [a] } }\n\
        \x20 - { id: second, title: t, severity: high, match: { regex: ['b+'] } }\n";

    #[test]
    fn a_directory_loads_every_rule_file_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("more")).unwrap();
        fs::write(dir.path().join("b.yaml"), ONE_RULE).unwrap();
        fs::write(dir.path().join("a.yml"), TWO_RULES).unwrap();
        fs::write(
            dir.path().join("more/c.yml"),
            "id: third\ntitle: t\nseverity: medium\nmatch: { all: [x, y] }\nthreshold: { count: 2, window: 30s }\n",
        )
        .unwrap();
        fs::write(dir.path().join("README.md"), "not a rule").unwrap();

        let rules = RuleSet::load(&[dir.path()]).unwrap();
        let ids: Vec<&str> = rules.rules().iter().map(Rule::id).collect();
        assert_eq!(ids, ["first", "second", "single", "third"]);
        let third = rules.rule("third").unwrap();
        assert_eq!(third.path(), dir.path().join("more/c.yml"));
        assert_eq!(third.line(), 1);
        assert_eq!(third.threshold().unwrap().count, 2);
        assert_eq!(rules.rule("second").unwrap().line(), 3);
        assert!(lint(&[dir.path()]).is_empty());
    }

    #[test]
    fn single_rule_and_rule_list_files_load() {
        let single = RuleSet::from_yaml(ONE_RULE, "<inline>").unwrap();
        assert_eq!(single.len(), 1);
        let rule = &single.rules()[0];
        assert_eq!((rule.id(), rule.title()), ("single", "one rule"));
        assert_eq!(rule.resolve_after(), crate::DEFAULT_RESOLVE_AFTER);
        assert_eq!(rule.threshold(), None);
        assert_eq!(RuleSet::from_yaml(TWO_RULES, "<inline>").unwrap().len(), 2);
        let empty = RuleSet::from_yaml("rules: []\n", "<inline>").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn duplicate_ids_across_files_name_the_first_definition() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.yml"), TWO_RULES).unwrap();
        fs::write(
            dir.path().join("b.yml"),
            "# again\nid: second\ntitle: t\nseverity: low\nmatch: { any: [z] }\n",
        )
        .unwrap();
        let found = lint(&[dir.path()]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, dir.path().join("b.yml"));
        assert_eq!((found[0].line, found[0].column), (2, 5));
        let first = dir.path().join("a.yml");
        assert_eq!(
            found[0].message,
            format!(
                "duplicate rule id `second`: first defined at {}:3",
                first.display()
            )
        );
        match RuleSet::load(&[dir.path()]) {
            Err(RulesError::Invalid(diagnostics)) => assert_eq!(diagnostics, found),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unreadable_paths_are_io_errors_for_load_and_diagnostics_for_lint() {
        let missing = Path::new("/nonexistent/firewatch-rules");
        assert!(matches!(
            RuleSet::load(&[missing]),
            Err(RulesError::Io { .. })
        ));
        let found = lint(&[missing]);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line, found[0].column), (0, 0));
        assert!(
            found[0].message.starts_with("cannot read"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn the_shipped_rule_pack_loads_unchanged() {
        let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/rules");
        let rules = RuleSet::load(&[&pack]).unwrap();
        assert!(rules.len() >= 10, "{}", rules.len());
        assert!(lint(&[&pack]).is_empty());
    }

    #[test]
    fn rule_sets_are_shareable_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<RuleSet>();
    }
}
