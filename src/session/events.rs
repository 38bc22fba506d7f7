//! The audit events of one session: what every event of the session says
//! (who, where, which session), and how a decided or completed statement
//! becomes an event. Emitting is the relay's and the session's job, always
//! after their writes, never inside a frame handler.

use std::sync::Arc;

use super::statements::{Completed, Facts};
use crate::audit::{attr, AttrKey, AttrValue, AuditEvent, Auditor, EventKind, StatementText};

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
    base: Vec<(AttrKey, AttrValue)>,
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
        let s = |v: &str| AttrValue::Str(v.to_owned());
        SessionAudit {
            auditor,
            strict,
            text,
            base: vec![
                (attr::SESSION_ID.into(), s(f.session_id)),
                (attr::USER_NAME.into(), s(f.user)),
                (attr::DB_NAMESPACE.into(), s(f.database)),
                (attr::CLIENT_ADDRESS.into(), s(f.client_address)),
                (attr::SERVER_ADDRESS.into(), s(f.server_address)),
                (attr::SERVER_PORT.into(), AttrValue::from(f.server_port)),
                (attr::BRANCH.into(), s(f.branch)),
            ],
        }
    }

    /// A new event with the session's facts.
    pub fn event(&self, kind: EventKind) -> AuditEvent {
        let mut e = AuditEvent::new(kind);
        e.attrs.extend(self.base.iter().cloned());
        e
    }

    /// The event written before a statement is forwarded (strict mode).
    pub fn decision_event(&self, facts: &Facts, tool: &str) -> AuditEvent {
        let mut e = self.event(EventKind::Statement);
        statement_attrs(&mut e, facts, tool);
        e.set(PHASE, "decision");
        e
    }

    /// The event for a completed statement.
    pub fn completion_event(&self, c: &Completed, tool: &str) -> AuditEvent {
        let mut e = self.event(EventKind::Statement);
        if let Some(f) = &c.facts {
            statement_attrs(&mut e, f, tool);
        } else {
            e.set(attr::TOOL, tool);
        }
        e.set(PHASE, "complete");
        if let Some(id) = &c.decision_event {
            e.set(STATEMENT_ID, id.clone());
        }
        if let Some(r) = c.rows {
            e.set(attr::ROWS, r);
        }
        e.set(
            attr::DURATION_NS,
            u64::try_from(c.duration.as_nanos()).unwrap_or(u64::MAX),
        );
        e.set(attr::BYTES_IN, c.bytes_in);
        e.set(attr::BYTES_OUT, c.bytes_out);
        if let Some(code) = &c.sqlstate {
            e.set(attr::DB_RESPONSE_STATUS_CODE, code.clone());
        }
        e
    }
}

fn statement_attrs(e: &mut AuditEvent, f: &Facts, tool: &str) {
    e.set(attr::PROFILE, f.profile.clone());
    e.set(attr::TOOL, tool);
    e.set(attr::DECISION, f.decision());
    if let Some(rule) = f.rule() {
        e.set(attr::SECURITY_RULE_NAME, rule.to_owned());
    }
    if let Some(op) = &f.operation {
        e.set(attr::DB_OPERATION_NAME, op.clone());
    }
    if let Some(first) = f.objects.first() {
        e.set(attr::DB_COLLECTION_NAME, first.clone());
    }
    if !f.objects.is_empty() {
        e.set(attr::OBJECTS, f.objects.clone());
    }
    if !f.class.is_empty() {
        e.set(attr::STATEMENT_CLASS, f.class.clone());
    }
    if !f.masked_columns.is_empty() {
        e.set(attr::MASKED_COLUMNS, f.masked_columns.clone());
    }
    if !f.row_filters.is_empty() {
        e.set(attr::ROW_FILTERS, f.row_filters.clone());
    }
    if let Some(t) = &f.text {
        e.set(attr::DB_QUERY_TEXT, t.clone());
    }
    if let Some(t) = &f.traceparent {
        e.set(TRACEPARENT, t.clone());
    }
    if let Some(t) = &f.client_traceparent {
        e.set(PARENT_TRACEPARENT, t.clone());
    }
}
