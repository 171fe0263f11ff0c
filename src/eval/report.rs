//! Writes an evaluation for people and tools: `eval.json` (the
//! [`EvalResults`]), `eval.md` (every model × split, for all statements and
//! the analytic subset) and plots as PNG and SVG.
//!
//! Plots never see a NaN or an infinity: times are clamped to the metrics'
//! 1 µs..10⁶ s range (so the plots agree with the numbers), non-finite
//! predictions are left out of the scatter and counted in its title, and
//! empty inputs give a "no data" chart, so the set of files is predictable.

use super::metrics::{
    MeanStd, Metrics, MetricsSummary, clamp_seconds, percentile_nearest_rank, q_error,
};
use super::run::{EvalResults, PerSample, SplitKind};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why the report could not be written; each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialise {}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot draw {}: {message}", path.display())]
    Chart { path: PathBuf, message: String },
}

/// Fingerprints in the per-fingerprint error chart.
pub const TOP_FINGERPRINTS: usize = 20;
/// Scatter points drawn per model; beyond it points are thinned evenly so
/// the SVG (one element per point) stays small.
const MAX_SCATTER_POINTS: usize = 5_000;
/// Points per model on the q-error CDF: the curve's shape needs no more.
const MAX_CDF_POINTS: usize = 500;
/// Characters of a fingerprint shown as a bar label.
const LABEL_CHARS: usize = 48;

const SIZE: (u32, u32) = (1000, 620);
const BARS_SIZE: (u32, u32) = (1200, 900);

/// Same bundled font as the analysis report, so PNG text renders without
/// system fonts; registering the same bytes twice is harmless.
static FONT: &[u8] = include_bytes!("../report/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Okabe–Ito: colour-blind friendly, assigned to models in order.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Writes `eval.json`, `eval.md` and every plot (`NAME.png` and `NAME.svg`)
/// into `dir`, created if needed. Returns the paths written.
pub fn write_report(
    results: &EvalResults,
    per_sample: &PerSample,
    dir: &Path,
) -> Result<Vec<PathBuf>, EvalError> {
    std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();

    let json_path = dir.join("eval.json");
    let json = serde_json::to_string_pretty(results).map_err(|source| EvalError::Json {
        path: json_path.clone(),
        source,
    })?;
    write_file(&json_path, json.as_bytes())?;
    written.push(json_path);

    let plots = build_plots(per_sample);
    let md_path = dir.join("eval.md");
    write_file(&md_path, markdown(results, &plots).as_bytes())?;
    written.push(md_path);

    for plot in &plots {
        let png = dir.join(format!("{}.png", plot.stem));
        {
            let root = BitMapBackend::new(&png, plot.size).into_drawing_area();
            plot.draw(&root).map_err(|message| EvalError::Chart {
                path: png.clone(),
                message,
            })?;
        }
        written.push(png);
        let svg_path = dir.join(format!("{}.svg", plot.stem));
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, plot.size).into_drawing_area();
            plot.draw(&root).map_err(|message| EvalError::Chart {
                path: svg_path.clone(),
                message,
            })?;
        }
        write_file(&svg_path, svg.as_bytes())?;
        written.push(svg_path);
    }
    if !per_sample.unseen.truth.is_empty() {
        let csv_path = dir.join("unseen_shapes.csv");
        write_file(&csv_path, unseen_shapes_csv(&per_sample.unseen).as_bytes())?;
        written.push(csv_path);
    }
    Ok(written)
}

/// One row per fingerprint of the grouped CV (each predicted by models that
/// never saw it): statements, median measured time, and per model the
/// median prediction and median q-error; worst first by the first model.
/// The table behind "which new shapes does the model get wrong".
pub fn unseen_shapes_csv(unseen: &super::run::UnseenSeries) -> String {
    use std::collections::BTreeMap;
    let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, fp) in unseen.fingerprints.iter().enumerate() {
        rows.entry(fp.as_str()).or_default().push(i);
    }
    let median = |mut v: Vec<f64>| -> f64 {
        v.retain(|x| x.is_finite());
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            f64::NAN
        } else {
            crate::featurize::median_sorted(&v)
        }
    };
    let mut table: Vec<(f64, Vec<String>)> = rows
        .iter()
        .map(|(fp, idx)| {
            let truth = median(idx.iter().map(|&i| unseen.truth[i]).collect());
            let mut record = vec![fp.to_string(), idx.len().to_string(), format!("{truth:.6}")];
            let mut first_q = f64::NAN;
            for (m, series) in unseen.models.iter().enumerate() {
                let pred = |i: usize| series.predicted_seconds.get(i).copied().unwrap_or(f64::NAN);
                let p = median(idx.iter().map(|&i| pred(i)).collect());
                let q = median(
                    idx.iter()
                        .map(|&i| crate::eval::metrics::q_error(pred(i), unseen.truth[i]))
                        .collect(),
                );
                if m == 0 {
                    first_q = q;
                }
                record.push(format!("{p:.6}"));
                record.push(format!("{q:.3}"));
            }
            (first_q, record)
        })
        .collect();
    table.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut header = vec![
        "fingerprint".to_string(),
        "statements".to_string(),
        "median_seconds".to_string(),
    ];
    for series in &unseen.models {
        header.push(format!("{}_median_predicted_seconds", series.model));
        header.push(format!("{}_median_q_error", series.model));
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a record that could not be written is
    // left out rather than failing the whole report.
    for record in std::iter::once(header).chain(table.into_iter().map(|(_, r)| r)) {
        let _ = w.write_record(&record);
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    std::fs::write(path, bytes).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })
}

// ---------------------------------------------------------------- Markdown

/// The Markdown report: both tables, notes on anything suspicious, plots.
pub fn markdown(results: &EvalResults, plots: &[Plot]) -> String {
    let mut md = String::new();
    let c = &results.config;
    let _ = writeln!(md, "# Latency model evaluation\n");
    let _ = writeln!(
        md,
        "{} statements evaluated ({} dropped for a missing or invalid time); seed {}, \
         test fraction {}, {} grouped folds; classes: fast < {} s ≤ medium < {} s ≤ slow.\n",
        results.samples,
        results.dropped_samples,
        c.seed,
        c.test_fraction,
        c.folds,
        c.thresholds.fast_below,
        c.thresholds.slow_from
    );
    let _ = writeln!(
        md,
        "Metrics on ln-seconds and q-errors (max(pred/true, true/pred), both floored at 1 µs; \
         nearest-rank percentiles). Coverage: share of statements inside the predicted p10–p90 \
         interval (ideal 0.80). F1: macro over classes present. Grouped CV: mean ± std over \
         folds, no fingerprint in both train and test.\n"
    );
    for (title, analytic) in [
        ("All statements", false),
        ("Analytic subset (statements ≥ 10 ms)", true),
    ] {
        let _ = writeln!(md, "## {title}\n");
        md.push_str(&table(results, analytic));
        md.push('\n');
    }

    let non_finite: Vec<String> = results
        .holdout
        .iter()
        .filter(|h| h.non_finite_predictions > 0)
        .map(|h| (&h.model, h.split, h.non_finite_predictions))
        .chain(
            results
                .grouped_cv
                .iter()
                .filter(|r| r.non_finite_predictions > 0)
                .map(|r| (&r.model, SplitKind::GroupedCv, r.non_finite_predictions)),
        )
        .map(|(m, s, n)| format!("- {} on {}: {n}", cell(m), s.label()))
        .collect();
    if !non_finite.is_empty() {
        let _ = writeln!(
            md,
            "## Non-finite predictions\n\nScored as 1 µs (NaN) or 10⁶ s (∞), not skipped:\n"
        );
        md.push_str(&non_finite.join("\n"));
        md.push_str("\n\n");
    }
    if !results.errors.is_empty() {
        let _ = writeln!(md, "## Errors\n\nThese model/split results are missing:\n");
        for e in &results.errors {
            let _ = writeln!(md, "- {}", cell(e));
        }
        md.push('\n');
    }
    if !plots.is_empty() {
        let _ = writeln!(md, "## Plots (time-ordered split)\n");
        for p in plots {
            let _ = writeln!(md, "![{}]({}.png)\n", cell(&p.title), p.stem);
        }
    }
    md
}

/// The metrics table (all statements, or the analytic subset) in Markdown.
pub fn table(results: &EvalResults, analytic: bool) -> String {
    let mut t = String::from(
        "| Model | Split | n | MSE(ln) | R²(ln) | MAE s | q-err p50 | q-err p90 | q-err p99 | Coverage | Class acc | F1 macro |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for model in &results.models {
        for kind in [SplitKind::Random, SplitKind::Time] {
            let Some(h) = results
                .holdout
                .iter()
                .find(|h| &h.model == model && h.split == kind)
            else {
                continue;
            };
            let m = if analytic {
                &h.report.analytic
            } else {
                &h.report.metrics
            };
            t.push_str(&holdout_row(model, kind, m));
        }
        if let Some(cv) = results.grouped_cv.iter().find(|r| &r.model == model) {
            let s = if analytic { &cv.analytic } else { &cv.all };
            t.push_str(&cv_row(model, s));
        }
    }
    t
}

fn holdout_row(model: &str, kind: SplitKind, m: &Metrics) -> String {
    format!(
        "| {} | {} | {} | {:.3} | {:.3} | {:.4} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} |\n",
        cell(model),
        kind.label(),
        m.n,
        m.mse_ln,
        m.r2_ln,
        m.mae_s,
        m.q_error_p50,
        m.q_error_p90,
        m.q_error_p99,
        m.interval_coverage,
        m.class_accuracy,
        m.class_f1_macro
    )
}

fn cv_row(model: &str, s: &MetricsSummary) -> String {
    let pm = |v: MeanStd, d: usize| format!("{:.d$} ± {:.d$}", v.mean, v.std);
    format!(
        "| {} | {} ({} folds) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        cell(model),
        SplitKind::GroupedCv.label(),
        s.folds,
        s.n,
        pm(s.mse_ln, 3),
        pm(s.r2_ln, 3),
        pm(s.mae_s, 4),
        pm(s.q_error_p50, 2),
        pm(s.q_error_p90, 2),
        pm(s.q_error_p99, 2),
        pm(s.interval_coverage, 3),
        pm(s.class_accuracy, 3),
        pm(s.class_f1_macro, 3)
    )
}

/// Text safe inside a Markdown table cell: model names and error messages
/// come from other code and may hold `|` or newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

// ------------------------------------------------------------------- Plots

/// A plot ready to draw: every coordinate finite, log axes already in
/// log10 space, axis ranges non-empty.
#[derive(Debug, Clone)]
pub struct Plot {
    pub stem: String,
    pub title: String,
    size: (u32, u32),
    body: PlotBody,
}

#[derive(Debug, Clone)]
enum PlotBody {
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
struct Curve {
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

fn slug(name: &str) -> String {
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
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (lo.floor(), hi.ceil());
    if hi - lo < 1.0 {
        (lo, lo + 1.0)
    } else {
        (lo, hi)
    }
}

fn scatter(stem: String, model: &str, color: RGBColor, truth: &[f64], pred: &[f64]) -> Plot {
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

fn q_errors(ps: &PerSample, pred: &[f64]) -> Vec<f64> {
    ps.truth
        .iter()
        .zip(pred)
        .map(|(&t, &p)| q_error(p, t))
        .collect()
}

fn cdf(ps: &PerSample) -> Plot {
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

fn by_fingerprint(ps: &PerSample) -> Plot {
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

fn truncate(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Human label of 10^v seconds: "1µs", "10ms", "1s", "100s".
fn seconds_label(v: f64) -> String {
    let s = 10f64.powf(v);
    let (x, unit) = if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    format!("{}{unit}", trim(x))
}

/// Human label of a q-error of 10^v: "1×", "10×", "1e4×".
fn factor_label(v: f64) -> String {
    let q = 10f64.powf(v);
    if q < 1000.0 {
        format!("{}×", trim(q))
    } else {
        format!("{q:.0e}×")
    }
}

fn trim(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", x.round())
    } else {
        format!("{x:.1}")
    }
}

fn ensure_font() -> Result<(), String> {
    static OK: OnceLock<bool> = OnceLock::new();
    if *OK.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err("the bundled DejaVu Sans font could not be loaded".into())
    }
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Labels for about one tick per decade, capped so labels do not collide.
fn tick_count(lo: f64, hi: f64) -> usize {
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
            PlotBody::NoData(reason) => {
                let area = root.titled(&self.title, font(20)).map_err(err)?;
                let (w, h) = area.dim_in_pixel();
                let style = font(18).pos(Pos::new(HPos::Center, VPos::Center));
                area.draw(&Text::new(
                    format!("no data: {reason}"),
                    (w as i32 / 2, h as i32 / 2),
                    style,
                ))
                .map_err(err)?;
            }
            PlotBody::Scatter {
                range,
                points,
                color,
            } => {
                let (lo, hi) = *range;
                let mut chart = ChartBuilder::on(root)
                    .caption(&self.title, font(20))
                    .margin(15)
                    .x_label_area_size(50)
                    .y_label_area_size(80)
                    .build_cartesian_2d(lo..hi, lo..hi)
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .x_labels(tick_count(lo, hi))
                    .y_labels(tick_count(lo, hi))
                    .x_label_formatter(&|v| seconds_label(*v))
                    .y_label_formatter(&|v| seconds_label(*v))
                    .x_desc("actual time (log scale)")
                    .y_desc("predicted time (log scale)")
                    .label_style(font(14))
                    .axis_desc_style(font(15))
                    .bold_line_style(BLACK.mix(0.12))
                    .light_line_style(BLACK.mix(0.04))
                    .draw()
                    .map_err(err)?;
                chart
                    .draw_series(LineSeries::new(
                        [(lo, lo), (hi, hi)],
                        BLACK.mix(0.6).stroke_width(1),
                    ))
                    .map_err(err)?;
                let c = *color;
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|p| Circle::new(*p, 2, c.mix(0.35).filled())),
                    )
                    .map_err(err)?;
            }
            PlotBody::Cdf { x_hi, curves } => {
                let mut chart = ChartBuilder::on(root)
                    .caption(&self.title, font(20))
                    .margin(15)
                    .margin_right(30)
                    .x_label_area_size(50)
                    .y_label_area_size(70)
                    .build_cartesian_2d(0.0..*x_hi, 0.0..1.0)
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .x_labels(tick_count(0.0, *x_hi))
                    .x_label_formatter(&|v| factor_label(*v))
                    .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
                    .x_desc("q-error (log scale)")
                    .y_desc("share of statements with at most this q-error")
                    .label_style(font(14))
                    .axis_desc_style(font(15))
                    .bold_line_style(BLACK.mix(0.12))
                    .light_line_style(BLACK.mix(0.04))
                    .draw()
                    .map_err(err)?;
                for curve in curves {
                    let c = curve.color;
                    chart
                        .draw_series(LineSeries::new(
                            curve.points.iter().copied(),
                            c.stroke_width(2),
                        ))
                        .map_err(err)?
                        .label(curve.name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .label_font(font(14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.3))
                    .draw()
                    .map_err(err)?;
            }
            PlotBody::Bars {
                labels,
                models,
                values,
                x_hi,
            } => {
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
                    .build_cartesian_2d(0.0..*x_hi, -0.5..(n as f64 - 0.5))
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .x_labels(tick_count(0.0, *x_hi))
                    .y_labels(n + 1)
                    .x_label_formatter(&|v| factor_label(*v))
                    .y_label_formatter(&|v| label_at(*v))
                    .x_desc("median q-error (log scale)")
                    .label_style(font(12))
                    .axis_desc_style(font(15))
                    .bold_line_style(BLACK.mix(0.12))
                    .light_line_style(BLACK.mix(0.04))
                    .draw()
                    .map_err(err)?;
                let m = models.len().max(1) as f64;
                let band = 0.8 / m;
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
                        .legend(move |(x, y)| {
                            Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled())
                        });
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .label_font(font(14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.3))
                    .draw()
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)
    }

    /// Every coordinate the plot would draw, for tests: all must be finite.
    #[cfg(test)]
    fn coordinates(&self) -> Vec<f64> {
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

#[cfg(test)]
mod tests {
    use super::super::run::ModelSeries;
    use super::*;

    fn per_sample(pred: Vec<f64>) -> PerSample {
        let n = pred.len();
        PerSample {
            truth: (0..n).map(|i| 0.001 * (i + 1) as f64).collect(),
            fingerprints: (0..n).map(|i| format!("select {}", i % 3)).collect(),
            models: vec![
                ModelSeries {
                    model: "weird | model".into(),
                    predicted_seconds: pred,
                },
                ModelSeries {
                    model: "ok".into(),
                    predicted_seconds: (0..n).map(|i| 0.002 * (i + 1) as f64).collect(),
                },
            ],
            unseen: Default::default(),
        }
    }

    #[test]
    fn unseen_shapes_table_is_worst_first_and_quoted() {
        let unseen = super::super::run::UnseenSeries {
            truth: vec![1.0, 1.0, 0.1, 0.1, 0.1],
            fingerprints: vec![
                "select a".into(),
                "select a".into(),
                "select b, c".into(),
                "select b, c".into(),
                "select b, c".into(),
            ],
            models: vec![ModelSeries {
                model: "mlp".into(),
                predicted_seconds: vec![2.0, 2.0, 0.1, 0.1, 1.0],
            }],
        };
        let csv = unseen_shapes_csv(&unseen);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "fingerprint,statements,median_seconds,mlp_median_predicted_seconds,mlp_median_q_error",
                "select a,2,1.000000,2.000000,2.000",
                "\"select b, c\",3,0.100000,0.100000,1.000",
            ]
        );
    }

    #[test]
    fn non_finite_predictions_never_reach_plotters() {
        let ps = per_sample(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            1e300,
        ]);
        let plots = build_plots(&ps);
        assert_eq!(plots.len(), 4);
        for p in &plots {
            assert!(p.coordinates().iter().all(|v| v.is_finite()), "{}", p.stem);
        }
        assert!(plots[0].title.contains("3 non-finite not shown"));
        let mut svg = String::new();
        for p in &plots {
            let root = SVGBackend::with_string(&mut svg, p.size).into_drawing_area();
            p.draw(&root).expect("draws");
        }
    }

    #[test]
    fn empty_input_gives_no_data_plots() {
        let plots = build_plots(&PerSample::default());
        assert_eq!(plots.len(), 2);
        assert!(plots.iter().all(|p| matches!(p.body, PlotBody::NoData(_))));
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        plots[0].draw(&root).expect("draws");
    }

    #[test]
    fn labels_are_human() {
        assert_eq!(seconds_label(-6.0), "1µs");
        assert_eq!(seconds_label(-2.0), "10ms");
        assert_eq!(seconds_label(2.0), "100s");
        assert_eq!(factor_label(0.0), "1×");
        assert_eq!(factor_label(1.0), "10×");
        assert_eq!(slug("Fingerprint median (v2)"), "fingerprint_median__v2_");
        assert_eq!(truncate("select  *\n from t", 10), "select * …");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
