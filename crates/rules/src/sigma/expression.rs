//! The `condition:` of a Sigma detection: selections joined by `and`,
//! `or`, `not` and parentheses, and `1 of` / `all of` a name pattern or
//! `them`, into one condition tree.
//!
//! Precedence, loosest first: `or`, `and`, `not`, `x of`, parentheses. A
//! list of conditions is their OR. `them` leaves out selections whose name
//! starts with `_`. Aggregations (`| count() > 5`) and `near` are older
//! Sigma that correlations replace: they are reported, not run.

use serde_saphyr::{Location, Spanned};

use crate::compile::Problems;
use crate::syntax::{ConditionSpec, Place, place};

use super::{Node, join, negate};

/// Selections by name; `None` for one that did not translate.
type Selections = [(String, Option<Spanned<ConditionSpec>>)];

/// The detection's condition tree; `None` when it has a problem
/// (reported).
pub(crate) fn translate(
    condition: &Spanned<Node>,
    selections: &Selections,
    problems: &mut Problems<'_>,
) -> Option<Spanned<ConditionSpec>> {
    match &condition.value {
        Node::Text(text) => one(text, condition, selections, problems),
        Node::List(items) if !items.is_empty() => {
            let mut parts = Vec::new();
            for item in items {
                match &item.value {
                    Node::Text(text) => parts.push(one(text, item, selections, problems)),
                    _ => {
                        problems.at(place(item), "a condition is a string");
                        parts.push(None);
                    }
                }
            }
            let parts: Option<Vec<_>> = parts.into_iter().collect();
            Some(join(false, parts?, condition.referenced))
        }
        _ => {
            problems.at(
                place(condition),
                "condition must be a string (or a list of strings)",
            );
            None
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Pipe,
    Word(String),
}

/// The words and parentheses of `text`, each with its character offset.
fn tokens(text: &str) -> Vec<(Token, usize)> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    for (offset, c) in text.chars().enumerate() {
        let single = match c {
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            '|' => Some(Token::Pipe),
            _ => None,
        };
        if c.is_whitespace() || single.is_some() {
            if !word.is_empty() {
                tokens.push((Token::Word(std::mem::take(&mut word)), start));
            }
            if let Some(single) = single {
                tokens.push((single, offset));
            }
        } else {
            if word.is_empty() {
                start = offset;
            }
            word.push(c);
        }
    }
    if !word.is_empty() {
        tokens.push((Token::Word(word), start));
    }
    tokens
}

struct Parser<'a, 'p> {
    tokens: Vec<(Token, usize)>,
    next: usize,
    selections: &'a Selections,
    /// Where the condition string starts, for token places (when it is on
    /// one line); `None` to place everything at the string.
    start: Option<Place>,
    at: Place,
    location: Location,
    problems: &'a mut Problems<'p>,
    /// Set once a problem was reported, to stop at the first.
    failed: bool,
    /// How many `(` and `not` enclose the token being read.
    depth: usize,
}

/// How deeply `(` and `not` may nest in a condition: the parser recurses
/// once per level, and a hostile rule must not exhaust the stack (during
/// a reload, that would abort the daemon). Real conditions nest a few
/// levels.
const MAX_DEPTH: usize = 64;

fn one(
    text: &str,
    node: &Spanned<Node>,
    selections: &Selections,
    problems: &mut Problems<'_>,
) -> Option<Spanned<ConditionSpec>> {
    let at = place(node);
    // A quoted scalar starts one column before its text.
    let quoted = usize::try_from(node.referenced.span().byte_offset().unwrap_or(0))
        .ok()
        .and_then(|offset| problems.source.get(offset..))
        .is_some_and(|rest| rest.starts_with(['\'', '"']));
    let start = (!text.contains('\n')).then_some(Place {
        line: at.line,
        column: at.column + usize::from(quoted),
    });
    let mut parser = Parser {
        tokens: tokens(text),
        next: 0,
        selections,
        start,
        at,
        location: node.referenced,
        problems,
        failed: false,
        depth: 0,
    };
    if parser.tokens.is_empty() {
        parser.fail_at(None, "condition is empty");
        return None;
    }
    let tree = parser.or();
    if tree.is_some() && parser.next < parser.tokens.len() {
        let (token, offset) = parser.tokens[parser.next].clone();
        parser.fail_on(Some(offset), &token);
        return None;
    }
    tree
}

impl Parser<'_, '_> {
    fn fail_at(&mut self, offset: Option<usize>, message: impl Into<String>) {
        self.report(offset, message.into(), false);
    }

    /// Reports a token where it does not belong: an error, or a part of
    /// Sigma that firewatch does not support (aggregations, `near`).
    fn fail_on(&mut self, offset: Option<usize>, token: &Token) {
        let unsupported = match token {
            Token::Pipe => true,
            Token::Word(word) => word.eq_ignore_ascii_case("near"),
            Token::Open | Token::Close => false,
        };
        self.report(offset, unexpected(token), unsupported);
    }

    fn report(&mut self, offset: Option<usize>, message: String, unsupported: bool) {
        if self.failed {
            return;
        }
        self.failed = true;
        let at = match (self.start, offset) {
            (Some(start), Some(offset)) => Place {
                line: start.line,
                column: start.column + offset,
            },
            _ => self.at,
        };
        if unsupported {
            self.problems.unsupported(at, message);
        } else {
            self.problems.at(at, message);
        }
    }

    /// Enters one more level of `(` or `not`; false (reported) past
    /// [`MAX_DEPTH`].
    fn descend(&mut self, offset: Option<usize>) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.fail_at(
                offset,
                format!("condition nests ( and not more than {MAX_DEPTH} deep"),
            );
            return false;
        }
        true
    }

    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.next) {
            Some((Token::Word(word), _)) => Some(word.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn offset(&self) -> Option<usize> {
        self.tokens.get(self.next).map(|(_, offset)| *offset)
    }

    fn or(&mut self) -> Option<Spanned<ConditionSpec>> {
        let mut parts = vec![self.and()?];
        while self.peek_word().as_deref() == Some("or") {
            self.next += 1;
            parts.push(self.and()?);
        }
        Some(join(false, parts, self.location))
    }

    fn and(&mut self) -> Option<Spanned<ConditionSpec>> {
        let mut parts = vec![self.not()?];
        while self.peek_word().as_deref() == Some("and") {
            self.next += 1;
            parts.push(self.not()?);
        }
        Some(join(true, parts, self.location))
    }

    fn not(&mut self) -> Option<Spanned<ConditionSpec>> {
        if self.peek_word().as_deref() == Some("not") {
            if !self.descend(self.offset()) {
                return None;
            }
            self.next += 1;
            let inner = self.not()?;
            self.depth -= 1;
            return Some(negate(inner, self.location));
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<Spanned<ConditionSpec>> {
        let offset = self.offset();
        let Some((token, _)) = self.tokens.get(self.next).cloned() else {
            self.fail_at(None, "condition ends too early");
            return None;
        };
        self.next += 1;
        match token {
            Token::Open => {
                if !self.descend(offset) {
                    return None;
                }
                let inner = self.or()?;
                match self.tokens.get(self.next) {
                    Some((Token::Close, _)) => {
                        self.next += 1;
                        self.depth -= 1;
                        Some(inner)
                    }
                    _ => {
                        self.fail_at(offset, "unbalanced ( in condition");
                        None
                    }
                }
            }
            Token::Close | Token::Pipe => {
                self.fail_on(offset, &token);
                None
            }
            Token::Word(word) => {
                let lower = word.to_ascii_lowercase();
                if self.peek_word().as_deref() == Some("of") {
                    self.next += 1;
                    return self.of(&lower, offset);
                }
                match lower.as_str() {
                    "and" | "or" | "not" | "of" | "them" => {
                        self.fail_at(offset, format!("unexpected `{word}` in condition"));
                        None
                    }
                    "near" => {
                        self.fail_on(offset, &Token::Word(word));
                        None
                    }
                    _ => self.selection(&word, offset),
                }
            }
        }
    }

    /// `1 of PATTERN`, `all of PATTERN`, with `them` for every selection.
    fn of(
        &mut self,
        quantity: &str,
        quantity_offset: Option<usize>,
    ) -> Option<Spanned<ConditionSpec>> {
        let all = match quantity {
            "1" | "any" => false,
            "all" => true,
            other => {
                self.report(
                    quantity_offset,
                    format!("`{other} of` is not supported: use 1 of or all of"),
                    true,
                );
                return None;
            }
        };
        let offset = self.offset();
        let Some(pattern) = self.peek_word() else {
            self.fail_at(None, "of needs a name pattern or them");
            return None;
        };
        let Some((Token::Word(pattern_text), _)) = self.tokens.get(self.next).cloned() else {
            return None;
        };
        self.next += 1;
        let chosen: Vec<&(String, Option<Spanned<ConditionSpec>>)> = self
            .selections
            .iter()
            .filter(|(name, _)| {
                if pattern == "them" {
                    !name.starts_with('_')
                } else {
                    glob_matches(&pattern_text, name)
                }
            })
            .collect();
        if chosen.is_empty() {
            self.fail_at(offset, format!("no selection matches `{pattern_text}`"));
            return None;
        }
        let mut parts = Vec::with_capacity(chosen.len());
        for (_, selection) in chosen {
            parts.push(selection.clone()?);
        }
        Some(join(all, parts, self.location))
    }

    fn selection(&mut self, name: &str, offset: Option<usize>) -> Option<Spanned<ConditionSpec>> {
        match self.selections.iter().find(|(known, _)| known == name) {
            Some((_, selection)) => selection.clone(),
            None => {
                self.fail_at(
                    offset,
                    format!("condition names `{name}`, which detection does not define"),
                );
                None
            }
        }
    }
}

/// What is wrong with a token where it stands.
fn unexpected(token: &Token) -> String {
    match token {
        Token::Open => "unexpected ( in condition".to_owned(),
        Token::Close => "unbalanced ) in condition".to_owned(),
        Token::Pipe => {
            "aggregations (| count() ...) are not supported: write a correlation rule".to_owned()
        }
        Token::Word(word) if word.eq_ignore_ascii_case("near") => {
            "near is not supported: write a temporal correlation rule".to_owned()
        }
        Token::Word(word) => format!("unexpected `{word}` in condition"),
    }
}

/// True when `name` matches `pattern`, whose `*` stands for any text.
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|index| rest.is_char_boundary(*index))
                .any(|index| glob_matches(tail, &rest[index..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_words_parentheses_and_pipes() {
        let found: Vec<(Token, usize)> = tokens("a and(not b)|x");
        let words: Vec<usize> = found.iter().map(|(_, offset)| *offset).collect();
        assert_eq!(words, [0, 2, 5, 6, 10, 11, 12, 13]);
        assert_eq!(found[2].0, Token::Open);
        assert_eq!(found[6].0, Token::Pipe);
    }

    #[test]
    fn name_patterns_match_with_stars() {
        assert!(glob_matches("sel*", "selection"));
        assert!(glob_matches("*tion", "selection"));
        assert!(glob_matches("s*l*n", "selection"));
        assert!(!glob_matches("filter*", "selection"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
    }
}
