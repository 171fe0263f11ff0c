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

/// Rows per multi-row INSERT: 19 columns × 500 stays under SQLite's and
/// PostgreSQL's bound-parameter limits.
const ROWS_PER_INSERT: usize = 500;

const COLUMNS: &str = "id, created_at_us, query, fingerprint, query_id, parsed, \
    predicted_seconds, p10, p90, class, prob_fast, prob_medium, prob_slow, \
    explanation_baseline, explanation, model_version";

/// [`COLUMNS`] and what the model said before a server calibration.
const INSERT_COLUMNS: &str = "id, created_at_us, query, fingerprint, query_id, parsed, \
    predicted_seconds, p10, p90, class, prob_fast, prob_medium, prob_slow, \
    explanation_baseline, explanation, model_version, raw_seconds, raw_p10, raw_p90";

/// Text as the store keeps it: PostgreSQL's TEXT cannot hold NUL, so NUL
/// becomes U+2400 (␀, "symbol for null") in every backend. Everything else
/// is kept as sent.
pub fn storable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{2400}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

macro_rules! push_rows {
    ($qb:expr, $rows:expr) => {
        $qb.push_values($rows, |mut b, r| {
            let p = &r.response;
            b.push_bind(storable(&r.id).into_owned())
                .push_bind(r.created_at_us)
                .push_bind(storable(&r.query).into_owned())
                .push_bind(storable(&p.fingerprint).into_owned())
                .push_bind(storable(&p.query_id).into_owned())
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
                .push_bind(storable(&p.model_version).into_owned())
                .push_bind(p.uncalibrated.as_ref().map(|u| u.predicted_seconds))
                .push_bind(p.uncalibrated.as_ref().map(|u| u.interval.p10))
                .push_bind(p.uncalibrated.as_ref().map(|u| u.interval.p90));
        })
    };
}

/// Runs `$body` with a connection of its own from `$pool`; when it fails,
/// the connection is closed instead of going back to the pool, so a
/// transaction a failed COMMIT left open (SQLite after "disk full") can never
/// hold the database's lock or swallow the next writes.
macro_rules! on_fresh_connection {
    ($pool:expr, |$conn:ident| $body:block) => {{
        let mut $conn = $pool.acquire().await?;
        let result: Result<_, sqlx::Error> = async { $body }.await;
        if result.is_err() {
            $conn.close_on_drop();
        }
        result?
    }};
}

/// Inserts the records in one transaction, all of them or none, and
/// returns how many rows the database confirmed as new (a record whose id
/// is already stored — a spool replayed after a crash — is skipped, not an
/// error).
pub async fn insert_batch(db: &Db, records: &[PredictionRecord]) -> Result<u64, StoreError> {
    macro_rules! in_one_transaction {
        ($pool:expr) => {{
            on_fresh_connection!($pool, |conn| {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let mut inserted = 0u64;
                for chunk in records.chunks(ROWS_PER_INSERT) {
                    let mut qb =
                        QueryBuilder::new(format!("INSERT INTO predictions ({INSERT_COLUMNS}) "));
                    push_rows!(qb, chunk);
                    qb.push(" ON CONFLICT (id) DO NOTHING");
                    inserted += qb.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(inserted)
            })
        }};
    }
    Ok(match db {
        Db::Sqlite(pool) => in_one_transaction!(pool),
        Db::Postgres(pool) => in_one_transaction!(pool),
    })
}

/// Keeps a record the `predictions` table refused, whole, with the reason.
/// `record` is the record's JSON (or the spool line that did not parse),
/// which has no NUL: JSON escapes it.
pub async fn insert_dead_letter(
    db: &Db,
    id: &str,
    created_at_us: i64,
    record: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let sql = "INSERT INTO prediction_dead_letters (id, created_at_us, record, reason, failed_at_us) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
    let now = chrono::Utc::now().timestamp_micros();
    macro_rules! run {
        ($pool:expr) => {{
            on_fresh_connection!($pool, |conn| {
                sqlx::query(sql)
                    .bind(storable(id).into_owned())
                    .bind(created_at_us)
                    .bind(storable(record).into_owned())
                    .bind(storable(reason).into_owned())
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })
        }};
    }
    match db {
        Db::Sqlite(pool) => run!(pool),
        Db::Postgres(pool) => run!(pool),
    };
    Ok(())
}

impl ListFilter {
    /// The indexed key the filter reads by: a query ID as given, or the
    /// query ID of a fingerprint text (its MD5, as pt-query-digest's) plus
    /// the text itself, so that both use the `query_id` index instead of
    /// scanning every stored prediction.
    fn keys(&self) -> Option<(String, Option<String>)> {
        let given = self.fingerprint.as_deref()?.trim();
        let hex = given
            .strip_prefix("0x")
            .or_else(|| given.strip_prefix("0X"));
        match hex {
            Some(h) if h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some((format!("0x{}", h.to_ascii_uppercase()), None))
            }
            _ => {
                let text = storable(given).into_owned();
                Some((crate::sql::fingerprint::query_id(&text), Some(text)))
            }
        }
    }
}

const FILTER_SQL: &str = " WHERE query_id = $1 AND ($2 IS NULL OR fingerprint = $2)";

/// Newest first, one page.
pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<PredictionRecord>, StoreError> {
    let keys = f.keys();
    let sql = match keys {
        Some(_) => format!(
            "SELECT {COLUMNS} FROM predictions{FILTER_SQL} ORDER BY created_at_us DESC, id DESC LIMIT $3 OFFSET $4"
        ),
        None => format!(
            "SELECT {COLUMNS} FROM predictions ORDER BY created_at_us DESC, id DESC LIMIT $1 OFFSET $2"
        ),
    };
    macro_rules! run {
        ($pool:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            if let Some((qid, text)) = &keys {
                q = q.bind(qid.clone()).bind(text.clone());
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
    let keys = f.keys();
    let sql = match keys {
        Some(_) => format!("SELECT COUNT(*) AS n FROM predictions{FILTER_SQL}"),
        None => "SELECT COUNT(*) AS n FROM predictions".to_string(),
    };
    macro_rules! run {
        ($pool:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            if let Some((qid, text)) = &keys {
                q = q.bind(qid.clone()).bind(text.clone());
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
        // Not a column: it follows from `parsed` (see `crate::predict`).
        low_confidence: !r.try_get::<bool, _>("parsed")?,
        explanation_baseline: r.try_get("explanation_baseline")?,
        explanation,
        model_version: r.try_get("model_version")?,
        calibration: None,
        uncalibrated: None,
    };
    Ok(PredictionRecord {
        created_at_us: r.try_get("created_at_us")?,
        query: r.try_get("query")?,
        id,
        response,
    })
}
