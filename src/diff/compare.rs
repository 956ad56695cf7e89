//! Comparing two values under a tolerance.
//!
//! Numbers follow NumPy's `isclose` with trace A as the reference:
//! `|b - a| <= atol + rtol * |a|`; equal infinities are close, NaN is
//! close to NaN only with `nan_equal`. Complex numbers use the modulus of
//! the difference; arrays compare elementwise after their dtype, shape and
//! kept length agree. Everything else (text, bytes, reprs, errors, None)
//! must be equal exactly.

use crate::model::{ArrayValue, Value};

/// Tolerances of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to trace A's value).
    pub rtol: f64,
    /// NaN equals NaN.
    pub nan_equal: bool,
}

/// The outcome of comparing one pair of values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Within tolerance.
    pub equal: bool,
    /// Largest absolute difference (numbers and numeric arrays; finite only).
    pub abs: Option<f64>,
    /// Largest relative difference `|b - a| / |a|` (infinite when a is 0 and b is not).
    pub rel: Option<f64>,
    /// Why they differ, when they do.
    pub reason: Option<String>,
}

impl Outcome {
    fn differ(reason: String) -> Outcome {
        Outcome {
            equal: false,
            reason: Some(reason),
            ..Outcome::default()
        }
    }

    fn absorb(&mut self, abs: f64, rel: f64) {
        self.abs = Some(self.abs.map_or(abs, |m| m.max(abs)));
        self.rel = Some(self.rel.map_or(rel, |m| m.max(rel)));
    }
}

/// Whether two reals are close; and their (abs, rel) difference when both are finite.
pub fn close_f64(a: f64, b: f64, t: &Tolerance) -> (bool, Option<(f64, f64)>) {
    if a.is_nan() || b.is_nan() {
        return (t.nan_equal && a.is_nan() && b.is_nan(), None);
    }
    if a == b {
        return (true, Some((0.0, 0.0)));
    }
    if !a.is_finite() || !b.is_finite() {
        return (false, None);
    }
    let d = (b - a).abs();
    let rel = if a != 0.0 { d / a.abs() } else { f64::INFINITY };
    (d <= t.atol + t.rtol * a.abs(), Some((d, rel)))
}

/// Whether two integers are close: equal, or (with a tolerance) their
/// exact difference within it — never through `f64` alone, where two ints
/// beyond 2^53 that differ round to the same float.
pub fn close_ints(a: i128, b: i128, t: &Tolerance) -> (bool, Option<(f64, f64)>) {
    if a == b {
        return (true, Some((0.0, 0.0)));
    }
    // At least 1: the rounding of a u128 never reaches 0.
    let d = a.abs_diff(b) as f64;
    let m = (a as f64).abs();
    let rel = if a != 0 { d / m } else { f64::INFINITY };
    (d <= t.atol + t.rtol * m, Some((d, rel)))
}

/// An int value (an `Int`, or a `BigInt` within 128 bits) exactly.
fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::BigInt(s) => s.parse().ok(),
        _ => None,
    }
}

/// Whether two complex numbers are close (modulus of the difference).
pub fn close_complex(a: (f64, f64), b: (f64, f64), t: &Tolerance) -> (bool, Option<(f64, f64)>) {
    let nan_a = a.0.is_nan() || a.1.is_nan();
    let nan_b = b.0.is_nan() || b.1.is_nan();
    if nan_a || nan_b {
        return (t.nan_equal && nan_a && nan_b, None);
    }
    if a == b {
        return (true, Some((0.0, 0.0)));
    }
    if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
        return (false, None);
    }
    let d = (b.0 - a.0).hypot(b.1 - a.1);
    let m = a.0.hypot(a.1);
    let rel = if m != 0.0 { d / m } else { f64::INFINITY };
    (d <= t.atol + t.rtol * m, Some((d, rel)))
}

fn numeric(o: &mut Outcome, (ok, d): (bool, Option<(f64, f64)>)) -> bool {
    if let Some((abs, rel)) = d {
        o.absorb(abs, rel);
    }
    ok
}

/// Short rendering of a value for reports (`1.5`, `'text'`, `array<float64>[3] …`).
pub fn show(v: &Value) -> String {
    fn cut(s: &str) -> String {
        if s.chars().count() > 60 {
            let t: String = s.chars().take(57).collect();
            format!("{t}…")
        } else {
            s.to_string()
        }
    }
    match v {
        Value::Absent => "-".into(),
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(s) => cut(s),
        Value::Float(f) => fmt_f64(*f),
        Value::Complex(r, i) => format!(
            "({}{}{}j)",
            fmt_f64(*r),
            if *i < 0.0 || i.is_sign_negative() {
                ""
            } else {
                "+"
            },
            fmt_f64(*i)
        ),
        Value::Str { text, .. } => cut(&format!("{text:?}")),
        Value::Bytes { data, .. } => cut(&format!("b{:?}", String::from_utf8_lossy(data))),
        Value::Sub { type_name, base } => format!("{type_name}({})", show(base)),
        Value::Other { repr, .. } => cut(repr),
        Value::Error { exc_type, message } => cut(&format!("<{exc_type}: {message}>")),
        Value::Array(a) => {
            let elems: Vec<String> = (0..a.len().min(4)).map(|i| elem(a, i)).collect();
            format!(
                "{}<{}>{:?}[{}{}]",
                a.type_name,
                a.dtype.name(),
                a.shape,
                elems.join(", "),
                if a.len() > 4 || a.truncated {
                    ", …"
                } else {
                    ""
                }
            )
        }
    }
}

/// A float as Python would print it (`1.0`, `nan`, `inf`, `1e-07`-ish).
pub fn fmt_f64(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f:?}")
    }
}

fn elem(a: &ArrayValue, i: usize) -> String {
    if a.dtype.is_complex() {
        let (r, j) = a.get_complex(i).unwrap_or((f64::NAN, f64::NAN));
        show(&Value::Complex(r, j))
    } else if a.dtype.is_float() {
        fmt_f64(a.get_f64(i).unwrap_or(f64::NAN))
    } else {
        a.get_i64(i).map_or_else(
            || fmt_f64(a.get_f64(i).unwrap_or(f64::NAN)),
            |x| x.to_string(),
        )
    }
}

/// C-order index of flat element `k` in `shape`.
fn unravel(mut k: u64, shape: &[u64]) -> Vec<u64> {
    let mut idx = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[d] = k % n;
            k /= n;
        }
    }
    idx
}

fn compare_arrays(a: &ArrayValue, b: &ArrayValue, t: &Tolerance) -> Outcome {
    if a.dtype != b.dtype {
        return Outcome::differ(format!("dtype {} vs {}", a.dtype.name(), b.dtype.name()));
    }
    if a.shape != b.shape {
        return Outcome::differ(format!("shape {:?} vs {:?}", a.shape, b.shape));
    }
    if a.len() != b.len() {
        return Outcome::differ(format!(
            "{} vs {} elements kept (truncated arrays)",
            a.len(),
            b.len()
        ));
    }
    let mut o = Outcome {
        equal: true,
        ..Outcome::default()
    };
    let exact_ints = !(a.dtype.is_float() || a.dtype.is_complex());
    for k in 0..a.len() {
        let ok = if a.dtype.is_complex() {
            let (x, y) = (a.get_complex(k), b.get_complex(k));
            numeric(
                &mut o,
                close_complex(
                    x.unwrap_or((f64::NAN, f64::NAN)),
                    y.unwrap_or((f64::NAN, f64::NAN)),
                    t,
                ),
            )
        } else if let (true, Some(x), Some(y)) = (exact_ints, a.get_int(k), b.get_int(k)) {
            numeric(&mut o, close_ints(x, y, t))
        } else {
            numeric(
                &mut o,
                close_f64(
                    a.get_f64(k).unwrap_or(f64::NAN),
                    b.get_f64(k).unwrap_or(f64::NAN),
                    t,
                ),
            )
        };
        if !ok && o.equal {
            o.equal = false;
            o.reason = Some(format!(
                "element {:?}: {} vs {}",
                unravel(k as u64, &a.shape),
                elem(a, k),
                elem(b, k)
            ));
        }
    }
    o
}

/// Compare two values (A is the reference).
pub fn compare(a: &Value, b: &Value, t: &Tolerance) -> Outcome {
    let mut o = Outcome {
        equal: true,
        ..Outcome::default()
    };
    let ok = match (a, b) {
        (Value::Float(x), Value::Float(y)) => numeric(&mut o, close_f64(*x, *y, t)),
        (Value::Int(_) | Value::BigInt(_), Value::Int(_) | Value::BigInt(_)) => {
            if let (Some(x), Some(y)) = (int_of(a), int_of(b)) {
                numeric(&mut o, close_ints(x, y, t))
            } else {
                // Beyond 128 bits: equal as text, else at least 1 apart.
                let text = |v: &Value| match v {
                    Value::Int(i) => i.to_string(),
                    Value::BigInt(s) => s.clone(),
                    _ => String::new(),
                };
                if text(a) == text(b) {
                    o.absorb(0.0, 0.0);
                    true
                } else {
                    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
                    let (x, y) = (f(a), f(b));
                    if x.is_finite() && y.is_finite() {
                        let d = (y - x).abs().max(1.0);
                        let m = x.abs();
                        let rel = if m != 0.0 { d / m } else { f64::INFINITY };
                        numeric(&mut o, (d <= t.atol + t.rtol * m, Some((d, rel))))
                    } else {
                        false
                    }
                }
            }
        }
        (Value::Bool(x), Value::Bool(y)) => {
            o.absorb(if x == y { 0.0 } else { 1.0 }, 0.0);
            x == y
        }
        (Value::Complex(r1, i1), Value::Complex(r2, i2)) => {
            numeric(&mut o, close_complex((*r1, *i1), (*r2, *i2), t))
        }
        (Value::Array(x), Value::Array(y)) => return compare_arrays(x, y, t),
        (
            Value::Sub {
                type_name: n1,
                base: b1,
            },
            Value::Sub {
                type_name: n2,
                base: b2,
            },
        ) => {
            if n1 != n2 {
                return Outcome::differ(format!("type {n1} vs {n2}"));
            }
            return compare(b1, b2, t);
        }
        _ if a.kind() != b.kind() || std::mem::discriminant(a) != std::mem::discriminant(b) => {
            return Outcome::differ(format!("{} vs {}", type_label(a), type_label(b)));
        }
        _ => a == b,
    };
    if !ok {
        o.equal = false;
        let both_nan =
            matches!((a, b), (Value::Float(x), Value::Float(y)) if x.is_nan() && y.is_nan());
        o.reason = Some(if both_nan {
            "nan vs nan (NaN never equals NaN unless --nan-equal)".to_string()
        } else {
            format!("{} vs {}", show(a), show(b))
        });
    }
    o
}

fn type_label(v: &Value) -> String {
    match v {
        Value::Sub { type_name, .. } | Value::Other { type_name, .. } => type_name.clone(),
        Value::Array(a) => format!("{}<{}>", a.type_name, a.dtype.name()),
        v => v.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dtype;

    const EXACT: Tolerance = Tolerance {
        atol: 0.0,
        rtol: 0.0,
        nan_equal: false,
    };

    fn ulp_up(x: f64) -> f64 {
        f64::from_bits(x.to_bits() + 1)
    }

    #[test]
    fn ints_that_round_to_one_float_still_differ_without_a_tolerance() {
        // 2^63 - 256 and 2^63 - 255 are the same f64.
        let (x, y) = (0x7fff_ffff_ffff_ff00_i64, 0x7fff_ffff_ffff_ff01_i64);
        assert_eq!(x as f64, y as f64);
        let o = compare(&Value::Int(x), &Value::Int(y), &EXACT);
        assert!(!o.equal, "{o:?}");
        assert_eq!(o.abs, Some(1.0));
        // 2^53 + 1 against 2^53; 2^70 + 1 against 2^70 (BigInt).
        assert!(!compare(&Value::Int((1 << 53) + 1), &Value::Int(1 << 53), &EXACT).equal);
        let big = |s: &str| Value::BigInt(s.into());
        assert!(
            !compare(
                &big("1180591620717411303425"),
                &big("1180591620717411303424"),
                &EXACT
            )
            .equal
        );
        assert!(
            compare(
                &big("1180591620717411303424"),
                &big("1180591620717411303424"),
                &EXACT
            )
            .equal
        );
        // Beyond 128 bits too.
        let huge = "1".repeat(45);
        let mut huge2 = huge.clone();
        huge2.replace_range(44.., "2");
        assert!(!compare(&big(&huge), &big(&huge2), &EXACT).equal);
        // With a tolerance the exact difference counts.
        let t = Tolerance { atol: 1.0, ..EXACT };
        assert!(compare(&Value::Int(x), &Value::Int(y), &t).equal);
        assert!(!compare(&Value::Int(x), &Value::Int(x - 2), &t).equal);
    }

    #[test]
    fn int64_and_uint64_array_elements_compare_exactly() {
        let arr = |dtype: Dtype, words: &[u64]| {
            Value::Array(ArrayValue {
                type_name: "numpy.ndarray".into(),
                dtype,
                shape: vec![words.len() as u64],
                truncated: false,
                data: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
            })
        };
        let a = arr(Dtype::Int64, &[0x7fff_ffff_ffff_ff00]);
        let b = arr(Dtype::Int64, &[0x7fff_ffff_ffff_ff01]);
        assert!(!compare(&a, &b, &EXACT).equal);
        let a = arr(Dtype::Uint64, &[(1 << 63) + 5]);
        let b = arr(Dtype::Uint64, &[(1 << 63) + 6]);
        let o = compare(&a, &b, &EXACT);
        assert!(!o.equal, "{o:?}");
        assert!(compare(&a, &a, &EXACT).equal);
    }

    #[test]
    fn one_ulp_differs_exactly_and_passes_with_rtol() {
        let a = Value::Float(0.1);
        let b = Value::Float(ulp_up(0.1));
        let o = compare(&a, &b, &EXACT);
        assert!(!o.equal);
        assert!(o.abs.is_some_and(|d| d > 0.0 && d < 1e-16));
        let t = Tolerance {
            rtol: 1e-15,
            ..EXACT
        };
        assert!(compare(&a, &b, &t).equal);
    }

    #[test]
    fn nan_needs_nan_equal_and_infinities_match_themselves() {
        let nan = Value::Float(f64::NAN);
        assert!(!compare(&nan, &nan, &EXACT).equal);
        let t = Tolerance {
            nan_equal: true,
            ..EXACT
        };
        assert!(compare(&nan, &nan, &t).equal);
        assert!(!compare(&nan, &Value::Float(1.0), &t).equal);
        let inf = Value::Float(f64::INFINITY);
        assert!(compare(&inf, &inf, &EXACT).equal);
        assert!(!compare(&inf, &Value::Float(f64::NEG_INFINITY), &t).equal);
        assert!(compare(&Value::Float(0.0), &Value::Float(-0.0), &EXACT).equal);
    }

    #[test]
    fn atol_and_rtol_follow_isclose_with_a_as_reference() {
        let t = Tolerance {
            atol: 0.5,
            rtol: 0.1,
            nan_equal: false,
        };
        // |b - a| <= 0.5 + 0.1 * |a| = 1.5 for a = 10.
        assert!(compare(&Value::Float(10.0), &Value::Float(11.5), &t).equal);
        assert!(!compare(&Value::Float(10.0), &Value::Float(11.6), &t).equal);
        let o = compare(&Value::Int(10), &Value::Int(12), &t);
        assert!(!o.equal);
        assert_eq!(o.abs, Some(2.0));
        assert_eq!(o.rel, Some(0.2));
    }

    #[test]
    fn complex_uses_the_modulus() {
        let t = Tolerance { atol: 5.0, ..EXACT };
        let o = compare(&Value::Complex(0.0, 0.0), &Value::Complex(3.0, 4.0), &t);
        assert!(o.equal);
        assert_eq!(o.abs, Some(5.0));
        assert!(!compare(&Value::Complex(0.0, 0.0), &Value::Complex(3.0, 4.1), &t).equal);
    }

    fn f64_array(shape: Vec<u64>, xs: &[f64]) -> Value {
        Value::Array(ArrayValue {
            type_name: "ndarray".into(),
            dtype: Dtype::Float64,
            shape,
            data: xs.iter().flat_map(|x| x.to_le_bytes()).collect(),
            truncated: false,
        })
    }

    #[test]
    fn arrays_compare_elementwise_and_name_the_element() {
        let a = f64_array(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let b = f64_array(vec![2, 2], &[1.0, 2.0, 3.0, 4.25]);
        let o = compare(&a, &b, &EXACT);
        assert!(!o.equal);
        assert_eq!(o.reason.as_deref(), Some("element [1, 1]: 4.0 vs 4.25"));
        assert_eq!(o.abs, Some(0.25));
        let t = Tolerance {
            atol: 0.25,
            ..EXACT
        };
        assert!(compare(&a, &b, &t).equal);
        let c = f64_array(vec![4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            compare(&a, &c, &t).reason.as_deref(),
            Some("shape [2, 2] vs [4]")
        );
    }

    #[test]
    fn kinds_and_text_must_match_exactly() {
        let s = |t: &str| Value::Str {
            text: t.into(),
            truncated: false,
        };
        assert!(compare(&s("a"), &s("a"), &EXACT).equal);
        assert!(!compare(&s("a"), &s("b"), &EXACT).equal);
        let o = compare(&Value::Int(1), &Value::Float(1.0), &EXACT);
        assert_eq!(o.reason.as_deref(), Some("int vs float"));
        assert!(
            compare(
                &Value::BigInt("18446744073709551616".into()),
                &Value::BigInt("18446744073709551616".into()),
                &EXACT
            )
            .equal
        );
    }
}
