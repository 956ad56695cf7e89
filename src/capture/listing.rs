//! `probe probes`: what can be probed on each line of a file, as the agent's
//! own resolver sees it (the one that validates `record`'s specs), run in
//! the interpreter the program will use, since the syntax tree and scopes
//! depend on the Python version.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::capture::{self as agent, VersionPolicy, BOOTSTRAP};

/// One name on a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeableName {
    /// Variable name or attribute chain, as a spec writes it.
    pub name: String,
    /// The line binds it (assignment, `for` target, `with … as`, …).
    pub bound: bool,
    /// The line reads it (augmented assignments both read and bind).
    pub read: bool,
    /// The role a spec without `@lhs`/`@rhs` gets.
    pub default_role: String,
    /// Code object that owns the name there (`<module>`, a function or
    /// class name, `<listcomp>` …).
    pub scope: String,
}

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeableLine {
    /// 1-based line number.
    pub line: u32,
    /// The line's source text, stripped.
    pub source: String,
    /// Names in column order (first occurrence).
    pub names: Vec<ProbeableName>,
    /// Why nothing can be probed there (blank, comment, no names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The listing of a file (or of one line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeListing {
    /// Absolute path of the file.
    pub file: String,
    /// Version of the Python whose parser and scoping were used.
    pub python: String,
    /// That interpreter's executable (`sys.executable`).
    #[serde(default)]
    pub python_executable: String,
    /// Lines with at least one name (all lines) or the line asked for.
    pub lines: Vec<ProbeableLine>,
    /// With `--plan`: the capture plan of every code object that probing
    /// every listed name would touch, as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<String>,
}

/// Why a listing could not be produced.
#[derive(Debug, Error)]
pub enum ListingError {
    /// The interpreter could not be started.
    #[error("cannot run {python}: {cause}")]
    Spawn {
        /// Interpreter.
        python: String,
        /// OS error.
        cause: std::io::Error,
    },
    /// The resolver refused the file or line (not Python, no such line …).
    #[error("{0}")]
    Refused(String),
    /// The interpreter failed in an unexpected way.
    #[error("{python} failed ({status}): {stderr}")]
    Failed {
        /// Interpreter.
        python: String,
        /// Exit status.
        status: String,
        /// Its stderr (trimmed).
        stderr: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Error { error: String },
    Listing(ProbeListing),
}

/// Lists what can be probed in `file` (every line with a name, or just
/// `line`), resolved by `python`.
pub fn list_probes(
    python: &str,
    file: &Path,
    line: Option<u32>,
    plan: bool,
) -> Result<ProbeListing, ListingError> {
    let config = vec![
        ("mode", "list".to_string()),
        ("file", file.display().to_string()),
        ("line", line.unwrap_or(0).to_string()),
        ("plan", if plan { "1" } else { "0" }.to_string()),
        // Listing only parses the file: any Python 3.11+ will do.
        ("policy", VersionPolicy::Any.word().to_string()),
    ];
    let bundle =
        agent::bundle(&config, &[], &[], None, None).map_err(|cause| ListingError::Spawn {
            python: python.to_string(),
            cause,
        })?;
    let out = bootstrap(python, &bundle)
        .output()
        .map_err(|cause| ListingError::Spawn {
            python: python.to_string(),
            cause,
        })?;
    let stdout = &out.stdout;
    // A framed FATAL message (u32 length, kind 4, JSON) from the bootstrap.
    if stdout.len() > 5 && stdout[4] == 4 {
        #[derive(Deserialize)]
        struct Fatal {
            message: String,
        }
        if let Ok(f) = serde_json::from_slice::<Fatal>(&stdout[5..]) {
            return Err(ListingError::Refused(f.message));
        }
    }
    match serde_json::from_slice::<Reply>(stdout) {
        Ok(Reply::Listing(l)) if out.status.success() => Ok(l),
        Ok(Reply::Error { error }) => Err(ListingError::Refused(error)),
        _ => Err(ListingError::Failed {
            python: python.to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}

/// `python -c BOOTSTRAP` running the agent of `bundle` with its "wire" on
/// stdout (where the bootstrap also reports an unsupported Python).
fn bootstrap(python: &str, bundle: &agent::Bundle) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(BOOTSTRAP)
        .arg(bundle.fd.as_raw_fd().to_string())
        .arg(bundle.boot_len.to_string())
        .arg("1");
    cmd
}

/// Resolves `specs` in `python` as `record`'s agent would for a program
/// whose first `sys.path` entry is `first` (the script's directory, or the
/// current one for `-m`), running nothing else: `Some(message)` when the
/// resolver refuses a spec, `None` when they resolve or the check itself
/// could not run (the run's own resolution still judges them then).
pub fn check_specs(python: &str, specs: &[String], first: &Path) -> Option<String> {
    let config = vec![
        ("mode", "check".to_string()),
        ("first", first.display().to_string()),
        ("policy", VersionPolicy::Any.word().to_string()),
    ];
    let bundle = agent::bundle(&config, specs, &[], None, None).ok()?;
    let out = bootstrap(python, &bundle)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    #[derive(Deserialize)]
    struct Checked {
        error: Option<String>,
    }
    serde_json::from_slice::<Checked>(&out.stdout).ok()?.error
}
