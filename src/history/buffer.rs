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

use crate::log::block::{BlockCodec, RecordBlock};
use crate::log::format::{tag, FrameKind};
use crate::log::meta::ProbeInfo;
use crate::log::reader::{FrameInfo, LogReader};
use crate::model::{Status, Value};

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
        advise_huge(&self.seq);
        advise_huge(&self.ts);
        advise_huge(&self.val);
    }

    /// Append one record with its full value (tests and tools; [`build`]
    /// fills the columns block by block instead).
    fn push(&mut self, seq: u64, ts: u64, status: Status, value: Value) {
        let pos = self.seq.len() as u64;
        let mut side = Side::default();
        let re = side.classify(pos, status, value);
        self.seq.push(seq);
        self.ts.push(ts);
        self.val.push(re);
        let im = side.imag.first().map_or(f64::NAN, |x| x.1);
        if !self.imag.is_empty() || !im.is_nan() {
            self.imag.resize(pos as usize, f64::NAN);
            self.imag.push(im);
        }
        self.marks.append(&mut side.marks);
        self.other.append(&mut side.other);
        self.kinds.add(&side.kinds);
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

/// Ask for transparent huge pages on a large column's allocation, so that
/// its first touch costs one page fault per 2 MiB instead of one per 4 KiB
/// (a 10 M-record history is 240 MB: 60,000 small-page faults, measured at
/// about a third of a `--final-only` replay's time). Advice only: where
/// huge pages are off, nothing changes.
// The capacity is what gets advised, so this takes the Vec, not a slice.
#[allow(clippy::ptr_arg)]
fn advise_huge<T>(v: &Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < (4 << 20) {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = v.as_ptr() as usize;
        let a = (start + PAGE - 1) & !(PAGE - 1);
        let end = (start + bytes) & !(PAGE - 1);
        if end > a {
            // SAFETY: [a, end) lies inside this vector's own allocation
            // (page-aligned inward from its start and capacity). madvise
            // only advises the kernel about those pages: it does not read
            // or write them, and MADV_HUGEPAGE keeps their contents.
            unsafe {
                libc::madvise(a as *mut libc::c_void, end - a, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Builder for tests and tools that assemble a history by hand.
impl ProbeDataBuffer {
    /// Append a record (seq, timestamp, status, value). Records must come
    /// in increasing seq order.
    pub fn push_record(&mut self, seq: u64, ts: u64, status: Status, value: Value) {
        self.push(seq, ts, status, value);
    }
}

/// What a run of records puts beside the dense columns: marks, side
/// values, imaginary parts (sparse while building) and kind counts, with
/// positions relative to the run's first record.
#[derive(Debug, Default)]
struct Side {
    marks: Vec<(u64, Status)>,
    other: Vec<(u64, Value)>,
    imag: Vec<(u64, f64)>,
    kinds: KindCounts,
}

impl Side {
    /// Sort a full value into place; returns the real column's entry (NaN
    /// where there is no real value, so plots break the line there).
    fn classify(&mut self, pos: u64, status: Status, v: Value) -> f64 {
        if status != Status::Ok {
            self.marks.push((pos, status));
        }
        let base = match v {
            Value::Sub { base, .. } => *base,
            v => v,
        };
        // A `raised` capture keeps the value read when the exception hit.
        let ok_like = matches!(status, Status::Ok | Status::Raised);
        match base {
            Value::Bool(b) if ok_like => {
                self.kinds.bool += 1;
                f64::from(u8::from(b))
            }
            Value::Int(i) if ok_like => {
                self.kinds.int += 1;
                i as f64
            }
            Value::BigInt(ref s) if ok_like => {
                self.kinds.int += 1;
                s.parse::<f64>().unwrap_or(f64::NAN)
            }
            Value::Float(f) if ok_like => {
                self.kinds.float += 1;
                f
            }
            Value::Complex(re, im) if ok_like => {
                self.kinds.complex += 1;
                self.imag.push((pos, im));
                re
            }
            Value::Absent => {
                self.kinds.missing += 1;
                f64::NAN
            }
            Value::Array(_) if ok_like => {
                self.kinds.array += 1;
                self.other.push((pos, base));
                f64::NAN
            }
            Value::Error { .. } => {
                self.kinds.missing += 1;
                self.other.push((pos, base));
                f64::NAN
            }
            other => {
                if ok_like {
                    self.kinds.text += 1;
                } else {
                    self.kinds.missing += 1;
                }
                self.other.push((pos, other));
                f64::NAN
            }
        }
    }
}

/// Where one block writes one probe's records: its slices of the dense
/// columns (carved out of the history, so blocks fill in parallel without
/// copying) and its side entries.
struct Slot<'a> {
    seq: &'a mut [u64],
    ts: &'a mut [u64],
    val: &'a mut [f64],
    k: usize,
    side: Side,
}

/// Fill the slots (index = probe id) from one block; returns
/// (placeholders never completed, records naming an unknown probe).
fn fill_block(
    b: &RecordBlock,
    slots: &mut [Option<Slot<'_>>],
    completions: &HashMap<u64, (Status, Value)>,
) -> (u64, u64) {
    let mut unresolved = 0;
    let mut bad_probe = 0;
    for i in 0..b.len() {
        let Some(Some(slot)) = slots.get_mut(b.probe[i] as usize) else {
            if b.probe[i] as usize >= slots.len() {
                bad_probe += 1;
            }
            continue;
        };
        let k = slot.k;
        slot.k += 1;
        let seq = b.seq_start + i as u64;
        slot.seq[k] = seq;
        slot.ts[k] = b.ts[i];
        let status = b.status[i];
        // Fast path: plain ints, floats and bools, no heap value.
        if status == Status::Ok {
            let fast = match b.tag[i] {
                tag::INT => {
                    slot.side.kinds.int += 1;
                    Some(b.num[i] as i64 as f64)
                }
                tag::FLOAT => {
                    slot.side.kinds.float += 1;
                    Some(f64::from_bits(b.num[i]))
                }
                tag::FALSE => {
                    slot.side.kinds.bool += 1;
                    Some(0.0)
                }
                tag::TRUE => {
                    slot.side.kinds.bool += 1;
                    Some(1.0)
                }
                _ => None,
            };
            if let Some(v) = fast {
                slot.val[k] = v;
                continue;
            }
        }
        let (status, value) = if status == Status::Pending {
            match completions.get(&seq) {
                Some((s, v)) => (*s, v.clone()),
                None => {
                    unresolved += 1;
                    (Status::Pending, Value::Absent)
                }
            }
        } else {
            (status, b.value(i))
        };
        slot.val[k] = slot.side.classify(k as u64, status, value);
    }
    (unresolved, bad_probe)
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

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Rebuild the histories of the probes for which `wanted[id]` is true (all
/// others stay empty) from an opened log. Never fails: damage is reported
/// in the result and everything intact is kept.
///
/// Blocks are decoded a few per worker at a time; each block's records are
/// counted per probe, every history grows by its share, and the blocks
/// then fill their own slices of the columns in parallel.
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

    // Which frames to read, from their (checksummed) headers alone: a frame
    // repeating records already read is skipped, one arriving after later
    // records is taken and the history sorted back into seq order; both
    // are reported.
    let mut accepted: Vec<FrameInfo> = Vec::new();
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let mut needs_sort = false;
    let mut expected = 0u64;
    for f in reader.frames() {
        let h = &f.header;
        if !f.intact || h.kind != FrameKind::Records || h.seq_end == h.seq_start {
            continue;
        }
        if h.seq_start < expected {
            if seen.iter().any(|&(a, b)| h.seq_start < b && a < h.seq_end) {
                report.issues.push(format!(
                    "frame at offset {} holds records {}..{} that were already read; ignored",
                    f.offset,
                    h.seq_start,
                    h.seq_end - 1
                ));
                continue;
            }
            report.issues.push(format!(
                "frame at offset {} holds records {}..{} out of order (after record {}); \
                 put back in seq order",
                f.offset,
                h.seq_start,
                h.seq_end - 1,
                expected - 1
            ));
            needs_sort = true;
        }
        add_range(&mut seen, h.seq_start, h.seq_end);
        expected = expected.max(h.seq_end);
        accepted.push(*f);
    }

    // Reserve the exact size up front where it is known, so that the
    // columns never grow by doubling (24 bytes per record, not up to 48).
    if let Some(end) = reader.end() {
        for (p, &c) in end.per_probe.iter().enumerate().take(n) {
            if wanted[p] {
                buffers[p].reserve_exact(usize::try_from(c).unwrap_or(0).min(1 << 34));
            }
        }
    } else if n == 1 && wanted[0] {
        let total: u64 = accepted
            .iter()
            .map(|f| f.header.seq_end - f.header.seq_start)
            .sum();
        buffers[0].reserve_exact(usize::try_from(total).unwrap_or(0));
    }

    let chunk = rayon::current_num_threads().max(1) * 2;
    let mut read: Vec<(u64, u64)> = Vec::new();
    let mut imag: Vec<Vec<(u64, f64)>> = vec![Vec::new(); n];
    let mut unresolved = 0u64;
    let mut bad_probe = 0u64;
    for group in accepted.chunks(chunk) {
        type Decoded = Result<(RecordBlock, Vec<usize>), String>;
        let decoded: Vec<(FrameInfo, Decoded)> = group
            .par_iter()
            .map(|f| {
                let r = reader.decode_block(f, &mut BlockCodec::new()).map(|b| {
                    let mut counts = vec![0usize; n];
                    for &p in &b.probe {
                        if let Some(c) = counts.get_mut(p as usize) {
                            *c += 1;
                        }
                    }
                    (b, counts)
                });
                (*f, r.map_err(|e| e.to_string()))
            })
            .collect();
        let mut blocks: Vec<(RecordBlock, Vec<usize>)> = Vec::with_capacity(decoded.len());
        for (f, d) in decoded {
            match d {
                Ok(x) => {
                    report.records += f.header.seq_end - f.header.seq_start;
                    add_range(&mut read, f.header.seq_start, f.header.seq_end);
                    blocks.push(x);
                }
                Err(e) => report.issues.push(e),
            }
        }
        // Grow each history by this group's records and carve the new
        // space into one slice per block.
        let mut bases: Vec<Vec<u64>> = vec![vec![0; n]; blocks.len()];
        let mut slots: Vec<Vec<Option<Slot<'_>>>> = (0..blocks.len())
            .map(|_| (0..n).map(|_| None).collect())
            .collect();
        for (p, buf) in buffers.iter_mut().enumerate() {
            if !wanted[p] {
                continue;
            }
            let old = buf.seq.len();
            let add: usize = blocks.iter().map(|(_, c)| c[p]).sum();
            buf.seq.resize(old + add, 0);
            buf.ts.resize(old + add, 0);
            buf.val.resize(old + add, f64::NAN);
            let (mut seq, mut ts, mut val) =
                (&mut buf.seq[old..], &mut buf.ts[old..], &mut buf.val[old..]);
            let mut at = old as u64;
            for (bi, (_, counts)) in blocks.iter().enumerate() {
                let c = counts[p];
                bases[bi][p] = at;
                at += c as u64;
                if c == 0 {
                    continue;
                }
                let (s0, s1) = std::mem::take(&mut seq).split_at_mut(c);
                let (t0, t1) = std::mem::take(&mut ts).split_at_mut(c);
                let (v0, v1) = std::mem::take(&mut val).split_at_mut(c);
                (seq, ts, val) = (s1, t1, v1);
                slots[bi][p] = Some(Slot {
                    seq: s0,
                    ts: t0,
                    val: v0,
                    k: 0,
                    side: Side::default(),
                });
            }
        }
        let filled: Vec<(Vec<Option<Side>>, u64, u64)> = blocks
            .par_iter()
            .zip(slots.into_par_iter())
            .map(|((b, _), mut slots)| {
                let (u, bp) = fill_block(b, &mut slots, &completions);
                (
                    slots.into_iter().map(|s| s.map(|s| s.side)).collect(),
                    u,
                    bp,
                )
            })
            .collect();
        for (bi, (sides, u, bp)) in filled.into_iter().enumerate() {
            unresolved += u;
            bad_probe += bp;
            for (p, side) in sides.into_iter().enumerate() {
                let Some(side) = side else { continue };
                let base = bases[bi][p];
                let buf = &mut buffers[p];
                buf.marks
                    .extend(side.marks.into_iter().map(|(i, s)| (i + base, s)));
                buf.other
                    .extend(side.other.into_iter().map(|(i, v)| (i + base, v)));
                imag[p].extend(side.imag.into_iter().map(|(i, v)| (i + base, v)));
                buf.kinds.add(&side.kinds);
            }
        }
    }
    for (buf, im) in buffers.iter_mut().zip(imag) {
        if !im.is_empty() {
            buf.imag = vec![f64::NAN; buf.seq.len()];
            for (i, v) in im {
                buf.imag[i as usize] = v;
            }
        }
    }

    let total = reader
        .end()
        .map_or(expected, |e| e.total_records.max(expected));
    for (a, b) in holes(&read, total) {
        report.issues.push(format!(
            "records {}..{} missing ({} record{} not in any readable frame)",
            a,
            b - 1,
            b - a,
            plural(b - a)
        ));
    }
    if unresolved > 0 {
        report.issues.push(format!(
            "{unresolved} placeholder{} never completed (shown as gaps)",
            plural(unresolved)
        ));
    }
    if bad_probe > 0 {
        report.issues.push(format!(
            "{bad_probe} record{} name a probe missing from the probe table; ignored",
            plural(bad_probe)
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
            b.push(i, i * 10, Status::Ok, Value::Float(i as f64));
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
