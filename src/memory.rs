//! Giving memory back after a burst of sessions.
//!
//! The C library's allocator keeps what freed sessions used in per-thread
//! arenas, so without help a proxy that once held a thousand sessions keeps
//! their memory for good. When the number of live sessions has fallen well
//! below its recent peak, the arenas' free pages are handed back to the
//! system (`malloc_trim`). It is not done per session: a trim walks the
//! arenas, which is cheap once after a burst and wasteful all the time.

/// Fewer sessions than this gone since the peak is not worth a trim.
const MIN_DROP: usize = 64;

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
    pub fn observe(&mut self, live: usize) -> bool {
        self.peak = self.peak.max(live);
        if live * 2 > self.peak || self.peak - live < MIN_DROP {
            return false;
        }
        self.peak = live;
        trim();
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
        assert!(!t.observe(10));
        assert!(!t.observe(1000));
        assert!(!t.observe(600), "still above half the peak");
        assert!(t.observe(400));
        assert!(!t.observe(400), "the peak restarts from the trim");
        assert!(!t.observe(350));
        assert!(t.observe(100));
        assert!(
            !t.observe(50),
            "fewer than MIN_DROP sessions gone since the last trim"
        );
    }

    #[test]
    fn a_burst_between_checks_is_seen_through_its_starts() {
        let mut t = Trimmer::default();
        assert!(!t.observe(0));
        for live in 1..=500 {
            t.saw(live);
        }
        assert!(t.observe(0));
    }

    #[test]
    fn small_pools_are_left_alone() {
        let mut t = Trimmer::default();
        assert!(!t.observe(100));
        assert!(!t.observe(40), "60 gone: under MIN_DROP");
        assert!(t.observe(30));
    }
}
