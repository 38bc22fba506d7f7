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
//!   file's last save (at most `cursor_save_interval` of batches while
//!   busy; the shipper saves at once when it goes idle or stops) plus the
//!   batch unacknowledged when it stopped.
//!
//! All functions here do blocking file I/O; the async side calls them via
//! `spawn_blocking`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{watch, Notify};

use super::event::AuditEvent;
use super::stats::Counters;

mod files;
mod reading;
use files::{
    count_lines_from, cursor_name, parse_segment_name, recover_segment, segment_name, sync_dir,
    write_atomic,
};

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
    /// goes by this in-memory value, which is ahead of the file between
    /// the shipper's paced saves and after a failed one).
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
}

#[cfg(test)]
mod tests;
