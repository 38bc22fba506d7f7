//! `pgward check --database`: masks that cannot change a value of the
//! columns they apply to are errors, reported at the mask's line and column.

mod common;

use common::*;

const POLICY: &str = "version: 1
default_profile: analyst
masks:
  - name: amount-to-cents
    columns: [\"*.orders.amount\"]
    function: { round: 2 }
  - name: amount-to-tens
    columns: [\"*.orders.total\"]
    function: { round: -1 }
  - name: birthday-to-the-day
    columns: [\"*.people.born\"]
    function: { truncate: day }
  - name: birth-year
    columns: [\"*.people.born_too\"]
    function: { truncate: year }
";

#[test]
fn masks_that_change_nothing_are_rejected_with_line_and_column() {
    let pg = PgCluster::start();
    pg.admin_sql(
        APP_DB,
        "CREATE TABLE orders (amount numeric(10,2), total integer); \
         CREATE TABLE people (born date, born_too date)",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let file = policy.display().to_string();

    // Without a database the policy is valid.
    let out = proxy::run_pgward(&["check", &file], std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");

    let url = format!(
        "host=127.0.0.1 port={} user={SUPERUSER} password={SUPERUSER_PASSWORD} dbname={APP_DB} sslmode=disable",
        pg.port()
    );
    let out = proxy::run_pgward(
        &["check", "--database", &url, &file],
        std::time::Duration::from_secs(30),
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{file}:6:15: mask \"amount-to-cents\" on public.orders.amount: round: 2 cannot change a numeric(10,2) value, which has 2 decimal places")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{file}:12:15: mask \"birthday-to-the-day\" on public.people.born: truncate: day cannot change a date")),
        "{text}"
    );
    assert!(
        !text.contains("amount-to-tens") && !text.contains("birth-year"),
        "{text}"
    );
}
