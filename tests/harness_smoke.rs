//! Self-tests of the integration harness (no proxy involved): clusters,
//! auth methods, TLS, client tools, raw sockets, process management.

mod common;

use std::time::{Duration, Instant};

use common::clients::{self, assert_success};
use common::raw::{self, RawConn};
use common::{
    PgCluster, PgClusterOptions, APP_DB, APP_PASSWORD, APP_USER, MD5_PASSWORD, MD5_USER,
    PW_PASSWORD, PW_USER, TRUST_USER,
};

async fn select_one(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("select 1", &[])
        .await
        .expect("select 1")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_scram_app_select_1() {
    let t0 = Instant::now();
    let pg = PgCluster::start();
    eprintln!(
        "cluster start: {:?} (total incl. template: {:?})",
        pg.start_duration(),
        t0.elapsed()
    );
    let client = common::connect(pg.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert_eq!(select_one(&client).await, 1);
    let (user, db): (String, String) = {
        let row = client
            .query_one("select current_user::text, current_database()::text", &[])
            .await
            .expect("whoami");
        (row.get(0), row.get(1))
    };
    assert_eq!((user.as_str(), db.as_str()), (APP_USER, APP_DB));
    // app owns its database: it can create tables.
    client
        .batch_execute("create table t(id int primary key); insert into t values (1)")
        .await
        .expect("app can create tables in its db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_trust_md5_password_users_and_wrong_password() {
    let pg = PgCluster::start();

    let c = common::connect(pg.port(), TRUST_USER, "", APP_DB).await;
    assert_eq!(select_one(&c).await, 1);
    let c = common::connect(pg.port(), MD5_USER, MD5_PASSWORD, APP_DB).await;
    assert_eq!(select_one(&c).await, 1);
    let c = common::connect(pg.port(), PW_USER, PW_PASSWORD, APP_DB).await;
    assert_eq!(select_one(&c).await, 1);

    // The md5 role really has an md5 secret; app has scram.
    let kinds = pg.admin_sql(
        "postgres",
        "select rolname || '=' || left(rolpassword, 3) from pg_authid \
         where rolname in ('app','md5user') order by 1",
    );
    assert_eq!(kinds, "app=SCR\nmd5user=md5", "password storage kinds");

    let Err(err) = common::try_connect(pg.port(), APP_USER, "wrong", APP_DB).await else {
        panic!("wrong password must fail");
    };
    assert_eq!(
        common::sqlstate(&err).as_deref(),
        Some("28P01"),
        "{}",
        clients::describe_error(&err)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_tls_cluster_rejects_plain_accepts_tls() {
    let pg = PgCluster::start_with(PgClusterOptions { require_tls: true });

    let Err(err) = common::try_connect(pg.port(), APP_USER, APP_PASSWORD, APP_DB).await else {
        panic!("plain connection must be rejected by hostnossl reject");
    };
    assert_eq!(
        common::sqlstate(&err).as_deref(),
        Some("28000"),
        "{}",
        clients::describe_error(&err)
    );

    let client = common::connect_tls(
        pg.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &pg.ca_cert_path(),
    )
    .await;
    let ssl: bool = client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "connection should be TLS");

    // trustuser is hostssl-only as well.
    let c = common::connect_tls(pg.port(), TRUST_USER, "", APP_DB, &pg.ca_cert_path()).await;
    assert_eq!(select_one(&c).await, 1);
    assert!(common::try_connect(pg.port(), TRUST_USER, "", APP_DB)
        .await
        .is_err());

    // A client that does not trust this CA fails the handshake.
    let other_ca = common::TestCa::new("unrelated CA");
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(
        common::certs::client_config_for_ca_pem(other_ca.cert_pem.as_bytes()),
    );
    let res = clients::try_connect_tls_with(
        &clients::tls_connstr(pg.port(), APP_USER, APP_PASSWORD, APP_DB),
        tls,
    )
    .await;
    assert!(res.is_err(), "untrusted CA must fail verification");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_cluster_also_serves_tls() {
    let pg = PgCluster::start();
    let client = common::connect_tls(
        pg.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &pg.ca_cert_path(),
    )
    .await;
    assert_eq!(select_one(&client).await, 1);
}

#[test]
fn psql_pg_dump_pgbench_work() {
    let pg = PgCluster::start();
    let out = pg.psql(APP_USER, APP_PASSWORD, APP_DB, &["-At", "-c", "select 1"]);
    assert_eq!(assert_success(&out, "psql select 1").trim(), "1");

    // psql over TLS with full verification via env overrides.
    let ca = pg.ca_cert_path();
    let out = clients::psql_with_env(
        pg.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &[
            "-At",
            "-c",
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
        ],
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGHOST", "localhost"),
            ("PGHOSTADDR", "127.0.0.1"),
            ("PGSSLROOTCERT", ca.to_str().expect("utf-8 path")),
        ],
    );
    assert_eq!(assert_success(&out, "psql verify-full").trim(), "t");

    let out = pg.psql(
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &[
            "-c",
            "create table dumped(id int); insert into dumped values (42)",
        ],
    );
    assert_success(&out, "psql create table");
    let out = clients::pg_dump(pg.port(), APP_USER, APP_PASSWORD, APP_DB, &["-t", "dumped"]);
    let dump = assert_success(&out, "pg_dump");
    assert!(dump.contains("CREATE TABLE public.dumped"), "{dump}");

    let out = clients::pgbench(
        pg.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-i", "-q", "-s", "1"],
    );
    assert_success(&out, "pgbench -i");
    let out = clients::pgbench(
        pg.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-c", "2", "-t", "20", "-n"],
    );
    let report = assert_success(&out, "pgbench run");
    assert!(
        report.contains("number of transactions actually processed: 40"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_at_once() {
    let (a, b) = tokio::task::spawn_blocking(|| {
        let h = std::thread::spawn(PgCluster::start);
        let b = PgCluster::start();
        (h.join().expect("cluster thread"), b)
    })
    .await
    .expect("spawn_blocking");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    let ca = common::connect(a.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    let cb = common::connect(b.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    ca.batch_execute("create table only_in_a()")
        .await
        .expect("create in a");
    let n: i64 = cb
        .query_one(
            "select count(*) from pg_class where relname = 'only_in_a'",
            &[],
        )
        .await
        .expect("query b")
        .get(0);
    assert_eq!(n, 0, "clusters must be independent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_fast_and_restart() {
    let mut pg = PgCluster::start();
    let (client, handle) = common::connect_with(&pg.connstr(APP_USER, APP_PASSWORD, APP_DB)).await;
    assert_eq!(select_one(&client).await, 1);

    pg.stop_fast();
    assert!(!pg.is_running());
    assert!(client.query_one("select 1", &[]).await.is_err());
    let conn_result = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("connection task ends after server stop")
        .expect("join");
    assert!(conn_result.is_err() || client.is_closed());
    assert!(
        common::try_connect(pg.port(), APP_USER, APP_PASSWORD, APP_DB)
            .await
            .is_err()
    );

    pg.restart();
    let client = common::connect(pg.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert_eq!(select_one(&client).await, 1);
}

#[test]
fn raw_conn_speaks_the_protocol() {
    let pg = PgCluster::start();

    // SSLRequest gets a single 'S' byte.
    let mut c = RawConn::connect(pg.port());
    c.send(&raw::ssl_request());
    assert_eq!(c.read_byte(), b'S');
    drop(c);

    // Trust startup, then a simple query.
    let mut c = RawConn::connect(pg.port());
    let msgs = c.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "{:?}",
        raw::tags(&msgs)
    );
    c.send(&raw::query("select 41 + 1"));
    let msgs = c.read_until(b'Z');
    assert_eq!(raw::tags(&msgs), vec!['T', 'D', 'C', 'Z']);
    let data_row = &msgs[1].1;
    assert!(data_row.ends_with(b"42"), "{data_row:?}");
    c.send(&raw::terminate());
    c.expect_closed(Duration::from_secs(10));

    // Cleartext password startup.
    let mut c = RawConn::connect(pg.port());
    let msgs = c.startup(
        &[("user", PW_USER), ("database", APP_DB)],
        Some(PW_PASSWORD),
    );
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "{:?}",
        raw::tags(&msgs)
    );

    // Unknown database -> ErrorResponse 3D000, then the server closes.
    let mut c = RawConn::connect(pg.port());
    let msgs = c.startup(&[("user", TRUST_USER), ("database", "nope")], None);
    let (tag, body) = msgs.last().expect("a message");
    assert_eq!(*tag, b'E');
    assert_eq!(raw::error_field(body, b'C').as_deref(), Some("3D000"));
    c.expect_closed(Duration::from_secs(10));

    // Garbage length in the startup packet: the server hangs up.
    let mut c = RawConn::connect(pg.port());
    c.send(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]);
    c.expect_closed(Duration::from_secs(10));
}

fn fake_proxy(script: &str) -> Result<common::Pgward, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(script);
    common::Pgward::spawn(cmd, dir)
}

#[test]
fn process_harness_with_fake_proxy() {
    // Ready line parsed, extra stdout drained, SIGTERM honoured.
    let mut p = fake_proxy(
        "trap 'echo bye >&2; exit 0' TERM; echo 'pgward listening on 127.0.0.1:54321'; \
         echo after; echo 'log line' >&2; while :; do sleep 1; done",
    )
    .expect("fake proxy starts");
    assert_eq!(p.port(), 54321);
    // The script may not have reached its log line when the ready line is
    // read; signalling before it would race the trap.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !p.log_contents().contains("log line") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    p.terminate();
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(p.log_contents().contains("log line"));
    assert!(p.log_contents().contains("bye"));
    assert!(p.wait_stdout_eof(Duration::from_secs(10)), "stdout EOF");
    assert_eq!(p.stdout_contents(), "after\n");

    // Exits before readiness -> Err carrying stderr.
    let err = match fake_proxy("echo 'bad flag --frobnicate' >&2; exit 2") {
        Ok(_) => panic!("must fail"),
        Err(e) => e,
    };
    assert!(err.contains("bad flag --frobnicate"), "{err}");

    // Wrong first line -> Err.
    assert!(fake_proxy("echo hello; sleep 5").is_err());

    // Drop kills a process that ignores SIGTERM.
    let mut p = fake_proxy("trap '' TERM; echo 'pgward listening on 127.0.0.1:1'; exec sleep 300")
        .expect("fake proxy starts");
    p.terminate();
    assert!(p.wait_exit(Duration::from_millis(200)).is_none());
    drop(p);
}

/// Governed test mode must really govern: a suite that passes governed
/// has run with analysis, stamping, masking follow-up and audit on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governed_test_mode_governs() {
    let pg = PgCluster::start();
    let b = common::PgwardBuilder::new()
        .upstream_port(pg.port())
        .governed_mode();
    let spool = b.dir().join("governed-spool");
    let pgward = b.start();
    let c = common::connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    let app = c
        .simple_query("select query from pg_stat_activity where pid = pg_backend_pid()")
        .await
        .expect("own query");
    let text = app
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("a row");
    assert!(
        text.contains("pgward_profile='governed'"),
        "stamped: {text}"
    );
    let err = c.simple_query("selec 1").await.expect_err("refused");
    assert_eq!(common::sqlstate(&err).as_deref(), Some("42601"));
    drop(c);
    let found = common::util::wait_until(std::time::Duration::from_secs(20), || {
        std::fs::read_dir(&spool).is_ok_and(|d| {
            d.flatten().any(|f| {
                std::fs::read_to_string(f.path())
                    .is_ok_and(|s| s.contains("pg_stat_activity") && s.contains("\"deny\""))
            })
        })
    });
    assert!(found, "audit events in {}", spool.display());
}
