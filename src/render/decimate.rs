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

/// Split `points` into polylines at gaps and, when `decimate` is set,
/// reduce each run to at most four points per pixel column, where `px`
/// maps an x value to its pixel column exactly as the chart does.
pub fn polylines(
    points: impl IntoIterator<Item = Point>,
    px: impl Fn(f64) -> i32,
    decimate: bool,
) -> Polylines {
    let mut out = Polylines::default();
    let mut run: Vec<Point> = Vec::new();
    let mut col: Option<Column> = None;
    for (k, p) in points.into_iter().enumerate() {
        let k = k as u64;
        if !p.1.is_finite() || !p.0.is_finite() {
            if let Some(c) = col.take() {
                c.flush(&mut run);
            }
            if !run.is_empty() {
                out.runs.push(std::mem::take(&mut run));
            }
            continue;
        }
        out.input_points += 1;
        if !decimate {
            run.push(p);
            continue;
        }
        let x = px(p.0);
        match &mut col {
            Some(c) if c.px == x => c.add(k, p),
            _ => {
                if let Some(c) = col.take() {
                    c.flush(&mut run);
                }
                col = Some(Column::new(x, k, p));
            }
        }
    }
    if let Some(c) = col.take() {
        c.flush(&mut run);
    }
    if !run.is_empty() {
        out.runs.push(run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
