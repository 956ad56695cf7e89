//! probe's native capture core: the `_probe_native` extension module that
//! `probe record` loads into the traced interpreter (CPython 3.12+).
//!
//! It executes the hot path of the capture plan — the plan's `fast` action,
//! one LHS local captured per statement (`planner.fast_at` in the agent's
//! `plan.py`) — without running Python code: the sys.monitoring INSTRUCTION
//! callback is this module's function. Every other event, and every case of
//! the fast action it does not take itself (a thread running, a local that
//! is unbound or not a plain value, a frame with several captures waiting),
//! goes to the Python monitoring core's callback *before anything changed*,
//! so the semantics stay in one place: the plan and the manager.
//!
//! The records it makes are the manager's own (the same `chunk` list and
//! `pending` table, the same placeholder), so they take their sequence
//! numbers from the same stream as every other capture.
//!
//! Everything here runs with the GIL held (abi3 builds refuse free-threaded
//! interpreters, and the agent refuses them before loading this).

use core::ffi::{c_char, c_int};
use core::ptr;
use std::cell::UnsafeCell;

use pyo3_ffi::*;

extern "C" {
    // Outside the limited API, but exported by every CPython 3.12+ (the only
    // versions the agent loads this on). Reads one local (cells and free
    // variables dereferenced) without materialising `f_locals` and without
    // side effects; a new reference, or NULL with NameError when unbound.
    fn PyFrame_GetVar(frame: *mut PyFrameObject, name: *mut PyObject) -> *mut PyObject;
    // The frame type (outside the limited API, exported by every CPython).
    static mut PyFrame_Type: PyTypeObject;
}

/// 3.12's frame layout (frames.py `_LAYOUT`): PyFrameObject.f_frame after
/// the object header and f_back; in the _PyInterpreterFrame, f_code first
/// and f_locals at 40.
const F_FRAME_312: usize = 24;
const F_LOCALS_312: usize = 40;

/// The running 3.12 frame's interpreter frame, if its layout is the one
/// known: its first word must be the frame's code object.
///
/// # Safety
/// GIL held; `frame` a live frame object of a 3.12 interpreter, `code` its
/// code object.
unsafe fn interpreter_frame_312(frame: *mut PyObject, code: *mut PyObject) -> Option<*const u8> {
    // SAFETY: a 3.12 PyFrameObject is longer than F_FRAME_312 + 8 bytes;
    // the pointer read there is only dereferenced (8 bytes) when non-NULL,
    // as frames.py's check does with ctypes.
    unsafe {
        let data = *frame.cast::<u8>().add(F_FRAME_312).cast::<*const u8>();
        (!data.is_null() && *data.cast::<*mut PyObject>() == code).then_some(data)
    }
}

/// The manager's objects the fast path works on (strong references, set
/// once by `install` and never released: the agent lives as long as the
/// interpreter).
struct State {
    /// The Python core's INSTRUCTION callback: everything but the fast path.
    general: *mut PyObject,
    /// `planner.fast_at`: offset -> (code, site id, probe, unit, ...).
    fast_at: *mut PyObject,
    /// `planner.complete_at`: offset -> (code,) of actions that only
    /// complete every waiting capture.
    complete_at: *mut PyObject,
    /// `mgr.pending`: frame -> pending captures.
    pending: *mut PyObject,
    /// `mgr.chunk`: records in trigger order.
    chunk: *mut PyObject,
    /// `mgr.completions`: (token, value) for placeholders already sent.
    completions: *mut PyObject,
    /// `mgr.mt`: `[threads exist]`.
    mt: *mut PyObject,
    /// `mgr.deadline`: `[monotonic ns of the next flush]`.
    deadline: *mut PyObject,
    /// `mgr.intr`: `[a Ctrl-C was caught while reading]`.
    intr: *mut PyObject,
    flush: *mut PyObject,
    reraise: *mut PyObject,
    internal_error: *mut PyObject,
    /// values.PEND: the identity-compared "not yet known" slot.
    pend: *mut PyObject,
    /// Interned "base" (the attribute holding a probe's variable name).
    base_attr: *mut PyObject,
    /// The probe whose name was read last, and that name (or NULL).
    last_probe: *mut PyObject,
    last_base: *mut PyObject,
    /// The code object whose kind was read last (see namespace_kind).
    last_code: *mut PyObject,
    last_code_namespace: Option<bool>,
    /// The last code object's fast-local names (a frozenset, owned), where
    /// it is a namespace code with any, on 3.12 (see frame_memory); NULL
    /// otherwise.
    last_code_fast: *mut PyObject,
    /// PyEval_GetFrameLocals, on 3.13+.
    frame_locals: Option<GetFrameLocals>,
    /// 3.12 with the frame layout the agent checked on a live frame
    /// (frames.py): a module or class body's namespace is read from the
    /// interpreter frame, as the Python core's memory reader does.
    frame_memory: bool,
}

/// Records in a chunk before it is flushed, whatever its age: at this
/// core's rate a 25 ms chunk would hold ~50,000 records (~7 MB of Python
/// objects, and as much again marshalled and in the recorder), which is
/// most of the tight loop's peak memory.
const CHUNK_RECORDS: Py_ssize_t = 16_384;

/// A cell only touched with the GIL held.
struct GilCell(UnsafeCell<Option<State>>);

// SAFETY: every access happens in a function CPython calls with the GIL held
// (module functions and monitoring callbacks), which serialises them; the
// module refuses free-threaded builds (abi3 cannot load there).
unsafe impl Sync for GilCell {}

static STATE: GilCell = GilCell(UnsafeCell::new(None));

/// # Safety
/// The GIL must be held, and no other reference to the state may be alive.
unsafe fn state() -> Option<&'static mut State> {
    // SAFETY: the caller holds the GIL (see GilCell) and takes only this
    // reference for the duration of one callback.
    unsafe { (*STATE.0.get()).as_mut() }
}

fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always
    // exists on Linux (it is time.monotonic_ns's clock, which the Python
    // paths use for the same stream).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Whether `v` is recorded as itself (values.py: PLAIN_TYPES, or an int the
/// recorder keeps exactly) — what the Python fast path sends unconverted.
///
/// # Safety
/// GIL held, `v` a valid object.
unsafe fn plain(v: *mut PyObject) -> bool {
    // SAFETY: `v` is a live object (caller); the type objects are statics.
    unsafe {
        let t = Py_TYPE(v);
        if t == &raw mut PyLong_Type {
            let mut overflow: c_int = 0;
            let _ = PyLong_AsLongLongAndOverflow(v, &mut overflow);
            // Beyond 64 bits: the Python path decides (very large ints are
            // snapshotted to their leading digits).
            return overflow == 0;
        }
        t == &raw mut PyFloat_Type
            || t == &raw mut PyBool_Type
            || t == &raw mut PyComplex_Type
            || v == Py_None()
    }
}

/// `PyEval_GetFrameLocals` (stable ABI 3.13+): the running frame's
/// namespace, a new reference — for a module or class body the dict itself.
type GetFrameLocals = unsafe extern "C" fn() -> *mut PyObject;

/// Looks up `PyEval_GetFrameLocals` where the interpreter has it (3.13+);
/// linking it would make the module fail to load on 3.12.
fn find_frame_locals() -> Option<GetFrameLocals> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads
    // the loaded objects' symbol tables; a non-NULL result for this name is
    // CPython's function of exactly this signature (its documented C API).
    unsafe {
        let p = libc::dlsym(libc::RTLD_DEFAULT, c"PyEval_GetFrameLocals".as_ptr());
        if p.is_null() {
            None
        } else {
            Some(core::mem::transmute::<*mut libc::c_void, GetFrameLocals>(p))
        }
    }
}

/// Whether `code` runs in a namespace (a module or class body: `Some(true)`)
/// or with fast locals (a function: `Some(false)`); `None` if its flags
/// cannot be read. The last code object's answer is kept, and on 3.12
/// (frame_memory) a namespace code's fast-local names with it.
///
/// # Safety
/// GIL held, `code` a live object.
unsafe fn namespace_kind(st: &mut State, code: *mut PyObject) -> Option<bool> {
    const CO_OPTIMIZED: i64 = 0x1;
    if code == st.last_code {
        return st.last_code_namespace;
    }
    // SAFETY: GIL held; attribute read on a live object, errors cleared.
    unsafe {
        Py_XDECREF(st.last_code_fast);
        st.last_code_fast = ptr::null_mut();
        let flags = PyObject_GetAttrString(code, c"co_flags".as_ptr());
        let kind = if flags.is_null() {
            PyErr_Clear();
            None
        } else {
            let f = PyLong_AsLongLong(flags);
            Py_DECREF(flags);
            if f == -1 && !PyErr_Occurred().is_null() {
                PyErr_Clear();
                None
            } else {
                Some(f & CO_OPTIMIZED == 0)
            }
        };
        let kind = match kind {
            Some(true) if st.frame_memory => match fast_names(code) {
                Some(names) => {
                    st.last_code_fast = names;
                    kind
                }
                None => None,
            },
            _ => kind,
        };
        // The code object is kept alive while it is the cached one: a
        // pointer to a freed one could otherwise be reused by another.
        Py_XDECREF(st.last_code);
        st.last_code = Py_NewRef(code);
        st.last_code_namespace = kind;
        kind
    }
}

/// The names of `code`'s fast locals, cells and free variables, as a
/// frozenset (a new reference), NULL when there are none; None (nothing
/// set) when they cannot be read. A 3.12 module or class body has them
/// for an inlined comprehension (PEP 709), whose hidden variables shadow
/// the namespace while it runs.
///
/// # Safety
/// GIL held, `code` a live object.
unsafe fn fast_names(code: *mut PyObject) -> Option<*mut PyObject> {
    // SAFETY: GIL held; each result is checked, errors cleared.
    unsafe {
        let mut total: Py_ssize_t = 0;
        let mut parts = [ptr::null_mut::<PyObject>(); 3];
        let attrs = [c"co_varnames", c"co_cellvars", c"co_freevars"];
        for (slot, attr) in parts.iter_mut().zip(attrs) {
            let t = PyObject_GetAttrString(code, attr.as_ptr());
            if t.is_null() || PyTuple_Check(t) == 0 {
                PyErr_Clear();
                Py_XDECREF(t);
                for p in parts {
                    Py_XDECREF(p);
                }
                return None;
            }
            total += PyTuple_Size(t);
            *slot = t;
        }
        let mut out = Some(ptr::null_mut());
        if total > 0 {
            let set = PyFrozenSet_New(ptr::null_mut());
            let mut ok = !set.is_null();
            for &t in &parts {
                for i in 0..PyTuple_Size(t) {
                    ok = ok && PySet_Add(set, PyTuple_GetItem(t, i)) == 0;
                }
            }
            if ok {
                out = Some(set);
            } else {
                PyErr_Clear();
                Py_XDECREF(set);
                out = None;
            }
        }
        for p in parts {
            Py_DECREF(p);
        }
        out
    }
}

/// `f_locals[name]` of the running 3.12 module or class frame, read the
/// way the Python core's memory reader (frames.py) reads it — 3.12's
/// `f_locals` would copy an inlined comprehension's hidden locals into the
/// namespace: a new reference, or NULL (no exception) where the Python
/// core must decide: a fast-local name (a hidden comprehension variable),
/// a frame that is not the layout checked at start-up, no namespace dict
/// (then f_globals), a mapping that is not an exact dict, or a name not in
/// it (a global, a builtin, unbound).
///
/// # Safety
/// GIL held, inside a monitoring callback of `frame`, which runs `code`;
/// `st.frame_memory` set (3.12, layout checked on a live frame).
unsafe fn namespace_value_312(
    st: &State,
    frame: *mut PyFrameObject,
    code: *mut PyObject,
    name: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: GIL held; the frame object is live and at least F_FRAME_312 + 8
    // bytes long on 3.12; its interpreter frame is live while it runs (we
    // are in its callback) and is only dereferenced once its first word is
    // found to be the running code object, as checked at start-up.
    unsafe {
        if !st.last_code_fast.is_null() {
            match PySet_Contains(st.last_code_fast, name) {
                0 => {}
                1 => return ptr::null_mut(),
                _ => {
                    PyErr_Clear();
                    return ptr::null_mut();
                }
            }
        }
        let Some(data) = interpreter_frame_312(frame.cast(), code) else {
            return ptr::null_mut();
        };
        let ns = *data.add(F_LOCALS_312).cast::<*mut PyObject>();
        // An exact dict only, as namespace_value.
        if ns.is_null() || Py_TYPE(ns) != &raw mut PyDict_Type {
            return ptr::null_mut();
        }
        let v = PyDict_GetItemWithError(ns, name);
        if v.is_null() {
            PyErr_Clear();
            return v;
        }
        Py_NewRef(v)
    }
}

/// `f_locals[name]` of the running module or class frame: a new reference,
/// or NULL (with or without an exception set) when it is not there.
///
/// # Safety
/// GIL held, inside a monitoring callback of that frame.
unsafe fn namespace_value(get_locals: GetFrameLocals, name: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; `get_locals` is CPython's PyEval_GetFrameLocals.
    unsafe {
        let ns = get_locals();
        if ns.is_null() {
            return ptr::null_mut();
        }
        // An exact dict only: a mapping or dict subclass (a metaclass's
        // __prepare__, exec with its own locals) may define __getitem__,
        // which f_locals[name] would call — the Python core does that.
        let v = if Py_TYPE(ns) == &raw mut PyDict_Type {
            PyDict_GetItemWithError(ns, name)
        } else {
            ptr::null_mut()
        };
        let v = if v.is_null() { v } else { Py_NewRef(v) };
        Py_DECREF(ns);
        v
    }
}

/// Hands the event to the Python core's callback, unchanged.
///
/// # Safety
/// GIL held; `args` holds `nargs` valid objects.
unsafe fn hand_over(st: &mut State, args: *mut *mut PyObject, nargs: Py_ssize_t) -> *mut PyObject {
    // SAFETY: forwarding the arguments CPython gave us, as given.
    unsafe { PyObject_Vectorcall(st.general, args, nargs as usize, ptr::null_mut()) }
}

/// An error in our own bookkeeping (a failed allocation): reported as the
/// Python core reports its own (`mgr.internal_error`), never raised into
/// the program — unless it is the program's Ctrl-C or exit, which go on.
///
/// # Safety
/// GIL held, an exception set.
unsafe fn swallow(st: &State) -> *mut PyObject {
    // SAFETY: GIL held; the exception is fetched and either restored (a
    // BaseException that is not an Exception) or passed to internal_error.
    unsafe {
        if PyErr_ExceptionMatches(PyExc_Exception) == 0 {
            return ptr::null_mut();
        }
        let exc = PyErr_GetRaisedException();
        let r = PyObject_CallFunctionObjArgs(st.internal_error, exc, ptr::null_mut::<PyObject>());
        Py_XDECREF(exc);
        if r.is_null() {
            PyErr_Clear();
        } else {
            Py_DECREF(r);
        }
        Py_NewRef(Py_None())
    }
}

/// A failure after the frame's waiting capture was completed: it must not
/// stay in `pending` (it would be completed twice); then as `swallow`.
///
/// # Safety
/// GIL held, an exception set.
unsafe fn forget(st: &State, frame: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; the exception in flight is kept across the delete.
    unsafe {
        let exc = PyErr_GetRaisedException();
        if PyDict_DelItem(st.pending, frame) != 0 {
            PyErr_Clear();
        }
        PyErr_SetRaisedException(exc);
        swallow(st)
    }
}

/// The value the frame's one waiting capture (`pl`, the fast action's
/// tuple) completes with now, as the Python core's fast path reads it: a
/// new reference to a plain value, or None where the Python core must
/// decide (a list of captures, an unbound or non-local name, a value that
/// needs a snapshot) — nothing changed then.
///
/// # Safety
/// GIL held, inside the monitoring callback of `frame` (running `code`);
/// `pl` a live object.
unsafe fn read_waiting(
    st: &mut State,
    frame: *mut PyFrameObject,
    code: *mut PyObject,
    pl: *mut PyObject,
) -> Option<*mut PyObject> {
    // SAFETY: GIL held (caller); every call checks its argument's type or
    // fails with an exception, which is cleared.
    unsafe {
        // One capture waiting (the tight loop's tuple); a list of them is
        // the general path's.
        if Py_TYPE(pl) != &raw mut PyTuple_Type || PyTuple_Size(pl) < 2 {
            return None;
        }
        let probe = PyTuple_GetItem(pl, 1);
        // A probe's variable name never changes: the last one is kept (an
        // attribute lookup is ~150 instructions of a ~4,000 total).
        if probe != st.last_probe {
            let base = PyObject_GetAttr(probe, st.base_attr);
            if base.is_null() {
                PyErr_Clear();
                return None;
            }
            Py_XDECREF(st.last_probe);
            Py_XDECREF(st.last_base);
            st.last_probe = Py_NewRef(probe);
            st.last_base = base;
        }
        let value = match namespace_kind(st, code) {
            // A function's local (cells and free variables included).
            Some(false) => PyFrame_GetVar(frame, st.last_base),
            // A module or class body: its namespace, as f_locals gives it
            // on 3.13+ (an inlined comprehension's hidden locals included)
            // — where the API for it exists.
            Some(true) => match st.frame_locals {
                Some(get_locals) => namespace_value(get_locals, st.last_base),
                None if st.frame_memory => namespace_value_312(st, frame, code, st.last_base),
                None => ptr::null_mut(),
            },
            None => ptr::null_mut(),
        };
        if value.is_null() {
            // Unbound, not in the namespace (a global, a builtin), or a
            // frame whose kind we could not tell: the Python core's read
            // decides what it is.
            PyErr_Clear();
            return None;
        }
        if !plain(value) {
            Py_DECREF(value);
            return None;
        }
        Some(value)
    }
}

/// The running frame's waiting capture, as both callbacks see it.
struct Waiting {
    /// The frame (borrowed: CPython keeps it while it runs).
    frame: *mut PyObject,
    /// Its pending entry (borrowed), or NULL when nothing waits.
    pl: *mut PyObject,
    /// The value that entry completes with (a new reference), or NULL.
    value: *mut PyObject,
}

/// The running frame, its one waiting capture and the value it completes
/// with now; None where the Python core must decide (see read_waiting).
/// Nothing changes here.
///
/// # Safety
/// GIL held, inside the INSTRUCTION callback of a frame running `code`.
unsafe fn waiting(st: &mut State, code: *mut PyObject) -> Option<Waiting> {
    // SAFETY: GIL held (caller); a failed lookup's exception is cleared.
    unsafe {
        let frame = PyEval_GetFrame(); // borrowed
        if frame.is_null() {
            return None;
        }
        let frame_obj = frame.cast::<PyObject>();
        let pl = PyDict_GetItemWithError(st.pending, frame_obj); // borrowed
        if pl.is_null() {
            if !PyErr_Occurred().is_null() {
                PyErr_Clear();
                return None;
            }
            return Some(Waiting {
                frame: frame_obj,
                pl,
                value: ptr::null_mut(),
            });
        }
        let value = read_waiting(st, frame, code, pl)?;
        Some(Waiting {
            frame: frame_obj,
            pl,
            value,
        })
    }
}

/// Settles `w`'s waiting capture with its value (consumed).
///
/// # Safety
/// GIL held; `w` from `waiting`, with an entry, used once.
unsafe fn complete_waiting(st: &State, w: &Waiting) -> bool {
    // SAFETY: GIL held; the borrowed entry gets a reference of its own for
    // the duration of settle, so it stays alive whatever settle appends.
    unsafe {
        let pl = Py_NewRef(w.pl);
        let ok = settle(st, pl, w.value);
        Py_DECREF(pl);
        ok
    }
}

/// The end of an event the extension handled: a Ctrl-C caught while the
/// Python core read a value earlier is raised now (the manager's reraise),
/// else None.
///
/// # Safety
/// GIL held, at the end of a callback.
unsafe fn event_done(st: &State) -> *mut PyObject {
    // SAFETY: GIL held; list access is bounds-checked.
    unsafe {
        if PyList_GetItem(st.intr, 0) == Py_True() {
            let r = PyObject_CallNoArgs(st.reraise);
            if r.is_null() {
                return ptr::null_mut(); // the program's KeyboardInterrupt
            }
            Py_DECREF(r);
        }
        Py_NewRef(Py_None())
    }
}

/// An instruction whose action only completes the frame's waiting
/// captures (`planner.complete_at`: a module-level `for` header, say):
/// done here when the one waiting capture is the fast action's with a
/// plain value, else handed over.
///
/// # Safety
/// As `on_instr`, whose arguments these are.
unsafe fn complete_only(
    st: &mut State,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
    code: *mut PyObject,
    offset: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: as on_instr: GIL held, no Python code runs before `st` is
    // last used except in the calls that end this function.
    unsafe {
        let ca = PyDict_GetItemWithError(st.complete_at, offset);
        if ca.is_null()
            || PyTuple_Size(ca) < 1
            || PyTuple_GetItem(ca, 0) != code
            || PyList_GetItem(st.mt, 0) != Py_False()
        {
            PyErr_Clear();
            return hand_over(st, args, nargs);
        }
        let Some(w) = waiting(st, code) else {
            return hand_over(st, args, nargs);
        };
        if w.pl.is_null() {
            // Nothing waits: the Python core would do nothing either (and
            // keep the event, as here).
            return Py_NewRef(Py_None());
        }
        if !complete_waiting(st, &w) {
            return forget(st, w.frame);
        }
        if PyDict_DelItem(st.pending, w.frame) != 0 {
            return swallow(st);
        }
        event_done(st)
    }
}

/// The INSTRUCTION callback: `(code, offset)`.
unsafe extern "C" fn on_instr(
    _slf: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` valid
    // arguments; the state is ours for the duration of the call (no Python
    // code runs before the last use of `st`, except in the calls that end
    // the function: hand_over, flush, reraise, internal_error — after which
    // `st` is not touched again).
    unsafe {
        let Some(st) = state() else {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: not installed".as_ptr());
            return ptr::null_mut();
        };
        if nargs != 2 {
            return hand_over(st, args, nargs);
        }
        let code = *args;
        let offset = *args.add(1);
        // Everything checked before anything changes: whatever the fast
        // path does not take goes to the Python core as if we were not here.
        let fast = PyDict_GetItemWithError(st.fast_at, offset);
        if fast.is_null() {
            if !PyErr_Occurred().is_null() {
                PyErr_Clear();
                return hand_over(st, args, nargs);
            }
            return complete_only(st, args, nargs, code, offset);
        }
        if PyTuple_Size(fast) < 4
            || PyTuple_GetItem(fast, 0) != code
            || PyList_GetItem(st.mt, 0) != Py_False()
        {
            PyErr_Clear();
            return hand_over(st, args, nargs);
        }
        let Some(w) = waiting(st, code) else {
            return hand_over(st, args, nargs);
        };
        let frame_obj = w.frame;
        // From here on the event is ours.
        if !w.pl.is_null() && !complete_waiting(st, &w) {
            return forget(st, frame_obj);
        }
        let ts = monotonic_ns();
        let item = PyList_New(3);
        if item.is_null() {
            return forget(st, frame_obj);
        }
        let ts_obj = PyLong_FromLongLong(ts);
        if ts_obj.is_null() {
            Py_DECREF(item);
            return forget(st, frame_obj);
        }
        PyList_SetItem(item, 0, Py_NewRef(PyTuple_GetItem(fast, 1)));
        PyList_SetItem(item, 1, ts_obj);
        PyList_SetItem(item, 2, Py_NewRef(st.pend));
        // Items hold only numbers and tuples of them (a snapshot the
        // Python core may put in later included): they cannot be part of a
        // cycle, and the collector need not walk a million of them.
        PyObject_GC_UnTrack(item.cast());
        let entry = PyTuple_Pack(
            4,
            item,
            PyTuple_GetItem(fast, 2),
            PyTuple_GetItem(fast, 3),
            Py_None(),
        );
        if entry.is_null() || PyList_Append(st.chunk, item) != 0 {
            Py_XDECREF(entry);
            Py_DECREF(item);
            return forget(st, frame_obj);
        }
        Py_DECREF(item);
        // Replaces the entry just completed (see settle).
        let set = PyDict_SetItem(st.pending, frame_obj, entry);
        Py_DECREF(entry);
        if set != 0 {
            return forget(st, frame_obj);
        }
        let deadline = PyLong_AsLongLong(PyList_GetItem(st.deadline, 0));
        if deadline == -1 && !PyErr_Occurred().is_null() {
            PyErr_Clear();
        } else if ts > deadline || PyList_Size(st.chunk) >= CHUNK_RECORDS {
            let r = PyObject_CallNoArgs(st.flush);
            if r.is_null() {
                return swallow(st);
            }
            Py_DECREF(r);
        }
        event_done(st)
    }
}

/// Completes the frame's one waiting capture (`pl`, a tuple whose item is
/// `pl[0]`) with `value` (a new reference, consumed) — manager semantics:
/// the item's slot if it is still unsent, else a completion for the
/// placeholder the flush sent. The entry stays in `pending` for the caller
/// to overwrite: a delete then insert of the same key makes the dict grow
/// and rebuild itself every few thousand records.
///
/// # Safety
/// GIL held; `pl` a live tuple of at least 2 items; `value` a new reference.
unsafe fn settle(st: &State, pl: *mut PyObject, value: *mut PyObject) -> bool {
    // SAFETY: the objects are live (caller); list/tuple accessors check
    // their bounds and types and fail with an exception, never crash.
    unsafe {
        let item = PyTuple_GetItem(pl, 0);
        let slot = PyList_GetItem(item, 2);
        if slot.is_null() {
            Py_DECREF(value);
            return false;
        }
        if slot == st.pend {
            // Steals `value`.
            return PyList_SetItem(item, 2, value) == 0;
        }
        // The flush sent the slot as (T_PENDING, token).
        let token = PyTuple_GetItem(slot, 1);
        if token.is_null() {
            Py_DECREF(value);
            return false;
        }
        let pair = PyTuple_Pack(2, token, value);
        Py_DECREF(value);
        if pair.is_null() {
            return false;
        }
        let r = PyList_Append(st.completions, pair);
        Py_DECREF(pair);
        r == 0
    }
}

/// `install(general, fast_at, pending, chunk, completions, mt, deadline,
/// intr, flush, reraise, internal_error, pend, complete_at, frame_memory)`
/// -> the INSTRUCTION callback.
unsafe extern "C" fn install(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` valid
    // arguments; the references kept are new ones (Py_NewRef).
    unsafe {
        if nargs != 14 {
            PyErr_SetString(PyExc_TypeError, c"install() takes 14 arguments".as_ptr());
            return ptr::null_mut();
        }
        let a = |i: usize| Py_NewRef(*args.add(i));
        for (i, what) in [(1usize, "fast_at"), (2, "pending"), (12, "complete_at")] {
            if PyDict_Check(*args.add(i)) == 0 {
                let msg = format!("install(): {what} must be a dict\0");
                PyErr_SetString(PyExc_TypeError, msg.as_ptr().cast::<c_char>());
                return ptr::null_mut();
            }
        }
        for (i, what) in [
            (3usize, "chunk"),
            (4, "completions"),
            (5, "mt"),
            (6, "deadline"),
            (7, "intr"),
        ] {
            if PyList_Check(*args.add(i)) == 0 {
                let msg = format!("install(): {what} must be a list\0");
                PyErr_SetString(PyExc_TypeError, msg.as_ptr().cast::<c_char>());
                return ptr::null_mut();
            }
        }
        let base = PyUnicode_InternFromString(c"base".as_ptr());
        if base.is_null() {
            return ptr::null_mut();
        }
        let slot = &mut *STATE.0.get();
        *slot = Some(State {
            general: a(0),
            fast_at: a(1),
            pending: a(2),
            chunk: a(3),
            completions: a(4),
            mt: a(5),
            deadline: a(6),
            intr: a(7),
            flush: a(8),
            reraise: a(9),
            internal_error: a(10),
            pend: a(11),
            complete_at: a(12),
            base_attr: base,
            last_probe: ptr::null_mut(),
            last_base: ptr::null_mut(),
            last_code: ptr::null_mut(),
            last_code_namespace: None,
            last_code_fast: ptr::null_mut(),
            frame_locals: find_frame_locals(),
            frame_memory: PyObject_IsTrue(*args.add(13)) == 1 && Py_Version >> 16 == 0x030c,
        });
        PyCFunction_NewEx(&raw mut INSTR_DEF, ptr::null_mut(), ptr::null_mut())
    }
}

static mut INSTR_DEF: PyMethodDef = PyMethodDef {
    ml_name: c"probe_native_instruction".as_ptr(),
    ml_meth: PyMethodDefPointer {
        PyCFunctionFast: on_instr,
    },
    ml_flags: METH_FASTCALL,
    ml_doc: c"probe's INSTRUCTION callback (native fast path)".as_ptr(),
};

/// Whether `frame` is a frame object of a 3.12 interpreter whose layout is
/// the one known (see `interpreter_frame_312`): then its code object (a
/// new reference).
///
/// # Safety
/// GIL held; `frame` a live object.
unsafe fn frame_312(frame: *mut PyObject) -> Option<*mut PyObject> {
    // SAFETY: GIL held; the type check comes before any frame access, and
    // the code object is a new reference the caller releases.
    unsafe {
        if Py_Version >> 16 != 0x030c || Py_TYPE(frame) != &raw mut PyFrame_Type {
            return None;
        }
        let code = PyFrame_GetCode(frame.cast()).cast::<PyObject>();
        if interpreter_frame_312(frame, code).is_none() {
            Py_DECREF(code);
            return None;
        }
        Some(code)
    }
}

/// `frame_layout_ok(frame)`: whether `frame` (the agent's own, live) is a
/// 3.12 frame of the layout `frame_get` and the namespace reads rely on.
unsafe extern "C" fn frame_layout_ok(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments.
    unsafe {
        if nargs != 1 {
            PyErr_SetString(PyExc_TypeError, c"frame_layout_ok(frame)".as_ptr());
            return ptr::null_mut();
        }
        match frame_312(*args) {
            Some(code) => {
                Py_DECREF(code);
                Py_NewRef(Py_True())
            }
            None => Py_NewRef(Py_False()),
        }
    }
}

/// `frame_get(frame, name)`: local `name` of a running 3.12 frame as
/// `frame.f_locals[name]` gives it, without f_locals' side effects (what
/// frames.py's memory reader does with ctypes, which costs 1.8 ms of
/// start-up to import): a fast local, cell or free variable through
/// PyFrame_GetVar; in a module or class body then its namespace. KeyError
/// when unbound or not there.
unsafe extern "C" fn frame_get(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    const CO_OPTIMIZED: i64 = 0x1;
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the frame is type-checked and its layout checked before any access.
    unsafe {
        if nargs != 2 || PyUnicode_Check(*args.add(1)) == 0 {
            PyErr_SetString(PyExc_TypeError, c"frame_get(frame, str)".as_ptr());
            return ptr::null_mut();
        }
        let (frame, name) = (*args, *args.add(1));
        let Some(code) = frame_312(frame) else {
            PyErr_SetString(
                PyExc_TypeError,
                c"frame_get: not a 3.12 frame of the known layout".as_ptr(),
            );
            return ptr::null_mut();
        };
        let v = PyFrame_GetVar(frame.cast(), name);
        if !v.is_null() || PyErr_ExceptionMatches(PyExc_NameError) == 0 {
            Py_DECREF(code);
            return v;
        }
        PyErr_Clear();
        let flags = PyObject_GetAttrString(code, c"co_flags".as_ptr());
        let data = interpreter_frame_312(frame, code);
        Py_DECREF(code);
        if flags.is_null() {
            return ptr::null_mut();
        }
        let optimized = PyLong_AsLongLong(flags) & CO_OPTIMIZED != 0;
        Py_DECREF(flags);
        if optimized {
            PyErr_SetObject(PyExc_KeyError, name);
            return ptr::null_mut();
        }
        let ns = match data.map(|d| *d.add(F_LOCALS_312).cast::<*mut PyObject>()) {
            Some(ns) if !ns.is_null() => Py_NewRef(ns),
            _ => PyObject_GetAttrString(frame, c"f_globals".as_ptr()),
        };
        if ns.is_null() {
            return ptr::null_mut();
        }
        // The namespace's own lookup, as `ns[name]` (a mapping may run code).
        let v = PyObject_GetItem(ns, name);
        Py_DECREF(ns);
        v
    }
}

static mut METHODS: [PyMethodDef; 4] = [
    PyMethodDef {
        ml_name: c"install".as_ptr(),
        ml_meth: PyMethodDefPointer { PyCFunctionFast: install },
        ml_flags: METH_FASTCALL,
        ml_doc: c"install(general, fast_at, pending, chunk, completions, mt, deadline, intr, flush, reraise, internal_error, pend, complete_at, frame_memory) -> callback".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"frame_get".as_ptr(),
        ml_meth: PyMethodDefPointer { PyCFunctionFast: frame_get },
        ml_flags: METH_FASTCALL,
        ml_doc: c"frame_get(frame, name): a local of a running 3.12 frame, as f_locals[name] without its side effects".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"frame_layout_ok".as_ptr(),
        ml_meth: PyMethodDefPointer { PyCFunctionFast: frame_layout_ok },
        ml_flags: METH_FASTCALL,
        ml_doc: c"frame_layout_ok(frame): whether frame_get can read this 3.12 frame".as_ptr(),
    },
    PyMethodDef::zeroed(),
];

static mut MODULE_DEF: PyModuleDef = PyModuleDef {
    m_base: PyModuleDef_HEAD_INIT,
    m_name: c"_probe_native".as_ptr(),
    m_doc: c"probe's native capture core (see crates/agent)".as_ptr(),
    m_size: 0,
    m_methods: (&raw mut METHODS).cast(),
    m_slots: ptr::null_mut(),
    m_traverse: None,
    m_clear: None,
    m_free: None,
};

/// The module's entry point (single-phase init: one interpreter, one state).
///
/// # Safety
/// Called by CPython's import machinery, with the GIL held, once.
#[allow(non_snake_case)]
#[no_mangle]
pub unsafe extern "C" fn PyInit__probe_native() -> *mut PyObject {
    // SAFETY: called once by the import machinery with the GIL held;
    // MODULE_DEF is a static that outlives the module.
    unsafe { PyModule_Create(&raw mut MODULE_DEF) }
}
