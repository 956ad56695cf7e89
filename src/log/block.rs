//! The columnar record block: the payload of a RECORDS frame.
//!
//! [`RecordBlock`] is both the writer's in-memory buffer and the reader's
//! decoded view. It keeps one vector per field, and values as a tag plus a
//! 64-bit word (`num`): the int itself, the float's bits, or an index into
//! `other` for everything that is not a plain scalar. So a reader can scan a
//! million ints or floats without building a heap [`Value`] per record.
//!
//! See `docs/FORMAT.md` ("RECORDS payload") for the byte layout and why each
//! column is coded as it is.

use std::collections::HashMap;
use std::sync::Arc;

use crate::log::format::{put_varint, unzigzag, zigzag, Cursor, MAX_VALUE_DEPTH};
use crate::log::limits::{Budget, Charge};
use crate::log::LogError;
use crate::model::{ArrayValue, CaptureRecord, Dtype, Kind, Status, Value, ValueTag};

/// A completion entry: the final status and value of a placeholder written
/// in an earlier frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Seq of the placeholder it completes.
    pub seq: u64,
    /// Final status (never `Pending`).
    pub status: Status,
    /// Final value.
    pub value: Value,
}

/// A block of records with contiguous seqs `[seq_start, seq_start + len)`,
/// stored column-wise, plus the completions that travel with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordBlock {
    /// Seq of the first record.
    pub seq_start: u64,
    /// Timestamps (ns since recording start).
    pub ts: Vec<u64>,
    /// Thread ids.
    pub thread: Vec<u64>,
    /// Probe ids.
    pub probe: Vec<u32>,
    /// Order inside the batch.
    pub order: Vec<u16>,
    /// Statuses (`Pending` marks a placeholder).
    pub status: Vec<Status>,
    /// Value tags.
    pub tag: Vec<ValueTag>,
    /// Per record: the int (as `u64`) for `INT`, the bits for `FLOAT`,
    /// an index into `other` for complex and misc tags, else 0.
    pub num: Vec<u64>,
    /// Values that are not bool/none/absent/int/float.
    pub other: Vec<Value>,
    /// Completions of placeholders from earlier frames.
    pub completions: Vec<Completion>,
    /// Values whose tag this reader does not know (written by a newer
    /// `probe`); they read as `Value::Other` with type name
    /// `<unknown value tag N>`.
    pub unknown_tags: u64,
    /// Approximate bytes held by `other` and `completions` (writer's flush trigger).
    pub(crate) heavy_bytes: usize,
    /// What a decoded block holds, charged to the reader's memory budget
    /// (given back when the block is dropped).
    pub(crate) charge: Charge,
}

/// Display name used for values of a tag this reader does not know.
pub fn unknown_tag_value(t: u8) -> Value {
    Value::Other {
        type_name: format!("<unknown value tag {t}>"),
        repr: "value of a kind written by a newer probe; upgrade probe to read it".to_string(),
        truncated: true,
    }
}

fn approx_size(v: &Value) -> usize {
    16 + match v {
        Value::BigInt(s) => s.len(),
        Value::Str { text, .. } => text.len(),
        Value::Bytes { data, .. } => data.len(),
        Value::Sub { type_name, base } => type_name.len() + approx_size(base),
        Value::Other {
            type_name, repr, ..
        } => type_name.len() + repr.len(),
        Value::Error { exc_type, message } => exc_type.len() + message.len(),
        Value::Array(a) => a.type_name.len() + a.data.len() + 8 * a.shape.len(),
        _ => 0,
    }
}

/// Heap bytes a value holds beyond its own size (text, data, shape): what
/// readers charge to the memory budget for it.
pub fn value_heap(v: &Value) -> usize {
    approx_size(v) - 16
}

/// The tag a value is stored under.
pub fn value_tag(v: &Value) -> ValueTag {
    ValueTag::of(v)
}

impl RecordBlock {
    /// An empty block starting at `seq_start`.
    pub fn new(seq_start: u64) -> Self {
        RecordBlock {
            seq_start,
            ..Default::default()
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when the block holds no records (it may still hold completions).
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// One past the last seq.
    pub fn seq_end(&self) -> u64 {
        self.seq_start + self.ts.len() as u64
    }

    /// The int value of record `i`, if it is a plain int.
    #[inline]
    pub fn int(&self, i: usize) -> Option<i64> {
        (self.tag[i] == ValueTag::Int).then(|| self.num[i] as i64)
    }

    /// The float value of record `i`, if it is a plain float.
    #[inline]
    pub fn float(&self, i: usize) -> Option<f64> {
        (self.tag[i] == ValueTag::Float).then(|| f64::from_bits(self.num[i]))
    }

    /// The value of record `i` as an `f64` when it is a real number, without
    /// allocating for the common int/float/bool cases.
    #[inline]
    pub fn as_f64(&self, i: usize) -> Option<f64> {
        match self.tag[i] {
            ValueTag::Int => Some(self.num[i] as i64 as f64),
            ValueTag::Float => Some(f64::from_bits(self.num[i])),
            ValueTag::False => Some(0.0),
            ValueTag::True => Some(1.0),
            ValueTag::Absent | ValueTag::None => None,
            _ => self.side(i)?.as_f64(),
        }
    }

    /// Record `i`'s value when it lives in the side table `other` (every
    /// tag but the word-sized ones).
    #[inline]
    pub fn side(&self, i: usize) -> Option<&Value> {
        if self.tag[i].is_word() {
            None
        } else {
            self.other.get(self.num[i] as usize)
        }
    }

    /// Kind of record `i`'s value (see [`Value::kind`]).
    pub fn kind(&self, i: usize) -> Kind {
        match self.tag[i].kind() {
            Some(k) if self.tag[i].is_word() => k,
            k => self.side(i).map_or(k.unwrap_or(Kind::Other), Value::kind),
        }
    }

    /// The value of record `i` (allocates only for non-scalar values).
    pub fn value(&self, i: usize) -> Value {
        match self.tag[i] {
            ValueTag::Absent => Value::Absent,
            ValueTag::None => Value::None,
            ValueTag::False => Value::Bool(false),
            ValueTag::True => Value::Bool(true),
            ValueTag::Int => Value::Int(self.num[i] as i64),
            ValueTag::Float => Value::Float(f64::from_bits(self.num[i])),
            _ => self.side(i).cloned().unwrap_or(Value::Absent),
        }
    }

    /// Record `i` as a row (no completion joined).
    pub fn record(&self, i: usize) -> CaptureRecord {
        CaptureRecord {
            seq: self.seq_start + i as u64,
            ts_ns: self.ts[i],
            thread: self.thread[i],
            probe: self.probe[i],
            order: self.order[i],
            status: self.status[i],
            value: self.value(i),
        }
    }

    fn store_value(&mut self, v: &Value) -> (ValueTag, u64) {
        match v {
            Value::Absent => (ValueTag::Absent, 0),
            Value::None => (ValueTag::None, 0),
            Value::Bool(false) => (ValueTag::False, 0),
            Value::Bool(true) => (ValueTag::True, 0),
            Value::Int(i) => (ValueTag::Int, *i as u64),
            Value::Float(f) => (ValueTag::Float, f.to_bits()),
            other => {
                let idx = self.other.len() as u64;
                self.heavy_bytes += approx_size(other);
                self.other.push(other.clone());
                (value_tag(other), idx)
            }
        }
    }

    /// Append a record (the caller checks that its seq is `seq_end()`).
    #[inline]
    pub fn push(&mut self, r: &CaptureRecord) {
        let (t, n) = self.store_value(&r.value);
        self.push_row(r, t, n);
    }

    #[inline]
    fn push_row(&mut self, r: &CaptureRecord, tag: ValueTag, num: u64) {
        self.ts.push(r.ts_ns);
        self.thread.push(r.thread);
        self.probe.push(r.probe);
        self.order.push(r.order);
        self.status.push(r.status);
        self.tag.push(tag);
        self.num.push(num);
    }

    /// [`RecordBlock::push`] taking the record by value: a large value
    /// (an array) moves into the block instead of being copied.
    #[inline]
    pub fn push_owned(&mut self, mut r: CaptureRecord) {
        let (t, n) = match std::mem::replace(&mut r.value, Value::Absent) {
            v
            @ (Value::Absent | Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_)) => {
                self.store_value(&v)
            }
            other => {
                let idx = self.other.len() as u64;
                self.heavy_bytes += approx_size(&other);
                let t = value_tag(&other);
                self.other.push(other);
                (t, idx)
            }
        };
        self.push_row(&r, t, n);
    }

    /// Replace status and value of record `i` (completing a placeholder
    /// that has not been written yet).
    pub fn set(&mut self, i: usize, status: Status, value: &Value) {
        let (t, n) = self.store_value(value);
        self.status[i] = status;
        self.tag[i] = t;
        self.num[i] = n;
    }

    /// Forget all records and completions; start again at `seq_start`.
    pub fn clear(&mut self, seq_start: u64) {
        self.seq_start = seq_start;
        self.ts.clear();
        self.thread.clear();
        self.probe.clear();
        self.order.clear();
        self.status.clear();
        self.tag.clear();
        self.num.clear();
        self.other.clear();
        self.completions.clear();
        self.unknown_tags = 0;
        self.heavy_bytes = 0;
    }

    /// Add a completion entry (writer side).
    pub fn push_completion(&mut self, seq: u64, status: Status, value: &Value) {
        self.heavy_bytes += 16 + approx_size(value);
        self.completions.push(Completion {
            seq,
            status,
            value: value.clone(),
        });
    }

    /// Give every placeholder whose completion is in `completions` its
    /// final status and value (what [`crate::log::LogReader::records`] does
    /// row by row, for readers that work on whole blocks).
    pub fn join_completions(&mut self, completions: &HashMap<u64, (Status, Value)>) {
        if completions.is_empty() || !self.status.contains(&Status::Pending) {
            return;
        }
        for i in 0..self.len() {
            if self.status[i] == Status::Pending {
                if let Some((s, v)) = completions.get(&(self.seq_start + i as u64)) {
                    self.set(i, *s, v);
                }
            }
        }
    }

    /// Number of placeholders (records still `Pending`).
    pub fn placeholders(&self) -> u64 {
        self.status
            .iter()
            .filter(|s| **s == Status::Pending)
            .count() as u64
    }
}

/// Per-probe "previous value" state for the delta/XOR codecs. Dense for the
/// usual small probe ids, a map for ids from a damaged or crafted file.
#[derive(Default)]
struct PerProbe {
    small: Vec<u64>,
    big: HashMap<u32, u64>,
}

const DENSE_PROBES: u32 = 4096;

impl PerProbe {
    fn reset(&mut self) {
        self.small.iter_mut().for_each(|v| *v = 0);
        self.big.clear();
    }

    #[inline]
    fn slot(&mut self, p: u32) -> &mut u64 {
        if p < DENSE_PROBES {
            let p = p as usize;
            if p >= self.small.len() {
                self.small.resize(p + 1, 0);
            }
            &mut self.small[p]
        } else {
            self.big.entry(p).or_insert(0)
        }
    }
}

/// Reusable buffers for encoding and decoding blocks.
#[derive(Default)]
pub struct BlockCodec {
    tmp: Vec<u64>,
    ints: Vec<u64>,
    floats: Vec<u64>,
    misc: Vec<u8>,
    entry: Vec<u8>,
    prev_int: PerProbe,
    prev_float: PerProbe,
    prev_re: PerProbe,
    prev_im: PerProbe,
}

/// Column modes.
const COL_CONST: u8 = 0;
const COL_BASE_PLANES: u8 = 1;
const COL_PLANES: u8 = 2;

fn width_of(max: u64) -> u8 {
    ((64 - max.leading_zeros()) as u8).div_ceil(8)
}

/// Write a column of `n` u64s. `signed`: subtract the minimum (taken as i64)
/// first, so that small signed spreads (timestamp deltas, int deltas) need
/// few bytes; otherwise store the values as they are (XORed float bits).
/// Values are split into byte planes (all low bytes, then all next bytes ...)
/// because each plane is far more uniform than interleaved bytes, which is
/// what zstd's entropy coder needs.
fn put_column<I>(out: &mut Vec<u8>, vals: I, signed: bool)
where
    I: Iterator<Item = u64> + Clone,
{
    let mut first = None;
    let mut all_same = true;
    let (mut min_s, mut max_u) = (i64::MAX, 0u64);
    for v in vals.clone() {
        match first {
            None => first = Some(v),
            Some(f) => all_same &= f == v,
        }
        min_s = min_s.min(v as i64);
        max_u = max_u.max(v);
    }
    let Some(first) = first else {
        out.push(COL_CONST);
        put_varint(out, 0);
        return;
    };
    if all_same {
        out.push(COL_CONST);
        put_varint(out, first);
        return;
    }
    if signed {
        let base = min_s as u64;
        let max_r = vals
            .clone()
            .map(|v| v.wrapping_sub(base))
            .max()
            .unwrap_or(0);
        let width = width_of(max_r);
        out.push(COL_BASE_PLANES);
        put_varint(out, zigzag(base as i64));
        put_planes(out, vals.map(|v| v.wrapping_sub(base)), width);
    } else {
        out.push(COL_PLANES);
        put_planes(out, vals, width_of(max_u));
    }
}

fn put_planes<I>(out: &mut Vec<u8>, vals: I, width: u8)
where
    I: Iterator<Item = u64> + Clone,
{
    out.push(width);
    for k in 0..u32::from(width) {
        let sh = 8 * k;
        out.extend(vals.clone().map(|v| (v >> sh) as u8));
    }
}

/// Read a column of `n` values into `out`.
fn get_column(c: &mut Cursor<'_>, n: usize, out: &mut Vec<u64>) -> Result<(), String> {
    out.clear();
    try_reserve(out, n)?;
    let at = c.pos();
    match c.u8()? {
        COL_CONST => {
            let v = c.varint()?;
            out.resize(n, v);
        }
        mode @ (COL_BASE_PLANES | COL_PLANES) => {
            let base = if mode == COL_PLANES {
                0
            } else {
                unzigzag(c.varint()?) as u64
            };
            let width = c.u8()?;
            if !(1..=8).contains(&width) {
                return Err(format!("column at payload byte {at}: bad width {width}"));
            }
            let planes = c.bytes(n as u64 * u64::from(width))?;
            // The first plane initialises the values (no zeroing pass),
            // the others are ORed in.
            let mut chunks = planes.chunks_exact(n.max(1));
            if let Some(first) = chunks.next() {
                out.extend(first.iter().map(|&b| u64::from(b)));
            }
            for (k, plane) in chunks.enumerate() {
                let sh = 8 * (k as u32 + 1);
                for (o, &b) in out.iter_mut().zip(plane) {
                    *o |= u64::from(b) << sh;
                }
            }
            out.resize(n, 0);
            if base != 0 {
                for o in out.iter_mut() {
                    *o = o.wrapping_add(base);
                }
            }
        }
        m => return Err(format!("column at payload byte {at}: unknown mode {m}")),
    }
    Ok(())
}

fn put_flags_text(out: &mut Vec<u8>, truncated: bool, text: &[u8]) {
    out.push(u8::from(truncated));
    out.extend_from_slice(text);
}

fn put_lp(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Content of a misc-tag value (without tag and length prefix).
fn put_misc_content(out: &mut Vec<u8>, v: &Value, depth: u32) -> Result<(), String> {
    match v {
        Value::BigInt(s) => out.extend_from_slice(s.as_bytes()),
        Value::Str { text, truncated } => put_flags_text(out, *truncated, text.as_bytes()),
        Value::Bytes { data, truncated } => put_flags_text(out, *truncated, data),
        Value::Sub { type_name, base } => {
            put_lp(out, type_name.as_bytes());
            put_inline(out, base, depth + 1)?;
        }
        Value::Other {
            type_name,
            repr,
            truncated,
        } => {
            out.push(u8::from(*truncated));
            put_lp(out, type_name.as_bytes());
            out.extend_from_slice(repr.as_bytes());
        }
        Value::Error { exc_type, message } => {
            put_lp(out, exc_type.as_bytes());
            out.extend_from_slice(message.as_bytes());
        }
        Value::Array(a) => {
            out.push(u8::from(a.truncated));
            out.push(a.dtype.code());
            put_lp(out, a.type_name.as_bytes());
            put_varint(out, a.shape.len() as u64);
            for &d in &a.shape {
                put_varint(out, d);
            }
            out.extend_from_slice(&a.data);
        }
        _ => return Err("not a misc value".to_string()),
    }
    Ok(())
}

/// A self-describing value: tag byte, then its content (misc kinds are
/// length-prefixed so unknown tags can be skipped).
pub(crate) fn put_inline(out: &mut Vec<u8>, v: &Value, depth: u32) -> Result<(), String> {
    if depth > MAX_VALUE_DEPTH {
        return Err(format!(
            "value nested deeper than {MAX_VALUE_DEPTH} subclass levels"
        ));
    }
    let t = value_tag(v);
    out.push(t.byte());
    match v {
        Value::Absent | Value::None | Value::Bool(_) => {}
        Value::Int(i) => put_varint(out, zigzag(*i)),
        Value::Float(f) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        Value::Complex(re, im) => {
            out.extend_from_slice(&re.to_bits().to_le_bytes());
            out.extend_from_slice(&im.to_bits().to_le_bytes());
        }
        _ => {
            let mut content = Vec::new();
            put_misc_content(&mut content, v, depth)?;
            put_lp(out, &content);
        }
    }
    Ok(())
}

fn utf8(b: &[u8], what: &str) -> Result<String, String> {
    std::str::from_utf8(b)
        .map(str::to_string)
        .map_err(|_| format!("invalid UTF-8 in {what}"))
}

fn get_f64(c: &mut Cursor<'_>) -> Result<f64, String> {
    let b = c.bytes(8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(f64::from_bits(u64::from_le_bytes(a)))
}

/// Decode the content of a misc-tag value. `Ok(None)` for a tag this reader
/// does not know.
fn get_misc_content(t: ValueTag, content: &[u8], depth: u32) -> Result<Option<Value>, String> {
    let mut c = Cursor::new(content);
    let flags = |c: &mut Cursor<'_>| -> Result<bool, String> {
        match c.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            f => Err(format!("bad flags byte {f}")),
        }
    };
    let v = match t {
        ValueTag::BigInt => Value::BigInt(utf8(content, "big int")?),
        ValueTag::Str => {
            let truncated = flags(&mut c)?;
            Value::Str {
                text: utf8(&content[1..], "str")?,
                truncated,
            }
        }
        ValueTag::Bytes => {
            let truncated = flags(&mut c)?;
            Value::Bytes {
                data: content[1..].to_vec(),
                truncated,
            }
        }
        ValueTag::Sub => {
            let type_name = c.lp_str()?.to_string();
            let base = get_inline(&mut c, depth + 1)?;
            if c.remaining() != 0 {
                return Err("trailing bytes after subclass value".to_string());
            }
            Value::Sub {
                type_name,
                base: Box::new(base),
            }
        }
        ValueTag::Other => {
            let truncated = flags(&mut c)?;
            let type_name = c.lp_str()?.to_string();
            let repr = utf8(&content[c.pos()..], "repr")?;
            Value::Other {
                type_name,
                repr,
                truncated,
            }
        }
        ValueTag::Error => {
            let exc_type = c.lp_str()?.to_string();
            let message = utf8(&content[c.pos()..], "error message")?;
            Value::Error { exc_type, message }
        }
        ValueTag::Array => Value::Array(get_array(&mut c, flags)?),
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// Most dimensions an array may have (NumPy's own limit is 64).
const MAX_ARRAY_NDIM: u64 = 64;

fn get_array(
    c: &mut Cursor<'_>,
    flags: impl Fn(&mut Cursor<'_>) -> Result<bool, String>,
) -> Result<ArrayValue, String> {
    let truncated = flags(c)?;
    let code = c.u8()?;
    let dtype = Dtype::from_code(code).ok_or_else(|| format!("unknown array dtype code {code}"))?;
    let type_name = c.lp_str()?.to_string();
    let ndim = c.varint()?;
    if ndim > MAX_ARRAY_NDIM {
        return Err(format!(
            "array with {ndim} dimensions (at most {MAX_ARRAY_NDIM})"
        ));
    }
    let mut shape = Vec::with_capacity(ndim as usize);
    for _ in 0..ndim {
        shape.push(c.varint()?);
    }
    let data = c.bytes(c.remaining() as u64)?.to_vec();
    let a = ArrayValue {
        type_name,
        dtype,
        shape,
        data,
        truncated,
    };
    a.check()?;
    Ok(a)
}

/// Read a self-describing value written by [`put_inline`].
pub(crate) fn get_inline(c: &mut Cursor<'_>, depth: u32) -> Result<Value, String> {
    if depth > MAX_VALUE_DEPTH {
        return Err(format!(
            "value nested deeper than {MAX_VALUE_DEPTH} subclass levels"
        ));
    }
    let b = c.u8()?;
    let t = ValueTag::from_u8(b);
    Ok(match t {
        ValueTag::Absent => Value::Absent,
        ValueTag::None => Value::None,
        ValueTag::False => Value::Bool(false),
        ValueTag::True => Value::Bool(true),
        ValueTag::Int => Value::Int(unzigzag(c.varint()?)),
        ValueTag::Float => Value::Float(get_f64(c)?),
        ValueTag::Complex => Value::Complex(get_f64(c)?, get_f64(c)?),
        _ => {
            let content = c.lp_bytes()?;
            get_misc_content(t, content, depth)?.unwrap_or_else(|| unknown_tag_value(b))
        }
    })
}

/// Bytes a decoded block holds per record in its columns (ts, thread,
/// probe, order, status, tag, num).
pub const BLOCK_BYTES_PER_RECORD: u64 = 8 + 8 + 4 + 2 + 1 + 1 + 8;

/// What the frame header says about a block, and what the reader may
/// spend on it: checked while the block is decoded, so that every bound is
/// enforced here, once, for every reader.
#[derive(Clone, Copy)]
pub struct DecodeCtx<'a> {
    /// Seq of the first record (from the frame header).
    pub seq_start: u64,
    /// Records the frame header says the block holds (at most
    /// [`crate::log::format::MAX_BLOCK_RECORDS`]; the reader checks).
    pub records: usize,
    /// Completion entries the frame header says the block holds.
    pub completions: u64,
    /// Probes in the log's probe table: a record naming another is damage.
    pub probes: usize,
    /// The memory account the block is charged to (`None`: not charged).
    pub budget: Option<&'a Arc<Budget>>,
}

/// Why a block did not decode.
#[derive(Debug)]
pub enum DecodeError {
    /// The payload breaks the layout (the message says where).
    Format(String),
    /// Holding the block would overdraw the memory budget.
    Budget(LogError),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Format(s) => f.write_str(s),
            DecodeError::Budget(e) => write!(f, "{e}"),
        }
    }
}

impl From<String> for DecodeError {
    fn from(s: String) -> Self {
        DecodeError::Format(s)
    }
}

fn size_of_value(v: &Value) -> u64 {
    (std::mem::size_of::<Value>() + approx_size(v)) as u64
}

impl BlockCodec {
    /// A codec with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serialise `b` (uncompressed) into `out` (cleared first).
    pub fn encode(&mut self, b: &RecordBlock, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let n = b.len();
        put_varint(out, n as u64);
        put_varint(out, b.completions.len() as u64);
        put_varint(out, b.ts.first().copied().unwrap_or(0));
        // Timestamps: deltas between neighbours, base-subtracted planes. The
        // first delta is the one from ts[0] to ts[1].
        put_column(out, b.ts.windows(2).map(|w| w[1].wrapping_sub(w[0])), true);
        put_column(out, b.thread.iter().copied(), true);
        put_column(out, b.probe.iter().map(|&p| u64::from(p)), true);
        put_column(out, b.order.iter().map(|&o| u64::from(o)), true);
        put_column(out, b.status.iter().map(|&s| s as u64), true);
        put_column(out, b.tag.iter().map(|&t| u64::from(t.byte())), true);

        self.prev_int.reset();
        self.prev_float.reset();
        self.prev_re.reset();
        self.prev_im.reset();
        self.ints.clear();
        self.floats.clear();
        self.misc.clear();
        for i in 0..n {
            let p = b.probe[i];
            match b.tag[i] {
                ValueTag::Int => {
                    let prev = self.prev_int.slot(p);
                    self.ints.push(b.num[i].wrapping_sub(*prev));
                    *prev = b.num[i];
                }
                ValueTag::Float => {
                    let prev = self.prev_float.slot(p);
                    self.floats.push(b.num[i] ^ *prev);
                    *prev = b.num[i];
                }
                t if !t.is_word() => {
                    let v = b
                        .other
                        .get(b.num[i] as usize)
                        .ok_or_else(|| format!("record {i}: value index out of range"))?;
                    if let Value::Complex(re, im) = v {
                        let (re, im) = (re.to_bits(), im.to_bits());
                        let pr = self.prev_re.slot(p);
                        self.floats.push(re ^ *pr);
                        *pr = re;
                        let pi = self.prev_im.slot(p);
                        self.floats.push(im ^ *pi);
                        *pi = im;
                    } else {
                        self.entry.clear();
                        put_misc_content(&mut self.entry, v, 0)?;
                        put_lp(&mut self.misc, &self.entry);
                    }
                }
                _ => {}
            }
        }
        put_column(out, self.ints.iter().copied(), true);
        put_column(out, self.floats.iter().copied(), false);
        put_lp(out, &self.misc);
        for c in &b.completions {
            put_varint(out, c.seq);
            out.push(c.status as u8);
            put_inline(out, &c.value, 0)?;
        }
        Ok(())
    }

    /// The header of a block payload: record and completion counts (checked
    /// against the frame header) and the first timestamp.
    fn head(c: &mut Cursor<'_>, ctx: &DecodeCtx<'_>) -> Result<u64, String> {
        let count = c.varint()?;
        if count != ctx.records as u64 {
            return Err(format!(
                "block holds {count} records, frame header says {}",
                ctx.records
            ));
        }
        let n_comp = c.varint()?;
        if n_comp != ctx.completions {
            return Err(format!(
                "block holds {n_comp} completions, frame header says {}",
                ctx.completions
            ));
        }
        c.varint()
    }

    /// Decode a block payload (see [`DecodeCtx`] for what is checked).
    pub fn decode(&mut self, raw: &[u8], ctx: &DecodeCtx<'_>) -> Result<RecordBlock, DecodeError> {
        let n = ctx.records;
        let mut c = Cursor::new(raw);
        let ts0 = Self::head(&mut c, ctx)?;
        let mut b = RecordBlock::new(ctx.seq_start);
        if let Some(budget) = ctx.budget {
            b.charge = Charge::on(budget);
        }
        let what = || format!("decoding records {}..", ctx.seq_start);
        b.charge
            .add(n as u64 * BLOCK_BYTES_PER_RECORD, &what)
            .map_err(DecodeError::Budget)?;

        get_column(&mut c, n.saturating_sub(1), &mut self.tmp)?;
        try_reserve(&mut b.ts, n)?;
        if n > 0 {
            let mut t = ts0;
            b.ts.push(t);
            for &d in &self.tmp {
                t = t.wrapping_add(d);
                b.ts.push(t);
            }
        }
        get_column(&mut c, n, &mut self.tmp)?;
        b.thread = std::mem::take(&mut self.tmp);
        get_column(&mut c, n, &mut self.tmp)?;
        b.probe = narrow(&self.tmp, "probe id")?;
        if let Some(&max) = b.probe.iter().max() {
            if max as usize >= ctx.probes {
                return Err(DecodeError::Format(format!(
                    "a record names probe {max}, the probe table has {} entries",
                    ctx.probes
                )));
            }
        }
        get_column(&mut c, n, &mut self.tmp)?;
        b.order = narrow(&self.tmp, "order")?;
        get_column(&mut c, n, &mut self.tmp)?;
        let max = self.tmp.iter().copied().max().unwrap_or(0);
        if u8::try_from(max).ok().and_then(Status::from_u8).is_none() {
            return Err(DecodeError::Format(format!("unknown status {max}")));
        }
        try_reserve(&mut b.status, n)?;
        b.status.extend(
            self.tmp
                .iter()
                .map(|&s| Status::from_u8(s as u8).unwrap_or(Status::Pending)),
        );
        get_column(&mut c, n, &mut self.tmp)?;
        let bytes: Vec<u8> = narrow(&self.tmp, "value tag")?;
        try_reserve(&mut b.tag, n)?;
        b.tag.extend(bytes.iter().map(|&t| ValueTag::from_u8(t)));

        let (mut n_int, mut n_float) = (0usize, 0usize);
        for &t in &b.tag {
            match t {
                ValueTag::Int => n_int += 1,
                ValueTag::Float => n_float += 1,
                ValueTag::Complex => n_float += 2,
                _ => {}
            }
        }
        get_column(&mut c, n_int, &mut self.ints)?;
        get_column(&mut c, n_float, &mut self.floats)?;
        let misc = c.lp_bytes()?;
        let mut mc = Cursor::new(misc);

        self.prev_int.reset();
        self.prev_float.reset();
        self.prev_re.reset();
        self.prev_im.reset();
        try_reserve(&mut b.num, n)?;
        let (mut ii, mut fi) = (0usize, 0usize);
        for (i, &byte) in bytes.iter().enumerate() {
            let p = b.probe[i];
            let t = b.tag[i];
            let num = match t {
                ValueTag::Absent | ValueTag::None | ValueTag::False | ValueTag::True => 0,
                ValueTag::Int => {
                    let prev = self.prev_int.slot(p);
                    *prev = prev.wrapping_add(self.ints[ii]);
                    ii += 1;
                    *prev
                }
                ValueTag::Float => {
                    let prev = self.prev_float.slot(p);
                    *prev ^= self.floats[fi];
                    fi += 1;
                    *prev
                }
                ValueTag::Complex => {
                    let pr = self.prev_re.slot(p);
                    *pr ^= self.floats[fi];
                    let re = f64::from_bits(*pr);
                    let pi = self.prev_im.slot(p);
                    *pi ^= self.floats[fi + 1];
                    let im = f64::from_bits(*pi);
                    fi += 2;
                    let v = Value::Complex(re, im);
                    b.charge
                        .add(size_of_value(&v), &what)
                        .map_err(DecodeError::Budget)?;
                    b.other.push(v);
                    b.other.len() as u64 - 1
                }
                _ => {
                    let content = mc.lp_bytes()?;
                    b.charge
                        .add((std::mem::size_of::<Value>() + content.len()) as u64, &what)
                        .map_err(DecodeError::Budget)?;
                    let v = match get_misc_content(t, content, 0)? {
                        Some(v) => v,
                        None => {
                            b.unknown_tags += 1;
                            unknown_tag_value(byte)
                        }
                    };
                    b.other.push(v);
                    b.other.len() as u64 - 1
                }
            };
            b.num.push(num);
        }
        if mc.remaining() != 0 {
            return Err(DecodeError::Format(format!(
                "{} unused bytes in the misc-value section",
                mc.remaining()
            )));
        }
        b.completions = get_completions(&mut c, ctx.completions, &mut b.charge, &what)?;
        if c.remaining() != 0 {
            return Err(DecodeError::Format(format!(
                "{} unused bytes at the end of the block",
                c.remaining()
            )));
        }
        Ok(b)
    }

    /// Only the completion entries of a block payload: the columns are
    /// skipped, not decoded (readers collect every completion of a log
    /// before they read its records). The entries are charged to `charge`.
    pub fn decode_completions(
        &mut self,
        raw: &[u8],
        ctx: &DecodeCtx<'_>,
        charge: &mut Charge,
    ) -> Result<Vec<Completion>, DecodeError> {
        let n = ctx.records;
        let mut c = Cursor::new(raw);
        Self::head(&mut c, ctx)?;
        skip_column(&mut c, n.saturating_sub(1))?;
        for _ in 0..4 {
            skip_column(&mut c, n)?;
        }
        get_column(&mut c, n, &mut self.tmp)?;
        let (mut n_int, mut n_float) = (0usize, 0usize);
        for &t in &self.tmp {
            match u8::try_from(t).map(ValueTag::from_u8) {
                Ok(ValueTag::Int) => n_int += 1,
                Ok(ValueTag::Float) => n_float += 1,
                Ok(ValueTag::Complex) => n_float += 2,
                _ => {}
            }
        }
        skip_column(&mut c, n_int)?;
        skip_column(&mut c, n_float)?;
        c.lp_bytes()?;
        let what = || format!("reading the completions of records {}..", ctx.seq_start);
        let out = get_completions(&mut c, ctx.completions, charge, &what)?;
        if c.remaining() != 0 {
            return Err(DecodeError::Format(format!(
                "{} unused bytes at the end of the block",
                c.remaining()
            )));
        }
        Ok(out)
    }
}

/// `n` completion entries (each at least three bytes, so a lying count
/// stops at the end of the payload).
fn get_completions(
    c: &mut Cursor<'_>,
    n: u64,
    charge: &mut Charge,
    what: &dyn Fn() -> String,
) -> Result<Vec<Completion>, DecodeError> {
    let mut out = Vec::new();
    for _ in 0..n {
        let seq = c.varint()?;
        let s = c.u8()?;
        let status = Status::from_u8(s).ok_or_else(|| format!("unknown status {s}"))?;
        let at = c.pos();
        let value = get_inline(c, 0)?;
        charge
            .add(
                (std::mem::size_of::<Completion>() + (c.pos() - at)) as u64,
                what,
            )
            .map_err(DecodeError::Budget)?;
        out.push(Completion { seq, status, value });
    }
    Ok(out)
}

/// Skip a column of `n` values without decoding it.
fn skip_column(c: &mut Cursor<'_>, n: usize) -> Result<(), String> {
    let at = c.pos();
    match c.u8()? {
        COL_CONST => {
            c.varint()?;
        }
        mode @ (COL_BASE_PLANES | COL_PLANES) => {
            if mode == COL_BASE_PLANES {
                c.varint()?;
            }
            let width = c.u8()?;
            if !(1..=8).contains(&width) {
                return Err(format!("column at payload byte {at}: bad width {width}"));
            }
            c.bytes(n as u64 * u64::from(width))?;
        }
        m => return Err(format!("column at payload byte {at}: unknown mode {m}")),
    }
    Ok(())
}

/// Grow `v` by `n` without aborting when memory runs out (the amount was
/// charged to the budget already; this catches the allocator saying no).
fn try_reserve<T>(v: &mut Vec<T>, n: usize) -> Result<(), String> {
    v.try_reserve_exact(n)
        .map_err(|_| format!("cannot allocate room for {n} records"))
}

fn narrow<T: TryFrom<u64> + Default>(v: &[u64], what: &str) -> Result<Vec<T>, String> {
    // One range check on the largest value keeps the per-value loop free of
    // error plumbing (this runs for every record `verify` reads).
    let max = v.iter().copied().max().unwrap_or(0);
    if T::try_from(max).is_err() {
        return Err(format!("{what} {max} out of range"));
    }
    let mut out = Vec::new();
    try_reserve(&mut out, v.len())?;
    // `map` (not `filter_map`) keeps the length known, so this vectorises;
    // the default is never used after the range check above.
    out.extend(v.iter().map(|&x| T::try_from(x).unwrap_or_default()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_array() -> Value {
        Value::Array(ArrayValue {
            type_name: "ndarray".into(),
            dtype: Dtype::Complex64,
            shape: vec![2, 3],
            data: (0..40u8).collect(),
            truncated: true,
        })
    }

    #[test]
    fn array_values_round_trip_inline() {
        let v = sample_array();
        let mut out = Vec::new();
        put_inline(&mut out, &v, 0).unwrap();
        let got = get_inline(&mut Cursor::new(&out), 0).unwrap();
        assert_eq!(got, v);
    }

    /// Every prefix and every single-byte change of an encoded array value
    /// decodes to a value or an error, never a panic; inconsistent shapes,
    /// dtypes and lengths are errors.
    #[test]
    fn damaged_array_encodings_never_panic() {
        let mut out = Vec::new();
        put_inline(&mut out, &sample_array(), 0).unwrap();
        for n in 0..out.len() {
            let _ = get_inline(&mut Cursor::new(&out[..n]), 0);
        }
        for i in 0..out.len() {
            for b in [0u8, 1, 0x7f, 0x80, 0xff, out[i] ^ 0x55] {
                let mut bad = out.clone();
                bad[i] = b;
                if let Ok(Value::Array(a)) = get_inline(&mut Cursor::new(&bad), 0) {
                    assert!(
                        a.check().is_ok(),
                        "decoder accepted an inconsistent array: {a:?}"
                    );
                }
            }
        }
        // Not marked truncated but short of the shape: refused.
        let short = Value::Array(ArrayValue {
            type_name: "ndarray".into(),
            dtype: Dtype::Float64,
            shape: vec![4],
            data: vec![0; 16],
            truncated: false,
        });
        let mut out = Vec::new();
        put_inline(&mut out, &short, 0).unwrap();
        let err = get_inline(&mut Cursor::new(&out), 0).unwrap_err();
        assert!(err.contains("not marked truncated"), "{err}");
    }
}
