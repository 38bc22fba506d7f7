//! A tool call's PostgreSQL session: an in-process connection to pgward's
//! own session code (the path every network client takes: login, profile,
//! guard, masks, stamp, audit, metrics), spoken to with tokio-postgres.
//!
//! Each call gets its own session, so its startup packet can say what the
//! call is: `application_name = mcp/<tool>` (the stamp's `application`, the
//! audit events' `pgward.tool`, the metrics' `tool` label), the branch
//! (`-c pgward.branch=NAME`), the statement timeout, and for tools that only
//! read, `default_transaction_read_only=on`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::SslMode;
use tokio_postgres::{CancelToken, Client, NoTls};

use super::auth::{application_name, Caller};
use super::error::McpError;
use crate::branch::BranchName;
use crate::shared::Shared;

/// Buffer of the in-memory pipe between a tool and its session, each way.
const PIPE_BYTES: usize = 64 * 1024;

/// How a call's session is opened.
#[derive(Clone, Debug)]
pub struct CallOptions {
    pub tool: &'static str,
    pub branch: Option<String>,
    pub timeout: Duration,
    /// Start every transaction read-only (the server's layer; the policy
    /// still decides what runs).
    pub read_only: bool,
}

/// An open in-process session.
pub struct Session {
    pub client: Client,
    cancel: CancelToken,
    shared: Arc<Shared>,
    peer: SocketAddr,
    timeout: Duration,
}

/// Checks a branch name before it goes into the startup options (where a
/// space would start another `-c` setting).
pub fn check_branch(b: &str) -> Result<BranchName, McpError> {
    BranchName::new(b).map_err(|e| McpError::Arguments(e.to_string()))
}

/// The database a caller's sessions use: `mcp.database`, else the user's name.
pub fn database(shared: &Shared, caller: &Caller) -> String {
    shared
        .config
        .mcp
        .database
        .clone()
        .unwrap_or_else(|| caller.user.clone())
}

impl Session {
    /// Logs in through pgward's session code, as `caller`.
    pub async fn open(
        shared: &Arc<Shared>,
        caller: &Caller,
        opts: &CallOptions,
    ) -> Result<Session, McpError> {
        let mut options = format!("-c statement_timeout={}", opts.timeout.as_millis());
        if opts.read_only {
            options.push_str(" -c default_transaction_read_only=on");
        }
        if let Some(b) = &opts.branch {
            let b = check_branch(b)?;
            options.push_str(&format!(" -c {}={}", crate::branch::BRANCH_OPTION, b));
        }
        let mut pg = tokio_postgres::Config::new();
        pg.user(&caller.user)
            .password(caller.secret.expose())
            .dbname(database(shared, caller))
            .application_name(application_name(opts.tool))
            .options(&options)
            .ssl_mode(SslMode::Disable);
        let stream = connect_pipe(shared, caller.peer);
        // pgward's startup timeout bounds the login; this only guards the pipe.
        let limit = shared.config.limits.startup_timeout + Duration::from_secs(5);
        let (client, connection) = tokio::time::timeout(limit, pg.connect_raw(stream, NoTls))
            .await
            .map_err(|_| McpError::Session("the login did not complete".into()))?
            .map_err(|e| McpError::login(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "MCP session connection ended");
            }
        });
        let cancel = client.cancel_token();
        Ok(Session {
            client,
            cancel,
            shared: Arc::clone(shared),
            peer: caller.peer,
            timeout: opts.timeout,
        })
    }

    /// Runs `work`; if it outlasts the call's timeout (a profile's own
    /// `statement_timeout` may be longer than the call's), the running
    /// statement is cancelled the way any client cancels: a CancelRequest,
    /// here through another in-process connection.
    pub async fn bounded<T, F>(&self, work: F) -> Result<T, McpError>
    where
        F: std::future::Future<Output = Result<T, McpError>>,
    {
        // A little slack, so the server's own timeout (a clearer error) fires first.
        let limit = self.timeout + Duration::from_millis(500);
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => {
                self.cancel_running().await;
                Err(McpError::Timeout(self.timeout))
            }
        }
    }

    /// Cancels whatever statement is running (after a result was cut short).
    pub async fn cancel_running(&self) {
        let stream = connect_pipe(&self.shared, self.peer);
        if let Err(e) = self.cancel.cancel_query_raw(stream, NoTls).await {
            tracing::debug!(error = %e, "MCP cancel request failed");
        }
    }
}

/// Starts a pgward session on one end of a new pipe and returns the other.
fn connect_pipe(shared: &Arc<Shared>, peer: SocketAddr) -> tokio::io::DuplexStream {
    let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
    tokio::spawn(crate::session::run_in_process(
        theirs,
        peer,
        Arc::clone(shared),
    ));
    ours
}
