//! The stock PostgreSQL command-line clients (psql, pg_dump, pgbench) used
//! through pgward exactly as they would be used against the server itself.

mod common;

use std::path::Path;
use std::process::Output;

use common::clients::{self, assert_failure, assert_success};
use common::{PgCluster, Pgward, APP_DB, APP_PASSWORD, APP_USER, SUPERUSER};

/// A cluster and a default pgward in front of it.
fn cluster_and_proxy() -> (PgCluster, Pgward) {
    let pg = PgCluster::start();
    let proxy = Pgward::start(pg.port(), Vec::new());
    (pg, proxy)
}

/// psql through the proxy as `app` in `dbname`.
fn psql_via(proxy: &Pgward, dbname: &str, args: &[&str]) -> Output {
    clients::psql(proxy.port(), APP_USER, APP_PASSWORD, dbname, args)
}

/// psql through the proxy as `app` in the `app` database; must succeed.
#[track_caller]
fn psql_ok(proxy: &Pgward, args: &[&str], what: &str) -> String {
    let out = psql_via(proxy, APP_DB, args);
    let stdout = assert_success(&out, what);
    // Make a failure easier to read if the proxy misbehaved.
    assert!(
        !common::util::lossy(&out.stderr).contains("FATAL"),
        "{what}: unexpected FATAL on stderr:\n{}\n---- pgward log ----\n{}",
        common::util::lossy(&out.stderr),
        proxy.log_contents()
    );
    stdout
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr_of(out: &Output) -> String {
    common::util::lossy(&out.stderr)
}

// ---------------------------------------------------------------- psql

#[test]
fn psql_multi_statement_command_returns_last_result() {
    let (pg, proxy) = cluster_and_proxy();
    let out = psql_ok(
        &proxy,
        &[
            "-At",
            "-c",
            "create table t(a int); insert into t values (1),(2); select count(*) from t",
        ],
        "psql multi-statement -c",
    );
    // psql >= 15 prints every statement's result, older ones only the last.
    assert_eq!(out.lines().last(), Some("2"), "psql output: {out:?}");
    assert!(
        out.lines()
            .all(|l| ["CREATE TABLE", "INSERT 0 2", "2"].contains(&l)),
        "psql output: {out:?}"
    );
    assert_eq!(
        pg.admin_sql(APP_DB, "select string_agg(a::text, ',' order by a) from t"),
        "1,2"
    );

    // Several -c options run one after another in the same session.
    let out = psql_ok(
        &proxy,
        &[
            "-At",
            "-c",
            "insert into t values (3)",
            "-c",
            "select sum(a) from t",
            "-c",
            "select current_user",
        ],
        "psql several -c",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec!["INSERT 0 1", "6", APP_USER]
    );
}

#[test]
fn psql_copy_in_and_out_round_trips_csv() {
    let (pg, proxy) = cluster_and_proxy();
    let dir = tempfile::tempdir().expect("tempdir");
    psql_ok(
        &proxy,
        &[
            "-c",
            "create table t(id int primary key, name text, note text)",
        ],
        "create table",
    );

    // Hand-written rows exercising CSV quoting, NULLs (empty unquoted),
    // empty strings (quoted), unicode and embedded newlines, followed by
    // enough generated rows to span many CopyData messages.
    let mut csv = String::from(
        "1,alpha,plain\n\
         2,\"with, comma\",\n\
         3,\"quote \"\"inside\"\"\",\"\"\n\
         4,ünïcødé ☃ 日本語,\"line one\nline two\"\n",
    );
    for i in 5..=5000 {
        csv.push_str(&format!("{i},name-{i},{}\n", "x".repeat(i % 97)));
    }
    let input = dir.path().join("in.csv");
    std::fs::write(&input, &csv).expect("write csv");

    let copy_in = format!("\\copy t from '{}' with (format csv)", path_str(&input));
    let out = psql_ok(&proxy, &["-c", &copy_in], "\\copy from");
    assert_eq!(out.trim(), "COPY 5000");

    assert_eq!(pg.admin_sql(APP_DB, "select count(*) from t"), "5000");
    assert_eq!(
        pg.admin_sql(
            APP_DB,
            "select count(*) filter (where note is null) || '/' || \
             count(*) filter (where note = '') from t where id <= 4"
        ),
        "1/1",
        "NULL and empty string must stay distinct"
    );
    assert_eq!(
        pg.admin_sql(APP_DB, "select name from t where id = 4"),
        "ünïcødé ☃ 日本語"
    );

    let output = dir.path().join("out.csv");
    let copy_out = format!(
        "\\copy (select * from t order by id) to '{}' with (format csv)",
        path_str(&output)
    );
    let out = psql_ok(&proxy, &["-c", &copy_out], "\\copy to");
    assert_eq!(out.trim(), "COPY 5000");
    let got = std::fs::read_to_string(&output).expect("read exported csv");
    assert!(got == csv, "exported CSV differs from the imported one");

    // COPY ... TO STDOUT straight into psql's stdout as well.
    let out = psql_ok(
        &proxy,
        &[
            "-c",
            "copy (select * from t where id <= 4 order by id) to stdout with (format csv)",
        ],
        "copy to stdout",
    );
    let first_four: String = csv.split_inclusive('\n').take(5).collect();
    assert_eq!(out, first_four);
}

#[test]
fn psql_error_exits_non_zero_with_server_message() {
    let (_pg, proxy) = cluster_and_proxy();
    let out = psql_via(&proxy, APP_DB, &["-c", "select * from no_such_table"]);
    let stderr = assert_failure(&out, "psql with a failing statement");
    assert_eq!(
        out.status.code(),
        Some(1),
        "psql exit code; stderr: {stderr}"
    );
    assert!(stderr.contains("ERROR:"), "stderr: {stderr}");
    assert!(
        stderr.contains("relation \"no_such_table\" does not exist"),
        "stderr: {stderr}"
    );

    // The session stays usable after an error in the same connection.
    let out = psql_via(
        &proxy,
        APP_DB,
        &[
            "-At",
            "-v",
            "ON_ERROR_STOP=0",
            "-c",
            "select 1/0",
            "-c",
            "select 'still here'",
        ],
    );
    assert!(
        stderr_of(&out).contains("division by zero"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(common::util::lossy(&out.stdout).trim(), "still here");
}

#[test]
fn psql_on_error_stop_script_stops_at_the_error() {
    let (pg, proxy) = cluster_and_proxy();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("script.sql");
    std::fs::write(
        &script,
        "create table steps(n int);\n\
         insert into steps values (1);\n\
         insert into steps values (2);\n\
         select 1/0;\n\
         insert into steps values (3);\n\
         create table never_created(x int);\n",
    )
    .expect("write script");
    let out = psql_via(&proxy, APP_DB, &["-f", path_str(&script)]);
    let stderr = assert_failure(&out, "ON_ERROR_STOP script");
    // psql: 3 = an error occurred in a script and ON_ERROR_STOP was set.
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(
        stderr.contains("ERROR:  division by zero"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("script.sql:4"), "error location: {stderr}");

    assert_eq!(
        pg.admin_sql(
            APP_DB,
            "select string_agg(n::text, ',' order by n) from steps"
        ),
        "1,2"
    );
    assert_eq!(
        pg.admin_sql(APP_DB, "select to_regclass('public.never_created') is null"),
        "t"
    );

    // With --single-transaction the whole script is rolled back.
    let out = psql_via(
        &proxy,
        APP_DB,
        &[
            "--single-transaction",
            "-c",
            "insert into steps values (10)",
            "-c",
            "select 1/0",
        ],
    );
    assert_failure(&out, "single-transaction script");
    assert_eq!(
        pg.admin_sql(APP_DB, "select count(*) from steps where n = 10"),
        "0"
    );
}

#[test]
fn psql_describe_commands_run_catalog_queries() {
    let (_pg, proxy) = cluster_and_proxy();
    psql_ok(
        &proxy,
        &[
            "-c",
            "create table t(a int primary key, b text not null default 'x'); \
             create index t_b_idx on t(b); \
             create view v as select a from t",
        ],
        "create objects",
    );
    let out = psql_ok(&proxy, &["-c", "\\d t"], "\\d t");
    assert!(out.contains("Table \"public.t\""), "{out}");
    for needle in [
        "integer",
        "not null",
        "'x'::text",
        "\"t_pkey\" PRIMARY KEY, btree (a)",
        "\"t_b_idx\" btree (b)",
    ] {
        assert!(out.contains(needle), "\\d t lacks {needle:?}:\n{out}");
    }
    let out = psql_ok(&proxy, &["-c", "\\dt"], "\\dt");
    assert!(out.contains(" t ") && out.contains("table"), "{out}");
    let out = psql_ok(&proxy, &["-c", "\\d+ v"], "\\d+ v");
    assert!(out.contains("View \"public.v\""), "{out}");
    assert!(out.contains("SELECT t.a"), "{out}");
    let out = psql_ok(&proxy, &["-c", "\\l"], "\\l");
    assert!(out.contains(APP_DB) && out.contains(SUPERUSER), "{out}");
    let out = psql_ok(&proxy, &["-c", "\\conninfo"], "\\conninfo");
    assert!(out.contains(&format!("as user \"{APP_USER}\"")), "{out}");
}

#[test]
fn psql_file_with_do_block_and_functions() {
    let (pg, proxy) = cluster_and_proxy();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("functions.sql");
    std::fs::write(
        &script,
        r#"
create table log(id serial primary key, msg text);

create function add_one(i int) returns int
language sql immutable
as $$ select i + 1 $$;

create or replace function fill_log(n int) returns int
language plpgsql
as $body$
declare
    k int;
begin
    for k in 1..n loop
        insert into log(msg) values (format('entry %s; with $$ dollars $$', k));
    end loop;
    return (select count(*) from log);
end;
$body$;

do $$
declare
    total int;
begin
    total := fill_log(3);
    raise notice 'hello from do: % rows', total;
    if add_one(41) <> 42 then
        raise exception 'add_one is broken';
    end if;
end
$$;

-- A semicolon inside a string and a comment must not split statements.
select add_one(41) as answer, 'a;b' as semi; -- trailing; comment
"#,
    )
    .expect("write script");
    let out = psql_via(&proxy, APP_DB, &["-At", "-f", path_str(&script)]);
    let stdout = assert_success(&out, "psql -f functions.sql");
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("NOTICE:  hello from do: 3 rows"),
        "notice should be relayed: {stderr}"
    );
    assert!(stdout.lines().any(|l| l == "42|a;b"), "stdout: {stdout}");
    assert_eq!(
        pg.admin_sql(APP_DB, "select string_agg(msg, '|' order by id) from log"),
        "entry 1; with $$ dollars $$|entry 2; with $$ dollars $$|entry 3; with $$ dollars $$"
    );
    let out = psql_ok(&proxy, &["-At", "-c", "select fill_log(2)"], "call plpgsql");
    assert_eq!(out.trim(), "5");
}

// ------------------------------------------------------ pg_dump / restore

const SOURCE_SCHEMA: &str = r#"
create schema shop;
create sequence shop.invoice_no start 1000 increment 7;
create table shop.customers(
    id serial primary key,
    name text not null,
    email text unique,
    created date default date '2024-01-01'
);
create table shop.products(
    id serial primary key,
    title text not null,
    price numeric(10,2),
    picture bytea,
    tags text[]
);
create table shop.orders(
    id serial primary key,
    customer_id int not null references shop.customers(id),
    product_id int references shop.products(id) on delete set null,
    qty int not null check (qty > 0),
    invoice bigint default nextval('shop.invoice_no'),
    note text
);
create index orders_customer_idx on shop.orders(customer_id);
create view shop.order_totals as
    select c.name, sum(o.qty * p.price) as total
    from shop.orders o
    join shop.customers c on c.id = o.customer_id
    left join shop.products p on p.id = o.product_id
    group by c.name;

insert into shop.customers(name, email) values
    ('Ada', 'ada@example.com'),
    ('Zoë Ñúñez', null),
    ('李小龙', 'lee@example.com'),
    ('O''Brien', 'ob@example.com');
insert into shop.products(title, price, picture, tags) values
    ('Widget', 9.99, '\x00ff10deadbeef'::bytea, '{a,b}'),
    ('Gadget "Pro"', null, null, null),
    ('Thing, with comma', 0.01, decode(repeat('00ff7f80', 300), 'hex'), '{}'),
    (E'Tab\tand\\backslash', 12345678.90, ''::bytea, '{"x y",NULL}');
insert into shop.orders(customer_id, product_id, qty, note)
    select 1 + (g % 4), 1 + (g % 4), 1 + (g % 5),
           case when g % 3 = 0 then null else 'note ' || g || ' ✓' end
    from generate_series(1, 250) g;
"#;

/// Row counts and content checksums of every table, plus sequence state.
fn fingerprint(pg: &PgCluster, db: &str) -> Vec<(String, String)> {
    let queries = [
        ("customers", "select count(*) || ':' || md5(string_agg(t::text, ',' order by id)) from shop.customers t"),
        ("products", "select count(*) || ':' || md5(string_agg(t::text, ',' order by id)) from shop.products t"),
        ("orders", "select count(*) || ':' || md5(string_agg(t::text, ',' order by id)) from shop.orders t"),
        ("order_totals", "select md5(string_agg(t::text, ',' order by name)) from shop.order_totals t"),
        ("invoice_no", "select last_value || '/' || is_called from shop.invoice_no"),
        ("orders_id_seq", "select last_value || '/' || is_called from shop.orders_id_seq"),
        ("nulls", "select count(*) filter (where note is null) || '/' || count(*) filter (where product_id is null) from shop.orders"),
        ("indexes", "select string_agg(indexname, ',' order by indexname) from pg_indexes where schemaname = 'shop'"),
        ("fks", "select string_agg(conname, ',' order by conname) from pg_constraint where connamespace = 'shop'::regnamespace and contype in ('f', 'c', 'u')"),
        ("owners", "select string_agg(distinct pg_get_userbyid(relowner), ',') from pg_class where relnamespace = 'shop'::regnamespace"),
    ];
    queries
        .iter()
        .map(|(name, q)| (name.to_string(), pg.admin_sql(db, q)))
        .collect()
}

#[test]
fn pg_dump_and_psql_restore_through_proxy() {
    let (pg, proxy) = cluster_and_proxy();
    let dir = tempfile::tempdir().expect("tempdir");

    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, SOURCE_SCHEMA).expect("write schema");
    psql_ok(
        &proxy,
        &["-q", "-f", path_str(&schema)],
        "create source schema",
    );
    // Some deletes so serials have gaps and the FK's ON DELETE acts.
    psql_ok(
        &proxy,
        &[
            "-c",
            "delete from shop.orders where id % 10 = 0; delete from shop.products where id = 2",
        ],
        "delete some rows",
    );
    let source = fingerprint(&pg, APP_DB);
    assert!(
        source
            .iter()
            .any(|(k, v)| k == "orders" && v.starts_with("225:")),
        "{source:?}"
    );

    let dump_file = dir.path().join("dump.sql");
    let out = clients::pg_dump(
        proxy.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["--format=plain", "-f", path_str(&dump_file)],
    );
    assert_success(&out, "pg_dump through pgward");
    let dump = std::fs::read_to_string(&dump_file).expect("read dump");
    for needle in [
        "CREATE SCHEMA shop;",
        "CREATE TABLE shop.orders",
        "CREATE VIEW shop.order_totals",
        "CREATE SEQUENCE shop.invoice_no",
        "CREATE INDEX orders_customer_idx",
        "FOREIGN KEY (customer_id) REFERENCES shop.customers(id)",
        "COPY shop.products",
    ] {
        assert!(dump.contains(needle), "dump lacks {needle:?}");
    }

    pg.admin_sql(
        "postgres",
        &format!("create database restore_target owner {APP_USER}"),
    );
    let out = psql_via(
        &proxy,
        "restore_target",
        &["-q", "-v", "ON_ERROR_STOP=1", "-f", path_str(&dump_file)],
    );
    assert_success(&out, "psql restore through pgward");
    let stderr = stderr_of(&out);
    assert!(
        !stderr.contains("ERROR"),
        "restore reported errors:\n{stderr}"
    );

    let target = fingerprint(&pg, "restore_target");
    assert_eq!(source, target, "restored database differs from the source");

    // The restored objects behave: defaults, sequences and constraints.
    let out = psql_via(
        &proxy,
        "restore_target",
        &[
            "-At",
            "-c",
            "insert into shop.orders(customer_id, qty) values (1, 1) returning invoice, id",
        ],
    );
    let row = assert_success(&out, "insert into restored db");
    let source_next = pg.admin_sql(
        APP_DB,
        "insert into shop.orders(customer_id, qty) values (1, 1) returning invoice, id",
    );
    assert_eq!(row.lines().next(), source_next.lines().next());
    let out = psql_via(
        &proxy,
        "restore_target",
        &[
            "-c",
            "insert into shop.orders(customer_id, qty) values (999, 1)",
        ],
    );
    let err = assert_failure(&out, "FK violation in restored db");
    assert!(err.contains("violates foreign key constraint"), "{err}");
}

// ---------------------------------------------------------------- pgbench

fn pgbench_via(proxy: &Pgward, args: &[&str]) -> Output {
    clients::pgbench(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, args)
}

#[track_caller]
fn assert_pgbench_run(out: &Output, what: &str, proxy: &Pgward) {
    let report = assert_success(out, what);
    assert!(
        report.contains("number of transactions actually processed: 800/800"),
        "{what}: expected 800 processed transactions:\n{report}\nstderr:\n{}\n---- pgward log ----\n{}",
        stderr_of(out),
        proxy.log_contents()
    );
    // pgbench >= 15 reports failures; older versions abort on any error,
    // which the exit status above already catches.
    if let Some(line) = report
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
    {
        assert!(
            line.starts_with("number of failed transactions: 0 "),
            "{what}: {line}\n{report}"
        );
    }
    let stderr = stderr_of(out);
    assert!(
        !stderr.contains("error") && !stderr.contains("aborted"),
        "{what}: stderr reports problems:\n{stderr}"
    );
}

#[test]
fn pgbench_through_proxy_all_query_modes() {
    let (pg, proxy) = cluster_and_proxy();
    let out = pgbench_via(&proxy, &["-i", "-s", "1"]);
    let init_log = stderr_of(&out);
    assert_success(&out, "pgbench -i -s 1");
    assert!(init_log.contains("done"), "pgbench -i: {init_log}");
    assert_eq!(
        pg.admin_sql(APP_DB, "select count(*) from pgbench_accounts"),
        "100000"
    );

    for mode in ["simple", "extended", "prepared"] {
        let out = pgbench_via(&proxy, &["-M", mode, "-c", "4", "-j", "2", "-t", "200"]);
        assert_pgbench_run(&out, &format!("pgbench -M {mode} (tpcb-like)"), &proxy);
        // pgbench empties the history before each run; every TPC-B-like
        // transaction then writes exactly one row.
        assert_eq!(
            pg.admin_sql(APP_DB, "select count(*) from pgbench_history"),
            "800",
            "pgbench -M {mode}"
        );
    }

    for mode in ["simple", "extended", "prepared"] {
        let out = pgbench_via(
            &proxy,
            &["-S", "-M", mode, "-c", "4", "-j", "2", "-t", "200"],
        );
        assert_pgbench_run(&out, &format!("pgbench -S -M {mode}"), &proxy);
    }
}
