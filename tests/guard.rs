//! The statement guard against a real server. Test users are superusers, so
//! every refusal seen here is pgward's; each denied case also checks the
//! server state (the table is still there, the row unchanged).

mod common;

use common::raw::{self, RawConn};
use common::*;
use std::time::Duration;

const POLICY: &str = r#"
version: 1
default_profile: read_only
identities:
  - name: readers
    match: { user: ro_user }
    profile: read_only
  - name: developers
    match: { user: dev_user }
    profile: developer
  - name: admins
    match: { user: admin_user }
    profile: admin
  - name: hr-blocked
    match: { user: nohr_user }
    profile: no_hr
  - name: observers
    match: { user: obs_user }
    profile: observed
profiles:
  developer:
    inherits: developer
    deny:
      - name: no-unbounded-dml
        dml_without_where: true
        message: add a WHERE clause
  no_hr:
    inherits: developer
    deny:
      - name: hr-is-private
        objects: ["hr.*"]
        message: HR data is off limits
  observed:
    inherits: read_only
    mode: observe
"#;

const USERS: [&str; 5] = ["ro_user", "dev_user", "admin_user", "nohr_user", "obs_user"];
const PW: &str = "guard-pw";

struct Env {
    pg: PgCluster,
    pgward: Pgward,
}

fn env_with(policy: &str) -> Env {
    let pg = PgCluster::start();
    for u in USERS {
        pg.admin_sql(
            APP_DB,
            &format!("create role {u} login superuser password '{PW}'"),
        );
    }
    pg.admin_sql(APP_DB, "create schema hr; create table hr.salaries(id int, amount int); insert into hr.salaries values (1, 100)");
    let pgward = Pgward::builder()
        .upstream_port(pg.port())
        .write_policy(policy)
        .start();
    Env { pg, pgward }
}

trait WritePolicy {
    fn write_policy(self, policy: &str) -> Self;
}

impl WritePolicy for PgwardBuilder {
    fn write_policy(self, policy: &str) -> Self {
        let path = self.write_file("policy.yaml", policy);
        self.arg("--policy").arg(path.display().to_string())
    }
}

impl Env {
    async fn client(&self, user: &str) -> tokio_postgres::Client {
        connect(self.pgward.port(), user, PW, APP_DB).await
    }

    fn reset_fixture(&self) {
        self.pg.admin_sql(
            APP_DB,
            "drop table if exists t cascade; drop sequence if exists s; drop table if exists tt; \
             create table t(id int primary key, v text); insert into t values (1, 'orig'); create sequence s; \
             grant all on t to public",
        );
    }

    /// The fixture as the server has it: does `t` exist, and what is row 1.
    fn fixture_state(&self) -> String {
        if self
            .pg
            .admin_sql(APP_DB, "select to_regclass('public.t') is null")
            == "t"
        {
            return "dropped".into();
        }
        self.pg.admin_sql(
            APP_DB,
            "select coalesce((select string_agg(id || ':' || v, ',' order by id) from public.t), 'empty')",
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Allow,
    Deny,
}
use Want::*;

/// (sql, read_only, developer, admin)
const CORPUS: &[(&str, Want, Want, Want)] = &[
    ("select * from t", Allow, Allow, Allow),
    ("SELECT v FROM public.t WHERE id = 1", Allow, Allow, Allow),
    ("select $$drop table t$$", Allow, Allow, Allow),
    ("select 'delete from t'", Allow, Allow, Allow),
    ("explain delete from t where id = 1", Allow, Allow, Allow),
    ("show search_path", Allow, Allow, Allow),
    ("begin; select 1; commit", Allow, Allow, Allow),
    ("delete from t where id = 1", Deny, Allow, Allow),
    ("update t set v = 'x' where id = 1", Deny, Allow, Allow),
    (
        "insert into t values (2, 'x') on conflict do nothing",
        Deny,
        Allow,
        Allow,
    ),
    ("drop table t", Deny, Allow, Allow),
    (
        "/* hello */ DrOp /* there */ TABLE\n\t\"t\"",
        Deny,
        Allow,
        Allow,
    ),
    ("truncate t", Deny, Allow, Allow),
    ("delete from t", Deny, Deny, Allow),
    ("update t set v = 'all'", Deny, Deny, Allow),
    (
        "with d as (delete from t where id = 1 returning *) select * from d",
        Deny,
        Allow,
        Allow,
    ),
    (
        "with d as (delete from t returning *) select * from d",
        Deny,
        Deny,
        Allow,
    ),
    (
        "explain analyze delete from t where id = 1",
        Deny,
        Allow,
        Allow,
    ),
    (
        "explain (analyze, costs off) update t set v = 'x' where id = 1",
        Deny,
        Allow,
        Allow,
    ),
    ("select * from t for update", Deny, Allow, Allow),
    ("create table tt as select * from t", Deny, Allow, Allow),
    ("select * into tt from t", Deny, Allow, Allow),
    ("select nextval('s')", Deny, Allow, Allow),
    ("select 1; delete from t where id = 1", Deny, Allow, Allow),
    (
        "delete from t where id = 1; create role intruder",
        Deny,
        Deny,
        Allow,
    ),
    ("select pg_cancel_backend(0)", Deny, Deny, Allow),
    (
        "select * from t where id = (select pg_cancel_backend(0)::int)",
        Deny,
        Deny,
        Allow,
    ),
    (
        "select * from t join lateral (select pg_cancel_backend(0)) x on true",
        Deny,
        Deny,
        Allow,
    ),
    (
        "select 1 order by pg_catalog.pg_cancel_backend(0)",
        Deny,
        Deny,
        Allow,
    ),
    (
        "set default_transaction_read_only = off",
        Deny,
        Allow,
        Allow,
    ),
    (
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        Deny,
        Allow,
        Allow,
    ),
    ("begin read write; commit", Deny, Allow, Allow),
    (
        "start transaction isolation level serializable, read write; commit",
        Deny,
        Allow,
        Allow,
    ),
    ("reset all", Deny, Allow, Allow),
    (
        "select set_config('default_transaction_read_only', 'off', false)",
        Deny,
        Allow,
        Allow,
    ),
    ("set role postgres", Deny, Deny, Allow),
    ("set session authorization postgres", Deny, Deny, Allow),
    (
        "select set_config('role', 'postgres', false)",
        Deny,
        Deny,
        Allow,
    ),
    ("grant select on t to public", Deny, Deny, Allow),
    ("create role intruder", Deny, Deny, Allow),
    ("alter system set work_mem = '2MB'", Deny, Deny, Allow),
    ("select pg_reload_conf()", Deny, Deny, Allow),
    ("copy t to '/tmp/pgward-guard-copy.txt'", Deny, Deny, Allow),
    ("copy (select 1) to program 'true'", Deny, Deny, Allow),
    (
        "select pg_read_file('postgresql.conf', 0, 10)",
        Deny,
        Deny,
        Allow,
    ),
    ("select lo_import('/etc/hostname')", Deny, Deny, Allow),
    (
        "do $$ begin delete from t where id = 1; end $$",
        Deny,
        Allow,
        Allow,
    ),
    ("lock table t", Deny, Allow, Allow),
    ("vacuum t", Deny, Allow, Allow),
    ("notify chan", Deny, Allow, Allow),
    ("listen chan", Allow, Allow, Allow),
    (
        "prepare p1 as delete from t where id = 1",
        Deny,
        Allow,
        Allow,
    ),
    ("load 'plpgsql'", Deny, Deny, Allow),
    (
        "update pg_catalog.pg_class set relname = relname where false",
        Deny,
        Deny,
        Allow,
    ),
];

fn is_denial(err: &tokio_postgres::Error) -> bool {
    err.as_db_error()
        .is_some_and(|e| e.code().code() == "42501" && e.message().contains("pgward policy"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_per_profile_with_server_state() {
    let env = env_with(POLICY);
    let mut failures = Vec::new();
    for (user, column) in [("ro_user", 1), ("dev_user", 2), ("admin_user", 3)] {
        for (sql, ro, dev, admin) in CORPUS {
            let want = match column {
                1 => *ro,
                2 => *dev,
                _ => *admin,
            };
            env.reset_fixture();
            // A fresh session per case: nothing leaks from one case to the next.
            let c = env.client(user).await;
            let res = c.simple_query(sql).await;
            let state = env.fixture_state();
            match (want, &res) {
                (Allow, Ok(_)) => {}
                (Allow, Err(e)) if !is_denial(e) => {} // the server's own verdict, not ours
                (Deny, Err(e)) if is_denial(e) => {
                    if state != "1:orig" {
                        failures.push(format!(
                            "{user}: {sql:?} was denied but the server state changed: {state}"
                        ));
                    }
                }
                (w, r) => failures.push(format!(
                    "{user}: {sql:?}: wanted {w:?}, got {}",
                    match r {
                        Ok(_) => "success".to_string(),
                        Err(e) => describe_error_pub(e),
                    }
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn describe_error_pub(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_message_names_profile_rule_and_object() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let c = env.client("ro_user").await;
    let err = c
        .simple_query("drop table public.t")
        .await
        .expect_err("denied");
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.code().code(), "42501");
    assert!(
        db.message().contains("profile \"read_only\""),
        "{}",
        db.message()
    );
    assert!(db.message().contains("ddl"), "{}", db.message());
    assert!(db.message().contains("public.t"), "{}", db.message());
    assert!(
        db.detail().unwrap_or("").contains("rule \"allow\""),
        "{:?}",
        db.detail()
    );
    assert!(
        db.hint().unwrap_or("").contains("allows only"),
        "{:?}",
        db.hint()
    );
    let dev = env.client("dev_user").await;
    let err = dev.simple_query("delete from t").await.expect_err("denied");
    let db = err.as_db_error().expect("db error");
    assert!(
        db.message().contains("no-unbounded-dml"),
        "{}",
        db.message()
    );
    assert!(
        db.message().contains("add a WHERE clause"),
        "{}",
        db.message()
    );
    // A write hidden in a WITH of a SELECT is named as that write.
    let err = c
        .simple_query("with d as (delete from public.t where true returning *) select * from d")
        .await
        .expect_err("denied");
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.code().code(), "42501");
    assert!(
        db.message()
            .contains("does not allow write statements (DELETE on public.t, inside a SELECT)"),
        "{}",
        db.message()
    );
    // The session stays usable.
    let n = c.simple_query("select 1").await.expect("usable");
    assert!(!n.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_inside_a_transaction_aborts_it_like_a_server_error() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let c = env.client("ro_user").await;
    c.batch_execute("begin").await.expect("begin");
    c.batch_execute("select 1").await.expect("select");
    let err = c
        .batch_execute("delete from t where id = 1")
        .await
        .expect_err("denied");
    assert!(is_denial(&err));
    let err = c
        .batch_execute("select 1")
        .await
        .expect_err("transaction is aborted");
    assert_eq!(sqlstate(&err).as_deref(), Some("25P02"));
    c.batch_execute("rollback").await.expect("rollback");
    c.batch_execute("select 1")
        .await
        .expect("usable after rollback");
    assert_eq!(env.fixture_state(), "1:orig");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_denies_skip_to_sync_and_pipeline_continues() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let c = env.client("ro_user").await;
    let err = c
        .prepare("delete from t where id = $1")
        .await
        .expect_err("denied at Parse");
    assert!(is_denial(&err), "{err}");
    // Pipelined: a denied statement between two allowed ones.
    let stmt = c
        .prepare("select v from t where id = $1")
        .await
        .expect("allowed");
    let (a, b, d) = tokio::join!(
        c.query_one(&stmt, &[&1i32]),
        c.execute("update t set v = 'x' where id = $1", &[&1i32]),
        c.query_one(&stmt, &[&1i32])
    );
    assert_eq!(a.expect("first").get::<_, String>(0), "orig");
    assert!(is_denial(&b.expect_err("denied")));
    assert_eq!(d.expect("after the denial").get::<_, String>(0), "orig");
    assert_eq!(env.fixture_state(), "1:orig");
}

/// The exact message sequence for Parse(denied)/Bind/Execute/Sync followed by
/// an allowed batch, in one write: the server skips to Sync as it would for
/// its own Parse error.
#[test]
fn raw_pipeline_after_a_denied_parse() {
    let env = env_with(POLICY);
    env.reset_fixture();
    env.pg.admin_sql(
        APP_DB,
        "alter role ro_user password null; grant all on t to trustuser",
    );
    let policy = POLICY.replace(
        "match: { user: ro_user }",
        "match: { user: [ro_user, trustuser] }",
    );
    let pgward = Pgward::builder()
        .upstream_port(env.pg.port())
        .write_policy(&policy)
        .start();
    let mut conn = RawConn::connect(pgward.port());
    conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    let parse = |sql: &str| {
        let mut b = vec![0u8];
        b.extend_from_slice(sql.as_bytes());
        b.extend_from_slice(&[0, 0, 0]);
        raw::frame(b'P', &b)
    };
    let bind = raw::frame(b'B', &[0, 0, 0, 0, 0, 0, 0, 0]);
    let exec = raw::frame(b'E', &[0, 0, 0, 0, 0]);
    let mut batch = Vec::new();
    batch.extend(parse("delete from t"));
    batch.extend(&bind);
    batch.extend(&exec);
    batch.extend(raw::sync());
    batch.extend(parse("select v from t"));
    batch.extend(&bind);
    batch.extend(&exec);
    batch.extend(raw::sync());
    conn.send(&batch);
    let first = conn.read_until(b'Z');
    assert_eq!(
        raw::tags(&first),
        vec!['E', 'Z'],
        "error then ReadyForQuery: {first:?}"
    );
    assert_eq!(
        raw::error_field(&first[0].1, b'C').as_deref(),
        Some("42501")
    );
    let second = conn.read_until(b'Z');
    assert_eq!(raw::tags(&second), vec!['1', '2', 'D', 'C', 'Z']);
    assert_eq!(env.fixture_state(), "1:orig");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_level_prepare_and_execute() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let c = env.client("ro_user").await;
    c.batch_execute("prepare ok_q as select v from t where id = $1")
        .await
        .expect("read prepare");
    let rows = c
        .simple_query("execute ok_q(1)")
        .await
        .expect("execute allowed");
    assert!(rows
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))));
    let err = c
        .batch_execute("prepare bad as delete from t")
        .await
        .expect_err("denied");
    assert!(is_denial(&err));
    let err = c
        .batch_execute("execute bad")
        .await
        .expect_err("never prepared");
    assert_eq!(sqlstate(&err).as_deref(), Some("26000"));
    assert_eq!(env.fixture_state(), "1:orig");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_is_enforced_by_the_server_too() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let ro = env.client("ro_user").await;
    let v: String = ro
        .query_one("show default_transaction_read_only", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(v, "on");
    // Observe mode lets the statement through the guard: the server still refuses it.
    let obs = env.client("obs_user").await;
    let err = obs
        .batch_execute("delete from t where id = 1")
        .await
        .expect_err("server refuses");
    assert_eq!(sqlstate(&err).as_deref(), Some("25006"), "{err}");
    assert_eq!(env.fixture_state(), "1:orig");
    assert!(
        env.pgward
            .log_contents()
            .contains("observe mode: statement would be denied"),
        "observe decisions are logged"
    );
}

/// A read-only session stays read-only on the server whatever the client
/// puts in its startup packet: a plain parameter of the same name (the
/// server applies those after `options`), in any case, and options ending
/// in a backslash (which used to swallow the space before pgward's own).
#[test]
fn read_only_cannot_be_undone_by_a_startup_parameter() {
    let env = env_with(POLICY);
    let policy = POLICY.replace(
        "match: { user: ro_user }",
        "match: { user: [ro_user, trustuser] }",
    );
    let pgward = Pgward::builder()
        .upstream_port(env.pg.port())
        .write_policy(&policy)
        .start();
    for (name, options) in [
        ("default_transaction_read_only", "-c work_mem=4MB"),
        ("DEFAULT_TRANSACTION_READ_ONLY", "-c work_mem=4MB\\"),
    ] {
        let mut conn = RawConn::connect(pgward.port());
        let msgs = conn.startup(
            &[
                ("user", TRUST_USER),
                ("database", APP_DB),
                (name, "off"),
                ("options", options),
            ],
            None,
        );
        assert_eq!(
            msgs.last().map(|m| m.0),
            Some(b'Z'),
            "{name} / {options:?}: the session must start: {msgs:?}"
        );
        conn.send(&raw::query("show default_transaction_read_only"));
        let reply = conn.read_until(b'Z');
        let row = reply
            .iter()
            .find(|m| m.0 == b'D')
            .unwrap_or_else(|| panic!("no row: {reply:?}"));
        assert!(
            row.1.ends_with(b"on"),
            "{name} / {options:?}: read-only was turned off: {:?}",
            String::from_utf8_lossy(&row.1)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_rules_on_objects_follow_the_search_path() {
    let env = env_with(POLICY);
    let c = env.client("nohr_user").await;
    let err = c
        .simple_query("select * from hr.salaries")
        .await
        .expect_err("denied");
    assert!(is_denial(&err));
    assert!(
        err.to_string().contains("hr-is-private")
            || describe_error_pub(&err).contains("hr-is-private")
    );
    c.simple_query("select 1")
        .await
        .expect("other reads are fine");
    // Switching the search_path, in the same request or before it, does not hide the table.
    let err = c
        .simple_query("set search_path = hr; select * from salaries")
        .await
        .expect_err("denied");
    assert!(is_denial(&err), "{}", describe_error_pub(&err));
    let err = c
        .simple_query("select * from \"hr\".\"salaries\"")
        .await
        .expect_err("quoted");
    assert!(is_denial(&err));
    let c2 = env.client("nohr_user").await;
    c2.batch_execute("set search_path = hr, public")
        .await
        .expect("set allowed");
    let err = c2
        .simple_query("select * from salaries")
        .await
        .expect_err("denied after set");
    assert!(is_denial(&err), "{}", describe_error_pub(&err));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_statements_fail_closed() {
    let env = env_with(POLICY);
    let ro = env.client("ro_user").await;
    // Not SQL: the server's own answer, from pgward (nothing is forwarded).
    for (sql, message, position) in [
        ("selec 1", "syntax error at or near \"selec\"", 1),
        ("SELECT 'é' FORM t", "syntax error at or near \"t\"", 17),
        ("SELECT 1; SELECT (", "syntax error at end of input", 19),
    ] {
        let err = ro.simple_query(sql).await.expect_err("refused");
        let d = err.as_db_error().expect("db");
        assert_eq!(d.code().code(), "42601", "{sql}");
        assert_eq!(d.message(), message, "{sql}");
        assert_eq!(
            d.position(),
            Some(&tokio_postgres::error::ErrorPosition::Original(position)),
            "{sql}"
        );
        let err = ro
            .prepare(sql)
            .await
            .expect_err("refused in the extended protocol too");
        assert_eq!(sqlstate(&err).as_deref(), Some("42601"), "{sql}");
    }
    ro.simple_query("select 1").await.expect("session usable");
    // admin allows statements it cannot analyze: the server's own syntax error comes back.
    let admin = env.client("admin_user").await;
    let err = admin
        .simple_query("selec 1")
        .await
        .expect_err("server error");
    assert_eq!(sqlstate(&err).as_deref(), Some("42601"));
}

/// Every field a client can see of an error, for comparing pgward's
/// answer with the server's.
fn error_fields(e: &tokio_postgres::Error) -> String {
    let d = e.as_db_error().expect("an error from the server");
    format!(
        "{} {} | {} | detail {:?} | hint {:?} | position {:?}",
        d.severity(),
        d.code().code(),
        d.message(),
        d.detail(),
        d.hint(),
        d.position()
    )
}

/// Text pgward's parser rejects goes to the server to be parsed, never
/// run: the client gets the server's own error, detail, hint and position,
/// in and out of a transaction. Where the server's grammar accepts what
/// pgward's does not, nothing runs and pgward refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_are_the_servers_own() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let ro = env.client("ro_user").await;
    let direct = connect(env.pg.port(), "ro_user", PW, APP_DB).await;
    for sql in [
        "selec 1",
        "SELECT 1; SELECT (",
        "select 1; selec 2; delete from t",
        // A HINT: the missing argument of a unary operator.
        "DROP OPERATOR === (int4)",
        // Unicode escapes: message and position from the scanner.
        "SELECT U&'wrong: \\+2FFFFF'",
        "SELECT 'unterminated",
        "/* unterminated comment",
        "SELECT 1 FROM t LIMIT ALL OFFSET 1 FETCH FIRST 1 ROW WITH TIES",
    ] {
        let want = error_fields(&direct.simple_query(sql).await.expect_err(sql));
        let got = error_fields(&ro.simple_query(sql).await.expect_err(sql));
        assert_eq!(got, want, "{sql}");
        assert!(want.contains("42601"), "{sql}: {want}");
        // The extended protocol: tokio-postgres' Parse starts its batch.
        let want = error_fields(&direct.prepare(sql).await.expect_err(sql));
        let got = error_fields(&ro.prepare(sql).await.expect_err(sql));
        assert_eq!(got, want, "prepare {sql}");
    }
    // A Parse the server's grammar accepts (and pgward's does not) leaves
    // no prepared statement behind: named, or unnamed.
    let e = ro
        .prepare("create table magic_q (a int) partition by magic (a)")
        .await
        .expect_err("refused at Parse");
    assert!(error_fields(&e).contains("unrecognized partitioning strategy"));
    let left = ro
        .simple_query("select count(*) from pg_prepared_statements")
        .await
        .expect("count");
    let n = left
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("a row");
    assert_eq!(n, "0", "no statement left by the probe");
    ro.query("select 1", &[])
        .await
        .expect("the session goes on");
    // In a transaction block the error aborts it, as the server's does.
    for c in [&ro, &direct] {
        c.batch_execute("begin").await.expect("begin");
        let e = c.simple_query("selec 1").await.expect_err("syntax");
        assert_eq!(sqlstate(&e).as_deref(), Some("42601"));
        let e = c.simple_query("select 1").await.expect_err("aborted");
        assert_eq!(sqlstate(&e).as_deref(), Some("25P02"));
        c.batch_execute("rollback").await.expect("rollback");
    }
    // PostgreSQL 15's grammar takes any partitioning strategy (it is
    // checked when the statement runs); the parser pgward analyses with
    // does not. pgward refuses what it cannot analyse, and nothing runs:
    // not the statement, not the one before it in the same Query.
    // (read_only refuses what it cannot analyse; developer forwards it.)
    let dev = &ro;
    // Its refusal is that parser's own error (22023, with a position).
    let refused = |e: &tokio_postgres::Error| {
        let f = error_fields(e);
        assert!(
            f.contains("22023 | unrecognized partitioning strategy \"magic\""),
            "{f}"
        );
    };
    refused(
        &dev.simple_query(
            "create table magic_ok (a int); create table magic_p (a int) partition by magic (a)",
        )
        .await
        .expect_err("refused"),
    );
    dev.batch_execute("begin").await.expect("begin");
    refused(
        &dev.simple_query("create table magic_p (a int) partition by magic (a)")
            .await
            .expect_err("refused"),
    );
    let e = dev.simple_query("select 1").await.expect_err("aborted");
    assert_eq!(
        sqlstate(&e).as_deref(),
        Some("25P02"),
        "the transaction is aborted"
    );
    dev.batch_execute("rollback").await.expect("rollback");
    let gone = env.pg.admin_sql(
        APP_DB,
        "select count(*) from pg_class where relname in ('magic_ok', 'magic_p')",
    );
    assert_eq!(gone.trim(), "0");
    dev.simple_query("select 1").await.expect("session usable");
}

fn wait_for_log(pgward: &Pgward, needle: &str, count: usize) -> bool {
    common::util::wait_until(Duration::from_secs(20), || {
        pgward.log_contents().matches(needle).count() >= count
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_valid_invalid_and_live_sessions() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let path = env.pgward.dir().join("policy.yaml");
    let c = env.client("ro_user").await;
    assert!(is_denial(
        &c.batch_execute("delete from t where id = 1")
            .await
            .expect_err("denied")
    ));
    // Reload (file change): ro_user becomes a developer, and the live session follows.
    std::fs::write(
        &path,
        POLICY.replace(
            "match: { user: ro_user }\n    profile: read_only",
            "match: { user: ro_user }\n    profile: developer",
        ),
    )
    .expect("write policy");
    assert!(
        wait_for_log(&env.pgward, "policy reloaded", 1),
        "reload not seen:\n{}",
        env.pgward.log_contents()
    );
    // The server-side read-only default was set at connect; the guard now allows the write.
    c.batch_execute("set default_transaction_read_only = off")
        .await
        .expect("allowed for developer");
    c.batch_execute("delete from t where id = 1")
        .await
        .expect("allowed after reload");
    // An invalid file is rejected loudly and the previous policy stays.
    std::fs::write(
        &path,
        "version: 1\nprofiles:\n  x:\n    allow: [nonsense]\n",
    )
    .expect("write");
    assert!(wait_for_log(&env.pgward, "POLICY RELOAD REJECTED", 1));
    env.reset_fixture();
    c.batch_execute("delete from t where id = 1")
        .await
        .expect("old policy still in force");
    // SIGHUP reloads too.
    std::fs::write(&path, POLICY).expect("write");
    assert!(wait_for_log(&env.pgward, "policy reloaded", 2));
    env.pgward.signal("HUP");
    assert!(wait_for_log(&env.pgward, "policy reloaded", 3));
    env.reset_fixture();
    assert!(is_denial(
        &c.batch_execute("delete from t where id = 1")
            .await
            .expect_err("denied again")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_traffic_never_break_a_statement() {
    let env = env_with(POLICY);
    env.reset_fixture();
    let path = env.pgward.dir().join("policy.yaml");
    let port = env.pgward.port();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                let c = connect(port, "ro_user", PW, APP_DB).await;
                let stmt = c
                    .prepare("select v from t where id = $1")
                    .await
                    .expect("prepare");
                for _ in 0..300 {
                    let v: String = c
                        .query_one(&stmt, &[&1i32])
                        .await
                        .expect("read during reloads")
                        .get(0);
                    assert_eq!(v, "orig");
                }
            })
        })
        .collect();
    for i in 0..20 {
        // Replace the file atomically, as config-map updates and careful
        // deploy tools do (a half-written file would be rejected and the
        // previous policy kept; see hot_reload_valid_invalid_and_live_sessions).
        let text = format!("{POLICY}\n# revision {i}\n");
        let tmp = env.pgward.dir().join("policy.yaml.tmp");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        env.pgward.signal("HUP");
    }
    for w in workers {
        w.await.expect("worker");
    }
    assert!(!env.pgward.log_contents().contains("POLICY RELOAD REJECTED"));
    assert!(wait_for_log(&env.pgward, "policy reloaded", 1));
}

#[test]
fn check_and_explain_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, POLICY).expect("write");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nidentities:\n  - match: { user: x }\n    profile: nope\n",
    )
    .expect("write");
    let out = common::proxy::run_pgward(
        &["check", good.to_str().expect("utf8")],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::proxy::run_pgward(
        &["check", bad.to_str().expect("utf8")],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:4:14:") && err.contains("nope"),
        "{err}"
    );
    let out = common::proxy::run_pgward(
        &[
            "explain",
            "--policy",
            good.to_str().expect("utf8"),
            "--user",
            "ro_user",
            "select 1; drop table t",
        ],
        Duration::from_secs(30),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("profile:   read_only (chosen by readers)"),
        "{text}"
    );
    assert!(text.contains("statement 2: DROP TABLE"), "{text}");
    assert!(text.contains("decision:  deny"), "{text}");
    assert!(text.contains("rule:      allow (statement 2)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_user_functions_count_for_profiles_that_ask() {
    let policy = format!(
        "{POLICY}  careful:\n    inherits: read_only\n    volatile_functions: write\n    allow_functions: [\"public.safe_*\"]\n"
    )
    .replace(
        "  - name: observers",
        "  - name: careful-readers\n    match: { user: careful_user }\n    profile: careful\n  - name: observers",
    );
    let env = env_with(&policy);
    env.reset_fixture();
    env.pg.admin_sql(
        APP_DB,
        &format!("create role careful_user login superuser password '{PW}'"),
    );
    env.pg.admin_sql(
        APP_DB,
        "create function public.bump() returns int language sql volatile as 'select 1'; \
         create function public.safe_counter() returns int language sql volatile as 'select 2'; \
         create function public.pure_add(int, int) returns int language sql immutable as 'select $1 + $2'",
    );
    let c = env.client("careful_user").await;
    let err = c
        .simple_query("select bump()")
        .await
        .expect_err("volatile user function");
    assert!(is_denial(&err), "{}", describe_error_pub(&err));
    assert!(
        describe_error_pub(&err).contains("volatile"),
        "{}",
        describe_error_pub(&err)
    );
    let err = c
        .simple_query("select * from t where id = public.bump()")
        .await
        .expect_err("qualified, in WHERE");
    assert!(is_denial(&err));
    c.simple_query("select pure_add(1, 2)")
        .await
        .expect("immutable is fine");
    c.simple_query("select safe_counter()")
        .await
        .expect("allowed by name");
    c.simple_query("select now(), count(*) from t")
        .await
        .expect("built-ins are not user functions");
    // The built-in read_only asks too (its default).
    let ro = env.client("ro_user").await;
    let err = ro
        .simple_query("select bump()")
        .await
        .expect_err("read_only refuses volatile user functions by default");
    assert!(is_denial(&err), "{}", describe_error_pub(&err));
    ro.simple_query("select pure_add(1, 2)")
        .await
        .expect("immutable is fine for read_only");
}

/// A function body is invisible in its call and the server's read-only
/// transaction lets `pg_notify` through: the built-in read_only refuses a
/// call to a volatile user function, whether volatility is read per
/// session or from the shared catalog snapshot (with a catalog login),
/// including a function created after the snapshot was loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_cannot_notify_through_a_user_function() {
    for shared_catalog in [false, true] {
        let pg = PgCluster::start();
        pg.admin_sql(
            APP_DB,
            &format!("create role ro_user login superuser password '{PW}'"),
        );
        pg.admin_sql(
            APP_DB,
            "create function public.tell() returns int language plpgsql volatile as \
             $$ begin perform pg_notify('leak', 'secret'); return 1; end $$; \
             create function public.twice(int) returns int language sql immutable as 'select $1 * 2'",
        );
        let mut builder = Pgward::builder().upstream_port(pg.port());
        let policy = builder.write_file(
            "policy.yaml",
            "version: 1\nidentities:\n  - name: readers\n    match: { user: ro_user }\n    profile: read_only\n",
        );
        builder = builder.arg("--policy").arg(policy.display().to_string());
        if shared_catalog {
            builder = builder
                .env("PGWARD_TEST_CATALOG_PW", SUPERUSER_PASSWORD)
                .arg("--catalog-user")
                .arg(SUPERUSER)
                .arg("--catalog-password-env")
                .arg("PGWARD_TEST_CATALOG_PW");
        }
        let pgward = builder.start();
        let direct = format!(
            "host=127.0.0.1 port={} user={SUPERUSER} password={SUPERUSER_PASSWORD} dbname={APP_DB}",
            pg.port()
        );
        let (listener, mut messages) = common::clients::connect_with_messages(&direct).await;
        listener
            .batch_execute("listen leak; listen probe")
            .await
            .expect("listen");
        let c = connect(pgward.port(), "ro_user", PW, APP_DB).await;
        for sql in [
            "select tell()",
            "select public.tell()",
            "select 1 where tell() = 1",
        ] {
            let err = c.simple_query(sql).await.expect_err(sql);
            assert!(is_denial(&err), "{sql}: {}", describe_error_pub(&err));
            assert!(
                describe_error_pub(&err).contains("volatile"),
                "{sql}: {}",
                describe_error_pub(&err)
            );
        }
        c.simple_query("select twice(2), now()")
            .await
            .expect("immutable and built-in");
        // Created after the session (and the snapshot) started.
        pg.admin_sql(
            APP_DB,
            "create function public.tell_later() returns int language sql volatile as \
             $$ select pg_notify('leak', 'later'); select 1 $$",
        );
        let err = c
            .simple_query("select tell_later()")
            .await
            .expect_err("a function newer than the session's view");
        assert!(is_denial(&err), "{}", describe_error_pub(&err));
        // Nothing reached the listener: notifications arrive in commit
        // order, so one sent by a refused call would come before the probe.
        listener.batch_execute("notify probe").await.expect("probe");
        loop {
            let m = tokio::time::timeout(Duration::from_secs(30), messages.recv())
                .await
                .expect("probe delivered")
                .expect("listener open");
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                assert_eq!(
                    n.channel(),
                    "probe",
                    "shared catalog {shared_catalog}: a refused call ran ({})",
                    n.payload()
                );
                break;
            }
        }
        drop(pgward);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_settings_are_applied_on_the_server_at_connect() {
    let policy = format!(
        "{POLICY}  tuned:\n    inherits: read_only\n    settings:\n      statement_timeout: 1234ms\n      search_path: hr, public\n"
    )
    .replace(
        "  - name: observers",
        "  - name: tuned-users\n    match: { user: tuned_user }\n    profile: tuned\n  - name: observers",
    );
    let env = env_with(&policy);
    env.pg.admin_sql(
        APP_DB,
        &format!("create role tuned_user login superuser password '{PW}'"),
    );
    // The client asks for its own values; the profile's win.
    let connstr = format!(
        "{} options='-c statement_timeout=99s'",
        env.pgward.connstr("tuned_user", PW, APP_DB)
    );
    let (c, _h) = connect_with(&connstr).await;
    let row = c
        .query_one(
            "select current_setting('statement_timeout'), current_setting('search_path'), \
             current_setting('default_transaction_read_only')",
            &[],
        )
        .await
        .expect("settings");
    assert_eq!(row.get::<_, String>(0), "1234ms");
    assert_eq!(row.get::<_, String>(1), "hr, public");
    assert_eq!(row.get::<_, String>(2), "on", "inherited read_only");
    // The forced search_path is what deny rules resolve unqualified names with.
    let err = c.simple_query("select * from salaries").await;
    assert!(err.is_ok(), "no deny rule on hr for this profile: {err:?}");
}
