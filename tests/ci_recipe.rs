//! README's CI recipe, run as written: the shell blocks marked
//! `<!-- ci-recipe:golden -->` and `<!-- ci-recipe:check -->` are taken
//! from README.md and executed in a scratch git repository holding the
//! recipe's program. The check must pass on the unchanged program and fail
//! with exit 1 once the program's result drifts.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{find_python, probe_bin};

/// The fenced block that follows `marker` in README.md.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md readable");
    let at = readme
        .find(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("README.md has no <!-- {marker} --> block"));
    let rest = &readme[at..];
    let start = rest
        .find("```sh\n")
        .expect("a ```sh block after the marker")
        + 6;
    let end = rest[start..].find("```").expect("the block ends") + start;
    rest[start..end].to_string()
}

/// Run a block with bash -e in `dir`, `probe` and `python3` (3.12) first on PATH.
fn run(block: &str, dir: &Path, bin: &Path) -> Output {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(block)
        .current_dir(dir)
        .env("PATH", path)
        .env("GIT_AUTHOR_NAME", "probe test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "probe test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .expect("bash runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn readme_ci_recipe_passes_unchanged_and_fails_on_drift() {
    let golden = readme_block("ci-recipe:golden");
    let check = readme_block("ci-recipe:check");
    assert!(golden.contains("probe record") && check.contains("probe diff"));

    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let programs = repo.join("fixtures/programs");
    std::fs::create_dir_all(&programs).expect("mkdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/programs/smooth.py");
    std::fs::copy(&src, programs.join("smooth.py")).expect("copy program");
    // `probe` and `python3` as the recipe calls them.
    let bin: PathBuf = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(probe_bin(), bin.join("probe")).expect("link probe");
    let py = find_python("3.12").expect("Python 3.12 (the tests need it)");
    std::os::unix::fs::symlink(py, bin.join("python3")).expect("link python3");
    let init = run(
        "git init -q . && git add fixtures && git commit -q -m program",
        &repo,
        &bin,
    );
    assert!(init.status.success(), "git setup: {}", text(&init));

    let o = run(&golden, &repo, &bin);
    assert!(o.status.success(), "golden block failed: {}", text(&o));
    let tracked = run("git ls-files golden.probe", &repo, &bin);
    assert_eq!(
        String::from_utf8_lossy(&tracked.stdout).trim(),
        "golden.probe"
    );

    let o = run(&check, &repo, &bin);
    assert_eq!(o.status.code(), Some(0), "unchanged program: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("SAME"),
        "{}",
        text(&o)
    );
    assert!(repo.join("diff.png").exists(), "no plot written");

    // A drift: the smoothing constant changes.
    let prog = programs.join("smooth.py");
    let code = std::fs::read_to_string(&prog).expect("read");
    assert!(code.contains("ALPHA = 0.125"));
    std::fs::write(&prog, code.replace("ALPHA = 0.125", "ALPHA = 0.126")).expect("write");
    let o = run(&check, &repo, &bin);
    assert_eq!(
        o.status.code(),
        Some(1),
        "drifted program must fail the job: {}",
        text(&o)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("smooth.py:10:y@lhs") && out.contains("first divergence at value #0"),
        "{}",
        text(&o)
    );
}

/// README's replay commands, run as written and in order, without
/// `--force`: the single PNG once wrote `demo.frames.json` beside it, and
/// the GIF on the next line then failed with "./demo.frames.json already
/// exists". A single-file output writes no manifest unless asked.
#[test]
fn readme_replay_commands_run_in_order_without_force() {
    let block = readme_block("readme:replay");
    assert!(
        block.contains("--final-only -o demo.png") && block.contains("-o demo.gif"),
        "{block}"
    );
    assert!(!block.contains("--force"), "{block}");
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    let programs = work.join("fixtures/programs");
    std::fs::create_dir_all(&programs).expect("mkdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/programs/replay_demo.py");
    std::fs::copy(&src, programs.join("replay_demo.py")).expect("copy program");
    let bin: PathBuf = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(probe_bin(), bin.join("probe")).expect("link probe");
    let py = find_python("3.12").expect("Python 3.12 (the tests need it)");
    std::os::unix::fs::symlink(py, bin.join("python3")).expect("link python3");
    let o = run(&block, &work, &bin);
    assert!(
        o.status.success(),
        "README replay block failed: {}",
        text(&o)
    );
    for f in [
        "demo.probe",
        "demo.png",
        "demo.gif",
        "demo.replay/frames.json",
    ] {
        assert!(work.join(f).is_file(), "{f} not written: {}", text(&o));
    }
    assert!(
        !work.join("demo.frames.json").exists(),
        "a manifest written beside a single file"
    );
}
