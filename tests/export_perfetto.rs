//! `probe export --format perfetto`: decoded by Python's protobuf runtime
//! (tests/python/check_perfetto.py, message definitions of its own) and
//! compared value for value with the log.

#[path = "replay_common/mod.rs"]
mod replay_common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use probe::log::LogReader;
use probe::model::{Status, Value};
use replay_common::write_gallery;

fn consumer_python() -> PathBuf {
    let venv = std::env::var_os("PROBE_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} missing: .ci/run creates it (with protobuf)",
        py.display()
    );
    py
}

#[test]
fn numeric_probes_become_counter_tracks_that_protobuf_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("g.probe");
    write_gallery(&log);
    for ext in ["perfetto-trace", "pftrace"] {
        let out = dir.path().join(format!("g.{ext}"));
        let r = Command::new(env!("CARGO_BIN_EXE_probe"))
            .args(["export"])
            .arg(&log)
            .arg("-o")
            .arg(&out)
            .output()
            .expect("probe export");
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            err.contains("not numeric") && err.contains("state@rhs"),
            "{err}"
        );
        // Expected: every ok (or raised) real value, complex as two tracks.
        let reader = LogReader::open(&log).expect("open");
        let meta = reader.meta().clone();
        let labels = meta.unique_labels();
        let mut tracks: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
        for rec in reader.records() {
            let rec = rec.expect("record");
            if !matches!(rec.status, Status::Ok | Status::Raised) {
                continue;
            }
            let ts = meta.start_unix_ns + rec.ts_ns;
            let label = &labels[rec.probe as usize];
            match rec.value {
                Value::Float(f) if f.is_finite() => {
                    tracks.entry(label.clone()).or_default().push((ts, f))
                }
                Value::Int(i) => tracks
                    .entry(label.clone())
                    .or_default()
                    .push((ts, i as f64)),
                Value::Bool(b) => tracks
                    .entry(label.clone())
                    .or_default()
                    .push((ts, f64::from(u8::from(b)))),
                Value::Complex(re, im) => {
                    tracks
                        .entry(format!("{label} (real)"))
                        .or_default()
                        .push((ts, re));
                    tracks
                        .entry(format!("{label} (imag)"))
                        .or_default()
                        .push((ts, im));
                }
                _ => {}
            }
        }
        assert!(tracks.len() >= 4, "{:?}", tracks.keys());
        let expected = serde_json::json!({"tracks": tracks, "process": "demo.py (probe)"});
        let exp = dir.path().join("expected.json");
        std::fs::write(&exp, expected.to_string()).expect("write");
        let check =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_perfetto.py");
        let r = Command::new(consumer_python())
            .arg(check)
            .arg(&out)
            .arg(&exp)
            .output()
            .expect("python");
        assert!(
            r.status.success(),
            "{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    }
}
