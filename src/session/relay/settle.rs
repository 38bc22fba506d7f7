//! When a quiet session gives its read buffers back.
//!
//! An idle session should cost little memory, so its read buffers go once
//! it is quiet (see `Peer::release_idle_buffer`). Doing that at every quiet
//! moment made a busy session free and allocate two buffers per statement,
//! and each allocation of that size sweeps the allocator's small-object
//! caches: a tenth of a no-policy session's CPU. Buffers now go only once
//! the session has stayed quiet for [`SETTLE_AFTER`], tracked with one
//! timer that is re-armed at most once per period, not per statement. The
//! one exception is the first quiet moment after the login (the relay
//! settles at once there): most sessions of a pool sit idle from then on,
//! and in a burst of logins the next sessions reuse the memory.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long a session stays quiet before its buffers go.
pub(super) const SETTLE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(super) struct Settler {
    armed: bool,
    quiet_since: Option<Instant>,
}

impl Settler {
    /// The session has just gone quiet; `read_at` is a clock reading the
    /// relay took while handling the reply that made it so (one clock
    /// read per statement fewer), if it took one.
    pub fn quiet(&mut self, timer: Pin<&mut Sleep>, read_at: Option<Instant>) {
        let now = read_at.unwrap_or_else(Instant::now);
        self.quiet_since = Some(now);
        if !self.armed {
            timer.reset(now + SETTLE_AFTER);
            self.armed = true;
        }
    }

    /// The client sent something: the quiet period is over.
    pub fn busy(&mut self) {
        self.quiet_since = None;
    }

    /// Whether the timer has fired. Polled only while the session is quiet:
    /// a busy session polls its relay several times per statement, and a
    /// timer that fired meanwhile is seen at the next quiet moment.
    pub fn poll(&self, timer: Pin<&mut Sleep>, cx: &mut Context<'_>) -> bool {
        self.armed && self.quiet_since.is_some() && timer.poll(cx).is_ready()
    }

    /// The timer fired: true when the buffers should go now. A session that
    /// went quiet again since the timer was armed gets the rest of its
    /// period.
    pub fn fired(&mut self, timer: Pin<&mut Sleep>, still_quiet: bool) -> bool {
        self.armed = false;
        let Some(since) = self.quiet_since.filter(|_| still_quiet) else {
            return false;
        };
        let due = since + SETTLE_AFTER;
        if Instant::now() >= due {
            self.quiet_since = None;
            return true;
        }
        timer.reset(due);
        self.armed = true;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn buffers_go_only_after_a_whole_quiet_period() {
        let timer = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(timer);
        let mut s = Settler::default();
        s.quiet(timer.as_mut(), None);
        tokio::time::advance(SETTLE_AFTER / 2).await;
        // Busy, then quiet again half-way: the first timer fires early.
        s.busy();
        s.quiet(timer.as_mut(), None);
        tokio::time::advance(SETTLE_AFTER / 2).await;
        let fired =
            std::future::poll_fn(|cx| std::task::Poll::Ready(s.poll(timer.as_mut(), cx))).await;
        assert!(fired);
        assert!(
            !s.fired(timer.as_mut(), true),
            "quiet for half a period only"
        );
        tokio::time::advance(SETTLE_AFTER / 2).await;
        let fired =
            std::future::poll_fn(|cx| std::task::Poll::Ready(s.poll(timer.as_mut(), cx))).await;
        assert!(fired);
        assert!(s.fired(timer.as_mut(), true));
        // Busy when it is due: not even looked at until the next quiet
        // moment, which then gets a whole period of its own.
        s.quiet(timer.as_mut(), None);
        s.busy();
        tokio::time::advance(SETTLE_AFTER).await;
        let poll = |s: &Settler, timer: Pin<&mut Sleep>| {
            let waker = std::task::Waker::noop();
            s.poll(timer, &mut Context::from_waker(waker))
        };
        assert!(!poll(&s, timer.as_mut()), "busy: not polled");
        s.quiet(timer.as_mut(), None);
        assert!(poll(&s, timer.as_mut()));
        assert!(!s.fired(timer.as_mut(), true), "quiet for no time yet");
        tokio::time::advance(SETTLE_AFTER).await;
        assert!(poll(&s, timer.as_mut()));
        assert!(!s.fired(timer.as_mut(), false), "no longer quiet");
        assert!(!poll(&s, timer.as_mut()), "disarmed");
    }
}
