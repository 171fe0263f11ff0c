//! Training: from slow-log events to the four latency models sharing one
//! featurizer.
//!
//! ```no_run
//! use qlat::train::{TrainConfig, fit_all, samples_from_events};
//! use qlat::sql::catalog::Catalog;
//! let events = qlat::ingest::read_paths(["data/slow_log.json"])?.filter_map(Result::ok);
//! let samples = samples_from_events(events);
//! let models = fit_all(&samples, &Catalog::tpch(), &TrainConfig::default())?;
//! models.save(std::path::Path::new("model-dir"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::features::{FeatureConfig, FeatureError, FeatureSpec, ln_seconds};
use crate::ingest::{Event, LogKind};
pub use crate::model::LatencyModel;
use crate::model::artifact::Manifest;
use crate::model::baseline::Baseline;
use crate::model::mlp::{EpochProgress, Mlp, MlpConfig, MlpError};
use crate::model::ridge::{Ridge, RidgeError};
use crate::model::tiered::{TierConfig, Tiered};
use crate::model::{ClassThresholds, Sample};
use crate::sql::catalog::Catalog;
use crate::sql::fingerprint::fingerprint;

/// Everything that decides what training produces. Saved in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Seeds weight initialisation and mini-batch order.
    pub seed: u64,
    pub epochs_max: usize,
    /// Epochs without validation improvement before early stopping.
    pub patience: usize,
    pub learning_rate: f64,
    /// Decoupled (AdamW) weight decay of the MLP.
    pub weight_decay: f64,
    pub batch_size: usize,
    /// MLP hidden layer sizes.
    pub hidden: Vec<usize>,
    /// Ridge penalty; `None` picks the best of [`RIDGE_LAMBDA_GRID`] on the
    /// validation slice.
    pub ridge_lambda: Option<f64>,
    /// TF-IDF vocabulary cap.
    pub vocab_size: usize,
    /// Minimum document frequency of a TF-IDF term.
    pub min_df: usize,
    /// Scale of the centred TF-IDF block relative to the standardised ones.
    pub tfidf_scale: f64,
    /// Add fingerprint-history input features (see [`crate::features`]).
    pub use_history: bool,
    /// Share of fingerprints trained without their history (see
    /// [`FeatureConfig::history_dropout`]); absent from older manifests.
    #[serde(default)]
    pub history_dropout: f64,
    /// Heavy-tailed counts as ln(1 + x) (see [`FeatureConfig::log_counts`]).
    #[serde(default)]
    pub log_counts: bool,
    pub thresholds: ClassThresholds,
    /// Share of the training data, the latest by time, held out for early
    /// stopping, the ridge penalty and interval calibration.
    pub validation_fraction: f64,
    /// Weight of the MLP's class cross-entropy.
    pub class_weight: f64,
    /// Target p10–p90 coverage.
    pub coverage: f64,
    /// MLP ensemble members (see [`MlpConfig::members`]).
    #[serde(default = "one")]
    pub mlp_members: usize,
    /// Decay of the MLP's weight average (see [`MlpConfig::ema_decay`]);
    /// manifests written before it trained without one.
    #[serde(default)]
    pub ema_decay: f64,
    /// When the tiered model answers from history.
    pub tier: TierConfig,
}

/// Manifests written before ensembles trained a single network.
fn one() -> usize {
    1
}

/// Ridge penalties tried when [`TrainConfig::ridge_lambda`] is `None`.
pub const RIDGE_LAMBDA_GRID: [f64; 5] = [0.1, 1.0, 10.0, 100.0, 1000.0];

impl Default for TrainConfig {
    fn default() -> Self {
        let mlp = MlpConfig::default();
        let features = FeatureConfig::default();
        TrainConfig {
            seed: mlp.seed,
            epochs_max: mlp.epochs_max,
            patience: mlp.patience,
            learning_rate: mlp.learning_rate,
            weight_decay: mlp.weight_decay,
            batch_size: mlp.batch_size,
            hidden: mlp.hidden,
            ridge_lambda: None,
            vocab_size: features.vocab_size,
            min_df: features.min_df,
            tfidf_scale: features.tfidf_scale,
            use_history: features.use_history,
            history_dropout: features.history_dropout,
            log_counts: features.log_counts,
            thresholds: ClassThresholds::default(),
            validation_fraction: 0.15,
            class_weight: mlp.class_weight,
            coverage: mlp.coverage,
            mlp_members: mlp.members,
            ema_decay: mlp.ema_decay,
            tier: TierConfig::default(),
        }
    }
}

impl TrainConfig {
    fn feature_config(&self) -> FeatureConfig {
        FeatureConfig {
            vocab_size: self.vocab_size,
            min_df: self.min_df,
            tfidf_scale: self.tfidf_scale,
            use_history: self.use_history,
            history_dropout: self.history_dropout,
            log_counts: self.log_counts,
        }
    }

    fn mlp_config(&self) -> MlpConfig {
        MlpConfig {
            seed: self.seed,
            hidden: self.hidden.clone(),
            epochs_max: self.epochs_max,
            patience: self.patience,
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            batch_size: self.batch_size,
            class_weight: self.class_weight,
            coverage: self.coverage,
            members: self.mlp_members,
            ema_decay: self.ema_decay,
        }
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no training samples")]
    Empty,
    #[error("fitting features: {0}")]
    Features(#[from] FeatureError),
    #[error("training the MLP: {0}")]
    Mlp(#[from] MlpError),
    #[error("fitting ridge: {0}")]
    Ridge(#[from] RidgeError),
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

/// Training samples from log events: slow-log events that carry a query
/// time. General-log events have no timings and are skipped.
pub fn samples_from_events<I: IntoIterator<Item = Event>>(events: I) -> Vec<Sample> {
    events
        .into_iter()
        .filter(|e| e.kind == LogKind::Slow)
        .filter_map(|e| {
            let seconds = e.query_time.filter(|t| t.is_finite() && *t >= 0.0)?;
            Some(Sample {
                fingerprint: fingerprint(&e.sql),
                sql: e.sql,
                seconds,
                time: e.time,
            })
        })
        .collect()
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

/// Fits all models. See [`fit_all_with_progress`].
pub fn fit_all(
    train: &[Sample],
    catalog: &Catalog,
    cfg: &TrainConfig,
) -> Result<TrainedModels, TrainError> {
    fit_all_with_progress(train, catalog, cfg, &mut |_| {})
}

/// Fits the featurizer on `train` only, then the MLP, ridge, baseline and
/// tiered models. Samples are ordered by time (stable; undated samples keep
/// their place before dated ones) and the latest
/// [`TrainConfig::validation_fraction`] is the validation slice, so early
/// stopping and calibration see the future the models will face.
/// `progress` is called once per MLP epoch (e.g. to drive an `indicatif`
/// bar, see [`indicatif_progress`]).
pub fn fit_all_with_progress(
    train: &[Sample],
    catalog: &Catalog,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(EpochProgress),
) -> Result<TrainedModels, TrainError> {
    if train.is_empty() {
        return Err(TrainError::Empty);
    }
    let mut ordered: Vec<Sample> = train.to_vec();
    ordered.sort_by_key(|s| s.time);
    for s in &mut ordered {
        if s.fingerprint.is_empty() {
            s.fingerprint = fingerprint(&s.sql);
        }
    }
    let spec = Arc::new(FeatureSpec::fit(&ordered, catalog, cfg.feature_config())?);
    let rows = spec.featurize_training(&ordered);
    let y: Vec<f64> = ordered.iter().map(|s| ln_seconds(s.seconds)).collect();
    let n_val = ((ordered.len() as f64) * cfg.validation_fraction.clamp(0.0, 0.9)).round() as usize;
    let n_val = n_val.clamp(1, ordered.len().saturating_sub(1).max(1));

    let mlp = Arc::new(Mlp::fit(
        Arc::clone(&spec),
        &rows,
        &y,
        n_val,
        &cfg.mlp_config(),
        cfg.thresholds,
        progress,
    )?);
    let lambdas: Vec<f64> = match cfg.ridge_lambda {
        Some(l) => vec![l],
        None => RIDGE_LAMBDA_GRID.to_vec(),
    };
    let ridge = Arc::new(Ridge::fit(
        Arc::clone(&spec),
        &rows,
        &y,
        n_val,
        &lambdas,
        cfg.thresholds,
    )?);
    let baseline = Arc::new(Baseline::fit(&ordered, Arc::clone(&spec), cfg.thresholds));
    let tiered = Arc::new(Tiered::new(
        cfg.tier,
        Arc::clone(&baseline),
        Arc::clone(&mlp),
    ));
    let manifest = Manifest::new(cfg, &ordered, mlp.best_epoch);
    Ok(TrainedModels {
        spec,
        mlp,
        ridge,
        baseline,
        tiered,
        manifest,
    })
}

/// A progress callback that advances an `indicatif` bar by epoch and shows
/// the validation loss.
pub fn indicatif_progress(bar: &indicatif::ProgressBar) -> impl FnMut(EpochProgress) + '_ {
    move |p: EpochProgress| {
        bar.set_length(p.epochs_max as u64);
        bar.set_position(p.epoch as u64);
        bar.set_message(format!(
            "val loss {:.4} (best epoch {})",
            p.validation_loss, p.best_epoch
        ));
    }
}
