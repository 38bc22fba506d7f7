//! A session before its server is contacted: encryption negotiation and
//! the startup packet, the branch, pgward's own login, and the policy's
//! decision on who the client is (its guard and the startup packet the
//! server will see).

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::auth::local;
use crate::branch::Branch;
use crate::policy::{Identity, UserName};
use crate::shared::Shared;
use crate::upstream::UpstreamError;
use crate::wire::backend::SqlState;
use crate::wire::startup::{self, CancelKey, StartupError, StartupMessage, StartupPacket};
use crate::wire::Stream;
use bytes::Bytes;

use super::error::SessionError;
use super::events::{SessionAudit, SessionFacts};
use super::guard::{self, Guard};
use super::peer::Peer;
use super::{settings, stamping, Facts, SessionId, MAX_AUTH_MESSAGE};

pub(super) enum Negotiated {
    Startup(Stream, StartupMessage),
    CancelHandled,
}

/// A client past the startup packet, pgward's own authentication and the
/// policy's decision on who it is: what the connected session needs.
///
/// The startup packet is not among it: what the session keeps of it is in
/// [`Facts`], and an idle session holds no copy of its parameters.
pub(super) struct Prepared {
    pub client: Peer,
    pub upstream_startup: Bytes,
    pub guard: Option<Box<Guard>>,
}

/// Everything before the server is contacted. Its own future, so that what
/// only these steps hold is not kept in the session's future while it
/// relays (a suspended future keeps every local live across the await).
/// `None`: a cancel request, answered.
pub(super) async fn prepare(
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

/// With a policy: the session's identity and profile, its guard, and the
/// startup packet with the profile's settings (read-only among them) and
/// the identity settings applied.
pub(super) fn guard_for(
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

/// The client connection before the StartupMessage: plain TCP until TLS is agreed.
pub(super) enum PreStartup {
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

/// The TLS handshake on a connection still in plain TCP: both ways in
/// (direct TLS and after an SSLRequest) end here.
async fn accept_tls(
    plain: Option<Stream>,
    acceptor: &tokio_rustls::TlsAcceptor,
) -> Result<Stream, SessionError> {
    let Some(Stream::Plain(tcp)) = plain else {
        return Err(SessionError::Protocol("connection state lost"));
    };
    let tls = acceptor
        .accept(tcp)
        .await
        .map_err(SessionError::ClientTls)?;
    Ok(Stream::ServerTls(Box::new(tls)))
}

pub(super) async fn negotiate(
    pre: &mut PreStartup,
    shared: &Shared,
) -> Result<Negotiated, SessionError> {
    // PostgreSQL 17 clients may start TLS at once (sslnegotiation=direct):
    // a TLS handshake record instead of a length word.
    if let (PreStartup::Tcp(Some(tcp)), Some(acceptor)) = (&*pre, &shared.tls_acceptor) {
        let mut first = [0u8; 1];
        let n = tcp.peek(&mut first).await.map_err(StartupError::Io)?;
        if n == 1 && first[0] == 0x16 {
            let tls = accept_tls(pre.take(), acceptor).await?;
            *pre = PreStartup::Ready(Some(tls));
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
                        *slot = Some(accept_tls(slot.take(), acceptor).await?);
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
pub(super) async fn forward_cancel(key: CancelKey, shared: &Shared) {
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
