//! The messages a denial is replaced with, and the field decoders of the
//! messages the guard reads.

use bytes::{BufMut, Bytes, BytesMut};
use std::sync::OnceLock;

use crate::wire::frame::put_frame;

/// The process-wide marker: an identifier no client statement would use, so
/// the server's error for it can be recognised and replaced.
pub(super) fn marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        format!("pgward_denied_{:016x}", u64::from_be_bytes(b))
    })
}

/// The SQL of a Query body: one NUL-terminated string, nothing after it.
pub(crate) fn query_text(body: &[u8]) -> Option<&[u8]> {
    let (last, text) = body.split_last()?;
    if *last != 0 || text.contains(&0) {
        return None;
    }
    Some(text)
}

/// Statement name, SQL and the parameter-type section (count and OIDs, as
/// sent) of a Parse body.
pub(crate) fn parse_fields(body: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let n1 = body.iter().position(|&b| b == 0)?;
    let rest = &body[n1 + 1..];
    let n2 = rest.iter().position(|&b| b == 0)?;
    let after = &rest[n2 + 1..];
    if after.len() < 2 {
        return None;
    }
    let count = i16::from_be_bytes([after[0], after[1]]);
    if count < 0 || after.len() != 2 + 4 * count as usize {
        return None;
    }
    Some((&body[..n1], &rest[..n2], after))
}

pub(super) fn marker_query() -> Bytes {
    query(marker())
}

/// A Query message carrying `sql`.
pub(super) fn query(sql: &str) -> Bytes {
    let mut body = BytesMut::with_capacity(sql.len() + 1);
    body.extend_from_slice(sql.as_bytes());
    body.put_u8(0);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'Q', &body);
    out.freeze()
}

/// What a Query pgward's parser rejected is replaced with: the server
/// parses the client's text (unnamed, as a simple Query would) without
/// running any of it, then the marker. When the server's grammar rejects the
/// text too, its own error (message, position, detail, hint) is the reply
/// and the marker is skipped; when it accepts it, the marker's error stands
/// for pgward's refusal. One Sync: one ReadyForQuery, as for the Query.
pub(super) fn probe_query(sql: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(sql.len() + 64);
    let mut body = BytesMut::with_capacity(sql.len() + 4);
    body.put_u8(0);
    body.extend_from_slice(sql);
    body.put_u8(0);
    body.put_i16(0);
    put_frame(&mut out, b'P', &body);
    out.extend_from_slice(&marker_parse(b""));
    put_frame(&mut out, b'S', &[]);
    out.freeze()
}

/// What a Parse pgward's parser rejected is replaced with, when it starts
/// its batch: the server parses the client's text under the client's
/// statement name and parameter types; if its grammar accepts it, the
/// statement is closed again (a named one; the marker's Parse replaces an
/// unnamed one) and the marker's error stands for pgward's refusal. If it
/// rejects it, its own error is the reply and the server skips the rest,
/// up to the client's Sync, as it would have.
pub(super) fn probe_parse(name: &[u8], sql: &[u8], params: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(sql.len() + name.len() * 3 + 64);
    let mut body = BytesMut::with_capacity(sql.len() + name.len() + params.len() + 2);
    body.extend_from_slice(name);
    body.put_u8(0);
    body.extend_from_slice(sql);
    body.put_u8(0);
    body.extend_from_slice(params);
    put_frame(&mut out, b'P', &body);
    if !name.is_empty() {
        let mut close = BytesMut::with_capacity(name.len() + 2);
        close.put_u8(b'S');
        close.extend_from_slice(name);
        close.put_u8(0);
        put_frame(&mut out, b'C', &close);
    }
    out.extend_from_slice(&marker_parse(name));
    out.freeze()
}

pub(super) fn marker_parse(name: &[u8]) -> Bytes {
    let mut body = BytesMut::new();
    body.extend_from_slice(name);
    body.put_u8(0);
    body.extend_from_slice(marker().as_bytes());
    body.put_u8(0);
    body.put_i16(0);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'P', &body);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_fields_are_bounded() {
        let mut body = b"s1\0select 1\0".to_vec();
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&23i32.to_be_bytes());
        assert_eq!(
            parse_fields(&body),
            Some((&b"s1"[..], &b"select 1"[..], &body[12..]))
        );
        body.push(0);
        assert_eq!(parse_fields(&body), None, "trailing bytes are refused");
        assert_eq!(
            parse_fields(b"s1\0select 1\0\xff\xff"),
            None,
            "negative count"
        );
        assert_eq!(query_text(b"select 1\0x\0"), None, "embedded NUL");
    }
}
