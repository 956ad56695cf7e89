//! The marshal format on the wire, per interpreter: every supported Python
//! writes, with `marshal.dumps(obj, 4)` (the version the agent pins), bytes
//! that the recorder's decoder reads back to exactly the value written.
//! 3.14 defaults to marshal version 5 and 3.15 to 6; the agent must not
//! depend on those defaults (docs/PYTHON-VERSIONS.md).

mod common;

use std::process::Command;

use common::pythons;
use probe::wire::marshal::{decode, MObj};

/// A chunk shaped as the agent sends it: `(items, completions)`, every
/// value kind it produces, shared objects (back-references) included.
const WRITER: &str = r#"
import marshal, sys
shared = "shared-str"
items = [
    [0, 1234567890123, 5, (5, 7), (1,), (2, 3.5), (2,), (3, "ZeroDivisionError", "division by zero"),
     (4,), (6, "x" * 10), (7, "Color", 3), (8, "Foo", "Foo()", True),
     (9, "float64", (2, 3), bytes(range(48)), False, "ndarray"),
     2**80, -2**80, -2**63, 2**63 - 1, 2**31, -1, "ascii", "é" * 300, "x" * 300, b"y" * 300,
     1.5, -0.0, float("inf"), complex(1.0, -2.0), None, True, False, shared, shared],
    [~3, 99, 140000000000001, [], ()],
]
completions = [(0, 42), (1, (2, "partial"))]
obj = (items, completions)
version = int(sys.argv[1]) if len(sys.argv) > 1 else marshal.version
sys.stdout.write(marshal.dumps(obj, version).hex())
"#;

fn s(x: &str) -> MObj {
    MObj::Str(x.to_string())
}

fn t(v: Vec<MObj>) -> MObj {
    MObj::Tuple(v)
}

fn expected() -> MObj {
    use MObj::*;
    let first = vec![
        Int(0),
        Int(1_234_567_890_123),
        Int(5),
        t(vec![Int(5), Int(7)]),
        t(vec![Int(1)]),
        t(vec![Int(2), Float(3.5)]),
        t(vec![Int(2)]),
        t(vec![Int(3), s("ZeroDivisionError"), s("division by zero")]),
        t(vec![Int(4)]),
        t(vec![Int(6), s("xxxxxxxxxx")]),
        t(vec![Int(7), s("Color"), Int(3)]),
        t(vec![Int(8), s("Foo"), s("Foo()"), Bool(true)]),
        t(vec![
            Int(9),
            s("float64"),
            t(vec![Int(2), Int(3)]),
            Bytes((0u8..48).collect()),
            Bool(false),
            s("ndarray"),
        ]),
        BigInt("1208925819614629174706176".into()),
        BigInt("-1208925819614629174706176".into()),
        Int(i64::MIN),
        Int(i64::MAX),
        Int(1 << 31),
        Int(-1),
        s("ascii"),
        s(&"é".repeat(300)),
        s(&"x".repeat(300)),
        Bytes(vec![b'y'; 300]),
        Float(1.5),
        Float(-0.0),
        Float(f64::INFINITY),
        Complex(1.0, -2.0),
        None,
        Bool(true),
        Bool(false),
        s("shared-str"),
        s("shared-str"),
    ];
    let second = vec![
        Int(-4),
        Int(99),
        Int(140_000_000_000_001),
        List(vec![]),
        t(vec![]),
    ];
    t(vec![
        List(vec![List(first), List(second)]),
        List(vec![
            t(vec![Int(0), Int(42)]),
            t(vec![Int(1), t(vec![Int(2), s("partial")])]),
        ]),
    ])
}

fn written(py: &std::path::Path, version: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new(py);
    cmd.arg("-c").arg(WRITER);
    if let Some(v) = version {
        cmd.arg(v);
    }
    let out = cmd.output().expect("python runs");
    assert!(
        out.status.success(),
        "{}: {}",
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let hex = String::from_utf8(out.stdout).expect("hex");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn version_of(py: &std::path::Path) -> (String, u32) {
    let out = Command::new(py)
        .args([
            "-c",
            "import sys, marshal; print('%d.%d' % sys.version_info[:2], marshal.version)",
        ])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut it = text.split_whitespace();
    (
        it.next().unwrap_or("?").to_string(),
        it.next().and_then(|v| v.parse().ok()).unwrap_or(0),
    )
}

#[test]
fn version_4_written_by_every_python_decodes_exactly() {
    let want = expected();
    for (v, py) in pythons() {
        let (actual, _) = version_of(&py);
        assert_eq!(actual, v, "{} is not Python {v}", py.display());
        let bytes = written(&py, Some("4"));
        let got = decode(&bytes).unwrap_or_else(|e| panic!("Python {v}, marshal 4: {e}"));
        assert_eq!(got, want, "Python {v}, marshal 4");
    }
}

/// The default marshal version of each interpreter is what the docs say
/// (so a new default is noticed), and the agent pins 4 whatever it is.
#[test]
fn default_marshal_versions_are_known_and_the_agent_pins_4() {
    for (v, py) in pythons() {
        let (_, default) = version_of(&py);
        let want = match v {
            "3.11" | "3.12" | "3.13" => 4,
            "3.14" => 5,
            "3.15" => 6,
            other => panic!("no known marshal version for Python {other}"),
        };
        assert_eq!(default, want, "Python {v}: default marshal version");
    }
    // Every marshal stream the agent sends the recorder goes through one
    // call pinned to version 4 (boot.py's own marshal.dumps is the agent's
    // compiled code, read back only by the same interpreter).
    let (_, manager) = probe::capture::AGENT_MODULES
        .iter()
        .find(|(n, _)| *n == "manager")
        .expect("the manager module");
    assert!(
        manager.contains("MARSHAL_VERSION = 4"),
        "manager.py does not pin marshal version 4"
    );
    let mut dumps = 0;
    for (name, src) in probe::capture::AGENT_MODULES {
        for l in src
            .lines()
            .filter(|l| l.contains("marshal.dumps(") && !l.trim_start().starts_with('#'))
        {
            dumps += 1;
            assert!(
                l.trim_end().ends_with(", MARSHAL_VERSION)"),
                "{name}.py's `{}` does not pin the marshal version",
                l.trim()
            );
        }
    }
    assert!(dumps > 0, "the agent writes no marshal data?");
}
