//! Accuracy of latency predictions against measured times.
//!
//! Latency spans six orders of magnitude, so the headline numbers are on a
//! log scale: MSE and R² of ln-seconds, and the q-error (the factor by which
//! a prediction is off, in either direction). Seconds-scale MAE/RMSE are kept
//! because they show what the slow statements cost, which the log metrics
//! deliberately downweight.
//!
//! Conventions, so every number is finite and serialisable:
//! - Values (predictions and truth) that are NaN or below 1 µs are taken as
//!   1 µs and values above 10⁶ s (or +∞) as 10⁶ s before any metric. A model
//!   emitting NaN or ∞ is thus scored as a wild guess, not skipped (skipping
//!   would flatter it); [`count_non_finite`] counts such predictions so the
//!   report can say so.
//! - Empty input gives `n = 0` and every other field 0 (never NaN).
//! - Percentiles use the nearest-rank method: the value at rank
//!   `ceil(p/100 · n)` of the ascending values, always an observed value.
//! - `confusion[truth][predicted]`, classes indexed fast, medium, slow.
//! - Macro averages run over the classes present in truth or prediction;
//!   a ratio with a zero denominator (precision of a class never predicted,
//!   recall of a class never true, F1 with P + R = 0) counts as 0, as
//!   scikit-learn's default `zero_division` does. Macro F1 is the mean of
//!   per-class F1, not the F1 of macro precision and recall.
//! - R² is `1 − SS_res/SS_tot`; when all true values are equal (SS_tot = 0)
//!   it is 1 for a perfect prediction and 0 otherwise, instead of ±∞.

use crate::model::{ClassThresholds, LatencyClass, Prediction};
use serde::{Deserialize, Serialize};

/// Smallest and largest time metrics work with, in seconds.
pub const MIN_SECONDS: f64 = 1e-6;
pub const MAX_SECONDS: f64 = 1e6;

/// Statements at or above this time form the "analytic" subset: the ones a
/// user tunes, where sub-millisecond point lookups would otherwise dominate.
pub const ANALYTIC_FROM_SECONDS: f64 = 0.010;

/// Accuracy of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: u64,
    /// Mean squared error of ln(seconds).
    pub mse_ln: f64,
    /// Coefficient of determination of ln(seconds).
    pub r2_ln: f64,
    /// Mean absolute error in seconds.
    pub mae_s: f64,
    /// Root mean squared error in seconds.
    pub rmse_s: f64,
    /// q-error = max(pred/true, true/pred) ≥ 1, nearest-rank percentiles.
    pub q_error_p50: f64,
    pub q_error_p90: f64,
    pub q_error_p99: f64,
    /// Share of statements with p10 ≤ truth ≤ p90 (ideal: 0.8).
    pub interval_coverage: f64,
    /// Mean of ln(predicted / true): the bias, > 0 when predictions are
    /// too slow (absent from reports written before it).
    #[serde(default)]
    pub mean_ln_error: f64,
    /// Mean of ln(p90 / p10): how wide the intervals that cover are.
    #[serde(default)]
    pub interval_width_ln: f64,
    pub class_accuracy: f64,
    pub class_precision_macro: f64,
    pub class_recall_macro: f64,
    pub class_f1_macro: f64,
    /// `confusion[truth][predicted]`, indexed fast, medium, slow.
    pub confusion: [[u64; 3]; 3],
}

/// The one-line form every command prints (`qlat eval`, the pipeline's
/// evaluate step): every headline number, in one order, with its unit.
impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n {} | MSE(ln) {:.3} | R²(ln) {:.3} | MAE {:.4} s | RMSE {:.4} s | q-error p50 {:.2} p90 {:.2} p99 {:.2} | bias (mean ln error) {:+.3} | p10–p90 coverage {:.1} %, width {:.2} ln | class acc {:.3} P {:.3} R {:.3} F1 {:.3}",
            self.n,
            self.mse_ln,
            self.r2_ln,
            self.mae_s,
            self.rmse_s,
            self.q_error_p50,
            self.q_error_p90,
            self.q_error_p99,
            self.mean_ln_error,
            self.interval_coverage * 100.0,
            self.interval_width_ln,
            self.class_accuracy,
            self.class_precision_macro,
            self.class_recall_macro,
            self.class_f1_macro
        )
    }
}

impl Metrics {
    /// The metrics of nothing: `n = 0`, all zeros.
    pub fn empty() -> Metrics {
        Metrics {
            n: 0,
            mse_ln: 0.0,
            r2_ln: 0.0,
            mae_s: 0.0,
            rmse_s: 0.0,
            q_error_p50: 0.0,
            q_error_p90: 0.0,
            q_error_p99: 0.0,
            interval_coverage: 0.0,
            mean_ln_error: 0.0,
            interval_width_ln: 0.0,
            class_accuracy: 0.0,
            class_precision_macro: 0.0,
            class_recall_macro: 0.0,
            class_f1_macro: 0.0,
            confusion: [[0; 3]; 3],
        }
    }
}

/// Metrics on all statements and on the analytic subset (truth ≥ 10 ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub n: u64,
    pub metrics: Metrics,
    pub analytic: Metrics,
}

/// `v` clamped into `MIN_SECONDS..=MAX_SECONDS`, NaN taken as the minimum.
pub fn clamp_seconds(v: f64) -> f64 {
    if v.is_nan() {
        MIN_SECONDS
    } else {
        v.clamp(MIN_SECONDS, MAX_SECONDS)
    }
}

/// The q-error of one prediction, both values clamped (see module docs).
pub fn q_error(predicted: f64, truth: f64) -> f64 {
    let (p, t) = (clamp_seconds(predicted), clamp_seconds(truth));
    (p / t).max(t / p)
}

/// Predictions whose median, p10 or p90 is NaN or infinite: a model bug the
/// metrics absorb (see module docs) but a report must show.
pub fn count_non_finite(preds: &[Prediction]) -> u64 {
    preds
        .iter()
        .filter(|p| !(p.predicted_seconds.is_finite() && p.p10.is_finite() && p.p90.is_finite()))
        .count() as u64
}

/// Nearest-rank percentile of ascending `sorted` values; 0 when empty.
pub fn percentile_nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Metrics of `preds` against measured `truth` seconds, pairwise. Extra
/// entries in the longer slice are ignored (the runner rejects length
/// mismatches before this point).
pub fn metrics(preds: &[Prediction], truth: &[f64], t: &ClassThresholds) -> Metrics {
    let n = preds.len().min(truth.len());
    if n == 0 {
        return Metrics::empty();
    }
    let nf = n as f64;
    let pairs: Vec<(&Prediction, f64, f64)> = preds
        .iter()
        .zip(truth)
        .map(|(p, &y)| (p, clamp_seconds(p.predicted_seconds), clamp_seconds(y)))
        .collect();

    let ln_true: Vec<f64> = pairs.iter().map(|&(_, _, y)| y.ln()).collect();
    let mean_ln = ln_true.iter().sum::<f64>() / nf;
    let ss_res: f64 = pairs
        .iter()
        .map(|&(_, p, y)| (p.ln() - y.ln()).powi(2))
        .sum();
    let ss_tot: f64 = ln_true.iter().map(|v| (v - mean_ln).powi(2)).sum();
    let r2_ln = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };

    let mae_s = pairs.iter().map(|&(_, p, y)| (p - y).abs()).sum::<f64>() / nf;
    let rmse_s = (pairs.iter().map(|&(_, p, y)| (p - y).powi(2)).sum::<f64>() / nf).sqrt();

    let mut q: Vec<f64> = pairs.iter().map(|&(_, p, y)| (p / y).max(y / p)).collect();
    q.sort_by(f64::total_cmp);

    let covered = pairs
        .iter()
        .zip(truth)
        .filter(|((p, _, _), y)| p.p10 <= **y && **y <= p.p90)
        .count();

    let mut confusion = [[0u64; 3]; 3];
    for &(p, _, y) in &pairs {
        confusion[LatencyClass::of(y, t).index()][p.class.index()] += 1;
    }
    let (precision, recall, f1) = macro_scores(&confusion);
    let correct: u64 = (0..3).map(|c| confusion[c][c]).sum();

    Metrics {
        n: n as u64,
        mse_ln: ss_res / nf,
        r2_ln,
        mae_s,
        rmse_s,
        q_error_p50: percentile_nearest_rank(&q, 50.0),
        q_error_p90: percentile_nearest_rank(&q, 90.0),
        q_error_p99: percentile_nearest_rank(&q, 99.0),
        interval_coverage: covered as f64 / nf,
        mean_ln_error: pairs.iter().map(|&(_, p, y)| p.ln() - y.ln()).sum::<f64>() / nf,
        interval_width_ln: pairs
            .iter()
            .map(|&(p, _, _)| (clamp_seconds(p.p90) / clamp_seconds(p.p10)).ln().max(0.0))
            .sum::<f64>()
            / nf,
        class_accuracy: correct as f64 / nf,
        class_precision_macro: precision,
        class_recall_macro: recall,
        class_f1_macro: f1,
        confusion,
    }
}

/// Macro precision, recall and F1 over the classes present in truth or
/// prediction, with the zero-division rule of the module docs.
fn macro_scores(c: &[[u64; 3]; 3]) -> (f64, f64, f64) {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (mut p_sum, mut r_sum, mut f_sum, mut classes) = (0.0, 0.0, 0.0, 0u32);
    for (k, row) in c.iter().enumerate() {
        let actual: u64 = row.iter().sum();
        let predicted: u64 = c.iter().map(|r| r[k]).sum();
        if actual == 0 && predicted == 0 {
            continue;
        }
        let p = ratio(row[k], predicted);
        let r = ratio(row[k], actual);
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        p_sum += p;
        r_sum += r;
        f_sum += f;
        classes += 1;
    }
    if classes == 0 {
        return (0.0, 0.0, 0.0);
    }
    let k = f64::from(classes);
    (p_sum / k, r_sum / k, f_sum / k)
}

/// [`metrics`] on all statements and on those whose truth is at least
/// [`ANALYTIC_FROM_SECONDS`].
pub fn metrics_with_analytic(
    preds: &[Prediction],
    truth: &[f64],
    t: &ClassThresholds,
) -> EvalReport {
    let all = metrics(preds, truth, t);
    let (ap, at): (Vec<Prediction>, Vec<f64>) = preds
        .iter()
        .zip(truth)
        .filter(|(_, y)| **y >= ANALYTIC_FROM_SECONDS)
        .map(|(p, y)| (p.clone(), *y))
        .unzip();
    EvalReport {
        n: all.n,
        analytic: metrics(&ap, &at, t),
        metrics: all,
    }
}

/// Mean and standard deviation of one metric over folds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator); 0 for a single fold.
    pub std: f64,
}

impl MeanStd {
    fn of(values: &[f64]) -> MeanStd {
        if values.is_empty() {
            return MeanStd {
                mean: 0.0,
                std: 0.0,
            };
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        MeanStd { mean, std }
    }
}

/// Cross-validation metrics: mean ± std over folds of every metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    /// Folds averaged (folds with `n = 0` are left out: they measured
    /// nothing, and their zeros would drag every mean down).
    pub folds: u64,
    /// Statements over all averaged folds.
    pub n: u64,
    pub mse_ln: MeanStd,
    pub r2_ln: MeanStd,
    pub mae_s: MeanStd,
    pub rmse_s: MeanStd,
    pub q_error_p50: MeanStd,
    pub q_error_p90: MeanStd,
    pub q_error_p99: MeanStd,
    pub interval_coverage: MeanStd,
    #[serde(default)]
    pub mean_ln_error: MeanStd,
    #[serde(default)]
    pub interval_width_ln: MeanStd,
    pub class_accuracy: MeanStd,
    pub class_precision_macro: MeanStd,
    pub class_recall_macro: MeanStd,
    pub class_f1_macro: MeanStd,
    /// Summed over folds: with disjoint test folds, the confusion matrix of
    /// every statement evaluated.
    pub confusion: [[u64; 3]; 3],
}

/// Mean ± std of each metric over `folds` (unweighted: each fold counts
/// once, as is usual for k-fold CV).
pub fn aggregate(folds: &[Metrics]) -> MetricsSummary {
    let used: Vec<&Metrics> = folds.iter().filter(|m| m.n > 0).collect();
    let ms = |f: fn(&Metrics) -> f64| MeanStd::of(&used.iter().map(|m| f(m)).collect::<Vec<_>>());
    let mut confusion = [[0u64; 3]; 3];
    for m in &used {
        for (row, fold_row) in confusion.iter_mut().zip(&m.confusion) {
            for (cell, v) in row.iter_mut().zip(fold_row) {
                *cell += v;
            }
        }
    }
    MetricsSummary {
        folds: used.len() as u64,
        n: used.iter().map(|m| m.n).sum(),
        mse_ln: ms(|m| m.mse_ln),
        r2_ln: ms(|m| m.r2_ln),
        mae_s: ms(|m| m.mae_s),
        rmse_s: ms(|m| m.rmse_s),
        q_error_p50: ms(|m| m.q_error_p50),
        q_error_p90: ms(|m| m.q_error_p90),
        q_error_p99: ms(|m| m.q_error_p99),
        interval_coverage: ms(|m| m.interval_coverage),
        mean_ln_error: ms(|m| m.mean_ln_error),
        interval_width_ln: ms(|m| m.interval_width_ln),
        class_accuracy: ms(|m| m.class_accuracy),
        class_precision_macro: ms(|m| m.class_precision_macro),
        class_recall_macro: ms(|m| m.class_recall_macro),
        class_f1_macro: ms(|m| m.class_f1_macro),
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: ClassThresholds = ClassThresholds {
        fast_below: 0.010,
        slow_from: 1.0,
    };

    /// A prediction of `s` seconds with interval `s/2..2s` and the class
    /// the thresholds give.
    fn pred(s: f64) -> Prediction {
        Prediction {
            predicted_seconds: s,
            p10: s / 2.0,
            p90: s * 2.0,
            class: LatencyClass::of(s, &T),
            class_probabilities: [1.0 / 3.0; 3],
            explanation_baseline: 0.0,
            explanation: Vec::new(),
            parsed: true,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn all_finite(m: &Metrics) -> bool {
        [
            m.mse_ln,
            m.r2_ln,
            m.mae_s,
            m.rmse_s,
            m.q_error_p50,
            m.q_error_p90,
            m.q_error_p99,
            m.interval_coverage,
            m.mean_ln_error,
            m.interval_width_ln,
            m.class_accuracy,
            m.class_precision_macro,
            m.class_recall_macro,
            m.class_f1_macro,
        ]
        .iter()
        .all(|v| v.is_finite())
    }

    #[test]
    fn serialised_field_names_are_the_documented_ones() {
        let v = serde_json::to_value(Metrics::empty()).expect("serialise");
        let keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "n",
                "mse_ln",
                "r2_ln",
                "mae_s",
                "rmse_s",
                "q_error_p50",
                "q_error_p90",
                "q_error_p99",
                "interval_coverage",
                "mean_ln_error",
                "interval_width_ln",
                "class_accuracy",
                "class_precision_macro",
                "class_recall_macro",
                "class_f1_macro",
                "confusion"
            ]
        );
    }

    #[test]
    fn perfect_predictions() {
        let truth = [0.001, 0.02, 0.5, 3.0];
        let preds: Vec<_> = truth.iter().map(|&s| pred(s)).collect();
        let m = metrics(&preds, &truth, &T);
        assert_eq!(m.n, 4);
        assert!(close(m.mse_ln, 0.0) && close(m.r2_ln, 1.0));
        assert!(close(m.mae_s, 0.0) && close(m.rmse_s, 0.0));
        assert!(close(m.q_error_p50, 1.0) && close(m.q_error_p99, 1.0));
        assert!(close(m.interval_coverage, 1.0));
        assert!(close(m.class_accuracy, 1.0) && close(m.class_f1_macro, 1.0));
        assert_eq!(m.confusion, [[1, 0, 0], [0, 2, 0], [0, 0, 1]]);
    }

    #[test]
    fn twofold_over_prediction() {
        let truth = [0.1, 0.2, 0.4];
        let preds: Vec<_> = truth.iter().map(|&s| pred(2.0 * s)).collect();
        let m = metrics(&preds, &truth, &T);
        assert!(close(m.q_error_p50, 2.0) && close(m.q_error_p90, 2.0));
        assert!(close(m.mse_ln, 2f64.ln().powi(2)));
        // Residuals 0.1, 0.2, 0.4 s.
        assert!(close(m.mae_s, 0.7 / 3.0));
        assert!(close(m.rmse_s, (0.21f64 / 3.0).sqrt()));
        // ln truth = ln 0.1 + {0, ln2, 2 ln2}: SS_tot = 2 ln²2, SS_res = 3 ln²2.
        assert!(close(m.r2_ln, 1.0 - 1.5));
        // Truth is the interval's lower end (p10 = 2s/2): covered.
        assert!(close(m.interval_coverage, 1.0));
        // 0.4 → 0.8 stays medium: all correct.
        assert!(close(m.class_accuracy, 1.0));
    }

    #[test]
    fn under_prediction_is_symmetric_and_floors_at_one_microsecond() {
        assert!(close(q_error(0.05, 0.1), 2.0));
        assert!(close(q_error(0.0, 1e-6), 1.0));
        assert!(close(q_error(0.0, 1e-3), 1000.0));
    }

    #[test]
    fn confusion_and_macro_scores_by_hand() {
        // truth:     fast fast medium medium slow
        // predicted: fast medium medium medium fast
        let truth = [0.001, 0.002, 0.1, 0.2, 5.0];
        let preds = vec![pred(0.001), pred(0.1), pred(0.1), pred(0.2), pred(0.001)];
        let m = metrics(&preds, &truth, &T);
        assert_eq!(m.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
        assert!(close(m.class_accuracy, 3.0 / 5.0));
        // fast P=1/2 R=1/2 F=1/2; medium P=2/3 R=1 F=0.8; slow P=0 (never
        // predicted: zero division → 0) R=0 F=0.
        assert!(close(m.class_precision_macro, (0.5 + 2.0 / 3.0) / 3.0));
        assert!(close(m.class_recall_macro, 1.5 / 3.0));
        assert!(close(m.class_f1_macro, 1.3 / 3.0));
    }

    #[test]
    fn absent_classes_are_not_averaged() {
        let truth = [0.001, 0.002];
        let preds = vec![pred(0.001), pred(0.002)];
        let m = metrics(&preds, &truth, &T);
        assert!(close(m.class_f1_macro, 1.0));
        assert!(close(m.class_precision_macro, 1.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_nearest_rank(&v, 50.0), 5.0);
        assert_eq!(percentile_nearest_rank(&v, 90.0), 9.0);
        assert_eq!(percentile_nearest_rank(&v, 99.0), 10.0);
        assert_eq!(percentile_nearest_rank(&v, 0.0), 1.0);
        assert_eq!(percentile_nearest_rank(&[], 50.0), 0.0);
    }

    #[test]
    fn empty_input_is_zeros_and_serialisable() {
        let m = metrics(&[], &[], &T);
        assert_eq!(m, Metrics::empty());
        let r = metrics_with_analytic(&[], &[], &T);
        assert_eq!(r.n, 0);
        let json = serde_json::to_string(&r).expect("serialise");
        let back: EvalReport = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, r);
    }

    #[test]
    fn non_finite_predictions_are_scored_finitely_and_counted() {
        let truth = [0.1, 0.1, 0.1, 0.1];
        let mut preds = vec![pred(f64::NAN), pred(f64::INFINITY), pred(-1.0), pred(0.1)];
        preds[0].p10 = f64::NAN;
        preds[1].p90 = f64::NEG_INFINITY;
        let m = metrics(&preds, &truth, &T);
        assert!(all_finite(&m), "{m:?}");
        assert_eq!(count_non_finite(&preds), 2);
        // NaN and -1 are taken as 1 µs: q = 0.1 / 1e-6; +∞ as 1e6 s: q = 1e7.
        assert!(close(m.q_error_p99, 1e7));
        assert!(serde_json::to_string(&m).is_ok());
        let m = metrics(&[pred(0.1)], &[f64::NAN], &T);
        assert!(all_finite(&m));
    }

    #[test]
    fn constant_truth_r2_is_finite() {
        let truth = [0.1, 0.1];
        assert!(close(
            metrics(&[pred(0.1), pred(0.1)], &truth, &T).r2_ln,
            1.0
        ));
        assert!(close(
            metrics(&[pred(0.2), pred(0.1)], &truth, &T).r2_ln,
            0.0
        ));
    }

    #[test]
    fn analytic_subset_keeps_statements_from_ten_ms() {
        let truth = [0.001, 0.010, 2.0];
        let preds = vec![pred(0.004), pred(0.010), pred(2.0)];
        let r = metrics_with_analytic(&preds, &truth, &T);
        assert_eq!((r.n, r.metrics.n, r.analytic.n), (3, 3, 2));
        assert!(close(r.analytic.q_error_p99, 1.0));
        assert!(close(r.metrics.q_error_p99, 4.0));
    }

    #[test]
    fn aggregate_means_and_sample_std() {
        let mut a = Metrics::empty();
        a.n = 10;
        a.mse_ln = 1.0;
        a.confusion[0][0] = 10;
        let mut b = a.clone();
        b.mse_ln = 3.0;
        b.confusion[1][2] = 4;
        let s = aggregate(&[a, b, Metrics::empty()]);
        assert_eq!((s.folds, s.n), (2, 20));
        assert!(close(s.mse_ln.mean, 2.0));
        assert!(close(s.mse_ln.std, 2f64.sqrt()));
        assert_eq!(s.confusion[0][0], 20);
        assert_eq!(s.confusion[1][2], 4);
        let none = aggregate(&[]);
        assert_eq!(none.folds, 0);
        assert_eq!(
            none.mse_ln,
            MeanStd {
                mean: 0.0,
                std: 0.0
            }
        );
    }
}
