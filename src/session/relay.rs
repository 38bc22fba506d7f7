//! The steady state of a session: frames flow both ways, each direction
//! scanned but forwarded as the bytes that arrived. This is where the guard
//! (frontend Query/Parse/FunctionCall), the masker (backend RowDescription and
//! DataRow) and the audit (statement completion) attach.

use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::peer::Peer;
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

/// Backend types followed: ReadyForQuery (transaction state, idle timers) and
/// ErrorResponse (a FATAL means the server is about to close).
fn backend_disposition(tag: u8) -> Disposition {
    match tag {
        b'Z' | b'E' => Disposition::Whole,
        _ => Disposition::Pass,
    }
}

impl Relay {
    pub fn new(status: TxnStatus) -> Self {
        Relay {
            status,
            server_idle: true,
            server_said_fatal: false,
            client_terminated: false,
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
        loop {
            client.prepare_read();
            server.prepare_read();
            tokio::select! {
                _ = hard_close.cancelled() => return Ok(RelayEnd::Shutdown),
                _ = &mut idle, if idle_armed.is_some() => {
                    return Ok(idle_armed.unwrap_or(RelayEnd::IdleTimeout));
                }
                r = tokio::io::AsyncReadExt::read_buf(&mut client.stream, &mut client.rbuf) => {
                    match r {
                        Ok(0) => return Ok(RelayEnd::ClientClosed),
                        Ok(n) => client.bytes_in += n as u64,
                        Err(e) => return Err(RelayError::ClientIo(e)),
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
                        Ok(n) => server.bytes_in += n as u64,
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
        while let Some(chunk) = client
            .scanner
            .next_chunk(&mut client.rbuf, frontend_disposition)
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
                    server.queue(f.into_bytes());
                }
            }
        }
        Ok(())
    }

    fn backend(&mut self, server: &mut Peer, client: &mut Peer) -> Result<(), RelayError> {
        while let Some(chunk) = server
            .scanner
            .next_chunk(&mut server.rbuf, backend_disposition)
            .map_err(RelayError::ServerFrame)?
        {
            match chunk {
                // While idle the server only sends asynchronous messages, which
                // leave it idle; any reply to a request follows a client message,
                // and that already cleared `server_idle`.
                Chunk::Pass(b) => client.queue(b),
                Chunk::Frame(f) => {
                    match f.tag() {
                        b'Z' => {
                            if let Some(s) = TxnStatus::from_ready_body(f.body()) {
                                self.status = s;
                            }
                            self.server_idle = true;
                        }
                        b'E' if ErrorSummary::parse(f.body()).is_some_and(|s| s.is_fatal()) => {
                            self.server_said_fatal = true;
                        }
                        _ => {}
                    }
                    client.queue(f.into_bytes());
                }
            }
        }
        Ok(())
    }
}
