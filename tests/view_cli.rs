//! `probe view` without a browser: where the report goes, what it refuses,
//! what it holds, and the live server's refusals.

#[path = "replay_common/mod.rs"]
mod replay_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use replay_common::{signal, write_gallery, write_series};

fn probe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_probe"))
}

fn view(args: &[&str]) -> std::process::Output {
    probe()
        .arg("view")
        .args(args)
        .output()
        .expect("probe view runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn report_is_self_contained_and_never_overwrites_or_follows_symlinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("g.probe");
    write_gallery(&log);
    let out = view(&[s(&log)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html =
        std::fs::read_to_string(dir.path().join("g.html")).expect("default output beside the log");
    // Offline: no external script, style, image or font.
    for bad in [
        "<script src",
        "<link ",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(bad), "report references {bad}");
    }
    assert!(
        html.contains("uPlot") && html.contains("MIT License"),
        "uPlot and its licence inlined"
    );
    // A second run refuses without --force, and changes nothing.
    let out = view(&[s(&log)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // A symlink at the target: refused without --force; with --force the
    // link is replaced by the report, its target left alone.
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").expect("write");
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
    assert_eq!(view(&[s(&log), "-o", s(&link)]).status.code(), Some(2));
    let out = view(&[s(&log), "-o", s(&link), "--force"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep me");
    assert!(!std::fs::symlink_metadata(&link)
        .expect("stat")
        .file_type()
        .is_symlink());
    // No temporary file left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(left.is_empty());
    // An unreadable log: exit 2, nothing written.
    let junk = dir.path().join("junk.probe");
    std::fs::write(&junk, b"not a log").expect("write");
    assert_eq!(view(&[s(&junk)]).status.code(), Some(2));
    assert!(!dir.path().join("junk.html").exists());
}

#[test]
fn the_size_budget_reduces_big_probes_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("big.probe");
    // 2 M noisy floats do not compress much: ~17 MB of columns.
    write_series(&log, 2_000_000, 1000, |i| {
        probe::model::Value::Float(signal(i) + (i.wrapping_mul(2_654_435_761) % 1000) as f64 * 1e-7)
    });
    let out = dir.path().join("big.html");
    let r = view(&[s(&log), "-o", s(&out), "--max-size", "4"]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let len = std::fs::metadata(&out).expect("report").len();
    assert!(len <= 4_000_000, "report of {len} bytes over --max-size 4");
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("reduced to buckets of"), "{err}");
    let html = std::fs::read_to_string(&out).expect("read");
    assert!(
        html.contains("\"reduced\":"),
        "the header says which probe is reduced"
    );
    assert!(
        html.contains("first, min, max and last of every"),
        "the page explains it"
    );
}

fn get(port: u16, host: &str, path: &str) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut head = String::new();
    let mut r = BufReader::new(c);
    r.read_line(&mut head).expect("status line");
    if head.contains(" 200 ") && path.starts_with("/events") {
        // An event stream: read its first event.
        let mut ev = String::new();
        for _ in 0..40 {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 {
                break;
            }
            if l.starts_with("data:") {
                ev = l;
                break;
            }
        }
        return head + &ev;
    }
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    head + &rest
}

#[test]
fn the_live_server_listens_on_loopback_and_wants_its_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("s.probe");
    write_series(&log, 1000, 1000, |i| probe::model::Value::Float(i as f64));
    let mut child = probe()
        .args(["view", "--follow", s(&log)])
        .stderr(Stdio::piped())
        .spawn()
        .expect("view --follow");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("url line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    let rest = &url["http://127.0.0.1:".len()..];
    let port: u16 = rest[..rest.find('/').expect("path")].parse().expect("port");
    let token = &url[url.find("token=").expect("token") + 6..];
    assert_eq!(token.len(), 32, "128-bit token");
    let host = format!("127.0.0.1:{port}");
    let ok = get(port, &host, &format!("/?token={token}"));
    assert!(
        ok.starts_with("HTTP/1.1 200"),
        "{}",
        &ok[..ok.len().min(200)]
    );
    assert!(ok.contains("probe-live"));
    for (h, p) in [
        (host.as_str(), "/".to_string()),
        (
            host.as_str(),
            "/?token=00000000000000000000000000000000".to_string(),
        ),
        (host.as_str(), format!("/events?token={}", &token[..31])),
        ("evil.example:80", format!("/?token={token}")),
    ] {
        let r = get(port, h, &p);
        assert!(r.starts_with("HTTP/1.1 403"), "{h} {p}: {r}");
    }
    let ev = get(port, &host, &format!("/events?token={token}"));
    assert!(ev.contains("data: {\"h\":"), "{ev}");
    assert!(
        ev.contains("\"records\":1000"),
        "{}",
        &ev[..ev.len().min(300)]
    );
    // Only loopback: the port is not bound on other addresses.
    let out = Command::new("ss").args(["-ltn"]).output();
    if let Ok(o) = out {
        let t = String::from_utf8_lossy(&o.stdout);
        for l in t.lines().filter(|l| l.contains(&format!(":{port} "))) {
            assert!(l.contains("127.0.0.1:"), "listening beyond loopback: {l}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The numbers in docs/VIEW.md: report size and time for 10 M records
/// (`cargo test --release --test view_cli -- --ignored --nocapture`).
#[test]
#[ignore = "benchmark: 10 M-record logs, run by hand"]
fn bench_ten_million_record_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, f) in [
        (
            "counter",
            (|i: u64| probe::model::Value::Int(i as i64)) as fn(u64) -> probe::model::Value,
        ),
        ("noisy", |i: u64| {
            probe::model::Value::Float(
                signal(i) + (i.wrapping_mul(2_654_435_761) % 1000) as f64 * 1e-7,
            )
        }),
    ] {
        let log = dir.path().join(format!("{name}.probe"));
        write_series(&log, 10_000_000, 1000, f);
        let out = dir.path().join(format!("{name}.html"));
        let t = std::time::Instant::now();
        let r = view(&[s(&log), "-o", s(&out)]);
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        let len = std::fs::metadata(&out).expect("report").len();
        eprintln!(
            "{name}: log {} bytes, report {len} bytes in {secs:.2}s: {}",
            std::fs::metadata(&log).expect("log").len(),
            String::from_utf8_lossy(&r.stderr).trim()
        );
        assert!(len <= 30_000_000);
    }
}

/// `view --follow` refuses what is not a regular file at once, exit 2, as
/// every other reader command does: a FIFO used to block in open(2)
/// forever, and /dev/zero was polled forever.
#[test]
fn follow_refuses_fifos_and_devices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe.probe");
    let c = std::ffi::CString::new(s(&fifo)).expect("path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (path, what) in [(s(&fifo), "FIFO"), ("/dev/zero", "device")] {
        let mut child = probe()
            .args(["view", "--follow", path, "--port", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("probe runs");
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("view --follow {path} still running after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        assert_eq!(status.code(), Some(2), "{path}: {err}");
        assert!(
            err.contains(what) && err.contains("not a log file"),
            "{path}: {err}"
        );
    }
}
