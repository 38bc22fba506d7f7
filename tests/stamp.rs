//! The attribution stamp against a real server: what the server sees of a
//! statement (its own `pg_stat_activity.query`), that error positions do not
//! move, that hostile values stay inside the comment, that prepared
//! statements are prepared once, and when there is no stamp at all.

mod common;

use common::*;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const PW: &str = "stamp-pw";
const USERS: [&str; 3] = ["ann", "plain_user", "traced_user"];

const POLICY: &str = r#"
version: 1
default_profile: analyst
identities:
  - match: { user: ann }
    profile: analyst
  - match: { user: plain_user }
    profile: unstamped
  - match: { user: traced_user }
    profile: traced
profiles:
  unstamped:
    inherits: analyst
    stamp: false
  traced:
    inherits: analyst
    traceparent: true
"#;

/// The session's own statement as the server recorded it.
const SELF_QUERY: &str = "select query from pg_stat_activity where pid = pg_backend_pid()";

struct Env {
    pg: PgCluster,
    pgward: Pgward,
}

fn env_with(policy: Option<&str>) -> Env {
    let pg = PgCluster::start();
    for u in USERS {
        pg.admin_sql(
            APP_DB,
            &format!("create role {u} login superuser password '{PW}'"),
        );
    }
    let mut builder = Pgward::builder().upstream_port(pg.port());
    if let Some(p) = policy {
        let path = builder.write_file("policy.yaml", p);
        builder = builder.arg("--policy").arg(path.display().to_string());
    }
    Env {
        pg,
        pgward: builder.start(),
    }
}

async fn client_as(port: u16, user: &str, app: Option<&str>) -> Client {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1")
        .port(port)
        .user(user)
        .password(PW)
        .dbname(APP_DB);
    if let Some(a) = app {
        cfg.application_name(a);
    }
    let (client, conn) = cfg
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect as {user}: {}", clients::describe_error(&e)));
    tokio::spawn(conn);
    client
}

/// The first column of the first row of a simple query.
async fn simple_value(c: &Client, sql: &str) -> String {
    let msgs = c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", clients::describe_error(&e)));
    msgs.into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

/// The value of `key` in the statement's trailing sqlcommenter comment.
fn stamp_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    let start = query.rfind("/*")?;
    let body = query[start + 2..].strip_suffix("*/")?;
    body.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.trim_matches('\''))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sees_the_stamp_with_verified_facts() {
    let env = env_with(Some(POLICY));
    let c = client_as(env.pgward.port(), "ann", Some("report-bot")).await;
    let q = simple_value(&c, SELF_QUERY).await;
    assert!(q.starts_with(SELF_QUERY), "{q}");
    assert_eq!(stamp_value(&q, "pgward_user"), Some("ann"), "{q}");
    assert_eq!(stamp_value(&q, "pgward_profile"), Some("analyst"), "{q}");
    assert_eq!(stamp_value(&q, "pgward_branch"), Some("default"), "{q}");
    assert_eq!(stamp_value(&q, "application"), Some("report-bot"), "{q}");
    let session = stamp_value(&q, "pgward_session").unwrap_or_default();
    assert_eq!(session.len(), 16, "{q}");
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()), "{q}");
    assert!(stamp_value(&q, "traceparent").is_none(), "{q}");

    // Extended protocol: the Parse carries it too, and parameters still bind.
    let row = c
        .query_one(
            "select query, $1::int + 1 from pg_stat_activity where pid = pg_backend_pid()",
            &[&41i32],
        )
        .await
        .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
    let q2: String = row.get(0);
    let n: i32 = row.get(1);
    assert_eq!(n, 42);
    assert_eq!(stamp_value(&q2, "pgward_user"), Some("ann"), "{q2}");
    assert_eq!(stamp_value(&q2, "pgward_session"), Some(session), "{q2}");

    // The application the client switches to is what later statements claim.
    c.simple_query("set application_name = 'second-tool'")
        .await
        .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
    let q3 = simple_value(&c, SELF_QUERY).await;
    assert_eq!(stamp_value(&q3, "application"), Some("second-tool"), "{q3}");
    assert_eq!(stamp_value(&q3, "pgward_session"), Some(session), "{q3}");

    // Another session has another id.
    let other = client_as(env.pgward.port(), "ann", None).await;
    let q4 = simple_value(&other, SELF_QUERY).await;
    assert_ne!(stamp_value(&q4, "pgward_session"), Some(session), "{q4}");
    assert_eq!(stamp_value(&q4, "application"), Some(""), "{q4}");
}

/// Position of the server's error for `sql`, simple and extended protocol.
async fn positions(c: &Client, sql: &str) -> (Option<u32>, Option<u32>, String) {
    let pos = |e: &tokio_postgres::Error| {
        e.as_db_error().and_then(|d| match d.position() {
            Some(ErrorPosition::Original(p)) => Some(*p),
            _ => None,
        })
    };
    let simple = c
        .simple_query(sql)
        .await
        .err()
        .unwrap_or_else(|| panic!("{sql} succeeded"));
    let extended = c
        .prepare(sql)
        .await
        .err()
        .unwrap_or_else(|| panic!("{sql} prepared"));
    (
        pos(&simple),
        pos(&extended),
        simple
            .as_db_error()
            .map(|d| d.code().code().to_owned())
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_positions_do_not_move() {
    let env = env_with(Some(POLICY));
    env.pg
        .admin_sql(APP_DB, "create table t(id int primary key, name text)");
    let through = client_as(env.pgward.port(), "ann", Some("pos")).await;
    let direct = client_as(env.pg.port(), "ann", Some("pos")).await;
    for sql in [
        "select nope from t",
        "select id, name, missing_col from t where id = 1",
        "select 1 from t where name = 'x' and nope > 2 -- trailing comment",
        "select id from t /*route='a'*/ where nope = 1 /*k='v'*/",
        "select 1/0 from t where idx = 1;",
        "select * from no_such_table",
    ] {
        let via = positions(&through, sql).await;
        let want = positions(&direct, sql).await;
        assert_eq!(via, want, "{sql}");
        assert!(via.0.is_some(), "{sql}: the server reports a position");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_stay_inside_the_comment() {
    let env = env_with(Some(POLICY));
    let long = "x".repeat(2000);
    let hostile = [
        "*/ drop table t; /*",
        "/* opens a comment",
        "it's \"quoted\"",
        "back\\slash\\",
        "new\nline\r\n--dash",
        "$$dollar$$ ; select 2",
        "ünïcode 雪",
        long.as_str(),
    ];
    env.pg.admin_sql(APP_DB, "create table t(id int)");
    for app in hostile {
        let c = client_as(env.pgward.port(), "ann", Some(app)).await;
        // The server may cut the name (NAMEDATALEN) or replace non-ASCII:
        // the stamp carries what the server reports.
        let reported = simple_value(&c, "select current_setting('application_name')").await;
        let rows = c
            .simple_query("select 1 as one, 'two' as two")
            .await
            .unwrap_or_else(|e| panic!("{app:?}: {}", clients::describe_error(&e)));
        let values: Vec<String> = rows
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(format!(
                    "{}|{}",
                    r.get(0).unwrap_or(""),
                    r.get(1).unwrap_or("")
                )),
                _ => None,
            })
            .collect();
        assert_eq!(values, ["1|two"], "{app:?}");
        let q = simple_value(&c, SELF_QUERY).await;
        let value = stamp_value(&q, "application").unwrap_or_else(|| panic!("{q}"));
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{app:?}: {q}"
        );
        assert!(value.len() <= pgward::attribution::MAX_VALUE_BYTES);
        let decoded = percent_decode(value);
        assert!(
            reported.starts_with(&decoded),
            "{reported:?} vs {decoded:?}"
        );
        // The table is still there.
        assert_eq!(
            env.pg.admin_sql(
                APP_DB,
                "select count(*) from pg_tables where tablename = 't'"
            ),
            "1"
        );
    }

    // A client comment claiming pgward's keys is renamed, never trusted.
    let c = client_as(env.pgward.port(), "ann", Some("forger")).await;
    let forged = format!("{SELF_QUERY} /*pgward_user='root',pgward_profile='admin',team='x'*/");
    let q = simple_value(&c, &forged).await;
    assert_eq!(stamp_value(&q, "pgward_user"), Some("ann"), "{q}");
    assert_eq!(stamp_value(&q, "pgward_profile"), Some("analyst"), "{q}");
    assert_eq!(stamp_value(&q, "client_pgward_user"), Some("root"), "{q}");
    assert_eq!(stamp_value(&q, "team"), Some("x"), "{q}");
    assert_eq!(q.matches("/*").count(), 1, "one merged comment: {q}");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_are_prepared_once() {
    let env = env_with(Some(POLICY));
    env.pg.admin_sql(
        APP_DB,
        "create table t(id int primary key, v text); insert into t select g, 'v' || g from generate_series(1, 100) g",
    );
    let c = client_as(env.pgward.port(), "ann", Some("prep")).await;
    let stmt = c
        .prepare("select v from t where id = $1")
        .await
        .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
    for i in 1..=50i32 {
        let row = c
            .query_one(&stmt, &[&i])
            .await
            .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
        let v: String = row.get(0);
        assert_eq!(v, format!("v{i}"));
    }
    let rows = c
        .query(
            "select statement, generic_plans + custom_plans from pg_prepared_statements \
             where statement like 'select v from t%'",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
    assert_eq!(rows.len(), 1, "one server-side prepared statement");
    let text: String = rows[0].get(0);
    let plans: i64 = rows[0].get(1);
    assert_eq!(stamp_value(&text, "pgward_user"), Some("ann"), "{text}");
    assert_eq!(plans, 50, "every execution used the one prepared statement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stamp_when_off_unsafe_or_without_policy() {
    let env = env_with(Some(POLICY));
    let plain = client_as(env.pgward.port(), "plain_user", Some("x")).await;
    assert_eq!(simple_value(&plain, SELF_QUERY).await, SELF_QUERY);

    // With backslash escapes in effect the comment lexer's reading is not the
    // server's: statements go unchanged.
    let c = client_as(env.pgward.port(), "ann", Some("x")).await;
    c.simple_query("set standard_conforming_strings = off")
        .await
        .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
    assert_eq!(simple_value(&c, SELF_QUERY).await, SELF_QUERY);
    c.simple_query("set standard_conforming_strings = on")
        .await
        .unwrap_or_else(|e| panic!("{}", clients::describe_error(&e)));
    assert!(simple_value(&c, SELF_QUERY)
        .await
        .contains("pgward_user='ann'"));

    // A per-statement traceparent is opt-in, and continues the client's trace.
    let t = client_as(env.pgward.port(), "traced_user", None).await;
    let q = simple_value(&t, SELF_QUERY).await;
    let tp = stamp_value(&q, "traceparent").unwrap_or_else(|| panic!("{q}"));
    assert_eq!(tp.len(), 55, "{q}");
    let client_tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let q = simple_value(&t, &format!("{SELF_QUERY} /*traceparent='{client_tp}'*/")).await;
    let tp = stamp_value(&q, "traceparent").unwrap_or_else(|| panic!("{q}"));
    assert!(
        tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{q}"
    );
    assert_eq!(
        stamp_value(&q, "client_traceparent"),
        Some(client_tp),
        "{q}"
    );

    drop(env.pgward);
    let unguarded = env_with(None);
    let c = client_as(unguarded.pgward.port(), "ann", Some("x")).await;
    assert_eq!(simple_value(&c, SELF_QUERY).await, SELF_QUERY);
}
