//! What one training produces: the models sharing one featurizer
//! ([`TrainedModels`]), the configuration that decided them
//! ([`TrainConfig`], saved in `model.json`), and the fingerprint of the data
//! they learned from. Fitting them is [`crate::train`]'s job, reading and
//! writing them [`super::artifact`]'s; both depend on this, not on each
//! other.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::baseline::Baseline;
use super::calibration::{
    Calibrated, CalibrationError, CalibrationInfo, CalibrationSet, FitOptions, ServerCalibration,
    fit,
};
use super::mlp::{Mlp, MlpConfig};
use super::ridge::Ridge;
use super::tiered::{TierConfig, Tiered};
use super::{ClassThresholds, LatencyModel, Sample};
use crate::featurize::{FeatureConfig, FeatureSpec};
use std::collections::BTreeMap;

/// Everything that decides what training produces. Saved in `model.json`.
///
/// The MLP's and the featurizer's settings are their own types, flattened
/// into one JSON object so that `model.json` keeps the keys it always had
/// (manifests written before the nesting read unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The network: seed, layers, optimiser, epochs, ensemble, averaging.
    #[serde(flatten)]
    pub mlp: MlpConfig,
    /// The featurizer: TF-IDF vocabulary, history columns, count scaling.
    #[serde(flatten)]
    pub features: FeatureConfig,
    /// Ridge penalty; `None` picks the best of [`RIDGE_LAMBDA_GRID`] on the
    /// validation slice.
    pub ridge_lambda: Option<f64>,
    pub thresholds: ClassThresholds,
    /// Share of the training data, the latest by time, held out for early
    /// stopping, the ridge penalty and interval calibration.
    pub validation_fraction: f64,
    /// When the tiered model answers from history.
    pub tier: TierConfig,
}

/// Ridge penalties tried when [`TrainConfig::ridge_lambda`] is `None`.
pub const RIDGE_LAMBDA_GRID: [f64; 5] = [0.1, 1.0, 10.0, 100.0, 1000.0];

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            mlp: MlpConfig::default(),
            features: FeatureConfig::default(),
            ridge_lambda: None,
            thresholds: ClassThresholds::default(),
            validation_fraction: 0.15,
            tier: TierConfig::default(),
        }
    }
}

/// The trained models, sharing one featurizer.
#[derive(Debug)]
pub struct TrainedModels {
    pub spec: Arc<FeatureSpec>,
    pub mlp: Arc<Mlp>,
    pub ridge: Arc<Ridge>,
    pub baseline: Arc<Baseline>,
    pub tiered: Arc<Tiered>,
    /// What `model.json` says (versions, hashes, parameters, metrics).
    pub manifest: Manifest,
    /// Corrections laid over the models (`calibration.json`; empty when
    /// the model has none). [`TrainedModels::all`] applies them.
    pub calibration: CalibrationSet,
}

impl TrainedModels {
    /// The models by name, for evaluation loops, each with its
    /// calibration laid over when there is one.
    pub fn all(&self) -> Vec<Arc<dyn LatencyModel>> {
        self.uncalibrated()
            .into_iter()
            .map(|m| self.calibrated(m, true))
            .collect()
    }

    /// The models as trained, without any calibration.
    pub fn uncalibrated(&self) -> Vec<Arc<dyn LatencyModel>> {
        vec![
            self.mlp.clone(),
            self.ridge.clone(),
            self.baseline.clone(),
            self.tiered.clone(),
        ]
    }

    /// `model` with the unseen-shape offsets and, when `server`, the
    /// server calibration of its name laid over; itself when there are none.
    pub fn calibrated(&self, model: Arc<dyn LatencyModel>, server: bool) -> Arc<dyn LatencyModel> {
        let name = model.name().to_owned();
        let unseen = self.calibration.unseen.get(&name).cloned();
        let server = if server {
            self.calibration
                .server
                .as_ref()
                .and_then(|s| s.models.get(&name).cloned())
        } else {
            None
        };
        if unseen.is_none() && server.is_none() {
            return model;
        }
        let baseline = Arc::clone(&self.baseline);
        Arc::new(Calibrated {
            inner: model,
            seen: Arc::new(move |fp: &str| baseline.params.fingerprints.contains_key(fp)),
            unseen,
            server,
            thresholds: self.manifest.class_thresholds,
        })
    }

    /// Fits a [`ServerCalibration`] of every algorithm from `samples`
    /// (logged statements of the server), each algorithm as it answers
    /// with its unseen-shape offsets but without any earlier server
    /// calibration, which this replaces.
    pub fn fit_server(
        &self,
        samples: &[Sample],
        server: &str,
    ) -> Result<ServerCalibration, CalibrationError> {
        let models = self;
        let usable: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.seconds.is_finite() && s.seconds >= 0.0)
            .collect();
        if usable.is_empty() {
            return Err(CalibrationError::Empty);
        }
        let sqls: Vec<&str> = usable.iter().map(|s| s.sql.as_str()).collect();
        let secs: Vec<f64> = usable.iter().map(|s| s.seconds).collect();
        let t = models.manifest.class_thresholds;
        let opts = FitOptions {
            coverage: models.manifest.parameters.mlp.coverage,
            ..FitOptions::default()
        };
        let mut fits = BTreeMap::new();
        for model in models.uncalibrated() {
            let name = model.name().to_owned();
            let model = models.calibrated(model, false);
            let preds = model.predict_batch(&sqls);
            if let Some(g) = fit(&sqls, &preds, &secs, &t, opts) {
                fits.insert(name, g);
            }
        }
        Ok(ServerCalibration {
            server: server.to_owned(),
            statements: usable.len(),
            updated_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            shrinkage: opts.shrinkage,
            coverage: opts.coverage,
            models: fits,
        })
    }

    /// Fits [`CalibrationSet::unseen`] from held-out `rows` (the
    /// pipeline's validation slice, newer than anything trained on): the
    /// rows whose fingerprint the training data lacks are shapes the models
    /// never saw, and their residuals are what an unseen shape's interval
    /// must cover. Interval offsets only, per kind of work × predicted
    /// class, shrunk toward the global ones (the median stays the model's).
    /// Returns how many unseen rows it was fitted on; below
    /// [`MIN_UNSEEN_ROWS`] nothing changes.
    pub fn fit_unseen(&mut self, rows: &[Sample]) -> usize {
        let unseen: Vec<&Sample> = rows
            .iter()
            .filter(|s| s.seconds.is_finite() && s.seconds >= 0.0)
            .filter(|s| {
                let fp = if s.fingerprint.is_empty() {
                    crate::sql::fingerprint::fingerprint(&s.sql)
                } else {
                    s.fingerprint.clone()
                };
                !self.baseline.params.fingerprints.contains_key(&fp)
            })
            .collect();
        if unseen.len() < MIN_UNSEEN_ROWS {
            return 0;
        }
        let sqls: Vec<&str> = unseen.iter().map(|s| s.sql.as_str()).collect();
        let secs: Vec<f64> = unseen.iter().map(|s| s.seconds).collect();
        let t = self.manifest.class_thresholds;
        let opts = FitOptions {
            shift: false,
            coverage: self.manifest.parameters.mlp.coverage,
            ..FitOptions::default()
        };
        let mut fits = BTreeMap::new();
        for model in self.uncalibrated() {
            let preds = model.predict_batch(&sqls);
            if let Some(g) = fit(&sqls, &preds, &secs, &t, opts) {
                fits.insert(model.name().to_owned(), g);
            }
        }
        self.calibration.unseen = fits;
        unseen.len()
    }

    /// A model by [`LatencyModel::name`].
    pub fn by_name(&self, name: &str) -> Option<Arc<dyn LatencyModel>> {
        self.all().into_iter().find(|m| m.name() == name)
    }
}

/// Fewest held-out rows of unseen shapes [`TrainedModels::fit_unseen`]
/// fits offsets on: fewer say little about a p10 or a p90.
pub const MIN_UNSEEN_ROWS: usize = 50;

/// SHA-256 of the training samples (text, time and measured seconds, in
/// order), identifying the data a model was trained on.
pub fn training_data_sha256(train: &[Sample]) -> String {
    let mut h = Sha256::new();
    for s in train {
        h.update((s.sql.len() as u64).to_le_bytes());
        h.update(s.sql.as_bytes());
        h.update(s.seconds.to_le_bytes());
        if let Some(t) = s.time {
            h.update(t.and_utc().timestamp_micros().to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// Version of the artifact layout; `load` refuses any other.
pub const FORMAT_VERSION: u32 = 2;

/// The content of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// `<training time, RFC 3339 UTC>-<first 8 hex digits of the data hash>`.
    pub model_version: String,
    pub created_at: String,
    pub training_data_sha256: String,
    pub training_samples: usize,
    /// `git rev-parse HEAD` of the working directory at training time, or
    /// "unknown".
    pub git_commit: String,
    pub parameters: TrainConfig,
    pub class_thresholds: ClassThresholds,
    /// Epoch whose MLP weights were kept.
    pub mlp_best_epoch: usize,
    /// Filled by the caller (evaluation results); saved as given.
    pub metrics: serde_json::Value,
    /// SHA-256 of every other file.
    pub files: BTreeMap<String, String>,
    /// The server calibration laid over the model, when there is one
    /// (`qlat calibrate`, the pipeline on a server the model did not learn
    /// from); absent from uncalibrated models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationInfo>,
}

impl Manifest {
    /// A manifest for models just trained on `train` with `cfg`.
    pub fn new(cfg: &TrainConfig, train: &[Sample], mlp_best_epoch: usize) -> Manifest {
        let data = training_data_sha256(train);
        let created_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        Manifest {
            format_version: FORMAT_VERSION,
            model_version: format!("{created_at}-{}", &data[..8]),
            created_at,
            training_data_sha256: data,
            training_samples: train.len(),
            git_commit: git_commit(),
            parameters: cfg.clone(),
            class_thresholds: cfg.thresholds,
            mlp_best_epoch,
            metrics: serde_json::Value::Null,
            files: BTreeMap::new(),
            calibration: None,
        }
    }
}

/// The git commit of this build: `QLAT_GIT_COMMIT` at build time (CI and
/// image builds set it, having no `.git`), else `git rev-parse HEAD` in the
/// working directory, else "unknown".
pub fn git_commit() -> String {
    option_env!("QLAT_GIT_COMMIT")
        .map(str::to_owned)
        .or_else(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
