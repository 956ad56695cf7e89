# probe agent: which core runs, and why (coverage.py's core.py is the model).
#
# An explicit choice that cannot be honoured is an error (ProbeError, reported
# before the program runs); an automatic fallback is a note that gives the
# reason, shown by the recorder and written into the log.

import sys

from .resolve import ProbeError
from .pytracer import SettraceCore
from .sysmon import MonitoringCore
from . import native as _native


def choose(want):
    """(core name, note or None) for `--core want` on this interpreter."""
    has_mon = hasattr(sys, "monitoring")
    if want == "monitoring":
        if not has_mon:
            raise ProbeError(
                f"--core monitoring needs Python 3.12+ (sys.monitoring); this is Python {sys.version.split()[0]}")
        return "monitoring", None
    if want == "settrace":
        return "settrace", None
    if want == "native":
        try:
            _native.load()
        except _native.Unavailable as e:
            raise ProbeError(f"--core native: {e}") from None
        return "native", None
    if has_mon:
        if all(sys.monitoring.get_tool(i) is not None for i in range(6)):
            return "settrace", "every sys.monitoring tool id is taken; fell back to sys.settrace"
        try:
            _native.load()
        except _native.Unavailable as e:
            return "monitoring", f"{e}; using the sys.monitoring core (Python)"
        return "native", None
    return "settrace", f"Python {sys.version.split()[0]} has no sys.monitoring; using sys.settrace"


def make(name, mgr, planner):
    if name == "native":
        return _native.NativeCore(mgr, planner)
    if name == "monitoring":
        return MonitoringCore(mgr, planner)
    return SettraceCore(mgr, planner)
