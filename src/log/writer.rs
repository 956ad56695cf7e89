//! [`LogWriter`]: appends frames to a `.probe` log.
//!
//! The file is grown ahead in chunks (1 MiB, doubling up to 256 MiB) whose
//! disk blocks are reserved with `posix_fallocate` *before* frames are
//! written into them, so a full disk shows up as [`LogError::DiskFull`] from
//! `append`/`flush` and never in the middle of a frame. Frames are written
//! with `pwrite` (they were copied into a memory map of the file until
//! 2026-12: every page then cost a page fault, about half of the
//! recorder's page faults when arrays stream in). A reserve
//! at the end of the grown area is never used by record frames, so the END
//! frame can still be written after a grow failed. On a nearly full disk a
//! chunk that does not fit shrinks to half of the space still free (never
//! below what the next frame needs), so every frame that fits is kept and
//! the rest of the disk is left to the program.
//!
//! The output is created before the program runs ([`PreparedLog`]): a bad
//! path, an existing file without `--force`, or a disk without room for
//! the header, the metadata and the END reserve is an error before anything
//! is recorded. With `--force` the log is written under a temporary name
//! beside the target and renamed over it once the run has started, so a
//! run refused at its start leaves the old log untouched, and a symlink at
//! the target is replaced, never followed.
//!
//! Crash tolerance: a frame's payload and header bytes 4.. are written
//! before its 4 magic bytes, so a writer killed in the middle of a frame
//! leaves a zero magic there, which readers take as the end of the data.
//! Everything before it stays readable.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use std::os::unix::fs::FileExt;

use crate::log::block::{BlockCodec, RecordBlock};
use crate::log::format::{
    encode_file_header, encode_frame_header, FrameHeader, FrameKind, CODEC_NONE, CODEC_ZSTD,
    FILE_HEADER_LEN, FRAME_HEADER_LEN, MAX_FRAME_RAW,
};
use crate::log::meta::{EndInfo, ExitInfo, RunMeta};
use crate::log::LogError;
use crate::model::{CaptureRecord, Status, Value};

/// A RECORDS frame is written when the block reaches this many records
/// (bounds the writer's memory and a reader's per-frame allocation).
pub const BLOCK_RECORDS: usize = 65_536;

/// ... or when its strings/bytes/reprs reach this many bytes.
pub const BLOCK_HEAVY_BYTES: usize = 1 << 20;

/// zstd level for RECORDS payloads: level 3 is zstd's default, fast enough
/// for >10 M records/s and within a few % of much slower levels on columns.
pub const ZSTD_LEVEL: i32 = 3;

/// zstd level for frames whose bytes are mostly large values (arrays,
/// long strings): dense sample data compresses little at any level, and at
/// level 3 compressing it cost the recorder more time than the traced
/// program spent computing it (8 KiB arrays: 1.8 s vs 1.2 s at level 1 for
/// 10,000 of them, with the same log size within 2%).
pub const ZSTD_LEVEL_HEAVY: i32 = 1;

/// zstd level for a value-heavy frame whose sample (below) did not
/// compress: a negative level finds repeats but leaves the literals as
/// they are (no entropy coding), ~10x faster than level 1 on dense
/// float data, which level 1 shrinks by only ~4 % (random float64 at
/// ~440 MB/s: 37 ms of the recorder's CPU per 16 MB).
pub const ZSTD_LEVEL_STORE: i32 = -1;

/// A value-heavy frame is first sampled: this many bytes from its middle
/// are compressed at [`ZSTD_LEVEL_HEAVY`], and unless that saves at least
/// 1/[`SAMPLE_MIN_GAIN`] of them the frame goes at [`ZSTD_LEVEL_STORE`].
const SAMPLE_BYTES: usize = 64 << 10;
const SAMPLE_MIN_GAIN: usize = 12;

/// The first growth step: small, since preallocating and mapping it is paid
/// at every start (8 MiB cost ~1 ms of wall time and ~4 ms of CPU per run)
/// and most of it is trimmed again at the end of a short run.
const FIRST_CHUNK: u64 = 1 << 20;
const MAX_CHUNK: u64 = 256 << 20;
const PAGE: u64 = 4096;

/// Frames are handed to the kernel's writeback in steps of this many
/// bytes (see `LogWriter::start_writeback`).
const WRITEBACK_STEP: u64 = 1 << 20;

/// Progress numbers of a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct LogStats {
    /// Records accepted by `append` so far.
    pub records: u64,
    /// Records already written in frames (the rest are in the current block).
    pub records_in_frames: u64,
    /// Frames written (META, RECORDS, END).
    pub frames: u64,
    /// Bytes of the log that hold data (the file may be longer while
    /// recording: the preallocated tail).
    pub file_bytes: u64,
    /// Uncompressed size of all frame payloads written (for compression ratios).
    pub raw_bytes: u64,
}

/// An output file created and checked before the program starts; turned
/// into a [`LogWriter`] by [`LogWriter::start`] once the metadata is known.
/// Dropped unused (the run was refused), it removes the file it created.
#[derive(Debug)]
pub struct PreparedLog {
    /// The path the log will have.
    target: PathBuf,
    /// Where it is written: `target`, or a temporary name beside it (`--force`).
    path: PathBuf,
    file: Option<File>,
    /// Bytes reserved so far (the file's length).
    cap: u64,
    /// `path` is temporary and is renamed over `target` at the start.
    replace: bool,
}

/// Bytes the log needs at the very least besides its records: the file
/// header, the META frame (estimated from the number of probes) and the END
/// reserve. Reserved when the output is prepared.
fn minimum_bytes(n_probes: usize) -> u64 {
    let n = n_probes as u64;
    let meta = FRAME_HEADER_LEN as u64 + 4096 + 512 * n;
    round_up(FILE_HEADER_LEN as u64 + meta + end_reserve(n_probes), PAGE)
}

/// Bytes kept at the end of the grown file for the END frame: fixed fields plus
/// up to 21 bytes of JSON per probe count.
fn end_reserve(n_probes: usize) -> u64 {
    round_up(64 * 1024 + 24 * n_probes as u64, PAGE)
}

/// Bytes free for an unprivileged writer on the filesystem holding `file`.
fn free_bytes(file: &File) -> Option<u64> {
    // SAFETY: fstatvfs fills the zeroed struct for a descriptor we own.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::fstatvfs(file.as_raw_fd(), &mut st) != 0 {
            return None;
        }
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
}

/// Reserves disk blocks for `[from, to)` of `file` (posix_fallocate).
/// `Ok(false)`: the disk is full; the file's length is left at `from`.
fn reserve(file: &File, path: &Path, from: u64, to: u64) -> Result<bool, LogError> {
    if to <= from {
        return Ok(true);
    }
    let (Ok(off), Ok(len)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(to - from),
    ) else {
        return Ok(false);
    };
    // SAFETY: plain syscall on a file descriptor we own and keep open for
    // the call's duration; no memory is passed.
    let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), off, len) };
    match r {
        0 => Ok(true),
        libc::ENOSPC | libc::EDQUOT | libc::EFBIG => {
            // A failed allocation may have extended the file part of the
            // way (an emulated fallocate writes zeros): back to where it was.
            let _ = file.set_len(from);
            Ok(false)
        }
        libc::EOPNOTSUPP | libc::EINVAL => {
            // The filesystem cannot reserve blocks (glibc normally
            // emulates this; other libcs may not): fall back to a plain
            // size change. A full disk may then still surface as SIGBUS,
            // which we cannot prevent on such filesystems.
            file.set_len(to)
                .map_err(|e| LogError::io("growing", path, e))?;
            Ok(true)
        }
        e => Err(LogError::io(
            "reserving disk space for",
            path,
            std::io::Error::from_raw_os_error(e),
        )),
    }
}

impl PreparedLog {
    /// Checks `target` and creates the file that will hold the log, with
    /// room reserved for the header, the metadata of `n_probes` probes and
    /// the END frame. Refuses a directory (even with `force`), a missing
    /// directory, anything but a regular file or a symlink at `target`, an
    /// existing `target` without `force`, and a disk without that room.
    pub fn create(target: &Path, force: bool, n_probes: usize) -> Result<PreparedLog, LogError> {
        let bad = |reason: String| LogError::BadOutput {
            path: target.to_path_buf(),
            reason,
        };
        let name = target
            .file_name()
            .ok_or_else(|| bad("it names no file".into()))?;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(bad(format!("{} is not a directory", dir.display()))),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(bad(format!("directory {} does not exist", dir.display())))
            }
            Err(e) => {
                return Err(bad(format!(
                    "cannot reach directory {}: {e}",
                    dir.display()
                )))
            }
        }
        let existing = std::fs::symlink_metadata(target).ok();
        if let Some(m) = &existing {
            let ft = m.file_type();
            if ft.is_dir() {
                return Err(bad("it is a directory".into()));
            }
            if !force {
                return Err(LogError::OutputExists {
                    path: target.to_path_buf(),
                });
            }
            if !ft.is_file() && !ft.is_symlink() {
                return Err(bad("it exists and is not a regular file".into()));
            }
        }
        // Without --force the name itself is taken at once (O_EXCL, which
        // never follows a symlink); with it, a temporary name beside it.
        let replace = existing.is_some();
        let path = if replace {
            let mut tmp = std::ffi::OsString::from(".");
            tmp.push(name);
            tmp.push(format!(".{}.tmp", std::process::id()));
            dir.join(tmp)
        } else {
            target.to_path_buf()
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists if !replace => LogError::OutputExists {
                    path: target.to_path_buf(),
                },
                _ => bad(format!("cannot create {}: {e}", path.display())),
            })?;
        let mut p = PreparedLog {
            target: target.to_path_buf(),
            path,
            file: Some(file),
            cap: 0,
            replace,
        };
        let want = minimum_bytes(n_probes);
        let file = p
            .file
            .as_ref()
            .ok_or_else(|| bad("internal: no file".into()))?;
        if !reserve(file, &p.path, 0, want)? {
            let free = free_bytes(file).unwrap_or(0);
            return Err(bad(format!(
                "not enough free space: the log needs {want} bytes to start, {free} bytes are free on that filesystem"
            )));
        }
        p.cap = want;
        Ok(p)
    }

    /// The path the log will have.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for PreparedLog {
    /// Never started: the file created for the log goes away again.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Appends records to a new `.probe` log. See the module docs.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    /// Frames can be written (the file was grown at least once, and the
    /// log is not closed).
    open: bool,
    /// Current file length: every byte below it has disk blocks reserved.
    cap: u64,
    /// Bytes of data written (the true length of the log).
    pos: u64,
    /// Size of the next growth step.
    chunk: u64,
    /// The file's bytes before this offset were handed to the kernel's
    /// writeback (see `start_writeback`).
    writeback_from: u64,
    /// The thread that hands them over, and its queue of ranges.
    writeback: Option<Writeback>,
    /// Bytes at the end of the grown file kept for the END frame.
    reserve: u64,
    block: RecordBlock,
    codec: BlockCodec,
    raw: Vec<u8>,
    comp: Vec<u8>,
    zstd: zstd::bulk::Compressor<'static>,
    /// The compressor's current level.
    level: i32,
    /// Compresses a heavy frame's sample (level [`ZSTD_LEVEL_HEAVY`]).
    probe_zstd: Option<zstd::bulk::Compressor<'static>>,
    /// Seq the next `append` must carry.
    next_seq: u64,
    /// Records already in frames.
    written: u64,
    /// Placeholders not completed yet (their seqs).
    outstanding: HashSet<u64>,
    /// Records in frames, per probe.
    per_probe: Vec<u64>,
    placeholders: u64,
    completions: u64,
    frames: u64,
    raw_bytes: u64,
    /// Set after a write failed: the writer accepts nothing more but `finish`.
    failed: Option<Failure>,
    /// Captures known lost before they reached the writer (see [`LogWriter::count_lost`]).
    lost_elsewhere: u64,
    /// Values known lost (see [`LogWriter::count_lost_values`]).
    lost_values: u64,
    /// For the end marker: children the program ran untraced.
    untraced_children: u64,
}

/// The thread that hands written ranges of the log to the kernel's
/// writeback (`LogWriter::start_writeback`).
struct Writeback {
    tx: std::sync::mpsc::Sender<(u64, u64)>,
    thread: std::thread::JoinHandle<()>,
}

impl Writeback {
    /// None where it cannot start (no thread, no second descriptor) or
    /// means nothing (not Linux): the fsync at the end does it all then.
    fn start(file: &File) -> Option<Writeback> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let file = file.try_clone().ok()?;
        let (tx, rx) = std::sync::mpsc::channel::<(u64, u64)>();
        let thread = std::thread::Builder::new()
            .name("probe-writeback".into())
            .spawn(move || {
                for (from, to) in rx {
                    #[cfg(target_os = "linux")]
                    // SAFETY: sync_file_range only reads its arguments; the
                    // descriptor is a duplicate of the open log file.
                    unsafe {
                        libc::sync_file_range(
                            file.as_raw_fd(),
                            from as libc::off64_t,
                            (to - from) as libc::off64_t,
                            libc::SYNC_FILE_RANGE_WRITE,
                        );
                    }
                    #[cfg(not(target_os = "linux"))]
                    let _ = (&file, from, to);
                }
            })
            .ok()?;
        Some(Writeback { tx, thread })
    }

    /// Waits for the ranges queued so far.
    fn finish(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

#[derive(Debug, Clone)]
enum Failure {
    DiskFull(u64),
    Other(String),
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

impl LogWriter {
    /// Create the log at `path` and write its file header and META frame.
    /// Refuses an existing file unless `force` (see [`PreparedLog::create`]).
    pub fn create(path: &Path, force: bool, meta: &RunMeta) -> Result<LogWriter, LogError> {
        LogWriter::start(PreparedLog::create(path, force, meta.probes.len())?, meta)
    }

    /// Write the file header and META frame into a prepared output; under
    /// `--force`, the log then replaces the old file (or link) at its target.
    pub fn start(mut prepared: PreparedLog, meta: &RunMeta) -> Result<LogWriter, LogError> {
        let Some(file) = prepared.file.take() else {
            return Err(LogError::Invalid(
                "the prepared output was already used".into(),
            ));
        };
        let target = prepared.target.clone();
        let path = prepared.path.clone();
        let cleanup = |e: LogError| {
            let _ = std::fs::remove_file(&path);
            e
        };
        let zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| cleanup(LogError::io("starting zstd for", &target, e)))?;
        let n_probes = meta.probes.len();
        let reserve = end_reserve(n_probes);
        let mut w = LogWriter {
            path: target.clone(),
            file,
            open: false,
            cap: prepared.cap,
            pos: 0,
            chunk: FIRST_CHUNK,
            writeback_from: 0,
            writeback: None,
            reserve,
            block: RecordBlock::new(0),
            codec: BlockCodec::new(),
            raw: Vec::new(),
            comp: Vec::new(),
            zstd,
            level: ZSTD_LEVEL,
            probe_zstd: None,
            next_seq: 0,
            written: 0,
            outstanding: HashSet::new(),
            per_probe: vec![0; n_probes],
            placeholders: 0,
            completions: 0,
            frames: 0,
            raw_bytes: 0,
            failed: None,
            lost_elsewhere: 0,
            lost_values: 0,
            untraced_children: 0,
        };
        let json = serde_json::to_vec(meta)
            .map_err(|e| LogError::Invalid(format!("cannot serialise run metadata: {e}")));
        let written = json.and_then(|json| {
            w.ensure(FILE_HEADER_LEN as u64, false)?;
            w.put(0, &encode_file_header())?;
            w.pos = FILE_HEADER_LEN as u64;
            w.raw.clear();
            w.write_frame(
                FrameKind::Meta,
                CODEC_NONE,
                &json,
                json.len(),
                0,
                0,
                0,
                false,
            )
        });
        if let Err(e) = written {
            w.open = false;
            return Err(cleanup(e));
        }
        if prepared.replace {
            // The run has started: the new log takes the target's name (a
            // symlink there is replaced, not followed).
            std::fs::rename(&path, &target).map_err(|e| {
                w.open = false;
                cleanup(LogError::io(
                    "renaming the new log into place at",
                    &target,
                    e,
                ))
            })?;
        }
        Ok(w)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Progress numbers.
    pub fn stats(&self) -> LogStats {
        LogStats {
            records: self.next_seq,
            records_in_frames: self.written,
            frames: self.frames,
            file_bytes: self.pos,
            raw_bytes: self.raw_bytes,
        }
    }

    fn failed_error(&self) -> Option<LogError> {
        self.failed.as_ref().map(|f| match f {
            Failure::DiskFull(len) => LogError::DiskFull {
                path: self.path.clone(),
                len: *len,
            },
            Failure::Other(m) => {
                LogError::Invalid(format!("the writer stopped after an earlier error: {m}"))
            }
        })
    }

    /// Append the next record. Its seq must be the next expected one (a
    /// guard against bugs upstream); `Status::Pending` makes it a placeholder
    /// to be completed later with [`LogWriter::complete`].
    #[inline]
    pub fn append(&mut self, rec: &CaptureRecord) -> Result<(), LogError> {
        self.admit(rec)?;
        self.block.push(rec);
        self.pushed()
    }

    /// [`LogWriter::append`] taking the record by value, so that a large
    /// value (an array) is moved into the frame buffer, not copied.
    #[inline]
    pub fn append_owned(&mut self, rec: CaptureRecord) -> Result<(), LogError> {
        self.admit(&rec)?;
        self.block.push_owned(rec);
        self.pushed()
    }

    /// The checks before a record goes into the block.
    #[inline]
    fn admit(&mut self, rec: &CaptureRecord) -> Result<(), LogError> {
        if rec.seq != self.next_seq {
            return Err(LogError::Invalid(format!(
                "record seq {} out of order: expected {}",
                rec.seq, self.next_seq
            )));
        }
        if rec.probe as usize >= self.per_probe.len() {
            return Err(LogError::Invalid(format!(
                "record seq {} names probe {}, the probe table has {}",
                rec.seq,
                rec.probe,
                self.per_probe.len()
            )));
        }
        if let Some(e) = self.failed_error() {
            // Counted, so that the end marker can say how many were lost.
            self.next_seq += 1;
            return Err(e);
        }
        if rec.status == Status::Pending {
            self.outstanding.insert(rec.seq);
        }
        Ok(())
    }

    #[inline]
    fn pushed(&mut self) -> Result<(), LogError> {
        self.next_seq += 1;
        if self.block.len() >= BLOCK_RECORDS || self.block.heavy_bytes >= BLOCK_HEAVY_BYTES {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Counts `n` captures that were made but never reached the writer (a
    /// message cut off when the program died): the end marker's
    /// `lost_records` includes them.
    pub fn count_lost(&mut self, n: u64) {
        self.lost_elsewhere = self.lost_elsewhere.saturating_add(n);
    }

    /// Counts `n` captures whose values never reached the writer (their
    /// completions were cut off): the end marker's `lost_values`.
    pub fn count_lost_values(&mut self, n: u64) {
        self.lost_values = self.lost_values.saturating_add(n);
    }

    /// Sets the end marker's count of child processes that ran untraced.
    pub fn set_untraced_children(&mut self, n: u64) {
        self.untraced_children = n;
    }

    /// Complete the placeholder `seq`. If it is still in the unwritten
    /// block it is patched in place; otherwise a completion entry goes into
    /// the next frame.
    pub fn complete(&mut self, seq: u64, status: Status, value: &Value) -> Result<(), LogError> {
        if status == Status::Pending {
            return Err(LogError::Invalid(format!(
                "completion of seq {seq} with status pending"
            )));
        }
        if let Some(e) = self.failed_error() {
            // The placeholder stays outstanding: `finish` completes it
            // `incomplete` and counts its value as lost.
            return Err(e);
        }
        if !self.outstanding.remove(&seq) {
            return Err(LogError::Invalid(format!(
                "completion for seq {seq}, which is not a pending placeholder"
            )));
        }
        if seq >= self.block.seq_start {
            self.block
                .set((seq - self.block.seq_start) as usize, status, value);
        } else {
            self.block.push_completion(seq, status, value);
        }
        if self.block.heavy_bytes >= BLOCK_HEAVY_BYTES {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Write the current block (records and completions) as a frame now.
    /// Does nothing when there is nothing to write.
    pub fn flush_frame(&mut self) -> Result<(), LogError> {
        if let Some(e) = self.failed_error() {
            return Err(e);
        }
        if self.block.is_empty() && self.block.completions.is_empty() {
            return Ok(());
        }
        match self.write_block() {
            Ok(()) => Ok(()),
            Err(e) => {
                // The block's completions of placeholders in earlier frames
                // never reached the file: those placeholders are open again
                // (`finish` completes them `incomplete`).
                for c in &self.block.completions {
                    self.outstanding.insert(c.seq);
                }
                self.failed = Some(match &e {
                    LogError::DiskFull { len, .. } => Failure::DiskFull(*len),
                    other => Failure::Other(other.to_string()),
                });
                Err(e)
            }
        }
    }

    fn write_block(&mut self) -> Result<(), LogError> {
        self.codec
            .encode(&self.block, &mut self.raw)
            .map_err(|e| LogError::Invalid(format!("cannot encode record block: {e}")))?;
        if self.raw.len() > MAX_FRAME_RAW as usize {
            return Err(LogError::Invalid(format!(
                "record block of {} bytes exceeds the format limit of {MAX_FRAME_RAW} bytes (a value is too large)",
                self.raw.len()
            )));
        }
        // Small frames compress fast at any level; only big, value-heavy
        // ones switch.
        let level = if self.raw.len() >= 1 << 18 && self.block.heavy_bytes * 2 > self.raw.len() {
            if self.sample_compresses() {
                ZSTD_LEVEL_HEAVY
            } else {
                ZSTD_LEVEL_STORE
            }
        } else {
            ZSTD_LEVEL
        };
        if level != self.level {
            self.zstd
                .set_compression_level(level)
                .map_err(|e| LogError::io("setting the compression level for", &self.path, e))?;
            self.level = level;
        }
        self.comp.clear();
        self.comp
            .reserve(zstd::zstd_safe::compress_bound(self.raw.len()));
        self.zstd
            .compress_to_buffer(&self.raw, &mut self.comp)
            .map_err(|e| LogError::io("compressing a block for", &self.path, e))?;
        let comp = std::mem::take(&mut self.comp);
        let raw_len = self.raw.len();
        let res = self.write_frame(
            FrameKind::Records,
            CODEC_ZSTD,
            &comp,
            raw_len,
            self.block.seq_start,
            self.block.seq_end(),
            self.block.completions.len() as u32,
            false,
        );
        self.comp = comp;
        res?;
        self.start_writeback();
        for &p in &self.block.probe {
            self.per_probe[p as usize] += 1;
        }
        self.placeholders += self.block.placeholders();
        self.completions += self.block.completions.len() as u64;
        self.written = self.block.seq_end();
        let next = self.block.seq_end();
        self.block.clear(next);
        Ok(())
    }

    /// Whether the middle [`SAMPLE_BYTES`] of the encoded block (at least
    /// 256 KiB, mostly large values) shrink enough at
    /// [`ZSTD_LEVEL_HEAVY`] to be worth compressing the whole block at that
    /// level (~1/64 of its cost).
    fn sample_compresses(&mut self) -> bool {
        let at = (self.raw.len() - SAMPLE_BYTES) / 2;
        let sample = &self.raw[at..at + SAMPLE_BYTES];
        if self.probe_zstd.is_none() {
            match zstd::bulk::Compressor::new(ZSTD_LEVEL_HEAVY) {
                Ok(z) => self.probe_zstd = Some(z),
                Err(_) => return true,
            }
        }
        let Some(z) = self.probe_zstd.as_mut() else {
            return true;
        };
        self.comp.clear();
        self.comp
            .reserve(zstd::zstd_safe::compress_bound(SAMPLE_BYTES));
        match z.compress_to_buffer(sample, &mut self.comp) {
            Ok(n) => n + SAMPLE_BYTES / SAMPLE_MIN_GAIN <= SAMPLE_BYTES,
            Err(_) => true,
        }
    }

    /// Starts writing the frames written so far to the disk, in the
    /// background, once [`WRITEBACK_STEP`] bytes have piled up: the
    /// `fsync` that closes the log then has only the last ones to wait for
    /// (15 MB of arrays: the fsync took 15–20 ms after the program had
    /// ended). Only whole pages before the frame being filled. A thread of
    /// its own asks for it (`sync_file_range` can block ~1 ms per MiB while
    /// ext4 allocates, time the recorder needs for the pipe); a hint only —
    /// errors are ignored, the closing fsync decides.
    fn start_writeback(&mut self) {
        let upto = self.pos / PAGE * PAGE;
        if upto < self.writeback_from + WRITEBACK_STEP {
            return;
        }
        if self.writeback.is_none() {
            self.writeback = Writeback::start(&self.file);
        }
        if let Some(w) = &self.writeback {
            let _ = w.tx.send((self.writeback_from, upto));
        }
        self.writeback_from = upto;
    }

    /// Make room for `need` more bytes at `pos`. Record frames may not use
    /// the reserve; the END frame may. The file grows by the next chunk; on
    /// a disk without room for it, by half of what is free, or at least by
    /// what `need` takes (see the module docs).
    fn ensure(&mut self, need: u64, use_reserve: bool) -> Result<(), LogError> {
        let keep = if use_reserve { 0 } else { self.reserve };
        let limit = self.cap.saturating_sub(keep);
        if self.open && self.pos + need <= limit {
            return Ok(());
        }
        let minimum = round_up(self.pos + need + keep, PAGE).max(self.cap);
        let wanted = round_up((self.cap + self.chunk).max(minimum), PAGE);
        match self.grow(wanted) {
            Ok(()) => {
                self.chunk = (self.chunk * 2).min(MAX_CHUNK);
                return Ok(());
            }
            Err(LogError::DiskFull { .. }) if wanted > minimum => {}
            Err(e) => return Err(e),
        }
        let half_free = free_bytes(&self.file).unwrap_or(0) / 2 / PAGE * PAGE;
        let smaller = (self.cap + half_free).clamp(minimum, wanted);
        if smaller < wanted && smaller > minimum && self.grow(smaller).is_ok() {
            return Ok(());
        }
        self.grow(minimum)
    }

    fn grow(&mut self, new_cap: u64) -> Result<(), LogError> {
        let disk_full = || LogError::DiskFull {
            path: self.path.clone(),
            len: new_cap,
        };
        if new_cap > self.cap && !reserve(&self.file, &self.path, self.cap, new_cap)? {
            return Err(disk_full());
        }
        if usize::try_from(new_cap).is_err() {
            return Err(disk_full());
        }
        self.open = true;
        self.cap = new_cap;
        Ok(())
    }

    /// Writes bytes into the file at `at` (space already ensured: its
    /// blocks are reserved).
    fn put(&mut self, at: u64, bytes: &[u8]) -> Result<(), LogError> {
        self.file
            .write_all_at(bytes, at)
            .map_err(|e| LogError::io("writing", &self.path, e))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_frame(
        &mut self,
        kind: FrameKind,
        codec: u8,
        payload: &[u8],
        raw_len: usize,
        seq_start: u64,
        seq_end: u64,
        completions: u32,
        use_reserve: bool,
    ) -> Result<(), LogError> {
        let (Ok(stored_len), Ok(raw_len32)) =
            (u32::try_from(payload.len()), u32::try_from(raw_len))
        else {
            return Err(LogError::Invalid("frame payload over 4 GiB".to_string()));
        };
        let total = (FRAME_HEADER_LEN + payload.len()) as u64;
        self.ensure(total, use_reserve)?;
        let header = encode_frame_header(&FrameHeader {
            kind,
            codec,
            stored_len,
            raw_len: raw_len32,
            seq_start,
            seq_end,
            completions,
            payload_crc: crc32c::crc32c(payload),
        });
        let at = self.pos;
        // Payload, then header without magic, then magic: see module docs.
        self.put(at + FRAME_HEADER_LEN as u64, payload)?;
        self.put(at + 4, &header[4..])?;
        self.put(at, &header[..4])?;
        self.pos += total;
        self.frames += 1;
        self.raw_bytes += raw_len as u64;
        Ok(())
    }

    /// Close the log: complete still-pending placeholders as `incomplete`,
    /// write the last block, the END frame (totals, per-probe counts, how
    /// the program ended), trim the file to its true length and
    /// fsync. Returns the END contents written.
    ///
    /// After an earlier failure (disk full), records not yet in frames are
    /// dropped, the END frame is still written (from the reserve) with
    /// totals of what *is* in the log, and `exit.detail` says what was lost.
    pub fn finish(self, end_exit: ExitInfo, duration_ns: u64) -> Result<EndInfo, LogError> {
        self.finish_with_stats(end_exit, duration_ns)
            .map(|(end, _)| end)
    }

    /// [`LogWriter::finish`], also returning the writer's final
    /// [`LogStats`]: the stats read before `finish` miss the last block and
    /// the END frame, which for a short run are most of the log.
    pub fn finish_with_stats(
        mut self,
        end_exit: ExitInfo,
        duration_ns: u64,
    ) -> Result<(EndInfo, LogStats), LogError> {
        let mut exit = end_exit;
        let mut lost_records = 0;
        if self.failed.is_none() {
            let mut pending: Vec<u64> = self.outstanding.iter().copied().collect();
            pending.sort_unstable();
            for seq in pending {
                self.complete(seq, Status::Incomplete, &Value::Absent)?;
            }
            // An error here is recorded in `self.failed` and handled below.
            let _ = self.flush_frame();
        }
        if self.failed.is_some() {
            let n = self.seal_dangling_placeholders();
            self.lost_values = self.lost_values.saturating_add(n);
        }
        if let Some(f) = &self.failed {
            let lost = self.next_seq - self.written;
            lost_records = lost;
            let what = match f {
                Failure::DiskFull(len) => format!("disk full while growing the log to {len} bytes"),
                Failure::Other(m) => m.clone(),
            };
            let note = format!(
                "log writer failed ({what}); records {}..{} ({lost}) not written",
                self.written, self.next_seq
            );
            exit.detail = Some(match exit.detail.take() {
                Some(d) => format!("{d}; {note}"),
                None => note,
            });
        }
        let end = EndInfo {
            total_records: self.written,
            per_probe: self.per_probe.clone(),
            placeholders: self.placeholders,
            completions: self.completions,
            exit,
            duration_ns,
            lost_records: lost_records.saturating_add(self.lost_elsewhere),
            lost_values: self.lost_values,
            untraced_children: self.untraced_children,
        };
        let json = serde_json::to_vec(&end)
            .map_err(|e| LogError::Invalid(format!("cannot serialise end marker: {e}")))?;
        self.write_frame(
            FrameKind::End,
            CODEC_NONE,
            &json,
            json.len(),
            self.written,
            self.written,
            0,
            true,
        )?;
        self.close(true)?;
        let stats = self.stats();
        Ok((end, stats))
    }

    /// After a failure: placeholders already in frames whose completions can
    /// no longer be written the usual way are completed `incomplete` in one
    /// small frame from the reserve (if it fits with room left for END), so
    /// that the log holds no dangling placeholder. Their values are lost:
    /// returns how many, for the end marker's `lost_values`.
    fn seal_dangling_placeholders(&mut self) -> u64 {
        let mut dangling: Vec<u64> = self
            .outstanding
            .iter()
            .copied()
            .filter(|&s| s < self.written)
            .collect();
        if dangling.is_empty() {
            return 0;
        }
        dangling.sort_unstable();
        let mut block = RecordBlock::new(self.written);
        for &seq in &dangling {
            block.push_completion(seq, Status::Incomplete, &Value::Absent);
        }
        let mut raw = Vec::new();
        if self.codec.encode(&block, &mut raw).is_err() {
            return 0;
        }
        let Ok(comp) = zstd::bulk::compress(&raw, ZSTD_LEVEL) else {
            return 0;
        };
        let end_room = 4096 + 24 * self.per_probe.len() as u64;
        let need = (FRAME_HEADER_LEN + comp.len()) as u64;
        if !self.open || self.pos + need + end_room > self.cap {
            return 0;
        }
        let written = self.write_frame(
            FrameKind::Records,
            CODEC_ZSTD,
            &comp,
            raw.len(),
            self.written,
            self.written,
            dangling.len() as u32,
            true,
        );
        if written.is_err() {
            return 0;
        }
        self.completions += dangling.len() as u64;
        for seq in &dangling {
            self.outstanding.remove(seq);
        }
        dangling.len() as u64
    }

    /// Trim to the true length and optionally fsync.
    fn close(&mut self, sync: bool) -> Result<(), LogError> {
        if let Some(w) = self.writeback.take() {
            w.finish();
        }
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        self.file
            .set_len(self.pos)
            .map_err(|e| LogError::io("trimming", &self.path, e))?;
        if sync {
            self.file
                .sync_all()
                .map_err(|e| LogError::io("syncing", &self.path, e))?;
        }
        Ok(())
    }
}

impl Drop for LogWriter {
    /// Dropped without `finish` (the recorder is failing): no END frame and
    /// no last block, but trim the preallocated tail so the file holds
    /// exactly its complete frames. Errors cannot be reported here; the log
    /// is readable either way (a zero tail is the end of the data).
    fn drop(&mut self) {
        let _ = self.close(false);
    }
}
