//! Cost of one statement's audit event: building it (about twenty
//! attributes, as a completed pgbench statement has), writing it as the
//! spool's JSON line, and turning a batch of them into the OTLP logs export
//! a sink sends, encoded: straight from the events (what the writer does,
//! once per batch for every sink) and through the generated protobuf types
//! (the reference the direct encoding is tested against). The spool write
//! and the export run off the session's path (writer and shipper tasks);
//! building the event does not.

use criterion::{criterion_group, criterion_main, Criterion};
use pgward::audit::otlp::{to_request, ResourceInfo};
use pgward::audit::otlp_wire::{request, Records};
use pgward::audit::{attr, AuditEvent, EventKind};
use prost::Message;

fn statement_event() -> AuditEvent {
    let mut e = AuditEvent::new(EventKind::Statement);
    e.set(attr::SESSION_ID, "00112233445566ff");
    e.set(attr::USER_NAME, "alice@example.com");
    e.set(attr::DB_NAMESPACE, "bench");
    e.set(attr::CLIENT_ADDRESS, "127.0.0.1");
    e.set(attr::SERVER_ADDRESS, "127.0.0.1");
    e.set(attr::SERVER_PORT, 5432u16);
    e.set(attr::BRANCH, "main");
    e.set(attr::PROFILE, "developer");
    e.set(attr::TOOL, "pgbench");
    e.set(attr::DECISION, "allow");
    e.set(attr::STATEMENT_CLASS, "read");
    e.set(attr::DB_OPERATION_NAME, "SELECT");
    e.set(attr::DB_COLLECTION_NAME, "pgbench_accounts");
    e.set(
        attr::DB_QUERY_TEXT,
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
    );
    e.set(attr::ROWS, 1u64);
    e.set(attr::DURATION_NS, 48_213u64);
    e.set(attr::BYTES_IN, 71u64);
    e.set(attr::BYTES_OUT, 64u64);
    e
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("audit");
    group.bench_function("build_statement_event", |b| b.iter(statement_event));
    let ev = statement_event();
    group.bench_function("json_line", |b| {
        b.iter(|| pgward::audit::json_line::to_vec(&ev).len())
    });
    let batch: Vec<AuditEvent> = (0..100).map(|_| statement_event()).collect();
    let res = ResourceInfo {
        service_instance_id: "bench".to_owned(),
    };
    group.bench_function("otlp_export_100_events", |b| {
        b.iter(|| {
            let records: Records = batch.iter().collect();
            request(&res, &records.bytes).len()
        })
    });
    group.bench_function("otlp_export_100_events_via_generated_types", |b| {
        b.iter(|| to_request(&batch, &res).encode_to_vec().len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
