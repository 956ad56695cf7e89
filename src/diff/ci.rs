//! `probe diff --junit FILE` and `--summary-md FILE`: the comparison in the
//! forms CI systems show without anyone reading logs — JUnit XML (one test
//! case per probe pair, the first divergence as the failure message; read
//! by GitLab, Jenkins, Azure Pipelines, CircleCI and GitHub test-report
//! actions) and a Markdown table for a job summary (`$GITHUB_STEP_SUMMARY`).

use std::fmt::Write;

use super::{DiffReport, Divergence, ProbeDiff, Shown};

/// Text made safe for XML 1.0 attributes and content: markup escaped,
/// characters XML cannot hold (most C0 controls) replaced.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\t' => o.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn shown(s: &Shown) -> String {
    let v = if s.value.chars().count() > 200 {
        s.value.chars().take(200).collect::<String>() + "…"
    } else {
        s.value.clone()
    };
    if s.status == "ok" {
        format!("{v} (seq {})", s.seq)
    } else {
        format!("{v} [{}] (seq {})", s.status, s.seq)
    }
}

fn name(p: &ProbeDiff) -> String {
    if p.a == p.b {
        p.a.clone()
    } else {
        format!("{} ~ {}", p.a, p.b)
    }
}

/// The first divergence in one line.
pub fn divergence_line(p: &ProbeDiff, d: &Divergence) -> String {
    let side = |s: &Option<Shown>, n: u64| match s {
        Some(s) => shown(s),
        None => format!("no value #{} (has {n})", d.index),
    };
    format!(
        "first divergence at value #{}: {}; A: {}; B: {}",
        d.index,
        d.reason,
        side(&d.a, p.count_a),
        side(&d.b, p.count_b)
    )
}

fn num(x: Option<f64>) -> String {
    // As the terminal report writes numbers: shortest round trip (`1.149`).
    x.map_or_else(|| "—".into(), crate::text::num)
}

/// The report as JUnit XML.
pub fn junit(r: &DiffReport) -> String {
    let cases = r.probes.len() + r.only_in_a.len() + r.only_in_b.len();
    let failures =
        r.probes.iter().filter(|p| !p.same).count() + r.only_in_a.len() + r.only_in_b.len();
    let suite = format!("probe diff {} vs {}", r.a.path, r.b.path);
    let mut o = String::new();
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"probe diff\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\" time=\"0\">"
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">",
        xml(&suite)
    );
    let _ = writeln!(
        o,
        "    <properties><property name=\"atol\" value=\"{}\"/><property name=\"rtol\" value=\"{}\"/></properties>",
        r.settings.atol, r.settings.rtol
    );
    for p in &r.probes {
        let _ = write!(
            o,
            "    <testcase classname=\"probe.diff\" name=\"{}\" time=\"0\"",
            xml(&name(p))
        );
        if p.same {
            o.push_str("/>\n");
            continue;
        }
        let msg = match &p.first {
            Some(d) => divergence_line(p, d),
            None => format!("counts differ: A has {}, B has {}", p.count_a, p.count_b),
        };
        let detail = format!(
            "{msg}\nA: {} records, B: {} records, {} compared, {} differing; largest |b-a| {}, largest relative {}",
            p.count_a,
            p.count_b,
            p.compared,
            p.differing,
            num(p.max_abs),
            num(p.max_rel)
        );
        let _ = writeln!(
            o,
            ">\n      <failure type=\"divergence\" message=\"{}\">{}</failure>\n    </testcase>",
            xml(&msg),
            xml(&detail)
        );
    }
    for (side, list) in [("A", &r.only_in_a), ("B", &r.only_in_b)] {
        for u in list.iter() {
            let msg = format!("probe {} is only in trace {side} ({})", u.probe, u.spec);
            let _ = writeln!(
                o,
                "    <testcase classname=\"probe.diff\" name=\"{}\" time=\"0\">\n      <failure type=\"unmatched\" message=\"{}\"/>\n    </testcase>",
                xml(&format!("{} (only in {side})", u.probe)),
                xml(&msg)
            );
        }
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as a Markdown table (a CI job summary).
pub fn summary_md(r: &DiffReport) -> String {
    let mut o = String::new();
    let differing =
        r.probes.iter().filter(|p| !p.same).count() + r.only_in_a.len() + r.only_in_b.len();
    let _ = writeln!(
        o,
        "### probe diff: {}\n",
        if r.same {
            "✅ same".to_string()
        } else {
            format!("❌ {differing} probe(s) differ")
        }
    );
    let _ = writeln!(
        o,
        "A: `{}` ({}) · B: `{}` ({}) · atol {} · rtol {}\n",
        md(&r.a.path),
        crate::text::count(r.a.records, "record", "records"),
        md(&r.b.path),
        crate::text::count(r.b.records, "record", "records"),
        r.settings.atol,
        r.settings.rtol
    );
    o.push_str(
        "| | probe | A | B | compared | differing | max abs | max rel | first divergence |\n",
    );
    o.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for p in &r.probes {
        let first = p
            .first
            .as_ref()
            .map_or_else(String::new, |d| divergence_line(p, d));
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |",
            if p.same { "✅" } else { "❌" },
            md(&name(p)),
            p.count_a,
            p.count_b,
            p.compared,
            p.differing,
            num(p.max_abs),
            num(p.max_rel),
            md(&first)
        );
    }
    for (side, list) in [("A", &r.only_in_a), ("B", &r.only_in_b)] {
        for u in list.iter() {
            let _ = writeln!(
                o,
                "| ❌ | `{}` | | | | | | | only in {side} |",
                md(&u.probe)
            );
        }
    }
    o
}
