//! Routing events to the rules that no keyword triggers.
//!
//! The prefilter finds keyword rules through one automaton pass. A rule
//! without keywords (only `filter:` or `when:` conditions) would otherwise
//! be evaluated on every event, so thousands of them would make each event
//! cost O(rules). Most such rules pin down something cheap to look up, and
//! are indexed by it:
//!
//! - an exact `service`, `host` or `source` (from `filter:` written without
//!   wildcards, or a top-level `==` / `in` on those fields in `when:`, also
//!   inside a top-level `all:` or a named condition): a hash lookup of the
//!   event's value finds the rule;
//! - else a minimum level (`filter: { min_level }` or `min_level:` in
//!   `when:`): the rule is listed under every level at or above it.
//!
//! Only what *must* hold for the rule to match is used, so routing never
//! loses a match; the rule's full conditions are still evaluated after.
//! Rules with none of these stay on the always-evaluated list. For a
//! `ratio` rule, the population decides (`filter:` and `ratio.of`), as the
//! rule must count events that its `when:` does not match.

use std::collections::HashMap;

use firewatch_event::{Event, Level};

use crate::condition::{Condition, FieldTest};
use crate::filter::{Filter, TextMatcher};
use crate::rule::{Kind, Rule};

/// The event fields rules can be routed by.
const ROUTED_FIELDS: [&str; 3] = ["service", "host", "source"];

/// What a rule can be found by.
enum Route {
    /// The field (index into [`ROUTED_FIELDS`]) equals one of these.
    Field(usize, Vec<String>),
    /// The level is at least this.
    MinLevel(Level),
}

/// Rules without keyword triggers, by what an event must have for them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Routes {
    /// Per routed field: value -> rules, in rule order.
    by_value: [HashMap<Box<str>, Vec<u32>>; 3],
    /// Per level (index in `Level::ALL`): rules whose minimum it meets.
    by_level: Vec<Vec<u32>>,
}

impl Routes {
    /// Adds rule `index` when it can be routed; false when it cannot.
    pub fn add(&mut self, index: u32, rule: &Rule) -> bool {
        match route_of(rule) {
            Some(Route::Field(field, values)) => {
                for value in values {
                    let rules = self.by_value[field].entry(value.into()).or_default();
                    if rules.last() != Some(&index) {
                        rules.push(index);
                    }
                }
                true
            }
            Some(Route::MinLevel(min_level)) => {
                if self.by_level.is_empty() {
                    self.by_level = vec![Vec::new(); Level::ALL.len()];
                }
                for (level, rules) in Level::ALL.iter().zip(&mut self.by_level) {
                    if *level >= min_level {
                        rules.push(index);
                    }
                }
                true
            }
            None => false,
        }
    }

    /// Appends the rules routed to `event` to `candidates` (unsorted).
    pub fn candidates(&self, event: &Event, candidates: &mut Vec<u32>) {
        let values = [
            event.service.as_deref(),
            event.host.as_deref(),
            Some(&*event.source),
        ];
        for (index, value) in values.into_iter().enumerate() {
            if let Some(value) = value
                && let Some(rules) = self.by_value[index].get(value)
            {
                candidates.extend_from_slice(rules);
            }
        }
        if event.level != Level::Unknown
            && let Some(rules) = Level::ALL
                .iter()
                .position(|level| *level == event.level)
                .and_then(|position| self.by_level.get(position))
        {
            candidates.extend_from_slice(rules);
        }
    }
}

fn route_of(rule: &Rule) -> Option<Route> {
    let conditions: Vec<&Condition> = match &rule.kind {
        Kind::Ratio { population, .. } => vec![population],
        _ => rule.when.iter().collect(),
    };
    let filter = rule.filter.as_ref();
    filter
        .and_then(filter_field_route)
        .or_else(|| {
            conditions
                .iter()
                .find_map(|condition| field_route(condition))
        })
        .or_else(|| {
            filter
                .and_then(|filter| filter.min_level)
                .or_else(|| {
                    conditions
                        .iter()
                        .find_map(|condition| level_route(condition))
                })
                .map(Route::MinLevel)
        })
}

fn filter_field_route(filter: &Filter) -> Option<Route> {
    let exact = |matcher: &Option<TextMatcher>| {
        matcher
            .as_ref()
            .filter(|matcher| matcher.globs.is_none() && !matcher.exact.is_empty())
            .map(|matcher| matcher.exact.clone())
    };
    [&filter.service, &filter.host, &filter.source]
        .into_iter()
        .enumerate()
        .find_map(|(field, matcher)| exact(matcher).map(|values| Route::Field(field, values)))
}

/// A field equality that must hold for `condition` to hold.
fn field_route(condition: &Condition) -> Option<Route> {
    match condition {
        Condition::All(parts) => parts.iter().find_map(field_route),
        Condition::Named(shared) => field_route(shared),
        Condition::Field {
            path,
            test: FieldTest::OneOf(values),
        } if values.numbers.is_empty() => {
            let field = ROUTED_FIELDS.iter().position(|name| **name == **path)?;
            Some(Route::Field(
                field,
                values.texts.iter().map(|text| text.to_string()).collect(),
            ))
        }
        _ => None,
    }
}

/// A minimum level that must hold for `condition` to hold.
fn level_route(condition: &Condition) -> Option<Level> {
    match condition {
        Condition::All(parts) => parts.iter().find_map(level_route),
        Condition::Named(shared) => level_route(shared),
        Condition::MinLevel(level) => Some(*level),
        _ => None,
    }
}
