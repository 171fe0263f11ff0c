//! The `observations` table: every measured statement the pipeline has
//! ingested, deduplicated, with the watermark saved in the same
//! transaction, so a crash between the two can neither lose nor double
//! rows.

use crate::ingest::Event;
use crate::model::Sample;
use crate::registry::{now_us, on_pool};
use crate::sql::fingerprint::{fingerprint, query_id};
use crate::store::Db;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::QueryBuilder;

/// 15 columns × 500 rows stays below both databases' parameter limits.
const ROWS_PER_INSERT: usize = 500;

/// One stored observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Observation {
    pub id: i64,
    /// Start time as logged (server local time), as microseconds read as UTC.
    pub time_us: Option<i64>,
    pub query: String,
    pub fingerprint: String,
    pub query_id: String,
    pub seconds: f64,
    pub lock_seconds: Option<f64>,
    pub rows_sent: Option<i64>,
    pub rows_examined: Option<i64>,
    pub db: Option<String>,
    pub thread_id: Option<i64>,
    pub source: String,
    pub run_id: String,
}

impl Observation {
    pub fn time(&self) -> Option<NaiveDateTime> {
        self.time_us
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(|t| t.naive_utc())
    }

    pub fn sample(&self) -> Sample {
        Sample {
            sql: self.query.clone(),
            seconds: self.seconds,
            time: self.time(),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// The dedupe key: the same statement, started at the same moment on the
/// same thread and taking the same time, is the same execution wherever it
/// was read from (a file and its rewrite, an overlap re-read).
pub fn dedupe_key(e: &Event) -> String {
    let mut h = Sha256::new();
    match e.time {
        Some(t) => h.update(t.and_utc().timestamp_micros().to_le_bytes()),
        None => h.update(b"no time"),
    }
    h.update(e.thread_id.unwrap_or(u64::MAX).to_le_bytes());
    h.update(e.query_time.unwrap_or(-1.0).to_bits().to_le_bytes());
    h.update((e.sql.len() as u64).to_le_bytes());
    h.update(e.sql.as_bytes());
    hex::encode(h.finalize())
}

/// Counts from storing one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// Rows newly inserted.
    pub inserted: u64,
    /// Rows already present (overlap re-reads, rewritten files).
    pub duplicates: u64,
    /// Events dropped for an unusable time (NaN, negative).
    pub invalid: u64,
}

fn to_i64(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

struct Row {
    key: String,
    time_us: Option<i64>,
    query: String,
    fingerprint: String,
    query_id: String,
    seconds: f64,
    lock_seconds: Option<f64>,
    rows_sent: Option<i64>,
    rows_examined: Option<i64>,
    db: Option<String>,
    thread_id: Option<i64>,
}

macro_rules! insert_rows {
    ($tx:expr, $rows:expr, $source:expr, $run_id:expr, $now:expr) => {{
        let mut inserted = 0u64;
        for chunk in $rows.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO observations (key, time_us, query, fingerprint, query_id, seconds, lock_seconds, \
                 rows_sent, rows_examined, db, thread_id, source, run_id, ingested_at_us) ",
            );
            qb.push_values(chunk, |mut b, r: &Row| {
                b.push_bind(r.key.clone())
                    .push_bind(r.time_us)
                    .push_bind(r.query.clone())
                    .push_bind(r.fingerprint.clone())
                    .push_bind(r.query_id.clone())
                    .push_bind(r.seconds)
                    .push_bind(r.lock_seconds)
                    .push_bind(r.rows_sent)
                    .push_bind(r.rows_examined)
                    .push_bind(r.db.clone())
                    .push_bind(r.thread_id)
                    .push_bind($source.to_string())
                    .push_bind($run_id.to_string())
                    .push_bind($now);
            });
            qb.push(" ON CONFLICT (key) DO NOTHING");
            inserted += qb.build().execute(&mut *$tx).await?.rows_affected();
        }
        inserted
    }};
}

/// Stores the events (duplicates skipped) and the source's new watermark
/// in one transaction.
pub async fn store_batch(
    db: &Db,
    events: &[Event],
    source_id: &str,
    watermark: &serde_json::Value,
    run_id: &str,
) -> Result<Stored, sqlx::Error> {
    let mut invalid = 0u64;
    let mut rows: Vec<Row> = Vec::with_capacity(events.len());
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = 0u64;
    for e in events {
        let Some(seconds) = e.query_time.filter(|s| s.is_finite() && *s >= 0.0) else {
            invalid += 1;
            continue;
        };
        let key = dedupe_key(e);
        if !seen.insert(key.clone()) {
            // Repeated inside this batch (e.g. two files of the same log).
            duplicates += 1;
            continue;
        }
        let fp = fingerprint(&e.sql);
        rows.push(Row {
            key,
            time_us: e.time.map(|t| t.and_utc().timestamp_micros()),
            query_id: query_id(&fp),
            fingerprint: fp,
            query: e.sql.clone(),
            seconds,
            lock_seconds: e.lock_time.filter(|v| v.is_finite()),
            rows_sent: to_i64(e.rows_sent),
            rows_examined: to_i64(e.rows_examined),
            db: e.db.clone(),
            thread_id: to_i64(e.thread_id),
        });
    }
    let now = now_us();
    let state = watermark.to_string();
    const MARK: &str = "INSERT INTO watermarks (source, state, updated_at_us) VALUES ($1, $2, $3) \
         ON CONFLICT (source) DO UPDATE SET state = excluded.state, updated_at_us = excluded.updated_at_us";
    let inserted = on_pool!(db, p => {
        let mut tx = p.begin().await?;
        let inserted = insert_rows!(tx, rows, source_id, run_id, now);
        sqlx::query(MARK)
            .bind(source_id)
            .bind(&state)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        inserted
    });
    Ok(Stored {
        inserted,
        duplicates: duplicates + (rows.len() as u64 - inserted),
        invalid,
    })
}

/// The saved watermark of a source.
pub async fn watermark(db: &Db, source_id: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    const SQL: &str = "SELECT state FROM watermarks WHERE source = $1";
    let row: Option<(String,)> =
        on_pool!(db, p => sqlx::query_as(SQL).bind(source_id).fetch_optional(p).await?);
    Ok(row.and_then(|(s,)| serde_json::from_str(&s).ok()))
}

/// The latest `limit` observations, oldest first (ingest order).
pub async fn load_recent(db: &Db, limit: i64) -> Result<Vec<Observation>, sqlx::Error> {
    const SQL: &str = "SELECT id, time_us, query, fingerprint, query_id, seconds, lock_seconds, rows_sent, \
         rows_examined, db, thread_id, source, run_id FROM observations ORDER BY id DESC LIMIT $1";
    let mut rows: Vec<Observation> =
        on_pool!(db, p => sqlx::query_as(SQL).bind(limit.max(0)).fetch_all(p).await?);
    rows.reverse();
    Ok(rows)
}

/// How many observations are stored.
pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM observations";
    let (n,): (i64,) = on_pool!(db, p => sqlx::query_as(SQL).fetch_one(p).await?);
    Ok(n)
}
