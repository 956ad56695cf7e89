//! The agent's own unit tests, run with every supported interpreter:
//! `tests/python/test_plan.py` (the capture plan: unit ownership, triggers,
//! completion pruning, the bytecode reader against `dis`),
//! `tests/python/test_values.py` (bounded value snapshots) and
//! `tests/python/test_symbols.py` (the symbol tables the resolver reads,
//! against the stdlib `symtable`).

mod common;

use std::process::Command;

fn unit_tests(file: &str) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    for (version, python) in common::pythons() {
        let out = Command::new(&python)
            .arg(&script)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "{file} failed on Python {version}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("\nOK"),
            "Python {version}: no unittest summary:\n{err}"
        );
    }
}

#[test]
fn capture_plan_unit_tests_pass_on_every_python() {
    unit_tests("tests/python/test_plan.py");
}

#[test]
fn value_snapshot_unit_tests_pass_on_every_python() {
    unit_tests("tests/python/test_values.py");
}

#[test]
fn symbol_tables_answer_as_the_stdlib_symtable_on_every_python() {
    unit_tests("tests/python/test_symbols.py");
}
