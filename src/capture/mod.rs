//! Capture: the in-process tracer core and the records it produces.
//!
//! The tracer core is pure Python (`agent.py`), shipped inside the binary and
//! run inside the user's own interpreter. What it captures is described by
//! [`crate::model`].

pub mod listing;

/// Source of the in-process agent, passed as the first program argument.
pub const AGENT_SOURCE: &str = include_str!("agent.py");

/// The `-c` program: valid Python 2 and 3, it refuses interpreters older than
/// 3.11 over the pipe (a FATAL message) before compiling the agent, so an old
/// Python reports "not supported" instead of a SyntaxError in our code.
///
/// Compiling the agent takes ~35 ms, more than the rest of its start-up, so
/// the code object is cached with `marshal` under `$XDG_CACHE_HOME/probe`
/// (else `~/.cache/probe`), keyed by the agent's checksum and the
/// interpreter's cache tag; any problem with the cache falls back to
/// compiling. argv on entry: `['-c', AGENT_SOURCE, key, fd, …]`.
pub const BOOTSTRAP: &str = r#"import sys
if sys.version_info < (3, 11):
    import os, struct
    m = ('{"message": "Python %d.%d is not supported: probe needs Python 3.11 or newer (%s)"}' % (sys.version_info[0], sys.version_info[1], sys.executable)).encode('ascii', 'replace')
    os.write(int(sys.argv[3]), struct.pack('<IB', len(m), 4) + m)
    sys.exit(2)
def _probe_agent_code(src, key):
    import os, marshal
    home = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.environ.get('HOME') or '/nonexistent', '.cache')
    path = os.path.join(home, 'probe', 'agent-%s-%s.bin' % (key, sys.implementation.cache_tag))
    try:
        with open(path, 'rb') as f:
            return marshal.loads(f.read())
    except Exception:
        pass
    code = compile(src, '<probe-agent>', 'exec', dont_inherit=True)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = '%s.%d.tmp' % (path, os.getpid())
        with open(tmp, 'wb') as f:
            f.write(marshal.dumps(code))
        os.replace(tmp, path)
    except Exception:
        pass
    return code
exec(_probe_agent_code(sys.argv.pop(1), sys.argv.pop(1)))
"#;

/// Cache key of the agent's compiled code: changes whenever its source does.
pub fn agent_key() -> String {
    format!(
        "{}-{:08x}",
        env!("CARGO_PKG_VERSION"),
        crc32c::crc32c(AGENT_SOURCE.as_bytes())
    )
}
