//! The audit events of one session: what every event of the session says
//! (who, where, which session), and how a decided or completed statement
//! becomes an event. Emitting is the relay's and the session's job, always
//! after their writes, never inside a frame handler.

use std::sync::{Arc, Mutex, PoisonError};

use super::statements::{Completed, Ending, Facts};
use crate::audit::{
    attr, AttrBlock, AttrKey, AttrValue, AuditEvent, Auditor, EventKind, StatementText,
};

/// Links a strict-mode decision event and the completion event after it.
pub const STATEMENT_ID: &str = "pgward.statement.id";
/// `decision` (strict mode, written before forwarding), `complete`, or
/// `unanswered` (the session ended before the statement's reply).
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
    /// The tool and phase every statement event ends its shared part with.
    tool: Mutex<Option<ToolBlocks>>,
}

/// A statement event's tool and phase as shared blocks, one per phase.
/// The tool changes only when the client sets `application_name`, so
/// these are made, and encoded, once per tool rather than per event.
struct ToolBlocks {
    tool: Arc<str>,
    decision: Arc<AttrBlock>,
    complete: Arc<AttrBlock>,
    unanswered: Arc<AttrBlock>,
}

impl ToolBlocks {
    fn new(tool: &str) -> ToolBlocks {
        let tool: Arc<str> = tool.into();
        let block = |phase: &'static str| {
            AttrBlock::new(vec![
                (attr::TOOL.into(), AttrValue::Shared(Arc::clone(&tool))),
                (PHASE.into(), AttrValue::Static(phase)),
            ])
        };
        ToolBlocks {
            decision: block("decision"),
            complete: block("complete"),
            unanswered: block("unanswered"),
            tool,
        }
    }
}

/// Which statement event.
#[derive(Clone, Copy)]
enum Phase {
    /// Written before the statement is forwarded (strict mode).
    Decision,
    Complete,
    /// The session ended before the statement's reply was seen.
    Unanswered,
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
            tool: Mutex::new(None),
        }
    }

    /// The block with `tool` and `phase`, made anew when the tool changed.
    fn tool_block(&self, tool: &str, phase: Phase) -> Arc<AttrBlock> {
        let mut kept = self.tool.lock().unwrap_or_else(PoisonError::into_inner);
        let blocks = match kept.take() {
            Some(b) if *b.tool == *tool => b,
            _ => ToolBlocks::new(tool),
        };
        let block = match phase {
            Phase::Decision => Arc::clone(&blocks.decision),
            Phase::Complete => Arc::clone(&blocks.complete),
            Phase::Unanswered => Arc::clone(&blocks.unanswered),
        };
        *kept = Some(blocks);
        block
    }

    /// A new event with the session's facts.
    pub fn event(&self, kind: EventKind) -> AuditEvent {
        AuditEvent::with_block(kind, self.base.clone(), EVENT_ATTRS)
    }

    /// The event written before a statement is forwarded (strict mode).
    pub fn decision_event(&self, facts: &Facts, tool: &str) -> AuditEvent {
        let mut e = self.event(EventKind::Statement);
        statement_attrs(&mut e, facts);
        e.add_block(&self.tool_block(tool, Phase::Decision));
        e
    }

    /// The event for a completed statement.
    pub fn completion_event(&self, c: &Completed, tool: &str) -> AuditEvent {
        let mut e = self.event(EventKind::Statement);
        if let Some(f) = &c.facts {
            statement_attrs(&mut e, f);
        }
        let phase = match c.ending {
            Ending::Replied => Phase::Complete,
            Ending::Unanswered => Phase::Unanswered,
        };
        e.add_block(&self.tool_block(tool, phase));
        if let Some(id) = &c.decision_event {
            e.push(STATEMENT_ID, id.to_string());
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
/// times copy one pointer, and its encodings are made once. The tool, from
/// the session's current application name, follows in a block of its own.
fn statement_attrs(e: &mut AuditEvent, f: &Facts) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{json_line, AuditConfig};
    use std::time::Duration;

    fn completed() -> Completed {
        Completed {
            ending: Ending::Replied,
            facts: None,
            duration: Duration::from_micros(5),
            rows: Some(1),
            bytes_in: 10,
            bytes_out: 20,
            sqlstate: None,
            decision_event: None,
        }
    }

    fn tool_of(e: &AuditEvent) -> Arc<str> {
        match e.get(attr::TOOL) {
            Some(AttrValue::Shared(s)) => Arc::clone(s),
            other => panic!("tool: {other:?}"),
        }
    }

    #[tokio::test]
    async fn statement_events_carry_the_current_tool_and_their_phase() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg: AuditConfig =
            serde_json::from_value(serde_json::json!({ "spool_dir": dir.path() })).expect("config");
        let auditor = Arc::new(Auditor::start(cfg).await.expect("start"));
        let facts = SessionFacts {
            session_id: "s",
            user: "u",
            database: "d",
            client_address: "127.0.0.1",
            server_address: "127.0.0.1",
            server_port: 5432,
            branch: "main",
        };
        let a = SessionAudit::new(auditor, false, &facts);
        let first = a.completion_event(&completed(), "psql");
        let again = a.completion_event(&completed(), "psql");
        assert!(
            Arc::ptr_eq(&tool_of(&first), &tool_of(&again)),
            "one tool, one block"
        );
        let other = a.completion_event(&completed(), "app \"quoted\"");
        assert_eq!(&*tool_of(&other), "app \"quoted\"", "a new tool is seen");
        let back = a.completion_event(&completed(), "psql");
        assert_eq!(&*tool_of(&back), "psql");
        for (e, tool) in [(&first, "psql"), (&other, "app \"quoted\"")] {
            let line: serde_json::Value =
                serde_json::from_slice(&json_line::to_vec(e)).expect("a JSON line");
            let attrs = &line["attrs"];
            assert_eq!(attrs[attr::TOOL], tool);
            assert_eq!(attrs[PHASE], "complete");
            assert_eq!(attrs[attr::ROWS], 1);
            assert_eq!(attrs[attr::SESSION_ID], "s");
            assert_eq!(e.attr_count(), attrs.as_object().map_or(0, |o| o.len()));
        }
    }
}
