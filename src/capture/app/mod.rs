//! The `app` dataset: a small web shop with a support desk, as a second
//! database beside TPC-H whose workload looks like an application's rather
//! than a benchmark's — point lookups through prepared statements, short
//! index ranges, cart writes, a support team's text searches and a few
//! reporting scans.
//!
//! Everything is generated from the seed: the data ([`data`]) and the
//! statements ([`workload`]). Sizes scale with `rows_scale` (1.0 gives
//! 1.2 million order lines); the number of statements is set on its own.

pub mod data;
pub mod text;
pub mod workload;

use rand::{Rng, RngExt};
use serde::Serialize;

/// What `qlat capture --dataset app` generates; saved in `capture.json`.
#[derive(Debug, Clone, Serialize)]
pub struct AppSpec {
    /// Always `"app"`: tells this configuration from a TPC-H one.
    pub dataset: &'static str,
    pub seed: u64,
    /// Multiplies every table's row count (1.0: 400,000 orders).
    pub rows_scale: f64,
    /// Units of work sent (a unit is one statement, or the few statements
    /// of a checkout); chatter and pings come on top.
    pub statements: usize,
}

/// Row counts of the generated tables (order lines follow from orders).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub categories: u64,
    pub customers: u64,
    pub products: u64,
    pub orders: u64,
    pub tickets: u64,
    pub reviews: u64,
    pub cart_items: u64,
}

impl Sizes {
    pub fn at(scale: f64) -> Sizes {
        let n = |base: f64, min: u64| ((base * scale) as u64).max(min);
        Sizes {
            categories: CATEGORY_COUNT,
            customers: n(100_000.0, 50),
            products: n(20_000.0, 40),
            orders: n(400_000.0, 100),
            tickets: n(50_000.0, 20),
            reviews: n(150_000.0, 50),
            cart_items: n(30_000.0, 20),
        }
    }
}

/// 12 top-level categories with 4 children each.
pub const CATEGORY_COUNT: u64 = 60;

/// Tables in foreign-key order: each only references tables before it.
pub const TABLES: [&str; 8] = [
    "categories",
    "customers",
    "products",
    "orders",
    "order_items",
    "cart_items",
    "tickets",
    "reviews",
];

/// Zipf-distributed ranks 1..=n (`P(k) ∝ k^-s`), drawn by binary search
/// over the cumulative weights.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Zipf {
        let mut total = 0.0;
        let cdf = (1..=n.max(1))
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        Zipf { cdf }
    }

    /// A rank in 1..=n; rank 1 is the most frequent.
    pub fn rank<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let x = rng.random_range(0.0..total);
        (self.cdf.partition_point(|&c| c <= x) as u64 + 1).min(self.cdf.len() as u64)
    }

    /// A rank scattered over ids 1..=n, so the hot ids are not the first
    /// ones (a bijection as long as n < 1,000,003, which is prime).
    pub fn id<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        scatter(self.rank(rng), self.cdf.len() as u64)
    }
}

/// Maps rank 1..=n onto id 1..=n, one to one.
pub fn scatter(rank: u64, n: u64) -> u64 {
    ((rank - 1) * 1_000_003 % n.max(1)) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let draws: Vec<u64> = (0..10_000).map(|_| z.rank(&mut rng)).collect();
        assert!(draws.iter().all(|&k| (1..=1000).contains(&k)));
        let ones = draws.iter().filter(|&&k| k == 1).count();
        let tail = draws.iter().filter(|&&k| k == 500).count();
        assert!(ones > 800 && tail < 20, "{ones} {tail}");
    }

    #[test]
    fn scatter_is_a_bijection() {
        for n in [1u64, 7, 60, 1000, 20_000] {
            let mut seen: Vec<u64> = (1..=n).map(|r| scatter(r, n)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (1..=n).collect::<Vec<_>>(), "n = {n}");
        }
    }
}
