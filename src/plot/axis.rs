//! Axes in plotting coordinates: every tick already placed and labelled
//! (log axes in log10 space), so the data decisions are testable without
//! pixels and plotters never sees a NaN, an infinity or a log of zero.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

/// One axis in plotting coordinates, with its tick marks already labelled.
#[derive(Debug, Clone)]
pub struct Axis {
    pub desc: String,
    pub lo: f64,
    pub hi: f64,
    /// Labelled ticks (position, label).
    pub ticks: Vec<(f64, String)>,
    /// Unlabelled faint grid lines (e.g. 2..9 between decades).
    pub minor: Vec<f64>,
    /// Draw grid lines at the ticks; off for category axes.
    pub grid: bool,
}

impl Axis {
    /// A linear axis from `lo` to `hi` with about six "nice" ticks.
    pub fn linear(desc: impl Into<String>, lo: f64, hi: f64, fmt: fn(f64) -> String) -> Axis {
        let (lo, hi) = sane_range(lo, hi);
        let step = nice_step(hi - lo, 6);
        let mut ticks = Vec::new();
        let mut t = (lo / step).ceil() * step;
        while t <= hi + step * 1e-9 && ticks.len() < 50 {
            // `-0` would otherwise print as "-0".
            let v = if t.abs() < step * 1e-9 { 0.0 } else { t };
            ticks.push((v, fmt(v)));
            t += step;
        }
        Axis {
            desc: desc.into(),
            lo,
            hi,
            ticks,
            minor: Vec::new(),
            grid: true,
        }
    }

    /// A log10 axis covering `min..=max` (positive, finite values) rounded
    /// out to whole decades, with at most about ten labelled decades.
    pub fn log(desc: impl Into<String>, min: f64, max: f64, fmt: fn(f64) -> String) -> Axis {
        let lo = min.log10().floor();
        let mut hi = max.log10().ceil();
        if hi - lo < 1.0 {
            hi = lo + 1.0;
        }
        let step = ((hi - lo) / 10.0).ceil().max(1.0);
        let mut ticks = Vec::new();
        let mut minor = Vec::new();
        let mut t = lo;
        while t <= hi + 1e-9 {
            ticks.push((t, fmt(10f64.powf(t))));
            t += step;
        }
        if step == 1.0 {
            let mut d = lo;
            while d < hi {
                minor.extend((2..10).map(|m| d + f64::from(m).log10()));
                d += 1.0;
            }
        }
        Axis {
            desc: desc.into(),
            lo,
            hi,
            ticks,
            minor,
            grid: true,
        }
    }

    /// One slot per label at 0, 1, 2 ...; `reversed` puts the first label
    /// at the top of a vertical axis (rank 1 first).
    pub fn categories(desc: impl Into<String>, labels: &[String], reversed: bool) -> Axis {
        let n = labels.len();
        let ticks = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (category_pos(i, n, reversed), l.clone()))
            .collect();
        Axis {
            desc: desc.into(),
            lo: -0.5,
            hi: n.max(1) as f64 - 0.5,
            ticks,
            minor: Vec::new(),
            grid: false,
        }
    }

    /// The label of the tick at `v`, if there is one there.
    pub fn label_at(&self, v: f64) -> String {
        let tolerance = (self.hi - self.lo).abs() * 1e-6;
        self.ticks
            .iter()
            .find(|(p, _)| (p - v).abs() <= tolerance)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }

    /// Widest tick label in characters, to size the label area.
    pub fn widest_label(&self) -> usize {
        self.ticks
            .iter()
            .map(|(_, l)| l.chars().count())
            .max()
            .unwrap_or(0)
    }
}

pub fn category_pos(i: usize, n: usize, reversed: bool) -> f64 {
    if reversed {
        (n - 1 - i) as f64
    } else {
        i as f64
    }
}

/// Replaces a degenerate or non-finite range with something drawable.
pub fn sane_range(lo: f64, hi: f64) -> (f64, f64) {
    let lo = if lo.is_finite() { lo } else { 0.0 };
    let hi = if hi.is_finite() { hi } else { lo + 1.0 };
    if hi > lo {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        (lo - lo.abs() * 0.5, hi + hi.abs() * 0.5)
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about `target` ticks.
pub fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A linear f64 coordinate whose grid lines and labels sit exactly at the
/// spec's ticks. plotters' own `WithKeyPoints` does not allow a label
/// formatter, and its log coordinates pick no ticks on short ranges.
#[derive(Debug, Clone)]
pub struct Coord {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Coord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        // Clamped so a value far outside the axis cannot overflow i32.
        let f = ((v - self.lo) / (self.hi - self.lo)).clamp(-4.0, 5.0);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// The plotters coordinate of an axis.
pub fn coord(axis: &Axis) -> Coord {
    Coord {
        lo: axis.lo,
        hi: axis.hi,
        ticks: axis.ticks.iter().map(|t| t.0).collect(),
        minor: axis.minor.clone(),
    }
}
