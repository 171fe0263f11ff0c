//! The report's charts, as specs.
//!
//! Each chart is first turned into a [`ChartSpec`]: plain plotting
//! coordinates (log axes already in log10 space), tick positions with their
//! human labels, and truncated names. All decisions about the data — what to
//! drop, floor, cap or truncate — happen here, so they are testable without
//! pixels, and plotters never sees a NaN, an infinity or a log of zero.
//! Drawing is [`crate::plot`]'s: [`draw`] renders a spec on any plotters
//! backend; the same function produces the SVG (inlined in the HTML) and
//! the PNG.

mod latency;
#[cfg(test)]
mod tests;

pub use crate::plot::figure::{HEIGHT, WIDTH};
pub use crate::plot::{Axis, Bar, Body, BoxStat, ChartSpec, Series, draw, render_png, render_svg};

use super::units;
use crate::analyze::{Analysis, Usage};
use crate::plot::axis::{category_pos, sane_range};
use crate::plot::{BLUE, GREEN, GREY, VERMILION};
use latency::{histogram, scatter, users};

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

/// Metrics across pipeline runs: one line per metric, runs oldest to
/// newest along x. Missing values (a failed run) leave a gap in the line.
pub fn runs_chart(runs: &[String], metrics: &[(&str, Vec<Option<f64>>)]) -> ChartSpec {
    let colors = [BLUE, VERMILION, GREEN, GREY];
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
