//! Command-line interface. Every `serve` flag can also come from a `PGWARD_*`
//! environment variable, for container deployments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::logging::LogFormat;
use crate::tls::UpstreamTlsMode;

#[derive(Debug, Parser)]
#[command(
    name = "pgward",
    version,
    about = "PostgreSQL wire-protocol governance proxy"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Accept client connections and relay them to the upstream PostgreSQL.
    Serve(Box<ServeArgs>),
    /// Validate policy files; errors are printed as FILE:LINE:COLUMN: message.
    Check(CheckArgs),
    /// Show what a policy would do with a SQL string for an identity, without a server.
    Explain(ExplainArgs),
    /// Serve the MCP endpoint over stdio for an agent's host (the agent runs
    /// SQL through pgward's governed sessions; docs/mcp.md).
    Mcp(Box<McpArgs>),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The server's row-level security for the policy's row filters.
    #[command(subcommand)]
    Rls(RlsCommand),
}

#[derive(Debug, Subcommand)]
pub enum RlsCommand {
    /// Print the SQL (ENABLE/FORCE ROW LEVEL SECURITY, CREATE POLICY) that
    /// implements the row filters in one database; running it again changes nothing.
    Plan(RlsArgs),
    /// Compare databases with the row filters; exit 1 on any difference.
    Check(RlsArgs),
}

#[derive(Debug, Args)]
pub struct RlsArgs {
    /// Policy file [default: the policy of --config].
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// A database as a connection string, e.g.
    /// postgresql://user:pw@host/db?sslmode=disable (repeatable for check).
    #[arg(long = "url")]
    pub urls: Vec<String>,
    /// pgward's configuration: connect to its branches as its catalog does.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// With --config: the database name on each branch.
    #[arg(long)]
    pub database: Option<String>,
    /// With --config: these branches only (repeatable) [default: check
    /// every fixed branch, plan the default branch].
    #[arg(long = "branch")]
    pub branches: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the events in the audit spool, one line each (oldest first).
    Tail(AuditTailArgs),
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// Config file whose audit.spool_dir to read.
    #[arg(long, env = "PGWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// The spool directory (instead of a config file).
    #[arg(long)]
    pub spool_dir: Option<PathBuf>,
    /// Keep printing events as they are written.
    #[arg(short, long)]
    pub follow: bool,
    /// Print the events as the JSON lines they are stored as.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// The agent's database user (in auth mode jwt: the token's user, by default).
    #[arg(long, env = "PGWARD_MCP_USER")]
    pub user: Option<String>,
    /// Database the tools connect to [default: mcp.database, else the user's name].
    #[arg(long, env = "PGWARD_MCP_DATABASE")]
    pub database: Option<String>,
    /// The same settings as `pgward serve` (config file, policy, upstream, ...).
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files to validate.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also check the masks against this database's columns (a connection
    /// string, e.g. postgresql://user:pw@host/db?sslmode=disable): a mask
    /// that cannot change a value of a column it applies to is an error.
    #[arg(long, env = "PGWARD_CHECK_DATABASE")]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Policy file to decide with.
    #[arg(long)]
    pub policy: PathBuf,
    /// The database user.
    #[arg(long)]
    pub user: String,
    /// application_name the client would send.
    #[arg(long = "app")]
    pub application: Option<String>,
    /// Client address, for client_address rules.
    #[arg(long)]
    pub client_address: Option<std::net::IpAddr>,
    /// Group membership (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// A verified token claim, NAME=VALUE (repeatable; repeat a name for
    /// several values).
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    /// Use this profile instead of resolving one from the identity.
    #[arg(long)]
    pub profile: Option<String>,
    /// The SQL text (one or more statements).
    pub sql: String,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// YAML configuration file; flags and PGWARD_* variables override its keys.
    #[arg(long, env = "PGWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Policy file (identities, profiles, deny rules); reloaded on SIGHUP and when it changes.
    #[arg(long, env = "PGWARD_POLICY")]
    pub policy: Option<PathBuf>,
    /// Address to accept clients on [default: 127.0.0.1:6432].
    #[arg(long, env = "PGWARD_LISTEN")]
    pub listen: Option<String>,
    /// Upstream PostgreSQL as host:port [default: 127.0.0.1:5432].
    #[arg(long, env = "PGWARD_UPSTREAM")]
    pub upstream: Option<String>,
    /// TLS to the upstream, as libpq's sslmode [default: prefer].
    #[arg(long, env = "PGWARD_UPSTREAM_TLS", value_enum)]
    pub upstream_tls: Option<UpstreamTlsMode>,
    /// CA certificate(s) that sign the upstream's certificate (PEM).
    #[arg(long, env = "PGWARD_UPSTREAM_CA")]
    pub upstream_ca: Option<PathBuf>,
    /// Server name to verify with verify-full (default: the upstream host).
    #[arg(long, env = "PGWARD_UPSTREAM_SERVER_NAME")]
    pub upstream_server_name: Option<String>,
    /// Certificate chain (PEM) offered to clients that ask for TLS.
    #[arg(long, env = "PGWARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, env = "PGWARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most client connections at once; further ones get SQLSTATE 53300.
    #[arg(long, env = "PGWARD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest frontend message accepted, in bytes.
    #[arg(long, env = "PGWARD_MAX_MESSAGE_SIZE")]
    pub max_message_size: Option<usize>,
    /// Time a client has to finish startup and authentication (e.g. 10s).
    #[arg(long, env = "PGWARD_STARTUP_TIMEOUT")]
    pub startup_timeout: Option<String>,
    /// End sessions idle outside a transaction this long (0s = off).
    #[arg(long, env = "PGWARD_IDLE_TIMEOUT")]
    pub idle_timeout: Option<String>,
    /// End sessions idle inside a transaction this long (0s = off).
    #[arg(long, env = "PGWARD_IDLE_IN_TRANSACTION_TIMEOUT")]
    pub idle_in_transaction_timeout: Option<String>,
    /// On SIGTERM, how long sessions may run on before they are closed.
    #[arg(long, env = "PGWARD_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<String>,
    /// Threads that run sessions [default: one per CPU core].
    #[arg(long, env = "PGWARD_WORKERS")]
    pub workers: Option<usize>,
    /// Directory of the audit spool; turns the audit trail on (events kept
    /// locally) when the configuration file has none.
    #[arg(long, env = "PGWARD_AUDIT_SPOOL")]
    pub audit_spool: Option<PathBuf>,
    /// Login for pgward's own catalog connection (masking), with its
    /// password in the environment variable --catalog-password-env names.
    #[arg(long, env = "PGWARD_CATALOG_USER")]
    pub catalog_user: Option<String>,
    /// Environment variable holding the --catalog-user password.
    #[arg(
        long,
        env = "PGWARD_CATALOG_PASSWORD_ENV",
        default_value = "PGWARD_CATALOG_PASSWORD"
    )]
    pub catalog_password_env: String,
    /// Log format on stderr.
    #[arg(long, env = "PGWARD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. info or pgward=debug.
    #[arg(long, env = "PGWARD_LOG_LEVEL")]
    pub log_level: Option<String>,
}
