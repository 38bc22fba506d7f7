//! The steady state of a session: frames flow both ways, each direction
//! scanned but forwarded as the bytes that arrived. This is where the guard
//! (frontend Query/Parse/FunctionCall), the masker (backend RowDescription and
//! DataRow) and the audit (statement completion) attach.
//!
//! One task owns both sockets and waits on everything at once: reads from
//! either side, writes to either side, timers and the one asynchronous step
//! that may hold frontend processing (a catalog load, a question to the
//! server, a durable audit write). No await in the loop waits for one side
//! while the other is ignored: PostgreSQL does not read while its send
//! buffer is full, so a relay that blocked on writing a request while the
//! server was blocked writing a reply would hang both. Each direction is
//! bounded instead: a side is read only while what waits to be written to
//! the other stays under [`HIGH_WATER`].

mod backend;
pub(crate) mod dispositions;
mod emit;
mod frontend;
mod settle;

use bytes::BytesMut;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::events::SessionAudit;
use super::guard::{Guard, GuardError, GuardTask, Loaded};
use super::peer::Peer;
use super::recent_facts::RecentFacts;
use super::results::{ResultMasker, ResultsError};
use super::statements::{Completed, StatementTracker};
use crate::audit::{AuditError, AuditEvent};
use crate::wire::backend::TxnStatus;
use crate::wire::{Frame, FrameError};
use settle::Settler;

/// Bytes queued for one side above which pgward stops reading the other.
const HIGH_WATER: usize = 256 * 1024;

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

type AuditTask = Pin<Box<dyn Future<Output = Result<(), AuditError>> + Send>>;

/// What the guard waits for before it decides the held message.
enum Gate {
    /// The guard sent the server a question; the answer arrives among the
    /// backend messages.
    Answer,
    /// The guard needs something loaded before it can decide.
    Guard(GuardTask),
}

/// An audit write the session waits for before it takes another request.
enum AuditWait {
    /// Strict audit: decision events are being made durable; nothing of the
    /// statements they describe is written to the server until then.
    Durable(AuditTask),
    /// The audit queue is full (`on_full: block`).
    Emit(AuditTask),
}

/// What woke the relay.
#[derive(Default)]
struct Events {
    shutdown: bool,
    idle: bool,
    /// The quiet-period timer fired.
    settle: bool,
    client_read: Option<std::io::Result<usize>>,
    server_read: Option<std::io::Result<usize>>,
    client_write: Option<std::io::Error>,
    server_write: Option<std::io::Error>,
    /// A queue drained, and something the loop does was waiting for it.
    unblocked: bool,
    loaded: Option<Loaded>,
    audited: Option<(bool, Result<(), AuditError>)>,
}

impl Events {
    fn any(&self) -> bool {
        self.shutdown
            || self.idle
            || self.settle
            || self.client_read.is_some()
            || self.server_read.is_some()
            || self.client_write.is_some()
            || self.server_write.is_some()
            || self.unblocked
            || self.loaded.is_some()
            || self.audited.is_some()
    }
}

/// The hard-close token and whether its future has been polled (and so
/// holds the session task's waker).
struct CancelWatch<'a> {
    token: &'a CancellationToken,
    registered: bool,
}

/// Per-session protocol state the relay follows.
pub struct Relay {
    pub status: TxnStatus,
    /// The server has answered everything sent so far (last frame was ReadyForQuery).
    server_idle: bool,
    server_said_fatal: bool,
    client_terminated: bool,
    /// Present when a policy is configured.
    /// Boxed: the session task's future holds the relay (and, across
    /// its await points, each place the guard passed through) inline, and
    /// an idle session should cost little more than its sockets.
    guard: Option<Box<Guard>>,
    /// Present while the session's profile has masks.
    /// Boxed: it is large, and sessions without masks never build one.
    results: Option<Box<ResultMasker>>,
    /// Rewritten rows waiting to be queued to the client, in order.
    rewritten: BytesMut,
    /// Present when statements are audited or counted.
    tracker: Option<StatementTracker>,
    /// Facts of recent requests, shared with a request decided the same way.
    recent: RecentFacts,
    audit: Option<Arc<SessionAudit>>,
    usage: Option<Box<dyn StatementSink>>,
    /// application_name as the server last reported it: the tool label.
    application: String,
    /// Events waiting for the relay's next write to the client to finish.
    pending: Vec<AuditEvent>,
    /// Strict mode: decision events that must be durable before the
    /// server's queue is flushed.
    durable: Vec<AuditEvent>,
    /// Frontend processing waits for this (with `held`).
    gate: Option<Gate>,
    /// Frontend processing also waits for this.
    audit_wait: Option<AuditWait>,
    /// A frontend message taken off the buffer and not yet decided.
    held: Option<Frame>,
    /// Statements completed in this session.
    pub statements: u64,
}

impl Relay {
    pub fn new(
        status: TxnStatus,
        mut guard: Option<Box<Guard>>,
        server_params: Vec<(String, String)>,
    ) -> Self {
        if let Some(g) = guard.as_mut() {
            for (k, v) in &server_params {
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
            recent: RecentFacts::default(),
            audit: None,
            usage: None,
            application: server_params
                .into_iter()
                .find(|(k, _)| k == "application_name")
                .map(|(_, v)| v)
                .unwrap_or_default(),
            pending: Vec::new(),
            durable: Vec::new(),
            gate: None,
            audit_wait: None,
            held: None,
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
            g.record_decisions(audit.as_ref().map(|a| a.text));
        }
        self.tracker = Some(StatementTracker::new());
        self.audit = audit;
        self.usage = usage;
    }

    /// Relays until the session ends, then records what the audit trail
    /// still lacks (see `record_leftovers`), however it ended.
    pub async fn run(
        &mut self,
        client: &mut Peer,
        server: &mut Peer,
        timeouts: &Timeouts,
        hard_close: &CancellationToken,
    ) -> Result<RelayEnd, RelayError> {
        let end = self.relay(client, server, timeouts, hard_close).await;
        // Boxed: run once per session, at its end, its state would
        // otherwise size the session's future (and so every idle
        // session's memory) for the whole session.
        Box::pin(self.record_leftovers()).await;
        end
    }

    async fn relay(
        &mut self,
        client: &mut Peer,
        server: &mut Peer,
        timeouts: &Timeouts,
        hard_close: &CancellationToken,
    ) -> Result<RelayEnd, RelayError> {
        let idle = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(idle);
        let mut idle_armed = self.arm_idle(timeouts, idle.as_mut());
        let settle_timer = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(settle_timer);
        let mut settler = Settler::default();
        // Quiet right after the login: the buffers the login used go now,
        // while a burst of new sessions can reuse their memory (a pool's
        // sessions mostly sit idle from here); later pauses wait a period.
        if self.quiet(client) {
            settle(client, server);
        }
        // Created once: a fresh `cancelled()` per iteration would register and
        // remove a waiter on the token under its lock for every message.
        let cancelled = hard_close.cancelled();
        tokio::pin!(cancelled);
        let mut watch = CancelWatch {
            token: hard_close,
            registered: false,
        };
        loop {
            if self.gate.is_none() && self.audit_wait.is_none() {
                self.frontend(client, server)?;
            }
            if self.client_terminated && !server.wants_write() && self.audit_wait.is_none() {
                return Ok(RelayEnd::ClientTerminated);
            }
            let armed = idle_armed.is_some();
            let ev = poll_fn(|cx| {
                let settling = settler.poll(settle_timer.as_mut(), cx);
                let mut ev = self.poll_events(
                    cx,
                    client,
                    server,
                    (&mut watch, cancelled.as_mut()),
                    idle.as_mut(),
                    armed,
                );
                if settling {
                    let mut e = match ev {
                        Poll::Ready(e) => e,
                        Poll::Pending => Events::default(),
                    };
                    e.settle = true;
                    ev = Poll::Ready(e);
                }
                ev
            })
            .await;
            if ev.settle && settler.fired(settle_timer.as_mut(), self.quiet(client)) {
                settle(client, server);
                if self.pending.is_empty() {
                    self.pending = Vec::new();
                }
            }
            if ev.shutdown {
                return Ok(RelayEnd::Shutdown);
            }
            if ev.idle {
                return Ok(idle_armed.unwrap_or(RelayEnd::IdleTimeout));
            }
            if let Some(e) = ev.server_write {
                return Err(RelayError::ServerIo(e));
            }
            if let Some(e) = ev.client_write {
                return Err(RelayError::ClientIo(e));
            }
            if let Some(l) = ev.loaded {
                if let Some(g) = self.guard.as_mut() {
                    g.loaded(l);
                }
            }
            if let Some((durable, r)) = ev.audited {
                match r {
                    Err(e) if durable => return Err(RelayError::Audit(e)),
                    Err(e) => tracing::warn!(error = %e, "audit event not recorded"),
                    Ok(()) => {}
                }
            }
            if let Some(r) = ev.server_read {
                match r {
                    Ok(0) => {
                        return Ok(RelayEnd::ServerClosed {
                            after_fatal: self.server_said_fatal,
                        })
                    }
                    Ok(_) => {
                        let was_quiet = self.quiet(client);
                        let read_at = self.backend(server, client)?;
                        // Arm on the transition to idle only: asynchronous
                        // messages (notifications, notices) to an idle client
                        // do not restart the clock, as they do not on the server.
                        if self.quiet(client) && !was_quiet {
                            idle_armed = self.arm_idle(timeouts, idle.as_mut());
                            settler.quiet(settle_timer.as_mut(), read_at);
                        }
                    }
                    Err(e) => return Err(RelayError::ServerIo(e)),
                }
            }
            if let Some(r) = ev.client_read {
                match r {
                    Ok(0) => return Ok(RelayEnd::ClientClosed),
                    Ok(_) => {
                        idle_armed = None;
                        settler.busy();
                    }
                    Err(e) => return Err(RelayError::ClientIo(e)),
                }
            }
            if !client.wants_write() && !self.pending.is_empty() && self.audit_wait.is_none() {
                self.emit_pending();
            }
        }
    }

    /// Nothing is in flight and nothing waits to be decided.
    fn quiet(&self, client: &Peer) -> bool {
        self.server_idle
            && self.held.is_none()
            && self.gate.is_none()
            && self.audit_wait.is_none()
            && client.rbuf.is_empty()
    }

    /// One pass over everything the relay waits on. Writes go first, so a
    /// side whose queue has just drained is read in the same pass.
    fn poll_events(
        &mut self,
        cx: &mut Context<'_>,
        client: &mut Peer,
        server: &mut Peer,
        (watch, cancelled): (
            &mut CancelWatch<'_>,
            Pin<&mut tokio_util::sync::WaitForCancellationFuture<'_>>,
        ),
        idle: Pin<&mut tokio::time::Sleep>,
        idle_armed: bool,
    ) -> Poll<Events> {
        let mut ev = Events::default();
        // Polled once to leave the task's waker with the token, and after
        // that only once the token says it was cancelled: every poll of
        // the future takes the token's lock, and a pass is made for every
        // message.
        if (!watch.registered || watch.token.is_cancelled()) && cancelled.poll(cx).is_ready() {
            ev.shutdown = true;
            return Poll::Ready(ev);
        }
        watch.registered = true;
        if idle_armed && idle.poll(cx).is_ready() {
            ev.idle = true;
            return Poll::Ready(ev);
        }
        if let Some(Gate::Guard(t)) = &mut self.gate {
            if let Poll::Ready(l) = t.as_mut().poll(cx) {
                ev.loaded = Some(l);
                self.gate = None;
            }
        }
        match &mut self.audit_wait {
            Some(AuditWait::Durable(t)) => {
                if let Poll::Ready(r) = t.as_mut().poll(cx) {
                    ev.audited = Some((true, r));
                    self.audit_wait = None;
                }
            }
            Some(AuditWait::Emit(t)) => {
                if let Poll::Ready(r) = t.as_mut().poll(cx) {
                    ev.audited = Some((false, r));
                    self.audit_wait = None;
                }
            }
            None => {}
        }
        let server_held = matches!(self.audit_wait, Some(AuditWait::Durable(_)));
        let mut drained = false;
        if server.wants_write() && !server_held {
            match server.poll_drain(cx) {
                Poll::Ready(Ok(())) => drained = true,
                Poll::Ready(Err(e)) => ev.server_write = Some(e),
                Poll::Pending => {}
            }
        }
        if client.wants_write() {
            match client.poll_drain(cx) {
                Poll::Ready(Ok(())) => drained = true,
                Poll::Ready(Err(e)) => ev.client_write = Some(e),
                Poll::Pending => {}
            }
        }
        if drained {
            // Audit events wait for the replies they describe to be
            // written; now they are, and they go in this pass.
            if !client.wants_write() && !self.pending.is_empty() && self.audit_wait.is_none() {
                self.emit_pending();
            }
            // Another turn of the loop only for what waited on the drain:
            // frontend messages, the end of a terminated client, or the
            // auditor's gate just set.
            ev.unblocked = self.audit_wait.is_some()
                || self.client_terminated
                || self.held.is_some()
                || !client.rbuf.is_empty();
        }
        // A side is read only while the other can take what it sends.
        // While frontend processing waits, what the client sends meanwhile
        // is buffered up to the same bound.
        let client_room = server.queued() < HIGH_WATER
            && !self.client_terminated
            && ((self.gate.is_none() && self.audit_wait.is_none())
                || client.rbuf.len() < HIGH_WATER);
        if client_room {
            if let Poll::Ready(r) = client.poll_read(cx) {
                ev.client_read = Some(r);
            }
        }
        if client.queued() < HIGH_WATER {
            if let Poll::Ready(r) = server.poll_read(cx) {
                ev.server_read = Some(r);
            }
        }
        if ev.any() {
            Poll::Ready(ev)
        } else {
            Poll::Pending
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

    fn flush_rewritten(&mut self, client: &mut Peer) {
        if !self.rewritten.is_empty() {
            client.queue(self.rewritten.split().freeze());
        }
    }
}

/// The session has stayed quiet: neither side's read buffer is kept while
/// it waits (see `Peer::release_idle_buffer` and `settle`).
fn settle(client: &mut Peer, server: &mut Peer) {
    client.release_idle_buffer();
    server.release_idle_buffer();
}
