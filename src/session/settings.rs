//! The server's values of the run-time parameters the guard's decisions
//! depend on, followed as the server applies them.
//!
//! * `standard_conforming_strings` and `client_encoding` are reported by the
//!   server (ParameterStatus) whenever they change, before the
//!   ReadyForQuery of the request that changed them: at every ReadyForQuery
//!   the last reported value is the server's. Between a request that sets
//!   one and its ReadyForQuery, later requests are decided under every
//!   value it may then have.
//! * `search_path` is not reported. Its value follows from the startup
//!   packet and from the statements' own text: SET, SET LOCAL, RESET,
//!   set_config with constants, DISCARD ALL, undone when the transaction
//!   they ran in rolls back. Where the text cannot tell (a function body,
//!   a computed set_config, ROLLBACK TO SAVEPOINT after a change, a request
//!   that failed part way) the value becomes unknown, and the guard asks the
//!   server when a decision depends on it.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::sql::{SettingChange, SettingScope, SettingValue, Statement, TxnControl};
use crate::wire::backend::TxnStatus;

/// Client encodings in which a byte of a multi-byte character can equal a
/// quote or backslash, so the server and a UTF-8 parser would split the text
/// differently. PostgreSQL accepts them only as client encodings.
const UNSAFE_ENCODINGS: [&str; 7] = [
    "SJIS",
    "SHIFT_JIS_2004",
    "BIG5",
    "GBK",
    "UHC",
    "GB18030",
    "JOHAB",
];

/// A search_path as the server stores it: schema names in order, exact
/// (`$user` stays `$user`; it names the current role at lookup time).
pub type PathEntries = Arc<Vec<String>>;

/// What pgward knows of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known<T> {
    Value(T),
    Unknown,
}

/// A change to a followed parameter, in the order the server applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Path {
        value: Known<PathEntries>,
        scope: SettingScope,
    },
    /// RESET search_path, RESET ALL, DISCARD ALL.
    PathReset,
    Strings(Known<bool>),
    Encoding(Known<String>),
    Txn(TxnControl),
    /// May change any parameter where the text does not show it.
    Opaque,
}

/// The events of one statement (empty for most).
pub fn statement_events(st: &Statement, opaque: bool) -> Vec<Event> {
    let mut out = Vec::new();
    for c in &st.setting_changes {
        change_events(c, &mut out);
    }
    if let Some(t) = &st.transaction {
        out.push(Event::Txn(t.clone()));
    }
    if opaque
        || st
            .settings
            .iter()
            .any(|s| s == "role" || s == "session_authorization")
    {
        // A role change moves "$user" as well.
        out.push(Event::Opaque);
    }
    out
}

fn change_events(c: &SettingChange, out: &mut Vec<Event>) {
    match c.name.as_str() {
        "search_path" => out.push(match &c.value {
            SettingValue::Default => match c.scope {
                SettingScope::Session => Event::PathReset,
                _ => Event::Path {
                    value: Known::Unknown,
                    scope: c.scope,
                },
            },
            SettingValue::Items(items) => Event::Path {
                value: Known::Value(Arc::new(items.clone())),
                scope: c.scope,
            },
            SettingValue::Text(t) => Event::Path {
                value: parse_search_path(t).map_or(Known::Unknown, |v| Known::Value(Arc::new(v))),
                scope: c.scope,
            },
            SettingValue::Unknown => Event::Path {
                value: Known::Unknown,
                scope: c.scope,
            },
        }),
        "standard_conforming_strings" => out.push(Event::Strings(match &c.value {
            SettingValue::Items(v) if v.len() == 1 => parse_bool(&v[0]),
            SettingValue::Text(t) => parse_bool(t),
            _ => Known::Unknown,
        })),
        "client_encoding" => out.push(Event::Encoding(match &c.value {
            SettingValue::Items(v) if v.len() == 1 => Known::Value(v[0].clone()),
            SettingValue::Text(t) => Known::Value(t.clone()),
            _ => Known::Unknown,
        })),
        "all" => {
            out.push(match (&c.value, c.scope) {
                (SettingValue::Default, SettingScope::Session) => Event::PathReset,
                _ => Event::Opaque,
            });
            out.push(Event::Strings(Known::Unknown));
            out.push(Event::Encoding(Known::Unknown));
        }
        _ => {}
    }
}

fn parse_bool(v: &str) -> Known<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Known::Value(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Known::Value(false),
        _ => Known::Unknown,
    }
}

/// `scanner_isspace`: the whitespace the server's identifier lists allow.
fn list_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Splits a search_path value into schema names exactly as the server does
/// (`SplitIdentifierString`): quoted names kept exact with `""` as a quote,
/// unquoted ones ending at a comma or whitespace and folded to lower case
/// (ASCII letters only, as in UTF-8 databases), every name cut to 63 bytes.
/// `None` for a value the server refuses.
pub fn parse_search_path(raw: &str) -> Option<Vec<String>> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while b.get(i).copied().is_some_and(list_space) {
        i += 1;
    }
    if i == b.len() {
        return Some(out);
    }
    loop {
        let mut name = Vec::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        name.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        name.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            let start = i;
            while b.get(i).is_some_and(|&c| c != b',' && !list_space(c)) {
                i += 1;
            }
            if i == start {
                return None;
            }
            name.extend(b[start..i].iter().map(u8::to_ascii_lowercase));
        }
        while b.get(i).copied().is_some_and(list_space) {
            i += 1;
        }
        let done = match b.get(i) {
            None => true,
            Some(b',') => {
                i += 1;
                while b.get(i).copied().is_some_and(list_space) {
                    i += 1;
                }
                false
            }
            Some(_) => return None,
        };
        let mut name = String::from_utf8(name).ok()?;
        if name.len() > 63 {
            let mut cut = 63;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
        }
        out.push(name);
        if done {
            return Some(out);
        }
    }
}

/// Parses a one-dimensional text array literal (`{a,"b c"}`).
pub fn parse_text_array(raw: &str) -> Option<Vec<String>> {
    let inner = raw.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Some(out);
    }
    let mut chars = inner.chars();
    loop {
        let mut item = String::new();
        let mut c = chars.next()?;
        if c == '"' {
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    ch => item.push(ch),
                }
            }
            c = match chars.next() {
                None => {
                    out.push(item);
                    return Some(out);
                }
                Some(c) => c,
            };
        } else {
            loop {
                if c == ',' {
                    break;
                }
                item.push(c);
                match chars.next() {
                    None => {
                        out.push(item);
                        return Some(out);
                    }
                    Some(n) => c = n,
                }
            }
        }
        if c != ',' {
            return None;
        }
        out.push(item);
    }
}

/// A reported parameter: the server's value as of the last ReadyForQuery
/// and what requests in flight may change it to.
#[derive(Clone, Debug)]
struct Reported<T> {
    reported: T,
    in_flight: Vec<(u64, Known<T>)>,
}

impl<T: Clone + PartialEq> Reported<T> {
    fn new(v: T) -> Self {
        Reported {
            reported: v,
            in_flight: Vec::new(),
        }
    }

    /// Whether every value the next request may be read under passes
    /// `test`; `None` if any value is possible. Asked per statement, so it
    /// copies nothing.
    fn all_possible(&self, test: impl Fn(&T) -> bool) -> Option<bool> {
        let mut all = test(&self.reported);
        for (_, k) in &self.in_flight {
            match k {
                Known::Value(v) => all &= test(v),
                Known::Unknown => return None,
            }
        }
        Some(all)
    }

    fn settle(&mut self, batch: u64) {
        self.in_flight.retain(|(b, _)| *b > batch);
    }
}

/// Where unqualified names go, as the server answered when asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Schemas looked in, in order, that exist (pg_catalog and the
    /// temporary schema included): `current_schemas(true)`. Shared: every
    /// decision reads it.
    pub lookup: Arc<[String]>,
    /// Where CREATE puts an unqualified name: `current_schema()`, none or
    /// one schema.
    pub create: Arc<[String]>,
    epoch: u64,
}

/// search_path with transaction semantics.
#[derive(Clone, Debug)]
struct Path {
    /// RESET's target: the value the session started with.
    reset: Known<PathEntries>,
    /// The session-level value (SET without LOCAL).
    session: Known<PathEntries>,
    /// A SET LOCAL value, until the transaction ends.
    local: Option<Known<PathEntries>>,
    /// The session-level value at the last ReadyForQuery outside a
    /// transaction: what a rollback returns to.
    at_idle: Known<PathEntries>,
    /// Bumped whenever the value may have changed.
    epoch: u64,
    resolved: Option<Resolved>,
}

impl Path {
    fn effective(&self) -> &Known<PathEntries> {
        self.local.as_ref().unwrap_or(&self.session)
    }

    fn set_session(&mut self, v: Known<PathEntries>) {
        self.session = v;
        self.local = None;
        self.epoch += 1;
    }

    fn apply(&mut self, e: &Event, failed_before: bool) {
        match e {
            Event::Path {
                value,
                scope: SettingScope::Session,
            } => self.set_session(value.clone()),
            Event::Path {
                value,
                scope: SettingScope::Local,
            } => {
                self.local = Some(value.clone());
                self.epoch += 1;
            }
            Event::Path {
                scope: SettingScope::Unknown,
                ..
            }
            | Event::Opaque => self.set_session(Known::Unknown),
            Event::PathReset => self.set_session(self.reset.clone()),
            Event::Txn(TxnControl::Commit) if !failed_before => self.local = None,
            Event::Txn(TxnControl::Commit | TxnControl::Rollback) => {
                if self.session != self.at_idle || self.local.is_some() {
                    self.epoch += 1;
                }
                self.session = self.at_idle.clone();
                self.local = None;
            }
            Event::Txn(TxnControl::RollbackTo) => {
                if self.session != self.at_idle || self.local.is_some() {
                    self.set_session(Known::Unknown);
                }
            }
            Event::Txn(TxnControl::Begin | TxnControl::Savepoint | TxnControl::Release)
            | Event::Strings(_)
            | Event::Encoding(_) => {}
        }
    }
}

/// The followed parameters of one session.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    strings: Reported<bool>,
    encoding: Reported<String>,
    path: Path,
    /// Events of requests forwarded and not yet completed, by batch.
    in_flight: VecDeque<(u64, Vec<Event>)>,
    /// An error was reported in the batch now being answered.
    batch_failed: bool,
    /// Transaction status at the last ReadyForQuery.
    status: TxnStatus,
}

impl SessionSettings {
    /// `path` is the session's initial search_path if the startup packet
    /// fixed it, else unknown (a role or database default may apply).
    pub fn new(path: Known<PathEntries>) -> Self {
        SessionSettings {
            strings: Reported::new(true),
            encoding: Reported::new("UTF8".to_owned()),
            path: Path {
                reset: path.clone(),
                session: path.clone(),
                local: None,
                at_idle: path,
                epoch: 0,
                resolved: None,
            },
            in_flight: VecDeque::new(),
            batch_failed: false,
            status: TxnStatus::Idle,
        }
    }

    /// A ParameterStatus value.
    pub fn reported(&mut self, name: &str, value: &str) {
        match name {
            "standard_conforming_strings" => {
                self.strings.reported = value.eq_ignore_ascii_case("on")
            }
            "client_encoding" => self.encoding.reported = value.to_owned(),
            _ => {}
        }
    }

    /// The strings reading when it is certain.
    pub fn strings_certain(&self) -> Option<bool> {
        let on = self.strings.reported;
        match self.strings.all_possible(|v| *v == on)? {
            true => Some(on),
            false => None,
        }
    }

    /// False while the client encoding may be one in which quote or
    /// backslash bytes hide inside multi-byte characters.
    pub fn encoding_safe(&self) -> bool {
        self.encoding
            .all_possible(|e| !UNSAFE_ENCODINGS.iter().any(|u| e.eq_ignore_ascii_case(u)))
            == Some(true)
    }

    /// Records the events of a request forwarded in `batch`.
    pub fn forwarded(&mut self, batch: u64, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        for e in &events {
            match e {
                Event::Strings(v) => self.strings.in_flight.push((batch, v.clone())),
                Event::Encoding(v) => self.encoding.in_flight.push((batch, v.clone())),
                _ => {}
            }
        }
        match self.in_flight.back_mut() {
            Some((b, list)) if *b == batch => list.extend(events),
            _ => self.in_flight.push_back((batch, events)),
        }
    }

    /// An ErrorResponse in the batch now being answered.
    pub fn error(&mut self) {
        self.batch_failed = true;
    }

    /// ReadyForQuery closing `batch`.
    pub fn ready(&mut self, batch: u64, status: TxnStatus) {
        self.strings.settle(batch);
        self.encoding.settle(batch);
        let failed_before = self.status == TxnStatus::Failed;
        let mut had_txn_control = false;
        while self.in_flight.front().is_some_and(|(b, _)| *b <= batch) {
            let Some((_, events)) = self.in_flight.pop_front() else {
                break;
            };
            let touches_path = events
                .iter()
                .any(|e| !matches!(e, Event::Strings(_) | Event::Encoding(_)));
            if self.batch_failed && touches_path {
                // Which of them ran, and whether the transaction they ran
                // in survived, is not worth guessing.
                self.path.set_session(Known::Unknown);
                continue;
            }
            for e in &events {
                had_txn_control |= matches!(e, Event::Txn(_));
                self.path.apply(e, failed_before);
            }
        }
        if status == TxnStatus::Idle {
            if self.path.local.take().is_some() {
                self.path.epoch += 1;
            }
            if self.status != TxnStatus::Idle
                && !had_txn_control
                && self.path.session != self.path.at_idle
            {
                // A transaction with changes ended in a way the text did not
                // show (COMMIT or ROLLBACK of a prepared statement pgward
                // did not follow).
                self.path.set_session(Known::Unknown);
            }
            self.path.at_idle = self.path.session.clone();
        }
        self.batch_failed = false;
        self.status = status;
    }

    /// A DDL statement ran: which schemas exist may have changed.
    pub fn schemas_changed(&mut self) {
        self.path.epoch += 1;
    }

    /// The search path the next request will be decided under: the value
    /// now, joined with what requests in flight may set.
    pub fn path(&self) -> Known<Vec<String>> {
        self.path_with(&[])
    }

    /// The path the next request is read under, when no request in flight
    /// can change it: shared, so that what is derived from it can be kept
    /// while it stays the same value.
    pub fn settled_path(&self) -> Option<&PathEntries> {
        if !self.in_flight.is_empty() {
            return None;
        }
        match self.path.effective() {
            Known::Value(v) => Some(v),
            Known::Unknown => None,
        }
    }

    /// As [`SessionSettings::path`], for a request that itself makes
    /// `events` before its later statements run.
    pub fn path_with(&self, request: &[Event]) -> Known<Vec<String>> {
        let mut out: Vec<String> = match self.path.effective() {
            Known::Value(v) => v.as_ref().clone(),
            Known::Unknown => return Known::Unknown,
        };
        let in_flight = self.in_flight.iter().map(|(_, e)| e.as_slice());
        for events in in_flight.chain(std::iter::once(request)) {
            for e in events {
                match e {
                    Event::Path {
                        value: Known::Value(v),
                        scope: SettingScope::Session | SettingScope::Local,
                    } => {
                        for s in v.iter() {
                            if !out.contains(s) {
                                out.push(s.clone());
                            }
                        }
                    }
                    Event::PathReset => match &self.path.reset {
                        Known::Value(v) => {
                            for s in v.iter() {
                                if !out.contains(s) {
                                    out.push(s.clone());
                                }
                            }
                        }
                        Known::Unknown => return Known::Unknown,
                    },
                    Event::Path { .. } | Event::Opaque => return Known::Unknown,
                    Event::Txn(_) => {
                        if let Known::Value(v) = &self.path.at_idle {
                            for s in v.iter() {
                                if !out.contains(s) {
                                    out.push(s.clone());
                                }
                            }
                        } else {
                            return Known::Unknown;
                        }
                    }
                    Event::Strings(_) | Event::Encoding(_) => {}
                }
            }
        }
        Known::Value(out)
    }

    /// The server's answer about the path, if still current.
    pub fn resolved(&self) -> Option<&Resolved> {
        let r = self.path.resolved.as_ref()?;
        (r.epoch == self.path.epoch && self.in_flight.is_empty()).then_some(r)
    }

    /// True when asking the server would make the path more precise.
    pub fn askable(&self) -> bool {
        self.resolved().is_none() && self.status != TxnStatus::Failed
    }

    /// Transaction status at the last ReadyForQuery.
    pub fn status(&self) -> TxnStatus {
        self.status
    }

    /// The server's answer: the raw setting, and (outside a transaction)
    /// the existing schemas in lookup order and the creation schema.
    pub fn answered(&mut self, setting: &str, lookup: Option<Vec<String>>, create: Option<String>) {
        let value =
            parse_search_path(setting).map_or(Known::Unknown, |v| Known::Value(Arc::new(v)));
        if self.path.local.is_some() {
            self.path.local = Some(value);
        } else {
            self.path.session = value;
        }
        if self.status == TxnStatus::Idle {
            self.path.at_idle = self.path.session.clone();
        }
        self.path.epoch += 1;
        self.path.resolved = lookup.map(|lookup| Resolved {
            lookup: lookup.into(),
            create: create.into_iter().collect(),
            epoch: self.path.epoch,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(v: &[&str]) -> Known<PathEntries> {
        Known::Value(Arc::new(v.iter().map(|s| s.to_string()).collect()))
    }

    fn set(v: &[&str], scope: SettingScope) -> Event {
        Event::Path {
            value: entries(v),
            scope,
        }
    }

    fn path(s: &SessionSettings) -> Known<Vec<String>> {
        s.path()
    }

    fn is(v: &[&str]) -> Known<Vec<String>> {
        Known::Value(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn search_path_values_parse_as_the_server_splits_them() {
        assert_eq!(
            parse_search_path("\"$user\", public").as_deref(),
            Some(&["$user".to_string(), "public".to_string()][..])
        );
        assert_eq!(
            parse_search_path("HR,\"Mixed\",\"a\"\"b\"").as_deref(),
            Some(&["hr".to_string(), "Mixed".to_string(), "a\"b".to_string()][..])
        );
        assert_eq!(parse_search_path("").as_deref(), Some(&[][..]));
        assert_eq!(parse_search_path("a b"), None);
        assert_eq!(parse_search_path("\"open"), None);
        assert_eq!(
            parse_text_array("{pg_catalog,\"a,b\",\"q\\\"x\"}").as_deref(),
            Some(
                &[
                    "pg_catalog".to_string(),
                    "a,b".to_string(),
                    "q\"x".to_string()
                ][..]
            )
        );
        assert_eq!(parse_text_array("{}").as_deref(), Some(&[][..]));
        assert_eq!(parse_text_array("{a"), None);
    }

    #[test]
    fn session_set_survives_commit_and_not_rollback() {
        let mut s = SessionSettings::new(entries(&["public"]));
        s.forwarded(0, vec![Event::Txn(TxnControl::Begin)]);
        s.ready(0, TxnStatus::InTransaction);
        s.forwarded(1, vec![set(&["a"], SettingScope::Session)]);
        assert_eq!(path(&s), is(&["public", "a"]), "in flight: either");
        s.ready(1, TxnStatus::InTransaction);
        assert_eq!(path(&s), is(&["a"]));
        s.forwarded(2, vec![Event::Txn(TxnControl::Rollback)]);
        s.ready(2, TxnStatus::Idle);
        assert_eq!(path(&s), is(&["public"]));

        s.forwarded(
            3,
            vec![
                Event::Txn(TxnControl::Begin),
                set(&["b"], SettingScope::Session),
            ],
        );
        s.ready(3, TxnStatus::InTransaction);
        s.forwarded(4, vec![Event::Txn(TxnControl::Commit)]);
        s.ready(4, TxnStatus::Idle);
        assert_eq!(path(&s), is(&["b"]));
    }

    #[test]
    fn local_lasts_until_the_transaction_ends_and_failures_make_it_unknown() {
        let mut s = SessionSettings::new(entries(&["public"]));
        s.forwarded(
            0,
            vec![
                Event::Txn(TxnControl::Begin),
                set(&["x"], SettingScope::Local),
            ],
        );
        s.ready(0, TxnStatus::InTransaction);
        assert_eq!(path(&s), is(&["x"]));
        s.forwarded(1, vec![Event::Txn(TxnControl::Commit)]);
        s.ready(1, TxnStatus::Idle);
        assert_eq!(path(&s), is(&["public"]));

        s.forwarded(2, vec![set(&["y"], SettingScope::Session)]);
        s.error();
        s.ready(2, TxnStatus::Idle);
        assert_eq!(path(&s), Known::Unknown);
        s.answered(
            "y, public",
            Some(vec!["pg_catalog".into(), "public".into()]),
            Some("public".into()),
        );
        assert_eq!(path(&s), is(&["y", "public"]));
        assert!(s.resolved().is_some());
        s.forwarded(3, vec![Event::PathReset]);
        assert!(
            s.resolved().is_none(),
            "a change in flight voids the answer"
        );
        s.ready(3, TxnStatus::Idle);
        assert_eq!(path(&s), is(&["public"]));
    }

    #[test]
    fn rollback_to_savepoint_after_a_change_is_unknown() {
        let mut s = SessionSettings::new(entries(&["public"]));
        s.forwarded(
            0,
            vec![
                Event::Txn(TxnControl::Begin),
                Event::Txn(TxnControl::Savepoint),
            ],
        );
        s.ready(0, TxnStatus::InTransaction);
        s.forwarded(
            1,
            vec![
                set(&["a"], SettingScope::Session),
                Event::Txn(TxnControl::RollbackTo),
            ],
        );
        s.ready(1, TxnStatus::InTransaction);
        assert_eq!(path(&s), Known::Unknown);
    }

    #[test]
    fn a_transaction_ending_unseen_after_a_change_is_unknown() {
        let mut s = SessionSettings::new(entries(&["public"]));
        s.ready(0, TxnStatus::InTransaction);
        s.forwarded(1, vec![set(&["a"], SettingScope::Session)]);
        s.ready(1, TxnStatus::InTransaction);
        s.ready(2, TxnStatus::Idle);
        assert_eq!(path(&s), Known::Unknown);
    }

    #[test]
    fn reported_values_settle_at_ready_for_query() {
        let mut s = SessionSettings::new(Known::Unknown);
        assert!(s.encoding_safe());
        s.forwarded(0, vec![Event::Encoding(Known::Value("UTF8".into()))]);
        assert!(s.encoding_safe());
        s.ready(0, TxnStatus::Idle);
        assert!(s.encoding_safe(), "no ParameterStatus: unchanged");
        s.forwarded(1, vec![Event::Encoding(Known::Value("SJIS".into()))]);
        assert!(!s.encoding_safe());
        s.reported("client_encoding", "SJIS");
        s.ready(1, TxnStatus::Idle);
        assert!(!s.encoding_safe());
        s.forwarded(2, vec![Event::Strings(Known::Unknown)]);
        assert_eq!(s.strings_certain(), None);
        s.ready(2, TxnStatus::Idle);
        assert_eq!(s.strings_certain(), Some(true));
    }

    /// Found by the `startup_packet` fuzz target.
    #[test]
    fn search_path_values_split_like_the_server() {
        assert_eq!(
            parse_search_path(" A , \"B\"\"c\" ,\"$user\""),
            Some(vec!["a".into(), "B\"c".into(), "$user".into()])
        );
        // Only ASCII letters fold; a space ends an unquoted name.
        assert_eq!(parse_search_path("ÉCOLE"), Some(vec!["École".to_string()]));
        assert_eq!(parse_search_path("a b"), None);
        assert_eq!(parse_search_path("a,,b"), None);
        assert_eq!(parse_search_path("a,"), None);
        assert_eq!(parse_search_path(""), Some(vec![]));
        assert_eq!(
            parse_search_path(&"x".repeat(70)),
            Some(vec!["x".repeat(63)])
        );
    }
}
