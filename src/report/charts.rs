//! The report's charts.
//!
//! Each chart is first turned into a [`ChartSpec`]: plain plotting
//! coordinates (log axes already in log10 space), tick positions with their
//! human labels, and truncated names. All decisions about the data — what to
//! drop, floor, cap or truncate — happen there, so they are testable without
//! pixels, and plotters never sees a NaN, an infinity or a log of zero.
//! [`draw`] then renders a spec on any plotters backend; the same function
//! produces the SVG (inlined in the HTML) and the PNG.

use super::units;
use crate::analyze::{Analysis, Usage};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// Pixel size of every chart; wide enough for 20 bar labels, and the PNG
/// fits a slide.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 560;

/// Bundled so PNG text renders the same everywhere, without system fonts.
static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// A colour-blind-friendly palette (Okabe–Ito), used in the same order in
/// every chart so "average" and "p95" keep their colours across charts.
const BLUE: RGBColor = RGBColor(0, 114, 178);
const VERMILION: RGBColor = RGBColor(213, 94, 0);
const GREY: RGBColor = RGBColor(90, 90, 90);

/// Most scatter points drawn; beyond it points are thinned evenly, which
/// keeps the inline SVG (one element per point) a reasonable size.
const MAX_SCATTER_POINTS: usize = 5_000;
/// Where a statement that examined no rows is drawn on the log axis.
const ZERO_ROWS_AT: f64 = 0.5;
/// Where a zero query time is drawn on the log axis.
const ZERO_TIME_AT: f64 = 1e-6;
const MAX_USERS: usize = 15;

/// Registers the bundled font once per process; plotters' `ab_glyph` text
/// renderer (used for both layout and PNG glyphs) knows no fonts otherwise.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled DejaVu Sans font could not be loaded".to_string())
    }
}

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
    fn linear(desc: impl Into<String>, lo: f64, hi: f64, fmt: fn(f64) -> String) -> Axis {
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
    fn log(desc: impl Into<String>, min: f64, max: f64, fmt: fn(f64) -> String) -> Axis {
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
    fn categories(desc: impl Into<String>, labels: &[String], reversed: bool) -> Axis {
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
    fn label_at(&self, v: f64) -> String {
        let tolerance = (self.hi - self.lo).abs() * 1e-6;
        self.ticks
            .iter()
            .find(|(p, _)| (p - v).abs() <= tolerance)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }

    /// Widest tick label in characters, to size the label area.
    fn widest_label(&self) -> usize {
        self.ticks
            .iter()
            .map(|(_, l)| l.chars().count())
            .max()
            .unwrap_or(0)
    }
}

fn category_pos(i: usize, n: usize, reversed: bool) -> f64 {
    if reversed {
        (n - 1 - i) as f64
    } else {
        i as f64
    }
}

/// Replaces a degenerate or non-finite range with something drawable.
fn sane_range(lo: f64, hi: f64) -> (f64, f64) {
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
fn nice_step(span: f64, target: usize) -> f64 {
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

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// One bar: it spans `span` along the category (or bin) axis and extends
/// from 0 to `value` along the value axis.
#[derive(Debug, Clone)]
pub struct Bar {
    pub span: (f64, f64),
    pub value: f64,
    /// Written at the bar's end (count, share of time ...).
    pub note: Option<String>,
}

/// A box-plot box in plotting coordinates (log10 seconds).
#[derive(Debug, Clone)]
pub struct BoxStat {
    pub x: f64,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub p95: f64,
    pub max: f64,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// Nothing to draw; the reason is shown in the chart and the HTML.
    NoData(String),
    Lines {
        x: Axis,
        y: Axis,
        series: Vec<Series>,
    },
    /// Bars along `x` (or along `y` when `horizontal`).
    Bars {
        x: Axis,
        y: Axis,
        bars: Vec<Bar>,
        horizontal: bool,
    },
    Points {
        x: Axis,
        y: Axis,
        points: Vec<(f64, f64)>,
    },
    Boxes {
        x: Axis,
        y: Axis,
        boxes: Vec<BoxStat>,
    },
}

/// A chart ready to draw.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    /// File stem of the SVG and PNG.
    pub stem: &'static str,
    pub title: String,
    /// One line for the reader of the report.
    pub how_to_read: &'static str,
    pub body: Body,
}

impl ChartSpec {
    /// Why the chart is empty, if it is.
    pub fn no_data(&self) -> Option<&str> {
        match &self.body {
            Body::NoData(reason) => Some(reason),
            _ => None,
        }
    }
}

/// All charts of the report, in display order. Every chart is always
/// present (possibly as "no data") so the set of files is predictable.
pub fn build_all(a: &Analysis) -> Vec<ChartSpec> {
    vec![
        timeline_qps(a),
        timeline_latency(a),
        kinds(a),
        usage_bars(
            "tables",
            "Top 15 tables by total query time",
            "table",
            &a.tables,
            15,
            "Where the time goes by table: a statement counts for every table it reads or writes.",
        ),
        usage_bars(
            "columns",
            "Top 20 columns by total query time",
            "column",
            &a.columns,
            20,
            "Columns used by the most expensive statements: candidates for indexes.",
        ),
        usage_bars(
            "operations",
            "Operations by total query time",
            "operation",
            &a.operations,
            20,
            "What statements do (joins, sorts, aggregates ...), weighted by their time.",
        ),
        scatter(a),
        histogram(a),
        users(a),
    ]
}

/// Positive, finite values only: what a log axis can show.
fn loggable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Parses the timeline's bucket starts; falls back to bucket indices when
/// any of them is in an unknown format.
fn time_axis(starts: &[String], bucket_seconds: i64) -> (Axis, Vec<f64>) {
    use chrono::NaiveDateTime;
    const FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%y%m%d %H:%M:%S",
    ];
    let parse = |s: &str| {
        FORMATS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s.trim(), f).ok())
    };
    let parsed: Option<Vec<NaiveDateTime>> = starts.iter().map(|s| parse(s)).collect();
    let desc = if bucket_seconds > 0 {
        format!("time (server local, {bucket_seconds} s buckets)")
    } else {
        "time (server local)".to_string()
    };
    let n = starts.len();
    // About eight labels fit across the chart without touching.
    let every = n.div_ceil(8).max(1);
    let (xs, ticks): (Vec<f64>, Vec<(f64, String)>) = match parsed {
        Some(times) if !times.is_empty() => {
            let first = times[0];
            let same_day = times.iter().all(|t| t.date() == first.date());
            let fmt = if same_day { "%H:%M" } else { "%m-%d %H:%M" };
            let xs: Vec<f64> = times
                .iter()
                .map(|t| (*t - first).num_milliseconds() as f64 / 1000.0)
                .collect();
            let ticks = times
                .iter()
                .zip(&xs)
                .step_by(every)
                .map(|(t, x)| (*x, t.format(fmt).to_string()))
                .collect();
            (xs, ticks)
        }
        _ => {
            let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let ticks = starts
                .iter()
                .enumerate()
                .step_by(every)
                .map(|(i, s)| (i as f64, units::truncate(s, 14)))
                .collect();
            (xs, ticks)
        }
    };
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = sane_range(lo, hi);
    let axis = Axis {
        desc,
        lo,
        hi,
        ticks,
        minor: Vec::new(),
        grid: true,
    };
    (axis, xs)
}

fn timeline_qps(a: &Analysis) -> ChartSpec {
    let title = "Queries per second over time".to_string();
    let how_to_read = "Load over the capture: spikes and gaps show bursts and quiet periods.";
    let spec = |body| ChartSpec {
        stem: "timeline_qps",
        title: title.clone(),
        how_to_read,
        body,
    };
    if a.timeline.is_empty() {
        return spec(Body::NoData("the logs have no timestamps".into()));
    }
    let starts: Vec<String> = a.timeline.iter().map(|p| p.start.clone()).collect();
    let (x, xs) = time_axis(&starts, a.timeline_bucket_seconds);
    let points: Vec<(f64, f64)> = xs
        .iter()
        .zip(&a.timeline)
        .filter(|(_, p)| p.qps.is_finite() && p.qps >= 0.0)
        .map(|(x, p)| (*x, p.qps))
        .collect();
    if points.is_empty() {
        return spec(Body::NoData("no valid rates in the timeline".into()));
    }
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let y = Axis::linear("queries per second", 0.0, max * 1.1, units::count);
    spec(Body::Lines {
        x,
        y,
        series: vec![Series {
            name: "queries/s".into(),
            color: BLUE,
            points,
        }],
    })
}

fn timeline_latency(a: &Analysis) -> ChartSpec {
    let spec = |body| ChartSpec {
        stem: "timeline_latency",
        title: "Query latency over time (average and p95)".into(),
        how_to_read: "Latency per time bucket on a log scale: p95 far above the average means a slow tail.",
        body,
    };
    let starts: Vec<String> = a.timeline.iter().map(|p| p.start.clone()).collect();
    let (x, xs) = time_axis(&starts, a.timeline_bucket_seconds);
    let series_of = |name: &str, color, get: fn(&crate::analyze::TimelinePoint) -> f64| Series {
        name: name.into(),
        color,
        points: xs
            .iter()
            .zip(&a.timeline)
            .filter(|(_, p)| loggable(get(p)))
            .map(|(x, p)| (*x, get(p).log10()))
            .collect(),
    };
    let series = vec![
        series_of("average", BLUE, |p| p.avg_seconds),
        series_of("p95", VERMILION, |p| p.p95_seconds),
    ];
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return spec(Body::NoData("no query times in the timeline".into()));
    }
    let y = Axis::log(
        "query time (log scale)",
        10f64.powf(lo),
        10f64.powf(hi),
        units::seconds,
    );
    spec(Body::Lines { x, y, series })
}

/// Characters that fit under one of `n` categories across the chart.
fn chars_per_slot(n: usize) -> usize {
    let slot_px = (WIDTH as usize - 140) / n.max(1);
    (slot_px / 8).clamp(4, 24)
}

fn kinds(a: &Analysis) -> ChartSpec {
    let spec = |body| ChartSpec {
        stem: "kinds",
        title: "Statements by kind (count, with share of query time)".into(),
        how_to_read: "How many statements of each kind ran; the label gives their share of the total query time.",
        body,
    };
    let mut kinds: Vec<&Usage> = a.kinds.iter().filter(|u| u.count > 0).collect();
    if kinds.is_empty() {
        return spec(Body::NoData("no statements".into()));
    }
    kinds.sort_by(|x, y| y.count.cmp(&x.count).then(x.name.cmp(&y.name)));
    kinds.truncate(12);
    let total_time: f64 = a
        .kinds
        .iter()
        .map(|u| u.time)
        .filter(|t| t.is_finite() && *t > 0.0)
        .sum();
    let width = chars_per_slot(kinds.len());
    let labels: Vec<String> = kinds
        .iter()
        .map(|u| units::truncate(&u.name, width))
        .collect();
    let bars: Vec<Bar> = kinds
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let share = if total_time > 0.0 && u.time.is_finite() && u.time > 0.0 {
                format!("{} of time", units::percent(u.time / total_time))
            } else {
                units::count(u.count as f64)
            };
            Bar {
                span: (i as f64 - 0.35, i as f64 + 0.35),
                value: u.count as f64,
                note: Some(share),
            }
        })
        .collect();
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    spec(Body::Bars {
        x: Axis::categories("statement kind", &labels, false),
        y: Axis::linear("statements", 0.0, max * 1.15, units::count),
        bars,
        horizontal: false,
    })
}

/// Horizontal bars of the top `top` labels by time (by count when the logs
/// carry no query times, e.g. a general log alone).
fn usage_bars(
    stem: &'static str,
    title: &str,
    what: &str,
    usage: &[Usage],
    top: usize,
    how_to_read: &'static str,
) -> ChartSpec {
    let mut items: Vec<&Usage> = usage
        .iter()
        .filter(|u| u.count > 0 || (u.time.is_finite() && u.time > 0.0))
        .collect();
    let by_time = items.iter().any(|u| u.time.is_finite() && u.time > 0.0);
    let value = |u: &Usage| {
        if by_time {
            if u.time.is_finite() {
                u.time.max(0.0)
            } else {
                0.0
            }
        } else {
            u.count as f64
        }
    };
    items.sort_by(|x, y| {
        value(y)
            .total_cmp(&value(x))
            .then(y.count.cmp(&x.count))
            .then(x.name.cmp(&y.name))
    });
    let shown = items.len().min(top);
    let title = if by_time {
        title.to_string()
    } else {
        title.replace("total query time", "statement count")
    };
    if items.is_empty() {
        return ChartSpec {
            stem,
            title,
            how_to_read,
            body: Body::NoData(format!("no {what}s found in the statements")),
        };
    }
    items.truncate(shown);
    let labels: Vec<String> = items.iter().map(|u| units::truncate(&u.name, 28)).collect();
    let bars: Vec<Bar> = items
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let pos = category_pos(i, shown, true);
            let note = if by_time {
                format!(
                    "{} · {} stmts",
                    units::seconds(value(u)),
                    units::count(u.count as f64)
                )
            } else {
                units::count(u.count as f64)
            };
            Bar {
                span: (pos - 0.35, pos + 0.35),
                value: value(u),
                note: Some(note),
            }
        })
        .collect();
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let (desc, fmt): (&str, fn(f64) -> String) = if by_time {
        ("total query time", units::seconds)
    } else {
        ("statements", units::count)
    };
    ChartSpec {
        stem,
        title,
        how_to_read,
        body: Body::Bars {
            // Room on the right for the notes.
            x: Axis::linear(desc, 0.0, max * 1.3, fmt),
            y: Axis::categories(what, &labels, true),
            bars,
            horizontal: true,
        },
    }
}

fn scatter(a: &Analysis) -> ChartSpec {
    let spec = |body| ChartSpec {
        stem: "scatter",
        title: "Rows examined vs query time (sample of statements)".into(),
        how_to_read: "Each dot is a statement. Slow dots on the right examine many rows (missing index?); slow dots on the left wait on something else (locks, I/O).",
        body,
    };
    let valid: Vec<(f64, f64)> = a
        .scatter
        .iter()
        .filter(|(r, t)| r.is_finite() && *r >= 0.0 && t.is_finite() && *t >= 0.0)
        .map(|&(r, t)| (r.max(0.0), t.max(0.0)))
        .collect();
    if valid.is_empty() {
        return spec(Body::NoData("no statements with rows examined".into()));
    }
    let stride = valid.len().div_ceil(MAX_SCATTER_POINTS).max(1);
    let any_zero_rows = valid.iter().any(|p| p.0 < ZERO_ROWS_AT);
    let any_zero_time = valid.iter().any(|p| p.1 < ZERO_TIME_AT);
    let points: Vec<(f64, f64)> = valid
        .iter()
        .step_by(stride)
        .map(|&(r, t)| (r.max(ZERO_ROWS_AT).log10(), t.max(ZERO_TIME_AT).log10()))
        .collect();
    let (rmin, rmax, tmin, tmax) = points.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
    );
    let x_desc = if any_zero_rows {
        "rows examined (log scale; 0 rows drawn at 0.5)"
    } else {
        "rows examined (log scale)"
    };
    let y_desc = if any_zero_time {
        "query time (log scale; 0 drawn at 1µs)"
    } else {
        "query time (log scale)"
    };
    let mut x = Axis::log(
        x_desc,
        10f64.powf(rmin).max(1.0),
        10f64.powf(rmax),
        units::count,
    );
    if any_zero_rows {
        // Zero gets its own labelled slot left of 1 row.
        x.lo = x.lo.min(0.3f64.log10());
        x.ticks.insert(0, (ZERO_ROWS_AT.log10(), "0".into()));
    }
    let y = Axis::log(y_desc, 10f64.powf(tmin), 10f64.powf(tmax), units::seconds);
    spec(Body::Points { x, y, points })
}

fn histogram(a: &Analysis) -> ChartSpec {
    let spec = |body| ChartSpec {
        stem: "histogram",
        title: "Query time distribution".into(),
        how_to_read: "How many statements took how long (log-spaced bins): a second hump on the right is a slow population.",
        body,
    };
    let bins: Vec<(f64, f64, f64)> = a
        .histogram
        .iter()
        .filter_map(|b| {
            let hi = if b.hi.is_finite() { b.hi } else { b.lo * 10.0 };
            // An open first bin (from 0) gets one decade of width.
            let lo = if loggable(b.lo) { b.lo } else { hi / 10.0 };
            (loggable(lo) && loggable(hi) && hi > lo).then_some((lo, hi, b.count as f64))
        })
        .collect();
    if bins.iter().all(|b| b.2 == 0.0) {
        return spec(Body::NoData("no query times".into()));
    }
    let min = bins.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let max = bins.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max);
    let top = bins.iter().map(|b| b.2).fold(0.0, f64::max);
    let bars = bins
        .iter()
        .filter(|b| b.2 > 0.0)
        .map(|&(lo, hi, count)| Bar {
            span: (lo.log10(), hi.log10()),
            value: count,
            note: None,
        })
        .collect();
    spec(Body::Bars {
        x: Axis::log("query time (log scale)", min, max, units::seconds),
        y: Axis::linear("statements", 0.0, top * 1.1, units::count),
        bars,
        horizontal: false,
    })
}

fn users(a: &Analysis) -> ChartSpec {
    let mut users: Vec<_> = a
        .users
        .iter()
        .filter(|u| u.count > 0 && loggable(u.max))
        .collect();
    users.sort_by(|x, y| {
        y.total
            .total_cmp(&x.total)
            .then(y.count.cmp(&x.count))
            .then(x.user.cmp(&y.user))
    });
    let title = if users.len() > MAX_USERS {
        format!("Latency per user (top {MAX_USERS} by total time)")
    } else {
        "Latency per user".to_string()
    };
    let spec = |body| ChartSpec {
        stem: "users",
        title: title.clone(),
        how_to_read: "Box from first to third quartile with the median as a bar, whiskers from min to max, × at p95; log scale.",
        body,
    };
    if users.is_empty() {
        return spec(Body::NoData("no per-user query times".into()));
    }
    users.truncate(MAX_USERS);
    let width = chars_per_slot(users.len());
    let labels: Vec<String> = users
        .iter()
        .map(|u| units::truncate(&u.user, width))
        .collect();
    let at = |v: f64| v.max(ZERO_TIME_AT).log10();
    let finite_or = |v: f64, d: f64| if v.is_finite() { v } else { d };
    let boxes: Vec<BoxStat> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let max = u.max;
            let min = finite_or(u.min, max).min(max);
            let clamp = |v: f64| finite_or(v, min).clamp(min, max);
            let (q1, median, q3) = (clamp(u.q1), clamp(u.median), clamp(u.q3));
            BoxStat {
                x: i as f64,
                min: at(min),
                q1: at(q1.min(median)),
                median: at(median),
                q3: at(q3.max(median)),
                p95: at(clamp(u.p95)),
                max: at(max),
            }
        })
        .collect();
    let lo = boxes.iter().map(|b| b.min).fold(f64::INFINITY, f64::min);
    let hi = boxes
        .iter()
        .map(|b| b.max)
        .fold(f64::NEG_INFINITY, f64::max);
    spec(Body::Boxes {
        x: Axis::categories(
            "user — box: q1 to q3, bar: median, whiskers: min to max, ×: p95",
            &labels,
            false,
        ),
        y: Axis::log(
            "query time (log scale)",
            10f64.powf(lo),
            10f64.powf(hi),
            units::seconds,
        ),
        boxes,
    })
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// A linear f64 coordinate whose grid lines and labels sit exactly at the
/// spec's ticks. plotters' own `WithKeyPoints` does not allow a label
/// formatter, and its log coordinates pick no ticks on short ranges.
#[derive(Debug, Clone)]
struct Coord {
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

fn coord(axis: &Axis) -> Coord {
    Coord {
        lo: axis.lo,
        hi: axis.hi,
        ticks: axis.ticks.iter().map(|t| t.0).collect(),
        minor: axis.minor.clone(),
    }
}

/// Metrics across pipeline runs: one line per metric, runs oldest to
/// newest along x. Missing values (a failed run) leave a gap in the line.
pub fn runs_chart(runs: &[String], metrics: &[(&str, Vec<Option<f64>>)]) -> ChartSpec {
    let colors = [BLUE, VERMILION, RGBColor(0, 158, 115), GREY];
    let max = metrics
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0f64, |m, v| if v.is_finite() { m.max(*v) } else { m });
    let series: Vec<Series> = metrics
        .iter()
        .zip(colors.iter().cycle())
        .map(|((name, values), color)| Series {
            name: (*name).to_string(),
            color: *color,
            points: values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i as f64, v)))
                .collect(),
        })
        .collect();
    let body = if series.iter().all(|s| s.points.is_empty()) {
        Body::NoData("no finished run with metrics yet".into())
    } else {
        Body::Lines {
            x: Axis::categories("run", runs, false),
            y: Axis::linear("test metric", 0.0, max * 1.15, units::count),
            series,
        }
    };
    ChartSpec {
        stem: "pipeline_runs",
        title: "Test metrics of each pipeline run".into(),
        how_to_read: "Each point is one run's candidate on its test split; lower is better for q-error and MSE.",
        body,
    }
}

/// Draws a chart on any backend.
pub fn draw<DB: DrawingBackend>(
    spec: &ChartSpec,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    ensure_font()?;
    root.fill(&WHITE).map_err(err)?;
    let (x, y) = match &spec.body {
        Body::NoData(reason) => {
            let area = root.titled(&spec.title, font(22)).map_err(err)?;
            let (w, h) = area.dim_in_pixel();
            let style = font(18)
                .color(&GREY)
                .pos(Pos::new(HPos::Center, VPos::Center));
            area.draw(&Text::new(
                format!("no data: {reason}"),
                (w as i32 / 2, h as i32 / 2),
                style,
            ))
            .map_err(err)?;
            return root.present().map_err(err);
        }
        Body::Lines { x, y, .. }
        | Body::Bars { x, y, .. }
        | Body::Points { x, y, .. }
        | Body::Boxes { x, y, .. } => (x, y),
    };
    // Sized for the widest tick label (8 px a character) plus the axis title.
    let y_area = (y.widest_label() * 8 + 45).clamp(70, 300) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(&spec.title, font(22))
        .margin(15)
        .margin_right(30)
        .x_label_area_size(55)
        .y_label_area_size(y_area)
        .build_cartesian_2d(coord(x), coord(y))
        .map_err(err)?;
    let fx = |v: &f64| x.label_at(*v);
    let fy = |v: &f64| y.label_at(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .x_desc(&x.desc)
        .y_desc(&y.desc)
        .label_style(font(14))
        .axis_desc_style(font(15))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04));
    if !x.grid {
        mesh.disable_x_mesh();
    }
    if !y.grid {
        mesh.disable_y_mesh();
    }
    mesh.draw().map_err(err)?;

    match &spec.body {
        Body::NoData(_) => {}
        Body::Lines { series, .. } => {
            for s in series {
                let color = s.color;
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(&s.name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                // Single buckets would be invisible as a line.
                if s.points.len() < 3 {
                    chart
                        .draw_series(s.points.iter().map(|p| Circle::new(*p, 4, color.filled())))
                        .map_err(err)?;
                }
            }
            if series.len() > 1 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font(font(14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.3))
                    .draw()
                    .map_err(err)?;
            }
        }
        Body::Bars {
            bars, horizontal, ..
        } => {
            let horizontal = *horizontal;
            let corners = |b: &Bar| {
                if horizontal {
                    [(0.0, b.span.0), (b.value, b.span.1)]
                } else {
                    [(b.span.0, 0.0), (b.span.1, b.value)]
                }
            };
            chart
                .draw_series(
                    bars.iter()
                        .map(|b| Rectangle::new(corners(b), BLUE.mix(0.8).filled())),
                )
                .map_err(err)?;
            let note_style = font(13).color(&GREY);
            chart
                .draw_series(bars.iter().filter_map(|b| {
                    let note = b.note.clone()?;
                    let mid = (b.span.0 + b.span.1) / 2.0;
                    let (at, offset, pos) = if horizontal {
                        ((b.value, mid), (6, 0), Pos::new(HPos::Left, VPos::Center))
                    } else {
                        (
                            (mid, b.value),
                            (0, -4),
                            Pos::new(HPos::Center, VPos::Bottom),
                        )
                    };
                    Some(EmptyElement::at(at) + Text::new(note, offset, note_style.pos(pos)))
                }))
                .map_err(err)?;
        }
        Body::Points { points, .. } => {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new(*p, 3, BLUE.mix(0.35).filled())),
                )
                .map_err(err)?;
        }
        Body::Boxes { boxes, .. } => draw_boxes(&mut chart, boxes)?,
    }
    root.present().map_err(err)
}

fn draw_boxes<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    boxes: &[BoxStat],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    const HALF: f64 = 0.3;
    const CAP: f64 = 0.12;
    let line = GREY.stroke_width(1);
    for b in boxes {
        let c = b.x;
        let whiskers = [
            vec![(c, b.min), (c, b.q1)],
            vec![(c, b.q3), (c, b.max)],
            vec![(c - CAP, b.min), (c + CAP, b.min)],
            vec![(c - CAP, b.max), (c + CAP, b.max)],
        ];
        chart
            .draw_series(whiskers.into_iter().map(|p| PathElement::new(p, line)))
            .map_err(err)?;
        chart
            .draw_series([
                Rectangle::new([(c - HALF, b.q1), (c + HALF, b.q3)], BLUE.mix(0.3).filled()),
                Rectangle::new([(c - HALF, b.q1), (c + HALF, b.q3)], BLUE.stroke_width(1)),
            ])
            .map_err(err)?;
        chart
            .draw_series([PathElement::new(
                vec![(c - HALF, b.median), (c + HALF, b.median)],
                BLUE.stroke_width(3),
            )])
            .map_err(err)?;
        chart
            .draw_series([Cross::new((c, b.p95), 5, VERMILION.stroke_width(2))])
            .map_err(err)?;
    }
    Ok(())
}

/// Renders a chart as an SVG document (a string, for inlining).
pub fn render_svg(spec: &ChartSpec) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(spec, &root)?;
    }
    Ok(out)
}

/// Renders a chart as a PNG file.
pub fn render_png(spec: &ChartSpec, path: &Path) -> Result<(), String> {
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    draw(spec, &root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coords(body: &Body) -> Vec<f64> {
        let axis = |a: &Axis| {
            let mut v = vec![a.lo, a.hi];
            v.extend(a.ticks.iter().map(|t| t.0));
            v.extend(a.minor.iter().copied());
            v
        };
        match body {
            Body::NoData(_) => vec![],
            Body::Lines { x, y, series } => {
                let mut v = [axis(x), axis(y)].concat();
                v.extend(
                    series
                        .iter()
                        .flat_map(|s| s.points.iter().flat_map(|p| [p.0, p.1])),
                );
                v
            }
            Body::Bars { x, y, bars, .. } => {
                let mut v = [axis(x), axis(y)].concat();
                v.extend(bars.iter().flat_map(|b| [b.span.0, b.span.1, b.value]));
                v
            }
            Body::Points { x, y, points } => {
                let mut v = [axis(x), axis(y)].concat();
                v.extend(points.iter().flat_map(|p| [p.0, p.1]));
                v
            }
            Body::Boxes { x, y, boxes } => {
                let mut v = [axis(x), axis(y)].concat();
                v.extend(
                    boxes
                        .iter()
                        .flat_map(|b| [b.x, b.min, b.q1, b.median, b.q3, b.p95, b.max]),
                );
                v
            }
        }
    }

    #[test]
    fn log_axis_labels_whole_decades_in_human_units() {
        let a = Axis::log("t", 3e-6, 0.2, units::seconds);
        assert_eq!((a.lo, a.hi), (-6.0, 0.0));
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["1µs", "10µs", "100µs", "1ms", "10ms", "100ms", "1s"]
        );
        // A value within one decade still gets two labelled ticks.
        let a = Axis::log("t", 0.02, 0.03, units::seconds);
        assert_eq!(a.ticks.len(), 2);
        // Wide ranges are thinned to about ten labels.
        assert!(Axis::log("t", 1e-9, 1e9, units::seconds).ticks.len() <= 10);
    }

    #[test]
    fn linear_ticks_are_nice_and_cover_the_range() {
        let a = Axis::linear("n", 0.0, 47.0, units::count);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "10", "20", "30", "40"]);
        let a = Axis::linear("n", 0.0, 0.0, units::count);
        assert!(a.hi > a.lo);
    }

    #[test]
    fn category_labels_resolve_to_names() {
        let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let a = Axis::categories("x", &names, true);
        assert_eq!(a.label_at(2.0), "a");
        assert_eq!(a.label_at(0.0), "c");
        assert_eq!(a.label_at(0.5), "");
    }

    #[test]
    fn unparseable_timestamps_fall_back_to_bucket_order() {
        let starts = vec!["later".to_string(), "2024-05-01 10:01:00".to_string()];
        let (axis, xs) = time_axis(&starts, 60);
        assert_eq!(xs, [0.0, 1.0]);
        assert_eq!(axis.ticks[0].1, "later");
        let starts = vec!["2024-05-01 23:59:00".into(), "2024-05-02 00:01:00".into()];
        let (axis, xs) = time_axis(&starts, 60);
        assert_eq!(xs, [0.0, 120.0]);
        assert_eq!(axis.ticks[0].1, "05-01 23:59");
    }

    #[test]
    fn bars_use_counts_when_there_are_no_times() {
        let usage = vec![
            Usage {
                name: "t".repeat(40),
                count: 3,
                time: 0.0,
            },
            Usage {
                name: "u".into(),
                count: 5,
                time: f64::NAN,
            },
        ];
        let spec = usage_bars(
            "tables",
            "Top tables by total query time",
            "table",
            &usage,
            15,
            "",
        );
        assert!(spec.title.contains("statement count"));
        let Body::Bars { bars, y, .. } = &spec.body else {
            panic!("expected bars")
        };
        assert_eq!(bars[0].value, 5.0);
        assert!(y.ticks.iter().all(|t| t.1.chars().count() <= 28));
        assert!(coords(&spec.body).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn specs_never_carry_non_finite_coordinates() {
        use crate::analyze::{HistogramBin, Quality, Stats, TimelinePoint, UserLatency};
        let zero = Stats {
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            avg: 0.0,
            median: 0.0,
            p95: 0.0,
        };
        let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0, 0.5];
        let a = Analysis {
            query_count: 1,
            unique_query_count: 1,
            classes: vec![],
            total_query_time: zero,
            inputs: vec![],
            time_range: None,
            timeline_bucket_seconds: 0,
            timeline: bad
                .iter()
                .map(|&v| TimelinePoint {
                    start: "2024-01-01 00:00:00".into(),
                    queries: 1,
                    qps: v,
                    avg_seconds: v,
                    p95_seconds: v,
                    max_seconds: v,
                })
                .collect(),
            kinds: bad
                .iter()
                .map(|&v| Usage {
                    name: "k".into(),
                    count: 1,
                    time: v,
                })
                .collect(),
            tables: vec![],
            columns: vec![],
            operations: vec![],
            scatter: bad.iter().flat_map(|&r| bad.map(|t| (r, t))).collect(),
            histogram: bad
                .iter()
                .map(|&v| HistogramBin {
                    lo: v,
                    hi: v * 2.0,
                    count: 1,
                })
                .collect(),
            users: bad
                .iter()
                .map(|&v| UserLatency {
                    user: "u".into(),
                    count: 1,
                    min: v,
                    q1: v,
                    median: v,
                    q3: v,
                    p95: v,
                    max: v,
                    total: v,
                })
                .collect(),
            quality: Quality::default(),
        };
        for spec in build_all(&a) {
            let c = coords(&spec.body);
            assert!(c.iter().all(|v| v.is_finite()), "{}: {c:?}", spec.stem);
            render_svg(&spec).unwrap_or_else(|e| panic!("{}: {e}", spec.stem));
        }
    }
}
