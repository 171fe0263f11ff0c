//! `qlat analyze`: one streaming pass over any mix of logs that yields the
//! workload's profile — a pt-query-digest compatible digest, where time goes
//! (statement kinds, tables, columns, operations), how it moves over time,
//! and how trustworthy the logs are.
//!
//! Memory is bounded by the number of distinct fingerprints (statements are
//! parsed once per fingerprint), by the capture's duration in minutes for the
//! timeline, and by fixed-size samples for the scatter plot.

pub mod digest;
pub mod quality;

pub use digest::{ClassReport, Digest, Distribution, Stats};
pub use quality::Quality;

use serde::Serialize;

/// How one input file went.
#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub path: String,
    pub format: String,
    pub events: u64,
    pub errors: u64,
    /// The first few errors, for the report.
    pub error_examples: Vec<String>,
}

/// A digest class with the tables it touches (the JSON contract's shape).
#[derive(Debug, Clone, Serialize)]
pub struct ClassSummary {
    #[serde(flatten)]
    pub class: ClassReport,
    pub tables: Vec<String>,
    pub kind: String,
    pub parsed: bool,
}

/// Count and time spent for one label (a table, a column, a kind ...).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Usage {
    pub name: String,
    pub count: u64,
    pub time: f64,
}

/// Activity in one time bucket.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    /// Start of the bucket, as logged (server local time).
    pub start: String,
    pub queries: u64,
    pub qps: f64,
    pub avg_seconds: f64,
    pub p95_seconds: f64,
    pub max_seconds: f64,
}

/// One bar of the query-time histogram (log-spaced bins).
#[derive(Debug, Clone, Serialize)]
pub struct HistogramBin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

/// Latency distribution of one account, for the box plot.
#[derive(Debug, Clone, Serialize)]
pub struct UserLatency {
    pub user: String,
    pub count: u64,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub p95: f64,
    pub max: f64,
    pub total: f64,
}

/// Everything `qlat analyze` found; rendered by [`crate::report`].
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub query_count: u64,
    pub unique_query_count: usize,
    pub classes: Vec<ClassSummary>,
    pub total_query_time: Stats,
    pub inputs: Vec<InputSummary>,
    pub time_range: Option<(String, String)>,
    pub timeline_bucket_seconds: i64,
    pub timeline: Vec<TimelinePoint>,
    pub kinds: Vec<Usage>,
    pub tables: Vec<Usage>,
    pub columns: Vec<Usage>,
    pub operations: Vec<Usage>,
    /// (rows examined, query time) of a uniform sample of statements.
    pub scatter: Vec<(f64, f64)>,
    pub histogram: Vec<HistogramBin>,
    pub users: Vec<UserLatency>,
    pub quality: Quality,
}


