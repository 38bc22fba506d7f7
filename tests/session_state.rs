//! Session state the guard depends on follows what the server really has:
//! client_encoding (also when a SET leaves it unchanged and the server
//! reports nothing), and search_path through SET, SET LOCAL, RESET,
//! set_config, rollback, function bodies and the extended protocol, with
//! the server asked where the text cannot tell. Every decision is checked
//! against the server's state (which schema a table went to).

mod common;

use common::clients::describe_error;
use common::*;

const PW: &str = "state-pw";

const POLICY: &str = r#"
version: 1
default_profile: schema_only
identities:
  - match: { user: dev_user }
    profile: developer
  - match: { user: lo_reader }
    profile: read_only
profiles:
  schema_only:
    inherits: developer
    deny:
      - name: app-schema-only
        except_objects: ["app_schema.*"]
        access: [write, ddl]
        message: this service writes to app_schema only
"#;

struct Env {
    pg: PgCluster,
    pgward: Pgward,
}

fn env() -> Env {
    let pg = PgCluster::start();
    for u in ["svc", "dev_user", "lo_reader"] {
        pg.admin_sql(APP_DB, &format!("create role {u} login password '{PW}'"));
    }
    pg.admin_sql(
        APP_DB,
        "create schema app_schema authorization svc; grant all on schema public to svc, dev_user; \
         create function public.sneak() returns void language plpgsql as \
         $$ begin perform set_config('search_path', 'public', false); end $$; \
         grant execute on function public.sneak() to public",
    );
    let b = Pgward::builder().upstream_port(pg.port());
    let policy = b.write_file("policy.yaml", POLICY);
    let pgward = b.arg("--policy").arg(policy.display().to_string()).start();
    Env { pg, pgward }
}

impl Env {
    async fn client(&self, user: &str) -> tokio_postgres::Client {
        connect(self.pgward.port(), user, PW, APP_DB).await
    }

    /// The schema a table of this name is in, or "none".
    fn schema_of(&self, table: &str) -> String {
        let s = self.pg.admin_sql(
            APP_DB,
            &format!("select coalesce(string_agg(schemaname, ','), 'none') from pg_tables where tablename = '{table}'"),
        );
        s.trim().to_owned()
    }
}

fn is_denial(e: &tokio_postgres::Error) -> bool {
    sqlstate(e).as_deref() == Some("42501")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_path_changes_are_followed() {
    let env = env();
    let c = env.client("svc").await;

    // No search_path at startup: the server's default ("$user", public)
    // applies; pgward asks, and the CREATE goes to public: denied.
    let err = c
        .batch_execute("create table t1(x int)")
        .await
        .expect_err("public is outside app_schema");
    assert!(is_denial(&err), "{}", describe_error(&err));
    assert_eq!(env.schema_of("t1"), "none");

    // A quoted SET, as knex sends it in schema mode.
    c.batch_execute("SET search_path TO \"app_schema\"")
        .await
        .expect("set");
    c.batch_execute("create table t2(x int); insert into t2 values (1)")
        .await
        .expect("create in app_schema");
    assert_eq!(env.schema_of("t2"), "app_schema");

    // SET LOCAL lasts for its transaction only.
    c.batch_execute("begin; set local search_path = public")
        .await
        .expect("set local");
    let err = c
        .batch_execute("create table t3(x int)")
        .await
        .expect_err("public while local");
    assert!(is_denial(&err));
    c.batch_execute("rollback").await.expect("rollback");
    c.batch_execute("create table t4(x int)")
        .await
        .expect("app_schema again");
    assert_eq!(env.schema_of("t4"), "app_schema");

    // A SET rolled back with its transaction is undone.
    c.batch_execute("begin; set search_path = public; rollback")
        .await
        .expect("undone");
    c.batch_execute("create table t5(x int)")
        .await
        .expect("still app_schema");
    assert_eq!(env.schema_of("t5"), "app_schema");

    // A SET that leaves the value as it is (no ParameterStatus, no change).
    c.batch_execute("set search_path to app_schema; create table t5b(x int)")
        .await
        .expect("same value");
    assert_eq!(env.schema_of("t5b"), "app_schema");

    // Computed values: only the server knows; pgward asks.
    c.simple_query("select set_config('search_path', 'pub' || 'lic', false)")
        .await
        .expect("computed set");
    let err = c
        .batch_execute("create table t6(x int)")
        .await
        .expect_err("public, as the server says");
    assert!(is_denial(&err));
    assert_eq!(env.schema_of("t6"), "none");
    c.simple_query("select set_config('search_path', 'app_' || 'schema', false)")
        .await
        .expect("computed set");
    c.batch_execute("create table t7(x int)")
        .await
        .expect("app_schema, as the server says");
    assert_eq!(env.schema_of("t7"), "app_schema");

    // A function body changes it where the text does not show it.
    c.simple_query("select public.sneak()").await.expect("call");
    let err = c
        .batch_execute("create table t8(x int)")
        .await
        .expect_err("the function moved the path to public");
    assert!(is_denial(&err));
    assert_eq!(env.schema_of("t8"), "none");

    // Extended protocol (prepared SET, as JDBC sends it), and RESET.
    c.execute("set search_path to app_schema", &[])
        .await
        .expect("prepared set");
    c.batch_execute("create table t9(x int)")
        .await
        .expect("app_schema");
    assert_eq!(env.schema_of("t9"), "app_schema");
    c.execute("reset search_path", &[]).await.expect("reset");
    let err = c
        .batch_execute("create table t10(x int)")
        .await
        .expect_err("back to the default: public");
    assert!(is_denial(&err));
    assert_eq!(env.schema_of("t10"), "none");

    // Qualified names never depended on any of this.
    c.batch_execute("create table app_schema.t11(x int)")
        .await
        .expect("qualified");
    assert_eq!(env.schema_of("t11"), "app_schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developer_creates_after_set_search_path() {
    // The built-in developer profile's catalog rule must not hit a table
    // created after SET search_path (Backstage schema mode).
    let env = env();
    let c = env.client("dev_user").await;
    env.pg
        .admin_sql(APP_DB, "create schema plugin authorization dev_user");
    c.batch_execute("SET search_path TO \"plugin\"")
        .await
        .expect("set");
    c.batch_execute(
        "create table \"knex_migrations\" (\"id\" serial primary key, \"name\" varchar(255)); \
         insert into knex_migrations(name) values ('x')",
    )
    .await
    .expect("create after set");
    assert_eq!(env.schema_of("knex_migrations"), "plugin");
    let err = c
        .batch_execute("create table pg_catalog.nope(x int)")
        .await
        .expect_err("catalog");
    assert!(is_denial(&err));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_encoding_changes_are_followed() {
    let env = env();
    let port = env.pgward.port();
    // psql's \encoding is libpq's PQsetClientEncoding: a SET that changes
    // nothing here, so the server reports nothing.
    let out = psql(
        port,
        "dev_user",
        PW,
        APP_DB,
        &[
            "-At",
            "-c",
            "\\encoding UTF8",
            "-c",
            "select 'after encoding'",
            "-c",
            "reset all",
            "-c",
            "select 2",
        ],
    );
    let stdout = common::clients::assert_success(&out, "psql \\encoding");
    assert!(stdout.contains("after encoding"), "{stdout}");

    let c = env.client("dev_user").await;
    c.batch_execute("set client_encoding = 'UTF8'; set names 'UTF8'")
        .await
        .expect("same value");
    c.simple_query("select 'café'").await.expect("utf8 text");
    // An encoding whose multi-byte characters can hide quote bytes:
    // ASCII statements still run, others are refused with a clear error.
    c.batch_execute("set client_encoding = 'SJIS'")
        .await
        .expect("set sjis");
    c.simple_query("select 1").await.expect("ascii statement");
    c.batch_execute("set client_encoding = 'LATIN1'")
        .await
        .expect("leave sjis");
    c.batch_execute("set client_encoding = 'UTF8'")
        .await
        .expect("back to utf8");
    c.simple_query("select 'café'").await.expect("utf8 again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_calls_are_decided_by_the_function() {
    let env = env();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("blob.txt");
    std::fs::write(&file, b"large object contents").expect("write");
    let script = format!("\\lo_import {}", file.display());
    // developer allows large objects: \lo_import works.
    let out = psql(env.pgward.port(), "dev_user", PW, APP_DB, &["-c", &script]);
    let stdout = common::clients::assert_success(&out, "lo_import as developer");
    assert!(stdout.contains("lo_import"), "{stdout}");
    // read_only does not: the refusal names the function.
    let out = psql(env.pgward.port(), "lo_reader", PW, APP_DB, &["-c", &script]);
    let stderr = common::clients::assert_failure(&out, "lo_import as read_only");
    assert!(
        stderr.contains("large_object") && stderr.contains("lo_"),
        "{stderr}"
    );
    assert_eq!(
        env.pg
            .admin_sql(APP_DB, "select count(*) from pg_largeobject_metadata"),
        "1"
    );
}
