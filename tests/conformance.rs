//! The conformance corpus (`fixtures/conformance/`, see its README): every
//! program recorded on every supported Python and core must give exactly
//! the records in its `.expected` file, all runs must agree, every log must
//! pass `verify`, and the program's stdout and exit status must be what
//! they are without probe.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use probe::log::{verify, LogReader};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/conformance")
}

/// What a corpus program's header asks for.
struct Case {
    /// (label `TAG:NAME@role`, spec).
    probes: Vec<(String, String)>,
    /// Interpreter arguments before the target (`-m pkg.mod`) or the script.
    target: Vec<String>,
    exit: i32,
    end: String,
}

fn parse_case(name: &str) -> Case {
    let dir = corpus_dir();
    let file = dir.join(format!("{name}.py"));
    let text = std::fs::read_to_string(&file).expect("corpus program");
    let mut case = Case {
        probes: Vec::new(),
        target: vec![file.to_string_lossy().into_owned()],
        exit: 0,
        end: "exit".into(),
    };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some((key, rest)) = line[1..].trim().split_once(':') else {
            continue;
        };
        let rest = rest.trim();
        match key {
            "probe" => {
                let (tag, name) = rest.split_once(' ').expect("`# probe: TAG NAME`");
                // `TAG` or `FILE:TAG` for a probe in another file of the corpus.
                let (src, tag) = match tag.rsplit_once(':') {
                    Some((f, t)) => (dir.join(f), t),
                    None => (file.clone(), tag),
                };
                let spec = format!("{}:{}:{}", src.display(), line_of(&src, tag), name);
                let label = if name.contains('@') {
                    format!("{tag}:{name}")
                } else {
                    format!("{tag}:{name}@?")
                };
                case.probes.push((label, spec));
            }
            "run" => case.target = rest.split_whitespace().map(String::from).collect(),
            "exit" => case.exit = rest.parse().expect("`# exit: N`"),
            "end" => case.end = rest.to_string(),
            _ => {}
        }
    }
    assert!(!case.probes.is_empty(), "{name}.py has no `# probe:` lines");
    case
}

/// The records of one run, one line each, as in `.expected` files.
fn render(log: &Path, case: &Case) -> Vec<String> {
    let reader = LogReader::open(log).expect("log opens");
    let table = &reader.meta().probes;
    let mut threads: HashMap<u64, usize> = HashMap::new();
    records(log)
        .iter()
        .map(|r| {
            let p = &table[r.probe as usize];
            // The label as written in the header, with the resolved role.
            let label = case.probes[r.probe as usize]
                .0
                .replace("@?", &format!("@{}", p.role.as_str()));
            let next = threads.len();
            let t = *threads.entry(r.thread).or_insert(next);
            format!(
                "{} {} {} {} {} T{} {}",
                r.seq,
                label,
                r.order,
                r.status.as_str(),
                r.value.kind(),
                t,
                show(&r.value)
            )
        })
        .collect()
}

fn conformance(name: &str) {
    let case = parse_case(name);
    let expected_path = corpus_dir().join(format!("{name}.expected"));
    let bless = std::env::var_os("PROBE_BLESS").is_some();
    let expected: Vec<String> = match std::fs::read_to_string(&expected_path) {
        Ok(t) => t
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect(),
        Err(_) if bless => Vec::new(),
        Err(e) => panic!("{}: {e}", expected_path.display()),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first: Option<(String, Vec<String>)> = None;
    for (version, py) in pythons() {
        // SPEC §2 rule 11: the same stdout and exit status as without probe.
        let plain = Command::new(&py)
            .current_dir(corpus_dir())
            .args(&case.target)
            .output()
            .expect("python runs");
        for core in cores(version) {
            let what = format!("{name} on Python {version} ({core})");
            let log = dir.path().join(format!("{version}-{core}.probe"));
            let mut cmd = Command::new(probe_bin());
            cmd.current_dir(corpus_dir())
                .args(["record", "-q", "--core", core, "-o"])
                .arg(&log);
            for (_, spec) in &case.probes {
                cmd.arg("-p").arg(spec);
            }
            let out = cmd
                .arg("--")
                .arg(&py)
                .args(&case.target)
                .output()
                .expect("probe runs");
            assert_eq!(
                out.status.code(),
                Some(case.exit),
                "{what}: exit status\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&plain.stdout),
                "{what}: the program's output changed under probe"
            );
            // probe exits 128+N where the program died by signal N.
            let plain_code = plain.status.code().or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                plain.status.signal().map(|n| 128 + n)
            });
            assert_eq!(out.status.code(), plain_code, "{what}: exit status changed");
            let reader = LogReader::open(&log).expect("log opens");
            let report = verify::verify(&reader);
            assert_eq!(report.exit_code(), 0, "{what}: verify\n{report}");
            let end = reader.end().expect("end marker");
            assert_eq!(end.exit.kind, case.end, "{what}: how the program ended");
            let got = render(&log, &case);
            match &first {
                None => first = Some((what.clone(), got.clone())),
                Some((w0, g0)) => assert_eq!(&got, g0, "{what} disagrees with {w0}"),
            }
            if bless && expected.is_empty() {
                let mut text = String::from("# seq probe order status kind thread value\n");
                for l in &got {
                    text.push_str(l);
                    text.push('\n');
                }
                std::fs::write(&expected_path, text).expect("write .expected");
                return;
            }
            assert_eq!(
                got,
                expected,
                "{what}: records differ from {}",
                expected_path.display()
            );
        }
    }
}

macro_rules! corpus {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                conformance(stringify!($name));
            }
        )*

        /// Every program in the corpus directory has a test above.
        #[test]
        fn every_corpus_program_is_tested() {
            let listed = [$(stringify!($name)),*];
            let mut missing = Vec::new();
            for e in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
                let p = e.expect("entry").path();
                if p.extension().is_some_and(|x| x == "py") {
                    let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                    if !listed.contains(&stem.as_str()) {
                        missing.push(stem);
                    }
                }
            }
            assert!(missing.is_empty(), "corpus programs without a test: {missing:?}");
        }
    };
}

corpus!(
    return_after_assign,
    implicit_return,
    exception_caught,
    exception_propagates,
    generator_yield,
    generator_send,
    async_await,
    loops,
    for_targets,
    one_line,
    recursion,
    closures,
    module_level,
    run_module,
    class_body,
    comprehensions,
    bindings,
    deleted,
    multiline,
    result_main,
    threads,
    sys_exit,
    os_exit,
    keyboard_interrupt,
    throw_into_yield_from,
);
