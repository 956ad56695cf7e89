# probe agent: the program under a core.
#
# Resolves the specs, reports them (HELLO), installs the chosen core, and
# seals the stream (END) however the program ends: normally, by an
# exception, by sys.exit, by os._exit, or Ctrl-C. In `site` mode (boot.py)
# python itself then runs the program, so nothing of ours sits below it;
# in `c` mode the runner runs the script or `-m module` as __main__ as
# python would (same argv, sys.path[0], __name__, stdio, exit status).
#
# Everything here must stay harmless to the program: no exception escapes a
# callback, sys.modules is left as it was, tracebacks show no frame of ours.

import atexit
import os
import sys
import time
import _thread

from . import children as _children
from . import core as _core
from . import plan as _plan
from .manager import CaptureManager
from .native import release as _native_release, loaded as _native_loaded, extension as _native_extension
from .native import headroom_ready as _native_headroom
from . import resolved as _resolved
from .resolved import ProbeError
from .values import Values, type_name, use_packer
from .wire import MSG_END, MSG_FATAL, MSG_HELLO, MSG_RESOLVED, MSG_WARN

_BUILTINS = sys.modules["builtins"]
# Our own code: the modules (compiled as "<probe-agent/NAME>"), boot.py
# ("<probe-boot>") and, at the bottom of every stack, the `-c` bootstrap
# ("<string>").
AGENT_FILES_PREFIX = "<probe-"


def _ours(code, outermost):
    fn = code.co_filename
    return fn.startswith(AGENT_FILES_PREFIX) or (outermost and fn == "<string>")


def strip_agent_frames(e):
    """The exception with our own frames dropped from its traceback (and
    from those of its causes and contexts), as python would show it."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        tb = e.__traceback__
        first = None
        prev = None
        while tb is not None:
            nxt = tb.tb_next
            if not _ours(tb.tb_frame.f_code, first is None):
                if first is None:
                    first = tb
                if prev is not None:
                    prev.tb_next = tb
                prev = tb
            tb = nxt
        if prev is not None:
            prev.tb_next = None
        try:
            e.__traceback__ = first
        except (AttributeError, TypeError):
            pass
        e = e.__cause__ or e.__context__
    return None


def hide_agent_frames_when_printed():
    """A KeyboardInterrupt can land inside our callbacks (at any bytecode,
    the first one included) and leave them with our frames in its
    traceback. Uncaught, python prints it with sys.excepthook: the default
    hook is wrapped so that it prints the traceback without them. Both
    sys.excepthook and sys.__excepthook__ name the wrapper, so a program
    that compares or restores them sees the default hook as before; with
    the extension loaded the wrapper is a builtin that also prints, and
    inspects, as CPython's does."""
    hook = sys.excepthook
    if hook is not sys.__excepthook__:
        return  # already the program's (or a tool's) own: left alone

    def excepthook(typ, value, tb):
        try:
            # Called by python itself (no Python frame below: the program
            # did not call the hook to print a caught exception).
            if _thread.get_ident() == main_thread and sys._getframe().f_back is None:
                _UNCAUGHT.append(value)
            strip_agent_frames(value)
            tb = value.__traceback__
        except Exception:  # noqa: BLE001
            pass
        return hook(typ, value, tb)
    main_thread = _thread.get_ident()
    excepthook.__doc__ = hook.__doc__
    excepthook.__wrapped__ = hook
    installed = excepthook
    try:
        # A builtin as CPython's looks (repr, type, __self__, signature),
        # which calls the function above (hook.rs). The extension is
        # loaded by every core but 3.12+'s settrace one: loaded for this.
        installed = _native_extension().hook_wrap(sys, excepthook)
    except Exception:  # noqa: BLE001 - Unavailable: the function then
        pass
    sys.excepthook = sys.__excepthook__ = _HOOK[0] = installed


def hook_threads(mgr, core):
    """One global seq across threads: once a thread starts, batches carry
    their thread id and the manager takes its lock."""
    def wrap(start):
        def start_thread(function, *args, **kwargs):
            if not mgr.threaded:
                mgr.threaded = True
                mgr.mt[0] = True
                core.on_threads()

            def run(*a, **kw):
                core.on_new_thread()
                return function(*a, **kw)
            return start(run, *args, **kwargs)
        start_thread.__wrapped__ = start
        return start_thread

    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        orig = getattr(_thread, name, None)
        if orig is not None:
            setattr(_thread, name, wrap(orig))
    th = sys.modules.get("threading")
    if th is not None:
        for name in ("_start_new_thread", "_start_joinable_thread"):
            orig = getattr(th, name, None)
            if orig is not None:
                setattr(th, name, wrap(orig))


class Runner:
    def __init__(self, wire, cfg, target, mods_before, native=False):
        self.native = native  # python runs the program after main() returns
        self.wire = wire
        self.cfg = cfg
        self.target = target
        self.mods_before = mods_before
        self.exit = {"kind": "exit", "code": 0}
        self.mgr = None
        self.core = None
        self.planner = None
        self.sealed = False
        self.core_note = None
        self.core_warning = False
        self.children = 0   # child processes started untraced (see children.py)
        self.forks = 0      # of which forks seen by the at-fork hook
        wire.on_gone = self.recorder_gone

    def seal(self):
        if self.sealed or self.mgr is None:
            return
        self.sealed = True
        if self.native and self.exit.get("kind") == "exit":
            self.exit = native_exit()
        mgr = self.mgr
        # Other threads (daemon threads still running at exit, or the rest
        # of the program when a thread calls os._exit) may be capturing or
        # in the middle of sending a chunk: the last chunk, the warnings and
        # END go out under the lock, so that no message interleaves with
        # theirs, and after them nothing is sent (close()). A thread stuck
        # with the lock for 10 s gets no END rather than a corrupt stream.
        held = False
        if mgr.threaded:
            held = mgr.lock.acquire(True, 10)
            if not held:
                self.wire.fd = -1
                self.wire.dead = True
        try:
            try:
                self.core.uninstall()
            except Exception:  # noqa: BLE001
                pass
            mgr.finish()
            mgr.close(self.planner)
            for w in self.planner.warnings + mgr.warnings:
                self.wire.send_json(MSG_WARN, {"message": w})
            self.wire.send_json(MSG_END, dict(self.exit, batches_sent=mgr.sent,
                                              untraced_children=self.children,
                                              waits=self.wire.waits, waited_ns=self.wire.waited_ns))
        finally:
            if held:
                mgr.lock.release()

    def offer_resolution(self, resolver, sites, models):
        """Hands this resolution to the recorder to keep (best effort)."""
        try:
            files = {path: (fm.raw, fm.stat) for path, fm in resolver.models.items()}
            payload = _resolved.dump(self.cfg["probes"], resolver.found, files, resolver.probes, sites, models)
        except Exception:  # noqa: BLE001 - only a cache: the run goes on without it
            payload = None
        if payload is not None:
            self.wire.send(MSG_RESOLVED, payload)

    def recorder_gone(self):
        """The recorder died: say so once on the program's stderr, stop
        tracing, and let the program go on."""
        try:
            os.write(2, b"probe: the recorder is gone; recording stopped, the program goes on untraced\n")
        except OSError:
            pass
        self.sealed = True
        if self.mgr is not None:
            self._stop_tracing()

    def _stop_tracing(self):
        """The core stops calling us; the manager lets go of its frames."""
        try:
            if self.core is not None:
                self.core.uninstall()
        except Exception:  # noqa: BLE001
            pass
        self.mgr.close(self.planner)

    def recorder_unreachable(self):
        """probe's pipe is closed for good and the shared ring is full:
        stop tracing; what the ring holds stays for the recorder to read
        back (nothing is written to the program's descriptors, which may be
        files of its own by now)."""
        self.sealed = True
        self._stop_tracing()

    def before_exec(self, what):
        """os.exec* is about to replace the program: send what is captured
        and an END saying so, since nothing runs after a successful exec.
        If the exec fails, the program goes on and a later END replaces
        this one."""
        if self.sealed or self.mgr is None:
            return
        mgr = self.mgr
        held = mgr.lock.acquire(True, 10) if mgr.threaded else False
        try:
            mgr._flush()
            self.wire.send_json(MSG_END, {"kind": "exec", "code": 0, "exec": str(what),
                                          "untraced_children": self.children + 1,
                                          "batches_sent": mgr.sent, "waits": self.wire.waits,
                                          "waited_ns": self.wire.waited_ns})
        finally:
            if held:
                mgr.lock.release()

    def _before_fork(self):
        # The manager's lock must not be held by another thread while the
        # process forks: the child would inherit it locked, forever.
        if self.mgr is not None:
            try:
                # Bounded: a fork from inside our own locked section (a repr
                # that forks) must not deadlock; the child gets a new lock anyway.
                self._fork_locked = self.mgr.lock.acquire(True, 1.0)
            except Exception:  # noqa: BLE001
                self._fork_locked = False

    def _after_fork_parent(self):
        # A child that runs untraced.
        self.forks += 1
        self.children += 1
        if self.mgr is not None and getattr(self, "_fork_locked", False):
            self._fork_locked = False
            try:
                self.mgr.lock.release()
            except Exception:  # noqa: BLE001
                pass

    def forked(self):
        """In a forked child: stop tracing and let go of the pipe."""
        try:
            self._fork_locked = False
            fd, self.wire.fd = self.wire.fd, -1
            # Never open the parent's pipe again from here (Wire.reopen).
            self.wire.dead = True
            self.wire.ident = None
            self.sealed = True
            if self.mgr is not None:
                self.mgr.after_fork_in_child()
            if self.core is not None:
                self.core.uninstall()
            if self.mgr is not None:
                self.mgr.close(self.planner)
            if fd >= 0:
                os.close(fd)
        except Exception:  # noqa: BLE001 - the child must go on unharmed
            pass

    def main(self):
        cfg = self.cfg
        try:
            t = self.target
            first = os.getcwd() if t[:1] == ["-m"] or not t else os.path.dirname(os.path.abspath(t[0]))
            # The sys.path the program will have: its first entry (the
            # script's directory, or the current one for -m) is ours to
            # put. Under `-c` python put '' there; in `site` mode python has
            # not put it yet, and sys.path[0] is the first PYTHONPATH entry.
            rest = sys.path if self.native else sys.path[1:]
            roots = [first] + rest
            # This resolution from an earlier run (resolved.py), if it
            # still holds; else from the source, offered to the recorder
            # for the next run.
            got = _resolved.load(cfg.pop("resolution", None), cfg["probes"], roots)
            if got is not None:
                probes, sites, models = got
            else:
                from . import resolve
                resolver = resolve.Resolver(cfg["probes"], roots)
                sites, models = _plan.make_sites(resolver)
                probes = resolver.probes
                self.offer_resolution(resolver, sites, models)
                resolver = None
            try:
                core_name, self.core_note, self.core_warning = _core.choose(cfg.get("core", "auto"))
            finally:
                _native_release()
        except ProbeError as e:
            self.wire.send_json(MSG_FATAL, {"message": str(e)})
            return 2
        except Exception as e:  # noqa: BLE001 - a bug of ours: say so, run nothing half-traced
            import traceback
            where = traceback.extract_tb(e.__traceback__)[-1]
            self.wire.send_json(MSG_FATAL, {"message": (
                f"internal error in probe's resolver ({type(e).__name__}: {e} at {where.filename}:{where.lineno}); "
                "please report it with the probe specs")})
            return 2
        use_packer(_native_loaded())
        mgr = self.mgr = CaptureManager(self.wire, sites, Values(cfg["max_value_bytes"], cfg["max_array_bytes"]))
        mgr.on_unreachable = self.recorder_unreachable
        debug = None
        if cfg.get("debug_plan"):
            def debug(text):
                try:
                    sys.stderr.write(f"probe: {text}\n")
                except Exception:  # noqa: BLE001
                    pass
        self.planner = _plan.Planner(sites, models, debug)
        try:
            core = self.core = _core.make(core_name, mgr, self.planner)
        except ProbeError as e:
            self.wire.send_json(MSG_FATAL, {"message": str(e)})
            return 2
        ext = _native_loaded()
        if ext is not None:
            self.wire.native_write = ext.write_progress

        ring = cfg.get("ring_fd", -1)
        if ring >= 0:
            # The native core writes its records into the recorder's ring
            # (so that a SIGKILL loses none); the mapping outlives the
            # descriptor, which no other core uses.
            try:
                if core.name == "native":
                    mgr.ring = core.native.chunk_map(ring)
            finally:
                try:
                    os.close(ring)
                except OSError:
                    pass
        hello = {
            "python_version": "%d.%d.%d" % sys.version_info[:3],
            "python_executable": sys.executable,
            "core": core.name,
            "core_note": self.core_note,
            "core_warning": self.core_warning,
            "t0_ns": time.monotonic_ns(),
            "main_thread": _thread.get_ident(),
            "probes": [
                {"id": p.id, "spec": p.spec, "file": p.file, "line": p.line, "name": p.name, "role": p.role}
                for p in probes
            ],
            "sites": [[p.id for p in s.probes] for s in sites],
        }
        # Now, while our own imports are about to be undone anyway (ctypes),
        # and before a core binds the reader.
        mgr.prepare_frames(sys._getframe(), getattr(core, "native", None))
        # Leave sys.modules as the program would find it without us.
        for name in set(sys.modules) - self.mods_before:
            sys.modules.pop(name, None)
        # Set up the program's module and code before tracing starts.
        code = run = None
        if not self.native:
            try:
                code, run = self.prepare_target()
            except SystemExit as e:
                self.wire.send_json(MSG_FATAL, {"message": str(e.code)})
                return 2
        self.wire.send_json(MSG_HELLO, hello)
        atexit.register(self.seal)
        # A forked child (multiprocessing's default on Linux) must not write
        # into the parent's stream: it would duplicate sequence numbers.
        os.register_at_fork(before=self._before_fork, after_in_parent=self._after_fork_parent,
                            after_in_child=self.forked)
        hook_threads(mgr, core)
        wrap_os_exit(self)
        ext = _native_loaded()
        _children.watch(self, ext.like if ext is not None else None)
        if code is not None:
            # Planned before tracing starts: the planner calls os.path
            # functions, which a probe may name (posixpath is probed like
            # any file), and the agent's own calls must not be recorded.
            todo = [code]
            while todo:
                c = todo.pop()
                self.planner.plan_for(c)
                todo.extend(k for k in c.co_consts if type(k) is type(c))
        try:
            core.install()
        except Exception as e:  # noqa: BLE001 - a bug of ours: say so, run nothing half-traced
            try:
                core.uninstall()
            except Exception:  # noqa: BLE001
                pass
            self.wire.send_json(MSG_FATAL, {"message": (
                f"internal error while starting probe's {core.name} core ({type(e).__name__}: {e}); "
                "please report it; --core monitoring or settrace may work meanwhile")})
            return 2
        # Where the extension calls our Python code (the native core, 3.11's
        # C trace function, the monitoring core's callbacks through it) it
        # gives headroom below the program's recursion limit (headroom.rs).
        mgr.headroom = _native_headroom() and getattr(
            core, "traced_natively", core.name == "native" or getattr(core, "guard_ext", None) is not None)
        if code is not None:
            core.prepare(code)
        if run is None:
            # python runs the program once `site` is done; the core finds
            # its code as it starts (PY_START / the call event).
            hide_agent_frames_when_printed()
            return None
        try:
            run()
        except SystemExit as e:
            c = e.code
            self.exit = {"kind": "exit", "code": c if isinstance(c, int) else (0 if c is None else 1),
                         "exception": "SystemExit"}
            strip_agent_frames(e)
            raise
        except KeyboardInterrupt as e:
            self.exit = {"kind": "exception", "code": 130, "exception": "KeyboardInterrupt"}
            strip_agent_frames(e)
            sys.excepthook(type(e), e, e.__traceback__)
            # Runs before seal() (atexit is last-in, first-out): seal first.
            atexit.register(lambda: (self.seal(), _die_by_sigint()))
            raise SystemExit(130)
        except BaseException as e:  # noqa: BLE001 - the program's own crash
            self.exit = {"kind": "exception", "code": 1, "exception": type_name(type(e))}
            strip_agent_frames(e)
            sys.excepthook(type(e), e, e.__traceback__)
            raise SystemExit(1)
        return None

    def prepare_target(self):
        t = self.target
        if t[0] == "-m":
            if len(t) < 2:
                raise SystemExit("-m needs a module name")
            mod = t[1]
            import runpy
            # As `python -m`: sys.path[0] is the current directory (unless -P/-I).
            if not sys.flags.safe_path:
                sys.path[0] = os.getcwd()
            sys.argv = [t[1]] + t[2:]
            # runpy sets argv[0] to the module's file and runs it as __main__.
            try:
                mod_name, spec, code = runpy._get_module_details(mod)
            except ImportError as e:
                raise SystemExit(f"{sys.executable}: {e}")
            sys.argv[0] = spec.origin

            def run():
                run_as_main(code, spec.origin, spec, mod_name)
            return code, run
        path = t[0]
        try:
            with open(path, "rb") as fh:
                src = fh.read()
        except OSError as e:
            raise SystemExit(f"{sys.executable}: can't open file {path!r}: [Errno {e.errno}] {e.strerror}")
        if not sys.flags.safe_path:
            sys.path[0] = os.path.dirname(os.path.realpath(path))
        sys.argv = list(t)
        abspath = os.path.realpath(path)
        try:
            code = compile(src, abspath, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            # As python does: the error is the program's own outcome.
            err = e

            def run():
                raise err
            return None, run

        # (Now, not in run(): os.path code the program runs is probed.)
        loader_path = os.path.abspath(path)

        def run():
            run_as_main(code, path, None, None, abspath, loader_path)
        return code, run


def run_as_main(code, argv0_path, spec, pkg_name, filename=None, loader_path=None):
    main = type(sys)("__main__")
    # The namespace python gives __main__ differs by version, in this order
    # after the module's own five names: up to 3.13 __annotations__ = {},
    # then __builtins__ and __file__, up to 3.14 __cached__ (None for a
    # script, the spec's .pyc path for -m); 3.15 has neither.
    if sys.version_info[:2] < (3, 14):
        main.__annotations__ = {}
    main.__builtins__ = _BUILTINS
    main.__file__ = filename or argv0_path
    if sys.version_info[:2] < (3, 15):
        main.__cached__ = spec.cached if spec is not None else None
    if spec is not None:
        main.__spec__ = spec
        main.__loader__ = spec.loader
        main.__package__ = pkg_name.rpartition(".")[0]
        main.__file__ = spec.origin
    else:
        main.__spec__ = None
        # As python's own script start-up: a source loader for __main__,
        # so that __loader__.get_source('__main__') works (inspect, doctest).
        main.__loader__ = sys.modules["_frozen_importlib_external"].SourceFileLoader(
            "__main__", loader_path or os.path.abspath(argv0_path))
        main.__package__ = None
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


# The uncaught exception python printed through our excepthook wrapper
# (see hide_agent_frames_when_printed), if any, and that wrapper.
_UNCAUGHT = []
_HOOK = [None]


def native_exit():
    """How a program python ran itself ended, seen from an exit handler
    (the status itself comes from the process). python hands an uncaught
    exception to sys.excepthook: while that is our wrapper, what it saw is
    the answer. A program that installed its own hook leaves only
    sys.last_exc (3.12+) / sys.last_value, which python sets before
    printing — but which a program (pytest, code.interact) may also have
    set earlier; the recorder discounts it when the program exited 0."""
    if _UNCAUGHT:
        e = _UNCAUGHT[-1]
    elif _HOOK[0] is not None and sys.excepthook is _HOOK[0]:
        e = None
    else:
        e = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if isinstance(e, BaseException):
        code = 130 if isinstance(e, KeyboardInterrupt) else 1
        return {"kind": "exception", "code": code, "exception": type_name(type(e))}
    return {"kind": "exit", "code": 0}


def _die_by_sigint():
    # As CPython does for an uncaught KeyboardInterrupt: exit by SIGINT.
    import _signal
    sys.stdout.flush() if sys.stdout else None
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGINT)


def wrap_os_exit(runner):
    real = os._exit

    def _exit(status):
        try:
            runner.exit = {"kind": "os_exit", "code": status}
            runner.seal()
        except BaseException:  # noqa: BLE001
            pass
        real(status)
    _exit.__wrapped__ = real
    _exit.__doc__ = real.__doc__
    os._exit = _exit
