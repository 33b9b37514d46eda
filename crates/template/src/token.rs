//! Splitting a message into tokens and masking the ones that are variables.
//!
//! Words are separated by ASCII whitespace. Inside a word, punctuation that frames
//! or labels a value is split off so that the value can vary while its frame
//! stays in the template: leading brackets and quotes (`[`, `(`, `{`, `"`,
//! `'`, `<`), trailing brackets, quotes and `,;:.`, and the `key=` of a
//! `key=value` pair. What remains of the word stays whole: `10.0.0.1:8080`,
//! `yarn,curi` and `/var/lib/x` are one token each, so that lists and
//! addresses of different lengths still have the same number of tokens.
//!
//! Masking happens before the tree search, so that a variable never picks a
//! branch: a token that contains an ASCII digit is a variable. That one rule
//! covers numbers, hex ids, addresses with ports, UUIDs, durations and sizes
//! (`12ms`, `4KB`), block and attempt ids (`blk_-123`, `attempt_14_m_0`) and
//! paths with numbers in them; words without digits are almost always part
//! of the template.
//!
//! Tokens are byte ranges into the message (all split points are ASCII, so
//! every range is on a character boundary): tokenising allocates nothing
//! once the caller's buffer has grown to the longest message.

/// One token of a message: a byte range of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// No whitespace between this token and the one before it.
    pub(crate) glued: bool,
    /// A variable: shown and compared as `<*>`.
    pub(crate) masked: bool,
}

impl Token {
    pub(crate) fn text<'m>(&self, message: &'m str) -> &'m str {
        &message[self.start..self.end]
    }
}

fn is_opening(byte: u8) -> bool {
    matches!(byte, b'[' | b'(' | b'{' | b'"' | b'\'' | b'<')
}

fn is_closing(byte: u8) -> bool {
    matches!(
        byte,
        b']' | b')' | b'}' | b'"' | b'\'' | b'>' | b',' | b';' | b':' | b'.'
    )
}

/// Replaces `tokens` with the tokens of `message`.
pub(crate) fn tokenize(message: &str, tokens: &mut Vec<Token>) {
    tokens.clear();
    let bytes = message.as_bytes();
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position].is_ascii_whitespace() {
            position += 1;
            continue;
        }
        let start = position;
        while position < bytes.len() && !bytes[position].is_ascii_whitespace() {
            position += 1;
        }
        split_word(bytes, start, position, tokens);
    }
}

/// Splits the word `bytes[start..end]` into its frame and its core.
fn split_word(bytes: &[u8], mut start: usize, mut end: usize, tokens: &mut Vec<Token>) {
    let mut glued = false;
    while end - start > 1 && is_opening(bytes[start]) {
        tokens.push(literal(start, start + 1, glued));
        start += 1;
        glued = true;
    }
    // `()`, `[]`, `""`: an empty value is still a value, so that `()` and
    // `(host)` have the same tokens and can share a template.
    if glued && end - start == 1 && is_closing(bytes[start]) {
        tokens.push(literal(start, start, true));
        tokens.push(literal(start, end, true));
        return;
    }
    // The closing punctuation is pushed after the core, so remember where it
    // starts; the core keeps at least one byte.
    let word_end = end;
    while end - start > 1 && is_closing(bytes[end - 1]) {
        end -= 1;
    }
    let core = &bytes[start..end];
    match core.iter().position(|&byte| byte == b'=') {
        // `key=value`: the key with its `=` is the frame, the value varies
        // (and may be empty: `user=` and `user=root` have the same tokens).
        // Only a name is a key: the `=` of `/orders?id=5` or `a==b` is part
        // of one value.
        Some(equals) if is_key(&core[..equals]) && core.get(equals + 1) != Some(&b'=') => {
            let value_start = start + equals + 1;
            tokens.push(classified(bytes, start, value_start, glued));
            tokens.push(classified(bytes, value_start, end, true));
        }
        _ => tokens.push(classified(bytes, start, end, glued)),
    }
    for position in end..word_end {
        tokens.push(literal(position, position + 1, true));
    }
}

/// A name that can be the key of `key=value`: `user`, `n.leader`,
/// `environment:java.home`, `max-age`.
fn is_key(word: &[u8]) -> bool {
    !word.is_empty()
        && word
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.' | b':'))
}

fn literal(start: usize, end: usize, glued: bool) -> Token {
    Token {
        start,
        end,
        glued,
        masked: false,
    }
}

fn classified(bytes: &[u8], start: usize, end: usize, glued: bool) -> Token {
    Token {
        start,
        end,
        glued,
        masked: bytes[start..end].iter().any(u8::is_ascii_digit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens as text, `<*>` for masked ones and `+` before glued ones.
    fn shown(message: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        tokenize(message, &mut tokens);
        tokens
            .iter()
            .map(|token| {
                let text = if token.masked {
                    "<*>"
                } else {
                    token.text(message)
                };
                format!("{}{text}", if token.glued { "+" } else { "" })
            })
            .collect()
    }

    #[test]
    fn words_split_on_whitespace_and_digits_mask() {
        assert_eq!(
            shown("connection to 10.0.0.1:5432 timed out after 300 ms"),
            [
                "connection",
                "to",
                "<*>",
                "timed",
                "out",
                "after",
                "<*>",
                "ms"
            ]
        );
        assert_eq!(shown("  \t "), Vec::<String>::new());
        assert_eq!(
            shown("took 12ms, read 4KB"),
            ["took", "<*>", "+,", "read", "<*>"]
        );
    }

    #[test]
    fn frames_split_off_and_keep_their_place() {
        assert_eq!(
            shown("session opened for user root by (uid=0)"),
            [
                "session", "opened", "for", "user", "root", "by", "(", "+uid=", "+<*>", "+)"
            ]
        );
        assert_eq!(
            shown("getaddrinfo for [173.234.31.186] failed"),
            ["getaddrinfo", "for", "[", "+<*>", "+]", "failed"]
        );
        assert_eq!(
            shown("Changing view acls to: yarn,curi"),
            ["Changing", "view", "acls", "to", "+:", "yarn,curi"]
        );
    }

    #[test]
    fn odd_words_stay_whole() {
        // A lone `=`, `==`, a query string and lone punctuation stay whole.
        assert_eq!(shown("= a==b ( ."), ["=", "a==b", "(", "."]);
        assert_eq!(shown("GET /orders?id=5"), ["GET", "<*>"]);
        assert_eq!(shown("GET /orders?sort=asc"), ["GET", "/orders?sort=asc"]);
    }

    #[test]
    fn empty_values_are_tokens() {
        assert_eq!(shown("logname= uid=0"), ["logname=", "+", "uid=", "+<*>"]);
        assert_eq!(shown("from () at"), ["from", "(", "+", "+)", "at"]);
        assert_eq!(shown("\"\""), ["\"", "+", "+\""]);
    }

    #[test]
    fn multibyte_text_keeps_its_characters() {
        assert_eq!(shown("naïve «x» (ü)"), ["naïve", "«x»", "(", "+ü", "+)"]);
    }
}
