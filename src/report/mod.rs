//! Renders an [`Analysis`] for people: a self-contained HTML report with
//! charts (also written as SVG and PNG files for slides and tickets), the
//! analysis as JSON for other tools, and a short terminal summary.
//!
//! Rendering never fails because of the data: empty inputs give "no data"
//! charts, and non-finite or non-positive values are dropped (or floored on
//! log axes) before they reach plotters. Only I/O can fail, and the error
//! names the file.

pub mod charts;
pub mod classes;
pub mod html;
pub mod text;
pub mod units;

pub use text::terminal_summary;

use crate::analyze::Analysis;
use std::path::{Path, PathBuf};

/// Why a report could not be written; every variant names the file involved
/// so the user knows which path (permissions, full disk ...) to look at.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw chart {}: {message}", path.display())]
    Chart { path: PathBuf, message: String },
    #[error("cannot serialise {}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Writes `report.html` (self-contained: inline CSS and SVG, no scripts, no
/// external URLs), every chart as `NAME.svg` and `NAME.png`, and
/// `analysis.json` into `dir`, which is created if needed. Returns the paths
/// written, in that order.
pub fn write_report(analysis: &Analysis, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let specs = charts::build_all(analysis);
    let mut svgs = Vec::with_capacity(specs.len());
    for spec in &specs {
        let svg_path = dir.join(format!("{}.svg", spec.stem));
        let svg = charts::render_svg(spec).map_err(|message| ReportError::Chart {
            path: svg_path.clone(),
            message,
        })?;
        write_file(&svg_path, svg.as_bytes())?;
        written.push(svg_path);
        svgs.push(svg);
    }

    let html_path = dir.join("report.html");
    let page = html::render(analysis, &specs, &svgs);
    write_file(&html_path, page.as_bytes())?;
    written.insert(0, html_path);

    for spec in &specs {
        let png_path = dir.join(format!("{}.png", spec.stem));
        charts::render_png(spec, &png_path).map_err(|message| ReportError::Chart {
            path: png_path.clone(),
            message,
        })?;
        written.push(png_path);
    }

    let json_path = dir.join("analysis.json");
    let json = serde_json::to_vec_pretty(analysis).map_err(|source| ReportError::Json {
        path: json_path.clone(),
        source,
    })?;
    write_file(&json_path, &json)?;
    written.push(json_path);
    Ok(written)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The "How to read this" line under a section's heading.
pub(crate) fn how(text: &str) -> maud::Markup {
    maud::html! { p.how { "How to read this: " (text) } }
}
