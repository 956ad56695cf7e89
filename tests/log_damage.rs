//! Damaged logs: each kind of damage gives an exact, positioned verify
//! outcome and exit code; nothing panics on truncations, flipped bytes or
//! garbage.

mod log_common;

use std::path::Path;

use log_common::*;
use probe::log::{info, verify, LogReader, VerifyReport};

fn good_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.probe");
    write_good(&path);
    std::fs::read(&path).unwrap()
}

fn verify_vec(b: Vec<u8>) -> VerifyReport {
    match LogReader::from_vec(Path::new("mem.probe"), b) {
        Ok(r) => {
            // info must not panic either.
            let _ = info(&r);
            let _: usize = r.records().count();
            verify(&r)
        }
        Err(e) => {
            assert!(e.offset().is_some(), "unreadable without an offset: {e}");
            VerifyReport {
                ok: false,
                complete: false,
                format_version: None,
                probes: 0,
                records: 0,
                frames: 0,
                bytes: 0,
                placeholders: 0,
                completions: 0,
                unknown_values: 0,
                end: None,
                violations: vec![],
                violations_omitted: 0,
                unreadable: Some(e.to_string()),
                unreadable_offset: e.offset(),
            }
        }
    }
}

fn kinds(r: &VerifyReport) -> Vec<&str> {
    r.violations.iter().map(|v| v.kind.as_str()).collect()
}

/// (offset, kind, len) of META, R1..R4, END.
fn layout(b: &[u8]) -> Vec<(usize, u8, usize)> {
    let f = frame_offsets(b);
    assert_eq!(
        f.iter().map(|x| x.1).collect::<Vec<_>>(),
        [1, 2, 2, 2, 2, 3]
    );
    f
}

#[test]
fn good_log_verifies() {
    let b = good_bytes();
    let r = verify_vec(b);
    assert!(r.ok, "{r}");
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.records, 48);
    assert_eq!((r.placeholders, r.completions), (1, 1));
}

#[test]
fn truncated_tail() {
    let mut b = good_bytes();
    let f = layout(&b);
    let (off, _, len) = f[4];
    b.truncate(off + len / 2);
    let r = verify_vec(b);
    assert_eq!(kinds(&r), ["truncated", "incomplete"], "{r}");
    assert_eq!(r.violations[0].offset, off as u64);
    assert!(r.violations[0].message.starts_with(&format!(
        "truncated frame at offset {off}: RECORDS frame (records 36..47) needs"
    )));
    assert_eq!(r.records, 36);
    assert_eq!(r.exit_code(), 1);
    assert!(!r.complete);
}

#[test]
fn flipped_payload_byte() {
    let mut b = good_bytes();
    let f = layout(&b);
    let (off, _, len) = f[2];
    b[off + 48 + len / 3] ^= 0x10;
    let r = verify_vec(b);
    assert_eq!(
        kinds(&r),
        [
            "checksum_mismatch",
            "missing_records",
            "end_totals",
            "end_per_probe"
        ],
        "{r}"
    );
    assert_eq!(
        r.violations[0].message,
        format!("checksum mismatch at offset {off}: RECORDS frame payload (records 12..23)")
    );
    assert_eq!(
        r.violations[1].message,
        format!(
            "records 12..23 missing between offsets {off} and {}",
            off + len
        )
    );
    assert_eq!(r.records, 36);
    assert!(r.complete);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn flipped_header_byte() {
    let mut b = good_bytes();
    let f = layout(&b);
    let (off, _, len) = f[2];
    b[off + 17] ^= 0x01; // seq_start
    let r = verify_vec(b);
    assert_eq!(
        kinds(&r),
        [
            "checksum_mismatch",
            "missing_records",
            "end_totals",
            "end_per_probe"
        ],
        "{r}"
    );
    assert_eq!(
        r.violations[0].message,
        format!(
            "checksum mismatch at offset {off}: frame header checksum mismatch; skipped {len} bytes to the next frame at offset {}",
            off + len
        )
    );
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn missing_end_marker() {
    let mut b = good_bytes();
    let f = layout(&b);
    let end_off = f[5].0;
    b.truncate(end_off);
    let r = verify_vec(b);
    assert_eq!(kinds(&r), ["incomplete"], "{r}");
    assert_eq!(
        r.violations[0].message,
        format!("incomplete: no end marker (program killed or recorder died); 48 records readable up to offset {end_off}")
    );
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn missing_frame() {
    let mut b = good_bytes();
    let f = layout(&b);
    let (off, _, len) = f[2];
    b.drain(off..off + len);
    let r = verify_vec(b);
    assert_eq!(
        kinds(&r),
        ["missing_records", "end_totals", "end_per_probe"],
        "{r}"
    );
    assert_eq!(
        r.violations[0].message,
        format!("records 12..23 missing between offsets {off} and {off}")
    );
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn damaged_meta_or_file_header_is_unreadable() {
    let b = good_bytes();
    let mut x = b.clone();
    x[3] ^= 1;
    let r = verify_vec(x);
    assert_eq!(r.exit_code(), 2);
    assert!(r
        .unreadable
        .as_deref()
        .unwrap()
        .contains("bad magic at offset 0"));
    let mut x = b.clone();
    x[8] = 9; // version
    let crc = crc32c::crc32c(&x[..12]);
    x[12..16].copy_from_slice(&crc.to_le_bytes());
    let r = verify_vec(x);
    assert_eq!(r.exit_code(), 2);
    assert!(r
        .unreadable
        .as_deref()
        .unwrap()
        .contains("unsupported format version 9"));
    let mut x = b.clone();
    x[16 + 48 + 5] ^= 1; // META payload
    let r = verify_vec(x);
    assert_eq!(r.exit_code(), 2);
    assert_eq!(r.unreadable_offset, Some(16));
    assert!(verify_vec(Vec::new()).unreadable.is_some());
}

#[test]
fn trailing_zeros_are_not_corruption() {
    let mut b = good_bytes();
    b.extend(std::iter::repeat_n(0u8, 1 << 20));
    let r = verify_vec(b.clone());
    assert!(r.ok, "{r}");
    // Also a short zero tail (less than a frame header).
    let mut b = good_bytes();
    b.extend([0u8; 10]);
    assert!(verify_vec(b).ok);
}

#[test]
fn zeroed_region_in_the_middle_is_reported_and_skipped() {
    let mut b = good_bytes();
    let f = layout(&b);
    let (off, _, len) = f[2];
    b[off..off + len].iter_mut().for_each(|x| *x = 0);
    let r = verify_vec(b);
    assert_eq!(r.violations[0].kind, "damaged", "{r}");
    assert_eq!(r.violations[0].offset, off as u64);
    assert!(r.complete, "END after the hole is still found");
    assert_eq!(r.records, 36);
}

#[test]
fn every_truncation_point_is_handled() {
    let b = good_bytes();
    let f = layout(&b);
    let meta_end = f[0].0 + f[0].2;
    for cut in 0..b.len() {
        let r = verify_vec(b[..cut].to_vec());
        if cut < meta_end {
            assert_eq!(r.exit_code(), 2, "cut at {cut}: {r}");
        } else {
            assert_eq!(r.exit_code(), 1, "cut at {cut}: {r}");
            assert!(!r.complete);
        }
    }
    assert_eq!(verify_vec(b).exit_code(), 0);
}

#[test]
fn every_single_byte_flip_is_detected() {
    let b = good_bytes();
    for i in 0..b.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut x = b.clone();
            x[i] ^= mask;
            let r = verify_vec(x);
            assert_ne!(r.exit_code(), 0, "flip {mask:#x} at {i} went unnoticed");
            for v in &r.violations {
                assert!(v.offset <= b.len() as u64);
            }
        }
    }
}

#[test]
fn random_garbage_never_panics() {
    let b = good_bytes();
    let mut rng = Rng(99);
    for round in 0..2000 {
        let mut x = if round % 2 == 0 {
            // Garbage after a valid header and META.
            let f = frame_offsets(&b);
            b[..f[0].0 + f[0].2].to_vec()
        } else {
            Vec::new()
        };
        let n = rng.below(600) as usize;
        x.extend((0..n).map(|_| rng.next() as u8));
        if round % 7 == 0 {
            // Sprinkle frame magics so the resync path gets exercised.
            for _ in 0..5 {
                if x.len() > 4 {
                    let at = rng.below(x.len() as u64 - 4) as usize;
                    x[at..at + 4].copy_from_slice(b"PRBF");
                }
            }
        }
        let r = verify_vec(x);
        assert_ne!(r.exit_code(), 0);
    }
    // Several random flips at once in a good log.
    for _ in 0..500 {
        let mut x = b.clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(x.len() as u64) as usize;
            x[at] = rng.next() as u8;
        }
        let _ = verify_vec(x);
    }
}

/// Rebuild frame `f` of `b` with a new raw payload, valid checksums and
/// header fields `n` records from `seq_start` (hostile-but-checksummed input).
fn with_payload(b: &[u8], f: (usize, u8, usize), raw: &[u8], seq_start: u64, n: u64) -> Vec<u8> {
    let (off, _, len) = f;
    let comp = zstd::bulk::compress(raw, 3).unwrap();
    let mut h = b[off..off + 48].to_vec();
    h[8..12].copy_from_slice(&(comp.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(raw.len() as u32).to_le_bytes());
    h[16..24].copy_from_slice(&seq_start.to_le_bytes());
    h[24..32].copy_from_slice(&(seq_start + n).to_le_bytes());
    h[36..40].copy_from_slice(&crc32c::crc32c(&comp).to_le_bytes());
    let crc = crc32c::crc32c(&h[..44]);
    h[44..48].copy_from_slice(&crc.to_le_bytes());
    let mut out = b[..off].to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&comp);
    out.extend_from_slice(&b[off + len..]);
    out
}

#[test]
fn checksummed_garbage_blocks_never_panic() {
    let b = good_bytes();
    let f = layout(&b);
    let (off, _, len) = f[2];
    let raw = zstd::bulk::decompress(&b[off + 48..off + len], 1 << 20).unwrap();
    // The unmodified payload re-wrapped verifies fine.
    assert!(verify_vec(with_payload(&b, f[2], &raw, 12, 12)).ok);
    let mut rng = Rng(5);
    let mut undecodable = 0;
    for round in 0..3000 {
        let mut x = raw.clone();
        match round % 3 {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(x.len() as u64) as usize;
                    x[at] = rng.next() as u8;
                }
            }
            1 => x.truncate(rng.below(x.len() as u64) as usize),
            _ => {
                let at = rng.below(x.len() as u64) as usize;
                x.insert(at, rng.next() as u8);
            }
        }
        let n = if round % 10 == 0 {
            rng.below(1 << 21)
        } else {
            12
        };
        let r = verify_vec(with_payload(&b, f[2], &x, 12, n));
        if r.violations.iter().any(|v| v.kind == "undecodable") {
            undecodable += 1;
            let v = r
                .violations
                .iter()
                .find(|v| v.kind == "undecodable")
                .unwrap();
            assert_eq!(v.offset, off as u64);
        }
    }
    assert!(undecodable > 1000, "{undecodable}");
}
