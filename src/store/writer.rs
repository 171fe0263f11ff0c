//! The asynchronous, batched prediction writer.
//!
//! Request handlers hand their record to [`StoreWriter::submit`] and wait
//! for the answer before replying, so an acknowledged prediction is one the
//! store holds: committed ([`Ack::Stored`]), or — while the database is
//! unreachable — kept in this process's bounded buffer ([`Ack::Buffered`])
//! until the database returns. When the queue and the buffer are full,
//! `submit` refuses at once ([`SubmitError::Full`]) so the handler can answer
//! 503 instead of dropping a record.
//!
//! One task owns the writes. It takes whatever has queued up while the last
//! transaction ran and commits it as one multi-row INSERT (group commit), so
//! throughput rises with load while an idle server still commits each record
//! at once.

use super::Db;
use super::predictions::{PredictionRecord, insert_batch};
use prometheus::{IntCounter, IntGauge};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How the store holds an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Committed to the database.
    Stored,
    /// Kept in memory while the database is unreachable; written when it
    /// returns (or at shutdown, within the drain deadline).
    Buffered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the prediction store is full ({0} records waiting); retry later")]
    Full(usize),
    #[error("the prediction store is shutting down")]
    Closed,
}

/// Limits of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Records waiting to be taken by the writer task.
    pub queue_capacity: usize,
    /// Records the writer keeps in memory while the database is down.
    pub buffer_capacity: usize,
    /// Most records committed in one transaction.
    pub max_batch: usize,
    /// First wait before retrying a failed write; doubles up to 5 s.
    pub retry_backoff: Duration,
    /// How long shutdown keeps retrying buffered records.
    pub drain_deadline: Duration,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            queue_capacity: 10_000,
            buffer_capacity: 100_000,
            max_batch: 1_000,
            retry_backoff: Duration::from_millis(100),
            drain_deadline: Duration::from_secs(20),
        }
    }
}

/// Prometheus handles the writer keeps current.
#[derive(Debug, Clone)]
pub struct WriterMetrics {
    pub queue_depth: IntGauge,
    pub buffered: IntGauge,
    pub written: IntCounter,
    pub write_failures: IntCounter,
}

// Nearly every message is a record, so boxing it would only add an
// allocation per prediction.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Record(PredictionRecord, oneshot::Sender<Ack>),
    Shutdown(oneshot::Sender<usize>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
    metrics: WriterMetrics,
    queue_capacity: usize,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl StoreWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db, config: WriterConfig, metrics: WriterMetrics) -> StoreWriter {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let healthy = Arc::new(AtomicBool::new(true));
        let queue_capacity = config.queue_capacity.max(1);
        let task = tokio::spawn(
            Task {
                db,
                rx,
                pending: VecDeque::new(),
                healthy: healthy.clone(),
                metrics: metrics.clone(),
                config,
            }
            .run(),
        );
        StoreWriter {
            tx,
            healthy,
            metrics,
            queue_capacity,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        }
    }

    /// Queues a record and waits until the store holds it.
    pub async fn submit(&self, record: PredictionRecord) -> Result<Ack, SubmitError> {
        let (ack_tx, ack_rx) = oneshot::channel();
        match self.tx.try_send(Msg::Record(record, ack_tx)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return Err(SubmitError::Full(self.depth()));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(SubmitError::Closed),
        }
        self.metrics.queue_depth.set(self.depth() as i64);
        ack_rx.await.map_err(|_| SubmitError::Closed)
    }

    /// Queues all records or none (a batch request is stored whole or
    /// refused whole), then waits until the store holds them.
    pub async fn submit_many(
        &self,
        records: Vec<PredictionRecord>,
    ) -> Result<Vec<Ack>, SubmitError> {
        let permits = match self.tx.try_reserve_many(records.len()) {
            Ok(p) => p,
            Err(mpsc::error::TrySendError::Full(())) => {
                return Err(SubmitError::Full(self.depth()));
            }
            Err(mpsc::error::TrySendError::Closed(())) => return Err(SubmitError::Closed),
        };
        let mut acks = Vec::with_capacity(records.len());
        for (permit, record) in permits.zip(records) {
            let (ack_tx, ack_rx) = oneshot::channel();
            permit.send(Msg::Record(record, ack_tx));
            acks.push(ack_rx);
        }
        self.metrics.queue_depth.set(self.depth() as i64);
        let mut out = Vec::with_capacity(acks.len());
        for ack in acks {
            out.push(ack.await.map_err(|_| SubmitError::Closed)?);
        }
        Ok(out)
    }

    /// Records queued plus records buffered.
    pub fn depth(&self) -> usize {
        (self.queue_capacity - self.tx.capacity()) + self.metrics.buffered.get().max(0) as usize
    }

    /// Whether the last write succeeded.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Writes everything acknowledged, then stops the task. Returns how many
    /// buffered records could not be written before the drain deadline
    /// (0 unless the database stayed down).
    pub async fn shutdown(&self) -> usize {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done_tx)).await.is_err() {
            return 0;
        }
        let lost = done_rx.await.unwrap_or(0);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
        lost
    }
}

struct Task {
    db: Db,
    rx: mpsc::Receiver<Msg>,
    /// Records taken from the queue but not committed yet, oldest first,
    /// with the acknowledgement still owed (if any).
    pending: VecDeque<(PredictionRecord, Option<oneshot::Sender<Ack>>)>,
    healthy: Arc<AtomicBool>,
    metrics: WriterMetrics,
    config: WriterConfig,
}

impl Task {
    async fn run(mut self) {
        let mut backoff = self.config.retry_backoff;
        let mut msgs = Vec::with_capacity(self.config.max_batch);
        loop {
            if self.pending.is_empty() {
                msgs.clear();
                if self.rx.recv_many(&mut msgs, self.take_limit()).await == 0 {
                    return;
                }
                if let Some(done) = self.take(&mut msgs) {
                    let lost = self.drain().await;
                    let _ = done.send(lost);
                    return;
                }
            } else {
                // Top up the batch with whatever arrived meanwhile.
                msgs.clear();
                let room = self.take_limit().saturating_sub(self.pending.len());
                while msgs.len() < room {
                    match self.rx.try_recv() {
                        Ok(m) => msgs.push(m),
                        Err(_) => break,
                    }
                }
                if let Some(done) = self.take(&mut msgs) {
                    let lost = self.drain().await;
                    let _ = done.send(lost);
                    return;
                }
            }
            if self.write_front().await {
                backoff = self.config.retry_backoff;
                continue;
            }
            // The database is down: acknowledge what is buffered and keep
            // taking new records into the buffer while waiting to retry.
            self.ack_buffered();
            let sleep = tokio::time::sleep(backoff);
            tokio::pin!(sleep);
            loop {
                if self.pending.len() >= self.config.buffer_capacity {
                    sleep.as_mut().await;
                    break;
                }
                tokio::select! {
                    _ = &mut sleep => break,
                    m = self.rx.recv() => match m {
                        Some(Msg::Record(r, ack)) => {
                            let _ = ack.send(Ack::Buffered);
                            self.pending.push_back((r, None));
                            self.metrics.buffered.set(self.pending.len() as i64);
                        }
                        Some(Msg::Shutdown(done)) => {
                            let lost = self.drain().await;
                            let _ = done.send(lost);
                            return;
                        }
                        None => break,
                    }
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Most records `pending` may hold: a batch, and never more than the
    /// buffer, since a failed write acknowledges everything pending as
    /// buffered.
    fn take_limit(&self) -> usize {
        self.config
            .max_batch
            .min(self.config.buffer_capacity)
            .max(1)
    }

    /// Moves records into `pending`; returns the shutdown request, if one
    /// came (records sent before it are kept).
    fn take(&mut self, msgs: &mut Vec<Msg>) -> Option<oneshot::Sender<usize>> {
        let mut shutdown = None;
        for m in msgs.drain(..) {
            match m {
                Msg::Record(r, ack) => self.pending.push_back((r, Some(ack))),
                Msg::Shutdown(done) => shutdown = Some(done),
            }
        }
        shutdown
    }

    /// Commits up to one batch from the front of `pending`.
    async fn write_front(&mut self) -> bool {
        let n = self.pending.len().min(self.config.max_batch);
        if n == 0 {
            return true;
        }
        let batch: Vec<PredictionRecord> = self
            .pending
            .iter()
            .take(n)
            .map(|(r, _)| r.clone())
            .collect();
        match insert_batch(&self.db, &batch).await {
            Ok(()) => {
                for (_, ack) in self.pending.drain(..n) {
                    if let Some(ack) = ack {
                        let _ = ack.send(Ack::Stored);
                    }
                }
                self.metrics.written.inc_by(n as u64);
                self.metrics
                    .buffered
                    .set(self.pending.iter().filter(|(_, ack)| ack.is_none()).count() as i64);
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(records = n, "prediction store reachable again; catching up");
                }
                true
            }
            Err(e) => {
                self.metrics.write_failures.inc();
                if self.healthy.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, records = n, "writing predictions failed; buffering until the database returns");
                }
                false
            }
        }
    }

    fn ack_buffered(&mut self) {
        for (_, ack) in self.pending.iter_mut() {
            if let Some(ack) = ack.take() {
                let _ = ack.send(Ack::Buffered);
            }
        }
        self.metrics.buffered.set(self.pending.len() as i64);
    }

    /// Shutdown: take everything still queued, then write until empty or
    /// the deadline passes. Returns the records given up on.
    async fn drain(&mut self) -> usize {
        self.rx.close();
        while let Ok(m) = self.rx.try_recv() {
            if let Msg::Record(r, ack) = m {
                self.pending.push_back((r, Some(ack)));
            }
        }
        let deadline = tokio::time::Instant::now() + self.config.drain_deadline;
        let mut backoff = self.config.retry_backoff;
        while !self.pending.is_empty() {
            if self.write_front().await {
                continue;
            }
            if tokio::time::Instant::now() + backoff > deadline {
                let lost = self.pending.len();
                tracing::error!(
                    records = lost,
                    "database still unreachable at shutdown; buffered predictions are lost"
                );
                return lost;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        self.metrics.queue_depth.set(0);
        self.metrics.buffered.set(0);
        0
    }
}
