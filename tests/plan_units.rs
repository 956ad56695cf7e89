//! The capture plan's own unit tests (`tests/python/test_plan.py`: unit
//! ownership, triggers, completion pruning, the bytecode reader against
//! `dis`), run with every supported interpreter.

mod common;

use std::process::Command;

#[test]
fn capture_plan_unit_tests_pass_on_every_python() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_plan.py");
    for (version, python) in common::pythons() {
        let out = Command::new(&python)
            .arg(&script)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "plan unit tests failed on Python {version}:\n{}\n{}",
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
