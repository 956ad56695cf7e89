//! Faults during recording (issue 16): threads and forks, daemon threads at
//! exit, programs dying mid-message, signals to the recorder, a recorder
//! that dies, untraced children, a nearly full disk. Every run here has a
//! time limit, so that a hang fails the test instead of hanging CI.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use probe::log::{verify, LogReader};

/// Runs `cmd` in a process group of its own; past `limit` the whole group is
/// killed and the test fails (a hang is a failure, never a stuck CI job).
fn run_limited(mut cmd: Command, limit: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .default_stop_signals()
        .spawn()
        .expect("spawns");
    let group = child.id() as i32;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            // SAFETY: plain FFI call on the process group this function created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            panic!("{what}: still running after {limit:?} (hung); killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Nothing of the run may be left behind.
    // SAFETY: plain FFI call on the process group this function created.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    Output {
        status,
        stdout: t_out.join().expect("stdout reader"),
        stderr: t_err.join().expect("stderr reader"),
    }
}

fn record_cmd(
    log: &Path,
    python: &Path,
    core: &str,
    specs: &[String],
    program: &[&str],
) -> Command {
    let mut cmd = Command::new(probe_bin());
    cmd.args(["record", "-q", "--force", "--core", core, "-o"])
        .arg(log);
    for s in specs {
        cmd.arg("-p").arg(s);
    }
    cmd.arg("--").arg(python).args(program);
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().to_path_buf();
    (d, p)
}

#[test]
fn daemon_threads_capturing_at_exit_leave_the_programs_status_and_a_sound_log() {
    let f = fixture("daemon_threads.py");
    let (_d, dir) = scratch();
    let specs = [spec(&f, "x", "x")];
    for (version, py) in pythons() {
        for core in cores(version) {
            for run in 0..4 {
                let what = format!("Python {version} {core}, run {run}");
                let log = dir.join(format!("d-{version}-{core}-{run}.probe"));
                let cmd = record_cmd(&log, &py, core, &specs, &[f.to_str().unwrap()]);
                let o = run_limited(cmd, Duration::from_secs(120), &what);
                let err = text(&o.stderr);
                assert_eq!(o.status.code(), Some(0), "{what}: {err}");
                assert_eq!(text(&o.stdout).trim(), "main done", "{what}");
                assert!(
                    !err.contains("completion(s) arrived"),
                    "{what}: the agent's flushes raced: {err}"
                );
                let r = LogReader::open(&log).unwrap();
                let rep = verify::verify(&r);
                assert_eq!(rep.exit_code(), 0, "{what}: {rep}");
                let end = r.end().expect("end marker");
                assert_eq!(end.exit.kind, "exit", "{what}");
                assert_eq!(end.lost_records, 0, "{what}");
            }
        }
    }
}

#[test]
fn forking_from_threads_never_hangs_the_child() {
    let f = fixture("fork_threads.py");
    let (_d, dir) = scratch();
    let specs = [spec(&f, "x", "x"), spec(&f, "y", "y")];
    for (version, py) in pythons() {
        for core in cores(version) {
            for run in 0..2 {
                let what = format!("Python {version} {core}, run {run}");
                let log = dir.join(format!("f-{version}-{core}-{run}.probe"));
                let cmd = record_cmd(&log, &py, core, &specs, &[f.to_str().unwrap(), "40"]);
                let o = run_limited(cmd, Duration::from_secs(180), &what);
                let err = text(&o.stderr);
                assert_eq!(
                    text(&o.stdout).trim(),
                    "forks done",
                    "{what}: a forked child hung: {err}"
                );
                assert_eq!(o.status.code(), Some(0), "{what}: {err}");
                let r = LogReader::open(&log).unwrap();
                let rep = verify::verify(&r);
                assert_eq!(rep.exit_code(), 0, "{what}: {rep}");
            }
        }
    }
}

/// A program that closes every inherited descriptor (probe's pipe among
/// them) and reuses the numbers loses nothing: the agent opens the pipe
/// again, and nothing is written into the program's own files.
#[test]
fn closing_every_descriptor_loses_no_capture() {
    let f = fixture("closes_all_fds.py");
    let (_d, dir) = scratch();
    let specs = [spec(&f, "x", "x"), spec(&f, "x2", "x")];
    for (version, py) in pythons() {
        for core in cores(version) {
            let what = format!("Python {version} {core}");
            let log = dir.join(format!("c-{version}-{core}.probe"));
            let cmd = record_cmd(&log, &py, core, &specs, &[f.to_str().unwrap()]);
            let o = run_limited(cmd, Duration::from_secs(60), &what);
            assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
            assert_eq!(
                text(&o.stdout).trim(),
                "size 0",
                "{what}: probe wrote into the program's file"
            );
            let recs = records(&log);
            let want: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
            assert_eq!(values(&recs), want, "{what}");
            let r = LogReader::open(&log).unwrap();
            let end = r.end().expect("end marker");
            assert_eq!(
                (end.exit.kind.as_str(), end.lost_records),
                ("exit", 0),
                "{what}"
            );
            assert_eq!(verify::verify(&r).exit_code(), 0, "{what}");
        }
    }
}

/// A daemon that drops its privileges (or changes its root) and then
/// closes every descriptor leaves probe's pipe closed for good: with the
/// native core, the chunk it could not send stays in the shared ring and
/// the recorder reads it back when the program ends — every capture that
/// fits the ring is kept (those made before the drop too), then tracing
/// stops so that nothing piles up in the program (never "never
/// triggered", never silent); verify fails, as the log has no end marker
/// from the agent.
#[test]
fn a_daemon_that_closes_probes_pipe_for_good_keeps_what_fits_the_ring() {
    let f = fixture("drops_privileges.py");
    let (_d, dir) = scratch();
    let root = dir.join("empty-root");
    std::fs::create_dir_all(&root).unwrap();
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    assert!(
        is_root,
        "this test drops privileges: it must run as root (CI does)"
    );
    let specs = [spec(&f, "x", "x")];
    for (version, py) in pythons() {
        for mode in ["setuid", "chroot"] {
            for (after, total) in [(1000u64, 2000u64), (40_000, 41_000)] {
                let what = format!("Python {version} {mode} {after}");
                let log = dir.join(format!("d-{version}-{mode}-{after}.probe"));
                let cmd = record_cmd(
                    &log,
                    &py,
                    "native",
                    &specs,
                    &[
                        f.to_str().unwrap(),
                        mode,
                        root.to_str().unwrap(),
                        &after.to_string(),
                    ],
                );
                let o = run_limited(cmd, Duration::from_secs(60), &what);
                let err = text(&o.stderr);
                assert_eq!(o.status.code(), Some(0), "{what}: {err}");
                assert!(!err.contains("never triggered"), "{what}: {err}");
                let recs = records(&log);
                let kept = recs.len() as u64;
                // In order, from the first (made before the drop) on.
                let want: Vec<String> = (0..kept).map(|i| i.to_string()).collect();
                assert_eq!(values(&recs), want, "{what}");
                let r = LogReader::open(&log).unwrap();
                let end = r.end().expect("end marker");
                assert!(kept + end.lost_records <= total, "{what}: {err}");
                // Without the agent's end marker the log cannot prove that
                // nothing came after: verify says so either way.
                let rep = verify::verify(&r);
                assert_eq!(rep.exit_code(), 1, "{what}: {rep}");
                if after == 1000 {
                    assert_eq!(kept, total, "{what}: {err}");
                } else {
                    // Tracing stopped once the ring was full (memory stays
                    // bounded in a daemon that runs on): what it held is
                    // kept, the rest is missing, which verify says. The
                    // 1,000 captures before the drop are in the ring too,
                    // or already sent if a flush came first (a loaded
                    // machine reaches the 25 ms deadline sooner).
                    assert!(
                        (16_000..=1_000 + 16_384 + 1).contains(&kept),
                        "{what}: {kept} kept: {err}"
                    );
                }
            }
        }
    }
}

/// `os.execv` replaces the program: every capture made before it is sent
/// first, and the end marker says the program was replaced.
#[test]
fn exec_keeps_every_capture_made_before_it() {
    let f = fixture("execs.py");
    let (_d, dir) = scratch();
    let specs = [spec(&f, "x", "x")];
    for (version, py) in pythons() {
        for core in cores(version) {
            let what = format!("Python {version} {core}");
            let log = dir.join(format!("e-{version}-{core}.probe"));
            let cmd = record_cmd(&log, &py, core, &specs, &[f.to_str().unwrap()]);
            let o = run_limited(cmd, Duration::from_secs(60), &what);
            assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
            assert_eq!(text(&o.stdout).trim(), "replaced", "{what}");
            let recs = records(&log);
            assert_eq!(
                recs.len(),
                1000,
                "{what}: captures before the exec were lost"
            );
            let r = LogReader::open(&log).unwrap();
            let end = r.end().expect("end marker");
            assert_eq!(end.exit.kind, "exec", "{what}");
            assert_eq!(end.untraced_children, 1, "{what}");
            assert_eq!(end.lost_records, 0, "{what}");
            assert!(
                end.exit
                    .detail
                    .as_deref()
                    .unwrap_or("")
                    .contains("replaced itself"),
                "{what}: {:?}",
                end.exit.detail
            );
            assert_eq!(verify::verify(&r).exit_code(), 0, "{what}");
        }
    }
}

/// Children run untraced (for now): the end marker and the summary say how
/// many, for every way of starting one.
#[test]
fn untraced_children_are_counted_in_the_end_marker_and_the_summary() {
    let f = fixture("children.py");
    let (_d, dir) = scratch();
    let specs = [spec(&f, "x", "x")];
    for (version, py) in pythons() {
        let core = cores(version)[0];
        for (mode, at_least, exact) in [("basic", 4, true), ("mp", 3, false)] {
            let what = format!("Python {version} {core}, {mode}");
            let log = dir.join(format!("k-{version}-{mode}.probe"));
            let mut cmd = Command::new(probe_bin());
            cmd.args(["record", "--force", "--core", core, "-o"])
                .arg(&log)
                .arg("-p")
                .arg(&specs[0])
                .arg("--")
                .arg(&py)
                .arg(&f)
                .arg(mode);
            let o = run_limited(cmd, Duration::from_secs(120), &what);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "{what}: {err}");
            assert_eq!(text(&o.stdout).trim(), "children done", "{what}");
            let r = LogReader::open(&log).unwrap();
            let n = r.end().expect("end marker").untraced_children;
            if exact {
                assert_eq!(n, at_least, "{what}");
            } else {
                assert!(n >= at_least, "{what}: {n} children counted");
            }
            assert!(
                err.contains(&format!("{n} child processes ran untraced")),
                "{what}: the summary does not say so: {err}"
            );
            // info and verify say so too (verify: a note, not a violation).
            let info = Command::new(probe_bin())
                .arg("info")
                .arg(&log)
                .output()
                .unwrap();
            assert!(
                text(&info.stdout)
                    .contains(&format!("children:   {n} child processes ran untraced")),
                "{what}: info does not say so: {}",
                text(&info.stdout)
            );
            let verify = Command::new(probe_bin())
                .arg("verify")
                .arg(&log)
                .output()
                .unwrap();
            assert_eq!(verify.status.code(), Some(0), "{what}");
            assert!(
                text(&verify.stdout).contains(&format!("{n} child processes ran untraced")),
                "{what}: verify does not say so: {}",
                text(&verify.stdout)
            );
        }
    }
}

/// The program is killed while it sends a large NumPy array (its message
/// bigger than the pipe, the recorder stopped so that it blocks mid-message):
/// `record` exits with the program's status (137), keeps every batch that
/// arrived whole, and says how many captures the torn message held.
#[test]
fn a_program_killed_mid_message_gives_its_status_and_a_warning_not_an_error() {
    let f = fixture("big_arrays.py");
    let (_d, dir) = scratch();
    let log = dir.join("torn.probe");
    let py = pythons().last().expect("a python").1.clone();
    let mut child = Command::new(probe_bin())
        .args(["record", "-q", "--max-array-bytes", "16000000", "-o"])
        .arg(&log)
        .arg("-p")
        .arg(spec(&f, "a", "a"))
        .arg("--")
        .arg(&py)
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .default_stop_signals()
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready", "NumPy missing? run .ci/run once");
    let program = only_child(child.id());
    // SAFETY: plain FFI calls on the recorder (our child) and its child.
    unsafe { libc::kill(child.id() as i32, libc::SIGSTOP) };
    // The program fills the pipe and blocks in the middle of a message.
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: as above.
    unsafe {
        libc::kill(program, libc::SIGKILL);
        libc::kill(child.id() as i32, libc::SIGCONT);
    }
    let out = child.wait_with_output().unwrap();
    // SAFETY: plain FFI call on the group we created.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(137), "{err}");
    assert!(
        err.contains("the program ended while sending message") && err.contains("lost: "),
        "{err}"
    );
    let r = LogReader::open(&log).unwrap();
    let end = r.end().expect("sealed");
    assert_eq!(
        (end.exit.kind.as_str(), end.exit.signal),
        ("signal", Some(9))
    );
    assert!(end.lost_records + end.lost_values >= 1, "{end:?}");
    assert!(end.total_records >= 3, "{end:?}");
    // What was lost is a violation: `verify` never calls such a log OK
    // (lost values used to pass as "OK, all guarantees hold").
    let rep = verify::verify(&r);
    assert_eq!(rep.exit_code(), 1, "{rep}");
    assert!(
        rep.violations
            .iter()
            .any(|v| v.kind.as_str() == "values_lost" || v.kind.as_str() == "records_lost"),
        "{rep}"
    );
}

/// Whether any process is left in the group.
fn group_is_empty(group: i32) -> bool {
    let o = Command::new("pgrep")
        .arg("-g")
        .arg(group.to_string())
        .output()
        .unwrap();
    o.stdout.is_empty()
}

/// `timeout -s TERM` around a long run, as a CI job's time limit does: the
/// program ends by the signal, the log is sealed and says so, `record`
/// exits 143, and nothing is left running.
#[test]
fn timeout_sigterm_seals_the_log_and_leaves_nothing_running() {
    let f = fixture("forever.py");
    let (_d, dir) = scratch();
    let log = dir.join("timeout.probe");
    let py = pythons().last().expect("a python").1.clone();
    let mut cmd = Command::new("timeout");
    cmd.default_stop_signals()
        .args(["--preserve-status", "-s", "TERM", "2"])
        .arg(probe_bin())
        .args(["record", "-q", "-o"])
        .arg(&log)
        .arg("-p")
        .arg(spec(&f, "x", "x"))
        .arg("--")
        .arg(&py)
        .arg(&f);
    let o = run_limited(cmd, Duration::from_secs(60), "timeout -s TERM");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    let r = LogReader::open(&log).unwrap();
    let end = r.end().expect("the log is sealed");
    assert_eq!(
        (end.exit.kind.as_str(), end.exit.signal),
        ("signal", Some(15))
    );
    assert_eq!(end.exit.recorder_signal, Some(libc::SIGTERM));
    assert!(end.total_records > 0);
    // SIGTERM's default action ends python at once, as SIGKILL would: it
    // may land while a message is on its way, whose values are then counted
    // as lost, and verify says so — only that.
    let rep = verify::verify(&r);
    assert!(
        rep.exit_code() == 0
            || (rep.exit_code() == 1
                && rep.violations.iter().all(|v| {
                    v.kind.as_str() == "values_lost" || v.kind.as_str() == "records_lost"
                })),
        "{rep}"
    );
}

/// Starts `probe record` on a fixture in a group of its own; returns the
/// recorder, its group, and a channel of its stderr lines.
fn start(
    fixture_name: &str,
    tag: &str,
    log: &Path,
    extra: &[&str],
) -> (std::process::Child, i32, std::sync::mpsc::Receiver<String>) {
    let f = fixture(fixture_name);
    let py = pythons().last().expect("a python").1.clone();
    let mut child = Command::new(probe_bin())
        .args(["record", "-q", "-o"])
        .arg(log)
        .args(extra)
        .arg("-p")
        .arg(spec(&f, tag, tag))
        .arg("--")
        .arg(&py)
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .default_stop_signals()
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "running");
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(std::io::BufReader::new(err)).map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, group, rx)
}

/// SIGTERM and SIGHUP sent to the recorder alone (not its group) are passed
/// on: the program ends by them, the log is sealed, `record` exits 128+N.
#[test]
fn stop_signals_to_the_recorder_alone_are_passed_on() {
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        let (_d, dir) = scratch();
        let log = dir.join("alone.probe");
        let (mut child, group, err) = start("timed.py", "x", &log, &[]);
        // SAFETY: plain FFI call on the recorder only.
        unsafe { libc::kill(child.id() as i32, sig) };
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "signal {sig}: the recorder hung");
            std::thread::sleep(Duration::from_millis(20));
        };
        let empty = group_is_empty(group);
        // SAFETY: plain FFI call on the group we created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let said: Vec<String> = err.try_iter().collect();
        assert!(empty, "signal {sig}: the program was left running");
        assert_eq!(status.code(), Some(128 + sig), "signal {sig}: {said:?}");
        assert!(
            said.iter().any(|l| l.contains("passed on to the program")),
            "{said:?}"
        );
        let r = LogReader::open(&log).unwrap();
        let end = r.end().expect("sealed");
        assert_eq!(
            (end.exit.kind.as_str(), end.exit.signal),
            ("signal", Some(sig))
        );
        assert_eq!(end.exit.recorder_signal, Some(sig));
        assert_eq!(verify::verify(&r).exit_code(), 0);
    }
}

/// Stop signals ignored when `probe record` starts (`nohup` ignores SIGHUP,
/// a shell's background job SIGINT and SIGQUIT) stay ignored: the program
/// finds them ignored, as without probe, and a SIGHUP to the recorder ends
/// neither it nor the program.
#[test]
fn signals_ignored_at_start_stay_ignored_for_the_recorder_and_the_program() {
    let (_d, dir) = scratch();
    let f = fixture("signals_seen.py");
    let spec = spec(&f, "x", "x");
    let (_, py) = pythons().into_iter().next().expect("a Python");
    // Both ways set explicitly: the test itself may run ignoring some.
    let starting = |cmd: &mut Command, ignore: bool| {
        let how = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
        // SAFETY: only async-signal-safe calls (signal) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
                    libc::signal(sig, how);
                }
                Ok(())
            });
        }
    };
    for ignore in [false, true] {
        let mut bare = Command::new(&py);
        bare.arg(&f);
        starting(&mut bare, ignore);
        let bare = bare.output().unwrap();
        let want = String::from_utf8_lossy(&bare.stdout).into_owned();
        let expected = if ignore {
            "ignored ignored ignored\ndone\n"
        } else {
            "default_int_handler default default\ndone\n"
        };
        assert_eq!(want, expected, "bare python, ignored: {ignore}");
        let log = dir.join(format!("sig-{ignore}.probe"));
        let mut rec = Command::new(probe_bin());
        rec.args(["record", "-q", "-o"])
            .arg(&log)
            .args(["-p", &spec, "--"])
            .arg(&py)
            .arg(&f)
            .arg("1.5");
        rec.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        starting(&mut rec, ignore);
        let mut child = rec.spawn().unwrap();
        let group = child.id() as i32;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut out, &mut first).unwrap();
        assert_eq!(
            first,
            want.lines().next().unwrap().to_string() + "\n",
            "ignored: {ignore}"
        );
        if ignore {
            // SAFETY: plain FFI call on the recorder only.
            unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "ignored: {ignore}: the recorder hung"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        // SAFETY: plain FFI call on the group we created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        assert_eq!(status.code(), Some(0), "ignored: {ignore}");
        assert!(rest.contains("done"), "ignored: {ignore}: {rest:?}");
        assert_eq!(
            verify::verify(&LogReader::open(&log).unwrap()).exit_code(),
            0
        );
    }
}

/// A program that ignores SIGTERM: after the grace period the recorder says
/// so, and a second SIGTERM makes it kill the program (SIGKILL), seal the
/// log and exit 137 — the program is never left orphaned.
#[test]
fn a_program_that_ignores_sigterm_is_killed_on_the_second_signal_after_the_grace_period() {
    let (_d, dir) = scratch();
    let log = dir.join("stubborn.probe");
    let (mut child, group, err) = start("stubborn.py", "x", &log, &["--grace", "1"]);
    // SAFETY: plain FFI call on the recorder only.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut said = Vec::new();
    while !said.iter().any(|l: &String| l.contains("still running")) {
        assert!(
            Instant::now() < deadline,
            "no word after the grace period: {said:?}"
        );
        if let Ok(l) = err.recv_timeout(Duration::from_millis(100)) {
            said.push(l);
        }
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the recorder gave up: {said:?}"
    );
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the recorder hung: {said:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let empty = group_is_empty(group);
    // SAFETY: plain FFI call on the group we created.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    said.extend(err.try_iter());
    assert!(empty, "the program was left running");
    assert_eq!(status.code(), Some(137), "{said:?}");
    let r = LogReader::open(&log).unwrap();
    let end = r.end().expect("sealed");
    assert_eq!(
        (end.exit.kind.as_str(), end.exit.signal),
        ("signal", Some(9))
    );
    assert_eq!(end.exit.recorder_signal, Some(libc::SIGTERM));
    assert!(end.exit.killed_by_recorder);
    assert_eq!(verify::verify(&r).exit_code(), 0);
}

/// The recorder dies (SIGKILL): the program goes on to its end, and the
/// agent says once, on the program's stderr, that recording stopped.
#[test]
fn when_the_recorder_dies_the_program_says_so_once_and_goes_on() {
    let f = fixture("timed.py");
    let (_d, dir) = scratch();
    let log = dir.join("orphan.probe");
    let out_path = dir.join("out.txt");
    let err_path = dir.join("err.txt");
    let py = pythons().last().expect("a python").1.clone();
    let mut child = Command::new(probe_bin())
        .args(["record", "-q", "-o"])
        .arg(&log)
        .arg("-p")
        .arg(spec(&f, "x", "x"))
        .arg("--")
        .arg(&py)
        .arg(&f)
        .arg("3")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .default_stop_signals()
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&out_path)
        .unwrap()
        .contains("running")
    {
        assert!(Instant::now() < deadline, "the program never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: plain FFI call on the recorder only.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    while !std::fs::read_to_string(&out_path).unwrap().contains("done") {
        if Instant::now() > deadline {
            // SAFETY: plain FFI call on the group we created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            panic!("the program did not go on to its end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above (nothing should be left).
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let err = std::fs::read_to_string(&err_path).unwrap();
    let notices = err
        .matches("probe: the recorder is gone; recording stopped")
        .count();
    assert_eq!(notices, 1, "stderr: {err}");
    // The log holds what arrived before the recorder died.
    let r = LogReader::open(&log).unwrap();
    assert!(!r.is_complete());
}

/// Mounts a small tmpfs (the tests run as root); unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn new(dir: &Path, size: &str) -> SmallDisk {
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
            text(&o.stderr)
        );
        SmallDisk(mnt)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// 3 MiB free, less than the writer's growth steps reach: the growth shrinks
/// to what is free, so the header, the metadata and every frame that fits
/// are kept, and the log is sealed with the count of what was lost.
#[test]
fn a_nearly_full_disk_keeps_every_frame_that_fits() {
    let f = fixture("noisy.py");
    let (_d, dir) = scratch();
    let disk = SmallDisk::new(&dir, "3m");
    let log = disk.0.join("small.probe");
    let py = pythons().last().expect("a python").1.clone();
    let mut cmd = Command::new(probe_bin());
    cmd.args(["record", "-q", "--max-value-bytes", "100000", "-o"])
        .arg(&log)
        .arg("-p")
        .arg(spec(&f, "s", "s"))
        .arg("--")
        .arg(&py)
        .arg(&f);
    let o = run_limited(cmd, Duration::from_secs(120), "nearly full disk");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("disk full"), "{err}");
    assert!(
        err.contains("lost"),
        "the error says how many were lost: {err}"
    );
    assert_eq!(
        text(&o.stdout).trim(),
        "done 19999",
        "the program did not finish"
    );
    let r = LogReader::open(&log).expect("the log is readable");
    let end = r.end().expect("sealed from the reserve");
    assert!(end.total_records > 0, "nothing was kept: {end:?}");
    assert_eq!(end.total_records + end.lost_records, 20_000, "{end:?}");
    let rep = verify::verify(&r);
    assert_eq!(rep.exit_code(), 1, "{rep}");
}

/// Not even room for the header, the metadata and the END reserve: refused
/// before the program runs, and no file is left behind.
#[test]
fn a_full_disk_is_refused_before_the_program_runs() {
    let f = fixture("behaviour.py");
    let (_d, dir) = scratch();
    let disk = SmallDisk::new(&dir, "1m");
    // Leave about 40 KiB free.
    let filler = vec![0u8; 1024 * 1024 - 40 * 1024];
    std::fs::write(disk.0.join("filler"), &filler).ok();
    let log = disk.0.join("none.probe");
    let py = pythons().last().expect("a python").1.clone();
    let mut cmd = Command::new(probe_bin());
    cmd.args(["record", "-q", "-o"])
        .arg(&log)
        .arg("-p")
        .arg(spec(&f, "total", "total"))
        .arg("--")
        .arg(&py)
        .arg(&f);
    let o = run_limited(cmd, Duration::from_secs(60), "full disk");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not enough free space"), "{err}");
    assert!(o.stdout.is_empty(), "the program ran: {}", text(&o.stdout));
    assert!(!log.exists(), "a file was left behind");
}

/// Back-pressure (issue 13): the recorder is stopped while the program
/// captures as fast as it can; the pipe fills, the program waits for the
/// recorder instead of dropping anything, and the summary says how often
/// and how long it waited. Every capture is in the log.
#[test]
fn a_recorder_that_falls_behind_makes_the_program_wait_and_says_so() {
    let f = fixture("backpressure.py");
    let (_d, dir) = scratch();
    let log = dir.join("bp.probe");
    let py = pythons().last().expect("a python").1.clone();
    let n = 1_500_000u64;
    let mut child = Command::new(probe_bin())
        .args(["record", "-o"])
        .arg(&log)
        .arg("-p")
        .arg(spec(&f, "x", "x"))
        .arg("--")
        .arg(&py)
        .arg(&f)
        .arg(n.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .default_stop_signals()
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    // SAFETY: plain FFI calls on the recorder (our child).
    unsafe { libc::kill(child.id() as i32, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(600));
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    // SAFETY: plain FFI call on the group we created.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let waited = err
        .lines()
        .find(|l| l.contains("the program waited for the recorder"))
        .unwrap_or_else(|| panic!("no back-pressure line in: {err}"));
    // At least most of the pause was spent waiting.
    // Written as every duration is (`0.612s`).
    let ms: f64 = waited
        .split(", ")
        .nth(1)
        .and_then(|t| t.split(" in all").next())
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse::<f64>().ok())
        .map(|s| s * 1e3)
        .unwrap_or_else(|| panic!("no duration in {waited:?}"));
    assert!(ms >= 300.0, "{waited}");
    assert!(waited.contains("(nothing dropped)"), "{waited}");
    let r = LogReader::open(&log).unwrap();
    assert_eq!(r.end().expect("sealed").total_records, n, "{err}");
    assert_eq!(verify::verify(&r).exit_code(), 0);
}

/// The recorder starts the interpreter before it writes the agent's bundle
/// and then tells the `sitecustomize` stub where its parts are on a pipe
/// (docs/WIRE.md). A recorder gone before that line (the pipe ends empty)
/// leaves the program to run untraced, with a warning on stderr, the
/// descriptors meant for the agent closed and the user's own
/// `sitecustomize` imported — it neither hangs nor fails. An `abort` line
/// (the recorder could not write the bundle) ends the interpreter before
/// the program runs.
#[test]
fn a_recorder_gone_before_the_bundle_was_written_leaves_the_program_running_untraced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capture/agent/site_stub.py"),
        dir.path().join("sitecustomize.py"),
    )
    .unwrap();
    // The user's own sitecustomize, later on PYTHONPATH.
    let user = tempfile::tempdir().unwrap();
    std::fs::write(
        user.path().join("sitecustomize.py"),
        "import sys\nsys.stdout.write('user-site\\n')\n",
    )
    .unwrap();
    let pythonpath = format!("{}:{}", dir.path().display(), user.path().display());
    for (version, py) in pythons() {
        for line in [None, Some("abort\n")] {
            let mut go = [0; 2];
            // SAFETY: a valid 2-element array for pipe to fill; then plain
            // calls on descriptors this test owns (the write end is closed at
            // once, after the line if any: the recorder is "gone").
            let (bundle, wire) = unsafe {
                assert_eq!(libc::pipe(go.as_mut_ptr()), 0);
                if let Some(l) = line {
                    assert_eq!(
                        libc::write(go[1], l.as_ptr().cast(), l.len()),
                        l.len() as isize
                    );
                }
                libc::close(go[1]);
                (
                    libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY),
                    libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY),
                )
            };
            assert!(bundle >= 0 && wire >= 0);
            let program = format!(
            "import os\nfor fd in ({bundle}, {wire}, {g}):\n    try:\n        os.fstat(fd)\n        print('open', fd)\n    except OSError:\n        pass\nprint('ran')",
            g = go[0]
        );
            let out = Command::new(&py)
                .args(["-c", &program])
                .env("PYTHONPATH", &pythonpath)
                .env("PROBE_AGENT_BOOT", format!("{bundle} {} {wire}", go[0]))
                .output()
                .expect("python runs");
            // SAFETY: closing the test's own descriptors.
            unsafe {
                libc::close(go[0]);
                libc::close(bundle);
                libc::close(wire);
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if line.is_some() {
                assert_eq!(out.status.code(), Some(2), "Python {version}: {stderr}");
                assert_eq!(stdout, "", "Python {version}: nothing of the program ran");
                continue;
            }
            assert!(out.status.success(), "Python {version}: {stderr}");
            assert_eq!(
            stdout.trim(),
            "user-site\nran",
            "Python {version}: the user's sitecustomize ran, the agent's descriptors are closed"
        );
            assert_eq!(
            stderr.trim(),
            "probe: warning: the recorder ended before the program started; the program runs untraced",
            "Python {version}"
        );
        }
    }
}
