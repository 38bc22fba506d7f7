//! Server to client: replies are forwarded as they arrived, except where
//! the guard's denials are put back into pgward's words, a question pgward
//! asked is answered, or a result is masked.

use tokio::time::Instant;

use super::{dispositions, Gate, Relay, RelayError};
use crate::session::peer::Peer;
use crate::session::results::{Action, ResultsError, View};
use crate::wire::backend::{ErrorSummary, TxnStatus};
use crate::wire::{Chunk, Disposition, Frame};

impl Relay {
    /// Handles what the server sent; returns the clock reading it took
    /// (when statements are tracked), for the caller's timers.
    pub(super) fn backend(
        &mut self,
        server: &mut Peer,
        client: &mut Peer,
    ) -> Result<Option<Instant>, RelayError> {
        let base = if self.tracker.is_some() {
            dispositions::tracked_backend
        } else if self.guard.is_some() {
            dispositions::guarded_backend
        } else {
            dispositions::backend
        };
        let now = self.tracker.as_ref().map(|_| Instant::now());
        let view = self.guard.as_ref().and_then(|g| g.mask_view());
        loop {
            let results = self.results.as_ref();
            // The replies to a question pgward asked are all seen (and
            // swallowed); none of them is the client's.
            let answering = self.guard.as_ref().is_some_and(|g| g.answering());
            let probing = self.guard.as_ref().is_some_and(|g| g.probing());
            let chunk = server
                .scanner
                .next_chunk(&mut server.rbuf, |tag| match results {
                    _ if answering => Disposition::Whole,
                    _ if probing && matches!(tag, b'1' | b'3') => Disposition::Whole,
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
                Chunk::Frame(f) if answering => self.answer(f, client),
                Chunk::Frame(f) => self.reply(f, client, now, view.as_ref())?,
            }
        }
        self.flush_rewritten(client);
        self.finish_statements();
        Ok(now)
    }

    /// A message of the server's answer to the guard's question. Messages
    /// the server may send at any time are the client's and pass.
    fn answer(&mut self, f: Frame, client: &mut Peer) {
        match f.tag() {
            b'A' | b'N' => client.queue(f.into_bytes()),
            b'S' => {
                if let Some(g) = self.guard.as_mut() {
                    g.parameter_status(f.body());
                }
                client.queue(f.into_bytes());
            }
            _ => {
                if f.tag() == b'Z' {
                    if let Some(s) = TxnStatus::from_ready_body(f.body()) {
                        self.status = s;
                    }
                }
                let done = self.guard.as_mut().is_some_and(|g| g.answer(&f));
                if done && matches!(self.gate, Some(Gate::Answer)) {
                    self.gate = None;
                }
            }
        }
    }

    /// A reply to the client's own requests.
    fn reply(
        &mut self,
        f: Frame,
        client: &mut Peer,
        now: Option<Instant>,
        view: Option<&(
            std::sync::Arc<crate::catalog::Snapshot>,
            std::sync::Arc<crate::mask::index::MaskIndex>,
        )>,
    ) -> Result<(), RelayError> {
        if matches!(f.tag(), b'1' | b'3')
            && self.guard.as_mut().is_some_and(|g| g.probe_reply(f.tag()))
        {
            return Ok(());
        }
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
                    g.backend_ready(self.status);
                    g.ddl_completed(self.status);
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
                    if let (Some(b"application_name"), Some(v)) = (parts.next(), parts.next()) {
                        self.application = String::from_utf8_lossy(v).into_owned();
                    }
                }
            }
            _ => {}
        }
        let action = match (self.results.as_mut(), view) {
            (Some(r), Some((snapshot, index))) => {
                let v = View { snapshot, index };
                let a = r.backend(&f, &v, &mut self.rewritten)?;
                if std::mem::take(&mut r.saw_unknown) {
                    if let Some(g) = self.guard.as_mut() {
                        g.catalog_changed();
                    }
                }
                a
            }
            // Masks without a catalog: requests are refused by the guard,
            // so only errors and sync replies arrive.
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
            return Ok(());
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
        Ok(())
    }
}
