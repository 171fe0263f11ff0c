//! What one step of a cycle hands to the next: the split, the trained
//! models with their scores, production's score, the decision and where the
//! candidate was uploaded. The steps (`steps`, `compare`) all read and
//! write these; keeping them here lets each step's file depend on this one
//! rather than on the others.

use super::*;

/// The time-ordered split and the dataset's fingerprint.
pub(super) struct Split {
    /// All training rows: `fit` then `validation`.
    pub(super) train: Arc<Vec<Sample>>,
    /// The older training rows the models learn from.
    pub(super) fit: Arc<Vec<Sample>>,
    /// The newest training rows, held out to choose the candidate.
    pub(super) validation: Arc<Vec<Sample>>,
    pub(super) test: Arc<Vec<Sample>>,
    pub(super) dataset_fp: String,
}

/// The fitted models and their scores on the test rows.
pub(super) struct Trained {
    pub(super) reports: BTreeMap<String, EvalReport>,
    /// The served algorithm's predictions of the test rows.
    pub(super) served_preds: Vec<crate::model::Prediction>,
    pub(super) features: checks::FeatureReport,
    /// The candidate algorithm and the validation scores that chose it.
    pub(super) selection: floor::Selection,
    /// The candidate's test report.
    pub(super) candidate: EvalReport,
    /// The MLP's best epoch and its budget (see [`floor::Evidence`]).
    pub(super) mlp_best_epoch: usize,
}

/// Where the candidate went.
pub(super) struct Uploaded {
    pub(super) version: String,
    pub(super) model_key: String,
}

/// Production (or, with none in the registry, the served model) scored on
/// the same test rows, when there is one and it loads.
pub(super) struct ProductionScore {
    pub(super) report: Option<EvalReport>,
    pub(super) preds: Option<Vec<f64>>,
    pub(super) problem: Option<String>,
    /// Set when the score is the served model's (no registry production).
    pub(super) served: Option<String>,
}

/// Whether the candidate replaces production, and why.
pub(super) struct Decided {
    pub(super) decision: Decision,
    pub(super) reason: String,
    pub(super) candidate_mse_ln: f64,
    pub(super) production_mse_ln: Option<f64>,
    pub(super) baseline_mse_ln: f64,
}
