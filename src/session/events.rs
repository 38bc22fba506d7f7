//! The audit events of one session: what every event of the session says
//! (who, where, which session), and how a decided or completed statement
//! becomes an event. Emitting is the relay's and the session's job, always
//! after their writes, never inside a frame handler.

use std::sync::Arc;

use super::statements::{Completed, Facts};
use crate::audit::{
    attr, AttrBlock, AttrKey, AttrValue, AuditEvent, Auditor, EventKind, StatementText,
};

/// Links a strict-mode decision event and the completion event after it.
pub const STATEMENT_ID: &str = "pgward.statement.id";
/// `decision` (strict mode, written before forwarding) or `complete`.
pub const PHASE: &str = "pgward.phase";
/// A valid traceparent the client's own comment carried: the parent of
/// pgward's span for the statement.
pub const PARENT_TRACEPARENT: &str = "pgward.parent_traceparent";
/// pgward's own traceparent, when the profile stamps one.
pub const TRACEPARENT: &str = "pgward.traceparent";

/// The audit side of a session.
pub struct SessionAudit {
    pub auditor: Arc<Auditor>,
    /// Forward a statement only once its decision event is durable.
    pub strict: bool,
    pub text: StatementText,
    base: Arc<AttrBlock>,
}

/// The facts every event of a session carries.
pub struct SessionFacts<'a> {
    pub session_id: &'a str,
    pub user: &'a str,
    pub database: &'a str,
    pub client_address: &'a str,
    pub server_address: &'a str,
    pub server_port: u16,
    pub branch: &'a str,
}

impl SessionAudit {
    pub fn new(auditor: Arc<Auditor>, strict: bool, f: &SessionFacts<'_>) -> SessionAudit {
        let text = auditor.statement_text();
        let s = |v: &str| AttrValue::Shared(v.into());
        SessionAudit {
            auditor,
            strict,
            text,
            base: AttrBlock::new(vec![
                AuditEvent::system_attr(),
                (attr::SESSION_ID.into(), s(f.session_id)),
                (attr::USER_NAME.into(), s(f.user)),
                (attr::DB_NAMESPACE.into(), s(f.database)),
                (attr::CLIENT_ADDRESS.into(), s(f.client_address)),
                (attr::SERVER_ADDRESS.into(), s(f.server_address)),
                (attr::SERVER_PORT.into(), AttrValue::from(f.server_port)),
                (attr::BRANCH.into(), s(f.branch)),
            ]),
        }
    }

    /// A new event with the session's facts.
    pub fn event(&self, kind: EventKind) -> AuditEvent {
        AuditEvent::with_block(kind, self.base.clone(), EVENT_ATTRS)
    }

    /// The event written before a statement is forwarded (strict mode).
    pub fn decision_event(&self, facts: &Facts, tool: &str) -> AuditEvent {
        let mut e = self.event(EventKind::Statement);
        statement_attrs(&mut e, facts, tool);
        e.push(PHASE, AttrValue::Static("decision"));
        e
    }

    /// The event for a completed statement.
    pub fn completion_event(&self, c: &Completed, tool: &str) -> AuditEvent {
        let mut e = self.event(EventKind::Statement);
        match &c.facts {
            Some(f) => statement_attrs(&mut e, f, tool),
            None => e.push(attr::TOOL, tool),
        }
        e.push(PHASE, AttrValue::Static("complete"));
        if let Some(id) = &c.decision_event {
            e.push(STATEMENT_ID, id.clone());
        }
        if let Some(r) = c.rows {
            e.push(attr::ROWS, r);
        }
        e.push(
            attr::DURATION_NS,
            u64::try_from(c.duration.as_nanos()).unwrap_or(u64::MAX),
        );
        e.push(attr::BYTES_IN, c.bytes_in);
        e.push(attr::BYTES_OUT, c.bytes_out);
        if let Some(code) = &c.sqlstate {
            e.push(attr::DB_RESPONSE_STATUS_CODE, code.clone());
        }
        e
    }
}

/// Room for a statement event's own attributes: the completion's (the
/// session's and the statement's are shared blocks).
const EVENT_ATTRS: usize = 10;

/// A statement's attributes: built once per decided request (its `Facts`)
/// as a shared block, so the events of a prepared statement executed many
/// times copy one pointer, and its encodings are made once. The tool comes from the session's
/// current application name and is added per event.
fn statement_attrs(e: &mut AuditEvent, f: &Facts, tool: &str) {
    let shared = f.event_attrs.get_or_init(|| {
        let mut a: Vec<(AttrKey, AttrValue)> = Vec::with_capacity(12);
        let mut add = |k: &'static str, v: AttrValue| a.push((k.into(), v));
        add(attr::PROFILE, f.profile.clone().into());
        add(attr::DECISION, AttrValue::Static(f.decision()));
        if let Some(rule) = f.rule() {
            add(attr::SECURITY_RULE_NAME, rule.into());
        }
        if let Some(op) = &f.operation {
            add(attr::DB_OPERATION_NAME, op.clone().into());
        }
        if let Some(first) = f.objects.first() {
            add(attr::DB_COLLECTION_NAME, first.clone().into());
        }
        if !f.objects.is_empty() {
            add(attr::OBJECTS, f.objects.clone().into());
        }
        if !f.class.is_empty() {
            add(attr::STATEMENT_CLASS, f.class.clone().into());
        }
        if !f.masked_columns.is_empty() {
            add(attr::MASKED_COLUMNS, f.masked_columns.clone().into());
        }
        if !f.row_filters.is_empty() {
            add(attr::ROW_FILTERS, f.row_filters.clone().into());
        }
        if let Some(t) = &f.text {
            add(attr::DB_QUERY_TEXT, t.clone().into());
        }
        if let Some(t) = &f.traceparent {
            add(TRACEPARENT, t.clone().into());
        }
        if let Some(t) = &f.client_traceparent {
            add(PARENT_TRACEPARENT, t.clone().into());
        }
        AttrBlock::new(a)
    });
    e.add_block(shared);
    e.push(attr::TOOL, tool);
}
