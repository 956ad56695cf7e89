//! The `probe` command line: one file per command, each holding its clap
//! arguments and the code that runs it; this file holds the command enum,
//! the dispatcher and the little helpers they share (stdout, progress bars,
//! byte counts). Library errors are typed (`thiserror`); here, at the edge,
//! they become `anyhow` errors with context and exit status 2.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub mod diff;
pub mod docs;
pub mod export;
pub mod info;
pub mod probes;
pub mod record;
pub mod replay;
pub mod status_line;
pub mod verify;
pub mod view;

/// `--version`: the package version and the commit it was built from
/// (`unknown commit` when built outside a git checkout; see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PROBE_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(name = "probe", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run a Python program and record every capture of the given probes.
    ///
    /// Exits with the program's own exit status (128+N if a signal N killed
    /// it), or 2 if the recording could not start (bad probe spec, missing
    /// interpreter, not a Python program, bad output path, existing output
    /// without --force — all found before the program runs) or the program
    /// ended on its own but the log could not hold the whole run (disk full).
    /// SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to probe are passed on to the
    /// program (those ignored when probe starts, as under nohup or in a
    /// background job, stay ignored by both); the log is sealed when it ends
    /// (see --grace).
    #[command(
        after_help = "Examples:\n  probe record -p loop.py:3:x -- python3 loop.py\n  probe record -p pkg/mod.py:10:self.gain@rhs -o run.probe -- python3 -m pkg.mod --fast\n  probe record --probes probes.txt -- script.py arg1   (uses $PROBE_PYTHON or python3)"
    )]
    Record(record::RecordArgs),
    /// Check a log's integrity and ordering guarantees.
    ///
    /// Exit status: 0 all guarantees hold, 1 violations (listed; an
    /// incomplete log is one), 2 unreadable.
    Verify(verify::VerifyArgs),
    /// List, per line of a Python file, the names a probe can name and the
    /// role each gets by default — resolved exactly as `record` resolves specs.
    ///
    /// Exit status: 0, or 2 if the file cannot be read or parsed, or the line
    /// does not exist.
    #[command(
        after_help = "Examples:\n  probe probes loop.py\n  probe probes loop.py --line 12\n  probe probes --python python3.11 pkg/mod.py --json"
    )]
    Probes(probes::ProbesArgs),
    /// Rebuild every probe's history and render the frames a display
    /// refreshing at --fps would have shown, as PNG, SVG or an animated GIF.
    ///
    /// One panel per probe, by value kind: numbers as a line, bools as a step
    /// line, complex as real and imaginary lines, 1-D arrays as a waveform,
    /// complex arrays as an I/Q constellation, 2-D arrays as a heatmap, text
    /// as a list of the latest values. A manifest (frames.json: time, dirty
    /// probes and counts of each frame) is written beside the frames of a
    /// directory output; for a single PNG, SVG or GIF only with --manifest.
    ///
    /// Exit status: 0 rendered from a complete, undamaged log; 1 rendered,
    /// but the log is damaged or incomplete (what is missing is listed on
    /// stderr; the images show everything intact); 2 nothing rendered (log
    /// unreadable, bad option, unwritable output).
    #[command(
        after_help = "Examples:\n  probe replay run.probe                      (frames into run.replay/)\n  probe replay run.probe --final-only -o final.png\n  probe replay run.probe --format gif -o run.gif --size 800x450\n  probe replay run.probe --probe x --probe loop.py:7:y@rhs --x time --theme dark"
    )]
    Replay(replay::ReplayArgs),
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
    Diff(diff::DiffArgs),
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
    Export(export::ExportArgs),
    /// Write an interactive HTML report of a log (one offline file), or serve
    /// the live page of a log being written (--follow).
    ///
    /// A panel per probe chosen by value kind (line, step, complex, array
    /// waveform/constellation/heatmap with a slider over captures, text), all
    /// on one x axis (capture order or time) that zooms and pans together with
    /// exact per-pixel min/max decimation of the visible range; hover shows
    /// seq, value, status and batch; a banner when the log is incomplete or
    /// damaged; a summary table.
    ///
    /// Exit status: 0 written from a complete log; 1 written, but the log is
    /// damaged or incomplete (the report shows what is intact); 2 nothing
    /// written (unreadable log, existing report without --force, bad option).
    #[command(
        after_help = "Examples:\n  probe view run.probe                 (writes run.html beside it)\n  probe view run.probe -o report.html --force --x time\n  probe view --follow run.probe        (a log still being written: a live page)"
    )]
    View(view::ViewArgs),
    /// Summarise a log: run, probes, counts, statistics, completeness.
    ///
    /// Exit status: 0, or 2 if the log cannot be read at all.
    Info(info::InfoArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    ///
    /// bash: `source <(probe completions bash)` (or save it under
    /// ~/.local/share/bash-completion/completions/probe); zsh: save as `_probe`
    /// in a directory of $fpath; fish: save as
    /// ~/.config/fish/completions/probe.fish.
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff) generated from these definitions, or
    /// write one page per command with --dir.
    #[command(
        after_help = "Examples:\n  probe man | man -l -\n  probe man --dir ~/.local/share/man/man1"
    )]
    Man(docs::ManArgs),
}

/// Tune the C allocator for reading a log (glibc only; a no-op
/// elsewhere). Decoding allocates and frees a few MB per block, hundreds of
/// times; by default glibc hands such blocks back to the kernel on every
/// free, so each one is faulted in again page by page. Keeping freed memory
/// for reuse cut a 10 M-record `--final-only` replay from 93,000 page faults
/// to 9,000 and its CPU time by about a third, and `verify` of 10 M records
/// from 30,000 faults to 1,700. Process-wide, so the CLI calls it before a
/// reading command starts its threads, not the library on its own.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes two glibc malloc parameters (both
        // valid values); it takes malloc's own lock and is called before
        // the command starts its worker threads.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}

/// An allocation the system refuses (an address-space limit such as
/// `ulimit -v`) ends a Rust program with `abort()` after std prints
/// "memory allocation of N bytes failed" (a stable hook to do otherwise
/// does not exist). probe's rule is exit status 2 for what it cannot do,
/// never a crash: the abort becomes exit 2 with a line that says why.
/// Outputs are written under temporary names and renamed only when whole,
/// so nothing half-written is left under the name asked for.
fn exit_2_on_abort() {
    extern "C" fn on_abort(_: libc::c_int) {
        const MSG: &[u8] = b"probe: error: out of memory: the system refused an allocation \
(an address-space limit such as `ulimit -v`?); PROBE_MEMORY_BUDGET bounds what probe holds\n";
        // Outputs half-written under temporary names go first (_exit runs
        // no destructors).
        crate::output::remove_pending();
        // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is static.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(2);
        }
    }
    // SAFETY: installs a handler that calls only async-signal-safe
    // functions; the cast is how libc takes a handler function.
    unsafe {
        libc::signal(
            libc::SIGABRT,
            on_abort as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Libraries report a refused allocation or thread their own way: arrow
/// panics ("failed to allocate memory"), rayon panics when it cannot start
/// its threads under an address-space limit. Those panics are the same
/// condition as the abort above — out of memory — and end the same way,
/// exit 2 with a line that says so; every other panic (a bug) keeps the
/// default report.
fn exit_2_on_resource_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        const RESOURCE: &[&str] = &[
            "failed to allocate",
            "memory allocation of",
            "ThreadPoolBuildError",
            "Resource temporarily unavailable",
            "Cannot allocate memory",
        ];
        if RESOURCE.iter().any(|k| msg.contains(k)) {
            eprintln!(
                "probe: error: out of memory: {} (an address-space limit such as `ulimit -v`?); \
                 PROBE_MEMORY_BUDGET bounds what probe holds",
                crate::text::escape(&msg)
            );
            // exit runs no destructors: remove half-written outputs here.
            crate::output::remove_pending();
            std::process::exit(2);
        }
        default(info);
    }));
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    exit_2_on_abort();
    exit_2_on_resource_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Arguments are file names and need not be UTF-8
            // (`std::env::args` panics on one that is not).
            let args: Vec<String> = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if let Some(hint) = record_without_dashes(&e, &args) {
                eprintln!("probe: error: {hint}");
                return ExitCode::from(2);
            }
            if e.kind() == clap::error::ErrorKind::InvalidUtf8 {
                // clap does not say which argument: name it (escaped).
                let bad = std::env::args_os()
                    .skip(1)
                    .find(|a| a.to_str().is_none())
                    .map(|a| a.to_string_lossy().into_owned())
                    .unwrap_or_default();
                eprintln!(
                    "probe: error: `{}` is not valid UTF-8: probe specs and names must be text \
                     (file paths, the log and the program after `--` may be any bytes)",
                    crate::text::escape(&bad)
                );
                return ExitCode::from(2);
            }
            e.exit()
        }
    };
    if !matches!(cli.command, Cmd::Record(_) | Cmd::Probes(_)) {
        tune_allocator();
    }
    if !matches!(cli.command, Cmd::Record(_)) {
        // `record` passes these signals on to the program instead.
        crate::output::remove_pending_on_signals();
    }
    let result = match cli.command {
        Cmd::Record(args) => record::run(args),
        Cmd::Verify(args) => verify::run(args),
        Cmd::Info(args) => info::run(args),
        Cmd::Probes(args) => probes::run(args),
        Cmd::Replay(args) => replay::run(args),
        Cmd::Diff(args) => diff::run(args),
        Cmd::Export(args) => export::run(args),
        Cmd::View(args) => view::run(args),
        Cmd::Completions(args) => docs::completions(args),
        Cmd::Man(args) => docs::man(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "probe: error: {}",
                crate::text::escape_lines(&format!("{e:#}"))
            );
            ExitCode::from(2)
        }
    }
}

/// `probe record -p SPEC python prog.py` (the program not after `--`):
/// clap's bare "unexpected argument" becomes the fix.
fn record_without_dashes(e: &clap::Error, args: &[String]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if args.first().map(String::as_str) != Some("record")
        || args.iter().any(|a| a == "--")
        || e.kind() != ErrorKind::UnknownArgument
    {
        return None;
    }
    let stray = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => return None,
    };
    if stray.starts_with('-') {
        return None; // an unknown option of `record` itself, not a program
    }
    // The program is the stray word and everything after it.
    let at = args.iter().position(|a| *a == stray)?;
    let before = args[..at].join(" ");
    let program = args[at..].join(" ");
    Some(format!(
        "unexpected `{stray}`: put the program after `--`: probe {before} -- {program}"
    ))
}

pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

pub(crate) fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// A progress line on stderr when it is a terminal and not `--quiet`:
/// a bar when `length` is known (`Some`), else a spinner.
pub(crate) fn progress_bar(quiet: bool, length: Option<u64>, template: &str) -> ProgressBar {
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

pub(crate) fn human_bytes(b: u64) -> String {
    crate::log::error::human(b)
}
