//! An audit event as one JSON line, the spool's record format.
//!
//! Written by hand rather than through serde: every statement's event
//! passes through here, and serde_json inspects every byte of every string
//! on its own (in a governed `pgbench -S -M prepared` run the string
//! escaper alone was an eighth of pgward's instructions). Strings here are
//! checked sixteen bytes at a time and copied in one piece when nothing
//! needs escaping, which is nearly always. The output is byte for byte what
//! serde_json writes for the same event (the tests compare the two), so
//! readers of the spool (`AuditEvent`'s `Deserialize`, `pgward audit tail`,
//! anything a user points at the files) see no difference.

use std::borrow::Cow;

use super::event::{AttrKey, AttrRef, AttrValue, AuditEvent};

/// `ev` as one JSON line, newline included.
pub fn to_vec(ev: &AuditEvent) -> Vec<u8> {
    let mut line = Vec::with_capacity(512);
    write(ev, &mut line);
    line
}

/// Appends `ev` as one JSON line, newline included.
pub fn write(ev: &AuditEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    put_utf8(ev.id.as_bytes(), out);
    out.extend_from_slice(b",\"ts\":");
    out.extend_from_slice(itoa::Buffer::new().format(ev.ts).as_bytes());
    out.extend_from_slice(b",\"kind\":");
    put_str(ev.kind.as_str(), out);
    out.extend_from_slice(b",\"attrs\":{");
    let mut first = true;
    let mut comma = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    for block in ev.blocks() {
        let fragment = block.json.get_or_init(|| {
            let mut f = Vec::with_capacity(block.encoded_len_hint());
            put_attrs(block.attrs(), &mut f);
            f
        });
        if !fragment.is_empty() {
            comma(out);
            out.extend_from_slice(fragment);
        }
    }
    if !ev.attrs.is_empty() {
        comma(out);
        put_attrs(&ev.attrs, out);
    }
    out.extend_from_slice(b"}}\n");
}

/// `"key":value` pairs, comma-separated.
fn put_attrs(attrs: &[(AttrKey, AttrValue)], out: &mut Vec<u8>) {
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_key(k, out);
        match v.view() {
            AttrRef::Bool(true) => out.extend_from_slice(b"true"),
            AttrRef::Bool(false) => out.extend_from_slice(b"false"),
            AttrRef::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            AttrRef::Str(s) => put_str(s, out),
            AttrRef::StrArray(items) => {
                out.push(b'[');
                for (j, s) in items.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    put_str(s, out);
                }
                out.push(b']');
            }
        }
    }
}

/// `"key":`. A key the program names is one of its own constants, none of
/// which needs escaping (a test checks every one), so it is copied without
/// being looked at; only keys read back from a spool line are escaped.
fn put_key(key: &AttrKey, out: &mut Vec<u8>) {
    match key {
        Cow::Borrowed(k) => {
            debug_assert!(!k.bytes().any(must_escape), "key {k:?}");
            out.reserve(k.len() + 3);
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
        }
        Cow::Owned(k) => {
            put_str(k, out);
            out.push(b':');
        }
    }
}

fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Does any byte of this block need escaping? Blocks are sixteen bytes
/// and the fold has no early exit, so it compiles to a few vector compares.
fn block_needs_escape(block: &[u8]) -> bool {
    block
        .iter()
        .fold(0u8, |any, &b| any | u8::from(must_escape(b)))
        != 0
}

/// Where the first byte at or after `from` that must be escaped is.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut blocks = bytes.get(from..)?.chunks_exact(16);
    let mut at = from;
    for block in blocks.by_ref() {
        if block_needs_escape(block) {
            return block.iter().position(|&b| must_escape(b)).map(|p| at + p);
        }
        at += 16;
    }
    // The tail, padded with a byte that never needs escaping.
    let tail = blocks.remainder();
    let mut block = [b'a'; 16];
    block[..tail.len()].copy_from_slice(tail);
    if block_needs_escape(&block) {
        tail.iter().position(|&b| must_escape(b)).map(|p| at + p)
    } else {
        None
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string, escaped as serde_json escapes it.
fn put_str(s: &str, out: &mut Vec<u8>) {
    put_utf8(s.as_bytes(), out);
}

/// [`put_str`] of text already known to be UTF-8, as bytes.
fn put_utf8(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        let b = bytes[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{attr, AttrBlock, EventKind};
    use std::sync::Arc;

    fn via_serde(ev: &AuditEvent) -> Vec<u8> {
        let mut v = serde_json::to_vec(ev).expect("serde");
        v.push(b'\n');
        v
    }

    fn ours(ev: &AuditEvent) -> Vec<u8> {
        let mut v = Vec::new();
        write(ev, &mut v);
        v
    }

    /// Every byte that is escaped, at every position relative to a chunk,
    /// beside multi-byte characters.
    fn awkward_strings() -> Vec<String> {
        let mut out = vec![
            String::new(),
            "plain".into(),
            "a\"b\\c".into(),
            "é — ü 😀 \u{7f} \u{2028}".into(),
        ];
        for b in 0u8..0x20 {
            for at in [0usize, 1, 15, 16, 17, 31, 40] {
                let mut s = "x".repeat(at);
                s.push(char::from(b));
                s.push_str("yé");
                out.push(s);
            }
        }
        out.push("\"".repeat(33));
        out.push("\\".repeat(17) + "q");
        out
    }

    #[test]
    fn lines_are_what_serde_json_writes() {
        for kind in [
            EventKind::Statement,
            EventKind::SessionStart,
            EventKind::SessionEnd,
            EventKind::PolicyReload,
        ] {
            for s in awkward_strings() {
                let mut ev = AuditEvent::new(kind);
                ev.id = s.as_str().into();
                ev.ts = u64::MAX;
                ev.set("pgward.str", s.clone());
                ev.set(s.clone(), -42i64);
                ev.set("pgward.min", i64::MIN);
                ev.set("pgward.yes", true);
                ev.set("pgward.no", false);
                ev.set("pgward.list", vec![s.clone(), String::new(), "b".into()]);
                ev.attrs.push((
                    "pgward.shared".into(),
                    AttrValue::Shared(Arc::from(s.as_str())),
                ));
                ev.attrs
                    .push(("pgward.empty".into(), AttrValue::StrArray(Vec::new())));
                assert_eq!(
                    String::from_utf8(ours(&ev)).expect("utf8"),
                    String::from_utf8(via_serde(&ev)).expect("utf8"),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn lines_read_back_as_the_same_event() {
        for s in awkward_strings() {
            let ev = AuditEvent::new(EventKind::Statement).with("db.query.text", s.clone());
            let line = ours(&ev);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
            let back: AuditEvent = serde_json::from_slice(&line).expect("parses");
            assert_eq!(back, ev);
        }
    }

    /// An event that keeps attributes in shared blocks, and the same
    /// attributes kept as its own.
    fn blocked(s: &str, session: &Arc<AttrBlock>) -> (AuditEvent, AuditEvent) {
        let statement = AttrBlock::new(vec![
            (attr::DECISION.into(), AttrValue::Static("allow")),
            (attr::DB_QUERY_TEXT.into(), AttrValue::Str(s.to_owned())),
            (
                attr::OBJECTS.into(),
                AttrValue::StrArray(vec![s.to_owned()]),
            ),
        ]);
        let mut ev = AuditEvent::with_block(EventKind::Statement, session.clone(), 4);
        ev.add_block(&statement);
        ev.push(attr::TOOL, s);
        ev.push(attr::ROWS, 7i64);
        let mut flat = AuditEvent::new(EventKind::Statement);
        flat.attrs.clear();
        flat.attrs.extend(ev.all_attrs().cloned());
        flat.id = ev.id.clone();
        flat.ts = ev.ts;
        (ev, flat)
    }

    /// Keys the program names are copied without being escaped: none of
    /// them may need it.
    #[test]
    fn no_named_key_needs_escaping() {
        use crate::session::events;
        let keys = [
            attr::DB_SYSTEM_NAME,
            attr::DB_NAMESPACE,
            attr::DB_OPERATION_NAME,
            attr::DB_COLLECTION_NAME,
            attr::DB_QUERY_TEXT,
            attr::DB_RESPONSE_STATUS_CODE,
            attr::SERVER_ADDRESS,
            attr::SERVER_PORT,
            attr::CLIENT_ADDRESS,
            attr::USER_NAME,
            attr::SESSION_ID,
            attr::SECURITY_RULE_NAME,
            attr::PROFILE,
            attr::DECISION,
            attr::BRANCH,
            attr::TOOL,
            attr::MASKED_COLUMNS,
            attr::ROWS,
            attr::DURATION_NS,
            attr::BYTES_IN,
            attr::BYTES_OUT,
            attr::AUTH_OUTCOME,
            attr::STATEMENT_CLASS,
            attr::OBJECTS,
            attr::ROW_FILTERS,
            attr::AUDIT_DROPPED,
            attr::EVENT_ID,
            events::STATEMENT_ID,
            events::PHASE,
            events::PARENT_TRACEPARENT,
            events::TRACEPARENT,
            crate::session::STATEMENTS,
        ];
        for k in keys {
            assert!(!k.bytes().any(must_escape), "{k:?}");
            let mut ev = AuditEvent::new(EventKind::Statement);
            ev.set(k, 1i64);
            assert_eq!(ours(&ev), via_serde(&ev), "{k:?}");
        }
    }

    #[test]
    fn shared_blocks_write_what_their_attributes_would() {
        let session = AttrBlock::new(vec![
            AuditEvent::system_attr(),
            (attr::USER_NAME.into(), AttrValue::Str("app\"".into())),
            (attr::SERVER_PORT.into(), AttrValue::Int(5432)),
        ]);
        for s in awkward_strings() {
            // Twice: the second line comes from the session block's cache.
            for _ in 0..2 {
                let (ev, flat) = blocked(&s, &session);
                assert_eq!(ev.attr_count(), 8);
                assert_eq!(ev, flat);
                let line = ours(&ev);
                assert_eq!(line, ours(&flat), "{s:?}");
                assert_eq!(line, via_serde(&ev), "{s:?}");
                let back: AuditEvent = serde_json::from_slice(&line).expect("parses");
                assert_eq!(back, ev);
            }
        }
        // An empty block adds no stray comma.
        let mut ev = AuditEvent::with_block(EventKind::ProxyStart, AttrBlock::new(vec![]), 1);
        assert_eq!(ours(&ev), via_serde(&ev));
        ev.push(attr::ROWS, 1i64);
        assert_eq!(ours(&ev), via_serde(&ev));
    }
}
