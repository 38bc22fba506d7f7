//! Masking against a real server: every way a result can leave the server
//! (simple and extended protocol, text and binary formats, cursors,
//! RETURNING, COPY in three formats, pg_dump), the type validity of masked
//! values as real clients decode them, an adversarial corpus that tries to
//! read masked columns in clear through derived values, and catalog refresh.
//! Assertions are on values: the clear value must never appear.

mod common;

use common::clients::{assert_success, describe_error, pg_dump};
use common::raw::{self, RawConn};
use common::*;
use futures_util::StreamExt;

const PW: &str = "mask-pw";
const HASH_KEY: &str = "0123456789abcdef-test-key";

/// Clear values of masked columns: none may ever reach a masked profile.
const SECRETS: &[&str] = &[
    "123-45-6789",
    "987-65-4321",
    "alice@example.com",
    "Alice Liddell",
    "555-0100",
    "1990-05-17",
    "1234.56",
    "4111111111111111",
];

const POLICY: &str = r#"
version: 1
default_profile: analyst
identities:
  - match: { user: analyst_user }
    profile: analyst
  - match: { user: dev_user }
    profile: developer
  - match: { user: admin_user }
    profile: admin
  - match: { user: strict_user }
    profile: strict
  - match: { user: support_user }
    profile: support
  - match: { user: dump_user }
    profile: dumper
profiles:
  dumper:
    inherits: admin
  strict:
    inherits: read_only
  support:
    inherits: read_only
masking:
  hash_key_env: PGWARD_TEST_HASH_KEY
tags:
  pii: ["customers.full_name", "customers.email", "customers.phone", "*.ssn", "customers.birth_date"]
  financial: ["public.customers.balance", "customers.card", "*.*.tax_id"]
masks:
  - name: ssn-last4
    columns: ["*.ssn"]
    function: { partial: { last: 4 } }
  - name: email-domain
    columns: ["customers.email"]
    function: email
  - name: name-hash
    columns: ["customers.full_name"]
    function: hash
  - name: birth-year
    columns: ["customers.birth_date"]
    function: { truncate: year }
  - name: money
    columns: ["customers.balance"]
    function: { bucket: 1000 }
  - name: everything-else-pii
    tags: [pii, financial]
    function: redact
  - name: support-sees-email
    columns: ["customers.email"]
    function: nullify
    exempt: [admin, support]
"#;

struct Env {
    pg: PgCluster,
    pgward: Pgward,
}

const USERS: [&str; 6] = [
    "dump_user",
    "analyst_user",
    "dev_user",
    "admin_user",
    "strict_user",
    "support_user",
];

fn env_with(policy: &str, derived: Option<&str>) -> Env {
    let pg = PgCluster::start();
    for u in USERS {
        pg.admin_sql(
            APP_DB,
            &format!("create role {u} login superuser password '{PW}'"),
        );
    }
    pg.admin_sql(
        APP_DB,
        "create table customers(
            id int primary key, full_name text, email varchar(100), phone text, ssn text,
            birth_date date, created timestamptz, balance numeric(12,2), score int8,
            ext_id uuid, prefs jsonb, tags text[], card text, note text, city text);
         insert into customers values
            (1, 'Alice Liddell', 'alice@example.com', '555-0100', '123-45-6789', '1990-05-17',
             '2024-03-04 05:06:07+00', 1234.56, 4242, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
             '{\"k\": \"v\"}', '{x,y}', '4111111111111111', 'secret-note', 'Paris'),
            (2, 'Bob Stone', 'bob@corp.example', '555-0199', '987-65-4321', '1985-12-01',
             '2023-01-01 00:00:00+00', 99.5, 7, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
             '[1, 2]', '{}', NULL, 'other', 'Oslo');
         create table orders(id int primary key, customer_id int, amount int);
         insert into orders values (10, 1, 5), (11, 2, 7);
         create view customer_contacts as select id, ssn, upper(email) as email_upper, city from customers;
         grant select on all tables in schema public to public;",
    );
    let derived_line = derived
        .map(|d| format!("  derived: {d}\n"))
        .unwrap_or_default();
    let policy = policy.replace(
        "masking:\n  hash_key_env: PGWARD_TEST_HASH_KEY\n",
        &format!("masking:\n  hash_key_env: PGWARD_TEST_HASH_KEY\n{derived_line}"),
    );
    let builder = Pgward::builder().upstream_port(pg.port());
    let policy_path = builder.write_file("policy.yaml", &policy);
    let pgward = builder
        .env("PGWARD_TEST_HASH_KEY", HASH_KEY)
        .env("PGWARD_TEST_CATALOG_PW", SUPERUSER_PASSWORD)
        .config_yaml(&format!(
            "policy: {}\ncatalog:\n  user: {SUPERUSER}\n  password_env: PGWARD_TEST_CATALOG_PW\n",
            policy_path.display()
        ))
        .start();
    Env { pg, pgward }
}

fn env() -> Env {
    env_with(POLICY, None)
}

impl Env {
    async fn client(&self, user: &str) -> tokio_postgres::Client {
        connect(self.pgward.port(), user, PW, APP_DB).await
    }

    fn psql(&self, user: &str, args: &[&str]) -> std::process::Output {
        psql(self.pgward.port(), user, PW, APP_DB, args)
    }
}

/// Every text value of a simple-query result.
async fn text_rows(
    c: &tokio_postgres::Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    let msgs = c.simple_query(sql).await.map_err(|e| describe_error(&e))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).map(str::to_owned))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .collect())
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "{what}: clear value {s:?} leaked in:\n{text}"
        );
    }
}

fn flatten(rows: &[Vec<Option<String>>]) -> String {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Bind and Execute of prepared `statement` on the unnamed portal, once for
/// each result format in `formats` (no parameters, one result column
/// format, all rows), then Sync.
fn bind_execute_sync(statement: &str, formats: &[i16]) -> Vec<u8> {
    let mut batch = Vec::new();
    for format in formats {
        let mut bind = format!("\0{statement}\0").into_bytes();
        bind.extend_from_slice(&0i16.to_be_bytes()); // parameter formats
        bind.extend_from_slice(&0i16.to_be_bytes()); // parameters
        bind.extend_from_slice(&1i16.to_be_bytes()); // result formats
        bind.extend_from_slice(&format.to_be_bytes());
        batch.extend(raw::frame(b'B', &bind));
        batch.extend(raw::frame(b'E', b"\0\0\0\0\0"));
    }
    batch.extend(raw::sync());
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provenance_masks_every_plain_path_with_each_function() {
    let env = env();
    let analyst = env.client("analyst_user").await;
    let rows = text_rows(
        &analyst,
        "select id, full_name, email, phone, ssn, birth_date, balance, card, city from customers order by id",
    )
    .await
    .expect("select");
    let first = &rows[0];
    assert_eq!(first[0].as_deref(), Some("1"), "unmasked id");
    let name_hash = first[1].clone().expect("hash is not null");
    assert_eq!(
        name_hash.len(),
        32,
        "hash of text is 32 hex chars: {name_hash}"
    );
    assert!(name_hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(first[2].as_deref(), Some("****@example.com"));
    assert_eq!(first[3].as_deref(), Some("****"), "redact");
    assert_eq!(first[4].as_deref(), Some("*******6789"), "partial last 4");
    assert_eq!(first[5].as_deref(), Some("1990-01-01"), "truncate year");
    assert_eq!(
        first[6].as_deref(),
        Some("1000"),
        "bucket 1000 (lower bound)"
    );
    assert_eq!(first[7].as_deref(), Some("****"), "tag financial, redact");
    assert_eq!(first[8].as_deref(), Some("Paris"), "unmasked city");
    assert_eq!(rows[1][7], None, "NULL stays NULL");
    assert_no_secret("simple select", &flatten(&rows));

    // SELECT *, aliases, joins, subquery in FROM, CTE, the view, TABLE.
    for sql in [
        "select * from customers",
        "select c.ssn as x, c.email as y from customers c",
        "select o.amount, c.ssn from orders o join customers c on c.id = o.customer_id",
        "select s.x from (select ssn as x from customers) s",
        "with w as (select ssn, email from customers) select * from w",
        "select * from customer_contacts",
        "table customers",
        "select * from customers where ssn = '123-45-6789'",
    ] {
        let rows = text_rows(&analyst, sql).await.expect(sql);
        assert!(!rows.is_empty(), "{sql}: rows expected");
        assert_no_secret(sql, &flatten(&rows));
    }
    // Deterministic hash: equal inputs give equal outputs across statements,
    // and in binary format (tokio-postgres asks for binary) too.
    let again = text_rows(&analyst, "select full_name from customers where id = 1")
        .await
        .expect("select");
    assert_eq!(again[0][0].as_deref(), Some(name_hash.as_str()));
    let bin: String = analyst
        .query_one("select full_name from customers where id = 1", &[])
        .await
        .expect("extended")
        .get(0);
    assert_eq!(bin, name_hash, "text and binary hashes agree");

    // Admin is exempt; support is exempt from one rule only (the first
    // matching rule for email still applies to it).
    let admin = env.client("admin_user").await;
    let rows = text_rows(&admin, "select ssn, email from customers where id = 1")
        .await
        .expect("admin");
    assert_eq!(rows[0][0].as_deref(), Some("123-45-6789"));
    assert_eq!(rows[0][1].as_deref(), Some("alice@example.com"));
    let support = env.client("support_user").await;
    let rows = text_rows(&support, "select email from customers where id = 1")
        .await
        .expect("support");
    assert_eq!(rows[0][0].as_deref(), Some("****@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_binary_cursors_returning_and_prepared_statements() {
    let env = env();
    let analyst = env.client("analyst_user").await;
    // Binary results decoded by a real client: every masked value is a
    // valid value of its type.
    let row = analyst
        .query_one(
            "select id, full_name, email, phone, ssn, birth_date, created, score, ext_id, prefs, tags, balance::text \
             from customers where id = 1",
            &[],
        )
        .await
        .expect("extended query");
    let email: String = row.get(2);
    assert_eq!(email, "****@example.com");
    let ssn: String = row.get(4);
    assert_eq!(ssn, "*******6789");
    let birth: chrono::NaiveDate = row.get(5);
    assert_eq!(birth.to_string(), "1990-01-01");
    let created: chrono::DateTime<chrono::Utc> = row.get(6);
    assert_eq!(
        created.to_rfc3339(),
        "2024-03-04T05:06:07+00:00",
        "created is not masked"
    );
    let _score: i64 = row.get(7);
    let ext: uuid::Uuid = row.get(8);
    assert_eq!(
        ext.to_string(),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "not masked"
    );
    let prefs: serde_json::Value = row.get(9);
    assert_eq!(prefs, serde_json::json!({"k": "v"}), "not masked");
    let tags: Vec<String> = row.get(10);
    assert_eq!(tags, vec!["x", "y"]);
    let balance: String = row.get(11);
    assert_eq!(balance, "****", "a cast is a derived value: masked whole");

    // Named prepared statement, executed twice, with a parameter.
    let stmt = analyst
        .prepare("select ssn, email from customers where id = $1")
        .await
        .expect("prepare");
    for id in [1i32, 2] {
        let r = analyst.query_one(&stmt, &[&id]).await.expect("execute");
        let s: String = r.get(0);
        assert!(s.starts_with("*******"), "{s}");
        assert_no_secret("prepared", &s);
    }
    // A pipeline of several statements in one batch.
    let (a, b) = tokio::join!(
        analyst.query_one("select ssn from customers where id = 1", &[]),
        analyst.query_one("select city from customers where id = 2", &[])
    );
    let a: String = a.expect("pipelined 1").get(0);
    let b: String = b.expect("pipelined 2").get(0);
    assert_eq!(a, "*******6789");
    assert_eq!(b, "Oslo");

    // Cursors, fetched in pieces, over plain and computed columns.
    let rows = text_rows(
        &analyst,
        "begin; declare c cursor for select ssn, upper(ssn), city from customers order by id; \
         fetch 1 from c; fetch 1 from c; commit",
    )
    .await
    .expect("cursor");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0].as_deref(), Some("*******6789"));
    assert_eq!(rows[0][1].as_deref(), Some("****"), "derived column masked");
    assert_eq!(rows[0][2].as_deref(), Some("Paris"));
    assert_no_secret("cursor", &flatten(&rows));
    // Binary cursor.
    let rows = text_rows(
        &analyst,
        "begin; declare b binary cursor for select ssn from customers; fetch all from b; commit",
    )
    .await
    .expect("binary cursor");
    assert_no_secret("binary cursor", &flatten(&rows));

    // RETURNING (developer: masks apply to every profile but admin).
    let dev = env.client("dev_user").await;
    let rows = text_rows(
        &dev,
        "update customers set city = 'Rome' where id = 1 returning ssn, email, city",
    )
    .await
    .expect("returning");
    assert_eq!(rows[0][0].as_deref(), Some("*******6789"));
    assert_eq!(rows[0][1].as_deref(), Some("****@example.com"));
    assert_eq!(rows[0][2].as_deref(), Some("Rome"));
    let r = dev
        .query_one(
            "insert into customers(id, ssn, email) values (3, '111-22-3333', 'carol@x.example') returning ssn, email",
            &[],
        )
        .await
        .expect("insert returning");
    let s: String = r.get(0);
    assert_eq!(s, "*******3333");

    // SQL-level PREPARE / EXECUTE.
    let rows = text_rows(
        &analyst,
        "prepare p as select ssn, lower(email) from customers where id = 1; execute p",
    )
    .await
    .expect("execute");
    assert_eq!(rows[0][0].as_deref(), Some("*******6789"));
    assert_eq!(rows[0][1].as_deref(), Some("****"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_is_masked_in_text_csv_and_binary() {
    let env = env();
    let analyst = env.client("analyst_user").await;
    async fn copy(c: &tokio_postgres::Client, sql: &str) -> Vec<u8> {
        let stream = c
            .copy_out(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        futures_util::pin_mut!(stream);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.expect("copy data"));
        }
        out
    }
    let text = copy(&analyst, "copy customers to stdout").await;
    let text = String::from_utf8(text).expect("utf8");
    assert_no_secret("copy text", &text);
    assert!(text.contains("*******6789"), "{text}");
    assert!(text.contains("****@example.com"), "{text}");
    assert!(text.contains("Paris"), "{text}");
    assert!(text.contains("\\N"), "NULL stays NULL: {text}");

    let csv = copy(
        &analyst,
        "copy customers (id, ssn, email, city) to stdout with (format csv, header)",
    )
    .await;
    let csv = String::from_utf8(csv).expect("utf8");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,ssn,email,city"));
    assert_eq!(lines.next(), Some("1,*******6789,****@example.com,Paris"));
    assert_no_secret("copy csv", &csv);

    let q = copy(
        &analyst,
        "copy (select id, upper(ssn), email, city from customers order by id) to stdout with (format csv, delimiter '|')",
    )
    .await;
    let q = String::from_utf8(q).expect("utf8");
    assert_eq!(q.lines().next(), Some("1||****@example.com|Paris"), "{q}");
    assert_no_secret("copy query", &q);

    let star = copy(&analyst, "copy (select * from customers) to stdout").await;
    assert_no_secret("copy (select *)", &String::from_utf8_lossy(&star));

    let bin = copy(
        &analyst,
        "copy customers (id, ssn, city) to stdout with (format binary)",
    )
    .await;
    assert!(bin.starts_with(b"PGCOPY\n\xff\r\n\0"), "binary signature");
    let hay = String::from_utf8_lossy(&bin);
    assert_no_secret("copy binary", &hay);
    assert!(hay.contains("*******6789"));

    // The admin's copy is untouched.
    let admin = env.client("admin_user").await;
    let clear =
        String::from_utf8(copy(&admin, "copy customers (ssn) to stdout").await).expect("utf8");
    assert!(clear.contains("123-45-6789"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_and_psql_see_masked_data() {
    let env = env();
    // pg_dump needs an admin-like profile (it calls set_config); `dumper`
    // inherits admin but is not exempt from masks.
    let out = pg_dump(
        env.pgward.port(),
        "dump_user",
        PW,
        APP_DB,
        &["-t", "customers", "--data-only"],
    );
    let dump = assert_success(&out, "pg_dump through pgward");
    assert!(dump.contains("*******6789"), "{dump}");
    assert_no_secret("pg_dump", &dump);
    let out = env.psql(
        "analyst_user",
        &["-At", "-c", "select ssn from customers order by id"],
    );
    let text = assert_success(&out, "psql");
    assert_eq!(text.lines().next(), Some("*******6789"));
    let out = env.psql(
        "analyst_user",
        &["-At", "-c", "\\copy customers (ssn) to stdout"],
    );
    let text = assert_success(&out, "psql \\copy");
    assert_no_secret("psql \\copy", &text);
}

/// Attempts to read a masked column in clear. Each must return masked data
/// or fail; the clear value never appears, not even in an error message.
const ADVERSARIAL: &[&str] = &[
    "select upper(ssn) from customers",
    "select ssn || '' from customers",
    "select ssn::bytea from customers",
    "select concat('>', ssn) from customers",
    "select format('%s', ssn) from customers",
    "select case when true then ssn end from customers",
    "select coalesce(ssn, 'x') from customers",
    "select string_agg(ssn, ',') from customers",
    "select array_agg(ssn) from customers",
    "select json_agg(c) from customers c",
    "select row_to_json(c) from customers c",
    "select to_jsonb(c) from customers c",
    "select c::text from customers c",
    "select c from customers c",
    "select (c).ssn from customers c",
    "select row(c.*) from customers c",
    "select jsonb_build_object('s', ssn) from customers",
    "select json_build_array(email) from customers",
    "select (select ssn from customers limit 1)",
    "select x.s from customers c, lateral (select c.ssn as s) x",
    "select s from (select ssn || '' as s from customers) sub",
    "with w as (select ssn from customers) select upper(ssn) from w",
    "select ssn from customers union select 'x'",
    "select ssn from customers union all select email from customers",
    "select email_upper from customer_contacts",
    "select * from customer_contacts",
    "select lower(email_upper) from customer_contacts",
    "select query_to_xml('select ssn from customers', true, false, '')",
    "select leak(1)",
    "select * from leak_rows()",
    "select ssn::int from customers",
    "select 1 from customers where ssn::int = 1",
    "select substr(ssn, 1, 3) || substr(ssn, 4) from customers",
    "select translate(ssn, '0123456789', '0123456789') from customers",
    "select max(ssn) from customers",
    "select array[ssn] from customers",
    "select (array_agg(email))[1] from customers",
    "select encode(convert_to(ssn, 'UTF8'), 'escape') from customers",
    "select regexp_replace(ssn, '-', '') from customers",
    "select t.* from (select * from customers) t",
    "select to_json(t) from (select * from customers) t",
    "select x from (select customers from customers) x",
    "values ((select ssn from customers limit 1))",
    "select * from json_populate_record(null::customers, (select to_json(c) from customers c limit 1))",
    "select hstore(c) from customers c",
    "select xmlelement(name x, ssn) from customers",
    "select ssn collate \"C\" from customers",
    "select distinct on (ssn) ssn from customers",
    "select * from unnest((select array_agg(ssn) from customers))",
    "select set_config('my.x', ssn, false) from customers",
    "select pg_notify('c', ssn) from customers",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_corpus_never_sees_clear_values() {
    let env = env();
    env.pg.admin_sql(
        APP_DB,
        "create function leak(int) returns text language sql stable as 'select ssn from customers where id = $1';
         create function leak_rows() returns setof customers language sql stable as 'select * from customers';",
    );
    let mut outcomes = Vec::new();
    for user in ["analyst_user", "dev_user"] {
        let c = env.client(user).await;
        for sql in ADVERSARIAL {
            match text_rows(&c, sql).await {
                Ok(rows) => {
                    assert_no_secret(&format!("{user}: {sql}"), &flatten(&rows));
                    outcomes.push(format!("{user} ok  {sql}"));
                }
                Err(e) => {
                    assert_no_secret(&format!("{user}: {sql} (error)"), &e);
                    outcomes.push(format!("{user} err {sql}: {e}"));
                }
            }
            // Extended protocol and binary format, too.
            match c.query(*sql, &[]).await {
                Ok(rows) => {
                    let dump = format!("{rows:?}");
                    assert_no_secret(&format!("{user} extended: {sql}"), &dump);
                }
                Err(e) => assert_no_secret(&format!("{user} extended: {sql}"), &describe_error(&e)),
            }
        }
    }
    // Not all refused: most must come back, masked.
    let ok = outcomes.iter().filter(|o| o.contains(" ok ")).count();
    assert!(
        ok > ADVERSARIAL.len(),
        "too few answered:\n{}",
        outcomes.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_copy_masked_data_are_refused() {
    let env = env();
    let dev = env.client("dev_user").await;
    dev.batch_execute("create table scratch(v text)")
        .await
        .expect("create scratch");
    for sql in [
        "create table copy1 as select ssn from customers",
        "select ssn into copy2 from customers",
        "insert into scratch select ssn from customers",
        "insert into scratch select c::text from customers c",
        "update orders set amount = length(c.ssn) from customers c where c.id = orders.customer_id",
        "create materialized view mv as select email from customers",
        "alter table customers rename column ssn to not_secret",
        "alter table customers rename to people",
        "do $$ begin perform 1; end $$",
        "create function f() returns text language sql as 'select ssn from customers limit 1'",
    ] {
        let err = dev
            .batch_execute(sql)
            .await
            .expect_err(&format!("{sql} must be refused"));
        assert_eq!(
            sqlstate(&err).as_deref(),
            Some("42501"),
            "{sql}: {}",
            describe_error(&err)
        );
    }
    let count = env.pg.admin_sql(APP_DB, "select count(*) from scratch");
    assert_eq!(count, "0", "nothing was copied");
    assert_eq!(
        env.pg.admin_sql(
            APP_DB,
            "select to_regclass('copy1') is null and to_regclass('copy2') is null"
        ),
        "t"
    );
    // Ordinary writes still work.
    dev.batch_execute(
        "insert into scratch values ('plain'); update customers set city = 'Lyon' where id = 2",
    )
    .await
    .expect("plain writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_deny_mode_refuses_computed_values() {
    let env = env_with(POLICY, Some("deny"));
    let analyst = env.client("analyst_user").await;
    let err = analyst
        .simple_query("select upper(ssn) from customers")
        .await
        .expect_err("derived value refused");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"));
    let rows = text_rows(
        &analyst,
        "select ssn, upper(city) from customers where id = 1",
    )
    .await
    .expect("plain masked column and unrelated expression");
    assert_eq!(rows[0][0].as_deref(), Some("*******6789"));
    assert_eq!(rows[0][1].as_deref(), Some("PARIS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_refresh_masks_new_and_renamed_columns() {
    let env = env();
    let analyst = env.client("analyst_user").await;
    let admin = env.client("admin_user").await;
    let before = text_rows(&analyst, "select note from customers where id = 1")
        .await
        .expect("note");
    assert_eq!(
        before[0][0].as_deref(),
        Some("secret-note"),
        "note is not masked yet"
    );
    admin
        .batch_execute("create view note_view as select id, note as x from customers")
        .await
        .expect("view over note");
    let v = text_rows(&analyst, "select x from note_view where id = 1")
        .await
        .expect("note_view");
    assert_eq!(v[0][0].as_deref(), Some("secret-note"));
    // Renamed to a name a mask matches, through pgward by an exempt profile.
    admin
        .batch_execute("alter table customers rename column note to tax_id")
        .await
        .expect("rename");
    // Requests that do not name the column see it masked too: `*`, and a
    // view whose own column name did not change.
    let star = text_rows(&analyst, "select * from customers where id = 1")
        .await
        .expect("star");
    assert_no_secret("star after rename", &flatten(&star));
    assert!(
        !flatten(&star).contains("secret-note"),
        "renamed column in clear through *: {star:?}"
    );
    let v = text_rows(&analyst, "select x from note_view where id = 1")
        .await
        .expect("note_view after rename");
    assert_eq!(
        v[0][0].as_deref(),
        Some("****"),
        "view over a renamed column"
    );
    let after = text_rows(&analyst, "select tax_id from customers where id = 1")
        .await
        .expect("tax_id");
    assert_eq!(after[0][0].as_deref(), Some("****"));
    // A column added later, in a transaction that commits.
    admin
        .batch_execute("begin; alter table orders add column tax_id text default 'T-9'; commit")
        .await
        .expect("add column");
    let rows = text_rows(&analyst, "select amount, tax_id from orders order by id")
        .await
        .expect("orders");
    assert_eq!(rows[0][0].as_deref(), Some("5"));
    assert_eq!(
        rows[0][1].as_deref(),
        Some("****"),
        "new column matches *.*.tax_id"
    );
    // A new table.
    admin
        .batch_execute(
            "create table staff(id int, ssn text); insert into staff values (1, '123-45-6789')",
        )
        .await
        .expect("new table");
    let rows = text_rows(&analyst, "select ssn from staff")
        .await
        .expect("staff");
    assert_eq!(rows[0][0].as_deref(), Some("*******6789"));
    // A view created later over a masked column.
    admin
        .batch_execute("create view staff_view as select id, ssn as x from staff")
        .await
        .expect("view");
    let rows = text_rows(&analyst, "select x from staff_view")
        .await
        .expect("view");
    assert_no_secret("new view", &flatten(&rows));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_sessions_survive_bad_input_with_clear_errors() {
    let env = env();
    // A malformed Bind in a masked session: a protocol error, not a hang.
    let mut conn = RawConn::connect(env.pgward.port());
    // The trust user has no identity rule: default_profile (analyst, masked).
    conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    let mut bad_bind = b"\0\0".to_vec();
    bad_bind.extend_from_slice(&0i16.to_be_bytes());
    bad_bind.extend_from_slice(&1i16.to_be_bytes());
    bad_bind.extend_from_slice(&100i32.to_be_bytes());
    conn.send(&raw::frame(b'B', &bad_bind));
    conn.send(&raw::sync());
    let (tag, body) = conn.read_message();
    assert_eq!(tag, b'E');
    assert_eq!(raw::error_field(&body, b'C').as_deref(), Some("08P01"));
    // Another masked client is unaffected.
    let analyst = env.client("analyst_user").await;
    let rows = text_rows(&analyst, "select ssn from customers where id = 1")
        .await
        .expect("works");
    assert_eq!(rows[0][0].as_deref(), Some("*******6789"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_without_a_catalog_credential_refuse_to_start() {
    let pg = PgCluster::start();
    let builder = Pgward::builder().upstream_port(pg.port());
    let policy_path = builder.write_file("policy.yaml", POLICY);
    let Err(err) = builder
        .env("PGWARD_TEST_HASH_KEY", HASH_KEY)
        .arg("--policy")
        .arg(policy_path.display().to_string())
        .try_start()
    else {
        panic!("masks need a catalog credential: pgward must refuse to start");
    };
    assert!(err.contains("catalog"), "{err}");
}

/// A client that never asks for a description (Parse, Bind, Execute, Sync):
/// pgward describes the portal itself, so the rows are still masked, in text
/// and in binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undescribed_portals_are_masked_too() {
    let env = env();
    let mut conn = RawConn::connect(env.pgward.port());
    conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    let parse = {
        let mut b = b"s1\0select id, ssn from customers where id = 1\0".to_vec();
        b.extend_from_slice(&0i16.to_be_bytes());
        raw::frame(b'P', &b)
    };
    let mut batch = parse;
    batch.extend(bind_execute_sync("s1", &[0, 1]));
    conn.send(&batch);
    let msgs = conn.read_until(b'Z');
    let tags: Vec<char> = msgs.iter().map(|(t, _)| *t as char).collect();
    if let Some((_, e)) = msgs.iter().find(|(t, _)| *t == b'E') {
        panic!("error: {:?}", raw::error_fields(e));
    }
    assert_eq!(
        tags,
        vec!['1', '2', 'D', 'C', '2', 'D', 'C', 'Z'],
        "no RowDescription reaches a client that did not ask"
    );
    let values: Vec<Vec<u8>> = msgs
        .iter()
        .filter(|(t, _)| *t == b'D')
        .map(|(_, body)| {
            // Two columns: skip id, return ssn.
            let id_len = i32::from_be_bytes([body[2], body[3], body[4], body[5]]) as usize;
            let at = 6 + id_len;
            let len = i32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
            body[at + 4..at + 4 + len as usize].to_vec()
        })
        .collect();
    assert_eq!(values[0], b"*******6789", "text");
    assert_eq!(values[1], b"*******6789", "binary text is the same bytes");
}

const TYPED_POLICY: &str = r#"
version: 1
default_profile: analyst
masking:
  hash_key_env: PGWARD_TEST_HASH_KEY
masks:
  - { name: i4, columns: ["typed.i4"], function: { bucket: 100 } }
  - { name: i8, columns: ["typed.i8"], function: hash }
  - { name: n, columns: ["typed.n"], function: { round: 0 } }
  - { name: d, columns: ["typed.d"], function: { truncate: month } }
  - { name: ts, columns: ["typed.ts"], function: { truncate: day } }
  - { name: u, columns: ["typed.u"], function: hash }
  - { name: j, columns: ["typed.j"], function: redact }
  - { name: arr, columns: ["typed.arr"], function: { partial: { last: 1 } } }
  - { name: v, columns: ["typed.v"], function: email }
  - { name: t, columns: ["typed.t"], function: { fixed: "n/a" } }
  - { name: b, columns: ["typed.b"], function: redact }
  - { name: f, columns: ["typed.f"], function: { round: 1 } }
"#;

/// Every masked value is a valid value of its column's type: decoded by a
/// real client in binary, and parsed back by the server from its text form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_values_are_valid_for_their_types_in_text_and_binary() {
    let env = env_with(TYPED_POLICY, None);
    env.pg.admin_sql(
        APP_DB,
        "create table typed(i4 int4, i8 int8, n numeric(10,3), d date, ts timestamptz, u uuid,
                            j jsonb, arr text[], v varchar(40), t text, b bool, f float8);
         insert into typed values (1234, 9876543210, 12345.678, '2021-07-19', '2022-02-03 04:05:06.789+00',
                                   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',
                                   '{alpha,beta,NULL}', 'someone@example.org', 'clear text', true, 2.345);
         grant select on typed to public;",
    );
    let analyst = env.client("analyst_user").await;
    let row = analyst
        .query_one(
            "select i4, i8, n::text, d, ts, u, j, arr, v, t, b, f from typed",
            &[],
        )
        .await
        .expect("binary results decode");
    assert_eq!(row.get::<_, i32>(0), 1200, "bucket 100");
    let hashed: i64 = row.get(1);
    assert!(
        hashed >= 0 && hashed != 9_876_543_210,
        "hash of an int8 is an int8"
    );
    assert_eq!(
        row.get::<_, String>(2),
        "****",
        "a cast is derived: masked whole"
    );
    assert_eq!(row.get::<_, chrono::NaiveDate>(3).to_string(), "2021-07-01");
    assert_eq!(
        row.get::<_, chrono::DateTime<chrono::Utc>>(4).to_rfc3339(),
        "2022-02-03T00:00:00+00:00"
    );
    let u: uuid::Uuid = row.get(5);
    assert_ne!(u.to_string(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(u.get_version_num(), 4);
    assert_eq!(
        row.get::<_, serde_json::Value>(6),
        serde_json::json!("****")
    );
    assert_eq!(
        row.get::<_, Vec<Option<String>>>(7),
        vec![Some("****a".to_owned()), Some("***a".to_owned()), None]
    );
    assert_eq!(row.get::<_, String>(8), "****@example.org");
    assert_eq!(row.get::<_, String>(9), "n/a");
    assert!(!row.get::<_, bool>(10), "redacted bool is false");
    assert_eq!(row.get::<_, f64>(11), 2.3);

    // The same columns in text format, each parsed back by the server.
    let text = text_rows(
        &analyst,
        "select i4, i8, n, d, ts, u, j, arr, v, t, b, f from typed",
    )
    .await
    .expect("text results");
    let types = [
        "int4",
        "int8",
        "numeric",
        "date",
        "timestamptz",
        "uuid",
        "jsonb",
        "text[]",
        "varchar",
        "text",
        "bool",
        "float8",
    ];
    let admin = env.client("admin_user").await;
    for (value, ty) in text[0].iter().zip(types) {
        let value = value.as_deref().expect("no NULL expected");
        let back: String = admin
            .query_one(&format!("select $1::text::{ty}::text"), &[&value])
            .await
            .unwrap_or_else(|e| panic!("{value:?} is not a valid {ty}: {}", describe_error(&e)))
            .get(0);
        assert!(!back.is_empty());
    }
    assert_eq!(text[0][0].as_deref(), Some("1200"));
    assert_eq!(text[0][2].as_deref(), Some("12346"), "round 0");
    // Binary hash equals text hash for the same value.
    let bin_u: uuid::Uuid = analyst
        .query_one("select u from typed", &[])
        .await
        .expect("uuid")
        .get(0);
    assert_eq!(text[0][5].as_deref(), Some(bin_u.to_string().as_str()));
}

/// Masks that match nothing yet (the usual state of a fresh branch): DDL
/// that cannot bring masked data leaves the catalog snapshot as it is, and
/// what it created reads in clear; DDL that names a masked schema, table or
/// column is caught up with, and its data comes back masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tables_read_clear_until_ddl_names_a_mask() {
    let policy = POLICY.replace(
        "masks:\n",
        "masks:\n  - name: vault\n    columns: [\"vault.*.secret\"]\n    function: redact\n",
    );
    // Only the vault mask may match: the fixture's masked columns go.
    let env = env_with(&policy, None);
    env.pg.admin_sql(
        APP_DB,
        "drop view customer_contacts; drop table customers; drop table orders",
    );
    let dev = env.client("dev_user").await;
    let analyst = env.client("analyst_user").await;
    // The analyst's session loads the snapshot (no table is masked).
    let none = text_rows(&analyst, "select 1").await.expect("select 1");
    assert_eq!(none[0][0].as_deref(), Some("1"));
    dev.batch_execute(
        "create table plain_t(id int, note text); insert into plain_t values (1, 'visible'); \
         create view plain_v as select id, note as n from plain_t",
    )
    .await
    .expect("plain DDL");
    for sql in [
        "select note from plain_t",
        "select * from plain_t",
        "select n from plain_v",
        "select t.* from public.plain_t t",
    ] {
        let rows = text_rows(&analyst, sql).await.expect(sql);
        assert_eq!(
            rows[0].last().cloned().flatten().as_deref(),
            Some("visible"),
            "{sql}"
        );
    }
    dev.batch_execute(
        "create schema vault; create table vault.box(id int, secret text); \
         insert into vault.box values (1, 'hidden-value')",
    )
    .await
    .expect("vault DDL");
    for sql in [
        "select secret from vault.box",
        "select * from vault.box",
        "copy (select * from vault.box) to stdout",
    ] {
        let out = match text_rows(&analyst, sql).await {
            Ok(rows) => flatten(&rows),
            Err(e) => e,
        };
        assert!(!out.contains("hidden-value"), "{sql}: {out}");
    }
    // A column renamed to a masked name in a table pgward saw created clear.
    dev.batch_execute("create table vault.other(id int, c text); insert into vault.other values (1, 'later-hidden')")
        .await
        .expect("other");
    dev.batch_execute("alter table vault.other rename column c to secret")
        .await
        .expect("rename");
    let out = match text_rows(&analyst, "select * from vault.other").await {
        Ok(rows) => flatten(&rows),
        Err(e) => e,
    };
    assert!(!out.contains("later-hidden"), "{out}");
}

/// Relations the catalog snapshot cannot place (made by a function, or in
/// the session's open transaction) are asked about on the session's own
/// connection: one that reads nothing masked comes back clear, and one
/// defined over a masked column stays masked, committed or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relations_the_snapshot_lacks_are_placed_by_the_session() {
    let env = env();
    // Functions whose bodies make relations pgward never sees created.
    env.pg.admin_sql(
        APP_DB,
        "create function make_clear(n text) returns void language plpgsql as $$ \
           begin execute format('create table %I as select id, city from customers', n); end $$; \
         create function make_leaky(n text) returns void language plpgsql as $$ \
           begin execute format('create view %I as select id, ssn from customers', n); end $$; \
         create function make_hidden(n text) returns void language plpgsql as $$ \
           begin execute format('create view %I as select id, public.peek(id) as s from customers', n); end $$; \
         create function peek(i int) returns text language sql as $$ select ssn from customers where id = i $$; \
         grant execute on all functions in schema public to public",
    );
    let dev = env.client("dev_user").await;
    let masked = text_rows(&dev, "select ssn from customers where id = 1")
        .await
        .expect("ssn");
    assert_ne!(
        masked[0][0].as_deref(),
        Some("123-45-6789"),
        "dev is masked"
    );
    for commit in [true, false] {
        let sfx = if commit { "c" } else { "t" };
        if !commit {
            dev.batch_execute("begin").await.expect("begin");
        }
        for (f, name) in [
            ("make_clear", format!("made_{sfx}")),
            ("make_leaky", format!("leaky_{sfx}")),
            ("make_hidden", format!("hidden_{sfx}")),
        ] {
            text_rows(&dev, &format!("select {f}('{name}')"))
                .await
                .expect(f);
        }
        let clear = text_rows(&dev, &format!("select * from made_{sfx} order by id"))
            .await
            .expect("made");
        assert_eq!(flatten(&clear), "1|Paris\n2|Oslo", "commit={commit}");
        for sql in [
            format!("select * from leaky_{sfx}"),
            format!("select ssn from leaky_{sfx}"),
            format!("select * from hidden_{sfx}"),
        ] {
            let out = match text_rows(&dev, &sql).await {
                Ok(rows) => flatten(&rows),
                Err(e) => e,
            };
            assert_no_secret(&sql, &out);
        }
        if !commit {
            dev.batch_execute("rollback").await.expect("rollback");
        }
    }
    // A temporary table made by a function, read in the same session.
    env.pg.admin_sql(
        APP_DB,
        "create function make_temp() returns void language plpgsql as $$ \
           begin create temp table tmp_city as select id, city from customers; end $$",
    );
    text_rows(&dev, "select make_temp()").await.expect("temp");
    let rows = text_rows(&dev, "select city from tmp_city order by id")
        .await
        .expect("tmp");
    assert_eq!(flatten(&rows), "Paris\nOslo");
}

/// A view's column computed by a user function, or taken from one in its
/// FROM list, can carry masked values the view names nowhere: such columns
/// are masked where some column is masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_over_user_functions_are_masked() {
    let env = env();
    env.pg.admin_sql(
        APP_DB,
        "create function peek(i int) returns text language sql as $$ select ssn from customers where id = i $$; \
         create function peek_rows() returns table(id int, s text) language sql as $$ select id, ssn from customers $$; \
         create view hidden_x as select id, city, public.peek(id) as s from customers; \
         create view rows_x as select * from public.peek_rows(); \
         create view rows_y as select r.id, r.s from public.peek_rows() r",
    );
    let dev = env.client("dev_user").await;
    for sql in [
        "select * from hidden_x",
        "select s from hidden_x",
        "select * from rows_x",
        "select s from rows_y",
    ] {
        let out = match text_rows(&dev, sql).await {
            Ok(rows) => flatten(&rows),
            Err(e) => e,
        };
        assert_no_secret(sql, &out);
    }
    // Columns straight from a relation the view reads stay clear.
    let rows = text_rows(&dev, "select city from hidden_x order by id")
        .await
        .expect("city");
    assert_eq!(flatten(&rows), "Paris\nOslo");
}

/// A prepared statement is planned once and its plan reused: the reuse must
/// follow the result formats of each Bind, and a policy reload that masks a
/// column it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_statement_plans_follow_formats_and_policy_reloads() {
    let env = env();
    let mut conn = RawConn::connect(env.pgward.port());
    conn.startup(&[("user", TRUST_USER), ("database", APP_DB)], None);
    // Described by the client, as drivers do, so every portal shares the
    // statement's columns.
    let mut prepare = raw::frame(
        b'P',
        b"s2\0select birth_date from customers where id = 1\0\0\0",
    );
    prepare.extend(raw::frame(b'D', b"Ss2\0"));
    prepare.extend(raw::sync());
    conn.send(&prepare);
    let msgs = conn.read_until(b'Z');
    assert_eq!(raw::tags(&msgs), vec!['1', 't', 'T', 'Z']);
    conn.send(&bind_execute_sync("s2", &[0, 1, 0, 1]));
    let msgs = conn.read_until(b'Z');
    if let Some((_, e)) = msgs.iter().find(|(t, _)| *t == b'E') {
        panic!("error: {:?}", raw::error_fields(e));
    }
    let values: Vec<Vec<u8>> = msgs
        .iter()
        .filter(|(t, _)| *t == b'D')
        .map(|(_, body)| {
            let len = i32::from_be_bytes([body[2], body[3], body[4], body[5]]);
            body[6..6 + len as usize].to_vec()
        })
        .collect();
    // 1990-01-01 is 3652 days before 2000-01-01, PostgreSQL's date epoch.
    let binary = (-3652i32).to_be_bytes().to_vec();
    assert_eq!(
        values,
        vec![
            b"1990-01-01".to_vec(),
            binary.clone(),
            b"1990-01-01".to_vec(),
            binary
        ],
        "each execution is masked in the format its Bind asked for"
    );

    // city is not masked; a reload masks it, and the statement prepared
    // before the reload follows.
    let analyst = env.client("analyst_user").await;
    let stmt = analyst
        .prepare("select city from customers where id = $1")
        .await
        .expect("prepare");
    let city: String = analyst
        .query_one(&stmt, &[&1i32])
        .await
        .expect("before")
        .get(0);
    assert_eq!(city, "Paris");
    let path = env.pgward.dir().join("policy.yaml");
    let before = env.pgward.log_contents().matches("policy reloaded").count();
    std::fs::write(
        &path,
        format!("{POLICY}  - name: city-later\n    columns: [\"customers.city\"]\n    function: redact\n"),
    )
    .expect("write policy");
    assert!(
        common::util::wait_until(std::time::Duration::from_secs(20), || {
            env.pgward.log_contents().matches("policy reloaded").count() > before
        }),
        "reload not seen:\n{}",
        env.pgward.log_contents()
    );
    let city: String = analyst
        .query_one(&stmt, &[&1i32])
        .await
        .expect("after")
        .get(0);
    assert_eq!(
        city, "****",
        "the plan made before the reload is not reused"
    );
}

/// A statement that differs from an earlier one only in its constants
/// shares its analysis, and pgward takes its decision again when nothing
/// it was decided from changed. Each input changed here alone must give a
/// new decision: the schemas names resolve in, the catalog, a table the
/// session created in its open transaction, and the policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_taken_again_follow_every_input() {
    let deny_other = "profiles:\n  developer:\n    inherits: developer\n    deny:\n      - name: no-other\n        objects: [\"other.*\"]\n";
    let policy = POLICY.replace("profiles:\n", deny_other);
    let env = env_with(&policy, None);
    env.pg.admin_sql(
        APP_DB,
        "create schema other;
         create table other.orders(id int primary key, customer_id int, amount int);
         insert into other.orders values (10, 1, 5), (11, 2, 7);
         create table archive(id int, customer_id int, amount int, extra text);
         grant usage on schema other to public;
         grant all on all tables in schema other, public to public;",
    );
    // A developer: its decisions are the ones taken again (an analyst's
    // read the function catalog's volatility, and are taken anew).
    let dev = env.client("dev_user").await;
    let admin = env.client("admin_user").await;
    let star = |id: i32| format!("select * from orders where id = {id}");
    let refused = |r: Result<Vec<Vec<Option<String>>>, String>, rule: &str| {
        assert!(
            r.as_ref()
                .is_err_and(|e| e.contains("42501") && e.contains(rule)),
            "refused by {rule}: {r:?}"
        );
    };
    // Decided once and taken again for other constants, under a path
    // pgward knows.
    dev.batch_execute("set search_path = public")
        .await
        .expect("set path");
    for id in [10, 11, 10] {
        let rows = text_rows(&dev, &star(id)).await.expect("public.orders");
        assert_eq!(rows.len(), 1, "{rows:?}");
    }

    // The search path: the same text now means other.orders, which the
    // developer may not read.
    dev.batch_execute("set search_path = other, public")
        .await
        .expect("set path");
    for id in [10, 11] {
        refused(text_rows(&dev, &star(id)).await, "no-other");
    }
    dev.batch_execute("reset search_path")
        .await
        .expect("reset path");
    text_rows(&dev, &star(11)).await.expect("public again");

    // The catalog: a masked column added by another session. Copying
    // `*` then copies masked data, which is refused.
    let copy = |id: i32| format!("insert into archive select * from orders where id = {id}");
    for id in [10, 11] {
        text_rows(&dev, &copy(id)).await.expect("copy before");
    }
    admin
        .batch_execute("alter table public.orders add column ssn text default '123-45-6789'")
        .await
        .expect("add ssn");
    for id in [10, 11] {
        let r = text_rows(&dev, &copy(id)).await;
        assert!(
            r.as_ref().is_err_and(|e| e.contains("42501")),
            "copying the masked column after the DDL: {r:?}"
        );
    }
    assert_eq!(
        env.pg.admin_sql(
            APP_DB,
            "select count(*) from archive where extra is not null"
        ),
        "0",
        "no masked value copied"
    );
    admin
        .batch_execute("alter table public.orders drop column ssn")
        .await
        .expect("drop ssn");
    for id in [10, 11] {
        let rows = text_rows(&dev, &star(id)).await.expect("dev public.orders");
        assert_eq!(rows[0].len(), 3, "{rows:?}");
        text_rows(&dev, &copy(id))
            .await
            .expect("copy after the drop");
    }

    // A table the session creates in its open transaction, in front of
    // public.orders on the path.
    text_rows(
        &dev,
        "begin;
         create temp table orders(id int, customer_id int, amount int, ssn text);
         insert into orders values (10, 1, 5, '123-45-6789');",
    )
    .await
    .expect("temp table");
    let rows = text_rows(&dev, &star(10)).await.expect("temp orders");
    assert_eq!(rows[0].len(), 4, "the temporary table: {rows:?}");
    assert_no_secret("temp table in the open transaction", &flatten(&rows));
    dev.batch_execute("rollback").await.expect("rollback");

    // The policy: a reload that denies orders to the developer.
    text_rows(&dev, &star(10)).await.expect("before reload");
    let path = env.pgward.dir().join("policy.yaml");
    let before = env.pgward.log_contents().matches("policy reloaded").count();
    let denied = policy.replace(
        "objects: [\"other.*\"]\n",
        "objects: [\"other.*\"]\n      - name: no-orders\n        objects: [\"orders\"]\n",
    );
    std::fs::write(&path, denied).expect("write policy");
    assert!(
        common::util::wait_until(std::time::Duration::from_secs(20), || {
            env.pgward.log_contents().matches("policy reloaded").count() > before
        }),
        "reload not seen:\n{}",
        env.pgward.log_contents()
    );
    refused(text_rows(&dev, &star(11)).await, "no-orders");
}
