//! The audit trail: events from the statement path, a bounded queue, an
//! on-disk spool, and shippers that deliver the spool to OTLP receivers.
//!
//! ```text
//! emit ──► queue (bounded, on_full policy) ──► writer ──► spool segments
//!                                                          │
//!                                   one shipper per sink ◄─┘ (cursor per sink)
//! ```
//!
//! The statement path only ever touches the queue: no network, no disk. The
//! spool makes delivery at-least-once across receiver outages and restarts;
//! event ids let a receiver drop the duplicates that implies. A shipper that
//! keeps up is handed each written batch in memory, already encoded
//! (`handoff`), and reads the spool back only to catch up.

pub mod config;
pub mod event;
mod event_id;
mod handoff;
pub mod json_line;
pub mod otlp;
pub mod otlp_wire;
mod queue;
mod request;
mod shipper;
mod spool;
mod stats;
pub mod tail;
mod writer;

pub use config::{
    AuditConfig, FsyncPolicy, OnFull, OtlpSinkConfig, SinkConfig, StatementText, StdoutSinkConfig,
};
pub use event::{attr, AttrBlock, AttrKey, AttrRef, AttrValue, AuditEvent, EventId, EventKind};
pub use spool::Pos;
pub use stats::{AuditStats, SinkStats};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use queue::{Item, PushError, Queue};
use shipper::{Phase, Shipper};
use spool::Spool;
use stats::{Counters, SinkCounters};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Under `refuse_sessions`: the event is handed back, unrecorded.
    #[error("audit queue is full")]
    Full(Box<AuditEvent>),
    #[error("audit event was dropped by the overflow policy before it was written")]
    Dropped,
    #[error("the auditor is shut down")]
    Closed,
    #[error("audit spool {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid audit configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Sink(#[from] otlp::ExportError),
}

/// What shutdown managed, for the final log line and the exit path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Per sink: events still spooled, to be sent after the next start.
    pub undelivered: Vec<(String, u64)>,
    /// Events still in the queue when the writer was stopped; lost.
    pub unspooled: u64,
    /// The counters once the writer and the shippers stopped: final, so
    /// emitted = delivered + dropped (+ undelivered and unspooled, when the
    /// deadline cut the drain short) holds on them exactly.
    pub stats: AuditStats,
}

struct SinkHandle {
    name: String,
    counters: Arc<SinkCounters>,
    task: JoinHandle<()>,
}

/// The front of the audit trail. Dropping it without [`Auditor::shutdown`]
/// stops its tasks where they are, as a crash would: what reached the spool
/// is sent by the next auditor on the same directory.
pub struct Auditor {
    queue: Arc<Queue>,
    spool: Arc<Spool>,
    counters: Arc<Counters>,
    statement_text: StatementText,
    durable_by_default: bool,
    writer: Option<JoinHandle<()>>,
    sinks: Vec<SinkHandle>,
    phase: watch::Sender<Phase>,
    finishing: watch::Sender<bool>,
}

impl Auditor {
    /// Opens the spool (recovering from a crash), and starts the writer and
    /// one shipper per OTLP sink. Must run inside a tokio runtime.
    pub async fn start(cfg: AuditConfig) -> Result<Auditor, AuditError> {
        cfg.validate().map_err(AuditError::Config)?;
        let counters = Arc::new(Counters::default());
        let mut transports = Vec::new();
        for sink in &cfg.sinks {
            let Some(name) = config::sink_name(sink) else {
                continue;
            };
            let t = match sink {
                SinkConfig::OtlpGrpc(c) => otlp::Transport::grpc(c)?,
                SinkConfig::OtlpHttp(c) => otlp::Transport::http(c)?,
                SinkConfig::Stdout(_) => continue,
            };
            transports.push((name, t));
        }
        let names: Vec<String> = transports.iter().map(|(n, _)| n.clone()).collect();
        let dir = cfg.spool_dir.clone();
        let c2 = counters.clone();
        let (spool, seg) = tokio::task::spawn_blocking(move || Spool::open(&dir, &names, c2))
            .await
            .map_err(|e| AuditError::Spool {
                path: cfg.spool_dir.clone(),
                source: std::io::Error::other(e),
            })?
            .map_err(|source| AuditError::Spool {
                path: cfg.spool_dir.clone(),
                source,
            })?;

        let queue = Arc::new(Queue::new(
            cfg.queue_capacity,
            cfg.on_full,
            counters.clone(),
        ));
        let (finishing, finishing_rx) = watch::channel(false);
        let (handoff, handed) = handoff::Handoff::new(transports.len());
        let writer = writer::Writer::new(
            &cfg,
            queue.clone(),
            spool.clone(),
            counters.clone(),
            finishing_rx,
            handoff,
        );
        let writer = tokio::spawn(writer.run(seg));

        let resource = otlp::ResourceInfo {
            service_instance_id: cfg
                .service_instance_id
                .clone()
                .unwrap_or_else(event::new_event_id),
        };
        let (phase, phase_rx) = watch::channel(Phase::Running);
        let mut sinks = Vec::new();
        for ((name, transport), handed) in transports.into_iter().zip(handed) {
            let sc = Arc::new(SinkCounters::default());
            let shipper = Shipper {
                name: name.clone(),
                spool: spool.clone(),
                transport,
                resource: resource.clone(),
                counters: counters.clone(),
                sink: sc.clone(),
                max_events: cfg.batch_max_events,
                linger: cfg.batch_linger,
                save_every: cfg.cursor_save_interval,
                phase: phase_rx.clone(),
                handed,
                pending: None,
                saving: None,
                cursor: Default::default(),
            };
            sinks.push(SinkHandle {
                name,
                counters: sc,
                task: tokio::spawn(shipper.run()),
            });
        }
        Ok(Auditor {
            queue,
            spool,
            counters,
            statement_text: cfg.statement_text,
            durable_by_default: matches!(cfg.fsync, FsyncPolicy::EveryEvent),
            writer: Some(writer),
            sinks,
            phase,
            finishing,
        })
    }

    /// What callers should put into `db.query.text`.
    pub fn statement_text(&self) -> StatementText {
        self.statement_text
    }

    /// Queues an event. Never waits on the network or the disk, except:
    /// under `on_full: block` it waits for queue room, and under
    /// `fsync: every_event` it behaves as [`Auditor::emit_durable`].
    pub async fn emit(&self, event: AuditEvent) -> Result<(), AuditError> {
        if self.durable_by_default {
            return self.emit_durable(event).await;
        }
        self.push(event, None).await
    }

    /// Queues an event without waiting: `Err(event)` when queueing it would
    /// wait (a full queue under `on_full: block`, or every event durable),
    /// for the caller to [`Auditor::emit`] it instead.
    pub fn try_emit(&self, mut event: AuditEvent) -> Result<Result<(), AuditError>, AuditEvent> {
        if self.durable_by_default {
            return Err(event);
        }
        if self.statement_text == StatementText::None {
            event.remove(attr::DB_QUERY_TEXT);
        }
        match self.queue.try_push(Item {
            event,
            durable: None,
        }) {
            Ok(()) => Ok(Ok(())),
            Err(queue::TryPushError::WouldBlock(item)) => Err(item.event),
            Err(queue::TryPushError::Push(PushError::Full(ev))) => Ok(Err(AuditError::Full(ev))),
            Err(queue::TryPushError::Push(PushError::Closed)) => Ok(Err(AuditError::Closed)),
        }
    }

    /// Queues an event and resolves once it is fsynced into the spool.
    pub async fn emit_durable(&self, event: AuditEvent) -> Result<(), AuditError> {
        let (tx, rx) = oneshot::channel();
        self.push(event, Some(tx)).await?;
        match rx.await {
            Ok(r) => r,
            // The writer is gone (auditor dropped mid-flight).
            Err(_) => Err(AuditError::Closed),
        }
    }

    async fn push(
        &self,
        mut event: AuditEvent,
        durable: Option<queue::DurableAck>,
    ) -> Result<(), AuditError> {
        if self.statement_text == StatementText::None {
            event.remove(attr::DB_QUERY_TEXT);
        }
        match self.queue.push(Item { event, durable }).await {
            Ok(()) => Ok(()),
            Err(PushError::Full(ev)) => Err(AuditError::Full(ev)),
            Err(PushError::Closed) => Err(AuditError::Closed),
        }
    }

    pub fn stats(&self) -> AuditStats {
        let mut s = self.counters.snapshot();
        s.spool_bytes = self.spool.total_bytes();
        s.spool_segments = self.spool.segment_count();
        s.sinks = self
            .sinks
            .iter()
            .map(|h| {
                let g =
                    |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                SinkStats {
                    name: h.name.clone(),
                    shipped: g(&h.counters.shipped),
                    batches: g(&h.counters.batches),
                    send_failures: g(&h.counters.send_failures),
                    rejected: g(&h.counters.rejected),
                    lag_bytes: self.spool.lag_bytes(&h.name),
                    read_back: g(&h.counters.read_back),
                    cursor_saves: g(&h.counters.cursor_saves),
                }
            })
            .collect();
        s
    }

    /// Waits until `cond` holds for the stats, re-checking whenever a counter
    /// moves; false if `timeout` passes first.
    pub async fn wait_for_stats(
        &self,
        mut cond: impl FnMut(&AuditStats) -> bool,
        timeout: Duration,
    ) -> bool {
        let counters = self.counters.clone();
        counters.wait_until(|| cond(&self.stats()), timeout).await
    }

    /// Shuts down an auditor that sessions may still hold: waits a moment
    /// for their references to go (the ones still alive after the drain are
    /// aborted anyway), then writes out what is queued and lets the shippers
    /// deliver until `drain` is over.
    pub async fn stop_shared(a: Arc<Auditor>, drain: Duration) {
        let mut a = a;
        for _ in 0..100 {
            match Arc::try_unwrap(a) {
                Ok(auditor) => {
                    let report = auditor.shutdown(Instant::now() + drain).await;
                    tracing::info!(?report, "audit trail stopped");
                    return;
                }
                Err(still_shared) => {
                    a = still_shared;
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        tracing::warn!("audit trail still in use at exit: queued events are written, unsent ones stay spooled for the next start");
    }

    /// Stops taking events, writes and syncs everything queued, then lets the
    /// shippers deliver until `deadline`. What they could not deliver stays
    /// spooled for the next start and is counted in the report and the log.
    pub async fn shutdown(mut self, deadline: Instant) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        self.queue.close();
        if let Some(mut w) = self.writer.take() {
            let finished = tokio::select! {
                r = &mut w => r.is_ok(),
                _ = tokio::time::sleep_until(deadline) => {
                    // Past the deadline, the size bound gives way: written
                    // over the bound beats lost in memory.
                    let _ = self.finishing.send(true);
                    let grace = deadline + Duration::from_secs(5);
                    matches!(tokio::time::timeout_at(grace, &mut w).await, Ok(Ok(())))
                }
            };
            if !finished {
                w.abort();
                report.unspooled = self.queue.len() as u64;
            }
        }
        let _ = self.phase.send(Phase::Draining);
        for h in &mut self.sinks {
            if tokio::time::timeout_at(deadline, &mut h.task)
                .await
                .is_err()
            {
                h.task.abort();
            }
        }
        for h in &self.sinks {
            let spool = self.spool.clone();
            let name = h.name.clone();
            let pending = tokio::task::spawn_blocking(move || spool.pending_events(&name))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            report.undelivered.push((h.name.clone(), pending));
        }
        report.stats = self.stats();
        let undelivered: u64 = report.undelivered.iter().map(|(_, n)| n).sum();
        if undelivered > 0 || report.unspooled > 0 {
            tracing::warn!(
                undelivered,
                unspooled = report.unspooled,
                spool = %self.spool.dir().display(),
                "audit shutdown: events left in the spool will be sent after the next start"
            );
        } else {
            tracing::info!("audit shutdown: every event delivered");
        }
        report
    }
}

impl Drop for Auditor {
    fn drop(&mut self) {
        self.queue.close();
        if let Some(w) = &self.writer {
            w.abort();
        }
        for h in &self.sinks {
            h.task.abort();
        }
    }
}
