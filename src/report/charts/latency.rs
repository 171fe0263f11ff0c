//! The latency charts: rows examined against query time, the query-time
//! histogram and the per-user box plot.

use super::{Axis, Bar, Body, BoxStat, ChartSpec, chars_per_slot, loggable, units};
use crate::analyze::Analysis;

/// Most scatter points drawn; beyond it points are thinned evenly, which
/// keeps the inline SVG (one element per point) a reasonable size.
const MAX_SCATTER_POINTS: usize = 5_000;
/// Where a statement that examined no rows is drawn on the log axis.
const ZERO_ROWS_AT: f64 = 0.5;
/// Where a zero query time is drawn on the log axis.
const ZERO_TIME_AT: f64 = 1e-6;
const MAX_USERS: usize = 15;

pub(super) fn scatter(a: &Analysis) -> ChartSpec {
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

pub(super) fn histogram(a: &Analysis) -> ChartSpec {
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

pub(super) fn users(a: &Analysis) -> ChartSpec {
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
