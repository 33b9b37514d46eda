//! Level words written in text: `INFO`, `[error]`, `WARN:`, `E`.
//!
//! A word is only taken for a level where its form says so, because
//! ordinary words are levels too (`Fine`, `Config`, `Alert`):
//!
//! * `[word]`, any case: `[error]`, `[INFO ]`, `[core:error]` (Apache,
//!   nginx, many application loggers);
//! * `word:` followed by a space or the end, any case: `error: disk full`;
//! * a bare word in capitals followed by a space or the end: `WARN  [main]`;
//! * a single capital letter (`E`, `W`, `I`, as glog and Android write
//!   them), but only right after a time stamp, where nothing else stands
//!   alone.
//!
//! Which words mean which level is `Level::parse`'s business.

use firewatch_event::Level;

/// Where a level word is looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LevelPosition {
    /// Right after a time stamp: single letters count.
    AfterTime,
    /// At the start of a line or message without a time stamp before it.
    Start,
}

/// A level word found at the start of a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LevelWord {
    pub(crate) level: Level,
    /// Bytes taken by the word and its brackets or colon.
    pub(crate) len: usize,
    /// Written as `[word]`.
    pub(crate) bracketed: bool,
}

/// The longest spelling `Level::parse` knows (`informational`).
const MAX_WORD_LEN: usize = 13;

/// Reads a level word at the very start of `text`.
pub(crate) fn scan_level_word(text: &str, position: LevelPosition) -> Option<LevelWord> {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b'[') {
        let close = bytes
            .iter()
            .take(MAX_WORD_LEN + 4)
            .position(|&b| b == b']')?;
        // Apache 2.4 names the module too: `[core:error]`.
        let inside = text[1..close].trim_matches(' ');
        let word = inside.rsplit_once(':').map_or(inside, |(_, level)| level);
        if word.len() < 2 || !word.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        return Some(LevelWord {
            level: Level::parse(word)?,
            len: close + 1,
            bracketed: true,
        });
    }
    let word_len = bytes
        .iter()
        .take(MAX_WORD_LEN + 1)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if word_len == 0 || word_len > MAX_WORD_LEN {
        return None;
    }
    let word = &text[..word_len];
    let ends_here = |at: usize| bytes.get(at).is_none_or(u8::is_ascii_whitespace);
    let len = if bytes.get(word_len) == Some(&b':') && ends_here(word_len + 1) && word_len > 1 {
        word_len + 1
    } else if ends_here(word_len)
        && word.bytes().all(|b| b.is_ascii_uppercase())
        && (word_len > 1 || position == LevelPosition::AfterTime)
    {
        word_len
    } else {
        return None;
    };
    Some(LevelWord {
        level: Level::parse(word)?,
        len,
        bracketed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use LevelPosition::{AfterTime, Start};

    #[test]
    fn level_words_in_their_usual_forms() {
        for (text, position, level, len, bracketed) in [
            ("INFO [main] x", Start, Level::Info, 4, false),
            ("WARN  [thread]", AfterTime, Level::Warn, 4, false),
            ("[error] mod_jk", Start, Level::Error, 7, true),
            ("[INFO ] x", Start, Level::Info, 7, true),
            ("[ Warning ] x", AfterTime, Level::Warn, 11, true),
            ("[core:error] x", Start, Level::Error, 12, true),
            ("ERROR\n\tat x", Start, Level::Error, 5, false),
            ("error: disk full", Start, Level::Error, 6, false),
            ("WARN: low", Start, Level::Warn, 5, false),
            ("FATAL", Start, Level::Fatal, 5, false),
            ("E boom", AfterTime, Level::Error, 1, false),
            ("W", AfterTime, Level::Warn, 1, false),
            ("NOTICE\tx", AfterTime, Level::Notice, 6, false),
        ] {
            let found = scan_level_word(text, position);
            let expected = LevelWord {
                level,
                len,
                bracketed,
            };
            assert_eq!(found, Some(expected), "{text}");
        }
    }

    #[test]
    fn ordinary_words_are_not_levels() {
        for (text, position) in [
            ("Error connecting to db", Start),
            ("info about it", AfterTime),
            ("E boom", Start),
            ("I think", Start),
            ("[E] boom", AfterTime),
            ("E: boom", AfterTime),
            ("ERRORS found", Start),
            ("INFO:x", Start),
            ("INFOx", Start),
            ("[client 1.2.3.4] x", Start),
            ("[main] x", AfterTime),
            ("[error x", Start),
            ("[3] x", Start),
            ("[core:] x", Start),
            ("", Start),
            ("Informational", Start),
        ] {
            assert_eq!(scan_level_word(text, position), None, "{text}");
        }
    }
}
