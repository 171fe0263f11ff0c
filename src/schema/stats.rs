//! Table and column statistics read from the server and kept in
//! `capture.json`, so the catalog knows sizes, distinct counts and value
//! ranges without a connection when a model is trained or served.
//!
//! One pass per table counts its rows and computes `COUNT(DISTINCT c)`,
//! `MIN(c)` and `MAX(c)` of every column: exact numbers, which on a
//! production-sized table cost a full scan; run it against a replica or a
//! copy.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, Row};
use std::str::FromStr;

use crate::sql::catalog::{Catalog, ColumnStats};

/// What can go wrong reading statistics from a server or a `capture.json`.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("invalid server URL {url:?}: {source}")]
    Url {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to the server: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("statement failed: {statement}: {source}")]
    Sql {
        statement: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StatsError {
    /// A failed statement, its text cut to 120 characters for the message.
    pub fn sql(statement: &str, source: sqlx::Error) -> Self {
        StatsError::Sql {
            statement: shortened(statement),
            source,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StatsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A statement as an error message quotes it: at most 120 characters.
pub(crate) fn shortened(statement: &str) -> String {
    let mut short: String = statement.chars().take(120).collect();
    if short.len() < statement.len() {
        short.push('…');
    }
    short
}

/// Connection options for `url`, statement logging off (the server's own
/// logs are the record) and the session's time zone left alone.
pub fn options(url: &str) -> Result<MySqlConnectOptions, StatsError> {
    MySqlConnectOptions::from_str(url)
        .map(|o| o.timezone(None::<String>).disable_statement_logging())
        .map_err(|source| StatsError::Url {
            url: url.to_string(),
            source,
        })
}

/// Statistics per table, then per column (lower-case names).
pub type ColumnStatsMap = BTreeMap<String, BTreeMap<String, ColumnStats>>;

/// `name` as a quoted MySQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The unit a column's value range is kept in, by its SQL type (`int`,
/// `decimal(12,2)`, `date`, ...); `None` for types without a useful range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RangeUnit {
    /// The number itself.
    Number,
    /// Days since 1970-01-01.
    Days,
}

pub(crate) fn range_unit(data_type: &str) -> Option<RangeUnit> {
    let lower = data_type.to_ascii_lowercase();
    match lower.split(['(', ' ']).next().unwrap_or("") {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
        | "numeric" | "float" | "double" | "real" | "year" => Some(RangeUnit::Number),
        "date" | "datetime" | "timestamp" => Some(RangeUnit::Days),
        _ => None,
    }
}

/// SQL for a day count since 1970-01-01 of `expr` (TO_DAYS counts from
/// year 0).
pub(crate) fn days_since_epoch(expr: &str) -> String {
    format!("TO_DAYS({expr}) - 719528")
}

/// How a column's min and max are expressed, by its SQL type.
/// Column `i` of a row as text (empty for NULL), whatever type the server sent it as
/// (information_schema columns are text on one server, binary on another).
pub(crate) fn text(row: &MySqlRow, i: usize) -> String {
    row.try_get::<Option<String>, _>(i)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get::<Option<Vec<u8>>, _>(i)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .unwrap_or_default()
}

fn range_expr(data_type: &str, column: &str) -> Option<String> {
    let c = ident(column);
    match range_unit(data_type)? {
        RangeUnit::Number => Some(c),
        RangeUnit::Days => Some(days_since_epoch(&c)),
    }
}

/// Row counts and column statistics of every base table of `database`.
/// Names are kept as the server spells them for the queries and
/// lower-cased in the result, as the catalog keys them.
pub async fn read_column_stats(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<(BTreeMap<String, u64>, ColumnStatsMap), StatsError> {
    let schema = database.replace('\\', "\\\\").replace('\'', "''");
    let sql = format!(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c \
         JOIN information_schema.tables t \
         ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = '{schema}' AND t.table_type = 'BASE TABLE' \
         ORDER BY c.table_name, c.ordinal_position"
    );
    let rows = conn
        .fetch_all(AssertSqlSafe(sql.as_str()))
        .await
        .map_err(|e| StatsError::sql(&sql, e))?;
    let mut columns: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in rows {
        let get = |i: usize| text(&r, i);
        columns.entry(get(0)).or_default().push((get(1), get(2)));
    }
    let mut table_rows = BTreeMap::new();
    let mut out = ColumnStatsMap::new();
    for (table, cols) in columns {
        let mut parts = vec!["CAST(COUNT(*) AS CHAR)".to_owned()];
        for (name, data_type) in &cols {
            parts.push(format!("CAST(COUNT(DISTINCT {}) AS CHAR)", ident(name)));
            match range_expr(data_type, name) {
                Some(e) => {
                    parts.push(format!("CAST(MIN({e}) AS CHAR)"));
                    parts.push(format!("CAST(MAX({e}) AS CHAR)"));
                }
                None => parts.extend(["NULL".to_owned(), "NULL".to_owned()]),
            }
        }
        let sql = format!(
            "SELECT {} FROM {}.{}",
            parts.join(", "),
            ident(database),
            ident(&table)
        );
        let row = conn
            .fetch_one(AssertSqlSafe(sql.as_str()))
            .await
            .map_err(|e| StatsError::sql(&sql, e))?;
        let text = |i: usize| row.try_get::<Option<String>, _>(i).ok().flatten();
        let number = |i: usize| text(i).and_then(|s| s.parse::<f64>().ok());
        let stats = cols
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let stats = ColumnStats {
                    distinct: text(1 + 3 * i).and_then(|s| s.parse().ok()).unwrap_or(0),
                    min: number(2 + 3 * i),
                    max: number(3 + 3 * i),
                };
                (name.to_ascii_lowercase(), stats)
            })
            .collect();
        let table = table.to_ascii_lowercase();
        table_rows.insert(
            table.clone(),
            text(0).and_then(|s| s.parse().ok()).unwrap_or(0),
        );
        out.insert(table, stats);
    }
    Ok((table_rows, out))
}

/// Connects to `url`, reads row counts and column statistics of
/// `database`, and writes them into the JSON object at `path` (created when
/// missing; its other fields are kept).
pub async fn refresh(url: &str, database: &str, path: &Path) -> Result<ColumnStatsMap, StatsError> {
    let mut meta = check_into(path)?;
    let opts = options(url)?;
    let mut conn = MySqlConnection::connect_with(&opts)
        .await
        .map_err(StatsError::Connect)?;
    let (table_rows, stats) = read_column_stats(&mut conn, database).await?;
    let _ = conn.close().await;
    let obj = meta
        .as_object_mut()
        .ok_or_else(|| invalid(path, "the file holds JSON but not an object"))?;
    obj.insert("table_rows".into(), serde_json::json!(table_rows));
    obj.insert("column_stats".into(), serde_json::json!(stats));
    let text = serde_json::to_string_pretty(&meta).map_err(|e| invalid(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| StatsError::io(path, e))?;
    Ok(stats)
}

/// Checks, before any work, that `path` can take the statistics: an
/// existing file must hold a JSON object and be writable, a new one must be
/// creatable (nothing is left behind). Returns the object to extend.
pub fn check_into(path: &Path) -> Result<Value, StatsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let meta = serde_json::from_str::<Value>(&text).map_err(|e| invalid(path, e))?;
            if !meta.is_object() {
                return Err(invalid(path, "the file holds JSON but not an object"));
            }
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| StatsError::io(path, e))?;
            Ok(meta)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| StatsError::io(path, e))?;
            let _ = std::fs::remove_file(path);
            Ok(Value::Object(Default::default()))
        }
        Err(e) => Err(StatsError::io(path, e)),
    }
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> StatsError {
    StatsError::io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    )
}

/// Gives `catalog` the table row counts and column statistics recorded in
/// a `capture.json`. Tables and columns the catalog does not know are
/// skipped; a file without statistics (older captures) only sets sizes.
pub fn apply_meta(catalog: &mut Catalog, path: &Path) -> Result<(), StatsError> {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        table_rows: BTreeMap<String, u64>,
        #[serde(default)]
        column_stats: ColumnStatsMap,
    }
    let text = std::fs::read_to_string(path).map_err(|e| StatsError::io(path, e))?;
    let meta: Meta = serde_json::from_str(&text).map_err(|e| invalid(path, e))?;
    for (table, rows) in meta.table_rows {
        catalog.set_row_count(&table, rows);
    }
    for (table, columns) in meta.column_stats {
        for (column, stats) in columns {
            catalog.set_column_stats(&table, &column, stats);
        }
    }
    Ok(())
}
