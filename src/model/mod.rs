//! Latency models: what they take (statement text) and what they answer
//! (a time, an interval, a class and why). Shared by training, evaluation,
//! the CLI and the service, so every model answers in the same shape.

use serde::{Deserialize, Serialize};

/// One training or evaluation example: a logged statement and its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub sql: String,
    /// Measured execution time in seconds (slow log `query_time`).
    pub seconds: f64,
    /// When it ran, for time-ordered splits.
    pub time: Option<chrono::NaiveDateTime>,
    /// pt-query-digest fingerprint, for grouped splits and history.
    pub fingerprint: String,
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    pub fn index(self) -> usize {
        match self {
            LatencyClass::Fast => 0,
            LatencyClass::Medium => 1,
            LatencyClass::Slow => 2,
        }
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
