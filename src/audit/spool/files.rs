//! The spool's files: their names, recovering a segment a crash cut
//! short, and writing a small file so that a crash leaves the old one or
//! the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

pub(super) fn segment_name(seq: u64) -> String {
    format!("spool-{seq:020}.jsonl")
}

pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("spool-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

pub(super) fn cursor_name(sink: &str) -> String {
    format!("cursor-{sink}.json")
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Counts complete lines and, if the file ends in a partial line (a crash
/// mid-append), cuts it off. Returns (length after the cut, lines, torn).
pub(super) fn recover_segment(path: &Path) -> io::Result<(u64, u64, bool)> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = 0u64;
    let mut total = 0u64;
    let mut last_newline_end = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                lines += 1;
                last_newline_end = total + i as u64 + 1;
            }
        }
        total += n as u64;
    }
    let torn = last_newline_end < total;
    if torn {
        f.set_len(last_newline_end)?;
        f.sync_all()?;
    }
    Ok((last_newline_end, lines, torn))
}

/// Complete lines in `path` between byte offsets `from` and `to`.
pub(super) fn count_lines_from(path: &Path, from: u64, to: u64) -> io::Result<u64> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut r = f.take(to.saturating_sub(from));
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

pub(super) fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        // A full disk must not keep a half-written temporary file.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}
