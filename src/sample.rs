//! The unit of training and evaluation: a logged statement and the time it
//! took. Its own module because both the featurizer and the models read it,
//! and neither should depend on the other for it.

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
