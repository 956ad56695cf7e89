//! The `.probe` log: an append-only, crash-tolerant, compressed file of
//! capture records (SPEC §5), and the tools that read it (`verify`, `info`).
//!
//! Layout in one paragraph (the normative text is `docs/FORMAT.md`): a
//! 16-byte file header (magic, format version), then frames. Each frame has
//! a 48-byte header with its own magic, kind, codec, lengths, the seq range
//! it covers and crc32c checksums of payload and header, so a reader can
//! check every frame on its own and resynchronise after a damaged region.
//! The first frame is META (JSON [`meta::RunMeta`]), then RECORDS frames
//! (zstd-compressed columnar [`block::RecordBlock`]s, in seq order, plus
//! completions of earlier placeholders), and a complete log ends with END
//! (JSON [`meta::EndInfo`]). A zero frame magic marks the end of the data,
//! so the preallocated tail of a log whose writer died is not corruption.
//!
//! - [`writer::LogWriter`] appends through a memory map with reserved blocks.
//! - [`reader::LogReader`] maps a log, scans and decodes it.
//! - [`verify::verify`] checks the guarantees; [`info::info`] summarises.

pub mod block;
pub mod error;
pub mod format;
pub mod info;
pub mod meta;
pub mod reader;
pub mod verify;
pub mod writer;

pub use block::{Completion, RecordBlock};
pub use error::LogError;
pub use format::{FrameKind, FORMAT_VERSION};
pub use info::{info, info_path, InfoReport, ProbeSummary};
pub use meta::{EndInfo, ExitInfo, ProbeInfo, RunMeta};
pub use reader::{FrameInfo, LogReader};
pub use verify::{verify, verify_path, VerifyReport, Violation};
pub use writer::{LogStats, LogWriter};
