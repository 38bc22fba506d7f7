//! Backstage's own plugin migrations (catalog, scaffolder, auth: the
//! `migrations/` directories of the published npm packages, run by knex
//! with pg) in pluginDivisionMode: schema, through pgward governed by
//! policies/backstage.yaml with the audit trail on: latest(), latest()
//! again as a no-op, rollback of everything. The service's deny rule (its
//! own schemas only) holds throughout: a write outside them is refused.

mod common;

use common::clients::assert_success;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PW: &str = "backstage-pw";
const PLUGINS: [&str; 3] = ["catalog", "scaffolder", "auth"];

/// knex, pg and the plugin packages, fetched once per build directory.
fn fixture() -> PathBuf {
    let dest = Path::new(env!("CARGO_TARGET_TMPDIR")).join("backstage-fixture");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backstage/prepare.sh");
    let out = common::util::output_with_timeout(
        Command::new(&script).arg(&dest),
        std::time::Duration::from_secs(600),
    );
    assert_success(&out, "prepare the Backstage fixture (npm)");
    dest
}

#[test]
fn backstage_plugin_migrations_in_schema_mode() {
    let fixture = fixture();
    let pg = PgCluster::start();
    pg.admin_sql(
        APP_DB,
        &format!("create role backstage login password '{PW}'"),
    );
    pg.admin_sql(APP_DB, "create database backstage owner backstage");
    let b = Pgward::builder().upstream_port(pg.port());
    let spool = b.dir().join("spool");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/backstage.yaml");
    let pgward = b
        .args([
            "--policy",
            &policy.display().to_string(),
            "--audit-spool",
            &spool.display().to_string(),
        ])
        .start();
    let url = format!(
        "postgresql://backstage:{PW}@127.0.0.1:{}/backstage",
        pgward.port()
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(&fixture)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backstage/migrate.js"))
        .arg(&url);
    for p in PLUGINS {
        cmd.arg(format!(
            "{p}={}",
            fixture
                .join("plugins")
                .join(p)
                .join("package/migrations")
                .display()
        ));
    }
    cmd.env("NODE_PATH", fixture.join("node_modules"));
    let out = common::util::output_with_timeout(&mut cmd, std::time::Duration::from_secs(300));
    let stdout = assert_success(
        &out,
        &format!(
            "Backstage migrations\n---- pgward log ----\n{}",
            pgward.log_contents()
        ),
    );
    for p in PLUGINS {
        for step in [
            "\"latest\"",
            "\"latest-again\",\"applied\":0",
            "\"rollback-all\"",
        ] {
            assert!(
                stdout.contains(&format!("{{\"plugin\":\"{p}\",\"step\":{step}")),
                "{p} {step}: {stdout}"
            );
        }
    }
    // Each plugin's schema is left with knex's bookkeeping only.
    assert_eq!(
        pg.admin_sql(
            "backstage",
            "select string_agg(distinct schemaname, ',' order by schemaname) from pg_tables where schemaname in ('catalog','scaffolder','auth')"
        ),
        "auth,catalog,scaffolder"
    );
    // The rule still holds for this identity: nothing outside its schemas.
    pg.admin_sql("backstage", "create schema other authorization backstage");
    let out = common::psql(
        pgward.port(),
        "backstage",
        PW,
        "backstage",
        &[
            "-c",
            "set search_path to other",
            "-c",
            "create table t(x int)",
        ],
    );
    let stderr = common::clients::assert_failure(&out, "create outside the plugin schemas");
    assert!(stderr.contains("backstage-schemas-only"), "{stderr}");
    assert_eq!(
        pg.admin_sql(
            "backstage",
            "select count(*) from pg_tables where schemaname = 'other'"
        ),
        "0"
    );
}
