//! Intervals for shapes a model never saw, from the grouped
//! cross-validation `qlat train` runs anyway (CV+, Barber et al. 2021).
//!
//! The p10–p90 interval is calibrated on the newest slice of the training
//! data, whose shapes the model has mostly seen; held out by fingerprint,
//! it covered 40 % instead of 80 %. The grouped folds' predictions are
//! exactly "a model on shapes it never trained on", so their residuals are
//! the conformity scores an unseen shape needs. This module
//!
//! 1. measures what that calibration would do, honestly: each fold's
//!    intervals are corrected with offsets fitted on the *other* folds'
//!    held-out predictions only, and scored (coverage and width beside
//!    the uncorrected fold);
//! 2. fits the offsets on all folds' held-out predictions, which the final
//!    model keeps as [`crate::model::calibration::CalibrationSet::unseen`]
//!    and applies to fingerprints absent from its training data.
//!
//! Offsets are per kind of work × predicted class, shrunk toward the
//! global ones ([`crate::model::calibration::fit`] without a speed factor:
//! the median of an unseen shape is left as the model says).

use std::collections::BTreeMap;

use super::metrics::{aggregate, metrics_with_analytic};
use super::run::{CvResult, FoldPredictions};
use crate::model::calibration::{FitOptions, GroupFit, GroupedFit, apply, fit, group_key};
use crate::model::{ClassThresholds, Prediction};

/// What [`cross_conformal`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct UnseenCalibration {
    /// Each fold scored with offsets from the other folds.
    pub results: Vec<CvResult>,
    /// Offsets from all folds, per model.
    pub offsets: BTreeMap<String, GroupedFit>,
}

/// See the module documentation. Models missing from a fold are skipped in
/// that fold.
pub fn cross_conformal(
    folds: &[FoldPredictions],
    t: &ClassThresholds,
    coverage: f64,
) -> UnseenCalibration {
    let opts = FitOptions {
        shift: false,
        coverage,
        ..FitOptions::default()
    };
    let mut names: Vec<&str> = Vec::new();
    for f in folds {
        for (name, _) in &f.runs {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut results = Vec::new();
    let mut offsets = BTreeMap::new();
    for name in names {
        fn of<'a>(f: &'a FoldPredictions, name: &str) -> Option<&'a Vec<Prediction>> {
            f.runs.iter().find(|(n, _)| n == name).map(|r| &r.1)
        }
        let gather = |skip: Option<usize>| {
            let (mut sqls, mut preds, mut truth) = (Vec::new(), Vec::new(), Vec::new());
            for (i, f) in folds.iter().enumerate() {
                if Some(i) == skip {
                    continue;
                }
                if let Some(p) = of(f, name)
                    && p.len() == f.sqls.len()
                {
                    sqls.extend(f.sqls.iter().map(String::as_str));
                    preds.extend(p.iter().cloned());
                    truth.extend(f.truth.iter().copied());
                }
            }
            (sqls, preds, truth)
        };
        let (mut all, mut analytic, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
        for (k, f) in folds.iter().enumerate() {
            let Some(preds) = of(f, name).filter(|p| p.len() == f.sqls.len()) else {
                continue;
            };
            let (sqls, others, truth) = gather(Some(k));
            let Some(g) = fit(&sqls, &others, &truth, t, opts) else {
                continue;
            };
            let corrected: Vec<Prediction> = f
                .sqls
                .iter()
                .zip(preds)
                .map(|(sql, p)| {
                    let key = group_key(sql, p.predicted_seconds, t);
                    apply(p.clone(), &intervals_only(g.get(&key)), t)
                })
                .collect();
            let report = metrics_with_analytic(&corrected, &f.truth, t);
            all.push(report.metrics);
            analytic.push(report.analytic);
            sizes.push(f.sqls.len());
        }
        if !all.is_empty() {
            results.push(CvResult {
                model: name.to_owned(),
                fold_test_sizes: sizes,
                all: aggregate(&all),
                analytic: aggregate(&analytic),
                non_finite_predictions: 0,
            });
        }
        let (sqls, preds, truth) = gather(None);
        if let Some(g) = fit(&sqls, &preds, &truth, t, opts) {
            offsets.insert(name.to_owned(), g);
        }
    }
    UnseenCalibration { results, offsets }
}

fn intervals_only(g: GroupFit) -> GroupFit {
    GroupFit { shift: 0.0, ..g }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LatencyClass;

    /// A model whose intervals are far too narrow on unseen shapes: the
    /// corrected folds cover close to 80 %, the offsets widen.
    #[test]
    fn too_narrow_intervals_are_widened_to_nominal() {
        let t = ClassThresholds::default();
        let folds: Vec<FoldPredictions> = (0..5)
            .map(|k| {
                let n = 200;
                let truth: Vec<f64> = (0..n)
                    .map(|i| 0.05 * ((((i * 7 + k * 13) % 41) as f64 - 20.0) / 10.0).exp())
                    .collect();
                let preds = (0..n)
                    .map(|_| Prediction {
                        predicted_seconds: 0.05,
                        p10: 0.049,
                        p90: 0.051,
                        class: LatencyClass::Medium,
                        class_probabilities: [0.0, 1.0, 0.0],
                        explanation_baseline: 0.0,
                        explanation: Vec::new(),
                        parsed: true,
                    })
                    .collect();
                FoldPredictions {
                    sqls: vec!["SELECT a FROM t".to_owned(); n],
                    truth,
                    runs: vec![("m".to_owned(), preds)],
                }
            })
            .collect();
        let u = cross_conformal(&folds, &t, 0.8);
        let cov = u.results[0].all.interval_coverage.mean;
        assert!((0.72..=0.9).contains(&cov), "coverage {cov}");
        let g = u.offsets["m"].global;
        assert!(g.lower < -1.0 && g.upper > 1.0, "{g:?}");
    }
}
