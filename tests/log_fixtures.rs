//! Committed sample logs (`fixtures/logs/v1/`): every released format
//! version stays readable forever, with exactly the verify verdicts recorded
//! next to each file.
//!
//! The files were generated once with
//! `cargo test --release --test log_fixtures -- --ignored regenerate`;
//! never regenerate the v1 set after release (add a v2 directory instead).

mod log_common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use log_common::*;
use probe::log::{info_path, verify_path, LogReader};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1")
}

/// (file, expected exit code)
const FIXTURES: [(&str, i32); 5] = [
    ("good.probe", 0),
    ("truncated.probe", 1),
    ("flipped-byte.probe", 1),
    ("no-end-marker.probe", 1),
    ("missing-frame.probe", 1),
];

fn records_text(path: &Path) -> String {
    let r = LogReader::open(path).expect("open");
    let mut s = String::new();
    for rec in r.records() {
        match rec {
            Ok(rec) => {
                // Debug prints every NaN as `NaN`: add the bits of floats.
                let bits = match rec.value {
                    probe::model::Value::Float(x) => {
                        format!(" bits={:#018x}", x.to_bits())
                    }
                    probe::model::Value::Complex(a, b) => {
                        format!(" bits={:#018x},{:#018x}", a.to_bits(), b.to_bits())
                    }
                    _ => String::new(),
                };
                writeln!(s, "{rec:?}{bits}").unwrap()
            }
            Err(e) => writeln!(s, "error: {e}").unwrap(),
        }
    }
    s
}

#[test]
#[ignore = "writes fixtures/logs/v1; run once, by hand"]
fn regenerate() {
    let d = dir();
    std::fs::create_dir_all(&d).unwrap();
    let good = d.join("good.probe");
    let _ = std::fs::remove_file(&good);
    write_good(&good);
    let b = std::fs::read(&good).unwrap();
    let f = frame_offsets(&b);
    assert_eq!(
        f.iter().map(|x| x.1).collect::<Vec<_>>(),
        [1, 2, 2, 2, 2, 3]
    );

    let (off, _, len) = f[4];
    std::fs::write(d.join("truncated.probe"), &b[..off + len / 2]).unwrap();

    let mut x = b.clone();
    let (off, _, len) = f[2];
    x[off + 48 + len / 3] ^= 0x10;
    std::fs::write(d.join("flipped-byte.probe"), &x).unwrap();

    std::fs::write(d.join("no-end-marker.probe"), &b[..f[5].0]).unwrap();

    let mut x = b.clone();
    x.drain(off..off + len);
    std::fs::write(d.join("missing-frame.probe"), &x).unwrap();

    for (name, _) in FIXTURES {
        let p = d.join(name);
        let report = verify_path(&p);
        std::fs::write(p.with_extension("verify.txt"), report.to_string()).unwrap();
    }
    std::fs::write(d.join("good.records.txt"), records_text(&good)).unwrap();
    std::fs::write(
        d.join("good.info.txt"),
        info_path(&good).unwrap().to_string(),
    )
    .unwrap();
}

#[test]
fn fixtures_verify_exactly_as_recorded() {
    for (name, code) in FIXTURES {
        let p = dir().join(name);
        let want = std::fs::read_to_string(p.with_extension("verify.txt")).unwrap();
        let report = verify_path(&p);
        assert_eq!(report.to_string(), want, "verify output of {name} changed");
        assert_eq!(report.exit_code(), code, "{name}");
    }
}

#[test]
fn good_fixture_reads_the_same_records_and_info() {
    let p = dir().join("good.probe");
    let want = std::fs::read_to_string(dir().join("good.records.txt")).unwrap();
    assert_eq!(records_text(&p), want);
    let want = std::fs::read_to_string(dir().join("good.info.txt")).unwrap();
    assert_eq!(info_path(&p).unwrap().to_string(), want);
}

#[test]
fn writer_still_produces_the_v1_bytes() {
    // While the writer writes version 1, it must write exactly the fixture
    // (a layout change must bump the version and add fixtures/logs/v2).
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("good.probe");
    write_good(&p);
    let fresh = std::fs::read(&p).unwrap();
    if fresh[8..10] == 1u16.to_le_bytes() {
        let old = std::fs::read(dir().join("good.probe")).unwrap();
        let first_diff = fresh.iter().zip(&old).position(|(a, b)| a != b);
        assert!(
            fresh == old,
            "the writer no longer writes fixtures/logs/v1/good.probe byte for byte: \
             lengths {} vs {}, first difference at offset {:?}",
            fresh.len(),
            old.len(),
            first_diff
        );
    }
}
