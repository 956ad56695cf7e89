//! `probe probes`: list the probeable names of a Python file, line by line.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{emit, with_newline};
use crate::capture::listing::list_probes;
use crate::record;

/// Arguments of `probe probes`.
#[derive(clap::Args)]
pub struct ProbesArgs {
    /// The Python source file: a path, or a path under the current
    /// directory or the interpreter's sys.path (`pkg/mod.py` of an
    /// installed package), as `record -p` finds it.
    file: PathBuf,
    /// Only this line (a blank or comment line says so).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    line: Option<u32>,
    /// Interpreter whose parser, scoping rules and sys.path are used
    /// (default: the one `record -- FILE` uses: the interpreter its `#!`
    /// line names when that is Python, else $PROBE_PYTHON, else python3).
    #[arg(long, value_name = "PYTHON")]
    python: Option<String>,
    /// Print the listing as JSON.
    #[arg(long)]
    json: bool,
    /// Also show the capture plan that probing every listed name would
    /// execute: per bytecode offset, what is completed, bound and fired.
    #[arg(long)]
    plan: bool,
}

/// Runs `probe probes`.
pub fn run(args: ProbesArgs) -> Result<u8> {
    let ProbesArgs {
        file,
        line,
        python,
        json,
        plan,
    } = args;
    let file = file.as_path();
    // As `record -- FILE` would run it: the interpreter of the file's `#!`
    // line when that names Python, else the default one.
    // Never an unknown program: an interpreter named by --python or
    // $PROBE_PYTHON is checked as `record` checks the one after `--`.
    let python = match python {
        Some(p) => {
            record::command::check_interpreter(&p, "--python")?;
            p
        }
        None => {
            let default = record::default_python();
            let p = record::command::script_interpreter(file, &default);
            if p == default {
                record::command::check_interpreter(&p, "$PROBE_PYTHON")?;
            }
            p
        }
    };
    let listing = list_probes(&python, file, line, plan)
        .with_context(|| format!("listing the probeable names of {}", file.display()))?;
    if json {
        return emit(&with_newline(serde_json::to_string_pretty(&listing)?)).map(|_| 0);
    }
    let mut out = format!(
        "{} (resolved by Python {}{})\n",
        listing.file,
        listing.python,
        if listing.python_executable.is_empty() {
            String::new()
        } else {
            format!(", {}", listing.python_executable)
        }
    );
    let width = listing
        .lines
        .iter()
        .flat_map(|l| &l.names)
        .map(|n| n.name.len() + n.default_role.len() + 1)
        .max()
        .unwrap_or(0);
    for l in &listing.lines {
        out.push_str(&format!("{:>5}  {}\n", l.line, l.source));
        if let Some(note) = &l.note {
            if note.contains("probed") {
                out.push_str(&format!("{:>7}{note}\n", ""));
            } else {
                out.push_str(&format!("{:>7}{note}: nothing can be probed here\n", ""));
            }
        }
        for n in &l.names {
            let spec = format!("{}@{}", n.name, n.default_role);
            let also = if n.bound && n.read {
                "  (also read: @rhs gives the value before the line)"
            } else {
                ""
            };
            out.push_str(&format!("{:>7}{spec:<width$}  in {}{also}\n", "", n.scope));
        }
    }
    for p in &listing.plans {
        out.push('\n');
        out.push_str(p);
        out.push('\n');
    }
    // File names and source text are the user's bytes: control characters
    // (an escape sequence in a file name) are shown escaped, never sent raw.
    emit(&crate::text::escape_lines(&out)).map(|_| 0)
}
