//! Audit events as OTLP logs, and the two OTLP transports (gRPC, HTTP with
//! protobuf bodies).
//!
//! Built on the generated protocol types rather than the OpenTelemetry SDK's
//! log pipeline: the SDK's batch processor discards records when its queue
//! is full and at shutdown, and acknowledges nothing back to the caller, so
//! it cannot drive a spool cursor. Here a request either succeeds, and the
//! cursor moves, or fails, and the same events are sent again.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::config::OtlpSinkConfig;
use super::event::{attr, AttrRef, AttrValue, AuditEvent};
use super::otlp_wire::severity;
pub use super::otlp_wire::{ResourceInfo, SCOPE_NAME};
pub use super::request::EncodedLogs;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// Largest response body read from an HTTP receiver.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn str_value(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_string())
}

fn to_any(v: &AttrValue) -> any_value::Value {
    match v.view() {
        AttrRef::Bool(b) => any_value::Value::BoolValue(b),
        AttrRef::Int(i) => any_value::Value::IntValue(i),
        AttrRef::Str(s) => str_value(s),
        AttrRef::StrArray(items) => any_value::Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|s| AnyValue {
                    value: Some(str_value(s)),
                })
                .collect(),
        }),
    }
}

pub fn to_log_record(ev: &AuditEvent) -> LogRecord {
    let (number, text) = severity(ev);
    let mut attributes = Vec::with_capacity(ev.attr_count() + 1);
    attributes.push(kv(attr::EVENT_ID, str_value(ev.id.as_str())));
    attributes.extend(ev.all_attrs().map(|(k, v)| kv(k, to_any(v))));
    LogRecord {
        time_unix_nano: ev.ts,
        // pgward is the source, so it observes the event when it happens.
        observed_time_unix_nano: ev.ts,
        severity_number: number as i32,
        severity_text: text.to_string(),
        body: Some(AnyValue {
            value: Some(str_value(ev.kind.as_str())),
        }),
        attributes,
        event_name: ev.kind.event_name().to_string(),
        ..LogRecord::default()
    }
}

pub fn to_request(events: &[AuditEvent], res: &ResourceInfo) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", str_value("pgward")),
                    kv("service.instance.id", str_value(&res.service_instance_id)),
                    kv("service.version", str_value(env!("CARGO_PKG_VERSION"))),
                ],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..InstrumentationScope::default()
                }),
                log_records: events.iter().map(to_log_record).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("invalid OTLP endpoint {endpoint:?}: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("invalid OTLP header {name:?}")]
    Header { name: String },
    #[error("gRPC export failed: {0}")]
    Grpc(#[from] Box<tonic::Status>),
    #[error("HTTP export failed: {0}")]
    Http(String),
    #[error("HTTP export answered {status}: {body}")]
    HttpStatus { status: u16, body: String },
    #[error("export timed out after {0:?}")]
    Timeout(Duration),
}

/// A successful export; `rejected` is the receiver's partial-success count:
/// records it accepted the request for but will not keep. Resending would
/// not change its mind, so these are counted, not retried.
#[derive(Debug, Default)]
pub struct Exported {
    pub rejected: i64,
    pub message: String,
}

fn exported(resp: ExportLogsServiceResponse) -> Exported {
    match resp.partial_success {
        Some(p) => Exported {
            rejected: p.rejected_log_records,
            message: p.error_message,
        },
        None => Exported::default(),
    }
}

pub type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

pub enum Transport {
    Grpc {
        client: tonic::client::Grpc<Channel>,
        headers: Arc<
            Vec<(
                MetadataKey<tonic::metadata::Ascii>,
                MetadataValue<tonic::metadata::Ascii>,
            )>,
        >,
        timeout: Duration,
    },
    Http {
        /// Boxed: the pooled client is several times the size of a channel.
        client: Box<HttpClient>,
        uri: http::Uri,
        headers: Arc<Vec<(http::HeaderName, http::HeaderValue)>>,
        timeout: Duration,
    },
}

fn bad_endpoint(endpoint: &str, message: impl ToString) -> ExportError {
    ExportError::Endpoint {
        endpoint: endpoint.to_string(),
        message: message.to_string(),
    }
}

/// `<endpoint>/v1/logs`, unless the endpoint already names that path.
pub fn http_logs_url(endpoint: &str) -> String {
    signal_url(endpoint, "/v1/logs")
}

/// `<endpoint><path>` for an OTLP/HTTP signal path, unless the endpoint
/// already ends with it.
pub fn signal_url(endpoint: &str, path: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.ends_with(path) {
        trimmed.to_string()
    } else {
        format!("{trimmed}{path}")
    }
}

/// The HTTP/1.1 client OTLP/HTTP exports use: rustls with the ring provider
/// and the platform's roots for https.
pub fn http_client() -> Result<HttpClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

/// The export call's codec. Its encoder sizes tonic's buffer for the whole
/// request before writing the parts: prost's own would let the buffer
/// double its way up to the request's size, copying it at every step.
struct LogsCodec;

struct LogsEncoder;

impl tonic::codec::Encoder for LogsEncoder {
    type Item = EncodedLogs;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: EncodedLogs,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        buf.reserve(prost::Message::encoded_len(&item));
        prost::Message::encode_raw(&item, buf);
        Ok(())
    }
}

impl tonic::codec::Codec for LogsCodec {
    type Encode = EncodedLogs;
    type Decode = ExportLogsServiceResponse;
    type Encoder = LogsEncoder;
    type Decoder = tonic_prost::ProstDecoder<ExportLogsServiceResponse>;

    fn encoder(&mut self) -> LogsEncoder {
        LogsEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstCodec::<EncodedLogs, ExportLogsServiceResponse>::default().decoder()
    }
}

impl Transport {
    /// A gRPC transport. Connects lazily: a receiver that is down at start is
    /// the same situation as one that goes down later, handled by retries.
    pub fn grpc(cfg: &OtlpSinkConfig) -> Result<Transport, ExportError> {
        let mut ep = Endpoint::from_shared(cfg.endpoint.clone())
            .map_err(|e| bad_endpoint(&cfg.endpoint, e))?
            .connect_timeout(cfg.timeout)
            .timeout(cfg.timeout);
        if cfg.endpoint.starts_with("https://") {
            ep = ep
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|e| bad_endpoint(&cfg.endpoint, e))?;
        }
        let mut headers = Vec::new();
        for (k, v) in &cfg.headers {
            let name = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| ExportError::Header { name: k.clone() })?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|_| ExportError::Header { name: k.clone() })?;
            headers.push((name, value));
        }
        Ok(Transport::Grpc {
            client: tonic::client::Grpc::new(ep.connect_lazy()),
            headers: Arc::new(headers),
            timeout: cfg.timeout,
        })
    }

    /// An HTTP transport (HTTP/1.1, rustls with the ring provider and the
    /// platform's roots for https).
    pub fn http(cfg: &OtlpSinkConfig) -> Result<Transport, ExportError> {
        let url = http_logs_url(&cfg.endpoint);
        let uri: http::Uri = url.parse().map_err(|e| bad_endpoint(&cfg.endpoint, e))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => return Err(bad_endpoint(&cfg.endpoint, "scheme must be http or https")),
        }
        let client = http_client().map_err(|e| bad_endpoint(&cfg.endpoint, e))?;
        let mut headers = Vec::new();
        for (k, v) in &cfg.headers {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ExportError::Header { name: k.clone() })?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| ExportError::Header { name: k.clone() })?;
            headers.push((name, value));
        }
        Ok(Transport::Http {
            client: Box::new(client),
            uri,
            headers: Arc::new(headers),
            timeout: cfg.timeout,
        })
    }

    /// Sends one encoded request. The bytes are shared, not copied, per
    /// attempt: a retried batch costs no re-encoding.
    pub async fn export(&self, req: &EncodedLogs) -> Result<Exported, ExportError> {
        match self {
            Transport::Grpc {
                client,
                headers,
                timeout,
            } => {
                let mut request = tonic::Request::new(req.clone());
                for (k, v) in headers.iter() {
                    request.metadata_mut().insert(k.clone(), v.clone());
                }
                request.set_timeout(*timeout);
                let mut client = client.clone();
                let call = async move {
                    client.ready().await.map_err(|e| {
                        tonic::Status::unavailable(format!("OTLP receiver not ready: {e}"))
                    })?;
                    client
                        .unary(
                            request,
                            http::uri::PathAndQuery::from_static(EXPORT_PATH),
                            LogsCodec,
                        )
                        .await
                };
                match tokio::time::timeout(*timeout, call).await {
                    Err(_) => Err(ExportError::Timeout(*timeout)),
                    Ok(Err(status)) => Err(ExportError::Grpc(Box::new(status))),
                    Ok(Ok(resp)) => Ok(exported(resp.into_inner())),
                }
            }
            Transport::Http {
                client,
                uri,
                headers,
                timeout,
            } => {
                let mut builder = http::Request::post(uri.clone())
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf");
                for (k, v) in headers.iter() {
                    builder = builder.header(k, v);
                }
                let request = builder
                    .body(Full::new(req.to_bytes()))
                    .map_err(|e| ExportError::Http(e.to_string()))?;
                let call = async {
                    let resp = client
                        .request(request)
                        .await
                        .map_err(|e| ExportError::Http(e.to_string()))?;
                    let status = resp.status();
                    let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    if !status.is_success() {
                        return Err(ExportError::HttpStatus {
                            status: status.as_u16(),
                            body: String::from_utf8_lossy(&body[..body.len().min(512)])
                                .into_owned(),
                        });
                    }
                    // An empty or undecodable body still means success: the
                    // status code is the acknowledgement.
                    Ok(ExportLogsServiceResponse::decode(body)
                        .map(exported)
                        .unwrap_or_default())
                };
                match tokio::time::timeout(*timeout, call).await {
                    Err(_) => Err(ExportError::Timeout(*timeout)),
                    Ok(r) => r,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::EventKind;
    use opentelemetry_proto::tonic::logs::v1::SeverityNumber;

    #[test]
    fn url_gets_the_logs_path_once() {
        assert_eq!(http_logs_url("http://c:4318"), "http://c:4318/v1/logs");
        assert_eq!(http_logs_url("http://c:4318/"), "http://c:4318/v1/logs");
        assert_eq!(
            http_logs_url("http://c:4318/v1/logs"),
            "http://c:4318/v1/logs"
        );
        assert_eq!(http_logs_url("http://c/otlp"), "http://c/otlp/v1/logs");
    }

    #[test]
    fn record_carries_id_severity_and_attributes() {
        let ev = AuditEvent::new(EventKind::Statement)
            .with(attr::DECISION, "deny")
            .with(attr::MASKED_COLUMNS, vec!["a".to_string(), "b".to_string()])
            .with(attr::ROWS, 3i64);
        let r = to_log_record(&ev);
        assert_eq!(r.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(r.time_unix_nano, ev.ts);
        assert_eq!(r.event_name, "pgward.statement");
        assert_eq!(r.attributes[0].key, attr::EVENT_ID);
        assert_eq!(
            r.attributes[0].value.as_ref().and_then(|v| v.value.clone()),
            Some(str_value(ev.id.as_str()))
        );
        assert_eq!(r.attributes.len(), ev.attr_count() + 1);
        let req = to_request(
            &[ev],
            &ResourceInfo {
                service_instance_id: "i".into(),
            },
        );
        let bytes = req.encode_to_vec();
        let back = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap_or_default();
        assert_eq!(back, req);
    }

    #[test]
    fn bad_endpoints_and_headers_are_config_errors() {
        let cfg = |endpoint: &str| OtlpSinkConfig {
            endpoint: endpoint.into(),
            headers: Default::default(),
            timeout: Duration::from_secs(1),
            name: None,
        };
        assert!(Transport::http(&cfg("ftp://x")).is_err());
        assert!(Transport::grpc(&cfg("not a uri")).is_err());
        let mut c = cfg("http://127.0.0.1:1");
        c.headers.insert("bad header".into(), "v".into());
        assert!(Transport::http(&c).is_err());
    }
}
