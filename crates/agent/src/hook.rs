//! The program's `sys.excepthook` while probe runs: CPython's default hook,
//! wrapped so that an uncaught exception is printed without probe's frames
//! (runner.py, `hide_agent_frames_when_printed`), made here as a builtin
//! that looks like the one it wraps. A Python function in its place was
//! visible: `repr(sys.excepthook)`, its type, `__self__` and signature
//! differed from CPython's, and real code reads them (the stdlib's `code`
//! module tests `sys.excepthook is sys.__excepthook__` and calls the hook).
//! The builtin's `__self__` is the `sys` module, its name, module, doc and
//! text signature are the default hook's (the same on 3.11–3.15), and a
//! call with the wrong number of arguments fails with CPython's message.

use core::ptr;
use std::cell::UnsafeCell;

use pyo3_ffi::*;

struct HookCell(UnsafeCell<*mut PyObject>);

// SAFETY: read and written only with the GIL held (the builtin's calls and
// `hook_wrap`), which serialises every access.
unsafe impl Sync for HookCell {}

/// The Python function the builtin calls (a strong reference), or null.
static HOOK: HookCell = HookCell(UnsafeCell::new(ptr::null_mut()));

static mut EXCEPTHOOK_DEF: PyMethodDef = PyMethodDef {
    ml_name: c"excepthook".as_ptr(),
    ml_meth: PyMethodDefPointer {
        PyCFunctionFast: excepthook,
    },
    ml_flags: METH_FASTCALL,
    ml_doc: c"excepthook($module, exctype, value, traceback, /)\n--\n\nHandle an exception by displaying it with a traceback on sys.stderr."
        .as_ptr(),
};

/// The builtin: checks its arguments as CPython's does, then calls the
/// wrapping function with them.
///
/// # Safety
/// Called by CPython with the GIL held.
unsafe extern "C" fn excepthook(
    _sys: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; HOOK is a strong reference kept until replaced.
    unsafe {
        if nargs != 3 {
            PyErr_Format(
                PyExc_TypeError,
                c"excepthook expected 3 arguments, got %zd".as_ptr(),
                nargs,
            );
            return ptr::null_mut();
        }
        let f = *HOOK.0.get();
        if f.is_null() {
            PyErr_SetString(PyExc_RuntimeError, c"excepthook: nothing to call".as_ptr());
            return ptr::null_mut();
        }
        // Held across the call: the function may replace the hook.
        Py_INCREF(f);
        let r = PyObject_Vectorcall(f, args, 3, ptr::null_mut());
        Py_DECREF(f);
        r
    }
}

/// `hook_wrap(sys, function) -> builtin`: the builtin `excepthook` of
/// module `sys`, which calls `function(exctype, value, traceback)`.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn hook_wrap(
    _m: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; EXCEPTHOOK_DEF is a static that outlives every
    // builtin made from it; the references kept are new ones.
    unsafe {
        if nargs != 2 || PyModule_Check(*args) == 0 || PyCallable_Check(*args.add(1)) == 0 {
            PyErr_SetString(
                PyExc_TypeError,
                c"hook_wrap(sys: module, function: callable)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let (sys, function) = (*args, *args.add(1));
        let name = PyModule_GetNameObject(sys);
        if name.is_null() {
            return ptr::null_mut();
        }
        let builtin = PyCFunction_NewEx(&raw mut EXCEPTHOOK_DEF, sys, name);
        Py_DECREF(name);
        if !builtin.is_null() {
            let old = core::mem::replace(&mut *HOOK.0.get(), Py_NewRef(function));
            Py_XDECREF(old);
        }
        builtin
    }
}
