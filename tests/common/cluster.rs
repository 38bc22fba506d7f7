//! A throwaway PostgreSQL cluster per test (`PgCluster`).
//!
//! `initdb` runs once per machine into a template under `CARGO_TARGET_TMPDIR`;
//! each cluster is a `cp -a` of it in its own temp dir, started with
//! `pg_ctl -w` and torn down (`-m immediate`) on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::certs::TestCerts;
use super::clients;
use super::util;

/// Password of the `postgres` superuser (scram).
pub const SUPERUSER: &str = "postgres";
pub const SUPERUSER_PASSWORD: &str = "super-secret-pw";
/// `app`: LOGIN, scram-sha-256 password, owns database `app`.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app-secret-pw";
pub const APP_DB: &str = "app";
/// `trustuser`: LOGIN, no password, `trust` in pg_hba.
pub const TRUST_USER: &str = "trustuser";
/// `md5user`: LOGIN, password stored as md5, `md5` in pg_hba.
pub const MD5_USER: &str = "md5user";
pub const MD5_PASSWORD: &str = "md5-secret-pw";
/// `pwuser`: LOGIN, cleartext `password` method in pg_hba.
pub const PW_USER: &str = "pwuser";
pub const PW_PASSWORD: &str = "pw-secret-pw";

const TEMPLATE_VERSION: &str = "v2";
const START_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Knobs for [`PgCluster::start_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PgClusterOptions {
    /// Only `hostssl` TCP connections are accepted; `hostnossl` is rejected.
    pub require_tls: bool,
}

/// A running (or stopped) throwaway PostgreSQL cluster.
pub struct PgCluster {
    // Declared first so it is dropped (dir removed) after our Drop impl ran.
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    certs: TestCerts,
    options: PgClusterOptions,
    running: bool,
    start_duration: Duration,
}

impl PgCluster {
    /// Start a cluster with default options (scram over plain TCP or TLS).
    pub fn start() -> PgCluster {
        Self::start_with(PgClusterOptions::default())
    }

    /// Start a cluster with the given options.
    pub fn start_with(options: PgClusterOptions) -> PgCluster {
        Self::start_with_conf(options, &[])
    }

    /// Start a cluster, appending `extra_conf` lines to postgresql.conf.
    pub fn start_with_conf(options: PgClusterOptions, extra_conf: &[&str]) -> PgCluster {
        let t0 = Instant::now();
        let template = template_dir();

        let dir = util::scratch_dir("pgward-pg-");
        let data_dir = dir.path().join("data");
        let log_path = dir.path().join("postgres.log");
        util::copy_tree(&template, &data_dir);

        let certs = TestCerts::generate(&dir.path().join("certs"));

        let mut conf = format!(
            "\n# ---- pgward test harness ----\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{sock}'\n\
             password_encryption = 'scram-sha-256'\n\
             max_connections = 100\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             ssl = on\n\
             ssl_cert_file = '{cert}'\n\
             ssl_key_file = '{key}'\n\
             log_min_messages = warning\n",
            sock = dir.path().display(),
            cert = certs.cert_path().display(),
            key = certs.key_path().display(),
        );
        for line in extra_conf {
            conf.push_str(line);
            conf.push('\n');
        }
        append(&data_dir.join("postgresql.conf"), &conf);
        std::fs::write(data_dir.join("pg_hba.conf"), hba_conf(options)).expect("write pg_hba.conf");
        std::fs::write(&log_path, "").expect("create postgres log file");

        util::chown_to_pg_user(dir.path());
        util::set_mode(dir.path(), 0o700);
        util::set_mode(&data_dir, 0o700);

        let mut cluster = PgCluster {
            dir,
            data_dir,
            log_path,
            port: 0,
            certs,
            options,
            running: false,
            start_duration: Duration::ZERO,
        };

        // The free port may be taken between probe and bind by another
        // test process: retry with a new port on "address already in use".
        let mut attempt = 0;
        loop {
            attempt += 1;
            cluster.port = util::free_port();
            append(
                &cluster.data_dir.join("postgresql.conf"),
                &format!("port = {}\n", cluster.port),
            );
            match cluster.try_pg_ctl_start() {
                Ok(()) => break,
                Err(msg) => {
                    let log = cluster.log_contents();
                    let port_clash =
                        log.contains("Address already in use") || log.contains("could not bind");
                    if port_clash && attempt < 5 {
                        continue;
                    }
                    panic!(
                        "pg_ctl start failed (attempt {attempt}, port {}): {msg}\n\
                         ---- server log {} ----\n{log}",
                        cluster.port,
                        cluster.log_path.display()
                    );
                }
            }
        }
        cluster.running = true;
        cluster.start_duration = t0.elapsed();
        cluster
    }

    /// Start a cluster that only accepts TLS over TCP.
    pub fn start_tls_only() -> PgCluster {
        Self::start_with(PgClusterOptions { require_tls: true })
    }

    fn try_pg_ctl_start(&self) -> Result<(), String> {
        let mut cmd = util::server_command("pg_ctl");
        cmd.current_dir(self.dir.path())
            .arg("-w")
            .arg("-t")
            .arg(START_TIMEOUT.as_secs().to_string())
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_path)
            .arg("start");
        let out = util::output_with_timeout(&mut cmd, START_TIMEOUT + Duration::from_secs(30));
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} ({}): {}{}",
                util::describe(&cmd),
                out.status,
                util::lossy(&out.stdout),
                util::lossy(&out.stderr)
            ))
        }
    }

    fn pg_ctl_stop(&self, mode: &str) -> Output {
        let mut cmd = util::server_command("pg_ctl");
        cmd.current_dir(self.dir.path())
            .arg("-w")
            .arg("-t")
            .arg(STOP_TIMEOUT.as_secs().to_string())
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-m")
            .arg(mode)
            .arg("stop");
        util::output_with_timeout(&mut cmd, STOP_TIMEOUT + Duration::from_secs(30))
    }

    /// psql as the superuser over the unix socket (trust), no statements yet.
    pub fn admin_psql_command(&self, dbname: &str) -> Command {
        admin_psql_command(self.socket_dir(), self.port, dbname)
    }

    /// Run SQL as the superuser in `dbname` (psql -At -c); panics on error,
    /// returns stdout with trailing whitespace trimmed.
    pub fn admin_sql(&self, dbname: &str, sql: &str) -> String {
        let mut cmd = self.admin_psql_command(dbname);
        cmd.arg("-At").arg("-c").arg(sql);
        let out = util::run_ok(&mut cmd, Duration::from_secs(120));
        util::lossy(&out.stdout).trim_end().to_string()
    }

    /// Run psql as the superuser over the unix socket with arbitrary args.
    pub fn admin_psql(&self, dbname: &str, args: &[&str]) -> Output {
        let mut cmd = self.admin_psql_command(dbname);
        cmd.args(args);
        util::output_with_timeout(&mut cmd, Duration::from_secs(120))
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    /// `127.0.0.1:<port>`, handy for `--upstream`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    /// CA certificate that signed the server certificate.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.certs.ca_path()
    }
    /// The CA/server certs of this cluster (reusable, e.g. for pgward's own TLS).
    pub fn certs(&self) -> &TestCerts {
        &self.certs
    }
    pub fn options(&self) -> PgClusterOptions {
        self.options
    }
    pub fn is_running(&self) -> bool {
        self.running
    }
    /// Wall time `start*()` took (copy + certs + pg_ctl start + roles).
    pub fn start_duration(&self) -> Duration {
        self.start_duration
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// Contents of the server log (empty string if unreadable).
    pub fn log_contents(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| util::lossy(&b))
            .unwrap_or_default()
    }

    /// tokio-postgres config string for a TCP connection to this cluster.
    pub fn connstr(&self, user: &str, password: &str, dbname: &str) -> String {
        clients::connstr(self.port, user, password, dbname)
    }
    /// tokio-postgres config string: superuser over the unix socket (trust).
    pub fn admin_connstr(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={dbname}",
            self.socket_dir().display(),
            self.port
        )
    }
    /// libpq env vars (PGHOST/PGPORT/...) for a TCP connection to this cluster.
    pub fn libpq_env(&self, user: &str, password: &str, dbname: &str) -> Vec<(String, String)> {
        clients::libpq_env(self.port, user, password, dbname)
    }
    /// psql over TCP to this cluster (see [`clients::psql`]).
    pub fn psql(&self, user: &str, password: &str, dbname: &str, args: &[&str]) -> Output {
        clients::psql(self.port, user, password, dbname, args)
    }

    /// Append lines to postgresql.conf (takes effect on reload/restart).
    pub fn append_conf(&self, lines: &str) {
        append(
            &self.data_dir.join("postgresql.conf"),
            &format!("{lines}\n"),
        );
    }

    /// `pg_ctl reload` (re-reads postgresql.conf and pg_hba.conf).
    pub fn reload(&self) {
        let mut cmd = util::server_command("pg_ctl");
        cmd.current_dir(self.dir.path())
            .arg("-D")
            .arg(&self.data_dir)
            .arg("reload");
        util::run_ok(&mut cmd, Duration::from_secs(30));
    }

    /// `pg_ctl stop -m fast`: the server goes away (for failure tests).
    pub fn stop_fast(&mut self) {
        if !self.running {
            return;
        }
        let out = self.pg_ctl_stop("fast");
        assert!(
            out.status.success(),
            "pg_ctl stop -m fast failed: {}{}\n---- server log ----\n{}",
            util::lossy(&out.stdout),
            util::lossy(&out.stderr),
            self.log_contents()
        );
        self.running = false;
    }

    /// Stop (fast) if running, then start again on the same port.
    pub fn restart(&mut self) {
        self.stop_fast();
        if let Err(msg) = self.try_pg_ctl_start() {
            panic!(
                "pg_ctl restart on port {} failed: {msg}\n---- server log ----\n{}",
                self.port,
                self.log_contents()
            );
        }
        self.running = true;
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            // Never panic here: we may already be unwinding.
            let mut cmd = util::server_command("pg_ctl");
            cmd.current_dir(self.dir.path())
                .arg("-w")
                .arg("-t")
                .arg("30")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-m")
                .arg("immediate")
                .arg("stop")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let _ = cmd.status();
            self.running = false;
        }
        // TempDir removes the directory when `self.dir` is dropped.
    }
}

fn admin_psql_command(socket_dir: &Path, port: u16, dbname: &str) -> Command {
    let mut cmd = Command::new(util::pg_program("psql"));
    util::clear_pg_env(&mut cmd);
    cmd.arg("-X")
        .arg("-w")
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-h")
        .arg(socket_dir)
        .arg("-p")
        .arg(port.to_string())
        .arg("-U")
        .arg(SUPERUSER)
        .arg("-d")
        .arg(dbname);
    cmd
}

/// Roles and the `app` database, created once in the template.
fn bootstrap_roles(socket_dir: &Path, port: u16) {
    let statements = [
        format!("CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'"),
        format!("CREATE ROLE {TRUST_USER} LOGIN"),
        "SET password_encryption = 'md5'".to_string(),
        format!("CREATE ROLE {MD5_USER} LOGIN PASSWORD '{MD5_PASSWORD}'"),
        "RESET password_encryption".to_string(),
        format!("CREATE ROLE {PW_USER} LOGIN PASSWORD '{PW_PASSWORD}'"),
        format!("CREATE DATABASE {APP_DB} OWNER {APP_USER}"),
    ];
    let mut cmd = admin_psql_command(socket_dir, port, "postgres");
    cmd.arg("-q");
    for s in &statements {
        cmd.arg("-c").arg(s);
    }
    util::run_ok(&mut cmd, Duration::from_secs(60));
}

fn hba_conf(options: PgClusterOptions) -> String {
    let host = if options.require_tls {
        "hostssl"
    } else {
        "host"
    };
    let mut s = String::from("# pgward test harness\n");
    s.push_str("local all all trust\n");
    s.push_str(&format!("{host} all {TRUST_USER} 127.0.0.1/32 trust\n"));
    s.push_str(&format!("{host} all {MD5_USER} 127.0.0.1/32 md5\n"));
    s.push_str(&format!("{host} all {PW_USER} 127.0.0.1/32 password\n"));
    if options.require_tls {
        s.push_str("hostssl all all 127.0.0.1/32 scram-sha-256\n");
        s.push_str("hostnossl all all 127.0.0.1/32 reject\n");
    } else {
        s.push_str("host all all 127.0.0.1/32 scram-sha-256\n");
    }
    s
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {} for append: {e}", path.display()));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
}

/// The initdb'd template data directory (created once per machine).
pub fn template_dir() -> PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(build_or_reuse_template).clone()
}

fn build_or_reuse_template() -> PathBuf {
    let major = util::pg_major_version();
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).expect("create CARGO_TARGET_TMPDIR");
    let name = format!("pg-template-{major}-{TEMPLATE_VERSION}");
    let final_dir = base.join(&name);
    if final_dir.join("PG_VERSION").is_file() {
        return final_dir;
    }

    // initdb as the postgres user into a scratch dir it owns (under /tmp,
    // which it can always traverse), then stage a copy next to the final
    // location and rename it into place atomically.
    let scratch = util::scratch_dir("pgward-initdb-");
    let pwfile = scratch.path().join("pwfile");
    std::fs::write(&pwfile, format!("{SUPERUSER_PASSWORD}\n")).expect("write initdb pwfile");
    util::set_mode(&pwfile, 0o600);
    let data = scratch.path().join("data");
    util::chown_to_pg_user(scratch.path());

    let mut cmd = util::server_command("initdb");
    cmd.current_dir(scratch.path())
        .arg("-D")
        .arg(&data)
        .arg("--auth=scram-sha-256")
        .arg(format!("--username={SUPERUSER}"))
        .arg(format!("--pwfile={}", pwfile.display()))
        .arg("-E")
        .arg("UTF8")
        .arg("--locale=C")
        .arg("--no-sync")
        .arg("--no-instructions")
        .arg("--wal-segsize=1");
    util::run_ok(&mut cmd, Duration::from_secs(300));

    // Bake roles and the app database into the template: start it once on
    // a unix socket only (private dir, so the port number cannot clash),
    // run the bootstrap SQL, stop cleanly.
    std::fs::write(data.join("pg_hba.conf"), "local all all trust\n").expect("write hba");
    util::chown_to_pg_user(scratch.path());
    let socket_dir = scratch.path();
    let port: u16 = 5432;
    let log = scratch.path().join("bootstrap.log");
    let mut cmd = util::server_command("pg_ctl");
    cmd.current_dir(scratch.path())
        .arg("-w")
        .arg("-t")
        .arg(START_TIMEOUT.as_secs().to_string())
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .arg("-o")
        .arg(format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c port={port} -c fsync=off",
            socket_dir.display()
        ))
        .arg("start");
    let out = util::output_with_timeout(&mut cmd, START_TIMEOUT + Duration::from_secs(30));
    assert!(
        out.status.success(),
        "template pg_ctl start failed: {}{}\n---- log ----\n{}",
        util::lossy(&out.stdout),
        util::lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    bootstrap_roles(socket_dir, port);
    let mut cmd = util::server_command("pg_ctl");
    cmd.current_dir(scratch.path())
        .arg("-w")
        .arg("-t")
        .arg(STOP_TIMEOUT.as_secs().to_string())
        .arg("-D")
        .arg(&data)
        .arg("-m")
        .arg("fast")
        .arg("stop");
    util::run_ok(&mut cmd, STOP_TIMEOUT + Duration::from_secs(30));

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let staging = base.join(format!(
        "{name}.staging-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    util::copy_tree(&data, &staging);
    match std::fs::rename(&staging, &final_dir) {
        Ok(()) => final_dir,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            assert!(
                final_dir.join("PG_VERSION").is_file(),
                "rename {} -> {} failed ({e}) and no template exists there",
                staging.display(),
                final_dir.display()
            );
            final_dir
        }
    }
}
