//! The `mcp:` section of the configuration file: what the tools may return,
//! who a stdio agent is, and the Streamable HTTP listener.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file model (`deny_unknown_fields`, like every other section).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMcp {
    /// Database the tools connect to (default: the caller's user name, as in PostgreSQL).
    pub database: Option<String>,
    /// Most rows one call returns; a call may ask for fewer.
    pub max_rows: Option<usize>,
    /// Most bytes of values one call returns before its rows are cut.
    pub max_result_bytes: Option<usize>,
    /// Statement timeout of a call that names none.
    pub statement_timeout: Option<String>,
    /// Longest statement timeout a call may ask for.
    pub max_statement_timeout: Option<String>,
    /// Tool calls running at once (each holds a server connection); more wait.
    pub max_concurrent_calls: Option<usize>,
    /// The stdio agent's user (`pgward mcp`); `PGWARD_MCP_USER` and `--user` override it.
    pub user: Option<String>,
    /// The stdio agent's password (a bearer token in auth mode jwt), from a file ...
    pub password_file: Option<PathBuf>,
    /// ... or from this environment variable (default `PGWARD_MCP_PASSWORD`).
    pub password_env: Option<String>,
    pub http: Option<FileMcpHttp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMcpHttp {
    /// Address of the Streamable HTTP listener, e.g. `127.0.0.1:8808`.
    pub listen: Option<String>,
    /// The endpoint's canonical URL as agents reach it (protected resource metadata).
    pub resource: Option<String>,
    /// Authorization servers agents get tokens from (default: `auth.jwt.issuer`).
    pub authorization_servers: Option<Vec<String>>,
    /// `Host` header values accepted (DNS rebinding protection; default: loopback names).
    pub allowed_hosts: Option<Vec<String>>,
}

/// Resolved settings.
#[derive(Clone, Debug)]
pub struct McpConfig {
    pub database: Option<String>,
    pub max_rows: usize,
    pub max_result_bytes: usize,
    pub statement_timeout: Duration,
    pub max_statement_timeout: Duration,
    pub max_concurrent_calls: usize,
    pub user: Option<String>,
    pub password: Option<PasswordRef>,
    pub http: Option<McpHttpConfig>,
}

/// Where the stdio agent's password comes from.
#[derive(Clone, Debug)]
pub enum PasswordRef {
    File(PathBuf),
    Env(String),
}

#[derive(Clone, Debug)]
pub struct McpHttpConfig {
    pub listen: SocketAddr,
    /// `None`: `http://<listen>/mcp`.
    pub resource: Option<String>,
    pub authorization_servers: Vec<String>,
    pub allowed_hosts: Vec<String>,
}

/// Environment variable read for the stdio password when the file names none.
pub const DEFAULT_PASSWORD_ENV: &str = "PGWARD_MCP_PASSWORD";
/// Path of the MCP endpoint on the HTTP listener.
pub const MCP_PATH: &str = "/mcp";
/// Where the protected resource metadata is served (RFC 9728, with the
/// endpoint's path appended as the MCP authorization spec describes).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            database: None,
            max_rows: 1000,
            max_result_bytes: 1 << 20,
            statement_timeout: Duration::from_secs(30),
            max_statement_timeout: Duration::from_secs(300),
            max_concurrent_calls: 32,
            user: None,
            password: None,
            http: None,
        }
    }
}

/// A problem in the `mcp:` section: the key and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("invalid {key}: {message}")]
pub struct McpConfigError {
    pub key: &'static str,
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> McpConfigError {
    McpConfigError {
        key,
        message: message.into(),
    }
}

fn duration(key: &'static str, s: &str) -> Result<Duration, McpConfigError> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| invalid(key, format!("{s:?} is not a duration like 30s ({e})")))?;
    if d.is_zero() {
        return Err(invalid(key, "must be positive"));
    }
    Ok(d)
}

impl FileMcp {
    /// Relative paths are relative to the config file.
    pub fn resolve_paths(&mut self, dir: &Path) {
        if let Some(p) = self.password_file.as_mut() {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }

    pub fn resolve(self) -> Result<McpConfig, McpConfigError> {
        let mut c = McpConfig {
            database: self.database,
            ..McpConfig::default()
        };
        if let Some(n) = self.max_rows {
            if n == 0 {
                return Err(invalid("mcp.max_rows", "must be at least 1"));
            }
            c.max_rows = n;
        }
        if let Some(n) = self.max_result_bytes {
            if n < 1024 {
                return Err(invalid("mcp.max_result_bytes", "must be at least 1024"));
            }
            c.max_result_bytes = n;
        }
        if let Some(n) = self.max_concurrent_calls {
            if n == 0 {
                return Err(invalid("mcp.max_concurrent_calls", "must be at least 1"));
            }
            c.max_concurrent_calls = n;
        }
        if let Some(s) = self.statement_timeout {
            c.statement_timeout = duration("mcp.statement_timeout", &s)?;
        }
        if let Some(s) = self.max_statement_timeout {
            c.max_statement_timeout = duration("mcp.max_statement_timeout", &s)?;
        }
        if c.statement_timeout > c.max_statement_timeout {
            return Err(invalid(
                "mcp.statement_timeout",
                "must not exceed mcp.max_statement_timeout",
            ));
        }
        c.user = self.user;
        c.password = match (self.password_file, self.password_env) {
            (Some(f), None) => Some(PasswordRef::File(f)),
            (None, Some(e)) => Some(PasswordRef::Env(e)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "mcp.password_file",
                    "give at most one of password_file or password_env",
                ))
            }
        };
        if let Some(h) = self.http {
            let listen = h
                .listen
                .ok_or_else(|| invalid("mcp.http.listen", "required to enable the listener"))?;
            let listen: SocketAddr = listen.parse().map_err(|e| {
                invalid(
                    "mcp.http.listen",
                    format!("{listen:?} is not an address like 127.0.0.1:8808 ({e})"),
                )
            })?;
            if let Some(r) = &h.resource {
                if !(r.starts_with("https://") || r.starts_with("http://")) || r.contains('#') {
                    return Err(invalid(
                        "mcp.http.resource",
                        format!("{r:?} must be an http(s) URL without a fragment"),
                    ));
                }
            }
            c.http = Some(McpHttpConfig {
                listen,
                resource: h.resource,
                authorization_servers: h.authorization_servers.unwrap_or_default(),
                allowed_hosts: h
                    .allowed_hosts
                    .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]),
            });
        }
        Ok(c)
    }
}

impl McpHttpConfig {
    /// The endpoint's canonical URL.
    pub fn resource_url(&self, bound: SocketAddr) -> String {
        match &self.resource {
            Some(r) => r.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}{MCP_PATH}"),
        }
    }

    /// The protected resource metadata URL for `resource` (RFC 9728 section
    /// 3.1: the well-known path goes between the host and the resource's path).
    pub fn metadata_url(resource: &str) -> String {
        let (scheme, rest) = resource.split_once("://").unwrap_or(("http", resource));
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        format!("{scheme}://{authority}{METADATA_PATH}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let c = FileMcp::default().resolve().expect("defaults");
        assert_eq!(c.max_rows, 1000);
        assert!(c.http.is_none());
        let bad = FileMcp {
            statement_timeout: Some("10m".into()),
            ..FileMcp::default()
        };
        assert!(bad.resolve().is_err());
        let bad = FileMcp {
            http: Some(FileMcpHttp::default()),
            ..FileMcp::default()
        };
        assert_eq!(bad.resolve().expect_err("listen").key, "mcp.http.listen");
    }

    #[test]
    fn metadata_url_inserts_the_well_known_path() {
        assert_eq!(
            McpHttpConfig::metadata_url("https://db.example.com/mcp"),
            "https://db.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            McpHttpConfig::metadata_url("http://127.0.0.1:8808"),
            "http://127.0.0.1:8808/.well-known/oauth-protected-resource"
        );
    }
}
