//! COPY TO STDOUT rewriting: text, CSV and binary streams, split into
//! CopyData messages anywhere.
//!
//! Properties:
//! * split invariance: the stream fed as one CopyData message and the same
//!   bytes fed in arbitrary pieces produce the same output and the same
//!   error, if any;
//! * every output message is one CopyData frame holding one row;
//! * for streams built from rows, each output row has the same fields:
//!   unmasked ones unchanged, masked ones NULL or a valid value of the
//!   column's type (checked by the independent model in `valid`).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pgward::mask::{ColumnMask, CopyError, CopyFormat, CopyMasker, Format};
use pgward_fuzz::{mask_fn, pieces, type_oid, valid, Src};
use std::sync::Arc;

#[derive(Debug)]
struct Input {
    format: CopyFormat,
    cols: Vec<Option<ColumnMask>>,
    /// The rows the stream was built from (`None` when it is raw bytes).
    rows: Option<Vec<Vec<Option<Vec<u8>>>>>,
    header: bool,
    stream: Vec<u8>,
    cuts: Vec<usize>,
    max_row: Option<usize>,
}

fn text_escape(v: &[u8], delim: u8, out: &mut Vec<u8>) {
    for &c in v {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0b => out.extend_from_slice(b"\\v"),
            c if c == delim => {
                out.push(b'\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

fn csv_quote(v: &[u8], delim: u8, quote: u8, escape: u8, null: &[u8], out: &mut Vec<u8>) {
    let needs = v == null
        || v.iter()
            .any(|&c| c == delim || c == quote || c == b'\n' || c == b'\r');
    if !needs {
        out.extend_from_slice(v);
        return;
    }
    out.push(quote);
    for &c in v {
        if c == quote || c == escape {
            out.push(escape);
        }
        out.push(c);
    }
    out.push(quote);
}

fn encode(format: &CopyFormat, header: bool, rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
    let mut s = Vec::new();
    match format {
        CopyFormat::Text {
            delimiter, null, ..
        } => {
            if header {
                s.extend_from_slice(b"h\n");
            }
            for r in rows {
                for (i, f) in r.iter().enumerate() {
                    if i > 0 {
                        s.push(*delimiter);
                    }
                    match f {
                        None => s.extend_from_slice(null),
                        Some(v) => text_escape(v, *delimiter, &mut s),
                    }
                }
                s.push(b'\n');
            }
        }
        CopyFormat::Csv {
            delimiter,
            quote,
            escape,
            null,
            ..
        } => {
            if header {
                s.extend_from_slice(b"h\n");
            }
            for r in rows {
                for (i, f) in r.iter().enumerate() {
                    if i > 0 {
                        s.push(*delimiter);
                    }
                    match f {
                        None => s.extend_from_slice(null),
                        Some(v) => csv_quote(v, *delimiter, *quote, *escape, null, &mut s),
                    }
                }
                s.push(b'\n');
            }
        }
        CopyFormat::Binary => {
            s.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            s.extend_from_slice(&0u32.to_be_bytes());
            s.extend_from_slice(&0i32.to_be_bytes());
            for r in rows {
                s.extend_from_slice(&(r.len() as i16).to_be_bytes());
                for f in r {
                    match f {
                        None => s.extend_from_slice(&(-1i32).to_be_bytes()),
                        Some(v) => {
                            s.extend_from_slice(&(v.len() as i32).to_be_bytes());
                            s.extend_from_slice(v);
                        }
                    }
                }
            }
            s.extend_from_slice(&(-1i16).to_be_bytes());
        }
    }
    s
}

/// The format options PostgreSQL accepts for COPY (copy.c ProcessCopyOptions).
fn server_accepts(f: &CopyFormat) -> bool {
    let nl = |c: u8| c == b'\n' || c == b'\r';
    match f {
        CopyFormat::Text {
            delimiter, null, ..
        } => {
            !nl(*delimiter)
                && !b"\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(delimiter)
                && !null.iter().any(|&c| nl(c) || c == *delimiter)
        }
        CopyFormat::Csv {
            delimiter,
            quote,
            escape,
            null,
            ..
        } => {
            !nl(*delimiter)
                && !nl(*quote)
                && !nl(*escape)
                && delimiter != quote
                && !null
                    .iter()
                    .any(|&c| nl(c) || c == *delimiter || c == *quote)
        }
        CopyFormat::Binary => true,
    }
}

/// Whether the fields of an output row can be told apart again. A text
/// NULL string holding a backslash makes PostgreSQL's own output
/// ambiguous (NULL `x\` then a field reads `x\|...`, as the escaped value
/// `x|...` does), and a masked column written as NULL does the same; such
/// streams are checked for split invariance and rows, not field by field.
fn fields_recoverable(f: &CopyFormat) -> bool {
    match f {
        CopyFormat::Text { null, .. } => !null.contains(&b'\\'),
        _ => true,
    }
}

/// A byte: usually one of `common`, sometimes (a first byte over 200)
/// the next byte as is.
fn byte(s: &mut Src<'_>, common: &[u8]) -> u8 {
    let b = s.u8();
    if b > 200 {
        s.u8()
    } else {
        common[usize::from(b) % common.len()]
    }
}

/// Format: header flag, format (text, csv, binary) with its options, the
/// columns (count; per column a selector, masked unless a multiple of 3,
/// with function and type), read sizes (count, each byte + 1), a row
/// limit flag and limit, and the stream: a flag, then either rows (count;
/// per field a NULL flag or a length byte and the value) or raw bytes.
fn input(data: &[u8]) -> Input {
    let mut s = Src::new(data);
    let header = s.bool();
    let format = match s.u8() % 3 {
        0 => CopyFormat::Text {
            delimiter: byte(&mut s, b"\t,|;"),
            null: match s.u8() % 4 {
                0 | 1 => b"\\N".to_vec(),
                2 => Vec::new(),
                _ => s.field().to_vec(),
            },
            header,
        },
        1 => CopyFormat::Csv {
            delimiter: byte(&mut s, b",;\t|"),
            quote: byte(&mut s, b"\"'"),
            escape: byte(&mut s, b"\"\\'"),
            null: match s.u8() % 3 {
                0 => Vec::new(),
                1 => b"NULL".to_vec(),
                _ => s.field().to_vec(),
            },
            header,
        },
        _ => CopyFormat::Binary,
    };
    let n = usize::from(s.u8() % 6);
    let cols: Vec<Option<ColumnMask>> = (0..n)
        .map(|_| {
            (s.u8() % 3 != 0).then(|| ColumnMask {
                func: Arc::new(mask_fn(&mut s)),
                type_oid: type_oid(&mut s),
                format: Format::Text,
            })
        })
        .collect();
    let k = s.u8() % 9;
    let cuts = (0..k).map(|_| usize::from(s.u8() % 64) + 1).collect();
    let max_row = (s.u8() % 8 == 0).then(|| usize::from(s.u8()));
    let (rows, stream) = if s.bool() {
        let r = s.u8() % 7;
        let rows: Vec<Vec<Option<Vec<u8>>>> = (0..r)
            .map(|_| {
                (0..n)
                    .map(|_| match s.u8() {
                        0..=40 => None,
                        _ => {
                            let len = usize::from(s.u8() % 48);
                            Some(s.bytes(len).to_vec())
                        }
                    })
                    .collect()
            })
            .collect();
        let stream = encode(&format, header, &rows);
        (Some(rows), stream)
    } else {
        (None, s.rest().to_vec())
    };
    Input {
        format,
        cols,
        rows,
        header,
        stream,
        cuts,
        max_row,
    }
}

fn run(input: &Input, chunks: &[&[u8]]) -> (Vec<u8>, Option<CopyError>) {
    let mut m = CopyMasker::new(input.format.clone(), input.cols.clone());
    if let Some(n) = input.max_row {
        m = m.with_max_row(n);
    }
    let mut out = BytesMut::new();
    for c in chunks {
        if let Err(e) = m.feed(c, &mut out) {
            return (out.to_vec(), Some(e));
        }
    }
    let r = m.finish(&mut out).err();
    (out.to_vec(), r)
}

fn bodies(out: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut r = out;
    while !r.is_empty() {
        assert_eq!(r[0], b'd', "output is not CopyData");
        let len = i32::from_be_bytes([r[1], r[2], r[3], r[4]]) as usize;
        assert!(len >= 4 && len + 1 <= r.len(), "CopyData length");
        v.push(&r[5..len + 1]);
        r = &r[len + 1..];
    }
    v
}

/// Splits one text row into raw fields (escapes kept).
fn text_fields(line: &[u8], delim: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'\\' {
            i += 2;
            continue;
        }
        if line[i] == delim {
            out.push(&line[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&line[start.min(line.len())..]);
    out
}

fn text_unescape(f: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < f.len() {
        if f[i] == b'\\' && i + 1 < f.len() {
            out.push(match f[i + 1] {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'v' => 0x0b,
                c => c,
            });
            i += 2;
        } else {
            out.push(f[i]);
            i += 1;
        }
    }
    out
}

/// Splits one CSV row into (decoded value, was quoted).
fn csv_fields(line: &[u8], delim: u8, quote: u8, escape: u8) -> Vec<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut in_q = false;
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if in_q {
            if c == escape
                && i + 1 < line.len()
                && (line[i + 1] == quote || line[i + 1] == escape)
                && !(escape == quote && line[i + 1] != quote)
            {
                cur.push(line[i + 1]);
                i += 2;
                continue;
            }
            if c == quote {
                in_q = false;
            } else {
                cur.push(c);
            }
        } else if c == quote {
            in_q = true;
            quoted = true;
        } else if c == delim {
            out.push((std::mem::take(&mut cur), quoted));
            quoted = false;
        } else {
            cur.push(c);
        }
        i += 1;
    }
    out.push((cur, quoted));
    out
}

fn check_masked(col: usize, m: &ColumnMask, got: Option<&[u8]>) {
    if let Some(v) = got {
        if let Err(why) = valid::value(m.type_oid, false, v) {
            panic!(
                "column {col}: {:?} on {} made {:?}: {why}",
                m.func,
                m.type_oid,
                String::from_utf8_lossy(v)
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let whole = run(&input, &[&input.stream]);
    let split = run(&input, &pieces(&input.stream, &input.cuts));
    // Whether the stream is refused must not depend on the split; which
    // of several problems is met first may (a row limit can trip on a
    // piece before later bytes show a bad signature).
    assert_eq!(
        whole.1.is_some(),
        split.1.is_some(),
        "refusal depends on the split: {:?} / {:?}",
        whole.1,
        split.1
    );
    if whole.1.is_none() {
        assert_eq!(
            whole.0, split.0,
            "the output depends on how the stream was split"
        );
    }
    let out_bodies = bodies(&split.0);
    let Some(rows) = &input.rows else { return };
    if whole.1.is_some() || !server_accepts(&input.format) {
        return;
    }
    let skip = usize::from(input.header && !matches!(input.format, CopyFormat::Binary));
    match &input.format {
        CopyFormat::Text {
            delimiter, null, ..
        } => {
            assert_eq!(out_bodies.len(), rows.len() + skip, "one message per row");
            for (row, body) in rows.iter().zip(&out_bodies[skip..]) {
                let line = body.strip_suffix(b"\n").expect("row ends with a newline");
                if input.cols.is_empty() || !fields_recoverable(&input.format) {
                    continue;
                }
                let f = text_fields(line, *delimiter);
                assert_eq!(f.len(), row.len(), "field count");
                for (i, ((raw, sent), m)) in f.iter().zip(row).zip(&input.cols).enumerate() {
                    match m {
                        None => {
                            let mut want = Vec::new();
                            match sent {
                                None => want.extend_from_slice(null),
                                Some(v) => text_escape(v, *delimiter, &mut want),
                            }
                            assert_eq!(*raw, &want[..], "column {i} changed");
                        }
                        Some(m) => {
                            let got = (*raw != null.as_slice()).then(|| text_unescape(raw));
                            check_masked(i, m, got.as_deref())
                        }
                    }
                }
            }
        }
        CopyFormat::Csv {
            delimiter,
            quote,
            escape,
            null,
            ..
        } => {
            assert_eq!(out_bodies.len(), rows.len() + skip, "one message per row");
            for (row, body) in rows.iter().zip(&out_bodies[skip..]) {
                let line = body.strip_suffix(b"\n").expect("row ends with a newline");
                if input.cols.is_empty() {
                    continue;
                }
                let f = csv_fields(line, *delimiter, *quote, *escape);
                assert_eq!(f.len(), row.len(), "field count");
                for (i, (((v, quoted), sent), m)) in f.iter().zip(row).zip(&input.cols).enumerate()
                {
                    let got = (*quoted || v != null).then_some(v.as_slice());
                    match m {
                        None => assert_eq!(got, sent.as_deref(), "column {i} changed"),
                        Some(m) => check_masked(i, m, got),
                    }
                }
            }
        }
        CopyFormat::Binary => {
            // Header and trailer travel with the first and last tuple.
            let all: Vec<u8> = out_bodies.concat();
            let mut r = all.get(19..).expect("binary header");
            for row in rows {
                let (h, t) = r.split_first_chunk::<2>().expect("tuple count");
                assert_eq!(i16::from_be_bytes(*h) as usize, row.len());
                r = t;
                for (i, (sent, m)) in row.iter().zip(&input.cols).enumerate() {
                    let (h, t) = r.split_first_chunk::<4>().expect("field length");
                    let len = i32::from_be_bytes(*h);
                    r = t;
                    let got = if len == -1 {
                        None
                    } else {
                        let (v, t) = r.split_at(len as usize);
                        r = t;
                        Some(v)
                    };
                    match m {
                        None => assert_eq!(got, sent.as_deref(), "column {i} changed"),
                        Some(m) => {
                            if let Some(v) = got {
                                if let Err(why) = valid::value(m.type_oid, true, v) {
                                    panic!("column {i}: {:?} on {}: {why}", m.func, m.type_oid);
                                }
                            }
                        }
                    }
                }
            }
            assert_eq!(r, &(-1i16).to_be_bytes(), "binary trailer");
        }
    }
});
