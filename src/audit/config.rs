//! The `audit:` section of the configuration file.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// When spooled events are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// `emit` resolves only once its event is on disk; concurrent events share
    /// one fsync, so the cost is per batch, not per event.
    EveryEvent,
    /// At most this many milliseconds of events can be lost to a host crash.
    IntervalMs(u64),
    /// Left to the OS: a process crash loses nothing, a host crash may.
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::IntervalMs(200)
    }
}

/// What `emit` does when the queue (or the spool behind it) is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// `emit` waits: the statement that produced the event waits with it.
    #[default]
    Block,
    /// `emit` fails at once and hands the event back; pgward refuses new
    /// sessions (and the statement) rather than run unaudited.
    RefuseSessions,
    /// The oldest queued event (or spooled segment) is discarded, counted, and
    /// the count is written into the next event.
    DropOldest,
    /// The new event is discarded, counted, and reported the same way.
    DropNewest,
}

/// What goes into `db.query.text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StatementText {
    /// Normalized text with constants replaced: no literal values reach the
    /// audit trail.
    #[default]
    Fingerprint,
    Full,
    None,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpSinkConfig {
    /// `http(s)://host:port`; for HTTP, `/v1/logs` is appended unless present.
    pub endpoint: String,
    /// Extra request headers (gRPC metadata), e.g. an API key.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-request deadline, humantime (`10s`, `500ms`).
    #[serde(default = "default_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Names the cursor file. Defaults to one derived from kind and endpoint,
    /// so reordering sinks in the file does not reset their progress.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    OtlpGrpc(OtlpSinkConfig),
    OtlpHttp(OtlpSinkConfig),
    Stdout(StdoutSinkConfig),
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub spool_dir: PathBuf,
    #[serde(default = "default_spool_max")]
    pub spool_max_bytes: u64,
    #[serde(default = "default_segment")]
    pub segment_bytes: u64,
    #[serde(default)]
    pub fsync: FsyncPolicy,
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    #[serde(default)]
    pub on_full: OnFull,
    #[serde(default)]
    pub statement_text: StatementText,
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// Most events in one OTLP request.
    #[serde(default = "default_batch")]
    pub batch_max_events: usize,
    /// How long a shipper waits for a batch to fill before sending a partial one.
    #[serde(default = "default_linger", deserialize_with = "de_duration")]
    pub batch_linger: Duration,
    /// How often a shipper that keeps exporting writes its cursor file
    /// (it writes it at once when it runs out of events, fails, or
    /// stops). A crash re-sends what was acknowledged since the last
    /// write; `0s` writes it after every acknowledged batch.
    #[serde(default = "default_cursor_save", deserialize_with = "de_duration")]
    pub cursor_save_interval: Duration,
    /// `service.instance.id` on every OTLP resource; random per process if unset.
    #[serde(default)]
    pub service_instance_id: Option<String>,
    /// A statement is forwarded only once its decision event is on disk.
    #[serde(default)]
    pub strict: bool,
}

impl AuditConfig {
    /// A configuration with every default, spooling to `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> AuditConfig {
        AuditConfig {
            spool_dir: dir.into(),
            spool_max_bytes: default_spool_max(),
            segment_bytes: default_segment(),
            fsync: FsyncPolicy::default(),
            queue_capacity: default_queue(),
            on_full: OnFull::default(),
            statement_text: StatementText::default(),
            sinks: Vec::new(),
            batch_max_events: default_batch(),
            batch_linger: default_linger(),
            cursor_save_interval: default_cursor_save(),
            service_instance_id: None,
            strict: false,
        }
    }

    /// Rejects settings under which the spool could wedge: with a segment as
    /// large as the whole bound, the only segment is never closed, so it can
    /// never be deleted to make room.
    pub fn validate(&self) -> Result<(), String> {
        if self.queue_capacity == 0 {
            return Err("audit.queue_capacity must be at least 1".into());
        }
        if self.batch_max_events == 0 {
            return Err("audit.batch_max_events must be at least 1".into());
        }
        if self.segment_bytes < 4096 {
            return Err("audit.segment_bytes must be at least 4096".into());
        }
        if self.spool_max_bytes < self.segment_bytes.saturating_mul(2) {
            return Err("audit.spool_max_bytes must be at least twice audit.segment_bytes".into());
        }
        let mut names = std::collections::HashSet::new();
        for sink in &self.sinks {
            if let Some(name) = sink_name(sink) {
                if !names.insert(name.clone()) {
                    return Err(format!(
                        "two audit sinks share the cursor name {name:?}; set `name`"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The cursor name of a sink that ships from the spool; `None` for sinks
/// that do not (stdout).
pub fn sink_name(sink: &SinkConfig) -> Option<String> {
    let (kind, cfg) = match sink {
        SinkConfig::OtlpGrpc(c) => ("otlp_grpc", c),
        SinkConfig::OtlpHttp(c) => ("otlp_http", c),
        SinkConfig::Stdout(_) => return None,
    };
    let raw = match &cfg.name {
        Some(n) => n.clone(),
        None => format!("{kind}-{}", cfg.endpoint),
    };
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    Some(clean)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_spool_max() -> u64 {
    1 << 30
}
fn default_segment() -> u64 {
    64 << 20
}
fn default_queue() -> usize {
    8192
}
fn default_batch() -> usize {
    512
}
fn default_linger() -> Duration {
    Duration::from_secs(1)
}

fn default_cursor_save() -> Duration {
    Duration::from_millis(250)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_schema() {
        let yaml = r#"
spool_dir: /var/lib/pgward/audit
spool_max_bytes: 1073741824
segment_bytes: 16777216
fsync: {interval_ms: 250}
queue_capacity: 4096
on_full: drop_oldest
statement_text: full
cursor_save_interval: 1s
sinks:
  - otlp_grpc: {endpoint: "http://collector:4317", headers: {x-api-key: k}, timeout: 5s}
  - otlp_http: {endpoint: "https://collector:4318", name: backup}
  - stdout: {}
"#;
        let cfg: AuditConfig = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.fsync, FsyncPolicy::IntervalMs(250));
        assert_eq!(cfg.on_full, OnFull::DropOldest);
        assert_eq!(cfg.statement_text, StatementText::Full);
        assert_eq!(cfg.cursor_save_interval, Duration::from_secs(1));
        assert_eq!(cfg.sinks.len(), 3);
        match &cfg.sinks[0] {
            SinkConfig::OtlpGrpc(c) => {
                assert_eq!(c.timeout, Duration::from_secs(5));
                assert_eq!(c.headers.get("x-api-key").map(String::as_str), Some("k"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sink_name(&cfg.sinks[1]).as_deref(), Some("backup"));
        assert_eq!(
            sink_name(&cfg.sinks[0]).as_deref(),
            Some("otlp_grpc-http___collector_4317")
        );
        assert_eq!(cfg.validate(), Ok(()));

        let strict: AuditConfig = serde_saphyr::from_str("spool_dir: /x\nfsync: every_event\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(strict.fsync, FsyncPolicy::EveryEvent);
        assert_eq!(strict.on_full, OnFull::Block);
        assert_eq!(strict.cursor_save_interval, Duration::from_millis(250));
    }

    #[test]
    fn rejects_unknown_keys_and_wedging_sizes() {
        assert!(serde_saphyr::from_str::<AuditConfig>("spool_dir: /x\nspool_size: 1\n").is_err());
        assert!(serde_saphyr::from_str::<AuditConfig>(
            "spool_dir: /x\nsinks:\n  - otlp_grpc: {endpoint: a, tls: true}\n"
        )
        .is_err());
        let mut cfg = AuditConfig::new("/x");
        cfg.spool_max_bytes = cfg.segment_bytes;
        assert!(cfg.validate().is_err());
    }
}
