//! Written batches handed from the writer to the shippers in memory, so a
//! shipper that keeps up never reads the spool back.
//!
//! The spool stays the durable copy and the cursors stay the truth: a batch
//! is handed over only after it is in the file and before the spool's new
//! end is published, it carries the spool positions of its events, and a
//! shipper uses it only where it continues exactly from its cursor. Anything
//! else — a full hand-off queue, a restart, an outage, a segment boundary —
//! falls back to reading the spool from the cursor, as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

use super::otlp_wire::Records;
use super::spool::Pos;

/// Encoded bytes a shipper may hold unread before the writer stops handing
/// it more (it reads those from the spool instead): some ten thousand
/// statement events, enough to ride out one slow export at full rate.
const QUEUED_BYTES: usize = 8 << 20;

/// One spool write, as OTLP log records.
#[derive(Debug)]
pub(crate) struct Written {
    pub records: Arc<Records>,
    /// Where each event starts in the spool.
    pub at: Vec<Pos>,
    /// Where the spool continues after the batch.
    pub next: Pos,
}

impl Written {
    /// `records` written at `start`, each event as long as its spool line
    /// (`line_ends`: where each line ends, from the start of the batch).
    pub fn new(records: Arc<Records>, start: Pos, line_ends: &[usize]) -> Written {
        let mut at = Vec::with_capacity(line_ends.len());
        let mut offset = start.offset;
        for &end in line_ends {
            at.push(Pos {
                segment: start.segment,
                offset,
            });
            offset = start.offset + end as u64;
        }
        Written {
            records,
            at,
            next: Pos {
                segment: start.segment,
                offset,
            },
        }
    }

    /// The index of the event starting at `pos`, if one does.
    pub fn index_of(&self, pos: Pos) -> Option<usize> {
        self.at.binary_search(&pos).ok()
    }
}

/// One shipper's queue, and the encoded bytes waiting in it.
type Queue = (mpsc::UnboundedSender<Arc<Written>>, Arc<AtomicUsize>);

/// The writer's side: one queue per shipper.
#[derive(Clone, Default)]
pub(crate) struct Handoff {
    to: Arc<Vec<Queue>>,
}

/// A shipper's side of its queue.
pub(crate) struct Handed {
    rx: mpsc::UnboundedReceiver<Arc<Written>>,
    queued: Arc<AtomicUsize>,
}

impl Handed {
    pub fn try_recv(&mut self) -> Option<Arc<Written>> {
        let w = self.rx.try_recv().ok()?;
        self.queued
            .fetch_sub(w.records.bytes.len(), Ordering::Relaxed);
        Some(w)
    }
}

impl Handoff {
    pub fn new(shippers: usize) -> (Handoff, Vec<Handed>) {
        let mut to = Vec::with_capacity(shippers);
        let mut from = Vec::with_capacity(shippers);
        for _ in 0..shippers {
            let (tx, rx) = mpsc::unbounded_channel();
            let queued = Arc::new(AtomicUsize::new(0));
            to.push((tx, queued.clone()));
            from.push(Handed { rx, queued });
        }
        (Handoff { to: Arc::new(to) }, from)
    }

    pub fn is_empty(&self) -> bool {
        self.to.is_empty()
    }

    /// Never waits: a shipper with [`QUEUED_BYTES`] unread reads the spool
    /// instead.
    pub fn give(&self, batch: Written) {
        let batch = Arc::new(batch);
        let bytes = batch.records.bytes.len();
        for (tx, queued) in self.to.iter() {
            if queued.load(Ordering::Relaxed) + bytes > QUEUED_BYTES {
                continue;
            }
            queued.fetch_add(bytes, Ordering::Relaxed);
            if tx.send(batch.clone()).is_err() {
                queued.fetch_sub(bytes, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_line_lengths() {
        let start = Pos {
            segment: 3,
            offset: 100,
        };
        let w = Written::new(Arc::new(Records::default()), start, &[10, 25, 26]);
        let offsets: Vec<u64> = w.at.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, [100, 110, 125]);
        assert_eq!(
            w.next,
            Pos {
                segment: 3,
                offset: 126
            }
        );
        assert_eq!(
            w.index_of(Pos {
                segment: 3,
                offset: 110
            }),
            Some(1)
        );
        assert_eq!(
            w.index_of(Pos {
                segment: 3,
                offset: 111
            }),
            None
        );
    }

    #[test]
    fn a_full_queue_does_not_block_the_writer() {
        let (h, mut rx) = Handoff::new(1);
        let records = Arc::new(Records {
            bytes: vec![0; QUEUED_BYTES / 4],
            ends: vec![QUEUED_BYTES / 4],
        });
        for _ in 0..6 {
            h.give(Written::new(records.clone(), Pos::default(), &[1]));
        }
        let mut n = 0;
        while rx[0].try_recv().is_some() {
            n += 1;
        }
        assert_eq!(n, 4);
        // Taking them off makes room again.
        h.give(Written::new(records, Pos::default(), &[1]));
        assert!(rx[0].try_recv().is_some());
    }
}
