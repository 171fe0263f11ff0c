//! The asynchronous, batched prediction writer.
//!
//! Request handlers hand their record to [`StoreWriter::submit`] and wait
//! for the answer before replying, so an acknowledged prediction is a
//! durable one: committed to the database ([`Ack::Stored`]), or — while the
//! database cannot take writes — appended and `fsync`ed to this process's
//! [spool](super::spool) ([`Ack::Buffered`]), which is replayed into the
//! database when it takes writes again or after a restart. A record that can
//! be made durable nowhere is refused ([`SubmitError::Unavailable`], 503),
//! never acknowledged and dropped.
//!
//! One task owns the writes. It takes whatever has queued up while the last
//! transaction ran and commits it as one multi-row INSERT (group commit), so
//! throughput rises with load while an idle server still commits each record
//! at once. A failed batch is retried once on a fresh connection. If it
//! fails again because of a record (a constraint, a value the database
//! cannot hold), it is split in halves until that record is found, and the
//! record goes to the dead-letter table with the reason — a poison record
//! never blocks the queue. Any other failure (down, disk full, read-only)
//! is the database's: the records go to the spool. The written counter
//! counts rows the database confirmed.

use super::Db;
use super::predictions::{PredictionRecord, insert_batch, insert_dead_letter};
use super::spool::{Orphan, Spool, SpoolError, SpoolLimits, Spooled};
use futures_util::FutureExt;
use prometheus::{IntCounter, IntGauge};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How the store holds an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Committed to the database.
    Stored,
    /// In the durable spool while the database cannot take writes; replayed
    /// into it when it can (or at the next start).
    Buffered,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the prediction store is full ({0} records waiting); retry later")]
    Full(usize),
    #[error("the prediction store is shutting down")]
    Closed,
    /// The database refuses writes and the spool cannot take the record
    /// either: nothing was acknowledged.
    #[error("the prediction store cannot keep records now; retry later")]
    Unavailable,
}

/// Limits of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Records waiting to be taken by the writer task.
    pub queue_capacity: usize,
    /// Records the spool keeps while the database cannot take writes.
    pub buffer_capacity: usize,
    /// Bytes the spool may grow to.
    pub spool_max_bytes: u64,
    /// The spool folder of this store (see [`super::spool::folder_for`]);
    /// `None` keeps nothing durable outside the database, so an outage
    /// answers 503.
    pub spool_dir: Option<PathBuf>,
    /// Most records committed in one transaction.
    pub max_batch: usize,
    /// First wait before retrying a failed write; doubles up to 5 s.
    pub retry_backoff: Duration,
    /// How long shutdown keeps replaying the spool into the database (what
    /// is left stays in the spool for the next start).
    pub drain_deadline: Duration,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            queue_capacity: 10_000,
            buffer_capacity: 100_000,
            spool_max_bytes: 256 << 20,
            spool_dir: None,
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
    pub dead_letters: IntCounter,
}

/// What shutdown left behind. Nothing acknowledged can be lost: an
/// acknowledgement is sent only after a commit or a spool `fsync`, so what
/// the database does not hold at exit is in the spool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Acknowledged records left in the spool, replayed at the next start.
    pub spooled: usize,
}

type AckSender = oneshot::Sender<Result<Ack, SubmitError>>;

// Nearly every message is a record, so boxing it would only add an
// allocation per prediction.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Record(PredictionRecord, AckSender),
    Shutdown(oneshot::Sender<DrainReport>),
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
    /// Starts the writer task on the current runtime. Spools left by
    /// processes that died are replayed first thing.
    pub fn start(db: Db, mut config: WriterConfig, metrics: WriterMetrics) -> StoreWriter {
        config.max_batch = config.max_batch.max(1);
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let healthy = Arc::new(AtomicBool::new(true));
        let queue_capacity = config.queue_capacity.max(1);
        let task = tokio::spawn(
            Task {
                db,
                rx,
                healthy: healthy.clone(),
                metrics: metrics.clone(),
                spool: None,
                orphans_checked: false,
                outage: false,
                backoff: config.retry_backoff,
                retry_at: Instant::now(),
                probe: None,
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

    /// Queues a record and waits until it is durable.
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
        ack_rx.await.map_err(|_| SubmitError::Closed)?
    }

    /// Queues all records or none (a batch request is stored whole or
    /// refused whole), then waits until they are durable.
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
            out.push(ack.await.map_err(|_| SubmitError::Closed)??);
        }
        Ok(out)
    }

    /// Records queued plus records spooled.
    pub fn depth(&self) -> usize {
        (self.queue_capacity - self.tx.capacity()) + self.spooled()
    }

    /// Acknowledged records waiting in the spool.
    pub fn spooled(&self) -> usize {
        self.metrics.buffered.get().max(0) as usize
    }

    /// Whether the database takes writes and nothing waits in the spool.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && self.spooled() == 0
    }

    /// Writes everything queued, replays the spool until it is empty or the
    /// drain deadline passes, then stops the task.
    pub async fn shutdown(&self) -> DrainReport {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done_tx)).await.is_err() {
            return DrainReport::default();
        }
        let report = done_rx.await.unwrap_or_default();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
        report
    }
}

struct Task {
    db: Db,
    rx: mpsc::Receiver<Msg>,
    healthy: Arc<AtomicBool>,
    metrics: WriterMetrics,
    config: WriterConfig,
    /// This process's spool, created the first time it is needed.
    spool: Option<Spool>,
    orphans_checked: bool,
    /// The database refused the last write: new records go to the spool
    /// until a replay succeeds.
    outage: bool,
    backoff: Duration,
    retry_at: Instant,
    /// While in outage: a `SELECT 1` running beside the writer, so that a
    /// database that takes seconds to refuse a connection never holds up
    /// the spooling of new records. A replay is tried once it answers.
    probe: Option<JoinHandle<bool>>,
}

/// Where a record ended up after a write attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stored,
    NotStored,
}

impl Task {
    async fn run(mut self) {
        let mut msgs = Vec::with_capacity(self.config.max_batch);
        loop {
            // One replay step per round, so that a steady stream of new
            // records cannot keep the spool from draining.
            if self.replay_due() {
                self.replay_step().await;
            }
            msgs.clear();
            while msgs.len() < self.config.max_batch {
                match self.rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            if msgs.is_empty() {
                let wait = self.replay_wait();
                tokio::select! {
                    n = self.rx.recv_many(&mut msgs, self.config.max_batch) => {
                        if n == 0 {
                            return;
                        }
                    }
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
            let mut records = Vec::with_capacity(msgs.len());
            let mut shutdown = None;
            for m in msgs.drain(..) {
                match m {
                    Msg::Record(r, ack) => records.push((r, ack)),
                    Msg::Shutdown(done) => shutdown = Some(done),
                }
            }
            self.store(records).await;
            if let Some(done) = shutdown {
                let report = self.drain().await;
                let _ = done.send(report);
                return;
            }
        }
    }

    fn has_backlog(&self) -> bool {
        self.outage || !self.orphans_checked || self.spool.as_ref().is_some_and(|s| s.pending() > 0)
    }

    /// Whether to replay now. In outage, only after a probe found the
    /// database answering (the probe is started here when due).
    fn replay_due(&mut self) -> bool {
        if !self.has_backlog() || Instant::now() < self.retry_at {
            return false;
        }
        if !self.outage {
            return true;
        }
        match &self.probe {
            None => {
                let db = self.db.clone();
                self.probe = Some(tokio::spawn(async move { db.ping().await }));
                false
            }
            Some(p) if !p.is_finished() => false,
            Some(_) => {
                let answered = self
                    .probe
                    .take()
                    .and_then(|p| p.now_or_never())
                    .and_then(Result::ok)
                    .unwrap_or(false);
                if !answered {
                    self.enter_outage("the database does not answer");
                }
                answered
            }
        }
    }

    fn replay_wait(&self) -> Duration {
        if self.probe.is_some() {
            Duration::from_millis(20)
        } else if self.has_backlog() {
            self.retry_at.saturating_duration_since(Instant::now())
        } else {
            Duration::from_secs(3600)
        }
    }

    /// Makes the records durable and answers each sender: the database when
    /// it takes writes, else the spool, else a refusal.
    async fn store(&mut self, records: Vec<(PredictionRecord, AckSender)>) {
        if records.is_empty() {
            return;
        }
        let (batch, acks): (Vec<PredictionRecord>, Vec<AckSender>) = records.into_iter().unzip();
        let outcomes = if self.outage {
            vec![Outcome::NotStored; batch.len()]
        } else {
            self.write_isolated(&batch).await
        };
        let mut left = Vec::new();
        let mut left_acks = Vec::new();
        for ((record, ack), outcome) in batch.into_iter().zip(acks).zip(outcomes) {
            match outcome {
                Outcome::Stored => {
                    let _ = ack.send(Ok(Ack::Stored));
                }
                Outcome::NotStored => {
                    left.push(record);
                    left_acks.push(ack);
                }
            }
        }
        if left.is_empty() {
            return;
        }
        let answer = self.spool_append(&left).map(|()| Ack::Buffered);
        for ack in left_acks {
            let _ = ack.send(answer.clone());
        }
    }

    fn spool_append(&mut self, records: &[PredictionRecord]) -> Result<(), SubmitError> {
        if self.spool.is_none() {
            let Some(dir) = &self.config.spool_dir else {
                tracing::error!(
                    records = records.len(),
                    "the database refuses writes and no spool is configured; refusing predictions"
                );
                return Err(SubmitError::Unavailable);
            };
            let limits = SpoolLimits {
                max_records: self.config.buffer_capacity,
                max_bytes: self.config.spool_max_bytes,
            };
            match Spool::create(dir, limits) {
                Ok(s) => self.spool = Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "cannot create the spool; refusing predictions");
                    return Err(SubmitError::Unavailable);
                }
            }
        }
        let spool = self.spool.as_mut().ok_or(SubmitError::Unavailable)?;
        match spool.append(records) {
            Ok(()) => {
                self.metrics.buffered.set(spool.pending() as i64);
                Ok(())
            }
            Err(SpoolError::Full { records: held, .. }) => Err(SubmitError::Full(held)),
            Err(e) => {
                tracing::error!(error = %e, records = records.len(), "spooling failed; refusing predictions");
                Err(SubmitError::Unavailable)
            }
        }
    }

    /// Writes the records; see the module documentation. Returns where each
    /// one ended up, and switches to outage mode when the database refuses
    /// writes as such.
    async fn write_isolated(&mut self, records: &[PredictionRecord]) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::NotStored; records.len()];
        let mut ranges = std::collections::VecDeque::from([(0, records.len())]);
        let mut retried = false;
        while let Some((start, end)) = ranges.pop_front() {
            let part = &records[start..end];
            let error = match insert_batch(&self.db, part).await {
                Ok(confirmed) => {
                    self.metrics.written.inc_by(confirmed);
                    self.healthy.store(true, Ordering::Relaxed);
                    outcomes[start..end].fill(Outcome::Stored);
                    continue;
                }
                Err(e) => e,
            };
            self.metrics.write_failures.inc();
            if !retried {
                // Once on a fresh connection (the failed one was closed).
                retried = true;
                ranges.push_front((start, end));
                continue;
            }
            if error.is_record_fault() {
                if start == end - 1 {
                    if self.dead_letter(&part[0], &error.to_string()).await {
                        outcomes[start] = Outcome::Stored;
                        continue;
                    }
                } else {
                    // Find the record(s) at fault; the others are stored.
                    let mid = start + (end - start) / 2;
                    ranges.push_front((mid, end));
                    ranges.push_front((start, mid));
                    continue;
                }
            }
            self.enter_outage(&error.to_string());
            break;
        }
        outcomes
    }

    async fn dead_letter(&mut self, record: &PredictionRecord, reason: &str) -> bool {
        let json = serde_json::to_string(record).unwrap_or_default();
        match insert_dead_letter(&self.db, &record.id, record.created_at_us, &json, reason).await {
            Ok(()) => {
                self.metrics.dead_letters.inc();
                tracing::error!(id = %record.id, reason, "the database refused a prediction; kept in prediction_dead_letters");
                true
            }
            Err(_) => false,
        }
    }

    fn enter_outage(&mut self, error: &str) {
        if !self.outage {
            tracing::error!(
                error,
                "the prediction store refuses writes; spooling predictions to disk until it takes them again"
            );
            self.backoff = self.config.retry_backoff;
        } else {
            self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
        }
        self.outage = true;
        self.healthy.store(false, Ordering::Relaxed);
        self.retry_at = Instant::now() + self.backoff;
    }

    /// Replays one batch from the spool (ours first, then orphans of dead
    /// processes). Leaving outage mode is decided here: a replay that
    /// writes is the proof that the database takes writes again.
    async fn replay_step(&mut self) {
        let max = self.config.max_batch;
        if let Some(spool) = self.spool.as_mut()
            && spool.pending() > 0
        {
            let (lines, offset) = match spool.read_batch(max) {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(error = %e, "reading the spool failed");
                    self.retry_at = Instant::now() + Duration::from_secs(5);
                    return;
                }
            };
            let n = lines.len();
            if self.replay_lines(lines).await {
                if let Some(spool) = self.spool.as_mut()
                    && let Err(e) = spool.replayed(offset, n)
                {
                    tracing::error!(error = %e, "truncating the replayed spool failed");
                }
                self.recovered();
            }
            return;
        }
        // `replay_due` holds, so orphans are unchecked or we are in outage.
        if self.replay_orphans().await {
            self.orphans_checked = true;
            self.recovered();
        }
    }

    /// Replays every orphan spool completely; false when the database
    /// refused (the orphan stays for the next try).
    async fn replay_orphans(&mut self) -> bool {
        let Some(dir) = self.config.spool_dir.clone() else {
            return true;
        };
        for mut orphan in Orphan::find(&dir) {
            loop {
                let (lines, offset) = match orphan.read_batch(self.config.max_batch) {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::error!(error = %e, "reading an orphan spool failed");
                        return false;
                    }
                };
                if lines.is_empty() {
                    break;
                }
                let n = lines.len();
                if !self.replay_lines(lines).await {
                    return false;
                }
                orphan.replayed(offset);
                tracing::info!(records = n, spool = %orphan.path.display(), "replayed predictions spooled by an earlier process");
            }
            if let Err(e) = orphan.finish() {
                tracing::error!(error = %e, "removing a replayed spool failed");
            }
        }
        true
    }

    /// Writes spooled lines; true when every one is in the database (or
    /// its dead-letter table).
    async fn replay_lines(&mut self, lines: Vec<Spooled>) -> bool {
        let mut records = Vec::with_capacity(lines.len());
        for line in lines {
            match line {
                Spooled::Record(r) => records.push(*r),
                Spooled::Unreadable(text) => {
                    let id = uuid::Uuid::now_v7().to_string();
                    let now = chrono::Utc::now().timestamp_micros();
                    let kept =
                        insert_dead_letter(&self.db, &id, now, &text, "unreadable spool line")
                            .await
                            .is_ok();
                    if !kept {
                        self.enter_outage("the dead-letter table refused an unreadable spool line");
                        return false;
                    }
                    self.metrics.dead_letters.inc();
                }
            }
        }
        if records.is_empty() {
            return true;
        }
        let outcomes = self.write_isolated(&records).await;
        outcomes.iter().all(|o| *o == Outcome::Stored)
    }

    fn recovered(&mut self) {
        if self.outage {
            tracing::info!("the prediction store takes writes again; replaying the spool");
        }
        self.outage = false;
        self.backoff = self.config.retry_backoff;
        self.retry_at = Instant::now();
        let spooled = self.spool.as_ref().map_or(0, Spool::pending);
        self.metrics.buffered.set(spooled as i64);
    }

    /// Shutdown: store everything still queued, then replay the spool until
    /// it is empty or the deadline passes.
    async fn drain(&mut self) -> DrainReport {
        self.rx.close();
        let mut rest = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            if let Msg::Record(r, ack) = m {
                rest.push((r, ack));
            }
        }
        self.store(rest).await;
        let deadline = Instant::now() + self.config.drain_deadline;
        while self.has_backlog() && Instant::now() < deadline {
            if !self.replay_due() {
                tokio::time::sleep(self.replay_wait().min(deadline - Instant::now())).await;
                continue;
            }
            self.replay_step().await;
        }
        self.metrics.queue_depth.set(0);
        let spooled = self.spool.as_ref().map_or(0, Spool::pending);
        if spooled > 0 {
            tracing::warn!(
                records = spooled,
                spool = %self.spool.as_ref().map(|s| s.path().display().to_string()).unwrap_or_default(),
                "the database still refuses writes; the spooled predictions are replayed at the next start"
            );
        }
        DrainReport { spooled }
    }
}
