//! pgward's runtime configuration: the YAML file model, its defaults, and the
//! merge with command-line flags and `PGWARD_*` environment variables (flags and
//! env win over the file, so a container can override one key without a new file).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::ServeArgs;
pub use crate::logging::{LogConfig, LogFormat};
pub use crate::tls::UpstreamTlsMode;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    workers: Option<usize>,
    policy: Option<PathBuf>,
    auth: Option<FileAuth>,
    upstream: Option<FileUpstream>,
    tls: Option<FileClientTls>,
    limits: Option<FileLimits>,
    log: Option<FileLog>,
    catalog: Option<FileCatalog>,
    audit: Option<crate::audit::AuditConfig>,
    admin: Option<FileAdmin>,
    metrics: Option<FileMetrics>,
    branches: Option<FileBranches>,
    mcp: Option<crate::mcp::config::FileMcp>,
}

/// Database branches: more upstreams besides `upstream` (which serves the
/// default branch), and a template for branches created on the fly.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBranches {
    /// Name of the branch `upstream` serves (default: `default`).
    default: Option<String>,
    /// Named branches; each may override host, port, timeout and TLS.
    #[serde(default)]
    fixed: std::collections::BTreeMap<String, FileUpstream>,
    template: Option<FileBranchTemplate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBranchTemplate {
    /// Host with `{branch}` where the branch name goes, e.g. `{branch}.db.internal`.
    host: String,
    port: Option<u16>,
    /// Glob of the branch names the template serves (default: any valid name).
    names: Option<String>,
}

/// The admin listener: metrics and health endpoints, off unless configured.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAdmin {
    listen: Option<String>,
    upstream_check_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetrics {
    per_user: Option<bool>,
    max_tools: Option<usize>,
    /// Push the usage metrics to an OTLP collector too.
    otlp: Option<FileMetricsOtlp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetricsOtlp {
    endpoint: String,
    /// `grpc` (default) or `http` (protobuf, `/v1/metrics` appended).
    protocol: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
}

/// Where masking reads the server's catalog from: its own connection, with
/// its own credential, so what it sees does not depend on any client.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCatalog {
    user: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    refresh_interval: Option<String>,
}

/// Who verifies client credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// The upstream server runs its own authentication; pgward relays it.
    #[default]
    Passthrough,
    /// pgward verifies SCRAM-SHA-256 against `users_file`.
    Scram,
    /// The password is a JWT that pgward validates against `jwks_file`.
    Jwt,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    mode: Option<AuthMode>,
    users_file: Option<PathBuf>,
    jwks_file: Option<PathBuf>,
    jwt: Option<crate::auth::jwt::JwtConfig>,
    allow_tokens_without_tls: Option<bool>,
    upstream_user: Option<String>,
    upstream_password_file: Option<PathBuf>,
    upstream_password_env: Option<String>,
}

/// Client authentication, resolved.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    Passthrough,
    Scram {
        users_file: PathBuf,
        service: ServiceCredential,
    },
    Jwt {
        jwks_file: PathBuf,
        jwt: crate::auth::jwt::JwtConfig,
        allow_without_tls: bool,
        service: ServiceCredential,
    },
}

/// The account pgward logs in to the upstream as when it authenticates clients itself.
#[derive(Clone, Debug)]
pub struct ServiceCredential {
    pub user: String,
    pub password: PasswordSource,
}

#[derive(Clone, Debug)]
pub enum PasswordSource {
    File(PathBuf),
    Env(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    host: Option<String>,
    port: Option<u16>,
    connect_timeout: Option<String>,
    tls: Option<FileUpstreamTls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstreamTls {
    mode: Option<UpstreamTlsMode>,
    ca_file: Option<PathBuf>,
    server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClientTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    /// CA for client certificates (mTLS); their subject becomes an identity attribute.
    client_ca_file: Option<PathBuf>,
    /// Refuse clients without a certificate signed by client_ca_file.
    require_client_cert: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_connections: Option<usize>,
    max_message_size: Option<usize>,
    startup_timeout: Option<String>,
    idle_timeout: Option<String>,
    idle_in_transaction_timeout: Option<String>,
    shutdown_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<LogFormat>,
    level: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    /// Session threads (see `lanes`); `None` = one per core.
    pub workers: Option<usize>,
    pub auth: AuthConfig,
    /// Policy file; without one every session is `admin` and no statement is analyzed.
    pub policy: Option<PathBuf>,
    pub upstream: UpstreamConfig,
    pub client_tls: Option<ClientTlsConfig>,
    pub limits: Limits,
    pub log: LogConfig,
    pub catalog: CatalogConfig,
    /// The audit trail; `None` = no events.
    pub audit: Option<crate::audit::AuditConfig>,
    pub admin: Option<AdminConfig>,
    pub metrics: MetricsConfig,
    pub branches: BranchesConfig,
    /// The MCP endpoint (`pgward mcp` over stdio, and the HTTP listener when set).
    pub mcp: crate::mcp::config::McpConfig,
}

/// Branches besides the default one (which `upstream` serves).
#[derive(Clone, Debug)]
pub struct BranchesConfig {
    pub default_name: String,
    pub fixed: Vec<(String, UpstreamConfig)>,
    pub template: Option<BranchTemplate>,
}

#[derive(Clone, Debug)]
pub struct BranchTemplate {
    pub host: String,
    pub port: u16,
    pub names: Option<String>,
    /// TLS and timeout as for `upstream`.
    pub base: UpstreamConfig,
}

#[derive(Clone, Debug)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// How often `/readyz` checks that the upstream accepts a TCP connection.
    pub upstream_check_interval: Duration,
}

/// Label choices for usage metrics: every distinct label set is a time
/// series, so the unbounded ones are capped or opt-in.
#[derive(Clone, Debug)]
pub struct MetricsConfig {
    /// Adds a `user` label.
    pub per_user: bool,
    /// Distinct `tool` values kept; later ones are counted as `other`.
    pub max_tools: usize,
    pub otlp: Option<MetricsOtlpConfig>,
}

/// Periodic push of the usage metrics as OTLP metrics.
#[derive(Clone, Debug)]
pub struct MetricsOtlpConfig {
    pub endpoint: String,
    pub http: bool,
    pub interval: Duration,
    pub timeout: Duration,
}

/// The catalog connection used by masking.
#[derive(Clone, Debug)]
pub struct CatalogConfig {
    /// `None`: the service account of `auth` (modes scram and jwt); in
    /// passthrough mode masking then has no catalog and refuses sessions
    /// that would need one.
    pub credential: Option<ServiceCredential>,
    /// A catalog older than this is reloaded before the next masked statement
    /// (DDL seen through pgward reloads it at once).
    pub refresh_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    pub host: String,
    pub port: u16,
    pub connect_timeout: Duration,
    pub tls_mode: UpstreamTlsMode,
    pub ca_file: Option<PathBuf>,
    /// Name checked against the server certificate (defaults to `host`).
    pub server_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ClientTlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_certs: Option<crate::tls::ClientCertPolicy>,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    /// Upper bound on a frontend message's length word.
    pub max_message_size: usize,
    pub startup_timeout: Duration,
    /// `None` = off.
    pub idle_timeout: Option<Duration>,
    pub idle_in_transaction_timeout: Option<Duration>,
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:6432".into(),
            workers: None,
            auth: AuthConfig::Passthrough,
            policy: None,
            upstream: UpstreamConfig {
                host: "127.0.0.1".into(),
                port: 5432,
                connect_timeout: Duration::from_secs(10),
                tls_mode: UpstreamTlsMode::Prefer,
                ca_file: None,
                server_name: None,
            },
            client_tls: None,
            limits: Limits {
                max_connections: 1000,
                max_message_size: 256 << 20,
                startup_timeout: Duration::from_secs(10),
                idle_timeout: None,
                idle_in_transaction_timeout: None,
                shutdown_grace: Duration::from_secs(30),
            },
            log: LogConfig {
                format: LogFormat::Text,
                level: "info".into(),
            },
            catalog: CatalogConfig {
                credential: None,
                refresh_interval: Duration::from_secs(30),
            },
            branches: BranchesConfig {
                default_name: "default".into(),
                fixed: Vec::new(),
                template: None,
            },
            audit: None,
            admin: None,
            mcp: crate::mcp::config::McpConfig::default(),
            metrics: MetricsConfig {
                per_user: false,
                max_tools: 50,
                otlp: None,
            },
        }
    }
}

fn duration(key: &'static str, s: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(s.trim()).map_err(|e| ConfigError::Invalid {
        key,
        message: format!("{s:?} is not a duration like 10s or 500ms ({e})"),
    })
}

fn optional_duration(key: &'static str, s: &str) -> Result<Option<Duration>, ConfigError> {
    let d = duration(key, s)?;
    Ok((!d.is_zero()).then_some(d))
}

/// Splits `host:port`, accepting `[v6]:port` and a bare host (port 5432).
pub fn split_host_port(s: &str) -> Result<(String, u16), ConfigError> {
    let invalid = |m: &str| ConfigError::Invalid {
        key: "upstream",
        message: format!("{s:?}: {m}"),
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| invalid("bad port"))?,
            None if after.is_empty() => 5432,
            None => return Err(invalid("expected host:port")),
        };
        return Ok((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            if h.is_empty() {
                return Err(invalid("empty host"));
            }
            Ok((h.to_owned(), p.parse().map_err(|_| invalid("bad port"))?))
        }
        _ if s.is_empty() => Err(invalid("empty host")),
        _ => Ok((s.to_owned(), 5432)),
    }
}

impl Config {
    /// Builds the configuration from an optional file, then flags/env on top.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let mut f = read_file(path)?;
                // Relative paths in a config file are relative to the file.
                if let Some(dir) = path.parent() {
                    f.resolve_paths(dir);
                }
                f
            }
            None => FileConfig::default(),
        };
        let mut file = file;
        let branches = file.branches.take();
        let mut c = Config::default();
        c.apply_file(file)?;
        c.apply_args(args)?;
        if let Some(b) = branches {
            c.branches = resolve_branches(b, &c.upstream)?;
        }
        c.validate()?;
        Ok(c)
    }

    fn apply_file(&mut self, f: FileConfig) -> Result<(), ConfigError> {
        if let Some(l) = f.listen {
            self.listen = l;
        }
        if let Some(p) = f.policy {
            self.policy = Some(p);
        }
        if let Some(w) = f.workers {
            self.workers = Some(w);
        }
        if let Some(a) = f.auth {
            self.auth = resolve_auth(a)?;
        }
        if let Some(u) = f.upstream {
            if let Some(h) = u.host {
                self.upstream.host = h;
            }
            if let Some(p) = u.port {
                self.upstream.port = p;
            }
            if let Some(t) = u.connect_timeout {
                self.upstream.connect_timeout = duration("upstream.connect_timeout", &t)?;
            }
            if let Some(t) = u.tls {
                if let Some(m) = t.mode {
                    self.upstream.tls_mode = m;
                }
                self.upstream.ca_file = t.ca_file.or(self.upstream.ca_file.take());
                self.upstream.server_name = t.server_name.or(self.upstream.server_name.take());
            }
        }
        if let Some(t) = f.tls {
            let client_certs = match (t.client_ca_file, t.require_client_cert) {
                (Some(ca_file), required) => Some(crate::tls::ClientCertPolicy {
                    ca_file,
                    required: required.unwrap_or(false),
                }),
                (None, Some(true)) => {
                    return Err(ConfigError::Invalid {
                        key: "tls.require_client_cert",
                        message: "needs tls.client_ca_file".into(),
                    })
                }
                (None, _) => None,
            };
            match (t.cert_file, t.key_file) {
                (Some(cert_file), Some(key_file)) => {
                    self.client_tls = Some(ClientTlsConfig {
                        cert_file,
                        key_file,
                        client_certs,
                    })
                }
                (None, None) => {}
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "tls",
                        message: "cert_file and key_file go together".into(),
                    })
                }
            }
        }
        if let Some(l) = f.limits {
            if let Some(n) = l.max_connections {
                self.limits.max_connections = n;
            }
            if let Some(n) = l.max_message_size {
                self.limits.max_message_size = n;
            }
            if let Some(s) = l.startup_timeout {
                self.limits.startup_timeout = duration("limits.startup_timeout", &s)?;
            }
            if let Some(s) = l.idle_timeout {
                self.limits.idle_timeout = optional_duration("limits.idle_timeout", &s)?;
            }
            if let Some(s) = l.idle_in_transaction_timeout {
                self.limits.idle_in_transaction_timeout =
                    optional_duration("limits.idle_in_transaction_timeout", &s)?;
            }
            if let Some(s) = l.shutdown_grace {
                self.limits.shutdown_grace = duration("limits.shutdown_grace", &s)?;
            }
        }
        if let Some(c) = f.catalog {
            let password = match (c.password_file, c.password_env) {
                (Some(f), None) => Some(PasswordSource::File(f)),
                (None, Some(e)) => Some(PasswordSource::Env(e)),
                (None, None) => None,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "catalog.password_file",
                        message: "give at most one of password_file or password_env".into(),
                    })
                }
            };
            self.catalog.credential = match (c.user, password) {
                (Some(user), Some(password)) => Some(ServiceCredential { user, password }),
                (None, None) => None,
                _ => return Err(ConfigError::Invalid {
                    key: "catalog.user",
                    message:
                        "catalog.user and a password (password_file or password_env) go together"
                            .into(),
                }),
            };
            if let Some(r) = c.refresh_interval {
                self.catalog.refresh_interval = duration("catalog.refresh_interval", &r)?;
            }
        }
        if let Some(a) = f.audit {
            a.validate().map_err(|message| ConfigError::Invalid {
                key: "audit",
                message,
            })?;
            self.audit = Some(a);
        }
        if let Some(a) = f.admin {
            let listen = a.listen.ok_or_else(|| ConfigError::Invalid {
                key: "admin.listen",
                message: "required to enable the admin listener".into(),
            })?;
            let listen = listen.parse().map_err(|e| ConfigError::Invalid {
                key: "admin.listen",
                message: format!("{listen:?} is not an address like 127.0.0.1:9187 ({e})"),
            })?;
            let upstream_check_interval = match a.upstream_check_interval {
                Some(s) => duration("admin.upstream_check_interval", &s)?,
                None => Duration::from_secs(10),
            };
            self.admin = Some(AdminConfig {
                listen,
                upstream_check_interval,
            });
        }
        if let Some(m) = f.metrics {
            if let Some(u) = m.per_user {
                self.metrics.per_user = u;
            }
            if let Some(n) = m.max_tools {
                self.metrics.max_tools = n;
            }
            if let Some(o) = m.otlp {
                let http = match o.protocol.as_deref() {
                    None | Some("grpc") => false,
                    Some("http") => true,
                    Some(other) => {
                        return Err(ConfigError::Invalid {
                            key: "metrics.otlp.protocol",
                            message: format!("{other:?} is not grpc or http"),
                        })
                    }
                };
                self.metrics.otlp = Some(MetricsOtlpConfig {
                    endpoint: o.endpoint,
                    http,
                    interval: match o.interval {
                        Some(i) => duration("metrics.otlp.interval", &i)?,
                        None => Duration::from_secs(15),
                    },
                    timeout: match o.timeout {
                        Some(t) => duration("metrics.otlp.timeout", &t)?,
                        None => Duration::from_secs(10),
                    },
                });
            }
        }
        if let Some(m) = f.mcp {
            self.mcp = m.resolve().map_err(|e| ConfigError::Invalid {
                key: e.key,
                message: e.message,
            })?;
        }
        if let Some(l) = f.log {
            if let Some(fmt) = l.format {
                self.log.format = fmt;
            }
            if let Some(level) = l.level {
                self.log.level = level;
            }
        }
        Ok(())
    }

    fn apply_args(&mut self, a: &ServeArgs) -> Result<(), ConfigError> {
        if let Some(l) = &a.listen {
            self.listen = l.clone();
        }
        if let Some(p) = &a.policy {
            self.policy = Some(p.clone());
        }
        if let Some(w) = a.workers {
            self.workers = Some(w);
        }
        if let Some(u) = &a.upstream {
            let (h, p) = split_host_port(u)?;
            self.upstream.host = h;
            self.upstream.port = p;
        }
        if let Some(m) = a.upstream_tls {
            self.upstream.tls_mode = m;
        }
        if let Some(ca) = &a.upstream_ca {
            self.upstream.ca_file = Some(ca.clone());
        }
        if let Some(n) = &a.upstream_server_name {
            self.upstream.server_name = Some(n.clone());
        }
        match (&a.tls_cert, &a.tls_key) {
            (Some(c), Some(k)) => {
                let client_certs = self.client_tls.take().and_then(|t| t.client_certs);
                self.client_tls = Some(ClientTlsConfig {
                    cert_file: c.clone(),
                    key_file: k.clone(),
                    client_certs,
                })
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    key: "--tls-cert/--tls-key",
                    message: "give both or neither".into(),
                })
            }
        }
        if let Some(n) = a.max_connections {
            self.limits.max_connections = n;
        }
        if let Some(n) = a.max_message_size {
            self.limits.max_message_size = n;
        }
        if let Some(s) = &a.startup_timeout {
            self.limits.startup_timeout = duration("--startup-timeout", s)?;
        }
        if let Some(s) = &a.idle_timeout {
            self.limits.idle_timeout = optional_duration("--idle-timeout", s)?;
        }
        if let Some(s) = &a.idle_in_transaction_timeout {
            self.limits.idle_in_transaction_timeout =
                optional_duration("--idle-in-transaction-timeout", s)?;
        }
        if let Some(s) = &a.shutdown_grace {
            self.limits.shutdown_grace = duration("--shutdown-grace", s)?;
        }
        if let Some(f) = a.log_format {
            self.log.format = f;
        }
        if let Some(l) = &a.log_level {
            self.log.level = l.clone();
        }
        if let Some(dir) = &a.audit_spool {
            match self.audit.as_mut() {
                Some(audit) => audit.spool_dir = dir.clone(),
                None => {
                    let yaml = format!("spool_dir: {:?}", dir.display().to_string());
                    let audit = serde_saphyr::from_str::<crate::audit::AuditConfig>(&yaml)
                        .map_err(|e| ConfigError::Invalid {
                            key: "--audit-spool",
                            message: e.to_string(),
                        })?;
                    self.audit = Some(audit);
                }
            }
        }
        if let Some(user) = &a.catalog_user {
            self.catalog.credential = Some(ServiceCredential {
                user: user.clone(),
                password: PasswordSource::Env(a.catalog_password_env.clone()),
            });
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::Invalid {
                key: "listen",
                message: format!(
                    "{:?} is not an address like 127.0.0.1:6432 ({e})",
                    self.listen
                ),
            })?;
        if self.workers == Some(0) {
            return Err(ConfigError::Invalid {
                key: "workers",
                message: "must be at least 1".into(),
            });
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "limits.max_connections",
                message: "must be at least 1".into(),
            });
        }
        if self.limits.max_message_size < 1024 || self.limits.max_message_size > i32::MAX as usize {
            return Err(ConfigError::Invalid {
                key: "limits.max_message_size",
                message: format!("must be between 1024 and {} bytes", i32::MAX),
            });
        }
        if self.limits.startup_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                key: "limits.startup_timeout",
                message: "must be positive".into(),
            });
        }
        if self.upstream.host.is_empty() {
            return Err(ConfigError::Invalid {
                key: "upstream.host",
                message: "must not be empty".into(),
            });
        }
        Ok(())
    }

    /// The credential the catalog connection logs in with: `catalog.user`, or
    /// else the service account pgward-held authentication already uses.
    pub fn catalog_credential(&self) -> Option<&ServiceCredential> {
        self.catalog.credential.as_ref().or(match &self.auth {
            AuthConfig::Passthrough => None,
            AuthConfig::Scram { service, .. } | AuthConfig::Jwt { service, .. } => Some(service),
        })
    }

    pub fn listen_addr(&self) -> SocketAddr {
        // validate() has checked it.
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 6432)))
    }
}

impl FileConfig {
    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(path) = p.as_mut() {
                if path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        };
        fix(&mut self.policy);
        if let Some(t) = self.tls.as_mut() {
            fix(&mut t.cert_file);
            fix(&mut t.key_file);
            fix(&mut t.client_ca_file);
        }
        if let Some(u) = self.upstream.as_mut().and_then(|u| u.tls.as_mut()) {
            fix(&mut u.ca_file);
        }
        if let Some(b) = self.branches.as_mut() {
            for u in b.fixed.values_mut() {
                if let Some(t) = u.tls.as_mut() {
                    fix(&mut t.ca_file);
                }
            }
        }
        if let Some(c) = self.catalog.as_mut() {
            fix(&mut c.password_file);
        }
        if let Some(a) = self.auth.as_mut() {
            fix(&mut a.users_file);
            fix(&mut a.jwks_file);
            fix(&mut a.upstream_password_file);
        }
        if let Some(m) = self.mcp.as_mut() {
            m.resolve_paths(dir);
        }
        if let Some(a) = self.audit.as_mut() {
            if a.spool_dir.is_relative() {
                a.spool_dir = dir.join(&a.spool_dir);
            }
        }
    }
}

/// Fixed branches and the template start from `upstream` (after flags and
/// environment are applied) and override what they set.
fn resolve_branches(b: FileBranches, base: &UpstreamConfig) -> Result<BranchesConfig, ConfigError> {
    let mut out = BranchesConfig {
        default_name: b.default.unwrap_or_else(|| "default".into()),
        fixed: Vec::new(),
        template: None,
    };
    for (name, u) in b.fixed {
        let mut cfg = base.clone();
        if let Some(h) = u.host {
            cfg.host = h;
        }
        if let Some(p) = u.port {
            cfg.port = p;
        }
        if let Some(t) = u.connect_timeout {
            cfg.connect_timeout = duration("branches.fixed.connect_timeout", &t)?;
        }
        if let Some(t) = u.tls {
            if let Some(m) = t.mode {
                cfg.tls_mode = m;
            }
            if t.ca_file.is_some() {
                cfg.ca_file = t.ca_file;
            }
            if t.server_name.is_some() {
                cfg.server_name = t.server_name;
            }
        }
        out.fixed.push((name, cfg));
    }
    if let Some(t) = b.template {
        if !t.host.contains("{branch}") {
            return Err(ConfigError::Invalid {
                key: "branches.template.host",
                message: format!("{:?} must contain {{branch}}", t.host),
            });
        }
        out.template = Some(BranchTemplate {
            host: t.host,
            port: t.port.unwrap_or(base.port),
            names: t.names,
            base: base.clone(),
        });
    }
    Ok(out)
}

fn resolve_auth(a: FileAuth) -> Result<AuthConfig, ConfigError> {
    let invalid = |key: &'static str, message: &str| ConfigError::Invalid {
        key,
        message: message.to_owned(),
    };
    let mode = a.mode.unwrap_or_default();
    if mode == AuthMode::Passthrough {
        if a.users_file.is_some()
            || a.jwks_file.is_some()
            || a.jwt.is_some()
            || a.upstream_user.is_some()
        {
            return Err(invalid(
                "auth",
                "users_file, jwks_file, jwt and upstream_* apply only to mode scram or jwt",
            ));
        }
        return Ok(AuthConfig::Passthrough);
    }
    let user = a.upstream_user.ok_or_else(|| {
        invalid(
            "auth.upstream_user",
            "required: the account pgward logs in to the server as",
        )
    })?;
    let password = match (a.upstream_password_file, a.upstream_password_env) {
        (Some(f), None) => PasswordSource::File(f),
        (None, Some(e)) => PasswordSource::Env(e),
        _ => {
            return Err(invalid(
                "auth.upstream_password_file",
                "give exactly one of upstream_password_file or upstream_password_env",
            ))
        }
    };
    let service = ServiceCredential { user, password };
    match mode {
        AuthMode::Scram => Ok(AuthConfig::Scram {
            users_file: a
                .users_file
                .ok_or_else(|| invalid("auth.users_file", "required for mode scram"))?,
            service,
        }),
        _ => Ok(AuthConfig::Jwt {
            jwks_file: a
                .jwks_file
                .ok_or_else(|| invalid("auth.jwks_file", "required for mode jwt"))?,
            jwt: a
                .jwt
                .ok_or_else(|| invalid("auth.jwt", "required for mode jwt (issuer, audience)"))?,
            allow_without_tls: a.allow_tokens_without_tls.unwrap_or(false),
            service,
        }),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_saphyr::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut v = vec!["pgward", "serve"];
        v.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(v).expect("args").command {
            crate::cli::Command::Serve(a) => *a,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            "listen: 127.0.0.1:7000\nupstream:\n  host: db\n  port: 5433\n  tls:\n    mode: require\nlimits:\n  idle_timeout: 0s\n  startup_timeout: 3s\n",
        )
        .expect("write");
        let c = Config::load(&args(&[
            "--config",
            path.to_str().expect("utf8"),
            "--upstream",
            "10.0.0.1:6000",
        ]))
        .expect("load");
        assert_eq!(c.listen, "127.0.0.1:7000");
        assert_eq!(
            (c.upstream.host.as_str(), c.upstream.port),
            ("10.0.0.1", 6000)
        );
        assert_eq!(c.upstream.tls_mode, UpstreamTlsMode::Require);
        assert_eq!(c.limits.idle_timeout, None);
        assert_eq!(c.limits.startup_timeout, Duration::from_secs(3));
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            "policy: ../policies/p.yaml\ntls:\n  cert_file: /abs/cert.pem\n  key_file: key.pem\n",
        )
        .expect("write");
        let c = Config::load(&args(&["--config", path.to_str().expect("utf8")])).expect("load");
        assert_eq!(c.policy, Some(dir.path().join("../policies/p.yaml")));
        let tls = c.client_tls.expect("tls");
        assert_eq!(tls.cert_file, PathBuf::from("/abs/cert.pem"));
        assert_eq!(tls.key_file, dir.path().join("key.pem"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "listen: 127.0.0.1:7000\nupstreams: {}\n").expect("write");
        let err = Config::load(&args(&["--config", path.to_str().expect("utf8")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("upstreams"), "{err}");
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("db:5433").expect("ok"), ("db".into(), 5433));
        assert_eq!(split_host_port("db").expect("ok"), ("db".into(), 5432));
        assert_eq!(
            split_host_port("[::1]:6000").expect("ok"),
            ("::1".into(), 6000)
        );
        assert!(split_host_port("db:notaport").is_err());
        assert!(split_host_port(":5432").is_err());
    }
}
