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
//!   `sys.settrace` and `sys.monitoring` calls, so nothing is lost — with
//!   builtins, so that the stdlib's `profile` (which asserts on a return
//!   it saw no call for) still works.
//! * The native core confirms the frame layout it reads locals at on every
//!   Python 3.12-3.15 (a check that fails silently costs speed, not
//!   records).
//! * Modules python runs from copies frozen into the interpreter (os,
//!   posixpath, codecs … since 3.11, whose code names `<frozen NAME>`)
//!   are probed through their files.

mod common;

use std::process::{Command, Output};

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
    for core in ["auto", "native", "settrace"] {
        let (out, log) = record(
            dir.path(),
            &py,
            core,
            &[spec(&lib, "plain", "y")],
            &[main.to_str().unwrap()],
        );
        assert_ok(&out, &format!("--core {core} on 3.11"));
        let meta = LogReader::open(&log).unwrap().meta().clone();
        // auto: the native core, the extension's trace function behind the
        // gate.
        let want = if core == "settrace" {
            "settrace"
        } else {
            "native"
        };
        assert_eq!(meta.core, want);
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
/// monitoring cores, and hands each run's label, output and values to
/// `check`.
fn on_each_monitoring_core(program: &str, check: impl Fn(&str, &Output, Vec<String>)) {
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
            check(&what, &out, values(&records(&log)));
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
    on_each_monitoring_core("other_tools.py", |what, _, got| {
        assert_eq!(got, expected, "{what}");
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
fn a_signal_handlers_exception_reaches_the_program_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("reach/signal_exit.py");
    for (v, py) in pythons() {
        for core in cores(v) {
            let what = format!("Python {v} ({core})");
            let (out, _) = record(
                dir.path(),
                &py,
                core,
                &[spec(&file, "f", "f")],
                &[file.to_str().unwrap()],
            );
            // The handler's sys.exit(3) ends the program, as it does untraced.
            assert_eq!(out.status.code(), Some(3), "{what}: {out:?}");
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains("still running"),
                "{what}"
            );
        }
    }
}

#[test]
fn a_small_thread_stack_makes_the_gate_stand_down_not_crash() {
    let file = fixture("reach/small_stack.py");
    across_runs(
        "reach/small_stack.py",
        &[spec(&file, "d", "d")],
        &[],
        |what, out, recs| {
            assert_eq!(recs.len(), 901, "{what}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "[900]",
                "{what}"
            );
        },
    );
}

#[test]
fn the_stdlib_profiler_still_works_under_probe() {
    let file = fixture("reach/profile_module.py");
    across_runs(
        "reach/profile_module.py",
        &[spec(&file, "y", "y")],
        &[],
        |what, out, recs| {
            assert_eq!(values(recs), ["2"], "{what}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("done"),
                "{what}"
            );
        },
    );
}

#[test]
fn another_tools_disabled_events_stay_disabled() {
    // The program counts its own LINE callbacks; probe's re-arming must
    // not bring back the ones it disabled (restart_events would: 411 ->
    // 101,104 in a first version).
    let file = fixture("reach/line_disabler.py");
    let untraced = |py: &std::path::Path| {
        let o = Command::new(py).arg(&file).output().expect("python runs");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let pys = pythons();
    on_each_monitoring_core("reach/line_disabler.py", |what, out, got| {
        let v = &what["Python ".len().."Python 3.1x".len()];
        let py = &pys.iter().find(|(x, _)| *x == v).expect("python").1;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            untraced(py),
            "{what}"
        );
        // 3.12/3.13 skip the first capture of a line another tool DISABLEs
        // (a CPython bug, README): 199 there, 200 on 3.14+.
        assert!(got.len() >= 199, "{what}: {} records", got.len());
    });
}

/// Once the program took probe's tool id, probe's re-arming leaves it
/// alone. (On 3.12/3.13 `free_tool_id` keeps a tool's local events, so the
/// events probe had set before reach the new tool there: CPython's
/// behaviour, which `record_cli` documents; 3.14+ clear them.)
#[test]
fn a_tool_that_takes_probes_id_gets_no_events_of_probes() {
    on_each_monitoring_core("reach/tool_reuse.py", |what, out, _| {
        if what.contains("3.12") || what.contains("3.13") {
            return;
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("got 0 events"), "{what}: {stdout}");
    });
}

/// The native core's layout check passes on every Python 3.12-3.15 (else
/// it reads locals by name, slower, and warns): a check that silently
/// failed on 3.14/3.15 cost 1.4x on the tight loop. The records are
/// complete either way.
#[test]
fn the_native_core_confirms_the_frame_layout_on_3_12_to_3_15() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("reach/slot_reads.py");
    for (v, py) in pythons() {
        if v == "3.11" {
            continue;
        }
        let what = format!("Python {v} (native)");
        let (out, log) = record(
            dir.path(),
            &py,
            "native",
            &[spec(&file, "y", "y")],
            &[file.to_str().unwrap()],
        );
        assert_ok(&out, &what);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("frame layout"), "{what}: {stderr}");
        let got = values(&records(&log));
        let want: Vec<String> = (0..1000).map(|i| (i * 2).to_string()).collect();
        assert_eq!(got, want, "{what}");
    }
}

/// Probed code that C code runs under a thread state of its own on the
/// main OS thread (`PyThreadState_Swap`) in the middle of the same code's
/// loop: the native core's hot path must read the running thread state's
/// frame, not the one it saw last (it completed the caller's capture with
/// the caller's value, and recorded the inner frame's statements there).
#[test]
fn a_second_thread_state_on_the_main_thread_gets_its_own_captures() {
    let dir = tempfile::tempdir().unwrap();
    let pys = pythons();
    let py312 = &pys
        .iter()
        .find(|(v, _)| *v == "3.12")
        .expect("3.12 (pythons() fails loudly when missing)")
        .1;
    let include = Command::new(py312)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['include'])",
        ])
        .output()
        .expect("python runs");
    let include = String::from_utf8_lossy(&include.stdout).trim().to_string();
    // One stable-ABI build loads into every Python 3.12+.
    let so = dir.path().join("newts.abi3.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-DPy_LIMITED_API=0x030c0000"])
        .arg(format!("-I{include}"))
        .arg(fixture("reach/newts.c"))
        .arg("-o")
        .arg(&so)
        .output()
        .expect("cc runs (the build needs it for the native core too)");
    assert!(
        cc.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let file = fixture("reach/new_tstate.py");
    // The outer frame's record of its third statement comes first (made as
    // it starts), then the inner frame's three.
    let want: Vec<String> = ["0", "1", "104", "100", "101", "102", "3", "4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (v, py) in &pys {
        if *v == "3.11" {
            continue;
        }
        for core in ["native", "monitoring"] {
            let what = format!("Python {v} ({core})");
            let (out, log) = record(
                dir.path(),
                py,
                core,
                &[spec(&file, "y", "y")],
                &[file.to_str().unwrap(), dir.path().to_str().unwrap()],
            );
            assert_ok(&out, &what);
            assert_eq!(values(&records(&log)), want, "{what}");
        }
    }
}

/// A probe in `posixpath.py` — which python runs from its frozen copy,
/// not from the file — triggers on every Python and core (it never did:
/// the code names `<frozen posixpath>`, not the file), for the program's
/// calls only (the agent's own os.path calls are made before tracing).
#[test]
fn a_probe_in_a_frozen_stdlib_module_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("joins.py");
    std::fs::write(
        &prog,
        "import os.path\nfor p in ('a', b'b', 'c'):\n    print(os.path.join(p, p[:0] + 'x' if isinstance(p, str) else b'x'))\n",
    )
    .unwrap();
    for (v, py) in pythons() {
        let out = Command::new(&py)
            .args(["-c", "import posixpath; print(posixpath.__spec__.origin, posixpath.__spec__.loader_state.filename)"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (origin, file) = text.trim().split_once(' ').expect("origin and file");
        assert_eq!(origin, "frozen", "Python {v}: posixpath is not frozen here");
        let source = std::fs::read_to_string(file).unwrap();
        let line = source
            .lines()
            .position(|l| l.trim() == "sep = _get_sep(a)")
            .expect("join's `sep = _get_sep(a)`")
            + 1;
        for core in cores(v) {
            let what = format!("Python {v} ({core})");
            let (out, log) = record(
                dir.path(),
                &py,
                core,
                &[format!("{file}:{line}:sep")],
                &[prog.to_str().unwrap()],
            );
            assert_ok(&out, &what);
            assert_eq!(
                values(&records(&log)),
                ["\"/\"", "b\"/\"", "\"/\""],
                "{what}: join's separator per call"
            );
            // With -I the agent starts the script itself (the `-c`
            // bootstrap), and a relative path makes it call os.path
            // functions: its own calls are not the program's records.
            let log = dir.path().join(format!("isolated-{v}-{core}.probe"));
            let out = Command::new(probe_bin())
                .args(["record", "-q", "--core", core, "-o"])
                .arg(&log)
                .arg("-p")
                .arg(format!("{file}:{line}:sep"))
                .arg("--")
                .arg(&py)
                .args(["-I", "joins.py"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert_ok(&out, &format!("{what} -I"));
            assert_eq!(
                values(&records(&log)),
                ["\"/\"", "b\"/\"", "\"/\""],
                "{what} -I: join's separator per call of the program's"
            );
        }
    }
}
