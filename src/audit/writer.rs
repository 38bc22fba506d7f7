//! The task that drains the queue into the spool: serializes, enforces the
//! spool's size bound, rotates segments, fsyncs by policy, and releases
//! durable waiters. File I/O runs in `spawn_blocking`, one call per batch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::config::{AuditConfig, FsyncPolicy, OnFull, SinkConfig};
use super::event::attr;
use super::handoff::{Handoff, Written};
use super::otlp_wire::Records;
use super::queue::{Item, Queue};
use super::spool::{SegmentWriter, Spool};
use super::stats::Counters;

/// Most events taken from the queue per spool write.
const WRITE_BATCH: usize = 256;
/// How long a small batch waits for company before it is written. Each
/// write is a hop to a blocking thread and back, and wakes every shipper;
/// at one event per statement those hops, not the bytes, are the cost, and
/// sharing them among the events of a few milliseconds takes them off the
/// statements' cores (governed `pgbench -S -M prepared -c 1`: 30.5 µs of
/// proxy CPU per transaction at 1 ms, 27.1 at 5 ms; at 20 ms, against
/// 5 ms, 44.8–45.9 against 49.6–54.5 µs, and TPC-B `-M simple -c 1`
/// 328–360 against 379–389 µs: docs/benchmarks.md). The spool is synced
/// every 200 ms by default anyway, and batches someone waits on (durable
/// emits) are written at once.
const WRITE_LINGER: Duration = Duration::from_millis(20);
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

pub(crate) struct Writer {
    pub queue: Arc<Queue>,
    pub spool: Arc<Spool>,
    pub counters: Arc<Counters>,
    pub fsync: FsyncPolicy,
    pub on_full: OnFull,
    pub segment_bytes: u64,
    pub spool_max_bytes: u64,
    pub stdout: bool,
    /// Set when shutting down: the size bound then yields, since a queued
    /// event written past the bound survives and one left in memory does not.
    pub finishing: tokio::sync::watch::Receiver<bool>,
    /// Written batches for the shippers, in memory.
    pub handoff: Handoff,
}

impl Writer {
    pub fn new(
        cfg: &AuditConfig,
        queue: Arc<Queue>,
        spool: Arc<Spool>,
        counters: Arc<Counters>,
        finishing: tokio::sync::watch::Receiver<bool>,
        handoff: Handoff,
    ) -> Writer {
        Writer {
            queue,
            spool,
            counters,
            fsync: cfg.fsync,
            on_full: cfg.on_full,
            segment_bytes: cfg.segment_bytes,
            spool_max_bytes: cfg.spool_max_bytes,
            stdout: cfg.sinks.iter().any(|s| matches!(s, SinkConfig::Stdout(_))),
            finishing,
            handoff,
        }
    }

    /// Runs until the queue is closed and empty; everything written is
    /// synced before it returns.
    pub async fn run(self, seg: SegmentWriter) {
        let mut seg = Some(seg);
        let mut last_sync = Instant::now();
        loop {
            let mut batch = self.queue.pop_batch(WRITE_BATCH);
            let waited_on = batch.iter().any(|i| i.durable.is_some())
                || matches!(self.fsync, FsyncPolicy::EveryEvent);
            if !batch.is_empty()
                && batch.len() < WRITE_BATCH
                && !waited_on
                && !self.queue.is_closed_and_empty()
            {
                tokio::time::sleep(WRITE_LINGER).await;
                batch.extend(self.queue.pop_batch(WRITE_BATCH - batch.len()));
            }
            if batch.is_empty() {
                if self.queue.is_closed_and_empty() {
                    break;
                }
                let dirty = seg.as_ref().is_some_and(|s| s.dirty);
                match (self.fsync, dirty) {
                    (FsyncPolicy::IntervalMs(ms), true) => {
                        let due = last_sync + Duration::from_millis(ms);
                        if tokio::time::timeout_at(due, self.queue.readable())
                            .await
                            .is_err()
                        {
                            seg = self.blocking(seg, |sp, w| sp.sync(w)).await;
                            last_sync = Instant::now();
                        }
                    }
                    _ => self.queue.readable().await,
                }
                continue;
            }
            seg = self.write_batch(seg, batch).await;
            let force = matches!(self.fsync, FsyncPolicy::EveryEvent);
            let due = match self.fsync {
                FsyncPolicy::IntervalMs(ms) => last_sync.elapsed() >= Duration::from_millis(ms),
                _ => false,
            };
            if force || due {
                seg = self.blocking(seg, |sp, w| sp.sync(w)).await;
                last_sync = Instant::now();
            }
            self.counters.bump();
        }
        if !matches!(self.fsync, FsyncPolicy::Never) {
            let _ = self.blocking(seg, |sp, w| sp.sync(w)).await;
        }
        self.counters.bump();
    }

    /// Runs `f` on the segment in a blocking thread, retrying with backoff
    /// until it succeeds: a disk that is full or failing stalls the writer
    /// (and, through the queue, the emitters) instead of losing events.
    async fn blocking(
        &self,
        mut seg: Option<SegmentWriter>,
        f: impl Fn(&Spool, &mut SegmentWriter) -> std::io::Result<()> + Send + Sync + Clone + 'static,
    ) -> Option<SegmentWriter> {
        let mut delay = RETRY_MIN;
        loop {
            let mut w = seg.take()?;
            let spool = self.spool.clone();
            let f2 = f.clone();
            let joined = tokio::task::spawn_blocking(move || {
                let r = f2(&spool, &mut w);
                (w, r)
            })
            .await;
            match joined {
                Ok((w, Ok(()))) => return Some(w),
                Ok((w, Err(e))) => {
                    self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    self.counters.bump();
                    tracing::error!(error = %e, dir = %self.spool.dir().display(), "audit spool write failed; retrying");
                    seg = Some(w);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
                Err(e) => {
                    // The segment handle went down with the panicking thread;
                    // nothing more can be written in this process.
                    tracing::error!(error = %e, "audit spool writer thread failed");
                    return None;
                }
            }
        }
    }

    /// One attempt of `f` on the segment in a blocking thread; `None` for
    /// the segment if the thread failed (nothing more can be written).
    async fn attempt(
        &self,
        seg: Option<SegmentWriter>,
        f: impl FnOnce(&Spool, &mut SegmentWriter) -> std::io::Result<()> + Send + 'static,
    ) -> (Option<SegmentWriter>, std::io::Result<()>) {
        let Some(mut w) = seg else {
            return (
                None,
                Err(std::io::Error::other("audit spool writer is gone")),
            );
        };
        let spool = self.spool.clone();
        match tokio::task::spawn_blocking(move || {
            let r = f(&spool, &mut w);
            (w, r)
        })
        .await
        {
            Ok((w, r)) => (Some(w), r),
            Err(e) => {
                tracing::error!(error = %e, "audit spool writer thread failed");
                (
                    None,
                    Err(std::io::Error::other("audit spool writer thread failed")),
                )
            }
        }
    }

    /// Gives up a batch that cannot be written: every event is counted as
    /// dropped, and durable waiters are told.
    fn lose(
        &self,
        seg: Option<SegmentWriter>,
        keep: Vec<Item>,
        attached: u64,
    ) -> Option<SegmentWriter> {
        self.counters.restore_pending_dropped(attached);
        self.counters.note_dropped(keep.len() as u64);
        for item in keep {
            item.dropped();
        }
        self.counters.bump();
        seg
    }

    async fn write_batch(
        &self,
        mut seg: Option<SegmentWriter>,
        mut batch: Vec<Item>,
    ) -> Option<SegmentWriter> {
        // Serialize first: the size bound is about bytes. One buffer for
        // the whole batch, with where each line ends.
        // A statement event's line is 600–900 bytes.
        let mut data: Vec<u8> = Vec::with_capacity(batch.len() * 1024);
        let mut ends: Vec<usize> = Vec::with_capacity(batch.len());
        let mut keep: Vec<Item> = Vec::with_capacity(batch.len());
        // Drop counts attached to this batch's events, to put back if the
        // batch itself is lost.
        let mut attached = 0u64;
        for mut item in batch.drain(..) {
            item.event.truncate_long_values();
            let dropped = self.counters.take_pending_dropped();
            if dropped > 0 {
                item.event.set(attr::AUDIT_DROPPED, dropped);
            }
            attached += dropped;
            super::json_line::write(&item.event, &mut data);
            ends.push(data.len());
            keep.push(item);
        }
        let need = data.len() as u64;

        // Make room, or decide what not to write.
        loop {
            if self.spool.total_bytes() + need <= self.spool_max_bytes || *self.finishing.borrow() {
                break;
            }
            match self.on_full {
                OnFull::Block | OnFull::RefuseSessions => {
                    let space = self.spool.space.notified();
                    tokio::pin!(space);
                    space.as_mut().enable();
                    // Everything must be in closed segments to become deletable.
                    if seg.as_ref().is_some_and(|s| Spool::open_segment_len(s) > 0) {
                        let durable = !matches!(self.fsync, FsyncPolicy::Never);
                        seg = self.blocking(seg, move |sp, w| sp.rotate(w, durable)).await;
                        continue;
                    }
                    let mut finishing = self.finishing.clone();
                    tokio::select! {
                        _ = &mut space => {}
                        _ = finishing.wait_for(|f| *f) => {}
                    }
                }
                OnFull::DropOldest => {
                    let d = self.spool.drop_oldest_segment();
                    if d.deleted {
                        if d.lost > 0 {
                            self.counters.note_dropped(d.lost);
                        }
                        continue;
                    }
                    if seg.as_ref().is_some_and(|s| Spool::open_segment_len(s) > 0) {
                        let durable = !matches!(self.fsync, FsyncPolicy::Never);
                        seg = self.blocking(seg, move |sp, w| sp.rotate(w, durable)).await;
                        continue;
                    }
                    // Only empty segments left: the batch alone exceeds the
                    // bound; write it rather than spin.
                    break;
                }
                OnFull::DropNewest => {
                    let room = self
                        .spool_max_bytes
                        .saturating_sub(self.spool.total_bytes());
                    let n = ends.partition_point(|&e| e as u64 <= room);
                    let lost = ends.len() - n;
                    ends.truncate(n);
                    data.truncate(ends.last().copied().unwrap_or(0));
                    for item in keep.drain(n..) {
                        item.dropped();
                    }
                    if ends.is_empty() {
                        // The count rode on the first event, which is gone.
                        self.counters.restore_pending_dropped(attached);
                    }
                    self.counters.note_dropped(lost as u64);
                    break;
                }
            }
        }
        if ends.is_empty() {
            return seg;
        }

        // The batch as OTLP log records, once for every sink, handed over
        // as soon as it is in the file.
        let handoff = (!self.handoff.is_empty()).then(|| {
            // A record is about as long as the event's spool line.
            let mut records = Records::with_capacity(keep.len(), data.len() + data.len() / 8);
            for item in &keep {
                records.push(&item.event);
            }
            (self.handoff.clone(), Arc::new(records), Arc::new(ends))
        });
        let data: Arc<Vec<u8>> = Arc::new(data);
        let count = keep.len() as u64;
        let segment_bytes = self.segment_bytes;
        let durable_rotation = !matches!(self.fsync, FsyncPolicy::Never);
        let wants_sync = keep.iter().any(|i| i.durable.is_some());
        let write_data = data.clone();
        let write = move |sp: &Spool, w: &mut SegmentWriter| {
            if Spool::needs_rotation(w, write_data.len() as u64, segment_bytes) {
                sp.rotate(w, durable_rotation)?;
            }
            sp.append_then(w, &write_data, count, |start| {
                if let Some((to, records, ends)) = &handoff {
                    to.give(Written::new(records.clone(), start, ends));
                }
            })?;
            if wants_sync {
                sp.sync(w)?;
            }
            Ok(())
        };
        let mut delay = RETRY_MIN;
        loop {
            let (s, r) = self.attempt(seg, write.clone()).await;
            seg = s;
            let e = match r {
                Ok(()) => break,
                Err(e) => e,
            };
            if seg.is_none() {
                break;
            }
            self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
            self.counters.bump();
            if e.kind() == std::io::ErrorKind::StorageFull && !*self.finishing.borrow() {
                // The disk itself is full, below the spool's own bound: the
                // overflow policy applies to it as to the bound.
                match self.on_full {
                    OnFull::DropOldest => {
                        let d = self.spool.drop_oldest_segment();
                        if d.deleted {
                            if d.lost > 0 {
                                self.counters.note_dropped(d.lost);
                            }
                            continue;
                        }
                        if seg.as_ref().is_some_and(|s| Spool::open_segment_len(s) > 0) {
                            let (s, _) = self
                                .attempt(seg, move |sp, w| sp.rotate(w, durable_rotation))
                                .await;
                            seg = s;
                            continue;
                        }
                        // Nothing older to give up: this batch is the oldest.
                        tracing::error!(error = %e, "audit spool disk full: dropped a batch of events");
                        return self.lose(seg, keep, attached);
                    }
                    OnFull::DropNewest => {
                        tracing::error!(error = %e, "audit spool disk full: dropped a batch of events");
                        return self.lose(seg, keep, attached);
                    }
                    OnFull::Block | OnFull::RefuseSessions => {}
                }
            }
            // Retry until the write succeeds: a full or failing disk stalls
            // the writer (and, through the queue, the emitters).
            tracing::error!(error = %e, dir = %self.spool.dir().display(), "audit spool write failed; retrying");
            let space = self.spool.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = &mut space => {}
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
        if seg.is_none() {
            return self.lose(None, keep, attached);
        }
        self.counters.written.fetch_add(count, Ordering::Relaxed);
        for item in keep {
            if let Some(ack) = item.durable {
                let _ = ack.send(Ok(()));
            }
        }
        if self.stdout {
            // Stdout is a best-effort mirror: nothing acknowledges it and the
            // spool already holds the events.
            let mut out = tokio::io::stdout();
            if out.write_all(&data).await.is_ok() {
                let _ = out.flush().await;
            }
        }
        seg
    }
}
