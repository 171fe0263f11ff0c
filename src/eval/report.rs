//! Writes an evaluation for people and tools: `eval.json` (the
//! [`EvalResults`]), `eval.md` (every model × split, for all statements and
//! the analytic subset) and the plots ([`super::plots`]) as PNG and SVG.
//!
//! Plots never see a NaN or an infinity: times are clamped to the metrics'
//! 1 µs..10⁶ s range (so the plots agree with the numbers), non-finite
//! predictions are left out of the scatter and counted in its title, and
//! empty inputs give a "no data" chart, so the set of files is predictable.

use super::metrics::{MeanStd, Metrics, MetricsSummary};
use super::plots::*;
use super::run::{EvalResults, PerSample, SplitKind};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
        crate::plot::png_file(&png, plot.size, |root| plot.draw(root)).map_err(|message| {
            EvalError::Chart {
                path: png.clone(),
                message,
            }
        })?;
        written.push(png);
        let svg_path = dir.join(format!("{}.svg", plot.stem));
        let svg =
            crate::plot::svg_string(plot.size, |root| plot.draw(root)).map_err(|message| {
                EvalError::Chart {
                    path: svg_path.clone(),
                    message,
                }
            })?;
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
        "| Model | Split | n | MSE(ln) | R²(ln) | MAE s | q-err p50 | q-err p90 | q-err p99 | Coverage | Width ln | Class acc | F1 macro |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
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
            t.push_str(&cv_row(model, SplitKind::GroupedCv.label(), s));
        }
        if let Some(cv) = results
            .grouped_cv_calibrated
            .iter()
            .find(|r| &r.model == model)
        {
            let s = if analytic { &cv.analytic } else { &cv.all };
            t.push_str(&cv_row(model, "grouped CV, unseen-shape intervals", s));
        }
    }
    t
}

fn holdout_row(model: &str, kind: SplitKind, m: &Metrics) -> String {
    format!(
        "| {} | {} | {} | {:.3} | {:.3} | {:.4} | {:.2} | {:.2} | {:.2} | {:.3} | {:.2} | {:.3} | {:.3} |\n",
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
        m.interval_width_ln,
        m.class_accuracy,
        m.class_f1_macro
    )
}

fn cv_row(model: &str, label: &str, s: &MetricsSummary) -> String {
    let pm = |v: MeanStd, d: usize| format!("{:.d$} ± {:.d$}", v.mean, v.std);
    format!(
        "| {} | {} ({} folds) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        cell(model),
        label,
        s.folds,
        s.n,
        pm(s.mse_ln, 3),
        pm(s.r2_ln, 3),
        pm(s.mae_s, 4),
        pm(s.q_error_p50, 2),
        pm(s.q_error_p90, 2),
        pm(s.q_error_p99, 2),
        pm(s.interval_coverage, 3),
        pm(s.interval_width_ln, 2),
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
        for p in &plots {
            crate::plot::svg_string(p.size, |root| p.draw(root)).expect("draws");
        }
    }

    #[test]
    fn empty_input_gives_no_data_plots() {
        let plots = build_plots(&PerSample::default());
        assert_eq!(plots.len(), 2);
        assert!(plots.iter().all(|p| matches!(p.body, PlotBody::NoData(_))));
        crate::plot::svg_string(SIZE, |root| plots[0].draw(root)).expect("draws");
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
