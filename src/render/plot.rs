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

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::history::buffer::ProbeDataBuffer;
use crate::log::meta::ProbeInfo;
use crate::model::{ArrayValue, Status, Value};
use crate::render::decimate::{polylines, polylines_sorted, BlockIndex, Point};
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
    let label = p.info.label();
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
    let chars: Vec<char> = label.chars().collect();
    for cut in 1..chars.len() {
        let s = format!("…{} · {count}", chars[cut..].iter().collect::<String>());
        if fits(&s) {
            return s;
        }
    }
    count
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
    if fits(s) {
        return s.to_string();
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
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for col in [buf.values(), buf.imag()] {
        for &v in &col[..count.min(col.len())] {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// Widen a degenerate or unknown range, and pad it so lines do not sit on
/// the frame.
fn pad_range(r: Option<(f64, f64)>) -> (f64, f64) {
    let (lo, hi) = r.unwrap_or((0.0, 1.0));
    if hi - lo <= f64::EPSILON * lo.abs().max(hi.abs()).max(1.0) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
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
    let (x0, x1) = {
        let a = x_of(buf, axis, 0);
        let b = x_of(buf, axis, n - 1);
        if b > a {
            (a, b)
        } else {
            match axis {
                XAxis::Index => (a - 0.5, a + 0.5),
                XAxis::Time => (a - 1e-3, a + 1e-3),
            }
        }
    };
    let sparse_guess = n <= 64;
    let (x0, x1) = if sparse_guess {
        // Few points: keep the first and last off the frame.
        let pad = (x1 - x0) * 0.03;
        (x0 - pad, x1 + pad)
    } else {
        (x0, x1)
    };
    let step = p.kind == PanelKind::Step;
    let (y0, y1) = if step {
        (-0.15, 1.15)
    } else {
        pad_range(p.y_range.or_else(|| value_range(buf, n)))
    };
    let mut chart = ChartBuilder::on(area)
        .margin_right(8)
        .x_label_area_size(34)
        .y_label_area_size(58)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(de)?;
    let label = (FAMILY, 12).into_font().color(&t.fg);
    // Capture indices are whole numbers: no label between two of them.
    let xfmt = |v: &f64| {
        if axis == XAxis::Index && v.fract() != 0.0 {
            String::new()
        } else {
            fmt_num(*v)
        }
    };
    let yfmt = |v: &f64| {
        if step {
            if *v == 0.0 {
                "False".into()
            } else if *v == 1.0 {
                "True".into()
            } else {
                String::new()
            }
        } else {
            fmt_num(*v)
        }
    };
    chart
        .configure_mesh()
        .x_desc(match axis {
            XAxis::Index => "capture index",
            XAxis::Time => "time (s)",
        })
        .y_desc(p.info.name.as_str())
        .x_labels(6)
        .y_labels(if step { 3 } else { 6 })
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style(label.clone())
        .axis_desc_style(label)
        .axis_style(t.frame)
        .bold_line_style(t.grid)
        .light_line_style(t.bg)
        .draw()
        .map_err(de)?;

    let spec = chart.as_coord_spec().clone();
    let px = x_pixel(&spec);
    let (plot_w, _) = chart.plotting_area().dim_in_pixel();
    // Few points: thicker lines and a dot per point. Each point then has a
    // pixel column of its own, so decimation changes nothing either way.
    let sparse = n <= (plot_w as usize / 4).max(1);
    let width = if sparse { 2 } else { 1 };
    let vals = &buf.values()[..n];
    let im: &[f64] = if p.kind == PanelKind::Complex && !buf.imag().is_empty() {
        &buf.imag()[..n]
    } else {
        &[]
    };
    // The series are walked lazily (twice when sparse), never collected:
    // a 10-million-point history must not cost another copy of itself.
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
    for (col, color, index) in columns {
        let decimate = style.decimate && !sparse;
        let lines = if step {
            polylines(step_points(buf, axis, col), &px, decimate)
        } else if decimate && x_sorted {
            polylines_sorted(col, |i| x_of(buf, axis, i), &px, index)
        } else {
            polylines(
                col.iter()
                    .enumerate()
                    .map(|(i, &v)| (x_of(buf, axis, i), v)),
                &px,
                decimate,
            )
        };
        let st = ShapeStyle::from(color).stroke_width(width);
        for run in lines.runs {
            if run.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(run[0], 2, color.filled())))
                    .map_err(de)?;
            } else {
                chart
                    .draw_series(std::iter::once(PathElement::new(run, st)))
                    .map_err(de)?;
            }
        }
        // A dot per capture only while dots stay apart (≥ 10 px).
        if n <= (plot_w as usize / 10).max(1) && !step {
            chart
                .draw_series(
                    col.iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(i, &v)| Circle::new((x_of(buf, axis, i), v), 2, color.filled())),
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
    draw_marks(&mut chart, p, style, y0, &px)
}

/// The step polyline of a bool series: horizontal at the old value, then
/// vertical to the new one; a gap (NaN) wherever the value is missing.
fn step_points<'a>(
    buf: &'a ProbeDataBuffer,
    axis: XAxis,
    vals: &'a [f64],
) -> impl Iterator<Item = Point> + 'a {
    let mut prev: Option<f64> = None;
    vals.iter().enumerate().flat_map(move |(i, &v)| {
        let x = x_of(buf, axis, i);
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
fn x_pixel(spec: &Cartesian2d<RangedCoordf64, RangedCoordf64>) -> impl Fn(f64) -> i32 + '_ {
    let r = spec.get_x_axis_pixel_range();
    let xs = spec.x_spec();
    move |x: f64| xs.map(&x, (r.start, r.end))
}

/// Triangles on the x axis where a capture has no value (and where one
/// raised), one per pixel column, plus a legend with the counts.
fn draw_marks<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    p: &PanelData<'_>,
    style: &PlotStyle,
    y0: f64,
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
        let x = x_of(p.buf, style.x_axis, i as usize);
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
    let series: Vec<Vec<f64>> = arrays.iter().map(|(_, a)| a.to_f64_vec()).collect();
    let n = series.iter().map(Vec::len).max().unwrap_or(0);
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in series.iter().flatten().filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let (y0, y1) = pad_range((lo <= hi).then_some((lo, hi)));
    let x1 = (n.max(2) - 1) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin_right(8)
        .x_label_area_size(34)
        .y_label_area_size(58)
        .build_cartesian_2d(0.0..x1, y0..y1)
        .map_err(de)?;
    let label = (FAMILY, 12).into_font().color(&t.fg);
    let f = |v: &f64| fmt_num(*v);
    chart
        .configure_mesh()
        .x_desc(format!(
            "element index — latest: record #{latest_i}, {}",
            array_desc(latest)
        ))
        .y_desc(p.info.name.as_str())
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
    let px = x_pixel(&spec);
    let k = series.len();
    for (j, s) in series.iter().enumerate() {
        // Older arrays fade out; the latest is drawn last and opaque.
        let age = k - 1 - j;
        let color = if age == 0 {
            t.line
        } else {
            blend(t.line, t.bg, 0.25 + 0.2 * (3 - age.min(3)) as f64)
        };
        let lines = if style.decimate {
            polylines_sorted(s, |i| i as f64, &px, None)
        } else {
            polylines(
                s.iter().enumerate().map(|(i, &v)| (i as f64, v)),
                &px,
                false,
            )
        };
        for run in lines.runs {
            if run.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(run[0], 2, color.filled())))
                    .map_err(de)?;
            } else {
                chart
                    .draw_series(std::iter::once(PathElement::new(run, color)))
                    .map_err(de)?;
            }
        }
    }
    Ok(())
}

/// `a` mixed towards `b` so that `w` of `a` remains (opaque, so overdraw is
/// deterministic).
fn blend(a: RGBColor, b: RGBColor, w: f64) -> RGBColor {
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
    let m = if m > 0.0 { m * 1.1 } else { 1.0 };
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
    let f = |v: &f64| fmt_num(*v);
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
            .filter(|&&pt| seen.insert(spec.translate(&pt)))
            .copied()
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
    let rows = a.shape.first().copied().unwrap_or(0) as usize;
    let cols = a.shape.get(1).copied().unwrap_or(0) as usize;
    if rows == 0 || cols == 0 {
        return note(area, &format!("empty array {}", array_desc(a)), style);
    }
    let vals = a.to_f64_vec();
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in vals.iter().filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    let (w, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(w.saturating_sub(78));
    let mut chart = ChartBuilder::on(&main)
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..cols as f64, rows as f64..0.0)
        .map_err(de)?;
    let label = (FAMILY, 12).into_font().color(&t.fg);
    let f = |v: &f64| fmt_num(*v);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(format!("column — latest: #{index}, {}", array_desc(a)))
        .y_desc("row")
        .x_label_formatter(&f)
        .y_label_formatter(&f)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .axis_style(t.frame)
        .draw()
        .map_err(de)?;
    let (pw, ph) = chart.plotting_area().dim_in_pixel();
    let cell = |r: usize, c: usize| -> Option<f64> { vals.get(r * cols + c).copied() };
    let color_of = |v: Option<f64>| match v {
        Some(v) if v.is_finite() => colormap((v - lo) / span),
        // Missing (truncated) or NaN cells stay background.
        _ => t.bg,
    };
    if rows * cols <= (pw as usize) * (ph as usize) {
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
            let r = ((f64::from(y) + 0.5) / f64::from(ph) * rows as f64) as usize;
            for x in 0..pw {
                let c = ((f64::from(x) + 0.5) / f64::from(pw) * cols as f64) as usize;
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
        .build_cartesian_2d(0.0..1.0, lo..(if hi > lo { hi } else { lo + 1.0 }))
        .map_err(de)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&f)
        .label_style(label)
        .axis_style(t.frame)
        .draw()
        .map_err(de)?;
    let (_, bh) = cb.plotting_area().dim_in_pixel();
    let steps = bh.max(2) as usize;
    cb.draw_series((0..steps).map(|i| {
        let a0 = lo + span * i as f64 / steps as f64;
        let a1 = lo + span * (i + 1) as f64 / steps as f64;
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
        Value::BigInt(s) => s.clone(),
        Value::Float(f) => format!("{f:?}"),
        Value::Complex(r, i) => format!("({r:?}{:+?}j)", i),
        Value::Str { text, truncated } => {
            format!("{text:?}{}", if *truncated { "…" } else { "" })
        }
        Value::Bytes { data, truncated } => format!(
            "b{:?}{}",
            String::from_utf8_lossy(data),
            if *truncated { "…" } else { "" }
        ),
        Value::Sub { type_name, base } => format!("{type_name}({})", show_value(base)),
        Value::Other {
            repr, truncated, ..
        } => format!("{repr}{}", if *truncated { "…" } else { "" }),
        Value::Error { exc_type, message } => format!("<{exc_type}: {message}>"),
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
        let v = p.buf.other_at(i as u64).cloned().unwrap_or_else(|| {
            let x = p.buf.values()[i];
            if !p.buf.imag().is_empty() && p.buf.imag()[i].is_finite() {
                Value::Complex(x, p.buf.imag()[i])
            } else if x.is_nan() {
                Value::Absent
            } else {
                Value::Float(x)
            }
        });
        let mut s = format!("#{i}  {}", show_value(&v));
        let color = if status == Status::Ok {
            t.fg
        } else {
            s = format!("#{i}  [{}] {}", status.as_str(), show_value(&v));
            t.bad
        };
        let style_ = font.clone().color(&color);
        let s = fit_text(area, &s, &style_, w.saturating_sub(12));
        area.draw(&Text::new(s, (8, 4 + (row as u32 * line_h) as i32), style_))
            .map_err(de)?;
    }
    Ok(())
}

/// Axis labels: up to six significant digits, no trailing zeros,
/// exponent form for very large or very small magnitudes.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e4..1e10).contains(&a) && v.fract() == 0.0 {
        // Whole numbers (capture indices, counters) with separators.
        let t = thousands(a as u64);
        return if v < 0.0 { format!("-{t}") } else { t };
    }
    if !(1e-3..1e6).contains(&a) {
        // 1.50e6 → 1.5e6, 2.00e6 → 2e6
        let s = format!("{v:.2e}");
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        };
    }
    let digits = 6 - (a.log10().floor() as i32 + 1);
    let s = format!("{:.*}", digits.max(0) as usize, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_short() {
        assert_eq!(fmt_num(9.0), "9");
        assert_eq!(fmt_num(7.199999999), "7.2");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(fmt_num(1234567.5), "1.23e6");
        assert_eq!(fmt_num(2e6), "2,000,000");
        assert_eq!(fmt_num(-40000.0), "-40,000");
        assert_eq!(fmt_num(2.5e12), "2.5e12");
        assert_eq!(fmt_num(1.5e-4), "1.5e-4");
        assert_eq!(fmt_num(0.0), "0");
    }

    #[test]
    fn grid_prefers_wide_panels() {
        assert_eq!(grid(1, 1280, 720), (1, 1));
        assert_eq!(grid(2, 1280, 720), (2, 1));
        assert_eq!(grid(4, 1280, 720), (2, 2));
        let (r, c) = grid(7, 1280, 720);
        assert!(r * c >= 7);
    }
}
