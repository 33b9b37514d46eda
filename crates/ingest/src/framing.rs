//! Syslog over a byte stream (RFC 6587): where one message ends and the
//! next begins.
//!
//! Two framings are in use, and senders do not announce which:
//! - *octet counting*: `MSG-LEN SP MSG`, the length in ASCII digits, then a
//!   space, then exactly that many bytes (rsyslog's `TCP_Framing=
//!   "octet-counted"`, `logger --octet-count`, RFC 5425 over TLS);
//! - *non-transparent framing*: the message, then a line feed (most
//!   senders; a message cannot contain a line feed).
//!
//! The first byte of each frame decides: a syslog message starts with `<`,
//! never with a digit, so a digit means a length. Deciding per frame rather
//! than once per connection costs nothing and copes with a sender that
//! switches (a relay forwarding for several clients).
//!
//! Invariants of [`SyslogFrameDecoder`]:
//! - It never holds more than `max_frame_bytes` of one message (plus the
//!   few bytes of a length): a longer message is cut at the limit and
//!   marked truncated, and the rest is skipped as it arrives, without being
//!   buffered. An octet-counted tail is skipped by count, so the next frame
//!   starts exactly where the sender put it; a line-feed tail is skipped to
//!   the next line feed.
//! - The frames it yields do not depend on how the input was chunked: the
//!   tests feed every input whole, byte by byte and in random pieces, and
//!   compare with a naive decoder that sees the whole input at once.
//! - A length that is not a number (`12x `), has more digits than any
//!   allowed length, or exceeds [`MAX_OCTET_COUNT`] is a protocol error:
//!   nothing after it can be framed with confidence, so the caller closes
//!   the connection. Other connections are unaffected.
//! - Line feeds between frames (some senders end octet-counted frames with
//!   one) are skipped, and a carriage return before a line feed is dropped.
//! - At the end of the stream, an unfinished message is still yielded
//!   (marked truncated when its octet count promised more): a sender that
//!   closes without a final line feed loses nothing.

use memchr::memchr;
use tokio_util::bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// The largest octet count accepted, whatever the message size limit:
/// 64 MiB. A larger count is far more likely a desynchronised or hostile
/// stream than a message, and skipping it would stall the connection.
pub const MAX_OCTET_COUNT: usize = 64 << 20;

/// Digits of the largest accepted octet count; a longer run of digits is an
/// error before it is even converted.
const MAX_COUNT_DIGITS: usize = 8;

/// One syslog message cut from a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogFrame {
    /// The message bytes, without framing (no length, no line feed).
    pub bytes: Vec<u8>,
    /// The message was longer than the limit (or the stream ended inside
    /// it) and was cut.
    pub truncated: bool,
}

/// Why a stream cannot be framed any further.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// An octet-counted frame's length is not digits followed by a space.
    #[error("invalid octet count {header:?}: expected digits followed by a space")]
    InvalidOctetCount {
        /// The bytes read where the length should be, lossily decoded.
        header: String,
    },
    /// An octet count larger than any message firewatch accepts.
    #[error("octet count {header:?} exceeds the maximum of {MAX_OCTET_COUNT} bytes")]
    OctetCountTooLarge {
        /// The digits read, lossily decoded.
        header: String,
    },
    /// Reading the stream failed.
    #[error("cannot read from the connection: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the decoder is within the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At a frame boundary.
    Start,
    /// Inside an octet-counted frame of `count` bytes (after its header).
    Counted { count: usize },
    /// Discarding the `remaining` bytes of a counted frame that was cut.
    SkipCounted { remaining: usize },
    /// Inside a line-feed frame; `scanned` bytes are known to hold no line
    /// feed.
    Line { scanned: usize },
    /// Discarding up to and including the next line feed.
    SkipLine,
}

/// A [`Decoder`] of syslog frames, octet-counted or line-feed terminated.
#[derive(Debug)]
pub struct SyslogFrameDecoder {
    max_frame_bytes: usize,
    state: State,
    consumed: u64,
}

impl SyslogFrameDecoder {
    /// A decoder that cuts messages longer than `max_frame_bytes` (at least 1).
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes: max_frame_bytes.max(1),
            state: State::Start,
            consumed: 0,
        }
    }

    /// Bytes taken from the input so far, framing and skipped tails
    /// included.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    fn advance(&mut self, buffer: &mut BytesMut, count: usize) {
        buffer.advance(count);
        self.consumed += count as u64;
    }

    /// Takes the first `length` bytes of `buffer` as a frame, and `skip`
    /// more bytes after them. A line that ends in a carriage return loses
    /// it; a counted frame is kept as it is.
    fn take(
        &mut self,
        buffer: &mut BytesMut,
        length: usize,
        skip: usize,
        truncated: bool,
        line: bool,
    ) -> SyslogFrame {
        let mut bytes = buffer[..length].to_vec();
        if line && !truncated && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        self.advance(buffer, length + skip);
        SyslogFrame { bytes, truncated }
    }

    /// Reads an octet count at the front of `buffer`: `Ok(None)` when more
    /// bytes are needed, else the count and the header length.
    fn octet_count(buffer: &[u8]) -> Result<Option<(usize, usize)>, FramingError> {
        let digits = buffer
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let header = || String::from_utf8_lossy(&buffer[..(digits + 1).min(buffer.len())]).into();
        if digits > MAX_COUNT_DIGITS {
            return Err(FramingError::OctetCountTooLarge { header: header() });
        }
        match buffer.get(digits) {
            None => Ok(None),
            Some(b' ') => {
                let count = buffer[..digits].iter().fold(0usize, |count, digit| {
                    count * 10 + usize::from(digit - b'0')
                });
                if count > MAX_OCTET_COUNT {
                    return Err(FramingError::OctetCountTooLarge { header: header() });
                }
                Ok(Some((count, digits + 1)))
            }
            Some(_) => Err(FramingError::InvalidOctetCount { header: header() }),
        }
    }
}

impl Decoder for SyslogFrameDecoder {
    type Item = SyslogFrame;
    type Error = FramingError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<SyslogFrame>, FramingError> {
        loop {
            match self.state {
                State::Start => match buffer.first() {
                    None => return Ok(None),
                    Some(b'\n') => self.advance(buffer, 1),
                    Some(byte) if byte.is_ascii_digit() => {
                        let Some((count, header)) = Self::octet_count(buffer)? else {
                            return Ok(None);
                        };
                        self.advance(buffer, header);
                        self.state = State::Counted { count };
                    }
                    Some(_) => self.state = State::Line { scanned: 0 },
                },
                State::Counted { count } => {
                    let kept = count.min(self.max_frame_bytes);
                    if buffer.len() < kept {
                        buffer.reserve(kept - buffer.len());
                        return Ok(None);
                    }
                    self.state = if count > kept {
                        State::SkipCounted {
                            remaining: count - kept,
                        }
                    } else {
                        State::Start
                    };
                    return Ok(Some(self.take(buffer, kept, 0, count > kept, false)));
                }
                State::SkipCounted { remaining } => {
                    let skipped = remaining.min(buffer.len());
                    self.advance(buffer, skipped);
                    if skipped < remaining {
                        self.state = State::SkipCounted {
                            remaining: remaining - skipped,
                        };
                        return Ok(None);
                    }
                    self.state = State::Start;
                }
                State::Line { scanned } => {
                    // A line feed at index `max_frame_bytes` still ends a
                    // frame that fits, so look one byte further.
                    let window = buffer.len().min(self.max_frame_bytes + 1);
                    if let Some(at) = memchr(b'\n', &buffer[scanned..window]) {
                        self.state = State::Start;
                        return Ok(Some(self.take(buffer, scanned + at, 1, false, true)));
                    }
                    if buffer.len() > self.max_frame_bytes {
                        self.state = State::SkipLine;
                        return Ok(Some(self.take(buffer, self.max_frame_bytes, 0, true, true)));
                    }
                    self.state = State::Line {
                        scanned: buffer.len(),
                    };
                    return Ok(None);
                }
                State::SkipLine => match memchr(b'\n', buffer) {
                    Some(at) => {
                        self.advance(buffer, at + 1);
                        self.state = State::Start;
                    }
                    None => {
                        let skipped = buffer.len();
                        self.advance(buffer, skipped);
                        return Ok(None);
                    }
                },
            }
        }
    }

    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<SyslogFrame>, FramingError> {
        if let Some(frame) = self.decode(buffer)? {
            return Ok(Some(frame));
        }
        let length = buffer.len();
        match self.state {
            State::Line { .. } if length > 0 => {
                self.state = State::Start;
                Ok(Some(self.take(buffer, length, 0, false, true)))
            }
            State::Counted { .. } => {
                self.state = State::Start;
                Ok(Some(self.take(buffer, length, 0, true, false)))
            }
            // An unfinished octet count is a header without a message.
            State::Start if length > 0 => Err(FramingError::InvalidOctetCount {
                header: String::from_utf8_lossy(buffer).into(),
            }),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the decoder must yield: a straightforward reading of the whole
    /// input at once. `Err(())` at the end marks a protocol error.
    fn naive_frames(input: &[u8], max: usize) -> (Vec<SyslogFrame>, bool) {
        let mut frames = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            if rest[0] == b'\n' {
                at += 1;
            } else if rest[0].is_ascii_digit() {
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits > MAX_COUNT_DIGITS || rest.get(digits) != Some(&b' ') {
                    return (frames, true);
                }
                let count: usize = std::str::from_utf8(&rest[..digits])
                    .unwrap()
                    .parse()
                    .unwrap();
                if count > MAX_OCTET_COUNT {
                    return (frames, true);
                }
                let body = &rest[digits + 1..];
                let available = body.len().min(count);
                let kept = available.min(max);
                frames.push(SyslogFrame {
                    bytes: body[..kept].to_vec(),
                    truncated: kept < count,
                });
                at += digits + 1 + available;
            } else {
                let end = rest.iter().position(|&b| b == b'\n');
                let line = &rest[..end.unwrap_or(rest.len())];
                let mut bytes = line[..line.len().min(max)].to_vec();
                let truncated = line.len() > max;
                if !truncated && bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                frames.push(SyslogFrame { bytes, truncated });
                at += end.map_or(rest.len(), |end| end + 1);
            }
        }
        (frames, false)
    }

    /// Feeds `input` to a decoder in pieces of the given sizes (the last
    /// piece takes the rest), then ends the stream.
    fn decode_in_pieces(input: &[u8], max: usize, sizes: &[usize]) -> (Vec<SyslogFrame>, bool) {
        let mut decoder = SyslogFrameDecoder::new(max);
        let mut buffer = BytesMut::new();
        let mut frames = Vec::new();
        let mut rest = input;
        let mut sizes = sizes.iter();
        while !rest.is_empty() {
            let size = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
            buffer.extend_from_slice(&rest[..size]);
            rest = &rest[size..];
            loop {
                match decoder.decode(&mut buffer) {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(_) => return (frames, true),
                }
            }
            assert!(
                buffer.len() <= max + MAX_COUNT_DIGITS + 2,
                "the decoder holds {} bytes with a limit of {max}",
                buffer.len()
            );
        }
        loop {
            match decoder.decode_eof(&mut buffer) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
        if !frames.is_empty() || !input.is_empty() {
            assert!(buffer.is_empty(), "bytes left after the end");
            assert_eq!(decoder.consumed(), input.len() as u64);
        }
        (frames, false)
    }

    /// A small deterministic generator, so that failures can be replayed.
    struct XorShift(u64);

    impl XorShift {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }
    }

    fn inputs() -> Vec<Vec<u8>> {
        let mut inputs: Vec<Vec<u8>> = [
            &b""[..],
            b"<13>Nov 20 09:40:12 web-01 app: hello\n",
            b"<13>one\n<13>two\r\n\n\n<13>three",
            b"12 <13>1 - - x\n5 hello",
            b"11 <13>counted<14>newline after count\n",
            b"20 short",
            b"<13>this line is longer than the limit of sixteen\n<13>next\n",
            b"40 <13>1 counted and longer than the limit<13>after\n",
            b"3 abc3 def",
            b"12x <13>oops\n",
            b"123456789 too many digits",
            b"99999999 one more than the cap",
            b"<13>ok\n7",
            b"0 \n<13>empty counted frame before me\n",
        ]
        .iter()
        .map(|input| input.to_vec())
        .collect();
        let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..40 {
            let mut input = Vec::new();
            for _ in 0..random.below(12) {
                let body: Vec<u8> = (0..random.below(40))
                    .map(|_| b"<>13 abc\r"[random.below(9)])
                    .collect();
                if random.below(2) == 0 {
                    input.extend_from_slice(format!("{} ", body.len()).as_bytes());
                    input.extend_from_slice(&body);
                } else {
                    input.push(b'<');
                    input.extend(body.iter().filter(|&&b| b != b'\n'));
                    input.push(b'\n');
                }
            }
            inputs.push(input);
        }
        inputs
    }

    #[test]
    fn frames_do_not_depend_on_how_the_input_is_chunked() {
        let mut random = XorShift(42);
        for input in inputs() {
            for max in [1, 7, 16, 64 << 10] {
                let expected = naive_frames(&input, max);
                let whole = decode_in_pieces(&input, max, &[]);
                assert_eq!(whole, expected, "whole, max {max}: {input:?}");
                let bytewise = decode_in_pieces(&input, max, &vec![1; input.len()]);
                assert_eq!(bytewise, expected, "byte by byte, max {max}: {input:?}");
                for _ in 0..20 {
                    let sizes: Vec<usize> = (0..input.len()).map(|_| random.below(9) + 1).collect();
                    let pieces = decode_in_pieces(&input, max, &sizes);
                    assert_eq!(pieces, expected, "pieces {sizes:?}, max {max}: {input:?}");
                }
            }
        }
    }

    #[test]
    fn both_framings_are_recognised_on_one_stream() {
        let input = b"11 <13>counted<14>newline\n";
        let (frames, failed) = decode_in_pieces(input, 1024, &[]);
        assert!(!failed);
        let bytes: Vec<&[u8]> = frames.iter().map(|frame| &frame.bytes[..]).collect();
        assert_eq!(bytes, [&b"<13>counted"[..], b"<14>newline"]);
    }

    #[test]
    fn an_overlong_counted_frame_is_cut_and_the_next_frame_survives() {
        let input = b"30 <13>abcdefghijklmnopqrstuvwxyz<14>next\n";
        let (frames, failed) = decode_in_pieces(input, 8, &[]);
        assert!(!failed);
        assert_eq!(frames[0].bytes, b"<13>abcd");
        assert!(frames[0].truncated);
        assert_eq!(frames[1].bytes, b"<14>next");
        assert!(!frames[1].truncated);
    }

    #[test]
    fn an_overlong_line_is_skipped_without_being_buffered() {
        let mut decoder = SyslogFrameDecoder::new(16);
        let mut buffer = BytesMut::from(&b"<13>"[..]);
        assert_eq!(decoder.decode(&mut buffer).unwrap(), None);
        for _ in 0..1000 {
            buffer.extend_from_slice(&[b'x'; 1000]);
            while decoder.decode(&mut buffer).unwrap().is_some() {}
            assert!(buffer.len() <= 16, "{}", buffer.len());
        }
        buffer.extend_from_slice(b"\n<13>next\n");
        let frame = decoder.decode(&mut buffer).unwrap().unwrap();
        assert_eq!(frame.bytes, b"<13>next");
    }

    #[test]
    fn bad_octet_counts_are_protocol_errors() {
        for input in [&b"12x <13>\n"[..], b"123456789 x", b"99999999 x"] {
            let mut decoder = SyslogFrameDecoder::new(1024);
            let error = decoder
                .decode(&mut BytesMut::from(input))
                .expect_err("a protocol error");
            assert!(error.to_string().contains("octet count"), "{error}");
        }
    }
}
