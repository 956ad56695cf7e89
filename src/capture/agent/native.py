# probe agent: the native core — the sys.monitoring core (sysmon.py) with
# its hot path executed by an extension module written in Rust
# (crates/agent): the plan's fast action, one LHS local captured per
# statement, and an action that only completes it (a module-level `for`
# header) — runs without Python code. Everything else — every other
# action, every other event, and each case of the fast action the extension
# does not take (threads, an unbound local, a value that needs a snapshot)
# — is the monitoring core's, handed over before anything changed, so the
# plan and the manager stay the one place the semantics live.
#
# The recorder embeds the extension and hands it over in an in-memory file
# of its own (config `native_fd`, set here by main.py), loaded through
# /proc/self/fd without a copy, never from the file system. On 3.11, which
# has no sys.monitoring, the native core is the settrace core with the
# extension's C trace function in place of CPython's trampoline, running
# the same hot path (pytracer.py, crates/agent/src/tracer.rs), behind the
# extension's frame gate (gate.rs).

import os
import sys

from . import plan as _plan
from .sysmon import MonitoringCore
from .values import PEND

IMAGE_FD = -1  # the in-memory file holding the extension (config `native_fd`)
IMAGE_ERROR = None  # why the recorder could not make that file (`native_error`)
_module = None
_failure = None
# Whether the extension found where this interpreter keeps a thread's
# remaining recursion depth (see depth_counter).
HEADROOM = False


class Unavailable(Exception):
    """Why the native core cannot run here (a one-line reason)."""


def release():
    """Closes the extension's file, loaded or not (the program must not
    find it among its descriptors)."""
    global IMAGE_FD
    fd, IMAGE_FD = IMAGE_FD, -1
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def load():
    """The extension module for the native core, loaded once (on 3.11 the
    settrace core runs it as its trace function: pytracer.py);
    Unavailable says why not."""
    return extension()


def loaded():
    """The extension module if it was loaded, else None."""
    return _module


def extension():
    """The extension module on any supported CPython (3.11 uses its frame
    gate only: pytracer.py), loaded once; Unavailable says why not."""
    global _module, _failure
    if _module is not None:
        return _module
    if _failure is None:
        try:
            _module = _load()
            return _module
        except Unavailable as e:
            _failure = str(e)
        finally:
            release()
    raise Unavailable(_failure)


def _load():
    if sys.implementation.name != "cpython":
        raise Unavailable(f"the native core needs CPython; this is {sys.implementation.name}")
    if IMAGE_ERROR:
        raise Unavailable(f"cannot make an in-memory file for the native core: {IMAGE_ERROR}")
    if IMAGE_FD < 0:
        raise Unavailable("this recorder did not hand over the native core")
    # The import system's own classes, which every CPython has loaded at
    # start-up (importlib.machinery would import warnings and more: ~0.4 ms).
    try:
        ExtensionFileLoader = sys.modules["_frozen_importlib_external"].ExtensionFileLoader
        ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec
    except (KeyError, AttributeError):
        from importlib.machinery import ExtensionFileLoader, ModuleSpec
    try:
        path = f"/proc/self/fd/{IMAGE_FD}"
        loader = ExtensionFileLoader("_probe_native", path)
        mod = loader.create_module(ModuleSpec("_probe_native", loader, origin=path))
        loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 - ImportError, OSError: a one-line reason
        raise Unavailable(f"the native core did not load ({type(e).__name__}: {e})") from None
    global HEADROOM
    HEADROOM = depth_counter(mod)
    _plan.use_c_realpath(mod.realpath)
    return mod


def headroom_ready():
    """Whether the extension gives our Python code headroom below the
    program's recursion limit (depth_counter confirmed the counter)."""
    return HEADROOM


def depth_counter(mod):
    """Finds where the thread state keeps the remaining recursion depth
    (crates/agent/src/headroom.rs), so that the extension's calls of our
    Python code get headroom below the program's limit: of the ints
    followed by the limit, the one that is less one Python frame deeper
    (by one; by two where 3.11 calls through the frame gate). Unconfirmed,
    no headroom is given."""
    try:
        at = mod.recursion_locate(sys.getrecursionlimit())
        here = mod.recursion_read(at)
        deeper = (lambda: mod.recursion_read(at))()
        found = [a for a, x, y in zip(at, here, deeper) if x - y in (1, 2)]
        if len(found) == 1:
            mod.recursion_use(found[0])
            return True
    except Exception:  # noqa: BLE001 - only a safeguard: none then
        pass
    return False


class NativeChunk:
    """The manager's chunk when the native core runs: the extension's binary
    chunk (crates/agent/src/chunk.rs), which the fast path fills without
    Python objects and the Python core appends its items to, in order."""
    __slots__ = ("append", "clear", "encode", "items", "detach", "_len")

    def __init__(self, mod):
        self.append = mod.chunk_append
        self.clear = mod.chunk_clear
        self.detach = mod.chunk_detach
        self.encode = mod.chunk_encode  # (completions) -> the CHUNK_BIN payload, a tuple of parts
        self.items = mod.chunk_items
        self._len = mod.chunk_len

    def __len__(self):
        return self._len()


class NativeCore(MonitoringCore):
    name = "native"

    def __init__(self, mgr, planner):
        self.native = self.guard_ext = load()
        self.depth_counter = HEADROOM
        super().__init__(mgr, planner)

    def install(self):
        mgr = self.mgr
        # Before the monitoring core's install, whose callbacks keep
        # chunk.append.
        mgr.chunk = NativeChunk(self.native)
        self.planner.use_native(self.native.table_set)
        super().install()
        cb = self.native.install(self.on_instr, mgr.pending, mgr.completions, mgr.mt, mgr.deadline, mgr.intr,
                                 mgr.flush, mgr.reraise, mgr.internal_error, PEND, mgr.frames.memory,
                                 mgr.values.max_array_bytes)
        self.mon.register_callback(self.tool, self.mon.events.INSTRUCTION, cb)
        # Function locals from their frame slots where the layout is known
        # (3.12+), checked here on this frame's own local: an object that
        # only this local refers to (its id is what is passed), so that no
        # other slot can be taken for it.
        probe_layout_check = object()
        self.direct_locals = self.native.use_direct_locals(sys._getframe(), "probe_layout_check",
                                                            id(probe_layout_check))
        if not self.direct_locals and (3, 12) <= sys.version_info[:2] <= (3, 15):
            # A build whose frames differ from CPython's own (the records are
            # the same, read by name instead).
            mgr.warnings.append("the native core could not confirm this Python build's frame layout: "
                                "function locals are read by name, which is slower")

    def on_threads(self):
        # The extension takes the threads' events too: it looks at the
        # manager's lock before each, and its records carry their thread.
        self.native.use_threads(self.mgr)
        super().on_threads()

    def uninstall(self):
        super().uninstall()
        try:
            self.native.table_clear()
        except Exception:  # noqa: BLE001
            pass
