//! Sigma rules (<https://sigmahq.io>), read into firewatch's own rules.
//!
//! A Sigma file sits among the rule files and is told apart by content: a
//! YAML document with `detection:` or `correlation:` at its top level is
//! Sigma (a firewatch rule file can hold neither key). A file may hold
//! several documents separated by `---`, such as a few detection rules and
//! the correlation that ties them together.
//!
//! Nothing here matches events. Each Sigma document is translated into the
//! structures a firewatch rule file deserialises to ([`RuleSpec`] and
//! [`ConditionSpec`]), each value keeping the place it was written at, and
//! then compiled by the same `compile` as every other rule. So a bad
//! regex or CIDR block in a Sigma rule is reported at its own line and
//! column, and a Sigma rule runs through the same prefilter and detector:
//!
//! - a detection rule becomes a named condition, `sigma.ID` (its
//!   `logsource` narrowing and its `detection`), and a rule of type `any`
//!   whose `when:` is that condition; `detection` is translated by
//!   `detection` (selections, modifiers, wildcards) and `expression` (the
//!   `condition` string);
//! - a correlation becomes a rule of its own over the named conditions of
//!   the rules it refers to: `event_count` a `threshold`, `value_count` a
//!   `cardinality`, `temporal` a `together`, `temporal_ordered` of two
//!   rules a `sequence`. As the Sigma specification says, rules a
//!   correlation refers to raise no incidents of their own unless the
//!   correlation says `generate: true`.
//!
//! The firewatch id of a Sigma rule is its `name` when it has one, else
//! its `id` (in lower case). Field names are mapped to the event model by
//! `mapping`. Whatever a translation cannot carry (modifiers such as
//! `base64`, aggregations, `near`, unknown keys) skips that rule with a
//! warning (`Problems::unsupported`), never in silence, and the other
//! rules load; anything else wrong is an error that fails the load.
//! `docs/sigma.md` lists both. Diagnostics inside a Sigma document name
//! the rule, so that a file of several documents reads well in `rules
//! lint`.

mod detection;
mod expression;
mod mapping;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::compile::{Compiler, Problems};
use crate::diagnostic::Diagnostic;
use crate::limits::yaml_options;
use crate::syntax::{
    CardinalitySpec, ConditionSpec, Place, RuleSpec, SequenceSpec, SyntaxError, ThresholdSpec,
    TogetherSpec, place,
};

/// A YAML value of a `detection:` section, with the place of every part.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Bool(value))
    }

    // The number serves comparisons (`gte`, ...); values match by their
    // text as written, taken from the source (`detection`).
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Number(value as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Number(value as f64))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node, E> {
        Ok(Node::Number(value))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Node, E> {
        Ok(Node::Text(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Node, E> {
        Ok(Node::Text(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// One Sigma document: a detection rule or a correlation. Its keys are
/// checked against [`DOCUMENT_KEYS`] apart (`unknown_keys`), so that an
/// unknown one skips this rule, not the whole file.
#[derive(Debug, Deserialize)]
struct SigmaDocument {
    title: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    status: Option<Spanned<String>>,
    description: Option<String>,
    level: Option<Spanned<String>>,
    logsource: Option<Spanned<LogSource>>,
    detection: Option<Spanned<Node>>,
    correlation: Option<Spanned<Correlation>>,
    generate: Option<bool>,
    #[expect(dead_code, reason = "read to check that tags are a list of strings")]
    tags: Option<Vec<String>>,
}

/// The top-level keys of a Sigma document. The metadata among them
/// (`tags` ... `scope`) is accepted and not used, as firewatch rules have
/// no place for it (docs/sigma.md).
const DOCUMENT_KEYS: [&str; 21] = [
    "title",
    "id",
    "name",
    "status",
    "description",
    "level",
    "logsource",
    "detection",
    "correlation",
    "generate",
    "tags",
    "author",
    "date",
    "modified",
    "references",
    "related",
    "license",
    "taxonomy",
    "falsepositives",
    "fields",
    "scope",
];

/// `logsource:` of a detection rule. `category` and `product` are
/// accepted and do not narrow the rule: events carry no category, and
/// firewatch reads Linux and Unix logs.
#[derive(Debug, Deserialize)]
pub(crate) struct LogSource {
    /// Narrows the rule to the programs that write the service's log.
    pub service: Option<Spanned<String>>,
}

const LOG_SOURCE_KEYS: [&str; 4] = ["category", "product", "service", "definition"];

/// `correlation:` of a correlation rule.
#[derive(Debug, Deserialize)]
struct Correlation {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    rules: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(rename = "group-by")]
    group_by: Option<Vec<Spanned<String>>>,
    timespan: Option<Spanned<String>>,
    condition: Option<Spanned<CorrelationCondition>>,
    generate: Option<bool>,
}

/// The keys of `correlation:`; `aliases` is reported as unsupported.
const CORRELATION_KEYS: [&str; 6] = [
    "type",
    "rules",
    "group-by",
    "timespan",
    "condition",
    "generate",
];

/// `condition:` of a correlation: a lower bound on a count. Other bounds
/// (`lt`, `lte`, `eq`, `neq`, `range`) are reported by `unknown_keys`.
#[derive(Debug, Deserialize)]
struct CorrelationCondition {
    gt: Option<Spanned<u64>>,
    gte: Option<Spanned<u64>>,
    field: Option<Spanned<String>>,
}

const CONDITION_KEYS: [&str; 3] = ["gt", "gte", "field"];

/// Reports the keys of a document (of its `logsource`, `correlation` and
/// correlation `condition` too) that firewatch does not support: each
/// skips the rule.
fn unknown_keys(document: &Spanned<Node>, problems: &mut Problems<'_>) {
    let Node::Map(entries) = &document.value else {
        return;
    };
    let report = |entries: &[(Spanned<String>, Spanned<Node>)],
                  known: &[&str],
                  message: &dyn Fn(&str) -> String,
                  problems: &mut Problems<'_>| {
        for (key, _) in entries {
            if !known.contains(&key.value.as_str()) {
                problems.unsupported(place(key), message(&key.value));
            }
        }
    };
    report(
        entries,
        &DOCUMENT_KEYS,
        &|key| format!("unknown field `{key}`"),
        problems,
    );
    for (key, value) in entries {
        let Node::Map(inner) = &value.value else {
            continue;
        };
        match key.value.as_str() {
            "logsource" => report(
                inner,
                &LOG_SOURCE_KEYS,
                &|key| format!("unknown logsource field `{key}`"),
                problems,
            ),
            "correlation" => {
                report(
                    inner,
                    &CORRELATION_KEYS,
                    &|key| format!("correlation key `{key}` is not supported"),
                    problems,
                );
                for (key, value) in inner {
                    if let ("condition", Node::Map(bounds)) = (key.value.as_str(), &value.value) {
                        report(
                            bounds,
                            &CONDITION_KEYS,
                            &|key| {
                                format!(
                                    "correlation condition `{key}` is not supported: \
                                     firewatch fires when a count reaches a bound (gte or gt)"
                                )
                            },
                            problems,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Sigma rules read from every file, waiting for all files to be in:
/// a correlation may refer to a rule of another file.
#[derive(Debug, Default)]
pub(crate) struct SigmaRules {
    rules: Vec<PendingRule>,
    correlations: Vec<PendingCorrelation>,
    /// Sigma `name` and `id` (lower case) -> firewatch id, of detection
    /// rules whose detection translated.
    detections: HashMap<String, String>,
    /// Names and ids of detection rules whose detection did not translate
    /// (already reported).
    broken: HashSet<String>,
    /// Names and ids of correlations.
    correlation_names: HashSet<String>,
    /// Where each document is, to name its rule in diagnostics.
    documents: Vec<DocumentSpan>,
}

#[derive(Debug)]
struct PendingRule {
    path: PathBuf,
    source: Arc<str>,
    id: String,
    spec: Spanned<RuleSpec>,
}

#[derive(Debug)]
struct PendingCorrelation {
    path: PathBuf,
    source: Arc<str>,
    header: Header,
    correlation: Spanned<Correlation>,
    generate: bool,
    /// Its document had a problem (reported with the document).
    skipped: bool,
}

/// Lines `first..=last` of `path` are the document of the rule `label`.
#[derive(Debug)]
struct DocumentSpan {
    path: PathBuf,
    first: usize,
    last: usize,
    label: String,
}

/// What every Sigma document turns into the same way.
#[derive(Debug)]
struct Header {
    /// The firewatch id (a Sigma `name`, else its `id`).
    id: Spanned<String>,
    /// The Sigma `name` and `id`, as a correlation may refer to them.
    aliases: Vec<String>,
    title: Spanned<String>,
    description: Option<String>,
    severity: Option<Spanned<String>>,
    place: Place,
}

impl SigmaRules {
    /// Prefixes the diagnostics that fall inside a Sigma document with
    /// the rule it holds, then `separator`.
    pub(crate) fn name_rules_in(&self, diagnostics: &mut [Diagnostic], separator: &str) {
        for diagnostic in diagnostics {
            let document = self.documents.iter().find(|document| {
                document.path == diagnostic.path
                    && (document.first..=document.last).contains(&diagnostic.line)
            });
            if let Some(document) = document {
                diagnostic.message = format!("{}{separator}{}", document.label, diagnostic.message);
            }
        }
    }
}

/// A value at the place of a Sigma value, for the translated rule.
pub(crate) fn spanned<T>(value: T, location: Location) -> Spanned<T> {
    Spanned::new(value, location, location)
}

/// `all:` or `any:` of several conditions, or the one condition itself.
pub(crate) fn join(
    all: bool,
    mut parts: Vec<Spanned<ConditionSpec>>,
    location: Location,
) -> Spanned<ConditionSpec> {
    if parts.len() == 1
        && let Some(only) = parts.pop()
    {
        return only;
    }
    let list = Some(spanned(parts, location));
    let node = if all {
        ConditionSpec {
            all: list,
            ..ConditionSpec::default()
        }
    } else {
        ConditionSpec {
            any: list,
            ..ConditionSpec::default()
        }
    };
    spanned(node, location)
}

/// `not:` of a condition.
pub(crate) fn negate(inner: Spanned<ConditionSpec>, location: Location) -> Spanned<ConditionSpec> {
    spanned(
        ConditionSpec {
            not: Some(Box::new(inner)),
            ..ConditionSpec::default()
        },
        location,
    )
}

/// The name of the condition that holds a detection rule's detection.
fn condition_name(id: &str) -> String {
    format!("sigma.{id}")
}

/// `{ condition: sigma.ID }`.
fn named(id: &str, location: Location) -> Spanned<ConditionSpec> {
    spanned(
        ConditionSpec {
            condition: Some(spanned(condition_name(id), location)),
            ..ConditionSpec::default()
        },
        location,
    )
}

/// Sigma `level` -> firewatch severity.
fn severity(level: &str) -> Option<&'static str> {
    Some(match level.trim() {
        "informational" => "info",
        "low" => "low",
        "medium" => "medium",
        "high" => "high",
        "critical" => "critical",
        _ => return None,
    })
}

const STATUSES: [&str; 5] = [
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

impl Compiler {
    /// Reads a Sigma file: its detection rules are translated now, its
    /// correlations once every file is in ([`Compiler::finish_sigma`]).
    pub(crate) fn add_sigma_file(&mut self, path: &Path, source: &str) {
        let documents: Vec<Spanned<SigmaDocument>> =
            match serde_saphyr::from_multiple_with_options(source, yaml_options()) {
                Ok(documents) => documents,
                Err(error) => {
                    let error = SyntaxError::from(error);
                    let mut problems = Problems::new(path, source);
                    problems.at(error.place, format!("sigma: {}", error.message));
                    self.absorb(problems);
                    return;
                }
            };
        // The same documents as trees, for their keys.
        let trees: Vec<Spanned<Node>> =
            serde_saphyr::from_multiple_with_options(source, yaml_options())
                .ok()
                .filter(|trees: &Vec<Spanned<Node>>| trees.len() == documents.len())
                .unwrap_or_default();
        let source: Arc<str> = source.into();
        let starts: Vec<usize> = documents
            .iter()
            .enumerate()
            .map(|(index, document)| if index == 0 { 1 } else { place(document).line })
            .collect();
        for (index, document) in documents.into_iter().enumerate() {
            let first = starts[index];
            let last = starts
                .get(index + 1)
                .map_or(usize::MAX, |next| next.saturating_sub(1));
            let mut problems = Problems::new(path, &source);
            if let Some(tree) = trees.get(index) {
                unknown_keys(tree, &mut problems);
            }
            let at = place(&document);
            let document = document.value;
            let label = match (
                &document.title,
                document.name.as_ref().or(document.id.as_ref()),
            ) {
                (Some(title), Some(id)) => format!("sigma rule `{}` ({})", id.value, title.value),
                (Some(title), None) => format!("sigma rule ({})", title.value),
                (None, Some(id)) => format!("sigma rule `{}`", id.value),
                (None, None) => "sigma rule".to_owned(),
            };
            self.sigma.documents.push(DocumentSpan {
                path: path.to_owned(),
                first,
                last,
                label,
            });
            self.add_sigma_document(path, &source, document, at, &mut problems);
            self.absorb(problems);
        }
    }

    /// Translates a detection rule, or queues a correlation. A rule with
    /// any problem is left out (and its problems absorbed by the caller).
    fn add_sigma_document(
        &mut self,
        path: &Path,
        source: &Arc<str>,
        document: SigmaDocument,
        at: Place,
        problems: &mut Problems<'_>,
    ) {
        let header = header(&document, at, problems);
        if let Some(status) = &document.status
            && !STATUSES.contains(&status.value.trim())
        {
            problems.at(
                place(status),
                format!(
                    "unknown status {:?}: expected {}",
                    status.value,
                    STATUSES.join(", ")
                ),
            );
        }
        match (document.detection, document.correlation) {
            (Some(_), Some(correlation)) => problems.at(
                place(&correlation),
                "a document has detection or correlation, not both",
            ),
            (None, None) => problems.at(
                at,
                "this document has neither detection nor correlation; \
                 a Sigma file holds only Sigma rules",
            ),
            (None, Some(correlation)) => {
                if document.logsource.is_some() {
                    problems.at(at, "a correlation has no logsource");
                }
                if let Some(header) = header {
                    self.sigma
                        .correlation_names
                        .extend(header.aliases.iter().cloned());
                    self.sigma.correlations.push(PendingCorrelation {
                        path: path.to_owned(),
                        source: Arc::clone(source),
                        header,
                        generate: correlation
                            .value
                            .generate
                            .or(document.generate)
                            .unwrap_or(false),
                        correlation,
                        skipped: !problems.found.is_empty() || !problems.unsupported.is_empty(),
                    });
                }
            }
            (Some(detection), None) => {
                let translated =
                    detection::translate(&detection, document.logsource.as_ref(), problems);
                let Some(header) = header else {
                    return;
                };
                let clean = problems.found.is_empty() && problems.unsupported.is_empty();
                let Some(condition) = translated.filter(|_| clean) else {
                    self.sigma.broken.extend(header.aliases);
                    return;
                };
                let id = header.id.value.clone();
                self.register_definitions(path, source, [(condition_name(&id), condition)], []);
                for alias in &header.aliases {
                    self.sigma.detections.insert(alias.clone(), id.clone());
                }
                let location = header.id.referenced;
                let spec = rule_spec(
                    header,
                    ConditionSpec {
                        condition: Some(spanned(condition_name(&id), location)),
                        ..ConditionSpec::default()
                    },
                );
                self.sigma.rules.push(PendingRule {
                    path: path.to_owned(),
                    source: Arc::clone(source),
                    id,
                    spec,
                });
            }
        }
    }

    /// Queues the Sigma rules for compiling: detection rules that no
    /// correlation consumes, then the correlations. A skipped correlation
    /// still consumes its rules: they were written to feed it, not to
    /// raise incidents one event at a time.
    pub(crate) fn finish_sigma(&mut self) {
        let sigma = std::mem::take(&mut self.sigma.rules);
        let correlations = std::mem::take(&mut self.sigma.correlations);
        let mut consumed = HashSet::new();
        let mut translated = Vec::new();
        for pending in correlations {
            if !pending.generate {
                consumed.extend(self.sigma.known_references(&pending.correlation.value));
            }
            if pending.skipped {
                continue;
            }
            let mut problems = Problems::new(&pending.path, &pending.source);
            if let Some(spec) = self.sigma.correlation_rule(&pending, &mut problems) {
                translated.push((pending.path.clone(), Arc::clone(&pending.source), spec));
            }
            self.absorb(problems);
        }
        for rule in sigma {
            if !consumed.contains(&rule.id) {
                self.push_rule(&rule.path, &rule.source, rule.spec);
            }
        }
        for (path, source, spec) in translated {
            self.push_rule(&path, &source, spec);
        }
    }
}

/// Title, id, level and description of a document, checked.
fn header(document: &SigmaDocument, at: Place, problems: &mut Problems<'_>) -> Option<Header> {
    let title = match &document.title {
        Some(title) if !title.value.trim().is_empty() => Some(title.clone()),
        Some(title) => {
            problems.at(place(title), "title is empty");
            None
        }
        None => {
            problems.at(at, "a Sigma rule needs a title");
            None
        }
    };
    let uuid = document
        .id
        .as_ref()
        .map(|id| spanned(id.value.trim().to_ascii_lowercase(), id.referenced));
    let name = document
        .name
        .as_ref()
        .map(|name| spanned(name.value.trim().to_owned(), name.referenced));
    let aliases: Vec<String> = name
        .iter()
        .chain(&uuid)
        .map(|alias| alias.value.clone())
        .collect();
    let id = name.or(uuid);
    if id.is_none() {
        problems.at(
            at,
            "a Sigma rule needs a name or an id: it becomes the firewatch rule id",
        );
    }
    let severity = match &document.level {
        None => None,
        Some(level) => match severity(&level.value) {
            Some(mapped) => Some(spanned(mapped.to_owned(), level.referenced)),
            None => {
                problems.at(
                    place(level),
                    format!(
                        "unknown level {:?}: expected informational, low, medium, high or critical",
                        level.value
                    ),
                );
                return None;
            }
        },
    };
    Some(Header {
        id: id?,
        aliases,
        title: title?,
        description: document.description.clone(),
        severity,
        place: at,
    })
}

/// A firewatch rule from a Sigma header and its condition. A Sigma rule
/// without `level` is `medium`. The title is Sigma's, braces escaped,
/// with the group values after it.
fn rule_spec(header: Header, when: ConditionSpec) -> Spanned<RuleSpec> {
    let location = header.id.referenced;
    let title = header.title.value.replace('{', "{{").replace('}', "}}");
    spanned(
        RuleSpec {
            id: Some(header.id),
            title: Some(spanned(title, header.title.referenced)),
            description: header
                .description
                .map(|text| text.replace('{', "{{").replace('}', "}}")),
            severity: Some(
                header
                    .severity
                    .unwrap_or_else(|| spanned("medium".to_owned(), location)),
            ),
            when: Some(spanned(when, location)),
            ..RuleSpec::default()
        },
        location,
    )
}

impl SigmaRules {
    /// The firewatch ids of the detection rules a correlation refers to,
    /// leaving out names that are not one.
    fn known_references<'a>(
        &'a self,
        correlation: &'a Correlation,
    ) -> impl Iterator<Item = String> + 'a {
        correlation
            .rules
            .iter()
            .flat_map(|rules| &rules.value)
            .filter_map(|reference| self.detection(reference.value.trim()).cloned())
    }

    /// The firewatch id of the detection rule with this Sigma name or id.
    fn detection(&self, name: &str) -> Option<&String> {
        self.detections
            .get(name)
            .or_else(|| self.detections.get(&name.to_ascii_lowercase()))
    }

    /// The firewatch rule of a correlation; `None` when it has a problem
    /// (reported).
    fn correlation_rule(
        &self,
        pending: &PendingCorrelation,
        problems: &mut Problems<'_>,
    ) -> Option<Spanned<RuleSpec>> {
        let at = place(&pending.correlation);
        let location = pending.correlation.referenced;
        let correlation = &pending.correlation.value;
        let mut ok = true;
        let Some(kind) = &correlation.kind else {
            problems.at(
                at,
                "correlation has no type (event_count, value_count, temporal or temporal_ordered)",
            );
            return None;
        };
        let references = self.references(correlation, at, problems);
        let timespan = correlation.timespan.clone();
        if timespan.is_none() {
            problems.at(at, "correlation has no timespan");
            ok = false;
        }
        let group_by: Vec<Spanned<String>> = correlation
            .group_by
            .iter()
            .flatten()
            .map(|field| spanned(mapping::field(&field.value), field.referenced))
            .collect();
        let references = references?;
        let conditions = |ids: &[String]| -> Vec<Spanned<ConditionSpec>> {
            ids.iter().map(|id| named(id, location)).collect()
        };
        let bound = correlation.condition.as_ref();
        let mut spec = rule_spec(
            Header {
                id: pending.header.id.clone(),
                aliases: Vec::new(),
                title: pending.header.title.clone(),
                description: pending.header.description.clone(),
                severity: pending.header.severity.clone(),
                place: pending.header.place,
            },
            ConditionSpec::default(),
        );
        let rule = &mut spec.value;
        if !group_by.is_empty()
            && let Some(title) = &mut rule.title
        {
            let values: Vec<String> = group_by
                .iter()
                .map(|field| format!("{{{}}}", field.value))
                .collect();
            title.value = format!("{} ({})", title.value, values.join(", "));
        }
        rule.group_by = Some(group_by);
        match kind.value.trim() {
            "event_count" | "value_count" => {
                let counting_values = kind.value.trim() == "value_count";
                let (count, field) = count_bound(bound, at, counting_values, problems)?;
                rule.when = Some(join(false, conditions(&references), location));
                if counting_values {
                    rule.cardinality = Some(spanned(
                        CardinalitySpec {
                            field: field.map(|field| {
                                spanned(mapping::field(&field.value), field.referenced)
                            }),
                            count: Some(count),
                            window: timespan,
                        },
                        location,
                    ));
                } else {
                    rule.threshold = Some(spanned(
                        ThresholdSpec {
                            count: Some(count),
                            window: timespan,
                        },
                        location,
                    ));
                }
            }
            "temporal" => {
                let count = match bound {
                    None => None,
                    Some(bound) => Some(temporal_bound(bound, references.len(), problems)?),
                };
                rule.when = None;
                rule.together = Some(spanned(
                    TogetherSpec {
                        of: Some(spanned(conditions(&references), location)),
                        count,
                        within: timespan,
                    },
                    location,
                ));
            }
            "temporal_ordered" => {
                if let Some(bound) = bound {
                    problems.at(
                        place(bound),
                        "a temporal_ordered correlation takes no condition here: all its rules \
                         must match, in order",
                    );
                    return None;
                }
                let [first, then] = references.as_slice() else {
                    problems.unsupported(
                        place(kind),
                        "temporal_ordered is supported for two rules (a sequence); \
                         chain correlations for more",
                    );
                    return None;
                };
                rule.when = None;
                rule.sequence = Some(spanned(
                    SequenceSpec {
                        first: Some(named(first, location)),
                        then: Some(named(then, location)),
                        within: timespan,
                    },
                    location,
                ));
            }
            other => {
                problems.unsupported(
                    place(kind),
                    format!(
                        "correlation type {other:?} is not supported: expected event_count, \
                         value_count, temporal or temporal_ordered"
                    ),
                );
                return None;
            }
        }
        ok.then_some(spec)
    }

    /// The firewatch ids of the rules a correlation refers to.
    fn references(
        &self,
        correlation: &Correlation,
        at: Place,
        problems: &mut Problems<'_>,
    ) -> Option<Vec<String>> {
        let Some(rules) = &correlation.rules else {
            problems.at(at, "correlation has no rules");
            return None;
        };
        if rules.value.is_empty() {
            problems.at(place(rules), "correlation rules is an empty list");
            return None;
        }
        let mut ids = Vec::new();
        let mut ok = true;
        for reference in &rules.value {
            let name = reference.value.trim();
            match self.detection(name) {
                Some(id) if !ids.contains(id) => ids.push(id.clone()),
                Some(_) => {
                    problems.at(place(reference), format!("`{name}` is listed twice"));
                    ok = false;
                }
                None if self.broken.contains(name)
                    || self.broken.contains(&name.to_ascii_lowercase()) =>
                {
                    // Its own problems are reported: this one is skipped
                    // with it, or the rules do not load at all.
                    problems.unsupported(
                        place(reference),
                        format!("`{name}` is not loaded, so neither is this correlation"),
                    );
                    ok = false;
                }
                None if self.correlation_names.contains(name)
                    || self.correlation_names.contains(&name.to_ascii_lowercase()) =>
                {
                    problems.unsupported(
                        place(reference),
                        format!(
                            "`{name}` is a correlation: chained correlations are not supported"
                        ),
                    );
                    ok = false;
                }
                None => {
                    problems.at(
                        place(reference),
                        format!("no Sigma rule has the name or id `{name}`"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(ids)
    }
}

/// The count of an `event_count` or `value_count` condition (`gte: N` or
/// `gt: N`) and, for `value_count`, its field.
fn count_bound(
    bound: Option<&Spanned<CorrelationCondition>>,
    at: Place,
    needs_field: bool,
    problems: &mut Problems<'_>,
) -> Option<(Spanned<u64>, Option<Spanned<String>>)> {
    let Some(bound) = bound else {
        problems.at(at, "correlation has no condition (e.g. gte: 10)");
        return None;
    };
    let count = lower_bound(bound, problems)?;
    let field = bound.value.field.clone();
    match (&field, needs_field) {
        (None, true) => {
            problems.at(place(bound), "a value_count condition needs field:");
            None
        }
        (Some(field), false) => {
            problems.at(place(field), "field: applies to value_count only");
            None
        }
        _ => Some((count, field)),
    }
}

/// `gte: N` as N and `gt: N` as N + 1 (other bounds are reported by
/// `unknown_keys`).
fn lower_bound(
    bound: &Spanned<CorrelationCondition>,
    problems: &mut Problems<'_>,
) -> Option<Spanned<u64>> {
    let condition = &bound.value;
    match (&condition.gte, &condition.gt) {
        (Some(gte), None) => Some(gte.clone()),
        (None, Some(gt)) => Some(spanned(gt.value.saturating_add(1), gt.referenced)),
        (Some(_), Some(gt)) => {
            problems.at(place(gt), "give gte or gt, not both");
            None
        }
        (None, None) => {
            problems.at(place(bound), "condition needs gte or gt");
            None
        }
    }
}

/// A `temporal` condition: how many of the `rules` distinct rules must
/// match (`gte: N`, `gt: N`).
fn temporal_bound(
    bound: &Spanned<CorrelationCondition>,
    rules: usize,
    problems: &mut Problems<'_>,
) -> Option<Spanned<u64>> {
    if let Some(field) = &bound.value.field {
        problems.at(place(field), "field: applies to value_count only");
        return None;
    }
    let count = lower_bound(bound, problems)?;
    if count.value == 0 || count.value > rules as u64 {
        problems.at(
            place(&count),
            format!("a temporal condition counts rules: 1 to {rules} here"),
        );
        return None;
    }
    Some(count)
}
