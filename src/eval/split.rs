//! Train/test splits over samples, as index vectors into the caller's slice.
//!
//! Three splits answer three questions: a random split measures fit on
//! statements like the training ones; a time split measures what a model
//! trained on the past says about the future (the deployment case); grouped
//! k-fold by fingerprint measures generalisation to statement *shapes* never
//! seen in training, where memorising a fingerprint's history cannot help.
//!
//! Every split is deterministic: the same input (and seed) gives the same
//! indices on every platform, because shuffles use ChaCha8 seeded explicitly.

use crate::model::Sample;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One train/test partition: indices into the samples it was built from.
/// The two vectors are disjoint and together cover every index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// How many of `n` items go to the test side for `test_fraction`.
///
/// `round(n * fraction)`, but at least one item on each side whenever
/// `n >= 2` and the fraction is strictly between 0 and 1, because a split
/// with an empty side evaluates nothing. A fraction that is NaN or outside
/// 0..=1 is clamped into it (NaN counts as 0).
pub fn test_size(n: usize, test_fraction: f64) -> usize {
    let f = if test_fraction.is_nan() {
        0.0
    } else {
        test_fraction.clamp(0.0, 1.0)
    };
    let raw = (n as f64 * f).round() as usize;
    if n >= 2 && f > 0.0 && f < 1.0 {
        raw.clamp(1, n - 1)
    } else {
        raw.min(n)
    }
}

/// A uniformly random split of `0..n`; both sides are returned in ascending
/// index order so the result does not depend on shuffle internals beyond
/// which indices were chosen.
pub fn random_split(n: usize, test_fraction: f64, seed: u64) -> Split {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let k = test_size(n, test_fraction);
    let mut test = order[..k].to_vec();
    let mut train = order[k..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Split { train, test }
}

/// The last `test_fraction` of the samples by `time` are the test set.
///
/// Samples are ordered by time with a stable sort, so ties keep input order.
/// A sample without a time takes the time of the nearest timed sample
/// before it in the input (none before it sorts first): logs are written in
/// order, so an untimed statement belongs where the log put it, and when no
/// sample has a time the split is simply the input's last fraction. Both
/// sides are returned in that chronological order.
pub fn time_split(samples: &[Sample], test_fraction: f64) -> Split {
    let mut carried = None;
    let keys: Vec<_> = samples
        .iter()
        .map(|s| {
            if s.time.is_some() {
                carried = s.time;
            }
            carried
        })
        .collect();
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    let k = test_size(samples.len(), test_fraction);
    let test = order.split_off(samples.len() - k);
    Split { train: order, test }
}

/// `k` folds grouped by fingerprint: no fingerprint is in both the train
/// and the test side of any fold, so a model cannot score by remembering a
/// statement shape's history.
///
/// Folds are balanced by sample count: groups are shuffled with `seed` (so
/// equal-sized groups are ordered by the seed, not by name), stably sorted
/// largest first, and each goes to the fold with the fewest samples so far
/// (lowest fold number on ties). A single huge fingerprint still makes its
/// fold large; that is inherent to grouping. Indices are ascending.
///
/// `k < 2` gives no folds (one fold has nothing to train on). When there
/// are fewer fingerprints than `k`, folds whose test side would be empty
/// are left out, so every returned fold evaluates something.
pub fn group_kfold(samples: &[Sample], k: usize, seed: u64) -> Vec<Split> {
    if k < 2 {
        return Vec::new();
    }
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let g = *index_of.entry(s.fingerprint.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));

    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    for g in groups {
        let smallest = (0..k).min_by_key(|&f| (folds[f].len(), f)).unwrap_or(0);
        folds[smallest].extend(g);
    }
    let mut fold_of = vec![0usize; samples.len()];
    for (f, members) in folds.iter().enumerate() {
        for &i in members {
            fold_of[i] = f;
        }
    }
    (0..k)
        .filter(|&f| !folds[f].is_empty())
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..samples.len()).partition(|&i| fold_of[i] == f);
            Split { train, test }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use std::collections::HashSet;

    fn sample(fp: &str, minute: Option<u32>) -> Sample {
        Sample {
            sql: format!("select {fp}"),
            seconds: 0.01,
            time: minute.map(|m| {
                NaiveDate::from_ymd_opt(2024, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, m, 0))
                    .expect("valid date")
            }),
            fingerprint: fp.to_string(),
        }
    }

    fn assert_partition(s: &Split, n: usize) {
        let train: HashSet<_> = s.train.iter().collect();
        let test: HashSet<_> = s.test.iter().collect();
        assert_eq!(train.len(), s.train.len(), "duplicate train index");
        assert_eq!(test.len(), s.test.len(), "duplicate test index");
        assert!(train.is_disjoint(&test));
        assert_eq!(train.len() + test.len(), n);
        assert!(s.train.iter().chain(&s.test).all(|&i| i < n));
    }

    #[test]
    fn random_split_is_a_70_30_partition_and_deterministic() {
        let s = random_split(1000, 0.3, 7);
        assert_partition(&s, 1000);
        assert_eq!(s.test.len(), 300);
        assert_eq!(s, random_split(1000, 0.3, 7));
        assert_ne!(s.test, random_split(1000, 0.3, 8).test);
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        assert_eq!(
            random_split(0, 0.3, 1),
            Split {
                train: vec![],
                test: vec![]
            }
        );
        assert_eq!(random_split(1, 0.3, 1).test.len(), 0);
        assert_eq!(random_split(2, 0.3, 1).test.len(), 1);
        assert_eq!(random_split(3, 0.01, 1).test.len(), 1);
        assert_eq!(random_split(10, f64::NAN, 1).test.len(), 0);
        assert_eq!(random_split(10, 7.0, 1).test.len(), 10);
        assert!(group_kfold(&[], 5, 1).is_empty());
        assert!(group_kfold(&[sample("a", None)], 1, 1).is_empty());
        assert_eq!(
            time_split(&[], 0.3),
            Split {
                train: vec![],
                test: vec![]
            }
        );
    }

    #[test]
    fn time_split_takes_the_latest_and_keeps_ties_and_untimed_in_order() {
        // Input out of order; index 2 has no time and follows index 1 (minute 9).
        let samples = vec![
            sample("a", Some(5)),
            sample("b", Some(9)),
            sample("c", None),
            sample("d", Some(1)),
            sample("e", Some(9)),
            sample("f", Some(3)),
            sample("g", Some(7)),
            sample("h", Some(2)),
            sample("i", Some(4)),
            sample("j", Some(6)),
        ];
        let s = time_split(&samples, 0.3);
        assert_partition(&s, 10);
        // Minute 9: b, c (carried), e, in input order.
        assert_eq!(s.test, vec![1, 2, 4]);
        assert_eq!(s.train, vec![3, 7, 5, 8, 0, 9, 6]);
    }

    #[test]
    fn time_split_without_times_is_the_input_tail() {
        let samples: Vec<_> = (0..10).map(|i| sample(&i.to_string(), None)).collect();
        let s = time_split(&samples, 0.3);
        assert_eq!(s.test, vec![7, 8, 9]);
        assert_eq!(s.train, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn grouped_folds_never_share_a_fingerprint_and_are_balanced() {
        // 40 fingerprints of sizes 1..=40 (820 samples), interleaved.
        let mut samples = Vec::new();
        for round in 0..40 {
            for g in 0..40 {
                if round <= g {
                    samples.push(sample(&format!("fp{g}"), None));
                }
            }
        }
        let folds = group_kfold(&samples, 5, 42);
        assert_eq!(folds.len(), 5);
        let mut tested = HashSet::new();
        for f in &folds {
            assert_partition(f, samples.len());
            let train_fp: HashSet<_> = f.train.iter().map(|&i| &samples[i].fingerprint).collect();
            assert!(
                f.test
                    .iter()
                    .all(|&i| !train_fp.contains(&samples[i].fingerprint))
            );
            // 820 / 5 = 164; greedy largest-first lands well within 10 %.
            assert!((148..=180).contains(&f.test.len()), "{}", f.test.len());
            for &i in &f.test {
                assert!(tested.insert(i), "index {i} tested twice");
            }
        }
        assert_eq!(tested.len(), samples.len());
        assert_eq!(folds, group_kfold(&samples, 5, 42));
    }

    #[test]
    fn fewer_groups_than_folds_drops_empty_folds() {
        let samples = vec![sample("a", None), sample("b", None), sample("a", None)];
        let folds = group_kfold(&samples, 5, 3);
        assert_eq!(folds.len(), 2);
        assert!(folds.iter().all(|f| !f.test.is_empty()));
    }
}
