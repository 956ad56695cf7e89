//! Writing outputs: never through a symlink, never half-written, never
//! over something that exists unless asked.
//!
//! Every file a command writes (`replay` frames, GIF and manifest, the
//! `diff --plot` picture, `export` files) goes through [`PendingFile`]: it
//! is created under a fresh, unpredictable name in the target's own
//! directory (`O_EXCL`, so nothing planted there is followed) and renamed
//! into place when complete. Without `--force` the rename refuses to
//! replace anything — a file, a directory, a symlink, even a dangling one —
//! and says so; with `--force` it replaces the directory entry itself: a
//! symlink is replaced, never written through.

use std::ffi::{c_char, CString};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

/// Why an output was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output exists and `--force` was not given.
    #[error("{} already exists; refusing to overwrite it (use --force)", crate::text::escape(&.path.display().to_string()))]
    Exists {
        /// The output.
        path: PathBuf,
    },
    /// Creating, writing or renaming failed.
    #[error("cannot write {}: {error}", crate::text::escape(&.path.display().to_string()))]
    Io {
        /// The output.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
}

impl OutputError {
    fn io(path: &Path, error: std::io::Error) -> OutputError {
        OutputError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// The directory an output path lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Refuse `path` when something is there (a dangling symlink counts) and
/// `force` is not set, and always when it is a directory.
pub fn check_target(path: &Path, force: bool) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => Err(OutputError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory"),
        )),
        Ok(_) if !force => Err(OutputError::Exists {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Temporary outputs being written, for [`remove_pending`]: a signal
/// handler cannot take a lock or free memory, so each is a slot holding a
/// C string (or null) that the handler reads and unlinks with `unlink(2)`
/// alone. More outputs at once than slots (a command writes one or two at a
/// time) are simply not registered: Drop still removes them on every
/// ordinary exit.
static PENDING: [AtomicPtr<c_char>; 16] = [const { AtomicPtr::new(std::ptr::null_mut()) }; 16];

/// A registered temporary path; unregistered when dropped.
struct Registered(Option<usize>);

impl Registered {
    fn new(path: &Path) -> Registered {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return Registered(None);
        };
        let ptr = c.into_raw();
        for (i, slot) in PENDING.iter().enumerate() {
            if slot
                .compare_exchange(
                    std::ptr::null_mut(),
                    ptr,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            {
                return Registered(Some(i));
            }
        }
        // SAFETY: `ptr` came from `into_raw` above and was stored nowhere.
        drop(unsafe { CString::from_raw(ptr) });
        Registered(None)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            // The string is leaked, not freed: a signal handler running on
            // another thread may be reading it right now. A few dozen bytes
            // per output written.
            PENDING[i].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

/// Unlink every temporary output still being written. Async-signal-safe
/// (atomic loads and `unlink(2)` only): the signal handlers and the
/// out-of-memory exits call it before the process ends without running
/// destructors, so no hidden `.NAME.XXXX.partial` file (up to gigabytes)
/// is left in the target directory.
pub fn remove_pending() {
    for slot in &PENDING {
        let p = slot.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: a non-null slot holds a NUL-terminated string that is
            // never freed (see `Registered::drop`).
            unsafe { libc::unlink(p) };
        }
    }
}

/// Remove the temporary outputs when SIGINT, SIGTERM or SIGHUP ends a
/// command, then end as that signal would have (exit status 128+N seen by
/// the shell). For the reading commands; `record` handles these signals
/// itself (it passes them on to the program).
pub fn remove_pending_on_signals() {
    extern "C" fn on_signal(sig: libc::c_int) {
        remove_pending();
        // SAFETY: signal(2) and raise(3) are async-signal-safe: restore the
        // default action and deliver the same signal again, so the process
        // ends by it as it would have without this handler.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler calls only async-signal-safe functions; the
        // cast is how libc takes a handler function.
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

/// An output being written under a temporary name beside its target;
/// removed if dropped before [`PendingFile::commit`], and by
/// [`remove_pending`] if the process is ended by a signal or runs out of
/// memory meanwhile.
pub struct PendingFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    force: bool,
    _registered: Registered,
}

impl PendingFile {
    /// Start writing `path` (checked with [`check_target`] first).
    pub fn create(path: &Path, force: bool) -> Result<PendingFile, OutputError> {
        check_target(path, force)?;
        let name = path
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            // As any new file: 0666 less the umask (tempfile's own default
            // is 0600, which would make outputs private).
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(parent_dir(path))
            .map_err(|e| OutputError::io(path, e))?;
        let registered = Registered::new(tmp.path());
        Ok(PendingFile {
            tmp,
            path: path.to_path_buf(),
            force,
            _registered: registered,
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Where the file will be.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file's own path (for writers that take a path).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Rename the file into place: without `force` only if nothing is
    /// there (atomically: `renameat2(RENAME_NOREPLACE)` or a hard link),
    /// with `force` replacing whatever entry is there.
    pub fn commit(self) -> Result<(), OutputError> {
        let path = self.path;
        let r = if self.force {
            self.tmp.persist(&path).map(|_| ())
        } else {
            self.tmp.persist_noclobber(&path).map(|_| ())
        };
        r.map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                OutputError::Exists { path: path.clone() }
            } else {
                OutputError::io(&path, e.error)
            }
        })
    }
}

/// Write `bytes` to `path` through a [`PendingFile`].
pub fn write_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), OutputError> {
    let mut f = PendingFile::create(path, force)?;
    f.file()
        .write_all(bytes)
        .map_err(|e| OutputError::io(path, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_never_follow_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"precious").expect("write");
        let link = dir.path().join("out.png");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        // Refused without force, the target untouched.
        let e = write_file(&link, b"new", false).expect_err("exists");
        assert!(matches!(e, OutputError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious");
        // With force, the link itself is replaced.
        write_file(&link, b"new", true).expect("forced");
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious");
        assert!(!std::fs::symlink_metadata(&link)
            .expect("md")
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&link).expect("read"), b"new");
        // A dangling link counts as existing.
        let dangling = dir.path().join("d.svg");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).expect("symlink");
        assert!(write_file(&dangling, b"x", false).is_err());
        assert!(!dir.path().join("nowhere").exists());
        // Nothing temporary is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(left.is_empty());
    }
}
