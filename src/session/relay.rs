//! The steady state of a session: frames flow both ways, each direction
//! scanned but forwarded as the bytes that arrived. This is where the guard
//! (frontend Query/Parse/FunctionCall), the masker (backend RowDescription and
//! DataRow) and the audit (statement completion) attach.

use bytes::BytesMut;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::guard::{Guard, GuardError, Verdict};
use super::peer::Peer;
use super::results::{Action, ResultMasker, ResultsError, View};
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
}

/// Frontend message types pgward knows. Query, Parse and FunctionCall are
/// collected whole so a decision can be taken before any byte reaches the
/// server; Terminate so the session knows it is ending.
fn frontend_disposition(tag: u8) -> Disposition {
    match tag {
        b'Q' | b'P' | b'F' | b'X' => Disposition::Whole,
        b'B' | b'E' | b'D' | b'C' | b'S' | b'H' | b'd' | b'c' | b'f' | b'p' => Disposition::Pass,
        _ => Disposition::Reject,
    }
}

/// With a guard, Sync is also seen (it ends a batch of extended-protocol messages).
fn guarded_frontend_disposition(tag: u8) -> Disposition {
    match tag {
        b'S' => Disposition::Whole,
        t => frontend_disposition(t),
    }
}

/// With masks, every message that gets a reply is followed, so each reply
/// (rows above all) can be matched to the request it answers.
fn masked_frontend_disposition(tag: u8) -> Disposition {
    match tag {
        b'B' | b'D' | b'E' | b'C' | b'S' => Disposition::Whole,
        t => frontend_disposition(t),
    }
}

/// Backend types followed: ReadyForQuery (transaction state, idle timers) and
/// ErrorResponse (a FATAL means the server is about to close).
fn backend_disposition(tag: u8) -> Disposition {
    match tag {
        b'Z' | b'E' => Disposition::Whole,
        _ => Disposition::Pass,
    }
}

/// With a guard, ParameterStatus is also followed (string-literal syntax and
/// client encoding decide how SQL must be parsed).
fn guarded_backend_disposition(tag: u8) -> Disposition {
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

    fn frontend(&mut self, client: &mut Peer, server: &mut Peer) -> Result<(), RelayError> {
        let disposition = if self.results.is_some() {
            masked_frontend_disposition
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
        let base = if self.guard.is_some() {
            guarded_backend_disposition
        } else {
            backend_disposition
        };
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
                    client.queue(b)
                }
                Chunk::Frame(f) => {
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
        Ok(())
    }

    fn flush_rewritten(&mut self, client: &mut Peer) {
        if !self.rewritten.is_empty() {
            client.queue(self.rewritten.split().freeze());
        }
    }
}
