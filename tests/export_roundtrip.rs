//! `probe export` read back by the real consumers: pyarrow, pandas, polars
//! and DuckDB open the Parquet and Arrow outputs, Python's `json` the JSON
//! Lines, Python's `csv` and pandas the CSV, and every cell must equal what
//! the log holds (tests/python/check_export.py does the reading; this side
//! writes the expected rows from the log with its own encoding).
//!
//! The consumers live in a venv that `.ci/run` creates (`.ci/venv`, or
//! `$PROBE_TEST_VENV`). Without it these tests FAIL, they never skip.

mod common;
#[path = "log_common/mod.rs"]
mod log_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_ok, cores, fixture, line_of, probe_bin, pythons, record, records, show};
use probe::log::{LogReader, LogWriter};
use probe::model::{ArrayValue, CaptureRecord, Dtype, Status, Value};
use serde_json::{json, Value as J};

/// The venv's Python, or a loud failure.
fn venv_python() -> PathBuf {
    let dir = std::env::var_os("PROBE_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv"));
    let py = dir.join("bin/python");
    assert!(
        py.exists(),
        "the consumer venv is missing: {} does not exist. `.ci/run` creates it \
         (python3.12 -m venv .ci/venv && .ci/venv/bin/pip install pyarrow pandas polars duckdb numpy), \
         or point PROBE_TEST_VENV at one; these tests never skip.",
        py.display()
    );
    py
}

fn bits(f: f64) -> String {
    f.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn fcanon(f: f64) -> J {
    if f.is_nan() {
        json!("nan")
    } else {
        json!(bits(f))
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The test's own encoding of a value (see check_export.py).
fn canon_value(v: &Value) -> (J, Option<String>) {
    match v {
        Value::Absent => (json!({"kind": "absent"}), None),
        Value::None => (json!({"kind": "none"}), None),
        Value::Bool(b) => (json!({"kind": "bool", "bool": b}), None),
        Value::Int(i) => (json!({"kind": "int", "int": i.to_string()}), None),
        Value::BigInt(s) => (json!({"kind": "int", "int": s}), None),
        Value::Float(f) => (
            json!({"kind": "float", "f64": bits(*f), "nan": f.is_nan()}),
            None,
        ),
        Value::Complex(r, i) => (
            json!({"kind": "complex", "c": [bits(*r), bits(*i)], "cnan": [r.is_nan(), i.is_nan()]}),
            None,
        ),
        Value::Str { text, truncated } => (
            json!({"kind": "str", "text": text, "truncated": truncated}),
            None,
        ),
        Value::Bytes { data, truncated } => (
            json!({"kind": "bytes", "hex": hex(data), "truncated": truncated}),
            None,
        ),
        Value::Sub { type_name, base } => {
            let (j, _) = canon_value(base);
            (j, Some(type_name.clone()))
        }
        Value::Other {
            type_name,
            repr,
            truncated,
        } => (
            json!({"kind": "other", "text": repr, "truncated": truncated}),
            Some(type_name.clone()),
        ),
        Value::Error { exc_type, message } => (
            json!({"kind": "error", "text": message}),
            Some(exc_type.clone()),
        ),
        Value::Array(a) => {
            let mut j = json!({"kind": "array", "dtype": a.dtype.name(), "shape": a.shape, "truncated": a.truncated});
            if a.dtype.is_complex() || a.dtype.is_float() {
                let el: Vec<(f64, f64)> = (0..a.len())
                    .map(|k| a.get_complex(k).expect("element"))
                    .collect();
                j["re"] = el.iter().map(|e| fcanon(e.0)).collect();
                if a.dtype.is_complex() {
                    j["im"] = el.iter().map(|e| fcanon(e.1)).collect();
                }
            } else {
                j["ints"] = (0..a.len()).map(|k| json!(a.get_i64(k))).collect();
            }
            (j, Some(a.type_name.clone()))
        }
    }
}

/// Expected rows of a log: every record, placeholders joined.
fn expected(log: &Path) -> J {
    let reader = LogReader::open(log).expect("open");
    let probes = reader.meta().probes.clone();
    // Labels are the short `file.py:LINE:NAME@role`, except where two
    // probes share one: those get their full path.
    let labels: Vec<String> = probes
        .iter()
        .map(|p| {
            if probes.iter().filter(|q| q.label() == p.label()).count() > 1 {
                format!("{}:{}:{}@{}", p.file, p.line, p.name, p.role.as_str())
            } else {
                p.label()
            }
        })
        .collect();
    let rows: Vec<J> = records(log)
        .iter()
        .map(|r: &CaptureRecord| {
            let (value, type_name) = canon_value(&r.value);
            let p = &probes[r.probe as usize];
            json!({
                "seq": r.seq, "ts_ns": r.ts_ns, "probe": labels[r.probe as usize], "role": p.role.as_str(),
                "batch": r.seq - u64::from(r.order), "order": r.order, "thread": r.thread,
                "status": r.status.as_str(), "kind": r.value.kind(), "type_name": type_name,
                "value": value,
            })
        })
        .collect();
    J::Array(rows)
}

fn export(log: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(probe_bin())
        .arg("export")
        .arg(log)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .expect("probe export runs")
}

/// Export `log` to all four formats and check them with the consumers.
fn check_with_consumers(log: &Path, dir: &Path) -> String {
    let exp = dir.join("expected.json");
    std::fs::write(&exp, serde_json::to_vec(&expected(log)).expect("json")).expect("write");
    let mut args = vec![exp.display().to_string()];
    for fmt in ["parquet", "arrow", "jsonl", "csv"] {
        let out = dir.join(format!("out.{fmt}"));
        let o = export(log, &out, &["-q"]);
        assert!(
            o.status.success(),
            "export to {fmt} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        args.push(format!("--{fmt}"));
        args.push(out.display().to_string());
    }
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_export.py");
    let o = Command::new(venv_python())
        .arg(&checker)
        .args(&args)
        .output()
        .expect("checker runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success(),
        "consumers disagree with the log:\n{report}"
    );
    report
}

const CONSUMERS: [&str; 12] = [
    "pyarrow  parquet",
    "pandas   parquet",
    "polars   parquet",
    "duckdb   parquet",
    "pyarrow  arrow",
    "pandas   arrow",
    "polars   arrow",
    "duckdb   arrow",
    "json     jsonl",
    "csv      csv",
    "pandas   csv",
    "pandas   parquet (numpy dtypes open)",
];

fn series_probes(f: &Path) -> Vec<String> {
    let at = |tag: &str, nr: &str| format!("{}:{}:{nr}", f.display(), line_of(f, tag));
    vec![
        at("x", "x"),
        at("acc", "acc"),
        at("acc", "x@rhs"),
        at("v", "v"),
        at("r", "r"),
        at("u", "u"),
    ]
}

/// A trace recorded from a real program (floats with NaN, ±inf, −0.0 and
/// subnormals, 64-bit and big ints, complex, str with quotes and newline,
/// empty str, bytes, None, bools, an IntEnum, a failing repr, a raised
/// assignment, an unbound name, lists and NumPy arrays) reads back exactly
/// in every consumer — recorded by every supported Python (its default
/// core), whose traces must also agree record for record.
#[test]
fn recorded_program_reads_back_exactly_in_every_consumer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = fixture("series.py");
    let mut first: Option<(String, Vec<String>)> = None;
    for (version, py) in pythons() {
        let core = cores(version)[0];
        let what = format!("series.py on Python {version} ({core})");
        let (out, log) = record(
            dir.path(),
            &py,
            core,
            &series_probes(&f),
            &[f.to_str().expect("utf-8 path")],
        );
        assert_ok(&out, &what);
        let recs = records(&log);
        // The trace must really hold the kinds this test is about.
        let kinds: std::collections::BTreeSet<&str> = recs.iter().map(|r| r.value.kind()).collect();
        for k in [
            "float", "int", "complex", "str", "bytes", "none", "bool", "error", "absent", "array",
        ] {
            assert!(
                kinds.contains(k),
                "{what}: recorded trace has no {k} value: {kinds:?}"
            );
        }
        let shape: Vec<String> = recs
            .iter()
            .map(|r| {
                format!(
                    "{}:{}:{}:{}",
                    r.probe,
                    r.order,
                    r.status.as_str(),
                    show(&r.value)
                )
            })
            .collect();
        match &first {
            None => first = Some((what.clone(), shape)),
            Some((w0, s0)) => assert_eq!(s0, &shape, "{what} disagrees with {w0}"),
        }
        let sub = dir.path().join(version);
        std::fs::create_dir(&sub).expect("mkdir");
        let report = check_with_consumers(&log, &sub);
        for c in CONSUMERS {
            assert!(
                report.contains(&format!("ok   {c}")),
                "{what}: {c} not checked:\n{report}"
            );
        }
    }
}

fn f64_array(dtype: Dtype, shape: Vec<u64>, raw: Vec<u8>, truncated: bool) -> Value {
    Value::Array(ArrayValue {
        type_name: "ndarray".into(),
        dtype,
        shape,
        data: raw,
        truncated,
    })
}

fn le<T: Copy, const N: usize>(xs: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    xs.iter().flat_map(|&x| f(x)).collect()
}

/// Arrays of every dtype family — 2-D float64 with NaN/inf/−0.0, float32,
/// float16, complex64/128, bool, int8/int32/int64, uint8, uint64 beyond
/// i64, an empty array, a truncated one — plus every scalar kind, a
/// subclass, and a placeholder completed in a later frame, in a log written
/// with `LogWriter`, read back exactly in every consumer.
#[test]
fn arrays_and_every_value_kind_read_back_exactly_in_every_consumer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("arrays.probe");
    let half_one_and_neg_two: Vec<u8> = le(&[0x3c00u16, 0xc000, 0x7c00], u16::to_le_bytes);
    let arrays = vec![
        f64_array(
            Dtype::Float64,
            vec![2, 3],
            le(
                &[1.5, f64::NAN, f64::INFINITY, -0.0, 1e-310, -2.0],
                f64::to_le_bytes,
            ),
            false,
        ),
        f64_array(
            Dtype::Float32,
            vec![3],
            le(&[0.1f32, -1.0, 3.5], f32::to_le_bytes),
            false,
        ),
        f64_array(Dtype::Float16, vec![3], half_one_and_neg_two, false),
        f64_array(
            Dtype::Complex128,
            vec![2],
            le(&[1.0, -2.0, f64::NAN, 0.5], f64::to_le_bytes),
            false,
        ),
        f64_array(
            Dtype::Complex64,
            vec![1],
            le(&[0.25f32, 4.0], f32::to_le_bytes),
            false,
        ),
        f64_array(Dtype::Bool, vec![3], vec![1, 0, 1], false),
        f64_array(Dtype::Int8, vec![2], vec![0x80, 0x7f], false),
        f64_array(
            Dtype::Int32,
            vec![2, 2],
            le(&[1i32, -2, 3, i32::MIN], i32::to_le_bytes),
            false,
        ),
        f64_array(
            Dtype::Int64,
            vec![1000],
            le(&[i64::MAX, -5, 7], i64::to_le_bytes),
            true,
        ),
        f64_array(Dtype::Uint8, vec![2], vec![0, 255], false),
        f64_array(
            Dtype::Uint64,
            vec![2],
            le(&[1u64, u64::MAX], u64::to_le_bytes),
            false,
        ),
        f64_array(Dtype::Float64, vec![0], vec![], false),
    ];
    let mut meta = log_common::meta(3);
    meta.probes[2].file = "/other/dir/loop.py".into();
    meta.probes[2].line = 3;
    meta.probes[2].name = "v0".into();
    let mut w = LogWriter::create(&log, false, &meta).expect("create");
    let mut seq = 0;
    let mut vals = arrays;
    vals.extend(log_common::all_values());
    let mut ts = 1000;
    for (k, v) in vals.into_iter().enumerate() {
        ts += 100;
        let status = match v {
            Value::Error { .. } => Status::Error,
            Value::Absent => Status::Unbound,
            _ => Status::Ok,
        };
        // Two records per batch: probe 1 then probe 0, or probe 2 alone.
        let probe = [1u32, 0, 2][k % 3];
        let order = u16::from(probe == 0);
        w.append(&log_common::rec(seq, ts, probe, order, status, v))
            .expect("append");
        seq += 1;
        if k == 4 {
            // A placeholder completed after its frame was written.
            w.append(&log_common::rec(
                seq,
                ts + 1,
                2,
                0,
                Status::Pending,
                Value::Absent,
            ))
            .expect("append");
            w.flush_frame().expect("flush");
            w.complete(seq, Status::Raised, &Value::Float(2.5))
                .expect("complete");
            seq += 1;
        }
    }
    w.finish(log_common::exit_ok(), ts).expect("finish");
    let report = check_with_consumers(&log, dir.path());
    for c in CONSUMERS {
        assert!(
            report.contains(&format!("ok   {c}")),
            "{c} not checked:\n{report}"
        );
    }
}

/// Blocks of plain scalars take the exporter's fast path (Arrow buffers
/// shared with the block's columns, cached all-null columns): a log of
/// ints (i64 extremes), floats (NaN, ±inf, −0.0, subnormal), bools, None
/// and unbound values in three frames (the last one short),
/// reads back exactly in every consumer.
#[test]
fn scalar_only_blocks_read_back_exactly_in_every_consumer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("scalars.probe");
    let mut w = LogWriter::create(&log, false, &log_common::meta(2)).expect("create");
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        5e-324,
        0.1,
    ];
    let n = 6_000u64;
    for seq in 0..n {
        if seq > 0 && seq % 2_500 == 0 {
            w.flush_frame().expect("flush"); // several blocks, the last one short
        }
        let k = seq % 7;
        let v = match k {
            0 => Value::Int(if seq % 2 == 0 {
                i64::MIN
            } else {
                i64::MAX - seq as i64
            }),
            1 => Value::Float(specials[(seq as usize / 7) % specials.len()]),
            2 => Value::Bool(seq % 3 == 0),
            3 => Value::None,
            4 => Value::Absent,
            _ => Value::Float(seq as f64 * 0.5),
        };
        let status = if k == 4 { Status::Unbound } else { Status::Ok };
        let (probe, order) = if seq % 2 == 0 { (1, 0) } else { (0, 1) };
        w.append(&log_common::rec(
            seq,
            1000 + seq / 2 * 300,
            probe,
            order,
            status,
            v,
        ))
        .expect("append");
    }
    w.finish(log_common::exit_ok(), n * 150 + 1000)
        .expect("finish");
    let reader = LogReader::open(&log).expect("open");
    let frames = reader
        .frames()
        .iter()
        .filter(|f| f.header.kind == probe::log::FrameKind::Records)
        .count();
    assert_eq!(frames, 3, "wanted three record frames");
    let report = check_with_consumers(&log, dir.path());
    for c in CONSUMERS {
        assert!(
            report.contains(&format!("ok   {c}")),
            "{c} not checked:\n{report}"
        );
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `--probe` keeps only the selected probes' rows, in seq order.
#[test]
fn probe_selection_keeps_only_those_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("good.probe");
    log_common::write_good(&log);
    let out = dir.path().join("sel.jsonl");
    let o = export(
        &log,
        &out,
        &["--probe", "v1@rhs", "--probe", "loop.py:5:v2"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).expect("read");
    let rows: Vec<J> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let want: Vec<u64> = records(&log)
        .iter()
        .filter(|r| r.probe == 1 || r.probe == 2)
        .map(|r| r.seq)
        .collect();
    let got: Vec<u64> = rows
        .iter()
        .map(|r| r["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(got, want);
    assert!(rows
        .iter()
        .all(|r| r["probe"] == "loop.py:4:v1@rhs" || r["probe"] == "loop.py:5:v2@lhs"));
    let o = export(&log, &dir.path().join("none.csv"), &["--probe", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--probe \"nosuch\" matches no probe of")
            && stderr(&o).contains("loop.py:3:v0@lhs"),
        "{}",
        stderr(&o)
    );
}

/// Bad input gets a specific message and exit status 2, and never leaves
/// a file behind: an existing output (refused without --force), an unknown
/// format, an output that cannot be created, an incomplete log (exported
/// with --allow-incomplete, with a warning), an unreadable log.
#[test]
fn bad_input_is_named_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("good.probe");
    log_common::write_good(&log);

    let out = dir.path().join("exists.parquet");
    std::fs::write(&out, b"keep me").expect("write");
    let o = export(&log, &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already exists; refusing to overwrite it (use --force)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&out).expect("read"), b"keep me");
    let o = export(&log, &out, &["--force", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&std::fs::read(&out).expect("read")[..4], b"PAR1");

    let o = export(&log, &log, &["--format", "jsonl", "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("it is the log being exported"),
        "{}",
        stderr(&o)
    );
    assert!(LogReader::open(&log).is_ok(), "the log was overwritten");

    let o = export(&log, &dir.path().join("x.xlsx"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot tell the format of") && stderr(&o).contains("--format"),
        "{}",
        stderr(&o)
    );
    let o = export(&log, &dir.path().join("x.out"), &["--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown format \"xml\"; choose one of parquet, arrow, csv, jsonl"),
        "{}",
        stderr(&o)
    );
    let o = export(
        &log,
        &dir.path().join("x.out"),
        &["--format", "jsonl", "-q"],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let missing = dir.path().join("no/such/dir/out.arrow");
    let o = export(&log, &missing, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("cannot write {}", missing.display())),
        "{}",
        stderr(&o)
    );

    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1");
    let out = dir.path().join("trunc.jsonl");
    let o = export(&v1.join("truncated.probe"), &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("truncated.probe is incomplete")
            && stderr(&o).contains("--allow-incomplete"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "a refused export left {}", out.display());
    let o = export(&v1.join("truncated.probe"), &out, &["--allow-incomplete"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: ") && stderr(&o).contains("is incomplete"),
        "{}",
        stderr(&o)
    );
    let rows = std::fs::read_to_string(&out).expect("read").lines().count();
    let readable = LogReader::open(&v1.join("truncated.probe"))
        .expect("open")
        .records()
        .filter(|r| r.is_ok())
        .count();
    assert!(
        rows > 0 && rows == readable,
        "{rows} rows, {readable} readable records"
    );

    let junk = dir.path().join("junk.probe");
    std::fs::write(&junk, b"not a log at all").expect("write");
    let o = export(&junk, &dir.path().join("j.csv"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read") && stderr(&o).contains("not a probe log"),
        "{}",
        stderr(&o)
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
}
