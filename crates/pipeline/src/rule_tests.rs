//! Rule unit tests: sample log lines in, the incidents expected at given
//! evaluation times out, like `promtool test rules`.
//!
//! A test file (`*.test.yml`) names the rule files it drills and a list of
//! tests. Each test gives input lines (inline, from a file, or a generated
//! series) and, for a few evaluation times, every incident the detector
//! should know then:
//!
//! ```yaml
//! rules: [../auth.yml]                 # relative to the test file
//! tests:
//!   - name: twenty failed passwords within five minutes open an incident
//!     format: syslog                   # optional, default auto
//!     input:
//!       - series: "{time} bastion-01 sshd[4711]: Failed password for root from 203.0.113.45 port {n} ssh2"
//!         time_format: syslog          # rfc3339 (default) | syslog | iso
//!         start: 2026-11-20T09:20:00Z
//!         every: 10s
//!         count: 20
//!     expect:
//!       - at: 2026-11-20T09:25:00Z
//!         incidents:
//!           - { rule: ssh-auth-failure-burst, state: open, count: 20 }
//!       - at: 2026-11-20T09:45:00Z
//!         incidents:
//!           - { rule: ssh-auth-failure-burst, state: resolved }
//! ```
//!
//! How a test runs, and why:
//! - Lines go through the public [`Processor`], parse and detect exactly as
//!   `firewatch run` and `firewatch detect` do, from one source (named by
//!   the test's `source`, default `test`).
//! - Nothing depends on the wall clock. Every line is read as if received at
//!   the test's `received` time (default: the time of its first `expect`
//!   entry): that is the time of lines that carry none and the year of
//!   year-less syslog time stamps.
//! - Evaluation times come in increasing order. At each one, the input lines
//!   not yet processed whose event time is not after it are processed, in
//!   input order (the detector places late lines itself); then event time
//!   moves on to the evaluation time, so that quiet periods pass and
//!   incidents resolve; then the incidents the detector knows (open, and the
//!   latest resolved) are compared with the expected ones.
//! - A `restart: TIME` entry among them processes the lines due by then
//!   too, without moving event time on; then the processor's state is
//!   saved as JSON text, as `firewatch run` stores it with a commit, and a
//!   fresh processor restored from it takes over. A restart must change
//!   nothing: the same expectations hold with and without it.
//! - Comparison: the expected list is the complete list; an expected
//!   incident compares only the fields it gives (`rule`, `key`, `title`,
//!   `state`, `severity`, `count`, `flapping`). Each expected incident
//!   takes the first actual one that agrees and is not taken yet; what is
//!   left on either side is the difference, printed as a diff.
//! - Lines are due by event time, so a line older than an earlier entry of
//!   `expect` is processed at that entry wherever it is written: a test
//!   cannot write a line that arrives after event time moved past it.
//!
//! A test file that cannot be read or makes no sense is a
//! [`RuleTestError`] with `file:line:column` for each problem, in the same
//! [`Diagnostic`] form as `firewatch rules lint`.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use firewatch_event::{
    Batch, EventId, Incident, IncidentState, RawRecord, Severity, parse_duration,
};
use firewatch_parse::{Format, Parser, ParserConfig};
use firewatch_rules::{Diagnostic, RuleSet, RulesError};

use crate::{Processor, ProcessorSource};

/// Why rule tests could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuleTestError {
    /// The test file holds problems; every one found is listed.
    #[error("{}", diagnostic_lines(.0))]
    Invalid(Vec<Diagnostic>),
    /// The rules a test file names did not load.
    #[error("{}: the rules it names do not load:\n{source}", path.display())]
    Rules {
        /// The test file.
        path: PathBuf,
        /// Why the rules did not load.
        source: RulesError,
    },
}

/// Diagnostics, one per line.
fn diagnostic_lines(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Every test file under `paths`: a file is taken whatever its name; a
/// directory gives its `*.test.yml` and `*.test.yaml` files, recursively, in
/// path order, hidden entries skipped. A path that cannot be read is a
/// diagnostic.
pub fn find_rule_test_files(paths: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, RuleTestError> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut problems);
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.to_owned());
        } else {
            problems.push(whole_file(path, "no such file or directory".into()));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(RuleTestError::Invalid(problems))
    }
}

fn walk(directory: &Path, found: &mut Vec<PathBuf>, problems: &mut Vec<Diagnostic>) {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            problems.push(whole_file(
                directory,
                format!("cannot read directory: {error}"),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            walk(&path, found, problems);
        } else if name.ends_with(".test.yml") || name.ends_with(".test.yaml") {
            found.push(path);
        }
    }
}

fn whole_file(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        path: path.to_owned(),
        line: 0,
        column: 0,
        message,
    }
}

/// A test file, read and checked, its inputs generated and read.
#[derive(Debug)]
pub struct RuleTestFile {
    path: PathBuf,
    rules: Vec<PathBuf>,
    tests: Vec<RuleTest>,
}

/// One test of a test file, ready to run.
#[derive(Debug)]
struct RuleTest {
    name: String,
    source: Arc<str>,
    parser: ParserConfig,
    received: Timestamp,
    lines: Vec<Vec<u8>>,
    steps: Vec<Step>,
}

/// One entry of `expect`: the lines due by `at` are processed first.
#[derive(Debug)]
struct Step {
    at: Timestamp,
    action: Action,
}

/// What a step does once its lines are processed.
#[derive(Debug)]
enum Action {
    /// Moves event time on to the step's time and compares the incidents.
    Check(Vec<ExpectedIncident>),
    /// Saves the state and goes on in a fresh processor restored from it.
    Restart,
}

/// An incident as a test expects it: only the fields given are compared.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExpectedIncident {
    /// The rule's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The incident key, e.g. `ssh-auth-failure-burst/bastion-01`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The title, group values filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `open` or `resolved`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<IncidentState>,
    /// The severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Matching events counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Marked flapping (see the rule's `flap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flapping: Option<bool>,
}

impl ExpectedIncident {
    fn agrees_with(&self, incident: &Incident) -> bool {
        self.rule.as_ref().is_none_or(|rule| *rule == incident.rule)
            && self.key.as_ref().is_none_or(|key| *key == incident.key)
            && self
                .title
                .as_ref()
                .is_none_or(|title| *title == incident.title)
            && self.state.is_none_or(|state| state == incident.state)
            && self
                .severity
                .is_none_or(|severity| severity == incident.severity)
            && self.count.is_none_or(|count| count == incident.count)
            && self
                .flapping
                .is_none_or(|flapping| flapping == incident.flapping)
    }
}

/// The fields a test compares, in one line: `rule=… key=… state=…`.
struct Fields<'a> {
    rule: Option<&'a str>,
    key: Option<&'a str>,
    title: Option<&'a str>,
    state: Option<IncidentState>,
    severity: Option<Severity>,
    count: Option<u64>,
    flapping: Option<bool>,
}

impl<'a> From<&'a ExpectedIncident> for Fields<'a> {
    fn from(expected: &'a ExpectedIncident) -> Self {
        Self {
            rule: expected.rule.as_deref(),
            key: expected.key.as_deref(),
            title: expected.title.as_deref(),
            state: expected.state,
            severity: expected.severity,
            count: expected.count,
            flapping: expected.flapping,
        }
    }
}

impl<'a> From<&'a Incident> for Fields<'a> {
    fn from(incident: &'a Incident) -> Self {
        Self {
            rule: Some(&incident.rule),
            key: Some(&incident.key),
            title: Some(&incident.title),
            state: Some(incident.state),
            severity: Some(incident.severity),
            count: Some(incident.count),
            // Shown only when set: most rules never flap.
            flapping: incident.flapping.then_some(true),
        }
    }
}

impl fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        let mut field = |f: &mut fmt::Formatter<'_>, name: &str, value: &dyn fmt::Display| {
            let written = write!(f, "{separator}{name}={value}");
            separator = " ";
            written
        };
        if let Some(rule) = self.rule {
            field(f, "rule", &rule)?;
        }
        if let Some(key) = self.key {
            field(f, "key", &key)?;
        }
        if let Some(title) = self.title {
            field(f, "title", &format_args!("{title:?}"))?;
        }
        if let Some(state) = self.state {
            field(f, "state", &state)?;
        }
        if let Some(severity) = self.severity {
            field(f, "severity", &severity)?;
        }
        if let Some(count) = self.count {
            field(f, "count", &count)?;
        }
        if let Some(flapping) = self.flapping {
            field(f, "flapping", &flapping)?;
        }
        if separator.is_empty() {
            f.write_str("any incident")?;
        }
        Ok(())
    }
}

/// What one test gave.
#[derive(Debug, Serialize)]
pub struct RuleTestOutcome {
    /// The test file.
    pub file: PathBuf,
    /// The test's name.
    pub name: String,
    /// Evaluation times whose incidents differ from the expected ones; empty
    /// when the test passed.
    pub failures: Vec<CheckFailure>,
}

impl RuleTestOutcome {
    /// Every evaluation time gave the expected incidents.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// How the incidents at one evaluation time differ from the expected ones.
#[derive(Debug, Serialize)]
pub struct CheckFailure {
    /// The evaluation time.
    pub at: Timestamp,
    /// Expected incidents that agree with an actual one.
    pub matched: Vec<ExpectedIncident>,
    /// Expected incidents that no actual one agrees with.
    pub missing: Vec<ExpectedIncident>,
    /// Actual incidents that no expected one took.
    pub unexpected: Vec<Incident>,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  at {}: incidents differ (- expected, + actual)",
            self.at
        )?;
        for expected in &self.matched {
            writeln!(f, "      {}", Fields::from(expected))?;
        }
        for expected in &self.missing {
            writeln!(f, "    - {}", Fields::from(expected))?;
        }
        // Titles are long: shown only when a missing incident expects one.
        let show_titles = self.missing.iter().any(|expected| expected.title.is_some());
        for actual in &self.unexpected {
            let mut fields = Fields::from(actual);
            if !show_titles {
                fields.title = None;
            }
            writeln!(f, "    + {fields}")?;
        }
        if self.matched.is_empty() && self.unexpected.is_empty() {
            writeln!(f, "    + (no incident)")?;
        }
        Ok(())
    }
}

impl RuleTestFile {
    /// Reads and checks a test file, with the files its inputs name.
    pub fn load(path: &Path) -> Result<Self, RuleTestError> {
        let text = fs::read_to_string(path).map_err(|error| {
            RuleTestError::Invalid(vec![whole_file(path, format!("cannot read: {error}"))])
        })?;
        Self::from_yaml(&text, path)
    }

    /// Checks a test file's text; `path` places problems and anchors the
    /// relative paths it names.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, RuleTestError> {
        let options = firewatch_rules::limits::yaml_options();
        let spec: TestFileSpec =
            serde_saphyr::from_str_with_options(text, options).map_err(|error| {
                let inner = error.without_snippet();
                let (line, column) = inner.location().map_or((1, 1), line_column);
                RuleTestError::Invalid(vec![Diagnostic {
                    path: path.to_owned(),
                    line,
                    column,
                    message: UserMessageFormatter.format_message(inner).into_owned(),
                }])
            })?;
        let mut checker = Checker {
            path,
            base: path.parent().unwrap_or(Path::new("")),
            problems: Vec::new(),
        };
        let file = checker.file(spec);
        if checker.problems.is_empty() {
            Ok(file)
        } else {
            let mut problems = checker.problems;
            problems.sort_by_key(|problem| (problem.line, problem.column));
            Err(RuleTestError::Invalid(problems))
        }
    }

    /// The test file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the rules the file names and runs each test on a fresh
    /// processor.
    pub fn run(&self) -> Result<Vec<RuleTestOutcome>, RuleTestError> {
        let rules = RuleSet::load(&self.rules).map_err(|source| RuleTestError::Rules {
            path: self.path.clone(),
            source,
        })?;
        let rules = Arc::new(rules);
        Ok(self
            .tests
            .iter()
            .map(|test| RuleTestOutcome {
                file: self.path.clone(),
                name: test.name.clone(),
                failures: test.run(Arc::clone(&rules)),
            })
            .collect())
    }
}

impl RuleTest {
    fn run(&self, rules: Arc<RuleSet>) -> Vec<CheckFailure> {
        let mut processor = self.processor(Arc::clone(&rules));
        // Event times decide when a line is due; parsing twice is the price
        // of going through the processor unchanged.
        let parser = Parser::new(self.parser.clone());
        // A record leaves its slot when it is due, so each is processed once.
        let mut pending: Vec<Option<(RawRecord, Timestamp)>> = self
            .lines
            .iter()
            .enumerate()
            .map(|(index, bytes)| {
                let number = index as u64 + 1;
                let record = RawRecord::new(EventId(number), number, bytes.clone());
                let time = parser.parse(&record, &self.source, self.received).time();
                Some((record, time))
            })
            .collect();
        let mut failures = Vec::new();
        for step in &self.steps {
            let due: Vec<RawRecord> = pending
                .iter_mut()
                .filter(|slot| slot.as_ref().is_some_and(|(_, time)| *time <= step.at))
                .filter_map(Option::take)
                .map(|(record, _)| record)
                .collect();
            processor.process(self.batch(self.received, due), |_, _| {});
            match &step.action {
                Action::Check(incidents) => {
                    processor.advance_to(step.at);
                    failures.extend(compare(step.at, incidents, processor.incidents()));
                }
                Action::Restart => processor = self.restart(&processor, Arc::clone(&rules)),
            }
        }
        failures
    }

    /// A processor for this test's one source.
    fn processor(&self, rules: Arc<RuleSet>) -> Processor {
        Processor::new(
            [ProcessorSource {
                name: &self.source,
                parser: &self.parser,
                follows: false,
            }],
            rules,
        )
    }

    /// A fresh processor that goes on from the state of `processor`, saved
    /// as JSON text and read back as `firewatch run` does across a
    /// restart. A state that does not save or read is a bug, not a test
    /// failure: the processor then starts empty, as a restart would, and
    /// the expectations that follow show it.
    fn restart(&self, processor: &Processor, rules: Arc<RuleSet>) -> Processor {
        let mut restarted = self.processor(rules);
        let saved = processor
            .rule_state()
            .and_then(|state| serde_json::to_string(&state))
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text));
        match saved {
            Ok(state) => {
                restarted.restore_rule_state(&state);
            }
            Err(error) => tracing::warn!(%error, "the rule state does not save"),
        }
        restarted
    }

    fn batch(&self, received: Timestamp, records: Vec<RawRecord>) -> Batch {
        Batch {
            source: Arc::clone(&self.source),
            received,
            records,
            position: None,
            redelivered: false,
        }
    }
}

/// Pairs expected and actual incidents at `at`; `None` when they agree.
fn compare(
    at: Timestamp,
    expected: &[ExpectedIncident],
    actual: Vec<Incident>,
) -> Option<CheckFailure> {
    let mut unexpected: Vec<Option<Incident>> = actual.into_iter().map(Some).collect();
    let mut matched = Vec::new();
    let mut missing = Vec::new();
    for expected in expected {
        let taken = unexpected
            .iter_mut()
            .find(|slot| {
                slot.as_ref()
                    .is_some_and(|incident| expected.agrees_with(incident))
            })
            .and_then(Option::take);
        match taken {
            Some(_) => matched.push(expected.clone()),
            None => missing.push(expected.clone()),
        }
    }
    let unexpected: Vec<Incident> = unexpected.into_iter().flatten().collect();
    if missing.is_empty() && unexpected.is_empty() {
        return None;
    }
    Some(CheckFailure {
        at,
        matched,
        missing,
        unexpected,
    })
}

// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFileSpec {
    rules: Spanned<Vec<String>>,
    tests: Vec<TestSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSpec {
    name: Spanned<String>,
    #[serde(default)]
    format: Option<Spanned<String>>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    received: Option<Spanned<String>>,
    input: Vec<InputSpec>,
    expect: Vec<ExpectSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    #[serde(default)]
    at: Option<Spanned<String>>,
    #[serde(default)]
    incidents: Option<Vec<ExpectedIncident>>,
    #[serde(default)]
    restart: Option<Spanned<String>>,
}

/// One input entry: a line, or a map (`series:` or `file:`).
enum InputSpec {
    Line(String),
    Lines(Box<InputMap>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputMap {
    #[serde(default)]
    series: Option<Spanned<String>>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    start: Option<Spanned<String>>,
    #[serde(default)]
    every: Option<Spanned<String>>,
    #[serde(default)]
    time_format: Option<Spanned<String>>,
    #[serde(default)]
    file: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for InputSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputVisitor;

        impl<'de> Visitor<'de> for InputVisitor {
            type Value = InputSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a log line, or a map with `series:` or `file:`")
            }

            fn visit_str<E: de::Error>(self, line: &str) -> Result<InputSpec, E> {
                Ok(InputSpec::Line(line.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<InputSpec, A::Error> {
                InputMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|map| InputSpec::Lines(Box::new(map)))
            }
        }

        deserializer.deserialize_any(InputVisitor)
    }
}

/// How `{time}` is written in a series.
#[derive(Clone, Copy, Debug)]
enum TimeFormat {
    /// `2026-11-20T09:20:05Z`
    Rfc3339,
    /// `Nov 20 09:20:05` (BSD syslog, no year)
    Syslog,
    /// `2026-11-20 09:20:05,000` (log4j, Python logging)
    Iso,
}

impl TimeFormat {
    fn render(self, time: Timestamp) -> String {
        match self {
            TimeFormat::Rfc3339 => time.to_string(),
            TimeFormat::Syslog => time.strftime("%b %e %H:%M:%S").to_string(),
            TimeFormat::Iso => time.strftime("%Y-%m-%d %H:%M:%S,%3f").to_string(),
        }
    }
}

/// Turns a [`TestFileSpec`] into a [`RuleTestFile`], collecting every
/// problem it finds.
struct Checker<'a> {
    path: &'a Path,
    base: &'a Path,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn problem<T>(&mut self, at: &Spanned<T>, message: String) {
        let (line, column) = line_column(at.referenced);
        self.problems.push(Diagnostic {
            path: self.path.to_owned(),
            line,
            column,
            message,
        });
    }

    fn time(&mut self, text: &Spanned<String>) -> Option<Timestamp> {
        let time = text.value.parse::<Timestamp>().ok();
        if time.is_none() {
            self.problem(
                text,
                format!(
                    "invalid time {:?}: expected an RFC 3339 time with its offset, \
                     e.g. 2026-11-20T09:25:00Z",
                    text.value
                ),
            );
        }
        time
    }

    fn file(&mut self, spec: TestFileSpec) -> RuleTestFile {
        if spec.rules.value.is_empty() {
            self.problem(
                &spec.rules,
                "`rules` names no rule file or directory".into(),
            );
        }
        let rules = spec
            .rules
            .value
            .iter()
            .map(|rules| self.base.join(rules))
            .collect();
        let tests = spec
            .tests
            .into_iter()
            .filter_map(|test| self.test(test))
            .collect();
        RuleTestFile {
            path: self.path.to_owned(),
            rules,
            tests,
        }
    }

    fn test(&mut self, spec: TestSpec) -> Option<RuleTest> {
        let before = self.problems.len();
        let format = match &spec.format {
            None => Format::Auto,
            Some(format) => format.value.parse().unwrap_or_else(|error| {
                self.problem(format, format!("{error}"));
                Format::Auto
            }),
        };
        let mut steps: Vec<Step> = Vec::new();
        for expect in spec.expect {
            if let Some(step) = self.step(&spec.name, expect, &steps) {
                steps.push(step);
            }
        }
        if steps.is_empty() && self.problems.len() == before {
            self.problem(&spec.name, "the test expects nothing: add `expect`".into());
        }
        let received = match &spec.received {
            Some(received) => self.time(received),
            None => steps.first().map(|step| step.at),
        };
        let mut lines = Vec::new();
        for input in spec.input {
            match input {
                InputSpec::Line(line) => lines.push(line.into_bytes()),
                InputSpec::Lines(map) => self.input_map(&spec.name, *map, &mut lines),
            }
        }
        if self.problems.len() > before {
            return None;
        }
        Some(RuleTest {
            name: spec.name.value,
            source: spec.source.as_deref().unwrap_or("test").into(),
            parser: ParserConfig {
                format,
                ..ParserConfig::default()
            },
            received: received?,
            lines,
            steps,
        })
    }

    /// One entry of `expect`: `at:` with `incidents:`, or `restart:`. Its
    /// time may not go back from the steps `before`, and two evaluations
    /// may not share one.
    fn step(&mut self, test: &Spanned<String>, spec: ExpectSpec, before: &[Step]) -> Option<Step> {
        let (time, action) = match (spec.at, spec.incidents, spec.restart) {
            (Some(at), Some(incidents), None) => (at, Action::Check(incidents)),
            (None, None, Some(restart)) => (restart, Action::Restart),
            (Some(at), None, None) => {
                self.problem(&at, "an evaluation needs `incidents:` ([] for none)".into());
                return None;
            }
            (_, _, Some(restart)) => {
                self.problem(
                    &restart,
                    "a `restart:` entry stands alone, without `at:` or `incidents:`".into(),
                );
                return None;
            }
            (None, _, None) => {
                self.problem(
                    test,
                    "an entry of `expect` needs `at:` with `incidents:`, or `restart:`".into(),
                );
                return None;
            }
        };
        let at = self.time(&time)?;
        let is_check = |action: &Action| matches!(action, Action::Check(_));
        let goes_back = before.last().is_some_and(|last| last.at > at);
        let repeats = is_check(&action)
            && before
                .iter()
                .rev()
                .find(|step| is_check(&step.action))
                .is_some_and(|last| last.at == at);
        if goes_back || repeats {
            self.problem(
                &time,
                "evaluation times must increase from one `at` to the next".into(),
            );
        }
        Some(Step { at, action })
    }

    fn input_map(&mut self, test: &Spanned<String>, map: InputMap, lines: &mut Vec<Vec<u8>>) {
        match (&map.series, &map.file) {
            (Some(series), None) => self.series(series, &map, lines),
            (None, Some(file)) => {
                if map.count.is_some()
                    || map.start.is_some()
                    || map.every.is_some()
                    || map.time_format.is_some()
                {
                    self.problem(file, "`count`, `start`, `every` and `time_format` belong to a `series`, not to a `file`".into());
                }
                let path = self.base.join(&file.value);
                match fs::read(&path) {
                    Ok(bytes) => lines.extend(
                        bytes
                            .split(|&byte| byte == b'\n')
                            .filter(|line| !line.is_empty())
                            .map(<[u8]>::to_vec),
                    ),
                    Err(error) => {
                        self.problem(file, format!("cannot read {}: {error}", file.value));
                    }
                }
            }
            (Some(series), Some(_)) => {
                self.problem(
                    series,
                    "an input entry is a `series` or a `file`, not both".into(),
                );
            }
            (None, None) => {
                self.problem(
                    test,
                    "an input entry that is a map needs `series:` or `file:`".into(),
                );
            }
        }
    }

    fn series(&mut self, series: &Spanned<String>, map: &InputMap, lines: &mut Vec<Vec<u8>>) {
        let count = map.count.unwrap_or_else(|| {
            self.problem(series, "a series needs `count`".into());
            0
        });
        let start = match &map.start {
            Some(start) => self.time(start),
            None => {
                self.problem(series, "a series needs `start`".into());
                None
            }
        };
        let every = match &map.every {
            Some(every) => match parse_duration(&every.value) {
                Ok(every) => Some(every),
                Err(error) => {
                    self.problem(every, error.to_string());
                    None
                }
            },
            None if count > 1 => {
                self.problem(
                    series,
                    "a series of more than one line needs `every`".into(),
                );
                None
            }
            None => Some(SignedDuration::ZERO),
        };
        let time_format = match &map.time_format {
            None => TimeFormat::Rfc3339,
            Some(format) => match format.value.as_str() {
                "rfc3339" => TimeFormat::Rfc3339,
                "syslog" => TimeFormat::Syslog,
                "iso" => TimeFormat::Iso,
                other => {
                    self.problem(
                        format,
                        format!("unknown time_format {other:?}: expected rfc3339, syslog or iso"),
                    );
                    TimeFormat::Rfc3339
                }
            },
        };
        if count > MAX_SERIES_LINES {
            self.problem(
                series,
                format!(
                    "a series holds at most {MAX_SERIES_LINES} lines; a longer run is a benchmark"
                ),
            );
            return;
        }
        let (Some(start), Some(every)) = (start, every) else {
            return;
        };
        for index in 0..count {
            let offset = every
                .checked_mul(i32::try_from(index).unwrap_or(i32::MAX))
                .and_then(|offset| start.checked_add(offset).ok());
            let Some(time) = offset else {
                self.problem(
                    series,
                    "the series runs past the representable times".into(),
                );
                return;
            };
            let line = series
                .value
                .replace("{time}", &time_format.render(time))
                .replace("{n}", &(index + 1).to_string());
            lines.push(line.into_bytes());
        }
    }
}

/// Generated lines a series may hold: enough for any threshold, few enough
/// that a test stays fast.
const MAX_SERIES_LINES: u64 = 100_000;

fn line_column(location: Location) -> (usize, usize) {
    if location == Location::UNKNOWN {
        return (1, 1);
    }
    (
        usize::try_from(location.line()).unwrap_or(usize::MAX),
        usize::try_from(location.column()).unwrap_or(usize::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "\
rules:
  - id: db-down
    title: database down on {host}
    severity: critical
    match: { any: [connection refused] }
    threshold: { count: 3, window: 1m }
    group_by: [host]
    resolve_after: 5m
";

    /// A directory with `rules.yml` and `t.test.yml` holding `tests`.
    fn test_dir(tests: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("rules.yml"), RULES).unwrap();
        let text = format!("rules: [rules.yml]\ntests:\n{tests}");
        fs::write(dir.path().join("t.test.yml"), text).unwrap();
        dir
    }

    fn run(dir: &tempfile::TempDir) -> Vec<RuleTestOutcome> {
        RuleTestFile::load(&dir.path().join("t.test.yml"))
            .unwrap()
            .run()
            .unwrap()
    }

    fn problems(tests: &str) -> Vec<String> {
        let dir = test_dir(tests);
        match RuleTestFile::load(&dir.path().join("t.test.yml")) {
            Err(RuleTestError::Invalid(problems)) => problems
                .iter()
                .map(|problem| format!("{}:{}: {}", problem.line, problem.column, problem.message))
                .collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    const BURST: &str = "    input:
      - series: '{\"ts\": \"{time}\", \"level\": \"error\", \"host\": \"db-1\", \"msg\": \"connect: connection refused ({n})\"}'
        start: 2026-11-20T09:00:00Z
        every: 10s
        count: 3
";

    #[test]
    fn a_burst_opens_then_resolves_and_the_test_passes() {
        let dir = test_dir(&format!(
            "  - name: burst\n{BURST}    expect:
      - at: 2026-11-20T09:00:15Z
        incidents: []
      - at: 2026-11-20T09:01:00Z
        incidents:
          - {{ rule: db-down, key: db-down/db-1, title: database down on db-1, state: open, severity: critical, count: 3 }}
      - at: 2026-11-20T09:05:19Z
        incidents: [{{ state: open }}]
      - at: 2026-11-20T09:05:20Z
        incidents: [{{ rule: db-down, state: resolved }}]
"
        ));
        let outcomes = run(&dir);
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].passed(), "{:?}", outcomes[0].failures);
    }

    #[test]
    fn a_wrong_expectation_fails_with_a_diff() {
        let dir = test_dir(&format!(
            "  - name: burst\n{BURST}    expect:
      - at: 2026-11-20T09:01:00Z
        incidents:
          - {{ rule: db-down, count: 4 }}
      - at: 2026-11-20T09:02:00Z
        incidents:
          - {{ rule: db-down, state: open }}
          - {{ rule: db-down, key: db-down/db-2 }}
"
        ));
        let outcomes = run(&dir);
        let failures = &outcomes[0].failures;
        assert_eq!(failures.len(), 2);
        assert_eq!(
            failures[0].to_string(),
            "  at 2026-11-20T09:01:00Z: incidents differ (- expected, + actual)\n\
             \x20   - rule=db-down count=4\n\
             \x20   + rule=db-down key=db-down/db-1 state=open severity=critical count=3\n"
        );
        assert_eq!(
            failures[1].to_string(),
            "  at 2026-11-20T09:02:00Z: incidents differ (- expected, + actual)\n\
             \x20     rule=db-down state=open\n\
             \x20   - rule=db-down key=db-down/db-2\n"
        );
    }

    #[test]
    fn an_expected_incident_that_never_comes_shows_no_incident() {
        let dir = test_dir(
            "  - name: quiet
    input: ['2026-11-20T09:00:00Z db-1 all good']
    expect:
      - at: 2026-11-20T09:01:00Z
        incidents: [{ rule: db-down }]
",
        );
        let outcomes = run(&dir);
        assert_eq!(
            outcomes[0].failures[0].to_string(),
            "  at 2026-11-20T09:01:00Z: incidents differ (- expected, + actual)\n\
             \x20   - rule=db-down\n\
             \x20   + (no incident)\n"
        );
    }

    #[test]
    fn lines_are_processed_only_once_their_time_has_come() {
        // The third line is written first: at 09:00:15 only two lines are
        // due, so nothing fires; at 09:01 the late one counts too.
        let dir = test_dir(
            "  - name: late line
    input:
      - '{\"ts\": \"2026-11-20T09:00:20Z\", \"host\": \"db-1\", \"msg\": \"connection refused\"}'
      - '{\"ts\": \"2026-11-20T09:00:00Z\", \"host\": \"db-1\", \"msg\": \"connection refused\"}'
      - '{\"ts\": \"2026-11-20T09:00:10Z\", \"host\": \"db-1\", \"msg\": \"connection refused\"}'
    expect:
      - at: 2026-11-20T09:00:15Z
        incidents: []
      - at: 2026-11-20T09:01:00Z
        incidents: [{ rule: db-down, count: 3 }]
",
        );
        assert!(run(&dir)[0].passed());
    }

    #[test]
    fn a_restart_keeps_the_window_and_the_open_incident() {
        // Two refusals before the restart and one after fill the window;
        // the fourth updates the incident that opened, restored.
        let line = |time: &str| {
            format!(
                "      - '{{\"ts\": \"2026-11-20T09:00:{time}Z\", \"host\": \"db-1\", \"msg\": \"connection refused\"}}'\n"
            )
        };
        let dir = test_dir(&format!(
            "  - name: restarts\n    input:\n{}{}{}{}    expect:
      - restart: 2026-11-20T09:00:15Z
      - at: 2026-11-20T09:00:25Z
        incidents: [{{ key: db-down/db-1, state: open, count: 3 }}]
      - restart: 2026-11-20T09:00:25Z
      - restart: 2026-11-20T09:00:45Z
      - at: 2026-11-20T09:01:00Z
        incidents: [{{ key: db-down/db-1, state: open, count: 4 }}]
",
            line("20"),
            line("10"),
            line("40"),
            line("00"),
        ));
        let outcomes = run(&dir);
        assert!(outcomes[0].passed(), "{}", outcomes[0].failures[0]);
    }

    #[test]
    fn restart_entries_are_checked() {
        assert_eq!(
            problems(
                "  - name: restarts
    input: []
    expect:
      - at: 2026-11-20T09:25:00Z
      - restart: 2026-11-20T09:20:00Z
        incidents: []
      - restart: 2026-11-20T09:20:00Z
      - at: 2026-11-20T09:10:00Z
        incidents: []
"
            ),
            [
                "6:13: an evaluation needs `incidents:` ([] for none)",
                "7:18: a `restart:` entry stands alone, without `at:` or `incidents:`",
                "10:13: evaluation times must increase from one `at` to the next",
            ]
        );
    }

    #[test]
    fn series_render_times_in_each_format_and_number_lines() {
        let dir = test_dir("");
        let path = dir.path().join("t.test.yml");
        let mut checker = Checker {
            path: &path,
            base: dir.path(),
            problems: Vec::new(),
        };
        let spanned =
            |text: &str| Spanned::new(text.to_owned(), Location::UNKNOWN, Location::UNKNOWN);
        let mut lines = Vec::new();
        for format in ["rfc3339", "syslog", "iso"] {
            let map = InputMap {
                series: Some(spanned("{time} host-{n}")),
                count: Some(2),
                start: Some(spanned("2026-11-02T09:00:59.5Z")),
                every: Some(spanned("1500ms")),
                time_format: Some(spanned(format)),
                file: None,
            };
            checker.input_map(&spanned("t"), map, &mut lines);
        }
        assert!(checker.problems.is_empty(), "{:?}", checker.problems);
        let lines: Vec<String> = lines
            .into_iter()
            .map(|line| String::from_utf8(line).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "2026-11-02T09:00:59.5Z host-1",
                "2026-11-02T09:01:01Z host-2",
                "Nov  2 09:00:59 host-1",
                "Nov  2 09:01:01 host-2",
                "2026-11-02 09:00:59,500 host-1",
                "2026-11-02 09:01:01,000 host-2",
            ]
        );
    }

    #[test]
    fn file_input_is_read_relative_to_the_test_file() {
        let dir = test_dir(
            "  - name: from a file
    input: [{ file: samples/db.log }]
    expect:
      - at: 2026-11-20T09:01:00Z
        incidents: [{ rule: db-down, key: db-down/db-1, count: 3 }]
",
        );
        fs::create_dir(dir.path().join("samples")).unwrap();
        let line = "{\"ts\": \"2026-11-20T09:00:00Z\", \"host\": \"db-1\", \"msg\": \"connection refused\"}\n";
        fs::write(dir.path().join("samples/db.log"), line.repeat(3)).unwrap();
        assert!(run(&dir)[0].passed());
    }

    #[test]
    fn year_less_times_take_the_year_of_the_first_evaluation() {
        let dir = test_dir(
            "  - name: bsd syslog
    format: syslog
    input:
      - series: '{time} db-1 app[1]: connection refused'
        time_format: syslog
        start: 2024-02-29T09:00:00Z
        every: 1s
        count: 3
    expect:
      - at: 2024-02-29T09:01:00Z
        incidents: [{ rule: db-down, count: 3 }]
",
        );
        assert!(run(&dir)[0].passed(), "{:?}", run(&dir)[0].failures);
    }

    #[test]
    fn bad_test_files_are_reported_with_positions() {
        assert_eq!(
            problems(
                "  - name: bad
    format: sislog
    input:
      - series: x
        time_format: nope
        start: yesterday
      - file: missing.log
    expect:
      - at: 2026-11-20T09:25:00Z
        incidents: []
      - at: 2026-11-20T09:20:00Z
        incidents: []
"
            ),
            [
                "4:13: unknown log format \"sislog\": expected auto, json, syslog, logfmt or plain",
                "6:17: a series needs `count`",
                "7:22: unknown time_format \"nope\": expected rfc3339, syslog or iso",
                "8:16: invalid time \"yesterday\": expected an RFC 3339 time with its offset, \
                 e.g. 2026-11-20T09:25:00Z",
                "9:15: cannot read missing.log: No such file or directory (os error 2)",
                "13:13: evaluation times must increase from one `at` to the next",
            ]
        );
        let unknown_key = problems(
            "  - name: typo
    input: []
    expect: [{ at: 2026-11-20T09:25:00Z, incidents: [{ rule: x, colour: red }] }]
",
        );
        assert_eq!(unknown_key.len(), 1);
        assert!(
            unknown_key[0].starts_with("5:65: unknown field `colour`"),
            "{unknown_key:?}"
        );
    }

    #[test]
    fn missing_rules_are_an_error_of_the_test_file() {
        let dir = test_dir(
            "  - name: t\n    input: []\n    expect: [{ at: 2026-11-20T09:25:00Z, incidents: [] }]\n",
        );
        fs::remove_file(dir.path().join("rules.yml")).unwrap();
        let file = RuleTestFile::load(&dir.path().join("t.test.yml")).unwrap();
        let error = file.run().unwrap_err();
        assert!(matches!(error, RuleTestError::Rules { .. }), "{error}");
    }

    #[test]
    fn a_title_that_differs_is_shown_on_both_sides() {
        let dir = test_dir(&format!(
            "  - name: title\n{BURST}    expect:
      - at: 2026-11-20T09:01:00Z
        incidents: [{{ rule: db-down, title: db-1 is down }}]
"
        ));
        let failure = run(&dir)[0].failures[0].to_string();
        assert!(
            failure.contains("    - rule=db-down title=\"db-1 is down\"\n"),
            "{failure}"
        );
        assert!(
            failure.contains("title=\"database down on db-1\" state=open"),
            "{failure}"
        );
    }

    #[test]
    fn moving_time_on_matches_no_rule() {
        // A rule that matches every event of the test's source: moving event
        // time to an evaluation point must not count as an event.
        let dir = test_dir(
            "  - name: no input, no incident
    source: everything
    input: []
    expect: [{ at: 2026-11-20T09:01:00Z, incidents: [] }]
",
        );
        let rules = "id: all\ntitle: all\nseverity: info\nfilter: { source: everything }\n";
        fs::write(dir.path().join("rules.yml"), rules).unwrap();
        assert!(run(&dir)[0].passed(), "{}", run(&dir)[0].failures[0]);
    }

    #[test]
    fn every_rule_of_the_default_pack_and_the_fixtures_is_expected_by_a_test() {
        // A rule added without a test fails here: some expectation must
        // name it with `rule:`.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for pack in ["pipelines/rules", "fixtures/rule-types"] {
            let dir = root.join(pack);
            let mut named = std::collections::HashSet::new();
            for path in find_rule_test_files(&[&dir]).unwrap() {
                let file = RuleTestFile::load(&path).unwrap();
                for step in file.tests.iter().flat_map(|test| &test.steps) {
                    if let Action::Check(incidents) = &step.action {
                        named.extend(
                            incidents
                                .iter()
                                .filter_map(|expected| expected.rule.clone()),
                        );
                    }
                }
            }
            let rules = RuleSet::load(&[&dir]).unwrap();
            let untested: Vec<&str> = rules
                .rules()
                .iter()
                .map(|rule| rule.id())
                .filter(|id| !named.contains(*id))
                .collect();
            assert!(untested.is_empty(), "{pack}: no test expects {untested:?}");
            assert!(!rules.is_empty(), "{pack}");
        }
    }

    #[test]
    fn directories_yield_test_files_only() {
        let dir = test_dir("");
        fs::create_dir_all(dir.path().join("nested/.hidden")).unwrap();
        for name in [
            "nested/b.test.yaml",
            "nested/.hidden/c.test.yml",
            "nested/notes.yml",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let found = find_rule_test_files(&[dir.path()]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|path| {
                path.strip_prefix(dir.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["nested/b.test.yaml", "t.test.yml"]);
        assert!(find_rule_test_files(&[dir.path().join("missing")]).is_err());
    }
}
