# probe agent: the sys.monitoring core (Python 3.12+) — an executor of
# capture plans.
#
# INSTRUCTION events are enabled only on code objects that hold probes
# (PY_START finds probed code as it first starts — the program's own
# included, since python runs it after the agent started — and is switched
# off once all is found; `prepare` plans ahead where the runner compiled
# the program itself). Every instruction
# offset without an action in the plan returns DISABLE on its first event,
# so afterwards the interpreter calls us exactly where the plan acts. A
# quiet completion (plan.Action.quiet) is disabled too while one thread
# runs, and enabled again (restart_events) when a thread starts.

import sys
import time

from . import plan as _plan
from .resolved import ProbeError
from .values import INCOMPLETE, PEND, UNBOUND, PLAIN_TYPES, HUGE

STMT = _plan.STMT


class _Monitoring:
    """sys.monitoring as the agent found it. The core calls these; the
    program's view of some of them is wrapped once the core runs (guard)."""

    def __init__(self, mon):
        for n in dir(mon):
            if not n.startswith("__"):
                setattr(self, n, getattr(mon, n))


# Calls after which CPython 3.12-3.15 may drop our INSTRUCTION events
# (MonitoringCore.guard).
_GUARDED = ((sys, ("settrace", "setprofile", "_settraceallthreads", "_setprofileallthreads")),
            (getattr(sys, "monitoring", None), ("set_events", "set_local_events", "free_tool_id", "clear_tool_id")))


class MonitoringCore:
    name = "monitoring"

    def __init__(self, mgr, planner):
        self.mgr = mgr
        self.planner = planner
        mon = self.mon = _Monitoring(sys.monitoring)
        self.wrapped = []  # (owner, name, original, wrapper) while guard() runs
        self.tool = None
        for tid in (4, 3, 2, 1, 0, 5):
            if mon.get_tool(tid) is None:
                mon.use_tool_id(tid, "probe")
                self.tool = tid
                break
        if self.tool is None:
            raise ProbeError("every sys.monitoring tool id is taken by other tools; try --core settrace")

    def headroom(self, callback):
        """The callback as registered: with headroom below the program's
        recursion limit (so that a program at its limit meets it where it
        would without probe) where the extension is loaded and found the
        thread state's depth counter (native.depth_counter), else itself."""
        ext = self.guard_ext
        return ext.headroom(callback) if ext is not None and self.depth_counter else callback

    def install(self):
        mon, E, mgr, tool = self.mon, self.mon.events, self.mgr, self.tool
        planner = self.planner
        DISABLE = mon.DISABLE
        getframe = sys._getframe
        probed = planner.probed
        mt = mgr.mt
        pending = mgr.pending
        set_local = mon.set_local_events
        local_events = E.INSTRUCTION | E.PY_RETURN | E.PY_YIELD
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
        stop_types = (StopIteration, StopAsyncIteration)

        self.local_events = local_events
        armed = self.armed = {}  # id -> code object with our local events

        def setup(code):
            plan = planner.plan_for(code)
            if plan is not None:
                set_local(tool, code, local_events)
                armed[id(code)] = code
            return plan

        self.setup = setup

        def on_start(code, offset):
            try:
                if planner.holds_probes(code.co_filename):
                    # A probed file starts running (its module code, first):
                    # plan every code object compiled with it now, so that
                    # PY_START — a Python call at the first start of every
                    # code object, thousands in `import numpy` — goes off as
                    # soon as the files that hold probes have started.
                    self.prepare(code)
                elif not planner.unfound:
                    self.maybe_stop_looking()
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)
            return DISABLE

        fast_at = planner.fast_at

        def on_instr(code, offset):
            try:
                fast = fast_at.get(offset)
                if fast is not None and fast[0] is code and not mt[0]:
                    # The tight loop, kept to the fewest operations: one LHS
                    # local; complete the frame's pending capture, reserve.
                    frame = getframe(1)
                    pl = pending.pop(frame, None)
                    view = None
                    if pl:  # (an empty one is the native core's emptied Waiting)
                        if type(pl) is not list:
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
                                # A local is unbound; a module/class name may still be a global.
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
                            if item[2] is PEND_ or type(item) is not list:
                                item[2] = v  # (a native Slot completes a sent placeholder itself)
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
                    return None
                plan = probed.get(id(code))
                if plan is None:
                    return DISABLE
                a = plan.actions.get(offset)
                if a is None:
                    return DISABLE
                if a.quiet and not mt[0] and a.fire is None and not a.binds and not a.arm:
                    return DISABLE
                run(getframe(1), a)
                return None
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)
                return None

        self.on_instr = on_instr  # the native core's general path (native.py)

        def on_return(code, offset, retval):
            try:
                if id(code) in probed:
                    frame = getframe(1)
                    if frame in pending or frame in mgr.armed:
                        mgr.frame_done(frame)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)

        def on_yield(code, offset, retval):
            try:
                if pending:
                    plan = probed.get(id(code))
                    if plan is not None:
                        frame = getframe(1)
                        if frame in pending:
                            mgr.suspend(frame, plan.yield_unit.get(offset))
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)

        def on_raise(code, offset, exc):
            try:
                if pending:
                    frame = getframe(1)
                    if frame in pending:
                        if isinstance(exc, stop_types):
                            plan = probed.get(id(code))
                            if plan is not None and offset in (plan.stop_offsets if isinstance(exc, StopIteration)
                                                               else plan.async_stop_offsets):
                                return  # the interpreter's own StopIteration (rule 4)
                        mgr.exception(frame)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)

        def on_throw(code, offset, exc):
            # An exception thrown into a suspended generator or coroutine
            # (close(), throw()), as it resumes: rule 4 with the values the
            # waiting captures had at the suspension (manager.complete).
            try:
                if pending:
                    frame = getframe(1)
                    if frame in pending:
                        if isinstance(exc, StopIteration):
                            plan = probed.get(id(code))
                            if plan is not None and offset in plan.stop_offsets:
                                return
                        mgr.exception(frame, thrown=True)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)

        def on_unwind(code, offset, exc):
            try:
                if pending or mgr.armed:
                    frame = getframe(1)
                    if frame in pending or frame in mgr.armed:
                        mgr.frame_done(frame, raised=True)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                mgr.internal_error(e)

        wrap = self.headroom

        def reg(tool, event, callback):
            mon.register_callback(tool, event, wrap(callback))
        reg(tool, E.PY_START, on_start)
        reg(tool, E.INSTRUCTION, on_instr)
        reg(tool, E.PY_RETURN, on_return)
        reg(tool, E.PY_YIELD, on_yield)
        reg(tool, E.RAISE, on_raise)
        reg(tool, E.PY_THROW, on_throw)
        reg(tool, E.PY_UNWIND, on_unwind)
        self.global_events = E.PY_START | E.RAISE | E.PY_THROW | E.PY_UNWIND
        mon.set_events(tool, self.global_events)
        self.guard()

    def guard(self):
        """CPython 3.12-3.15 drop a tool's INSTRUCTION events on a code
        object when another tool starts instrumenting it (CPython issue
        gh-157900): a program that calls sys.setprofile (cProfile),
        sys.settrace (a debugger) or sys.monitoring.set_events would
        silently lose every later capture. While the core runs, those calls
        are the extension's builtins (crates/agent/src/guard.rs), which
        call the original and then set our local events off and on again
        on every probed code object. Without the extension (the Python
        core where it cannot load), they are left alone."""
        ext = self.guard_ext
        if ext is None:
            return
        try:
            ext.guard_set(self.mon.set_local_events, self.mon.get_tool, self.tool, self.local_events, self.armed)
            for owner, names in _GUARDED:
                for name in names:
                    real = getattr(owner, name, None) if owner is not None else None
                    if real is None:
                        continue
                    w = ext.like(real, ext.guard_wrap(name, real))
                    setattr(owner, name, w)
                    self.wrapped.append((owner, name, real, w))
        except Exception as e:  # noqa: BLE001 - unguarded then, as before
            self.mgr.internal_error(e)

    guard_ext = None  # the extension, for guard() (core.make; the native core's own)
    depth_counter = False  # whether it found the recursion depth counter (native.HEADROOM)

    def prepare(self, code):
        # The program's own code objects are all known before it runs: plan
        # them now, so that PY_START (which costs every call a little even
        # where it is disabled) is needed only for probes in other modules.
        todo = [code]
        while todo:
            c = todo.pop()
            self.setup(c)
            todo.extend(k for k in c.co_consts if type(k) is type(c))
        self.maybe_stop_looking()

    def maybe_stop_looking(self):
        E = self.mon.events
        if not self.planner.unfound and self.global_events & E.PY_START:
            self.global_events &= ~E.PY_START
            self.mon.set_events(self.tool, self.global_events)

    def on_new_thread(self):
        pass

    def on_threads(self):
        # Quiet completions disabled while one thread ran must run again:
        # another thread may now change a value before the next event point.
        try:
            self.mon.restart_events()
        except Exception as e:  # noqa: BLE001
            self.mgr.internal_error(e)

    def uninstall(self):
        # set_events(tool, 0) clears only the global events, and before 3.14
        # free_tool_id leaves callbacks and per-code events in place: without
        # this, code that already had local events (in daemon threads after
        # the seal, or in a forked child) would go on calling the callbacks.
        mon, tool = self.mon, self.tool
        if self.guard_ext is not None:
            try:
                self.guard_ext.guard_off()
            except Exception:  # noqa: BLE001
                pass
        for owner, name, real, w in self.wrapped:
            try:
                if getattr(owner, name, None) is w:
                    setattr(owner, name, real)
            except Exception:  # noqa: BLE001
                pass
        try:
            # The program may have freed our tool id (3.14+ then drops its
            # callbacks and events; 3.12/3.13 keep them) or cleared its
            # events: what ran after that was not traced — say so, as the
            # settrace core does when the program replaces its trace function.
            if mon.get_events(tool) != self.global_events or mon.get_tool(tool) not in ("probe", None):
                self.mgr.warnings.append(
                    f"the program freed or reused sys.monitoring tool id {tool} (probe's) or switched off its "
                    "events while it ran; captures after that point are missing")
        except Exception:  # noqa: BLE001
            pass
        try:
            mon.set_events(tool, 0)
            E = mon.events
            for ev in (E.PY_START, E.INSTRUCTION, E.PY_RETURN, E.PY_YIELD, E.RAISE, E.PY_THROW, E.PY_UNWIND):
                mon.register_callback(tool, ev, None)
            for code, plan in list(self.planner.plans.values()):
                if plan is not None:
                    mon.set_local_events(tool, code, 0)
            mon.free_tool_id(tool)
        except Exception:  # noqa: BLE001
            pass
