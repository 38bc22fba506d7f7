//! Session lanes: one single-threaded runtime per worker thread, and every
//! session lives on one lane for its whole life.
//!
//! Why not the work-stealing scheduler the rest of pgward runs on: a session
//! is a strict request/response relay between two sockets, woken a few
//! times per statement for a few microseconds of work each time. On a
//! work-stealing runtime each of those wake-ups may pull a parked worker out
//! of its sleep to look for work to steal (a futex wake, a context switch
//! and cache traffic for a task that is already being run elsewhere). On a
//! lane the wake-up is handled by the thread whose epoll reported it, and a
//! parked lane sleeps only in epoll. Measured with `pgbench -S -M prepared
//! -c 8` through pgward on this project's 2-core bench host, proxy CPU per
//! transaction (docs/benchmarks.md has the run).
//!
//! Background work (audit writer and shippers, catalog refresh, admin,
//! metrics) stays on the main runtime: a session hands events across with a
//! waker, which works between runtimes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// Room for pg_query's recursion on the deepest statement it accepts (the
/// same as the main runtime's workers).
const STACK: usize = 8 << 20;
/// After a stop, how long a lane waits for its blocking tasks.
const STOP_WAIT: Duration = Duration::from_secs(2);

struct Lane {
    handle: Handle,
    live: Arc<AtomicUsize>,
}

/// The running lanes. Dropping it stops them (after the sessions on them
/// have ended: the caller drains first).
pub struct Lanes {
    lanes: Vec<Lane>,
    next: AtomicUsize,
    stop: CancellationToken,
}

/// A place for one session: which lane, and a count the session holds
/// while it lives so the next one goes where fewest are.
pub struct Seat {
    pub handle: Handle,
    live: Arc<AtomicUsize>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lanes {
    /// Starts `n` lanes (at least one).
    pub fn start(n: usize) -> std::io::Result<Lanes> {
        let stop = CancellationToken::new();
        let mut lanes = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_stack_size(STACK)
                .build()?;
            let handle = rt.handle().clone();
            let stopped = stop.clone();
            std::thread::Builder::new()
                .name(format!("pgward-lane-{i}"))
                .stack_size(STACK)
                .spawn(move || {
                    rt.block_on(stopped.cancelled());
                    rt.shutdown_timeout(STOP_WAIT);
                })?;
            lanes.push(Lane {
                handle,
                live: Arc::new(AtomicUsize::new(0)),
            });
        }
        Ok(Lanes {
            lanes,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// The lane with the fewest live sessions; ties go round-robin, so a
    /// burst of logins spreads before any of them has ended.
    pub fn seat(&self) -> Seat {
        let n = self.lanes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut best = start;
        let mut fewest = usize::MAX;
        for k in 0..n {
            let i = (start + k) % n;
            let live = self.lanes[i].live.load(Ordering::Relaxed);
            if live < fewest {
                fewest = live;
                best = i;
            }
        }
        let lane = &self.lanes[best];
        lane.live.fetch_add(1, Ordering::Relaxed);
        Seat {
            handle: lane.handle.clone(),
            live: Arc::clone(&lane.live),
        }
    }

    /// Live sessions per lane.
    pub fn loads(&self) -> Vec<usize> {
        self.lanes
            .iter()
            .map(|l| l.live.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_go_to_the_least_loaded_lane() {
        let lanes = Lanes::start(3).expect("lanes");
        let a = lanes.seat();
        let b = lanes.seat();
        let c = lanes.seat();
        assert_eq!(lanes.loads(), vec![1, 1, 1]);
        drop(b);
        let d = lanes.seat();
        assert_eq!(
            lanes.loads(),
            vec![1, 1, 1],
            "the freed lane is filled first"
        );
        drop((a, c, d));
        assert_eq!(lanes.loads(), vec![0, 0, 0]);
    }

    #[test]
    fn a_seat_runs_its_task_on_the_lane_thread() {
        let lanes = Lanes::start(2).expect("lanes");
        let seat = lanes.seat();
        let (tx, rx) = std::sync::mpsc::channel();
        seat.handle.spawn(async move {
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send(name);
        });
        let name = rx.recv().expect("the task ran");
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with("pgward-lane-")),
            "{name:?}"
        );
    }
}
