//! `qlat pipeline`: the scheduled learning cycle.
//!
//! One cycle ([`Pipeline::run_once`]):
//!
//! 1. **lock** — a lease row in the database (one run at a time across
//!    processes; a crashed holder's lease expires) plus an in-process guard;
//!    runs left `running` by a dead process are marked `crashed`;
//! 2. **ingest** — only what is new since the source's watermark (see
//!    [`source`]), stored deduplicated in `observations` together with the
//!    new watermark;
//! 3. **checks** — data checks on the accumulated observations (see
//!    [`checks`]); fatal findings fail the run before training;
//! 4. **split** — time-ordered 70/30: the latest 30 % by time is the test
//!    set. A pipeline retrains as time goes on, so the honest question is
//!    how a model trained on the past does on what came after; a random
//!    split would let near-duplicates of test statements from the same
//!    minute into training;
//! 5. **train** — the newest `validation_fraction` (15 %) of the training
//!    rows, by time, is the validation slice; `train::fit_all` (MLP, ridge,
//!    fingerprint baseline, tiered) fits on the rest;
//! 6. **select / evaluate** — every model is scored on the validation rows
//!    and the candidate is the trained algorithm with the lowest validation
//!    MSE(ln) (`algorithm = auto`; a named algorithm pins it, see
//!    [`floor`]); then every model on the 30 % (MAE, RMSE, R², q-error
//!    percentiles, class accuracy/precision/recall/F1, on all statements and
//!    on those ≥ 10 ms), and the feature report;
//! 7. **compare** — first the quality floor ([`floor`]): the run is
//!    **rejected** when the MLP stopped at its first epoch or the candidate
//!    does not beat the fingerprint baseline's test MSE(ln) on the same
//!    rows, first run on a new server included. Then production (its own
//!    algorithm) is scored on the *same* test rows; the candidate is
//!    promoted only if its test **MSE of ln(seconds)** is at least
//!    `promote_margin` (relative) below production's:
//!    `cand ≤ prod × (1 − margin)`. MSE(ln) is the loss the models minimise
//!    and weighs every statement's relative error alike; q-error p90 is
//!    reported beside it. With no production model yet, a candidate that
//!    passed the floor is promoted. The verdict's reason is stored with the
//!    run (`qlat runs`, `/api/runs`, the runs page);
//! 8. **upload** — the model directory, dataset, reports and test
//!    predictions go through the artifact store; the uploaded model is
//!    downloaded again and loaded (checksums and all) before it is
//!    registered, so production can never point at a copy that does not
//!    load;
//! 9. **register / promote** — the version is registered (promoted or not,
//!    for lineage and manual rollback), and the `production` alias moves
//!    only on promotion, in a transaction that re-checks the lease;
//! 10. **notify** — `POST {server}/admin/reload` to every configured
//!     server (failures are logged, not fatal).
//!
//! The registered model is the one trained on the 70 % less its validation
//! slice — the one that was evaluated — not a refit on all data: what ships is what was measured, and
//! the next cycle's test rows (the newest 30 %) are never in production's
//! training data, so the comparison stays fair.
//!
//! Any error before the alias move fails the run (`status = failed`, the
//! error and the log kept) and leaves production untouched.

pub mod calibrate;
pub mod checks;
mod compare;
mod config;
pub mod floor;
mod handoff;
pub mod notify;
pub mod observations;
pub mod source;
mod steps;

// The lease and the status readers live in the registry, where the
// service (which must not depend on the pipeline) reads them too.
pub use crate::registry::{lock, status};
pub use compare::ServedModel;
pub use config::PipelineConfig;
pub use notify::NotifyOutcome;
pub use source::Source;
pub use status::{LiveAccuracy, PipelineStatus, live_accuracy, pipeline_status};

use crate::artifact_store::{ArtifactStore, ArtifactStoreExt};
use crate::eval::metrics::{EvalReport, metrics_with_analytic};
use crate::eval::split::time_split;
use crate::model::Sample;
use crate::registry::{
    Decision, ModelVersion, NewRun, PRODUCTION, Registry, RegistryError, RunEnd, RunStatus,
};
use crate::store::Db;
use crate::train::{TrainedModels, training_data_sha256};
use chrono::{DateTime, Utc};
use lock::Lease;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(
        "another pipeline run holds the lock ({holder}, run {run_id:?}, lease until {expires_at})"
    )]
    Busy {
        holder: String,
        run_id: Option<String>,
        expires_at: DateTime<Utc>,
    },
    #[error("a cycle of this pipeline is already in progress in this process")]
    AlreadyRunning,
    #[error("invalid pipeline configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("pipeline database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("run {run_id} failed at {step}: {message}")]
    RunFailed {
        run_id: String,
        step: &'static str,
        message: String,
    },
}

/// What one cycle did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleReport {
    pub run_id: String,
    pub decision: Decision,
    /// Observations newly stored this cycle.
    pub new_records: u64,
    pub training_rows: usize,
    pub test_rows: usize,
    /// The candidate registered this cycle.
    pub candidate_version: Option<String>,
    pub production_before: Option<String>,
    pub production_after: Option<String>,
    /// The candidate's algorithm (chosen on the validation rows or pinned).
    pub candidate_algorithm: Option<String>,
    /// Test MSE(ln) of the candidate, of production and of the fingerprint
    /// baseline (the quality floor) on the same rows.
    pub candidate_mse_ln: Option<f64>,
    pub production_mse_ln: Option<f64>,
    pub baseline_mse_ln: Option<f64>,
    /// Why the run decided so (stored with the run as its `reason`).
    pub reason: String,
    pub notified: Vec<NotifyOutcome>,
    /// Runs found left `running` by a dead process and marked crashed.
    pub crashed_runs: Vec<String>,
    pub duration_seconds: f64,
}

/// The build of qlat: `<package version>+<git commit>` (see
/// [`crate::model::trained::git_commit`]).
pub fn code_version() -> String {
    format!(
        "{}+{}",
        env!("CARGO_PKG_VERSION"),
        crate::model::trained::git_commit()
    )
}

/// A step's failure: which step, and why.
#[derive(Debug)]
struct StepError {
    step: &'static str,
    message: String,
}

fn at<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> StepError {
    move |e| StepError {
        step,
        message: e.to_string(),
    }
}

/// The run's log: every line is also a structured `tracing` event.
struct RunLog {
    run_id: String,
    lines: Vec<String>,
}

impl RunLog {
    fn line(&mut self, level: &str, step: &str, msg: &str) {
        self.lines.push(format!(
            "{} {level:5} [{step}] {msg}",
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
    }
    fn info(&mut self, step: &str, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        tracing::info!(run_id = %self.run_id, step, "{msg}");
        self.line("INFO", step, msg);
    }
    fn warn(&mut self, step: &str, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        tracing::warn!(run_id = %self.run_id, step, "{msg}");
        self.line("WARN", step, msg);
    }
    /// One line per server told to reload: which did, which did not and why.
    fn notified(&mut self, outcomes: &[notify::NotifyOutcome]) {
        for n in outcomes {
            if n.ok {
                self.info("notify", format!("{} reloaded", n.url));
            } else {
                let why = n.error.as_deref().unwrap_or("error");
                self.warn("notify", format!("{} did not reload: {why}", n.url));
            }
        }
    }
    fn error(&mut self, step: &str, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        tracing::error!(run_id = %self.run_id, step, "{msg}");
        self.line("ERROR", step, msg);
    }
    fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// The state a run accumulates.
struct RunCtx {
    id: String,
    holder: String,
    log: RunLog,
    metrics: serde_json::Map<String, Value>,
    artifacts: serde_json::Map<String, Value>,
    dataset_fingerprint: Option<String>,
    model_version: Option<String>,
}

/// What the steps decided.
struct Outcome {
    decision: Decision,
    reason: String,
    new_records: u64,
    training_rows: usize,
    test_rows: usize,
    production_before: Option<String>,
    production_after: Option<String>,
    candidate_algorithm: Option<String>,
    candidate_mse_ln: Option<f64>,
    production_mse_ln: Option<f64>,
    baseline_mse_ln: Option<f64>,
    notified: Vec<NotifyOutcome>,
}

/// Test-set predictions saved with each run (one CSV row per statement).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestPrediction {
    pub time: Option<String>,
    pub seconds: f64,
    pub predicted_seconds: f64,
    pub p10: f64,
    pub p90: f64,
    pub class: String,
    pub q_error: f64,
    pub production_predicted_seconds: Option<f64>,
    pub fingerprint: String,
    pub query: String,
}

/// A row of the dataset snapshot saved with each trained model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetRow {
    pub split: String,
    pub time: Option<String>,
    pub seconds: f64,
    pub fingerprint: String,
    pub query: String,
}

/// The scheduled learning cycle over one database and artifact store.
pub struct Pipeline {
    db: Db,
    registry: Registry,
    store: Arc<dyn ArtifactStore>,
    config: Arc<PipelineConfig>,
    /// One cycle at a time in this process (the lease covers others).
    guard: tokio::sync::Mutex<()>,
    /// The run in progress, so a signal handler can end it cleanly.
    current: std::sync::Mutex<Option<(String, String)>>,
}

impl Pipeline {
    pub fn new(
        db: Db,
        store: Arc<dyn ArtifactStore>,
        config: PipelineConfig,
    ) -> Result<Pipeline, PipelineError> {
        config.validate()?;
        Ok(Pipeline {
            registry: Registry::new(db.clone()),
            db,
            store,
            config: Arc::new(config),
            guard: tokio::sync::Mutex::new(()),
            current: std::sync::Mutex::new(None),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Runs one cycle. `Err(Busy)` / `Err(AlreadyRunning)` mean another
    /// run holds the lock (no run row is written); `Err(RunFailed)` means
    /// this run failed and is recorded as such.
    pub async fn run_once(&self) -> Result<CycleReport, PipelineError> {
        let _guard = self
            .guard
            .try_lock()
            .map_err(|_| PipelineError::AlreadyRunning)?;
        let run_id = uuid::Uuid::now_v7().to_string();
        let holder = format!("pid {} run {run_id}", std::process::id());
        let Some(lease) = Lease::acquire(&self.db, &holder, &run_id, self.config.lease).await?
        else {
            let h = Lease::current(&self.db).await?;
            return Err(PipelineError::Busy {
                holder: h.as_ref().map(|h| h.holder.clone()).unwrap_or_default(),
                run_id: h.as_ref().and_then(|h| h.run_id.clone()),
                expires_at: crate::registry::time_of(h.map_or(0, |h| h.expires_at_us)),
            });
        };
        if let Ok(mut c) = self.current.lock() {
            *c = Some((run_id.clone(), holder.clone()));
        }
        let result = self.run_locked(&lease, run_id, holder).await;
        if let Ok(mut c) = self.current.lock() {
            *c = None;
        }
        if let Err(e) = lease.release().await {
            tracing::warn!(error = %e, "releasing the pipeline lock failed; it expires by itself");
        }
        result
    }

    /// Ends the run in progress as failed (e.g. on a second Ctrl-C) and
    /// gives the lock back, so the next run need not wait for the lease.
    pub async fn abandon_current(&self, why: &str) {
        let current = self.current.lock().ok().and_then(|c| c.clone());
        let Some((run_id, holder)) = current else {
            return;
        };
        // Keep the progress the run saved so far, and say why it ended.
        let saved = self.registry.get_run(&run_id).await.ok().flatten();
        let mut log = saved.as_ref().map(|r| r.log.clone()).unwrap_or_default();
        if !log.is_empty() {
            log.push('\n');
        }
        log.push_str(&format!(
            "{} ERROR [abandon] {why}; production untouched",
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
        let end = RunEnd {
            status: RunStatus::Failed,
            decision: None,
            reason: None,
            dataset_fingerprint: saved.as_ref().and_then(|r| r.dataset_fingerprint.clone()),
            metrics: saved
                .as_ref()
                .map_or_else(|| json!({}), |r| r.metrics.clone()),
            artifacts: saved
                .as_ref()
                .map_or_else(|| json!({}), |r| r.artifacts.clone()),
            model_version: None,
            error: Some(why.to_string()),
            log,
        };
        if let Err(e) = self.registry.finish_run(&run_id, &end).await {
            tracing::error!(%run_id, error = %e, "could not mark the run failed");
        }
        const SQL: &str = "DELETE FROM pipeline_lock WHERE holder = $1";
        let released = crate::registry::on_pool!(&self.db, p => sqlx::query(SQL).bind(&holder).execute(p).await.map(|r| r.rows_affected()));
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the lock; it expires by itself");
        }
    }

    /// Runs `run_once` now and then every `every` until `stop` turns true
    /// (a cycle in progress is finished first).
    pub async fn run_every(&self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            match self.run_once().await {
                Ok(r) => tracing::info!(
                    run_id = %r.run_id,
                    decision = r.decision.as_str(),
                    new_records = r.new_records,
                    duration_seconds = r.duration_seconds,
                    "pipeline cycle finished"
                ),
                Err(e @ (PipelineError::Busy { .. } | PipelineError::AlreadyRunning)) => {
                    tracing::info!("{e}; skipping this cycle")
                }
                Err(e) => tracing::error!(error = %e, "pipeline cycle failed"),
            }
            if *stop.borrow() {
                break;
            }
        }
    }

    async fn run_locked(
        &self,
        lease: &Lease,
        run_id: String,
        holder: String,
    ) -> Result<CycleReport, PipelineError> {
        let started = Instant::now();
        self.registry
            .start_run(&NewRun {
                id: run_id.clone(),
                params: self.config.params(),
                code_version: code_version(),
                holder: holder.clone(),
            })
            .await?;
        let mut ctx = RunCtx {
            id: run_id.clone(),
            holder,
            log: RunLog {
                run_id: run_id.clone(),
                lines: Vec::new(),
            },
            metrics: serde_json::Map::new(),
            artifacts: serde_json::Map::new(),
            dataset_fingerprint: None,
            model_version: None,
        };
        ctx.log.info(
            "lock",
            format!(
                "lock taken (lease {:?}); source {}, store {}",
                self.config.lease,
                self.config.source.id(),
                self.store.describe()
            ),
        );
        let crashed = self.registry.mark_crashed(&run_id).await?;
        if !crashed.is_empty() {
            ctx.log.warn(
                "lock",
                format!(
                    "marked {} run(s) left running by a process that died as crashed: {}",
                    crashed.len(),
                    crashed.join(", ")
                ),
            );
        }
        let work = self.config.work_dir.join(&run_id);
        let outcome = self.steps(&mut ctx, lease, &work).await;
        if let Err(e) = tokio::fs::remove_dir_all(&work).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %work.display(), error = %e, "could not remove the run's scratch directory");
        }
        let duration_seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(o) => {
                let summary = ctx.metrics.entry("summary").or_insert_with(|| json!({}));
                if let Some(s) = summary.as_object_mut() {
                    s.insert("new_records".into(), json!(o.new_records));
                    s.insert(
                        "promoted".into(),
                        json!(u8::from(o.decision == Decision::Promoted)),
                    );
                    s.insert("duration_seconds".into(), json!(duration_seconds));
                }
                ctx.log.info(
                    "done",
                    format!(
                        "{} in {duration_seconds:.1} s: {}",
                        o.decision.as_str(),
                        o.reason
                    ),
                );
                let end = RunEnd {
                    status: RunStatus::Succeeded,
                    decision: Some(o.decision),
                    reason: Some(o.reason.clone()),
                    dataset_fingerprint: ctx.dataset_fingerprint.clone(),
                    metrics: Value::Object(ctx.metrics.clone()),
                    artifacts: Value::Object(ctx.artifacts.clone()),
                    model_version: ctx.model_version.clone(),
                    error: None,
                    log: ctx.log.text(),
                };
                self.registry.finish_run(&run_id, &end).await?;
                Ok(CycleReport {
                    run_id,
                    decision: o.decision,
                    new_records: o.new_records,
                    training_rows: o.training_rows,
                    test_rows: o.test_rows,
                    candidate_version: ctx.model_version,
                    production_before: o.production_before,
                    production_after: o.production_after,
                    candidate_algorithm: o.candidate_algorithm,
                    candidate_mse_ln: o.candidate_mse_ln,
                    production_mse_ln: o.production_mse_ln,
                    baseline_mse_ln: o.baseline_mse_ln,
                    reason: o.reason,
                    notified: o.notified,
                    crashed_runs: crashed,
                    duration_seconds,
                })
            }
            Err(StepError { step, message }) => {
                ctx.log
                    .error(step, format!("run failed, production untouched: {message}"));
                let end = RunEnd {
                    status: RunStatus::Failed,
                    decision: None,
                    reason: None,
                    dataset_fingerprint: ctx.dataset_fingerprint.clone(),
                    metrics: Value::Object(ctx.metrics.clone()),
                    artifacts: Value::Object(ctx.artifacts.clone()),
                    model_version: ctx.model_version.clone(),
                    error: Some(format!("{step}: {message}")),
                    log: ctx.log.text(),
                };
                self.registry.finish_run(&run_id, &end).await?;
                Err(PipelineError::RunFailed {
                    run_id,
                    step,
                    message,
                })
            }
        }
    }

    /// Whether an earlier run on this source finished with a decision.
    async fn decided_before(&self, ctx: &RunCtx) -> bool {
        let source = self.config.source.id();
        match self.registry.list_runs(50).await {
            Ok(runs) => runs.iter().any(|r| {
                r.id != ctx.id
                    && r.status == RunStatus::Succeeded
                    && r.decision.is_some()
                    && r.params.get("source").and_then(Value::as_str) == Some(source.as_str())
            }),
            Err(e) => {
                tracing::warn!(error = %e, "could not read earlier runs; training anyway");
                false
            }
        }
    }

    /// Saves the run's progress so a crash leaves a trace of how far it got.
    async fn checkpoint(&self, ctx: &RunCtx) {
        let saved = self
            .registry
            .update_running(
                &ctx.id,
                &Value::Object(ctx.metrics.clone()),
                &Value::Object(ctx.artifacts.clone()),
                &ctx.log.text(),
            )
            .await;
        if let Err(e) = saved {
            tracing::warn!(run_id = %ctx.id, error = %e, "could not save the run's progress");
        }
    }

    async fn steps(
        &self,
        ctx: &mut RunCtx,
        lease: &Lease,
        work: &std::path::Path,
    ) -> Result<Outcome, StepError> {
        let stored = self.ingest(ctx).await?;
        let production = self.registry.production().await.map_err(at("ingest"))?;
        let production_before = production.as_ref().map(|m| m.version.clone());
        let unchanged = stored.inserted == 0 && !self.config.retrain_without_new_data;
        if unchanged && (production.is_some() || self.decided_before(ctx).await) {
            // Training is deterministic: the same rows would give the same
            // candidate and the same decision (a refused first candidate
            // would otherwise be retrained every cycle).
            let reason = if production.is_some() {
                "no new observations since the last run; production unchanged".to_string()
            } else {
                "no new observations since the last run, which decided on the same data; \
                 servers keep the model they answer with"
                    .to_string()
            };
            ctx.log.info("ingest", &reason);
            return Ok(Outcome {
                decision: Decision::Skipped,
                reason,
                new_records: 0,
                training_rows: 0,
                test_rows: 0,
                production_after: production_before.clone(),
                production_before,
                candidate_algorithm: None,
                candidate_mse_ln: None,
                production_mse_ln: None,
                baseline_mse_ln: None,
                notified: Vec::new(),
            });
        }
        let (rows, data) = self.check(ctx, &stored).await?;
        let split = self.split(ctx, &rows)?;
        self.checkpoint(ctx).await;
        let (models, trained) = self.train(ctx, &split).await?;
        let production_score = match (&production, &self.config.served) {
            (None, Some(served)) => self.score_served(ctx, served, &split.test).await,
            _ => {
                self.score_against_production(ctx, production.as_ref(), &split.test, work)
                    .await
            }
        };
        let decided = self
            .decide(
                ctx,
                &trained,
                &production_score,
                production_before.as_deref(),
                &split,
            )
            .await;
        let uploaded = self
            .upload(
                ctx,
                models,
                &trained,
                &data,
                &split,
                &production_score,
                work,
            )
            .await?;
        self.register(ctx, &uploaded, &trained, &split.dataset_fp)
            .await?;
        let (mut production_after, notified) = self
            .promote(
                ctx,
                lease,
                &uploaded.version,
                &decided,
                production_before.clone(),
            )
            .await?;
        if decided.decision != Decision::Promoted {
            let refreshed = self
                .refresh_calibration(ctx, lease, production.as_ref(), &split, work)
                .await;
            match refreshed {
                Ok(Some(r)) if r.promoted => production_after = Some(r.version),
                Ok(_) => {}
                Err(e) => ctx.log.warn(
                    "calibrate",
                    format!("server calibration not refreshed: {e}"),
                ),
            }
        }
        Ok(Outcome {
            decision: decided.decision,
            reason: decided.reason,
            new_records: stored.inserted,
            training_rows: split.train.len(),
            test_rows: split.test.len(),
            production_before,
            production_after,
            candidate_algorithm: Some(trained.selection.algorithm.clone()),
            candidate_mse_ln: Some(decided.candidate_mse_ln),
            production_mse_ln: decided.production_mse_ln,
            baseline_mse_ln: Some(decided.baseline_mse_ln),
            notified,
        })
    }

    /// Downloads production and scores it on the test rows.
    async fn score_production(
        &self,
        prod: &ModelVersion,
        test: &Arc<Vec<Sample>>,
        work: &std::path::Path,
    ) -> Result<(EvalReport, Vec<f64>), String> {
        let dir = work.join("production");
        self.store
            .get_dir(&prod.artifact_key, &dir)
            .await
            .map_err(|e| e.to_string())?;
        // Production answers with its own algorithm, whatever this run
        // chose for its candidate.
        let (test, algorithm, thresholds) = (
            Arc::clone(test),
            prod.algorithm.clone(),
            self.config.train.thresholds,
        );
        tokio::task::spawn_blocking(move || {
            let models = TrainedModels::load(&dir).map_err(|e| e.to_string())?;
            let model = models
                .by_name(&algorithm)
                .ok_or_else(|| format!("production has no {algorithm} model"))?;
            let sqls: Vec<&str> = test.iter().map(|s| s.sql.as_str()).collect();
            let truth: Vec<f64> = test.iter().map(|s| s.seconds).collect();
            let preds = model.predict_batch(&sqls);
            let report = metrics_with_analytic(&preds, &truth, &thresholds);
            Ok((report, preds.iter().map(|p| p.predicted_seconds).collect()))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Fetches the stored model back, loads it and compares a few answers
    /// with the in-memory model.
    async fn verify_uploaded(
        &self,
        key: &str,
        version: &str,
        algorithm: &str,
        models: &TrainedModels,
        test: &Arc<Vec<Sample>>,
        work: &std::path::Path,
    ) -> Result<(), String> {
        let dir = work.join("verify");
        let manifest = self
            .store
            .get_dir(key, &dir)
            .await
            .map_err(|e| format!("reading the stored model back: {e}"))?
            .ok_or_else(|| "the stored model has no model.json".to_string())?;
        if manifest.model_version != version {
            return Err(format!(
                "stored model says version {}, expected {version}",
                manifest.model_version
            ));
        }
        let probe: Vec<String> = test.iter().take(32).map(|s| s.sql.clone()).collect();
        let algorithm = algorithm.to_string();
        let expected: Vec<f64> = {
            let m = models
                .by_name(&algorithm)
                .ok_or_else(|| format!("no model named {algorithm}"))?;
            let sqls: Vec<&str> = probe.iter().map(String::as_str).collect();
            m.predict_batch(&sqls)
                .iter()
                .map(|p| p.predicted_seconds)
                .collect()
        };
        tokio::task::spawn_blocking(move || {
            let loaded = TrainedModels::load(&dir).map_err(|e| format!("stored model: {e}"))?;
            let m = loaded
                .by_name(&algorithm)
                .ok_or_else(|| format!("stored model has no {algorithm}"))?;
            let sqls: Vec<&str> = probe.iter().map(String::as_str).collect();
            for (p, e) in m.predict_batch(&sqls).iter().zip(&expected) {
                let (a, b) = (p.predicted_seconds, *e);
                if (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1e-12) {
                    return Err(format!(
                        "stored model answers {a} where the trained one answers {b}"
                    ));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
