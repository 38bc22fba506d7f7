//! pg_dump and pg_restore through pgward, governed: a full copy as admin,
//! and the use masking exists for — a masked copy dumped as an analyst and
//! restored into a branch — in plain and custom format. The restored copy
//! must restore cleanly (constraints, unique indexes, foreign keys) and hold
//! masked, type-valid values; no clear value may appear in any dump.

mod common;

use common::clients::{assert_success, tool_command};
use common::*;
use std::process::Command;

const PW: &str = "dump-pw";
const HASH_KEY: &str = "0123456789abcdef-dump-test-key";

const SECRETS: &[&str] = &[
    "alice@example.com",
    "bob@example.org",
    "123-45-6789",
    "Alice Liddell",
];

const POLICY: &str = r#"
version: 1
default_profile: read_only
identities:
  - match: { user: analyst_user }
    profile: analyst
  - match: { user: admin_user }
    profile: admin
  - match: { user: reader_user }
    profile: read_only
  - match: { user: collapser }
    profile: collapser
profiles:
  collapser:
    inherits: read_only
masking:
  hash_key_env: PGWARD_TEST_HASH_KEY
masks:
  - name: email-pseudonym
    columns: ["customers.email"]
    function: hash
    profiles: [analyst]
  - name: email-domain-only
    columns: ["customers.email"]
    function: email
    profiles: [collapser]
  - name: ssn-last4
    columns: ["customers.ssn"]
    function: { partial: { last: 4 } }
    exempt: [admin, read_only]
  - name: names
    columns: ["customers.full_name"]
    function: redact
    exempt: [admin, read_only]
  - name: birth-year
    columns: ["customers.birth_date"]
    function: { truncate: year }
    exempt: [admin, read_only]
"#;

const SCHEMA: &str = "\
create table customers(id int primary key, email text not null unique, ssn text, \
  full_name text, birth_date date, balance numeric(12,2)); \
create table orders(id serial primary key, customer_id int not null references customers(id), \
  total numeric(10,2) check (total >= 0), placed timestamptz default now()); \
create index on orders(customer_id); \
create view big_orders as select o.id, c.email from orders o join customers c on c.id = o.customer_id where o.total > 100; \
insert into customers values \
  (1, 'alice@example.com', '123-45-6789', 'Alice Liddell', '1990-05-17', 1234.56), \
  (2, 'bob@example.org', '987-65-4321', 'Bob Builder', '1985-01-02', 10), \
  (3, 'carol@example.com', null, null, null, null); \
insert into orders(customer_id, total) select 1 + (g % 3), g from generate_series(1, 500) g;";

struct Env {
    source: PgCluster,
    branch: PgCluster,
    pgward: Pgward,
    dir: tempfile::TempDir,
}

fn env() -> Env {
    let source = PgCluster::start();
    let branch = PgCluster::start();
    for pg in [&source, &branch] {
        for u in ["analyst_user", "admin_user", "reader_user", "collapser"] {
            pg.admin_sql(
                APP_DB,
                &format!("create role {u} login superuser password '{PW}'"),
            );
        }
    }
    source.admin_sql(APP_DB, SCHEMA);
    let b = Pgward::builder().upstream_port(source.port());
    let policy = b.write_file("policy.yaml", POLICY);
    let spool = b.dir().join("spool");
    let config = format!(
        "policy: {}\nupstream: {{ host: 127.0.0.1, port: {} }}\n\
         catalog: {{ user: {SUPERUSER}, password_env: PGWARD_TEST_CATALOG_PW }}\n\
         branches:\n  fixed:\n    copy: {{ host: 127.0.0.1, port: {} }}\n\
         audit:\n  spool_dir: {}\n",
        policy.display(),
        source.port(),
        branch.port(),
        spool.display()
    );
    let pgward = b
        .env("PGWARD_TEST_HASH_KEY", HASH_KEY)
        .env("PGWARD_TEST_CATALOG_PW", SUPERUSER_PASSWORD)
        .config_yaml(&config)
        .start();
    Env {
        source,
        branch,
        pgward,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

impl Env {
    /// A PostgreSQL tool through pgward, on `branch` (None: the default).
    fn tool(&self, tool: &str, user: &str, db: &str, branch: Option<&str>) -> Command {
        let mut cmd = tool_command(tool, self.pgward.port(), user, PW, db);
        if let Some(b) = branch {
            cmd.env("PGOPTIONS", format!("-c pgward.branch={b}"));
        }
        cmd
    }

    fn run(&self, mut cmd: Command, what: &str) -> String {
        let out = common::util::output_with_timeout(&mut cmd, std::time::Duration::from_secs(120));
        assert_success(&out, what)
    }

    /// Restores a dump through pgward onto the `copy` branch, as admin.
    fn restore(&self, db: &str, dump: &std::path::Path, custom: bool) {
        self.branch
            .admin_sql(APP_DB, &format!("create database {db}"));
        let cmd = if custom {
            let mut c = self.tool("pg_restore", "admin_user", db, Some("copy"));
            c.args(["-w", "--exit-on-error", "--no-owner", "-d", db])
                .arg(dump);
            c
        } else {
            let mut c = self.tool("psql", "admin_user", db, Some("copy"));
            c.args(["-X", "-w", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
                .arg(dump);
            c
        };
        self.run(cmd, &format!("restore into {db}"));
    }

    fn branch_sql(&self, db: &str, sql: &str) -> String {
        self.branch.admin_sql(db, sql)
    }
}

/// Checks a restored masked copy: every row and constraint is there, no
/// clear value is, and masked values are of their types.
fn check_masked_copy(env: &Env, db: &str) {
    assert_eq!(env.branch_sql(db, "select count(*) from customers"), "3");
    assert_eq!(env.branch_sql(db, "select count(*) from orders"), "500");
    let all = env.branch_sql(
        db,
        "select string_agg(concat_ws('|', id, email, ssn, full_name, birth_date, balance), E'\\n' order by id) from customers",
    );
    for s in SECRETS {
        assert!(!all.contains(s), "{s} in the restored copy:\n{all}");
    }
    // The keyed hash keeps the unique email column unique (and the same
    // value on every dump), so its unique index restored.
    assert_eq!(
        env.branch_sql(db, "select count(distinct email) from customers"),
        "3"
    );
    assert!(env
        .branch_sql(db, "select ssn from customers where id = 1")
        .ends_with("6789"));
    assert_eq!(
        env.branch_sql(db, "select birth_date from customers where id = 1"),
        "1990-01-01"
    );
    // Constraints and the view came back.
    assert_eq!(
        env.branch_sql(db, "select count(*) from pg_constraint where conrelid = 'orders'::regclass and contype in ('f', 'c', 'p')"),
        "3"
    );
    assert_eq!(
        env.branch_sql(db, "select count(*) from big_orders"),
        env.source
            .admin_sql(APP_DB, "select count(*) from big_orders")
    );
    // Foreign keys still join.
    assert_eq!(
        env.branch_sql(
            db,
            "select count(*) from orders o join customers c on c.id = o.customer_id"
        ),
        "500"
    );
}

#[test]
fn masked_copy_dumps_and_restores_into_a_branch() {
    let env = env();
    // Plain format, as an analyst (masked, read-only on the server too).
    let plain = env.dir.path().join("masked.sql");
    let mut cmd = env.tool("pg_dump", "analyst_user", APP_DB, None);
    cmd.args(["-w", "--no-owner", "-f"]).arg(&plain);
    env.run(cmd, "pg_dump as analyst");
    let text = std::fs::read_to_string(&plain).expect("dump");
    for s in SECRETS {
        assert!(!text.contains(s), "{s} in the analyst's dump");
    }
    env.restore("masked_plain", &plain, false);
    check_masked_copy(&env, "masked_plain");

    // Custom format, restored with pg_restore.
    let custom = env.dir.path().join("masked.dump");
    let mut cmd = env.tool("pg_dump", "analyst_user", APP_DB, None);
    cmd.args(["-w", "-Fc", "-f"]).arg(&custom);
    env.run(cmd, "pg_dump -Fc as analyst");
    env.restore("masked_custom", &custom, true);
    check_masked_copy(&env, "masked_custom");
    // The same pseudonyms both times: keyed, deterministic.
    assert_eq!(
        env.branch_sql(
            "masked_plain",
            "select string_agg(email, ',' order by id) from customers"
        ),
        env.branch_sql(
            "masked_custom",
            "select string_agg(email, ',' order by id) from customers"
        )
    );
}

#[test]
fn full_copy_as_admin_and_read_only() {
    let env = env();
    for (user, db) in [("admin_user", "full_admin"), ("reader_user", "full_reader")] {
        let dump = env.dir.path().join(format!("{db}.dump"));
        let mut cmd = env.tool("pg_dump", user, APP_DB, None);
        cmd.args(["-w", "-Fc", "-f"]).arg(&dump);
        env.run(cmd, &format!("pg_dump as {user}"));
        env.restore(db, &dump, true);
        let q = "select string_agg(concat_ws('|', id, email, ssn, full_name, birth_date, balance), ',' order by id) from customers";
        assert_eq!(
            env.branch_sql(db, q),
            env.source.admin_sql(APP_DB, q),
            "{user}"
        );
        assert_eq!(
            env.branch_sql(db, "select sum(total) from orders"),
            "125250.00"
        );
    }
    // The reader's session stayed read-only on the server: a write through
    // its profile is refused by pgward, and by the server.
    let out = common::psql(
        env.pgward.port(),
        "reader_user",
        PW,
        APP_DB,
        &["-c", "set default_transaction_read_only = off"],
    );
    assert!(!out.status.success(), "read-only cannot be turned off");
}

#[test]
fn a_mask_that_collapses_a_unique_column_is_warned_about() {
    let env = env();
    let out = common::psql(
        env.pgward.port(),
        "collapser",
        PW,
        APP_DB,
        &["-At", "-c", "select email from customers order by id"],
    );
    let stdout = assert_success(&out, "select as collapser");
    assert!(stdout.contains("****@example.com"), "{stdout}");
    let found = common::util::wait_until(std::time::Duration::from_secs(10), || {
        let log = env.pgward.log_contents();
        log.contains("mask on a unique or primary-key column") && log.contains("email-domain-only")
    });
    assert!(found, "{}", env.pgward.log_contents());
}
