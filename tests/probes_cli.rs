//! `probe probes`: the listing of probeable names and default roles, checked
//! on tricky lines and against `record`'s own validation; and the specific
//! messages `record` gives for specs that cannot work.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::Value as Json;

fn run(args: &[&str]) -> Output {
    Command::new(probe_bin())
        .args(args)
        .output()
        .expect("probe runs")
}

fn listing(py: &std::path::Path, file: &std::path::Path, line: Option<u32>) -> Json {
    let mut args = vec![
        "probes",
        "--json",
        "--python",
        py.to_str().unwrap(),
        file.to_str().unwrap(),
    ];
    let l = line.map(|l| l.to_string());
    if let Some(l) = &l {
        args.extend(["--line", l]);
    }
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("probes --json is JSON")
}

/// (name, default role, bound, read) of every name on one line.
fn names(
    py: &std::path::Path,
    file: &std::path::Path,
    tag: &str,
) -> Vec<(String, String, bool, bool)> {
    let j = listing(py, file, Some(line_of(file, tag)));
    j["lines"][0]["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["default_role"].as_str().unwrap().to_string(),
                n["bound"].as_bool().unwrap(),
                n["read"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn n(name: &str, role: &str, bound: bool, read: bool) -> (String, String, bool, bool) {
    (name.to_string(), role.to_string(), bound, read)
}

#[test]
fn tricky_lines_list_their_names_and_default_roles_on_every_python() {
    let file = fixture("tricky.py");
    for (version, py) in pythons() {
        let what = format!("Python {version}");
        assert_eq!(
            names(&py, &file, "self-ref"),
            [n("x", "lhs", true, true)],
            "{what}: x = x - 1"
        );
        assert_eq!(
            names(&py, &file, "unpack"),
            [n("a", "lhs", true, true), n("b", "lhs", true, false)],
            "{what}: a, *b = a[0], …"
        );
        assert_eq!(
            names(&py, &file, "with"),
            [
                n("open", "rhs", false, true),
                n("p", "rhs", false, true),
                n("fh", "lhs", true, false)
            ],
            "{what}: with open(p) as fh"
        );
        assert_eq!(
            names(&py, &file, "aug-attr"),
            [
                n("self.n", "lhs", true, true),
                n("self", "rhs", false, true)
            ],
            "{what}: self.n += 1"
        );
        assert_eq!(
            names(&py, &file, "string"),
            [n("s", "lhs", true, false)],
            "{what}: names inside strings and comments are not names"
        );
        let comp = listing(&py, &file, Some(line_of(&file, "comp")));
        let scopes: Vec<(&str, &str)> = comp["lines"][0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["name"].as_str().unwrap(), x["scope"].as_str().unwrap()))
            .collect();
        assert_eq!(
            scopes,
            [("ys", "f"), ("v", "<listcomp>"), ("b", "f")],
            "{what}: comprehension names belong to the comprehension"
        );
        let blank = listing(&py, &file, Some(line_of(&file, "comment-line") + 1));
        assert_eq!(blank["lines"][0]["note"], "blank line", "{what}");
        let comment = listing(&py, &file, Some(line_of(&file, "comment-line")));
        assert_eq!(comment["lines"][0]["note"], "comment", "{what}");
    }
}

/// Every name the listing offers, with its default role, is a spec that
/// `record` accepts (the same resolver) — and the run records them.
#[test]
fn every_listed_name_is_accepted_by_record() {
    let file = fixture("tricky.py");
    let dir = tempfile::tempdir().unwrap();
    for (version, py) in pythons() {
        let j = listing(&py, &file, None);
        let mut specs = Vec::new();
        for l in j["lines"].as_array().unwrap() {
            for x in l["names"].as_array().unwrap() {
                specs.push(format!(
                    "{}:{}:{}@{}",
                    file.display(),
                    l["line"],
                    x["name"].as_str().unwrap(),
                    x["default_role"].as_str().unwrap()
                ));
            }
        }
        assert!(
            specs.len() > 30,
            "Python {version}: only {} names listed",
            specs.len()
        );
        let (out, log) = record(
            dir.path(),
            &py,
            cores(version)[0],
            &specs,
            &[file.to_str().unwrap()],
        );
        assert_ok(
            &out,
            &format!("Python {version}: record with every listed spec"),
        );
        let r = probe::log::LogReader::open(&log).unwrap();
        assert_eq!(r.meta().probes.len(), specs.len(), "Python {version}");
        let never = line_of(&file, "never");
        for (p, count) in r.meta().probes.iter().zip(&r.end().unwrap().per_probe) {
            // Lines of the function that is never called give 0; the
            // `def never_called` line itself and every other line run.
            assert_eq!(
                *count == 0,
                p.line == never || p.line == never + 1,
                "{}: {count}",
                p.spec
            );
        }
    }
}

#[test]
fn listing_errors_name_the_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello world, this is not Python\n").unwrap();
    let file = fixture("tricky.py");
    let f = file.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["probes", text.to_str().unwrap()],
            "is not a Python source file: line 1",
        ),
        (
            vec!["probes", "/no/such/file.py"],
            "/no/such/file.py: no such file",
        ),
        (
            vec!["probes", f, "--line", "9999"],
            "has only 32 lines (asked for line 9999)",
        ),
        (vec!["probes", f, "--line", "0"], "--line"),
        (
            vec!["probes", "--python", "/no/python", f],
            "cannot run /no/python",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !err.contains("Traceback") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn record_names_what_is_wrong_with_a_spec() {
    let file = fixture("tricky.py");
    let f = file.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello world\n").unwrap();
    let string = line_of(&file, "string");
    let comment = line_of(&file, "comment-line");
    let cases = [
        (
            format!("{f}:{string}:y"),
            "'y' does not occur on".to_string() + "",
            "except inside a string, which is not a variable; names there: s",
        ),
        (
            format!("{f}:{string}:z"),
            "'z' does not occur on".into(),
            "except inside a comment",
        ),
        (
            format!("{f}:{comment}:x"),
            format!("tricky.py:{comment} is a comment"),
            "nothing can be probed there",
        ),
        (
            format!("{f}:{}:x", comment + 1),
            format!("tricky.py:{} is blank", comment + 1),
            "nothing can be probed there",
        ),
        (
            format!("{}:1:hello", text.display()),
            "is not a Python source file: line 1".into(),
            "cannot place probes in it",
        ),
    ];
    let py = pythons().remove(0).1;
    for (spec, a, b) in cases {
        let o = run(&[
            "record",
            "-q",
            "-o",
            dir.path().join("x.probe").to_str().unwrap(),
            "-p",
            &spec,
            "--",
            py.to_str().unwrap(),
            f,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(&a) && err.contains(b), "{spec}: {err}");
        assert!(o.stdout.is_empty(), "{spec}: the program ran");
    }
}

/// `record -- tool` runs an executable whose `#!` line names Python with
/// that interpreter (and a `.py` script with the default one); `probe
/// probes` must resolve with the same one, so that its listing is what
/// would be recorded.
#[test]
fn probes_resolves_a_file_with_the_interpreter_record_would_run_it_with() {
    use std::os::unix::fs::PermissionsExt;
    let all = pythons();
    // The default one (PROBE_PYTHON) and a different one in the #! line.
    let (default_version, default_py) = &all[all.len() - 1];
    let (shebang_version, shebang_py) = &all[0];
    assert_ne!(default_version, shebang_version);
    let dir = tempfile::tempdir().unwrap();
    let resolved_by = |file: &std::path::Path| -> String {
        let o = Command::new(probe_bin())
            .env("PROBE_PYTHON", default_py)
            .args(["probes", "--json", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let j: Json = serde_json::from_slice(&o.stdout).unwrap();
        j["python"].as_str().unwrap().to_string()
    };
    let text = format!("#!{} -u\nx = 1\n", shebang_py.display());
    let tool = dir.path().join("tool");
    std::fs::write(&tool, &text).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let used = resolved_by(&tool);
    assert!(
        used.starts_with(&format!("{shebang_version}.")),
        "resolved by Python {used}, not by the #! line's {shebang_version}"
    );
    // What record runs it with: the same interpreter.
    let log = dir.path().join("t.probe");
    let o = Command::new(probe_bin())
        .env("PROBE_PYTHON", default_py)
        .args(["record", "-q", "-o", log.to_str().unwrap(), "-p"])
        .arg(format!("{}:2:x", tool.display()))
        .arg("--")
        .arg(&tool)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let info = Command::new(probe_bin())
        .args(["info", "--json"])
        .arg(&log)
        .output()
        .unwrap();
    let j: Json = serde_json::from_slice(&info.stdout).unwrap();
    assert!(
        j["run"]["python_version"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{shebang_version}.")),
        "record ran {} with {}",
        tool.display(),
        j["run"]["python_version"]
    );
    // A .py script runs with the default interpreter, #! line or not.
    let script = dir.path().join("tool.py");
    std::fs::write(&script, &text).unwrap();
    assert!(resolved_by(&script).starts_with(&format!("{default_version}.")));
    std::fs::write(&script, "x = 1\n").unwrap();
    assert!(resolved_by(&script).starts_with(&format!("{default_version}.")));
}

/// An interpreter named by `probes --python` or `$PROBE_PYTHON` (for
/// `probes` and for `record -- script.py`) that is not Python is refused
/// with an error naming it and where it came from — and never run.
#[test]
fn an_interpreter_that_is_not_python_is_refused_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("RAN");
    let fake = dir.path().join("notpy.sh");
    std::fs::write(&fake, format!("#!/bin/sh\ntouch '{}'\n", ran.display())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = dir.path().join("s.py");
    std::fs::write(&script, "x = 1\n").unwrap();
    let (fake_s, script_s) = (fake.to_str().unwrap(), script.to_str().unwrap());
    let spec = format!("{script_s}:1:x");
    let cases: Vec<(Vec<&str>, bool, &str)> = vec![
        (
            vec!["probes", script_s, "--python", fake_s],
            false,
            "(from --python)",
        ),
        (vec!["probes", script_s], true, "(from $PROBE_PYTHON)"),
        (
            vec!["record", "-p", &spec, "--", script_s],
            true,
            "(from $PROBE_PYTHON)",
        ),
        (
            vec!["probes", script_s, "--python", "/bin/ls"],
            false,
            "(from --python)",
        ),
    ];
    for (args, env, from) in cases {
        let mut c = Command::new(probe_bin());
        c.args(&args).current_dir(dir.path());
        if env {
            c.env("PROBE_PYTHON", fake_s);
        }
        let o = c.output().expect("probe runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("is not a Python interpreter") && err.contains(from),
            "{args:?}: {err}"
        );
        assert!(!ran.exists(), "{args:?}: the program was run");
    }
}

/// A malformed spec in a `--probes` file is reported with the file and
/// line it is on, exit 2, before anything runs.
#[test]
fn a_bad_line_of_a_probes_file_is_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.py");
    std::fs::write(&script, "x = 1\n").unwrap();
    let pf = dir.path().join("probes.txt");
    std::fs::write(
        &pf,
        format!("{0}:1:x\n  # a comment\n\n{0}:1\n", script.display()),
    )
    .unwrap();
    let (_, py) = pythons().pop().expect("a python");
    let o = Command::new(probe_bin())
        .args(["record", "--probes", pf.to_str().unwrap(), "-o"])
        .arg(dir.path().join("out.probe"))
        .arg("--")
        .arg(&py)
        .arg(&script)
        .output()
        .expect("probe runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{} line 4: probe ", pf.display()))
            && err.contains("expected FILE:LINE:NAME"),
        "{err}"
    );
    assert!(!dir.path().join("out.probe").exists());
}
