//! The hot case of SPEC §10: one probe, `x = i` for a million iterations.
//! Bytes per record is a property of the format (deterministic synthetic
//! data, seeded jitter — see `tight_loop_delta`), so it is asserted; speed
//! is only printed (`examples/log_bench.rs` measures it properly).

mod log_common;

use std::time::Instant;

use log_common::*;
use probe::log::{verify, LogReader};

#[test]
fn million_tight_loop_records_fit_in_one_byte_each() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tight.probe");
    let n = 1_000_000u64;
    let t = Instant::now();
    let end = write_tight_loop(&path, n);
    let write_s = t.elapsed().as_secs_f64();
    assert_eq!(end.total_records, n);
    let size = std::fs::metadata(&path).unwrap().len();
    let bpr = size as f64 / n as f64;
    let t = Instant::now();
    let reader = LogReader::open(&path).unwrap();
    let rep = verify(&reader);
    let verify_s = t.elapsed().as_secs_f64();
    println!(
        "tight loop: {n} records, {size} bytes = {bpr:.4} bytes/record; write {:.1} M rec/s, verify {:.1} M rec/s",
        n as f64 / write_s / 1e6,
        n as f64 / verify_s / 1e6
    );
    assert!(rep.ok, "{rep}");
    assert_eq!(rep.records, n);
    assert!(bpr <= 1.0, "{bpr} bytes/record");
    // Values are exact: 0..n in order.
    let mut i = 0i64;
    for b in reader.blocks() {
        let (_, b) = b.unwrap();
        for k in 0..b.len() {
            assert_eq!(b.int(k), Some(i));
            i += 1;
        }
    }
    assert_eq!(i, n as i64);
}
