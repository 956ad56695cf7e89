//! Drawing one replay frame: a header line and one panel per probe in a
//! grid, each panel chosen by the kind of values the probe holds.
//!
//! | values                     | panel                                        |
//! |----------------------------|----------------------------------------------|
//! | int / float                | line over capture index (or time)            |
//! | bool                       | step line                                    |
//! | complex                    | real and imaginary lines                     |
//! | 1-D real array             | waveform of the latest array (3 older fading)|
//! | complex array              | I/Q constellation of the latest array        |
//! | 2-D real array             | heatmap of the latest array with colour bar  |
//! | text, other, ≥3-D arrays   | the latest values listed                     |
//!
//! Captures without a value (`unbound`, `error`, `incomplete`, a
//! placeholder never completed) break the line and are marked with a
//! triangle on the x axis; they are never drawn as zeros. Lines through
//! large histories are decimated with [`crate::render::decimate`], which
//! draws exactly the pixels drawing every point would.
//!
//! The chart helpers here ([`line_chart`], [`draw_series`]) are shared with
//! `diff --plot` ([`crate::render::diff`]): one renderer, one decimation.
//! Whatever the data, the work is bounded by the output's pixels and the
//! values actually present (never by a shape or count a log claims),
//! ranges come from [`Axis`] (finite, never degenerate), and every line is
//! clipped to its plotting area.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::history::buffer::ProbeDataBuffer;
use crate::model::{ArrayValue, ProbeInfo, Status, Value};
use crate::render::axis::{finite_bounds, Axis};
pub use crate::render::axis::{fmt_num, thousands};
use crate::render::decimate::{clip_polyline, polylines, polylines_sorted, BlockIndex, Point};
use crate::render::font::{ensure_registered, FAMILY};

/// A drawing failed (a backend error; the message names it).
#[derive(Debug, thiserror::Error)]
#[error("drawing failed: {0}")]
pub struct DrawError(pub String);

pub(crate) fn de<E: std::fmt::Debug>(e: E) -> DrawError {
    DrawError(format!("{e:?}"))
}

/// Colours of a theme.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// Background.
    pub bg: RGBColor,
    /// Text and axes.
    pub fg: RGBColor,
    /// Grid lines.
    pub grid: RGBColor,
    /// The main series (real part).
    pub line: RGBColor,
    /// The second series (imaginary part).
    pub line2: RGBColor,
    /// Marks of captures without a value.
    pub bad: RGBColor,
    /// Marks of `raised` captures.
    pub raised: RGBColor,
    /// Panel frame.
    pub frame: RGBColor,
}

impl Theme {
    /// Dark text on white.
    pub const LIGHT: Theme = Theme {
        bg: RGBColor(255, 255, 255),
        fg: RGBColor(34, 34, 34),
        grid: RGBColor(228, 228, 228),
        line: RGBColor(31, 119, 180),
        line2: RGBColor(230, 115, 0),
        bad: RGBColor(214, 39, 40),
        raised: RGBColor(148, 103, 189),
        frame: RGBColor(200, 200, 200),
    };
    /// Light text on near-black.
    pub const DARK: Theme = Theme {
        bg: RGBColor(24, 26, 30),
        fg: RGBColor(220, 220, 220),
        grid: RGBColor(58, 62, 68),
        line: RGBColor(79, 195, 247),
        line2: RGBColor(255, 183, 77),
        bad: RGBColor(239, 83, 80),
        raised: RGBColor(206, 147, 216),
        frame: RGBColor(80, 84, 90),
    };
}

/// What the x axis of line panels shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Capture index within the probe (0, 1, 2 …).
    Index,
    /// Capture time, seconds since the recording started.
    Time,
}

/// How frames are drawn.
#[derive(Debug, Clone, Copy)]
pub struct PlotStyle {
    /// Colours.
    pub theme: Theme,
    /// X axis of line panels.
    pub x_axis: XAxis,
    /// Decimate lines to the output resolution (exact; off only to prove it).
    pub decimate: bool,
}

/// The panel a probe gets, from the kinds of values in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelKind {
    /// Numeric scalar: line.
    Line,
    /// Bool: step line.
    Step,
    /// Complex scalar: real and imaginary lines.
    Complex,
    /// Arrays: waveform, constellation or heatmap by the latest array's
    /// dtype and shape (text for other shapes).
    Array,
    /// Text and other values: the latest values listed.
    Text,
    /// No record at all.
    Empty,
}

impl PanelKind {
    /// The panel for a whole history: the most common kind of value wins
    /// (ties: array, complex, numeric, text), so one stray string does not
    /// turn a numeric probe into a list.
    pub fn of(buf: &ProbeDataBuffer) -> PanelKind {
        let k = buf.kinds();
        let real = k.real();
        let best = [
            (k.array, PanelKind::Array),
            (k.complex, PanelKind::Complex),
            (real, PanelKind::Line),
            (k.text, PanelKind::Text),
        ]
        .into_iter()
        .fold(
            (0u64, PanelKind::Empty),
            |acc, c| {
                if c.0 > acc.0 {
                    c
                } else {
                    acc
                }
            },
        )
        .1;
        match best {
            PanelKind::Line if k.bool == real => PanelKind::Step,
            PanelKind::Empty if !buf.is_empty() => PanelKind::Text,
            b => b,
        }
    }

    /// How the panel draws an array value (for [`PanelKind::Array`]).
    pub fn array_view(a: &ArrayValue) -> ArrayView {
        if a.dtype.is_complex() {
            ArrayView::Constellation
        } else if a.shape.len() <= 1 {
            ArrayView::Waveform
        } else if a.shape.len() == 2 {
            ArrayView::Heatmap
        } else {
            ArrayView::Text
        }
    }
}

/// How an array is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrayView {
    /// 1-D real: value over element index.
    Waveform,
    /// Complex: I/Q scatter.
    Constellation,
    /// 2-D real: heatmap with colour bar.
    Heatmap,
    /// Anything else: listed as text.
    Text,
}

/// One panel of a frame: a probe's history up to `count` records.
#[derive(Debug, Clone, Copy)]
pub struct PanelData<'a> {
    /// The probe.
    pub info: &'a ProbeInfo,
    /// Its short, unambiguous label (`loop.py:4:x@lhs`).
    pub label: &'a str,
    /// Its complete history.
    pub buf: &'a ProbeDataBuffer,
    /// Records shown (a prefix of the history).
    pub count: usize,
    /// The panel type (decided once for the whole history, so it does not
    /// change between frames).
    pub kind: PanelKind,
    /// Range of the finite real (and imaginary) values among the first
    /// `count` records, when already known (replay computes it for all
    /// frames in one pass); computed on the spot when `None`.
    pub y_range: Option<(f64, f64)>,
    /// Block summaries of the history's real and imaginary values, shared
    /// by all frames (decimation then skips whole blocks); `None` scans.
    pub index: [Option<&'a BlockIndex>; 2],
}

/// Everything one frame shows.
#[derive(Debug, Clone)]
pub struct FrameData<'a> {
    /// Header text (log, frame number, time).
    pub header: String,
    /// A warning shown in the header (damaged or incomplete log).
    pub warning: Option<String>,
    /// Panels, in grid order.
    pub panels: Vec<PanelData<'a>>,
}

/// Rows and columns of the panel grid for `n` panels in a `w`×`h` image:
/// the layout whose panels come closest to 2:1, with few empty cells.
pub fn grid(n: usize, w: u32, h: u32) -> (usize, usize) {
    if n <= 1 {
        return (1, 1);
    }
    let mut best = (1, n);
    let mut best_score = f64::INFINITY;
    for cols in 1..=n {
        let rows = n.div_ceil(cols);
        let aspect = (f64::from(w) / cols as f64) / (f64::from(h) / rows as f64);
        let empty = (rows * cols - n) as f64;
        // Line plots read best wide: aim at 2:1 panels.
        let score = (aspect / 2.0).ln().abs() + 0.3 * empty;
        if score < best_score {
            best_score = score;
            best = (rows, cols);
        }
    }
    best
}

/// Draw a frame onto `root` (any plotters backend).
pub fn draw_frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &FrameData<'_>,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    ensure_registered();
    let t = &style.theme;
    root.fill(&t.bg).map_err(de)?;
    let (w, h) = root.dim_in_pixel();
    let header_h = 26u32.min(h / 4);
    let (header, body) = root.split_vertically(header_h);
    header
        .draw(&Text::new(
            frame.header.clone(),
            (8, 5),
            (FAMILY, 15).into_font().color(&t.fg),
        ))
        .map_err(de)?;
    if let Some(warn) = &frame.warning {
        let font = (FAMILY, 14).into_font().color(&t.bad);
        let tw = header
            .estimate_text_size(warn, &font)
            .map(|s| s.0)
            .unwrap_or(0);
        let x = (i64::from(w) - i64::from(tw) - 8).max(w as i64 / 2) as i32;
        header
            .draw(&Text::new(warn.clone(), (x, 6), font))
            .map_err(de)?;
    }
    if frame.panels.is_empty() {
        body.draw(&Text::new(
            "no probes to show".to_string(),
            (8, 8),
            (FAMILY, 14).into_font().color(&t.fg),
        ))
        .map_err(de)?;
        return Ok(());
    }
    let (rows, cols) = grid(frame.panels.len(), w, h.saturating_sub(header_h));
    let areas = body.split_evenly((rows, cols));
    for (area, p) in areas.iter().zip(&frame.panels) {
        draw_panel(area, p, style)?;
    }
    Ok(())
}

/// Title of a panel: label, role, record count — shortened to fit `width`
/// by dropping the role (the label ends in it) and then cutting the label's
/// start, never the count.
fn title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &PanelData<'_>,
    font: &TextStyle<'_>,
    width: u32,
) -> String {
    let count = format!(
        "{} record{}",
        thousands(p.count as u64),
        if p.count == 1 { "" } else { "s" }
    );
    let label = crate::text::escape(&short_text(p.label, 400)).into_owned();
    let full = format!("{label}  ·  {}  ·  {count}", p.info.role.as_str());
    let fits = |s: &str| {
        area.estimate_text_size(s, font)
            .map_or(true, |(w, _)| w <= width)
    };
    if fits(&full) {
        return full;
    }
    let short = format!("{label} · {count}");
    if fits(&short) {
        return short;
    }
    // The fewest leading characters to cut (binary search: each try
    // measures the whole string).
    let chars: Vec<char> = label.chars().collect();
    let with_cut = |cut: usize| format!("…{} · {count}", chars[cut..].iter().collect::<String>());
    let (mut lo, mut hi) = (1usize, chars.len());
    if !fits(&with_cut(hi)) {
        return count;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(&with_cut(mid)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    with_cut(lo)
}

/// At most `n` characters of `s` (an ellipsis marks a cut): text from a
/// log can be megabytes long, and measuring or formatting it all would
/// cost time no picture needs.
pub fn short_text(s: &str, n: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(n) {
        None => std::borrow::Cow::Borrowed(s),
        Some((at, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..at])),
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &PanelData<'_>,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    let t = &style.theme;
    let inner = area.margin(4, 4, 6, 6);
    let (w, _) = inner.dim_in_pixel();
    let font = (FAMILY, 14).into_font().color(&t.fg);
    let text = title(&inner, p, &font, w.saturating_sub(4));
    let body = inner.titled(&text, font).map_err(de)?;
    if p.count == 0 {
        return note(&body, "no records yet", style);
    }
    match p.kind {
        PanelKind::Line | PanelKind::Step | PanelKind::Complex => draw_scalar(&body, p, style),
        PanelKind::Array => match p
            .buf
            .others_before(p.count)
            .iter()
            .rev()
            .find_map(|(i, v)| {
                if let Value::Array(a) = v {
                    Some((*i, a))
                } else {
                    None
                }
            }) {
            Some((i, a)) => match PanelKind::array_view(a) {
                ArrayView::Waveform => draw_waveform(&body, p, style),
                ArrayView::Constellation => draw_constellation(&body, p, style),
                ArrayView::Heatmap => draw_heatmap(&body, a, i, style),
                ArrayView::Text => draw_text(&body, p, style),
            },
            None => draw_text(&body, p, style),
        },
        PanelKind::Text | PanelKind::Empty => draw_text(&body, p, style),
    }
}

fn note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    msg: &str,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    area.draw(&Text::new(
        msg.to_string(),
        (8, 8),
        (FAMILY, 13).into_font().color(&style.theme.fg.mix(0.7)),
    ))
    .map_err(de)
}

/// Cut `s` (with an ellipsis) until it fits `width` pixels.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    font: &TextStyle<'_>,
    width: u32,
) -> String {
    let fits = |s: &str| {
        area.estimate_text_size(s, font)
            .map_or(true, |(w, _)| w <= width)
    };
    let s = short_text(s, 1000);
    if fits(&s) {
        return s.into_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let cand: String = chars[..mid].iter().collect::<String>() + "…";
        if fits(&cand) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    chars[..lo].iter().collect::<String>() + "…"
}

/// Finite min/max of the real (and imaginary) values among the first
/// `count` records.
pub fn value_range(buf: &ProbeDataBuffer, count: usize) -> Option<(f64, f64)> {
    finite_bounds([buf.values(), buf.imag()].map(|c| &c[..count.min(c.len())]))
}

/// A chart of plotted-unit axes.
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// How a line chart's axes are labelled.
pub(crate) struct ChartSpec<'s> {
    /// X axis (plotted units).
    pub x: Axis,
    /// Y axis (plotted units).
    pub y: Axis,
    /// X axis description.
    pub x_desc: &'s str,
    /// Y axis description.
    pub y_desc: &'s str,
    /// X values are whole numbers (capture indices): no tick between two.
    pub x_integer: bool,
    /// Number of y ticks.
    pub y_ticks: usize,
    /// A y tick label other than the axis value (bool panels).
    pub y_label: Option<&'s dyn Fn(f64) -> String>,
}

/// A line chart on `area` with its mesh drawn: the layout every numeric
/// panel shares (replay's lines, steps, waveforms; diff's series and
/// differences).
pub(crate) fn line_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    spec: &ChartSpec<'_>,
    t: &Theme,
) -> Result<Chart<'a, DB>, DrawError> {
    let mut chart = ChartBuilder::on(area)
        .margin_right(8)
        .x_label_area_size(34)
        .y_label_area_size(58)
        .build_cartesian_2d(spec.x.lo..spec.x.hi, spec.y.lo..spec.y.hi)
        .map_err(de)?;
    let label = (FAMILY, 12).into_font().color(&t.fg);
    let (x, y) = (spec.x, spec.y);
    let x_integer = spec.x_integer;
    let xfmt = move |v: &f64| {
        // Tick positions carry float residue (-1.1e-17 for 0): snap first.
        let snapped = v.round();
        let v = if (v - snapped).abs() <= (x.hi - x.lo).abs() * 1e-9 {
            snapped
        } else {
            *v
        };
        if x_integer && (v * x.scale).fract() != 0.0 {
            String::new()
        } else {
            x.label(v)
        }
    };
    let yfmt = |v: &f64| match spec.y_label {
        Some(f) => f(*v),
        None => y.label(*v),
    };
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .x_labels(6)
        .y_labels(spec.y_ticks)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style(label.clone())
        .axis_desc_style(label)
        .axis_style(t.frame)
        .bold_line_style(t.grid)
        .light_line_style(t.bg)
        .draw()
        .map_err(de)?;
    Ok(chart)
}

/// The pixel rectangle (x0, y0, x1, y1) of a chart's plotting area.
pub(crate) fn plot_rect<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    (xr.start, yr.start, xr.end, yr.end)
}

/// A series to draw: values at x positions, NaN or infinite = gap.
pub(crate) struct Series<'s> {
    /// The values (data units).
    pub ys: &'s [f64],
    /// X position of value `i` (plotted x units).
    pub x: &'s dyn Fn(usize) -> f64,
    /// X never decreases with `i` (enables the fast column search).
    pub x_sorted: bool,
    /// Block summaries of `ys` (or of a longer history it is a prefix of).
    pub index: Option<&'s BlockIndex>,
    /// Line colour.
    pub color: RGBColor,
    /// Line width in pixels.
    pub width: u32,
    /// Reduce to the pixels (exact M4); off only to prove it exact.
    pub decimate: bool,
    /// Draw the series as a step line (bools).
    pub step: bool,
}

/// Draw a series as polylines: decimated to the chart's pixel columns
/// (exact M4), scaled to the y axis, clipped to the plotting area. Lone
/// points become dots. Returns the points drawn.
pub(crate) fn draw_series<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    x_axis: &Axis,
    y_axis: &Axis,
    s: &Series<'_>,
) -> Result<usize, DrawError> {
    let spec = chart.as_coord_spec().clone();
    let px = x_pixel(&spec);
    let lines = if s.step {
        polylines(step_points(s.ys, s.x), &px, s.decimate)
    } else if s.decimate && s.x_sorted {
        polylines_sorted(s.ys, s.x, &px, s.index)
    } else {
        polylines(
            s.ys.iter().enumerate().map(|(i, &v)| ((s.x)(i), v)),
            &px,
            s.decimate,
        )
    };
    let st = ShapeStyle::from(s.color).stroke_width(s.width);
    let (px0, py0, px1, py1) = plot_rect(chart);
    // A line wider than a pixel spills half its width past its points: clip
    // that much inside the plotting area.
    let half = f64::from(s.width / 2);
    let (dx, dy) = (
        (x_axis.hi - x_axis.lo) / f64::from((px1 - px0).max(1)) * half,
        (y_axis.hi - y_axis.lo) / f64::from((py1 - py0).max(1)) * half,
    );
    let rect = (
        x_axis.lo + dx,
        y_axis.lo + dy,
        x_axis.hi - dx,
        y_axis.hi - dy,
    );
    let mut drawn = 0;
    for run in lines.runs {
        let run: Vec<Point> = run
            .into_iter()
            .map(|(x, y)| (x, y_axis.to_plot(y)))
            .collect();
        for part in clip_polyline(&run, rect) {
            drawn += part.len();
            if part.len() == 1 {
                // A dot, as wide as fits: never over the plotting area's edge.
                let (x, y) = spec.translate(&part[0]);
                let r = [2, x - px0, px1 - x, y - py0, py1 - y]
                    .into_iter()
                    .min()
                    .unwrap_or(0)
                    .max(0);
                let dot = Circle::new(part[0], r as u32, s.color.filled());
                chart.draw_series(std::iter::once(dot)).map_err(de)?;
            } else if s.width > 1 {
                // A wide polyline is drawn with mitred joins, and where a
                // line turns back on itself (every decimated column does)
                // a miter is a spike running far out of the chart: wide
                // lines go segment by segment.
                chart
                    .draw_series(
                        part.windows(2)
                            .map(|w| PathElement::new(vec![w[0], w[1]], st)),
                    )
                    .map_err(de)?;
            } else {
                chart
                    .draw_series(std::iter::once(PathElement::new(part, st)))
                    .map_err(de)?;
            }
        }
    }
    Ok(drawn)
}

fn x_of(buf: &ProbeDataBuffer, axis: XAxis, i: usize) -> f64 {
    match axis {
        XAxis::Index => i as f64,
        XAxis::Time => buf.timestamps()[i] as f64 * 1e-9,
    }
}

fn draw_scalar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &PanelData<'_>,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    let t = &style.theme;
    let buf = p.buf;
    let n = p.count.min(buf.len());
    let axis = style.x_axis;
    let (a, b) = (x_of(buf, axis, 0), x_of(buf, axis, n - 1));
    let sparse_guess = n <= 64;
    let x = match axis {
        XAxis::Index if b <= a => Axis::fixed(a - 0.5, a + 0.5),
        // Few points: keep the first and last off the frame.
        _ => Axis::new(
            Some((a.min(b), a.max(b))),
            if sparse_guess { 0.03 } else { 0.0 },
        ),
    };
    let step = p.kind == PanelKind::Step;
    let y = if step {
        Axis::fixed(-0.15, 1.15)
    } else {
        Axis::new(p.y_range.or_else(|| value_range(buf, n)), 0.05)
    };
    let bool_label = |v: f64| {
        if v == 0.0 {
            "False".to_string()
        } else if v == 1.0 {
            "True".to_string()
        } else {
            String::new()
        }
    };
    let mut chart = line_chart(
        area,
        &ChartSpec {
            x,
            y,
            x_desc: match axis {
                XAxis::Index => "capture index",
                XAxis::Time => "time (s)",
            },
            y_desc: &crate::text::escape(&short_text(&p.info.name, 60)),
            x_integer: axis == XAxis::Index,
            y_ticks: if step { 3 } else { 6 },
            y_label: step.then_some(&bool_label as &dyn Fn(f64) -> String),
        },
        t,
    )?;

    let (plot_w, _) = chart.plotting_area().dim_in_pixel();
    // Few points: thicker lines and a dot per point. Each point then has a
    // pixel column of its own, so decimation changes nothing either way.
    let sparse = n <= (plot_w as usize / 4).max(1);
    let width = if sparse { 2 } else { 1 };
    let vals = &buf.values()[..n];
    let im: &[f64] = if p.kind == PanelKind::Complex && !buf.imag().is_empty() {
        &buf.imag()[..n.min(buf.imag().len())]
    } else {
        &[]
    };
    // The series are walked lazily, never collected: a 10-million-point
    // history must not cost another copy of itself.
    let columns: Vec<(&[f64], RGBColor, Option<&BlockIndex>)> = if im.is_empty() {
        vec![(vals, t.line, p.index[0])]
    } else {
        vec![(vals, t.line, p.index[0]), (im, t.line2, p.index[1])]
    };
    // Capture times can step back between threads; the fast column search
    // needs x in order (the general path is as exact, only slower).
    let x_sorted = match axis {
        XAxis::Index => true,
        XAxis::Time => buf.timestamps()[..n].windows(2).all(|w| w[0] <= w[1]),
    };
    let x_at = |i: usize| x.to_plot(x_of(buf, axis, i));
    for (col, color, index) in columns {
        draw_series(
            &mut chart,
            &x,
            &y,
            &Series {
                ys: col,
                x: &x_at,
                x_sorted,
                index,
                color,
                width,
                decimate: style.decimate && !sparse,
                step,
            },
        )?;
        // A dot per capture only while dots stay apart (≥ 10 px).
        if n <= (plot_w as usize / 10).max(1) && !step {
            chart
                .draw_series(
                    col.iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(i, &v)| Circle::new((x_at(i), y.to_plot(v)), 2, color.filled())),
                )
                .map_err(de)?;
        }
    }
    if p.kind == PanelKind::Complex {
        let font = (FAMILY, 12).into_font();
        let (pw, _) = chart.plotting_area().dim_in_pixel();
        let pa = chart.plotting_area().strip_coord_spec();
        let x = pw as i32 - 70;
        // On a patch of background, so lines under it do not hide it.
        pa.draw(&Rectangle::new(
            [(x - 6, 2), (pw as i32 - 4, 38)],
            ShapeStyle::from(&t.bg).filled(),
        ))
        .map_err(de)?;
        pa.draw(&Rectangle::new([(x - 6, 2), (pw as i32 - 4, 38)], t.frame))
            .map_err(de)?;
        pa.draw(&Text::new("— real", (x, 4), font.clone().color(&t.line)))
            .map_err(de)?;
        pa.draw(&Text::new("— imag", (x, 20), font.color(&t.line2)))
            .map_err(de)?;
    }
    let spec = chart.as_coord_spec().clone();
    let px = x_pixel(&spec);
    draw_marks(&mut chart, p, style, y.lo, &|i| x_at(i), &px)
}

/// The step polyline of a bool series: horizontal at the old value, then
/// vertical to the new one; a gap (NaN) wherever the value is missing.
fn step_points<'a>(
    vals: &'a [f64],
    x: &'a dyn Fn(usize) -> f64,
) -> impl Iterator<Item = Point> + 'a {
    let mut prev: Option<f64> = None;
    vals.iter().enumerate().flat_map(move |(i, &v)| {
        let x = x(i);
        let pts: [Option<Point>; 2] = if !v.is_finite() {
            prev = None;
            [Some((x, f64::NAN)), None]
        } else {
            let corner = prev.map(|pv| (x, pv));
            prev = Some(v);
            [corner, Some((x, v))]
        };
        pts.into_iter().flatten()
    })
}

/// The chart's own mapping of x values to pixel columns (the x half of its
/// `translate`), so decimation bins are exactly the drawn pixel columns.
pub(crate) fn x_pixel(
    spec: &Cartesian2d<RangedCoordf64, RangedCoordf64>,
) -> impl Fn(f64) -> i32 + '_ {
    let r = spec.get_x_axis_pixel_range();
    let xs = spec.x_spec();
    move |x: f64| xs.map(&x, (r.start, r.end))
}

/// Triangles on the x axis where a capture has no value (and where one
/// raised), one per pixel column, plus a legend with the counts.
fn draw_marks<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    p: &PanelData<'_>,
    style: &PlotStyle,
    y0: f64,
    x_at: &dyn Fn(usize) -> f64,
    px: &dyn Fn(f64) -> i32,
) -> Result<(), DrawError> {
    let t = &style.theme;
    let marks = p.buf.marks_before(p.count);
    let texts = p
        .buf
        .others_before(p.count)
        .iter()
        .filter(|(i, _)| p.buf.status_at(*i) == Status::Ok && p.buf.values()[*i as usize].is_nan())
        .count();
    if marks.is_empty() && texts == 0 {
        return Ok(());
    }
    let mut counts: Vec<(Status, u64)> = Vec::new();
    let mut last_px = [None::<i32>; 2];
    let mut tri: Vec<(Point, RGBColor)> = Vec::new();
    for &(i, s) in marks {
        match counts.iter_mut().find(|c| c.0 == s) {
            Some(c) => c.1 += 1,
            None => counts.push((s, 1)),
        }
        let x = x_at(i as usize);
        let (slot, color) = if s == Status::Raised {
            (1, t.raised)
        } else {
            (0, t.bad)
        };
        let col = px(x);
        if last_px[slot] != Some(col) {
            last_px[slot] = Some(col);
            tri.push(((x, y0), color));
        }
    }
    chart
        .draw_series(
            tri.iter()
                .map(|&(pt, c)| TriangleMarker::new(pt, 5, c.filled())),
        )
        .map_err(de)?;
    let mut legend: Vec<String> = counts
        .iter()
        .map(|(s, c)| format!("{} {}", thousands(*c), s.as_str()))
        .collect();
    if texts > 0 && p.kind != PanelKind::Text {
        legend.push(format!("{} non-numeric", thousands(texts as u64)));
    }
    let pa = chart.plotting_area().strip_coord_spec();
    pa.draw(&Text::new(
        format!("▲ {} (gaps)", legend.join(", ")),
        (6, 4),
        (FAMILY, 12).into_font().color(&t.bad),
    ))
    .map_err(de)
}

/// The latest arrays among the first `count` records (newest last), at most `k`.
fn latest_arrays<'a>(p: &PanelData<'a>, k: usize) -> Vec<(u64, &'a ArrayValue)> {
    let mut v: Vec<(u64, &ArrayValue)> = p
        .buf
        .others_before(p.count)
        .iter()
        .rev()
        .filter_map(|(i, v)| match v {
            Value::Array(a) => Some((*i, a)),
            _ => None,
        })
        .take(k)
        .collect();
    v.reverse();
    v
}

fn array_desc(a: &ArrayValue) -> String {
    let dims: Vec<String> = a.shape.iter().map(u64::to_string).collect();
    format!(
        "{}[{}]{}",
        a.dtype.name(),
        dims.join("×"),
        if a.truncated { " (truncated)" } else { "" }
    )
}

fn draw_waveform<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &PanelData<'_>,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    let t = &style.theme;
    let arrays: Vec<(u64, &ArrayValue)> = latest_arrays(p, 4)
        .into_iter()
        .filter(|(_, a)| PanelKind::array_view(a) == ArrayView::Waveform)
        .collect();
    let Some(&(latest_i, latest)) = arrays.last() else {
        return note(area, "no array yet", style);
    };
    // Only the elements a log really holds (never its claimed shape).
    let series: Vec<Vec<f64>> = arrays.iter().map(|(_, a)| a.to_f64_vec()).collect();
    let n = series.iter().map(Vec::len).max().unwrap_or(0);
    let x = Axis::fixed(0.0, (n.max(2) - 1) as f64);
    let y = Axis::new(finite_bounds(series.iter().map(Vec::as_slice)), 0.05);
    let x_desc = format!(
        "element index — latest: record #{latest_i}, {}",
        array_desc(latest)
    );
    let mut chart = line_chart(
        area,
        &ChartSpec {
            x,
            y,
            x_desc: &x_desc,
            y_desc: &crate::text::escape(&short_text(&p.info.name, 60)),
            x_integer: true,
            y_ticks: 6,
            y_label: None,
        },
        t,
    )?;
    let k = series.len();
    let x_at = |i: usize| i as f64;
    for (j, s) in series.iter().enumerate() {
        // Older arrays fade out; the latest is drawn last and opaque.
        let age = k - 1 - j;
        let color = if age == 0 {
            t.line
        } else {
            blend(t.line, t.bg, 0.25 + 0.2 * (3 - age.min(3)) as f64)
        };
        draw_series(
            &mut chart,
            &x,
            &y,
            &Series {
                ys: s,
                x: &x_at,
                x_sorted: true,
                index: None,
                color,
                width: 1,
                decimate: style.decimate,
                step: false,
            },
        )?;
    }
    Ok(())
}

/// `a` mixed towards `b` so that `w` of `a` remains (opaque, so overdraw is
/// deterministic).
pub(crate) fn blend(a: RGBColor, b: RGBColor, w: f64) -> RGBColor {
    let m = |x: u8, y: u8| (f64::from(x) * w + f64::from(y) * (1.0 - w)).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

fn draw_constellation<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &PanelData<'_>,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    let t = &style.theme;
    let arrays: Vec<(u64, &ArrayValue)> = latest_arrays(p, 4)
        .into_iter()
        .filter(|(_, a)| PanelKind::array_view(a) == ArrayView::Constellation)
        .collect();
    let Some(&(latest_i, latest)) = arrays.last() else {
        return note(area, "no array yet", style);
    };
    let pts: Vec<Vec<Point>> = arrays
        .iter()
        .map(|(_, a)| (0..a.len()).filter_map(|i| a.get_complex(i)).collect())
        .collect();
    let mut m = 0.0f64;
    for &(re, im) in pts.iter().flatten() {
        if re.is_finite() && im.is_finite() {
            m = m.max(re.abs()).max(im.abs());
        }
    }
    // A square, symmetric range; scaled near the top of f64.
    let ax = Axis::new(Some((-m, m)), 0.05);
    let m = ax.hi.max(-ax.lo);
    // Square plot area, centred, so that circles look like circles.
    let (w, h) = area.dim_in_pixel();
    let side = w.min(h);
    let left = (w - side) / 2;
    let sq = area.margin(0, 0, left, w - side - left);
    let mut chart = ChartBuilder::on(&sq)
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(-m..m, -m..m)
        .map_err(de)?;
    let label = (FAMILY, 12).into_font().color(&t.fg);
    let f = |v: &f64| ax.label(*v);
    chart
        .configure_mesh()
        .x_desc(format!(
            "I (real) — latest: #{latest_i}, {}",
            array_desc(latest)
        ))
        .y_desc("Q (imag)")
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&f)
        .y_label_formatter(&f)
        .label_style(label.clone())
        .axis_desc_style(label)
        .axis_style(t.frame)
        .bold_line_style(t.grid)
        .light_line_style(t.bg)
        .draw()
        .map_err(de)?;
    let spec = chart.as_coord_spec().clone();
    let k = pts.len();
    for (j, s) in pts.iter().enumerate() {
        let age = k - 1 - j;
        let color = if age == 0 {
            t.line
        } else {
            blend(t.line, t.bg, 0.2 + 0.15 * (3 - age.min(3)) as f64)
        };
        // One dot per occupied pixel: a million-point constellation costs
        // as much as the pixels it covers.
        let mut seen = std::collections::HashSet::new();
        let dots: Vec<Point> = s
            .iter()
            .filter(|(re, im)| re.is_finite() && im.is_finite())
            .map(|&(re, im)| (ax.to_plot(re), ax.to_plot(im)))
            .filter(|&pt| seen.insert(spec.translate(&pt)))
            .collect();
        let r = if dots.len() > 2000 { 1 } else { 2 };
        chart
            .draw_series(dots.iter().map(|&pt| Circle::new(pt, r, color.filled())))
            .map_err(de)?;
    }
    Ok(())
}

/// Viridis-like colour for `v` in 0..=1.
pub fn colormap(v: f64) -> RGBColor {
    const STOPS: [(f64, (u8, u8, u8)); 5] = [
        (0.0, (68, 1, 84)),
        (0.25, (59, 82, 139)),
        (0.5, (33, 145, 140)),
        (0.75, (94, 201, 98)),
        (1.0, (253, 231, 37)),
    ];
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    for w in STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if v <= b {
            let f = (v - a) / (b - a);
            let m = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
            return RGBColor(m(ca.0, cb.0), m(ca.1, cb.1), m(ca.2, cb.2));
        }
    }
    RGBColor(253, 231, 37)
}

fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    a: &ArrayValue,
    index: u64,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    let t = &style.theme;
    // The decoder refuses shapes whose product passes 63 bits, but a
    // shape may still claim far more cells than the data holds: only the
    // kept elements are read, and only pixels are iterated.
    let rows = a.shape.first().copied().unwrap_or(0);
    let cols = a.shape.get(1).copied().unwrap_or(0);
    if rows == 0 || cols == 0 {
        return note(area, &format!("empty array {}", array_desc(a)), style);
    }
    let vals = a.to_f64_vec();
    let (lo, hi) = finite_bounds([vals.as_slice()]).unwrap_or((0.0, 1.0));
    let bar_axis = Axis::new(Some((lo, hi)), 0.0);
    let (w, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(w.saturating_sub(78));
    let mut chart = ChartBuilder::on(&main)
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..cols as f64, rows as f64..0.0)
        .map_err(de)?;
    let label = (FAMILY, 12).into_font().color(&t.fg);
    // Rows and columns are whole numbers: a small array's axis gets at most
    // one label per index, and none between two.
    // One format per axis (see Axis::tick_format): `5,000` beside `10,000`.
    let (col_axis, row_axis) = (Axis::fixed(0.0, cols as f64), Axis::fixed(0.0, rows as f64));
    let fx = |v: &f64| {
        if v.fract() == 0.0 {
            col_axis.label(*v)
        } else {
            String::new()
        }
    };
    let fy = |v: &f64| {
        if v.fract() == 0.0 {
            row_axis.label(*v)
        } else {
            String::new()
        }
    };
    let labels = |n: u64| {
        usize::try_from(n.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(10)
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(labels(cols))
        .y_labels(labels(rows))
        .x_desc(format!("column — latest: #{index}, {}", array_desc(a)))
        .y_desc("row")
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .axis_style(t.frame)
        .draw()
        .map_err(de)?;
    let (pw, ph) = chart.plotting_area().dim_in_pixel();
    let cell = |r: u64, c: u64| -> Option<f64> {
        let k = r.checked_mul(cols)?.checked_add(c)?;
        vals.get(usize::try_from(k).ok()?).copied()
    };
    // Colours from the bar's own (finite, non-degenerate) range, placed in
    // plotted units: in data units the span of −1.7e308..1.7e308 is
    // infinite and every cell got the minimum colour.
    let color_of = |v: Option<f64>| match v {
        Some(v) if v.is_finite() => colormap(bar_axis.fraction(v)),
        // Missing (truncated) or NaN cells stay background.
        _ => t.bg,
    };
    let pixels = u64::from(pw) * u64::from(ph);
    if rows.saturating_mul(cols) <= pixels {
        chart
            .draw_series((0..rows).flat_map(|r| {
                (0..cols).map(move |c| {
                    Rectangle::new(
                        [(c as f64, r as f64), (c as f64 + 1.0, r as f64 + 1.0)],
                        color_of(cell(r, c)).filled(),
                    )
                })
            }))
            .map_err(de)?;
    } else {
        // More cells than pixels: each pixel shows the cell at its centre.
        let pa = chart.plotting_area().strip_coord_spec();
        for y in 0..ph {
            let r = ((f64::from(y) + 0.5) / f64::from(ph) * rows as f64) as u64;
            for x in 0..pw {
                let c = ((f64::from(x) + 0.5) / f64::from(pw) * cols as f64) as u64;
                pa.draw_pixel(
                    (x as i32, y as i32),
                    &color_of(cell(r.min(rows - 1), c.min(cols - 1))),
                )
                .map_err(de)?;
            }
        }
    }
    // Colour bar.
    let mut cb = ChartBuilder::on(&bar)
        .margin_left(8)
        .x_label_area_size(34)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..1.0, bar_axis.lo..bar_axis.hi)
        .map_err(de)?;
    let bf = |v: &f64| bar_axis.label(*v);
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&bf)
        .label_style(label)
        .axis_style(t.frame)
        .draw()
        .map_err(de)?;
    let (_, bh) = cb.plotting_area().dim_in_pixel();
    let steps = bh.max(2) as usize;
    let span = bar_axis.hi - bar_axis.lo;
    cb.draw_series((0..steps).map(|i| {
        let a0 = bar_axis.lo + span * i as f64 / steps as f64;
        let a1 = bar_axis.lo + span * (i + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, a0), (1.0, a1)],
            colormap(i as f64 / (steps - 1) as f64).filled(),
        )
    }))
    .map_err(de)?;
    Ok(())
}

/// A short text form of a value for the text panel.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Absent => "—".into(),
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(s) => short_text(s, 200).into_owned(),
        Value::Float(f) => format!("{f:?}"),
        Value::Complex(r, i) => format!("({r:?}{:+?}j)", i),
        Value::Str { text, truncated } => {
            format!(
                "{:?}{}",
                short_text(text, 200),
                if *truncated { "…" } else { "" }
            )
        }
        Value::Bytes { data, truncated } => format!(
            "b{:?}{}",
            String::from_utf8_lossy(&data[..data.len().min(200)]),
            if *truncated || data.len() > 200 {
                "…"
            } else {
                ""
            }
        ),
        Value::Sub { type_name, base } => {
            format!("{}({})", short_text(type_name, 60), show_value(base))
        }
        Value::Other {
            repr, truncated, ..
        } => format!(
            "{}{}",
            short_text(repr, 200),
            if *truncated { "…" } else { "" }
        ),
        Value::Error { exc_type, message } => format!(
            "<{}: {}>",
            short_text(exc_type, 60),
            short_text(message, 200)
        ),
        Value::Array(a) => {
            let shown: Vec<String> = (0..a.len().min(8))
                .map(|i| {
                    if a.dtype.is_complex() {
                        let (r, im) = a.get_complex(i).unwrap_or_default();
                        format!("{}{:+}j", fmt_num(r), fmt_num(im))
                    } else {
                        fmt_num(a.get_f64(i).unwrap_or(f64::NAN))
                    }
                })
                .collect();
            format!(
                "{} [{}{}]",
                array_desc(a),
                shown.join(", "),
                if a.len() > 8 || a.truncated {
                    ", …"
                } else {
                    ""
                }
            )
        }
    }
}

fn draw_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &PanelData<'_>,
    style: &PlotStyle,
) -> Result<(), DrawError> {
    let t = &style.theme;
    let (w, h) = area.dim_in_pixel();
    let line_h = 17u32;
    let lines = (h.saturating_sub(8) / line_h).max(1) as usize;
    let n = p.count.min(p.buf.len());
    let first = n.saturating_sub(lines);
    let font = (FAMILY, 13).into_font();
    for (row, i) in (first..n).enumerate() {
        let status = p.buf.status_at(i as u64);
        // Borrowed, never cloned: a side value can be a huge array.
        let scalar;
        let v = match p.buf.other_at(i as u64) {
            Some(v) => v,
            None => {
                let x = p.buf.values()[i];
                scalar = if p.buf.imag().get(i).is_some_and(|v| v.is_finite()) {
                    Value::Complex(x, p.buf.imag()[i])
                } else if x.is_nan() {
                    Value::Absent
                } else {
                    Value::Float(x)
                };
                &scalar
            }
        };
        let shown = crate::text::escape(&show_value(v)).into_owned();
        let mut s = format!("#{i}  {shown}");
        let color = if status == Status::Ok {
            t.fg
        } else {
            s = format!("#{i}  [{}] {shown}", status.as_str());
            t.bad
        };
        let style_ = font.clone().color(&color);
        let s = fit_text(area, &s, &style_, w.saturating_sub(12));
        area.draw(&Text::new(s, (8, 4 + (row as u32 * line_h) as i32), style_))
            .map_err(de)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_prefers_wide_panels() {
        assert_eq!(grid(1, 1280, 720), (1, 1));
        assert_eq!(grid(2, 1280, 720), (2, 1));
        assert_eq!(grid(4, 1280, 720), (2, 2));
        let (r, c) = grid(7, 1280, 720);
        assert!(r * c >= 7);
    }
}
