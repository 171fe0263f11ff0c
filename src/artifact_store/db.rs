//! Artifacts as rows of a table `artifacts(key, bytes, updated_at_us)` in
//! SQLite or PostgreSQL, for deployments whose only shared storage is the
//! database.
//!
//! A streamed write runs in one transaction: the row is replaced by the
//! first chunk and later chunks are appended, and a source error rolls the
//! transaction back, so other connections keep seeing the previous value
//! throughout and afterwards.

use super::{ArtifactStore, ArtifactStoreError, ByteStream, Result, validate_key, validate_prefix};
use crate::store::{Db, redact};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use sqlx::Row;

/// Chunks are coalesced into statements of at least this size, so a
/// stream of small chunks does not cost one UPDATE each.
const APPEND_BYTES: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct DbStore {
    db: Db,
    name: String,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

const UPSERT: &str = "INSERT INTO artifacts (key, bytes, updated_at_us) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, updated_at_us = excluded.updated_at_us";

impl DbStore {
    /// Connects (applying migrations, which create the table).
    pub async fn connect(url: &str) -> Result<DbStore> {
        let db = Db::connect(url).await?;
        Ok(DbStore::new(db, url))
    }

    /// A store on an existing pool; `url` only names it in messages.
    pub fn new(db: Db, url: &str) -> DbStore {
        DbStore {
            db,
            name: redact(url),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn err(&self, op: &'static str, key: &str, source: sqlx::Error) -> ArtifactStoreError {
        ArtifactStoreError::Db {
            store: self.name.clone(),
            op,
            key: key.to_string(),
            source,
        }
    }
}

/// Runs the streamed write inside `tx`; the caller commits on `Ok`.
macro_rules! stream_into {
    ($self:expr, $tx:expr, $key:expr, $chunks:expr, $append:expr) => {{
        let mut written = 0u64;
        let mut first = true;
        let mut pending = BytesMut::new();
        let mut done = false;
        while !done {
            match $chunks.next().await {
                Some(Ok(chunk)) => {
                    written += chunk.len() as u64;
                    pending.extend_from_slice(&chunk);
                    if pending.len() < APPEND_BYTES {
                        continue;
                    }
                }
                Some(Err(source)) => {
                    return Err(ArtifactStoreError::Source {
                        key: $key.to_string(),
                        source,
                    });
                }
                None => done = true,
            }
            let part = pending.split().freeze().to_vec();
            if first {
                sqlx::query(UPSERT)
                    .bind($key)
                    .bind(part)
                    .bind(now_us())
                    .execute(&mut *$tx)
                    .await
                    .map_err(|e| $self.err("writing", $key, e))?;
                first = false;
            } else if !part.is_empty() {
                sqlx::query($append)
                    .bind($key)
                    .bind(part)
                    .execute(&mut *$tx)
                    .await
                    .map_err(|e| $self.err("appending to", $key, e))?;
            }
        }
        written
    }};
}

#[async_trait]
impl ArtifactStore for DbStore {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn uri(&self, key: &str) -> String {
        format!("{}#artifacts/{key}", self.name)
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        validate_key(key)?;
        let (bytes, now) = (bytes.to_vec(), now_us());
        // One statement: atomic on its own, no explicit transaction needed.
        let done = match &self.db {
            Db::Sqlite(p) => sqlx::query(UPSERT)
                .bind(key)
                .bind(bytes)
                .bind(now)
                .execute(p)
                .await
                .map(|_| ()),
            Db::Postgres(p) => sqlx::query(UPSERT)
                .bind(key)
                .bind(bytes)
                .bind(now)
                .execute(p)
                .await
                .map(|_| ()),
        };
        done.map_err(|e| self.err("writing", key, e))
    }

    async fn put_stream(&self, key: &str, mut chunks: ByteStream<'_>) -> Result<u64> {
        validate_key(key)?;
        // An error return drops the transaction, which rolls it back.
        macro_rules! in_one_transaction {
            ($pool:expr, $append:expr) => {{
                let mut tx = $pool
                    .begin()
                    .await
                    .map_err(|e| self.err("beginning", key, e))?;
                let n = stream_into!(self, tx, key, chunks, $append);
                tx.commit()
                    .await
                    .map_err(|e| self.err("committing", key, e))?;
                Ok(n)
            }};
        }
        match &self.db {
            // SQLite's || yields text; the cast keeps the bytes a blob.
            Db::Sqlite(p) => in_one_transaction!(
                p,
                "UPDATE artifacts SET bytes = CAST(bytes || $2 AS BLOB) WHERE key = $1"
            ),
            Db::Postgres(p) => {
                in_one_transaction!(p, "UPDATE artifacts SET bytes = bytes || $2 WHERE key = $1")
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        const SQL: &str = "SELECT bytes FROM artifacts WHERE key = $1";
        let row: Option<Vec<u8>> = match &self.db {
            Db::Sqlite(p) => sqlx::query(SQL)
                .bind(key)
                .fetch_optional(p)
                .await
                .and_then(|r| r.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()),
            Db::Postgres(p) => sqlx::query(SQL)
                .bind(key)
                .fetch_optional(p)
                .await
                .and_then(|r| r.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()),
        }
        .map_err(|e| self.err("reading", key, e))?;
        row.map(Bytes::from)
            .ok_or_else(|| ArtifactStoreError::NotFound {
                store: self.name.clone(),
                key: key.to_string(),
            })
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        validate_key(key)?;
        const SQL: &str = "SELECT 1 FROM artifacts WHERE key = $1";
        match &self.db {
            Db::Sqlite(p) => sqlx::query(SQL)
                .bind(key)
                .fetch_optional(p)
                .await
                .map(|r| r.is_some()),
            Db::Postgres(p) => sqlx::query(SQL)
                .bind(key)
                .fetch_optional(p)
                .await
                .map(|r| r.is_some()),
        }
        .map_err(|e| self.err("inspecting", key, e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        // substr/length rather than LIKE, so '%' and '_' in keys need no
        // escaping; both databases count characters, and so do we.
        const SQL: &str = "SELECT key FROM artifacts WHERE substr(key, 1, $2) = $1";
        let n = prefix.chars().count() as i64;
        let keys: Vec<String> = match &self.db {
            Db::Sqlite(p) => sqlx::query(SQL)
                .bind(prefix)
                .bind(n)
                .fetch_all(p)
                .await
                .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect()),
            Db::Postgres(p) => {
                sqlx::query("SELECT key FROM artifacts WHERE substr(key, 1, $2::int) = $1")
                    .bind(prefix)
                    .bind(n)
                    .fetch_all(p)
                    .await
                    .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect())
            }
        }
        .map_err(|e| self.err("listing", prefix, e))?;
        let mut keys = keys;
        // Byte order, whatever the database's collation.
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        const SQL: &str = "DELETE FROM artifacts WHERE key = $1";
        match &self.db {
            Db::Sqlite(p) => sqlx::query(SQL).bind(key).execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(SQL).bind(key).execute(p).await.map(|_| ()),
        }
        .map_err(|e| self.err("deleting", key, e))
    }
}
