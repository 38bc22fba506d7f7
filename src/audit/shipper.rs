//! One task per OTLP sink: gather the events after the sink's cursor —
//! from the writer's hand-off while it continues from the cursor, from the
//! spool otherwise — batch, send, and move the cursor only after the
//! receiver said yes. Failures are retried
//! with capped exponential backoff, forever: the spool, not the shipper,
//! decides what happens when the receiver stays away (its size bound and
//! overflow policy).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use super::handoff::{Handed, Written};
use super::otlp::{ResourceInfo, Transport};
use super::otlp_wire::put_record;
use super::request::{EncodedLogs, Part, RecordParts};
use super::spool::{Batch, Pos, Spool};
use super::stats::{Counters, SinkCounters};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Upper bound on one batch's event bytes, whatever the event count.
const BATCH_MAX_BYTES: usize = 4 << 20;

/// Where the auditor is in its life, as seen by a shipper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// The writer is done: send what is left without lingering, then stop.
    Draining,
}

pub(crate) struct Shipper {
    pub name: String,
    pub spool: Arc<Spool>,
    pub transport: Transport,
    pub resource: ResourceInfo,
    pub counters: Arc<Counters>,
    pub sink: Arc<SinkCounters>,
    pub max_events: usize,
    pub linger: Duration,
    /// How often a busy shipper writes its cursor file. Each save is a
    /// write, two fsyncs and a rename (133 µs of system time on the bench
    /// host, more on network disks); a shipper exporting thirty batches a
    /// second paid that thirty times a second. A crash re-sends what was
    /// acknowledged since the last save, which downstream deduplication by
    /// event id absorbs.
    pub save_every: Duration,
    pub phase: watch::Receiver<Phase>,
    /// Batches the writer handed over after writing them.
    pub handed: Handed,
    /// A handed batch not yet (wholly) used, and the first event not sent.
    pub pending: Option<(Arc<Written>, usize)>,
    /// The cursor save in flight, if any; it ends with the position it
    /// failed to write, if it did.
    pub saving: Option<tokio::task::JoinHandle<Option<Pos>>>,
    /// The position acknowledged but not yet in the cursor file, and when
    /// the file was last written.
    pub cursor: CursorFile,
}

/// What a cursor move does besides the shipper's own bookkeeping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CursorStep {
    /// Moves the spool's cursor in memory (frees shipped segments).
    Advance,
    /// Moves it and writes the cursor file.
    AdvanceAndWrite,
    /// Writes a position the spool already has in memory.
    Write,
}

/// What a shipper knows about its cursor file.
#[derive(Default)]
pub(crate) struct CursorFile {
    unsaved: Option<Pos>,
    saved_at: Option<Instant>,
}

impl CursorFile {
    /// Whether an acknowledgement now should write the file: the first
    /// one, the first after a quiet spell, and then at most every
    /// `every`.
    fn due(&self, now: Instant, every: Duration) -> bool {
        self.saved_at
            .is_none_or(|t| now.saturating_duration_since(t) >= every)
    }
}

/// The records of one request, and where the spool continues after them.
struct Gathered {
    records: RecordParts,
    events: usize,
    next: Pos,
}

impl Gathered {
    /// Bytes of records gathered.
    fn len(&self) -> usize {
        self.records.len()
    }
}

impl Shipper {
    async fn read(
        &self,
        from: Pos,
        end: Pos,
        max_events: usize,
        max_bytes: usize,
    ) -> Option<Batch> {
        let spool = self.spool.clone();
        let name = self.name.clone();
        let joined = tokio::task::spawn_blocking(move || {
            spool.take(&name, from, end, max_events, max_bytes)
        })
        .await;
        match joined {
            Ok(Ok(b)) => Some(b),
            Ok(Err(e)) => {
                tracing::error!(sink = %self.name, error = %e, "audit spool read failed");
                None
            }
            Err(e) => {
                tracing::error!(sink = %self.name, error = %e, "audit spool reader failed");
                None
            }
        }
    }

    /// Moves the sink's cursor to `pos`, in the background: the file is
    /// written and synced (two fsyncs) while the next batch is gathered and
    /// sent, one save at a time and in order. A shipper that waited for
    /// each save sent one batch per fsync pair, fell behind a busy proxy,
    /// and then had to read its events back from the spool. A crash before
    /// the save re-sends the batch: delivery is at least once anyway.
    ///
    /// The spool takes the new position even when the cursor file cannot
    /// be saved (a full disk): the events before it were delivered, and
    /// sending them again would deliver them twice. The position stays
    /// unsaved, and the next save writes it.
    ///
    /// The file itself is written at most every `save_every` while
    /// batches keep coming (the position moves in memory each time, which
    /// is what frees spooled segments), and at once when the shipper runs
    /// out of events, pauses after a failure, drains or stops.
    async fn ack(&mut self, pos: Pos) {
        self.saved().await;
        let now = Instant::now();
        if self.draining() || self.cursor.due(now, self.save_every) {
            self.spawn_cursor_step(pos, CursorStep::AdvanceAndWrite);
            self.cursor = CursorFile {
                unsaved: None,
                saved_at: Some(now),
            };
        } else {
            self.spawn_cursor_step(pos, CursorStep::Advance);
            self.cursor.unsaved = Some(pos);
        }
    }

    /// Writes the cursor file if an acknowledged position is not in it yet.
    async fn save_unsaved(&mut self) {
        self.saved().await;
        let Some(pos) = self.cursor.unsaved.take() else {
            return;
        };
        self.spawn_cursor_step(pos, CursorStep::Write);
        self.cursor.saved_at = Some(Instant::now());
    }

    /// Starts the blocking half of a cursor move (the spool's lock, the
    /// file and its syncs stay off the runtime's threads); [`Self::saved`]
    /// collects it, and with it a position whose file write failed.
    fn spawn_cursor_step(&mut self, pos: Pos, step: CursorStep) {
        let spool = self.spool.clone();
        let name = self.name.clone();
        let counters = self.counters.clone();
        let saves = self.sink.clone();
        self.saving = Some(tokio::task::spawn_blocking(move || {
            if step != CursorStep::Write {
                spool.advance(&name, pos);
            }
            let failed =
                (step != CursorStep::Advance && !save(&spool, &name, pos, &saves)).then_some(pos);
            // The sink's lag changed.
            counters.bump();
            failed
        }));
    }

    /// Waits for the cursor save in flight. A position it failed to write
    /// is written by the next save, unless a later one is already waiting.
    async fn saved(&mut self) {
        if let Some(save) = self.saving.take() {
            match save.await {
                Ok(None) => {}
                Ok(Some(failed)) => {
                    self.cursor.unsaved.get_or_insert(failed);
                }
                Err(e) => {
                    tracing::error!(sink = %self.name, error = %e, "audit cursor writer failed");
                }
            }
        }
    }

    fn draining(&self) -> bool {
        *self.phase.borrow() == Phase::Draining
    }

    /// The handed batch that continues exactly from `pos`, and the index of
    /// the event there. Batches wholly before `pos` were delivered from the
    /// spool and are let go; one starting after it is kept for later.
    fn handed_at(&mut self, pos: Pos) -> Option<(Arc<Written>, usize)> {
        loop {
            let (w, _) = match self.pending.take() {
                Some(p) => p,
                None => (self.handed.try_recv()?, 0),
            };
            if w.next <= pos {
                continue;
            }
            if let Some(i) = w.index_of(pos) {
                return Some((w, i));
            }
            if w.at.first().is_some_and(|first| *first > pos) {
                self.pending = Some((w, 0));
                return None;
            }
            // `pos` falls inside the batch but not on an event: only the
            // spool can say what is there.
        }
    }

    /// Adds events after `g.next` until `max_events`, the byte bound, or
    /// `end`. False if the spool could not be read.
    async fn gather(&mut self, g: &mut Gathered, end: Pos) -> bool {
        while g.events < self.max_events && g.len() < BATCH_MAX_BYTES {
            let room = self.max_events - g.events;
            if let Some((w, from)) = self.handed_at(g.next) {
                let to = w.at.len().min(from + room);
                let next = w.at.get(to).copied().unwrap_or(w.next);
                // The writer's encoding is referred to, not copied.
                match self.spool.claim(&self.name, &w.at[from..to], next) {
                    None => {
                        g.records.push(Part::Handed {
                            written: Arc::clone(&w),
                            from,
                            to,
                        });
                        g.events += to - from;
                    }
                    Some(keep) => {
                        for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
                            g.records.push(Part::Handed {
                                written: Arc::clone(&w),
                                from: from + i,
                                to: from + i + 1,
                            });
                            g.events += 1;
                        }
                    }
                }
                g.next = next;
                if to < w.at.len() {
                    self.pending = Some((w, to));
                }
                continue;
            }
            // Read the spool up to where the next handed batch starts.
            let limit = match &self.pending {
                Some((w, i)) => w.at.get(*i).map_or(end, |p| (*p).min(end)),
                None => end,
            };
            if g.next >= limit {
                return true;
            }
            let max_bytes = BATCH_MAX_BYTES.saturating_sub(g.len());
            let Some(b) = self.read(g.next, limit, room, max_bytes).await else {
                return false;
            };
            let moved = b.next != g.next;
            let mut read = Vec::with_capacity(b.events.len() * 512);
            for ev in &b.events {
                put_record(ev, &mut read);
            }
            g.records.push(Part::Read(read.into()));
            g.events += b.events.len();
            g.next = b.next;
            self.sink
                .read_back
                .fetch_add(b.events.len() as u64, Ordering::Relaxed);
            if !moved {
                return true;
            }
        }
        true
    }

    /// Runs until drained (after [`Phase::Draining`]) or aborted, and
    /// leaves the last cursor saved.
    pub async fn run(mut self) {
        self.ship().await;
        self.save_unsaved().await;
        self.saved().await;
    }

    async fn ship(&mut self) {
        let mut end_rx = self.spool.subscribe_end();
        let mut phase = self.phase.clone();
        let mut cursor = self.spool.cursor(&self.name);
        let mut backoff = BACKOFF_MIN;
        loop {
            let end = *end_rx.borrow_and_update();
            let mut g = Gathered {
                records: RecordParts::default(),
                events: 0,
                next: cursor,
            };
            if !self.gather(&mut g, end).await {
                self.save_unsaved().await;
                if self.pause(&mut backoff, &mut phase).await {
                    return;
                }
                continue;
            }
            if g.events == 0 {
                if g.next != cursor {
                    // Only skipped lines, a segment boundary or dropped
                    // events: record it so the segment behind can be freed.
                    self.ack(g.next).await;
                    cursor = g.next;
                    continue;
                }
                if self.draining() && end == self.spool.end() {
                    return;
                }
                // Out of events: an idle proxy keeps its cursor on disk.
                self.save_unsaved().await;
                tokio::select! {
                    r = end_rx.changed() => if r.is_err() { return },
                    r = phase.changed() => if r.is_err() { return },
                }
                continue;
            }

            // Linger for a fuller batch, unless draining.
            let deadline = Instant::now() + self.linger;
            while g.events < self.max_events && !self.draining() {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    r = end_rx.changed() => if r.is_err() { break },
                    r = phase.changed() => if r.is_err() { break },
                }
                let end = *end_rx.borrow_and_update();
                if !self.gather(&mut g, end).await {
                    break;
                }
            }

            let n = g.events as u64;
            let request = EncodedLogs::new(&self.resource, g.records);
            loop {
                match self.transport.export(&request).await {
                    Ok(done) => {
                        backoff = BACKOFF_MIN;
                        if done.rejected > 0 {
                            self.sink.rejected.fetch_add(
                                u64::try_from(done.rejected).unwrap_or(0),
                                Ordering::Relaxed,
                            );
                            tracing::warn!(sink = %self.name, rejected = done.rejected, message = %done.message,
                                "audit receiver rejected records it accepted the request for");
                        }
                        break;
                    }
                    Err(e) => {
                        let failures = self.sink.send_failures.fetch_add(1, Ordering::Relaxed);
                        self.counters.bump();
                        if failures.is_power_of_two() || failures == 0 {
                            tracing::warn!(sink = %self.name, error = %e, failures = failures + 1,
                                "audit export failed; will retry");
                        }
                        self.save_unsaved().await;
                        if self.pause(&mut backoff, &mut phase).await {
                            return;
                        }
                    }
                }
            }
            // The receiver has the events.
            self.ack(g.next).await;
            cursor = g.next;
            self.sink.shipped.fetch_add(n, Ordering::Relaxed);
            self.sink.batches.fetch_add(1, Ordering::Relaxed);
            self.counters.bump();
        }
    }

    /// Sleeps the current backoff and doubles it; true if the phase channel
    /// is gone (the auditor was dropped).
    async fn pause(&self, backoff: &mut Duration, phase: &mut watch::Receiver<Phase>) -> bool {
        let delay = *backoff;
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = tokio::time::sleep(delay) => false,
            r = phase.changed() => r.is_err(),
        }
    }
}

/// Writes the cursor file, counting the save; false if it could not be
/// written. The spool already holds the position in memory: the events
/// before it were delivered.
fn save(spool: &Spool, name: &str, pos: Pos, counters: &SinkCounters) -> bool {
    match spool.persist(name, pos) {
        Ok(()) => {
            counters.cursor_saves.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(e) => {
            tracing::error!(sink = %name, error = %e, "audit cursor could not be saved");
            false
        }
    }
}
