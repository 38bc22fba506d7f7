//! Where a session's statement events go to the auditor: once the replies
//! they describe are written (the trail is off the statement's path), before
//! a statement is forwarded in strict mode, and at the session's end for
//! whatever is left, however the session ended.

use std::sync::Arc;
use tokio::time::Instant;

use super::{AuditWait, Relay};
use crate::audit::AuditEvent;

impl Relay {
    /// Hands completed statements' events to the auditor once the replies
    /// they describe are written: without waiting when the queue has room,
    /// else as the gate the next request waits behind (`on_full: block`).
    pub(super) fn emit_pending(&mut self) {
        /// The room the statement-event list keeps between statements:
        /// what a few pipelined statements' events take.
        const PENDING_KEPT: usize = 8;
        let Some(a) = &self.audit else {
            self.pending.clear();
            return;
        };
        // Drained, not taken: the list keeps its room for the next
        // statement's events instead of being allocated anew for each (it
        // is given back when the session settles, and right away after a
        // pipelined burst).
        if self.pending.capacity() > PENDING_KEPT {
            self.pending.shrink_to(self.pending.len().max(PENDING_KEPT));
        }
        let mut events = self.pending.drain(..);
        while let Some(ev) = events.next() {
            match a.auditor.try_emit(ev) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "audit event not recorded"),
                Err(blocked) => {
                    let auditor = Arc::clone(&a.auditor);
                    let rest: Vec<AuditEvent> = std::iter::once(blocked).chain(events).collect();
                    self.audit_wait = Some(AuditWait::Emit(Box::pin(async move {
                        let mut result = Ok(());
                        for ev in rest {
                            if let Err(e) = auditor.emit(ev).await {
                                result = Err(e);
                            }
                        }
                        result
                    })));
                    return;
                }
            }
        }
    }

    /// Strict mode: every decision event of this read is durable before any
    /// of its statements is written to the server. The spool writes in queue
    /// order, so the durable acknowledgement of the last event covers the
    /// ones queued before it: one fsync wait per read, not per statement.
    pub(super) fn make_durable(&mut self) {
        let Some(a) = &self.audit else {
            self.durable.clear();
            return;
        };
        let Some(last) = self.durable.pop() else {
            return;
        };
        let auditor = Arc::clone(&a.auditor);
        let before = std::mem::take(&mut self.durable);
        self.audit_wait = Some(AuditWait::Durable(Box::pin(async move {
            for ev in before {
                auditor.emit(ev).await?;
            }
            auditor.emit_durable(last).await
        })));
    }

    pub(super) fn finish_statements(&mut self) {
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

    /// The session is over. Statements forwarded and not answered are
    /// recorded as unanswered (the server may have run them), and events
    /// still waiting for their reply's write are handed over whether or
    /// not the write happened: a client that leaves, or a connection that
    /// breaks, must not take a statement out of the trail.
    pub(super) async fn record_leftovers(&mut self) {
        // An audit hand-off in progress finishes first (its events come
        // before these).
        match self.audit_wait.take() {
            Some(AuditWait::Durable(t) | AuditWait::Emit(t)) => {
                if let Err(e) = t.await {
                    tracing::warn!(error = %e, "audit event not recorded");
                }
            }
            None => {}
        }
        if let Some(t) = self.tracker.as_mut() {
            t.abandon(Instant::now());
        }
        self.finish_statements();
        let Some(a) = &self.audit else {
            return;
        };
        // Strict mode: decisions of a read cut short (a completion may
        // name them) go before the completions.
        let decisions = std::mem::take(&mut self.durable);
        for ev in decisions
            .into_iter()
            .chain(std::mem::take(&mut self.pending))
        {
            if let Err(e) = a.auditor.emit(ev).await {
                tracing::warn!(error = %e, "audit event not recorded");
            }
        }
    }
}
