//! `probe completions`, `probe man` and `--version`: generated from the
//! clap definitions, loadable by the shells and man.

use std::process::Command;

fn probe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(args)
        .output()
        .expect("probe runs")
}

#[test]
fn completions_for_every_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = probe(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for cmd in ["record", "replay", "view", "diff", "export", "completions"] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    // bash really loads it and registers the completion function.
    let script = probe(&["completions", "bash"]).stdout;
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("probe.bash");
    std::fs::write(&f, script).expect("write");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p probe", f.display()))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("probe"));
}

#[test]
fn man_pages_and_version() {
    let out = probe(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains(".TH probe 1"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(page.contains("view") && page.contains("record"));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = probe(&["man", "--dir", dir.path().to_str().unwrap_or_default()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "probe.1",
        "probe-record.1",
        "probe-view.1",
        "probe-export.1",
        "probe-diff.1",
    ] {
        let p = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.contains(".TH"), "{name}");
    }
    let rec = std::fs::read_to_string(dir.path().join("probe-record.1")).expect("page");
    assert!(rec.contains("view"), "record's page documents --view");
    // --version: package version and the commit (or `unknown commit`).
    let v = String::from_utf8_lossy(&probe(&["--version"]).stdout).into_owned();
    assert!(
        v.starts_with(&format!("probe {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.trim_end().ends_with(')'), "{v}");
}

/// `probe man --dir` writes as every other output does: an existing page
/// is refused without `--force` (and nothing is written), a symlink planted
/// as a page is replaced with `--force`, never written through — it used
/// to overwrite the link's target.
#[test]
fn man_dir_refuses_existing_pages_and_never_follows_symlinks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = tmp.path().join("m");
    std::fs::create_dir(&m).expect("mkdir");
    let victim = tmp.path().join("v");
    std::fs::write(&victim, "V\n").expect("write");
    std::os::unix::fs::symlink("../v", m.join("probe.1")).expect("symlink");
    let dir = m.to_str().expect("utf-8");
    let out = probe(&["man", "--dir", dir]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "V\n");
    assert!(
        !m.join("probe-record.1").exists(),
        "a refusal writes nothing"
    );
    let out = probe(&["man", "--dir", dir, "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "V\n");
    let md = std::fs::symlink_metadata(m.join("probe.1")).expect("page");
    assert!(md.file_type().is_file(), "the link itself was replaced");
    assert!(std::fs::read_to_string(m.join("probe.1"))
        .expect("page")
        .contains(".TH probe 1"));
    let left: Vec<_> = std::fs::read_dir(&m)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(left.is_empty());
}
