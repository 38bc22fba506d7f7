//! Process and filesystem helpers shared by the harness modules.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

/// The OS user the PostgreSQL server runs as when the tests run as root.
pub const PG_OS_USER: &str = "postgres";

/// True when the effective uid of this process is 0 (read from /proc/self/status).
pub fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for line in status.lines() {
                if let Some(rest) = line.strip_prefix("Uid:") {
                    // Fields: real, effective, saved, filesystem.
                    let effective = rest.split_whitespace().nth(1).unwrap_or("");
                    return effective == "0";
                }
            }
        }
        let out = Command::new("id")
            .arg("-u")
            .output()
            .expect("run `id -u` to find out whether we are root");
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    })
}

/// Directory holding the PostgreSQL server binaries, if one could be found.
///
/// Order: `$PG_BIN`, newest `/usr/lib/postgresql/*/bin` containing `initdb`,
/// `pg_config --bindir`; `None` means "rely on PATH".
pub fn pg_bin_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
            let mut best: Option<(Vec<u64>, PathBuf)> = None;
            for entry in entries.flatten() {
                let bin = entry.path().join("bin");
                if !bin.join("initdb").is_file() {
                    continue;
                }
                let version: Vec<u64> = entry
                    .file_name()
                    .to_string_lossy()
                    .split('.')
                    .map(|p| p.parse().unwrap_or(0))
                    .collect();
                if best.as_ref().is_none_or(|(v, _)| version > *v) {
                    best = Some((version, bin));
                }
            }
            if let Some((_, bin)) = best {
                return Some(bin);
            }
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                if dir.join("initdb").is_file() || dir.join("psql").is_file() {
                    return Some(dir);
                }
            }
        }
        None
    })
    .clone()
}

/// Path (or bare name, to be looked up in PATH) of a PostgreSQL program.
pub fn pg_program(name: &str) -> PathBuf {
    match pg_bin_dir() {
        Some(dir) if dir.join(name).is_file() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// Major version of the PostgreSQL server binaries (from `postgres --version`).
pub fn pg_major_version() -> u32 {
    static MAJOR: OnceLock<u32> = OnceLock::new();
    *MAJOR.get_or_init(|| {
        let prog = pg_program("postgres");
        let out = Command::new(&prog)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{} --version`: {e}", prog.display()));
        let text = String::from_utf8_lossy(&out.stdout);
        // "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
        text.split_whitespace()
            .find_map(|w| w.split('.').next().and_then(|m| m.parse::<u32>().ok()))
            .unwrap_or_else(|| panic!("cannot parse PostgreSQL version from {text:?}"))
    })
}

/// Remove every `PG*` variable inherited from the environment so the
/// caller's settings (PGHOST, PGSSLMODE, PGOPTIONS, ...) never leak in.
pub fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("PG") && k != "PG_BIN" {
            cmd.env_remove(&key);
        }
    }
}

/// A command for a server-side PostgreSQL program (initdb, pg_ctl, postgres):
/// run as the `postgres` OS user via `runuser` when we are root.
pub fn server_command(program: &str) -> Command {
    let prog = pg_program(program);
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg(PG_OS_USER).arg("--").arg(prog);
        c
    } else {
        Command::new(prog)
    };
    clear_pg_env(&mut cmd);
    cmd.env("LC_ALL", "C").stdin(Stdio::null());
    cmd
}

/// `chown -R postgres:postgres path` when root; no-op otherwise.
pub fn chown_to_pg_user(path: &Path) {
    if !running_as_root() {
        return;
    }
    let out = Command::new("chown")
        .arg("-R")
        .arg(format!("{PG_OS_USER}:{PG_OS_USER}"))
        .arg(path)
        .output()
        .expect("run chown");
    assert!(
        out.status.success(),
        "chown -R {PG_OS_USER} {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Set unix permission bits on a path.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Base directory for scratch dirs the postgres user must traverse:
/// `/tmp` (short paths keep unix socket names under the 107-byte limit).
pub fn scratch_base() -> PathBuf {
    let tmp = PathBuf::from("/tmp");
    if tmp.is_dir() {
        tmp
    } else {
        std::env::temp_dir()
    }
}

/// A new scratch directory under [`scratch_base`].
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(scratch_base())
        .expect("create scratch temp dir")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of probe listener")
        .port()
}

/// Render a command line for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run a command to completion and return its output, killing it (and
/// panicking) if it has not exited within `timeout`. stdin is /dev/null.
pub fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let what = describe(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn `{what}`: {e}"));
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(timeout) {
        Ok(status) => {
            let status = status.unwrap_or_else(|e| panic!("wait for `{what}`: {e}"));
            Output {
                status,
                stdout: out_thread.join().unwrap_or_default(),
                stderr: err_thread.join().unwrap_or_default(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            let stdout = out_thread.join().unwrap_or_default();
            let stderr = err_thread.join().unwrap_or_default();
            panic!(
                "`{what}` did not finish within {timeout:?}; killed.\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
    }
}

/// Run a command that must succeed; panic with its output otherwise.
pub fn run_ok(cmd: &mut Command, timeout: Duration) -> Output {
    let what = describe(cmd);
    let out = output_with_timeout(cmd, timeout);
    assert!(
        out.status.success(),
        "`{what}` failed ({}).\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Lossy UTF-8 of a byte slice, as an owned String.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cp -a src dst` (dst must not exist).
pub fn copy_tree(src: &Path, dst: &Path) {
    let mut cmd = Command::new("cp");
    cmd.arg("-a").arg(src).arg(dst);
    run_ok(&mut cmd, Duration::from_secs(120));
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
/// For waiting on *server state* that has no event to wait for (a backend
/// becoming active); the limit is a failure bound, not a synchronisation delay.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
