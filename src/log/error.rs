//! Errors of the log layer.
//!
//! Every error about file *contents* carries the byte offset (from the start
//! of the file) where the problem was found, so that `verify`, `info` and the
//! other readers can say *where* a log is damaged, not only that it is.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while writing or reading a `.probe` log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An operating-system call on the log file failed.
    // The OS error is part of the message (not a `#[source]`), so that a
    // caller printing the whole error chain does not print it twice.
    #[error("I/O error while {op} {path}: {error}")]
    Io {
        /// What we were doing (`"creating"`, `"mapping"`, ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },

    /// The output file exists and overwriting was not requested.
    #[error("{path} already exists; refusing to overwrite it (use --force)")]
    OutputExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The output path cannot take a log (a directory, a missing directory,
    /// not a regular file, no room): found before anything is recorded.
    #[error("cannot write the log to {path}: {reason}")]
    BadOutput {
        /// The output path as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Reserving disk blocks for the log failed because the disk is full.
    #[error("disk full while growing {path} to {len} bytes")]
    DiskFull {
        /// The log file.
        path: PathBuf,
        /// The size the file was being grown to.
        len: u64,
    },

    /// The file does not start with the `.probe` magic bytes.
    #[error("bad magic at offset 0: not a probe log (found {found:02x?})")]
    BadMagic {
        /// The first bytes of the file (up to 8).
        found: Vec<u8>,
    },

    /// The file was written by a newer format version than this reader knows.
    #[error(
        "unsupported format version {found} at offset 8 (this probe reads versions 1..={supported}); upgrade probe"
    )]
    UnsupportedVersion {
        /// Version found in the file header.
        found: u16,
        /// Highest version this build reads.
        supported: u16,
    },

    /// A frame (or the file header) ends beyond the end of the file.
    #[error("truncated frame at offset {offset}: {detail}")]
    Truncated {
        /// Offset of the frame (or header) that is cut short.
        offset: u64,
        /// What was expected and what is there.
        detail: String,
    },

    /// A crc32c did not match: the bytes were changed after they were written.
    #[error("checksum mismatch at offset {offset}: {detail}")]
    Checksum {
        /// Offset of the frame whose header or payload is damaged.
        offset: u64,
        /// Which checksum and, when known, which records are affected.
        detail: String,
    },

    /// Bytes that are not a frame where a frame should start.
    #[error("damaged data at offset {offset}: {detail}")]
    Damaged {
        /// Offset where the unreadable region starts.
        offset: u64,
        /// What was found.
        detail: String,
    },

    /// A frame's checksums hold but its payload cannot be decoded (a bug in
    /// the writer, or a newer writer using a layout this reader does not know).
    #[error("undecodable payload of frame at offset {offset}: {detail}")]
    Undecodable {
        /// Offset of the frame.
        offset: u64,
        /// What could not be decoded.
        detail: String,
    },

    /// The writer API was misused (a bug in the caller, not in the file).
    #[error("invalid use of the log writer: {0}")]
    Invalid(String),

    /// The path names something that is not a regular file (a FIFO, a
    /// device, a directory): refused before anything is read from it, so
    /// that a reader never blocks on it.
    #[error("{path} is {what}, not a log file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is ("a FIFO", "a directory" …).
        what: &'static str,
    },

    /// Reading the log would need more memory than the reader's budget
    /// ([`crate::log::limits`]).
    #[error(
        "{what} needs {} of memory, over the budget of {} (PROBE_MEMORY_BUDGET sets it)",
        human(*needed),
        human(*budget)
    )]
    OverBudget {
        /// What was being read or built.
        what: String,
        /// Bytes it would take (with what is already held).
        needed: u64,
        /// The budget.
        budget: u64,
    },

    /// The log claims more records than a command reads from a log of its
    /// size ([`crate::log::limits::Work`]).
    #[error(
        "{records} records in {frame_bytes} bytes of record frames ({:.0} per byte): more than {what} reads from a log this size ({limit} records); the time it takes grows with every record — set PROBE_MAX_RECORDS_PER_BYTE to read logs this dense",
        *records as f64 / (*frame_bytes).max(1) as f64
    )]
    TooDense {
        /// Records the frames claim.
        records: u64,
        /// Bytes of the RECORDS frames.
        frame_bytes: u64,
        /// What reads them.
        what: &'static str,
        /// Most records it reads from a log this size.
        limit: u64,
    },

    /// A checksummed header field breaks a rule of the format (a reserved
    /// field or flag that is not zero, a count or seq field that does not
    /// match the frame): the log was altered, or written by something that
    /// is not a probe writer.
    #[error("bad header field at offset {offset}: {detail}")]
    BadField {
        /// Offset of the field.
        offset: u64,
        /// Which field and what it holds.
        detail: String,
    },
}

/// `1.5 GiB`, `12.0 MiB`, `512 B`.
pub(crate) fn human(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Stable machine-readable names of what can be wrong with a log: the
/// `kind` of `verify --json` violations (spelled as before they were an
/// enum, so scripts keep working).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// An operating-system call failed.
    Io,
    /// An output exists (writer side).
    OutputExists,
    /// The output path cannot take a log (writer side).
    BadOutput,
    /// The disk filled (writer side).
    DiskFull,
    /// Not a probe log.
    BadMagic,
    /// A newer format version.
    UnsupportedVersion,
    /// A frame runs past the end of the file.
    Truncated,
    /// A checksum does not match.
    #[serde(rename = "checksum_mismatch")]
    Checksum,
    /// Bytes that are not a frame where one should start.
    Damaged,
    /// A payload that does not decode.
    Undecodable,
    /// Writer misuse.
    Invalid,
    /// Not a regular file.
    NotAFile,
    /// Over the memory budget.
    OverBudget,
    /// A header field breaks a rule of the format.
    BadField,
    /// A second META frame.
    ExtraMeta,
    /// A second END frame.
    ExtraEnd,
    /// A RECORDS frame after the END frame.
    AfterEnd,
    /// Records already read, again.
    DuplicateRecords,
    /// Records in a frame placed after later records.
    OutOfOrder,
    /// A record naming a probe outside the table.
    BadProbe,
    /// A timestamp smaller than its predecessor's.
    TimestampDecreases,
    /// A batch whose orders are not 0, 1, 2 …
    BatchOrder,
    /// A batch whose records disagree on timestamp or thread.
    BatchMismatch,
    /// A completion that completes no placeholder.
    BadCompletion,
    /// A placeholder completed twice.
    DoubleCompletion,
    /// Seqs absent from every readable frame.
    MissingRecords,
    /// End-marker totals that differ from what was read.
    EndTotals,
    /// End-marker per-probe counts that differ from what was read.
    EndPerProbe,
    /// Captures the end marker says were lost.
    RecordsLost,
    /// Captures whose records are in the log but whose values the end
    /// marker says were lost (`lost_values`).
    ValuesLost,
    /// A placeholder never completed.
    PlaceholderNotCompleted,
    /// No end marker.
    Incomplete,
    /// A META probe table entry that breaks a rule (ids not positions).
    BadMeta,
}

impl ViolationKind {
    /// The kind as `verify --json` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::Io => "io",
            ViolationKind::OutputExists => "output_exists",
            ViolationKind::BadOutput => "bad_output",
            ViolationKind::DiskFull => "disk_full",
            ViolationKind::BadMagic => "bad_magic",
            ViolationKind::UnsupportedVersion => "unsupported_version",
            ViolationKind::Truncated => "truncated",
            ViolationKind::Checksum => "checksum_mismatch",
            ViolationKind::Damaged => "damaged",
            ViolationKind::Undecodable => "undecodable",
            ViolationKind::Invalid => "invalid",
            ViolationKind::NotAFile => "not_a_file",
            ViolationKind::OverBudget => "over_budget",
            ViolationKind::BadField => "bad_field",
            ViolationKind::ExtraMeta => "extra_meta",
            ViolationKind::ExtraEnd => "extra_end",
            ViolationKind::AfterEnd => "after_end",
            ViolationKind::DuplicateRecords => "duplicate_records",
            ViolationKind::OutOfOrder => "out_of_order",
            ViolationKind::BadProbe => "bad_probe",
            ViolationKind::TimestampDecreases => "timestamp_decreases",
            ViolationKind::BatchOrder => "batch_order",
            ViolationKind::BatchMismatch => "batch_mismatch",
            ViolationKind::BadCompletion => "bad_completion",
            ViolationKind::DoubleCompletion => "double_completion",
            ViolationKind::MissingRecords => "missing_records",
            ViolationKind::EndTotals => "end_totals",
            ViolationKind::EndPerProbe => "end_per_probe",
            ViolationKind::RecordsLost => "records_lost",
            ViolationKind::ValuesLost => "values_lost",
            ViolationKind::PlaceholderNotCompleted => "placeholder_not_completed",
            ViolationKind::Incomplete => "incomplete",
            ViolationKind::BadMeta => "bad_meta",
        }
    }
}

impl PartialEq<&str> for ViolationKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ViolationKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LogError {
    /// The byte offset in the file the error is about, when it is about file contents.
    pub fn offset(&self) -> Option<u64> {
        match self {
            LogError::BadMagic { .. } => Some(0),
            LogError::UnsupportedVersion { .. } => Some(8),
            LogError::Truncated { offset, .. }
            | LogError::Checksum { offset, .. }
            | LogError::Damaged { offset, .. }
            | LogError::Undecodable { offset, .. }
            | LogError::BadField { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// The error's kind, as `verify --json` names it.
    pub fn kind(&self) -> ViolationKind {
        match self {
            LogError::Io { .. } => ViolationKind::Io,
            LogError::OutputExists { .. } => ViolationKind::OutputExists,
            LogError::BadOutput { .. } => ViolationKind::BadOutput,
            LogError::DiskFull { .. } => ViolationKind::DiskFull,
            LogError::BadMagic { .. } => ViolationKind::BadMagic,
            LogError::UnsupportedVersion { .. } => ViolationKind::UnsupportedVersion,
            LogError::Truncated { .. } => ViolationKind::Truncated,
            LogError::Checksum { .. } => ViolationKind::Checksum,
            LogError::Damaged { .. } => ViolationKind::Damaged,
            LogError::Undecodable { .. } => ViolationKind::Undecodable,
            LogError::Invalid(_) => ViolationKind::Invalid,
            LogError::NotAFile { .. } => ViolationKind::NotAFile,
            LogError::OverBudget { .. } => ViolationKind::OverBudget,
            LogError::BadField { .. } => ViolationKind::BadField,
            LogError::TooDense { .. } => ViolationKind::OverBudget,
        }
    }

    /// True for errors about the reader's resources (the memory budget),
    /// not about the file: a command cannot finish, but the log may be fine.
    pub fn is_resource(&self) -> bool {
        matches!(
            self,
            LogError::OverBudget { .. } | LogError::TooDense { .. } | LogError::Io { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: &std::path::Path, error: io::Error) -> LogError {
        LogError::Io {
            op,
            path: path.to_path_buf(),
            error,
        }
    }
}
