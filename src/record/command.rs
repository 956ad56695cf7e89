//! Understanding the command after `--`: which interpreter, which of its
//! options, and what to run (a script or `-m module`), so that the agent can
//! be slipped in between the interpreter's options and the program.
//!
//! The first word is a Python script (`prog.py`, run with the default
//! interpreter, or an executable file whose `#!` line names Python, run with
//! that interpreter as the shell would), or an interpreter (named
//! `python…`/`pypy…`, or — when its name says nothing — an ELF executable
//! whose `main` calls CPython's `Py_BytesMain`, or a shell wrapper that
//! execs Python). Nothing is run to find out. Anything else (`ls`) is
//! refused before the run with a message that says so.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// What the user asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonCommand {
    /// The interpreter to execute.
    pub python: String,
    /// Interpreter options given before the script or `-m` (`-I`, `-X dev`, …).
    pub interpreter_args: Vec<String>,
    /// `["script.py", args…]` or `["-m", "module", args…]`: operating-system
    /// strings, since a script's path and the program's arguments are file
    /// names and need not be UTF-8 (`café.py` in Latin-1).
    pub target: Vec<OsString>,
}

impl PythonCommand {
    /// Whether the agent can start from `sitecustomize` so that python runs
    /// the program itself: `Some(false)` when a flag makes the interpreter
    /// skip the environment (`-E`, `-I`) or `site` (`-S`), alone or in a
    /// cluster (`-IsS`); `Some(true)` for a native executable; `None` for a
    /// wrapper script (a pyenv shim, a launcher), which may or may not pass
    /// the environment on — `record` then asks it (see `record::spawn`).
    pub fn boots_through_site(&self) -> Option<bool> {
        if !self.imports_site_with_env() {
            return Some(false);
        }
        let path = locate(self.python.as_ref())?;
        let mut head = [0u8; 4];
        let elf = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|_| &head == b"\x7fELF");
        elf.then_some(true)
    }

    /// A digest of the interpreter executable's identity (its real path,
    /// device, inode, size and modification time), for the compiled-agent
    /// cache's index; `None` for a wrapper script (a pyenv shim dispatches
    /// to different interpreters) or an executable that cannot be found.
    pub fn identity(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        use std::os::unix::fs::MetadataExt;
        let path = std::fs::canonicalize(locate(self.python.as_ref())?).ok()?;
        let mut f = std::fs::File::open(&path).ok()?;
        let mut head = [0u8; 4];
        f.read_exact(&mut head).ok()?;
        if &head != b"\x7fELF" {
            return None;
        }
        let m = f.metadata().ok()?;
        let mut h = Sha256::new();
        h.update(path.as_os_str().as_encoded_bytes());
        for n in [m.dev(), m.ino(), m.size()] {
            h.update(n.to_le_bytes());
        }
        h.update(m.mtime().to_le_bytes());
        h.update(m.mtime_nsec().to_le_bytes());
        Some(
            h.finalize()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    /// Whether the script's name starts with `-` (`python -- -x.py`):
    /// python must then be given the `--` too, or it reads the name as
    /// options.
    pub fn script_needs_dashes(&self) -> bool {
        self.target
            .first()
            .is_some_and(|t| t != "-m" && t.as_encoded_bytes().starts_with(b"-"))
    }

    /// Whether no interpreter flag skips the environment or `site`.
    pub fn imports_site_with_env(&self) -> bool {
        let mut words = self.interpreter_args.iter();
        while let Some(w) = words.next() {
            if takes_next_word(w) {
                words.next(); // its value
            }
            let Some(flags) = w.strip_prefix('-').filter(|f| !f.starts_with('-')) else {
                continue;
            };
            for c in flags.chars() {
                match c {
                    'E' | 'I' | 'S' => return false,
                    // The rest of the word is this option's value (-Xdev).
                    c if SHORT_WITH_ARG.contains(c) => break,
                    _ => {}
                }
            }
        }
        true
    }
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
    /// An interpreter or interpreter option that is not UTF-8 (the script,
    /// its path and its arguments may be anything).
    #[error("`{0}` is not valid UTF-8: name the interpreter and its options in UTF-8 (the script and its arguments may be any bytes)")]
    NotUtf8(String),
    /// The first word is neither a Python interpreter nor a Python script.
    #[error("`{word}` is not a Python interpreter or script ({why}); put the interpreter first: probe record -p SPEC -- python3 script.py")]
    NotPython {
        /// The word after `--`.
        word: String,
        /// What was checked.
        why: String,
    },
    /// The script to run does not exist (python would only say so after
    /// the recorder had started and written an empty log).
    #[error("the script `{script}` cannot be run: {why}")]
    NoScript {
        /// The script as given.
        script: String,
        /// What is wrong with it (the OS error, and the directory it was
        /// looked for in when it is relative).
        why: String,
    },
    /// The interpreter named by `--python` or `$PROBE_PYTHON` is not one.
    #[error("`{word}` (from {from}) is not a Python interpreter ({why}); probe does not run it")]
    NotInterpreter {
        /// The interpreter named.
        word: String,
        /// Where it was named.
        from: &'static str,
        /// What was checked.
        why: String,
    },
}

/// An interpreter named by `--python` or `$PROBE_PYTHON` (`from`) is run
/// only when it is one, judged as the first word after `--` is: named
/// `python…`/`pypy…`, a link to one, a CPython executable or a shell
/// wrapper that execs one — never an unknown program. A name not found is
/// let through: running it says so.
pub fn check_interpreter(word: &str, from: &'static str) -> Result<(), CommandError> {
    let w = OsStr::new(word);
    if names_python(w) {
        return Ok(());
    }
    let Some(path) = locate(w) else {
        return Ok(());
    };
    let refuse = |why: String| CommandError::NotInterpreter {
        word: word.to_string(),
        from,
        why,
    };
    if path.is_dir() {
        return Err(refuse("it is a directory".into()));
    }
    let real_named_python = path
        .canonicalize()
        .ok()
        .as_deref()
        .and_then(Path::file_name)
        .is_some_and(|n| named_python(&n.to_string_lossy()));
    if real_named_python || believed_python(&path) {
        return Ok(());
    }
    Err(refuse(format!(
        "{} is not named python, and is neither a Python executable nor a shell wrapper that execs one",
        path.display()
    )))
}

/// CPython's short options that take a value (besides `-c` and `-m`,
/// which end the options): the rest of their word (`-Wignore`, `-uXdev`),
/// or the next word when the option ends its cluster (`-uW ignore`).
const SHORT_WITH_ARG: &str = "WX";

/// CPython's long options that take a value: after `=` or in the next word.
const LONG_WITH_ARG: &[&str] = &["--check-hash-based-pycs"];

/// Whether an interpreter option word (`-W`, `-uX`, `--check-hash-based-pycs`)
/// takes the next word as its value, as CPython's option parser reads it.
fn takes_next_word(w: &str) -> bool {
    if w.starts_with("--") {
        return LONG_WITH_ARG.contains(&w);
    }
    let Some(flags) = w.strip_prefix('-') else {
        return false;
    };
    for (k, c) in flags.char_indices() {
        if SHORT_WITH_ARG.contains(c) {
            return k + c.len_utf8() == flags.len();
        }
    }
    false
}

/// Whether `arg0` names a Python script to run with the default
/// interpreter rather than an interpreter, or a script whose own `#!` line
/// says how to run it (an executable `tool.py` with `#!/venv/bin/python`
/// runs with that python, as `./tool.py` does in the shell).
fn looks_like_script(arg0: &OsStr) -> bool {
    let p = Path::new(arg0);
    if has_py_suffix(arg0) {
        return !(p.is_file() && is_executable(p) && python_shebang(p).is_some());
    }
    if names_python(arg0) {
        return false;
    }
    // An existing regular file that is not an executable is a script.
    p.is_file() && !is_executable(p)
}

/// Whether `word` ends in `.py` or `.pyw` (compared as bytes: the word
/// need not be UTF-8).
fn has_py_suffix(word: &OsStr) -> bool {
    let b = word.as_encoded_bytes();
    b.ends_with(b".py") || b.ends_with(b".pyw")
}

/// Whether the last component of `word` is named `python…` or `pypy…`.
fn names_python(word: &OsStr) -> bool {
    let name = Path::new(word)
        .file_name()
        .unwrap_or(word)
        .as_encoded_bytes();
    name.starts_with(b"python") || name.starts_with(b"pypy")
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// What the first word after `--` is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FirstWord {
    /// A script to run with the default interpreter.
    Script,
    /// A script whose `#!` line names this interpreter (and its options),
    /// and the script to give it: the word as given, or the file `$PATH`
    /// found for it.
    Shebang(Vec<String>, OsString),
    /// An interpreter.
    Interpreter,
    /// Not Python, and why we think so.
    NotPython(String),
}

/// Finds `word` as the shell would: as a path if it has a `/`, else on `$PATH`.
fn locate(word: &OsStr) -> Option<PathBuf> {
    if word.as_encoded_bytes().contains(&b'/') {
        let p = PathBuf::from(word);
        return p.exists().then_some(p);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(word))
        .find(|p| p.is_file() && is_executable(p))
}

/// The interpreter words of a `#!` line that names Python (`#!/usr/bin/env
/// python3 -u` → `["python3", "-u"]`), or `None`.
fn python_shebang(path: &Path) -> Option<Vec<String>> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line.strip_prefix(b"#!")?).ok()?;
    let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
    if words
        .first()
        .is_some_and(|w| Path::new(w).file_name().is_some_and(|n| n == "env"))
    {
        words.remove(0);
        while words.first().is_some_and(|w| w.starts_with('-')) {
            words.remove(0); // env's own options (-S)
        }
    }
    let interp = words.first()?;
    let name = Path::new(interp).file_name()?.to_str()?;
    // Followed like the first word after `--`: by name, else by contents
    // (`#!/opt/tools/bin/py` that is a CPython executable).
    let python = named_python(name)
        || locate(OsStr::new(interp)).is_some_and(|p| elf_calls_py_bytes_main(&p));
    python.then_some(words)
}

/// The interpreter `record -- FILE` runs a file with (see [`resolve`]): an
/// executable file whose `#!` line names Python with that interpreter (as
/// the shell would); any other Python script with `default_python`. `probe probes`
/// resolves with the same one, so a listing matches what is recorded.
pub fn script_interpreter(path: &Path, default_python: &str) -> String {
    if looks_like_script(path.as_os_str()) {
        return default_python.to_string();
    }
    python_shebang(path)
        .and_then(|words| words.into_iter().next())
        .unwrap_or_else(|| default_python.to_string())
}

/// Whether a name says Python (`python3.12`, `pypy3`).
fn named_python(name: &str) -> bool {
    names_python(OsStr::new(name))
}

/// The most of a string table read when looking for Python's entry point:
/// CPython's executables hold well under a megabyte of them.
const MAX_STRTAB: u64 = 64 << 20;

/// Whether `path` is an ELF executable of CPython, judged from its contents
/// without running it: the interpreter's `main` calls `Py_BytesMain`
/// (CPython 3.8+), so the name is in its string tables — defined in a
/// statically linked interpreter, imported from `libpython3.X.so` in a
/// shared build. Programs that merely embed Python (gdb, vim) call
/// `Py_Initialize` instead and are not taken for an interpreter.
fn elf_calls_py_bytes_main(path: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut ident = [0u8; 64];
    if f.read_exact_at(&mut ident, 0).is_err() || &ident[..4] != b"\x7fELF" {
        return false;
    }
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return false,
    };
    let big = match ident[5] {
        1 => false,
        2 => true,
        _ => return false,
    };
    let int = |b: &[u8]| -> u64 {
        let mut v = 0u64;
        for (i, &x) in b.iter().enumerate() {
            let shift = if big { (b.len() - 1 - i) * 8 } else { i * 8 };
            v |= u64::from(x) << shift;
        }
        v
    };
    let (shoff, shentsize, shnum) = if wide {
        (
            int(&ident[0x28..0x30]),
            int(&ident[0x3a..0x3c]),
            int(&ident[0x3c..0x3e]),
        )
    } else {
        (
            int(&ident[0x20..0x24]),
            int(&ident[0x2e..0x30]),
            int(&ident[0x30..0x32]),
        )
    };
    let min_entry = if wide { 64 } else { 40 };
    if shoff == 0 || shentsize < min_entry || shnum == 0 {
        return false;
    }
    let Ok(table_len) = usize::try_from(shentsize * shnum) else {
        return false;
    };
    let mut table = vec![0u8; table_len];
    if f.read_exact_at(&mut table, shoff).is_err() {
        return false;
    }
    const SHT_STRTAB: u64 = 3;
    let needle = b"Py_BytesMain\0";
    for entry in table.chunks_exact(shentsize as usize) {
        if int(&entry[4..8]) != SHT_STRTAB {
            continue;
        }
        let (offset, size) = if wide {
            (int(&entry[24..32]), int(&entry[32..40]))
        } else {
            (int(&entry[16..20]), int(&entry[20..24]))
        };
        if size == 0 || size > MAX_STRTAB {
            continue;
        }
        let mut strings = vec![0u8; size as usize];
        if f.read_exact_at(&mut strings, offset).is_err() {
            continue;
        }
        // Names in a string table start after a NUL.
        if strings
            .windows(needle.len() + 1)
            .any(|w| w[0] == 0 && &w[1..] == needle)
        {
            return true;
        }
    }
    false
}

/// Whether the first line of a shell script execs something Python: a
/// wrapper such as a pyenv shim or a launcher that ends in `exec python3
/// "$@"` (or `exec "$PYTHON" "$@"`, `exec pyenv exec …`). Only such a
/// script is believed to be an interpreter; any other is not run to find
/// out.
fn shell_wrapper_execs_python(path: &Path) -> bool {
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(64 << 10).read_to_end(&mut head));
    if read.is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let Some(shebang) = lines.next().and_then(|l| l.strip_prefix("#!")) else {
        return false;
    };
    let mut words = shebang.split_whitespace();
    let mut interp = words.next().unwrap_or("");
    if Path::new(interp).file_name().is_some_and(|n| n == "env") {
        interp = words.find(|w| !w.starts_with('-')).unwrap_or("");
    }
    let shell = Path::new(interp)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| matches!(n, "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash"));
    shell
        && lines.any(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            l.starts_with("exec ")
                && (l.contains("python") || l.contains("pypy") || l.contains("pyenv"))
        })
}

/// Whether an executable whose name says nothing is believed to be a Python
/// interpreter, from its contents alone (a CPython ELF executable, or a
/// shell wrapper that execs Python). Nothing is run to find out: an unknown
/// program must not run before `record` has decided to run it.
fn believed_python(path: &Path) -> bool {
    elf_calls_py_bytes_main(path) || shell_wrapper_execs_python(path)
}

/// Classifies the first word after `--` (see the module docs).
fn classify(word: &OsStr) -> FirstWord {
    if looks_like_script(word) {
        return FirstWord::Script;
    }
    if has_py_suffix(word) {
        // An executable script with a Python #! line (looks_like_script),
        // found as given even without a `/` (`-- tool.py`), as python would.
        if let Some(words) = python_shebang(Path::new(word)) {
            return FirstWord::Shebang(words, word.to_os_string());
        }
    }
    if names_python(word) {
        return FirstWord::Interpreter;
    }
    let Some(path) = locate(word) else {
        // Not found: spawning it says so ("not found").
        return FirstWord::Interpreter;
    };
    if path.is_dir() {
        return FirstWord::NotPython("it is a directory".into());
    }
    if let Some(words) = python_shebang(&path) {
        return FirstWord::Shebang(words, path.into_os_string());
    }
    // A link to an interpreter (a venv's `bin/py` → python3.12).
    if let Some(real) = path
        .canonicalize()
        .ok()
        .as_deref()
        .and_then(Path::file_name)
    {
        let real = real.to_string_lossy();
        if named_python(&real) {
            return FirstWord::Interpreter;
        }
    }
    if believed_python(&path) {
        return FirstWord::Interpreter;
    }
    FirstWord::NotPython(format!(
        "{} is not named python, is not a .py file, has no #! line naming Python, \
         and is neither a Python executable nor a shell wrapper that execs one",
        path.display()
    ))
}

/// Parses the words after `--` and checks what the first one is (see the
/// module docs). `default_python` is used for `-- script.py`.
pub fn resolve(words: &[OsString], default_python: &str) -> Result<PythonCommand, CommandError> {
    let pc = resolve_words(words, default_python)?;
    check_script(&pc)?;
    Ok(pc)
}

/// A script that is not there is refused before anything runs: python
/// looks it up as the path it is given (relative to the current
/// directory, no search), so the same lookup here answers as python would.
/// `-m module` is left to python's import system.
fn check_script(pc: &PythonCommand) -> Result<(), CommandError> {
    let Some(script) = pc.target.first() else {
        return Ok(());
    };
    if script == "-m" {
        return Ok(());
    }
    match std::fs::metadata(script) {
        Ok(_) => Ok(()),
        Err(e) => {
            let path = Path::new(script);
            let mut why = e.to_string();
            if path.is_relative() {
                if let Ok(cwd) = std::env::current_dir() {
                    why = format!("{why}; looked for in {}", cwd.display());
                }
            }
            if path.is_symlink() {
                why = format!("{why}; it is a symbolic link whose target is not there");
            }
            Err(CommandError::NoScript {
                script: script.to_string_lossy().into_owned(),
                why,
            })
        }
    }
}

fn resolve_words(words: &[OsString], default_python: &str) -> Result<PythonCommand, CommandError> {
    let first = words.first().ok_or(CommandError::Empty)?;
    match classify(first) {
        FirstWord::Script => {
            check_interpreter(default_python, "$PROBE_PYTHON")?;
            parse(words, default_python)
        }
        FirstWord::Interpreter => parse(words, default_python),
        FirstWord::Shebang(interp, script) => {
            let mut interp = interp.into_iter();
            let python = interp.next().unwrap_or_else(|| default_python.to_string());
            // Found on $PATH (`-- pytest`): python gets the file the shell
            // would have run (whose #! line was read), which is also what
            // the program sees as argv[0] — not a same-named file here.
            let mut target = words.to_vec();
            target[0] = script;
            Ok(PythonCommand {
                python,
                interpreter_args: interp.collect(),
                target,
            })
        }
        FirstWord::NotPython(why) => Err(CommandError::NotPython {
            word: first.to_string_lossy().into_owned(),
            why,
        }),
    }
}

/// Parses the words after `--`. `default_python` is used for `-- script.py`.
/// The interpreter and its options must be UTF-8; from the script (or
/// `-m`) on, the words are passed on as they are.
pub fn parse(words: &[OsString], default_python: &str) -> Result<PythonCommand, CommandError> {
    let first = words.first().ok_or(CommandError::Empty)?;
    if looks_like_script(first) {
        return Ok(PythonCommand {
            python: default_python.to_string(),
            interpreter_args: Vec::new(),
            target: words.to_vec(),
        });
    }
    let utf8 = |w: &OsStr| {
        w.to_str()
            .map(str::to_string)
            .ok_or_else(|| CommandError::NotUtf8(w.to_string_lossy().into_owned()))
    };
    let python = utf8(first)?;
    let mut interpreter_args = Vec::new();
    let mut i = 1;
    while i < words.len() {
        // A word that is not UTF-8 is no option: the script starts there.
        let Some(w) = words[i].to_str() else {
            break;
        };
        if w == "--" {
            i += 1;
            break;
        }
        if w == "-" {
            return Err(CommandError::Unsupported(format!("{python} {w}")));
        }
        if !w.starts_with('-') {
            break;
        }
        // A cluster of short flags is read as CPython reads it: `c` and `m`
        // end the options (`-Bm mod`, `-uc code`), `W` and `X` take the
        // rest of the word or the next one (`-uW ignore`).
        if !w.starts_with("--") {
            let flags = &w[1..];
            let mut ended = None;
            for (k, c) in flags.char_indices() {
                if c == 'c' || c == 'm' {
                    ended = Some((k, c));
                    break;
                }
                if SHORT_WITH_ARG.contains(c) {
                    break;
                }
            }
            if let Some((k, c)) = ended {
                if c == 'c' {
                    return Err(CommandError::Unsupported(format!("{python} {w}")));
                }
                if k > 0 {
                    interpreter_args.push(format!("-{}", &flags[..k]));
                }
                let rest = &flags[k + 1..];
                let (module, after) = if rest.is_empty() {
                    let m = words
                        .get(i + 1)
                        .ok_or_else(|| CommandError::MissingArgument("-m".into()))?;
                    (m.clone(), i + 2)
                } else {
                    (OsString::from(rest), i + 1)
                };
                let mut target = vec![OsString::from("-m"), module];
                target.extend_from_slice(&words[after..]);
                return Ok(PythonCommand {
                    python,
                    interpreter_args,
                    target,
                });
            }
        }
        if takes_next_word(w) {
            let arg = words
                .get(i + 1)
                .ok_or_else(|| CommandError::MissingArgument(w.to_string()))?;
            interpreter_args.push(w.to_string());
            interpreter_args.push(utf8(arg)?);
            i += 2;
            continue;
        }
        interpreter_args.push(w.to_string());
        i += 1;
    }
    if i >= words.len() {
        let all: Vec<_> = words.iter().map(|w| w.to_string_lossy()).collect();
        return Err(CommandError::NoTarget(all.join(" ")));
    }
    if words[i] == "-" {
        return Err(CommandError::Unsupported(format!("{python} -")));
    }
    Ok(PythonCommand {
        python,
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

    fn o(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn script_with_interpreter_options() {
        let c = parse(&o("python3 -I -X dev prog.py a b"), "python3").unwrap();
        assert_eq!(c.python, "python3");
        assert_eq!(c.interpreter_args, w("-I -X dev"));
        assert_eq!(c.target, o("prog.py a b"));
    }

    #[test]
    fn module_forms() {
        let c = parse(&o("python -m pkg.mod --flag"), "python3").unwrap();
        assert_eq!(c.target, o("-m pkg.mod --flag"));
        let c = parse(&o("python -mpkg x"), "python3").unwrap();
        assert_eq!(c.target, o("-m pkg x"));
        // `m` ends a cluster of flags, as CPython reads it.
        let c = parse(&o("python -Bm pkg x"), "python3").unwrap();
        assert_eq!(c.interpreter_args, w("-B"));
        assert_eq!(c.target, o("-m pkg x"));
        let c = parse(&o("python -uBmpkg x"), "python3").unwrap();
        assert_eq!(c.interpreter_args, w("-uB"));
        assert_eq!(c.target, o("-m pkg x"));
        assert!(matches!(
            parse(&o("python -Bm"), "python3"),
            Err(CommandError::MissingArgument(_))
        ));
    }

    /// `W` and `X` take the rest of their word, or the next word when they
    /// end a cluster; `--check-hash-based-pycs` takes the next word: that
    /// word is never the script (it once was, and the run was refused as
    /// "the script `ignore` cannot be run").
    #[test]
    fn options_with_a_value_in_clusters_are_read_as_python_reads_them() {
        for (line, args, target) in [
            ("python -uW ignore prog.py a", "-uW ignore", "prog.py a"),
            ("python -OX dev prog.py", "-OX dev", "prog.py"),
            ("python -Wignore prog.py", "-Wignore", "prog.py"),
            ("python -uXdev -B prog.py", "-uXdev -B", "prog.py"),
            ("python -Wc prog.py", "-Wc", "prog.py"),
            (
                "python --check-hash-based-pycs always prog.py",
                "--check-hash-based-pycs always",
                "prog.py",
            ),
            (
                "python --check-hash-based-pycs=never prog.py",
                "--check-hash-based-pycs=never",
                "prog.py",
            ),
        ] {
            let c = parse(&o(line), "python3").unwrap();
            assert_eq!(c.interpreter_args, w(args), "{line}");
            assert_eq!(c.target, o(target), "{line}");
        }
        for line in ["python -uc pass", "python -Bc pass"] {
            assert!(
                matches!(parse(&o(line), "p"), Err(CommandError::Unsupported(_))),
                "{line}"
            );
        }
        assert!(matches!(
            parse(&o("python -uW"), "p"),
            Err(CommandError::MissingArgument(_))
        ));
    }

    #[test]
    fn flags_that_skip_the_environment_or_site_are_seen_in_clusters() {
        let cmd = |args: &str| PythonCommand {
            python: "python3".into(),
            interpreter_args: w(args),
            target: o("prog.py"),
        };
        for yes in [
            "",
            "-u",
            "-X dev",
            "-X importtime -O",
            "-W error::E",
            "-XE",
            "-Wignore::S",
            "-uW S",
            "-OX E",
        ] {
            assert!(cmd(yes).imports_site_with_env(), "{yes}");
        }
        for no in [
            "-E",
            "-I",
            "-S",
            "-uI",
            "-sS",
            "-X dev -E",
            "-OIu",
            "-IW ignore",
        ] {
            assert!(!cmd(no).imports_site_with_env(), "{no}");
        }
    }

    #[test]
    fn bare_script_uses_default_python() {
        let c = parse(&o("prog.py --n 3"), "/usr/bin/python3.12").unwrap();
        assert_eq!(c.python, "/usr/bin/python3.12");
        assert_eq!(c.target, o("prog.py --n 3"));
    }

    #[test]
    fn programs_that_are_not_python_are_refused_with_the_reason() {
        let err = resolve(&o("ls -l"), "python3").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("`ls` is not a Python interpreter or script"),
            "{text}"
        );
        assert!(text.contains("python3 script.py"), "{text}");
        assert!(matches!(
            resolve(&o("/tmp"), "python3"),
            Err(CommandError::NotPython { .. })
        ));
    }

    #[test]
    fn a_script_with_a_python_shebang_runs_with_that_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/usr/bin/env -S python3 -u\nprint(1)\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let t = OsString::from(tool.as_os_str());
        let c = resolve(&[t.clone(), "a".into()], "python3.99").unwrap();
        assert_eq!(c.python, "python3");
        assert_eq!(c.interpreter_args, w("-u"));
        assert_eq!(c.target, vec![t.clone(), OsString::from("a")]);
    }

    #[test]
    fn an_executable_py_script_runs_with_its_shebang_and_a_plain_one_with_the_default() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool.py");
        std::fs::write(&tool, "#!/opt/venv/bin/python3.13\nprint(1)\n").unwrap();
        let t = OsString::from(tool.as_os_str());
        // Not executable: the shell could not run it; python3 prog.py is meant.
        assert_eq!(
            resolve(std::slice::from_ref(&t), "python3.99")
                .unwrap()
                .python,
            "python3.99"
        );
        assert_eq!(script_interpreter(&tool, "python3.99"), "python3.99");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = resolve(&[t.clone(), "a".into()], "python3.99").unwrap();
        assert_eq!(c.python, "/opt/venv/bin/python3.13");
        assert_eq!(c.target, vec![t.clone(), OsString::from("a")]);
        assert_eq!(
            script_interpreter(&tool, "python3.99"),
            "/opt/venv/bin/python3.13"
        );
        // Executable without a Python #! line: still the default interpreter.
        let plain = dir.path().join("plain.py");
        std::fs::write(&plain, "print(1)\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = OsString::from(plain.as_os_str());
        assert_eq!(resolve(&[p], "python3.99").unwrap().python, "python3.99");
    }

    #[test]
    fn scripts_and_arguments_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let latin1 = OsString::from_vec(b"caf\xe9.py".to_vec());
        let arg = OsString::from_vec(b"\xff".to_vec());
        let words = vec!["python3".into(), "-u".into(), latin1.clone(), arg.clone()];
        let c = parse(&words, "p").unwrap();
        assert_eq!(c.interpreter_args, w("-u"));
        assert_eq!(c.target, vec![latin1.clone(), arg.clone()]);
        // resolve() also checks that the script is there.
        let dir = tempfile::tempdir().unwrap();
        let mut path = dir.path().as_os_str().to_os_string();
        path.push("/");
        path.push(&latin1);
        std::fs::write(&path, "print(1)\n").unwrap();
        let c = resolve(&[path.clone(), arg.clone()], "python3.99").unwrap();
        assert_eq!(c.python, "python3.99");
        assert_eq!(c.target, vec![path, arg]);
        // The interpreter's own words must be UTF-8: a clear error, no panic.
        let words = vec!["python3".into(), "-X".into(), latin1];
        assert!(matches!(parse(&words, "p"), Err(CommandError::NotUtf8(_))));
    }

    #[test]
    fn a_script_that_is_not_there_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.py");
        let m = OsString::from(missing.as_os_str());
        for words in [
            vec![m.clone()],
            vec!["python3".into(), "-u".into(), m.clone(), "arg".into()],
        ] {
            let err = resolve(&words, "python3").unwrap_err();
            assert!(matches!(err, CommandError::NoScript { .. }), "{err:?}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "the script `{}` cannot be run: ",
                    missing.display()
                )),
                "{text}"
            );
            assert!(text.contains("No such file or directory"), "{text}");
        }
        // A relative name says where it was looked for.
        let err = resolve(&o("python3 surely-not-here-7f3a.py"), "python3").unwrap_err();
        assert!(err.to_string().contains("; looked for in "), "{err}");
        // `-m` is python's to find.
        assert!(resolve(&o("python3 -m surely_not_a_module_7f3a"), "python3").is_ok());
    }

    #[test]
    fn unsupported_forms_are_refused() {
        assert!(matches!(
            parse(&o("python -c pass"), "p"),
            Err(CommandError::Unsupported(_))
        ));
        assert!(matches!(
            parse(&o("python -I"), "p"),
            Err(CommandError::NoTarget(_))
        ));
        assert!(matches!(parse(&[], "p"), Err(CommandError::Empty)));
        assert!(matches!(
            parse(&o("python -W"), "p"),
            Err(CommandError::MissingArgument(_))
        ));
    }
}
