//! `probe view` in a real browser: Debian's headless Chromium, driven by
//! `tests/browser/drive.mjs` (playwright-core, never a downloaded browser).
//! Every assertion reads the page's own account of what it shows
//! (`window.__probeState`), and every test saves a screenshot in its temp
//! directory (printed, so a failing run can be looked at). No Chromium, no
//! node or no `tests/browser/node_modules` is a loud failure: `.ci/run`
//! installs them.

mod common;
#[path = "replay_common/mod.rs"]
mod replay_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use common::{fixture, probe_bin, pythons};
use replay_common::{signal, write_gallery, write_series};

fn chromium() -> PathBuf {
    let p = std::env::var_os("PROBE_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        p.exists(),
        "{} not found: the browser tests need Debian's chromium (apt-get install chromium; .ci/run does)",
        p.display()
    );
    p
}

fn driver() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules missing: run `npm ci` in tests/browser (.ci/run does)"
    );
    dir.join("drive.mjs")
}

/// Run the driver on `url`; returns its JSON (state, results, errors).
fn drive(
    dir: &Path,
    name: &str,
    url: &str,
    until: &str,
    scripts: &[&str],
    timeout_ms: u64,
) -> Json {
    let _ = chromium();
    let shot = dir.join(format!("{name}.png"));
    let cfg = json!({
        "url": url, "until": until, "scripts": scripts, "timeout_ms": timeout_ms,
        "screenshot": shot, "width": 1400, "height": 900,
    });
    let cfg_path = dir.join(format!("{name}.json"));
    std::fs::write(&cfg_path, cfg.to_string()).expect("write driver config");
    let out = Command::new("node")
        .arg(driver())
        .arg(&cfg_path)
        .output()
        .expect("node runs (install nodejs)");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Json = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    eprintln!("screenshot: {}", shot.display());
    assert!(shot.exists(), "no screenshot taken");
    let errors = v["errors"].as_array().cloned().unwrap_or_default();
    assert!(errors.is_empty(), "page errors: {errors:?}");
    assert!(
        v["state"]["error"].is_null(),
        "page error: {}",
        v["state"]["error"]
    );
    assert_eq!(v["state"]["ready"], true, "{v}");
    v
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn info(log: &Path) -> Json {
    let out = Command::new(probe_bin())
        .args(["info", "--json"])
        .arg(log)
        .output()
        .expect("probe info");
    serde_json::from_slice(&out.stdout).expect("info json")
}

fn view(args: &[&str]) -> std::process::Output {
    Command::new(probe_bin())
        .arg("view")
        .args(args)
        .output()
        .expect("probe view runs")
}

fn probe_state<'a>(state: &'a Json, label_part: &str) -> &'a Json {
    state["probes"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|p| p["label"].as_str().is_some_and(|l| l.contains(label_part)))
        })
        .unwrap_or_else(|| panic!("no probe {label_part} in {state}"))
}

#[test]
fn every_panel_kind_shows_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("gallery.probe");
    write_gallery(&log);
    let out = view(&[log.to_str().unwrap_or_default()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = dir.path().join("gallery.html");
    let v = drive(
        dir.path(),
        "gallery",
        &file_url(&html),
        "S.ready",
        &[],
        20_000,
    );
    let s = &v["state"];
    assert_eq!(s["complete"], true);
    assert_eq!(s["mode"], "static");
    let inf = info(&log);
    let expect = [
        ("level", "line"),
        ("ready", "step"),
        (":z@", "complex"),
        ("block", "array"),
        ("symbols", "array"),
        ("frame", "array"),
        ("state", "text"),
    ];
    for (i, (name, panel)) in expect.iter().enumerate() {
        let p = probe_state(s, name);
        assert_eq!(p["panel"], *panel, "{name}: {p}");
        assert_eq!(p["count"], inf["probes"][i]["count"], "{name}: count");
        assert_eq!(p["kept"], p["count"], "{name}: every record embedded");
        assert_eq!(p["drawn"], true, "{name}: drawn");
    }
    // Numbers: min, max and last exactly as `probe info` computes them.
    let level = probe_state(s, "level");
    assert_eq!(level["min"].as_f64(), inf["probes"][0]["min"].as_f64());
    assert_eq!(level["max"].as_f64(), inf["probes"][0]["max"].as_f64());
    assert_eq!(level["marks"]["unbound"], 10);
    assert_eq!(level["marks"]["error"], 1);
    // Arrays: each view by shape and dtype; the latest capture shown.
    assert_eq!(probe_state(s, "block")["view"], "waveform");
    assert_eq!(probe_state(s, "symbols")["view"], "constellation");
    assert_eq!(probe_state(s, "frame")["view"], "heatmap");
    let block = probe_state(s, "block");
    assert_eq!(
        block["shownPos"].as_u64(),
        Some(block["count"].as_u64().unwrap_or(0) - 1)
    );
}

#[test]
fn zoomed_or_not_the_decimated_chart_draws_every_points_pixels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("series.probe");
    write_series(&log, 200_000, 1000, |i| {
        // A gap every so often: the line must break there in both drawings.
        if i % 50_007 == 3 {
            probe::model::Value::Absent
        } else {
            probe::model::Value::Float(signal(i))
        }
    });
    let html = dir.path().join("series.html");
    let out = view(&[
        log.to_str().unwrap_or_default(),
        "-o",
        html.to_str().unwrap_or_default(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = drive(
        dir.path(),
        "series",
        &file_url(&html),
        "S.ready",
        &[
            "return window.__probeTest.exactness(0, 900, 300)",
            "window.__probeTest.setRange(12345.5, 23456.25); return null",
            "return window.__probeTest.exactness(0, 900, 300)",
            "window.__probeTest.setRange(100000, 100600); return null",
            "return window.__probeTest.exactness(0, 900, 300)",
            "return window.__probeState.probes[0].points",
            "window.__probeTest.setX('time'); return null",
            "return window.__probeTest.exactness(0, 700, 250)",
        ],
        30_000,
    );
    let r = &v["results"];
    for i in [0, 2, 4, 7] {
        let e = &r[i];
        assert_eq!(
            e["diff"], 0,
            "result {i}: decimated drawing inks other pixels: {e}"
        );
        eprintln!("exactness {i}: {e}");
        assert!(
            e["inked"].as_u64().unwrap_or(0) > 500,
            "result {i}: nothing drawn: {e}"
        );
    }
    // Reduction happened where it can: the full view keeps a few points per
    // pixel column, not 200,000.
    assert!(r[0]["points"].as_u64().unwrap_or(0) > 199_000, "{}", r[0]);
    assert!(
        r[0]["kept"].as_u64().unwrap_or(u64::MAX) < 4 * 900 + 100,
        "{}",
        r[0]
    );
    // Zoomed to 600 records: every one is drawn.
    assert!(r[5].as_u64().unwrap_or(0) >= 600, "{}", r[5]);
    let s = &v["state"];
    assert_eq!(s["x"], "time");
    assert_eq!(probe_state(s, "x@")["count"], 200_000);
}

/// A probe that triggered once has no neighbour to draw a line to: its
/// value is drawn as a dot (it was an empty panel), and a big value's tick
/// labels fit the axis.
#[test]
fn a_probe_with_one_record_is_drawn_as_a_dot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prog = dir.path().join("one.py");
    std::fs::write(
        &prog,
        "def main():\n    a = 0.25\n    for i in range(50):\n        big = 10**12 + i * 1000\nmain()\n",
    )
    .expect("program");
    let log = dir.path().join("one.probe");
    let py = pythons().last().expect("a python").1.clone();
    let p = prog.to_str().unwrap_or_default();
    let rec = Command::new(probe_bin())
        .args(["record", "-q", "-o", log.to_str().unwrap_or_default()])
        .args(["-p", &format!("{p}:2:a"), "-p", &format!("{p}:4:big"), "--"])
        .arg(&py)
        .arg(&prog)
        .output()
        .expect("record runs");
    assert!(rec.status.success(), "{rec:?}");
    let html = dir.path().join("one.html");
    let out = view(&[
        log.to_str().unwrap_or_default(),
        "-o",
        html.to_str().unwrap_or_default(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = drive(
        dir.path(),
        "one",
        &file_url(&html),
        "S.ready",
        &[
            "return window.__probeTest.seriesInk(0)",
            "return window.__probeTest.seriesInk(1)",
        ],
        20_000,
    );
    let r = &v["results"];
    assert!(
        r[0].as_u64().unwrap_or(0) >= 1,
        "the lone value inks {} pixels in the series colour (an empty panel)",
        r[0]
    );
    assert!(
        r[1].as_u64().unwrap_or(0) > 100,
        "the line inks {} pixels",
        r[1]
    );
}

#[test]
fn a_damaged_log_gets_a_report_with_the_banner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/v1/truncated.probe");
    let log = dir.path().join("truncated.probe");
    std::fs::copy(&src, &log).expect("copy fixture");
    let out = view(&[log.to_str().unwrap_or_default()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = drive(
        dir.path(),
        "damaged",
        &file_url(&dir.path().join("truncated.html")),
        "S.ready",
        &["return document.getElementById('banner').textContent"],
        20_000,
    );
    let s = &v["state"];
    assert_eq!(s["complete"], false);
    assert!(!s["issues"].as_array().is_none_or(Vec::is_empty));
    let banner = v["results"][0].as_str().unwrap_or_default();
    assert!(
        banner.contains("incomplete") || banner.contains("damaged"),
        "{banner}"
    );
    assert_eq!(s["records"], info(&log)["records"], "every intact record");
}

/// Read the live URL from a child's stderr (the first line naming one).
fn live_url(child: &mut std::process::Child) -> (String, std::thread::JoinHandle<String>) {
    let err = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut all = String::new();
        let mut sent = false;
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if !sent {
                if let Some(i) = line.find("http://127.0.0.1:") {
                    let _ = tx.send(
                        line[i..]
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    );
                    sent = true;
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the live URL is printed");
    (url, h)
}

fn live_specs() -> Vec<String> {
    let f = fixture("live_demo.py");
    let f = f.display();
    vec![
        format!("{f}:17:level@rhs"),
        format!("{f}:18:level"),
        format!("{f}:19:on"),
        format!("{f}:20:phasor"),
        format!("{f}:22:block"),
        format!("{f}:23:note"),
    ]
}

#[test]
fn record_view_serves_the_live_page_until_the_final_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, py) = pythons().pop().expect("a python");
    let log = dir.path().join("live.probe");
    let mut cmd = Command::new(probe_bin());
    cmd.args(["record", "-q", "--view", "-o"]).arg(&log);
    for s in live_specs() {
        cmd.arg("-p").arg(s);
    }
    // About 6 s: the page connects while the program runs.
    cmd.arg("--")
        .arg(&py)
        .arg(fixture("live_demo.py"))
        .args(["500", "0.012"]);
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .expect("probe record --view");
    let (url, errs) = live_url(&mut child);
    assert!(url.contains("token="), "{url}");
    let v = drive(
        dir.path(),
        "live",
        &url,
        "S.ended",
        &["return window.__probeState.events"],
        40_000,
    );
    let status = child.wait().expect("record ends");
    let stderr = errs.join().unwrap_or_default();
    assert!(status.success(), "{stderr}");
    let s = &v["state"];
    let inf = info(&log);
    assert_eq!(s["mode"], "live");
    assert_eq!(s["live"], false, "the final state");
    assert_eq!(s["complete"], true);
    assert_eq!(s["records"], inf["records"]);
    for (i, p) in s["probes"].as_array().expect("probes").iter().enumerate() {
        assert_eq!(p["count"], inf["probes"][i]["count"], "{p}");
        assert_eq!(p["drawn"], true, "{p}");
    }
    assert_eq!(probe_state(s, "level@rhs")["marks"]["unbound"], 10);
    assert_eq!(probe_state(s, "18:level")["panel"], "line");
    assert_eq!(probe_state(s, "phasor")["panel"], "complex");
    assert_eq!(probe_state(s, "block")["view"], "waveform");
    // Pushed while running, not once at the end.
    assert!(
        v["results"][0].as_u64().unwrap_or(0) >= 5,
        "events: {}",
        v["results"][0]
    );
}

#[test]
fn view_follow_reads_a_log_while_it_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, py) = pythons().pop().expect("a python");
    let log = dir.path().join("follow.probe");
    // The viewer starts first and waits for the log to appear.
    let mut viewer = Command::new(probe_bin())
        .args(["view", "--follow"])
        .arg(&log)
        .stderr(Stdio::piped())
        .spawn()
        .expect("probe view --follow");
    let (url, _errs) = live_url(&mut viewer);
    let mut cmd = Command::new(probe_bin());
    cmd.args(["record", "-q", "-o"]).arg(&log);
    for s in live_specs() {
        cmd.arg("-p").arg(s);
    }
    cmd.arg("--")
        .arg(&py)
        .arg(fixture("live_demo.py"))
        .args(["400", "0.01"]);
    let mut rec = cmd.spawn().expect("probe record");
    let started = Instant::now();
    let v = drive(
        dir.path(),
        "follow",
        &url,
        "S.ended && S.complete",
        &[],
        40_000,
    );
    let status = rec.wait().expect("record ends");
    let _ = viewer.kill();
    let _ = viewer.wait();
    assert!(status.success());
    let s = &v["state"];
    let inf = info(&log);
    assert_eq!(s["records"], inf["records"]);
    for (i, p) in s["probes"].as_array().expect("probes").iter().enumerate() {
        assert_eq!(p["count"], inf["probes"][i]["count"], "{p}");
    }
    eprintln!("followed in {:?}", started.elapsed());
}

#[test]
fn readme_screenshot_of_the_viewer() {
    // The README's picture, from a real run of replay_demo.py; saved in the
    // temp dir (docs/view-demo.png is a copy of one).
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, py) = pythons().pop().expect("a python");
    let f = fixture("replay_demo.py");
    let log = dir.path().join("demo.probe");
    let mut cmd = Command::new(probe_bin());
    cmd.args(["record", "-q", "-o"]).arg(&log);
    for (line, name) in [(14, "error"), (17, "locked"), (18, "phasor"), (20, "state")] {
        cmd.arg("-p").arg(format!("{}:{line}:{name}", f.display()));
    }
    let st = cmd.arg("--").arg(&py).arg(&f).status().expect("record");
    assert!(st.success());
    let out = view(&[log.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    let v = drive(
        dir.path(),
        "view-demo",
        &file_url(&dir.path().join("demo.html")),
        "S.ready",
        &[],
        20_000,
    );
    assert_eq!(v["state"]["probes"].as_array().map(Vec::len), Some(4));
}
