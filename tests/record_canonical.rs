//! SPEC §2's canonical table, recorded from real Python on every supported
//! version and every core: exact value sequences, seq numbers, batch orders
//! and statuses, read back from the log.

mod common;

use common::*;
use probe::model::{CaptureRecord, Status};

/// One case of fixtures/programs/canonical.py, its probes (`name[@role]`)
/// all on the case's marked line.
fn case(tag: &str, probes: &[&str], check: impl Fn(&str, &[CaptureRecord])) {
    let file = fixture("canonical.py");
    let specs: Vec<String> = probes.iter().map(|p| spec(&file, tag, p)).collect();
    across_runs("canonical.py", &specs, &[tag], |what, _, recs| {
        check(what, recs)
    });
}

#[test]
fn loop_lhs_records_value_after_each_assignment() {
    case("loop_lhs", &["x"], |what, recs| {
        assert_eq!(values(recs), ["9", "8", "7"], "{what}");
        assert!(recs.iter().all(|r| r.order == 0 && r.status == Status::Ok));
    });
}

#[test]
fn loop_rhs_records_value_before_the_line() {
    case("loop_rhs", &["x"], |what, recs| {
        assert_eq!(values(recs), ["10", "9", "8"], "{what}");
    });
}

#[test]
fn batch_orders_rhs_then_lhs_with_one_timestamp() {
    case("batch", &["a", "b", "x"], |what, recs| {
        assert_eq!(values(recs), ["1", "2", "3"], "{what}");
        assert_eq!(
            recs.iter().map(|r| r.order).collect::<Vec<_>>(),
            [0, 1, 2],
            "{what}"
        );
        assert_eq!(
            recs.iter().map(|r| r.probe).collect::<Vec<_>>(),
            [0, 1, 2],
            "{what}"
        );
        assert!(
            recs.iter().all(|r| r.ts_ns == recs[0].ts_ns),
            "{what}: one timestamp per batch"
        );
        assert!(
            recs.iter().all(|r| r.thread == recs[0].thread),
            "{what}: one thread per batch"
        );
    });
}

#[test]
fn nested_loops() {
    case("nested", &["x"], |what, recs| {
        assert_eq!(values(recs), ["0", "1", "2", "10", "11", "12"], "{what}");
    });
}

#[test]
fn lhs_before_return_is_completed() {
    case("ret", &["x"], |what, recs| {
        assert_eq!(values(recs), ["42"], "{what}")
    });
}

#[test]
fn one_line_function_without_return() {
    case("oneline", &["x"], |what, recs| {
        assert_eq!(values(recs), ["42"], "{what}")
    });
}

#[test]
fn assignment_from_a_raising_call_is_raised() {
    case("raises", &["x"], |what, recs| {
        assert_eq!(recs.len(), 1, "{what}");
        assert_eq!(recs[0].status, Status::Raised, "{what}");
    });
}

#[test]
fn for_target_records_n_values_not_n_plus_one() {
    case("for_target", &["i"], |what, recs| {
        assert_eq!(values(recs), ["0", "1", "2"], "{what}");
    });
}

#[test]
fn yield_receives_sent_values_and_close_is_raised() {
    case("gen_send", &["x"], |what, recs| {
        assert_eq!(values(recs), ["5", "6", "raised:6"], "{what}");
    });
}

#[test]
fn comprehension_same_records_on_every_version() {
    case("comprehension", &["y", "v@rhs"], |what, recs| {
        let y: Vec<_> = recs.iter().filter(|r| r.probe == 0).cloned().collect();
        let v: Vec<_> = recs.iter().filter(|r| r.probe == 1).cloned().collect();
        assert_eq!(values(&y), ["list<int64>[3][2, 4, 6]"], "{what}");
        assert_eq!(values(&v), ["1", "2", "3"], "{what}");
        // v's captures happen while y's is pending: y's seq comes first.
        assert!(
            y[0].seq < v[0].seq,
            "{what}: LHS y reserves its seq at the trigger"
        );
    });
}

#[test]
fn snapshots_not_aliases() {
    case("snapshots", &["buf"], |what, recs| {
        assert_eq!(
            values(recs),
            [
                "list<float64>[0][]",
                "list<int64>[1][0]",
                "list<int64>[2][0, 1]"
            ],
            "{what}"
        );
    });
}

#[test]
fn a_million_iterations_give_a_million_records_in_order() {
    let file = fixture("canonical.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let specs = vec![spec(&file, "million", "x")];
    for (version, py) in pythons() {
        let core = cores(version)[0];
        let (out, log) = record(
            dir.path(),
            &py,
            core,
            &specs,
            &[file.to_str().unwrap(), "million"],
        );
        assert_ok(&out, version);
        let r = probe::log::LogReader::open(&log).expect("log opens");
        let mut n: u64 = 0;
        for rec in r.records() {
            let rec = rec.expect("record decodes");
            assert_eq!(rec.seq, n);
            assert_eq!(
                rec.value,
                probe::model::Value::Int(n as i64),
                "Python {version}"
            );
            n += 1;
        }
        assert_eq!(n, 1_000_000, "Python {version}");
        let report = probe::log::verify::verify(&r);
        assert_eq!(report.exit_code(), 0, "Python {version}: {report}");
    }
}

#[test]
fn fast_path_hands_over_to_the_general_path() {
    let file = fixture("slots.py");
    let specs: Vec<String> = ["a", "b", "r", "g"]
        .iter()
        .map(|n| spec(&file, n, n))
        .collect();
    across_runs("slots.py", &specs, &[], |what, _, recs| {
        let got: Vec<String> = recs
            .iter()
            .map(|r| format!("{}={}", r.probe, show(&r.value)))
            .collect();
        assert_eq!(
            got,
            [
                "0=0", "1=0", "0=1", "1=10", "0=2", "1=20", "2=2", "2=1", "2=0", "3=0", "3=1",
                "3=2"
            ],
            "{what}"
        );
    });
}

#[test]
fn values_are_stored_exactly() {
    use probe::model::Value;
    let file = fixture("values.py");
    let specs = vec![spec(&file, "v", "v"), spec(&file, "w", "w")];
    across_runs("values.py", &specs, &[], |what, out, recs| {
        assert_eq!(recs.len(), 23, "{what}");
        let v: Vec<&Value> = recs.iter().map(|r| &r.value).collect();
        assert_eq!(v[0], &Value::Bool(true), "{what}");
        assert_eq!(v[1], &Value::Bool(false));
        assert_eq!(v[2], &Value::Int(0));
        assert_eq!(v[3], &Value::Int(-1));
        assert_eq!(v[4], &Value::Int(i64::MAX));
        assert_eq!(v[5], &Value::Int(i64::MIN));
        assert_eq!(v[6], &Value::BigInt("18446744073709551616".into()));
        assert_eq!(v[7], &Value::BigInt("-1208925819614629174706176".into()));
        assert_eq!(v[8], &Value::Float(1.5));
        match v[9] {
            Value::Float(f) => assert_eq!(
                f.to_bits(),
                0x7FF8_0000_DEAD_BEEF,
                "{what}: NaN payload kept"
            ),
            other => panic!("{what}: NaN came back as {other:?}"),
        }
        assert_eq!(v[10], &Value::Float(f64::INFINITY));
        assert_eq!(v[11], &Value::Float(f64::NEG_INFINITY));
        match v[12] {
            Value::Float(f) => {
                assert_eq!(f.to_bits(), (-0.0f64).to_bits(), "{what}: -0.0 kept")
            }
            other => panic!("{what}: -0.0 came back as {other:?}"),
        }
        assert_eq!(v[13], &Value::Complex(1.0, 2.0));
        assert_eq!(v[14], &Value::None);
        assert_eq!(
            v[15],
            &Value::Str {
                text: "héllo".into(),
                truncated: false
            }
        );
        match v[16] {
            Value::Str { text, truncated } => {
                assert!(*truncated, "{what}: long str flagged");
                assert_eq!(text.len(), 4096, "{what}: cut at --max-value-bytes");
            }
            other => panic!("{what}: long str came back as {other:?}"),
        }
        assert_eq!(
            v[17],
            &Value::Bytes {
                data: vec![0, 255],
                truncated: false
            }
        );
        assert_eq!(
            v[18],
            &Value::Sub {
                type_name: "Color".into(),
                base: Box::new(Value::Int(1))
            },
            "{what}: IntEnum kept as int with its type name"
        );
        assert_eq!(recs[19].status, Status::Error, "{what}: repr raised");
        assert!(
            matches!(v[19], Value::Error { exc_type, .. } if exc_type == "ValueError"),
            "{what}: {:?}",
            v[19]
        );
        assert_eq!(
            show(v[20]),
            "list<int64>[2][1, 2]",
            "{what}: a list of ints is an int64 array"
        );
        assert!(
            matches!(v[21], Value::Other { type_name, repr, .. } if type_name == "tuple" && repr == "(1, 'a')")
        );
        assert_eq!(
            recs[22].status,
            Status::Unbound,
            "{what}: a deleted local is unbound"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "ok",
            "{what}: the program is unaffected"
        );
    });
}

#[test]
fn ints_at_digit_and_64_bit_edges_are_exact() {
    use probe::model::Value;
    let file = fixture("ints.py");
    across_runs(
        "ints.py",
        &[spec(&file, "v", "v")],
        &[],
        |what, out, recs| {
            let small: [i64; 18] = [
                0,
                1,
                -1,
                5,
                -5,
                255,
                256,
                -256,
                -257,
                (1 << 30) - 1,
                1 << 30,
                -((1 << 30) - 1),
                -(1 << 30),
                1 << 31,
                (1 << 60) + 7,
                -(1 << 62),
                i64::MAX,
                i64::MIN,
            ];
            let mut want: Vec<Value> = small.iter().map(|&i| Value::Int(i)).collect();
            want.push(Value::BigInt("18446744073709551615".into()));
            want.push(Value::BigInt("-100000000000000000000".into()));
            want.push(Value::Bool(true));
            let got: Vec<Value> = recs.iter().map(|r| r.value.clone()).collect();
            assert_eq!(got, want, "{what}");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{what}");
        },
    );
}

#[test]
fn attribute_chains_class_bodies_globals_closures_builtins() {
    let file = fixture("scopes.py");
    let specs = vec![
        spec(&file, "gain", "self.gain"),
        spec(&file, "taps", "self.state.taps@rhs"),
        spec(&file, "broken", "self.broken@rhs"),
        spec(&file, "size", "size"),
        spec(&file, "counter", "counter"),
        spec(&file, "k", "k"),
        spec(&file, "len", "len"),
    ];
    across_runs("scopes.py", &specs, &[], |what, _, recs| {
        let by = |p: u32| values(&of_probe(recs, p));
        assert_eq!(
            by(0),
            ["2.0", "4.0"],
            "{what}: self.gain after each doubling"
        );
        assert_eq!(by(1), ["3", "3"], "{what}: self.state.taps");
        assert_eq!(
            by(2),
            ["error:<error RuntimeError>", "error:<error RuntimeError>"],
            "{what}: a raising property"
        );
        assert_eq!(by(3), ["4"], "{what}: class body");
        assert_eq!(by(4), ["1", "2"], "{what}: global");
        assert_eq!(by(5), ["11", "12"], "{what}: nonlocal");
        assert_eq!(by(6), ["<built-in function len>"], "{what}: builtin");
    });
}

#[test]
fn one_line_loops_trigger_per_evaluation_and_per_iteration() {
    let file = fixture("oneline_while.py");
    let specs = vec![spec(&file, "w", "i@rhs"), spec(&file, "f", "j")];
    across_runs("oneline_while.py", &specs, &[], |what, _, recs| {
        // `while i < 3: i += 1`: the test reads i N+1 times, and the body
        // (`i += 1` reads i too) N times; a probe triggers in every
        // statement of its line that holds its name (docs/SEMANTICS.md).
        assert_eq!(
            values(&of_probe(recs, 0)),
            ["0", "0", "1", "1", "2", "2", "3"],
            "{what}: while test N+1 times, each body read between"
        );
        assert_eq!(
            values(&of_probe(recs, 1)),
            ["0", "1", "3"],
            "{what}: one-line for body per iteration"
        );
    });
}
