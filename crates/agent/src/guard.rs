//! The sys.monitoring cores' events, re-armed after the program's calls
//! that make CPython 3.12–3.15 drop them (CPython gh-157900: when a second
//! tool starts instrumenting a code object, the first tool's INSTRUCTION
//! events there stop). `sys.settrace`, `sys.setprofile` and the
//! `sys.monitoring` calls that change events are replaced, while a core
//! runs, by builtins made here (`guard_wrap`): each calls the original,
//! then sets the core's local events off and on again on every probed
//! code object, which instruments them afresh.
//!
//! Builtins, not Python functions: a trace or profile function the call
//! just installed sees them as it sees the originals — no Python frame of
//! probe's to step into, no `return` without a `call` (the stdlib's
//! `profile` asserts on that), and the re-arming calls are made from C,
//! which emits no events.

use core::ffi::c_char;
use core::ptr;
use std::cell::UnsafeCell;

use pyo3_ffi::*;

use crate::sym::{PyErr_GetRaisedException, PyErr_SetRaisedException};

struct Guard {
    /// sys.monitoring.set_local_events and get_tool as the agent found them.
    set_local: *mut PyObject,
    get_tool: *mut PyObject,
    /// The core's tool id, its local events, and 0.
    tool: *mut PyObject,
    events: *mut PyObject,
    zero: *mut PyObject,
    /// The core's probed code objects (id -> code), a dict it fills.
    armed: *mut PyObject,
    on: bool,
}

struct GuardCell(UnsafeCell<Option<Guard>>);

// SAFETY: every access happens with the GIL held (module functions and the
// builtins made here), which serialises them.
unsafe impl Sync for GuardCell {}

static GUARD: GuardCell = GuardCell(UnsafeCell::new(None));

/// The names a wrapper may have (its `__name__`), one definition each.
const NAMES: [&core::ffi::CStr; 8] = [
    c"settrace",
    c"setprofile",
    c"_settraceallthreads",
    c"_setprofileallthreads",
    c"set_events",
    c"set_local_events",
    c"free_tool_id",
    c"clear_tool_id",
];

const fn def(name: &'static core::ffi::CStr) -> PyMethodDef {
    PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: PyMethodDefPointer {
            PyCFunctionFastWithKeywords: guarded,
        },
        ml_flags: METH_FASTCALL | METH_KEYWORDS,
        ml_doc: c"The original (__self__), then probe re-arms its sys.monitoring events (CPython gh-157900)."
            .as_ptr(),
    }
}

static mut DEFS: [PyMethodDef; 8] = [
    def(NAMES[0]),
    def(NAMES[1]),
    def(NAMES[2]),
    def(NAMES[3]),
    def(NAMES[4]),
    def(NAMES[5]),
    def(NAMES[6]),
    def(NAMES[7]),
];

/// Whether probe's tool id is still probe's.
///
/// # Safety
/// GIL held.
unsafe fn ours(g: &Guard) -> bool {
    // SAFETY: GIL held; a C call whose result is checked.
    unsafe {
        let name = PyObject_CallFunctionObjArgs(g.get_tool, g.tool, ptr::null_mut::<PyObject>());
        if name.is_null() {
            PyErr_Clear();
            return false;
        }
        let ours = PyUnicode_Check(name) != 0
            && PyUnicode_CompareWithASCIIString(name, c"probe".as_ptr() as *const c_char) == 0;
        Py_DECREF(name);
        ours
    }
}

/// `set_local_events(tool, code, e)` for every probed code object and
/// each `e` in turn; errors are dropped.
///
/// # Safety
/// GIL held.
unsafe fn each_armed(g: &Guard, events: &[*mut PyObject]) {
    // SAFETY: GIL held; only C functions run, so no Python code changes
    // the dict while its values are walked.
    unsafe {
        let codes = PyDict_Values(g.armed);
        if codes.is_null() {
            PyErr_Clear();
            return;
        }
        for i in 0..PyList_Size(codes) {
            let code = PyList_GetItem(codes, i);
            for &ev in events {
                let r = PyObject_CallFunctionObjArgs(
                    g.set_local,
                    g.tool,
                    code,
                    ev,
                    ptr::null_mut::<PyObject>(),
                );
                if r.is_null() {
                    PyErr_Clear();
                } else {
                    Py_DECREF(r);
                }
            }
        }
        Py_DECREF(codes);
    }
}

/// The original call, then the re-arming; the original's result or
/// exception is what the program gets.
///
/// # Safety
/// Called by CPython with the GIL held; `real` is the wrapper's `self`.
unsafe extern "C" fn guarded(
    real: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: GIL held; the arguments are CPython's vectorcall arguments,
    // passed on unchanged; an exception in flight is kept across rearm().
    unsafe {
        let r = PyObject_Vectorcall(real, args, nargs as usize, kwnames);
        let exc = if r.is_null() {
            PyErr_GetRaisedException()
        } else {
            ptr::null_mut()
        };
        rearm();
        if r.is_null() {
            PyErr_SetRaisedException(exc);
        }
        r
    }
}

/// Sets the core's local events off and on again on every probed code
/// object — unless the core stopped, or the program took its tool id.
///
/// # Safety
/// GIL held, no exception set.
unsafe fn rearm() {
    // SAFETY: GIL held; the guard's objects are strong references.
    unsafe {
        let Some(g) = (*GUARD.0.get()).as_ref() else {
            return;
        };
        if !g.on {
            return;
        }
        if ours(g) {
            each_armed(g, &[g.zero, g.events]);
        }
    }
}

/// `guard_set(set_local_events, get_tool, tool, events, armed)`: what
/// re-arming needs (see the module doc); turns it on.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn guard_set(
    _m: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; the references kept are new ones.
    unsafe {
        if nargs != 5 || PyDict_Check(*args.add(4)) == 0 {
            PyErr_SetString(
                PyExc_TypeError,
                c"guard_set(set_local_events, get_tool, tool, events, armed: dict)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let zero = PyLong_FromLong(0);
        if zero.is_null() {
            return ptr::null_mut();
        }
        let a = |i: usize| Py_NewRef(*args.add(i));
        let old = (*GUARD.0.get()).replace(Guard {
            set_local: a(0),
            get_tool: a(1),
            tool: a(2),
            events: a(3),
            armed: a(4),
            zero,
            on: true,
        });
        if let Some(o) = old {
            for p in [o.set_local, o.get_tool, o.tool, o.events, o.armed, o.zero] {
                Py_DECREF(p);
            }
        }
        Py_NewRef(Py_None())
    }
}

/// `guard_off()`: the wrappers only call the originals from now on.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn guard_off(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held.
    unsafe {
        if let Some(g) = (*GUARD.0.get()).as_mut() {
            g.on = false;
        }
        Py_NewRef(Py_None())
    }
}

/// `guard_wrap(name, real) -> builtin`: `real`, wrapped (see the module
/// doc); `name` must be one of NAMES.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn guard_wrap(
    _m: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; DEFS is a static that outlives every wrapper; the
    // wrapper holds `real` as its self (a new reference PyCFunction takes).
    unsafe {
        if nargs != 2 || PyUnicode_Check(*args) == 0 {
            PyErr_SetString(PyExc_TypeError, c"guard_wrap(name, real)".as_ptr());
            return ptr::null_mut();
        }
        let (name, real) = (*args, *args.add(1));
        let Some(i) = NAMES
            .iter()
            .position(|n| PyUnicode_CompareWithASCIIString(name, n.as_ptr()) == 0)
        else {
            PyErr_SetString(PyExc_ValueError, c"guard_wrap: not a guarded name".as_ptr());
            return ptr::null_mut();
        };
        let defs = &raw mut DEFS;
        PyCFunction_NewEx((*defs).as_mut_ptr().add(i), real, ptr::null_mut())
    }
}
