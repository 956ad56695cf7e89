//! SPEC §3 values that need NumPy or follow the array rules: arrays of every
//! numeric dtype, views, NumPy scalars, lists/tuples of numbers, truncation
//! with the full shape kept, snapshot semantics — identical on every Python
//! and core. And the rule that tracing never imports NumPy itself.

mod common;

use common::*;
use probe::model::Value;

#[test]
fn arrays_scalars_and_number_sequences() {
    let file = fixture("arrays.py");
    let tags = [
        ("a", "a"),
        ("view", "v"),
        ("c", "c"),
        ("e", "e"),
        ("big", "big"),
        ("be", "be"),
        ("s", "s"),
        ("masked", "s"),
        ("z", "z"),
        ("z2", "z"),
        ("z3", "z"),
        ("z4", "z"),
        ("z5", "z"),
        ("q", "q"),
        ("buf", "buf@rhs"),
        ("arr", "arr@rhs"),
    ];
    let specs: Vec<String> = tags.iter().map(|(t, n)| spec(&file, t, n)).collect();
    across_runs_opts(
        "arrays.py",
        &specs,
        &["--max-array-bytes", "64"],
        &[],
        |what, out, recs| {
            let got = values(recs);
            let int_dtypes = [
                "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            ];
            let mut want: Vec<String> = vec!["ndarray<bool>[2, 3][0, 1, 1, 1, 1, 1]".into()];
            for d in int_dtypes {
                want.push(format!("ndarray<{d}>[2, 3][0, 1, 2, 3, 4, 5]"));
            }
            for d in ["float16", "float32", "float64"] {
                want.push(format!("ndarray<{d}>[2, 3][0.0, 1.0, 2.0, 3.0, 4.0, 5.0]"));
            }
            let c = |n: u32| {
                (0..n)
                    .map(|i| format!("({i}.0+0.0j)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // complex64 is 6 × 8 = 48 bytes, under the 64-byte limit; complex128
            // is 96 bytes: 4 elements kept, flagged, full shape kept.
            want.push(format!("ndarray<complex64>[2, 3][{}]", c(6)));
            want.push(format!("ndarray<complex128>[2, 3][{}, …]", c(4)));
            want.extend(
                [
                    // arange(12).reshape(3, 4)[::2, ::-2]: a strided, reversed view.
                    "ndarray<float64>[2, 2][3.0, 1.0, 11.0, 9.0]",
                    "ndarray<complex128>[2][(1.0+2.0j), (-0.0+-0.5j)]",
                    "ndarray<float64>[4][1.0, NaN, -inf, -0.0]",
                    "ndarray<float64>[1000][0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, …]",
                    // Big-endian data is stored little-endian.
                    "ndarray<int32>[2][1, 256]",
                    // A str array is not numeric: repr.
                    "array(['a', 'b'], dtype='<U1')",
                // A masked array keeps its mask: by repr.
                "masked_array(data=[1, --],\n             mask=[False,  True],\n       fill_value=999999)",
                    "float64(2.5)",
                    "float32(0.25)",
                    "int16(-3)",
                    "bool(True)",
                    "complex64((1.0+-1.0j))",
                    // Lists and tuples of numbers (SPEC §3 rules).
                    "list<int64>[3][1, 2, 3]",
                    "tuple<float64>[2][1.5, 2.0]",
                    "list<complex128>[2][(1.0+0.0j), (0.0+2.0j)]",
                    "list<bool>[2][1, 0]",
                    "list<float64>[0][]",
                    "tuple<float64>[0][]",
                    // Not arrays: bools mixed with numbers, nested, namedtuple,
                    // ints beyond 64 bits, non-numbers.
                    "[True, 1]",
                    "[[1], [2]]",
                    "Point(x=1, y=2)",
                    "[1180591620717411303424]",
                    "[1, 'a']",
                    // Snapshots at capture: later appends / in-place writes do not leak in.
                    "list<float64>[1][1.0]",
                    "list<float64>[2][1.0, 0.0]",
                    "list<float64>[3][1.0, 0.0, 1.0]",
                    "ndarray<float64>[3][0.0, 0.0, 0.0]",
                    "ndarray<float64>[3][1.0, 0.0, 0.0]",
                    "ndarray<float64>[3][1.0, 2.0, 0.0]",
                ]
                .map(String::from),
            );
            assert_eq!(got, want, "{what}");
            // NaN and -0.0 inside arrays are bit-exact.
            let Value::Array(e) = &recs[16].value else {
                panic!("{what}: not an array: {:?}", recs[16].value)
            };
            assert_eq!(
                e.get_f64(1).map(f64::to_bits),
                Some(f64::NAN.to_bits()),
                "{what}"
            );
            assert_eq!(
                e.get_f64(3).map(f64::to_bits),
                Some((-0.0f64).to_bits()),
                "{what}"
            );
            let Value::Array(big) = &recs[17].value else {
                panic!("{what}: not an array")
            };
            assert!(
                big.truncated && big.full_len() == 1000 && big.len() == 8,
                "{what}"
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "True",
                "{what}"
            );
        },
    );
}

#[test]
fn tracing_never_imports_numpy() {
    let file = fixture("no_numpy.py");
    for (version, py) in pythons() {
        let has_numpy = std::process::Command::new(&py)
            .args(["-c", "import numpy"])
            .status()
            .expect("python runs")
            .success();
        assert!(
            has_numpy,
            "Python {version} ({}) has no NumPy: run .ci/run (it creates .ci/venvs) \
             or point PROBE_TEST_PYTHON_{} at an interpreter with NumPy",
            py.display(),
            version.replace('.', "_")
        );
    }
    let specs = vec![spec(&file, "xs", "xs"), spec(&file, "o", "o")];
    across_runs("no_numpy.py", &specs, &[], |what, out, recs| {
        assert_eq!(values(recs)[0], "list<float64>[2][1.0, 2.0]", "{what}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "False",
            "{what}: numpy was imported"
        );
    });
}

/// Containers that hold themselves (a list, dict, tuple, deque,
/// defaultdict) are recorded as `repr` writes them — `[...]`, `{...}`,
/// `(...)` where one is met inside itself — never unrolled, on every
/// Python and core; a part shared without recursion is written in full; a
/// defaultdict's `functools.partial` factory is `...`, as repr writes it.
#[test]
fn self_referential_containers_are_written_as_repr_writes_them() {
    let file = fixture("recursive_containers.py");
    let specs: Vec<String> = ["l", "d", "t", "dq", "dd", "pair", "dp"]
        .iter()
        .map(|n| spec(&file, "seen", &format!("{n}@rhs")))
        .collect();
    across_runs_opts(
        "recursive_containers.py",
        &specs,
        &[],
        &[],
        |what, out, recs| {
            let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(String::from)
                .collect();
            assert_eq!(values(recs), printed, "{what}");
            assert!(printed[0] == "[1, [...]]", "{what}: {printed:?}");
        },
    );
}
