//! [`LogReader`]: opens a `.probe` log, finds its frames, and decodes them —
//! the one place where the bytes of a log are trusted or not.
//!
//! Opening refuses what is not a regular file (a FIFO would block every
//! read), maps the file, and scans every frame header and payload checksum
//! once (cheap: no decompression), so that the frames, the damage and the
//! end marker are known up front:
//!
//! - every frame is **accepted** ([`FrameInfo`], with its byte offset) or
//!   **reported** (a [`LogError`] naming the offset): bad magic, header
//!   checksum, a header field breaking a rule of the format (reserved
//!   fields, flags, counts, seq fields), a frame running past the end of
//!   the file, a payload checksum, a frame claiming more records than its
//!   size makes plausible ([`crate::log::limits`]);
//! - damage does not stop the scan: after a bad header it searches for the
//!   next valid frame header (magic + header checksum) and goes on — only
//!   through the file's data, never its holes, so a huge sparse file costs
//!   what its data costs;
//! - payloads decompress into a buffer of exactly the size the header
//!   declares (itself bounded, and charged to the memory budget first), and
//!   a zstd frame that says or produces anything else is refused;
//! - blocks decode through [`crate::log::block::BlockCodec`], which checks
//!   every count and length against the bytes present, the probe table and
//!   the budget.
//!
//! What a reader does with the accepted frames — seq coverage, placeholders
//! joined with their completions, the order blocks come in — is
//! [`crate::log::walk`]'s job.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use crate::log::block::{BlockCodec, Completion, DecodeCtx, DecodeError, RecordBlock};
use crate::log::coverage::Plan;
use crate::log::format::{
    decode_file_header, file_header_flags, header_rule_violation, parse_frame_header, FrameHeader,
    FrameKind, HeaderParse, CODEC_NONE, CODEC_ZSTD, FILE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_MAGIC,
    MAX_BLOCK_RECORDS, MAX_FRAME_RAW,
};
use crate::log::limits::{Budget, Charge, Limits};
use crate::log::meta::{EndInfo, RunMeta};
use crate::log::LogError;
use crate::model::Core;

/// A frame found by the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Byte offset of the frame header.
    pub offset: u64,
    /// Its (checksummed) header.
    pub header: FrameHeader,
    /// False when the payload checksum does not match (the frame is listed
    /// so that its seq range is known, but its payload must not be used).
    pub intact: bool,
}

impl FrameInfo {
    /// Offset one past the frame's last byte.
    pub fn end_offset(&self) -> u64 {
        self.offset + FRAME_HEADER_LEN as u64 + u64::from(self.header.stored_len)
    }

    /// Records the frame covers (RECORDS frames; 0 for the others).
    pub fn records(&self) -> u64 {
        if self.header.kind == FrameKind::Records {
            self.header.seq_end.saturating_sub(self.header.seq_start)
        } else {
            0
        }
    }

    /// True for an intact RECORDS frame.
    pub fn is_records(&self) -> bool {
        self.intact && self.header.kind == FrameKind::Records
    }
}

/// Where the bytes come from: a map, a vector, or nothing for an empty
/// file (a zero-length file cannot be mapped).
enum Bytes {
    Map(Mmap),
    Owned(Vec<u8>),
    Empty,
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
            Bytes::Empty => &[],
        }
    }
}

/// How to read: the limits and the memory account to charge (shared by the
/// logs one command reads, e.g. both traces of a diff).
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// What a reader may spend.
    pub limits: Limits,
    /// The memory account.
    pub budget: Arc<Budget>,
}

impl ReadOptions {
    /// Options from the environment ([`Limits::from_env`]) with a fresh account.
    pub fn from_env() -> ReadOptions {
        ReadOptions::new(Limits::from_env())
    }

    /// Options with `limits` and a fresh account of `limits.memory` bytes.
    pub fn new(limits: Limits) -> ReadOptions {
        ReadOptions {
            budget: Arc::new(Budget::new(limits.memory)),
            limits,
        }
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions::from_env()
    }
}

/// A `.probe` log opened for reading.
pub struct LogReader {
    path: PathBuf,
    data: Bytes,
    version: u16,
    meta: RunMeta,
    frames: Vec<FrameInfo>,
    issues: Vec<LogError>,
    end: Option<EndInfo>,
    end_offset: Option<u64>,
    data_end: u64,
    plan: Plan,
    opts: ReadOptions,
}

/// What the path is, in words, when it is not a regular file.
fn file_type_name(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// The file's data regions (holes excluded), from `SEEK_DATA`/`SEEK_HOLE`:
/// the resynchronising search skips holes, which read as zeros and so can
/// hold no frame. One region covering the file where the filesystem does
/// not say.
fn data_regions(file: &File, len: u64) -> Vec<(u64, u64)> {
    use std::os::unix::io::AsRawFd;
    let fd = file.as_raw_fd();
    let mut out = Vec::new();
    let mut at: i64 = 0;
    let Ok(end) = i64::try_from(len) else {
        return vec![(0, len)];
    };
    while at < end {
        // SAFETY: lseek on a descriptor we own; it reads no memory.
        let d = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if d < 0 {
            if out.is_empty() && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENXIO)
            {
                return vec![(0, len)]; // not supported here: all data
            }
            break; // ENXIO: no data after `at`
        }
        // SAFETY: as above.
        let h = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        let h = if h < 0 { end } else { h.min(end) };
        out.push((d as u64, h as u64));
        at = h;
        if out.len() > 1 << 16 {
            // A file in 65,536 pieces: stop asking, treat the rest as data.
            out.push((h as u64, len));
            break;
        }
    }
    out
}

/// Decompress a frame payload into a buffer of exactly the declared raw
/// length. `raw_len` was bounded by the scan; the buffer is charged to the
/// budget before it is allocated and allocated without aborting; a zstd
/// frame that declares another size, or produces more, is refused.
fn payload(
    data: &[u8],
    f: &FrameInfo,
    budget: Option<&Arc<Budget>>,
) -> Result<(Vec<u8>, Charge), LogError> {
    let start = (f.offset as usize).saturating_add(FRAME_HEADER_LEN);
    let stored = data
        .get(start..start.saturating_add(f.header.stored_len as usize))
        .ok_or_else(|| LogError::Truncated {
            offset: f.offset,
            detail: "frame payload lies beyond the end of the file".into(),
        })?;
    decompress(stored, &f.header, f.offset, budget)
}

/// The raw payload of the frame at `offset` whose stored bytes (checksum
/// already checked) are `stored`: what [`LogReader::payload`] does for a
/// mapped log, for readers that hold the bytes themselves (`view
/// --follow`). The same bounds: `raw_len` checked, the buffer charged to
/// the budget and allocated without aborting, a zstd frame that declares
/// another size or produces more refused.
pub fn decompress(
    stored: &[u8],
    header: &FrameHeader,
    offset: u64,
    budget: Option<&Arc<Budget>>,
) -> Result<(Vec<u8>, Charge), LogError> {
    let undecodable = |detail: String| LogError::Undecodable { offset, detail };
    let raw_len = header.raw_len as usize;
    if header.raw_len > MAX_FRAME_RAW {
        return Err(undecodable(format!("raw length {raw_len} over the limit")));
    }
    let mut charge = budget.map(Charge::on).unwrap_or_default();
    let what = || format!("the payload of the frame at offset {offset}");
    charge.add(raw_len as u64, &what)?;
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(raw_len)
        .map_err(|_| LogError::OverBudget {
            what: what(),
            needed: raw_len as u64,
            budget: budget.map_or(0, |b| b.limit()),
        })?;
    match header.codec {
        CODEC_NONE => {
            out.extend_from_slice(stored);
        }
        CODEC_ZSTD => {
            match zstd::zstd_safe::get_frame_content_size(stored) {
                Ok(Some(n)) if n != raw_len as u64 => {
                    return Err(undecodable(format!(
                        "zstd frame declares {n} bytes, the header {raw_len}"
                    )))
                }
                Err(_) => return Err(undecodable("not a zstd frame".to_string())),
                _ => {}
            }
            let mut dec =
                zstd::bulk::Decompressor::new().map_err(|e| undecodable(format!("zstd: {e}")))?;
            dec.decompress_to_buffer(stored, &mut out).map_err(|e| {
                undecodable(format!(
                    "zstd: {e} (the header says the payload is {raw_len} bytes)"
                ))
            })?;
            if out.len() != raw_len {
                return Err(undecodable(format!(
                    "payload decompresses to {} bytes, header says {raw_len}",
                    out.len()
                )));
            }
        }
        c => return Err(undecodable(format!("unknown codec {c}"))),
    }
    Ok((out, charge))
}

/// Find the next valid frame header at or after `from`, looking only in
/// the data regions.
fn resync(data: &[u8], from: usize, regions: &[(u64, u64)]) -> Option<usize> {
    let last = data.len().checked_sub(FRAME_HEADER_LEN)?;
    for &(a, b) in regions {
        let (a, b) = (a as usize, (b as usize).min(data.len()));
        if b <= from {
            continue;
        }
        let mut i = a.max(from);
        // A header may start in this region and run into the next.
        let stop = b.min(last + 1);
        while i < stop {
            match data[i..stop].iter().position(|&x| x == FRAME_MAGIC[0]) {
                None => break,
                Some(k) => i += k,
            }
            if data[i..i + 4] == FRAME_MAGIC {
                if let HeaderParse::Ok(_) | HeaderParse::UnknownKind(_) =
                    parse_frame_header(&data[i..])
                {
                    return Some(i);
                }
            }
            i += 1;
        }
    }
    None
}

/// Open `path` for reading as a log: only a regular file. Every reader
/// opens through here — `LogReader` and `view --follow` — so a FIFO, a
/// directory or a device (`/dev/zero`) is refused at once with
/// [`LogError::NotAFile`] instead of blocking in `open` or being read
/// forever. `O_NONBLOCK`: opening a FIFO must not wait for a writer (the
/// type check then refuses it); it changes nothing for regular files.
pub fn open_regular(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), LogError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| LogError::io("opening", path, e))?;
    let md = file
        .metadata()
        .map_err(|e| LogError::io("reading metadata of", path, e))?;
    if !md.file_type().is_file() {
        return Err(LogError::NotAFile {
            path: path.to_path_buf(),
            what: file_type_name(&md.file_type()),
        });
    }
    Ok((file, md))
}

impl LogReader {
    /// Open and scan a log with the limits from the environment. Fails (the
    /// log is *unreadable*) when the path is not a readable regular file, is
    /// not a probe log, has a newer version, or its META frame is damaged;
    /// damage further on is listed in [`issues`](Self::issues).
    pub fn open(path: &Path) -> Result<LogReader, LogError> {
        Self::open_with(path, ReadOptions::from_env())
    }

    /// [`open`](Self::open) with explicit limits and memory account.
    pub fn open_with(path: &Path, opts: ReadOptions) -> Result<LogReader, LogError> {
        let (file, md) = open_regular(path)?;
        let len = md.len();
        let data = if len == 0 {
            Bytes::Empty
        } else {
            // SAFETY: the map is read-only and we never create references
            // that assume the bytes stay unchanged across calls: all file
            // contents are treated as untrusted input (every length and
            // offset is checked, checksums verified) before use. If another
            // process truncates the file while it is mapped, touching the
            // lost pages raises SIGBUS; that is outside what a reader can
            // prevent and documented for users (do not truncate a log
            // while reading it). Appending underneath is harmless: the map
            // only covers the length seen at open.
            let m = unsafe { Mmap::map(&file) }.map_err(|e| LogError::io("mapping", path, e))?;
            Bytes::Map(m)
        };
        let regions = data_regions(&file, len);
        Self::from_bytes(path.to_path_buf(), data, &regions, opts)
    }

    /// Read a log held in memory (tests, logs piped in). `label` stands in
    /// for the path in messages.
    pub fn from_vec(label: &Path, data: Vec<u8>) -> Result<LogReader, LogError> {
        Self::from_vec_with(label, data, ReadOptions::from_env())
    }

    /// [`from_vec`](Self::from_vec) with explicit limits.
    pub fn from_vec_with(
        label: &Path,
        data: Vec<u8>,
        opts: ReadOptions,
    ) -> Result<LogReader, LogError> {
        let regions = vec![(0, data.len() as u64)];
        Self::from_bytes(label.to_path_buf(), Bytes::Owned(data), &regions, opts)
    }

    fn from_bytes(
        path: PathBuf,
        data: Bytes,
        regions: &[(u64, u64)],
        opts: ReadOptions,
    ) -> Result<LogReader, LogError> {
        let bytes = data.as_slice();
        let version = decode_file_header(bytes)?;
        let meta_off = FILE_HEADER_LEN as u64;
        let mut r = LogReader {
            path,
            version,
            meta: RunMeta {
                probe_version: String::new(),
                probes: Vec::new(),
                command: Vec::new(),
                cwd: String::new(),
                python_version: String::new(),
                python_executable: String::new(),
                core: Core::Other(String::new()),
                core_note: None,
                start_unix_ns: 0,
                max_value_bytes: 0,
                max_array_bytes: 0,
                ts_resolution_ns: 1,
            },
            frames: Vec::new(),
            issues: Vec::new(),
            end: None,
            end_offset: None,
            data_end: bytes.len() as u64,
            data: Bytes::Empty,
            plan: Plan::default(),
            opts,
        };
        let flags = file_header_flags(bytes);
        if flags != 0 {
            r.issues.push(LogError::BadField {
                offset: 10,
                detail: format!("file header flags {flags:#06x} (must be 0 in version 1)"),
            });
        }
        r.scan(bytes, regions);
        // The META frame must be the first frame, right after the header,
        // and intact: without the probe table nothing else means anything.
        let first = r.frames.first().copied();
        match first {
            Some(f) if f.offset == meta_off && f.header.kind == FrameKind::Meta => {
                if !f.intact {
                    return Err(LogError::Checksum {
                        offset: meta_off,
                        detail: "META frame payload checksum (run metadata unreadable)".into(),
                    });
                }
                let (raw, _charge) = payload(bytes, &f, Some(&r.opts.budget))?;
                r.meta = serde_json::from_slice(&raw).map_err(|e| LogError::Undecodable {
                    offset: meta_off,
                    detail: format!("META frame JSON: {e}"),
                })?;
                if let Some((i, p)) = r
                    .meta
                    .probes
                    .iter()
                    .enumerate()
                    .find(|(i, p)| p.id as usize != *i)
                {
                    r.issues.push(LogError::BadField {
                        offset: meta_off,
                        detail: format!(
                            "META probe table entry {i} has id {} (ids are positions)",
                            p.id
                        ),
                    });
                }
            }
            _ => {
                // Report the first problem at the META position if there is one.
                if let Some(e) = r
                    .issues
                    .iter()
                    .position(|e| e.offset() == Some(meta_off))
                    .map(|i| r.issues.swap_remove(i))
                {
                    return Err(e);
                }
                return Err(LogError::Damaged {
                    offset: meta_off,
                    detail: "no META frame after the file header".into(),
                });
            }
        }
        r.data = data;
        r.plan = Plan::new(&r.frames, r.end.as_ref().map(|e| e.total_records));
        Ok(r)
    }

    /// Scan all frames from after the file header.
    fn scan(&mut self, data: &[u8], regions: &[(u64, u64)]) {
        let len = data.len();
        let mut pos = FILE_HEADER_LEN;
        while pos < len {
            let left = len - pos;
            if left < FRAME_HEADER_LEN {
                if data[pos..].iter().all(|&b| b == 0) {
                    self.data_end = pos as u64;
                } else {
                    self.issues.push(LogError::Truncated {
                        offset: pos as u64,
                        detail: format!(
                            "frame header needs {FRAME_HEADER_LEN} bytes, the file ends after {left}"
                        ),
                    });
                }
                return;
            }
            let h = match parse_frame_header(&data[pos..]) {
                HeaderParse::Ok(h) => h,
                HeaderParse::Zero => {
                    // End of data (preallocated tail, or a frame the writer
                    // never finished). Anything valid further on means this
                    // was a damaged region instead.
                    self.data_end = pos as u64;
                    match resync(data, pos + 1, regions) {
                        None => return,
                        Some(next) => {
                            self.issues.push(LogError::Damaged {
                                offset: pos as u64,
                                detail: format!(
                                    "{} bytes where a frame should start (zeroed?), next frame at offset {next}",
                                    next - pos
                                ),
                            });
                            self.data_end = len as u64;
                            pos = next;
                            continue;
                        }
                    }
                }
                bad => {
                    let what = match bad {
                        HeaderParse::BadMagic => "no frame magic".to_string(),
                        HeaderParse::BadCrc => "frame header checksum mismatch".to_string(),
                        HeaderParse::UnknownKind(k) => format!("unknown frame kind {k}"),
                        _ => String::new(),
                    };
                    let next = resync(data, pos + 1, regions);
                    let skipped = match next {
                        Some(n) => format!(
                            "; skipped {} bytes to the next frame at offset {n}",
                            n - pos
                        ),
                        None => "; no valid frame follows".to_string(),
                    };
                    let detail = format!("{what}{skipped}");
                    self.issues.push(if matches!(bad, HeaderParse::BadCrc) {
                        LogError::Checksum {
                            offset: pos as u64,
                            detail,
                        }
                    } else {
                        LogError::Damaged {
                            offset: pos as u64,
                            detail,
                        }
                    });
                    match next {
                        Some(n) => {
                            pos = n;
                            continue;
                        }
                        None => return,
                    }
                }
            };
            let total = FRAME_HEADER_LEN as u64 + u64::from(h.stored_len);
            if total > left as u64 {
                self.issues.push(LogError::Truncated {
                    offset: pos as u64,
                    detail: format!(
                        "{} frame{} needs {total} bytes, the file ends after {left}",
                        h.kind.name(),
                        seq_note(&h)
                    ),
                });
                return;
            }
            let off = pos as u64;
            let rule = header_rule_violation(&data[pos..], &h);
            pos += total as usize;
            if let Err(detail) = check_header(&h, total, &self.opts.limits) {
                self.issues.push(LogError::Undecodable {
                    offset: off,
                    detail,
                });
                continue;
            }
            if let Some(detail) = rule {
                // Its checksum holds, so the header was rewritten on
                // purpose or by a foreign writer: nothing in it is trusted.
                self.issues.push(LogError::BadField {
                    offset: off,
                    detail,
                });
                continue;
            }
            let stored = &data[off as usize + FRAME_HEADER_LEN..pos];
            let intact = crc32c::crc32c(stored) == h.payload_crc;
            let info = FrameInfo {
                offset: off,
                header: h,
                intact,
            };
            if !intact {
                self.issues.push(LogError::Checksum {
                    offset: off,
                    detail: format!("{} frame payload{}", h.kind.name(), seq_note(&h)),
                });
            } else if h.kind == FrameKind::End && self.end.is_none() {
                match payload(data, &info, Some(&self.opts.budget)).and_then(|(raw, _c)| {
                    serde_json::from_slice::<EndInfo>(&raw).map_err(|e| LogError::Undecodable {
                        offset: off,
                        detail: format!("END frame JSON: {e}"),
                    })
                }) {
                    Ok(end) if end.total_records != h.seq_start => {
                        self.issues.push(LogError::BadField {
                            offset: off,
                            detail: format!(
                                "END frame header says {} records, its end marker {}",
                                h.seq_start, end.total_records
                            ),
                        });
                    }
                    Ok(end) => {
                        self.end = Some(end);
                        self.end_offset = Some(off);
                    }
                    Err(e) => self.issues.push(e),
                }
            }
            self.frames.push(info);
        }
    }

    /// Path the log was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Format version of the file.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Run metadata (probe table etc.).
    pub fn meta(&self) -> &RunMeta {
        &self.meta
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.data.as_slice().len() as u64
    }

    /// Offset where the data ends: the file length, or the start of a zero
    /// (preallocated, never written) tail.
    pub fn data_end(&self) -> u64 {
        self.data_end
    }

    /// Every frame the scan found, in file order (damaged payloads included
    /// with `intact == false`).
    pub fn frames(&self) -> &[FrameInfo] {
        &self.frames
    }

    /// Damage found by the scan, each naming its byte offset.
    pub fn issues(&self) -> &[LogError] {
        &self.issues
    }

    /// The end marker, if the log has an intact one.
    pub fn end(&self) -> Option<&EndInfo> {
        self.end.as_ref()
    }

    /// Offset of the END frame.
    pub fn end_offset(&self) -> Option<u64> {
        self.end_offset
    }

    /// Which RECORDS frames readers read, in seq order, and what the frame
    /// headers alone say is missing or misplaced.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Check that `work` may read this log's records ([`crate::log::limits`]):
    /// the accepted frames' records against the command's records per byte.
    pub fn check_work(&self, work: crate::log::limits::Work) -> Result<(), LogError> {
        let records = self.plan.records();
        let frame_bytes: u64 = self
            .plan
            .accepted()
            .iter()
            .map(|f| f.end_offset() - f.offset)
            .sum();
        let limit = self.opts.limits.work_records(work, frame_bytes);
        if records > limit {
            return Err(LogError::TooDense {
                records,
                frame_bytes,
                what: work.name(),
                limit,
            });
        }
        Ok(())
    }

    /// The read options (limits, memory account).
    pub fn options(&self) -> &ReadOptions {
        &self.opts
    }

    /// The memory account this reader charges.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.opts.budget
    }

    /// True when the log has an end marker and the scan found no damage.
    /// (Seq-level checks are `verify`'s job.)
    pub fn is_complete(&self) -> bool {
        self.end.is_some() && self.issues.is_empty()
    }

    /// Why the log is not complete, in words (`None` when it is): the first
    /// damage the scan found, a missing end marker, frames out of place, a
    /// gap in the record frames' seq ranges, end-marker totals the frames do
    /// not reach, or captures the end marker says were lost. Commands that
    /// refuse incomplete logs say this.
    pub fn incompleteness(&self) -> Option<String> {
        let mut problems: Vec<String> = self.issues.iter().map(|e| e.to_string()).collect();
        if self.end.is_none() {
            problems
                .push("it has no end marker (the run or the recorder did not finish)".to_string());
        }
        problems.extend(self.plan.problems().iter().map(|p| p.message.clone()));
        // Whole frames can be missing without damage to see (a frame cut
        // out cleanly): the frames must cover 0..total without a gap.
        let tail = self.end_offset.unwrap_or(self.data_end);
        problems.extend(
            self.plan
                .coverage()
                .gaps(
                    self.end.as_ref().map(|e| e.total_records),
                    self.plan.meta_end(),
                    tail,
                )
                .iter()
                .map(|g| g.problem().message),
        );
        if let Some(end) = &self.end {
            problems.extend(crate::log::coverage::lost_captures(end));
            problems.extend(crate::log::coverage::lost_values(end));
        }
        let first = problems.first()?.clone();
        let more = problems.len() - 1;
        Some(if more > 0 {
            format!(
                "{first} (and {more} more problem{})",
                if more == 1 { "" } else { "s" }
            )
        } else {
            first
        })
    }

    /// Records the intact RECORDS frames hold (from their headers).
    pub fn readable_records(&self) -> u64 {
        self.plan.records()
    }

    /// Decompress a frame's payload (charged to the budget while held).
    pub fn payload(&self, f: &FrameInfo) -> Result<(Vec<u8>, Charge), LogError> {
        payload(self.data.as_slice(), f, Some(&self.opts.budget))
    }

    fn decode_ctx(&self, f: &FrameInfo) -> Result<DecodeCtx<'_>, LogError> {
        if !f.intact {
            return Err(LogError::Checksum {
                offset: f.offset,
                detail: format!("frame payload{}", seq_note(&f.header)),
            });
        }
        if f.header.kind != FrameKind::Records {
            return Err(LogError::Undecodable {
                offset: f.offset,
                detail: format!("{} frame is not a record block", f.header.kind.name()),
            });
        }
        // The scan checked the bounds; a FrameInfo made elsewhere may not be.
        if let Err(detail) = check_header(&f.header, f.end_offset() - f.offset, &self.opts.limits) {
            return Err(LogError::Undecodable {
                offset: f.offset,
                detail,
            });
        }
        Ok(DecodeCtx {
            seq_start: f.header.seq_start,
            // check_header() bounds this by MAX_BLOCK_RECORDS.
            records: (f.header.seq_end - f.header.seq_start) as usize,
            completions: u64::from(f.header.completions),
            probes: self.meta.probes.len(),
            budget: Some(&self.opts.budget),
        })
    }

    fn decode_err(f: &FrameInfo, e: DecodeError) -> LogError {
        match e {
            DecodeError::Format(detail) => LogError::Undecodable {
                offset: f.offset,
                detail,
            },
            DecodeError::Budget(e) => e,
        }
    }

    /// Decode the block of a RECORDS frame (placeholders not joined; see
    /// [`crate::log::walk`] for that).
    pub fn decode_block(
        &self,
        f: &FrameInfo,
        codec: &mut BlockCodec,
    ) -> Result<RecordBlock, LogError> {
        let ctx = self.decode_ctx(f)?;
        let (raw, _charge) = self.payload(f)?;
        codec.decode(&raw, &ctx).map_err(|e| Self::decode_err(f, e))
    }

    /// Only the completion entries of a RECORDS frame, charged to `charge`.
    pub fn decode_completions(
        &self,
        f: &FrameInfo,
        codec: &mut BlockCodec,
        charge: &mut Charge,
    ) -> Result<Vec<Completion>, LogError> {
        let ctx = self.decode_ctx(f)?;
        let (raw, _charge) = self.payload(f)?;
        codec
            .decode_completions(&raw, &ctx, charge)
            .map_err(|e| Self::decode_err(f, e))
    }
}

pub(crate) fn seq_note(h: &FrameHeader) -> String {
    if h.kind == FrameKind::Records && h.seq_end > h.seq_start {
        format!(" (records {}..{})", h.seq_start, h.seq_end - 1)
    } else {
        String::new()
    }
}

/// Checks on header fields that the checksum cannot vouch for (a buggy or
/// hostile writer). Bounds everything a decoder would allocate or iterate:
/// the raw size, and the records a frame of `frame_bytes` may claim.
pub fn check_header(h: &FrameHeader, frame_bytes: u64, limits: &Limits) -> Result<(), String> {
    if h.codec != CODEC_NONE && h.codec != CODEC_ZSTD {
        return Err(format!("unknown codec {}", h.codec));
    }
    if h.raw_len > MAX_FRAME_RAW {
        return Err(format!(
            "raw length {} over the limit of {MAX_FRAME_RAW}",
            h.raw_len
        ));
    }
    if h.codec == CODEC_NONE && h.raw_len != h.stored_len {
        return Err("stored and raw length differ for an uncompressed frame".into());
    }
    if h.seq_end < h.seq_start {
        return Err(format!(
            "seq range {}..{} is reversed",
            h.seq_start, h.seq_end
        ));
    }
    if h.kind == FrameKind::Records {
        let n = h.seq_end - h.seq_start;
        if n > MAX_BLOCK_RECORDS {
            return Err(format!(
                "{n} records in one frame, over the limit of {MAX_BLOCK_RECORDS}"
            ));
        }
        if n > limits.max_records(frame_bytes) {
            return Err(format!(
                "{n} records claimed by a frame of {frame_bytes} bytes: more than {} per byte, \
                 which no probe writer produces (PROBE_MAX_RECORDS_PER_BYTE raises the limit)",
                limits.frame_records_per_byte
            ));
        }
    }
    Ok(())
}
