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
use crate::tls::{self, TlsError};
use crate::upstream::{Upstream, UpstreamError};

/// What every session shares.
pub struct Shared {
    pub config: Config,
    pub tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    pub upstream: Arc<Upstream>,
    pub cancels: Arc<CancelRegistry>,
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
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
}

impl Shared {
    pub fn new(config: Config) -> Result<Arc<Shared>, ServeError> {
        let tls_acceptor = match &config.client_tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                &t.cert_file,
                &t.key_file,
            )?)),
            None => None,
        };
        let upstream = Upstream::from_config(&config.upstream)?;
        Ok(Arc::new(Shared {
            config,
            tls_acceptor,
            upstream,
            cancels: CancelRegistry::new(),
            hard_close: CancellationToken::new(),
        }))
    }
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
    let shared = Shared::new(config)?;
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
