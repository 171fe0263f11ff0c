//! The one plotting layer: the bundled font, the palette, the axes and the
//! drawing of every chart qlat makes, on both backends (SVG strings for
//! inlining in pages, PNG files for slides and tickets).
//!
//! It exists so the workload report (`report::charts`), the evaluation's
//! plots (`eval::plots`) and the pipeline's runs chart share one font (the
//! 760 KB DejaVu Sans is embedded once), one palette (a model or a series
//! keeps its colour across charts) and one way of styling axes, legends and
//! "no data" panels. What to draw (chart specs, built from data) stays with
//! its owner; this module only knows coordinates that are already finite.

pub mod axis;
pub mod figure;

pub use axis::{Axis, Coord};
pub use figure::{Bar, Body, BoxStat, ChartSpec, Series, draw, render_png, render_svg};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// Bundled so PNG text renders the same everywhere, without system fonts.
/// The only copy of the font in the binary.
static FONT: &[u8] = include_bytes!("../report/fonts/DejaVuSans.ttf");
/// The family name the bundled font is registered under.
pub const FAMILY: &str = "sans-serif";

/// A colour-blind-friendly palette (Okabe–Ito), used in the same order in
/// every chart so "average" and "p95", or a model, keep their colours.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];
pub const BLUE: RGBColor = PALETTE[0];
pub const VERMILION: RGBColor = PALETTE[1];
pub const GREEN: RGBColor = PALETTE[2];
/// Secondary ink: notes, whiskers, "no data" messages.
pub const GREY: RGBColor = RGBColor(90, 90, 90);

/// The palette's `i`-th colour, cycling.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the bundled font once per process; plotters' `ab_glyph` text
/// renderer (used for both layout and PNG glyphs) knows no fonts otherwise.
pub fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled DejaVu Sans font could not be loaded".to_string())
    }
}

/// The bundled font at `size` pixels, in black.
pub fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// Drawing errors as text: the callers name the file.
pub fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The house style of a mesh: label and axis-title fonts, faint grid.
pub fn style_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
    label_size: u32,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
    DB: DrawingBackend,
{
    mesh.label_style(font(label_size))
        .axis_desc_style(font(15))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
}

/// Draws the series labels of `chart` in the house style at `position`.
pub fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

/// A titled panel saying there is nothing to draw and why.
pub fn draw_no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    title_size: u32,
    message: TextStyle<'static>,
    reason: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let area = root.titled(title, font(title_size)).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    let style = message.pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        format!("no data: {reason}"),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
    .map_err(err)
}

/// Draws with `paint` onto an SVG of `size` pixels and returns the document.
pub fn svg_string<F>(size: (u32, u32), paint: F) -> Result<String, String>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        paint(&root)?;
    }
    Ok(out)
}

/// Draws with `paint` into a PNG file of `size` pixels at `path`.
pub fn png_file<F>(path: &Path, size: (u32, u32), paint: F) -> Result<(), String>
where
    F: FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
{
    let root = BitMapBackend::new(path, size).into_drawing_area();
    paint(&root)
}
