//! `filter:`: conditions on an event's level and fields, checked before a
//! rule's message match counts.

use firewatch_event::{Event, Level};
use globset::GlobSet;

/// Compiled `filter:` of one rule. Every condition given must hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// Level at least this. `Unknown` sorts below every level, so an event
    /// of unknown level never passes.
    pub min_level: Option<Level>,
    pub service: Option<TextMatcher>,
    pub host: Option<TextMatcher>,
    pub source: Option<TextMatcher>,
    /// Field path (as `Event::field_text` reads it) and what it must match.
    pub fields: Vec<(String, TextMatcher)>,
}

impl Filter {
    /// True when the event passes every condition.
    pub fn matches(&self, event: &Event) -> bool {
        if let Some(min_level) = self.min_level
            && (event.level == Level::Unknown || event.level < min_level)
        {
            return false;
        }
        let text_holds = |matcher: &Option<TextMatcher>, value: Option<&str>| match matcher {
            None => true,
            Some(matcher) => value.is_some_and(|value| matcher.matches(value)),
        };
        text_holds(&self.service, event.service.as_deref())
            && text_holds(&self.host, event.host.as_deref())
            && text_holds(&self.source, Some(&event.source))
            && self.fields.iter().all(|(path, matcher)| {
                event
                    .field_text(path)
                    .is_some_and(|value| matcher.matches(&value))
            })
    }
}

/// Some texts to compare with: exact ones (written without wildcards) and
/// globs. A value matches when it equals one of the texts or one glob
/// matches it; both are case-sensitive.
#[derive(Clone, Debug)]
pub(crate) struct TextMatcher {
    pub exact: Vec<String>,
    pub globs: Option<GlobSet>,
}

impl TextMatcher {
    /// True when `value` equals an exact text or matches a glob.
    pub fn matches(&self, value: &str) -> bool {
        self.exact.iter().any(|text| text == value)
            || self
                .globs
                .as_ref()
                .is_some_and(|globs| globs.is_match(value))
    }
}

/// True when `text` holds a glob wildcard, so that it cannot be compared by
/// equality.
pub(crate) fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}
