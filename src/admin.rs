//! The admin listener: `/metrics` (Prometheus), `/healthz` (the process
//! answers) and `/readyz` (pgward can serve a client now). Separate from
//! the PostgreSQL listener so that probes and scrapes never count against
//! `limits.max_connections` and can be firewalled apart.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::shared::Shared;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen on {addr} (admin): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Binds the admin listener and serves it until `stop` is cancelled.
pub async fn start(
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> Result<Option<SocketAddr>, AdminError> {
    let Some(cfg) = shared.config.admin.clone() else {
        return Ok(None);
    };
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| AdminError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| AdminError::Bind {
        addr: cfg.listen,
        source,
    })?;
    tokio::spawn(check_upstream(
        Arc::clone(&shared),
        cfg.upstream_check_interval,
        stop.clone(),
    ));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(error = %e, "admin accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.cancelled() => return,
            };
            let shared = Arc::clone(&shared);
            let interval = cfg.upstream_check_interval;
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, std::convert::Infallible>(answer(&req, &shared, interval)) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc);
                if let Err(e) = conn.await {
                    debug!(error = %e, "admin connection ended");
                }
            });
        }
    });
    Ok(Some(local))
}

fn answer(req: &Request<Incoming>, shared: &Shared, interval: Duration) -> Response<Full<Bytes>> {
    let ready = shared.health.ready(interval);
    let (status, content_type, body) = match req.uri().path() {
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" if ready => (StatusCode::OK, "text/plain", "ready\n".to_owned()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready\n".to_owned(),
        ),
        "/metrics" => {
            let stats = shared.audit.as_ref().map(|a| a.stats());
            let body = match &shared.usage {
                Some(u) => crate::metrics::render::render(u, stats.as_ref(), ready),
                None => String::new(),
            };
            (StatusCode::OK, crate::metrics::render::CONTENT_TYPE, body)
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// Connects to the upstream (TCP only: no startup packet, so the server
/// logs nothing) every `interval`.
async fn check_upstream(shared: Arc<Shared>, interval: Duration, stop: CancellationToken) {
    let addr = (
        shared.config.upstream.host.clone(),
        shared.config.upstream.port,
    );
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let ok = matches!(
            tokio::time::timeout(interval, tokio::net::TcpStream::connect(addr.clone())).await,
            Ok(Ok(_))
        );
        shared.health.note_upstream(ok);
    }
}
