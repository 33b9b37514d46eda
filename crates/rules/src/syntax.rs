//! Rule files as written (format v1), deserialised with the place of every
//! value that a later check may need to point at.
//!
//! This layer is faithful and knows only keys and types. Whether a regex
//! compiles, a duration parses or an id is unique is decided by `compile`,
//! which can then report every such problem of a file at once, each at its
//! own line and column. For the same reason the keys the format requires
//! (`id`, `title`, `severity`) are optional here: a missing one is a
//! diagnostic of its own instead of the end of the file's checking.
//!
//! Positions come from `serde_saphyr::Spanned`. A YAML syntax error, an
//! unknown key or a value of the wrong type ends deserialisation, so those
//! are reported one per file.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use crate::lifecycle::{EscalationSpec, FlapSpec};
use crate::limits::{MAX_YAML_DEPTH, yaml_options};

/// A place in a rule file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub line: usize,
    pub column: usize,
}

impl Place {
    /// The start of the file, for problems the parser cannot place.
    pub const START: Place = Place { line: 1, column: 1 };

    fn of(location: Location) -> Self {
        if location == Location::UNKNOWN {
            return Self::START;
        }
        Self {
            line: usize::try_from(location.line()).unwrap_or(usize::MAX),
            column: usize::try_from(location.column()).unwrap_or(usize::MAX),
        }
    }
}

/// Where a spanned value was written.
pub(crate) fn place<T>(spanned: &Spanned<T>) -> Place {
    Place::of(spanned.referenced)
}

/// A rule file could not be deserialised.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub place: Place,
    pub message: String,
}

impl From<serde_saphyr::Error> for SyntaxError {
    fn from(error: serde_saphyr::Error) -> Self {
        let inner = error.without_snippet();
        let message = match inner {
            serde_saphyr::Error::Budget {
                breach: BudgetBreach::Depth { .. },
                ..
            } => format!(
                "nested too deep: a rule file holds mappings and lists at most \
                 {MAX_YAML_DEPTH} levels deep"
            ),
            _ => UserMessageFormatter.format_message(inner).into_owned(),
        };
        Self {
            place: inner.location().map_or(Place::START, Place::of),
            message,
        }
    }
}

/// One rule, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    pub id: Option<Spanned<String>>,
    pub title: Option<Spanned<String>>,
    pub description: Option<String>,
    pub key: Option<Spanned<String>>,
    pub severity: Option<Spanned<String>>,
    pub filter: Option<Spanned<FilterSpec>>,
    #[serde(rename = "match")]
    pub message: Option<Spanned<MatchSpec>>,
    pub threshold: Option<Spanned<ThresholdSpec>>,
    pub group_by: Option<Vec<Spanned<String>>>,
    pub resolve_after: Option<Spanned<String>>,
    #[serde(rename = "for")]
    pub pending_for: Option<Spanned<String>>,
    pub flap: Option<Spanned<FlapSpec>>,
    pub escalate: Option<Vec<Spanned<EscalationSpec>>>,
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub when: Option<Spanned<ConditionSpec>>,
    pub spike: Option<Spanned<SpikeSpec>>,
    pub absence: Option<Spanned<AbsenceSpec>>,
    pub sequence: Option<Spanned<SequenceSpec>>,
    pub new_value: Option<Spanned<NewValueSpec>>,
    pub cardinality: Option<Spanned<CardinalitySpec>>,
    pub ratio: Option<Spanned<RatioSpec>>,
    pub together: Option<Spanned<TogetherSpec>>,
}

/// One node of a condition tree, as written. Exactly one shape must be
/// given (checked by `compile`): `all`, `any`, `not`, `condition` (a named
/// condition), `field` with `op` (and `value`), `min_level`, or `keywords`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConditionSpec {
    pub all: Option<Spanned<Vec<Spanned<ConditionSpec>>>>,
    pub any: Option<Spanned<Vec<Spanned<ConditionSpec>>>>,
    pub not: Option<Box<Spanned<ConditionSpec>>>,
    pub condition: Option<Spanned<String>>,
    pub field: Option<Spanned<String>>,
    pub op: Option<Spanned<String>>,
    pub value: Option<Spanned<Literal>>,
    pub min_level: Option<Spanned<String>>,
    pub keywords: Option<Spanned<KeywordSpec>>,
}

/// `keywords:` in a condition: words of the message.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeywordSpec {
    pub any: Option<Spanned<TextList>>,
    pub all: Option<Spanned<TextList>>,
    pub case_sensitive: Option<bool>,
}

/// A value in a condition or a list, with its YAML type kept so that a
/// comparison can check it (`>` needs a number).
#[derive(Clone, Debug)]
pub(crate) enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    List(Vec<Spanned<Literal>>),
}

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LiteralVisitor)
    }
}

struct LiteralVisitor;

impl<'de> Visitor<'de> for LiteralVisitor {
    type Value = Literal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, a boolean or a list of them")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Literal, E> {
        Ok(Literal::Text(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Literal, E> {
        Ok(Literal::Text(text))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Literal, E> {
        Ok(Literal::Bool(value))
    }

    // Precision beyond 2^53 does not matter for log field comparisons.
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Literal, E> {
        Ok(Literal::Number(value as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Literal, E> {
        Ok(Literal::Number(value as f64))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Literal, E> {
        Ok(Literal::Number(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Literal, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element::<Spanned<Literal>>()? {
            items.push(item);
        }
        Ok(Literal::List(items))
    }
}

/// `spike:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpikeSpec {
    pub window: Option<Spanned<String>>,
    pub factor: Option<Spanned<f64>>,
    pub min_count: Option<Spanned<u64>>,
}

/// `absence:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AbsenceSpec {
    pub period: Option<Spanned<String>>,
    pub expect: Option<Vec<Spanned<GroupValues>>>,
}

/// One group by its `group_by` values (`{ host: web-01 }`).
pub(crate) type GroupValues = BTreeMap<String, Spanned<TextList>>;

/// `sequence:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SequenceSpec {
    pub first: Option<Spanned<ConditionSpec>>,
    pub then: Option<Spanned<ConditionSpec>>,
    pub within: Option<Spanned<String>>,
}

/// `together:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TogetherSpec {
    pub of: Option<Spanned<Vec<Spanned<ConditionSpec>>>>,
    pub count: Option<Spanned<u64>>,
    pub within: Option<Spanned<String>>,
}

/// `new_value:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewValueSpec {
    pub field: Option<Spanned<String>>,
    pub learn: Option<Spanned<String>>,
}

/// `cardinality:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardinalitySpec {
    pub field: Option<Spanned<String>>,
    pub count: Option<Spanned<u64>>,
    pub window: Option<Spanned<String>>,
}

/// `ratio:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RatioSpec {
    pub of: Option<Spanned<ConditionSpec>>,
    pub above: Option<Spanned<f64>>,
    pub window: Option<Spanned<String>>,
    pub min_count: Option<Spanned<u64>>,
}

/// `filter:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterSpec {
    pub min_level: Option<Spanned<String>>,
    pub service: Option<Spanned<TextList>>,
    pub host: Option<Spanned<TextList>>,
    pub source: Option<Spanned<TextList>>,
    pub fields: Option<BTreeMap<String, Spanned<TextList>>>,
}

/// `match:` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchSpec {
    pub any: Option<Spanned<TextList>>,
    pub all: Option<Spanned<TextList>>,
    pub none: Option<Spanned<TextList>>,
    pub regex: Option<Spanned<TextList>>,
    pub case_sensitive: Option<bool>,
}

/// `threshold:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThresholdSpec {
    pub count: Option<Spanned<u64>>,
    pub window: Option<Spanned<String>>,
}

/// A value that may be written as one string or as a list of strings
/// (`host: web-01` or `host: [web-01, db-01]`).
#[derive(Clone, Debug)]
pub(crate) enum TextList {
    /// A single string scalar.
    One(String),
    /// A single scalar that YAML reads as a number or a boolean
    /// (`status: 500`). Its text is taken from the source, so that `007`
    /// or `5.10` stay as written.
    Typed,
    /// A list.
    Many(Vec<Spanned<String>>),
}

/// Each string of a one-or-many value with its place; a single value is at
/// the place of the whole value. `source` is the file text, for typed
/// scalars.
pub(crate) fn text_items(list: &Spanned<TextList>, source: &str) -> Vec<(String, Place)> {
    match &list.value {
        TextList::One(text) => vec![(text.clone(), place(list))],
        TextList::Typed => vec![(scalar_source(list.defined, source), place(list))],
        TextList::Many(items) => items
            .iter()
            .map(|item| (item.value.clone(), place(item)))
            .collect(),
    }
}

/// The text of a plain scalar as it stands in the source.
pub(crate) fn scalar_source(location: Location, source: &str) -> String {
    let span = location.span();
    let text = span
        .byte_offset()
        .zip(span.byte_len())
        .and_then(|(start, len)| {
            let start = usize::try_from(start).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            source.get(start..end)
        });
    text.unwrap_or_default().trim().to_owned()
}

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextListVisitor)
    }
}

struct TextListVisitor;

impl<'de> Visitor<'de> for TextListVisitor {
    type Value = TextList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<TextList, E> {
        Ok(TextList::One(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<TextList, E> {
        Ok(TextList::One(text))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TextList, E> {
        Ok(TextList::Typed)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TextList, E> {
        Ok(TextList::Typed)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TextList, E> {
        Ok(TextList::Typed)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TextList, E> {
        Ok(TextList::Typed)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<TextList, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element::<Spanned<String>>()? {
            items.push(item);
        }
        Ok(TextList::Many(items))
    }
}

/// What a rule file holds, told from its top-level keys.
#[derive(Debug)]
pub(crate) enum FileKind {
    /// Sigma rules and correlations: a document has `detection:` or
    /// `correlation:` at its top level.
    Sigma,
    /// firewatch rules, in one of the shapes of [`RuleFileShape`].
    Rules(RuleFileShape),
    /// No readable YAML, and not Sigma: the YAML error.
    Unreadable(SyntaxError),
}

/// The two shapes of a firewatch rule file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleFileShape {
    /// One rule: its keys at the top.
    OneRule,
    /// `rules:` and a list, with `conditions:` and `lists:` beside it.
    RuleList,
    /// No document at all.
    Empty,
}

impl FileKind {
    /// Looks at `source`'s top-level keys, in one pass over the YAML. Text
    /// that is not valid YAML is Sigma when a line starts with `detection:`
    /// or `correlation:`, so that its syntax error is reported as Sigma's
    /// rather than against the firewatch format.
    pub(crate) fn of(source: &str) -> FileKind {
        #[derive(Deserialize)]
        struct TopKeys {
            detection: Option<IgnoredAny>,
            correlation: Option<IgnoredAny>,
            rules: Option<IgnoredAny>,
            conditions: Option<IgnoredAny>,
            lists: Option<IgnoredAny>,
        }
        let documents =
            match serde_saphyr::from_multiple_with_options::<TopKeys>(source, yaml_options()) {
                Ok(documents) => documents,
                Err(_)
                    if source.lines().any(|line| {
                        line.starts_with("detection:") || line.starts_with("correlation:")
                    }) =>
                {
                    return FileKind::Sigma;
                }
                Err(error) => return FileKind::Unreadable(error.into()),
            };
        if documents
            .iter()
            .any(|top| top.detection.is_some() || top.correlation.is_some())
        {
            return FileKind::Sigma;
        }
        FileKind::Rules(match documents.as_slice() {
            [] => RuleFileShape::Empty,
            [top] if top.rules.is_none() && top.conditions.is_none() && top.lists.is_none() => {
                RuleFileShape::OneRule
            }
            // Several documents are refused by the parse.
            _ => RuleFileShape::RuleList,
        })
    }
}

/// A file of several rules, with the named conditions and lists it shares
/// with every rule file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    #[serde(default)]
    /// Boxed: a rule's spec is large, and a list of thousands grows and moves.
    pub rules: Vec<Box<Spanned<RuleSpec>>>,
    #[serde(default)]
    pub conditions: BTreeMap<String, Spanned<ConditionSpec>>,
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<Literal>>,
}

/// Reads a firewatch rule file of the given shape (see [`FileKind::of`]).
pub(crate) fn parse_rule_file(text: &str, shape: RuleFileShape) -> Result<RuleFile, SyntaxError> {
    match shape {
        RuleFileShape::Empty => Err(SyntaxError {
            place: Place::START,
            message: "the file holds no rule: expected a rule (a mapping with id) \
                      or a list under rules:"
                .into(),
        }),
        RuleFileShape::OneRule => Ok(RuleFile {
            rules: vec![Box::new(serde_saphyr::from_str_with_options(
                text,
                yaml_options(),
            )?)],
            ..RuleFile::default()
        }),
        RuleFileShape::RuleList => Ok(serde_saphyr::from_str_with_options::<RuleFile>(
            text,
            yaml_options(),
        )?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` as the firewatch rule file it must be.
    fn parse_rule_file(text: &str) -> Result<RuleFile, SyntaxError> {
        match FileKind::of(text) {
            FileKind::Rules(shape) => super::parse_rule_file(text, shape),
            FileKind::Unreadable(error) => Err(error),
            FileKind::Sigma => panic!("{text:?} was taken for Sigma"),
        }
    }

    #[test]
    fn both_file_shapes_parse_with_places() {
        let one = parse_rule_file("id: a\ntitle: A\n").unwrap().rules;
        assert_eq!(one.len(), 1);
        let id = one[0].value.id.as_ref().unwrap();
        assert_eq!(
            (id.value.as_str(), place(id)),
            ("a", Place { line: 1, column: 5 })
        );

        let list = parse_rule_file("rules:\n  - id: a\n  - id: b\n    severity: low\n")
            .unwrap()
            .rules;
        assert_eq!(list.len(), 2);
        assert_eq!(place(&list[1]), Place { line: 3, column: 5 });
        let severity = list[1].value.severity.as_ref().unwrap();
        assert_eq!(
            place(severity),
            Place {
                line: 4,
                column: 15
            }
        );
    }

    #[test]
    fn text_lists_keep_typed_scalars_as_written() {
        let source =
            "id: a\nfilter:\n  fields:\n    status: 007\n    code: [5.10, x]\n    text: '5??'\n";
        let rules = parse_rule_file(source).unwrap().rules;
        let filter = &rules[0].value.filter.as_ref().unwrap().value;
        let fields = filter.fields.as_ref().unwrap();
        let texts = |name: &str| -> Vec<String> {
            text_items(&fields[name], source)
                .into_iter()
                .map(|(text, _)| text)
                .collect()
        };
        assert_eq!(texts("status"), ["007"]);
        assert_eq!(texts("code"), ["5.10", "x"]);
        assert_eq!(texts("text"), ["5??"]);
    }

    #[test]
    fn alias_bombs_are_refused_early() {
        let mut yaml = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (previous, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
            let aliases = vec![format!("*{previous}"); 9].join(", ");
            yaml.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        yaml.push_str("id: x\n");
        let error = parse_rule_file(&yaml).unwrap_err();
        assert!(
            error.message.contains("too large or too complex"),
            "{}",
            error.message
        );
    }

    #[test]
    fn empty_files_and_unknown_keys_are_errors() {
        let empty = parse_rule_file("# nothing here\n").unwrap_err();
        assert_eq!(empty.place, Place::START);
        let unknown = parse_rule_file("id: a\ntitel: A\n").unwrap_err();
        assert_eq!(unknown.place, Place { line: 2, column: 1 });
        assert!(
            unknown.message.contains("unknown field `titel`"),
            "{}",
            unknown.message
        );
    }
}
