//! Exporting what the server logged during a capture: the rows of
//! `mysql.slow_log` and `mysql.general_log` in the capture's time window,
//! with exactly the tables' columns, written as the JSON exports qlat reads.

use serde_json::{Map, Value};
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Executor, Row};
use std::path::Path;

use super::{CaptureError, quote};

/// Which log rows an export keeps.
pub(super) struct Window<'a> {
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    /// Only statements in this database: slow-log rows whose `db` is it,
    /// general-log rows of the connections opened on it.
    pub(super) only_db: Option<&'a str>,
}

/// Exports a `mysql.*_log` table's rows in `[from, to]` with exactly the
/// table's columns: integers as JSON numbers, everything else in MySQL's
/// own text form (`2021-01-14 15:11:51.815988`, `00:00:00.000093`).
pub(super) async fn export_table(
    conn: &mut MySqlConnection,
    table: &str,
    time_column: &str,
    window: &Window<'_>,
) -> Result<Vec<Map<String, Value>>, CaptureError> {
    let (from, to) = (quote(window.from), quote(window.to));
    let cols_sql = format!(
        "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) FROM information_schema.columns WHERE table_schema = 'mysql' AND table_name = '{table}' ORDER BY ordinal_position"
    );
    let cols: Vec<(String, String)> = conn
        .fetch_all(AssertSqlSafe(cols_sql.as_str()))
        .await
        .map_err(|e| CaptureError::sql(&cols_sql, e))?
        .into_iter()
        .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
        .collect();
    let select: Vec<String> = cols
        .iter()
        .map(|(c, t)| {
            if t.contains("blob") || t.contains("text") {
                format!("CONVERT(`{c}` USING utf8mb4)")
            } else {
                format!("CAST(`{c}` AS CHAR)")
            }
        })
        .collect();
    let only = match (window.only_db, table) {
        (None, _) => String::new(),
        (Some(db), "slow_log") => format!(" AND db = {}", quote(db)),
        (Some(db), _) => format!(
            " AND thread_id IN (SELECT thread_id FROM mysql.general_log WHERE command_type = 'Connect' AND argument LIKE {} AND event_time BETWEEN {from} AND {to})",
            quote(&format!("% on {db} using %"))
        ),
    };
    let sql = format!(
        "SELECT {} FROM mysql.{table} WHERE {time_column} BETWEEN {from} AND {to}{only} ORDER BY {time_column}",
        select.join(", "),
    );
    let rows = conn
        .fetch_all(AssertSqlSafe(sql.as_str()))
        .await
        .map_err(|e| CaptureError::sql(&sql, e))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut obj = Map::new();
        for (i, (name, ty)) in cols.iter().enumerate() {
            let text: Option<String> = row.try_get(i).ok().flatten();
            let value = match text {
                None => Value::Null,
                Some(s) if ty.contains("int") => s
                    .parse::<u64>()
                    .map(Value::from)
                    .or_else(|_| s.parse::<i64>().map(Value::from))
                    .unwrap_or(Value::String(s)),
                Some(s) => Value::String(s),
            };
            obj.insert(name.clone(), value);
        }
        out.push(obj);
    }
    Ok(out)
}

/// Writes one object per line inside a JSON array, so the file is both a
/// valid JSON document and easy to diff and stream.
pub(super) fn write_json_array(
    path: &Path,
    rows: &[Map<String, Value>],
) -> Result<(), CaptureError> {
    use std::io::Write;
    let file = std::fs::File::create(path).map_err(|e| CaptureError::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    let mut write = || -> std::io::Result<()> {
        w.write_all(b"[\n")?;
        for (i, row) in rows.iter().enumerate() {
            serde_json::to_writer(&mut w, row)?;
            w.write_all(if i + 1 < rows.len() { b",\n" } else { b"\n" })?;
        }
        w.write_all(b"]\n")?;
        w.flush()
    };
    write().map_err(|e| CaptureError::io(path, e))
}
