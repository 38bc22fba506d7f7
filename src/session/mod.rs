//! One client connection from accept to close: encryption negotiation, the
//! startup packet, the upstream connection, authentication, then the relay.
//! Every way a session can end is mapped here to what the client is told.

pub mod events;
pub mod guard;
pub mod peer;
mod recent_facts;
pub mod relay;
pub mod results;
pub mod settings;
pub mod stamping;
pub mod statements;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::{debug, info, warn, Instrument};

use crate::audit::{attr, EventKind};
use crate::auth::client_login::UpstreamLogin;
use crate::auth::local::{self, LocalAuthError, ServiceLoginError};
use crate::auth::passthrough::{self, AuthError};
use crate::branch::{Branch, BranchError};
use crate::policy::{Identity, UserName};
use crate::server::Shared;
use crate::upstream::UpstreamError;
use crate::wire::backend::{self, ErrorReport, SqlState};
use crate::wire::startup::{self, CancelKey, StartupError, StartupMessage, StartupPacket};
use crate::wire::{FrameError, Stream};
use bytes::Bytes;
use events::{SessionAudit, SessionFacts};
use guard::Guard;
use peer::Peer;
use relay::{Relay, RelayEnd, RelayError, Timeouts};
use results::ResultsError;

/// Authentication messages are small; this bounds what an unauthenticated
/// client can make pgward buffer (PostgreSQL's own limit for auth tokens).
const MAX_AUTH_MESSAGE: usize = 65_535 + 4;
/// PostgreSQL never sends a message over 1 GiB.
const MAX_BACKEND_MESSAGE: usize = 1 << 30;

/// Identifies a session in logs (and later audit events and SQL stamps).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(u64);

impl SessionId {
    pub fn random() -> Self {
        let mut b = [0u8; 8];
        // A repeated id only confuses log correlation; fall back to time.
        if getrandom::fill(&mut b).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or_default();
            b = t.to_be_bytes();
        }
        SessionId(u64::from_be_bytes(b))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
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
    fn report(&self) -> Option<ErrorReport> {
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

/// Facts about the session kept for its end-of-session log line.
#[derive(Default)]
struct Facts {
    user: Option<String>,
    profile: Option<String>,
    database: Option<String>,
    application: Option<String>,
    tls: bool,
    bytes_from_client: u64,
    bytes_to_client: u64,
    /// Statements completed (counted only when audited or metered).
    statements: u64,
    /// The session's audit context, once the startup packet is known.
    audit: Option<Arc<SessionAudit>>,
    /// SessionStart was recorded: a SessionEnd follows.
    started: bool,
    /// The branch the session was routed to.
    branch: Option<Arc<Branch>>,
}

enum Negotiated {
    Startup(Stream, StartupMessage),
    CancelHandled,
}

/// Entry point for an accepted connection.
///
/// This and [`run_on`] return the session's future rather than await it:
/// a wrapping `async fn` would keep its own copy of the arguments in the
/// session's future for the session's whole life.
pub fn run(
    tcp: TcpStream,
    peer_addr: SocketAddr,
    shared: Arc<Shared>,
) -> impl Future<Output = ()> + Send {
    let _ = tcp.set_nodelay(true);
    run_on(PreStartup::Tcp(Some(tcp)), peer_addr, shared)
}

/// Entry point for a client in pgward's own process (the MCP endpoint):
/// the same session as a network client's, over an in-memory pipe, with
/// `peer_addr` standing for where the client really is.
pub fn run_in_process(
    stream: tokio::io::DuplexStream,
    peer_addr: SocketAddr,
    shared: Arc<Shared>,
) -> impl Future<Output = ()> + Send {
    let stream = Stream::InProcess(stream);
    run_on(PreStartup::Ready(Some(stream)), peer_addr, shared)
}

fn run_on(
    pre: PreStartup,
    peer_addr: SocketAddr,
    shared: Arc<Shared>,
) -> impl Future<Output = ()> + Send {
    let id = SessionId::random();
    let span = tracing::info_span!("session", id = %id, client = %peer_addr);
    async move {
        let started = Instant::now();
        let mut facts = Facts::default();
        let result = drive(pre, peer_addr, &shared, &mut facts, id).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        if let Some(a) = facts.audit.clone() {
            record_end(&a, &facts, &result, started.elapsed()).await;
        }
        let user = facts.user.as_deref().unwrap_or("");
        match result {
            Ok(Some(end)) => info!(
                user,
                database = facts.database.as_deref().unwrap_or(""),
                application = facts.application.as_deref().unwrap_or(""),
                profile = facts.profile.as_deref().unwrap_or("-"),
                duration_ms,
                bytes_from_client = facts.bytes_from_client,
                bytes_to_client = facts.bytes_to_client,
                end = ?end,
                "session ended"
            ),
            Ok(None) => debug!("cancel request handled"),
            Err(e) => {
                let level_warn = !matches!(
                    e,
                    SessionError::Auth(AuthError::Rejected(_))
                        | SessionError::Startup(StartupError::Eof)
                );
                if level_warn {
                    warn!(user, duration_ms, error = %e, "session ended with an error");
                } else {
                    info!(user, duration_ms, error = %e, "session ended");
                }
            }
        }
    }
    .instrument(span)
}

/// A client past the startup packet, pgward's own authentication and the
/// policy's decision on who it is: what the connected session needs.
///
/// The startup packet is not among it: what the session keeps of it is in
/// [`Facts`], and an idle session holds no copy of its parameters.
struct Prepared {
    client: Peer,
    upstream_startup: Bytes,
    guard: Option<Box<Guard>>,
}

/// Everything before the server is contacted. Its own future, so that what
/// only these steps hold is not kept in the session's future while it
/// relays (a suspended future keeps every local live across the await).
/// `None`: a cancel request, answered.
async fn prepare(
    mut pre_client: PreStartup,
    peer_addr: SocketAddr,
    shared: &Shared,
    facts: &mut Facts,
    id: SessionId,
    deadline: tokio::time::Instant,
) -> Result<Option<Prepared>, SessionError> {
    let limits = &shared.config.limits;

    // Encryption negotiation and the startup packet, bounded by the startup
    // timeout. Boxed (a TLS handshake is large), as is the local login below.
    let negotiated = tokio::select! {
        r = tokio::time::timeout_at(deadline, Box::pin(negotiate(&mut pre_client, shared))) => match r {
            Ok(r) => r,
            Err(_) => Err(SessionError::StartupTimeout(limits.startup_timeout)),
        },
        _ = shared.hard_close.cancelled() => Err(SessionError::ShuttingDown),
    };
    let (client_stream, startup) = match negotiated {
        Ok(Negotiated::Startup(s, m)) => (s, m),
        Ok(Negotiated::CancelHandled) => return Ok(None),
        Err(e) => {
            if let Some(stream) = pre_client.take() {
                let mut p = Peer::new(stream, MAX_AUTH_MESSAGE);
                p.close_with(e.report().map(|r| r.to_bytes())).await;
            }
            return Err(e);
        }
    };
    // The branch decides the server; an unknown one connects to nothing.
    let (branch, startup) = match shared.branches.select(&startup) {
        Ok((b, rewritten)) => (b, rewritten.unwrap_or(startup)),
        Err(e) => {
            let e = SessionError::Branch(e);
            let mut p = Peer::new(client_stream, MAX_AUTH_MESSAGE);
            p.close_with(e.report().map(|r| r.to_bytes())).await;
            return Err(e);
        }
    };
    let branch_name = branch.name.to_string();
    facts.branch = Some(Arc::clone(&branch));
    facts.user = startup.user().map(str::to_owned);
    facts.database = startup.database().map(str::to_owned);
    facts.application = startup.param("application_name").map(str::to_owned);
    facts.tls = client_stream.is_tls();
    let audit_for = |user: &str| {
        shared.audit.as_ref().map(|a| {
            Arc::new(SessionAudit::new(
                Arc::clone(a),
                shared.config.audit.as_ref().is_some_and(|c| c.strict),
                &SessionFacts {
                    session_id: &id.to_string(),
                    user,
                    database: startup.database().or(startup.user()).unwrap_or(""),
                    client_address: &peer_addr.ip().to_string(),
                    server_address: branch.upstream.host(),
                    server_port: branch.upstream.port(),
                    branch: &branch_name,
                },
            ))
        })
    };
    facts.audit = audit_for(startup.user().unwrap_or(""));
    let mut client = Peer::new(client_stream, MAX_AUTH_MESSAGE);

    // pgward-held authentication happens before anything goes upstream.
    let verified = match &shared.local_auth {
        None => None,
        Some(la) => {
            let user = startup.user().unwrap_or_default().to_owned();
            let tls = client.stream.is_tls();
            let r = tokio::select! {
                r = tokio::time::timeout_at(deadline, Box::pin(local::authenticate(&mut client, &user, &la.method, tls))) => match r {
                    Ok(r) => r.map_err(SessionError::LocalAuth),
                    Err(_) => Err(SessionError::StartupTimeout(limits.startup_timeout)),
                },
                _ = shared.hard_close.cancelled() => Err(SessionError::ShuttingDown),
            };
            match r {
                Ok(v) => Some(v),
                Err(e) => {
                    client.close_with(e.report().map(|r| r.to_bytes())).await;
                    return Err(e);
                }
            }
        }
    };
    if let Some(v) = &verified {
        // From here on the session is the verified user's (a token's
        // subject need not be the startup packet's user name).
        facts.audit = audit_for(&v.user);
        facts.user = Some(v.user.clone());
    }
    let identity = Identity {
        user: verified
            .as_ref()
            .map(|v| UserName::new(v.user.clone()))
            .or_else(|| startup.user().map(UserName::new)),
        application: startup.param("application_name").map(str::to_owned),
        client_addr: Some(peer_addr.ip()),
        groups: verified
            .as_ref()
            .map(|v| v.groups.clone())
            .unwrap_or_default(),
        claims: verified
            .as_ref()
            .map(|v| v.claims.clone())
            .unwrap_or_default(),
        tls_subject: client.stream.client_cert_subject(),
    };
    let (guard, upstream_startup) = match guard_for(&startup, identity, shared, id, &branch) {
        Ok(g) => g,
        Err(e) => {
            client.close_with(e.report().map(|r| r.to_bytes())).await;
            return Err(e);
        }
    };
    facts.profile = guard.as_ref().map(|g| g.profile_name().to_owned());
    Ok(Some(Prepared {
        client,
        upstream_startup,
        guard,
    }))
}

async fn drive(
    pre_client: PreStartup,
    peer_addr: SocketAddr,
    shared: &Shared,
    facts: &mut Facts,
    id: SessionId,
) -> Result<Option<RelayEnd>, SessionError> {
    let deadline = tokio::time::Instant::now() + shared.config.limits.startup_timeout;
    let Some(Prepared {
        mut client,
        upstream_startup,
        guard,
    }) = prepare(pre_client, peer_addr, shared, facts, id, deadline).await?
    else {
        return Ok(None);
    };
    let (result, to_client_mid_frame) = run_connected(
        &mut client,
        upstream_startup,
        guard,
        shared,
        deadline,
        facts,
    )
    .await;
    facts.bytes_from_client = client.bytes_in;
    facts.bytes_to_client = client.bytes_out;
    match &result {
        Ok(end) => {
            let last = match end {
                RelayEnd::Shutdown => Some(
                    ErrorReport::fatal(
                        SqlState::ADMIN_SHUTDOWN,
                        "terminating connection because pgward is shutting down",
                    )
                    .to_bytes(),
                ),
                RelayEnd::IdleTimeout => Some(
                    ErrorReport::fatal(
                        SqlState::IDLE_SESSION_TIMEOUT,
                        "terminating connection due to idle-session timeout",
                    )
                    .to_bytes(),
                ),
                RelayEnd::IdleInTransactionTimeout => Some(
                    ErrorReport::fatal(
                        SqlState::IDLE_IN_TRANSACTION_TIMEOUT,
                        "terminating connection due to idle-in-transaction timeout",
                    )
                    .to_bytes(),
                ),
                RelayEnd::ServerClosed { after_fatal: false } => Some(
                    ErrorReport::fatal(
                        SqlState::CONNECTION_FAILURE,
                        "the database server closed the connection unexpectedly",
                    )
                    .to_bytes(),
                ),
                _ => None,
            };
            // Never inject a message into the middle of one the client is receiving.
            let last = if to_client_mid_frame { None } else { last };
            client.close_with(last).await;
        }
        Err(e) => {
            let last = if to_client_mid_frame {
                None
            } else {
                e.report().map(|r| r.to_bytes())
            };
            client.close_with(last).await;
        }
    }
    result.map(Some)
}

/// With a policy: the session's identity and profile, its guard, and the
/// startup packet with the profile's settings (read-only among them) and
/// the identity settings applied.
fn guard_for(
    startup: &StartupMessage,
    identity: Identity,
    shared: &Shared,
    id: SessionId,
    branch: &Branch,
) -> Result<(Option<Box<Guard>>, Bytes), SessionError> {
    let service_user = shared
        .local_auth
        .as_ref()
        .map(|la| la.service_user.as_str());
    if !shared.policy.enforcing() {
        let bytes = match service_user {
            Some(u) => startup.rewrite(Some(u), &[])?,
            None => startup.raw().clone(),
        };
        return Ok((None, bytes));
    }
    let installed = shared.policy.current();
    let resolution = installed.policy.resolve(&identity);
    let mut settings = resolution.profile.settings.clone();
    if resolution.profile.read_only {
        // The server's own layer: every transaction starts read-only, and
        // RESET returns to this value because it is the session default.
        settings.retain(|(k, _)| k != "default_transaction_read_only");
        settings.push(("default_transaction_read_only".into(), "on".into()));
    }
    let forced_path = settings
        .iter()
        .find(|(k, _)| k == "search_path")
        .map(|(_, v)| v.as_str());
    let search_path = guard::startup_search_path(startup.params(), forced_path);
    let session_settings = settings::SessionSettings::new(search_path);
    let identity_params = installed
        .policy
        .identity
        .values(&identity, &resolution.profile.name, branch.name.as_str())
        .map_err(|e| SessionError::Identity {
            code: SqlState::INVALID_AUTHORIZATION,
            message: format!("pgward cannot hand this identity to the database server: {e}"),
        })?;
    let bytes = startup.rewrite_with_params(service_user, &settings, &identity_params)?;
    if bytes.len() > startup::MAX_STARTUP_LEN {
        return Err(SessionError::Identity {
            code: SqlState::PROGRAM_LIMIT_EXCEEDED,
            message: format!(
                "pgward cannot hand this identity to the database server: with its settings the startup packet would be {} bytes, and PostgreSQL accepts at most {}",
                bytes.len(),
                startup::MAX_STARTUP_LEN
            ),
        });
    }
    debug!(profile = %resolution.profile.name, rule = %resolution.rule, "identity resolved");
    let database = startup
        .database()
        .or(startup.user())
        .unwrap_or_default()
        .to_owned();
    let masking = guard::MaskState::new(
        Arc::clone(&shared.catalogs),
        shared
            .catalogs
            .database(&branch.upstream, branch.name.as_str(), &database),
    );
    let attribution = stamping::Attribution::new(
        identity.user_str(),
        &resolution.profile.name,
        branch.name.as_str(),
        &id.to_string(),
        identity.application.as_deref().unwrap_or(""),
    );
    let guard = Guard::new(
        Arc::clone(&shared.policy),
        Arc::clone(&shared.analysis_cache),
        identity,
        resolution,
        session_settings,
        Some(masking),
        attribution,
    );
    Ok((Some(Box::new(guard)), bytes))
}

/// Records how a session ended, or that its authentication failed.
async fn record_end(
    a: &SessionAudit,
    facts: &Facts,
    result: &Result<Option<RelayEnd>, SessionError>,
    elapsed: std::time::Duration,
) {
    let ev = if facts.started {
        let mut ev = a.event(EventKind::SessionEnd);
        ev.set(attr::PROFILE, facts.profile.clone().unwrap_or_default());
        ev.set(
            attr::DURATION_NS,
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        );
        ev.set(attr::BYTES_IN, facts.bytes_from_client);
        ev.set(attr::BYTES_OUT, facts.bytes_to_client);
        ev.set(STATEMENTS, facts.statements);
        let how = match result {
            Ok(Some(end)) => end_reason(*end).to_owned(),
            Ok(None) => "cancel".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        ev.set(END_REASON, how);
        ev
    } else {
        let code = match result {
            Err(SessionError::Auth(AuthError::Rejected(s))) => s.code.clone(),
            Err(SessionError::LocalAuth(LocalAuthError::Refused { code, .. })) => {
                code.code().to_owned()
            }
            Err(SessionError::Identity { code, .. }) => code.code().to_owned(),
            // Not an authentication outcome (cancel requests, broken
            // startups): no session to record.
            _ => return,
        };
        let mut ev = a.event(EventKind::SessionStart);
        ev.set(attr::AUTH_OUTCOME, "failure");
        ev.set(attr::DB_RESPONSE_STATUS_CODE, code);
        ev
    };
    if let Err(e) = a.auditor.emit(ev).await {
        warn!(error = %e, "audit event not recorded");
    }
}

/// Statements completed in the session.
pub const STATEMENTS: &str = "pgward.statements";
/// How the session ended.
pub const END_REASON: &str = "pgward.end";

fn end_reason(end: RelayEnd) -> &'static str {
    match end {
        RelayEnd::ClientTerminated => "client_terminated",
        RelayEnd::ClientClosed => "client_closed",
        RelayEnd::ServerClosed { .. } => "server_closed",
        RelayEnd::Shutdown => "shutdown",
        RelayEnd::IdleTimeout => "idle_timeout",
        RelayEnd::IdleInTransactionTimeout => "idle_in_transaction_timeout",
    }
}

async fn run_connected(
    client: &mut Peer,
    upstream_startup: Bytes,
    guard: Option<Box<Guard>>,
    shared: &Shared,
    deadline: tokio::time::Instant,
    facts: &mut Facts,
) -> (Result<RelayEnd, SessionError>, bool) {
    let limits = &shared.config.limits;
    let branch = facts
        .branch
        .clone()
        .unwrap_or_else(|| Arc::clone(shared.branches.default_branch()));
    // Boxed: the future is big (connect, TLS, authentication) and lives
    // only until the session starts, while the task's own future is sized
    // by its largest state and kept for the session's whole life.
    let connect_and_auth = Box::pin(async {
        let server_stream = branch.upstream.connect().await?;
        let mut server = Peer::new(server_stream, MAX_BACKEND_MESSAGE);
        server.queue(upstream_startup);
        server
            .flush()
            .await
            .map_err(|e| SessionError::Relay(RelayError::ServerIo(e)))?;
        if let Some(la) = &shared.local_auth {
            let mut login =
                UpstreamLogin::new(la.service_user.clone(), la.service_password.clone());
            local::service_login(&mut server, &mut login)
                .await
                .map_err(SessionError::ServiceLogin)?;
            client.queue(local::auth_ok());
        }
        let authed =
            passthrough::relay(client, &mut server, &shared.cancels, &branch.upstream).await?;
        Ok::<_, SessionError>((server, authed))
    });
    let connected = tokio::select! {
        r = tokio::time::timeout_at(deadline, connect_and_auth) => match r {
            Ok(r) => r,
            Err(_) => Err(SessionError::StartupTimeout(limits.startup_timeout)),
        },
        _ = shared.hard_close.cancelled() => Err(SessionError::ShuttingDown),
    };
    // Moved out of `connected` in a scope of their own: the result's
    // storage then ends here instead of staying in the future while the
    // session relays.
    let (mut server, authed) = {
        let connected = connected;
        match connected {
            Ok(c) => c,
            Err(e) => return (Err(e), false),
        }
    };
    let _cancel_registration = authed.cancel;
    let relay_profile = guard.as_ref().map(|g| g.profile_name().to_owned());
    info!(
        user = facts.user.as_deref().unwrap_or(""),
        database = facts.database.as_deref().unwrap_or(""),
        application = facts.application.as_deref().unwrap_or(""),
        tls = client.stream.is_tls(),
        upstream_tls = server.stream.is_tls(),
        profile = relay_profile.as_deref().unwrap_or("-"),
        "session started"
    );
    client.scanner.set_max_len(limits.max_message_size);
    let timeouts = Timeouts {
        idle: limits.idle_timeout,
        idle_in_transaction: limits.idle_in_transaction_timeout,
    };
    let mut guard = guard;
    // Without a catalog login the session's own connection answers; with
    // one, the shared catalog snapshot does (no query per session).
    if let Some(g) = guard
        .as_mut()
        .filter(|g| g.wants_volatility() && !shared.catalogs.is_configured())
    {
        let loaded = tokio::time::timeout_at(
            deadline,
            crate::catalog::load_volatile_functions(&mut server),
        )
        .await;
        let v = match loaded {
            Ok(Ok(functions)) => crate::catalog::Volatility::Known(Arc::new(functions)),
            Err(_) => {
                warn!("function volatility not read before the startup deadline; every user function counts as volatile");
                crate::catalog::Volatility::Unknown
            }
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read function volatility; every user function counts as volatile");
                crate::catalog::Volatility::Unknown
            }
        };
        g.set_volatility(v);
    }
    // The server's parameters are read once, here: an idle session keeps
    // none of their strings.
    let mut relay = Relay::new(authed.status, guard, authed.server_params);
    if let Some(a) = facts.audit.clone() {
        let mut ev = a.event(EventKind::SessionStart);
        ev.set(attr::AUTH_OUTCOME, "success");
        ev.set(attr::PROFILE, relay_profile.as_deref().unwrap_or(""));
        ev.set(attr::TOOL, facts.application.as_deref().unwrap_or_default());
        // Boxed, like `connect_and_auth`: these futures live only while
        // the session starts, and inline they would size the session's
        // future for its whole life.
        let recorded = if a.strict {
            Box::pin(a.auditor.emit_durable(ev)).await
        } else {
            Box::pin(a.auditor.emit(ev)).await
        };
        if let Err(e) = recorded {
            // Under `refuse_sessions` (or strict mode) a session that cannot
            // be recorded does not start.
            server.close_with(Some(backend::terminate())).await;
            return (Err(SessionError::Relay(RelayError::Audit(e))), false);
        }
        facts.started = true;
    }
    let usage = shared.usage.as_ref().map(|u| {
        Box::new(u.session(
            branch.name.as_str(),
            relay_profile.as_deref().unwrap_or(""),
            facts.user.as_deref().unwrap_or(""),
        )) as Box<dyn relay::StatementSink>
    });
    relay.track(facts.audit.clone(), usage);
    let result = relay
        .run(client, &mut server, &timeouts, &shared.hard_close)
        .await;
    facts.statements = relay.statements;
    let to_client_mid_frame = server.scanner.mid_frame();
    // Tell the server the client is gone, unless a frame to it was left half-sent
    // (then closing is the only honest signal; an open COPY is aborted).
    let terminate = match &result {
        Ok(RelayEnd::ClientTerminated)
        | Ok(RelayEnd::ServerClosed { .. })
        | Err(RelayError::ServerIo(_)) => None,
        _ if client.scanner.mid_frame() => None,
        _ => Some(backend::terminate()),
    };
    server.close_with(terminate).await;
    (result.map_err(SessionError::from), to_client_mid_frame)
}

/// The client connection before the StartupMessage: plain TCP until TLS is agreed.
enum PreStartup {
    Tcp(Option<TcpStream>),
    Ready(Option<Stream>),
}

impl PreStartup {
    fn take(&mut self) -> Option<Stream> {
        match self {
            PreStartup::Tcp(t) => t.take().map(Stream::Plain),
            PreStartup::Ready(s) => s.take(),
        }
    }
}

async fn negotiate(pre: &mut PreStartup, shared: &Shared) -> Result<Negotiated, SessionError> {
    // PostgreSQL 17 clients may start TLS at once (sslnegotiation=direct):
    // a TLS handshake record instead of a length word.
    if let (PreStartup::Tcp(Some(tcp)), Some(acceptor)) = (&*pre, &shared.tls_acceptor) {
        let mut first = [0u8; 1];
        let n = tcp.peek(&mut first).await.map_err(StartupError::Io)?;
        if n == 1 && first[0] == 0x16 {
            let tcp = match pre.take() {
                Some(Stream::Plain(t)) => t,
                _ => return Err(SessionError::Protocol("connection state lost")),
            };
            let tls = acceptor
                .accept(tcp)
                .await
                .map_err(SessionError::ClientTls)?;
            *pre = PreStartup::Ready(Some(Stream::ServerTls(Box::new(tls))));
        }
    }
    if let PreStartup::Tcp(t) = pre {
        let s = t.take().map(Stream::Plain);
        *pre = PreStartup::Ready(s);
    }
    let PreStartup::Ready(slot) = pre else {
        return Err(SessionError::Protocol("connection state lost"));
    };
    let mut tried_gss = false;
    loop {
        let stream = slot
            .as_mut()
            .ok_or(SessionError::Protocol("connection state lost"))?;
        let packet = startup::read_packet(stream).await?;
        match packet {
            StartupPacket::SslRequest => {
                if stream.is_tls() {
                    return Err(SessionError::Protocol(
                        "SSLRequest on a connection that is already encrypted",
                    ));
                }
                match &shared.tls_acceptor {
                    Some(acceptor) => {
                        stream.write_all(b"S").await.map_err(StartupError::Io)?;
                        let tcp = match slot.take() {
                            Some(Stream::Plain(t)) => t,
                            _ => return Err(SessionError::Protocol("connection state lost")),
                        };
                        let tls = acceptor
                            .accept(tcp)
                            .await
                            .map_err(SessionError::ClientTls)?;
                        *slot = Some(Stream::ServerTls(Box::new(tls)));
                    }
                    None => stream.write_all(b"N").await.map_err(StartupError::Io)?,
                }
            }
            StartupPacket::GssEncRequest => {
                if stream.is_tls() || tried_gss {
                    return Err(SessionError::Protocol(
                        "GSSENCRequest after encryption was negotiated",
                    ));
                }
                tried_gss = true;
                stream.write_all(b"N").await.map_err(StartupError::Io)?;
            }
            StartupPacket::Cancel(key) => {
                forward_cancel(key, shared).await;
                return Ok(Negotiated::CancelHandled);
            }
            StartupPacket::Startup(m) => {
                let s = slot
                    .take()
                    .ok_or(SessionError::Protocol("connection state lost"))?;
                return Ok(Negotiated::Startup(s, m));
            }
        }
    }
}

/// Sends a client's CancelRequest on to the server, if the key is one pgward issued.
/// Like PostgreSQL, the client is told nothing either way.
pub(crate) async fn forward_cancel(key: CancelKey, shared: &Shared) {
    let Some(target) = shared.cancels.lookup(&key) else {
        warn!(pid = key.pid, "cancel request with an unknown key ignored");
        return;
    };
    let send = async {
        let mut s = target.upstream.connect().await?;
        s.write_all(&target.server_key.cancel_request())
            .await
            .map_err(|e| UpstreamError::Connect {
                addr: target.upstream.address(),
                source: e,
            })?;
        let _ = s.flush().await;
        // The server closes once it has acted on the request.
        let mut sink = [0u8; 16];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut sink).await;
        Ok::<_, UpstreamError>(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), send).await {
        Ok(Ok(())) => debug!(
            server_pid = target.server_key.pid,
            "cancel request forwarded"
        ),
        Ok(Err(e)) => warn!(error = %e, "could not forward cancel request"),
        Err(_) => warn!("timed out forwarding cancel request"),
    }
}

/// Answers a connection pgward has no room for. A CancelRequest is still
/// honoured (cancelling is how a full server gets room back); anything else
/// gets SQLSTATE 53300 as PostgreSQL would send.
pub async fn refuse_over_capacity(mut tcp: TcpStream, shared: Arc<Shared>) {
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        startup::read_packet(&mut tcp),
    )
    .await;
    if let Ok(Ok(StartupPacket::Cancel(key))) = read {
        forward_cancel(key, &shared).await;
        return;
    }
    let mut msg = Vec::new();
    if let Ok(Ok(StartupPacket::SslRequest | StartupPacket::GssEncRequest)) = read {
        // Decline encryption so the client reads the error in plain text.
        msg.push(b'N');
    }
    msg.extend_from_slice(
        &ErrorReport::fatal(
            SqlState::TOO_MANY_CONNECTIONS,
            format!(
                "sorry, too many clients already (pgward limit {})",
                shared.config.limits.max_connections
            ),
        )
        .to_bytes(),
    );
    let _ = tcp.write_all(&msg).await;
    let _ = tcp.shutdown().await;
}
