//! One test per case of issue 16 (reader side: items 1, 2, 4, 7, 11, 13)
//! and issue 15 (items 1, 3, 4, 11, 12, 15), each run against the `probe`
//! binary as a user would run it. Each failed before its fix: run them
//! with `PROBE_BIN=<an older probe>` to see it (the report of the change
//! lists which fail there and how).

mod common;
mod hostile;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hostile::*;
use probe::model::{Status, Value};

fn bin() -> PathBuf {
    hostile::probe_bin()
}

fn probe(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("probe runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A command under the fuzzing bar (10 s CPU, 30 s wall, 1 GiB): its outcome.
fn bounded(args: &[&str], work: &Path) -> Outcome {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run(&bin(), Cmd::Verify, &args, work, Bounds::default())
}

fn assert_bar(o: &Outcome, what: &str) {
    assert!(
        o.problem(Bounds::default()).is_none(),
        "{what}: {:?}\n{}",
        o.problem(Bounds::default()),
        o.stderr
    );
    assert!(o.secs < 10.0 || o.cpu < 10.0, "{what}: {:.1} s", o.secs);
}

/// A log of one probe `x` with the given values, and an END marker.
fn log_of(values: &[Value]) -> Vec<u8> {
    let mut b = file_header(0);
    let p = serde_json::json!([{"id":0,"spec":"/src/h.py:3:x@lhs","file":"/src/h.py","line":3,"name":"x","role":"lhs"}]);
    b.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), "h.py"),
        0,
    ));
    let recs: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| rec(i as u64, 1000 + i as u64 * 50, 0, 0, Status::Ok, v.clone()))
        .collect();
    for chunk in recs.chunks(65_536) {
        b.extend(records_frame(chunk, &[]));
    }
    let n = values.len() as u64;
    b.extend(json_frame(3, &end_json(n, &[n], 0, 0, "exit", None, 0), n));
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write log");
    p
}

fn array(dtype: probe::model::Dtype, shape: Vec<u64>, data: &[f64], truncated: bool) -> Value {
    Value::Array(probe::model::ArrayValue {
        type_name: "ndarray".into(),
        dtype,
        shape,
        data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        truncated,
    })
}

// ------------------------------------------------------------ issue 16, item 1

/// A program that assigns `sys.float_info.max` to a probed variable:
/// `replay` and `diff --plot` used to spin forever in the plotting code.
#[test]
fn values_near_f64_max_replay_and_plot_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prog = dir.path().join("big.py");
    std::fs::write(
        &prog,
        "import sys\ndef main():\n    best = 0.0\n    for i in range(5):\n        best = sys.float_info.max if i % 2 else -sys.float_info.max\nmain()\n",
    )
    .expect("program");
    let py = common::find_python("3.12").expect("Python 3.12");
    let log = dir.path().join("big.probe");
    let o = probe(&[
        "record",
        "-q",
        "-o",
        s(&log),
        "-p",
        &format!("{}:5:best", s(&prog)),
        "--",
        s(&py),
        s(&prog),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = bounded(
        &[
            "replay",
            s(&log),
            "--final-only",
            "-o",
            s(&dir.path().join("b.png")),
        ],
        dir.path(),
    );
    assert_bar(&o, "replay of ±f64::MAX");
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let o = bounded(
        &[
            "diff",
            s(&log),
            s(&log),
            "--plot",
            s(&dir.path().join("d.png")),
        ],
        dir.path(),
    );
    assert_bar(&o, "diff --plot of ±f64::MAX");
    assert_eq!(o.code, Some(0), "{}", o.stderr);
}

/// Arrays claiming huge shapes (2·10⁹ cells with a few bytes), an infinite
/// value span, thousands of 8-byte strings: `replay --final-only` and
/// `diff --plot` end in time.
#[test]
fn huge_shapes_infinite_spans_and_many_strings_render_in_time() {
    use probe::model::Dtype;
    let dir = tempfile::tempdir().expect("tempdir");
    let m = f64::MAX;
    let cases: Vec<(&str, Vec<Value>)> = vec![
        (
            "shape",
            vec![array(Dtype::Float64, vec![44_722, 44_722], &[1.0, 2.0], true); 3],
        ),
        (
            "span",
            vec![array(Dtype::Float64, vec![4], &[-m, m, f64::INFINITY, 0.0], false); 3],
        ),
        (
            "complex",
            vec![array(Dtype::Complex128, vec![2], &[-m, m, m, -m], false); 2],
        ),
        (
            "strings",
            (0..20_000)
                .map(|i| Value::Str {
                    text: format!("{i:08}"),
                    truncated: false,
                })
                .collect(),
        ),
        (
            "floats",
            vec![
                Value::Float(-m),
                Value::Float(m),
                Value::Float(f64::NAN),
                Value::Float(5e-324),
            ],
        ),
    ];
    for (name, values) in cases {
        let log = write(dir.path(), &format!("{name}.probe"), &log_of(&values));
        let (png, plot) = (format!("{name}.png"), format!("{name}-d.png"));
        for args in [
            vec!["replay", s(&log), "--final-only", "-o", &png],
            vec!["diff", s(&log), s(&log), "--nan-equal", "--plot", &plot],
        ] {
            let o = bounded(&args, dir.path());
            assert_bar(&o, &format!("{name}: {args:?}"));
            assert_eq!(o.code, Some(0), "{name}: {args:?}: {}", o.stderr);
        }
    }
}

// ------------------------------------------------------------ issue 16, item 2

/// An end marker with a huge probe count and a frame that decompresses to
/// far more than it claims: every command exits 0, 1 or 2 under 1 GiB,
/// never aborts (it used to: "memory allocation of 137438953472 bytes failed").
#[test]
fn huge_counts_and_zstd_bombs_are_errors_not_aborts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // End marker: 2^34 records of probe 0.
    let mut b = file_header(0);
    let p = serde_json::json!([{"id":0,"spec":"/src/h.py:3:x@lhs","file":"/src/h.py","line":3,"name":"x","role":"lhs"}]);
    b.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), "h.py"),
        0,
    ));
    b.extend(records_frame(
        &[rec(0, 0, 0, 0, Status::Ok, Value::Int(1))],
        &[],
    ));
    b.extend(json_frame(
        3,
        &end_json(1, &[1 << 34], 0, 0, "exit", None, 0),
        1,
    ));
    let counts = write(dir.path(), "counts.probe", &b);
    // A frame whose header says 4 KiB and which holds 200 MiB of zeros,
    // and one that says 256 MiB honestly.
    let bomb = zstd_bomb();
    let mut lying =
        b[..b.len() - 48 - end_json(1, &[1 << 34], 0, 0, "exit", None, 0).len()].to_vec();
    lying.extend(frame(&Header::new(2, 1, 4096, 1, 1), &bomb));
    lying.extend(json_frame(3, &end_json(1, &[1], 0, 0, "exit", None, 0), 1));
    let lying = write(dir.path(), "lying.probe", &lying);
    let mut honest = file_header(0);
    honest.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), "h.py"),
        0,
    ));
    honest.extend(frame(&Header::new(2, 1, 200 << 20, 0, 1 << 20), &bomb));
    let honest = write(dir.path(), "honest.probe", &honest);
    for (k, log) in [&counts, &lying, &honest].into_iter().enumerate() {
        let (png, pq) = (format!("r{k}.png"), format!("x{k}.parquet"));
        for args in [
            vec!["verify", s(log)],
            vec!["info", s(log)],
            vec!["replay", s(log), "--final-only", "-o", &png],
            vec!["diff", s(log), s(log), "--allow-incomplete"],
            vec!["export", s(log), "-o", &pq, "--allow-incomplete"],
        ] {
            let o = bounded(&args, dir.path());
            assert_bar(&o, &format!("{args:?}"));
        }
    }
}

// ------------------------------------------------------------ issue 16, item 4

/// `replay -o out.png`, `diff --plot out.png` and a `frames.json` inside a
/// replay directory never write through a symlink: refused without
/// `--force` (the link's target untouched), the link itself replaced with it.
#[test]
fn outputs_never_follow_symlinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1/good.probe");
    let victim = dir.path().join("victim");
    let check = |link: &Path, args: &[&str]| {
        std::fs::write(&victim, b"precious").expect("victim");
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&victim, link).expect("symlink");
        let o = probe(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("already exists") || text(&o).contains("--force"),
            "{args:?}: {}",
            text(&o)
        );
        assert_eq!(
            std::fs::read(&victim).expect("victim"),
            b"precious",
            "{args:?} wrote through the link"
        );
        let mut forced = args.to_vec();
        forced.push("--force");
        let o = probe(&forced);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{forced:?}: {}",
            text(&o)
        );
        assert_eq!(
            std::fs::read(&victim).expect("victim"),
            b"precious",
            "{forced:?} wrote through the link"
        );
        assert!(
            !std::fs::symlink_metadata(link)
                .expect("entry")
                .file_type()
                .is_symlink(),
            "{forced:?}: link kept"
        );
    };
    let png = dir.path().join("out.png");
    check(
        &png,
        &["replay", s(&good), "--final-only", "-o", s(&png), "-q"],
    );
    let plot = dir.path().join("plot.png");
    check(&plot, &["diff", s(&good), s(&good), "--plot", s(&plot)]);
    let out = dir.path().join("x.csv");
    check(&out, &["export", s(&good), "-o", s(&out), "-q"]);
    // A --manifest that is a link.
    let one = dir.path().join("one.png");
    let m = dir.path().join("one.json");
    check(
        &m,
        &["replay", s(&good), "-o", s(&one), "--manifest", s(&m), "-q"],
    );
    // A frames.json planted as a link in a replay directory.
    let rd = dir.path().join("rd");
    std::fs::create_dir(&rd).expect("dir");
    let manifest = rd.join("frames.json");
    check(&manifest, &["replay", s(&good), "-o", s(&rd), "-q"]);
    // A directory that holds only an earlier replay's outputs is refreshed
    // without --force.
    let o = probe(&["replay", s(&good), "-o", s(&rd), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

// ------------------------------------------------------------ issue 16, item 7

/// Forged headers (checksums recomputed) are violations, never OK:
/// non-zero reserved fields and flags, wrong completion counts, seq fields
/// shifted, end-marker totals that do not match.
#[test]
fn verify_never_says_ok_on_forged_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1/good.probe"))
            .expect("good");
    let frames = frames_of(&seed);
    let records: Vec<usize> = frames
        .iter()
        .filter(|f| seed[f.0 + 4] == 2)
        .map(|f| f.0)
        .collect();
    let end = frames.iter().find(|f| seed[f.0 + 4] == 3).expect("END").0;
    type Forge = Box<dyn Fn(&mut Vec<u8>)>;
    let field = |off: usize, at: usize, bytes: Vec<u8>| -> Forge {
        Box::new(move |b: &mut Vec<u8>| {
            b[off + at..off + at + bytes.len()].copy_from_slice(&bytes);
            fix_frame(b, off);
        })
    };
    let cases: Vec<(&str, Forge, &str)> = vec![
        (
            "frame reserved field",
            field(records[1], 40, vec![1, 0, 0, 0]),
            "bad_field",
        ),
        (
            "frame flags",
            field(records[1], 6, vec![0, 0x80]),
            "bad_field",
        ),
        (
            "completion count",
            field(records[2], 32, 7u32.to_le_bytes().to_vec()),
            "undecodable",
        ),
        (
            "seq fields shifted",
            {
                let off = records[3];
                let s0 = u64::from_le_bytes(seed[off + 16..off + 24].try_into().expect("8"));
                let s1 = u64::from_le_bytes(seed[off + 24..off + 32].try_into().expect("8"));
                let mut v = (s0 + 100).to_le_bytes().to_vec();
                v.extend((s1 + 100).to_le_bytes());
                field(off, 16, v)
            },
            "missing_records",
        ),
        (
            "END seq fields",
            field(end, 16, 7u64.to_le_bytes().to_vec()),
            "bad_field",
        ),
        (
            "META codec",
            field(16, 5, vec![1]),
            "bad header field at offset 16",
        ),
        (
            "file header flags",
            Box::new(|b: &mut Vec<u8>| {
                b[10] = 1;
                let crc = crc32c::crc32c(&b[..12]);
                b[12..16].copy_from_slice(&crc.to_le_bytes());
            }),
            "bad_field",
        ),
    ];
    for (what, forge, kind) in cases {
        let mut b = seed.clone();
        forge(&mut b);
        let log = write(dir.path(), "forged.probe", &b);
        let o = probe(&["verify", "--json", s(&log)]);
        assert_ne!(o.status.code(), Some(0), "{what}: verify said OK");
        let out = text(&o);
        assert!(out.contains(kind), "{what}: no {kind} in {out}");
    }
    // End-marker totals that do not match what the frames hold.
    let mut b = seed[..end].to_vec();
    let json = end_json(48, &[16, 16, 17], 1, 1, "exit", None, 0);
    b.extend(json_frame(3, &json, 48));
    let log = write(dir.path(), "totals.probe", &b);
    let o = probe(&["verify", s(&log)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("per-probe counts differ"), "{}", text(&o));
}

// ----------------------------------------------------------- issue 16, item 11

/// An end marker that says captures were lost — the program closed its
/// descriptors (exit kind `lost`), or the writer counted lost records —
/// makes `verify` exit 1 and say so.
#[test]
fn lost_captures_are_a_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1/good.probe"))
            .expect("good");
    let end = frames_of(&seed)
        .iter()
        .find(|f| seed[f.0 + 4] == 3)
        .expect("END")
        .0;
    for (kind, lost, needle) in [
        ("lost", 0u64, "captures it made after seq 47 were lost"),
        ("exit", 1000, "1000 captures after seq 47"),
    ] {
        let mut b = seed[..end].to_vec();
        b.extend(json_frame(
            3,
            &end_json(48, &[16, 16, 16], 1, 1, kind, None, lost),
            48,
        ));
        let log = write(dir.path(), "lost.probe", &b);
        let o = probe(&["verify", s(&log)]);
        assert_eq!(o.status.code(), Some(1), "{kind}: {}", text(&o));
        assert!(
            text(&o).contains("records_lost") && text(&o).contains(needle),
            "{kind}: {}",
            text(&o)
        );
    }
}

/// An end marker whose `lost_values` says captured values were lost (a
/// program killed while sending its last message: the records are in the
/// log, completed `incomplete`) makes `verify` exit 1, say how many and on
/// which probe, and `info` show it — it used to say "OK, all guarantees
/// hold" and `info` nothing.
#[test]
fn lost_values_are_a_violation_verify_and_info_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = file_header(0);
    let p = serde_json::json!([
        {"id":0,"spec":"/src/h.py:3:x@lhs","file":"/src/h.py","line":3,"name":"x","role":"lhs"},
        {"id":1,"spec":"/src/h.py:4:y@lhs","file":"/src/h.py","line":4,"name":"y","role":"lhs"}
    ]);
    b.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), "h.py"),
        0,
    ));
    // x: two values, then a placeholder whose value was cut off (completed
    // `incomplete` in a later frame); y: one value, then one lost directly.
    b.extend(records_frame(
        &[
            rec(0, 1000, 0, 0, Status::Ok, Value::Int(1)),
            rec(1, 1050, 1, 0, Status::Ok, Value::Int(2)),
            rec(2, 1100, 0, 0, Status::Ok, Value::Int(3)),
            rec(3, 1150, 0, 0, Status::Pending, Value::Absent),
        ],
        &[],
    ));
    b.extend(records_frame(
        &[rec(4, 1200, 1, 0, Status::Incomplete, Value::Absent)],
        &[(3, Status::Incomplete, Value::Absent)],
    ));
    let end = serde_json::to_vec(&serde_json::json!({
        "total_records": 5, "per_probe": [3, 2], "placeholders": 1, "completions": 1,
        "exit": {"kind": "signal", "code": 137, "signal": 9}, "duration_ns": 1_000_000,
        "lost_values": 2,
    }))
    .expect("json");
    b.extend(json_frame(3, &end, 5));
    let log = write(dir.path(), "lostv.probe", &b);

    let o = probe(&["verify", s(&log)]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(!t.contains("OK, all guarantees hold"), "{t}");
    assert!(
        t.contains("[values_lost]") && t.contains("2 captured values were lost"),
        "{t}"
    );
    assert!(
        t.contains("h.py:3:x@lhs 1") && t.contains("h.py:4:y@lhs 1"),
        "{t}"
    );
    let j = probe(&["verify", "--json", s(&log)]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).expect("json");
    assert_eq!(v["ok"], false, "{}", text(&j));
    assert_eq!(j.status.code(), Some(1));

    let o = probe(&["info", s(&log)]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("LOST:") && t.contains("2 captured values were lost"),
        "{t}"
    );
    let j = probe(&["info", "--json", s(&log)]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).expect("json");
    assert_eq!(v["run"]["lost_values"], 2, "{}", text(&j));
}

// ----------------------------------------------------------- issue 16, item 13

/// A FIFO given as a log is refused at once (it used to block every
/// command forever); a 16 GiB sparse file verifies in bounded time (it
/// took 82 s); escape sequences stored in a log never reach the terminal.
#[test]
fn odd_files_and_escape_sequences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe.probe");
    let c = std::ffi::CString::new(s(&fifo)).expect("path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for args in [
        vec!["verify", s(&fifo)],
        vec!["info", s(&fifo)],
        vec!["replay", s(&fifo), "--final-only", "-o", "f.png"],
        vec!["diff", s(&fifo), s(&fifo)],
        vec!["export", s(&fifo), "-o", "x.csv"],
    ] {
        let mut o = bounded(&args, dir.path());
        o.cmd = Cmd::Verify;
        assert!(
            o.secs < 5.0 && !o.timed_out,
            "{args:?} took {:.1} s",
            o.secs
        );
        assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
        assert!(
            o.stderr.contains("FIFO") || o.stdout.contains("FIFO"),
            "{args:?}: {}{}",
            o.stdout,
            o.stderr
        );
    }

    let sparse = dir.path().join("sparse.probe");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1/good.probe"),
        &sparse,
    )
    .expect("copy");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&sparse)
        .expect("open");
    f.set_len(16 << 30).expect("16 GiB sparse");
    drop(f);
    let t = std::time::Instant::now();
    let o = probe(&["verify", s(&sparse)]);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "verify of a sparse 16 GiB file took {:?}",
        t.elapsed()
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Escapes in file names, probe names, values, exit details.
    let mut b = file_header(0);
    let p = serde_json::json!([{"id":0,"spec":"x","file":format!("/src/{ESCAPES}.py"),"line":3,"name":format!("x{ESCAPES}"),"role":"lhs"}]);
    b.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), ESCAPES),
        0,
    ));
    let vals = [
        Value::Str {
            text: ESCAPES.into(),
            truncated: false,
        },
        Value::Other {
            type_name: ESCAPES.into(),
            repr: ESCAPES.into(),
            truncated: false,
        },
        Value::Float(1.0),
    ];
    let recs: Vec<_> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| rec(i as u64, i as u64, 0, 0, Status::Ok, v.clone()))
        .collect();
    b.extend(records_frame(&recs, &[]));
    b.extend(json_frame(
        3,
        &end_json(3, &[3], 0, 0, ESCAPES, Some(ESCAPES), 0),
        3,
    ));
    let esc = write(dir.path(), "esc.probe", &b);
    let mut b2 = b.clone();
    b2.truncate(b.len() - 10); // damaged: messages quote it too
    let esc2 = write(dir.path(), "esc2.probe", &b2);
    for args in [
        vec!["info", s(&esc)],
        vec!["verify", s(&esc)],
        vec!["verify", s(&esc2)],
        vec!["diff", s(&esc), s(&esc2), "--allow-incomplete"],
        vec!["diff", s(&esc), s(&esc)],
        vec![
            "replay",
            s(&esc2),
            "--final-only",
            "-o",
            s(&dir.path().join("e.png")),
        ],
        vec![
            "export",
            s(&esc2),
            "-o",
            s(&dir.path().join("e.csv")),
            "--allow-incomplete",
        ],
        vec![
            "export",
            s(&esc),
            "-o",
            s(&dir.path().join("e.csv")),
            "--probe",
            "nosuch",
        ],
    ] {
        let o = probe(&args);
        let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
        assert!(
            !all.contains(&0x1b),
            "{args:?} printed an escape sequence:\n{}",
            text(&o)
        );
        assert!(
            !all.windows(2).any(|w| w == [0xc2, 0x9b]),
            "{args:?} printed a C1 CSI"
        );
        assert!(
            !text(&o).contains('\u{202e}'),
            "{args:?} printed a bidi override"
        );
    }
}

// ------------------------------------------------------------ issue 15

/// Issue 15 item 3: `info` names probes by their short label in its table;
/// the full path stays in `--json`.
#[test]
fn info_uses_short_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = file_header(0);
    let p = serde_json::json!([
        {"id":0,"spec":"/very/long/site-packages/networkx/weighted.py:866:vu_dist@lhs","file":"/very/long/site-packages/networkx/weighted.py","line":866,"name":"vu_dist","role":"lhs"}
    ]);
    b.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), "w.py"),
        0,
    ));
    b.extend(records_frame(
        &[rec(0, 0, 0, 0, Status::Ok, Value::Float(1.5))],
        &[],
    ));
    b.extend(json_frame(3, &end_json(1, &[1], 0, 0, "exit", None, 0), 1));
    let log = write(dir.path(), "w.probe", &b);
    let o = probe(&["info", s(&log)]);
    let out = text(&o);
    assert!(out.contains("weighted.py:866:vu_dist@lhs"), "{out}");
    assert!(!out.contains("/very/long/site-packages"), "{out}");
    let o = probe(&["info", "--json", s(&log)]);
    assert!(text(&o).contains("/very/long/site-packages/networkx/weighted.py:866:vu_dist@lhs"));
}

/// Issue 15 item 4: numbers in `diff` read as a person writes them
/// (`1.149`, `0.9971`), not `1.149e0`, `9.971e-1`.
#[test]
fn diff_numbers_are_short() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write(
        dir.path(),
        "a.probe",
        &log_of(&[Value::Float(1.0), Value::Float(2.0)]),
    );
    let b = write(
        dir.path(),
        "b.probe",
        &log_of(&[Value::Float(2.149), Value::Float(2.9971)]),
    );
    let o = probe(&["diff", s(&a), s(&b)]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("1.149"), "{out}");
    assert!(!out.contains("e0") && !out.contains("e-1"), "{out}");
}

/// Issue 15 item 11: a replay says how many frames it writes, asks before
/// writing more than 500, and renders the final frame into a single image.
#[test]
fn replay_frame_count_is_said_and_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 2,000 captures 10 ms apart: 20 s at 60 fps = 1,200 frames.
    let mut b = file_header(0);
    let p = serde_json::json!([{"id":0,"spec":"/src/h.py:3:x@lhs","file":"/src/h.py","line":3,"name":"x","role":"lhs"}]);
    b.extend(json_frame(
        1,
        &meta_json(p.as_array().expect("probes").clone(), "h.py"),
        0,
    ));
    let recs: Vec<_> = (0..2000u64)
        .map(|i| rec(i, i * 10_000_000, 0, 0, Status::Ok, Value::Int(i as i64)))
        .collect();
    b.extend(records_frame(&recs, &[]));
    b.extend(json_frame(
        3,
        &end_json(2000, &[2000], 0, 0, "exit", None, 0),
        2000,
    ));
    let log = write(dir.path(), "long.probe", &b);
    let frames = dir.path().join("frames");
    let o = probe(&["replay", s(&log), "-o", s(&frames)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--final-only") && text(&o).contains("--all-frames"),
        "{}",
        text(&o)
    );
    assert!(
        !frames.join("frame-000000.png").exists(),
        "frames written before asking"
    );
    let o = probe(&[
        "replay",
        s(&log),
        "-o",
        s(&frames),
        "--all-frames",
        "--size",
        "64x48",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("1,201 frames") || text(&o).contains("frames (png)"),
        "{}",
        text(&o)
    );
    let png = dir.path().join("one.png");
    let o = probe(&["replay", s(&log), "-o", s(&png)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(png.exists());
}

/// Issue 15 items 1 and 12: `diff --plot` draws through the replay
/// renderer — every series pixel inside its panel's plotting area — and
/// draws array probes (A, B and B − A) instead of a blank picture.
#[test]
fn diff_plot_stays_in_its_panels_and_draws_arrays() {
    use probe::model::Dtype;
    use probe::render::diff::{render_rgb, size, DiffRow, SeriesPair};
    use probe::render::plot::Theme;
    let m = f64::MAX;
    let noisy: Vec<f64> = (0..5000)
        .map(|i| ((i * 7919) % 1000) as f64 - 500.0)
        .collect();
    let rows = vec![
        DiffRow::Series(SeriesPair {
            title: "two seeds".into(),
            x_desc: "capture index".into(),
            a: noisy.clone(),
            b: noisy.iter().map(|x| x * 1.01 + 3.0).collect(),
            first: Some(1),
            atol: 0.5,
            rtol: 1e-3,
            step: false,
        }),
        DiffRow::Series(SeriesPair {
            title: "extremes".into(),
            x_desc: "capture index".into(),
            a: vec![-m, m, f64::NAN, f64::INFINITY, 0.0],
            b: vec![m, -m, 1.0, f64::NEG_INFINITY, 5e-324],
            first: Some(0),
            atol: 0.0,
            rtol: 0.0,
            // Steps through extremes, NaN and infinities too.
            step: true,
        }),
        DiffRow::Series(SeriesPair {
            title: "short".into(),
            x_desc: "capture index".into(),
            a: vec![1.0],
            b: vec![],
            first: Some(0),
            atol: 0.0,
            rtol: 0.0,
            step: false,
        }),
    ];
    let t = Theme::LIGHT;
    let dims = size(rows.len());
    let (rgb, layout) = render_rgb("test", &rows, &t, dims).expect("draw");
    assert_eq!(layout.plots.len(), 6);
    let inside =
        |x: i32, y: i32, r: &(i32, i32, i32, i32)| x >= r.0 && x <= r.2 && y >= r.1 && y <= r.3;
    let mut colored = 0;
    for (k, px) in rgb.chunks_exact(3).enumerate() {
        let c = (px[0], px[1], px[2]);
        if c != (t.line.0, t.line.1, t.line.2) && c != (t.line2.0, t.line2.1, t.line2.2) {
            continue;
        }
        colored += 1;
        let (x, y) = ((k as u32 % dims.0) as i32, (k as u32 / dims.0) as i32);
        let ok = layout
            .plots
            .iter()
            .chain(&layout.legends)
            .any(|r| inside(x, y, r));
        if !ok {
            let _ = probe::render::encode::encode_png(&rgb, dims, false)
                .map(|png| std::fs::write("/tmp/diff-plot-fail.png", png));
        }
        assert!(
            ok,
            "series pixel at ({x}, {y}) outside every plotting area {:?}",
            layout
        );
    }
    assert!(colored > 1000, "the series were drawn ({colored} pixels)");
    if let Ok(dir) = std::env::var("PROBE_TEST_KEEP_IMAGES") {
        let png = probe::render::encode::encode_png(&rgb, dims, false).expect("png");
        std::fs::write(Path::new(&dir).join("diff-plot-panels.png"), png).expect("write");
    }

    // Array probes through the CLI: drawn, not a blank picture.
    let dir = tempfile::tempdir().expect("tempdir");
    let wave = |k: f64| {
        (0..256)
            .map(|i| (i as f64 * 0.1 * k).sin())
            .collect::<Vec<f64>>()
    };
    let a = write(
        dir.path(),
        "a.probe",
        &log_of(&[array(Dtype::Float64, vec![256], &wave(1.0), false)]),
    );
    let b = write(
        dir.path(),
        "b.probe",
        &log_of(&[array(Dtype::Float64, vec![256], &wave(1.01), false)]),
    );
    let plot = dir.path().join("arrays.png");
    let o = probe(&["diff", s(&a), s(&b), "--plot", s(&plot)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("1 probe drawn"), "{}", text(&o));
    let svg = dir.path().join("arrays.svg");
    let o = probe(&["diff", s(&a), s(&b), "--plot", s(&svg)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        doc.contains("B − A") && doc.contains("<polyline"),
        "no difference chart drawn"
    );
    // Integer ticks on capture index: no "0.0" / "200.0" labels.
    assert!(
        !doc.contains(">0.0<") && !doc.contains(">200.0<"),
        "fractional index ticks"
    );
}

/// Issue 15 item 1: what differs is shown — the first divergence marked
/// in both charts of a diverging pair, the tolerance band shaded in its
/// B − A chart — and a pair that never diverges gets no mark, no "first
/// divergence" in its legend and sane ticks (not ±1e-100) with a band.
#[test]
fn diff_plot_marks_the_divergence_and_the_band_only_where_they_are() {
    use probe::render::diff::{render_rgb, render_svg, size, DiffRow, SeriesPair};
    use probe::render::plot::Theme;
    let a: Vec<f64> = (0..400).map(|i| (i as f64 * 0.05).sin()).collect();
    let mut b = a.clone();
    for v in &mut b[250..] {
        *v += 0.2;
    }
    let pair = |title: &str, b: Vec<f64>, first: Option<u64>| {
        DiffRow::Series(SeriesPair {
            title: title.into(),
            x_desc: "capture index".into(),
            a: a.clone(),
            b,
            first,
            atol: 0.05,
            rtol: 0.0,
            step: false,
        })
    };
    let t = Theme::LIGHT;
    let rgb_of = |c: plotters::style::RGBColor| (c.0, c.1, c.2);
    let count_in = |rows: &[DiffRow], color, panel: usize| {
        let dims = size(rows.len());
        let (rgb, layout) = render_rgb("test", rows, &t, dims).expect("draw");
        let r = layout.plots[panel];
        rgb.chunks_exact(3)
            .enumerate()
            .filter(|(k, px)| {
                let (x, y) = ((*k as u32 % dims.0) as i32, (*k as u32 / dims.0) as i32);
                (px[0], px[1], px[2]) == color && x > r.0 && x < r.2 && y > r.1 && y < r.3
            })
            .count()
    };
    let diverging = [pair("diverging", b, Some(250))];
    // The mark: a vertical line through each chart (at least its height).
    for panel in [0, 1] {
        let n = count_in(&diverging, rgb_of(t.bad), panel);
        assert!(
            n >= 100,
            "no first-divergence line in chart {panel} ({n} px)"
        );
    }
    let n = count_in(&diverging, rgb_of(t.raised), 1);
    assert!(n >= 200, "no tolerance band in the B − A chart ({n} px)");

    let same = [pair("same", a.clone(), None)];
    assert_eq!(
        count_in(&same, rgb_of(t.bad), 0),
        0,
        "a mark with no divergence"
    );
    assert_eq!(
        count_in(&same, rgb_of(t.bad), 1),
        0,
        "a mark with no divergence"
    );
    assert!(
        count_in(&same, rgb_of(t.raised), 1) >= 200,
        "the band of an identical pair"
    );
    let svg = render_svg("test", &same, &t, size(1)).expect("svg");
    assert!(
        !svg.contains("first divergence"),
        "legend names a mark not drawn"
    );
    assert!(
        !svg.contains("e-100") && !svg.contains("e-30"),
        "degenerate ticks"
    );
    // The band's edges are ticks: ±0.05 show on the B − A axis.
    let labels: Vec<&str> = svg
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .map(str::trim)
        .collect();
    assert!(
        labels.contains(&"0.05") && labels.contains(&"-0.05"),
        "band range not on the axis: {labels:?}"
    );
}

/// Issue 15 item 15: a waveform tick at zero reads `0`, not `-1.11e-16`
/// (a sine of amplitude 0.3 over 16 samples gave one).
#[test]
fn a_zero_tick_reads_zero() {
    use probe::model::Dtype;
    let dir = tempfile::tempdir().expect("tempdir");
    let xs: Vec<f64> = (0..16)
        .map(|i| (i as f64 * std::f64::consts::TAU / 16.0).sin() * 0.3)
        .collect();
    let log = write(
        dir.path(),
        "w.probe",
        &log_of(&[array(Dtype::Float64, vec![16], &xs, false)]),
    );
    let svg = dir.path().join("w.svg");
    let o = probe(&["replay", s(&log), "--final-only", "-o", s(&svg)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc = std::fs::read_to_string(&svg).expect("svg");
    for residue in ["e-15", "e-16", "e-17"] {
        assert!(!doc.contains(residue), "a residue tick label ({residue})");
    }
}

/// Issue 16: an allocation failure is exit 2 with a message, never an
/// abort (exit 134) — here under address-space limits small enough that
/// some allocation of the reader commands fails.
#[test]
fn a_refused_allocation_is_exit_2_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<Value> = (0..20_000).map(|i| Value::Float(i as f64 * 0.5)).collect();
    let log = write(dir.path(), "m.probe", &log_of(&values));
    let mut aborted = Vec::new();
    let mut refused = 0;
    for mb in [24u64, 48, 80, 120, 200] {
        for (k, args) in [
            vec!["export", s(&log), "-o", "o.parquet", "--force"],
            vec!["replay", s(&log), "--final-only", "-o", "r.png", "--force"],
            vec!["info", s(&log)],
            vec!["verify", s(&log)],
        ]
        .into_iter()
        .enumerate()
        {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let work = dir.path().join(format!("w{mb}-{k}"));
            std::fs::create_dir_all(&work).unwrap();
            let bounds = Bounds {
                memory: mb << 20,
                ..Bounds::default()
            };
            let o = run(&bin(), Cmd::Verify, &args, &work, bounds);
            if o.signal.is_some() || !matches!(o.code, Some(0..=2)) {
                aborted.push(format!(
                    "{args:?} under {mb} MiB: {:?} {:?}\n{}",
                    o.code, o.signal, o.stderr
                ));
            }
            if o.code == Some(2) && o.stderr.contains("out of memory") {
                refused += 1;
            }
            // Out of memory mid-write leaves no hidden temporary output.
            let left = partial_files(&work);
            assert!(left.is_empty(), "{args:?} under {mb} MiB left {left:?}");
        }
    }
    assert!(aborted.is_empty(), "{}", aborted.join("\n"));
    // The limits are small enough that the handler was needed at least once.
    assert!(refused > 0, "no run hit the address-space limit");
}

/// Hidden temporary outputs (`.NAME.XXXX.partial`) left in `dir`.
fn partial_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

/// An `export` (or `replay`) interrupted by SIGINT or SIGTERM while it
/// writes removes its temporary output and ends by that signal (the shell
/// sees 130/143); it used to leave a hidden `.NAME.XXXX.partial` file, up
/// to gigabytes, in the target directory.
#[test]
fn an_interrupted_export_leaves_no_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<Value> = (0..3_000_000u64)
        .map(|i| Value::Float((i as f64).sqrt()))
        .collect();
    let log = write(dir.path(), "big.probe", &log_of(&values));
    for (sig, format) in [(libc::SIGINT, "jsonl"), (libc::SIGTERM, "csv")] {
        let out = dir.path().join(format!("out-{sig}"));
        std::fs::create_dir_all(&out).unwrap();
        let mut child = Command::new(bin())
            .args(["export", s(&log), "--format", format, "-o"])
            .arg(out.join("records.txt"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("probe runs");
        // Wait until it has started writing.
        let start = std::time::Instant::now();
        while partial_files(&out).is_empty() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the export ended before it could be interrupted: make the log larger"
            );
            assert!(start.elapsed() < Duration::from_secs(30), "never wrote");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: plain FFI call on our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.signal(),
            Some(sig),
            "{:?} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(partial_files(&out).is_empty(), "{:?}", partial_files(&out));
        assert!(!out.join("records.txt").exists());
    }
}

/// Issue 15 audit: a long probe label once put `diff --plot`'s legend
/// ("— A — B | first divergence") over the row's title ("(300 vs 300
/// values)"). The legend moves to a line of its own when both do not fit,
/// and a title wider than the picture is cut with an ellipsis: the two
/// text boxes never intersect, and every title stays inside the picture.
#[test]
fn diff_plot_legend_never_overlaps_the_title() {
    use probe::render::diff::{render_rgb, size, DiffRow, SeriesPair, WIDTH};
    use probe::render::plot::Theme;
    let a: Vec<f64> = (0..300).map(|i| (i as f64 * 0.1).sin()).collect();
    let b: Vec<f64> = a.iter().map(|x| x + 0.7).collect();
    let label = "a_rather_long_module_name_for_signal_processing.py:5:self.accumulated_error_estimate_in_volts@lhs";
    let titles = [
        "x.py:3:x@lhs — first divergence at #0 (300 vs 300 values)".to_string(),
        format!("{label} — first divergence at #0 (300 vs 300 values)"),
        format!("{label} — first divergence at #0 (300 vs 300 values) — imaginary part"),
        format!(
            "{} — first divergence at #0 (300 vs 300 values)",
            label.repeat(4)
        ),
    ];
    let rows: Vec<DiffRow> = titles
        .iter()
        .map(|t| {
            DiffRow::Series(SeriesPair {
                title: t.clone(),
                x_desc: "capture index".into(),
                a: a.clone(),
                b: b.clone(),
                first: Some(0),
                atol: 0.5,
                rtol: 0.0,
                step: false,
            })
        })
        .collect();
    let (_, layout) = render_rgb("test", &rows, &Theme::LIGHT, size(rows.len())).expect("draw");
    assert_eq!(layout.titles.len(), rows.len(), "{layout:?}");
    assert_eq!(layout.legends.len(), rows.len(), "{layout:?}");
    let meet = |p: &(i32, i32, i32, i32), q: &(i32, i32, i32, i32)| {
        p.0 < q.2 && q.0 < p.2 && p.1 < q.3 && q.1 < p.3
    };
    for (k, (t, l)) in layout.titles.iter().zip(&layout.legends).enumerate() {
        assert!(!meet(t, l), "row {k}: title {t:?} and legend {l:?} overlap");
        assert!(
            t.2 <= WIDTH as i32,
            "row {k}: title {t:?} leaves the picture"
        );
        assert!(t.2 - t.0 > 200, "row {k}: title cut to nothing: {t:?}");
        for p in &layout.plots {
            assert!(!meet(t, p) && !meet(l, p), "row {k}: text over a chart");
        }
    }
    // A title that leaves room keeps the legend on its line; the longer
    // ones put it on the next.
    for k in [0, 1] {
        assert!(layout.legends[k].1 <= layout.titles[k].3, "{layout:?}");
    }
    for k in [2, 3] {
        assert!(layout.legends[k].1 >= layout.titles[k].3, "{layout:?}");
    }
}

/// Issue 15 audit: `diff --plot` on complex arrays drew only their real
/// parts, so arrays that differ only in their imaginary parts showed A and
/// B identical and B − A flat. Complex arrays get a real and an imaginary
/// row, as complex scalars do, and the imaginary row's B − A is not flat.
#[test]
fn diff_plot_of_complex_arrays_shows_the_imaginary_part() {
    use probe::model::Dtype;
    let dir = tempfile::tempdir().expect("tempdir");
    let iq = |k: f64| -> Vec<f64> {
        (0..64)
            .flat_map(|i| [(i as f64 * 0.2).cos(), (i as f64 * 0.2 * k).sin()])
            .collect()
    };
    let a = write(
        dir.path(),
        "a.probe",
        &log_of(&[array(Dtype::Complex128, vec![64], &iq(1.0), false)]),
    );
    let b = write(
        dir.path(),
        "b.probe",
        &log_of(&[array(Dtype::Complex128, vec![64], &iq(1.3), false)]),
    );
    let svg = dir.path().join("iq.svg");
    let o = probe(&["diff", s(&a), s(&b), "--plot", s(&svg)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        doc.contains("arrays of value #0 — real part")
            && doc.contains("arrays of value #0 — imaginary part"),
        "complex arrays get a real and an imaginary row"
    );
    // The B − A series are the long polylines in the foreground colour
    // (64 points each; axes and ticks have two): one per row, in order.
    let fg = probe::render::plot::Theme::LIGHT.fg;
    let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", fg.0, fg.1, fg.2);
    let spreads: Vec<f64> = doc
        .split("<polyline")
        .skip(1)
        .filter(|e| e.contains(&stroke))
        .filter_map(|e| {
            let pts = e.split("points=\"").nth(1)?.split('"').next()?;
            let ys: Vec<f64> = pts
                .split_whitespace()
                .filter_map(|p| p.split(',').nth(1)?.parse().ok())
                .collect();
            (ys.len() >= 32).then(|| {
                ys.iter().copied().fold(f64::MIN, f64::max)
                    - ys.iter().copied().fold(f64::MAX, f64::min)
            })
        })
        .collect();
    assert_eq!(spreads.len(), 2, "one B − A series per row: {spreads:?}");
    assert!(spreads[0] < 1.0, "the real parts are equal: {spreads:?}");
    assert!(
        spreads[1] > 20.0,
        "the imaginary B − A is flat: {spreads:?}"
    );
}
