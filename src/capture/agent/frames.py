# probe agent: reading a frame's local names without side effects.
#
# On CPython 3.11 and 3.12, `frame.f_locals` is not harmless:
#
# * In every frame it copies the fast locals into a dict kept in the frame
#   (FastToLocals). That dict holds references the program has already
#   dropped: a generator rebound in a loop stays alive in it and is
#   finalized later, during another sync of the dict - inside the settrace
#   trampoline, where tracing is off, so its GeneratorExit reaches no tracer
#   and a capture waiting in it is never completed (it ends `incomplete`
#   instead of `raised`), and the program's finalizers run at other times
#   than without probe. From then on the settrace trampoline also writes
#   the dict back into the frame after every trace call.
# * In module and class frames running an inlined comprehension (3.12,
#   PEP 709) it copies the comprehension's hidden fast locals into the
#   namespace (the module's globals, the class's dict), which breaks the
#   program (`[b * 2 for b in base]` in a class body then multiplies None).
#
# So there locals are read from the interpreter frame's memory (CPython's
# _PyInterpreterFrame layout, checked on first use and the code pointer on
# every read) — with ctypes, or on 3.12 with the native core loaded by the
# extension (`frame_get`: PyFrame_GetVar, then the namespace). 3.13+ has
# PEP 667's write-through proxy without side effects, and f_locals is used
# as is. If the layout check fails (an unusual build),
# f_locals is the fallback.

import sys

_CO_OPTIMIZED = 0x1
_PY = sys.version_info[:2]
# (offset of f_code, of f_locals, of localsplus) in _PyInterpreterFrame.
_LAYOUT = {(3, 11): (32, 24, 72), (3, 12): (0, 40, 72)}
NEEDED = _PY in _LAYOUT
# PyFrameObject.f_frame (after the object header and f_back), 3.11 and 3.12.
_F_FRAME = 24


def _f_locals_get(frame, name):
    return frame.f_locals[name]


def _no_view(frame, name):
    return None


class FrameReader:
    """`get(frame, name)`: the value of a local name of frame, as
    `frame.f_locals[name]` gives it (KeyError when it is unbound or not a
    local; module and class frames: their namespace too), without its side
    effects on 3.11/3.12."""

    def __init__(self):
        self.get = _f_locals_get
        # view(frame, name): a ctypes view of the name's fast-local slot in
        # the running frame (`.value` reads it: ~30 ns, where f_locals costs
        # ~800; ValueError when unbound), or None where there is none to
        # take (a cell, a namespace name, an unknown layout). Valid while
        # the frame runs: the cores keep one across the events of the frame
        # that made it (the tight loop), never longer. None itself where
        # f_locals is harmless (3.13+).
        self.view = None
        self.slots = {}      # id(code) -> (code, {name: (localsplus index, is_cell)})
        # Whether the layout was checked on a live frame and locals are read
        # from frame memory (the native core reads 3.12 namespaces so too).
        self.memory = False

    def prepare(self, frame, native=None):
        """Imports ctypes (before the agent undoes its imports: the program
        must not find it in sys.modules because of us) and checks the frame
        layout on `frame` (the agent's own, live). Returns whether the
        memory reader is used. With the native core loaded (`native`, 3.12)
        the extension reads frame memory instead, and ctypes (1.8 ms of
        start-up) is not imported."""
        if not NEEDED:
            return False
        if native is not None and _PY == (3, 12):
            try:
                ok = native.frame_layout_ok(frame)
            except Exception:  # noqa: BLE001
                ok = False
            if ok:
                self.get = native.frame_get
                self.view = _no_view  # no slot views: every read goes through get
                self.memory = True
                return True
        try:
            import ctypes
            P = ctypes.c_void_p
            code_off, _, _ = _LAYOUT[_PY]
            data = P.from_address(id(frame) + _F_FRAME).value
            ok = bool(data) and P.from_address(data + code_off).value == id(frame.f_code)
        except Exception:  # noqa: BLE001
            ok = False
        if ok:
            self.get, self.view = self._make_readers(ctypes)
        self.memory = ok
        return ok

    def _slots(self, code):
        e = self.slots.get(id(code))
        if e is not None and e[0] is code:
            return e[1]
        names = {}
        cellvars, nvars = set(code.co_cellvars), len(code.co_varnames)
        i = 0
        while True:
            try:
                n = code._varname_from_oparg(i)
            except Exception:  # noqa: BLE001 - past the last slot
                break
            # Past the fast locals: cells and free variables. (A 3.12 class
            # body can hold a name twice: an inlined comprehension's hidden
            # fast local, and a free variable for its nested scopes.)
            names.setdefault(n, (i, i >= nvars or n in cellvars))
            i += 1
        self.slots[id(code)] = (code, names)
        return names

    def _make_readers(self, ctypes):
        """(get, view) over frame memory, sharing one layout check."""
        P = ctypes.c_void_p
        O = ctypes.py_object
        code_off, locals_off, plus_off = _LAYOUT[_PY]
        slots = self.slots
        find_slots = self._slots
        cell_type = type((lambda: slots).__closure__[0])

        def locate(frame):
            """(code, interpreter-frame address, {name: slot}) of a frame
            whose layout is the one checked, else None."""
            code = frame.f_code
            data = P.from_address(id(frame) + _F_FRAME).value
            if not data or P.from_address(data + code_off).value != id(code):
                return None
            e = slots.get(id(code))
            return code, data, (e[1] if e is not None and e[0] is code else find_slots(code))

        def get(frame, name):
            where = locate(frame)
            if where is None:
                return frame.f_locals[name]  # not the layout we know: as before
            code, data, names = where
            slot = names.get(name)
            if slot is not None and slot[1] and not code.co_flags & _CO_OPTIMIZED:
                # A class body's cells are its nested scopes' (a function's
                # variable passed through, `__class__`): LOAD_NAME never
                # reads them, nor does f_locals (see manager.enclosing_cell).
                slot = None
            if slot is not None:
                try:
                    v = O.from_address(data + plus_off + 8 * slot[0]).value
                except ValueError:  # NULL: unbound
                    v = get
                if v is not get:
                    if slot[1] and type(v) is cell_type:
                        try:
                            return v.cell_contents
                        except ValueError:
                            raise KeyError(name) from None
                    return v
            if code.co_flags & _CO_OPTIMIZED:
                raise KeyError(name)
            ns_ptr = P.from_address(data + locals_off).value
            ns = O.from_address(data + locals_off).value if ns_ptr else frame.f_globals
            return ns[name]

        def view(frame, name):
            if not frame.f_code.co_flags & _CO_OPTIMIZED:
                return None
            where = locate(frame)
            if where is None:
                return None
            slot = where[2].get(name)
            if slot is None or slot[1]:
                return None
            return O.from_address(where[1] + plus_off + 8 * slot[0])

        return get, view
