//! What a reader may spend on one log, and the account it spends from.
//!
//! A log is untrusted input: every size, count and length in it could be a
//! lie. Two limits bound what any command does with it, checked *before*
//! the memory is allocated or the records are iterated:
//!
//! - **memory** ([`Limits::memory`]): bytes of decoded data a reader holds
//!   at once — decompressed payloads, decoded blocks, histories, queues.
//!   Each allocation that grows with the log is charged to a [`Budget`]
//!   first and made with `try_reserve`, so a log that would need more is an
//!   error naming what and how much (exit 2), never an abort. The default
//!   is three quarters of physical memory, or half of what an address-space
//!   limit (`ulimit -v`, `prlimit --as`) leaves, whichever is less;
//!   `PROBE_MEMORY_BUDGET` (bytes, or with a `K`/`M`/`G` suffix) sets it.
//! - **work** ([`Work`]): the records a log may hold per byte of its
//!   RECORDS frames, for the command reading it. Decoding, checking,
//!   drawing and exporting cost time (and output) per record, and a frame
//!   header can claim a million records that a few dozen compressed bytes
//!   "hold" (a constant column costs two bytes whatever its length), so a
//!   1 MiB file can claim 10¹⁰ records. Two bounds apply. A frame claiming
//!   more than [`Limits::frame_records_per_byte`] (1024, above the ~850 that
//!   probe's writer reaches with every column constant) is implausible and
//!   not decoded. And each command reads at most its own number of records
//!   per byte ([`Work::records_per_byte`]: from 256 for `verify` down to 10
//!   for a JSON Lines export, which writes ~175 bytes per row), or 4 M
//!   records, whichever is more — set so that any log of 1 MiB is read in
//!   seconds. Logs probe records at the default timestamp resolution hold
//!   4–10 records per byte (0.19–0.25 bytes per record); a log recorded
//!   with a coarse `--timestamp-resolution` can hold hundreds, and then
//!   `PROBE_MAX_RECORDS_PER_BYTE` lets every command read that many.
//!
//! These are the only two knobs; the layout's own bounds (frame sizes,
//! records per frame, nesting depth, dimensions) are in [`crate::log::format`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::log::LogError;

/// Records a frame may claim per byte it occupies in the file, by default.
pub const DEFAULT_FRAME_RECORDS_PER_BYTE: u64 = 1024;

/// Any log may hold this many records, whatever its density.
pub const WORK_FLOOR: u64 = 1 << 22;

/// What a command does with every record of a log, for the work bound
/// (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// `verify`: decode and check (≈ 25 ns per record).
    Verify,
    /// `info`: decode and summarise (≈ 45 ns).
    Info,
    /// `diff`: decode and compare (≈ 110 ns per pair).
    Diff,
    /// `replay`, `diff --plot`: histories and drawing (≈ 100 ns, 24 bytes).
    Draw,
    /// `export` to Parquet (≈ 160 ns per row).
    ExportParquet,
    /// `export` to Arrow IPC or CSV (≈ 350 ns and 65–110 bytes per row).
    ExportWide,
    /// `export` to JSON Lines (≈ 700 ns and 175 bytes per row).
    ExportJsonl,
}

impl Work {
    /// Records per byte of RECORDS frames this command reads by default.
    pub fn records_per_byte(self) -> u64 {
        match self {
            Work::Verify => 256,
            Work::Info => 128,
            Work::Diff | Work::Draw => 64,
            Work::ExportParquet => 32,
            Work::ExportWide => 16,
            Work::ExportJsonl => 10,
        }
    }

    /// The command, in words.
    pub fn name(self) -> &'static str {
        match self {
            Work::Verify => "verify",
            Work::Info => "info",
            Work::Diff => "diff",
            Work::Draw => "drawing",
            Work::ExportParquet => "a Parquet export",
            Work::ExportWide => "an Arrow or CSV export",
            Work::ExportJsonl => "a JSON Lines export",
        }
    }
}

/// What a reader may spend on one log. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of decoded data held at once.
    pub memory: u64,
    /// Records a RECORDS frame may claim per byte of the file it occupies
    /// (header and payload).
    pub frame_records_per_byte: u64,
    /// `PROBE_MAX_RECORDS_PER_BYTE`: every command reads this many records
    /// per byte of RECORDS frames (instead of its own default).
    pub records_per_byte: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_env()
    }
}

impl Limits {
    /// The limits from the environment (`PROBE_MEMORY_BUDGET`,
    /// `PROBE_MAX_RECORDS_PER_BYTE`), else the defaults.
    pub fn from_env() -> Limits {
        let memory = std::env::var("PROBE_MEMORY_BUDGET")
            .ok()
            .and_then(|s| parse_bytes(&s))
            .unwrap_or_else(default_memory);
        let records_per_byte = std::env::var("PROBE_MAX_RECORDS_PER_BYTE")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&n| n > 0);
        Limits {
            memory: memory.max(16 << 20),
            frame_records_per_byte: records_per_byte
                .unwrap_or(0)
                .max(DEFAULT_FRAME_RECORDS_PER_BYTE),
            records_per_byte,
        }
    }

    /// Limits with `memory` bytes and the default densities (tests).
    pub fn with_memory(memory: u64) -> Limits {
        Limits {
            memory,
            frame_records_per_byte: DEFAULT_FRAME_RECORDS_PER_BYTE,
            records_per_byte: None,
        }
    }

    /// Most records a frame occupying `frame_bytes` of the file may claim.
    pub fn max_records(&self, frame_bytes: u64) -> u64 {
        frame_bytes.saturating_mul(self.frame_records_per_byte)
    }

    /// Most records `work` reads from a log whose RECORDS frames take
    /// `frame_bytes`.
    pub fn work_records(&self, work: Work, frame_bytes: u64) -> u64 {
        let per_byte = self
            .records_per_byte
            .unwrap_or_else(|| work.records_per_byte());
        frame_bytes.saturating_mul(per_byte).max(WORK_FLOOR)
    }
}

/// `123`, `64K`, `512M`, `2G` (powers of 1024).
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 1u64 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// Three quarters of physical memory, or half of what an address-space
/// limit leaves (the mapped log and the program's own mappings count
/// against it too), whichever is less.
fn default_memory() -> u64 {
    // SAFETY: sysconf only reads system constants.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let phys = if pages > 0 && page > 0 {
        (pages as u64).saturating_mul(page as u64)
    } else {
        4 << 30
    };
    let mut budget = phys / 4 * 3;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
        && lim.rlim_cur != libc::RLIM_INFINITY
    {
        let used = vm_size().unwrap_or(256 << 20);
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
        let left = (lim.rlim_cur as u64).saturating_sub(used);
        budget = budget.min(left / 2);
    }
    budget
}

/// The process's current virtual size (`/proc/self/statm`), in bytes.
fn vm_size() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The memory account of one command: every allocation that grows with
/// the log is charged here first. Shared by reference between threads.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    /// An account of `limit` bytes.
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// The account's size.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged and not yet released.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Charge `bytes` for `what` (a phrase: "the history of x@lhs"), or
    /// fail without charging when the account would be overdrawn.
    pub fn charge(&self, bytes: u64, what: &dyn Fn() -> String) -> Result<(), LogError> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_add(bytes);
            if next > self.limit {
                return Err(LogError::OverBudget {
                    what: what(),
                    needed: next,
                    budget: self.limit,
                });
            }
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => cur = now,
            }
        }
    }

    /// Give back `bytes` charged earlier.
    pub fn release(&self, bytes: u64) {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_sub(bytes);
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Charge, then grow `v` to hold `extra` more elements without
    /// aborting on allocation failure.
    pub fn reserve<T>(
        &self,
        v: &mut Vec<T>,
        extra: usize,
        what: &dyn Fn() -> String,
    ) -> Result<(), LogError> {
        let need = v.len().saturating_add(extra);
        if need <= v.capacity() {
            return Ok(());
        }
        let bytes = (need - v.capacity()) as u64 * std::mem::size_of::<T>().max(1) as u64;
        self.charge(bytes, what)?;
        v.try_reserve_exact(extra)
            .map_err(|_| LogError::OverBudget {
                what: what(),
                needed: bytes,
                budget: self.limit,
            })
    }
}

impl Budget {
    /// Make room for `extra` more elements in `v`, growing it by doubling
    /// as a `Vec` does, but charging the growth first and allocating it
    /// without aborting.
    pub fn grow<T>(
        &self,
        v: &mut Vec<T>,
        extra: usize,
        what: &dyn Fn() -> String,
    ) -> Result<(), LogError> {
        let need = v.len().saturating_add(extra);
        if need <= v.capacity() {
            return Ok(());
        }
        let want = need.max(v.capacity().saturating_mul(2)) - v.len();
        self.reserve(v, want, what)
    }
}

/// Bytes charged to a [`Budget`] on behalf of something that holds them (a
/// decoded block, a decompressed payload), given back when it is dropped.
/// A clone is not charged: clones are short-lived copies for reports.
#[derive(Debug, Default)]
pub struct Charge {
    budget: Option<Arc<Budget>>,
    bytes: u64,
}

impl Charge {
    /// A charge of nothing against `budget`, to be added to.
    pub fn on(budget: &Arc<Budget>) -> Charge {
        Charge {
            budget: Some(budget.clone()),
            bytes: 0,
        }
    }

    /// Charge `bytes` more (nothing when not attached to a budget).
    pub fn add(&mut self, bytes: u64, what: &dyn Fn() -> String) -> Result<(), LogError> {
        if let Some(b) = &self.budget {
            b.charge(bytes, what)?;
            self.bytes += bytes;
        }
        Ok(())
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Clone for Charge {
    fn clone(&self) -> Self {
        Charge::default()
    }
}

impl PartialEq for Charge {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.release(self.bytes);
        }
    }
}

/// A vector of `n` elements, charged to `budget` and allocated without
/// aborting (an allocation failure is an [`LogError::OverBudget`] error).
pub fn try_vec<T>(
    budget: &Budget,
    n: usize,
    what: &dyn Fn() -> String,
) -> Result<Vec<T>, LogError> {
    let mut v = Vec::new();
    budget.reserve(&mut v, n, what)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_suffixes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("64k"), Some(64 << 10));
        assert_eq!(parse_bytes(" 2G "), Some(2 << 30));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(parse_bytes("99999999999999999999T"), None);
    }

    #[test]
    fn a_budget_refuses_what_would_overdraw_it() {
        let b = Budget::new(100);
        b.charge(60, &|| "a".into()).expect("fits");
        let e = b.charge(41, &|| "the thing".into()).expect_err("over");
        assert!(e.to_string().contains("the thing"), "{e}");
        assert_eq!(b.used(), 60);
        b.release(60);
        let mut v: Vec<u64> = Vec::new();
        b.reserve(&mut v, 12, &|| "v".into()).expect("96 bytes fit");
        assert!(v.capacity() >= 12);
        assert!(b.reserve(&mut v, 100, &|| "v".into()).is_err());
    }
}
