//! A chart as data ([`ChartSpec`]: axes, series, bars, points or boxes in
//! plotting coordinates) and the one function that draws any of them on any
//! plotters backend, so the SVG inlined in a page and the PNG beside it
//! come from the same code.

use super::axis::{Axis, coord};
use super::{BLUE, GREY, VERMILION, draw_no_data, ensure_font, err, font, legend, style_mesh};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Pixel size of every chart; wide enough for 20 bar labels, and the PNG
/// fits a slide.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 560;

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

/// The cartesian chart every non-empty [`ChartSpec`] is drawn on.
type Chart<'a, DB> =
    ChartContext<'a, DB, plotters::coord::cartesian::Cartesian2d<super::Coord, super::Coord>>;

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
            draw_no_data(root, &spec.title, 22, font(18).color(&GREY), reason)?;
            return root.present().map_err(err);
        }
        Body::Lines { x, y, .. }
        | Body::Bars { x, y, .. }
        | Body::Points { x, y, .. }
        | Body::Boxes { x, y, .. } => (x, y),
    };
    let mut chart = frame(spec, root, x, y)?;
    match &spec.body {
        Body::NoData(_) => {}
        Body::Lines { series, .. } => draw_lines(&mut chart, series)?,
        Body::Bars {
            bars, horizontal, ..
        } => draw_bars(&mut chart, bars, *horizontal)?,
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

/// The title, the axes with their labelled ticks and the grid.
fn frame<'a, DB: DrawingBackend>(
    spec: &ChartSpec,
    root: &'a DrawingArea<DB, Shift>,
    x: &Axis,
    y: &Axis,
) -> Result<Chart<'a, DB>, String>
where
    DB::ErrorType: 'static,
{
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
        .y_desc(&y.desc);
    style_mesh(&mut mesh, 14);
    if !x.grid {
        mesh.disable_x_mesh();
    }
    if !y.grid {
        mesh.disable_y_mesh();
    }
    mesh.draw().map_err(err)?;
    Ok(chart)
}

fn draw_lines<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    series: &[Series],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
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
        legend(chart, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    bars: &[Bar],
    horizontal: bool,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
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
    Ok(())
}

fn draw_boxes<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
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
    super::svg_string((WIDTH, HEIGHT), |root| draw(spec, root))
}

/// Renders a chart as a PNG file.
pub fn render_png(spec: &ChartSpec, path: &Path) -> Result<(), String> {
    super::png_file(path, (WIDTH, HEIGHT), |root| draw(spec, root))
}
