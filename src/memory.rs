//! Giving memory back after a burst of sessions.
//!
//! The C library's allocator keeps what freed sessions used in per-thread
//! arenas, so without help a proxy that once held a thousand sessions keeps
//! their memory for good. When the number of live sessions has fallen well
//! below its recent peak, the arenas' free pages are handed back to the
//! system (`malloc_trim`). The same goes for the read buffers of sessions
//! that went idle (released after a quiet period): many idle sessions' worth
//! of them is handed back too. It is not done per session: a trim walks the
//! arenas, which is cheap once after a burst and wasteful all the time.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Fewer sessions than this gone since the peak is not worth a trim.
const MIN_DROP: usize = 64;
/// Less than this in idle sessions' released buffers is not worth a trim.
const MIN_RELEASED: usize = 4 << 20;

/// Bytes of read buffers released by idle sessions since the last trim.
static RELEASED: AtomicUsize = AtomicUsize::new(0);

/// An idle session gave `bytes` of buffers back to the allocator.
pub fn note_released(bytes: usize) {
    RELEASED.fetch_add(bytes, Ordering::Relaxed);
}

/// Watches the number of live sessions, sampled now and then.
#[derive(Debug, Default)]
pub struct Trimmer {
    peak: usize,
}

impl Trimmer {
    /// Records the live session count as a session starts, so a burst
    /// shorter than the check interval still counts.
    pub fn saw(&mut self, live: usize) {
        self.peak = self.peak.max(live);
    }

    /// Records the live session count; trims when it has fallen to half
    /// of the peak seen since the last trim (and by at least `MIN_DROP`).
    /// Returns whether it trimmed.
    /// Also trims when idle sessions have released [`MIN_RELEASED`] of
    /// buffers since the last trim.
    pub fn observe(&mut self, live: usize) -> bool {
        let released = RELEASED.load(Ordering::Relaxed);
        if !self.due(live, released) {
            return false;
        }
        RELEASED.fetch_sub(released, Ordering::Relaxed);
        trim();
        true
    }

    /// Whether to trim now, given the live sessions and the bytes released
    /// since the last trim; the peak restarts when it says yes.
    fn due(&mut self, live: usize, released: usize) -> bool {
        self.peak = self.peak.max(live);
        let burst_over = live * 2 <= self.peak && self.peak - live >= MIN_DROP;
        if !burst_over && released < MIN_RELEASED {
            return false;
        }
        self.peak = live;
        true
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only reads and updates the allocator's own state
    // under its locks; any pad value is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_a_burst_then_waits_for_the_next() {
        let mut t = Trimmer::default();
        assert!(!t.due(10, 0));
        assert!(!t.due(1000, 0));
        assert!(!t.due(600, 0), "still above half the peak");
        assert!(t.due(400, 0));
        assert!(!t.due(400, 0), "the peak restarts from the trim");
        assert!(!t.due(350, 0));
        assert!(t.due(100, 0));
        assert!(
            !t.due(50, 0),
            "fewer than MIN_DROP sessions gone since the last trim"
        );
    }

    #[test]
    fn a_burst_between_checks_is_seen_through_its_starts() {
        let mut t = Trimmer::default();
        assert!(!t.due(0, 0));
        for live in 1..=500 {
            t.saw(live);
        }
        assert!(t.due(0, 0));
    }

    #[test]
    fn released_idle_buffers_are_handed_back() {
        let mut t = Trimmer::default();
        assert!(!t.due(1000, MIN_RELEASED - 1));
        assert!(
            t.due(1000, MIN_RELEASED),
            "no session gone, but buffers released"
        );
        assert!(!t.due(1000, 0));
    }

    #[test]
    fn small_pools_are_left_alone() {
        let mut t = Trimmer::default();
        assert!(!t.due(100, 0));
        assert!(!t.due(40, 0), "60 gone: under MIN_DROP");
        assert!(t.due(30, 0));
    }
}
