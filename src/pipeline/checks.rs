//! Data checks and the preprocessing report saved with every run.
//!
//! Before training ([`check_data`]): per column its type, missing and zero
//! values and what is done about them (the imputation), summary
//! statistics, duplicates, and the target's distribution; fatal problems
//! (too few rows, no variation) fail the run before any model exists.
//!
//! After training ([`feature_report`]): the featurizer's normalisation
//! (mean and standard deviation of every structural feature, the scaler
//! saved in `feature_spec.json`), each feature's correlation with
//! ln(seconds), and feature importance as ridge |coefficient| × the
//! feature's standard deviation in the model's input — the change in
//! predicted ln(seconds) for a typical (one-sd) change of the feature.

use super::observations::Observation;
use crate::featurize::ln_seconds;
use crate::model::Sample;
use crate::train::TrainedModels;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Summary statistics of one numeric column (present values only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Option<Stats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let pct = |p: f64| crate::eval::metrics::percentile_nearest_rank(&v, p);
        Some(Stats {
            n,
            min: v[0],
            max: v[n - 1],
            mean,
            std: var.sqrt(),
            p50: pct(50.0),
            p90: pct(90.0),
            p99: pct(99.0),
        })
    }
}

/// One column of the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    pub name: String,
    /// integer, float, text or timestamp.
    pub dtype: String,
    pub missing: usize,
    pub zeros: usize,
    /// What training does with missing or zero values of this column.
    pub imputation: String,
    pub stats: Option<Stats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicates {
    /// Rows whose dedupe key was already stored, dropped at ingest this
    /// cycle (overlap re-reads, rewritten files).
    pub dropped_at_ingest: u64,
    /// Rows repeating an earlier row's statement text exactly (kept: the
    /// same statement run again is a new measurement).
    pub repeated_statements: usize,
    pub distinct_statements: usize,
    pub distinct_fingerprints: usize,
    /// Share of rows in the most frequent fingerprint.
    pub top_fingerprint_share: f64,
}

/// Everything checked before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataChecks {
    pub rows: usize,
    pub new_rows: u64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub columns: Vec<ColumnReport>,
    pub duplicates: Duplicates,
    /// Distribution of the target, seconds and ln(seconds).
    pub seconds: Option<Stats>,
    pub ln_seconds: Option<Stats>,
    /// Rows per latency class (fast, medium, slow).
    pub class_counts: [usize; 3],
    pub warnings: Vec<String>,
    /// Problems that stop the run before training.
    pub errors: Vec<String>,
}

/// Checks the accumulated training data.
pub fn check_data(
    rows: &[Observation],
    new_rows: u64,
    dropped_at_ingest: u64,
    min_rows: usize,
    thresholds: &crate::model::ClassThresholds,
) -> DataChecks {
    let n = rows.len();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    if n < min_rows {
        errors.push(format!(
            "{n} usable rows; at least {min_rows} are needed to train and test"
        ));
    }

    fn numeric(
        name: &str,
        dtype: &str,
        values: Vec<Option<f64>>,
        imputation: &str,
    ) -> ColumnReport {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        ColumnReport {
            name: name.into(),
            dtype: dtype.into(),
            missing: values.len() - present.len(),
            zeros: present.iter().filter(|v| **v == 0.0).count(),
            imputation: imputation.into(),
            stats: Stats::of(&present),
        }
    }
    fn text(name: &str, values: Vec<Option<&str>>, imputation: &str) -> ColumnReport {
        let lengths: Vec<f64> = values.iter().flatten().map(|s| s.len() as f64).collect();
        ColumnReport {
            name: name.into(),
            dtype: "text".into(),
            missing: values.iter().filter(|v| v.is_none()).count(),
            zeros: values
                .iter()
                .filter(|v| v.is_some_and(|s| s.trim().is_empty()))
                .count(),
            imputation: imputation.into(),
            // Of the text length in bytes.
            stats: Stats::of(&lengths),
        }
    }
    let columns = vec![
        numeric(
            "time",
            "timestamp",
            rows.iter()
                .map(|r| r.time_us.map(|t| t as f64 / 1e6))
                .collect(),
            "missing: placed after the last timed row before it (log order) for the time-ordered split",
        ),
        text(
            "query",
            rows.iter().map(|r| Some(r.query.as_str())).collect(),
            "empty: kept; its features are all zero (the training mean after centring)",
        ),
        numeric(
            "seconds",
            "float",
            rows.iter().map(|r| Some(r.seconds)).collect(),
            "target; zero (below the log's 1 µs resolution) is floored at 1 µs before ln; NaN/negative rows are dropped at ingest",
        ),
        numeric(
            "lock_seconds",
            "float",
            rows.iter().map(|r| r.lock_seconds).collect(),
            "not a model input (unknown before execution); reported only",
        ),
        numeric(
            "rows_sent",
            "integer",
            rows.iter().map(|r| r.rows_sent.map(|v| v as f64)).collect(),
            "not a model input (known only after execution); reported only",
        ),
        numeric(
            "rows_examined",
            "integer",
            rows.iter()
                .map(|r| r.rows_examined.map(|v| v as f64))
                .collect(),
            "not a model input (known only after execution); reported only",
        ),
        text(
            "db",
            rows.iter().map(|r| r.db.as_deref()).collect(),
            "not a model input; reported only",
        ),
        numeric(
            "thread_id",
            "integer",
            rows.iter().map(|r| r.thread_id.map(|v| v as f64)).collect(),
            "dedupe key part only; missing is a key of its own",
        ),
    ];
    let missing_time = columns[0].missing;
    if n > 0 && missing_time * 2 > n {
        warnings.push(format!(
            "{missing_time} of {n} rows have no time; the time-ordered split follows log order"
        ));
    }
    let empty = columns[1].zeros;
    if empty > 0 {
        warnings.push(format!("{empty} rows have an empty statement"));
    }

    let mut texts: HashSet<&str> = HashSet::new();
    let mut by_fp: HashMap<&str, usize> = HashMap::new();
    let mut repeated = 0;
    for r in rows {
        if !texts.insert(r.query.as_str()) {
            repeated += 1;
        }
        *by_fp.entry(r.fingerprint.as_str()).or_default() += 1;
    }
    let top = by_fp.values().copied().max().unwrap_or(0);
    let top_share = if n > 0 { top as f64 / n as f64 } else { 0.0 };
    if top_share > 0.8 {
        warnings.push(format!(
            "one fingerprint holds {:.0} % of the rows; the models mostly learn that shape",
            top_share * 100.0
        ));
    }

    let secs: Vec<f64> = rows.iter().map(|r| r.seconds).collect();
    let lns: Vec<f64> = secs.iter().map(|s| ln_seconds(*s)).collect();
    let ln_stats = Stats::of(&lns);
    if let Some(s) = &ln_stats
        && n >= min_rows
        && s.std < 1e-9
    {
        errors.push("every row has the same time: there is nothing to learn".into());
    }
    let mut class_counts = [0usize; 3];
    for s in &secs {
        class_counts[crate::model::LatencyClass::of(*s, thresholds).index()] += 1;
    }
    let times: Vec<i64> = rows.iter().filter_map(|r| r.time_us).collect();
    let show = |us: Option<&i64>| {
        us.and_then(|t| chrono::DateTime::from_timestamp_micros(*t))
            .map(|t| t.naive_utc().to_string())
    };
    DataChecks {
        rows: n,
        new_rows,
        first_time: show(times.iter().min()),
        last_time: show(times.iter().max()),
        columns,
        duplicates: Duplicates {
            dropped_at_ingest,
            repeated_statements: repeated,
            distinct_statements: texts.len(),
            distinct_fingerprints: by_fp.len(),
            top_fingerprint_share: top_share,
        },
        seconds: Stats::of(&secs),
        ln_seconds: ln_stats,
        class_counts,
        warnings,
        errors,
    }
}

/// One model input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureInfo {
    pub name: String,
    /// The scaler: training mean and standard deviation of the raw value
    /// (structural features; TF-IDF columns are centred by their mean and
    /// scaled by the featurizer's `tfidf_scale` instead).
    pub mean: f64,
    pub std: f64,
    /// Share of training rows where the raw value is zero.
    pub zero_share: f64,
    /// Pearson correlation with ln(seconds) on the training rows.
    pub correlation: f64,
    /// |ridge coefficient| × standard deviation in the model input.
    pub importance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReport {
    /// Rows the statistics were computed on (an even sample of training).
    pub sample_rows: usize,
    pub structural_features: usize,
    pub tfidf_terms: usize,
    pub tfidf_scale: f64,
    /// Structural features, in model order, with the scaler.
    pub structural: Vec<FeatureInfo>,
    /// The most important inputs of either kind, largest first.
    pub top_importance: Vec<FeatureInfo>,
    /// Structural features never non-zero in training (constant columns).
    pub constant_features: Vec<String>,
    /// Share of training statements the SQL parser understood; the rest
    /// have zero structural features and are predicted from tokens.
    pub parsed_share: f64,
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let (mx, my) = (
        x[..n].iter().sum::<f64>() / n as f64,
        y[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Most rows the feature statistics are computed on: an even sample keeps
/// re-featurizing cheap on large data.
const FEATURE_SAMPLE: usize = 5000;

/// The scaler, correlations and importance of the trained models' inputs.
pub fn feature_report(models: &TrainedModels, train: &[Sample]) -> FeatureReport {
    let step = train.len().div_ceil(FEATURE_SAMPLE).max(1);
    let sample: Vec<Sample> = train.iter().step_by(step).cloned().collect();
    let spec = &models.spec;
    let rows = spec.featurize_training(&sample);
    let y: Vec<f64> = sample.iter().map(|s| ln_seconds(s.seconds)).collect();
    let m = rows.len().max(1) as f64;
    let h = spec.head_len();
    let weights = &models.ridge.params.weights;
    let names = spec.display_names();

    let mut structural = Vec::with_capacity(h);
    let mut all = Vec::new();
    let mut constant = Vec::new();
    for j in 0..h {
        let col: Vec<f64> = rows
            .iter()
            .map(|r| r.head.get(j).copied().unwrap_or(0.0))
            .collect();
        let mean = spec.head_mean.get(j).copied().unwrap_or(0.0);
        let std = spec.head_std.get(j).copied().unwrap_or(1.0);
        let zero_share = col
            .iter()
            .filter(|v| (*v * std + mean).abs() < 1e-12)
            .count() as f64
            / m;
        let col_std = Stats::of(&col).map_or(0.0, |s| s.std);
        let name = spec.head_names.get(j).cloned().unwrap_or_default();
        if col_std < 1e-12 {
            constant.push(name.clone());
        }
        let info = FeatureInfo {
            name,
            mean,
            std,
            zero_share,
            correlation: pearson(&col, &y),
            importance: weights.get(j).map_or(0.0, |w| w.abs()) * col_std,
        };
        structural.push(info.clone());
        all.push(info);
    }
    // TF-IDF columns from the sparse entries: sums and sums of squares.
    let v = spec.vocab.len();
    let s = spec.config.tfidf_scale;
    let (mut sum, mut sum2, mut sum_xy, mut nonzero) =
        (vec![0.0; v], vec![0.0; v], vec![0.0; v], vec![0usize; v]);
    let y_mean = y.iter().sum::<f64>() / m;
    for (r, yi) in rows.iter().zip(&y) {
        for &(c, t) in &r.tfidf {
            let c = c as usize;
            if c < v {
                sum[c] += t;
                sum2[c] += t * t;
                sum_xy[c] += t * (yi - y_mean);
                nonzero[c] += 1;
            }
        }
    }
    let y_std = Stats::of(&y).map_or(0.0, |st| st.std);
    for c in 0..v {
        let mean = sum[c] / m;
        let var = (sum2[c] / m - mean * mean).max(0.0);
        let std = var.sqrt();
        let correlation = if std > 0.0 && y_std > 0.0 {
            (sum_xy[c] / m) / (std * y_std)
        } else {
            0.0
        };
        all.push(FeatureInfo {
            name: names.get(h + c).cloned().unwrap_or_default(),
            mean,
            std,
            zero_share: 1.0 - nonzero[c] as f64 / m,
            correlation,
            importance: weights.get(h + c).map_or(0.0, |w| w.abs()) * s * std,
        });
    }
    all.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    all.truncate(25);
    FeatureReport {
        sample_rows: rows.len(),
        structural_features: h,
        tfidf_terms: v,
        tfidf_scale: s,
        structural,
        top_importance: all,
        constant_features: constant,
        parsed_share: rows.iter().filter(|r| r.parsed).count() as f64 / m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(i: i64, seconds: f64, query: &str, time: Option<i64>) -> Observation {
        Observation {
            id: i,
            time_us: time,
            query: query.into(),
            fingerprint: crate::sql::fingerprint::fingerprint(query),
            query_id: String::new(),
            seconds,
            lock_seconds: None,
            rows_sent: Some(0),
            rows_examined: Some(i),
            db: None,
            thread_id: Some(1),
            source: "t".into(),
            run_id: "r".into(),
        }
    }

    #[test]
    fn checks_count_missing_zero_and_repeats() {
        let rows = vec![
            obs(0, 0.0, "SELECT 1", Some(1_000_000)),
            obs(1, 0.5, "SELECT 1", None),
            obs(2, 2.0, "SELECT * FROM t WHERE a = 5", Some(3_000_000)),
        ];
        let c = check_data(&rows, 3, 1, 2, &Default::default());
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let col = |name: &str| c.columns.iter().find(|x| x.name == name).expect(name);
        assert_eq!(col("time").missing, 1);
        assert_eq!(col("seconds").zeros, 1);
        assert_eq!(col("lock_seconds").missing, 3);
        assert_eq!(col("rows_examined").zeros, 1);
        assert_eq!(c.duplicates.repeated_statements, 1);
        assert_eq!(c.duplicates.distinct_fingerprints, 2);
        assert_eq!(c.duplicates.dropped_at_ingest, 1);
        assert_eq!(c.class_counts, [1, 1, 1]);
        assert_eq!(c.seconds.as_ref().map(|s| s.max), Some(2.0));
    }

    #[test]
    fn too_little_or_constant_data_is_fatal() {
        let few = vec![obs(0, 1.0, "SELECT 1", None)];
        assert!(
            !check_data(&few, 1, 0, 10, &Default::default())
                .errors
                .is_empty()
        );
        let same: Vec<Observation> = (0..20).map(|i| obs(i, 0.25, "SELECT 1", None)).collect();
        let c = check_data(&same, 20, 0, 10, &Default::default());
        assert!(
            c.errors.iter().any(|e| e.contains("same time")),
            "{:?}",
            c.errors
        );
    }

    #[test]
    fn pearson_is_signed_and_bounded() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&x, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&x, &[1.0, 1.0, 1.0, 1.0]), 0.0);
    }
}
