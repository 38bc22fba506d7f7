//! TLS through pgward: clients to pgward (`--tls-cert/--tls-key`), pgward to
//! the server (`--upstream-tls` and friends), and how SCRAM channel binding
//! behaves when both legs are encrypted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::clients::{self, assert_failure, assert_success, describe_error};
use common::{
    PgCluster, Pgward, TestCa, APP_DB, APP_PASSWORD, APP_USER, MD5_PASSWORD, MD5_USER, PW_PASSWORD,
    PW_USER,
};

const PG_STAT_SSL: &str = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

/// Certificate material for pgward's client-facing TLS: its own CA (not the
/// cluster's) and a server certificate for localhost/127.0.0.1.
struct ProxyCerts {
    dir: tempfile::TempDir,
}

impl ProxyCerts {
    fn new() -> ProxyCerts {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("pgward client-side test CA");
        let leaf = ca.issue_server(&["localhost", "127.0.0.1"]);
        write(&dir.path().join("ca.pem"), &ca.cert_pem);
        write(&dir.path().join("pgward.pem"), &leaf.cert_pem);
        write(&dir.path().join("pgward.key"), &leaf.key_pem);
        common::util::set_mode(&dir.path().join("pgward.key"), 0o600);
        ProxyCerts { dir }
    }
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// `--tls-cert F --tls-key F`.
    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            path_string(&self.dir.path().join("pgward.pem")),
            "--tls-key".into(),
            path_string(&self.dir.path().join("pgward.key")),
        ]
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn path_string(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// A PEM file with a CA that signed nothing the tests talk to.
fn unrelated_ca_file(dir: &Path) -> PathBuf {
    let path = dir.join("unrelated-ca.pem");
    write(&path, &TestCa::new("unrelated test CA").cert_pem);
    path
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `--upstream-tls MODE [--upstream-ca CA] [--upstream-server-name NAME]`.
fn upstream_args(mode: &str, ca: Option<&Path>, server_name: Option<&str>) -> Vec<String> {
    let mut v = args(&["--upstream-tls", mode]);
    if let Some(ca) = ca {
        v.push("--upstream-ca".into());
        v.push(path_string(ca));
    }
    if let Some(name) = server_name {
        v.push("--upstream-server-name".into());
        v.push(name.into());
    }
    v
}

/// libpq conninfo for a TLS connection to pgward at `port`, checking the
/// certificate against `ca` for host name `localhost`. `extra` is appended.
fn tls_conninfo(port: u16, sslmode: &str, ca: &Path, extra: &str) -> String {
    format!(
        "host=localhost hostaddr=127.0.0.1 port={port} user={APP_USER} dbname={APP_DB} \
         sslmode={sslmode} sslrootcert={} connect_timeout=10 {extra}",
        ca.display()
    )
}

/// psql with a full conninfo (password from PGPASSWORD); `args` follow.
fn psql_conninfo(conninfo: &str, password: &str, args: &[&str]) -> Output {
    // Port and user are taken from the conninfo; the env only supplies defaults.
    let mut cmd = clients::tool_command("psql", 0, APP_USER, password, APP_DB);
    cmd.env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGSSLMODE")
        .arg("-X")
        .arg("-w")
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-d")
        .arg(conninfo)
        .args(args);
    common::util::output_with_timeout(&mut cmd, clients::TOOL_TIMEOUT)
}

/// tokio-postgres TLS connection to pgward, trusting `ca`, with `extra`
/// appended to the standard TLS config string.
async fn try_tls_client(
    port: u16,
    user: &str,
    password: &str,
    ca: &Path,
    extra: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let config = format!(
        "{} {extra}",
        clients::tls_connstr(port, user, password, APP_DB)
    );
    clients::try_connect_tls_with(&config, clients::tls_connector(ca))
        .await
        .map(|(c, _)| c)
}

async fn upstream_ssl(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(PG_STAT_SSL, &[])
        .await
        .expect("query pg_stat_ssl")
        .get(0)
}

/// The FATAL a connection attempt ended with: (SQLSTATE, message).
#[track_caller]
fn fatal_of(res: Result<tokio_postgres::Client, tokio_postgres::Error>) -> (String, String) {
    let err = match res {
        Ok(_) => panic!("connection unexpectedly succeeded"),
        Err(e) => e,
    };
    let db = err.as_db_error().unwrap_or_else(|| {
        panic!(
            "expected an error from the server side: {}",
            describe_error(&err)
        )
    });
    assert_eq!(db.severity(), "FATAL", "{}", describe_error(&err));
    (db.code().code().to_string(), db.message().to_string())
}

// ------------------------------------------------------------ client TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tls_verify_full_with_psql_and_tokio_postgres() {
    let pg = PgCluster::start();
    let certs = ProxyCerts::new();
    let mut extra = certs.args();
    extra.extend(upstream_args("disable", None, None));
    let proxy = Pgward::start(pg.port(), extra);

    // psql verifies pgward's certificate and host name.
    let conninfo = tls_conninfo(proxy.port(), "verify-full", &certs.ca(), "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-At", "-c", PG_STAT_SSL]);
    let stdout = assert_success(&out, "psql verify-full to pgward");
    // pg_stat_ssl describes the pgward -> server link, plain here.
    assert_eq!(stdout.trim(), "f", "upstream leg is configured without TLS");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "\\conninfo"]);
    let stdout = assert_success(&out, "psql \\conninfo");
    assert!(
        stdout.contains("SSL connection (protocol: TLS"),
        "client leg must be TLS: {stdout}"
    );

    // An IP literal is in the certificate too.
    let conninfo = format!(
        "host=127.0.0.1 port={} user={APP_USER} dbname={APP_DB} sslmode=verify-full sslrootcert={}",
        proxy.port(),
        certs.ca().display()
    );
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-At", "-c", "select 1"]);
    assert_eq!(assert_success(&out, "psql verify-full by IP").trim(), "1");

    // tokio-postgres over rustls, verifying against the same CA.
    let client =
        common::connect_tls(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, &certs.ca()).await;
    assert!(!upstream_ssl(&client).await);
    let rows = client
        .query("select g from generate_series(1, 1000) g", &[])
        .await
        .expect("query over TLS");
    assert_eq!(rows.len(), 1000);
    let big: String = client
        .query_one("select repeat('x', 300000)", &[])
        .await
        .expect("large value over TLS")
        .get(0);
    assert_eq!(big.len(), 300_000);

    let log = proxy.log_contents();
    assert!(
        log.contains("tls=true") && log.contains("upstream_tls=false"),
        "pgward should log a TLS client session with a plain upstream:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tls_untrusted_ca_fails_certificate_verification() {
    let pg = PgCluster::start();
    let certs = ProxyCerts::new();
    // Plain upstream, so the default channel_binding of the clients is no factor.
    let mut extra = certs.args();
    extra.extend(upstream_args("disable", None, None));
    let proxy = Pgward::start(pg.port(), extra);
    let other = tempfile::tempdir().expect("tempdir");
    let wrong_ca = unrelated_ca_file(other.path());

    let conninfo = tls_conninfo(proxy.port(), "verify-full", &wrong_ca, "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "select 1"]);
    let stderr = assert_failure(&out, "psql verify-full with an unrelated CA");
    assert!(stderr.contains("certificate"), "stderr: {stderr}");

    // verify-ca fails the same way; the host name plays no part there.
    let conninfo = tls_conninfo(proxy.port(), "verify-ca", &wrong_ca, "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "select 1"]);
    let stderr = assert_failure(&out, "psql verify-ca with an unrelated CA");
    assert!(stderr.contains("certificate"), "stderr: {stderr}");

    // The right CA but a name the certificate does not carry.
    let conninfo = format!(
        "host=not-localhost.invalid hostaddr=127.0.0.1 port={} user={APP_USER} dbname={APP_DB} \
         sslmode=verify-full sslrootcert={}",
        proxy.port(),
        certs.ca().display()
    );
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "select 1"]);
    let stderr = assert_failure(&out, "psql verify-full with a wrong host name");
    assert!(
        stderr.contains("does not match host name"),
        "stderr: {stderr}"
    );

    let res =
        common::try_connect_tls(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, &wrong_ca).await;
    let err = res.expect_err("rustls must reject pgward's certificate");
    let text = describe_error(&err);
    assert!(
        text.to_lowercase().contains("certificate"),
        "error should name the certificate problem: {text}"
    );

    // pgward is unaffected by the failed handshakes.
    let client =
        common::connect_tls(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, &certs.ca()).await;
    let one: i32 = client
        .query_one("select 1", &[])
        .await
        .expect("select")
        .get(0);
    assert_eq!(one, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tls_required_but_pgward_has_no_certificate() {
    let pg = PgCluster::start();
    let proxy = Pgward::start(pg.port(), Vec::new());
    let certs = ProxyCerts::new();

    let conninfo = tls_conninfo(proxy.port(), "require", &certs.ca(), "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "select 1"]);
    let stderr = assert_failure(&out, "psql sslmode=require to a pgward without TLS");
    assert!(
        stderr.contains("server does not support SSL"),
        "stderr: {stderr}"
    );

    let res =
        common::try_connect_tls(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, &certs.ca()).await;
    let err = res.expect_err("TLS is required but not offered");
    assert!(
        err.as_db_error().is_none(),
        "the client itself must give up: {}",
        describe_error(&err)
    );

    // sslmode=prefer falls back to a plain connection.
    let conninfo = tls_conninfo(proxy.port(), "prefer", &certs.ca(), "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-At", "-c", "select 'plain ok'"]);
    assert_eq!(
        assert_success(&out, "psql sslmode=prefer").trim(),
        "plain ok"
    );
}

// ---------------------------------------------------------- upstream TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_verify_full_with_cluster_ca() {
    let pg = PgCluster::start_tls_only();
    let ca = pg.ca_cert_path();
    let proxy = Pgward::start(
        pg.port(),
        upstream_args("verify-full", Some(&ca), Some("localhost")),
    );

    let client = common::connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert!(
        upstream_ssl(&client).await,
        "server must see a TLS connection"
    );
    for (user, pw) in [(MD5_USER, MD5_PASSWORD), (PW_USER, PW_PASSWORD)] {
        let c = common::connect(proxy.port(), user, pw, APP_DB).await;
        assert!(upstream_ssl(&c).await, "{user}");
    }
    let out = clients::psql(
        proxy.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-At", "-c", PG_STAT_SSL],
    );
    assert_eq!(
        assert_success(&out, "psql via verify-full upstream").trim(),
        "t"
    );

    // Without --upstream-server-name the upstream host (127.0.0.1) is checked,
    // which the cluster certificate also names.
    let proxy = Pgward::start(pg.port(), upstream_args("verify-full", Some(&ca), None));
    let client = common::connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert!(upstream_ssl(&client).await);

    // The default mode (prefer) uses TLS when the server offers it.
    let proxy = Pgward::start(pg.port(), Vec::new());
    let client = common::connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert!(upstream_ssl(&client).await);

    // require without a CA encrypts without verifying.
    let proxy = Pgward::start(pg.port(), upstream_args("require", None, None));
    let client = common::connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert!(upstream_ssl(&client).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_disabled_gets_the_servers_hba_rejection() {
    let pg = PgCluster::start_tls_only();
    let proxy = Pgward::start(pg.port(), upstream_args("disable", None, None));

    let (code, message) =
        fatal_of(common::try_connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await);
    assert_eq!(code, "28000", "{message}");
    assert!(message.contains("pg_hba.conf"), "{message}");
    assert!(message.contains("no encryption"), "{message}");
    assert!(
        message.contains(&format!("user \"{APP_USER}\"")),
        "{message}"
    );

    let out = clients::psql(
        proxy.port(),
        APP_USER,
        APP_PASSWORD,
        APP_DB,
        &["-c", "select 1"],
    );
    let stderr = assert_failure(&out, "psql through pgward with upstream TLS disabled");
    assert!(
        stderr.contains("FATAL:") && stderr.contains("pg_hba.conf"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_untrusted_ca_fails_with_08001() {
    let pg = PgCluster::start_tls_only();
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong_ca = unrelated_ca_file(dir.path());

    for mode in ["verify-full", "verify-ca", "require"] {
        let proxy = Pgward::start(
            pg.port(),
            upstream_args(mode, Some(&wrong_ca), Some("localhost")),
        );
        let (code, message) =
            fatal_of(common::try_connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await);
        assert_eq!(code, "08001", "{mode}: {message}");
        let lower = message.to_lowercase();
        assert!(
            lower.contains("tls") && lower.contains("certificate"),
            "{mode}: message should name the TLS certificate problem: {message}"
        );
        // Nothing reached the server's authentication: no password was exchanged.
        assert!(!pg.log_contents().contains("password authentication failed"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_server_name_checked_by_verify_full_only() {
    let pg = PgCluster::start_tls_only();
    let ca = pg.ca_cert_path();

    let proxy = Pgward::start(
        pg.port(),
        upstream_args("verify-ca", Some(&ca), Some("wrong.example")),
    );
    let client = common::connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await;
    assert!(upstream_ssl(&client).await, "verify-ca: chain is enough");

    let proxy = Pgward::start(
        pg.port(),
        upstream_args("verify-full", Some(&ca), Some("wrong.example")),
    );
    let (code, message) =
        fatal_of(common::try_connect(proxy.port(), APP_USER, APP_PASSWORD, APP_DB).await);
    assert_eq!(code, "08001", "{message}");
    let lower = message.to_lowercase();
    assert!(
        lower.contains("certificate") && lower.contains("name"),
        "message should say the certificate does not match the name: {message}"
    );
}

// ----------------------------------------------- SCRAM channel binding

/// A TLS-only cluster and pgward with TLS on both legs (upstream verified).
fn both_legs_tls() -> (PgCluster, ProxyCerts, Pgward) {
    let pg = PgCluster::start_tls_only();
    let certs = ProxyCerts::new();
    let mut extra = certs.args();
    extra.extend(upstream_args(
        "verify-full",
        Some(&pg.ca_cert_path()),
        Some("localhost"),
    ));
    let proxy = Pgward::start(pg.port(), extra);
    (pg, certs, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_legs_tls_channel_binding_disabled_works() {
    let (_pg, certs, proxy) = both_legs_tls();

    // (a) psql with channel_binding=disable.
    let conninfo = tls_conninfo(
        proxy.port(),
        "verify-full",
        &certs.ca(),
        "channel_binding=disable",
    );
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-At", "-c", PG_STAT_SSL]);
    assert_eq!(
        assert_success(&out, "psql channel_binding=disable").trim(),
        "t"
    );

    // (b) tokio-postgres over rustls with channel binding disabled.
    let client = try_tls_client(
        proxy.port(),
        APP_USER,
        APP_PASSWORD,
        &certs.ca(),
        "channel_binding=disable",
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "tokio-postgres channel_binding=disable: {}",
            describe_error(&e)
        )
    });
    assert!(upstream_ssl(&client).await);

    // Non-SCRAM methods have no channel binding, so the defaults work.
    for (user, pw) in [(MD5_USER, MD5_PASSWORD), (PW_USER, PW_PASSWORD)] {
        let conninfo = format!(
            "host=localhost hostaddr=127.0.0.1 port={} user={user} dbname={APP_DB} \
             sslmode=verify-full sslrootcert={}",
            proxy.port(),
            certs.ca().display()
        );
        let out = psql_conninfo(&conninfo, pw, &["-At", "-c", PG_STAT_SSL]);
        assert_eq!(assert_success(&out, user).trim(), "t", "{user}");
        let client = common::connect_tls(proxy.port(), user, pw, APP_DB, &certs.ca()).await;
        assert!(upstream_ssl(&client).await, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_legs_tls_channel_binding_required_fails_on_the_client() {
    let (pg, certs, proxy) = both_legs_tls();

    // (c) The offer no longer contains SCRAM-SHA-256-PLUS, so a client that
    // insists on channel binding gives up by itself (bounded by the tool timeout).
    let conninfo = tls_conninfo(
        proxy.port(),
        "verify-full",
        &certs.ca(),
        "channel_binding=require",
    );
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "select 1"]);
    let stderr = assert_failure(&out, "psql channel_binding=require");
    assert!(stderr.contains("channel binding"), "stderr: {stderr}");
    assert!(
        stderr.contains("required"),
        "libpq should say channel binding was required: {stderr}"
    );

    let res = try_tls_client(
        proxy.port(),
        APP_USER,
        APP_PASSWORD,
        &certs.ca(),
        "channel_binding=require",
    )
    .await;
    let err = res.expect_err("tokio-postgres channel_binding=require must fail");
    assert!(
        describe_error(&err).contains("channel binding"),
        "{}",
        describe_error(&err)
    );

    // pgward and the server are fine afterwards.
    let conninfo = tls_conninfo(
        proxy.port(),
        "verify-full",
        &certs.ca(),
        "channel_binding=disable",
    );
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-At", "-c", "select 1"]);
    assert_eq!(assert_success(&out, "psql after the failures").trim(), "1");
    assert!(!pg.log_contents().contains("PANIC"));
}

/// Documented limitation: with TLS on both legs, a libpq-style client using
/// the default channel_binding=prefer sees SCRAM-SHA-256 offered over TLS,
/// concludes the server cannot bind, and says so with the gs2 flag 'y'. The
/// server, whose own connection is TLS and does support binding, treats that
/// as a downgrade attack and refuses. A passthrough proxy cannot change this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_legs_tls_default_channel_binding_is_refused_by_the_server() {
    let (_pg, certs, proxy) = both_legs_tls();

    // (d) psql with the default channel_binding (prefer).
    let conninfo = tls_conninfo(proxy.port(), "verify-full", &certs.ca(), "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-c", "select 1"]);
    let stderr = assert_failure(&out, "psql with default channel_binding over both TLS legs");
    assert!(
        stderr.contains("channel binding negotiation error"),
        "expected the server's downgrade protection: {stderr}"
    );

    // tokio-postgres behaves like libpq here.
    let (code, message) = fatal_of(
        common::try_connect_tls(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, &certs.ca()).await,
    );
    // PostgreSQL reports it as an authorization failure (28000).
    assert_eq!(code, "28000", "{message}");
    assert!(
        message.contains("channel binding negotiation error"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tls_with_plain_upstream_default_channel_binding_works() {
    // (e) Upstream without TLS: the server offers no -PLUS and expects no
    // binding, so the client's 'y' flag is accepted.
    let pg = PgCluster::start();
    let certs = ProxyCerts::new();
    let mut extra = certs.args();
    extra.extend(upstream_args("disable", None, None));
    let proxy = Pgward::start(pg.port(), extra);

    let conninfo = tls_conninfo(proxy.port(), "verify-full", &certs.ca(), "");
    let out = psql_conninfo(&conninfo, APP_PASSWORD, &["-At", "-c", PG_STAT_SSL]);
    assert_eq!(
        assert_success(&out, "psql default channel_binding").trim(),
        "f"
    );

    let client =
        common::connect_tls(proxy.port(), APP_USER, APP_PASSWORD, APP_DB, &certs.ca()).await;
    assert!(!upstream_ssl(&client).await);
}
