//! Readers for MySQL/MariaDB query logs.
//!
//! Every reader yields [`Event`]s, one per logged statement, so the rest of
//! qlat never cares which log or which format a statement came from.

mod detect;
pub mod error;
pub mod generallog;
pub mod json;
mod lines;
mod parse;
mod session;
pub mod slowlog;

pub use detect::{Format, detect, detect_bytes};
pub use error::{IngestError, Location};
pub use generallog::GeneralLogReader;
pub use json::JsonLogReader;
pub use parse::parse_mysql_duration;
pub use slowlog::SlowLogReader;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// Cap on the bytes of one event (statement plus headers, or one JSON
/// record). Real statements stay far below it even with `max_allowed_packet`
/// at its 1 GiB maximum in practice; the cap exists so that a corrupt or
/// non-log file cannot make a reader buffer gigabytes.
pub const MAX_EVENT_BYTES: usize = 64 << 20;

/// Which server log an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// The slow log: one event per finished statement, with timings.
    Slow,
    /// The general log: one event per received command, no timings.
    General,
}

/// One statement (or client command) as recorded by the server.
///
/// Fields a log does not carry are `None`: the general log has no timings and
/// the slow log has no command type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: LogKind,
    /// When the statement started (slow log) or was received (general log),
    /// in the server's local time as logged.
    pub time: Option<NaiveDateTime>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub thread_id: Option<u64>,
    pub db: Option<String>,
    /// General log command type (`Query`, `Connect`, `Quit`, `Ping`, ...).
    /// For slow-log administrator commands, the command name (`Quit`).
    pub command: Option<String>,
    /// Execution time in seconds.
    pub query_time: Option<f64>,
    /// Lock wait time in seconds.
    pub lock_time: Option<f64>,
    pub rows_sent: Option<u64>,
    pub rows_examined: Option<u64>,
    /// The statement text exactly as logged, without the `;` the slow log
    /// appends. Slow-log administrator commands read
    /// `administrator command: Quit`, as pt-query-digest shows them; for
    /// general-log commands this is the argument (empty for `Quit`).
    pub sql: String,
}

impl Event {
    /// Whether the event is one execution of a statement: every slow-log
    /// event, and the general log's `Query` and `Execute` entries.
    ///
    /// Server-side prepared statements (the binary protocol drivers use for
    /// bound parameters) reach MariaDB's general log as one `Prepare` entry
    /// (the text with `?` placeholders) and one `Execute` entry per
    /// execution with the values substituted, which is also the text the
    /// slow log records; `Prepare` entries run nothing. SQL-level
    /// `EXECUTE stmt USING @x` is logged twice, as a `Query` entry and as the
    /// `Execute` entry of the substituted statement (the slow log has only
    /// the latter), so the `Query` entry is not counted again. See
    /// `tests/fixtures/prepared/` for what MariaDB 10.11 wrote.
    pub fn is_execution(&self) -> bool {
        match (self.kind, self.command.as_deref()) {
            (LogKind::Slow, _) => true,
            (LogKind::General, Some(c)) if c.eq_ignore_ascii_case("Execute") => true,
            (LogKind::General, Some(c)) if c.eq_ignore_ascii_case("Query") => {
                !is_sql_execute(&self.sql)
            }
            (LogKind::General, _) => false,
        }
    }

    /// Whether the event is a general-log `Prepare` entry (see
    /// [`Event::is_execution`]).
    pub fn is_prepare(&self) -> bool {
        self.kind == LogKind::General
            && self
                .command
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("Prepare"))
    }
}

/// `EXECUTE stmt ...`, the SQL-level execution of a prepared statement.
fn is_sql_execute(sql: &str) -> bool {
    let s = sql.trim_start().as_bytes();
    s.len() > 8 && s[..7].eq_ignore_ascii_case(b"EXECUTE") && s[7].is_ascii_whitespace()
}

/// A stream of events from one or more logs. Per-event errors (a bad field,
/// an oversized event) are yielded in place and reading continues; I/O and
/// JSON syntax errors end the stream of the file they occur in.
pub type Events = Box<dyn Iterator<Item = Result<Event, IngestError>> + Send>;

/// Read buffer size: large enough that refills are rare next to parsing.
const READ_BUFFER: usize = 256 * 1024;

/// Reads the log at `path`, whose format is detected from its content.
///
/// A file that is not a query log is an [`IngestError::NotALog`].
pub fn read_path(path: &Path) -> Result<Events, IngestError> {
    let format = detect(path)?;
    open_as(path, format)
}

/// Reads the log at `path` as `format`, skipping detection.
pub fn open_as(path: &Path, format: Format) -> Result<Events, IngestError> {
    let file = File::open(path).map_err(|source| IngestError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(read_from(
        BufReader::with_capacity(READ_BUFFER, file),
        path,
        format,
    ))
}

/// Reads a log of a known format from any reader (stdin, a decompressor);
/// `source` names it in error messages.
pub fn read_from<R: BufRead + Send + 'static>(reader: R, source: &Path, format: Format) -> Events {
    match format {
        Format::SlowLogFile => Box::new(SlowLogReader::new(reader, source)),
        Format::GeneralLogFile => Box::new(GeneralLogReader::new(reader, source)),
        Format::SlowLogJson => Box::new(JsonLogReader::new(reader, source, LogKind::Slow)),
        Format::GeneralLogJson => Box::new(JsonLogReader::new(reader, source, LogKind::General)),
    }
}

/// Reads several logs in order, one after the other.
///
/// A directory stands for the log files directly inside it, in name order
/// (no recursion, so a data folder's subfolders of models or plots are not
/// read). Inside a directory, hidden files, `*.md` files, `*.sql` schema
/// files and `capture.json` (the capture's metadata, written next to its
/// logs) are passed over, and
/// any other file that is not a log is skipped with a warning, because data
/// folders routinely hold notes and schemas. A file named explicitly that
/// is not a log is an error: the user asked for it. All formats are
/// detected before the first event is read, so such mistakes surface at once.
pub fn read_paths<I, P>(paths: I) -> Result<Events, IngestError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let files = expand_paths(paths)?;
    Ok(Box::new(files.into_iter().flat_map(|(path, format)| {
        open_as(&path, format).unwrap_or_else(|e| Box::new(std::iter::once(Err(e))))
    })))
}

/// The log files `paths` stand for, with their detected formats, following
/// the directory rules of [`read_paths`]; for callers that report per file.
pub fn expand_paths<I, P>(paths: I) -> Result<Vec<(PathBuf, Format)>, IngestError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let mut files: Vec<(PathBuf, Format)> = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let io = |source| IngestError::Io {
            path: path.to_owned(),
            source,
        };
        if !std::fs::metadata(path).map_err(io)?.is_dir() {
            files.push((path.to_owned(), detect(path)?));
            continue;
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let is_file = std::fs::metadata(entry.path()).map_err(io)?.is_file();
            if !is_file {
                continue;
            }
            match passed_over(&entry.path()) {
                Some(what) => tracing::debug!("passing over {}: {what}", entry.path().display()),
                None => entries.push(entry.path()),
            }
        }
        entries.sort();
        for file in entries {
            match detect(&file) {
                Ok(format) => files.push((file, format)),
                Err(e @ IngestError::NotALog { .. }) => warn_once(&file, &e),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(files)
}

/// What a file in an input directory is when it is recognisably not a
/// log (so it is passed over without a warning), else `None`.
fn passed_over(path: &Path) -> Option<&'static str> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let ext = |e: &str| path.extension().is_some_and(|x| x.eq_ignore_ascii_case(e));
    if name.starts_with('.') {
        Some("a hidden file")
    } else if name == "capture.json" {
        Some("a capture's metadata (row counts and statistics)")
    } else if ext("sql") {
        Some("SQL (a schema is read from it by --schema or beside the logs)")
    } else if ext("md") {
        Some("notes")
    } else {
        None
    }
}

/// Warns about a file that is not a log once per process, however many
/// times the same directory is listed (schema lookup, training, eval).
fn warn_once(path: &Path, e: &IngestError) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let first = match WARNED.lock() {
        Ok(mut seen) if !seen.iter().any(|p| p == path) => {
            seen.push(path.to_owned());
            true
        }
        Ok(_) => false,
        // A poisoned lock only costs a repeated warning.
        Err(_) => true,
    };
    if first {
        tracing::warn!("skipping {e}");
    }
}
