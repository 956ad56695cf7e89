//! Understanding the command after `--`: which interpreter, which of its
//! options, and what to run (a script or `-m module`), so that the agent can
//! be slipped in between the interpreter's options and the program.

use std::path::Path;

use thiserror::Error;

/// What the user asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonCommand {
    /// The interpreter to execute.
    pub python: String,
    /// Interpreter options given before the script or `-m` (`-I`, `-X dev`, …).
    pub interpreter_args: Vec<String>,
    /// `["script.py", args…]` or `["-m", "module", args…]`.
    pub target: Vec<String>,
}

/// A command line `record` cannot run.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CommandError {
    /// Nothing after `--`.
    #[error("no program to run: give it after `--`, e.g. `probe record -p prog.py:3:x -- python prog.py`")]
    Empty,
    /// `python -c …`, `python -` and friends.
    #[error("`{0}` is not supported: probe traces a script file or `-m module`, whose source it can read")]
    Unsupported(String),
    /// Interpreter options but no script.
    #[error("`{0}` was given no script or `-m module` to run")]
    NoTarget(String),
    /// An option that needs an argument at the end of the line.
    #[error("interpreter option `{0}` needs an argument")]
    MissingArgument(String),
}

/// Interpreter options that take the next argument.
const WITH_ARG: &[&str] = &["-W", "-X", "-Q"];

/// Whether `arg0` names a Python script rather than an interpreter.
fn looks_like_script(arg0: &str) -> bool {
    let p = Path::new(arg0);
    if arg0.ends_with(".py") || arg0.ends_with(".pyw") {
        return true;
    }
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(arg0);
    if name.starts_with("python") || name.starts_with("pypy") {
        return false;
    }
    // An existing regular file that is not an executable is a script.
    p.is_file() && !is_executable(p)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Parses the words after `--`. `default_python` is used for `-- script.py`.
pub fn parse(words: &[String], default_python: &str) -> Result<PythonCommand, CommandError> {
    let first = words.first().ok_or(CommandError::Empty)?;
    if looks_like_script(first) {
        return Ok(PythonCommand {
            python: default_python.to_string(),
            interpreter_args: Vec::new(),
            target: words.to_vec(),
        });
    }
    let mut interpreter_args = Vec::new();
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        if w == "-m" {
            if i + 1 >= words.len() {
                return Err(CommandError::MissingArgument("-m".into()));
            }
            return Ok(PythonCommand {
                python: first.clone(),
                interpreter_args,
                target: words[i..].to_vec(),
            });
        }
        if let Some(module) = w.strip_prefix("-m").filter(|m| !m.is_empty()) {
            let mut target = vec!["-m".to_string(), module.to_string()];
            target.extend_from_slice(&words[i + 1..]);
            return Ok(PythonCommand {
                python: first.clone(),
                interpreter_args,
                target,
            });
        }
        if w == "-c" || w.starts_with("-c") || w == "-" {
            return Err(CommandError::Unsupported(format!("{first} {w}")));
        }
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') {
            break;
        }
        if WITH_ARG.contains(&w.as_str()) {
            let arg = words
                .get(i + 1)
                .ok_or_else(|| CommandError::MissingArgument(w.clone()))?;
            interpreter_args.push(w.clone());
            interpreter_args.push(arg.clone());
            i += 2;
            continue;
        }
        interpreter_args.push(w.clone());
        i += 1;
    }
    if i >= words.len() {
        return Err(CommandError::NoTarget(words.join(" ")));
    }
    if words[i] == "-" {
        return Err(CommandError::Unsupported(format!("{first} -")));
    }
    Ok(PythonCommand {
        python: first.clone(),
        interpreter_args,
        target: words[i..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn script_with_interpreter_options() {
        let c = parse(&w("python3 -I -X dev prog.py a b"), "python3").unwrap();
        assert_eq!(c.python, "python3");
        assert_eq!(c.interpreter_args, w("-I -X dev"));
        assert_eq!(c.target, w("prog.py a b"));
    }

    #[test]
    fn module_forms() {
        let c = parse(&w("python -m pkg.mod --flag"), "python3").unwrap();
        assert_eq!(c.target, w("-m pkg.mod --flag"));
        let c = parse(&w("python -mpkg x"), "python3").unwrap();
        assert_eq!(c.target, w("-m pkg x"));
    }

    #[test]
    fn bare_script_uses_default_python() {
        let c = parse(&w("prog.py --n 3"), "/usr/bin/python3.12").unwrap();
        assert_eq!(c.python, "/usr/bin/python3.12");
        assert_eq!(c.target, w("prog.py --n 3"));
    }

    #[test]
    fn unsupported_forms_are_refused() {
        assert!(matches!(
            parse(&w("python -c pass"), "p"),
            Err(CommandError::Unsupported(_))
        ));
        assert!(matches!(
            parse(&w("python -I"), "p"),
            Err(CommandError::NoTarget(_))
        ));
        assert!(matches!(parse(&[], "p"), Err(CommandError::Empty)));
        assert!(matches!(
            parse(&w("python -W"), "p"),
            Err(CommandError::MissingArgument(_))
        ));
    }
}
