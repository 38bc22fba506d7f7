//! One audit event: what happened, when, with which facts, under an id that
//! stays unique across restarts so a downstream store can drop the duplicates
//! that at-least-once delivery produces.
//!
//! Attributes are an ordered list rather than a struct so that a new fact is
//! one more `with(...)` call and one more key constant, not a schema change in
//! the spool, the JSON line and the OTLP mapping at once.

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use super::event_id::event_id_at;
pub use super::event_id::{new_event_id, unix_nanos, EventId};

/// Attribute keys. OpenTelemetry semantic-convention names where one exists,
/// `pgward.*` otherwise.
pub mod attr {
    pub const DB_SYSTEM_NAME: &str = "db.system.name";
    pub const DB_NAMESPACE: &str = "db.namespace";
    pub const DB_OPERATION_NAME: &str = "db.operation.name";
    pub const DB_COLLECTION_NAME: &str = "db.collection.name";
    pub const DB_QUERY_TEXT: &str = "db.query.text";
    pub const DB_RESPONSE_STATUS_CODE: &str = "db.response.status_code";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const SERVER_PORT: &str = "server.port";
    pub const CLIENT_ADDRESS: &str = "client.address";
    pub const USER_NAME: &str = "user.name";
    pub const SESSION_ID: &str = "session.id";
    pub const SECURITY_RULE_NAME: &str = "security_rule.name";
    pub const PROFILE: &str = "pgward.profile";
    pub const DECISION: &str = "pgward.decision";
    pub const BRANCH: &str = "pgward.branch";
    pub const TOOL: &str = "pgward.tool";
    pub const MASKED_COLUMNS: &str = "pgward.masked_columns";
    pub const ROWS: &str = "pgward.rows";
    pub const DURATION_NS: &str = "pgward.duration_ns";
    pub const BYTES_IN: &str = "pgward.bytes_in";
    pub const BYTES_OUT: &str = "pgward.bytes_out";
    pub const AUTH_OUTCOME: &str = "pgward.auth.outcome";
    pub const STATEMENT_CLASS: &str = "pgward.statement.class";
    pub const OBJECTS: &str = "pgward.objects";
    /// Row filters (by name) that apply to the tables a statement names.
    pub const ROW_FILTERS: &str = "pgward.row_filters";
    /// Events lost to an overflow policy since the previous written event.
    pub const AUDIT_DROPPED: &str = "pgward.audit.dropped";
    /// The event id, repeated as an attribute on the OTLP record, where a log
    /// record has no id field of its own.
    pub const EVENT_ID: &str = "pgward.event.id";
}

/// Longest string attribute kept, in bytes. A full statement text can be
/// megabytes; the spool line, the queue slot and the OTLP batch all scale
/// with it, so one huge statement must not be able to blow their bounds.
pub const MAX_STR_BYTES: usize = 32 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SessionStart,
    SessionEnd,
    Statement,
    PolicyReload,
    ProxyStart,
    ProxyStop,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStart => "session_start",
            EventKind::SessionEnd => "session_end",
            EventKind::Statement => "statement",
            EventKind::PolicyReload => "policy_reload",
            EventKind::ProxyStart => "proxy_start",
            EventKind::ProxyStop => "proxy_stop",
        }
    }

    /// The OTLP event name: namespaced so it cannot collide with other
    /// producers' events in a shared backend.
    pub fn event_name(self) -> &'static str {
        match self {
            EventKind::SessionStart => "pgward.session.start",
            EventKind::SessionEnd => "pgward.session.end",
            EventKind::Statement => "pgward.statement",
            EventKind::PolicyReload => "pgward.policy.reload",
            EventKind::ProxyStart => "pgward.proxy.start",
            EventKind::ProxyStop => "pgward.proxy.stop",
        }
    }
}

/// An attribute value. The shared forms exist for what many events repeat
/// (a session's user and address, a prepared statement's objects and
/// text): an event per statement then copies pointers, not strings.
#[derive(Clone, Debug)]
pub enum AttrValue {
    Bool(bool),
    Int(i64),
    Str(String),
    StrArray(Vec<String>),
    Shared(Arc<str>),
    SharedArray(Arc<[String]>),
    Static(&'static str),
}

/// What an [`AttrValue`] holds, whichever form it is kept in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrRef<'a> {
    Bool(bool),
    Int(i64),
    Str(&'a str),
    StrArray(&'a [String]),
}

impl AttrValue {
    pub fn view(&self) -> AttrRef<'_> {
        match self {
            AttrValue::Bool(b) => AttrRef::Bool(*b),
            AttrValue::Int(i) => AttrRef::Int(*i),
            AttrValue::Str(s) => AttrRef::Str(s),
            AttrValue::Shared(s) => AttrRef::Str(s),
            AttrValue::Static(s) => AttrRef::Str(s),
            AttrValue::StrArray(a) => AttrRef::StrArray(a),
            AttrValue::SharedArray(a) => AttrRef::StrArray(a),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.view() {
            AttrRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The same value in a form that is cheap to clone.
    pub fn shared(self) -> AttrValue {
        match self {
            AttrValue::Str(s) => AttrValue::Shared(s.into()),
            AttrValue::StrArray(a) => AttrValue::SharedArray(a.into()),
            v => v,
        }
    }
}

/// Equal when they hold the same value, whatever the form.
impl PartialEq for AttrValue {
    fn eq(&self, other: &AttrValue) -> bool {
        self.view() == other.view()
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.view() {
            AttrRef::Bool(b) => s.serialize_bool(b),
            AttrRef::Int(i) => s.serialize_i64(i),
            AttrRef::Str(v) => s.serialize_str(v),
            AttrRef::StrArray(a) => s.collect_seq(a),
        }
    }
}

/// Read by the JSON value's own type. (serde's untagged derive buffers
/// each value and tries the variants in turn, building and formatting an
/// error for every miss: two per string attribute, which made reading the
/// spool back for the OTLP sinks one of the governed path's largest costs.)
impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttrValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean, an integer, a string or an array of strings")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AttrValue, E> {
                Ok(AttrValue::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AttrValue, E> {
                Ok(AttrValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AttrValue, E> {
                i64::try_from(v)
                    .map(AttrValue::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AttrValue, E> {
                Ok(AttrValue::Str(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AttrValue, E> {
                Ok(AttrValue::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<AttrValue, A::Error> {
                let mut out = Vec::with_capacity(a.size_hint().unwrap_or(0).min(64));
                while let Some(s) = a.next_element::<String>()? {
                    out.push(s);
                }
                Ok(AttrValue::StrArray(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<u64> for AttrValue {
    /// Saturates: counters beyond i64 (OTLP's integer) are not meaningful.
    fn from(v: u64) -> Self {
        AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u16> for AttrValue {
    fn from(v: u16) -> Self {
        AttrValue::Int(i64::from(v))
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl From<Vec<String>> for AttrValue {
    fn from(v: Vec<String>) -> Self {
        AttrValue::StrArray(v)
    }
}

pub type AttrKey = Cow<'static, str>;

/// Attributes that many events carry unchanged — a session's facts, a
/// prepared statement's — kept once, with their encodings. An event per
/// statement then holds a pointer to them instead of a copy of each, and the
/// writer copies their JSON and OTLP bytes instead of encoding them again:
/// in a governed `pgbench -S -M prepared` run they are sixteen of a statement
/// event's twenty attributes. Values are cut to [`MAX_STR_BYTES`] when the
/// block is made; the encoders fill the caches on first use.
#[derive(Debug)]
pub struct AttrBlock {
    attrs: Vec<(AttrKey, AttrValue)>,
    warns: bool,
    /// Kept as made (not shrunk to fit): shrinking is one more realloc per
    /// block, and a statement's block lives only as long as its statement.
    pub(crate) json: OnceLock<Vec<u8>>,
    pub(crate) otlp: OnceLock<Vec<u8>>,
}

impl AttrBlock {
    /// The keys must be distinct (OTLP forbids duplicates).
    pub fn new(mut attrs: Vec<(AttrKey, AttrValue)>) -> Arc<AttrBlock> {
        for (_, v) in &mut attrs {
            truncate_value(v);
        }
        let warns = attrs.iter().any(|(k, v)| is_warning(k, v));
        Arc::new(AttrBlock {
            attrs,
            warns,
            json: OnceLock::new(),
            otlp: OnceLock::new(),
        })
    }

    pub fn attrs(&self) -> &[(AttrKey, AttrValue)] {
        &self.attrs
    }

    fn has(&self, key: &str) -> bool {
        self.attrs.iter().any(|(k, _)| k == key)
    }

    /// Room enough for either encoding of the block unless values need
    /// escaping: keys and values plus each format's framing per attribute
    /// (the buffers had grown by doubling, four or five times per block).
    pub(crate) fn encoded_len_hint(&self) -> usize {
        self.attrs
            .iter()
            .map(|(k, v)| {
                let value = match v.view() {
                    AttrRef::Bool(_) => 5,
                    AttrRef::Int(_) => 20,
                    AttrRef::Str(s) => s.len(),
                    AttrRef::StrArray(a) => a.iter().map(|s| s.len() + 8).sum(),
                };
                k.len() + value + 16
            })
            .sum()
    }
}

/// Denials and failed authentications: what a reviewer filters for first.
pub(crate) fn is_warning(key: &str, value: &AttrValue) -> bool {
    let bad = match key {
        attr::DECISION => "deny",
        attr::AUTH_OUTCOME => "failure",
        _ => return false,
    };
    value.as_str() == Some(bad)
}

/// Room for the blocks of one event: a session's, a statement's, and the
/// tool and phase's.
const BLOCKS: usize = 3;

#[derive(Clone, Debug, Deserialize)]
pub struct AuditEvent {
    pub id: EventId,
    /// Unix time in nanoseconds.
    pub ts: u64,
    pub kind: EventKind,
    /// Shared attributes, which come before `attrs`. Events read back from
    /// the spool have none: everything is in `attrs`.
    #[serde(skip)]
    blocks: [Option<Arc<AttrBlock>>; BLOCKS],
    /// The event's own attributes; keys never repeat one of the blocks'.
    #[serde(deserialize_with = "de_attrs")]
    pub attrs: Vec<(AttrKey, AttrValue)>,
}

impl AuditEvent {
    /// A new event stamped now, with a fresh id and `db.system.name`.
    pub fn new(kind: EventKind) -> AuditEvent {
        AuditEvent::with_capacity(kind, 1)
    }

    /// [`AuditEvent::new`] with room for `attrs` attributes, so an event
    /// built attribute by attribute grows its list once.
    pub fn with_capacity(kind: EventKind, attrs: usize) -> AuditEvent {
        let mut e = AuditEvent::bare(kind, attrs.max(1));
        e.attrs.push((
            Cow::Borrowed(attr::DB_SYSTEM_NAME),
            AttrValue::Static("postgresql"),
        ));
        e
    }

    /// An event whose first attributes are `block`'s, which must include
    /// `db.system.name` (see [`AuditEvent::system_attr`]); room for `attrs`
    /// more of its own.
    pub fn with_block(kind: EventKind, block: Arc<AttrBlock>, attrs: usize) -> AuditEvent {
        let mut e = AuditEvent::bare(kind, attrs);
        e.blocks[0] = Some(block);
        e
    }

    fn bare(kind: EventKind, attrs: usize) -> AuditEvent {
        let ts = unix_nanos();
        AuditEvent {
            id: event_id_at(ts),
            ts,
            kind,
            blocks: Default::default(),
            attrs: Vec::with_capacity(attrs),
        }
    }

    /// The attribute every event starts with, for blocks that lead one.
    pub fn system_attr() -> (AttrKey, AttrValue) {
        (
            Cow::Borrowed(attr::DB_SYSTEM_NAME),
            AttrValue::Static("postgresql"),
        )
    }

    /// Adds a block's attributes after those the event has. Its keys must
    /// be new to the event.
    pub fn add_block(&mut self, block: &Arc<AttrBlock>) {
        debug_assert!(block.attrs.iter().all(|(k, _)| self.get(k).is_none()));
        // Blocks come before the event's own attributes, so one can only
        // join while there are none.
        match self.blocks.iter_mut().find(|b| b.is_none()) {
            Some(slot) if self.attrs.is_empty() => *slot = Some(block.clone()),
            _ => self.attrs.extend(block.attrs.iter().cloned()),
        }
    }

    pub(crate) fn blocks(&self) -> impl Iterator<Item = &AttrBlock> {
        self.blocks.iter().flatten().map(|b| &**b)
    }

    /// Every attribute, the blocks' first.
    pub fn all_attrs(&self) -> impl Iterator<Item = &(AttrKey, AttrValue)> {
        self.blocks()
            .flat_map(|b| b.attrs.iter())
            .chain(self.attrs.iter())
    }

    /// How many attributes [`AuditEvent::all_attrs`] yields.
    pub fn attr_count(&self) -> usize {
        self.blocks().map(|b| b.attrs.len()).sum::<usize>() + self.attrs.len()
    }

    /// Whether the event is one a reviewer filters for first.
    pub(crate) fn warns(&self) -> bool {
        self.blocks().any(|b| b.warns) || self.attrs.iter().any(|(k, v)| is_warning(k, v))
    }

    /// Copies the blocks' attributes into the event's own, before changing
    /// one of them.
    fn unshare(&mut self) {
        if self.blocks.iter().all(Option::is_none) {
            return;
        }
        let own = std::mem::take(&mut self.attrs);
        let mut all = Vec::with_capacity(self.attr_count());
        all.extend(self.blocks().flat_map(|b| b.attrs.iter().cloned()));
        all.extend(own);
        self.attrs = all;
        self.blocks = Default::default();
    }

    pub fn with(mut self, key: impl Into<AttrKey>, value: impl Into<AttrValue>) -> AuditEvent {
        self.set(key, value);
        self
    }

    /// Sets an attribute, replacing an earlier value under the same key so a
    /// key appears once (OTLP forbids duplicates).
    pub fn set(&mut self, key: impl Into<AttrKey>, value: impl Into<AttrValue>) {
        let key = key.into();
        let value = value.into();
        if self.blocks().any(|b| b.has(&key)) {
            self.unshare();
        }
        match self.attrs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.all_attrs().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn remove(&mut self, key: &str) {
        if self.blocks().any(|b| b.has(key)) {
            self.unshare();
        }
        self.attrs.retain(|(k, _)| k != key);
    }

    /// Appends an attribute whose key the event does not have yet (the
    /// caller knows: the keys of one builder are distinct constants), without
    /// [`AuditEvent::set`]'s search.
    pub fn push(&mut self, key: &'static str, value: impl Into<AttrValue>) {
        debug_assert!(self.get(key).is_none(), "attribute {key} set twice");
        self.attrs.push((Cow::Borrowed(key), value.into()));
    }

    /// Cuts string attributes to [`MAX_STR_BYTES`] on a character boundary
    /// (the blocks' were cut when they were made).
    pub fn truncate_long_values(&mut self) {
        for (_, v) in &mut self.attrs {
            truncate_value(v);
        }
    }
}

/// Equal when they say the same, however the attributes are kept.
impl PartialEq for AuditEvent {
    fn eq(&self, other: &AuditEvent) -> bool {
        self.id == other.id
            && self.ts == other.ts
            && self.kind == other.kind
            && self.attr_count() == other.attr_count()
            && self.all_attrs().eq(other.all_attrs())
    }
}

impl Serialize for AuditEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Attrs<'a>(&'a AuditEvent);
        impl Serialize for Attrs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.attr_count()))?;
                for (k, v) in self.0.all_attrs() {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let mut st = s.serialize_struct("AuditEvent", 4)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("ts", &self.ts)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("attrs", &Attrs(self))?;
        st.end()
    }
}

fn truncate_value(v: &mut AttrValue) {
    let too_long = match v.view() {
        AttrRef::Str(s) => s.len() > MAX_STR_BYTES,
        AttrRef::StrArray(items) => items.iter().any(|s| s.len() > MAX_STR_BYTES),
        AttrRef::Bool(_) | AttrRef::Int(_) => false,
    };
    if !too_long {
        return;
    }
    match v.view() {
        AttrRef::Str(s) => {
            let mut s = s.to_owned();
            truncate_utf8(&mut s, MAX_STR_BYTES);
            *v = AttrValue::Str(s);
        }
        AttrRef::StrArray(items) => {
            let mut items = items.to_vec();
            for s in &mut items {
                truncate_utf8(s, MAX_STR_BYTES);
            }
            *v = AttrValue::StrArray(items);
        }
        AttrRef::Bool(_) | AttrRef::Int(_) => {}
    }
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

fn de_attrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(AttrKey, AttrValue)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(AttrKey, AttrValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of attributes")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(m.size_hint().unwrap_or(0));
            while let Some((k, v)) = m.next_entry::<String, AttrValue>()? {
                out.push((Cow::Owned(k), v));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_are_read_by_their_json_type() {
        let read = |j: &str| serde_json::from_str::<AttrValue>(j).map_err(|e| e.to_string());
        assert_eq!(read("true"), Ok(AttrValue::Bool(true)));
        assert_eq!(read("-7"), Ok(AttrValue::Int(-7)));
        assert_eq!(read("9223372036854775807"), Ok(AttrValue::Int(i64::MAX)));
        assert_eq!(read(r#""a\"b\u00e9""#), Ok(AttrValue::Str("a\"bé".into())));
        assert_eq!(read("\"12\""), Ok(AttrValue::Str("12".into())));
        assert_eq!(read("[]"), Ok(AttrValue::StrArray(vec![])));
        assert_eq!(
            read(r#"["x","y"]"#),
            Ok(AttrValue::StrArray(vec!["x".into(), "y".into()]))
        );
        for bad in [
            "1.5",
            "9223372036854775808",
            "{}",
            "[1]",
            "null",
            r#"["x",true]"#,
        ] {
            assert!(read(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn json_line_round_trips_in_order() {
        let e = AuditEvent::new(EventKind::Statement)
            .with(attr::DB_NAMESPACE, "app")
            .with(attr::SERVER_PORT, 5432u16)
            .with(attr::ROWS, 12u64)
            .with(attr::MASKED_COLUMNS, vec!["email".to_string()])
            .with("pgward.flag", true);
        let line = crate::audit::json_line::to_vec(&e);
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let back: AuditEvent = serde_json::from_slice(&line).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, e);
        let keys: Vec<&str> = back.attrs.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            keys,
            [
                "db.system.name",
                "db.namespace",
                "server.port",
                "pgward.rows",
                "pgward.masked_columns",
                "pgward.flag"
            ]
        );
    }

    #[test]
    fn set_replaces() {
        let mut e = AuditEvent::new(EventKind::ProxyStart).with("k", 1i64);
        e.set("k", 2i64);
        assert_eq!(e.get("k"), Some(&AttrValue::Int(2)));
        assert_eq!(e.attrs.len(), 2);
    }

    #[test]
    fn changing_a_shared_attribute_changes_only_that_event() {
        let block = AttrBlock::new(vec![
            AuditEvent::system_attr(),
            (attr::USER_NAME.into(), "u".into()),
            (attr::BRANCH.into(), "main".into()),
        ]);
        let mut a = AuditEvent::with_block(EventKind::Statement, block.clone(), 1);
        let b = AuditEvent::with_block(EventKind::Statement, block.clone(), 1);
        a.push(attr::ROWS, 1i64);
        a.set(attr::USER_NAME, "v");
        a.remove(attr::BRANCH);
        let keys: Vec<&str> = a.all_attrs().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, [attr::DB_SYSTEM_NAME, attr::USER_NAME, attr::ROWS]);
        assert_eq!(a.get(attr::USER_NAME), Some(&AttrValue::from("v")));
        assert_eq!(b.get(attr::USER_NAME), Some(&AttrValue::from("u")));
        assert_eq!(b.get(attr::BRANCH), Some(&AttrValue::from("main")));
        assert_eq!(block.attrs().len(), 3);
    }

    #[test]
    fn a_block_after_own_attributes_keeps_the_order() {
        let mut e = AuditEvent::new(EventKind::Statement);
        e.add_block(&AttrBlock::new(vec![(attr::TOOL.into(), "psql".into())]));
        e.push(attr::ROWS, 2i64);
        let keys: Vec<&str> = e.all_attrs().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, [attr::DB_SYSTEM_NAME, attr::TOOL, attr::ROWS]);
    }

    #[test]
    fn shared_values_are_cut_when_the_block_is_made() {
        let b = AttrBlock::new(vec![(
            attr::DB_QUERY_TEXT.into(),
            "x".repeat(MAX_STR_BYTES + 9).into(),
        )]);
        assert_eq!(b.attrs()[0].1.as_str().map(str::len), Some(MAX_STR_BYTES));
    }

    #[test]
    fn long_strings_are_cut_on_char_boundaries() {
        let mut e = AuditEvent::new(EventKind::Statement)
            .with(attr::DB_QUERY_TEXT, "é".repeat(MAX_STR_BYTES));
        e.truncate_long_values();
        match e.get(attr::DB_QUERY_TEXT) {
            Some(AttrValue::Str(s)) => {
                assert!(s.len() <= MAX_STR_BYTES && s.len() >= MAX_STR_BYTES - 1)
            }
            other => panic!("{other:?}"),
        }
    }
}
