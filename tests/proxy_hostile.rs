//! Hostile and malformed input against pgward: every bad frontend byte
//! sequence gets the exact client-visible outcome (an ErrorResponse with the
//! right SQLSTATE, or a closed connection), and pgward keeps serving others.

mod common;

use common::polling::{assert_no_server_session, wait_until};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::clients::describe_error;
use common::raw::{self, error_field, Message, RawConn};
use common::{PgCluster, Pgward, APP_DB, APP_PASSWORD, APP_USER, PW_USER, TRUST_USER};

/// Failure bound for anything pgward is expected to do "now".
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Failure bound for reads that wait on a timeout inside pgward.
const SLOW_READ_TIMEOUT: Duration = Duration::from_secs(30);
fn start(pg: &PgCluster, args: &[&str]) -> Pgward {
    Pgward::start(pg.port(), args.iter().map(|s| s.to_string()).collect())
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
    let one: i32 = client
        .query_one("select 1", &[])
        .await
        .unwrap_or_else(|e| panic!("select 1 through pgward: {}", describe_error(&e)))
        .get(0);
    assert_eq!(one, 1);
}

/// pgward's log file, for failure messages from blocking readers.
fn log_path(pgward: &Pgward) -> PathBuf {
    pgward.dir().join("stderr.log")
}

fn read_log(log: &Path) -> String {
    std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The next message must be a FATAL ErrorResponse; returns (SQLSTATE, message).
#[track_caller]
fn expect_fatal(conn: &mut RawConn, log: &Path) -> (String, String) {
    let (tag, body) = match conn.try_read_message() {
        Ok(Some(m)) => m,
        Ok(None) => panic!(
            "expected a FATAL ErrorResponse, the connection was closed without one\n\
             ---- pgward log ----\n{}",
            read_log(log)
        ),
        Err(e) => panic!(
            "expected a FATAL ErrorResponse, got {e}\n---- pgward log ----\n{}",
            read_log(log)
        ),
    };
    assert_eq!(
        tag as char,
        'E',
        "expected an ErrorResponse, got {:?} {:?}",
        tag as char,
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        error_field(&body, b'S').as_deref(),
        Some("FATAL"),
        "severity of {:?}",
        raw::error_fields(&body)
    );
    let code = error_field(&body, b'C').expect("ErrorResponse without SQLSTATE");
    let message = error_field(&body, b'M').expect("ErrorResponse without message");
    (code, message)
}

/// The next message is FATAL `code` whose message contains `needle`, then
/// the connection closes with nothing more sent.
#[track_caller]
fn expect_fatal_then_close(conn: &mut RawConn, log: &Path, code: &str, needle: &str) -> String {
    let (got_code, message) = expect_fatal(conn, log);
    assert_eq!(got_code, code, "SQLSTATE (message: {message:?})");
    assert!(
        message.contains(needle),
        "message {message:?} should contain {needle:?}"
    );
    let rest = conn.expect_closed(CLOSE_TIMEOUT);
    assert!(
        rest.is_empty(),
        "nothing may follow the FATAL error, got {} bytes: {:?}",
        rest.len(),
        String::from_utf8_lossy(&rest)
    );
    message
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
        "startup through pgward should end in ReadyForQuery, got {:?}",
        raw::tags(&msgs)
    );
    conn
}

fn select_one_raw(conn: &mut RawConn) {
    conn.send(&raw::query("select 1"));
    let msgs = conn.read_until(b'Z');
    let row = msgs
        .iter()
        .find(|m| m.0 == b'D')
        .unwrap_or_else(|| panic!("no DataRow, got {:?}", raw::tags(&msgs)));
    // DataRow: int16 column count, int32 length, value.
    assert_eq!(&row.1[..], &[0, 1, 0, 0, 0, 1, b'1']);
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

// ---------------------------------------------------------------- startup

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_before_startup_gets_invalid_length_error() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    // An HTTP request: "GET " read as a length word is far over the limit.
    let mut conn = RawConn::connect(pgward.port());
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_fatal_then_close(&mut conn, &log, "08P01", "invalid length of startup packet");
    assert_still_serving(&pgward).await;

    // Lengths too small to hold a protocol code.
    for len in [0u32, 3, 4, 7] {
        let mut conn = RawConn::connect(pgward.port());
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0, 3, 0, 0]);
        conn.send(&bytes);
        expect_fatal_then_close(&mut conn, &log, "08P01", "invalid length of startup packet");
        assert_still_serving(&pgward).await;
    }

    // A negative length word.
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&[0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0]);
    expect_fatal_then_close(&mut conn, &log, "08P01", "invalid length of startup packet");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_startup_parameter_lists_are_protocol_violations() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    let version = raw::PROTOCOL_3_0.to_be_bytes();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        // Value not NUL-terminated and no list terminator.
        (
            "unterminated value",
            [&version[..], b"user\0trustuser"].concat(),
        ),
        // Key/value pairs fine but the final terminator is missing.
        (
            "missing final terminator",
            [&version[..], b"user\0trustuser\0"].concat(),
        ),
        // A key without a value.
        ("key without value", [&version[..], b"user\0"].concat()),
        // An empty parameter name followed by more data.
        (
            "empty parameter name",
            [&version[..], b"\0x\0user\0trustuser\0\0"].concat(),
        ),
        // Not valid UTF-8.
        (
            "invalid utf-8",
            [&version[..], b"user\0\xff\xfe\0\0"].concat(),
        ),
    ];
    for (what, body) in bodies {
        let mut conn = RawConn::connect(pgward.port());
        conn.send(&raw::untagged_frame(&body));
        let (code, message) = expect_fatal(&mut conn, &log);
        assert_eq!(code, "08P01", "{what}: {message}");
        let rest = conn.expect_closed(CLOSE_TIMEOUT);
        assert!(rest.is_empty(), "{what}: bytes after the FATAL error");
        assert_still_serving(&pgward).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_2_is_feature_not_supported() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::startup_message_with_version(
        2 << 16,
        &[("user", TRUST_USER), ("database", APP_DB)],
    ));
    expect_fatal_then_close(&mut conn, &log, "0A000", "protocol");
    assert_still_serving(&pgward).await;

    // A made-up major version as well.
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::startup_message_with_version(
        9 << 16,
        &[("user", TRUST_USER)],
    ));
    expect_fatal_then_close(&mut conn, &log, "0A000", "protocol");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_without_user_is_protocol_violation() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::startup_message(&[("database", APP_DB)]));
    expect_fatal_then_close(&mut conn, &log, "08P01", "user");
    assert_still_serving(&pgward).await;

    // No parameters at all.
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::startup_message(&[]));
    expect_fatal_then_close(&mut conn, &log, "08P01", "user");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssenc_request_is_declined_then_startup_works() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);

    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::gssenc_request());
    assert_eq!(conn.read_byte(), b'N', "GSSENCRequest must be declined");
    let msgs = conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "startup after a declined GSSENCRequest: {:?}",
        raw::tags(&msgs)
    );
    select_one_raw(&mut conn);
    conn.send(&raw::terminate());
    conn.expect_closed(CLOSE_TIMEOUT);
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_request_without_tls_is_declined_then_startup_works() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);

    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::ssl_request());
    assert_eq!(conn.read_byte(), b'N', "SSLRequest must be declined");
    let msgs = conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "startup after a declined SSLRequest: {:?}",
        raw::tags(&msgs)
    );
    select_one_raw(&mut conn);
    conn.send(&raw::terminate());
    conn.expect_closed(CLOSE_TIMEOUT);

    // Both declines in a row (libpq with gssencmode=prefer, sslmode=prefer).
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::gssenc_request());
    assert_eq!(conn.read_byte(), b'N');
    conn.send(&raw::ssl_request());
    assert_eq!(conn.read_byte(), b'N');
    let msgs = conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    assert_eq!(
        msgs.last().map(|m| m.0),
        Some(b'Z'),
        "{:?}",
        raw::tags(&msgs)
    );
    select_one_raw(&mut conn);
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_startup_packet_times_out_while_others_connect() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--startup-timeout", "2s"]);
    let log = log_path(&pgward);

    // Three bytes of a length word, then silence.
    let mut stalled = RawConn::connect(pgward.port());
    stalled.send(&[0, 0, 0]);
    stalled.set_read_timeout(SLOW_READ_TIMEOUT);

    // Meanwhile another client gets through.
    assert_still_serving(&pgward).await;

    tokio::task::spawn_blocking(move || {
        expect_fatal_then_close(
            &mut stalled,
            &log,
            "08P01",
            "startup did not complete within",
        );
    })
    .await
    .expect("stalled client task");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_password_request_times_out() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--startup-timeout", "1s"]);
    let log = log_path(&pgward);

    let mut conn = RawConn::connect(pgward.port());
    conn.set_read_timeout(SLOW_READ_TIMEOUT);
    conn.send(&raw::startup_message(&[
        ("user", PW_USER),
        ("database", APP_DB),
    ]));
    let (tag, body) = conn.read_message();
    assert_eq!(tag, b'R', "expected an authentication request");
    assert_eq!(raw::auth_code(&body), Some(3), "cleartext password request");
    // Never answer.
    tokio::task::spawn_blocking(move || {
        expect_fatal_then_close(&mut conn, &log, "08P01", "startup did not complete within");
    })
    .await
    .expect("blocking read");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_garbage_connections_then_good_client() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &["--startup-timeout", "5s"]);

    let garbage: Vec<Vec<u8>> = vec![
        b"\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        vec![0, 0, 0, 2],
        vec![0, 0, 0x27, 0x11, 1, 2, 3, 4],
        raw::startup_message_with_version(1 << 16, &[("user", "x")]),
        raw::startup_message(&[("database", "x")]),
        raw::untagged_frame(&[&raw::PROTOCOL_3_0.to_be_bytes()[..], &b"user"[..]].concat()),
        // A well-formed length announcing more than is ever sent, then EOF.
        vec![0, 0, 1, 0, 0, 3, 0, 0, b'u'],
    ];
    let mut conns = Vec::new();
    for i in 0..50 {
        let mut c = RawConn::connect(pgward.port());
        c.send(&garbage[i % garbage.len()]);
        conns.push(c);
    }
    // Half-close them all: those waiting for more bytes see EOF.
    for c in conns.iter_mut() {
        c.shutdown_write();
    }
    let conns = tokio::task::spawn_blocking(move || {
        for (i, c) in conns.iter_mut().enumerate() {
            let bytes = c
                .read_until_closed(CLOSE_TIMEOUT)
                .unwrap_or_else(|e| panic!("garbage connection {i} not closed: {e}"));
            // Whatever was sent back is at most one FATAL ErrorResponse.
            if !bytes.is_empty() {
                assert_eq!(bytes[0], b'E', "connection {i}: {:?}", bytes);
                let body = &bytes[5..];
                assert_eq!(
                    error_field(body, b'S').as_deref(),
                    Some("FATAL"),
                    "connection {i}"
                );
                let code = error_field(body, b'C').unwrap_or_default();
                assert!(
                    code == "08P01" || code == "0A000",
                    "connection {i}: unexpected SQLSTATE {code}"
                );
            }
        }
        conns
    })
    .await
    .expect("reader task");
    drop(conns);
    assert_still_serving(&pgward).await;
    // And several at once.
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let port = pgward.port();
        tasks.push(tokio::spawn(async move {
            let c = common::connect(port, APP_USER, APP_PASSWORD, APP_DB).await;
            let one: i32 = c.query_one("select 1", &[]).await.expect("select").get(0);
            one
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 1);
    }
}

// ---------------------------------------------------------------- after auth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_frontend_message_types_are_rejected() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    for tag in [b'!', b'z', 0u8, 0xff] {
        let app = format!("bad-tag-{tag}");
        let mut conn = raw_session(pgward.port(), &app);
        select_one_raw(&mut conn);
        conn.send(&raw::frame(tag, b"junk\0"));
        let message =
            expect_fatal_then_close(&mut conn, &log, "08P01", "invalid frontend message type");
        if tag.is_ascii_graphic() {
            assert!(
                message.contains(tag as char),
                "message {message:?} should name the type {:?}",
                tag as char
            );
        }
        assert_no_server_session(&pg, &app).await;
        assert_still_serving(&pgward).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_with_length_below_four_is_rejected() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    for (tag, len) in [(b'Q', 3i32), (b'B', 0), (b'S', -1), (b'Q', i32::MIN)] {
        let app = format!("short-len-{}", tag as char);
        let mut conn = raw_session(pgward.port(), &app);
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&len.to_be_bytes());
        conn.send(&bytes);
        expect_fatal_then_close(&mut conn, &log, "08P01", "invalid length");
        assert_no_server_session(&pg, &app).await;
        assert_still_serving(&pgward).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_length_word_does_not_allocate_or_hang() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    for tag in [b'Q', b'B', b'd'] {
        let app = format!("huge-len-{}", tag as char);
        let mut conn = raw_session(pgward.port(), &app);
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        bytes.extend_from_slice(b"select 1");
        conn.send(&bytes);
        // No more bytes come: pgward must answer without waiting for the body.
        let message = expect_fatal_then_close(&mut conn, &log, "54000", "over the limit");
        assert!(
            message.contains("2147483647"),
            "message should give the announced length: {message:?}"
        );
        assert_no_server_session(&pg, &app).await;
        assert_still_serving(&pgward).await;
    }
    let peak = peak_rss_kib(pgward.pid());
    assert!(
        peak < 256 * 1024,
        "pgward peak RSS {peak} KiB after hostile length words"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_over_max_message_size_is_refused() {
    let pg = PgCluster::start();
    let limit = 65_536usize;
    let pgward = start(&pg, &["--max-message-size", &limit.to_string()]);
    let log = log_path(&pgward);

    // Just under the limit: relayed.
    let mut conn = raw_session(pgward.port(), "under-limit");
    let sql = format!("select length('{}')", "x".repeat(limit - 100));
    let q = raw::query(&sql);
    assert!(q.len() - 1 <= limit);
    conn.send(&q);
    let msgs = conn.read_until(b'Z');
    assert!(
        msgs.iter().any(|m| m.0 == b'D'),
        "query under the limit should run: {:?}",
        raw::tags(&msgs)
    );
    conn.send(&raw::terminate());
    conn.expect_closed(CLOSE_TIMEOUT);

    // A valid 1 MiB query: over the limit.
    let app = "over-limit";
    let mut conn = raw_session(pgward.port(), app);
    let sql = format!("select length('{}')", "y".repeat(1 << 20));
    let q = raw::query(&sql);
    let mut writer = conn.stream.try_clone().expect("clone stream");
    // pgward may close before the whole message was taken: write from a
    // separate thread and ignore errors there.
    let writer = std::thread::spawn(move || {
        let _ = writer.write_all(&q);
    });
    let reader_log = log.clone();
    let message = tokio::task::spawn_blocking(move || {
        let log = reader_log;
        let m = expect_fatal_then_close(&mut conn, &log, "54000", "over the limit");
        drop(conn);
        m
    })
    .await
    .expect("reader");
    assert!(
        message.contains(&limit.to_string()),
        "message should name the limit {limit}: {message:?}"
    );
    writer.join().expect("writer thread");
    assert_no_server_session(&pg, app).await;
    assert_still_serving(&pgward).await;

    // Extended protocol: an oversized Bind ('B') is refused too.
    let app = "over-limit-bind";
    let mut conn = raw_session(pgward.port(), app);
    let mut body = b"\0\0".to_vec();
    body.extend_from_slice(&[0, 0, 0, 1]);
    body.extend_from_slice(&((limit as i32) * 2).to_be_bytes());
    body.extend(std::iter::repeat_n(b'z', limit * 2));
    body.extend_from_slice(&[0, 0]);
    let bind = raw::frame(b'B', &body);
    let mut writer = conn.stream.try_clone().expect("clone stream");
    let writer = std::thread::spawn(move || {
        let _ = writer.write_all(&bind);
    });
    tokio::task::spawn_blocking(move || {
        expect_fatal_then_close(&mut conn, &log, "54000", "over the limit");
    })
    .await
    .expect("reader");
    writer.join().expect("writer thread");
    assert_no_server_session(&pg, app).await;
    assert_still_serving(&pgward).await;
}

// ---------------------------------------------------------------- COPY

fn setup_copy_table(pg: &PgCluster) {
    pg.admin_sql(
        APP_DB,
        &format!(
            "create table copy_target(id int, note text); \
             grant select, insert on copy_target to {TRUST_USER}"
        ),
    );
}

fn start_copy(pgward: &Pgward, app: &str) -> RawConn {
    let mut conn = raw_session(pgward.port(), app);
    conn.send(&raw::query("copy copy_target from stdin"));
    let msgs: Vec<Message> = conn.read_until(b'G');
    assert_eq!(msgs.last().map(|m| m.0), Some(b'G'), "CopyInResponse");
    for i in 0..100 {
        conn.send(&raw::frame(b'd', format!("{i}\trow {i}\n").as_bytes()));
    }
    conn
}

/// The COPY is really in progress on the server.
async fn wait_copy_active(pg: &PgCluster, app: &str) {
    wait_until("COPY active in pg_stat_activity", || {
        pg.admin_sql(
            "postgres",
            &format!(
                "select count(*) from pg_stat_activity \
                 where application_name = '{app}' and query ilike 'copy%' and state = 'active'"
            ),
        ) == "1"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_copy_aborts_copy() {
    let pg = PgCluster::start();
    setup_copy_table(&pg);
    let pgward = start(&pg, &[]);

    let app = "copy-victim";
    let conn = start_copy(&pgward, app);
    wait_copy_active(&pg, app).await;
    // Vanish without CopyDone / CopyFail / Terminate.
    drop(conn);

    assert_no_server_session(&pg, app).await;
    assert_eq!(
        pg.admin_sql(APP_DB, "select count(*) from copy_target"),
        "0",
        "an interrupted COPY must not land rows"
    );
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_copy_data_frame_aborts_copy() {
    let pg = PgCluster::start();
    setup_copy_table(&pg);
    let pgward = start(&pg, &[]);

    let app = "copy-half-frame";
    let mut conn = start_copy(&pgward, app);
    // Half of a CopyData frame: its header promises 100 bytes, 10 arrive.
    let mut partial = vec![b'd'];
    partial.extend_from_slice(&104u32.to_be_bytes());
    partial.extend_from_slice(b"999\tpartia");
    conn.send(&partial);
    wait_copy_active(&pg, app).await;
    drop(conn);

    assert_no_server_session(&pg, app).await;
    assert_eq!(
        pg.admin_sql(APP_DB, "select count(*) from copy_target"),
        "0",
        "an interrupted COPY must not land rows"
    );
    assert_still_serving(&pgward).await;

    // A COPY that completes properly lands its rows (the relay is intact).
    let mut conn = start_copy(&pgward, "copy-complete");
    conn.send(&raw::frame(b'c', &[]));
    let msgs = conn.read_until(b'Z');
    assert!(
        msgs.iter().all(|m| m.0 != b'E'),
        "COPY failed: {:?}",
        raw::tags(&msgs)
    );
    assert_eq!(
        pg.admin_sql(APP_DB, "select count(*) from copy_target"),
        "100"
    );
}

// ---------------------------------------------------------------- during auth

/// A raw connection as the cleartext-password user, stopped at the
/// server's password request.
fn at_password_request(port: u16) -> RawConn {
    let mut conn = RawConn::connect(port);
    conn.send(&raw::startup_message(&[
        ("user", PW_USER),
        ("database", APP_DB),
    ]));
    let (tag, body) = conn.read_message();
    assert_eq!(tag, b'R', "expected an authentication request");
    assert_eq!(raw::auth_code(&body), Some(3), "cleartext password request");
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_during_password_exchange() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    // A message type other than PasswordMessage.
    for tag in [b'Q', b'!'] {
        let mut conn = at_password_request(pgward.port());
        conn.send(&raw::frame(tag, b"select 1\0"));
        expect_fatal_then_close(&mut conn, &log, "08P01", "");
        assert_still_serving(&pgward).await;
    }

    // A password message over any sane size: closed (PostgreSQL itself
    // caps authentication messages), pgward unaffected.
    let mut conn = at_password_request(pgward.port());
    let mut bytes = vec![b'p'];
    bytes.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    bytes.extend_from_slice(b"secret");
    conn.send(&bytes);
    let rest = conn.expect_closed(CLOSE_TIMEOUT);
    if !rest.is_empty() {
        assert_eq!(rest[0], b'E', "only an ErrorResponse may be sent: {rest:?}");
        assert_eq!(error_field(&rest[5..], b'S').as_deref(), Some("FATAL"));
    }
    assert_still_serving(&pgward).await;

    // A password frame whose length word is below 4.
    let mut conn = at_password_request(pgward.port());
    conn.send(&[b'p', 0, 0, 0, 3]);
    expect_fatal_then_close(&mut conn, &log, "08P01", "invalid length");
    assert_still_serving(&pgward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_packet_size_bounds_and_slow_delivery() {
    let pg = PgCluster::start();
    let pgward = start(&pg, &[]);
    let log = log_path(&pgward);

    let packet = |filler: usize| {
        raw::startup_message(&[
            ("user", TRUST_USER),
            ("database", APP_DB),
            ("application_name", &"a".repeat(filler)),
        ])
    };
    let base = packet(0).len();
    // PostgreSQL's own bound: 10000 bytes is fine, one more is not.
    let max = packet(10_000 - base);
    assert_eq!(max.len(), 10_000);
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&max);
    if common::proxy::governed() {
        // Governed, pgward hands the server the verified identity as
        // startup parameters of its own; a packet that leaves no room for
        // them is refused with a message naming the limit, never cut.
        let msgs = conn.read_until(b'E');
        let e = msgs.last().map(|m| m.1.clone()).unwrap_or_default();
        let text = error_field(&e, b'M').unwrap_or_default();
        assert!(text.contains("PostgreSQL accepts at most 10000"), "{text}");
        let mut conn = RawConn::connect(pgward.port());
        conn.send(&packet(10_000 - base - 512));
        let msgs = conn.read_until(b'Z');
        assert!(msgs.iter().all(|m| m.0 != b'E'), "{:?}", raw::tags(&msgs));
        select_one_raw(&mut conn);
    } else {
        let msgs = conn.read_until(b'Z');
        assert!(msgs.iter().all(|m| m.0 != b'E'), "{:?}", raw::tags(&msgs));
        select_one_raw(&mut conn);
    }

    let mut conn = RawConn::connect(pgward.port());
    conn.send(&packet(10_001 - base));
    expect_fatal_then_close(&mut conn, &log, "08P01", "invalid length of startup packet");
    assert_still_serving(&pgward).await;

    // A StartupMessage trickling in one byte at a time is still fine.
    let mut conn = RawConn::connect(pgward.port());
    for b in raw::startup_message(&[("user", TRUST_USER), ("database", APP_DB)]) {
        conn.send(&[b]);
    }
    let msgs = conn.read_until(b'Z');
    assert!(msgs.iter().all(|m| m.0 != b'E'), "{:?}", raw::tags(&msgs));
    select_one_raw(&mut conn);

    // Only a protocol version, no parameter list at all.
    let mut conn = RawConn::connect(pgward.port());
    conn.send(&raw::untagged_frame(&raw::PROTOCOL_3_0.to_be_bytes()));
    expect_fatal_then_close(&mut conn, &log, "08P01", "");
    assert_still_serving(&pgward).await;
}
