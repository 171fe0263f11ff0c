//! Saving and loading trained models as a directory of files.
//!
//! | file | content |
//! |---|---|
//! | `model.json` | [`Manifest`]: format version, model version, training data SHA-256, git commit, parameters, class thresholds, metrics, SHA-256 of every other file |
//! | `mlp.safetensors` | MLP ensemble weights (`layer{i}.weight` `members × out × in`, `layer{i}.bias` `members × out`, f32) and `calibration` (f64: y mean, y std, conformal widening, trained ln-seconds min and max) |
//! | `ridge.json` | ridge weights, intercept, residual quantiles |
//! | `baseline.json` | per-fingerprint history |
//! | `tokenizer.json` | the `tokenizers` WordLevel tokenizer |
//! | `feature_spec.json` | vocabulary, IDF, scalers, feature names, history |
//! | `catalog.json` | schema and row counts features are resolved against |
//! | `calibration.json` | optional: [`CalibrationSet`] (unseen-shape interval offsets, a server calibration); listed in `model.json` only when present, so models without one load as before |
//!
//! Loading verifies every checksum before parsing anything, so a truncated
//! copy or a flipped byte is refused with the name of the file instead of
//! yielding a model that quietly predicts something else.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ClassThresholds;
use super::baseline::{Baseline, BaselineParams};
use super::calibration::{CALIBRATION_FILE, CALIBRATION_VERSION, CalibrationSet};
use super::mlp::{Calibration, Mlp, RawLayer};
use super::ridge::{Ridge, RidgeParams};
use super::tiered::Tiered;
use super::trained::TrainedModels;
pub use super::trained::{FORMAT_VERSION, Manifest, git_commit};
use crate::featurize::FeatureSpec;
use crate::sql::catalog::Catalog;

pub const MANIFEST_FILE: &str = "model.json";
pub const MLP_FILE: &str = "mlp.safetensors";
pub const RIDGE_FILE: &str = "ridge.json";
pub const BASELINE_FILE: &str = "baseline.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const FEATURE_SPEC_FILE: &str = "feature_spec.json";
pub const CATALOG_FILE: &str = "catalog.json";

/// The shipped model's files, compiled in.
const BUILTIN: [(&str, &[u8]); 8] = [
    (MANIFEST_FILE, include_bytes!("../../artifacts/model.json")),
    (MLP_FILE, include_bytes!("../../artifacts/mlp.safetensors")),
    (RIDGE_FILE, include_bytes!("../../artifacts/ridge.json")),
    (
        BASELINE_FILE,
        include_bytes!("../../artifacts/baseline.json"),
    ),
    (
        TOKENIZER_FILE,
        include_bytes!("../../artifacts/tokenizer.json"),
    ),
    (
        FEATURE_SPEC_FILE,
        include_bytes!("../../artifacts/feature_spec.json"),
    ),
    (CATALOG_FILE, include_bytes!("../../artifacts/catalog.json")),
    (
        CALIBRATION_FILE,
        include_bytes!("../../artifacts/calibration.json"),
    ),
];

/// Every file besides the manifest, in write order.
pub const FILES: [&str; 6] = [
    MLP_FILE,
    RIDGE_FILE,
    BASELINE_FILE,
    TOKENIZER_FILE,
    FEATURE_SPEC_FILE,
    CATALOG_FILE,
];

/// Why an artifact could not be saved or loaded; every variant names the
/// file.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{file}: missing from the model directory {dir}")]
    Missing { dir: PathBuf, file: String },
    #[error(
        "{file}: checksum mismatch (expected {expected}, found {actual}); the file is corrupt or was changed"
    )]
    Corrupt {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{file}: format version {found}, this qlat reads version {supported}")]
    Incompatible {
        file: String,
        found: u32,
        supported: u32,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn invalid(file: &str, message: impl std::fmt::Display) -> ArtifactError {
    ArtifactError::Invalid {
        file: file.to_owned(),
        message: message.to_string(),
    }
}

fn json<T: Serialize>(file: &str, v: &T) -> Result<Vec<u8>, ArtifactError> {
    serde_json::to_vec_pretty(v).map_err(|e| invalid(file, e))
}

fn parse<T: for<'de> Deserialize<'de>>(file: &str, bytes: &[u8]) -> Result<T, ArtifactError> {
    serde_json::from_slice(bytes).map_err(|e| invalid(file, e))
}

impl TrainedModels {
    /// Writes the models into `dir` (created if needed), the manifest last
    /// so a directory with a `model.json` is complete.
    pub fn save(&self, dir: &Path) -> Result<(), ArtifactError> {
        std::fs::create_dir_all(dir).map_err(|source| ArtifactError::Io {
            file: dir.display().to_string(),
            source,
        })?;
        let mut files = BTreeMap::new();
        for file in FILES {
            let bytes = self.file_bytes(file)?;
            files.insert(file.to_owned(), sha256_hex(&bytes));
            std::fs::write(dir.join(file), &bytes).map_err(|source| ArtifactError::Io {
                file: file.to_owned(),
                source,
            })?;
        }
        let mut manifest = self.manifest.clone();
        manifest.calibration = self.calibration.info();
        if !self.calibration.is_empty() {
            let mut set = self.calibration.clone();
            set.version = CALIBRATION_VERSION;
            let bytes = json(CALIBRATION_FILE, &set)?;
            files.insert(CALIBRATION_FILE.to_owned(), sha256_hex(&bytes));
            std::fs::write(dir.join(CALIBRATION_FILE), &bytes).map_err(|source| {
                ArtifactError::Io {
                    file: CALIBRATION_FILE.to_owned(),
                    source,
                }
            })?;
        } else if let Err(source) = std::fs::remove_file(dir.join(CALIBRATION_FILE))
            && source.kind() != std::io::ErrorKind::NotFound
        {
            // A stale calibration from an earlier save would not be read
            // (the manifest does not list it), but must not sit there
            // looking current.
            return Err(ArtifactError::Io {
                file: CALIBRATION_FILE.to_owned(),
                source,
            });
        }
        manifest.files = files;
        let bytes = json(MANIFEST_FILE, &manifest)?;
        std::fs::write(dir.join(MANIFEST_FILE), bytes).map_err(|source| ArtifactError::Io {
            file: MANIFEST_FILE.to_owned(),
            source,
        })
    }

    fn file_bytes(&self, file: &str) -> Result<Vec<u8>, ArtifactError> {
        match file {
            MLP_FILE => mlp_bytes(&self.mlp),
            RIDGE_FILE => json(file, &self.ridge.params),
            BASELINE_FILE => json(file, &self.baseline.params),
            TOKENIZER_FILE => self
                .spec
                .tokenizer()
                .ok_or_else(|| invalid(file, "no tokenizer attached"))?
                .to_string(true)
                .map(String::into_bytes)
                .map_err(|e| invalid(file, e)),
            FEATURE_SPEC_FILE => json(file, &*self.spec),
            CATALOG_FILE => json(file, self.spec.catalog()),
            other => Err(invalid(other, "not an artifact file")),
        }
    }

    /// Loads models saved by [`TrainedModels::save`], verifying the format
    /// version and every file's checksum first.
    pub fn load(dir: &Path) -> Result<TrainedModels, ArtifactError> {
        TrainedModels::load_from_dir(dir, None)
    }

    /// [`TrainedModels::load`], resolving statements against `catalog`
    /// instead of the schema snapshot saved with the model when one is given
    /// (a model applied to another database).
    pub fn load_from_dir(
        dir: &Path,
        catalog: Option<Catalog>,
    ) -> Result<TrainedModels, ArtifactError> {
        let read = |file: &str| -> Result<Vec<u8>, ArtifactError> {
            std::fs::read(dir.join(file)).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    ArtifactError::Missing {
                        dir: dir.to_owned(),
                        file: file.to_owned(),
                    }
                } else {
                    ArtifactError::Io {
                        file: file.to_owned(),
                        source,
                    }
                }
            })
        };
        TrainedModels::load_with(read, catalog)
    }

    /// The model compiled into the binary (the one `artifacts/` held when it
    /// was built), so `qlat predict` and `qlat serve` answer from any
    /// directory without flags.
    pub fn load_builtin(catalog: Option<Catalog>) -> Result<TrainedModels, ArtifactError> {
        TrainedModels::load_with(
            |file| {
                BUILTIN
                    .iter()
                    .find(|(name, _)| *name == file)
                    .map(|(_, bytes)| bytes.to_vec())
                    .ok_or_else(|| ArtifactError::Missing {
                        dir: PathBuf::from("(built-in model)"),
                        file: file.to_owned(),
                    })
            },
            catalog,
        )
    }

    /// Loads from whatever `read` returns for each file name.
    fn load_with(
        read: impl Fn(&str) -> Result<Vec<u8>, ArtifactError>,
        catalog_override: Option<Catalog>,
    ) -> Result<TrainedModels, ArtifactError> {
        let manifest_bytes = read(MANIFEST_FILE)?;
        // Check the version before the full schema, so an artifact of
        // another layout is reported as incompatible, not as garbage.
        let version: serde_json::Value = parse(MANIFEST_FILE, &manifest_bytes)?;
        let found = version
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| invalid(MANIFEST_FILE, "no format_version"))?;
        if found != u64::from(FORMAT_VERSION) {
            return Err(ArtifactError::Incompatible {
                file: MANIFEST_FILE.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let manifest: Manifest = parse(MANIFEST_FILE, &manifest_bytes)?;
        let mut contents: HashMap<&str, Vec<u8>> = HashMap::new();
        for file in FILES {
            let bytes = read(file)?;
            let expected = manifest
                .files
                .get(file)
                .ok_or_else(|| invalid(MANIFEST_FILE, format!("no checksum for {file}")))?;
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(ArtifactError::Corrupt {
                    file: file.to_owned(),
                    expected: expected.clone(),
                    actual,
                });
            }
            contents.insert(file, bytes);
        }
        let calibration = match manifest.files.get(CALIBRATION_FILE) {
            None => CalibrationSet::default(),
            Some(expected) => {
                let bytes = read(CALIBRATION_FILE)?;
                let actual = sha256_hex(&bytes);
                if &actual != expected {
                    return Err(ArtifactError::Corrupt {
                        file: CALIBRATION_FILE.to_owned(),
                        expected: expected.clone(),
                        actual,
                    });
                }
                let set: CalibrationSet = parse(CALIBRATION_FILE, &bytes)?;
                if set.version > CALIBRATION_VERSION {
                    return Err(ArtifactError::Incompatible {
                        file: CALIBRATION_FILE.to_owned(),
                        found: set.version,
                        supported: CALIBRATION_VERSION,
                    });
                }
                set
            }
        };
        let get = |file: &str| contents.get(file).map(Vec::as_slice).unwrap_or_default();

        let catalog: Catalog = match catalog_override {
            Some(c) => c,
            None => parse(CATALOG_FILE, get(CATALOG_FILE))?,
        };
        let tokenizer = tokenizers::Tokenizer::from_bytes(get(TOKENIZER_FILE))
            .map_err(|e| invalid(TOKENIZER_FILE, e))?;
        let mut spec: FeatureSpec = parse(FEATURE_SPEC_FILE, get(FEATURE_SPEC_FILE))?;
        if spec.head_mean.len() != spec.head_names.len()
            || spec.head_std.len() != spec.head_names.len()
            || spec.idf.len() != spec.vocab.len()
            || spec.tfidf_mean.len() != spec.vocab.len()
        {
            return Err(invalid(FEATURE_SPEC_FILE, "vector lengths disagree"));
        }
        spec.attach(tokenizer, catalog);
        let spec = Arc::new(spec);

        let mlp = Arc::new(mlp_from_bytes(
            get(MLP_FILE),
            Arc::clone(&spec),
            manifest.class_thresholds,
            manifest.mlp_best_epoch,
        )?);
        let ridge_params: RidgeParams = parse(RIDGE_FILE, get(RIDGE_FILE))?;
        if ridge_params.weights.len() != spec.input_len() {
            return Err(invalid(
                RIDGE_FILE,
                format!(
                    "{} weights for {} features",
                    ridge_params.weights.len(),
                    spec.input_len()
                ),
            ));
        }
        let ridge = Arc::new(Ridge::from_params(ridge_params, Arc::clone(&spec)));
        let baseline_params: BaselineParams = parse(BASELINE_FILE, get(BASELINE_FILE))?;
        let baseline = Arc::new(Baseline::from_params(baseline_params, Arc::clone(&spec)));
        let tiered = Arc::new(Tiered::new(
            manifest.parameters.tier,
            Arc::clone(&baseline),
            Arc::clone(&mlp),
        ));
        Ok(TrainedModels {
            spec,
            mlp,
            ridge,
            baseline,
            tiered,
            manifest,
            calibration,
        })
    }
}

fn mlp_bytes(mlp: &Mlp) -> Result<Vec<u8>, ArtifactError> {
    let err = |e: candle_core::Error| invalid(MLP_FILE, e);
    let dev = Device::Cpu;
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for (i, l) in mlp.raw_weights().iter().enumerate() {
        tensors.push((
            format!("layer{i}.weight"),
            Tensor::from_slice(&l.w, (l.members, l.n_out, l.n_in), &dev).map_err(err)?,
        ));
        tensors.push((
            format!("layer{i}.bias"),
            Tensor::from_slice(&l.b, (l.members, l.n_out), &dev).map_err(err)?,
        ));
    }
    let c = mlp.calibration;
    tensors.push((
        "calibration".to_owned(),
        Tensor::from_slice(&[c.y_mean, c.y_std, c.widen, c.ln_min, c.ln_max], 5, &dev)
            .map_err(err)?,
    ));
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let views: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    safetensors::serialize(views, None).map_err(|e| invalid(MLP_FILE, e))
}

fn mlp_from_bytes(
    bytes: &[u8],
    spec: Arc<FeatureSpec>,
    thresholds: ClassThresholds,
    best_epoch: usize,
) -> Result<Mlp, ArtifactError> {
    let err = |e: candle_core::Error| invalid(MLP_FILE, e);
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(err)?;
    let mut raw = Vec::new();
    for i in 0.. {
        let (Some(w), Some(b)) = (
            tensors.get(&format!("layer{i}.weight")),
            tensors.get(&format!("layer{i}.bias")),
        ) else {
            break;
        };
        let (members, n_out, n_in) = w.dims3().map_err(err)?;
        let flat = |t: &Tensor| {
            t.to_dtype(DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(err)
        };
        raw.push(RawLayer {
            members,
            n_in,
            n_out,
            w: flat(w)?,
            b: flat(b)?,
        });
    }
    let c = tensors
        .get("calibration")
        .ok_or_else(|| invalid(MLP_FILE, "no calibration tensor"))?
        .to_vec1::<f64>()
        .map_err(err)?;
    // Three values before the trained range was saved: unbounded.
    let (y_mean, y_std, widen, ln_min, ln_max) = match c[..] {
        [m, s, w] => (m, s, w, f64::NEG_INFINITY, f64::INFINITY),
        [m, s, w, lo, hi] if lo.is_finite() && hi.is_finite() && lo <= hi => (m, s, w, lo, hi),
        _ => {
            return Err(invalid(
                MLP_FILE,
                "calibration must hold 3 values, or 5 with a finite trained range (min ≤ max)",
            ));
        }
    };
    Mlp::from_raw(
        spec,
        raw,
        Calibration {
            y_mean,
            y_std,
            widen,
            ln_min,
            ln_max,
        },
        thresholds,
        best_epoch,
    )
    .map_err(|e| invalid(MLP_FILE, e))
}
