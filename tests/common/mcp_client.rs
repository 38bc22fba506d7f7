//! The official MCP Python SDK as the test client: `scripts/mcp-client.py`
//! run in a virtualenv with `scripts/requirements-mcp.txt` installed.
//!
//! `scripts/test.sh` builds the venv and sets `PGWARD_TEST_PYTHON`; without
//! it the first test that needs one builds `target/tmp/mcp-venv` itself.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::util;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The Python interpreter that has the `mcp` package.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PGWARD_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let mut slot = VENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = slot.as_ref() {
        return p.clone();
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcp-venv");
    let py = venv.join("bin/python");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-c", "import mcp"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        let out = util::output_with_timeout(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            Duration::from_secs(120),
        );
        assert!(out.status.success(), "python3 -m venv: {out:?}");
        let out = util::output_with_timeout(
            Command::new(&py)
                .args(["-m", "pip", "install", "-q", "-r"])
                .arg(Path::new(ROOT).join("scripts/requirements-mcp.txt")),
            Duration::from_secs(600),
        );
        assert!(out.status.success(), "pip install: {out:?}");
    }
    *slot = Some(py.clone());
    py
}

/// How the client reaches the server.
pub enum Target<'a> {
    /// `pgward <args>` as a child process, with these environment variables.
    Stdio {
        args: Vec<String>,
        env: Vec<(&'a str, String)>,
    },
    /// A Streamable HTTP endpoint, with an optional bearer token.
    Http { url: String, token: Option<String> },
}

/// Runs `calls` (tool name, arguments) in one MCP session and returns the
/// transcript: `server_info`, `tools`, `calls[i].{is_error,text,structured}`,
/// or `connect_error` if the session could not be set up.
pub fn run(target: &Target<'_>, calls: &[(&str, Value)]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("calls.json");
    let calls: Vec<Value> = calls
        .iter()
        .map(|(t, a)| Value::Array(vec![Value::String((*t).to_owned()), a.clone()]))
        .collect();
    std::fs::write(&script, serde_json::json!({ "calls": calls }).to_string()).expect("write");
    let mut cmd = Command::new(python());
    cmd.arg(Path::new(ROOT).join("scripts/mcp-client.py"));
    match target {
        Target::Stdio { args, env } => {
            cmd.arg("--stdio").arg("--").arg(super::proxy::PGWARD_BIN);
            cmd.args(args);
            for (k, v) in env {
                cmd.env(k, v);
            }
        }
        Target::Http { url, token } => {
            cmd.args(["--http", url]);
            if let Some(t) = token {
                cmd.args(["--token", t]);
            }
        }
    }
    cmd.arg("script").arg(&script);
    let out = util::output_with_timeout(&mut cmd, Duration::from_secs(180));
    let stdout = util::lossy(&out.stdout);
    let stderr = util::lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mcp-client failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("transcript is not JSON ({e}): {stdout}\nstderr: {stderr}"))
}

/// The names in a transcript's tool list.
pub fn tool_names(t: &Value) -> Vec<String> {
    t["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
