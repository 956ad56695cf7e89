//! Measures the log layer on the tight-loop case (SPEC §10): ingest rate,
//! verify rate and bytes per record.
//!
//! `cargo run --release --example log_bench [N]` (default 10,000,000).

#[path = "../tests/log_common/mod.rs"]
mod log_common;

use std::time::Instant;

use log_common::*;
use probe::log::{info, verify, LogReader, LogWriter};
use probe::model::{Status, Value};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.probe");

    // Pre-generate timestamps so that the generator's cost is not measured.
    let mut rng = Rng(42);
    let mut ts = 1_000u64;
    let stamps: Vec<u64> = (0..n)
        .map(|_| {
            ts += tight_loop_delta(&mut rng);
            ts
        })
        .collect();

    let t = Instant::now();
    let mut w = LogWriter::create(&path, true, &meta(1)).expect("create");
    let mut r = rec(0, 0, 0, 0, Status::Ok, Value::Int(0));
    for (i, &ts) in stamps.iter().enumerate() {
        r.seq = i as u64;
        r.ts_ns = ts;
        r.value = Value::Int(i as i64);
        w.append(&r).expect("append");
    }
    w.finish(exit_ok(), ts).expect("finish");
    let write_s = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).expect("stat").len();

    let t = Instant::now();
    let reader = LogReader::open(&path).expect("open");
    let rep = verify(&reader);
    let verify_s = t.elapsed().as_secs_f64();
    assert!(rep.ok, "{rep}");

    let t = Instant::now();
    let inf = info(&reader).expect("info");
    let info_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let count = reader.records().filter(|r| r.is_ok()).count();
    let rec_s = t.elapsed().as_secs_f64();
    assert_eq!(count as u64, n);

    println!("records:        {n}");
    println!(
        "file:           {size} bytes, {:.4} bytes/record (raw {} bytes, ratio {:.2})",
        size as f64 / n as f64,
        inf.raw_bytes,
        inf.compression_ratio
    );
    println!(
        "ingest+finish:  {:.1} M records/s",
        n as f64 / write_s / 1e6
    );
    println!(
        "open+verify:    {:.1} M records/s",
        n as f64 / verify_s / 1e6
    );
    println!("info:           {:.1} M records/s", n as f64 / info_s / 1e6);
    println!("records() rows: {:.1} M records/s", n as f64 / rec_s / 1e6);

    // Worst case for the timestamp column: deltas uniform in 200..400 ns
    // (7.6 bits of entropy per record that no lossless coder can remove).
    let path2 = dir.path().join("uniform.probe");
    let mut w = LogWriter::create(&path2, true, &meta(1)).expect("create");
    let mut rng = Rng(1);
    let mut ts = 0u64;
    for i in 0..n.min(1_000_000) {
        ts += 200 + rng.below(200);
        r.seq = i;
        r.ts_ns = ts;
        r.value = Value::Int(i as i64);
        w.append(&r).expect("append");
    }
    w.finish(exit_ok(), ts).expect("finish");
    let size2 = std::fs::metadata(&path2).expect("stat").len();
    println!(
        "uniform 200..400 ns jitter (worst case): {:.4} bytes/record",
        size2 as f64 / n.min(1_000_000) as f64
    );
}
