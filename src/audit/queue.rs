//! The bounded hand-off between the statement path and the spool writer.
//!
//! A `VecDeque` under a mutex rather than a channel: `drop_oldest` has to
//! take the front of a full queue, which no bounded channel offers. The lock
//! is held only to push or pop, never across an await or any I/O.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{oneshot, Notify};

use super::config::OnFull;
use super::event::AuditEvent;
use super::stats::Counters;
use super::AuditError;

/// Sent once the item's event is durable in the spool.
pub(crate) type DurableAck = oneshot::Sender<Result<(), AuditError>>;

pub(crate) struct Item {
    pub event: AuditEvent,
    pub durable: Option<DurableAck>,
}

impl Item {
    /// Tells a durable waiter its event is gone, so it never waits forever.
    pub fn dropped(self) {
        if let Some(ack) = self.durable {
            let _ = ack.send(Err(AuditError::Dropped));
        }
    }
}

pub(crate) enum PushError {
    /// `refuse_sessions`: the caller gets the event back.
    Full(Box<AuditEvent>),
    Closed,
}

pub(crate) enum TryPushError {
    /// The queue is full and its policy is to wait: the caller gets the
    /// item back, to push it with [`Queue::push`].
    WouldBlock(Item),
    Push(PushError),
}

struct State {
    items: VecDeque<Item>,
    closed: bool,
}

pub(crate) struct Queue {
    state: Mutex<State>,
    cap: usize,
    policy: OnFull,
    /// Wakes the writer; `notify_one` keeps a permit, so a push that lands
    /// while the writer is busy is not missed.
    readable: Notify,
    /// Wakes blocked emitters after the writer made room.
    space: Notify,
    counters: Arc<Counters>,
}

impl Queue {
    pub fn new(cap: usize, policy: OnFull, counters: Arc<Counters>) -> Queue {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(cap.min(4096)),
                closed: false,
            }),
            cap,
            policy,
            readable: Notify::new(),
            space: Notify::new(),
            counters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves a consistent deque (every
        // critical section is a single push or pop), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pushes unless that would wait (the queue is full and the policy is
    /// to block); then the item is handed back.
    pub fn try_push(&self, item: Item) -> Result<(), TryPushError> {
        let result = {
            let mut st = self.lock();
            if st.closed {
                item.dropped();
                Err(PushError::Closed)
            } else if st.items.len() < self.cap {
                st.items.push_back(item);
                self.note_len(st.items.len());
                Ok(())
            } else {
                match self.policy {
                    OnFull::Block => return Err(TryPushError::WouldBlock(item)),
                    OnFull::RefuseSessions => {
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                        Err(PushError::Full(Box::new(item.event)))
                    }
                    OnFull::DropOldest => {
                        if let Some(old) = st.items.pop_front() {
                            old.dropped();
                        }
                        st.items.push_back(item);
                        self.counters.note_dropped(1);
                        Ok(())
                    }
                    OnFull::DropNewest => {
                        item.dropped();
                        self.counters.note_dropped(1);
                        Ok(())
                    }
                }
            }
        };
        if result.is_ok() {
            self.counters.emitted.fetch_add(1, Ordering::Relaxed);
            self.readable.notify_one();
        }
        self.counters.bump();
        result.map_err(TryPushError::Push)
    }

    pub async fn push(&self, item: Item) -> Result<(), PushError> {
        let mut item = Some(item);
        let mut blocked = false;
        let result = loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            {
                let mut st = self.lock();
                let Some(it) = item.take() else {
                    break Err(PushError::Closed);
                };
                if st.closed {
                    it.dropped();
                    break Err(PushError::Closed);
                }
                if st.items.len() < self.cap {
                    st.items.push_back(it);
                    self.note_len(st.items.len());
                    break Ok(());
                }
                match self.policy {
                    OnFull::Block => {
                        // Registered before the lock is released, so a pop
                        // between here and the await still wakes us.
                        notified.as_mut().enable();
                        item = Some(it);
                    }
                    OnFull::RefuseSessions => {
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                        break Err(PushError::Full(Box::new(it.event)));
                    }
                    OnFull::DropOldest => {
                        if let Some(old) = st.items.pop_front() {
                            old.dropped();
                        }
                        st.items.push_back(it);
                        self.counters.note_dropped(1);
                        break Ok(());
                    }
                    OnFull::DropNewest => {
                        it.dropped();
                        self.counters.note_dropped(1);
                        break Ok(());
                    }
                }
            }
            if !blocked {
                blocked = true;
                self.counters
                    .blocked_emitters
                    .fetch_add(1, Ordering::Relaxed);
                self.counters.bump();
            }
            notified.await;
        };
        if blocked {
            self.counters
                .blocked_emitters
                .fetch_sub(1, Ordering::Relaxed);
        }
        if result.is_ok() {
            self.counters.emitted.fetch_add(1, Ordering::Relaxed);
            self.readable.notify_one();
        }
        self.counters.bump();
        result
    }

    fn note_len(&self, len: usize) {
        let len = len as u64;
        self.counters.queue_len.store(len, Ordering::Relaxed);
        self.counters
            .queue_high_water
            .fetch_max(len, Ordering::Relaxed);
    }

    /// Takes up to `max` items; empty only when the queue is empty.
    pub fn pop_batch(&self, max: usize) -> Vec<Item> {
        let batch: Vec<Item> = {
            let mut st = self.lock();
            let n = st.items.len().min(max);
            let batch = st.items.drain(..n).collect();
            self.note_len(st.items.len());
            batch
        };
        if !batch.is_empty() {
            self.space.notify_waiters();
        }
        batch
    }

    /// Waits until something may have been pushed (or the queue was closed).
    pub async fn readable(&self) {
        self.readable.notified().await;
    }

    pub fn is_closed_and_empty(&self) -> bool {
        let st = self.lock();
        st.closed && st.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Refuses further pushes; what is queued still drains.
    pub fn close(&self) {
        self.lock().closed = true;
        self.readable.notify_one();
        self.space.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{EventId, EventKind};

    fn item() -> Item {
        Item {
            event: AuditEvent::new(EventKind::Statement),
            durable: None,
        }
    }

    async fn filled(policy: OnFull) -> (Queue, Arc<Counters>, Vec<EventId>) {
        let c = Arc::new(Counters::default());
        let q = Queue::new(2, policy, c.clone());
        let mut ids = Vec::new();
        for _ in 0..2 {
            let it = item();
            ids.push(it.event.id.clone());
            assert!(q.push(it).await.is_ok());
        }
        (q, c, ids)
    }

    #[tokio::test]
    async fn drop_oldest_keeps_the_newest() {
        let (q, c, ids) = filled(OnFull::DropOldest).await;
        let it = item();
        let newest = it.event.id.clone();
        assert!(q.push(it).await.is_ok());
        let got: Vec<EventId> = q.pop_batch(10).into_iter().map(|i| i.event.id).collect();
        assert_eq!(got, vec![ids[1].clone(), newest]);
        assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(c.take_pending_dropped(), 1);
    }

    #[tokio::test]
    async fn drop_newest_keeps_the_oldest() {
        let (q, c, ids) = filled(OnFull::DropNewest).await;
        assert!(q.push(item()).await.is_ok());
        let got: Vec<EventId> = q.pop_batch(10).into_iter().map(|i| i.event.id).collect();
        assert_eq!(got, ids);
        assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn refuse_hands_the_event_back() {
        let (q, c, _) = filled(OnFull::RefuseSessions).await;
        let it = item();
        let id = it.event.id.clone();
        match q.push(it).await {
            Err(PushError::Full(e)) => assert_eq!(e.id, id),
            _ => panic!("expected Full"),
        }
        assert_eq!(c.refused.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn block_waits_for_room() {
        let (q, c, _) = filled(OnFull::Block).await;
        let q = Arc::new(q);
        let pusher = tokio::spawn({
            let q = q.clone();
            async move { q.push(item()).await.is_ok() }
        });
        let waited = c
            .wait_until(
                || c.blocked_emitters.load(Ordering::Relaxed) == 1,
                std::time::Duration::from_secs(10),
            )
            .await;
        assert!(waited, "emitter never blocked");
        assert!(!pusher.is_finished());
        assert_eq!(q.pop_batch(1).len(), 1);
        assert!(pusher.await.unwrap_or(false));
        assert_eq!(q.len(), 2);
    }

    #[tokio::test]
    async fn close_releases_blocked_emitters() {
        let (q, _, _) = filled(OnFull::Block).await;
        let q = Arc::new(q);
        let pusher = tokio::spawn({
            let q = q.clone();
            async move { matches!(q.push(item()).await, Err(PushError::Closed)) }
        });
        tokio::task::yield_now().await;
        q.close();
        assert!(pusher.await.unwrap_or(false));
    }
}
