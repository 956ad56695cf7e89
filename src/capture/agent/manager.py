# probe agent: the capture manager — seq reservation, deferred captures,
# flushing to the wire. Shared by every Python core; the cores call it with
# the plan's actions (plan.Action) and never decide semantics themselves.
#
# Records are appended to `chunk` in trigger order (an atomic list append
# under the GIL), so a record's position in the stream *is* its sequence
# number; the recorder counts. A deferred (LHS) capture is a slot in its
# item filled in later; if the chunk is flushed first, the slot goes out as
# a placeholder (T_PENDING, token) and the value follows as a completion.
#
# A frame's pending captures are, in `pending[frame]`, either a tuple
# (item, probe, unit, view) — the tight loop's single LHS local, cheapest
# to build — or the native core's Waiting, which reads the same (native.py),
# or a list of entries [item, index, probe, unit, level(, raised)].
#
# With the native core, `chunk` is its binary chunk (native.NativeChunk):
# the Python core's items go in it in order, and a Waiting's item is a
# Slot whose [2] reads and writes the record's slot as a list's would.

import sys
import _thread
# Bound now, not looked up on `time` at each capture: a program that
# patches time.monotonic_ns (freezegun) must not set our timestamps.
from time import monotonic_ns as _monotonic_ns

from . import frames as _frames
from . import plan as _plan
from .values import (PEND, UNBOUND, RAISED_UNBOUND, INCOMPLETE, T_RAISED, T_PENDING, Values, error_value)
from .wire import MSG_CHUNK, MSG_CHUNK_BIN
import marshal

_PY = sys.version_info[:2]
STMT, BIND = _plan.STMT, _plan.BIND
# marshal version pinned on the wire: the recorder's decoder knows version
# 4; newer Pythons default to newer versions (3.15: 6).
MARSHAL_VERSION = 4
# Records the recorder's shared ring holds (src/wire/ring.rs CAPACITY).
RING_RECORDS = 16_384



def enclosing_cell(frame, name, getlocal):
    """The free variable `name` of a class body's frame: the value of the
    cell it shares with the function frame that runs the class statement
    (KeyError when unbound). 3.12+'s frame APIs do not expose a class
    body's free variables (its f_locals is the namespace), but that frame is
    its caller, lexically its parent: `__build_class__` runs the body right
    there (or a few frames up, under a wrapped `__build_class__`). A class
    nested in a class passes the name through; without such a caller:
    KeyError."""
    code = frame.f_code
    back = frame.f_back
    while name in code.co_freevars:
        # The nearest caller running the class code's lexical parent: a
        # wrapped `__build_class__` puts its own frames in between.
        for _ in range(_CLASS_CALLERS):
            if back is None or any(c is code for c in back.f_code.co_consts):
                break
            back = back.f_back
        else:
            break
        if back is None:
            break
        parent = back.f_code
        if parent.co_flags & 0x1:  # CO_OPTIMIZED: a function frame holds the cell
            return getlocal(back, name)
        code, back = parent, back.f_back
    raise KeyError(name)


# How many callers enclosing_cell looks through for a class's parent frame.
_CLASS_CALLERS = 16

class _NoLock:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


NO_LOCK = _NoLock()


def as_list(pl):
    """Pending captures of a frame as a list of entries. A tuple (the fast
    paths' one capture) or the native core's Waiting (which reads the same,
    and is false once empty) becomes one entry."""
    if type(pl) is list:
        return pl
    if not pl:
        return []
    return [[pl[0], 2, pl[1], pl[2], STMT]]


class CaptureManager:
    def __init__(self, wire, sites, values):
        self.wire = wire
        self.sites = sites
        self.values = values
        self.snapshot = values.snapshot
        self.max_bytes = values.max_bytes
        self.pending = {}        # frame -> tuple | list of entries
        self.armed = {}          # frame -> set of loop ids armed at their binding (guarded binds)
        self.chunk = []          # rebound only before a core installs (native.py): the cores cache its append
        self.completions = []    # never rebound either
        self.next_token = 0
        self.flush_interval = 25_000_000  # ns
        self.deadline = [_monotonic_ns() + self.flush_interval]
        self.threaded = False
        self.mt = [False]        # threads exist (mirrors `threaded` for closures)
        self.lock = _thread.allocate_lock()
        self.inflight = []       # pending lists taken out while their values are read
        self.sent = 0
        self.warnings = []
        self.recursion_limit_hit = False  # internal_error saw the program's RecursionError
        self.headroom = False  # the core's Python code gets headroom below the limit (runner.py)
        # 3.13 (only: 3.12 and 3.14+ raise GeneratorExit in the frame) may
        # close a suspended generator without any event in its frame: keep
        # the value `raised` would read at each suspension.
        self.silent_close = _PY == (3, 13)
        # Locals are read through this (frames.py: f_locals has side effects
        # on 3.11/3.12); `prepare_frames` switches it to the memory reader.
        self.frames = _frames.FrameReader()
        self.getlocal = self.frames.get
        self.view = self.frames.view
        # A Ctrl-C caught while a value was read, to raise again (reraise).
        self.intr = [False]
        # Whether the chunk's records are in the recorder's shared ring
        # (native core; runner.py).
        self.ring = False
        # The pipe is closed and cannot be opened again (see _flush); then,
        # once the ring is full, on_unreachable (the runner's) stops tracing.
        self.unreachable = False
        self.on_unreachable = None
        # Set once the run is sealed (or the recorder is gone, or in a
        # forked child): nothing is captured or sent any more (see close()).
        self.closed = False

    def prepare_frames(self, frame, native=None):
        """Checks the frame layout on a live frame and, where needed, reads
        locals from frame memory from now on (through the native core's
        module `native` when it is loaded)."""
        self.frames.prepare(frame, native)
        self.getlocal = self.frames.get
        self.view = self.frames.view

    def internal_error(self, e):
        if isinstance(e, RecursionError) and not self.headroom:
            # Where our Python code has no headroom (the settrace core, or
            # the depth counter unconfirmed), the program's recursion limit,
            # reached with our frames on top.
            if not self.recursion_limit_hit:
                self.recursion_limit_hit = True
                self.warnings.append(
                    "the program reached its recursion limit inside probe's tracer, whose frames count "
                    "against it: the program may have met its RecursionError a few frames earlier than "
                    "without probe, and captures near the limit are missing (the native and monitoring "
                    "cores give the tracer headroom there where the extension loads; the settrace core "
                    "cannot)")
            return
        if len(self.warnings) < 20:
            self.warnings.append(f"internal error in the tracer (the program was not affected): {e!r}")

    def after_fork_in_child(self):
        """A forked child starts with a fresh lock (the parent's may have been
        held by another thread at the fork) and no state of the parent's."""
        self.lock = _thread.allocate_lock()
        self.unreachable = False
        self.pending.clear()
        self.armed.clear()
        del self.inflight[:]
        if self.ring:
            self.chunk.detach()  # the shared ring is the parent's: never write into it
        self.chunk.clear()
        del self.completions[:]

    # -- reading values ---------------------------------------------------
    def read(self, frame, probe):
        """The probe's current value in frame, snapshotted, or a status tag.
        A Ctrl-C landing while the value is read (a repr runs Python code)
        leaves the capture `incomplete`; the KeyboardInterrupt is raised
        again once the bookkeeping in hand is done (`reraise`)."""
        try:
            return self._read(frame, probe)
        except KeyboardInterrupt:
            self.intr[0] = True
            return INCOMPLETE

    def snap(self, v):
        """snapshot(v) for the cores' fast paths, with read's Ctrl-C rule."""
        try:
            return self.snapshot(v)
        except KeyboardInterrupt:
            self.intr[0] = True
            return INCOMPLETE

    def reraise(self):
        """Raises the KeyboardInterrupt a read caught, if any: the program's
        Ctrl-C, delivered at a point where our state is consistent."""
        if self.intr[0]:
            self.intr[0] = False
            raise KeyboardInterrupt

    def _read(self, frame, probe):
        base = probe.base
        try:
            kind = probe.kind
            if kind == "local":
                v = self.getlocal(frame, base)
            elif kind == "global":
                g = frame.f_globals
                v = g[base] if base in g else frame.f_builtins[base]
            elif kind == "classfree":
                try:
                    v = self.getlocal(frame, base)
                except KeyError:
                    v = enclosing_cell(frame, base, self.getlocal)
            elif kind == "classcell":
                v = enclosing_cell(frame, base, self.getlocal)
            else:
                try:
                    v = self.getlocal(frame, base)
                except KeyError:
                    g = frame.f_globals
                    v = g[base] if base in g else frame.f_builtins[base]
        except KeyError:
            return UNBOUND
        except KeyboardInterrupt:
            raise  # the program's Ctrl-C, never a value (see read)
        except BaseException as e:  # noqa: BLE001
            return error_value(e, self.max_bytes)
        return self._attrs(v, probe)

    def _attrs(self, v, probe):
        if len(probe.parts) > 1:
            try:
                for attr in probe.parts[1:]:
                    v = getattr(v, attr)
            except KeyboardInterrupt:
                raise  # Ctrl-C landed in our code: it is the program's, never a value
            except BaseException as e:  # noqa: BLE001 - a property may raise anything
                return error_value(e, self.max_bytes)
        return self.snapshot(v)

    def _final(self, frame, entry, raised):
        v = self.read(frame, entry[2])
        if raised and v is not INCOMPLETE:
            v = RAISED_UNBOUND if v is UNBOUND else (T_RAISED, v)
        return v

    def _settle(self, entry, v):
        item, idx = entry[0], entry[1]
        if item[idx] is PEND or type(item) is not list:
            # A native core's Slot completes a placeholder already sent
            # itself (into its chunk and shared ring).
            item[idx] = v
        else:
            self.completions.append((item[idx][1], v))

    # -- executing plan actions -------------------------------------------
    def run(self, frame, a):
        """Executes one plan.Action in `frame` (the general path)."""
        if a.complete and (self.threaded or not a.quiet) and frame in self.pending:
            self.complete(frame, a.complete)
        if a.arm:
            s = self.armed.get(frame)
            if s is None:
                s = self.armed[frame] = set()
            s.update(a.arm)
        for site, guard, now in a.binds:
            if guard >= 0:
                s = self.armed.get(frame)
                if not s or guard not in s:
                    continue
                s.discard(guard)
            self.trigger(frame, site, a.unit, BIND, now)
        if a.fire is not None:
            self.trigger(frame, a.fire, a.unit, STMT, False)

    def trigger(self, frame, site, unit, level, now):
        """A trigger of `site`: one batch. RHS probes are read now; LHS probes
        reserve their slot and complete later (at once when `now`)."""
        if self.threaded:
            # Reserving seq (the append) and taking the timestamp must be one
            # step, or two threads could leave timestamps decreasing along seq.
            with self.lock:
                ts = _monotonic_ns()
                item = [~site.id, ts, _thread.get_ident()]
                self._fill(frame, site, item, unit, level, now)
                self.chunk.append(item)
        else:
            ts = _monotonic_ns()
            item = [site.id, ts]
            self._fill(frame, site, item, unit, level, now)
            self.chunk.append(item)
        if ts > self.deadline[0]:
            self.flush()
        if self.intr[0]:
            self.reraise()

    def _fill(self, frame, site, item, unit, level, now):
        read = self.read
        for p in site.rhs:
            item.append(read(frame, p))
        if site.lhs:
            if now:
                for p in site.lhs:
                    item.append(read(frame, p))
                return
            pl = self.pending.get(frame)
            if pl is None:
                pl = self.pending[frame] = []
            elif type(pl) is not list:
                pl = self.pending[frame] = as_list(pl)
            for p in site.lhs:
                pl.append([item, len(item), p, unit, level])
                item.append(PEND)

    # -- completing -------------------------------------------------------
    def _take(self, frame, level=STMT):
        """Takes a frame's pending captures (of `level`: STMT = all) out of
        `pending`. With threads, a flush in another thread must still see
        them (it turns unfinished slots into placeholders), so they wait in
        `inflight` meanwhile."""
        with self.lock if self.threaded else NO_LOCK:
            pl = self.pending.pop(frame, None)
            if not pl:
                return None
            pl = as_list(pl)
            if level == BIND:
                keep = [e for e in pl if e[4] != BIND]
                pl = [e for e in pl if e[4] == BIND]
                if keep:
                    self.pending[frame] = keep
                if not pl:
                    return None
            self.inflight.append(pl)
            return pl

    def _release(self, pl):
        for i, other in enumerate(self.inflight):
            if other is pl:
                del self.inflight[i]
                return

    def complete(self, frame, level=STMT, raised=False, thrown=False):
        """Completes the frame's pending captures (of `level`). `thrown`: an
        exception thrown into the suspended frame (close(), throw()), which
        completes a capture waiting at the suspension with the value it had
        there (suspend)."""
        pl = self._take(frame, level)
        if not pl:
            return
        # Reading may run the program's code (repr, properties): no lock held.
        vals = [e[5] if thrown and len(e) > 5 else self._final(frame, e, raised) for e in pl]
        with self.lock if self.threaded else NO_LOCK:
            for e, v in zip(pl, vals):
                self._settle(e, v)
            self._release(pl)
        if self.intr[0]:
            self.reraise()

    def exception(self, frame, thrown=False):
        """An exception event in `frame` (rule 4): everything pending is
        `raised`; `thrown` into the suspended frame: see complete()."""
        self.complete(frame, STMT, True, thrown)

    def frame_done(self, frame, raised=False):
        """The frame returns (or unwinds): complete everything, forget it."""
        self.armed.pop(frame, None)
        if frame in self.pending:
            self.complete(frame, STMT, raised)

    def suspend(self, frame, unit):
        """A generator/coroutine frame suspends in `unit` (rule 3): pending
        captures of other units complete; those of the suspending unit wait
        for the frame's next event after it resumes."""
        pl = self._take(frame)
        if not pl:
            return
        keep = [e for e in pl if e[3] == unit]
        done = [e for e in pl if e[3] != unit]
        vals = [self._final(frame, e, False) for e in done]
        for e in keep:
            # What `raised` reads if the frame is closed (or thrown into)
            # before it runs on: the value at the suspension (the caller may
            # change the object meanwhile). Python 3.13 even closes a
            # generator suspended outside any handler without an event in it.
            v = self.read(frame, e[2])
            e[5:] = [RAISED_UNBOUND if v is UNBOUND else (T_RAISED, v)]
        with self.lock if self.threaded else NO_LOCK:
            for e, v in zip(done, vals):
                self._settle(e, v)
            if keep:
                self.pending[frame] = keep
            self._release(pl)
        if self.intr[0]:
            self.reraise()

    # -- to the recorder --------------------------------------------------
    def flush(self):
        if self.threaded:
            with self.lock:
                self._flush()
        else:
            self._flush()

    def _flush(self):
        chunk = self.chunk
        if self.unreachable:
            # (Before the closed check: closing must not empty the ring.)
            n = len(chunk)
            if n > RING_RECORDS and not self.closed and self.on_unreachable is not None:
                # Past the ring: tracing stops, so that a daemon running on
                # for days does not keep what can never be sent.
                self.on_unreachable()
                return
            # Exactly full, the ring's last record may be an LHS capture
            # still waiting for its frame's next event, which completes it
            # in place: tracing stops at the next record instead (the one
            # past the ring, counted lost), not before that completion.
            self.deadline[0] = 0 if n == RING_RECORDS else _monotonic_ns() + self.flush_interval
            return
        if self.closed:
            # After the seal (daemon threads during interpreter shutdown) or
            # in a forked child: END was the last message; nothing follows it.
            chunk.clear()
            del self.completions[:]
            return
        if self.ring and not self.wire.dead and not self.wire.usable():
            # The program closed our pipe and it cannot be opened again (a
            # daemon that dropped its privileges or changed its root, then
            # closed every descriptor): the chunk's records stay where they
            # are, in the shared ring, for the recorder to read back when
            # the program ends. Nothing is sent from now on, and tracing
            # stops once the ring is full (the flushes still come every
            # 25 ms to see to that); the recorder counts any record written
            # past the ring as lost.
            self.unreachable = True
            self.deadline[0] = _monotonic_ns() + self.flush_interval
            return
        n_inflight = len(self.inflight)
        for frame, pl in list(self.pending.items()):
            t = type(pl)
            if t is tuple:
                pl = self.pending[frame] = as_list(pl)
            elif t is not list:
                continue  # the native core's Waiting: chunk.encode sends its slot as a placeholder
            self.inflight.append(pl)
        for pl in self.inflight:
            for entry in pl:
                item, idx = entry[0], entry[1]
                if item[idx] is PEND:
                    item[idx] = (T_PENDING, self.next_token)
                    self.next_token += 1
        del self.inflight[n_inflight:]
        comps = self.completions
        self.deadline[0] = _monotonic_ns() + self.flush_interval
        if chunk or comps:
            if type(chunk) is list:
                # Dumped in place, not copied: a copy would double every item's
                # refcount and make marshal track each one for back-references.
                data = marshal.dumps((chunk, comps), MARSHAL_VERSION)
                kind, n = MSG_CHUNK, len(chunk)
            else:
                data = chunk.encode(comps)
                kind, n = MSG_CHUNK_BIN, chunk.items()
            # A Ctrl-C becomes KeyboardInterrupt between any two bytecodes:
            # the chunk is cleared only once it is sent (send finishes its
            # message first), and the interrupt is raised after both, so a
            # chunk is never dropped (nor sent twice) around it.
            exc = None
            try:
                self.wire.send(kind, data)
            except BaseException as e:  # noqa: BLE001 - re-raised below
                exc = e
            while True:
                try:
                    chunk.clear()
                    del comps[:]
                    self.sent += n
                    break
                except BaseException as e:  # noqa: BLE001 - re-raised below
                    exc = exc or e
            if exc is not None:
                raise exc

    def finish(self):
        """End of run: every capture still pending becomes `incomplete` —
        or `raised`, for a generator the interpreter closed silently."""
        for frame, pl in list(self.pending.items()):
            pl = as_list(pl)
            closed = False
            # Only 3.13 closes a generator without an exception event in
            # its frame, and there clear() refuses a suspended frame; before
            # 3.13, clear() would close the program's own generator
            # (running its finally blocks) — never call it elsewhere.
            if self.silent_close and any(len(e) > 5 for e in pl):
                try:
                    frame.clear()  # refused while the generator is still suspended
                    closed = True
                except RuntimeError:
                    pass
            for e in pl:
                v = e[5] if closed and len(e) > 5 else INCOMPLETE
                self._settle(e, v)
        self.pending.clear()
        self._flush()

    def close(self, planner):
        """No capture from now on, in any thread, with no cost on the hot
        paths: the cores find no plan for any code (planner.plan_for is
        shadowed, its tables emptied in place) and nothing pending, and a
        chunk that still fills up (a callback under way in another thread)
        is dropped at its flush instead of being sent after END."""
        self.closed = True
        self.deadline[0] = 1 << 62
        self.pending.clear()
        self.armed.clear()
        if planner is not None:
            planner.plan_for = lambda code: None
            planner.probed.clear()
            planner.fast_at.clear()
            planner.complete_at.clear()
            planner.native = None
            planner.native_actions = None
            planner.plans.clear()
            planner.unfound.clear()
