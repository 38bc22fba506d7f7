//! `pgward mcp`: the MCP endpoint over stdio, started by an agent's host as
//! a child process. It is a whole pgward without the PostgreSQL listener:
//! the same config, policy (hot-reloaded), authentication, audit trail and
//! session code; the agent's identity comes from the config and environment.
//!
//! stdout carries the MCP messages, so the audit trail's stdout sink is left
//! out here (logs go to stderr as always), and the spool is a directory of
//! its own under `audit.spool_dir` (`mcp-<n>`, the first one no other
//! `pgward mcp` holds), so a `pgward serve` and any number of agents can
//! share one config.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::ServiceExt;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

use super::auth::stdio_caller;
use super::handler::Handler;
use crate::audit::config::SinkConfig;
use crate::audit::{AuditError, Auditor};
use crate::config::Config;
use crate::shared::{SetupError, Shared};

#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
    #[error("{0}")]
    Identity(String),
    #[error("audit spool: {0}")]
    Spool(String),
    #[error("MCP over stdio: {0}")]
    Protocol(String),
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
}

/// Most `pgward mcp` processes sharing one spool directory at once.
const MAX_SLOTS: usize = 64;

/// Runs until the agent's host closes stdin or sends SIGTERM/SIGINT.
pub async fn serve(mut config: Config, user: Option<String>) -> Result<(), StdioError> {
    // What only `pgward serve` has: the listeners.
    config.admin = None;
    config.mcp.http = None;
    let mut _slot_lock = None;
    if let Some(a) = config.audit.as_mut() {
        let before = a.sinks.len();
        a.sinks.retain(|s| !matches!(s, SinkConfig::Stdout(_)));
        if a.sinks.len() != before {
            info!("audit: the stdout sink is off under `pgward mcp` (stdout carries MCP messages); events go to the spool");
        }
        let (dir, lock) = spool_slot(&a.spool_dir).map_err(StdioError::Spool)?;
        a.spool_dir = dir;
        _slot_lock = Some(lock);
    }
    let auditor = match &config.audit {
        Some(cfg) => Some(Arc::new(Auditor::start(cfg.clone()).await?)),
        None => None,
    };
    let shared = Shared::new(config, auditor.clone())?;
    shared
        .policy
        .spawn_watcher(std::time::Duration::from_secs(1));
    let caller = stdio_caller(&shared, &shared.config.mcp, user)
        .map_err(|e| StdioError::Identity(e.to_string()))?;
    info!(user = %caller.user, "MCP endpoint (stdio) started");
    let limit = Handler::call_limit(&shared);
    let handler = Handler::new(Arc::clone(&shared), Some(Arc::new(caller)), limit);
    let running = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| StdioError::Protocol(e.to_string()))?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(StdioError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(StdioError::Signal)?;
    let cancel = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => {
            if let Err(e) = r {
                warn!(error = %e, "MCP service ended with an error");
            }
        }
        _ = sigterm.recv() => cancel.cancel(),
        _ = sigint.recv() => cancel.cancel(),
    }
    shared.hard_close.cancel();
    drop(shared);
    if let Some(a) = auditor {
        Auditor::stop_shared(a, std::time::Duration::from_secs(10)).await;
    }
    info!("MCP endpoint (stdio) stopped");
    Ok(())
}

/// The first `mcp-<n>` directory under `base` whose lock this process can
/// take; the lock is held as long as the returned file is open.
fn spool_slot(base: &Path) -> Result<(PathBuf, File), String> {
    for n in 0..MAX_SLOTS {
        let dir = base.join(format!("mcp-{n}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("pgward-mcp.lock");
        let f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        match f.try_lock() {
            Ok(()) => return Ok((dir, f)),
            Err(std::fs::TryLockError::WouldBlock) => continue,
            Err(std::fs::TryLockError::Error(e)) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Err(format!(
        "{MAX_SLOTS} pgward mcp processes already use {}",
        base.display()
    ))
}
