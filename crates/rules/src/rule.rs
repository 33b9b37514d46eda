//! One compiled detection rule.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use firewatch_event::{Event, Severity};
use jiff::SignedDuration;

use crate::condition::Condition;
use crate::filter::Filter;
use crate::lifecycle::{Escalation, Flap, Lifecycle};
use crate::prefilter::MessageMatch;
use crate::template::{MISSING, TitleTemplate};

/// How many matches open an incident, and within how much event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// At least this many matches (1 or more).
    pub count: u64,
    /// Within this much event time: the first and the last of the counted
    /// matches are at most this far apart.
    pub window: SignedDuration,
}

/// What turns a rule's matches into an incident (`type:`).
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Every match.
    Any,
    /// At least `count` matches within `window`.
    Threshold(Threshold),
    /// The count in the latest `window` is at least `factor` times the
    /// count in the window before it, and at least `min_count`.
    Spike {
        window: SignedDuration,
        factor: f64,
        min_count: u64,
    },
    /// No match for `period` in a group seen before or listed in `expect`
    /// (group values in `group_by` order).
    Absence {
        period: SignedDuration,
        expect: Vec<Vec<String>>,
    },
    /// A match of `first`, then one of `then` at most `within` later.
    Sequence {
        first: Condition,
        then: Condition,
        within: SignedDuration,
        /// A hash of what the steps match, part of the rule's definition.
        steps: u64,
    },
    /// Events matching at least `count` of the conditions `of` (each
    /// condition by one event or more, in any order) within `within`.
    Together {
        of: Box<[Condition]>,
        count: usize,
        within: SignedDuration,
        /// A hash of what the steps match, part of the rule's definition.
        steps: u64,
    },
    /// A value of `field` not seen in the group before; values seen during
    /// `learn` from the group's first match are known without firing.
    NewValue {
        field: String,
        learn: SignedDuration,
    },
    /// At least `count` distinct values of `field` within `window`.
    Cardinality {
        field: String,
        count: u64,
        window: SignedDuration,
    },
    /// Matches over `population` events within `window` above `above`,
    /// once the population counts at least `min_count`.
    Ratio {
        population: Condition,
        above: f64,
        window: SignedDuration,
        min_count: u64,
    },
}

impl Kind {
    /// The name written as `type:`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Any => "any",
            Kind::Threshold(_) => "threshold",
            Kind::Spike { .. } => "spike",
            Kind::Absence { .. } => "absence",
            Kind::Sequence { .. } => "sequence",
            Kind::Together { .. } => "together",
            Kind::NewValue { .. } => "new_value",
            Kind::Cardinality { .. } => "cardinality",
            Kind::Ratio { .. } => "ratio",
        }
    }
}

/// The quiet period after which an open incident resolves, when a rule
/// does not say (`resolve_after`).
pub const DEFAULT_RESOLVE_AFTER: SignedDuration = SignedDuration::from_mins(5);

/// A compiled rule: read-only.
#[derive(Clone, Debug)]
pub struct Rule {
    pub(crate) id: Arc<str>,
    pub(crate) title: String,
    pub(crate) title_template: TitleTemplate,
    pub(crate) description: Option<String>,
    pub(crate) description_template: Option<TitleTemplate>,
    /// `key:` as written, and compiled; `None` for the default key.
    pub(crate) key: Option<(String, TitleTemplate)>,
    pub(crate) severity: Severity,
    pub(crate) filter: Option<Filter>,
    pub(crate) message: Option<MessageMatch>,
    pub(crate) threshold: Option<Threshold>,
    pub(crate) when: Option<Condition>,
    pub(crate) kind: Kind,
    pub(crate) group_by: Vec<String>,
    pub(crate) resolve_after: SignedDuration,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) path: PathBuf,
    pub(crate) line: usize,
}

impl Rule {
    /// The rule's id, unique in its rule set.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The title as written, with its `{placeholders}`.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The description, if the rule has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Severity of the incidents the rule opens.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// Matches needed to open an incident; `None` when every match counts.
    pub fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }

    /// The rule's type, as written in `type:`: `any`, `threshold`, `spike`,
    /// `absence`, `sequence`, `together`, `new_value`, `cardinality` or `ratio`.
    pub fn rule_type(&self) -> &'static str {
        self.kind.name()
    }

    /// Fields whose values split matches into separate incidents.
    pub fn group_by(&self) -> &[String] {
        &self.group_by
    }

    /// Quiet period (event time) after which an open incident resolves.
    pub fn resolve_after(&self) -> SignedDuration {
        self.resolve_after
    }

    /// How long the condition must hold before an incident fires (`for`).
    pub fn pending_for(&self) -> Option<SignedDuration> {
        self.lifecycle.pending_for
    }

    /// When a refire reopens the resolved incident and marks it flapping.
    pub fn flap(&self) -> Option<Flap> {
        self.lifecycle.flap
    }

    /// Severities the incident rises to as its matches count up.
    pub fn escalations(&self) -> &[Escalation] {
        &self.lifecycle.escalate
    }

    /// The file the rule was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based line where the rule starts in its file.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The incident key template as written (`key:`); `None` when the
    /// rule keeps the default, the rule id and the group values joined
    /// with `/`.
    pub fn key_template(&self) -> Option<&str> {
        self.key.as_ref().map(|(text, _)| text.as_str())
    }

    /// Appends the incident key of `event` to `key`: the rule's `key:`
    /// rendered, or the rule id then each group value, joined with `/`
    /// (`-` for a value the event lacks).
    pub(crate) fn write_incident_key(&self, event: &Event, key: &mut String) {
        let value = |field: &str, key: &mut String| {
            key.push_str(event.field_text(field).as_deref().unwrap_or(MISSING));
        };
        match &self.key {
            Some((_, template)) => template.write(key, &self.id, 0, |index, key| {
                value(self.group_by.get(index).map_or("", String::as_str), key);
            }),
            None => {
                key.push_str(&self.id);
                for field in &self.group_by {
                    key.push('/');
                    value(field, key);
                }
            }
        }
    }

    /// The incident key of a group given by its values (in `group_by`
    /// order), as [`Rule::write_incident_key`] writes it for an event.
    pub(crate) fn key_of_values(&self, values: &[String]) -> String {
        match &self.key {
            Some((_, template)) => template.render(&self.id, values, 0),
            None => {
                let mut key = self.id.to_string();
                for value in values {
                    key.push('/');
                    key.push_str(value);
                }
                key
            }
        }
    }

    /// The group values of `event`, in `group_by` order.
    pub(crate) fn group_values(&self, event: &Event) -> Vec<String> {
        self.group_by
            .iter()
            .map(|field| {
                event
                    .field_text(field)
                    .map_or_else(|| MISSING.to_owned(), |value| value.into_owned())
            })
            .collect()
    }
}
