//! `probe diff`: compare two traces probe by probe.

use std::path::PathBuf;

use anyhow::Result;

use super::{emit, with_newline};
use crate::diff;

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The reference trace (e.g. the golden one).
    a: PathBuf,
    /// The trace to check against it.
    b: PathBuf,
    /// Absolute tolerance for numbers (floats, ints, complex, array elements).
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    atol: f64,
    /// Relative tolerance, relative to A's value.
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    rtol: f64,
    /// Treat NaN as equal to NaN (otherwise a NaN never matches, as in NumPy).
    #[arg(long)]
    nan_equal: bool,
    /// Also compare timestamps (ns since each recording started): a record
    /// differs when they differ by more than --ts-tol.
    #[arg(long)]
    timestamps: bool,
    /// Timestamp tolerance in nanoseconds for --timestamps.
    #[arg(long, default_value_t = 0, value_name = "NS", requires = "timestamps")]
    ts_tol: u64,
    /// A file renamed between the traces: probes of A in OLD pair with
    /// probes of B in NEW (trailing path components). Repeatable.
    #[arg(long = "map", value_name = "OLD=NEW", value_parser = parse_map)]
    maps: Vec<(String, String)>,
    /// Pair probes whose line moved: after exact matching, probes left over
    /// pair by file, name and role when exactly one on each side has them.
    #[arg(long)]
    ignore_lines: bool,
    /// Compare the readable records of an incomplete or damaged trace
    /// instead of refusing it.
    #[arg(long)]
    allow_incomplete: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also draw each compared probe (differing ones first): both series,
    /// and under them B − A with the tolerance band and the first
    /// divergence marked (PNG or SVG).
    #[arg(long, value_name = "OUT.png|OUT.svg")]
    plot: Option<PathBuf>,
    /// Overwrite the --plot picture if it exists.
    #[arg(long)]
    force: bool,
    /// Also write the comparison as JUnit XML: one test case per probe pair,
    /// the first divergence as the failure message (CI test reports).
    #[arg(long, value_name = "FILE.xml")]
    junit: Option<PathBuf>,
    /// Also write a Markdown table of the comparison (a CI job summary, e.g.
    /// `--summary-md "$GITHUB_STEP_SUMMARY"`; appended to when it exists).
    #[arg(long, value_name = "FILE.md")]
    summary_md: Option<PathBuf>,
}

fn parse_map(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() => Ok((o.to_string(), n.to_string())),
        _ => Err(format!("expected OLD=NEW (file paths), got {s:?}")),
    }
}

/// Runs `probe diff`.
pub fn run(args: DiffArgs) -> Result<u8> {
    for (what, x) in [("--atol", args.atol), ("--rtol", args.rtol)] {
        if !(x.is_finite() && x >= 0.0) {
            eprintln!("probe: error: {what} must be a finite number >= 0, got {x}");
            return Ok(2);
        }
    }
    let opts = diff::DiffOptions {
        a: args.a,
        b: args.b,
        maps: args.maps,
        ignore_lines: args.ignore_lines,
        tol: diff::Tolerance {
            atol: args.atol,
            rtol: args.rtol,
            nan_equal: args.nan_equal,
        },
        timestamps: args.timestamps.then_some(args.ts_tol),
        allow_incomplete: args.allow_incomplete,
    };
    let report = match diff::diff(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("probe: error: {e}");
            return Ok(2);
        }
    };
    if let Some(out) = &args.plot {
        let shown = crate::text::escape(&out.display().to_string()).into_owned();
        match diff::plot::plot(&opts, &report, out, args.force) {
            Ok((n, None)) => eprintln!(
                "probe: wrote {shown} ({n} probe{} drawn)",
                if n == 1 { "" } else { "s" }
            ),
            Ok((_, Some(why))) => {
                eprintln!("probe: wrote {shown}, but nothing is drawn in it: {why}")
            }
            Err(e) => {
                eprintln!("probe: error: {e}");
                return Ok(2);
            }
        }
    }
    if let Some(f) = &args.junit {
        // Replaced as a whole (a CI report is rewritten every run), never
        // written through a symlink.
        if let Err(e) = crate::output::write_file(f, diff::ci::junit(&report).as_bytes(), true) {
            eprintln!("probe: error: {e}");
            return Ok(2);
        }
    }
    if let Some(f) = &args.summary_md {
        if let Err(e) = append_summary(f, diff::ci::summary_md(&report).as_bytes()) {
            eprintln!("probe: error: cannot write {}: {e}", f.display());
            return Ok(2);
        }
    }
    if args.json {
        emit(&with_newline(serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&diff::render_text(&report))?;
    }
    Ok(report.exit_code())
}

/// Appends to `--summary-md` (a CI job summary such as GitHub's
/// `$GITHUB_STEP_SUMMARY`, which the runner creates), or creates it: a
/// regular file only — never through a symlink, never into a FIFO or a
/// device (opening one could block or write somewhere else).
fn append_summary(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other("it is a symlink, and probe never writes through one")
            } else {
                e
            }
        })?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    f.write_all(bytes)
}
