//! Issue 11: `probe record` against the independent instruction-level
//! reference (`tests/python/instr_reference.py`), record for record, on
//! every supported Python and core. CI-sized corpus; the long run is
//! `scripts/differential.sh`.
//!
//! * `reference_self_test`: the reference reproduces every
//!   `fixtures/conformance/*.expected`, the issue-11 regressions and the
//!   SPEC §2 canonical table, and its two event sources (settrace opcode
//!   events, sys.monitoring INSTRUCTION events) agree on every fixture and
//!   on generated programs - on every Python.
//! * `differential_constructs`: the construct programs of
//!   `fixtures/reference/` (one construct each, minimal cases of every
//!   disagreement class found so far), probed everywhere.
//! * `differential_generated`: seeded programs from
//!   `tests/python/gen_programs.py` that combine constructs.
//! * `differential_real_code`: 42 standard-library modules, NumPy's
//!   polynomial and function_base sources and asyncio's queues and locks,
//!   driven by `tests/python/drivers/*.py`, probed everywhere.
//! * `differential_hot_path`: `fixtures/programs/hot/tight_*.py`, one
//!   LHS probe per loop statement — the native core's hot path and every
//!   way its next event can differ from the last.
//!
//! Each asserts ZERO disagreements (and no harness error, and `probe
//! probes` listing exactly the names the reference finds) and prints the
//! counts per Python and core. A missing interpreter fails the test
//! (`common::pythons()`); nothing is skipped. The harness runs one at a
//! time, two programs in parallel (the machine has two cores).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use common::*;

/// Generated programs checked in CI, per run of every Python and core.
const CI_SEEDS: &str = "1-30";

/// The harness runs one at a time: each already uses both cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> PathBuf {
    root().join("tests/python").join(name)
}

/// The interpreter that runs the harness itself (any supported one).
fn harness_python() -> PathBuf {
    pythons()
        .into_iter()
        .find(|(v, _)| *v == "3.12")
        .map(|(_, p)| p)
        .expect("Python 3.12 (pythons() fails loudly when it is missing)")
}

/// Runs `differential.py` with `args`, on every supported Python (all must
/// be present), against the probe binary under test; panics on any
/// disagreement, harness error or listing difference.
fn differential(what: &str, args: &[&str]) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pys = pythons();
    let versions: Vec<&str> = pys.iter().map(|(v, _)| *v).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.json");
    let mut cmd = Command::new(harness_python());
    cmd.arg(script("differential.py"))
        .args(["--probe-bin"])
        .arg(probe_bin())
        .args(["--versions", &versions.join(","), "--jobs", "2", "-q"])
        .arg("--json")
        .arg(&summary)
        .args(args)
        .current_dir(root());
    for (v, p) in &pys {
        cmd.env(format!("PROBE_TEST_PYTHON_{}", v.replace('.', "_")), p);
    }
    let start = Instant::now();
    let out = cmd.output().expect("differential.py runs");
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let table: String = stdout
        .lines()
        .skip_while(|l| !l.starts_with("== differential summary"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{what}: {secs:.0}s\n{table}");
    assert!(
        out.status.success(),
        "{what}: probe record disagrees with the reference (or the harness failed), exit {}:\n{stdout}\n{stderr}",
        out.status
    );
    // The summary must show real work on every Python and core: a run that
    // compared nothing proves nothing.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary written"))
            .expect("summary is JSON");
    for (v, _) in &pys {
        for core in cores(v) {
            let key = format!("{v}/{core}");
            let c = &json["counts"][&key];
            let records = c["records"].as_u64().unwrap_or(0);
            let programs = c["programs"].as_u64().unwrap_or(0);
            assert!(
                programs > 0 && records > 0,
                "{what}: nothing compared on Python {v} ({core}): {c}"
            );
            assert_eq!(c["disagree"].as_u64(), Some(0), "{what}: {key}");
        }
    }
}

#[test]
fn reference_self_test() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (version, py) in pythons() {
        let start = Instant::now();
        let out = Command::new(&py)
            .arg(script("ref_selftest.py"))
            .args(["--seeds", "1-6"])
            .current_dir(root())
            .output()
            .expect("ref_selftest.py runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("reference self-test"));
        eprintln!(
            "Python {version}: {} ({:.0}s)",
            last.unwrap_or("?"),
            start.elapsed().as_secs_f64()
        );
        assert!(
            out.status.success(),
            "reference self-test failed on Python {version}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let runs: usize = last
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(runs >= 40, "Python {version}: only {runs} self-test runs");
    }
}

#[test]
fn differential_constructs() {
    let dir = root().join("fixtures/reference");
    let mut programs: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/reference")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    programs.sort();
    assert!(programs.len() >= 15, "construct corpus: {programs:?}");
    let mut args: Vec<&str> = Vec::new();
    for p in &programs {
        args.push("--program");
        args.push(p);
    }
    differential("construct programs", &args);
}

#[test]
fn differential_generated() {
    differential("generated programs", &["--seeds", CI_SEEDS]);
}

#[test]
fn differential_real_code() {
    let drivers = root().join("tests/python/drivers");
    let n = std::fs::read_dir(&drivers)
        .expect("drivers")
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "py"))
                .unwrap_or(false)
        })
        .count();
    assert!(n >= 20, "{n} drivers in {}", Path::display(&drivers));
    differential("real code", &["--drivers", "all"]);
}

/// The native core's hot path (the same probed statement of the same frame
/// again, done without the tables) against the reference: every way the
/// next event can differ from the last — another frame of the same code
/// (recursion, two generators), an unbound local, every kind of value, a
/// thread starting, offsets beyond the small ints, a closure's cell, an
/// exception; at module level a `for` header completing the capture from
/// the namespace, `del`, a comprehension's hidden variable of the same
/// name, a class body — with exactly one LHS probe per loop statement, the
/// case the hot path takes.
#[test]
fn differential_hot_path() {
    for rel in [
        "fixtures/programs/hot/tight_loops.py",
        "fixtures/programs/hot/tight_module.py",
    ] {
        let src = std::fs::read_to_string(root().join(rel)).expect("hot-path fixture");
        let specs: Vec<String> = src
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                let t = l.trim_start();
                ["x = ", "y = "]
                    .iter()
                    .find(|p| t.starts_with(**p) && l.len() > t.len())
                    .map(|p| format!("{rel}:{}:{}", i + 1, &p[..1]))
            })
            .collect();
        assert!(
            specs.len() >= 9,
            "{rel}: probed statements found: {specs:?}"
        );
        let mut args: Vec<&str> = vec!["--program", rel];
        for s in &specs {
            args.push("--probe");
            args.push(s);
        }
        differential(&format!("hot path ({rel})"), &args);
    }
}
