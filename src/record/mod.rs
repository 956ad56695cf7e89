//! `probe record`: runs the program under the agent and writes the log.
//!
//! The CaptureManager lives in the agent (in-process); this side is the
//! recorder: it owns the pipe's read end, numbers the records in arrival
//! order (which is the agent's reservation order), and hands them to the
//! [`LogWriter`] in sequence order. Placeholders and completions pass
//! through untouched, so the log's physical order is sequence order.

pub mod command;

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::capture::cache::{self, AgentCache};
use crate::capture::{self as agent, agent_key, Bundle, VersionPolicy, BOOTSTRAP};
use crate::log::meta::{EndInfo, ExitInfo, ProbeInfo, RunMeta};
use crate::log::{LogError, LogReader, LogWriter};
use crate::model::{CaptureRecord, Status, Value};
use crate::wire::{
    self, AgentEnd, Capture, ChunkDecoder, Hello, MessageReader, TextMessage, WireError,
};
use command::{CommandError, PythonCommand};

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
    pub command: Vec<String>,
    /// Interpreter for `-- script.py` (from `$PROBE_PYTHON`, else `python3`).
    pub default_python: String,
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
    /// Bytes in the log file.
    pub file_bytes: u64,
    /// Uncompressed bytes of the record blocks.
    pub raw_bytes: u64,
    /// Warnings from the agent and the recorder.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
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
    /// Other I/O (pipe, poll).
    #[error("{what}: {cause}")]
    Io { what: String, cause: io::Error },
}

static SIGINTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigint(_: libc::c_int) {
    SIGINTS.fetch_add(1, Ordering::SeqCst);
}

/// The first Ctrl-C belongs to the program (it is in our process group and
/// gets it from the terminal); we keep recording. A second one aborts us.
fn install_sigint_handler() {
    // SAFETY: the handler only touches an atomic, which is async-signal-safe;
    // no SA_RESTART so that a blocking poll returns EINTR and we see the flag.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
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
    Ok((r, w))
}

fn spawn(pc: &PythonCommand, wfd: RawFd, bundle: &Bundle) -> Result<Child, RecordError> {
    let mut cmd = Command::new(&pc.python);
    cmd.args(&pc.interpreter_args)
        .arg("-c")
        .arg(BOOTSTRAP)
        .arg(bundle.fd.as_raw_fd().to_string())
        .arg(bundle.boot_len.to_string())
        .arg(wfd.to_string())
        .args(&pc.target);
    // SAFETY: pre_exec runs in the forked child before exec; fcntl is
    // async-signal-safe and only clears close-on-exec on the pipe's write end
    // so that the interpreter inherits it (the agent marks it non-inheritable
    // again at once, so the program's own children do not).
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(wfd, libc::F_SETFD, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
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

/// Progress callback: (records so far, log bytes so far).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Runs the recording to its end.
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
pub fn record(opts: &RecordOptions, progress: Progress<'_>) -> Result<RecordOutcome, RecordError> {
    record_with_tap(opts, progress, None)
}

/// Run the program and record it (SPEC §4), telling `tap` about every capture.
pub fn record_with_tap(
    opts: &RecordOptions,
    progress: Progress<'_>,
    mut tap: Option<&mut dyn RecordTap>,
) -> Result<RecordOutcome, RecordError> {
    if opts.probes.is_empty() {
        return Err(RecordError::NoProbes);
    }
    let pc = command::parse(&opts.command, &opts.default_python)?;
    if opts.output.exists() && !opts.force {
        return Err(RecordError::OutputExists(opts.output.clone()));
    }
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
    let cached = cache.as_ref().map(|c| c.load_all()).unwrap_or_default();
    let bundle =
        agent::bundle(&config, &opts.probes, &cached).map_err(|cause| RecordError::Io {
            what: "preparing the agent for the interpreter".into(),
            cause,
        })?;
    let start = Instant::now();
    let start_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    install_sigint_handler();
    let (rfd, wfd) = make_pipe().map_err(|cause| RecordError::Io {
        what: "creating the agent pipe".into(),
        cause,
    })?;
    let mut child = spawn(&pc, wfd.as_raw_fd(), &bundle)?;
    drop(wfd);
    drop(bundle);
    let pipe = File::from(rfd);
    let poll_fd = pipe.as_raw_fd();
    let mut reader = MessageReader::new(pipe);

    let mut session: Option<Session> = None;
    let mut agent_end: Option<AgentEnd> = None;
    let mut warnings = Vec::new();
    let mut refused: Option<String> = None;
    let mut failure: Option<RecordError> = None;
    let mut aborted = false;
    let mut last_flush = Instant::now();

    loop {
        if SIGINTS.load(Ordering::SeqCst) >= 2 {
            aborted = true;
            break;
        }
        let mut pfd = libc::pollfd {
            fd: poll_fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd; the timeout bounds the wait.
        let rc = unsafe { libc::poll(&mut pfd, 1, 100) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            failure = Some(RecordError::Io {
                what: "waiting for the agent".into(),
                cause: e,
            });
            break;
        }
        if rc > 0 && failure.is_some() {
            // The stream is damaged: stop decoding, but keep draining the
            // pipe so that the program is never blocked on a full pipe.
            match reader.discard_available() {
                Ok(true) => continue,
                _ => break,
            }
        }
        if rc > 0 {
            let msgs = match reader.read_available() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e.into());
                    continue;
                }
            };
            let base = reader.index() - msgs.len() as u64;
            for (k, m) in msgs.into_iter().enumerate() {
                let index = base + k as u64;
                if let Err(e) = handle_message(
                    index,
                    m,
                    opts,
                    &pc,
                    start_unix_ns,
                    &mut session,
                    &mut agent_end,
                    &mut warnings,
                    &mut refused,
                    cache.as_ref(),
                    &mut tap,
                ) {
                    failure = Some(e);
                    break;
                }
            }
        }
        if last_flush.elapsed() >= Duration::from_millis(100) {
            last_flush = Instant::now();
            if let Some(s) = session.as_mut() {
                if let Err(e) = s.writer.flush_frame() {
                    note_write_error(&mut s.write_error, e);
                }
                let st = s.writer.stats();
                progress(st.records, st.file_bytes);
            }
        }
    }

    // The program decides when it ends; we only wait for it (unless aborted).
    let status = if aborted {
        None
    } else {
        match child.wait() {
            Ok(s) => Some(s),
            Err(cause) => {
                return Err(RecordError::Io {
                    what: "waiting for the program".into(),
                    cause,
                })
            }
        }
    };
    if let Some(msg) = refused {
        return Err(RecordError::Refused(msg));
    }
    let Some(s) = session else {
        if let Some(e) = failure {
            return Err(e);
        }
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "interrupted".into());
        return Err(RecordError::AgentDidNotStart {
            python: pc.python.clone(),
            status,
        });
    };

    let orphans = s.decoder.orphan_completions();
    if orphans > 0 {
        warnings.push(format!(
            "{orphans} completion(s) arrived for captures whose chunk the agent lost (a signal cut it off)"
        ));
    }
    let (exit_code, mut exit) = exit_info(status, agent_end.as_ref(), aborted);
    if let Some(e) = &failure {
        exit.detail = Some(format!("recorder error: {e}"));
    }
    let end = s.writer.finish(exit, start.elapsed().as_nanos() as u64)?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(e) = s.write_error {
        return Err(RecordError::Incomplete {
            cause: e,
            lost: end.lost_records,
            written: end.total_records,
        });
    }
    let raw_bytes = LogReader::open(&opts.output)
        .map(|r| r.frames().iter().map(|f| u64::from(f.header.raw_len)).sum())
        .unwrap_or(0);
    let file_bytes = std::fs::metadata(&opts.output)
        .map(|m| m.len())
        .unwrap_or(0);
    for (p, &count) in s.probes.iter().zip(&end.per_probe) {
        if count == 0 {
            warnings.push(format!("probe {} never triggered (0 records)", p.spec));
        }
    }
    Ok(RecordOutcome {
        exit_code: if aborted { 130 } else { exit_code },
        end,
        probes: s.probes,
        python_version: s.hello.python_version,
        core: s.hello.core,
        core_note: s.hello.core_note,
        file_bytes,
        raw_bytes,
        warnings,
        elapsed: start.elapsed(),
    })
}

struct Session {
    hello: Hello,
    probes: Vec<ProbeInfo>,
    decoder: ChunkDecoder,
    writer: LogWriter,
    write_error: Option<LogError>,
}

/// Reports the first writer failure at once; later ones are the same story.
fn note_write_error(slot: &mut Option<LogError>, e: LogError) {
    if slot.is_none() {
        eprintln!("probe: error: {e}; the program continues, later captures are counted as lost");
        *slot = Some(e);
    }
}

#[allow(clippy::too_many_arguments)]
fn handle_message(
    index: u64,
    m: wire::RawMessage,
    opts: &RecordOptions,
    pc: &PythonCommand,
    start_unix_ns: u64,
    session: &mut Option<Session>,
    agent_end: &mut Option<AgentEnd>,
    warnings: &mut Vec<String>,
    refused: &mut Option<String>,
    cache: Option<&AgentCache>,
    tap: &mut Option<&mut dyn RecordTap>,
) -> Result<(), RecordError> {
    match m.kind {
        wire::MSG_CACHE => {
            // The agent compiled itself: keep the code for the next run
            // (best effort; the next run checks its hash before use).
            if let (Some(c), Some(nul)) = (cache, m.payload.iter().position(|&b| b == 0)) {
                if let Ok(key) = std::str::from_utf8(&m.payload[..nul]) {
                    let _ = c.store(key, &m.payload[nul + 1..]);
                }
            }
        }
        wire::MSG_HELLO => {
            let hello: Hello = wire::parse_json(index, &m.payload)?;
            let probes = hello.probes.clone();
            let mut command = vec![pc.python.clone()];
            command.extend(pc.interpreter_args.iter().cloned());
            command.extend(pc.target.iter().cloned());
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
                start_unix_ns,
                max_value_bytes: opts.max_value_bytes,
                max_array_bytes: opts.max_array_bytes,
                ts_resolution_ns: opts.ts_resolution_ns,
            };
            let writer = LogWriter::create(&opts.output, opts.force, &meta)?;
            if let Some(t) = tap.as_deref_mut() {
                t.started(&meta);
            }
            *session = Some(Session {
                decoder: ChunkDecoder::new(&hello, opts.ts_resolution_ns),
                hello,
                probes,
                writer,
                write_error: None,
            });
        }
        wire::MSG_CHUNK => {
            let s = session.as_mut().ok_or(WireError::Chunk {
                index,
                what: "captures arrived before the agent's hello".into(),
            })?;
            let writer = &mut s.writer;
            let write_error = &mut s.write_error;
            let mut tap = tap.as_deref_mut();
            s.decoder.decode(&m.payload, |c| {
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
                // A writer failure (a full disk) must not stop the program:
                // keep draining the pipe, let the writer count what is lost,
                // and report it when the run is over.
                if let Err(e) = r {
                    note_write_error(write_error, e);
                }
                Ok(())
            })?;
            if let Some(t) = tap {
                t.flush();
            }
        }
        wire::MSG_END => {
            *agent_end = Some(wire::parse_json(index, &m.payload)?);
        }
        wire::MSG_FATAL => {
            let t: TextMessage = wire::parse_json(index, &m.payload)?;
            *refused = Some(t.message);
        }
        wire::MSG_WARN => {
            let t: TextMessage = wire::parse_json(index, &m.payload)?;
            warnings.push(t.message);
        }
        kind => return Err(WireError::UnknownType { index, kind }.into()),
    }
    Ok(())
}

/// Combines the wait status with what the agent said about the ending.
fn exit_info(
    status: Option<std::process::ExitStatus>,
    end: Option<&AgentEnd>,
    aborted: bool,
) -> (i32, ExitInfo) {
    if aborted {
        return (
            130,
            ExitInfo {
                kind: "aborted".into(),
                code: 130,
                signal: None,
                exception: None,
                detail: Some(
                    "recorder interrupted by a second Ctrl-C; the program may still be running"
                        .into(),
                ),
            },
        );
    }
    let (code, signal) = match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => (c, None),
            (None, Some(sig)) => (128 + sig, Some(sig)),
            _ => (1, None),
        },
        None => (1, None),
    };
    let kind = match (end, signal) {
        (Some(e), _) => e.kind.clone(),
        (None, Some(_)) => "signal".into(),
        (None, None) => "lost".into(),
    };
    (
        code,
        ExitInfo {
            kind: kind.into(),
            code,
            signal,
            exception: end.and_then(|e| e.exception.clone()),
            detail: None,
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

/// Reads a `--probes FILE`: one spec per line, `#` comments, blank lines ignored.
pub fn read_probe_file(path: &Path) -> Result<Vec<String>, io::Error> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}
