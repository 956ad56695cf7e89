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
