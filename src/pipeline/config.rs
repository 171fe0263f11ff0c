//! What a learning cycle is told: its source, schema, training settings,
//! the split and promotion rules, and whom to notify; validated before a
//! cycle starts.

use super::{PipelineError, ServedModel, Source, floor};
use crate::sql::catalog::Catalog;
use crate::train::TrainConfig;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Everything a cycle needs besides the database and the store.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub source: Source,
    /// Schema the featurizer resolves statements against.
    pub catalog: Catalog,
    pub train: TrainConfig,
    /// The candidate compared with production (and served): `auto` (the
    /// trained algorithm best on the validation rows, see [`floor`]) or
    /// one of mlp, ridge, baseline, tiered.
    pub algorithm: String,
    /// Share of the training rows, the newest by time, held out to choose
    /// the candidate (the models do not learn from them).
    pub validation_fraction: f64,
    /// Relative improvement of test MSE(ln) required to promote, in [0, 1].
    pub promote_margin: f64,
    /// Share of the newest rows held out for testing.
    pub test_fraction: f64,
    /// Fewer usable rows than this fails the data checks.
    pub min_rows: usize,
    /// Train on at most the newest this many observations.
    pub max_rows: usize,
    /// Lock lease; a crashed run blocks others at most this long.
    pub lease: Duration,
    /// Server base URLs told to reload after a promotion.
    pub notify: Vec<String>,
    pub admin_token: Option<String>,
    pub notify_timeout: Duration,
    /// Train even when nothing new was ingested (normally skipped once a
    /// production model exists).
    pub retrain_without_new_data: bool,
    /// Scratch space for model directories (cleaned after each run).
    pub work_dir: PathBuf,
    /// Newest training rows a server calibration is fitted on when the
    /// model served was learned elsewhere (see `pipeline::calibrate`); 0
    /// (the library's default; `qlat pipeline` asks for 2,000) turns the
    /// step off.
    pub calibration_statements: usize,
    /// The model servers fall back to without a production model (the
    /// per-user model, one beside the binary, else the built-in one), which
    /// the calibration step calibrates; `None` resolves it as `serve` does.
    pub calibration_base: Option<PathBuf>,
    /// What servers answer with while the registry has no production
    /// model: a first candidate must beat it by the margin on the same test
    /// rows. `None` (the library default) compares a first candidate with
    /// nothing; `qlat pipeline` sets what `qlat serve` would load.
    pub served: Option<ServedModel>,
}

impl PipelineConfig {
    pub fn new(source: Source, catalog: Catalog) -> PipelineConfig {
        PipelineConfig {
            source,
            catalog,
            train: TrainConfig::default(),
            algorithm: floor::AUTO.into(),
            validation_fraction: 0.15,
            promote_margin: 0.02,
            test_fraction: 0.3,
            min_rows: 50,
            max_rows: 200_000,
            lease: Duration::from_secs(60),
            notify: Vec::new(),
            admin_token: None,
            notify_timeout: Duration::from_secs(30),
            retrain_without_new_data: false,
            work_dir: std::env::temp_dir().join("qlat-pipeline"),
            calibration_statements: 0,
            calibration_base: None,
            served: None,
        }
    }

    pub(super) fn validate(&self) -> Result<(), PipelineError> {
        let bad = |m: String| Err(PipelineError::Config(m));
        if !(0.0..=1.0).contains(&self.promote_margin) {
            return bad(format!(
                "promote margin {} is not in [0, 1]",
                self.promote_margin
            ));
        }
        if !(0.05..=0.95).contains(&self.test_fraction) {
            return bad(format!(
                "test fraction {} is not in [0.05, 0.95]",
                self.test_fraction
            ));
        }
        if ![floor::AUTO, "mlp", "ridge", "baseline", "tiered"].contains(&self.algorithm.as_str()) {
            return bad(format!(
                "unknown algorithm {:?} (auto, mlp, ridge, baseline, tiered)",
                self.algorithm
            ));
        }
        if !(0.05..=0.5).contains(&self.validation_fraction) {
            return bad(format!(
                "validation fraction {} is not in [0.05, 0.5]",
                self.validation_fraction
            ));
        }
        if self.lease < Duration::from_millis(500) {
            return bad("the lease must be at least 0.5 s".into());
        }
        if self.min_rows < 4 {
            return bad("min_rows must be at least 4 (train and test need rows)".into());
        }
        Ok(())
    }

    /// The run's parameters as recorded in the registry.
    pub(super) fn params(&self) -> Value {
        json!({
            "source": self.source.id(),
            "algorithm": self.algorithm,
            "promote_margin": self.promote_margin,
            "promote_metric": "mse_ln",
            "split": "time-ordered",
            "test_fraction": self.test_fraction,
            "validation_fraction": self.validation_fraction,
            "quality_floor": "beat the fingerprint baseline; no MLP stopped at epoch 1",
            "min_rows": self.min_rows,
            "max_rows": self.max_rows,
            "seed": self.train.mlp.seed,
            "calibration_statements": self.calibration_statements,
            "served_model": self.served.as_ref().map(ToString::to_string),
            "train": self.train,
        })
    }
}
