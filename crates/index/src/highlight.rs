//! Which parts of a message a query matched, so that a terminal can show
//! them highlighted.
//!
//! The query is parsed exactly as a search parses it, and the terms it
//! looks for in `message` are collected (phrases contribute their words).
//! A message is then cut by the same log tokenizer that indexed it, and the
//! byte ranges of the tokens among those terms are the highlights: what is
//! highlighted is what matched, in any case and spelling the index folds.

use std::collections::HashSet;
use std::ops::Range;

use tantivy::tokenizer::TextAnalyzer;

use crate::tokenizer::{LOG_TOKENIZER, tokenizer_manager};
use crate::{IndexError, IndexReader, SearchRequest};

/// Finds the words of messages that a query matched.
pub struct Highlighter {
    terms: HashSet<String>,
    analyzer: Option<TextAnalyzer>,
}

impl IndexReader {
    /// A highlighter of the message terms of `query` (tantivy syntax, as
    /// for [`IndexReader::search`]).
    pub fn highlighter(&self, query: &str) -> Result<Highlighter, IndexError> {
        let query = self.build_query(&SearchRequest {
            query: query.to_owned(),
            ..SearchRequest::default()
        })?;
        let message = self.message_field();
        let mut terms = HashSet::new();
        query.query_terms(&mut |term, _| {
            if term.field() == message
                && let Some(text) = term.value().as_str()
            {
                terms.insert(text.to_owned());
            }
        });
        Ok(Highlighter {
            analyzer: tokenizer_manager().get(LOG_TOKENIZER),
            terms,
        })
    }
}

impl Highlighter {
    /// Byte ranges of `message` that the query matched, in order.
    pub fn ranges(&mut self, message: &str) -> Vec<Range<usize>> {
        let mut ranges = Vec::new();
        let (Some(analyzer), false) = (self.analyzer.as_mut(), self.terms.is_empty()) else {
            return ranges;
        };
        let mut stream = analyzer.token_stream(message);
        while let Some(token) = stream.next() {
            if self.terms.contains(&token.text) {
                ranges.push(token.offset_from..token.offset_to);
            }
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use firewatch_event::{Checkpoint, Event, EventId, Timestamp};

    use crate::{IndexConfig, IndexReader, IndexWriter};

    #[test]
    fn matched_words_and_phrase_words_are_found_in_any_case() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut writer = IndexWriter::open(dir.path(), IndexConfig::default()).unwrap();
        let time: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        writer
            .add_event(&Event::new(EventId(1), "app".into(), time), &[], false)
            .unwrap();
        writer.commit(&Checkpoint::default()).unwrap();
        let reader = IndexReader::open(dir.path()).unwrap();

        let message = "Connection REFUSED by 10.0.0.1 (ECONNREFUSED): connection lost";
        let mut highlighter = reader
            .highlighter("\"connection refused\" OR econnrefused AND host:web-01")
            .unwrap();
        let words: Vec<&str> = highlighter
            .ranges(message)
            .into_iter()
            .map(|range| &message[range])
            .collect();
        assert_eq!(
            words,
            ["Connection", "REFUSED", "ECONNREFUSED", "connection"]
        );
        assert!(reader.highlighter("*").unwrap().ranges(message).is_empty());
        assert!(
            reader
                .highlighter("level:error")
                .unwrap()
                .ranges(message)
                .is_empty()
        );
    }
}
