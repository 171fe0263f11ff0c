//! Readers for MySQL/MariaDB query logs.
//!
//! Every reader yields [`Event`]s, one per logged statement, so the rest of
//! qlat never cares which log or which format a statement came from.

pub mod error;
pub mod json;
mod lines;
mod parse;
pub mod slowlog;

pub use error::{IngestError, Location};
pub use parse::parse_mysql_duration;
pub use slowlog::SlowLogReader;

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
