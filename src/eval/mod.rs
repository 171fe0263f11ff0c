//! Honest evaluation of latency models.
//!
//! [`split`] builds held-out test sets (random, time-ordered, grouped by
//! fingerprint), [`metrics`] scores predictions against measured times,
//! [`run`] trains and scores every model on every split, and [`report`]
//! writes `eval.json`, `eval.md` and the plots. Models are seen only
//! through [`run::Trainer`] and [`run::Predictor`], so baselines and real
//! models are measured by exactly the same code.

pub mod conformal;
pub mod metrics;
pub mod plots;
pub mod report;
pub mod run;
pub mod split;

pub use metrics::{EvalReport, Metrics, MetricsSummary, aggregate, metrics, metrics_with_analytic};
pub use report::{EvalError, write_report};
pub use run::{
    EvalConfig, EvalResults, Evaluation, PerSample, Predictor, Progress, SplitKind, Trainer,
    evaluate_models,
};
