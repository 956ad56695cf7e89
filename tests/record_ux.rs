//! `probe record` as a new user meets it (issue 15): a forgotten `--`, a
//! program that is not Python, a bad output path found before the run,
//! singular counts, the live line on a terminal, and `probe probes`
//! finding files as `record` does.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use probe::log::LogReader;

fn run(args: &[&str]) -> Output {
    Command::new(probe_bin())
        .args(args)
        .output()
        .expect("probe runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn python() -> std::path::PathBuf {
    pythons().last().expect("a python").1.clone()
}

#[test]
fn a_forgotten_double_dash_says_where_the_program_goes() {
    let f = fixture("behaviour.py");
    let spec = spec(&f, "total", "total");
    let o = run(&["record", "-p", &spec, "python3", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("put the program after `--`")
            && err.contains(&format!("-- python3 {}", f.display())),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "the program ran");
}

#[test]
fn a_program_that_is_not_python_is_refused_before_anything_runs() {
    let f = fixture("behaviour.py");
    let spec = spec(&f, "total", "total");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ls.probe");
    for cmd in [vec!["ls"], vec!["ls", "-l"], vec!["/bin/ls", "x.py"]] {
        let mut args = vec!["record", "-o", out.to_str().unwrap(), "-p", &spec, "--"];
        args.extend(&cmd);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(
            err.contains(&format!(
                "`{}` is not a Python interpreter or script",
                cmd[0]
            )),
            "{cmd:?}: {err}"
        );
        assert!(o.stdout.is_empty(), "{cmd:?}: something ran");
        assert!(!out.exists(), "{cmd:?}: a log was left behind");
    }
}

#[test]
fn a_script_with_a_python_shebang_runs_under_its_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let py = python();
    let tool = dir.path().join("tool");
    std::fs::write(
        &tool,
        format!(
            "#!{}\nimport sys\nfor i in range(3):\n    x = i  # P:x\nprint('tool ran', sys.argv[1:])\n",
            py.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("tool.probe");
    let o = run(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &format!("{}:4:x", tool.display()),
        "--",
        tool.to_str().unwrap(),
        "a",
    ]);
    assert_ok(&o, "shebang script");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "tool ran ['a']");
    assert_eq!(values(&records(&out)), ["0", "1", "2"]);
}

/// `-- tool.py` for an executable `.py` whose `#!` names a Python runs with
/// that Python, as `./tool.py` does in the shell; without the executable bit
/// it runs with `$PROBE_PYTHON` (what `python3 tool.py` means).
#[test]
fn an_executable_py_script_runs_under_its_shebang_not_the_default_python() {
    use std::os::unix::fs::PermissionsExt;
    let all = pythons();
    let (want_version, want) = all.last().expect("a python");
    let (default_version, default) = all.first().expect("a python");
    assert_ne!(want_version, default_version, "two Pythons are needed");
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool.py");
    std::fs::write(
        &tool,
        format!(
            "#!{}\nimport sys\nv = '%d.%d' % sys.version_info[:2]\nprint(v)\n",
            want.display()
        ),
    )
    .unwrap();
    let ran_with = |name: &str| {
        let out = dir.path().join(format!("{name}.probe"));
        let o = Command::new(probe_bin())
            .current_dir(dir.path())
            .env("PROBE_PYTHON", default)
            .args([
                "record",
                "-q",
                "-o",
                out.to_str().unwrap(),
                "-p",
                "tool.py:3:v",
                "--",
                "tool.py",
            ])
            .output()
            .expect("probe runs");
        assert_ok(&o, name);
        assert_eq!(values(&records(&out)).len(), 1, "{name}");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(
        ran_with("plain"),
        *default_version,
        "a non-executable tool.py runs with $PROBE_PYTHON"
    );
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        ran_with("exec"),
        *want_version,
        "an executable tool.py runs with its #! interpreter"
    );
}

/// A UTF-8 file that starts with a byte-order mark (as some editors save
/// it) runs under python, so probe places probes in it too — columns on the
/// first line counted as python counts them (without the mark).
#[test]
fn a_file_with_a_utf8_byte_order_mark_is_probed_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("bom.py");
    std::fs::write(
        &prog,
        b"\xef\xbb\xbfx = 1; y = x + 1\nfor i in range(2):\n    x = x * 10\nprint(x, y)\n",
    )
    .unwrap();
    for (version, py) in pythons() {
        let out = dir.path().join(format!("bom-{version}.probe"));
        let p = prog.to_str().unwrap();
        let o = run(&[
            "record",
            "-q",
            "-o",
            out.to_str().unwrap(),
            "-p",
            &format!("{p}:1:y"),
            "-p",
            &format!("{p}:3:x"),
            "--",
            py.to_str().unwrap(),
            p,
        ]);
        assert_ok(&o, version);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "100 2",
            "{version}"
        );
        assert_eq!(values(&records(&out)), ["2", "10", "100"], "{version}");
        let listed = run(&["probes", p, "--python", py.to_str().unwrap()]);
        assert!(
            listed.status.success(),
            "{version}: probes: {}",
            stderr(&listed)
        );
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains('y'),
            "{version}"
        );
    }
}

#[test]
fn one_record_is_singular_in_the_summary() {
    let f = fixture("canonical.py");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one.probe");
    let o = run(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &spec(&f, "ret", "x"),
        "--",
        python().to_str().unwrap(),
        f.to_str().unwrap(),
        "ret",
    ]);
    let err = stderr(&o);
    assert!(err.contains(" — 1 record in "), "{err}");
    assert!(!err.contains("1 records"), "{err}");
    // `probe info` says so too.
    let o = run(&["info", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("; 1 record in "), "{text}");
    assert!(!text.contains("1 records"), "{text}");
}

/// Output problems are found before the program runs: a missing directory,
/// a directory (even with --force), an existing file without --force.
#[test]
fn a_bad_output_path_is_refused_before_the_program_runs() {
    let f = fixture("behaviour.py");
    let spec = spec(&f, "total", "total");
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("old.probe");
    std::fs::write(&existing, b"precious").unwrap();
    let missing = dir.path().join("no/such/dir/x.probe");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-o", missing.to_str().unwrap()], "does not exist"),
        (vec!["-o", dir.path().to_str().unwrap()], "is a directory"),
        (
            vec!["-o", dir.path().to_str().unwrap(), "--force"],
            "is a directory",
        ),
        (vec!["-o", existing.to_str().unwrap()], "already exists"),
        (vec!["-o", "/dev/null", "--force"], "not a regular file"),
    ];
    for (opts, want) in cases {
        let mut args = vec!["record"];
        args.extend(&opts);
        let py = python();
        args.extend(["-p", &spec, "--", py.to_str().unwrap(), f.to_str().unwrap()]);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{opts:?}: {err}");
        assert!(err.contains(want), "{opts:?}: expected {want:?} in {err}");
        assert!(o.stdout.is_empty(), "{opts:?}: the program ran first");
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
}

/// With --force, the old log is replaced only once the new run starts (a
/// refused run keeps it), and a symlink at the output is replaced, never
/// written through.
#[test]
fn force_replaces_the_log_only_when_the_run_starts_and_never_follows_a_link() {
    let f = fixture("behaviour.py");
    let good = spec(&f, "total", "total");
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.probe");
    std::fs::write(&out, b"old log").unwrap();
    let bad = format!("{}:1:nosuch", f.display());
    let o = run(&[
        "record",
        "--force",
        "-o",
        out.to_str().unwrap(),
        "-p",
        &bad,
        "--",
        py.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"old log",
        "a refused run replaced the log"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");

    let target = dir.path().join("elsewhere.txt");
    std::fs::write(&target, b"not a log").unwrap();
    let link = dir.path().join("link.probe");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = run(&[
        "record",
        "-q",
        "--force",
        "-o",
        link.to_str().unwrap(),
        "-p",
        &good,
        "--",
        py.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_ok(&o, "--force over a symlink");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"not a log",
        "written through the link"
    );
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(LogReader::open(&link).unwrap().is_complete());
}

/// `probe probes` finds a file on the interpreter's sys.path as `record -p`
/// does (here a standard-library module, `json/tool.py`), and says which
/// interpreter resolved it.
#[test]
fn probes_finds_installed_files_on_sys_path_like_record() {
    let py = python();
    let o = run(&[
        "probes",
        "--python",
        py.to_str().unwrap(),
        "json/tool.py",
        "--line",
        "1",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        text.contains("/json/tool.py (resolved by Python 3."),
        "{text}"
    );
    assert!(text.contains(py.to_str().unwrap()), "{text}");
    let o = run(&["probes", "--python", py.to_str().unwrap(), "no/such/mod.py"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
}

/// Strips the live line's escape sequences (set-up, draws, tear-down) from
/// what a terminal received; returns the rest and the drawn texts.
fn split_live_line(raw: &str, rows: u16) -> (String, Vec<String>) {
    // The terminal turns the set-up's "\n" into "\r\n" (onlcr).
    let setup = format!("\r\n\x1b7\x1b[1;{}r\x1b8\x1b[1A", rows - 1);
    let draw = format!("\x1b7\x1b[{rows};1H\x1b[2K");
    let teardown = format!("\x1b7\x1b[r\x1b[{rows};1H\x1b[2K\x1b8");
    let mut rest = raw.replacen(&setup, "", 1).replace(&teardown, "");
    let mut drawn = Vec::new();
    while let Some(at) = rest.find(&draw) {
        let after = &rest[at + draw.len()..];
        let end = after
            .find("\x1b8")
            .expect("a draw ends by restoring the cursor");
        drawn.push(after[..end].to_string());
        rest = format!("{}{}", &rest[..at], &after[end + 2..]);
    }
    (rest, drawn)
}

/// On a terminal (a pty from `script`), the live line is drawn on the last
/// row outside the program's scrolling region: with its escape sequences
/// taken out, what the terminal received is exactly the program's output,
/// every line whole; the elapsed time reads `0s`, `1s` … `1m29s`.
#[test]
fn the_live_line_never_mixes_into_the_programs_output_on_a_terminal() {
    let f = fixture("chatty.py");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chatty.probe");
    let py = python();
    let inner = format!(
        "stty rows 24 cols 100; exec {} record -o {} -p {} -- {} {}",
        probe_bin().display(),
        out.display(),
        spec(&f, "x", "x"),
        py.display(),
        f.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux) runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let raw = String::from_utf8_lossy(&o.stdout).into_owned();
    let (rest, drawn) = split_live_line(&raw, 24);
    assert!(!drawn.is_empty(), "no live line was drawn: {raw:?}");
    for d in &drawn {
        assert!(d.starts_with("probe: "), "{d:?}");
        let elapsed = d["probe: ".len()..].split(' ').next().unwrap_or("");
        let ok = elapsed.ends_with('s')
            && elapsed[..elapsed.len() - 1]
                .split('m')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        assert!(ok, "elapsed time {elapsed:?} in {d:?}");
        assert!(d.contains(" records, ") || d.contains(" record, "), "{d:?}");
    }
    let program: Vec<&str> = rest
        .split("\r\n")
        .filter(|l| l.contains("of the program's own output"))
        .collect();
    let want: Vec<String> = (0..150)
        .map(|i| format!("line {i:03} of the program's own output"))
        .collect();
    assert_eq!(program, want, "the program's lines were broken: {rest:?}");
    assert!(!rest.contains('\x1b'), "escape sequences left: {rest:?}");
    assert!(rest.contains("probe: wrote "), "{rest:?}");
}

/// The summary's compression figure is the sealed log's (the last block and
/// the END frame included), the same `probe info` reports: a short run once
/// printed `0.0× compression` against info's 1.71.
#[test]
fn the_summary_compression_ratio_is_the_one_info_reports() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("loop.py");
    std::fs::write(
        &prog,
        "import sys\nn = int(sys.argv[1])\nx = 0.0\nfor i in range(n):\n    x = x * 0.5 + i\n",
    )
    .unwrap();
    let p = prog.to_str().unwrap();
    for n in ["1200", "5000"] {
        let out = dir.path().join(format!("loop{n}.probe"));
        let o = run(&[
            "record",
            "-o",
            out.to_str().unwrap(),
            "-p",
            &format!("{p}:5:x"),
            "--",
            python().to_str().unwrap(),
            p,
            n,
        ]);
        assert_ok(&o, n);
        let err = stderr(&o);
        let shown: f64 = err
            .split("/record, ")
            .nth(1)
            .and_then(|t| t.split('×').next())
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("{n}: no compression figure in {err}"));
        let info = run(&["info", "--json", out.to_str().unwrap()]);
        assert!(info.status.success(), "{}", stderr(&info));
        let j: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        let ratio = j
            .pointer("/compression_ratio")
            .or_else(|| j.pointer("/size/compression_ratio"))
            .and_then(|v| v.as_f64())
            .unwrap_or_else(|| panic!("no compression_ratio in {j}"));
        assert!(
            (shown - ratio).abs() <= 0.051,
            "{n}: summary says {shown}×, info says {ratio:.3}: {err}"
        );
    }
}

/// A bad spec is reported as such even when the default output already
/// exists: the spec's error used to hide behind "canonical.probe already
/// exists; use --force" (README's own sequence ran into it). Syntax is
/// checked first; a spec wrong for the source is found by the resolver,
/// asked on that error path. A good spec still meets the output check, and
/// none of them runs the program.
#[test]
fn a_bad_spec_is_reported_before_an_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("canonical.py");
    std::fs::copy(fixture("canonical.py"), &prog).unwrap();
    let existing = dir.path().join("canonical.probe");
    std::fs::write(&existing, b"precious").unwrap();
    let py = python();
    let cases = [
        ("canonical.py:x", "expected FILE:LINE:NAME[@lhs|@rhs]"),
        ("canonical.py:abc:x", "line 'abc' is not a number"),
        (
            "canonical.py:13:x@foo",
            "role must be @lhs or @rhs, not @foo",
        ),
        (
            "canonical.py:13:x y",
            "'x y' is not a name or attribute chain",
        ),
        // Wrong for the source, not in syntax: the resolver says so.
        ("canonical.py:13:y", "'y' does not occur on canonical.py:13"),
        ("nosuch.py:3:x", "no such file 'nosuch.py'"),
        ("canonical.py:13:x", "canonical.probe already exists"),
    ];
    for (spec, want) in cases {
        let o = Command::new(probe_bin())
            .current_dir(dir.path())
            .args(["record", "-p", spec, "--", py.to_str().unwrap()])
            .args(["canonical.py", "loop_lhs"])
            .output()
            .expect("probe runs");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(want), "{spec}: expected {want:?} in {err}");
        assert!(err.contains("nothing was run"), "{spec}: {err}");
        assert!(o.stdout.is_empty(), "{spec}: the program ran");
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
}

/// Whether a program whose name says nothing is Python is judged from its
/// contents, never by running it: a program that is not Python must not
/// run at all before "nothing was run" (it was once run with `-c` to ask).
/// A CPython executable under another name and a shell wrapper that execs
/// Python are still recognised and recorded.
#[test]
fn an_unknown_program_is_never_run_to_find_out_whether_it_is_python() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran.log");
    let exe = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let fake = exe(
        "fakeprog",
        format!("#!/bin/sh\necho \"ran $*\" >> '{}'\n", ran.display()),
    );
    let prog = dir.path().join("prog.py");
    std::fs::write(&prog, "x = 0\nfor i in range(3):\n    x = x + i\n").unwrap();
    let p = prog.to_str().unwrap();
    let spec = format!("{p}:3:x");
    let out = dir.path().join("x.probe");
    let record = |program: &Path| {
        Command::new(probe_bin())
            .current_dir(dir.path())
            .args(["record", "-q", "--force", "-o", out.to_str().unwrap()])
            .args(["-p", &spec, "--"])
            .arg(program)
            .arg(p)
            .output()
            .expect("probe runs")
    };
    let o = record(&fake);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not a Python interpreter or script"),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(
        !ran.exists(),
        "fakeprog was run: {}",
        std::fs::read_to_string(&ran).unwrap_or_default()
    );
    // A CPython executable copied under a name that says nothing (the
    // pyenv builds link libpython, so a copy runs from anywhere).
    let (version, py) = pythons().into_iter().next().expect("a python");
    let real = std::fs::canonicalize(&py).unwrap();
    let interp = dir.path().join("interp");
    std::fs::copy(&real, &interp).unwrap();
    let o = record(&interp);
    assert_ok(&o, &format!("a copy of {version} named interp"));
    assert_eq!(values(&records(&out)), ["0", "1", "3"]);
    // A shell wrapper that execs Python, under a name that says nothing.
    let wrapper = exe(
        "runtool",
        format!("#!/bin/sh\n# a launcher\nexec '{}' \"$@\"\n", py.display()),
    );
    let o = record(&wrapper);
    assert_ok(&o, "a shell wrapper that execs python");
    assert_eq!(values(&records(&out)), ["0", "1", "3"]);
}

/// A duration as every summary writes it: `0.062s`, `6.12s`, `1m29s`.
fn one_duration_style(d: &str) -> bool {
    let Some(body) = d.strip_suffix('s') else {
        return false;
    };
    let plain = |t: &str| {
        let mut parts = t.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next().unwrap_or("0");
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && !frac.is_empty()
            && frac.bytes().all(|b| b.is_ascii_digit())
    };
    match body.split_once('m') {
        Some((m, s)) => {
            m.bytes().all(|b| b.is_ascii_digit() || b == b'h') && s.len() == 2 && plain(s)
        }
        None => plain(body),
    }
}

/// Durations are written one way in every human output: the record and
/// export summaries (`in 0.062s`), `info` (`ran 0.062s`) and `replay`
/// — once `in 6.12s` in one place, `ran 0.464 s` in another and `1m29s`
/// on the live line.
#[test]
fn durations_read_the_same_in_every_summary() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("loop.py");
    std::fs::write(&prog, "x = 0\nfor i in range(50):\n    x = x + i\n").unwrap();
    let p = prog.to_str().unwrap();
    let log = dir.path().join("loop.probe");
    let l = log.to_str().unwrap();
    let py = python();
    let spec = format!("{p}:3:x");
    let o = run(&[
        "record",
        "-o",
        l,
        "-p",
        &spec,
        "--",
        py.to_str().unwrap(),
        p,
    ]);
    assert_ok(&o, "record");
    let after = |text: &str, marker: &str| -> String {
        let at = text
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker:?} in {text}"));
        text[at + marker.len()..]
            .split([',', ' ', ':', '\n'])
            .next()
            .unwrap_or("")
            .to_string()
    };
    let mut seen = vec![("record", after(&stderr(&o), " records in "))];
    let info = run(&["info", l]);
    seen.push((
        "info",
        after(&String::from_utf8_lossy(&info.stdout), ", ran "),
    ));
    let csv = dir.path().join("loop.csv");
    let o = run(&["export", l, "-o", csv.to_str().unwrap()]);
    assert_ok(&o, "export");
    seen.push(("export", after(&stderr(&o), " in ")));
    let png = dir.path().join("loop.png");
    let o = run(&["replay", l, "-o", png.to_str().unwrap()]);
    assert_ok(&o, "replay");
    seen.push(("replay", after(&stderr(&o), " frame in ")));
    for (what, d) in &seen {
        assert!(one_duration_style(d), "{what}: {d:?} ({seen:?})");
    }
}

/// `probe ARGS…` run in `dir` (with `env` set), and its output.
fn probe_in(dir: &Path, env: &[(&str, &str)], args: &[&std::ffi::OsStr]) -> Output {
    Command::new(probe_bin())
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("probe runs")
}

/// The stderr of a run refused before anything ran: exit 2 and "nothing
/// was run" are asserted.
fn refused(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("probe: nothing was run"), "{err}");
    err
}

/// Words for [`probe_in`].
fn words<'a>(w: &'a [&'a str]) -> Vec<&'a std::ffi::OsStr> {
    w.iter().map(std::ffi::OsStr::new).collect()
}

/// A script that is not there is refused before anything runs, like a bad
/// spec: a clear error naming it and where it was looked for, "nothing was
/// run", exit 2 and no log (python would have said so itself, after the
/// recorder had written an empty log that `verify` calls OK).
#[test]
fn a_missing_script_is_refused_before_the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("prog.py");
    std::fs::write(&prog, "x = 1\n").unwrap();
    let spec = format!("{}:1:x", prog.display());
    let py = python();
    let py = py.to_str().unwrap();
    for after in [&["nope.py"][..], &["-u", "nope.py", "arg"][..]] {
        let mut args = vec!["record", "-q", "-o", "run.probe", "-p", &spec, "--", py];
        args.extend_from_slice(after);
        let err = refused(&probe_in(dir.path(), &[], &words(&args)));
        assert!(
            err.contains("the script `nope.py` cannot be run: No such file or directory"),
            "{err}"
        );
        assert!(
            err.contains(&format!("; looked for in {}", dir.path().display())),
            "{err}"
        );
        assert!(!dir.path().join("run.probe").exists(), "a log was written");
    }
}

/// A spec of a `--probes` file that does not fit the source is refused
/// naming the file's line (found by its Python repr, quotes and all), as a
/// syntax error there is; a spec also given with `-p` is the command
/// line's.
#[test]
fn a_refused_spec_of_a_probe_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prog.py"), "x = 1\ny = x + 1\n").unwrap();
    std::fs::write(dir.path().join("it's.py"), "y = 1\n").unwrap();
    let list = dir.path().join("probes.txt");
    let py = python();
    let py = py.to_str().unwrap();
    let record = |extra: &[&str], prog: &str| {
        let mut args = vec!["record", "-q", "--force", "-o", "run.probe"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--probes", "probes.txt", "--", py, prog]);
        refused(&probe_in(dir.path(), &[], &words(&args)))
    };
    let cases = [
        (
            "# the probes\nprog.py:1:x\n\nprog.py:2:zz   # not on that line\n",
            "prog.py",
            "probe: error: probes.txt line 4: probe 'prog.py:2:zz': 'zz' does not occur on prog.py:2",
        ),
        (
            "\nit's.py:1:zz\n",
            "it's.py",
            "probe: error: probes.txt line 2: probe \"it's.py:1:zz\": 'zz' does not occur",
        ),
        (
            "prog.py:1:x\nprog.py:2\n",
            "prog.py",
            "probe: error: reading probe file probes.txt: probes.txt line 2: ",
        ),
    ];
    for (text, prog, want) in cases {
        std::fs::write(&list, text).unwrap();
        let err = record(&[], prog);
        assert!(err.contains(want), "{err}");
    }
    std::fs::write(&list, "prog.py:2:zz\n").unwrap();
    let err = record(&["-p", "prog.py:2:zz"], "prog.py");
    assert!(err.contains("probe: error: probe 'prog.py:2:zz'"), "{err}");
}

/// A script with a Python `#!` line found on `$PATH` (`-- mytool arg`, as
/// the shell runs it) is given to python as the file the shell would run
/// (never a same-named file in the current directory), which the program
/// also sees as `sys.argv[0]`.
#[test]
fn a_python_tool_on_path_runs_by_the_path_the_shell_finds() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let py = python();
    let tool = bin.join("mytool");
    for (path, body) in [
        (&tool, "import sys\nx = len(sys.argv)\nprint(sys.argv[0])\n"),
        (&dir.path().join("mytool"), "print('the wrong mytool')\n"),
    ] {
        std::fs::write(path, format!("#!{}\n{body}", py.display())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let spec = format!("{}:3:x", tool.display());
    let args = [
        "record", "-q", "-o", "t.probe", "-p", &spec, "--", "mytool", "a",
    ];
    let o = probe_in(dir.path(), &[("PATH", &path)], &words(&args));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        tool.display().to_string()
    );
    let log = LogReader::open(&dir.path().join("t.probe")).expect("log");
    assert_eq!(log.records().count(), 1);
}

/// A script whose name starts with `-`, given after `--` as python wants
/// it (`python -- -x.py`), runs: python is given the `--` too (it once
/// read the name as options: "Unknown option: -x").
#[test]
fn a_script_named_with_a_leading_dash_runs_after_double_dash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("-x.py"),
        "import sys\nv = 41 + 1\nprint(sys.argv)\n",
    )
    .unwrap();
    let py = python();
    let spec = format!("{}/-x.py:2:v", dir.path().display());
    let args = [
        "record",
        "-q",
        "-o",
        "d.probe",
        "-p",
        &spec,
        "--",
        py.to_str().unwrap(),
        "--",
        "-x.py",
        "arg",
    ];
    let o = probe_in(dir.path(), &[], &words(&args));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "['-x.py', 'arg']"
    );
    let log = LogReader::open(&dir.path().join("d.probe")).expect("log");
    assert_eq!(log.records().count(), 1);
}
