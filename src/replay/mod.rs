//! `probe replay` (SPEC §7): rebuild every probe's history from a log and
//! render the frames a live display would have shown.
//!
//! The data's path: the mmap'd log → [`crate::history::buffer::build`] (one
//! [`crate::history::buffer::ProbeDataBuffer`] per chosen probe, blocks decoded in
//! parallel through the reading layer) → [`crate::history::throttle::RedrawThrottler`]
//! (which frames a display at `--fps` would have drawn, and how many records
//! of each probe each one shows) → [`crate::render`] (each frame drawn in
//! parallel, written as PNG or SVG files, or one animated GIF) plus a
//! manifest, `frames.json`. Every file goes through [`crate::output`]:
//! written beside its target and renamed into place, never through a
//! symlink, never over an existing output without `--force` (a directory
//! that holds only an earlier replay's outputs is refreshed).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::history::buffer::{self, Histories};
use crate::history::throttle::{Frame, RedrawThrottler};
use crate::log::walk::ReadReport;
use crate::log::{LogError, LogReader, Selection};
use crate::output::{check_target, write_file, OutputError, PendingFile};
use crate::render::decimate::BlockIndex;
use crate::render::encode::{encode_png, render_rgb, render_svg, GifPalette, GifWriter};
use crate::render::plot::{DrawError, FrameData, PanelData, PanelKind, PlotStyle, Theme, XAxis};
use crate::text::escape;

/// A replay that would write more frames than this says so and asks for
/// an explicit choice (`--final-only`, a lower `--fps`, or `--all-frames`).
pub const MAX_FRAMES_UNASKED: usize = 500;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One PNG per frame.
    Png,
    /// One SVG per frame.
    Svg,
    /// One animated GIF of all frames.
    Gif,
}

impl Format {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Gif => "gif",
        }
    }

    fn from_ext(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            "gif" => Some(Format::Gif),
            _ => None,
        }
    }
}

/// Colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    /// Dark on white.
    Light,
    /// Light on dark.
    Dark,
}

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The log.
    pub log: PathBuf,
    /// Output directory, or a file for a single frame / a GIF. Default:
    /// `<log stem>.replay/` beside the log.
    pub output: Option<PathBuf>,
    /// Format; default from the output's extension, else PNG.
    pub format: Option<Format>,
    /// Render only the final frame.
    pub final_only: bool,
    /// Render every frame even when there are more than [`MAX_FRAMES_UNASKED`].
    pub all_frames: bool,
    /// Replace existing outputs (files, or a directory holding other files).
    pub force: bool,
    /// Image size in pixels.
    pub size: (u32, u32),
    /// `--probe` selectors (empty: every probe).
    pub probes: Vec<String>,
    /// X axis of line panels.
    pub x_axis: XAxis,
    /// Theme.
    pub theme: ThemeName,
    /// Display refresh rate.
    pub fps: u32,
    /// Where to write the manifest. `None`: `frames.json` in a directory
    /// output, and none at all beside a single file (one PNG, SVG or GIF is
    /// complete in itself, and a `NAME.frames.json` beside it would clash
    /// between `-o demo.png` and `-o demo.gif`).
    pub manifest: Option<PathBuf>,
}

/// Why a replay did not render.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log cannot be read at all (or not within the memory budget).
    // The cause is part of the message, not a `#[source]`, so that a
    // caller printing the whole chain does not print it twice.
    #[error("cannot read {}: {}", escape(&.path.display().to_string()), escape(&.error.to_string()))]
    Unreadable {
        /// The log.
        path: PathBuf,
        /// Why.
        error: LogError,
    },
    /// The options do not make sense for this log.
    #[error("{0}")]
    Usage(String),
    /// Writing an output failed, or an output exists.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Drawing a frame failed.
    #[error("frame {frame}: {error}")]
    Draw {
        /// Frame index.
        frame: usize,
        /// Why.
        error: DrawError,
    },
}

/// What a replay produced.
#[derive(Debug, Serialize)]
pub struct ReplayOutcome {
    /// Frames rendered.
    pub frames: usize,
    /// Files written (images; the GIF once).
    pub files: Vec<PathBuf>,
    /// The manifest, if one was written (see [`ReplayOptions::manifest`]).
    pub manifest: Option<PathBuf>,
    /// What reading the log found (damage, gaps).
    pub report: ReadReport,
}

/// Where outputs go.
enum Target {
    /// One file (a single frame, or the GIF).
    File(PathBuf),
    /// A directory of frames.
    Dir(PathBuf),
}

/// Manifest entry of a probe.
#[derive(Serialize)]
struct ManifestProbe {
    id: u32,
    label: String,
    spec: String,
    role: &'static str,
    panel: PanelKind,
    records: u64,
}

/// Manifest entry of a frame.
#[derive(Serialize)]
struct ManifestFrame<'a> {
    index: usize,
    tick: u64,
    time_ns: u64,
    time_s: f64,
    /// Probe ids that got new data since the previous frame.
    dirty: Vec<u32>,
    /// Records shown, one per entry of `probes`.
    counts: Vec<u64>,
    file: &'a str,
    #[serde(rename = "final")]
    is_final: bool,
}

#[derive(Serialize)]
struct Manifest<'a> {
    log: String,
    format: Format,
    fps: u32,
    final_only: bool,
    size: [u32; 2],
    x_axis: &'static str,
    complete: bool,
    issues: &'a [String],
    probes: Vec<ManifestProbe>,
    frames: Vec<ManifestFrame<'a>>,
}

fn output_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayError + '_ {
    move |error| {
        ReplayError::Output(OutputError::Io {
            path: path.to_path_buf(),
            error,
        })
    }
}

/// Decide the format and the target from the options (no file touched).
fn plan(opts: &ReplayOptions) -> Result<(Format, Target), ReplayError> {
    let out_ext = opts.output.as_deref().and_then(Format::from_ext);
    let format = match (opts.format, out_ext) {
        (Some(f), Some(e)) if f != e => {
            return Err(ReplayError::Usage(format!(
                "--format {} does not match the output file name {}",
                f.ext(),
                opts.output.as_deref().unwrap_or(Path::new("")).display()
            )))
        }
        (Some(f), _) => f,
        (None, Some(e)) => e,
        (None, None) => Format::Png,
    };
    let target = match (&opts.output, out_ext) {
        (Some(p), Some(_)) => {
            // One PNG or SVG file holds one frame: the final one.
            if format != Format::Gif && opts.all_frames {
                return Err(ReplayError::Usage(format!(
                    "-o {} names one {} file, which holds one frame; for --all-frames give a directory",
                    escape(&p.display().to_string()),
                    format.ext()
                )));
            }
            Target::File(p.clone())
        }
        (Some(p), None) => Target::Dir(p.clone()),
        (None, _) => {
            let stem = opts
                .log
                .file_stem()
                .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
            let parent = opts.log.parent().unwrap_or(Path::new("."));
            Target::Dir(parent.join(format!("{stem}.replay")))
        }
    };
    Ok((format, target))
}

/// Records of the selected probes shown by a frame (index = probe id).
fn final_frame(h: &Histories, selected: &[usize]) -> Frame {
    let mut counts = vec![0u64; h.buffers.len()];
    let mut dirty = Vec::new();
    let mut last_ts = 0;
    for &p in selected {
        let b = &h.buffers[p];
        counts[p] = b.len() as u64;
        if !b.is_empty() {
            dirty.push(p as u32);
            last_ts = last_ts.max(b.timestamps().iter().copied().max().unwrap_or(0));
        }
    }
    Frame {
        index: 0,
        tick: 0,
        time_ns: last_ts,
        counts,
        dirty,
        is_final: true,
    }
}

/// For each frame, the finite value range of each selected probe's shown
/// prefix, in one pass over each history (frames only ever add records).
fn y_ranges(h: &Histories, selected: &[usize], frames: &[Frame]) -> Vec<Vec<Option<(f64, f64)>>> {
    let per_probe: Vec<Vec<Option<(f64, f64)>>> = selected
        .par_iter()
        .map(|&p| {
            let b = &h.buffers[p];
            let (re, im) = (b.values(), b.imag());
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            let mut at = 0usize;
            frames
                .iter()
                .map(|f| {
                    let to = (f.counts[p] as usize).min(re.len());
                    for col in [re, im] {
                        if col.is_empty() {
                            continue;
                        }
                        for &v in &col[at.min(to)..to] {
                            if v.is_finite() {
                                lo = lo.min(v);
                                hi = hi.max(v);
                            }
                        }
                    }
                    at = at.max(to);
                    (lo <= hi).then_some((lo, hi))
                })
                .collect()
        })
        .collect();
    (0..frames.len())
        .map(|f| per_probe.iter().map(|v| v[f]).collect())
        .collect()
}

fn fmt_time(ns: u64) -> String {
    format!("{:.3} s", ns as f64 * 1e-9)
}

/// True for the names a replay writes into its directory.
fn is_replay_output(name: &str) -> bool {
    let frame = name
        .strip_prefix("frame-")
        .and_then(|r| r.strip_suffix(".png").or_else(|| r.strip_suffix(".svg")));
    frame.is_some_and(|d| d.len() >= 6 && d.bytes().all(|b| b.is_ascii_digit()))
        || matches!(
            name,
            "frames.json" | "final.png" | "final.svg" | "replay.gif"
        )
}

/// A replay directory may be written into when it is new, or holds only
/// an earlier replay's outputs (regular files); anything else there — other
/// files, symlinks, the directory itself a symlink — needs `--force`.
fn check_replay_dir(dir: &Path, force: bool) -> Result<(), ReplayError> {
    let md = match fs::symlink_metadata(dir) {
        Err(_) => return Ok(()),
        Ok(md) => md,
    };
    if force {
        return Ok(());
    }
    let shown = || escape(&dir.display().to_string()).into_owned();
    if md.file_type().is_symlink() {
        return Err(ReplayError::Usage(format!(
            "{} is a symlink; refusing to write a replay through it (use --force)",
            shown()
        )));
    }
    if !md.is_dir() {
        return Err(ReplayError::Output(OutputError::Exists {
            path: dir.to_path_buf(),
        }));
    }
    let mut foreign = Vec::new();
    for e in fs::read_dir(dir).map_err(output_err(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if !(regular && is_replay_output(&name)) {
            foreign.push(escape(&name).into_owned());
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        let more = foreign.len().saturating_sub(3);
        foreign.truncate(3);
        return Err(ReplayError::Usage(format!(
            "{} holds files that are not an earlier replay's ({}{}); refusing to write into it (use --force, or another -o)",
            shown(),
            foreign.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        )));
    }
    Ok(())
}

/// Remove `frame-NNNNNN.ext` files (ours) left by an earlier replay into
/// the same directory, so the directory holds exactly this replay's frames.
fn remove_stale_frames(dir: &Path, ext: &str) -> Result<(), ReplayError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(_) => return Ok(()),
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with("frame-")
            && name.ends_with(&format!(".{ext}"))
            && is_replay_output(&name);
        if ours {
            fs::remove_file(e.path()).map_err(output_err(&e.path()))?;
        }
    }
    Ok(())
}

/// What a replay is about to write, said before it starts (so a user can
/// stop a replay much larger than expected).
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// Frames to render.
    pub frames: usize,
    /// Format.
    pub format: Format,
    /// The file or directory written.
    pub target: PathBuf,
}

/// Run a replay. `start` hears what it will write before the first frame
/// is drawn; `progress(done, total)` is called as frames finish (from
/// worker threads).
pub fn replay(
    opts: &ReplayOptions,
    start: &dyn Fn(&ReplayPlan),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ReplayOutcome, ReplayError> {
    let (format, target) = plan(opts)?;
    let (w, h) = opts.size;
    if !(16..=20_000).contains(&w) || !(16..=20_000).contains(&h) {
        return Err(ReplayError::Usage(format!(
            "--size {w}x{h}: width and height must be 16..=20000 pixels"
        )));
    }
    // One PNG or SVG file holds the final frame.
    let final_only = opts.final_only || matches!(target, Target::File(_)) && format != Format::Gif;
    let reader = LogReader::open(&opts.log).map_err(|error| ReplayError::Unreadable {
        path: opts.log.clone(),
        error,
    })?;
    reader
        .check_work(crate::log::limits::Work::Draw)
        .map_err(|error| ReplayError::Unreadable {
            path: opts.log.clone(),
            error,
        })?;
    let selection = Selection::new(&reader.meta().probes, &opts.probes).map_err(|e| {
        ReplayError::Usage(format!(
            "{} ({})",
            escape(&e.to_string()),
            escape(&opts.log.display().to_string())
        ))
    })?;
    let selected = selection.ids();

    // Check the outputs before the long work, so an unwritable or existing
    // -o fails fast.
    let (dir, manifest_path) = match &target {
        Target::File(f) => {
            check_target(f, opts.force)?;
            (
                crate::output::parent_dir(f).to_path_buf(),
                opts.manifest.clone(),
            )
        }
        Target::Dir(d) => {
            check_replay_dir(d, opts.force)?;
            let m = opts
                .manifest
                .clone()
                .unwrap_or_else(|| d.join("frames.json"));
            (d.clone(), Some(m))
        }
    };
    if let Some(m) = &opts.manifest {
        check_target(m, opts.force)?;
        let mdir = crate::output::parent_dir(m);
        fs::create_dir_all(mdir).map_err(output_err(mdir))?;
    }
    fs::create_dir_all(&dir).map_err(output_err(&dir))?;
    // A file created and dropped: the directory is writable.
    drop(
        tempfile::Builder::new()
            .prefix(".probe-replay.")
            .tempfile_in(&dir)
            .map_err(output_err(&dir))?,
    );

    let hist =
        buffer::build(&reader, selection.flags()).map_err(|error| ReplayError::Unreadable {
            path: opts.log.clone(),
            error,
        })?;
    // How many frames, before any is built: each holds a count per probe.
    let n_frames = if final_only {
        1
    } else {
        RedrawThrottler::count(opts.fps, &hist.buffers)
    };
    if n_frames > MAX_FRAMES_UNASKED && !opts.all_frames {
        let secs = hist
            .buffers
            .iter()
            .filter_map(|b| b.timestamps().last())
            .max()
            .map_or(0.0, |&t| t as f64 * 1e-9);
        return Err(ReplayError::Usage(format!(
            "this replay would write {} frames ({} per second over {secs:.1} s of recording); \
             add --final-only for the final frame alone, a lower --fps for fewer frames, \
             or --all-frames to write them all",
            crate::render::plot::thousands(n_frames as u64),
            opts.fps
        )));
    }
    // Per frame: its counts, its value ranges, its manifest entry.
    let frame_bytes =
        3 * (hist.buffers.len() * 8 + selected.len() * 24 + std::mem::size_of::<Frame>()) as u64;
    reader
        .budget()
        .charge(n_frames as u64 * frame_bytes, &|| {
            format!("the schedule of {n_frames} frames")
        })
        .map_err(|error| ReplayError::Unreadable {
            path: opts.log.clone(),
            error,
        })?;
    let frames: Vec<Frame> = if final_only {
        vec![final_frame(&hist, &selected)]
    } else {
        // Probes not selected were not built: their buffers are empty.
        RedrawThrottler::schedule(opts.fps, &hist.buffers)
    };
    start(&ReplayPlan {
        frames: frames.len(),
        format,
        target: match &target {
            Target::File(f) => f.clone(),
            Target::Dir(d) => d.clone(),
        },
    });
    let kinds: Vec<PanelKind> = selected
        .iter()
        .map(|&p| PanelKind::of(&hist.buffers[p]))
        .collect();
    let ranges = y_ranges(&hist, &selected, &frames);
    // Block summaries pay off when many frames show the same history; a
    // single frame would spend a pass on them to save one.
    let indexes: Vec<[Option<BlockIndex>; 2]> = selected
        .par_iter()
        .map(|&p| {
            let b = &hist.buffers[p];
            if frames.len() < 2 || b.len() < 4 * BlockIndex::BLOCK {
                return [None, None];
            }
            [
                Some(BlockIndex::new(b.values())),
                (!b.imag().is_empty()).then(|| BlockIndex::new(b.imag())),
            ]
        })
        .collect();
    let style = PlotStyle {
        theme: match opts.theme {
            ThemeName::Light => Theme::LIGHT,
            ThemeName::Dark => Theme::DARK,
        },
        x_axis: opts.x_axis,
        decimate: true,
    };
    let log_name = opts.log.file_name().map_or_else(
        || opts.log.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let log_name = escape(&log_name).into_owned();
    let labels = crate::model::short_labels(&hist.probes);
    let warning = (!hist.report.is_clean()).then(|| {
        if hist.report.has_end {
            format!(
                "log damaged: {} problem{} (see stderr)",
                hist.report.problems.len(),
                if hist.report.problems.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )
        } else {
            "log incomplete: showing what was recorded".to_string()
        }
    });
    let n = frames.len();
    let frame_data = |i: usize| -> FrameData<'_> {
        let f = &frames[i];
        let header = if final_only {
            format!("{log_name}  ·  final frame  ·  t = {}", fmt_time(f.time_ns))
        } else {
            format!(
                "{log_name}  ·  frame {}/{n}  ·  t = {}",
                i + 1,
                fmt_time(f.time_ns)
            )
        };
        FrameData {
            header,
            warning: warning.clone(),
            panels: selected
                .iter()
                .enumerate()
                .map(|(k, &p)| PanelData {
                    info: &hist.probes[p],
                    label: &labels[p],
                    buf: &hist.buffers[p],
                    count: f.counts[p] as usize,
                    kind: kinds[k],
                    y_range: ranges[i][k],
                    index: [indexes[k][0].as_ref(), indexes[k][1].as_ref()],
                })
                .collect(),
        }
    };
    let file_names: Vec<String> = match (&target, format) {
        (Target::File(f), _) => {
            let name = f
                .file_name()
                .map_or_else(|| "replay".into(), |s| s.to_string_lossy().into_owned());
            vec![name; n]
        }
        (Target::Dir(_), Format::Gif) => vec!["replay.gif".to_string(); n],
        (Target::Dir(_), fmt) if final_only => vec![format!("final.{}", fmt.ext()); n],
        (Target::Dir(_), fmt) => (0..n)
            .map(|i| format!("frame-{i:06}.{}", fmt.ext()))
            .collect(),
    };
    if matches!(target, Target::Dir(_)) && format != Format::Gif && !final_only {
        // Both formats: the directory then holds this replay's frames only,
        // as its frames.json says.
        remove_stale_frames(&dir, "png")?;
        remove_stale_frames(&dir, "svg")?;
    }
    // Into a replay directory, our own earlier files are replaced; a
    // single-file target was checked above and is replaced only by force.
    let replace = opts.force || matches!(target, Target::Dir(_));
    let done = std::sync::atomic::AtomicU64::new(0);
    let tick = || {
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(d, n as u64);
    };
    let mut files: Vec<PathBuf> = Vec::new();
    match format {
        Format::Png | Format::Svg => {
            (0..n).into_par_iter().try_for_each(|i| {
                let fd = frame_data(i);
                let bytes = if format == Format::Png {
                    let rgb = render_rgb(&fd, &style, (w, h))
                        .map_err(|error| ReplayError::Draw { frame: i, error })?;
                    encode_png(&rgb, (w, h), n == 1)
                        .map_err(|error| ReplayError::Draw { frame: i, error })?
                } else {
                    render_svg(&fd, &style, (w, h))
                        .map_err(|error| ReplayError::Draw { frame: i, error })?
                        .into_bytes()
                };
                let path = dir.join(&file_names[i]);
                write_file(&path, &bytes, replace)?;
                tick();
                Ok::<(), ReplayError>(())
            })?;
            let mut seen = std::collections::HashSet::new();
            for name in &file_names {
                if seen.insert(name) {
                    files.push(dir.join(name));
                }
            }
        }
        Format::Gif => {
            let path = dir.join(&file_names[0]);
            let mut out = PendingFile::create(&path, replace)?;
            let palette = GifPalette::new(&style.theme);
            {
                let file = out.file().try_clone().map_err(output_err(&path))?;
                let mut gw = GifWriter::new(std::io::BufWriter::new(file), (w, h), &palette)
                    .map_err(|error| ReplayError::Draw { frame: 0, error })?;
                // Draw a batch of frames in parallel, then append them in
                // order: parallel drawing with a bounded number of frames
                // in memory.
                let batch = rayon::current_num_threads().max(1) * 4;
                let delays = gif_delays(&frames);
                for start in (0..n).step_by(batch) {
                    let end = (start + batch).min(n);
                    let idx: Vec<Result<Vec<u8>, ReplayError>> = (start..end)
                        .into_par_iter()
                        .map(|i| {
                            let rgb = render_rgb(&frame_data(i), &style, (w, h))
                                .map_err(|error| ReplayError::Draw { frame: i, error })?;
                            Ok(palette.map(&rgb))
                        })
                        .collect();
                    for (k, r) in idx.into_iter().enumerate() {
                        gw.frame(&r?, delays[start + k])
                            .map_err(|error| ReplayError::Draw {
                                frame: start + k,
                                error,
                            })?;
                        tick();
                    }
                }
                gw.finish()
                    .map_err(|error| ReplayError::Draw { frame: n, error })?;
            }
            out.file().flush().map_err(output_err(&path))?;
            out.commit()?;
            files.push(path);
        }
    }

    let Some(manifest_path) = manifest_path else {
        return Ok(ReplayOutcome {
            frames: n,
            files,
            manifest: None,
            report: hist.report,
        });
    };
    let problems = hist.report.messages();
    let manifest = Manifest {
        log: opts.log.display().to_string(),
        format,
        fps: opts.fps,
        final_only,
        size: [w, h],
        x_axis: match opts.x_axis {
            XAxis::Index => "index",
            XAxis::Time => "time",
        },
        complete: hist.report.is_clean(),
        issues: &problems,
        probes: selected
            .iter()
            .zip(&kinds)
            .map(|(&p, &k)| {
                let info = &hist.probes[p];
                ManifestProbe {
                    id: info.id,
                    label: info.label(),
                    spec: info.spec.clone(),
                    role: info.role.as_str(),
                    panel: k,
                    records: hist.buffers[p].len() as u64,
                }
            })
            .collect(),
        frames: frames
            .iter()
            .enumerate()
            .map(|(i, f)| ManifestFrame {
                index: i,
                tick: f.tick,
                time_ns: f.time_ns,
                time_s: f.time_ns as f64 / 1e9, // correctly rounded: 10.2, not 10.200000000000001
                dirty: f.dirty.clone(),
                counts: selected.iter().map(|&p| f.counts[p]).collect(),
                file: &file_names[i],
                is_final: f.is_final,
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| {
        ReplayError::Output(OutputError::Io {
            path: manifest_path.clone(),
            error: std::io::Error::other(e),
        })
    })?;
    // An explicit --manifest was checked above like any output; in a
    // replay directory, frames.json is one of the replay's own files.
    let replace_manifest = if opts.manifest.is_some() {
        opts.force
    } else {
        replace
    };
    write_file(&manifest_path, (json + "\n").as_bytes(), replace_manifest)?;
    Ok(ReplayOutcome {
        frames: n,
        files,
        manifest: Some(manifest_path),
        report: hist.report,
    })
}

/// GIF delays (hundredths of a second) that play the frames at recorded
/// speed: each frame lasts until the next one's time, rounded so that
/// errors do not add up; at least 2 (browsers treat less as 10, so frames
/// denser than 50 per second play slower than recorded), and the final
/// frame holds for 3 s.
fn gif_delays(frames: &[Frame]) -> Vec<u16> {
    let cs = |ns: u64| (ns + 5_000_000) / 10_000_000;
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| match frames.get(i + 1) {
            Some(next) => cs(next.time_ns)
                .saturating_sub(cs(f.time_ns))
                .clamp(2, 6000) as u16,
            None => 300,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_at(time_ns: u64) -> Frame {
        Frame {
            index: 0,
            tick: 0,
            time_ns,
            counts: vec![],
            dirty: vec![],
            is_final: false,
        }
    }

    #[test]
    fn gif_delays_follow_the_recorded_times_without_drift() {
        // 30 fps ticks: 33.3 ms apart, GIF delays in 10 ms units.
        let frames: Vec<Frame> = (1..=7).map(|k| frame_at(k * 33_333_334)).collect();
        let d = gif_delays(&frames);
        assert_eq!(d.len(), 7);
        assert_eq!(*d.last().unwrap_or(&0), 300, "the final frame holds");
        // Rounded so that errors do not add up: 6 frames span 200 ms.
        assert_eq!(d[..6].iter().map(|&x| u32::from(x)).sum::<u32>(), 20);
        // Faster than GIF players go (50 frames/s): 20 ms each.
        let fast: Vec<Frame> = (1..=4).map(|k| frame_at(k * 16_666_667)).collect();
        assert_eq!(gif_delays(&fast)[..3], [2, 2, 2]);
        // A long pause between frames is kept.
        let d = gif_delays(&[
            frame_at(0),
            frame_at(1_500_000_000),
            frame_at(1_520_000_000),
        ]);
        assert_eq!(d[0], 150);
    }

    #[test]
    fn output_plan_from_options() {
        let mut o = ReplayOptions {
            log: PathBuf::from("/data/run.probe"),
            output: None,
            format: None,
            final_only: false,
            all_frames: false,
            force: false,
            size: (640, 360),
            probes: vec![],
            x_axis: XAxis::Index,
            theme: ThemeName::Light,
            fps: 60,
            manifest: None,
        };
        let (f, t) = plan(&o).expect("plan");
        assert_eq!(f, Format::Png);
        assert!(matches!(t, Target::Dir(d) if d == Path::new("/data/run.replay")));
        o.output = Some(PathBuf::from("anim.GIF"));
        assert_eq!(plan(&o).expect("plan").0, Format::Gif);
        o.output = Some(PathBuf::from("one.svg"));
        assert_eq!(
            plan(&o).expect("plan").0,
            Format::Svg,
            "one file: the final frame"
        );
        o.all_frames = true;
        assert!(
            matches!(plan(&o), Err(ReplayError::Usage(_))),
            "all frames, one file"
        );
        o.all_frames = false;
        o.final_only = true;
        assert_eq!(plan(&o).expect("plan").0, Format::Svg);
        o.format = Some(Format::Png);
        assert!(
            matches!(plan(&o), Err(ReplayError::Usage(_))),
            "format contradicts name"
        );
    }
}
