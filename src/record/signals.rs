//! Signals to the recorder while it records.
//!
//! The recorder must never die of a stop signal while the program runs:
//! that would leave the program orphaned and the log unsealed (issue 16
//! item 9). SIGTERM, SIGINT, SIGHUP and SIGQUIT are caught, noted with
//! whether the kernel's terminal driver sent them (a terminal signals the
//! whole foreground process group, so the program has its own copy) or a
//! process did (then the program may not have it, and the recorder passes
//! it on). SIGCHLD (the program ended) and SIGWINCH (the terminal was
//! resized) only wake the recorder's loop. The handlers touch only atomics
//! and write one byte to a self-pipe the loop polls, so no wake-up is lost
//! between a check and a `poll`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// The stop signals the recorder catches and passes on.
pub const STOP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// How many of each stop signal arrived from a process (`kill`, `timeout`,
/// a CI runner), indexed like [`STOP_SIGNALS`].
static FROM_PROCESS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
/// How many arrived from the terminal (Ctrl-C, Ctrl-\, a hangup).
static FROM_TERMINAL: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
static WINCH: AtomicBool = AtomicBool::new(false);
/// Write end of the self-pipe (-1 when no loop listens).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// `si_code` of a signal the kernel sent on its own (the terminal driver
/// uses it for the signals of Ctrl-C, Ctrl-\ and a hangup).
const SI_KERNEL: libc::c_int = 0x80;

fn slot(sig: libc::c_int) -> Option<usize> {
    STOP_SIGNALS.iter().position(|&s| s == sig)
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler;
    // reading its si_code field is async-signal-safe.
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    if let Some(i) = slot(sig) {
        if code == SI_KERNEL {
            FROM_TERMINAL[i].fetch_add(1, Ordering::SeqCst);
        } else {
            FROM_PROCESS[i].fetch_add(1, Ordering::SeqCst);
        }
    } else if sig == libc::SIGWINCH {
        WINCH.store(true, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one valid
        // byte. A full self-pipe (EAGAIN) already holds a wake-up.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// One stop signal, as the loop sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSignal {
    /// The signal number.
    pub signal: libc::c_int,
    /// Sent by the terminal to the whole foreground group: the program got
    /// it too, so it is not passed on.
    pub from_terminal: bool,
}

/// The installed handlers and the self-pipe; dropping it restores the
/// previous dispositions.
pub struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl Signals {
    /// Installs the handlers. No `SA_RESTART`: a blocking call returns
    /// `EINTR` at once.
    pub fn install() -> io::Result<Signals> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: fds is a valid 2-element array for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded: both descriptors are open and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        for c in FROM_PROCESS.iter().chain(&FROM_TERMINAL) {
            c.store(0, Ordering::SeqCst);
        }
        WINCH.store(false, Ordering::SeqCst);
        let mut old = Vec::new();
        let all = STOP_SIGNALS
            .iter()
            .copied()
            .chain([libc::SIGCHLD, libc::SIGWINCH]);
        for sig in all {
            // SAFETY: sa is fully initialised (zeroed, then the handler,
            // mask and flags set); the handler only touches atomics and
            // write(2), which are async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_SIGINFO;
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        Ok(Signals {
            read,
            _write: write,
            old,
        })
    }

    /// The descriptor to poll for wake-ups.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Empties the self-pipe (after `poll` said it is readable).
    pub fn clear_wakeups(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a valid buffer from a non-blocking descriptor we own.
        while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {
        }
    }

    /// The stop signals that arrived since the last call.
    pub fn take_stops(&self) -> Vec<StopSignal> {
        let mut out = Vec::new();
        for (i, &signal) in STOP_SIGNALS.iter().enumerate() {
            for _ in 0..FROM_PROCESS[i].swap(0, Ordering::SeqCst) {
                out.push(StopSignal {
                    signal,
                    from_terminal: false,
                });
            }
            for _ in 0..FROM_TERMINAL[i].swap(0, Ordering::SeqCst) {
                out.push(StopSignal {
                    signal,
                    from_terminal: true,
                });
            }
        }
        out
    }

    /// Whether the terminal was resized since the last call.
    pub fn take_resize(&self) -> bool {
        WINCH.swap(false, Ordering::SeqCst)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (sig, prev) in self.old.drain(..) {
            // SAFETY: restores a disposition sigaction returned earlier.
            unsafe { libc::sigaction(sig, &prev, std::ptr::null_mut()) };
        }
        WAKE_FD.store(-1, Ordering::SeqCst);
    }
}

/// The signal's name (`SIGTERM`), for messages.
pub fn name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        n => format!("signal {n}"),
    }
}
