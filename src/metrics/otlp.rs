//! The usage metrics pushed to an OTLP collector, from the same counters the
//! `/metrics` page renders, so both views always agree. Every interval the
//! counters are sent as cumulative sums (and open sessions as a gauge); a
//! failed push is logged and the next one carries the totals again, so a
//! collector outage loses resolution, never counts.

use bytes::Bytes;
use http_body_util::Full;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, warn};

use super::{Labels, Usage};
use crate::audit::otlp::{http_client, signal_url, HttpClient};
use crate::config::MetricsOtlpConfig;

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn attributes(l: &Labels, per_user: bool, with_tool: bool) -> Vec<KeyValue> {
    let mut v = vec![
        kv("pgward.branch", &l.branch),
        kv("pgward.profile", &l.profile),
    ];
    if with_tool {
        v.push(kv("pgward.tool", &l.tool));
    }
    if per_user {
        v.push(kv("user.name", &l.user));
    }
    v
}

fn point(attrs: Vec<KeyValue>, start: u64, now: u64, value: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsInt(value)),
        ..NumberDataPoint::default()
    }
}

fn sum(name: &str, unit: &str, description: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The export request for the counters as they are now.
pub fn request(usage: &Usage, instance: &str, start: SystemTime) -> ExportMetricsServiceRequest {
    let (start, now) = (nanos(start), nanos(SystemTime::now()));
    let per_user = usage.per_user();
    let statements = usage.statement_snapshot();
    type Get = fn(&super::StatementCounters) -> u64;
    let families: [(&str, &str, &str, Get); 8] = [
        (
            "pgward.statements",
            "{statement}",
            "statements completed",
            |c| c.statements.load(Ordering::Relaxed),
        ),
        (
            "pgward.statements.denied",
            "{statement}",
            "statements denied by the policy",
            |c| c.denied.load(Ordering::Relaxed),
        ),
        (
            "pgward.statement.errors",
            "{statement}",
            "statements ended by a server error",
            |c| c.errors.load(Ordering::Relaxed),
        ),
        (
            "pgward.statements.masked",
            "{statement}",
            "statements whose results were masked",
            |c| c.masked.load(Ordering::Relaxed),
        ),
        ("pgward.rows", "{row}", "rows returned or affected", |c| {
            c.rows.load(Ordering::Relaxed)
        }),
        (
            "pgward.request.bytes",
            "By",
            "request bytes, client to server",
            |c| c.bytes_in.load(Ordering::Relaxed),
        ),
        (
            "pgward.response.bytes",
            "By",
            "reply bytes, server to client",
            |c| c.bytes_out.load(Ordering::Relaxed),
        ),
        (
            "pgward.server.busy",
            "ns",
            "server time spent on statements",
            |c| c.busy_ns.load(Ordering::Relaxed),
        ),
    ];
    let mut metrics: Vec<Metric> = families
        .iter()
        .map(|(name, unit, description, get)| {
            let points = statements
                .iter()
                .map(|(l, c)| point(attributes(l, per_user, true), start, now, clamp(get(c))))
                .collect();
            sum(name, unit, description, points)
        })
        .collect();
    let sessions = usage.session_snapshot();
    metrics.push(sum(
        "pgward.sessions",
        "{session}",
        "sessions started",
        sessions
            .iter()
            .map(|(l, c)| {
                point(
                    attributes(l, per_user, false),
                    start,
                    now,
                    clamp(c.total.load(Ordering::Relaxed)),
                )
            })
            .collect(),
    ));
    metrics.push(Metric {
        name: "pgward.sessions.open".into(),
        description: "sessions open now".into(),
        unit: "{session}".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: sessions
                .iter()
                .map(|(l, c)| {
                    point(
                        attributes(l, per_user, false),
                        start,
                        now,
                        clamp(c.open.load(Ordering::Relaxed)),
                    )
                })
                .collect(),
        })),
        ..Metric::default()
    });
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "pgward"),
                    kv("service.instance.id", instance),
                ],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "pgward.usage".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

enum Push {
    Grpc(MetricsServiceClient<Channel>),
    Http(Box<HttpClient>, http::Uri),
}

impl Push {
    fn new(cfg: &MetricsOtlpConfig) -> Result<Push, String> {
        if cfg.http {
            let uri: http::Uri = signal_url(&cfg.endpoint, "/v1/metrics")
                .parse()
                .map_err(|e| format!("metrics.otlp.endpoint {:?}: {e}", cfg.endpoint))?;
            let client = http_client().map_err(|e| format!("TLS roots: {e}"))?;
            Ok(Push::Http(Box::new(client), uri))
        } else {
            let ep = Endpoint::from_shared(cfg.endpoint.clone())
                .map_err(|e| format!("metrics.otlp.endpoint {:?}: {e}", cfg.endpoint))?
                .connect_timeout(cfg.timeout)
                .timeout(cfg.timeout);
            Ok(Push::Grpc(MetricsServiceClient::new(ep.connect_lazy())))
        }
    }

    async fn send(&self, req: ExportMetricsServiceRequest) -> Result<(), String> {
        match self {
            Push::Grpc(client) => {
                let mut c = client.clone();
                c.export(req).await.map(|_| ()).map_err(|s| s.to_string())
            }
            Push::Http(client, uri) => {
                let request = http::Request::post(uri.clone())
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Full::new(Bytes::from(req.encode_to_vec())))
                    .map_err(|e| e.to_string())?;
                let resp = client.request(request).await.map_err(|e| e.to_string())?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("HTTP {}", resp.status()))
                }
            }
        }
    }
}

/// Starts the periodic push; the task ends with the process.
pub fn spawn(usage: Arc<Usage>, cfg: MetricsOtlpConfig, instance: String) -> Result<(), String> {
    let push = Push::new(&cfg)?;
    let start = SystemTime::now();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let req = request(&usage, &instance, start);
            match tokio::time::timeout(cfg.timeout, push.send(req)).await {
                Ok(Ok(())) => debug!("usage metrics pushed"),
                Ok(Err(e)) => {
                    warn!(endpoint = %cfg.endpoint, error = %e, "usage metrics push failed; the next push carries the totals")
                }
                Err(_) => {
                    warn!(endpoint = %cfg.endpoint, timeout = ?cfg.timeout, "usage metrics push timed out")
                }
            }
        }
    });
    Ok(())
}
