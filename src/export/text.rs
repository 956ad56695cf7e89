//! The text formats of `probe export`: JSON Lines (the stable schema of
//! `docs/JSONL.md`) and CSV (the Arrow columns, flattened; `docs/EXPORT.md`).
//!
//! Each block is formatted into its own byte buffer so that blocks can be
//! formatted in parallel and written in order.

use std::borrow::Cow;
use std::io::Write;

use crate::log::RecordBlock;
use crate::model::{ArrayValue, Dtype, Value};

use super::columns::COLUMNS;

/// The value of record `i`, borrowed when it lives in the block's `other`.
fn value_of(b: &RecordBlock, i: usize) -> Cow<'_, Value> {
    if let Some(v) = b.side(i) {
        return Cow::Borrowed(v);
    }
    Cow::Owned(b.value(i))
}

/// The value with subclass wrappers removed, and the outermost type name.
fn unwrap_sub(v: &Value) -> (Option<&str>, &Value) {
    let mut tn = None;
    let mut v = v;
    while let Value::Sub { type_name, base } = v {
        tn = tn.or(Some(type_name.as_str()));
        v = base;
    }
    (tn, v)
}

/// The `type_name` and `truncated` fields every format shares.
fn type_and_truncated<'a>(tn: Option<&'a str>, v: &'a Value) -> (Option<&'a str>, Option<bool>) {
    match v {
        Value::Str { truncated, .. } | Value::Bytes { truncated, .. } => (tn, Some(*truncated)),
        Value::Other {
            type_name,
            truncated,
            ..
        } => (tn.or(Some(type_name)), Some(*truncated)),
        Value::Error { exc_type, .. } => (tn.or(Some(exc_type)), None),
        Value::Array(a) => (tn.or(Some(&a.type_name)), Some(a.truncated)),
        _ => (tn, None),
    }
}

fn hex(data: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(char::from(H[usize::from(b >> 4)]));
        s.push(char::from(H[usize::from(b & 15)]));
    }
    s
}

/// A float as JSON: shortest round-trip number, non-finite as a string.
fn json_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"\"nan\"");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"\"inf\"" } else { b"\"-inf\"" });
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &f);
    }
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// `[e0, e1, …]` of an array's kept elements, flat in C order; complex
/// elements as `[re, im]`, bools as `true`/`false`.
fn json_array_data(out: &mut Vec<u8>, a: &ArrayValue) {
    out.push(b'[');
    for k in 0..a.len() {
        if k > 0 {
            out.push(b',');
        }
        if a.dtype.is_complex() {
            let (r, j) = a.get_complex(k).unwrap_or((f64::NAN, f64::NAN));
            out.push(b'[');
            json_f64(out, r);
            out.push(b',');
            json_f64(out, j);
            out.push(b']');
        } else if a.dtype.is_float() {
            json_f64(out, a.get_f64(k).unwrap_or(f64::NAN));
        } else if a.dtype == Dtype::Bool {
            let t = a.get_i64(k).unwrap_or(0) != 0;
            out.extend_from_slice(if t { b"true" } else { b"false" });
        } else if a.dtype == Dtype::Uint64 {
            // uint64 may exceed i64: read the raw word.
            let mut w = [0u8; 8];
            if let Some(b) = a.data.get(k * 8..k * 8 + 8) {
                w.copy_from_slice(b);
            }
            let _ = write!(out, "{}", u64::from_le_bytes(w));
        } else {
            let _ = write!(out, "{}", a.get_i64(k).unwrap_or(0));
        }
    }
    out.push(b']');
}

fn json_shape(out: &mut Vec<u8>, shape: &[u64]) {
    out.push(b'[');
    for (k, d) in shape.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let _ = write!(out, "{d}");
    }
    out.push(b']');
}

/// The `value` field of a JSON Lines row.
fn json_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Absent | Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(s) => json_str(out, s),
        Value::Float(f) => json_f64(out, *f),
        Value::Complex(r, j) => {
            out.push(b'[');
            json_f64(out, *r);
            out.push(b',');
            json_f64(out, *j);
            out.push(b']');
        }
        Value::Str { text, .. } => json_str(out, text),
        Value::Bytes { data, .. } => json_str(out, &hex(data)),
        Value::Sub { base, .. } => json_value(out, base),
        Value::Other { repr, .. } => json_str(out, repr),
        Value::Error { message, .. } => json_str(out, message),
        Value::Array(a) => {
            out.extend_from_slice(b"{\"dtype\":");
            json_str(out, a.dtype.name());
            out.extend_from_slice(b",\"shape\":");
            json_shape(out, &a.shape);
            out.extend_from_slice(b",\"data\":");
            json_array_data(out, a);
            out.push(b'}');
        }
    }
}

fn kept(b: &RecordBlock, keep: Option<&[bool]>, i: usize) -> bool {
    keep.is_none_or(|k| k.get(b.probe[i] as usize).copied().unwrap_or(false))
}

fn label(labels: &[String], p: u32) -> &str {
    labels.get(p as usize).map_or("?", String::as_str)
}

/// The block's rows as JSON Lines.
pub fn jsonl_block(
    b: &RecordBlock,
    labels: &[String],
    roles: &[&str],
    keep: Option<&[bool]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() * 160);
    for i in 0..b.len() {
        if !kept(b, keep, i) {
            continue;
        }
        let seq = b.seq_start + i as u64;
        let v = value_of(b, i);
        let (tn, inner) = unwrap_sub(&v);
        let (tn, truncated) = type_and_truncated(tn, inner);
        let _ = write!(out, "{{\"seq\":{seq},\"ts_ns\":{},\"probe\":", b.ts[i]);
        json_str(&mut out, label(labels, b.probe[i]));
        let _ = write!(
            out,
            ",\"role\":\"{}\",\"batch\":{},\"order\":{},\"thread\":{},\"status\":\"{}\",\"kind\":\"{}\",\"type_name\":",
            roles.get(b.probe[i] as usize).copied().unwrap_or("?"),
            seq.saturating_sub(u64::from(b.order[i])),
            b.order[i],
            b.thread[i],
            b.status[i].as_str(),
            inner.kind(),
        );
        match tn {
            Some(t) => json_str(&mut out, t),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"value\":");
        json_value(&mut out, inner);
        out.extend_from_slice(b",\"truncated\":");
        out.extend_from_slice(match truncated {
            None => b"null",
            Some(true) => b"true",
            Some(false) => b"false",
        });
        out.extend_from_slice(b"}\n");
    }
    out
}

/// The CSV header line.
pub fn csv_header() -> String {
    let mut s = COLUMNS.join(",");
    s.push('\n');
    s
}

/// A CSV field: quoted when it holds a comma, quote or line break, or is
/// empty (an empty string must not read as a missing value).
fn csv_text(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        for c in s.bytes() {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// A float as CSV: shortest round-trip digits; `NaN`, `inf`, `-inf`.
fn csv_f64(out: &mut Vec<u8>, f: f64) {
    let _ = write!(out, "{f:?}");
}

/// The block's rows as CSV lines (columns as in [`COLUMNS`]).
pub fn csv_block(
    b: &RecordBlock,
    labels: &[String],
    roles: &[&str],
    keep: Option<&[bool]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() * 80);
    let mut tmp = Vec::new();
    for i in 0..b.len() {
        if !kept(b, keep, i) {
            continue;
        }
        let seq = b.seq_start + i as u64;
        let v = value_of(b, i);
        let (tn, inner) = unwrap_sub(&v);
        let (tn, truncated) = type_and_truncated(tn, inner);
        let _ = write!(out, "{seq},{},", b.ts[i]);
        csv_text(&mut out, label(labels, b.probe[i]));
        let _ = write!(
            out,
            ",{},{},{},{},{},{},",
            roles.get(b.probe[i] as usize).copied().unwrap_or("?"),
            seq.saturating_sub(u64::from(b.order[i])),
            b.order[i],
            b.thread[i],
            b.status[i].as_str(),
            inner.kind(),
        );
        if let Some(t) = tn {
            csv_text(&mut out, t);
        }
        out.push(b',');
        // bool,int,float,real,imag,text,bytes
        match inner {
            Value::Bool(x) => {
                out.extend_from_slice(if *x { b"true,,,,,," } else { b"false,,,,,," })
            }
            Value::Int(x) => {
                let _ = write!(out, ",{x},,,,,");
            }
            Value::Float(f) => {
                out.extend_from_slice(b",,");
                csv_f64(&mut out, *f);
                out.extend_from_slice(b",,,,");
            }
            Value::Complex(r, j) => {
                out.extend_from_slice(b",,,");
                csv_f64(&mut out, *r);
                out.push(b',');
                csv_f64(&mut out, *j);
                out.extend_from_slice(b",,");
            }
            Value::BigInt(s)
            | Value::Str { text: s, .. }
            | Value::Other { repr: s, .. }
            | Value::Error { message: s, .. } => {
                out.extend_from_slice(b",,,,,");
                csv_text(&mut out, s);
                out.push(b',');
            }
            Value::Bytes { data, .. } => {
                out.extend_from_slice(b",,,,,,");
                csv_text(&mut out, &hex(data));
            }
            _ => out.extend_from_slice(b",,,,,,"),
        }
        out.push(b',');
        match truncated {
            Some(true) => out.extend_from_slice(b"true"),
            Some(false) => out.extend_from_slice(b"false"),
            None => {}
        }
        // dtype,shape,array,array_imag,array_int
        match inner {
            Value::Array(a) => {
                let _ = write!(out, ",{},", a.dtype.name());
                tmp.clear();
                json_shape(&mut tmp, &a.shape);
                csv_text(&mut out, &String::from_utf8_lossy(&tmp));
                let float_like = a.dtype.is_float() || a.dtype.is_complex();
                let mut list = |out: &mut Vec<u8>, f: &dyn Fn(usize, &mut Vec<u8>)| {
                    tmp.clear();
                    tmp.push(b'[');
                    for k in 0..a.len() {
                        if k > 0 {
                            tmp.push(b',');
                        }
                        f(k, &mut tmp);
                    }
                    tmp.push(b']');
                    csv_text(out, &String::from_utf8_lossy(&tmp));
                };
                out.push(b',');
                if float_like {
                    list(&mut out, &|k, t| {
                        json_f64(t, a.get_complex(k).map_or(f64::NAN, |c| c.0))
                    });
                }
                out.push(b',');
                if a.dtype.is_complex() {
                    list(&mut out, &|k, t| {
                        json_f64(t, a.get_complex(k).map_or(f64::NAN, |c| c.1))
                    });
                }
                out.push(b',');
                if !float_like {
                    list(&mut out, &|k, t| match a.get_i64(k) {
                        Some(x) => {
                            let _ = write!(t, "{x}");
                        }
                        None => t.extend_from_slice(b"null"),
                    });
                }
            }
            _ => out.extend_from_slice(b",,,,,"),
        }
        out.push(b'\n');
    }
    out
}
