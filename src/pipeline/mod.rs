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
//! 5. **train** — `train::fit_all` (MLP, ridge, fingerprint baseline,
//!    tiered) on the 70 %;
//! 6. **evaluate** — every model on the 30 % (MAE, RMSE, R², q-error
//!    percentiles, class accuracy/precision/recall/F1, on all statements and
//!    on those ≥ 10 ms), and the feature report;
//! 7. **compare** — the production model scored on the *same* test rows;
//!    the candidate is promoted only if its test **MSE of ln(seconds)** (of
//!    the served algorithm, `mlp` by default) is at least `promote_margin`
//!    (relative) below production's: `cand ≤ prod × (1 − margin)`. MSE(ln)
//!    is the loss the models minimise and weighs every statement's relative
//!    error alike; q-error p90 is reported beside it. With no production
//!    model yet, the candidate is promoted;
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
//! The registered model is the one trained on the 70 % — the one that was
//! evaluated — not a refit on all data: what ships is what was measured, and
//! the next cycle's test rows (the newest 30 %) are never in production's
//! training data, so the comparison stays fair.
//!
//! Any error before the alias move fails the run (`status = failed`, the
//! error and the log kept) and leaves production untouched.

pub mod checks;
pub mod lock;
pub mod notify;
pub mod observations;
pub mod source;
pub mod status;

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
use crate::sql::catalog::Catalog;
use crate::store::Db;
use crate::train::{TrainConfig, TrainedModels, training_data_sha256};
use chrono::{DateTime, Utc};
use lock::Lease;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a cycle needs besides the database and the store.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub source: Source,
    /// Schema the featurizer resolves statements against.
    pub catalog: Catalog,
    pub train: TrainConfig,
    /// The algorithm compared with production (and served): mlp, ridge,
    /// baseline or tiered.
    pub algorithm: String,
    /// Relative improvement of test MSE(ln) required to promote, in [0, 1].
    pub promote_margin: f64,
    /// Share of the newest rows held out for testing.
    pub test_fraction: f64,
    /// Fewer usable rows than this fails the data checks.
    pub min_rows: usize,
    /// Train on at most the newest this many observations.
    pub max_rows: usize,
    /// Lock lease; a crashed run blocks others at most this long.
    pub lease: Duration,
    /// Server base URLs told to reload after a promotion.
    pub notify: Vec<String>,
    pub admin_token: Option<String>,
    pub notify_timeout: Duration,
    /// Train even when nothing new was ingested (normally skipped once a
    /// production model exists).
    pub retrain_without_new_data: bool,
    /// Scratch space for model directories (cleaned after each run).
    pub work_dir: PathBuf,
}

impl PipelineConfig {
    pub fn new(source: Source, catalog: Catalog) -> PipelineConfig {
        PipelineConfig {
            source,
            catalog,
            train: TrainConfig::default(),
            algorithm: "mlp".into(),
            promote_margin: 0.02,
            test_fraction: 0.3,
            min_rows: 50,
            max_rows: 200_000,
            lease: Duration::from_secs(60),
            notify: Vec::new(),
            admin_token: None,
            notify_timeout: Duration::from_secs(30),
            retrain_without_new_data: false,
            work_dir: std::env::temp_dir().join("qlat-pipeline"),
        }
    }

    fn validate(&self) -> Result<(), PipelineError> {
        let bad = |m: String| Err(PipelineError::Config(m));
        if !(0.0..=1.0).contains(&self.promote_margin) {
            return bad(format!(
                "promote margin {} is not in [0, 1]",
                self.promote_margin
            ));
        }
        if !(0.05..=0.95).contains(&self.test_fraction) {
            return bad(format!(
                "test fraction {} is not in [0.05, 0.95]",
                self.test_fraction
            ));
        }
        if !["mlp", "ridge", "baseline", "tiered"].contains(&self.algorithm.as_str()) {
            return bad(format!(
                "unknown algorithm {:?} (mlp, ridge, baseline, tiered)",
                self.algorithm
            ));
        }
        if self.lease < Duration::from_millis(500) {
            return bad("the lease must be at least 0.5 s".into());
        }
        if self.min_rows < 4 {
            return bad("min_rows must be at least 4 (train and test need rows)".into());
        }
        Ok(())
    }

    /// The run's parameters as recorded in the registry.
    fn params(&self) -> Value {
        json!({
            "source": self.source.id(),
            "algorithm": self.algorithm,
            "promote_margin": self.promote_margin,
            "promote_metric": "mse_ln",
            "split": "time-ordered",
            "test_fraction": self.test_fraction,
            "min_rows": self.min_rows,
            "max_rows": self.max_rows,
            "seed": self.train.seed,
            "train": self.train,
        })
    }
}

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
    /// Test MSE(ln) of the candidate and of production on the same rows.
    pub candidate_mse_ln: Option<f64>,
    pub production_mse_ln: Option<f64>,
    pub reason: String,
    pub notified: Vec<NotifyOutcome>,
    /// Runs found left `running` by a dead process and marked crashed.
    pub crashed_runs: Vec<String>,
    pub duration_seconds: f64,
}

/// The build of qlat: `<package version>+<git commit>` (see
/// [`crate::model::artifact::git_commit`]).
pub fn code_version() -> String {
    format!(
        "{}+{}",
        env!("CARGO_PKG_VERSION"),
        crate::model::artifact::git_commit()
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
    candidate_mse_ln: Option<f64>,
    production_mse_ln: Option<f64>,
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
                    candidate_mse_ln: o.candidate_mse_ln,
                    production_mse_ln: o.production_mse_ln,
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
        let cfg = &self.config;

        // -- ingest ----------------------------------------------------
        let t = Instant::now();
        let source_id = cfg.source.id();
        let mark = observations::watermark(&self.db, &source_id)
            .await
            .map_err(at("ingest"))?;
        let batch = source::read_new(&cfg.source, mark.as_ref())
            .await
            .map_err(at("ingest"))?;
        let stored = observations::store_batch(
            &self.db,
            &batch.events,
            &source_id,
            &batch.watermark,
            &ctx.id,
        )
        .await
        .map_err(at("ingest"))?;
        ctx.log.info(
            "ingest",
            format!(
                "{} events read ({} ended before the watermark, {} unchanged files, {} unparsable); {} new observations stored, {} duplicates dropped, {} invalid times dropped ({:.2} s)",
                batch.read,
                batch.before_watermark,
                batch.unchanged_files,
                batch.errors,
                stored.inserted,
                stored.duplicates,
                stored.invalid,
                t.elapsed().as_secs_f64()
            ),
        );
        ctx.metrics.insert(
            "ingest".into(),
            json!({
                "source": source_id,
                "read": batch.read,
                "before_watermark": batch.before_watermark,
                "unchanged_files": batch.unchanged_files,
                "unparsable": batch.errors,
                "new": stored.inserted,
                "duplicates": stored.duplicates,
                "invalid": stored.invalid,
                "seconds": t.elapsed().as_secs_f64(),
            }),
        );
        self.checkpoint(ctx).await;

        let production = self.registry.production().await.map_err(at("ingest"))?;
        let production_before = production.as_ref().map(|m| m.version.clone());
        if stored.inserted == 0 && production.is_some() && !cfg.retrain_without_new_data {
            let reason = "no new observations since the last run; production unchanged".to_string();
            ctx.log.info("ingest", &reason);
            return Ok(Outcome {
                decision: Decision::Skipped,
                reason,
                new_records: 0,
                training_rows: 0,
                test_rows: 0,
                production_after: production_before.clone(),
                production_before,
                candidate_mse_ln: None,
                production_mse_ln: None,
                notified: Vec::new(),
            });
        }

        // -- data checks -------------------------------------------------
        let t = Instant::now();
        let max_rows = i64::try_from(cfg.max_rows).unwrap_or(i64::MAX);
        let rows = observations::load_recent(&self.db, max_rows)
            .await
            .map_err(at("checks"))?;
        let data = checks::check_data(
            &rows,
            stored.inserted,
            stored.duplicates,
            cfg.min_rows,
            &cfg.train.thresholds,
        );
        for w in &data.warnings {
            ctx.log.warn("checks", w);
        }
        ctx.log.info(
            "checks",
            format!(
                "{} rows, {} distinct statements, {} fingerprints, {} repeated texts; classes fast/medium/slow {:?} ({:.2} s)",
                data.rows,
                data.duplicates.distinct_statements,
                data.duplicates.distinct_fingerprints,
                data.duplicates.repeated_statements,
                data.class_counts,
                t.elapsed().as_secs_f64()
            ),
        );
        ctx.metrics.insert(
            "data".into(),
            json!({
                "rows": data.rows,
                "distinct_statements": data.duplicates.distinct_statements,
                "distinct_fingerprints": data.duplicates.distinct_fingerprints,
                "warnings": data.warnings,
                "errors": data.errors,
            }),
        );
        if !data.errors.is_empty() {
            let key = format!("runs/{}/data_checks.json", ctx.id);
            if self.store.put_json(&key, &data).await.is_ok() {
                ctx.artifacts
                    .insert("data_checks".into(), json!(self.store.uri(&key)));
            }
            return Err(StepError {
                step: "checks",
                message: data.errors.join("; "),
            });
        }

        // -- split -------------------------------------------------------
        let samples: Vec<Sample> = rows.iter().map(|r| r.sample()).collect();
        let split = time_split(&samples, cfg.test_fraction);
        let train: Vec<Sample> = split.train.iter().map(|&i| samples[i].clone()).collect();
        let test: Vec<Sample> = split.test.iter().map(|&i| samples[i].clone()).collect();
        if train.is_empty() || test.is_empty() {
            return Err(StepError {
                step: "split",
                message: format!(
                    "{} training and {} test rows; both must be non-empty",
                    train.len(),
                    test.len()
                ),
            });
        }
        let mut all_in_order = train.clone();
        all_in_order.extend(test.iter().cloned());
        let dataset_fp = training_data_sha256(&all_in_order);
        ctx.dataset_fingerprint = Some(dataset_fp.clone());
        let boundary = test.first().and_then(|s| s.time).map(|t| t.to_string());
        ctx.log.info(
            "split",
            format!(
                "time-ordered {:.0}/{:.0}: {} training rows, {} test rows from {}; dataset {}",
                (1.0 - cfg.test_fraction) * 100.0,
                cfg.test_fraction * 100.0,
                train.len(),
                test.len(),
                boundary.as_deref().unwrap_or("(no times)"),
                &dataset_fp[..12]
            ),
        );
        ctx.metrics.insert(
            "split".into(),
            json!({
                "kind": "time-ordered",
                "test_fraction": cfg.test_fraction,
                "train_rows": train.len(),
                "test_rows": test.len(),
                "test_from": boundary,
            }),
        );
        self.checkpoint(ctx).await;

        // -- train + evaluate (CPU-bound, off the async threads) ----------
        let t = Instant::now();
        let config = Arc::clone(cfg);
        let (train_arc, test_arc) = (Arc::new(train), Arc::new(test));
        let (tr, te) = (Arc::clone(&train_arc), Arc::clone(&test_arc));
        let trained = tokio::task::spawn_blocking(move || {
            let fit_started = Instant::now();
            let models = crate::train::fit_all(&tr, &config.catalog, &config.train)
                .map_err(|e| e.to_string())?;
            let fit_seconds = fit_started.elapsed().as_secs_f64();
            let sqls: Vec<&str> = te.iter().map(|s| s.sql.as_str()).collect();
            let truth: Vec<f64> = te.iter().map(|s| s.seconds).collect();
            let mut reports: BTreeMap<String, EvalReport> = BTreeMap::new();
            let mut served_preds = Vec::new();
            for m in models.all() {
                let preds = m.predict_batch(&sqls);
                reports.insert(
                    m.name().to_string(),
                    metrics_with_analytic(&preds, &truth, &config.train.thresholds),
                );
                if m.name() == config.algorithm {
                    served_preds = preds;
                }
            }
            let features = checks::feature_report(&models, &tr);
            Ok::<_, String>((models, reports, served_preds, features, fit_seconds))
        })
        .await
        .map_err(at("train"))?
        .map_err(|message| StepError {
            step: "train",
            message,
        })?;
        let (mut models, reports, served_preds, features, fit_seconds) = trained;
        let (train, test) = (train_arc, test_arc);
        ctx.log.info(
            "train",
            format!(
                "fitted {} on {} rows in {fit_seconds:.1} s (MLP best epoch {})",
                models
                    .all()
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                train.len(),
                models.manifest.mlp_best_epoch
            ),
        );
        let Some(candidate) = reports.get(&cfg.algorithm).cloned() else {
            return Err(StepError {
                step: "evaluate",
                message: format!("no model named {}", cfg.algorithm),
            });
        };
        for (name, r) in &reports {
            let m = &r.metrics;
            ctx.log.info(
                "evaluate",
                format!(
                    "{name}: MSE(ln) {:.3} R²(ln) {:.3} MAE {:.4} s RMSE {:.4} s q-error p50 {:.2} p90 {:.2} class acc {:.3} P {:.3} R {:.3} F1 {:.3}",
                    m.mse_ln,
                    m.r2_ln,
                    m.mae_s,
                    m.rmse_s,
                    m.q_error_p50,
                    m.q_error_p90,
                    m.class_accuracy,
                    m.class_precision_macro,
                    m.class_recall_macro,
                    m.class_f1_macro
                ),
            );
        }
        ctx.metrics.insert("candidate".into(), json!(reports));
        ctx.metrics.insert(
            "timings".into(),
            json!({"train_and_evaluate_seconds": t.elapsed().as_secs_f64(), "fit_seconds": fit_seconds}),
        );
        self.checkpoint(ctx).await;

        // -- production on the same test rows ------------------------------
        let mut production_report: Option<EvalReport> = None;
        let mut production_preds: Option<Vec<f64>> = None;
        let mut production_problem: Option<String> = None;
        if let Some(prod) = &production {
            match self.score_production(prod, &test, work).await {
                Ok((report, preds)) => {
                    ctx.log.info(
                        "compare",
                        format!(
                            "production {} on the same {} test rows: MSE(ln) {:.3} q-error p90 {:.2}",
                            prod.version,
                            test.len(),
                            report.metrics.mse_ln,
                            report.metrics.q_error_p90
                        ),
                    );
                    production_report = Some(report);
                    production_preds = Some(preds);
                }
                Err(e) => {
                    ctx.log.warn(
                        "compare",
                        format!("production model {} could not be scored: {e}", prod.version),
                    );
                    production_problem = Some(e);
                }
            }
        }

        // -- decide --------------------------------------------------------
        let cand = candidate.metrics.mse_ln;
        let prod_mse = production_report.as_ref().map(|r| r.metrics.mse_ln);
        let required = prod_mse.map(|p| p * (1.0 - cfg.promote_margin));
        let (promote, reason) = match (&production, prod_mse, required) {
            _ if !cand.is_finite() => (false, format!("candidate MSE(ln) is {cand}")),
            (None, _, _) => (true, "no production model yet".to_string()),
            (Some(_), Some(p), Some(req)) => {
                if cand <= req {
                    (
                        true,
                        format!(
                            "candidate MSE(ln) {cand:.4} ≤ {req:.4} (production {p:.4} − {:.1} %)",
                            cfg.promote_margin * 100.0
                        ),
                    )
                } else {
                    (
                        false,
                        format!(
                            "candidate MSE(ln) {cand:.4} > {req:.4} (production {p:.4} − {:.1} %)",
                            cfg.promote_margin * 100.0
                        ),
                    )
                }
            }
            (Some(_), _, _) => (
                true,
                format!(
                    "production model cannot be scored ({}); a loadable candidate replaces it",
                    production_problem.as_deref().unwrap_or("unknown")
                ),
            ),
        };
        ctx.log.info(
            "compare",
            format!("{}: {reason}", if promote { "promote" } else { "refuse" }),
        );
        ctx.metrics.insert(
            "comparison".into(),
            json!({
                "algorithm": cfg.algorithm,
                "metric": "mse_ln",
                "margin": cfg.promote_margin,
                "candidate": cand,
                "production": prod_mse,
                "required": required,
                "production_version": production_before,
                "production_report": production_report,
                "production_problem": production_problem,
                "promote": promote,
                "reason": reason,
            }),
        );
        let m = &candidate.metrics;
        ctx.metrics.insert(
            "summary".into(),
            json!({
                "test_mse_ln": m.mse_ln,
                "test_r2_ln": m.r2_ln,
                "test_mae_s": m.mae_s,
                "test_rmse_s": m.rmse_s,
                "test_q_error_p50": m.q_error_p50,
                "test_q_error_p90": m.q_error_p90,
                "test_class_accuracy": m.class_accuracy,
                "test_class_precision_macro": m.class_precision_macro,
                "test_class_recall_macro": m.class_recall_macro,
                "test_class_f1_macro": m.class_f1_macro,
                "production_mse_ln": prod_mse,
                "production_q_error_p90": production_report.as_ref().map(|r| r.metrics.q_error_p90),
                "training_rows": train.len(),
                "test_rows": test.len(),
            }),
        );
        self.checkpoint(ctx).await;

        // -- upload ----------------------------------------------------------
        let t = Instant::now();
        let mut version = models.manifest.model_version.clone();
        if self
            .registry
            .version_exists(&version)
            .await
            .map_err(at("upload"))?
        {
            version = format!("{version}-{}", &ctx.id[ctx.id.len().saturating_sub(8)..]);
            models.manifest.model_version = version.clone();
        }
        let evaluation = json!({
            "algorithm": cfg.algorithm,
            "split": ctx.metrics.get("split"),
            "candidate": reports,
            "comparison": ctx.metrics.get("comparison"),
        });
        models.manifest.metrics = evaluation.clone();
        let model_dir = work.join("model");
        let (save_models, dir) = (models, model_dir.clone());
        let models =
            tokio::task::spawn_blocking(move || save_models.save(&dir).map(|()| save_models))
                .await
                .map_err(at("upload"))?
                .map_err(at("upload"))?;
        let model_key = format!("models/{version}");
        let keys = self
            .store
            .put_dir(&model_key, &model_dir)
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("model".into(), json!(self.store.uri(&model_key)));
        // What production will load is the stored copy: fetch it back and
        // check it loads and answers like the model in memory.
        self.verify_uploaded(&model_key, &version, &models, &test, work)
            .await
            .map_err(|message| StepError {
                step: "upload",
                message,
            })?;
        let report_key = format!("runs/{}/data_report.json", ctx.id);
        self.store
            .put_json(&report_key, &json!({"checks": data, "features": features}))
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("data_report".into(), json!(self.store.uri(&report_key)));
        let eval_key = format!("runs/{}/evaluation.json", ctx.id);
        self.store
            .put_json(&eval_key, &evaluation)
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("evaluation".into(), json!(self.store.uri(&eval_key)));
        let preds_key = format!("runs/{}/test_predictions.csv", ctx.id);
        let rows_out: Vec<TestPrediction> = test
            .iter()
            .zip(&served_preds)
            .enumerate()
            .map(|(i, (s, p))| TestPrediction {
                time: s.time.map(|t| t.to_string()),
                seconds: s.seconds,
                predicted_seconds: p.predicted_seconds,
                p10: p.p10,
                p90: p.p90,
                class: p.class.as_str().to_string(),
                q_error: crate::eval::metrics::q_error(p.predicted_seconds, s.seconds),
                production_predicted_seconds: production_preds
                    .as_ref()
                    .and_then(|v| v.get(i).copied()),
                fingerprint: s.fingerprint.clone(),
                query: s.sql.clone(),
            })
            .collect();
        self.store
            .put_records(&preds_key, &rows_out)
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("test_predictions".into(), json!(self.store.uri(&preds_key)));
        let dataset_key = format!("datasets/{dataset_fp}.csv");
        if !self
            .store
            .exists(&dataset_key)
            .await
            .map_err(at("upload"))?
        {
            let rows_out: Vec<DatasetRow> = train
                .iter()
                .map(|s| ("train", s))
                .chain(test.iter().map(|s| ("test", s)))
                .map(|(split, s)| DatasetRow {
                    split: split.into(),
                    time: s.time.map(|t| t.to_string()),
                    seconds: s.seconds,
                    fingerprint: s.fingerprint.clone(),
                    query: s.sql.clone(),
                })
                .collect();
            self.store
                .put_records(&dataset_key, &rows_out)
                .await
                .map_err(at("upload"))?;
        }
        ctx.artifacts
            .insert("dataset".into(), json!(self.store.uri(&dataset_key)));
        ctx.log.info(
            "upload",
            format!(
                "model {version} ({} files) and reports stored in {} and verified ({:.2} s)",
                keys.len(),
                self.store.describe(),
                t.elapsed().as_secs_f64()
            ),
        );

        // -- register ----------------------------------------------------------
        self.registry
            .register_model(&ModelVersion {
                version: version.clone(),
                run_id: ctx.id.clone(),
                created_at: Utc::now(),
                algorithm: cfg.algorithm.clone(),
                metrics: json!({"test": candidate, "models": reports}),
                artifact_key: model_key.clone(),
                artifact_uri: self.store.uri(&model_key),
                dataset_fingerprint: dataset_fp,
                aliases: Vec::new(),
            })
            .await
            .map_err(at("register"))?;
        ctx.model_version = Some(version.clone());
        ctx.log
            .info("register", format!("registered model version {version}"));
        self.checkpoint(ctx).await;

        // -- promote -------------------------------------------------------------
        let mut production_after = production_before.clone();
        let mut notified = Vec::new();
        if promote {
            if lease.is_lost() {
                return Err(StepError {
                    step: "promote",
                    message: "the lock's lease was lost; another run may be active".into(),
                });
            }
            let moved = self
                .registry
                .set_alias(
                    PRODUCTION,
                    &version,
                    &format!("pipeline run {}: {reason}", ctx.id),
                    Some(&ctx.holder),
                )
                .await
                .map_err(at("promote"))?;
            production_after = Some(version.clone());
            ctx.log.info(
                "promote",
                format!(
                    "production: {} → {}",
                    moved.from.as_deref().unwrap_or("(none)"),
                    moved.to
                ),
            );
            if !cfg.notify.is_empty() {
                notified = notify::notify_reload(
                    &cfg.notify,
                    cfg.admin_token.as_deref(),
                    cfg.notify_timeout,
                )
                .await;
                for n in &notified {
                    if n.ok {
                        ctx.log.info("notify", format!("{} reloaded", n.url));
                    } else {
                        ctx.log.warn(
                            "notify",
                            format!(
                                "{} did not reload: {}",
                                n.url,
                                n.error.as_deref().unwrap_or("error")
                            ),
                        );
                    }
                }
                ctx.metrics.insert("notify".into(), json!(notified));
            }
        }
        Ok(Outcome {
            decision: if promote {
                Decision::Promoted
            } else {
                Decision::Refused
            },
            reason,
            new_records: stored.inserted,
            training_rows: train.len(),
            test_rows: test.len(),
            production_before,
            production_after,
            candidate_mse_ln: Some(cand),
            production_mse_ln: prod_mse,
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
        let (test, algorithm, thresholds) = (
            Arc::clone(test),
            self.config.algorithm.clone(),
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
        let algorithm = self.config.algorithm.clone();
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
