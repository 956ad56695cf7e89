//! The agent stays out of the program's way (SPEC §2 rule 11 and issue
//! 15/16): its source never appears on the command line, a Ctrl-C landing
//! inside the tracer shows none of its frames, nothing read from the cache
//! runs unchecked, and a huge value is never converted whole.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

fn program_with(spec_tag: &str, file: &str) -> (std::path::PathBuf, String) {
    let f = fixture(file);
    let s = spec(&f, spec_tag, spec_tag);
    (f, s)
}

#[test]
fn the_command_line_holds_a_short_bootstrap_not_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = program_with("big", "argv_and_bigint.py");
    for (v, py) in pythons() {
        let (out, _) = record(
            dir.path(),
            &py,
            "settrace",
            &[spec(&f, "small", "small")],
            &[f.to_str().unwrap()],
        );
        assert_ok(&out, &format!("argv on {v}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let first = stdout.lines().next().unwrap_or("");
        assert!(
            first.len() < 400,
            "Python {v}: sys.orig_argv is {} characters long: {first}",
            first.len()
        );
        assert!(first.contains("argv_and_bigint.py"), "{v}: {first}");
        assert!(
            !first.contains("def ") && !first.contains("import marshal"),
            "{v}: agent source on the command line: {first}"
        );
    }
}

#[test]
fn a_huge_int_keeps_its_leading_digits_and_a_small_big_one_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("argv_and_bigint.py");
    for (v, py) in pythons() {
        for core in cores(v) {
            let what = format!("big ints on {v} ({core})");
            let (out, log) = record(
                dir.path(),
                &py,
                core,
                &[spec(&f, "big", "big"), spec(&f, "small", "small")],
                &[f.to_str().unwrap()],
            );
            assert_ok(&out, &what);
            let recs = records(&log);
            assert_eq!(recs.len(), 2, "{what}");
            match &recs[0].value {
                probe::model::Value::Other {
                    type_name,
                    repr,
                    truncated,
                } => {
                    assert_eq!(type_name, "int", "{what}");
                    assert!(*truncated, "{what}: flagged truncated");
                    assert!(repr.starts_with("1000000000"), "{what}: {repr:.40}");
                    assert!(repr.len() <= 4096, "{what}: {} bytes", repr.len());
                }
                other => {
                    let shown = show(other);
                    panic!(
                        "{what}: 10**200000 recorded as {} ({} characters)",
                        &shown[..shown.len().min(60)],
                        shown.len()
                    )
                }
            }
            assert_eq!(show(&recs[1].value), "-1180591620717411303424", "{what}");
        }
    }
}

/// Records with the compiled-agent cache in `cache`, returning stdout.
fn record_with_cache(
    dir: &std::path::Path,
    cache: &std::path::Path,
    py: &std::path::Path,
) -> std::process::Output {
    let f = fixture("argv_and_bigint.py");
    let out = dir.join("c.probe");
    Command::new(probe_bin())
        .env("XDG_CACHE_HOME", cache)
        .args(["record", "-q", "--force", "-o"])
        .arg(&out)
        .arg("-p")
        .arg(spec(&f, "small", "small"))
        .arg("--")
        .arg(py)
        .arg(&f)
        .output()
        .expect("probe runs")
}

#[test]
fn a_tampered_cache_entry_is_deleted_and_rebuilt_never_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (v, py) = pythons().pop().unwrap();
    let out = record_with_cache(dir.path(), &cache, &py);
    assert_ok(&out, "first run");
    let pdir = cache.join("probe");
    assert_eq!(
        std::fs::metadata(&pdir).unwrap().permissions().mode() & 0o777,
        0o700,
        "the cache directory is private"
    );
    let files: Vec<_> = std::fs::read_dir(&pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let of = |ext: &str| -> Vec<_> {
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .cloned()
            .collect()
    };
    let entries = of("bin");
    assert_eq!(
        (
            entries.len(),
            of("idx").len(),
            of("pyc").len(),
            of("res").len(),
            files.len()
        ),
        (1, 1, 1, 1, 4),
        "one compiled agent for Python {v}, the index naming it, the compiled \
         sitecustomize stub and the specs' resolution: {files:?}"
    );
    // Replace the payload with code that would leave a mark, keeping the
    // header (magic and the old hash): it must be refused, not run.
    let marker = dir.path().join("ran");
    let evil = Command::new(&py)
        .arg("-c")
        .arg(format!(
            "import marshal,sys;c=compile(\"open({:?},'w').write('x')\",'e','exec');sys.stdout.buffer.write(marshal.dumps({{n: c for n in ['values']}}))",
            marker.display().to_string()
        ))
        .output()
        .unwrap()
        .stdout;
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    bytes.truncate(12 + 32);
    bytes.extend_from_slice(&evil);
    std::fs::write(&entries[0], &bytes).unwrap();
    let out = record_with_cache(dir.path(), &cache, &py);
    assert_ok(&out, "run with a tampered cache");
    assert!(!marker.exists(), "code from a tampered cache file ran");
    let again = std::fs::read(&entries[0]).expect("rebuilt");
    assert_ne!(again, bytes, "the tampered file was replaced");
    // The same for the compiled stub, which zipimport would run: a pyc
    // that would leave a mark, under the old header.
    let stub = &of("pyc")[0];
    let evil_pyc = Command::new(&py)
        .arg("-c")
        .arg(format!(
            "import marshal,sys,importlib.util as u;c=compile(\"open({:?},'w').write('x')\",'e','exec');sys.stdout.buffer.write(u.MAGIC_NUMBER+bytes([1,0,0,0])+bytes(8)+marshal.dumps(c))",
            marker.display().to_string()
        ))
        .output()
        .unwrap()
        .stdout;
    let mut bytes = std::fs::read(stub).unwrap();
    bytes.truncate(12 + 32);
    bytes.extend_from_slice(&evil_pyc);
    std::fs::write(stub, &bytes).unwrap();
    let out = record_with_cache(dir.path(), &cache, &py);
    assert_ok(&out, "run with a tampered compiled stub");
    assert!(!marker.exists(), "a tampered compiled stub ran");
    assert_ne!(std::fs::read(stub).expect("rebuilt"), bytes);
    // A cache directory others can write is made private and emptied.
    std::fs::set_permissions(&pdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = record_with_cache(dir.path(), &cache, &py);
    assert_ok(&out, "run with a shared cache directory");
    assert_eq!(
        std::fs::metadata(&pdir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn ctrl_c_inside_the_tracer_shows_only_the_programs_frames() {
    use std::os::unix::process::CommandExt;
    let f = fixture("busy_interrupt.py");
    let dir = tempfile::tempdir().unwrap();
    for (v, py) in pythons() {
        for core in cores(v) {
            // A few runs: the interrupt lands at a different point each time,
            // often inside the tracer's callback.
            for attempt in 0..3 {
                let out = dir.path().join(format!("i-{v}-{core}-{attempt}.probe"));
                let mut child = Command::new(probe_bin())
                    .args(["record", "-q", "--core", core, "-o"])
                    .arg(&out)
                    .arg("-p")
                    .arg(spec(&f, "n", "n"))
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
                BufReader::new(child.stdout.take().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                assert_eq!(line.trim(), "ready");
                std::thread::sleep(Duration::from_millis(150 + 70 * attempt));
                // SAFETY: plain FFI call on our child's process group.
                unsafe { libc::kill(-group, libc::SIGINT) };
                let o = child.wait_with_output().unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                assert_eq!(o.status.code(), Some(130), "{v} {core}: {err}");
                assert!(err.contains("KeyboardInterrupt"), "{v} {core}: {err}");
                for l in err.lines().filter(|l| l.trim_start().starts_with("File ")) {
                    assert!(
                        l.contains("busy_interrupt.py"),
                        "{v} {core}: a frame that is not the program's in its traceback: {l}\n{err}"
                    );
                }
            }
        }
    }
}

/// The agent counts children by watching the import of `subprocess` and
/// `_posixsubprocess`: the program must find both imported by the
/// interpreter's own loaders (on 3.14 and 3.15 `_posixsubprocess` is a
/// built-in module, loaded by the class every built-in module shares).
#[test]
fn watching_subprocess_imports_leaves_the_loaders_alone() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("imports_spawners.py");
    for (v, py) in pythons() {
        for core in cores(v) {
            let (out, _) = record(
                dir.path(),
                &py,
                core,
                &[spec(&f, "answer", "answer")],
                &[f.to_str().unwrap()],
            );
            assert_ok(&out, &format!("subprocess imports on {v} ({core})"));
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("loaders: ok"), "{v} {core}: {stdout}");
            assert!(stdout.contains("42 True"), "{v} {core}: {stdout}");
        }
    }
}

/// Issue 15 item 14 (SPEC §2 rule 11): the program's view of its own
/// stack and start-up is what python gives it — `traceback.print_stack()`,
/// `inspect.stack()`, warnings' `stacklevel`, `sys.orig_argv`, `__main__`,
/// `sys.excepthook`, the environment, `sys.path` and open descriptors are
/// the same with and without probe, on every Python and core.
#[test]
fn the_program_sees_its_own_stack_and_start_up_as_without_probe() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("stack_view.py");
    for (v, py) in pythons() {
        let plain = Command::new(&py)
            .arg(&f)
            .arg("an-arg")
            .env_remove("PYTHONPATH")
            .output()
            .unwrap();
        assert_eq!(plain.status.code(), Some(3), "{v}: {plain:?}");
        for core in cores(v) {
            let what = format!("Python {v} ({core})");
            let out = dir.path().join(format!("s-{v}-{core}.probe"));
            let traced = Command::new(probe_bin())
                .args(["record", "-q", "--core", core, "-o"])
                .arg(&out)
                .arg("-p")
                .arg(spec(&f, "total", "total"))
                .arg("--")
                .arg(&py)
                .arg(&f)
                .arg("an-arg")
                .env_remove("PYTHONPATH")
                .output()
                .unwrap();
            assert_eq!(traced.status.code(), Some(3), "{what}: {traced:?}");
            assert_eq!(
                String::from_utf8_lossy(&traced.stdout),
                String::from_utf8_lossy(&plain.stdout),
                "{what}: stdout differs"
            );
            assert_eq!(
                String::from_utf8_lossy(&traced.stderr),
                String::from_utf8_lossy(&plain.stderr),
                "{what}: stderr differs"
            );
            assert_eq!(values(&records(&out)), ["0", "1", "3"], "{what}");
        }
        // Through a wrapper script that passes the environment on (as a
        // pyenv shim does): the same.
        let wrapper = dir.path().join(format!("python-wrapper-{v}"));
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec '{}' \"$@\"\n", py.display()),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.path().join(format!("w-{v}.probe"));
        let traced = Command::new(probe_bin())
            .args(["record", "-q", "-o"])
            .arg(&out)
            .arg("-p")
            .arg(spec(&f, "total", "total"))
            .arg("--")
            .arg(&wrapper)
            .arg(&f)
            .arg("an-arg")
            .env_remove("PYTHONPATH")
            .output()
            .unwrap();
        assert_eq!(traced.status.code(), Some(3), "{v} wrapper: {traced:?}");
        assert_eq!(
            String::from_utf8_lossy(&traced.stdout),
            String::from_utf8_lossy(&plain.stdout),
            "{v}: stdout differs through a wrapper script"
        );
        assert_eq!(values(&records(&out)), ["0", "1", "3"], "{v} wrapper");
    }
}

/// A program that recurses to its recursion limit meets it where it meets
/// it without probe: the native and monitoring cores' Python callbacks get
/// headroom below the limit (crates/agent/src/headroom.rs), so the deepest frame is the
/// program's, the traceback python prints is the same, no "internal error"
/// is reported, and every frame's capture is in the log.
#[test]
fn a_program_at_its_recursion_limit_fails_where_it_fails_without_probe() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("recursion_limit.py");
    let probes = [spec(&f, "node", "node"), spec(&f, "k2", "k2")];
    for (v, py) in pythons() {
        let plain = bare_output(v, &py, &f, 1, "function down");
        let plain_out = String::from_utf8_lossy(&plain.stdout);
        assert!(plain_out.contains("alive True"), "{v}: {plain_out}");
        // (The settrace core's Python trace function is called by CPython
        // itself, without the extension in between: no headroom there.)
        for core in cores(v).into_iter().filter(|&c| c != "settrace") {
            let what = format!("Python {v} ({core})");
            let (traced, out) = record(dir.path(), &py, core, &probes, &[f.to_str().unwrap()]);
            assert_eq!(traced.status.code(), Some(1), "{what}: {traced:?}");
            assert_eq!(
                String::from_utf8_lossy(&traced.stdout),
                plain_out,
                "{what}: the program saw another recursion"
            );
            assert_eq!(
                String::from_utf8_lossy(&traced.stderr),
                String::from_utf8_lossy(&plain.stderr),
                "{what}: stderr differs (traceback or probe's warnings)"
            );
            // One record per frame: each frame's statement ran (or, on 3.11,
            // the deepest `node = Node()` raised).
            let recs = records(&out);
            let depth: usize = plain_out
                .split_whitespace()
                .nth(1)
                .and_then(|d| d.parse().ok())
                .expect("depth printed");
            let deepest: usize = plain_out
                .split("deepest ")
                .nth(1)
                .and_then(|d| d.trim().parse().ok())
                .expect("deepest printed");
            let node = recs.iter().filter(|r| r.probe == 0).count();
            let k2 = recs.iter().filter(|r| r.probe == 1).count();
            assert_eq!(node, depth, "{what}: records of `node`");
            assert_eq!(k2, deepest, "{what}: records of `k2`");
        }
    }
}

/// The headroom is taken off exactly as it was given, even next to the
/// counter's maximum (after `sys.setrecursionlimit(2**31 - 1)`): once the
/// limit is back to 1000 the program reaches the depth it reaches bare.
#[test]
fn headroom_is_given_back_whole_after_a_maximal_recursion_limit() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("recursion_limit_huge.py");
    let probes = [spec(&f, "t", "t")];
    for (v, py) in pythons() {
        let plain = bare_output(v, &py, &f, 0, "4950 ");
        for core in cores(v).into_iter().filter(|&c| c != "settrace") {
            let (out, _) = record(dir.path(), &py, core, &probes, &[f.to_str().unwrap()]);
            assert_ok(&out, &format!("{v} {core}"));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&plain.stdout),
                "Python {v} ({core}): another depth after the limit went back"
            );
        }
    }
}

/// The settrace core's Python trace function is called by CPython itself,
/// so near the limit its frames count: the program is told so once, in
/// words, not as a stream of "internal error" warnings, nor as if it had
/// replaced the trace function itself.
#[test]
fn the_settrace_core_says_plainly_when_the_recursion_limit_met_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("recursion_limit.py");
    for (v, py) in pythons() {
        let what = format!("Python {v} (settrace)");
        let probes = [spec(&f, "node", "node")];
        let (traced, _) = record(dir.path(), &py, "settrace", &probes, &[f.to_str().unwrap()]);
        assert_eq!(traced.status.code(), Some(1), "{what}: {traced:?}");
        let err = String::from_utf8_lossy(&traced.stderr);
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("probe: warning:"))
            .collect();
        assert_eq!(warnings.len(), 1, "{what}: {warnings:#?}");
        assert!(
            warnings[0].contains("reached its recursion limit inside probe's tracer"),
            "{what}: {}",
            warnings[0]
        );
    }
}

/// The program's output bare (PYTHONPATH cleared, as `record` clears it
/// for the program): it must exit with `status` and print `expected`.
fn bare_output(v: &str, py: &Path, f: &Path, status: i32, expected: &str) -> Output {
    let plain = Command::new(py)
        .arg(f)
        .env_remove("PYTHONPATH")
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(status), "{v}: {plain:?}");
    assert!(
        String::from_utf8_lossy(&plain.stdout).contains(expected),
        "{v}: {plain:?}"
    );
    plain
}

/// Records `f` with `probes` on every core of Python `v` and checks that
/// the program printed what it printed bare; returns each core's output
/// and log.
fn recorded_as_bare(
    dir: &Path,
    v: &str,
    py: &Path,
    f: &Path,
    probes: &[String],
    plain: &Output,
    differs: &str,
) -> Vec<(String, Output, PathBuf)> {
    cores(v)
        .into_iter()
        .map(|core| {
            let what = format!("Python {v} ({core})");
            let (out, log) = record(dir, py, core, probes, &[f.to_str().unwrap()]);
            assert_ok(&out, &what);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&plain.stdout),
                "{what}: {differs}"
            );
            (what, out, log)
        })
        .collect()
}

/// A program that replaces builtins (a test's `mock.patch("builtins.len")`)
/// sees only its own calls of them: the agent runs on the builtins it
/// started with (found by CPython's test_functools, which caches `len`).
#[test]
fn a_program_that_replaces_builtins_sees_only_its_own_calls() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("builtins_patched.py");
    let probes = [spec(&f, "total", "total"), spec(&f, "n", "n")];
    for (v, py) in pythons() {
        let plain = bare_output(v, &py, &f, 0, "(6, 3) ['len']\n");
        let differs = "the program saw probe's calls of its builtins";
        for (what, _, log) in recorded_as_bare(dir.path(), v, &py, &f, &probes, &plain, differs) {
            assert_eq!(values(&records(&log)), ["1", "3", "6", "3"], "{what}");
        }
    }
}

/// A program that patches the clock and os functions while it runs
/// (freezegun, `mock.patch("os.path.abspath")`) sees only its own calls,
/// and probe's timestamps stay real: the agent bound what it calls before
/// the program started. The probed module is imported (and planned) while
/// the patches hold.
#[test]
fn a_program_that_patches_the_clock_and_os_sees_only_its_own_calls() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("patched_stdlib.py");
    let m = fixture("patched_stdlib_mod.py");
    let probes = [spec(&f, "total", "total"), spec(&m, "y", "y")];
    for (v, py) in pythons() {
        let plain = bare_output(v, &py, &f, 0, "3998000 [] 0\n");
        let differs = "the program saw probe's calls of what it patched";
        for (what, _, log) in recorded_as_bare(dir.path(), v, &py, &f, &probes, &plain, differs) {
            let recs = records(&log);
            assert_eq!(recs.len(), 4000, "{what}");
            assert!(
                recs.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
                "{what}: timestamps go back (the program's clock was used)"
            );
            let last = recs.last().map(|r| r.ts_ns).unwrap_or(0);
            assert!(
                last < 60_000_000_000,
                "{what}: last timestamp {last} ns after the start"
            );
        }
    }
}

/// The builtins probe stands in for while the program runs (`sys.settrace`
/// and kin, re-arming probe's events; `os.system`, `os.posix_spawn`,
/// `os.exec*` and `fork_exec`, counting children) look like the originals:
/// type, name, module, `__self__`, doc, text signature, `inspect.signature`
/// and repr (found by CPython's test_inspect).
#[test]
fn the_builtins_probe_stands_in_for_look_like_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("builtins_seen.py");
    let probes = [spec(&f, "x", "x")];
    for (v, py) in pythons() {
        let plain = bare_output(v, &py, &f, 0, "system builtin_function_or_method system");
        let differs = "the program saw other builtins";
        for (what, out, _) in recorded_as_bare(dir.path(), v, &py, &f, &probes, &plain, differs) {
            // Still counted: os.system ran one child.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("1 child process ran untraced"),
                "{what}: {err}"
            );
        }
    }
}

/// Where python skips `sitecustomize` (`-E`, `-I`, `-S`) the agent runs the
/// script itself; `__main__` must still look as python makes it: the same
/// names in the same order and a source loader whose `get_source` works
/// (inspect and doctest use it).
#[test]
fn under_the_bootstrap_fallback_main_has_pythons_namespace_and_loader() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("main_view.py");
    std::fs::write(
        &prog,
        "x = 1\nprint(list(globals()))\nprint(type(__loader__).__name__, __loader__.get_source('__main__').splitlines()[0])\n",
    )
    .unwrap();
    for (v, py) in pythons() {
        for flag in ["-E", "-I", "-S"] {
            let plain = Command::new(&py).arg(flag).arg(&prog).output().unwrap();
            assert!(plain.status.success(), "{v} {flag}: {plain:?}");
            let out = dir.path().join(format!("m-{v}{flag}.probe"));
            let traced = Command::new(probe_bin())
                .args(["record", "-q", "-o"])
                .arg(&out)
                .arg("-p")
                .arg(format!("{}:1:x", prog.display()))
                .arg("--")
                .arg(&py)
                .arg(flag)
                .arg(&prog)
                .output()
                .unwrap();
            assert!(traced.status.success(), "{v} {flag}: {traced:?}");
            assert_eq!(
                String::from_utf8_lossy(&traced.stdout),
                String::from_utf8_lossy(&plain.stdout),
                "Python {v} {flag}: __main__ differs"
            );
            assert_eq!(values(&records(&out)), ["1"], "{v} {flag}");
        }
    }
}

/// Records `program` (`x` on line 1) with the cache in `cache` (None: a
/// fresh, empty one), returning the values recorded.
fn values_with_cache(
    dir: &std::path::Path,
    cache: Option<&std::path::Path>,
    py: &std::path::Path,
    program: &std::path::Path,
    what: &str,
) -> Vec<String> {
    let fresh = tempfile::tempdir().unwrap();
    let out = dir.join(format!("v{}.probe", what.len()));
    let o = Command::new(probe_bin())
        .env("XDG_CACHE_HOME", cache.unwrap_or(fresh.path()))
        .args(["record", "-q", "--force", "-o"])
        .arg(&out)
        .arg("-p")
        .arg(format!("{}:1:x", program.display()))
        .arg("--")
        .arg(py)
        .arg(program)
        .output()
        .expect("probe runs");
    assert_ok(&o, what);
    values(&records(&out))
}

/// The one resolution entry of `cache`.
fn resolution_entry(cache: &std::path::Path) -> std::path::PathBuf {
    let res: Vec<_> = std::fs::read_dir(cache.join("probe"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "res"))
        .collect();
    assert_eq!(res.len(), 1, "one resolution: {res:?}");
    res[0].clone()
}

/// A cached resolution of the specs is used only while every file it came
/// from is unchanged: a file rewritten in place with the same size and
/// the same modification time is resolved again, not served the old
/// scope models (which would record the wrong statement, or nothing).
#[test]
fn a_changed_source_is_never_served_a_stale_resolution() {
    use std::time::SystemTime;
    let v1 = "x = 5; y = 1  # one statement binds x, then another\n";
    let v2 = "y = 6; x = 7\nfor x in range(3): y = x * 10\n";
    let pad = |s: &str, n: usize| format!("{s}{}\n", "#".repeat(n - s.len() - 1));
    let n = v1.len().max(v2.len()) + 1;
    let (v1, v2) = (pad(v1.trim_end(), n), pad(v2.trim_end(), n));
    assert_eq!(v1.len(), v2.len());
    for (v, py) in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let prog = dir.path().join("prog.py");
        std::fs::write(&prog, &v1).unwrap();
        let want1 = values_with_cache(dir.path(), None, &py, &prog, "v1 fresh");
        let first = values_with_cache(dir.path(), Some(&cache), &py, &prog, "v1 first");
        let again = values_with_cache(dir.path(), Some(&cache), &py, &prog, "v1 cached");
        assert_eq!((&first, &again), (&want1, &want1), "Python {v}");
        let entry = resolution_entry(&cache);
        let mtime = std::fs::metadata(&prog).unwrap().modified().unwrap();
        // Same path, same inode, same size, same mtime: only the content.
        {
            use std::io::{Seek, Write};
            let mut f = std::fs::OpenOptions::new().write(true).open(&prog).unwrap();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.write_all(v2.as_bytes()).unwrap();
            f.set_modified(mtime).unwrap();
        }
        assert_eq!(std::fs::metadata(&prog).unwrap().modified().unwrap(), mtime);
        assert!(mtime <= SystemTime::now());
        let want2 = values_with_cache(dir.path(), None, &py, &prog, "v2 fresh");
        assert_ne!(want1, want2, "the two versions record differently");
        let got2 = values_with_cache(dir.path(), Some(&cache), &py, &prog, "v2 cached");
        assert_eq!(got2, want2, "Python {v}: a stale resolution was used");
        assert!(entry.exists(), "the entry was replaced by v2's");
        let again2 = values_with_cache(dir.path(), Some(&cache), &py, &prog, "v2 again");
        assert_eq!(again2, want2, "Python {v}");
    }
}

/// A resolution entry that is damaged — tampered under its old hash,
/// truncated, or well-formed for the cache but holding data the agent
/// cannot use — is never used: the run resolves from source and records
/// what it would have without a cache.
#[test]
fn a_damaged_resolution_entry_falls_back_to_resolving() {
    use sha2::{Digest, Sha256};
    let (v, py) = pythons().pop().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let prog = dir.path().join("prog.py");
    std::fs::write(&prog, "for x in range(3):\n    y = x\n").unwrap();
    let want = values_with_cache(dir.path(), None, &py, &prog, "fresh");
    assert_eq!(want, ["0", "1", "2"], "Python {v}");
    let got = values_with_cache(dir.path(), Some(&cache), &py, &prog, "first");
    assert_eq!(got, want);
    let entry = resolution_entry(&cache);
    let good = std::fs::read(&entry).unwrap();
    let header = 12 + 32;
    let payload = &good[header..];
    let head_len = 4 + u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize;
    let sealed = |p: &[u8]| -> Vec<u8> {
        let mut f = good[..12].to_vec();
        f.extend_from_slice(&Sha256::digest(p));
        f.extend_from_slice(p);
        f
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    let mut garbage = payload[..head_len].to_vec();
    garbage.extend_from_slice(b"\xff\x00not marshal data");
    // Valid marshal of the wrong shape: a resolution whose sites name a
    // scope model that does not exist.
    let wrong = Command::new(&py)
        .arg("-c")
        .arg("import marshal,sys;sys.stdout.buffer.write(marshal.dumps({'format':1,'sites':((0,('unit',0),7,()),)}))")
        .output()
        .unwrap()
        .stdout;
    let mut wrong_shape = payload[..head_len].to_vec();
    wrong_shape.extend_from_slice(&wrong);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("tampered under the old hash", flipped),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage data, hash valid", sealed(&garbage)),
        ("data of the wrong shape, hash valid", sealed(&wrong_shape)),
        ("no files named, hash valid", sealed(&[0, 0, 0, 0, 1, 2, 3])),
    ];
    for (what, bytes) in cases {
        std::fs::write(&entry, &bytes).unwrap();
        let got = values_with_cache(dir.path(), Some(&cache), &py, &prog, what);
        assert_eq!(got, want, "Python {v}: {what}");
        let now = std::fs::read(&entry).unwrap_or_default();
        assert_ne!(now, bytes, "{what}: the damaged entry was replaced");
    }
    let got = values_with_cache(dir.path(), Some(&cache), &py, &prog, "repaired");
    assert_eq!(got, want);
}
