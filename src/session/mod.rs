//! One client connection from accept to close: encryption negotiation, the
//! startup packet, the upstream connection, authentication, then the relay.
//! Every way a session can end is mapped here to what the client is told.

mod error;
pub mod events;
pub mod guard;
mod names;
pub mod peer;
mod prepare;
mod recent;
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
use crate::auth::local::{self, LocalAuthError};
use crate::auth::passthrough::{self, AuthError};
use crate::branch::Branch;
use crate::shared::Shared;
use crate::wire::backend::{self, ErrorReport, SqlState};
use crate::wire::startup::{self, StartupError, StartupPacket};
use crate::wire::Stream;
use bytes::Bytes;
use error::SessionError;
use events::SessionAudit;
use guard::Guard;
use peer::Peer;
use prepare::{forward_cancel, prepare, PreStartup, Prepared};
use relay::{Relay, RelayEnd, RelayError, Timeouts};

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
