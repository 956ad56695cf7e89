//! `probe diff` end to end: real recorded runs of `fixtures/programs/series.py`
//! (identical runs, a one-ulp nudge, different lengths, a probe in one trace
//! only, a different program), damaged fixture logs, and synthetic logs for
//! renamed files, moved lines, arrays and timestamps.

mod common;
#[path = "log_common/mod.rs"]
mod log_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_ok, find_python, fixture, line_of, probe_bin, record};
use probe::log::{LogWriter, RunMeta};
use probe::model::{ArrayValue, Dtype, Status, Value};
use serde_json::Value as J;

fn diff(a: &Path, b: &Path, extra: &[&str]) -> Output {
    Command::new(probe_bin())
        .arg("diff")
        .arg(a)
        .arg(b)
        .args(extra)
        .output()
        .expect("probe diff runs")
}

fn json(o: &Output) -> J {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn probe_row<'a>(r: &'a J, label: &str) -> &'a J {
    r["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .find(|p| p["a"] == label)
        .unwrap_or_else(|| panic!("no row for {label} in {r:#}"))
}

struct Runs {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    py: PathBuf,
    series: PathBuf,
}

impl Runs {
    fn new() -> Runs {
        let d = tempfile::tempdir().expect("tempdir");
        Runs {
            dir: d.path().to_path_buf(),
            _dir: d,
            py: find_python("3.12").expect("Python 3.12 (the tests need it)"),
            series: fixture("series.py"),
        }
    }

    fn probes(&self, extra_v: bool) -> Vec<String> {
        let f = &self.series;
        let at = |tag: &str, nr: &str| format!("{}:{}:{nr}", f.display(), line_of(f, tag));
        let mut p = vec![at("x", "x"), at("acc", "acc"), at("acc", "x@rhs")];
        if extra_v {
            p.push(at("v", "v"));
        }
        p
    }

    fn record(&self, extra_v: bool, args: &[&str]) -> PathBuf {
        let mut prog = vec![self.series.to_str().expect("utf-8")];
        prog.extend_from_slice(args);
        let (o, log) = record(
            &self.dir,
            &self.py,
            "monitoring",
            &self.probes(extra_v),
            &prog,
        );
        assert_ok(&o, "recording series.py");
        log
    }
}

/// Two runs of the same program compare equal (exit 0); NaN values make
/// them differ unless --nan-equal, and the report says so.
#[test]
fn identical_runs_are_the_same() {
    let r = Runs::new();
    let (a, b) = (r.record(false, &[]), r.record(false, &[]));
    let o = diff(&a, &b, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("SAME: 3 probes match"), "{}", out(&o));
    let j = json(&diff(&a, &b, &["--json"]));
    assert_eq!(j["same"], true);
    assert_eq!(probe_row(&j, "series.py:41:x@lhs")["count_a"], 40);

    let (a, b) = (r.record(true, &[]), r.record(true, &[]));
    let o = diff(&a, &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("nan vs nan (NaN never equals NaN unless --nan-equal)"),
        "{}",
        out(&o)
    );
    let o = diff(&a, &b, &["--nan-equal"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // A trace against itself, with timestamps compared too.
    let o = diff(&a, &a, &["--nan-equal", "--timestamps"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

/// One value moved by one ulp: different without tolerance (index, seqs,
/// both values, the batch around it), the same with --rtol 1e-15.
#[test]
fn one_ulp_differs_without_tolerance_only() {
    let r = Runs::new();
    let a = r.record(false, &[]);
    let b = r.record(false, &["40", "--nudge", "7"]);
    let o = diff(&a, &b, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let j = json(&o);
    let x = probe_row(&j, "series.py:41:x@lhs");
    assert_eq!(x["same"], false);
    assert_eq!(x["differing"], 1);
    let first = &x["first"];
    assert_eq!(first["index"], 7);
    assert_eq!(first["a"]["value"], "0.6442176872376911");
    assert_eq!(first["b"]["value"], "0.6442176872376912");
    assert_eq!(first["a"]["seq"], first["b"]["seq"]);
    let abs = x["max_abs"].as_f64().expect("max_abs");
    assert!(abs > 0.0 && abs < 2e-16, "{abs}");
    // x@rhs on the accumulator line shares its trigger with acc@lhs.
    let rhs = probe_row(&j, "series.py:42:x@rhs");
    let batch: Vec<&str> = rhs["first"]["batch_b"]
        .as_array()
        .expect("batch")
        .iter()
        .map(|s| s["probe"].as_str().expect("probe"))
        .collect();
    assert_eq!(batch, ["series.py:42:x@rhs", "series.py:42:acc@lhs"]);
    assert_eq!(probe_row(&j, "series.py:42:acc@lhs")["same"], true);
    let text = out(&diff(&a, &b, &[]));
    assert!(
        text.contains("first divergence at value #7: 0.6442176872376911 vs 0.6442176872376912"),
        "{text}"
    );
    assert!(
        text.contains("batch in B (2 records of one trigger)"),
        "{text}"
    );

    let o = diff(&a, &b, &["--rtol", "1e-15"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = diff(&a, &b, &["--atol", "1e-17"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
}

/// Different lengths: counts differ, the divergence is where the shorter
/// trace ends.
#[test]
fn different_lengths_differ_at_the_end_of_the_shorter() {
    let r = Runs::new();
    let (a, b) = (r.record(false, &["40"]), r.record(false, &["45"]));
    let o = diff(&a, &b, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let x = probe_row(&json(&o), "series.py:41:x@lhs").clone();
    assert_eq!(
        (x["count_a"].as_u64(), x["count_b"].as_u64()),
        (Some(40), Some(45))
    );
    assert_eq!(x["compared"], 40);
    assert_eq!(x["differing"], 0);
    assert_eq!(x["first"]["index"], 40);
    assert_eq!(x["first"]["reason"], "A has only 40 values, B has 45");
    assert!(x["first"]["a"].is_null() && x["first"]["b"]["seq"].is_u64());
    let text = out(&diff(&a, &b, &[]));
    assert!(text.contains("(no value #40: A has 40)"), "{text}");
}

/// A probe only one trace has makes them different and is listed.
#[test]
fn a_probe_in_one_trace_only_is_listed() {
    let r = Runs::new();
    let (a, b) = (r.record(true, &[]), r.record(false, &[]));
    let o = diff(&a, &b, &["--json", "--nan-equal"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let j = json(&o);
    assert_eq!(j["only_in_a"][0]["probe"], "series.py:48:v@lhs");
    // 25 special values and 4 NumPy ones.
    assert_eq!(j["only_in_a"][0]["count"], 29);
    assert!(j["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .all(|p| p["same"] == true));
    let text = out(&diff(&a, &b, &["--nan-equal"]));
    assert!(
        text.contains("only in A: series.py:48:v@lhs (29 records)"),
        "{text}"
    );
}

/// Unreadable or incomparable: exit 2 with the reason.
#[test]
fn incomparable_or_unreadable_traces_exit_2() {
    let r = Runs::new();
    let a = r.record(false, &[]);
    let smooth = fixture("smooth.py");
    let (o, other) = record(
        &r.dir,
        &r.py,
        "monitoring",
        &[format!("{}:{}:y", smooth.display(), line_of(&smooth, "y"))],
        &[smooth.to_str().expect("utf-8")],
    );
    assert_ok(&o, "recording smooth.py");
    let o = diff(&a, &other, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("different programs") && out(&o).contains("smooth.py"),
        "{}",
        out(&o)
    );

    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1");
    let (good, trunc) = (v1.join("good.probe"), v1.join("truncated.probe"));
    let o = diff(&good, &trunc, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("truncated.probe is incomplete") && out(&o).contains("--allow-incomplete"),
        "{}",
        out(&o)
    );
    let o = diff(
        &good,
        &trunc,
        &["--allow-incomplete", "--json", "--nan-equal"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let j = json(&o);
    assert_eq!(j["b"]["complete"], false);
    assert!(j["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .any(|p| p["count_a"] != p["count_b"]));
    for damaged in [
        "flipped-byte.probe",
        "no-end-marker.probe",
        "missing-frame.probe",
    ] {
        let o = diff(&good, &v1.join(damaged), &[]);
        assert_eq!(o.status.code(), Some(2), "{damaged}: {}", out(&o));
        assert!(out(&o).contains("is incomplete"), "{damaged}: {}", out(&o));
    }
    let junk = r.dir.join("junk.probe");
    std::fs::write(&junk, b"nothing").expect("write");
    let o = diff(&good, &junk, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("cannot read") && out(&o).contains("junk.probe"),
        "{}",
        out(&o)
    );
    let o = diff(&good, &good, &["--rtol=-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("--rtol must be a finite number >= 0"),
        "{}",
        out(&o)
    );
    let o = diff(
        &good,
        &good,
        &[
            "--nan-equal",
            "--plot",
            &r.dir.join("p.gif").display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("must be a .png or .svg file"),
        "{}",
        out(&o)
    );
}

fn meta_for(file: &str, command: &str, lines: &[(u32, &str)]) -> RunMeta {
    let mut m = log_common::meta(lines.len() as u32);
    m.command = command.split(' ').map(String::from).collect();
    for (p, (line, name)) in m.probes.iter_mut().zip(lines) {
        p.file = file.into();
        p.line = *line;
        p.name = (*name).into();
        p.spec = format!("{file}:{line}:{name}@{}", p.role.as_str());
    }
    m
}

fn write_log(path: &Path, meta: &RunMeta, values: &[(u32, Value)]) {
    let mut w = LogWriter::create(path, false, meta).expect("create");
    for (seq, (probe, v)) in values.iter().enumerate() {
        w.append(&log_common::rec(
            seq as u64,
            1000 + seq as u64 * 10,
            *probe,
            0,
            Status::Ok,
            v.clone(),
        ))
        .expect("append");
    }
    w.finish(log_common::exit_ok(), 10_000).expect("finish");
}

/// A renamed file pairs with --map; moved lines with --ignore-lines.
#[test]
fn renamed_files_and_moved_lines_pair_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.probe"), dir.path().join("b.probe"));
    let vals: Vec<(u32, Value)> = (0..6).map(|i| (i % 2, Value::Int(i as i64))).collect();
    write_log(
        &a,
        &meta_for("/x/old.py", "python3 old.py", &[(3, "v0"), (4, "v1")]),
        &vals,
    );
    write_log(
        &b,
        &meta_for("/y/new.py", "python3 new.py", &[(3, "v0"), (6, "v1")]),
        &vals,
    );
    let o = diff(&a, &b, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("--map old.py=new.py"), "{}", out(&o));
    let o = diff(&a, &b, &["--map", "old.py=new.py", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let j = json(&o);
    assert_eq!(j["probes"][0]["matched_by"], "map");
    assert_eq!(j["only_in_a"][0]["probe"], "old.py:4:v1@rhs");
    let o = diff(
        &a,
        &b,
        &["--map", "old.py=new.py", "--ignore-lines", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let j = json(&o);
    assert_eq!(j["probes"][1]["matched_by"], "name");
    assert_eq!(j["probes"][1]["b"], "new.py:6:v1@rhs");
    let o = diff(&a, &b, &["--map", "nonsense"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
}

fn arr(xs: &[f64]) -> Value {
    Value::Array(ArrayValue {
        type_name: "ndarray".into(),
        dtype: Dtype::Float64,
        shape: vec![2, 2],
        data: xs.iter().flat_map(|x| x.to_le_bytes()).collect(),
        truncated: false,
    })
}

/// Arrays compare elementwise under the tolerance; complex by modulus; the
/// report names the element; --plot writes PNG and SVG, a complex probe as
/// its real and its imaginary part.
#[test]
fn arrays_and_complex_compare_elementwise_and_plot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.probe"), dir.path().join("b.probe"));
    let m = meta_for("/s/f.py", "python3 f.py", &[(3, "blk"), (4, "z")]);
    let va = vec![
        (0, arr(&[1.0, 2.0, 3.0, 4.0])),
        (1, Value::Complex(0.0, 1.0)),
        (0, arr(&[1.0, 2.0, 3.0, 4.0])),
        (1, Value::Complex(3.0, 4.0)),
    ];
    let mut vb = va.clone();
    vb[2] = (0, arr(&[1.0, 2.0, 3.0, 4.001]));
    vb[3] = (1, Value::Complex(3.0, 4.002));
    write_log(&a, &m, &va);
    write_log(&b, &m, &vb);
    let o = diff(&a, &b, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let j = json(&o);
    assert_eq!(j["probes"][0]["first"]["index"], 1);
    assert_eq!(
        j["probes"][0]["first"]["reason"],
        "element [1, 1]: 4.0 vs 4.001"
    );
    assert!(j["probes"][1]["first"]["reason"]
        .as_str()
        .expect("reason")
        .starts_with("(3.0+4.0j) vs (3.0+4.002j)"));
    let o = diff(&a, &b, &["--atol", "0.0021"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // rtol is relative to A: the element passes (0.001 <= 3e-4 * 4.0), the
    // complex value does not (|0.002j| > 3e-4 * |3+4j| = 0.0015).
    let o = diff(&a, &b, &["--rtol", "0.0003", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let j = json(&o);
    assert_eq!(
        (
            j["probes"][0]["same"].as_bool(),
            j["probes"][1]["same"].as_bool()
        ),
        (Some(true), Some(false))
    );
    for ext in ["png", "svg"] {
        let pic = dir.path().join(format!("d.{ext}"));
        let o = diff(&a, &b, &["--plot", pic.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(1), "{}", out(&o));
        let bytes = std::fs::read(&pic).expect("plot written");
        if ext == "png" {
            assert_eq!(&bytes[..4], b"\x89PNG");
        } else {
            let svg = String::from_utf8_lossy(&bytes);
            assert!(
                svg.contains("<svg") && svg.contains("first divergence"),
                "svg without the marker"
            );
            // z differs only in its imaginary part: a row of real parts
            // alone would show two identical curves.
            assert!(
                svg.contains("z@rhs — first divergence at #1 (2 vs 2 values) — real part")
                    && svg.contains("— imaginary part"),
                "a complex probe gets a real and an imaginary row: {}",
                svg.lines()
                    .filter(|l| l.contains("divergence"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

/// --timestamps compares each record's time since its recording started.
#[test]
fn timestamps_count_only_when_asked() {
    let r = Runs::new();
    let (a, b) = (r.record(false, &[]), r.record(false, &[]));
    assert_eq!(diff(&a, &b, &[]).status.code(), Some(0));
    let o = diff(&a, &b, &["--timestamps"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "two runs never have the same timing: {}",
        out(&o)
    );
    assert!(out(&o).contains("timestamp"), "{}", out(&o));
    let o = diff(&a, &b, &["--timestamps", "--ts-tol", "60000000000"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

/// The report's words and numbers read right: one probe is singular
/// (`SAME: 1 probe matches`), and counts carry thousands separators in the
/// header, the table and the divergence (`2,500 records`, `#1,234`).
#[test]
fn the_report_counts_read_as_a_person_writes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.probe"), dir.path().join("b.probe"));
    let m = meta_for("/s/f.py", "python3 f.py", &[(3, "x")]);
    let va: Vec<(u32, Value)> = (0..2500).map(|i| (0, Value::Int(i))).collect();
    write_log(&a, &m, &va);
    write_log(&b, &m, &va);
    let o = diff(&a, &b, &[]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("SAME: 1 probe matches within tolerance"),
        "{text}"
    );
    assert!(text.contains("(2,500 records;"), "{text}");
    let mut vc = va.clone();
    vc[1234] = (0, Value::Int(-1));
    let c = dir.path().join("c.probe");
    write_log(&c, &m, &vc);
    let text = out(&diff(&a, &c, &[]));
    assert!(
        text.contains("DIFFERENT at #1,234 (1 of 2,500 pairs differ)"),
        "{text}"
    );
    assert!(text.contains("first divergence at value #1,234"), "{text}");
    assert!(
        text.contains("DIFFERENT: 1 of 1 matched probe differs"),
        "{text}"
    );
}
