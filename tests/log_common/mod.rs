//! Helpers shared by the `log_*` integration tests.
#![allow(dead_code)]

use std::path::Path;

use probe::log::{EndInfo, ExitInfo, LogWriter, ProbeInfo, RunMeta};
use probe::model::{CaptureRecord, Role, Status, Value};

/// splitmix64: a tiny deterministic generator (fixed seeds, reproducible logs).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Run metadata with `n` probes on `loop.py`.
pub fn meta(n: u32) -> RunMeta {
    RunMeta {
        probe_version: "0.1.0".into(),
        probes: (0..n)
            .map(|i| ProbeInfo {
                id: i,
                spec: format!("loop.py:{}:v{i}@lhs", 3 + i),
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
        max_value_bytes: 256,
        // 0 = not written, so the v1 sample logs stay byte-identical.
        max_array_bytes: 0,
        ts_resolution_ns: 1,
    }
}

pub fn exit_ok() -> ExitInfo {
    ExitInfo {
        kind: "exit".into(),
        code: 0,
        signal: None,
        exception: None,
        detail: None,
        ..Default::default()
    }
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
        thread: 140_000_000_001,
        probe,
        order,
        status,
        value,
    }
}

/// The realistic tight-loop timestamp model used for the ≤ 1 byte/record
/// check: deltas of 230..350 ns (290 ns plus the sum of three uniform
/// 0..=40 ns jitters, minus 60: σ ≈ 20 ns), and with probability 1/1000 an
/// extra stall of 1..50 µs (GC, interrupts). Seeded, so the file is the same
/// every run.
pub fn tight_loop_delta(rng: &mut Rng) -> u64 {
    let j = rng.below(41) + rng.below(41) + rng.below(41);
    let mut d = 230 + j;
    if rng.below(1000) == 0 {
        d += 1000 + rng.below(49_000);
    }
    d
}

/// Write the tight-loop log (`x = i` for i in 0..n, one LHS probe).
pub fn write_tight_loop(path: &Path, n: u64) -> EndInfo {
    let mut w = LogWriter::create(path, true, &meta(1)).expect("create");
    let mut rng = Rng(42);
    let mut ts = 1_000;
    let mut r = rec(0, 0, 0, 0, Status::Ok, Value::Int(0));
    for i in 0..n {
        ts += tight_loop_delta(&mut rng);
        r.seq = i;
        r.ts_ns = ts;
        r.value = Value::Int(i as i64);
        w.append(&r).expect("append");
    }
    w.finish(exit_ok(), ts).expect("finish")
}

/// Bit-exact value equality (floats compared by bits, so NaN payloads and
/// -0.0 count).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Complex(a1, a2), Value::Complex(b1, b2)) => {
            a1.to_bits() == b1.to_bits() && a2.to_bits() == b2.to_bits()
        }
        (
            Value::Sub {
                type_name: t1,
                base: b1,
            },
            Value::Sub {
                type_name: t2,
                base: b2,
            },
        ) => t1 == t2 && same_value(b1, b2),
        _ => a == b,
    }
}

pub fn same_record(a: &CaptureRecord, b: &CaptureRecord) -> bool {
    a.seq == b.seq
        && a.ts_ns == b.ts_ns
        && a.thread == b.thread
        && a.probe == b.probe
        && a.order == b.order
        && a.status == b.status
        && same_value(&a.value, &b.value)
}

/// Every kind of value, with awkward corners.
pub fn all_values() -> Vec<Value> {
    vec![
        Value::Absent,
        Value::None,
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(0),
        Value::Int(-1),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::BigInt("-123456789012345678901234567890".into()),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(f64::NAN),
        Value::Float(f64::from_bits(0x7ff8_dead_beef_0001)),
        Value::Float(f64::from_bits(0xfff0_0000_0000_0001)),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(f64::MIN_POSITIVE / 2.0),
        Value::Float(1.5),
        Value::Complex(1.0, -0.0),
        Value::Complex(f64::NAN, f64::INFINITY),
        Value::Str {
            text: String::new(),
            truncated: false,
        },
        Value::Str {
            text: "héllo \u{1F600} wörld".into(),
            truncated: true,
        },
        Value::Bytes {
            data: vec![0, 255, 1, 2],
            truncated: false,
        },
        Value::Bytes {
            data: vec![],
            truncated: true,
        },
        Value::Sub {
            type_name: "Color".into(),
            base: Box::new(Value::Int(3)),
        },
        Value::Sub {
            type_name: "MyFloat".into(),
            base: Box::new(Value::Float(-0.0)),
        },
        Value::Sub {
            type_name: "Name".into(),
            base: Box::new(Value::Str {
                text: "abc".into(),
                truncated: false,
            }),
        },
        Value::Other {
            type_name: "dict".into(),
            repr: "{'a': 1}".into(),
            truncated: false,
        },
        Value::Other {
            type_name: "Foo".into(),
            repr: String::new(),
            truncated: true,
        },
        Value::Error {
            exc_type: "AttributeError".into(),
            message: "'Foo' object has no attribute 'bar'".into(),
        },
    ]
}

/// Frame offsets of a log file (valid logs only): (offset, kind byte, total length).
pub fn frame_offsets(bytes: &[u8]) -> Vec<(usize, u8, usize)> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos + 48 <= bytes.len() && bytes[pos..pos + 4] == *b"PRBF" {
        let len = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        out.push((pos, bytes[pos + 4], 48 + len));
        pos += 48 + len;
    }
    out
}

/// The small "good" log used by the damage tests and the fixtures: three
/// probes, batches, every value kind, a placeholder completed in a later
/// frame, one patched in place, four RECORDS frames.
pub fn write_good(path: &Path) -> EndInfo {
    let mut w = LogWriter::create(path, true, &meta(3)).expect("create");
    let vals = all_values();
    let mut seq = 0u64;
    let mut ts = 5_000u64;
    let mut vi = 0usize;
    let mut held = None;
    for frame in 0..4 {
        for batch in 0..4u64 {
            ts += 250 + batch * 7;
            // A batch: RHS probe 1, then LHS probes 0 and 2.
            for (order, probe) in [1u32, 0, 2].iter().enumerate() {
                let v = vals[vi % vals.len()].clone();
                vi += 1;
                let status = match &v {
                    Value::Error { .. } => Status::Error,
                    Value::Absent => Status::Unbound,
                    _ => Status::Ok,
                };
                let mut r = rec(seq, ts, *probe, order as u16, status, v);
                if frame == 0 && batch == 3 && order == 2 {
                    // Placeholder completed two frames later.
                    r.status = Status::Pending;
                    r.value = Value::Absent;
                    held = Some(seq);
                }
                if frame == 1 && batch == 0 && order == 1 {
                    r.status = Status::Pending;
                    r.value = Value::Absent;
                }
                w.append(&r).expect("append");
                if frame == 1 && batch == 0 && order == 1 {
                    // Completed while still in the unwritten block.
                    w.complete(seq, Status::Raised, &Value::Int(7))
                        .expect("complete");
                }
                seq += 1;
            }
        }
        if frame == 2 {
            if let Some(s) = held.take() {
                w.complete(s, Status::Ok, &Value::Float(-2.5))
                    .expect("complete");
            }
        }
        w.flush_frame().expect("flush");
    }
    w.finish(exit_ok(), 1_234_567).expect("finish")
}
