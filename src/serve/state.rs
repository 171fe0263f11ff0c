//! The server's one shared state, and the model it serves.

use super::ServeConfig;
use super::lanes::Lanes;
use super::metrics::ServerMetrics;
use crate::model::LatencyModel;
use crate::model::artifact::ArtifactError;
use crate::model::location::ModelLocation;
use crate::predict::PredictResponse;
use crate::sql::catalog::Catalog;
use crate::store::Db;
use crate::store::writer::StoreWriter;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Statements longer than this are predicted but not cached, so the cache's
/// memory stays bounded by entries × this.
const MAX_CACHED_QUERY_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ModelLoadError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("fetching the production model: {0}")]
    Registry(String),
    #[error("no model named {0:?} in the artifacts (mlp, ridge, baseline, tiered)")]
    UnknownAlgorithm(String),
}

/// A loaded model with its identity and an answer cache.
///
/// The model is deterministic, so an answer depends only on the statement's
/// exact text: the cache (by text, i.e. by fingerprint *and* literals) gives
/// the same answer as recomputing, explanation included, at a fraction of the
/// cost. It lives and dies with the model, so a reload cannot serve stale
/// answers.
pub struct ServedModel {
    pub model: Arc<dyn LatencyModel>,
    pub version: String,
    pub algorithm: String,
    /// Where it came from: the artifacts directory or `registry:production`.
    pub source: String,
    /// The server calibration answers carry (`None`: uncalibrated).
    pub calibration: Option<crate::model::calibration::CalibrationInfo>,
    /// The same model without the server calibration, when there is one:
    /// its answer is stored beside the calibrated one.
    pub uncalibrated: Option<Arc<dyn LatencyModel>>,
    cache: Option<quick_cache::sync::Cache<String, Arc<PredictResponse>, AnswerWeight>>,
}

/// Bytes an answer-cache entry holds (text, answer and bookkeeping), so
/// that the cache is bounded in memory, not only in entries.
#[derive(Debug, Clone, Copy)]
pub struct AnswerWeight;

impl quick_cache::Weighter<String, Arc<PredictResponse>> for AnswerWeight {
    fn weight(&self, key: &String, answer: &Arc<PredictResponse>) -> u64 {
        let text: usize = key.len()
            + answer.fingerprint.len()
            + answer.query_id.len()
            + answer.model_version.len()
            + answer
                .explanation
                .iter()
                .map(|e| e.feature.len() + 48)
                .sum::<usize>();
        (text + 256) as u64
    }
}

/// Bytes the answer cache may hold at most.
pub const ANSWER_CACHE_BYTES: u64 = 32 << 20;

impl ServedModel {
    pub fn load(
        location: &ModelLocation,
        algorithm: &str,
        cache_entries: usize,
        catalog: Option<&Catalog>,
    ) -> Result<ServedModel, ModelLoadError> {
        let models = location.load(catalog.cloned())?;
        let model = models
            .by_name(algorithm)
            .ok_or_else(|| ModelLoadError::UnknownAlgorithm(algorithm.to_string()))?;
        let uncalibrated = models.calibration.server.as_ref().and_then(|_| {
            models
                .uncalibrated()
                .into_iter()
                .find(|m| m.name() == algorithm)
                .map(|m| models.calibrated(m, false))
        });
        Ok(ServedModel {
            model,
            version: models.manifest.model_version.clone(),
            calibration: models.calibration.info(),
            uncalibrated,
            algorithm: algorithm.to_string(),
            source: location.to_string(),
            cache: (cache_entries > 0).then(|| {
                quick_cache::sync::Cache::with_weighter(
                    cache_entries,
                    ANSWER_CACHE_BYTES.min(cache_entries as u64 * 8 * 1024),
                    AnswerWeight,
                )
            }),
        })
    }

    /// The answer for one statement, explanation included (without a
    /// stored id).
    pub fn predict(&self, sql: &str) -> Arc<PredictResponse> {
        let cacheable = sql.len() <= MAX_CACHED_QUERY_BYTES;
        if cacheable
            && let Some(cache) = &self.cache
            && let Some(hit) = cache.get(sql)
        {
            return hit;
        }
        // Featurized once, without the featurizer's cache (this answer cache
        // is the one cache); the uncalibrated model shares the featurizer,
        // so it costs its forward pass only, without an explanation.
        let f = self.model.spec().featurize_uncached(sql);
        let uncalibrated = self.uncalibrated.as_ref().map(|raw| {
            let p = raw.predict_featurized(&f, false);
            crate::predict::Uncalibrated {
                predicted_seconds: p.predicted_seconds,
                interval: crate::predict::Interval {
                    p10: p.p10,
                    p90: p.p90,
                },
            }
        });
        let p = self.model.predict_featurized(&f, true);
        let mut response = PredictResponse::with_fingerprint(f.fingerprint, p, &self.version)
            .with_calibration(self.calibration.clone());
        response.uncalibrated = uncalibrated;
        let answer = Arc::new(response);
        if cacheable && let Some(cache) = &self.cache {
            cache.insert(sql.to_string(), answer.clone());
        }
        answer
    }
}

/// The model to serve now: the registry's production version when there
/// is one (downloaded and verified into the model cache), else the
/// artifacts directory. A registry that cannot be read is logged and the
/// artifacts directory served, so a store outage cannot keep a server down.
pub async fn load_current(
    config: &ServeConfig,
    db: &Db,
) -> Result<ServedModel, (PathBuf, ModelLoadError)> {
    if !config.ignore_registry {
        match production_dir(config, db).await {
            Ok(Some((version, dir, algorithm))) => {
                let cache = config.cache_entries;
                let catalog = config.catalog.clone();
                let loaded = tokio::task::spawn_blocking({
                    let location = ModelLocation::Dir {
                        path: dir.clone(),
                        how: "registry production",
                    };
                    move || ServedModel::load(&location, &algorithm, cache, catalog.as_deref())
                })
                .await
                .map_err(|e| (dir.clone(), ModelLoadError::Registry(e.to_string())))?;
                match loaded {
                    Ok(mut m) => {
                        m.source = format!("registry:production ({version})");
                        return Ok(m);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, dir = %dir.display(), "production model unusable; serving the artifacts directory")
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "registry unavailable; serving the artifacts directory")
            }
        }
    }
    let location = ModelLocation::resolve(config.artifacts.as_deref());
    let dir = match &location {
        ModelLocation::Dir { path, .. } => path.clone(),
        ModelLocation::BuiltIn => PathBuf::from("(built-in model)"),
    };
    let (algorithm, cache, catalog) = (
        config.algorithm.clone(),
        config.cache_entries,
        config.catalog.clone(),
    );
    tokio::task::spawn_blocking(move || {
        ServedModel::load(&location, &algorithm, cache, catalog.as_deref())
    })
    .await
    .map_err(|e| (dir.clone(), ModelLoadError::Registry(e.to_string())))?
    .map_err(|e| (dir, e))
}

async fn production_dir(
    config: &ServeConfig,
    db: &Db,
) -> Result<Option<(String, PathBuf, String)>, String> {
    let registry = crate::registry::Registry::new(db.clone());
    let Some(production) = registry.production().await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let store = crate::artifact_store::open(&config.artifact_store)
        .await
        .map_err(|e| e.to_string())?;
    let fetched = crate::registry::materialize_production(db, store.as_ref(), &config.model_cache)
        .await
        .map_err(|e| e.to_string())?;
    Ok(fetched.map(|(version, dir)| (version, dir, production.algorithm)))
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServeConfig>,
    model: Arc<ArcSwap<ServedModel>>,
    pub db: Db,
    pub writer: StoreWriter,
    pub metrics: ServerMetrics,
    /// Where statements are analysed (off the async workers).
    pub lanes: Lanes,
    pub started: Instant,
    stopping: Arc<AtomicBool>,
    /// One reload at a time; a second request waits for the first.
    reload_lock: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    pub fn new(
        config: Arc<ServeConfig>,
        model: ServedModel,
        db: Db,
        writer: StoreWriter,
        metrics: ServerMetrics,
        lanes: Lanes,
    ) -> AppState {
        AppState {
            config,
            model: Arc::new(ArcSwap::from_pointee(model)),
            db,
            writer,
            metrics,
            lanes,
            started: Instant::now(),
            stopping: Arc::new(AtomicBool::new(false)),
            reload_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The model now; a request keeps the one it started with even if a
    /// reload swaps it meanwhile.
    pub fn model(&self) -> Arc<ServedModel> {
        self.model.load_full()
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Loads the artifacts again and swaps the model in atomically; on
    /// failure the current model keeps serving. Loading runs on a blocking
    /// thread so requests are not held up.
    pub async fn reload(&self) -> Result<Arc<ServedModel>, String> {
        let _one_at_a_time = self.reload_lock.lock().await;
        match load_current(&self.config, &self.db).await {
            Ok(model) => {
                let previous = self.model().version.clone();
                let model = Arc::new(model);
                self.model.store(model.clone());
                self.metrics.set_model(&model.version, &model.algorithm);
                self.metrics.reload("success");
                tracing::info!(from = %previous, to = %model.version, source = %model.source, "model reloaded");
                Ok(model)
            }
            Err((dir, e)) => {
                self.metrics.reload("failure");
                tracing::error!(error = %e, dir = %dir.display(), "model reload failed; keeping the current model");
                Err(format!("{}: {e}", dir.display()))
            }
        }
    }
}
