//! The viewer's data: probe histories encoded as *chunks* that the page
//! (`assets/view/view.js`) decodes, the same way for a static report and for
//! the live server.
//!
//! A chunk is a JSON header ([`ChunkHeader`]) plus a binary body. Each probe
//! of the header names its records' columns in the body: `seq`, `ts`, `val`
//! (the real value, NaN where there is none), `imag` (complex probes),
//! `order` (position in the capture batch; `batch = seq - order`) and, when
//! the records are a subset, `pos` (capture index within the probe). Columns
//! are little-endian `f64` (or `u16` for `order`), transformed so that a
//! generic compressor finds the redundancy: `seq`, `ts` and `pos` as deltas,
//! `val`/`imag` XORed with the previous value's bits, and every column
//! byte-shuffled (all first bytes, then all second bytes …). In a static
//! report each column is raw-DEFLATE-compressed on its own (in parallel; the
//! browser inflates it with its built-in `DecompressionStream`); the live
//! server sends them uncompressed.
//!
//! Size is bounded by a byte budget: when the compressed columns of every
//! record do not fit, the biggest probes keep, per bucket of `B` records, the
//! first, minimum, maximum and last record (the M4 reduction of
//! [`crate::render::decimate`], bucket = `B` capture indices), every record
//! that ends a run before a gap, and their marks; `B` is the smallest power
//! of two that fits. The page then draws exactly as long as a pixel column
//! holds at least `B` records, and says so when zoomed past it.

use std::io::Write;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::history::buffer::ProbeDataBuffer;
use crate::log::meta::{EndInfo, ProbeInfo, RunMeta};
use crate::model::{Status, Value};
use crate::render::decimate::{polylines_sorted, BlockIndex};
use crate::render::plot::PanelKind;

/// One probe's history as slices (from a [`ProbeDataBuffer`] plus the batch
/// orders, or from the live store).
#[derive(Clone, Copy)]
pub struct SeriesView<'a> {
    /// Global seq of each record.
    pub seq: &'a [u64],
    /// Capture time (ns since start).
    pub ts: &'a [u64],
    /// Real value (NaN: none).
    pub val: &'a [f64],
    /// Imaginary parts (empty when never complex).
    pub imag: &'a [f64],
    /// Position in the capture batch (empty when unknown: all 0).
    pub order: &'a [u16],
    /// Statuses other than ok, by position.
    pub marks: &'a [(u64, Status)],
    /// Values that are not real/complex scalars, by position.
    pub others: &'a [(u64, Value)],
}

impl<'a> SeriesView<'a> {
    /// A view of a history plus its orders (`order` may be empty).
    pub fn of(buf: &'a ProbeDataBuffer, order: &'a [u16]) -> Self {
        SeriesView {
            seq: buf.seqs(),
            ts: buf.timestamps(),
            val: buf.values(),
            imag: buf.imag(),
            order,
            marks: buf.marks(),
            others: buf.others(),
        }
    }

    /// Records.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    /// True without records.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }
}

/// The panel kind's name in the page.
pub fn panel_name(k: PanelKind) -> &'static str {
    match k {
        PanelKind::Line => "line",
        PanelKind::Step => "step",
        PanelKind::Complex => "complex",
        PanelKind::Array => "array",
        PanelKind::Text => "text",
        PanelKind::Empty => "empty",
    }
}

/// A column of a chunk's body.
#[derive(Debug, Clone, Serialize)]
pub struct Col {
    /// `pos`, `seq`, `ts`, `val`, `imag`, `order`, or `data` (array elements).
    pub name: &'static str,
    /// `f64` or `u16`.
    pub ty: &'static str,
    /// `raw`, `delta` (prefix sums give the values) or `xor` (each value's
    /// bits XOR the previous value's bits).
    pub enc: &'static str,
    /// Elements.
    pub count: u64,
    /// Byte offset in the body.
    pub off: u64,
    /// Bytes in the body (compressed when the chunk is).
    pub len: u64,
}

/// A completion of an earlier record as the page applies it: (capture
/// index, status, real part, imaginary part, value for non-scalars or null).
pub type PatchEntry = (u64, &'static str, Option<f64>, Option<f64>, Json);

/// A probe's part of a chunk.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeChunk {
    /// Probe id (index in the probe table).
    pub id: u32,
    /// Records of the probe known when the chunk was made.
    pub total: u64,
    /// Capture index of the first record in this chunk.
    pub start: u64,
    /// Records in this chunk.
    pub n: u64,
    /// Bucket size when the records are the M4 subset (`None`: all records).
    pub reduced: Option<u64>,
    /// Panel kind from the value kinds seen so far.
    pub panel: &'static str,
    /// Body columns of the records.
    pub cols: Vec<Col>,
    /// Statuses other than ok: (capture index, status).
    pub marks: Vec<(u64, &'static str)>,
    /// Values that are not real/complex scalars: (capture index, value).
    pub values: Vec<(u64, Json)>,
    /// Values left out by the budget (text, arrays): how many.
    pub values_omitted: u64,
    /// Earlier records whose capture completed since the last chunk:
    /// (capture index, status, real, imag, value or null).
    pub patches: Vec<PatchEntry>,
}

/// Run-level information (first chunk only).
#[derive(Debug, Clone, Serialize)]
pub struct RunHeader {
    /// The log's file name.
    pub log: String,
    /// probe version that wrote the log.
    pub probe_version: String,
    /// Command line of the run.
    pub command: Vec<String>,
    /// Python version.
    pub python: String,
    /// Tracer core.
    pub core: String,
    /// Start, ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// Probe table: (id, label, spec, role).
    pub probes: Vec<ProbeHeader>,
    /// Refresh rate of live updates.
    pub fps: u32,
    /// Default x axis: `seq` or `time`.
    pub x: &'static str,
    /// probe's own version (the viewer's).
    pub viewer: &'static str,
}

/// A probe in the run header.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeHeader {
    /// Id.
    pub id: u32,
    /// Short label (`loop.py:4:x@lhs`).
    pub label: String,
    /// Spec as given.
    pub spec: String,
    /// `lhs` or `rhs`.
    pub role: &'static str,
}

/// How complete the data is.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StateHeader {
    /// Records known (all probes).
    pub records: u64,
    /// True while a live run goes on.
    pub live: bool,
    /// True when the log has its end marker and nothing is damaged.
    pub complete: bool,
    /// True when the end marker was read.
    pub has_end: bool,
    /// Problems (damage, gaps, no end marker), each a sentence.
    pub issues: Vec<String>,
    /// How the program ended (from the end marker).
    pub ended: Option<Json>,
    /// Duration of the run (ns), from the end marker.
    pub duration_ns: Option<u64>,
}

/// A chunk's header.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkHeader {
    /// `full` (replaces everything) or `delta` (appends).
    pub kind: &'static str,
    /// Columns are raw-DEFLATE-compressed.
    pub compressed: bool,
    /// Run information (full chunks).
    pub run: Option<RunHeader>,
    /// Completeness.
    pub state: StateHeader,
    /// Probes with data in this chunk.
    pub probes: Vec<ProbeChunk>,
    /// Notes on what the size budget left out, for the page's banner.
    pub notes: Vec<String>,
}

/// A chunk: header and body.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Header (serialised as JSON).
    pub header: ChunkHeader,
    /// Body (columns).
    pub body: Vec<u8>,
}

/// Run header from the log's metadata.
pub fn run_header(log_name: &str, meta: &RunMeta, fps: u32, x: &'static str) -> RunHeader {
    RunHeader {
        log: log_name.to_string(),
        probe_version: meta.probe_version.clone(),
        command: meta.command.clone(),
        python: meta.python_version.clone(),
        core: meta.core.to_string(),
        start_unix_ns: meta.start_unix_ns,
        probes: probe_headers(&meta.probes, &meta.unique_labels()),
        fps,
        x,
        viewer: env!("CARGO_PKG_VERSION"),
    }
}

fn probe_headers(probes: &[ProbeInfo], labels: &[String]) -> Vec<ProbeHeader> {
    probes
        .iter()
        .zip(labels)
        .map(|(p, l)| ProbeHeader {
            id: p.id,
            label: l.clone(),
            spec: p.spec.clone(),
            role: p.role.as_str(),
        })
        .collect()
}

/// The end marker as the page shows it.
pub fn ended_json(end: &EndInfo) -> Json {
    json!({
        "kind": end.exit.kind,
        "code": end.exit.code,
        "signal": end.exit.signal,
        "exception": end.exit.exception,
        "detail": end.exit.detail,
        "lost_records": end.lost_records,
        "lost_values": end.lost_values,
    })
}

/// A value as the page shows it; arrays' elements go into `body` (f64
/// columns named `data`, real then imaginary parts).
fn value_json(v: &Value, body: &mut BodyWriter) -> Json {
    match v {
        Value::Absent => json!({"k": "absent"}),
        Value::None => json!({"k": "none"}),
        Value::Bool(b) => json!({"k": "bool", "v": b}),
        Value::Int(i) => json!({"k": "int", "v": i.to_string()}),
        Value::BigInt(s) => json!({"k": "int", "v": s}),
        Value::Float(f) => json!({"k": "float", "v": float_text(*f)}),
        Value::Complex(r, i) => {
            json!({"k": "complex", "v": format!("({}{}{}j)", float_text(*r), if *i < 0.0 || (*i == 0.0 && i.is_sign_negative()) { "" } else { "+" }, float_text(*i))})
        }
        Value::Str { text, truncated } => json!({"k": "str", "v": text, "tr": truncated}),
        Value::Bytes { data, truncated } => {
            json!({"k": "bytes", "v": bytes_repr(data), "tr": truncated})
        }
        Value::Sub { type_name, base } => {
            let mut j = value_json(base, body);
            if let Some(o) = j.as_object_mut() {
                o.insert("type".into(), Json::String(type_name.clone()));
            }
            j
        }
        Value::Other {
            type_name,
            repr,
            truncated,
        } => json!({"k": "other", "type": type_name, "v": repr, "tr": truncated}),
        Value::Error { exc_type, message } => {
            json!({"k": "error", "type": exc_type, "v": message})
        }
        Value::Array(a) => {
            let n = a.len();
            let complex = a.dtype.is_complex();
            let mut re = Vec::with_capacity(n);
            let mut im = Vec::with_capacity(if complex { n } else { 0 });
            for i in 0..n {
                if complex {
                    let (r, m) = a.get_complex(i).unwrap_or((f64::NAN, f64::NAN));
                    re.push(r);
                    im.push(m);
                } else {
                    re.push(a.get_f64(i).unwrap_or(f64::NAN));
                }
            }
            let re_col = body.f64_col("data", &re, "raw");
            let im_col = complex.then(|| body.f64_col("data", &im, "raw"));
            json!({
                "k": "array",
                "type": a.type_name,
                "dtype": a.dtype.name(),
                "shape": a.shape,
                "tr": a.truncated,
                "re": re_col,
                "im": im_col,
            })
        }
    }
}

/// Shortest round-trip text of a float, Python-style for the specials.
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f:?}")
    }
}

fn bytes_repr(data: &[u8]) -> String {
    let mut s = String::from("b'");
    for &b in data.iter().take(4096) {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}

/// Builds a chunk body: each column transformed, shuffled and (optionally)
/// compressed. Columns are queued and encoded together in parallel.
pub struct BodyWriter {
    compress: bool,
    pending: Vec<PendingCol>,
}

struct PendingCol {
    name: &'static str,
    ty: &'static str,
    enc: &'static str,
    count: u64,
    bytes: Vec<u8>,
    slot: usize,
}

/// Where a queued column lands: filled in by [`BodyWriter::finish`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ColRef(pub usize);

impl BodyWriter {
    /// A writer; `compress` selects raw DEFLATE per column.
    pub fn new(compress: bool) -> Self {
        BodyWriter {
            compress,
            pending: Vec::new(),
        }
    }

    /// Queue an f64 column with encoding `enc` (`raw`, `delta`, `xor`).
    pub fn f64_col(&mut self, name: &'static str, v: &[f64], enc: &'static str) -> ColRef {
        let n = v.len();
        let mut words: Vec<u64> = Vec::with_capacity(n);
        let mut prev = 0u64;
        let mut prevf = 0f64;
        for &x in v {
            words.push(match enc {
                "xor" => {
                    let b = x.to_bits();
                    let w = b ^ prev;
                    prev = b;
                    w
                }
                "delta" => {
                    let d = x - prevf;
                    prevf = x;
                    d.to_bits()
                }
                _ => x.to_bits(),
            });
        }
        let mut bytes = vec![0u8; n * 8];
        for (i, w) in words.iter().enumerate() {
            let le = w.to_le_bytes();
            for (k, b) in le.iter().enumerate() {
                bytes[k * n + i] = *b;
            }
        }
        self.push(name, "f64", enc, n as u64, bytes)
    }

    /// Queue a u64 column as f64 deltas (exact below 2^53).
    pub fn u64_delta_col(&mut self, name: &'static str, v: &[u64]) -> ColRef {
        let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        self.f64_col(name, &f, "delta")
    }

    /// Queue a u16 column.
    pub fn u16_col(&mut self, name: &'static str, v: &[u16]) -> ColRef {
        let n = v.len();
        let mut bytes = vec![0u8; n * 2];
        for (i, x) in v.iter().enumerate() {
            let le = x.to_le_bytes();
            bytes[i] = le[0];
            bytes[n + i] = le[1];
        }
        self.push(name, "u16", "raw", n as u64, bytes)
    }

    fn push(
        &mut self,
        name: &'static str,
        ty: &'static str,
        enc: &'static str,
        count: u64,
        bytes: Vec<u8>,
    ) -> ColRef {
        let slot = self.pending.len();
        self.pending.push(PendingCol {
            name,
            ty,
            enc,
            count,
            bytes,
            slot,
        });
        ColRef(slot)
    }

    /// Encode every queued column; returns the body and the columns by slot.
    pub fn finish(self) -> (Vec<u8>, Vec<Col>) {
        let compress = self.compress;
        let encoded: Vec<(PendingCol, Vec<u8>)> = self
            .pending
            .into_par_iter()
            .map(|mut c| {
                let out = if compress {
                    deflate(&c.bytes)
                } else {
                    std::mem::take(&mut c.bytes)
                };
                (c, out)
            })
            .collect();
        let total: usize = encoded.iter().map(|(_, b)| b.len() + 8).sum();
        let mut body = Vec::with_capacity(total);
        let mut cols = Vec::with_capacity(encoded.len());
        for (c, bytes) in encoded {
            while body.len() % 8 != 0 {
                body.push(0);
            }
            cols.push(Col {
                name: c.name,
                ty: c.ty,
                enc: c.enc,
                count: c.count,
                off: body.len() as u64,
                len: bytes.len() as u64,
            });
            debug_assert_eq!(cols.len() - 1, c.slot);
            body.extend_from_slice(&bytes);
        }
        (body, cols)
    }
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    // Level 6: the shuffled columns compress 10-25 % better than at level 1
    // for about twice the time, still well under a second per 10 M values
    // on one core, and columns are compressed in parallel.
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::new(6),
    );
    // Writing into a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Limits on what a chunk holds besides the scalar columns.
#[derive(Debug, Clone, Copy)]
pub struct ValueLimits {
    /// Text-like values kept per probe (the latest).
    pub text_per_probe: usize,
    /// Characters kept of each text value.
    pub text_chars: usize,
    /// Array elements kept per probe in total (captures spread evenly,
    /// the latest always kept).
    pub array_elements_per_probe: usize,
    /// Marks kept per probe before they are thinned to one per bucket.
    pub marks_per_probe: usize,
}

impl Default for ValueLimits {
    fn default() -> Self {
        ValueLimits {
            text_per_probe: 2000,
            text_chars: 2000,
            array_elements_per_probe: 1 << 20,
            marks_per_probe: 200_000,
        }
    }
}

fn truncate_text(j: &mut Json, chars: usize) {
    if let Some(Json::String(s)) = j.get_mut("v") {
        if s.chars().count() > chars {
            let cut: String = s.chars().take(chars).collect();
            *s = cut + "…";
            if let Some(o) = j.as_object_mut() {
                o.insert("tr".into(), Json::Bool(true));
            }
        }
    }
}

/// The side values of `s` within capture indices `[from, to)` that fit the
/// limits: arrays spread evenly with the latest kept, text the latest.
fn pick_values<'a>(
    s: &SeriesView<'a>,
    from: u64,
    to: u64,
    limits: &ValueLimits,
) -> (Vec<(u64, &'a Value)>, u64) {
    let lo = s.others.partition_point(|o| o.0 < from);
    let hi = s.others.partition_point(|o| o.0 < to);
    let range = &s.others[lo..hi];
    let arrays: Vec<&(u64, Value)> = range
        .iter()
        .filter(|o| matches!(o.1, Value::Array(_)))
        .collect();
    let texts: Vec<&(u64, Value)> = range
        .iter()
        .filter(|o| !matches!(o.1, Value::Array(_)))
        .collect();
    let mut out: Vec<(u64, &Value)> = Vec::new();
    // Text: errors always (up to the limit), then the latest others.
    let tstart = texts.len().saturating_sub(limits.text_per_probe);
    out.extend(texts[tstart..].iter().map(|o| (o.0, &o.1)));
    let mut omitted = tstart as u64;
    if !arrays.is_empty() {
        let elems = |v: &Value| match v {
            Value::Array(a) => a.len().max(1),
            _ => 1,
        };
        let last = arrays[arrays.len() - 1];
        let per = elems(&last.1);
        let fit = (limits.array_elements_per_probe / per).clamp(1, arrays.len());
        // Evenly spaced captures ending with the latest.
        let mut idx: Vec<usize> = (0..fit)
            .map(|k| {
                if fit == 1 {
                    arrays.len() - 1
                } else {
                    k * (arrays.len() - 1) / (fit - 1)
                }
            })
            .collect();
        idx.dedup();
        let mut used = 0usize;
        let mut kept: Vec<usize> = Vec::new();
        for &i in idx.iter().rev() {
            let e = elems(&arrays[i].1);
            if used + e > limits.array_elements_per_probe && !kept.is_empty() {
                continue;
            }
            used += e;
            kept.push(i);
        }
        kept.sort_unstable();
        omitted += (arrays.len() - kept.len()) as u64;
        out.extend(kept.iter().map(|&i| (arrays[i].0, &arrays[i].1)));
    }
    out.sort_by_key(|o| o.0);
    (out, omitted)
}

/// Encode records `[from, to)` of a series (all of them, or the M4 subset
/// with bucket `reduce`) into `body`; returns the probe's chunk part with
/// column slots (resolved by [`assemble`]).
#[allow(clippy::too_many_arguments)]
pub fn encode_probe(
    id: u32,
    s: &SeriesView<'_>,
    panel: PanelKind,
    from: usize,
    to: usize,
    reduce: Option<u64>,
    limits: &ValueLimits,
    body: &mut BodyWriter,
) -> (ProbeChunk, Vec<ColRef>) {
    let to = to.min(s.len());
    let from = from.min(to);
    let idx: Option<Vec<usize>> = reduce.map(|b| subset(s, from, to, b, limits));
    let pick_f = |col: &[f64]| -> Vec<f64> {
        match &idx {
            Some(ix) => ix.iter().map(|&i| col[i]).collect(),
            None => col[from..to].to_vec(),
        }
    };
    let pick_u = |col: &[u64]| -> Vec<u64> {
        match &idx {
            Some(ix) => ix.iter().map(|&i| col[i]).collect(),
            None => col[from..to].to_vec(),
        }
    };
    let mut refs = Vec::new();
    if let Some(ix) = &idx {
        let pos: Vec<u64> = ix.iter().map(|&i| i as u64).collect();
        refs.push(body.u64_delta_col("pos", &pos));
    }
    refs.push(body.u64_delta_col("seq", &pick_u(s.seq)));
    refs.push(body.u64_delta_col("ts", &pick_u(s.ts)));
    refs.push(body.f64_col("val", &pick_f(s.val), "xor"));
    if !s.imag.is_empty() {
        refs.push(body.f64_col("imag", &pick_f(s.imag), "xor"));
    }
    if !s.order.is_empty() {
        let ord: Vec<u16> = match &idx {
            Some(ix) => ix.iter().map(|&i| s.order[i]).collect(),
            None => s.order[from..to].to_vec(),
        };
        refs.push(body.u16_col("order", &ord));
    }
    let n = idx.as_ref().map_or(to - from, Vec::len) as u64;
    let lo = s.marks.partition_point(|m| (m.0 as usize) < from);
    let hi = s.marks.partition_point(|m| (m.0 as usize) < to);
    let marks: Vec<(u64, &'static str)> = match &idx {
        Some(ix) => s.marks[lo..hi]
            .iter()
            .filter(|m| ix.binary_search(&(m.0 as usize)).is_ok())
            .map(|m| (m.0, m.1.as_str()))
            .collect(),
        None => s.marks[lo..hi]
            .iter()
            .map(|m| (m.0, m.1.as_str()))
            .collect(),
    };
    let (vals, omitted) = pick_values(s, from as u64, to as u64, limits);
    let values = vals
        .into_iter()
        .map(|(p, v)| {
            let mut j = value_json(v, body);
            truncate_text(&mut j, limits.text_chars);
            (p, j)
        })
        .collect();
    (
        ProbeChunk {
            id,
            total: s.len() as u64,
            start: from as u64,
            n,
            reduced: reduce,
            panel: panel_name(panel),
            cols: Vec::new(),
            marks,
            values,
            values_omitted: omitted,
            patches: Vec::new(),
        },
        refs,
    )
}

/// The capture indices kept when records `[from, to)` are reduced to
/// buckets of `b`: per bucket the first, minimum, maximum and last record
/// of each unbroken run (real and imaginary parts), the record after each
/// run (the gap that breaks the line), and the marked records (thinned to
/// one per bucket past the limit).
fn subset(s: &SeriesView<'_>, from: usize, to: usize, b: u64, limits: &ValueLimits) -> Vec<usize> {
    let b = b.max(1) as usize;
    let mut keep: Vec<usize> = Vec::new();
    let mut add_runs = |ys: &[f64]| {
        let index = BlockIndex::new(ys);
        let p = polylines_sorted(ys, |i| i as f64, |x| (x as usize / b) as i32, Some(&index));
        for run in &p.runs {
            for pt in run {
                keep.push(from + pt.0 as usize);
            }
            if let Some(last) = run.last() {
                let after = from + last.0 as usize + 1;
                if after < to {
                    keep.push(after);
                }
            }
        }
        // A leading gap.
        if ys.first().is_some_and(|v| !v.is_finite()) {
            keep.push(from);
        }
    };
    add_runs(&s.val[from..to]);
    if !s.imag.is_empty() {
        add_runs(&s.imag[from..to]);
    }
    let lo = s.marks.partition_point(|m| (m.0 as usize) < from);
    let hi = s.marks.partition_point(|m| (m.0 as usize) < to);
    let marks = &s.marks[lo..hi];
    if marks.len() <= limits.marks_per_probe {
        keep.extend(marks.iter().map(|m| m.0 as usize));
    } else {
        let mut last_bucket = usize::MAX;
        for m in marks {
            let bk = m.0 as usize / b;
            if bk != last_bucket {
                keep.push(m.0 as usize);
                last_bucket = bk;
            }
        }
    }
    // The last record, whatever it is (the page's "last" value).
    if to > from {
        keep.push(to - 1);
    }
    keep.sort_unstable();
    keep.dedup();
    keep
}

/// Resolve column slots into the probes' column lists and build the chunk.
pub fn assemble(
    kind: &'static str,
    run: Option<RunHeader>,
    state: StateHeader,
    parts: Vec<(ProbeChunk, Vec<ColRef>)>,
    notes: Vec<String>,
    body: BodyWriter,
) -> Chunk {
    let compressed = body.compress;
    let (bytes, cols) = body.finish();
    let probes = parts
        .into_iter()
        .map(|(mut p, refs)| {
            p.cols = refs.iter().filter_map(|r| cols.get(r.0).cloned()).collect();
            // Array element columns are referenced from the values.
            let patch_values = p.patches.iter_mut().map(|e| &mut e.4);
            for v in p.values.iter_mut().map(|(_, v)| v).chain(patch_values) {
                for key in ["re", "im"] {
                    if let Some(slot) = v.get(key).and_then(Json::as_u64) {
                        if let Some(c) = cols.get(slot as usize) {
                            v[key] = serde_json::to_value(c).unwrap_or(Json::Null);
                        }
                    }
                }
            }
            p
        })
        .collect();
    Chunk {
        header: ChunkHeader {
            kind,
            compressed,
            run,
            state,
            probes,
            notes,
        },
        body: bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_keeps_extremes_gaps_marks_and_last() {
        let val: Vec<f64> = (0..100)
            .map(|i| if i == 50 { f64::NAN } else { (i % 7) as f64 })
            .collect();
        let seq: Vec<u64> = (0..100).collect();
        let marks = vec![(50u64, Status::Unbound)];
        let s = SeriesView {
            seq: &seq,
            ts: &seq,
            val: &val,
            imag: &[],
            order: &[],
            marks: &marks,
            others: &[],
        };
        let k = subset(&s, 0, 100, 10, &ValueLimits::default());
        assert!(k.contains(&50), "the gap is kept");
        assert!(k.contains(&99), "the last record is kept");
        assert!(k.contains(&0));
        // Per bucket of 10 at most 4 points plus gap/marks.
        assert!(k.len() <= 10 * 4 + 3, "{}", k.len());
        // Every bucket's max (6) and min (0) survive.
        for b in 0..10 {
            let inb: Vec<f64> = k
                .iter()
                .filter(|&&i| i / 10 == b && i != 50)
                .map(|&i| val[i])
                .collect();
            let full: Vec<f64> = (b * 10..b * 10 + 10)
                .filter(|&i| i != 50)
                .map(|i| val[i])
                .collect();
            let mx = |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max);
            let mn = |v: &[f64]| v.iter().cloned().fold(f64::MAX, f64::min);
            assert_eq!(mx(&inb), mx(&full));
            assert_eq!(mn(&inb), mn(&full));
        }
    }

    #[test]
    fn columns_are_shuffled_and_transformed() {
        let mut w = BodyWriter::new(false);
        w.f64_col("val", &[1.0, 1.0], "xor");
        w.u16_col("order", &[1, 258]);
        let (body, cols) = w.finish();
        assert_eq!(cols.len(), 2);
        // 1.0 then 1.0 ^ 1.0 = 0: the second word is all zero.
        let v = &body[cols[0].off as usize..][..16];
        // Byte k of element i sits at k * n + i.
        let w0: Vec<u8> = (0..8).map(|k| v[k * 2]).collect();
        let w1: Vec<u8> = (0..8).map(|k| v[k * 2 + 1]).collect();
        assert_eq!(u64::from_le_bytes(w0.try_into().unwrap()), 1f64.to_bits());
        assert_eq!(u64::from_le_bytes(w1.try_into().unwrap()), 0);
        let o = &body[cols[1].off as usize..][..4];
        assert_eq!([o[0], o[2]], [1, 0]);
        assert_eq!([o[1], o[3]], [2, 1]);
    }
}
