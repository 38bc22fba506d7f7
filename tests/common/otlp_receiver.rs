//! An in-process OTLP logs receiver for tests: gRPC (the generated
//! `LogsService`) and HTTP (`POST /v1/logs`, protobuf) on one loopback port,
//! told apart per connection by the HTTP/2 preface.
//!
//! It can be stopped for real (listener and every open connection closed, so
//! clients see connection refused or reset) and restarted on the same port,
//! and it lets tests wait for what it received through notifications rather
//! than sleeps.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tower::Service;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Grpc,
    Http,
}

/// One received log record, flattened for assertions.
#[derive(Clone, Debug)]
pub struct Received {
    pub via: Via,
    pub event_id: String,
    pub event_name: String,
    pub body: Value,
    pub severity_number: i32,
    pub severity_text: String,
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub attrs: BTreeMap<String, Value>,
    pub resource: BTreeMap<String, Value>,
    pub scope: String,
}

#[derive(Default)]
struct Shared {
    records: Mutex<Vec<Received>>,
    /// Metric exports, as received (usage metrics).
    metrics: Mutex<Vec<(Via, ExportMetricsServiceRequest)>>,
    changed: Notify,
}

impl Shared {
    fn record_metrics(&self, req: ExportMetricsServiceRequest, via: Via) {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((via, req));
        self.changed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Received>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, req: ExportLogsServiceRequest, via: Via) {
        let mut out = Vec::new();
        for rl in req.resource_logs {
            let resource = rl
                .resource
                .map(|r| flatten(&r.attributes))
                .unwrap_or_default();
            for sl in rl.scope_logs {
                let scope = sl.scope.map(|s| s.name).unwrap_or_default();
                for lr in sl.log_records {
                    let attrs = flatten(&lr.attributes);
                    let event_id = attrs
                        .get("pgward.event.id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    out.push(Received {
                        via,
                        event_id,
                        event_name: lr.event_name,
                        body: lr.body.as_ref().map(any_to_json).unwrap_or(Value::Null),
                        severity_number: lr.severity_number,
                        severity_text: lr.severity_text,
                        time_unix_nano: lr.time_unix_nano,
                        observed_time_unix_nano: lr.observed_time_unix_nano,
                        attrs,
                        resource: resource.clone(),
                        scope: scope.clone(),
                    });
                }
            }
        }
        self.lock().extend(out);
        self.changed.notify_waiters();
    }
}

fn any_to_json(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::from(s.as_str()),
        Some(any_value::Value::BoolValue(b)) => Value::from(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(any_to_json).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            Value::Object(flatten(&kv.values).into_iter().collect())
        }
        Some(any_value::Value::BytesValue(b)) => Value::from(b.clone()),
        Some(any_value::Value::StringValueStrindex(i)) => Value::from(*i),
        None => Value::Null,
    }
}

fn flatten(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(any_to_json).unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[derive(Clone)]
struct Grpc(Arc<Shared>);

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.0.record(request.into_inner(), Via::Grpc);
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

struct GrpcMetrics(Arc<Shared>);

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.record_metrics(request.into_inner(), Via::Grpc);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

type Resp = http::Response<tonic::body::Body>;

fn plain(status: u16, body: &'static str) -> Resp {
    let mut r = http::Response::new(tonic::body::Body::new(Full::new(Bytes::from_static(
        body.as_bytes(),
    ))));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

async fn handle(
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
) -> Result<Resp, std::convert::Infallible> {
    if req.uri().path() == "/v1/logs" {
        if req.method() != http::Method::POST {
            return Ok(plain(405, "POST only"));
        }
        let is_proto = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/x-protobuf");
        if !is_proto {
            return Ok(plain(415, "application/x-protobuf only"));
        }
        let Ok(body) = Limited::new(req.into_body(), 64 << 20).collect().await else {
            return Ok(plain(400, "unreadable body"));
        };
        let Ok(decoded) = ExportLogsServiceRequest::decode(body.to_bytes()) else {
            return Ok(plain(400, "not an ExportLogsServiceRequest"));
        };
        shared.record(decoded, Via::Http);
        let mut r = http::Response::new(tonic::body::Body::new(Full::new(Bytes::from(
            ExportLogsServiceResponse::default().encode_to_vec(),
        ))));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-protobuf"),
        );
        return Ok(r);
    }
    if req.uri().path() == "/v1/metrics" {
        let Ok(body) = Limited::new(req.into_body(), 64 << 20).collect().await else {
            return Ok(plain(400, "unreadable body"));
        };
        let Ok(decoded) = ExportMetricsServiceRequest::decode(body.to_bytes()) else {
            return Ok(plain(400, "not an ExportMetricsServiceRequest"));
        };
        shared.record_metrics(decoded, Via::Http);
        return Ok(plain(200, ""));
    }
    if req.uri().path().contains("MetricsService") {
        let mut svc = MetricsServiceServer::new(GrpcMetrics(shared));
        return match svc.call(req).await {
            Ok(r) => Ok(r),
            Err(never) => match never {},
        };
    }
    let mut svc = LogsServiceServer::new(Grpc(shared));
    match svc.call(req).await {
        Ok(r) => Ok(r),
        Err(never) => match never {},
    }
}

pub struct OtlpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts on a free loopback port.
    pub async fn start() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let server = Some(tokio::spawn(serve(listener, shared.clone())));
        OtlpReceiver {
            addr,
            shared,
            server,
        }
    }

    /// The address for gRPC sinks.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base address for HTTP sinks (`/v1/logs` is appended by the sink).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the listener and every open connection.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            // Dropping the accept task drops its listener and its JoinSet,
            // which aborts every connection task.
            let _ = server.await;
        }
    }

    /// Listens again on the same port, keeping what was received so far.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind the same port");
        self.server = Some(tokio::spawn(serve(listener, self.shared.clone())));
    }

    pub fn records(&self) -> Vec<Received> {
        self.shared.lock().clone()
    }

    /// Metric exports received so far.
    pub fn metric_exports(&self) -> Vec<(Via, ExportMetricsServiceRequest)> {
        self.shared
            .metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `pred` holds over the metric exports; false on timeout.
    pub async fn wait_for_metrics(
        &self,
        mut pred: impl FnMut(&[(Via, ExportMetricsServiceRequest)]) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&self.metric_exports()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&self.metric_exports());
            }
        }
    }

    pub fn clear(&self) {
        self.shared.lock().clear();
    }

    /// Waits until `pred` holds over everything received; false on timeout.
    pub async fn wait_for(
        &self,
        mut pred: impl FnMut(&[Received]) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&self.shared.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&self.shared.lock());
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            s.abort();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}
