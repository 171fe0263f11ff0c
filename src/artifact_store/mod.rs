//! One interface for everything the pipeline keeps besides database rows:
//! model directories, datasets and reports, as bytes under `/`-separated
//! keys. The backend is chosen by URL ([`open`]):
//!
//! | URL | backend |
//! |---|---|
//! | a plain path or `file:///abs/path` (default) | [`local::LocalStore`]: files under a directory, atomic writes (temp file + fsync + rename) |
//! | `s3://bucket/prefix` | [`s3::S3Store`]: any S3 API through `object_store`; endpoint, region and credentials from `AWS_*` variables |
//! | `sqlite://…`, `postgres://…` | [`db::DbStore`]: a table `artifacts(key, bytes, updated_at_us)` in the same database as the registry |
//!
//! Every backend gives the same guarantees, checked by one conformance suite
//! (`tests/pipeline/artifact_store.rs`): a reader sees either the old or the new
//! object, never half of one; a write whose source fails midway leaves the
//! previous object (or none) and no litter; `list` is by plain string prefix
//! and sorted.
//!
//! Typed helpers ([`ArtifactStoreExt`]) serialise objects as JSON, tables as
//! CSV, and move whole model directories ([`ArtifactStoreExt::put_dir`],
//! [`ArtifactStoreExt::get_dir`]).

pub mod db;
pub mod local;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::artifact::{MANIFEST_FILE, Manifest};
use crate::store::StoreError;

/// A stream of chunks to write; an `Err` item aborts the write.
pub type ByteStream<'a> = BoxStream<'a, Result<Bytes, std::io::Error>>;

/// What went wrong, and with which store and key.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactStoreError {
    #[error("artifact store URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("invalid artifact key {key:?}: {reason}")]
    BadKey { key: String, reason: &'static str },
    #[error("{key}: not found in {store}")]
    NotFound { store: String, key: String },
    #[error("{store}: {op} {key}: {source}")]
    Io {
        store: String,
        op: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{store}: {op} {key}: {source}")]
    ObjectStore {
        store: String,
        op: &'static str,
        key: String,
        /// Boxed: `object_store`'s error is large and this one is common.
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("{store}: {op} {key}: {source}")]
    Db {
        store: String,
        op: &'static str,
        key: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("opening the artifact database: {0}")]
    Connect(#[from] StoreError),
    #[error("writing {key}: the data source failed, nothing was stored: {source}")]
    Source {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{key}: cannot encode as {format}: {message}")]
    Encode {
        key: String,
        format: &'static str,
        message: String,
    },
    #[error("{key}: cannot decode as {format}: {message}")]
    Decode {
        key: String,
        format: &'static str,
        message: String,
    },
    #[error("{path}: {source}")]
    LocalFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model under {prefix}: {message}")]
    BadModel { prefix: String, message: String },
}

pub type Result<T, E = ArtifactStoreError> = std::result::Result<T, E>;

/// A place to keep artifacts. Implementations are cheap to share
/// (`Arc<dyn ArtifactStore>`) and safe to use from several tasks at once.
#[async_trait]
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// The store's URL without credentials, for logs and the registry.
    fn describe(&self) -> String;

    /// A displayable URI of `key` in this store (no credentials).
    fn uri(&self, key: &str) -> String {
        format!("{}/{key}", self.describe().trim_end_matches('/'))
    }

    /// Stores `bytes` under `key`, replacing any previous object atomically.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;

    /// Stores the concatenated chunks under `key`. If the stream yields an
    /// error, nothing is stored: the previous object (if any) stays and no
    /// partial object or temporary file remains. Returns the bytes written.
    async fn put_stream(&self, key: &str, chunks: ByteStream<'_>) -> Result<u64>;

    /// The object under `key`; [`ArtifactStoreError::NotFound`] if none.
    async fn get(&self, key: &str) -> Result<Bytes>;

    async fn exists(&self, key: &str) -> Result<bool>;

    /// Keys starting with `prefix` (a plain string prefix; `""` lists all),
    /// sorted by byte order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
}

/// Opens the store a URL names (see the module table). S3 settings come
/// from the environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`); plain HTTP is allowed only for a
/// loopback endpoint.
pub async fn open(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    let url = url.trim();
    if url.is_empty() {
        return Err(ArtifactStoreError::BadUrl {
            url: url.into(),
            reason: "empty".into(),
        });
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        return Ok(Arc::new(s3::S3Store::from_env(rest)?));
    }
    if url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:")
    {
        return Ok(Arc::new(db::DbStore::connect(url).await?));
    }
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(ArtifactStoreError::BadUrl {
                url: url.into(),
                reason: "file:// URLs need an absolute path (file:///dir)".into(),
            });
        }
        return Ok(Arc::new(local::LocalStore::new(path)?));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        return Err(ArtifactStoreError::BadUrl {
            url: url.into(),
            reason: format!(
                "unsupported scheme {scheme:?} (use a path, file://, s3://, sqlite:// or postgres://)"
            ),
        });
    }
    Ok(Arc::new(local::LocalStore::new(url)?))
}

/// Characters S3 advises against in keys (`object_store` would
/// percent-encode them, so a listed key would differ from the one put).
const AVOIDED: &str = "\\{}^%`[]\"<>~#|*?";

/// Checks that `key` is a relative `/`-separated path every backend holds
/// and lists unchanged: no empty, `.` or `..` segment, no segment starting
/// with `.` (the local backend's temporary files), no control character,
/// none of the characters S3 advises against (`\ { } ^ % ` [ ] " < > ~ # | * ?`).
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |reason| {
        Err(ArtifactStoreError::BadKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control() || AVOIDED.contains(c)) {
        return bad("control character or one of \\ { } ^ % ` [ ] \" < > ~ # | * ?");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return bad("empty path segment (leading, trailing or double '/')");
        }
        if segment.starts_with('.') {
            return bad("a path segment starts with '.'");
        }
    }
    Ok(())
}

/// Checks a list prefix: empty, or a key prefix (may end with '/').
pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return if prefix.is_empty() {
            Ok(())
        } else {
            Err(ArtifactStoreError::BadKey {
                key: prefix.into(),
                reason: "a prefix cannot start with '/'",
            })
        };
    }
    validate_key(trimmed)
}

/// Typed helpers on any store: JSON objects, CSV tables, model directories.
#[async_trait]
pub trait ArtifactStoreExt: ArtifactStore {
    /// Stores `value` as pretty JSON.
    async fn put_json<T: Serialize + Sync + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| ArtifactStoreError::Encode {
            key: key.into(),
            format: "JSON",
            message: e.to_string(),
        })?;
        self.put(key, Bytes::from(bytes)).await
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let bytes = self.get(key).await?;
        serde_json::from_slice(&bytes).map_err(|e| ArtifactStoreError::Decode {
            key: key.into(),
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// Stores records as CSV with a header row (flat structs only, as the
    /// `csv` crate requires).
    async fn put_records<T: Serialize + Sync>(&self, key: &str, records: &[T]) -> Result<()> {
        let encode = |message: String| ArtifactStoreError::Encode {
            key: key.into(),
            format: "CSV",
            message,
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in records {
            w.serialize(r).map_err(|e| encode(e.to_string()))?;
        }
        let bytes = w.into_inner().map_err(|e| encode(e.to_string()))?;
        self.put(key, Bytes::from(bytes)).await
    }

    async fn get_records<T: DeserializeOwned>(&self, key: &str) -> Result<Vec<T>> {
        let bytes = self.get(key).await?;
        csv::Reader::from_reader(bytes.as_ref())
            .deserialize()
            .collect::<Result<Vec<T>, _>>()
            .map_err(|e| ArtifactStoreError::Decode {
                key: key.into(),
                format: "CSV",
                message: e.to_string(),
            })
    }

    /// Uploads every file under `dir` (recursively, hidden files skipped)
    /// to `prefix/<relative path>`. `model.json` goes last, so a prefix
    /// holding a manifest is complete, as with `TrainedModels::save`.
    /// Returns the keys written.
    async fn put_dir(&self, prefix: &str, dir: &Path) -> Result<Vec<String>> {
        let prefix = prefix.trim_end_matches('/');
        validate_key(prefix)?;
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files)?;
        files.sort_by_key(|rel| (rel == MANIFEST_FILE, rel.clone()));
        let mut keys = Vec::with_capacity(files.len());
        for rel in files {
            let path = dir.join(&rel);
            let bytes =
                tokio::fs::read(&path)
                    .await
                    .map_err(|source| ArtifactStoreError::LocalFile {
                        path: path.clone(),
                        source,
                    })?;
            let key = format!("{prefix}/{rel}");
            self.put(&key, Bytes::from(bytes)).await?;
            keys.push(key);
        }
        Ok(keys)
    }

    /// Downloads everything under `prefix/` into `dir` (created if needed)
    /// and, when the prefix holds a `model.json`, verifies every file
    /// against the manifest's SHA-256 so a truncated or altered model is
    /// refused here rather than served. Returns the manifest if there is one.
    async fn get_dir(&self, prefix: &str, dir: &Path) -> Result<Option<Manifest>> {
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        validate_prefix(&prefix)?;
        let keys = self.list(&prefix).await?;
        if keys.is_empty() {
            return Err(ArtifactStoreError::NotFound {
                store: self.describe(),
                key: prefix,
            });
        }
        let local = |path: &Path, source| ArtifactStoreError::LocalFile {
            path: path.to_owned(),
            source,
        };
        for key in &keys {
            let rel = &key[prefix.len()..];
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| local(parent, e))?;
            }
            let bytes = self.get(key).await?;
            tokio::fs::write(&path, &bytes)
                .await
                .map_err(|e| local(&path, e))?;
        }
        if !keys.iter().any(|k| k[prefix.len()..] == *MANIFEST_FILE) {
            return Ok(None);
        }
        verify_model_dir(dir)
            .map(Some)
            .map_err(|message| ArtifactStoreError::BadModel {
                prefix: prefix.clone(),
                message,
            })
    }
}

impl<S: ArtifactStore + ?Sized> ArtifactStoreExt for S {}

/// Checks every file a model directory's `model.json` lists against its
/// SHA-256 (what `TrainedModels::load` checks first), without building the
/// models.
pub fn verify_model_dir(dir: &Path) -> Result<Manifest, String> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let bytes =
        std::fs::read(&manifest_path).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
    if manifest.files.is_empty() {
        return Err(format!("{MANIFEST_FILE} lists no files"));
    }
    for (file, expected) in &manifest.files {
        let path = dir.join(file);
        let content = std::fs::read(&path).map_err(|e| format!("{file}: {e}"))?;
        let actual = hex::encode(Sha256::digest(&content));
        if &actual != expected {
            return Err(format!(
                "{file}: checksum mismatch (expected {expected}, found {actual})"
            ));
        }
    }
    Ok(manifest)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let local = |source| ArtifactStoreError::LocalFile {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(local)? {
        let entry = entry.map_err(local)?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(local)?;
        if meta.is_dir() {
            collect_files(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            validate_key(&rel)?;
            out.push(rel);
        }
    }
    Ok(())
}

/// The longest `/`-terminated directory part of a string prefix: where a
/// hierarchical listing has to start so a plain string filter finds every
/// match ("runs/ab" → "runs/", "runs" → "").
pub(crate) fn listing_dir(prefix: &str) -> &str {
    match prefix.rfind('/') {
        Some(i) => &prefix[..=i],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_relative_clean_paths() {
        for good in ["a", "models/v1/model.json", "runs/x-1/report.json", "a b/c"] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/abs",
            "trailing/",
            "a//b",
            "../up",
            "a/./b",
            "a/.hidden",
            "back\\slash",
            "nl\n",
            "100%",
            "a#b",
            "q?",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn prefixes_may_be_empty_or_end_with_a_slash() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("models/").is_ok());
        assert!(validate_prefix("models/v").is_ok());
        assert!(validate_prefix("/").is_err());
        assert!(validate_prefix("../").is_err());
    }

    #[test]
    fn listing_starts_at_the_prefix_directory() {
        assert_eq!(listing_dir("runs/ab"), "runs/");
        assert_eq!(listing_dir("runs/"), "runs/");
        assert_eq!(listing_dir("runs"), "");
        assert_eq!(listing_dir(""), "");
    }

    #[tokio::test]
    async fn open_picks_the_backend_by_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = open(dir.path().to_str().expect("utf-8"))
            .await
            .expect("path");
        assert!(plain.describe().starts_with("file://"));
        let url = format!("file://{}", dir.path().display());
        assert!(open(&url).await.is_ok());
        assert!(open("file://relative/dir").await.is_err());
        assert!(open("ftp://host/x").await.is_err());
        assert!(open("").await.is_err());
        let sqlite = format!("sqlite://{}", dir.path().join("a.db").display());
        let db = open(&sqlite).await.expect("sqlite");
        assert!(db.describe().starts_with("sqlite:"));
    }
}
