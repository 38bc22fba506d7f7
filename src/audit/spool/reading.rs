//! Reading events back from the spool: for a shipper catching up from its
//! cursor, and for counting what a sink has not acknowledged yet.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;

use super::files::segment_name;
use super::{Batch, Pos, Spool, MAX_LINE_BYTES};
use crate::audit::event::AuditEvent;

impl Spool {
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
                    let Some(next) = self.next_segment(pos) else {
                        break;
                    };
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
            if !(closed && (at_eof || pos.offset >= limit)) {
                break;
            }
            let Some(next) = self.next_segment(pos) else {
                break;
            };
            pos = next;
        }
        Ok(Batch {
            events,
            at,
            next: pos,
        })
    }

    /// The first position in a segment after `pos`'s that still exists,
    /// or `None` when there is none yet.
    fn next_segment(&self, pos: Pos) -> Option<Pos> {
        let next = self.lock().normalize(Pos {
            segment: pos.segment + 1,
            offset: 0,
        });
        (next.segment > pos.segment).then_some(next)
    }
}
