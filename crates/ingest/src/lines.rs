//! Framing: a byte stream, read in chunks of any size, cut into lines.
//!
//! A line ends at `\n`; one `\r` just before it is dropped, so CRLF files read
//! like LF files. The splitter never holds more than `max_line_bytes + 1`
//! bytes of an unfinished line: once a line is known to be longer than the
//! limit, its first `max_line_bytes` bytes are kept, the line is marked
//! truncated, and everything up to its newline is skipped as it streams past.
//! A 100 MB line without a newline therefore costs `max_line_bytes` of memory,
//! not 100 MB.
//!
//! Offsets are stream offsets (bytes since the start of the file), so that a
//! line's start names it for ids and its end is where a reader resumes.

use memchr::memchr;

/// One line cut from the stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// Stream offset of the line's first byte.
    pub(crate) start: u64,
    /// Stream offset just after the line's newline (or its last byte, for a
    /// final line without one).
    pub(crate) end: u64,
    /// 1-based line number.
    pub(crate) number: u64,
    /// The line without its terminator, cut to the limit.
    pub(crate) bytes: Vec<u8>,
    /// The line was longer than the limit.
    pub(crate) truncated: bool,
}

/// Cuts lines out of a stream fed in chunks.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    max_line_bytes: usize,
    /// The start of a line that did not end in the chunks seen so far; never
    /// longer than `max_line_bytes + 1` (the extra byte may be a `\r`).
    unfinished: Vec<u8>,
    /// The unfinished line is already known to be over the limit: its
    /// remaining bytes are skipped.
    overlong: bool,
    line_start: u64,
    offset: u64,
    next_number: u64,
}

impl LineSplitter {
    /// A splitter that starts at stream `offset`, where line `next_number` begins.
    pub(crate) fn new(max_line_bytes: usize, offset: u64, next_number: u64) -> Self {
        Self {
            max_line_bytes,
            unfinished: Vec::new(),
            overlong: false,
            line_start: offset,
            offset,
            next_number,
        }
    }

    /// Stream offset of the next byte to be fed.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Consumes bytes from the front of `input` up to and including the first
    /// newline, and returns how many it consumed and the line that ended, if
    /// one did. Without a newline in `input`, all of it is consumed and kept
    /// (up to the limit) as the start of a line.
    pub(crate) fn split_next(&mut self, input: &[u8]) -> (usize, Option<Line>) {
        let Some(newline) = memchr(b'\n', input) else {
            self.keep_unfinished(input);
            self.offset += input.len() as u64;
            return (input.len(), None);
        };
        let consumed = newline + 1;
        self.offset += consumed as u64;
        let piece = &input[..newline];
        let line = if self.unfinished.is_empty() && !self.overlong {
            // The common case: the whole line is inside this chunk, and is
            // copied once, into the record's own buffer.
            let content = strip_carriage_return(piece);
            let kept = content.len().min(self.max_line_bytes);
            self.make_line(content[..kept].to_vec(), kept < content.len())
        } else {
            self.keep_unfinished(piece);
            self.take_unfinished()
        };
        (consumed, Some(line))
    }

    /// Ends the stream: returns the last line if it has no newline.
    pub(crate) fn finish(&mut self) -> Option<Line> {
        (self.offset > self.line_start).then(|| self.take_unfinished())
    }

    fn keep_unfinished(&mut self, piece: &[u8]) {
        if self.overlong {
            return;
        }
        let room = self.max_line_bytes + 1 - self.unfinished.len();
        if piece.len() <= room {
            self.unfinished.extend_from_slice(piece);
        } else {
            // More than `max_line_bytes + 1` bytes without a newline: even if
            // the last of them were a `\r`, the line is over the limit.
            self.unfinished.extend_from_slice(&piece[..room]);
            self.unfinished.truncate(self.max_line_bytes);
            self.overlong = true;
        }
    }

    fn take_unfinished(&mut self) -> Line {
        let mut bytes = std::mem::take(&mut self.unfinished);
        let mut truncated = std::mem::take(&mut self.overlong);
        if !truncated {
            let content_len = strip_carriage_return(&bytes).len();
            bytes.truncate(content_len);
            if bytes.len() > self.max_line_bytes {
                bytes.truncate(self.max_line_bytes);
                truncated = true;
            }
        }
        self.make_line(bytes, truncated)
    }

    fn make_line(&mut self, bytes: Vec<u8>, truncated: bool) -> Line {
        let line = Line {
            start: self.line_start,
            end: self.offset,
            number: self.next_number,
            bytes,
            truncated,
        };
        self.line_start = self.offset;
        self.next_number += 1;
        line
    }
}

fn strip_carriage_return(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `input` fed in pieces of `chunk` bytes (0: all at once).
    fn split(input: &[u8], max_line_bytes: usize, chunk: usize) -> Vec<Line> {
        let mut splitter = LineSplitter::new(max_line_bytes, 0, 1);
        let mut lines = Vec::new();
        let chunk = if chunk == 0 {
            input.len().max(1)
        } else {
            chunk
        };
        for piece in input.chunks(chunk) {
            let mut at = 0;
            while at < piece.len() {
                let (consumed, line) = splitter.split_next(&piece[at..]);
                at += consumed;
                lines.extend(line);
            }
        }
        lines.extend(splitter.finish());
        lines
    }

    /// The obvious, whole-input version of the same framing.
    fn naive_split(input: &[u8], max_line_bytes: usize) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut start = 0;
        while start < input.len() {
            let end = input[start..]
                .iter()
                .position(|&byte| byte == b'\n')
                .map_or(input.len(), |at| start + at + 1);
            let mut content = &input[start..end];
            content = content.strip_suffix(b"\n").unwrap_or(content);
            content = content.strip_suffix(b"\r").unwrap_or(content);
            let truncated = content.len() > max_line_bytes;
            lines.push(Line {
                start: start as u64,
                end: end as u64,
                number: lines.len() as u64 + 1,
                bytes: content[..content.len().min(max_line_bytes)].to_vec(),
                truncated,
            });
            start = end;
        }
        lines
    }

    #[test]
    fn every_chunking_agrees_with_the_naive_split() {
        let inputs: [&[u8]; 8] = [
            b"alpha\nbeta\r\n\r\n\ngamma",
            b"exactly8\r\nexactly8\nnine bytes\r\nnine byte\r\r\n",
            b"\n\n\n",
            b"",
            b"no newline at all, and long",
            b"cr\r\rcr\r\n\xff\xfe invalid utf-8 \xc3\n",
            b"ends with cr\r",
            b"12345678\r9\nx\n",
        ];
        for input in inputs {
            for max_line_bytes in [0, 1, 8, 9, 1024] {
                let expected = naive_split(input, max_line_bytes);
                for chunk in 0..=input.len() {
                    assert_eq!(
                        split(input, max_line_bytes, chunk),
                        expected,
                        "input {input:?}, max {max_line_bytes}, chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_long_line_is_cut_and_the_next_one_is_intact() {
        let mut input = vec![b'x'; 5 * 1024 * 1024];
        input.extend_from_slice(b"\r\nnext\r\n");
        let lines = split(&input, 64 * 1024, 256 * 1024);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].bytes.len(), 64 * 1024);
        assert!(lines[0].truncated);
        assert_eq!(lines[1].bytes, b"next");
        assert_eq!(lines[1].start, 5 * 1024 * 1024 + 2);
        assert!(!lines[1].truncated);
    }

    #[test]
    fn an_unfinished_line_never_holds_more_than_the_limit() {
        let mut splitter = LineSplitter::new(1000, 0, 1);
        let chunk = vec![b'y'; 4096];
        for _ in 0..100 {
            assert_eq!(splitter.split_next(&chunk), (4096, None));
            assert!(splitter.unfinished.capacity() <= 2 * 1001);
        }
        let line = splitter.finish().unwrap();
        assert_eq!(
            (line.bytes.len(), line.truncated, line.end),
            (1000, true, 409_600)
        );
    }

    #[test]
    fn numbering_and_offsets_continue_from_a_resume_point() {
        let mut splitter = LineSplitter::new(100, 40, 7);
        let (_, line) = splitter.split_next(b"resumed\n");
        let line = line.unwrap();
        assert_eq!((line.start, line.end, line.number), (40, 48, 7));
        assert_eq!(splitter.finish(), None);
    }
}
