//! The pgward process under test (`Pgward`).
//!
//! Contract: `pgward serve --listen 127.0.0.1:0 --upstream ...` prints one
//! line `pgward listening on 127.0.0.1:<port>` on stdout once bound; logs
//! go to stderr (captured into a file here).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clients;
use super::util;

/// Path of the pgward binary built by cargo for this test run.
pub const PGWARD_BIN: &str = env!("CARGO_BIN_EXE_pgward");
/// Prefix of the readiness line on stdout.
pub const LISTEN_LINE_PREFIX: &str = "pgward listening on ";
/// Upper bound on waiting for the readiness line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// True when the suites run in governed test mode (see
/// [`PgwardBuilder`]'s `apply_test_mode`).
pub fn governed() -> bool {
    std::env::var("PGWARD_TEST_MODE").is_ok_and(|m| m == "governed")
}

/// The policy of governed test mode: everything allowed, everything
/// analyzed and stamped, unparseable text refused, results followed for a
/// mask on a table the suites never create.
pub const GOVERNED_POLICY: &str = r#"
version: 1
default_profile: governed
profiles:
  governed:
    description: every effect allowed; analyzed, stamped, audited, results followed for masking
    allow: all
    on_unparseable: deny
masks:
  - name: governed-sentinel
    columns: ["pgward_governed.sentinel.secret"]
    function: redact
"#;

/// Builder for a pgward `serve` process.
pub struct PgwardBuilder {
    dir: tempfile::TempDir,
    listen: Option<String>,
    upstream: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Apply the suite's test mode (governed or not) to this process.
    test_mode: bool,
}

impl Default for PgwardBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PgwardBuilder {
    /// `--listen 127.0.0.1:0`, no upstream, no extra args.
    pub fn new() -> PgwardBuilder {
        PgwardBuilder {
            dir: tempfile::Builder::new()
                .prefix("pgward-proxy-")
                .tempdir()
                .expect("create pgward temp dir"),
            listen: Some("127.0.0.1:0".to_string()),
            upstream: None,
            args: Vec::new(),
            env: Vec::new(),
            test_mode: true,
        }
    }

    /// `--upstream 127.0.0.1:<port>`.
    pub fn upstream_port(mut self, port: u16) -> Self {
        self.upstream = Some(format!("127.0.0.1:{port}"));
        self
    }

    /// `--upstream <addr>` verbatim (e.g. `localhost:5432`).
    pub fn upstream(mut self, addr: &str) -> Self {
        self.upstream = Some(addr.to_string());
        self
    }

    /// Override the `--listen` value, or drop the flag with `None`
    /// (e.g. when the config file sets it).
    pub fn listen(mut self, addr: Option<&str>) -> Self {
        self.listen = addr.map(str::to_string);
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Write a file into this proxy's temp dir and return its absolute path
    /// (for policy files, certs, ...). The dir lives as long as the `Pgward`.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Write `yaml` to `pgward.yaml` in the temp dir and pass `--config <file>`.
    pub fn config_yaml(self, yaml: &str) -> Self {
        let path = self.write_file("pgward.yaml", yaml);
        self.arg("--config").arg(path.display().to_string())
    }

    /// Start exactly as configured, whatever the suite's test mode (for
    /// tests that compare both modes themselves).
    pub fn exactly_as_given(mut self) -> Self {
        self.test_mode = false;
        self
    }

    /// The temp dir files are written to.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The full argument list that will be passed to the binary.
    pub fn command_args(&self) -> Vec<String> {
        let mut v = vec!["serve".to_string()];
        if let Some(l) = &self.listen {
            v.push("--listen".into());
            v.push(l.clone());
        }
        if let Some(u) = &self.upstream {
            v.push("--upstream".into());
            v.push(u.clone());
        }
        v.extend(self.args.iter().cloned());
        v
    }

    /// Governed test mode (`PGWARD_TEST_MODE=governed`): a pgward the test
    /// did not give a policy or configuration file of its own runs with
    /// governance on: a profile that allows every effect but analyzes every
    /// statement, refuses what it cannot analyze, stamps, follows results
    /// for a mask (on a table the tests do not use) and writes an audit
    /// spool. Transparency suites must pass in both modes.
    fn apply_test_mode(self) -> Self {
        if !self.test_mode
            || !governed()
            || self
                .args
                .iter()
                .any(|a| a == "--policy" || a == "--config" || a == "--audit-spool")
        {
            return self;
        }
        self.governed_mode()
    }

    /// The settings of governed test mode, whatever the suite's mode.
    pub fn governed_mode(mut self) -> Self {
        self.test_mode = false;
        let policy = self.write_file("governed-policy.yaml", GOVERNED_POLICY);
        let spool = self.dir.path().join("governed-spool");
        self.args.extend([
            "--policy".to_string(),
            policy.display().to_string(),
            "--audit-spool".to_string(),
            spool.display().to_string(),
            "--catalog-user".to_string(),
            super::cluster::SUPERUSER.to_string(),
            "--catalog-password-env".to_string(),
            "PGWARD_TEST_CATALOG_PASSWORD".to_string(),
        ]);
        self.env(
            "PGWARD_TEST_CATALOG_PASSWORD",
            super::cluster::SUPERUSER_PASSWORD,
        )
    }

    /// Spawn and wait for the readiness line; Err(stderr log etc.) if the
    /// process exits or stays silent for [`READY_TIMEOUT`].
    pub fn try_start(self) -> Result<Pgward, String> {
        let this = self.apply_test_mode();
        this.spawn_now()
    }

    fn spawn_now(self) -> Result<Pgward, String> {
        let mut cmd = Command::new(PGWARD_BIN);
        cmd.args(self.command_args());
        cmd.env("RUST_BACKTRACE", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Pgward::spawn(cmd, self.dir)
    }

    /// Spawn and wait for readiness; panics with the log on failure.
    pub fn start(self) -> Pgward {
        let this = self.apply_test_mode();
        let args = this.command_args();
        this.spawn_now()
            .unwrap_or_else(|e| panic!("pgward {} failed to start: {e}", args.join(" ")))
    }
}

/// A running pgward process; killed on drop.
pub struct Pgward {
    child: Child,
    addr: SocketAddr,
    stderr_path: PathBuf,
    stdout_rest: Arc<Mutex<String>>,
    stdout_eof: mpsc::Receiver<()>,
    exit_status: Option<ExitStatus>,
    // Last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Pgward {
    /// `pgward serve --listen 127.0.0.1:0 --upstream 127.0.0.1:<port> <extra_args>`.
    pub fn start(upstream_port: u16, extra_args: Vec<String>) -> Pgward {
        PgwardBuilder::new()
            .upstream_port(upstream_port)
            .args(extra_args)
            .start()
    }

    /// Like [`Pgward::start`] but returns Err(diagnostics) instead of panicking.
    pub fn try_start(upstream_port: u16, extra_args: Vec<String>) -> Result<Pgward, String> {
        PgwardBuilder::new()
            .upstream_port(upstream_port)
            .args(extra_args)
            .try_start()
    }

    /// Builder for anything more specific.
    pub fn builder() -> PgwardBuilder {
        PgwardBuilder::new()
    }

    /// Spawn an arbitrary command honouring the readiness-line contract
    /// (stdout piped, stderr to `<dir>/stderr.log`). Used by the builder,
    /// and by harness self-tests with a fake program.
    pub fn spawn(mut cmd: Command, dir: tempfile::TempDir) -> Result<Pgward, String> {
        let stderr_path = dir.path().join("stderr.log");
        let stderr_file = std::fs::File::create(&stderr_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", stderr_path.display()));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file));
        let what = util::describe(&cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `{what}`: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");

        // Reader thread: first line goes through the channel, the rest is
        // drained (so the child never blocks on a full pipe) into a buffer.
        let rest = Arc::new(Mutex::new(String::new()));
        let rest_writer = Arc::clone(&rest);
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        let (eof_tx, eof_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            // Dropping eof_tx (on any return) tells `wait_stdout_eof` we are done.
            let _eof_tx = eof_tx;
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            match reader.read_line(&mut first) {
                Ok(0) => {
                    let _ = tx.send(Err("stdout closed before the readiness line".into()));
                    return;
                }
                Ok(_) => {
                    let _ = tx.send(Ok(first));
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("reading stdout: {e}")));
                    return;
                }
            }
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => rest_writer
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_str(&line),
                }
            }
        });

        let outcome = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => parse_listen_line(&line),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no readiness line within {READY_TIMEOUT:?}")),
        };
        match outcome {
            Ok(addr) => Ok(Pgward {
                child,
                addr,
                stderr_path,
                stdout_rest: rest,
                stdout_eof: eof_rx,
                exit_status: None,
                dir,
            }),
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let log = std::fs::read(&stderr_path)
                    .map(|b| util::lossy(&b))
                    .unwrap_or_default();
                Err(format!(
                    "{e}\ncommand: {what}\nexit: {status}\n---- stderr ----\n{log}"
                ))
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// tokio-postgres config string for a plain connection through the proxy.
    pub fn connstr(&self, user: &str, password: &str, dbname: &str) -> String {
        clients::connstr(self.port(), user, password, dbname)
    }

    /// Everything written to stderr so far (the logs).
    pub fn log_contents(&self) -> String {
        std::fs::read(&self.stderr_path)
            .map(|b| util::lossy(&b))
            .unwrap_or_default()
    }

    /// Stdout written after the readiness line so far.
    pub fn stdout_contents(&self) -> String {
        self.stdout_rest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait up to `timeout` until stdout reached EOF (all output captured,
    /// e.g. after the process exited). True if it did.
    pub fn wait_stdout_eof(&self, timeout: Duration) -> bool {
        matches!(
            self.stdout_eof.recv_timeout(timeout),
            Err(mpsc::RecvTimeoutError::Disconnected)
        )
    }

    /// Send a signal by name (`TERM`, `INT`, `HUP`, ...) via `kill`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            let _ = self.child.kill();
            self.exit_status = self.child.wait().ok();
        }
        self.exit_status
    }

    /// Non-blocking: has it exited?
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            self.exit_status = self.child.try_wait().ok().flatten();
        }
        self.exit_status
    }

    /// Wait up to `timeout` for the process to exit (bounded polling).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit_status() {
                return Some(s);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
        }
    }
}

impl Drop for Pgward {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Parse `pgward listening on 127.0.0.1:<port>`.
pub fn parse_listen_line(line: &str) -> Result<SocketAddr, String> {
    let trimmed = line.trim();
    trimmed
        .strip_prefix(LISTEN_LINE_PREFIX)
        .ok_or_else(|| format!("unexpected first stdout line {trimmed:?}"))?
        .trim()
        .parse()
        .map_err(|e| format!("bad address in {trimmed:?}: {e}"))
}

/// Run pgward with arbitrary args (e.g. `--help`, a config check) to
/// completion, bounded by `timeout`.
pub fn run_pgward(args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new(PGWARD_BIN);
    cmd.args(args);
    util::output_with_timeout(&mut cmd, timeout)
}
