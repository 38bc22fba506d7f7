//! The audit trail of a real pgward in front of a real server, delivered to
//! a real OTLP receiver over gRPC and HTTP: the fields of allow, deny,
//! masked and error events, session and proxy events, strict mode, a
//! receiver outage under load, and a pgward restart with a non-empty spool.
//!
//! The stdout sink mirrors every event pgward wrote to its spool, so the
//! ids on stdout are the ground truth that the receiver must match.

mod common;

use common::otlp_receiver::{OtlpReceiver, Received, Via};
use common::polling::wait_until;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

const PW: &str = "audit-pw";
/// Failure bound for deliveries; never a synchronisation delay.
const LIMIT: Duration = Duration::from_secs(60);

const POLICY: &str = r#"
version: 1
default_profile: analyst
identities:
  - match: { user: ann }
    profile: analyst
profiles:
  analyst:
    inherits: analyst
    deny:
      - name: hr-is-private
        objects: ["hr.*"]
masking:
  hash_key_env: PGWARD_TEST_HASH_KEY
masks:
  - name: email-domain
    columns: ["customers.email"]
    function: email
"#;

fn cluster() -> PgCluster {
    let pg = PgCluster::start();
    pg.admin_sql(
        APP_DB,
        &format!(
            "create role ann login superuser password '{PW}';
             create schema hr; create table hr.salaries(id int, amount int);
             create table orders(id int primary key, amount int);
             insert into orders select g, g * 10 from generate_series(1, 20) g;
             create table customers(id int primary key, email text);
             insert into customers values (1, 'alice@example.com'), (2, 'bob@corp.example');"
        ),
    );
    pg
}

fn start_pgward(pg: &PgCluster, spool: &Path, sinks: &str, extra: &str) -> Pgward {
    let builder = Pgward::builder().upstream_port(pg.port());
    let policy = builder.write_file("policy.yaml", POLICY);
    builder
        .env("PGWARD_TEST_HASH_KEY", "0123456789abcdef-test-key")
        .env("PGWARD_TEST_CATALOG_PW", SUPERUSER_PASSWORD)
        .config_yaml(&format!(
            "policy: {}
catalog:
  user: {SUPERUSER}
  password_env: PGWARD_TEST_CATALOG_PW
limits:
  shutdown_grace: 2s
audit:
  spool_dir: {}
  batch_linger: 10ms
  segment_bytes: 65536
  spool_max_bytes: 1048576
  sinks:
{sinks}
    - stdout: {{}}
{extra}",
            policy.display(),
            spool.display()
        ))
        .start()
}

fn otlp_sinks(r: &OtlpReceiver) -> String {
    format!(
        "    - otlp_grpc: {{endpoint: \"{}\", timeout: 2s}}\n    - otlp_http: {{endpoint: \"{}\", timeout: 2s}}",
        r.grpc_endpoint(),
        r.http_endpoint()
    )
}

/// Every event pgward wrote, from its stdout mirror.
fn written(p: &Pgward) -> Vec<Value> {
    p.stdout_contents()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn ids(events: &[Value]) -> HashSet<String> {
    events
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

fn received_ids(records: &[Received], via: Via) -> HashSet<String> {
    records
        .iter()
        .filter(|r| r.via == via)
        .map(|r| r.event_id.clone())
        .collect()
}

async fn wait_delivered(r: &OtlpReceiver, want: &HashSet<String>) {
    let ok = r
        .wait_for(
            |recs| {
                let g = received_ids(recs, Via::Grpc);
                let h = received_ids(recs, Via::Http);
                want.iter().all(|id| g.contains(id) && h.contains(id))
            },
            LIMIT,
        )
        .await;
    if !ok {
        let recs = r.records();
        let g = received_ids(&recs, Via::Grpc);
        let h = received_ids(&recs, Via::Http);
        let missing_g = want.iter().filter(|id| !g.contains(*id)).count();
        let missing_h = want.iter().filter(|id| !h.contains(*id)).count();
        panic!(
            "of {} events, {missing_g} missing over gRPC, {missing_h} over HTTP",
            want.len()
        );
    }
}

fn statement(recs: &[Received], via: Via, pred: impl Fn(&Received) -> bool) -> &Received {
    recs.iter()
        .find(|r| r.via == via && r.event_name == "pgward.statement" && pred(r))
        .unwrap_or_else(|| panic!("no such statement event over {via:?}"))
}

fn s<'a>(r: &'a Received, key: &str) -> &'a str {
    r.attrs.get(key).and_then(Value::as_str).unwrap_or("")
}

fn i(r: &Received, key: &str) -> i64 {
    r.attrs.get(key).and_then(Value::as_i64).unwrap_or(-1)
}

async fn client(p: &Pgward, app: &str) -> tokio_postgres::Client {
    connect_with(&format!(
        "host=127.0.0.1 port={} user=ann password={PW} dbname={APP_DB} application_name={app}",
        p.port()
    ))
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_the_right_fields_for_allow_deny_masked_and_error() {
    let pg = cluster();
    let receiver = OtlpReceiver::start().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let pgward = start_pgward(&pg, spool.path(), &otlp_sinks(&receiver), "");
    let c = client(&pgward, "report-bot").await;
    c.simple_query("select amount from orders where id = 3")
        .await
        .expect("allowed");
    let denied = c
        .simple_query("select * from hr.salaries")
        .await
        .expect_err("denied");
    assert_eq!(sqlstate(&denied).as_deref(), Some("42501"));
    c.simple_query("select email from customers order by id")
        .await
        .expect("masked");
    let err = c
        .simple_query("select nope from orders")
        .await
        .expect_err("undefined column");
    assert_eq!(sqlstate(&err).as_deref(), Some("42703"));
    let stmt = c
        .prepare("select amount from orders where id <= $1")
        .await
        .expect("prepare");
    for n in [2i32, 5] {
        c.query(&stmt, &[&n]).await.expect("execute");
    }
    drop(c);
    // A failed login is recorded too.
    let bad = try_connect(pgward.port(), "ann", "wrong", APP_DB).await;
    assert!(bad.is_err());

    // Wait for the session's end: it is written after the client left.
    let p = &pgward;
    wait_until("session end and failed login written", || {
        let ev = written(p);
        ev.iter().any(|e| e["kind"] == "session_end")
            && ev
                .iter()
                .any(|e| e["attrs"]["pgward.auth.outcome"] == "failure")
    })
    .await;
    let all = written(&pgward);
    wait_delivered(&receiver, &ids(&all)).await;
    let recs = receiver.records();

    for via in [Via::Grpc, Via::Http] {
        let allow = statement(&recs, via, |r| {
            s(r, "db.collection.name") == "orders"
                && s(r, "pgward.decision") == "allow"
                && i(r, "pgward.rows") == 1
        });
        assert_eq!(s(allow, "db.system.name"), "postgresql");
        assert_eq!(s(allow, "db.namespace"), APP_DB);
        assert_eq!(s(allow, "db.operation.name"), "SELECT");
        assert_eq!(
            s(allow, "db.query.text"),
            "select amount from orders where id = $1",
            "literals removed by default"
        );
        assert_eq!(s(allow, "user.name"), "ann");
        assert_eq!(s(allow, "pgward.profile"), "analyst");
        assert_eq!(s(allow, "pgward.branch"), "default");
        assert_eq!(s(allow, "pgward.tool"), "report-bot");
        assert_eq!(s(allow, "client.address"), "127.0.0.1");
        assert_eq!(s(allow, "server.address"), "127.0.0.1");
        assert_eq!(s(allow, "session.id").len(), 16);
        assert!(i(allow, "pgward.duration_ns") > 0);
        assert!(i(allow, "pgward.bytes_in") > 0);
        assert!(i(allow, "pgward.bytes_out") > 0);
        assert!(!allow.attrs.contains_key("db.response.status_code"));

        let deny = statement(&recs, via, |r| s(r, "pgward.decision") == "deny");
        assert_eq!(s(deny, "security_rule.name"), "hr-is-private");
        assert_eq!(s(deny, "db.response.status_code"), "42501");
        assert_eq!(s(deny, "db.collection.name"), "hr.salaries");

        let masked = statement(&recs, via, |r| s(r, "pgward.decision") == "masked");
        assert_eq!(
            masked.attrs.get("pgward.masked_columns"),
            Some(&serde_json::json!(["public.customers.email"]))
        );
        assert_eq!(i(masked, "pgward.rows"), 2);

        let error = statement(&recs, via, |r| s(r, "db.response.status_code") == "42703");
        assert_eq!(s(error, "pgward.decision"), "allow");

        // Each execution of the prepared statement is one statement event.
        let mut rows: Vec<i64> = recs
            .iter()
            .filter(|r| {
                r.via == via && s(r, "db.query.text") == "select amount from orders where id <= $1"
            })
            .map(|r| i(r, "pgward.rows"))
            .collect();
        rows.sort();
        assert_eq!(rows, [2, 5]);

        let start = recs
            .iter()
            .find(|r| {
                r.via == via
                    && r.event_name == "pgward.session.start"
                    && s(r, "pgward.auth.outcome") == "success"
            })
            .expect("session start");
        assert_eq!(s(start, "pgward.tool"), "report-bot");
        let failed = recs
            .iter()
            .find(|r| r.via == via && s(r, "pgward.auth.outcome") == "failure")
            .expect("failed login");
        assert_eq!(s(failed, "db.response.status_code"), "28P01");
        let end = recs
            .iter()
            .find(|r| r.via == via && r.event_name == "pgward.session.end")
            .expect("session end");
        assert_eq!(i(end, "pgward.statements"), 6);
        assert_eq!(s(end, "session.id"), s(start, "session.id"));
        assert!(recs
            .iter()
            .any(|r| r.via == via && r.event_name == "pgward.proxy.start"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_after_a_receiver_outage_under_load() {
    let pg = cluster();
    let mut receiver = OtlpReceiver::start().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let pgward = start_pgward(&pg, spool.path(), &otlp_sinks(&receiver), "");
    let port = pgward.port();
    let load: Vec<_> = (0..4)
        .map(|w| {
            tokio::spawn(async move {
                let (c, _) = connect_with(&format!(
                    "host=127.0.0.1 port={port} user=ann password={PW} dbname={APP_DB} application_name=load-{w}"
                ))
                .await;
                for n in 0..150 {
                    c.simple_query(&format!("select amount from orders where id = {}", n % 20 + 1))
                        .await
                        .expect("load statement");
                }
            })
        })
        .collect();
    // Stop the receiver once deliveries are flowing, with load still running.
    assert!(
        receiver.wait_for(|r| r.len() >= 40, LIMIT).await,
        "deliveries started"
    );
    receiver.stop().await;
    for l in load {
        l.await.expect("load task");
    }
    receiver.restart().await;
    // A statement's event is queued after its reply went to the client.
    let p = &pgward;
    wait_until("600 statement events written", || {
        written(p)
            .iter()
            .filter(|e| e["kind"] == "statement")
            .count()
            >= 600
    })
    .await;
    let all = written(&pgward);
    wait_delivered(&receiver, &ids(&all)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_delivers_what_the_spool_still_holds() {
    let pg = cluster();
    let mut receiver = OtlpReceiver::start().await;
    receiver.stop().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let mut first = start_pgward(&pg, spool.path(), &otlp_sinks(&receiver), "");
    {
        let c = client(&first, "before-restart").await;
        for n in 0..50 {
            c.simple_query(&format!("select {n}"))
                .await
                .expect("statement");
        }
    }
    first.terminate();
    assert!(
        first.wait_exit(LIMIT).is_some(),
        "pgward stopped on SIGTERM"
    );
    assert!(first.wait_stdout_eof(LIMIT));
    let undelivered = written(&first);
    assert!(undelivered.iter().any(|e| e["kind"] == "proxy_stop"));
    assert!(
        undelivered
            .iter()
            .filter(|e| e["kind"] == "statement")
            .count()
            >= 50,
        "statements written before the stop"
    );

    receiver.restart().await;
    let _second = start_pgward(&pg, spool.path(), &otlp_sinks(&receiver), "");
    wait_delivered(&receiver, &ids(&undelivered)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_writes_the_decision_before_forwarding() {
    let pg = cluster();
    let spool = tempfile::tempdir().expect("tempdir");
    let pgward = start_pgward(&pg, spool.path(), "", "  strict: true\n");
    let c = client(&pgward, "strict").await;
    c.simple_query("select amount from orders where id = 1")
        .await
        .expect("allowed");
    c.simple_query("select * from hr.salaries")
        .await
        .expect_err("denied");
    drop(c);
    let p = &pgward;
    wait_until("completion events written", || {
        written(p)
            .iter()
            .filter(|e| e["attrs"]["pgward.phase"] == "complete")
            .count()
            >= 2
    })
    .await;
    let all = written(&pgward);
    let decisions: Vec<&Value> = all
        .iter()
        .filter(|e| e["attrs"]["pgward.phase"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 2);
    for d in decisions {
        let id = d["id"].as_str().unwrap_or_default();
        let pos = |v: &Value| all.iter().position(|e| e == v);
        let complete = all
            .iter()
            .find(|e| e["attrs"]["pgward.statement.id"] == id)
            .unwrap_or_else(|| panic!("no completion for {id}"));
        assert!(pos(d) < pos(complete), "decision written first");
        assert_eq!(
            d["attrs"]["pgward.decision"],
            complete["attrs"]["pgward.decision"]
        );
    }
}

/// A statement of `ann` (application `app`) that waits on a lock another
/// session holds, so it runs on the server for as long as a test needs:
/// the lock's holder, the query's task and its connection's.
async fn statement_waiting_on_a_lock(
    pg: &PgCluster,
    p: &Pgward,
    app: &str,
    marker: &str,
) -> (
    tokio_postgres::Client,
    tokio::task::JoinHandle<Result<Vec<tokio_postgres::SimpleQueryMessage>, tokio_postgres::Error>>,
    tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
) {
    let (c, conn) = connect_with(&format!(
        "host=127.0.0.1 port={} user=ann password={PW} dbname={APP_DB} application_name={app}",
        p.port()
    ))
    .await;
    let (holder, holder_conn) = connect_with(&pg.admin_connstr(APP_DB)).await;
    holder
        .batch_execute("begin; lock table orders in access exclusive mode")
        .await
        .expect("lock");
    // The holder's connection lives as long as its task: detached here,
    // it ends when the holder is dropped.
    drop(holder_conn);
    let sql = format!("select amount as {marker} from orders");
    let running = tokio::spawn(async move { c.simple_query(&sql).await });
    let activity = format!(
        "select count(*) from pg_stat_activity \
         where query like '%{marker}%' and state = 'active' and pid <> pg_backend_pid()"
    );
    wait_until("the statement running on the server", || {
        pg.admin_sql(APP_DB, &activity).trim() == "1"
    })
    .await;
    (holder, running, conn)
}

/// A client that leaves while the server runs its statement does not take
/// the statement out of the trail: it is recorded with `pgward.phase =
/// unanswered`, its text and decision, and counted in the session's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_whose_client_left_is_recorded_unanswered() {
    let pg = cluster();
    let spool = tempfile::tempdir().expect("tempdir");
    let pgward = start_pgward(&pg, spool.path(), "", "");
    let (holder, running, conn) =
        statement_waiting_on_a_lock(&pg, &pgward, "leaver", "left_behind").await;
    // The client goes away without a word: its socket closes.
    conn.abort();
    let outcome = running.await.expect("query task");
    assert!(outcome.is_err(), "no reply reached the client");
    let p = &pgward;
    let leaver = |e: &Value| e["kind"] == "statement" && e["attrs"]["pgward.tool"] == "leaver";
    // The session's end follows its statements in the trail.
    let session_end = |all: &[Value]| {
        let sid = all.iter().find(|e| leaver(e))?["attrs"]["session.id"].clone();
        all.iter()
            .position(|e| e["kind"] == "session_end" && e["attrs"]["session.id"] == sid)
    };
    wait_until("the session's end written", || {
        session_end(&written(p)).is_some()
    })
    .await;
    let all = written(&pgward);
    let left: Vec<(usize, &Value)> = all.iter().enumerate().filter(|(_, e)| leaver(e)).collect();
    assert_eq!(left.len(), 1, "{left:#?}");
    let (at, ev) = left[0];
    assert_eq!(ev["attrs"]["pgward.phase"], "unanswered", "{ev:#}");
    assert_eq!(ev["attrs"]["pgward.decision"], "allow", "{ev:#}");
    let text = ev["attrs"]["db.query.text"].as_str().unwrap_or_default();
    assert!(text.contains("left_behind"), "{ev:#}");
    assert!(
        ev["attrs"].get("db.response.status_code").is_none(),
        "no reply, no status: {ev:#}"
    );
    let end_at = session_end(&all).expect("session end");
    assert_eq!(
        all[end_at]["attrs"]["pgward.statements"], 1,
        "{:#}",
        all[end_at]
    );
    assert!(at < end_at, "the statement before the session's end");
    holder.batch_execute("rollback").await.expect("unlock");
}

/// pgward stopping while the server runs a statement: after the grace
/// period the session is closed, and the statement is recorded unanswered
/// before the session's end and pgward's own stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_running_when_pgward_stops_is_recorded_unanswered() {
    let pg = cluster();
    let spool = tempfile::tempdir().expect("tempdir");
    let mut pgward = start_pgward(&pg, spool.path(), "", "");
    let (holder, running, _conn) =
        statement_waiting_on_a_lock(&pg, &pgward, "cut-short", "cut_short").await;
    pgward.terminate();
    let status = pgward.wait_exit(LIMIT).expect("pgward stopped");
    assert!(status.success(), "{status:?}");
    assert!(pgward.wait_stdout_eof(LIMIT), "stdout closed");
    assert!(running.await.expect("query task").is_err(), "no reply");
    holder.batch_execute("rollback").await.expect("unlock");
    let all = written(&pgward);
    let at = all
        .iter()
        .position(|e| e["kind"] == "statement" && e["attrs"]["pgward.tool"] == "cut-short")
        .unwrap_or_else(|| panic!("no statement event: {all:#?}"));
    let ev = &all[at];
    assert_eq!(ev["attrs"]["pgward.phase"], "unanswered", "{ev:#}");
    let sid = &ev["attrs"]["session.id"];
    let end = all
        .iter()
        .position(|e| e["kind"] == "session_end" && e["attrs"]["session.id"] == *sid)
        .expect("session end");
    let stop = all
        .iter()
        .position(|e| e["kind"] == "proxy_stop")
        .expect("proxy stop");
    assert!(at < end && end < stop, "statement, session end, stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_reloads_are_recorded() {
    let pg = cluster();
    let spool = tempfile::tempdir().expect("tempdir");
    let pgward = start_pgward(&pg, spool.path(), "", "");
    let path = pgward.dir().join("policy.yaml");
    std::fs::write(&path, "version: 1\nprofiles: [not, a, map]\n").expect("write");
    pgward.signal("HUP");
    let p = &pgward;
    wait_until("rejected reload written", || {
        written(p).iter().any(|e| {
            e["kind"] == "policy_reload" && e["attrs"]["pgward.policy.outcome"] == "rejected"
        })
    })
    .await;
    std::fs::write(&path, POLICY).expect("write");
    pgward.signal("HUP");
    wait_until("installed reload written", || {
        written(p).iter().any(|e| {
            e["kind"] == "policy_reload" && e["attrs"]["pgward.policy.outcome"] == "installed"
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_scram_logins_are_recorded_with_their_outcome() {
    let pg = cluster();
    let spool = tempfile::tempdir().expect("tempdir");
    let b = Pgward::builder().upstream_port(pg.port());
    let verifier =
        pgward::auth::scram::ScramVerifier::generate("carol-pw", 4096).expect("verifier");
    let users = b.write_file(
        "users.yaml",
        &format!("users:\n  - name: carol\n    scram: \"{verifier}\"\n"),
    );
    let service = b.write_file("service.pw", SUPERUSER_PASSWORD);
    let policy = b.write_file("policy.yaml", "version: 1\ndefault_profile: analyst\n");
    let pgward = b
        .config_yaml(&format!(
            "policy: {}\nauth:\n  mode: scram\n  users_file: {}\n  upstream_user: {SUPERUSER}\n  upstream_password_file: {}\naudit:\n  spool_dir: {}\n  sinks:\n    - stdout: {{}}\n",
            policy.display(),
            users.display(),
            service.display(),
            spool.path().display()
        ))
        .start();
    let login = |pw: &'static str| {
        let port = pgward.port();
        async move {
            try_connect_with(&format!(
                "host=127.0.0.1 port={port} user=carol password={pw} dbname={APP_DB}"
            ))
            .await
        }
    };
    assert!(login("wrong").await.is_err());
    let (c, _) = login("carol-pw").await.expect("good password");
    c.simple_query("select 1").await.expect("select");
    let p = &pgward;
    wait_until("both logins written", || {
        let ev = written(p);
        let outcome = |o: &str| {
            ev.iter().any(|e| {
                e["kind"] == "session_start"
                    && e["attrs"]["pgward.auth.outcome"] == o
                    && e["attrs"]["user.name"] == "carol"
            })
        };
        outcome("failure") && outcome("success")
    })
    .await;
    let failure = written(&pgward)
        .into_iter()
        .find(|e| e["attrs"]["pgward.auth.outcome"] == "failure")
        .unwrap_or_default();
    assert_eq!(failure["attrs"]["db.response.status_code"], "28P01");
}
