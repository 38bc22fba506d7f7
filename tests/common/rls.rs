//! Row-level security suites: a multi-tenant table owned by the upstream
//! service account `app` (not a superuser, so the server's row-level
//! security applies to it once forced), pgward in front with a policy, and
//! `pgward rls plan` applied by the superuser.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cluster::{PgCluster, APP_DB, APP_PASSWORD, APP_USER};
use super::jwt::{auth_section, Key};
use super::proxy::{run_pgward, Pgward};

/// `app.orders`: two acme rows and one globex row; `owner` names the
/// passthrough user each row belongs to.
pub const SETUP_SQL: &str = "
create schema app authorization app;
create table app.orders(id int primary key, tenant text not null, owner text, item text, card text);
alter table app.orders owner to app;
insert into app.orders values
  (1, 'acme', 'app', 'anvil', '4111111111111111'),
  (2, 'acme', 'app', 'rocket', '4222222222222222'),
  (3, 'globex', 'carol', 'laser', '4333333333333333');
create table app.notes(id int, body text);
alter table app.notes owner to app;
insert into app.notes values (1, 'shared');
";

/// Tenants see their own orders; `boss` is admin (exempt).
pub const POLICY: &str = r#"
version: 1
default_profile: read_only
identity_settings:
  claims: [tenant]
identities:
  - name: boss
    match: { user: boss }
    profile: admin
  - name: tenants
    match: { claims: { tenant: "*" } }
    profile: tenant_user
profiles:
  tenant_user:
    description: a tenant's application user - reads, writes, DDL and code on its own schema
    inherits: developer
row_filters:
  - name: tenant
    description: each tenant sees and writes its own orders
    tables: ["app.orders"]
    predicate: tenant = current_setting('pgward.claim.tenant', true)
"#;

/// A cluster with [`SETUP_SQL`] in database `app`.
pub fn cluster() -> PgCluster {
    let pg = PgCluster::start();
    pg.admin_sql(APP_DB, SETUP_SQL);
    pg
}

/// pgward in front of `pg` with JWT clients and the upstream account `app`;
/// `extra` is appended to the configuration.
pub fn start_jwt(pg: &PgCluster, policy: &str, extra: &str) -> (Pgward, Key, PathBuf) {
    let key = Key::generate();
    let b = Pgward::builder().upstream_port(pg.port());
    let jwks = b.write_file("jwks.json", &key.jwks());
    let pw = b.write_file("service.pw", &format!("{APP_PASSWORD}\n"));
    let policy_path = b.write_file("policy.yaml", policy);
    let cfg = format!(
        "policy: {}\n{}{extra}",
        policy_path.display(),
        auth_section(
            &jwks.display().to_string(),
            APP_USER,
            &pw.display().to_string()
        ),
    );
    let pgward = b.config_yaml(&cfg).start();
    (pgward, key, policy_path)
}

/// A client logged in through pgward with a token for `sub`.
pub async fn jwt_client(
    pgward: &Pgward,
    key: &Key,
    sub: &str,
    claims: serde_json::Value,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    super::clients::try_connect(pgward.port(), sub, &key.token(sub, claims), APP_DB).await
}

/// Runs `pgward rls ARGS`; (exit code, stdout, stderr).
pub fn pgward_rls(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["rls"];
    all.extend_from_slice(args);
    let out = run_pgward(&all, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pgward rls plan` for database `app` of `pg`, read as the superuser.
pub fn plan(pg: &PgCluster, policy: &Path) -> String {
    let url = pg.admin_connstr(APP_DB);
    let (code, out, err) = pgward_rls(&[
        "plan",
        "--policy",
        &policy.display().to_string(),
        "--url",
        &url,
    ]);
    assert_eq!(code, 0, "rls plan failed: {err}");
    out
}

/// Applies SQL as the superuser (stopping at the first error).
pub fn apply(pg: &PgCluster, sql: &str) {
    let file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(file.path(), sql).expect("write plan");
    let out = pg.admin_psql(
        APP_DB,
        &[
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-f",
            &file.path().display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "applying the plan failed: {}\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pgward rls check` for database `app` of `pg`; (passed, report).
pub fn check(pg: &PgCluster, policy: &Path) -> (bool, String) {
    let url = pg.admin_connstr(APP_DB);
    let (code, out, err) = pgward_rls(&[
        "check",
        "--policy",
        &policy.display().to_string(),
        "--url",
        &url,
    ]);
    (code == 0, format!("{out}{err}"))
}

/// The single text value of a query.
pub async fn one(c: &tokio_postgres::Client, sql: &str) -> String {
    let row = c
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", super::clients::describe_error(&e)));
    row.get::<_, Option<String>>(0).unwrap_or_default()
}

/// The ids of `app.orders` a client sees, in order.
pub async fn order_ids(c: &tokio_postgres::Client) -> Vec<i32> {
    c.query("select id from app.orders order by id", &[])
        .await
        .unwrap_or_else(|e| panic!("orders: {}", super::clients::describe_error(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// SQLSTATE and message of a server error.
pub fn code_message(e: &tokio_postgres::Error) -> (String, String) {
    match e.as_db_error() {
        Some(d) => (d.code().code().to_owned(), d.message().to_owned()),
        None => (String::new(), e.to_string()),
    }
}
