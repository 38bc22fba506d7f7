//! Protocol transparency through pgward, driven by tokio-postgres (and a raw
//! client where a driver hides the message): simple and extended protocol,
//! pipelining, binary results, COPY both ways, cancel, notifications,
//! notices, ParameterStatus, error fields, transactions, large results.

mod common;

use common::clients::{assert_success, connect_with_messages};
use common::raw::{self, RawConn};
use common::*;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls, SimpleQueryMessage};

struct Setup {
    pg: PgCluster,
    pgward: Pgward,
}

fn setup() -> Setup {
    let pg = PgCluster::start();
    let pgward = Pgward::start(pg.port(), vec![]);
    Setup { pg, pgward }
}

impl Setup {
    async fn app(&self) -> tokio_postgres::Client {
        connect(self.pgward.port(), APP_USER, APP_PASSWORD, APP_DB).await
    }
    async fn direct(&self) -> tokio_postgres::Client {
        connect(self.pg.port(), APP_USER, APP_PASSWORD, APP_DB).await
    }
}

fn simple_rows(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_protocol_multi_statement_strings() {
    let s = setup();
    let c = s.app().await;
    let msgs = c
        .simple_query(
            "create table t(id int primary key, v text); \
             insert into t values (1, 'a'), (2, null); \
             select id, v from t order by id; select 'x' || 'y'",
        )
        .await
        .expect("multi-statement query");
    assert_eq!(
        simple_rows(&msgs),
        vec![
            vec![Some("1".into()), Some("a".into())],
            vec![Some("2".into()), None],
            vec![Some("xy".into())],
        ]
    );
    let completes: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(
        completes,
        vec![0, 2, 2, 1],
        "one CommandComplete per statement"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_named_unnamed_and_binary() {
    let s = setup();
    let c = s.app().await;
    c.batch_execute(
        "create table k(id int8 primary key, name text, flag bool, score float8, blob bytea)",
    )
    .await
    .expect("create");
    // Named statement, reused with different parameters (binary in and out).
    let ins = c
        .prepare("insert into k values ($1, $2, $3, $4, $5)")
        .await
        .expect("prepare");
    for i in 0..20i64 {
        c.execute(
            &ins,
            &[
                &i,
                &format!("n{i}"),
                &(i % 2 == 0),
                &(i as f64 / 4.0),
                &vec![i as u8, 0, 255],
            ],
        )
        .await
        .expect("execute");
    }
    let rows = c
        .query(
            "select id, name, flag, score, blob from k where id >= $1 order by id",
            &[&15i64],
        )
        .await
        .expect("query");
    assert_eq!(rows.len(), 5);
    let r = &rows[0];
    assert_eq!(r.get::<_, i64>(0), 15);
    assert_eq!(r.get::<_, String>(1), "n15");
    assert!(!r.get::<_, bool>(2));
    assert_eq!(r.get::<_, f64>(3), 3.75);
    assert_eq!(r.get::<_, Vec<u8>>(4), vec![15u8, 0, 255]);
    // Unnamed statement path.
    let n: i64 = c
        .query_one("select count(*) from k where flag = $1", &[&true])
        .await
        .expect("unnamed")
        .get(0);
    assert_eq!(n, 10);
    // A portal fetched in pieces (Execute with a row limit inside a transaction).
    let mut tx_client = s.app().await;
    let tx = tx_client.transaction().await.expect("begin");
    let stmt = tx
        .prepare("select id from k order by id")
        .await
        .expect("prepare");
    let portal = tx.bind(&stmt, &[]).await.expect("bind");
    let mut seen = Vec::new();
    loop {
        let part = tx.query_portal(&portal, 6).await.expect("portal");
        if part.is_empty() {
            break;
        }
        seen.extend(part.iter().map(|r| r.get::<_, i64>(0)));
    }
    tx.commit().await.expect("commit");
    assert_eq!(seen, (0..20).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_come_back_in_order() {
    let s = setup();
    let c = s.app().await;
    let stmt = c.prepare("select $1::int4 * 2").await.expect("prepare");
    // tokio-postgres pipelines concurrent requests on one connection.
    let futs = (0..200i32).map(|i| {
        let c = &c;
        let stmt = &stmt;
        async move { c.query_one(stmt, &[&i]).await.map(|r| r.get::<_, i32>(0)) }
    });
    let results = futures_util::future::join_all(futs).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.expect("pipelined query"), i as i32 * 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_and_out_text_csv_binary() {
    let s = setup();
    let c = s.app().await;
    c.batch_execute("create table c(id int, note text); create table c2(id int, note text)")
        .await
        .expect("create");
    // COPY FROM STDIN, text format, sent in many CopyData messages.
    let sink = c.copy_in("copy c from stdin").await.expect("copy in");
    futures_util::pin_mut!(sink);
    for i in 0..5000 {
        sink.send(bytes::Bytes::from(format!("{i}\tline {i}\n")))
            .await
            .expect("copy data");
    }
    let n = sink.finish().await.expect("copy finish");
    assert_eq!(n, 5000);
    // COPY TO STDOUT in CSV.
    let out: Vec<bytes::Bytes> = c
        .copy_out("copy (select * from c where id < 3 order by id) to stdout with (format csv)")
        .await
        .expect("copy out")
        .try_collect()
        .await
        .expect("copy out data");
    assert_eq!(out.concat(), b"0,line 0\n1,line 1\n2,line 2\n".to_vec());
    // Binary COPY round trip: out of one table, into another.
    let bin: Vec<bytes::Bytes> = c
        .copy_out("copy c to stdout with (format binary)")
        .await
        .expect("binary out")
        .try_collect()
        .await
        .expect("binary data");
    let bin = bin.concat();
    assert!(
        bin.starts_with(b"PGCOPY\n\xff\r\n\0"),
        "binary COPY signature intact"
    );
    let sink = c
        .copy_in("copy c2 from stdin with (format binary)")
        .await
        .expect("binary in");
    futures_util::pin_mut!(sink);
    sink.send(bytes::Bytes::from(bin)).await.expect("send");
    assert_eq!(sink.finish().await.expect("finish"), 5000);
    let same: bool = c
        .query_one(
            "select (select md5(string_agg(id || note, ',' order by id)) from c) = \
                    (select md5(string_agg(id || note, ',' order by id)) from c2)",
            &[],
        )
        .await
        .expect("compare")
        .get(0);
    assert!(same, "binary COPY round trip preserved every row");
    // A COPY that fails on the server reports the error and the session goes on.
    let sink = c.copy_in("copy c from stdin").await.expect("copy in");
    futures_util::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"not-a-number\tx\n"))
        .await
        .expect("send");
    let err = sink.finish().await.expect_err("bad row must fail");
    assert_eq!(sqlstate(&err).as_deref(), Some("22P02"));
    let n: i64 = c
        .query_one("select count(*) from c", &[])
        .await
        .expect("after")
        .get(0);
    assert_eq!(n, 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_reaches_the_right_backend() {
    let s = setup();
    let (c, _conn) = connect_with(&s.pgward.connstr(APP_USER, APP_PASSWORD, APP_DB)).await;
    let token = c.cancel_token();
    let sleeper =
        tokio::spawn(async move { c.simple_query("select pg_sleep(60)").await.map(|_| ()) });
    // Cancel once the backend is really running the sleep (observed on the server).
    let waited = common::util::wait_until(Duration::from_secs(20), || {
        s.pg.admin_sql(
            APP_DB,
            // Governed, the text carries pgward's attribution comment.
            "select count(*) from pg_stat_activity where query like 'select pg_sleep(60)%' and state = 'active'",
        ) == "1"
    });
    assert!(waited, "the sleep never started on the server");
    token
        .cancel_query(NoTls)
        .await
        .expect("cancel request sent");
    let res = tokio::time::timeout(Duration::from_secs(30), sleeper)
        .await
        .expect("cancel must end the query")
        .expect("task");
    let err = res.expect_err("query was cancelled");
    assert_eq!(sqlstate(&err).as_deref(), Some("57014"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_cancel_keys_cancel_nothing() {
    let s = setup();
    let c = s.app().await;
    let server_pid: i32 = c
        .query_one("select pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let running = tokio::spawn(async move {
        let r = c.simple_query("select pg_sleep(1.5), 'done'").await;
        r.map(|m| simple_rows(&m))
    });
    assert!(common::util::wait_until(Duration::from_secs(20), || {
        s.pg.admin_sql(
            APP_DB,
            &format!("select state from pg_stat_activity where pid = {server_pid}"),
        ) == "active"
    }));
    // The server's real pid with guessed secrets, and random pids: none may cancel.
    for (pid, secret) in [(server_pid, 0), (server_pid, 12345), (1, 1), (i32::MAX, -1)] {
        let mut conn = RawConn::connect(s.pgward.port());
        conn.send(&raw::cancel_request(pid, secret));
        let _ = conn.read_until_closed(Duration::from_secs(10));
    }
    let rows = running
        .await
        .expect("task")
        .expect("query must not be cancelled");
    assert_eq!(rows[0][1].as_deref(), Some("done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_notify_and_notices_are_delivered() {
    let s = setup();
    let connstr = s.pgward.connstr(APP_USER, APP_PASSWORD, APP_DB);
    let (listener, mut messages) = connect_with_messages(&connstr).await;
    listener.batch_execute("listen jobs").await.expect("listen");
    let notifier = s.app().await;
    notifier
        .batch_execute("notify jobs, 'payload-1'")
        .await
        .expect("notify");
    notifier
        .query_one("select pg_notify('jobs', $1)", &[&"payload-2"])
        .await
        .expect("pg_notify");
    let mut payloads = Vec::new();
    while payloads.len() < 2 {
        let m = tokio::time::timeout(Duration::from_secs(20), messages.recv())
            .await
            .expect("notification delivered")
            .expect("connection open");
        if let AsyncMessage::Notification(n) = m {
            assert_eq!(n.channel(), "jobs");
            payloads.push(n.payload().to_owned());
        }
    }
    assert_eq!(payloads, vec!["payload-1", "payload-2"]);
    // NoticeResponse from the server reaches the client intact.
    listener
        .batch_execute("do $$ begin raise notice 'hello %', 42; end $$")
        .await
        .expect("notice");
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), messages.recv())
            .await
            .expect("notice delivered")
            .expect("connection open");
        if let AsyncMessage::Notice(n) = m {
            assert_eq!(n.message(), "hello 42");
            assert_eq!(n.code().code(), "00000");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_status_and_startup_parameters_pass_through() {
    let s = setup();
    // Startup parameters, including `options`, arrive at the server unchanged.
    let connstr = format!(
        "{} application_name=proto-test options='-c intervalstyle=iso_8601 -c search_path=custom,public'",
        s.pgward.connstr(APP_USER, APP_PASSWORD, APP_DB)
    );
    let (c, _h) = connect_with(&connstr).await;
    let row = c
        .query_one(
            "select current_setting('intervalstyle'), current_setting('search_path'), \
                    (select application_name from pg_stat_activity where pid = pg_backend_pid())",
            &[],
        )
        .await
        .expect("settings");
    assert_eq!(row.get::<_, String>(0), "iso_8601");
    assert_eq!(row.get::<_, String>(1), "custom,public");
    assert_eq!(row.get::<_, String>(2), "proto-test");
    // ParameterStatus after SET is forwarded (seen with a raw client).
    let mut conn = RawConn::connect(s.pgward.port());
    let hello = conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    let keys: Vec<String> = hello
        .iter()
        .filter(|(t, _)| *t == b'S')
        .map(|(_, b)| {
            String::from_utf8_lossy(b.split(|c| *c == 0).next().unwrap_or_default()).into_owned()
        })
        .collect();
    for k in [
        "server_version",
        "client_encoding",
        "DateStyle",
        "integer_datetimes",
    ] {
        assert!(
            keys.iter().any(|x| x == k),
            "startup ParameterStatus {k} missing: {keys:?}"
        );
    }
    let keydata: Vec<&raw::Message> = hello.iter().filter(|(t, _)| *t == b'K').collect();
    assert_eq!(keydata.len(), 1, "exactly one BackendKeyData");
    assert_eq!(
        keydata[0].1.len(),
        8,
        "protocol 3.0 key: pid + 4-byte secret"
    );
    conn.send(&raw::query("set application_name = 'renamed'"));
    let msgs = conn.read_until(b'Z');
    assert!(
        msgs.iter()
            .any(|(t, b)| *t == b'S' && b.starts_with(b"application_name\0renamed\0")),
        "ParameterStatus for application_name: {:?}",
        raw::tags(&msgs)
    );
    // The cancel key handed out is pgward's own, not the server's.
    conn.send(&raw::query("select pg_backend_pid()"));
    let msgs = conn.read_until(b'Z');
    let row = msgs.iter().find(|(t, _)| *t == b'D').expect("row");
    let server_pid: i32 = String::from_utf8_lossy(&row.1[6..]).parse().expect("pid");
    let client_pid = i32::from_be_bytes([
        keydata[0].1[0],
        keydata[0].1[1],
        keydata[0].1[2],
        keydata[0].1[3],
    ]);
    assert_ne!(
        client_pid, server_pid,
        "the client must not learn the server's key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_every_field_and_the_session_recovers() {
    let s = setup();
    let via = s.app().await;
    let direct = s.direct().await;
    direct
        .batch_execute("create table u(id int primary key, v text check (v <> 'bad'))")
        .await
        .expect("create");
    direct
        .batch_execute("insert into u values (1, 'a')")
        .await
        .expect("insert");
    let cases = [
        "select 1/0",
        "select * from nonexistent_table",
        "selec 1",
        "select 1 from u where",
        "insert into u values (1, 'dup')",
        "insert into u values (2, 'bad')",
        "select 'x'::int",
    ];
    for sql in cases {
        let a = direct.simple_query(sql).await.expect_err("direct error");
        let b = via.simple_query(sql).await.expect_err("proxied error");
        let (a, b) = (
            a.as_db_error().expect("db error"),
            b.as_db_error().expect("db error"),
        );
        assert_eq!(a.code(), b.code(), "{sql}");
        assert_eq!(a.severity(), b.severity(), "{sql}");
        assert_eq!(a.message(), b.message(), "{sql}");
        assert_eq!(a.detail(), b.detail(), "{sql}");
        assert_eq!(a.hint(), b.hint(), "{sql}");
        assert_eq!(a.position(), b.position(), "{sql}");
        assert_eq!(a.schema(), b.schema(), "{sql}");
        assert_eq!(a.table(), b.table(), "{sql}");
        assert_eq!(a.constraint(), b.constraint(), "{sql}");
        assert_eq!(a.routine(), b.routine(), "{sql}");
        // The session is still usable after each error.
        let one: i32 = via
            .query_one("select 1", &[])
            .await
            .expect("recovers")
            .get(0);
        assert_eq!(one, 1);
    }
    // Inside a transaction: the error aborts it, as on the server, until ROLLBACK.
    via.batch_execute("begin").await.expect("begin");
    via.batch_execute("select 1/0").await.expect_err("error");
    let err = via
        .batch_execute("select 1")
        .await
        .expect_err("aborted transaction");
    assert_eq!(sqlstate(&err).as_deref(), Some("25P02"));
    via.batch_execute("rollback").await.expect("rollback");
    via.batch_execute("select 1").await.expect("usable again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() {
    let s = setup();
    let mut c = s.app().await;
    c.batch_execute("create table acct(id int primary key, bal int)")
        .await
        .expect("create");
    c.batch_execute("insert into acct values (1, 100), (2, 0)")
        .await
        .expect("seed");
    let tx = c.transaction().await.expect("begin");
    tx.execute("update acct set bal = bal - 10 where id = 1", &[])
        .await
        .expect("debit");
    tx.execute("update acct set bal = bal + 10 where id = 2", &[])
        .await
        .expect("credit");
    tx.commit().await.expect("commit");
    let tx = c.transaction().await.expect("begin");
    tx.execute("update acct set bal = 0", &[])
        .await
        .expect("update");
    tx.rollback().await.expect("rollback");
    let rows = s
        .direct()
        .await
        .query("select bal from acct order by id", &[])
        .await
        .expect("read");
    let bals: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        bals,
        vec![90, 10],
        "committed work visible, rolled-back work not"
    );
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_stream_without_buffering() {
    let s = setup();
    let c = s.app().await;
    // About 230 MB of row data in 2 million rows.
    let rows = c
        .query_raw::<_, i32, _>(
            "select g, repeat('x', 100) from generate_series(1, 2000000) g",
            [],
        )
        .await
        .expect("query");
    futures_util::pin_mut!(rows);
    let mut n = 0u64;
    let mut sum = 0i64;
    while let Some(r) = rows.next().await {
        let r = r.expect("row");
        sum += r.get::<_, i32>(0) as i64;
        n += 1;
    }
    assert_eq!(n, 2_000_000);
    assert_eq!(sum, 2_000_000i64 * 2_000_001 / 2);
    let peak = peak_rss_kib(s.pgward.pid());
    assert!(
        peak < 64 * 1024,
        "pgward peaked at {peak} KiB while relaying a ~230 MB result: it must stream, not buffer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sessions_are_independent() {
    let s = setup();
    let port = s.pgward.port();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            tokio::spawn(async move {
                let c = connect(port, APP_USER, APP_PASSWORD, APP_DB).await;
                c.batch_execute(&format!(
                    "create temp table mine(v int); insert into mine values ({i})"
                ))
                .await
                .expect("setup");
                for _ in 0..20 {
                    let v: i32 = c
                        .query_one("select v from mine", &[])
                        .await
                        .expect("read")
                        .get(0);
                    assert_eq!(v, i, "each session sees its own temp table");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("session task");
    }
}

#[test]
fn fast_path_function_calls_work() {
    // psql's \lo_import and \lo_export use libpq's large-object API, which
    // speaks the fast-path FunctionCall message.
    let s = setup();
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("in.bin");
    let dst = dir.path().join("out.bin");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &payload).expect("write");
    let script = format!(
        "\\lo_import '{}'\nselect :LASTOID as oid \\gset\n\\lo_export :oid '{}'\nselect lo_unlink(:oid);\n",
        src.display(),
        dst.display()
    );
    let out = common::clients::psql(
        s.pgward.port(),
        SUPERUSER,
        SUPERUSER_PASSWORD,
        APP_DB,
        &["-c", "select 1"],
    );
    assert_success(&out, "psql");
    let mut cmd =
        common::clients::psql_command(s.pgward.port(), SUPERUSER, SUPERUSER_PASSWORD, APP_DB);
    cmd.arg("-f").arg("-");
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("psql");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(script.as_bytes()).expect("script");
    }
    let out = child.wait_with_output().expect("psql output");
    assert_success(&out, "lo_import/lo_export through pgward");
    assert_eq!(std::fs::read(&dst).expect("exported"), payload);
}

#[test]
fn protocol_3_2_startup_is_negotiated_by_the_server() {
    // A 3.2 client against a server that speaks 3.0: the server's
    // NegotiateProtocolVersion reaches the client and the session proceeds.
    let s = setup();
    let mut conn = RawConn::connect(s.pgward.port());
    conn.send(&raw::startup_message_with_version(
        (3 << 16) | 2,
        &[("user", TRUST_USER), ("database", APP_DB)],
    ));
    let msgs = conn.read_until(b'Z');
    let tags = raw::tags(&msgs);
    assert_eq!(
        tags.first(),
        Some(&'v'),
        "NegotiateProtocolVersion first: {tags:?}"
    );
    let v = &msgs[0].1;
    assert_eq!(
        i32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        3 << 16,
        "server offers 3.0"
    );
    let key = msgs
        .iter()
        .find(|(t, _)| *t == b'K')
        .expect("BackendKeyData");
    assert_eq!(key.1.len(), 8, "3.0 key once negotiated down");
    conn.send(&raw::query("select 42"));
    let reply = conn.read_until(b'Z');
    assert!(
        reply.iter().any(|(t, b)| *t == b'D' && b.ends_with(b"42")),
        "{:?}",
        raw::tags(&reply)
    );
}
