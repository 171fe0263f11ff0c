//! Data-quality checks: can the logs be trusted, and do the general log and
//! the slow log tell the same story?

use crate::ingest::{Event, LogKind};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// Duplicate records come from a server or an export writing the same
/// event twice in a row, so they are looked for among the most recent
/// events only: memory stays fixed however long the log. Whole files read
/// twice are caught by the overlap check on input time ranges instead.
const DUPLICATE_WINDOW: usize = 65_536;

/// Statistics of one log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogQuality {
    pub events: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    pub missing_time: u64,
    pub missing_user: u64,
    pub missing_db: u64,
    /// Slow log only: statements logged with a query time of exactly zero.
    pub zero_query_time: u64,
    pub zero_rows_examined: u64,
    /// Events identical in time, thread and text to one of the previous
    /// 65,536 events.
    pub duplicates: u64,
    pub per_user: Vec<(String, u64)>,
    /// General log only: events per command type (Query, Connect, Quit ...).
    pub commands: Vec<(String, u64)>,
    /// General log only: server-side prepared statements (`Prepare`
    /// entries) and their executions (`Execute` entries, which count as
    /// statements like `Query` entries do).
    pub prepared: u64,
    pub prepared_executions: u64,
}

/// A statement found in one log and not the other.
#[derive(Debug, Clone, Serialize)]
pub struct OnlyIn {
    pub fingerprint: String,
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unparsed {
    pub fingerprint: String,
    pub count: u64,
    pub example: String,
}

/// The data-quality section of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Quality {
    pub slow: LogQuality,
    pub general: LogQuality,
    /// Both logs were given, so consistency could be checked.
    pub both_logs: bool,
    /// Query fingerprints seen only in the general log (statements that
    /// failed, or that the slow log's filters dropped), most frequent first.
    pub only_in_general: Vec<OnlyIn>,
    pub only_in_general_total: u64,
    /// Fingerprints seen only in the slow log (e.g. the general log was off
    /// for part of the time).
    pub only_in_slow: Vec<OnlyIn>,
    pub only_in_slow_total: u64,
    /// Inputs of the same log whose time ranges overlap: probably the same
    /// events twice (a JSON export and the native file, say), counted twice.
    pub overlapping_inputs: Vec<String>,
    /// Slow-log events whose text the SQL parser could not read; they are
    /// still fingerprinted and counted.
    pub unparsed_events: u64,
    pub unparsed: Vec<Unparsed>,
}

#[derive(Default)]
struct LogState {
    q: LogQuality,
    first: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
    recent: HashSet<u64>,
    recent_order: std::collections::VecDeque<u64>,
    users: HashMap<String, u64>,
    commands: HashMap<String, u64>,
    fingerprints: HashMap<String, (u64, String)>,
}

impl LogState {
    fn observe(&mut self, e: &Event, fp: &str) {
        self.q.events += 1;
        match e.time {
            Some(t) => {
                self.first = Some(self.first.map_or(t, |f| f.min(t)));
                self.last = Some(self.last.map_or(t, |l| l.max(t)));
            }
            None => self.q.missing_time += 1,
        }
        match &e.user {
            Some(u) if !u.is_empty() => bump(&mut self.users, u),
            _ => self.q.missing_user += 1,
        }
        if e.db.as_deref().is_none_or(str::is_empty) {
            self.q.missing_db += 1;
        }
        if e.query_time == Some(0.0) {
            self.q.zero_query_time += 1;
        }
        if e.rows_examined == Some(0) {
            self.q.zero_rows_examined += 1;
        }
        if let Some(c) = &e.command {
            bump(&mut self.commands, c);
        }
        if e.is_prepare() {
            self.q.prepared += 1;
        }
        if e.kind == LogKind::General
            && e.command
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("Execute"))
        {
            self.q.prepared_executions += 1;
        }
        if e.is_execution() {
            match self.fingerprints.get_mut(fp) {
                Some(entry) => entry.0 += 1,
                None => {
                    self.fingerprints
                        .insert(fp.to_string(), (1, e.sql.chars().take(300).collect()));
                }
            }
        }
        // The fingerprint stands in for the text: two different statements
        // with the same shape, thread, start time and exact timings are not
        // a realistic pair, and hashing the fingerprint's few words is much
        // cheaper than hashing kilobytes of SQL for every event.
        let mut h = DefaultHasher::new();
        (
            e.time,
            e.thread_id,
            fp,
            e.command.as_deref(),
            e.query_time.map(f64::to_bits),
            e.rows_examined,
            e.sql.len(),
        )
            .hash(&mut h);
        let h = h.finish();
        if self.recent.contains(&h) {
            self.q.duplicates += 1;
        } else {
            self.recent.insert(h);
            self.recent_order.push_back(h);
            if self.recent_order.len() > DUPLICATE_WINDOW
                && let Some(old) = self.recent_order.pop_front()
            {
                self.recent.remove(&old);
            }
        }
    }

    fn finish(mut self) -> (LogQuality, HashMap<String, (u64, String)>) {
        self.q.first = self.first.map(|t| t.to_string());
        self.q.last = self.last.map(|t| t.to_string());
        self.q.per_user = sorted(self.users);
        self.q.commands = sorted(self.commands);
        (self.q, self.fingerprints)
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

fn sorted(map: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[derive(Default)]
pub(crate) struct QualityBuilder {
    slow: LogState,
    general: LogState,
    unparsed: HashMap<String, (u64, String)>,
    unparsed_events: u64,
}

impl QualityBuilder {
    pub(crate) fn observe(&mut self, e: &Event, fp: &str) {
        match e.kind {
            LogKind::Slow => self.slow.observe(e, fp),
            LogKind::General => self.general.observe(e, fp),
        }
    }

    pub(crate) fn unparsed(&mut self, fp: &str, sql: &str) {
        self.unparsed_events += 1;
        self.unparsed
            .entry(fp.to_string())
            .or_insert_with(|| (0, sql.chars().take(300).collect()))
            .0 += 1;
    }

    pub(crate) fn slow_time_range(&self) -> Option<(NaiveDateTime, NaiveDateTime)> {
        Some((self.slow.first?, self.slow.last?))
    }

    pub(crate) fn finish(self) -> Quality {
        let (slow, slow_fps) = self.slow.finish();
        let (general, general_fps) = self.general.finish();
        let both_logs = slow.events > 0 && general.events > 0;
        let only = |a: &HashMap<String, (u64, String)>, b: &HashMap<String, (u64, String)>| {
            let mut v: Vec<OnlyIn> = a
                .iter()
                .filter(|(fp, _)| !b.contains_key(*fp))
                .map(|(fp, (count, example))| OnlyIn {
                    fingerprint: fp.clone(),
                    count: *count,
                    example: example.clone(),
                })
                .collect();
            v.sort_by(|x, y| {
                y.count
                    .cmp(&x.count)
                    .then(x.fingerprint.cmp(&y.fingerprint))
            });
            let total = v.len() as u64;
            v.truncate(20);
            (v, total)
        };
        let (only_in_general, only_in_general_total, only_in_slow, only_in_slow_total) =
            if both_logs {
                let (g, gt) = only(&general_fps, &slow_fps);
                let (s, st) = only(&slow_fps, &general_fps);
                (g, gt, s, st)
            } else {
                (Vec::new(), 0, Vec::new(), 0)
            };
        let mut unparsed: Vec<Unparsed> = self
            .unparsed
            .into_iter()
            .map(|(fingerprint, (count, example))| Unparsed {
                fingerprint,
                count,
                example,
            })
            .collect();
        unparsed.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        unparsed.truncate(50);
        Quality {
            slow,
            general,
            both_logs,
            only_in_general,
            only_in_general_total,
            only_in_slow,
            only_in_slow_total,
            unparsed_events: self.unparsed_events,
            unparsed,
            overlapping_inputs: Vec::new(),
        }
    }
}
