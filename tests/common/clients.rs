//! Client helpers: tokio-postgres (plain and rustls), and the libpq
//! command-line tools (psql, pgbench, pg_dump) with bounded run times.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::certs;
use super::util;

/// Upper bound on any connect attempt made through these helpers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for psql / pg_dump runs.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(120);
/// Upper bound for pgbench runs.
pub const PGBENCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Handle of the spawned tokio-postgres connection task.
pub type ConnHandle = JoinHandle<Result<(), tokio_postgres::Error>>;

/// Quote a value for a libpq/tokio-postgres key=value config string.
pub fn quote(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// Config string for a plain TCP connection to 127.0.0.1:port.
/// An empty password is left out.
pub fn connstr(port: u16, user: &str, password: &str, dbname: &str) -> String {
    let mut s = format!(
        "host=127.0.0.1 port={port} user={} dbname={} connect_timeout=10",
        quote(user),
        quote(dbname)
    );
    if !password.is_empty() {
        s.push_str(&format!(" password={}", quote(password)));
    }
    s
}

/// Config string for a TLS connection: `host=localhost hostaddr=127.0.0.1
/// sslmode=require` so certificate hostname checks use `localhost`.
pub fn tls_connstr(port: u16, user: &str, password: &str, dbname: &str) -> String {
    let mut s = format!(
        "host=localhost hostaddr=127.0.0.1 port={port} sslmode=require user={} dbname={} connect_timeout=10",
        quote(user),
        quote(dbname)
    );
    if !password.is_empty() {
        s.push_str(&format!(" password={}", quote(password)));
    }
    s
}

fn spawn_connection<S, T>(conn: tokio_postgres::Connection<S, T>) -> ConnHandle
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(conn)
}

/// Connect with a full config string (NoTls). Panics only if the attempt
/// takes longer than [`CONNECT_TIMEOUT`].
pub async fn try_connect_with(config: &str) -> Result<(Client, ConnHandle), tokio_postgres::Error> {
    let fut = tokio_postgres::connect(config, NoTls);
    let (client, conn) = tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            panic!("connect({config}) did not finish within {CONNECT_TIMEOUT:?}")
        })?;
    Ok((client, spawn_connection(conn)))
}

/// Connect with a full config string (NoTls); panics on failure.
pub async fn connect_with(config: &str) -> (Client, ConnHandle) {
    try_connect_with(config)
        .await
        .unwrap_or_else(|e| panic!("connect({config}) failed: {}", describe_error(&e)))
}

/// Plain TCP connect to 127.0.0.1:port.
pub async fn try_connect(
    port: u16,
    user: &str,
    password: &str,
    dbname: &str,
) -> Result<Client, tokio_postgres::Error> {
    try_connect_with(&connstr(port, user, password, dbname))
        .await
        .map(|(c, _)| c)
}

/// Plain TCP connect to 127.0.0.1:port; panics on failure.
pub async fn connect(port: u16, user: &str, password: &str, dbname: &str) -> Client {
    connect_with(&connstr(port, user, password, dbname)).await.0
}

/// A tokio-postgres TLS connector (rustls) trusting the CA at `ca_path`.
pub fn tls_connector(ca_path: &Path) -> MakeRustlsConnect {
    MakeRustlsConnect::new(certs::client_config(ca_path))
}

/// Connect with a full config string and a given TLS connector.
pub async fn try_connect_tls_with(
    config: &str,
    tls: MakeRustlsConnect,
) -> Result<(Client, ConnHandle), tokio_postgres::Error> {
    let fut = tokio_postgres::connect(config, tls);
    let (client, conn) = tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            panic!("TLS connect({config}) did not finish within {CONNECT_TIMEOUT:?}")
        })?;
    Ok((client, spawn_connection(conn)))
}

/// TLS connect (sslmode=require, host=localhost, CA-verified) to 127.0.0.1:port.
pub async fn try_connect_tls(
    port: u16,
    user: &str,
    password: &str,
    dbname: &str,
    ca_path: &Path,
) -> Result<Client, tokio_postgres::Error> {
    try_connect_tls_with(
        &tls_connstr(port, user, password, dbname),
        tls_connector(ca_path),
    )
    .await
    .map(|(c, _)| c)
}

/// TLS connect; panics on failure.
pub async fn connect_tls(
    port: u16,
    user: &str,
    password: &str,
    dbname: &str,
    ca_path: &Path,
) -> Client {
    try_connect_tls(port, user, password, dbname, ca_path)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "TLS connect to port {port} as {user} failed: {}",
                describe_error(&e)
            )
        })
}

/// SQLSTATE of a tokio-postgres error, if the server sent one.
pub fn sqlstate(err: &tokio_postgres::Error) -> Option<String> {
    err.code().map(|c| c.code().to_string())
}

/// A one-line description including SQLSTATE/message/source chain.
pub fn describe_error(err: &tokio_postgres::Error) -> String {
    let mut s = err.to_string();
    if let Some(db) = err.as_db_error() {
        s.push_str(&format!(
            " [{} {}: {}]",
            db.severity(),
            db.code().code(),
            db.message()
        ));
    }
    let mut src = std::error::Error::source(err);
    while let Some(e) = src {
        s.push_str(&format!(" <- {e}"));
        src = e.source();
    }
    s
}

/// libpq environment for a TCP connection to 127.0.0.1:port.
/// `PGSSLMODE=disable` by default; override by setting it again on the Command.
pub fn libpq_env(port: u16, user: &str, password: &str, dbname: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("PGHOST".to_string(), "127.0.0.1".to_string()),
        ("PGPORT".to_string(), port.to_string()),
        ("PGUSER".to_string(), user.to_string()),
        ("PGDATABASE".to_string(), dbname.to_string()),
        ("PGSSLMODE".to_string(), "disable".to_string()),
        ("PGCONNECT_TIMEOUT".to_string(), "10".to_string()),
        ("PGAPPNAME".to_string(), "pgward-tests".to_string()),
    ];
    if !password.is_empty() {
        env.push(("PGPASSWORD".to_string(), password.to_string()));
    }
    env
}

/// A Command for a libpq tool (`psql`, `pgbench`, `pg_dump`, ...) with the
/// inherited PG* environment cleared and [`libpq_env`] applied. Add args
/// and `.env(...)` overrides (e.g. `PGSSLMODE`, `PGSSLROOTCERT`) as needed.
pub fn tool_command(tool: &str, port: u16, user: &str, password: &str, dbname: &str) -> Command {
    let mut cmd = Command::new(util::pg_program(tool));
    util::clear_pg_env(&mut cmd);
    cmd.env("LC_ALL", "C");
    for (k, v) in libpq_env(port, user, password, dbname) {
        cmd.env(k, v);
    }
    cmd
}

/// psql prefilled with `-X -w -v ON_ERROR_STOP=1` (add `-At` for bare output).
pub fn psql_command(port: u16, user: &str, password: &str, dbname: &str) -> Command {
    let mut cmd = tool_command("psql", port, user, password, dbname);
    cmd.arg("-X").arg("-w").arg("-v").arg("ON_ERROR_STOP=1");
    cmd
}

/// Run psql (see [`psql_command`]) with `args`; bounded by [`TOOL_TIMEOUT`].
pub fn psql(port: u16, user: &str, password: &str, dbname: &str, args: &[&str]) -> Output {
    psql_with_env(port, user, password, dbname, args, &[])
}

/// Like [`psql`] with extra/overriding environment variables.
pub fn psql_with_env(
    port: u16,
    user: &str,
    password: &str,
    dbname: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = psql_command(port, user, password, dbname);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    util::output_with_timeout(&mut cmd, TOOL_TIMEOUT)
}

/// Run pgbench with `args` (db name comes from PGDATABASE).
pub fn pgbench(port: u16, user: &str, password: &str, dbname: &str, args: &[&str]) -> Output {
    let mut cmd = tool_command("pgbench", port, user, password, dbname);
    cmd.args(args);
    util::output_with_timeout(&mut cmd, PGBENCH_TIMEOUT)
}

/// Run pg_dump with `args` (db name comes from PGDATABASE); dump on stdout
/// unless `-f` is given.
pub fn pg_dump(port: u16, user: &str, password: &str, dbname: &str, args: &[&str]) -> Output {
    let mut cmd = tool_command("pg_dump", port, user, password, dbname);
    cmd.arg("-w").args(args);
    util::output_with_timeout(&mut cmd, TOOL_TIMEOUT)
}

/// Assert a tool run succeeded; returns its stdout (lossy UTF-8).
#[track_caller]
pub fn assert_success(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}).\nstdout:\n{}\nstderr:\n{}",
        out.status,
        util::lossy(&out.stdout),
        util::lossy(&out.stderr)
    );
    util::lossy(&out.stdout)
}

/// Assert a tool run failed; returns its stderr (lossy UTF-8).
#[track_caller]
pub fn assert_failure(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} unexpectedly succeeded.\nstdout:\n{}\nstderr:\n{}",
        util::lossy(&out.stdout),
        util::lossy(&out.stderr)
    );
    util::lossy(&out.stderr)
}

/// A client whose connection's notices and notifications are handed over
/// on a channel (tokio-postgres delivers them only through `poll_message`).
pub async fn connect_with_messages(
    connstr: &str,
) -> (
    Client,
    tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::AsyncMessage>,
) {
    use futures_util::StreamExt;
    let (client, mut connection) = tokio_postgres::connect(connstr, NoTls)
        .await
        .expect("connect");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if tx.send(m).is_err() {
                break;
            }
        }
    });
    (client, rx)
}
