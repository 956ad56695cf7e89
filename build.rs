//! Puts the commit the binary was built from into `probe --version`, and
//! builds the native capture core (`crates/agent`, an extension module the
//! binary embeds: `src/capture/native.rs`).
//!
//! Reads git when the source is a git checkout; a build from a tarball or
//! an sdist (no `.git`, or no `git`) says `unknown commit` instead of
//! failing. `PROBE_BUILD_COMMIT` overrides both (packagers building from
//! an exported tree can pass the commit they built).

use std::path::PathBuf;
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
    // A position-dependent `probe`: the dynamic loader then has no relative
    // relocations to apply at every start (31,000 of them, a third of
    // `probe --version`'s CPU time), which every `probe record` pays before
    // the program starts. Only the executable: the extension stays PIC.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=probe=-no-pie");
    }
    build_native_core();
    agent_key();
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

/// `PROBE_AGENT_KEY`: what names the compiled-agent cache's files, the
/// SHA-256 (first 8 bytes, hex) of the agent's Python files
/// (`src/capture/agent/*.py`, by name: name and content, each with its
/// length). Computed here rather than at every start of `probe record`
/// (~0.2 ms); `capture::tests` checks it against the embedded sources.
fn agent_key() {
    use sha2::{Digest, Sha256};
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
        .join("src/capture/agent");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("src/capture/agent")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let ok = name.ends_with(".py") && e.file_type().ok()?.is_file();
            ok.then(|| (name, std::fs::read(e.path()).expect("an agent file")))
        })
        .collect();
    files.sort();
    let mut h = Sha256::new();
    for (name, data) in &files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    let key: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=PROBE_AGENT_KEY={key}");
}

/// Builds `crates/agent` (a cdylib: a crate cannot depend on one, so it is
/// a nested cargo build, in its own target directory under OUT_DIR so that
/// it never waits on the outer build's lock) and copies the extension to
/// `$OUT_DIR/_probe_native.so` for `include_bytes!`.
fn build_native_core() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let agent = manifest_dir.join("crates/agent");
    for p in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", agent.join(p).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("Cargo.lock").display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = out_dir.join("native-core");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&manifest_dir)
        .args(["build", "--release", "--manifest-path"])
        .arg(agent.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // In a checkout the agent is a workspace member and builds with the
    // workspace's lock file; an sdist (maturin drops `[workspace]`) has
    // none for it, and resolves pyo3-ffi within its Cargo.toml's range.
    let in_workspace = std::fs::read_to_string(manifest_dir.join("Cargo.toml"))
        .map(|t| t.contains("[workspace]"))
        .unwrap_or(false);
    if in_workspace {
        cmd.arg("--locked");
    }
    cmd
        // The extension needs no interpreter to build (stable ABI) and
        // must not link libpython (.cargo/config.toml says the same for
        // direct builds of the crate).
        .env("PYO3_NO_PYTHON", "1")
        .env("PYO3_BUILD_EXTENSION_MODULE", "1");
    // The outer build's settings for *its* crates (profile overrides,
    // target-specific flags from maturin) are not the extension's.
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_PROFILE_")
            || k == "CARGO_ENCODED_RUSTFLAGS"
            || k == "RUSTFLAGS"
            || k == "CARGO_BUILD_TARGET"
        {
            cmd.env_remove(k);
        }
    }
    // The extension is the traced program's hot path, and small: one
    // codegen unit with fat LTO inlines its helpers into the callback (a
    // 14% smaller module; -0.4% instructions on the tight loop, callgrind),
    // at a few seconds of build time. A panic cannot unwind out of a C callback
    // anyway; aborting directly drops the unwinding tables.
    cmd.env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build crates/agent: {e}"));
    if !status.success() {
        panic!("building the native capture core (crates/agent) failed: {status}");
    }
    let built = target_dir.join("release/lib_probe_native.so");
    std::fs::copy(&built, out_dir.join("_probe_native.so"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
}
