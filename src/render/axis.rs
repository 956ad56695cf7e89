//! Axis ranges and tick labels every chart uses — safe for any data.
//!
//! Plotting libraries compute tick positions by stepping through the axis
//! range in floating point. A range whose span is infinite (data from
//! −1.7e308 to 1.7e308), not finite, or tiny against its magnitude (a few
//! ulps at 1e308) makes that stepping loop forever or overflow. So no chart
//! is built from raw data bounds: [`Axis::new`] turns any bounds into a
//! range that is finite, at least a billionth of its magnitude wide, and
//! padded, with a power-of-ten `scale` by which values are divided when
//! their magnitude is near the top of `f64` (labels multiply it back).
//! Values that are not finite never set a range: they are gaps.

/// A chart axis: the range in plotted units and the factor from plotted
/// units back to data units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Lower end, in plotted units (data / `scale`).
    pub lo: f64,
    /// Upper end, in plotted units.
    pub hi: f64,
    /// Data value = plotted value × `scale` (1 except near `f64::MAX`).
    pub scale: f64,
}

/// Magnitudes at or above this are plotted scaled (so padding, spans and
/// tick steps never overflow).
const SCALE_ABOVE: f64 = 1e150;

impl Axis {
    /// The axis for finite data bounds `lo..=hi` (`None`: no finite data),
    /// padded by `pad` of the span on each side.
    pub fn new(bounds: Option<(f64, f64)>, pad: f64) -> Axis {
        let (lo, hi) = match bounds {
            Some((a, b)) if a.is_finite() && b.is_finite() && a <= b => (a, b),
            _ => (0.0, 1.0),
        };
        let mag = lo.abs().max(hi.abs());
        let scale = if mag >= SCALE_ABOVE {
            10f64.powi(mag.log10().floor() as i32)
        } else {
            1.0
        };
        let (lo, hi) = (lo / scale, hi / scale);
        let mag = lo.abs().max(hi.abs());
        // Tiny spans (a constant, or a few ulps apart) are widened around
        // their middle, so a tick step is always many ulps.
        let min_span = (mag * 1e-9).max(1e-300);
        let (lo, hi) = if hi - lo < min_span {
            let mid = lo / 2.0 + hi / 2.0;
            let d = if mag == 0.0 {
                1.0
            } else {
                (mag * 0.1).max(1e-100)
            };
            (mid - d, mid + d)
        } else {
            let p = (hi - lo) * pad;
            (lo - p, hi + p)
        };
        // Widening must not carry an end past the largest double: its
        // label would read `inf` (a constant 1.7e308 gave "inf, inf").
        let top = f64::MAX / scale;
        let (lo, hi) = (lo.max(-top), hi.min(top));
        Axis { lo, hi, scale }
    }

    /// Where data value `v` falls between the axis ends, 0..=1 (outside
    /// for values beyond them), computed in plotted units so that a span
    /// wider than the largest double (−1.7e308..1.7e308) does not overflow
    /// to infinity and flatten every value to 0.
    pub fn fraction(&self, v: f64) -> f64 {
        (self.to_plot(v) - self.lo) / (self.hi - self.lo)
    }

    /// The axis of a fixed range (e.g. a bool's −0.15..1.15).
    pub fn fixed(lo: f64, hi: f64) -> Axis {
        Axis { lo, hi, scale: 1.0 }
    }

    /// A data value in plotted units.
    #[inline]
    pub fn to_plot(&self, v: f64) -> f64 {
        v / self.scale
    }

    /// The label of a tick at plotted value `v`: the data value, exactly
    /// `0` for the rounding residue of a tick at zero, and otherwise in the
    /// one format the whole axis uses ([`Axis::tick_format`]) — never
    /// `-0.001` next to `5e-4`, or `5000` next to `10,000`.
    pub fn label(&self, v: f64) -> String {
        // Compared in plotted units: the span in data units may overflow.
        if v.abs() <= (self.hi - self.lo).abs() * 1e-9 {
            return "0".into();
        }
        self.tick_format().write(v * self.scale)
    }

    /// How this axis writes its ticks, decided once from its range: exponent
    /// form when its magnitude is beyond what [`crate::text::num`] writes
    /// plainly (below 1e-4 or from 1e15), else plain decimals; as many
    /// digits as tell ticks a tenth of the span apart, and thousands
    /// separators on every label once the axis reaches 10,000.
    pub fn tick_format(&self) -> TickFormat {
        let mag = self.lo.abs().max(self.hi.abs());
        let span = (self.hi - self.lo).abs();
        // In data units; near f64::MAX (scale > 1) only the exponents matter.
        let mag_log = mag.log10() + self.scale.log10();
        let step_log = (span / 10.0).log10() + self.scale.log10();
        if !mag_log.is_finite() || !step_log.is_finite() {
            return TickFormat::Exponent { digits: 2 };
        }
        if !(-4.0..15.0).contains(&mag_log) {
            let digits = (mag_log.floor() - step_log.floor()).clamp(0.0, 6.0) as usize;
            return TickFormat::Exponent { digits };
        }
        let decimals = (-step_log.floor()).clamp(0.0, 17.0) as usize;
        TickFormat::Plain {
            decimals,
            group: mag_log >= 4.0,
        }
    }
}

/// The format every tick label of one axis is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickFormat {
    /// `2.5e-6`: mantissa with up to `digits` decimals, trailing zeros dropped.
    Exponent {
        /// Decimals of the mantissa at most.
        digits: usize,
    },
    /// `0.0005`, `12,500`: up to `decimals` decimals, trailing zeros dropped.
    Plain {
        /// Decimals at most.
        decimals: usize,
        /// Thousands separators in the integer part.
        group: bool,
    },
}

impl TickFormat {
    /// `v` in this format.
    pub fn write(self, v: f64) -> String {
        if !v.is_finite() {
            return format!("{v}");
        }
        let trim = |s: String| -> String {
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        };
        match self {
            TickFormat::Exponent { digits } => {
                let s = format!("{v:.digits$e}");
                match s.split_once('e') {
                    Some((m, e)) => format!("{}e{e}", trim(m.to_string())),
                    None => s,
                }
            }
            TickFormat::Plain { decimals, group } => {
                let s = trim(format!("{v:.decimals$}"));
                let s = if s == "-0" { "0".to_string() } else { s };
                if !group {
                    return s;
                }
                let (sign, rest) = match s.strip_prefix('-') {
                    Some(r) => ("-", r),
                    None => ("", s.as_str()),
                };
                let (int, frac) = match rest.split_once('.') {
                    Some((i, f)) => (i, Some(f)),
                    None => (rest, None),
                };
                let int = int
                    .parse::<u64>()
                    .map_or_else(|_| int.to_string(), thousands);
                match frac {
                    Some(f) => format!("{sign}{int}.{f}"),
                    None => format!("{sign}{int}"),
                }
            }
        }
    }
}

/// Finite min/max of some columns' first `count` values.
pub fn finite_bounds<'a>(cols: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for col in cols {
        for &v in col {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// Axis labels: up to six significant digits, no trailing zeros,
/// exponent form for very large or very small magnitudes.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e4..1e10).contains(&a) && v.fract() == 0.0 {
        // Whole numbers (capture indices, counters) with separators.
        let t = thousands(a as u64);
        return if v < 0.0 { format!("-{t}") } else { t };
    }
    if !(1e-3..1e6).contains(&a) {
        // 1.50e6 → 1.5e6, 2.00e6 → 2e6
        let s = format!("{v:.2e}");
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        };
    }
    let digits = 6 - (a.log10().floor() as i32 + 1);
    let s = format!("{:.*}", digits.max(0) as usize, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub use crate::text::thousands;

#[cfg(test)]
mod tests {
    use super::*;

    fn sane(a: &Axis) {
        assert!(a.lo.is_finite() && a.hi.is_finite() && a.hi > a.lo, "{a:?}");
        let span = a.hi - a.lo;
        assert!(span.is_finite());
        assert!(span >= a.lo.abs().max(a.hi.abs()) * 1e-10, "{a:?}");
    }

    #[test]
    fn any_bounds_give_a_finite_wide_enough_axis() {
        let m = f64::MAX;
        for b in [
            None,
            Some((0.0, 0.0)),
            Some((5.0, 5.0)),
            Some((-m, m)),
            Some((m, m)),
            Some((-m, -m)),
            Some((1e308, f64::from_bits(1e308f64.to_bits() + 3))),
            Some((f64::MIN_POSITIVE, f64::MIN_POSITIVE * 2.0)),
            Some((-1e-320, 1e-320)),
            Some((f64::NAN, 1.0)),
            Some((1.0, f64::INFINITY)),
            Some((3.0, 1.0)),
        ] {
            let a = Axis::new(b, 0.05);
            sane(&a);
            // The ends' labels are numbers, never `inf`.
            for end in [a.lo, a.hi] {
                assert!(
                    !a.label(end).contains("inf"),
                    "{b:?} {a:?}: {}",
                    a.label(end)
                );
            }
            if let Some((lo, hi)) = b.filter(|(l, h)| l.is_finite() && h.is_finite() && l <= h) {
                assert!(
                    a.to_plot(lo) >= a.lo && a.to_plot(hi) <= a.hi,
                    "{b:?} {a:?}"
                );
            }
        }
    }

    /// A heatmap's colour scale over values spanning more than a double:
    /// distinct values get distinct places (they all got 0, the minimum
    /// colour), and a constant 1.7e308 gets finite colour-bar labels.
    #[test]
    fn fractions_span_more_than_a_double() {
        let a = Axis::new(Some((-1.7e308, 1.7e308)), 0.0);
        let f: Vec<f64> = [1.7e308, -1.7e308, 1.0, 0.0]
            .iter()
            .map(|v| a.fraction(*v))
            .collect();
        assert_eq!(f[0], 1.0, "{f:?}");
        assert_eq!(f[1], 0.0, "{f:?}");
        assert!(
            (f[2] - 0.5).abs() < 1e-9 && (f[3] - 0.5).abs() < 1e-9,
            "{f:?}"
        );
        assert!(f.iter().all(|x| x.is_finite()));
        let c = Axis::new(Some((1.7e308, 1.7e308)), 0.0);
        // (Labels keep three significant digits: the top reads 1.8e308.)
        for end in [c.lo, c.hi] {
            assert!(!c.label(end).contains("inf"), "{}", c.label(end));
            assert!((end * c.scale).is_finite());
        }
    }

    #[test]
    fn a_tick_at_zero_reads_zero() {
        let a = Axis::new(Some((-1.0, 1.0)), 0.0);
        assert_eq!(a.label(-1.11e-16), "0");
        assert_eq!(a.label(0.5), "0.5");
        let big = Axis::new(Some((-f64::MAX, f64::MAX)), 0.0);
        assert!(big.scale > 1.0);
        assert_eq!(big.label(1.0), fmt_num(big.scale));
    }

    /// Every tick of one axis in one format: a range from -0.001 to
    /// 0.0005 once read `-0.001` and `5e-4` side by side.
    #[test]
    fn the_ticks_of_one_axis_share_one_format() {
        let a = Axis::fixed(-0.0012, 0.0006);
        let labels: Vec<String> = [-0.001, -0.0005, 0.0005]
            .iter()
            .map(|&v| a.label(v))
            .collect();
        assert_eq!(labels, ["-0.001", "-0.0005", "0.0005"]);
        let a = Axis::fixed(0.0, 12_000.0);
        let labels: Vec<String> = [5000.0, 10_000.0].iter().map(|&v| a.label(v)).collect();
        assert_eq!(labels, ["5,000", "10,000"]);
        let a = Axis::fixed(0.0, 3e-5);
        let labels: Vec<String> = [5e-6, 1e-5, 2.5e-5].iter().map(|&v| a.label(v)).collect();
        assert_eq!(labels, ["5e-6", "1e-5", "2.5e-5"]);
        let a = Axis::fixed(0.0, 1.0);
        let labels: Vec<String> = [0.2, 0.30000000000000004, 1.0]
            .iter()
            .map(|&v| a.label(v))
            .collect();
        assert_eq!(labels, ["0.2", "0.3", "1"]);
        let a = Axis::fixed(-2.5e15, 2.5e15);
        assert_eq!(a.label(1e15), "1e15");
        assert_eq!(a.label(-2e15), "-2e15");
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(fmt_num(9.0), "9");
        assert_eq!(fmt_num(7.199999999), "7.2");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(fmt_num(1234567.5), "1.23e6");
        assert_eq!(fmt_num(2e6), "2,000,000");
        assert_eq!(fmt_num(-40000.0), "-40,000");
        assert_eq!(fmt_num(2.5e12), "2.5e12");
        assert_eq!(fmt_num(1.5e-4), "1.5e-4");
        assert_eq!(fmt_num(0.0), "0");
    }
}
