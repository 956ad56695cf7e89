//! The shared ring (docs/WIRE.md): an in-memory file the recorder creates
//! and maps, and the native core maps too, into which it writes the
//! records of the chunk it is filling. Records travel in CHUNK_BIN
//! messages as before; the ring is read only when the program died
//! without sending them (a SIGKILL, a crash in C code), so that every
//! capture it wrote still reaches the log.
//!
//! Layout: a 64-byte header of u64s — magic `PROBERNG`, record capacity
//! (set here), the agent's `base` (ordinal of the chunk's first record)
//! and `count` (records written), completion capacity (set here), the
//! agent's completion count and `overflow` (records of the chunk beyond
//! the ring, which only a message could bring) — then the records and the completions, 32
//! bytes each in CHUNK_BIN's formats. The completions are those of
//! placeholders sent in earlier chunks, made while this one filled.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use memmap2::MmapMut;

use super::binary::REC_BYTES;

/// Header bytes.
pub const HEADER: usize = 64;
/// The header's first 8 bytes.
pub const MAGIC: &[u8; 8] = b"PROBERNG";
/// Records the ring holds: the native core's chunk (it flushes at this
/// many records, so a chunk never outgrows it).
pub const CAPACITY: usize = 16_384;
/// Completions the ring holds (one per frame with a capture waiting at a
/// flush; beyond this many, only the message has them).
pub const COMP_CAPACITY: usize = 1_024;

/// The recorder's side of the ring.
pub struct SharedRing {
    /// Open until the program has been started (it inherits it).
    file: Option<File>,
    map: MmapMut,
}

/// What the ring held when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingContents {
    /// Ordinal of the first record.
    pub base: u64,
    /// The records written, `count` × 32 bytes.
    pub records: Vec<u8>,
    /// The completions written, 32 bytes each.
    pub completions: Vec<u8>,
    /// Records of the chunk beyond the ring (the agent could not send it:
    /// its pipe was closed for good); lost unless a message brought them.
    pub overflow: u64,
}

impl SharedRing {
    /// A new ring in an in-memory file (inheritable: the interpreter gets
    /// its descriptor number through the agent's configuration).
    pub fn create() -> io::Result<SharedRing> {
        let name = CString::new("probe-ring").map_err(io::Error::other)?;
        // SAFETY: memfd_create takes a NUL-terminated name and flags; no
        // MFD_CLOEXEC, so the descriptor survives the exec of the interpreter.
        // MFD_ALLOW_SEALING: its size is sealed below.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: memfd_create returned a new descriptor nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len((HEADER + (CAPACITY + COMP_CAPACITY) * REC_BYTES) as u64)?;
        // The program holds this file too (and could reach it again through
        // /proc/self/map_files): shrunk under the recorder's mapping, a read
        // of the lost pages would kill the recorder with SIGBUS. Sealed, its
        // size can no longer change; writes (the agent's MAP_SHARED
        // read-write mapping) are still allowed.
        // SAFETY: fcntl on a descriptor we own, with a seal mask.
        if unsafe {
            libc::fcntl(
                file.as_raw_fd(),
                libc::F_ADD_SEALS,
                libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL,
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the file is ours, in memory, and of the length just set;
        // the agent writes into it only while this mapping is read after it
        // has exited (see contents), and every read is bounds-checked.
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        map[..8].copy_from_slice(MAGIC);
        map[8..16].copy_from_slice(&(CAPACITY as u64).to_le_bytes());
        map[32..40].copy_from_slice(&(COMP_CAPACITY as u64).to_le_bytes());
        Ok(SharedRing {
            file: Some(file),
            map,
        })
    }

    /// The descriptor the interpreter inherits.
    pub fn fd(&self) -> Option<RawFd> {
        self.file.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Closes the recorder's descriptor (the mapping stays), once the
    /// program has been started.
    pub fn close_fd(&mut self) {
        self.file = None;
    }

    /// What the agent wrote, read after the program has ended (nothing
    /// writes it then). A count beyond the capacity (the agent never
    /// writes one) is clamped.
    pub fn contents(&self) -> RingContents {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.map[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let count = usize::try_from(word(24)).unwrap_or(CAPACITY).min(CAPACITY);
        let comps = usize::try_from(word(40))
            .unwrap_or(COMP_CAPACITY)
            .min(COMP_CAPACITY);
        let at = HEADER + CAPACITY * REC_BYTES;
        RingContents {
            base: word(16),
            records: self.map[HEADER..HEADER + count * REC_BYTES].to_vec(),
            completions: self.map[at..at + comps * REC_BYTES].to_vec(),
            overflow: word(48),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring's size is sealed: the program cannot shrink it under the
    /// recorder's mapping (SIGBUS) nor grow it, nor lift the seals; it can
    /// still write into it.
    #[test]
    fn the_ring_cannot_be_resized() {
        let ring = SharedRing::create().expect("ring");
        let fd = ring.fd().expect("fd");
        let len = (HEADER + (CAPACITY + COMP_CAPACITY) * REC_BYTES) as libc::off_t;
        for to in [0, 4096, len + 4096] {
            // SAFETY: ftruncate on a descriptor the ring owns.
            let r = unsafe { libc::ftruncate(fd, to) };
            assert_eq!(r, -1, "ftruncate to {to} succeeded");
            assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EPERM));
        }
        // SAFETY: fcntl on the ring's descriptor.
        let r = unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE) };
        assert_eq!(r, -1, "the seals can be changed");
        // Writes still work (the agent's mapping writes).
        let b = [7u8; 8];
        // SAFETY: pwrite of 8 bytes from a live buffer into the ring.
        let w = unsafe { libc::pwrite(fd, b.as_ptr().cast(), 8, 100) };
        assert_eq!(w, 8);
        assert_eq!(ring.contents().base, 0);
    }
}
