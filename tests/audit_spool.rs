//! The audit trail end to end: auditor, spool and shippers against an
//! in-process OTLP receiver that can be stopped and restarted.

mod common;

use common::otlp_receiver::{OtlpReceiver, Received, Via};
use pgward::audit::{
    attr, AuditConfig, AuditError, AuditEvent, Auditor, EventKind, FsyncPolicy, OnFull,
    OtlpSinkConfig, SinkConfig,
};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

/// Failure bound for anything the tests wait on; never a synchronisation delay.
const LIMIT: Duration = Duration::from_secs(60);

fn otlp(endpoint: String) -> OtlpSinkConfig {
    OtlpSinkConfig {
        endpoint,
        headers: Default::default(),
        timeout: Duration::from_secs(5),
        name: None,
    }
}

fn config(dir: &Path, sinks: Vec<SinkConfig>) -> AuditConfig {
    let mut cfg = AuditConfig::new(dir);
    cfg.sinks = sinks;
    cfg.batch_linger = Duration::from_millis(10);
    cfg.service_instance_id = Some("test-instance".into());
    cfg
}

fn statement(i: usize) -> AuditEvent {
    AuditEvent::new(EventKind::Statement)
        .with(attr::DB_NAMESPACE, "app")
        .with(attr::USER_NAME, "alice")
        .with(attr::SESSION_ID, format!("s-{}", i % 7))
        .with(attr::ROWS, i as i64)
}

fn ids_via(records: &[Received], via: Via) -> HashSet<String> {
    records
        .iter()
        .filter(|r| r.via == via)
        .map(|r| r.event_id.clone())
        .collect()
}

fn has_all(records: &[Received], via: Via, want: &HashSet<String>) -> bool {
    let got = ids_via(records, via);
    want.iter().all(|id| got.contains(id))
}

async fn emit_all(a: &Auditor, events: impl IntoIterator<Item = AuditEvent>) -> HashSet<String> {
    let mut ids = HashSet::new();
    for e in events {
        ids.insert(e.id.to_string());
        a.emit(e).await.expect("emit");
    }
    ids
}

fn detailed_event() -> AuditEvent {
    AuditEvent::new(EventKind::Statement)
        .with(attr::DB_NAMESPACE, "shop")
        .with(attr::DB_OPERATION_NAME, "SELECT")
        .with(attr::DB_COLLECTION_NAME, "public.customers")
        .with(
            attr::DB_QUERY_TEXT,
            "SELECT email FROM customers WHERE id = $1",
        )
        .with(attr::DB_RESPONSE_STATUS_CODE, "42501")
        .with(attr::SERVER_ADDRESS, "db.internal")
        .with(attr::SERVER_PORT, 5432u16)
        .with(attr::CLIENT_ADDRESS, "10.0.0.7")
        .with(attr::USER_NAME, "alice")
        .with(attr::SESSION_ID, "sess-1")
        .with(attr::SECURITY_RULE_NAME, "no-pii-for-agents")
        .with(attr::PROFILE, "agent")
        .with(attr::DECISION, "deny")
        .with(attr::BRANCH, "feature-x")
        .with(attr::TOOL, "migration-bot")
        .with(
            attr::MASKED_COLUMNS,
            vec!["email".to_string(), "phone".to_string()],
        )
        .with(attr::ROWS, 0i64)
        .with(attr::DURATION_NS, 1234u64)
        .with(attr::STATEMENT_CLASS, "read")
}

fn check_detailed(r: &Received, id: &str) {
    assert_eq!(r.event_id, id);
    assert_eq!(r.event_name, "pgward.statement");
    assert_eq!(r.body, Value::from("statement"));
    assert_eq!(r.severity_text, "WARN");
    assert_eq!(r.severity_number, 13);
    assert!(r.time_unix_nano > 0);
    assert_eq!(r.observed_time_unix_nano, r.time_unix_nano);
    assert_eq!(r.scope, "pgward.audit");
    assert_eq!(r.resource.get("service.name"), Some(&Value::from("pgward")));
    assert_eq!(
        r.resource.get("service.instance.id"),
        Some(&Value::from("test-instance"))
    );
    let a = &r.attrs;
    assert_eq!(a.get("db.system.name"), Some(&Value::from("postgresql")));
    assert_eq!(
        a.get("db.collection.name"),
        Some(&Value::from("public.customers"))
    );
    assert_eq!(
        a.get("db.response.status_code"),
        Some(&Value::from("42501"))
    );
    assert_eq!(a.get("server.port"), Some(&Value::from(5432)));
    assert_eq!(
        a.get("security_rule.name"),
        Some(&Value::from("no-pii-for-agents"))
    );
    assert_eq!(a.get("pgward.decision"), Some(&Value::from("deny")));
    assert_eq!(
        a.get("pgward.masked_columns"),
        Some(&Value::from(vec!["email", "phone"]))
    );
    assert_eq!(a.get("pgward.duration_ns"), Some(&Value::from(1234)));
}

async fn delivers_with_attributes(via: Via) {
    let rx = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = match via {
        Via::Grpc => SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint())),
        Via::Http => SinkConfig::OtlpHttp(otlp(rx.http_endpoint())),
    };
    let a = Auditor::start(config(dir.path(), vec![sink]))
        .await
        .expect("start");
    let ev = detailed_event();
    let id = ev.id.to_string();
    a.emit(ev).await.expect("emit");
    a.emit(AuditEvent::new(EventKind::SessionStart).with(attr::USER_NAME, "alice"))
        .await
        .expect("emit");
    assert!(
        rx.wait_for(|r| r.len() >= 2, LIMIT).await,
        "records never arrived"
    );
    let records = rx.records();
    assert!(records.iter().all(|r| r.via == via));
    check_detailed(&records[0], &id);
    assert_eq!(records[1].severity_text, "INFO");
    assert_eq!(records[1].event_name, "pgward.session.start");
    let report = a.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert_eq!(report.undelivered.iter().map(|(_, n)| n).sum::<u64>(), 0);
    // A receiver that keeps up is sent each batch as it was written; the
    // spool is not read back.
    assert_eq!(report.stats.sinks[0].read_back, 0, "{:?}", report.stats);
}

#[tokio::test]
async fn grpc_delivers_events_with_their_attributes() {
    delivers_with_attributes(Via::Grpc).await;
}

#[tokio::test]
async fn http_delivers_events_with_their_attributes() {
    delivers_with_attributes(Via::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_outage_loses_nothing_on_either_transport() {
    let mut rx = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(
        dir.path(),
        vec![
            SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint())),
            SinkConfig::OtlpHttp(otlp(rx.http_endpoint())),
        ],
    );
    cfg.segment_bytes = 64 * 1024;
    let a = Auditor::start(cfg).await.expect("start");
    let mut ids = emit_all(&a, (0..2500).map(statement)).await;
    rx.stop().await;
    ids.extend(emit_all(&a, (2500..5000).map(statement)).await);
    assert!(
        a.wait_for_stats(
            |s| s.written == 5000 && s.sinks.iter().all(|k| k.send_failures > 0),
            LIMIT
        )
        .await,
        "both sinks should have failed against the stopped receiver: {:?}",
        a.stats()
    );
    rx.restart().await;
    let ok = rx
        .wait_for(
            |r| has_all(r, Via::Grpc, &ids) && has_all(r, Via::Http, &ids),
            LIMIT,
        )
        .await;
    let records = rx.records();
    assert!(
        ok,
        "missing: grpc {} http {}",
        ids.difference(&ids_via(&records, Via::Grpc)).count(),
        ids.difference(&ids_via(&records, Via::Http)).count()
    );
    assert_eq!(ids.len(), 5000);
    assert_eq!(ids_via(&records, Via::Grpc), ids);
    assert_eq!(ids_via(&records, Via::Http), ids);
    let stats = a.stats();
    assert!(stats.queue_high_water <= 8192);
    assert_eq!(stats.dropped, 0);
    let report = a.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert_eq!(report.undelivered.iter().map(|(_, n)| n).sum::<u64>(), 0);
    // Everything acknowledged: only the last open segment may remain.
    assert!(a_segments(dir.path()) <= 1);
}

fn a_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read spool dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("spool-")
                && std::fs::metadata(dir.join(n))
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
        })
        .count()
}

#[tokio::test]
async fn crash_then_restart_delivers_the_rest() {
    let mut rx = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sinks = vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))];
    let mut cfg = config(dir.path(), sinks.clone());
    cfg.segment_bytes = 16 * 1024;
    let a = Auditor::start(cfg.clone()).await.expect("start");
    let first = emit_all(&a, (0..300).map(statement)).await;
    assert!(rx.wait_for(|r| has_all(r, Via::Grpc, &first), LIMIT).await);
    rx.stop().await;
    let second = emit_all(&a, (300..1000).map(statement)).await;
    assert!(a.wait_for_stats(|s| s.written == 1000, LIMIT).await);
    // A crash: no shutdown, tasks stopped where they are.
    drop(a);
    rx.clear();
    rx.restart().await;
    let b = Auditor::start(cfg).await.expect("restart");
    assert!(
        rx.wait_for(|r| has_all(r, Via::Grpc, &second), LIMIT).await,
        "events spooled before the crash were not delivered"
    );
    // At-least-once: at most the one batch in flight may repeat; the first
    // 300 were acknowledged and must not all come back.
    let resent = ids_via(&rx.records(), Via::Grpc)
        .intersection(&first)
        .count();
    assert!(resent < first.len(), "acknowledged events were all re-sent");
    // What was spooled before the crash can only come from the spool.
    let report = b.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert!(
        report.stats.sinks[0].read_back >= second.len() as u64,
        "{:?}",
        report.stats
    );
}

#[tokio::test]
async fn shutdown_reports_undelivered_and_the_next_start_sends_them() {
    let mut rx = OtlpReceiver::start().await;
    rx.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        vec![SinkConfig::OtlpHttp(otlp(rx.http_endpoint()))],
    );
    let a = Auditor::start(cfg.clone()).await.expect("start");
    let ids = emit_all(&a, (0..50).map(statement)).await;
    let report = a
        .shutdown(tokio::time::Instant::now() + Duration::from_millis(200))
        .await;
    assert_eq!(report.unspooled, 0);
    assert_eq!(report.undelivered.len(), 1);
    assert_eq!(report.undelivered[0].1, 50);
    rx.restart().await;
    let b = Auditor::start(cfg).await.expect("restart");
    assert!(rx.wait_for(|r| has_all(r, Via::Http, &ids), LIMIT).await);
    let report = b.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert_eq!(report.undelivered[0].1, 0);
}

#[tokio::test]
async fn cursor_survives_a_clean_restart_without_resending() {
    let rx = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))],
    );
    let a = Auditor::start(cfg.clone()).await.expect("start");
    let ids = emit_all(&a, (0..100).map(statement)).await;
    assert!(rx.wait_for(|r| has_all(r, Via::Grpc, &ids), LIMIT).await);
    a.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert_restart_resends_nothing(cfg, &rx).await;
}

/// Starts an auditor on `cfg`'s spool again and emits one marker event:
/// the receiver must get the marker and nothing the previous one had
/// delivered.
async fn assert_restart_resends_nothing(cfg: AuditConfig, rx: &OtlpReceiver) {
    rx.clear();
    let b = Auditor::start(cfg).await.expect("restart");
    let marker = AuditEvent::new(EventKind::ProxyStart);
    let marker_id = marker.id.to_string();
    b.emit(marker).await.expect("emit");
    assert!(
        rx.wait_for(|r| r.iter().any(|x| x.event_id == marker_id), LIMIT)
            .await
    );
    let records = rx.records();
    assert_eq!(
        records.len(),
        1,
        "old events were re-sent: {}",
        records.len()
    );
    b.shutdown(tokio::time::Instant::now() + LIMIT).await;
}

/// A spool position as (segment, offset).
type At = Option<(u64, u64)>;

/// The cursor file's position and the end of the newest spool segment.
fn cursor_and_end(dir: &Path) -> (At, At) {
    let mut cursor = None;
    let mut end = None;
    for entry in std::fs::read_dir(dir).expect("read spool dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("cursor-") && name.ends_with(".json") {
            let v: Value = serde_json::from_slice(&std::fs::read(entry.path()).expect("cursor"))
                .expect("json");
            cursor = Some((
                v["segment"].as_u64().expect("segment"),
                v["offset"].as_u64().expect("offset"),
            ));
        } else if let Some(seq) = name
            .strip_prefix("spool-")
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            let len = entry.metadata().expect("metadata").len();
            if end.is_none_or(|(s, _)| s < seq) {
                end = Some((seq, len));
            }
        }
    }
    (cursor, end)
}

/// A shipper exporting batch after batch writes its cursor file once per
/// `cursor_save_interval`, not once per batch, and writes it as soon as it
/// has run out of events: a crash after that re-sends nothing.
#[tokio::test]
async fn a_busy_shipper_saves_its_cursor_once_per_interval_and_at_once_when_idle() {
    let mut rx = OtlpReceiver::start().await;
    rx.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(
        dir.path(),
        vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))],
    );
    cfg.batch_max_events = 5;
    cfg.batch_linger = Duration::ZERO;
    // Longer than the test: after the first save, only running out of
    // events writes the file.
    cfg.cursor_save_interval = Duration::from_secs(3600);
    let a = Auditor::start(cfg.clone()).await.expect("start");
    // Everything is spooled while the receiver is away, so the shipper
    // then exports batch after batch without running out in between.
    let ids = emit_all(&a, (0..600).map(statement)).await;
    assert!(a.wait_for_stats(|s| s.written == 600, LIMIT).await);
    rx.restart().await;
    assert!(rx.wait_for(|r| has_all(r, Via::Grpc, &ids), LIMIT).await);
    let at_end = |s: &pgward::audit::AuditStats| {
        s.sinks[0].lag_bytes == 0 && {
            let (cursor, end) = cursor_and_end(dir.path());
            cursor.is_some() && cursor == end
        }
    };
    assert!(
        a.wait_for_stats(at_end, LIMIT).await,
        "the cursor file never reached the end of the spool: {:?}",
        cursor_and_end(dir.path())
    );
    let sink = &a.stats().sinks[0];
    assert!(sink.batches >= 120, "{sink:?}");
    assert!(
        (1..=2).contains(&sink.cursor_saves),
        "one save for the first batch, one on running out: {sink:?}"
    );
    // A crash: no shutdown.
    drop(a);
    assert_restart_resends_nothing(cfg, &rx).await;
}

fn small_spool(dir: &Path, rx: &OtlpReceiver, on_full: OnFull, queue: usize) -> AuditConfig {
    let mut cfg = config(dir, vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))]);
    cfg.segment_bytes = 4096;
    cfg.spool_max_bytes = 8192;
    cfg.queue_capacity = queue;
    cfg.on_full = on_full;
    cfg
}

#[tokio::test]
async fn block_policy_makes_emit_wait_and_bounds_memory_and_disk() {
    let mut rx = OtlpReceiver::start().await;
    rx.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = std::sync::Arc::new(
        Auditor::start(small_spool(dir.path(), &rx, OnFull::Block, 4))
            .await
            .expect("start"),
    );
    let events: Vec<AuditEvent> = (0..300).map(statement).collect();
    let ids: HashSet<String> = events.iter().map(|e| e.id.to_string()).collect();
    let emitter = tokio::spawn({
        let a = a.clone();
        async move {
            for e in events {
                a.emit(e).await.expect("emit");
            }
        }
    });
    assert!(
        a.wait_for_stats(|s| s.blocked_emitters == 1, LIMIT).await,
        "emit never blocked: {:?}",
        a.stats()
    );
    let s = a.stats();
    assert!(!emitter.is_finished());
    assert!(s.spool_bytes <= 8192, "spool over its bound: {s:?}");
    assert!(
        s.queue_len <= 4 && s.queue_high_water <= 4,
        "queue over its bound: {s:?}"
    );
    assert_eq!(s.dropped, 0);
    rx.restart().await;
    emitter.await.expect("emitter");
    assert!(rx.wait_for(|r| has_all(r, Via::Grpc, &ids), LIMIT).await);
    let s = a.stats();
    assert_eq!(s.dropped, 0);
    assert!(s.queue_high_water <= 4);
}

#[tokio::test]
async fn drop_oldest_counts_and_reports_the_loss() {
    let mut rx = OtlpReceiver::start().await;
    rx.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Auditor::start(small_spool(dir.path(), &rx, OnFull::DropOldest, 4))
        .await
        .expect("start");
    for i in 0..500 {
        a.emit(statement(i))
            .await
            .expect("emit never fails under drop_oldest");
        assert!(
            a.stats().spool_bytes <= 8192 + 4096,
            "spool far over its bound"
        );
    }
    assert!(
        a.wait_for_stats(|s| s.written + s.dropped >= 500, LIMIT)
            .await
    );
    let dropped = a.stats().dropped;
    assert!(dropped > 0, "nothing was dropped: {:?}", a.stats());
    let last = AuditEvent::new(EventKind::ProxyStop);
    let last_id = last.id.to_string();
    a.emit(last).await.expect("emit");
    rx.restart().await;
    assert!(
        rx.wait_for(|r| r.iter().any(|x| x.event_id == last_id), LIMIT)
            .await
    );
    let reported: i64 = rx
        .records()
        .iter()
        .filter_map(|r| r.attrs.get("pgward.audit.dropped").and_then(Value::as_i64))
        .sum();
    assert!(reported > 0, "no delivered event reported the drops");
    assert!(reported as u64 <= a.stats().dropped);
}

#[tokio::test]
async fn refuse_policy_hands_the_event_back() {
    let mut rx = OtlpReceiver::start().await;
    rx.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Auditor::start(small_spool(dir.path(), &rx, OnFull::RefuseSessions, 2))
        .await
        .expect("start");
    let mut refused = None;
    for i in 0..10_000 {
        let e = statement(i);
        let id = e.id.to_string();
        match a.emit(e).await {
            Ok(()) => {}
            Err(AuditError::Full(back)) => {
                assert_eq!(back.id.as_str(), id);
                refused = Some(i);
                break;
            }
            Err(other) => panic!("unexpected {other}"),
        }
        // Let the writer catch up so the refusal comes from a full spool,
        // not a momentarily busy writer.
        tokio::task::yield_now().await;
    }
    assert!(refused.is_some(), "never refused");
    let s = a.stats();
    assert!(s.refused >= 1);
    assert_eq!(s.dropped, 0);
    assert!(s.spool_bytes <= 8192);
}

#[tokio::test]
async fn torn_last_line_after_a_crash_is_cut_and_the_rest_delivered() {
    let mut rx = OtlpReceiver::start().await;
    rx.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))],
    );
    let a = Auditor::start(cfg.clone()).await.expect("start");
    let ids = emit_all(&a, (0..20).map(statement)).await;
    assert!(a.wait_for_stats(|s| s.written == 20, LIMIT).await);
    drop(a);
    // The crash interrupted a write half-way through a line.
    let mut segs: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("spool-"))
        .collect();
    segs.sort();
    let last = dir.path().join(
        segs.iter()
            .rev()
            .find(|n| {
                std::fs::metadata(dir.path().join(n))
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
            })
            .expect("a written segment"),
    );
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&last)
            .expect("open");
        f.write_all(br#"{"id":"0190-half","ts":17"#).expect("write");
    }
    rx.restart().await;
    let b = Auditor::start(cfg).await.expect("restart");
    assert_eq!(b.stats().torn_lines, 1);
    assert!(rx.wait_for(|r| has_all(r, Via::Grpc, &ids), LIMIT).await);
    b.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert_eq!(
        rx.records()
            .iter()
            .filter(|r| r.event_id.contains("half"))
            .count(),
        0
    );
}

#[tokio::test]
async fn every_event_fsync_means_written_when_emit_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path(), vec![]);
    cfg.fsync = FsyncPolicy::EveryEvent;
    let a = Auditor::start(cfg).await.expect("start");
    a.emit(statement(1)).await.expect("emit");
    let s = a.stats();
    assert_eq!(s.written, 1);
    assert!(s.fsyncs >= 1);
    a.emit_durable(statement(2)).await.expect("emit_durable");
    assert_eq!(a.stats().written, 2);
}

#[tokio::test]
async fn statement_text_none_strips_the_query() {
    let rx = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(
        dir.path(),
        vec![SinkConfig::OtlpHttp(otlp(rx.http_endpoint()))],
    );
    cfg.statement_text = pgward::audit::StatementText::None;
    let a = Auditor::start(cfg).await.expect("start");
    a.emit(detailed_event()).await.expect("emit");
    assert!(rx.wait_for(|r| !r.is_empty(), LIMIT).await);
    assert!(!rx.records()[0].attrs.contains_key("db.query.text"));
}

#[tokio::test]
async fn stopped_receiver_refuses_connections_and_restarts_on_the_same_port() {
    let mut rx = OtlpReceiver::start().await;
    let addr = rx.grpc_endpoint().trim_start_matches("http://").to_string();
    assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
    rx.stop().await;
    let err = tokio::net::TcpStream::connect(&addr).await.err();
    assert_eq!(
        err.map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    rx.restart().await;
    assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
}

/// How the events of one outage ended up.
#[derive(Debug)]
struct Accounting {
    /// `emit` calls.
    attempts: u64,
    /// Distinct events the receiver got.
    delivered: u64,
    dropped: u64,
    refused: u64,
    /// Events the receiver got more than once.
    duplicates: u64,
    /// Left spooled or queued at shutdown.
    undelivered: u64,
}

impl Accounting {
    fn assert_exact(&self, what: &str) {
        assert_eq!(self.undelivered, 0, "{what}: not drained: {self:?}");
        assert_eq!(
            self.duplicates, 0,
            "{what}: events delivered twice: {self:?}"
        );
        assert_eq!(
            self.attempts,
            self.delivered + self.dropped + self.refused,
            "{what}: emitted != delivered + dropped + refused: {self:?}"
        );
    }
}

/// Emits `n` events while the receiver is down, brings it back (as soon as
/// the emitter is done or blocked), lets everything drain, and counts.
async fn outage(cfg: AuditConfig, rx: &mut OtlpReceiver, n: usize) -> Accounting {
    rx.stop().await;
    let a = std::sync::Arc::new(Auditor::start(cfg).await.expect("start"));
    let emitter = tokio::spawn({
        let a = a.clone();
        async move {
            let mut ids = HashSet::new();
            let mut refused = 0u64;
            for i in 0..n {
                let e = statement(i);
                let id = e.id.to_string();
                match a.emit(e).await {
                    Ok(()) => {
                        ids.insert(id);
                    }
                    Err(AuditError::Full(_)) => refused += 1,
                    Err(other) => panic!("unexpected {other}"),
                }
            }
            (ids, refused)
        }
    });
    let n64 = n as u64;
    assert!(
        a.wait_for_stats(
            |s| s.blocked_emitters > 0 || s.emitted + s.refused == n64,
            LIMIT
        )
        .await,
        "emitter neither finished nor blocked: {:?}",
        a.stats()
    );
    rx.restart().await;
    let (ids, refused) = emitter.await.expect("emitter");
    let Ok(a) = std::sync::Arc::try_unwrap(a) else {
        panic!("auditor still shared")
    };
    a.wait_for_stats(
        |s| s.queue_len == 0 && s.sinks.iter().all(|k| k.lag_bytes == 0),
        LIMIT,
    )
    .await;
    let report = a.shutdown(tokio::time::Instant::now() + LIMIT).await;
    let records = rx.records();
    let got = ids_via(&records, Via::Grpc);
    assert!(
        got.is_subset(&ids),
        "delivered events that were never emitted"
    );
    assert_eq!(report.stats.refused, refused, "refusals counted");
    Accounting {
        attempts: n64,
        delivered: got.len() as u64,
        dropped: report.stats.dropped,
        refused,
        duplicates: (records.len() - got.len()) as u64,
        undelivered: report.undelivered.iter().map(|(_, k)| k).sum::<u64>() + report.unspooled,
    }
}

/// The drop modes get a queue that holds every event, so they all reach
/// the spool (and its bound, or the full disk) instead of being dropped
/// from the queue; the others a small one, so the stall reaches the emitter.
fn queue_for(on_full: OnFull) -> usize {
    match on_full {
        OnFull::DropOldest | OnFull::DropNewest => 8192,
        OnFull::Block | OnFull::RefuseSessions => 64,
    }
}

const MODES: [OnFull; 4] = [
    OnFull::Block,
    OnFull::DropOldest,
    OnFull::DropNewest,
    OnFull::RefuseSessions,
];

/// With the spool at its size bound and the collector down, every mode
/// accounts for every event exactly; in particular `drop_oldest` does not
/// count as lost the events a shipper already holds in a batch (it used to,
/// overcounting by a batch when that batch was delivered later).
#[tokio::test]
async fn every_overflow_mode_accounts_for_every_event_at_the_spool_bound() {
    for on_full in MODES {
        let mut rx = OtlpReceiver::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(
            dir.path(),
            vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))],
        );
        cfg.spool_max_bytes = 1 << 20;
        cfg.segment_bytes = 64 * 1024;
        cfg.queue_capacity = queue_for(on_full);
        cfg.on_full = on_full;
        let acc = outage(cfg, &mut rx, 20_000).await;
        eprintln!("{on_full:?} at the bound: {acc:?}");
        acc.assert_exact(&format!("{on_full:?}"));
        match on_full {
            OnFull::Block => assert_eq!(acc.delivered, 20_000),
            OnFull::DropOldest | OnFull::DropNewest => {
                assert!(acc.dropped > 0, "{on_full:?}: nothing dropped: {acc:?}")
            }
            OnFull::RefuseSessions => assert!(acc.refused > 0, "nothing refused: {acc:?}"),
        }
    }
}

/// A filesystem the test can fill: a tmpfs of `size` mounted on a fresh
/// directory (the tests run as root), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => SmallDisk { dir },
            other => panic!(
                "this test fills a small filesystem and needs to mount a tmpfs for it \
                 (root with CAP_SYS_ADMIN, as the CI runs): {other:?}"
            ),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// The same exact accounting when the disk under the spool fills up before
/// the spool's own bound: `drop_oldest` gives up the oldest segments,
/// `drop_newest` the batch that does not fit, `block` and
/// `refuse_sessions` stall until the collector returns and the shipped
/// segments are deleted. The cursor files must still be written on the
/// full disk for that to happen.
#[tokio::test]
async fn every_overflow_mode_accounts_for_every_event_when_the_disk_fills() {
    for on_full in MODES {
        let mut rx = OtlpReceiver::start().await;
        let disk = SmallDisk::mount("192k");
        let mut cfg = config(
            disk.path(),
            vec![SinkConfig::OtlpGrpc(otlp(rx.grpc_endpoint()))],
        );
        cfg.spool_max_bytes = 64 << 20;
        cfg.segment_bytes = 16 * 1024;
        cfg.queue_capacity = queue_for(on_full);
        cfg.on_full = on_full;
        let acc = outage(cfg, &mut rx, 3000).await;
        eprintln!("{on_full:?} on a full disk: {acc:?}");
        acc.assert_exact(&format!("{on_full:?} on a full disk"));
        match on_full {
            OnFull::Block => assert_eq!(acc.delivered, 3000),
            OnFull::DropOldest | OnFull::DropNewest => {
                assert!(
                    acc.dropped > 0,
                    "{on_full:?}: the disk never filled: {acc:?}"
                )
            }
            OnFull::RefuseSessions => assert!(acc.refused > 0, "nothing refused: {acc:?}"),
        }
        drop(disk);
    }
}
