//! The human-readable `probe diff` report. Numbers are written as a person
//! reads them ([`crate::text::num`]: `1.149`, `0.9971`, `2.5e-12`), and
//! every string from the traces (labels, values, paths, commands) is
//! escaped for the terminal ([`crate::text::escape`]).

use std::fmt::Write;

use super::{DiffReport, Divergence, ProbeDiff, Shown};
use crate::text::{count, escape, num as text_num, thousands};

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), text_num)
}

/// A tolerance as given on the command line would write it (`1e-9`, `0.5`).
fn tol(x: f64) -> String {
    text_num(x)
}

fn name(p: &ProbeDiff) -> String {
    if p.a == p.b {
        escape(&p.a).into_owned()
    } else {
        format!("{} → {}", escape(&p.a), escape(&p.b))
    }
}

fn verdict(p: &ProbeDiff) -> String {
    match &p.first {
        None => "same".into(),
        Some(d) => format!(
            "DIFFERENT at #{} ({} of {} differ{})",
            thousands(d.index),
            thousands(p.differing),
            count(p.compared, "pair", "pairs"),
            if p.count_a != p.count_b {
                ", counts differ"
            } else {
                ""
            }
        ),
    }
}

fn record(s: &Shown) -> String {
    let status = if s.status == "ok" {
        String::new()
    } else {
        format!(" [{}]", s.status)
    };
    format!(
        "seq {} {} = {}{}",
        s.seq,
        escape(&s.probe),
        escape(&s.value),
        status
    )
}

fn batch(out: &mut String, side: &str, b: &[Shown], at: Option<&Shown>) {
    if b.len() <= 1 {
        return;
    }
    let _ = writeln!(
        out,
        "    batch in {side} ({} of one trigger):",
        count(b.len() as u64, "record", "records")
    );
    for s in b {
        let mark = if at.is_some_and(|a| a.seq == s.seq) {
            "»"
        } else {
            " "
        };
        let _ = writeln!(out, "     {mark} {}", record(s));
    }
}

fn divergence(out: &mut String, p: &ProbeDiff, d: &Divergence) {
    let _ = writeln!(
        out,
        "\n{} — first divergence at value #{}: {}",
        name(p),
        thousands(d.index),
        escape(&d.reason)
    );
    for (side, r) in [("A", &d.a), ("B", &d.b)] {
        match r {
            Some(s) => {
                let _ = writeln!(out, "  {side}: {}  (ts {} ns)", record(s), s.ts_ns);
            }
            None => {
                let n = if side == "A" { p.count_a } else { p.count_b };
                let _ = writeln!(
                    out,
                    "  {side}: (no value #{}: {side} has {})",
                    thousands(d.index),
                    thousands(n)
                );
            }
        }
    }
    batch(out, "A", &d.batch_a, d.a.as_ref());
    batch(out, "B", &d.batch_b, d.b.as_ref());
}

/// The report as text: header, one table row per probe, details of each
/// first divergence, unmatched probes, verdict.
pub fn render_text(r: &DiffReport) -> String {
    let mut out = String::new();
    for (side, t) in [("A", &r.a), ("B", &r.b)] {
        let _ = writeln!(
            out,
            "{side}: {}  ({}{}; `{}`)",
            escape(&t.path),
            count(t.records, "record", "records"),
            t.incomplete
                .as_ref()
                .map_or(String::new(), |w| format!(", INCOMPLETE: {}", escape(w))),
            escape(&t.command.join(" "))
        );
    }
    let s = &r.settings;
    let _ = writeln!(
        out,
        "compared with atol={} rtol={}{}{}{}\n",
        tol(s.atol),
        tol(s.rtol),
        if s.nan_equal {
            ", NaN = NaN"
        } else {
            ", NaN ≠ NaN"
        },
        match s.timestamps_ns {
            Some(t) => format!(", timestamps within {t} ns"),
            None => ", timestamps ignored".into(),
        },
        if s.maps.is_empty() {
            String::new()
        } else {
            format!(", map {}", escape(&s.maps.join(" ")))
        }
    );
    let rows: Vec<[String; 6]> = r
        .probes
        .iter()
        .map(|p| {
            [
                name(p),
                thousands(p.count_a),
                thousands(p.count_b),
                num(p.max_abs),
                num(p.max_rel),
                verdict(p),
            ]
        })
        .collect();
    let head = [
        "PROBE", "COUNT A", "COUNT B", "MAX ABS", "MAX REL", "RESULT",
    ];
    let mut w = head.map(|h| h.chars().count());
    for row in &rows {
        for (k, c) in row.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let line = |out: &mut String, c: &[String; 6]| {
        let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n - s.chars().count()));
        let lpad = |s: &str, n: usize| format!("{}{s}", " ".repeat(n - s.chars().count()));
        let _ = writeln!(
            out,
            "{}  {}  {}  {}  {}  {}",
            pad(&c[0], w[0]),
            lpad(&c[1], w[1]),
            lpad(&c[2], w[2]),
            lpad(&c[3], w[3]),
            lpad(&c[4], w[4]),
            c[5]
        );
    };
    line(&mut out, &head.map(String::from));
    for row in &rows {
        line(&mut out, row);
    }
    for u in &r.only_in_a {
        let _ = writeln!(
            out,
            "only in A: {} ({})",
            escape(&u.probe),
            count(u.count, "record", "records")
        );
    }
    for u in &r.only_in_b {
        let _ = writeln!(
            out,
            "only in B: {} ({})",
            escape(&u.probe),
            count(u.count, "record", "records")
        );
    }
    for p in &r.probes {
        if let Some(d) = &p.first {
            divergence(&mut out, p, d);
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {}", escape(w));
    }
    let differ = r.probes.iter().filter(|p| !p.same).count();
    let unmatched = r.only_in_a.len() + r.only_in_b.len();
    let _ = writeln!(
        out,
        "\n{}",
        if r.same {
            format!(
                "SAME: {} within tolerance",
                match r.probes.len() {
                    1 => "1 probe matches".to_string(),
                    n => format!("{} probes match", thousands(n as u64)),
                }
            )
        } else {
            format!(
                "DIFFERENT: {} of {} {}{}",
                thousands(differ as u64),
                count(r.probes.len() as u64, "matched probe", "matched probes"),
                if differ == 1 { "differs" } else { "differ" },
                if unmatched > 0 {
                    format!(
                        ", {} in one trace only",
                        match unmatched {
                            1 => "1 probe is".to_string(),
                            n => format!("{} probes are", thousands(n as u64)),
                        }
                    )
                } else {
                    String::new()
                }
            )
        }
    );
    out
}
