//! Bringing the production model from the artifact store to a local
//! directory a server can load.

use super::{Registry, RegistryError};
use crate::artifact_store::{ArtifactStore, ArtifactStoreError, ArtifactStoreExt};
use crate::model::artifact::ArtifactError;
use crate::store::Db;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("downloading model {version}: {source}")]
    Download {
        version: String,
        #[source]
        source: ArtifactStoreError,
    },
    #[error("model {version} from the artifact store does not load: {source}")]
    Load {
        version: String,
        #[source]
        source: ArtifactError,
    },
    #[error(
        "model {version} from the artifact store says it is {found:?}; the registry and the store disagree"
    )]
    VersionMismatch { version: String, found: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Directory names are versions; keep them to a safe character set.
fn dir_name(version: &str) -> String {
    version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Makes the production model available locally: returns its version and
/// a directory under `cache_dir` that `TrainedModels::load` accepts, or
/// `None` when nothing was ever promoted.
///
/// A version already in the cache (complete, with matching checksums) is
/// not downloaded again, so a server may call this on every reload
/// request. A download goes to a temporary sibling directory, is verified
/// (checksums, then a full load), and only then renamed into place, so a
/// concurrent reader never sees a half-written model directory.
pub async fn materialize_production(
    db: &Db,
    store: &dyn ArtifactStore,
    cache_dir: &Path,
) -> Result<Option<(String, PathBuf)>, MaterializeError> {
    let registry = Registry::new(db.clone());
    let Some(model) = registry.production().await? else {
        return Ok(None);
    };
    let version = model.version.clone();
    let target = cache_dir.join(dir_name(&version));
    let io = |path: &Path, source| MaterializeError::Io {
        path: path.to_owned(),
        source,
    };
    if target.is_dir() {
        let check = target.clone();
        let verified =
            tokio::task::spawn_blocking(move || crate::artifact_store::verify_model_dir(&check))
                .await
                .ok()
                .and_then(Result::ok);
        match verified {
            Some(m) if m.model_version == version => return Ok(Some((version, target))),
            _ => {
                tracing::warn!(dir = %target.display(), "cached model directory is incomplete or altered; downloading again");
                tokio::fs::remove_dir_all(&target)
                    .await
                    .map_err(|e| io(&target, e))?;
            }
        }
    }
    tokio::fs::create_dir_all(cache_dir)
        .await
        .map_err(|e| io(cache_dir, e))?;
    let tmp = cache_dir.join(format!(
        ".tmp-{}-{}",
        dir_name(&version),
        uuid::Uuid::now_v7()
    ));
    let result = async {
        let manifest = store
            .get_dir(&model.artifact_key, &tmp)
            .await
            .map_err(|source| MaterializeError::Download {
                version: version.clone(),
                source,
            })?;
        let found = manifest.map(|m| m.model_version).unwrap_or_default();
        if found != version {
            return Err(MaterializeError::VersionMismatch {
                version: version.clone(),
                found,
            });
        }
        let dir = tmp.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            crate::model::trained::TrainedModels::load(&dir).map(|_| ())
        })
        .await
        .map_err(|e| io(&tmp, std::io::Error::other(e.to_string())))?;
        loaded.map_err(|source| MaterializeError::Load {
            version: version.clone(),
            source,
        })?;
        match tokio::fs::rename(&tmp, &target).await {
            Ok(()) => Ok(()),
            // Another caller materialized the same version meanwhile.
            Err(_) if target.join(crate::model::artifact::MANIFEST_FILE).is_file() => {
                let _ = tokio::fs::remove_dir_all(&tmp).await;
                Ok(())
            }
            Err(e) => Err(io(&target, e)),
        }
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
    }
    result.map(|()| Some((version, target)))
}

#[cfg(test)]
mod tests {
    use super::dir_name;

    #[test]
    fn versions_become_safe_directory_names() {
        assert_eq!(
            dir_name("2026-11-25T14:01:12Z-b6e0fd5d"),
            "2026-11-25T14_01_12Z-b6e0fd5d"
        );
        assert_eq!(dir_name("../x"), ".._x");
    }
}
