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
