//! The quality floor of the learning cycle (issue #16): which trained model
//! is the candidate, and whether it is good enough to be compared with
//! production at all.
//!
//! A run that promoted an MLP stopped at its first epoch, scoring worse
//! than the fingerprint baseline on the same rows, showed that "better than
//! production by the margin" is not enough: on a new server there is no
//! production, and a broken model can beat a broken production. So:
//!
//! - the **candidate** is the trained algorithm (mlp, ridge, tiered) with
//!   the lowest MSE(ln) on the *validation* rows — the newest share of the
//!   training rows, by time, which the models did not learn from — so the
//!   test rows stay untouched for the final comparison. `--algorithm`
//!   pins one instead (`auto`, the default, selects);
//! - the run is **rejected** (registered for inspection, never promoted)
//!   when the MLP stopped at its first epoch (its validation loss never
//!   improved after the first pass: training did not work on this data or
//!   configuration), or when the candidate does not beat the fingerprint
//!   baseline on the test rows;
//! - only then does the promote margin against production apply.
//!
//! These are pure functions of the scores, so the rule is tested on its own
//! here and end to end in `tests/pipeline`.

use std::collections::BTreeMap;

/// The algorithms that can be the candidate. The fingerprint baseline is
/// the floor the candidate must beat, so it is not one of them unless
/// pinned.
pub const CANDIDATES: [&str; 3] = ["mlp", "ridge", "tiered"];

/// `algorithm` value that selects the candidate on the validation rows.
pub const AUTO: &str = "auto";

/// How the candidate was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The chosen algorithm.
    pub algorithm: String,
    /// Whether `--algorithm` pinned it (rather than validation choosing).
    pub pinned: bool,
    /// Validation MSE(ln) of every fitted model.
    pub validation_mse_ln: BTreeMap<String, f64>,
    pub validation_rows: usize,
}

/// Validation MSE(ln) with NaN ordered last.
fn score(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

/// Picks the candidate: `pinned` when it names an algorithm, else the
/// [`CANDIDATES`] member with the lowest validation MSE(ln) (ties go to the
/// earlier in [`CANDIDATES`], so the choice is deterministic).
pub fn select(
    validation_mse_ln: BTreeMap<String, f64>,
    validation_rows: usize,
    pinned: &str,
) -> Selection {
    let (algorithm, pinned) = if pinned == AUTO {
        let best = CANDIDATES
            .iter()
            .filter_map(|&name| validation_mse_ln.get(name).map(|&v| (name, score(v))))
            .fold(None::<(&str, f64)>, |best, (name, v)| match best {
                Some((_, b)) if b <= v => best,
                _ => Some((name, v)),
            });
        (best.map_or("mlp", |b| b.0).to_string(), false)
    } else {
        (pinned.to_string(), true)
    };
    Selection {
        algorithm,
        pinned,
        validation_mse_ln,
        validation_rows,
    }
}

impl Selection {
    /// One phrase: how the candidate was chosen, with the runner-up (the
    /// MLP when it was not chosen, as it is the default model).
    pub fn describe(&self) -> String {
        let mse = |name: &str| {
            self.validation_mse_ln
                .get(name)
                .map_or("-".to_string(), |v| format!("{v:.3}"))
        };
        let chosen = &self.algorithm;
        let other = if chosen != "mlp" {
            Some("mlp")
        } else {
            CANDIDATES
                .iter()
                .copied()
                .filter(|&n| n != chosen && self.validation_mse_ln.contains_key(n))
                .min_by(|a, b| {
                    score(self.validation_mse_ln[*a]).total_cmp(&score(self.validation_mse_ln[*b]))
                })
        };
        let how = if self.pinned {
            "pinned by --algorithm"
        } else {
            "chosen on validation"
        };
        match other {
            Some(o) => format!(
                "{chosen} {how} (MSE(ln) {} vs {o} {} on {} validation rows)",
                mse(chosen),
                mse(o),
                thousands(self.validation_rows)
            ),
            None => format!(
                "{chosen} {how} (MSE(ln) {} on {} validation rows)",
                mse(chosen),
                thousands(self.validation_rows)
            ),
        }
    }
}

/// What the floor looks at besides the selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The MLP's best epoch (the epoch its early stopping kept; the latest
    /// over ensemble members).
    pub mlp_best_epoch: usize,
    /// The epoch budget it had.
    pub epochs_max: usize,
    /// Test MSE(ln) of the candidate and of the fingerprint baseline on the
    /// same test rows.
    pub candidate_mse_ln: f64,
    pub baseline_mse_ln: f64,
    pub test_rows: usize,
}

impl Evidence {
    /// Early stopping kept the first epoch although more were allowed.
    pub fn mlp_stopped_at_first_epoch(&self) -> bool {
        self.epochs_max > 1 && self.mlp_best_epoch <= 1
    }
}

/// Why the candidate fails the floor (every failed rule, `; `-joined), or
/// `None` when it may be compared with production.
pub fn rejection(sel: &Selection, ev: &Evidence) -> Option<String> {
    let mut why = Vec::new();
    let (cand, base, n) = (
        ev.candidate_mse_ln,
        ev.baseline_mse_ln,
        thousands(ev.test_rows),
    );
    let alg = &sel.algorithm;
    if ev.mlp_stopped_at_first_epoch() {
        why.push(format!(
            "mlp stopped at epoch {} of {} (its validation loss never improved after the first pass); {}",
            ev.mlp_best_epoch,
            ev.epochs_max,
            sel.describe()
        ));
    }
    if !cand.is_finite() {
        why.push(format!("candidate {alg} test MSE(ln) is {cand}"));
    } else if alg != "baseline" && cand.partial_cmp(&base) != Some(std::cmp::Ordering::Less) {
        why.push(format!(
            "candidate {alg} MSE(ln) {cand:.3} does not beat the fingerprint baseline {base:.3} on the {n} test rows"
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The floor passed, in words (for the reason of a promoted or refused run).
pub fn passed(sel: &Selection, ev: &Evidence) -> String {
    if sel.algorithm == "baseline" {
        return format!(
            "{}; the fingerprint baseline is the floor itself (MSE(ln) {:.3} on the {} test rows)",
            sel.describe(),
            ev.candidate_mse_ln,
            thousands(ev.test_rows)
        );
    }
    format!(
        "{}; it beats the fingerprint baseline on the {} test rows (MSE(ln) {:.3} vs {:.3})",
        sel.describe(),
        thousands(ev.test_rows),
        ev.candidate_mse_ln,
        ev.baseline_mse_ln
    )
}

/// `1204` → `1,204`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn evidence(epoch: usize, cand: f64, base: f64) -> Evidence {
        Evidence {
            mlp_best_epoch: epoch,
            epochs_max: 200,
            candidate_mse_ln: cand,
            baseline_mse_ln: base,
            test_rows: 1204,
        }
    }

    #[test]
    fn auto_picks_the_lowest_validation_score_and_never_the_baseline() {
        let v = val(&[
            ("mlp", 3.10),
            ("ridge", 1.93),
            ("tiered", 2.5),
            ("baseline", 0.5),
        ]);
        let s = select(v.clone(), 300, AUTO);
        assert_eq!((s.algorithm.as_str(), s.pinned), ("ridge", false));
        assert_eq!(
            s.describe(),
            "ridge chosen on validation (MSE(ln) 1.930 vs mlp 3.100 on 300 validation rows)"
        );
        let nan = val(&[("mlp", f64::NAN), ("ridge", 2.0), ("tiered", 2.0)]);
        assert_eq!(
            select(nan, 1, AUTO).algorithm,
            "ridge",
            "NaN last, ties to the earlier"
        );
        let pinned = select(v, 300, "mlp");
        assert_eq!((pinned.algorithm.as_str(), pinned.pinned), ("mlp", true));
        assert!(
            pinned.describe().contains("vs ridge 1.930"),
            "{}",
            pinned.describe()
        );
    }

    #[test]
    fn the_floor_names_each_failed_rule() {
        let s = select(val(&[("mlp", 3.10), ("ridge", 1.93)]), 300, AUTO);
        assert_eq!(rejection(&s, &evidence(7, 1.95, 2.77)), None);
        let first = rejection(&s, &evidence(1, 1.95, 2.77)).expect("first epoch");
        assert!(
            first.starts_with("mlp stopped at epoch 1 of 200 (")
                && first.contains("ridge chosen on validation (MSE(ln) 1.930 vs mlp 3.100"),
            "{first}"
        );
        assert_eq!(
            rejection(&s, &evidence(9, 2.95, 2.77)).as_deref(),
            Some(
                "candidate ridge MSE(ln) 2.950 does not beat the fingerprint baseline 2.770 on the 1,204 test rows"
            )
        );
        assert!(
            rejection(&s, &evidence(9, 2.77, 2.77)).is_some(),
            "a tie does not beat it"
        );
        assert!(rejection(&s, &evidence(9, f64::NAN, 2.77)).is_some());
        let both = rejection(&s, &evidence(1, 3.0, 2.77)).expect("both");
        assert_eq!(both.matches("; ").count(), 2, "{both}");
        // One epoch allowed is the budget, not an early stop.
        let one = Evidence {
            epochs_max: 1,
            ..evidence(1, 1.95, 2.77)
        };
        assert_eq!(rejection(&s, &one), None);
        assert!(passed(&s, &evidence(7, 1.95, 2.77)).ends_with("(MSE(ln) 1.950 vs 2.770)"));
        // A pinned baseline is the floor; it is not asked to beat itself.
        let base = select(val(&[("mlp", 3.1), ("baseline", 2.0)]), 300, "baseline");
        assert_eq!(rejection(&base, &evidence(7, 2.77, 2.77)), None);
        assert!(passed(&base, &evidence(7, 2.77, 2.77)).contains("is the floor itself"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(450), "450");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
