//! `probe diff --junit` and `--summary-md`: what a CI system parses.
//! The JUnit XML is read back with Python's `xml.etree` (as CI report
//! parsers read it) and its counts and failure message checked.

mod common;
#[path = "replay_common/mod.rs"]
mod replay_common;

use std::path::Path;
use std::process::Command;

use probe::model::{Role, Status, Value};
use replay_common::{meta_named, Seq};

/// Three probes; in B `y` differs from value #7 on, `z` has one value more.
fn write(path: &Path, b: bool) {
    let mut s = Seq::create(
        path,
        &meta_named(&[
            ("x", 4, Role::Lhs),
            ("y", 5, Role::Lhs),
            ("z", 6, Role::Lhs),
        ]),
    );
    for i in 0..20u64 {
        s.put(i * 10, 0, Status::Ok, Value::Int(i as i64));
        let y = if b && i >= 7 {
            i as f64 * 0.5 + 1e-3
        } else {
            i as f64 * 0.5
        };
        s.put(i * 10 + 1, 1, Status::Ok, Value::Float(y));
        s.put(
            i * 10 + 2,
            2,
            Status::Ok,
            Value::Str {
                text: format!("<&\"{i}\">"),
                truncated: false,
            },
        );
    }
    if b {
        s.put(
            500,
            2,
            Status::Ok,
            Value::Str {
                text: "extra".into(),
                truncated: false,
            },
        );
    }
    s.finish(1000);
}

#[test]
fn junit_and_markdown_show_the_failing_probes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.probe"), dir.path().join("b.probe"));
    write(&a, false);
    write(&b, true);
    let (junit, md) = (dir.path().join("diff.xml"), dir.path().join("summary.md"));
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("diff")
        .args([&a, &b])
        .arg("--junit")
        .arg(&junit)
        .arg("--summary-md")
        .arg(&md)
        .output()
        .expect("probe diff");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, py) = common::pythons().pop().expect("a python");
    let check = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1
s = suites[0]
cases = s.findall("testcase")
assert int(s.get("tests")) == len(cases) == 3, (s.get("tests"), len(cases))
failed = [c for c in cases if c.find("failure") is not None]
assert int(s.get("failures")) == int(root.get("failures")) == len(failed) == 2, s.attrib
names = sorted(c.get("name") for c in failed)
assert names == ["demo.py:5:y@lhs", "demo.py:6:z@lhs"], names
y = [c for c in failed if c.get("name") == "demo.py:5:y@lhs"][0].find("failure")
msg = y.get("message")
assert "first divergence at value #7" in msg and "3.501" in msg and "3.5 " in msg, msg
assert "20 records" in y.text, y.text
ok = [c for c in cases if c.find("failure") is None]
assert [c.get("name") for c in ok] == ["demo.py:4:x@lhs"]
print("junit ok")
"#;
    let r = Command::new(&py)
        .arg("-c")
        .arg(check)
        .arg(&junit)
        .output()
        .expect("python");
    assert!(
        r.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&r.stderr),
        std::fs::read_to_string(&junit).unwrap_or_default()
    );
    let m = std::fs::read_to_string(&md).expect("summary");
    assert!(m.contains("❌ 2 probe(s) differ"), "{m}");
    assert!(m.contains("| ✅ | `demo.py:4:x@lhs` | 20 | 20 |"), "{m}");
    assert!(m.contains("| ❌ | `demo.py:6:z@lhs` | 20 | 21 |"), "{m}");
    // Numbers as a person reads them (shortest round trip), as in the
    // terminal report: the largest difference of y is 0.001, not 1.0000e-3.
    assert!(m.contains("0.001") && !m.contains("e-3"), "{m}");
    // Same traces: every case passes.
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("diff")
        .args([&a, &a])
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("probe diff");
    assert_eq!(out.status.code(), Some(0));
    let x = std::fs::read_to_string(&junit).expect("junit");
    assert!(x.contains("tests=\"3\" failures=\"0\""), "{x}");
}

/// `--summary-md` appends to a regular file (created when missing) and
/// refuses a symlink there — the file it points to is untouched — and a
/// FIFO (no hang waiting for a reader), exit 2; `--junit` replaces a
/// symlink rather than writing through it.
#[test]
fn the_summary_is_appended_to_a_regular_file_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.probe");
    write(&a, false);
    let diff = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_probe"))
            .arg("diff")
            .args([&a, &a])
            .args(args)
            .output()
            .expect("probe diff")
    };
    let md = dir.path().join("summary.md");
    for _ in 0..2 {
        let o = diff(&["--summary-md".as_ref(), md.as_os_str()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let text = std::fs::read_to_string(&md).expect("summary");
    assert_eq!(
        text.matches("| ✅ | `demo.py:4:x@lhs`").count(),
        2,
        "{text}"
    );
    let victim = dir.path().join("precious.txt");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.path().join("link.md");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = diff(&["--summary-md".as_ref(), link.as_os_str()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let fifo = dir.path().join("fifo.md");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let o = diff(&["--summary-md".as_ref(), fifo.as_os_str()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let junit_link = dir.path().join("j.xml");
    std::os::unix::fs::symlink(&victim, &junit_link).unwrap();
    let o = diff(&["--junit".as_ref(), junit_link.as_os_str()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!std::fs::symlink_metadata(&junit_link)
        .unwrap()
        .file_type()
        .is_symlink());
}
