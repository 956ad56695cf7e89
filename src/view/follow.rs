//! Reading a log while it is being written (`probe view --follow`).
//!
//! The writer appends frames through a memory map and grows the file ahead
//! with zeroed, preallocated blocks; it writes a frame's payload and header
//! before the frame's magic (docs/FORMAT.md), and at the end trims the file
//! to its true length. So this reader:
//!
//! - never maps the file (a map would fault with SIGBUS when the writer
//!   trims it): it reads with `pread` at its own offset;
//! - takes a zero magic as "nothing more yet", and polls again;
//! - trusts a frame only when its header checksum and its payload checksum
//!   match: a frame whose bytes are not all visible yet (a torn tail) fails
//!   them and is read again on the next poll. Only when a bad frame stays bad
//!   for [`STUCK`] while the writer has gone on does it count as damage: it is
//!   reported, and reading resumes at the next valid frame header;
//! - stops at the END frame: the log is complete.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::log::block::BlockCodec;
use crate::log::format::{
    decode_file_header, parse_frame_header, FrameKind, HeaderParse, FILE_HEADER_LEN,
    FRAME_HEADER_LEN, FRAME_MAGIC,
};
use crate::log::meta::{EndInfo, RunMeta};
use crate::log::reader::{check_header, decompress};
use crate::log::ReadOptions;

use super::live::LiveStore;

/// How long a frame may stay unreadable at the tail before it is damage.
pub const STUCK: Duration = Duration::from_secs(3);

/// Why following stopped early.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The file cannot be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The log.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Not a regular file (a FIFO, a directory, a device), refused before
    /// any read as by every other reader command.
    #[error(transparent)]
    NotAFile(crate::log::LogError),
    /// It is not a probe log (or its META frame is unusable).
    #[error("{path}: {detail}")]
    NotALog {
        /// The log.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// Outcome of one attempt to read the frame at the current offset.
enum Step {
    /// A frame was read; the offset moved on.
    Frame,
    /// Nothing (complete) there yet.
    Wait,
    /// Unreadable bytes here (maybe torn, maybe damage).
    Bad(String),
}

struct Follower<'a> {
    file: File,
    path: String,
    store: &'a LiveStore,
    offset: u64,
    started: bool,
    ended: bool,
    issues: Vec<String>,
    codec: BlockCodec,
    /// Probes in the META frame's table (the decoder checks ids against it).
    probes: usize,
    /// The reading layer's limits and memory budget.
    opts: ReadOptions,
}

fn read_at(file: &File, off: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

impl Follower<'_> {
    fn io(&self, error: std::io::Error) -> FollowError {
        FollowError::Io {
            path: self.path.clone(),
            error,
        }
    }

    fn len(&self) -> Result<u64, FollowError> {
        Ok(self.file.metadata().map_err(|e| self.io(e))?.len())
    }

    fn step(&mut self) -> Result<Step, FollowError> {
        let len = self.len()?;
        if len < self.offset + FRAME_HEADER_LEN as u64 {
            return Ok(Step::Wait);
        }
        let head = read_at(&self.file, self.offset, FRAME_HEADER_LEN).map_err(|e| self.io(e))?;
        if head.len() < FRAME_HEADER_LEN {
            return Ok(Step::Wait);
        }
        let h = match parse_frame_header(&head) {
            HeaderParse::Ok(h) => h,
            HeaderParse::Zero => return Ok(Step::Wait),
            HeaderParse::BadMagic => return Ok(Step::Bad("no frame magic".into())),
            HeaderParse::BadCrc => return Ok(Step::Bad("frame header checksum mismatch".into())),
            HeaderParse::UnknownKind(k) => return Ok(Step::Bad(format!("unknown frame kind {k}"))),
        };
        let total = FRAME_HEADER_LEN as u64 + u64::from(h.stored_len);
        // The reading layer's checks and bounds (src/log/reader.rs): header
        // fields the checksum cannot vouch for, records per frame and per
        // byte, then the payload decompressed within its declared size and
        // the memory budget.
        if let Err(detail) = check_header(&h, total, &self.opts.limits) {
            return Ok(Step::Bad(format!("frame header out of bounds: {detail}")));
        }
        if len < self.offset + total {
            return Ok(Step::Wait);
        }
        let stored = read_at(
            &self.file,
            self.offset + FRAME_HEADER_LEN as u64,
            h.stored_len as usize,
        )
        .map_err(|e| self.io(e))?;
        if stored.len() != h.stored_len as usize {
            return Ok(Step::Wait);
        }
        if crc32c::crc32c(&stored) != h.payload_crc {
            return Ok(Step::Bad(format!(
                "{} frame payload checksum mismatch",
                h.kind.name()
            )));
        }
        let raw = match decompress(&stored, &h, self.offset, Some(&self.opts.budget)) {
            Ok((raw, _charge)) => raw,
            Err(e) => return Ok(Step::Bad(e.to_string())),
        };
        let off = self.offset;
        self.offset += total;
        match h.kind {
            FrameKind::Meta if !self.started => {
                let meta: RunMeta =
                    serde_json::from_slice(&raw).map_err(|e| FollowError::NotALog {
                        path: self.path.clone(),
                        detail: format!("META frame JSON: {e}"),
                    })?;
                self.probes = meta.probes.len();
                self.store.start(&meta);
                self.started = true;
            }
            FrameKind::Records if self.started => {
                // check_header() bounded this by MAX_BLOCK_RECORDS and the
                // frame's size.
                let n = h.seq_end - h.seq_start;
                let ctx = crate::log::block::DecodeCtx {
                    seq_start: h.seq_start,
                    records: n as usize,
                    completions: u64::from(h.completions),
                    probes: self.probes,
                    budget: Some(&self.opts.budget),
                };
                match self.codec.decode(&raw, &ctx) {
                    Ok(b) => {
                        let recs: Vec<_> = (0..b.len()).map(|i| b.record(i)).collect();
                        self.store.push(&recs);
                        for c in &b.completions {
                            self.store.complete(c.seq, c.status, &c.value);
                        }
                    }
                    Err(e) => self
                        .issues
                        .push(format!("frame at offset {off} cannot be decoded: {e}")),
                }
            }
            FrameKind::End if self.started => {
                match serde_json::from_slice::<EndInfo>(&raw) {
                    Ok(end) => {
                        self.store.finish(Some(end), self.issues.clone());
                    }
                    Err(e) => {
                        self.issues.push(format!("END frame at offset {off}: {e}"));
                        self.store.finish(None, self.issues.clone());
                    }
                }
                self.ended = true;
            }
            _ => {}
        }
        Ok(Step::Frame)
    }

    /// The next offset holding a valid frame header after `from`, if any.
    fn resync(&self, from: u64) -> Result<Option<u64>, FollowError> {
        let len = self.len()?;
        let mut at = from;
        while at + FRAME_HEADER_LEN as u64 <= len {
            let chunk = read_at(&self.file, at, (1 << 20).min((len - at) as usize))
                .map_err(|e| self.io(e))?;
            for i in 0..chunk.len().saturating_sub(FRAME_HEADER_LEN - 1) {
                if chunk[i..i + 4] == FRAME_MAGIC {
                    if let HeaderParse::Ok(_) = parse_frame_header(&chunk[i..]) {
                        return Ok(Some(at + i as u64));
                    }
                }
            }
            at += (chunk.len().saturating_sub(FRAME_HEADER_LEN - 1)).max(1) as u64;
        }
        Ok(None)
    }
}

/// Follow the log at `path` into `store` until its END frame is read or
/// `stop` is set, polling every `poll`. Waits for the file to appear.
pub fn follow(
    path: &Path,
    store: &LiveStore,
    stop: &AtomicBool,
    poll: Duration,
) -> Result<(), FollowError> {
    let shown = path.display().to_string();
    let file = loop {
        // The shared open of every reader: a FIFO would block in open(2)
        // forever and /dev/zero would be polled forever.
        match crate::log::reader::open_regular(path) {
            Ok((f, _)) => break f,
            Err(crate::log::LogError::Io { error, .. })
                if error.kind() == std::io::ErrorKind::NotFound =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                std::thread::sleep(poll);
            }
            Err(crate::log::LogError::Io { error, .. }) => {
                return Err(FollowError::Io { path: shown, error })
            }
            Err(e) => return Err(FollowError::NotAFile(e)),
        }
    };
    // The file header: 16 bytes, written before anything else.
    loop {
        let head = read_at(&file, 0, FILE_HEADER_LEN).map_err(|error| FollowError::Io {
            path: shown.clone(),
            error,
        })?;
        if head.len() == FILE_HEADER_LEN && head.iter().any(|&b| b != 0) {
            decode_file_header(&head).map_err(|e| FollowError::NotALog {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
            break;
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        std::thread::sleep(poll);
    }
    let mut f = Follower {
        file,
        path: shown,
        store,
        offset: FILE_HEADER_LEN as u64,
        started: false,
        ended: false,
        issues: Vec::new(),
        codec: BlockCodec::new(),
        probes: 0,
        opts: ReadOptions::from_env(),
    };
    let mut bad_since: Option<(u64, Instant, u64)> = None;
    while !f.ended && !stop.load(Ordering::SeqCst) {
        match f.step()? {
            Step::Frame => {
                bad_since = None;
                continue;
            }
            Step::Wait => bad_since = None,
            Step::Bad(what) => {
                let len = f.len()?;
                match bad_since {
                    Some((off, since, _)) if off == f.offset => {
                        // Damage, not a torn tail: a writer finishes a frame
                        // in microseconds, so bytes that stay bad are bad.
                        if since.elapsed() >= STUCK {
                            let next = f.resync(f.offset + 1)?;
                            f.issues.push(format!(
                                "damaged data at offset {}: {what}{}",
                                f.offset,
                                next.map_or(String::new(), |n| format!(
                                    "; skipped {} bytes to the next frame",
                                    n - f.offset
                                ))
                            ));
                            if let Some(n) = next {
                                f.offset = n;
                            }
                            bad_since = None;
                            continue;
                        }
                    }
                    _ => bad_since = Some((f.offset, Instant::now(), len)),
                }
            }
        }
        std::thread::sleep(poll);
    }
    if !f.started {
        return Err(FollowError::NotALog {
            path: f.path.clone(),
            detail: "no META frame after the file header".into(),
        });
    }
    Ok(())
}
