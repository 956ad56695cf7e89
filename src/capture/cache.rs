//! The compiled-agent cache: code the interpreter compiled from the agent's
//! sources once, kept so that later runs skip the ~35 ms of compiling.
//!
//! Nothing read from it runs unchecked. The directory
//! (`$XDG_CACHE_HOME/probe`, else `~/.cache/probe`) is created private to
//! the user (0700); one owned by someone else, or that others can write, is
//! not used (ours is made private again and emptied). Each file is opened
//! without following links, must be a regular file of ours that others
//! cannot write, and carries the SHA-256 of its payload, checked before the
//! payload is handed to the interpreter; a file that fails any check is
//! deleted and rebuilt by the next run. Writes go to a temporary file in the
//! directory, renamed into place. An index per interpreter executable says
//! which compilation it uses, so that a run reads only that one; another
//! agent version's files unused for a week are deleted.
//!
//! It also keeps the agent's resolution of a run's specs (the scope models
//! and sites `resolved.py` describes), keyed by the interpreter, the specs
//! and the current directory, so that a later run parses no source. Such
//! an entry names the files it was computed from with their SHA-256; it is
//! offered to the agent only when every one of them hashes the same now
//! (and the agent checks further before use). At most
//! [`MAX_RESOLUTIONS`] are kept per agent version, the oldest dropped.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 12] = b"PROBECACHE1\n";
/// Larger files are not ours (the agent's code is ~0.3 MB).
const MAX_FILE: u64 = 16 << 20;
/// At most this many compilations (one per interpreter version) are offered.
const MAX_ENTRIES: usize = 16;
/// At most this many resolutions are kept (per agent version).
pub const MAX_RESOLUTIONS: usize = 64;
/// Another agent version's files unused this long are deleted.
const STALE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The cache directory of this user and agent version, if usable.
#[derive(Debug)]
pub struct AgentCache {
    dir: PathBuf,
    prefix: String,
}

/// Where the cache lives: `$XDG_CACHE_HOME/probe`, else `~/.cache/probe`.
pub fn default_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("probe"))
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl AgentCache {
    /// Opens (creating it private) the cache in `dir` for agent `key`;
    /// None when the directory cannot be made safe to use.
    pub fn open(dir: &Path, key: &str) -> Option<AgentCache> {
        if let Some(parent) = dir.parent() {
            let _ = fs::create_dir_all(parent);
        }
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let meta = fs::symlink_metadata(dir).ok()?;
        if !meta.is_dir() || meta.uid() != euid() {
            return None; // a link, a file, or someone else's directory
        }
        if meta.mode() & 0o077 != 0 {
            // Others could have put files here: make it ours alone, forget them.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).ok()?;
            if let Ok(rd) = fs::read_dir(dir) {
                for e in rd.flatten() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Some(AgentCache {
            dir: dir.to_path_buf(),
            prefix: format!("agent-{key}-"),
        })
    }

    fn path_of(&self, pykey: &str) -> Option<PathBuf> {
        let ok = !pykey.is_empty()
            && pykey.len() <= 64
            && pykey
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        ok.then(|| self.dir.join(format!("{}{pykey}.bin", self.prefix)))
    }

    /// The `sitecustomize` stub compiled by interpreter key `pykey`
    /// ([`crate::capture::site_zip`]), if cached and intact.
    pub fn load_site_pyc(&self, pykey: &str) -> Option<Vec<u8>> {
        let path = self.path_of(pykey)?.with_extension("pyc");
        match read_checked(&path) {
            Ok(p) => Some(p),
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    let _ = fs::remove_file(&path);
                }
                None
            }
        }
    }

    /// Stores the stub compiled by interpreter key `pykey` (atomically).
    pub fn store_site_pyc(&self, pykey: &str, pyc: &[u8]) -> io::Result<()> {
        let path = self
            .path_of(pykey)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad interpreter key"))?
            .with_extension("pyc");
        if pyc.len() < 17 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a pyc"));
        }
        self.write_checked(&path, pyc)
    }

    /// Where the resolution with key `key` (a lower-case hex digest) lives.
    fn resolution_of(&self, key: &str) -> Option<PathBuf> {
        let ok = (16..=64).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| self.dir.join(format!("{}{key}.res", self.prefix)))
    }

    /// The cached resolution with key `key` (see [`resolution_key`]) for
    /// the agent's `resolution` section, when the entry passes the file
    /// checks and every source file it names still has the content it was
    /// computed from. A damaged entry is deleted; a stale one is left for
    /// the agent's new resolution to replace.
    pub fn load_resolution(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.resolution_of(key)?;
        let payload = match read_checked(&path) {
            Ok(p) => p,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    let _ = fs::remove_file(&path);
                }
                return None;
            }
        };
        let Some((files, data)) = split_resolution(&payload) else {
            let _ = fs::remove_file(&path);
            return None;
        };
        for (hash, file) in files {
            let mut f = File::open(std::ffi::OsStr::from_bytes(file)).ok()?;
            let mut h = Sha256::new();
            io::copy(&mut f, &mut h).ok()?;
            if hex(&h.finalize()).as_bytes() != hash {
                return None;
            }
        }
        Some(data.to_vec())
    }

    /// Stores the agent's RESOLVED message `payload` under `key`
    /// (atomically), then keeps the newest [`MAX_RESOLUTIONS`].
    pub fn store_resolution(&self, key: &str, payload: &[u8]) -> io::Result<()> {
        let bad = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        let path = self.resolution_of(key).ok_or_else(|| bad("bad key"))?;
        split_resolution(payload).ok_or_else(|| bad("not a resolution"))?;
        self.write_checked(&path, payload)?;
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Ok(());
        };
        let mut mine: Vec<(SystemTime, PathBuf)> = rd
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(&self.prefix) && n.ends_with(".res"))
            })
            .map(|e| {
                let t = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (t, e.path())
            })
            .collect();
        if mine.len() > MAX_RESOLUTIONS {
            mine.sort();
            for (_, p) in &mine[..mine.len() - MAX_RESOLUTIONS] {
                let _ = fs::remove_file(p);
            }
        }
        Ok(())
    }

    /// Where the index for interpreter `interp` (see `for_interpreter`)
    /// lives: a lower-case hex digest only.
    fn index_of(&self, interp: &str) -> Option<PathBuf> {
        let ok = (16..=64).contains(&interp.len())
            && interp
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| self.dir.join(format!("{}{interp}.idx", self.prefix)))
    }

    /// The cached compilation for interpreter `interp` — a digest of the
    /// interpreter executable's identity, see
    /// [`crate::record::command::PythonCommand::identity`] — when an index
    /// names it: one file read and hashed instead of one per interpreter
    /// ever used (0.7 ms each at every start). Without an index, or when
    /// it names nothing usable, every cached compilation (`load_all`).
    pub fn load_for(&self, interp: Option<&str>) -> Vec<(String, Vec<u8>)> {
        let indexed = self
            .indexed_key(interp)
            .and_then(|k| Some((self.path_of(&k)?, k)));
        if let Some((path, pykey)) = indexed {
            match read_checked(&path) {
                Ok(payload) => return vec![(pykey, payload)],
                Err(_) => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        self.load_all()
    }

    /// The interpreter key (its `cache_tag-hexversion`) the index for
    /// interpreter `interp` names, if there is a valid index: what the
    /// compilation and the stub's pyc are kept under.
    pub fn indexed_key(&self, interp: Option<&str>) -> Option<String> {
        interp
            .and_then(|i| self.index_of(i))
            .and_then(|p| read_checked(&p).ok())
            .and_then(|k| String::from_utf8(k).ok())
    }

    /// Every cached compilation of this agent that passes the checks, as
    /// (interpreter key, payload). Files that fail them are deleted.
    pub fn load_all(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return out;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(pykey) = name
                .strip_prefix(&self.prefix)
                .and_then(|r| r.strip_suffix(".bin"))
            else {
                continue;
            };
            if out.len() >= MAX_ENTRIES {
                break;
            }
            match read_checked(&e.path()) {
                Ok(payload) => out.push((pykey.to_string(), payload)),
                Err(_) => {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        out
    }

    /// Stores `payload` for interpreter key `pykey` (atomically).
    pub fn store(&self, pykey: &str, payload: &[u8]) -> io::Result<()> {
        let path = self
            .path_of(pykey)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad interpreter key"))?;
        self.write_checked(&path, payload)?;
        self.forget_old_versions(STALE);
        Ok(())
    }

    /// Deletes the files of other agent versions (an older `probe`) not
    /// written for `age`: each version leaves one compilation per
    /// interpreter. A version still in use rewrites its files when it
    /// compiles again, so only the abandoned ones go.
    fn forget_old_versions(&self, age: Duration) {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("agent-") || name.starts_with(&self.prefix) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|d| d > age);
            if old {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Records that interpreter `interp` (an identity digest) has the key
    /// `pykey`, for `load_for` (atomically).
    pub fn store_index(&self, interp: &str, pykey: &str) -> io::Result<()> {
        let bad = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        let path = self
            .index_of(interp)
            .ok_or_else(|| bad("bad interpreter identity"))?;
        self.path_of(pykey)
            .ok_or_else(|| bad("bad interpreter key"))?;
        self.write_checked(&path, pykey.as_bytes())
    }

    /// Writes a file of the checked format (magic, SHA-256, payload)
    /// under a temporary name in the directory, renamed into place.
    fn write_checked(&self, path: &Path, payload: &[u8]) -> io::Result<()> {
        if payload.len() as u64 > MAX_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "payload too large",
            ));
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(&self.dir)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(&Sha256::digest(payload))?;
        tmp.write_all(payload)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The key of a run's resolution: the interpreter (its identity digest),
/// the current directory and the specs, in order.
pub fn resolution_key(interp: &str, cwd: &Path, specs: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"probe-resolution-1\0");
    h.update(interp.as_bytes());
    h.update(b"\0");
    h.update(cwd.as_os_str().as_bytes());
    for s in specs {
        h.update(b"\0");
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A source file a resolution was computed from: (SHA-256 in lower-case
/// hex, path).
type SourceFile<'a> = (&'a [u8], &'a [u8]);

/// A RESOLVED payload's parts: the files it was computed from, as (SHA-256
/// in lower-case hex, path), and the agent's data. Payload: u32 LE header
/// length, header lines `HEX PATH\n`, data.
fn split_resolution(payload: &[u8]) -> Option<(Vec<SourceFile<'_>>, &[u8])> {
    let n = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    let header = payload.get(4..4usize.checked_add(n)?)?;
    let data = &payload[4 + n..];
    if data.is_empty() || !header.is_empty() && header.last() != Some(&b'\n') {
        return None;
    }
    let mut files = Vec::new();
    for line in header.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let sp = line.iter().position(|&b| b == b' ')?;
        let (hash, path) = (&line[..sp], &line[sp + 1..]);
        let hex_ok = hash.len() == 64
            && hash
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        if !hex_ok || path.first() != Some(&b'/') || path.contains(&0) {
            return None;
        }
        files.push((hash, path));
    }
    if files.is_empty() {
        return None;
    }
    Some((files, data))
}

/// The payload of a cache file, if it is a regular file of ours that others
/// cannot write, and its hash matches.
fn read_checked(path: &Path) -> io::Result<Vec<u8>> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let mut f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.uid() != euid() || meta.mode() & 0o022 != 0 {
        return Err(bad("not a private regular file of ours"));
    }
    if meta.len() > MAX_FILE || meta.len() < (MAGIC.len() + 32) as u64 {
        return Err(bad("size out of range"));
    }
    // The header apart, so that the payload is read where it stays (no
    // copy of ~0.3 MB at every start).
    let mut head = [0u8; MAGIC.len() + 32];
    f.read_exact(&mut head)?;
    if head[..MAGIC.len()] != MAGIC[..] {
        return Err(bad("bad magic"));
    }
    let mut payload = Vec::with_capacity(meta.len() as usize - head.len() + 1);
    f.read_to_end(&mut payload)?;
    if Sha256::digest(&payload).as_slice() != &head[MAGIC.len()..] {
        return Err(bad("hash mismatch"));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_payload_comes_back_and_a_tampered_one_is_deleted() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("probe");
        let c = AgentCache::open(&dir, "abc").unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        c.store("cpython-312-30c01f0", b"code bytes").unwrap();
        assert_eq!(
            c.load_all(),
            vec![("cpython-312-30c01f0".to_string(), b"code bytes".to_vec())]
        );
        // Replace the payload but keep the old hash: refused and deleted.
        let p = c.path_of("cpython-312-30c01f0").unwrap();
        let mut bytes = fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        fs::write(&p, &bytes).unwrap();
        assert!(c.load_all().is_empty());
        assert!(!p.exists());
    }

    #[test]
    fn a_symlinked_or_shared_entry_is_never_used() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("probe");
        let c = AgentCache::open(&dir, "abc").unwrap();
        c.store("k1", b"payload").unwrap();
        let real = c.path_of("k1").unwrap();
        let link = c.path_of("k2").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let got = c.load_all();
        assert_eq!(got, vec![("k1".to_string(), b"payload".to_vec())]);
        // Group-writable: refused.
        fs::set_permissions(&real, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(c.load_all().is_empty());
    }

    #[test]
    fn a_directory_others_can_write_is_made_private_and_emptied() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("probe");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("agent-abc-k1.bin"), b"planted").unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let c = AgentCache::open(&dir, "abc").unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(c.load_all().is_empty());
        assert!(!dir.join("agent-abc-k1.bin").exists());
    }

    #[test]
    fn an_index_loads_only_its_interpreters_compilation_and_falls_back() {
        let d = tempfile::tempdir().unwrap();
        let c = AgentCache::open(&d.path().join("p"), "abc").unwrap();
        c.store("cpython-312-x", b"code 3.12").unwrap();
        c.store("cpython-313-x", b"code 3.13").unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        // No index yet: every compilation.
        assert_eq!(c.load_for(Some(id)).len(), 2);
        c.store_index(id, "cpython-313-x").unwrap();
        assert_eq!(
            c.load_for(Some(id)),
            vec![("cpython-313-x".to_string(), b"code 3.13".to_vec())]
        );
        assert_eq!(c.load_for(None).len(), 2);
        // The indexed compilation is gone (or was damaged): all of them.
        fs::remove_file(c.path_of("cpython-313-x").unwrap()).unwrap();
        assert_eq!(
            c.load_for(Some(id)),
            vec![("cpython-312-x".to_string(), b"code 3.12".to_vec())]
        );
        // A tampered index is refused like any other file.
        let idx = c.index_of(id).unwrap();
        c.store("cpython-313-x", b"code 3.13").unwrap();
        let mut bytes = fs::read(&idx).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        fs::write(&idx, &bytes).unwrap();
        assert_eq!(c.load_for(Some(id)).len(), 2);
        // Identities and keys that could name other paths are refused.
        assert!(c.store_index("../../x", "cpython-313-x").is_err());
        assert!(c.store_index(id, "../evil").is_err());
        assert!(c.index_of("ABCDEF0123456789").is_none());
    }

    #[test]
    fn another_versions_files_go_once_unused_for_a_week() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("p");
        let c = AgentCache::open(&dir, "new").unwrap();
        let old = AgentCache::open(&dir, "old").unwrap();
        let recent = AgentCache::open(&dir, "recent").unwrap();
        old.store("k", b"x").unwrap();
        recent.store("k", b"x").unwrap();
        let weeks_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
        File::options()
            .write(true)
            .open(old.path_of("k").unwrap())
            .unwrap()
            .set_modified(weeks_ago)
            .unwrap();
        fs::write(dir.join("unrelated"), b"kept").unwrap();
        c.store("k", b"mine").unwrap();
        assert!(!old.path_of("k").unwrap().exists(), "abandoned: deleted");
        assert!(recent.path_of("k").unwrap().exists(), "in use lately: kept");
        assert!(dir.join("unrelated").exists());
        assert_eq!(c.load_all(), vec![("k".to_string(), b"mine".to_vec())]);
    }

    #[test]
    fn interpreter_keys_cannot_name_other_paths() {
        let d = tempfile::tempdir().unwrap();
        let c = AgentCache::open(&d.path().join("p"), "abc").unwrap();
        assert!(c.store("../evil", b"x").is_err());
        assert!(c.store("", b"x").is_err());
    }
}
