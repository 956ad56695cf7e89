//! The `diff --plot` picture, drawn with replay's renderer: the same
//! charts ([`line_chart`]), the same exact decimation ([`draw_series`]),
//! the same safe axes ([`Axis`]), lines clipped to their panels.
//!
//! One row per compared pair: on top both traces overlaid (A, B), below
//! them what differs — B − A, with the tolerance band (`atol + rtol·|a|`
//! either side of zero) shaded and the first divergence marked in both
//! charts. A pair of array probes shows the first differing pair of arrays
//! the same way, over element index. A pair with nothing numeric to draw
//! says so in its row.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::render::axis::{finite_bounds, Axis};
use crate::render::font::{ensure_registered, FAMILY};
use crate::render::plot::{
    de, draw_series, line_chart, plot_rect, ChartSpec, DrawError, Series, Theme,
};

/// What one row of the picture shows.
#[derive(Debug, Clone)]
pub enum DiffRow {
    /// Two series compared value by value (capture index on x).
    Series(SeriesPair),
    /// Nothing to draw, and why.
    Note {
        /// The pair's label.
        title: String,
        /// Why nothing is drawn.
        why: String,
    },
}

/// Two traces' series of one probe pair and how they were compared.
#[derive(Debug, Clone)]
pub struct SeriesPair {
    /// Title (label and verdict).
    pub title: String,
    /// X axis description (`capture index`, `element index of …`).
    pub x_desc: String,
    /// A's values (NaN: no real value).
    pub a: Vec<f64>,
    /// B's values.
    pub b: Vec<f64>,
    /// Index of the first divergence, if any.
    pub first: Option<u64>,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Drawn as steps (booleans: a value holds until the next one), not
    /// as slopes between values.
    pub step: bool,
}

/// Height of one row's two charts.
pub const ROW_HEIGHT: u32 = 420;
/// Width of the picture.
pub const WIDTH: u32 = 1200;

/// Pixel rectangles `x0, y0, x1, y1`.
pub type Rects = Vec<(i32, i32, i32, i32)>;

/// Where things were drawn, for checking that series stay in their
/// plotting areas.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The plotting areas (top then bottom chart of each row).
    pub plots: Rects,
    /// The legends (coloured text in the series' colours, outside the data).
    pub legends: Rects,
    /// The row titles (label and verdict), one per drawn pair: no legend
    /// ever overlaps one.
    pub titles: Rects,
}

/// Draw the rows onto `root`; returns where the charts and legends are.
pub fn draw_diff<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    header: &str,
    rows: &[DiffRow],
    t: &Theme,
) -> Result<Layout, DrawError> {
    ensure_registered();
    root.fill(&t.bg).map_err(de)?;
    let (_, h) = root.dim_in_pixel();
    let header_h = 26u32.min(h / 4);
    let (top, body) = root.split_vertically(header_h);
    top.draw(&Text::new(
        header.to_string(),
        (8, 5),
        (FAMILY, 15).into_font().color(&t.fg),
    ))
    .map_err(de)?;
    let mut layout = Layout::default();
    if rows.is_empty() {
        body.draw(&Text::new(
            "no probe to draw".to_string(),
            (8, 8),
            (FAMILY, 14).into_font().color(&t.fg),
        ))
        .map_err(de)?;
        return Ok(layout);
    }
    let areas = body.split_evenly((rows.len(), 1));
    for (area, row) in areas.iter().zip(rows) {
        let inner = area.margin(4, 4, 6, 6);
        match row {
            DiffRow::Note { title, why } => {
                let body = inner
                    .titled(title, (FAMILY, 14).into_font().color(&t.fg))
                    .map_err(de)?;
                body.draw(&Text::new(
                    why.clone(),
                    (8, 8),
                    (FAMILY, 13).into_font().color(&t.fg.mix(0.7)),
                ))
                .map_err(de)?;
            }
            DiffRow::Series(p) => draw_pair(&inner, p, t, &mut layout)?,
        }
    }
    Ok(layout)
}

/// B − A (NaN where either has no value, or the difference overflows).
fn differences(p: &SeriesPair) -> Vec<f64> {
    p.a.iter()
        .zip(&p.b)
        .map(|(&a, &b)| {
            let d = b - a;
            if d.is_finite() {
                d
            } else {
                f64::NAN
            }
        })
        .collect()
}

fn draw_pair<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &SeriesPair,
    t: &Theme,
    layout: &mut Layout,
) -> Result<(), DrawError> {
    let font = (FAMILY, 14).into_font().color(&t.fg);
    let (w, _) = area.dim_in_pixel();
    let legend = (FAMILY, 13).into_font();
    let has_band = p.atol > 0.0 || p.rtol > 0.0;
    let mut entries = vec![("— A", t.line), ("— B", t.line2)];
    // Only what is drawn is named: a pair that never diverges has no mark.
    if p.first.is_some() {
        entries.push(("| first divergence", t.bad));
    }
    if has_band {
        entries.push(("— tolerance", t.raised));
    }
    let widths: Vec<i32> = entries
        .iter()
        .map(|(e, _)| {
            area.estimate_text_size(e, &legend.clone().into_text_style(area))
                .map_or(120, |(w, _)| w as i32)
                + 14
        })
        .collect();
    let legend_w: i32 = widths.iter().sum();
    // The title on the left, the legend on the right of the same line when
    // both fit with a gap; otherwise the legend gets a line of its own and
    // the title the whole width, cut with an ellipsis only if even that is
    // too narrow. Never one over the other, and never over the data.
    let full_w = w as i32 - 8;
    let measure = |s: &str| {
        area.estimate_text_size(s, &font)
            .map_or((full_w.max(0) as u32, 16), |(w, h)| (w, h))
    };
    let raw = crate::render::plot::short_text(&p.title, 400);
    let (raw_w, _) = measure(&raw);
    let own_line = raw_w as i32 + 24 + legend_w > full_w;
    let text = fit_text(&raw, full_w.max(0) as u32, &measure);
    let (tw, th) = measure(&text);
    const LINE: u32 = 20;
    let head_h = if own_line { 2 * LINE } else { LINE };
    let (head, body) = area.split_vertically(head_h);
    head.draw(&Text::new(text.clone(), (4, 2), font.clone()))
        .map_err(de)?;
    let (ox, oy) = area.get_base_pixel();
    layout
        .titles
        .push((ox + 4, oy + 2, ox + 4 + tw as i32, oy + 2 + th as i32));
    let ly = if own_line { LINE as i32 + 1 } else { 2 };
    let mut lx = w as i32 - legend_w - 4;
    layout
        .legends
        .push((ox + lx, oy + ly - 2, ox + w as i32, oy + ly + 18));
    for ((e, c), ew) in entries.iter().zip(&widths) {
        head.draw(&Text::new(*e, (lx, ly), legend.clone().color(c)))
            .map_err(de)?;
        lx += ew;
    }
    let (_, bh) = body.dim_in_pixel();
    let (upper, lower) = body.split_vertically(bh * 3 / 5);
    let n = p.a.len().max(p.b.len());
    let x = if n <= 1 {
        Axis::fixed(-0.5, 0.5)
    } else {
        Axis::fixed(0.0, (n - 1) as f64)
    };
    let x_at = |i: usize| i as f64;

    // Both series.
    let y = Axis::new(finite_bounds([p.a.as_slice(), p.b.as_slice()]), 0.05);
    let mut chart = line_chart(
        &upper,
        &ChartSpec {
            x,
            y,
            x_desc: "",
            y_desc: "value",
            x_integer: true,
            y_ticks: 5,
            y_label: None,
        },
        t,
    )?;
    layout.plots.push(plot_rect(&chart));
    // A thicker under B, so that where they agree both show; thick only
    // while points stay apart (a dense thick line is a smear).
    let (pw, _) = chart.plotting_area().dim_in_pixel();
    let wide = if n <= (pw as usize / 4).max(1) { 3 } else { 2 };
    for (ys, color, width) in [(&p.a, t.line, wide), (&p.b, t.line2, 1)] {
        draw_series(
            &mut chart,
            &x,
            &y,
            &Series {
                ys,
                x: &x_at,
                x_sorted: true,
                index: None,
                color,
                width,
                decimate: true,
                step: p.step,
            },
        )?;
    }
    if let Some(k) = p.first {
        mark(&mut chart, &x, &y, k, t)?;
    }

    // What differs: B − A and the tolerance band.
    let d = differences(p);
    let band: Vec<f64> =
        p.a.iter()
            .take(d.len())
            .map(|&a| p.atol + p.rtol * a.abs())
            .map(|b| if b.is_finite() { b } else { f64::NAN })
            .collect();
    let mut bounds = finite_bounds([d.as_slice()]);
    if has_band {
        // The band widens the range only as far as the differences reach
        // (a band far wider than every difference would flatten them).
        // Where every difference is zero, the band itself sets the range:
        // a flat zero well inside ±tolerance is what there is to see.
        let reach = bounds.map_or(0.0, |(lo, hi)| lo.abs().max(hi.abs()));
        let bmax = finite_bounds([band.as_slice()]).map_or(0.0, |b| b.1);
        let r = if reach > 0.0 {
            bmax.min(reach * 2.0)
        } else {
            bmax
        };
        bounds = Some(bounds.map_or((-r, r), |(lo, hi)| (lo.min(-r), hi.max(r))));
    }
    let yd = Axis::new(bounds.or(Some((0.0, 0.0))), 0.05);
    let x_desc = p.x_desc.clone();
    let mut chart = line_chart(
        &lower,
        &ChartSpec {
            x,
            y: yd,
            x_desc: &x_desc,
            y_desc: "B − A",
            x_integer: true,
            y_ticks: 4,
            y_label: None,
        },
        t,
    )?;
    layout.plots.push(plot_rect(&chart));
    if has_band {
        let neg: Vec<f64> = band.iter().map(|b| -b).collect();
        let shade = t.raised;
        for ys in [&band, &neg] {
            draw_series(
                &mut chart,
                &x,
                &yd,
                &Series {
                    ys,
                    x: &x_at,
                    x_sorted: true,
                    index: None,
                    color: shade,
                    width: 1,
                    decimate: true,
                    step: false,
                },
            )?;
        }
    }
    // The zero line, then the differences.
    let zero = yd.to_plot(0.0);
    if zero >= yd.lo && zero <= yd.hi {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x.lo, zero), (x.hi, zero)],
                t.frame,
            )))
            .map_err(de)?;
    }
    draw_series(
        &mut chart,
        &x,
        &yd,
        &Series {
            ys: &d,
            x: &x_at,
            x_sorted: true,
            index: None,
            color: t.fg,
            width: 1,
            decimate: true,
            step: p.step,
        },
    )?;
    if let Some(k) = p.first {
        mark(&mut chart, &x, &yd, k, t)?;
    }
    Ok(())
}

/// `s` if `measure` says it is at most `width` pixels wide, else its tail
/// after an ellipsis, as long as fits (the verdict at the end of a title
/// is what a reader needs; a long label loses its leading characters).
fn fit_text(s: &str, width: u32, measure: &dyn Fn(&str) -> (u32, u32)) -> String {
    if measure(s).0 <= width {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let with_cut = |cut: usize| format!("…{}", chars[cut..].iter().collect::<String>());
    // The fewest leading characters to cut (binary search: each try
    // measures the whole string).
    let (mut lo, mut hi) = (1usize, chars.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if measure(&with_cut(mid)).0 <= width {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    with_cut(lo)
}

/// A vertical line at index `k` across the chart (inside its range).
fn mark<DB: DrawingBackend>(
    chart: &mut crate::render::plot::Chart<'_, DB>,
    x: &Axis,
    y: &Axis,
    k: u64,
    t: &Theme,
) -> Result<(), DrawError> {
    let kx = x.to_plot(k as f64);
    if kx < x.lo || kx > x.hi {
        return Ok(());
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(kx, y.lo), (kx, y.hi)],
            t.bad.stroke_width(1),
        )))
        .map_err(de)?;
    Ok(())
}

/// Draw the picture into an RGB buffer (`width × height × 3`); returns the
/// buffer and where the charts and legends are.
pub fn render_rgb(
    header: &str,
    rows: &[DiffRow],
    t: &Theme,
    (w, h): (u32, u32),
) -> Result<(Vec<u8>, Layout), DrawError> {
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    let rects = {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let r = draw_diff(&root, header, rows, t)?;
        root.present().map_err(de)?;
        r
    };
    Ok((buf, rects))
}

/// Draw the picture as an SVG document.
pub fn render_svg(
    header: &str,
    rows: &[DiffRow],
    t: &Theme,
    (w, h): (u32, u32),
) -> Result<String, DrawError> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
        draw_diff(&root, header, rows, t)?;
        root.present().map_err(de)?;
    }
    Ok(s)
}

/// The picture's size for `rows` rows.
pub fn size(rows: usize) -> (u32, u32) {
    (WIDTH, 26 + ROW_HEIGHT * rows.max(1) as u32)
}
