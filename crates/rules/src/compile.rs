//! From rules as written to compiled rules, with every problem found.
//!
//! Each rule is checked in full even after a first problem, so that one
//! `rules lint` run lists everything wrong with a file. Only when no file
//! had a problem are the shared automata and regex set built.
//!
//! Limits against hostile or runaway rule files are checked here, before
//! anything big is built: regex source length, compiled regex size (per
//! regex and for the set), regexes, globs and keywords (per rule and in
//! total, conditions included), glob length, threshold counts. A limit
//! crossed is said once; what lies beyond it is not compiled.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use firewatch_event::{Level, Severity, parse_duration};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use jiff::SignedDuration;
use regex::RegexBuilder;
use serde_saphyr::Spanned;

use crate::conditions::Definitions;
use crate::diagnostic::Diagnostic;
use crate::filter::{Filter, TextMatcher, has_wildcard};
use crate::lifecycle::{Lifecycle, LifecycleSpecs};
use crate::limits::{
    MAX_GLOB_BYTES, MAX_GLOBS, MAX_KEYWORD_BYTES, MAX_KEYWORDS, MAX_KEYWORDS_PER_RULE,
    MAX_REGEX_BYTES, MAX_REGEXES, MAX_THRESHOLD_COUNT, REGEX_SIZE_LIMIT,
};
use crate::prefilter::{MessageMatch, PatternTable, Prefilter};
use crate::rule::{DEFAULT_RESOLVE_AFTER, Kind, Rule, Threshold};
use crate::rule_types::KindSpecs;
use crate::ruleset::{RuleSet, Skipped};
use crate::sigma::SigmaRules;
use crate::syntax::{
    FileKind, FilterSpec, MatchSpec, Place, RuleSpec, TextList, ThresholdSpec, parse_rule_file,
    place, text_items,
};
use crate::template::TitleTemplate;

/// Collects rules from files, and the problems found in them.
///
/// Rules compile once every file is in ([`Compiler::finish`]): a rule may
/// use a named condition or list from a file read after its own.
#[derive(Debug, Default)]
pub(crate) struct Compiler {
    rules: Vec<Rule>,
    pending: Vec<PendingRule>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Rule id -> where it was first defined.
    ids: HashMap<String, (PathBuf, Place)>,
    pub(crate) patterns: PatternTable,
    pub(crate) definitions: Definitions,
    keyword_total: usize,
    /// Keywords of the rule being compiled (`match:` and conditions).
    pub(crate) rule_keywords: usize,
    regex_total: usize,
    glob_total: usize,
    /// Where the first `match:` is, to place problems of the shared
    /// automata and regex set.
    first_match: Option<(PathBuf, Place)>,
    /// Sigma rules and correlations read so far (see `sigma`).
    pub(crate) sigma: SigmaRules,
    /// Why Sigma rules were skipped: the unsupported parts they use.
    pub(crate) skipped: Vec<Diagnostic>,
    /// How many Sigma rules were skipped.
    pub(crate) skipped_rules: usize,
}

/// A rule read from its file, waiting for every file to be in.
#[derive(Debug)]
struct PendingRule {
    path: PathBuf,
    source: Arc<str>,
    spec: Box<Spanned<RuleSpec>>,
}

/// The problems of one rule, with the file they are in (its path, and its
/// text for the typed scalars that `text_items` reads from it).
pub(crate) struct Problems<'a> {
    path: &'a Path,
    pub(crate) source: &'a str,
    pub(crate) found: Vec<Diagnostic>,
    /// Parts of a Sigma rule that firewatch does not support: alone, they
    /// skip the rule with a warning; beside an error, they are errors too.
    pub(crate) unsupported: Vec<Diagnostic>,
}

impl<'a> Problems<'a> {
    /// No problems yet, in the file at `path` whose text is `source`.
    pub fn new(path: &'a Path, source: &'a str) -> Self {
        Self {
            path,
            source,
            found: Vec::new(),
            unsupported: Vec::new(),
        }
    }

    /// Records a problem at `place`.
    pub fn at(&mut self, place: Place, message: impl Into<String>) {
        self.found
            .push(diagnostic(self.path, place, message.into()));
    }

    /// Records a part of a Sigma rule that firewatch does not support.
    pub fn unsupported(&mut self, place: Place, message: impl Into<String>) {
        self.unsupported
            .push(diagnostic(self.path, place, message.into()));
    }
}

fn diagnostic(path: &Path, place: Place, message: String) -> Diagnostic {
    Diagnostic {
        path: path.to_owned(),
        line: place.line,
        column: place.column,
        message,
    }
}

impl Compiler {
    /// Adds a problem that concerns a file as a whole.
    pub fn file_problem(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Reads one file: its named conditions and lists are registered, its
    /// rules wait for [`Compiler::finish`]. A file whose documents have
    /// `detection:` or `correlation:` at the top is read as Sigma.
    pub fn add_file(&mut self, path: &Path, source: &str) {
        let parsed = match FileKind::of(source) {
            FileKind::Sigma => return self.add_sigma_file(path, source),
            FileKind::Rules(shape) => parse_rule_file(source, shape),
            FileKind::Unreadable(error) => Err(error),
        };
        match parsed {
            Ok(file) => {
                let source: Arc<str> = source.into();
                self.register_definitions(path, &source, file.conditions, file.lists);
                self.pending
                    .extend(file.rules.into_iter().map(|spec| PendingRule {
                        path: path.to_owned(),
                        source: Arc::clone(&source),
                        spec,
                    }));
            }
            Err(error) => self
                .diagnostics
                .push(diagnostic(path, error.place, error.message)),
        }
    }

    /// Every problem found so far, in file order.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        match self.finish() {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics,
        }
    }

    /// Queues a rule built from another format (Sigma) to compile with
    /// the others.
    pub(crate) fn push_rule(&mut self, path: &Path, source: &Arc<str>, spec: Spanned<RuleSpec>) {
        self.pending.push(PendingRule {
            path: path.to_owned(),
            source: Arc::clone(source),
            spec: Box::new(spec),
        });
    }

    /// The compiled rule set, or every problem found.
    pub fn finish(mut self) -> Result<RuleSet, Vec<Diagnostic>> {
        self.finish_sigma();
        for pending in std::mem::take(&mut self.pending) {
            self.add_rule(&pending.path, &pending.source, pending.spec);
        }
        self.compile_unused_conditions();
        if !self.diagnostics.is_empty() {
            let mut diagnostics = std::mem::take(&mut self.diagnostics);
            self.sigma.name_rules_in(&mut diagnostics, ": ");
            return Err(diagnostics);
        }
        self.sigma.name_rules_in(&mut self.skipped, " skipped: ");
        let prefilter = Prefilter::build(self.patterns, &self.rules);
        match prefilter {
            Ok(prefilter) => Ok(RuleSet::new(
                self.rules,
                prefilter,
                Skipped {
                    rules: self.skipped_rules,
                    reasons: self.skipped,
                },
            )),
            Err(error) => {
                let (path, place) = self
                    .first_match
                    .take()
                    .unwrap_or_else(|| (PathBuf::new(), Place::START));
                Err(vec![diagnostic(&path, place, error.to_string())])
            }
        }
    }

    fn add_rule(&mut self, path: &Path, source: &str, spec: Box<Spanned<RuleSpec>>) {
        let rule_place = place(&spec);
        let spec = spec.value;
        let mut problems = Problems::new(path, source);
        self.rule_keywords = 0;

        let id = self.check_id(&spec, rule_place, &mut problems);
        let name = spec
            .id
            .as_ref()
            .map_or_else(|| "rule".to_owned(), |id| format!("rule `{}`", id.value));
        let title = match spec.title {
            None => {
                problems.at(rule_place, format!("{name} has no title"));
                None
            }
            Some(title) if title.value.trim().is_empty() => {
                problems.at(place(&title), "title is empty");
                None
            }
            Some(title) => Some(title.value),
        };
        let severity = match spec.severity {
            None => {
                problems.at(
                    rule_place,
                    format!("{name} has no severity (critical, high, medium, low or info)"),
                );
                None
            }
            Some(severity) => match Severity::from_str(severity.value.trim()) {
                Ok(parsed) => Some(parsed),
                Err(message) => {
                    problems.at(place(&severity), message);
                    None
                }
            },
        };
        if spec.filter.is_none()
            && spec.message.is_none()
            && spec.when.is_none()
            && spec.sequence.is_none()
            && spec.together.is_none()
            && spec.ratio.is_none()
        {
            problems.at(
                rule_place,
                format!(
                    "{name} has neither filter, match nor when, so it would match every \
                     event; add one"
                ),
            );
        }
        let filter = spec
            .filter
            .map(|filter| self.compile_filter(filter, source, &mut problems));
        let message = spec.message.map(|message| {
            if self.first_match.is_none() {
                self.first_match = Some((path.to_owned(), place(&message)));
            }
            self.compile_match(message, source, &mut problems)
        });
        let when = spec
            .when
            .as_ref()
            .map(|when| self.compile_condition(when, &mut problems));
        let group_by = compile_group_by(spec.group_by.unwrap_or_default(), &mut problems);
        let key = spec
            .key
            .map(|key| compile_key(key, &group_by, &mut problems));
        let kind = self.compile_kind(
            KindSpecs {
                kind: spec.kind,
                threshold: spec.threshold,
                spike: spec.spike,
                absence: spec.absence,
                sequence: spec.sequence,
                new_value: spec.new_value,
                cardinality: spec.cardinality,
                ratio: spec.ratio,
                together: spec.together,
            },
            &group_by,
            source,
            &mut problems,
        );
        if matches!(kind, Some(Kind::Ratio { .. })) && message.is_none() && when.is_none() {
            problems.at(
                rule_place,
                format!(
                    "{name} is a ratio without match or when: every event of its population \
                     would match; say which share to measure"
                ),
            );
        }
        let resolve_after = match spec.resolve_after {
            None => Some(DEFAULT_RESOLVE_AFTER),
            Some(text) => positive_duration(&text, "resolve_after", &mut problems),
        };
        let lifecycle = Lifecycle::compile(
            LifecycleSpecs {
                pending_for: spec.pending_for,
                flap: spec.flap,
                escalate: spec.escalate,
            },
            severity,
            matches!(kind, Some(Kind::Absence { .. })),
            &mut problems,
        );

        if problems.found.is_empty()
            && let (
                Some(id),
                Some(title),
                Some(severity),
                Some(resolve_after),
                Some(kind),
                Some(lifecycle),
            ) = (id, title, severity, resolve_after, kind, lifecycle)
            && let Some(when) = when.map_or(Some(None), |when| when.map(Some))
        {
            self.rules.push(Rule {
                id: id.into(),
                title_template: TitleTemplate::new(&title, &group_by),
                title,
                description_template: spec
                    .description
                    .as_deref()
                    .map(|description| TitleTemplate::new(description, &group_by)),
                description: spec.description,
                key: key.flatten(),
                severity,
                filter,
                message,
                threshold: match kind {
                    Kind::Threshold(threshold) => Some(threshold),
                    _ => None,
                },
                when,
                kind,
                group_by,
                resolve_after,
                lifecycle,
                path: path.to_owned(),
                line: rule_place.line,
            });
        }
        self.diagnostics.append(&mut problems.found);
    }

    /// Checks the id's presence, spelling and uniqueness.
    fn check_id(
        &mut self,
        spec: &RuleSpec,
        rule_place: Place,
        problems: &mut Problems<'_>,
    ) -> Option<String> {
        let Some(id) = &spec.id else {
            problems.at(rule_place, "rule has no id");
            return None;
        };
        let id_place = place(id);
        if !is_valid_id(&id.value) {
            problems.at(
                id_place,
                format!(
                    "invalid rule id {:?}: use lower-case letters, digits, '.', '_' and '-', \
                     starting with a letter or digit",
                    id.value
                ),
            );
            return None;
        }
        match self.ids.entry(id.value.clone()) {
            Entry::Occupied(first) => {
                let (first_path, first_place) = first.get();
                problems.at(
                    id_place,
                    format!(
                        "duplicate rule id `{}`: first defined at {}:{}",
                        id.value,
                        first_path.display(),
                        first_place.line
                    ),
                );
                None
            }
            Entry::Vacant(slot) => {
                slot.insert((problems.path.to_owned(), id_place));
                Some(id.value.clone())
            }
        }
    }

    fn compile_match(
        &mut self,
        spec: Spanned<MatchSpec>,
        source: &str,
        problems: &mut Problems<'_>,
    ) -> MessageMatch {
        let match_place = place(&spec);
        let spec = spec.value;
        if spec.any.is_none() && spec.all.is_none() && spec.none.is_none() && spec.regex.is_none() {
            problems.at(
                match_place,
                "match has no any, all, none or regex, so it can never hold; add one or remove match",
            );
        }
        let case_sensitive = spec.case_sensitive.unwrap_or(false);
        let keyword_lists = [("any", &spec.any), ("all", &spec.all), ("none", &spec.none)]
            .map(|(key, list)| (key, non_empty_items(key, list.as_ref(), source, problems)));
        let keyword_count: usize = keyword_lists.iter().map(|(_, items)| items.len()).sum();
        let within_limits = self.count_keywords(keyword_count, match_place, problems);

        let [any, all, none] = keyword_lists.map(|(key, items)| {
            let mut literals = Vec::with_capacity(items.len());
            for (keyword, keyword_place) in items {
                if keyword.is_empty() {
                    problems.at(
                        keyword_place,
                        format!("empty keyword in {key}: it would occur in every message"),
                    );
                } else if keyword.len() > MAX_KEYWORD_BYTES {
                    problems.at(
                        keyword_place,
                        format!(
                            "keyword is {} bytes long; at most {MAX_KEYWORD_BYTES} are allowed",
                            keyword.len()
                        ),
                    );
                } else if within_limits {
                    literals.push(self.patterns.literal(&keyword, case_sensitive));
                }
            }
            literals.into_boxed_slice()
        });

        let mut regexes = Vec::new();
        for (pattern, regex_place) in
            non_empty_items("regex", spec.regex.as_ref(), source, problems)
        {
            if !self.count_regex(regex_place, problems) {
                continue;
            }
            match check_regex(&pattern) {
                Ok(()) => regexes.push(self.patterns.regex(&pattern)),
                Err(message) => problems.at(regex_place, message),
            }
        }
        MessageMatch {
            any,
            all,
            none,
            regexes: regexes.into(),
        }
    }

    /// Counts `count` more keywords, for the rule being compiled and for
    /// all rules together. False when either is over its limit: said at
    /// `at` once per rule, and once for all rules (at the rule that
    /// crosses it); the keywords are then not compiled.
    pub(crate) fn count_keywords(
        &mut self,
        count: usize,
        at: Place,
        problems: &mut Problems<'_>,
    ) -> bool {
        let (rule_before, total_before) = (self.rule_keywords, self.keyword_total);
        self.rule_keywords += count;
        self.keyword_total += count;
        if self.rule_keywords > MAX_KEYWORDS_PER_RULE {
            if rule_before <= MAX_KEYWORDS_PER_RULE {
                problems.at(
                    at,
                    format!(
                        "this rule has {} keywords; a rule may have at most \
                         {MAX_KEYWORDS_PER_RULE}",
                        self.rule_keywords
                    ),
                );
            }
            return false;
        }
        if self.keyword_total > MAX_KEYWORDS {
            if total_before <= MAX_KEYWORDS {
                problems.at(
                    at,
                    format!(
                        "the rules together have more than {MAX_KEYWORDS} keywords; \
                         this rule crosses the limit"
                    ),
                );
            }
            return false;
        }
        true
    }

    /// Counts one more regex. False once the rules together have more
    /// than [`MAX_REGEXES`], said once, at the first one over; the regex
    /// is then not compiled.
    pub(crate) fn count_regex(&mut self, at: Place, problems: &mut Problems<'_>) -> bool {
        self.regex_total += 1;
        if self.regex_total > MAX_REGEXES {
            if self.regex_total == MAX_REGEXES + 1 {
                problems.at(
                    at,
                    format!("the rules together have more than {MAX_REGEXES} regexes"),
                );
            }
            return false;
        }
        true
    }

    /// The globs `items` as one set, within the limits (each at most
    /// [`MAX_GLOB_BYTES`], at most [`MAX_GLOBS`] in all rules together,
    /// said once); `None` when one has a problem (reported at its place,
    /// or at `at` for the set).
    pub(crate) fn glob_set(
        &mut self,
        items: Vec<(String, Place)>,
        at: Place,
        problems: &mut Problems<'_>,
    ) -> Option<GlobSet> {
        let mut builder = GlobSetBuilder::new();
        let mut ok = true;
        for (text, item_place) in items {
            if text.len() > MAX_GLOB_BYTES {
                problems.at(
                    item_place,
                    format!(
                        "glob is {} bytes long; at most {MAX_GLOB_BYTES} are allowed",
                        text.len()
                    ),
                );
                ok = false;
                continue;
            }
            self.glob_total += 1;
            if self.glob_total > MAX_GLOBS {
                if self.glob_total == MAX_GLOBS + 1 {
                    problems.at(
                        item_place,
                        format!("the rules together have more than {MAX_GLOBS} globs"),
                    );
                }
                return None;
            }
            match GlobBuilder::new(&text).literal_separator(false).build() {
                Ok(glob) => {
                    builder.add(glob);
                }
                Err(error) => {
                    problems.at(
                        item_place,
                        format!("invalid glob {text:?}: {}", error.kind()),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        match builder.build() {
            Ok(set) => Some(set),
            Err(error) => {
                problems.at(at, format!("invalid globs: {error}"));
                None
            }
        }
    }

    fn compile_filter(
        &mut self,
        spec: Spanned<FilterSpec>,
        source: &str,
        problems: &mut Problems<'_>,
    ) -> Filter {
        let filter_place = place(&spec);
        let spec = spec.value;
        if spec.min_level.is_none()
            && spec.service.is_none()
            && spec.host.is_none()
            && spec.source.is_none()
            && spec.fields.as_ref().is_none_or(|fields| fields.is_empty())
        {
            problems.at(
                filter_place,
                "filter has no conditions; add min_level, service, host, source or fields, \
                 or remove filter",
            );
        }
        let mut filter = Filter::default();
        if let Some(level) = &spec.min_level {
            let text = level.value.trim();
            if text.eq_ignore_ascii_case("unknown") {
                problems.at(
                    place(level),
                    "min_level unknown never matches: events of unknown level never pass \
                     a min_level filter",
                );
            } else {
                match Level::parse(text) {
                    Some(parsed) => filter.min_level = Some(parsed),
                    None => problems.at(
                        place(level),
                        format!(
                            "unknown level {text:?}: expected trace, debug, info, notice, warn, \
                             error, critical or fatal"
                        ),
                    ),
                }
            }
        }
        filter.service = spec
            .service
            .map(|list| self.compile_text_matcher("service", &list, source, problems));
        filter.host = spec
            .host
            .map(|list| self.compile_text_matcher("host", &list, source, problems));
        filter.source = spec
            .source
            .map(|list| self.compile_text_matcher("source", &list, source, problems));
        let fields = spec.fields.unwrap_or_default();
        for (path, list) in fields {
            if path.trim().is_empty() {
                problems.at(place(&list), "empty field name in fields");
                continue;
            }
            let matcher = self.compile_text_matcher(&path, &list, source, problems);
            filter.fields.push((path, matcher));
        }
        filter
    }

    fn compile_text_matcher(
        &mut self,
        key: &str,
        list: &Spanned<TextList>,
        source: &str,
        problems: &mut Problems<'_>,
    ) -> TextMatcher {
        let (exact, wildcards): (Vec<_>, Vec<_>) =
            non_empty_items(key, Some(list), source, problems)
                .into_iter()
                .partition(|(text, _)| !has_wildcard(text));
        let globs = if wildcards.is_empty() {
            None
        } else {
            self.glob_set(wildcards, place(list), problems)
        };
        let exact = exact.into_iter().map(|(text, _)| text).collect();
        TextMatcher { exact, globs }
    }
}

/// `[a-z0-9][a-z0-9._-]*`
fn is_valid_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_' | b'-')
        })
}

/// The strings of a one-or-many value, with a problem for an empty list.
pub(crate) fn non_empty_items(
    key: &str,
    list: Option<&Spanned<TextList>>,
    source: &str,
    problems: &mut Problems<'_>,
) -> Vec<(String, Place)> {
    let Some(list) = list else {
        return Vec::new();
    };
    let items = text_items(list, source);
    if items.is_empty() {
        problems.at(
            place(list),
            format!("{key} is an empty list; give at least one value or remove {key}"),
        );
    }
    items
}

/// Compiles `pattern` on its own, within the limits, to report its problem
/// at its own place (the shared set would only say that something failed).
pub(crate) fn check_regex(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("empty regex: it would match every message".into());
    }
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(format!(
            "regex is {} bytes long; at most {MAX_REGEX_BYTES} are allowed",
            pattern.len()
        ));
    }
    match RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(_) => Ok(()),
        Err(regex::Error::Syntax(text)) => {
            // The syntax error repeats the regex with a caret under the
            // problem; a diagnostic is one line, so keep the reason only.
            let reason = text
                .lines()
                .find_map(|line| line.strip_prefix("error: "))
                .unwrap_or(text.as_str());
            Err(format!("invalid regex: {reason}"))
        }
        Err(regex::Error::CompiledTooBig(limit)) => Err(format!(
            "regex is too big once compiled (over {limit} bytes); make it simpler"
        )),
        Err(other) => Err(format!("invalid regex: {other}")),
    }
}

pub(crate) fn compile_threshold(
    spec: Spanned<ThresholdSpec>,
    problems: &mut Problems<'_>,
) -> Option<Threshold> {
    let threshold_place = place(&spec);
    let spec = spec.value;
    let count = match spec.count {
        None => {
            problems.at(threshold_place, "threshold has no count");
            None
        }
        Some(count) if count.value == 0 => {
            problems.at(
                place(&count),
                "threshold count 0 never opens an incident; use 1 or more",
            );
            None
        }
        Some(count) if count.value > MAX_THRESHOLD_COUNT => {
            problems.at(
                place(&count),
                format!("threshold count is at most {MAX_THRESHOLD_COUNT}"),
            );
            None
        }
        Some(count) => Some(count.value),
    };
    let window = match spec.window {
        None => {
            problems.at(threshold_place, "threshold has no window (e.g. window: 5m)");
            None
        }
        Some(window) => positive_duration(&window, "window", problems),
    };
    Some(Threshold {
        count: count?,
        window: window?,
    })
}

pub(crate) fn positive_duration(
    text: &Spanned<String>,
    key: &str,
    problems: &mut Problems<'_>,
) -> Option<SignedDuration> {
    match parse_duration(&text.value) {
        Ok(duration) if duration.is_zero() => {
            problems.at(place(text), format!("{key} must be longer than 0s"));
            None
        }
        Ok(duration) => Some(duration),
        Err(error) => {
            problems.at(place(text), error.to_string());
            None
        }
    }
}

/// `key:`, checked to name each group apart (see
/// [`TitleTemplate::key_problems`]); `None` when it has a problem.
fn compile_key(
    key: Spanned<String>,
    group_by: &[String],
    problems: &mut Problems<'_>,
) -> Option<(String, TitleTemplate)> {
    if key.value.trim().is_empty() {
        problems.at(place(&key), "key is empty");
        return None;
    }
    let template = TitleTemplate::new(&key.value, group_by);
    let found = template.key_problems(group_by);
    let ok = found.is_empty();
    for message in found {
        problems.at(place(&key), message);
    }
    ok.then_some((key.value, template))
}

fn compile_group_by(fields: Vec<Spanned<String>>, problems: &mut Problems<'_>) -> Vec<String> {
    let mut group_by: Vec<String> = Vec::with_capacity(fields.len());
    for field in fields {
        let name = field.value.trim();
        if name.is_empty() {
            problems.at(place(&field), "empty field name in group_by");
        } else if group_by.iter().any(|seen| seen == name) {
            problems.at(place(&field), format!("{name} is listed twice in group_by"));
        } else {
            group_by.push(name.to_owned());
        }
    }
    group_by
}

#[cfg(test)]
mod tests {
    use crate::{Diagnostic, RuleSet, RulesError};

    /// Every diagnostic of `yaml` as (line, column, message).
    fn problems(yaml: &str) -> Vec<(usize, usize, String)> {
        match RuleSet::from_yaml(yaml, "t.yml") {
            Ok(_) => Vec::new(),
            Err(RulesError::Invalid(diagnostics)) => diagnostics
                .into_iter()
                .map(
                    |Diagnostic {
                         path,
                         line,
                         column,
                         message,
                     }| {
                        assert_eq!(path.to_str(), Some("t.yml"));
                        (line, column, message)
                    },
                )
                .collect(),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    /// The one diagnostic of `yaml`, checked to be at `line`:`column` and
    /// to mention `needle`.
    fn assert_problem(yaml: &str, line: usize, column: usize, needle: &str) {
        let found = problems(yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        let (found_line, found_column, message) = &found[0];
        assert_eq!((*found_line, *found_column), (line, column), "{message}");
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }

    const HEAD: &str = "id: a\ntitle: A\nseverity: low\n";

    #[test]
    fn a_clean_rule_compiles() {
        assert_eq!(problems(&format!("{HEAD}match: {{ any: [x] }}\n")), []);
    }

    #[test]
    fn unknown_keys_are_placed_at_the_key() {
        assert_problem(
            "rules:\n  - id: a\n    title: A\n    severity: low\n    match: { any: [x] }\n    treshold: { count: 2 }\n",
            6,
            5,
            "unknown field `treshold`",
        );
        assert_problem(
            &format!("{HEAD}match:\n  any: [x]\n  case: true\n"),
            6,
            3,
            "unknown field `case`",
        );
    }

    #[test]
    fn bad_regexes_are_placed_at_the_regex() {
        assert_problem(
            &format!("{HEAD}match:\n  regex: ['ok', '(unclosed']\n"),
            5,
            17,
            "invalid regex: unclosed group",
        );
    }

    #[test]
    fn bad_severities_and_durations_are_placed_at_the_value() {
        assert_problem(
            "id: a\ntitle: A\nseverity: urgent\nmatch: { any: [x] }\n",
            3,
            11,
            "unknown severity \"urgent\"",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\nresolve_after: soon\n"),
            5,
            16,
            "invalid duration \"soon\"",
        );
        assert_problem(
            &format!(
                "{HEAD}match: {{ any: [x] }}\nthreshold:\n  count: 3\n  window: 5 fortnights\n"
            ),
            7,
            11,
            "invalid duration",
        );
    }

    #[test]
    fn yaml_syntax_errors_are_placed() {
        let found = problems("id: a\ntitle: A\n  severity: low\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (3, 11), "{}", found[0].2);
        assert_problem("id: a\ntitle: \"unclosed\nseverity: low\n", 2, 8, "quote");
    }

    #[test]
    fn deep_nesting_is_refused_with_a_clear_error() {
        // A condition nested far below the limit compiles; one nested
        // 10,000 deep is refused while it is read, with no stack overflow.
        let nested = |depth: usize| {
            format!(
                "{HEAD}when: {}{{ min_level: error }}{}\n",
                "{ not: ".repeat(depth),
                " }".repeat(depth)
            )
        };
        assert_eq!(problems(&nested(20)), []);
        let found = problems(&nested(10_000));
        assert_eq!(found.len(), 1, "{:?}", &found[..found.len().min(3)]);
        assert!(
            found[0].2.contains("at most 64 levels deep"),
            "{}",
            found[0].2
        );
    }

    #[test]
    fn yaml_type_errors_are_placed_at_the_value() {
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\nthreshold: {{ count: lots, window: 1m }}\n"),
            5,
            21,
            "invalid u64",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\ngroup_by: host\n"),
            5,
            11,
            "sequence",
        );
    }

    #[test]
    fn missing_required_keys_are_placed_at_the_rule() {
        assert_problem(
            "rules:\n  - id: a\n    title: A\n    match: { any: [x] }\n",
            2,
            5,
            "rule `a` has no severity",
        );
        assert_problem(
            "rules:\n  - title: A\n    severity: low\n    match: { any: [x] }\n",
            2,
            5,
            "rule has no id",
        );
    }

    #[test]
    fn rules_that_can_never_match_are_errors() {
        assert_problem(HEAD, 1, 1, "neither filter, match nor when");
        assert_problem(
            &format!("{HEAD}match: {{ case_sensitive: true }}\n"),
            4,
            8,
            "match has no any",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [] }}\n"),
            4,
            15,
            "any is an empty list",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [''] }}\n"),
            4,
            16,
            "empty keyword",
        );
        assert_problem(
            &format!("{HEAD}filter: {{}}\n"),
            4,
            9,
            "filter has no conditions",
        );
        assert_problem(
            &format!("{HEAD}filter: {{ min_level: unknown }}\n"),
            4,
            22,
            "min_level unknown never matches",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\nthreshold: {{ count: 0, window: 1m }}\n"),
            5,
            21,
            "count 0 never opens",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\nthreshold: {{ count: 3 }}\n"),
            5,
            12,
            "threshold has no window",
        );
    }

    #[test]
    fn ids_globs_and_levels_are_checked() {
        assert_problem(
            "id: Bad_Id\ntitle: A\nseverity: low\nmatch: { any: [x] }\n",
            1,
            5,
            "invalid rule id",
        );
        assert_problem(
            &format!("{HEAD}filter:\n  host: [web-01, 'db-[0-9']\n"),
            5,
            18,
            "invalid glob",
        );
        assert_problem(
            &format!("{HEAD}filter: {{ min_level: loud }}\n"),
            4,
            22,
            "unknown level",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\ngroup_by: [host, host]\n"),
            5,
            18,
            "listed twice",
        );
    }

    #[test]
    fn a_key_must_name_each_group_apart() {
        let head = format!("{HEAD}match: {{ any: [x] }}\ngroup_by: [host, service]\n");
        assert_eq!(
            problems(&format!("{head}key: '{{service}} on {{host}}'\n")),
            []
        );
        assert_problem(
            &format!("{head}key: '{{rule}}/{{host}}'\n"),
            6,
            6,
            "leaves out the group_by field service",
        );
        assert_problem(&format!("{head}key: ' '\n"), 6, 6, "key is empty");
        let found = problems(&format!("{head}key: '{{count}}'\n"));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found
                .iter()
                .all(|(line, column, _)| (*line, *column) == (6, 6))
        );
    }

    #[test]
    fn every_problem_of_a_file_is_reported() {
        let yaml = "rules:\n\
                    \x20 - id: a\n\
                    \x20   title: A\n\
                    \x20   severity: urgent\n\
                    \x20   match: { regex: ['('] }\n\
                    \x20 - id: a\n\
                    \x20   severity: low\n\
                    \x20   resolve_after: never\n";
        let found: Vec<(usize, usize)> = problems(yaml)
            .into_iter()
            .map(|(line, column, _)| (line, column))
            .collect();
        // severity, regex; then the second rule: duplicate id, no title,
        // neither filter nor match, bad duration.
        assert_eq!(found, [(4, 15), (5, 22), (6, 9), (6, 5), (6, 5), (8, 20)]);
        let duplicate = &problems(yaml)[2].2;
        assert!(
            duplicate.contains("first defined at t.yml:2"),
            "{duplicate}"
        );
    }

    /// `count` rules, each with the given extra keys; `{i}` in `keys` is the
    /// rule's number.
    fn many_rules(count: usize, keys: impl Fn(usize) -> String) -> String {
        let mut yaml = String::from("rules:\n");
        for index in 0..count {
            yaml.push_str(&format!(
                "  - id: r{index}\n    title: t\n    severity: low\n{}",
                keys(index)
            ));
        }
        yaml
    }

    /// A flow list of `count` items made by `item`.
    fn list(count: usize, item: impl Fn(usize) -> String) -> String {
        let items: Vec<String> = (0..count).map(item).collect();
        format!("[{}]", items.join(", "))
    }

    /// The one diagnostic of `yaml`, checked to mention `needle`.
    fn assert_one(yaml: &str, needle: &str) -> (usize, usize) {
        let found = problems(yaml);
        assert_eq!(found.len(), 1, "{:?}", &found[..found.len().min(3)]);
        assert!(
            found[0].2.contains(needle),
            "{:?} lacks {needle:?}",
            found[0].2
        );
        (found[0].0, found[0].1)
    }

    #[test]
    fn regexes_in_conditions_stop_at_the_limit_with_one_error() {
        // Three rules of 700 regexes each: the second crosses the limit,
        // the third compiles none.
        let yaml = many_rules(3, |rule| {
            format!(
                "    when: {{ field: message, op: regex, value: {} }}\n",
                list(700, |index| format!("'e{rule}x{index}'"))
            )
        });
        let (line, _) = assert_one(&yaml, "more than 1000 regexes");
        assert_eq!(line, 9, "at the second rule's condition");
    }

    #[test]
    fn globs_have_a_length_and_a_count_limit() {
        let long = format!("{}*", "a".repeat(crate::limits::MAX_GLOB_BYTES));
        assert_problem(
            &format!("{HEAD}filter: {{ host: ['{long}'] }}\n"),
            4,
            18,
            "glob is 1025 bytes long",
        );
        assert_problem(
            &format!("{HEAD}when: {{ field: path, op: glob, value: '{long}' }}\n"),
            4,
            39,
            "glob is 1025 bytes long",
        );
        // 6,000 filter globs and 6,000 condition globs: one error.
        let yaml = many_rules(2, |rule| {
            let globs = list(6_000, |index| format!("'h{rule}x{index}*'"));
            if rule == 0 {
                format!("    filter: {{ host: {globs} }}\n")
            } else {
                format!("    when: {{ field: host, op: glob, value: {globs} }}\n")
            }
        });
        assert_one(&yaml, "more than 10000 globs");
    }

    #[test]
    fn keywords_in_conditions_count_towards_the_keyword_limits() {
        let words = |rule: usize, count: usize| list(count, |index| format!("w{rule}x{index}"));
        assert_one(
            &format!(
                "{HEAD}when: {{ keywords: {{ any: {} }} }}\n",
                words(0, crate::limits::MAX_KEYWORDS_PER_RULE + 1)
            ),
            "keywords; a rule may have at most",
        );
        // Within the limit in match: and in when:, over it together.
        assert_one(
            &format!(
                "{HEAD}match: {{ any: {} }}\nwhen:\n  all:\n    - {{ keywords: {{ all: {} }} }}\n    - {{ keywords: {{ any: {} }} }}\n",
                words(0, 6_000),
                words(1, 3_000),
                words(2, 3_000)
            ),
            "this rule has 12000 keywords",
        );
        // Eleven rules of 9,100 keywords each cross the limit of all rules.
        let yaml = many_rules(11, |rule| {
            format!(
                "    when: {{ keywords: {{ any: {} }} }}\n",
                words(rule, 9_100)
            )
        });
        assert_one(&yaml, "more than 100000 keywords");
    }

    #[test]
    fn limits_are_diagnostics() {
        let long = "a".repeat(crate::limits::MAX_REGEX_BYTES + 1);
        assert_problem(
            &format!("{HEAD}match: {{ regex: ['{long}'] }}\n"),
            4,
            18,
            "bytes long",
        );
        assert_problem(
            &format!("{HEAD}match: {{ regex: ['(\\w{{100}}){{100}}'] }}\n"),
            4,
            18,
            "too big once compiled",
        );
        let keywords: Vec<String> = (0..=crate::limits::MAX_KEYWORDS_PER_RULE)
            .map(|index| format!("k{index}"))
            .collect();
        assert_problem(
            &format!("{HEAD}match:\n  any: [{}]\n", keywords.join(", ")),
            5,
            3,
            "keywords; a rule may have at most",
        );
        assert_problem(
            &format!("{HEAD}match: {{ any: [x] }}\nthreshold: {{ count: 1000000, window: 1m }}\n"),
            5,
            21,
            "at most",
        );
    }
}
