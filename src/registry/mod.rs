//! Run tracking and the model registry, in the same database as the
//! predictions (`store::Db`, tables from migration 0002).
//!
//! - a **run** is one pipeline cycle: when, outcome, parameters, the
//!   dataset's fingerprint, the code version, metrics, artifact URIs and
//!   its log;
//! - a **model version** is a trained model directory in the artifact
//!   store, with the run that produced it (lineage) and its metrics;
//! - an **alias** names a version; `production` is the one servers load.
//!   Every alias move is kept in `alias_history`.
//!
//! The server reads this through [`Registry`] and hot-reloads with
//! [`materialize_production`]; the pipeline's lease ([`lock`]) and what
//! the server exports about runs and live accuracy ([`status`]) are here
//! too, so the service and the pipeline both depend on the registry and
//! never on each other.

pub mod lock;
mod materialize;
pub mod status;

pub use materialize::{MaterializeError, materialize_production};

use crate::store::Db;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The alias servers load.
pub const PRODUCTION: &str = "production";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("model version {0:?} is not registered")]
    UnknownVersion(String),
    #[error("run {0:?} does not exist")]
    UnknownRun(String),
    #[error("stored {table} row {id:?}: {what}")]
    BadRow {
        table: &'static str,
        id: String,
        what: String,
    },
    #[error("the pipeline lock is no longer held by {holder}; refusing to move the alias")]
    LostLock { holder: String },
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    /// Left `running` by a process that died; marked by the next run once
    /// the dead run's lease expired.
    Crashed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Crashed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Crashed => "crashed",
        }
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<RunStatus, String> {
        RunStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown run status {s:?}"))
    }
}

/// What a succeeded run decided about its candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The candidate became production.
    Promoted,
    /// The candidate was registered but did not beat production by the
    /// margin.
    Refused,
    /// The candidate failed the quality floor (it does not beat the
    /// fingerprint baseline on the test rows, or the MLP's training stopped
    /// at its first epoch): registered for inspection, never promoted.
    Rejected,
    /// Nothing new to learn from; no candidate was trained.
    Skipped,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Promoted,
        Decision::Refused,
        Decision::Rejected,
        Decision::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Promoted => "promoted",
            Decision::Refused => "refused",
            Decision::Rejected => "rejected",
            Decision::Skipped => "skipped",
        }
    }
}

impl std::str::FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> Result<Decision, String> {
        Decision::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown decision {s:?}"))
    }
}

/// One pipeline run, as `/api/runs` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub status: RunStatus,
    pub decision: Option<Decision>,
    /// Why the run decided what it did (the promotion rule's verdict, e.g.
    /// why a candidate was rejected); `None` for runs that did not decide
    /// and for runs recorded before reasons were stored.
    pub reason: Option<String>,
    /// Configuration of the run (margin, seed, training parameters, source).
    pub params: serde_json::Value,
    /// SHA-256 of the training data (statements, times, seconds).
    pub dataset_fingerprint: Option<String>,
    /// Build of qlat that ran it (git commit when known).
    pub code_version: String,
    /// Ingest counts, data checks summary, candidate and production metrics.
    pub metrics: serde_json::Value,
    /// Artifact name → URI in the artifact store.
    pub artifacts: serde_json::Value,
    /// The candidate version it registered, if it got that far.
    pub model_version: Option<String>,
    pub error: Option<String>,
    /// What the run logged, one line per step.
    pub log: String,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Equal to the `model_version` in the model's `model.json`, which is
    /// what servers report.
    pub version: String,
    /// The run that trained it.
    pub run_id: String,
    pub created_at: DateTime<Utc>,
    /// The algorithm the pipeline compares and servers answer with.
    pub algorithm: String,
    /// Test metrics of the candidate when it was trained.
    pub metrics: serde_json::Value,
    /// Prefix of the model directory in the artifact store.
    pub artifact_key: String,
    /// The same, as a displayable URI.
    pub artifact_uri: String,
    pub dataset_fingerprint: String,
    /// Aliases pointing at it (e.g. `["production"]`).
    pub aliases: Vec<String>,
}

impl ModelVersion {
    pub fn is_production(&self) -> bool {
        self.aliases.iter().any(|a| a == PRODUCTION)
    }
}

/// The outcome of moving an alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    pub alias: String,
    pub from: Option<String>,
    pub to: String,
}

/// The fields a run starts with.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub params: serde_json::Value,
    pub code_version: String,
    /// Who runs it (the lock holder id).
    pub holder: String,
}

/// The fields a run ends with.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub status: RunStatus,
    pub decision: Option<Decision>,
    pub reason: Option<String>,
    pub dataset_fingerprint: Option<String>,
    pub metrics: serde_json::Value,
    pub artifacts: serde_json::Value,
    pub model_version: Option<String>,
    pub error: Option<String>,
    pub log: String,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    started_at_us: i64,
    ended_at_us: Option<i64>,
    status: String,
    decision: Option<String>,
    reason: Option<String>,
    params: String,
    dataset_fingerprint: Option<String>,
    code_version: String,
    metrics: String,
    artifacts: String,
    model_version: Option<String>,
    error: Option<String>,
    log: String,
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    version: String,
    run_id: String,
    created_at_us: i64,
    algorithm: String,
    metrics: String,
    artifact_key: String,
    artifact_uri: String,
    dataset_fingerprint: String,
}

/// Microseconds since the epoch as a UTC time (the epoch if out of range).
pub(crate) fn time_of(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub(crate) fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

fn parse_json(
    table: &'static str,
    id: &str,
    column: &str,
    text: &str,
) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| RegistryError::BadRow {
        table,
        id: id.to_string(),
        what: format!("{column}: {e}"),
    })
}

impl RunRow {
    fn into_run(self) -> Result<Run> {
        let bad = |what: String| RegistryError::BadRow {
            table: "runs",
            id: self.id.clone(),
            what,
        };
        let status = self.status.parse().map_err(bad)?;
        let decision = self
            .decision
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(bad)?;
        let started_at = time_of(self.started_at_us);
        let ended_at = self.ended_at_us.map(time_of);
        Ok(Run {
            params: parse_json("runs", &self.id, "params", &self.params)?,
            metrics: parse_json("runs", &self.id, "metrics", &self.metrics)?,
            artifacts: parse_json("runs", &self.id, "artifacts", &self.artifacts)?,
            duration_seconds: self
                .ended_at_us
                .map(|e| (e - self.started_at_us) as f64 / 1e6),
            id: self.id,
            started_at,
            ended_at,
            status,
            decision,
            reason: self.reason,
            dataset_fingerprint: self.dataset_fingerprint,
            code_version: self.code_version,
            model_version: self.model_version,
            error: self.error,
            log: self.log,
        })
    }
}

impl ModelRow {
    fn into_model(self, aliases: Vec<String>) -> Result<ModelVersion> {
        Ok(ModelVersion {
            metrics: parse_json("model_versions", &self.version, "metrics", &self.metrics)?,
            version: self.version,
            run_id: self.run_id,
            created_at: time_of(self.created_at_us),
            algorithm: self.algorithm,
            artifact_key: self.artifact_key,
            artifact_uri: self.artifact_uri,
            dataset_fingerprint: self.dataset_fingerprint,
            aliases,
        })
    }
}

/// Runs one statement on whichever pool `db` holds; `$p` names the pool
/// inside `$body`, which is expanded once per backend so each gets its
/// native types.
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

const RUN_COLUMNS: &str = "id, started_at_us, ended_at_us, status, decision, reason, params, \
    dataset_fingerprint, code_version, metrics, artifacts, model_version, error, log";
const MODEL_COLUMNS: &str = "version, run_id, created_at_us, algorithm, metrics, artifact_key, \
    artifact_uri, dataset_fingerprint";

/// Runs and model versions in one database.
#[derive(Debug, Clone)]
pub struct Registry {
    db: Db,
}

impl Registry {
    pub fn new(db: Db) -> Registry {
        Registry { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The latest runs, newest first.
    pub async fn list_runs(&self, limit: i64) -> Result<Vec<Run>> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at_us DESC, id DESC LIMIT $1");
        let rows: Vec<RunRow> = on_pool!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(limit.max(0))
            .fetch_all(p)
            .await?);
        rows.into_iter().map(RunRow::into_run).collect()
    }

    pub async fn get_run(&self, id: &str) -> Result<Option<Run>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        let row: Option<RunRow> = on_pool!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.map(RunRow::into_run).transpose()
    }

    /// The latest run with the given status, if any.
    pub async fn last_run_with_status(&self, status: RunStatus) -> Result<Option<Run>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE status = $1 ORDER BY started_at_us DESC, id DESC LIMIT 1"
        );
        let row: Option<RunRow> = on_pool!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(status.as_str())
            .fetch_optional(p)
            .await?);
        row.map(RunRow::into_run).transpose()
    }

    /// How many runs ended (or are) in each status; every status present.
    pub async fn runs_by_status(&self) -> Result<BTreeMap<RunStatus, i64>> {
        const SQL: &str = "SELECT status, COUNT(*) AS n FROM runs GROUP BY status";
        let rows: Vec<(String, i64)> =
            on_pool!(&self.db, p => sqlx::query_as(SQL).fetch_all(p).await?);
        let mut out: BTreeMap<RunStatus, i64> = RunStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for (status, n) in rows {
            if let Ok(s) = status.parse() {
                out.insert(s, n);
            }
        }
        Ok(out)
    }

    /// Every registered version, newest first, with its aliases.
    pub async fn list_models(&self) -> Result<Vec<ModelVersion>> {
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM model_versions ORDER BY created_at_us DESC, version DESC"
        );
        let rows: Vec<ModelRow> = on_pool!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await?);
        let aliases = self.aliases().await?;
        rows.into_iter()
            .map(|r| {
                let names = aliases
                    .iter()
                    .filter(|(_, v)| **v == r.version)
                    .map(|(n, _)| n.clone())
                    .collect();
                r.into_model(names)
            })
            .collect()
    }

    pub async fn get_model(&self, version: &str) -> Result<Option<ModelVersion>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_versions WHERE version = $1");
        let row: Option<ModelRow> = on_pool!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(version)
            .fetch_optional(p)
            .await?);
        let Some(row) = row else { return Ok(None) };
        let names = self
            .aliases()
            .await?
            .into_iter()
            .filter(|(_, v)| *v == row.version)
            .map(|(n, _)| n)
            .collect();
        row.into_model(names).map(Some)
    }

    /// Alias name → version.
    pub async fn aliases(&self) -> Result<BTreeMap<String, String>> {
        const SQL: &str = "SELECT name, version FROM aliases";
        let rows: Vec<(String, String)> =
            on_pool!(&self.db, p => sqlx::query_as(SQL).fetch_all(p).await?);
        Ok(rows.into_iter().collect())
    }

    /// The version an alias points at.
    pub async fn alias(&self, name: &str) -> Result<Option<ModelVersion>> {
        const SQL: &str = "SELECT version FROM aliases WHERE name = $1";
        let version: Option<(String,)> =
            on_pool!(&self.db, p => sqlx::query_as(SQL).bind(name).fetch_optional(p).await?);
        match version {
            Some((v,)) => self.get_model(&v).await,
            None => Ok(None),
        }
    }

    /// The model servers should load, if one was ever promoted.
    pub async fn production(&self) -> Result<Option<ModelVersion>> {
        self.alias(PRODUCTION).await
    }

    /// Points `production` at a registered version (promotion, or a
    /// rollback by hand), recording the move in `alias_history`.
    pub async fn promote(&self, version: &str) -> Result<AliasMove> {
        self.set_alias(PRODUCTION, version, "manual", None).await
    }

    /// Moves alias `name` to `version` in one transaction. With `fence`
    /// (a pipeline lock holder) the move happens only while that holder
    /// still owns an unexpired lease, so a run that lost its lock (and may
    /// be racing a newer run) cannot touch the alias.
    pub async fn set_alias(
        &self,
        name: &str,
        version: &str,
        reason: &str,
        fence: Option<&str>,
    ) -> Result<AliasMove> {
        let now = now_us();
        on_pool!(&self.db, p => {
            let mut tx = p.begin().await?;
            let known: Option<(String,)> =
                sqlx::query_as("SELECT version FROM model_versions WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if known.is_none() {
                return Err(RegistryError::UnknownVersion(version.to_string()));
            }
            if let Some(holder) = fence {
                let held: Option<(String,)> = sqlx::query_as(
                    "SELECT holder FROM pipeline_lock WHERE holder = $1 AND expires_at_us > $2",
                )
                .bind(holder)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if held.is_none() {
                    return Err(RegistryError::LostLock {
                        holder: holder.to_string(),
                    });
                }
            }
            let previous: Option<(String,)> =
                sqlx::query_as("SELECT version FROM aliases WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO aliases (name, version, updated_at_us) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version, updated_at_us = excluded.updated_at_us",
            )
            .bind(name)
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let previous = previous.map(|p| p.0);
            sqlx::query(
                "INSERT INTO alias_history (name, version, previous, changed_at_us, reason) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(name)
            .bind(version)
            .bind(previous.clone())
            .bind(now)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(AliasMove {
                alias: name.to_string(),
                from: previous,
                to: version.to_string(),
            })
        })
    }

    /// Records a new run as `running`.
    pub async fn start_run(&self, run: &NewRun) -> Result<Run> {
        let now = now_us();
        const SQL: &str = "INSERT INTO runs (id, started_at_us, status, params, code_version, metrics, artifacts, log, holder) \
             VALUES ($1, $2, 'running', $3, $4, '{}', '{}', '', $5)";
        let params = run.params.to_string();
        on_pool!(&self.db, p => sqlx::query(SQL)
            .bind(&run.id)
            .bind(now)
            .bind(&params)
            .bind(&run.code_version)
            .bind(&run.holder)
            .execute(p)
            .await?
            .rows_affected());
        self.get_run(&run.id)
            .await?
            .ok_or_else(|| RegistryError::UnknownRun(run.id.clone()))
    }

    /// Saves progress of a running run (metrics and log so far), so a run
    /// that later crashes still shows how far it got.
    pub async fn update_running(
        &self,
        id: &str,
        metrics: &serde_json::Value,
        artifacts: &serde_json::Value,
        log: &str,
    ) -> Result<()> {
        const SQL: &str = "UPDATE runs SET metrics = $2, artifacts = $3, log = $4 WHERE id = $1 AND status = 'running'";
        let (m, a) = (metrics.to_string(), artifacts.to_string());
        on_pool!(&self.db, p => sqlx::query(SQL).bind(id).bind(&m).bind(&a).bind(log).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Ends a run. Only a `running` run can end, so a run another process
    /// already declared crashed stays crashed.
    pub async fn finish_run(&self, id: &str, end: &RunEnd) -> Result<bool> {
        const SQL: &str = "UPDATE runs SET ended_at_us = $2, status = $3, decision = $4, dataset_fingerprint = $5, \
             metrics = $6, artifacts = $7, model_version = $8, error = $9, log = $10, reason = $11 \
             WHERE id = $1 AND status = 'running'";
        let (m, a) = (end.metrics.to_string(), end.artifacts.to_string());
        let done = on_pool!(&self.db, p => sqlx::query(SQL)
            .bind(id)
            .bind(now_us())
            .bind(end.status.as_str())
            .bind(end.decision.map(Decision::as_str))
            .bind(&end.dataset_fingerprint)
            .bind(&m)
            .bind(&a)
            .bind(&end.model_version)
            .bind(&end.error)
            .bind(&end.log)
            .bind(&end.reason)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Marks every `running` run except `current` as crashed. Only the lock
    /// holder may call this: holding the lock proves no other run is alive.
    pub async fn mark_crashed(&self, current: &str) -> Result<Vec<String>> {
        const SELECT: &str = "SELECT id FROM runs WHERE status = 'running' AND id <> $1";
        const UPDATE: &str = "UPDATE runs SET status = 'crashed', ended_at_us = $2, \
             error = COALESCE(error, 'the process running it stopped without finishing (lease expired)') \
             WHERE id = $1 AND status = 'running'";
        let ids: Vec<(String,)> =
            on_pool!(&self.db, p => sqlx::query_as(SELECT).bind(current).fetch_all(p).await?);
        let now = now_us();
        for (id,) in &ids {
            on_pool!(&self.db, p => sqlx::query(UPDATE).bind(id).bind(now).execute(p).await?.rows_affected());
        }
        Ok(ids.into_iter().map(|r| r.0).collect())
    }

    /// Registers a model version (its files must already be in the store).
    pub async fn register_model(&self, m: &ModelVersion) -> Result<()> {
        const SQL: &str = "INSERT INTO model_versions (version, run_id, created_at_us, algorithm, metrics, artifact_key, artifact_uri, dataset_fingerprint) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let metrics = m.metrics.to_string();
        on_pool!(&self.db, p => sqlx::query(SQL)
            .bind(&m.version)
            .bind(&m.run_id)
            .bind(m.created_at.timestamp_micros())
            .bind(&m.algorithm)
            .bind(&metrics)
            .bind(&m.artifact_key)
            .bind(&m.artifact_uri)
            .bind(&m.dataset_fingerprint)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Whether a version name is taken.
    pub async fn version_exists(&self, version: &str) -> Result<bool> {
        const SQL: &str = "SELECT version FROM model_versions WHERE version = $1";
        let row: Option<(String,)> =
            on_pool!(&self.db, p => sqlx::query_as(SQL).bind(version).fetch_optional(p).await?);
        Ok(row.is_some())
    }
}
