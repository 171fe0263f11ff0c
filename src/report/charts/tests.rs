//! Known answers for the chart specs: axes, fallbacks and the promise that
//! no spec carries a non-finite coordinate.

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
                covered_seconds: v,
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
