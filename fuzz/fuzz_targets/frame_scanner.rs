//! The frame scanner, both directions, fed in arbitrary reads.
//!
//! Property: whatever the split of the input into reads, the scanner's
//! output (Pass chunks and Frame bytes, in order) is exactly a prefix of the
//! input, and that prefix, the frames handed over whole and the error (if
//! any) are the ones a one-shot reference framer computes from the whole
//! input. A Pass chunk never covers the start of a frame the caller asked to
//! see, and a Frame chunk is exactly one such frame.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pgward::fuzzing::RelayMode;
use pgward::wire::{Chunk, Disposition, FrameError, FrameScanner, Tag};
use pgward_fuzz::Src;

#[derive(Debug)]
struct Input<'a> {
    mode: Option<RelayMode>,
    /// For the arbitrary-table mode: 2 bits of disposition per tag, hashed.
    table_seed: u64,
    max_len: usize,
    reads: Vec<usize>,
    data: &'a [u8],
}

/// Format: mode, table seed (8), limit kind and limit, read count and
/// read sizes (each byte + 1), then the stream.
fn input(data: &[u8]) -> Input<'_> {
    let mut s = Src::new(data);
    let m = usize::from(s.u8()) % (RelayMode::ALL.len() + 1);
    let mode = RelayMode::ALL.get(m).copied();
    let b = s.bytes(8);
    let mut seed = [0u8; 8];
    seed[..b.len()].copy_from_slice(b);
    let table_seed = u64::from_be_bytes(seed);
    let max_len = match s.u8() % 4 {
        0 => usize::from(s.u8()) % 65,
        1 => usize::from(s.u16()) % 4097,
        _ => 1 << 20,
    };
    let n = s.u8() % 17;
    let reads = (0..n).map(|_| usize::from(s.u8()) + 1).collect();
    Input {
        mode,
        table_seed,
        max_len,
        reads,
        data: s.rest(),
    }
}

fn table(seed: u64, tag: u8) -> Disposition {
    let h = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(u32::from(tag % 61))
        ^ u64::from(tag).wrapping_mul(0xff51_afd7_ed55_8ccd);
    match h % 3 {
        0 => Disposition::Pass,
        1 => Disposition::Whole,
        _ => Disposition::Reject,
    }
}

/// What the reference framer makes of the whole input at once.
struct Expected {
    /// Bytes of the input the scanner must have handed on.
    accepted: usize,
    /// (start, end) of every frame collected whole.
    whole: Vec<(usize, usize)>,
    error: Option<FrameError>,
}

fn reference(data: &[u8], max_len: usize, disp: &dyn Fn(u8) -> Disposition) -> Expected {
    let mut at = 0;
    let mut whole = Vec::new();
    loop {
        let rest = &data[at..];
        if rest.len() < 5 {
            return Expected {
                accepted: at,
                whole,
                error: None,
            };
        }
        let tag = rest[0];
        let len = i32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
        let error = if len < 4 {
            Some(FrameError::InvalidLength { tag: Tag(tag), len })
        } else if len as usize > max_len {
            Some(FrameError::TooLarge {
                tag: Tag(tag),
                len: len as usize,
                limit: max_len,
            })
        } else if disp(tag) == Disposition::Reject {
            Some(FrameError::Rejected { tag: Tag(tag) })
        } else {
            None
        };
        if error.is_some() {
            return Expected {
                accepted: at,
                whole,
                error,
            };
        }
        let total = len as usize + 1;
        if rest.len() < total {
            // An incomplete frame: a pass-through one is streamed as far as
            // it has arrived, a whole one waits.
            let accepted = match disp(tag) {
                Disposition::Pass => data.len(),
                _ => at,
            };
            return Expected {
                accepted,
                whole,
                error: None,
            };
        }
        if disp(tag) == Disposition::Whole {
            whole.push((at, at + total));
        }
        at += total;
    }
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let seed = input.table_seed;
    let disp: Box<dyn Fn(u8) -> Disposition> = match input.mode {
        Some(m) => Box::new(m.disposition()),
        None => Box::new(move |t| table(seed, t)),
    };
    let expected = reference(input.data, input.max_len, &*disp);

    let mut scanner = FrameScanner::new(input.max_len);
    let mut buf = BytesMut::new();
    let mut out: Vec<u8> = Vec::new();
    let mut whole = Vec::new();
    let mut error = None;
    let mut fed = 0;
    let mut read = 0;
    'feed: while fed < input.data.len() {
        let n = if input.reads.is_empty() {
            input.data.len()
        } else {
            input.reads[read % input.reads.len()]
        };
        read += 1;
        let end = (fed + n).min(input.data.len());
        buf.extend_from_slice(&input.data[fed..end]);
        fed = end;
        loop {
            match scanner.next_chunk(&mut buf, &*disp) {
                Ok(Some(Chunk::Pass(b))) => {
                    assert!(!b.is_empty(), "empty Pass chunk");
                    // No frame the caller must see may start inside a Pass run.
                    let start = out.len();
                    for &(ws, _) in &expected.whole {
                        assert!(
                            ws < start || ws >= start + b.len(),
                            "Pass chunk [{start}, {}) covers a whole frame at {ws}",
                            start + b.len()
                        );
                    }
                    out.extend_from_slice(&b);
                }
                Ok(Some(Chunk::Frame(f))) => {
                    let start = out.len();
                    assert_eq!(disp(f.tag()), Disposition::Whole);
                    assert_eq!(f.len(), f.body().len() + 5);
                    whole.push((start, start + f.len()));
                    out.extend_from_slice(f.as_bytes());
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(
        error, expected.error,
        "error for {:?} in mode {:?}",
        input.data, input.mode
    );
    assert_eq!(
        out.len(),
        expected.accepted,
        "accepted prefix length for {:?} read as {:?} in mode {:?} (max {})",
        input.data,
        input.reads,
        input.mode,
        input.max_len
    );
    assert_eq!(
        &out[..],
        &input.data[..expected.accepted],
        "forwarded bytes"
    );
    assert_eq!(whole, expected.whole, "frames collected whole");
    // Nothing is owed once the input ended on a frame boundary.
    if expected.error.is_none() && expected.accepted == input.data.len() {
        let last_complete = reference_ends_on_boundary(input.data, input.max_len);
        if last_complete {
            assert!(!scanner.mid_frame(), "mid_frame after a complete stream");
        }
    }
});

/// True when the input is a sequence of complete frames.
fn reference_ends_on_boundary(data: &[u8], _max_len: usize) -> bool {
    let mut at = 0;
    while data.len() - at >= 5 {
        let len = i32::from_be_bytes([data[at + 1], data[at + 2], data[at + 3], data[at + 4]]);
        if len < 4 {
            return false;
        }
        at += len as usize + 1;
        if at > data.len() {
            return false;
        }
    }
    at == data.len()
}
