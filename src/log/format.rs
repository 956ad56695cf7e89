//! Byte layout of a `.probe` log: file header, frame headers, value tags and
//! the small integer codecs the record blocks are built from.
//!
//! `docs/FORMAT.md` is the normative description; this module is its code.
//! All integers are little-endian. Everything read from a file is treated as
//! untrusted: every length is checked against the bytes actually present
//! before it is used, and nothing is allocated from an unchecked length.

/// First 8 bytes of every log. `\x89` catches 7-bit transports, `\r\n` and
/// `\x1a\n` catch newline translation (the PNG trick).
pub const FILE_MAGIC: [u8; 8] = *b"\x89PRB\r\n\x1a\n";

/// Size of the file header: magic, version (u16), flags (u16), crc32c (u32).
pub const FILE_HEADER_LEN: usize = 16;

/// The format version this build writes, and the highest it reads.
pub const FORMAT_VERSION: u16 = 1;

/// Magic at the start of every frame header. Never zero: a zero magic marks
/// the end of the data (the preallocated, not yet written tail of a file).
pub const FRAME_MAGIC: [u8; 4] = *b"PRBF";

/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 48;

/// Largest uncompressed payload of one frame a reader accepts (bounds the
/// memory a crafted file can make a reader allocate). The writer stays far
/// below it.
pub const MAX_FRAME_RAW: u32 = 256 << 20;

/// Largest number of records in one RECORDS frame a reader accepts.
/// (The writer flushes at [`crate::log::writer::BLOCK_RECORDS`].)
pub const MAX_BLOCK_RECORDS: u64 = 1 << 20;

/// Deepest nesting of `Sub` values accepted (bounds recursion on bad input).
pub const MAX_VALUE_DEPTH: u32 = 16;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// JSON [`crate::log::meta::RunMeta`]; the first frame of every log.
    Meta,
    /// A columnar block of records plus completions.
    Records,
    /// JSON [`crate::log::meta::EndInfo`]; the last frame of a complete log.
    End,
    /// A kind in the optional range (64..=127) this reader does not know;
    /// skipped without complaint (room for e.g. a future seek index).
    Optional(u8),
}

impl FrameKind {
    /// Byte stored in the frame header.
    pub fn to_u8(self) -> u8 {
        match self {
            FrameKind::Meta => 1,
            FrameKind::Records => 2,
            FrameKind::End => 3,
            FrameKind::Optional(k) => k,
        }
    }

    /// Decode a kind byte; `None` for a kind that is neither known nor optional.
    pub fn from_u8(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Meta),
            2 => Some(FrameKind::Records),
            3 => Some(FrameKind::End),
            64..=127 => Some(FrameKind::Optional(b)),
            _ => None,
        }
    }

    /// Lower-case name for messages.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Meta => "META",
            FrameKind::Records => "RECORDS",
            FrameKind::End => "END",
            FrameKind::Optional(_) => "optional",
        }
    }
}

/// Payload codec: stored as is.
pub const CODEC_NONE: u8 = 0;
/// Payload codec: one zstd frame.
pub const CODEC_ZSTD: u8 = 1;

/// A decoded (and checksum-verified) frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame holds.
    pub kind: FrameKind,
    /// [`CODEC_NONE`] or [`CODEC_ZSTD`].
    pub codec: u8,
    /// Bytes of payload stored after the header.
    pub stored_len: u32,
    /// Bytes of payload after decompression.
    pub raw_len: u32,
    /// First seq covered (RECORDS); the total for END; 0 for META.
    pub seq_start: u64,
    /// One past the last seq covered (RECORDS); the total for END; 0 for META.
    pub seq_end: u64,
    /// Number of completion entries in the block (RECORDS), else 0.
    pub completions: u32,
    /// crc32c of the stored payload bytes.
    pub payload_crc: u32,
}

/// Result of looking at [`FRAME_HEADER_LEN`] bytes where a frame should start.
#[derive(Debug)]
pub enum HeaderParse {
    /// A valid header.
    Ok(FrameHeader),
    /// Zero magic: end of the written data.
    Zero,
    /// Magic is not [`FRAME_MAGIC`].
    BadMagic,
    /// Magic is right but the header checksum is not.
    BadCrc,
    /// Checksum holds but the kind byte is not one this reader accepts.
    UnknownKind(u8),
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Encode the 16-byte file header.
pub fn encode_file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&FILE_MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // bytes 10..12: flags, 0 in version 1.
    let crc = crc32c::crc32c(&h[..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Check the file header; returns the format version.
pub fn decode_file_header(bytes: &[u8]) -> Result<u16, crate::log::LogError> {
    use crate::log::LogError;
    let n = bytes.len().min(8);
    if bytes[..n] != FILE_MAGIC[..n] || n == 0 {
        return Err(LogError::BadMagic {
            found: bytes[..n].to_vec(),
        });
    }
    if bytes.len() < FILE_HEADER_LEN {
        return Err(LogError::Truncated {
            offset: 0,
            detail: format!(
                "file header needs {FILE_HEADER_LEN} bytes, the file has {}",
                bytes.len()
            ),
        });
    }
    let crc = crc32c::crc32c(&bytes[..12]);
    let version = u16_at(bytes, 8);
    if crc != u32_at(bytes, 12) {
        return Err(LogError::Checksum {
            offset: 0,
            detail: "file header checksum".to_string(),
        });
    }
    if version == 0 || version > FORMAT_VERSION {
        return Err(LogError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(version)
}

/// Encode a frame header (with its checksum) into 48 bytes.
pub fn encode_frame_header(h: &FrameHeader) -> [u8; FRAME_HEADER_LEN] {
    let mut b = [0u8; FRAME_HEADER_LEN];
    b[0..4].copy_from_slice(&FRAME_MAGIC);
    b[4] = h.kind.to_u8();
    b[5] = h.codec;
    // 6..8 flags = 0
    b[8..12].copy_from_slice(&h.stored_len.to_le_bytes());
    b[12..16].copy_from_slice(&h.raw_len.to_le_bytes());
    b[16..24].copy_from_slice(&h.seq_start.to_le_bytes());
    b[24..32].copy_from_slice(&h.seq_end.to_le_bytes());
    b[32..36].copy_from_slice(&h.completions.to_le_bytes());
    b[36..40].copy_from_slice(&h.payload_crc.to_le_bytes());
    // 40..44 reserved = 0
    let crc = crc32c::crc32c(&b[..44]);
    b[44..48].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The file header's flags field (bytes 10..12), which is 0 in version 1:
/// anything else means the header was altered (its checksum was redone).
pub fn file_header_flags(bytes: &[u8]) -> u16 {
    if bytes.len() < FILE_HEADER_LEN {
        return 0;
    }
    u16_at(bytes, 10)
}

/// The rules a checksummed frame header must still follow, beyond what
/// [`parse_frame_header`] checks: flags (bytes 6..8) and the reserved
/// field (40..44) are 0 in version 1; META and END frames are stored
/// uncompressed and hold no completions; a META frame covers no seq; an
/// END frame's seq start and end are equal (both the total). A header
/// that breaks one was altered or forged (its checksum recomputed); the
/// answer says which field, for the report.
pub fn header_rule_violation(b: &[u8], h: &FrameHeader) -> Option<String> {
    let flags = u16_at(b, 6);
    let reserved = u32_at(b, 40);
    if flags != 0 {
        return Some(format!("frame flags {flags:#06x} (must be 0 in version 1)"));
    }
    if reserved != 0 {
        return Some(format!(
            "reserved field {reserved:#010x} (must be 0 in version 1)"
        ));
    }
    match h.kind {
        FrameKind::Meta | FrameKind::End if h.codec != CODEC_NONE => Some(format!(
            "{} frame with codec {} (stored uncompressed)",
            h.kind.name(),
            h.codec
        )),
        FrameKind::Meta | FrameKind::End if h.completions != 0 => Some(format!(
            "{} frame claims {} completions",
            h.kind.name(),
            h.completions
        )),
        FrameKind::Meta if h.seq_start != 0 || h.seq_end != 0 => Some(format!(
            "META frame covers seqs {}..{} (must be 0..0)",
            h.seq_start, h.seq_end
        )),
        FrameKind::End if h.seq_start != h.seq_end => Some(format!(
            "END frame seq fields {} and {} differ (both hold the total)",
            h.seq_start, h.seq_end
        )),
        _ => None,
    }
}

/// Parse the 48 bytes at a frame position. `b` must hold at least
/// [`FRAME_HEADER_LEN`] bytes.
pub fn parse_frame_header(b: &[u8]) -> HeaderParse {
    let b = &b[..FRAME_HEADER_LEN];
    if b[0..4] == [0, 0, 0, 0] {
        return HeaderParse::Zero;
    }
    if b[0..4] != FRAME_MAGIC {
        return HeaderParse::BadMagic;
    }
    if crc32c::crc32c(&b[..44]) != u32_at(b, 44) {
        return HeaderParse::BadCrc;
    }
    let Some(kind) = FrameKind::from_u8(b[4]) else {
        return HeaderParse::UnknownKind(b[4]);
    };
    HeaderParse::Ok(FrameHeader {
        kind,
        codec: b[5],
        stored_len: u32_at(b, 8),
        raw_len: u32_at(b, 12),
        seq_start: u64_at(b, 16),
        seq_end: u64_at(b, 24),
        completions: u32_at(b, 32),
        payload_crc: u32_at(b, 36),
    })
}

/// Append `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag-encode a signed integer.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A bounds-checked reader over a decoded payload. Errors are plain strings
/// that the caller wraps with the frame offset.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Start reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Current position inside the payload.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Read one byte.
    pub fn u8(&mut self) -> Result<u8, String> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| format!("payload ends at byte {} (wanted 1 more)", self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    /// Read `n` bytes (checked against what is left).
    pub fn bytes(&mut self, n: u64) -> Result<&'a [u8], String> {
        if n > self.remaining() as u64 {
            return Err(format!(
                "length {n} at payload byte {} exceeds the {} bytes left",
                self.pos,
                self.remaining()
            ));
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Read an unsigned LEB128 varint (at most 10 bytes).
    #[inline]
    pub fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(format!("varint overflow at payload byte {}", self.pos));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(format!("varint too long at payload byte {}", self.pos));
            }
        }
    }

    /// Read a varint-length-prefixed byte string.
    pub fn lp_bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.bytes(n)
    }

    /// Read a varint-length-prefixed UTF-8 string.
    pub fn lp_str(&mut self) -> Result<&'a str, String> {
        let at = self.pos;
        let b = self.lp_bytes()?;
        std::str::from_utf8(b).map_err(|_| format!("invalid UTF-8 text at payload byte {at}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_roundtrip() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX, 1 << 63, (1 << 63) - 1] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Cursor::new(&b).varint(), Ok(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        // 11 continuation bytes must fail, not loop or overflow.
        let b = [0xffu8; 11];
        assert!(Cursor::new(&b).varint().is_err());
    }

    #[test]
    fn frame_header_roundtrip() {
        let h = FrameHeader {
            kind: FrameKind::Records,
            codec: CODEC_ZSTD,
            stored_len: 10,
            raw_len: 20,
            seq_start: 5,
            seq_end: 9,
            completions: 2,
            payload_crc: 0xdead_beef,
        };
        let b = encode_frame_header(&h);
        match parse_frame_header(&b) {
            HeaderParse::Ok(g) => assert_eq!(g, h),
            other => panic!("{other:?}"),
        }
    }
}
