//! Puts the commit the binary was built from into `probe --version`.
//!
//! Reads git when the source is a git checkout; a build from a tarball or
//! an sdist (no `.git`, or no `git`) says `unknown commit` instead of
//! failing. `PROBE_BUILD_COMMIT` overrides both (packagers building from
//! an exported tree can pass the commit they built).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=PROBE_BUILD_COMMIT");
    let commit = std::env::var("PROBE_BUILD_COMMIT")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            // Rebuild when HEAD moves (a commit, a checkout); the paths come
            // from git, so worktrees and packed refs are covered.
            for p in ["HEAD", "packed-refs"] {
                if let Some(path) = git(&["rev-parse", "--git-path", p]) {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                if let Some(path) = git(&["rev-parse", "--git-path", &r]) {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
            let date = git(&["log", "-1", "--format=%cs", "HEAD"]).unwrap_or_default();
            Some(if date.is_empty() {
                hash
            } else {
                format!("{hash} {date}")
            })
        })
        .unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=PROBE_GIT_COMMIT={commit}");
}
