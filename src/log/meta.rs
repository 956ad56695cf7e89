//! Run metadata (written first in every log) and the end marker's contents.
//! Both are stored as JSON inside their frames so that they can grow new
//! optional fields without a format version change.

use serde::{Deserialize, Serialize};

use crate::model::Role;

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

impl ProbeInfo {
    /// Short label, `file.py:LINE:NAME@role` with the file's base name only
    /// (what plots, tables and exports show).
    pub fn label(&self) -> String {
        let base = std::path::Path::new(&self.file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(&self.file);
        format!("{base}:{}:{}@{}", self.line, self.name, self.role.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> ProbeInfo {
        ProbeInfo {
            id: 0,
            spec: "/home/u/src/loop.py:4:x@lhs".into(),
            file: "/home/u/src/loop.py".into(),
            line: 4,
            name: "x".into(),
            role: Role::Lhs,
        }
    }

    #[test]
    fn label_uses_the_file_base_name() {
        assert_eq!(probe().label(), "loop.py:4:x@lhs");
    }

    #[test]
    fn selectors_match_by_name_role_and_path_suffix() {
        let p = probe();
        for yes in [
            "x",
            "x@lhs",
            "loop.py:4:x",
            "src/loop.py:4:x@lhs",
            "/home/u/src/loop.py:4:x",
            "./loop.py:4:x",
        ] {
            assert!(p.matches(yes), "{yes} should match");
        }
        for no in [
            "y",
            "x@rhs",
            "loop.py:5:x",
            "oop.py:4:x",
            "other/loop.py:4:x",
            "4:x",
            "loop.py:x:x",
            "",
        ] {
            assert!(!p.matches(no), "{no} should not match");
        }
    }
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
