//! Signals to the recorder while it records.
//!
//! The recorder must never die of a stop signal while the program runs:
//! that would leave the program orphaned and the log unsealed (issue 16
//! item 9). SIGTERM, SIGINT, SIGHUP and SIGQUIT are caught and passed on to
//! the program (those ignored when the recorder starts stay ignored, and
//! the program inherits that, as without probe) — unless they were sent to the whole process group (by the
//! terminal's Ctrl-C, `kill -- -PGID`, `timeout`, a CI runner): then the
//! program, which is in the recorder's group, has its own copy, and a
//! second one would raise a second KeyboardInterrupt in its clean-up. A
//! signal's `siginfo` does not say whether it was sent to a group, so a
//! [`GroupWitness`] — a tiny process in the group that blocks these
//! signals and never takes them — keeps a group-wide signal pending, where
//! the recorder can see it. SIGCHLD (the program ended) and SIGWINCH (the
//! terminal was resized) only wake the recorder's loop. The handlers touch
//! only atomics and write one byte to a self-pipe the loop polls, so no
//! wake-up is lost between a check and a `poll`.

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
            // A stop signal `probe record` was started with ignored (`nohup`
            // ignores SIGHUP; a shell's background job, SIGINT and SIGQUIT)
            // stays ignored: the program inherits that across exec, as it
            // would without probe, and a handler here would both undo
            // `nohup` for the recorder and reset it for the program.
            if STOP_SIGNALS.contains(&sig) && ignored(sig) {
                continue;
            }
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

/// Whether `sig`'s disposition is "ignore".
fn ignored(sig: libc::c_int) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `cur`, a zeroed struct we own.
    unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut cur) == 0 && cur.sa_sigaction == libc::SIG_IGN
    }
}

fn stop_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset fill a zeroed sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in STOP_SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// A process in the recorder's process group that blocks the stop signals
/// and never takes them unasked: one sent to the whole group stays pending
/// in it (`/proc/PID/status`, `ShdPnd`), one sent to the recorder alone
/// does not reach it. It shows as `probe-witness`, a second child of the
/// recorder beside the program, and dies with the recorder
/// (`PR_SET_PDEATHSIG`, end of file on its control pipe, reaped on drop).
pub struct GroupWitness {
    pid: libc::pid_t,
    ctl: OwnedFd,
    ack: OwnedFd,
}

impl GroupWitness {
    /// Starts the witness; `None` if it cannot be started (then only the
    /// terminal's signals are known to be group-wide).
    pub fn spawn() -> Option<GroupWitness> {
        let mut ctl = [0 as RawFd; 2];
        let mut ack = [0 as RawFd; 2];
        // SAFETY: valid 2-element arrays for pipe2 to fill.
        unsafe {
            if libc::pipe2(ctl.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return None;
            }
            if libc::pipe2(ack.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                libc::close(ctl[0]);
                libc::close(ctl[1]);
                return None;
            }
        }
        let set = stop_set();
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the stop signals are blocked across the fork so that the
        // witness starts with them blocked (a signal arriving meanwhile stays
        // pending for the recorder and is delivered when the mask is
        // restored). In the child only async-signal-safe calls are made
        // (sigaction, prctl, getppid, dup2, close_range, close, read,
        // sigtimedwait, write, _exit), so forking a process that may have threads is sound.
        unsafe {
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            let pid = libc::fork();
            if pid == 0 {
                // The recorder's handlers would write to its self-pipe.
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGCHLD, &dfl, std::ptr::null_mut());
                libc::sigaction(libc::SIGWINCH, &dfl, std::ptr::null_mut());
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // `ps` and `pgrep` show what it is.
                libc::prctl(libc::PR_SET_NAME, c"probe-witness".as_ptr());
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
                // It keeps its two pipes, as descriptors 0 and 1, and
                // nothing else of the recorder's: not the agent's pipe
                // (whose writer must see the recorder go when it goes),
                // the log or the ring. (Without close_range, Linux < 5.9,
                // it keeps them until it dies with the recorder.)
                let moved = libc::dup2(ctl[0], 0) == 0 && libc::dup2(ack[1], 1) == 1;
                let (ctl_r, ack_w) =
                    if moved && libc::syscall(libc::SYS_close_range, 2u32, u32::MAX, 0u32) == 0 {
                        (0, 1)
                    } else {
                        // Our own pipes' other ends at least (as before).
                        libc::close(ctl[1]);
                        libc::close(ack[0]);
                        (ctl[0], ack[1])
                    };
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let mut b = 0u8;
                loop {
                    if libc::read(ctl_r, (&mut b as *mut u8).cast(), 1) <= 0 {
                        libc::_exit(0);
                    }
                    // Asked to forget what is pending.
                    while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) > 0 {}
                    libc::write(ack_w, (&b as *const u8).cast(), 1);
                }
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            libc::close(ctl[0]);
            libc::close(ack[1]);
            if pid < 0 {
                libc::close(ctl[1]);
                libc::close(ack[0]);
                return None;
            }
            Some(GroupWitness {
                pid,
                ctl: OwnedFd::from_raw_fd(ctl[1]),
                ack: OwnedFd::from_raw_fd(ack[0]),
            })
        }
    }

    /// Whether `sig` was sent to the whole process group since the last
    /// [`GroupWitness::forget`].
    pub fn saw(&self, sig: libc::c_int) -> bool {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return false;
        };
        let pending = status
            .lines()
            .find_map(|l| l.strip_prefix("ShdPnd:"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .unwrap_or(0);
        sig >= 1 && pending & (1u64 << (sig - 1)) != 0
    }

    /// Makes the witness take what is pending, so that the next group-wide
    /// signal of the same kind shows again (waits at most 200 ms).
    pub fn forget(&self) {
        let b = 1u8;
        // SAFETY: one valid byte to a pipe we own.
        if unsafe { libc::write(self.ctl.as_raw_fd(), (&b as *const u8).cast(), 1) } != 1 {
            return;
        }
        let mut p = libc::pollfd {
            fd: self.ack.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; then one byte into a valid buffer.
        unsafe {
            if libc::poll(&mut p, 1, 200) == 1 {
                let mut r = 0u8;
                libc::read(self.ack.as_raw_fd(), (&mut r as *mut u8).cast(), 1);
            }
        }
    }
}

impl Drop for GroupWitness {
    fn drop(&mut self) {
        // SAFETY: the pid is our own child, not yet reaped; reaping it here
        // leaves no zombie.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
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
