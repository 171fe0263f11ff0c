//! Runs every model on every split and collects the metrics.
//!
//! The runner knows models only through [`Trainer`] and [`Predictor`], so
//! any model (and the test's toy baselines) is evaluated by the same code,
//! and this module does not depend on how models are built.

use super::metrics::{
    EvalReport, Metrics, MetricsSummary, aggregate, count_non_finite, metrics_with_analytic,
};
use super::split::{Split, group_kfold, random_split, time_split};
use crate::model::{ClassThresholds, Prediction, Sample};
use serde::{Deserialize, Serialize};

/// A trained model.
pub trait Predictor: Send + Sync {
    /// One prediction per statement, in order.
    fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction>;
}

/// Trained models, by name.
pub type Models = Vec<(String, Box<dyn Predictor>)>;

/// Trains models on a training set; called once per split (and fold), so
/// test statements never reach training. One trainer may yield several
/// named models (e.g. a baseline and the model it is compared with).
pub trait Trainer {
    fn fit(&self, train: &[Sample]) -> Result<Models, String>;
}

/// Any `Fn(&[Sample]) -> Result<Models, String>` is a trainer.
impl<F> Trainer for F
where
    F: Fn(&[Sample]) -> Result<Models, String>,
{
    fn fit(&self, train: &[Sample]) -> Result<Models, String> {
        self(train)
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Seeds the random split and the grouped folds' tie-breaks.
    pub seed: u64,
    /// Test share of the random and time splits.
    pub test_fraction: f64,
    /// Folds of the grouped-by-fingerprint cross-validation.
    pub folds: usize,
    pub thresholds: ClassThresholds,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            seed: 42,
            test_fraction: 0.3,
            folds: 5,
            thresholds: ClassThresholds::default(),
        }
    }
}

/// Which evaluation a result comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    Random,
    Time,
    GroupedCv,
}

impl SplitKind {
    pub const ALL: [SplitKind; 3] = [SplitKind::Random, SplitKind::Time, SplitKind::GroupedCv];

    /// Name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            SplitKind::Random => "random 70/30",
            SplitKind::Time => "time-ordered 70/30",
            SplitKind::GroupedCv => "grouped-by-fingerprint CV",
        }
    }
}

/// One model on one holdout split (random or time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutResult {
    pub model: String,
    pub split: SplitKind,
    pub train_size: usize,
    pub test_size: usize,
    pub report: EvalReport,
    /// Predictions with a NaN/∞ median or interval (scored as wild guesses).
    pub non_finite_predictions: u64,
}

/// One model over the grouped folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    pub model: String,
    /// Test size of each fold this model was evaluated on.
    pub fold_test_sizes: Vec<usize>,
    pub all: MetricsSummary,
    pub analytic: MetricsSummary,
    pub non_finite_predictions: u64,
}

/// Everything `eval.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResults {
    pub config: EvalConfig,
    /// Samples evaluated (after dropping those with an unusable time).
    pub samples: usize,
    /// Samples dropped because their measured time was NaN, infinite or
    /// negative: no metric can be computed against such a truth.
    pub dropped_samples: usize,
    /// Model names in the order the trainer first returned them.
    pub models: Vec<String>,
    pub holdout: Vec<HoldoutResult>,
    pub grouped_cv: Vec<CvResult>,
    /// The grouped CV with unseen-shape intervals (each fold's p10–p90
    /// corrected by offsets fitted on the other folds' held-out
    /// predictions, see [`super::conformal`]); filled by the caller.
    #[serde(default)]
    pub grouped_cv_calibrated: Vec<CvResult>,
    /// Training failures and misbehaving predictors; the affected
    /// model/split is missing from the results rather than guessed.
    pub errors: Vec<String>,
}

/// Per-statement predictions of one model on the time split's test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSeries {
    pub model: String,
    pub predicted_seconds: Vec<f64>,
}

/// The time split's test set, statement by statement, for the plots. Kept
/// out of [`EvalResults`] so `eval.json` stays small.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerSample {
    pub truth: Vec<f64>,
    pub fingerprints: Vec<String>,
    /// Only models whose predictions matched the test set in length.
    pub models: Vec<ModelSeries>,
    /// Grouped CV: every statement once, predicted by the models of the fold
    /// that held its fingerprint out, folds one after another.
    #[serde(default)]
    pub unseen: UnseenSeries,
}

/// Held-out predictions of the grouped CV, for the per-fingerprint table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UnseenSeries {
    pub truth: Vec<f64>,
    pub fingerprints: Vec<String>,
    pub models: Vec<ModelSeries>,
}

/// One grouped fold's held-out statements and every model's predictions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FoldPredictions {
    pub sqls: Vec<String>,
    pub truth: Vec<f64>,
    /// (model, one prediction per statement).
    pub runs: Vec<(String, Vec<Prediction>)>,
}

/// What [`evaluate_models`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub results: EvalResults,
    pub per_sample: PerSample,
    /// Every grouped fold's held-out statements and predictions.
    pub unseen_folds: Vec<FoldPredictions>,
}

/// Progress report: `step` of `total` training runs is starting.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
    /// Human description, e.g. "grouped-by-fingerprint CV fold 2/5".
    pub stage: String,
}

/// Trains and evaluates every model of `trainer` on a random split, a time
/// split and grouped-by-fingerprint CV. Never fails: training errors and
/// predictors returning the wrong number of predictions are recorded in
/// [`EvalResults::errors`] and that model/split is left out.
pub fn evaluate_models<T: Trainer + ?Sized>(
    samples: &[Sample],
    trainer: &T,
    cfg: &EvalConfig,
    progress: Option<&dyn Fn(&Progress)>,
) -> Evaluation {
    let valid: Vec<Sample> = samples
        .iter()
        .filter(|s| s.seconds.is_finite() && s.seconds >= 0.0)
        .cloned()
        .collect();
    let mut results = EvalResults {
        config: cfg.clone(),
        samples: valid.len(),
        dropped_samples: samples.len() - valid.len(),
        models: Vec::new(),
        holdout: Vec::new(),
        grouped_cv: Vec::new(),
        grouped_cv_calibrated: Vec::new(),
        errors: Vec::new(),
    };
    let mut per_sample = PerSample::default();

    let folds = group_kfold(&valid, cfg.folds, cfg.seed);
    let total = 2 + folds.len();
    let report = |step: usize, stage: String| {
        if let Some(cb) = progress {
            cb(&Progress { step, total, stage });
        }
    };

    let holdouts = [
        (
            SplitKind::Random,
            random_split(valid.len(), cfg.test_fraction, cfg.seed),
        ),
        (SplitKind::Time, time_split(&valid, cfg.test_fraction)),
    ];
    for (step, (kind, split)) in holdouts.iter().enumerate() {
        report(step + 1, kind.label().to_string());
        let Some(runs) = run_split(&valid, split, trainer, cfg, kind.label(), &mut results) else {
            continue;
        };
        if *kind == SplitKind::Time {
            per_sample.truth = split.test.iter().map(|&i| valid[i].seconds).collect();
            per_sample.fingerprints = split
                .test
                .iter()
                .map(|&i| valid[i].fingerprint.clone())
                .collect();
        }
        for run in runs {
            if *kind == SplitKind::Time {
                per_sample.models.push(ModelSeries {
                    model: run.model.clone(),
                    predicted_seconds: run.preds.iter().map(|p| p.predicted_seconds).collect(),
                });
            }
            results.holdout.push(HoldoutResult {
                model: run.model,
                split: *kind,
                train_size: split.train.len(),
                test_size: split.test.len(),
                report: run.report,
                non_finite_predictions: run.non_finite,
            });
        }
    }

    let mut cv: Vec<CvAccumulator> = Vec::new();
    let mut unseen_folds = Vec::new();
    for (f, split) in folds.iter().enumerate() {
        let stage = format!(
            "{} fold {}/{}",
            SplitKind::GroupedCv.label(),
            f + 1,
            folds.len()
        );
        report(3 + f, stage.clone());
        let Some(runs) = run_split(&valid, split, trainer, cfg, &stage, &mut results) else {
            continue;
        };
        // Every fold must give the same models in the same order, or the
        // series would not line up statement by statement.
        let unseen = &mut per_sample.unseen;
        if unseen.models.is_empty() {
            unseen.models = runs
                .iter()
                .map(|r| ModelSeries {
                    model: r.model.clone(),
                    predicted_seconds: Vec::new(),
                })
                .collect();
        }
        let aligned = runs.len() == unseen.models.len()
            && runs
                .iter()
                .zip(&unseen.models)
                .all(|(r, m)| r.model == m.model);
        if aligned {
            unseen
                .truth
                .extend(split.test.iter().map(|&i| valid[i].seconds));
            unseen
                .fingerprints
                .extend(split.test.iter().map(|&i| valid[i].fingerprint.clone()));
            for (series, run) in unseen.models.iter_mut().zip(&runs) {
                series
                    .predicted_seconds
                    .extend(run.preds.iter().map(|p| p.predicted_seconds));
            }
        }
        unseen_folds.push(FoldPredictions {
            sqls: split.test.iter().map(|&i| valid[i].sql.clone()).collect(),
            truth: split.test.iter().map(|&i| valid[i].seconds).collect(),
            runs: runs
                .iter()
                .map(|r| (r.model.clone(), r.preds.clone()))
                .collect(),
        });
        for run in runs {
            let pos = match cv.iter().position(|c| c.model == run.model) {
                Some(p) => p,
                None => {
                    cv.push(CvAccumulator {
                        model: run.model.clone(),
                        ..CvAccumulator::default()
                    });
                    cv.len() - 1
                }
            };
            let acc = &mut cv[pos];
            acc.fold_test_sizes.push(split.test.len());
            acc.all.push(run.report.metrics);
            acc.analytic.push(run.report.analytic);
            acc.non_finite += run.non_finite;
        }
    }
    results.grouped_cv = cv
        .into_iter()
        .map(|acc| CvResult {
            all: aggregate(&acc.all),
            analytic: aggregate(&acc.analytic),
            model: acc.model,
            fold_test_sizes: acc.fold_test_sizes,
            non_finite_predictions: acc.non_finite,
        })
        .collect();
    Evaluation {
        results,
        per_sample,
        unseen_folds,
    }
}

/// One model's fold results, collected before aggregation.
#[derive(Default)]
struct CvAccumulator {
    model: String,
    fold_test_sizes: Vec<usize>,
    all: Vec<Metrics>,
    analytic: Vec<Metrics>,
    non_finite: u64,
}

struct Run {
    model: String,
    preds: Vec<Prediction>,
    report: EvalReport,
    non_finite: u64,
}

/// Fits on `split.train`, predicts `split.test`, scores every model.
/// `None` when training failed (recorded in `results.errors`).
fn run_split<T: Trainer + ?Sized>(
    samples: &[Sample],
    split: &Split,
    trainer: &T,
    cfg: &EvalConfig,
    stage: &str,
    results: &mut EvalResults,
) -> Option<Vec<Run>> {
    let train: Vec<Sample> = split.train.iter().map(|&i| samples[i].clone()).collect();
    let sqls: Vec<&str> = split
        .test
        .iter()
        .map(|&i| samples[i].sql.as_str())
        .collect();
    let truth: Vec<f64> = split.test.iter().map(|&i| samples[i].seconds).collect();
    let models = match trainer.fit(&train) {
        Ok(m) => m,
        Err(e) => {
            results
                .errors
                .push(format!("{stage}: training failed: {e}"));
            return None;
        }
    };
    let mut runs = Vec::with_capacity(models.len());
    for (name, model) in models {
        if !results.models.contains(&name) {
            results.models.push(name.clone());
        }
        let preds = model.predict_batch(&sqls);
        if preds.len() != sqls.len() {
            results.errors.push(format!(
                "{stage}: model {name} returned {} predictions for {} statements",
                preds.len(),
                sqls.len()
            ));
            continue;
        }
        runs.push(Run {
            report: metrics_with_analytic(&preds, &truth, &cfg.thresholds),
            non_finite: count_non_finite(&preds),
            model: name,
            preds,
        });
    }
    Some(runs)
}

/// A trained model as an evaluation [`Predictor`]: no explanations (they
/// do not change the numbers and cost time), all cores.
struct Unexplained(std::sync::Arc<dyn crate::model::LatencyModel>);

impl Predictor for Unexplained {
    fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction> {
        crate::model::parallel_map(sqls, |s| {
            let f = self.0.spec().featurize(s);
            self.0.predict_featurized(&f.1, false)
        })
    }
}

/// Wraps a trained model for [`evaluate_models`].
pub fn predictor(model: std::sync::Arc<dyn crate::model::LatencyModel>) -> Box<dyn Predictor> {
    Box::new(Unexplained(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LatencyClass;

    fn pred(s: f64) -> Prediction {
        Prediction {
            predicted_seconds: s,
            p10: s,
            p90: s,
            class: LatencyClass::Medium,
            class_probabilities: [0.0, 1.0, 0.0],
            explanation_baseline: 0.0,
            explanation: Vec::new(),
            parsed: true,
        }
    }

    struct Constant(f64);
    impl Predictor for Constant {
        fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction> {
            sqls.iter().map(|_| pred(self.0)).collect()
        }
    }

    /// Always one prediction short: a bug the runner must catch.
    struct Short;
    impl Predictor for Short {
        fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction> {
            sqls.iter().skip(1).map(|_| pred(0.1)).collect()
        }
    }

    fn samples() -> Vec<Sample> {
        (0..50)
            .map(|i| Sample {
                sql: format!("select {}", i % 10),
                seconds: if i == 7 {
                    f64::NAN
                } else {
                    0.001 * f64::from(i + 1)
                },
                time: None,
                fingerprint: format!("select {}", i % 10),
            })
            .collect()
    }

    #[test]
    fn misbehaving_models_are_reported_not_guessed() {
        let fit = |_: &[Sample]| -> Result<Models, String> {
            Ok(vec![
                (
                    "nan".to_string(),
                    Box::new(Constant(f64::NAN)) as Box<dyn Predictor>,
                ),
                ("short".to_string(), Box::new(Short)),
            ])
        };
        let e = evaluate_models(&samples(), &fit, &EvalConfig::default(), None);
        let r = &e.results;
        assert_eq!((r.samples, r.dropped_samples), (49, 1));
        assert_eq!(r.models, ["nan", "short"]);
        // "short" fails on both holdouts and all 5 folds.
        assert_eq!(r.errors.len(), 7, "{:?}", r.errors);
        assert!(r.holdout.iter().all(|h| h.model == "nan"));
        assert_eq!(r.holdout[0].non_finite_predictions, 15);
        assert_eq!(r.grouped_cv.len(), 1);
        assert_eq!(r.grouped_cv[0].non_finite_predictions, 49);
        assert_eq!(e.per_sample.models.len(), 1);
        assert_eq!(e.per_sample.truth.len(), 15);
    }

    #[test]
    fn training_failures_are_recorded() {
        let fit = |_: &[Sample]| -> Result<Models, String> { Err("boom".into()) };
        let e = evaluate_models(&samples(), &fit, &EvalConfig::default(), None);
        assert_eq!(e.results.errors.len(), 7);
        assert!(e.results.errors[0].contains("boom"));
        assert!(e.results.holdout.is_empty() && e.results.grouped_cv.is_empty());
    }
}
