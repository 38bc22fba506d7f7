//! Row filters enforced by the server's own row-level security on the
//! identity pgward verified: two JWT identities over one upstream service
//! account see and write only their tenant's rows, the admin profile sees
//! all; `pgward rls plan` applied to a fresh database passes `pgward rls
//! check`, and every kind of drift fails it with the policy named; masks and
//! filters on one table; one policy on two branches; a reload that changes
//! a session's filters.

mod common;

use common::rls::*;
use common::*;
use serde_json::{json, Value};

fn audit_config(dir: &std::path::Path) -> String {
    format!(
        "audit:\n  spool_dir: {}\n  batch_linger: 10ms\n  sinks:\n    - stdout: {{}}\n",
        dir.display()
    )
}

fn statement_events(p: &Pgward) -> Vec<Value> {
    p.stdout_contents()
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "statement")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_and_write_only_their_own_rows() {
    let pg = cluster();
    let spool = tempfile::tempdir().expect("tmp");
    let (pgward, key, policy) = start_jwt(&pg, POLICY, &audit_config(spool.path()));
    apply(&pg, &plan(&pg, &policy));
    let (ok, report) = check(&pg, &policy);
    assert!(ok, "{report}");

    let alice = jwt_client(
        &pgward,
        &key,
        "alice",
        json!({ "tenant": "acme", "groups": ["ops", "data eng"] }),
    )
    .await
    .expect("alice");
    let bob = jwt_client(&pgward, &key, "bob", json!({ "tenant": "globex" }))
        .await
        .expect("bob");
    // One service account upstream, one statement text, two answers.
    assert_eq!(one(&alice, "select current_user::text").await, APP_USER);
    assert_eq!(one(&bob, "select current_user::text").await, APP_USER);
    assert_eq!(order_ids(&alice).await, vec![1, 2]);
    assert_eq!(order_ids(&bob).await, vec![3]);
    // What the server holds, as an RLS policy reads it.
    for (sql, want) in [
        ("select current_setting('pgward.user', true)", "alice"),
        (
            "select current_setting('pgward.profile', true)",
            "tenant_user",
        ),
        (
            "select current_setting('pgward.claim.tenant', true)",
            "acme",
        ),
        ("select current_setting('pgward.branch', true)", "default"),
        (
            "select array_to_string(current_setting('pgward.groups', true)::text[], '|')",
            "ops|data eng",
        ),
    ] {
        assert_eq!(one(&alice, sql).await, want, "{sql}");
    }

    // WITH CHECK: the server refuses another tenant's row.
    let err = alice
        .execute(
            "insert into app.orders values (10, 'globex', null, 'forged', null)",
            &[],
        )
        .await
        .expect_err("another tenant's row");
    let (code, message) = code_message(&err);
    assert_eq!(code, "42501", "{message}");
    assert!(
        message.contains("row-level security policy \"pgward_filter_tenant\""),
        "{message}"
    );
    alice
        .execute(
            "insert into app.orders values (11, 'acme', null, 'own', null)",
            &[],
        )
        .await
        .expect("own row");
    let err = alice
        .execute("update app.orders set tenant = 'globex' where id = 11", &[])
        .await
        .expect_err("moving a row to another tenant");
    assert_eq!(code_message(&err).0, "42501");
    let deleted = alice
        .execute("delete from app.orders where id = 3", &[])
        .await
        .expect("delete runs");
    assert_eq!(deleted, 0, "globex's row is invisible to acme");
    assert_eq!(order_ids(&bob).await, vec![3]);
    assert_eq!(order_ids(&alice).await, vec![1, 2, 11]);
    // Exempt (admin) sees every row.
    let boss = jwt_client(&pgward, &key, "boss", json!({}))
        .await
        .expect("boss");
    assert_eq!(order_ids(&boss).await, vec![1, 2, 3, 11]);

    // Statement events say which row filters applied to their tables.
    alice
        .simple_query("select count(*) from app.notes")
        .await
        .expect("notes");
    common::polling::wait_until("statement events", || {
        statement_events(&pgward).iter().any(|e| {
            e["attrs"]["db.query.text"]
                .as_str()
                .is_some_and(|t| t.contains("app.notes"))
        })
    })
    .await;
    let events = statement_events(&pgward);
    let of = |needle: &str| {
        events
            .iter()
            .find(|e| {
                e["attrs"]["db.query.text"]
                    .as_str()
                    .is_some_and(|t| t.contains(needle))
            })
            .unwrap_or_else(|| panic!("no event for {needle}: {events:?}"))
            .clone()
    };
    let read = of("select id from app.orders");
    assert_eq!(read["attrs"]["pgward.row_filters"], json!(["tenant"]));
    assert_eq!(read["attrs"]["user.name"], "alice");
    assert!(of("app.notes")["attrs"].get("pgward.row_filters").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_applies_to_a_fresh_database_and_check_names_every_drift() {
    let pg = cluster();
    pg.admin_sql(
        APP_DB,
        "create table app.ledger(tenant text, amount int) partition by list (tenant);
         create table app.ledger_acme partition of app.ledger for values in ('acme');
         create table app.ledger_rest partition of app.ledger default;
         alter table app.ledger owner to app; alter table app.ledger_acme owner to app;
         alter table app.ledger_rest owner to app;
         insert into app.ledger values ('acme', 1), ('globex', 2);",
    );
    let text = POLICY.replace(
        "tables: [\"app.orders\"]",
        "tables: [\"app.orders\", \"app.ledger\"]",
    );
    let (pgward, key, policy) = start_jwt(&pg, &text, "");
    let (ok, report) = check(&pg, &policy);
    assert!(!ok, "an empty database must fail the check");
    assert!(
        report.contains("app.orders: row-level security is not enabled"),
        "{report}"
    );
    assert!(
        report.contains("app.orders: policy pgward_filter_tenant is missing"),
        "{report}"
    );

    let sql = plan(&pg, &policy);
    for t in [
        "\"app\".\"orders\"",
        "\"app\".\"ledger\"",
        "\"app\".\"ledger_acme\"",
        "\"app\".\"ledger_rest\"",
    ] {
        assert!(
            sql.contains(&format!("CREATE POLICY pgward_filter_tenant ON {t}")),
            "{t}\n{sql}"
        );
    }
    apply(&pg, &sql);
    let (ok, report) = check(&pg, &policy);
    assert!(ok, "{report}");
    // Idempotent: the plan of a conforming database applies cleanly again.
    apply(&pg, &plan(&pg, &policy));
    let (ok, report) = check(&pg, &policy);
    assert!(ok, "{report}");
    // Partitions are filtered even when queried directly.
    let bob = jwt_client(&pgward, &key, "bob", json!({ "tenant": "globex" }))
        .await
        .expect("bob");
    assert_eq!(
        one(&bob, "select count(*)::text from app.ledger_acme").await,
        "0"
    );
    assert_eq!(
        one(&bob, "select count(*)::text from app.ledger").await,
        "1"
    );

    let drifts = [
        (
            "alter policy pgward_filter_tenant on app.orders using (true)",
            "app.orders: policy pgward_filter_tenant was altered on the server",
        ),
        (
            "drop policy pgward_filter_tenant on app.ledger_rest",
            "app.ledger_rest: policy pgward_filter_tenant is missing",
        ),
        (
            "alter table app.orders no force row level security",
            "app.orders: row-level security is not forced",
        ),
        (
            "alter table app.ledger disable row level security",
            "app.ledger: row-level security is not enabled",
        ),
        (
            "create policy pgward_filter_extra on app.orders using (true)",
            "app.orders: policy pgward_filter_extra is pgward's, but no row filter",
        ),
    ];
    for (change, needle) in drifts {
        pg.admin_sql(APP_DB, change);
        let (ok, report) = check(&pg, &policy);
        assert!(!ok, "{change}: check passed:\n{report}");
        assert!(report.contains(needle), "{change}:\n{report}");
        apply(&pg, &plan(&pg, &policy));
        let (ok, report) = check(&pg, &policy);
        assert!(ok, "after re-applying the plan for {change}:\n{report}");
    }
    // A changed predicate in the file is drift too, until the plan is applied.
    std::fs::write(
        &policy,
        text.replace(
            "predicate: tenant =",
            "predicate: tenant IS NOT NULL AND tenant =",
        ),
    )
    .expect("write policy");
    let (ok, report) = check(&pg, &policy);
    assert!(!ok);
    assert!(
        report.contains(
            "policy pgward_filter_tenant does not match row filter tenant in the policy file"
        ),
        "{report}"
    );
    apply(&pg, &plan(&pg, &policy));
    assert!(check(&pg, &policy).0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_column_of_a_filtered_table() {
    let pg = cluster();
    let text = format!(
        "{POLICY}masks:\n  - name: card-last4\n    columns: [\"app.orders.card\"]\n    function: {{ partial: {{ last: 4 }} }}\n"
    );
    let (pgward, key, policy) = start_jwt(&pg, &text, "");
    apply(&pg, &plan(&pg, &policy));
    let alice = jwt_client(&pgward, &key, "alice", json!({ "tenant": "acme" }))
        .await
        .expect("alice");
    let rows = alice
        .query("select id, tenant, card from app.orders order by id", &[])
        .await
        .expect("read");
    let got: Vec<(i32, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "acme".into(), "************1111".into()),
            (2, "acme".into(), "************2222".into()),
        ]
    );
    // Derived from the masked column: masked whole, and still filtered.
    assert_eq!(
        one(&alice, "select string_agg(card, ',') from app.orders").await,
        "****"
    );
    let boss = jwt_client(&pgward, &key, "boss", json!({}))
        .await
        .expect("boss");
    assert_eq!(
        one(&boss, "select card from app.orders where id = 3").await,
        "4333333333333333"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_policy_on_two_branches() {
    let main = cluster();
    let feature = cluster();
    feature.admin_sql(
        APP_DB,
        "insert into app.orders values (4, 'acme', 'app', 'feature-only', null)",
    );
    // The upstream in the file too: `pgward rls --config` reads only the file.
    let branches = format!(
        "upstream: {{ host: 127.0.0.1, port: {} }}\nbranches:\n  default: main\n  fixed:\n    feature: {{ host: 127.0.0.1, port: {} }}\n",
        main.port(),
        feature.port()
    );
    let (pgward, key, _policy) = start_jwt(&main, POLICY, &branches);
    let config = pgward.dir().join("pgward.yaml").display().to_string();
    // Plan per branch through pgward's own configuration (its service
    // account reads the catalog); apply as each server's superuser.
    for (pg, branch) in [(&main, "main"), (&feature, "feature")] {
        let (code, sql, err) = pgward_rls(&[
            "plan",
            "--config",
            &config,
            "--database",
            APP_DB,
            "--branch",
            branch,
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(sql.contains(&format!("on branch {branch}")), "{sql}");
        apply(pg, &sql);
    }
    let (code, out, _) = pgward_rls(&["check", "--config", &config, "--database", APP_DB]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("database app on branch main: ok"), "{out}");
    assert!(out.contains("database app on branch feature: ok"), "{out}");

    let token = key.token("alice", json!({ "tenant": "acme" }));
    let on = |branch: &str| {
        format!(
            "host=127.0.0.1 port={} user=alice dbname={APP_DB} password={token} options='-c pgward.branch={branch}'",
            pgward.port()
        )
    };
    let (m, _h1) = connect_with(&on("main")).await;
    let (f, _h2) = connect_with(&on("feature")).await;
    assert_eq!(order_ids(&m).await, vec![1, 2]);
    assert_eq!(order_ids(&f).await, vec![1, 2, 4]);
    assert_eq!(
        one(&m, "select current_setting('pgward.branch')").await,
        "main"
    );
    assert_eq!(
        one(&f, "select current_setting('pgward.branch')").await,
        "feature"
    );
    assert_eq!(
        one(&f, "select current_setting('pgward.claim.tenant')").await,
        "acme"
    );
    let err = f
        .batch_execute("set pgward.branch = 'main'")
        .await
        .expect_err("forging the branch");
    assert_eq!(code_message(&err).0, "42501");

    feature.admin_sql(APP_DB, "drop policy pgward_filter_tenant on app.orders");
    let (code, out, _) = pgward_rls(&["check", "--config", &config, "--database", APP_DB]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("database app on branch main: ok"), "{out}");
    assert!(
        out.contains("database app on branch feature: 1 problem\n  app.orders: policy pgward_filter_tenant is missing"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_a_sessions_filters_refuses_it_until_it_reconnects() {
    let pg = cluster();
    let (pgward, key, policy) = start_jwt(&pg, POLICY, "");
    apply(&pg, &plan(&pg, &policy));
    let alice = jwt_client(&pgward, &key, "alice", json!({ "tenant": "acme" }))
        .await
        .expect("alice");
    assert_eq!(order_ids(&alice).await, vec![1, 2]);
    // Tenants become admins: the server still holds pgward.profile = tenant_user.
    std::fs::write(
        &policy,
        POLICY.replace(
            "match: { claims: { tenant: \"*\" } }\n    profile: tenant_user",
            "match: { claims: { tenant: \"*\" } }\n    profile: admin",
        ),
    )
    .expect("write policy");
    common::polling::wait_until("reload", || {
        pgward.log_contents().contains("policy reloaded")
    })
    .await;
    let err = alice
        .simple_query("select 1")
        .await
        .expect_err("stale identity");
    let (code, message) = code_message(&err);
    assert_eq!(code, "42501");
    assert!(
        message.contains("still holds the identity the session started with"),
        "{message}"
    );
    let again = jwt_client(&pgward, &key, "alice", json!({ "tenant": "acme" }))
        .await
        .expect("reconnect");
    assert_eq!(
        one(&again, "select current_setting('pgward.profile')").await,
        "admin"
    );
    assert_eq!(order_ids(&again).await, vec![1, 2, 3]);
}
