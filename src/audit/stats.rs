//! Counters for the admin endpoint: plain atomics, updated where things
//! happen, read without locks.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Counters {
    pub emitted: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    /// Dropped since the last written event; moved into that event.
    pending_dropped: AtomicU64,
    pub refused: AtomicU64,
    pub torn_lines: AtomicU64,
    pub corrupt_lines: AtomicU64,
    pub fsyncs: AtomicU64,
    pub write_errors: AtomicU64,
    pub queue_len: AtomicU64,
    pub queue_high_water: AtomicU64,
    pub blocked_emitters: AtomicU64,
    /// Fired on every change, so tests and shutdown wait on events, not time.
    changed: Notify,
}

impl Counters {
    pub fn note_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.pending_dropped.fetch_add(n, Ordering::Relaxed);
        if self.dropped.load(Ordering::Relaxed) == n {
            tracing::warn!(n, "audit overflow: events dropped by the overflow policy");
        }
    }

    pub fn take_pending_dropped(&self) -> u64 {
        self.pending_dropped.swap(0, Ordering::Relaxed)
    }

    /// Puts back a count that could not be attached to an event after all.
    pub fn restore_pending_dropped(&self, n: u64) {
        self.pending_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn bump(&self) {
        self.changed.notify_waiters();
    }

    /// Waits until `cond` holds, re-checking on every change; false on timeout.
    pub async fn wait_until(&self, mut cond: impl FnMut() -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if cond() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return cond();
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct SinkCounters {
    pub shipped: AtomicU64,
    pub batches: AtomicU64,
    pub send_failures: AtomicU64,
    pub rejected: AtomicU64,
    pub read_back: AtomicU64,
    pub cursor_saves: AtomicU64,
}

/// A snapshot of the auditor's counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct AuditStats {
    /// Events accepted by `emit`.
    pub emitted: u64,
    /// Events appended to the spool.
    pub written: u64,
    /// Events lost to `drop_oldest`/`drop_newest`.
    pub dropped: u64,
    /// Events handed back under `refuse_sessions`.
    pub refused: u64,
    /// Incomplete last lines found (and cut) after a crash.
    pub torn_lines: u64,
    /// Lines that were not a valid event, skipped by the shippers.
    pub corrupt_lines: u64,
    pub fsyncs: u64,
    pub write_errors: u64,
    pub queue_len: u64,
    pub queue_high_water: u64,
    pub blocked_emitters: u64,
    pub spool_bytes: u64,
    pub spool_segments: u64,
    pub sinks: Vec<SinkStats>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SinkStats {
    pub name: String,
    pub shipped: u64,
    pub batches: u64,
    pub send_failures: u64,
    /// Records the receiver accepted but reported as rejected (partial success).
    pub rejected: u64,
    /// Spooled bytes this sink has not had acknowledged yet.
    pub lag_bytes: u64,
    /// Events this sink read back from the spool (after a restart, an
    /// outage longer than the in-memory hand-off holds, a full hand-off
    /// queue) rather than taking them as they were written.
    pub read_back: u64,
    /// Times this sink's cursor file was written.
    pub cursor_saves: u64,
}

impl Counters {
    pub fn snapshot(&self) -> AuditStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AuditStats {
            emitted: g(&self.emitted),
            written: g(&self.written),
            dropped: g(&self.dropped),
            refused: g(&self.refused),
            torn_lines: g(&self.torn_lines),
            corrupt_lines: g(&self.corrupt_lines),
            fsyncs: g(&self.fsyncs),
            write_errors: g(&self.write_errors),
            queue_len: g(&self.queue_len),
            queue_high_water: g(&self.queue_high_water),
            blocked_emitters: g(&self.blocked_emitters),
            ..AuditStats::default()
        }
    }
}
