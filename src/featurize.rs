//! The model input: one fixed-length vector per statement, fitted on the
//! training set only and saved with the model.
//!
//! Layout of the vector (every column is centred so that the all-zero vector
//! is the training mean, which is also where explanations start):
//!
//! 1. the 59 structural, catalog-aware features of
//!    [`StatementFeatures::numeric_vector`] (heavy-tailed counts as
//!    ln(1 + x), see [`FeatureConfig::log_counts`]), standardised with the
//!    training mean and standard deviation;
//! 2. optionally three fingerprint-history features (ln median time of the
//!    statement's fingerprint in training, ln(count + 1), seen flag),
//!    standardised the same way; for training rows they are computed
//!    leave-one-out, otherwise the model would learn to copy its own target;
//! 3. TF-IDF over [`crate::sql::tokens::tokens`] (literals classed,
//!    identifiers and keywords kept), tokenized by a `tokenizers` WordLevel
//!    tokenizer trained on the training corpus. The vocabulary is capped
//!    (document frequency ≥ `min_df`, top `vocab_size` by document
//!    frequency), IDF comes from training, the vector is L2-normalised, then
//!    centred by its training mean and multiplied by `tfidf_scale` so its
//!    typical magnitude is comparable to the standardised columns (ridge
//!    penalises all columns alike).
//!
//! A statement is held as a [`Featurized`]: the dense head (1 + 2) and the
//! *uncentred* sparse TF-IDF entries, because a statement uses ~30 of the
//! vocabulary's terms; models fold the centring into their bias so serving
//! never materialises the dense vector.
//!
//! Fitting (tokenizer, vocabulary, IDF, scalers) lives in `featurize/fit.rs`,
//! apart from applying a fitted spec, so each reads on its own and this file
//! stays under ~800 lines.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::sample::Sample;
use crate::sql::catalog::Catalog;
use crate::sql::features::{StatementFeatures, extract_with_tokens};
use crate::sql::fingerprint::fingerprint;

mod fit;

/// The explanation name of the three history columns together.
pub const HISTORY_FEATURE: &str = "fingerprint history";

/// Unknown-word token of the WordLevel tokenizer.
const UNK: &str = "[UNK]";

/// Bytes [`FeatureSpec`]'s serving cache may hold (statement texts and
/// their features). Logs repeat the same texts (driver chatter, dashboards),
/// and parsing is most of the serving cost; the bound is in bytes because
/// statements run from 10 bytes to 100 kB.
const CACHE_BYTES: u64 = 32 << 20;

/// Entries the cache is sized for (its bookkeeping, not a bound).
const CACHE_ITEMS: usize = 16_384;

type FeatureCache = quick_cache::sync::Cache<u64, Arc<(String, Featurized)>, EntryWeight>;

/// Bytes a cache entry holds, roughly: its text and fingerprint, its
/// vectors, and the bookkeeping around them.
#[derive(Debug, Clone, Copy)]
struct EntryWeight;

impl quick_cache::Weighter<u64, Arc<(String, Featurized)>> for EntryWeight {
    fn weight(&self, _: &u64, entry: &Arc<(String, Featurized)>) -> u64 {
        let (text, f) = &**entry;
        (text.len() + f.fingerprint.len() + f.head.len() * 8 + f.tfidf.len() * 16 + 128) as u64
    }
}

fn new_cache() -> FeatureCache {
    FeatureCache::with_weighter(CACHE_ITEMS, CACHE_BYTES, EntryWeight)
}

/// Errors while fitting a feature specification.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("no training samples to fit the feature specification on")]
    Empty,
    #[error("training the tokenizer failed: {0}")]
    Tokenizer(String),
}

/// How to fit a [`FeatureSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// At most this many TF-IDF terms (most frequent by document frequency).
    pub vocab_size: usize,
    /// A term must occur in at least this many training statements.
    pub min_df: usize,
    /// Multiplier of the centred TF-IDF block.
    pub tfidf_scale: f64,
    /// Add the three fingerprint-history columns.
    pub use_history: bool,
    /// Share of training fingerprints whose history columns are blanked
    /// while training (chosen by a hash of the fingerprint, so all of a
    /// shape's rows go together). Without it every training row has a
    /// history and the model never learns what to do with an unseen shape.
    #[serde(default)]
    pub history_dropout: f64,
    /// Enter heavy-tailed counts (LIMIT, IN-list sizes, range spans, length)
    /// as ln(1 + x); absent, hence off, in specs saved before it existed.
    #[serde(default)]
    pub log_counts: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            vocab_size: 2_000,
            min_df: 2,
            tfidf_scale: 3.0,
            use_history: false,
            history_dropout: 0.0,
            log_counts: true,
        }
    }
}

/// Training history of one fingerprint: sorted ln-seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FingerprintHistory {
    pub median_ln: f64,
    pub count: u64,
}

/// One statement ready for a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Featurized {
    /// Standardised structural (+ history) columns.
    pub head: Vec<f64>,
    /// Uncentred, unscaled L2-normalised TF-IDF: (term column, value),
    /// ascending by column.
    pub tfidf: Vec<(u32, f64)>,
    /// Whether the SQL parser understood the statement.
    pub parsed: bool,
    /// pt-query-digest fingerprint, for history and cache tiers.
    pub fingerprint: String,
}

/// The fitted featurizer; see the module documentation.
#[derive(Debug, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub config: FeatureConfig,
    /// Names of the head columns (structural, then history).
    pub head_names: Vec<String>,
    pub head_mean: Vec<f64>,
    pub head_std: Vec<f64>,
    /// TF-IDF terms in column order.
    pub vocab: Vec<String>,
    pub idf: Vec<f64>,
    /// Training mean of each (unscaled) TF-IDF column.
    pub tfidf_mean: Vec<f64>,
    /// Fingerprint → history, when `config.use_history`.
    pub history: BTreeMap<String, FingerprintHistory>,
    #[serde(skip)]
    runtime: Runtime,
}

/// What is rebuilt rather than saved: the tokenizer (saved as its own
/// `tokenizer.json`), the id → column map, the catalog and the cache.
#[derive(Debug)]
struct Runtime {
    tokenizer: Option<Tokenizer>,
    /// Tokenizer id → TF-IDF column.
    column_of_id: Vec<Option<u32>>,
    catalog: Catalog,
    cache: FeatureCache,
    cache_enabled: AtomicBool,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime {
            tokenizer: None,
            column_of_id: Vec::new(),
            catalog: Catalog::default(),
            cache: new_cache(),
            cache_enabled: AtomicBool::new(true),
            hasher: Default::default(),
        }
    }
}

impl FeatureSpec {
    /// Installs the tokenizer and catalog after fitting or loading, and
    /// rebuilds the tokenizer-id → column map.
    pub fn attach(&mut self, tokenizer: Tokenizer, catalog: Catalog) {
        let n_ids = tokenizer.get_vocab_size(true);
        let mut column_of_id = vec![None; n_ids];
        for (c, term) in self.vocab.iter().enumerate() {
            if let Some(id) = tokenizer.token_to_id(term)
                && let Some(slot) = column_of_id.get_mut(id as usize)
            {
                *slot = Some(c as u32);
            }
        }
        self.runtime = Runtime {
            tokenizer: Some(tokenizer),
            column_of_id,
            catalog,
            cache: new_cache(),
            cache_enabled: AtomicBool::new(true),
            hasher: Default::default(),
        };
    }

    /// The tokenizer, for saving.
    pub fn tokenizer(&self) -> Option<&Tokenizer> {
        self.runtime.tokenizer.as_ref()
    }

    /// The catalog features are resolved against.
    pub fn catalog(&self) -> &Catalog {
        &self.runtime.catalog
    }

    /// Turns the serving cache on or off (benchmarks measure both).
    pub fn set_cache(&self, enabled: bool) {
        self.runtime.cache_enabled.store(enabled, Ordering::Relaxed);
        self.runtime.cache.clear();
    }

    /// Width of the head block.
    pub fn head_len(&self) -> usize {
        self.head_names.len()
    }

    /// Width of the full model input.
    pub fn input_len(&self) -> usize {
        self.head_names.len() + self.vocab.len()
    }

    /// Explanation name of every input column: structural names as they
    /// are, history columns as [`HISTORY_FEATURE`], TF-IDF columns as
    /// `token "lineitem"`.
    pub fn display_names(&self) -> Vec<String> {
        self.head_names
            .iter()
            .map(|n| {
                if n.starts_with(HISTORY_FEATURE) {
                    HISTORY_FEATURE.to_owned()
                } else {
                    n.clone()
                }
            })
            .chain(self.vocab.iter().map(|t| format!("token {t:?}")))
            .collect()
    }

    /// Featurizes a serving statement (history looked up, nothing left out).
    /// Results are cached by statement text.
    pub fn featurize(&self, sql: &str) -> Arc<(String, Featurized)> {
        let key = if self.runtime.cache_enabled.load(Ordering::Relaxed) {
            let key = self.runtime.hasher.hash_one(sql);
            if let Some(hit) = self.runtime.cache.get(&key)
                && hit.0 == sql
            {
                return hit;
            }
            Some(key)
        } else {
            None
        };
        let (f, toks) = extract_with_tokens(sql, &self.runtime.catalog);
        let fp = fingerprint(sql);
        let history = self.serving_history(&fp);
        let featurized = self.finish_tokens(&f, fp, &toks, history);
        let entry = Arc::new((sql.to_owned(), featurized));
        if let Some(key) = key {
            self.runtime.cache.insert(key, Arc::clone(&entry));
        }
        entry
    }

    /// Featurizes training samples. A sample's own time is left out of its
    /// history (leave-one-out), so history columns carry what serving would
    /// know about the statement, not its answer.
    ///
    /// Only meaningful for the samples the spec was fitted on; featurize
    /// held-out data with [`FeatureSpec::featurize_uncached`].
    pub fn featurize_training(&self, samples: &[Sample]) -> Vec<Featurized> {
        let loo = LeaveOneOut::new(samples, &self.config);
        samples
            .iter()
            .map(|s| {
                let (f, toks) = extract_with_tokens(&s.sql, &self.runtime.catalog);
                let history = loo.history(s);
                self.finish(&f, fingerprint_of(s), &toks.join(" "), history)
            })
            .collect()
    }

    /// Featurizes a statement as serving does, without the cache.
    pub fn featurize_uncached(&self, sql: &str) -> Featurized {
        let (f, toks) = extract_with_tokens(sql, &self.runtime.catalog);
        let fp = fingerprint(sql);
        let history = self.serving_history(&fp);
        self.finish_tokens(&f, fp, &toks, history)
    }

    /// [`FeatureSpec::finish`] from tokens, by direct vocabulary lookup.
    fn finish_tokens(
        &self,
        f: &StatementFeatures,
        fp: String,
        toks: &[String],
        history: (Option<f64>, u64),
    ) -> Featurized {
        let ids = match &self.runtime.tokenizer {
            Some(t) => lookup_ids(t, toks),
            None => Vec::new(),
        };
        self.assemble(f, fp, &ids, history)
    }

    fn finish(
        &self,
        f: &StatementFeatures,
        fp: String,
        doc: &str,
        history: (Option<f64>, u64),
    ) -> Featurized {
        let ids = match &self.runtime.tokenizer {
            Some(t) => encode_ids(t, doc),
            None => Vec::new(),
        };
        self.assemble(f, fp, &ids, history)
    }

    fn assemble(
        &self,
        f: &StatementFeatures,
        fp: String,
        ids: &[u32],
        history: (Option<f64>, u64),
    ) -> Featurized {
        let raw = self.raw_head(f, history);
        let head = raw
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let m = self.head_mean.get(i).copied().unwrap_or(0.0);
                let s = self.head_std.get(i).copied().unwrap_or(1.0);
                (v - m) / s
            })
            .collect();
        Featurized {
            head,
            tfidf: self.tfidf_of_ids(ids),
            parsed: f.parsed,
            fingerprint: fp,
        }
    }

    /// Unstandardised head: structural features, then history given as
    /// (median ln time if the fingerprint was seen, count).
    fn raw_head(&self, f: &StatementFeatures, history: (Option<f64>, u64)) -> Vec<f64> {
        let mask = log_scaled_mask();
        let mut v: Vec<f64> = f
            .numeric_vector()
            .into_iter()
            .zip(mask.iter().chain(std::iter::repeat(&false)))
            .map(
                |((_, x), &log)| match (x.is_finite(), log && self.config.log_counts) {
                    (false, _) => 0.0,
                    (true, true) => x.signum() * x.abs().ln_1p(),
                    (true, false) => x,
                },
            )
            .collect();
        if self.config.use_history {
            let (median, count) = history;
            v.push(median.unwrap_or(0.0));
            v.push(((count as f64) + 1.0).ln());
            v.push(if median.is_some() { 1.0 } else { 0.0 });
        }
        v
    }

    /// History of a serving statement.
    fn serving_history(&self, fp: &str) -> (Option<f64>, u64) {
        match self.history.get(fp) {
            Some(h) => (Some(h.median_ln), h.count),
            None => (None, 0),
        }
    }

    /// L2-normalised TF-IDF of tokenizer ids, by column.
    fn tfidf_of_ids(&self, ids: &[u32]) -> Vec<(u32, f64)> {
        let mut cols: Vec<u32> = ids
            .iter()
            .filter_map(|&id| {
                self.runtime
                    .column_of_id
                    .get(id as usize)
                    .copied()
                    .flatten()
            })
            .collect();
        cols.sort_unstable();
        let mut out: Vec<(u32, f64)> = Vec::with_capacity(cols.len());
        for c in cols {
            match out.last_mut() {
                Some(last) if last.0 == c => last.1 += 1.0,
                _ => out.push((c, 1.0)),
            }
        }
        let mut norm = 0.0;
        for (c, v) in out.iter_mut() {
            *v *= self.idf.get(*c as usize).copied().unwrap_or(0.0);
            norm += *v * *v;
        }
        if norm > 0.0 {
            let norm = norm.sqrt();
            for (_, v) in out.iter_mut() {
                *v /= norm;
            }
        }
        out
    }

    /// The full centred input vector (head, then scaled centred TF-IDF).
    pub fn dense(&self, f: &Featurized) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.input_len());
        v.extend_from_slice(&f.head);
        let s = self.config.tfidf_scale;
        v.extend(self.tfidf_mean.iter().map(|m| -m * s));
        let h = self.head_len();
        for &(c, t) in &f.tfidf {
            if let Some(x) = v.get_mut(h + c as usize) {
                *x += t * s;
            }
        }
        v
    }
}

/// ln of the time in seconds, floored at 1 µs (the log's resolution).
pub fn ln_seconds(seconds: f64) -> f64 {
    if seconds.is_finite() {
        seconds.max(1e-6).ln()
    } else {
        1e-6f64.ln()
    }
}

/// The sample's fingerprint, computed when the caller left it empty.
fn fingerprint_of(s: &Sample) -> String {
    if s.fingerprint.is_empty() {
        fingerprint(&s.sql)
    } else {
        s.fingerprint.clone()
    }
}

/// Heavy-tailed counts that enter the model as ln(1 + x) when
/// [`FeatureConfig::log_counts`] is on: their effect on time is
/// multiplicative, and standardising a raw `LIMIT 20000` next to `LIMIT 10`
/// squeezes every ordinary value into the same number.
const LOG_SCALED: [&str; 10] = [
    "statement length (bytes)",
    "tokens",
    "largest IN list",
    "IN list items",
    "date range days (widest)",
    "numeric range span (widest)",
    "LIMIT rows",
    "OFFSET rows",
    "literals",
    "selected columns",
];

/// Which columns of [`StatementFeatures::numeric_vector`] are [`LOG_SCALED`].
fn log_scaled_mask() -> &'static [bool] {
    static MASK: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    MASK.get_or_init(|| {
        StatementFeatures::feature_names()
            .into_iter()
            .map(|n| LOG_SCALED.contains(&n))
            .collect()
    })
}

/// Whether history dropout hides this fingerprint: the first 8 bytes of its
/// SHA-256 as a uniform draw in [0, 1), so the choice is stable across runs.
fn dropped(fingerprint: &str, dropout: f64) -> bool {
    use sha2::Digest;
    if dropout <= 0.0 {
        return false;
    }
    let digest = sha2::Sha256::digest(fingerprint.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) as f64 / u64::MAX as f64) < dropout
}

/// Training histories with one sample left out at a time.
struct LeaveOneOut {
    sorted: HashMap<String, Vec<f64>>,
}

impl LeaveOneOut {
    /// Sorted ln times per fingerprint, without the fingerprints that
    /// [`FeatureConfig::history_dropout`] hides: those train as unseen.
    fn new(train: &[Sample], config: &FeatureConfig) -> LeaveOneOut {
        let mut sorted: HashMap<String, Vec<f64>> = HashMap::new();
        if config.use_history {
            for s in train {
                sorted
                    .entry(fingerprint_of(s))
                    .or_default()
                    .push(ln_seconds(s.seconds));
            }
            let dropout = config.history_dropout.clamp(0.0, 1.0);
            sorted.retain(|fp, _| !dropped(fp, dropout));
            for v in sorted.values_mut() {
                v.sort_by(f64::total_cmp);
            }
        }
        LeaveOneOut { sorted }
    }

    /// (median ln time of the other samples of this fingerprint, their
    /// count); a fingerprint seen only in this sample is unseen.
    fn history(&self, s: &Sample) -> (Option<f64>, u64) {
        let Some(v) = self.sorted.get(&fingerprint_of(s)) else {
            return (None, 0);
        };
        let own = ln_seconds(s.seconds);
        let k = v
            .partition_point(|x| *x < own)
            .min(v.len().saturating_sub(1));
        let n = v.len() - 1;
        if n == 0 {
            return (None, 0);
        }
        let at = |j: usize| if j < k { v[j] } else { v[j + 1] };
        let median = if n % 2 == 1 {
            at(n / 2)
        } else {
            (at(n / 2 - 1) + at(n / 2)) / 2.0
        };
        (Some(median), n as u64)
    }
}

/// Median of a sorted slice (0 when empty).
pub fn median_sorted(v: &[f64]) -> f64 {
    quantile_sorted(v, 0.5)
}

/// Linear-interpolated quantile of a sorted slice (0 when empty).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    match v.len() {
        0 => 0.0,
        1 => v[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = pos - lo as f64;
            v[lo] * (1.0 - frac) + v[hi] * frac
        }
    }
}

/// Token ids of one space-joined document through the full tokenizer
/// pipeline (training); an encoding failure (none is known for WordLevel)
/// yields no terms rather than an error.
fn encode_ids(tokenizer: &Tokenizer, doc: &str) -> Vec<u32> {
    tokenizer
        .encode_fast(doc, false)
        .map(|e| e.get_ids().to_vec())
        .unwrap_or_default()
}

/// The same ids as [`encode_ids`] on the space-joined tokens, for serving:
/// the pipeline is only a whitespace split and a vocabulary lookup (no
/// normaliser, no post-processor), so splitting and looking up directly
/// gives identical ids without building the joined string and an
/// `Encoding` (about a third of the featurizing time otherwise).
fn lookup_ids(tokenizer: &Tokenizer, tokens: &[String]) -> Vec<u32> {
    let unk = tokenizer.token_to_id(UNK);
    tokens
        .iter()
        .flat_map(|t| t.split_whitespace())
        .filter_map(|piece| tokenizer.token_to_id(piece).or(unk))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_log_scaled_name_is_a_feature() {
        let names = StatementFeatures::feature_names();
        for n in LOG_SCALED {
            assert!(names.contains(&n), "{n:?} is not a feature name");
        }
        assert_eq!(
            log_scaled_mask().iter().filter(|&&b| b).count(),
            LOG_SCALED.len()
        );
    }
}
