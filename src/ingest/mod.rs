//! Readers for MySQL/MariaDB query logs.
//!
//! Every reader yields [`Event`]s, one per logged statement, so the rest of
//! qlat never cares which log or which format a statement came from.

pub mod json;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

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
    pub command: Option<String>,
    /// Execution time in seconds.
    pub query_time: Option<f64>,
    /// Lock wait time in seconds.
    pub lock_time: Option<f64>,
    pub rows_sent: Option<u64>,
    pub rows_examined: Option<u64>,
    /// The statement text exactly as logged (for admin commands, the command
    /// name such as `Quit`).
    pub sql: String,
}
