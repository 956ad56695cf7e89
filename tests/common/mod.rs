//! Shared helpers for the tests that run real Python programs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use probe::log::LogReader;
use probe::model::{CaptureRecord, Status, Value};

/// The Python versions probe supports; every one must be found.
pub const REQUIRED: &[&str] = &["3.11", "3.12", "3.13", "3.14", "3.15"];

/// Finds the interpreter for `version` ("3.12"): `$PROBE_TEST_PYTHON_3_12`,
/// then the venv `.ci/run` made (`.ci/venvs/3.12`), then
/// `/root/.pyenv/versions/3.12.*/bin/python`, then what
/// `scripts/install-python.py` installed (`$PROBE_PYTHON_ROOT`, default
/// `/opt/probe-python`, `/3.14/usr/bin/python3.14`), then `python3.12` on PATH.
pub fn find_python(version: &str) -> Option<PathBuf> {
    let var = format!("PROBE_TEST_PYTHON_{}", version.replace('.', "_"));
    if let Ok(p) = std::env::var(&var) {
        return Some(PathBuf::from(p));
    }
    // The venv `.ci/run` creates (it has NumPy).
    let venv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".ci/venvs/{version}/bin/python"));
    if venv.exists() {
        return Some(venv);
    }
    let root = Path::new("/root/.pyenv/versions");
    if let Ok(rd) = std::fs::read_dir(root) {
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&format!("{version}."))
                    && n[version.len() + 1..].chars().all(|c| c.is_ascii_digit())
            })
            .map(|e| e.path().join("bin/python"))
            .filter(|p| p.exists())
            .collect();
        found.sort();
        if let Some(p) = found.pop() {
            return Some(p);
        }
    }
    let installed = Path::new(
        &std::env::var("PROBE_PYTHON_ROOT").unwrap_or_else(|_| "/opt/probe-python".into()),
    )
    .join(format!("{version}/usr/bin/python{version}"));
    if installed.exists() {
        return Some(installed);
    }
    let name = format!("python{version}");
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(&name))
            .find(|p| p.exists())
    })
}

/// Every required interpreter, or a loud failure naming the missing ones.
pub fn pythons() -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for v in REQUIRED {
        match find_python(v) {
            Some(p) => out.push((*v, p)),
            None => missing.push(*v),
        }
    }
    assert!(
        missing.is_empty(),
        "required Python interpreter(s) not found: {missing:?}. Install them under \
         /root/.pyenv/versions/ (3.11-3.13), run scripts/install-python.py 3.14|3.15 (or \
         .ci/run), or point PROBE_TEST_PYTHON_3_XX at them; these tests never skip."
    );
    out
}

/// The cores to run on a Python version: settrace always, native and
/// monitoring on 3.12+.
pub fn cores(version: &str) -> Vec<&'static str> {
    if version == "3.11" {
        vec!["native", "settrace"]
    } else {
        vec!["native", "monitoring", "settrace"]
    }
}

/// Absolute path of a fixture program.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/programs")
        .join(rel)
}

/// The 1-based line of `file` that carries the marker `# P:<tag>`.
pub fn line_of(file: &Path, tag: &str) -> u32 {
    let text = std::fs::read_to_string(file).expect("fixture readable");
    let marker = format!("# P:{tag}");
    for (i, l) in text.lines().enumerate() {
        if l.trim_end().ends_with(&marker) {
            return (i + 1) as u32;
        }
    }
    panic!("no line marked {marker} in {}", file.display());
}

/// `file:LINE:name[@role]` for the marked line.
pub fn spec(file: &Path, tag: &str, name_role: &str) -> String {
    format!("{}:{}:{}", file.display(), line_of(file, tag), name_role)
}

/// The probe binary under test.
pub fn probe_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_probe"))
}

/// Runs `probe record` and returns its output and the log path.
pub fn record(
    dir: &Path,
    python: &Path,
    core: &str,
    probes: &[String],
    program: &[&str],
) -> (Output, PathBuf) {
    record_opts(dir, python, core, probes, &[], program)
}

/// [`record`] with extra `record` options (e.g. `--max-array-bytes 64`).
pub fn record_opts(
    dir: &Path,
    python: &Path,
    core: &str,
    probes: &[String],
    opts: &[&str],
    program: &[&str],
) -> (Output, PathBuf) {
    let log = dir.join(format!("run-{}.probe", unique()));
    let mut cmd = Command::new(probe_bin());
    cmd.arg("record")
        .arg("-q")
        .arg("--core")
        .arg(core)
        .arg("-o")
        .arg(&log)
        .args(opts);
    for p in probes {
        cmd.arg("-p").arg(p);
    }
    cmd.arg("--").arg(python).args(program);
    let out = cmd.output().expect("probe runs");
    (out, log)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// Every record of a log, placeholders joined, failing on any read error.
pub fn records(log: &Path) -> Vec<CaptureRecord> {
    let r = LogReader::open(log).unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
    r.records()
        .map(|x| x.unwrap_or_else(|e| panic!("read {}: {e}", log.display())))
        .collect()
}

/// The records of one probe (by table index).
pub fn of_probe(recs: &[CaptureRecord], probe: u32) -> Vec<CaptureRecord> {
    recs.iter().filter(|r| r.probe == probe).cloned().collect()
}

/// A short, comparable rendering of a value for assertions.
pub fn show(v: &Value) -> String {
    match v {
        Value::Absent => "-".into(),
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(s) => s.clone(),
        Value::Float(f) => format!("{f:?}"),
        Value::Complex(r, i) => format!("({r:?}+{i:?}j)"),
        Value::Str { text, .. } => format!("{text:?}"),
        Value::Bytes { data, .. } => format!("b{:?}", String::from_utf8_lossy(data)),
        Value::Sub { type_name, base } => format!("{type_name}({})", show(base)),
        Value::Other { repr, .. } => repr.clone(),
        Value::Error { exc_type, .. } => format!("<error {exc_type}>"),
        Value::Array(a) => {
            let elems: Vec<String> = (0..a.len())
                .map(|i| match (a.dtype.is_complex(), a.dtype.is_float()) {
                    (true, _) => {
                        let (r, i) = a.get_complex(i).unwrap_or_default();
                        format!("({r:?}+{i:?}j)")
                    }
                    (false, true) => format!("{:?}", a.get_f64(i).unwrap_or_default()),
                    _ => a.get_i64(i).map_or_else(|| "?".into(), |x| x.to_string()),
                })
                .collect();
            format!(
                "{}<{}>{:?}[{}{}]",
                a.type_name,
                a.dtype.name(),
                a.shape,
                elems.join(", "),
                if a.truncated { ", …" } else { "" }
            )
        }
    }
}

/// `(value, status)` pairs rendered for assertions.
pub fn values(recs: &[CaptureRecord]) -> Vec<String> {
    recs.iter()
        .map(|r| match r.status {
            Status::Ok => show(&r.value),
            s => format!("{}:{}", s.as_str(), show(&r.value)),
        })
        .collect()
}

/// Asserts the program ran to a zero exit under probe.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: probe record failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Records `program` (a fixture, with `args`) with `specs` on every Python
/// and core, checks that seq numbers are exactly 0..N-1 in physical order,
/// runs `check` on each run, and requires all runs to agree record for
/// record (probe, order, status, value).
pub fn across_runs(
    program: &str,
    specs: &[String],
    args: &[&str],
    check: impl Fn(&str, &std::process::Output, &[CaptureRecord]),
) {
    across_runs_opts(program, specs, &[], args, check)
}

/// [`across_runs`] with extra `record` options.
pub fn across_runs_opts(
    program: &str,
    specs: &[String],
    opts: &[&str],
    args: &[&str],
    check: impl Fn(&str, &std::process::Output, &[CaptureRecord]),
) {
    let file = fixture(program);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut argv = vec![file.to_str().unwrap()];
    argv.extend_from_slice(args);
    let mut reference: Option<(String, Vec<String>)> = None;
    for (version, py) in pythons() {
        for core in cores(version) {
            let what = format!("{program} {args:?} on Python {version} ({core})");
            let (out, log) = record_opts(dir.path(), &py, core, specs, opts, &argv);
            assert_ok(&out, &what);
            let recs = records(&log);
            for (i, r) in recs.iter().enumerate() {
                assert_eq!(r.seq, i as u64, "{what}: seq gap or reorder at {i}");
            }
            check(&what, &out, &recs);
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
            match &reference {
                None => reference = Some((what, shape)),
                Some((w0, s0)) => assert_eq!(s0, &shape, "{what} disagrees with {w0}"),
            }
        }
    }
}

/// The recorder's program child (not its probe-witness, whose command line
/// is the recorder's), waited for up to 2 s.
pub fn only_child(recorder: u32) -> i32 {
    for _ in 0..100 {
        let o = Command::new("pgrep")
            .arg("-P")
            .arg(recorder.to_string())
            .output()
            .unwrap();
        let pids: Vec<i32> = String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .map_or(true, |c| c.trim() != "probe-witness")
            })
            .collect();
        if pids.len() == 1 {
            return pids[0];
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the recorder has no single child");
}

/// Starts a command with the stop signals at their defaults, whatever the
/// test run was started with: `probe record` leaves a stop signal that is
/// ignored at its start ignored (as under `nohup` or in a shell's
/// background job), so a test that sends one must not inherit "ignore".
pub trait DefaultStopSignals {
    /// SIGINT, SIGHUP, SIGQUIT and SIGTERM set to SIG_DFL before exec.
    fn default_stop_signals(&mut self) -> &mut Self;
}

impl DefaultStopSignals for std::process::Command {
    fn default_stop_signals(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: only signal(2), async-signal-safe, between fork and exec.
        unsafe {
            self.pre_exec(|| {
                for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGTERM] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            })
        }
    }
}
