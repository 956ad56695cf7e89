//! [`ProbeDataBuffer`]: one probe's complete history, rebuilt from a log.
//!
//! The history is columnar and compact because a replay holds every record
//! of every chosen probe in memory at once: a real scalar record costs
//! exactly 24 bytes (`seq` u64 + `ts` u64 + value f64). Everything that is
//! not a real number in an `ok` capture lives in sparse side tables indexed
//! by the record's position in the history: `marks` (statuses other than
//! `ok`), `other` (text, arrays, `None`, error details …) and `imag` (dense,
//! created only once a complex value appears). A position without a real
//! value holds NaN in `val`, so a plot breaks its line there instead of
//! drawing a zero.
//!
//! [`build`] decodes the log's blocks in parallel (rayon), splits each block
//! into per-probe parts, and appends the parts in seq order. Everything that
//! keeps the history from being the log's complete, ordered record — damaged
//! frames, seq gaps, out-of-order or duplicated frames, placeholders never
//! completed, a missing end marker — is listed in [`BuildReport::issues`].

use std::collections::HashMap;

use rayon::prelude::*;

use crate::capture::record::{Status, Value};
use crate::log::block::{BlockCodec, RecordBlock};
use crate::log::format::{tag, FrameKind};
use crate::log::meta::ProbeInfo;
use crate::log::reader::{FrameInfo, LogReader};

/// What kind of values a history holds, counted per record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounts {
    /// `bool` values.
    pub bool: u64,
    /// `int` values (64-bit and big ints).
    pub int: u64,
    /// `float` values.
    pub float: u64,
    /// `complex` values.
    pub complex: u64,
    /// Arrays.
    pub array: u64,
    /// `str`, `bytes`, `None` and other values shown as text.
    pub text: u64,
    /// Captures without a value (any status other than `ok` without one).
    pub missing: u64,
}

impl KindCounts {
    fn add(&mut self, o: &KindCounts) {
        self.bool += o.bool;
        self.int += o.int;
        self.float += o.float;
        self.complex += o.complex;
        self.array += o.array;
        self.text += o.text;
        self.missing += o.missing;
    }

    /// Records with a real numeric value (bool, int, float).
    pub fn real(&self) -> u64 {
        self.bool + self.int + self.float
    }
}

/// One probe's complete history in seq order. See the module docs for the
/// layout and why it is laid out so.
#[derive(Debug, Clone, Default)]
pub struct ProbeDataBuffer {
    seq: Vec<u64>,
    ts: Vec<u64>,
    val: Vec<f64>,
    imag: Vec<f64>,
    marks: Vec<(u64, Status)>,
    other: Vec<(u64, Value)>,
    kinds: KindCounts,
}

impl ProbeDataBuffer {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    /// True when the probe has no record.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    /// Global seq of each record.
    pub fn seqs(&self) -> &[u64] {
        &self.seq
    }

    /// Capture time of each record (ns since the recording started).
    pub fn timestamps(&self) -> &[u64] {
        &self.ts
    }

    /// Real value of each record: the number for an int, float or bool
    /// (0/1), the real part of a complex; NaN where there is no real value
    /// (text, arrays, statuses other than `ok` and `raised`, or a NaN float).
    pub fn values(&self) -> &[f64] {
        &self.val
    }

    /// Imaginary parts, parallel to [`values`](Self::values) (NaN where the
    /// value is not complex), or empty when the probe never held a complex value.
    pub fn imag(&self) -> &[f64] {
        &self.imag
    }

    /// Records whose status is not `ok`: (position, status), in order.
    pub fn marks(&self) -> &[(u64, Status)] {
        &self.marks
    }

    /// Values that are not real or complex scalars (text, arrays, `None`,
    /// errors …): (position, value), in order.
    pub fn others(&self) -> &[(u64, Value)] {
        &self.other
    }

    /// Kinds of the values held.
    pub fn kinds(&self) -> &KindCounts {
        &self.kinds
    }

    /// Bytes the history holds in memory (capacity of the columns plus the
    /// side tables; array and text payloads counted by length).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let mut b = self.seq.capacity() * 8
            + self.ts.capacity() * 8
            + self.val.capacity() * 8
            + self.imag.capacity() * 8
            + self.marks.capacity() * size_of::<(u64, Status)>()
            + self.other.capacity() * size_of::<(u64, Value)>();
        for (_, v) in &self.other {
            b += match v {
                Value::Array(a) => a.data.len() + a.shape.len() * 8 + a.type_name.len(),
                Value::Str { text, .. } => text.len(),
                Value::Bytes { data, .. } => data.len(),
                Value::Other {
                    type_name, repr, ..
                } => type_name.len() + repr.len(),
                Value::Error { exc_type, message } => exc_type.len() + message.len(),
                _ => 0,
            };
        }
        b
    }

    /// The status of the record at `pos` (`ok` unless marked).
    pub fn status_at(&self, pos: u64) -> Status {
        match self.marks.binary_search_by_key(&pos, |m| m.0) {
            Ok(i) => self.marks[i].1,
            Err(_) => Status::Ok,
        }
    }

    /// The value held in a side table at `pos`, if any.
    pub fn other_at(&self, pos: u64) -> Option<&Value> {
        self.other
            .binary_search_by_key(&pos, |o| o.0)
            .ok()
            .map(|i| &self.other[i].1)
    }

    /// The latest value from the side table among the first `count`
    /// records, with its position.
    pub fn last_other_before(&self, count: usize) -> Option<&(u64, Value)> {
        let n = self.other.partition_point(|o| (o.0 as usize) < count);
        n.checked_sub(1).map(|i| &self.other[i])
    }

    /// The side-table entries among the first `count` records.
    pub fn others_before(&self, count: usize) -> &[(u64, Value)] {
        let n = self.other.partition_point(|o| (o.0 as usize) < count);
        &self.other[..n]
    }

    /// The marks among the first `count` records.
    pub fn marks_before(&self, count: usize) -> &[(u64, Status)] {
        let n = self.marks.partition_point(|m| (m.0 as usize) < count);
        &self.marks[..n]
    }

    fn reserve_exact(&mut self, n: usize) {
        self.seq.reserve_exact(n);
        self.ts.reserve_exact(n);
        self.val.reserve_exact(n);
    }

    /// Append one record. `value` is `None` on the fast path (a real number
    /// already in `real`).
    fn push(&mut self, seq: u64, ts: u64, status: Status, real: f64, value: Option<Value>) {
        let pos = self.seq.len() as u64;
        self.seq.push(seq);
        self.ts.push(ts);
        if status != Status::Ok {
            self.marks.push((pos, status));
        }
        let (re, im) = match value {
            // Fast path: the caller counted the kind (it knows the tag).
            None => (real, f64::NAN),
            Some(v) => self.classify(pos, status, v),
        };
        self.val.push(re);
        if !self.imag.is_empty() || !im.is_nan() {
            if self.imag.is_empty() {
                self.imag.resize(pos as usize, f64::NAN);
            }
            self.imag.push(im);
        }
    }

    /// Sort a value into the columns: (real part, imaginary part).
    fn classify(&mut self, pos: u64, status: Status, v: Value) -> (f64, f64) {
        let base = match v {
            Value::Sub { base, .. } => *base,
            v => v,
        };
        let ok_like = matches!(status, Status::Ok | Status::Raised);
        match base {
            Value::Bool(b) if ok_like => {
                self.kinds.bool += 1;
                (f64::from(u8::from(b)), f64::NAN)
            }
            Value::Int(i) if ok_like => {
                self.kinds.int += 1;
                (i as f64, f64::NAN)
            }
            Value::BigInt(ref s) if ok_like => {
                self.kinds.int += 1;
                (s.parse::<f64>().unwrap_or(f64::NAN), f64::NAN)
            }
            Value::Float(f) if ok_like => {
                self.kinds.float += 1;
                (f, f64::NAN)
            }
            Value::Complex(re, im) if ok_like => {
                self.kinds.complex += 1;
                (re, im)
            }
            Value::Absent => {
                self.kinds.missing += 1;
                (f64::NAN, f64::NAN)
            }
            Value::Array(_) if ok_like => {
                self.kinds.array += 1;
                self.other.push((pos, base));
                (f64::NAN, f64::NAN)
            }
            Value::Error { .. } => {
                self.kinds.missing += 1;
                self.other.push((pos, base));
                (f64::NAN, f64::NAN)
            }
            other => {
                if ok_like {
                    self.kinds.text += 1;
                } else {
                    self.kinds.missing += 1;
                }
                self.other.push((pos, other));
                (f64::NAN, f64::NAN)
            }
        }
    }

    /// Append another part (the same probe's records from a later block).
    fn extend(&mut self, mut part: ProbeDataBuffer) {
        let shift = self.seq.len() as u64;
        if !part.imag.is_empty() || !self.imag.is_empty() {
            if self.imag.is_empty() {
                self.imag.resize(self.seq.len(), f64::NAN);
            }
            if part.imag.is_empty() {
                part.imag.resize(part.seq.len(), f64::NAN);
            }
            self.imag.extend_from_slice(&part.imag);
        }
        self.seq.extend_from_slice(&part.seq);
        self.ts.extend_from_slice(&part.ts);
        self.val.extend_from_slice(&part.val);
        self.marks
            .extend(part.marks.into_iter().map(|(p, s)| (p + shift, s)));
        self.other
            .extend(part.other.into_iter().map(|(p, v)| (p + shift, v)));
        self.kinds.add(&part.kinds);
    }

    /// Restore seq order after out-of-order frames (reported by [`build`]).
    fn sort_by_seq(&mut self) {
        let n = self.seq.len();
        let mut perm: Vec<usize> = (0..n).collect();
        perm.sort_by_key(|&i| self.seq[i]);
        let mut inv = vec![0u64; n];
        for (new, &old) in perm.iter().enumerate() {
            inv[old] = new as u64;
        }
        self.seq = perm.iter().map(|&i| self.seq[i]).collect();
        self.ts = perm.iter().map(|&i| self.ts[i]).collect();
        self.val = perm.iter().map(|&i| self.val[i]).collect();
        if !self.imag.is_empty() {
            self.imag = perm.iter().map(|&i| self.imag[i]).collect();
        }
        for m in &mut self.marks {
            m.0 = inv[m.0 as usize];
        }
        self.marks.sort_by_key(|m| m.0);
        for o in &mut self.other {
            o.0 = inv[o.0 as usize];
        }
        self.other.sort_by_key(|o| o.0);
    }

    fn shrink(&mut self) {
        self.seq.shrink_to_fit();
        self.ts.shrink_to_fit();
        self.val.shrink_to_fit();
        self.imag.shrink_to_fit();
        self.marks.shrink_to_fit();
        self.other.shrink_to_fit();
    }
}

/// Builder for tests and tools that assemble a history by hand.
impl ProbeDataBuffer {
    /// Append a record (seq, timestamp, status, value). Records must come
    /// in increasing seq order.
    pub fn push_record(&mut self, seq: u64, ts: u64, status: Status, value: Value) {
        self.push(seq, ts, status, f64::NAN, Some(value));
    }
}

/// Every probe's history plus what kept it from being complete.
#[derive(Debug)]
pub struct Histories {
    /// The probe table (from the log's META frame).
    pub probes: Vec<ProbeInfo>,
    /// One buffer per probe of the table, in table order.
    pub buffers: Vec<ProbeDataBuffer>,
    /// Damage, gaps and ordering problems, each a full sentence naming where.
    pub report: BuildReport,
}

/// What [`build`] found besides the records.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct BuildReport {
    /// Records read.
    pub records: u64,
    /// True when the log has an end marker.
    pub has_end: bool,
    /// Problems, each naming where (offset or seq range).
    pub issues: Vec<String>,
}

impl BuildReport {
    /// True when the history is the complete, ordered, undamaged record.
    pub fn is_clean(&self) -> bool {
        self.has_end && self.issues.is_empty()
    }
}

/// One decoded block split into per-probe parts (index = probe id).
struct Split {
    frame: FrameInfo,
    parts: Result<Vec<(u32, ProbeDataBuffer)>, String>,
    unresolved: u64,
    bad_probe: u64,
}

fn split_block(
    b: &RecordBlock,
    n_probes: usize,
    wanted: &[bool],
    completions: &HashMap<u64, (Status, Value)>,
) -> (Vec<(u32, ProbeDataBuffer)>, u64, u64) {
    let mut parts: Vec<Option<ProbeDataBuffer>> = vec![None; n_probes];
    let mut unresolved = 0;
    let mut bad_probe = 0;
    for i in 0..b.len() {
        let p = b.probe[i] as usize;
        if p >= n_probes {
            bad_probe += 1;
            continue;
        }
        if !wanted[p] {
            continue;
        }
        let part = parts[p].get_or_insert_with(|| {
            let mut pb = ProbeDataBuffer::default();
            pb.reserve_exact(b.len() / n_probes.max(1) + 1);
            pb
        });
        let seq = b.seq_start + i as u64;
        let ts = b.ts[i];
        let status = b.status[i];
        if status == Status::Ok {
            match b.tag[i] {
                tag::INT => {
                    part.kinds.int += 1;
                    part.push(seq, ts, status, b.num[i] as i64 as f64, None);
                    continue;
                }
                tag::FLOAT => {
                    part.kinds.float += 1;
                    part.push(seq, ts, status, f64::from_bits(b.num[i]), None);
                    continue;
                }
                tag::FALSE | tag::TRUE => {
                    part.kinds.bool += 1;
                    let v = if b.tag[i] == tag::TRUE { 1.0 } else { 0.0 };
                    part.push(seq, ts, status, v, None);
                    continue;
                }
                _ => {}
            }
        }
        if status == Status::Pending {
            match completions.get(&seq) {
                Some((s, v)) => part.push(seq, ts, *s, f64::NAN, Some(v.clone())),
                None => {
                    unresolved += 1;
                    part.push(seq, ts, Status::Pending, f64::NAN, Some(Value::Absent));
                }
            }
        } else {
            part.push(seq, ts, status, f64::NAN, Some(b.value(i)));
        }
    }
    let out = parts
        .into_iter()
        .enumerate()
        .filter_map(|(p, b)| b.map(|b| (p as u32, b)))
        .collect();
    (out, unresolved, bad_probe)
}

/// Rebuild the histories of the probes for which `wanted[id]` is true (all
/// others stay empty) from an opened log. Never fails: damage is reported
/// in the result and everything intact is kept.
pub fn build(reader: &LogReader, wanted: &[bool]) -> Histories {
    let probes = reader.meta().probes.clone();
    let n = probes.len();
    let mut wanted = wanted.to_vec();
    wanted.resize(n, false);
    let mut report = BuildReport {
        has_end: reader.end().is_some(),
        ..Default::default()
    };
    for e in reader.issues() {
        report.issues.push(e.to_string());
    }
    let completions = reader.completions();
    let mut buffers: Vec<ProbeDataBuffer> = vec![ProbeDataBuffer::default(); n];

    // Reserve the exact size up front where it is known, so that the
    // columns never grow by doubling (≤ 24 bytes per record, not 48).
    let frames: Vec<FrameInfo> = reader
        .frames()
        .iter()
        .filter(|f| f.intact && f.header.kind == FrameKind::Records)
        .copied()
        .collect();
    if let Some(end) = reader.end() {
        for (p, &c) in end.per_probe.iter().enumerate().take(n) {
            if wanted[p] {
                buffers[p].reserve_exact(usize::try_from(c).unwrap_or(0).min(1 << 34));
            }
        }
    } else if n == 1 && wanted[0] {
        let total: u64 = frames
            .iter()
            .map(|f| f.header.seq_end - f.header.seq_start)
            .sum();
        buffers[0].reserve_exact(usize::try_from(total).unwrap_or(0));
    }

    // Decode a few blocks per worker at a time, then append in file order:
    // parallel decoding without holding every decoded block at once.
    let chunk = rayon::current_num_threads().max(1) * 2;
    let mut ranges: Vec<(u64, u64)> = Vec::new(); // seq ranges read, merged
    let mut needs_sort = false;
    let mut expected = 0u64;
    let mut unresolved = 0u64;
    let mut bad_probe = 0u64;
    for group in frames.chunks(chunk) {
        let splits: Vec<Split> = group
            .par_iter()
            .map(|f| {
                let mut codec = BlockCodec::new();
                match reader.decode_block(f, &mut codec) {
                    Ok(b) => {
                        let (parts, u, bp) = split_block(&b, n, &wanted, &completions);
                        Split {
                            frame: *f,
                            parts: Ok(parts),
                            unresolved: u,
                            bad_probe: bp,
                        }
                    }
                    Err(e) => Split {
                        frame: *f,
                        parts: Err(e.to_string()),
                        unresolved: 0,
                        bad_probe: 0,
                    },
                }
            })
            .collect();
        for s in splits {
            let (start, end) = (s.frame.header.seq_start, s.frame.header.seq_end);
            let parts = match s.parts {
                Ok(p) => p,
                Err(e) => {
                    report.issues.push(e);
                    continue;
                }
            };
            if start == end {
                // Completions only.
                for (p, part) in parts {
                    buffers[p as usize].extend(part);
                }
                continue;
            }
            if start < expected {
                if ranges.iter().any(|&(a, b)| start < b && a < end) {
                    report.issues.push(format!(
                        "frame at offset {} holds records {}..{} that were already read; ignored",
                        s.frame.offset,
                        start,
                        end - 1
                    ));
                    continue;
                }
                report.issues.push(format!(
                    "frame at offset {} holds records {}..{} out of order (after record {}); \
                     put back in seq order",
                    s.frame.offset,
                    start,
                    end - 1,
                    expected - 1
                ));
                needs_sort = true;
            }
            report.records += end - start;
            unresolved += s.unresolved;
            bad_probe += s.bad_probe;
            add_range(&mut ranges, start, end);
            expected = expected.max(end);
            for (p, part) in parts {
                buffers[p as usize].extend(part);
            }
        }
    }
    let total = reader
        .end()
        .map_or(expected, |e| e.total_records.max(expected));
    for (a, b) in holes(&ranges, total) {
        report.issues.push(format!(
            "records {}..{} missing ({} record{} not in any readable frame)",
            a,
            b - 1,
            b - a,
            if b - a == 1 { "" } else { "s" }
        ));
    }
    if unresolved > 0 {
        report.issues.push(format!(
            "{unresolved} placeholder{} never completed (shown as gaps)",
            if unresolved == 1 { "" } else { "s" }
        ));
    }
    if bad_probe > 0 {
        report.issues.push(format!(
            "{bad_probe} record{} name a probe missing from the probe table; ignored",
            if bad_probe == 1 { "" } else { "s" }
        ));
    }
    if !report.has_end {
        report.issues.push(format!(
            "log incomplete: no end marker (program killed or recorder died); \
             {} records readable",
            report.records
        ));
    }
    buffers.par_iter_mut().for_each(|b| {
        if needs_sort {
            b.sort_by_seq();
        }
        b.shrink();
    });
    Histories {
        probes,
        buffers,
        report,
    }
}

/// Insert `[a, b)` into a sorted list of disjoint ranges, merging neighbours.
fn add_range(ranges: &mut Vec<(u64, u64)>, a: u64, b: u64) {
    if let Some(last) = ranges.last_mut() {
        if last.1 == a {
            last.1 = b;
            return;
        }
    }
    let i = ranges.partition_point(|r| r.0 < a);
    ranges.insert(i, (a, b));
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(x, y) in ranges.iter() {
        match merged.last_mut() {
            Some(m) if m.1 >= x => m.1 = m.1.max(y),
            _ => merged.push((x, y)),
        }
    }
    *ranges = merged;
}

/// The gaps of `ranges` within `[0, total)`.
fn holes(ranges: &[(u64, u64)], total: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(a, b) in ranges {
        if a > at {
            out.push((at, a));
        }
        at = at.max(b);
    }
    if total > at {
        out.push((at, total));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_holes_are_found() {
        let mut r = Vec::new();
        add_range(&mut r, 0, 10);
        add_range(&mut r, 20, 30);
        add_range(&mut r, 10, 15);
        assert_eq!(r, vec![(0, 15), (20, 30)]);
        assert_eq!(holes(&r, 40), vec![(15, 20), (30, 40)]);
        add_range(&mut r, 15, 20);
        assert_eq!(r, vec![(0, 30)]);
        assert!(holes(&r, 30).is_empty());
    }

    #[test]
    fn real_scalar_records_cost_24_bytes() {
        let mut b = ProbeDataBuffer::default();
        b.reserve_exact(1000);
        for i in 0..1000u64 {
            b.push(i, i * 10, Status::Ok, i as f64, None);
        }
        assert_eq!(b.heap_bytes(), 24 * 1000);
    }

    #[test]
    fn side_tables_hold_what_is_not_a_real_number() {
        let mut b = ProbeDataBuffer::default();
        b.push_record(0, 1, Status::Ok, Value::Int(3));
        b.push_record(1, 2, Status::Unbound, Value::Absent);
        b.push_record(
            2,
            3,
            Status::Ok,
            Value::Str {
                text: "hi".into(),
                truncated: false,
            },
        );
        b.push_record(3, 4, Status::Ok, Value::Complex(1.0, -2.0));
        b.push_record(4, 5, Status::Raised, Value::Float(2.5));
        assert_eq!(b.len(), 5);
        assert_eq!(b.values()[0], 3.0);
        assert!(b.values()[1].is_nan(), "unbound is a gap, not a zero");
        assert!(b.values()[2].is_nan());
        assert_eq!((b.values()[3], b.imag()[3]), (1.0, -2.0));
        assert!(b.imag()[0].is_nan());
        assert_eq!(b.values()[4], 2.5, "a raised capture keeps its value");
        assert_eq!(b.marks(), &[(1, Status::Unbound), (4, Status::Raised)]);
        assert_eq!(b.status_at(4), Status::Raised);
        assert_eq!(b.status_at(0), Status::Ok);
        assert_eq!(b.others().len(), 1);
        assert_eq!(b.kinds().int, 1);
        assert_eq!(b.kinds().complex, 1);
        assert_eq!(b.kinds().text, 1);
        assert_eq!(b.kinds().missing, 1);
    }

    #[test]
    fn sort_by_seq_keeps_side_tables_attached() {
        let mut b = ProbeDataBuffer::default();
        b.push_record(5, 50, Status::Unbound, Value::Absent);
        b.push_record(1, 10, Status::Ok, Value::Int(1));
        b.push_record(
            3,
            30,
            Status::Ok,
            Value::Str {
                text: "s".into(),
                truncated: false,
            },
        );
        b.sort_by_seq();
        assert_eq!(b.seqs(), &[1, 3, 5]);
        assert_eq!(b.timestamps(), &[10, 30, 50]);
        assert_eq!(b.marks(), &[(2, Status::Unbound)]);
        assert_eq!(b.others()[0].0, 1);
    }
}
