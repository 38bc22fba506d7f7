//! One task per OTLP sink: read after the sink's cursor, batch, send, and
//! move the cursor only after the receiver said yes. Failures are retried
//! with capped exponential backoff, forever: the spool, not the shipper,
//! decides what happens when the receiver stays away (its size bound and
//! overflow policy).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use super::otlp::{to_request, ResourceInfo, Transport};
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
    pub phase: watch::Receiver<Phase>,
}

impl Shipper {
    async fn read(&self, from: Pos, end: Pos, max_events: usize) -> Option<Batch> {
        let spool = self.spool.clone();
        let name = self.name.clone();
        let joined = tokio::task::spawn_blocking(move || {
            spool.take(&name, from, end, max_events, BATCH_MAX_BYTES)
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

    /// Moves the sink's cursor to `pos`. The spool takes the new position
    /// even when the cursor file cannot be saved (a full disk): the events
    /// before it were delivered, and sending them again would deliver them
    /// twice. The next acknowledgement saves the file.
    async fn ack(&self, pos: Pos) {
        let spool = self.spool.clone();
        let name = self.name.clone();
        match tokio::task::spawn_blocking(move || spool.ack(&name, pos)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(sink = %self.name, error = %e, "audit cursor could not be saved");
            }
            Err(e) => {
                tracing::error!(sink = %self.name, error = %e, "audit cursor writer failed");
            }
        }
    }

    fn draining(&self) -> bool {
        *self.phase.borrow() == Phase::Draining
    }

    /// Runs until drained (after [`Phase::Draining`]) or aborted.
    pub async fn run(self) {
        let mut end_rx = self.spool.subscribe_end();
        let mut phase = self.phase.clone();
        let mut cursor = self.spool.cursor(&self.name);
        let mut backoff = BACKOFF_MIN;
        loop {
            let end = *end_rx.borrow_and_update();
            let Some(mut batch) = self.read(cursor, end, self.max_events).await else {
                if self.pause(&mut backoff, &mut phase).await {
                    return;
                }
                continue;
            };
            if batch.events.is_empty() {
                if batch.next != cursor {
                    // Only skipped lines or a segment boundary: record it so
                    // the segment behind can be freed.
                    self.ack(batch.next).await;
                    cursor = batch.next;
                    continue;
                }
                if self.draining() && end == self.spool.end() {
                    return;
                }
                tokio::select! {
                    r = end_rx.changed() => if r.is_err() { return },
                    r = phase.changed() => if r.is_err() { return },
                }
                continue;
            }

            // Linger for a fuller batch, unless draining.
            let deadline = Instant::now() + self.linger;
            while batch.events.len() < self.max_events && !self.draining() {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    r = end_rx.changed() => if r.is_err() { break },
                    r = phase.changed() => if r.is_err() { break },
                }
                let end = *end_rx.borrow_and_update();
                let room = self.max_events - batch.events.len();
                if let Some(more) = self.read(batch.next, end, room).await {
                    batch.events.extend(more.events);
                    batch.next = more.next;
                }
            }

            let request = to_request(&batch.events, &self.resource);
            let n = batch.events.len() as u64;
            drop(batch.events);
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
                        if self.pause(&mut backoff, &mut phase).await {
                            return;
                        }
                    }
                }
            }
            // The receiver has the events.
            self.ack(batch.next).await;
            cursor = batch.next;
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
