# probe agent: reading a frame's local names without side effects.
#
# `frame.f_locals` is harmless in function frames. In module and class
# frames on CPython 3.12 it is not when the code holds an inlined
# comprehension (PEP 709): reading it copies the comprehension's hidden fast
# locals into the namespace (the module's globals, the class's dict), and
# once it has been read, sys.settrace's trampoline writes the dict back into
# the fast locals after every trace call, which breaks the program
# (`[b * 2 for b in base]` in a class body then multiplies None). There, the
# hidden locals and the namespace are read from the interpreter frame's
# memory (CPython 3.12's _PyInterpreterFrame layout, checked on first use);
# every other case uses f_locals. 3.11 has no inlining; 3.13's f_locals is a
# write-through proxy without this problem.

import sys

_CO_OPTIMIZED = 0x1
NEEDED = sys.version_info[:2] == (3, 12)


def needs_care(code):
    """Whether reading `code`'s frames through f_locals has side effects."""
    return NEEDED and not code.co_flags & _CO_OPTIMIZED and code.co_nlocals > 0


class CarefulReader:
    """(found, value) lookups in 3.12 module/class frames, from memory."""

    def __init__(self):
        self.ok = None       # layout confirmed (True), refused (False), unknown (None)
        self.ctypes = None
        self.slots = {}      # id(code) -> (code, {name: localsplus index})

    def prepare(self):
        """Imports ctypes (before the agent undoes its imports: the program
        must not find it in sys.modules because of us)."""
        try:
            import ctypes
            self.ctypes = ctypes
        except ImportError:
            self.ok = False

    def _init(self, frame):
        try:
            ctypes = self.ctypes
            P = ctypes.c_void_p
            data = P.from_address(id(frame) + 24).value  # PyFrameObject.f_frame
            self.ok = bool(data) and P.from_address(data).value == id(frame.f_code)
        except Exception:  # noqa: BLE001
            self.ok = False
        return self.ok

    def _slots(self, code):
        e = self.slots.get(id(code))
        if e is not None and e[0] is code:
            return e[1]
        names = {}
        i = 0
        while True:
            try:
                n = code._varname_from_oparg(i)
            except Exception:  # noqa: BLE001 - past the last slot
                break
            names.setdefault(n, i)
            i += 1
        self.slots[id(code)] = (code, names)
        return names

    def lookup(self, frame, name):
        """(found, value) of `name` among the frame's locals (hidden
        comprehension locals, then the namespace); None if this reader
        cannot be used (then the caller falls back to f_locals)."""
        if self.ok is None:
            self._init(frame)
        if not self.ok:
            return None
        ct = self.ctypes
        P = ct.c_void_p
        code = frame.f_code
        data = P.from_address(id(frame) + 24).value
        if not data or P.from_address(data).value != id(code):
            return None
        idx = self._slots(code).get(name)
        if idx is not None:
            ptr = P.from_address(data + 72 + 8 * idx).value  # localsplus[idx]
            if ptr:
                return True, ct.cast(ptr, ct.py_object).value
        ns_ptr = P.from_address(data + 40).value  # f_locals: the namespace
        ns = ct.cast(ns_ptr, ct.py_object).value if ns_ptr else frame.f_globals
        if type(ns) is dict:
            if name in ns:
                return True, ns[name]
            return False, None
        try:
            return True, ns[name]
        except KeyError:
            return False, None
