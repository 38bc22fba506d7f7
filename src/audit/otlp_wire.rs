//! The OTLP logs export request as protobuf bytes, written straight from
//! audit events.
//!
//! Building the generated `LogRecord` types first costs an owned key and an
//! owned value per attribute, a clone of the whole request for tonic, and
//! prost's length pass, which re-measures every nested message at every
//! level. At one event per statement that was most of what the audit trail
//! cost the statement path's cores. Here each record is measured once and
//! written once, into one buffer per batch; the records of a batch are
//! encoded when the batch reaches the spool and shared by every sink. The
//! generated types stay the reference: the tests decode these bytes with
//! them.

use bytes::{BufMut, Bytes};
use prost::encoding::{encode_varint, encoded_len_varint, WireType};

use opentelemetry_proto::tonic::logs::v1::SeverityNumber;

use super::event::{attr, AttrBlock, AttrKey, AttrRef, AttrValue, AuditEvent};

pub const SCOPE_NAME: &str = "pgward.audit";

/// What every request says about its origin.
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    pub service_instance_id: String,
}

/// Denials and failed authentications are warnings: they are what a
/// reviewer filters for first.
pub(crate) fn severity(ev: &AuditEvent) -> (SeverityNumber, &'static str) {
    if ev.warns() {
        (SeverityNumber::Warn, "WARN")
    } else {
        (SeverityNumber::Info, "INFO")
    }
}

/// Bytes taken by a length-delimited field with a `len`-byte body.
fn ld(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn key_len(tag: u32) -> usize {
    encoded_len_varint(u64::from(tag << 3))
}

/// A proto3 string field: absent when empty.
fn str_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        ld(tag, s.len())
    }
}

/// Nearly every varint here (keys, attribute lengths) is one byte: that
/// case is written inline.
#[inline]
fn put_varint(v: u64, buf: &mut impl BufMut) {
    if v < 0x80 {
        buf.put_u8(v as u8);
    } else {
        encode_varint(v, buf);
    }
}

#[inline]
fn put_key(tag: u32, wire: WireType, buf: &mut impl BufMut) {
    put_varint(u64::from(tag << 3 | wire as u32), buf);
}

fn put_ld_header(tag: u32, len: usize, buf: &mut impl BufMut) {
    put_key(tag, WireType::LengthDelimited, buf);
    put_varint(len as u64, buf);
}

fn put_str(tag: u32, s: &str, buf: &mut impl BufMut) {
    if !s.is_empty() {
        put_ld_header(tag, s.len(), buf);
        buf.put_slice(s.as_bytes());
    }
}

// AnyValue: string_value = 1, bool_value = 2, int_value = 3, array_value = 5
// (a oneof: a set member is written even when it holds its default).
// ArrayValue: values = 1. KeyValue: key = 1, value = 2.

fn any_str_len(s: &str) -> usize {
    any_str_len_of(s.as_bytes())
}

fn any_str_len_of(utf8: &[u8]) -> usize {
    ld(1, utf8.len())
}

fn any_len(v: AttrRef<'_>) -> usize {
    match v {
        AttrRef::Str(s) => any_str_len(s),
        AttrRef::Bool(_) => key_len(2) + 1,
        AttrRef::Int(i) => key_len(3) + encoded_len_varint(i as u64),
        AttrRef::StrArray(items) => ld(5, array_len(items)),
    }
}

fn array_len(items: &[String]) -> usize {
    items.iter().map(|s| ld(1, any_str_len(s))).sum()
}

fn put_any_str(s: &str, buf: &mut impl BufMut) {
    put_any_utf8(s.as_bytes(), buf);
}

/// [`put_any_str`] of text already known to be UTF-8, as bytes.
fn put_any_utf8(utf8: &[u8], buf: &mut impl BufMut) {
    put_ld_header(1, utf8.len(), buf);
    buf.put_slice(utf8);
}

fn put_any(v: AttrRef<'_>, buf: &mut impl BufMut) {
    match v {
        AttrRef::Str(s) => put_any_str(s, buf),
        AttrRef::Bool(b) => {
            put_key(2, WireType::Varint, buf);
            buf.put_u8(u8::from(b));
        }
        AttrRef::Int(i) => {
            put_key(3, WireType::Varint, buf);
            put_varint(i as u64, buf);
        }
        AttrRef::StrArray(items) => {
            put_ld_header(5, array_len(items), buf);
            for s in items {
                put_ld_header(1, any_str_len(s), buf);
                put_any_str(s, buf);
            }
        }
    }
}

fn kv_len(key: &str, value_len: usize) -> usize {
    str_len(1, key) + ld(2, value_len)
}

fn put_kv(tag: u32, key: &str, value_len: usize, buf: &mut impl BufMut) {
    let len = kv_len(key, value_len);
    // Nearly every attribute is short: its key, its lengths and the
    // field's tag are one byte each, written as two slices instead of
    // byte by byte.
    if len < 0x80 && !key.is_empty() && tag < 16 {
        // `len` bounds the key's and the value's lengths.
        buf.put_slice(&[
            (tag << 3) as u8 | WireType::LengthDelimited as u8,
            len as u8,
            1 << 3 | WireType::LengthDelimited as u8,
            key.len() as u8,
        ]);
        buf.put_slice(key.as_bytes());
        buf.put_slice(&[2 << 3 | WireType::LengthDelimited as u8, value_len as u8]);
        return;
    }
    put_ld_header(tag, len, buf);
    put_str(1, key, buf);
    put_ld_header(2, value_len, buf);
}

// LogRecord: time_unix_nano = 1 (fixed64), severity_number = 2,
// severity_text = 3, body = 5, attributes = 6, observed_time_unix_nano = 11
// (fixed64), event_name = 12.

fn record_len(ev: &AuditEvent, (number, text): (SeverityNumber, &str)) -> usize {
    let fixed = if ev.ts == 0 { 0 } else { 2 * (key_len(1) + 8) };
    let attrs: usize = ev.blocks().map(|b| block_attrs(b).len()).sum::<usize>()
        + ev.attrs
            .iter()
            .map(|(k, v)| ld(6, kv_len(k, any_len(v.view()))))
            .sum::<usize>();
    fixed
        + key_len(2)
        + encoded_len_varint(number as u64)
        + str_len(3, text)
        + ld(5, any_str_len(ev.kind.as_str()))
        + ld(6, kv_len(attr::EVENT_ID, any_str_len_of(ev.id.as_bytes())))
        + attrs
        + str_len(12, ev.kind.event_name())
}

/// Appends `ev` as one `log_records` field of a `ScopeLogs` message.
pub fn put_record(ev: &AuditEvent, buf: &mut Vec<u8>) {
    let severity = severity(ev);
    let len = record_len(ev, severity);
    buf.reserve(ld(2, len));
    put_ld_header(2, len, buf);
    let (number, text) = severity;
    if ev.ts != 0 {
        put_key(1, WireType::SixtyFourBit, buf);
        buf.put_u64_le(ev.ts);
        // pgward is the source, so it observes the event when it happens.
        put_key(11, WireType::SixtyFourBit, buf);
        buf.put_u64_le(ev.ts);
    }
    put_key(2, WireType::Varint, buf);
    put_varint(number as u64, buf);
    put_str(3, text, buf);
    let kind = ev.kind.as_str();
    put_ld_header(5, any_str_len(kind), buf);
    put_any_str(kind, buf);
    put_kv(6, attr::EVENT_ID, any_str_len_of(ev.id.as_bytes()), buf);
    put_any_utf8(ev.id.as_bytes(), buf);
    for block in ev.blocks() {
        buf.extend_from_slice(block_attrs(block));
    }
    put_attrs(&ev.attrs, buf);
    put_str(12, ev.kind.event_name(), buf);
}

/// Attributes as `attributes` fields of a `LogRecord`.
fn put_attrs(attrs: &[(AttrKey, AttrValue)], buf: &mut Vec<u8>) {
    for (k, v) in attrs {
        let v = v.view();
        put_kv(6, k, any_len(v), buf);
        put_any(v, buf);
    }
}

/// A block's attributes as [`put_attrs`] writes them, encoded once.
fn block_attrs(block: &AttrBlock) -> &[u8] {
    block.otlp.get_or_init(|| {
        let mut b = Vec::with_capacity(block.encoded_len_hint());
        put_attrs(block.attrs(), &mut b);
        b
    })
}

/// Records encoded by [`put_record`], one after another, and where each
/// ends, so a batch can be cut at any event.
#[derive(Debug, Default)]
pub struct Records {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
}

impl<'a> FromIterator<&'a AuditEvent> for Records {
    fn from_iter<I: IntoIterator<Item = &'a AuditEvent>>(events: I) -> Records {
        let mut records = Records::default();
        for ev in events {
            records.push(ev);
        }
        records
    }
}

impl Records {
    /// Room for `events` records of about `bytes` in all, so a batch's
    /// buffer is not grown (and copied) record by record.
    pub fn with_capacity(events: usize, bytes: usize) -> Records {
        Records {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(events),
        }
    }

    pub fn push(&mut self, ev: &AuditEvent) {
        put_record(ev, &mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of events `from..to`.
    pub fn slice(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        let end = if to == 0 { 0 } else { self.ends[to - 1] };
        &self.bytes[start..end]
    }
}

const SERVICE_VERSION: &str = env!("CARGO_PKG_VERSION");

fn resource_kvs(res: &ResourceInfo) -> [(&'static str, &str); 3] {
    [
        ("service.name", "pgward"),
        ("service.instance.id", &res.service_instance_id),
        ("service.version", SERVICE_VERSION),
    ]
}

/// The fields of a request in front of `records` bytes of records, in a
/// buffer with room for `then` more bytes.
fn header(res: &ResourceInfo, records: usize, then: usize) -> Vec<u8> {
    let kvs = resource_kvs(res);
    let resource_len: usize = kvs
        .iter()
        .map(|(k, v)| ld(1, kv_len(k, any_str_len(v))))
        .sum();
    let scope_len = str_len(1, SCOPE_NAME) + str_len(2, SERVICE_VERSION);
    let scope_logs_len = ld(1, scope_len) + records;
    let resource_logs_len = ld(1, resource_len) + ld(2, scope_logs_len);
    let mut buf = Vec::with_capacity(ld(1, resource_logs_len) - records + then);
    put_ld_header(1, resource_logs_len, &mut buf);
    put_ld_header(1, resource_len, &mut buf);
    for (k, v) in kvs {
        put_kv(1, k, any_str_len(v), &mut buf);
        put_any_str(v, &mut buf);
    }
    put_ld_header(2, scope_logs_len, &mut buf);
    put_ld_header(1, scope_len, &mut buf);
    put_str(1, SCOPE_NAME, &mut buf);
    put_str(2, SERVICE_VERSION, &mut buf);
    buf
}

/// The fields of an export request in front of `records` bytes of
/// `log_records` fields (see [`request`]).
pub fn request_head(res: &ResourceInfo, records: usize) -> Vec<u8> {
    header(res, records, 0)
}

/// An export request around `records` (the concatenated `log_records`
/// fields of one scope): one resource, one scope.
pub fn request(res: &ResourceInfo, records: &[u8]) -> Bytes {
    let mut buf = header(res, records.len(), records.len());
    buf.extend_from_slice(records);
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{AttrValue, EventKind};
    use crate::audit::otlp::to_request;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use prost::Message;

    fn events() -> Vec<AuditEvent> {
        let long = "x".repeat(300);
        vec![
            AuditEvent::new(EventKind::Statement)
                .with(attr::DECISION, "deny")
                .with(
                    attr::MASKED_COLUMNS,
                    vec!["a".to_string(), String::new(), long.clone()],
                )
                .with(attr::ROWS, 3i64)
                .with(attr::DURATION_NS, -1i64)
                .with(attr::BYTES_OUT, i64::MAX)
                .with("flag.false", false)
                .with("flag.true", true)
                .with("empty", "")
                .with("", "keyless")
                .with(attr::DB_QUERY_TEXT, long),
            AuditEvent::new(EventKind::SessionStart).with(attr::AUTH_OUTCOME, "failure"),
            {
                let mut e = AuditEvent::new(EventKind::ProxyStop);
                e.id = "".into();
                e.ts = 0;
                e.attrs = vec![(attr::OBJECTS.into(), AttrValue::StrArray(vec![]))];
                e
            },
            AuditEvent::new(EventKind::PolicyReload)
                .with("ünïcode", "日本語")
                .with("shared", AttrValue::Shared("s".into()))
                .with(
                    "shared.list",
                    AttrValue::SharedArray(vec!["x".to_string()].into()),
                )
                .with("fixed", AttrValue::Static("f")),
            blocked(),
            blocked(),
        ]
    }

    /// A statement event in two shared blocks, the statement's a denial.
    fn blocked() -> AuditEvent {
        use std::sync::{Arc, OnceLock};
        static BLOCKS: OnceLock<(Arc<AttrBlock>, Arc<AttrBlock>)> = OnceLock::new();
        let (session, statement) = BLOCKS.get_or_init(|| {
            (
                AttrBlock::new(vec![
                    AuditEvent::system_attr(),
                    (attr::USER_NAME.into(), AttrValue::Str("ünï".into())),
                    (attr::SERVER_PORT.into(), AttrValue::Int(5432)),
                ]),
                AttrBlock::new(vec![
                    (attr::DECISION.into(), AttrValue::Static("deny")),
                    (attr::OBJECTS.into(), AttrValue::StrArray(vec!["t".into()])),
                    (attr::DB_QUERY_TEXT.into(), AttrValue::Str("y".repeat(200))),
                ]),
            )
        });
        let mut e = AuditEvent::with_block(EventKind::Statement, session.clone(), 2);
        e.add_block(statement);
        e.push(attr::ROWS, 0i64);
        e
    }

    #[test]
    fn a_denial_in_a_shared_block_is_a_warning() {
        assert_eq!(severity(&blocked()).0, SeverityNumber::Warn);
        let mut e = blocked();
        e.set(attr::DECISION, "allow");
        assert_eq!(severity(&e).0, SeverityNumber::Info);
        assert_eq!(e.attr_count(), blocked().attr_count());
    }

    fn res() -> ResourceInfo {
        ResourceInfo {
            service_instance_id: "instance-1".into(),
        }
    }

    #[test]
    fn decodes_to_what_the_generated_types_build() {
        let evs = events();
        let recs: Records = evs.iter().collect();
        let bytes = request(&res(), &recs.bytes);
        let decoded = match ExportLogsServiceRequest::decode(bytes.as_ref()) {
            Ok(d) => d,
            Err(e) => panic!("hand-written request does not decode: {e}"),
        };
        assert_eq!(decoded, to_request(&evs, &res()));
        // Same size as prost's own encoding: no field written twice or
        // with a wider length prefix than needed.
        assert_eq!(bytes.len(), to_request(&evs, &res()).encoded_len());
    }

    #[test]
    fn any_cut_of_a_batch_is_a_request_for_those_events() {
        let evs = events();
        let recs: Records = evs.iter().collect();
        for from in 0..=evs.len() {
            for to in from..=evs.len() {
                let bytes = request(&res(), recs.slice(from, to));
                let decoded = ExportLogsServiceRequest::decode(bytes.as_ref());
                assert_eq!(
                    decoded.ok(),
                    Some(to_request(&evs[from..to], &res())),
                    "events {from}..{to}"
                );
            }
        }
    }
}
