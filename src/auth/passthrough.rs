//! Relays the server's authentication exchange between client and server,
//! changing only two things: SCRAM-SHA-256-PLUS is withdrawn from the offered
//! mechanisms (channel binding would bind to pgward's TLS connection, not the
//! client's, so it can never succeed through a proxy), and the server's cancel
//! key is replaced by one pgward issues.

use bytes::Bytes;
use std::sync::Arc;

use crate::cancel::{CancelRegistry, Registration};
use crate::session::peer::{Peer, PeerError};
use crate::upstream::Upstream;
use crate::wire::backend::{self, auth_code, ErrorSummary, TxnStatus, SCRAM_PLUS};
use crate::wire::startup::CancelKey;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the server rejected the connection: {} ({})", .0.message, .0.code)]
    Rejected(ErrorSummary),
    #[error("client went away during authentication")]
    ClientGone,
    #[error("server closed the connection during authentication")]
    ServerGone,
    #[error(
        "client sent message type {0} during authentication, expected a password message ('p')"
    )]
    UnexpectedClientMessage(crate::wire::Tag),
    #[error("server sent {0} during authentication")]
    UnexpectedServerMessage(String),
    #[error("server requested an unsupported authentication method (code {0})")]
    UnsupportedMethod(i32),
    #[error("server offers only SASL mechanisms that need channel binding, which cannot work through a proxy")]
    OnlyChannelBinding,
    #[error(transparent)]
    CancelKey(#[from] crate::cancel::CancelKeyError),
    #[error("client: {0}")]
    Client(PeerError),
    #[error("server: {0}")]
    Server(PeerError),
}

/// What the session learned while the server let the client in.
pub struct Authenticated {
    pub cancel: Option<Registration>,
    pub status: TxnStatus,
    pub server_params: Vec<(String, String)>,
}

fn client_err(e: PeerError) -> AuthError {
    match e {
        PeerError::Closed => AuthError::ClientGone,
        e => AuthError::Client(e),
    }
}

fn server_err(e: PeerError) -> AuthError {
    match e {
        PeerError::Closed => AuthError::ServerGone,
        e => AuthError::Server(e),
    }
}

/// Runs after the StartupMessage has been sent upstream; returns once the
/// server's ReadyForQuery has been forwarded to the client.
pub async fn relay(
    client: &mut Peer,
    server: &mut Peer,
    cancels: &Arc<CancelRegistry>,
    upstream: &Arc<Upstream>,
) -> Result<Authenticated, AuthError> {
    let mut cancel = None;
    let mut server_params = Vec::new();
    loop {
        if !server.has_frame() {
            client
                .flush()
                .await
                .map_err(|e| AuthError::Client(e.into()))?;
        }
        let f = server.next_frame().await.map_err(server_err)?;
        let body = f.body();
        match f.tag() {
            b'R' => {
                let code = body
                    .get(..4)
                    .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .ok_or_else(|| {
                        AuthError::UnexpectedServerMessage(
                            "a truncated authentication request".into(),
                        )
                    })?;
                let expects_answer = match code {
                    auth_code::OK | auth_code::SASL_FINAL => {
                        client.queue(f.into_bytes());
                        false
                    }
                    auth_code::SASL => {
                        let mechs = backend::sasl_mechanisms(&body[4..]).ok_or_else(|| {
                            AuthError::UnexpectedServerMessage(
                                "a malformed SASL mechanism list".into(),
                            )
                        })?;
                        let kept: Vec<&[u8]> = mechs
                            .into_iter()
                            .filter(|m| *m != SCRAM_PLUS.as_bytes())
                            .collect();
                        if kept.is_empty() {
                            return Err(AuthError::OnlyChannelBinding);
                        }
                        client.queue(backend::auth_sasl(&kept));
                        true
                    }
                    auth_code::CLEARTEXT
                    | auth_code::MD5
                    | auth_code::GSS
                    | auth_code::GSS_CONTINUE
                    | auth_code::SSPI
                    | auth_code::SASL_CONTINUE => {
                        client.queue(f.into_bytes());
                        true
                    }
                    other => return Err(AuthError::UnsupportedMethod(other)),
                };
                if expects_answer {
                    client
                        .flush()
                        .await
                        .map_err(|e| AuthError::Client(e.into()))?;
                    let answer = client.next_frame().await.map_err(client_err)?;
                    match answer.tag() {
                        b'p' => server.queue(answer.into_bytes()),
                        b'X' => return Err(AuthError::ClientGone),
                        t => return Err(AuthError::UnexpectedClientMessage(crate::wire::Tag(t))),
                    }
                    server
                        .flush()
                        .await
                        .map_err(|e| AuthError::Server(e.into()))?;
                }
            }
            b'K' => {
                if body.len() < 8 || body.len() > 4 + crate::wire::startup::MAX_CANCEL_SECRET_LEN {
                    return Err(AuthError::UnexpectedServerMessage(
                        "a malformed BackendKeyData".into(),
                    ));
                }
                let server_key = CancelKey {
                    pid: i32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                    secret: Bytes::copy_from_slice(&body[4..]),
                };
                let (mine, reg) = cancels
                    .register(server_key, Arc::clone(upstream))
                    .map_err(AuthError::CancelKey)?;
                client.queue(backend::backend_key_data(mine.pid, &mine.secret));
                cancel = Some(reg);
            }
            b'S' => {
                if let Some((k, v)) = parse_parameter_status(body) {
                    server_params.push((k, v));
                }
                client.queue(f.into_bytes());
            }
            b'N' | b'v' => client.queue(f.into_bytes()),
            b'Z' => {
                let status = TxnStatus::from_ready_body(body).ok_or_else(|| {
                    AuthError::UnexpectedServerMessage("a malformed ReadyForQuery".into())
                })?;
                client.queue(f.into_bytes());
                client
                    .flush()
                    .await
                    .map_err(|e| AuthError::Client(e.into()))?;
                return Ok(Authenticated {
                    cancel,
                    status,
                    server_params,
                });
            }
            b'E' => {
                let summary = ErrorSummary::parse(body).unwrap_or_else(|| ErrorSummary {
                    severity: "FATAL".into(),
                    code: "XX000".into(),
                    message: "malformed error from server".into(),
                    routine: String::new(),
                });
                client.queue(f.into_bytes());
                let _ = client.flush().await;
                return Err(AuthError::Rejected(summary));
            }
            t => {
                return Err(AuthError::UnexpectedServerMessage(format!(
                    "message type {}",
                    crate::wire::Tag(t)
                )))
            }
        }
    }
}

fn parse_parameter_status(body: &[u8]) -> Option<(String, String)> {
    let nul = body.iter().position(|&b| b == 0)?;
    let rest = &body[nul + 1..];
    let nul2 = rest.iter().position(|&b| b == 0)?;
    Some((
        String::from_utf8_lossy(&body[..nul]).into_owned(),
        String::from_utf8_lossy(&rest[..nul2]).into_owned(),
    ))
}
