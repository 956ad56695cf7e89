//! `probe diff --plot`: both traces' series of each compared probe
//! overlaid, one panel per probe, the first divergence marked.
//!
//! Panels show probes that differ first (up to [`MAX_PANELS`]); with no
//! difference, the first matched probes. Values are plotted against their
//! index in the probe's sequence (the index the report's divergence uses):
//! reals as they are, complex numbers by their real part, other kinds
//! (text, arrays …) are skipped. Long series are reduced per pixel column
//! to their min and max, which draws the same envelope as every point.

use std::collections::HashMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::log::block::RecordBlock;
use crate::log::LogReader;
use crate::model::Value;
use crate::render::font;

use super::{DiffOptions, DiffReport};

/// Most panels in one picture.
pub const MAX_PANELS: usize = 6;

const WIDTH: u32 = 1200;
const PANEL_HEIGHT: u32 = 300;

/// Why a plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Reading a trace failed.
    #[error("reading {0}")]
    Read(String),
    /// The extension is neither `.png` nor `.svg`.
    #[error("{0}: the plot must be a .png or .svg file")]
    Format(String),
    /// Drawing or writing the picture failed.
    #[error("drawing {path}: {detail}")]
    Draw {
        /// The picture.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// Calls `f` with every intact RECORDS block of the log at `path`, its
/// placeholders joined with their completions.
fn each_block(path: &Path, mut f: impl FnMut(&RecordBlock)) -> Result<(), PlotError> {
    let r =
        LogReader::open(path).map_err(|e| PlotError::Read(format!("{}: {e}", path.display())))?;
    let completions = r.completions();
    for (_, b) in r.blocks() {
        let Ok(mut b) = b else {
            continue;
        };
        b.join_completions(&completions);
        f(&b);
    }
    Ok(())
}

/// Record `i` as a real number (a complex one by its real part); only a
/// complex value is materialised, so array records cost nothing here.
fn real(b: &RecordBlock, i: usize) -> Option<f64> {
    b.as_f64(i).or_else(|| match b.kind(i) {
        "complex" => match b.value(i) {
            Value::Complex(re, _) => Some(re),
            _ => None,
        },
        _ => None,
    })
}

/// Each selected probe's values in seq order (`NaN` for non-numeric ones).
fn series(path: &Path, ids: &[u32]) -> Result<HashMap<u32, Vec<f64>>, PlotError> {
    let mut out: HashMap<u32, Vec<f64>> = ids.iter().map(|&i| (i, Vec::new())).collect();
    each_block(path, |b| {
        for i in 0..b.len() {
            if let Some(v) = out.get_mut(&b.probe[i]) {
                v.push(real(b, i).unwrap_or(f64::NAN));
            }
        }
    })?;
    Ok(out)
}

/// Probes with at least one finite real or complex value.
fn numeric_probes(path: &Path) -> Result<std::collections::HashSet<u32>, PlotError> {
    let mut out = std::collections::HashSet::new();
    each_block(path, |b| {
        for i in 0..b.len() {
            if !out.contains(&b.probe[i]) && real(b, i).is_some_and(f64::is_finite) {
                out.insert(b.probe[i]);
            }
        }
    })?;
    Ok(out)
}

/// Min/max per pixel column: at most `2 * width` points, same envelope.
fn decimate(ys: &[f64], width: usize) -> Vec<(f64, f64)> {
    if ys.len() <= 2 * width {
        return ys
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(i, &y)| (i as f64, y))
            .collect();
    }
    let per = ys.len().div_ceil(width);
    let mut out = Vec::with_capacity(2 * width);
    for (c, chunk) in ys.chunks(per).enumerate() {
        let x0 = (c * per) as f64;
        let (mut lo, mut hi) = ((f64::INFINITY, x0), (f64::NEG_INFINITY, x0));
        for (k, &y) in chunk.iter().enumerate() {
            if y.is_finite() {
                let x = x0 + k as f64;
                if y < lo.0 {
                    lo = (y, x);
                }
                if y > hi.0 {
                    hi = (y, x);
                }
            }
        }
        if lo.0.is_finite() {
            let (a, b) = if lo.1 <= hi.1 { (lo, hi) } else { (hi, lo) };
            out.push((a.1, a.0));
            out.push((b.1, b.0));
        }
    }
    out
}

/// A y-axis label: short, and 0 for the rounding noise of a tick at zero.
fn tick(y: f64, range: f64) -> String {
    let a = y.abs();
    if a <= range * 1e-9 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{y:.2e}")
    } else {
        let s = format!("{y:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Draw the picture; returns the number of panels.
pub fn plot(opts: &DiffOptions, report: &DiffReport, out: &Path) -> Result<usize, PlotError> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let svg = match ext.as_deref() {
        Some("svg") => true,
        Some("png") => false,
        _ => return Err(PlotError::Format(out.display().to_string())),
    };
    // Re-derive the pairing (cheap) to get probe ids for the report's rows.
    let ra = LogReader::open(&opts.a).map_err(|e| PlotError::Read(e.to_string()))?;
    let rb = LogReader::open(&opts.b).map_err(|e| PlotError::Read(e.to_string()))?;
    let m = super::match_probes(
        &ra.meta().probes,
        &rb.meta().probes,
        &opts.maps,
        opts.ignore_lines,
    );
    drop((ra, rb));
    // Differing probes first; only probes with numbers to draw.
    let mut order: Vec<usize> = (0..m.pairs.len())
        .filter(|&k| !report.probes[k].same)
        .collect();
    order.extend((0..m.pairs.len()).filter(|&k| report.probes[k].same));
    // A first pass finds the probes with numbers (cheap: tags only), so
    // that only the chosen probes' series are held in memory.
    let num_a = numeric_probes(&opts.a)?;
    let num_b = numeric_probes(&opts.b)?;
    let chosen: Vec<usize> = order
        .into_iter()
        .filter(|&k| num_a.contains(&m.pairs[k].a) || num_b.contains(&m.pairs[k].b))
        .take(MAX_PANELS)
        .collect();
    let ids_a: Vec<u32> = chosen.iter().map(|&k| m.pairs[k].a).collect();
    let ids_b: Vec<u32> = chosen.iter().map(|&k| m.pairs[k].b).collect();
    let sa = series(&opts.a, &ids_a)?;
    let sb = series(&opts.b, &ids_b)?;

    font::ensure_registered();
    let height = PANEL_HEIGHT * chosen.len().max(1) as u32;
    let draw_err = |e: String| PlotError::Draw {
        path: out.display().to_string(),
        detail: e,
    };
    let ctx = Panels {
        report,
        pairs: &m.pairs,
        chosen: &chosen,
        sa: &sa,
        sb: &sb,
    };
    if svg {
        ctx.draw(SVGBackend::new(out, (WIDTH, height)).into_drawing_area())
            .map_err(draw_err)?;
    } else {
        ctx.draw(BitMapBackend::new(out, (WIDTH, height)).into_drawing_area())
            .map_err(draw_err)?;
    }
    Ok(chosen.len())
}

struct Panels<'a> {
    report: &'a DiffReport,
    pairs: &'a [super::Pair],
    chosen: &'a [usize],
    sa: &'a HashMap<u32, Vec<f64>>,
    sb: &'a HashMap<u32, Vec<f64>>,
}

impl Panels<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((self.chosen.len().max(1), 1));
        let empty = Vec::new();
        for (slot, &k) in self.chosen.iter().enumerate() {
            let ya = self.sa.get(&self.pairs[k].a).unwrap_or(&empty);
            let yb = self.sb.get(&self.pairs[k].b).unwrap_or(&empty);
            draw_panel(&areas[slot], &self.report.probes[k], ya, yb).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &super::ProbeDiff,
    ya: &[f64],
    yb: &[f64],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = ya.len().max(yb.len()).max(2);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &y in ya.iter().chain(yb) {
        if y.is_finite() {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    let title = match &p.first {
        None => format!("{} — same ({} values)", p.a, p.count_a),
        Some(d) => format!(
            "{} — first divergence at #{} ({} vs {} values)",
            p.a, d.index, p.count_a, p.count_b
        ),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (font::FAMILY, 18))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..(n - 1) as f64, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("value index")
        .y_desc("value")
        .y_label_formatter(&|y: &f64| tick(*y, hi - lo))
        .label_style((font::FAMILY, 13))
        .draw()?;
    let cols = 1100;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    chart
        .draw_series(LineSeries::new(decimate(ya, cols), blue.stroke_width(2)))?
        .label("A")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(decimate(yb, cols), orange.stroke_width(1)))?
        .label("B")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(1)));
    if let Some(d) = &p.first {
        let x = d.index as f64;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, lo - pad), (x, hi + pad)],
                RED.stroke_width(1),
            )))?
            .label(format!("first divergence #{}", d.index))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .label_font((font::FAMILY, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::decimate;

    #[test]
    fn decimation_keeps_the_envelope() {
        let ys: Vec<f64> = (0..10_000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let d = decimate(&ys, 100);
        assert!(d.len() <= 200);
        let max = d.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let min = d.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        assert_eq!((min, max), (0.0, 999.0));
        assert_eq!(decimate(&[1.0, 2.0], 100), vec![(0.0, 1.0), (1.0, 2.0)]);
    }
}
