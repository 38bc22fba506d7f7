//! The Streamable HTTP transport on a listener of pgward's (`mcp.http`),
//! an OAuth 2.1 protected resource per the MCP authorization spec:
//!
//! * `GET /.well-known/oauth-protected-resource[/mcp]`: the protected
//!   resource metadata (RFC 9728): the resource URL and the authorization
//!   servers that issue tokens for it.
//! * `/mcp`: the MCP endpoint. Every request must carry
//!   `Authorization: Bearer <token>`, validated against the key set, issuer
//!   and audience of `auth.jwt`; without one the answer is 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="..."` (plus
//!   `error="invalid_token"` for a token that is not accepted). The token is
//!   then the password of each tool call's in-process login, where pgward's
//!   JWT login checks it again and picks the profile from its claims.
//!
//! The endpoint runs stateless (no MCP session ids): each request is
//! authenticated on its own, so a token that expires stops working at once.

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;
use tracing::{debug, info, warn};

use super::auth::{bearer_caller, BearerError};
use super::config::{McpHttpConfig, MCP_PATH, METADATA_PATH};
use super::handler::Handler;
use crate::auth::jwt::JwtValidator;
use crate::auth::local::LocalAuth;
use crate::shared::Shared;

type Body = BoxBody<Bytes, Infallible>;

#[derive(Debug, thiserror::Error)]
pub enum HttpStartError {
    #[error("mcp.http needs auth.mode jwt: agents present OAuth bearer tokens, validated with auth.jwt and auth.jwks_file")]
    NeedsJwt,
    #[error("mcp.http.listen {0} is not a loopback address and pgward serves it without TLS: put a TLS-terminating proxy in front and set auth.allow_tokens_without_tls: true")]
    NeedsTls(SocketAddr),
    #[error("cannot listen on {addr} (mcp): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

struct Endpoint {
    validator: Arc<JwtValidator>,
    resource: String,
    metadata_url: String,
    metadata: Bytes,
    mcp: StreamableHttpService<Handler, NeverSessionManager>,
}

/// Binds the listener and serves it until `stop` is cancelled; `None` when
/// `mcp.http` is not configured.
pub async fn start(
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> Result<Option<SocketAddr>, HttpStartError> {
    let Some(cfg) = shared.config.mcp.http.clone() else {
        return Ok(None);
    };
    let (validator, allow_without_tls) = match shared.local_auth.as_ref().map(|l| &l.method) {
        Some(LocalAuth::Jwt {
            validator,
            allow_without_tls,
        }) => (Arc::clone(validator), *allow_without_tls),
        _ => return Err(HttpStartError::NeedsJwt),
    };
    if !allow_without_tls && !cfg.listen.ip().is_loopback() {
        return Err(HttpStartError::NeedsTls(cfg.listen));
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| HttpStartError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| HttpStartError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let endpoint = Arc::new(endpoint(
        &shared,
        &cfg,
        local,
        validator,
        stop.child_token(),
    ));
    info!(listen = %local, resource = %endpoint.resource, "MCP endpoint (Streamable HTTP) started");
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(error = %e, "MCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.cancelled() => return,
            };
            let endpoint = Arc::clone(&endpoint);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let endpoint = Arc::clone(&endpoint);
                    async move { Ok::<_, Infallible>(endpoint.answer(req, peer).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc);
                if let Err(e) = conn.await {
                    debug!(error = %e, "MCP connection ended");
                }
            });
        }
    });
    Ok(Some(local))
}

fn endpoint(
    shared: &Arc<Shared>,
    cfg: &McpHttpConfig,
    local: SocketAddr,
    validator: Arc<JwtValidator>,
    stop: CancellationToken,
) -> Endpoint {
    let resource = cfg.resource_url(local);
    let metadata_url = McpHttpConfig::metadata_url(&resource);
    let servers = if cfg.authorization_servers.is_empty() {
        match &shared.config.auth {
            crate::config::AuthConfig::Jwt { jwt, .. } => vec![jwt.issuer.clone()],
            _ => Vec::new(),
        }
    } else {
        cfg.authorization_servers.clone()
    };
    let metadata = json!({
        "resource": resource,
        "authorization_servers": servers,
        "bearer_methods_supported": ["header"],
        "resource_name": "pgward",
    });
    let handler_shared = Arc::clone(shared);
    let limit = Handler::call_limit(shared);
    let mcp = StreamableHttpService::new(
        move || {
            Ok(Handler::new(
                Arc::clone(&handler_shared),
                None,
                Arc::clone(&limit),
            ))
        },
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_allowed_hosts(cfg.allowed_hosts.clone())
            .with_cancellation_token(stop),
    );
    Endpoint {
        validator,
        metadata_url,
        metadata: Bytes::from(metadata.to_string()),
        resource,
        mcp,
    }
}

impl Endpoint {
    async fn answer(&self, mut req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if path == METADATA_PATH || path.starts_with(&format!("{METADATA_PATH}/")) {
            return simple(StatusCode::OK, "application/json", self.metadata.clone());
        }
        if path != MCP_PATH {
            return simple(
                StatusCode::NOT_FOUND,
                "text/plain",
                Bytes::from("not found\n"),
            );
        }
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match bearer_caller(&self.validator, auth, peer) {
            Ok(caller) => {
                req.extensions_mut().insert(Arc::new(caller));
                let mut svc = self.mcp.clone();
                match svc.call(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            }
            Err(e) => {
                if let BearerError::Invalid(reason) = &e {
                    info!(client = %peer, reason = %reason, "MCP request with an unacceptable token");
                }
                self.unauthorized(&e)
            }
        }
    }

    /// 401 with the challenge the MCP authorization spec asks for.
    fn unauthorized(&self, e: &BearerError) -> Response<Body> {
        let challenge = match e {
            BearerError::Missing => {
                format!("Bearer resource_metadata=\"{}\"", self.metadata_url)
            }
            BearerError::Invalid(reason) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{}\"",
                reason.replace(['"', '\\'], "'"),
                self.metadata_url
            ),
        };
        let body = json!({ "error": match e { BearerError::Missing => "unauthorized", BearerError::Invalid(_) => "invalid_token" }, "error_description": e.to_string() });
        let mut r = simple(
            StatusCode::UNAUTHORIZED,
            "application/json",
            Bytes::from(body.to_string()),
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

fn simple(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
