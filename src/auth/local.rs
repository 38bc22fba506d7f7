//! pgward-held authentication on the wire: pgward verifies the client itself
//! (SCRAM-SHA-256 against a users file, or a JWT bearer token sent as the
//! password), then logs in to the upstream as its service user.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::client_login::{LoginError, LoginStep, UpstreamLogin};
use super::jwt::{JwtError, JwtValidator};
use super::scram::{MockSecret, ScramServer};
use super::users::UsersFile;
use crate::session::peer::{Peer, PeerError};
use crate::wire::backend::{auth_code, ErrorSummary, SqlState};
use crate::wire::frame::put_frame;

/// How a listener authenticates clients when pgward holds the credentials.
pub enum LocalAuth {
    Scram {
        users: Arc<UsersFile>,
        mock: MockSecret,
    },
    Jwt {
        validator: Arc<JwtValidator>,
        allow_without_tls: bool,
    },
}

/// What pgward verified about the client.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    pub user: String,
    pub groups: Vec<String>,
    pub claims: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalAuthError {
    /// Sent to the client as FATAL with this SQLSTATE.
    #[error("{message}")]
    Refused { code: SqlState, message: String },
    #[error("client went away during authentication")]
    ClientGone,
    #[error("client: {0}")]
    Client(PeerError),
    #[error(
        "client sent message type {0} during authentication, expected a password message ('p')"
    )]
    Unexpected(crate::wire::Tag),
}

fn refused(code: SqlState, message: impl Into<String>) -> LocalAuthError {
    LocalAuthError::Refused {
        code,
        message: message.into(),
    }
}

fn auth_request(code: i32, data: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(4 + data.len());
    body.put_i32(code);
    body.extend_from_slice(data);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'R', &body);
    out.freeze()
}

/// AuthenticationOk, sent once the upstream has accepted pgward's service login.
pub fn auth_ok() -> Bytes {
    auth_request(auth_code::OK, &[])
}

async fn password_message(client: &mut Peer) -> Result<Bytes, LocalAuthError> {
    client
        .flush()
        .await
        .map_err(|e| LocalAuthError::Client(e.into()))?;
    let f = client.next_frame().await.map_err(|e| match e {
        PeerError::Closed => LocalAuthError::ClientGone,
        e => LocalAuthError::Client(e),
    })?;
    match f.tag() {
        b'p' => Ok(f.into_bytes().slice(5..)),
        b'X' => Err(LocalAuthError::ClientGone),
        t => Err(LocalAuthError::Unexpected(crate::wire::Tag(t))),
    }
}

fn password_failed(user: &str) -> LocalAuthError {
    // The same words PostgreSQL uses, whether the user exists or not.
    refused(
        SqlState::INVALID_PASSWORD,
        format!("password authentication failed for user \"{user}\""),
    )
}

/// Runs the client-facing exchange; on success nothing has been sent that
/// says so (AuthenticationOk follows the upstream login).
pub async fn authenticate(
    client: &mut Peer,
    startup_user: &str,
    method: &LocalAuth,
    client_tls: bool,
) -> Result<Verified, LocalAuthError> {
    match method {
        LocalAuth::Scram { users, mock } => {
            let entry = users.lookup(startup_user);
            let mut server = match entry {
                Some(e) => ScramServer::new(e.verifier.clone()),
                None => ScramServer::mock(startup_user, mock),
            };
            let mechs: Vec<&[u8]> = ScramServer::mechanisms()
                .iter()
                .map(|m| m.as_bytes())
                .collect();
            client.queue(crate::wire::backend::auth_sasl(&mechs));
            let initial = password_message(client).await?;
            let (mechanism, data) = sasl_initial(&initial).ok_or_else(|| {
                refused(
                    SqlState::PROTOCOL_VIOLATION,
                    "malformed SASLInitialResponse message",
                )
            })?;
            let first = server
                .client_first(mechanism, data)
                .map_err(|e| refused(SqlState::PROTOCOL_VIOLATION, format!("SCRAM: {e}")))?;
            client.queue(auth_request(auth_code::SASL_CONTINUE, &first));
            let response = password_message(client).await?;
            let last = server.client_final(&response).map_err(|e| match e {
                super::scram::ScramError::InvalidProof => password_failed(startup_user),
                e => refused(SqlState::PROTOCOL_VIOLATION, format!("SCRAM: {e}")),
            })?;
            let Some(entry) = entry else {
                return Err(password_failed(startup_user));
            };
            client.queue(auth_request(auth_code::SASL_FINAL, &last));
            Ok(Verified {
                user: entry.name.clone(),
                groups: entry.groups.clone(),
                claims: BTreeMap::new(),
            })
        }
        LocalAuth::Jwt {
            validator,
            allow_without_tls,
        } => {
            if !client_tls && !allow_without_tls {
                return Err(LocalAuthError::Refused {
                    code: SqlState::INVALID_AUTHORIZATION,
                    message:
                        "bearer tokens are accepted only over TLS (connect with sslmode=require)"
                            .into(),
                });
            }
            client.queue(auth_request(auth_code::CLEARTEXT, &[]));
            let body = password_message(client).await?;
            let token = body
                .split_last()
                .filter(|(last, rest)| **last == 0 && !rest.contains(&0))
                .and_then(|(_, rest)| std::str::from_utf8(rest).ok())
                .ok_or_else(|| {
                    refused(SqlState::PROTOCOL_VIOLATION, "malformed password message")
                })?;
            let t = validator.validate_now(token).map_err(|e| {
                let what = match e {
                    JwtError::Expired => "the token has expired".to_string(),
                    JwtError::NotYetValid => "the token is not valid yet".to_string(),
                    JwtError::WrongAudience => "the token is for another audience".to_string(),
                    JwtError::WrongIssuer => {
                        "the token comes from an unexpected issuer".to_string()
                    }
                    JwtError::BadSignature | JwtError::UnknownKey => {
                        "the token's signature is not valid".to_string()
                    }
                    other => format!("the token is not acceptable: {other}"),
                };
                refused(
                    SqlState::INVALID_PASSWORD,
                    format!("token authentication failed for user \"{startup_user}\": {what}"),
                )
            })?;
            if t.user != startup_user {
                return Err(refused(
                    SqlState::INVALID_AUTHORIZATION,
                    format!(
                        "token authentication failed: the token is for \"{}\", not for user \"{startup_user}\"",
                        t.user
                    ),
                ));
            }
            Ok(Verified {
                user: t.user,
                groups: t.groups,
                claims: t.claims,
            })
        }
    }
}

/// Mechanism name and data of a SASLInitialResponse body.
fn sasl_initial(body: &[u8]) -> Option<(&str, &[u8])> {
    let nul = body.iter().position(|&b| b == 0)?;
    let mechanism = std::str::from_utf8(&body[..nul]).ok()?;
    let rest = &body[nul + 1..];
    let len = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let data = &rest[4..];
    match len {
        -1 if data.is_empty() => Some((mechanism, data)),
        n if n >= 0 && n as usize == data.len() => Some((mechanism, data)),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceLoginError {
    #[error("the database server refused pgward's service login: {} ({})", .0.message, .0.code)]
    Rejected(ErrorSummary),
    #[error("service login: {0}")]
    Login(#[from] LoginError),
    #[error("server: {0}")]
    Server(PeerError),
    #[error("server sent message type {0} during the service login")]
    Unexpected(crate::wire::Tag),
}

/// Logs in upstream with the service credential, consuming the server's
/// authentication messages up to and including AuthenticationOk.
pub async fn service_login(
    server: &mut Peer,
    login: &mut UpstreamLogin,
) -> Result<(), ServiceLoginError> {
    loop {
        let f = server
            .next_frame()
            .await
            .map_err(ServiceLoginError::Server)?;
        match f.tag() {
            b'R' => match login.respond(f.body())? {
                LoginStep::Done => return Ok(()),
                LoginStep::Continue => {}
                LoginStep::Send(body) => {
                    let mut out = BytesMut::new();
                    put_frame(&mut out, b'p', &body);
                    server.queue(out.freeze());
                    server
                        .flush()
                        .await
                        .map_err(|e| ServiceLoginError::Server(e.into()))?;
                }
            },
            b'E' => {
                return Err(ServiceLoginError::Rejected(
                    ErrorSummary::parse(f.body()).unwrap_or_default(),
                ));
            }
            b'N' => {}
            t => return Err(ServiceLoginError::Unexpected(crate::wire::Tag(t))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_initial_response_is_bounded() {
        let mut b = b"SCRAM-SHA-256\0".to_vec();
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(b"abc");
        assert_eq!(sasl_initial(&b), Some(("SCRAM-SHA-256", &b"abc"[..])));
        b.push(b'x');
        assert_eq!(sasl_initial(&b), None, "length word must match");
        let mut b = b"SCRAM-SHA-256\0".to_vec();
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(sasl_initial(&b), Some(("SCRAM-SHA-256", &b""[..])));
        assert_eq!(sasl_initial(b"SCRAM"), None);
    }
}
