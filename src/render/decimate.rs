//! Decimation that is exact at the output resolution (M4).
//!
//! A 1-pixel polyline drawn through many points that fall into the same
//! pixel column paints, in that column, exactly the vertical span from the
//! lowest to the highest of them (consecutive vertical segments overlap at
//! their ends, so their union is one span), and it enters and leaves the
//! column through its first and last point. So keeping, for every run of
//! consecutive points with the same pixel column, only the first, the
//! minimum, the maximum and the last point draws the same pixels as drawing
//! all of them. The columns are computed with the very function the chart
//! uses to place points (`px`), not an estimate of it, so bins are the
//! pixel columns of the exact plotted x-range.
//!
//! A point without a finite y (a gap: unbound, error, text, NaN) ends the
//! polyline; the next finite point starts a new one. Lines are never drawn
//! across gaps, and a decimated column never spans one.

/// A point of a plotted series.
pub type Point = (f64, f64);

/// The polylines of a series: maximal runs of consecutive finite points.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Polylines {
    /// Each run's points (after decimation when asked for).
    pub runs: Vec<Vec<Point>>,
    /// Points the input had (finite ones).
    pub input_points: u64,
}

impl Polylines {
    /// Points kept over all runs.
    pub fn kept_points(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }
}

/// Per-column state of the M4 reduction.
#[derive(Clone, Copy)]
struct Column {
    px: i32,
    first: (u64, Point),
    last: (u64, Point),
    min: (u64, Point),
    max: (u64, Point),
}

impl Column {
    fn new(px: i32, k: u64, p: Point) -> Self {
        Column {
            px,
            first: (k, p),
            last: (k, p),
            min: (k, p),
            max: (k, p),
        }
    }

    fn add(&mut self, k: u64, p: Point) {
        self.last = (k, p);
        if p.1 < self.min.1 .1 {
            self.min = (k, p);
        }
        if p.1 > self.max.1 .1 {
            self.max = (k, p);
        }
    }

    /// Append first, min, max, last in input order, each point once.
    fn flush(&self, out: &mut Vec<Point>) {
        let mut pts = [self.first, self.min, self.max, self.last];
        pts.sort_by_key(|(k, _)| *k);
        let mut prev = None;
        for (k, p) in pts {
            if prev != Some(k) {
                out.push(p);
                prev = Some(k);
            }
        }
    }
}

/// The polylines under construction.
struct Acc {
    out: Polylines,
    run: Vec<Point>,
    col: Option<Column>,
}

impl Acc {
    fn new() -> Self {
        Acc {
            out: Polylines::default(),
            run: Vec::new(),
            col: None,
        }
    }

    /// A finite point `k` in pixel column `x`.
    fn point(&mut self, k: u64, p: Point, x: i32) {
        self.out.input_points += 1;
        match &mut self.col {
            Some(c) if c.px == x => c.add(k, p),
            _ => {
                if let Some(c) = self.col.take() {
                    c.flush(&mut self.run);
                }
                self.col = Some(Column::new(x, k, p));
            }
        }
    }

    /// A whole column of `n` finite points, already reduced.
    fn column(&mut self, c: Column, n: u64) {
        self.out.input_points += n;
        match &mut self.col {
            Some(cur) if cur.px == c.px => {
                cur.add(c.min.0, c.min.1);
                cur.add(c.max.0, c.max.1);
                cur.add(c.last.0, c.last.1);
            }
            _ => {
                if let Some(cur) = self.col.take() {
                    cur.flush(&mut self.run);
                }
                self.col = Some(c);
            }
        }
    }

    /// A point without a value: the polyline ends here.
    fn gap(&mut self) {
        if let Some(c) = self.col.take() {
            c.flush(&mut self.run);
        }
        if !self.run.is_empty() {
            self.out.runs.push(std::mem::take(&mut self.run));
        }
    }

    fn finish(mut self) -> Polylines {
        self.gap();
        self.out
    }
}

/// Split `points` into polylines at gaps and, when `decimate` is set,
/// reduce each run to at most four points per pixel column, where `px`
/// maps an x value to its pixel column exactly as the chart does.
pub fn polylines(
    points: impl IntoIterator<Item = Point>,
    px: impl Fn(f64) -> i32,
    decimate: bool,
) -> Polylines {
    if !decimate {
        let mut out = Polylines::default();
        let mut run = Vec::new();
        for p in points {
            if p.0.is_finite() && p.1.is_finite() {
                out.input_points += 1;
                run.push(p);
            } else if !run.is_empty() {
                out.runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            out.runs.push(run);
        }
        return out;
    }
    let mut acc = Acc::new();
    for (k, p) in points.into_iter().enumerate() {
        if p.0.is_finite() && p.1.is_finite() {
            acc.point(k as u64, p, px(p.0));
        } else {
            acc.gap();
        }
    }
    acc.finish()
}

/// Minimum and maximum of every block of [`BlockIndex::BLOCK`] values of a
/// series, computed once and shared by every frame of a replay: frames only
/// ever show longer prefixes of the same history, so a pixel column
/// spanning many blocks is reduced from the block summaries instead of
/// rescanning its values. Blocks holding a non-finite value (a gap) are
/// flagged, and columns touching one are scanned value by value.
#[derive(Debug, Clone, Default)]
pub struct BlockIndex {
    /// Per block: (position of its first minimum, position of its first
    /// maximum), or `None` when the block holds a non-finite value.
    blocks: Vec<Option<(u32, u32)>>,
}

impl BlockIndex {
    /// Values per block.
    pub const BLOCK: usize = 64;

    /// The index of `ys` (one pass).
    pub fn new(ys: &[f64]) -> Self {
        let blocks = ys
            .chunks(Self::BLOCK)
            .map(|c| {
                let (mut lo, mut hi) = (0usize, 0usize);
                for (j, &v) in c.iter().enumerate() {
                    if !v.is_finite() {
                        return None;
                    }
                    if v < c[lo] {
                        lo = j;
                    }
                    if v > c[hi] {
                        hi = j;
                    }
                }
                Some((lo as u32, hi as u32))
            })
            .collect();
        BlockIndex { blocks }
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Option<(u32, u32)>>()
    }
}

/// First minimum and first maximum of `ys[a..b]` (positions), or `None`
/// if a value there is not finite. Uses whole blocks of `index` where the
/// range covers them.
fn min_max(ys: &[f64], a: usize, b: usize, index: Option<&BlockIndex>) -> Option<(usize, usize)> {
    let (mut imin, mut imax) = (a, a);
    let scan = |from: usize, to: usize, imin: &mut usize, imax: &mut usize| -> bool {
        for (j, &v) in ys.iter().enumerate().take(to).skip(from) {
            if !v.is_finite() {
                return false;
            }
            if v < ys[*imin] {
                *imin = j;
            }
            if v > ys[*imax] {
                *imax = j;
            }
        }
        true
    };
    const B: usize = BlockIndex::BLOCK;
    match index {
        Some(ix) if b - a >= 2 * B => {
            let first_full = a.div_ceil(B);
            let end_full = b / B;
            if !scan(a, first_full * B, &mut imin, &mut imax) {
                return None;
            }
            for k in first_full..end_full {
                let (lo, hi) = ix.blocks.get(k).copied().flatten()?;
                let (lo, hi) = (k * B + lo as usize, k * B + hi as usize);
                if ys[lo] < ys[imin] {
                    imin = lo;
                }
                if ys[hi] > ys[imax] {
                    imax = hi;
                }
            }
            scan(end_full * B, b, &mut imin, &mut imax).then_some((imin, imax))
        }
        _ => scan(a, b, &mut imin, &mut imax).then_some((imin, imax)),
    }
}

/// The same polylines as [`polylines`] over the points `(x(i), ys[i])`,
/// for an `x` that never decreases with `i` (capture index, or capture
/// times in order): the end of each pixel column is found by searching,
/// and each column is reduced from its slice (and the block summaries of
/// `index`, built over the same values or a longer history of which `ys`
/// is a prefix), so the cost is a few `px` calls per column plus, without
/// an index, one pass over the values.
pub fn polylines_sorted(
    ys: &[f64],
    x: impl Fn(usize) -> f64,
    px: impl Fn(f64) -> i32,
    index: Option<&BlockIndex>,
) -> Polylines {
    let n = ys.len();
    let col_of = |i: usize| {
        let xi = x(i);
        xi.is_finite().then(|| px(xi))
    };
    let mut acc = Acc::new();
    let mut a = 0;
    while a < n {
        let Some(c) = col_of(a) else {
            acc.gap();
            a += 1;
            continue;
        };
        // Exponential then binary search for the first index in another column.
        let mut step = 1;
        let mut lo = a; // known in column c
        let mut hi = loop {
            let probe = a + step;
            if probe >= n {
                break n;
            }
            if col_of(probe) != Some(c) {
                break probe;
            }
            lo = probe;
            step *= 2;
        };
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if col_of(mid) == Some(c) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let b = hi;
        match min_max(ys, a, b, index) {
            Some((imin, imax)) => {
                let pt = |i: usize| (i as u64, (x(i), ys[i]));
                let mut col = Column::new(c, a as u64, (x(a), ys[a]));
                col.last = pt(b - 1);
                col.min = pt(imin);
                col.max = pt(imax);
                acc.column(col, (b - a) as u64);
            }
            None => {
                for (i, &v) in ys.iter().enumerate().take(b).skip(a) {
                    if v.is_finite() {
                        acc.point(i as u64, (x(i), v), c);
                    } else {
                        acc.gap();
                    }
                }
            }
        }
        a = b;
    }
    acc.finish()
}

/// The parts of a polyline inside the rectangle `(x0, y0, x1, y1)`
/// (Liang–Barsky on each segment): a line never leaves its plotting area,
/// whatever its points. Lone points inside are kept as one-point parts.
pub fn clip_polyline(run: &[Point], (x0, y0, x1, y1): (f64, f64, f64, f64)) -> Vec<Vec<Point>> {
    let inside = |p: Point| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1;
    if run.iter().all(|&p| inside(p)) {
        return if run.is_empty() {
            Vec::new()
        } else {
            vec![run.to_vec()]
        };
    }
    let mut out: Vec<Vec<Point>> = Vec::new();
    let mut cur: Vec<Point> = Vec::new();
    if run.len() == 1 {
        return Vec::new();
    }
    for w in run.windows(2) {
        let (p, q) = (w[0], w[1]);
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (pk, qk) in [
            (-dx, p.0 - x0),
            (dx, x1 - p.0),
            (-dy, p.1 - y0),
            (dy, y1 - p.1),
        ] {
            if pk == 0.0 {
                if qk < 0.0 {
                    visible = false;
                    break;
                }
            } else {
                let r = qk / pk;
                if pk < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 || !t0.is_finite() || !t1.is_finite() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let a = (p.0 + t0 * dx, p.1 + t0 * dy);
        let b = (p.0 + t1 * dx, p.1 + t1 * dy);
        if cur.last() != Some(&a) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(a);
        }
        cur.push(b);
        if t1 < 1.0 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_lines_inside_the_rectangle() {
        let r = (0.0, 0.0, 10.0, 10.0);
        let inside = vec![(1.0, 1.0), (5.0, 9.0)];
        assert_eq!(clip_polyline(&inside, r), vec![inside.clone()]);
        let out = clip_polyline(&[(5.0, 5.0), (5.0, 1e300), (6.0, 5.0)], r);
        for part in &out {
            for p in part {
                assert!(
                    p.0 >= 0.0 && p.0 <= 10.0 && p.1 >= 0.0 && p.1 <= 10.0,
                    "{p:?}"
                );
            }
        }
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(clip_polyline(&[(20.0, 20.0), (30.0, 30.0)], r).is_empty());
    }

    #[test]
    fn one_column_keeps_first_min_max_last_in_order() {
        let pts = [(0.0, 5.0), (0.1, 9.0), (0.2, 1.0), (0.3, 4.0), (0.4, 3.0)];
        let p = polylines(pts, |_| 7, true);
        assert_eq!(
            p.runs,
            vec![vec![(0.0, 5.0), (0.1, 9.0), (0.2, 1.0), (0.4, 3.0)]]
        );
        assert_eq!(p.input_points, 5);
    }

    #[test]
    fn gaps_split_runs_and_are_never_bridged() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)];
        let p = polylines(pts, |x| x as i32, true);
        assert_eq!(p.runs, vec![vec![(0.0, 1.0)], vec![(2.0, 3.0), (3.0, 4.0)]]);
        // A gap inside one pixel column splits the column too.
        let p = polylines(pts, |_| 0, true);
        assert_eq!(p.runs, vec![vec![(0.0, 1.0)], vec![(2.0, 3.0), (3.0, 4.0)]]);
    }

    #[test]
    fn sorted_search_gives_the_same_polylines() {
        let mut seed = 7u64;
        let ys: Vec<f64> = (0..50_000)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 997 == 5 || (20_000..20_050).contains(&i) {
                    f64::NAN
                } else {
                    (seed >> 11) as f64 / (1u64 << 53) as f64
                }
            })
            .collect();
        for width in [3.0, 37.0, 100.0, 400.0, 60_000.0] {
            let px = |x: f64| (x / 50_000.0 * width) as i32;
            let a = polylines(ys.iter().enumerate().map(|(i, &y)| (i as f64, y)), px, true);
            let b = polylines_sorted(&ys, |i| i as f64, px, None);
            assert_eq!(a, b, "width {width}");
            // With block summaries of a longer history, over prefixes too.
            let index = BlockIndex::new(&ys);
            for n in [50_000, 31_337, 129] {
                let a = polylines(
                    ys[..n].iter().enumerate().map(|(i, &y)| (i as f64, y)),
                    px,
                    true,
                );
                let c = polylines_sorted(&ys[..n], |i| i as f64, px, Some(&index));
                assert_eq!(a, c, "width {width}, prefix {n}");
            }
        }
    }

    #[test]
    fn without_decimation_every_finite_point_is_kept() {
        let pts: Vec<Point> = (0..100).map(|i| (i as f64, (i % 7) as f64)).collect();
        let p = polylines(pts.clone(), |_| 0, false);
        assert_eq!(p.runs, vec![pts]);
        let d = polylines(
            (0..100).map(|i| (i as f64, (i % 7) as f64)),
            |x| (x / 10.0) as i32,
            true,
        );
        assert!(d.kept_points() <= 40);
    }
}
