//! Hostile logs and the harness that feeds them to every reader command.
//!
//! Shared by the CI test (`tests/hostile_logs.rs`, ≥ 1,000 inputs with
//! fixed seeds) and the long run (`examples/fuzz_readers.rs`, driven by
//! `scripts/fuzz-readers.sh`, ≥ 20,000 inputs).
//!
//! Two sources of input, each at most 1 MiB:
//! - **structure-aware generation** ([`generate`]): logs built field by
//!   field with valid checksums and hostile contents — frame headers with
//!   huge, reversed, overlapping or out-of-order seq ranges, forged
//!   completion counts, flags and reserved fields, lying raw lengths, zstd
//!   bombs, unknown codecs and kinds; blocks whose columns claim a million
//!   records in a few bytes, name probes that do not exist, or hold
//!   unknown statuses and tags; values at ±1.7e308, ±inf, NaN, arrays
//!   claiming enormous or overflowing shapes, thousands of short strings,
//!   long strings, escape sequences; end markers with huge probe counts,
//!   totals and lost captures; probe tables of thousands of entries.
//! - **mutation** ([`mutate`]) of real logs written by the log writer:
//!   flipped and random bytes, insertions, deletions, truncations, zeroed
//!   regions, duplicated, swapped and dropped frames, and header fields
//!   rewritten with their checksum recomputed.
//!
//! [`run`] executes one reader command as a real subprocess under a time
//! and an address-space limit and reports what happened.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use probe::log::block::BlockCodec;
use probe::log::{LogWriter, RecordBlock};
use probe::model::{ArrayValue, CaptureRecord, Dtype, Role, Status, Value};

/// splitmix64: a tiny deterministic generator (fixed seeds, reproducible inputs).
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `p` percent.
    pub fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    /// One of `xs`.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Inputs are at most this large.
pub const MAX_INPUT: usize = 1 << 20;

// ---------------------------------------------------------------- builders

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The 16-byte file header (flags normally 0).
pub fn file_header(flags: u16) -> Vec<u8> {
    let mut h = b"\x89PRB\r\n\x1a\n".to_vec();
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    let crc = crc32c::crc32c(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// A frame header's fields.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub kind: u8,
    pub codec: u8,
    pub flags: u16,
    pub raw_len: u32,
    pub seq_start: u64,
    pub seq_end: u64,
    pub completions: u32,
    pub reserved: u32,
}

impl Header {
    pub fn new(kind: u8, codec: u8, raw_len: usize, seq_start: u64, seq_end: u64) -> Header {
        Header {
            kind,
            codec,
            flags: 0,
            raw_len: raw_len as u32,
            seq_start,
            seq_end,
            completions: 0,
            reserved: 0,
        }
    }
}

/// A whole frame: header (with both checksums right) and stored payload.
pub fn frame(h: &Header, stored: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 48];
    b[0..4].copy_from_slice(b"PRBF");
    b[4] = h.kind;
    b[5] = h.codec;
    b[6..8].copy_from_slice(&h.flags.to_le_bytes());
    b[8..12].copy_from_slice(&(stored.len() as u32).to_le_bytes());
    b[12..16].copy_from_slice(&h.raw_len.to_le_bytes());
    b[16..24].copy_from_slice(&h.seq_start.to_le_bytes());
    b[24..32].copy_from_slice(&h.seq_end.to_le_bytes());
    b[32..36].copy_from_slice(&h.completions.to_le_bytes());
    b[36..40].copy_from_slice(&crc32c::crc32c(stored).to_le_bytes());
    b[40..44].copy_from_slice(&h.reserved.to_le_bytes());
    let crc = crc32c::crc32c(&b[..44]);
    b[44..48].copy_from_slice(&crc.to_le_bytes());
    b.extend_from_slice(stored);
    b
}

/// Recompute both checksums of the frame at `off` in place.
pub fn fix_frame(bytes: &mut [u8], off: usize) {
    if off + 48 > bytes.len() {
        return;
    }
    let len = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
    let end = (off + 48 + len).min(bytes.len());
    let crc = crc32c::crc32c(&bytes[off + 48..end]);
    bytes[off + 36..off + 40].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[off..off + 44]);
    bytes[off + 44..off + 48].copy_from_slice(&crc.to_le_bytes());
}

/// An uncompressed META or END frame holding `json`.
pub fn json_frame(kind: u8, json: &[u8], seq: u64) -> Vec<u8> {
    frame(&Header::new(kind, 0, json.len(), seq, seq), json)
}

/// A probe table entry as META JSON.
fn probe_json(id: u32, file: &str, line: u64, name: &str, role: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "spec": format!("{file}:{line}:{name}@{role}"), "file": file,
        "line": line, "name": name, "role": role,
    })
}

/// META JSON for `n` probes (names and files may be hostile).
pub fn meta_json(probes: Vec<serde_json::Value>, command: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "probe_version": "0.1.0",
        "probes": probes,
        "command": ["python3", command],
        "cwd": "/src",
        "python_version": "3.12.1",
        "python_executable": "/usr/bin/python3",
        "core": "monitoring",
        "start_unix_ns": 1_714_564_800_123_000_000u64,
        "max_value_bytes": 4096,
        "ts_resolution_ns": 1,
    }))
    .unwrap()
}

/// END JSON.
pub fn end_json(
    total: u64,
    per_probe: &[u64],
    placeholders: u64,
    completions: u64,
    kind: &str,
    detail: Option<&str>,
    lost: u64,
) -> Vec<u8> {
    let mut exit = serde_json::json!({"kind": kind, "code": 0});
    if let Some(d) = detail {
        exit["detail"] = serde_json::json!(d);
    }
    serde_json::to_vec(&serde_json::json!({
        "total_records": total, "per_probe": per_probe, "placeholders": placeholders,
        "completions": completions, "exit": exit, "duration_ns": 1_000_000,
        "lost_records": lost,
    }))
    .unwrap()
}

/// A RECORDS frame of `recs` (consecutive seqs from `recs[0].seq`) plus
/// completions, encoded by probe's own block codec and zstd.
pub fn records_frame(recs: &[CaptureRecord], completions: &[(u64, Status, Value)]) -> Vec<u8> {
    let start = recs.first().map_or(0, |r| r.seq);
    let mut b = RecordBlock::new(start);
    for r in recs {
        b.push(r);
    }
    for (s, st, v) in completions {
        b.push_completion(*s, *st, v);
    }
    let mut raw = Vec::new();
    BlockCodec::new().encode(&b, &mut raw).expect("encode");
    let comp = zstd::bulk::compress(&raw, 3).expect("zstd");
    let mut h = Header::new(2, 1, raw.len(), start, start + recs.len() as u64);
    h.completions = completions.len() as u32;
    frame(&h, &comp)
}

/// A raw block of `n` records whose columns are all constant (two bytes
/// each, whatever `n`): the cheapest way to claim many records.
pub fn const_block(
    n: u64,
    probe: u64,
    status: u64,
    tag: u64,
    ts_delta: u64,
    n_comp: u64,
) -> Vec<u8> {
    let mut b = Vec::new();
    varint(&mut b, n);
    varint(&mut b, n_comp);
    varint(&mut b, 1000); // ts0
    for v in [ts_delta, 7, probe, 0, status, tag] {
        b.push(0);
        varint(&mut b, v);
    }
    // ints column (const delta 1), floats column (const), empty misc
    b.push(0);
    varint(&mut b, 1);
    b.push(0);
    varint(&mut b, 0x3ff0_0000_0000_0000);
    varint(&mut b, 0);
    b
}

pub fn rec(
    seq: u64,
    ts: u64,
    probe: u32,
    order: u16,
    status: Status,
    value: Value,
) -> CaptureRecord {
    CaptureRecord {
        seq,
        ts_ns: ts,
        thread: 1,
        probe,
        order,
        status,
        value,
    }
}

fn array(dtype: Dtype, shape: Vec<u64>, data: Vec<u8>, truncated: bool) -> Value {
    Value::Array(ArrayValue {
        type_name: "ndarray".into(),
        dtype,
        shape,
        data,
        truncated,
    })
}

fn f64s(xs: &[f64]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Text with terminal escape sequences and other controls in it.
pub const ESCAPES: &str =
    "\x1b[2J\x1b]0;pwned\x07\r\nverdict: OK, all guarantees hold\u{202e}\u{9b}31m";

/// A hostile value.
fn hostile_value(rng: &mut Rng) -> Value {
    let m = f64::MAX;
    match rng.below(24) {
        0 => Value::Float(m),
        1 => Value::Float(-m),
        2 => Value::Float(f64::INFINITY),
        3 => Value::Float(f64::NEG_INFINITY),
        4 => Value::Float(f64::NAN),
        5 => Value::Float(f64::from_bits(1)),
        6 => Value::Int(i64::MIN),
        7 => Value::Int(i64::MAX),
        8 => Value::Complex(m, -m),
        9 => Value::Complex(f64::INFINITY, f64::NAN),
        10 => array(
            Dtype::Float64,
            vec![4],
            f64s(&[m, -m, f64::INFINITY, 0.0]),
            false,
        ),
        11 => array(
            Dtype::Float64,
            vec![1 << 31, 1 << 31],
            f64s(&[1.0, 2.0]),
            true,
        ),
        12 => array(
            Dtype::Float64,
            vec![1 << 20, 1 << 20, 1 << 20],
            f64s(&[1.0]),
            true,
        ),
        13 => array(
            Dtype::Complex128,
            vec![3],
            f64s(&[m, m, -m, f64::NAN, 0.0, 1.0]),
            false,
        ),
        14 => array(
            Dtype::Float64,
            vec![2, 2],
            f64s(&[m, -m, f64::NAN, f64::INFINITY]),
            false,
        ),
        15 => array(Dtype::Uint8, vec![0, 1 << 40], vec![], false),
        16 => Value::Str {
            text: ESCAPES.into(),
            truncated: false,
        },
        17 => Value::Other {
            type_name: ESCAPES.into(),
            repr: ESCAPES.repeat(3),
            truncated: true,
        },
        18 => Value::Error {
            exc_type: "E\x1b[31m".into(),
            message: ESCAPES.into(),
        },
        19 => Value::Str {
            text: "x".repeat(rng.below(200_000) as usize),
            truncated: true,
        },
        20 => Value::BigInt("9".repeat(rng.below(5000) as usize + 1)),
        21 => Value::Sub {
            type_name: "Sub".into(),
            base: Box::new(Value::Float(-m)),
        },
        22 => array(
            Dtype::Float64,
            vec![rng.below(20_000)],
            f64s(
                &(0..rng.below(20_000))
                    .map(|i| (i as f64).powi(30))
                    .collect::<Vec<_>>(),
            ),
            true,
        ),
        _ => Value::Bytes {
            data: ESCAPES.as_bytes().to_vec(),
            truncated: false,
        },
    }
}

// ---------------------------------------------------------------- generation

/// A structure-aware hostile log: returns its bytes and a short name of
/// what is hostile in it.
pub fn generate(rng: &mut Rng, bomb: &[u8]) -> (Vec<u8>, String) {
    let case = rng.below(20);
    let mut out = file_header(0);
    let n_probes = match rng.below(10) {
        0 => rng.below(5000) + 1,
        1 => 0,
        _ => rng.below(4) + 1,
    } as u32;
    let hostile_names = rng.pct(20);
    let probes: Vec<serde_json::Value> = (0..n_probes)
        .map(|i| {
            let (file, name) = if hostile_names {
                (format!("/src/{ESCAPES}.py"), format!("v{i}{ESCAPES}"))
            } else {
                ("/src/loop.py".to_string(), format!("v{i}"))
            };
            let line = if rng.pct(5) {
                u64::from(u32::MAX)
            } else {
                3 + u64::from(i)
            };
            probe_json(
                i,
                &file,
                line,
                &name,
                if i % 2 == 0 { "lhs" } else { "rhs" },
            )
        })
        .collect();
    out.extend(json_frame(1, &meta_json(probes, "loop.py"), 0));
    let np = n_probes.max(1);
    let mut name = String::new();
    let mut seq = 0u64;
    let mut per_probe = vec![0u64; n_probes as usize];
    let count = |p: u32, per: &mut Vec<u64>| {
        if let Some(c) = per.get_mut(p as usize) {
            *c += 1;
        }
    };
    match case {
        // Hostile values in valid frames.
        0..=5 => {
            name.push_str("values");
            let frames = rng.below(4) + 1;
            for _ in 0..frames {
                let n = rng.below(300) + 1;
                let recs: Vec<CaptureRecord> = (0..n)
                    .map(|i| {
                        let p = (i % u64::from(np)) as u32;
                        count(p, &mut per_probe);
                        let v = if rng.pct(60) {
                            hostile_value(rng)
                        } else {
                            Value::Float(rng.next() as f64)
                        };
                        rec(seq + i, 1000 + (seq + i) * 300, p, 0, Status::Ok, v)
                    })
                    .collect();
                seq += n;
                if n_probes > 0 {
                    out.extend(records_frame(&recs, &[]));
                }
            }
        }
        // Thousands of short strings.
        6 => {
            name.push_str("many-strings");
            let n = rng.below(60_000) + 1000;
            let recs: Vec<CaptureRecord> = (0..n)
                .map(|i| {
                    count(0, &mut per_probe);
                    rec(
                        i,
                        1000 + i,
                        0,
                        0,
                        Status::Ok,
                        Value::Str {
                            text: format!("{:08}", rng.next() % 100_000_000),
                            truncated: false,
                        },
                    )
                })
                .collect();
            seq = n;
            if n_probes > 0 {
                for chunk in recs.chunks(65_536) {
                    out.extend(records_frame(chunk, &[]));
                }
            }
        }
        // Constant columns claiming many records per frame: at the
        // plausibility edge, or just under a command's work bound.
        7 | 8 => {
            let density = rng.pick(&[4u64, 10, 16, 32, 64, 128, 256, 1024, 1100]);
            let budget = if case == 7 { 4096 } else { MAX_INPUT - 400 };
            name.push_str(&format!("dense-{density}"));
            while out.len() < budget {
                let mut n = 1000u64;
                for _ in 0..4 {
                    let raw = const_block(n, 0, 0, 4, 1, 0);
                    let comp = zstd::bulk::compress(&raw, 3).unwrap();
                    n = density * (48 + comp.len() as u64);
                }
                let n = n.min(1 << 20);
                let raw = const_block(n, rng.below(u64::from(np)), 0, 4, rng.below(3), 0);
                let comp = zstd::bulk::compress(&raw, 3).unwrap();
                out.extend(frame(&Header::new(2, 1, raw.len(), seq, seq + n), &comp));
                seq += n;
            }
        }
        // Frame headers with hostile fields (checksums right).
        9 | 10 => {
            name.push_str("headers");
            for k in 0..rng.below(6) + 1 {
                let n = rng.below(50) + 1;
                let recs: Vec<CaptureRecord> = (0..n)
                    .map(|i| {
                        rec(
                            i,
                            i * 10,
                            (i % u64::from(np)) as u32,
                            0,
                            Status::Ok,
                            Value::Int(i as i64),
                        )
                    })
                    .collect();
                let mut f = records_frame(&recs, &[]);
                let field = rng.below(9);
                let off = match field {
                    0 => 16, // seq_start
                    1 => 24, // seq_end
                    2 => 32, // completions
                    3 => 6,  // flags
                    4 => 40, // reserved
                    5 => 12, // raw_len
                    6 => 5,  // codec
                    7 => 4,  // kind
                    _ => 16,
                };
                let v: u64 = rng.pick(&[
                    0,
                    1,
                    k,
                    u64::MAX,
                    u64::MAX / 2,
                    1 << 20,
                    1 << 40,
                    255,
                    64,
                    3,
                ]);
                let width = match field {
                    0 | 1 | 8 => 8,
                    3 => 2,
                    6 | 7 => 1,
                    _ => 4,
                };
                f[off..off + width].copy_from_slice(&v.to_le_bytes()[..width]);
                fix_frame(&mut f, 0);
                out.extend(f);
                name.push_str(&format!("-{field}"));
            }
        }
        // Raw lengths that lie, zstd bombs.
        11 | 12 => {
            name.push_str("bomb");
            let raw_len = match rng.below(4) {
                0 => 256 << 20,
                1 => (256 << 20) + 1,
                2 => 1,
                _ => 200 << 20,
            };
            let h = Header::new(2, 1, raw_len, 0, rng.pick(&[0, 1, 1 << 20]));
            out.extend(frame(&h, bomb));
        }
        // Block contents that break rules (checksummed).
        13 | 14 => {
            name.push_str("block");
            let n = rng.below(1000) + 1;
            let raw = match rng.below(6) {
                0 => const_block(n, u64::from(np) + rng.below(1 << 32), 0, 4, 1, 0),
                1 => const_block(n, 0, rng.pick(&[5, 6, 255, u64::MAX]), 4, 1, 0),
                2 => const_block(n, 0, 0, rng.pick(&[14, 200, 255, 7]), 1, 0),
                3 => const_block(n, 0, 5, 0, 1, rng.pick(&[1, 1 << 30, u64::MAX])),
                4 => {
                    let mut b = const_block(n, 0, 0, 13, 1, 0);
                    b.pop();
                    // one misc entry: an array with a huge shape
                    let mut a = vec![1u8, 11];
                    varint(&mut a, 7);
                    a.extend_from_slice(b"ndarray");
                    varint(&mut a, 2);
                    varint(&mut a, rng.pick(&[u64::MAX, 1 << 40, 1 << 31]));
                    varint(&mut a, rng.pick(&[u64::MAX, 1 << 40, 1 << 33]));
                    a.extend_from_slice(&1.0f64.to_le_bytes());
                    let mut misc = Vec::new();
                    for _ in 0..n {
                        varint(&mut misc, a.len() as u64);
                        misc.extend_from_slice(&a);
                    }
                    varint(&mut b, misc.len() as u64);
                    b.extend(misc);
                    b
                }
                _ => {
                    let mut b = const_block(n, 0, 0, 4, 1, 0);
                    let at = rng.below(b.len() as u64) as usize;
                    b[at] = rng.next() as u8;
                    b
                }
            };
            let comp = zstd::bulk::compress(&raw, 3).unwrap();
            let mut h = Header::new(2, 1, raw.len(), 0, n);
            h.completions = rng.pick(&[0, 1, u32::MAX]);
            out.extend(frame(&h, &comp));
            seq = n;
        }
        // Placeholders, completions and sequence games.
        15 | 16 => {
            name.push_str("seqs");
            let frames = rng.below(8) + 2;
            let mut starts: Vec<u64> = (0..frames).map(|k| k * 10).collect();
            match rng.below(4) {
                0 => starts.reverse(),
                1 => starts.swap(0, frames as usize - 1),
                2 => starts.iter_mut().for_each(|s| *s /= 2),
                _ => starts
                    .iter_mut()
                    .for_each(|s| *s = s.wrapping_add(u64::MAX - 100)),
            }
            for &s in &starts {
                let recs: Vec<CaptureRecord> = (0..10)
                    .map(|i| {
                        let st = if rng.pct(30) {
                            Status::Pending
                        } else {
                            Status::Ok
                        };
                        rec(
                            s.wrapping_add(i),
                            s.wrapping_add(i),
                            0,
                            (i % 3) as u16,
                            st,
                            Value::Absent,
                        )
                    })
                    .collect();
                let comps: Vec<(u64, Status, Value)> = (0..rng.below(5))
                    .map(|_| {
                        (
                            rng.below(200),
                            rng.pick(&[Status::Ok, Status::Pending]),
                            Value::Int(1),
                        )
                    })
                    .collect();
                out.extend(records_frame(&recs, &comps));
            }
            seq = frames * 10;
        }
        // Odd frames: optional kinds, second META/END, records after END.
        17 => {
            name.push_str("kinds");
            let k = rng.pick(&[4u8, 63, 64, 100, 127, 128, 255, 1, 3]);
            let payload = vec![0u8; rng.below(100) as usize];
            out.extend(frame(&Header::new(k, 0, payload.len(), 0, 0), &payload));
            let recs = vec![rec(0, 0, 0, 0, Status::Ok, Value::Int(1))];
            out.extend(records_frame(&recs, &[]));
            seq = 1;
        }
        // Zeroed or garbage regions, and a sparse tail.
        18 => {
            name.push_str("regions");
            let recs = vec![rec(0, 0, 0, 0, Status::Ok, Value::Float(1.0))];
            out.extend(records_frame(&recs, &[]));
            out.extend(std::iter::repeat_n(0u8, rng.below(10_000) as usize));
            if rng.pct(50) {
                out.extend(records_frame(
                    &[rec(1, 1, 0, 0, Status::Ok, Value::Float(2.0))],
                    &[],
                ));
            }
            seq = 2;
        }
        // Many probes in the end marker, huge counts.
        _ => {
            name.push_str("end");
        }
    }
    // The end marker (sometimes absent, sometimes hostile).
    if rng.pct(85) {
        let per: Vec<u64> = match rng.below(6) {
            0 => vec![1 << 34; n_probes as usize],
            1 => vec![u64::MAX; rng.below(50_000) as usize],
            2 => vec![0; rng.below(100_000) as usize],
            _ => per_probe.clone(),
        };
        let total = match rng.below(5) {
            0 => u64::MAX,
            1 => 1 << 40,
            _ => seq,
        };
        let kind = rng.pick(&["exit", "exit", "lost", "signal", "\x1b[31mweird", "aborted"]);
        let detail = rng.pct(30).then_some(ESCAPES);
        let lost = if rng.pct(15) {
            rng.pick(&[1u64, 1000, u64::MAX])
        } else {
            0
        };
        let json = end_json(total, &per, 0, 0, kind, detail, lost);
        if out.len() + json.len() + 48 <= MAX_INPUT {
            out.extend(json_frame(3, &json, total));
        }
    }
    out.truncate(MAX_INPUT);
    (out, format!("gen-{name}"))
}

/// 200 MiB of zeros in one zstd frame (a few KB): the bomb [`generate`] plants.
pub fn zstd_bomb() -> Vec<u8> {
    zstd::bulk::compress(&vec![0u8; 200 << 20], 1).expect("zstd")
}

// ---------------------------------------------------------------- seeds

/// Real logs written by probe's own log writer: the mutation seeds.
pub fn seed_logs(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let meta = |n: u32| probe::log::RunMeta {
        probe_version: "0.1.0".into(),
        probes: (0..n)
            .map(|i| probe::model::ProbeInfo {
                id: i,
                spec: format!("/src/loop.py:{}:v{i}@lhs", 3 + i),
                file: "/src/loop.py".into(),
                line: 3 + i,
                name: format!("v{i}"),
                role: if i % 2 == 0 { Role::Lhs } else { Role::Rhs },
            })
            .collect(),
        command: vec!["python3".into(), "loop.py".into()],
        cwd: "/src".into(),
        python_version: "3.12.1".into(),
        python_executable: "/usr/bin/python3".into(),
        core: "monitoring".into(),
        core_note: None,
        start_unix_ns: 1_714_564_800_123_000_000,
        max_value_bytes: 4096,
        max_array_bytes: 1 << 20,
        ts_resolution_ns: 1000,
    };
    let exit = probe::log::ExitInfo {
        kind: "exit".into(),
        code: 0,
        signal: None,
        exception: None,
        detail: None,
        ..Default::default()
    };
    let mut rng = Rng(11);
    for (k, (n, probes, frame_every)) in [
        (3_000u64, 1u32, 1000u64),
        (600, 3, 100),
        (40, 2, 7),
        (20_000, 2, 4000),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.join(format!("seed-{k}.probe"));
        let mut w = LogWriter::create(&path, true, &meta(probes)).expect("create");
        let mut ts = 1000;
        let mut pending = Vec::new();
        for i in 0..n {
            ts += 300 + rng.below(50);
            let p = (i % u64::from(probes)) as u32;
            let v = match (k, i % 7) {
                (1, 0) => Value::Str {
                    text: format!("s{i}"),
                    truncated: false,
                },
                (1, 1) => Value::Complex(i as f64, -(i as f64)),
                (2, _) => array(
                    Dtype::Float64,
                    vec![4],
                    f64s(&[i as f64, 1.0, -2.0, 0.5]),
                    false,
                ),
                (_, 2) => Value::Float(i as f64 * 0.25),
                _ => Value::Int(i as i64),
            };
            let status = if k == 1 && i % 50 == 3 {
                Status::Pending
            } else {
                Status::Ok
            };
            let order = 0;
            let r = CaptureRecord {
                seq: i,
                ts_ns: ts,
                thread: 7,
                probe: p,
                order,
                status,
                value: if status == Status::Pending {
                    Value::Absent
                } else {
                    v
                },
            };
            w.append(&r).expect("append");
            if status == Status::Pending {
                pending.push(i);
            }
            if i % frame_every == frame_every - 1 {
                w.flush_frame().expect("flush");
                for s in pending.drain(..) {
                    w.complete(s, Status::Ok, &Value::Int(-1))
                        .expect("complete");
                }
            }
        }
        w.finish(exit.clone(), ts).expect("finish");
        out.push(std::fs::read(&path).expect("read seed"));
    }
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1/good.probe");
    out.push(std::fs::read(good).expect("good fixture"));
    out
}

/// Frame offsets of a log (following stored lengths): (offset, total length).
pub fn frames_of(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos + 48 <= b.len() && b[pos..pos + 4] == *b"PRBF" {
        let len = u32::from_le_bytes(b[pos + 8..pos + 12].try_into().unwrap()) as usize;
        if pos + 48 + len > b.len() {
            break;
        }
        out.push((pos, 48 + len));
        pos += 48 + len;
    }
    out
}

/// How a mutation changed a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Bytes of the header or frames changed, checksums not redone:
    /// `verify` must not say OK.
    Altered,
    /// A header field rewritten, its checksum redone: `verify` must not
    /// say OK either (every header field is checked against the frame).
    Forged,
    /// A payload re-encoded with fresh checksums: possibly a valid log.
    Reencoded,
    /// Only trailing zero bytes added: still the same log.
    Same,
}

/// A mutation of a real log.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> (Vec<u8>, Change, String) {
    let mut b = seed.to_vec();
    let frames = frames_of(&b);
    let op = rng.below(14);
    let name;
    let mut change = Change::Altered;
    match op {
        0 => {
            for _ in 0..rng.below(4) + 1 {
                let at = rng.below(b.len() as u64) as usize;
                b[at] ^= 1 << rng.below(8);
            }
            name = "bitflip";
        }
        1 => {
            for _ in 0..rng.below(8) + 1 {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next() as u8;
            }
            name = "bytes";
        }
        2 => {
            let at = rng.below(b.len() as u64) as usize;
            let n = rng.below(64) as usize + 1;
            let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            b.splice(at..at, ins);
            name = "insert";
        }
        3 => {
            let at = rng.below(b.len() as u64) as usize;
            let n = (rng.below(200) as usize + 1).min(b.len() - at);
            b.drain(at..at + n);
            name = "delete";
        }
        4 => {
            b.truncate(rng.below(b.len() as u64) as usize);
            name = "truncate";
        }
        5 => {
            let at = rng.below(b.len() as u64) as usize;
            let n = (rng.below(500) as usize + 1).min(b.len() - at);
            if b[at..at + n].iter().all(|&x| x == 0) {
                b[at] = 1;
            }
            b[at..at + n].iter_mut().for_each(|x| *x = 0);
            name = "zero";
        }
        6..=8 if frames.len() > 2 => {
            let i = 1 + rng.below(frames.len() as u64 - 1) as usize;
            let (off, len) = frames[i];
            let piece = b[off..off + len].to_vec();
            match op {
                6 => {
                    let j = 1 + rng.below(frames.len() as u64 - 1) as usize;
                    let at = frames[j].0;
                    b.splice(at..at, piece);
                    name = "dup-frame";
                }
                7 => {
                    b.drain(off..off + len);
                    name = "drop-frame";
                }
                _ => {
                    let j = 1 + rng.below(frames.len() as u64 - 1) as usize;
                    if j == i {
                        b.drain(off..off + len);
                        name = "drop-frame";
                    } else {
                        let (o2, l2) = frames[j];
                        let other = b[o2..o2 + l2].to_vec();
                        let (first, second) = if i < j {
                            ((off, len, other), (o2, l2, piece))
                        } else {
                            ((o2, l2, piece), (off, len, other))
                        };
                        // Replace the later one first so offsets stay valid.
                        b.splice(second.0..second.0 + second.1, second.2);
                        b.splice(first.0..first.0 + first.1, first.2);
                        name = "swap-frames";
                    }
                }
            }
        }
        9 | 10 if frames.len() > 1 => {
            // A header field rewritten, checksum recomputed.
            let (off, _) = frames[1 + rng.below(frames.len() as u64 - 1) as usize];
            let (at, width) = rng.pick(&[
                (4, 1),
                (5, 1),
                (6, 2),
                (12, 4),
                (16, 8),
                (24, 8),
                (32, 4),
                (40, 4),
            ]);
            let old = b[off + at..off + at + width].to_vec();
            let v = rng
                .pick(&[0u64, 1, 2, 255, u64::MAX, 1 << 20, 1 << 33])
                .wrapping_add(rng.below(3));
            b[off + at..off + at + width].copy_from_slice(&v.to_le_bytes()[..width]);
            if b[off + at..off + at + width] == old[..] {
                b[off + at] ^= 1;
            }
            fix_frame(&mut b, off);
            change = Change::Forged;
            name = "forge-header";
        }
        11 if frames.len() > 1 => {
            // The file header's flags, checksum recomputed.
            let v = rng.below(u64::from(u16::MAX)) as u16 + 1;
            b[10..12].copy_from_slice(&v.to_le_bytes());
            let crc = crc32c::crc32c(&b[..12]);
            b[12..16].copy_from_slice(&crc.to_le_bytes());
            change = Change::Forged;
            name = "forge-file-flags";
        }
        12 if frames.len() > 2 => {
            // A RECORDS payload changed and re-encoded.
            let cand: Vec<&(usize, usize)> = frames
                .iter()
                .filter(|f| b[f.0 + 4] == 2 && b[f.0 + 5] == 1)
                .collect();
            if let Some(&&(off, len)) = cand.get(rng.below(cand.len().max(1) as u64) as usize) {
                if let Ok(mut raw) = zstd::bulk::decompress(&b[off + 48..off + len], 64 << 20) {
                    if !raw.is_empty() {
                        for _ in 0..rng.below(3) + 1 {
                            let at = rng.below(raw.len() as u64) as usize;
                            raw[at] = rng.next() as u8;
                        }
                    }
                    let comp = zstd::bulk::compress(&raw, 3).unwrap();
                    let mut h = b[off..off + 48].to_vec();
                    h[8..12].copy_from_slice(&(comp.len() as u32).to_le_bytes());
                    h[12..16].copy_from_slice(&(raw.len() as u32).to_le_bytes());
                    let mut f = h;
                    f.extend_from_slice(&comp);
                    fix_frame(&mut f, 0);
                    b.splice(off..off + len, f);
                }
            }
            change = Change::Reencoded;
            name = "reencode";
        }
        _ => {
            b.extend(std::iter::repeat_n(0u8, rng.below(5000) as usize + 1));
            change = Change::Same;
            name = "zero-tail";
        }
    }
    if b == seed && change != Change::Same {
        change = Change::Same;
    }
    b.truncate(MAX_INPUT);
    (b, change, format!("mut-{name}"))
}

// ---------------------------------------------------------------- running

/// A reader command to run on an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmd {
    Verify,
    VerifyJson,
    Info,
    InfoJson,
    ReplayFinal,
    ReplayDir,
    Diff,
    DiffPlot,
    ExportParquet,
    ExportArrow,
    ExportCsv,
    ExportJsonl,
    ExportPerfetto,
    ExportWide,
    View,
}

impl Cmd {
    pub const ALL: [Cmd; 15] = [
        Cmd::Verify,
        Cmd::VerifyJson,
        Cmd::Info,
        Cmd::InfoJson,
        Cmd::ReplayFinal,
        Cmd::ReplayDir,
        Cmd::Diff,
        Cmd::DiffPlot,
        Cmd::ExportParquet,
        Cmd::ExportArrow,
        Cmd::ExportCsv,
        Cmd::ExportJsonl,
        Cmd::ExportPerfetto,
        Cmd::ExportWide,
        Cmd::View,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cmd::Verify => "verify",
            Cmd::VerifyJson => "verify --json",
            Cmd::Info => "info",
            Cmd::InfoJson => "info --json",
            Cmd::ReplayFinal => "replay --final-only",
            Cmd::ReplayDir => "replay -o DIR",
            Cmd::Diff => "diff",
            Cmd::DiffPlot => "diff --plot",
            Cmd::ExportParquet => "export parquet",
            Cmd::ExportArrow => "export arrow",
            Cmd::ExportCsv => "export csv",
            Cmd::ExportJsonl => "export jsonl",
            Cmd::ExportPerfetto => "export perfetto",
            Cmd::ExportWide => "export --wide",
            Cmd::View => "view",
        }
    }

    /// The command line for `log` (outputs under `work`; `other` is a
    /// second log for `diff`).
    pub fn args(self, log: &Path, other: &Path, work: &Path) -> Vec<String> {
        let l = log.display().to_string();
        let o = other.display().to_string();
        let w = |s: &str| work.join(s).display().to_string();
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Cmd::Verify => v(&["verify", &l]),
            Cmd::VerifyJson => v(&["verify", "--json", &l]),
            Cmd::Info => v(&["info", &l]),
            Cmd::InfoJson => v(&["info", "--json", &l]),
            Cmd::ReplayFinal => v(&[
                "replay",
                &l,
                "--final-only",
                "-o",
                &w("f.png"),
                "--force",
                "-q",
                "--size",
                "640x360",
            ]),
            Cmd::ReplayDir => v(&[
                "replay",
                &l,
                "-o",
                &w("frames"),
                "--force",
                "-q",
                "--size",
                "320x200",
                "--format",
                "svg",
            ]),
            Cmd::Diff => v(&["diff", &l, &o, "--allow-incomplete", "--rtol", "1e-9"]),
            Cmd::DiffPlot => v(&[
                "diff",
                &l,
                &l,
                "--allow-incomplete",
                "--plot",
                &w("d.png"),
                "--force",
            ]),
            Cmd::ExportParquet => v(&[
                "export",
                &l,
                "-o",
                &w("x.parquet"),
                "--force",
                "--allow-incomplete",
                "-q",
            ]),
            Cmd::ExportArrow => v(&[
                "export",
                &l,
                "-o",
                &w("x.arrow"),
                "--force",
                "--allow-incomplete",
                "-q",
            ]),
            Cmd::ExportCsv => v(&[
                "export",
                &l,
                "-o",
                &w("x.csv"),
                "--force",
                "--allow-incomplete",
                "-q",
            ]),
            Cmd::ExportJsonl => v(&[
                "export",
                &l,
                "-o",
                &w("x.jsonl"),
                "--force",
                "--allow-incomplete",
                "-q",
            ]),
            Cmd::ExportPerfetto => v(&[
                "export",
                &l,
                "-o",
                &w("x.perfetto-trace"),
                "--force",
                "--allow-incomplete",
                "-q",
            ]),
            Cmd::ExportWide => v(&[
                "export",
                &l,
                "-o",
                &w("wide.parquet"),
                "--wide",
                "--force",
                "--allow-incomplete",
                "-q",
            ]),
            Cmd::View => v(&["view", &l, "-o", &w("v.html"), "--force", "-q"]),
        }
    }
}

/// What running one command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub cmd: Cmd,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Wall-clock seconds.
    pub secs: f64,
    /// CPU seconds (user + system) of the command.
    pub cpu: f64,
    pub timed_out: bool,
    pub panicked: bool,
    pub verify_ok: bool,
    pub stderr: String,
    pub stdout: String,
}

impl Outcome {
    /// The bar: ended in time, exit 0/1/2, no signal, no panic.
    pub fn problem(&self, bounds: Bounds) -> Option<String> {
        if self.timed_out {
            return Some(format!("did not end within {:?} (wall clock)", bounds.wall));
        }
        if self.signal == Some(libc::SIGXCPU) || self.cpu > bounds.cpu.as_secs_f64() {
            return Some(format!(
                "used {:.1} s of CPU, over {:?}",
                self.cpu, bounds.cpu
            ));
        }
        if self.panicked {
            return Some("panicked".into());
        }
        if let Some(s) = self.signal {
            return Some(format!("killed by signal {s}"));
        }
        match self.code {
            Some(0..=2) => None,
            c => Some(format!("exit status {c:?}")),
        }
    }
}

/// Time and memory limits of one command. The time bar is CPU time
/// (RLIMIT_CPU in the child, and measured): on a shared machine wall time
/// says as much about the neighbours as about probe. Wall time has its own,
/// looser limit, which catches a command that waits instead of working.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// CPU time (user + system).
    pub cpu: Duration,
    /// Wall-clock time.
    pub wall: Duration,
    /// Address space (RLIMIT_AS).
    pub memory: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            cpu: Duration::from_secs(10),
            wall: Duration::from_secs(30),
            memory: 1 << 30,
        }
    }
}

/// Run `probe ARGS` under the bounds: RLIMIT_AS set in the child before
/// exec, killed (with its process group) when the time runs out.
pub fn run(bin: &Path, cmd: Cmd, args: &[String], work: &Path, bounds: Bounds) -> Outcome {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let out = work.join("stdout.txt");
    let err = work.join("stderr.txt");
    let mut c = Command::new(bin);
    c.args(args)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .env_remove("PROBE_MEMORY_BUDGET")
        .env("RUST_BACKTRACE", "0")
        .process_group(0);
    let mem = bounds.memory;
    let cpu = bounds.cpu.as_secs() + 1;
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (setrlimit), on structs built before the fork.
    unsafe {
        let as_lim = libc::rlimit {
            rlim_cur: mem as libc::rlim_t,
            rlim_max: mem as libc::rlim_t,
        };
        let cpu_lim = libc::rlimit {
            rlim_cur: cpu as libc::rlim_t,
            rlim_max: (cpu + 5) as libc::rlim_t,
        };
        c.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &as_lim) != 0
                || libc::setrlimit(libc::RLIMIT_CPU, &cpu_lim) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let t = Instant::now();
    let child = c.spawn().expect("spawn probe");
    let pid = child.id() as libc::pid_t;
    let mut timed_out = false;
    let mut raw_status = 0i32;
    // SAFETY: rusage is plain data, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child, writing into the locals above.
        let r = unsafe { libc::wait4(pid, &mut raw_status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if t.elapsed() > bounds.wall && !timed_out {
            timed_out = true;
            // SAFETY: kill(2) on the child's own process group.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(child);
    let status = std::process::ExitStatus::from_raw(raw_status);
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let secs = t.elapsed().as_secs_f64();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    Outcome {
        cmd,
        code: status.code(),
        signal: status.signal(),
        secs,
        cpu,
        timed_out,
        panicked: stderr.contains("panicked") || stdout.contains("panicked"),
        verify_ok: matches!(cmd, Cmd::Verify)
            && status.code() == Some(0)
            && stdout.contains("verdict: OK"),
        stderr: stderr.chars().take(2000).collect(),
        stdout: stdout.chars().take(2000).collect(),
    }
}

/// Where a probe binary is: `PROBE_BIN`, else the built one next to the tests.
pub fn probe_bin() -> PathBuf {
    if let Ok(p) = std::env::var("PROBE_BIN") {
        return PathBuf::from(p);
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_probe") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for p in ["target/release/probe", "target/debug/probe"] {
        let b = root.join(p);
        if b.exists() {
            return b;
        }
    }
    PathBuf::from("probe")
}

/// One input with its provenance.
pub struct Input {
    pub bytes: Vec<u8>,
    pub name: String,
    pub change: Change,
}

/// The `i`-th input of a run seeded `seed`: generated or mutated.
pub fn input(i: u64, seed: u64, seeds: &[Vec<u8>], bomb: &[u8]) -> Input {
    let mut rng = Rng(seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
    if rng.pct(50) {
        let (bytes, name) = generate(&mut rng, bomb);
        Input {
            bytes,
            name,
            change: Change::Reencoded,
        }
    } else {
        let s = &seeds[rng.below(seeds.len() as u64) as usize];
        let (bytes, change, name) = mutate(&mut rng, s);
        Input {
            bytes,
            name,
            change,
        }
    }
}

/// The commands input `i` runs (`per` of them, rotating through every
/// command so that each gets its share).
pub fn commands(i: u64, per: usize) -> Vec<Cmd> {
    let n = Cmd::ALL.len();
    if per >= n {
        return Cmd::ALL.to_vec();
    }
    // Verify on every altered input (the "never OK" check), plus a
    // rotating share of the others.
    let mut v = vec![Cmd::Verify];
    for k in 0..per.saturating_sub(1) {
        let c = Cmd::ALL[1 + ((i as usize * per + k) % (n - 1))];
        if !v.contains(&c) {
            v.push(c);
        }
    }
    v
}

// ---------------------------------------------------------------- campaigns

/// A fuzzing campaign's settings.
pub struct Campaign {
    /// Inputs to run.
    pub inputs: u64,
    /// First input index (to resume or shard).
    pub first: u64,
    /// Seed of the input stream.
    pub seed: u64,
    /// Commands per input (all of them at 15 or more).
    pub per_input: usize,
    /// Inputs run at once.
    pub jobs: usize,
    /// Limits of each command.
    pub bounds: Bounds,
    /// Where failing inputs are saved (for reproduction).
    pub save: Option<PathBuf>,
    /// Print a progress line every this many inputs (0: never).
    pub progress_every: u64,
}

/// One failure of the bar.
#[derive(Debug, Clone)]
pub struct Failure {
    pub input: u64,
    pub name: String,
    pub cmd: Cmd,
    pub what: String,
    pub stderr: String,
}

/// What a campaign found.
#[derive(Debug, Default)]
pub struct Summary {
    pub inputs: u64,
    pub runs: u64,
    /// (command, exit status or "signal N"/"timeout") → count.
    pub by_status: std::collections::BTreeMap<(Cmd, String), u64>,
    /// The slowest runs by CPU time: (CPU s, wall s, command, input index, input name).
    pub slowest: Vec<(f64, f64, Cmd, u64, String)>,
    pub failures: Vec<Failure>,
    /// Inputs by provenance (generated kinds, mutations).
    pub kinds: std::collections::BTreeMap<String, u64>,
    pub secs: f64,
}

impl Summary {
    fn add(&mut self, i: u64, inp: &Input, o: &Outcome, bounds: Bounds) {
        self.runs += 1;
        let st = if o.timed_out {
            "timeout".to_string()
        } else if let Some(s) = o.signal {
            format!("signal {s}")
        } else {
            format!("exit {}", o.code.unwrap_or(-1))
        };
        *self.by_status.entry((o.cmd, st)).or_default() += 1;
        self.slowest
            .push((o.cpu, o.secs, o.cmd, i, inp.name.clone()));
        if self.slowest.len() > 64 {
            self.slowest
                .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
            self.slowest.truncate(20);
        }
        let mut fail = |what: String| {
            self.failures.push(Failure {
                input: i,
                name: inp.name.clone(),
                cmd: o.cmd,
                what,
                stderr: o.stderr.clone(),
            })
        };
        if let Some(p) = o.problem(bounds) {
            fail(p);
        }
        if o.verify_ok && matches!(inp.change, Change::Altered | Change::Forged) {
            fail("verify said OK on a log whose header or frames were altered".into());
        }
    }

    /// The summary as text: counts by command and exit status, slowest
    /// runs, failures.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} inputs, {} command runs in {:.1} s; {} failure(s)",
            self.inputs,
            self.runs,
            self.secs,
            self.failures.len()
        );
        let _ = writeln!(s, "\ninputs by kind:");
        for (k, n) in &self.kinds {
            let _ = writeln!(s, "  {k:<28} {n:>7}");
        }
        let _ = writeln!(s, "\nruns by command and exit status:");
        let mut cur = None;
        for ((c, st), n) in &self.by_status {
            if cur != Some(*c) {
                let _ = write!(s, "\n  {:<22}", c.name());
                cur = Some(*c);
            }
            let _ = write!(s, "  {st}: {n}");
        }
        let mut slow = self.slowest.clone();
        slow.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        let _ = writeln!(s, "\n\nslowest runs (CPU; wall):");
        for (cpu, wall, c, i, name) in slow.iter().take(10) {
            let _ = writeln!(
                s,
                "  {cpu:7.3} s; {wall:7.3} s  {:<22} input {i} ({name})",
                c.name()
            );
        }
        for f in self.failures.iter().take(50) {
            let _ = writeln!(
                s,
                "\nFAILURE input {} ({}), {}: {}\n{}",
                f.input,
                f.name,
                f.cmd.name(),
                f.what,
                f.stderr.lines().take(6).collect::<Vec<_>>().join("\n")
            );
        }
        s
    }
}

/// Run a campaign: inputs `first..first + inputs` of stream `seed`.
pub fn campaign(cfg: &Campaign) -> Summary {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    let bin = probe_bin();
    let root = tempfile::tempdir().expect("tempdir");
    let seeds = seed_logs(root.path());
    let bomb = zstd_bomb();
    let next = AtomicU64::new(cfg.first);
    let end = cfg.first + cfg.inputs;
    let summary = Mutex::new(Summary::default());
    let good = root.path().join("other.probe");
    std::fs::write(&good, &seeds[0]).expect("other log");
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..cfg.jobs.max(1) {
            let (next, summary, seeds, bomb, good, bin) =
                (&next, &summary, &seeds, &bomb, &good, &bin);
            let work = root.path().join(format!("worker-{w}"));
            std::fs::create_dir_all(&work).expect("work dir");
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let inp = input(i, cfg.seed, seeds, bomb);
                let log = work.join("in.probe");
                std::fs::write(&log, &inp.bytes).expect("write input");
                let mut outs = Vec::new();
                for cmd in commands(i, cfg.per_input) {
                    let args = cmd.args(&log, good, &work);
                    outs.push(run(bin, cmd, &args, &work, cfg.bounds));
                }
                let mut sm = summary.lock().expect("summary");
                sm.inputs += 1;
                *sm.kinds.entry(inp.name.clone()).or_default() += 1;
                let before = sm.failures.len();
                for o in &outs {
                    sm.add(i, &inp, o, cfg.bounds);
                }
                if sm.failures.len() > before {
                    if let Some(dir) = &cfg.save {
                        let _ = std::fs::create_dir_all(dir);
                        let _ = std::fs::write(dir.join(format!("input-{i}.probe")), &inp.bytes);
                    }
                }
                if cfg.progress_every > 0 && sm.inputs % cfg.progress_every == 0 {
                    eprintln!(
                        "fuzz: {} inputs, {} runs, {} failures, {:.0} s",
                        sm.inputs,
                        sm.runs,
                        sm.failures.len(),
                        t.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    let mut sm = summary.into_inner().expect("summary");
    sm.secs = t.elapsed().as_secs_f64();
    sm
}
