//! `probe replay`: render the frames a live display would have shown.

use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use super::progress_bar;
use crate::render::plot::thousands;
use crate::text::escape;

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// One PNG per frame.
    Png,
    /// One SVG per frame.
    Svg,
    /// One animated GIF of all frames.
    Gif,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum XArg {
    /// Capture index within the probe.
    Index,
    /// Capture time (seconds since the recording started).
    Time,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ThemeArg {
    /// Dark on white.
    Light,
    /// Light on dark.
    Dark,
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The log to replay.
    log: PathBuf,
    /// Output directory (frames, frames.json), or a file name for one
    /// frame (with --final-only) or the GIF. Default: LOG's name with
    /// .replay/ beside it.
    #[arg(short, long, value_name = "DIR|FILE")]
    output: Option<PathBuf>,
    /// Write the manifest (frame times, dirty probes, counts, panels, the
    /// log's problems) to this JSON file. Default: frames.json in a
    /// directory output; none for a single PNG, SVG or GIF.
    #[arg(long, value_name = "FILE.json")]
    manifest: Option<PathBuf>,
    /// Image format (default: from -o's extension, else png).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Render only the final frame (every record of every probe). The
    /// default when -o names one PNG or SVG file.
    #[arg(long, conflicts_with = "all_frames")]
    final_only: bool,
    /// Render every frame even when there are more than 500 (without it,
    /// such a replay stops and says how many frames it would write).
    #[arg(long)]
    all_frames: bool,
    /// Replace existing outputs: the -o file, or a directory that holds
    /// other files than an earlier replay's.
    #[arg(long)]
    force: bool,
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

/// Runs `probe replay`.
pub fn run(args: ReplayArgs) -> Result<u8> {
    use crate::render::plot::XAxis;
    use crate::replay::{self, Format, ReplayError, ReplayOptions, ThemeName};
    let opts = ReplayOptions {
        log: args.log.clone(),
        output: args.output.clone(),
        format: args.format.map(|f| match f {
            FormatArg::Png => Format::Png,
            FormatArg::Svg => Format::Svg,
            FormatArg::Gif => Format::Gif,
        }),
        final_only: args.final_only,
        all_frames: args.all_frames,
        force: args.force,
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
        manifest: args.manifest.clone(),
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
    let quiet = args.quiet;
    let start = |plan: &replay::ReplayPlan| {
        if !quiet {
            eprintln!(
                "probe: replay: {} frame{} ({}) into {}",
                thousands(plan.frames as u64),
                if plan.frames == 1 { "" } else { "s" },
                plan.format.ext(),
                escape(&plan.target.display().to_string())
            );
        }
    };
    let result = replay::replay(&opts, &start, &progress);
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
    let log_shown = escape(&args.log.display().to_string()).into_owned();
    for issue in &outcome.report.problems {
        eprintln!("probe: warning: {log_shown}: {}", escape(&issue.message));
    }
    if !args.quiet {
        let what = match outcome.files.as_slice() {
            [one] => escape(&one.display().to_string()).into_owned(),
            many => format!(
                "{} files in {}",
                many.len(),
                many.first()
                    .and_then(|f| f.parent())
                    .map_or_else(String::new, |p| escape(&p.display().to_string())
                        .into_owned())
            ),
        };
        let manifest = outcome.manifest.as_ref().map_or_else(String::new, |m| {
            format!(" (manifest {})", escape(&m.display().to_string()))
        });
        eprintln!(
            "probe: replayed {} records into {} frame{} in {}: {what}{manifest}",
            thousands(outcome.report.records),
            outcome.frames,
            if outcome.frames == 1 { "" } else { "s" },
            crate::text::format_duration(started.elapsed()),
        );
    }
    if outcome.report.is_clean() {
        Ok(0)
    } else {
        eprintln!(
            "probe: {log_shown} is {}: rendered what is intact (exit 1)",
            if outcome.report.has_end {
                "damaged"
            } else {
                "incomplete"
            }
        );
        Ok(1)
    }
}
