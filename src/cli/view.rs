//! `probe view`: the interactive HTML report of a log, or the live page of a
//! log being written (`--follow`).

use std::path::PathBuf;

use anyhow::Result;

use super::human_bytes;
use crate::render::plot::thousands;

#[derive(clap::Args)]
pub struct ViewArgs {
    /// The log to view.
    log: PathBuf,
    /// The report to write. Default: LOG's name with .html, beside it.
    #[arg(short, long, value_name = "FILE.html")]
    output: Option<PathBuf>,
    /// Replace an existing report.
    #[arg(long)]
    force: bool,
    /// Initial x axis of the panels: capture order (seq) or time.
    #[arg(long = "x", value_enum, default_value = "seq")]
    x_axis: XArg,
    /// Largest report to write, in MB (10^6 bytes). Past it, the biggest
    /// probes keep the first, min, max and last record per bucket of records
    /// (exact until zoomed past one pixel per bucket); the report says so.
    #[arg(long, default_value_t = 30, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=4000))]
    max_size: u64,
    /// Serve the live page of a log that is being written (on 127.0.0.1,
    /// with a random token in the URL) instead of writing a report; runs
    /// until interrupted.
    #[arg(long)]
    follow: bool,
    /// Port for --follow (default: any free port).
    #[arg(long, requires = "follow")]
    port: Option<u16>,
    /// Refresh rate of the live page (pushes per second at most).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=240))]
    fps: u32,
    /// No summary line.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum XArg {
    /// Capture order: the record's seq in the run, shared by all probes.
    Seq,
    /// Capture time (seconds since the recording started).
    Time,
}

/// `record --view`: the recording with a live viewer fed by the recorder's
/// tap. The URL goes to stderr before the program starts; after the run the
/// server waits (at most 2 s) until every open page has the final state.
pub(crate) fn record_with_view(
    opts: &crate::record::RecordOptions,
    progress: crate::record::Progress<'_>,
    port: u16,
) -> Result<Result<crate::record::RecordOutcome, crate::record::RecordError>> {
    use crate::view::live::{LiveServer, LiveStore, StoreTap};
    let name = opts.output.file_name().map_or_else(
        || opts.output.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let store = LiveStore::new(&name, 60, false);
    let server = LiveServer::start(store.clone(), port)?;
    eprintln!("probe: live view at {}", server.url());
    let mut tap = StoreTap::new(store.clone());
    let outcome = crate::record::record_with_tap(opts, progress, Some(&mut tap));
    // What the log says about itself, as every reader would say it.
    let issues = crate::log::LogReader::open(&opts.output)
        .map(|r| {
            let hist = crate::history::buffer::build(&r, &[]);
            hist.report.issues
        })
        .unwrap_or_else(|e| vec![e.to_string()]);
    match &outcome {
        Ok(o) => store.finish(Some(o.end.clone()), issues),
        Err(e) => store.finish(None, vec![format!("recording failed: {e}")]),
    }
    server.linger(std::time::Duration::from_secs(2));
    Ok(outcome)
}

/// `view --follow`: serve the live page of a log being written, until
/// interrupted.
fn follow(args: &ViewArgs) -> Result<u8> {
    use crate::view::live::{LiveServer, LiveStore};
    let name = args.log.file_name().map_or_else(
        || args.log.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let store = LiveStore::new(&name, args.fps, matches!(args.x_axis, XArg::Time));
    let server = LiveServer::start(store.clone(), args.port.unwrap_or(0))?;
    eprintln!(
        "probe: live view of {} at {}",
        args.log.display(),
        server.url()
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    crate::view::follow::follow(
        &args.log,
        &store,
        &stop,
        std::time::Duration::from_millis(10),
    )?;
    if !args.quiet {
        eprintln!(
            "probe: {} is complete ({} records); serving its final state until interrupted (Ctrl-C)",
            args.log.display(),
            thousands(store.records())
        );
    }
    loop {
        std::thread::park();
    }
}

/// Runs `probe view`.
pub fn run(args: ViewArgs) -> Result<u8> {
    use crate::view::{self, ViewError, ViewOptions};
    if args.follow {
        return follow(&args);
    }
    let opts = ViewOptions {
        log: args.log.clone(),
        output: args.output.clone(),
        force: args.force,
        x_time: matches!(args.x_axis, XArg::Time),
        max_bytes: args.max_size * 1_000_000,
    };
    let outcome = match view::write_report(&opts) {
        Ok(o) => o,
        Err(e @ (ViewError::Usage(_) | ViewError::OutputExists(_))) => {
            eprintln!("probe: error: {e}");
            return Ok(2);
        }
        Err(e) => return Err(anyhow::Error::new(e)),
    };
    for issue in &outcome.report.issues {
        eprintln!("probe: warning: {}: {issue}", args.log.display());
    }
    if !args.quiet {
        eprintln!(
            "probe: wrote {} ({}, {} records{})",
            outcome.path.display(),
            human_bytes(outcome.bytes),
            thousands(outcome.report.records),
            outcome.reduced.map_or(String::new(), |b| format!(
                ", large probes reduced to buckets of {b}"
            ))
        );
    }
    if outcome.report.is_clean() {
        Ok(0)
    } else {
        eprintln!(
            "probe: {} is {}: the report shows what is intact (exit 1)",
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
