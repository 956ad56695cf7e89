//! Writes a synthetic scalar trace for the export/diff benchmark
//! (`scripts/bench-export-diff.sh`): a loop of N iterations with two
//! probes per trigger — `i@rhs` (int) and `x@lhs` (float, `sin(i/100)`) —
//! so that rows alternate ints and floats, batches have two records, and
//! timestamps follow the realistic tight-loop model of the log tests.
//!
//! `cargo run --release --example bench_log -- OUT.probe N [--nudge K]`
//! (`--nudge K` moves the float of iteration K up by one ulp, to give
//! `probe diff` a divergence to find).

#[path = "../tests/log_common/mod.rs"]
mod log_common;

use log_common::*;
use probe::log::LogWriter;
use probe::model::{Role, Status, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_log OUT.probe N [--nudge K]";
    let out = args.first().expect(usage);
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let nudge: Option<u64> = args
        .iter()
        .position(|a| a == "--nudge")
        .and_then(|i| args.get(i + 1))
        .and_then(|a| a.parse().ok());
    let mut m = meta(2);
    m.probes[0].name = "i".into();
    m.probes[0].role = Role::Rhs;
    m.probes[0].line = 3;
    m.probes[0].spec = "/src/loop.py:3:i@rhs".into();
    m.probes[1].name = "x".into();
    m.probes[1].role = Role::Lhs;
    m.probes[1].line = 3;
    m.probes[1].spec = "/src/loop.py:3:x@lhs".into();
    let mut w = LogWriter::create(std::path::Path::new(out), true, &m).expect("create");
    let mut rng = Rng(7);
    let mut ts = 1_000;
    let mut r = rec(0, 0, 0, 0, Status::Ok, Value::Int(0));
    for k in 0..n / 2 {
        ts += tight_loop_delta(&mut rng);
        r.ts_ns = ts;
        r.seq = 2 * k;
        r.probe = 0;
        r.order = 0;
        r.value = Value::Int(k as i64);
        w.append(&r).expect("append");
        let mut x = (k as f64 / 100.0).sin();
        if nudge == Some(k) {
            x = f64::from_bits(x.to_bits() + 1);
        }
        r.seq = 2 * k + 1;
        r.probe = 1;
        r.order = 1;
        r.value = Value::Float(x);
        w.append(&r).expect("append");
    }
    w.finish(exit_ok(), ts).expect("finish");
}
