//! `probe record` as a user meets it: the program behaves as without probe,
//! bad input is refused before anything runs, endings (crash, exit status,
//! signals, os._exit, Ctrl-C, SIGKILL) leave a log that says how it ended.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use probe::log::{verify, LogReader, ViolationKind};
use probe::model::Status;

fn python() -> std::path::PathBuf {
    pythons().last().expect("a python").1.clone()
}

/// Starts `probe record` on a fixture that prints one line once it is
/// capturing, in a process group of its own (as a shell's foreground job),
/// and waits for that line. Returns the recorder and the group id.
fn start_recording(
    fixture_name: &str,
    tag: &str,
    out: &std::path::Path,
    ready: &str,
    python: &std::path::Path,
) -> (std::process::Child, i32) {
    start_recording_args(fixture_name, tag, out, ready, python, &[])
}

/// [`start_recording`] with arguments for the program.
fn start_recording_args(
    fixture_name: &str,
    tag: &str,
    out: &std::path::Path,
    ready: &str,
    python: &std::path::Path,
    args: &[&str],
) -> (std::process::Child, i32) {
    use std::os::unix::process::CommandExt;
    let f = fixture(fixture_name);
    let mut child = Command::new(probe_bin())
        .args([
            "record",
            "-q",
            "-o",
            out.to_str().unwrap(),
            "-p",
            &spec(&f, tag, tag),
            "--",
        ])
        .arg(python)
        .arg(&f)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .default_stop_signals()
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), ready);
    (child, group)
}

/// `probe record -o OUT -p SPEC -- PYTHON PROGRAM`, not quiet (so that
/// warnings can be checked).
fn record_to(
    out: &std::path::Path,
    spec: &str,
    python: &std::path::Path,
    program: &std::path::Path,
) -> std::process::Output {
    run(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "-p",
        spec,
        "--",
        python.to_str().unwrap(),
        program.to_str().unwrap(),
    ])
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(probe_bin())
        .args(args)
        .output()
        .expect("probe runs")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn program_sees_the_same_argv_name_path_and_modules_as_without_probe() {
    let file = fixture("behaviour.py");
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        let plain = Command::new(&py)
            .arg(&file)
            .args(["ok", "x y"])
            .output()
            .unwrap();
        let (traced, log) = record(
            dir.path(),
            &py,
            cores(version)[0],
            &[spec(&file, "total", "total")],
            &[file.to_str().unwrap(), "ok", "x y"],
        );
        assert_ok(&traced, version);
        assert_eq!(
            String::from_utf8_lossy(&plain.stdout),
            String::from_utf8_lossy(&traced.stdout),
            "Python {version}: program output differs under probe"
        );
        assert_eq!(values(&records(&log)), ["0", "1", "3", "6", "10"]);
    }
}

#[test]
fn dash_m_runs_a_module_like_python_does() {
    for (version, py) in pythons() {
        dash_m_case(version, &py);
    }
}

fn dash_m_case(version: &str, py: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture("");
    let plain = Command::new(py)
        .current_dir(&root)
        .args(["-m", "pkg.main", "a"])
        .output()
        .unwrap();
    let log = dir.path().join("m.probe");
    let traced = Command::new(probe_bin())
        .current_dir(&root)
        .args(["record", "-q", "-o"])
        .arg(&log)
        .args([
            "-p",
            &format!(
                "pkg/main.py:{}:result",
                line_of(&fixture("pkg/main.py"), "result")
            ),
        ])
        .arg("--")
        .arg(py)
        .args(["-m", "pkg.main", "a"])
        .output()
        .unwrap();
    assert_ok(&traced, &format!("-m on Python {version}"));
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&traced.stdout),
        "-m on Python {version}"
    );
    assert_eq!(values(&records(&log)), ["6"]);
}

#[test]
fn exit_status_is_the_programs() {
    for (version, py) in pythons() {
        exit_status_case(version, &py);
    }
}

fn exit_status_case(version: &str, py: &std::path::Path) {
    let file = fixture("behaviour.py");
    let dir = tempfile::tempdir().unwrap();
    let py = py.to_path_buf();
    let p = spec(&file, "total", "total");
    let (o, log) = record(
        dir.path(),
        &py,
        "auto",
        std::slice::from_ref(&p),
        &[file.to_str().unwrap(), "exit3"],
    );
    assert_eq!(o.status.code(), Some(3), "Python {version}");
    let r = LogReader::open(&log).unwrap();
    assert_eq!(r.end().expect("end marker").exit.code, 3);

    let (o, log) = record(
        dir.path(),
        &py,
        "auto",
        std::slice::from_ref(&p),
        &[file.to_str().unwrap(), "crash"],
    );
    assert_eq!(o.status.code(), Some(1), "Python {version}");
    let err = stderr(&o);
    assert!(
        err.contains("RuntimeError: boom from the program"),
        "Python {version}: {err}"
    );
    assert!(
        !err.contains("<probe-agent>") && !err.contains("<string>"),
        "agent frames leak into the traceback:\n{err}"
    );
    let r = LogReader::open(&log).unwrap();
    let end = r.end().expect("a crashed program still gets an end marker");
    assert_eq!(end.exit.kind, "exception");
    assert_eq!(end.exit.exception.as_deref(), Some("RuntimeError"));
    assert_eq!(end.total_records, 5);

    let (o, log) = record(
        dir.path(),
        &py,
        "auto",
        std::slice::from_ref(&p),
        &[file.to_str().unwrap(), "sigterm"],
    );
    assert_eq!(o.status.code(), Some(128 + 15), "Python {version}");
    let r = LogReader::open(&log).unwrap();
    let end = r.end().expect("end marker after a signal");
    assert_eq!(
        (end.exit.kind.as_str(), end.exit.signal),
        ("signal", Some(15))
    );
    assert_eq!(verify::verify(&r).exit_code(), 0);

    let (o, log) = record(
        dir.path(),
        &py,
        "auto",
        &[p],
        &[file.to_str().unwrap(), "os_exit"],
    );
    assert_eq!(o.status.code(), Some(7), "Python {version}");
    let r = LogReader::open(&log).unwrap();
    let end = r.end().expect("end marker after os._exit");
    assert_eq!(end.exit.kind, "os_exit");
    assert_eq!(
        end.total_records, 5,
        "records buffered in the agent are flushed by os._exit"
    );
}

#[test]
fn bad_specs_are_refused_before_the_program_runs() {
    let file = fixture("behaviour.py");
    let f = file.to_str().unwrap();
    let line = line_of(&file, "total");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.probe");
    let py = python();
    let cases: Vec<(String, &str)> = vec![
        (format!("{f}:{line}:nosuch"), "names there: total, i"),
        ("missing.py:3:x".to_string(), "no such file"),
        ("garbage".to_string(), "expected FILE:LINE:NAME"),
        (format!("{f}:{line}:x@up"), "role must be @lhs or @rhs"),
        (format!("{f}:99999:x"), "has only"),
        (format!("{f}:1:x"), "does not occur"),
    ];
    for (spec, want) in cases {
        let o = run(&[
            "record",
            "-o",
            out.to_str().unwrap(),
            "-p",
            &spec,
            "--",
            py.to_str().unwrap(),
            f,
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(want), "{spec}: expected {want:?} in:\n{err}");
        assert!(o.stdout.is_empty(), "{spec}: the program ran");
        assert!(!out.exists(), "{spec}: a log was written");
    }
}

#[test]
fn missing_or_old_interpreters_are_clear_errors() {
    let f = fixture("behaviour.py");
    let spec = spec(&f, "total", "total");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.probe");
    let out = out.to_str().unwrap();
    let o = run(&[
        "record",
        "-o",
        out,
        "-p",
        &spec,
        "--",
        "no-such-python3",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot run Python interpreter `no-such-python3`"),
        "{}",
        stderr(&o)
    );
    // Where the machine has them (pyenv here): the stub and the boot code
    // must reach the version check on Python 2 as well.
    for version in ["3.10", "2.7"] {
        let Some(old) = find_python(version) else {
            continue;
        };
        let o = run(&[
            "record",
            "-o",
            out,
            "-p",
            &spec,
            "--",
            old.to_str().unwrap(),
            f.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!("Python {version} is not supported")),
            "{}",
            stderr(&o)
        );
    }
}

/// A stand-in interpreter: the real newest Python, made to report what
/// `sitecustomize` says (a version number, a free-threaded build) before
/// probe's bootstrap looks.
fn fake_python(dir: &std::path::Path, name: &str, sitecustomize: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let site = dir.join(format!("{name}-site"));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("sitecustomize.py"), sitecustomize).unwrap();
    let exe = dir.join(name);
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\nPYTHONPATH='{}' exec '{}' \"$@\"\n",
            site.display(),
            python().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

const AS_3_16: &str = "import sys\nsys.version_info = (3, 16, 0, 'final', 0)\n";
const FREE_THREADED: &str = "import sys\nsys.abiflags = 't'\n";

#[test]
fn a_python_newer_than_the_tested_range_is_refused_unless_allowed() {
    let file = fixture("behaviour.py");
    let dir = tempfile::tempdir().unwrap();
    let py = fake_python(dir.path(), "python3.16", AS_3_16);
    let out = dir.path().join("new.probe");
    let sp = spec(&file, "total", "total");
    let base = [
        "record",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &sp,
        "--",
        py.to_str().unwrap(),
        file.to_str().unwrap(),
    ];
    let o = run(&base);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Python 3.16.0")
            && err.contains("newer than the versions probe supports (Python 3.11 to 3.15)")
            && err.contains("--allow-untested-python"),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(o.stdout.is_empty(), "the program ran: {:?}", o.stdout);
    assert!(!out.exists(), "a log was written");

    // Allowed: it records, says it is untested, and the log is right.
    let mut allowed = vec!["record", "--allow-untested-python"];
    allowed.extend_from_slice(&base[1..]);
    let o = run(&allowed);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "warning: Python 3.16.0 is newer than the versions probe is tested on (3.11 to 3.15): \
             recorded because of --allow-untested-python"
        ),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("argv"));
    assert_eq!(values(&records(&out)), ["0", "1", "3", "6", "10"]);
    let meta = LogReader::open(&out).unwrap().meta().clone();
    assert_eq!(meta.python_version, "3.16.0");
}

#[test]
fn a_free_threaded_python_is_refused_even_when_untested_versions_are_allowed() {
    let file = fixture("behaviour.py");
    let dir = tempfile::tempdir().unwrap();
    let py = fake_python(dir.path(), "python3.15t", FREE_THREADED);
    let out = dir.path().join("ft.probe");
    let sp = spec(&file, "total", "total");
    for extra in [None, Some("--allow-untested-python")] {
        let mut args = vec!["record"];
        args.extend(extra);
        args.extend([
            "-o",
            out.to_str().unwrap(),
            "-p",
            &sp,
            "--",
            py.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("is a free-threaded build")
                && err.contains("does not support free-threaded Python")
                // names the interpreter (the one the stand-in runs)
                && err.contains(python().to_str().unwrap()),
            "{extra:?}: {err}"
        );
        assert!(o.stdout.is_empty(), "{extra:?}: the program ran");
        assert!(!out.exists(), "{extra:?}: a log was written");
    }
    // `probe probes` only parses the file: it still answers.
    let o = run(&[
        "probes",
        file.to_str().unwrap(),
        "--python",
        py.to_str().unwrap(),
        "--line",
        &line_of(&file, "total").to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn existing_output_needs_force() {
    let f = fixture("behaviour.py");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.probe");
    std::fs::write(&out, b"precious").unwrap();
    let py = python();
    let spec = spec(&f, "total", "total");
    let args = [
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &spec,
        "--",
        py.to_str().unwrap(),
        f.to_str().unwrap(),
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists; use --force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let mut forced = args.to_vec();
    forced.insert(2, "--force");
    assert_ok(&run(&forced), "--force");
    assert!(LogReader::open(&out).unwrap().is_complete());
}

#[test]
fn sigkill_leaves_an_incomplete_log_that_keeps_what_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed.probe");
    let (mut child, group) = start_recording("forever.py", "x", &out, "running", &python());
    std::thread::sleep(Duration::from_millis(300));
    // Kill the recorder itself with SIGKILL: nothing gets to seal the log.
    // SAFETY: plain FFI call with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    // The orphaned program is still running in the group; end it.
    // SAFETY: plain FFI call on the group we created.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let r = LogReader::open(&out).expect("a killed recorder's log still opens");
    assert!(!r.is_complete());
    let n = r.records().filter(|x| x.is_ok()).count();
    assert!(n >= 50_000, "only {n} records survived");
    let rep = verify::verify(&r);
    assert_eq!(rep.exit_code(), 1, "incomplete log verifies as 1:\n{rep}");
    // Records that survived are exactly 0..n in order; only the capture that
    // was pending when the recorder died may be an uncompleted placeholder.
    let recs: Vec<_> = r.records().map(|x| x.unwrap()).collect();
    for (i, rec) in recs.iter().enumerate() {
        assert_eq!(rec.seq, i as u64);
        if rec.status == Status::Pending {
            assert_eq!(
                i + 1,
                recs.len(),
                "only the last record may still be pending"
            );
        } else {
            assert_eq!(rec.value.as_f64(), Some(i as f64));
        }
    }
}

#[test]
fn program_killed_by_sigkill_gets_an_end_marker_saying_so() {
    for (version, py) in pythons() {
        program_killed_case(version, &py);
    }
}

fn program_killed_case(version: &str, py: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("victim.probe");
    let (mut child, group) = start_recording("forever.py", "x", &out, "running", py);
    std::thread::sleep(Duration::from_millis(200));
    let program = only_child(child.id());
    // SAFETY: plain FFI call on the program's pid.
    unsafe { libc::kill(program, libc::SIGKILL) };
    let status = child.wait().unwrap();
    // SAFETY: plain FFI call on the group we created (nothing should be left).
    unsafe { libc::kill(-group, libc::SIGKILL) };
    assert_eq!(status.code(), Some(128 + 9), "Python {version}");
    let r = LogReader::open(&out).unwrap();
    let end = r.end().expect("recorder seals the log");
    assert_eq!(
        (end.exit.kind.as_str(), end.exit.signal),
        ("signal", Some(9))
    );
    assert!(end.total_records > 0);
    // The kill may land while a message is on its way: what it held is
    // then counted as lost, and verify says so — only that.
    let rep = verify::verify(&r);
    let loss =
        |k: ViolationKind| matches!(k, ViolationKind::RecordsLost | ViolationKind::ValuesLost);
    assert!(
        rep.exit_code() == 0
            || (rep.exit_code() == 1 && rep.violations.iter().all(|v| loss(v.kind))),
        "Python {version}: {rep}"
    );
}

#[test]
fn ctrl_c_reaches_the_program_and_the_log_is_sealed() {
    for (version, py) in pythons() {
        ctrl_c_case(version, &py);
    }
}

fn ctrl_c_case(version: &str, py: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int.probe");
    let (child, group) = start_recording("interrupt.py", "n", &out, "ready", py);
    std::thread::sleep(Duration::from_millis(200));
    // The terminal sends SIGINT to the whole foreground group.
    // SAFETY: plain FFI call on our child's process group.
    unsafe { libc::kill(-group, libc::SIGINT) };
    let t = Instant::now();
    let out_all = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out_all.stderr);
    assert_eq!(out_all.status.code(), Some(130), "Python {version}: {err}");
    assert!(err.contains("KeyboardInterrupt"), "Python {version}: {err}");
    let r = LogReader::open(&out).unwrap();
    let end = r.end().expect("sealed after Ctrl-C");
    assert_eq!(end.exit.exception.as_deref(), Some("KeyboardInterrupt"));
    assert!(end.total_records > 0);
    let report = verify::verify(&r);
    assert_eq!(
        report.exit_code(),
        0,
        "Python {version}: {:?}\n{err}",
        report.violations
    );
}

#[test]
fn threads_share_one_sequence_and_keep_their_ids() {
    threads_case("threads.py", 2, 1000, 1000);
}

/// Records the fixture (each thread `k` assigns `x = k * stride + i` for
/// `i` in `0..per_thread`) on every Python and core and checks one global
/// sequence: every capture complete, each thread's values consecutive and
/// under one thread id, the log verifying.
fn threads_case(program: &str, threads: usize, stride: i64, per_thread: i64) {
    let f = fixture(program);
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        for core in cores(version) {
            let what = format!("{program} on Python {version} {core}");
            let (o, log) = record(
                dir.path(),
                &py,
                core,
                &[spec(&f, "x", "x")],
                &[f.to_str().unwrap()],
            );
            assert_ok(&o, &what);
            let recs = records(&log);
            assert_eq!(recs.len() as i64, threads as i64 * per_thread, "{what}");
            let bad: Vec<_> = recs
                .iter()
                .filter(|r| r.status != Status::Ok)
                .take(3)
                .collect();
            assert!(bad.is_empty(), "{what}: captures not completed: {bad:?}");
            let mut by_thread: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
            for r in &recs {
                by_thread
                    .entry(r.thread)
                    .or_default()
                    .push(r.value.as_f64().unwrap_or(-1.0) as i64);
            }
            assert_eq!(by_thread.len(), threads, "{what}: one id per thread");
            for vals in by_thread.values() {
                let k = vals[0] / stride;
                assert_eq!(
                    vals,
                    &(k * stride..k * stride + per_thread).collect::<Vec<_>>(),
                    "{what}"
                );
            }
            let r = LogReader::open(&log).unwrap();
            assert_eq!(verify::verify(&r).exit_code(), 0, "{what}");
        }
    }
}

#[test]
fn capture_pending_for_the_whole_run_becomes_placeholder_and_completion() {
    let f = fixture("module_level.py");
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        let (o, log) = record(
            dir.path(),
            &py,
            cores(version)[0],
            &[spec(&f, "result", "result")],
            &[f.to_str().unwrap()],
        );
        assert_ok(&o, version);
        let recs = records(&log);
        assert_eq!(values(&recs), ["45"], "Python {version}");
        assert_eq!(recs[0].status, Status::Ok);
        let r = LogReader::open(&log).unwrap();
        assert_eq!(verify::verify(&r).exit_code(), 0);
    }
}

#[test]
fn never_triggered_probe_is_kept_with_count_zero_and_warned() {
    let f = fixture("canonical.py");
    let dir = tempfile::tempdir().unwrap();
    let py = python();
    let out = dir.path().join("z.probe");
    let o = record_to(&out, &spec(&f, "ret", "x"), &py, &f);
    assert_ok(&o, "never triggered");
    assert!(
        stderr(&o).contains("probe canonical.py:")
            && stderr(&o).contains("never triggered (0 records)"),
        "the warning names the probe by its short label: {}",
        stderr(&o)
    );
    // Human output uses short labels: no absolute path in the summary.
    assert!(
        !stderr(&o).contains(&f.display().to_string()),
        "{}",
        stderr(&o)
    );
    let r = LogReader::open(&out).unwrap();
    assert_eq!(r.meta().probes.len(), 1);
    assert_eq!(r.end().unwrap().per_probe, vec![0]);
}

/// Mounts a small tmpfs (CI runs as root); unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn new(dir: &std::path::Path, size: &str) -> SmallDisk {
        let mnt = dir.join("small");
        std::fs::create_dir(&mnt).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mnt)
            .output()
            .expect("mount runs");
        assert!(
            o.status.success(),
            "cannot mount a {size} tmpfs at {} (this test needs root): {}",
            mnt.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        SmallDisk(mnt)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_is_a_clear_error_the_program_finishes_and_the_log_says_what_was_lost() {
    let f = fixture("noisy.py");
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::new(dir.path(), "8m");
    let out = disk.0.join("full.probe");
    let py = python();
    let o = run(&[
        "record",
        "-q",
        "--max-value-bytes",
        "100000",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &spec(&f, "s", "s"),
        "--",
        py.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("disk full"), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "done 19999",
        "the program was not allowed to finish"
    );
    let r = LogReader::open(&out).expect("the log is readable");
    let end = r.end().expect("the end marker still fits");
    assert!(end.total_records > 100, "{end:?}");
    assert_eq!(end.total_records + end.lost_records, 20_000, "{end:?}");
    let rep = verify::verify(&r);
    assert_eq!(rep.exit_code(), 1, "{rep}");
    assert!(rep.to_string().contains("not in the log"), "{rep}");
}

#[test]
fn interpreter_options_and_probe_python_are_honoured() {
    let file = fixture("behaviour.py");
    let dir = tempfile::tempdir().unwrap();
    let py = python();
    // -I: isolated mode, no script directory on sys.path.
    let plain = Command::new(&py).arg("-I").arg(&file).output().unwrap();
    let out = dir.path().join("i.probe");
    let traced = run(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &spec(&file, "total", "total"),
        "--",
        py.to_str().unwrap(),
        "-I",
        file.to_str().unwrap(),
    ]);
    assert_ok(&traced, "-I");
    assert_eq!(
        plain.stdout, traced.stdout,
        "-I changes what the program sees the same way"
    );
    assert!(
        !String::from_utf8_lossy(&traced.stdout).contains("path0 /work"),
        "-I keeps the script dir off sys.path"
    );
    // `-- script.py` uses $PROBE_PYTHON.
    let out = dir.path().join("env.probe");
    let o = Command::new(probe_bin())
        .env("PROBE_PYTHON", &py)
        .args([
            "record",
            "-q",
            "-o",
            out.to_str().unwrap(),
            "-p",
            &spec(&file, "total", "total"),
            "--",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_ok(&o, "PROBE_PYTHON");
    let r = LogReader::open(&out).unwrap();
    assert_eq!(r.meta().python_executable, py.to_str().unwrap());
}

#[test]
fn explicit_core_that_cannot_be_honoured_is_an_error_and_fallback_is_a_warning() {
    let (_, py311) = pythons().into_iter().find(|(v, _)| *v == "3.11").unwrap();
    let file = fixture("behaviour.py");
    let spec = spec(&file, "total", "total");
    let dir = tempfile::tempdir().unwrap();
    let refused = dir.path().join("refused.probe");
    let o = run(&[
        "record",
        "-q",
        "--core",
        "monitoring",
        "-o",
        refused.to_str().unwrap(),
        "-p",
        &spec,
        "--",
        py311.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--core monitoring needs Python 3.12+"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    assert!(!refused.exists(), "a refused run leaves no log behind");
    let out = dir.path().join("auto.probe");
    let o = run(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &spec,
        "--",
        py311.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_ok(&o, "auto on 3.11");
    // The fallback is a note about speed, not a problem: -q silences it.
    assert!(
        !stderr(&o).contains("Python 3.11"),
        "-q must silence the core note: {}",
        stderr(&o)
    );
    assert_eq!(LogReader::open(&out).unwrap().meta().core, "native");
    // The reason is in the log header too, for `probe info`.
    let note = LogReader::open(&out).unwrap().meta().core_note.clone();
    assert!(
        note.as_deref()
            .is_some_and(|n| n.contains("has no sys.monitoring")),
        "{note:?}"
    );
    let o = run(&[
        "record",
        "--force",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &spec,
        "--",
        py311.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_ok(&o, "auto on 3.11, not quiet");
    assert!(
        stderr(&o).contains("note: Python 3.11.") && stderr(&o).contains("sys.settrace"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn another_tool_restarting_events_changes_nothing() {
    let f = fixture("restart_events.py");
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        if version == "3.11" {
            continue; // sys.monitoring does not exist there
        }
        let (o, log) = record(
            dir.path(),
            &py,
            "monitoring",
            &[spec(&f, "x", "x")],
            &[f.to_str().unwrap()],
        );
        assert_ok(&o, version);
        assert_eq!(
            values(&records(&log)),
            ["0", "1", "4", "9", "16", "25"],
            "Python {version}"
        );
    }
}

#[test]
fn malformed_specs_never_crash_the_agent() {
    let file = fixture("behaviour.py");
    let f = file.to_str().unwrap();
    let py = python();
    let weird = [
        String::new(),
        ":".into(),
        "::".into(),
        format!("{f}:"),
        format!("{f}::x"),
        format!("{f}:0:x"),
        format!("{f}:-3:x"),
        format!("{f}:99999999999999999999999:x"),
        format!("{f}:1e3:x"),
        format!("{f}:3:"),
        format!("{f}:3:x.."),
        format!("{f}:3:1x"),
        format!("{f}:3:x@"),
        format!("{f}:3:x@lhs@rhs"),
        format!("{f}:3:ñ"),
        "/:1:x".into(),
        "/dev/null:1:x".into(),
        format!("{}:1:x", fixture("").display()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weird.probe");
    for s in weird {
        let o = run(&[
            "record",
            "-q",
            "-o",
            out.to_str().unwrap(),
            "-p",
            &s,
            "--",
            py.to_str().unwrap(),
            f,
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{s:?}: {err}");
        assert!(
            !err.contains("Traceback"),
            "{s:?} crashed the agent:\n{err}"
        );
        assert!(err.contains("probe: error:"), "{s:?}: {err}");
        assert!(o.stdout.is_empty(), "{s:?}: the program ran");
    }
}

#[test]
fn sigint_to_the_recorder_alone_reaches_the_program_once_and_the_log_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int-alone.probe");
    let (mut child, group) = start_recording("forever.py", "x", &out, "running", &python());
    // Two SIGINTs to the recorder alone (not its process group): the first
    // is passed on to the program; the second, within the grace period, is
    // not passed on again.
    for _ in 0..2 {
        // SAFETY: plain FFI call on our child.
        unsafe { libc::kill(group, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(150));
    }
    let status = child.wait().unwrap();
    let left = Command::new("pgrep")
        .arg("-g")
        .arg(group.to_string())
        .output()
        .unwrap();
    // SAFETY: plain FFI call on the group we created (ends anything left).
    unsafe { libc::kill(-group, libc::SIGKILL) };
    assert!(
        left.stdout.is_empty(),
        "the program was left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert_eq!(status.code(), Some(130));
    let r = LogReader::open(&out).unwrap();
    let end = r.end().expect("sealed after the forwarded SIGINT");
    assert_eq!(
        end.exit.exception.as_deref(),
        Some("KeyboardInterrupt"),
        "{:?}",
        end.exit
    );
    assert_eq!(end.exit.recorder_signal, Some(libc::SIGINT));
    assert!(!end.exit.killed_by_recorder);
    assert!(end.total_records > 0);
    let rep = verify::verify(&r);
    assert_eq!(rep.exit_code(), 0, "{rep}");
}

#[test]
fn verify_and_info_exit_statuses_and_json_on_committed_logs() {
    let v1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1");
    for (name, code, needle) in [
        ("good.probe", 0, "all guarantees hold"),
        ("truncated.probe", 1, "truncated frame at offset 1143"),
        ("flipped-byte.probe", 1, "checksum mismatch at offset"),
        ("no-end-marker.probe", 1, "no end marker"),
        ("missing-frame.probe", 1, "missing between offsets"),
    ] {
        let p = v1.join(name);
        let o = run(&["verify", p.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(code), "{name}: {text}");
        assert!(text.contains(needle), "{name}: {text}");
        let o = run(&["verify", "--json", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(code), "{name} --json");
        let j: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("verify --json is JSON");
        assert_eq!(j["ok"], serde_json::Value::Bool(code == 0), "{name}: {j}");
        let o = run(&["info", "--json", p.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: info reads what is intact"
        );
        let _: serde_json::Value = serde_json::from_slice(&o.stdout).expect("info --json is JSON");
    }
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.probe");
    std::fs::write(&garbage, b"this is not a probe log at all").unwrap();
    for cmd in ["verify", "info"] {
        let o = run(&[cmd, garbage.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{cmd} on garbage");
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(all.contains("bad magic at offset 0"), "{cmd}: {all}");
    }
}

#[test]
fn info_json_counts_what_was_recorded() {
    let f = fixture("canonical.py");
    let dir = tempfile::tempdir().unwrap();
    let (o, log) = record(
        dir.path(),
        &python(),
        "auto",
        &[spec(&f, "loop_lhs", "x")],
        &[f.to_str().unwrap(), "loop_lhs"],
    );
    assert_ok(&o, "record");
    let o = run(&["info", "--json", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = j.to_string();
    assert!(text.contains("\"count\":3"), "{text}");
    assert!(
        text.contains("\"min\":7") && text.contains("\"max\":9") && text.contains("\"last\":7"),
        "{text}"
    );
}

#[test]
fn a_file_not_under_the_current_directory_is_found_beside_the_script() {
    let f = fixture("canonical.py");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("beside.probe");
    let o = Command::new(probe_bin())
        .current_dir(dir.path())
        .args(["record", "-q", "-o", out.to_str().unwrap(), "-p"])
        .arg(format!("canonical.py:{}:x", line_of(&f, "loop_lhs")))
        .arg("--")
        .arg(python())
        .arg(&f)
        .arg("loop_lhs")
        .output()
        .unwrap();
    assert_ok(&o, "spec relative to the script's directory");
    assert_eq!(values(&records(&out)), ["9", "8", "7"]);
    let r = LogReader::open(&out).unwrap();
    assert_eq!(
        r.meta().probes[0].file,
        f.canonicalize().unwrap().to_str().unwrap()
    );
}

#[test]
fn a_forked_child_does_not_write_into_the_parents_log() {
    let f = fixture("forks.py");
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        let specs = vec![
            spec(&f, "x", "x"),
            spec(&f, "child", "x"),
            spec(&f, "after", "x"),
        ];
        let (o, log) = record(
            dir.path(),
            &py,
            cores(version)[0],
            &specs,
            &[f.to_str().unwrap()],
        );
        assert_ok(&o, version);
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "parent done");
        let recs = records(&log);
        assert_eq!(values(&recs), ["0", "1", "2", "3", "4"], "Python {version}");
        let r = LogReader::open(&log).unwrap();
        assert_eq!(verify::verify(&r).exit_code(), 0, "Python {version}");
        assert_eq!(
            r.end().unwrap().exit.kind,
            "exit",
            "the child's os._exit is not the run's end"
        );
    }
}

#[test]
fn a_program_closing_and_reusing_descriptors_is_not_written_into() {
    let f = fixture("closes_fds.py");
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        let (o, log) = record(
            dir.path(),
            &py,
            cores(version)[0],
            &[spec(&f, "x", "x")],
            &[f.to_str().unwrap()],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "size 0",
            "Python {version}: probe wrote into the program's file"
        );
        assert!(o.status.success(), "Python {version}: {}", stderr(&o));
        // What was sent before the pipe was closed is kept; the log is sealed.
        let r = LogReader::open(&log).unwrap();
        assert!(r.end().is_some(), "Python {version}");
        assert_eq!(verify::verify(&r).exit_code(), 0, "Python {version}");
    }
}

#[test]
fn threads_racing_flushes_lose_or_leave_nothing_pending() {
    // Four threads at full speed: chunk flushes in one thread race with
    // captures completing in the others.
    threads_case("threads_stress.py", 4, 100_000, 20_000);
}

#[test]
fn a_program_that_takes_over_settrace_gets_a_warning() {
    let f = fixture("settrace_thief.py");
    let dir = tempfile::tempdir().unwrap();
    let (_, py311) = pythons().into_iter().find(|(v, _)| *v == "3.11").unwrap();
    let out = dir.path().join("thief.probe");
    let o = record_to(&out, &spec(&f, "x", "x"), &py311, &f);
    assert_ok(&o, "settrace thief");
    assert!(
        stderr(&o).contains("the program replaced the trace function"),
        "{}",
        stderr(&o)
    );
    // What was captured before the takeover is kept.
    assert_eq!(values(&records(&out))[..2], ["0", "1"]);
}

/// A program that frees probe's sys.monitoring tool id: 3.12/3.13 keep the
/// callbacks (every capture made, no warning); 3.14+ drops them — the
/// captures before are kept and `record` says that later ones are missing.
#[test]
fn a_program_that_frees_the_monitoring_tool_id_gets_a_warning_where_it_loses_captures() {
    let f = fixture("monitoring_thief.py");
    let dir = tempfile::tempdir().unwrap();
    for (v, py) in pythons().into_iter().filter(|(v, _)| *v != "3.11") {
        let out = dir.path().join(format!("mthief-{v}.probe"));
        let o = record_to(&out, &spec(&f, "x", "x"), &py, &f);
        assert_ok(&o, v);
        let warned = stderr(&o).contains("freed or reused sys.monitoring tool id");
        let vals = values(&records(&out));
        if v == "3.12" || v == "3.13" {
            assert!(!warned, "{v}: {}", stderr(&o));
            assert_eq!(vals, ["0", "2", "0", "2", "4"], "{v}");
        } else {
            assert!(warned, "{v}: {}", stderr(&o));
            assert_eq!(vals[..2], ["0", "2"], "{v}");
        }
    }
}

/// A probe in a module found through the program's PYTHONPATH (its first
/// entry included) resolves as the import does, and records.
#[test]
fn a_probe_in_a_module_on_pythonpath_is_found() {
    let lib = fixture("pythonpath_lib/pp_mod.py");
    let user = fixture("pythonpath_user.py");
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let libdir = lib.parent().unwrap().to_str().unwrap().to_string();
    for (v, py) in pythons() {
        for path in [libdir.clone(), format!("{libdir}:{}", elsewhere.display())] {
            let out = dir.path().join(format!("pp-{v}.probe"));
            let o = Command::new(probe_bin())
                .args(["record", "-q", "--force", "-o"])
                .arg(&out)
                .arg("-p")
                .arg(format!("pp_mod.py:{}:x", line_of(&lib, "x")))
                .arg("--")
                .arg(&py)
                .arg(&user)
                .env("PYTHONPATH", &path)
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "{v} PYTHONPATH={path}: {}",
                stderr(&o)
            );
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "42");
            assert_eq!(values(&records(&out)), ["42"], "{v} PYTHONPATH={path}");
        }
    }
}

/// How the program ended, in the end marker: an exception only when it
/// died of one — not when it printed a caught one (as pytest and
/// code.interact do, setting sys.last_exc) or called sys.excepthook itself
/// and then exited.
#[test]
fn the_end_marker_names_an_exception_only_when_the_program_died_of_it() {
    let f = fixture("exit_paths.py");
    let dir = tempfile::tempdir().unwrap();
    for (v, py) in pythons() {
        for (mode, code, kind, exception) in [
            ("stale", 3, "exit", None),
            ("hook", 2, "exit", None),
            ("uncaught", 1, "exception", Some("ValueError")),
        ] {
            let what = format!("Python {v}, {mode}");
            let out = dir.path().join(format!("e-{v}-{mode}.probe"));
            let o = Command::new(probe_bin())
                .args(["record", "-q", "-o"])
                .arg(&out)
                .arg("-p")
                .arg(spec(&f, "v", "v"))
                .arg("--")
                .arg(&py)
                .arg(&f)
                .arg(mode)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(code), "{what}: {}", stderr(&o));
            let end = LogReader::open(&out)
                .unwrap()
                .end()
                .cloned()
                .expect("end marker");
            assert_eq!(end.exit.kind.as_str(), kind, "{what}");
            assert_eq!(end.exit.exception.as_deref(), exception, "{what}");
        }
    }
}

#[test]
fn native_core_runs_the_hot_path_and_agrees_with_the_python_core() {
    let f = fixture("native_hot_path.py");
    let dir = tempfile::tempdir().unwrap();
    let specs = [
        spec(&f, "acc", "acc"),
        spec(&f, "v", "v"),
        spec(&f, "cb_name", "cb_name"),
        spec(&f, "gone", "v"),
        spec(&f, "row", "row"),
        spec(&f, "total", "total"),
        spec(&f, "big", "total"),
    ];
    for (version, py) in pythons() {
        let (o, native_log) = record(dir.path(), &py, "native", &specs, &[f.to_str().unwrap()]);
        assert_ok(&o, version);
        // The callback sys.monitoring calls is the extension's function,
        // not a Python closure; 3.11 has none (the extension's trace
        // function runs instead, and says if it could not).
        let want_cb = if version == "3.11" {
            "no sys.monitoring"
        } else {
            "probe_native_instruction"
        };
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            want_cb,
            "Python {version}"
        );
        assert!(
            !stderr(&o).contains("not installed") && !stderr(&o).contains("warning"),
            "Python {version}: {}",
            stderr(&o)
        );
        assert_eq!(
            LogReader::open(&native_log).unwrap().meta().core,
            "native",
            "Python {version}"
        );
        let native = records(&native_log);
        // The Python core the native one executes the plan with.
        let python_core = if version == "3.11" {
            "settrace"
        } else {
            "monitoring"
        };
        let (o, mon_log) = record(dir.path(), &py, python_core, &specs, &[f.to_str().unwrap()]);
        assert_ok(&o, version);
        let mon = records(&mon_log);
        let key =
            |r: &probe::model::CaptureRecord| (r.seq, r.probe, r.status, format!("{:?}", r.value));
        // All but the callback's name (probe 2), which names each core's.
        let same = |recs: &[probe::model::CaptureRecord]| -> Vec<_> {
            recs.iter().filter(|r| r.probe != 2).map(key).collect()
        };
        assert_eq!(
            same(&native),
            same(&mon),
            "Python {version}: the native core must record what the Python core records"
        );
        // The loop's values, the thread's among them, and every kind the
        // hot path hands over.
        let accs: Vec<String> = native
            .iter()
            .filter(|r| r.probe == 0)
            .map(|r| format!("{:?}", r.value))
            .collect();
        let want: Vec<String> = [0, 3, 6, 9, 12, 0, 3, 6, 0, 3]
            .iter()
            .map(|n| format!("Int({n})"))
            .collect();
        assert_eq!(
            accs, want,
            "Python {version}: the loop, the thread's loop, the loop again"
        );
        let vs: Vec<String> = values(
            &native
                .iter()
                .filter(|r| r.probe == 1)
                .cloned()
                .collect::<Vec<_>>(),
        );
        assert_eq!(vs.len(), 7, "Python {version}: {vs:?}");
        assert_eq!(vs[0], "1180591620717411303424", "Python {version}");
        // Class body and module level (probes 4, 5, 6): namespaces.
        let of = |id: u32| {
            values(
                &native
                    .iter()
                    .filter(|r| r.probe == id)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(of(4), ["10", "11", "12"], "Python {version}");
        assert_eq!(of(5), ["0", "7", "14", "21"], "Python {version}");
        assert_eq!(
            of(6),
            ["1208925819614629174706176", "1208925819614629174706177"],
            "Python {version}"
        );
    }
}

/// Threads under the native core: the extension takes their events
/// itself (it registered the three threads and the main thread, which
/// records after them, and reads the tracer's lock in place before each
/// event on every Python), each record carries its own thread, every
/// thread's values are its own running sum, and the records are the
/// Python core's, thread by thread.
#[test]
fn native_core_records_threads_itself_each_record_with_its_thread() {
    let f = fixture("native_threads.py");
    let dir = tempfile::tempdir().unwrap();
    let specs = [spec(&f, "acc", "acc")];
    for (version, py) in pythons() {
        let (o, native_log) = record(dir.path(), &py, "native", &specs, &[f.to_str().unwrap()]);
        assert_ok(&o, version);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "4 True",
            "Python {version}: threads the extension registered, and whether it reads \
             the tracer's lock in place (its layout confirmed on this Python)"
        );
        let python_core = if version == "3.11" {
            "settrace"
        } else {
            "monitoring"
        };
        let (o, py_log) = record(dir.path(), &py, python_core, &specs, &[f.to_str().unwrap()]);
        assert_ok(&o, version);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).split_whitespace().next(),
            Some("0"),
            "Python {version}"
        );
        // Per thread, in seq order: the values (threads interleave
        // differently from run to run).
        let by_thread = |log: &std::path::Path| {
            let mut by: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
            let recs = records(log);
            for w in recs.windows(2) {
                assert!(
                    w[0].ts_ns <= w[1].ts_ns,
                    "Python {version}: timestamps along seq"
                );
            }
            for r in recs {
                by.entry(r.thread)
                    .or_default()
                    .push(format!("{:?}/{:?}", r.status, r.value));
            }
            let mut v: Vec<Vec<String>> = by.into_values().collect();
            v.sort();
            v
        };
        let native = by_thread(&native_log);
        assert_eq!(native.len(), 4, "Python {version}: four threads");
        for k in 1..=4i64 {
            let mut acc = 0i64;
            let want: Vec<String> = (0..2000)
                .map(|i| {
                    acc += i * k;
                    format!("Ok/Int({acc})")
                })
                .collect();
            assert!(
                native.contains(&want),
                "Python {version}: thread {k}'s running sum, in order"
            );
        }
        assert_eq!(native, by_thread(&py_log), "Python {version}");
    }
}

/// An `LD_PRELOAD` shim, built in `dir`, that fails `memfd_create` with
/// EPERM for the native core's in-memory file only (what a seccomp rule
/// against `memfd_create` does): the extension cannot load.
fn no_memfd_shim(dir: &std::path::Path) -> std::path::PathBuf {
    let shim_c = dir.join("no_memfd.c");
    std::fs::write(
        &shim_c,
        r#"#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int memfd_create(const char *name, unsigned int flags) {
    if (strcmp(name, "probe-native") == 0) { errno = EPERM; return -1; }
    return (int)syscall(SYS_memfd_create, name, flags);
}
"#,
    )
    .unwrap();
    let shim = dir.join("no_memfd.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&shim)
        .arg(&shim_c)
        .output()
        .expect("a C compiler (cc) for the sandbox shim");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    shim
}

/// A sandbox that refuses the native core its in-memory file (a seccomp
/// rule against `memfd_create`, here an `LD_PRELOAD` shim failing it with
/// EPERM for the extension's file only): `--core auto` records with the
/// Python monitoring core and warns why (also under -q), on stderr and in
/// the log header;
/// `--core native` is an error naming the reason, and leaves no log.
#[test]
fn native_core_that_cannot_load_falls_back_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let shim = no_memfd_shim(dir.path());
    let f = fixture("native_hot_path.py");
    let s = spec(&f, "acc", "acc");
    for (version, py) in pythons() {
        let sandboxed = |core: &str, out: &std::path::Path| {
            Command::new(probe_bin())
                .args(["record", "-q", "--core", core, "-o"])
                .arg(out)
                .args(["-p", &s, "--"])
                .arg(&py)
                .arg(&f)
                .env("LD_PRELOAD", &shim)
                .output()
                .expect("probe runs")
        };
        let out = dir.path().join(format!("auto-{version}.probe"));
        let o = sandboxed("auto", &out);
        assert_ok(&o, version);
        let why = "cannot make an in-memory file for the native core";
        // A warning, not a note about speed: -q does not silence it.
        assert!(
            stderr(&o).contains(&format!("probe: warning: {why}"))
                && stderr(&o).contains("Operation not permitted"),
            "Python {version}: the fallback must say why: {}",
            stderr(&o)
        );
        let meta = LogReader::open(&out).unwrap().meta().clone();
        // The Python core there: sys.monitoring, or on 3.11 sys.settrace.
        let fallback = if version == "3.11" {
            "settrace"
        } else {
            "monitoring"
        };
        assert_eq!(meta.core, fallback, "Python {version}");
        assert!(
            meta.core_note.as_deref().is_some_and(|n| n.contains(why)),
            "Python {version}: {:?}",
            meta.core_note
        );
        // The Python core recorded the run in full.
        let accs: Vec<String> = records(&out)
            .iter()
            .map(|r| format!("{:?}", r.value))
            .collect();
        assert_eq!(accs.len(), 10, "Python {version}: {accs:?}");
        let refused = dir.path().join(format!("native-{version}.probe"));
        let o = sandboxed("native", &refused);
        assert_eq!(o.status.code(), Some(2), "Python {version}");
        assert!(
            stderr(&o).contains(&format!("--core native: {why}")),
            "Python {version}: {}",
            stderr(&o)
        );
        assert!(!refused.exists(), "a refused run leaves no log behind");
    }
}

/// Where the extension cannot load (the sandbox shim), `sys.excepthook`
/// is the agent's Python wrapper: an uncaught exception is still printed
/// exactly as python prints it, the status is python's, and the end marker
/// names the exception; `sys.excepthook is sys.__excepthook__` holds.
#[test]
fn an_uncaught_exception_without_the_extension_ends_as_without_probe() {
    let dir = tempfile::tempdir().unwrap();
    let shim = no_memfd_shim(dir.path());
    let prog = dir.path().join("uncaught.py");
    std::fs::write(
        &prog,
        "import sys\n\n\ndef f(n):\n    x = n * 2  # P:x\n    raise ValueError(f'boom {x}')\n\n\nprint(sys.excepthook is sys.__excepthook__, type(sys.excepthook).__name__)\nf(21)\n",
    )
    .unwrap();
    let s = spec(&prog, "x", "x");
    for (version, py) in pythons() {
        let plain = Command::new(&py).arg(&prog).output().unwrap();
        assert_eq!(plain.status.code(), Some(1), "{version}: {plain:?}");
        let log = dir.path().join(format!("u-{version}.probe"));
        let o = Command::new(probe_bin())
            .args(["record", "-q", "-o"])
            .arg(&log)
            .args(["-p", &s, "--"])
            .arg(&py)
            .arg(&prog)
            .env("LD_PRELOAD", &shim)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "Python {version}: {o:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "True function\n",
            "Python {version}: the Python wrapper is the hook, and the default"
        );
        // (Less probe's own warning that the native core did not load.)
        let err: String = stderr(&o)
            .lines()
            .filter(|l| !l.starts_with("probe: warning:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            err,
            String::from_utf8_lossy(&plain.stderr),
            "Python {version}: the traceback as python prints it"
        );
        let r = LogReader::open(&log).unwrap();
        let end = r.end().expect("end marker");
        assert_eq!(end.exit.kind, "exception", "Python {version}");
        assert_eq!(end.exit.exception.as_deref(), Some("ValueError"));
        assert_eq!(values(&records(&log)), ["42"], "Python {version}");
    }
}

/// Lists of numbers are packed by the native core's extension where it
/// loads (`pack_numbers`, which spares every start the import of `_struct`)
/// and by `_struct` where it does not: at the edges of each packing — int64
/// bounds and one past them, huge ints among floats, non-finite floats,
/// complex numbers with int parts — both give the same records.
#[test]
fn number_lists_are_packed_alike_with_and_without_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let shim = no_memfd_shim(dir.path());
    let f = fixture("number_lists.py");
    let s = spec(&f, "v", "v");
    for (version, py) in pythons() {
        let run = |name: &str, preload: Option<&std::path::Path>| {
            let out = dir.path().join(format!("{name}-{version}.probe"));
            let mut cmd = Command::new(probe_bin());
            cmd.args(["record", "-q", "-o"])
                .arg(&out)
                .args(["-p", &s, "--"])
                .arg(&py)
                .arg(&f);
            if let Some(p) = preload {
                cmd.env("LD_PRELOAD", p);
            }
            let o = cmd.output().expect("probe runs");
            assert_ok(&o, version);
            let recs = records(&out);
            let meta = LogReader::open(&out).unwrap().meta().clone();
            (
                meta.core,
                recs.iter()
                    .map(|r| format!("{:?}", r.value))
                    .collect::<Vec<_>>(),
            )
        };
        let (with_core, with) = run("with", None);
        let (without_core, without) = run("without", Some(&shim));
        assert_ne!(
            with_core, without_core,
            "Python {version}: the shim must keep the extension out"
        );
        assert_eq!(with.len(), 15, "Python {version}: {with:?}");
        assert_eq!(with, without, "Python {version}");
        // The edges themselves: one past int64 and a float beyond range
        // are no int64/float64 list; the rest are.
        let arrays = with.iter().filter(|v| v.starts_with("Array")).count();
        assert_eq!(arrays, 11, "Python {version}: {with:?}");
    }
}

/// The program SIGKILLs itself after N captures (issue 13: nothing lost
/// even on SIGKILL). The native core writes its records into the
/// recorder's shared ring as it makes them, so those of the chunk it had
/// not sent yet — all of them for a short run, which never reached its
/// first 25 ms flush — are read from there: every capture is in the log,
/// in order. With a fork first, the child's own captures (and its exit)
/// leave the parent's ring alone; after an `os.execv` that failed (whose
/// END said "exec"), the ring is still read.
#[test]
fn a_program_killed_by_sigkill_loses_no_capture_the_native_core_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("sigkill_self.py");
    for (version, py) in pythons() {
        for (n, mode) in [
            (5_000u64, ""),
            (100_003, ""),
            (20_000, "fork"),
            (3_001, "exec"),
        ] {
            let n_arg = n.to_string();
            let (out, log) = record(
                dir.path(),
                &py,
                "native",
                &[spec(&f, "x", "x")],
                &[f.to_str().unwrap(), &n_arg, mode],
            );
            let what = format!("Python {version}, {n} captures {mode}");
            assert_eq!(out.status.code(), Some(128 + 9), "{what}: {out:?}");
            let r = LogReader::open(&log).unwrap();
            assert_eq!(
                (
                    r.end().unwrap().exit.kind.as_str(),
                    r.end().unwrap().exit.signal
                ),
                ("signal", Some(9)),
                "{what}"
            );
            assert_eq!(verify::verify(&r).exit_code(), 0, "{what}");
            let recs = records(&log);
            assert_eq!(recs.len() as u64, n, "{what}: every capture is in the log");
            // With "exec" the loop ran twice: 0..n/2, then 0..n-n/2.
            let expect = |i: u64| {
                if mode == "exec" && i >= n / 2 {
                    i - n / 2
                } else {
                    i
                }
            };
            for (i, rec) in recs.iter().enumerate() {
                assert_eq!(rec.seq, i as u64, "{what}");
                if rec.status == Status::Ok {
                    assert_eq!(
                        rec.value.as_f64(),
                        Some(expect(i as u64) as f64),
                        "{what}: record {i}"
                    );
                } else {
                    // Only a value not yet known when the kill came.
                    assert_eq!(i as u64, n - 1, "{what}: record {i} is {:?}", rec.status);
                }
            }
        }
    }
}

/// The program is killed while it waits to send a chunk (the recorder
/// stopped, the pipe full — often in the middle of the message): the
/// records of a torn message that arrived whole are kept, the rest of the
/// chunk is read back from the shared ring — once: no capture is missing,
/// none is there twice, and nothing is counted lost.
#[test]
fn a_program_killed_mid_chunk_keeps_every_capture_once() {
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        let out = dir.path().join(format!("torn-{version}.probe"));
        let (child, group) = start_recording_args(
            "sigkill_self.py",
            "x",
            &out,
            "ready",
            &py,
            &["100000000", "ready"],
        );
        std::thread::sleep(Duration::from_millis(100));
        let program = only_child(child.id());
        // SAFETY: plain FFI calls on the recorder (our child) and its child.
        unsafe { libc::kill(child.id() as i32, libc::SIGSTOP) };
        // The program fills the pipe and blocks in the middle of a chunk.
        std::thread::sleep(Duration::from_millis(800));
        // SAFETY: as above.
        unsafe {
            libc::kill(program, libc::SIGKILL);
            libc::kill(child.id() as i32, libc::SIGCONT);
        }
        let done = child.wait_with_output().unwrap();
        // SAFETY: plain FFI call on the group we created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let err = String::from_utf8_lossy(&done.stderr).to_string();
        assert_eq!(done.status.code(), Some(137), "Python {version}: {err}");
        // The kill may come between two messages or inside one; inside
        // one, the message's whole records and the ring's rest are kept.
        if err.contains("the program ended while sending message") {
            assert!(
                err.contains("read back from the shared ring")
                    && err.contains("nothing else was lost"),
                "Python {version}: {err}"
            );
        }
        let r = LogReader::open(&out).unwrap();
        assert_eq!(r.end().unwrap().lost_records, 0, "Python {version}");
        assert_eq!(verify::verify(&r).exit_code(), 0, "Python {version}: {err}");
        let recs = records(&out);
        assert!(
            recs.len() > 16_384,
            "Python {version}: {} records",
            recs.len()
        );
        for (i, rec) in recs.iter().enumerate() {
            if rec.status == Status::Ok {
                assert_eq!(
                    rec.value.as_f64(),
                    Some(i as f64),
                    "Python {version}: record {i} (a capture twice or missing)"
                );
            } else {
                assert_eq!(
                    i + 1,
                    recs.len(),
                    "Python {version}: record {i} is {:?}",
                    rec.status
                );
            }
        }
    }
}

/// A script whose file name is not UTF-8 (`café.py` in Latin-1) and a
/// program argument that is not either are passed on as they are: the run
/// is recorded and the program sees them as Python would without probe
/// (`std::env::args` used to panic, exit 101). The default log is named
/// after the script's own bytes. A probe spec that is not UTF-8 is a clear
/// error naming it, never a panic.
#[test]
fn non_utf8_script_names_and_arguments_are_recorded() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("helper.py"),
        "def f():\n    x = 1\n    x = x + 1\n    return x\n",
    )
    .unwrap();
    let script = OsStr::from_bytes(b"caf\xe9.py");
    std::fs::write(
        d.join(script),
        "import sys, helper\nprint(helper.f(), ascii(sys.argv))\n",
    )
    .unwrap();
    for (version, py) in pythons() {
        let out = Command::new(probe_bin())
            .current_dir(d)
            .args(["record", "-q", "--force", "-p", "helper.py:3:x", "--"])
            .arg(&py)
            .arg(script)
            .arg(OsStr::from_bytes(b"\xff"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{version}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            r"2 ['caf\udce9.py', '\udcff']",
            "{version}"
        );
        let log = d.join(OsStr::from_bytes(b"caf\xe9.probe"));
        let recs = records(&log);
        assert_eq!(values(&recs), ["2"], "{version}");
    }
    let out = Command::new(probe_bin())
        .current_dir(d)
        .arg("record")
        .arg("-p")
        .arg(OsStr::from_bytes(b"caf\xe9.py:2:x"))
        .arg("--")
        .arg(script)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not valid UTF-8") && !err.contains("panicked"),
        "{err}"
    );
}
