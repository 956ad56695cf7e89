# probe agent: which core runs, and why (coverage.py's core.py is the model).
#
# An explicit choice that cannot be honoured is an error (ProbeError, reported
# before the program runs); an automatic fallback is a note that gives the
# reason, shown by the recorder and written into the log.

import sys

from .resolved import ProbeError
from .sysmon import MonitoringCore
from . import native as _native


def choose(want):
    """(core name, note or None, whether the note is a warning) for
    `--core want` on this interpreter. A fallback for speed (3.11 has no
    sys.monitoring) is a note; a native core that cannot load where it
    should is a warning."""
    has_mon = hasattr(sys, "monitoring")
    if want == "monitoring":
        if not has_mon:
            raise ProbeError(
                f"--core monitoring needs Python 3.12+ (sys.monitoring); this is Python {sys.version.split()[0]}")
        try:
            _native.extension()  # its guard only (sysmon.py); fine without
        except _native.Unavailable:
            pass
        return "monitoring", None, False
    if want == "settrace":
        if has_mon:
            try:
                # For the builtin sys.excepthook (runner.py); loaded, it
                # also packs number lists and writes the wire (same bytes).
                _native.extension()  # fine without
            except _native.Unavailable:
                pass
            return "settrace", None, False
        why = _gate_missing()
        return "settrace", (f"sys.settrace traces every frame: {why}" if why else None), False
    if want == "native":
        try:
            _native.load()
        except _native.Unavailable as e:
            raise ProbeError(f"--core native: {e}") from None
        return "native", None, False
    if has_mon:
        if all(sys.monitoring.get_tool(i) is not None for i in range(6)):
            return "settrace", "every sys.monitoring tool id is taken; fell back to sys.settrace", True
        try:
            _native.load()
        except _native.Unavailable as e:
            return "monitoring", f"{e}; using the sys.monitoring core (Python)", True
        return "native", None, False
    version = sys.version.split()[0]
    try:
        _native.extension()
    except _native.Unavailable as e:
        # The native core could not load: a warning that starts with why, as
        # on 3.12+.
        return "settrace", (f"{e}; using the sys.settrace core (Python; {version} has no sys.monitoring) in every "
                            "frame, which is slower"), True
    return "native", (f"Python {version} has no sys.monitoring: the native core runs as a C trace function (in "
                      "sys.settrace's place), in frames of probed code only (native frame gate)"), False


def _gate_missing():
    """Why the settrace core on 3.11 cannot trace probed frames only (the
    extension's frame gate, pytracer.py), or None when it can. Loads the
    extension now: its file is closed once the core is chosen."""
    try:
        _native.extension()
    except _native.Unavailable as e:
        return f"{e}; unprobed code runs slower"
    return None


def make(name, mgr, planner):
    if name == "native" and not hasattr(sys, "monitoring"):
        from . import pytracer  # loaded on demand (boot.py)
        return pytracer.SettraceCore(mgr, planner, native=_native.extension())
    if name == "native":
        return _native.NativeCore(mgr, planner)
    if name == "monitoring":
        core = MonitoringCore(mgr, planner)
        core.guard_ext = _native.loaded()
        core.depth_counter = _native.HEADROOM
        return core
    from . import pytracer  # loaded on demand (boot.py)
    return pytracer.SettraceCore(mgr, planner)
