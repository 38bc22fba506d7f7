//! The MCP endpoint, driven by the official MCP Python SDK over stdio
//! (`pgward mcp`) and Streamable HTTP (`mcp.http` on `pgward serve`, OAuth
//! bearer tokens): the handshake, the tool list, every tool, the published
//! read-only bypasses of other Postgres MCP servers as a `read_only`
//! identity (the server's state checked unchanged), masked results, and the
//! stamp, audit events and metrics naming the tool.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::mcp_client::{self, tool_names, Target};
use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const POLICY: &str = r#"
version: 1
default_profile: read_only
identities:
  - name: agents-with-masks
    match: { user: "agent-an" }
    profile: analyst
  - name: developers
    match: { user: ["agent-dev"] }
    profile: developer
  - name: engineers
    match: { groups: [engineers] }
    profile: developer
profiles: {}
masks:
  - name: ssn-last-four
    columns: ["mcp.customers.ssn"]
    function: { partial: { last: 4 } }
  - name: email-domain
    columns: ["mcp.customers.email"]
    function: email
row_filters:
  - name: own_notes
    description: analysts see their own notes
    tables: ["mcp.notes"]
    predicate: author = current_setting('pgward.user', true)
    profiles: [analyst]
"#;

const SETUP: &str = r#"
CREATE ROLE "agent-ro" LOGIN PASSWORD 'ro-pw';
CREATE ROLE "agent-an" LOGIN PASSWORD 'an-pw';
CREATE ROLE "agent-dev" LOGIN PASSWORD 'dev-pw';
CREATE SCHEMA mcp;
CREATE TABLE mcp.customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
INSERT INTO mcp.customers VALUES (1, 'Ada', 'ada@example.com', '900-12-3456'), (2, 'Bob', 'bob@example.org', '900-65-4321');
CREATE TABLE mcp.orders (id serial PRIMARY KEY, amount numeric(10,2) NOT NULL);
INSERT INTO mcp.orders (amount) SELECT g FROM generate_series(1, 50) g;
GRANT USAGE ON SCHEMA mcp TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mcp TO PUBLIC;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mcp TO PUBLIC;
GRANT CREATE ON SCHEMA mcp TO "agent-dev";
"#;

/// The read-only bypasses published against other Postgres MCP servers,
/// and their neighbours, each sent through the `query` tool.
const BYPASSES: &[(&str, &str)] = &[
    // Out of the server's BEGIN TRANSACTION READ ONLY wrapper.
    ("commit-then-drop", "COMMIT; DROP TABLE mcp.orders"),
    ("commit-then-delete", "COMMIT; DELETE FROM mcp.orders"),
    // A leading comment past a statement-kind check.
    (
        "comment-before-insert",
        "/* report */ INSERT INTO mcp.orders (amount) VALUES (1)",
    ),
    (
        "line-comment-before-delete",
        "-- read only\nDELETE FROM mcp.orders",
    ),
    // Past startsWith("SELECT").
    ("select-then-delete", "SELECT 1; DELETE FROM mcp.orders"),
    ("select-into", "SELECT * INTO mcp.stolen FROM mcp.customers"),
    (
        "cte-delete",
        "WITH gone AS (DELETE FROM mcp.orders RETURNING *) SELECT count(*) FROM gone",
    ),
    // Read-write again through the simple protocol.
    (
        "set-transaction-read-write",
        "SET TRANSACTION READ WRITE; INSERT INTO mcp.orders (amount) VALUES (2)",
    ),
    (
        "begin-read-write",
        "BEGIN READ WRITE; DELETE FROM mcp.orders; COMMIT",
    ),
    (
        "session-characteristics",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; UPDATE mcp.orders SET amount = 0",
    ),
    (
        "default-read-only-off",
        "SET default_transaction_read_only = off; TRUNCATE mcp.orders",
    ),
    (
        "set-config",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
    ),
];

fn setup(pg: &PgCluster) {
    pg.admin_sql(APP_DB, SETUP);
}

fn state(pg: &PgCluster) -> String {
    pg.admin_sql(
        APP_DB,
        "SELECT count(*) || ':' || sum(amount) || ':' || (SELECT count(*) FROM pg_tables WHERE schemaname = 'mcp') FROM mcp.orders",
    )
}

fn spool_events(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
            }
        }
    }
    out
}

fn call(t: &Value, i: usize) -> &Value {
    &t["calls"][i]
}

fn stdio_config(pg: &PgCluster, dir: &Path) -> std::path::PathBuf {
    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let cfg = dir.join("pgward.yaml");
    std::fs::write(
        &cfg,
        format!(
            "policy: {}\nupstream: {{ host: 127.0.0.1, port: {}, tls: {{ mode: disable }} }}\n\
             catalog: {{ user: {SUPERUSER}, password_env: PGWARD_CATALOG_PASSWORD }}\n\
             audit:\n  spool_dir: {}\n  statement_text: full\n  sinks:\n    - stdout: {{}}\n\
             mcp:\n  database: {APP_DB}\n  max_rows: 20\n",
            policy.display(),
            pg.port(),
            dir.join("spool").display()
        ),
    )
    .expect("config");
    cfg
}

fn stdio<'a>(cfg: &Path, user: &str, password: &str) -> Target<'a> {
    Target::Stdio {
        args: vec![
            "mcp".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--user".into(),
            user.into(),
        ],
        env: vec![
            ("PGWARD_MCP_PASSWORD", password.to_owned()),
            ("PGWARD_CATALOG_PASSWORD", SUPERUSER_PASSWORD.to_owned()),
        ],
    }
}

#[test]
fn stdio_read_only_agent_cannot_write_by_any_published_bypass() {
    let pg = PgCluster::start();
    setup(&pg);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = stdio_config(&pg, dir.path());
    let before = state(&pg);

    let mut calls: Vec<(&str, Value)> = vec![
        ("whoami", json!({})),
        ("list_schemas", json!({})),
        ("list_tables", json!({ "schema": "mcp" })),
        ("describe_table", json!({ "table": "mcp.orders" })),
        (
            "query",
            json!({ "sql": "SELECT id, amount FROM mcp.orders ORDER BY id", "max_rows": 5 }),
        ),
        (
            "query",
            json!({ "sql": "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()" }),
        ),
        (
            "explain",
            json!({ "sql": "SELECT * FROM mcp.orders WHERE id = 1" }),
        ),
        (
            "explain",
            json!({ "sql": "DELETE FROM mcp.orders", "analyze": true }),
        ),
        (
            "explain",
            json!({ "sql": "SELECT 1; DROP TABLE mcp.orders" }),
        ),
        ("explain_policy", json!({ "sql": "DROP TABLE mcp.orders" })),
        ("execute", json!({ "sql": "DELETE FROM mcp.orders" })),
        (
            "query",
            json!({ "sql": "SELECT 1", "branch": "x -c default_transaction_read_only=off" }),
        ),
    ];
    let first_bypass = calls.len();
    for (_, sql) in BYPASSES {
        calls.push(("query", json!({ "sql": sql })));
    }
    let t = mcp_client::run(&stdio(&cfg, "agent-ro", "ro-pw"), &calls);
    assert!(t["connect_error"].is_null(), "{t}");
    assert_eq!(t["server_info"]["name"], "pgward");

    // execute is not offered to a read-only profile, everything else is.
    let tools = tool_names(&t);
    assert_eq!(
        tools,
        [
            "list_schemas",
            "list_tables",
            "describe_table",
            "query",
            "explain",
            "whoami",
            "explain_policy"
        ],
        "{t}"
    );
    for tool in t["tools"].as_array().expect("tools") {
        assert!(tool["input_schema"]["type"] == "object", "{tool}");
        assert!(tool["description"].as_str().is_some_and(|d| !d.is_empty()));
    }

    let whoami = &call(&t, 0)["structured"];
    assert_eq!(whoami["identity"]["user"], "agent-ro", "{whoami}");
    assert_eq!(whoami["profile"]["name"], "read_only");
    assert_eq!(whoami["session"]["default_transaction_read_only"], "on");
    assert_eq!(whoami["tools"]["query"]["application_name"], "mcp/query");
    let schemas = call(&t, 1)["structured"]["schemas"].to_string();
    assert!(schemas.contains("\"mcp\""), "{schemas}");
    let tables = &call(&t, 2)["structured"]["tables"];
    assert_eq!(tables.as_array().map(Vec::len), Some(2), "{tables}");
    let orders = &call(&t, 3)["structured"];
    assert_eq!(orders["columns"][1]["name"], "amount", "{orders}");
    assert_eq!(orders["columns"][1]["type"], "numeric(10,2)");
    // A row limit cuts the result.
    let q = &call(&t, 4)["structured"];
    assert_eq!(q["truncated"], true, "{q}");
    assert_eq!(q["results"][0]["rows"].as_array().map(Vec::len), Some(5));
    assert_eq!(q["results"][0]["rows"][0], json!(["1", "1.00"]));
    // The server sees the statement stamped with the tool.
    let stamped = call(&t, 5)["structured"]["results"][0]["rows"][0][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(stamped.contains("application='mcp%2Fquery'"), "{stamped}");
    assert!(stamped.contains("pgward_user='agent-ro'"), "{stamped}");
    assert!(stamped.contains("pgward_profile='read_only'"), "{stamped}");
    assert!(
        call(&t, 6)["structured"]["plan"][0]["Plan"].is_object(),
        "{t}"
    );
    // No ANALYZE for a read-only profile; one statement only for explain.
    assert_eq!(call(&t, 7)["is_error"], true);
    assert_eq!(call(&t, 7)["structured"]["error"], "not_available");
    assert_eq!(call(&t, 8)["is_error"], true, "{}", call(&t, 8));
    let ep = &call(&t, 9)["structured"];
    assert_eq!(ep["decision"], "deny", "{ep}");
    assert!(ep["report"]
        .as_str()
        .is_some_and(|r| r.contains("profile:   read_only")));
    assert_eq!(call(&t, 10)["structured"]["error"], "not_available");
    // A branch name cannot smuggle startup options.
    assert_eq!(
        call(&t, 11)["structured"]["error"],
        "invalid_arguments",
        "{}",
        call(&t, 11)
    );

    let mut report = String::new();
    for (i, (name, _)) in BYPASSES.iter().enumerate() {
        let c = call(&t, first_bypass + i);
        assert_eq!(c["is_error"], true, "{name} was not refused: {c}");
        let s = &c["structured"];
        report.push_str(&format!("{name}: {} {}\n", s["sqlstate"], s["message"]));
        assert_eq!(s["error"], "denied", "{name}: {c}");
        assert_eq!(s["sqlstate"], "42501", "{name}: {c}");
        assert!(
            s["hint"].as_str().is_some_and(|h| !h.is_empty()),
            "{name}: no hint: {c}"
        );
    }
    eprintln!("what the MCP client saw for each bypass:\n{report}");
    assert_eq!(state(&pg), before, "the server's state changed");
    assert_eq!(
        pg.admin_sql(
            APP_DB,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'stolen'"
        ),
        "0"
    );

    // The audit trail names the tool and the verified user for every call.
    let events = spool_events(&dir.path().join("spool"));
    let denied: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["kind"] == "statement"
                && e["attrs"]["pgward.decision"] == "deny"
                && e["attrs"]["pgward.tool"] == "mcp/query"
        })
        .collect();
    assert!(
        denied.len() >= BYPASSES.len(),
        "{} denials in {events:?}",
        denied.len()
    );
    for e in &denied {
        assert_eq!(e["attrs"]["pgward.tool"], "mcp/query", "{e}");
        assert_eq!(e["attrs"]["user.name"], "agent-ro", "{e}");
        assert_eq!(e["attrs"]["pgward.profile"], "read_only", "{e}");
    }
    for tool in [
        "whoami",
        "list_schemas",
        "list_tables",
        "describe_table",
        "explain",
    ] {
        assert!(
            events.iter().any(|e| e["kind"] == "statement"
                && e["attrs"]["pgward.tool"] == format!("mcp/{tool}").as_str()),
            "no statement event for {tool}"
        );
    }
}

#[test]
fn stdio_masks_in_results_and_writes_for_a_developer() {
    let pg = PgCluster::start();
    setup(&pg);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = stdio_config(&pg, dir.path());

    let t = mcp_client::run(
        &stdio(&cfg, "agent-an", "an-pw"),
        &[
            (
                "query",
                json!({ "sql": "SELECT name, email, ssn FROM mcp.customers ORDER BY id" }),
            ),
            ("list_tables", json!({ "schema": "mcp" })),
            (
                "describe_table",
                json!({ "table": "customers", "schema": "mcp" }),
            ),
            ("whoami", json!({})),
            (
                "query",
                json!({ "sql": "SELECT ssn || '' AS s FROM mcp.customers ORDER BY id" }),
            ),
        ],
    );
    let rows = &call(&t, 0)["structured"]["results"][0]["rows"];
    assert_eq!(rows[0][0], "Ada", "{t}");
    assert_ne!(
        rows[0][1], "ada@example.com",
        "email must be masked: {rows}"
    );
    assert!(
        rows[0][1]
            .as_str()
            .is_some_and(|e| e.ends_with("@example.com")),
        "{rows}"
    );
    assert!(
        rows[0][2]
            .as_str()
            .is_some_and(|s| s.ends_with("3456") && !s.contains("900")),
        "{rows}"
    );
    let tables = call(&t, 1)["structured"]["tables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let customers = tables
        .iter()
        .find(|x| x["name"] == "customers")
        .expect("customers");
    let masked: Vec<&str> = customers["masked_columns"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["column"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(masked, ["email", "ssn"], "{customers}");
    let cols = &call(&t, 2)["structured"]["columns"];
    assert_eq!(cols[3]["name"], "ssn");
    assert_eq!(cols[3]["masked"], true, "{cols}");
    assert_eq!(cols[3]["mask"]["rule"], "ssn-last-four");
    assert_eq!(cols[1]["masked"], false);
    let who = &call(&t, 3)["structured"]["profile"];
    assert_eq!(who["name"], "analyst", "{who}");
    assert_eq!(who["masks"].as_array().map(Vec::len), Some(2), "{who}");
    assert_eq!(
        who["row_filters"],
        json!([{
            "name": "own_notes",
            "description": "analysts see their own notes",
            "tables": ["mcp.notes"],
            "predicate": "author = current_setting('pgward.user', true)",
            "server_policy": "pgward_filter_own_notes",
        }]),
        "{who}"
    );
    // A value computed from a masked column does not come back clear.
    let derived = call(&t, 4).to_string();
    assert!(!derived.contains("900-12-3456"), "{derived}");

    let t = mcp_client::run(
        &stdio(&cfg, "agent-dev", "dev-pw"),
        &[
            (
                "execute",
                json!({ "sql": "INSERT INTO mcp.orders (amount) VALUES (7), (8) RETURNING id" }),
            ),
            (
                "explain",
                json!({ "sql": "DELETE FROM mcp.orders", "analyze": true }),
            ),
            (
                "query",
                json!({ "sql": "INSERT INTO mcp.orders (amount) VALUES (9)" }),
            ),
            ("execute", json!({ "sql": "SELECT 1", "branch": "nope" })),
            (
                "query",
                json!({ "sql": "SELECT pg_sleep(5)", "timeout_ms": 200 }),
            ),
        ],
    );
    assert!(tool_names(&t).contains(&"execute".to_owned()), "{t}");
    let ex = &call(&t, 0)["structured"]["results"][0];
    assert_eq!(ex["row_count"], 2, "{t}");
    let an = &call(&t, 1)["structured"];
    assert_eq!(an["rolled_back"], true, "{t}");
    assert_eq!(
        pg.admin_sql(APP_DB, "SELECT count(*) FROM mcp.orders"),
        "52",
        "the insert stays, EXPLAIN ANALYZE's delete is rolled back"
    );
    // query runs read-only transactions even for a developer.
    assert_eq!(
        call(&t, 2)["structured"]["sqlstate"],
        "25006",
        "{}",
        call(&t, 2)
    );
    assert_eq!(
        call(&t, 3)["structured"]["error"],
        "login_failed",
        "{}",
        call(&t, 3)
    );
    assert_eq!(call(&t, 3)["structured"]["sqlstate"], "3D000");
    assert_eq!(
        call(&t, 4)["structured"]["sqlstate"],
        "57014",
        "{}",
        call(&t, 4)
    );
}

// --- Streamable HTTP with OAuth bearer tokens --------------------------------

const ISS: &str = "https://idp.test/";
const AUD: &str = "https://pgward.test/mcp";

struct Key {
    enc: EncodingKey,
    jwk: Value,
}

fn ec_key(kid: &str) -> Key {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("keygen");
    let raw = kp.public_key_raw();
    Key {
        enc: EncodingKey::from_ec_der(&kp.serialize_der()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
        }),
    }
}

fn token(key: &Key, sub: &str, extra: Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut c = json!({ "iss": ISS, "aud": AUD, "sub": sub, "exp": now + 300, "iat": now - 5 });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    encode(&header, &c, &key.enc).expect("sign")
}

fn stdout_addr(p: &Pgward, prefix: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(a) = p
            .stdout_contents()
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
        {
            return a;
        }
        assert!(std::time::Instant::now() < deadline, "no {prefix:?} line");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.1 request; returns the status line, headers and body as text.
fn http(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn http_with_bearer_tokens() {
    let pg = PgCluster::start();
    setup(&pg);
    let key = ec_key("k1");
    let b = Pgward::builder().upstream_port(pg.port());
    let jwks = b.write_file("jwks.json", &json!({ "keys": [key.jwk] }).to_string());
    let pw = b.write_file("service.pw", &format!("{SUPERUSER_PASSWORD}\n"));
    let policy = b.write_file("policy.yaml", POLICY);
    let cfg = format!(
        "policy: {}\nauth:\n  mode: jwt\n  jwks_file: {}\n  jwt: {{ issuer: \"{ISS}\", audience: \"{AUD}\" }}\n  \
         upstream_user: {SUPERUSER}\n  upstream_password_file: {}\n\
         admin: {{ listen: 127.0.0.1:0 }}\n\
         audit:\n  spool_dir: {}\n  statement_text: full\n  sinks:\n    - stdout: {{}}\n\
         mcp:\n  database: {APP_DB}\n  http:\n    listen: 127.0.0.1:0\n",
        policy.display(),
        jwks.display(),
        pw.display(),
        b.dir().join("spool").display()
    );
    let pgward = b.config_yaml(&cfg).start();
    let mcp = stdout_addr(&pgward, "pgward mcp listening on ");
    let admin = stdout_addr(&pgward, "pgward admin listening on ");
    let url = format!("http://{mcp}/mcp");
    let before = state(&pg);

    // Protected resource metadata and the 401 challenge.
    let meta = http(
        &mcp,
        &format!("GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {mcp}\r\nConnection: close\r\n\r\n"),
    );
    assert!(meta.starts_with("HTTP/1.1 200"), "{meta}");
    assert!(meta.contains(&format!("\"resource\":\"{url}\"")), "{meta}");
    assert!(
        meta.contains(&format!("\"authorization_servers\":[\"{ISS}\"]")),
        "{meta}"
    );
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let post = |auth: &str| {
        http(
            &mcp,
            &format!(
                "POST /mcp HTTP/1.1\r\nHost: {mcp}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{init}",
                init.len()
            ),
        )
    };
    let none = post("");
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    let challenge = format!(
        "www-authenticate: Bearer resource_metadata=\"http://{mcp}/.well-known/oauth-protected-resource/mcp\""
    );
    assert!(
        none.to_ascii_lowercase()
            .contains(&challenge.to_ascii_lowercase()),
        "{none}"
    );
    let other_aud = token(
        &key,
        "agent-ro",
        json!({ "aud": "https://elsewhere.test/" }),
    );
    let wrong = post(&format!("Authorization: Bearer {other_aud}\r\n"));
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    assert!(wrong.contains("error=\"invalid_token\""), "{wrong}");
    assert!(wrong.contains("another audience"), "{wrong}");

    // The MCP client with a bad token, a token for another audience: no session.
    for bad in [
        "not-a-token".to_owned(),
        other_aud.clone(),
        token(&ec_key("k1"), "agent-ro", json!({})),
    ] {
        let t = mcp_client::run(
            &Target::Http {
                url: url.clone(),
                token: Some(bad),
            },
            &[],
        );
        assert!(
            t["connect_error"].is_string(),
            "a session with a bad token: {t}"
        );
        assert!(t["tools"].is_null(), "{t}");
    }

    // A read-only token: the bypasses are refused, the tool is named everywhere.
    let ro = token(&key, "agent-ro", json!({ "groups": ["analysts"] }));
    let mut calls: Vec<(&str, Value)> = vec![
        ("whoami", json!({})),
        ("query", json!({ "sql": "SELECT count(*) FROM mcp.orders" })),
        ("execute", json!({ "sql": "DELETE FROM mcp.orders" })),
    ];
    for (_, sql) in BYPASSES {
        calls.push(("query", json!({ "sql": sql })));
    }
    let t = mcp_client::run(
        &Target::Http {
            url: url.clone(),
            token: Some(ro),
        },
        &calls,
    );
    assert!(t["connect_error"].is_null(), "{t}");
    assert!(!tool_names(&t).contains(&"execute".to_owned()), "{t}");
    let who = &call(&t, 0)["structured"];
    assert_eq!(who["identity"]["user"], "agent-ro", "{who}");
    assert_eq!(who["identity"]["transport"], "http");
    assert_eq!(who["identity"]["groups"], json!(["analysts"]));
    assert_eq!(who["profile"]["name"], "read_only");
    assert_eq!(
        call(&t, 1)["structured"]["results"][0]["rows"][0][0],
        "50",
        "{t}"
    );
    assert_eq!(call(&t, 2)["structured"]["error"], "not_available");
    for (i, (name, _)) in BYPASSES.iter().enumerate() {
        let c = call(&t, 3 + i);
        assert_eq!(c["structured"]["sqlstate"], "42501", "{name}: {c}");
    }
    assert_eq!(state(&pg), before);

    // A developer's token (by group): execute is offered and runs.
    let dev = token(&key, "carol", json!({ "groups": ["engineers"] }));
    let t = mcp_client::run(
        &Target::Http {
            url: url.clone(),
            token: Some(dev),
        },
        &[(
            "execute",
            json!({ "sql": "UPDATE mcp.orders SET amount = amount WHERE id = 1" }),
        )],
    );
    assert!(tool_names(&t).contains(&"execute".to_owned()), "{t}");
    assert_eq!(
        call(&t, 0)["structured"]["results"][0]["rows_affected"],
        1,
        "{t}"
    );

    // Audit events and usage metrics name the tool.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let events: Vec<Value> = loop {
        let ev: Vec<Value> = pgward
            .stdout_contents()
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if ev
            .iter()
            .any(|e| e["attrs"]["pgward.tool"] == "mcp/execute" && e["kind"] == "statement")
            || std::time::Instant::now() > deadline
        {
            break ev;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let deny = events
        .iter()
        .find(|e| e["kind"] == "statement" && e["attrs"]["pgward.decision"] == "deny")
        .expect("a denial event");
    assert_eq!(deny["attrs"]["pgward.tool"], "mcp/query", "{deny}");
    assert_eq!(deny["attrs"]["user.name"], "agent-ro", "{deny}");
    assert!(events.iter().any(|e| e["kind"] == "statement"
        && e["attrs"]["pgward.tool"] == "mcp/execute"
        && e["attrs"]["user.name"] == "carol"));
    let metrics = http(
        &admin,
        &format!("GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n"),
    );
    assert!(metrics.contains("tool=\"mcp_query\""), "{metrics}");
    assert!(metrics.contains("tool=\"mcp_execute\""), "{metrics}");
}
