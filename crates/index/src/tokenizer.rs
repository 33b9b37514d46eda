//! The log tokenizer, and the tokenizers every firewatch index registers.
//!
//! Log messages are not prose: what people search for is `ECONNREFUSED`,
//! `502`, `trace_id`, a path segment, an IP address. The log tokenizer cuts
//! text into maximal runs of word characters (ASCII letters and digits, `_`,
//! and any non-ASCII alphanumeric character) and lowercases them. Everything
//! else separates tokens, so `10.0.0.1` is the phrase `10 0 0 1` and
//! `blk_-123` is `blk_` then `123`. There is no stemming and no stop words:
//! a log line means exactly what it says.
//!
//! Tokens longer than [`MAX_TOKEN_BYTES`] (base64 blobs, hex dumps) are
//! dropped: nobody searches for them and they bloat the term dictionary.
//! A dropped token still takes its position, so that a phrase cannot match
//! across it.

use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer, TokenizerManager,
};

/// Name under which the log tokenizer is registered.
pub(crate) const LOG_TOKENIZER: &str = "firewatch_log";

/// Name of the keyword tokenizer that lowercases the whole value, so that
/// `level:ERROR` and `level:error` are the same query.
pub(crate) const LOWERCASE_KEYWORD_TOKENIZER: &str = "firewatch_lowercase_keyword";

/// Tokens longer than this many bytes (as written) are not indexed.
pub(crate) const MAX_TOKEN_BYTES: usize = 255;

/// The tokenizer manager of every firewatch index: tantivy's defaults plus
/// the log and lowercase keyword tokenizers.
pub(crate) fn tokenizer_manager() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(LOG_TOKENIZER, LogTokenizer::default());
    manager.register(
        LOWERCASE_KEYWORD_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    manager
}

/// The words of `text` as the index keeps them for the message field
/// (lowercased, in order, repeats included): what a `("word", ..)` filter
/// of a [`SearchRequest`](crate::SearchRequest) matches.
pub fn message_words(text: &str) -> Vec<String> {
    let mut tokenizer = LogTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut words = Vec::new();
    while stream.advance() {
        words.push(stream.token().text.clone());
    }
    words
}

/// Splits log text into lowercased words; see the module documentation.
#[derive(Clone, Default)]
pub(crate) struct LogTokenizer {
    /// Reused by every stream, so that tokenizing allocates only when a
    /// token is longer than any seen before.
    token: Token,
}

/// The tokens of one text.
pub(crate) struct LogTokenStream<'a> {
    text: &'a str,
    /// Byte offset where the search for the next token starts; always on a
    /// character boundary.
    cursor: usize,
    token: &'a mut Token,
}

impl Tokenizer for LogTokenizer {
    type TokenStream<'a> = LogTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> LogTokenStream<'a> {
        self.token.reset();
        LogTokenStream {
            text,
            cursor: 0,
            token: &mut self.token,
        }
    }
}

/// Whether the character starting at byte `at` of `text` belongs in a word,
/// and its length in bytes. `at` must be a character boundary before the end.
fn classify(text: &str, at: usize) -> (bool, usize) {
    let byte = text.as_bytes()[at];
    if byte.is_ascii() {
        return (byte.is_ascii_alphanumeric() || byte == b'_', 1);
    }
    match text[at..].chars().next() {
        Some(character) => (character.is_alphanumeric(), character.len_utf8()),
        None => (false, 1),
    }
}

impl LogTokenStream<'_> {
    /// Finds the next word after the cursor: its byte range, if any.
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let length = self.text.len();
        let mut at = self.cursor;
        while at < length {
            let (is_word, width) = classify(self.text, at);
            if is_word {
                break;
            }
            at += width;
        }
        if at >= length {
            self.cursor = length;
            return None;
        }
        let start = at;
        while at < length {
            let (is_word, width) = classify(self.text, at);
            if !is_word {
                break;
            }
            at += width;
        }
        self.cursor = at;
        Some((start, at))
    }
}

impl TokenStream for LogTokenStream<'_> {
    fn advance(&mut self) -> bool {
        while let Some((start, end)) = self.next_word() {
            self.token.position = self.token.position.wrapping_add(1);
            if end - start > MAX_TOKEN_BYTES {
                continue;
            }
            let word = &self.text[start..end];
            self.token.text.clear();
            if word.is_ascii() {
                self.token.text.push_str(word);
                self.token.text.make_ascii_lowercase();
            } else {
                self.token
                    .text
                    .extend(word.chars().flat_map(char::to_lowercase));
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position_length = 1;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, position) of every token the analyzer registered under `name` emits.
    fn tokens_of(name: &str, text: &str) -> Vec<(String, usize)> {
        let mut analyzer = tokenizer_manager().get(name).unwrap();
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        stream.process(&mut |token| tokens.push((token.text.clone(), token.position)));
        tokens
    }

    fn words(text: &str) -> Vec<String> {
        tokens_of(LOG_TOKENIZER, text)
            .into_iter()
            .map(|(word, _)| word)
            .collect()
    }

    /// The same rules written the slow, obvious way: split on every
    /// character that is not a word character.
    fn naive_tokens(text: &str) -> Vec<(String, usize)> {
        text.split(|character: char| !(character.is_alphanumeric() || character == '_'))
            .filter(|word| !word.is_empty())
            .enumerate()
            .filter(|(_, word)| word.len() <= MAX_TOKEN_BYTES)
            .map(|(position, word)| {
                (
                    word.chars().flat_map(char::to_lowercase).collect(),
                    position,
                )
            })
            .collect()
    }

    #[test]
    fn log_words_become_lowercase_tokens() {
        assert_eq!(
            words("Connection refused: ECONNREFUSED (502) trace_id=ab12"),
            [
                "connection",
                "refused",
                "econnrefused",
                "502",
                "trace_id",
                "ab12"
            ]
        );
        assert_eq!(words("blk_-123"), ["blk_", "123"]);
        assert_eq!(words("10.0.0.1:8080"), ["10", "0", "0", "1", "8080"]);
        assert_eq!(
            words("/var/log/nginx/error.log"),
            ["var", "log", "nginx", "error", "log"]
        );
        assert_eq!(
            words("Überlauf in Σύστημα — 東京"),
            ["überlauf", "in", "σύστημα", "東京"]
        );
        assert!(words("").is_empty());
        assert!(words(" -- ... !!").is_empty());
    }

    #[test]
    fn message_words_are_the_words_the_message_field_indexes() {
        let text = "nvme nvme0: I/O 412 QID 3 timeout, aborting Überlauf";
        assert_eq!(message_words(text), words(text));
        assert_eq!(message_words("a a"), ["a", "a"]);
    }

    #[test]
    fn offsets_point_at_the_original_text() {
        let text = "GET /Api/v1 ÉTÉ";
        let mut tokenizer = LogTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut spans = Vec::new();
        while stream.advance() {
            let token = stream.token();
            spans.push(&text[token.offset_from..token.offset_to]);
        }
        assert_eq!(spans, ["GET", "Api", "v1", "ÉTÉ"]);
    }

    #[test]
    fn overlong_tokens_are_dropped_but_keep_their_position() {
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        let exact = "b".repeat(MAX_TOKEN_BYTES);
        let tokens = tokens_of(LOG_TOKENIZER, &format!("start {long} end {exact}"));
        assert_eq!(
            tokens,
            [("start".to_owned(), 0), ("end".to_owned(), 2), (exact, 3)]
        );
    }

    #[test]
    fn tokenizer_agrees_with_its_naive_twin() {
        let samples = [
            "Connection refused: connect to 10.0.0.1 port 5432 failed",
            "level=ERROR msg=\"db down\" user_id=42 took=1.5ms",
            "  leading and trailing  ",
            "日本語のログ: エラー発生 ERR_42",
            "tabs\tand\r\nnewlines\u{0}nul",
            "mixed ÅNGSTRÖM straße İstanbul ǅ",
            "emoji 🔥 fire🔥watch",
        ];
        for text in samples {
            assert_eq!(
                tokens_of(LOG_TOKENIZER, text),
                naive_tokens(text),
                "{text:?}"
            );
        }
        // A cheap deterministic generator over a mixed alphabet.
        let alphabet: Vec<char> = "aZ9_ .-:/é日🔥\tÅ".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for length in 0..200 {
            let text: String = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(
                tokens_of(LOG_TOKENIZER, &text),
                naive_tokens(&text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn keyword_tokenizer_lowercases_the_whole_value() {
        assert_eq!(
            tokens_of(LOWERCASE_KEYWORD_TOKENIZER, "ERROR"),
            [("error".to_owned(), 0)]
        );
        assert_eq!(
            tokens_of(LOWERCASE_KEYWORD_TOKENIZER, "Web-03 A"),
            [("web-03 a".to_owned(), 0)]
        );
    }
}
