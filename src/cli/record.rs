//! `probe record`: run a Python program under the tracer and write its log.

use crate::text::{escape, escape_lines, Esc};
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ValueEnum;

use super::human_bytes;
use super::status_line::StatusLine;
use crate::record::{self, Observer, RecordError, RecordOptions, RecordOutcome};
use crate::render::plot::thousands;

#[derive(Clone, Copy, ValueEnum)]
pub enum Core {
    /// The native core on every Python; where it cannot load, the
    /// monitoring core (3.12+) or sys.settrace (3.11), with a note saying
    /// why.
    Auto,
    /// The native core: its hot path in Rust, under sys.monitoring on 3.12+
    /// and as a C trace function gated per frame on 3.11 (an error where it
    /// cannot load).
    Native,
    /// sys.monitoring (Python 3.12+ only; an error elsewhere).
    Monitoring,
    /// sys.settrace (any supported Python; slower on 3.12+).
    Settrace,
}

#[derive(clap::Args)]
pub struct RecordArgs {
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
    /// No live line, no summary and no note about the 3.11 core (warnings
    /// are still printed).
    #[arg(short, long)]
    quiet: bool,
    /// Serve the live viewer while the program runs: the page of
    /// `probe view`, on 127.0.0.1 (URL with an access token printed on
    /// stderr), refreshed as captures arrive, left on its final state.
    #[arg(long)]
    view: bool,
    /// Port for --view (default: any free port).
    #[arg(long, value_name = "PORT", requires = "view")]
    view_port: Option<u16>,
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
    /// After passing SIGTERM, SIGINT, SIGHUP or SIGQUIT on to the program,
    /// how long it has to end before probe says so; the same signal again
    /// after that kills the program (SIGKILL).
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    grace: u64,
    /// Record with a Python newer than the tested range (3.11 to 3.15),
    /// with a warning, instead of refusing it.
    #[arg(long)]
    allow_untested_python: bool,
    /// Print the capture plan of every probed code object on the program's
    /// stderr as it is built (what is done at which bytecode offset).
    #[arg(long)]
    debug_plan: bool,
    /// The program: `python script.py ARGS`, `python -m module ARGS`,
    /// `script.py ARGS` (run with $PROBE_PYTHON, else python3), or a script
    /// whose #! line names Python (run with that interpreter).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<std::ffi::OsString>,
}

/// `<script stem>.probe` (or `<module>.probe`, else `trace.probe`) in the
/// current directory; the stem is kept as it is, UTF-8 or not.
fn default_output(command: &[std::ffi::OsString]) -> PathBuf {
    use std::ffi::OsString;
    let stem: OsString = command
        .iter()
        .position(|w| w == "-m")
        .and_then(|i| command.get(i + 1))
        .map(|m| {
            let m = m.to_string_lossy();
            OsString::from(m.rsplit('.').next().unwrap_or(&m))
        })
        .or_else(|| {
            command
                .iter()
                .find(|w| w.as_encoded_bytes().ends_with(b".py"))
                .and_then(|w| Path::new(w).file_stem())
                .map(OsString::from)
        })
        .unwrap_or_else(|| "trace".into());
    let mut name = stem;
    name.push(".probe");
    PathBuf::from(name)
}

/// Runs `probe record`.
pub fn run(args: RecordArgs) -> Result<u8> {
    let mut probes = args.probes.clone();
    // Where each spec of the probe file was written: a refusal of one of
    // them names that line.
    let mut from_file: Vec<(usize, String)> = Vec::new();
    if let Some(f) = &args.probe_file {
        match record::read_probe_file(f) {
            Ok(more) => {
                probes.extend(more.iter().map(|(_, spec)| spec.clone()));
                from_file = more;
            }
            Err(e) => {
                eprintln!(
                    "probe: error: {}",
                    escape_lines(&format!("reading probe file {}: {e}", f.display()))
                );
                eprintln!("probe: nothing was run");
                return Ok(2);
            }
        }
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
            Core::Native => "native",
            Core::Monitoring => "monitoring",
            Core::Settrace => "settrace",
        }
        .to_string(),
        max_value_bytes: args.max_value_bytes,
        max_array_bytes: args.max_array_bytes,
        ts_resolution_ns: args.timestamp_resolution,
        command: args.command.clone(),
        default_python: record::default_python(),
        grace: std::time::Duration::from_secs(args.grace),
        debug_plan: args.debug_plan,
        allow_untested_python: args.allow_untested_python,
    };
    let mut live = Live {
        line: StatusLine::new(args.quiet),
        started: std::time::Instant::now(),
    };
    let outcome = if args.view {
        super::view::record_with_view(&opts, &mut live, args.view_port.unwrap_or(0))?
    } else {
        record::record(&opts, &mut live)
    };
    live.line.finish();
    match outcome {
        Ok(o) => {
            print_summary(&output, &o, args.quiet);
            Ok(u8::try_from(o.exit_code.clamp(0, 255)).unwrap_or(1))
        }
        Err(RecordError::Refused(msg)) => {
            let at = args
                .probe_file
                .as_deref()
                .and_then(|f| written_at(&msg, &args.probes, f, &from_file));
            eprintln!(
                "probe: error: {}",
                escape_lines(&format!("{}{msg}", at.unwrap_or_default()))
            );
            eprintln!("probe: nothing was run");
            Ok(2)
        }
        Err(e) if e.before_run() => {
            eprintln!("probe: error: {}", escape_lines(&e.to_string()));
            eprintln!("probe: nothing was run");
            Ok(2)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("recording to {}", output.display()))),
    }
}

/// "FILE line N: " when a refusal (`probe 'SPEC': …`) is about a spec of
/// the probe file that no `-p` gave as well.
fn written_at(
    msg: &str,
    given: &[String],
    file: &Path,
    from_file: &[(usize, String)],
) -> Option<String> {
    // The agent names a spec by its Python repr, quotes and backslashes
    // escaped; the closing quote keeps `a.py:1:x` from matching `a.py:1:x.y`.
    let names = |spec: &str| msg.starts_with(&format!("probe {}", record::spec::py_repr(spec)));
    let (line, _) = from_file.iter().find(|(_, spec)| names(spec))?;
    if given.iter().any(|spec| names(spec)) {
        return None;
    }
    Some(format!("{} line {line}: ", file.display()))
}

/// The live line's contents.
struct Live {
    line: StatusLine,
    started: std::time::Instant,
}

impl Observer for Live {
    fn progress(&mut self, records: u64, log_bytes: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        self.line.update(&format!(
            "{}, {}/s, log {}",
            count(records, "record", "records"),
            thousands((records as f64 / secs) as u64),
            human_bytes(log_bytes)
        ));
    }

    fn resized(&mut self) {
        self.line.resized();
    }
}

/// `1 record`, `1,234 records`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

fn print_summary(output: &Path, o: &RecordOutcome, quiet: bool) {
    // The fallback to the settrace core on 3.11 is a note about speed, not
    // a problem: -q silences it. A native core that did not load, and every
    // other warning, is always shown.
    match (&o.core_note, o.core_warning, quiet) {
        (Some(note), true, _) => eprintln!("probe: warning: {}", escape_lines(note)),
        (Some(note), false, false) => eprintln!("probe: note: {}", escape_lines(note)),
        _ => {}
    }
    for w in &o.warnings {
        eprintln!("probe: warning: {}", escape_lines(w));
    }
    if let Some(why) = &o.incomplete {
        eprintln!("probe: warning: {}", escape_lines(why));
    }
    if o.end.untraced_children > 0 {
        eprintln!(
            "probe: warning: {} ran untraced (children are not traced yet): their captures are not in the log",
            match o.end.untraced_children {
                1 => "1 child process".to_string(),
                n => format!("{} child processes", thousands(n)),
            }
        );
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
        "probe: wrote {} — {} in {}, {}{}",
        Esc(&output.display().to_string()),
        count(n, "record", "records"),
        crate::text::format_duration(o.elapsed),
        human_bytes(o.file_bytes),
        density
    );
    if o.waits > 0 {
        // Back-pressure: the recorder (its disk, or the machine) was slower
        // than the program for a while; the program waited, nothing was lost.
        eprintln!(
            "  the program waited for the recorder {}, {} in all (nothing dropped)",
            count(o.waits, "time", "times"),
            crate::text::format_duration(o.waited)
        );
    }
    // One line per probe, up to 20 (`probe info` lists them all), by the
    // short label every human output uses (the full spec is in the log).
    const SHOWN: usize = 20;
    let labels = crate::model::short_labels(&o.probes);
    let width = labels
        .iter()
        .take(SHOWN)
        .map(|l| escape(l).chars().count())
        .max()
        .unwrap_or(0);
    for (l, c) in labels.iter().zip(&o.end.per_probe).take(SHOWN) {
        eprintln!("  {:<width$}  {:>12}", Esc(l), thousands(*c));
    }
    if o.probes.len() > SHOWN {
        eprintln!(
            "  … and {} more probes (probe info {} lists them all)",
            thousands((o.probes.len() - SHOWN) as u64),
            Esc(&output.display().to_string())
        );
    }
    let ended = match o.end.exit.kind.as_str() {
        "exit" => format!("exited with status {}", o.end.exit.code),
        "exception" => format!(
            "ended by an uncaught {} (status {})",
            Esc(o.end.exit.exception.as_deref().unwrap_or("exception")),
            o.end.exit.code
        ),
        "os_exit" => format!("called os._exit({})", o.end.exit.code),
        "exec" => format!(
            "replaced itself with another program (os.exec*), which ended with status {}",
            o.end.exit.code
        ),
        "signal" if o.end.exit.killed_by_recorder => format!(
            "was killed by probe (SIGKILL) after outliving the grace period (status {})",
            o.end.exit.code
        ),
        "signal" => format!("was killed by signal {}", o.end.exit.signal.unwrap_or(0)),
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
