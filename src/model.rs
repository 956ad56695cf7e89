//! The shared vocabulary of every stage after the tracer core: the unit of
//! capture ([`CaptureRecord`]) with its [`Value`] and [`Status`], the probe
//! table's entries ([`ProbeInfo`]), the kinds of values ([`Kind`]) and the
//! tags they are stored under ([`ValueTag`]), how a run ended
//! ([`ExitKind`]) and which tracer core ran it ([`Core`]).
//!
//! The wire decoder produces these types, the log writer stores them,
//! readers hand them back, and every command (`verify`, `info`, `replay`,
//! `diff`, `export`) speaks in them — so no consumer depends on how they are
//! spelled on disk: tags are matched by name, never by their numeric order,
//! and names that a log stores as text (exit kinds, cores) are enums whose
//! unknown spellings are kept, so a log written by a newer `probe` still
//! reads. The log stores records column-wise (see `docs/FORMAT.md`); this is
//! the row-wise view used by code that looks at one record at a time.

use serde::{Deserialize, Serialize};

/// Which side of the probed line a probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The value *after* the line executed (deferred capture).
    Lhs,
    /// The value *before* the line executes (immediate capture).
    Rhs,
}

impl Role {
    /// `"lhs"` or `"rhs"`, as written in probe specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Lhs => "lhs",
            Role::Rhs => "rhs",
        }
    }
}

/// How a capture ended (SPEC §2 rule 9), plus the log-only `Pending` state of
/// a placeholder whose completion comes later in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The value was read.
    Ok = 0,
    /// NAME was not bound when it was read.
    Unbound = 1,
    /// An exception event hit the frame while the LHS capture was pending.
    Raised = 2,
    /// Reading or serialising the value failed; the value is [`Value::Error`].
    Error = 3,
    /// The program ended while the LHS capture was pending.
    Incomplete = 4,
    /// Placeholder: the LHS capture was still pending when its frame was
    /// written. Never visible after readers join completions.
    Pending = 5,
}

impl Status {
    /// Decode the status byte used in logs; `None` for an unknown byte.
    pub fn from_u8(b: u8) -> Option<Status> {
        Some(match b {
            0 => Status::Ok,
            1 => Status::Unbound,
            2 => Status::Raised,
            3 => Status::Error,
            4 => Status::Incomplete,
            5 => Status::Pending,
            _ => return None,
        })
    }

    /// Lower-case name used in human and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unbound => "unbound",
            Status::Raised => "raised",
            Status::Error => "error",
            Status::Incomplete => "incomplete",
            Status::Pending => "pending",
        }
    }
}

/// A captured value (SPEC §3). `type_name` fields keep the Python type name
/// where it differs from the base kind (an `IntEnum` stored as an int, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// No value: the name was unbound, or the capture is incomplete/pending.
    Absent,
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// A Python `int` that fits in 64 bits.
    Int(i64),
    /// A Python `int` beyond 64 bits, as its exact decimal text.
    BigInt(String),
    /// A Python `float`, bit-exact (NaN payloads, -0.0 included).
    Float(f64),
    /// A Python `complex` (real, imaginary), bit-exact.
    Complex(f64, f64),
    /// A `str`, possibly truncated.
    Str { text: String, truncated: bool },
    /// A `bytes`, possibly truncated.
    Bytes { data: Vec<u8>, truncated: bool },
    /// A subclass of int/float/complex/str/bytes: its base value and type name.
    Sub { type_name: String, base: Box<Value> },
    /// Anything else: type name and `repr`, possibly truncated.
    Other {
        type_name: String,
        repr: String,
        truncated: bool,
    },
    /// Reading or serialising failed (status `error`): the exception type and message.
    Error { exc_type: String, message: String },
    /// A NumPy array, or a list/tuple of numbers stored as one (SPEC §3).
    Array(ArrayValue),
}

/// Element type of an [`ArrayValue`], named as NumPy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// `bool`, one byte per element (0 or 1).
    Bool,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `uint8`.
    Uint8,
    /// `uint16`.
    Uint16,
    /// `uint32`.
    Uint32,
    /// `uint64`.
    Uint64,
    /// `float16` (IEEE half precision).
    Float16,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
    /// `complex64`: two `float32` (re, im) per element.
    Complex64,
    /// `complex128`: two `float64` (re, im) per element.
    Complex128,
}

impl Dtype {
    /// Every dtype, in code order.
    pub const ALL: [Dtype; 14] = [
        Dtype::Bool,
        Dtype::Int8,
        Dtype::Int16,
        Dtype::Int32,
        Dtype::Int64,
        Dtype::Uint8,
        Dtype::Uint16,
        Dtype::Uint32,
        Dtype::Uint64,
        Dtype::Float16,
        Dtype::Float32,
        Dtype::Float64,
        Dtype::Complex64,
        Dtype::Complex128,
    ];

    /// The NumPy name (`"float64"`, `"complex128"`, `"bool"` …).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "bool",
            Dtype::Int8 => "int8",
            Dtype::Int16 => "int16",
            Dtype::Int32 => "int32",
            Dtype::Int64 => "int64",
            Dtype::Uint8 => "uint8",
            Dtype::Uint16 => "uint16",
            Dtype::Uint32 => "uint32",
            Dtype::Uint64 => "uint64",
            Dtype::Float16 => "float16",
            Dtype::Float32 => "float32",
            Dtype::Float64 => "float64",
            Dtype::Complex64 => "complex64",
            Dtype::Complex128 => "complex128",
        }
    }

    /// The dtype with NumPy name `name`.
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The byte stored in logs (index in [`Dtype::ALL`]).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The dtype stored in logs as `code`.
    pub fn from_code(code: u8) -> Option<Dtype> {
        Dtype::ALL.get(usize::from(code)).copied()
    }

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            Dtype::Bool | Dtype::Int8 | Dtype::Uint8 => 1,
            Dtype::Int16 | Dtype::Uint16 | Dtype::Float16 => 2,
            Dtype::Int32 | Dtype::Uint32 | Dtype::Float32 => 4,
            Dtype::Int64 | Dtype::Uint64 | Dtype::Float64 | Dtype::Complex64 => 8,
            Dtype::Complex128 => 16,
        }
    }

    /// True for `complex64` and `complex128`.
    pub fn is_complex(self) -> bool {
        matches!(self, Dtype::Complex64 | Dtype::Complex128)
    }

    /// True for the float dtypes (not complex).
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::Float16 | Dtype::Float32 | Dtype::Float64)
    }
}

/// An array value: dtype, full shape, and the elements kept (C order,
/// little-endian), which are all of them unless `truncated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayValue {
    /// Python type of the captured object: `ndarray` (or a subclass's name),
    /// `list`, `tuple`.
    pub type_name: String,
    /// Element type.
    pub dtype: Dtype,
    /// The array's full shape, even when the data was truncated.
    pub shape: Vec<u64>,
    /// The first [`ArrayValue::len`] elements in C order, little-endian.
    pub data: Vec<u8>,
    /// True when `data` holds fewer elements than the shape implies.
    pub truncated: bool,
}

impl ArrayValue {
    /// Elements the full array has (product of the shape; saturating).
    pub fn full_len(&self) -> u64 {
        self.shape.iter().fold(1u64, |a, &d| a.saturating_mul(d))
    }

    /// Elements the full array has, `None` when the shape's product does
    /// not fit 63 bits (no real array is that large: such a shape is damage).
    pub fn checked_full_len(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64)
    }

    /// Check that the shape's product fits 63 bits and that `data` is whole
    /// elements agreeing with the shape and the truncated flag (all of
    /// them, or a prefix when truncated).
    pub fn check(&self) -> Result<(), String> {
        if self.checked_full_len().is_none() {
            return Err(format!(
                "array shape {:?} has more elements than fit 63 bits",
                self.shape
            ));
        }
        let size = self.dtype.itemsize();
        if !self.data.len().is_multiple_of(size) {
            return Err(format!(
                "array data of {} bytes is not a whole number of {} elements",
                self.data.len(),
                self.dtype.name()
            ));
        }
        let kept = self.len() as u64;
        if kept > self.full_len() || (!self.truncated && kept != self.full_len()) {
            return Err(format!(
                "array of shape {:?} holds {kept} elements{}",
                self.shape,
                if self.truncated {
                    ""
                } else {
                    " but is not marked truncated"
                }
            ));
        }
        Ok(())
    }

    /// Elements kept in `data`.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.itemsize()
    }

    /// True when no element was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn elem<const N: usize>(&self, i: usize, at: usize) -> [u8; N] {
        let start = i * self.dtype.itemsize() + at;
        let mut a = [0u8; N];
        if let Some(b) = self.data.get(start..start + N) {
            a.copy_from_slice(b);
        }
        a
    }

    /// Element `i` as an `f64` (real dtypes; big 64-bit ints round).
    /// For complex dtypes, the real part. `None` past the kept data.
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        if i >= self.len() {
            return None;
        }
        Some(match self.dtype {
            Dtype::Bool => f64::from(u8::from(self.elem::<1>(i, 0)[0] != 0)),
            Dtype::Int8 => f64::from(i8::from_le_bytes(self.elem(i, 0))),
            Dtype::Int16 => f64::from(i16::from_le_bytes(self.elem(i, 0))),
            Dtype::Int32 => f64::from(i32::from_le_bytes(self.elem(i, 0))),
            Dtype::Int64 => i64::from_le_bytes(self.elem(i, 0)) as f64,
            Dtype::Uint8 => f64::from(self.elem::<1>(i, 0)[0]),
            Dtype::Uint16 => f64::from(u16::from_le_bytes(self.elem(i, 0))),
            Dtype::Uint32 => f64::from(u32::from_le_bytes(self.elem(i, 0))),
            Dtype::Uint64 => u64::from_le_bytes(self.elem(i, 0)) as f64,
            Dtype::Float16 => f16_to_f64(u16::from_le_bytes(self.elem(i, 0))),
            Dtype::Float32 | Dtype::Complex64 => f64::from(f32::from_le_bytes(self.elem(i, 0))),
            Dtype::Float64 | Dtype::Complex128 => f64::from_le_bytes(self.elem(i, 0)),
        })
    }

    /// Element `i` as (re, im); real dtypes have im = 0. `None` past the kept data.
    pub fn get_complex(&self, i: usize) -> Option<(f64, f64)> {
        let re = self.get_f64(i)?;
        let im = match self.dtype {
            Dtype::Complex64 => f64::from(f32::from_le_bytes(self.elem(i, 4))),
            Dtype::Complex128 => f64::from_le_bytes(self.elem(i, 8)),
            _ => 0.0,
        };
        Some((re, im))
    }

    /// Element `i` as an exact `i64` for integer and bool dtypes
    /// (`uint64` above `i64::MAX` gives `None`).
    pub fn get_i64(&self, i: usize) -> Option<i64> {
        if i >= self.len() {
            return None;
        }
        Some(match self.dtype {
            Dtype::Bool => i64::from(self.elem::<1>(i, 0)[0] != 0),
            Dtype::Int8 => i64::from(i8::from_le_bytes(self.elem(i, 0))),
            Dtype::Int16 => i64::from(i16::from_le_bytes(self.elem(i, 0))),
            Dtype::Int32 => i64::from(i32::from_le_bytes(self.elem(i, 0))),
            Dtype::Int64 => i64::from_le_bytes(self.elem(i, 0)),
            Dtype::Uint8 => i64::from(self.elem::<1>(i, 0)[0]),
            Dtype::Uint16 => i64::from(u16::from_le_bytes(self.elem(i, 0))),
            Dtype::Uint32 => i64::from(u32::from_le_bytes(self.elem(i, 0))),
            Dtype::Uint64 => i64::try_from(u64::from_le_bytes(self.elem(i, 0))).ok()?,
            _ => return None,
        })
    }

    /// Element `i` of an integer or bool dtype, exactly (uint64 included);
    /// `None` for other dtypes or past the kept data.
    pub fn get_int(&self, i: usize) -> Option<i128> {
        match self.dtype {
            Dtype::Uint64 if i < self.len() => {
                Some(i128::from(u64::from_le_bytes(self.elem(i, 0))))
            }
            _ => self.get_i64(i).map(i128::from),
        }
    }

    /// The kept elements as `f64` (real parts for complex dtypes).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        (0..self.len()).filter_map(|i| self.get_f64(i)).collect()
    }
}

/// IEEE 754 half → double, exact (every half is representable).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        0x1f if frac == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

impl Value {
    /// Short kind name used by `info`, export and replay.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Absent => Kind::Absent,
            Value::None => Kind::None,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) | Value::BigInt(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Complex(..) => Kind::Complex,
            Value::Str { .. } => Kind::Str,
            Value::Bytes { .. } => Kind::Bytes,
            Value::Sub { base, .. } => base.kind(),
            Value::Other { .. } => Kind::Other,
            Value::Error { .. } => Kind::Error,
            Value::Array(_) => Kind::Array,
        }
    }

    /// The value as an `f64` when it is a real number (bool, int, float,
    /// or a subclass of one); big ints convert with rounding.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(i) => Some(*i as f64),
            Value::BigInt(s) => s.parse::<f64>().ok(),
            Value::Float(f) => Some(*f),
            Value::Sub { base, .. } => base.as_f64(),
            _ => None,
        }
    }
}

/// One capture: a probe's value at one trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord {
    /// Global sequence number: 0, 1, 2 … over all probes and threads.
    pub seq: u64,
    /// Nanoseconds since the recording started, taken at the trigger.
    pub ts_ns: u64,
    /// Python thread identifier of the triggering thread.
    pub thread: u64,
    /// Index into the log's probe table.
    pub probe: u32,
    /// Position inside the batch (0 for the first record of a trigger).
    pub order: u16,
    /// How the capture ended.
    pub status: Status,
    /// The value (or [`Value::Absent`]).
    pub value: Value,
}

/// The kind of a value: what `info` lists, what the `kind` column of an
/// export holds, what `diff` compares kinds by. The order of [`Kind::ALL`]
/// is the order of the export's `kind` dictionary (documented in
/// `docs/EXPORT.md`) and never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// No value (unbound, incomplete, pending).
    Absent,
    /// `None`.
    None,
    /// `bool`.
    Bool,
    /// `int` (64-bit or big).
    Int,
    /// `float`.
    Float,
    /// `complex`.
    Complex,
    /// `str`.
    Str,
    /// `bytes`.
    Bytes,
    /// Anything else (type name and `repr`).
    Other,
    /// Reading or serialising the value failed.
    Error,
    /// An array.
    Array,
}

impl Kind {
    /// Every kind, in the export dictionary's order.
    pub const ALL: [Kind; 11] = [
        Kind::Absent,
        Kind::None,
        Kind::Bool,
        Kind::Int,
        Kind::Float,
        Kind::Complex,
        Kind::Str,
        Kind::Bytes,
        Kind::Other,
        Kind::Error,
        Kind::Array,
    ];

    /// Lower-case name used in human and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Absent => "absent",
            Kind::None => "none",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Complex => "complex",
            Kind::Str => "str",
            Kind::Bytes => "bytes",
            Kind::Other => "other",
            Kind::Error => "error",
            Kind::Array => "array",
        }
    }

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tag a value is stored under in a log (`docs/FORMAT.md` §3): one
/// byte per record in a block's tag column, and the first byte of an
/// inline value. Code that reads blocks matches these names; the bytes
/// are this enum's business alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueTag {
    /// [`Value::Absent`].
    Absent = 0,
    /// [`Value::None`].
    None = 1,
    /// `Value::Bool(false)`.
    False = 2,
    /// `Value::Bool(true)`.
    True = 3,
    /// [`Value::Int`]: per-probe delta in the int column.
    Int = 4,
    /// [`Value::Float`]: per-probe XOR of bits in the float column.
    Float = 5,
    /// [`Value::Complex`]: two entries in the float column.
    Complex = 6,
    /// [`Value::BigInt`]: decimal text.
    BigInt = 7,
    /// [`Value::Str`].
    Str = 8,
    /// [`Value::Bytes`].
    Bytes = 9,
    /// [`Value::Sub`].
    Sub = 10,
    /// [`Value::Other`].
    Other = 11,
    /// [`Value::Error`].
    Error = 12,
    /// [`Value::Array`] (added without a version change: a new misc tag).
    Array = 13,
    /// A tag this build does not know (written by a newer `probe`); its
    /// value reads as [`Value::Other`]. Never written.
    Unknown = 255,
}

impl ValueTag {
    /// The first tag whose content is length-prefixed ("misc"), so that a
    /// reader can skip a kind it does not know.
    pub const FIRST_MISC: u8 = 7;

    /// The tag stored as byte `b` ([`ValueTag::Unknown`] for bytes no tag has).
    #[inline]
    pub const fn from_u8(b: u8) -> ValueTag {
        match b {
            0 => ValueTag::Absent,
            1 => ValueTag::None,
            2 => ValueTag::False,
            3 => ValueTag::True,
            4 => ValueTag::Int,
            5 => ValueTag::Float,
            6 => ValueTag::Complex,
            7 => ValueTag::BigInt,
            8 => ValueTag::Str,
            9 => ValueTag::Bytes,
            10 => ValueTag::Sub,
            11 => ValueTag::Other,
            12 => ValueTag::Error,
            13 => ValueTag::Array,
            _ => ValueTag::Unknown,
        }
    }

    /// The byte stored on disk. [`ValueTag::Unknown`] is written as
    /// [`ValueTag::Other`], which is what its value reads as.
    #[inline]
    pub const fn byte(self) -> u8 {
        match self {
            ValueTag::Unknown => ValueTag::Other as u8,
            t => t as u8,
        }
    }

    /// The tag of a value.
    pub fn of(v: &Value) -> ValueTag {
        match v {
            Value::Absent => ValueTag::Absent,
            Value::None => ValueTag::None,
            Value::Bool(false) => ValueTag::False,
            Value::Bool(true) => ValueTag::True,
            Value::Int(_) => ValueTag::Int,
            Value::Float(_) => ValueTag::Float,
            Value::Complex(..) => ValueTag::Complex,
            Value::BigInt(_) => ValueTag::BigInt,
            Value::Str { .. } => ValueTag::Str,
            Value::Bytes { .. } => ValueTag::Bytes,
            Value::Sub { .. } => ValueTag::Sub,
            Value::Other { .. } => ValueTag::Other,
            Value::Error { .. } => ValueTag::Error,
            Value::Array(_) => ValueTag::Array,
        }
    }

    /// True for the tags whose whole value fits a block's 64-bit `num`
    /// word (absent, None, bools, ints, floats): no heap value exists.
    #[inline]
    pub fn is_word(self) -> bool {
        matches!(
            self,
            ValueTag::Absent
                | ValueTag::None
                | ValueTag::False
                | ValueTag::True
                | ValueTag::Int
                | ValueTag::Float
        )
    }

    /// True when the value's content is length-prefixed on disk.
    #[inline]
    pub fn is_misc(self) -> bool {
        !self.is_word() && self != ValueTag::Complex
    }

    /// The kind of the values with this tag, when the tag alone says it
    /// (a subclass has its base's kind; an unknown tag reads as `other`).
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            ValueTag::Absent => Kind::Absent,
            ValueTag::None => Kind::None,
            ValueTag::False | ValueTag::True => Kind::Bool,
            ValueTag::Int | ValueTag::BigInt => Kind::Int,
            ValueTag::Float => Kind::Float,
            ValueTag::Complex => Kind::Complex,
            ValueTag::Str => Kind::Str,
            ValueTag::Bytes => Kind::Bytes,
            ValueTag::Other | ValueTag::Unknown => Kind::Other,
            ValueTag::Error => Kind::Error,
            ValueTag::Array => Kind::Array,
            ValueTag::Sub => return None,
        })
    }
}

/// One entry of a log's probe table. A record's `probe` field indexes this table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeInfo {
    /// Index in the table (equal to its position).
    pub id: u32,
    /// The canonical spec, `path/to/file.py:LINE:NAME@role`.
    pub spec: String,
    /// Absolute path of the source file (or the suffix pattern if it did not exist).
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// Variable name or attribute chain.
    pub name: String,
    /// Resolved role.
    pub role: Role,
}

impl ProbeInfo {
    /// Short label, `file.py:LINE:NAME@role` with the file's base name only
    /// (what plots, tables and exports show; see also [`short_labels`],
    /// which keeps labels apart when base names collide).
    pub fn label(&self) -> String {
        let base = std::path::Path::new(&self.file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(&self.file);
        format!("{base}:{}:{}@{}", self.line, self.name, self.role.as_str())
    }

    /// The full label, `/abs/path/file.py:LINE:NAME@role`.
    pub fn full_label(&self) -> String {
        format!(
            "{}:{}:{}@{}",
            self.file,
            self.line,
            self.name,
            self.role.as_str()
        )
    }

    /// Whether a user's selector (`--probe`) picks this probe. A selector is
    /// `NAME`, `NAME@role`, `FILE:LINE:NAME` or `FILE:LINE:NAME@role`, where
    /// FILE matches any trailing path components of the probe's file
    /// (`loop.py`, `src/loop.py`, or the absolute path).
    pub fn matches(&self, selector: &str) -> bool {
        let (body, role) = match selector.rsplit_once('@') {
            Some((b, r)) => (b, Some(r)),
            None => (selector, None),
        };
        if role.is_some_and(|r| r != self.role.as_str()) {
            return false;
        }
        let mut parts = body.rsplitn(3, ':');
        let name = parts.next().unwrap_or_default();
        if name != self.name {
            return false;
        }
        match (parts.next(), parts.next()) {
            (None, _) => true,
            (Some(line), Some(file)) => {
                line.parse::<u32>().is_ok_and(|l| l == self.line)
                    && path_suffix_matches(&self.file, file)
            }
            (Some(_), None) => false,
        }
    }
}

/// Short labels of a probe table (`loop.py:4:x@lhs`), made unambiguous: where
/// two probes' short labels collide (the same base name in two
/// directories), the shortest trailing part of their paths that tells them
/// apart is kept (`a/loop.py:4:x@lhs`, `b/loop.py:4:x@lhs`), so every label
/// names one probe — the short, unambiguous label every human output uses.
pub fn short_labels(probes: &[ProbeInfo]) -> Vec<String> {
    let comps: Vec<Vec<&str>> = probes
        .iter()
        .map(|p| {
            let mut c: Vec<&str> = p.file.split('/').filter(|s| !s.is_empty()).collect();
            if c.is_empty() {
                c.push(p.file.as_str());
            }
            c
        })
        .collect();
    let tail = |i: usize, k: usize| -> String {
        let c = &comps[i];
        let k = k.min(c.len());
        let mut s = c[c.len() - k..].join("/");
        if k == c.len() && probes[i].file.starts_with('/') {
            s.insert(0, '/');
        }
        let p = &probes[i];
        format!("{s}:{}:{}@{}", p.line, p.name, p.role.as_str())
    };
    let mut depth = vec![1usize; probes.len()];
    // Lengthen the colliding labels one component at a time; a few rounds
    // settle any real table (each round strictly lengthens a collision).
    for _ in 0..64 {
        let labels: Vec<String> = (0..probes.len()).map(|i| tail(i, depth[i])).collect();
        let mut changed = false;
        for i in 0..probes.len() {
            if labels.iter().filter(|l| **l == labels[i]).count() > 1 && depth[i] < comps[i].len() {
                depth[i] += 1;
                changed = true;
            }
        }
        if !changed {
            return labels;
        }
    }
    (0..probes.len()).map(|i| tail(i, depth[i])).collect()
}

/// True when `suffix`'s path components are the trailing components of `path`.
fn path_suffix_matches(path: &str, suffix: &str) -> bool {
    let p = std::path::Path::new(path);
    let s = std::path::Path::new(suffix);
    if s.is_absolute() {
        return p == s;
    }
    let pc: Vec<_> = p.components().collect();
    let sc: Vec<_> = s
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    !sc.is_empty() && sc.len() <= pc.len() && pc[pc.len() - sc.len()..] == sc[..]
}

/// A name a log stores as text, known to this build or not: known names
/// are variants; anything else is kept as written, so a log from a newer
/// `probe` reads (and prints) as it was written.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vm])* $v,)+
            /// A name this build does not know, as the log spells it.
            Other(String),
        }

        impl $name {
            /// The name as the log spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$v => $s,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($s => $name::$v,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::Other(_) => $name::Other(s),
                    known => known,
                }
            }
        }

        impl From<$name> for String {
            fn from(k: $name) -> String {
                match k {
                    $name::Other(s) => s,
                    known => known.as_str().to_string(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.as_str() == other
            }
        }
    };
}

text_enum! {
    /// How the traced program ended (the end marker's `exit.kind`).
    #[derive(Default)]
    ExitKind {
        /// It exited normally or by `sys.exit`.
        #[default]
        Exit = "exit",
        /// An uncaught exception ended it.
        Exception = "exception",
        /// It called `os._exit`.
        OsExit = "os_exit",
        /// A signal killed it.
        Signal = "signal",
        /// Its capture stream ended without the agent's last word (it
        /// closed the recorder's descriptor, exec'd, or the agent died):
        /// captures it made afterwards are not in the log.
        Lost = "lost",
        /// The recorder was interrupted before the program ended.
        Aborted = "aborted",
        /// It replaced itself with another program (`os.exec*`): what ran
        /// afterwards was not traced.
        Exec = "exec",
    }
}

text_enum! {
    /// The tracer core that ran a recording.
    Core {
        /// The native core: `sys.monitoring` with its hot path in an
        /// extension module (Python 3.12+).
        Native = "native",
        /// The `sys.monitoring` core (Python 3.12+).
        Monitoring = "monitoring",
        /// The `sys.settrace` core.
        Settrace = "settrace",
    }
}
