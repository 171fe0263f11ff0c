//! Calibration laid over a trained model, without retraining it.
//!
//! A model learned on one server meets others (a replica with another
//! buffer pool, a bigger machine, the built-in model on a user's server),
//! and it meets statement shapes it never trained on. Both break the
//! interval the model was calibrated for, and the first also shifts the
//! median. Two light corrections, fitted from logged times and saved as
//! `calibration.json` beside the model (checksummed in `model.json` like
//! every other file; a model without one loads as before):
//!
//! - **Unseen shapes** ([`CalibrationSet::unseen`]): `qlat train` holds
//!   fingerprints out in its grouped cross-validation anyway; the held-out
//!   predictions of every fold are conformity scores for "a shape this
//!   model never saw" (CV+, Barber et al. 2021). Their quantiles become
//!   offsets of p10 and p90, applied only to statements whose fingerprint
//!   is absent from the training data: intervals for seen shapes keep the
//!   time-slice calibration they had.
//! - **Another server** ([`ServerCalibration`]): from a few hundred logged
//!   statements of that server, a speed factor and conformal interval
//!   offsets per *kind of work*.
//!
//! Kind of work = what the statement does ([`Work`]: session chatter,
//! reads, writes) × the latency class of the model's own (uncalibrated)
//! median. That is what a server change acts on: a smaller buffer pool
//! slows reads that touch many pages and leaves a `SET NAMES` alone; a
//! slower CPU stretches everything, chatter by its round trip. The key is
//! known at prediction time from the statement text and the model's
//! answer, so no measured time is needed to choose a group. Groups hold
//! few statements (3 works × 3 classes, from a few hundred statements), so
//! each group's factor and offsets are shrunk toward the global ones with
//! the weight of [`SHRINKAGE`] pseudo-statements: a group of 5 statements
//! moves a fifth of the way from the global value, one of 200 nearly all
//! the way.
//!
//! Interval offsets are split-conformal on the calibration statements,
//! one per side (conformalised quantile regression with asymmetric
//! tails): the lower offset is the 10 % quantile of `ln t − ln p10`, the
//! upper the 90 % quantile of `ln t − ln p90`, after the speed factor,
//! with the finite-sample rank correction. Each statement's residual is
//! taken with its group's factor fitted *without* it (leave-one-out is
//! exact for a shrunk mean), so the offsets do not count the factor's own
//! fit as accuracy.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ClassThresholds, Contribution, LatencyClass, LatencyModel, Prediction};
use crate::featurize::{FeatureSpec, Featurized};
use crate::sql::features::{StatementKind, kind_from_keywords, strip_leading_comments};

/// File name of the calibration in a model directory.
pub const CALIBRATION_FILE: &str = "calibration.json";

/// Version of [`CalibrationSet`]'s layout.
pub const CALIBRATION_VERSION: u32 = 1;

/// Pseudo-statements of the global value in every group's shrunk estimate.
pub const SHRINKAGE: f64 = 20.0;

/// Explanation entry of the server's speed factor, so the contributions
/// still add up to the calibrated median.
pub const SERVER_FACTOR: &str = "server calibration (speed of this kind of work)";

/// What a statement does, as far as a server change is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Work {
    /// Connection and session statements (`SET`, `SHOW`, `USE`, `BEGIN`,
    /// `COMMIT`, administrative commands, a `SELECT` without `FROM` such
    /// as `SELECT @@tx_isolation`): a round trip, no table data.
    Session,
    /// Statements reading tables (`SELECT … FROM`, `EXPLAIN`).
    Read,
    /// Statements writing or defining data.
    Write,
}

impl Work {
    pub const ALL: [Work; 3] = [Work::Session, Work::Read, Work::Write];

    /// The kind of work of a statement (text or fingerprint).
    pub fn of(sql: &str) -> Work {
        let body = strip_leading_comments(sql);
        match kind_from_keywords(body) {
            StatementKind::Select => {
                if has_word(body, "from") {
                    Work::Read
                } else {
                    Work::Session
                }
            }
            StatementKind::Explain => Work::Read,
            StatementKind::Insert
            | StatementKind::Update
            | StatementKind::Delete
            | StatementKind::Replace
            | StatementKind::Create
            | StatementKind::Drop
            | StatementKind::Alter
            | StatementKind::Call => Work::Write,
            StatementKind::Set
            | StatementKind::Show
            | StatementKind::Use
            | StatementKind::Begin
            | StatementKind::Commit
            | StatementKind::Rollback
            | StatementKind::Admin
            | StatementKind::Other => Work::Session,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Work::Session => "session",
            Work::Read => "read",
            Work::Write => "write",
        }
    }
}

/// Whether `word` occurs in `s` as a whole word, in any case.
fn has_word(s: &str, word: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@'))
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// The group a prediction is calibrated in: `work/class` of the model's own
/// median, e.g. `read/medium`.
pub fn group_key(sql: &str, predicted_seconds: f64, t: &ClassThresholds) -> String {
    format!(
        "{}/{}",
        Work::of(sql).as_str(),
        LatencyClass::of(predicted_seconds, t).as_str()
    )
}

/// One group's correction, in ln seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupFit {
    /// Statements the group was fitted on (before shrinkage).
    pub n: usize,
    /// Added to ln of the median and both bounds: ln of the speed factor.
    pub shift: f64,
    /// Added to ln p10 after the shift (negative widens).
    pub lower: f64,
    /// Added to ln p90 after the shift (positive widens).
    pub upper: f64,
}

impl GroupFit {
    /// No correction.
    pub const NONE: GroupFit = GroupFit {
        n: 0,
        shift: 0.0,
        lower: 0.0,
        upper: 0.0,
    };
}

/// Corrections by group, and the global one for groups never seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupedFit {
    pub global: GroupFit,
    /// Already shrunk toward `global`.
    pub groups: BTreeMap<String, GroupFit>,
}

impl GroupedFit {
    /// The correction of `key`, else the global one.
    pub fn get(&self, key: &str) -> GroupFit {
        self.groups.get(key).copied().unwrap_or(self.global)
    }
}

/// A model calibrated to one server's logged times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCalibration {
    /// The server (or log) the statements came from, as the user named it.
    pub server: String,
    /// Statements fitted on.
    pub statements: usize,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Pseudo-statements of shrinkage toward the global value.
    pub shrinkage: f64,
    /// Nominal p10–p90 coverage the offsets aim at.
    pub coverage: f64,
    /// Per algorithm (mlp, ridge, baseline, tiered).
    pub models: BTreeMap<String, GroupedFit>,
}

/// What answers say about their calibration: `calibration: {server,
/// statements, updated_at}` in `/predict`, `model.json` and `qlat models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalibrationInfo {
    pub server: String,
    pub statements: usize,
    pub updated_at: String,
}

/// The content of `calibration.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CalibrationSet {
    #[serde(default)]
    pub version: u32,
    /// Interval offsets for shapes absent from training, per algorithm.
    #[serde(default)]
    pub unseen: BTreeMap<String, GroupedFit>,
    #[serde(default)]
    pub server: Option<ServerCalibration>,
}

impl CalibrationSet {
    pub fn is_empty(&self) -> bool {
        self.unseen.is_empty() && self.server.is_none()
    }

    /// The summary answers carry, when calibrated to a server.
    pub fn info(&self) -> Option<CalibrationInfo> {
        self.server.as_ref().map(|s| CalibrationInfo {
            server: s.server.clone(),
            statements: s.statements,
            updated_at: s.updated_at.clone(),
        })
    }
}

/// How [`fit`] fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Fit a speed factor (server calibration); `false` fits interval
    /// offsets only (unseen shapes: the median is the model's).
    pub shift: bool,
    pub shrinkage: f64,
    /// Nominal p10–p90 coverage.
    pub coverage: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            shift: true,
            shrinkage: SHRINKAGE,
            coverage: 0.8,
        }
    }
}

/// One calibration statement: the model's answer, the measured time, the
/// group key.
struct Row {
    key: String,
    y: f64,
    p50: f64,
    p10: f64,
    p90: f64,
}

fn ln_pos(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v.max(1e-9).ln()
    } else if v == f64::INFINITY {
        1e6f64.ln()
    } else {
        1e-9f64.ln()
    }
}

/// Fits corrections from `preds` (the model's answers, uncorrected by what
/// is being fitted) against measured `seconds`, grouped by
/// [`group_key`] of `sqls`. Rows whose time is not finite are skipped;
/// `None` when none are left.
pub fn fit(
    sqls: &[&str],
    preds: &[Prediction],
    seconds: &[f64],
    t: &ClassThresholds,
    opts: FitOptions,
) -> Option<GroupedFit> {
    let rows: Vec<Row> = sqls
        .iter()
        .zip(preds)
        .zip(seconds)
        .filter(|(_, s)| s.is_finite() && **s >= 0.0)
        .map(|((sql, p), s)| Row {
            key: group_key(sql, p.predicted_seconds, t),
            y: s.max(1e-6).ln(),
            p50: ln_pos(p.predicted_seconds),
            p10: ln_pos(p.p10),
            p90: ln_pos(p.p90),
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let k = opts.shrinkage.max(0.0);
    let alpha = ((1.0 - opts.coverage.clamp(0.0, 1.0)) / 2.0).clamp(0.0, 0.5);
    let mut by: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by.entry(r.key.as_str()).or_default().push(r);
    }
    // Speed factors: a winsorised mean of ln residuals, shrunk.
    let all: Vec<&Row> = rows.iter().collect();
    let global_shift = if opts.shift { robust_mean(&all) } else { 0.0 };
    let shifts: BTreeMap<&str, (f64, f64, usize)> = by
        .iter()
        .map(|(key, rs)| {
            let n = rs.len();
            let sum = if opts.shift {
                robust_mean(rs) * n as f64
            } else {
                0.0
            };
            (*key, (sum, global_shift, n))
        })
        .collect();
    let shrunk = |sum: f64, n: usize| -> f64 {
        if !opts.shift {
            return 0.0;
        }
        (sum + k * global_shift) / (n as f64 + k).max(1e-9)
    };
    // Leave-one-out residuals of each side, with the group's factor fitted
    // without the statement.
    let mut lo_all = Vec::with_capacity(rows.len());
    let mut hi_all = Vec::with_capacity(rows.len());
    let mut lo_by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut hi_by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in &rows {
        let (sum, _, n) = shifts.get(r.key.as_str()).copied().unwrap_or((0.0, 0.0, 1));
        let own = if opts.shift {
            (r.y - r.p50).clamp(-WINSOR_LN, WINSOR_LN)
        } else {
            0.0
        };
        let loo = if n > 1 || k > 0.0 {
            shrunk(sum - own, n.saturating_sub(1))
        } else {
            global_shift
        };
        let lo = r.y - (r.p10 + loo);
        let hi = r.y - (r.p90 + loo);
        lo_all.push(lo);
        hi_all.push(hi);
        lo_by.entry(r.key.as_str()).or_default().push(lo);
        hi_by.entry(r.key.as_str()).or_default().push(hi);
    }
    let global = GroupFit {
        n: rows.len(),
        shift: global_shift,
        lower: lower_rank(&mut lo_all, alpha),
        upper: upper_rank(&mut hi_all, alpha),
    };
    let mut groups = BTreeMap::new();
    for (key, (sum, _, n)) in &shifts {
        let nf = *n as f64;
        let blend = |own: f64, g: f64| (nf * own + k * g) / (nf + k).max(1e-9);
        let mut lo = lo_by.remove(key).unwrap_or_default();
        let mut hi = hi_by.remove(key).unwrap_or_default();
        groups.insert(
            (*key).to_owned(),
            GroupFit {
                n: *n,
                shift: shrunk(*sum, *n),
                lower: blend(lower_rank(&mut lo, alpha), global.lower),
                upper: blend(upper_rank(&mut hi, alpha), global.upper),
            },
        );
    }
    Some(GroupedFit { global, groups })
}

/// Residuals beyond this many ln units (a factor of ~55) count as this
/// many in a speed factor: one stalled `SET` must not move a group.
const WINSOR_LN: f64 = 4.0;

fn robust_mean(rows: &[&Row]) -> f64 {
    if rows.is_empty() {
        return 0.0;
    }
    rows.iter()
        .map(|r| (r.y - r.p50).clamp(-WINSOR_LN, WINSOR_LN))
        .sum::<f64>()
        / rows.len() as f64
}

/// The lower conformal offset: the ⌊α(n+1)⌋-th smallest score (the
/// smallest when that rank is 0: a group too small for the level gives the
/// widest offset it has seen).
fn lower_rank(v: &mut [f64], alpha: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let r = ((alpha * (n + 1) as f64).floor() as usize).clamp(1, n);
    v[r - 1]
}

/// The upper conformal offset: the ⌈(1−α)(n+1)⌉-th smallest score.
fn upper_rank(v: &mut [f64], alpha: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let r = (((1.0 - alpha) * (n + 1) as f64).ceil() as usize).clamp(1, n);
    v[r - 1]
}

/// `p` with `g` applied: median and bounds moved by the speed factor, the
/// bounds by their offsets, p10 ≤ p50 ≤ p90 kept. When the median moved,
/// the class follows the calibrated distribution and the explanation gets
/// a [`SERVER_FACTOR`] entry (so it still adds up).
pub fn apply(mut p: Prediction, g: &GroupFit, t: &ClassThresholds) -> Prediction {
    let mid = ln_pos(p.predicted_seconds) + g.shift;
    let lo = (ln_pos(p.p10) + g.shift + g.lower).min(mid);
    let hi = (ln_pos(p.p90) + g.shift + g.upper).max(mid);
    p.predicted_seconds = mid.exp();
    p.p10 = lo.exp();
    p.p90 = hi.exp();
    if g.shift != 0.0 {
        p.class_probabilities = class_probabilities_from_quantiles(lo, mid, hi, t);
        p.class = super::argmax_class(&p.class_probabilities);
        if p.explanation.is_empty() {
            p.explanation_baseline = mid;
        } else {
            p.explanation.push(Contribution {
                feature: SERVER_FACTOR.to_owned(),
                contribution: g.shift,
            });
        }
    }
    p
}

/// Class probabilities of a ln-time distribution known by its 10th, 50th
/// and 90th percentiles: piecewise linear between them, the tails
/// continuing the nearer segment's slope.
pub fn class_probabilities_from_quantiles(
    lo: f64,
    mid: f64,
    hi: f64,
    t: &ClassThresholds,
) -> [f64; 3] {
    let cdf = |x: f64| -> f64 {
        let seg = |a: f64, fa: f64, b: f64, fb: f64| {
            if b - a <= 1e-12 {
                if x < a { fa.min(fb) } else { fa.max(fb) }
            } else {
                fa + (fb - fa) * (x - a) / (b - a)
            }
        };
        let v = if x < mid {
            seg(lo, 0.1, mid, 0.5)
        } else {
            seg(mid, 0.5, hi, 0.9)
        };
        v.clamp(0.0, 1.0)
    };
    let fast = cdf(t.fast_below.max(1e-12).ln());
    let below_slow = cdf(t.slow_from.max(1e-12).ln()).max(fast);
    [fast, below_slow - fast, 1.0 - below_slow]
}

/// A model with its calibration laid over: the unseen-shape offsets for
/// fingerprints absent from training, then the server's correction.
pub struct Calibrated {
    pub inner: Arc<dyn LatencyModel>,
    /// Fingerprints the model trained on.
    pub seen: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    pub unseen: Option<GroupedFit>,
    pub server: Option<GroupedFit>,
    pub thresholds: ClassThresholds,
}

impl std::fmt::Debug for Calibrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calibrated")
            .field("inner", &self.inner.name())
            .field("unseen", &self.unseen.is_some())
            .field("server", &self.server.is_some())
            .finish()
    }
}

impl LatencyModel for Calibrated {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn spec(&self) -> &FeatureSpec {
        self.inner.spec()
    }

    fn predict_featurized(&self, f: &Featurized, explain: bool) -> Prediction {
        let mut p = self.inner.predict_featurized(f, explain);
        let key = group_key(&f.fingerprint, p.predicted_seconds, &self.thresholds);
        if let Some(u) = &self.unseen
            && !(self.seen)(&f.fingerprint)
        {
            let g = u.get(&key);
            p = apply(p, &GroupFit { shift: 0.0, ..g }, &self.thresholds);
        }
        if let Some(s) = &self.server {
            p = apply(p, &s.get(&key), &self.thresholds);
        }
        p
    }
}

/// Why a server calibration could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("no statements with a measured time to calibrate on")]
    Empty,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(s: f64, width: f64) -> Prediction {
        Prediction {
            predicted_seconds: s,
            p10: s / width,
            p90: s * width,
            class: LatencyClass::of(s, &ClassThresholds::default()),
            class_probabilities: [1.0, 0.0, 0.0],
            explanation_baseline: s.ln(),
            explanation: Vec::new(),
            parsed: true,
        }
    }

    #[test]
    fn work_kinds() {
        assert_eq!(Work::of("SET NAMES utf8mb4"), Work::Session);
        assert_eq!(Work::of("select @@tx_isolation"), Work::Session);
        assert_eq!(Work::of("SELECT DATABASE()"), Work::Session);
        assert_eq!(Work::of("/* x */ SELECT a FROM t"), Work::Read);
        assert_eq!(Work::of("show full columns from t"), Work::Session);
        assert_eq!(Work::of("insert into t values (?)"), Work::Write);
        assert_eq!(Work::of(""), Work::Session);
    }

    #[test]
    fn a_uniformly_slower_server_is_found_and_covered() {
        // The server is 2× slower on reads, the same on chatter; times
        // scatter ±30 % around that, deterministically.
        let t = ClassThresholds::default();
        let mut sqls = Vec::new();
        let mut preds = Vec::new();
        let mut secs = Vec::new();
        for i in 0..400 {
            let jitter = 1.0 + 0.3 * (((i * 37) % 21) as f64 / 10.0 - 1.0);
            if i % 2 == 0 {
                sqls.push("SELECT a FROM t WHERE b = ?");
                preds.push(pred(0.05, 1.05));
                secs.push(0.1 * jitter);
            } else {
                sqls.push("SET NAMES ?");
                preds.push(pred(0.0001, 1.05));
                secs.push(0.0001 * jitter);
            }
        }
        let g = fit(&sqls, &preds, &secs, &t, FitOptions::default()).expect("rows");
        let read = g.get("read/medium");
        let chat = g.get("session/fast");
        assert!((read.shift - 2f64.ln()).abs() < 0.1, "{read:?}");
        assert!(chat.shift.abs() < 0.1, "{chat:?}");
        let covered = sqls
            .iter()
            .zip(&preds)
            .zip(&secs)
            .filter(|((sql, p), s)| {
                let c = apply(
                    (*p).clone(),
                    &g.get(&group_key(sql, p.predicted_seconds, &t)),
                    &t,
                );
                c.p10 <= **s && **s <= c.p90
            })
            .count();
        let share = covered as f64 / sqls.len() as f64;
        assert!((0.7..=0.95).contains(&share), "coverage {share}");
    }

    #[test]
    fn small_groups_shrink_toward_the_global_factor() {
        let t = ClassThresholds::default();
        let mut sqls = vec!["SELECT a FROM t"; 200];
        let mut preds = vec![pred(0.05, 1.1); 200];
        let mut secs = vec![0.05; 200];
        // Two writes 10× slower than predicted.
        sqls.extend(["UPDATE t SET a = 1", "UPDATE t SET a = 2"]);
        preds.extend([pred(0.05, 1.1), pred(0.05, 1.1)]);
        secs.extend([0.5, 0.5]);
        let g = fit(&sqls, &preds, &secs, &t, FitOptions::default()).expect("rows");
        let w = g.get("write/medium");
        assert_eq!(w.n, 2);
        assert!(w.shift > 0.05 && w.shift < 10f64.ln() / 5.0, "{w:?}");
    }

    #[test]
    fn explanation_still_adds_up_and_bounds_are_ordered() {
        let t = ClassThresholds::default();
        let mut p = pred(0.02, 2.0);
        p.explanation = vec![Contribution {
            feature: "x".into(),
            contribution: 0.02f64.ln() - p.explanation_baseline,
        }];
        let g = GroupFit {
            n: 10,
            shift: 0.7,
            lower: 5.0,
            upper: -5.0,
        };
        let c = apply(p.clone(), &g, &t);
        let sum: f64 = c.explanation.iter().map(|e| e.contribution).sum();
        assert!((c.explanation_baseline + sum - c.predicted_seconds.ln()).abs() < 1e-9);
        assert!(c.p10 <= c.predicted_seconds && c.predicted_seconds <= c.p90);
        let probs = c.class_probabilities;
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{probs:?}");
    }

    #[test]
    fn nothing_to_fit_is_none_and_bad_numbers_do_not_panic() {
        let t = ClassThresholds::default();
        assert!(fit(&[], &[], &[], &t, FitOptions::default()).is_none());
        let g = fit(
            &["SELECT 1", "SELECT 2"],
            &[pred(f64::NAN, 1.0), pred(f64::INFINITY, 1.0)],
            &[f64::NAN, 0.001],
            &t,
            FitOptions::default(),
        )
        .expect("one row");
        assert!(g.global.shift.is_finite() && g.global.lower.is_finite());
    }
}
