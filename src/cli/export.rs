//! `probe export`: write a trace's records as Parquet, Arrow, CSV or JSON Lines.

use std::path::PathBuf;

use anyhow::Result;

use super::{human_bytes, progress_bar};
use crate::export;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The trace to export.
    log: PathBuf,
    /// Output file; its extension picks the format (.parquet, .arrow,
    /// .csv, .jsonl, .perfetto-trace) unless --format is given. `-` writes
    /// to standard output (name the format with --format).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Output format: parquet, arrow (Arrow IPC file), csv, jsonl, or
    /// perfetto (a Perfetto protobuf trace: numeric probes as counter tracks;
    /// .perfetto-trace or .pftrace).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Export only these probes (NAME, NAME@role, FILE:LINE:NAME[@role]). Repeatable.
    #[arg(short = 'p', long = "probe", value_name = "SELECTOR")]
    probes: Vec<String>,
    /// Overwrite the output if it exists.
    #[arg(long)]
    force: bool,
    /// One row per batch (the records of one trigger), one column per scalar
    /// probe (complex: LABEL.re, LABEL.im), for tools like PlotJuggler;
    /// parquet, arrow or csv.
    #[arg(long)]
    wide: bool,
    /// Export the readable records of an incomplete or damaged log (with a
    /// warning) instead of refusing it.
    #[arg(long)]
    allow_incomplete: bool,
    /// No progress bar and no summary line.
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `probe export`.
pub fn run(args: ExportArgs) -> Result<u8> {
    let format = match &args.format {
        Some(name) => export::Format::from_name(name),
        None => export::Format::from_path(&args.output),
    };
    let Some(format) = format else {
        let names: Vec<&str> = export::Format::ALL.iter().map(|(_, n)| *n).collect();
        match &args.format {
            Some(name) => eprintln!(
                "probe: error: unknown format {name:?}; choose one of {}",
                names.join(", ")
            ),
            None if export::is_stdout(&args.output) => eprintln!(
                "probe: error: -o - writes to standard output; name its format with --format ({})",
                names.join(", ")
            ),
            None => eprintln!(
                "probe: error: cannot tell the format of {} from its extension; name one with --format ({})",
                args.output.display(),
                names.join(", ")
            ),
        }
        return Ok(2);
    };
    let opts = export::ExportOptions {
        input: args.log.clone(),
        output: args.output.clone(),
        format,
        probes: args.probes,
        force: args.force,
        allow_incomplete: args.allow_incomplete,
        wide: args.wide,
    };
    let bar = progress_bar(
        args.quiet,
        Some(0),
        "probe export: {bar:30} {human_pos}/{human_len} records {msg}, {eta} left",
    );
    let started = std::time::Instant::now();
    let outcome = export::export(&opts, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("({:.1} M/s)", done as f64 / secs / 1e6));
    });
    bar.finish_and_clear();
    match outcome {
        Ok(s) => {
            for w in &s.warnings {
                eprintln!("probe: warning: {w}");
            }
            if !args.quiet && export::is_stdout(&args.output) {
                eprintln!(
                    "probe: wrote {} of {} as {} to standard output in {}",
                    crate::text::count(s.rows, "row", "rows"),
                    crate::text::count(s.probes as u64, "probe", "probes"),
                    format.name(),
                    crate::text::format_duration(started.elapsed()),
                );
            } else if !args.quiet {
                eprintln!(
                    "probe: wrote {} — {} of {} as {} in {}, {}",
                    args.output.display(),
                    crate::text::count(s.rows, "row", "rows"),
                    crate::text::count(s.probes as u64, "probe", "probes"),
                    format.name(),
                    crate::text::format_duration(started.elapsed()),
                    human_bytes(s.bytes)
                );
            }
            Ok(0)
        }
        // A reader that stopped early (`-o - | head`) is not an error.
        Err(e) if export::is_stdout(&args.output) && e.to_string().contains("(os error 32)") => {
            Ok(0)
        }
        Err(e) => {
            eprintln!("probe: error: {e}");
            Ok(2)
        }
    }
}
