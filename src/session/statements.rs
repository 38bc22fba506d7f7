//! Which server reply completes which statement, for the audit trail and
//! usage metrics.
//!
//! Every request that can run something is an expectation in a FIFO, in the
//! order the server answers: a Query completes at its ReadyForQuery (rows
//! summed over its statements) or its error, an Execute at its CommandComplete,
//! EmptyQueryResponse or PortalSuspended, a FunctionCall at its result, and
//! any of them at an error. A Parse is expected too, so that a statement
//! that fails (or is denied) at Parse is recorded; once parsed it is
//! remembered by name, and each Execute of it (through Bind's portal) is
//! one statement with the Parse's facts. After an error the server skips
//! the rest of the batch up to Sync: expectations still queued then are
//! dropped at ReadyForQuery, as they never ran.
//!
//! Only counters and small strings are touched here; events are built and
//! emitted by the relay after its writes.

// Keys are names a client chooses, looked up several times per statement:
// foldhash, seeded per process, instead of SipHash — a fraction of the
// cost on short keys, and still not predictable from outside.
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

use super::guard::{Decided, Outcome};
use super::names::ByName;
use crate::audit::{AttrBlock, StatementText};
use crate::wire::backend::ErrorSummary;
use crate::wire::Frame;

/// Prepared statements and portals remembered per session; past this the
/// maps are cleared (statements executed later are recorded without facts).
const MAX_NAMES: usize = 10_000;

/// The facts of one decided request, shared by every execution of it.
#[derive(Debug)]
pub struct Facts {
    /// `Q`, `P` or `F`.
    pub kind: u8,
    pub outcome: Outcome,
    pub profile: String,
    /// Command tags of the statements, e.g. `SELECT`, `INSERT`.
    pub operation: Option<String>,
    /// Relations named, `schema.name` where the schema is written.
    pub objects: Vec<String>,
    /// Effects found anywhere in the request (`read`, `write`, `ddl`, ...).
    pub class: Vec<String>,
    pub masked_columns: Vec<String>,
    /// The text as configured (`statement_text`): normalized or in full.
    pub text: Option<String>,
    pub traceparent: Option<String>,
    pub client_traceparent: Option<String>,
    /// Row filters that apply to the tables the request names.
    pub row_filters: Vec<String>,
    /// The audit attributes above, built for the first event and shared by
    /// the events of every execution (see `events::statement_attrs`).
    pub event_attrs: OnceLock<Arc<AttrBlock>>,
}

impl Facts {
    pub fn from_decided(mut d: Decided, mode: StatementText) -> Facts {
        let text = statement_text(&mut d, mode);
        Facts::with_text(d, text)
    }

    /// The facts of `d`, whose text for the trail is `text`.
    pub fn with_text(d: Decided, text: Option<String>) -> Facts {
        let mut operation = Vec::new();
        let mut objects = Vec::new();
        let mut class = std::collections::BTreeSet::new();
        if let Some(Ok(a)) = d.analysis.as_deref() {
            for st in &a.statements {
                if !operation.contains(&st.command_tag) {
                    operation.push(st.command_tag);
                }
                for o in &st.objects {
                    let name = match &o.schema {
                        Some(s) => format!("{s}.{}", o.name),
                        None => o.name.clone(),
                    };
                    if !objects.contains(&name) {
                        objects.push(name);
                    }
                }
                class.extend(st.effects.iter().map(|e| e.name()));
            }
        }
        let operation = match d.kind {
            b'F' => Some("FUNCTION CALL".to_owned()),
            _ if operation.is_empty() => None,
            _ => Some(operation.join(";")),
        };
        let masked_columns = d
            .masking
            .as_ref()
            .map(|m| m.masked_columns.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default();
        Facts {
            kind: d.kind,
            outcome: d.outcome,
            profile: d.profile,
            operation,
            objects,
            class: class.into_iter().map(str::to_owned).collect(),
            masked_columns,
            text,
            traceparent: d.traceparent,
            client_traceparent: d.client_traceparent,
            row_filters: d.row_filters,
            event_attrs: OnceLock::new(),
        }
    }

    /// `masked` when results are masked, else the decision.
    pub fn decision(&self) -> &'static str {
        match &self.outcome {
            Outcome::Deny { .. } => "deny",
            Outcome::Observe { .. } => "observe",
            Outcome::Allow if !self.masked_columns.is_empty() => "masked",
            Outcome::Allow => "allow",
        }
    }

    pub fn rule(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Deny { rule } | Outcome::Observe { rule } => Some(rule),
            Outcome::Allow => None,
        }
    }
}

/// The text of `d` as the trail keeps it under `mode` (taken out of `d`).
pub fn statement_text(d: &mut Decided, mode: StatementText) -> Option<String> {
    match mode {
        StatementText::Full => d.sql.take(),
        // The scanner's tokens, constants replaced by $n (no second
        // parse); the guard keeps the client's text only when its lookup
        // did not make them. Text the scanner rejects has no literal-free
        // form: nothing of it reaches the trail. Neither does text the
        // parser refused (its constants could not be told apart reliably).
        StatementText::Fingerprint if d.analysis.as_deref().is_some_and(|a| a.is_ok()) => {
            match d.normalized.take() {
                Some(n) => Some(n),
                None => crate::sql::lexkey::lex_key(d.sql.as_deref()?).map(|k| k.normalized),
            }
        }
        _ => None,
    }
}

/// How a statement's record ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The server's reply completed it.
    Replied,
    /// The session ended before the reply that completes it was seen: it
    /// was forwarded, so it may have run, in part or in full (a client that
    /// disconnects during a long UPDATE leaves it running to its end).
    Unanswered,
}

/// A statement the server has finished with, or that the session left
/// behind when it ended.
#[derive(Debug)]
pub struct Completed {
    pub ending: Ending,
    pub facts: Option<Arc<Facts>>,
    /// From forwarding to the reply that completed it.
    pub duration: Duration,
    pub rows: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub sqlstate: Option<String>,
    /// The id of the decision event written before forwarding (strict mode).
    pub decision_event: Option<crate::audit::EventId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Query,
    Parse,
    Execute,
    Function,
}

struct Expectation {
    kind: Kind,
    batch: u64,
    facts: Option<Arc<Facts>>,
    started: Instant,
    bytes_in: u64,
    rows: Option<u64>,
    sqlstate: Option<String>,
    decision_event: Option<crate::audit::EventId>,
}

impl Expectation {
    /// The guard refused it: the server saw pgward's marker instead.
    fn denied(&self) -> bool {
        self.facts
            .as_ref()
            .is_some_and(|f| matches!(f.outcome, Outcome::Deny { .. }))
    }
}

#[derive(Default)]
pub struct StatementTracker {
    queue: VecDeque<Expectation>,
    statements: ByName<Arc<Facts>>,
    portals: ByName<Option<Arc<Facts>>>,
    sent_batches: u64,
    done_batches: u64,
    /// Bytes sent to the client since the last completion.
    bytes_out: u64,
    /// Frontend bytes of a Bind, counted with the Execute that follows.
    pending_in: u64,
    completed: Vec<Completed>,
}

impl StatementTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontend message on its way to the server. `facts` is the guard's
    /// decision for Query, Parse and FunctionCall; `decision_event` the id
    /// of the event recorded for it before forwarding, if any.
    pub fn frontend(
        &mut self,
        frame: &Frame,
        facts: Option<Arc<Facts>>,
        decision_event: Option<crate::audit::EventId>,
        now: Instant,
    ) {
        let body = frame.body();
        let len = frame.as_bytes().len() as u64;
        let push = |this: &mut Self, kind, facts, bytes_in| {
            this.queue.push_back(Expectation {
                kind,
                batch: this.sent_batches,
                facts,
                started: now,
                bytes_in,
                rows: None,
                sqlstate: None,
                decision_event: decision_event.clone(),
            })
        };
        match frame.tag() {
            b'Q' => {
                push(self, Kind::Query, facts, len);
                self.sent_batches += 1;
            }
            b'F' => {
                push(self, Kind::Function, facts, len);
                self.sent_batches += 1;
            }
            b'S' => self.sent_batches += 1,
            b'P' => {
                let name = Bytes::copy_from_slice(cstr(body).0);
                if let Some(f) = &facts {
                    if self.statements.len() >= MAX_NAMES {
                        self.statements.clear();
                    }
                    self.statements.insert(name, Arc::clone(f));
                }
                push(self, Kind::Parse, facts, len);
            }
            b'B' => {
                let (portal, rest) = cstr(body);
                let (statement, _) = cstr(rest);
                let f = self.statements.get(statement).cloned();
                if self.portals.len() >= MAX_NAMES {
                    self.portals.clear();
                }
                self.portals.insert(Bytes::copy_from_slice(portal), f);
                self.pending_in += len;
            }
            b'E' => {
                let portal = cstr(body).0;
                let f = self.portals.get(portal).cloned().flatten();
                let bytes_in = len + std::mem::take(&mut self.pending_in);
                push(self, Kind::Execute, f, bytes_in);
            }
            b'C' => {
                let (name, _) = cstr(body.get(1..).unwrap_or_default());
                match body.first() {
                    Some(b'S') => {
                        self.statements.remove(name);
                    }
                    Some(b'P') => {
                        self.portals.remove(name);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Bytes queued to the client (rows, replies), whole or passed.
    pub fn note_bytes_out(&mut self, n: usize) {
        self.bytes_out += n as u64;
    }

    /// A backend message the relay saw whole.
    pub fn backend(&mut self, frame: &Frame, now: Instant) {
        match frame.tag() {
            b'1' if self.front_is(Kind::Parse) => {
                self.queue.pop_front();
            }
            b'C' | b'I' | b's' => {
                let rows = (frame.tag() == b'C')
                    .then(|| command_rows(frame.body()))
                    .flatten();
                match self.queue.front_mut() {
                    Some(e) if e.kind == Kind::Query => {
                        if let Some(r) = rows {
                            e.rows = Some(e.rows.unwrap_or(0) + r);
                        }
                    }
                    Some(e) if e.kind == Kind::Execute => {
                        e.rows = rows;
                        self.complete_front(now);
                    }
                    _ => {}
                }
            }
            b'V' if self.front_is(Kind::Function) => self.complete_front(now),
            b'E' => {
                let code = ErrorSummary::parse(frame.body()).map(|s| s.code);
                let current = self.done_batches;
                let Some(e) = self.queue.front_mut().filter(|e| e.batch == current) else {
                    return;
                };
                e.sqlstate = code;
                // An error ends a simple Query too (its later statements are
                // skipped): it completes now, when the client learns of it,
                // not at the ReadyForQuery that may arrive in a later read.
                self.complete_front(now);
            }
            b'Z' => {
                let done = self.done_batches;
                self.done_batches += 1;
                while let Some(e) = self.queue.front() {
                    if e.batch > done {
                        break;
                    }
                    if e.kind == Kind::Query {
                        self.complete_front(now);
                    } else {
                        // Skipped after an error earlier in the batch.
                        self.queue.pop_front();
                    }
                }
            }
            _ => {}
        }
    }

    fn front_is(&self, kind: Kind) -> bool {
        self.queue.front().is_some_and(|e| e.kind == kind)
    }

    fn complete_front(&mut self, now: Instant) {
        self.end_front(now, Ending::Replied);
    }

    /// The session is ending: every request forwarded and not answered yet
    /// becomes a statement that ended unanswered. A Parse is one only when
    /// it was denied (as when answered: a Parse alone is not a statement).
    pub fn abandon(&mut self, now: Instant) {
        while let Some(e) = self.queue.front() {
            if e.kind == Kind::Parse && !e.denied() {
                self.queue.pop_front();
            } else {
                self.end_front(now, Ending::Unanswered);
            }
        }
    }

    fn end_front(&mut self, now: Instant, ending: Ending) {
        let Some(e) = self.queue.pop_front() else {
            return;
        };
        let sqlstate = if e.denied() {
            // The server's error was for pgward's marker; the client saw 42501.
            Some("42501".to_owned())
        } else {
            e.sqlstate
        };
        self.completed.push(Completed {
            ending,
            facts: e.facts,
            duration: now.saturating_duration_since(e.started),
            rows: e.rows,
            bytes_in: e.bytes_in,
            bytes_out: std::mem::take(&mut self.bytes_out),
            sqlstate,
            decision_event: e.decision_event,
        });
    }

    /// Statements completed since the last call.
    pub fn take_completed(&mut self) -> std::vec::Drain<'_, Completed> {
        self.completed.drain(..)
    }
}

/// A NUL-terminated string at the start of `b`, and what follows it.
fn cstr(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&x| x == 0) {
        Some(n) => (&b[..n], &b[n + 1..]),
        None => (b, &[]),
    }
}

/// Rows from a CommandComplete tag (`SELECT 5`, `INSERT 0 3`, `COPY 10`);
/// `None` for tags without a count (`CREATE TABLE`).
pub fn command_rows(body: &[u8]) -> Option<u64> {
    let tag = cstr(body).0;
    let last = tag.rsplit(|&b| b == b' ').next()?;
    if last.is_empty() || !last.iter().all(u8::is_ascii_digit) || last.len() == tag.len() {
        return None;
    }
    // Digits only (checked above): read as they are, `None` past u64.
    last.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::frame;

    fn facts(kind: u8, outcome: Outcome) -> Arc<Facts> {
        Arc::new(Facts {
            kind,
            outcome,
            profile: "p".into(),
            operation: Some("SELECT".into()),
            objects: vec![],
            class: vec![],
            masked_columns: vec![],
            text: None,
            traceparent: None,
            client_traceparent: None,
            row_filters: vec![],
            event_attrs: OnceLock::new(),
        })
    }

    #[test]
    fn rows_from_tags() {
        assert_eq!(command_rows(b"SELECT 5\0"), Some(5));
        assert_eq!(command_rows(b"INSERT 0 3\0"), Some(3));
        assert_eq!(command_rows(b"CREATE TABLE\0"), None);
        assert_eq!(command_rows(b"12\0"), None);
        assert_eq!(command_rows(b"COPY 18446744073709551615\0"), Some(u64::MAX));
        assert_eq!(
            command_rows(b"COPY 18446744073709551616\0"),
            None,
            "past u64"
        );
        assert_eq!(command_rows(b"SELECT \0"), None);
    }

    /// What the server was still working on when the session ended is
    /// recorded, unanswered, in order; what it had answered is not again,
    /// and an undenied Parse alone is no statement.
    #[test]
    fn requests_in_flight_at_the_end_are_unanswered_statements() {
        let mut t = StatementTracker::new();
        let now = Instant::now();
        t.frontend(
            &frame(b'Q', b"select 1\0"),
            Some(facts(b'Q', Outcome::Allow)),
            None,
            now,
        );
        t.backend(&frame(b'C', b"SELECT 1\0"), now);
        t.backend(&frame(b'Z', b"I"), now);
        let answered: Vec<_> = t.take_completed().collect();
        assert_eq!(answered.len(), 1);
        assert_eq!(answered[0].ending, Ending::Replied);
        t.frontend(
            &frame(b'Q', b"update t set a = 1\0"),
            Some(facts(b'Q', Outcome::Allow)),
            None,
            now,
        );
        t.frontend(
            &frame(b'P', b"s1\0select $1\0\0\0"),
            Some(facts(b'P', Outcome::Allow)),
            None,
            now,
        );
        t.frontend(&frame(b'B', b"\0s1\0\0\0\0\0\0\0"), None, None, now);
        t.frontend(&frame(b'E', b"\0\0\0\0\0"), None, None, now);
        t.frontend(
            &frame(b'P', b"s2\0drop table t\0\0\0"),
            Some(facts(
                b'P',
                Outcome::Deny {
                    rule: "no-ddl".into(),
                },
            )),
            None,
            now,
        );
        t.frontend(&frame(b'S', b""), None, None, now);
        // The UPDATE's rows arrived, not its ReadyForQuery.
        t.backend(&frame(b'C', b"UPDATE 4\0"), now);
        assert_eq!(t.take_completed().count(), 0);
        t.abandon(now);
        let left: Vec<_> = t.take_completed().collect();
        assert_eq!(left.len(), 3, "the Query, the Execute, the denied Parse");
        assert!(left.iter().all(|c| c.ending == Ending::Unanswered));
        assert_eq!(left[0].rows, Some(4), "rows seen before the end are kept");
        let kinds: Vec<u8> = left
            .iter()
            .map(|c| c.facts.as_ref().map_or(0, |f| f.kind))
            .collect();
        assert_eq!(
            kinds,
            [b'Q', b'P', b'P'],
            "the Execute has its Parse's facts"
        );
        assert_eq!(left[2].sqlstate.as_deref(), Some("42501"));
        t.abandon(now);
        assert_eq!(t.take_completed().count(), 0, "recorded once");
    }

    #[test]
    fn simple_query_completes_at_ready() {
        let mut t = StatementTracker::new();
        let now = Instant::now();
        t.frontend(
            &frame(b'Q', b"select 1; select 2\0"),
            Some(facts(b'Q', Outcome::Allow)),
            None,
            now,
        );
        t.backend(&frame(b'C', b"SELECT 1\0"), now);
        t.backend(&frame(b'C', b"SELECT 2\0"), now);
        assert_eq!(t.take_completed().count(), 0);
        t.backend(&frame(b'Z', b"I"), now);
        let done: Vec<_> = t.take_completed().collect();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].rows, Some(3));
    }

    #[test]
    fn executes_of_a_prepared_statement_carry_its_facts() {
        let mut t = StatementTracker::new();
        let now = Instant::now();
        t.frontend(
            &frame(b'P', b"s1\0select $1\0\0\0"),
            Some(facts(b'P', Outcome::Allow)),
            None,
            now,
        );
        t.frontend(&frame(b'S', b""), None, None, now);
        t.backend(&frame(b'1', b""), now);
        t.backend(&frame(b'Z', b"I"), now);
        assert_eq!(
            t.take_completed().count(),
            0,
            "a parse alone is no statement"
        );
        for _ in 0..3 {
            t.frontend(&frame(b'B', b"\0s1\0\0\0\0\0\0\0"), None, None, now);
            t.frontend(&frame(b'E', b"\0\0\0\0\0"), None, None, now);
            t.frontend(&frame(b'S', b""), None, None, now);
            t.backend(&frame(b'C', b"SELECT 1\0"), now);
            t.backend(&frame(b'Z', b"I"), now);
        }
        let done: Vec<_> = t.take_completed().collect();
        assert_eq!(done.len(), 3);
        assert!(done.iter().all(|c| c.facts.is_some() && c.rows == Some(1)));
    }

    #[test]
    fn errors_complete_and_skip_the_rest_of_the_batch() {
        let mut t = StatementTracker::new();
        let now = Instant::now();
        t.frontend(
            &frame(b'P', b"\0select x\0\0\0"),
            Some(facts(b'P', Outcome::Deny { rule: "r".into() })),
            None,
            now,
        );
        t.frontend(&frame(b'B', b"\0\0\0\0\0\0\0\0"), None, None, now);
        t.frontend(&frame(b'E', b"\0\0\0\0\0"), None, None, now);
        t.frontend(&frame(b'S', b""), None, None, now);
        t.backend(&frame(b'E', b"SERROR\0C42601\0Mx\0\0"), now);
        t.backend(&frame(b'Z', b"I"), now);
        let done: Vec<_> = t.take_completed().collect();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].sqlstate.as_deref(), Some("42501"));
    }
}
