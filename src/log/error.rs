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
            | LogError::Undecodable { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// A short, stable machine-readable name of the error kind (used in
    /// `verify --json` violation kinds).
    pub fn kind(&self) -> &'static str {
        match self {
            LogError::Io { .. } => "io",
            LogError::OutputExists { .. } => "output_exists",
            LogError::BadOutput { .. } => "bad_output",
            LogError::DiskFull { .. } => "disk_full",
            LogError::BadMagic { .. } => "bad_magic",
            LogError::UnsupportedVersion { .. } => "unsupported_version",
            LogError::Truncated { .. } => "truncated",
            LogError::Checksum { .. } => "checksum_mismatch",
            LogError::Damaged { .. } => "damaged",
            LogError::Undecodable { .. } => "undecodable",
            LogError::Invalid(_) => "invalid",
        }
    }

    pub(crate) fn io(op: &'static str, path: &std::path::Path, error: io::Error) -> LogError {
        LogError::Io {
            op,
            path: path.to_path_buf(),
            error,
        }
    }
}
