//! The wire's marshal decoder on hostile input (issue 16: every parser is
//! fuzzed). The readers never see the wire — the recorder does, reading
//! what the agent inside the traced program sends — so this runs in
//! process: structure-aware marshal payloads (nested tuples and lists,
//! references, lengths, big ints, strings, floats at the edges) and their
//! mutations go through `marshal::decode` and the chunk decoder. Bar: an
//! error or a value, never a panic, and each payload of at most 16 KiB
//! decoded in well under a second.

mod hostile;

use std::time::{Duration, Instant};

use hostile::Rng;
use probe::wire::marshal;

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A marshal object, at most `depth` levels deep.
fn object(rng: &mut Rng, out: &mut Vec<u8>, depth: u32) {
    let refflag = if rng.pct(10) { 0x80 } else { 0 };
    match rng.below(if depth == 0 { 9 } else { 12 }) {
        0 => out.push(b'N'),
        1 => out.push(rng.pick(b"TF")),
        2 => {
            out.push(b'i' | refflag);
            put_i32(out, rng.next() as i32);
        }
        3 => {
            out.push(b'g' | refflag);
            let f = rng.pick(&[f64::MAX, -f64::MAX, f64::NAN, f64::INFINITY, 5e-324, 0.0]);
            out.extend_from_slice(&f.to_le_bytes());
        }
        4 => {
            out.push(b'y' | refflag);
            out.extend_from_slice(&f64::MAX.to_le_bytes());
            out.extend_from_slice(&f64::NAN.to_le_bytes());
        }
        5 => {
            // A long int: digit count (negative = negative number), digits.
            out.push(b'l' | refflag);
            let n = rng.pick(&[0i32, 1, 5, 100, 3000, i32::MAX, -3000, i32::MIN]);
            put_i32(out, n);
            let real = n.unsigned_abs().min(3000);
            for _ in 0..real {
                out.extend_from_slice(&((rng.next() as u16) & 0x7fff).to_le_bytes());
            }
        }
        6 => {
            let code = rng.pick(b"uaAszZt");
            out.push(code | refflag);
            let n = rng.below(200) as usize;
            if matches!(code, b'z' | b'Z') {
                out.push(n as u8);
            } else {
                put_i32(out, if rng.pct(10) { i32::MAX } else { n as i32 });
            }
            out.extend((0..n).map(|_| rng.next() as u8));
        }
        7 => {
            out.push(b'r');
            put_i32(out, rng.pick(&[0, 1, 2, -1, i32::MAX]));
        }
        8 => out.push(rng.next() as u8),
        _ => {
            let code = rng.pick(b"()[<>");
            out.push(code | refflag);
            let n = rng.below(6) as usize;
            if code == b')' {
                out.push(n as u8);
            } else {
                put_i32(out, if rng.pct(5) { i32::MAX } else { n as i32 });
            }
            for _ in 0..n {
                object(rng, out, depth - 1);
            }
        }
    }
}

#[test]
fn marshal_decoder_survives_hostile_payloads() {
    let mut rng = Rng(0x3a7);
    let mut slowest = Duration::ZERO;
    for round in 0..5_000u32 {
        let mut b = Vec::new();
        object(&mut rng, &mut b, 6);
        if round % 3 == 0 && !b.is_empty() {
            for _ in 0..rng.below(4) + 1 {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next() as u8;
            }
        }
        if round % 5 == 0 {
            b.truncate(rng.below(b.len() as u64 + 1) as usize);
        }
        b.truncate(16 << 10);
        let t = Instant::now();
        let _ = marshal::decode(&b);
        slowest = slowest.max(t.elapsed());
    }
    // Deep nesting is refused, not recursed into.
    let deep = vec![b'['; 100_000];
    assert!(marshal::decode(&deep).is_err());
    assert!(
        slowest < Duration::from_secs(1),
        "slowest decode: {slowest:?}"
    );
}

/// How long a big int takes (not a bar: the recorder converts the agent's
/// big ints to decimal text, quadratic in their length; measured for the
/// record, run with `--ignored`).
#[test]
#[ignore = "a measurement"]
fn big_int_decoding_time() {
    for limbs in [1_000i32, 4_000, 16_000, 64_000] {
        let mut b = vec![b'l'];
        b.extend_from_slice(&limbs.to_le_bytes());
        for i in 0..limbs {
            b.extend_from_slice(&((i as u16 * 7919) & 0x7fff).to_le_bytes());
        }
        let t = Instant::now();
        let _ = marshal::decode(&b);
        println!("{limbs} digits (base 2^15): {:?}", t.elapsed());
    }
}

/// A CHUNK_BIN payload (docs/WIRE.md) with hostile parts: the marshalled
/// part from `object`, then completion and record sections whose counts,
/// kinds, value tags, sites and indexes are random or at the edges.
fn bin_chunk(rng: &mut Rng, valid: bool) -> Vec<u8> {
    let mut blob = Vec::new();
    if valid {
        // ([], [], []): every record below is a fast one with a plain value.
        blob.extend_from_slice(&[b')', 3]);
        for _ in 0..3 {
            blob.push(b'[');
            put_i32(&mut blob, 0);
        }
    } else if rng.pct(50) {
        // The shape the agent sends: (items, values, completions).
        blob.push(b')');
        blob.push(3);
        for _ in 0..3 {
            let n = rng.below(4);
            blob.push(b'[');
            put_i32(&mut blob, n as i32);
            for _ in 0..n {
                object(rng, &mut blob, 2);
            }
        }
    } else {
        object(rng, &mut blob, 3);
    }
    let mut b = Vec::new();
    let blob_len = if rng.pct(5) {
        u32::MAX
    } else {
        blob.len() as u32
    };
    b.extend_from_slice(&blob_len.to_le_bytes());
    b.extend_from_slice(&blob);
    for section in 0..2u8 {
        let n = rng.below(40) as u32;
        let announced = if !valid && rng.pct(5) {
            rng.pick(&[u32::MAX, 1 << 27, n + 1])
        } else {
            n
        };
        b.extend_from_slice(&announced.to_le_bytes());
        for _ in 0..n {
            let mut r = [0u8; 32];
            r[0] = if valid {
                if section == 0 {
                    3
                } else {
                    1
                }
            } else {
                rng.pick(&[0u8, 1, 2, 3, 4, 255])
            };
            r[1] = if valid {
                1 + rng.below(7) as u8
            } else {
                rng.below(11) as u8
            };
            let site = if valid {
                0
            } else {
                rng.pick(&[0u32, 1, 2, u32::MAX])
            };
            r[4..8].copy_from_slice(&site.to_le_bytes());
            if !valid {
                // A thread index: the main thread's, one registered or not.
                r[2..4].copy_from_slice(&rng.pick(&[0u16, 0, 1, 2, u16::MAX]).to_le_bytes());
            }
            r[8..16].copy_from_slice(&rng.pick(&[0i64, -2, -3, i64::MIN, i64::MAX]).to_le_bytes());
            let a = rng.pick(&[0u64, 1, 2, u64::MAX, f64::NAN.to_bits()]);
            r[16..24].copy_from_slice(&a.to_le_bytes());
            r[24..32].copy_from_slice(&rng.next().to_le_bytes());
            b.extend_from_slice(&r);
        }
    }
    b
}

#[test]
fn binary_chunk_decoder_survives_hostile_payloads() {
    use probe::wire::{ChunkDecoder, Hello, MSG_CHUNK_BIN};
    let hello: Hello = serde_json::from_str(
        r#"{"python_version":"3.12.1","python_executable":"python3","core":"native",
            "t0_ns":5,"main_thread":1,"probes":[],"sites":[[0],[1,2]]}"#,
    )
    .expect("hello");
    let mut rng = Rng(0xb1a);
    let (mut ok, mut refused) = (0u32, 0u32);
    for round in 0..5_000u32 {
        let mut b = bin_chunk(&mut rng, round % 2 == 0);
        if round % 3 == 0 && !b.is_empty() {
            for _ in 0..rng.below(4) + 1 {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next() as u8;
            }
        }
        let mut d = ChunkDecoder::new(&hello, 1);
        let mut n = 0u64;
        match d.decode_bin(&b, |_| {
            n += 1;
            Ok(())
        }) {
            Ok(()) => ok += 1,
            Err(e) => {
                refused += 1;
                assert!(e.to_string().starts_with("agent chunk 0: "), "{e}");
            }
        }
        // Every prefix the sender's death could leave is salvaged or
        // refused with an error, never a panic.
        let cut = rng.below(b.len() as u64 + 1) as usize;
        let mut d = ChunkDecoder::new(&hello, 1);
        if let Ok(t) = d.decode_torn(MSG_CHUNK_BIN, &b[..cut], |_| Ok(())) {
            assert!(t.kept_captures <= 2 * t.kept_batches, "{t:?}");
        }
    }
    // Both outcomes happen: the generator reaches the records, not only
    // the framing.
    assert!(ok > 100 && refused > 100, "decoded {ok}, refused {refused}");
}
