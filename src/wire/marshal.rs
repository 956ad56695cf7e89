//! A decoder for the subset of Python's `marshal` format that the agent sends.
//!
//! Why marshal: `marshal.dumps` turns a whole chunk of captures into bytes in
//! one C call, which is the cheapest thing the pure-Python tracer can do per
//! record. The format is stable within a marshal version, and the agent
//! pins version 4 (`marshal.dumps(obj, 4)`) on every Python: 3.11–3.13
//! default to 4, 3.14 to 5 (adds slices), 3.15 to 6
//! (`tests/wire_marshal_versions.rs` checks each interpreter). Everything here
//! treats the input as untrusted: lengths are checked against the remaining
//! bytes before anything is allocated, nesting depth is bounded, and every
//! failure is an error with the byte offset.

use thiserror::Error;

/// A decoded marshal object.
#[derive(Debug, Clone, PartialEq)]
pub enum MObj {
    /// `None` (also used for marshal's NULL, which never appears in our data).
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits in 64 bits.
    Int(i64),
    /// An int beyond 64 bits, as exact decimal text.
    BigInt(String),
    /// A float.
    Float(f64),
    /// A complex number.
    Complex(f64, f64),
    /// A `str` (lone surrogates, which UTF-8 cannot hold, become U+FFFD).
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<MObj>),
    /// A list.
    List(Vec<MObj>),
}

/// Why a marshal payload could not be decoded.
#[derive(Debug, Error, PartialEq)]
pub enum MarshalError {
    /// The payload ended inside an object.
    #[error("marshal data truncated at byte {0}")]
    Truncated(usize),
    /// A type code we do not send (or garbage).
    #[error("unsupported marshal type code 0x{code:02x} at byte {offset}")]
    BadType { code: u8, offset: usize },
    /// A back-reference to an object that was never stored.
    #[error("bad marshal back-reference {index} at byte {offset}")]
    BadRef { index: usize, offset: usize },
    /// Nesting deeper than any payload we produce.
    #[error("marshal data nested too deeply at byte {0}")]
    TooDeep(usize),
    /// A negative or absurd length.
    #[error("bad marshal length {len} at byte {offset}")]
    BadLength { len: i64, offset: usize },
}

const FLAG_REF: u8 = 0x80;
const MAX_DEPTH: usize = 64;

/// Decodes one marshal object from `data`; trailing bytes are an error.
pub fn decode(data: &[u8]) -> Result<MObj, MarshalError> {
    let mut d = Decoder {
        data,
        pos: 0,
        refs: Vec::new(),
    };
    let obj = d.object(0)?;
    if d.pos != data.len() {
        return Err(MarshalError::BadType {
            code: data[d.pos],
            offset: d.pos,
        });
    }
    Ok(obj)
}

/// What a chunk payload `(items, completions)` cut off by its sender's
/// death still holds: how many items and completions its lists announced,
/// and every one that arrived whole, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChunkPrefix {
    /// Items the first list's header announced (`None` if the cut came before it).
    pub announced: Option<usize>,
    /// The items decoded whole before the cut.
    pub items: Vec<MObj>,
    /// Completions the second list announced (`None` if the cut came before it).
    pub completions_announced: Option<usize>,
    /// The completions decoded whole before the cut.
    pub completions: Vec<MObj>,
}

/// Decodes the whole items and completions at the front of a truncated
/// chunk payload. A prefix of a marshal stream decodes exactly as the
/// stream would up to the first incomplete object (back-references only
/// point backwards), so nothing here differs from what the sender meant;
/// decoding stops at the first object that does not decode.
pub fn decode_chunk_prefix(data: &[u8]) -> ChunkPrefix {
    let mut d = Decoder {
        data,
        pos: 0,
        refs: Vec::new(),
    };
    let mut out = ChunkPrefix::default();
    // The outer 2-tuple's header (small or long form).
    let Ok(code) = d.u8() else { return out };
    if code & FLAG_REF != 0 {
        d.refs.push(None);
    }
    let two = match code & !FLAG_REF {
        b')' => d.u8().map(usize::from),
        b'(' => d.i32().map(|n| usize::try_from(n).unwrap_or(0)),
        _ => return out,
    };
    if two != Ok(2) {
        return out;
    }
    // Each list's count is checked against nothing here (the data is cut
    // short), so it is only ever reported, never allocated.
    let Some(n) = list_header(&mut d) else {
        return out;
    };
    out.announced = Some(n);
    for _ in 0..n {
        match d.object(1) {
            Ok(o) => out.items.push(o),
            Err(_) => return out,
        }
    }
    let Some(n) = list_header(&mut d) else {
        return out;
    };
    out.completions_announced = Some(n);
    for _ in 0..n {
        match d.object(1) {
            Ok(o) => out.completions.push(o),
            Err(_) => break,
        }
    }
    out
}

/// A list's header (type byte, count); its ref slot reserved as CPython does.
fn list_header(d: &mut Decoder<'_>) -> Option<usize> {
    let code = d.u8().ok()?;
    if code & !FLAG_REF != b'[' {
        return None;
    }
    if code & FLAG_REF != 0 {
        d.refs.push(None);
    }
    usize::try_from(d.i32().ok()?).ok()
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<Option<MObj>>,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MarshalError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(MarshalError::Truncated(self.data.len()))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, MarshalError> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, MarshalError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, MarshalError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// A length that must fit in the remaining input (`unit` bytes per element at least).
    fn len(&mut self, unit: usize) -> Result<usize, MarshalError> {
        let at = self.pos;
        let n = self.i32()?;
        let remaining = self.data.len() - self.pos;
        if n < 0 || (n as usize).saturating_mul(unit) > remaining {
            return Err(MarshalError::BadLength {
                len: i64::from(n),
                offset: at,
            });
        }
        Ok(n as usize)
    }

    fn object(&mut self, depth: usize) -> Result<MObj, MarshalError> {
        let at = self.pos;
        if depth > MAX_DEPTH {
            return Err(MarshalError::TooDeep(at));
        }
        let code = self.u8()?;
        let flag = code & FLAG_REF != 0;
        let ty = code & !FLAG_REF;
        // Containers reserve their slot before their children, as CPython does.
        let slot = if flag {
            self.refs.push(None);
            Some(self.refs.len() - 1)
        } else {
            None
        };
        let obj = match ty {
            b'N' | b'0' => MObj::None,
            b'T' => MObj::Bool(true),
            b'F' => MObj::Bool(false),
            b'i' => MObj::Int(i64::from(self.i32()?)),
            b'l' => self.long(at)?,
            b'g' => MObj::Float(self.f64()?),
            b'y' => {
                let re = self.f64()?;
                let im = self.f64()?;
                MObj::Complex(re, im)
            }
            b's' => {
                let n = self.len(1)?;
                MObj::Bytes(self.take(n)?.to_vec())
            }
            b'u' | b't' | b'a' | b'A' => {
                let n = self.len(1)?;
                MObj::Str(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            b'z' | b'Z' => {
                let n = usize::from(self.u8()?);
                MObj::Str(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            b'(' | b'[' => {
                let n = self.len(1)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.object(depth + 1)?);
                }
                if ty == b'(' {
                    MObj::Tuple(v)
                } else {
                    MObj::List(v)
                }
            }
            b')' => {
                let n = usize::from(self.u8()?);
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.object(depth + 1)?);
                }
                MObj::Tuple(v)
            }
            b'r' => {
                let idx = self.i32()?;
                let found = usize::try_from(idx)
                    .ok()
                    .and_then(|i| self.refs.get(i))
                    .and_then(|o| o.clone());
                return found.ok_or(MarshalError::BadRef {
                    index: idx.max(0) as usize,
                    offset: at,
                });
            }
            other => {
                return Err(MarshalError::BadType {
                    code: other,
                    offset: at,
                })
            }
        };
        if let Some(s) = slot {
            self.refs[s] = Some(obj.clone());
        }
        Ok(obj)
    }

    /// CPython's long: signed digit count, then base-2**15 digits, least significant first.
    fn long(&mut self, at: usize) -> Result<MObj, MarshalError> {
        let n = self.i32()?;
        let neg = n < 0;
        let count = n.unsigned_abs() as usize;
        if count.saturating_mul(2) > self.data.len() - self.pos {
            return Err(MarshalError::BadLength {
                len: i64::from(n),
                offset: at,
            });
        }
        let raw = self.take(count * 2)?;
        let digits: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        // Fits in i64? (at most 63 bits of magnitude, or exactly -2**63)
        let mut mag: u128 = 0;
        let mut fits = true;
        for &d in digits.iter().rev() {
            if mag > (u128::MAX >> 15) {
                fits = false;
                break;
            }
            mag = (mag << 15) | u128::from(d & 0x7fff);
            if mag > u128::from(u64::MAX) {
                fits = false;
                break;
            }
        }
        if fits {
            if !neg && mag <= i64::MAX as u128 {
                return Ok(MObj::Int(mag as i64));
            }
            if neg && mag <= (i64::MAX as u128) + 1 {
                return Ok(MObj::Int((mag as i128).wrapping_neg() as i64));
            }
        }
        Ok(MObj::BigInt(digits_to_decimal(&digits, neg)))
    }
}

/// Exact decimal text of a base-2**15 magnitude (least significant digit first).
fn digits_to_decimal(digits: &[u16], neg: bool) -> String {
    // Repeated division by 10**4 over base-2**15 limbs, most significant first.
    let mut limbs: Vec<u32> = digits
        .iter()
        .rev()
        .map(|&d| u32::from(d & 0x7fff))
        .collect();
    let mut chunks: Vec<u32> = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u32 = 0;
        for l in limbs.iter_mut() {
            let cur = (rem << 15) | *l;
            *l = cur / 10_000;
            rem = cur % 10_000;
        }
        chunks.push(rem);
        while limbs.first() == Some(&0) {
            limbs.remove(0);
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    match chunks.pop() {
        None => s.push('0'),
        Some(top) => s.push_str(&top.to_string()),
    }
    while let Some(c) = chunks.pop() {
        s.push_str(&format!("{c:04}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_scalars_decode() {
        assert_eq!(decode(b"N"), Ok(MObj::None));
        assert_eq!(decode(b"T"), Ok(MObj::Bool(true)));
        assert_eq!(decode(&[b'i', 0xff, 0xff, 0xff, 0xff]), Ok(MObj::Int(-1)));
    }

    #[test]
    fn big_int_digits_become_exact_decimal_text() {
        // 2**64 = digits (base 2**15): 0, 0, 0, 0, 16
        let mut b = vec![b'l'];
        b.extend_from_slice(&5i32.to_le_bytes());
        for d in [0u16, 0, 0, 0, 16] {
            b.extend_from_slice(&d.to_le_bytes());
        }
        assert_eq!(
            decode(&b),
            Ok(MObj::BigInt("18446744073709551616".to_string()))
        );
        b[1..5].copy_from_slice(&(-5i32).to_le_bytes());
        assert_eq!(
            decode(&b),
            Ok(MObj::BigInt("-18446744073709551616".to_string()))
        );
    }

    #[test]
    fn lengths_beyond_the_input_are_errors_not_allocations() {
        let mut b = vec![b'['];
        b.extend_from_slice(&i32::MAX.to_le_bytes());
        assert!(matches!(decode(&b), Err(MarshalError::BadLength { .. })));
    }

    #[test]
    fn a_cut_chunk_yields_its_whole_items_and_the_announced_count() {
        // marshal.dumps(([[0, 1000, 7], [0, 1001, 8]], [])) in CPython 3.12.
        let full: &[u8] = &[
            41, 2, 91, 2, 0, 0, 0, 91, 3, 0, 0, 0, 233, 0, 0, 0, 0, 233, 232, 3, 0, 0, 233, 7, 0,
            0, 0, 91, 3, 0, 0, 0, 114, 0, 0, 0, 0, 233, 233, 3, 0, 0, 233, 8, 0, 0, 0, 91, 0, 0, 0,
            0,
        ];
        let whole = decode(full).expect("the full payload decodes");
        let MObj::Tuple(parts) = whole else {
            panic!("not a tuple")
        };
        let MObj::List(items) = &parts[0] else {
            panic!("not a list")
        };
        assert_eq!(items.len(), 2);
        let mut seen = Vec::new();
        for end in 0..full.len() {
            let p = decode_chunk_prefix(&full[..end]);
            assert!(p.items.len() <= 2);
            assert_eq!(p.items[..], items[..p.items.len()], "cut at {end}");
            if end >= 7 {
                assert_eq!(p.announced, Some(2), "cut at {end}");
            }
            seen.push(p.items.len());
        }
        assert!(seen.contains(&1), "some cut keeps exactly the first item");
        let whole = decode_chunk_prefix(full);
        assert_eq!(whole.items.len(), 2);
        assert_eq!(whole.completions_announced, Some(0));
    }

    #[test]
    fn no_panic_on_any_prefix_or_garbage() {
        let good: &[u8] = &[
            0xa9, 2, 0xdb, 1, 0, 0, 0, 0xe9, 0, 0, 0, 0, b'r', 1, 0, 0, 0,
        ];
        for end in 0..good.len() {
            let _ = decode(&good[..end]);
        }
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut v = Vec::new();
            for _ in 0..(x % 40) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((x >> 16) as u8);
            }
            let _ = decode(&v);
            let _ = decode_chunk_prefix(&v);
        }
    }
}
