//! `probe record`: runs the program under the agent and writes the log.
//!
//! The CaptureManager lives in the agent (in-process); this side is the
//! recorder: it owns the pipe's read end, numbers the records in arrival
//! order (which is the agent's reservation order), and hands them to the
//! [`LogWriter`] in sequence order. Placeholders and completions pass
//! through untouched, so the log's physical order is sequence order.
//!
//! The recorder's loop waits on the pipe and on its own signals. It ends
//! when the program has ended (its wait status is known) and the pipe is
//! drained — not at the pipe's end of stream, since an agent whose
//! descriptor the program closed opens the pipe again. Stop signals sent
//! to the recorder are passed on to the program ([`signals`]); the recorder
//! itself never dies of them while the program runs, so the log is always
//! sealed and the program never orphaned.

pub mod command;
pub mod signals;
pub mod spec;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::capture::cache::{self, AgentCache};
use crate::capture::{self as agent, agent_key, Bundle, BundleFiles, VersionPolicy, BOOTSTRAP};
use crate::log::meta::{EndInfo, ExitInfo, ProbeInfo, RunMeta};
use crate::log::writer::PreparedLog;
use crate::log::{LogError, LogWriter};
use crate::model::{CaptureRecord, Status, Value};
use crate::wire::{
    self, ring::SharedRing, AgentEnd, Capture, ChunkDecoder, Fill, Hello, MessageReader,
    TextMessage, WireError,
};
use command::{CommandError, PythonCommand};
use signals::{GroupWitness, Signals, StopSignal};

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Probe specs (`FILE:LINE:NAME[@lhs|@rhs]`).
    pub probes: Vec<String>,
    /// Output log path.
    pub output: PathBuf,
    /// Overwrite an existing log.
    pub force: bool,
    /// `auto`, `monitoring` or `settrace`.
    pub core: String,
    /// Largest str/bytes/repr kept per value.
    pub max_value_bytes: u64,
    /// Largest array data kept per value.
    pub max_array_bytes: u64,
    /// Timestamps are rounded down to multiples of this (nanoseconds, ≥ 1).
    pub ts_resolution_ns: u64,
    /// The words after `--`.
    pub command: Vec<std::ffi::OsString>,
    /// Interpreter for `-- script.py` (from `$PROBE_PYTHON`, else `python3`).
    pub default_python: String,
    /// After passing a stop signal on, how long the program has to end
    /// before the recorder says so and a second signal kills it.
    pub grace: Duration,
    /// Print each code object's capture plan on the program's stderr.
    pub debug_plan: bool,
    /// Record with a Python newer than the tested range (3.11 to 3.15),
    /// with a warning, instead of refusing it.
    pub allow_untested_python: bool,
}

/// What a finished recording reports.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    /// Exit status to return (the program's; 128+N for signal N).
    pub exit_code: i32,
    /// The end marker written.
    pub end: EndInfo,
    /// The probe table.
    pub probes: Vec<ProbeInfo>,
    /// Python version and core.
    pub python_version: String,
    /// Tracer core used.
    pub core: String,
    /// Why the core was chosen, when it was a fallback.
    pub core_note: Option<String>,
    /// Whether that fallback is a warning (see `Hello::core_warning`).
    pub core_warning: bool,
    /// Bytes in the log file.
    pub file_bytes: u64,
    /// Uncompressed bytes of the record blocks.
    pub raw_bytes: u64,
    /// Warnings from the agent and the recorder.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
    /// The log does not hold the whole run (a full disk, a damaged
    /// stream) — reported here rather than as an error because a signal
    /// killed the program, whose status `exit_code` keeps.
    pub incomplete: Option<String>,
    /// Back-pressure: times the program waited for the recorder (a full
    /// pipe), and for how long in all.
    pub waits: u64,
    /// See `waits`.
    pub waited: Duration,
}

/// Why recording failed.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The command after `--` cannot be run.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// No probe given.
    #[error("no probes: give at least one with -p FILE:LINE:NAME (or --probes FILE)")]
    NoProbes,
    /// The output exists and `--force` was not given.
    #[error("{0} already exists; use --force to overwrite it")]
    OutputExists(PathBuf),
    /// The interpreter could not be started.
    #[error("cannot run Python interpreter `{python}`: {cause}{hint}")]
    Spawn {
        python: String,
        cause: io::Error,
        hint: &'static str,
    },
    /// The agent refused before the program ran (bad spec, unsupported Python…).
    #[error("{0}")]
    Refused(String),
    /// The interpreter exited before the agent said hello.
    #[error(
        "`{python}` exited ({status}) before probe's agent started; is it Python 3.11 or newer?"
    )]
    AgentDidNotStart { python: String, status: String },
    /// Garbage on the pipe.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The log could not be written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The log could not hold the whole run; what it holds is sealed and readable.
    #[error("the log is incomplete: {cause}; {written} records were written and {lost} lost (the end marker says so)")]
    Incomplete {
        cause: LogError,
        lost: u64,
        written: u64,
    },
    /// The log does not hold the whole run because the agent's stream was
    /// damaged; what it holds is sealed and readable.
    #[error("{cause}; the log is sealed with the {written} records received before it")]
    Damaged { cause: WireError, written: u64 },
    /// Other I/O (pipe, poll).
    #[error("{what}: {cause}")]
    Io { what: String, cause: io::Error },
}

fn make_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid 2-element array for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by us alone.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A 1 MiB pipe (the unprivileged maximum) instead of 64 KiB lets the
    // program go on while the recorder compresses a frame: with arrays,
    // one chunk of captures is megabytes. Best effort: a smaller pipe works.
    // SAFETY: fcntl on a descriptor we own; F_SETPIPE_SZ takes an int size.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    // The read end never blocks: the loop polls, and after the end of the
    // stream a read must not wait for an agent that opens the pipe again.
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0
        || unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok((r, w))
}

/// `PYTHONPATH` naming the sitecustomize zip first (the program's own
/// value kept for the stub to put back).
fn site_env<'c>(cmd: &'c mut Command, zip: &OwnedFd) -> &'c mut Command {
    let mut path = std::ffi::OsString::from(format!("/proc/self/fd/{}", zip.as_raw_fd()));
    if let Some(own) = std::env::var_os("PYTHONPATH") {
        cmd.env(agent::SITE_PYTHONPATH_ENV, &own);
        if !own.is_empty() {
            path.push(":");
            path.push(&own);
        }
    } else {
        cmd.env_remove(agent::SITE_PYTHONPATH_ENV);
    }
    cmd.env("PYTHONPATH", path)
}

/// Whether an interpreter that is a wrapper script (a pyenv shim, a
/// launcher) passes our environment on to a python that imports `site`:
/// it is run once with the sitecustomize in `check` mode, which only says
/// so (10 s at most). Otherwise the program would run untraced, so the
/// `-c` bootstrap is used instead.
fn wrapper_passes_site(pc: &PythonCommand, zip: &OwnedFd) -> bool {
    let mut cmd = Command::new(&pc.python);
    site_env(&mut cmd, zip)
        .env(agent::SITE_BOOT_ENV, agent::SITE_CHECK)
        .args(&pc.interpreter_args)
        .args(["-c", "pass"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
    let mut out = Vec::new();
    if let Some(mut so) = child.stdout.take() {
        let _ = std::io::Read::read_to_end(&mut so, &mut out);
    }
    out.starts_with(agent::SITE_CHECK_ANSWER.as_bytes())
}

/// How the interpreter starts the agent.
enum Boot<'b> {
    /// `site` mode: the user's command as given, the agent started by our
    /// sitecustomize (in `zip`) from the bundle in `agent_fd` once the
    /// recorder says where its parts are on `go_fd`.
    Site {
        zip: OwnedFd,
        agent_fd: RawFd,
        go_fd: RawFd,
    },
    /// The `-c` bootstrap, from a bundle already written.
    C(&'b Bundle),
}

/// A pipe whose read end the interpreter inherits (made so by [`spawn`]).
fn make_go_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid 2-element array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by us alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn spawn(pc: &PythonCommand, wfd: RawFd, boot: Boot<'_>) -> Result<Child, RecordError> {
    let mut cmd = Command::new(&pc.python);
    // Kept open until the spawn.
    let mut inherit = vec![wfd];
    let _zip = match boot {
        Boot::Site {
            zip,
            agent_fd,
            go_fd,
        } => {
            site_env(&mut cmd, &zip).env(agent::SITE_BOOT_ENV, format!("{agent_fd} {go_fd} {wfd}"));
            cmd.args(&pc.interpreter_args);
            if pc.script_needs_dashes() {
                cmd.arg("--");
            }
            cmd.args(&pc.target);
            inherit.push(go_fd);
            Some(zip)
        }
        Boot::C(bundle) => {
            cmd.env_remove(agent::SITE_BOOT_ENV)
                .args(&pc.interpreter_args)
                .arg("-c")
                .arg(BOOTSTRAP)
                .arg(bundle.fd.as_raw_fd().to_string())
                .arg(bundle.boot_len.to_string())
                .arg(wfd.to_string())
                .args(&pc.target);
            None
        }
    };
    // The pipe's write end is made inheritable here, in the recorder,
    // rather than in a pre_exec closure in the child: without one, std
    // spawns with posix_spawn (vfork) instead of fork, which copied the
    // recorder's page tables and faulted its pages in before the exec.
    // Nothing else is spawned meanwhile (the caller closes the descriptor
    // right after), and the agent marks it non-inheritable again at once,
    // so the program's own children do not get it.
    for fd in inherit {
        // SAFETY: fcntl on a descriptor the caller owns.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            return Err(RecordError::Io {
                what: "passing the agent pipe on".into(),
                cause: io::Error::last_os_error(),
            });
        }
    }
    cmd.spawn().map_err(|cause| RecordError::Spawn {
        python: pc.python.clone(),
        hint: if cause.kind() == io::ErrorKind::NotFound {
            " (not found; name an interpreter after `--` or set $PROBE_PYTHON)"
        } else {
            ""
        },
        cause,
    })
}

/// What the caller sees while the program runs.
pub trait Observer {
    /// Records so far and log bytes so far (about every 100 ms).
    fn progress(&mut self, records: u64, log_bytes: u64);
    /// The terminal was resized.
    fn resized(&mut self) {}
}

impl<F: FnMut(u64, u64)> Observer for F {
    fn progress(&mut self, records: u64, log_bytes: u64) {
        self(records, log_bytes)
    }
}

/// What [`record`] reports progress to.
pub type Progress<'a> = &'a mut dyn Observer;

/// An observer of a recording as it happens: `record --view` feeds the live
/// viewer ([`crate::view::live`]) with it. Called on the recorder's thread
/// with every capture as it is written, in seq order; `flush` after each
/// batch of captures from the agent (every 25 ms while the program runs).
pub trait RecordTap: Send {
    /// The log was created with this metadata (the agent said hello).
    fn started(&mut self, meta: &RunMeta);
    /// A record, as appended to the log (a placeholder has status `Pending`).
    fn record(&mut self, rec: &CaptureRecord);
    /// A placeholder written earlier completed.
    fn completed(&mut self, seq: u64, status: Status, value: &Value);
    /// A batch of captures ended.
    fn flush(&mut self);
}

/// [`record_with_tap`] without a tap.
pub fn record(opts: &RecordOptions, observer: Progress<'_>) -> Result<RecordOutcome, RecordError> {
    record_with_tap(opts, observer, None)
}

/// Runs the program and records it to its end (SPEC §4), telling `tap`
/// about every capture.
pub fn record_with_tap(
    opts: &RecordOptions,
    observer: Progress<'_>,
    tap: Option<&mut dyn RecordTap>,
) -> Result<RecordOutcome, RecordError> {
    if opts.probes.is_empty() {
        return Err(RecordError::NoProbes);
    }
    // A spec's syntax is known before anything else: its error must not
    // hide behind the output's ("already exists"), which comes next.
    for s in &opts.probes {
        spec::check_syntax(s).map_err(RecordError::Refused)?;
    }
    let pc = command::resolve(&opts.command, &opts.default_python)?;
    // The output is checked, created and given its first disk space before
    // anything runs: a bad path must not cost the user the run.
    let prepared =
        PreparedLog::create(&opts.output, opts.force, opts.probes.len()).map_err(|e| match e {
            LogError::OutputExists { path } => spec_error_first(&pc, &opts.probes)
                .map_or(RecordError::OutputExists(path), RecordError::Refused),
            e => RecordError::Log(e),
        })?;
    let config = vec![
        ("mode", "record".to_string()),
        ("core", opts.core.clone()),
        ("max_value_bytes", opts.max_value_bytes.to_string()),
        ("max_array_bytes", opts.max_array_bytes.to_string()),
        (
            "debug_plan",
            if opts.debug_plan { "1" } else { "0" }.to_string(),
        ),
        (
            "policy",
            if opts.allow_untested_python {
                VersionPolicy::Allow
            } else {
                VersionPolicy::Strict
            }
            .word()
            .to_string(),
        ),
    ];
    let cache = cache::default_dir().and_then(|d| AgentCache::open(&d, &agent_key()));
    let interp = pc.identity();
    let resolution_key = interp.as_deref().and_then(|i| {
        let cwd = std::env::current_dir().ok()?;
        Some(cache::resolution_key(i, &cwd, &opts.probes))
    });
    // This interpreter's compilation of the agent, when the cache's index
    // names one, is read while the interpreter starts (below); without an
    // index every compilation is read now, as the stub's pyc depends on it.
    let indexed = cache
        .as_ref()
        .and_then(|c| c.indexed_key(interp.as_deref()));
    let early = match (&cache, &indexed) {
        (Some(c), None) => Some(c.load_for(interp.as_deref())),
        _ => None,
    };
    // The stub compiled by this interpreter (one compilation for it: the
    // indexed one), else ask the agent to make it.
    let site_pyc = match (&cache, indexed.as_deref(), early.as_deref()) {
        (Some(c), Some(pykey), _) => c.load_site_pyc(pykey),
        (Some(c), None, Some([(pykey, _)])) => c.load_site_pyc(pykey),
        _ => None,
    };
    let mut config = config;
    if cache.is_some() && site_pyc.is_none() {
        config.push(("site_pyc", "want".to_string()));
    }
    // The extension: the native core (`--core auto` or `native`), the
    // settrace core's frame gate on 3.11 (`settrace`), the monitoring
    // core's guard (`monitoring`, docs/PYTHON-VERSIONS.md).
    let native = Some(agent::native::IMAGE);
    // The native core's shared ring, so that a SIGKILL loses no capture it
    // wrote. Best effort: without one, only that guarantee is gone.
    let mut ring = matches!(opts.core.as_str(), "auto" | "native")
        .then(SharedRing::create)
        .and_then(Result::ok);
    if let Some(fd) = ring.as_ref().and_then(SharedRing::fd) {
        config.push(("ring_fd", fd.to_string()));
    }
    let preparing = |cause| RecordError::Io {
        what: "preparing the agent for the interpreter".into(),
        cause,
    };
    // Checked before anything starts: the bundle is written while the
    // interpreter starts, too late for this error.
    agent::check_config(&config, &opts.probes).map_err(preparing)?;
    let files = BundleFiles::create(native.is_some()).map_err(preparing)?;
    // What is read from the cache and written into the bundle once the
    // interpreter runs (or before, for the `-c` bootstrap).
    let fill = |files: BundleFiles| {
        let cached = match &early {
            Some(c) => Cow::Borrowed(c.as_slice()),
            None => Cow::Owned(
                cache
                    .as_ref()
                    .map(|c| c.load_for(interp.as_deref()))
                    .unwrap_or_default(),
            ),
        };
        // The agent's resolution of these specs from an earlier run, when
        // its source files are unchanged (cache.rs; the agent checks it
        // again).
        let resolution = cache
            .as_ref()
            .zip(resolution_key.as_deref())
            .and_then(|(c, k)| c.load_resolution(k));
        files.fill(
            &config,
            &opts.probes,
            &cached,
            resolution.as_deref(),
            native,
        )
    };
    let start = Instant::now();
    let start_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let signals = Signals::install().map_err(|cause| RecordError::Io {
        what: "installing signal handlers".into(),
        cause,
    })?;
    let (rfd, wfd) = make_pipe().map_err(|cause| RecordError::Io {
        what: "creating the agent pipe".into(),
        cause,
    })?;
    let zip = agent::site_zip(site_pyc.as_deref()).map_err(|cause| RecordError::Io {
        what: "preparing the agent's sitecustomize".into(),
        cause,
    })?;
    let site = match pc.boots_through_site() {
        Some(yes) => yes,
        None => wrapper_passes_site(&pc, &zip),
    };
    let (child, witness) = if site {
        // `site` mode: the interpreter starts now and its stub waits on the
        // `go` pipe while the bundle is written.
        let (go_r, go_w) = make_go_pipe().map_err(preparing)?;
        let boot = Boot::Site {
            zip,
            agent_fd: files.agent_fd(),
            go_fd: go_r.as_raw_fd(),
        };
        let mut child = spawn(&pc, wfd.as_raw_fd(), boot)?;
        drop(go_r);
        // Forked now, so that a group-wide signal from here on is seen as
        // one; the fork overlaps the interpreter's start-up. (It keeps
        // none of our descriptors: signals.rs.)
        let witness = GroupWitness::spawn();
        let mut go = File::from(go_w);
        match fill(files) {
            // A stub that died meanwhile (EPIPE) is the run's own end.
            Ok(bundle) => {
                let _ = go.write_all(format!("{}\n", bundle.boot_args()).as_bytes());
            }
            Err(cause) => {
                // The stub is still waiting: told to abort, it ends before
                // the program runs — also a python that a wrapper script
                // started, which killing the wrapper would not reach.
                let _ = go.write_all(b"abort\n");
                drop(go);
                let _ = child.kill();
                let _ = child.wait();
                return Err(preparing(cause));
            }
        }
        (child, witness)
    } else {
        // The `-c` bootstrap: the zip is not the interpreter's to inherit.
        drop(zip);
        let bundle = fill(files).map_err(preparing)?;
        let child = spawn(&pc, wfd.as_raw_fd(), Boot::C(&bundle))?;
        (child, GroupWitness::spawn())
    };
    drop(wfd);
    if let Some(r) = ring.as_mut() {
        r.close_fd();
    }
    let pipe = File::from(rfd);
    let mut run = Run {
        opts,
        pc: &pc,
        start_unix_ns,
        prepared: Some(prepared),
        session: None,
        agent_end: None,
        warnings: Vec::new(),
        refused: None,
        failure: None,
        stop: StopState::default(),
        child_pid: child.id() as libc::pid_t,
        cache,
        resolution_key,
        tap,
        witness,
        ring,
        salvaged: false,
    };
    let status = run.drive(child, pipe, &signals, observer)?;
    // The handlers stay until the log is sealed: a late signal (a second
    // one from `timeout`, say) must not kill the recorder mid-seal.
    let outcome = run.finish(status, start);
    drop(signals);
    outcome
}

/// When the output already exists, a spec the resolver would refuse is the
/// error to report: a user who reruns a command with a typo in a spec must
/// hear about the spec, not about the log of the previous run. The specs
/// are resolved in the program's interpreter, which runs only the resolver
/// (paid only on this error path, never on a run that goes ahead).
fn spec_error_first(pc: &PythonCommand, specs: &[String]) -> Option<String> {
    let first = match pc.target.first().map(|w| w.as_os_str()) {
        Some(w) if w == "-m" => std::env::current_dir().ok()?,
        None => std::env::current_dir().ok()?,
        Some(script) => std::path::absolute(script)
            .ok()?
            .parent()
            .map(Path::to_path_buf)?,
    };
    crate::capture::listing::check_specs(&pc.python, specs, &first)
}

impl RecordError {
    /// Whether the error came before the program was started (nothing ran).
    pub fn before_run(&self) -> bool {
        matches!(
            self,
            RecordError::Command(_)
                | RecordError::NoProbes
                | RecordError::OutputExists(_)
                | RecordError::Spawn { .. }
                | RecordError::Log(LogError::BadOutput { .. })
        )
    }
}

/// Signals passed on to the program, and what came of them.
#[derive(Default)]
struct StopState {
    /// The first stop signal the recorder received (for the end marker).
    received: Option<libc::c_int>,
    /// The first stop signal passed on, and when: the grace period runs
    /// from then. (A signal sent to the whole group reached the program
    /// directly: the recorder is a bystander, and the program may well
    /// handle it and go on, as interactive programs do with Ctrl-C.)
    first: Option<(libc::c_int, Instant)>,
    /// Signals passed on so far (each once).
    forwarded: Vec<libc::c_int>,
    /// The grace period ran out and the recorder said so.
    warned: bool,
    /// The recorder killed the program.
    killed: bool,
}

struct Run<'a, 't> {
    opts: &'a RecordOptions,
    /// Where the agent's compiled code is kept between runs.
    cache: Option<AgentCache>,
    /// Where the agent's resolution of the specs goes ([`wire::MSG_RESOLVED`]).
    resolution_key: Option<String>,
    /// Told about every capture (`record --view`).
    tap: Option<&'t mut (dyn RecordTap + 't)>,
    /// Tells a signal sent to the whole process group from one sent to the
    /// recorder alone.
    witness: Option<GroupWitness>,
    pc: &'a PythonCommand,
    start_unix_ns: u64,
    prepared: Option<PreparedLog>,
    session: Option<Session>,
    agent_end: Option<AgentEnd>,
    warnings: Vec<String>,
    refused: Option<String>,
    /// The stream is damaged: decoding stopped, the pipe is still drained.
    failure: Option<RecordError>,
    stop: StopState,
    child_pid: libc::pid_t,
    /// The native core's shared ring, read if the program dies without
    /// sending what it wrote there.
    ring: Option<SharedRing>,
    /// The ring was read (once is all).
    salvaged: bool,
}

impl Run<'_, '_> {
    /// Drains the pipe into the log until the program has ended; returns
    /// its wait status.
    fn drive(
        &mut self,
        mut child: Child,
        pipe: File,
        signals: &Signals,
        observer: &mut dyn Observer,
    ) -> Result<ExitStatus, RecordError> {
        let poll_fd = pipe.as_raw_fd();
        let mut reader = MessageReader::new(pipe);
        // false after the end of stream: no writer holds the pipe (for now).
        let mut pipe_open = true;
        let mut last_flush = Instant::now();
        loop {
            for s in signals.take_stops() {
                self.on_stop_signal(s);
            }
            if signals.take_resize() {
                observer.resized();
            }
            self.check_grace();
            let waited = child.try_wait().map_err(|cause| RecordError::Io {
                what: "waiting for the program".into(),
                cause,
            })?;
            if let Some(status) = waited {
                // Everything the program wrote is in the pipe now; what
                // comes later is from a descendant that kept the
                // descriptor, which never writes into the stream.
                for _ in 0..4096 {
                    if !matches!(self.read_some(&mut reader)?, Fill::Data(_)) {
                        break;
                    }
                }
                self.torn(&reader);
                self.salvage(false);
                return Ok(status);
            }
            let mut fds = [
                libc::pollfd {
                    fd: signals.fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: poll_fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // With no writer, the pipe polls as "hung up" at once: leave it
            // out and look at it again every 20 ms (the program's end wakes
            // the loop through SIGCHLD).
            let (n, timeout) = if pipe_open { (2, 100) } else { (1, 20) };
            // SAFETY: fds holds n valid pollfds; the timeout bounds the wait.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, timeout) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(RecordError::Io {
                        what: "waiting for the agent".into(),
                        cause: e,
                    });
                }
            }
            if fds[0].revents != 0 {
                signals.clear_wakeups();
            }
            if !pipe_open || fds[1].revents != 0 {
                // At most 16 reads (4 MiB) before looking at signals and the clock again.
                for _ in 0..16 {
                    match self.read_some(&mut reader)? {
                        Fill::Data(_) => pipe_open = true,
                        Fill::WouldBlock => {
                            pipe_open = true;
                            break;
                        }
                        Fill::Eof => {
                            pipe_open = false;
                            break;
                        }
                    }
                }
            }
            if last_flush.elapsed() >= Duration::from_millis(100) {
                last_flush = Instant::now();
                if let Some(s) = self.session.as_mut() {
                    if let Err(e) = s.writer.flush_frame() {
                        note_write_error(&mut s.write_error, e);
                    }
                    let st = s.writer.stats();
                    observer.progress(st.records, st.file_bytes);
                }
            }
        }
    }

    /// One read of the pipe, and the messages it completes.
    fn read_some(&mut self, reader: &mut MessageReader<File>) -> Result<Fill, RecordError> {
        let fill = match reader.fill() {
            Ok(f) => f,
            Err(e) => {
                return Err(RecordError::Io {
                    what: "reading the agent's pipe".into(),
                    cause: match e {
                        WireError::Io(io) => io,
                        other => io::Error::other(other.to_string()),
                    },
                })
            }
        };
        if self.failure.is_some() {
            // The stream is damaged: stop decoding, but keep draining the
            // pipe so that the program is never blocked on a full pipe.
            reader.discard();
            return Ok(fill);
        }
        let msgs = match reader.take_messages() {
            Ok(m) => m,
            Err(e) => {
                self.failure = Some(e.into());
                reader.discard();
                return Ok(fill);
            }
        };
        let base = reader.index() - msgs.len() as u64;
        for (k, m) in msgs.into_iter().enumerate() {
            if let Err(e) = self.handle_message(base + k as u64, m) {
                self.failure = Some(e);
                reader.discard();
                break;
            }
        }
        Ok(fill)
    }

    /// The program died without a final END (an `exec` END is not one: the
    /// exec may have failed and the program gone on): the records the
    /// native core wrote into the shared ring after its last chunk go into
    /// the log. None when there was nothing to read.
    fn salvage(&mut self, in_torn: bool) -> Option<wire::Salvaged> {
        if self.salvaged
            || self.failure.is_some()
            || self.agent_end.as_ref().is_some_and(|e| e.kind != "exec")
        {
            return None;
        }
        self.salvaged = true;
        let (Some(ring), Some(s)) = (self.ring.as_ref(), self.session.as_mut()) else {
            return None;
        };
        let contents = ring.contents();
        let writer = &mut s.writer;
        let write_error = &mut s.write_error;
        let mut tap = self.tap.as_deref_mut();
        let got = s.decoder.salvage(&contents, |c: Capture| {
            write_capture(writer, write_error, &mut tap, c);
            Ok(())
        });
        if let Some(t) = tap {
            t.flush();
        }
        if contents.overflow > 0 {
            s.writer.count_lost(contents.overflow);
            self.warnings.push(format!(
                "the program could no longer reach the recorder (it closed probe's pipe for good): \
                 what the shared ring held is kept, tracing stopped once it was full, and {} \
                 written past it {} lost",
                plural(contents.overflow, "capture", "captures"),
                if contents.overflow == 1 { "is" } else { "are" }
            ));
        }
        match got {
            Ok(n) => {
                if n.lost_values > 0 {
                    s.writer.count_lost_values(n.lost_values);
                }
                // (A torn message's warning tells it all, `torn`.)
                if n.lost_values > 0 && !in_torn {
                    self.warnings.push(format!(
                        "the program died with {} read back from the shared ring whose values only \
                         its unsent message held: they are recorded as incomplete",
                        plural(n.lost_values, "capture", "captures")
                    ));
                }
                // Captures after an END before an exec: it failed (as above).
                if n.kept > 0 && self.agent_end.as_ref().is_some_and(|e| e.kind == "exec") {
                    self.agent_end = None;
                }
                Some(n)
            }
            Err(e) => {
                self.warnings.push(format!(
                    "the captures the program wrote just before it died could not be read back: {e}"
                ));
                None
            }
        }
    }

    /// A message the stream ended inside (the program died while sending
    /// it): its whole batches are kept, and a warning says what was lost.
    fn torn(&mut self, reader: &MessageReader<File>) {
        if self.failure.is_some() {
            return;
        }
        let Some(u) = reader.unfinished() else {
            return;
        };
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let what = format!(
            "the program ended while sending message {} ({} of its {} bytes arrived)",
            u.index,
            u.received,
            u.announced
                .map(|n| (n + 5).to_string())
                .unwrap_or_else(|| "unknown".into()),
        );
        let Some(kind @ (wire::MSG_CHUNK | wire::MSG_CHUNK_BIN)) = u.kind else {
            let lost = if u.kind.is_none() {
                "; whatever it held is lost"
            } else {
                "; it held no captures"
            };
            self.warnings.push(format!("{what}{lost}"));
            return;
        };
        let writer = &mut s.writer;
        let write_error = &mut s.write_error;
        let mut tap = self.tap.as_deref_mut();
        let got = s.decoder.decode_torn(kind, u.payload, |c: Capture| {
            write_capture(writer, write_error, &mut tap, c);
            Ok(())
        });
        if let Some(t) = tap {
            t.flush();
        }
        match got {
            Ok(t) => {
                // A native core's chunk is also in the shared ring: what the
                // message lost may be read back from there.
                let from_ring = if kind == wire::MSG_CHUNK_BIN {
                    self.salvage(true)
                } else {
                    None
                };
                let Some(s) = self.session.as_mut() else {
                    return;
                };
                let writer = &mut s.writer;
                let cut = match (from_ring, t.announced_batches) {
                    (None, _) => t.lost_captures_at_least,
                    (Some(r), Some(_)) => t.lost_captures_at_least.saturating_sub(r.kept),
                    (Some(r), None) => r.unreadable,
                };
                let ring_values = from_ring.map_or(0, |r| r.lost_values);
                // The message's marshalled part (the Python core's items,
                // values and completions) was cut: a part that long held
                // at least one object; if no item was lost with it, a value
                // was — of a capture made earlier, left incomplete.
                let part_cut = matches!(from_ring, Some(r) if t.announced_batches.is_none() && r.unreadable == 0);
                writer.count_lost(cut);
                writer.count_lost_values(t.lost_completions + u64::from(part_cut));
                let kept = match t.announced_batches {
                    Some(n) => format!("{} of its {n} batches", t.kept_batches),
                    None => plural(t.kept_batches, "batch", "batches"),
                };
                let kept = match from_ring {
                    Some(r) if r.kept > 0 => format!(
                        "{kept} arrived whole and {} more were read back from the shared ring",
                        plural(r.kept, "batch", "batches")
                    ),
                    _ => format!("{kept} arrived whole"),
                };
                let mut lost = Vec::new();
                if cut > 0 {
                    lost.push(format!(
                        "the batches cut off (at least {})",
                        plural(cut, "capture", "captures")
                    ));
                }
                if part_cut {
                    lost.push(
                        "the values it carried for captures made earlier (at least 1; \
                         recorded as incomplete)"
                            .to_string(),
                    );
                }
                if ring_values > 0 {
                    lost.push(format!(
                        "the values of {} read back from the ring (recorded as incomplete)",
                        plural(ring_values, "capture", "captures")
                    ));
                }
                if t.lost_completions > 0 {
                    lost.push(format!(
                        "the values of {} made earlier (recorded as incomplete)",
                        plural(t.lost_completions, "capture", "captures")
                    ));
                }
                let lost = if lost.is_empty() {
                    "nothing else was lost".to_string()
                } else {
                    format!("lost: {}", lost.join(" and "))
                };
                self.warnings
                    .push(format!("{what}: {kept}; they are in the log; {lost}"));
            }
            Err(e) => self.warnings.push(format!("{what}: {e}")),
        }
    }

    fn handle_message(&mut self, index: u64, m: wire::RawMessage) -> Result<(), RecordError> {
        match m.kind {
            wire::MSG_CACHE => {
                // The agent compiled itself: keep the code for the next run
                // (best effort; the next run checks its hash before use).
                if let (Some(c), Some(nul)) = (&self.cache, m.payload.iter().position(|&b| b == 0))
                {
                    if let Ok(key) = std::str::from_utf8(&m.payload[..nul]) {
                        // And which interpreter has that key, so that the
                        // next run reads only its compilation.
                        if c.store(key, &m.payload[nul + 1..]).is_ok() {
                            if let Some(id) = self.pc.identity() {
                                let _ = c.store_index(&id, key);
                            }
                        }
                    }
                }
            }
            wire::MSG_SITE_PYC => {
                // The stub compiled by the interpreter, for the next run's zip.
                if let (Some(c), Some(nul)) = (&self.cache, m.payload.iter().position(|&b| b == 0))
                {
                    if let Ok(key) = std::str::from_utf8(&m.payload[..nul]) {
                        let _ = c.store_site_pyc(key, &m.payload[nul + 1..]);
                    }
                }
            }
            wire::MSG_RESOLVED => {
                // The agent resolved the specs from source: keep that for
                // the next run (best effort; checked again before use).
                if let (Some(c), Some(k)) = (&self.cache, &self.resolution_key) {
                    let _ = c.store_resolution(k, &m.payload);
                }
            }
            wire::MSG_HELLO => {
                let hello: Hello = wire::parse_json(index, &m.payload)?;
                let Some(prepared) = self.prepared.take() else {
                    return Err(WireError::Chunk {
                        index,
                        what: "a second hello".into(),
                    }
                    .into());
                };
                let probes = hello.probes.clone();
                let pc = self.pc;
                let mut command = vec![pc.python.clone()];
                command.extend(pc.interpreter_args.iter().cloned());
                if pc.script_needs_dashes() {
                    command.push("--".into());
                }
                // The log's command is text (JSON): a word that is not
                // UTF-8 is stored with U+FFFD in its bad bytes' place.
                command.extend(pc.target.iter().map(|w| w.to_string_lossy().into_owned()));
                let opts = self.opts;
                let meta = RunMeta {
                    probe_version: env!("CARGO_PKG_VERSION").to_string(),
                    probes: probes.clone(),
                    command,
                    cwd: std::env::current_dir()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    python_version: hello.python_version.clone(),
                    python_executable: hello.python_executable.clone(),
                    core: hello.core.as_str().into(),
                    core_note: hello.core_note.clone(),
                    start_unix_ns: self.start_unix_ns,
                    max_value_bytes: opts.max_value_bytes,
                    max_array_bytes: opts.max_array_bytes,
                    ts_resolution_ns: opts.ts_resolution_ns,
                };
                let writer = LogWriter::start(prepared, &meta)?;
                if let Some(t) = self.tap.as_deref_mut() {
                    t.started(&meta);
                }
                self.session = Some(Session {
                    decoder: ChunkDecoder::new(&hello, opts.ts_resolution_ns),
                    hello,
                    probes,
                    writer,
                    write_error: None,
                });
            }
            kind @ (wire::MSG_CHUNK | wire::MSG_CHUNK_BIN) => {
                // Captures after an END before an exec: the exec failed and
                // the program went on; that END is not how it ended.
                if self.agent_end.as_ref().is_some_and(|e| e.kind == "exec") {
                    self.agent_end = None;
                }
                let s = self.session.as_mut().ok_or(WireError::Chunk {
                    index,
                    what: "captures arrived before the agent's hello".into(),
                })?;
                let writer = &mut s.writer;
                let write_error = &mut s.write_error;
                let mut tap = self.tap.as_deref_mut();
                let sink = |c: Capture| {
                    write_capture(writer, write_error, &mut tap, c);
                    Ok(())
                };
                if kind == wire::MSG_CHUNK_BIN {
                    s.decoder.decode_bin(&m.payload, sink)?;
                } else {
                    s.decoder.decode(&m.payload, sink)?;
                }
                if let Some(t) = tap {
                    t.flush();
                }
            }
            wire::MSG_END => {
                // The last END counts: an exec that failed is followed by
                // more captures and a later END.
                self.agent_end = Some(wire::parse_json(index, &m.payload)?);
            }
            wire::MSG_FATAL => {
                let t: TextMessage = wire::parse_json(index, &m.payload)?;
                self.refused = Some(t.message);
            }
            wire::MSG_WARN => {
                let t: TextMessage = wire::parse_json(index, &m.payload)?;
                self.warnings.push(t.message);
            }
            kind => return Err(WireError::UnknownType { index, kind }.into()),
        }
        Ok(())
    }

    /// A stop signal to the recorder: the first of each kind is passed on to
    /// the program — unless it was sent to the whole process group (the
    /// terminal, `kill -- -PGID`, a CI runner), which gave the program its
    /// own copy; repeats within the grace period are not (`timeout` signals
    /// the recorder and then its group); one after the grace period ran out
    /// kills the program.
    fn on_stop_signal(&mut self, s: StopSignal) {
        let now = Instant::now();
        let mut group_wide = s.from_terminal;
        if let Some(w) = &self.witness {
            if w.saw(s.signal) {
                group_wide = true;
                w.forget();
            }
        }
        let st = &mut self.stop;
        if st.killed {
            return;
        }
        if st.warned {
            st.killed = true;
            eprintln!(
                "probe: {} again: killing the program (pid {}, SIGKILL)",
                signals::name(s.signal),
                self.child_pid
            );
            // SAFETY: plain FFI call; the pid is our child's, not yet reaped
            // (the loop reaps it only after handling signals).
            unsafe { libc::kill(self.child_pid, libc::SIGKILL) };
            return;
        }
        if st.received.is_none() {
            st.received = Some(s.signal);
        }
        if group_wide || st.forwarded.contains(&s.signal) {
            return;
        }
        if st.first.is_none() {
            st.first = Some((s.signal, now));
        }
        st.forwarded.push(s.signal);
        eprintln!(
            "probe: {} received; passed on to the program (pid {}); the log is sealed when it ends",
            signals::name(s.signal),
            self.child_pid
        );
        // SAFETY: as above.
        unsafe { libc::kill(self.child_pid, s.signal) };
    }

    fn check_grace(&mut self) {
        let grace = self.opts.grace;
        let st = &mut self.stop;
        if let (Some((sig, at)), false) = (st.first, st.warned) {
            if at.elapsed() >= grace {
                st.warned = true;
                eprintln!(
                    "probe: the program (pid {}) is still running {} after {}; send {} again (or press Ctrl-C) to kill it",
                    self.child_pid,
                    crate::text::format_duration(grace),
                    signals::name(sig),
                    signals::name(sig)
                );
            }
        }
    }

    /// Seals the log and says how the run went.
    fn finish(mut self, status: ExitStatus, start: Instant) -> Result<RecordOutcome, RecordError> {
        if let Some(msg) = self.refused.take() {
            return Err(RecordError::Refused(msg));
        }
        let Some(mut s) = self.session.take() else {
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
            return Err(RecordError::AgentDidNotStart {
                python: self.pc.python.clone(),
                status: status.to_string(),
            });
        };
        let orphans = s.decoder.orphan_completions();
        if orphans > 0 {
            self.warnings.push(format!(
                "{} arrived for captures whose chunk the agent lost (a signal cut it off)",
                plural(orphans, "completion", "completions")
            ));
        }
        let (exit_code, mut exit) = exit_info(status, self.agent_end.as_ref());
        if let Some(sig) = self.stop.received {
            exit.recorder_signal = Some(sig);
            exit.killed_by_recorder = self.stop.killed;
        }
        if let Some(e) = &self.failure {
            exit.detail = Some(format!("recorder error: {e}"));
        }
        let untraced = self.agent_end.as_ref().map_or(0, |e| e.untraced_children);
        s.writer.set_untraced_children(untraced);
        // The stats come from the sealed writer: read before `finish`, they
        // would miss the last block and the END frame (a short run's whole
        // payload), and the summary's compression would be near zero.
        let (end, stats) = s
            .writer
            .finish_with_stats(exit, start.elapsed().as_nanos() as u64)?;
        let killed = status.signal().is_some();
        let incomplete = match (self.failure.take(), s.write_error.take()) {
            (Some(RecordError::Wire(cause)), _) => Some(RecordError::Damaged {
                cause,
                written: end.total_records,
            }),
            (Some(e), _) => Some(e),
            (None, Some(cause)) => Some(RecordError::Incomplete {
                cause,
                lost: end.lost_records,
                written: end.total_records,
            }),
            (None, None) => None,
        };
        // The program's status wins when a signal killed it (a CI timeout
        // keeps its meaning); a log short of the whole run is an error when
        // the program ended on its own.
        let incomplete = match incomplete {
            Some(e) if !killed => return Err(e),
            other => other.map(|e| e.to_string()),
        };
        let file_bytes = std::fs::metadata(&self.opts.output)
            .map(|m| m.len())
            .unwrap_or(0);
        // Named one by one up to 10; thousands of probes must not flood the
        // terminal.
        let labels = crate::model::short_labels(&s.probes);
        let silent: Vec<&String> = labels
            .iter()
            .zip(&end.per_probe)
            .filter(|(_, &c)| c == 0)
            .map(|(l, _)| l)
            .collect();
        for l in silent.iter().take(10) {
            self.warnings
                .push(format!("probe {l} never triggered (0 records)"));
        }
        if silent.len() > 10 {
            self.warnings.push(format!(
                "{} more probes never triggered (probe info lists every probe's count)",
                silent.len() - 10
            ));
        }
        Ok(RecordOutcome {
            exit_code,
            end,
            probes: s.probes,
            python_version: s.hello.python_version,
            core: s.hello.core,
            core_note: s.hello.core_note,
            core_warning: s.hello.core_warning,
            file_bytes,
            raw_bytes: stats.raw_bytes,
            warnings: self.warnings,
            elapsed: start.elapsed(),
            waits: self.agent_end.as_ref().map_or(0, |e| e.waits),
            waited: Duration::from_nanos(self.agent_end.as_ref().map_or(0, |e| e.waited_ns)),
            incomplete,
        })
    }
}

struct Session {
    hello: Hello,
    probes: Vec<ProbeInfo>,
    decoder: ChunkDecoder,
    writer: LogWriter,
    write_error: Option<LogError>,
}

/// Writes one decoded capture to the log and tells the tap. A writer
/// failure (a full disk) must not stop the program: it is noted, the pipe
/// keeps being drained, the writer counts what is lost, and it is reported
/// when the run is over.
#[inline(always)]
fn write_capture<'t>(
    writer: &mut LogWriter,
    write_error: &mut Option<LogError>,
    tap: &mut Option<&mut (dyn RecordTap + 't)>,
    c: Capture,
) {
    let r = match c {
        Capture::Record(rec) => {
            if let Some(t) = tap.as_deref_mut() {
                t.record(&rec);
            }
            writer.append_owned(rec)
        }
        Capture::Completion { seq, status, value } => {
            if let Some(t) = tap.as_deref_mut() {
                t.completed(seq, status, &value);
            }
            writer.complete(seq, status, &value)
        }
    };
    if let Err(e) = r {
        note_write_error(write_error, e);
    }
}

/// Reports the first writer failure at once; later ones are the same story.
fn note_write_error(slot: &mut Option<LogError>, e: LogError) {
    if slot.is_none() {
        eprintln!("probe: error: {e}; the program continues, later captures are counted as lost");
        *slot = Some(e);
    }
}

/// `1 record`, `2 records`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Combines the wait status with what the agent said about the ending.
fn exit_info(status: ExitStatus, end: Option<&AgentEnd>) -> (i32, ExitInfo) {
    let (code, signal) = match (status.code(), status.signal()) {
        (Some(c), _) => (c, None),
        (None, Some(sig)) => (128 + sig, Some(sig)),
        _ => (1, None),
    };
    let kind = match (end, signal) {
        // A program python ran itself that printed an exception earlier
        // (sys.last_exc) but exited 0 did not end by it.
        (Some(e), None) if e.kind == "exception" && code == 0 => "exit".into(),
        (Some(e), _) => e.kind.clone(),
        (None, Some(_)) => "signal".into(),
        (None, None) => "lost".into(),
    };
    let detail = match (kind.as_str(), end) {
        ("exec", Some(e)) => Some(format!(
            "the program replaced itself with {} (os.exec*); what ran from then on was not traced",
            e.exec.as_deref().unwrap_or("another program")
        )),
        ("lost", _) => Some(
            "the agent's stream ended without saying how the program ended (it closed probe's pipe, \
             or its interpreter ended without running exit handlers); captures after that point are missing"
                .into(),
        ),
        _ => None,
    };
    (
        code,
        ExitInfo {
            kind: kind.into(),
            code,
            signal,
            exception: end
                .filter(|e| !(e.kind == "exception" && code == 0 && signal.is_none()))
                .and_then(|e| e.exception.clone()),
            detail,
            ..ExitInfo::default()
        },
    )
}

/// `$PROBE_PYTHON`, else `python3`.
pub fn default_python() -> String {
    std::env::var("PROBE_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// Reads a `--probes FILE`: one spec per line, `#` comments, blank lines
/// ignored. A line whose spec is malformed is an error naming the file
/// and the line (`probes.txt line 3: probe 'fir.py:9': expected …`).
/// Each spec comes with its line number in the file (1-based), so that an
/// error about it can say where it was written.
pub fn read_probe_file(path: &Path) -> Result<Vec<(usize, String)>, io::Error> {
    let text = std::fs::read_to_string(path)?;
    let mut specs = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        spec::check_syntax(l).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} line {}: {e}", path.display(), i + 1),
            )
        })?;
        specs.push((i + 1, l.to_string()));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(plural(1, "record", "records"), "1 record");
        assert_eq!(plural(0, "record", "records"), "0 records");
        assert_eq!(plural(2, "batch", "batches"), "2 batches");
    }
}
