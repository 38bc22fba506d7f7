//! The identity settings cannot be forged: every way a client could set,
//! change, reset or spoof a `pgward.*` parameter is tried against a real
//! server, and what the server then holds is checked through the session
//! itself and through a direct connection. Also: values that try to break
//! out of pgward's startup parameters, and the passthrough and SCRAM modes.

mod common;

use common::raw::{error_field, untagged_frame, RawConn, PROTOCOL_3_0};
use common::rls::*;
use common::*;
use serde_json::json;

/// What the server holds for a session, as one line.
async fn identity(c: &tokio_postgres::Client) -> String {
    one(
        c,
        "select concat_ws('|', current_setting('pgward.user', true), current_setting('pgward.profile', true), \
         current_setting('pgward.claim.tenant', true), current_setting('pgward.groups', true), \
         current_setting('pgward.branch', true))",
    )
    .await
}

/// Statements a tenant session tries, each refused (42501) before any byte
/// reaches the server.
const REFUSED: &[&str] = &[
    "set pgward.claim.tenant = 'globex'",
    "set session pgward.claim.tenant = 'globex'",
    "set pgward.\"user\" = 'bob'",
    "set pgward.profile = 'admin'",
    "set pgward.groups = '{admins}'",
    "set pgward.claim.tenant from current",
    "begin; set local pgward.claim.tenant = 'globex'; select count(*) from app.orders; commit",
    "select set_config('pgward.claim.tenant', 'globex', false)",
    "select set_config('pgward.claim.tenant', 'globex', true)",
    "select set_config('PGWARD.CLAIM.TENANT', 'globex', false)",
    "select pg_catalog.set_config('pgward.claim.' || 'tenant', 'globex', false)",
    "select set_config(n, 'globex', false) from (values ('pgward.claim.tenant')) v(n)",
    "select set_config(name, 'globex', false) from pg_settings",
    "select query_to_xml('set pgward.claim.tenant = globex', true, false, '')",
    "alter role app set pgward.claim.tenant = 'globex'",
    "alter role app in database app set pgward.profile = 'admin'",
    "alter database app set pgward.claim.tenant = 'globex'",
    "create function app.f() returns int language sql set pgward.claim.tenant = 'globex' as 'select count(*)::int from app.orders'",
    "create procedure app.p() language sql set pgward.claim.tenant = 'globex' as 'select 1'",
    "do $$ begin perform set_config('pgward.claim.tenant', 'globex', false); end $$",
    "do $$ begin execute 'set pgward.claim.' || 'tenant = globex'; end $$",
    "create function app.g() returns text language plpgsql as $$ begin return set_config('pgward.claim.' || 'tenant', 'globex', false); end $$",
    "create or replace function app.h() returns int language sql as 'select 1'",
    "call app.anything()",
    "prepare forge as select set_config('pgward.claim.tenant', 'globex', false)",
    "alter table app.orders disable row level security",
    "alter table app.orders no force row level security",
    "drop policy pgward_filter_tenant on app.orders",
    "alter policy pgward_filter_tenant on app.orders using (true)",
    "create policy mine on app.orders as permissive using (true)",
    "set row_security = off",
    "truncate app.orders",
    "set role postgres",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgery_attempts_fail_and_leave_the_identity_intact() {
    let pg = cluster();
    let (pgward, key, policy) = start_jwt(&pg, POLICY, "");
    apply(&pg, &plan(&pg, &policy));
    let alice = jwt_client(
        &pgward,
        &key,
        "alice",
        json!({ "tenant": "acme", "groups": ["ops"] }),
    )
    .await
    .expect("alice");
    let intact = "alice|tenant_user|acme|{\"ops\"}|default";
    assert_eq!(identity(&alice).await, intact);
    for sql in REFUSED {
        let err = alice.batch_execute(sql).await.expect_err(sql);
        let (code, message) = code_message(&err);
        assert_eq!(code, "42501", "{sql}: {message}");
        assert!(message.contains("pgward policy"), "{sql}: {message}");
        assert_eq!(identity(&alice).await, intact, "after {sql}");
    }
    // The prepared statement was never created.
    let err = alice
        .batch_execute("execute forge")
        .await
        .expect_err("no such statement");
    assert_eq!(code_message(&err).0, "26000");
    // The extended protocol is decided the same way.
    let err = alice
        .query(
            "select set_config('pgward.claim.tenant', $1, false)",
            &[&"globex"],
        )
        .await
        .expect_err("Parse refused");
    assert_eq!(code_message(&err).0, "42501");
    // Resetting returns to pgward's values: the session defaults.
    for sql in [
        "reset pgward.claim.tenant",
        "set pgward.profile to default",
        "reset all",
        "discard all",
    ] {
        alice.batch_execute(sql).await.expect(sql);
        assert_eq!(identity(&alice).await, intact, "after {sql}");
    }
    assert_eq!(order_ids(&alice).await, vec![1, 2]);

    // Exempt from every filter, admin still may not change the identity.
    let boss = jwt_client(&pgward, &key, "boss", json!({}))
        .await
        .expect("boss");
    for sql in [
        "set pgward.claim.tenant = 'globex'",
        "select set_config('pgward.profile', 'tenant_user', false)",
        "alter role app set pgward.claim.tenant = 'globex'",
        "create function app.f() returns int language sql set pgward.profile = 'x' as 'select 1'",
    ] {
        let err = boss.batch_execute(sql).await.expect_err(sql);
        let (code, message) = code_message(&err);
        assert_eq!(code, "42501", "{sql}: {message}");
        assert!(message.contains("identity settings"), "{sql}: {message}");
    }

    // A direct connection: nothing was stored, no row lost, RLS intact.
    assert_eq!(
        pg.admin_sql(
            APP_DB,
            "select (select count(*) from pg_db_role_setting where array_to_string(setconfig, ' ') ilike '%pgward%') \
             + (select count(*) from pg_proc where array_to_string(proconfig, ' ') ilike '%pgward%' or prosrc ilike '%pgward%')"
        ),
        "0"
    );
    assert_eq!(pg.admin_sql(APP_DB, "select count(*) from app.orders"), "3");
    assert_eq!(
        pg.admin_sql(
            APP_DB,
            "select relrowsecurity and relforcerowsecurity from pg_class where oid = 'app.orders'::regclass"
        ),
        "t"
    );
    let (ok, report) = check(&pg, &policy);
    assert!(ok, "{report}");
    // What the server saw of the session: its stamped statements.
    let seen = pg.admin_sql(
        APP_DB,
        "select count(*) from pg_stat_activity where query like '%pgward_profile=''tenant_user''%pgward_user=''alice''%'",
    );
    assert_eq!(seen, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_cannot_break_out_of_pgwards_startup_parameters() {
    let pg = cluster();
    let (pgward, key, policy) = start_jwt(&pg, POLICY, "");
    apply(&pg, &plan(&pg, &policy));
    let sub = "o'brien \"x\" \\ y, z -c pgward.profile=admin";
    let tenant = "acme' OR '1'='1 -c pgward.profile=admin \\ \"x\"\t,{}";
    let groups = [
        "a,b",
        "q\"uote",
        "back\\slash",
        "sp ace",
        "{brace}",
        "NULL",
        "ünï",
    ];
    let c = jwt_client(
        &pgward,
        &key,
        sub,
        json!({ "tenant": tenant, "groups": groups }),
    )
    .await
    .expect("odd values");
    assert_eq!(one(&c, "select current_setting('pgward.user')").await, sub);
    assert_eq!(
        one(&c, "select current_setting('pgward.claim.tenant')").await,
        tenant
    );
    assert_eq!(
        one(&c, "select current_setting('pgward.profile')").await,
        "tenant_user"
    );
    let back: Vec<String> = serde_json::from_str(
        &one(
            &c,
            "select to_json(current_setting('pgward.groups')::text[])::text",
        )
        .await,
    )
    .expect("json");
    assert_eq!(back, groups);
    assert!(order_ids(&c).await.is_empty());

    // Long values are given whole; too long for a startup packet is refused.
    let long = "t".repeat(5000);
    let c = jwt_client(&pgward, &key, "alice", json!({ "tenant": long }))
        .await
        .expect("long value");
    assert_eq!(
        one(
            &c,
            "select length(current_setting('pgward.claim.tenant'))::text"
        )
        .await,
        "5000"
    );
    for (claims, code, needle) in [
        (
            json!({ "tenant": "t".repeat(12_000) }),
            "54000",
            "at most 10000",
        ),
        (json!({ "tenant": "acme\u{0}globex" }), "28000", "NUL"),
        (json!({ "tenant": ["acme", "globex"] }), "28000", "2 values"),
    ] {
        let err = jwt_client(&pgward, &key, "alice", claims)
            .await
            .expect_err("refused");
        let (c, m) = code_message(&err);
        assert_eq!(c, code, "{m}");
        assert!(m.contains(needle), "{m}");
    }

    // The client's own startup options and parameters.
    let token = key.token("alice", json!({ "tenant": "acme" }));
    for options in [
        "-c pgward.claim.tenant=globex",
        "-c PGWARD.PROFILE=admin",
        "--pgward.user=bob",
    ] {
        let err = try_connect_with(&format!(
            "host=127.0.0.1 port={} user=alice dbname={APP_DB} password={token} options='{options}'",
            pgward.port()
        ))
        .await
        .map(|_| ())
        .expect_err(options);
        let (c, m) = code_message(&err);
        assert_eq!(c, "22023", "{options}: {m}");
        assert!(m.contains("not one pgward knows"), "{m}");
    }
    for name in ["pgward.claim.tenant", "PgWard.Profile", "pgward.branch"] {
        let mut raw = RawConn::connect(pgward.port());
        let msgs = raw.startup(
            &[("user", "alice"), ("database", APP_DB), (name, "globex")],
            Some(&token),
        );
        let (tag, body) = msgs.last().expect("a reply").clone();
        assert_eq!(tag, b'E', "{name}");
        assert_eq!(error_field(&body, b'C').as_deref(), Some("22023"), "{name}");
        assert!(error_field(&body, b'M').is_some_and(|m| m.contains("pgward's own")));
    }
    // Startup text that is not UTF-8 is refused before anything else.
    let mut body = PROTOCOL_3_0.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0al\xffice\0pgward.claim.tenant\0gl\xc3\0\0");
    let mut raw = RawConn::connect(pgward.port());
    raw.send(&untagged_frame(&body));
    let (tag, body) = raw.read_message();
    assert_eq!(tag, b'E');
    assert_eq!(error_field(&body, b'C').as_deref(), Some("08P01"));
    // A well-formed client still gets in afterwards.
    let mut raw = RawConn::connect(pgward.port());
    let msgs = raw.startup(&[("user", "alice"), ("database", APP_DB)], Some(&token));
    assert_eq!(msgs.last().map(|m| m.0), Some(b'Z'));
}

const PASSTHROUGH_POLICY: &str = r#"
version: 1
default_profile: read_only
identities:
  - match: { user: [app, carol] }
    profile: owner_user
profiles:
  owner_user:
    inherits: developer
row_filters:
  - name: own_rows
    tables: app.orders
    predicate: owner = current_setting('pgward.user', true)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_users_are_filtered_by_the_name_the_server_verified() {
    let pg = cluster();
    pg.admin_sql(
        APP_DB,
        "create role carol login password 'carol-pw';
         grant usage on schema app to carol; grant select, insert on app.orders to carol;",
    );
    let b = Pgward::builder().upstream_port(pg.port());
    let policy = b.write_file("policy.yaml", PASSTHROUGH_POLICY);
    let pgward = b.arg("--policy").arg(policy.display().to_string()).start();
    apply(&pg, &plan(&pg, &policy));
    let app = connect(pgward.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    let carol = connect(pgward.port(), "carol", "carol-pw", APP_DB).await;
    assert_eq!(order_ids(&app).await, vec![1, 2]);
    assert_eq!(order_ids(&carol).await, vec![3]);
    assert_eq!(
        one(&carol, "select current_setting('pgward.user')").await,
        "carol"
    );
    assert_eq!(
        one(&carol, "select current_setting('pgward.groups')").await,
        "{}"
    );
    for sql in [
        "set pgward.\"user\" = 'app'",
        "select set_config('pgward.user', 'app', false)",
        "do $$ begin perform set_config('pgward.user', 'app', false); end $$",
    ] {
        let err = carol.batch_execute(sql).await.expect_err(sql);
        assert_eq!(code_message(&err).0, "42501", "{sql}");
    }
    let err = carol
        .execute(
            "insert into app.orders values (20, 'globex', 'app', 'x', null)",
            &[],
        )
        .await
        .expect_err("a row of someone else");
    assert_eq!(code_message(&err).0, "42501");
    assert_eq!(order_ids(&carol).await, vec![3]);
    // Without pgward there are no identity settings: the filter shows nothing.
    let direct = connect(pg.port(), "carol", "carol-pw", APP_DB).await;
    assert!(order_ids(&direct).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_are_filtered_by_their_groups() {
    use pgward::auth::scram::ScramVerifier;
    let pg = cluster();
    let policy_text = r#"
version: 1
default_profile: read_only
identities:
  - match: { groups: ["tenant-*"] }
    profile: tenant_user
profiles:
  tenant_user: { inherits: read_only }
row_filters:
  - name: tenant_groups
    tables: app.orders
    predicate: "('tenant-' || tenant) = ANY (current_setting('pgward.groups', true)::text[])"
"#;
    let b = Pgward::builder().upstream_port(pg.port());
    let alice = ScramVerifier::generate("alice-pw", 4096).expect("verifier");
    let bob = ScramVerifier::generate("bob-pw", 4096).expect("verifier");
    let users = b.write_file(
        "users.yaml",
        &format!(
            "users:\n  - name: alice\n    scram: \"{alice}\"\n    groups: [tenant-acme]\n  - name: bob\n    scram: \"{bob}\"\n    groups: [\"tenant-globex\", \"x,y\"]\n"
        ),
    );
    let pw = b.write_file("service.pw", APP_PASSWORD);
    let policy = b.write_file("policy.yaml", policy_text);
    let cfg = format!(
        "policy: {}\nauth:\n  mode: scram\n  users_file: {}\n  upstream_user: {APP_USER}\n  upstream_password_file: {}\n",
        policy.display(),
        users.display(),
        pw.display()
    );
    let pgward = b.config_yaml(&cfg).start();
    apply(&pg, &plan(&pg, &policy));
    let a = connect(pgward.port(), "alice", "alice-pw", APP_DB).await;
    let b = connect(pgward.port(), "bob", "bob-pw", APP_DB).await;
    assert_eq!(order_ids(&a).await, vec![1, 2]);
    assert_eq!(order_ids(&b).await, vec![3]);
    assert_eq!(
        one(&b, "select current_setting('pgward.groups')").await,
        "{\"tenant-globex\",\"x,y\"}"
    );
    let err = a
        .batch_execute("set pgward.groups = '{tenant-globex}'")
        .await
        .expect_err("forged groups");
    assert_eq!(code_message(&err).0, "42501");
    assert_eq!(order_ids(&a).await, vec![1, 2]);
}
