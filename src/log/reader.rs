//! [`LogReader`]: memory-maps a `.probe` log, scans its frames, decodes
//! blocks and yields records in seq order with placeholders joined to their
//! completions.
//!
//! Opening scans every frame header and payload checksum once (cheap: no
//! decompression), so `frames()`, `issues()` and `end()` are known up front.
//! Damage does not stop the scan: after a bad header the scanner searches
//! for the next valid frame header (magic + header checksum) and goes on, so
//! that everything after a damaged region is still read and reported.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::log::block::{BlockCodec, RecordBlock};
use crate::log::format::{
    decode_file_header, parse_frame_header, FrameHeader, FrameKind, HeaderParse, CODEC_NONE,
    CODEC_ZSTD, FILE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_MAGIC, MAX_BLOCK_RECORDS, MAX_FRAME_RAW,
};
use crate::log::meta::{EndInfo, RunMeta};
use crate::log::LogError;
use crate::model::{CaptureRecord, Status, Value};

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
}

/// Where the bytes come from: a map, or nothing for an empty file (a
/// zero-length file cannot be mapped).
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
}

/// Decompress and check a frame payload. `raw_len` is at most
/// [`MAX_FRAME_RAW`] (checked by the scanner), and the output buffer only
/// grows as real output is produced, so a lying header cannot make us
/// allocate more than the data decompresses to.
fn payload(data: &[u8], f: &FrameInfo) -> Result<Vec<u8>, LogError> {
    let undecodable = |detail: String| LogError::Undecodable {
        offset: f.offset,
        detail,
    };
    let start = (f.offset as usize).saturating_add(FRAME_HEADER_LEN);
    let stored = data
        .get(start..start.saturating_add(f.header.stored_len as usize))
        .ok_or_else(|| LogError::Truncated {
            offset: f.offset,
            detail: "frame payload lies beyond the end of the file".into(),
        })?;
    let raw_len = u64::from(f.header.raw_len);
    if f.header.raw_len > MAX_FRAME_RAW {
        return Err(undecodable(format!("raw length {raw_len} over the limit")));
    }
    match f.header.codec {
        CODEC_NONE => Ok(stored.to_vec()),
        CODEC_ZSTD => {
            let mut out = Vec::with_capacity((raw_len as usize).min(stored.len() * 8 + 4096));
            let dec = zstd::stream::read::Decoder::with_buffer(stored)
                .map_err(|e| undecodable(format!("zstd: {e}")))?;
            dec.take(raw_len + 1)
                .read_to_end(&mut out)
                .map_err(|e| undecodable(format!("zstd: {e}")))?;
            if out.len() as u64 != raw_len {
                return Err(undecodable(format!(
                    "payload decompresses to {} bytes, header says {raw_len}",
                    out.len()
                )));
            }
            Ok(out)
        }
        c => Err(undecodable(format!("unknown codec {c}"))),
    }
}

/// Find the next valid frame header at or after `from`.
fn resync(data: &[u8], from: usize) -> Option<usize> {
    let last = data.len().checked_sub(FRAME_HEADER_LEN)?;
    let mut i = from;
    while i <= last {
        // Jump to the next candidate first byte quickly.
        match data[i..=last].iter().position(|&b| b == FRAME_MAGIC[0]) {
            None => return None,
            Some(k) => i += k,
        }
        if data[i..i + 4] == FRAME_MAGIC {
            if let HeaderParse::Ok(_) | HeaderParse::UnknownKind(_) = parse_frame_header(&data[i..])
            {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

impl LogReader {
    /// Open and scan a log. Fails (the log is *unreadable*) when the file
    /// cannot be read, is not a probe log, has a newer version, or its
    /// META frame is damaged; damage further on is listed in [`issues`](Self::issues).
    pub fn open(path: &Path) -> Result<LogReader, LogError> {
        let file = File::open(path).map_err(|e| LogError::io("opening", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| LogError::io("reading metadata of", path, e))?
            .len();
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
        Self::from_bytes(path.to_path_buf(), data)
    }

    /// Read a log held in memory (tests, logs piped in). `label` stands in
    /// for the path in messages.
    pub fn from_vec(label: &Path, data: Vec<u8>) -> Result<LogReader, LogError> {
        Self::from_bytes(label.to_path_buf(), Bytes::Owned(data))
    }

    fn from_bytes(path: PathBuf, data: Bytes) -> Result<LogReader, LogError> {
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
                core: String::new(),
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
        };
        r.scan(bytes);
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
                let raw = payload(bytes, &f)?;
                r.meta = serde_json::from_slice(&raw).map_err(|e| LogError::Undecodable {
                    offset: meta_off,
                    detail: format!("META frame JSON: {e}"),
                })?;
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
        Ok(r)
    }

    /// Scan all frames from after the file header.
    fn scan(&mut self, data: &[u8]) {
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
                    match resync(data, pos + 1) {
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
                    let next = resync(data, pos + 1);
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
            pos += total as usize;
            if let Err(detail) = sanity(&h) {
                self.issues.push(LogError::Undecodable {
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
                match payload(data, &info).and_then(|raw| {
                    serde_json::from_slice::<EndInfo>(&raw).map_err(|e| LogError::Undecodable {
                        offset: off,
                        detail: format!("END frame JSON: {e}"),
                    })
                }) {
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

    /// True when the log has an end marker and the scan found no damage.
    /// (Seq-level checks are `verify`'s job.)
    pub fn is_complete(&self) -> bool {
        self.end.is_some() && self.issues.is_empty()
    }

    /// Why the log is not complete, in words (`None` when it is): the first
    /// damage the scan found, a missing end marker, or a gap in the record
    /// frames' seq ranges (a frame cut out cleanly), or end-marker totals the
    /// frames do not reach. Commands that refuse incomplete logs say this.
    pub fn incompleteness(&self) -> Option<String> {
        if let Some(e) = self.issues().first() {
            let more = self.issues().len() - 1;
            return Some(if more > 0 {
                format!("{e} (and {more} more problems)")
            } else {
                e.to_string()
            });
        }
        let Some(end) = self.end() else {
            return Some(
                "it has no end marker (the run or the recorder did not finish)".to_string(),
            );
        };
        // Whole frames can be missing without damage to see (a frame cut out
        // cleanly): the record frames must cover 0..total without a gap.
        let mut next = 0u64;
        for f in self.frames() {
            if f.header.kind == FrameKind::Records && f.header.seq_end > f.header.seq_start {
                if f.header.seq_start != next {
                    return Some(format!(
                        "records {next}..{} are missing (the frame at offset {} starts at record {})",
                        f.header.seq_start.saturating_sub(1),
                        f.offset,
                        f.header.seq_start
                    ));
                }
                next = f.header.seq_end;
            }
        }
        if next != end.total_records {
            return Some(format!(
                "its end marker counts {} records, its frames hold {next}",
                end.total_records
            ));
        }
        None
    }

    /// Records the intact RECORDS frames hold (from their headers).
    pub fn readable_records(&self) -> u64 {
        self.frames()
            .iter()
            .filter(|f| f.intact && f.header.kind == FrameKind::Records)
            .map(|f| f.header.seq_end.saturating_sub(f.header.seq_start))
            .sum()
    }

    /// Decode the block of a RECORDS frame.
    pub fn decode_block(
        &self,
        f: &FrameInfo,
        codec: &mut BlockCodec,
    ) -> Result<RecordBlock, LogError> {
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
        if let Err(detail) = sanity(&f.header) {
            return Err(LogError::Undecodable {
                offset: f.offset,
                detail,
            });
        }
        let raw = payload(self.data.as_slice(), f)?;
        // sanity() bounds this by MAX_BLOCK_RECORDS.
        let n = (f.header.seq_end - f.header.seq_start) as usize;
        codec
            .decode(&raw, f.header.seq_start, n)
            .map_err(|detail| LogError::Undecodable {
                offset: f.offset,
                detail,
            })
    }

    /// The intact RECORDS frames with their decoded blocks (or the error
    /// that kept one from decoding), in file (= seq) order.
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            reader: self,
            idx: 0,
            codec: BlockCodec::new(),
        }
    }

    /// All completion entries of the log, by seq (the first one wins if a
    /// seq is completed twice; `verify` reports that). Only frames whose
    /// header says they hold completions are decoded.
    pub fn completions(&self) -> HashMap<u64, (Status, Value)> {
        let mut map = HashMap::new();
        let mut codec = BlockCodec::new();
        for f in &self.frames {
            if f.intact && f.header.kind == FrameKind::Records && f.header.completions > 0 {
                if let Ok(b) = self.decode_block(f, &mut codec) {
                    for c in b.completions {
                        map.entry(c.seq).or_insert((c.status, c.value));
                    }
                }
            }
        }
        map
    }

    /// Every readable record in seq order, placeholders joined with their
    /// completions. A frame that cannot be decoded yields one `Err` (with
    /// its offset) and reading goes on with the next frame.
    pub fn records(&self) -> Records<'_> {
        Records {
            blocks: self.blocks(),
            completions: self.completions(),
            block: None,
            i: 0,
        }
    }
}

fn seq_note(h: &FrameHeader) -> String {
    if h.kind == FrameKind::Records && h.seq_end > h.seq_start {
        format!(" (records {}..{})", h.seq_start, h.seq_end - 1)
    } else {
        String::new()
    }
}

/// Checks on header fields that the checksum cannot vouch for (a buggy or
/// hostile writer). Bounds everything a decoder would allocate.
fn sanity(h: &FrameHeader) -> Result<(), String> {
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
    if h.kind == FrameKind::Records && h.seq_end - h.seq_start > MAX_BLOCK_RECORDS {
        return Err(format!(
            "{} records in one frame, over the limit of {MAX_BLOCK_RECORDS}",
            h.seq_end - h.seq_start
        ));
    }
    Ok(())
}

/// Iterator over decoded blocks; see [`LogReader::blocks`].
pub struct Blocks<'a> {
    reader: &'a LogReader,
    idx: usize,
    codec: BlockCodec,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = (FrameInfo, Result<RecordBlock, LogError>);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(f) = self.reader.frames.get(self.idx) {
            self.idx += 1;
            if f.intact && f.header.kind == FrameKind::Records {
                return Some((*f, self.reader.decode_block(f, &mut self.codec)));
            }
        }
        None
    }
}

/// Iterator over records; see [`LogReader::records`].
pub struct Records<'a> {
    blocks: Blocks<'a>,
    completions: HashMap<u64, (Status, Value)>,
    block: Option<RecordBlock>,
    i: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<CaptureRecord, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(b) = &self.block {
                if self.i < b.len() {
                    let mut r = b.record(self.i);
                    self.i += 1;
                    if r.status == Status::Pending {
                        if let Some((s, v)) = self.completions.get(&r.seq) {
                            r.status = *s;
                            r.value = v.clone();
                        }
                    }
                    return Some(Ok(r));
                }
            }
            self.block = None;
            self.i = 0;
            match self.blocks.next()? {
                (_, Ok(b)) => self.block = Some(b),
                (_, Err(e)) => return Some(Err(e)),
            }
        }
    }
}
