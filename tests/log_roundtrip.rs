//! Round trips through LogWriter → LogReader: every value kind and status,
//! placeholders with completions across frames, and writer API guards.

mod log_common;

use log_common::*;
use probe::log::{verify_path, FrameKind, LogError, LogReader, LogWriter};
use probe::model::{ArrayValue, CaptureRecord, Dtype, Status, Value};

fn read_all(path: &std::path::Path) -> Vec<CaptureRecord> {
    let r = LogReader::open(path).expect("open");
    r.records().map(|x| x.expect("record")).collect()
}

#[test]
fn every_value_kind_and_status_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.probe");
    let statuses = [
        Status::Ok,
        Status::Unbound,
        Status::Raised,
        Status::Error,
        Status::Incomplete,
    ];
    let mut w = LogWriter::create(&path, false, &meta(3)).unwrap();
    let mut expect = Vec::new();
    let mut seq = 0;
    for round in 0..3u64 {
        for (k, v) in all_values().into_iter().enumerate() {
            let r = CaptureRecord {
                seq,
                ts_ns: 1000 + seq * 3,
                thread: 7 + round,
                probe: (k % 3) as u32,
                order: 0,
                status: statuses[k % statuses.len()],
                value: v,
            };
            w.append(&r).unwrap();
            expect.push(r);
            seq += 1;
        }
        w.flush_frame().unwrap();
    }
    let end = w.finish(exit_ok(), 99).unwrap();
    assert_eq!(end.total_records, seq);
    let got = read_all(&path);
    assert_eq!(got.len(), expect.len());
    for (a, b) in got.iter().zip(&expect) {
        assert!(same_record(a, b), "{a:?} != {b:?}");
    }
    let rep = verify_path(&path);
    assert!(rep.ok, "{rep}");
    assert_eq!(rep.exit_code(), 0);
    let reader = LogReader::open(&path).unwrap();
    assert_eq!(reader.end(), Some(&end));
    assert_eq!(reader.meta(), &meta(3));
}

#[test]
fn placeholders_join_completions_across_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ph.probe");
    let mut w = LogWriter::create(&path, false, &meta(2)).unwrap();
    // seq 0: placeholder, completed after two more frames.
    w.append(&rec(0, 10, 0, 0, Status::Pending, Value::Absent))
        .unwrap();
    w.append(&rec(1, 11, 1, 0, Status::Ok, Value::Int(1)))
        .unwrap();
    w.flush_frame().unwrap();
    w.append(&rec(2, 12, 1, 0, Status::Ok, Value::Int(2)))
        .unwrap();
    // seq 3: placeholder completed in the same (unwritten) block.
    w.append(&rec(3, 13, 0, 0, Status::Pending, Value::Absent))
        .unwrap();
    w.complete(
        3,
        Status::Ok,
        &Value::Float(f64::from_bits(0x7ff8_0000_0000_0042)),
    )
    .unwrap();
    // seq 4: placeholder never completed by the caller: finish marks it incomplete.
    w.append(&rec(4, 14, 0, 0, Status::Pending, Value::Absent))
        .unwrap();
    w.flush_frame().unwrap();
    w.complete(
        0,
        Status::Raised,
        &Value::Str {
            text: "late".into(),
            truncated: false,
        },
    )
    .unwrap();
    // A frame with only a completion.
    w.flush_frame().unwrap();
    // Errors: double completion, completion of a non-placeholder, pending status.
    assert!(matches!(
        w.complete(0, Status::Ok, &Value::None),
        Err(LogError::Invalid(_))
    ));
    assert!(matches!(
        w.complete(1, Status::Ok, &Value::None),
        Err(LogError::Invalid(_))
    ));
    assert!(matches!(
        w.complete(4, Status::Pending, &Value::None),
        Err(LogError::Invalid(_))
    ));
    let end = w.finish(exit_ok(), 5).unwrap();
    assert_eq!(
        end.placeholders, 2,
        "seq 0 and 4 were written as placeholders"
    );
    assert_eq!(end.completions, 2);
    assert_eq!(end.per_probe, vec![3, 2]);

    let got = read_all(&path);
    let st: Vec<_> = got.iter().map(|r| r.status).collect();
    assert_eq!(
        st,
        [
            Status::Raised,
            Status::Ok,
            Status::Ok,
            Status::Ok,
            Status::Incomplete
        ]
    );
    assert_eq!(
        got[0].value,
        Value::Str {
            text: "late".into(),
            truncated: false
        }
    );
    assert!(same_value(
        &got[3].value,
        &Value::Float(f64::from_bits(0x7ff8_0000_0000_0042))
    ));
    let rep = verify_path(&path);
    assert!(rep.ok, "{rep}");
    assert_eq!((rep.placeholders, rep.completions), (2, 2));
}

#[test]
fn random_scalars_round_trip_bit_exact() {
    // Exercises the per-probe delta / XOR codecs and all column widths,
    // including decreasing timestamps and wrapping deltas.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rand.probe");
    let mut w = LogWriter::create(&path, false, &meta(5)).unwrap();
    let mut rng = Rng(7);
    let mut expect = Vec::new();
    for seq in 0..200_000u64 {
        let probe = rng.below(5) as u32;
        let value = match rng.below(6) {
            0 => Value::Int(rng.next() as i64),
            1 => Value::Int(rng.below(100) as i64 - 50),
            2 => Value::Float(f64::from_bits(rng.next())),
            3 => Value::Float(rng.below(1000) as f64 * 0.25),
            4 => Value::Complex(f64::from_bits(rng.next()), rng.below(9) as f64),
            _ => Value::Bool(rng.below(2) == 1),
        };
        let r = CaptureRecord {
            seq,
            ts_ns: if rng.below(50) == 0 {
                rng.next()
            } else {
                seq * 100
            },
            thread: if rng.below(3) == 0 {
                u64::MAX - rng.below(3)
            } else {
                1
            },
            probe,
            order: rng.below(4) as u16,
            status: Status::Ok,
            value,
        };
        w.append(&r).unwrap();
        expect.push(r);
    }
    w.finish(exit_ok(), 1).unwrap();
    let got = read_all(&path);
    assert_eq!(got.len(), expect.len());
    for (a, b) in got.iter().zip(&expect) {
        assert!(same_record(a, b), "{a:?} != {b:?}");
    }
    let reader = LogReader::open(&path).unwrap();
    let n_records = reader
        .frames()
        .iter()
        .filter(|f| f.header.kind == FrameKind::Records)
        .count();
    assert_eq!(n_records, 4, "auto-flush every 65,536 records");
}

#[test]
fn refuses_existing_output_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.probe");
    std::fs::write(&path, b"precious").unwrap();
    match LogWriter::create(&path, false, &meta(1)) {
        Err(e @ LogError::OutputExists { .. }) => {
            assert!(e.to_string().contains("refusing to overwrite"), "{e}")
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("overwrote an existing file"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    let w = LogWriter::create(&path, true, &meta(1)).unwrap();
    w.finish(exit_ok(), 0).unwrap();
    assert!(verify_path(&path).ok);
}

#[test]
fn writer_guards_against_out_of_order_seq_and_unknown_probe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.probe");
    let mut w = LogWriter::create(&path, false, &meta(1)).unwrap();
    w.append(&rec(0, 1, 0, 0, Status::Ok, Value::None)).unwrap();
    let e = w
        .append(&rec(2, 1, 0, 0, Status::Ok, Value::None))
        .unwrap_err();
    assert!(e.to_string().contains("expected 1"), "{e}");
    let e = w
        .append(&rec(1, 1, 3, 0, Status::Ok, Value::None))
        .unwrap_err();
    assert!(e.to_string().contains("probe 3"), "{e}");
    w.append(&rec(1, 1, 0, 0, Status::Ok, Value::None)).unwrap();
    let end = w.finish(exit_ok(), 0).unwrap();
    assert_eq!(end.total_records, 2);
}

#[test]
fn stats_report_progress() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.probe");
    let mut w = LogWriter::create(&path, false, &meta(1)).unwrap();
    let s0 = w.stats();
    assert_eq!((s0.records, s0.frames), (0, 1));
    for i in 0..10 {
        w.append(&rec(i, i, 0, 0, Status::Ok, Value::Int(i as i64)))
            .unwrap();
    }
    assert_eq!(w.stats().records, 10);
    assert_eq!(w.stats().records_in_frames, 0);
    w.flush_frame().unwrap();
    let s = w.stats();
    assert_eq!((s.records_in_frames, s.frames), (10, 2));
    assert!(s.file_bytes > s0.file_bytes && s.raw_bytes > 0);
    w.finish(exit_ok(), 0).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        LogReader::open(&path).unwrap().data_end()
    );
}

#[test]
fn dropped_writer_leaves_a_readable_incomplete_log() {
    let dir = tempfile::tempdir().unwrap();
    for leak in [false, true] {
        let path = dir.path().join(format!("crash-{leak}.probe"));
        let mut w = LogWriter::create(&path, false, &meta(1)).unwrap();
        for i in 0..100 {
            w.append(&rec(i, i, 0, 0, Status::Ok, Value::Int(i as i64)))
                .unwrap();
        }
        w.flush_frame().unwrap();
        // 50 more that never reach a frame.
        for i in 100..150 {
            w.append(&rec(i, i, 0, 0, Status::Ok, Value::Int(i as i64)))
                .unwrap();
        }
        if leak {
            // Like a SIGKILL: no destructor, the preallocated zero tail stays.
            std::mem::forget(w);
            assert!(std::fs::metadata(&path).unwrap().len() >= 1 << 20);
        } else {
            drop(w);
        }
        let reader = LogReader::open(&path).unwrap();
        assert!(reader.issues().is_empty(), "{:?}", reader.issues());
        assert!(reader.end().is_none());
        let got: Vec<_> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 100);
        let rep = verify_path(&path);
        assert_eq!(rep.exit_code(), 1);
        assert!(!rep.complete);
        assert_eq!(rep.violations.len(), 1, "{rep}");
        assert_eq!(rep.violations[0].kind, "incomplete");
        assert!(
            rep.violations[0]
                .message
                .contains("incomplete: no end marker (program killed or recorder died); 100 records readable up to offset"),
            "{rep}"
        );
    }
}

fn array(dtype: Dtype, shape: &[u64], data: Vec<u8>, truncated: bool) -> Value {
    Value::Array(ArrayValue {
        type_name: "ndarray".into(),
        dtype,
        shape: shape.to_vec(),
        data,
        truncated,
    })
}

#[test]
fn arrays_of_every_dtype_round_trip_with_shape_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arrays.probe");
    let mut values = Vec::new();
    for d in Dtype::ALL {
        // Three elements of the dtype from a byte pattern; a 0-d array; an
        // empty one; and a truncated 2-D one keeping its full shape.
        let bytes: Vec<u8> = (0..3 * d.itemsize())
            .map(|b| (b * 37 % 251) as u8)
            .collect();
        values.push(array(d, &[3], bytes.clone(), false));
        values.push(array(d, &[], bytes[..d.itemsize()].to_vec(), false));
        values.push(array(d, &[0, 4], vec![], false));
        values.push(array(d, &[1000, 2000], bytes, true));
    }
    let nan = f64::from_bits(0x7ff8_dead_beef_0001);
    let floats: Vec<u8> = [nan, -0.0, f64::INFINITY]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    values.push(array(Dtype::Float64, &[3], floats, false));
    let mut w = LogWriter::create(&path, false, &meta(1)).unwrap();
    for (seq, v) in values.iter().enumerate() {
        let r = CaptureRecord {
            seq: seq as u64,
            ts_ns: seq as u64,
            thread: 1,
            probe: 0,
            order: 0,
            status: Status::Ok,
            value: v.clone(),
        };
        w.append(&r).unwrap();
    }
    w.finish(exit_ok(), 0).unwrap();
    let got: Vec<Value> = read_all(&path).into_iter().map(|r| r.value).collect();
    assert_eq!(got, values[..got.len()].to_vec());
    assert_eq!(got.len(), values.len());
    let Some(Value::Array(last)) = got.last() else {
        panic!("last value is not an array")
    };
    assert_eq!(last.get_f64(0).map(f64::to_bits), Some(nan.to_bits()));
    assert_eq!(last.get_f64(1).map(f64::to_bits), Some((-0.0f64).to_bits()));
    assert_eq!(last.get_f64(2), Some(f64::INFINITY));
    assert_eq!(last.get_f64(3), None);
    assert!(verify_path(&path).ok);
}

#[test]
fn array_element_accessors_decode_every_dtype() {
    let a = |dtype, data: Vec<u8>| ArrayValue {
        type_name: "ndarray".into(),
        dtype,
        shape: vec![(data.len() / Dtype::itemsize(dtype)) as u64],
        data,
        truncated: false,
    };
    assert_eq!(a(Dtype::Int8, vec![0xff]).get_i64(0), Some(-1));
    assert_eq!(
        a(Dtype::Uint16, 65535u16.to_le_bytes().to_vec()).get_f64(0),
        Some(65535.0)
    );
    assert_eq!(
        a(Dtype::Uint64, u64::MAX.to_le_bytes().to_vec()).get_i64(0),
        None
    );
    assert_eq!(a(Dtype::Bool, vec![1, 0]).get_f64(1), Some(0.0));
    // float16: 0x3c00 = 1.0, 0xc000 = -2.0, 0x7c00 = inf, 0x0001 = 2^-24.
    let h = a(
        Dtype::Float16,
        [0x3c00u16, 0xc000, 0x7c00, 0x0001]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect(),
    );
    assert_eq!(
        h.to_f64_vec(),
        vec![1.0, -2.0, f64::INFINITY, 2f64.powi(-24)]
    );
    let c = a(
        Dtype::Complex64,
        [1.5f32, -2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect(),
    );
    assert_eq!(c.get_complex(0), Some((1.5, -2.0)));
    assert_eq!(c.len(), 1);
}
