//! `pgward audit tail`: the audit trail as a person reads it, from the
//! spool (`audit.spool_dir`, with the spools of `pgward mcp` processes
//! under it): one line per event, oldest first, and with `--follow` the new
//! ones as they are written. It only reads; shipping is untouched.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::time::SystemTime;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

/// Longest statement text shown on a line.
const TEXT_CHARS: usize = 120;

/// Every spool segment under `dir` (the directory itself and one level of
/// `mcp-<n>` directories), in write order within each directory.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut subs: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        subs.sort();
        dirs.extend(subs);
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut segs: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("spool-") && n.ends_with(".jsonl"))
            })
            .collect();
        segs.sort();
        out.extend(segs);
    }
    out
}

/// One event as a line: time, kind, user, profile, tool, branch, decision,
/// rule, SQLSTATE and the statement.
pub fn summary(ev: &Value) -> String {
    let a = &ev["attrs"];
    let s = |k: &str| a[k].as_str().unwrap_or("").to_owned();
    let ts = ev["ts"].as_u64().unwrap_or(0);
    let when = UNIX_EPOCH + Duration::from_nanos(ts);
    let mut line = format!(
        "{} {:<13}",
        humantime::format_rfc3339_millis(when),
        ev["kind"].as_str().unwrap_or("?")
    );
    for (label, key) in [
        ("user", "user.name"),
        ("profile", "pgward.profile"),
        ("tool", "pgward.tool"),
        ("branch", "pgward.branch"),
        ("decision", "pgward.decision"),
        ("rule", "security_rule.name"),
        ("sqlstate", "db.response.status_code"),
        ("auth", "pgward.auth.outcome"),
    ] {
        let v = s(key);
        if !v.is_empty() {
            let _ = write!(line, " {label}={v}");
        }
    }
    for (label, key) in [
        ("masked", "pgward.masked_columns"),
        ("row_filters", "pgward.row_filters"),
    ] {
        if let Some(list) = a[key].as_array() {
            let items: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            if !items.is_empty() {
                let _ = write!(line, " {label}={}", items.join(","));
            }
        }
    }
    if let Some(rows) = a["pgward.rows"].as_u64() {
        let _ = write!(line, " rows={rows}");
    }
    let text = s("db.query.text");
    if !text.is_empty() {
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let cut: String = flat.chars().take(TEXT_CHARS).collect();
        let more = if flat.chars().count() > TEXT_CHARS {
            "..."
        } else {
            ""
        };
        let _ = write!(line, " | {cut}{more}");
    }
    line
}

/// Prints the spool's events (`json`: as written), then, with `follow`, new
/// ones until the process is stopped.
pub fn run(
    dir: &Path,
    json: bool,
    follow: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut offsets: BTreeMap<PathBuf, u64> = BTreeMap::new();
    loop {
        for seg in segments(dir) {
            let start = offsets.get(&seg).copied().unwrap_or(0);
            let mut f = match File::open(&seg) {
                Ok(f) => f,
                Err(_) => continue, // deleted once shipped
            };
            f.seek(SeekFrom::Start(start))?;
            let mut r = BufReader::new(f);
            let mut pos = start;
            let mut line = String::new();
            loop {
                line.clear();
                let n = r.read_line(&mut line)?;
                // A line still being written is read on the next round.
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                pos += n as u64;
                let text = line.trim_end();
                if json {
                    writeln!(out, "{text}")?;
                } else if let Ok(ev) = serde_json::from_str::<Value>(text) {
                    writeln!(out, "{}", summary(&ev))?;
                }
            }
            offsets.insert(seg, pos);
        }
        out.flush()?;
        if !follow {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_nanos() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }

    #[test]
    fn reads_the_spool_and_its_mcp_spools_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ev = |kind: &str, tool: &str| {
            serde_json::json!({ "id": "x", "ts": now_nanos(), "kind": kind,
                "attrs": { "user.name": "ann", "pgward.tool": tool, "pgward.decision": "deny",
                           "db.query.text": "DROP   TABLE t" } })
            .to_string()
        };
        std::fs::write(
            dir.path().join("spool-00000000000000000001.jsonl"),
            format!("{}\n{}", ev("statement", "psql"), ev("torn", "x")),
        )
        .expect("write");
        std::fs::create_dir(dir.path().join("mcp-0")).expect("mkdir");
        std::fs::write(
            dir.path().join("mcp-0/spool-00000000000000000001.jsonl"),
            format!("{}\n", ev("statement", "mcp/query")),
        )
        .expect("write");
        let mut out = Vec::new();
        run(dir.path(), false, false, &mut out).expect("run");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("tool=psql decision=deny") && lines[0].ends_with("| DROP TABLE t")
        );
        assert!(lines[1].contains("tool=mcp/query"), "{text}");
    }
}
