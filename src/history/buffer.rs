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
//! [`build`] reads the log through the reading layer's parallel walk
//! ([`crate::log::walk::Walk::par_units`]): blocks are decoded and split
//! into per-probe parts on worker threads, and the parts appended in seq
//! order, every byte of history charged to the reader's memory budget
//! first. Everything that keeps the history from being the log's complete,
//! ordered record — damaged frames, seq gaps, out-of-order or repeated
//! frames, placeholders never completed, a missing end marker — is in the
//! walk's [`ReadReport`].

use std::ops::ControlFlow;

use rayon::prelude::*;

use crate::log::block::{value_heap, RecordBlock};
use crate::log::limits::Budget;
use crate::log::reader::LogReader;
use crate::log::walk::ReadReport;
use crate::log::LogError;
use crate::model::{ProbeInfo, Status, Value, ValueTag};

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

    #[cfg(test)]
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
            // Raised while unbound: kept as a value too, since a raised
            // capture's NaN could otherwise be a real NaN read when the
            // exception hit (the view would show `nan` for it).
            Value::Absent if status == Status::Raised => {
                self.kinds.missing += 1;
                self.other.push((pos, Value::Absent));
                f64::NAN
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

/// Fill the slots (index = probe id) from one block (placeholders joined
/// by the walk).
fn fill_block(b: &RecordBlock, slots: &mut [Option<Slot<'_>>]) {
    for i in 0..b.len() {
        let Some(Some(slot)) = slots.get_mut(b.probe[i] as usize) else {
            continue;
        };
        let k = slot.k;
        slot.k += 1;
        slot.seq[k] = b.seq_start + i as u64;
        slot.ts[k] = b.ts[i];
        let status = b.status[i];
        // Fast path: plain ints, floats and bools, no heap value.
        if status == Status::Ok {
            let fast = match b.tag[i] {
                ValueTag::Int => {
                    slot.side.kinds.int += 1;
                    Some(b.num[i] as i64 as f64)
                }
                ValueTag::Float => {
                    slot.side.kinds.float += 1;
                    Some(f64::from_bits(b.num[i]))
                }
                ValueTag::False => {
                    slot.side.kinds.bool += 1;
                    Some(0.0)
                }
                ValueTag::True => {
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
        slot.val[k] = slot.side.classify(k as u64, status, b.value(i));
    }
}

/// Every probe's history plus what kept it from being complete.
#[derive(Debug)]
pub struct Histories {
    /// The probe table (from the log's META frame).
    pub probes: Vec<ProbeInfo>,
    /// One buffer per probe of the table, in table order.
    pub buffers: Vec<ProbeDataBuffer>,
    /// Damage, gaps and ordering problems, each naming where.
    pub report: ReadReport,
}

/// What a history holds per record in its dense columns.
const BYTES_PER_RECORD: u64 = 24;

/// Grow a column by `add` elements (filled with `fill`), charging the
/// budget for the growth: exactly when a size was reserved up front, else
/// by doubling, as a `Vec` does.
fn grow<T: Copy>(
    budget: &Budget,
    col: &mut Vec<T>,
    add: usize,
    fill: T,
    what: &dyn Fn() -> String,
) -> Result<(), LogError> {
    budget.grow(col, add, what)?;
    col.resize(col.len() + add, fill);
    Ok(())
}

/// Heap bytes a side table's values hold (their slots are charged as the
/// tables grow).
fn side_heap(side: &Side) -> u64 {
    side.other
        .iter()
        .map(|(_, v)| value_heap(v) as u64)
        .sum::<u64>()
}

/// Append a window of decoded blocks (with their per-probe counts) to the
/// histories: grow, carve, fill in parallel, then join the side tables.
fn fill_window(
    blocks: &[(RecordBlock, Vec<usize>)],
    buffers: &mut [ProbeDataBuffer],
    imag: &mut [Vec<(u64, f64)>],
    wanted: &[bool],
    budget: &Budget,
    labels: &[String],
) -> Result<(), LogError> {
    let n = buffers.len();
    let mut bases: Vec<Vec<u64>> = vec![vec![0; n]; blocks.len()];
    let mut slots: Vec<Vec<Option<Slot<'_>>>> = (0..blocks.len())
        .map(|_| (0..n).map(|_| None).collect())
        .collect();
    for (p, buf) in buffers.iter_mut().enumerate() {
        if !wanted[p] {
            continue;
        }
        let add: usize = blocks.iter().map(|(_, c)| c[p]).sum();
        if add == 0 {
            continue;
        }
        let what = || format!("the history of {}", labels[p]);
        let old = buf.seq.len();
        grow(budget, &mut buf.seq, add, 0, &what)?;
        grow(budget, &mut buf.ts, add, 0, &what)?;
        grow(budget, &mut buf.val, add, f64::NAN, &what)?;
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
    let filled: Vec<Vec<Option<Side>>> = blocks
        .par_iter()
        .zip(slots.into_par_iter())
        .map(|((b, _), mut slots)| {
            fill_block(b, &mut slots);
            slots.into_iter().map(|s| s.map(|s| s.side)).collect()
        })
        .collect();
    for (bi, sides) in filled.into_iter().enumerate() {
        for (p, side) in sides.into_iter().enumerate() {
            let Some(side) = side else { continue };
            let what = || format!("the history of {}", labels[p]);
            budget.charge(side_heap(&side), &what)?;
            let base = bases[bi][p];
            let buf = &mut buffers[p];
            budget.grow(&mut buf.marks, side.marks.len(), &what)?;
            budget.grow(&mut buf.other, side.other.len(), &what)?;
            budget.grow(&mut imag[p], side.imag.len(), &what)?;
            buf.marks
                .extend(side.marks.into_iter().map(|(i, s)| (i + base, s)));
            buf.other
                .extend(side.other.into_iter().map(|(i, v)| (i + base, v)));
            imag[p].extend(side.imag.into_iter().map(|(i, v)| (i + base, v)));
            buf.kinds.add(&side.kinds);
        }
    }
    Ok(())
}

/// Rebuild the histories of the probes for which `wanted[id]` is true (all
/// others stay empty) from an opened log. Damage is reported in the
/// result and everything intact is kept; it fails only when the histories
/// do not fit the memory budget (the error says which and how much).
///
/// Blocks are decoded and split by probe in parallel, a few per worker at
/// a time; the parts are appended in seq order.
pub fn build(reader: &LogReader, wanted: &[bool]) -> Result<Histories, LogError> {
    let probes = reader.meta().probes.clone();
    let labels = crate::model::short_labels(&probes);
    let n = probes.len();
    let mut wanted = wanted.to_vec();
    wanted.resize(n, false);
    let budget = reader.budget().clone();
    let mut buffers: Vec<ProbeDataBuffer> = vec![ProbeDataBuffer::default(); n];

    // Reserve the exact size up front where it is known, so that the
    // columns never grow by doubling (24 bytes per record, not up to 48) —
    // but never more than the frames can hold: the end marker's counts are
    // only a claim.
    // The frames hold at most this many records in all; the end marker's
    // per-probe counts are reserved only up to it, in total.
    let mut readable = reader.plan().records();
    let mut reserve = |buf: &mut ProbeDataBuffer, c: u64, label: &str| -> Result<(), LogError> {
        let c = c.min(readable);
        readable -= c;
        let c = usize::try_from(c).unwrap_or(usize::MAX);
        let what = || format!("the history of {label}");
        // `Budget::reserve` charges what a column grows by; `append` then
        // charges only growth beyond this reservation.
        budget.reserve(&mut buf.seq, c, &what)?;
        budget.reserve(&mut buf.ts, c, &what)?;
        budget.reserve(&mut buf.val, c, &what)?;
        advise_huge(&buf.seq);
        advise_huge(&buf.ts);
        advise_huge(&buf.val);
        Ok(())
    };
    if let Some(end) = reader.end() {
        for (p, &c) in end.per_probe.iter().enumerate().take(n) {
            if wanted[p] {
                reserve(&mut buffers[p], c, &labels[p])?;
            }
        }
    } else if n == 1 && wanted[0] {
        reserve(&mut buffers[0], u64::MAX, &labels[0])?;
    }

    let mut walk = reader.walk(false)?;
    let mut imag: Vec<Vec<(u64, f64)>> = vec![Vec::new(); n];
    let mut failed: Option<LogError> = None;
    // Blocks are decoded and counted per probe on the workers; each window
    // of them then grows every history by its records, carves the new
    // space into one slice per block, and the blocks fill their slices in
    // parallel.
    walk.par_windows(
        1,
        |_, unit| {
            unit.into_iter()
                .map(|(_, b)| {
                    let mut counts = vec![0usize; n];
                    for &p in &b.probe {
                        if let Some(c) = counts.get_mut(p as usize) {
                            *c += 1;
                        }
                    }
                    (b, counts)
                })
                .collect::<Vec<_>>()
        },
        |window| {
            let blocks: Vec<(RecordBlock, Vec<usize>)> = window.into_iter().flatten().collect();
            match fill_window(&blocks, &mut buffers, &mut imag, &wanted, &budget, &labels) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
    )?;
    if let Some(e) = failed {
        return Err(e);
    }
    for (p, (buf, im)) in buffers.iter_mut().zip(imag).enumerate() {
        if !im.is_empty() {
            let what = || format!("the imaginary parts of {}", labels[p]);
            budget.charge(buf.seq.len() as u64 * 8, &what)?;
            let mut col = Vec::new();
            col.try_reserve_exact(buf.seq.len())
                .map_err(|_| over(&what, buf.seq.len()))?;
            col.resize(buf.seq.len(), f64::NAN);
            for (i, v) in im {
                if let Some(x) = col.get_mut(i as usize) {
                    *x = v;
                }
            }
            buf.imag = col;
        }
    }
    let report = walk.finish();
    buffers.par_iter_mut().for_each(|b| b.shrink());
    Ok(Histories {
        probes,
        buffers,
        report,
    })
}

fn over(what: &dyn Fn() -> String, n: usize) -> LogError {
    LogError::OverBudget {
        what: what(),
        needed: n as u64 * BYTES_PER_RECORD,
        budget: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn raised_while_unbound_is_told_apart_from_a_raised_nan() {
        let mut b = ProbeDataBuffer::default();
        b.push_record(0, 1, Status::Raised, Value::Absent);
        b.push_record(1, 2, Status::Raised, Value::Float(f64::NAN));
        b.push_record(2, 3, Status::Unbound, Value::Absent);
        assert!(b.values().iter().all(|v| v.is_nan()));
        // Both NaN in the column: only the side table says which is which.
        assert!(matches!(b.other_at(0), Some(Value::Absent)));
        assert_eq!(b.other_at(1), None, "a NaN read when the exception hit");
        assert_eq!(b.other_at(2), None, "the status already says unbound");
        assert_eq!(b.kinds().missing, 2);
        assert_eq!(b.kinds().float, 1);
    }
}
