//! Incident titles and descriptions: `"SSH brute force on {host} from
//! {fields.rhost}"`.
//!
//! A placeholder names one of the rule's `group_by` fields, `rule`, or
//! `count` (the incident's match count when the text is rendered). It
//! is resolved once, when the rule compiles, so that rendering a title is a
//! walk over prepared pieces. A name that is neither renders as `-`, as does
//! a group value the event did not carry. `{{` and `}}` stand for literal
//! braces; a `{` without a closing `}` is literal text.

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
    Unknown,
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
                        Piece::Unknown
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
        let mut title = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => title.push_str(text),
                Piece::Group(index) => {
                    title.push_str(values.get(*index).map_or(MISSING, String::as_str));
                }
                Piece::Rule => title.push_str(rule),
                Piece::Count => title.push_str(&count.to_string()),
                Piece::Unknown => title.push_str(MISSING),
            }
        }
        title
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
}
