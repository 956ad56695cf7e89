//! The unit of capture: [`CaptureRecord`] and the values and statuses it carries.
//!
//! These types are shared by every stage after the tracer core: the wire
//! decoder produces them, the log writer stores them, readers hand them back.
//! The log stores them column-wise (see `docs/FORMAT.md`); this is the
//! row-wise view used by code that looks at one record at a time.

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

    /// Check that `data` is whole elements and agrees with the shape and
    /// the truncated flag (all of them, or a prefix when truncated).
    pub fn check(&self) -> Result<(), String> {
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
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Absent => "absent",
            Value::None => "none",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Str { .. } => "str",
            Value::Bytes { .. } => "bytes",
            Value::Sub { base, .. } => base.kind(),
            Value::Other { .. } => "other",
            Value::Error { .. } => "error",
            Value::Array(_) => "array",
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
