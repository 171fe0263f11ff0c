//! What the server exports about the pipeline: live accuracy of served
//! predictions, and the state of the runs.

use super::lock::Lease;
use crate::eval::metrics::{percentile_nearest_rank, q_error};
use crate::registry::{Decision, Registry, RegistryError, Run, RunStatus, on_pool, time_of};
use crate::store::Db;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Predictions looked at by [`live_accuracy`]: the most recent ones.
pub const LIVE_ACCURACY_WINDOW: i64 = 10_000;

/// How served predictions compare with what the server later measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveAccuracy {
    /// Recent predictions examined (at most [`LIVE_ACCURACY_WINDOW`]).
    pub predictions: u64,
    /// Of those, predictions whose exact statement was observed.
    pub matched: u64,
    /// q-error of matched predictions (1 = exact), nearest-rank.
    pub q_error_p50: Option<f64>,
    pub q_error_p90: Option<f64>,
    /// Mean of ln(predicted) − ln(observed): above 0 the model
    /// over-predicts, below 0 it under-predicts (drift shows up here).
    pub mean_ln_error: Option<f64>,
    /// Bias and p10–p90 coverage of the matched predictions by the class
    /// of the observed time (`all`, `fast`, `medium`, `slow`), as served
    /// (after any server calibration) and as the model answered before it.
    #[serde(default)]
    pub by_class: Vec<ClassAccuracy>,
}

/// Live bias and coverage of one class, before and after calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// `all`, `fast`, `medium` or `slow` (of the observed median time).
    pub class: String,
    pub matched: u64,
    /// As served: mean ln(predicted / observed) and the share of observed
    /// medians inside p10–p90.
    pub after: Option<BiasCoverage>,
    /// Before the server calibration (the served answer itself when the
    /// model was not calibrated).
    pub before: Option<BiasCoverage>,
}

/// Mean ln error and interval coverage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BiasCoverage {
    pub mean_ln_error: f64,
    pub coverage: f64,
}

/// Classes [`ClassAccuracy::class`] takes, in order.
pub const LIVE_CLASSES: [&str; 4] = ["all", "fast", "medium", "slow"];

/// One matched prediction: served (median, p10, p90), before calibration
/// (the same when uncalibrated), observed median.
struct Matched {
    served: (f64, f64, f64),
    before: (f64, f64, f64),
    observed: f64,
}

fn by_class(rows: &[Matched]) -> Vec<ClassAccuracy> {
    let t = crate::model::ClassThresholds::default();
    let summarise = |pick: &dyn Fn(&Matched) -> (f64, f64, f64), of: &[&Matched]| {
        if of.is_empty() {
            return None;
        }
        let n = of.len() as f64;
        let mut err = 0.0;
        let mut covered = 0usize;
        for m in of {
            let (p, lo, hi) = pick(m);
            err += crate::featurize::ln_seconds(p) - crate::featurize::ln_seconds(m.observed);
            if lo <= m.observed && m.observed <= hi {
                covered += 1;
            }
        }
        Some(BiasCoverage {
            mean_ln_error: err / n,
            coverage: covered as f64 / n,
        })
    };
    LIVE_CLASSES
        .iter()
        .map(|&class| {
            let of: Vec<&Matched> = rows
                .iter()
                .filter(|m| {
                    class == "all"
                        || crate::model::LatencyClass::of(m.observed, &t).as_str() == class
                })
                .collect();
            ClassAccuracy {
                class: class.to_owned(),
                matched: of.len() as u64,
                after: summarise(&|m: &Matched| m.served, &of),
                before: summarise(&|m: &Matched| m.before, &of),
            }
        })
        .collect()
}

/// Matches the latest predictions with observations of the **same exact
/// statement text** (compared through the indexed query ID, then the text).
/// Each prediction is compared with the median of that text's observed
/// times; predictions of statements never observed are not matched.
///
/// Exact text rather than "same query ID, observed after the prediction":
/// the model's answer depends on the literals, so only the same text is
/// the same question; and prediction times are UTC while slow-log times
/// are the server's local time, so ordering the two is unreliable.
pub async fn live_accuracy(db: &Db) -> Result<LiveAccuracy, sqlx::Error> {
    live_accuracy_window(db, LIVE_ACCURACY_WINDOW).await
}

/// [`live_accuracy`] over the latest `window` predictions.
pub async fn live_accuracy_window(db: &Db, window: i64) -> Result<LiveAccuracy, sqlx::Error> {
    // The texts stay in the database: a window of 10,000 predictions of
    // 50 kB statements would otherwise be 500 MB in this process every
    // refresh. Each distinct (query ID, text) of the window is named by its
    // smallest prediction id, and only ids and seconds come back.
    const WINDOW: &str = "WITH r AS (SELECT id, query_id, query, predicted_seconds FROM predictions \
         ORDER BY created_at_us DESC LIMIT $1), \
         d AS (SELECT MIN(id) AS k, query_id, query FROM r GROUP BY query_id, query) ";
    const WINDOW_FULL: &str = "WITH r AS (SELECT id, query_id, query, predicted_seconds, p10, p90, \
         raw_seconds, raw_p10, raw_p90 FROM predictions ORDER BY created_at_us DESC LIMIT $1), \
         d AS (SELECT MIN(id) AS k, query_id, query FROM r GROUP BY query_id, query) ";
    let predictions = format!(
        "{WINDOW_FULL} SELECT d.k, r.predicted_seconds, r.p10, r.p90, r.raw_seconds, r.raw_p10, \
         r.raw_p90 FROM r JOIN d ON d.query_id = r.query_id AND d.query = r.query"
    );
    // Driven from the (at most `window`) distinct predicted texts, probing
    // observations through their query_id index.
    let observed = format!(
        "{WINDOW} SELECT d.k, o.seconds FROM d \
         JOIN observations o ON o.query_id = d.query_id AND o.query = d.query"
    );
    type PredRow = (String, f64, f64, f64, Option<f64>, Option<f64>, Option<f64>);
    let preds: Vec<PredRow> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(predictions.as_str()))
        .bind(window)
        .fetch_all(p)
        .await?);
    let observed: Vec<(String, f64)> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(observed.as_str()))
        .bind(window)
        .fetch_all(p)
        .await?);
    let mut by_text: HashMap<String, Vec<f64>> = HashMap::new();
    for (k, s) in observed {
        by_text.entry(k).or_default().push(s);
    }
    let medians: HashMap<String, f64> = by_text
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            (k, crate::featurize::median_sorted(&v))
        })
        .collect();
    let mut q = Vec::new();
    let mut ln_err = 0.0;
    let mut matched_rows = Vec::new();
    for (k, predicted, p10, p90, raw, raw10, raw90) in &preds {
        if let Some(obs) = medians.get(k) {
            q.push(q_error(*predicted, *obs));
            ln_err += crate::featurize::ln_seconds(*predicted) - crate::featurize::ln_seconds(*obs);
            let served = (*predicted, *p10, *p90);
            let before = match (raw, raw10, raw90) {
                (Some(a), Some(b), Some(c)) => (*a, *b, *c),
                _ => served,
            };
            matched_rows.push(Matched {
                served,
                before,
                observed: *obs,
            });
        }
    }
    q.sort_by(f64::total_cmp);
    let matched = q.len();
    Ok(LiveAccuracy {
        predictions: preds.len() as u64,
        matched: matched as u64,
        q_error_p50: (matched > 0).then(|| percentile_nearest_rank(&q, 50.0)),
        q_error_p90: (matched > 0).then(|| percentile_nearest_rank(&q, 90.0)),
        mean_ln_error: (matched > 0).then(|| ln_err / matched as f64),
        by_class: by_class(&matched_rows),
    })
}

/// A run in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub status: RunStatus,
    pub decision: Option<Decision>,
    /// Why it decided so (see [`Run::reason`]).
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub model_version: Option<String>,
    pub error: Option<String>,
}

impl From<&Run> for RunSummary {
    fn from(r: &Run) -> Self {
        RunSummary {
            id: r.id.clone(),
            status: r.status,
            decision: r.decision,
            reason: r.reason.clone(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_seconds: r.duration_seconds,
            model_version: r.model_version.clone(),
            error: r.error.clone(),
        }
    }
}

/// Who holds the pipeline lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub holder: String,
    pub run_id: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
}

/// The pipeline at a glance, for `/metrics` and pages:
/// `qlat_pipeline_runs_total{outcome}` ← `runs_by_status`,
/// `qlat_pipeline_last_run_duration_seconds` / `…_timestamp_seconds` ←
/// `last_run`, `qlat_pipeline_last_metric{metric}` ← `last_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineStatus {
    /// The newest run, whatever its outcome.
    pub last_run: Option<RunSummary>,
    /// Runs by status (running, succeeded, failed, crashed; all present).
    pub runs_by_status: BTreeMap<String, i64>,
    /// Succeeded runs by decision (promoted, refused, rejected, skipped).
    pub decisions: BTreeMap<String, i64>,
    /// Flat numeric metrics of the newest succeeded run that trained a
    /// candidate: `test_mse_ln`, `test_r2_ln`, `test_mae_s`, `test_rmse_s`,
    /// `test_q_error_p50`, `test_q_error_p90`, `test_class_accuracy`,
    /// `test_class_precision_macro`, `test_class_recall_macro`,
    /// `test_class_f1_macro`, `production_mse_ln`, `training_rows`,
    /// `test_rows`, `new_records`, `promoted` (0/1).
    pub last_metrics: BTreeMap<String, f64>,
    /// The run `last_metrics` comes from.
    pub last_metrics_run: Option<String>,
    pub production_version: Option<String>,
    pub lock: Option<LockInfo>,
}

/// Reads the runs table for [`PipelineStatus`].
pub async fn pipeline_status(db: &Db) -> Result<PipelineStatus, RegistryError> {
    let registry = Registry::new(db.clone());
    let last_run = registry.list_runs(1).await?.first().map(RunSummary::from);
    let runs_by_status = registry
        .runs_by_status()
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), n))
        .collect();
    const DECISIONS: &str =
        "SELECT decision, COUNT(*) FROM runs WHERE decision IS NOT NULL GROUP BY decision";
    let rows: Vec<(String, i64)> = on_pool!(db, p => sqlx::query_as(DECISIONS).fetch_all(p).await?);
    let mut decisions: BTreeMap<String, i64> = Decision::ALL
        .iter()
        .map(|d| (d.as_str().to_string(), 0))
        .collect();
    decisions.extend(rows);
    const TRAINED: &str = "SELECT id FROM runs WHERE status = 'succeeded' AND decision IN ('promoted', 'refused', 'rejected') \
         ORDER BY started_at_us DESC, id DESC LIMIT 1";
    let trained: Option<(String,)> =
        on_pool!(db, p => sqlx::query_as(TRAINED).fetch_optional(p).await?);
    let mut last_metrics = BTreeMap::new();
    let mut last_metrics_run = None;
    if let Some((id,)) = trained
        && let Some(run) = registry.get_run(&id).await?
    {
        if let Some(summary) = run.metrics.get("summary").and_then(|s| s.as_object()) {
            for (k, v) in summary {
                if let Some(x) = v.as_f64() {
                    last_metrics.insert(k.clone(), x);
                }
            }
        }
        last_metrics_run = Some(id);
    }
    let production_version = registry.production().await?.map(|m| m.version);
    let now = Utc::now().timestamp_micros();
    let lock = Lease::current(db).await?.map(|h| LockInfo {
        holder: h.holder,
        run_id: h.run_id,
        expires_at: time_of(h.expires_at_us),
        expired: h.expires_at_us < now,
    });
    Ok(PipelineStatus {
        last_run,
        runs_by_status,
        decisions,
        last_metrics,
        last_metrics_run,
        production_version,
        lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_and_coverage_by_class_before_and_after() {
        let rows = vec![
            // A fast statement, served twice too slow and covered; before
            // calibration four times too slow and not covered.
            Matched {
                served: (0.002, 0.0005, 0.004),
                before: (0.004, 0.003, 0.005),
                observed: 0.001,
            },
            // A medium one, exact and covered both times.
            Matched {
                served: (0.1, 0.05, 0.2),
                before: (0.1, 0.05, 0.2),
                observed: 0.1,
            },
        ];
        let by = by_class(&rows);
        let get = |c: &str| by.iter().find(|a| a.class == c).expect("class");
        let fast = get("fast");
        assert_eq!(fast.matched, 1);
        let (a, b) = (fast.after.expect("after"), fast.before.expect("before"));
        assert!((a.mean_ln_error - 2f64.ln()).abs() < 1e-9);
        assert!((b.mean_ln_error - 4f64.ln()).abs() < 1e-9);
        assert_eq!((a.coverage, b.coverage), (1.0, 0.0));
        let all = get("all");
        assert_eq!(all.matched, 2);
        assert_eq!(all.before.expect("before").coverage, 0.5);
        let slow = get("slow");
        assert_eq!((slow.matched, slow.after, slow.before), (0, None, None));
    }
}
