//! Rewriting of `COPY ... TO STDOUT` streams.
//!
//! CopyData message boundaries carry no meaning: a row may be split across
//! messages and one message may hold several rows. The masker therefore
//! buffers the unfinished tail of the stream and emits one CopyData message
//! per complete row, which is what PostgreSQL itself sends and what some
//! drivers (that parse each CopyData as one row) rely on. The binary header
//! travels in the same message as the first tuple, as PostgreSQL sends it.
//!
//! Text and CSV rows are assumed to be in an ASCII-compatible encoding where
//! a byte equal to the delimiter, quote, backslash or newline is always that
//! character (true of UTF-8 and all server-side encodings, not of client-only
//! encodings such as SJIS or BIG5, which pgward should not negotiate for
//! connections whose results are masked).

use super::function::Format;
use super::row::ColumnMask;
use super::types::{Emit, Reader};
use bytes::{BufMut, BytesMut};

/// Default bound on one buffered row: PostgreSQL cannot send a field over
/// 1 GiB, and a row arriving in pieces must not grow the buffer without end.
pub const DEFAULT_MAX_COPY_ROW: usize = 1 << 30;

const BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags word and extension length.
const BINARY_HEADER_FIXED: usize = 19;
/// Header flags pgward cannot handle: bit 16 (per-tuple OIDs) changes the
/// tuple layout, and bits 0-15 are "critical" flags a reader must reject.
const BINARY_UNSUPPORTED_FLAGS: u32 = 0x0001_ffff;

/// The format options of the COPY statement being relayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    /// `header` exists because PostgreSQL 15+ accepts HEADER for text too.
    Text {
        delimiter: u8,
        null: Vec<u8>,
        header: bool,
    },
    Csv {
        delimiter: u8,
        quote: u8,
        escape: u8,
        null: Vec<u8>,
        header: bool,
    },
    Binary,
}

impl CopyFormat {
    /// PostgreSQL's text defaults: tab, `\N`, no header.
    pub fn text() -> Self {
        CopyFormat::Text {
            delimiter: b'\t',
            null: b"\\N".to_vec(),
            header: false,
        }
    }

    /// PostgreSQL's CSV defaults: comma, double quote as quote and escape,
    /// empty unquoted string as NULL, no header.
    pub fn csv() -> Self {
        CopyFormat::Csv {
            delimiter: b',',
            quote: b'"',
            escape: b'"',
            null: Vec::new(),
            header: false,
        }
    }

    fn check(&self) -> Option<&'static str> {
        let bad_char = |c: u8| c == b'\n' || c == b'\r';
        match self {
            CopyFormat::Text {
                delimiter, null, ..
            } => {
                if *delimiter == b'\\' || bad_char(*delimiter) {
                    Some("text delimiter cannot be backslash, newline or carriage return")
                } else if null.iter().any(|&c| bad_char(c)) {
                    Some("null string cannot contain newline or carriage return")
                } else {
                    None
                }
            }
            CopyFormat::Csv {
                delimiter,
                quote,
                escape,
                null,
                ..
            } => {
                if bad_char(*delimiter) || bad_char(*quote) || bad_char(*escape) {
                    Some("CSV delimiter, quote and escape cannot be newline or carriage return")
                } else if delimiter == quote {
                    Some("CSV delimiter and quote must differ")
                } else if null.iter().any(|&c| bad_char(c)) {
                    Some("null string cannot contain newline or carriage return")
                } else {
                    None
                }
            }
            CopyFormat::Binary => None,
        }
    }
}

/// A COPY stream pgward cannot rewrite safely; the relay must stop it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    #[error("invalid COPY format options: {0}")]
    Config(&'static str),
    #[error("COPY row exceeds the limit of {limit} bytes")]
    RowTooLarge { limit: usize },
    #[error("COPY row has {got} fields but the output has {expected} columns")]
    FieldCount { got: i64, expected: usize },
    #[error("binary COPY signature is invalid")]
    BadSignature,
    #[error("binary COPY header has unsupported flags {0:#010x}")]
    UnsupportedFlags(u32),
    #[error("binary COPY header extension length {0} is invalid")]
    BadExtension(i32),
    #[error("binary COPY field has invalid length {0}")]
    InvalidLength(i32),
    #[error("data after the end of the binary COPY stream")]
    AfterEnd,
    #[error("COPY stream ended inside a row")]
    Truncated,
    #[error("rewritten COPY row exceeds the protocol's message size")]
    TooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinState {
    Header,
    Tuples,
    Done,
}

/// Incremental rewriter of one COPY TO STDOUT stream.
#[derive(Debug)]
pub struct CopyMasker {
    format: CopyFormat,
    columns: Vec<Option<ColumnMask>>,
    max_row: usize,
    config_error: Option<&'static str>,
    /// Unfinished row (or binary header) carried over between feeds.
    pending: Vec<u8>,
    /// How much of `pending` the row-end scan has already covered, so a row
    /// that arrives in many small pieces is scanned once, not quadratically.
    scanned: usize,
    /// CSV scan state at `scanned`.
    in_quote: bool,
    skip_next: bool,
    header_left: bool,
    bin: BinState,
    /// Binary header bytes waiting to be sent with the first tuple.
    prefix: Vec<u8>,
    saw_data: bool,
    spans: Vec<Span>,
    value: Vec<u8>,
    masked: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    /// CSV: the field had a quoted part, so it cannot be NULL. Binary: the
    /// field is NULL.
    flag: bool,
}

impl CopyMasker {
    /// `columns` has one entry per COPY output column. The format in each
    /// `ColumnMask` is ignored: text and CSV carry text values, binary COPY
    /// binary ones.
    pub fn new(format: CopyFormat, columns: Vec<Option<ColumnMask>>) -> Self {
        let config_error = format.check();
        let header_left = match &format {
            CopyFormat::Text { header, .. } | CopyFormat::Csv { header, .. } => *header,
            CopyFormat::Binary => false,
        };
        CopyMasker {
            format,
            columns,
            max_row: DEFAULT_MAX_COPY_ROW,
            config_error,
            pending: Vec::new(),
            scanned: 0,
            in_quote: false,
            skip_next: false,
            header_left,
            bin: BinState::Header,
            prefix: Vec::new(),
            saw_data: false,
            spans: Vec::new(),
            value: Vec::new(),
            masked: Vec::new(),
        }
    }

    /// Sets the largest row (or binary header) that may be buffered.
    pub fn with_max_row(mut self, max_row: usize) -> Self {
        self.max_row = max_row;
        self
    }

    /// Feeds one CopyData body; appends a CopyData message for every row it
    /// completes. On error nothing from this call is appended and the stream
    /// must be abandoned.
    pub fn feed(&mut self, body: &[u8], out: &mut BytesMut) -> Result<(), CopyError> {
        if let Some(e) = self.config_error {
            return Err(CopyError::Config(e));
        }
        let start = out.len();
        let r = self.feed_inner(body, out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// Ends the stream (at CopyDone). A partial row left over is an error:
    /// forwarding it could leak an unmasked fragment.
    pub fn finish(&mut self, _out: &mut BytesMut) -> Result<(), CopyError> {
        if let Some(e) = self.config_error {
            return Err(CopyError::Config(e));
        }
        match self.format {
            CopyFormat::Binary => match self.bin {
                BinState::Done => Ok(()),
                BinState::Header if !self.saw_data => Ok(()),
                _ => Err(CopyError::Truncated),
            },
            _ if self.pending.is_empty() => Ok(()),
            _ => Err(CopyError::Truncated),
        }
    }

    fn feed_inner(&mut self, body: &[u8], out: &mut BytesMut) -> Result<(), CopyError> {
        if body.is_empty() {
            return Ok(());
        }
        self.saw_data = true;
        if self.pending.is_empty() {
            let used = self.process(body, out)?;
            let rest = body.get(used..).unwrap_or_default();
            self.check_pending(rest.len())?;
            self.pending.extend_from_slice(rest);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(body);
            let used = self.process(&buf, out)?;
            buf.drain(..used.min(buf.len()));
            self.check_pending(buf.len())?;
            self.pending = buf;
        }
        Ok(())
    }

    fn check_pending(&self, n: usize) -> Result<(), CopyError> {
        if n > self.max_row {
            Err(CopyError::RowTooLarge {
                limit: self.max_row,
            })
        } else {
            Ok(())
        }
    }

    /// Emits every complete row in `buf`; returns how many bytes were used.
    fn process(&mut self, buf: &[u8], out: &mut BytesMut) -> Result<usize, CopyError> {
        match self.format {
            CopyFormat::Binary => self.process_binary(buf, out),
            _ => self.process_lines(buf, out),
        }
    }

    fn process_lines(&mut self, buf: &[u8], out: &mut BytesMut) -> Result<usize, CopyError> {
        let mut pos = 0usize;
        loop {
            let from = pos + self.scanned;
            let Some(nl) = self.find_row_end(buf, from) else {
                self.scanned = buf.len() - pos;
                return Ok(pos);
            };
            self.scanned = 0;
            self.in_quote = false;
            self.skip_next = false;
            let line = buf.get(pos..=nl).unwrap_or_default();
            self.check_pending(line.len())?;
            self.emit_line(line, out)?;
            pos = nl + 1;
        }
    }

    /// Index of the newline ending the current row, scanning from `from`.
    fn find_row_end(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let tail = buf.get(from..)?;
        match self.format {
            CopyFormat::Csv { quote, escape, .. } => {
                for (i, &c) in tail.iter().enumerate() {
                    if self.skip_next {
                        self.skip_next = false;
                    } else if self.in_quote {
                        if c == escape && escape != quote {
                            self.skip_next = true;
                        } else if c == quote {
                            self.in_quote = false;
                        }
                    } else if c == quote {
                        self.in_quote = true;
                    } else if c == b'\n' {
                        return Some(from + i);
                    }
                }
                None
            }
            _ => tail.iter().position(|&c| c == b'\n').map(|i| from + i),
        }
    }

    /// Rewrites one line (terminator included) into a CopyData message.
    fn emit_line(&mut self, line: &[u8], out: &mut BytesMut) -> Result<(), CopyError> {
        let at = begin_message(out);
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let (content, terminator) = match body.strip_suffix(b"\r") {
            Some(c) => (c, &b"\r\n"[..]),
            None => (body, &b"\n"[..]),
        };
        let passthrough = std::mem::take(&mut self.header_left) || content == b"\\.";
        if passthrough || self.columns.iter().all(Option::is_none) {
            // Still check the field count when masking is configured, so a
            // mismatched column list is noticed rather than silently wrong.
            if !passthrough && !self.columns.is_empty() {
                self.split(content)?;
            }
            out.put_slice(line);
            return end_message(out, at);
        }
        self.split(content)?;
        let mut copied = 0usize;
        let spans = std::mem::take(&mut self.spans);
        let result = self.rewrite_fields(content, &spans, &mut copied, out);
        self.spans = spans;
        result?;
        out.put_slice(content.get(copied..).unwrap_or_default());
        out.put_slice(terminator);
        end_message(out, at)
    }

    /// Splits a text or CSV line into field spans (in `self.spans`) and
    /// checks the count against the column list.
    fn split(&mut self, content: &[u8]) -> Result<(), CopyError> {
        self.spans.clear();
        if self.columns.is_empty() && content.is_empty() {
            return Ok(());
        }
        match &self.format {
            CopyFormat::Text { delimiter, .. } => {
                let delimiter = *delimiter;
                let mut start = 0usize;
                let mut i = 0usize;
                while let Some(&c) = content.get(i) {
                    if c == b'\\' {
                        i += 2;
                        continue;
                    }
                    if c == delimiter {
                        self.spans.push(Span {
                            start,
                            end: i,
                            flag: false,
                        });
                        start = i + 1;
                    }
                    i += 1;
                }
                self.spans.push(Span {
                    start,
                    end: content.len(),
                    flag: false,
                });
            }
            CopyFormat::Csv {
                delimiter,
                quote,
                escape,
                ..
            } => {
                let (delimiter, quote, escape) = (*delimiter, *quote, *escape);
                let mut start = 0usize;
                let mut saw_quote = false;
                let mut in_quote = false;
                let mut i = 0usize;
                while let Some(&c) = content.get(i) {
                    if in_quote {
                        if c == escape && escape != quote {
                            i += 2;
                            continue;
                        }
                        if c == quote {
                            in_quote = false;
                        }
                    } else if c == quote {
                        in_quote = true;
                        saw_quote = true;
                    } else if c == delimiter {
                        self.spans.push(Span {
                            start,
                            end: i,
                            flag: saw_quote,
                        });
                        start = i + 1;
                        saw_quote = false;
                    }
                    i += 1;
                }
                self.spans.push(Span {
                    start,
                    end: content.len(),
                    flag: saw_quote,
                });
            }
            CopyFormat::Binary => {}
        }
        if self.spans.len() != self.columns.len() {
            return Err(CopyError::FieldCount {
                got: self.spans.len() as i64,
                expected: self.columns.len(),
            });
        }
        Ok(())
    }

    fn rewrite_fields(
        &mut self,
        content: &[u8],
        spans: &[Span],
        copied: &mut usize,
        out: &mut BytesMut,
    ) -> Result<(), CopyError> {
        let single = spans.len() == 1;
        for (span, mask) in spans.iter().zip(self.columns.iter()) {
            let Some(mask) = mask else { continue };
            let raw = content.get(span.start..span.end).unwrap_or_default();
            self.value.clear();
            let decoded = match &self.format {
                CopyFormat::Text { null, .. } => {
                    if raw == null.as_slice() {
                        continue;
                    }
                    decode_text_field(raw, &mut self.value)
                }
                CopyFormat::Csv {
                    quote,
                    escape,
                    null,
                    ..
                } => {
                    if !span.flag && raw == null.as_slice() {
                        continue;
                    }
                    decode_csv_field(raw, *quote, *escape, &mut self.value);
                    true
                }
                CopyFormat::Binary => false,
            };
            out.put_slice(content.get(*copied..span.start).unwrap_or_default());
            *copied = span.end;
            self.masked.clear();
            let masked = decoded
                && matches!(
                    mask.func.apply_into(
                        mask.type_oid,
                        Format::Text,
                        &self.value,
                        &mut self.masked
                    ),
                    Ok(Emit::Value)
                );
            match &self.format {
                CopyFormat::Text {
                    delimiter, null, ..
                } => {
                    if masked {
                        encode_text_field(&self.masked, *delimiter, out);
                    } else {
                        out.put_slice(null);
                    }
                }
                CopyFormat::Csv {
                    delimiter,
                    quote,
                    escape,
                    null,
                    ..
                } => {
                    if masked {
                        encode_csv_field(
                            &self.masked,
                            *delimiter,
                            *quote,
                            *escape,
                            null,
                            single,
                            out,
                        );
                    } else {
                        out.put_slice(null);
                    }
                }
                CopyFormat::Binary => {}
            }
        }
        Ok(())
    }

    fn process_binary(&mut self, buf: &[u8], out: &mut BytesMut) -> Result<usize, CopyError> {
        let mut pos = 0usize;
        loop {
            let avail = buf.get(pos..).unwrap_or_default();
            match self.bin {
                BinState::Header => {
                    let n = avail.len().min(BINARY_SIGNATURE.len());
                    if avail.get(..n) != BINARY_SIGNATURE.get(..n) {
                        return Err(CopyError::BadSignature);
                    }
                    let mut r = Reader::new(avail);
                    let (Some(_), Some(flags), Some(ext)) =
                        (r.take(BINARY_SIGNATURE.len()), r.u32(), r.i32())
                    else {
                        return Ok(pos);
                    };
                    if flags & BINARY_UNSUPPORTED_FLAGS != 0 {
                        return Err(CopyError::UnsupportedFlags(flags));
                    }
                    let ext_len = usize::try_from(ext).map_err(|_| CopyError::BadExtension(ext))?;
                    let total = BINARY_HEADER_FIXED
                        .checked_add(ext_len)
                        .ok_or(CopyError::BadExtension(ext))?;
                    self.check_pending(total)?;
                    let Some(header) = avail.get(..total) else {
                        return Ok(pos);
                    };
                    self.prefix.clear();
                    self.prefix.extend_from_slice(header);
                    pos += total;
                    self.bin = BinState::Tuples;
                }
                BinState::Tuples => {
                    let mut r = Reader::new(avail);
                    let Some(count) = r.i16() else {
                        return Ok(pos);
                    };
                    if count == -1 {
                        let at = begin_message(out);
                        out.put_slice(&self.prefix);
                        out.put_i16(-1);
                        end_message(out, at)?;
                        self.prefix.clear();
                        pos += 2;
                        self.bin = BinState::Done;
                        continue;
                    }
                    if usize::try_from(count).ok() != Some(self.columns.len()) {
                        return Err(CopyError::FieldCount {
                            got: i64::from(count),
                            expected: self.columns.len(),
                        });
                    }
                    self.spans.clear();
                    let mut complete = true;
                    for _ in 0..self.columns.len() {
                        let Some(len) = r.i32() else {
                            complete = false;
                            break;
                        };
                        let start = avail.len() - r.remaining();
                        if len == -1 {
                            self.spans.push(Span {
                                start,
                                end: start,
                                flag: true,
                            });
                            continue;
                        }
                        let n = usize::try_from(len).map_err(|_| CopyError::InvalidLength(len))?;
                        if r.take(n).is_none() {
                            complete = false;
                            break;
                        }
                        self.spans.push(Span {
                            start,
                            end: start + n,
                            flag: false,
                        });
                    }
                    if !complete {
                        self.check_pending(avail.len())?;
                        return Ok(pos);
                    }
                    let tuple_len = avail.len() - r.remaining();
                    // The bound applies to every row, not only to one that
                    // arrives in pieces: whether a stream is refused must
                    // not depend on how it was split into messages.
                    self.check_pending(tuple_len)?;
                    let tuple = avail.get(..tuple_len).unwrap_or_default();
                    self.emit_binary_tuple(tuple, out)?;
                    pos += tuple_len;
                }
                BinState::Done => {
                    if avail.is_empty() {
                        return Ok(pos);
                    }
                    return Err(CopyError::AfterEnd);
                }
            }
        }
    }

    fn emit_binary_tuple(&mut self, tuple: &[u8], out: &mut BytesMut) -> Result<(), CopyError> {
        let at = begin_message(out);
        out.put_slice(&self.prefix);
        self.prefix.clear();
        // Copy runs of unmasked fields; each span's length word sits in the
        // four bytes before `start`.
        let mut copied = 0usize;
        for (span, mask) in self.spans.iter().zip(self.columns.iter()) {
            let (Some(mask), false) = (mask, span.flag) else {
                continue;
            };
            let len_at = span.start.saturating_sub(4);
            out.put_slice(tuple.get(copied..len_at).unwrap_or_default());
            copied = span.end;
            let value = tuple.get(span.start..span.end).unwrap_or_default();
            self.masked.clear();
            match mask
                .func
                .apply_into(mask.type_oid, Format::Binary, value, &mut self.masked)
            {
                Ok(Emit::Value) => {
                    let n = i32::try_from(self.masked.len()).map_err(|_| CopyError::TooLarge)?;
                    out.put_i32(n);
                    out.put_slice(&self.masked);
                }
                Ok(Emit::Null) | Err(_) => out.put_i32(-1),
            }
        }
        out.put_slice(tuple.get(copied..).unwrap_or_default());
        end_message(out, at)
    }
}

fn begin_message(out: &mut BytesMut) -> usize {
    let at = out.len();
    out.put_u8(b'd');
    out.put_i32(0);
    at
}

fn end_message(out: &mut BytesMut, at: usize) -> Result<(), CopyError> {
    let len = i32::try_from(out.len() - at - 1).map_err(|_| CopyError::TooLarge)?;
    if let Some(slot) = out.get_mut(at + 1..at + 5) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Undoes COPY text escaping. Returns false for a dangling backslash, which
/// PostgreSQL never produces.
fn decode_text_field(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0usize;
    while let Some(&c) = raw.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = raw.get(i) else {
            return false;
        };
        i += 1;
        match e {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hex = |c: Option<&u8>| c.and_then(|&c| (c as char).to_digit(16));
                match hex(raw.get(i)) {
                    Some(h) => {
                        i += 1;
                        let mut v = h;
                        if let Some(l) = hex(raw.get(i)) {
                            v = v * 16 + l;
                            i += 1;
                        }
                        out.push(v as u8);
                    }
                    None => out.push(b'x'),
                }
            }
            other => out.push(other),
        }
    }
    true
}

/// COPY text escaping, as PostgreSQL's output does it. Bytes that need no
/// escape are copied in runs, since masked values are mostly plain.
fn encode_text_field(v: &[u8], delimiter: u8, out: &mut BytesMut) {
    let mut run_from = 0usize;
    for (i, &c) in v.iter().enumerate() {
        let esc = match c {
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x0b => b'v',
            c if c == delimiter => c,
            _ => continue,
        };
        out.put_slice(v.get(run_from..i).unwrap_or_default());
        out.put_slice(&[b'\\', esc]);
        run_from = i + 1;
    }
    out.put_slice(v.get(run_from..).unwrap_or_default());
}

/// Undoes CSV quoting: quoted segments may contain escaped quotes (doubled
/// when escape equals quote), unquoted bytes are literal.
fn decode_csv_field(raw: &[u8], quote: u8, escape: u8, out: &mut Vec<u8>) {
    let mut in_quote = false;
    let mut i = 0usize;
    while let Some(&c) = raw.get(i) {
        if !in_quote {
            if c == quote {
                in_quote = true;
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let next = raw.get(i + 1).copied();
        if escape != quote && c == escape && (next == Some(quote) || next == Some(escape)) {
            if let Some(n) = next {
                out.push(n);
            }
            i += 2;
        } else if c == quote {
            if escape == quote && next == Some(quote) {
                out.push(quote);
                i += 2;
            } else {
                in_quote = false;
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
}

/// CSV output quoting, following PostgreSQL: quote when the value could be
/// misread (contains delimiter, quote, CR or LF; equals the null string; or
/// is `\.` alone on a line).
fn encode_csv_field(
    v: &[u8],
    delimiter: u8,
    quote: u8,
    escape: u8,
    null: &[u8],
    single: bool,
    out: &mut BytesMut,
) {
    let needs = v == null
        || (single && v == b"\\.")
        || v.iter()
            .any(|&c| c == delimiter || c == quote || c == b'\n' || c == b'\r');
    if !needs {
        out.put_slice(v);
        return;
    }
    out.put_u8(quote);
    for &c in v {
        if c == quote || c == escape {
            out.put_u8(escape);
        }
        out.put_u8(c);
    }
    out.put_u8(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::function::MaskFn;
    use std::sync::Arc;

    fn mask(func: MaskFn, type_oid: u32) -> Option<ColumnMask> {
        Some(ColumnMask {
            func: Arc::new(func),
            type_oid,
            format: Format::Text,
        })
    }

    /// Splits output into CopyData bodies, checking the framing.
    fn bodies(out: &[u8]) -> Vec<Vec<u8>> {
        let mut r = Reader::new(out);
        let mut v = Vec::new();
        while r.remaining() > 0 {
            assert_eq!(r.take(1), Some(&b"d"[..]));
            let len = r.i32().unwrap_or(-1);
            assert!(len >= 4);
            let body = r.take(len as usize - 4);
            assert!(body.is_some(), "frame past end");
            v.push(body.unwrap_or_default().to_vec());
        }
        v
    }

    fn run(
        format: &CopyFormat,
        cols: &[Option<ColumnMask>],
        chunks: &[&[u8]],
    ) -> Result<Vec<Vec<u8>>, CopyError> {
        let mut m = CopyMasker::new(format.clone(), cols.to_vec());
        let mut out = BytesMut::new();
        for c in chunks {
            m.feed(c, &mut out)?;
        }
        m.finish(&mut out)?;
        Ok(bodies(&out))
    }

    fn lines(v: &[Vec<u8>]) -> Vec<String> {
        v.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    /// Every two-way split and byte-at-a-time feeding give exactly the
    /// messages the unsplit stream gives.
    fn assert_split_invariant(
        format: &CopyFormat,
        cols: &[Option<ColumnMask>],
        stream: &[u8],
    ) -> Vec<Vec<u8>> {
        let whole = run(format, cols, &[stream]);
        assert!(whole.is_ok(), "unsplit: {whole:?}");
        let whole = whole.unwrap_or_default();
        for p in 0..=stream.len() {
            let (a, b) = stream.split_at(p);
            assert_eq!(
                run(format, cols, &[a, b]).as_ref(),
                Ok(&whole),
                "split at {p}"
            );
        }
        let singles: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(
            run(format, cols, &singles).as_ref(),
            Ok(&whole),
            "byte at a time"
        );
        whole
    }

    fn text_cols() -> Vec<Option<ColumnMask>> {
        vec![
            None,
            mask(MaskFn::Partial { first: 1, last: 1 }, 25),
            mask(MaskFn::Redact, 25),
            mask(MaskFn::Email, 1043),
        ]
    }

    #[test]
    fn text_rows_are_masked_one_message_per_row() {
        let stream = b"1\tsecret\t\\N\tbob@x.com\n2\ta\\nb\tfoo\tnone\n3\t\\\\\\t\tx\t\\N\n";
        let out = assert_split_invariant(&CopyFormat::text(), &text_cols(), stream);
        assert_eq!(
            lines(&out),
            [
                "1\ts****t\t\\N\t****@x.com\n",
                "2\ta*b\t****\t****\n",
                "3\t**\t****\t\\N\n"
            ]
        );
    }

    #[test]
    fn text_escapes_are_decoded_and_re_encoded() {
        let cols = vec![
            mask(MaskFn::Fixed("x\ty\\z\n\r\u{8}\u{b}\u{c}".into()), 25),
            None,
        ];
        let out = run(&CopyFormat::text(), &cols, &[b"orig\tkeep\\\\\n"]);
        assert_eq!(
            out.map(|v| lines(&v)),
            Ok(vec!["x\\ty\\\\z\\n\\r\\b\\v\\f\tkeep\\\\\n".to_string()])
        );
        // Octal and hex escapes decode to the bytes they name.
        let h = MaskFn::Hash {
            key: Arc::from(&b"k"[..]),
        };
        let direct = match h.apply(25, Format::Text, b"AB\x01x") {
            Ok(crate::mask::Masked::Value(v)) => v,
            other => panic!("{other:?}"),
        };
        let out = run(
            &CopyFormat::text(),
            &[mask(h, 25)],
            &[b"\\101\\x42\\1\\x\n"],
        );
        let mut want = direct.clone();
        want.push(b'\n');
        assert_eq!(out, Ok(vec![want]));
    }

    #[test]
    fn text_custom_delimiter_and_null() {
        let format = CopyFormat::Text {
            delimiter: b'|',
            null: b"NULL".to_vec(),
            header: false,
        };
        let cols = vec![
            None,
            mask(MaskFn::Fixed("p|q".into()), 25),
            mask(MaskFn::Redact, 25),
        ];
        let stream = b"1|a\\|b|NULL\n2|\\N|x\n";
        let out = assert_split_invariant(&format, &cols, stream);
        assert_eq!(lines(&out), ["1|p\\|q|NULL\n", "2|p\\|q|****\n"]);
    }

    /// PostgreSQL accepts a text-format NULL string ending in a backslash,
    /// and then writes a NULL followed by another field as `x\|...`: the
    /// same bytes as the escaped value `x|...`. A row the masker cannot
    /// split into as many fields as the statement has columns is refused,
    /// never forwarded with a masked column's value in another column.
    #[test]
    fn text_null_ending_in_a_backslash_refuses_rows_it_cannot_split() {
        let format = CopyFormat::Text {
            delimiter: b'|',
            null: b"x\\".to_vec(),
            header: false,
        };
        let cols = vec![None, mask(MaskFn::Redact, 25)];
        // ('a', NULL) as the server writes it: unambiguous, kept as is.
        let out = assert_split_invariant(&format, &cols, b"a|x\\\n");
        assert_eq!(lines(&out), ["a|x\\\n"]);
        // (NULL, 'secret'): one field as far as the escapes go.
        let refused = run(&format, &cols, &[b"x\\|secret\n"]);
        assert_eq!(
            refused,
            Err(CopyError::FieldCount {
                got: 1,
                expected: 2
            })
        );
    }

    #[test]
    fn text_header_and_end_marker_pass_through() {
        let format = CopyFormat::Text {
            delimiter: b'\t',
            null: b"\\N".to_vec(),
            header: true,
        };
        let cols = vec![mask(MaskFn::Redact, 25)];
        let out = assert_split_invariant(&format, &cols, b"name\nalice\n\\.\n");
        assert_eq!(lines(&out), ["name\n", "****\n", "\\.\n"]);
        // CRLF line ends are kept.
        assert_eq!(
            run(&CopyFormat::text(), &cols, &[b"alice\r\n"]).map(|v| lines(&v)),
            Ok(vec!["****\r\n".to_string()])
        );
    }

    #[test]
    fn undecodable_masked_text_fields_become_null() {
        let cols = vec![
            mask(MaskFn::Round { digits: 0 }, 23),
            mask(MaskFn::Redact, 25),
        ];
        let out = run(&CopyFormat::text(), &cols, &[b"12x\tok\\\n"]);
        assert_eq!(out.map(|v| lines(&v)), Ok(vec!["\\N\t\\N\n".to_string()]));
    }

    #[test]
    fn text_structural_errors() {
        let cols = text_cols();
        assert!(matches!(
            run(&CopyFormat::text(), &cols, &[b"1\t2\n"]),
            Err(CopyError::FieldCount {
                got: 2,
                expected: 4
            })
        ));
        assert_eq!(
            run(&CopyFormat::text(), &cols, &[b"1\ta\tb\tc"]),
            Err(CopyError::Truncated)
        );
        let bad = CopyFormat::Text {
            delimiter: b'\\',
            null: vec![],
            header: false,
        };
        assert!(matches!(
            run(&bad, &cols, &[b"x\n"]),
            Err(CopyError::Config(_))
        ));
        // Unmasked columns still have their count checked.
        assert!(run(&CopyFormat::text(), &[None, None], &[b"only-one\n"]).is_err());
        assert_eq!(
            run(&CopyFormat::text(), &[None, None], &[b"a\tb\n"]).map(|v| lines(&v)),
            Ok(vec!["a\tb\n".to_string()])
        );
        assert_eq!(
            run(&CopyFormat::text(), &[], &[b"\n\n"]).map(|v| v.len()),
            Ok(2)
        );
    }

    #[test]
    fn row_size_limit() {
        let cols = vec![mask(MaskFn::Redact, 25)];
        let mut m = CopyMasker::new(CopyFormat::text(), cols.clone()).with_max_row(16);
        let mut out = BytesMut::new();
        assert_eq!(m.feed(b"0123456789", &mut out), Ok(()));
        assert_eq!(
            m.feed(b"0123456789", &mut out),
            Err(CopyError::RowTooLarge { limit: 16 })
        );
        let mut m = CopyMasker::new(CopyFormat::text(), cols).with_max_row(16);
        assert_eq!(m.feed(b"short\nshort\n", &mut out), Ok(()));
        assert_eq!(
            m.feed(b"this line is too long\n", &mut out),
            Err(CopyError::RowTooLarge { limit: 16 })
        );
        let mut m = CopyMasker::new(CopyFormat::Binary, vec![None]).with_max_row(16);
        let mut header = BINARY_SIGNATURE.to_vec();
        header.extend_from_slice(&0u32.to_be_bytes());
        header.extend_from_slice(&100i32.to_be_bytes());
        assert_eq!(
            m.feed(&header, &mut out),
            Err(CopyError::RowTooLarge { limit: 16 })
        );
    }

    /// Found by the `mask_copy` fuzz target: a binary tuple over the row
    /// limit was refused when it arrived in pieces and accepted when it
    /// arrived in one message.
    #[test]
    fn binary_row_limit_holds_however_the_stream_is_split() {
        let mut stream = BINARY_SIGNATURE.to_vec();
        stream.extend_from_slice(&0u32.to_be_bytes());
        stream.extend_from_slice(&0i32.to_be_bytes());
        stream.extend_from_slice(&1i16.to_be_bytes());
        stream.extend_from_slice(&40i32.to_be_bytes());
        stream.extend_from_slice(&[b'x'; 40]);
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        for cut in [stream.len(), 30, 25] {
            let mut m = CopyMasker::new(CopyFormat::Binary, vec![mask(MaskFn::Redact, 25)])
                .with_max_row(32);
            let mut out = BytesMut::new();
            let r = m
                .feed(&stream[..cut], &mut out)
                .and_then(|()| m.feed(&stream[cut..], &mut out));
            assert_eq!(r, Err(CopyError::RowTooLarge { limit: 32 }), "cut at {cut}");
        }
    }

    fn csv_cols() -> Vec<Option<ColumnMask>> {
        vec![
            None,
            mask(MaskFn::Partial { first: 0, last: 0 }, 25),
            mask(MaskFn::Redact, 25),
            mask(MaskFn::Redact, 25),
            None,
        ]
    }

    #[test]
    fn csv_quoting_and_null_rules() {
        let stream = b"1,\"a,b\",,\"\",plain\n2,\"say \"\"hi\"\"\",x,,\"q,\"\"\"\n";
        let out = assert_split_invariant(&CopyFormat::csv(), &csv_cols(), stream);
        assert_eq!(
            lines(&out),
            ["1,***,,****,plain\n", "2,********,****,,\"q,\"\"\"\n"]
        );
    }

    #[test]
    fn csv_quoted_newlines_span_lines() {
        let cols = vec![None, mask(MaskFn::Partial { first: 2, last: 0 }, 25), None];
        let stream = b"1,\"line1\nline2\",\"x\ny\"\n2,\"\r\n\",z\n";
        let out = assert_split_invariant(&CopyFormat::csv(), &cols, stream);
        assert_eq!(lines(&out), ["1,li*********,\"x\ny\"\n", "2,**,z\n"]);
    }

    #[test]
    fn csv_masked_values_are_quoted_when_needed() {
        let fx = |s: &str| mask(MaskFn::Fixed(s.into()), 25);
        let cols = vec![
            fx("a,b"),
            fx("say \"x\""),
            fx(""),
            fx("line\nbreak"),
            fx("plain"),
        ];
        let out = run(&CopyFormat::csv(), &cols, &[b"1,2,3,4,5\n"]);
        assert_eq!(
            out.map(|v| lines(&v)),
            Ok(vec![
                "\"a,b\",\"say \"\"x\"\"\",\"\",\"line\nbreak\",plain\n".to_string()
            ])
        );
        // "\." alone would read as the end marker.
        let out = run(&CopyFormat::csv(), &[fx("\\.")], &[b"x\n"]);
        assert_eq!(out.map(|v| lines(&v)), Ok(vec!["\"\\.\"\n".to_string()]));
    }

    #[test]
    fn csv_custom_quote_escape_delimiter_and_header() {
        let format = CopyFormat::Csv {
            delimiter: b';',
            quote: b'\'',
            escape: b'\\',
            null: b"NULL".to_vec(),
            header: true,
        };
        let cols = vec![
            mask(MaskFn::Fixed("it's;\\".into()), 25),
            mask(MaskFn::Partial { first: 1, last: 0 }, 25),
        ];
        let stream = b"'col;\nname';other\nx;'a\\'b'\nNULL;'NULL'\n";
        let out = assert_split_invariant(&format, &cols, stream);
        assert_eq!(
            lines(&out),
            ["'col;\nname';other\n", "'it\\'s;\\\\';a**\n", "NULL;N***\n",]
        );
    }

    #[test]
    fn csv_errors() {
        assert!(matches!(
            run(&CopyFormat::csv(), &csv_cols(), &[b"1,2\n"]),
            Err(CopyError::FieldCount {
                got: 2,
                expected: 5
            })
        ));
        assert_eq!(
            run(&CopyFormat::csv(), &csv_cols(), &[b"1,\"open\n"]),
            Err(CopyError::Truncated)
        );
        let bad = CopyFormat::Csv {
            delimiter: b'"',
            quote: b'"',
            escape: b'"',
            null: vec![],
            header: false,
        };
        assert!(matches!(
            run(&bad, &csv_cols(), &[b"x\n"]),
            Err(CopyError::Config(_))
        ));
    }

    fn binary_stream(tuples: &[Vec<Option<Vec<u8>>>], ext: &[u8]) -> Vec<u8> {
        let mut s = BINARY_SIGNATURE.to_vec();
        s.extend_from_slice(&0u32.to_be_bytes());
        s.extend_from_slice(&(ext.len() as i32).to_be_bytes());
        s.extend_from_slice(ext);
        for t in tuples {
            s.extend_from_slice(&tuple(t));
        }
        s.extend_from_slice(&(-1i16).to_be_bytes());
        s
    }

    fn tuple(fields: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut s = (fields.len() as i16).to_be_bytes().to_vec();
        for f in fields {
            match f {
                Some(v) => {
                    s.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    s.extend_from_slice(v);
                }
                None => s.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        s
    }

    fn binary_cols() -> Vec<Option<ColumnMask>> {
        vec![
            mask(MaskFn::Round { digits: -2 }, 23),
            None,
            mask(MaskFn::Partial { first: 1, last: 0 }, 25),
            mask(MaskFn::Redact, 25),
        ]
    }

    #[test]
    fn binary_tuples_are_masked_and_framed_like_postgres() {
        let row1 = vec![
            Some(1249i32.to_be_bytes().to_vec()),
            Some(b"keep".to_vec()),
            Some(b"secret".to_vec()),
            None,
        ];
        let row2 = vec![None, None, Some(b"x".to_vec()), Some(b"hide".to_vec())];
        let stream = binary_stream(&[row1, row2], b"ext!");
        let out = assert_split_invariant(&CopyFormat::Binary, &binary_cols(), &stream);
        let header_len = BINARY_HEADER_FIXED + 4;
        assert_eq!(out.len(), 3);
        assert_eq!(&out[0][..header_len], &stream[..header_len]);
        assert_eq!(
            &out[0][header_len..],
            &tuple(&[
                Some(1200i32.to_be_bytes().to_vec()),
                Some(b"keep".to_vec()),
                Some(b"s*****".to_vec()),
                None
            ])[..]
        );
        assert_eq!(
            out[1],
            tuple(&[None, None, Some(b"*".to_vec()), Some(b"****".to_vec())])
        );
        assert_eq!(out[2], (-1i16).to_be_bytes().to_vec());
        // An empty result: header travels with the trailer.
        let empty = binary_stream(&[], b"");
        let out = assert_split_invariant(&CopyFormat::Binary, &binary_cols(), &empty);
        assert_eq!(out, vec![empty.clone()]);
    }

    #[test]
    fn binary_undecodable_field_becomes_null() {
        let row = vec![
            Some(vec![1, 2, 3]),
            None,
            Some(b"\xff".to_vec()),
            Some(b"a".to_vec()),
        ];
        let out = run(
            &CopyFormat::Binary,
            &binary_cols(),
            &[&binary_stream(&[row], b"")],
        );
        let first = out
            .map(|v| v.first().cloned().unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(
            &first[BINARY_HEADER_FIXED..],
            &tuple(&[None, None, None, Some(b"****".to_vec())])[..]
        );
    }

    #[test]
    fn binary_structural_errors() {
        let cols = binary_cols();
        let row = vec![None, None, None, None];
        let good = binary_stream(std::slice::from_ref(&row), b"");
        assert!(run(&CopyFormat::Binary, &cols, &[&good]).is_ok());
        let mut sig = good.clone();
        sig[0] = b'X';
        assert_eq!(
            run(&CopyFormat::Binary, &cols, &[&sig[..1]]),
            Err(CopyError::BadSignature)
        );
        let mut flags = good.clone();
        flags[11..15].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        assert_eq!(
            run(&CopyFormat::Binary, &cols, &[&flags]),
            Err(CopyError::UnsupportedFlags(0x0001_0000))
        );
        let mut harmless = good.clone();
        harmless[11..15].copy_from_slice(&0x8000_0000u32.to_be_bytes());
        assert!(run(&CopyFormat::Binary, &cols, &[&harmless]).is_ok());
        let mut ext = good.clone();
        ext[15..19].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            run(&CopyFormat::Binary, &cols, &[&ext]),
            Err(CopyError::BadExtension(-1))
        );
        let short = binary_stream(&[vec![None]], b"");
        assert!(matches!(
            run(&CopyFormat::Binary, &cols, &[&short]),
            Err(CopyError::FieldCount {
                got: 1,
                expected: 4
            })
        ));
        let mut neg = good.clone();
        neg[19..21].copy_from_slice(&(-5i16).to_be_bytes());
        assert!(matches!(
            run(&CopyFormat::Binary, &cols, &[&neg]),
            Err(CopyError::FieldCount { got: -5, .. })
        ));
        let mut badlen = good.clone();
        badlen[21..25].copy_from_slice(&(-2i32).to_be_bytes());
        assert_eq!(
            run(&CopyFormat::Binary, &cols, &[&badlen]),
            Err(CopyError::InvalidLength(-2))
        );
        let mut after = good.clone();
        after.push(0);
        assert_eq!(
            run(&CopyFormat::Binary, &cols, &[&after]),
            Err(CopyError::AfterEnd)
        );
        for cut in 1..good.len() {
            assert_eq!(
                run(&CopyFormat::Binary, &cols, &[&good[..cut]]),
                Err(CopyError::Truncated),
                "cut {cut}"
            );
        }
        assert_eq!(run(&CopyFormat::Binary, &cols, &[]), Ok(vec![]));
    }

    #[test]
    fn random_streams_never_panic() {
        let formats = [
            (CopyFormat::text(), text_cols()),
            (CopyFormat::csv(), csv_cols()),
            (CopyFormat::Binary, binary_cols()),
        ];
        let seeds: [Vec<u8>; 3] = [
            b"1\tsecret\t\\N\tbob@x.com\n2\ta\\nb\tfoo\tnone\n".to_vec(),
            b"1,\"a,b\",,\"\",plain\n2,\"x\ny\",\"\"\"\",,z\n".to_vec(),
            binary_stream(
                &[vec![
                    Some(1249i32.to_be_bytes().to_vec()),
                    Some(b"k".to_vec()),
                    Some(b"s".to_vec()),
                    None,
                ]],
                b"",
            ),
        ];
        let mut rng = crate::test_rng::XorShift::new(0x2545f4914f6cdd1d);
        let mut next = move || rng.next_u64();
        for round in 0..6000 {
            for ((format, cols), seed) in formats.iter().zip(seeds.iter()) {
                let mut data = seed.clone();
                if round % 3 == 0 {
                    data = (0..(next() % 64)).map(|_| next() as u8).collect();
                } else {
                    for _ in 0..(next() % 3 + 1) {
                        let i = (next() as usize) % data.len();
                        data[i] = next() as u8;
                    }
                }
                let mut m = CopyMasker::new(format.clone(), cols.clone()).with_max_row(48);
                let mut out = BytesMut::new();
                let mut rest = &data[..];
                let mut failed = false;
                while !rest.is_empty() && !failed {
                    let n = ((next() % 8) as usize + 1).min(rest.len());
                    let (chunk, tail) = rest.split_at(n);
                    failed = m.feed(chunk, &mut out).is_err();
                    rest = tail;
                }
                if !failed {
                    let _ = m.finish(&mut out);
                }
                bodies(&out);
            }
        }
    }
}
