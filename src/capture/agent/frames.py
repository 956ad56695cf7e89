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
# every read) — with ctypes, or with the native core loaded by the
# extension: on 3.12 `frame_get` (PyFrame_GetVar, then the namespace), on
# 3.11 `frame_slot` and `frame_namespace` (the slot map stays here). 3.13+ has
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


_EMPTY = object()  # an empty slot (unbound), from a slot reader


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
        """Checks the frame layout on `frame` (the agent's own, live) and
        returns whether locals are read from frame memory from now on. With
        the native core loaded (`native`) the extension reads frame memory:
        on 3.12 `frame_get`, on 3.11 `frame_slot` and `frame_namespace`;
        ctypes (1.8 ms of start-up on 3.12, 3 ms on 3.11) is then not
        imported. Else ctypes is imported now, before the agent undoes its
        imports (the program must not find it in sys.modules because of us)."""
        if not NEEDED:
            return False
        if native is not None:
            try:
                ok = native.frame_layout_ok(frame)
            except Exception:  # noqa: BLE001
                ok = False
            if ok and _PY == (3, 12):
                self.get = native.frame_get
                self.view = _no_view  # no slot views: every read goes through get
                self.memory = True
                return True
            if ok and _PY == (3, 11):
                native_get = self._make_get(*self._native_access(native))

                def get(frame, name):
                    try:
                        return native_get(frame, name)
                    except TypeError:
                        # A frame the extension does not know (no running
                        # interpreter frame): f_locals, as the ctypes reader.
                        return frame.f_locals[name]

                self.get = get
                self.view = _no_view
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
            locate, slot, namespace, views = self._ctypes_access(ctypes)
            self.get, self.view = self._make_get(locate, slot, namespace), views
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

    def _native_access(self, native):
        """(locate, slot, namespace) through the extension (3.11), which
        checks the frame's type and layout and the slot's bound itself
        (TypeError for a frame it does not know)."""
        find_slots = self._slots
        frame_slot = native.frame_slot

        def locate(frame):
            code = frame.f_code
            return code, frame, find_slots(code)

        def slot(frame, i):
            try:
                return frame_slot(frame, i)
            except ValueError:  # empty: unbound
                return _EMPTY

        return locate, slot, native.frame_namespace

    def _ctypes_access(self, ctypes):
        """(locate, slot, namespace, view) over frame memory with ctypes,
        sharing one layout check."""
        P = ctypes.c_void_p
        O = ctypes.py_object
        code_off, locals_off, plus_off = _LAYOUT[_PY]
        slots = self.slots
        find_slots = self._slots

        def locate(frame):
            """(code, interpreter-frame address, {name: slot}) of a frame
            whose layout is the one checked, else None."""
            code = frame.f_code
            data = P.from_address(id(frame) + _F_FRAME).value
            if not data or P.from_address(data + code_off).value != id(code):
                return None
            e = slots.get(id(code))
            return code, data, (e[1] if e is not None and e[0] is code else find_slots(code))

        def slot(data, i):
            try:
                return O.from_address(data + plus_off + 8 * i).value
            except ValueError:  # NULL: unbound
                return _EMPTY

        def namespace(data):
            return O.from_address(data + locals_off).value if P.from_address(data + locals_off).value else None

        def view(frame, name):
            if not frame.f_code.co_flags & _CO_OPTIMIZED:
                return None
            where = locate(frame)
            if where is None:
                return None
            s = where[2].get(name)
            if s is None or s[1]:
                return None
            return O.from_address(where[1] + plus_off + 8 * s[0])

        return locate, slot, namespace, view

    @staticmethod
    def _make_get(locate, slot_at, namespace):
        """get(frame, name) over a frame-memory access: `locate(frame)` ->
        (code, where, {name: (slot, is_cell)}) or None for a frame of
        another layout; `slot_at(where, i)` -> the slot's object or _EMPTY;
        `namespace(where)` -> the body's namespace, or None (then globals)."""
        cell_type = type((lambda: locate).__closure__[0])

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
                v = slot_at(data, slot[0])
                if v is not _EMPTY:
                    if slot[1] and type(v) is cell_type:
                        try:
                            return v.cell_contents
                        except ValueError:
                            raise KeyError(name) from None
                    return v
            if code.co_flags & _CO_OPTIMIZED:
                raise KeyError(name)
            ns = namespace(data)
            return (frame.f_globals if ns is None else ns)[name]

        return get
