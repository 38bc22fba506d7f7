//! Server messages can quote data: `invalid input syntax for type integer:
//! "123-45-6789"`, `Key (email)=(alice@example.com) already exists`, a
//! function's RAISE NOTICE. For requests that read masked relations, error
//! and notice texts are replaced; the fields that name things (SQLSTATE,
//! severity, position, constraint, table, column) are kept so clients and
//! people can still act on the error.

use bytes::{BufMut, Bytes, BytesMut};

/// What replaces the server's message.
pub const WITHHELD: &str =
    "message text withheld by pgward: the statement reads masked columns (the SQLSTATE is the server's)";

/// Fields that cannot carry column values.
fn keep(field: u8) -> bool {
    matches!(
        field,
        b'S' | b'V' | b'C' | b'P' | b'n' | b't' | b'c' | b's' | b'd' | b'F' | b'L' | b'R'
    )
}

/// Rewrites an ErrorResponse or NoticeResponse frame (`tag` is `E` or `N`,
/// `body` its fields). `None` if the body is malformed (the caller then
/// sends a generic message instead).
pub fn scrub(tag: u8, body: &[u8]) -> Option<Bytes> {
    let mut out = BytesMut::with_capacity(body.len().min(512) + WITHHELD.len() + 8);
    out.put_u8(tag);
    out.put_i32(0);
    let mut rest = body;
    let mut wrote_message = false;
    loop {
        let (&field, tail) = rest.split_first()?;
        if field == 0 {
            if !tail.is_empty() {
                return None;
            }
            break;
        }
        let nul = tail.iter().position(|&b| b == 0)?;
        let value = &tail[..nul];
        rest = &tail[nul + 1..];
        if field == b'M' {
            out.put_u8(b'M');
            out.extend_from_slice(WITHHELD.as_bytes());
            out.put_u8(0);
            wrote_message = true;
        } else if keep(field) {
            out.put_u8(field);
            out.extend_from_slice(value);
            out.put_u8(0);
        }
    }
    if !wrote_message {
        out.put_u8(b'M');
        out.extend_from_slice(WITHHELD.as_bytes());
        out.put_u8(0);
    }
    out.put_u8(0);
    let len = i32::try_from(out.len() - 1).ok()?;
    out[1..5].copy_from_slice(&len.to_be_bytes());
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_codes_and_drops_text() {
        let body = b"SERROR\0VERROR\0C22P02\0Minvalid input syntax for type integer: \"123-45-6789\"\0DKey (ssn)=(123-45-6789)\0P8\0Wsome context\0\0";
        let out = scrub(b'E', body).expect("well-formed");
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("123-45-6789"), "{text}");
        assert!(text.contains("C22P02"));
        assert!(text.contains("P8"));
        assert!(text.contains(WITHHELD));
        assert_eq!(out[0], b'E');
        let len = i32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
        assert_eq!(len, out.len() - 1);
        assert!(scrub(b'E', b"Mno terminator").is_none());
        assert!(scrub(b'E', b"\0extra").is_none());
    }
}
