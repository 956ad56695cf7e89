//! The `probe` command line: record a Python program's variables, then
//! verify, summarise and replay the log.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use probe::capture::listing::list_probes;
use probe::log::{info, verify};
use probe::record::{self, RecordError, RecordOptions, RecordOutcome};
use probe::render::plot::thousands;
use probe::{diff, export};

/// Record the values of chosen variables of a running Python program, line
/// by line and in exact execution order, into a compressed, crash-tolerant
/// log; then verify and summarise it.
#[derive(Parser)]
#[command(name = "probe", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a Python program and record every capture of the given probes.
    ///
    /// Exits with the program's own exit status (128+N if a signal N killed
    /// it), or 2 if the recording could not start (bad probe spec, missing
    /// interpreter, existing output without --force).
    #[command(
        after_help = "Examples:\n  probe record -p loop.py:3:x -- python3 loop.py\n  probe record -p pkg/mod.py:10:self.gain@rhs -o run.probe -- python3 -m pkg.mod --fast\n  probe record --probes probes.txt -- script.py arg1   (uses $PROBE_PYTHON or python3)"
    )]
    Record(RecordArgs),
    /// Check a log's integrity and ordering guarantees.
    ///
    /// Exit status: 0 all guarantees hold, 1 violations (listed; an
    /// incomplete log is one), 2 unreadable.
    Verify {
        /// The log to check.
        log: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List, per line of a Python file, the names a probe can name and the
    /// role each gets by default — resolved exactly as `record` resolves specs.
    ///
    /// Exit status: 0, or 2 if the file cannot be read or parsed, or the line
    /// does not exist.
    #[command(
        after_help = "Examples:\n  probe probes loop.py\n  probe probes loop.py --line 12\n  probe probes --python python3.11 pkg/mod.py --json"
    )]
    Probes {
        /// The Python source file.
        file: PathBuf,
        /// Only this line (a blank or comment line says so).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        line: Option<u32>,
        /// Interpreter whose parser and scoping rules are used (default:
        /// $PROBE_PYTHON, else python3).
        #[arg(long, value_name = "PYTHON")]
        python: Option<String>,
        /// Print the listing as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild every probe's history and render the frames a display
    /// refreshing at --fps would have shown, as PNG, SVG or an animated GIF.
    ///
    /// One panel per probe, by value kind: numbers as a line, bools as a step
    /// line, complex as real and imaginary lines, 1-D arrays as a waveform,
    /// complex arrays as an I/Q constellation, 2-D arrays as a heatmap, text
    /// as a list of the latest values. A manifest (frames.json: time, dirty
    /// probes and counts of each frame) is written beside the images.
    ///
    /// Exit status: 0 rendered from a complete, undamaged log; 1 rendered,
    /// but the log is damaged or incomplete (what is missing is listed on
    /// stderr; the images show everything intact); 2 nothing rendered (log
    /// unreadable, bad option, unwritable output).
    #[command(
        after_help = "Examples:\n  probe replay run.probe                      (frames into run.replay/)\n  probe replay run.probe --final-only -o final.png\n  probe replay run.probe --format gif -o run.gif --size 800x450\n  probe replay run.probe --probe x --probe loop.py:7:y@rhs --x time --theme dark"
    )]
    Replay(ReplayArgs),
    /// Compare two traces probe by probe: counts, first divergence, largest
    /// differences.
    ///
    /// Probes are paired by file name, line, name and role. Values are
    /// compared in sequence order, numbers as NumPy's isclose with A as the
    /// reference: |b - a| <= atol + rtol * |a| (complex: modulus; arrays:
    /// elementwise, same dtype and shape). Text, bytes and reprs must be
    /// equal. Timestamps are ignored unless --timestamps.
    ///
    /// Exit status: 0 same, 1 different (a value, a count, a status, or a
    /// probe in one trace only), 2 unreadable or incomparable (different
    /// programs, no common probe, an incomplete trace without
    /// --allow-incomplete, a bad option).
    #[command(
        after_help = "Examples:\n  probe diff golden.probe new.probe\n  probe diff golden.probe new.probe --rtol 1e-9 --nan-equal\n  probe diff old.probe new.probe --map dsp_old.py=dsp.py --ignore-lines --plot diff.png\n  probe diff a.probe b.probe --json | jq '.probes[] | select(.same | not)'"
    )]
    Diff(DiffArgs),
    /// Write a trace's records as Parquet, Arrow IPC, CSV or JSON Lines.
    ///
    /// One row per record in seq order: seq, ts_ns, probe, role, batch,
    /// order, thread, status, kind, type_name and the value in typed
    /// columns (see docs/EXPORT.md; JSON Lines: docs/JSONL.md).
    ///
    /// Exit status: 0 written, 2 not written (unreadable or incomplete log
    /// without --allow-incomplete, unknown format, existing output without
    /// --force, unwritable output, --probe matching nothing).
    #[command(
        after_help = "Examples:\n  probe export run.probe -o run.parquet\n  probe export run.probe -o x.arrow --probe x@lhs --probe loop.py:7:y\n  probe export run.probe -o records.txt --format jsonl --force"
    )]
    Export(ExportArgs),
    /// Summarise a log: run, probes, counts, statistics, completeness.
    ///
    /// Exit status: 0, or 2 if the log cannot be read at all.
    Info {
        /// The log to summarise.
        log: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct DiffArgs {
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
    /// Also draw both series of each differing probe (PNG or SVG).
    #[arg(long, value_name = "OUT.png|OUT.svg")]
    plot: Option<PathBuf>,
}

fn parse_map(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() => Ok((o.to_string(), n.to_string())),
        _ => Err(format!("expected OLD=NEW (file paths), got {s:?}")),
    }
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The trace to export.
    log: PathBuf,
    /// Output file; its extension picks the format (.parquet, .arrow,
    /// .csv, .jsonl) unless --format is given.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Output format: parquet, arrow (Arrow IPC file), csv or jsonl.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Export only these probes (NAME, NAME@role, FILE:LINE:NAME[@role]). Repeatable.
    #[arg(short = 'p', long = "probe", value_name = "SELECTOR")]
    probes: Vec<String>,
    /// Overwrite the output if it exists.
    #[arg(long)]
    force: bool,
    /// Export the readable records of an incomplete or damaged log (with a
    /// warning) instead of refusing it.
    #[arg(long)]
    allow_incomplete: bool,
    /// No progress bar and no summary line.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Core {
    /// sys.monitoring on Python 3.12+, sys.settrace before (with a warning).
    Auto,
    /// sys.monitoring (Python 3.12+ only; an error elsewhere).
    Monitoring,
    /// sys.settrace (any supported Python; slower on 3.12+).
    Settrace,
}

#[derive(clap::Args)]
struct RecordArgs {
    /// A probe: FILE:LINE:NAME, optionally @lhs (value after the line) or
    /// @rhs (value before it). Repeatable.
    #[arg(short = 'p', long = "probe", value_name = "SPEC")]
    probes: Vec<String>,
    /// A file of probe specs, one per line (`#` starts a comment).
    #[arg(long = "probes", value_name = "FILE")]
    probe_file: Option<PathBuf>,
    /// Output log (default: the script's or module's name with .probe).
    #[arg(short, long, value_name = "OUT.probe")]
    output: Option<PathBuf>,
    /// Overwrite the output if it exists.
    #[arg(long)]
    force: bool,
    /// No progress line and no summary (warnings are still printed).
    #[arg(short, long)]
    quiet: bool,
    /// Which tracer core to use.
    #[arg(long, value_enum, default_value = "auto")]
    core: Core,
    /// Largest str/bytes/repr kept per value; longer ones are truncated and flagged.
    #[arg(long, default_value_t = 4096, value_name = "BYTES")]
    max_value_bytes: u64,
    /// Largest array data kept per value (NumPy arrays, lists/tuples of
    /// numbers); beyond it the leading elements (C order) are kept, the
    /// array is flagged truncated and its full shape recorded. 1 MiB keeps
    /// 131,072 float64 samples.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_array_bytes: u64,
    /// Timestamp resolution in nanoseconds: capture times are rounded down to
    /// a multiple of it. 1 keeps full resolution; the default (1 µs) is far
    /// finer than the tracer's own cost per capture and keeps the tight loop
    /// under one byte per record.
    #[arg(long, default_value_t = 1000, value_name = "NS", value_parser = clap::value_parser!(u64).range(1..))]
    timestamp_resolution: u64,
    /// Record with a Python newer than the tested range (3.11 to 3.15),
    /// with a warning, instead of refusing it.
    #[arg(long)]
    allow_untested_python: bool,
    /// The program: `python script.py ARGS`, `python -m module ARGS`, or
    /// `script.py ARGS` (run with $PROBE_PYTHON, else python3).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// One PNG per frame.
    Png,
    /// One SVG per frame.
    Svg,
    /// One animated GIF of all frames.
    Gif,
}

#[derive(Clone, Copy, ValueEnum)]
enum XArg {
    /// Capture index within the probe.
    Index,
    /// Capture time (seconds since the recording started).
    Time,
}

#[derive(Clone, Copy, ValueEnum)]
enum ThemeArg {
    /// Dark on white.
    Light,
    /// Light on dark.
    Dark,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The log to replay.
    log: PathBuf,
    /// Output directory (frames, frames.json), or a file name for one
    /// frame (with --final-only) or the GIF. Default: LOG's name with
    /// .replay/ beside it.
    #[arg(short, long, value_name = "DIR|FILE")]
    output: Option<PathBuf>,
    /// Image format (default: from -o's extension, else png).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Render only the final frame (every record of every probe).
    #[arg(long)]
    final_only: bool,
    /// Image size in pixels.
    #[arg(long, default_value = "1280x720", value_name = "WxH", value_parser = parse_size)]
    size: (u32, u32),
    /// Show only probes matching SELECTOR: NAME, NAME@role, FILE:LINE:NAME
    /// or FILE:LINE:NAME@role (FILE may be any trailing part of the path).
    /// Repeatable; default: every probe.
    #[arg(short = 'p', long = "probe", value_name = "SELECTOR")]
    probes: Vec<String>,
    /// X axis of line panels.
    #[arg(long = "x", value_enum, default_value = "index")]
    x_axis: XArg,
    /// Colour theme.
    #[arg(long, value_enum, default_value = "light")]
    theme: ThemeArg,
    /// Refresh rate of the display being replayed (frames per second).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1000))]
    fps: u32,
    /// No progress bar and no summary (problems with the log are still printed).
    #[arg(short, long)]
    quiet: bool,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not WIDTHxHEIGHT in pixels, e.g. 1280x720");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(16..=20_000).contains(&w) || !(16..=20_000).contains(&h) {
        return Err(format!("{s}: width and height must be 16..=20000 pixels"));
    }
    Ok((w, h))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Record(args) => run_record(args),
        Cmd::Verify { log, json } => run_verify(&log, json),
        Cmd::Info { log, json } => run_info(&log, json),
        Cmd::Probes {
            file,
            line,
            python,
            json,
        } => run_probes(&file, line, python, json),
        Cmd::Replay(args) => run_replay(args),
        Cmd::Diff(args) => run_diff(args),
        Cmd::Export(args) => run_export(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("probe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn default_output(command: &[String]) -> PathBuf {
    let stem = command
        .iter()
        .position(|w| w == "-m")
        .and_then(|i| command.get(i + 1))
        .map(|m| m.rsplit('.').next().unwrap_or(m).to_string())
        .or_else(|| {
            command
                .iter()
                .find(|w| w.ends_with(".py"))
                .and_then(|w| Path::new(w).file_stem())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "trace".to_string());
    PathBuf::from(format!("{stem}.probe"))
}

fn run_record(args: RecordArgs) -> Result<u8> {
    let mut probes = args.probes.clone();
    if let Some(f) = &args.probe_file {
        let more = record::read_probe_file(f)
            .with_context(|| format!("reading probe file {}", f.display()))?;
        probes.extend(more);
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.command));
    let opts = RecordOptions {
        probes,
        output: output.clone(),
        force: args.force,
        core: match args.core {
            Core::Auto => "auto",
            Core::Monitoring => "monitoring",
            Core::Settrace => "settrace",
        }
        .to_string(),
        max_value_bytes: args.max_value_bytes,
        max_array_bytes: args.max_array_bytes,
        ts_resolution_ns: args.timestamp_resolution,
        command: args.command.clone(),
        default_python: record::default_python(),
        allow_untested_python: args.allow_untested_python,
    };
    let bar = progress_bar(args.quiet, None, "{spinner} probe: {elapsed} {msg}");
    let started = std::time::Instant::now();
    let mut progress = |records: u64, bytes: u64| {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "{} records, {}/s, log {}",
            thousands(records),
            thousands((records as f64 / secs) as u64),
            human_bytes(bytes)
        ));
        bar.tick();
    };
    let outcome = record::record(&opts, &mut progress);
    bar.finish_and_clear();
    match outcome {
        Ok(o) => {
            print_summary(&output, &o, args.quiet);
            Ok(u8::try_from(o.exit_code.clamp(0, 255)).unwrap_or(1))
        }
        Err(RecordError::Refused(msg)) => {
            eprintln!("probe: error: {msg}");
            eprintln!("probe: nothing was run");
            Ok(2)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("recording to {}", output.display()))),
    }
}

fn print_summary(output: &Path, o: &RecordOutcome, quiet: bool) {
    if let Some(note) = &o.core_note {
        eprintln!("probe: warning: {note}");
    }
    for w in &o.warnings {
        eprintln!("probe: warning: {w}");
    }
    if quiet {
        return;
    }
    let n = o.end.total_records;
    let ratio = if o.file_bytes > 0 {
        o.raw_bytes as f64 / o.file_bytes as f64
    } else {
        0.0
    };
    // Per-record size and compression mean something only once the records
    // outweigh the fixed header and probe table.
    let density = if n >= 1000 {
        format!(
            " ({:.2} bytes/record, {:.1}× compression)",
            o.file_bytes as f64 / n as f64,
            ratio
        )
    } else {
        String::new()
    };
    eprintln!(
        "probe: wrote {} — {} records in {:.2}s, {}{}",
        output.display(),
        thousands(n),
        o.elapsed.as_secs_f64(),
        human_bytes(o.file_bytes),
        density
    );
    let width = o.probes.iter().map(|p| p.spec.len()).max().unwrap_or(0);
    for (p, c) in o.probes.iter().zip(&o.end.per_probe) {
        eprintln!("  {:<width$}  {:>12}", p.spec, thousands(*c));
    }
    let ended = match o.end.exit.kind.as_str() {
        "exit" => format!("exited with status {}", o.end.exit.code),
        "exception" => format!(
            "ended by an uncaught {} (status {})",
            o.end.exit.exception.as_deref().unwrap_or("exception"),
            o.end.exit.code
        ),
        "os_exit" => format!("called os._exit({})", o.end.exit.code),
        "signal" => format!("was killed by signal {}", o.end.exit.signal.unwrap_or(0)),
        "aborted" => "was left running: recording aborted".to_string(),
        _ => format!(
            "ended without a word from the agent (status {})",
            o.end.exit.code
        ),
    };
    eprintln!(
        "  Python {} ({} core); the program {}",
        o.python_version, o.core, ended
    );
}

/// Writes a report to stdout; a closed pipe (`| head`) is not an error.
fn run_probes(file: &Path, line: Option<u32>, python: Option<String>, json: bool) -> Result<u8> {
    let python = python.unwrap_or_else(record::default_python);
    let listing = list_probes(&python, file, line)
        .with_context(|| format!("listing the probeable names of {}", file.display()))?;
    if json {
        return emit(&with_newline(serde_json::to_string_pretty(&listing)?)).map(|_| 0);
    }
    let mut out = format!("{} (resolved by Python {})\n", listing.file, listing.python);
    let width = listing
        .lines
        .iter()
        .flat_map(|l| &l.names)
        .map(|n| n.name.len() + n.default_role.len() + 1)
        .max()
        .unwrap_or(0);
    for l in &listing.lines {
        out.push_str(&format!("{:>5}  {}\n", l.line, l.source));
        if let Some(note) = &l.note {
            out.push_str(&format!("{:>7}{note}: nothing can be probed here\n", ""));
        }
        for n in &l.names {
            let spec = format!("{}@{}", n.name, n.default_role);
            let also = if n.bound && n.read {
                "  (also read: @rhs gives the value before the line)"
            } else {
                ""
            };
            out.push_str(&format!("{:>7}{spec:<width$}  in {}{also}\n", "", n.scope));
        }
    }
    emit(&out).map(|_| 0)
}

fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn run_verify(log: &Path, json: bool) -> Result<u8> {
    let report = verify::verify_path(log);
    if json {
        emit(&with_newline(serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&with_newline(report.to_string()))?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(2))
}

fn run_info(log: &Path, json: bool) -> Result<u8> {
    let report = info::info_path(log).with_context(|| format!("reading {}", log.display()))?;
    if json {
        emit(&with_newline(serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&with_newline(report.to_string()))?;
    }
    Ok(0)
}

fn run_diff(args: DiffArgs) -> Result<u8> {
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
        match diff::plot::plot(&opts, &report, out) {
            Ok(n) => eprintln!("probe: wrote {} ({n} panels)", out.display()),
            Err(e) => {
                eprintln!("probe: error: {e}");
                return Ok(2);
            }
        }
    }
    if args.json {
        emit(&with_newline(serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&diff::render_text(&report))?;
    }
    Ok(report.exit_code())
}

fn run_export(args: ExportArgs) -> Result<u8> {
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
            if !args.quiet {
                eprintln!(
                    "probe: wrote {} — {} rows of {} probes as {} in {:.2}s, {}",
                    args.output.display(),
                    thousands(s.rows),
                    s.probes,
                    format.name(),
                    started.elapsed().as_secs_f64(),
                    human_bytes(s.bytes)
                );
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("probe: error: {e}");
            Ok(2)
        }
    }
}

fn run_replay(args: ReplayArgs) -> Result<u8> {
    use probe::render::plot::XAxis;
    use probe::replay::{self, Format, ReplayError, ReplayOptions, ThemeName};
    let opts = ReplayOptions {
        log: args.log.clone(),
        output: args.output.clone(),
        format: args.format.map(|f| match f {
            FormatArg::Png => Format::Png,
            FormatArg::Svg => Format::Svg,
            FormatArg::Gif => Format::Gif,
        }),
        final_only: args.final_only,
        size: args.size,
        probes: args.probes.clone(),
        x_axis: match args.x_axis {
            XArg::Index => XAxis::Index,
            XArg::Time => XAxis::Time,
        },
        theme: match args.theme {
            ThemeArg::Light => ThemeName::Light,
            ThemeArg::Dark => ThemeName::Dark,
        },
        fps: args.fps,
    };
    let bar = progress_bar(
        args.quiet,
        Some(0),
        "probe replay: {bar:30} {pos}/{len} frames, {per_sec}, {eta} left",
    );
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64| {
        // A bar only when there are many frames; one frame is quick.
        if total >= 8 {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    replay::tune_allocator();
    let result = replay::replay(&opts, &progress);
    bar.finish_and_clear();
    let outcome = match result {
        Ok(o) => o,
        Err(ReplayError::Usage(msg)) => {
            eprintln!("probe: error: {msg}");
            return Ok(2);
        }
        // The error names the log or the output file already.
        Err(e) => return Err(anyhow::Error::new(e)),
    };
    for issue in &outcome.report.issues {
        eprintln!("probe: warning: {}: {issue}", args.log.display());
    }
    if !args.quiet {
        let what = match outcome.files.as_slice() {
            [one] => one.display().to_string(),
            many => format!(
                "{} files in {}",
                many.len(),
                outcome
                    .manifest
                    .parent()
                    .map_or_else(String::new, |p| p.display().to_string())
            ),
        };
        eprintln!(
            "probe: replayed {} records into {} frame{} in {:.2}s: {what} (manifest {})",
            thousands(outcome.report.records),
            outcome.frames,
            if outcome.frames == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64(),
            outcome.manifest.display()
        );
    }
    if outcome.report.is_clean() {
        Ok(0)
    } else {
        eprintln!(
            "probe: {} is {}: rendered what is intact (exit 1)",
            args.log.display(),
            if outcome.report.has_end {
                "damaged"
            } else {
                "incomplete"
            }
        );
        Ok(1)
    }
}

/// A progress line on stderr when it is a terminal and not `--quiet`:
/// a bar when `length` is known (`Some`), else a spinner.
fn progress_bar(quiet: bool, length: Option<u64>, template: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr_with_hz(8));
    let fallback = if length.is_some() {
        ProgressStyle::default_bar()
    } else {
        ProgressStyle::default_spinner()
    };
    b.set_style(ProgressStyle::with_template(template).unwrap_or(fallback));
    b
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
