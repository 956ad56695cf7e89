//! The `.probe` log: an append-only, crash-tolerant, compressed file of
//! capture records (SPEC §5), the one layer every command reads it through,
//! and the two tools that judge and summarise it (`verify`, `info`).
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
//! Writing: [`writer::LogWriter`] appends through a memory map with
//! reserved blocks.
//!
//! Reading — one layer, so that every bound is enforced once and tested
//! once, and `verify`, `info`, `replay`, `diff` and `export` all consume it:
//! - [`limits`]: the memory budget and the work bound (records per byte);
//! - [`reader::LogReader`]: opens the file (regular files only), accepts
//!   or reports every frame with its offset, decompresses and decodes
//!   blocks under those bounds;
//! - [`coverage`]: which frames are read, in seq order, and what is
//!   missing, repeated or out of place;
//! - [`walk`]: the pass over the records, placeholders joined with their
//!   completions, sequential or parallel, ending in one [`walk::ReadReport`];
//! - [`select`]: `--probe` selection.
//!
//! On top: [`verify::verify`] checks the guarantees; [`info::info`] summarises.

pub mod block;
pub mod coverage;
pub mod error;
pub mod format;
pub mod info;
pub mod limits;
pub mod meta;
pub mod reader;
pub mod select;
pub mod verify;
pub mod walk;
pub mod writer;

pub use block::{Completion, RecordBlock};
pub use coverage::{Plan, Problem};
pub use error::{LogError, ViolationKind};
pub use format::{FrameKind, FORMAT_VERSION};
pub use info::{info, info_path, InfoReport, ProbeSummary};
pub use limits::{Budget, Limits};
pub use meta::{EndInfo, ExitInfo, ProbeInfo, RunMeta};
pub use reader::{FrameInfo, LogReader, ReadOptions};
pub use select::{NoSuchProbe, Selection};
pub use verify::{verify, verify_path, VerifyReport, Violation};
pub use walk::{Completions, ReadReport, Walk};
pub use writer::{LogStats, LogWriter};
