//! Templates and their text (their ids are `firewatch_event::TemplateId`).

use firewatch_event::TemplateId;
use serde::{Deserialize, Serialize};

/// What a template shows where its messages differ.
pub const WILDCARD: &str = "<*>";

/// One token of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TemplateToken {
    /// `None` for a wildcard.
    pub(crate) literal: Option<Box<str>>,
    /// No space before this token in the text.
    pub(crate) glued: bool,
}

/// Writes the text of `tokens` into `text`: tokens separated by one space
/// unless glued, wildcards as [`WILDCARD`].
pub(crate) fn render(tokens: &[TemplateToken], text: &mut String) {
    text.clear();
    for (index, token) in tokens.iter().enumerate() {
        if index > 0 && !token.glued {
            text.push(' ');
        }
        text.push_str(token.literal.as_deref().unwrap_or(WILDCARD));
    }
}

/// A template as [`TemplateMiner::templates`](crate::TemplateMiner::templates)
/// lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template<'a> {
    /// Its stable id.
    pub id: TemplateId,
    /// Its current text, `<*>` where its messages differ.
    pub text: &'a str,
    /// How many messages it has grouped since it was created.
    pub count: u64,
}

/// What [`TemplateMiner::add`](crate::TemplateMiner::add) did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateMatch<'a> {
    /// The id of the message's template.
    pub id: TemplateId,
    /// The template's text after this message (it may just have
    /// generalised).
    pub template: &'a str,
    /// The message started a new template.
    pub is_new: bool,
}
