//! `probe replay`: histories, frame schedule, panels, exact decimation,
//! damaged logs and bad options.

mod common;
mod replay_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use probe::history::buffer::{self, ProbeDataBuffer};
use probe::history::throttle::RedrawThrottler;
use probe::log::{LogReader, ProbeInfo};
use probe::model::{Role, Status, Value};
use probe::render::decimate::{polylines, BlockIndex};
use probe::render::encode::render_rgb;
use probe::render::plot::{FrameData, PanelData, PanelKind, PlotStyle, Theme, XAxis};
use replay_common::*;
use serde_json::Value as Json;

fn replay(args: &[&str]) -> Output {
    Command::new(probe_bin())
        .arg("replay")
        .args(args)
        .output()
        .expect("probe runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest(path: &Path) -> Json {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("manifest {}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn fixture_log(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs/v1")
        .join(name)
}

/// A 1 M-capture run lasting T = 2.5 s (one capture every 2.5 µs) at 60 fps:
/// at most ⌈T·fps⌉ + 1 frames, each showing every record captured by its
/// tick (so counts only grow), and the last frame holds all 1 M records.
#[test]
fn frame_schedule_of_a_million_captures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("m.probe");
    let n = 1_000_000u64;
    let dt = 2_500u64;
    write_series(&log, n, dt, |i| Value::Float(signal(i)));
    let reader = LogReader::open(&log).expect("open");
    let h = buffer::build(&reader, &[true]).expect("build");
    assert!(h.report.is_clean(), "{:?}", h.report.messages());
    assert_eq!(h.buffers[0].len() as u64, n);
    let frames = RedrawThrottler::schedule(60, &h.buffers);
    let t_secs = (n * dt) as f64 * 1e-9;
    let bound = (t_secs * 60.0).ceil() as usize + 1;
    assert!(frames.len() <= bound, "{} frames > {bound}", frames.len());
    assert!(
        frames.len() >= bound - 2,
        "a tick with data was skipped: {}",
        frames.len()
    );
    let ts = h.buffers[0].timestamps();
    let mut prev = 0;
    for f in &frames {
        let c = f.counts[0];
        assert!(c > prev, "frame {} shows no new data", f.index);
        // Exactly the records captured at or before the tick.
        let expect = ts.partition_point(|&t| t <= f.time_ns) as u64;
        assert_eq!(c, expect, "frame {} at {} ns", f.index, f.time_ns);
        assert_eq!(f.dirty, vec![0]);
        prev = c;
    }
    let last = frames.last().expect("a frame");
    assert!(last.is_final);
    assert_eq!(last.counts[0], n);
    // Deterministic: the same log gives the same schedule.
    assert_eq!(frames, RedrawThrottler::schedule(60, &h.buffers));
}

/// A real recorded run of 1 M captures (`x = i`), replayed at 60 fps
/// through the CLI: the manifest's frames respect the bound for the run's
/// duration, one image per frame, and the last frame holds every capture.
#[test]
fn replay_of_a_real_million_capture_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, py) = pythons()
        .into_iter()
        .find(|(v, _)| *v == "3.12")
        .expect("3.12");
    let file = fixture("canonical.py");
    let specs = vec![spec(&file, "million", "x")];
    let (out, log) = record(
        dir.path(),
        &py,
        "monitoring",
        &specs,
        &[p(&file), "million"],
    );
    assert_ok(&out, "recording the million loop");
    let reader = LogReader::open(&log).expect("open");
    let end = reader.end().expect("end marker").clone();
    let last_ts = reader
        .records()
        .map(|r| r.expect("record").ts_ns)
        .max()
        .expect("records");
    let outdir = dir.path().join("frames");
    let o = replay(&[p(&log), "-o", p(&outdir), "--size", "320x200", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&outdir.join("frames.json"));
    let frames = m["frames"].as_array().expect("frames");
    let t_secs = last_ts as f64 * 1e-9;
    assert!(t_secs <= end.duration_ns as f64 * 1e-9 + 1e-9);
    let bound = (t_secs * 60.0).ceil() as usize + 1;
    assert!(
        !frames.is_empty() && frames.len() <= bound,
        "{} frames, bound {bound}",
        frames.len()
    );
    let last = frames.last().expect("frame");
    assert_eq!(last["counts"][0], 1_000_000);
    assert_eq!(last["final"], true);
    for f in frames {
        let file = outdir.join(f["file"].as_str().expect("file"));
        let bytes = std::fs::read(&file).expect("frame image exists");
        assert_eq!(&bytes[1..4], b"PNG", "{}", file.display());
        // time_s is time_ns in seconds, correctly rounded (the frame at
        // 10.2 s says 10.2, not 10.200000000000001).
        let ns = f["time_ns"].as_u64().expect("time_ns");
        assert_eq!(f["time_s"].as_f64(), Some(ns as f64 / 1e9), "{f}");
    }
    let pngs = std::fs::read_dir(&outdir)
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".png"))
        })
        .count();
    assert_eq!(pngs, frames.len());
}

/// SPEC §2's loop (`x = x - 1` three times, LHS): the SVG's data line has
/// exactly three points, and mapping their y through the axis labels reads
/// back 9, 8, 7 in that order.
#[test]
fn canonical_loop_reads_back_from_the_svg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, py) = pythons()
        .into_iter()
        .find(|(v, _)| *v == "3.12")
        .expect("3.12");
    let file = fixture("canonical.py");
    let specs = vec![spec(&file, "loop_lhs", "x")];
    let (out, log) = record(
        dir.path(),
        &py,
        "monitoring",
        &specs,
        &[p(&file), "loop_lhs"],
    );
    assert_ok(&out, "recording loop_lhs");
    let svg_path = dir.path().join("loop.svg");
    let o = replay(&[
        p(&log),
        "--final-only",
        "-o",
        p(&svg_path),
        "--size",
        "640x400",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&svg_path).expect("svg");
    let line = format!(
        "stroke=\"#{:02X}{:02X}{:02X}\"",
        Theme::LIGHT.line.0,
        Theme::LIGHT.line.1,
        Theme::LIGHT.line.2
    );
    // The data line: one polyline, or (drawn wide, segment by segment so
    // that no mitred join spikes out) consecutive segments sharing ends.
    let data: Vec<&str> = svg
        .lines()
        .filter(|l| l.contains("<polyline") && l.contains(&line))
        .collect();
    assert!(!data.is_empty(), "a data line expected:\n{svg}");
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for seg in &data {
        for xy in attr(seg, "points").split_whitespace() {
            let (x, y) = xy.split_once(',').expect("x,y");
            let pt = (x.parse().expect("x"), y.parse().expect("y"));
            if pts.last() != Some(&pt) {
                pts.push(pt);
            }
        }
    }
    assert_eq!(pts.len(), 3, "{pts:?}");
    assert!(
        pts[0].0 < pts[1].0 && pts[1].0 < pts[2].0,
        "x in capture order"
    );
    // Y-axis labels: right-aligned numbers left of the plot.
    let labels: Vec<(f64, f64)> = texts(&svg)
        .into_iter()
        .filter(|(tag, _)| tag.contains("text-anchor=\"end\""))
        .filter_map(|(tag, text)| Some((attr(&tag, "y").parse::<f64>().ok()?, text.parse().ok()?)))
        .collect();
    assert!(labels.len() >= 2, "y labels: {labels:?}");
    let (ya, va) = labels[0];
    let (yb, vb) = labels[labels.len() - 1];
    let values: Vec<i64> = pts
        .iter()
        .map(|&(_, y)| (va + (y - ya) * (vb - va) / (yb - ya)).round() as i64)
        .collect();
    assert_eq!(values, vec![9, 8, 7]);
    assert!(svg.contains("canonical.py:"), "panel title names the probe");
    assert!(svg.contains("3 records"));
    assert!(svg.contains(">capture index<") || svg.contains("capture index"));
}

fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let start = tag.find(&key).map(|i| i + key.len()).expect("attribute");
    let len = tag[start..].find('"').expect("closing quote");
    &tag[start..start + len]
}

/// Every `<text>` element of an SVG: (opening tag, trimmed content).
fn texts(svg: &str) -> Vec<(String, String)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|chunk| {
            let (tag, rest) = chunk.split_once('>')?;
            let (content, _) = rest.split_once("</text>")?;
            Some((tag.to_string(), content.trim().to_string()))
        })
        .collect()
}

/// Every value kind gets its panel: float → line, bool → step, complex →
/// real/imag lines, 1-D real array → waveform, complex array →
/// constellation, 2-D array → heatmap with colour bar, str → list.
#[test]
fn value_kinds_choose_their_panels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("g.probe");
    write_gallery(&log);
    let out = dir.path().join("out");
    let o = replay(&[p(&log), "--final-only", "--format", "svg", "-o", p(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&out.join("frames.json"));
    let panels: Vec<&str> = m["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .map(|p| p["panel"].as_str().expect("panel"))
        .collect();
    assert_eq!(
        panels,
        ["line", "step", "complex", "array", "array", "array", "text"]
    );
    let svg = std::fs::read_to_string(out.join("final.svg")).expect("svg");
    let all_text: Vec<String> = texts(&svg).into_iter().map(|(_, t)| t).collect();
    for label in ["True", "False"] {
        assert!(
            all_text.iter().any(|t| t == label),
            "step panel lacks the {label} label"
        );
    }
    for needle in [
        "— imag",                           // complex legend
        "latest: record #49, float64[256]", // waveform axis
        "I (real)",                         // constellation axes
        "Q (imag)",
        "float64[24×32]",      // heatmap axis
        "done (step 190)",     // text panel, latest value
        "10 unbound, 1 error", // gaps counted
    ] {
        assert!(svg.contains(needle), "final.svg lacks {needle:?}");
    }
    // The heatmap draws its cells (24×32 rectangles) and a colour bar.
    assert!(svg.matches("<rect").count() >= 24 * 32, "heatmap cells");

    // The library's own choice, per buffer.
    let reader = LogReader::open(&log).expect("open");
    let h = buffer::build(&reader, &[true; 7]).expect("build");
    let kinds: Vec<PanelKind> = h.buffers.iter().map(PanelKind::of).collect();
    assert_eq!(
        kinds,
        [
            PanelKind::Line,
            PanelKind::Step,
            PanelKind::Complex,
            PanelKind::Array,
            PanelKind::Array,
            PanelKind::Array,
            PanelKind::Text
        ]
    );
    use probe::render::plot::ArrayView;
    let view = |b: &ProbeDataBuffer| match &b.others().last().expect("array").1 {
        Value::Array(a) => PanelKind::array_view(a),
        v => panic!("not an array: {v:?}"),
    };
    assert_eq!(view(&h.buffers[3]), ArrayView::Waveform);
    assert_eq!(view(&h.buffers[4]), ArrayView::Constellation);
    assert_eq!(view(&h.buffers[5]), ArrayView::Heatmap);
    // Gaps are gaps: unbound and error captures hold no value, not 0.
    let level = &h.buffers[0];
    assert_eq!(level.marks().len(), 11);
    for &(i, s) in level.marks() {
        assert!(matches!(s, Status::Unbound | Status::Error));
        assert!(level.values()[i as usize].is_nan());
    }
}

fn probe_info() -> ProbeInfo {
    ProbeInfo {
        id: 0,
        spec: "/src/demo.py:4:x@lhs".into(),
        file: "/src/demo.py".into(),
        line: 4,
        name: "x".into(),
        role: Role::Lhs,
    }
}

fn draw(
    buf: &ProbeDataBuffer,
    axis: XAxis,
    decimate: bool,
    index: Option<&BlockIndex>,
    size: (u32, u32),
) -> Vec<u8> {
    let info = probe_info();
    let frame = FrameData {
        header: "decimation".into(),
        warning: None,
        panels: vec![PanelData {
            info: &info,
            label: "loop.py:4:x@lhs",
            buf,
            count: buf.len(),
            kind: PanelKind::of(buf),
            y_range: None,
            index: [index, None],
        }],
    };
    let style = PlotStyle {
        theme: Theme::LIGHT,
        x_axis: axis,
        decimate,
    };
    render_rgb(&frame, &style, size).expect("draw")
}

/// M4 decimation is exact at the output resolution: 200,000 points (with
/// spikes, a NaN, an unbound stretch and irregular capture times) drawn
/// into a ~400-pixel-wide plot give the very same RGB pixels decimated as
/// drawn point by point, on both x axes, while keeping ≤ 4 points per column.
#[test]
fn decimation_draws_the_same_pixels_as_every_point() {
    let n = 200_000u64;
    let mut buf = ProbeDataBuffer::default();
    let mut ts = 0u64;
    for i in 0..n {
        ts += 1 + (i * 7919) % 13;
        let (status, v) = match i {
            50_000..=50_400 => (Status::Unbound, Value::Absent),
            120_000 => (Status::Ok, Value::Float(f64::NAN)),
            _ => (Status::Ok, Value::Float(signal(i * 5))),
        };
        buf.push_record(i, ts, status, v);
    }
    let size = (480, 300);
    for axis in [XAxis::Index, XAxis::Time] {
        let full = draw(&buf, axis, false, None, size);
        let dec = draw(&buf, axis, true, None, size);
        let index = BlockIndex::new(buf.values());
        let dec_ix = draw(&buf, axis, true, Some(&index), size);
        for (what, img) in [("decimated", &dec), ("decimated with block index", &dec_ix)] {
            let differing = full
                .chunks(3)
                .zip(img.chunks(3))
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(differing, 0, "{axis:?}, {what}: {differing} pixels differ");
        }
        // The picture is not blank: the line covers many pixels.
        let line = Theme::LIGHT.line;
        let lit = dec
            .chunks(3)
            .filter(|c| c == &[line.0, line.1, line.2])
            .count();
        assert!(lit > 2_000, "{axis:?}: only {lit} line pixels");
    }
    // And decimation does reduce: ≤ 4 points per pixel column per run.
    let pts = (0..n as usize).map(|i| (i as f64, buf.values()[i]));
    let d = polylines(pts, |x| (x / n as f64 * 400.0) as i32, true);
    assert!(
        d.kept_points() <= 4 * 400 + 8,
        "{} points kept",
        d.kept_points()
    );
    assert_eq!(
        d.runs.len(),
        3,
        "the unbound stretch and the NaN split the line"
    );
}

/// Damaged and incomplete logs render everything intact, list what is
/// missing on stderr, and exit 1; a good log exits 0.
#[test]
fn damaged_logs_render_what_is_intact_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, code, records, needle) in [
        ("good.probe", 0, 48, ""),
        ("flipped-byte.probe", 1, 36, "records 12..23 missing"),
        ("missing-frame.probe", 1, 36, "records 12..23 missing"),
        ("truncated.probe", 1, 36, "incomplete: no end marker"),
        ("no-end-marker.probe", 1, 48, "incomplete: no end marker"),
    ] {
        let out = dir.path().join(format!("{name}.png"));
        let m = dir.path().join(format!("{name}.frames.json"));
        let o = replay(&[
            p(&fixture_log(name)),
            "--final-only",
            "-o",
            p(&out),
            "--manifest",
            p(&m),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{name}: {err}");
        assert!(
            err.contains(needle),
            "{name}: stderr lacks {needle:?}:\n{err}"
        );
        if code == 1 {
            assert!(err.contains("rendered what is intact"), "{name}: {err}");
        }
        let png = std::fs::read(&out).unwrap_or_else(|e| panic!("{name}: no image: {e}"));
        assert_eq!(&png[1..4], b"PNG");
        let m = manifest(&m);
        let shown: u64 = m["frames"][0]["counts"]
            .as_array()
            .expect("counts")
            .iter()
            .map(|c| c.as_u64().expect("count"))
            .sum();
        assert_eq!(shown, records, "{name}");
        assert_eq!(m["complete"], code == 0, "{name}");
    }
}

/// Bad options and unusable inputs or outputs: a clear message, exit 2,
/// and no panic.
#[test]
fn bad_options_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = fixture_log("good.probe");
    let not_a_log = dir.path().join("notalog.probe");
    std::fs::write(&not_a_log, b"hello, world").expect("write");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let under_file = blocker.join("out");
    let png = dir.path().join("x.png");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![p(&log), "--size", "10x10"], "16..=20000"),
        (vec![p(&log), "--size", "wide"], "WIDTHxHEIGHT"),
        (vec![p(&log), "--probe", "nosuch"], "matches no probe"),
        (vec![p(&log), "--fps", "0"], "fps"),
        (vec![p(&log), "--format", "bmp"], "bmp"),
        (vec![p(&log), "-o", p(&under_file)], "cannot write"),
        (
            vec![p(&log), "--all-frames", "-o", p(&png)],
            "give a directory",
        ),
        (
            vec![p(&log), "--final-only", "--format", "svg", "-o", p(&png)],
            "does not match",
        ),
        (vec![p(&not_a_log)], "not a probe log"),
        (vec!["/nonexistent/run.probe"], "run.probe"),
    ];
    for (args, needle) in cases {
        let o = replay(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: stderr lacks {needle:?}:\n{err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The selector error lists the probes there are.
    let o = replay(&[p(&log), "--probe", "nosuch"]);
    assert!(stderr(&o).contains("loop.py:3:v0@lhs"), "{}", stderr(&o));
}

/// `--probe` chooses panels; a GIF is one animation with one image per
/// frame of the manifest; the same log replays to the same bytes.
#[test]
fn probe_selection_gif_and_determinism() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("g.probe");
    write_gallery(&log);
    let gif_path = dir.path().join("g.gif");
    let manifest_path = dir.path().join("g.frames.json");
    let o = replay(&[
        p(&log),
        "--format",
        "gif",
        "-o",
        p(&gif_path),
        "--manifest",
        p(&manifest_path),
        "--size",
        "320x180",
        "--probe",
        "level",
        "--probe",
        "demo.py:15:z@lhs",
        "--theme",
        "dark",
        "--x",
        "time",
        "--fps",
        "30",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&manifest_path);
    let labels: Vec<&str> = m["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .map(|p| p["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["demo.py:12:level@lhs", "demo.py:15:z@lhs"]);
    let n_frames = m["frames"].as_array().expect("frames").len();
    // 200 iterations 2 ms apart: 0.4 s at 30 fps.
    assert!((10..=14).contains(&n_frames), "{n_frames} frames");
    let file = std::fs::File::open(&gif_path).expect("gif");
    let mut dec = gif::DecodeOptions::new()
        .read_info(std::io::BufReader::new(file))
        .expect("a GIF");
    let mut count = 0;
    while dec.read_next_frame().expect("frame decodes").is_some() {
        count += 1;
    }
    assert_eq!(count, n_frames);

    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for d in [&a, &b] {
        let o = replay(&[p(&log), "-o", p(d), "--size", "320x180", "-q"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let ma = std::fs::read(a.join("frames.json")).expect("manifest");
    let mb = std::fs::read(b.join("frames.json")).expect("manifest");
    assert_eq!(
        String::from_utf8_lossy(&ma).replace(p(&a), ""),
        String::from_utf8_lossy(&mb).replace(p(&b), "")
    );
    let last = manifest(&a.join("frames.json"))["frames"]
        .as_array()
        .and_then(|f| f.last().cloned())
        .expect("frames");
    let name = last["file"].as_str().expect("file");
    assert_eq!(
        std::fs::read(a.join(name)).expect("png"),
        std::fs::read(b.join(name)).expect("png"),
        "same log, same pixels"
    );

    // Replaying into the same directory again replaces the earlier frames:
    // the directory then holds exactly what its frames.json lists.
    let o = replay(&[
        p(&log),
        "-o",
        p(&a),
        "--format",
        "svg",
        "--size",
        "320x180",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let listed = manifest(&a.join("frames.json"))["frames"]
        .as_array()
        .expect("frames")
        .len();
    let mut names: Vec<String> = std::fs::read_dir(&a)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".svg") || n == "frames.json"),
        "{names:?}"
    );
    assert_eq!(names.len(), listed + 1);
}

/// Frame offsets of an intact log: (offset, kind byte, total length).
fn frames_of(bytes: &[u8]) -> Vec<(usize, u8, usize)> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos + 48 <= bytes.len() && bytes[pos..pos + 4] == *b"PRBF" {
        let len =
            u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().expect("4 bytes")) as usize;
        out.push((pos, bytes[pos + 4], 48 + len));
        pos += 48 + len;
    }
    out
}

/// Out-of-order and repeated frames are reported, never silently
/// reordered or double counted: swapped frames are put back in seq order
/// (and said so), a repeated frame is ignored (and said so), exit 1.
#[test]
fn out_of_order_and_repeated_frames_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = std::fs::read(fixture_log("good.probe")).expect("fixture");
    let frames = frames_of(&good);
    let recs: Vec<&(usize, u8, usize)> = frames.iter().filter(|f| f.1 == 2).collect();
    assert_eq!(recs.len(), 4, "good.probe has four RECORDS frames");
    let piece = |f: &(usize, u8, usize)| good[f.0..f.0 + f.2].to_vec();
    let head = good[..recs[0].0].to_vec();
    let tail = good[recs[3].0 + recs[3].2..].to_vec();

    // Frames 2 and 3 swapped.
    let mut swapped = head.clone();
    for i in [0, 2, 1, 3] {
        swapped.extend(piece(recs[i]));
    }
    swapped.extend(&tail);
    let log = dir.path().join("swapped.probe");
    std::fs::write(&log, &swapped).expect("write");
    let reader = LogReader::open(&log).expect("open");
    let h = buffer::build(&reader, &[true; 3]).expect("build");
    assert!(
        h.report
            .messages()
            .iter()
            .any(|i| i.contains("out of order")),
        "{:?}",
        h.report.messages()
    );
    let mut total = 0;
    for b in &h.buffers {
        assert!(
            b.seqs().windows(2).all(|w| w[0] < w[1]),
            "history in seq order"
        );
        total += b.len();
    }
    assert_eq!(total, 48, "nothing lost");
    let o = replay(&[p(&log), "--final-only", "-o", p(&dir.path().join("s.png"))]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("out of order"), "{}", stderr(&o));

    // Frame 2 repeated.
    let mut repeated = head;
    for i in [0, 1, 1, 2, 3] {
        repeated.extend(piece(recs[i]));
    }
    repeated.extend(&tail);
    let log = dir.path().join("repeated.probe");
    std::fs::write(&log, &repeated).expect("write");
    let reader = LogReader::open(&log).expect("open");
    let h = buffer::build(&reader, &[true; 3]).expect("build");
    assert!(
        h.report
            .messages()
            .iter()
            .any(|i| i.contains("already read; ignored")),
        "{:?}",
        h.report.messages()
    );
    assert_eq!(h.buffers.iter().map(|b| b.len()).sum::<usize>(), 48);
}

/// Arrays recorded from a real NumPy program (not a synthetic log) get
/// their panels: waveform, constellation, heatmap — on every Python.
#[test]
fn arrays_recorded_from_numpy_get_array_panels() {
    let file = fixture("dsp.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let specs: Vec<String> = ["sig", "iq", "spec", "level"]
        .iter()
        .map(|t| spec(&file, t, t))
        .collect();
    for (version, py) in pythons() {
        let (out, log) = record(dir.path(), &py, "auto", &specs, &[p(&file)]);
        assert_ok(&out, &format!("Python {version}"));
        let png = dir.path().join(format!("dsp-{version}.png"));
        let mpath = png.with_extension("frames.json");
        let o = replay(&[
            p(&log),
            "--final-only",
            "-o",
            p(&png),
            "--manifest",
            p(&mpath),
        ]);
        assert_eq!(o.status.code(), Some(0), "Python {version}: {}", stderr(&o));
        let m = manifest(&mpath);
        let panels: Vec<&str> = m["probes"]
            .as_array()
            .expect("probes")
            .iter()
            .map(|p| p["panel"].as_str().expect("panel"))
            .collect();
        assert_eq!(
            panels,
            ["array", "array", "array", "line"],
            "Python {version}"
        );
        let reader = LogReader::open(&log).expect("open");
        let h = buffer::build(&reader, &[true; 4]).expect("build");
        use probe::render::plot::ArrayView;
        let views: Vec<ArrayView> = h.buffers[..3]
            .iter()
            .map(|b| match &b.others().last().expect("array").1 {
                Value::Array(a) => PanelKind::array_view(a),
                v => panic!("Python {version}: not an array: {v:?}"),
            })
            .collect();
        assert_eq!(
            views,
            [
                ArrayView::Waveform,
                ArrayView::Constellation,
                ArrayView::Heatmap
            ],
            "Python {version}"
        );
        assert!(std::fs::metadata(&png).expect("png written").len() > 10_000);
    }
}
