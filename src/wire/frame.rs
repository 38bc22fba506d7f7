//! Frame scanner: cuts a byte stream into protocol messages (type byte +
//! big-endian length that counts itself) without decoding them.
//!
//! Why a scanner rather than a "read one message" codec: most traffic (DataRow,
//! Bind, CopyData, ...) needs no inspection, so the scanner hands back *runs* of
//! such frames as a single zero-copy `Bytes` slice of the read buffer, and
//! streams a frame that is larger than what has arrived so far instead of
//! buffering it whole. Only frames the caller asks to see are collected whole,
//! and only after their length has been checked against the limit, so a hostile
//! length word can never make pgward allocate.

use bytes::{Bytes, BytesMut};
use std::fmt;

/// Bytes in a message header: the type byte and the 4-byte length.
pub const HEADER_LEN: usize = 5;

/// A message type byte, printed the way PostgreSQL's docs name it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub u8);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0 as char)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("message of type {tag} has an invalid length word ({len})")]
    InvalidLength { tag: Tag, len: i32 },
    #[error("message of type {tag} is {len} bytes long, over the limit of {limit} bytes")]
    TooLarge { tag: Tag, len: usize, limit: usize },
    #[error("unexpected message type {tag}")]
    Rejected { tag: Tag },
}

/// What the caller wants done with a frame of a given type, decided from the
/// type byte alone (before the body has arrived).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Forward as received; may be streamed in pieces.
    Pass,
    /// Collect the whole frame and hand it to the caller.
    Whole,
    /// Not acceptable in this state: stop with [`FrameError::Rejected`].
    Reject,
}

/// One complete message, header included, exactly as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    bytes: Bytes,
}

impl Frame {
    /// Builds a frame from bytes that already hold a complete, length-checked message.
    fn from_verified(bytes: Bytes) -> Self {
        debug_assert!(bytes.len() >= HEADER_LEN);
        Frame { bytes }
    }

    pub fn tag(&self) -> u8 {
        self.bytes[0]
    }

    /// The message body: everything after the length word, bounded by it.
    pub fn body(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What the scanner produced from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes to forward untouched: whole pass-through frames, possibly ending
    /// with the first part of one whose remainder has not arrived yet.
    Pass(Bytes),
    /// One complete frame the caller asked to see.
    Frame(Frame),
}

/// Incremental scanner for one direction of a connection.
#[derive(Debug)]
pub struct FrameScanner {
    max_len: usize,
    /// Bytes still owed of a pass-through frame that is being streamed.
    owed: usize,
}

impl FrameScanner {
    /// `max_len` bounds the length word (which counts itself but not the type byte).
    pub fn new(max_len: usize) -> Self {
        FrameScanner { max_len, owed: 0 }
    }

    /// Changes the length bound, e.g. once a client has authenticated.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    /// True while a pass-through frame has been forwarded only in part: nothing
    /// may be injected into the stream until it is complete.
    pub fn mid_frame(&self) -> bool {
        self.owed > 0
    }

    /// Takes the next chunk off the front of `buf`, or `None` if more input is
    /// needed. Call repeatedly until it returns `None`.
    ///
    /// Inlined into its callers (it runs for every chunk of both streams, and
    /// their dispositions then fold in): left to the optimizer, whether it
    /// is depends on unrelated code, and a call costs every message.
    #[inline(always)]
    pub fn next_chunk(
        &mut self,
        buf: &mut BytesMut,
        mut disposition: impl FnMut(u8) -> Disposition,
    ) -> Result<Option<Chunk>, FrameError> {
        let mut run = 0usize;
        if self.owed > 0 {
            let n = self.owed.min(buf.len());
            self.owed -= n;
            run = n;
            if self.owed > 0 || n == 0 {
                return Ok(if n == 0 {
                    None
                } else {
                    Some(Chunk::Pass(buf.split_to(n).freeze()))
                });
            }
        }
        loop {
            let avail = &buf[run..];
            if avail.len() < HEADER_LEN {
                break;
            }
            let tag = avail[0];
            let len = i32::from_be_bytes([avail[1], avail[2], avail[3], avail[4]]);
            let d = disposition(tag);
            let error = if len < 4 {
                Some(FrameError::InvalidLength { tag: Tag(tag), len })
            } else if len as usize > self.max_len {
                Some(FrameError::TooLarge {
                    tag: Tag(tag),
                    len: len as usize,
                    limit: self.max_len,
                })
            } else if d == Disposition::Reject {
                Some(FrameError::Rejected { tag: Tag(tag) })
            } else {
                None
            };
            if let Some(e) = error {
                // The frames before the bad one are handed on first, so what
                // is forwarded does not depend on how the bytes were split
                // into reads; the error comes with the next call.
                if run > 0 {
                    break;
                }
                return Err(e);
            }
            let total = len as usize + 1;
            match d {
                Disposition::Whole => {
                    if run > 0 {
                        break;
                    }
                    if buf.len() < total {
                        buf.reserve(total - buf.len());
                        return Ok(None);
                    }
                    return Ok(Some(Chunk::Frame(Frame::from_verified(
                        buf.split_to(total).freeze(),
                    ))));
                }
                // Pass (Reject was refused above).
                _ => {
                    if avail.len() >= total {
                        run += total;
                        continue;
                    }
                    self.owed = total - avail.len();
                    run += avail.len();
                    break;
                }
            }
        }
        if run == 0 {
            return Ok(None);
        }
        Ok(Some(Chunk::Pass(buf.split_to(run).freeze())))
    }
}

/// Appends a complete message with the given type byte and body.
pub fn put_frame(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(HEADER_LEN + body.len());
    out.extend_from_slice(&[tag]);
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        put_frame(&mut b, tag, body);
        b.to_vec()
    }

    fn pass_all(_: u8) -> Disposition {
        Disposition::Pass
    }

    #[test]
    fn coalesces_pass_frames_into_one_chunk() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(b'D', b"abc"));
        buf.extend_from_slice(&frame(b'D', b"defg"));
        let mut s = FrameScanner::new(1 << 20);
        let c = s.next_chunk(&mut buf, pass_all).expect("scan");
        assert_eq!(
            c,
            Some(Chunk::Pass(Bytes::from(
                [frame(b'D', b"abc"), frame(b'D', b"defg")].concat()
            )))
        );
        assert!(buf.is_empty());
        assert_eq!(s.next_chunk(&mut buf, pass_all).expect("scan"), None);
    }

    #[test]
    fn streams_a_partial_pass_frame_and_tracks_what_is_owed() {
        let whole = frame(b'D', &[7u8; 100]);
        let mut buf = BytesMut::from(&whole[..40]);
        let mut s = FrameScanner::new(1 << 20);
        assert_eq!(
            s.next_chunk(&mut buf, pass_all).expect("scan"),
            Some(Chunk::Pass(Bytes::copy_from_slice(&whole[..40])))
        );
        assert!(s.mid_frame());
        buf.extend_from_slice(&whole[40..]);
        buf.extend_from_slice(&frame(b'Z', b"I"));
        let mut got = Vec::new();
        while let Some(Chunk::Pass(b)) = s.next_chunk(&mut buf, pass_all).expect("scan") {
            got.extend_from_slice(&b);
        }
        assert!(!s.mid_frame());
        assert_eq!(got, [&whole[40..], &frame(b'Z', b"I")[..]].concat());
    }

    #[test]
    fn whole_frames_wait_for_their_last_byte() {
        let q = frame(b'Q', b"select 1\0");
        let mut buf = BytesMut::from(&q[..7]);
        let mut s = FrameScanner::new(1 << 20);
        let want = |t: u8| {
            if t == b'Q' {
                Disposition::Whole
            } else {
                Disposition::Pass
            }
        };
        assert_eq!(s.next_chunk(&mut buf, want).expect("scan"), None);
        buf.extend_from_slice(&q[7..]);
        match s.next_chunk(&mut buf, want).expect("scan") {
            Some(Chunk::Frame(f)) => {
                assert_eq!(f.tag(), b'Q');
                assert_eq!(f.body(), b"select 1\0");
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    #[test]
    fn pass_run_stops_before_a_whole_frame() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(b'B', b"x"));
        buf.extend_from_slice(&frame(b'Q', b"y\0"));
        let mut s = FrameScanner::new(1 << 20);
        let want = |t: u8| {
            if t == b'Q' {
                Disposition::Whole
            } else {
                Disposition::Pass
            }
        };
        assert!(matches!(
            s.next_chunk(&mut buf, want),
            Ok(Some(Chunk::Pass(_)))
        ));
        assert!(matches!(
            s.next_chunk(&mut buf, want),
            Ok(Some(Chunk::Frame(_)))
        ));
    }

    #[test]
    fn rejects_bad_lengths_before_allocating() {
        let mut s = FrameScanner::new(1024);
        let mut buf = BytesMut::from(&[b'Q', 0, 0, 0, 3][..]);
        assert_eq!(
            s.next_chunk(&mut buf, pass_all),
            Err(FrameError::InvalidLength {
                tag: Tag(b'Q'),
                len: 3
            })
        );
        let mut buf = BytesMut::from(&[b'Q', 0x7f, 0xff, 0xff, 0xff][..]);
        let cap = buf.capacity();
        assert!(matches!(
            s.next_chunk(&mut buf, |_| Disposition::Whole),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(buf.capacity(), cap, "no allocation for an oversized length");
        let mut buf = BytesMut::from(&[b'Q', 0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            s.next_chunk(&mut buf, pass_all),
            Err(FrameError::InvalidLength { .. })
        ));
    }

    /// Found by the `frame_scanner` fuzz target: a pass-through frame
    /// followed in the same read by a bad header was not handed on, while
    /// the same bytes in two reads were.
    #[test]
    fn frames_before_an_error_are_handed_on_whatever_the_reads() {
        let mut input = frame(b'D', b"abcd");
        input.extend_from_slice(&[b'D', 0x7f, 0, 0, 0]);
        for split in [input.len(), 9] {
            let mut s = FrameScanner::new(1024);
            let mut buf = BytesMut::from(&input[..split]);
            let mut out = Vec::new();
            let mut fed = split;
            let err = loop {
                match s.next_chunk(&mut buf, pass_all) {
                    Ok(Some(Chunk::Pass(p))) => out.extend_from_slice(&p),
                    Ok(Some(Chunk::Frame(_))) => panic!("no frame asked for"),
                    Ok(None) if fed < input.len() => {
                        buf.extend_from_slice(&input[fed..]);
                        fed = input.len();
                    }
                    Ok(None) => panic!("the bad header was not noticed"),
                    Err(e) => break e,
                }
            };
            assert_eq!(out, frame(b'D', b"abcd"), "split at {split}");
            assert!(matches!(err, FrameError::TooLarge { .. }));
        }
    }

    #[test]
    fn rejected_types_stop_at_the_header() {
        let mut s = FrameScanner::new(1024);
        let mut buf = BytesMut::from(&[b'!', 0, 0, 0, 4][..]);
        assert_eq!(
            s.next_chunk(&mut buf, |_| Disposition::Reject),
            Err(FrameError::Rejected { tag: Tag(b'!') })
        );
    }

    #[test]
    fn byte_at_a_time_yields_the_same_stream() {
        let mut input = Vec::new();
        for i in 0..50u8 {
            input.extend_from_slice(&frame(
                if i % 7 == 0 { b'Q' } else { b'D' },
                &vec![i; i as usize],
            ));
        }
        let want = |t: u8| {
            if t == b'Q' {
                Disposition::Whole
            } else {
                Disposition::Pass
            }
        };
        let mut s = FrameScanner::new(1 << 20);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut frames = 0;
        for b in &input {
            buf.extend_from_slice(&[*b]);
            while let Some(c) = s.next_chunk(&mut buf, want).expect("scan") {
                match c {
                    Chunk::Pass(p) => out.extend_from_slice(&p),
                    Chunk::Frame(f) => {
                        frames += 1;
                        out.extend_from_slice(f.as_bytes())
                    }
                }
            }
        }
        assert_eq!(out, input);
        assert_eq!(frames, 8);
    }
}
