//! Why a session ended early, and what its client is told: each cause
//! mapped to the SQLSTATE and message PostgreSQL would send in its place.

use crate::auth::local::{LocalAuthError, ServiceLoginError};
use crate::auth::passthrough::AuthError;
use crate::branch::BranchError;
use crate::upstream::UpstreamError;
use crate::wire::backend::{ErrorReport, SqlState};
use crate::wire::startup::StartupError;
use crate::wire::FrameError;

use super::peer;
use super::relay::RelayError;
use super::results::ResultsError;

#[derive(Debug, thiserror::Error)]
pub(super) enum SessionError {
    #[error("startup: {0}")]
    Startup(#[from] StartupError),
    #[error("startup did not complete within {0:?}")]
    StartupTimeout(std::time::Duration),
    #[error("TLS handshake with client failed: {0}")]
    ClientTls(std::io::Error),
    #[error("{0}")]
    Protocol(&'static str),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    #[error("authentication: {0}")]
    LocalAuth(LocalAuthError),
    #[error("{0}")]
    ServiceLogin(ServiceLoginError),
    #[error("pgward is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error("{0}")]
    Branch(#[from] crate::branch::BranchError),
    /// The verified identity cannot be handed to the server as settings.
    #[error("{message}")]
    Identity { code: SqlState, message: String },
}

impl SessionError {
    /// What the client is told, if it can still be told anything.
    pub(super) fn report(&self) -> Option<ErrorReport> {
        Some(match self {
            SessionError::Startup(StartupError::Eof | StartupError::Io(_)) => return None,
            SessionError::Startup(StartupError::UnsupportedProtocol(_)) => {
                ErrorReport::fatal(SqlState::FEATURE_NOT_SUPPORTED, self.to_string())
            }
            SessionError::Startup(e) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, e.to_string())
            }
            SessionError::StartupTimeout(_) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, self.to_string())
            }
            SessionError::ClientTls(_) => return None,
            SessionError::Protocol(m) => ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, *m),
            SessionError::Identity { code, message } => ErrorReport::fatal(*code, message.clone()),
            SessionError::Branch(e) => match e {
                BranchError::ReservedParameter(_) => {
                    ErrorReport::fatal(SqlState::INVALID_PARAMETER_VALUE, format!("pgward: {e}"))
                }
                BranchError::Unknown { .. } => {
                    ErrorReport::fatal(SqlState::INVALID_CATALOG_NAME, format!("pgward: {e}"))
                }
                BranchError::Upstream(_) => {
                    ErrorReport::fatal(SqlState::UNABLE_TO_CONNECT, format!("pgward: {e}"))
                }
                _ => ErrorReport::fatal(SqlState::INVALID_PARAMETER_VALUE, format!("pgward: {e}"))
                    .with_hint(
                        "choose a branch with options=-c pgward.branch=NAME or dbname=DB@NAME",
                    ),
            },
            SessionError::Upstream(e) => ErrorReport::fatal(
                SqlState::UNABLE_TO_CONNECT,
                format!("pgward could not connect to the database server: {e}"),
            ),
            SessionError::Auth(e @ AuthError::CancelKey(_)) => {
                ErrorReport::fatal(SqlState::INTERNAL_ERROR, e.to_string())
            }
            SessionError::Auth(AuthError::Client(peer::PeerError::Frame(f))) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, f.to_string())
            }
            // The server's own error has already been forwarded.
            SessionError::Auth(
                AuthError::Rejected(_) | AuthError::ClientGone | AuthError::Client(_),
            ) => return None,
            SessionError::Auth(
                e @ (AuthError::UnsupportedMethod(_) | AuthError::OnlyChannelBinding),
            ) => ErrorReport::fatal(SqlState::FEATURE_NOT_SUPPORTED, e.to_string()),
            SessionError::Auth(e @ AuthError::UnexpectedClientMessage(_)) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, e.to_string())
            }
            SessionError::Auth(e) => ErrorReport::fatal(
                SqlState::CONNECTION_FAILURE,
                format!("lost the database server during authentication: {e}"),
            ),
            SessionError::LocalAuth(LocalAuthError::Refused { code, message }) => {
                ErrorReport::fatal(*code, message.clone())
            }
            SessionError::LocalAuth(LocalAuthError::Client(peer::PeerError::Frame(f))) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, f.to_string())
            }
            SessionError::LocalAuth(e @ LocalAuthError::Unexpected(_)) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, e.to_string())
            }
            SessionError::LocalAuth(_) => return None,
            // The details concern pgward's own account: they go to the log, not the client.
            SessionError::ServiceLogin(_) => ErrorReport::fatal(
                SqlState::UNABLE_TO_CONNECT,
                "pgward could not log in to the database server with its service account",
            )
            .with_hint("the pgward operator can find the reason in pgward's log"),
            SessionError::ShuttingDown => {
                ErrorReport::fatal(SqlState::CANNOT_CONNECT_NOW, "pgward is shutting down")
            }
            SessionError::Relay(RelayError::ClientFrame(f)) => match f {
                FrameError::TooLarge { .. } => {
                    ErrorReport::fatal(SqlState::PROGRAM_LIMIT_EXCEEDED, f.to_string())
                        .with_hint("raise limits.max_message_size if such messages are expected")
                }
                FrameError::Rejected { tag } => ErrorReport::fatal(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("invalid frontend message type {tag}"),
                ),
                FrameError::InvalidLength { .. } => {
                    ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, f.to_string())
                }
            },
            SessionError::Relay(RelayError::ServerFrame(e)) => ErrorReport::fatal(
                SqlState::CONNECTION_FAILURE,
                format!("the database server sent an invalid message: {e}"),
            ),
            SessionError::Relay(RelayError::ServerIo(e)) => ErrorReport::fatal(
                SqlState::CONNECTION_FAILURE,
                format!("lost the connection to the database server: {e}"),
            ),
            SessionError::Relay(RelayError::ClientIo(_)) => return None,
            SessionError::Relay(RelayError::Audit(e)) => ErrorReport::fatal(
                SqlState::SYSTEM_ERROR,
                format!("pgward cannot record this session in its audit trail: {e}"),
            ),
            SessionError::Relay(RelayError::Guard(e)) => {
                ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, e.to_string())
            }
            SessionError::Relay(RelayError::Results(e)) => match e {
                ResultsError::Malformed(_) => {
                    ErrorReport::fatal(SqlState::PROTOCOL_VIOLATION, e.to_string())
                }
                // A result pgward cannot mask is not sent at all.
                _ => ErrorReport::fatal(
                    SqlState::INTERNAL_ERROR,
                    format!("pgward cannot mask this result: {e}"),
                ),
            },
        })
    }
}
