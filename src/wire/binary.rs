//! CHUNK_BIN: the native core's binary chunk (docs/WIRE.md; written by
//! `crates/agent/src/chunk.rs`).
//!
//! ```text
//! u32 blob length, blob = marshal((py_items, py_values, py_completions), 4)
//! u32 completion count, that many 32-byte completion records
//! u32 record count, that many 32-byte records
//! ```
//!
//! A record: `kind` (1 a trigger of the fast path, 2 the next of the
//! Python core's items, 4 a thread's registration), value tag, `u16`
//! thread index (of a trigger: 0 the main thread, else the thread a
//! registration gave that index to), `u32` site (of a registration: the
//! index), `i64` timestamp (a completion: the placeholder's token), 16
//! bytes of value (a registration: the thread's Python ident first).
//! Everything is bounds-checked: a crafted payload is an error, never a
//! panic or a large allocation beyond the payload's own size.

use super::marshal::{self, MObj};
use super::Batch;
use crate::model::Value;

/// Bytes per record.
pub const REC_BYTES: usize = 32;

const K_FAST: u8 = 1;
const K_PY: u8 = 2;
const K_COMP: u8 = 3;
const K_THREAD: u8 = 4;

const V_PEND: u8 = 0;
const V_NONE: u8 = 1;
const V_FALSE: u8 = 2;
const V_TRUE: u8 = 3;
const V_INT: u8 = 4;
const V_FLOAT: u8 = 5;
const V_COMPLEX: u8 = 6;
const V_PLACEHOLDER: u8 = 7;
const V_PYVAL: u8 = 8;

/// A decoded chunk, in the shape the marshal chunk decodes to: items as
/// `[site, ts, value…]` lists, completions as `(token, value)` tuples.
#[derive(Debug, Default)]
pub struct BinChunk {
    /// Records announced (`None` if the cut came before the count).
    pub announced: Option<usize>,
    /// Batches decoded whole, in order.
    pub items: Vec<Batch>,
    /// Completions announced (`None` if the cut came before the count).
    pub completions_announced: Option<usize>,
    /// Completions decoded whole.
    pub completions: Vec<MObj>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

fn u64_at(r: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&r[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The Python side's lists, taken one by one.
struct PyParts {
    items: std::vec::IntoIter<MObj>,
    values: Vec<Option<MObj>>,
}

/// One slot's value (tag at r[1], payload at r[16..32]).
/// A fast record's plain value, as its tag and two words.
#[derive(Debug, Clone, Copy)]
pub struct PlainValue {
    tag: u8,
    a: u64,
    b: u64,
}

impl PlainValue {
    /// The value (the tag is one of the plain ones: `record` checked).
    pub fn to_value(self) -> Value {
        match self.tag {
            V_NONE => Value::None,
            V_FALSE => Value::Bool(false),
            V_TRUE => Value::Bool(true),
            V_INT => Value::Int(self.a as i64),
            V_FLOAT => Value::Float(f64::from_bits(self.a)),
            _ => Value::Complex(f64::from_bits(self.a), f64::from_bits(self.b)),
        }
    }
}

fn value(r: &[u8], py: &mut PyParts) -> Result<MObj, String> {
    let a = u64_at(r, 16);
    let b = u64_at(r, 24);
    Ok(match r[1] {
        V_NONE => MObj::None,
        V_FALSE => MObj::Bool(false),
        V_TRUE => MObj::Bool(true),
        V_INT => MObj::Int(a as i64),
        V_FLOAT => MObj::Float(f64::from_bits(a)),
        V_COMPLEX => MObj::Complex(f64::from_bits(a), f64::from_bits(b)),
        V_PLACEHOLDER => MObj::Tuple(vec![MObj::Int(5), MObj::Int(a as i64)]),
        V_PYVAL => {
            let k = usize::try_from(a).map_err(|_| format!("value index {a} out of range"))?;
            py.values
                .get_mut(k)
                .and_then(Option::take)
                .ok_or_else(|| format!("value index {k} missing or used twice"))?
        }
        V_PEND => return Err("a slot still waiting was sent".into()),
        t => return Err(format!("unknown value tag {t}")),
    })
}

#[inline(always)]
fn record(r: &[u8], py: &mut PyParts) -> Result<Batch, String> {
    match r[0] {
        // A plain value stays in words: built as a marshal object and moved
        // through the decoder, it cost the recorder more than the rest of
        // the record (its parts stored narrow, then loaded wide).
        K_FAST
            if matches!(
                r[1],
                V_NONE | V_FALSE | V_TRUE | V_INT | V_FLOAT | V_COMPLEX
            ) =>
        {
            Ok(Batch::Plain {
                site: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
                ts: u64_at(r, 8) as i64,
                thread: u16::from_le_bytes([r[2], r[3]]),
                value: PlainValue {
                    tag: r[1],
                    a: u64_at(r, 16),
                    b: u64_at(r, 24),
                },
            })
        }
        K_FAST => Ok(Batch::Fast {
            site: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            ts: u64_at(r, 8) as i64,
            thread: u16::from_le_bytes([r[2], r[3]]),
            value: value(r, py)?,
        }),
        K_THREAD => thread(r),
        K_PY => py
            .items
            .next()
            .map(Batch::Item)
            .ok_or_else(|| "more Python-core records than items".to_string()),
        k => Err(format!("unknown record kind {k}")),
    }
}

/// A record read from the shared ring after the program died: a fast
/// record (a slot still waiting, or holding a Python object the ring does
/// not have, is `incomplete`); None for anything else — one of the Python
/// core's items, whose contents only the lost message had, or a record
/// that does not decode — where salvaging stops, to keep the order.
pub fn salvage_record(r: &[u8]) -> Option<Batch> {
    if r.len() == REC_BYTES && r[0] == K_THREAD {
        return thread(r).ok();
    }
    if r.len() != REC_BYTES || r[0] != K_FAST {
        return None;
    }
    // (A V_PYVAL slot's value was in the lost message: see value_lost.)
    let mut none = PyParts {
        items: Vec::new().into_iter(),
        values: Vec::new(),
    };
    let value = match r[1] {
        V_PEND | V_PYVAL => MObj::Tuple(vec![MObj::Int(4)]),
        _ => value(r, &mut none).ok()?,
    };
    Some(Batch::Fast {
        site: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
        ts: u64_at(r, 8) as i64,
        thread: u16::from_le_bytes([r[2], r[3]]),
        value,
    })
}

/// A thread's registration (`K_THREAD`): index in the site field, ident
/// in the first value word.
fn thread(r: &[u8]) -> Result<Batch, String> {
    let index = u32::from_le_bytes([r[4], r[5], r[6], r[7]]);
    match u16::try_from(index) {
        Ok(index) if index > 0 => Ok(Batch::Thread {
            index,
            ident: u64_at(r, 16),
        }),
        _ => Err(format!("a thread registration with index {index}")),
    }
}

/// Whether a record read from the shared ring had a value only the lost
/// message held (a Python object the Python core wrote into its slot).
pub fn value_lost(r: &[u8]) -> bool {
    r.len() == REC_BYTES && r[0] == K_FAST && r[1] == V_PYVAL
}

/// A completion read from the shared ring: `(token, value)`; None if it
/// does not decode (or its value is not in the ring).
pub fn salvage_completion(r: &[u8]) -> Option<(i64, MObj)> {
    if r.len() != REC_BYTES || r[0] != K_COMP || matches!(r[1], V_PEND | V_PYVAL) {
        return None;
    }
    let mut none = PyParts {
        items: Vec::new().into_iter(),
        values: Vec::new(),
    };
    Some((u64_at(r, 8) as i64, value(r, &mut none).ok()?))
}

fn completion(r: &[u8], py: &mut PyParts) -> Result<MObj, String> {
    if r[0] != K_COMP {
        return Err(format!("a completion record has kind {}", r[0]));
    }
    let token = u64_at(r, 8) as i64;
    Ok(MObj::Tuple(vec![MObj::Int(token), value(r, py)?]))
}

fn list(o: MObj, what: &str) -> Result<Vec<MObj>, String> {
    match o {
        MObj::List(v) => Ok(v),
        _ => Err(format!("the chunk's {what} is not a list")),
    }
}

/// The marshalled part: (items, values, completions).
fn py_parts(blob: &[u8]) -> Result<(PyParts, Vec<MObj>), String> {
    let obj = marshal::decode(blob).map_err(|e| e.to_string())?;
    let MObj::Tuple(v) = obj else {
        return Err("the chunk's marshalled part is not a tuple".into());
    };
    let [items, values, comps]: [MObj; 3] = v
        .try_into()
        .map_err(|_| "the chunk's marshalled part is not a 3-tuple".to_string())?;
    let parts = PyParts {
        items: list(items, "item list")?.into_iter(),
        values: list(values, "value list")?.into_iter().map(Some).collect(),
    };
    Ok((parts, list(comps, "completion list")?))
}

/// A CHUNK_BIN payload whose framing, marshalled part and completions
/// are decoded; its records are decoded one by one ([`Parsed::next_batch`]).
pub struct Parsed<'a> {
    /// Records announced.
    pub announced: usize,
    /// The completions, the Python core's then the binary ones.
    pub completions: Vec<MObj>,
    recs: std::slice::ChunksExact<'a, u8>,
    py: PyParts,
}

impl Parsed<'_> {
    /// The next record as a batch; None after the last.
    #[inline(always)]
    pub fn next_batch(&mut self) -> Option<Result<Batch, String>> {
        let r = self.recs.next()?;
        Some(record(r, &mut self.py))
    }

    /// Whether Python-core items are left that no record took (after the
    /// last record: the chunk is then malformed).
    pub fn items_left(&mut self) -> bool {
        self.py.items.next().is_some()
    }
}

/// Decodes a whole CHUNK_BIN payload's framing (every length checked,
/// nothing after the last record), its marshalled part and completions.
pub fn parse(payload: &[u8]) -> Result<Parsed<'_>, String> {
    let mut c = Cursor {
        data: payload,
        pos: 0,
    };
    let blob_len = c.u32().ok_or("cut before its marshalled part")?;
    let blob = c.take(blob_len).ok_or("its marshalled part is cut off")?;
    let (mut py, mut completions) = py_parts(blob)?;
    let n_comps = c.u32().ok_or("cut before its completion count")?;
    let comps = c
        .take(
            n_comps
                .checked_mul(REC_BYTES)
                .ok_or("completion count overflows")?,
        )
        .ok_or("its completions are cut off")?;
    for r in comps.chunks_exact(REC_BYTES) {
        completions.push(completion(r, &mut py)?);
    }
    let n_recs = c.u32().ok_or("cut before its record count")?;
    let recs = c
        .take(
            n_recs
                .checked_mul(REC_BYTES)
                .ok_or("record count overflows")?,
        )
        .ok_or("its records are cut off")?;
    if c.pos != payload.len() {
        return Err(format!(
            "{} bytes after its last record",
            payload.len() - c.pos
        ));
    }
    Ok(Parsed {
        announced: n_recs,
        completions,
        recs: recs.chunks_exact(REC_BYTES),
        py,
    })
}

/// Decodes what a CHUNK_BIN cut off by its sender's death still holds: the
/// completions and records that arrived whole, in order, up to the first
/// that does not decode. Nothing if the marshalled part itself is cut.
pub fn decode_prefix(payload: &[u8]) -> BinChunk {
    let mut out = BinChunk::default();
    let mut c = Cursor {
        data: payload,
        pos: 0,
    };
    let Some(blob) = c.u32().and_then(|n| c.take(n)) else {
        return out;
    };
    let Ok((mut py, comps)) = py_parts(blob) else {
        return out;
    };
    out.completions = comps;
    let Some(n_comps) = c.u32() else {
        return out;
    };
    out.completions_announced = Some(out.completions.len().saturating_add(n_comps));
    for _ in 0..n_comps {
        let Some(r) = c.take(REC_BYTES) else {
            return out;
        };
        match completion(r, &mut py) {
            Ok(m) => out.completions.push(m),
            Err(_) => return out,
        }
    }
    let Some(n_recs) = c.u32() else {
        return out;
    };
    out.announced = Some(n_recs);
    for _ in 0..n_recs {
        let Some(r) = c.take(REC_BYTES) else {
            return out;
        };
        match record(r, &mut py) {
            Ok(m) => out.items.push(m),
            Err(_) => return out,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Value};
    use crate::wire::{Capture, ChunkDecoder, Hello};

    /// Marshal encodings of the few shapes a chunk's blob holds.
    fn m_int(v: i32) -> Vec<u8> {
        let mut b = vec![b'i'];
        b.extend_from_slice(&v.to_le_bytes());
        b
    }
    fn m_seq(code: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![code];
        b.extend_from_slice(&(parts.len() as i32).to_le_bytes());
        for p in parts {
            b.extend_from_slice(p);
        }
        b
    }
    fn rec(kind: u8, vtag: u8, site: u32, ts: i64, a: u64) -> Vec<u8> {
        let mut b = vec![kind, vtag, 0, 0];
        b.extend_from_slice(&site.to_le_bytes());
        b.extend_from_slice(&ts.to_le_bytes());
        b.extend_from_slice(&a.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b
    }
    fn payload(
        items: &[Vec<u8>],
        vals: &[Vec<u8>],
        comps: &[Vec<u8>],
        bin_comps: &[Vec<u8>],
        recs: &[Vec<u8>],
    ) -> Vec<u8> {
        let blob = m_seq(
            b'(',
            &[m_seq(b'[', items), m_seq(b'[', vals), m_seq(b'[', comps)],
        );
        let mut b = (blob.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&blob);
        b.extend_from_slice(&(bin_comps.len() as u32).to_le_bytes());
        for r in bin_comps {
            b.extend_from_slice(r);
        }
        b.extend_from_slice(&(recs.len() as u32).to_le_bytes());
        for r in recs {
            b.extend_from_slice(r);
        }
        b
    }
    fn hello() -> Hello {
        Hello {
            python_version: "3.12.1".into(),
            python_executable: "python3".into(),
            core: "native".into(),
            core_note: None,
            core_warning: false,
            t0_ns: 1000,
            main_thread: 77,
            probes: Vec::new(),
            sites: vec![vec![0], vec![1, 2]],
        }
    }
    fn decode_all(d: &mut ChunkDecoder, p: &[u8]) -> Result<Vec<Capture>, String> {
        let mut out = Vec::new();
        d.decode_bin(p, |c| {
            out.push(c);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn fast_records_and_python_items_keep_their_order_and_one_sequence() {
        // A fast record, one of the Python core's items (site 1, two
        // values), a fast record whose value is a Python object.
        let item = m_seq(b'[', &[m_int(1), m_int(1500), m_int(4), m_int(5)]);
        let p = payload(
            &[item],
            &[m_seq(b'(', &[m_int(1)])],
            &[],
            &[],
            &[
                rec(K_FAST, V_INT, 0, 1100, 42),
                rec(K_PY, 0, 0, 0, 0),
                rec(K_FAST, V_PYVAL, 0, 1600, 0),
            ],
        );
        let mut d = ChunkDecoder::new(&hello(), 1);
        let got = decode_all(&mut d, &p).expect("decodes");
        let recs: Vec<_> = got
            .iter()
            .map(|c| match c {
                Capture::Record(r) => (r.seq, r.ts_ns, r.probe, r.status, r.value.clone()),
                Capture::Completion { .. } => panic!("no completion here"),
            })
            .collect();
        assert_eq!(
            recs,
            vec![
                (0, 100, 0, Status::Ok, Value::Int(42)),
                (1, 500, 1, Status::Ok, Value::Int(4)),
                (2, 500, 2, Status::Ok, Value::Int(5)),
                (3, 600, 0, Status::Unbound, Value::Absent),
            ]
        );
    }

    #[test]
    fn a_placeholder_is_completed_by_a_binary_completion_in_a_later_chunk() {
        let mut d = ChunkDecoder::new(&hello(), 1);
        let first = payload(
            &[],
            &[],
            &[],
            &[],
            &[rec(K_FAST, V_PLACEHOLDER, 0, 1100, (-2i64) as u64)],
        );
        let got = decode_all(&mut d, &first).expect("decodes");
        assert!(matches!(&got[0], Capture::Record(r) if r.status == Status::Pending));
        let second = payload(
            &[],
            &[],
            &[],
            &[rec(K_COMP, V_FLOAT, 0, -2, 2.5f64.to_bits())],
            &[],
        );
        let got = decode_all(&mut d, &second).expect("decodes");
        assert_eq!(
            got,
            vec![Capture::Completion {
                seq: 0,
                status: Status::Ok,
                value: Value::Float(2.5)
            }]
        );
        assert_eq!(d.orphan_completions(), 0);
    }

    #[test]
    fn malformed_chunks_are_errors_that_say_what() {
        let mut d = ChunkDecoder::new(&hello(), 1);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                payload(&[], &[], &[], &[], &[rec(K_FAST, V_PEND, 0, 1, 0)]),
                "still waiting",
            ),
            (
                payload(&[], &[], &[], &[], &[rec(9, V_INT, 0, 1, 0)]),
                "unknown record kind",
            ),
            (
                payload(&[], &[], &[], &[], &[rec(K_FAST, 99, 0, 1, 0)]),
                "unknown value tag",
            ),
            (
                payload(&[], &[], &[], &[], &[rec(K_FAST, V_INT, 7, 1, 0)]),
                "unknown site 7",
            ),
            (
                payload(&[], &[], &[], &[], &[rec(K_FAST, V_INT, 1, 1, 0)]),
                "has 2 probes",
            ),
            (
                payload(&[], &[], &[], &[], &[rec(K_PY, 0, 0, 0, 0)]),
                "more Python-core records",
            ),
            (
                payload(&[], &[], &[], &[], &[rec(K_FAST, V_PYVAL, 0, 1, 0)]),
                "value index 0",
            ),
            (payload(&[m_int(1)], &[], &[], &[], &[]), "without a record"),
        ];
        for (p, want) in cases {
            let e = decode_all(&mut d, &p).expect_err(want);
            assert!(e.contains(want), "{e:?} should say {want:?}");
        }
        let mut p = payload(&[], &[], &[], &[], &[rec(K_FAST, V_INT, 0, 1, 0)]);
        p.push(0);
        assert!(decode_all(&mut d, &p)
            .expect_err("trailing")
            .contains("after its last record"));
        p.truncate(p.len() - 10);
        assert!(decode_all(&mut d, &p).expect_err("cut").contains("cut off"));
    }

    #[test]
    fn a_torn_chunk_keeps_its_whole_records() {
        let recs: Vec<_> = (0..5)
            .map(|i| rec(K_FAST, V_INT, 0, 1000 + i, i as u64))
            .collect();
        let p = payload(&[], &[], &[], &[], &recs);
        let cut = p.len() - REC_BYTES - 3; // the last record and a half are lost
        let mut d = ChunkDecoder::new(&hello(), 1);
        let mut n = 0;
        let t = d
            .decode_torn(super::super::MSG_CHUNK_BIN, &p[..cut], |_| {
                n += 1;
                Ok(())
            })
            .expect("salvaged");
        assert_eq!((n, t.kept_batches, t.announced_batches), (3, 3, Some(5)));
        assert_eq!(t.lost_captures_at_least, 2);
        // Cut inside the marshalled part: nothing is kept, one batch is lost
        // at least.
        let mut d = ChunkDecoder::new(&hello(), 1);
        let t = d
            .decode_torn(super::super::MSG_CHUNK_BIN, &p[..6], |_| Ok(()))
            .expect("salvaged");
        assert_eq!((t.kept_batches, t.announced_batches), (0, None));
    }
}
