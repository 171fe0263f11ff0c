//! Artifacts as files under a directory.
//!
//! A write goes to a temporary file in the destination's own directory
//! (`.qlat-tmp-<uuid>`, hidden from [`ArtifactStore::list`]), is flushed
//! with `fsync`, then renamed over the destination, and the directory is
//! synced so the rename itself survives a crash. Readers therefore see the
//! old file or the new one, never a mix; a failed write removes its
//! temporary file.

use super::{
    ArtifactStore, ArtifactStoreError, ByteStream, Result, listing_dir, validate_key,
    validate_prefix,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Prefix of in-flight temporary files.
const TMP_PREFIX: &str = ".qlat-tmp-";

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (made absolute against the current
    /// directory; created on first write).
    pub fn new(root: impl AsRef<Path>) -> Result<LocalStore> {
        let root = root.as_ref();
        let root = if root.is_absolute() {
            root.to_owned()
        } else {
            std::env::current_dir()
                .map_err(|source| ArtifactStoreError::LocalFile {
                    path: root.to_owned(),
                    source,
                })?
                .join(root)
        };
        Ok(LocalStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn io(&self, op: &'static str, key: &str, source: std::io::Error) -> ArtifactStoreError {
        ArtifactStoreError::Io {
            store: self.describe(),
            op,
            key: key.to_string(),
            source,
        }
    }

    /// Writes chunks to a temporary file beside `path`, then renames it
    /// into place. On any error the temporary file is removed.
    async fn write_atomically(&self, key: &str, mut chunks: ByteStream<'_>) -> Result<u64> {
        let path = self.path_of(key)?;
        let parent = path.parent().unwrap_or(&self.root).to_owned();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| self.io("creating the directory of", key, e))?;
        let tmp = parent.join(format!("{TMP_PREFIX}{}", uuid::Uuid::now_v7()));
        let result = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .await
                .map_err(|e| self.io("creating a temporary file for", key, e))?;
            let mut written = 0u64;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|source| ArtifactStoreError::Source {
                    key: key.to_string(),
                    source,
                })?;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| self.io("writing", key, e))?;
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(|e| self.io("writing", key, e))?;
            file.sync_all()
                .await
                .map_err(|e| self.io("syncing", key, e))?;
            drop(file);
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| self.io("renaming into place", key, e))?;
            Ok(written)
        }
        .await;
        match result {
            Ok(written) => {
                // The rename is durable once the directory entry is synced.
                // Not every filesystem lets a directory be opened for this;
                // the data itself is already on disk, so that is not fatal.
                let dir = parent.clone();
                let synced = tokio::task::spawn_blocking(move || {
                    std::fs::File::open(&dir).and_then(|d| d.sync_all())
                })
                .await;
                if let Ok(Err(e)) = synced {
                    tracing::debug!(dir = %parent.display(), error = %e, "directory fsync failed");
                }
                Ok(written)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }
}

#[async_trait]
impl ArtifactStore for LocalStore {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let one = futures_util::stream::once(async move { Ok(bytes) });
        self.write_atomically(key, Box::pin(one)).await.map(|_| ())
    }

    async fn put_stream(&self, key: &str, chunks: ByteStream<'_>) -> Result<u64> {
        self.write_atomically(key, chunks).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path_of(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ArtifactStoreError::NotFound {
                    store: self.describe(),
                    key: key.to_string(),
                })
            }
            Err(e) => Err(self.io("reading", key, e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io("inspecting", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        let start_rel = listing_dir(prefix);
        let start = self.root.join(start_rel);
        let prefix = prefix.to_string();
        let root = self.root.clone();
        let store = self.describe();
        let found = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&root, &start, &mut keys)?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            Ok::<_, std::io::Error>(keys)
        })
        .await
        .map_err(|e| ArtifactStoreError::Io {
            store: store.clone(),
            op: "listing",
            key: start_rel.to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        found.map_err(|source| ArtifactStoreError::Io {
            store,
            op: "listing",
            key: start_rel.to_string(),
            source,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("deleting", key, e)),
        }
    }
}

/// Files under `dir` as keys relative to `root`; hidden entries (temporary
/// files) are skipped, and a missing directory lists nothing.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file()
            && let Ok(rel) = path.strip_prefix(root)
        {
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(key);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact_store::ArtifactStoreExt;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = LocalStore::new(dir.path()).expect("store");
        (dir, s)
    }

    /// Every file under the root, hidden ones included.
    fn all_files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
        out
    }

    #[tokio::test]
    async fn put_get_overwrite_delete() {
        let (_d, s) = store();
        assert!(!s.exists("a/b.bin").await.expect("exists"));
        s.put("a/b.bin", Bytes::from_static(b"one"))
            .await
            .expect("put");
        assert_eq!(s.get("a/b.bin").await.expect("get"), &b"one"[..]);
        s.put("a/b.bin", Bytes::from_static(b"two!"))
            .await
            .expect("put");
        assert_eq!(s.get("a/b.bin").await.expect("get"), &b"two!"[..]);
        assert!(s.exists("a/b.bin").await.expect("exists"));
        assert!(!s.exists("a").await.expect("a directory is not an object"));
        s.delete("a/b.bin").await.expect("delete");
        s.delete("a/b.bin").await.expect("deleting again is fine");
        assert!(matches!(
            s.get("a/b.bin").await,
            Err(ArtifactStoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let (d, s) = store();
        let err = s.put("../escape", Bytes::from_static(b"x")).await;
        assert!(matches!(err, Err(ArtifactStoreError::BadKey { .. })));
        assert!(!d.path().parent().expect("parent").join("escape").exists());
        assert!(s.get("/etc/passwd").await.is_err());
    }

    #[tokio::test]
    async fn list_is_a_sorted_string_prefix_match() {
        let (_d, s) = store();
        for k in ["runs/b/x", "runs/a/y", "runs/ab", "models/m", "runsx"] {
            s.put(k, Bytes::from_static(b"1")).await.expect("put");
        }
        assert_eq!(
            s.list("runs/").await.expect("list"),
            ["runs/a/y", "runs/ab", "runs/b/x"]
        );
        assert_eq!(
            s.list("runs/a").await.expect("list"),
            ["runs/a/y", "runs/ab"]
        );
        assert_eq!(
            s.list("runs").await.expect("list"),
            ["runs/a/y", "runs/ab", "runs/b/x", "runsx"]
        );
        assert_eq!(s.list("").await.expect("list").len(), 5);
        assert!(s.list("nothing/").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn a_failing_source_leaves_the_old_file_and_no_temporary() {
        let (d, s) = store();
        s.put("k", Bytes::from_static(b"old")).await.expect("put");
        let chunks = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"new part 1")),
            Err(std::io::Error::other("source died")),
            Ok(Bytes::from_static(b"never")),
        ]);
        let err = s.put_stream("k", Box::pin(chunks)).await;
        assert!(
            matches!(err, Err(ArtifactStoreError::Source { .. })),
            "{err:?}"
        );
        assert_eq!(s.get("k").await.expect("old value"), &b"old"[..]);
        assert_eq!(
            all_files(d.path()),
            [d.path().join("k").display().to_string()]
        );
    }

    #[tokio::test]
    async fn temporary_files_are_invisible_to_list() {
        let (d, s) = store();
        s.put("m/a", Bytes::from_static(b"1")).await.expect("put");
        std::fs::write(d.path().join("m").join(".qlat-tmp-stale"), b"x").expect("write");
        assert_eq!(s.list("").await.expect("list"), ["m/a"]);
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Row {
        name: String,
        value: f64,
        count: Option<u64>,
    }

    #[tokio::test]
    async fn json_and_csv_helpers_round_trip() {
        let (_d, s) = store();
        let v = serde_json::json!({"a": [1, 2.5, "x"], "b": null});
        s.put_json("r/v.json", &v).await.expect("json");
        let back: serde_json::Value = s.get_json("r/v.json").await.expect("json back");
        assert_eq!(back, v);
        let rows = vec![
            Row {
                name: "a,\"quoted\"\nline".into(),
                value: 0.1,
                count: None,
            },
            Row {
                name: "b".into(),
                value: -3e-7,
                count: Some(7),
            },
        ];
        s.put_records("r/t.csv", &rows).await.expect("csv");
        let back: Vec<Row> = s.get_records("r/t.csv").await.expect("csv back");
        assert_eq!(back, rows);
        let wrong: Result<Vec<u64>> = s.get_records("r/t.csv").await;
        assert!(matches!(wrong, Err(ArtifactStoreError::Decode { .. })));
    }
}
