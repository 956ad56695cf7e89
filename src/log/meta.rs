//! Run metadata (written first in every log) and the end marker's contents.
//! Both are stored as JSON inside their frames so that they can grow new
//! optional fields without a format version change.

use serde::{Deserialize, Serialize};

pub use crate::model::ProbeInfo;
use crate::model::{Core, ExitKind};

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
    /// Tracer core: `native`, `monitoring` or `settrace`.
    pub core: Core,
    /// Why that core and not the preferred one (the native core could not
    /// load, Python 3.11 has no `sys.monitoring`, ...); none when `--core`
    /// asked for it or the preferred core ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_note: Option<String>,
    /// Wall-clock start time, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Maximum bytes kept of a str/bytes/repr value.
    pub max_value_bytes: u64,
    /// Maximum bytes of array data kept per value (0 in logs written before
    /// arrays were recorded).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_array_bytes: u64,
    /// Timestamps are multiples of this many nanoseconds (1 = full
    /// resolution). Logs written before the field existed are full resolution.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub ts_resolution_ns: u64,
}

impl RunMeta {
    /// Probe labels (`loop.py:4:x@lhs`), made unique: two probes whose short
    /// labels collide (same base name in two directories) get their full path,
    /// so that the dictionary stays a set (pandas categories must be unique).
    pub fn unique_labels(&self) -> Vec<String> {
        let short: Vec<String> = self.probes.iter().map(|p| p.label()).collect();
        short
            .iter()
            .zip(&self.probes)
            .map(|(l, p)| {
                if short.iter().filter(|x| *x == l).count() > 1 {
                    format!("{}:{}:{}@{}", p.file, p.line, p.name, p.role.as_str())
                } else {
                    l.clone()
                }
            })
            .collect()
    }
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

/// How the traced program ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// `exit` (normal or `sys.exit`), `exception` (uncaught), `os_exit`,
    /// `signal` (killed by a signal), `lost` (agent vanished without saying),
    /// or `aborted` (the recorder was interrupted); see [`ExitKind`].
    pub kind: ExitKind,
    /// Exit status the program returned (128+N for signal N).
    pub code: i32,
    /// Signal number, when killed by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Exception type name for `exception` (and `SystemExit` for `sys.exit`
    /// when the agent ran the program itself: the `-c` bootstrap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Extra human-readable detail (e.g. a recorder error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT) that `probe record`
    /// itself received while the program ran: passed on to the program
    /// (unless the terminal had sent it to the program already), which then
    /// ended as `kind`, `code` and `signal` say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorder_signal: Option<i32>,
    /// The program outlived the grace period after `recorder_signal`, and a
    /// second signal made the recorder kill it (SIGKILL).
    #[serde(default, skip_serializing_if = "is_false")]
    pub killed_by_recorder: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
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
    /// Captures the recorder knows were made but are not in the log: they
    /// arrived after the writer failed (a full disk), or in the part of a
    /// message cut off when the program died while sending it (a lower
    /// bound there). Non-zero means the log is not the whole run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_records: u64,
    /// Captures whose record is in the log but whose value is not: their
    /// completion was cut off with the program's last message, or could not
    /// be written after the writer failed. Their records say `incomplete`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_values: u64,
    /// Child processes the program started that ran untraced: forks
    /// (`os.fork`, `multiprocessing` workers), `subprocess` runs,
    /// `os.system`, `os.posix_spawn`, and a program that `os.exec*`
    /// replaced it with (children are not traced yet).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untraced_children: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
