//! The on-disk spool: append-only JSONL segments (`spool-<seq>.jsonl`) and
//! one cursor file per shipping sink (`cursor-<sink>.json`).
//!
//! Invariants that make crash recovery simple:
//! - Each start writes to a NEW segment, numbered above every segment and
//!   every cursor seen. An old segment is never appended to again, so a
//!   cursor that points past the end of a segment cut short by a crash can
//!   only mean "done with that segment", never "skip events written later".
//! - A segment is deleted only once every sink's cursor is past it (or, under
//!   `drop_oldest`, when the size bound forces it, counted as dropped).
//! - A cursor only moves after the sink acknowledged everything before it,
//!   so a restart re-sends at most what was acknowledged after the cursor
//!   file's last save (a quarter of a second of batches while busy; the
//!   shipper saves at once when it goes idle or stops) plus the batch
//!   unacknowledged when it stopped.
//!
//! All functions here do blocking file I/O; the async side calls them via
//! `spawn_blocking`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{watch, Notify};

use super::event::AuditEvent;
use super::stats::Counters;

/// Longest line a reader accepts; longer ones are skipped as corrupt so a
/// damaged file cannot make a shipper buffer without bound. Events are far
/// smaller (string attributes are capped when written).
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// A place in the spool: the byte offset within a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct SegMeta {
    bytes: u64,
    events: u64,
}

struct State {
    segments: BTreeMap<u64, SegMeta>,
    open_seq: u64,
    /// Per sink: acknowledged position (persisted in its cursor file; GC
    /// goes by this in-memory value, which may be ahead of the file when a
    /// save failed).
    cursors: BTreeMap<String, Pos>,
    /// Per sink: how far it has read into batches not yet acknowledged.
    /// Events before it are in a shipper's hands, not lost if their
    /// segment is dropped.
    taken: BTreeMap<String, Pos>,
    /// Segments dropped by `drop_oldest`, with the offset from which their
    /// events were counted as lost: a shipper that read them while they
    /// were being dropped must discard those, not deliver them.
    dropped_from: BTreeMap<u64, u64>,
}

impl State {
    fn total_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum()
    }

    /// The segment reading at `pos` continues in: `pos`'s own if it still
    /// exists, else the next one that does (it was deleted or never written).
    fn normalize(&self, pos: Pos) -> Pos {
        if self.segments.contains_key(&pos.segment) {
            return pos;
        }
        match self.segments.range(pos.segment..).next() {
            Some((&seq, _)) => Pos {
                segment: seq,
                offset: 0,
            },
            None => Pos {
                segment: self.open_seq,
                offset: 0,
            },
        }
    }
}

pub(crate) struct Spool {
    dir: PathBuf,
    state: Mutex<State>,
    /// End of the complete lines in the open segment, published after every
    /// write; shippers never read past it.
    end_tx: watch::Sender<Pos>,
    /// Fired when segments are deleted, for a writer waiting for room.
    pub space: Notify,
    counters: Arc<Counters>,
}

/// The open segment; owned by the writer task alone.
pub(crate) struct SegmentWriter {
    file: File,
    seq: u64,
    len: u64,
    /// Bytes written since the last fsync.
    pub dirty: bool,
}

fn segment_name(seq: u64) -> String {
    format!("spool-{seq:020}.jsonl")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("spool-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

fn cursor_name(sink: &str) -> String {
    format!("cursor-{sink}.json")
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Counts complete lines and, if the file ends in a partial line (a crash
/// mid-append), cuts it off. Returns (length after the cut, lines, torn).
fn recover_segment(path: &Path) -> io::Result<(u64, u64, bool)> {
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
fn count_lines_from(path: &Path, from: u64, to: u64) -> io::Result<u64> {
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

fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
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

/// What one read produced.
pub(crate) struct Batch {
    pub events: Vec<AuditEvent>,
    /// Where each event starts.
    pub at: Vec<Pos>,
    /// Where the next read starts; acknowledging it covers `events` and any
    /// skipped corrupt lines.
    pub next: Pos,
}

/// What dropping the oldest segment did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// A segment was deleted (space was freed).
    pub deleted: bool,
    /// Events in it that no shipper had taken: lost.
    pub lost: u64,
}

impl Spool {
    /// Opens (creating) the spool, recovers torn segments, loads the cursors
    /// of `sinks`, and starts a fresh segment for this run.
    pub fn open(
        dir: &Path,
        sinks: &[String],
        counters: Arc<Counters>,
    ) -> io::Result<(Arc<Spool>, SegmentWriter)> {
        fs::create_dir_all(dir)?;
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(seq) = name.to_str().and_then(parse_segment_name) else {
                continue;
            };
            let (bytes, events, torn) = recover_segment(&entry.path())?;
            if torn {
                counters.torn_lines.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    segment = seq,
                    "audit spool: cut an incomplete last line left by a crash"
                );
            }
            segments.insert(seq, SegMeta { bytes, events });
        }
        let mut cursors = BTreeMap::new();
        let oldest = segments.keys().next().copied();
        let mut highest = segments.keys().next_back().copied().unwrap_or(0);
        for sink in sinks {
            let pos = match fs::read(dir.join(cursor_name(sink))) {
                Ok(data) => serde_json::from_slice::<Pos>(&data).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("cursor for {sink}: {e}"),
                    )
                })?,
                // A sink with no cursor yet ships everything still spooled.
                Err(e) if e.kind() == io::ErrorKind::NotFound => Pos {
                    segment: oldest.unwrap_or(0),
                    offset: 0,
                },
                Err(e) => return Err(e),
            };
            highest = highest.max(pos.segment);
            cursors.insert(sink.clone(), pos);
        }
        let taken = cursors.clone();
        let open_seq = highest + 1;
        let path = dir.join(segment_name(open_seq));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        sync_dir(dir)?;
        segments.insert(open_seq, SegMeta::default());
        let (end_tx, _) = watch::channel(Pos {
            segment: open_seq,
            offset: 0,
        });
        let spool = Arc::new(Spool {
            dir: dir.to_path_buf(),
            state: Mutex::new(State {
                segments,
                open_seq,
                cursors,
                taken,
                dropped_from: BTreeMap::new(),
            }),
            end_tx,
            space: Notify::new(),
            counters,
        });
        spool.collect_garbage();
        let writer = SegmentWriter {
            file,
            seq: open_seq,
            len: 0,
            dirty: false,
        };
        Ok((spool, writer))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn subscribe_end(&self) -> watch::Receiver<Pos> {
        self.end_tx.subscribe()
    }

    pub fn end(&self) -> Pos {
        *self.end_tx.borrow()
    }

    pub fn total_bytes(&self) -> u64 {
        self.lock().total_bytes()
    }

    pub fn segment_count(&self) -> u64 {
        self.lock().segments.len() as u64
    }

    pub fn cursor(&self, sink: &str) -> Pos {
        let st = self.lock();
        let pos = st.cursors.get(sink).copied().unwrap_or_default();
        st.normalize(pos)
    }

    /// Appends complete lines. On a failed write the segment is cut back to
    /// its last complete line, so readers never see half an event; if even
    /// that fails, the writer moves to a new segment.
    #[cfg(test)]
    pub fn append(&self, w: &mut SegmentWriter, data: &[u8], events: u64) -> io::Result<()> {
        self.append_then(w, data, events, |_| {})
    }

    /// [`Spool::append`], calling `written` with where the data starts once
    /// it is in the file and before the new end is published: what `written`
    /// hands to the shippers is there before they learn the spool grew.
    pub fn append_then(
        &self,
        w: &mut SegmentWriter,
        data: &[u8],
        events: u64,
        written: impl FnOnce(Pos),
    ) -> io::Result<()> {
        let start = Pos {
            segment: w.seq,
            offset: w.len,
        };
        if let Err(e) = w.file.write_all(data) {
            if w.file.set_len(w.len).is_err() {
                self.rotate(w, false)?;
            }
            return Err(e);
        }
        w.len += data.len() as u64;
        w.dirty = true;
        {
            let mut st = self.lock();
            let meta = st.segments.entry(w.seq).or_default();
            meta.bytes = w.len;
            meta.events += events;
        }
        written(start);
        self.end_tx.send_replace(Pos {
            segment: w.seq,
            offset: w.len,
        });
        Ok(())
    }

    pub fn sync(&self, w: &mut SegmentWriter) -> io::Result<()> {
        if w.dirty {
            w.file.sync_data()?;
            w.dirty = false;
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether appending `extra` bytes would start a new segment first.
    pub fn needs_rotation(w: &SegmentWriter, extra: u64, segment_bytes: u64) -> bool {
        w.len > 0 && w.len + extra > segment_bytes
    }

    /// Closes the open segment (synced if `durable`) and opens the next.
    pub fn rotate(&self, w: &mut SegmentWriter, durable: bool) -> io::Result<()> {
        if durable {
            self.sync(w)?;
        }
        let seq = w.seq + 1;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(segment_name(seq)))?;
        if durable {
            sync_dir(&self.dir)?;
        }
        *w = SegmentWriter {
            file,
            seq,
            len: 0,
            dirty: false,
        };
        {
            let mut st = self.lock();
            st.segments.insert(seq, SegMeta::default());
            st.open_seq = seq;
        }
        self.end_tx.send_replace(Pos {
            segment: seq,
            offset: 0,
        });
        self.collect_garbage();
        Ok(())
    }

    pub fn open_segment_len(w: &SegmentWriter) -> u64 {
        w.len
    }

    /// Deletes the oldest closed segment to make room, whatever the cursors
    /// say. Its events that some shipper has not yet taken are lost and
    /// counted as such; the ones every shipper already holds in a batch (or
    /// has delivered) are not.
    pub fn drop_oldest_segment(&self) -> Dropped {
        let victim = {
            let mut st = self.lock();
            let open = st.open_seq;
            let Some((&seq, _)) = st.segments.iter().find(|(&s, _)| s != open) else {
                return Dropped::default();
            };
            let meta = st.segments.get(&seq).copied().unwrap_or_default();
            // The slowest shipper decides what is lost.
            let from = st
                .taken
                .values()
                .map(|t| {
                    if t.segment > seq {
                        meta.bytes
                    } else if t.segment == seq {
                        t.offset.min(meta.bytes)
                    } else {
                        0
                    }
                })
                .min()
                .unwrap_or(0);
            st.segments.remove(&seq);
            st.dropped_from.insert(seq, from);
            (seq, meta, from)
        };
        let (seq, meta, from) = victim;
        let path = self.dir.join(segment_name(seq));
        // Count the lines after `from` before the file goes.
        let lost = if from == 0 {
            meta.events
        } else if from >= meta.bytes {
            0
        } else {
            count_lines_from(&path, from, meta.bytes).unwrap_or(meta.events)
        };
        if let Err(e) = fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(segment = seq, error = %e, "audit spool: cannot delete dropped segment");
            }
        }
        tracing::warn!(
            segment = seq,
            events = lost,
            "audit spool full: dropped the oldest segment"
        );
        self.space.notify_waiters();
        Dropped {
            deleted: true,
            lost,
        }
    }

    /// Deletes closed segments every sink has moved past.
    pub fn collect_garbage(&self) {
        let doomed: Vec<u64> = {
            let mut st = self.lock();
            let open = st.open_seq;
            let floor = st
                .cursors
                .values()
                .map(|c| st.normalize(*c).segment)
                .min()
                .unwrap_or(open)
                .min(open);
            let doomed: Vec<u64> = st.segments.range(..floor).map(|(&s, _)| s).collect();
            for s in &doomed {
                st.segments.remove(s);
            }
            // No shipper reads before its taken position again.
            let read_floor = st.taken.values().map(|t| t.segment).min().unwrap_or(open);
            st.dropped_from.retain(|&s, _| s >= read_floor);
            doomed
        };
        for seq in &doomed {
            if let Err(e) = fs::remove_file(self.dir.join(segment_name(*seq))) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(segment = seq, error = %e, "audit spool: cannot delete shipped segment");
                }
            }
        }
        if !doomed.is_empty() {
            self.space.notify_waiters();
        }
    }

    /// Records `sink`'s acknowledged position, frees what it allows, then
    /// persists it. The in-memory position moves first: the events are
    /// delivered whether or not the cursor file can be written, and on a
    /// full disk deleting the segments behind it is what makes room for
    /// the cursor file (a crash before it is saved re-sends at most the
    /// rest of the segment the old cursor is in).
    #[cfg(test)]
    pub fn ack(&self, sink: &str, pos: Pos) -> io::Result<()> {
        self.advance(sink, pos);
        self.persist(sink, pos)
    }

    /// Records `sink`'s acknowledged position in memory and frees what it
    /// allows, without writing the cursor file: a shipper acknowledging
    /// many batches a second saves the file at a slower pace (see the
    /// shipper), and until then a crash re-sends what came after the last
    /// save, which at-least-once delivery allows.
    pub fn advance(&self, sink: &str, pos: Pos) {
        {
            let mut st = self.lock();
            st.cursors.insert(sink.to_string(), pos);
            let t = st.taken.entry(sink.to_string()).or_insert(pos);
            *t = (*t).max(pos);
        }
        self.collect_garbage();
    }

    /// Writes `sink`'s cursor file at `pos` (a position already advanced
    /// to), atomically and synced.
    pub fn persist(&self, sink: &str, pos: Pos) -> io::Result<()> {
        let data = serde_json::to_vec(&pos).map_err(io::Error::other)?;
        write_atomic(&self.dir, &cursor_name(sink), &data)
    }

    /// Reads a batch for `sink` after `from` (see [`Spool::read`]) and marks
    /// it taken, dropping from it any event whose segment was dropped (and
    /// counted as lost) while it was being read.
    pub fn take(
        &self,
        sink: &str,
        from: Pos,
        end: Pos,
        max_events: usize,
        max_bytes: usize,
    ) -> io::Result<Batch> {
        let mut b = self.read(from, end, max_events, max_bytes)?;
        if let Some(keep) = self.claim(sink, &b.at, b.next) {
            let mut k = keep.iter();
            b.events.retain(|_| k.next().copied().unwrap_or(false));
            let mut k = keep.iter();
            b.at.retain(|_| k.next().copied().unwrap_or(false));
        }
        Ok(b)
    }

    /// Marks the events starting at `at` (and everything before `next`)
    /// taken by `sink`. `Some(keep)` when some of them must not be
    /// delivered: their segment was dropped, and its events counted as
    /// lost, since they were read or handed over in memory.
    pub fn claim(&self, sink: &str, at: &[Pos], next: Pos) -> Option<Vec<bool>> {
        let mut st = self.lock();
        let keep = if at.iter().any(|p| st.dropped_from.contains_key(&p.segment)) {
            Some(
                at.iter()
                    .map(|p| {
                        st.dropped_from
                            .get(&p.segment)
                            .is_none_or(|&f| p.offset < f)
                    })
                    .collect(),
            )
        } else {
            None
        };
        let t = st.taken.entry(sink.to_string()).or_insert(next);
        *t = (*t).max(next);
        keep
    }

    /// Bytes between `sink`'s cursor and the end of the spool.
    pub fn lag_bytes(&self, sink: &str) -> u64 {
        let st = self.lock();
        let Some(c) = st.cursors.get(sink).map(|c| st.normalize(*c)) else {
            return 0;
        };
        st.segments
            .range(c.segment..)
            .map(|(&s, m)| {
                if s == c.segment {
                    m.bytes.saturating_sub(c.offset)
                } else {
                    m.bytes
                }
            })
            .sum()
    }

    /// Events not yet acknowledged by `sink` (reads the partial segment).
    pub fn pending_events(&self, sink: &str) -> io::Result<u64> {
        let (c, whole): (Pos, u64) = {
            let st = self.lock();
            let Some(c) = st.cursors.get(sink).map(|c| st.normalize(*c)) else {
                return Ok(0);
            };
            let whole = st
                .segments
                .range(c.segment + 1..)
                .map(|(_, m)| m.events)
                .sum();
            (c, whole)
        };
        let mut partial = 0u64;
        match File::open(self.dir.join(segment_name(c.segment))) {
            Ok(mut f) => {
                f.seek(SeekFrom::Start(c.offset))?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    partial += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(whole + partial)
    }

    /// Reads up to `max_events` / about `max_bytes` of events after `from`,
    /// never past `end`, crossing into later segments as needed.
    pub fn read(
        &self,
        from: Pos,
        end: Pos,
        max_events: usize,
        max_bytes: usize,
    ) -> io::Result<Batch> {
        let mut events = Vec::new();
        let mut at = Vec::new();
        let mut pos = self.lock().normalize(from);
        let mut bytes = 0usize;
        while events.len() < max_events && bytes < max_bytes && pos < end {
            let closed = pos.segment < end.segment;
            let limit = if closed { u64::MAX } else { end.offset };
            let file = match File::open(self.dir.join(segment_name(pos.segment))) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Deleted under us (drop_oldest): continue after it.
                    let next = self.lock().normalize(Pos {
                        segment: pos.segment + 1,
                        offset: 0,
                    });
                    if next.segment <= pos.segment {
                        break;
                    }
                    pos = next;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut r = BufReader::new(file);
            r.seek(SeekFrom::Start(pos.offset))?;
            let mut at_eof = false;
            let mut line = Vec::new();
            while events.len() < max_events && bytes < max_bytes && pos.offset < limit {
                line.clear();
                let cap = (limit - pos.offset).min(MAX_LINE_BYTES as u64 + 1);
                let n = (&mut r).take(cap).read_until(b'\n', &mut line)?;
                if n == 0 {
                    at_eof = true;
                    break;
                }
                if line.last() != Some(&b'\n') {
                    if n as u64 > MAX_LINE_BYTES as u64 {
                        // Oversized: skip to the end of this line.
                        let mut skipped = n as u64;
                        let mut sink = Vec::new();
                        loop {
                            sink.clear();
                            let m = (&mut r).take(64 * 1024).read_until(b'\n', &mut sink)?;
                            skipped += m as u64;
                            if m == 0 || sink.last() == Some(&b'\n') {
                                break;
                            }
                        }
                        self.counters.corrupt_lines.fetch_add(1, Ordering::Relaxed);
                        pos.offset += skipped;
                        continue;
                    }
                    if closed {
                        // A closed segment ending without a newline: the
                        // remains of a failed write; nothing follows it.
                        self.counters.torn_lines.fetch_add(1, Ordering::Relaxed);
                        pos.offset += n as u64;
                        at_eof = true;
                    }
                    break;
                }
                let start = pos;
                pos.offset += n as u64;
                match serde_json::from_slice::<AuditEvent>(&line) {
                    Ok(ev) => {
                        bytes += n;
                        events.push(ev);
                        at.push(start);
                    }
                    Err(e) => {
                        self.counters.corrupt_lines.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(segment = pos.segment, error = %e, "audit spool: skipped a line that is not an event");
                    }
                }
            }
            if closed && (at_eof || pos.offset >= limit) {
                let next = self.lock().normalize(Pos {
                    segment: pos.segment + 1,
                    offset: 0,
                });
                if next.segment <= pos.segment {
                    break;
                }
                pos = next;
            } else {
                break;
            }
        }
        Ok(Batch {
            events,
            at,
            next: pos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::EventKind;

    fn ev() -> AuditEvent {
        AuditEvent::new(EventKind::Statement).with("n", 1i64)
    }

    fn write(spool: &Spool, w: &mut SegmentWriter, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let e = ev();
            ids.push(e.id.clone());
            let line = crate::audit::json_line::to_vec(&e);
            if Spool::needs_rotation(w, line.len() as u64, 4096) {
                spool.rotate(w, true).unwrap_or_else(|e| panic!("{e}"));
            }
            spool.append(w, &line, 1).unwrap_or_else(|e| panic!("{e}"));
        }
        ids
    }

    fn read_all(spool: &Spool, sink: &str) -> (Vec<String>, Pos) {
        let b = spool
            .read(spool.cursor(sink), spool.end(), usize::MAX, usize::MAX)
            .unwrap_or_else(|e| panic!("{e}"));
        (b.events.into_iter().map(|e| e.id).collect(), b.next)
    }

    #[test]
    fn torn_last_line_is_cut_and_counted() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sinks = vec!["a".to_string()];
        let c = Arc::new(Counters::default());
        let ids = {
            let (spool, mut w) =
                Spool::open(dir.path(), &sinks, c.clone()).unwrap_or_else(|e| panic!("{e}"));
            let ids = write(&spool, &mut w, 3);
            w.file
                .write_all(b"{\"id\":\"half")
                .unwrap_or_else(|e| panic!("{e}"));
            ids
        };
        let c2 = Arc::new(Counters::default());
        let (spool, _w) =
            Spool::open(dir.path(), &sinks, c2.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c2.torn_lines.load(Ordering::Relaxed), 1);
        let (got, _) = read_all(&spool, "a");
        assert_eq!(got, ids);
        assert_eq!(c2.corrupt_lines.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn corrupt_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sinks = vec!["a".to_string()];
        let c = Arc::new(Counters::default());
        let (spool, mut w) =
            Spool::open(dir.path(), &sinks, c.clone()).unwrap_or_else(|e| panic!("{e}"));
        let mut ids = write(&spool, &mut w, 1);
        spool
            .append(&mut w, b"not json\n", 1)
            .unwrap_or_else(|e| panic!("{e}"));
        ids.extend(write(&spool, &mut w, 1));
        let (got, _) = read_all(&spool, "a");
        assert_eq!(got, ids);
        assert_eq!(c.corrupt_lines.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn cursor_persists_and_acked_segments_are_deleted() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sinks = vec!["a".to_string(), "b".to_string()];
        let c = Arc::new(Counters::default());
        let (first, rest) = {
            let (spool, mut w) =
                Spool::open(dir.path(), &sinks, c.clone()).unwrap_or_else(|e| panic!("{e}"));
            let ids = write(&spool, &mut w, 100);
            assert!(spool.segment_count() > 2, "rotation expected");
            let b = spool
                .read(spool.cursor("a"), spool.end(), 60, usize::MAX)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(b.events.len(), 60);
            spool.ack("a", b.next).unwrap_or_else(|e| panic!("{e}"));
            // b has acked nothing: nothing may be deleted yet.
            let before = spool.segment_count();
            spool.collect_garbage();
            assert_eq!(spool.segment_count(), before);
            let (all_b, end_b) = read_all(&spool, "b");
            assert_eq!(all_b, ids);
            spool.ack("b", end_b).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                spool.segment_count() < before,
                "a's floor frees segments before it"
            );
            (ids[..60].to_vec(), ids[60..].to_vec())
        };
        assert_eq!(first.len(), 60);
        // Restart: a resumes exactly after its 60, b has nothing left.
        let (spool, _w) = Spool::open(dir.path(), &sinks, c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_all(&spool, "a").0, rest);
        assert!(read_all(&spool, "b").0.is_empty());
        assert_eq!(spool.pending_events("a").unwrap_or_default(), 40);
        assert_eq!(spool.pending_events("b").unwrap_or_default(), 0);
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "temp cursor files left: {names:?}");
    }

    #[test]
    fn dropping_a_segment_counts_only_what_no_shipper_has_taken() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sinks = vec!["a".to_string()];
        let c = Arc::new(Counters::default());
        let (spool, mut w) = Spool::open(dir.path(), &sinks, c).unwrap_or_else(|e| panic!("{e}"));
        let ids = write(&spool, &mut w, 100);
        let first = spool.lock().segments.values().next().map(|m| m.events);
        let first = first.unwrap_or_default();
        assert!(first > 5 && spool.segment_count() > 2);
        // The shipper holds five events of the first segment in a batch.
        let b = spool
            .take("a", spool.cursor("a"), spool.end(), 5, usize::MAX)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.events.len(), 5);
        let d = spool.drop_oldest_segment();
        assert!(d.deleted);
        assert_eq!(d.lost, first - 5, "the five in the batch are not lost");
        // The next segment, untouched by the shipper, is lost whole.
        let second = spool.lock().segments.values().next().map(|m| m.events);
        let d = spool.drop_oldest_segment();
        assert_eq!(Some(d.lost), second);
        // The shipper goes on after its batch with what is left.
        let rest = spool
            .take("a", b.next, spool.end(), usize::MAX, usize::MAX)
            .unwrap_or_else(|e| panic!("{e}"));
        let lost = first - 5 + second.unwrap_or_default();
        assert_eq!(rest.events.len() as u64, 100 - 5 - lost);
        assert_eq!(
            rest.events.last().map(|e| e.id.clone()),
            ids.last().cloned()
        );
    }

    #[test]
    fn new_segment_is_numbered_above_cursors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sinks = vec!["a".to_string()];
        fs::write(
            dir.path().join(cursor_name("a")),
            br#"{"segment":41,"offset":7}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (spool, w) = Spool::open(dir.path(), &sinks, Arc::new(Counters::default()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.seq, 42);
        assert_eq!(
            spool.cursor("a"),
            Pos {
                segment: 42,
                offset: 0
            }
        );
    }
}
