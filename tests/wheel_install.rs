//! `pip install` of the wheel: `.ci/run` builds it with maturin
//! (`target/wheels/probe_trace-*.whl`, or `$PROBE_TEST_WHEEL`); this test
//! installs it into a fresh venv of every supported Python and runs the
//! *installed* `probe` command — record, replay, view — on a real program.
//! No wheel is a loud failure (build one with `.ci/run`, or
//! `maturin build --release`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, pythons};

fn wheel() -> PathBuf {
    if let Some(p) = std::env::var_os("PROBE_TEST_WHEEL") {
        return PathBuf::from(p);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wheels");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let n = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    n.starts_with("probe_trace-") && n.ends_with(".whl")
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found.pop().unwrap_or_else(|| {
        panic!(
            "no wheel in {}: build it with `.ci/run` or `maturin build --release` (this test never skips)",
            dir.display()
        )
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_wheel_installs_the_probe_command_on_every_python() {
    let whl = wheel();
    let name = whl
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // manylinux-tagged, Python-independent (a binary, not an extension).
    assert!(name.contains("-py3-none-manylinux_"), "{name}");
    let f = fixture("canonical.py");
    let line = common::line_of(&f, "loop_lhs");
    for (version, python) in pythons() {
        let dir = tempfile::tempdir().expect("tempdir");
        let venv = dir.path().join("venv");
        run(Command::new(&python).args(["-m", "venv"]).arg(&venv));
        run(Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .arg(&whl));
        let probe = venv.join("bin/probe");
        assert!(
            probe.exists(),
            "{version}: pip put no `probe` in {}",
            venv.join("bin").display()
        );
        let v = run(Command::new(&probe).arg("--version"));
        assert!(v.starts_with("probe "), "{v}");
        // Record with the venv's own interpreter, as a user would after
        // `source venv/bin/activate`.
        let log = dir.path().join("c.probe");
        let path = format!(
            "{}:{}",
            venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(Command::new(&probe)
            .env("PATH", &path)
            .current_dir(dir.path())
            .args(["record", "-q", "-o"])
            .arg(&log)
            .arg("-p")
            .arg(format!("{}:{line}:x", f.display()))
            .args(["--", "python"])
            .arg(&f)
            .arg("loop_lhs"));
        let info = run(Command::new(&probe).args(["info", "--json"]).arg(&log));
        assert!(info.contains("\"records\": 3"), "{version}: {info}");
        let png = dir.path().join("c.png");
        run(Command::new(&probe)
            .args(["replay", "-q", "--final-only", "-o"])
            .arg(&png)
            .arg(&log));
        assert!(std::fs::metadata(&png)
            .map(|m| m.len() > 1000)
            .unwrap_or(false));
        let html = dir.path().join("c.html");
        run(Command::new(&probe).args(["view", "-q"]).arg(&log));
        let page = std::fs::read_to_string(&html).expect("report beside the log");
        assert!(
            page.contains("probe-header") && page.contains("uPlot"),
            "{version}"
        );
        eprintln!("{version}: installed {name} and ran record, replay and view");
    }
}
