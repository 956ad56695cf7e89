//! Captures are recorded however probed code is entered and whatever other
//! tools the program runs beside probe:
//!
//! * Python 3.11's frame gate (`crates/agent/src/gate.rs`) turns
//!   `sys.settrace` tracing on only for frames of probed code. Every way
//!   CPython 3.11 starts a frame — specialised calls, `__getitem__`,
//!   `__init__`, properties, generators, coroutines, callbacks from C,
//!   recursion, a profiler set meanwhile — must still be traced: the
//!   records must equal those of every core on every Python.
//! * On 3.12+, CPython drops a tool's INSTRUCTION events on a code object
//!   when another tool starts instrumenting it (CPython gh-157900); the
//!   monitoring cores re-arm theirs after the program's `sys.setprofile`,
//!   `sys.settrace` and `sys.monitoring` calls, so nothing is lost.

mod common;

use common::*;
use probe::log::LogReader;

#[test]
fn probed_code_is_traced_however_its_frames_start() {
    let lib = fixture("gate/lib.py");
    let tags = [
        ("plain", "y", 642),
        ("init", "w", 300),
        ("getitem", "g", 300),
        ("prop", "p", 300),
        ("method", "m", 300),
        ("gen", "q", 50),
        ("coro", "a", 1),
        ("key", "kk", 40),
        ("deep", "d", 31),
        ("catch", "c", 1),
    ];
    let specs: Vec<String> = tags
        .iter()
        .map(|(tag, name, _)| spec(&lib, tag, name))
        .collect();
    across_runs("gate/main.py", &specs, &[], |what, out, recs| {
        for (i, (tag, _, n)) in tags.iter().enumerate() {
            let got = of_probe(recs, i as u32);
            assert_eq!(got.len(), *n, "{what}: probe {tag}: {} records", got.len());
            assert!(
                got.iter().all(|r| r.status.as_str() == "ok"),
                "{what}: probe {tag}: a record is not ok"
            );
        }
        // The calls made while a profiler was set, and after, are there.
        let plain = values(&of_probe(recs, 0));
        assert_eq!(plain[plain.len() - 2..], ["1001", "2001"], "{what}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("314832"),
            "{what}: the program's own output"
        );
    });
}

#[test]
fn the_frame_gate_runs_on_3_11_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lib = fixture("gate/lib.py");
    let main = fixture("gate/main.py");
    let py = pythons()
        .into_iter()
        .find(|(v, _)| *v == "3.11")
        .map(|(_, p)| p)
        .expect("3.11 (pythons() fails loudly when missing)");
    for core in ["auto", "settrace"] {
        let (out, log) = record(
            dir.path(),
            &py,
            core,
            &[spec(&lib, "plain", "y")],
            &[main.to_str().unwrap()],
        );
        assert_ok(&out, &format!("--core {core} on 3.11"));
        let meta = LogReader::open(&log).unwrap().meta().clone();
        assert_eq!(meta.core, "settrace");
        if core == "auto" {
            let note = meta.core_note.unwrap_or_default();
            assert!(note.contains("native frame gate"), "{note}");
        } else {
            // Explicitly chosen and working as asked: nothing to note.
            assert_eq!(meta.core_note, None);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("frame gate was not installed"), "{stderr}");
        assert_eq!(of_probe(&records(&log), 0).len(), 642);
    }
}

/// Records `program` (its `# P:y` line probed on `y`) on every Python with
/// sys.monitoring (3.12+, which the program itself needs) with both
/// monitoring cores, and hands each run's label, its values and stderr to
/// `check`.
fn on_each_monitoring_core(program: &str, check: impl Fn(&str, Vec<String>, &str)) {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture(program);
    for (v, py) in pythons() {
        if v == "3.11" {
            continue;
        }
        for core in ["native", "monitoring"] {
            let what = format!("Python {v} ({core})");
            let (out, log) = record(
                dir.path(),
                &py,
                core,
                &[spec(&file, "y", "y")],
                &[file.to_str().unwrap()],
            );
            assert_ok(&out, &what);
            check(
                &what,
                values(&records(&log)),
                &String::from_utf8_lossy(&out.stderr),
            );
        }
    }
}

#[test]
fn other_tools_starting_and_stopping_lose_no_capture() {
    let expected: Vec<String> = [
        1, 2, 3, 1001, 2001, 3001, 4001, 5001, 6001, 7001, 8001, 8002, 8003, 9001,
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    on_each_monitoring_core("other_tools.py", |what, got, stderr| {
        assert_eq!(got, expected, "{what}");
        assert!(!stderr.contains("gh-157900"), "{what}: {stderr}");
    });
}

#[test]
fn deep_recursion_makes_the_gate_stand_down_not_crash() {
    let file = fixture("gate/deep.py");
    across_runs(
        "gate/deep.py",
        &[spec(&file, "d", "d")],
        &[],
        |what, out, recs| {
            assert_eq!(recs.len(), 12_001, "{what}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "12000",
                "{what}"
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                stderr.contains("the frame gate stood down"),
                what.contains("Python 3.11"),
                "{what}: {stderr}"
            );
        },
    );
}

#[test]
fn a_profiler_set_from_c_is_noticed_and_warned_about() {
    on_each_monitoring_core("c_profiler.py", |what, got, stderr| {
        // The first call after the C-level profiler started may be lost to
        // CPython gh-157900 (and is, on 3.12-3.15.2); from the next return
        // on, nothing is.
        for want in ["1", "2", "3", "1002", "2001"] {
            assert!(
                got.iter().any(|g| g == want),
                "{what}: {want} missing in {got:?}"
            );
        }
        assert!(
            stderr.contains("set from C code") && stderr.contains("gh-157900"),
            "{what}: no warning: {stderr}"
        );
    });
}
