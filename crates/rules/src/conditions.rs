//! Compiling condition trees, with the named conditions and lists that
//! rule files share.
//!
//! `conditions:` and `lists:` may stand in any rule file and be used from
//! any other, so they are registered while files are read and resolved
//! only once every file is in. A named condition compiles once, the first
//! time a rule refers to it (or at the end, for one no rule uses, so that
//! its problems are still reported); a cycle of names is an error at the
//! reference that closes it. Lists are referred to as `$name` wherever a
//! condition takes several values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use firewatch_event::Level;
use regex::RegexBuilder;
use serde_saphyr::Spanned;

use crate::compile::{Compiler, Problems, check_regex, non_empty_items};
use crate::condition::{Condition, FieldTest, Network, Ordering, ValueSet};
use crate::limits::{MAX_KEYWORD_BYTES, MAX_LIST_ITEMS, REGEX_SIZE_LIMIT};
use crate::syntax::{ConditionSpec, KeywordSpec, Literal, Place, place};

/// Named conditions and lists of every file read so far.
#[derive(Debug, Default)]
pub(crate) struct Definitions {
    conditions: HashMap<String, NamedCondition>,
    lists: HashMap<String, List>,
}

#[derive(Debug)]
struct NamedCondition {
    path: PathBuf,
    /// The text of the file it is in.
    source: Arc<str>,
    place: Place,
    state: NamedState,
}

#[derive(Debug)]
enum NamedState {
    Pending(Box<Spanned<ConditionSpec>>),
    Compiling,
    Done(Option<Arc<Condition>>),
}

#[derive(Debug)]
struct List {
    path: PathBuf,
    place: Place,
    items: Vec<(Scalar, Place)>,
}

/// One value of a condition or a list.
#[derive(Clone, Debug)]
enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(text) => text.clone(),
            Scalar::Number(number) => number.to_string(),
            Scalar::Bool(value) => value.to_string(),
        }
    }
}

/// A name for `conditions:` and `lists:` entries: like a rule id, plus
/// upper-case letters.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Compiler {
    /// Registers the named conditions and lists of one file.
    pub(crate) fn register_definitions(
        &mut self,
        path: &Path,
        source: &Arc<str>,
        conditions: impl IntoIterator<Item = (String, Spanned<ConditionSpec>)>,
        lists: impl IntoIterator<Item = (String, Spanned<Literal>)>,
    ) {
        let mut problems = Problems::new(path, source);
        for (name, list) in lists {
            let list_place = place(&list);
            if !is_valid_name(&name) {
                problems.at(list_place, format!("invalid list name {name:?}"));
                continue;
            }
            if let Some(first) = self.definitions.lists.get(&name) {
                problems.at(
                    list_place,
                    format!(
                        "list `{name}` is defined twice: first at {}:{}",
                        first.path.display(),
                        first.place.line
                    ),
                );
                continue;
            }
            let items = match list.value {
                Literal::List(items) => items,
                _ => {
                    problems.at(
                        list_place,
                        format!("list `{name}` must be a list of values"),
                    );
                    continue;
                }
            };
            if items.len() > MAX_LIST_ITEMS {
                problems.at(
                    list_place,
                    format!(
                        "list `{name}` has {} values; at most {MAX_LIST_ITEMS} are allowed",
                        items.len()
                    ),
                );
                continue;
            }
            let items = items
                .into_iter()
                .filter_map(|item| scalar(item, &mut problems))
                .collect();
            self.definitions.lists.insert(
                name,
                List {
                    path: path.to_owned(),
                    place: list_place,
                    items,
                },
            );
        }
        for (name, spec) in conditions {
            let spec_place = place(&spec);
            if !is_valid_name(&name) {
                problems.at(spec_place, format!("invalid condition name {name:?}"));
                continue;
            }
            if let Some(first) = self.definitions.conditions.get(&name) {
                problems.at(
                    spec_place,
                    format!(
                        "condition `{name}` is defined twice: first at {}:{}",
                        first.path.display(),
                        first.place.line
                    ),
                );
                continue;
            }
            self.definitions.conditions.insert(
                name,
                NamedCondition {
                    path: path.to_owned(),
                    source: Arc::clone(source),
                    place: spec_place,
                    state: NamedState::Pending(Box::new(spec)),
                },
            );
        }
        self.absorb(problems);
    }

    /// Compiles the named conditions no rule referred to, for their
    /// problems.
    pub(crate) fn compile_unused_conditions(&mut self) {
        let pending: Vec<String> = self
            .definitions
            .conditions
            .iter()
            .filter(|(_, named)| matches!(named.state, NamedState::Pending(_)))
            .map(|(name, _)| name.clone())
            .collect();
        // A pending name exists and is not being compiled: the reference
        // itself cannot be wrong, so nothing lands in `unplaced`.
        let mut unplaced = Problems::new(Path::new(""), "");
        for name in pending {
            // Its keywords count for no rule, only for all of them.
            self.rule_keywords = 0;
            self.named_condition(&name, Place::START, &mut unplaced);
        }
    }

    /// Compiles a condition tree; `None` when it has a problem (reported).
    pub(crate) fn compile_condition(
        &mut self,
        spec: &Spanned<ConditionSpec>,
        problems: &mut Problems<'_>,
    ) -> Option<Condition> {
        let at = place(spec);
        let node = &spec.value;
        let shapes = [
            node.all.is_some(),
            node.any.is_some(),
            node.not.is_some(),
            node.condition.is_some(),
            node.field.is_some() || node.op.is_some() || node.value.is_some(),
            node.min_level.is_some(),
            node.keywords.is_some(),
        ];
        match shapes.iter().filter(|given| **given).count() {
            0 => {
                problems.at(
                    at,
                    "empty condition: give all, any, not, condition, field with op, \
                     min_level or keywords",
                );
                return None;
            }
            1 => {}
            _ => {
                problems.at(
                    at,
                    "a condition has one of all, any, not, condition, field, min_level or \
                     keywords; combine several with all: [...]",
                );
                return None;
            }
        }
        if let Some(parts) = node.all.as_ref().or(node.any.as_ref()) {
            let key = if node.all.is_some() { "all" } else { "any" };
            if parts.value.is_empty() {
                problems.at(
                    place(parts),
                    format!("{key} is an empty list of conditions"),
                );
                return None;
            }
            let compiled: Vec<Option<Condition>> = parts
                .value
                .iter()
                .map(|part| self.compile_condition(part, problems))
                .collect();
            let compiled: Option<Vec<Condition>> = compiled.into_iter().collect();
            let compiled = compiled?.into_boxed_slice();
            return Some(if node.all.is_some() {
                Condition::All(compiled)
            } else {
                Condition::Any(compiled)
            });
        }
        if let Some(inner) = &node.not {
            return Some(Condition::Not(Box::new(
                self.compile_condition(inner, problems)?,
            )));
        }
        if let Some(name) = &node.condition {
            return self
                .named_condition(&name.value, place(name), problems)
                .map(Condition::Named);
        }
        if let Some(level) = &node.min_level {
            return match Level::parse(level.value.trim()) {
                Some(parsed) if parsed != Level::Unknown => Some(Condition::MinLevel(parsed)),
                _ => {
                    problems.at(
                        place(level),
                        format!(
                            "unknown level {:?}: expected trace, debug, info, notice, warn, \
                             error, critical or fatal",
                            level.value
                        ),
                    );
                    None
                }
            };
        }
        if let Some(keywords) = &node.keywords {
            return self.compile_keywords(keywords, problems);
        }
        self.compile_field(node, at, problems)
    }

    /// The compiled named condition `name`, compiling it on first use.
    fn named_condition(
        &mut self,
        name: &str,
        at: Place,
        problems: &mut Problems<'_>,
    ) -> Option<Arc<Condition>> {
        let Some(named) = self.definitions.conditions.get_mut(name) else {
            problems.at(
                at,
                format!("unknown condition `{name}`: define it under conditions:"),
            );
            return None;
        };
        match std::mem::replace(&mut named.state, NamedState::Compiling) {
            NamedState::Done(compiled) => {
                named.state = NamedState::Done(compiled.clone());
                compiled
            }
            NamedState::Compiling => {
                problems.at(
                    at,
                    format!("condition `{name}` refers to itself through condition:"),
                );
                None
            }
            NamedState::Pending(spec) => {
                let path = named.path.clone();
                let source = Arc::clone(&named.source);
                let mut own = Problems::new(&path, &source);
                let compiled = self.compile_condition(&spec, &mut own).map(Arc::new);
                self.absorb(own);
                if let Some(named) = self.definitions.conditions.get_mut(name) {
                    named.state = NamedState::Done(compiled.clone());
                }
                compiled
            }
        }
    }

    fn compile_keywords(
        &mut self,
        spec: &Spanned<KeywordSpec>,
        problems: &mut Problems<'_>,
    ) -> Option<Condition> {
        let keywords = &spec.value;
        if keywords.any.is_none() && keywords.all.is_none() {
            problems.at(place(spec), "keywords has no any or all");
            return None;
        }
        let case_sensitive = keywords.case_sensitive.unwrap_or(false);
        let source = problems.source;
        let lists = [("any", &keywords.any), ("all", &keywords.all)]
            .map(|(key, list)| (key, non_empty_items(key, list.as_ref(), source, problems)));
        let count = lists.iter().map(|(_, items)| items.len()).sum();
        if !self.count_keywords(count, place(spec), problems) {
            return None;
        }
        let mut ok = true;
        let [any, all] = lists.map(|(key, items)| {
            let mut literals = Vec::new();
            for (keyword, at) in items {
                if keyword.is_empty() {
                    problems.at(at, format!("empty keyword in {key}"));
                    ok = false;
                } else if keyword.len() > MAX_KEYWORD_BYTES {
                    problems.at(
                        at,
                        format!(
                            "keyword is {} bytes long; at most {MAX_KEYWORD_BYTES} are allowed",
                            keyword.len()
                        ),
                    );
                    ok = false;
                } else {
                    literals.push(self.patterns.literal(&keyword, case_sensitive));
                }
            }
            literals.into_boxed_slice()
        });
        (ok && (!any.is_empty() || !all.is_empty())).then_some(Condition::Keywords { any, all })
    }

    fn compile_field(
        &mut self,
        node: &ConditionSpec,
        at: Place,
        problems: &mut Problems<'_>,
    ) -> Option<Condition> {
        let Some(field) = &node.field else {
            problems.at(at, "a comparison needs field: (and op:)");
            return None;
        };
        let path = field.value.trim();
        if path.is_empty() {
            problems.at(place(field), "empty field name");
            return None;
        }
        let Some(op) = &node.op else {
            problems.at(
                at,
                "a comparison needs op: ==, !=, in, not_in, <, <=, >, >=, exists, glob, regex or cidr",
            );
            return None;
        };
        let op_place = place(op);
        let value = node.value.as_ref();
        let op_text = op.value.trim();
        if op_text == "exists" {
            if let Some(value) = value {
                problems.at(place(value), "exists takes no value");
                return None;
            }
            return Some(Condition::Field {
                path: path.into(),
                test: FieldTest::Exists,
            });
        }
        let Some(value) = value else {
            problems.at(at, format!("op {op_text} needs a value:"));
            return None;
        };
        let test = match op_text {
            "==" | "!=" => {
                let item = self.single(value, op_text, problems)?;
                let mut set = ValueSet::default();
                add_to_set(&mut set, &item);
                if op_text == "==" {
                    FieldTest::OneOf(set)
                } else {
                    FieldTest::NoneOf(set)
                }
            }
            "in" | "not_in" => {
                let mut set = ValueSet::default();
                for (item, _) in self.several(value, problems)? {
                    add_to_set(&mut set, &item);
                }
                if op_text == "in" {
                    FieldTest::OneOf(set)
                } else {
                    FieldTest::NoneOf(set)
                }
            }
            "<" | "<=" | ">" | ">=" => {
                let bound = match self.single(value, op_text, problems)? {
                    Scalar::Number(number) => number,
                    other => {
                        problems.at(
                            place(value),
                            format!(
                                "op {op_text} compares numbers, but {:?} is not a number \
                                 (write it without quotes)",
                                other.text()
                            ),
                        );
                        return None;
                    }
                };
                let ordering = match op_text {
                    "<" => Ordering::Less,
                    "<=" => Ordering::LessOrEqual,
                    ">" => Ordering::Greater,
                    _ => Ordering::GreaterOrEqual,
                };
                FieldTest::Compare(ordering, bound)
            }
            "glob" => {
                let items: Vec<(String, Place)> = self
                    .several(value, problems)?
                    .into_iter()
                    .map(|(item, item_place)| (item.text(), item_place))
                    .collect();
                let patterns: Vec<Box<str>> =
                    items.iter().map(|(text, _)| text.as_str().into()).collect();
                let set = self.glob_set(items, place(value), problems)?;
                FieldTest::Glob {
                    set,
                    patterns: patterns.into(),
                }
            }
            "regex" => {
                let mut regexes = Vec::new();
                for (item, item_place) in self.several(value, problems)? {
                    let pattern = item.text();
                    if !self.count_regex(item_place, problems) {
                        return None;
                    }
                    let compiled = check_regex(&pattern).and_then(|()| {
                        RegexBuilder::new(&pattern)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .build()
                            .map_err(|error| format!("invalid regex: {error}"))
                    });
                    match compiled {
                        Ok(regex) => regexes.push(regex),
                        Err(message) => problems.at(item_place, message),
                    }
                }
                FieldTest::Regex(regexes.into())
            }
            "cidr" => {
                let mut networks = Vec::new();
                for (item, item_place) in self.several(value, problems)? {
                    match Network::parse(&item.text()) {
                        Ok(network) => networks.push(network),
                        Err(message) => problems.at(item_place, message),
                    }
                }
                FieldTest::Cidr(networks.into())
            }
            unknown => {
                problems.at(
                    op_place,
                    format!(
                        "unknown op {unknown:?}: expected ==, !=, in, not_in, <, <=, >, >=, \
                         exists, glob, regex or cidr"
                    ),
                );
                return None;
            }
        };
        Some(Condition::Field {
            path: path.into(),
            test,
        })
    }

    /// The one value of a comparison such as `==`.
    fn single(
        &mut self,
        value: &Spanned<Literal>,
        op: &str,
        problems: &mut Problems<'_>,
    ) -> Option<Scalar> {
        match &value.value {
            Literal::List(_) => {
                problems.at(
                    place(value),
                    format!("op {op} takes one value; use in for a list"),
                );
                None
            }
            Literal::Text(text) if text.starts_with('$') => {
                problems.at(
                    place(value),
                    format!("op {op} takes one value; use in for a list"),
                );
                None
            }
            Literal::Text(text) => Some(Scalar::Text(text.clone())),
            Literal::Number(number) => Some(Scalar::Number(*number)),
            Literal::Bool(value) => Some(Scalar::Bool(*value)),
        }
    }

    /// The values of a comparison that takes several: one value, a list,
    /// or `$name` of a list.
    fn several(
        &mut self,
        value: &Spanned<Literal>,
        problems: &mut Problems<'_>,
    ) -> Option<Vec<(Scalar, Place)>> {
        let at = place(value);
        let items: Vec<(Scalar, Place)> = match &value.value {
            Literal::Text(text) if text.starts_with('$') => {
                let name = &text[1..];
                let Some(list) = self.definitions.lists.get(name) else {
                    problems.at(at, format!("unknown list `{name}`: define it under lists:"));
                    return None;
                };
                list.items.clone()
            }
            Literal::List(items) => {
                if items.len() > MAX_LIST_ITEMS {
                    problems.at(
                        at,
                        format!(
                            "{} values; at most {MAX_LIST_ITEMS} are allowed",
                            items.len()
                        ),
                    );
                    return None;
                }
                let mut found = Vec::with_capacity(items.len());
                for item in items {
                    let item_place = place(item);
                    match &item.value {
                        Literal::Text(text) => found.push((Scalar::Text(text.clone()), item_place)),
                        Literal::Number(number) => {
                            found.push((Scalar::Number(*number), item_place))
                        }
                        Literal::Bool(value) => found.push((Scalar::Bool(*value), item_place)),
                        Literal::List(_) => {
                            problems.at(item_place, "a list inside a list");
                            return None;
                        }
                    }
                }
                found
            }
            Literal::Text(text) => vec![(Scalar::Text(text.clone()), at)],
            Literal::Number(number) => vec![(Scalar::Number(*number), at)],
            Literal::Bool(value) => vec![(Scalar::Bool(*value), at)],
        };
        if items.is_empty() {
            problems.at(at, "an empty list of values never matches");
            return None;
        }
        Some(items)
    }

    /// Moves one scope's problems into the compiler's. Unsupported parts
    /// alone skip a Sigma rule (kept as warnings); beside an error they
    /// are errors too.
    pub(crate) fn absorb(&mut self, mut problems: Problems<'_>) {
        if problems.found.is_empty() {
            if !problems.unsupported.is_empty() {
                self.skipped_rules += 1;
                self.skipped.append(&mut problems.unsupported);
            }
            return;
        }
        self.diagnostics.append(&mut problems.found);
        self.diagnostics.append(&mut problems.unsupported);
    }
}

fn add_to_set(set: &mut ValueSet, item: &Scalar) {
    match item {
        Scalar::Number(number) => set.numbers.push(*number),
        other => {
            set.texts.insert(other.text().into());
        }
    }
}

/// A list item: a scalar, not a nested list.
fn scalar(item: Spanned<Literal>, problems: &mut Problems<'_>) -> Option<(Scalar, Place)> {
    let at = place(&item);
    match item.value {
        Literal::Text(text) => Some((Scalar::Text(text), at)),
        Literal::Number(number) => Some((Scalar::Number(number), at)),
        Literal::Bool(value) => Some((Scalar::Bool(value), at)),
        Literal::List(_) => {
            problems.at(at, "a list inside a list");
            None
        }
    }
}
