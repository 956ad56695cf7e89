//! Synthetic logs for the replay tests, the replay benchmark and the
//! README images: every panel kind, written with `LogWriter` (the agent
//! does not emit arrays yet).
#![allow(dead_code)]

use std::path::Path;

use probe::log::{EndInfo, ExitInfo, LogWriter, ProbeInfo, RunMeta};
use probe::model::{ArrayValue, CaptureRecord, Dtype, Role, Status, Value};

/// Run metadata with the given probes (`name`, line) on `demo.py`.
pub fn meta_named(names: &[(&str, u32, Role)]) -> RunMeta {
    RunMeta {
        probe_version: "0.1.0".into(),
        probes: names
            .iter()
            .enumerate()
            .map(|(i, (name, line, role))| ProbeInfo {
                id: i as u32,
                spec: format!("/src/demo.py:{line}:{name}@{}", role.as_str()),
                file: "/src/demo.py".into(),
                line: *line,
                name: (*name).into(),
                role: *role,
            })
            .collect(),
        command: vec!["python3".into(), "demo.py".into()],
        cwd: "/src".into(),
        python_version: "3.12.1".into(),
        python_executable: "/usr/bin/python3".into(),
        core: "monitoring".into(),
        core_note: None,
        start_unix_ns: 1_714_564_800_000_000_000,
        max_value_bytes: 4096,
        max_array_bytes: 1 << 20,
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

/// A float64 array of `shape` from `data`.
pub fn array_f64(shape: &[u64], data: &[f64]) -> Value {
    Value::Array(ArrayValue {
        type_name: "ndarray".into(),
        dtype: Dtype::Float64,
        shape: shape.to_vec(),
        data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        truncated: false,
    })
}

/// A complex128 array from (re, im) pairs.
pub fn array_c128(data: &[(f64, f64)]) -> Value {
    Value::Array(ArrayValue {
        type_name: "ndarray".into(),
        dtype: Dtype::Complex128,
        shape: vec![data.len() as u64],
        data: data
            .iter()
            .flat_map(|(r, i)| r.to_le_bytes().into_iter().chain(i.to_le_bytes()))
            .collect(),
        truncated: false,
    })
}

/// Sequential writer of one record after another.
pub struct Seq {
    pub w: LogWriter,
    pub seq: u64,
}

impl Seq {
    pub fn create(path: &Path, meta: &RunMeta) -> Seq {
        Seq {
            w: LogWriter::create(path, true, meta).expect("create log"),
            seq: 0,
        }
    }

    pub fn put(&mut self, ts: u64, probe: u32, status: Status, value: Value) -> u64 {
        let s = self.seq;
        self.w
            .append(&CaptureRecord {
                seq: s,
                ts_ns: ts,
                thread: 1,
                probe,
                order: 0,
                status,
                value,
            })
            .expect("append");
        self.seq += 1;
        s
    }

    pub fn finish(self, duration: u64) -> EndInfo {
        self.w.finish(exit_ok(), duration).expect("finish")
    }
}

/// One float probe `x` with `n` records `f(i)` at `ts = (i + 1) * dt_ns`.
pub fn write_series(path: &Path, n: u64, dt_ns: u64, f: impl Fn(u64) -> Value) -> EndInfo {
    let mut s = Seq::create(path, &meta_named(&[("x", 4, Role::Lhs)]));
    for i in 0..n {
        s.put((i + 1) * dt_ns, 0, Status::Ok, f(i));
    }
    s.finish(n * dt_ns + dt_ns)
}

/// A noisy signal whose extremes matter: a slow sine, a fast wobble and
/// rare spikes (a line through it is only right if no extreme is lost).
pub fn signal(i: u64) -> f64 {
    let t = i as f64;
    let spike = if i % 9973 == 17 { 3.0 } else { 0.0 };
    (t * 1e-5).sin() + 0.3 * (t * 0.37).sin() * (t * 1.3e-4).cos() + spike
}

/// Probe order of [`write_gallery`].
pub const GALLERY: &[(&str, u32, Role)] = &[
    ("level", 12, Role::Lhs),
    ("ready", 14, Role::Rhs),
    ("z", 15, Role::Lhs),
    ("block", 20, Role::Lhs),
    ("symbols", 22, Role::Lhs),
    ("frame", 25, Role::Lhs),
    ("state", 30, Role::Rhs),
];

/// Every panel kind in one log: a float with unbound gaps and one error, a
/// bool, a complex scalar, 1-D real arrays, complex arrays, a 2-D array and
/// a string; 200 iterations, 2 ms apart.
pub fn write_gallery(path: &Path) -> EndInfo {
    let mut s = Seq::create(path, &meta_named(GALLERY));
    let iters = 200u64;
    for k in 0..iters {
        let ts = 1_000_000 + k * 2_000_000;
        let t = k as f64 * 0.05;
        // level: a damped oscillation, unbound for 10 iterations, one error.
        match k {
            60..=69 => s.put(ts, 0, Status::Unbound, Value::Absent),
            120 => s.put(
                ts,
                0,
                Status::Error,
                Value::Error {
                    exc_type: "ZeroDivisionError".into(),
                    message: "float division by zero".into(),
                },
            ),
            _ => s.put(
                ts,
                0,
                Status::Ok,
                Value::Float((t * 2.0).sin() * (-t * 0.15).exp() * 10.0),
            ),
        };
        s.put(ts + 1000, 1, Status::Ok, Value::Bool((k / 13) % 2 == 0));
        s.put(
            ts + 2000,
            2,
            Status::Ok,
            Value::Complex(t.cos() * (1.0 + 0.1 * t), t.sin()),
        );
        if k % 4 == 0 {
            let block: Vec<f64> = (0..256)
                .map(|j| {
                    let x = j as f64 / 256.0;
                    (x * std::f64::consts::TAU * 4.0 + t).sin() * (1.0 - x)
                        + 0.2 * (x * std::f64::consts::TAU * 17.0).sin()
                })
                .collect();
            s.put(ts + 3000, 3, Status::Ok, array_f64(&[256], &block));
            let syms: Vec<(f64, f64)> = (0..512)
                .map(|j| {
                    let q = [-3.0, -1.0, 1.0, 3.0];
                    // 16-QAM: every (I, Q) level pair, with noise.
                    let a = q[(j + k as usize) % 4];
                    let b = q[(j / 4 + k as usize) % 4];
                    let n1 = ((j as f64 * 12.9898 + t).sin() * 43758.5453).fract() * 0.5 - 0.25;
                    let n2 = ((j as f64 * 78.233 + t).sin() * 12345.678).fract() * 0.5 - 0.25;
                    (a + n1, b + n2)
                })
                .collect();
            s.put(ts + 4000, 4, Status::Ok, array_c128(&syms));
            let (r, c) = (24usize, 32usize);
            let img: Vec<f64> = (0..r * c)
                .map(|q| {
                    let (y, x) = ((q / c) as f64, (q % c) as f64);
                    ((x - 16.0 - 6.0 * t.cos()).powi(2) + (y - 12.0 - 4.0 * t.sin()).powi(2))
                        .sqrt()
                        .mul_add(-0.3, 0.0)
                        .exp()
                })
                .collect();
            s.put(
                ts + 5000,
                5,
                Status::Ok,
                array_f64(&[r as u64, c as u64], &img),
            );
        }
        if k % 10 == 0 {
            let states = ["idle", "warming up", "running", "draining", "done"];
            s.put(
                ts + 6000,
                6,
                Status::Ok,
                Value::Str {
                    text: format!("{} (step {k})", states[(k as usize / 40).min(4)]),
                    truncated: false,
                },
            );
        }
    }
    s.finish(1_000_000 + iters * 2_000_000)
}
