//! Branches against two real servers: a client picks a branch from its
//! connection string alone (a startup option or `db@branch`), pgward strips
//! its own option, an unknown branch connects to nothing, and the one
//! policy masks and denies identically on both branches, with the branch on
//! every audit event, stamp and metric.

mod common;

use common::clients::describe_error;
use common::polling::wait_until;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PW: &str = "branch-pw";

const POLICY: &str = r#"
version: 1
default_profile: analyst
identities:
  - match: { user: ann }
    profile: analyst
  - match: { user: ro }
    profile: read_only
masks:
  - name: ssn-last4
    columns: ["*.ssn"]
    function: { partial: { last: 4 } }
"#;

/// A cluster whose `customers` row names the branch it belongs to.
fn cluster(branch: &str, ssn: &str) -> PgCluster {
    let pg = PgCluster::start();
    pg.admin_sql(
        APP_DB,
        &format!(
            "create role ann login superuser password '{PW}';
             create role ro login superuser password '{PW}';
             create table customers(id int, ssn text, home text);
             insert into customers values (1, '{ssn}', '{branch}');"
        ),
    );
    pg
}

struct Env {
    main: PgCluster,
    feature: PgCluster,
    pgward: Pgward,
    admin: SocketAddr,
    _spool: tempfile::TempDir,
}

fn env() -> Env {
    let main = cluster("main", "111-11-1111");
    let feature = cluster("feature-x", "222-22-2222");
    let spool = tempfile::tempdir().expect("tempdir");
    let builder = Pgward::builder().upstream_port(main.port());
    let policy = builder.write_file("policy.yaml", POLICY);
    let pgward = builder
        .env("PGWARD_TEST_CATALOG_PW", SUPERUSER_PASSWORD)
        .config_yaml(&format!(
            "policy: {policy}
catalog:
  user: {SUPERUSER}
  password_env: PGWARD_TEST_CATALOG_PW
branches:
  default: main
  fixed:
    feature-x: {{ host: 127.0.0.1, port: {feature_port} }}
  template:
    host: \"127.0.0.{{branch}}\"
    port: {feature_port}
    names: \"?\"
admin:
  listen: 127.0.0.1:0
audit:
  spool_dir: {spool}
  batch_linger: 10ms
  sinks:
    - stdout: {{}}
",
            policy = policy.display(),
            feature_port = feature.port(),
            spool = spool.path().display(),
        ))
        .start();
    let admin = admin_addr(&pgward);
    Env {
        main,
        feature,
        pgward,
        admin,
        _spool: spool,
    }
}

fn admin_addr(p: &Pgward) -> SocketAddr {
    let deadline = std::time::Instant::now() + common::polling::POLL_TIMEOUT;
    loop {
        if let Some(l) = p
            .stdout_contents()
            .lines()
            .find_map(|l| l.strip_prefix("pgward admin listening on "))
        {
            return l.trim().parse().expect("admin address");
        }
        assert!(std::time::Instant::now() < deadline, "no admin line");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

async fn metrics(addr: SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("admin");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

impl Env {
    async fn connect(&self, user: &str, extra: &str) -> Result<tokio_postgres::Client, String> {
        try_connect_with(&format!(
            "host=127.0.0.1 port={} user={user} password={PW} {extra}",
            self.pgward.port()
        ))
        .await
        .map(|(c, _)| c)
        .map_err(|e| describe_error(&e))
    }

    fn events(&self) -> Vec<Value> {
        self.pgward
            .stdout_contents()
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

async fn one(c: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let rows = c.simple_query(sql).await.expect(sql);
    rows.into_iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
        _ => None,
    })?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_are_chosen_from_the_connection_string_and_governed_alike() {
    let env = env();
    let db = format!("dbname={APP_DB}");

    // No choice: the default branch.
    let main = env.connect("ann", &db).await.expect("default branch");
    assert_eq!(
        one(&main, "select home from customers").await.as_deref(),
        Some("main")
    );

    // A startup option, stripped before the server sees it.
    let opt = env
        .connect("ann", &format!("{db} options='-c pgward.branch=feature-x'"))
        .await
        .expect("branch by option");
    assert_eq!(
        one(&opt, "select home from customers").await.as_deref(),
        Some("feature-x")
    );
    // The client's option is stripped; the server holds the branch pgward
    // routed the session to, as an identity setting of pgward's own.
    assert_eq!(
        one(&opt, "select current_setting('pgward.branch', true)").await,
        Some("feature-x".into()),
    );
    // Other options still do.
    let mixed = env
        .connect(
            "ann",
            &format!("{db} options='-c work_mem=5MB -c pgward.branch=feature-x'"),
        )
        .await
        .expect("mixed options");
    assert_eq!(one(&mixed, "show work_mem").await.as_deref(), Some("5MB"));
    assert_eq!(
        one(&mixed, "select home from customers").await.as_deref(),
        Some("feature-x")
    );

    // The database-name convention.
    let at = env
        .connect("ann", &format!("dbname={APP_DB}@feature-x"))
        .await
        .expect("branch by dbname");
    assert_eq!(
        one(&at, "select home from customers").await.as_deref(),
        Some("feature-x")
    );
    assert_eq!(
        one(&at, "select current_database()").await.as_deref(),
        Some(APP_DB)
    );

    // A branch made from the template (127.0.0.1 is the feature cluster).
    let templ = env
        .connect("ann", &format!("{db} options='-c pgward.branch=1'"))
        .await
        .expect("template branch");
    assert_eq!(
        one(&templ, "select home from customers").await.as_deref(),
        Some("feature-x")
    );

    // The same policy on both: masked, and denied.
    for (c, want) in [(&main, "*******1111"), (&opt, "*******2222")] {
        assert_eq!(
            one(c, "select ssn from customers").await.as_deref(),
            Some(want)
        );
        assert_eq!(
            one(c, "select upper(ssn) from customers").await.as_deref(),
            Some("****")
        );
    }
    for extra in ["", " options='-c pgward.branch=feature-x'"] {
        let ro = env
            .connect("ro", &format!("{db}{extra}"))
            .await
            .expect("ro");
        let err = ro
            .simple_query("drop table customers")
            .await
            .expect_err("read_only cannot drop on any branch");
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"));
    }
    assert_eq!(
        env.main.admin_sql(APP_DB, "select count(*) from customers"),
        "1"
    );
    assert_eq!(
        env.feature
            .admin_sql(APP_DB, "select count(*) from customers"),
        "1"
    );

    // The stamp names the branch.
    let q = one(
        &opt,
        "select query from pg_stat_activity where pid = pg_backend_pid()",
    )
    .await
    .expect("own query");
    assert!(q.contains("pgward_branch='feature-x'"), "{q}");

    // Events and metrics carry the branch.
    let e = &env;
    wait_until("statement events of both branches", || {
        let ev = e.events();
        let on = |b: &str| {
            ev.iter()
                .any(|x| x["kind"] == "statement" && x["attrs"]["pgward.branch"] == b)
        };
        on("main") && on("feature-x") && on("1")
    })
    .await;
    let page = metrics(env.admin).await;
    assert!(page.contains("branch=\"feature-x\""), "{page}");
    assert!(page.contains("branch=\"main\""), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_branches_get_a_clear_error_and_no_connection() {
    let env = env();
    let db = format!("dbname={APP_DB}");
    let before = env.feature.admin_sql(
        APP_DB,
        "select count(*) from pg_stat_activity where usename = 'ann'",
    );
    for (extra, code, text) in [
        (
            format!("{db} options='-c pgward.branch=nope'"),
            "3D000",
            "does not exist",
        ),
        (
            format!("dbname={APP_DB}@nope-either"),
            "3D000",
            "does not exist",
        ),
        (
            format!("{db} options='-c pgward.branch=../x'"),
            "22023",
            "invalid branch name",
        ),
        (
            format!("dbname={APP_DB}@main options='-c pgward.branch=feature-x'"),
            "22023",
            "two branches",
        ),
        (
            format!("{db} options='-c pgward.profile=admin'"),
            "22023",
            "pgward.profile",
        ),
    ] {
        let err = env
            .connect("ann", &extra)
            .await
            .err()
            .unwrap_or_else(|| panic!("{extra}: must be refused"));
        assert!(err.contains(code), "{extra}: {err}");
        assert!(err.contains(text), "{extra}: {err}");
    }
    let after = env.feature.admin_sql(
        APP_DB,
        "select count(*) from pg_stat_activity where usename = 'ann'",
    );
    assert_eq!(before, after, "no connection was made for a refused branch");
    // The default branch still works.
    let c = env.connect("ann", &db).await.expect("default");
    assert_eq!(
        one(&c, "select home from customers").await.as_deref(),
        Some("main")
    );
}
