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
        self.tool = None
        for tid in (4, 3, 2, 1, 0, 5):
            if mon.get_tool(tid) is None:
                mon.use_tool_id(tid, "probe")
                self.tool = tid
                break
        if self.tool is None:
            raise ProbeError("every sys.monitoring tool id is taken by other tools; try --core settrace")

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
        # id -> the (trace, profile) functions its thread had when it was
        # armed: a function set from C later may have dropped its events.
        armed_with = self.armed_with = {}
        gettrace, getprofile = sys.gettrace, sys.getprofile

        def setup(code):
            plan = planner.plan_for(code)
            if plan is not None:
                set_local(tool, code, local_events)
                armed[id(code)] = code
                armed_with[id(code)] = (gettrace(), getprofile())
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

        # Every trace or profile function seen set (id -> the object, kept
        # alive so that its id stays its own). Per thread they differ, so
        # a return compares with all of them, not with the last one.
        hooks = self.hooks = {}
        for h in (gettrace(), getprofile()):
            if h is not None:
                hooks[id(h)] = h

        def on_return(code, offset, retval):
            try:
                t = gettrace()
                p = getprofile()
                if (t is not None and id(t) not in hooks) or (p is not None and id(p) not in hooks):
                    self.hooks_changed(t, p)
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

        reg = mon.register_callback
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

    def rearm(self):
        """Our local events again on every probed code object, then every
        code object re-instrumented (restart_events).

        CPython 3.12-3.15 drop a tool's INSTRUCTION events on a code object
        when another tool starts instrumenting it (CPython gh-157900: the
        per-instruction table of several tools starts empty): a program
        that calls sys.setprofile (cProfile), sys.settrace (a debugger,
        coverage) or sys.monitoring.set_events would silently lose every
        later capture. Instrumenting again after the change restores them.
        guard()'s wrappers do the same inline."""
        if self.mgr.closed or not self.guarding:
            return
        try:
            set_local, tool, events = self.mon.set_local_events, self.tool, self.local_events
            for code in list(self.armed.values()):
                set_local(tool, code, events)
            self.mon.restart_events()
        except Exception as e:  # noqa: BLE001 - the program freed our tool id: uninstall says so
            self.rearm_errors.append(e)

    def guard(self):
        """Wraps the program's calls that change other tools' events (see
        rearm) so that ours are restored right after each."""
        self.guarding = True
        self.rearm_errors = []
        self.wrapped = []
        core, mon = self, self.mon
        for owner, names in _GUARDED:
            for name in names:
                real = getattr(owner, name, None) if owner is not None else None
                if real is None:
                    continue

                def make(real):
                    mgr, armed, hooks, errors = core.mgr, core.armed, core.hooks, core.rearm_errors
                    set_local, restart, tool, events = mon.set_local_events, mon.restart_events, core.tool, \
                        core.local_events
                    gettrace, getprofile = sys.gettrace, sys.getprofile

                    def wrapper(*args, **kwargs):
                        try:
                            return real(*args, **kwargs)
                        finally:
                            # rearm(), inline: a trace function just set
                            # would see (and a debugger stop in) a call.
                            if core.guarding and not mgr.closed:
                                try:
                                    for code in list(armed.values()):
                                        set_local(tool, code, events)
                                    restart()
                                except Exception as e:  # noqa: BLE001 - see rearm
                                    errors.append(e)
                                t = gettrace()
                                p = getprofile()
                                if t is not None:
                                    hooks[id(t)] = t
                                if p is not None:
                                    hooks[id(p)] = p
                    wrapper.__wrapped__ = real
                    wrapper.__name__ = real.__name__
                    wrapper.__qualname__ = getattr(real, "__qualname__", real.__name__)
                    wrapper.__doc__ = real.__doc__
                    return wrapper
                w = make(real)
                setattr(owner, name, w)
                self.wrapped.append((owner, name, real, w))

    def hooks_changed(self, *seen):
        """A trace or profile function was set or cleared without the
        wrapped calls (PyEval_SetTrace from C: coverage's CTracer, a
        debugger): events may have been dropped since (see rearm) — from
        code armed before it, not from code armed with it already set."""
        now = tuple(seen)
        if not self.hook_warned and any(w != now for w in self.armed_with.values()):
            self.hook_warned = True
            self.mgr.warnings.append(
                "a trace or profile function was set from C code while the program ran (a debugger, coverage "
                "or a profiler): CPython 3.12-3.15 drop other tools' INSTRUCTION events then (CPython issue "
                "gh-157900); probe re-armed its events at the next return from probed code, and captures "
                "between those points may be missing")
        for h in seen:
            if h is not None:
                self.hooks[id(h)] = h
        self.rearm()
        for k in self.armed_with:
            self.armed_with[k] = now

    hook_warned = False
    guarding = False

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
        self.guarding = False
        for owner, name, real, w in getattr(self, "wrapped", ()):
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
