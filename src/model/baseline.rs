//! Fingerprint-history baseline: a statement takes what its fingerprint
//! took in training. It is the bar every learned model has to clear, and the
//! first tier of [`super::tiered::Tiered`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ClassThresholds, Contribution, LatencyModel, Prediction, argmax_class, class_probabilities_of,
};
use crate::featurize::{FeatureSpec, Featurized, HISTORY_FEATURE, ln_seconds, quantile_sorted};
use crate::model::Sample;
use crate::sql::fingerprint::fingerprint;

/// Summary of the ln times of one fingerprint (or of all statements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryStats {
    pub count: u64,
    pub median_ln: f64,
    pub p10_ln: f64,
    pub p90_ln: f64,
    pub class_probabilities: [f64; 3],
}

impl HistoryStats {
    /// Stats of ln times (any order).
    pub fn of(mut ln: Vec<f64>, t: &ClassThresholds) -> HistoryStats {
        ln.sort_by(f64::total_cmp);
        HistoryStats {
            count: ln.len() as u64,
            median_ln: quantile_sorted(&ln, 0.5),
            p10_ln: quantile_sorted(&ln, 0.1),
            p90_ln: quantile_sorted(&ln, 0.9),
            class_probabilities: class_probabilities_of(&ln, t),
        }
    }

    /// p90 / p10 spread in ln units.
    pub fn spread(&self) -> f64 {
        self.p90_ln - self.p10_ln
    }
}

/// What is saved as `baseline.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineParams {
    pub thresholds: ClassThresholds,
    pub global: HistoryStats,
    pub fingerprints: BTreeMap<String, HistoryStats>,
}

/// The fitted baseline.
#[derive(Debug)]
pub struct Baseline {
    pub params: BaselineParams,
    spec: Arc<FeatureSpec>,
}

impl Baseline {
    /// Per-fingerprint history of `train`.
    pub fn fit(train: &[Sample], spec: Arc<FeatureSpec>, t: ClassThresholds) -> Baseline {
        let mut by: HashMap<String, Vec<f64>> = HashMap::new();
        let mut all = Vec::with_capacity(train.len());
        for s in train {
            let fp = if s.fingerprint.is_empty() {
                fingerprint(&s.sql)
            } else {
                s.fingerprint.clone()
            };
            let y = ln_seconds(s.seconds);
            by.entry(fp).or_default().push(y);
            all.push(y);
        }
        let params = BaselineParams {
            thresholds: t,
            global: HistoryStats::of(all, &t),
            fingerprints: by
                .into_iter()
                .map(|(fp, v)| (fp, HistoryStats::of(v, &t)))
                .collect(),
        };
        Baseline { params, spec }
    }

    pub fn from_params(params: BaselineParams, spec: Arc<FeatureSpec>) -> Baseline {
        Baseline { params, spec }
    }

    /// Training history of a fingerprint.
    pub fn history(&self, fingerprint: &str) -> Option<&HistoryStats> {
        self.params.fingerprints.get(fingerprint)
    }
}

/// A prediction straight from history stats, explained as the history's
/// difference from `explain_from`.
pub(crate) fn history_prediction(
    h: &HistoryStats,
    explain_from: f64,
    parsed: bool,
    explain: bool,
) -> Prediction {
    let p = h.class_probabilities;
    let (baseline, explanation) = if explain {
        (
            explain_from,
            vec![Contribution {
                feature: HISTORY_FEATURE.to_owned(),
                contribution: h.median_ln - explain_from,
            }],
        )
    } else {
        (h.median_ln, Vec::new())
    };
    Prediction {
        predicted_seconds: h.median_ln.exp(),
        p10: h.p10_ln.min(h.median_ln).exp(),
        p90: h.p90_ln.max(h.median_ln).exp(),
        class: argmax_class(&p),
        class_probabilities: p,
        explanation_baseline: baseline,
        explanation,
        parsed,
    }
}

impl LatencyModel for Baseline {
    fn name(&self) -> &str {
        "baseline"
    }

    fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    fn predict_featurized(&self, f: &Featurized, explain: bool) -> Prediction {
        let global = &self.params.global;
        match self.history(&f.fingerprint) {
            Some(h) => history_prediction(h, global.median_ln, f.parsed, explain),
            None => history_prediction(global, global.median_ln, f.parsed, false),
        }
    }
}
