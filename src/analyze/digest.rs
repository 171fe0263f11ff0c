//! A per-fingerprint profile that reproduces pt-query-digest's numbers.
//!
//! DBAs cross-check qlat against pt-query-digest and PMM, so counts, sums,
//! minima and maxima are exact, and the median and 95th percentile use
//! pt-query-digest's own estimator: values go into 1,000 logarithmic buckets
//! 5 % wide, and the statistics are read off the buckets (including the
//! estimator's choices, such as reporting a bucket's lower edge).
//! Memory is therefore bounded by the number of distinct fingerprints, never
//! by the number of events.

use crate::ingest::Event;
use crate::sql::fingerprint;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

const BUCK_SIZE: f64 = 1.05;
const MIN_BUCK: f64 = 0.000_001;
const NUM_BUCK: usize = 1000;

/// `|1 - ln(MIN_BUCK) / ln(BUCK_SIZE)|`, about 284.16.
static BASE_OFFSET: LazyLock<f64> = LazyLock::new(|| (1.0 - MIN_BUCK.ln() / BUCK_SIZE.ln()).abs());

/// Representative value of each bucket: its lower edge, 0 for bucket 0.
static BUCKET_VALUES: LazyLock<Vec<f64>> = LazyLock::new(|| {
    (0..NUM_BUCK)
        .map(|b| {
            if b == 0 {
                0.0
            } else {
                BUCK_SIZE.powi(b as i32 - 1) * MIN_BUCK
            }
        })
        .collect()
});

fn bucket_index(value: f64) -> usize {
    if value.is_nan() || value < MIN_BUCK {
        return 0;
    }
    // Perl's int() truncates toward zero; the sum is positive here.
    let idx = (*BASE_OFFSET + value.ln() / BUCK_SIZE.ln()) as usize;
    idx.min(NUM_BUCK - 1)
}

/// Bucketed distribution of one attribute, plus exact count/sum/min/max.
#[derive(Debug, Clone)]
pub struct Distribution {
    buckets: Box<[u32; NUM_BUCK]>,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            buckets: Box::new([0; NUM_BUCK]),
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// The statistics pt-query-digest prints for an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    pub median: f64,
    pub p95: f64,
}

impl Distribution {
    pub fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.buckets[bucket_index(value)] += 1;
    }

    pub fn merge(&mut self, other: &Distribution) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }

    pub fn stats(&self) -> Stats {
        if self.count == 0 {
            return Stats {
                sum: 0.0,
                min: 0.0,
                max: 0.0,
                avg: 0.0,
                median: 0.0,
                p95: 0.0,
            };
        }
        let (median, p95) = self.median_p95();
        Stats {
            sum: self.sum,
            min: self.min,
            max: self.max,
            avg: self.sum / self.count as f64,
            median,
            p95,
        }
    }

    /// Value at quantile `q` (0..=1): the geometric middle of the bucket
    /// holding it, clamped to the exact min and max. Used for box plots and
    /// timelines, where pt-query-digest has no reference to match.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        if q <= 0.0 {
            return self.min;
        }
        if q >= 1.0 {
            return self.max;
        }
        let target = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (idx, n) in self.buckets.iter().enumerate() {
            seen += *n as u64;
            if seen >= target {
                // The geometric middle of the bucket's [lower, upper) range.
                let lower = BUCKET_VALUES[idx].max(MIN_BUCK);
                return (lower * BUCK_SIZE.sqrt()).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// pt-query-digest's `calculate_statistical_metrics`, step for step:
    /// walk the buckets from the top, the 95th percentile is the first
    /// bucket where more than 5 % of the values lie above, the median the
    /// first where at most half remain below.
    fn median_p95(&self) -> (f64, f64) {
        let n = self.count;
        if n == 1 || self.max == self.min {
            return (self.max, self.max);
        }
        if n == 2 {
            return ((self.min + self.max) / 2.0, self.max);
        }
        let buck = &*BUCKET_VALUES;
        let cutoff = if n >= 10 { (n as f64 * 0.95) as u64 } else { n };
        let top_vals = n - cutoff;
        let mid = n / 2;
        let mut total_left = n;
        let mut seen = 0u64;
        let mut median = 0.0;
        let mut prev = NUM_BUCK - 1;
        let mut bucket_95 = 0usize;
        for bucket in (0..NUM_BUCK).rev() {
            let val = self.buckets[bucket] as u64;
            if val == 0 {
                continue;
            }
            total_left -= val;
            seen += val;
            if bucket_95 == 0 && seen > top_vals {
                bucket_95 = bucket;
            }
            if median == 0.0 && total_left <= mid {
                median = if cutoff % 2 == 1 || val > 1 {
                    buck[bucket]
                } else {
                    (buck[bucket] + buck[prev]) / 2.0
                };
            }
            prev = bucket;
        }
        (median, buck[bucket_95])
    }
}

/// One query class: all events sharing a fingerprint.
#[derive(Debug, Clone, Default)]
pub struct Class {
    pub fingerprint: String,
    pub query_time: Distribution,
    pub lock_time_sum: f64,
    pub rows_sent_sum: f64,
    pub rows_examined_sum: f64,
    /// The slowest event's text (the last one on ties, as pt-query-digest).
    pub example: String,
    pub example_db: Option<String>,
    pub first_seen: Option<chrono::NaiveDateTime>,
    pub last_seen: Option<chrono::NaiveDateTime>,
    pub users: HashMap<String, u64>,
}

/// Aggregates slow-log events by fingerprint.
#[derive(Debug, Default)]
pub struct Digest {
    classes: HashMap<String, Class>,
    pub query_count: u64,
    pub total: Distribution,
}

/// A class as reported, ready to print or serialise.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    pub rank: usize,
    pub fingerprint: String,
    pub checksum: String,
    pub query_id: String,
    pub count: u64,
    pub query_time: Stats,
    /// Share of the total query time of all classes.
    pub time_share: f64,
    pub lock_time_sum: f64,
    pub rows_sent_sum: f64,
    pub rows_examined_sum: f64,
    pub example: String,
    pub db: Option<String>,
    pub users: Vec<(String, u64)>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

impl Digest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a slow-log event; events without a query time (general log)
    /// are not part of a digest and are ignored.
    pub fn add(&mut self, event: &Event) {
        let Some(qt) = event.query_time else { return };
        let fp = fingerprint::fingerprint(&event.sql);
        self.add_fingerprinted(event, qt, &fp);
    }

    /// Adds an event whose fingerprint the caller already computed.
    pub fn add_fingerprinted(&mut self, event: &Event, query_time: f64, fp: &str) {
        self.query_count += 1;
        self.total.add(query_time);
        if !self.classes.contains_key(fp) {
            let class = Class {
                fingerprint: fp.to_string(),
                ..Class::default()
            };
            self.classes.insert(fp.to_string(), class);
        }
        let Some(class) = self.classes.get_mut(fp) else {
            return;
        };
        class.query_time.add(query_time);
        class.lock_time_sum += event.lock_time.unwrap_or(0.0);
        class.rows_sent_sum += event.rows_sent.unwrap_or(0) as f64;
        class.rows_examined_sum += event.rows_examined.unwrap_or(0) as f64;
        if query_time >= class.query_time.max {
            class.example.clone_from(&event.sql);
            class.example_db.clone_from(&event.db);
        }
        if let Some(t) = event.time {
            class.first_seen = Some(class.first_seen.map_or(t, |f| f.min(t)));
            class.last_seen = Some(class.last_seen.map_or(t, |l| l.max(t)));
        }
        if let Some(u) = &event.user {
            match class.users.get_mut(u) {
                Some(n) => *n += 1,
                None => {
                    class.users.insert(u.clone(), 1);
                }
            }
        }
    }

    pub fn unique_query_count(&self) -> usize {
        self.classes.len()
    }

    pub fn class(&self, fingerprint: &str) -> Option<&Class> {
        self.classes.get(fingerprint)
    }

    /// Classes ranked by total query time, most expensive first (ties by
    /// count, then fingerprint, so the order is stable).
    pub fn ranked(&self) -> Vec<ClassReport> {
        let mut classes: Vec<&Class> = self.classes.values().collect();
        classes.sort_by(|a, b| {
            b.query_time
                .sum
                .total_cmp(&a.query_time.sum)
                .then(b.query_time.count.cmp(&a.query_time.count))
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        let total = self.total.sum;
        classes
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let checksum = fingerprint::checksum(&c.fingerprint);
                let mut users: Vec<(String, u64)> =
                    c.users.iter().map(|(u, n)| (u.clone(), *n)).collect();
                users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                ClassReport {
                    rank: i + 1,
                    query_id: fingerprint::query_id(&c.fingerprint),
                    checksum,
                    fingerprint: c.fingerprint.clone(),
                    count: c.query_time.count,
                    query_time: c.query_time.stats(),
                    time_share: if total > 0.0 {
                        c.query_time.sum / total
                    } else {
                        0.0
                    },
                    lock_time_sum: c.lock_time_sum,
                    rows_sent_sum: c.rows_sent_sum,
                    rows_examined_sum: c.rows_examined_sum,
                    example: c.example.clone(),
                    db: c.example_db.clone(),
                    users,
                    first_seen: c.first_seen.map(|t| t.to_string()),
                    last_seen: c.last_seen.map(|t| t.to_string()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(values: &[f64]) -> Distribution {
        let mut d = Distribution::default();
        for v in values {
            d.add(*v);
        }
        d
    }

    #[test]
    fn bucket_offset_matches_pt_query_digest() {
        assert!((*BASE_OFFSET - 284.1617969).abs() < 1e-6);
        assert_eq!(bucket_index(0.0), 0);
        assert_eq!(bucket_index(1.04496), 285);
        assert!((BUCKET_VALUES[285] - 1.041744).abs() < 1e-6);
        assert_eq!(bucket_index(1e30), NUM_BUCK - 1);
        assert!(bucket_index(1.0) > bucket_index(0.5));
    }

    #[test]
    fn exact_cases() {
        let s = dist(&[0.5]).stats();
        assert_eq!((s.median, s.p95, s.avg), (0.5, 0.5, 0.5));
        let s = dist(&[0.2, 0.4]).stats();
        assert!((s.median - 0.3).abs() < 1e-12);
        assert_eq!(s.p95, 0.4);
        let s = dist(&[0.1, 0.1, 0.1]).stats();
        assert_eq!(s.median, 0.1);
    }

    #[test]
    fn bucketed_estimates_are_close_to_the_truth() {
        let values: Vec<f64> = (1..=100).map(|i| i as f64 / 100.0).collect();
        let s = dist(&values).stats();
        assert_eq!(s.min, 0.01);
        assert_eq!(s.max, 1.0);
        assert!((s.sum - 50.5).abs() < 1e-9);
        // Buckets are 5 % wide and report their lower edge.
        assert!((s.median / 0.5 - 1.0).abs() < 0.1, "median {}", s.median);
        assert!((s.p95 / 0.95 - 1.0).abs() < 0.1, "p95 {}", s.p95);
    }

    #[test]
    fn quantiles_follow_the_data() {
        let values: Vec<f64> = (1..=1000).map(|i| i as f64 / 1000.0).collect();
        let d = dist(&values);
        assert!((d.quantile(0.5) / 0.5 - 1.0).abs() < 0.05);
        assert!((d.quantile(0.25) / 0.25 - 1.0).abs() < 0.05);
        assert_eq!(d.quantile(1.0), 1.0);
        assert_eq!(d.quantile(0.0), 0.001);
    }

    #[test]
    fn merge_equals_adding_everything() {
        let mut a = dist(&[0.1, 0.2, 0.3]);
        a.merge(&dist(&[0.4, 0.5, 0.6, 0.7]));
        let b = dist(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
        let (x, y) = (a.stats(), b.stats());
        assert_eq!(
            (x.min, x.max, x.median, x.p95),
            (y.min, y.max, y.median, y.p95)
        );
        assert!((x.sum - y.sum).abs() < 1e-12);
        assert_eq!(a.count, b.count);
    }
}
