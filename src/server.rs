//! The listener: accepts connections, enforces the connection limit, and
//! drains on SIGTERM/SIGINT (stop accepting, let sessions finish for the grace
//! period, then end the rest with 57P01).

use std::io::Write;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::cancel::CancelRegistry;
use crate::config::Config;
use crate::policy::{PolicyError, PolicyStore};
use crate::sql::AnalysisCache;
use crate::tls::{self, TlsError};
use crate::upstream::{Upstream, UpstreamError};

/// pgward-held authentication: how clients are verified, and the service
/// account used upstream.
pub struct LocalAuthSetup {
    pub method: crate::auth::local::LocalAuth,
    pub service_user: String,
    pub service_password: crate::auth::client_login::Secret,
}

/// What every session shares.
pub struct Shared {
    pub local_auth: Option<LocalAuthSetup>,
    pub config: Config,
    pub tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    pub upstream: Arc<Upstream>,
    pub cancels: Arc<CancelRegistry>,
    pub policy: Arc<PolicyStore>,
    pub analysis_cache: Arc<AnalysisCache>,
    /// Catalog snapshots for masking, per database.
    pub catalogs: Arc<crate::catalog::Catalogs>,
    /// Cancelled when the shutdown grace period is over: sessions end now.
    pub hard_close: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("client TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("upstream: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("authentication setup: {0}")]
    Auth(String),
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
}

impl Shared {
    pub fn new(config: Config) -> Result<Arc<Shared>, ServeError> {
        let tls_acceptor = match &config.client_tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                &t.cert_file,
                &t.key_file,
                t.client_certs.as_ref(),
            )?)),
            None => None,
        };
        let upstream = Upstream::from_config(&config.upstream)?;
        let policy = match &config.policy {
            Some(path) => PolicyStore::from_file(path)?,
            None => PolicyStore::allow_all(),
        };
        let local_auth = local_auth(&config.auth)?;
        let catalogs = crate::catalog::Catalogs::new(catalog_source(&config, &upstream)?);
        let has_masks = !policy.current().policy.masking.rules.is_empty();
        if has_masks && !catalogs.is_configured() {
            return Err(ServeError::Catalog(
                "the policy masks columns, and masking needs the server's catalog: set catalog.user and catalog.password_file (or use auth mode scram/jwt, whose service account is used)".into(),
            ));
        }
        Ok(Arc::new(Shared {
            catalogs,
            local_auth,
            config,
            tls_acceptor,
            upstream,
            cancels: CancelRegistry::new(),
            policy,
            analysis_cache: Arc::new(AnalysisCache::new(ANALYSIS_CACHE_ENTRIES)),
            hard_close: CancellationToken::new(),
        }))
    }
}

fn catalog_source(
    config: &Config,
    upstream: &Arc<Upstream>,
) -> Result<Option<crate::catalog::CatalogSource>, ServeError> {
    let Some(cred) = config.catalog_credential() else {
        return Ok(None);
    };
    Ok(Some(crate::catalog::CatalogSource {
        upstream: Arc::clone(upstream),
        user: cred.user.clone(),
        password: service_secret(cred)?,
        refresh_interval: config.catalog.refresh_interval,
    }))
}

fn service_secret(
    s: &crate::config::ServiceCredential,
) -> Result<crate::auth::client_login::Secret, ServeError> {
    use crate::auth::client_login::Secret;
    use crate::config::PasswordSource;
    match &s.password {
        PasswordSource::File(p) => Secret::from_file(p),
        PasswordSource::Env(v) => Secret::from_env(v),
    }
    .map_err(|e| ServeError::Auth(format!("password for {}: {e}", s.user)))
}

fn local_auth(cfg: &crate::config::AuthConfig) -> Result<Option<LocalAuthSetup>, ServeError> {
    use crate::auth::local::LocalAuth;
    use crate::config::AuthConfig;
    let secret = service_secret;
    Ok(match cfg {
        AuthConfig::Passthrough => None,
        AuthConfig::Scram {
            users_file,
            service,
        } => {
            let users = crate::auth::users::UsersFile::from_file(users_file)
                .map_err(|e| ServeError::Auth(e.to_string()))?;
            let mock =
                crate::auth::scram::MockSecret::random(crate::auth::scram::DEFAULT_ITERATIONS)
                    .map_err(|e| ServeError::Auth(e.to_string()))?;
            Some(LocalAuthSetup {
                method: LocalAuth::Scram {
                    users: Arc::new(users),
                    mock,
                },
                service_user: service.user.clone(),
                service_password: secret(service)?,
            })
        }
        AuthConfig::Jwt {
            jwks_file,
            jwt,
            allow_without_tls,
            service,
        } => {
            let validator = crate::auth::jwt::JwtValidator::from_jwks_file(jwks_file, jwt.clone())
                .map_err(|e| ServeError::Auth(format!("{}: {e}", jwks_file.display())))?;
            Some(LocalAuthSetup {
                method: LocalAuth::Jwt {
                    validator: Arc::new(validator),
                    allow_without_tls: *allow_without_tls,
                },
                service_user: service.user.clone(),
                service_password: secret(service)?,
            })
        }
    })
}

/// Distinct statement texts whose analysis is kept (a few MB at most).
const ANALYSIS_CACHE_ENTRIES: usize = 20_000;

/// Connections answered while over the limit (to send 53300 or honour a
/// cancel) are themselves bounded, so a flood cannot grow tasks without end.
const OVERFLOW_HANDLERS: usize = 64;

pub async fn serve(config: Config) -> Result<(), ServeError> {
    let addr = config.listen_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let shared = Shared::new(config)?;
    shared
        .policy
        .spawn_watcher(std::time::Duration::from_secs(1));
    let mut sigterm = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;

    // The one line on stdout: scripts and tests read the bound address from it.
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "pgward listening on {local}");
        let _ = out.flush();
    }
    info!(
        listen = %local,
        upstream = %shared.upstream.address(),
        client_tls = shared.tls_acceptor.is_some(),
        policy = %shared.policy.path().map(|p| p.display().to_string()).unwrap_or_else(|| "none (all allowed)".into()),
        max_connections = shared.config.limits.max_connections,
        "pgward started"
    );

    let sessions = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(shared.config.limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_HANDLERS));
    let signal_name = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Typically EMFILE: back off briefly instead of spinning.
                        error!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let shared = Arc::clone(&shared);
                        sessions.spawn(async move {
                            crate::session::run(tcp, peer, shared).await;
                            drop(permit);
                        });
                    }
                    Err(_) => match Arc::clone(&overflow).try_acquire_owned() {
                        Ok(p) => {
                            warn!(client = %peer, "connection limit reached");
                            let shared = Arc::clone(&shared);
                            tokio::spawn(async move {
                                crate::session::refuse_over_capacity(tcp, shared).await;
                                drop(p);
                            });
                        }
                        Err(_) => drop(tcp),
                    },
                }
            }
            _ = sigterm.recv() => break "SIGTERM",
            _ = sigint.recv() => break "SIGINT",
        }
    };
    drop(listener);
    let grace = shared.config.limits.shutdown_grace;
    info!(signal = signal_name, open_sessions = sessions.len(), grace = ?grace, "draining: no longer accepting connections");
    sessions.close();
    tokio::select! {
        _ = sessions.wait() => {}
        _ = tokio::time::sleep(grace) => {
            warn!(open_sessions = sessions.len(), "grace period over: closing remaining sessions");
            shared.hard_close.cancel();
            // Sessions close within moments once told; don't hang on a stuck peer.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sessions.wait()).await;
        }
        _ = sigterm.recv() => {
            warn!("second signal: closing remaining sessions now");
            shared.hard_close.cancel();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sessions.wait()).await;
        }
    }
    info!("pgward stopped");
    Ok(())
}
