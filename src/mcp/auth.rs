//! Who is calling a tool. Over stdio the identity is configured (a user and
//! a password, or a bearer token in auth mode jwt); over HTTP it is the
//! bearer token of each request, validated here against the same key set,
//! issuer and audience as pgward's JWT login. Either way the credential is
//! then presented again as the password of the in-process PostgreSQL login,
//! so pgward's session verifies it on its usual path and picks the profile.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::auth::client_login::Secret;
use crate::auth::jwt::{JwtError, JwtValidator};
use crate::auth::local::LocalAuth;
use crate::policy::{Identity, UserName};
use crate::shared::Shared;

use super::config::{McpConfig, PasswordRef, DEFAULT_PASSWORD_ENV};
use super::error::McpError;

/// How the agent reached pgward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
        }
    }
}

/// One caller's identity, as the in-process session will see it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: String,
    /// Password (or token) for the in-process login.
    pub secret: Secret,
    /// Groups and claims pgward knows before the login (token, users file).
    pub groups: Vec<String>,
    pub claims: BTreeMap<String, Vec<String>>,
    /// Where the agent is: the HTTP peer, or loopback for a stdio child process.
    pub peer: SocketAddr,
    pub transport: Transport,
}

impl Caller {
    /// The identity the session builds for this caller running `tool`
    /// (application_name `mcp/<tool>`), for policy questions asked without a
    /// session (which tools to offer, whoami).
    pub fn identity(&self, tool: &str) -> Identity {
        Identity {
            user: Some(UserName::new(self.user.clone())),
            application: Some(application_name(tool)),
            client_addr: Some(self.peer.ip()),
            groups: self.groups.clone(),
            claims: self.claims.clone(),
            tls_subject: None,
        }
    }
}

/// The application_name a tool's session runs under: the stamp, the audit
/// events and the usage metrics name the tool by it.
pub fn application_name(tool: &str) -> String {
    format!("mcp/{tool}")
}

/// Loopback address standing for a stdio agent (a child process of its host).
pub const STDIO_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// The stdio agent's identity from the config, the environment and `--user`.
pub fn stdio_caller(
    shared: &Shared,
    cfg: &McpConfig,
    user: Option<String>,
) -> Result<Caller, McpError> {
    let secret = match &cfg.password {
        Some(PasswordRef::File(p)) => Secret::from_file(p),
        Some(PasswordRef::Env(v)) => Secret::from_env(v),
        None => Secret::from_env(DEFAULT_PASSWORD_ENV),
    }
    .map_err(|e| {
        McpError::NoIdentity(format!(
            "the agent's password (or token): {e}; set {DEFAULT_PASSWORD_ENV} or mcp.password_file"
        ))
    })?;
    let user = user.or_else(|| cfg.user.clone());
    let mut caller = Caller {
        user: user.clone().unwrap_or_default(),
        secret,
        groups: Vec::new(),
        claims: BTreeMap::new(),
        peer: STDIO_PEER,
        transport: Transport::Stdio,
    };
    match shared.local_auth.as_ref().map(|l| &l.method) {
        Some(LocalAuth::Jwt { validator, .. }) => {
            let t = validator
                .validate_now(caller.secret.expose())
                .map_err(|e| McpError::NoIdentity(format!("the configured token: {e}")))?;
            if let Some(u) = &user {
                if *u != t.user {
                    return Err(McpError::NoIdentity(format!(
                        "the configured token is for \"{}\", not for user \"{u}\"",
                        t.user
                    )));
                }
            }
            caller.user = t.user;
            caller.groups = t.groups;
            caller.claims = t.claims;
        }
        Some(LocalAuth::Scram { users, .. }) => {
            if let Some(entry) = users.lookup(&caller.user) {
                caller.groups = entry.groups.clone();
            }
        }
        None => {}
    }
    if caller.user.is_empty() {
        return Err(McpError::NoIdentity(
            "no user: set mcp.user, PGWARD_MCP_USER or --user".into(),
        ));
    }
    Ok(caller)
}

/// Why a bearer token was not accepted, as the `WWW-Authenticate` challenge says it.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("no bearer token")]
    Missing,
    #[error("{0}")]
    Invalid(String),
}

/// Validates an `Authorization` header value and builds the caller.
pub fn bearer_caller(
    validator: &JwtValidator,
    header: Option<&str>,
    peer: SocketAddr,
) -> Result<Caller, BearerError> {
    let header = header.ok_or(BearerError::Missing)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or(BearerError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim();
    let t = validator.validate_now(token).map_err(|e| {
        BearerError::Invalid(
            match e {
                JwtError::Expired => "the token has expired",
                JwtError::NotYetValid => "the token is not valid yet",
                JwtError::WrongAudience => "the token is for another audience",
                JwtError::WrongIssuer => "the token comes from an unexpected issuer",
                JwtError::BadSignature | JwtError::UnknownKey => {
                    "the token's signature is not valid"
                }
                _ => "the token is not acceptable",
            }
            .to_owned(),
        )
    })?;
    let secret = Secret::new(token).map_err(|e| BearerError::Invalid(e.to_string()))?;
    Ok(Caller {
        user: t.user,
        secret,
        groups: t.groups,
        claims: t.claims,
        peer,
        transport: Transport::Http,
    })
}
