//! Capture: the in-process agent, and how it is handed to the interpreter.
//!
//! The agent is Python (`agent/*.py`), one module per concern as coverage.py
//! splits its tracer: `resolve` (probe specs → occurrences), `plan` (the
//! capture plan: SPEC §2 as data), `values` (snapshots of values),
//! `manager` (seq reservation, deferred captures, flushing), the two cores
//! that execute plans (`sysmon`: sys.monitoring, `pytracer`: sys.settrace),
//! `core` (which core and why), `runner` (running the program as python
//! would), `listing` (`probe probes`), `wire` (the stream to the recorder).
//!
//! It reaches the interpreter without touching the file system: the
//! recorder writes a *bundle* (boot code, configuration, module sources and
//! — when this interpreter compiled them before — their cached code, whose
//! content hash [`cache`] checked) into an in-memory file the interpreter
//! inherits. `record` then runs the program exactly as given (`python
//! [flags] script.py …`) with `PYTHONPATH` naming an in-memory zip whose
//! `sitecustomize` ([`SITE_STUB`]) starts the agent from the bundle while
//! `site` is imported: python runs the program itself, with none of our
//! frames below it, and `ps` and `sys.orig_argv` show the user's command.
//! Interpreter flags that skip `PYTHONPATH` or `site` (`-E`, `-I`, `-S`),
//! and `probe probes`, use `python -c BOOTSTRAP FD LEN WIRE_FD program…`
//! instead, where the agent runs the program (`runner.py`). Either way the
//! probe specs never meet an argument-length limit.

pub mod cache;
pub mod listing;
pub mod native;

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The agent's modules, in load order (a module imports only earlier ones).
pub const AGENT_MODULES: &[(&str, &str)] = &[
    ("values", include_str!("agent/values.py")),
    ("wire", include_str!("agent/wire.py")),
    ("resolved", include_str!("agent/resolved.py")),
    ("symbols", include_str!("agent/symbols.py")),
    ("resolve", include_str!("agent/resolve.py")),
    ("frames", include_str!("agent/frames.py")),
    ("plan", include_str!("agent/plan.py")),
    ("manager", include_str!("agent/manager.py")),
    ("sysmon", include_str!("agent/sysmon.py")),
    ("native", include_str!("agent/native.py")),
    ("pytracer", include_str!("agent/pytracer.py")),
    ("core", include_str!("agent/core.py")),
    ("children", include_str!("agent/children.py")),
    ("runner", include_str!("agent/runner.py")),
    ("listing", include_str!("agent/listing.py")),
    ("main", include_str!("agent/main.py")),
];

/// The newest Python minor version probe is tested on; newer ones are
/// refused unless `record --allow-untested-python` (3.11 to 3.15).
pub const NEWEST_TESTED_PYTHON: (u32, u32) = (3, 15);

/// The oldest Python probe runs on.
pub const OLDEST_PYTHON: (u32, u32) = (3, 11);

/// How the agent treats a Python newer than [`NEWEST_TESTED_PYTHON`] or a
/// free-threaded build (the bundle's `policy` setting; see `boot.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionPolicy {
    /// Refuse a newer Python (FATAL): `record`'s default.
    Strict,
    /// Run, with a warning that it is untested (`--allow-untested-python`).
    Allow,
    /// Run silently: `probe probes` only parses the file.
    Any,
}

impl VersionPolicy {
    /// The setting's value.
    pub fn word(self) -> &'static str {
        match self {
            VersionPolicy::Strict => "strict",
            VersionPolicy::Allow => "allow",
            VersionPolicy::Any => "any",
        }
    }
}

/// Stage two of the start-up (version check, module loading): the first
/// bytes of the bundle. Valid Python 2 too, so an old interpreter refuses
/// with a message instead of a SyntaxError.
pub const BOOT_SOURCE: &str = include_str!("agent/boot.py");

/// The `-c` program: reads the boot code from the bundle and runs it.
/// argv: `['-c', BUNDLE_FD, BOOT_LEN, WIRE_FD, program…]`.
pub const BOOTSTRAP: &str = "import os,sys;f=os.fdopen(int(sys.argv[1]),'rb');exec(compile(f.read(int(sys.argv[2])),'<probe-boot>','exec'))";

/// The `sitecustomize` of `site` mode (see `boot.py`): starts the agent
/// while `site` is imported, so that python runs the program itself.
pub const SITE_STUB: &str = include_str!("agent/site_stub.py");

/// Environment variable naming the bundle for [`SITE_STUB`]:
/// `"BUNDLE_FD GO_FD WIRE_FD"`. The stub waits for a line on the GO_FD pipe
/// ([`Bundle::boot_args`]), which the recorder writes once the bundle is.
pub const SITE_BOOT_ENV: &str = "PROBE_AGENT_BOOT";

/// [`SITE_BOOT_ENV`]'s value that asks the stub only to answer
/// [`SITE_CHECK_ANSWER`] on stdout and exit (is the environment passed on
/// by a wrapper script, and `site` imported?).
pub const SITE_CHECK: &str = "check";

/// What the stub answers to [`SITE_CHECK`].
pub const SITE_CHECK_ANSWER: &str = "probe-site-ok";

/// Environment variable carrying the program's own `PYTHONPATH` (absent
/// when it had none), which [`SITE_STUB`] puts back.
pub const SITE_PYTHONPATH_ENV: &str = "PROBE_AGENT_PYTHONPATH";

/// An in-memory zip archive holding [`SITE_STUB`] as `sitecustomize.py`,
/// for `PYTHONPATH=/proc/self/fd/N` (zipimport reads it through that path;
/// nothing is written to the file system). With `pyc`, the stub compiled
/// by the interpreter (an unchecked hash-based pyc that boot.py made, from
/// the checked cache) as `sitecustomize.pyc` as well, which zipimport
/// prefers: without it zipimport compiles the stub, twice, and the first
/// `compile()` of a process builds the `ast` module's node types (~11 M
/// instructions). A pyc of another interpreter's magic number is passed
/// over for the source.
pub fn site_zip(pyc: Option<&[u8]>) -> io::Result<OwnedFd> {
    let mut members: Vec<(&str, &[u8])> = Vec::new();
    if let Some(pyc) = pyc {
        members.push(("sitecustomize.pyc", pyc));
    }
    members.push(("sitecustomize.py", SITE_STUB.as_bytes()));
    let zip = stored_zip(&members);
    let mut file = memfd("probe-site")?;
    file.write_all(&zip)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(OwnedFd::from(file))
}

/// A zip archive of uncompressed members (PKWARE APPNOTE 4.3: local
/// headers and data, central directory, end record). Tiny and fixed, so
/// written here rather than with a zip crate.
fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    // 1980-01-01 00:00 in DOS date/time.
    let (time, date) = (0u16, (1 << 5) | 1);
    let mut z = Vec::with_capacity(
        members
            .iter()
            .map(|(n, d)| d.len() + 2 * n.len() + 100)
            .sum(),
    );
    let le16 = |z: &mut Vec<u8>, v: u16| z.extend_from_slice(&v.to_le_bytes());
    let le32 = |z: &mut Vec<u8>, v: u32| z.extend_from_slice(&v.to_le_bytes());
    let mut entries = Vec::new();
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let crc = crc.sum();
        let (n, size) = (name.len() as u16, data.len() as u32);
        let at = z.len() as u32;
        le32(&mut z, 0x0403_4b50);
        for v in [20, 0, 0, time, date] {
            le16(&mut z, v);
        }
        for v in [crc, size, size] {
            le32(&mut z, v);
        }
        le16(&mut z, n);
        le16(&mut z, 0);
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(data);
        entries.push((name, crc, size, at));
    }
    let cd = z.len() as u32;
    for (name, crc, size, at) in &entries {
        le32(&mut z, 0x0201_4b50);
        for v in [20, 20, 0, 0, time, date] {
            le16(&mut z, v);
        }
        for v in [*crc, *size, *size] {
            le32(&mut z, v);
        }
        for v in [name.len() as u16, 0, 0, 0, 0] {
            le16(&mut z, v);
        }
        le32(&mut z, 0); // external attributes
        le32(&mut z, *at); // offset of the local header
        z.extend_from_slice(name.as_bytes());
    }
    let cd_size = z.len() as u32 - cd;
    le32(&mut z, 0x0605_4b50);
    let count = entries.len() as u16;
    for v in [0, 0, count, count] {
        le16(&mut z, v);
    }
    le32(&mut z, cd_size);
    le32(&mut z, cd);
    le16(&mut z, 0);
    z
}

/// What names the cached compilations of this agent: a digest of its
/// Python files, computed when `probe` is built (build.rs; the test
/// `agent_key_covers_the_embedded_sources` checks it against them).
pub fn agent_key() -> String {
    env!("PROBE_AGENT_KEY").to_string()
}

/// One setting for the agent (`key`, `value`): lines of the bundle's config.
/// Neither part may hold a newline or a tab.
pub type ConfigEntry = (&'static str, String);

/// A bundle ready to be inherited by the interpreter.
#[derive(Debug)]
pub struct Bundle {
    /// The in-memory file (not close-on-exec: the interpreter inherits it).
    pub fd: OwnedFd,
    /// Length of the boot code at its start (the bootstrap's second argument).
    pub boot_len: usize,
    /// Where the one cached compilation sits in the bundle, when there is
    /// exactly one: (offset, length, interpreter key). The `sitecustomize`
    /// stub then takes the boot code from it instead of compiling boot.py
    /// (~1.5 ms), if the key is its interpreter's.
    pub compiled: Option<(usize, usize, String)>,
    /// The native core's extension in an in-memory file of its own (not
    /// close-on-exec), which the agent loads through `/proc/self/fd` without
    /// copying it; its number is the config's `native_fd`.
    pub native: Option<OwnedFd>,
    /// The stub compiled by this interpreter, for the `site` zip
    /// ([`site_zip`]), when the cache has it.
    pub site_pyc: Option<Vec<u8>>,
}

/// The bundle as it is written: straight into its in-memory file (through
/// a buffer for the small parts), not assembled in memory first (~0.5 MB
/// copied and faulted in at every start).
struct Out {
    w: io::BufWriter<File>,
    len: usize,
}

impl Out {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.write_all(bytes)?;
        self.len += bytes.len();
        Ok(())
    }
}

fn section(out: &mut Out, name: &str, data: &[u8]) -> io::Result<()> {
    let n = u8::try_from(name.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bundle section name too long"))?;
    let size = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bundle section too large"))?;
    out.put(&[n])?;
    out.put(name.as_bytes())?;
    out.put(&size.to_le_bytes())?;
    out.put(data)
}

/// The bundle's in-memory files, made before the interpreter starts so that
/// it inherits them, and written while it starts ([`BundleFiles::fill`]):
/// the recorder's ~2 ms of reading its cache and writing ~1 MB overlap
/// with the interpreter's own start-up on another core.
#[derive(Debug)]
pub struct BundleFiles {
    agent: File,
    /// The native core's file, or why it could not be made.
    native: Result<File, String>,
}

impl BundleFiles {
    /// Makes the files (empty); `native`: whether the run may load the
    /// native core's extension.
    pub fn create(native: bool) -> io::Result<BundleFiles> {
        let native = if native {
            memfd("probe-native").map_err(|e| e.to_string())
        } else {
            Err(String::new())
        };
        Ok(BundleFiles {
            agent: memfd("probe-agent")?,
            native,
        })
    }

    /// The agent file's descriptor (for the interpreter's environment).
    pub fn agent_fd(&self) -> RawFd {
        self.agent.as_raw_fd()
    }

    /// Writes the bundle: boot code, `config` (plus `probes`, one `probe`
    /// line each), the module sources, and every cached compilation `cached`
    /// holds (key → marshal data; the interpreter picks its own key). The
    /// native core's extension module (`native`, when the run may use it)
    /// goes into its own file, named by the config's `native_fd`; when that
    /// file could not be made or written, `native_error` says why (the agent
    /// reports it).
    pub fn fill(
        self,
        config: &[ConfigEntry],
        probes: &[String],
        cached: &[(String, Vec<u8>)],
        resolution: Option<&[u8]>,
        native: Option<&[u8]>,
    ) -> io::Result<Bundle> {
        let mut native_fd = None;
        let mut extra: Vec<ConfigEntry> = Vec::new();
        if let Some(image) = native {
            match self
                .native
                .and_then(|mut f| f.write_all(image).map(|()| f).map_err(|e| e.to_string()))
            {
                Ok(f) => {
                    let fd = OwnedFd::from(f);
                    extra.push(("native_fd", fd.as_raw_fd().to_string()));
                    native_fd = Some(fd);
                }
                Err(e) => extra.push(("native_error", e)),
            }
        }
        let text = config_text(config, &extra, probes)?;
        let mut out = Out {
            w: io::BufWriter::with_capacity(64 * 1024, self.agent),
            len: 0,
        };
        out.put(BOOT_SOURCE.as_bytes())?;
        let boot_len = out.len;
        section(&mut out, "config", text.as_bytes())?;
        let order: Vec<&str> = AGENT_MODULES.iter().map(|(n, _)| *n).collect();
        section(&mut out, "order", order.join("\n").as_bytes())?;
        for (name, src) in AGENT_MODULES {
            section(&mut out, &format!("src:{name}"), src.as_bytes())?;
        }
        // The stub's source, for boot.py to compile into the stub's pyc.
        section(&mut out, "site", SITE_STUB.as_bytes())?;
        let mut compiled = None;
        for (key, data) in cached {
            section(&mut out, &format!("cache:{key}"), data)?;
            compiled = Some((out.len - data.len(), data.len(), key.clone()));
        }
        if cached.len() != 1 {
            compiled = None;
        }
        if let Some(r) = resolution {
            section(&mut out, "resolution", r)?;
        }
        let mut file = out.w.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Bundle {
            fd: OwnedFd::from(file),
            boot_len,
            compiled,
            native: native_fd,
            site_pyc: None,
        })
    }
}

/// The bundle's `config` section: lines `key<TAB>value`, then one `probe`
/// line per spec; an error for a key or value holding a newline or tab.
fn config_text(
    config: &[ConfigEntry],
    extra: &[ConfigEntry],
    probes: &[String],
) -> io::Result<String> {
    let mut text = String::new();
    for (k, v) in config
        .iter()
        .chain(extra.iter())
        .map(|(k, v)| (*k, v.as_str()))
        .chain(probes.iter().map(|p| ("probe", p.as_str())))
    {
        if v.contains(['\n', '\t', '\r']) || k.contains(['\n', '\t']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{k} {v:?} holds a newline or tab"),
            ));
        }
        text.push_str(k);
        text.push('\t');
        text.push_str(v);
        text.push('\n');
    }
    Ok(text)
}

/// Whether `config` and `probes` can go into a bundle (no newline or tab
/// in them): checked before the interpreter starts, since the bundle is
/// written while it does.
pub fn check_config(config: &[ConfigEntry], probes: &[String]) -> io::Result<()> {
    config_text(config, &[], probes).map(|_| ())
}

impl Bundle {
    /// What the stub needs to start the agent once the bundle is written:
    /// `BOOT_LEN [OFFSET LENGTH KEY]` (where the one cached compilation is,
    /// boot.py's code with it, when KEY is the stub's interpreter's).
    pub fn boot_args(&self) -> String {
        let mut boot = self.boot_len.to_string();
        if let Some((at, len, key)) = &self.compiled {
            boot.push_str(&format!(" {at} {len} {key}"));
        }
        boot
    }
}

/// [`BundleFiles::create`] and [`BundleFiles::fill`] at once: the bundle
/// for an interpreter started after it is written (the `-c` bootstrap).
pub fn bundle(
    config: &[ConfigEntry],
    probes: &[String],
    cached: &[(String, Vec<u8>)],
    resolution: Option<&[u8]>,
    native: Option<&[u8]>,
) -> io::Result<Bundle> {
    BundleFiles::create(native.is_some())?.fill(config, probes, cached, resolution, native)
}

/// An anonymous in-memory file, inheritable across exec.
fn memfd(name: &str) -> io::Result<File> {
    let cname = CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; no
    // MFD_CLOEXEC, so the descriptor survives the exec of the interpreter.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn bundle_holds_boot_code_then_named_sections() {
        let b = bundle(
            &[("mode", "record".into())],
            &["a.py:3:x@lhs".to_string()],
            &[("k1".into(), vec![1, 2, 3])],
            None,
            Some(b"\x7fELF-image"),
        )
        .unwrap();
        let mut f = File::from(b.fd);
        let mut all = Vec::new();
        f.read_to_end(&mut all).unwrap();
        assert_eq!(&all[..b.boot_len], BOOT_SOURCE.as_bytes());
        let mut i = b.boot_len;
        let mut names = Vec::new();
        while i < all.len() {
            let n = all[i] as usize;
            let name = String::from_utf8(all[i + 1..i + 1 + n].to_vec()).unwrap();
            i += 1 + n;
            let size = u32::from_le_bytes(all[i..i + 4].try_into().unwrap()) as usize;
            i += 4;
            if name == "config" {
                let native = b
                    .native
                    .as_ref()
                    .expect("the native image's file")
                    .as_raw_fd();
                let want = format!("mode\trecord\nnative_fd\t{native}\nprobe\ta.py:3:x@lhs\n");
                assert_eq!(&all[i..i + size], want.as_bytes());
            }
            if name == "cache:k1" {
                assert_eq!(&all[i..i + size], &[1, 2, 3]);
            }
            names.push(name);
            i += size;
        }
        assert_eq!(i, all.len());
        assert_eq!(names[0], "config");
        assert_eq!(names[1], "order");
        assert!(names.contains(&"src:plan".to_string()));
        assert!(names.contains(&"cache:k1".to_string()));
        assert!(!names.contains(&"native".to_string()));
        // The extension is a file of its own, named in the config (above).
        let native = b.native.expect("the native image's file");
        let mut image = Vec::new();
        let mut native = File::from(native);
        native.seek(SeekFrom::Start(0)).unwrap();
        native.read_to_end(&mut image).unwrap();
        assert_eq!(image, b"\x7fELF-image");
        // One cached compilation: the stub is told where it is.
        let (at, len, key) = b.compiled.expect("one compilation");
        assert_eq!((&all[at..at + len], key.as_str()), (&[1u8, 2, 3][..], "k1"));
    }

    /// The build-time key is the digest of exactly the sources embedded.
    #[test]
    fn agent_key_covers_the_embedded_sources() {
        use sha2::{Digest, Sha256};
        let mut files: Vec<(String, &str)> = AGENT_MODULES
            .iter()
            .map(|(n, s)| (format!("{n}.py"), *s))
            .collect();
        files.push(("boot.py".into(), BOOT_SOURCE));
        files.push(("site_stub.py".into(), SITE_STUB));
        files.sort();
        let mut h = Sha256::new();
        for (name, data) in &files {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((data.len() as u64).to_le_bytes());
            h.update(data.as_bytes());
        }
        let want: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(agent_key(), want);
    }

    /// boot.py's literal version bounds are the constants'.
    #[test]
    fn boot_version_bounds_match_the_constants() {
        let (om, on) = OLDEST_PYTHON;
        let (nm, nn) = NEWEST_TESTED_PYTHON;
        assert!(BOOT_SOURCE.contains(&format!("sys.version_info < ({om}, {on})")));
        assert!(BOOT_SOURCE.contains(&format!("sys.version_info[:2] > ({nm}, {nn})")));
        assert!(BOOT_SOURCE.contains(&format!("Python {om}.{on} to {nm}.{nn}")));
        assert!(BOOT_SOURCE.contains(&format!("({om}.{on} to {nm}.{nn})")));
    }

    #[test]
    fn a_spec_with_a_newline_cannot_smuggle_config_lines() {
        let e = bundle(
            &[],
            &["a.py:1:x\ncore\tsettrace".to_string()],
            &[],
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
