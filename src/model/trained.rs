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
}

impl TrainedModels {
    /// The models by name, for evaluation loops.
    pub fn all(&self) -> Vec<Arc<dyn LatencyModel>> {
        vec![
            self.mlp.clone(),
            self.ridge.clone(),
            self.baseline.clone(),
            self.tiered.clone(),
        ]
    }

    /// A model by [`LatencyModel::name`].
    pub fn by_name(&self, name: &str) -> Option<Arc<dyn LatencyModel>> {
        self.all().into_iter().find(|m| m.name() == name)
    }
}

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
