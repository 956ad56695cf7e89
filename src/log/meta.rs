//! Run metadata (written first in every log) and the end marker's contents.
//! Both are stored as JSON inside their frames so that they can grow new
//! optional fields without a format version change.

use serde::{Deserialize, Serialize};

use crate::capture::record::Role;

/// One entry of the probe table. A record's `probe` field indexes this table.
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

/// Everything known about the run before the first capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Version of `probe` that wrote the log.
    pub probe_version: String,
    /// The probe table, in id order.
    pub probes: Vec<ProbeInfo>,
    /// The command line of the traced program (as given after `--`).
    pub command: Vec<String>,
    /// Working directory of the run.
    pub cwd: String,
    /// Python version, e.g. `3.12.1`.
    pub python_version: String,
    /// Python executable used.
    pub python_executable: String,
    /// Tracer core: `monitoring` or `settrace`.
    pub core: String,
    /// Wall-clock start time, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Maximum bytes kept of a str/bytes/repr value.
    pub max_value_bytes: u64,
    /// Timestamps are multiples of this many nanoseconds (1 = full
    /// resolution). Logs written before the field existed are full resolution.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub ts_resolution_ns: u64,
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

/// How the traced program ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// `exit` (normal or `sys.exit`), `exception` (uncaught), `os_exit`,
    /// `signal` (killed by a signal), `lost` (agent vanished without saying),
    /// or `aborted` (the recorder was interrupted).
    pub kind: String,
    /// Exit status the program returned (128+N for signal N).
    pub code: i32,
    /// Signal number, when killed by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Exception type name for `exception` (and `SystemExit` for `sys.exit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Extra human-readable detail (e.g. a recorder error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The end marker: closes a complete log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndInfo {
    /// Number of records written (= last seq + 1).
    pub total_records: u64,
    /// Records per probe, indexed like the probe table.
    pub per_probe: Vec<u64>,
    /// Placeholders written (LHS captures pending at frame time).
    pub placeholders: u64,
    /// Completion entries written.
    pub completions: u64,
    /// How the program ended.
    pub exit: ExitInfo,
    /// Duration of the run in nanoseconds.
    pub duration_ns: u64,
    /// Captures that reached the recorder but could not be written (a full
    /// disk, say). Non-zero means the log is not the whole run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_records: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
