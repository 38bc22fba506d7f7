//! Session lifecycle through pgward: authentication passthrough, the
//! connection limit, idle timeouts, graceful shutdown on SIGTERM, server-side
//! termination, an unreachable upstream, and the per-session log lines.

mod common;

use common::polling::{assert_no_server_session, wait_until, POLL_TIMEOUT};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::clients::{describe_error, ConnHandle};
use common::raw::{self, error_field, RawConn};
use common::{
    PgCluster, Pgward, APP_DB, APP_PASSWORD, APP_USER, MD5_PASSWORD, MD5_USER, PW_PASSWORD,
    PW_USER, TRUST_USER,
};
use tokio_postgres::error::DbError;
use tokio_postgres::{Client, NoTls};

/// Failure bound for anything pgward is expected to do "now".
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Failure bound for waits on a timeout inside pgward.
const SLOW_TIMEOUT: Duration = Duration::from_secs(30);
fn start(pg: &PgCluster, args: &[&str]) -> Pgward {
    Pgward::start(pg.port(), args.iter().map(|s| s.to_string()).collect())
}

async fn select_one(client: &Client) -> i32 {
    let v = client
        .query_one("select 1", &[])
        .await
        .unwrap_or_else(|e| panic!("select 1: {}", describe_error(&e)))
        .get(0);
    // tokio-postgres closes the statement it prepared in the background; a
    // reply still owed to that Close would swallow an error the server
    // sends next (a shutdown). Requests are answered in order: once this
    // one is, the Close has been too.
    client
        .simple_query("")
        .await
        .unwrap_or_else(|e| panic!("round trip: {}", describe_error(&e)));
    v
}

/// A fresh tokio-postgres client through pgward runs `select 1`.
async fn assert_still_serving(pgward: &Pgward) {
    let client = match common::try_connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB).await {
        Ok(c) => c,
        Err(e) => panic!(
            "pgward stopped serving: {}\n---- pgward log ----\n{}",
            describe_error(&e),
            pgward.log_contents()
        ),
    };
    assert_eq!(select_one(&client).await, 1);
}

/// Connects as `app` with an application_name (to find the server session).
async fn connect_app(pgward: &Pgward, application_name: &str) -> (Client, ConnHandle) {
    common::connect_with(&format!(
        "{} application_name={application_name}",
        pgward.connstr(APP_USER, APP_PASSWORD, APP_DB)
    ))
    .await
}

/// Waits (bounded) for the connection task to end and returns the server
/// error it ended with; panics if it ended cleanly or without a DbError.
async fn connection_db_error(handle: ConnHandle) -> DbError {
    let res = tokio::time::timeout(SLOW_TIMEOUT, handle)
        .await
        .unwrap_or_else(|_| panic!("connection still open after {SLOW_TIMEOUT:?}"))
        .expect("connection task panicked");
    let err = match res {
        Ok(()) => panic!("connection ended without an error"),
        Err(e) => e,
    };
    err.as_db_error()
        .unwrap_or_else(|| panic!("connection ended with a non-server error: {err}"))
        .clone()
}

#[track_caller]
fn assert_fatal(db: &DbError, code: &str, message: &str) {
    assert_eq!(db.code().code(), code, "SQLSTATE of {db:?}");
    assert_eq!(db.severity(), "FATAL", "severity of {db:?}");
    assert!(
        db.message().contains(message),
        "message {:?} should contain {message:?}",
        db.message()
    );
}

async fn wait_for_log(pgward: &Pgward, needle: &str) {
    wait_until(&format!("pgward log contains {needle:?}"), || {
        pgward.log_contents().contains(needle)
    })
    .await;
}

/// A raw session as the trust user, authenticated and ready for queries.
fn raw_session(port: u16, application_name: &str) -> RawConn {
    let mut conn = RawConn::connect(port);
    let msgs = conn.startup(
        &[
            ("user", TRUST_USER),
            ("database", APP_DB),
            ("application_name", application_name),
        ],
        None,
    );
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "startup through pgward: {:?}",
        raw::tags(&msgs)
    );
    conn
}

/// Runs a simple query on a raw session; returns the ReadyForQuery status.
fn raw_query(conn: &mut RawConn, sql: &str) -> u8 {
    conn.send(&raw::query(sql));
    let msgs = conn.read_until(b'Z');
    msgs.last().expect("ReadyForQuery").1[0]
}

/// The next message is a FATAL ErrorResponse with `code`, then the connection closes.
#[track_caller]
fn raw_expect_fatal_then_close(conn: &mut RawConn, code: &str, needle: &str) {
    let (tag, body) = conn.read_message();
    assert_eq!(
        tag, b'E',
        "expected an ErrorResponse, got {:?}",
        tag as char
    );
    assert_eq!(error_field(&body, b'S').as_deref(), Some("FATAL"));
    assert_eq!(
        error_field(&body, b'C').as_deref(),
        Some(code),
        "{:?}",
        raw::error_fields(&body)
    );
    let message = error_field(&body, b'M').unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} should contain {needle:?}"
    );
    let rest = conn.expect_closed(CLOSE_TIMEOUT);
    assert!(rest.is_empty(), "bytes after the FATAL error: {rest:?}");
}

// ---------------------------------------------------------------- auth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_passthrough_for_all_methods() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);

    for (user, password) in [
        (TRUST_USER, ""),
        (MD5_USER, MD5_PASSWORD),
        (PW_USER, PW_PASSWORD),
        (APP_USER, APP_PASSWORD),
    ] {
        let client = common::try_connect(pgward.port(), user, password, APP_DB)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{user} through pgward: {}\n---- pgward log ----\n{}",
                    describe_error(&e),
                    pgward.log_contents()
                )
            });
        let row = client
            .query_one("select current_user::text, current_database()::text", &[])
            .await
            .expect("whoami");
        assert_eq!(row.get::<_, String>(0), user);
        assert_eq!(row.get::<_, String>(1), APP_DB);
    }

    // psql (libpq) as well, for the scram user.
    let out = common::psql(
        pgward.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-At", "-c", "select current_user"],
    );
    let stdout = common::clients::assert_success(&out, "psql through pgward");
    assert_eq!(stdout.trim(), APP_USER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_password_error_reaches_client_intact() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);

    for user in [APP_USER, MD5_USER, PW_USER] {
        let direct = common::try_connect(pg.port(), user, "wrong-password", APP_DB)
            .await
            .err()
            .unwrap_or_else(|| panic!("{user}: wrong password accepted directly"));
        let proxied = common::try_connect(pgward.port(), user, "wrong-password", APP_DB)
            .await
            .err()
            .unwrap_or_else(|| panic!("{user}: wrong password accepted through pgward"));
        let direct = direct.as_db_error().expect("server error directly");
        let proxied = proxied
            .as_db_error()
            .unwrap_or_else(|| panic!("{user}: no server error through pgward: {proxied}"));
        assert_eq!(proxied.code().code(), "28P01", "{user}: {proxied:?}");
        assert_eq!(proxied.severity(), "FATAL");
        assert_eq!(
            proxied.message(),
            format!("password authentication failed for user \"{user}\"")
        );
        assert_eq!(proxied.message(), direct.message(), "{user}");
        assert_eq!(proxied.code(), direct.code(), "{user}");
    }
    assert_still_serving(&pgward).await;
}

// ---------------------------------------------------------------- limits

/// Connects, retrying (bounded) only while pgward reports 53300.
async fn connect_when_room(pgward: &Pgward) -> Client {
    let deadline = Instant::now() + POLL_TIMEOUT;
    loop {
        match common::try_connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB).await {
            Ok(c) => return c,
            Err(e) if common::sqlstate(&e).as_deref() == Some("53300") => {
                assert!(
                    Instant::now() < deadline,
                    "still over the connection limit after {POLL_TIMEOUT:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("connect: {}", describe_error(&e)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_refuses_then_recovers_and_honours_cancel() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--max-connections", "2"]);

    let (c1, _h1) = connect_app(&pgward, "limit-one").await;
    let (c2, h2) = connect_app(&pgward, "limit-two").await;
    assert_eq!(select_one(&c1).await, 1);
    assert_eq!(select_one(&c2).await, 1);

    let err = common::try_connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB)
        .await
        .expect_err("a third connection must be refused");
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("no server error: {}", describe_error(&err)));
    assert_fatal(db, "53300", "sorry, too many clients already");

    // psql sees the same.
    let out = common::psql(
        pgward.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-c", "select 1"],
    );
    let stderr = common::clients::assert_failure(&out, "psql over the limit");
    assert!(
        stderr.contains("sorry, too many clients already"),
        "{stderr}"
    );

    // A CancelRequest still gets through while full.
    let cancel = c1.cancel_token();
    let sleeper = tokio::spawn(async move {
        let r = c1.simple_query("select pg_sleep(60)").await;
        (c1, r)
    });
    wait_until("pg_sleep running", || {
        pg.admin_sql(
            "postgres",
            "select count(*) from pg_stat_activity \
             where application_name = 'limit-one' and state = 'active' and query like '%pg_sleep%'",
        ) == "1"
    })
    .await;
    cancel
        .cancel_query(NoTls)
        .await
        .unwrap_or_else(|e| panic!("send cancel: {}", describe_error(&e)));
    let (c1, r) = tokio::time::timeout(SLOW_TIMEOUT, sleeper)
        .await
        .expect("cancelled query did not return")
        .expect("sleeper task");
    let err = r.expect_err("pg_sleep must have been cancelled");
    assert_eq!(
        common::sqlstate(&err).as_deref(),
        Some("57014"),
        "{}",
        describe_error(&err)
    );
    assert_eq!(select_one(&c1).await, 1, "session usable after cancel");

    // One leaves: room for a new one.
    drop(c2);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, h2).await;
    let c3 = connect_when_room(&pgward).await;
    assert_eq!(select_one(&c3).await, 1);
    // Full again.
    let err = common::try_connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB)
        .await
        .expect_err("full again");
    assert_eq!(common::sqlstate(&err).as_deref(), Some("53300"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_limit_encryption_requests_are_declined_before_53300() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--max-connections", "1"]);
    let (c1, _h1) = connect_app(&pgward, "only-one").await;
    assert_eq!(select_one(&c1).await, 1);

    for request in [raw::ssl_request(), raw::gssenc_request()] {
        let mut conn = RawConn::connect(pgward.port());
        conn.send(&request);
        assert_eq!(conn.read_byte(), b'N', "encryption declined over the limit");
        raw_expect_fatal_then_close(&mut conn, "53300", "sorry, too many clients already");
    }
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::startup_message(&[
        ("user", TRUST_USER),
        ("database", APP_DB),
    ]));
    raw_expect_fatal_then_close(&mut conn, "53300", "sorry, too many clients already");
    assert_eq!(
        select_one(&c1).await,
        1,
        "the admitted session is unaffected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sessions_give_their_slot_back() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--max-connections", "2"]);

    for round in 0..3 {
        // Wrong password.
        let err = common::try_connect(pgward.port(), APP_USER, "nope", APP_DB)
            .await
            .expect_err("wrong password");
        let code = common::sqlstate(&err);
        assert!(
            code.as_deref() == Some("28P01") || code.as_deref() == Some("53300"),
            "round {round}: {}",
            describe_error(&err)
        );
        // Client vanishing at the password request.
        let mut conn = RawConn::connect(pgward.port());
        conn.send(&raw::startup_message(&[
            ("user", PW_USER),
            ("database", APP_DB),
        ]));
        let _ = conn.try_read_message();
        drop(conn);
        // Garbage.
        let mut conn = RawConn::connect(pgward.port());
        conn.send(b"\0\0\0\x01garbage");
        let _ = conn.read_until_closed(CLOSE_TIMEOUT);
    }
    // Both slots are free again.
    let a = connect_when_room(&pgward).await;
    let b = connect_when_room(&pgward).await;
    assert_eq!(select_one(&a).await, 1);
    assert_eq!(select_one(&b).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_message_size_has_a_floor_of_1024() {
    let pg = PgCluster::start();
    let Err(err) = Pgward::try_start(pg.port(), vec!["--max-message-size".into(), "1023".into()])
    else {
        panic!("--max-message-size 1023 must be refused");
    };
    assert!(err.contains("max_message_size"), "{err}");
    let pgward = start(&pg, &["--max-message-size", "1024"]);
    assert_still_serving(&pgward).await;
}

// ---------------------------------------------------------------- idle timeouts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_ends_idle_session() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--idle-timeout", "1s"]);

    let app = "idle-victim";
    let (client, handle) = connect_app(&pgward, app).await;
    assert_eq!(select_one(&client).await, 1);
    let db = connection_db_error(handle).await;
    assert_fatal(
        &db,
        "57P05",
        "terminating connection due to idle-session timeout",
    );
    let err = client
        .simple_query("select 1")
        .await
        .expect_err("the session is gone");
    assert!(err.is_closed(), "{}", describe_error(&err));
    assert_no_server_session(&pg, app).await;

    // Raw client: exactly the FATAL, then close.
    let app = "idle-raw";
    let mut conn = raw_session(pgward.port(), app);
    conn.set_read_timeout(SLOW_TIMEOUT);
    let conn = tokio::task::spawn_blocking(move || {
        raw_expect_fatal_then_close(&mut conn, "57P05", "idle-session timeout");
        conn
    })
    .await
    .expect("raw reader");
    drop(conn);
    assert_no_server_session(&pg, app).await;
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_spares_busy_sessions() {
    let pg = PgCluster::start();
    let pgward = start(
        &pg,
        &[
            "--idle-timeout",
            "1s",
            "--idle-in-transaction-timeout",
            "1s",
        ],
    );

    // A statement running longer than both timeouts: the session is busy, not idle.
    let (client, _h) = connect_app(&pgward, "busy").await;
    client
        .batch_execute("select pg_sleep(2.5)")
        .await
        .unwrap_or_else(|e| panic!("long statement: {}", describe_error(&e)));
    client
        .batch_execute("begin; select pg_sleep(2.5); commit")
        .await
        .unwrap_or_else(|e| panic!("long statement in a transaction: {}", describe_error(&e)));
    assert_eq!(select_one(&client).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_still_fires_after_async_notification() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--idle-timeout", "5s"]);

    // A LISTENing session that receives a notification while idle is still idle.
    let mut conn = raw_session(pgward.port(), "listener");
    assert_eq!(raw_query(&mut conn, "listen pgward_test"), b'I');
    pg.admin_sql(APP_DB, "notify pgward_test, 'hello'");
    conn.set_read_timeout(SLOW_TIMEOUT);
    let log = pgward.dir().join("stderr.log");
    tokio::task::spawn_blocking(move || {
        let (tag, body) = conn.read_message();
        assert_eq!(
            tag as char,
            'A',
            "expected the NotificationResponse first: {:?}",
            String::from_utf8_lossy(&body)
        );
        match conn.try_read_message() {
            Ok(Some((b'E', body))) => {
                assert_eq!(error_field(&body, b'C').as_deref(), Some("57P05"));
            }
            other => panic!(
                "idle session that got a notification was not ended by the idle timeout: \
                 {other:?}\n---- pgward log ----\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
        conn.expect_closed(CLOSE_TIMEOUT);
    })
    .await
    .expect("raw reader");
    assert_no_server_session(&pg, "listener").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_in_transaction_timeout_ends_only_sessions_in_a_transaction() {
    let pg = PgCluster::start();
    pg.admin_sql(
        APP_DB,
        &format!("create table iit(id int); grant select, insert on iit to {TRUST_USER}"),
    );
    let pgward = start(&pg, &["--idle-in-transaction-timeout", "1s"]);

    // Idle outside a transaction, opened first: must survive.
    let mut outside = raw_session(pgward.port(), "iit-outside");
    assert_eq!(raw_query(&mut outside, "select 1"), b'I');

    let mut in_txn = raw_session(pgward.port(), "iit-open");
    assert_eq!(
        raw_query(&mut in_txn, "begin; insert into iit values (1)"),
        b'T'
    );
    let mut failed = raw_session(pgward.port(), "iit-failed");
    failed.send(&raw::query("begin; select 1/0"));
    let msgs = failed.read_until(b'Z');
    assert_eq!(msgs.last().expect("Z").1[0], b'E', "failed transaction");

    in_txn.set_read_timeout(SLOW_TIMEOUT);
    failed.set_read_timeout(SLOW_TIMEOUT);
    let (in_txn, failed) = tokio::task::spawn_blocking(move || {
        raw_expect_fatal_then_close(
            &mut in_txn,
            "25P03",
            "terminating connection due to idle-in-transaction timeout",
        );
        raw_expect_fatal_then_close(&mut failed, "25P03", "idle-in-transaction timeout");
        (in_txn, failed)
    })
    .await
    .expect("raw readers");
    drop((in_txn, failed));
    assert_no_server_session(&pg, "iit-open").await;
    assert_no_server_session(&pg, "iit-failed").await;
    assert_eq!(
        pg.admin_sql(APP_DB, "select count(*) from iit"),
        "0",
        "the open transaction must have been rolled back"
    );

    // The session idle outside a transaction is untouched.
    assert_eq!(raw_query(&mut outside, "select 1"), b'I');

    // tokio-postgres sees the error on its connection.
    let (client, handle) = connect_app(&pgward, "iit-tokio").await;
    client.batch_execute("begin").await.expect("begin");
    let db = connection_db_error(handle).await;
    assert_fatal(&db, "25P03", "idle-in-transaction timeout");
    assert_still_serving(&pgward).await;
}

// ---------------------------------------------------------------- shutdown

fn assert_exit_0(pgward: &mut Pgward, within: Duration) {
    let status = pgward.wait_exit(within).unwrap_or_else(|| {
        panic!(
            "pgward still running {within:?} after SIGTERM\n---- log ----\n{}",
            pgward.log_contents()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "pgward exit status {status}\n---- log ----\n{}",
        pgward.log_contents()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_ends_sessions_after_grace() {
    let pg = PgCluster::start();
    let mut pgward = start(&pg, &["--shutdown-grace", "5s"]);
    let port = pgward.port();

    let app = "drain-victim";
    let (client, handle) = connect_app(&pgward, app).await;
    assert_eq!(select_one(&client).await, 1);

    pgward.terminate();
    wait_for_log(&pgward, "no longer accepting connections").await;

    // New connections are refused at the TCP level.
    let err = std::net::TcpStream::connect(("127.0.0.1", port))
        .expect_err("the listener must be closed after SIGTERM");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let err = common::try_connect(port, APP_USER, APP_PASSWORD, APP_DB)
        .await
        .expect_err("tokio-postgres connect after SIGTERM must fail");
    assert!(err.as_db_error().is_none(), "{}", describe_error(&err));

    // The open session keeps working during the grace period.
    assert_eq!(select_one(&client).await, 1);
    let row = client
        .query_one("select count(*) from pg_class", &[])
        .await
        .expect("query during grace");
    assert!(row.get::<_, i64>(0) > 0);

    // Then it is ended with 57P01.
    let db = connection_db_error(handle).await;
    assert_fatal(
        &db,
        "57P01",
        "terminating connection because pgward is shutting down",
    );
    assert!(client.simple_query("select 1").await.is_err());
    assert_exit_0(&mut pgward, SLOW_TIMEOUT);
    assert_no_server_session(&pg, app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_raw_session_gets_57p01_after_grace() {
    let pg = PgCluster::start();
    let mut pgward = start(&pg, &["--shutdown-grace", "2s"]);

    let mut conn = raw_session(pgward.port(), "drain-raw");
    pgward.terminate();
    wait_for_log(&pgward, "no longer accepting connections").await;
    assert_eq!(raw_query(&mut conn, "select 1"), b'I');
    conn.set_read_timeout(SLOW_TIMEOUT);
    tokio::task::spawn_blocking(move || {
        raw_expect_fatal_then_close(
            &mut conn,
            "57P01",
            "terminating connection because pgward is shutting down",
        );
    })
    .await
    .expect("raw reader");
    assert_exit_0(&mut pgward, SLOW_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_as_soon_as_sessions_end() {
    let pg = PgCluster::start();
    // A grace far longer than the exit bound below.
    let mut pgward = start(&pg, &["--shutdown-grace", "300s"]);

    let (client, handle) = connect_app(&pgward, "drain-quick").await;
    assert_eq!(select_one(&client).await, 1);
    pgward.terminate();
    wait_for_log(&pgward, "no longer accepting connections").await;
    assert_eq!(select_one(&client).await, 1);
    assert!(
        pgward.try_exit_status().is_none(),
        "pgward exited while a session was open"
    );
    drop(client);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, handle).await;
    assert_exit_0(&mut pgward, SLOW_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_without_sessions_exits_promptly() {
    let pg = PgCluster::start();
    let mut pgward = start(&pg, &["--shutdown-grace", "300s"]);
    assert_still_serving(&pgward).await;
    pgward.terminate();
    assert_exit_0(&mut pgward, SLOW_TIMEOUT);
    assert!(pgward.log_contents().contains("pgward stopped"));
}

// ---------------------------------------------------------------- server side

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_termination_is_forwarded() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);

    let app = "terminate-me";
    let (client, handle) = connect_app(&pgward, app).await;
    assert_eq!(select_one(&client).await, 1);
    let killed = pg.admin_sql(
        "postgres",
        &format!(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity \
             where application_name = '{app}'"
        ),
    );
    assert_eq!(killed, "1");
    let db = connection_db_error(handle).await;
    assert_fatal(
        &db,
        "57P01",
        "terminating connection due to administrator command",
    );
    assert!(client.simple_query("select 1").await.is_err());

    // Same through a raw session: the server's FATAL, then close.
    let app = "terminate-raw";
    let mut conn = raw_session(pgward.port(), app);
    pg.admin_sql(
        "postgres",
        &format!(
            "select pg_terminate_backend(pid) from pg_stat_activity \
             where application_name = '{app}'"
        ),
    );
    tokio::task::spawn_blocking(move || {
        raw_expect_fatal_then_close(&mut conn, "57P01", "administrator command");
    })
    .await
    .expect("raw reader");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_then_back() {
    let mut pg = PgCluster::start();
    let mut pgward = start(&pg, &[]);

    let (client, handle) = connect_app(&pgward, "before-stop").await;
    assert_eq!(select_one(&client).await, 1);

    pg.stop_fast();
    // The open session hears the server's own shutdown error.
    let db = match tokio::time::timeout(SLOW_TIMEOUT, handle).await {
        Ok(Ok(Err(e))) if e.as_db_error().is_some() => e.as_db_error().cloned().expect("db error"),
        other => panic!(
            "expected the server's error, got {other:?}\n---- pgward log ----\n{}",
            pgward.log_contents()
        ),
    };
    assert_eq!(db.code().code(), "57P01", "{db:?}");

    for _ in 0..3 {
        let err = common::try_connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB)
            .await
            .expect_err("connect with the upstream down must fail");
        let db = err
            .as_db_error()
            .unwrap_or_else(|| panic!("no error from pgward: {}", describe_error(&err)));
        assert_fatal(
            db,
            "08001",
            "pgward could not connect to the database server",
        );
    }
    // psql sees it too.
    let out = common::psql(
        pgward.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-c", "select 1"],
    );
    let stderr = common::clients::assert_failure(&out, "psql with upstream down");
    assert!(
        stderr.contains("pgward could not connect to the database server"),
        "{stderr}"
    );
    assert!(
        pgward.try_exit_status().is_none(),
        "pgward must keep running"
    );

    pg.restart();
    assert_still_serving(&pgward).await;
    let (client, _h) = connect_app(&pgward, "after-restart").await;
    assert_eq!(select_one(&client).await, 1);
}

// ---------------------------------------------------------------- logs

/// A minimal JSON value, enough for tracing's JSON log lines.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key),
            _ => None,
        }
    }
    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Json::Str(s)) => Some(s),
            _ => None,
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'n') => self.lit("null", Json::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let text =
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                text.parse()
                    .map(Json::Num)
                    .map_err(|e| format!("bad number {text:?}: {e}"))
            }
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("bad \\u")?;
                            let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                            let cp = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                            self.i += 4;
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(format!("bad escape at {}", self.i)),
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|e| e.to_string())
    }
}

/// Every stderr line parsed as JSON; panics on a line that is not.
fn json_log_lines(pgward: &Pgward) -> Vec<Json> {
    pgward
        .log_contents()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| JsonParser::parse(l).unwrap_or_else(|e| panic!("log line not JSON ({e}): {l}")))
        .collect()
}

/// The session id from a session log line's span list.
fn session_id(line: &Json) -> Option<String> {
    match line.get("spans") {
        Some(Json::Arr(spans)) => spans.iter().find_map(|s| {
            (s.str("name") == Some("session"))
                .then(|| s.str("id").map(str::to_string))
                .flatten()
        }),
        _ => None,
    }
}

fn is_ended(line: &Json) -> bool {
    line.str("message")
        .is_some_and(|m| m.starts_with("session ended"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_has_session_started_and_ended_per_session() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--log-format", "json"]);

    let sessions = [
        (APP_USER, APP_PASSWORD, "log-scram"),
        (TRUST_USER, "", "log-trust"),
        (MD5_USER, MD5_PASSWORD, "log-md5"),
    ];
    for (user, password, app) in sessions {
        let (client, handle) = common::connect_with(&format!(
            "{} application_name={app}",
            pgward.connstr(user, password, APP_DB)
        ))
        .await;
        assert_eq!(select_one(&client).await, 1);
        drop(client);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, handle).await;
    }
    // A session that ends with a protocol error.
    let mut conn = RawConn::connect(pgward.port());
    let msgs = conn.startup(
        &[
            ("user", PW_USER),
            ("database", APP_DB),
            ("application_name", "log-error"),
        ],
        Some(PW_PASSWORD),
    );
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "{:?}",
        raw::tags(&msgs)
    );
    conn.send(&raw::frame(b'!', b""));
    raw_expect_fatal_then_close(&mut conn, "08P01", "invalid frontend message type");

    wait_until("four \"session ended\" log lines", || {
        json_log_lines(&pgward)
            .iter()
            .filter(|l| is_ended(l))
            .count()
            >= 4
    })
    .await;

    let lines = json_log_lines(&pgward);
    let log = pgward.log_contents();
    let all = sessions
        .iter()
        .map(|(u, _, a)| (*u, *a))
        .chain([(PW_USER, "log-error")]);
    for (user, app) in all {
        let started: Vec<&Json> = lines
            .iter()
            .filter(|l| l.str("message") == Some("session started") && l.str("user") == Some(user))
            .collect();
        let ended: Vec<&Json> = lines
            .iter()
            .filter(|l| is_ended(l) && l.str("user") == Some(user))
            .collect();
        assert_eq!(
            started.len(),
            1,
            "one \"session started\" for {user}:\n{log}"
        );
        assert_eq!(ended.len(), 1, "one \"session ended\" for {user}:\n{log}");
        let (started, ended) = (started[0], ended[0]);
        assert_eq!(started.str("level"), Some("INFO"));
        assert_eq!(started.str("database"), Some(APP_DB), "{started:?}");
        assert_eq!(started.str("application"), Some(app), "{started:?}");
        let id = session_id(started).unwrap_or_else(|| panic!("no session id: {started:?}"));
        assert_eq!(
            session_id(ended).as_deref(),
            Some(id.as_str()),
            "started and ended lines belong to the same session"
        );
        assert!(
            matches!(ended.get("duration_ms"), Some(Json::Num(_))),
            "{ended:?}"
        );
        if user != PW_USER {
            assert_eq!(ended.str("message"), Some("session ended"), "{ended:?}");
            assert_eq!(ended.str("database"), Some(APP_DB), "{ended:?}");
        }
    }
    let ids: std::collections::BTreeSet<String> = lines
        .iter()
        .filter(|l| l.str("message") == Some("session started"))
        .filter_map(session_id)
        .collect();
    assert_eq!(ids.len(), 4, "distinct session ids:\n{log}");
}
