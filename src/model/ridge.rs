//! Ridge regression of ln(seconds) on the shared features, solved in closed
//! form with a Cholesky factorisation in f64 (no BLAS: the system is only
//! as wide as the feature vector).
//!
//! Intervals and class probabilities come from the empirical distribution
//! of residuals on the validation slice (the model refitted without it), so
//! they reflect error on unseen data rather than the training fit.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ClassThresholds, LatencyModel, Prediction, TRAINED_RANGE, argmax_class, class_probabilities_of,
    keep_within, ln_range, top_contributions,
};
use crate::featurize::{FeatureSpec, Featurized, quantile_sorted};

/// Residual quantile points kept for intervals and class probabilities.
const RESIDUAL_POINTS: usize = 101;

/// Errors of the closed-form solve.
#[derive(Debug, thiserror::Error)]
pub enum RidgeError {
    #[error("ridge system is not positive definite at pivot {pivot} (lambda {lambda})")]
    NotPositiveDefinite { pivot: usize, lambda: f64 },
    #[error("ridge needs at least one training row")]
    Empty,
}

/// What is saved as `ridge.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeParams {
    pub lambda: f64,
    /// ln seconds at the all-zero (training mean) input.
    pub intercept: f64,
    /// One weight per input column, in [`FeatureSpec`] order.
    pub weights: Vec<f64>,
    /// Sorted validation residuals (true − predicted ln), at
    /// [`RESIDUAL_POINTS`] evenly spaced quantiles.
    pub residual_quantiles: Vec<f64>,
    pub thresholds: ClassThresholds,
    /// Validation MSE(ln) of every lambda tried, for the record.
    pub lambda_search: Vec<(f64, f64)>,
    /// Fastest and slowest training time, ln seconds: the median is kept
    /// between them, as the MLP's is (see
    /// [`super::mlp::Calibration::ln_min`]). Absent from older files.
    #[serde(default)]
    pub trained_range: Option<(f64, f64)>,
}

/// The fitted ridge model.
#[derive(Debug)]
pub struct Ridge {
    pub params: RidgeParams,
    spec: Arc<FeatureSpec>,
    names: Vec<String>,
    /// Weighted contribution of the centring of the TF-IDF block,
    /// `-scale · Σ w_c mean_c`, folded out of the sparse serving path.
    tfidf_offset: f64,
}

impl Ridge {
    /// Fits on `rows` (targets `y` in ln seconds). The last `n_val` rows are
    /// the validation slice: each lambda of `lambdas` is fitted without
    /// them and scored on them, the best one's validation residuals give the
    /// intervals, and the final weights are refitted on all rows.
    pub fn fit(
        spec: Arc<FeatureSpec>,
        rows: &[Featurized],
        y: &[f64],
        n_val: usize,
        lambdas: &[f64],
        thresholds: ClassThresholds,
    ) -> Result<Ridge, RidgeError> {
        if rows.is_empty() || y.len() != rows.len() {
            return Err(RidgeError::Empty);
        }
        let n_val = n_val.min(rows.len() - 1);
        let n_fit = rows.len() - n_val;
        let fit_stats = Gram::accumulate(&spec, &rows[..n_fit], &y[..n_fit]);
        let mut search = Vec::new();
        let mut best: Option<(f64, f64, Vec<f64>)> = None;
        for &lambda in lambdas {
            let (w, b) = fit_stats.solve(lambda)?;
            let model = Ridge::from_params(
                RidgeParams {
                    lambda,
                    intercept: b,
                    weights: w,
                    residual_quantiles: Vec::new(),
                    thresholds,
                    lambda_search: Vec::new(),
                    trained_range: None,
                },
                Arc::clone(&spec),
            );
            let mut residuals: Vec<f64> = rows[n_fit..]
                .iter()
                .zip(&y[n_fit..])
                .map(|(r, t)| t - model.ln_p50(r))
                .collect();
            let mse = if residuals.is_empty() {
                0.0
            } else {
                residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64
            };
            search.push((lambda, mse));
            if best.as_ref().is_none_or(|b| mse < b.1) {
                residuals.sort_by(f64::total_cmp);
                best = Some((lambda, mse, residuals));
            }
        }
        let (lambda, _, residuals) = best.ok_or(RidgeError::Empty)?;
        let residual_quantiles = (0..RESIDUAL_POINTS)
            .map(|i| quantile_sorted(&residuals, i as f64 / (RESIDUAL_POINTS - 1) as f64))
            .collect();
        let all = Gram::accumulate(&spec, rows, y);
        let (weights, intercept) = all.solve(lambda)?;
        Ok(Ridge::from_params(
            RidgeParams {
                lambda,
                intercept,
                weights,
                residual_quantiles,
                thresholds,
                lambda_search: search,
                trained_range: ln_range(y),
            },
            spec,
        ))
    }

    pub fn from_params(params: RidgeParams, spec: Arc<FeatureSpec>) -> Ridge {
        let h = spec.head_len();
        let s = spec.config.tfidf_scale;
        let tfidf_offset = -s
            * spec
                .tfidf_mean
                .iter()
                .zip(params.weights.iter().skip(h))
                .map(|(m, w)| m * w)
                .sum::<f64>();
        Ridge {
            names: spec.display_names(),
            params,
            spec,
            tfidf_offset,
        }
    }

    /// Predicted ln seconds (median) from features, sparse path.
    pub fn ln_p50(&self, f: &Featurized) -> f64 {
        let w = &self.params.weights;
        let h = self.spec.head_len();
        let s = self.spec.config.tfidf_scale;
        let mut y = self.params.intercept + self.tfidf_offset;
        for (x, wi) in f.head.iter().zip(w) {
            y += x * wi;
        }
        for &(c, t) in &f.tfidf {
            if let Some(wi) = w.get(h + c as usize) {
                y += s * t * wi;
            }
        }
        y
    }
}

impl LatencyModel for Ridge {
    fn name(&self) -> &str {
        "ridge"
    }

    fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// Explanation: the exact linear decomposition `w_i · x_i` of the
    /// centred input (x = 0 is the training mean), from the intercept.
    fn predict_featurized(&self, f: &Featurized, explain: bool) -> Prediction {
        let q = &self.params.residual_quantiles;
        let at = |p: f64| quantile_sorted(q, p);
        let (baseline, explanation, y) = if explain {
            let x = self.spec.dense(f);
            let contributions: Vec<f64> = x
                .iter()
                .zip(&self.params.weights)
                .map(|(x, w)| x * w)
                .collect();
            // Summing the same terms that are reported keeps the
            // decomposition exact to rounding.
            let raw = self.params.intercept + contributions.iter().sum::<f64>();
            let y = keep_within(raw, self.params.trained_range);
            let moved = [(TRAINED_RANGE, y - raw)];
            let extras = if y != raw { &moved[..] } else { &[] };
            (
                self.params.intercept,
                top_contributions(&self.names, &contributions, extras),
                y,
            )
        } else {
            let y = keep_within(self.ln_p50(f), self.params.trained_range);
            (y, Vec::new(), y)
        };
        let points: Vec<f64> = q.iter().map(|r| y + r).collect();
        let p = class_probabilities_of(&points, &self.params.thresholds);
        Prediction {
            predicted_seconds: y.exp(),
            p10: (y + at(0.1).min(0.0)).exp(),
            p90: (y + at(0.9).max(0.0)).exp(),
            class: argmax_class(&p),
            class_probabilities: p,
            explanation_baseline: baseline,
            explanation,
            parsed: f.parsed,
        }
    }
}

/// Centred normal equations of a set of rows.
struct Gram {
    d: usize,
    /// Xcᵀ Xc, row-major, only the lower triangle is filled.
    xtx: Vec<f64>,
    /// Xcᵀ (y − ȳ).
    xty: Vec<f64>,
    /// Mean of the rows (in the spec's centred coordinates).
    mean: Vec<f64>,
    y_mean: f64,
}

impl Gram {
    fn accumulate(spec: &FeatureSpec, rows: &[Featurized], y: &[f64]) -> Gram {
        let d = spec.input_len();
        let h = spec.head_len();
        let s = spec.config.tfidf_scale;
        let n = rows.len() as f64;
        let mut xtx = vec![0.0; d * d];
        let mut sum = vec![0.0; d];
        let mut xty = vec![0.0; d];
        let y_mean = y.iter().sum::<f64>() / n;
        // Raw sparse rows (head as is, TF-IDF scaled but uncentred); the
        // centring is applied to the sums afterwards.
        let mut entries: Vec<(usize, f64)> = Vec::new();
        for (r, &t) in rows.iter().zip(y) {
            entries.clear();
            entries.extend(r.head.iter().copied().enumerate().filter(|e| e.1 != 0.0));
            entries.extend(r.tfidf.iter().map(|&(c, v)| (h + c as usize, v * s)));
            for (a, &(i, xi)) in entries.iter().enumerate() {
                sum[i] += xi;
                xty[i] += xi * (t - y_mean);
                let row = &mut xtx[i * d..];
                for &(j, xj) in &entries[..=a] {
                    row[j] += xi * xj;
                }
            }
        }
        let mean: Vec<f64> = sum.iter().map(|v| v / n).collect();
        for i in 0..d {
            for j in 0..=i {
                xtx[i * d + j] -= n * mean[i] * mean[j];
            }
        }
        // Express the mean in the spec's centred coordinates.
        let mut centred_mean = mean;
        for (c, m) in spec.tfidf_mean.iter().enumerate() {
            centred_mean[h + c] -= s * m;
        }
        Gram {
            d,
            xtx,
            xty,
            mean: centred_mean,
            y_mean,
        }
    }

    /// Weights and intercept (prediction at the spec's zero input).
    fn solve(&self, lambda: f64) -> Result<(Vec<f64>, f64), RidgeError> {
        let d = self.d;
        let mut a = self.xtx.clone();
        for i in 0..d {
            a[i * d + i] += lambda;
        }
        cholesky_in_place(&mut a, d)
            .map_err(|pivot| RidgeError::NotPositiveDefinite { pivot, lambda })?;
        let w = cholesky_solve(&a, d, &self.xty);
        let intercept = self.y_mean - w.iter().zip(&self.mean).map(|(w, m)| w * m).sum::<f64>();
        Ok((w, intercept))
    }
}

/// Lower-triangular Cholesky factor of a symmetric positive definite matrix
/// (lower triangle given, row-major), in place; `Err(pivot)` when not
/// positive definite.
fn cholesky_in_place(a: &mut [f64], d: usize) -> Result<(), usize> {
    for i in 0..d {
        let (before, from_i) = a.split_at_mut(i * d);
        let row_i = &mut from_i[..d];
        for j in 0..i {
            let row_j = &before[j * d..j * d + d];
            let dot: f64 = row_i[..j].iter().zip(&row_j[..j]).map(|(x, y)| x * y).sum();
            row_i[j] = (row_i[j] - dot) / row_j[j];
        }
        let diag = row_i[i] - row_i[..i].iter().map(|x| x * x).sum::<f64>();
        if diag <= 0.0 || !diag.is_finite() {
            return Err(i);
        }
        row_i[i] = diag.sqrt();
    }
    Ok(())
}

/// Solves L Lᵀ w = b for the factor computed by [`cholesky_in_place`].
fn cholesky_solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut z = b.to_vec();
    for i in 0..d {
        let row = &l[i * d..i * d + d];
        let dot: f64 = row[..i].iter().zip(&z[..i]).map(|(x, y)| x * y).sum();
        z[i] = (z[i] - dot) / row[i];
    }
    for i in (0..d).rev() {
        let mut v = z[i];
        for k in i + 1..d {
            v -= l[k * d + i] * z[k];
        }
        z[i] = v / l[i * d + i];
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        // A = [[4, 2], [2, 3]], b = [2, 1] → w = [0.5, 0].
        let mut a = vec![4.0, 0.0, 2.0, 3.0];
        cholesky_in_place(&mut a, 2).expect("positive definite");
        let w = cholesky_solve(&a, 2, &[2.0, 1.0]);
        assert!((w[0] - 0.5).abs() < 1e-12 && w[1].abs() < 1e-12, "{w:?}");
    }
}
