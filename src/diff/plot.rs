//! `probe diff --plot`: the picture of a comparison, one row per compared
//! probe pair — both traces overlaid, and under them B − A with the
//! tolerance band and the first divergence marked — drawn by the replay
//! renderer ([`crate::render::diff`]).
//!
//! Rows show probes that differ first (up to [`MAX_PANELS`]); with no
//! difference, the first matched probes. Numbers are plotted against their
//! index in the probe's sequence (the index the report's divergence uses);
//! a probe holding complex numbers gets two rows, its real part and its
//! imaginary part (a difference in either shows); one holding only bools
//! is drawn in steps. A pair of array probes shows the
//! first differing pair of arrays (or the first pair, when none differs)
//! over element index (complex arrays, like complex scalars, in a real and
//! an imaginary row). A pair with nothing numeric gets a row saying so.
//! The traces are read through the reading layer, every series charged to
//! the memory budget; the picture is written through [`crate::output`].

use std::path::Path;

use crate::log::{LogError, LogReader, ReadOptions, RecordBlock};
use crate::model::{ArrayValue, Kind, Value};
use crate::output::{write_file, OutputError};
use crate::render::diff::{render_rgb, render_svg, size, DiffRow, SeriesPair};
use crate::render::encode::encode_png;
use crate::render::plot::Theme;
use crate::text::escape;

use super::{DiffOptions, DiffReport, ProbeDiff};

/// Most panels in one picture.
pub const MAX_PANELS: usize = 6;

/// Why a plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Reading a trace failed.
    #[error("reading {}: {}", escape(.0), escape(&.1.to_string()))]
    Read(String, LogError),
    /// The extension is neither `.png` nor `.svg`.
    #[error("{}: the plot must be a .png or .svg file", escape(.0))]
    Format(String),
    /// Drawing the picture failed.
    #[error("drawing {}: {detail}", escape(.path))]
    Draw {
        /// The picture.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// Writing the picture failed, or it exists.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// What a probe of one trace holds, for choosing how to draw it.
#[derive(Debug, Clone, Copy, Default)]
struct Holds {
    numbers: u64,
    complex: u64,
    bools: u64,
    arrays: u64,
}

/// Record `i` as a real number (a complex one by its real part); only a
/// complex value is looked at, so array records cost nothing here.
fn real(b: &RecordBlock, i: usize) -> Option<f64> {
    b.as_f64(i).or_else(|| match b.side(i) {
        Some(Value::Complex(re, _)) => Some(*re),
        _ => None,
    })
}

/// Record `i`'s imaginary part: a complex value's, 0 for a real number,
/// NaN for anything else.
fn imag(b: &RecordBlock, i: usize) -> f64 {
    match b.side(i) {
        Some(Value::Complex(_, im)) => *im,
        _ if b.as_f64(i).is_some() => 0.0,
        _ => f64::NAN,
    }
}

/// One pass over a trace: what each probe holds, each wanted probe's real
/// series and (complex probes) imaginary series, charged to the budget,
/// and the value at position `k` of the probes in `nth`.
struct Pass {
    holds: Vec<Holds>,
    series: Vec<Option<Vec<f64>>>,
    imag: Vec<Option<Vec<f64>>>,
    nth: Vec<Option<Value>>,
}

/// Appends `x` to a series held under the memory budget.
fn push_charged(s: &mut Vec<f64>, x: f64, budget: &crate::log::Budget) -> Result<(), LogError> {
    if s.len() == s.capacity() {
        let add = s.capacity().max(1024);
        budget.reserve(s, add, &|| "the series of diff --plot".to_string())?;
    }
    s.push(x);
    Ok(())
}

fn pass(
    r: &LogReader,
    want_series: &[bool],
    want_imag: &[bool],
    nth: &[Option<u64>],
) -> Result<Pass, LogError> {
    let n = r.meta().probes.len();
    let wanted = |w: &[bool]| -> Vec<Option<Vec<f64>>> {
        (0..n)
            .map(|i| w.get(i).copied().unwrap_or(false).then(Vec::new))
            .collect()
    };
    let mut p = Pass {
        holds: vec![Holds::default(); n],
        series: wanted(want_series),
        imag: wanted(want_imag),
        nth: vec![None; n],
    };
    let mut seen = vec![0u64; n];
    let budget = r.budget().clone();
    let mut walk = r.walk(false)?;
    while let Some(next) = walk.next_block() {
        let b = match next {
            Ok((_, b)) => b,
            Err(e) if e.is_resource() => return Err(e),
            Err(_) => continue, // reported by the walk; the diff said so
        };
        for i in 0..b.len() {
            let id = b.probe[i] as usize;
            let Some(h) = p.holds.get_mut(id) else {
                continue;
            };
            let x = real(&b, i);
            if x.is_some_and(f64::is_finite) {
                h.numbers += 1;
                match b.kind(i) {
                    Kind::Complex => h.complex += 1,
                    Kind::Bool => h.bools += 1,
                    _ => {}
                }
            } else if b.kind(i) == Kind::Array {
                h.arrays += 1;
            }
            if let Some(s) = &mut p.series[id] {
                push_charged(s, x.unwrap_or(f64::NAN), &budget)?;
            }
            if let Some(s) = &mut p.imag[id] {
                push_charged(s, imag(&b, i), &budget)?;
            }
            if nth.get(id).copied().flatten() == Some(seen[id]) {
                p.nth[id] = Some(b.value(i));
            }
            seen[id] += 1;
        }
    }
    Ok(p)
}

fn title(p: &ProbeDiff) -> String {
    let label = if p.a == p.b {
        escape(&p.a).into_owned()
    } else {
        format!("{} → {}", escape(&p.a), escape(&p.b))
    };
    match &p.first {
        None => format!("{label} — same ({} values)", p.count_a),
        Some(d) => format!(
            "{label} — first divergence at #{} ({} vs {} values)",
            d.index, p.count_a, p.count_b
        ),
    }
}

fn array_row(
    p: &ProbeDiff,
    k: u64,
    a: Option<&Value>,
    b: Option<&Value>,
    opts: &DiffOptions,
) -> Vec<DiffRow> {
    let desc = |v: Option<&Value>| match v {
        Some(Value::Array(x)) => format!("{}{:?}", x.dtype.name(), x.shape),
        Some(v) => v.kind().as_str().to_string(),
        None => "no value".to_string(),
    };
    match (a, b) {
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            let first = first_element_difference(x, y, opts);
            let (da, db) = (desc(a), desc(b));
            let row = |part: &str, a: Vec<f64>, b: Vec<f64>| {
                DiffRow::Series(SeriesPair {
                    title: format!("{} — arrays of value #{k}{part}", title(p)),
                    x_desc: format!("element index (C order) of value #{k}: A {da}, B {db}"),
                    a,
                    b,
                    first,
                    atol: opts.tol.atol,
                    rtol: opts.tol.rtol,
                    step: false,
                })
            };
            if x.dtype.is_complex() || y.dtype.is_complex() {
                // As for complex scalars: the real parts alone would show
                // two identical arrays where only the imaginary parts differ.
                vec![
                    row(" — real part", x.to_f64_vec(), y.to_f64_vec()),
                    row(" — imaginary part", imag_parts(x), imag_parts(y)),
                ]
            } else {
                vec![row("", x.to_f64_vec(), y.to_f64_vec())]
            }
        }
        _ => vec![DiffRow::Note {
            title: title(p),
            why: format!(
                "value #{k} is not an array in both traces (A: {}, B: {}): nothing to draw",
                desc(a),
                desc(b)
            ),
        }],
    }
}

/// An array's imaginary parts in C order (0 for a real dtype, NaN where an
/// element cannot be read).
fn imag_parts(x: &ArrayValue) -> Vec<f64> {
    (0..x.len())
        .map(|i| x.get_complex(i).map_or(f64::NAN, |c| c.1))
        .collect()
}

/// The first element index where two arrays differ beyond tolerance.
fn first_element_difference(x: &ArrayValue, y: &ArrayValue, opts: &DiffOptions) -> Option<u64> {
    let n = x.len().max(y.len());
    (0..n)
        .find(|&i| match (x.get_complex(i), y.get_complex(i)) {
            (Some(a), Some(b)) => !super::compare::close_complex(a, b, &opts.tol).0,
            _ => true,
        })
        .map(|i| i as u64)
}

/// Draw the picture into `out` (`.png` or `.svg`); returns the number of
/// rows that show data, and why none does when that is 0.
pub fn plot(
    opts: &DiffOptions,
    report: &DiffReport,
    out: &Path,
    force: bool,
) -> Result<(usize, Option<String>), PlotError> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let svg = match ext.as_deref() {
        Some("svg") => true,
        Some("png") => false,
        _ => return Err(PlotError::Format(out.display().to_string())),
    };
    crate::output::check_target(out, force)?;
    let read = ReadOptions::from_env();
    let open = |p: &Path| {
        let r = LogReader::open_with(p, read.clone())
            .map_err(|e| PlotError::Read(p.display().to_string(), e))?;
        r.check_work(crate::log::limits::Work::Draw)
            .map_err(|e| PlotError::Read(p.display().to_string(), e))?;
        Ok::<_, PlotError>(r)
    };
    let (ra, rb) = (open(&opts.a)?, open(&opts.b)?);
    // Re-derive the pairing (cheap) to get probe ids for the report's rows.
    let m = super::match_probes(
        &ra.meta().probes,
        &rb.meta().probes,
        &opts.maps,
        opts.ignore_lines,
    );
    // Differing probes first.
    let mut order: Vec<usize> = (0..m.pairs.len())
        .filter(|&k| !report.probes[k].same)
        .collect();
    order.extend((0..m.pairs.len()).filter(|&k| report.probes[k].same));

    // First pass: what each probe holds (so only the chosen probes'
    // series are held in memory).
    fn read_err(p: &Path) -> impl Fn(LogError) -> PlotError + '_ {
        move |e| PlotError::Read(p.display().to_string(), e)
    }
    let ha = pass(&ra, &[], &[], &[]).map_err(read_err(&opts.a))?.holds;
    let hb = pass(&rb, &[], &[], &[]).map_err(read_err(&opts.b))?.holds;
    enum Choice {
        /// Numbers: complex ones among them (two rows), all of them bools
        /// (steps).
        Series {
            complex: bool,
            step: bool,
        },
        Array(u64),
        Nothing,
    }
    let chosen: Vec<(usize, Choice)> = order
        .into_iter()
        .take(MAX_PANELS)
        .map(|k| {
            let (a, b) = (ha[m.pairs[k].a as usize], hb[m.pairs[k].b as usize]);
            let c = if a.numbers + b.numbers > 0 {
                Choice::Series {
                    complex: a.complex + b.complex > 0,
                    step: a.bools == a.numbers && b.bools == b.numbers,
                }
            } else if a.arrays + b.arrays > 0 {
                Choice::Array(report.probes[k].first.as_ref().map_or(0, |d| d.index))
            } else {
                Choice::Nothing
            };
            (k, c)
        })
        .collect();
    let (na, nb) = (ra.meta().probes.len(), rb.meta().probes.len());
    let mut want_a = vec![false; na];
    let mut want_b = vec![false; nb];
    let mut imag_a = vec![false; na];
    let mut imag_b = vec![false; nb];
    let mut nth_a = vec![None; na];
    let mut nth_b = vec![None; nb];
    for (k, c) in &chosen {
        let (a, b) = (m.pairs[*k].a as usize, m.pairs[*k].b as usize);
        match c {
            Choice::Series { complex, .. } => {
                (want_a[a], want_b[b]) = (true, true);
                (imag_a[a], imag_b[b]) = (*complex, *complex);
            }
            Choice::Array(i) => (nth_a[a], nth_b[b]) = (Some(*i), Some(*i)),
            Choice::Nothing => {}
        }
    }
    let mut pa = pass(&ra, &want_a, &imag_a, &nth_a).map_err(read_err(&opts.a))?;
    let mut pb = pass(&rb, &want_b, &imag_b, &nth_b).map_err(read_err(&opts.b))?;
    let mut drawn = 0;
    let mut rows: Vec<DiffRow> = Vec::new();
    for (k, c) in &chosen {
        let p = &report.probes[*k];
        let (a, b) = (m.pairs[*k].a as usize, m.pairs[*k].b as usize);
        let series = |title: String, a: Vec<f64>, b: Vec<f64>| {
            DiffRow::Series(SeriesPair {
                title,
                x_desc: "capture index (value # in the probe's sequence)".into(),
                a,
                b,
                first: p.first.as_ref().map(|d| d.index),
                atol: opts.tol.atol,
                rtol: opts.tol.rtol,
                step: matches!(c, Choice::Series { step: true, .. }),
            })
        };
        match c {
            Choice::Series { complex, .. } => {
                drawn += 1;
                let (ra, rb) = (
                    pa.series[a].take().unwrap_or_default(),
                    pb.series[b].take().unwrap_or_default(),
                );
                if *complex {
                    rows.push(series(format!("{} — real part", title(p)), ra, rb));
                    rows.push(series(
                        format!("{} — imaginary part", title(p)),
                        pa.imag[a].take().unwrap_or_default(),
                        pb.imag[b].take().unwrap_or_default(),
                    ));
                } else {
                    rows.push(series(title(p), ra, rb));
                }
            }
            Choice::Array(i) => {
                let new = array_row(p, *i, pa.nth[a].as_ref(), pb.nth[b].as_ref(), opts);
                if new.iter().any(|r| matches!(r, DiffRow::Series(_))) {
                    drawn += 1;
                }
                rows.extend(new);
            }
            Choice::Nothing => rows.push(DiffRow::Note {
                title: title(p),
                why: "no numbers or arrays in either trace (text, None, errors …): nothing to draw"
                    .to_string(),
            }),
        }
    }
    let why = (drawn == 0).then(|| {
        if m.pairs.is_empty() {
            "the traces have no probe in common".to_string()
        } else {
            "no compared probe holds numbers or arrays".to_string()
        }
    });
    let header = format!(
        "probe diff  ·  A = {}  ·  B = {}  ·  atol {} rtol {}",
        escape(&file_name(&opts.a)),
        escape(&file_name(&opts.b)),
        crate::text::num(opts.tol.atol),
        crate::text::num(opts.tol.rtol)
    );
    let dims = size(rows.len());
    let theme = Theme::LIGHT;
    let draw_err = |e: crate::render::plot::DrawError| PlotError::Draw {
        path: out.display().to_string(),
        detail: e.to_string(),
    };
    let bytes = if svg {
        render_svg(&header, &rows, &theme, dims)
            .map_err(draw_err)?
            .into_bytes()
    } else {
        let (rgb, _) = render_rgb(&header, &rows, &theme, dims).map_err(draw_err)?;
        encode_png(&rgb, dims, true).map_err(draw_err)?
    };
    write_file(out, &bytes, force)?;
    Ok((drawn, why))
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
