//! `qlat analyze`: one streaming pass over any mix of logs that yields the
//! workload's profile — a pt-query-digest compatible digest, where time goes
//! (statement kinds, tables, columns, operations), how it moves over time,
//! and how trustworthy the logs are.
//!
//! Memory is bounded by the number of distinct fingerprints (statements are
//! parsed once per fingerprint and identifier variant, see [`shape`]), by
//! the capture's duration in minutes for the timeline, and by fixed-size
//! samples for the scatter plot. Tables are named `db.table`, with the
//! event's session database where the statement names none.

pub mod digest;
pub mod quality;
mod shape;

pub use digest::{ClassReport, Digest, Distribution, Stats};
pub use quality::Quality;
pub use shape::{Labels, Shape};

use crate::ingest::{self, Event, LogKind};
use crate::sql::catalog::Catalog;
use crate::sql::fingerprint;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// How one input file went.
#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub path: String,
    pub format: String,
    pub events: u64,
    pub errors: u64,
    /// First and last event time in this file.
    pub first: Option<String>,
    pub last: Option<String>,
    /// The first few errors, for the report.
    pub error_examples: Vec<String>,
}

/// A digest class with the tables it touches (the JSON contract's shape).
#[derive(Debug, Clone, Serialize)]
pub struct ClassSummary {
    #[serde(flatten)]
    pub class: ClassReport,
    /// Every table the class's statements touched (up to 32), as
    /// `db.table` when the database is known, in order of first use.
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
    /// Seconds of the bucket the logs cover: the bucket's width, except
    /// for the first and last buckets, which start at the first event and
    /// end after the last (an event logged at second `s` covers that whole
    /// second, so a bucket covers at least one second).
    pub covered_seconds: f64,
    /// `queries` / `covered_seconds`: a partial first or last bucket is
    /// not diluted over time nothing was logged in.
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

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error("no input files found in {0}")]
    NoInput(PathBuf),
}

/// Fixed-size uniform sample (Algorithm R) so the scatter plot costs the
/// same memory for a thousand statements or a billion.
#[derive(Debug)]
struct Reservoir {
    cap: usize,
    seen: u64,
    items: Vec<(f64, f64)>,
    state: u64,
}

impl Reservoir {
    fn new(cap: usize) -> Self {
        Reservoir {
            cap,
            seen: 0,
            items: Vec::with_capacity(cap),
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic, so reports are reproducible.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn offer(&mut self, item: (f64, f64)) {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.push(item);
        } else {
            let j = self.next_random() % self.seen;
            if (j as usize) < self.cap {
                self.items[j as usize] = item;
            }
        }
    }
}

/// Events handed from the reading thread: the event and its fingerprint.
type Fingerprinted = Result<(Event, String), ingest::IngestError>;
const BATCH: usize = 1024;

/// Per-bucket activity, compact so that a long log stays cheap: exact
/// count, sum and max, and the p95 from a log-spaced histogram.
#[derive(Debug, Clone)]
struct Bucket {
    count: u64,
    sum: f64,
    max: f64,
    bins: [u32; HISTOGRAM_BINS],
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            count: 0,
            sum: 0.0,
            max: 0.0,
            bins: [0; HISTOGRAM_BINS],
        }
    }
}

impl Bucket {
    fn add(&mut self, qt: f64) {
        self.count += 1;
        self.sum += qt;
        self.max = self.max.max(qt);
        self.bins[histogram_bin(qt)] += 1;
    }

    fn merge(&mut self, o: &Bucket) {
        self.count += o.count;
        self.sum += o.sum;
        self.max = self.max.max(o.max);
        for (a, b) in self.bins.iter_mut().zip(o.bins.iter()) {
            *a += b;
        }
    }

    /// Upper edge of the bin holding the `q` quantile, capped at the max.
    fn quantile(&self, q: f64) -> f64 {
        let target = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, n) in self.bins.iter().enumerate() {
            seen += *n as u64;
            if seen >= target {
                return bin_edge(i + 1).min(self.max);
            }
        }
        self.max
    }
}

/// Buckets are one minute wide until there are more than this many, then
/// they widen (10 minutes, an hour, a day): memory stays bounded whatever
/// time span the logs cover.
const MAX_TIMELINE_BUCKETS: usize = 2048;
const TIMELINE_WIDTHS: [i64; 4] = [60, 600, 3600, 86_400];

#[derive(Debug)]
struct Timeline {
    width: i64,
    buckets: BTreeMap<i64, Bucket>,
    /// First and last event second seen (unix), for the partial buckets.
    span: Option<(i64, i64)>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width: TIMELINE_WIDTHS[0],
            buckets: BTreeMap::new(),
            span: None,
        }
    }
}

impl Timeline {
    fn add(&mut self, unix: i64, qt: f64) {
        self.span = Some(
            self.span
                .map_or((unix, unix), |(a, b)| (a.min(unix), b.max(unix))),
        );
        let key = unix.div_euclid(self.width) * self.width;
        self.buckets.entry(key).or_default().add(qt);
        if self.buckets.len() > MAX_TIMELINE_BUCKETS {
            let next = TIMELINE_WIDTHS
                .iter()
                .copied()
                .find(|w| *w > self.width)
                .unwrap_or(self.width * 7);
            self.coarsen(next);
        }
    }

    fn coarsen(&mut self, width: i64) {
        if width <= self.width {
            return;
        }
        let old = std::mem::take(&mut self.buckets);
        for (k, b) in old {
            self.buckets
                .entry(k.div_euclid(width) * width)
                .or_default()
                .merge(&b);
        }
        self.width = width;
    }

    /// Seconds of the bucket starting at `start` that lie between the first
    /// event's second and the end of the last event's second.
    fn covered(&self, start: i64) -> f64 {
        let end = start.saturating_add(self.width);
        let (from, to) = match self.span {
            Some((first, last)) => (start.max(first), end.min(last.saturating_add(1))),
            None => (start, end),
        };
        to.saturating_sub(from).max(1) as f64
    }

    /// The buckets as points, in time order.
    fn points(&self) -> Vec<TimelinePoint> {
        self.buckets
            .iter()
            .map(|(start, b)| {
                let covered_seconds = self.covered(*start);
                TimelinePoint {
                    start: chrono::DateTime::from_timestamp(*start, 0)
                        .map(|t| t.naive_utc().to_string())
                        .unwrap_or_default(),
                    queries: b.count,
                    covered_seconds,
                    qps: b.count as f64 / covered_seconds,
                    avg_seconds: if b.count > 0 {
                        b.sum / b.count as f64
                    } else {
                        0.0
                    },
                    p95_seconds: b.quantile(0.95),
                    max_seconds: b.max,
                }
            })
            .collect()
    }
}

/// Streaming state of an analysis; feed it events, then [`finish`](Self::finish).
pub struct Analyzer<'c> {
    catalog: &'c Catalog,
    digest: Digest,
    shapes: shape::ShapeCache,
    timeline: Timeline,
    kinds: HashMap<String, (u64, f64)>,
    tables: HashMap<String, (u64, f64)>,
    columns: HashMap<String, (u64, f64)>,
    operations: HashMap<String, (u64, f64)>,
    users: HashMap<String, Distribution>,
    scatter: Reservoir,
    histogram: [u64; HISTOGRAM_BINS],
    quality: quality::QualityBuilder,
    inputs: Vec<InputSummary>,
    /// (is slow log, first, last, path) per input, for the overlap check.
    ranges: Vec<(bool, chrono::NaiveDateTime, chrono::NaiveDateTime, String)>,
}

/// Bucket width for the timeline: fine enough to show bursts, coarse
/// enough that a week of logs is still a readable line.
fn timeline_bucket(span_seconds: i64) -> i64 {
    match span_seconds {
        s if s <= 2 * 3600 => 60,
        s if s <= 2 * 86_400 => 600,
        s if s <= 14 * 86_400 => 3600,
        _ => 86_400,
    }
}

fn bump(map: &mut HashMap<String, (u64, f64)>, key: &str, time: f64) {
    if let Some(v) = map.get_mut(key) {
        v.0 += 1;
        v.1 += time;
    } else {
        map.insert(key.to_string(), (1, time));
    }
}

fn usage(map: HashMap<String, (u64, f64)>) -> Vec<Usage> {
    let mut v: Vec<Usage> = map
        .into_iter()
        .map(|(name, (count, time))| Usage { name, count, time })
        .collect();
    v.sort_by(|a, b| {
        b.time
            .total_cmp(&a.time)
            .then(b.count.cmp(&a.count))
            .then(a.name.cmp(&b.name))
    });
    v
}

impl<'c> Analyzer<'c> {
    pub fn new(catalog: &'c Catalog) -> Self {
        Analyzer {
            catalog,
            digest: Digest::new(),
            shapes: shape::ShapeCache::default(),
            timeline: Timeline::default(),
            kinds: HashMap::new(),
            tables: HashMap::new(),
            columns: HashMap::new(),
            operations: HashMap::new(),
            users: HashMap::new(),
            scatter: Reservoir::new(4000),
            histogram: [0; HISTOGRAM_BINS],
            quality: quality::QualityBuilder::default(),
            inputs: Vec::new(),
            ranges: Vec::new(),
        }
    }

    /// Reads every input (files or directories) and adds its events; bad
    /// records are counted and reported, not fatal, so one corrupt line does
    /// not hide a day of logs.
    pub fn add_paths(&mut self, paths: &[PathBuf]) -> Result<(), AnalyzeError> {
        let files = ingest::expand_paths(paths)?;
        if files.is_empty() {
            return Err(AnalyzeError::NoInput(
                paths.first().cloned().unwrap_or_default(),
            ));
        }
        for (path, format) in files {
            self.add_file(&path, format)?;
        }
        Ok(())
    }

    pub fn add_file(&mut self, path: &Path, format: ingest::Format) -> Result<(), AnalyzeError> {
        let mut summary = InputSummary {
            path: path.display().to_string(),
            format: format.to_string(),
            events: 0,
            errors: 0,
            first: None,
            last: None,
            error_examples: Vec::new(),
        };
        let mut range: Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)> = None;
        let events = ingest::open_as(path, format)?;
        let progress =
            crate::progress::Progress::spinner(format!("reading {}", path.display()), "events");
        // Two stages on two cores: one thread reads and fingerprints, this
        // one aggregates. Batches keep the channel cheap; the bound keeps
        // memory flat when aggregation is the slower side.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Fingerprinted>>(4);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                for item in events {
                    let fatal = item.as_ref().err().is_some_and(|e| e.is_fatal());
                    batch.push(item.map(|e| {
                        let fp = fingerprint::fingerprint(&e.sql);
                        (e, fp)
                    }));
                    if batch.len() == BATCH || fatal {
                        if tx.send(std::mem::take(&mut batch)).is_err() {
                            return;
                        }
                        batch.reserve(BATCH);
                    }
                    if fatal {
                        return;
                    }
                }
                let _ = tx.send(batch);
            });
            for batch in rx {
                progress.inc(batch.len() as u64);
                for item in batch {
                    match item {
                        Ok((event, fp)) => {
                            summary.events += 1;
                            if let Some(t) = event.time {
                                range = Some(range.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                            }
                            self.add_fingerprinted(&event, fp);
                        }
                        Err(e) => {
                            summary.errors += 1;
                            if summary.error_examples.len() < 5 {
                                summary.error_examples.push(e.to_string());
                            }
                        }
                    }
                }
            }
        });
        progress.finish();
        if let Some((a, b)) = range {
            summary.first = Some(a.to_string());
            summary.last = Some(b.to_string());
            self.ranges
                .push((format.is_slow(), a, b, summary.path.clone()));
        }
        self.inputs.push(summary);
        Ok(())
    }

    pub fn add_event(&mut self, event: &Event) {
        let fp = fingerprint::fingerprint(&event.sql);
        self.add_fingerprinted(event, fp);
    }

    fn add_fingerprinted(&mut self, event: &Event, fp: String) {
        self.quality.observe(event, &fp);
        if event.kind == LogKind::General {
            return;
        }
        let Some(qt) = event.query_time else { return };
        let seen = self
            .shapes
            .see(&fp, &event.sql, event.db.as_deref(), self.catalog);
        if !seen.parsed {
            self.quality.unparsed(&fp, &event.sql);
        }
        bump(&mut self.kinds, seen.kind, qt);
        for t in &seen.labels.tables {
            bump(&mut self.tables, t, qt);
        }
        for c in &seen.labels.columns {
            bump(&mut self.columns, c, qt);
        }
        for o in &seen.labels.operations {
            bump(&mut self.operations, o, qt);
        }
        if let Some(user) = &event.user {
            match self.users.get_mut(user) {
                Some(d) => d.add(qt),
                None => self.users.entry(user.clone()).or_default().add(qt),
            }
        }
        if let Some(t) = event.time {
            self.timeline.add(t.and_utc().timestamp(), qt);
        }
        self.scatter
            .offer((event.rows_examined.unwrap_or(0) as f64, qt));
        self.histogram[histogram_bin(qt)] += 1;
        self.digest.add_fingerprinted(event, qt, &fp);
    }

    pub fn finish(self) -> Analysis {
        let ranked = self.digest.ranked();
        let classes = ranked
            .into_iter()
            .map(|class| {
                let shape = self.shapes.class(&class.fingerprint);
                ClassSummary {
                    tables: shape.map(|s| s.tables.clone()).unwrap_or_default(),
                    kind: shape.map(|s| s.kind.to_string()).unwrap_or_default(),
                    parsed: shape.is_some_and(|s| s.parsed),
                    class,
                }
            })
            .collect();

        let mut timeline_state = self.timeline;
        let first = timeline_state.buckets.keys().next().copied();
        let last = timeline_state.buckets.keys().next_back().copied();
        if let (Some(a), Some(b)) = (first, last) {
            timeline_state.coarsen(timeline_bucket(b - a + timeline_state.width));
        }
        let width = timeline_state.width;
        let timeline = timeline_state.points();

        let mut users: Vec<UserLatency> = self
            .users
            .iter()
            .map(|(user, d)| UserLatency {
                user: user.clone(),
                count: d.count,
                min: d.min,
                q1: d.quantile(0.25),
                median: d.quantile(0.5),
                q3: d.quantile(0.75),
                p95: d.quantile(0.95),
                max: d.max,
                total: d.sum,
            })
            .collect();
        users.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.user.cmp(&b.user)));

        let histogram = histogram(&self.histogram);
        let time_range = self
            .quality
            .slow_time_range()
            .map(|(a, b)| (a.to_string(), b.to_string()));
        Analysis {
            query_count: self.digest.query_count,
            unique_query_count: self.digest.unique_query_count(),
            total_query_time: self.digest.total.stats(),
            classes,
            inputs: self.inputs,
            time_range,
            timeline_bucket_seconds: width,
            timeline,
            kinds: usage(self.kinds),
            tables: usage(self.tables),
            columns: usage(self.columns),
            operations: usage(self.operations),
            scatter: self.scatter.items,
            histogram,
            users,
            quality: {
                let mut q = self.quality.finish();
                q.overlapping_inputs = overlaps(&self.ranges);
                q
            },
        }
    }
}

/// Four log-spaced bins per decade from 1 µs to 1,000 s.
const HISTOGRAM_BINS: usize = 36;

fn bin_edge(i: usize) -> f64 {
    10f64.powf(-6.0 + i as f64 / 4.0)
}

/// Bin of a query time; under 1 µs (zero times are common) goes to the
/// first bin and over 1,000 s to the last.
fn histogram_bin(seconds: f64) -> usize {
    if seconds <= bin_edge(0) {
        return 0;
    }
    (((seconds.log10() + 6.0) * 4.0).floor().max(0.0) as usize).min(HISTOGRAM_BINS - 1)
}

/// The histogram trimmed to the range that holds data.
fn histogram(counts: &[u64; HISTOGRAM_BINS]) -> Vec<HistogramBin> {
    let lo = counts.iter().position(|c| *c > 0).unwrap_or(0);
    let hi = counts.iter().rposition(|c| *c > 0).map_or(0, |i| i + 1);
    (lo..hi.max(lo))
        .map(|i| HistogramBin {
            lo: bin_edge(i),
            hi: bin_edge(i + 1),
            count: counts[i],
        })
        .collect()
}

/// Inputs of the same log whose time ranges overlap.
fn overlaps(
    ranges: &[(bool, chrono::NaiveDateTime, chrono::NaiveDateTime, String)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            if a.0 == b.0 && a.1 <= b.2 && b.1 <= a.2 {
                let log = if a.0 { "slow" } else { "general" };
                out.push(format!(
                    "{} and {} are both {log} logs covering overlapping time ({} to {} and {} to {}): if they hold the same events, every statement is counted twice",
                    a.3, b.3, a.1, a.2, b.1, b.2
                ));
            }
        }
    }
    out
}

/// Analyses the given inputs against `catalog` in one pass.
pub fn analyze_paths(paths: &[PathBuf], catalog: &Catalog) -> Result<Analysis, AnalyzeError> {
    let mut a = Analyzer::new(catalog);
    a.add_paths(paths)?;
    Ok(a.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_are_log_spaced() {
        assert_eq!(histogram_bin(0.0), 0);
        assert_eq!(histogram_bin(1e-6), 0);
        assert_eq!(histogram_bin(1.0), 24);
        assert_eq!(histogram_bin(0.9), 23);
        assert_eq!(histogram_bin(1e9), HISTOGRAM_BINS - 1);
        let mut counts = [0; HISTOGRAM_BINS];
        counts[3] = 2;
        counts[5] = 1;
        let h = histogram(&counts);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].count, 2);
        assert!((h[0].lo - 10f64.powf(-5.25)).abs() < 1e-12);
    }

    #[test]
    fn reservoir_is_bounded_and_uniform_enough() {
        let mut r = Reservoir::new(100);
        for i in 0..10_000 {
            r.offer((i as f64, 0.0));
        }
        assert_eq!(r.items.len(), 100);
        let late = r.items.iter().filter(|(x, _)| *x >= 5000.0).count();
        assert!(
            (30..=70).contains(&late),
            "{late} of 100 from the second half"
        );
    }

    #[test]
    fn timeline_memory_is_bounded_whatever_the_span() {
        let mut t = Timeline::default();
        for minute in 0..100_000i64 {
            t.add(minute * 60, 0.01);
        }
        assert!(t.buckets.len() <= MAX_TIMELINE_BUCKETS);
        assert_eq!(t.width, 3600);
        let total: u64 = t.buckets.values().map(|b| b.count).sum();
        assert_eq!(total, 100_000);
    }

    #[test]
    fn same_log_inputs_with_overlapping_times_are_reported() {
        let t = |h: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .and_then(|d| d.and_hms_opt(h, 0, 0))
                .unwrap_or_default()
        };
        let ranges = vec![
            (true, t(1), t(3), "a.json".to_string()),
            (true, t(2), t(4), "a.log".to_string()),
            (false, t(1), t(4), "g.json".to_string()),
            (true, t(5), t(6), "later.log".to_string()),
        ];
        let w = overlaps(&ranges);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("a.json and a.log"));
    }

    #[test]
    fn partial_first_and_last_buckets_are_divided_by_the_time_they_cover() {
        // One statement a second from 10:00:30 to 10:02:14: the first
        // minute is logged for 30 s, the last for 15 s, the rate is 1/s
        // throughout (dividing by 60 s would draw 0.5, 1, 0.25).
        let mut t = Timeline::default();
        let start = 36_000 + 30;
        for s in start..start + 105 {
            t.add(s, 0.01);
        }
        let points = t.points();
        let counts: Vec<u64> = points.iter().map(|p| p.queries).collect();
        let covered: Vec<f64> = points.iter().map(|p| p.covered_seconds).collect();
        let qps: Vec<f64> = points.iter().map(|p| p.qps).collect();
        assert_eq!(counts, [30, 60, 15]);
        assert_eq!(covered, [30.0, 60.0, 15.0]);
        assert_eq!(qps, [1.0, 1.0, 1.0]);
        // One event: one second covered, never a division by zero.
        let mut one = Timeline::default();
        one.add(36_059, 0.5);
        let p = one.points();
        assert_eq!((p[0].covered_seconds, p[0].qps), (1.0, 1.0));
        // After coarsening the partial buckets are still the ends only.
        t.coarsen(600);
        let p = t.points();
        assert_eq!((p.len(), p[0].covered_seconds, p[0].qps), (1, 105.0, 1.0));
    }

    #[test]
    fn timeline_buckets_grow_with_the_span() {
        assert_eq!(timeline_bucket(600), 60);
        assert_eq!(timeline_bucket(86_400), 600);
        assert_eq!(timeline_bucket(30 * 86_400), 86_400);
    }
}
