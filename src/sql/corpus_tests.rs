//! Table-driven corpus: SQL text, the exact union of effects over its
//! statements, relations that must be reported (a subset), and whether an
//! UPDATE/DELETE without WHERE is present. Plus the application fixtures.

use std::collections::BTreeSet;

use super::{analyze, Access as A, Analysis, Effect, Effect::*};

struct Case {
    sql: &'static str,
    effects: &'static [Effect],
    objects: &'static [(&'static str, A)],
    no_where: bool,
}

const fn c(
    sql: &'static str,
    effects: &'static [Effect],
    objects: &'static [(&'static str, A)],
    no_where: bool,
) -> Case {
    Case {
        sql,
        effects,
        objects,
        no_where,
    }
}

#[rustfmt::skip]
const CORPUS: &[Case] = &[
    // ----- reads
    c("SELECT 1", &[Read], &[], false),
    c("SELECT * FROM users WHERE id = 1", &[Read], &[("users", A::Read)], false),
    c("VALUES (1), (2)", &[Read], &[], false),
    c("TABLE users", &[Read], &[("users", A::Read)], false),
    c("SHOW search_path", &[Read], &[], false),
    c("SHOW ALL", &[Read], &[], false),
    c("SELECT * FROM a JOIN b USING (id) LEFT JOIN s.c ON c.x = a.x", &[Read], &[("a", A::Read), ("b", A::Read), ("s.c", A::Read)], false),
    c("SELECT * FROM t WHERE id IN (SELECT t_id FROM u WHERE EXISTS (SELECT 1 FROM v))", &[Read], &[("t", A::Read), ("u", A::Read), ("v", A::Read)], false),
    c("SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1 ORDER BY 1 LIMIT 10 OFFSET 5", &[Read], &[("t", A::Read)], false),
    c("SELECT a FROM t UNION ALL SELECT b FROM u EXCEPT SELECT c FROM v", &[Read], &[("t", A::Read), ("u", A::Read), ("v", A::Read)], false),
    c("SELECT current_setting('search_path'), now(), currval('s')", &[Read], &[("s", A::Read)], false),
    c("EXPLAIN SELECT * FROM t", &[Read], &[("t", A::Read)], false),
    c("EXPLAIN DELETE FROM t", &[Read], &[("t", A::Read)], false),
    c("EXPLAIN (COSTS OFF, FORMAT JSON) UPDATE t SET a = 1", &[Read], &[("t", A::Read)], false),
    c("EXPLAIN (ANALYZE false) DELETE FROM t", &[Read], &[("t", A::Read)], false),
    c("FETCH 10 FROM c", &[Read], &[], false),
    c("FETCH ALL IN c", &[Read], &[], false),
    c("MOVE NEXT IN c", &[Read], &[], false),
    c("CLOSE c", &[Read], &[], false),
    c("CLOSE ALL", &[Read], &[], false),
    c("DECLARE c CURSOR FOR SELECT * FROM t", &[Read], &[("t", A::Read)], false),
    c("DECLARE c BINARY SCROLL CURSOR WITH HOLD FOR SELECT 1", &[Read], &[], false),
    c("COPY t TO STDOUT", &[Read], &[("t", A::Read)], false),
    c("COPY t (a, b) TO STDOUT WITH (FORMAT csv, HEADER)", &[Read], &[("t", A::Read)], false),
    c("COPY (SELECT 1) TO STDOUT", &[Read], &[], false),
    c("SELECT table_to_xml('app.secret', true, true, '')", &[Read], &[("app.secret", A::Read)], false),
    // ----- writes
    c("INSERT INTO t VALUES (1)", &[Write], &[("t", A::Write)], false),
    c("INSERT INTO s.t (a) SELECT a FROM u", &[Write], &[("s.t", A::Write), ("u", A::Read)], false),
    c("UPDATE t SET a = 1 WHERE id = 2", &[Write], &[("t", A::Write)], false),
    c("UPDATE t SET a = 1", &[Write], &[("t", A::Write)], true),
    c("UPDATE t SET a = u.a FROM u WHERE t.id = u.id", &[Write], &[("t", A::Write), ("u", A::Read)], false),
    c("DELETE FROM t", &[Write], &[("t", A::Write)], true),
    c("DELETE FROM t WHERE id = 1", &[Write], &[("t", A::Write)], false),
    c("DELETE FROM t WHERE CURRENT OF c", &[Write], &[("t", A::Write)], false),
    c("DELETE FROM t USING u WHERE t.id = u.id RETURNING t.*", &[Write], &[("t", A::Write), ("u", A::Read)], false),
    c("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)", &[Write], &[("t", A::Write), ("s", A::Read)], false),
    c("MERGE INTO t USING (SELECT * FROM src) s ON t.id = s.id WHEN MATCHED THEN DELETE", &[Write], &[("t", A::Write), ("src", A::Read)], false),
    c("INSERT INTO t (id, v) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v", &[Write], &[("t", A::Write)], false),
    c("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", &[Write], &[("t", A::Write)], false),
    c("TRUNCATE t", &[Write], &[("t", A::Write)], false),
    c("TRUNCATE TABLE a, s.b RESTART IDENTITY CASCADE", &[Write], &[("a", A::Write), ("s.b", A::Write)], false),
    c("COPY t FROM STDIN", &[Write], &[("t", A::Write)], false),
    c("COPY t (a) FROM STDIN WITH (FORMAT binary)", &[Write], &[("t", A::Write)], false),
    c("SELECT * FROM t FOR UPDATE", &[Read, Write], &[("t", A::Read), ("t", A::Write)], false),
    c("SELECT * FROM t FOR SHARE SKIP LOCKED", &[Read, Write], &[("t", A::Write)], false),
    c("SELECT * FROM jobs j JOIN kinds k ON k.id = j.kind FOR NO KEY UPDATE OF j NOWAIT", &[Read, Write], &[("jobs", A::Write), ("kinds", A::Read)], false),
    c("SELECT * FROM t FOR KEY SHARE", &[Read, Write], &[("t", A::Write)], false),
    c("REFRESH MATERIALIZED VIEW mv", &[Write], &[("mv", A::Write)], false),
    c("REFRESH MATERIALIZED VIEW CONCURRENTLY s.mv WITH DATA", &[Write], &[("s.mv", A::Write)], false),
    c("SELECT nextval('s')", &[Read, Write], &[("s", A::Write)], false),
    c("SELECT setval('public.s', 10, true)", &[Read, Write], &[("public.s", A::Write)], false),
    c("SELECT txid_current()", &[Read, Write], &[], false),
    c("SELECT pg_current_xact_id()", &[Read, Write], &[], false),
    c("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", &[Read, Write], &[("t", A::Write)], true),
    c("WITH u AS (UPDATE t SET a = 1 WHERE id = 1 RETURNING *) SELECT * FROM u", &[Read, Write], &[("t", A::Write)], false),
    c("WITH i AS (INSERT INTO log VALUES (1) RETURNING id) SELECT id FROM i", &[Read, Write], &[("log", A::Write)], false),
    c("WITH t AS (SELECT 1) DELETE FROM t", &[Write], &[("t", A::Write)], true),
    c("EXPLAIN ANALYZE DELETE FROM t", &[Read, Write], &[("t", A::Write)], true),
    c("EXPLAIN (ANALYZE) DELETE FROM t WHERE id = 1", &[Read, Write], &[("t", A::Write)], false),
    c("EXPLAIN (ANALYZE true) UPDATE t SET a = 1", &[Read, Write], &[("t", A::Write)], true),
    c("EXPLAIN (analyze on, buffers) INSERT INTO t VALUES (1)", &[Read, Write], &[("t", A::Write)], false),
    c("EXPLAIN (ANALYZE 'yes') DELETE FROM t", &[Read, Write], &[("t", A::Write)], true),
    c("COPY (DELETE FROM t RETURNING *) TO STDOUT", &[Read, Write], &[("t", A::Write)], true),
    c("PREPARE p AS DELETE FROM t", &[Session, Write], &[("t", A::Write)], true),
    c("DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", &[Read, Write], &[("t", A::Write)], false),
    c("UPDATE t SET a = nextval('s') WHERE id = 1", &[Write], &[("t", A::Write), ("s", A::Write)], false),
    // ----- DDL
    c("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE TABLE t (a int DEFAULT nextval('s'))", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE TEMP TABLE tmp (a int) ON COMMIT DROP", &[Ddl], &[("tmp", A::Ddl)], false),
    c("CREATE UNLOGGED TABLE IF NOT EXISTS s.t (LIKE s.tmpl INCLUDING ALL)", &[Ddl], &[("s.t", A::Ddl), ("s.tmpl", A::Read)], false),
    c("CREATE TABLE orders (id int, user_id int REFERENCES users (id) ON DELETE CASCADE)", &[Ddl], &[("orders", A::Ddl), ("users", A::Read)], false),
    c("CREATE TABLE m (at date) PARTITION BY RANGE (at)", &[Ddl], &[("m", A::Ddl)], false),
    c("CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", &[Ddl], &[("m_2024", A::Ddl), ("m", A::Ddl)], false),
    c("ALTER TABLE t ADD COLUMN b text", &[Ddl], &[("t", A::Ddl)], false),
    c("ALTER TABLE t ADD COLUMN c int DEFAULT nextval('s')", &[Ddl, Write], &[("t", A::Ddl), ("s", A::Write)], false),
    c("ALTER TABLE ONLY t ALTER COLUMN id SET DEFAULT nextval('t_id_seq'::regclass)", &[Ddl], &[("t", A::Ddl), ("t_id_seq", A::Write)], false),
    c("ALTER TABLE t DROP COLUMN b, ALTER COLUMN a TYPE bigint", &[Ddl], &[("t", A::Ddl)], false),
    c("ALTER TABLE t RENAME TO u", &[Ddl], &[("t", A::Ddl)], false),
    c("ALTER TABLE t SET SCHEMA archive", &[Ddl], &[("t", A::Ddl)], false),
    c("ALTER TABLE t DISABLE ROW LEVEL SECURITY", &[Ddl], &[("t", A::Ddl)], false),
    c("ALTER TABLE t DISABLE TRIGGER ALL", &[Ddl], &[("t", A::Ddl)], false),
    c("ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1)", &[Ddl], &[("p", A::Ddl), ("p1", A::Ddl)], false),
    c("ALTER TABLE search ALTER COLUMN entity_id SET (n_distinct = -1)", &[Ddl], &[("search", A::Ddl)], false),
    c("DROP TABLE t", &[Ddl], &[("t", A::Ddl)], false),
    c("DROP TABLE IF EXISTS a, s.b CASCADE", &[Ddl], &[("a", A::Ddl), ("s.b", A::Ddl)], false),
    c("DROP VIEW v", &[Ddl], &[("v", A::Ddl)], false),
    c("DROP INDEX CONCURRENTLY IF EXISTS idx", &[Ddl], &[("idx", A::Ddl)], false),
    c("DROP SCHEMA s CASCADE", &[Ddl], &[], false),
    c("DROP FUNCTION f(int)", &[Ddl], &[], false),
    c("DROP TYPE mood", &[Ddl], &[], false),
    c("CREATE INDEX i ON t (a)", &[Ddl], &[("t", A::Ddl), ("i", A::Ddl)], false),
    c("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON s.t USING btree (lower(a)) WHERE a IS NOT NULL", &[Ddl], &[("s.t", A::Ddl)], false),
    c("CREATE VIEW v AS SELECT * FROM t", &[Ddl], &[("v", A::Ddl), ("t", A::Read)], false),
    c("CREATE OR REPLACE VIEW v AS SELECT pg_terminate_backend(pid) FROM pg_stat_activity", &[Ddl], &[("pg_stat_activity", A::Read)], false),
    c("CREATE MATERIALIZED VIEW mv AS SELECT * FROM t", &[Ddl], &[("mv", A::Ddl), ("t", A::Read)], false),
    c("CREATE MATERIALIZED VIEW mv AS SELECT pg_sleep(1) WITH NO DATA", &[Ddl], &[], false),
    c("CREATE TABLE t2 AS SELECT * FROM t", &[Ddl], &[("t2", A::Ddl), ("t", A::Read)], false),
    c("CREATE TABLE t2 AS SELECT pg_sleep(1)", &[Ddl, Sleep], &[("t2", A::Ddl)], false),
    c("SELECT * INTO t2 FROM t", &[Ddl], &[("t2", A::Ddl), ("t", A::Read)], false),
    c("CREATE SEQUENCE s START 10", &[Ddl], &[("s", A::Ddl)], false),
    c("ALTER SEQUENCE s RESTART WITH 1", &[Ddl], &[("s", A::Ddl)], false),
    c("CREATE SCHEMA app", &[Ddl], &[], false),
    c("CREATE SCHEMA app CREATE TABLE t (a int) CREATE VIEW v AS SELECT * FROM t", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE TYPE mood AS ENUM ('sad', 'ok')", &[Ddl], &[], false),
    c("CREATE TYPE pair AS (a int, b int)", &[Ddl], &[], false),
    c("CREATE DOMAIN posint AS int CHECK (VALUE > 0)", &[Ddl], &[], false),
    c("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", &[Ddl], &[], false),
    c("CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$BEGIN DROP TABLE x; END$$", &[Ddl], &[], false),
    c("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = pg_catalog AS 'select 1'", &[Ddl, Session], &[], false),
    c("ALTER FUNCTION f() SECURITY INVOKER", &[Ddl], &[], false),
    c("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE POLICY p ON t USING (owner = current_user)", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE STATISTICS st ON a, b FROM t", &[Ddl], &[("t", A::Ddl)], false),
    c("COMMENT ON TABLE t IS 'x'", &[Ddl], &[("t", A::Ddl)], false),
    c("SECURITY LABEL ON TABLE t IS 'x'", &[Ddl], &[], false),
    c("CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM u", &[Ddl], &[("t", A::Ddl), ("u", A::Write)], false),
    c("CREATE PUBLICATION pub FOR TABLE t", &[Ddl], &[("t", A::Ddl)], false),
    c("CREATE CAST (text AS int) WITH INOUT", &[Ddl], &[], false),
    c("CREATE AGGREGATE agg (int) (sfunc = int4pl, stype = int)", &[Ddl], &[], false),
    c("ALTER TYPE mood ADD VALUE 'happy'", &[Ddl], &[], false),
    // ----- transactions
    c("BEGIN", &[Transaction], &[], false),
    c("BEGIN READ ONLY", &[Transaction], &[], false),
    c("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE", &[Transaction], &[], false),
    c("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[Transaction], &[], false),
    c("COMMIT", &[Transaction], &[], false),
    c("COMMIT AND CHAIN", &[Transaction], &[], false),
    c("ROLLBACK", &[Transaction], &[], false),
    c("END", &[Transaction], &[], false),
    c("ABORT", &[Transaction], &[], false),
    c("SAVEPOINT s1", &[Transaction], &[], false),
    c("RELEASE SAVEPOINT s1", &[Transaction], &[], false),
    c("ROLLBACK TO SAVEPOINT s1", &[Transaction], &[], false),
    c("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", &[Transaction], &[], false),
    c("SET TRANSACTION READ ONLY", &[Transaction], &[], false),
    c("SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", &[Transaction], &[], false),
    c("PREPARE TRANSACTION 'gx'", &[Transaction], &[], false),
    c("COMMIT PREPARED 'gx'", &[Transaction], &[], false),
    c("SET CONSTRAINTS ALL DEFERRED", &[Transaction], &[], false),
    // ----- session
    c("SET search_path = public", &[Session], &[], false),
    c("SET LOCAL work_mem = '64MB'", &[Session], &[], false),
    c("SET application_name TO DEFAULT", &[Session], &[], false),
    c("RESET statement_timeout", &[Session], &[], false),
    c("SET TIME ZONE 'UTC'", &[Session], &[], false),
    c("SET NAMES 'UTF8'", &[Session], &[], false),
    c("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[Session], &[], false),
    c("DISCARD PLANS", &[Session], &[], false),
    c("DISCARD TEMP", &[Session], &[], false),
    c("LISTEN ch", &[Session], &[], false),
    c("UNLISTEN *", &[Session], &[], false),
    c("PREPARE p (int) AS SELECT * FROM t WHERE id = $1", &[Session, Read], &[("t", A::Read)], false),
    c("DEALLOCATE p", &[Session], &[], false),
    c("DEALLOCATE ALL", &[Session], &[], false),
    c("SELECT set_config('search_path', '', false)", &[Read, Session], &[], false),
    c("EXECUTE p", &[], &[], false),
    c("EXECUTE p(pg_sleep(1))", &[Sleep], &[], false),
    // ----- read-only changes
    c("SET default_transaction_read_only = off", &[ReadOnlyChange], &[], false),
    c("SET default_transaction_read_only = on", &[ReadOnlyChange], &[], false),
    c("SET LOCAL transaction_read_only = off", &[ReadOnlyChange], &[], false),
    c("set \"default_transaction_read_only\" to off", &[ReadOnlyChange], &[], false),
    c("SET \"DEFAULT_TRANSACTION_READ_ONLY\" TO off", &[ReadOnlyChange], &[], false),
    c("SET SESSION default_transaction_read_only TO DEFAULT", &[ReadOnlyChange], &[], false),
    c("SET transaction_read_only TO DEFAULT", &[ReadOnlyChange], &[], false),
    c("RESET default_transaction_read_only", &[ReadOnlyChange], &[], false),
    c("RESET transaction_read_only", &[ReadOnlyChange], &[], false),
    c("RESET ALL", &[ReadOnlyChange, Session], &[], false),
    c("DISCARD ALL", &[ReadOnlyChange, Session], &[], false),
    c("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", &[Session, ReadOnlyChange], &[], false),
    c("BEGIN READ WRITE", &[Transaction, ReadOnlyChange], &[], false),
    c("START TRANSACTION READ WRITE", &[Transaction, ReadOnlyChange], &[], false),
    c("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", &[Transaction, ReadOnlyChange], &[], false),
    c("SET TRANSACTION READ WRITE", &[Transaction, ReadOnlyChange], &[], false),
    c("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE READ WRITE", &[Transaction, ReadOnlyChange], &[], false),
    c("SELECT set_config('default_transaction_read_only','off',false)", &[Read, ReadOnlyChange], &[], false),
    c("SELECT set_config('transaction_read_only', 'off', true)", &[Read, ReadOnlyChange], &[], false),
    c("SELECT pg_catalog.set_config('Default_Transaction_Read_Only', 'off', false)", &[Read, ReadOnlyChange], &[], false),
    c("SELECT \"pg_catalog\".\"set_config\"('transaction_read_only', 'off', false)", &[Read, ReadOnlyChange], &[], false),
    c("SELECT set_config(E'default_transaction_read_only', 'off', false)", &[Read, ReadOnlyChange], &[], false),
    c("SELECT set_config(name, 'x', false) FROM pg_settings", &[Read, ReadOnlyChange, SetRole, Session], &[("pg_settings", A::Read)], false),
    c("SELECT set_config($1, $2, false)", &[Read, ReadOnlyChange, SetRole, Session], &[], false),
    c("SELECT set_config('default_transaction_' || 'read_only', 'off', false)", &[Read, ReadOnlyChange, SetRole, Session], &[], false),
    c("ALTER ROLE bob SET default_transaction_read_only = off", &[Privilege, ReadOnlyChange], &[], false),
    // ----- pgward's identity parameters
    c("SET pgward.claim.tenant = 'acme'", &[IdentitySetting, Session], &[], false),
    c("SET LOCAL pgward.\"user\" TO 'alice'", &[IdentitySetting, Session], &[], false),
    c("SET PGWARD.Profile = admin", &[IdentitySetting, Session], &[], false),
    c("SET pgward.groups FROM CURRENT", &[IdentitySetting, Session], &[], false),
    c("RESET pgward.claim.tenant", &[Session], &[], false),
    c("SET pgward.profile TO DEFAULT", &[Session], &[], false),
    c("SELECT set_config('pgward.profile', 'admin', false)", &[Read, IdentitySetting, Session], &[], false),
    c("SELECT pg_catalog.set_config('PgWard.Claim.Tenant', 'x', true)", &[Read, IdentitySetting, Session], &[], false),
    c("SELECT set_config('pgward' || '.user', 'x', false)", &[Read, ReadOnlyChange, SetRole, Session], &[], false),
    c("ALTER ROLE app SET pgward.claim.tenant = 'acme'", &[Privilege, IdentitySetting, Session], &[], false),
    c("ALTER ROLE app IN DATABASE app RESET pgward.claim.tenant", &[Privilege, Session], &[], false),
    c("ALTER DATABASE app SET pgward.profile = 'admin'", &[Database, IdentitySetting, Session], &[], false),
    c("ALTER SYSTEM SET pgward.profile = 'admin'", &[Config, IdentitySetting, Session], &[], false),
    c("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET pgward.claim.tenant = 'other' AS 'select 1'", &[Ddl, IdentitySetting, Session], &[], false),
    c("ALTER FUNCTION f() SET pgward.profile = 'admin'", &[Ddl, IdentitySetting, Session], &[], false),
    c("PREPARE p AS SELECT set_config('pgward.user', 'x', false)", &[Session, Read, IdentitySetting], &[], false),
    c("SELECT query_to_xml('SET pgward.profile = admin', true, false, '')", &[Read, IdentitySetting, Session], &[], false),
    // ----- role changes
    c("SET ROLE postgres", &[SetRole], &[], false),
    c("SET LOCAL ROLE admin", &[SetRole], &[], false),
    c("SET ROLE NONE", &[SetRole], &[], false),
    c("SET SESSION AUTHORIZATION DEFAULT", &[SetRole], &[], false),
    c("SET SESSION AUTHORIZATION 'bob'", &[SetRole], &[], false),
    c("RESET ROLE", &[SetRole], &[], false),
    c("RESET SESSION AUTHORIZATION", &[SetRole], &[], false),
    c("SELECT set_config('role', 'postgres', false)", &[Read, SetRole], &[], false),
    c("SELECT set_config('session_authorization', 'postgres', false)", &[Read, SetRole], &[], false),
    // ----- privileges
    c("GRANT SELECT ON t TO bob", &[Privilege], &[("t", A::Ddl)], false),
    c("GRANT ALL ON ALL TABLES IN SCHEMA public TO bob", &[Privilege], &[], false),
    c("REVOKE ALL ON t FROM bob", &[Privilege], &[("t", A::Ddl)], false),
    c("GRANT admin TO bob", &[Privilege], &[], false),
    c("REVOKE admin FROM bob", &[Privilege], &[], false),
    c("CREATE ROLE bob LOGIN PASSWORD 'x'", &[Privilege], &[], false),
    c("CREATE USER bob", &[Privilege], &[], false),
    c("CREATE GROUP g", &[Privilege], &[], false),
    c("ALTER ROLE bob SUPERUSER", &[Privilege], &[], false),
    c("ALTER USER bob WITH PASSWORD 'y'", &[Privilege], &[], false),
    c("ALTER ROLE bob RENAME TO bobby", &[Privilege], &[], false),
    c("ALTER ROLE bob SET search_path = x", &[Privilege, Session], &[], false),
    c("DROP ROLE bob", &[Privilege], &[], false),
    c("DROP USER IF EXISTS bob", &[Privilege], &[], false),
    c("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob", &[Privilege], &[], false),
    c("REASSIGN OWNED BY a TO b", &[Privilege], &[], false),
    c("DROP OWNED BY a", &[Privilege], &[], false),
    c("ALTER TABLE x OWNER TO y", &[Privilege], &[("x", A::Ddl)], false),
    c("ALTER TABLE x OWNER TO y, ADD COLUMN z int", &[Privilege, Ddl], &[("x", A::Ddl)], false),
    c("ALTER FUNCTION f() OWNER TO y", &[Privilege], &[], false),
    c("ALTER SCHEMA s OWNER TO y", &[Privilege], &[], false),
    c("ALTER DATABASE d OWNER TO y", &[Privilege, Database], &[], false),
    // ----- code
    c("DO $$ BEGIN PERFORM 1; END $$", &[Code], &[], false),
    c("DO $q$ BEGIN DROP TABLE x; END $q$", &[Code], &[], false),
    c("DO LANGUAGE plpgsql 'BEGIN NULL; END'", &[Code], &[], false),
    c("CALL p(1)", &[Code], &[], false),
    c("CALL s.proc()", &[Code], &[], false),
    // Without HANDLER the grammar turns CREATE LANGUAGE into CREATE EXTENSION.
    c("CREATE LANGUAGE plperlu", &[Extension], &[], false),
    c("CREATE TRUSTED LANGUAGE plsample HANDLER plsample_call_handler", &[Code], &[], false),
    c("DROP LANGUAGE plperlu", &[Code], &[], false),
    c("CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1'", &[Ddl, Code], &[], false),
    c("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql EXTERNAL SECURITY DEFINER AS 'select 1'", &[Ddl, Code], &[], false),
    c("CREATE PROCEDURE p() LANGUAGE sql SECURITY DEFINER AS 'select 1'", &[Ddl, Code], &[], false),
    c("CREATE FUNCTION f() RETURNS int AS 'mylib', 'f' LANGUAGE C", &[Ddl, Code], &[], false),
    c("ALTER FUNCTION f() SECURITY DEFINER", &[Ddl, Code], &[], false),
    c("CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION f()", &[Ddl, Code], &[], false),
    c("SELECT cron.schedule('0 * * * *', 'DELETE FROM t')", &[Read, Code], &[], false),
    // ----- server files
    c("COPY t TO '/tmp/x'", &[Read, ServerFiles], &[("t", A::Read)], false),
    c("COPY t FROM '/tmp/x'", &[Write, ServerFiles], &[("t", A::Write)], false),
    c("COPY t FROM PROGRAM 'id'", &[Write, ServerFiles], &[("t", A::Write)], false),
    c("COPY (SELECT * FROM t) TO PROGRAM 'cat > /tmp/x'", &[Read, ServerFiles], &[("t", A::Read)], false),
    c("SELECT pg_read_file('x')", &[Read, ServerFiles], &[], false),
    c("SELECT pg_read_binary_file('/etc/passwd', 0, 100)", &[Read, ServerFiles], &[], false),
    c("SELECT * FROM pg_ls_dir('.')", &[Read, ServerFiles], &[], false),
    c("SELECT pg_stat_file('postgresql.conf')", &[Read, ServerFiles], &[], false),
    c("SELECT * FROM pg_ls_logdir()", &[Read, ServerFiles], &[], false),
    c("SELECT * FROM pg_ls_waldir()", &[Read, ServerFiles], &[], false),
    c("SELECT pg_file_write('x', 'y', false)", &[Read, ServerFiles], &[], false),
    c("SELECT lo_import('/etc/passwd')", &[Read, ServerFiles, LargeObject], &[], false),
    c("SELECT lo_import('/etc/passwd', 5000)", &[Read, ServerFiles, LargeObject], &[], false),
    c("SELECT lo_export(123, '/tmp/x')", &[Read, ServerFiles, LargeObject], &[], false),
    // ----- large objects
    c("SELECT lo_create(0)", &[Read, LargeObject], &[], false),
    c("SELECT lo_creat(-1)", &[Read, LargeObject], &[], false),
    c("SELECT lo_unlink(123)", &[Read, LargeObject], &[], false),
    c("SELECT lo_put(1, 0, 'x')", &[Read, LargeObject], &[], false),
    c("SELECT loread(lo_open(1, 262144), 10)", &[Read, LargeObject], &[], false),
    c("SELECT lowrite(0, 'x')", &[Read, LargeObject], &[], false),
    c("SELECT lo_from_bytea(0, '\\x00')", &[Read, LargeObject], &[], false),
    c("SELECT lo_get(1)", &[Read, LargeObject], &[], false),
    c("GRANT SELECT ON LARGE OBJECT 123 TO bob", &[Privilege, LargeObject], &[], false),
    c("ALTER LARGE OBJECT 123 OWNER TO bob", &[Privilege, LargeObject], &[], false),
    c("COMMENT ON LARGE OBJECT 123 IS 'x'", &[Ddl, LargeObject], &[], false),
    // ----- notify
    c("NOTIFY ch", &[Notify], &[], false),
    c("NOTIFY ch, 'payload'", &[Notify], &[], false),
    c("SELECT pg_notify('ch', 'x')", &[Read, Notify], &[], false),
    // ----- signals
    c("SELECT pg_terminate_backend(123)", &[Read, Signal], &[], false),
    c("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'x'", &[Read, Signal], &[("pg_stat_activity", A::Read)], false),
    c("SELECT pg_catalog.pg_terminate_backend(1, 1000)", &[Read, Signal], &[], false),
    c("SELECT PG_TERMINATE_BACKEND(1)", &[Read, Signal], &[], false),
    c("SELECT \"pg_terminate_backend\"(1)", &[Read, Signal], &[], false),
    c("SELECT \"PG_TERMINATE_BACKEND\"(1)", &[Read], &[], false),
    c("SELECT myschema.pg_terminate_backend(1)", &[Read], &[], false),
    c("SELECT (1).pg_cancel_backend", &[Read, Signal], &[], false),
    c("SELECT (pid).pg_terminate_backend FROM pg_stat_activity", &[Read, Signal], &[], false),
    // ----- server configuration
    c("ALTER SYSTEM SET x = 1", &[Config, Session], &[], false),
    c("ALTER SYSTEM SET work_mem = '1GB'", &[Config, Session], &[], false),
    c("ALTER SYSTEM SET default_transaction_read_only = off", &[Config, ReadOnlyChange], &[], false),
    c("ALTER SYSTEM RESET ALL", &[Config, ReadOnlyChange, Session], &[], false),
    c("SELECT pg_reload_conf()", &[Read, Config], &[], false),
    c("SELECT pg_rotate_logfile()", &[Read, Config], &[], false),
    c("SELECT pg_switch_wal()", &[Read, Config], &[], false),
    c("SELECT pg_create_restore_point('x')", &[Read, Config], &[], false),
    c("SELECT pg_create_physical_replication_slot('s')", &[Read, Config], &[], false),
    c("SELECT * FROM pg_create_logical_replication_slot('s', 'pgoutput')", &[Read, Config], &[], false),
    c("SELECT pg_drop_replication_slot('s')", &[Read, Config], &[], false),
    c("SELECT pg_backup_start('x')", &[Read, Config], &[], false),
    c("SELECT * FROM pg_backup_stop()", &[Read, Config], &[], false),
    c("SELECT pg_promote()", &[Read, Config], &[], false),
    c("SELECT pg_log_backend_memory_contexts(1)", &[Read, Config], &[], false),
    c("SELECT pg_stat_reset()", &[Read, Config], &[], false),
    c("CREATE SUBSCRIPTION sub CONNECTION 'dbname=x' PUBLICATION p", &[Config], &[], false),
    c("DROP SUBSCRIPTION sub", &[Config], &[], false),
    // ----- maintenance
    c("VACUUM", &[Maintenance], &[], false),
    c("VACUUM FULL t", &[Maintenance], &[("t", A::Write)], false),
    c("VACUUM (ANALYZE, VERBOSE) s.t", &[Maintenance], &[("s.t", A::Write)], false),
    c("ANALYZE t", &[Maintenance], &[("t", A::Write)], false),
    c("ANALYZE", &[Maintenance], &[], false),
    c("CLUSTER t USING i", &[Maintenance], &[("t", A::Write)], false),
    c("REINDEX TABLE t", &[Maintenance], &[("t", A::Write)], false),
    c("REINDEX INDEX CONCURRENTLY i", &[Maintenance], &[("i", A::Write)], false),
    c("CHECKPOINT", &[Maintenance], &[], false),
    c("SELECT brin_summarize_new_values('i')", &[Read, Maintenance], &[], false),
    // ----- locks
    c("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", &[Lock], &[("t", A::Write)], false),
    c("LOCK t", &[Lock], &[("t", A::Write)], false),
    c("LOCK TABLE public.tt IN ACCESS SHARE MODE", &[Read], &[("public.tt", A::Read)], false),
    c("LOCK TABLE t IN ROW SHARE MODE", &[Lock], &[("t", A::Write)], false),
    c("SELECT pg_advisory_lock(1)", &[Read, Lock], &[], false),
    c("SELECT pg_try_advisory_xact_lock(1, 2)", &[Read, Lock], &[], false),
    c("SELECT pg_advisory_unlock_all()", &[Read, Lock], &[], false),
    // ----- databases and tablespaces
    c("CREATE DATABASE d", &[Database], &[], false),
    c("CREATE DATABASE d TEMPLATE template0 ENCODING 'UTF8'", &[Database], &[], false),
    c("ALTER DATABASE d SET work_mem = '1MB'", &[Database, Session], &[], false),
    c("ALTER DATABASE d RENAME TO e", &[Database], &[], false),
    c("DROP DATABASE d", &[Database], &[], false),
    c("DROP DATABASE IF EXISTS d WITH (FORCE)", &[Database], &[], false),
    c("CREATE TABLESPACE ts LOCATION '/x'", &[Database], &[], false),
    c("DROP TABLESPACE ts", &[Database], &[], false),
    // ----- extensions
    c("CREATE EXTENSION pg_trgm", &[Extension], &[], false),
    c("CREATE EXTENSION IF NOT EXISTS dblink SCHEMA public", &[Extension], &[], false),
    c("ALTER EXTENSION x UPDATE", &[Extension], &[], false),
    c("DROP EXTENSION x", &[Extension], &[], false),
    c("LOAD 'x'", &[Extension], &[], false),
    c("CREATE FOREIGN DATA WRAPPER w", &[Extension], &[], false),
    c("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h')", &[Extension], &[], false),
    c("CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'x')", &[Extension], &[], false),
    c("DROP SERVER s", &[Extension], &[], false),
    c("IMPORT FOREIGN SCHEMA public FROM SERVER s INTO local", &[Extension], &[], false),
    c("SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", &[Read, Extension], &[], false),
    c("SELECT dblink_exec('drop table x')", &[Read, Extension], &[], false),
    c("SELECT public.dblink_connect('x')", &[Read, Extension], &[], false),
    // ----- sleep
    c("SELECT pg_sleep(1)", &[Read, Sleep], &[], false),
    c("SELECT pg_catalog.pg_sleep(1)", &[Read, Sleep], &[], false),
    c("SELECT pg_sleep_for('1 minute')", &[Read, Sleep], &[], false),
    c("SELECT pg_sleep_until('tomorrow')", &[Read, Sleep], &[], false),
    c("SELECT myschema.pg_sleep(1)", &[Read], &[], false),
    // ----- not analysable
    c("SELECT query_to_xml(q, true, true, '') FROM queries", &[Read, Unknown], &[("queries", A::Read)], false),
    c("SELECT database_to_xml(true, true, '')", &[Read, Unknown], &[], false),
    // ----- evasion attempts
    c("/* DROP TABLE t */ SELECT 1", &[Read], &[], false),
    c("SELECT 1 -- ; DROP TABLE t", &[Read], &[], false),
    c("SELECT /* /* nested */ ; DROP TABLE t; */ 1", &[Read], &[], false),
    c("SELECT $$DROP TABLE x$$", &[Read], &[], false),
    c("SELECT $a$ ; DROP TABLE x; $a$", &[Read], &[], false),
    c("SELECT E'\\'; DROP TABLE x; --'", &[Read], &[], false),
    c("SELECT 'it''s'; DROP TABLE x", &[Read, Ddl], &[("x", A::Ddl)], false),
    c("SELECT 1;\n\n  DROP\tTABLE\n t", &[Read, Ddl], &[("t", A::Ddl)], false),
    c("SELECT * FROM \"Users\"", &[Read], &[("Users", A::Read)], false),
    c("SELECT * FROM USERS", &[Read], &[("users", A::Read)], false),
    c("SELECT U&\"\\0070g_sleep\"(1)", &[Read, Sleep], &[], false),
    c("SELECT U&\"\\0050G_SLEEP\"(1)", &[Read], &[], false),
    c("SELECT\tpg_sleep\n(\n1\n)", &[Read, Sleep], &[], false),
    c("SELECT pg_catalog . pg_sleep ( 1 )", &[Read, Sleep], &[], false),
    c("SELECT PG_CATALOG.PG_SLEEP(1)", &[Read, Sleep], &[], false),
    c("SELECT postgres.pg_catalog.pg_sleep(1)", &[Read, Sleep], &[], false),
    c("select/**/pg_sleep(1)", &[Read, Sleep], &[], false),
    c("SELECT (SELECT pg_terminate_backend(1))", &[Read, Signal], &[], false),
    c("SELECT * FROM t WHERE id IN (SELECT pg_terminate_backend(pid) FROM pg_stat_activity)", &[Read, Signal], &[("t", A::Read), ("pg_stat_activity", A::Read)], false),
    c("SELECT * FROM t, LATERAL (SELECT pg_sleep(1)) s", &[Read, Sleep], &[("t", A::Read)], false),
    c("SELECT * FROM t ORDER BY pg_sleep(1)", &[Read, Sleep], &[("t", A::Read)], false),
    c("SELECT count(*) FROM t GROUP BY a HAVING pg_sleep(1) IS NOT NULL", &[Read, Sleep], &[("t", A::Read)], false),
    c("SELECT CASE WHEN false THEN pg_terminate_backend(1) END", &[Read, Signal], &[], false),
    c("SELECT ARRAY[pg_sleep(1)]", &[Read, Sleep], &[], false),
    c("SELECT ROW(pg_sleep(1))", &[Read, Sleep], &[], false),
    c("SELECT sum(a) OVER (ORDER BY pg_sleep(1)) FROM t", &[Read, Sleep], &[("t", A::Read)], false),
    c("SELECT pg_sleep(1)::text", &[Read, Sleep], &[], false),
    c("INSERT INTO t VALUES (pg_sleep(1))", &[Write, Sleep], &[("t", A::Write)], false),
    c("DELETE FROM t WHERE id = 1 RETURNING pg_notify('c', 'x')", &[Write, Notify], &[("t", A::Write)], false),
    c("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = pg_sleep(1)::text", &[Write, Sleep], &[("t", A::Write)], false),
    c("WITH x AS (SELECT pg_advisory_lock(1)) SELECT * FROM x", &[Read, Lock], &[], false),
    c("WITH x AS (SELECT 1) SELECT * FROM x", &[Read], &[], false),
    c("WITH users AS (SELECT * FROM users) SELECT * FROM users", &[Read], &[("users", A::Read)], false),
    c("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r", &[Read], &[], false),
    c("DECLARE c CURSOR FOR SELECT pg_terminate_backend(1)", &[Read, Signal], &[], false),
    c("SELECT query_to_xml('SELECT pg_terminate_backend(1)', true, true, '')", &[Read, Signal], &[], false),
    c("SELECT * FROM ts_stat('select pg_sleep(1)::text::tsvector')", &[Read, Sleep], &[], false),
    c("SELECT ('s'::regclass).nextval", &[Read, Write], &[], false),
    c("ALTER TABLE t ADD CONSTRAINT c CHECK (pg_terminate_backend(1))", &[Ddl, Signal], &[("t", A::Ddl)], false),
    c("CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN pg_terminate_backend(1)::int", &[Ddl], &[], false),
    // ----- multi-statement strings
    c("SELECT 1; DROP TABLE t", &[Read, Ddl], &[("t", A::Ddl)], false),
    c("BEGIN; SET LOCAL ROLE admin; DELETE FROM t; COMMIT;", &[Transaction, SetRole, Write], &[("t", A::Write)], true),
    c("SET search_path = x; SELECT * FROM t; RESET search_path", &[Session, Read], &[("t", A::Read)], false),
    c("BEGIN READ ONLY; SELECT 1; COMMIT", &[Transaction, Read], &[], false),
    // ----- pgbench (default TPC-B script and -S)
    c("BEGIN;", &[Transaction], &[], false),
    c("UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;", &[Write], &[("pgbench_accounts", A::Write)], false),
    c("SELECT abalance FROM pgbench_accounts WHERE aid = $1", &[Read], &[("pgbench_accounts", A::Read)], false),
    c("UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;", &[Write], &[("pgbench_tellers", A::Write)], false),
    c("UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;", &[Write], &[("pgbench_branches", A::Write)], false),
    c("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);", &[Write], &[("pgbench_history", A::Write)], false),
    c("END;", &[Transaction], &[], false),
    c("copy pgbench_accounts from stdin with (freeze on)", &[Write], &[("pgbench_accounts", A::Write)], false),
    c("vacuum analyze pgbench_accounts", &[Maintenance], &[("pgbench_accounts", A::Write)], false),
    c("alter table pgbench_branches add primary key (bid)", &[Ddl], &[("pgbench_branches", A::Ddl)], false),
    c("truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers", &[Write], &[("pgbench_history", A::Write)], false),
    c("create table pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)) with (fillfactor=100)", &[Ddl], &[("pgbench_tellers", A::Ddl)], false),
    // ----- psql \d and pg_dump
    c("SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(pg_class)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;", &[Read], &[("pg_catalog.pg_class", A::Read), ("pg_catalog.pg_namespace", A::Read)], false),
    c("SELECT pg_catalog.set_config('search_path', '', false);", &[Read, Session], &[], false),
    c("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", &[Transaction], &[], false),
    // The WHERE pins the rows, so `name` can only be this parameter.
    c("SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'", &[Read, Session], &[("pg_settings", A::Read)], false),
    c("SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'default_transaction_read_only'", &[Read, ReadOnlyChange], &[("pg_settings", A::Read)], false),
    c("SELECT set_config(name, 'x', false) FROM pg_settings WHERE name LIKE 'r%'", &[Read, ReadOnlyChange, SetRole, Session], &[("pg_settings", A::Read)], false),
    c("SELECT set_config(name, 'x', false) FROM pg_settings, pg_class WHERE name = 'work_mem'", &[Read, ReadOnlyChange, SetRole, Session], &[("pg_settings", A::Read), ("pg_class", A::Read)], false),
    c("SELECT (SELECT set_config(name, 'x', false) FROM pg_settings s2) FROM pg_settings WHERE name = 'work_mem'", &[Read, ReadOnlyChange, SetRole, Session], &[("pg_settings", A::Read)], false),
    c("COPY public.tt (a) TO stdout;", &[Read], &[("public.tt", A::Read)], false),
    c("SET row_security = off", &[Session], &[], false),
    // ----- Backstage migrations
    c("CREATE STATISTICS search_key_value_stats (dependencies, ndistinct, mcv) ON key, value FROM search", &[Ddl], &[("search", A::Ddl)], false),
    c("ALTER TABLE search ALTER COLUMN entity_id RESET (n_distinct)", &[Ddl], &[("search", A::Ddl)], false),
    c("ANALYZE search", &[Maintenance], &[("search", A::Write)], false),
    c("CREATE INDEX CONCURRENTLY IF NOT EXISTS search_key_value_idx ON search (key, value)", &[Ddl], &[("search", A::Ddl)], false),
    c("create table \"knex_migrations_lock\" (\"index\" serial primary key, \"is_locked\" integer)", &[Ddl], &[("knex_migrations_lock", A::Ddl)], false),
    c("update \"knex_migrations_lock\" set \"is_locked\" = $1 where \"is_locked\" = $2", &[Write], &[("knex_migrations_lock", A::Write)], false),
    c("insert into \"knex_migrations\" (\"batch\", \"migration_time\", \"name\") values ($1, $2, $3)", &[Write], &[("knex_migrations", A::Write)], false),
];

fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    }
}

fn check(case: &Case) -> Result<(), String> {
    let analysis = analyze(case.sql).map_err(|e| format!("parse failure: {e}"))?;
    if analysis.statements.is_empty() {
        return Err("no statements".into());
    }
    let expected: BTreeSet<Effect> = case.effects.iter().copied().collect();
    let actual = analysis.effects();
    if actual != expected {
        return Err(format!("effects {actual:?}, expected {expected:?}"));
    }
    let objects: BTreeSet<(String, A)> = analysis
        .statements
        .iter()
        .flat_map(|s| s.objects.iter())
        .map(|o| (qualified(o.schema.as_deref(), &o.name), o.access))
        .collect();
    for (name, access) in case.objects {
        if !objects.contains(&((*name).to_string(), *access)) {
            return Err(format!(
                "missing object {name} {access:?}; have {objects:?}"
            ));
        }
    }
    let no_where = analysis.statements.iter().any(|s| s.dml_without_where);
    if no_where != case.no_where {
        return Err(format!(
            "dml_without_where {no_where}, expected {}",
            case.no_where
        ));
    }
    Ok(())
}

#[test]
fn corpus() {
    let failures: Vec<String> = CORPUS
        .iter()
        .filter_map(|case| check(case).err().map(|e| format!("{}\n    {e}", case.sql)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        CORPUS.len(),
        failures.join("\n")
    );
    assert!(CORPUS.len() >= 150, "corpus has {} cases", CORPUS.len());
}

#[test]
fn truncated_input_never_panics() {
    for case in CORPUS.iter().step_by(3) {
        let sql = case.sql;
        for end in (0..=sql.len()).filter(|i| sql.is_char_boundary(*i)) {
            if let Err(e) = analyze(&sql[..end]) {
                assert!(
                    !e.message.contains("internal error"),
                    "{}: {e}",
                    &sql[..end]
                );
            }
        }
    }
}

#[test]
fn corpus_covers_every_effect() {
    let covered: BTreeSet<Effect> = CORPUS
        .iter()
        .flat_map(|c| c.effects.iter().copied())
        .collect();
    for e in Effect::ALL {
        if e == Volatile {
            // Needs the catalog; never produced here.
            assert!(!covered.contains(&e));
        } else {
            assert!(covered.contains(&e), "no corpus case for {e}");
        }
    }
}

#[test]
fn multi_statement_strings_split_in_order() {
    let a = analyze("BEGIN; SET LOCAL ROLE admin; DELETE FROM t; COMMIT;").expect("parses");
    let per: Vec<(&str, Vec<Effect>)> = a
        .statements
        .iter()
        .map(|s| (s.command_tag, s.effects.iter().copied().collect()))
        .collect();
    assert_eq!(
        per,
        vec![
            ("BEGIN", vec![Transaction]),
            ("SET", vec![SetRole]),
            ("DELETE", vec![Write]),
            ("COMMIT", vec![Transaction]),
        ]
    );
    assert!(a.statements[2].dml_without_where);
    assert!(!a.statements[0].dml_without_where);
}

// ------------------------------------------------------------------ fixtures

struct FixtureStats {
    entries: usize,
    parsed: usize,
    unknown: usize,
    failures: Vec<String>,
}

/// Splits a fixture file into its entries (separated by `-- next` lines).
fn fixture_entries(text: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "-- next" {
            entries.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    entries.push(&text[start..]);
    entries
        .into_iter()
        .filter(|e| !e.trim().is_empty())
        .collect()
}

fn run_fixture(text: &str) -> (FixtureStats, Vec<Analysis>) {
    let mut stats = FixtureStats {
        entries: 0,
        parsed: 0,
        unknown: 0,
        failures: Vec::new(),
    };
    let mut analyses = Vec::new();
    for entry in fixture_entries(text) {
        stats.entries += 1;
        match analyze(entry) {
            Ok(a) if a.statements.is_empty() => {
                stats.failures.push(format!("no statement: {entry}"));
            }
            Ok(a) => {
                stats.parsed += 1;
                if a.effects().contains(&Unknown) {
                    stats.unknown += 1;
                    stats.failures.push(format!("Unknown effect: {entry}"));
                }
                analyses.push(a);
            }
            Err(e) => stats.failures.push(format!("{e}: {entry}")),
        }
    }
    (stats, analyses)
}

const FIXTURES: &[(&str, &str)] = &[
    (
        "psql_describe.sql",
        include_str!("fixtures/psql_describe.sql"),
    ),
    ("pg_dump.sql", include_str!("fixtures/pg_dump.sql")),
    (
        "pg_dump_restore.sql",
        include_str!("fixtures/pg_dump_restore.sql"),
    ),
    ("pgbench.sql", include_str!("fixtures/pgbench.sql")),
    ("backstage.sql", include_str!("fixtures/backstage.sql")),
];

#[test]
fn fixtures_parse_without_unknown() {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, text) in FIXTURES {
        let (stats, _) = run_fixture(text);
        report.push(format!(
            "{name}: {}/{} entries parsed ({:.1}%), {} with Unknown",
            stats.parsed,
            stats.entries,
            100.0 * stats.parsed as f64 / stats.entries.max(1) as f64,
            stats.unknown
        ));
        assert!(stats.entries > 0, "{name} is empty");
        failures.extend(stats.failures.into_iter().map(|f| format!("{name}: {f}")));
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixture_effects_are_plausible() {
    // Catalog queries of psql's \d are plain reads.
    let (_, analyses) = run_fixture(FIXTURES[0].1);
    for a in &analyses {
        assert_eq!(a.effects(), BTreeSet::from([Read]), "{a:?}");
    }
    // pgbench's workload statements never touch anything but its tables.
    let (_, analyses) = run_fixture(FIXTURES[3].1);
    for a in &analyses {
        for st in &a.statements {
            assert!(!st.effects.contains(&Unknown));
            for o in &st.objects {
                assert!(
                    o.name.starts_with("pgbench_") || o.schema.as_deref() == Some("pg_catalog"),
                    "{o:?}"
                );
            }
        }
    }
    // pg_dump reads under a read-only snapshot but also locks tables and sets
    // session parameters (by name, through set_config over pg_settings).
    let (_, analyses) = run_fixture(FIXTURES[1].1);
    let all: BTreeSet<Effect> = analyses.iter().flat_map(|a| a.effects()).collect();
    for e in [Read, Session, Transaction] {
        assert!(all.contains(&e), "pg_dump lacks {e}: {all:?}");
    }
    for e in [
        Write,
        Ddl,
        Privilege,
        Code,
        ServerFiles,
        Signal,
        Config,
        ReadOnlyChange,
        SetRole,
        Lock,
    ] {
        assert!(!all.contains(&e), "pg_dump has {e}: {all:?}");
    }
}

#[test]
fn fixture_splitting() {
    assert_eq!(
        fixture_entries("a\n-- next\nb\n-- next\n\n"),
        vec!["a\n", "b\n"]
    );
    assert_eq!(
        fixture_entries("-- header\nSELECT 1"),
        vec!["-- header\nSELECT 1"]
    );
}

/// Not an assertion: prints what analysing a pgbench-like statement costs.
/// Run with `cargo test --release timing -- --nocapture`.
#[test]
fn timing_report() {
    let statements = [
        "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
    ];
    let iterations = 2_000u32;
    for sql in statements {
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            let a = analyze(std::hint::black_box(sql)).expect("parses");
            std::hint::black_box(a);
        }
        let per = start.elapsed() / iterations;
        let cache = super::AnalysisCache::new(16);
        cache.get_or_analyze(sql);
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(cache.get_or_analyze(std::hint::black_box(sql)));
        }
        let cached = start.elapsed() / iterations;
        println!("analyze: {per:?}/call, cache hit: {cached:?}/call  {sql}");
    }
}

/// The shape key's own scanner splits every corpus and fixture statement
/// as PostgreSQL's does wherever it answers, and answers for the
/// statements benchmarks and applications send in a loop.
#[test]
fn the_shape_scanner_agrees_with_postgres_on_the_corpus() {
    let mut answered = 0usize;
    let mut texts: Vec<&str> = CORPUS.iter().map(|c| c.sql).collect();
    for (_, text) in FIXTURES {
        texts.extend(fixture_entries(text));
        texts.push(text);
    }
    for sql in &texts {
        if let Some(why) = super::lexkey::disagreement(sql) {
            panic!("{why}: {sql:?}");
        }
        answered += usize::from(super::lexer::tokens(sql).is_ok());
    }
    for entry in fixture_entries(include_str!("fixtures/pgbench.sql")) {
        assert!(
            super::lexer::tokens(entry).is_ok(),
            "declined a pgbench statement: {entry:?}"
        );
    }
    assert!(
        answered * 10 >= texts.len() * 9,
        "answered only {answered} of {}",
        texts.len()
    );
}
