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

use crate::config::Config;
use crate::shared::{SetupError, Shared};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Setup(#[from] SetupError),
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
        crate::audit::Auditor::stop_shared(a, grace.min(AUDIT_DRAIN)).await;
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
