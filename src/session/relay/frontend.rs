//! Client to server: every message that can run something is decided by the
//! guard before any byte of it is queued to the server; with masks or
//! statement tracking, every message that gets a reply is followed.

use tokio::time::Instant;

use super::{dispositions, Gate, Relay, RelayError};
use crate::audit::StatementText;
use crate::session::guard::Verdict;
use crate::session::peer::Peer;
use crate::session::results::ResultMasker;
use crate::wire::{Chunk, Disposition, Frame};

impl Relay {
    /// Processes what the client has sent, until the buffer is exhausted or
    /// a message must wait (a question to the server, a catalog load).
    pub(super) fn frontend(
        &mut self,
        client: &mut Peer,
        server: &mut Peer,
    ) -> Result<(), RelayError> {
        if self.held.is_none() && client.rbuf.is_empty() {
            return Ok(());
        }
        if let Some(g) = self.guard.as_mut() {
            // A reloaded policy or a stale catalog snapshot are picked up
            // before the next request is decided.
            if let Some(task) = g.begin_read() {
                self.gate = Some(Gate::Guard(task));
                return Ok(());
            }
            if g.masks_active() {
                if self.results.is_none() && self.server_idle {
                    self.results = Some(Box::new(ResultMasker::new()));
                }
            } else if self.server_idle {
                self.results = None;
            }
        }
        let now = self.tracker.as_ref().map(|_| Instant::now());
        if let Some(f) = self.held.take() {
            if !self.frame(f, server, now)? {
                return Ok(());
            }
        }
        loop {
            let disposition = self.frontend_disposition();
            let chunk = client
                .scanner
                .next_chunk(&mut client.rbuf, disposition)
                .map_err(RelayError::ClientFrame)?;
            let Some(chunk) = chunk else { break };
            self.server_idle = false;
            match chunk {
                Chunk::Pass(b) => {
                    if let Some(g) = self.guard.as_mut() {
                        g.passed();
                    }
                    server.queue(b)
                }
                Chunk::Frame(f) => {
                    if !self.frame(f, server, now)? {
                        break;
                    }
                }
            }
        }
        if !self.durable.is_empty() {
            self.make_durable();
        }
        Ok(())
    }

    fn frontend_disposition(&self) -> fn(u8) -> Disposition {
        if self.results.is_some() || self.tracker.is_some() {
            dispositions::followed_frontend
        } else if let Some(g) = &self.guard {
            if g.follows_portals() {
                dispositions::portal_frontend
            } else {
                dispositions::guarded_frontend
            }
        } else {
            dispositions::frontend
        }
    }

    /// Handles one whole frontend message; false if frontend processing
    /// must stop here (the message is held, or the client terminated).
    fn frame(
        &mut self,
        f: Frame,
        server: &mut Peer,
        now: Option<Instant>,
    ) -> Result<bool, RelayError> {
        self.server_idle = false;
        if f.tag() == b'X' {
            self.client_terminated = true;
            server.queue(f.into_bytes());
            return Ok(false);
        }
        let verdict = match self.guard.as_mut() {
            Some(g) => Some(g.frontend(&f)?),
            None => None,
        };
        let verdict = match verdict {
            Some(Verdict::Ask(question)) => {
                server.queue(question);
                self.held = Some(f);
                self.gate = Some(Gate::Answer);
                return Ok(false);
            }
            Some(Verdict::Load(task)) => {
                self.held = Some(f);
                self.gate = Some(Gate::Guard(task));
                return Ok(false);
            }
            v => v,
        };
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
            Some(Verdict::Ask(_) | Verdict::Load(_)) => {}
        }
        Ok(true)
    }

    /// Records a frontend message with the guard's decision for it, which
    /// the guard has taken by then (see `frame`).
    fn track_frontend(&mut self, f: &Frame, now: Instant) {
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
            .map(|d| self.recent.facts(d, text));
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
}
