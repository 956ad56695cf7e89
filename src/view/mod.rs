//! `probe view` (SPEC §11): one self-contained, offline HTML report of a log
//! — a zoomable panel per probe with exact per-pixel decimation of the
//! visible range, one shared x axis with a linked cursor, the log's
//! completeness — and the same page served live on loopback while a program
//! runs (`probe record --view`) or a log is written (`probe view --follow`).
//!
//! - [`data`]: histories → chunks (JSON header + compressed binary columns)
//!   that the page decodes; the size budget and the M4 reduction.
//! - [`page`]: the HTML: uPlot and the page's script and style inlined.
//! - [`live`]: the live store fed by the recorder's tap or by [`follow`],
//!   and the std-only HTTP server pushing Server-Sent Events.
//! - [`follow`]: reads a log that is still being written, frame by frame,
//!   trusting nothing past the last intact frame.
//!
//! The data's path for a report: the mmap'd log →
//! [`crate::history::buffer::build`] (one `ProbeDataBuffer` per probe) plus
//! the batch orders from [`LogReader::frames`]/[`LogReader::decode_block`] →
//! [`data::encode_probe`] → [`page::report_html`].

pub mod data;
pub mod follow;
pub mod live;
pub mod page;

use std::path::{Path, PathBuf};

use crate::history::buffer::{self, Histories, ProbeDataBuffer};
use crate::log::walk::ReadReport;
use crate::log::{LogError, LogReader};
use crate::render::plot::PanelKind;
use data::{BodyWriter, Chunk, SeriesView, StateHeader, ValueLimits};

/// What to write and how.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// The log.
    pub log: PathBuf,
    /// The report; default: the log's name with `.html`, beside it.
    pub output: Option<PathBuf>,
    /// Replace an existing report.
    pub force: bool,
    /// Default x axis: `seq` (capture order) or `time`.
    pub x_time: bool,
    /// Size budget of the report in bytes.
    pub max_bytes: u64,
}

/// Why no report was written.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The log cannot be read at all.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// The log.
        path: PathBuf,
        /// Why.
        error: LogError,
    },
    /// The report exists and `--force` was not given.
    #[error("{0} already exists; use --force to replace it")]
    OutputExists(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {error}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A bad option.
    #[error("{0}")]
    Usage(String),
}

/// What a report holds.
#[derive(Debug)]
pub struct ViewOutcome {
    /// The report written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// What the history rebuild found.
    pub report: ReadReport,
    /// Bucket size of the M4 reduction, when the budget needed one.
    pub reduced: Option<u64>,
    /// Notes on what the budget left out.
    pub notes: Vec<String>,
}

/// The default report path: `run.probe` → `run.html` beside it.
pub fn default_output(log: &Path) -> PathBuf {
    let stem = log
        .file_stem()
        .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
    log.parent()
        .unwrap_or(Path::new(""))
        .join(format!("{stem}.html"))
}

/// Batch orders of every record of the histories (index = probe id,
/// parallel to each history), from the log's blocks. Only non-zero orders
/// (records sharing a trigger with others) need a look-up.
pub fn batch_orders(reader: &LogReader, hist: &Histories) -> Vec<Vec<u16>> {
    let n = hist.buffers.len();
    // Through the reading layer: the frames the histories were built from,
    // decoded in parallel (a frame that fails was reported by the build).
    let mut nonzero: Vec<Vec<(u32, u64, u16)>> = Vec::new();
    if let Ok(mut walk) = reader.walk(false) {
        let _ = walk.par_units(
            1,
            |_, unit| {
                unit.iter()
                    .flat_map(|(_, b)| {
                        (0..b.len())
                            .filter(|&i| b.order[i] != 0)
                            .map(|i| (b.probe[i], b.seq_start + i as u64, b.order[i]))
                    })
                    .collect::<Vec<_>>()
            },
            |v| {
                nonzero.push(v);
                std::ops::ControlFlow::Continue(())
            },
        );
    }
    let mut out: Vec<Vec<u16>> = hist
        .buffers
        .iter()
        .map(|b| {
            if b.is_empty() {
                Vec::new()
            } else {
                vec![0; b.len()]
            }
        })
        .collect();
    for (p, seq, order) in nonzero.into_iter().flatten() {
        let p = p as usize;
        if p >= n {
            continue;
        }
        if let Ok(k) = hist.buffers[p].seqs().binary_search(&seq) {
            out[p][k] = order;
        }
    }
    out
}

/// The state header of a finished build.
pub fn state_of(reader: &LogReader, report: &ReadReport, live: bool) -> StateHeader {
    StateHeader {
        records: report.records,
        live,
        complete: report.is_clean(),
        has_end: report.has_end,
        issues: report.messages(),
        ended: reader.end().map(data::ended_json),
        duration_ns: reader.end().map(|e| e.duration_ns),
    }
}

/// Encode every probe of `hist` into one full chunk within `max_bytes` of
/// body (compressed or not): all records when they fit, else the M4 subset
/// with the smallest bucket that fits. Returns the chunk and the bucket.
#[allow(clippy::too_many_arguments)]
pub fn full_chunk(
    run: data::RunHeader,
    state: StateHeader,
    buffers: &[ProbeDataBuffer],
    labels: &[String],
    orders: &[Vec<u16>],
    compress: bool,
    max_bytes: u64,
) -> (Chunk, Option<u64>) {
    let limits = ValueLimits::default();
    let kinds: Vec<PanelKind> = buffers.iter().map(PanelKind::of).collect();
    let build = |reduce_over: Option<(u64, usize)>| -> Chunk {
        let mut body = BodyWriter::new(compress);
        let mut parts = Vec::new();
        let mut notes = Vec::new();
        for (p, buf) in buffers.iter().enumerate() {
            let s = SeriesView::of(buf, orders.get(p).map_or(&[][..], |o| &o[..]));
            let reduce = reduce_over.and_then(|(b, min)| (s.len() > min).then_some(b));
            let (part, refs) = data::encode_probe(
                p as u32,
                &s,
                kinds[p],
                0,
                s.len(),
                reduce,
                &limits,
                &mut body,
            );
            if part.values_omitted > 0 {
                notes.push(format!(
                    "{}: {} of its text/array values are not embedded (size limits); \
                     the latest ones are",
                    labels.get(p).map_or("?", String::as_str),
                    part.values_omitted
                ));
            }
            if let Some(b) = part.reduced {
                notes.push(format!(
                    "{}: {} records reduced to {} (first, min, max and last of every {} records) \
                     to keep the report under {} MB; exact while a pixel holds {} or more records",
                    labels.get(p).map_or("?", String::as_str),
                    s.len(),
                    part.n,
                    b,
                    max_bytes / 1_000_000,
                    b
                ));
            }
            parts.push((part, refs));
        }
        data::assemble("full", Some(run.clone()), state.clone(), parts, notes, body)
    };
    let chunk = build(None);
    if chunk.body.len() as u64 <= max_bytes {
        return (chunk, None);
    }
    // Probes small enough never need reducing; start from the bucket the
    // size ratio suggests and double until it fits.
    let ratio = chunk.body.len() as f64 / max_bytes as f64;
    let mut b = (ratio * 4.0).max(2.0).log2().ceil() as u32;
    loop {
        let bucket = 1u64 << b.min(40);
        let c = build(Some((bucket, 4096)));
        if c.body.len() as u64 <= max_bytes || b >= 40 {
            return (c, Some(bucket));
        }
        b += 1;
    }
}

/// Write the report of a log.
pub fn write_report(opts: &ViewOptions) -> Result<ViewOutcome, ViewError> {
    let output = opts
        .output
        .clone()
        .unwrap_or_else(|| default_output(&opts.log));
    if output.extension().is_some_and(|e| e == "probe") {
        return Err(ViewError::Usage(format!(
            "-o {} would replace a log with a report; name it .html",
            output.display()
        )));
    }
    // Refuse early (the check is repeated at the rename).
    if !opts.force && std::fs::symlink_metadata(&output).is_ok() {
        return Err(ViewError::OutputExists(output));
    }
    let reader = LogReader::open(&opts.log).map_err(|error| ViewError::Unreadable {
        path: opts.log.clone(),
        error,
    })?;
    let wanted = vec![true; reader.meta().probes.len()];
    let unreadable = |error| ViewError::Unreadable {
        path: opts.log.clone(),
        error,
    };
    reader
        .check_work(crate::log::limits::Work::Draw)
        .map_err(unreadable)?;
    let hist = buffer::build(&reader, &wanted).map_err(unreadable)?;
    let orders = batch_orders(&reader, &hist);
    let log_name = opts.log.file_name().map_or_else(
        || opts.log.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let run = data::run_header(
        &log_name,
        reader.meta(),
        60,
        if opts.x_time { "time" } else { "seq" },
    );
    let state = state_of(&reader, &hist.report, false);
    // Base64 costs 4/3; the page itself ~70 KB.
    let body_budget = (opts.max_bytes.saturating_sub(200_000)) / 4 * 3;
    let labels = reader.meta().unique_labels();
    let (chunk, reduced) = full_chunk(
        run,
        state,
        &hist.buffers,
        &labels,
        &orders,
        true,
        body_budget,
    );
    let html = page::report_html(&chunk, &log_name);
    let bytes = html.len() as u64;
    write_atomic(&output, html.as_bytes(), opts.force)?;
    Ok(ViewOutcome {
        path: output,
        bytes,
        report: hist.report,
        reduced,
        notes: chunk.header.notes.clone(),
    })
}

/// Write `bytes` to `path` through the shared output path
/// ([`crate::output`]): a temporary file in the same directory renamed into
/// place, so a failed or interrupted write never leaves a partial report,
/// an existing file is refused without `force` (atomically), and a symlink
/// at `path` is replaced, never written through.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<(), ViewError> {
    crate::output::write_file(path, bytes, force).map_err(|e| match e {
        crate::output::OutputError::Exists { path } => ViewError::OutputExists(path),
        crate::output::OutputError::Io { path, error } => ViewError::Output { path, error },
    })
}
