//! Reading only what is new since the last cycle (the watermark), from a
//! directory of log files or live from a server's `mysql.slow_log`.
//!
//! Every record read twice (an overlap, a rewritten file) is dropped by
//! the observations table's dedupe key (start time, thread, seconds,
//! statement), so a watermark may err on the side of re-reading but never
//! double counts.
//!
//! For a **directory**, each slow-log file (JSON export or native file;
//! general logs have no timings and are ignored) has its own mark: size,
//! modification time, SHA-256 of its first 4 KiB, and how many records were
//! read from it. A file whose size, time and head are unchanged is not read
//! at all. A file that grew with the same head (appended to, or a JSON
//! export rewritten with more rows) is re-parsed and its first `records`
//! records — the ones already read — are skipped, whatever their times (an
//! export sorted by start time is not in end-time order, so a time mark
//! would drop rows there). A file whose head changed or that shrank
//! (rotated, truncated, replaced) is read from the start, and the dedupe
//! key drops what was already stored. A native log's last event is held
//! back while the file does not end with a newline (it may still be being
//! written). A syntax error ends the file's read at that point, keeping
//! what came before, so a half-written record is retried next cycle.
//! Re-parsing a changed file costs time linear in its size, which keeps
//! this correct for every format qlat reads (a JSON array cannot be resumed
//! at a byte offset).
//!
//! For a **server**, the mark is the latest **end time** (start + query
//! time) read from `mysql.slow_log`. The server writes a statement there
//! when it *ends*, stamped with its *start* time, so start times are not in
//! table order: a long query that started before the last read is written
//! after it, and a start-time mark would lose exactly the slow statements.
//! A read takes every row that ended at or after `mark - 5 s`; the overlap
//! absorbs equal timestamps and rows written a moment after the statement
//! ended. `mysql.general_log` has no durations, so it cannot teach latency
//! and is not read.

use crate::ingest::{Event, IngestError, JsonLogReader, LogKind};
use chrono::{NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Overlap re-read before the watermark (see the module docs).
pub const WATERMARK_OVERLAP: TimeDelta = TimeDelta::seconds(5);

/// Bytes of a file's head that identify it across appends.
const HEAD_BYTES: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("reading logs: {0}")]
    Ingest(#[from] IngestError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid server URL {url}: {source}")]
    Url {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("reading mysql.slow_log from {url}: {source}")]
    MySql {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("watermark of {source_id} is unreadable: {message}")]
    BadWatermark { source_id: String, message: String },
}

/// Where the pipeline reads statements from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Log files or directories of log files (as `qlat train` takes them).
    Paths(Vec<PathBuf>),
    /// A live MySQL/MariaDB server; with a database in the URL, only
    /// statements run in that database are read.
    MySql { url: String },
}

impl Source {
    /// `mysql://…` / `mariadb://…` is a server; anything else a path.
    pub fn parse(s: &str) -> Source {
        if s.starts_with("mysql://") || s.starts_with("mariadb://") {
            Source::MySql {
                url: s.replacen("mariadb://", "mysql://", 1),
            }
        } else {
            Source::Paths(vec![PathBuf::from(s)])
        }
    }

    /// Stable identity of the source: the watermark's key.
    pub fn id(&self) -> String {
        match self {
            Source::Paths(paths) => {
                let abs: Vec<String> = paths
                    .iter()
                    .map(|p| {
                        std::path::absolute(p)
                            .unwrap_or_else(|_| p.clone())
                            .display()
                            .to_string()
                    })
                    .collect();
                format!("paths:{}", abs.join(","))
            }
            Source::MySql { url } => format!("mysql:{}", crate::store::redact(url)),
        }
    }
}

/// What the source yielded this cycle.
#[derive(Debug, Default)]
pub struct Batch {
    /// Slow-log events past the watermark (not yet deduplicated).
    pub events: Vec<Event>,
    /// Events parsed, including those before the watermark.
    pub read: u64,
    /// Events dropped because they ended before the watermark's overlap.
    pub before_watermark: u64,
    /// Records that could not be parsed (skipped).
    pub errors: u64,
    /// Files not re-read because they are unchanged (directory source).
    pub unchanged_files: u64,
    /// The watermark to save once the events are stored.
    pub watermark: serde_json::Value,
}

/// End time of a slow-log event, when it has a start time.
pub fn end_time(e: &Event) -> Option<NaiveDateTime> {
    let start = e.time?;
    let micros = (e.query_time.unwrap_or(0.0).max(0.0) * 1e6).round() as i64;
    Some(start + TimeDelta::microseconds(micros))
}

fn past(e: &Event, mark: Option<NaiveDateTime>) -> bool {
    match (mark, end_time(e)) {
        (Some(m), Some(end)) => end >= m - WATERMARK_OVERLAP,
        _ => true,
    }
}

/// Reads what is new in `source` given the saved watermark (`None` on the
/// first cycle).
pub async fn read_new(
    source: &Source,
    watermark: Option<&serde_json::Value>,
) -> Result<Batch, SourceError> {
    match source {
        Source::Paths(paths) => {
            let state: DirMark = match watermark {
                Some(v) => {
                    serde_json::from_value(v.clone()).map_err(|e| SourceError::BadWatermark {
                        source_id: source.id(),
                        message: e.to_string(),
                    })?
                }
                None => DirMark::default(),
            };
            let paths = paths.clone();
            tokio::task::spawn_blocking(move || read_paths_since(&paths, state))
                .await
                .map_err(|e| SourceError::Io {
                    path: PathBuf::from("<reader task>"),
                    source: std::io::Error::other(e.to_string()),
                })?
        }
        Source::MySql { url } => {
            let mark: ServerMark = match watermark {
                Some(v) => {
                    serde_json::from_value(v.clone()).map_err(|e| SourceError::BadWatermark {
                        source_id: source.id(),
                        message: e.to_string(),
                    })?
                }
                None => ServerMark::default(),
            };
            read_server_since(url, mark).await
        }
    }
}

/// Watermark of a directory source: one mark per file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DirMark {
    pub files: BTreeMap<String, FileMark>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMark {
    pub size: u64,
    pub modified_us: i64,
    /// Bytes hashed into `head_sha256`: min(size, 4 KiB) at marking time.
    pub head_len: u64,
    pub head_sha256: String,
    /// Records (events and per-record errors) read from the file so far.
    pub records: u64,
}

fn head_hash(path: &Path, len: u64) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(len as usize);
    std::fs::File::open(path)?.take(len).read_to_end(&mut buf)?;
    Ok(hex::encode(Sha256::digest(&buf)))
}

fn ends_with_newline(path: &Path, size: u64) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    if size == 0 {
        return Ok(true);
    }
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(size - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn read_paths_since(paths: &[PathBuf], mut state: DirMark) -> Result<Batch, SourceError> {
    let mut batch = Batch::default();
    let files = crate::ingest::expand_paths(paths)?;
    for (path, format) in files {
        if !format.is_slow() {
            continue;
        }
        let io = |source| SourceError::Io {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(io)?;
        let size = meta.len();
        let modified_us = meta
            .modified()
            .ok()
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_micros())
            .unwrap_or(0);
        let key = std::path::absolute(&path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string();
        let previous = state.files.get(&key).cloned();
        // The previous mark still applies if the file starts with the bytes
        // it started with and is not shorter.
        let continued = match &previous {
            Some(p) if size >= p.size => head_hash(&path, p.head_len).map_err(io)? == p.head_sha256,
            _ => false,
        };
        if let Some(p) = &previous
            && continued
            && p.size == size
            && p.modified_us == modified_us
        {
            batch.unchanged_files += 1;
            continue;
        }
        let skip = match &previous {
            Some(p) if continued => p.records,
            _ => 0,
        };
        let first_new = batch.events.len();
        let mut records = 0u64;
        let mut last_was_event = false;
        for item in crate::ingest::open_as(&path, format)? {
            match item {
                Ok(e) => {
                    records += 1;
                    batch.read += 1;
                    last_was_event = false;
                    if records <= skip {
                        batch.before_watermark += 1;
                        continue;
                    }
                    if e.kind == LogKind::Slow && e.query_time.is_some() {
                        batch.events.push(e);
                        last_was_event = true;
                    }
                }
                Err(e) if e.is_fatal() => {
                    // Keep what came before; the rest is retried next cycle.
                    batch.errors += 1;
                    tracing::warn!(error = %e, "stopping at an unreadable record; the rest of the file is retried next cycle");
                    break;
                }
                Err(e) => {
                    records += 1;
                    last_was_event = false;
                    batch.errors += 1;
                    if batch.errors <= 5 {
                        tracing::warn!(error = %e, "skipping a record");
                    }
                }
            }
        }
        if format == crate::ingest::Format::SlowLogFile
            && records > skip
            && !ends_with_newline(&path, size).map_err(io)?
        {
            // The last event may be cut off mid-write: read it again later.
            if last_was_event && batch.events.len() > first_new {
                batch.events.pop();
            }
            records -= 1;
        }
        let head_len = size.min(HEAD_BYTES);
        state.files.insert(
            key,
            FileMark {
                size,
                modified_us,
                head_len,
                head_sha256: head_hash(&path, head_len).map_err(io)?,
                records,
            },
        );
    }
    batch.watermark = serde_json::to_value(&state).unwrap_or_default();
    Ok(batch)
}

/// Watermark of a server source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerMark {
    /// Latest end time read, in the server's time zone as it logs.
    pub max_end: Option<NaiveDateTime>,
}

/// The database named in a `mysql://` URL's path, if any.
fn url_database(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://")?.1;
    let path = after_scheme.split_once('/')?.1;
    let db = path.split(['?', '#']).next().unwrap_or_default();
    (!db.is_empty()).then(|| db.to_string())
}

/// The URL without its database, so the reader's own session has no
/// default database and its statements never match the `db` filter.
fn without_database(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}{query}")
}

const SLOW_LOG_COLUMNS: [&str; 9] = [
    "start_time",
    "user_host",
    "query_time",
    "lock_time",
    "rows_sent",
    "rows_examined",
    "db",
    "sql_text",
    "thread_id",
];

async fn read_server_since(url: &str, mark: ServerMark) -> Result<Batch, SourceError> {
    let shown = crate::store::redact(url);
    let sql_err = |source| SourceError::MySql {
        url: shown.clone(),
        source,
    };
    let opts = MySqlConnectOptions::from_str(&without_database(url))
        .map_err(|source| SourceError::Url {
            url: shown.clone(),
            source,
        })?
        // Times as the server logs them (its own zone), like the exports.
        .timezone(None::<String>)
        .disable_statement_logging();
    let mut conn = MySqlConnection::connect_with(&opts)
        .await
        .map_err(sql_err)?;
    // Keep the reader's own statements out of the log it reads.
    conn.execute("SET SESSION long_query_time = 31536000")
        .await
        .map_err(sql_err)?;
    let db = url_database(url);
    let select: Vec<String> = SLOW_LOG_COLUMNS
        .iter()
        .map(|c| match *c {
            "sql_text" | "user_host" | "db" => format!("CONVERT(`{c}` USING utf8mb4)"),
            _ => format!("CAST(`{c}` AS CHAR)"),
        })
        .collect();
    let mut sql = format!(
        "SELECT {}, CAST(ADDTIME(start_time, query_time) AS CHAR) FROM mysql.slow_log WHERE 1 = 1",
        select.join(", ")
    );
    if db.is_some() {
        sql.push_str(" AND db = ?");
    }
    let from = mark.max_end.map(|m| m - WATERMARK_OVERLAP);
    if from.is_some() {
        sql.push_str(" AND ADDTIME(start_time, query_time) >= CAST(? AS DATETIME(6))");
    }
    sql.push_str(" ORDER BY start_time");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(db) = &db {
        q = q.bind(db.clone());
    }
    if let Some(from) = from {
        q = q.bind(from.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
    }
    let rows = q.fetch_all(&mut conn).await.map_err(sql_err)?;
    let _ = conn.close().await;

    // Rows go through the JSON export reader, so the live path parses
    // user_host, durations and times exactly as exported files are parsed.
    let mut jsonl = Vec::new();
    let mut max_end = mark.max_end;
    for row in &rows {
        let mut obj = serde_json::Map::new();
        for (i, name) in SLOW_LOG_COLUMNS.iter().enumerate() {
            let v: Option<String> = row.try_get(i).map_err(sql_err)?;
            obj.insert(
                (*name).to_string(),
                v.map_or(serde_json::Value::Null, serde_json::Value::String),
            );
        }
        let end: Option<String> = row.try_get(SLOW_LOG_COLUMNS.len()).map_err(sql_err)?;
        if let Some(end) = end.and_then(|s| parse_time(&s)) {
            max_end = max_end.max(Some(end));
        }
        serde_json::to_writer(&mut jsonl, &obj).map_err(|e| SourceError::Io {
            path: PathBuf::from("mysql.slow_log"),
            source: e.into(),
        })?;
        jsonl.push(b'\n');
    }
    let mut batch = Batch::default();
    let reader = JsonLogReader::new(std::io::Cursor::new(jsonl), "mysql.slow_log", LogKind::Slow);
    for item in reader {
        match item {
            Ok(e) => {
                batch.read += 1;
                if e.query_time.is_none() {
                    continue;
                }
                if past(&e, mark.max_end) {
                    batch.events.push(e);
                } else {
                    batch.before_watermark += 1;
                }
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                batch.errors += 1;
                if batch.errors <= 5 {
                    tracing::warn!(error = %e, "skipping a slow_log row");
                }
            }
        }
    }
    batch.watermark = serde_json::to_value(ServerMark { max_end }).unwrap_or_default();
    Ok(batch)
}

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_and_their_database() {
        assert_eq!(
            url_database("mysql://root@127.0.0.1:3306/shop").as_deref(),
            Some("shop")
        );
        assert_eq!(url_database("mysql://root@127.0.0.1:3306"), None);
        assert_eq!(url_database("mysql://root@h/"), None);
        assert_eq!(
            without_database("mysql://u:p@h:3306/shop?ssl-mode=disabled"),
            "mysql://u:p@h:3306?ssl-mode=disabled"
        );
        assert_eq!(without_database("mysql://h"), "mysql://h");
        assert_eq!(
            Source::parse("mariadb://h/db"),
            Source::MySql {
                url: "mysql://h/db".into()
            }
        );
        assert_eq!(Source::parse("data"), Source::Paths(vec!["data".into()]));
    }

    fn event(start: &str, seconds: f64) -> Event {
        Event {
            kind: LogKind::Slow,
            time: parse_time(start),
            user: None,
            host: None,
            thread_id: None,
            db: None,
            command: None,
            query_time: Some(seconds),
            lock_time: None,
            rows_sent: None,
            rows_examined: None,
            sql: "SELECT 1".into(),
        }
    }

    #[test]
    fn the_watermark_is_on_end_time_with_an_overlap() {
        let mark = parse_time("2026-01-01 00:01:00");
        // Started long before the mark but ended after it: a slow query
        // written late must not be lost.
        assert!(past(&event("2026-01-01 00:00:00", 61.0), mark));
        // Ended within the overlap: re-read, deduplicated later.
        assert!(past(&event("2026-01-01 00:00:56", 0.0), mark));
        // Ended well before: skipped.
        assert!(!past(&event("2026-01-01 00:00:50", 1.0), mark));
        // No time: cannot be placed, kept (dedupe decides).
        let mut untimed = event("2026-01-01 00:00:00", 1.0);
        untimed.time = None;
        assert!(past(&untimed, mark));
        assert!(past(&event("2026-01-01 00:00:00", 0.0), None));
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
    }

    fn line(start: &str, secs: f64, sql: &str) -> String {
        format!(
            "{{\"start_time\":\"{start}\",\"query_time\":{secs},\"sql_text\":\"{sql}\",\"thread_id\":1}}\n"
        )
    }

    #[test]
    fn a_directory_is_reread_only_when_a_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("slow.jsonl");
        write(
            &f,
            &(line("2026-01-01 00:00:00", 0.5, "SELECT 1")
                + &line("2026-01-01 00:01:00", 0.5, "SELECT 2")),
        );
        let paths = vec![dir.path().to_path_buf()];
        let b1 = read_paths_since(&paths, DirMark::default()).expect("read");
        assert_eq!(b1.events.len(), 2);
        let mark: DirMark = serde_json::from_value(b1.watermark.clone()).expect("mark");
        let b2 = read_paths_since(&paths, mark.clone()).expect("read");
        assert_eq!((b2.events.len(), b2.unchanged_files), (0, 1));

        // Append, with a time *before* the others (exports are sorted by
        // start time, not by when a statement ended): only the new record.
        let mut text = std::fs::read_to_string(&f).expect("read");
        text.push_str(&line("2025-12-31 23:00:00", 0.1, "SELECT 3"));
        write(&f, &text);
        let b3 = read_paths_since(&paths, mark).expect("read");
        let sqls: Vec<&str> = b3.events.iter().map(|e| e.sql.as_str()).collect();
        assert_eq!(sqls, ["SELECT 3"]);
        assert_eq!(b3.before_watermark, 2);

        // Replaced by a different file: everything is read again (the
        // store's dedupe drops what it already holds).
        let mark: DirMark = serde_json::from_value(b3.watermark).expect("mark");
        write(&f, &line("2025-01-01 00:00:00", 0.1, "SELECT 9"));
        let b4 = read_paths_since(&paths, mark).expect("read");
        assert_eq!(b4.events.len(), 1);
        assert_eq!(b4.events[0].sql, "SELECT 9");
    }

    #[test]
    fn a_half_written_native_event_waits_for_the_next_cycle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("slow.log");
        let event = |t: &str, sql: &str| {
            format!(
                "# Time: {t}\n# User@Host: u[u] @ h []\n# Thread_id: 1  Schema: db  QC_hit: No\n# Query_time: 0.5  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 1\n# Rows_affected: 0  Bytes_sent: 1\nSET timestamp=1;\n{sql};\n"
            )
        };
        let complete = event("260101  0:00:00", "SELECT 1");
        write(
            &f,
            &(complete.clone()
                + &event("260101  0:00:01", "SELECT 2").replace("SELECT 2;\n", "SELECT 2 FR")),
        );
        let paths = vec![f.clone()];
        let b1 = read_paths_since(&paths, DirMark::default()).expect("read");
        let sqls: Vec<&str> = b1.events.iter().map(|e| e.sql.as_str()).collect();
        assert_eq!(sqls, ["SELECT 1"], "the cut-off event is held back");
        let mark: DirMark = serde_json::from_value(b1.watermark).expect("mark");
        write(
            &f,
            &(complete + &event("260101  0:00:01", "SELECT 2 FROM t")),
        );
        let b2 = read_paths_since(&paths, mark).expect("read");
        let sqls: Vec<&str> = b2.events.iter().map(|e| e.sql.as_str()).collect();
        assert_eq!(sqls, ["SELECT 2 FROM t"]);
    }
}
