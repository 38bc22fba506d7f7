//! A local OTLP/gRPC receiver for benchmarks: it decodes every logs and
//! metrics export (as a collector would) and counts what it got, nothing
//! more, so the production setup in `benches/pgbench-compare.sh` ships its
//! audit trail somewhere real without a collector's own cost on the cores.
//!
//!   cargo run --release --example otlp_sink -- 127.0.0.1:4317
//!
//! Prints `otlp-sink listening on ADDR` once it accepts connections, and on
//! SIGTERM or Ctrl-C the totals: `otlp-sink logs=N exports=E metric_exports=M`.

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tower::Service;

#[derive(Default)]
struct Counts {
    logs: AtomicU64,
    exports: AtomicU64,
    metric_exports: AtomicU64,
}

#[derive(Clone)]
struct Logs(Arc<Counts>);

#[tonic::async_trait]
impl LogsService for Logs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let records: usize = request
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        self.0.logs.fetch_add(records as u64, Ordering::Relaxed);
        self.0.exports.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[derive(Clone)]
struct Metrics(Arc<Counts>);

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn export(
        &self,
        _request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.metric_exports.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn totals(c: &Counts) -> String {
    format!(
        "otlp-sink logs={} exports={} metric_exports={}",
        c.logs.load(Ordering::Relaxed),
        c.exports.load(Ordering::Relaxed),
        c.metric_exports.load(Ordering::Relaxed)
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4317".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("otlp-sink listening on {}", listener.local_addr()?);
    let counts = Arc::new(Counts::default());
    let mut term = signal(SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let counts = counts.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<_>| {
                let counts = counts.clone();
                async move {
                    if req.uri().path().contains("MetricsService") {
                        MetricsServiceServer::new(Metrics(counts)).call(req).await
                    } else {
                        LogsServiceServer::new(Logs(counts)).call(req).await
                    }
                }
            });
            // A connection that ends badly only ends that connection.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    println!("{}", totals(&counts));
    Ok(())
}
