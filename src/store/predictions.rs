//! The `predictions` table: one row per answered prediction.

use super::{Db, StoreError};
use crate::predict::{ClassProbabilities, ExplanationItem, Interval, PredictResponse};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};

/// One stored prediction: when, what was asked, what was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub id: String,
    /// Microseconds since the Unix epoch (UTC).
    pub created_at_us: i64,
    pub query: String,
    pub response: PredictResponse,
}

impl PredictionRecord {
    /// RFC 3339 time of the prediction, for pages and JSON.
    pub fn created_at(&self) -> String {
        chrono::DateTime::from_timestamp_micros(self.created_at_us)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    }
}

/// Which page of the history to read.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this fingerprint: a query ID (`0x…`) or the fingerprint text.
    pub fingerprint: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Rows per multi-row INSERT: 16 columns × 500 stays under SQLite's and
/// PostgreSQL's bound-parameter limits.
const ROWS_PER_INSERT: usize = 500;

const COLUMNS: &str = "id, created_at_us, query, fingerprint, query_id, parsed, \
    predicted_seconds, p10, p90, class, prob_fast, prob_medium, prob_slow, \
    explanation_baseline, explanation, model_version";

macro_rules! push_rows {
    ($qb:expr, $rows:expr) => {
        $qb.push_values($rows, |mut b, r| {
            let p = &r.response;
            b.push_bind(r.id.clone())
                .push_bind(r.created_at_us)
                .push_bind(r.query.clone())
                .push_bind(p.fingerprint.clone())
                .push_bind(p.query_id.clone())
                .push_bind(p.parsed)
                .push_bind(p.predicted_seconds)
                .push_bind(p.interval.p10)
                .push_bind(p.interval.p90)
                .push_bind(p.class.as_str())
                .push_bind(p.class_probabilities.fast)
                .push_bind(p.class_probabilities.medium)
                .push_bind(p.class_probabilities.slow)
                .push_bind(p.explanation_baseline)
                .push_bind(serde_json::to_string(&p.explanation).unwrap_or_else(|_| "[]".into()))
                .push_bind(p.model_version.clone());
        })
    };
}

/// Inserts the records in one transaction: all of them or none.
pub async fn insert_batch(db: &Db, records: &[PredictionRecord]) -> Result<(), StoreError> {
    macro_rules! in_one_transaction {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await?;
            for chunk in records.chunks(ROWS_PER_INSERT) {
                let mut qb = QueryBuilder::new(format!("INSERT INTO predictions ({COLUMNS}) "));
                push_rows!(qb, chunk);
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }};
    }
    match db {
        Db::Sqlite(pool) => in_one_transaction!(pool),
        Db::Postgres(pool) => in_one_transaction!(pool),
    }
    Ok(())
}

fn filter_sql(f: &ListFilter) -> &'static str {
    if f.fingerprint.is_some() {
        " WHERE (query_id = $1 OR fingerprint = $1)"
    } else {
        ""
    }
}

/// Newest first, one page.
pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<PredictionRecord>, StoreError> {
    let (limit_at, offset_at) = if f.fingerprint.is_some() {
        (2, 3)
    } else {
        (1, 2)
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM predictions{} ORDER BY created_at_us DESC, id DESC LIMIT ${limit_at} OFFSET ${offset_at}",
        filter_sql(f)
    );
    macro_rules! run {
        ($pool:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            if let Some(fp) = &f.fingerprint {
                q = q.bind(fp.clone());
            }
            q.bind(f.limit)
                .bind(f.offset)
                .fetch_all($pool)
                .await?
                .iter()
                .map(|r| from_row(r))
                .collect()
        }};
    }
    match db {
        Db::Sqlite(pool) => run!(pool),
        Db::Postgres(pool) => run!(pool),
    }
}

/// How many rows match the filter.
pub async fn count(db: &Db, f: &ListFilter) -> Result<i64, StoreError> {
    let sql = format!("SELECT COUNT(*) AS n FROM predictions{}", filter_sql(f));
    macro_rules! run {
        ($pool:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            if let Some(fp) = &f.fingerprint {
                q = q.bind(fp.clone());
            }
            let row = q.fetch_one($pool).await?;
            Ok(row.try_get::<i64, _>("n")?)
        }};
    }
    match db {
        Db::Sqlite(pool) => run!(pool),
        Db::Postgres(pool) => run!(pool),
    }
}

fn from_row<R>(r: &R) -> Result<PredictionRecord, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get("id")?;
    let bad = |what: String| StoreError::BadRow {
        id: id.clone(),
        what,
    };
    let class: String = r.try_get("class")?;
    let explanation: String = r.try_get("explanation")?;
    let explanation: Vec<ExplanationItem> =
        serde_json::from_str(&explanation).map_err(|e| bad(format!("explanation: {e}")))?;
    let response = PredictResponse {
        id: Some(id.clone()),
        predicted_seconds: r.try_get("predicted_seconds")?,
        interval: Interval {
            p10: r.try_get("p10")?,
            p90: r.try_get("p90")?,
        },
        class: class.parse().map_err(|_| bad(format!("class {class:?}")))?,
        class_probabilities: ClassProbabilities {
            fast: r.try_get("prob_fast")?,
            medium: r.try_get("prob_medium")?,
            slow: r.try_get("prob_slow")?,
        },
        fingerprint: r.try_get("fingerprint")?,
        query_id: r.try_get("query_id")?,
        parsed: r.try_get("parsed")?,
        explanation_baseline: r.try_get("explanation_baseline")?,
        explanation,
        model_version: r.try_get("model_version")?,
    };
    Ok(PredictionRecord {
        created_at_us: r.try_get("created_at_us")?,
        query: r.try_get("query")?,
        id,
        response,
    })
}
