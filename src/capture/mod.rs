//! Capture: the in-process tracer core and the records it produces.
//!
//! The tracer core is pure Python (`agent.py`), shipped inside the binary and
//! run inside the user's own interpreter; `record` holds the Rust view of
//! what it captures.

pub mod listing;
pub mod record;

/// Source of the in-process agent, passed as the first program argument.
pub const AGENT_SOURCE: &str = include_str!("agent.py");

/// The newest Python minor version probe is tested on; newer ones are
/// refused unless `record --allow-untested-python` (SPEC §4: 3.11 to 3.15).
pub const NEWEST_TESTED_PYTHON: (u32, u32) = (3, 15);

/// The oldest Python probe runs on.
pub const OLDEST_PYTHON: (u32, u32) = (3, 11);

/// How the bootstrap treats a Python newer than [`NEWEST_TESTED_PYTHON`]
/// (its argument after the agent key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionPolicy {
    /// Refuse it (FATAL): `record`'s default.
    Strict,
    /// Run, and send a WARN that says it is untested (`--allow-untested-python`).
    Allow,
    /// Run silently: `probe probes` only parses the file.
    Any,
}

impl VersionPolicy {
    /// The word the bootstrap reads.
    pub fn arg(self) -> &'static str {
        match self {
            VersionPolicy::Strict => "strict",
            VersionPolicy::Allow => "allow",
            VersionPolicy::Any => "any",
        }
    }
}

/// The `-c` program: valid Python 2 and 3, it checks the interpreter before
/// compiling the agent and reports over the pipe (framed FATAL/WARN
/// messages), so that an unsupported Python gets a clear message instead of
/// a SyntaxError in our code or a wrong recording:
/// - older than 3.11: refused;
/// - newer than 3.15: refused, unless the policy is `allow` (a WARN says
///   it is untested) or `any`;
/// - a free-threaded build (`sys.abiflags` has `t`, 3.13t/3.14t/3.15t):
///   refused, whatever the policy, except `any`: the tracer's sequence
///   order relies on the GIL serialising its callbacks (an append to the
///   capture list *is* the reservation of a sequence number).
///
/// Compiling the agent takes ~35 ms, more than the rest of its start-up, so
/// the code object is cached with `marshal` under `$XDG_CACHE_HOME/probe`
/// (else `~/.cache/probe`), keyed by the agent's checksum and the
/// interpreter's cache tag; any problem with the cache falls back to
/// compiling. argv on entry: `['-c', AGENT_SOURCE, key, policy, fd, …]`;
/// the agent sees `['-c', fd, …]`.
pub const BOOTSTRAP: &str = r#"import sys
def _probe_say(kind, text):
    import os, struct
    text = text.replace('\\', '\\\\').replace('"', '\\"')
    m = ('{"message": "%s"}' % text).encode('ascii', 'replace')
    os.write(int(sys.argv[4]), struct.pack('<IB', len(m), kind) + m)
    if kind == 4:
        sys.exit(2)
_probe_v = '%d.%d.%d' % tuple(sys.version_info[:3])
if sys.version_info < (3, 11):
    _probe_say(4, 'Python %d.%d is not supported: probe needs Python 3.11 or newer (%s)' % (sys.version_info[0], sys.version_info[1], sys.executable))
if sys.argv[3] != 'any' and 't' in getattr(sys, 'abiflags', ''):
    _probe_say(4, 'Python %s is a free-threaded build (%s): probe does not support free-threaded Python, whose tracer callbacks run in parallel and could record captures out of order; run a standard build of Python %d.%d' % (_probe_v, sys.executable, sys.version_info[0], sys.version_info[1]))
if sys.version_info[:2] > (3, 15) and sys.argv[3] != 'any':
    if sys.argv[3] != 'allow':
        _probe_say(4, 'Python %s (%s) is newer than the versions probe supports (Python 3.11 to 3.15); --allow-untested-python records with it anyway, untested' % (_probe_v, sys.executable))
    _probe_say(5, 'Python %s is newer than the versions probe is tested on (3.11 to 3.15): recorded because of --allow-untested-python; check the records' % _probe_v)
del sys.argv[3]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bootstrap's literal version bounds are the constants'.
    #[test]
    fn bootstrap_bounds_match_the_constants() {
        let (om, on) = OLDEST_PYTHON;
        let (nm, nn) = NEWEST_TESTED_PYTHON;
        assert!(BOOTSTRAP.contains(&format!("sys.version_info < ({om}, {on})")));
        assert!(BOOTSTRAP.contains(&format!("sys.version_info[:2] > ({nm}, {nn})")));
        assert!(BOOTSTRAP.contains(&format!("Python {om}.{on} to {nm}.{nn}")));
        assert!(BOOTSTRAP.contains(&format!("({om}.{on} to {nm}.{nn})")));
    }
}
