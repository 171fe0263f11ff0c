//! The evaluation's plots: predicted vs measured scatter per model, the
//! q-error CDF, and the error by fingerprint, each as PNG and SVG. The plot
//! specs ([`Plot`]) are built from the per-sample results and drawn apart
//! from them.

use super::metrics::{clamp_seconds, percentile_nearest_rank, q_error};
use super::run::PerSample;
pub(crate) use crate::plot::color;
use crate::plot::{draw_no_data, ensure_font, err, font, legend, style_mesh};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Fingerprints in the per-fingerprint error chart.
pub const TOP_FINGERPRINTS: usize = 20;

/// Scatter points drawn per model; beyond it points are thinned evenly so
/// the SVG (one element per point) stays small.
pub(crate) const MAX_SCATTER_POINTS: usize = 5_000;
/// Points per model on the q-error CDF: the curve's shape needs no more.
pub(crate) const MAX_CDF_POINTS: usize = 500;
/// Characters of a fingerprint shown as a bar label.
pub(crate) const LABEL_CHARS: usize = 48;

pub(crate) const SIZE: (u32, u32) = (1000, 620);
pub(crate) const BARS_SIZE: (u32, u32) = (1200, 900);

/// A plot ready to draw: every coordinate finite, log axes already in
/// log10 space, axis ranges non-empty.
#[derive(Debug, Clone)]
pub struct Plot {
    pub stem: String,
    pub title: String,
    pub(crate) size: (u32, u32),
    pub(crate) body: PlotBody,
}

#[derive(Debug, Clone)]
pub(crate) enum PlotBody {
    NoData(String),
    /// log10 actual (x) vs log10 predicted (y), with the y = x diagonal.
    Scatter {
        range: (f64, f64),
        points: Vec<(f64, f64)>,
        color: RGBColor,
    },
    /// One cumulative curve per model: x = log10 q-error, y = share.
    Cdf {
        x_hi: f64,
        curves: Vec<Curve>,
    },
    /// Horizontal grouped bars: per label (top first), per model, the
    /// log10 median q-error.
    Bars {
        labels: Vec<String>,
        models: Vec<(String, RGBColor)>,
        values: Vec<Vec<f64>>,
        x_hi: f64,
    },
}

/// One model's line on a chart.
#[derive(Debug, Clone)]
pub(crate) struct Curve {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// All plots for the time split's per-statement predictions.
pub fn build_plots(ps: &PerSample) -> Vec<Plot> {
    let mut plots = Vec::new();
    let mut stems = HashSet::new();
    for (i, s) in ps.models.iter().enumerate() {
        let mut stem = format!("pred_vs_actual_{}", slug(&s.model));
        if !stems.insert(stem.clone()) {
            stem = format!("{stem}_{i}");
            stems.insert(stem.clone());
        }
        plots.push(scatter(
            stem,
            &s.model,
            color(i),
            &ps.truth,
            &s.predicted_seconds,
        ));
    }
    plots.push(cdf(ps));
    plots.push(by_fingerprint(ps));
    plots
}

pub(crate) fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "model".into() } else { s }
}

/// Whole decades around `lo..hi` (log10 values), at least one decade wide.
pub(crate) fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (lo.floor(), hi.ceil());
    if hi - lo < 1.0 {
        (lo, lo + 1.0)
    } else {
        (lo, hi)
    }
}

pub(crate) fn scatter(
    stem: String,
    model: &str,
    color: RGBColor,
    truth: &[f64],
    pred: &[f64],
) -> Plot {
    let pairs: Vec<(f64, f64)> = truth
        .iter()
        .zip(pred)
        .filter(|(t, p)| p.is_finite() && t.is_finite())
        .map(|(&t, &p)| (clamp_seconds(t).log10(), clamp_seconds(p).log10()))
        .collect();
    let hidden = truth.len().min(pred.len()) - pairs.len();
    let mut title = format!(
        "Predicted vs actual: {model} (time split, n = {})",
        pairs.len()
    );
    if hidden > 0 {
        let _ = write!(title, "; {hidden} non-finite not shown");
    }
    let body = if pairs.is_empty() {
        PlotBody::NoData("no finite predictions".into())
    } else {
        let (lo, hi) = pairs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p.0).min(p.1), h.max(p.0).max(p.1))
            });
        let stride = pairs.len().div_ceil(MAX_SCATTER_POINTS).max(1);
        PlotBody::Scatter {
            range: decades(lo, hi),
            points: pairs.into_iter().step_by(stride).collect(),
            color,
        }
    };
    Plot {
        stem,
        title,
        size: SIZE,
        body,
    }
}

pub(crate) fn q_errors(ps: &PerSample, pred: &[f64]) -> Vec<f64> {
    ps.truth
        .iter()
        .zip(pred)
        .map(|(&t, &p)| q_error(p, t))
        .collect()
}

pub(crate) fn cdf(ps: &PerSample) -> Plot {
    let mut x_hi: f64 = 1.0;
    let mut curves = Vec::new();
    for (i, s) in ps.models.iter().enumerate() {
        let mut q = q_errors(ps, &s.predicted_seconds);
        if q.is_empty() {
            continue;
        }
        q.sort_by(f64::total_cmp);
        let n = q.len();
        let stride = n.div_ceil(MAX_CDF_POINTS).max(1);
        let mut pts: Vec<(f64, f64)> = (0..n)
            .step_by(stride)
            .chain(std::iter::once(n - 1))
            .map(|k| (q[k].log10(), (k + 1) as f64 / n as f64))
            .collect();
        pts.dedup_by(|a, b| a == b);
        x_hi = x_hi.max(q[n - 1].log10().ceil());
        curves.push(Curve {
            name: s.model.clone(),
            color: color(i),
            points: pts,
        });
    }
    let body = if curves.is_empty() {
        PlotBody::NoData("no predictions".into())
    } else {
        PlotBody::Cdf { x_hi, curves }
    };
    Plot {
        stem: "qerror_cdf".into(),
        title: "q-error CDF (time split): higher and further left is better".into(),
        size: SIZE,
        body,
    }
}

pub(crate) fn by_fingerprint(ps: &PerSample) -> Plot {
    let mut members: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, fp) in ps.fingerprints.iter().enumerate().take(ps.truth.len()) {
        members.entry(fp.as_str()).or_default().push(i);
    }
    let mut top: Vec<(&str, Vec<usize>)> = members.into_iter().collect();
    top.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    top.truncate(TOP_FINGERPRINTS);

    let models: Vec<(String, RGBColor)> = ps
        .models
        .iter()
        .enumerate()
        .map(|(i, s)| (s.model.clone(), color(i)))
        .collect();
    let mut x_hi: f64 = 1.0;
    let values: Vec<Vec<f64>> = top
        .iter()
        .map(|(_, idx)| {
            ps.models
                .iter()
                .map(|s| {
                    let mut q: Vec<f64> = idx
                        .iter()
                        .filter_map(|&i| Some(q_error(*s.predicted_seconds.get(i)?, ps.truth[i])))
                        .collect();
                    q.sort_by(f64::total_cmp);
                    let v = percentile_nearest_rank(&q, 50.0).max(1.0).log10();
                    x_hi = x_hi.max(v.ceil());
                    v
                })
                .collect()
        })
        .collect();
    let labels = top
        .iter()
        .map(|(fp, idx)| format!("{} (n={})", truncate(fp, LABEL_CHARS), idx.len()))
        .collect();
    let body = if top.is_empty() || models.is_empty() {
        PlotBody::NoData("no predictions".into())
    } else {
        PlotBody::Bars {
            labels,
            models,
            values,
            x_hi,
        }
    };
    Plot {
        stem: "qerror_by_fingerprint".into(),
        title: format!(
            "Median q-error of the {TOP_FINGERPRINTS} most frequent fingerprints (time split)"
        ),
        size: BARS_SIZE,
        body,
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Human label of 10^v seconds: "1µs", "10ms", "1s", "100s" (the one
/// duration format, [`crate::report::units::seconds`]).
pub(crate) fn seconds_label(v: f64) -> String {
    crate::report::units::seconds(10f64.powf(v))
}

/// Human label of a q-error of 10^v: "1×", "10×", "1e4×".
pub(crate) fn factor_label(v: f64) -> String {
    let q = 10f64.powf(v);
    if q < 1000.0 {
        format!("{}×", trim(q))
    } else {
        format!("{q:.0e}×")
    }
}

pub(crate) fn trim(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", x.round())
    } else {
        format!("{x:.1}")
    }
}

/// Labels for about one tick per decade, capped so labels do not collide.
pub(crate) fn tick_count(lo: f64, hi: f64) -> usize {
    ((hi - lo).round() as usize + 1).clamp(2, 13)
}

impl Plot {
    /// Draws on any plotters backend (PNG and SVG share this code).
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        ensure_font()?;
        root.fill(&WHITE).map_err(err)?;
        match &self.body {
            PlotBody::NoData(reason) => draw_no_data(root, &self.title, 20, font(18), reason)?,
            PlotBody::Scatter {
                range,
                points,
                color,
            } => self.draw_scatter(root, *range, points, *color)?,
            PlotBody::Cdf { x_hi, curves } => self.draw_cdf(root, *x_hi, curves)?,
            PlotBody::Bars {
                labels,
                models,
                values,
                x_hi,
            } => self.draw_bars(root, labels, models, values, *x_hi)?,
        }
        root.present().map_err(err)
    }

    fn draw_scatter<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (lo, hi): (f64, f64),
        points: &[(f64, f64)],
        c: RGBColor,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(20))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(tick_count(lo, hi))
            .y_labels(tick_count(lo, hi))
            .x_label_formatter(&|v| seconds_label(*v))
            .y_label_formatter(&|v| seconds_label(*v))
            .x_desc("actual time (log scale)")
            .y_desc("predicted time (log scale)");
        style_mesh(&mut mesh, 14).draw().map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(lo, lo), (hi, hi)],
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new(*p, 2, c.mix(0.35).filled())),
            )
            .map_err(err)?;
        Ok(())
    }

    fn draw_cdf<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x_hi: f64,
        curves: &[Curve],
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(20))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_hi, 0.0..1.0)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(tick_count(0.0, x_hi))
            .x_label_formatter(&|v| factor_label(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .x_desc("q-error (log scale)")
            .y_desc("share of statements with at most this q-error");
        style_mesh(&mut mesh, 14).draw().map_err(err)?;
        for curve in curves {
            let c = curve.color;
            chart
                .draw_series(LineSeries::new(
                    curve.points.iter().copied(),
                    c.stroke_width(2),
                ))
                .map_err(err)?
                .label(curve.name.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }

    fn draw_bars<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        labels: &[String],
        models: &[(String, RGBColor)],
        values: &[Vec<f64>],
        x_hi: f64,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let n = labels.len();
        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let pos = |i: usize| (n - 1 - i) as f64;
        let label_at = |v: f64| {
            let r = v.round();
            if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < n {
                labels[n - 1 - r as usize].clone()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(20))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size((widest as u32 * 7 + 20).clamp(80, 460))
            .build_cartesian_2d(0.0..x_hi, -0.5..(n as f64 - 0.5))
            .map_err(err)?;
        let y_label = |v: &f64| label_at(*v);
        let mut mesh = chart.configure_mesh();
        mesh.disable_y_mesh()
            .x_labels(tick_count(0.0, x_hi))
            .y_labels(n + 1)
            .x_label_formatter(&|v| factor_label(*v))
            .y_label_formatter(&y_label)
            .x_desc("median q-error (log scale)");
        style_mesh(&mut mesh, 12).draw().map_err(err)?;
        let band = 0.8 / models.len().max(1) as f64;
        for (j, (name, c)) in models.iter().enumerate() {
            let c = *c;
            let rects = values.iter().enumerate().filter_map(|(i, row)| {
                let v = *row.get(j)?;
                let top = pos(i) + 0.4 - band * j as f64;
                Some(Rectangle::new([(0.0, top - band), (v, top)], c.filled()))
            });
            chart
                .draw_series(rects)
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }

    /// Every coordinate the plot would draw, for tests: all must be finite.
    #[cfg(test)]
    pub(crate) fn coordinates(&self) -> Vec<f64> {
        match &self.body {
            PlotBody::NoData(_) => Vec::new(),
            PlotBody::Scatter { range, points, .. } => [range.0, range.1]
                .into_iter()
                .chain(points.iter().flat_map(|p| [p.0, p.1]))
                .collect(),
            PlotBody::Cdf { x_hi, curves } => std::iter::once(*x_hi)
                .chain(
                    curves
                        .iter()
                        .flat_map(|c| c.points.iter().flat_map(|p| [p.0, p.1])),
                )
                .collect(),
            PlotBody::Bars { values, x_hi, .. } => std::iter::once(*x_hi)
                .chain(values.iter().flatten().copied())
                .collect(),
        }
    }
}
