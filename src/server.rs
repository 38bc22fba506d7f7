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
    /// Which server each branch runs on; `upstream` is the default branch's.
    pub branches: crate::branch::Branches,
    /// Cancelled when the shutdown grace period is over: sessions end now.
    pub hard_close: CancellationToken,
    /// The audit trail, when `audit:` is configured.
    pub audit: Option<Arc<crate::audit::Auditor>>,
    /// Usage counters, kept only while the admin listener can show them.
    pub usage: Option<Arc<crate::metrics::Usage>>,
    pub health: crate::admin::Health,
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
    #[error("branches: {0}")]
    Branch(String),
    #[error("metrics export: {0}")]
    MetricsExport(String),
    #[error("cannot start session threads: {0}")]
    Lanes(std::io::Error),
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
    #[error("audit: {0}")]
    Audit(#[from] crate::audit::AuditError),
    #[error("{0}")]
    Admin(#[from] crate::admin::AdminError),
    #[error("{0}")]
    Mcp(#[from] crate::mcp::http::HttpStartError),
}

impl Shared {
    pub fn new(
        config: Config,
        audit: Option<Arc<crate::audit::Auditor>>,
    ) -> Result<Arc<Shared>, ServeError> {
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
        let catalogs = crate::catalog::Catalogs::new(catalog_source(&config)?);
        let branches = crate::branch::Branches::new(Arc::clone(&upstream), &config.branches)
            .map_err(|e| ServeError::Branch(e.to_string()))?;
        let has_masks = !policy.current().policy.masking.rules.is_empty();
        if has_masks && !catalogs.is_configured() {
            return Err(ServeError::Catalog(
                "the policy masks columns, and masking needs the server's catalog: set catalog.user and catalog.password_file (or use auth mode scram/jwt, whose service account is used)".into(),
            ));
        }
        let usage = (config.admin.is_some() || config.metrics.otlp.is_some())
            .then(|| Arc::new(crate::metrics::Usage::new(&config.metrics)));
        Ok(Arc::new(Shared {
            audit,
            usage,
            health: crate::admin::Health::default(),
            catalogs,
            branches,
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

/// The catalog credential of a configuration, with its password read.
pub fn catalog_source(
    config: &Config,
) -> Result<Option<crate::catalog::CatalogSource>, ServeError> {
    let Some(cred) = config.catalog_credential() else {
        return Ok(None);
    };
    Ok(Some(crate::catalog::CatalogSource {
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
    let auditor = match &config.audit {
        Some(cfg) => Some(Arc::new(crate::audit::Auditor::start(cfg.clone()).await?)),
        None => None,
    };
    let shared = Shared::new(config, auditor.clone())?;
    if let Some(a) = &auditor {
        shared.policy.set_reload_hook(reload_hook(Arc::clone(a)));
    }
    let admin_stop = CancellationToken::new();
    let admin = crate::admin::start(Arc::clone(&shared), admin_stop.clone()).await?;
    let mcp = crate::mcp::http::start(Arc::clone(&shared), admin_stop.clone()).await?;
    if let (Some(usage), Some(cfg)) = (&shared.usage, &shared.config.metrics.otlp) {
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        let instance = format!("pgward-{:016x}", u64::from_be_bytes(id));
        crate::metrics::otlp::spawn(Arc::clone(usage), cfg.clone(), instance)
            .map_err(ServeError::MetricsExport)?;
    }
    shared
        .policy
        .spawn_watcher(std::time::Duration::from_secs(1));
    let mut sigterm = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;

    // The first line on stdout: scripts and tests read the bound address
    // from it (then the admin address, then audit events if the stdout sink
    // is on).
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "pgward listening on {local}");
        if let Some(a) = admin {
            let _ = writeln!(out, "pgward admin listening on {a}");
        }
        if let Some(a) = mcp {
            let _ = writeln!(out, "pgward mcp listening on {a}");
        }
        let _ = out.flush();
    }
    if let Some(a) = &auditor {
        let ev = crate::audit::AuditEvent::new(crate::audit::EventKind::ProxyStart)
            .with(
                crate::audit::attr::SERVER_ADDRESS,
                shared.config.upstream.host.clone(),
            )
            .with(crate::audit::attr::SERVER_PORT, shared.config.upstream.port)
            .with(LISTEN, local.to_string())
            .with(VERSION, env!("CARGO_PKG_VERSION"));
        if let Err(e) = a.emit(ev).await {
            warn!(error = %e, "audit event not recorded");
        }
    }

    info!(
        listen = %local,
        upstream = %shared.upstream.address(),
        client_tls = shared.tls_acceptor.is_some(),
        policy = %shared.policy.path().map(|p| p.display().to_string()).unwrap_or_else(|| "none (all allowed)".into()),
        max_connections = shared.config.limits.max_connections,
        admin = %admin.map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
        audit = shared.audit.is_some(),
        "pgward started"
    );
    shared
        .health
        .accepting
        .store(true, std::sync::atomic::Ordering::Relaxed);

    let lanes = crate::lanes::Lanes::start(
        shared
            .config
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    )
    .map_err(ServeError::Lanes)?;
    let sessions = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(shared.config.limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_HANDLERS));
    let mut trimmer = crate::memory::Trimmer::default();
    let mut trim_tick = tokio::time::interval(std::time::Duration::from_secs(5));
    trim_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let signal_name = loop {
        tokio::select! {
            _ = trim_tick.tick() => {
                if trimmer.observe(sessions.len()) {
                    tracing::debug!(open_sessions = sessions.len(), "memory of ended sessions returned");
                }
            }
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
                        trimmer.saw(sessions.len() + 1);
                        // The socket moves to the session's lane, whose own
                        // reactor then waits on it.
                        match tcp.into_std() {
                            Ok(tcp) => {
                                let seat = lanes.seat();
                                let lane = seat.handle.clone();
                                sessions.spawn_on(async move {
                                    // Unwrapped before the await, so the
                                    // conversion's result is not kept in
                                    // the session's future.
                                    let tcp = match tokio::net::TcpStream::from_std(tcp) {
                                        Ok(tcp) => tcp,
                                        Err(e) => {
                                            warn!(client = %peer, error = %e, "connection could not join a session thread");
                                            return drop((permit, seat));
                                        }
                                    };
                                    crate::session::run(tcp, peer, shared).await;
                                    drop((permit, seat));
                                }, &lane);
                            }
                            Err(e) => warn!(client = %peer, error = %e, "connection could not leave the listener's reactor"),
                        }
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
    shared
        .health
        .accepting
        .store(false, std::sync::atomic::Ordering::Relaxed);
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
    drop(lanes);
    admin_stop.cancel();
    if let Some(a) = &auditor {
        let ev = crate::audit::AuditEvent::new(crate::audit::EventKind::ProxyStop)
            .with(SIGNAL, signal_name);
        if let Err(e) = a.emit(ev).await {
            warn!(error = %e, "audit event not recorded");
        }
    }
    drop(shared);
    if let Some(a) = auditor {
        stop_auditor(a, grace.min(AUDIT_DRAIN)).await;
    }
    info!("pgward stopped");
    Ok(())
}

/// Listen address, on ProxyStart.
const LISTEN: &str = "pgward.listen";
const VERSION: &str = "pgward.version";
/// What stopped pgward, on ProxyStop.
const SIGNAL: &str = "pgward.signal";
/// Policy file and the reload's reason, outcome and errors, on PolicyReload.
const POLICY_PATH: &str = "pgward.policy.path";
const RELOAD_REASON: &str = "pgward.policy.reason";
const RELOAD_OUTCOME: &str = "pgward.policy.outcome";
const POLICY_GENERATION: &str = "pgward.policy.generation";
const POLICY_ERRORS: &str = "pgward.policy.errors";

/// How long shutdown waits for the shippers to deliver what is spooled;
/// what is left is sent after the next start.
/// Bounded by `limits.shutdown_grace`.
const AUDIT_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes out what is queued and lets the shippers deliver. The auditor is
/// shared with sessions; the ones still alive after the drain are aborted
/// anyway, so their references go within moments.
pub(crate) async fn stop_auditor(a: Arc<crate::audit::Auditor>, drain: std::time::Duration) {
    let mut a = a;
    for _ in 0..100 {
        match Arc::try_unwrap(a) {
            Ok(auditor) => {
                let report = auditor.shutdown(tokio::time::Instant::now() + drain).await;
                info!(?report, "audit trail stopped");
                return;
            }
            Err(still_shared) => {
                a = still_shared;
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    warn!("audit trail still in use at exit: queued events are written, unsent ones stay spooled for the next start");
}

/// Records every policy reload attempt as an audit event.
/// Holds the auditor weakly: the store outlives it, and shutdown needs the
/// last strong reference.
fn reload_hook(a: Arc<crate::audit::Auditor>) -> crate::policy::store::ReloadHook {
    let a = Arc::downgrade(&a);
    Box::new(move |r| {
        use crate::policy::store::ReloadOutcome;
        let mut ev = crate::audit::AuditEvent::new(crate::audit::EventKind::PolicyReload)
            .with(RELOAD_REASON, r.reason.to_owned());
        if let Some(p) = r.path {
            ev.set(POLICY_PATH, p.display().to_string());
        }
        match r.result {
            Ok(ReloadOutcome::Installed(g)) => {
                ev.set(RELOAD_OUTCOME, "installed");
                ev.set(POLICY_GENERATION, *g);
            }
            Ok(ReloadOutcome::Unchanged) => return,
            Err(e) => {
                ev.set(RELOAD_OUTCOME, "rejected");
                ev.set(POLICY_ERRORS, e.to_string());
            }
        }
        let Some(a) = a.upgrade() else { return };
        // The watcher calls this from inside the runtime.
        tokio::spawn(async move {
            if let Err(e) = a.emit(ev).await {
                warn!(error = %e, "audit event not recorded");
            }
        });
    })
}
