//! `export --wide` read back by pandas, and the DuckDB recipe of
//! docs/EXPORT.md run, as written there, over a directory of exported
//! traces (the consumer venv `.ci/venv` has DuckDB).

#[path = "replay_common/mod.rs"]
mod replay_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use probe::model::Value;
use replay_common::{write_gallery, write_series};

fn consumer_python() -> PathBuf {
    let venv = std::env::var_os("PROBE_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/venv"));
    let py = venv.join("bin/python");
    assert!(py.exists(), "{} missing: .ci/run creates it", py.display());
    py
}

fn export(log: &Path, out: &Path, extra: &[&str]) {
    let r = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("export")
        .arg(log)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .expect("probe export");
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

fn python(code: &str, args: &[&Path]) -> String {
    let r = Command::new(consumer_python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python");
    assert!(
        r.status.success(),
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    String::from_utf8_lossy(&r.stdout).into_owned()
}

#[test]
fn wide_table_has_one_row_per_batch_and_a_column_per_scalar_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("g.probe");
    write_gallery(&log);
    let pq = dir.path().join("g.parquet");
    export(&log, &pq, &["--wide"]);
    let csv = dir.path().join("g.csv");
    export(&log, &csv, &["--wide"]);
    let out = python(
        r#"
import sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
cols = list(df.columns)
assert cols == ["batch", "ts_ns", "demo.py:12:level@lhs", "demo.py:14:ready@rhs",
                "demo.py:15:z@lhs.re", "demo.py:15:z@lhs.im"], cols
assert df["batch"].is_monotonic_increasing and df["batch"].is_unique
assert df["demo.py:12:level@lhs"].notna().sum() == 189, df["demo.py:12:level@lhs"].notna().sum()
c = pd.read_csv(sys.argv[2])
assert list(c.columns) == cols and len(c) == len(df)
assert (c["demo.py:15:z@lhs.im"].fillna(0) == df["demo.py:15:z@lhs.im"].fillna(0)).all()
print(len(df))
"#,
        &[&pq, &csv],
    );
    assert!(out.trim().parse::<u64>().unwrap_or(0) > 0, "{out}");
}

#[test]
fn the_duckdb_recipe_queries_a_directory_of_traces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traces = dir.path().join("traces");
    std::fs::create_dir(&traces).expect("mkdir");
    for k in 0..3u64 {
        let log = dir.path().join(format!("run-{k}.probe"));
        write_series(&log, 100 + k, 1000, move |i| Value::Float((i + k) as f64));
        export(&log, &traces.join(format!("run-{k}.parquet")), &[]);
    }
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/EXPORT.md"))
        .expect("doc");
    let after = doc
        .split("<!-- duckdb-recipe -->")
        .nth(1)
        .expect("recipe marker");
    let sql = after
        .split("```sql")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("sql block");
    let out = python(
        r#"
import os, sys, duckdb
os.chdir(sys.argv[1])
rows = duckdb.sql(open(sys.argv[2]).read()).fetchall()
assert len(rows) == 1, rows
python, probe, records, lo, hi, seconds = rows[0]
assert python == "3.12.1" and probe == "demo.py:4:x@lhs", rows
assert records == 100 + 101 + 102 and lo == 0.0 and hi == 101.0 + 2, rows
print(rows)
"#,
        &[dir.path(), &{
            let p = dir.path().join("recipe.sql");
            std::fs::write(&p, sql).expect("write sql");
            p
        }],
    );
    assert!(out.contains("demo.py:4:x@lhs"), "{out}");
}

/// `-o -` writes the export to standard output (every format, long and
/// wide, byte for byte what a file gets), never a file named `-`; without
/// --format it says to name one; a reader that stops early is not an error.
#[test]
fn dash_output_is_standard_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("g.probe");
    write_gallery(&log);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_probe"))
            .arg("export")
            .arg(&log)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("probe export")
    };
    for (format, wide) in [
        ("csv", false),
        ("jsonl", false),
        ("csv", true),
        ("parquet", false),
    ] {
        let file = dir.path().join(format!("g.{format}"));
        let mut extra = vec!["--force"];
        if wide {
            extra.push("--wide");
        }
        export(&log, &file, &extra);
        let mut args = vec!["-o", "-", "--format", format];
        if wide {
            args.push("--wide");
        }
        let r = run(&args);
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        let want = std::fs::read(&file).expect("read export");
        if format == "parquet" {
            // Same rows; the footer's creation metadata may differ.
            assert!(
                r.stdout.starts_with(b"PAR1") && r.stdout.ends_with(b"PAR1"),
                "{format}"
            );
        } else {
            assert_eq!(
                r.stdout, want,
                "{format} wide={wide}: stdout differs from the file"
            );
        }
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("to standard output"),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(
            !dir.path().join("-").exists(),
            "a file named '-' was written"
        );
    }
    let r = run(&["-o", "-"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("--format"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // A reader that closes the pipe after one line, long before the
    // 200,000 rows (megabytes: more than a pipe holds) are written.
    let big = dir.path().join("big.probe");
    write_series(&big, 200_000, 1_000, |i| Value::Int(i as i64));
    let sh = format!(
        "{} export {} -o - --format csv | head -n 1; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_probe"),
        big.display()
    );
    let r = Command::new("bash")
        .arg("-c")
        .arg(&sh)
        .output()
        .expect("bash");
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("seq,"));
    assert!(
        r.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}
