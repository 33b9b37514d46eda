//! Incident titles, descriptions and keys: `"SSH brute force on {host}
//! from {fields.rhost}"`.
//!
//! A placeholder names one of the rule's `group_by` fields, `rule`, or
//! `count` (the incident's match count when the text is rendered). It
//! is resolved once, when the rule compiles, so that rendering a title is a
//! walk over prepared pieces. A name that is neither renders as `-`, as does
//! a group value the event did not carry. `{{` and `}}` stand for literal
//! braces; a `{` without a closing `}` is literal text.
//!
//! A key template is stricter ([`TitleTemplate::key_problems`]): the key
//! names the group, so it must hold every group value, told apart, and
//! nothing that changes while the group lives.

/// A compiled title.
#[derive(Clone, Debug)]
pub(crate) struct TitleTemplate {
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// The value of the `group_by` field at this index.
    Group(usize),
    Rule,
    Count,
    /// A name that is neither; kept for the key's diagnostics.
    Unknown(String),
}

/// What a missing value renders as, in titles and incident keys.
pub(crate) const MISSING: &str = "-";

impl TitleTemplate {
    /// Compiles `text` for a rule grouped by `group_by`.
    pub fn new(text: &str, group_by: &[String]) -> Self {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(brace) = rest.find(['{', '}']) {
            literal.push_str(&rest[..brace]);
            let after = &rest[brace + 1..];
            let opening = rest.as_bytes()[brace] == b'{';
            if after.starts_with(if opening { '{' } else { '}' }) {
                literal.push(if opening { '{' } else { '}' });
                rest = &after[1..];
                continue;
            }
            match after.find('}').filter(|_| opening) {
                Some(close) => {
                    let name = after[..close].trim();
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(if name == "rule" {
                        Piece::Rule
                    } else if name == "count" {
                        Piece::Count
                    } else if let Some(index) = group_by.iter().position(|field| field == name) {
                        Piece::Group(index)
                    } else {
                        Piece::Unknown(name.to_owned())
                    });
                    rest = &after[close + 1..];
                }
                None => {
                    literal.push(if opening { '{' } else { '}' });
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Self { pieces }
    }

    /// The text for one incident of `count` matches: `values` are the
    /// group values, in `group_by` order.
    pub fn render(&self, rule: &str, values: &[String], count: u64) -> String {
        let mut text = String::new();
        self.write(&mut text, rule, count, |index, out| {
            out.push_str(values.get(index).map_or(MISSING, String::as_str));
        });
        text
    }

    /// Appends the text to `out`; `group` appends the value of the
    /// `group_by` field at an index.
    pub fn write(
        &self,
        out: &mut String,
        rule: &str,
        count: u64,
        mut group: impl FnMut(usize, &mut String),
    ) {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Group(index) => group(*index, out),
                Piece::Rule => out.push_str(rule),
                Piece::Count => out.push_str(&count.to_string()),
                Piece::Unknown(_) => out.push_str(MISSING),
            }
        }
    }

    /// Why this text cannot be an incident key for a rule grouped by
    /// `group_by`: a placeholder that is not `rule` or a `group_by` field,
    /// `{count}` (it changes with every match), two placeholders with no
    /// text between them (their values could not be told apart), or a
    /// `group_by` field left out (groups differing only in it would share
    /// a key, and so their incidents).
    pub fn key_problems(&self, group_by: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut previous: Option<&Piece> = None;
        for piece in &self.pieces {
            match piece {
                Piece::Count => problems.push(
                    "the key cannot use {count}: it changes with every match, and an \
                     incident keeps its key"
                        .to_owned(),
                ),
                Piece::Unknown(name) => problems.push(format!(
                    "the key uses {{{name}}}, which is not a group_by field: a key holds \
                     {{rule}} and the group_by fields"
                )),
                _ => {}
            }
            if !matches!(piece, Piece::Text(_))
                && previous.is_some_and(|before| !matches!(before, Piece::Text(_)))
            {
                problems.push(
                    "two placeholders of the key have no text between them, so their values \
                     could run together; separate them (e.g. with /)"
                        .to_owned(),
                );
            }
            previous = Some(piece);
        }
        for (index, field) in group_by.iter().enumerate() {
            if !self.pieces.contains(&Piece::Group(index)) {
                problems.push(format!(
                    "the key leaves out the group_by field {field}: groups that differ only \
                     in {field} would share one key and merge their incidents; add {{{field}}}"
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, group_by: &[&str], values: &[&str]) -> String {
        let group_by: Vec<String> = group_by.iter().map(|name| name.to_string()).collect();
        let values: Vec<String> = values.iter().map(|value| value.to_string()).collect();
        TitleTemplate::new(text, &group_by).render("ssh", &values, 7)
    }

    #[test]
    fn placeholders_fill_from_group_values_and_rule() {
        assert_eq!(
            render(
                "SSH brute force on {host} from {fields.rhost}",
                &["host", "fields.rhost"],
                &["LabSZ", "173.234.31.186"]
            ),
            "SSH brute force on LabSZ from 173.234.31.186"
        );
        assert_eq!(
            render("{rule}: {service} down", &["host"], &["a"]),
            "ssh: - down"
        );
        assert_eq!(render("no placeholders", &[], &[]), "no placeholders");
        assert_eq!(render("{count} matches", &[], &[]), "7 matches");
    }

    #[test]
    fn braces_escape_and_unclosed_braces_stay_literal() {
        assert_eq!(
            render("{{host}} is {host}", &["host"], &["a"]),
            "{host} is a"
        );
        assert_eq!(render("open { brace", &["host"], &["a"]), "open { brace");
        assert_eq!(
            render("close } brace {host", &["host"], &["a"]),
            "close } brace {host"
        );
    }

    fn key_problems(text: &str, group_by: &[&str]) -> Vec<String> {
        let group_by: Vec<String> = group_by.iter().map(|name| name.to_string()).collect();
        TitleTemplate::new(text, &group_by).key_problems(&group_by)
    }

    #[test]
    fn a_key_holds_every_group_field_apart_and_nothing_that_changes() {
        assert!(key_problems("{rule}/{host}/{service}", &["host", "service"]).is_empty());
        assert!(key_problems("disk-{host}", &["host"]).is_empty());
        assert!(key_problems("one", &[]).is_empty());
        let [missing] = &key_problems("{rule}/{host}", &["host", "service"])[..] else {
            panic!("one problem expected");
        };
        assert!(
            missing.contains("leaves out the group_by field service"),
            "{missing}"
        );
        let [count] = &key_problems("{host}-{count}", &["host"])[..] else {
            panic!("one problem expected");
        };
        assert!(count.contains("{count}"), "{count}");
        let [unknown] = &key_problems("{host}/{region}", &["host"])[..] else {
            panic!("one problem expected");
        };
        assert!(unknown.contains("{region}"), "{unknown}");
        let [adjacent] = &key_problems("{host}{service}", &["host", "service"])[..] else {
            panic!("one problem expected");
        };
        assert!(adjacent.contains("no text between"), "{adjacent}");
    }
}
