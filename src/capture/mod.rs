//! Capture: the in-process tracer core and the records it produces.
//!
//! The tracer core is pure Python (`agent.py`), shipped inside the binary and
//! run inside the user's own interpreter; `record` holds the Rust view of
//! what it captures.

pub mod record;

/// Source of the in-process agent, passed as the first program argument.
pub const AGENT_SOURCE: &str = include_str!("agent.py");

/// The `-c` program: valid Python 2 and 3, it refuses interpreters older than
/// 3.11 over the pipe (a FATAL message) before compiling the agent, so an old
/// Python reports "not supported" instead of a SyntaxError in our code.
/// argv on entry: `['-c', AGENT_SOURCE, fd, config, target…]`.
pub const BOOTSTRAP: &str = r#"import sys
if sys.version_info < (3, 11):
    import os, struct
    m = ('{"message": "Python %d.%d is not supported: probe needs Python 3.11 or newer (%s)"}' % (sys.version_info[0], sys.version_info[1], sys.executable)).encode('ascii', 'replace')
    os.write(int(sys.argv[2]), struct.pack('<IB', len(m), 4) + m)
    sys.exit(2)
exec(compile(sys.argv.pop(1), '<probe-agent>', 'exec'))
"#;
