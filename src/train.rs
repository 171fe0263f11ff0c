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

use crate::featurize::{FeatureError, FeatureSpec, ln_seconds};
use crate::ingest::{Event, LogKind};
pub use crate::model::LatencyModel;
use crate::model::Sample;
use crate::model::baseline::Baseline;
use crate::model::mlp::{EpochProgress, Mlp, MlpError};
use crate::model::ridge::{Ridge, RidgeError};
use crate::model::tiered::Tiered;
use crate::model::trained::Manifest;
pub use crate::model::trained::{
    RIDGE_LAMBDA_GRID, TrainConfig, TrainedModels, training_data_sha256,
};
use crate::sql::catalog::Catalog;
use crate::sql::fingerprint::fingerprint;

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
/// bar, see [`epoch_progress`]).
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
    let spec = Arc::new(FeatureSpec::fit(&ordered, catalog, cfg.features)?);
    let rows = spec.featurize_training(&ordered);
    let y: Vec<f64> = ordered.iter().map(|s| ln_seconds(s.seconds)).collect();
    let n_val = ((ordered.len() as f64) * cfg.validation_fraction.clamp(0.0, 0.9)).round() as usize;
    let n_val = n_val.clamp(1, ordered.len().saturating_sub(1).max(1));

    let mlp = Arc::new(Mlp::fit(
        Arc::clone(&spec),
        &rows,
        &y,
        n_val,
        &cfg.mlp,
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
        calibration: Default::default(),
    })
}

/// A progress callback that advances a [`crate::progress::Progress`] by
/// epoch and shows the validation loss (a bar on a terminal, log lines
/// elsewhere).
pub fn epoch_progress(p: &crate::progress::Progress) -> impl FnMut(EpochProgress) + '_ {
    move |e: EpochProgress| {
        p.set_length(e.epochs_max as u64);
        p.set_message(format!(
            "val loss {:.4} (best epoch {})",
            e.validation_loss, e.best_epoch
        ));
        p.set_position(e.epoch as u64);
    }
}
