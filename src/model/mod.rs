//! Latency models: what they take (statement text) and what they answer
//! (a time, an interval, a class and why). Shared by training, evaluation,
//! the CLI and the service, so every model answers in the same shape.

use serde::{Deserialize, Serialize};

pub use crate::sample::Sample;

/// Latency class boundaries in seconds (defaults: fast < 10 ms, slow ≥ 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassThresholds {
    pub fast_below: f64,
    pub slow_from: f64,
}

impl Default for ClassThresholds {
    fn default() -> Self {
        ClassThresholds {
            fast_below: 0.010,
            slow_from: 1.0,
        }
    }
}

/// Latency class of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LatencyClass {
    Fast,
    Medium,
    Slow,
}

impl LatencyClass {
    pub const ALL: [LatencyClass; 3] =
        [LatencyClass::Fast, LatencyClass::Medium, LatencyClass::Slow];

    pub fn of(seconds: f64, t: &ClassThresholds) -> LatencyClass {
        if seconds < t.fast_below {
            LatencyClass::Fast
        } else if seconds < t.slow_from {
            LatencyClass::Medium
        } else {
            LatencyClass::Slow
        }
    }

    /// The name used in JSON, metrics labels and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyClass::Fast => "fast",
            LatencyClass::Medium => "medium",
            LatencyClass::Slow => "slow",
        }
    }

    pub fn index(self) -> usize {
        match self {
            LatencyClass::Fast => 0,
            LatencyClass::Medium => 1,
            LatencyClass::Slow => 2,
        }
    }
}

impl std::str::FromStr for LatencyClass {
    type Err = String;

    fn from_str(s: &str) -> Result<LatencyClass, String> {
        LatencyClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown latency class {s:?} (fast, medium, slow)"))
    }
}

/// One feature's share of a prediction, in ln-seconds: the contributions
/// plus the explanation's baseline add up to ln(predicted_seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Human terms: "reads lineitem without index", "3 joins".
    pub feature: String,
    pub contribution: f64,
}

/// What every model answers for one statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Median prediction in seconds.
    pub predicted_seconds: f64,
    /// 10th and 90th percentile predictions in seconds.
    pub p10: f64,
    pub p90: f64,
    pub class: LatencyClass,
    /// Probabilities of fast, medium, slow (sum to 1).
    pub class_probabilities: [f64; 3],
    /// ln-seconds the explanation starts from (e.g. the training mean).
    pub explanation_baseline: f64,
    /// Top contributions, largest magnitude first; may be empty when a
    /// model does not explain (the baseline).
    pub explanation: Vec<Contribution>,
    /// Whether the SQL parser understood the statement.
    pub parsed: bool,
}

pub mod artifact;
pub mod baseline;
pub mod calibration;
pub mod location;
pub mod mlp;
pub mod ridge;
pub mod tiered;
pub mod trained;

use crate::featurize::{FeatureSpec, Featurized};

/// Name of the explanation entry holding the features outside the top ones,
/// so that the listed contributions still add up.
pub const OTHER_FEATURES: &str = "other features";

/// Name of the MLP explanation entry holding the integrated-gradients
/// approximation error (see [`mlp::Mlp`]).
pub const REST_APPROXIMATION: &str = "rest (approximation)";
/// Explanation entry of a median moved back into the range of times the
/// model was trained on.
pub const TRAINED_RANGE: &str = "kept within the times seen in training";

/// Fastest and slowest of `y_ln` (ln seconds); `None` when empty.
pub fn ln_range(y_ln: &[f64]) -> Option<(f64, f64)> {
    y_ln.iter().copied().fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// `ln` moved into `range` (ln seconds), when there is a valid one: the
/// models' medians stay within the times they were trained on.
pub fn keep_within(ln: f64, range: Option<(f64, f64)>) -> f64 {
    match range {
        Some((lo, hi)) if lo <= hi => ln.clamp(lo, hi),
        _ => ln,
    }
}

/// How many features an explanation lists by name.
pub const EXPLAIN_TOP: usize = 8;

/// A latency model: statement text in, [`Prediction`] out.
///
/// Implementors provide [`LatencyModel::predict_featurized`]; featurizing is
/// shared, so a tiered model or an evaluation harness featurizes a statement
/// once for several models.
pub trait LatencyModel: Send + Sync {
    /// Short stable name ("mlp", "ridge", "baseline", "tiered").
    fn name(&self) -> &str;

    /// The featurizer the model was trained with.
    fn spec(&self) -> &FeatureSpec;

    /// Predicts from features; `explain: false` skips the explanation
    /// (leaving `explanation` empty and `explanation_baseline` at ln of the
    /// prediction) for callers that only need the numbers.
    fn predict_featurized(&self, f: &Featurized, explain: bool) -> Prediction;

    /// Predicts one statement, with explanation.
    fn predict(&self, sql: &str) -> Prediction {
        let f = self.spec().featurize(sql);
        self.predict_featurized(&f.1, true)
    }

    /// Predicts many statements on all cores, *without* explanations
    /// (scoring a log needs the numbers; explaining every row would cost
    /// several times more). Use [`LatencyModel::predict_batch_explained`]
    /// for both.
    fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction> {
        per_distinct_text(sqls, |distinct| {
            parallel_map(distinct, |s| {
                let f = self.spec().featurize(s);
                self.predict_featurized(&f.1, false)
            })
        })
    }

    /// Predicts many statements on all cores, with explanations.
    fn predict_batch_explained(&self, sqls: &[&str]) -> Vec<Prediction> {
        per_distinct_text(sqls, |distinct| parallel_map(distinct, |s| self.predict(s)))
    }
}

/// Runs `predict` once per distinct text of `sqls` and fans the answers back
/// out in order. Logs repeat texts verbatim (driver chatter, dashboards
/// polling), the models are deterministic, and a duplicate costs a hash
/// lookup instead of a parse.
fn per_distinct_text(
    sqls: &[&str],
    predict: impl FnOnce(&[&str]) -> Vec<Prediction>,
) -> Vec<Prediction> {
    let mut position: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(sqls.len());
    let mut distinct: Vec<&str> = Vec::with_capacity(sqls.len());
    let slots: Vec<usize> = sqls
        .iter()
        .map(|&s| {
            *position.entry(s).or_insert_with(|| {
                distinct.push(s);
                distinct.len() - 1
            })
        })
        .collect();
    if distinct.len() == sqls.len() {
        return predict(sqls);
    }
    let answers = predict(&distinct);
    slots
        .into_iter()
        .filter_map(|i| answers.get(i).cloned())
        .collect()
}

/// Maps `items` in order using every available core (rayon's pool; at
/// least 64 items a task, so short lists stay on one thread).
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use rayon::prelude::*;
    let f = &f;
    items.par_iter().with_min_len(64).map(f).collect()
}

/// Turns per-column contributions into an explanation: columns with the
/// same display name are summed (the three history columns become one
/// "fingerprint history"), the [`EXPLAIN_TOP`] largest by magnitude are
/// listed, the remainder is one [`OTHER_FEATURES`] entry, and `extras`
/// (the MLP's approximation residual, the move into the trained range) are
/// appended, so the entries add up to the sum of all contributions plus
/// `extras`. Beyond the first extra, each one takes a listed feature's
/// place: an explanation never has more than [`EXPLAIN_TOP`] + 2 entries.
pub fn top_contributions(
    names: &[String],
    contributions: &[f64],
    extras: &[(&str, f64)],
) -> Vec<Contribution> {
    let mut grouped: Vec<(usize, f64)> = Vec::with_capacity(contributions.len());
    for (i, (&c, name)) in contributions.iter().zip(names).enumerate() {
        match grouped.last_mut() {
            Some((j, sum)) if names.get(*j) == Some(name) => *sum += c,
            _ => grouped.push((i, c)),
        }
    }
    let k = EXPLAIN_TOP
        .saturating_sub(extras.len().saturating_sub(1))
        .min(grouped.len());
    if k > 0 && k < grouped.len() {
        grouped.select_nth_unstable_by(k - 1, |a, b| b.1.abs().total_cmp(&a.1.abs()));
    }
    let (top, rest) = grouped.split_at_mut(k);
    top.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    let mut out: Vec<Contribution> = top
        .iter()
        .map(|&(i, c)| Contribution {
            feature: names.get(i).cloned().unwrap_or_default(),
            contribution: c,
        })
        .collect();
    if !rest.is_empty() {
        out.push(Contribution {
            feature: OTHER_FEATURES.to_owned(),
            contribution: rest.iter().map(|r| r.1).sum(),
        });
    }
    out.extend(extras.iter().map(|&(name, c)| Contribution {
        feature: name.to_owned(),
        contribution: c,
    }));
    out
}

/// Class probabilities of a ln-time distribution given by sorted quantile
/// points (equally weighted samples of ln seconds).
pub fn class_probabilities_of(ln_points: &[f64], t: &ClassThresholds) -> [f64; 3] {
    if ln_points.is_empty() {
        return [1.0 / 3.0; 3];
    }
    let fast = t.fast_below.max(1e-12).ln();
    let slow = t.slow_from.max(1e-12).ln();
    let mut p = [0.0; 3];
    for &x in ln_points {
        let i = if x < fast {
            0
        } else if x < slow {
            1
        } else {
            2
        };
        p[i] += 1.0;
    }
    let n = ln_points.len() as f64;
    p.map(|c| c / n)
}

/// The most probable class; ties go to the slower class, the safer guess
/// for a DBA deciding what to look at.
pub fn argmax_class(p: &[f64; 3]) -> LatencyClass {
    let mut best = 0;
    for i in 1..3 {
        if p[i] >= p[best] {
            best = i;
        }
    }
    LatencyClass::ALL[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(sql: &str) -> Prediction {
        Prediction {
            predicted_seconds: sql.len() as f64,
            p10: 0.0,
            p90: 0.0,
            class: LatencyClass::Fast,
            class_probabilities: [1.0, 0.0, 0.0],
            explanation_baseline: 0.0,
            explanation: Vec::new(),
            parsed: true,
        }
    }

    #[test]
    fn duplicates_are_computed_once_and_answered_in_order() {
        let sqls = ["a", "bbb", "a", "cc", "bbb", "a"];
        let mut computed = Vec::new();
        let out = per_distinct_text(&sqls, |d| {
            computed = d.iter().map(|s| s.to_string()).collect();
            d.iter().map(|s| answer(s)).collect()
        });
        assert_eq!(computed, ["a", "bbb", "cc"]);
        let got: Vec<f64> = out.iter().map(|p| p.predicted_seconds).collect();
        assert_eq!(got, [1.0, 3.0, 1.0, 2.0, 3.0, 1.0]);
    }
}
