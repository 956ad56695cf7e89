# probe agent: the sys.settrace core (Python 3.11, or --core settrace) — an
# executor of capture plans.
#
# The global trace function returns a local one only for code objects that
# hold probes. In a code object whose every action offset begins a line
# (plan.CodePlan.line_mode) the local trace listens to line events, which
# the interpreter emits at each such offset on every execution; otherwise it
# turns line events off and listens to opcode events. Events at offsets the
# plan has no action for are ignored.
#
# The native core on 3.11 is this core with the extension's C trace function
# (crates/agent/src/tracer.rs) in place of CPython's trampoline, in every
# thread: it skips the events the local function would ignore, runs the hot
# paths the 3.12+ INSTRUCTION callback runs, and calls `local` for the rest.

import sys
import time

try:
    from . import optables as _opcode  # opcode's tables, carried by boot.py (no import of opcode)
except ImportError:  # these modules imported on their own (tests/python)
    import opcode as _opcode

from . import plan as _plan
from . import native as _native
from .values import INCOMPLETE, PEND, UNBOUND, PLAIN_TYPES, HUGE

_PY = sys.version_info[:2]
_RESUME = _opcode.opmap.get("RESUME", -1)
_CO_GEN = 0x20 | 0x80 | 0x200  # GENERATOR | COROUTINE | ASYNC_GENERATOR


def at_yield(co_code, lasti, yield_ops):
    """The offset of the YIELD_VALUE a settrace 'return' event suspends at,
    or -1 for a real return (3.13 reports the RESUME right after it)."""
    op = co_code[lasti]
    if op in yield_ops:
        return lasti
    if op == _RESUME and lasti >= 2 and co_code[lasti - 2] in yield_ops:
        return lasti - 2
    return -1


class SettraceCore:
    name = "settrace"

    def __init__(self, mgr, planner, native=None):
        self.mgr = mgr
        self.planner = planner
        self.gate = None  # the extension, while its frame gate runs (3.11)
        self.yield_ops = {_opcode.opmap[n] for n in ("YIELD_VALUE",) if n in _opcode.opmap}
        # The native core on 3.11: the extension's trace function in place of
        # CPython's trampoline (crates/agent/src/tracer.rs).
        self.native = native
        self.traced_natively = False
        if native is not None:
            self.name = "native"

    def install(self):
        interrupted = self.interrupted = [False]
        mgr = self.mgr
        if self.native is not None:
            # Before the manager's chunk is bound below: the extension's, which
            # its fast path fills and this core's items go into, in order.
            mgr.chunk = _native.NativeChunk(self.native)
            self.planner.use_native(self.native.table_set, self.native.table_actions)
        planner = self.planner
        plans = planner.plans
        probed = planner.probed
        pending = mgr.pending
        yield_ops = self.yield_ops
        pc = time.monotonic_ns
        chunk_append = mgr.chunk.append
        comp_append = mgr.completions.append
        deadline = mgr.deadline
        snapshot = mgr.snap  # a Ctrl-C in a repr: `incomplete`, raised after (mgr.reraise)
        intr = mgr.intr
        INCOMPLETE_ = INCOMPLETE
        getlocal = mgr.getlocal
        views = mgr.view
        run = mgr.run
        PEND_ = PEND
        UNBOUND_ = UNBOUND
        plain = PLAIN_TYPES
        mt = mgr.mt
        rearm = _PY >= (3, 12)
        stop_types = (StopIteration, StopAsyncIteration)
        fast_at = planner.fast_at

        def local(frame, event, arg):
            try:
                if event == "line" or event == "opcode":
                    lasti = frame.f_lasti
                    fast = fast_at.get(lasti)
                    if fast is not None and fast[0] is frame.f_code and not mt[0]:
                        pl = pending.pop(frame, None)
                        view = None
                        if pl is not None:
                            if type(pl) is tuple:
                                probe = pl[1]
                                view = pl[3]
                                try:
                                    if view is not None:
                                        v = view.value
                                    elif views is None:  # f_locals is harmless here (3.13+)
                                        v = frame.f_locals[probe.base]
                                    else:
                                        v = getlocal(frame, probe.base)
                                except (KeyError, ValueError):  # ValueError: a view's slot is empty
                                    v = UNBOUND_ if probe.fast else mgr.read(frame, probe)
                                except KeyboardInterrupt:  # in getlocal: see mgr.read
                                    v = INCOMPLETE_
                                    intr[0] = True
                                else:
                                    if type(v) is int:
                                        if not -HUGE < v < HUGE:
                                            v = snapshot(v)  # only its leading digits
                                    elif type(v) not in plain:
                                        v = snapshot(v)
                                item = pl[0]
                                if item[2] is PEND_:
                                    item[2] = v
                                else:
                                    comp_append((item[2][1], v))
                            else:
                                pending[frame] = pl
                                mgr.complete(frame)
                        ts = pc()
                        item = [fast[1], ts, PEND_]
                        chunk_append(item)
                        probe = fast[2]
                        if view is None or pl[1] is not probe:
                            # The previous capture's slot view serves again in the same
                            # frame (the tight loop); else one is taken (3.11/3.12).
                            view = views(frame, probe.base) if views is not None else None
                        pending[frame] = (item, probe, fast[3], view)
                        if ts > deadline[0]:
                            mgr.flush()
                        if intr[0]:
                            mgr.reraise()
                        return local
                    a = probed[id(frame.f_code)].actions.get(lasti)
                    if a is None:
                        return local
                    if a.quiet and not mt[0] and a.fire is None and not a.binds and not a.arm:
                        return local
                    run(frame, a)
                elif event == "return":
                    if frame in pending or frame in mgr.armed:
                        code = frame.f_code
                        y = at_yield(code.co_code, frame.f_lasti, yield_ops) if code.co_flags & _CO_GEN else -1
                        if y >= 0:
                            if frame in pending:
                                mgr.suspend(frame, probed[id(code)].yield_unit.get(y))
                        else:
                            mgr.frame_done(frame)
                elif event == "exception":
                    if frame in pending:
                        if isinstance(arg[1], stop_types) or (arg[1] is None and issubclass(arg[0], stop_types)):
                            plan = probed[id(frame.f_code)]
                            if frame.f_lasti in (plan.stop_offsets if issubclass(arg[0], StopIteration)
                                                 else plan.async_stop_offsets):
                                return local  # the interpreter's own StopIteration (rule 4)
                        # Thrown into the suspended frame (close(), throw()):
                        # reported at its yield (3.11/3.12) or the RESUME after it.
                        mgr.exception(frame, frame.f_lasti in probed[id(frame.f_code)].resume_offsets)
            except KeyboardInterrupt:
                interrupted[0] = True  # Python turns tracing off as it propagates
                raise
            except Exception as e:  # noqa: BLE001 - never raise into the program
                if mgr.closed:
                    return None  # sealed, or a forked child: stop tracing this frame
                mgr.internal_error(e)
            return local

        def global_trace(frame, event, arg):
            try:
                code = frame.f_code
                entry = plans.get(id(code))
                if entry is not None and entry[0] is code:
                    plan = entry[1]
                else:
                    plan = planner.plan_for(code)
                if plan is None:
                    return None
                if not plan.line_mode:
                    frame.f_trace_lines = False
                    frame.f_trace_opcodes = True
                    if rearm:
                        # 3.12/3.13 ignore f_trace_opcodes set during the call
                        # event until the trace function is installed again.
                        frame.f_trace = local
                        sys.settrace(global_trace)
                return local
            except KeyboardInterrupt:
                interrupted[0] = True  # Python turns tracing off as it propagates
                raise
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)
                return None

        self.global_trace = global_trace
        if self.native is None or not self._install_native(global_trace, local):
            sys.settrace(global_trace)
        if _PY < (3, 12):
            self._install_gate(global_trace)

    def _install_native(self, global_trace, local):
        """The native core on 3.11: the extension's trace function for this
        thread, calling `local` for every event it does not take itself.
        False (with a warning) where it cannot run here."""
        mod = self.native
        mgr = self.mgr
        getframe = sys._getframe

        def general(code, offset):
            # An event the extension hands over: the local trace function's,
            # in the frame it happened in (the extension's caller).
            return local(getframe(1), "opcode", None)

        mod.install(general, mgr.pending, mgr.completions, mgr.mt, mgr.deadline, mgr.intr, mgr.flush,
                    mgr.reraise, mgr.internal_error, PEND, mgr.frames.memory, mgr.values.max_array_bytes)
        # Function locals from their frame slots, the layout checked on this
        # frame's own local (see native.NativeCore.install).
        probe_layout_check = object()
        if not mod.use_direct_locals(getframe(), "probe_layout_check", id(probe_layout_check)):
            mgr.warnings.append("the native core could not confirm this Python build's frame layout: "
                                "function locals are read by name, which is slower")
        frame = getframe()
        # Checked for as this frame's f_trace; a trace function (ignoring
        # every event) since tracing starts before it is taken off.
        marker = frame.f_trace = lambda *args: None
        try:
            why = mod.trace_install(global_trace, local, frame, marker)
        finally:
            frame.f_trace = None
        if why is not None:
            mgr.warnings.append(f"the native trace function was not installed ({why}): every traced event "
                                "went through Python, which is slower")
            return False
        self.traced_natively = True
        return True

    def _install_gate(self, global_trace):
        """On 3.11, the extension's frame gate (crates/agent/src/gate.rs):
        tracing on in frames of probed code only, so unprobed code runs at
        full speed. The trace function and its events stay this core's."""
        try:
            mod = _native.extension()  # loaded when the core was chosen (core.py)
        except _native.Unavailable:
            return  # the core's note says why
        planner = self.planner
        mgr = self.mgr

        def decide(code):
            # A signal handler's exception that is not an Exception (sys.exit,
            # a Ctrl-C) passes: the gate raises it in the frame about to run.
            try:
                return planner.plan_for(code) is not None
            except Exception as e:  # noqa: BLE001 - traced then, as without the gate
                mgr.internal_error(e)
                return True

        why = mod.gate_install(global_trace, decide)
        if why is None:
            self.gate = mod
        else:
            self.mgr.warnings.append(f"the native frame gate was not installed ({why}): sys.settrace traced every "
                                "frame, so unprobed code ran slower")

    def prepare(self, code):
        self.planner.plan_for(code)

    def on_new_thread(self):
        # The native trace function in threads too (3.11): through
        # sys.settrace, CPython's trampoline would send every event of their
        # probed frames to Python.
        if not (self.traced_natively and self.native.trace_thread(self.global_trace)):
            sys.settrace(self.global_trace)

    def on_threads(self):
        if self.native is not None:
            self.native.use_threads(self.mgr)  # see NativeCore.on_threads

    def uninstall(self):
        interrupted = getattr(self, "interrupted", [False])[0] or (
            self.traced_natively and self.native.trace_interrupted())
        if sys.gettrace() is None and interrupted:
            self.mgr.warnings.append(
                "a Ctrl-C (KeyboardInterrupt) landed inside the tracer: Python turns sys.settrace tracing off "
                "then, so code that ran after it (handlers, finally blocks) was not traced")
        elif sys.gettrace() is None and self.mgr.recursion_limit_hit:
            pass  # Python stopped the tracer at the program's recursion limit (said already)
        elif sys.gettrace() is not self.global_trace:
            self.mgr.warnings.append(
                "the program replaced the trace function (sys.settrace) while it ran; captures after "
                "that point are missing (on Python 3.12+ the sys.monitoring core coexists with other tools)")
        sys.settrace(None)
        if self.native is not None:
            try:
                self.native.table_clear()
            except Exception:  # noqa: BLE001
                pass
        if self.gate is not None:
            depth = self.gate.gate_uninstall()
            self.gate = None
            if depth < 0:
                self.mgr.warnings.append(
                    "another frame-evaluation function (PEP 523: a JIT such as torch.compile, a debugger) replaced "
                    "probe's frame gate while the program ran: frames of probed code started meanwhile may have "
                    "run untraced, and their captures may be missing")
            elif depth:
                self.mgr.warnings.append(
                    f"the program ran {depth} calls deep with little C stack left: the frame gate stood down (its "
                    "frames nest on the C stack) and sys.settrace traced every frame from then on, which is slower")
