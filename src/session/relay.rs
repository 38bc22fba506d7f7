//! The steady state of a session: frames flow both ways, each direction
//! scanned but forwarded as the bytes that arrived. This is where the guard
//! (frontend Query/Parse/FunctionCall), the masker (backend RowDescription and
//! DataRow) and the audit (statement completion) attach.

use bytes::BytesMut;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::events::SessionAudit;
use super::guard::{Guard, GuardError, Verdict};
use super::peer::Peer;
use super::results::{Action, ResultMasker, ResultsError, View};
use super::statements::{Completed, Facts, StatementTracker};
use crate::audit::{AuditError, AuditEvent, StatementText};
use crate::wire::backend::{ErrorSummary, TxnStatus};
use crate::wire::{Chunk, Disposition, FrameError};

/// How a relay ended without an error on either stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEnd {
    /// The client sent Terminate.
    ClientTerminated,
    /// The client closed its connection without Terminate.
    ClientClosed,
    /// The server closed its connection; `after_fatal` if it said why first.
    ServerClosed {
        after_fatal: bool,
    },
    /// pgward is shutting down and the grace period is over.
    Shutdown,
    IdleTimeout,
    IdleInTransactionTimeout,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("client: {0}")]
    ClientFrame(FrameError),
    #[error("server: {0}")]
    ServerFrame(FrameError),
    #[error("client i/o: {0}")]
    ClientIo(std::io::Error),
    #[error("server i/o: {0}")]
    ServerIo(std::io::Error),
    #[error("client: {0}")]
    Guard(#[from] GuardError),
    #[error("{0}")]
    Results(#[from] ResultsError),
    /// Strict audit: a statement's event could not be made durable, so the
    /// statement was not forwarded.
    #[error("audit trail unavailable: {0}")]
    Audit(AuditError),
}

/// Receives every completed statement (usage metrics).
pub trait StatementSink: Send {
    fn completed(&mut self, c: &Completed, tool: &str);
}

pub struct Timeouts {
    pub idle: Option<Duration>,
    pub idle_in_transaction: Option<Duration>,
}

/// Per-session protocol state the relay follows.
pub struct Relay {
    pub status: TxnStatus,
    /// The server has answered everything sent so far (last frame was ReadyForQuery).
    server_idle: bool,
    server_said_fatal: bool,
    client_terminated: bool,
    /// Present when a policy is configured.
    guard: Option<Guard>,
    /// Present while the session's profile has masks.
    results: Option<ResultMasker>,
    /// Rewritten rows waiting to be queued to the client, in order.
    rewritten: BytesMut,
    /// Present when statements are audited or counted.
    tracker: Option<StatementTracker>,
    audit: Option<Arc<SessionAudit>>,
    usage: Option<Box<dyn StatementSink>>,
    /// application_name as the server last reported it: the tool label.
    application: String,
    /// Events waiting for the relay's next write to finish.
    pending: Vec<AuditEvent>,
    /// Strict mode: decision events that must be durable before the
    /// server's queue is flushed.
    durable: Vec<AuditEvent>,
    /// Statements completed in this session.
    pub statements: u64,
}

/// Frontend message types pgward knows. Query, Parse and FunctionCall are
/// collected whole so a decision can be taken before any byte reaches the
/// server; Terminate so the session knows it is ending.
pub(crate) fn frontend_disposition(tag: u8) -> Disposition {
    match tag {
        b'Q' | b'P' | b'F' | b'X' => Disposition::Whole,
        b'B' | b'E' | b'D' | b'C' | b'S' | b'H' | b'd' | b'c' | b'f' | b'p' => Disposition::Pass,
        _ => Disposition::Reject,
    }
}

/// With a guard, Sync is also seen (it ends a batch of extended-protocol messages).
pub(crate) fn guarded_frontend_disposition(tag: u8) -> Disposition {
    match tag {
        b'S' => Disposition::Whole,
        t => frontend_disposition(t),
    }
}

/// With masks, or while statements are tracked for audit or metrics, every
/// message that gets a reply is followed, so each reply (rows above all) can
/// be matched to the request it answers.
pub(crate) fn followed_frontend_disposition(tag: u8) -> Disposition {
    match tag {
        b'B' | b'D' | b'E' | b'C' | b'S' => Disposition::Whole,
        t => frontend_disposition(t),
    }
}

/// While statements are tracked: the replies that complete one, and
/// ParameterStatus (application_name is the tool).
pub(crate) fn tracked_backend_disposition(tag: u8) -> Disposition {
    match tag {
        b'1' | b'C' | b'I' | b's' | b'V' | b'S' => Disposition::Whole,
        t => backend_disposition(t),
    }
}

/// Backend types followed: ReadyForQuery (transaction state, idle timers) and
/// ErrorResponse (a FATAL means the server is about to close).
pub(crate) fn backend_disposition(tag: u8) -> Disposition {
    match tag {
        b'Z' | b'E' => Disposition::Whole,
        _ => Disposition::Pass,
    }
}

/// With a guard, ParameterStatus is also followed (string-literal syntax and
/// client encoding decide how SQL must be parsed).
pub(crate) fn guarded_backend_disposition(tag: u8) -> Disposition {
    match tag {
        b'S' => Disposition::Whole,
        t => backend_disposition(t),
    }
}

impl Relay {
    pub fn new(
        status: TxnStatus,
        mut guard: Option<Guard>,
        server_params: &[(String, String)],
    ) -> Self {
        if let Some(g) = guard.as_mut() {
            for (k, v) in server_params {
                g.set_parameter(k, v);
            }
        }
        Relay {
            status,
            server_idle: true,
            server_said_fatal: false,
            client_terminated: false,
            guard,
            results: None,
            rewritten: BytesMut::new(),
            tracker: None,
            audit: None,
            usage: None,
            application: server_params
                .iter()
                .find(|(k, _)| k == "application_name")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            pending: Vec::new(),
            durable: Vec::new(),
            statements: 0,
        }
    }

    /// Follows statements to their completion for the audit trail and/or
    /// usage metrics. Without either, the relay does none of this work.
    pub fn track(
        &mut self,
        audit: Option<Arc<SessionAudit>>,
        usage: Option<Box<dyn StatementSink>>,
    ) {
        if audit.is_none() && usage.is_none() {
            return;
        }
        if let Some(g) = self.guard.as_mut() {
            // Metrics need the decision only; the trail also the text.
            g.record_decisions(audit.is_some());
        }
        self.tracker = Some(StatementTracker::new());
        self.audit = audit;
        self.usage = usage;
    }

    /// Hands queued events to the auditor (after the relay's writes: this
    /// may wait under `on_full: block`, which then slows this session only).
    async fn emit_pending(&mut self) {
        let Some(a) = &self.audit else { return };
        for ev in self.pending.drain(..) {
            if let Err(e) = a.auditor.emit(ev).await {
                tracing::warn!(error = %e, "audit event not recorded");
            }
        }
    }

    /// Strict mode: every decision event of this read is durable before any
    /// of its statements is flushed to the server. The spool writes in queue
    /// order, so the durable acknowledgement of the last event covers the
    /// ones queued before it: one fsync wait per read, not per statement.
    async fn make_durable(&mut self) -> Result<(), RelayError> {
        let Some(a) = &self.audit else { return Ok(()) };
        let Some(last) = self.durable.pop() else {
            return Ok(());
        };
        for ev in self.durable.drain(..) {
            a.auditor.emit(ev).await.map_err(RelayError::Audit)?;
        }
        a.auditor
            .emit_durable(last)
            .await
            .map_err(RelayError::Audit)
    }

    fn finish_statements(&mut self) {
        let Some(t) = self.tracker.as_mut() else {
            return;
        };
        let tool = match &self.guard {
            Some(g) => g.attribution().application(),
            None => &self.application,
        };
        for c in t.take_completed() {
            self.statements += 1;
            if let Some(u) = self.usage.as_mut() {
                u.completed(&c, tool);
            }
            if let Some(a) = &self.audit {
                self.pending.push(a.completion_event(&c, tool));
            }
        }
    }

    pub async fn run(
        &mut self,
        client: &mut Peer,
        server: &mut Peer,
        timeouts: &Timeouts,
        hard_close: &CancellationToken,
    ) -> Result<RelayEnd, RelayError> {
        let idle = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(idle);
        let mut idle_armed = self.arm_idle(timeouts, idle.as_mut());
        // Created once: a fresh `cancelled()` per iteration would register and
        // remove a waiter on the token under its lock for every message.
        let cancelled = hard_close.cancelled();
        tokio::pin!(cancelled);
        loop {
            client.prepare_read();
            server.prepare_read();
            tokio::select! {
                // Fixed order (no per-poll randomisation); shutdown is checked first.
                biased;
                _ = &mut cancelled => return Ok(RelayEnd::Shutdown),
                _ = &mut idle, if idle_armed.is_some() => {
                    return Ok(idle_armed.unwrap_or(RelayEnd::IdleTimeout));
                }
                                r = tokio::io::AsyncReadExt::read_buf(&mut client.stream, &mut client.rbuf) => {
                    match r {
                        Ok(0) => return Ok(RelayEnd::ClientClosed),
                        Ok(n) => {
                            client.bytes_in += n as u64;
                            if client.rbuf.capacity() > client.rbuf.len() {
                                client.stream.note_drained();
                            }
                        }
                        Err(e) => return Err(RelayError::ClientIo(e)),
                    }
                    if let Some(g) = self.guard.as_mut() {
                        g.prepare_masking().await;
                        if g.masks_active() {
                            if self.results.is_none() && self.server_idle {
                                self.results = Some(ResultMasker::new());
                            }
                        } else if self.server_idle {
                            self.results = None;
                        }
                    }
                    self.frontend(client, server)?;
                    if !self.durable.is_empty() {
                        self.make_durable().await?;
                    }
                    server.flush().await.map_err(RelayError::ServerIo)?;
                    if self.client_terminated {
                        return Ok(RelayEnd::ClientTerminated);
                    }
                    idle_armed = None;
                }
                                r = tokio::io::AsyncReadExt::read_buf(&mut server.stream, &mut server.rbuf) => {
                    match r {
                        Ok(0) => return Ok(RelayEnd::ServerClosed { after_fatal: self.server_said_fatal }),
                        Ok(n) => {
                            server.bytes_in += n as u64;
                            if server.rbuf.capacity() > server.rbuf.len() {
                                server.stream.note_drained();
                            }
                        }
                        Err(e) => return Err(RelayError::ServerIo(e)),
                    }
                    let was_idle = self.server_idle;
                    self.backend(server, client)?;
                    client.flush().await.map_err(RelayError::ClientIo)?;
                    if !self.pending.is_empty() {
                        self.emit_pending().await;
                    }
                    // Arm on the transition to idle only: asynchronous messages
                    // (notifications, notices) to an idle client do not restart
                    // the clock, as they do not on the server.
                    if self.server_idle && !was_idle {
                        idle_armed = self.arm_idle(timeouts, idle.as_mut());
                    }
                }
            }
        }
    }

    /// Arms the idle timer when the server has answered everything and the
    /// client has sent nothing since; returns which timeout would fire.
    fn arm_idle(
        &self,
        t: &Timeouts,
        sleep: std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Option<RelayEnd> {
        if !self.server_idle {
            return None;
        }
        let (limit, end) = match self.status {
            TxnStatus::Idle => (t.idle?, RelayEnd::IdleTimeout),
            TxnStatus::InTransaction | TxnStatus::Failed => {
                (t.idle_in_transaction?, RelayEnd::IdleInTransactionTimeout)
            }
        };
        sleep.reset(Instant::now() + limit);
        Some(end)
    }

    /// Records a frontend message with the guard's decision for it, which
    /// the guard has taken by then (see `frontend`).
    fn track_frontend(&mut self, f: &crate::wire::Frame, now: Instant) {
        let Some(t) = self.tracker.as_mut() else {
            return;
        };
        let text = self
            .audit
            .as_ref()
            .map(|a| a.text)
            .unwrap_or(StatementText::None);
        let facts = self
            .guard
            .as_mut()
            .and_then(|g| g.take_decided())
            .map(|d| Arc::new(Facts::from_decided(d, text)));
        let mut decision_event = None;
        if let (Some(a), Some(fx)) = (self.audit.as_ref().filter(|a| a.strict), facts.as_ref()) {
            let tool = match &self.guard {
                Some(g) => g.attribution().application(),
                None => &self.application,
            };
            let ev = a.decision_event(fx, tool);
            decision_event = Some(ev.id.clone());
            self.durable.push(ev);
        }
        t.frontend(f, facts, decision_event, now);
    }

    fn frontend(&mut self, client: &mut Peer, server: &mut Peer) -> Result<(), RelayError> {
        let now = self.tracker.as_ref().map(|_| Instant::now());
        let disposition = if self.results.is_some() || self.tracker.is_some() {
            followed_frontend_disposition
        } else if self.guard.is_some() {
            guarded_frontend_disposition
        } else {
            frontend_disposition
        };
        while let Some(chunk) = client
            .scanner
            .next_chunk(&mut client.rbuf, disposition)
            .map_err(RelayError::ClientFrame)?
        {
            self.server_idle = false;
            match chunk {
                Chunk::Pass(b) => server.queue(b),
                Chunk::Frame(f) => {
                    if f.tag() == b'X' {
                        self.client_terminated = true;
                        server.queue(f.into_bytes());
                        break;
                    }
                    let verdict = self.guard.as_mut().map(|g| g.frontend(&f)).transpose()?;
                    let injected = match (self.results.as_mut(), self.guard.as_mut()) {
                        (Some(r), Some(g)) => r.frontend(&f, g.take_masking())?,
                        _ => None,
                    };
                    if let Some(now) = now {
                        self.track_frontend(&f, now);
                    }
                    if let Some(extra) = injected {
                        server.queue(extra);
                    }
                    match verdict {
                        None | Some(Verdict::Forward) => server.queue(f.into_bytes()),
                        Some(Verdict::Replace(substitute)) => server.queue(substitute),
                    }
                }
            }
        }
        Ok(())
    }

    fn backend(&mut self, server: &mut Peer, client: &mut Peer) -> Result<(), RelayError> {
        let base = if self.tracker.is_some() {
            tracked_backend_disposition
        } else if self.guard.is_some() {
            guarded_backend_disposition
        } else {
            backend_disposition
        };
        let now = self.tracker.as_ref().map(|_| Instant::now());
        let view = self.guard.as_ref().and_then(|g| g.mask_view());
        loop {
            let results = self.results.as_ref();
            let chunk = server
                .scanner
                .next_chunk(&mut server.rbuf, |tag| match results {
                    None => base(tag),
                    // Rows and COPY data are collected whole only while
                    // they are being rewritten; everything else is small.
                    Some(r) => match tag {
                        b'D' if !r.rewrites_rows() => Disposition::Pass,
                        b'd' if !r.rewrites_copy() => Disposition::Pass,
                        _ => Disposition::Whole,
                    },
                })
                .map_err(RelayError::ServerFrame)?;
            let Some(chunk) = chunk else { break };
            match chunk {
                // While idle the server only sends asynchronous messages, which
                // leave it idle; any reply to a request follows a client message,
                // and that already cleared `server_idle`.
                Chunk::Pass(b) => {
                    self.flush_rewritten(client);
                    if let Some(t) = self.tracker.as_mut() {
                        t.note_bytes_out(b.len());
                    }
                    client.queue(b)
                }
                Chunk::Frame(f) => {
                    if let (Some(t), Some(now)) = (self.tracker.as_mut(), now) {
                        t.note_bytes_out(f.len());
                        t.backend(&f, now);
                    }
                    let mut denial = None;
                    match f.tag() {
                        b'Z' => {
                            if let Some(s) = TxnStatus::from_ready_body(f.body()) {
                                self.status = s;
                            }
                            self.server_idle = true;
                            if let Some(g) = self.guard.as_mut() {
                                g.backend_ready();
                                if g.ddl_completed(self.status) {
                                    if let Some(c) = g.catalogs() {
                                        c.invalidate();
                                    }
                                }
                            }
                        }
                        b'E' => {
                            if ErrorSummary::parse(f.body()).is_some_and(|s| s.is_fatal()) {
                                self.server_said_fatal = true;
                            }
                            denial = self.guard.as_mut().and_then(|g| g.backend_error(&f));
                        }
                        b'S' => {
                            if let Some(g) = self.guard.as_mut() {
                                g.parameter_status(f.body());
                            } else if self.tracker.is_some() {
                                let mut parts = f.body().split(|&b| b == 0);
                                if let (Some(b"application_name"), Some(v)) =
                                    (parts.next(), parts.next())
                                {
                                    self.application = String::from_utf8_lossy(v).into_owned();
                                }
                            }
                        }
                        _ => {}
                    }
                    let action = match (self.results.as_mut(), view.as_ref()) {
                        (Some(r), Some((snapshot, index))) => {
                            let v = View { snapshot, index };
                            let a = r.backend(&f, &v, &mut self.rewritten)?;
                            if std::mem::take(&mut r.saw_unknown) {
                                if let Some(c) = self.guard.as_ref().and_then(|g| g.catalogs()) {
                                    c.invalidate();
                                }
                            }
                            a
                        }
                        // Masks without a catalog: requests are refused by
                        // the guard, so only errors and sync replies arrive.
                        (Some(_), None) if matches!(f.tag(), b'D' | b'd') => {
                            return Err(RelayError::Results(ResultsError::ServerMalformed(
                                "unexpected rows while masking has no catalog",
                            )))
                        }
                        _ => Action::Forward,
                    };
                    if let Some(d) = denial {
                        self.flush_rewritten(client);
                        client.queue(d);
                        continue;
                    }
                    match action {
                        Action::Forward => {
                            self.flush_rewritten(client);
                            client.queue(f.into_bytes())
                        }
                        Action::Replace(b) => {
                            self.flush_rewritten(client);
                            client.queue(b)
                        }
                        Action::Written | Action::Swallow => {}
                    }
                }
            }
        }
        self.flush_rewritten(client);
        self.finish_statements();
        Ok(())
    }

    fn flush_rewritten(&mut self, client: &mut Peer) {
        if !self.rewritten.is_empty() {
            client.queue(self.rewritten.split().freeze());
        }
    }
}
