//! Builtins that look like the builtins they stand in for.
//!
//! While probe runs, a few of the program's builtins are replaced by
//! probe's: `sys.settrace`, `sys.setprofile` and the `sys.monitoring`
//! calls that change events (guard.rs re-arms probe's events after them),
//! `os.system`, `os.posix_spawn[p]`, `os.execv[e]` and `_posixsubprocess`'s
//! `fork_exec` (children.py counts the children they start, and sends what
//! was captured before an exec). A program sees them: `inspect.signature`,
//! `__self__`, `__module__`, `__text_signature__`, their type. `like(real,
//! function)` makes a builtin named as `real`, with its module, `__self__`,
//! doc and text signature, whose calls go to `function` — so that the
//! replacement answers every question as the original does (found by
//! CPython's test_inspect, which checks the signatures of sys and os).
//!
//! A builtin's C function receives only its `__self__`, which must be the
//! original's; which `function` to call is therefore the C function
//! itself: one of `SLOTS` trampolines, each with its own cell. Slots are
//! taken for good (a run replaces about a dozen builtins, once); with none
//! left, `like` returns `function` itself.

use core::ffi::{c_char, CStr};
use core::ptr;
use std::cell::UnsafeCell;
use std::ffi::CString;

use pyo3_ffi::*;

/// How many look-alikes a run may make.
const SLOTS: usize = 24;

struct Cells(UnsafeCell<[*mut PyObject; SLOTS]>);

// SAFETY: read and written only with the GIL held (`like` and the
// trampolines), which serialises every access.
unsafe impl Sync for Cells {}

/// Slot i's function (a strong reference, kept for good), or null: free.
static CELLS: Cells = Cells(UnsafeCell::new([ptr::null_mut(); SLOTS]));

/// Calls slot `I`'s function with the builtin's arguments.
///
/// # Safety
/// Called by CPython with the GIL held, as a METH_FASTCALL|METH_KEYWORDS
/// function.
unsafe extern "C" fn trampoline<const I: usize>(
    _self: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: GIL held; the cell holds a strong reference set before the
    // builtin existed and never released; the arguments are CPython's,
    // passed on as given.
    unsafe {
        let f = (*CELLS.0.get())[I];
        if f.is_null() {
            PyErr_SetString(
                PyExc_RuntimeError,
                c"probe: a builtin without its function".as_ptr(),
            );
            return ptr::null_mut();
        }
        PyObject_Vectorcall(f, args, nargs as usize, kwnames)
    }
}

type Fast = unsafe extern "C" fn(
    *mut PyObject,
    *const *mut PyObject,
    Py_ssize_t,
    *mut PyObject,
) -> *mut PyObject;

const TRAMPOLINES: [Fast; SLOTS] = [
    trampoline::<0>,
    trampoline::<1>,
    trampoline::<2>,
    trampoline::<3>,
    trampoline::<4>,
    trampoline::<5>,
    trampoline::<6>,
    trampoline::<7>,
    trampoline::<8>,
    trampoline::<9>,
    trampoline::<10>,
    trampoline::<11>,
    trampoline::<12>,
    trampoline::<13>,
    trampoline::<14>,
    trampoline::<15>,
    trampoline::<16>,
    trampoline::<17>,
    trampoline::<18>,
    trampoline::<19>,
    trampoline::<20>,
    trampoline::<21>,
    trampoline::<22>,
    trampoline::<23>,
];

/// `o.name` as a Rust string, if it is a str (no exception left set).
///
/// # Safety
/// GIL held.
unsafe fn str_attr(o: *mut PyObject, name: &CStr) -> Option<String> {
    // SAFETY: GIL held; the UTF-8 view is copied before the string is released.
    unsafe {
        let v = PyObject_GetAttrString(o, name.as_ptr());
        if v.is_null() {
            PyErr_Clear();
            return None;
        }
        let mut n: Py_ssize_t = 0;
        let s = if PyUnicode_Check(v) != 0 {
            PyUnicode_AsUTF8AndSize(v, &mut n)
        } else {
            ptr::null()
        };
        let out = if s.is_null() {
            PyErr_Clear();
            None
        } else {
            let bytes = core::slice::from_raw_parts(s.cast::<u8>(), n.max(0) as usize);
            Some(String::from_utf8_lossy(bytes).into_owned())
        };
        Py_DECREF(v);
        out
    }
}

/// A C string kept for good (a builtin's name and doc live as long as it).
fn leak(s: String) -> Option<*const c_char> {
    CString::new(s).ok().map(|c| c.into_raw().cast_const())
}

/// `like(real, function) -> builtin`: a builtin with `real`'s name,
/// `__self__`, `__module__`, doc and text signature, calling `function`;
/// `function` itself when no slot is left or `real` has no name.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn like(
    _m: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; the definition and its strings are leaked on
    // purpose (they must outlive the builtin, which the program may keep
    // forever); every reference taken is released or kept in a cell. The
    // attribute reads (which may run Python code for an unusual `real`)
    // all come before a slot is chosen, and no Python code runs between
    // choosing it and filling it, so no other call can take it meanwhile.
    unsafe {
        if nargs != 2 || PyCallable_Check(*args.add(1)) == 0 {
            PyErr_SetString(PyExc_TypeError, c"like(real, function: callable)".as_ptr());
            return ptr::null_mut();
        }
        let (real, function) = (*args, *args.add(1));
        let Some(name) = str_attr(real, c"__name__") else {
            return Py_NewRef(function);
        };
        // CPython reads the text signature from the doc's first line:
        // "name(sig)\n--\n\n" (`sig` with its `$module`).
        let doc = str_attr(real, c"__doc__");
        let doc = match (str_attr(real, c"__text_signature__"), doc) {
            (Some(sig), doc) => Some(format!("{name}{sig}\n--\n\n{}", doc.unwrap_or_default())),
            (None, doc) => doc,
        };
        let mut self_ = PyObject_GetAttrString(real, c"__self__".as_ptr());
        if self_.is_null() {
            PyErr_Clear();
        } else if self_ == Py_None() {
            // A builtin without a bound object has a NULL self, shown as None.
            Py_DECREF(self_);
            self_ = ptr::null_mut();
        }
        let module = PyObject_GetAttrString(real, c"__module__".as_ptr());
        if module.is_null() {
            PyErr_Clear();
        }
        let release = || {
            Py_XDECREF(self_);
            Py_XDECREF(module);
        };
        let Some(ml_name) = leak(name) else {
            release();
            return Py_NewRef(function);
        };
        let ml_doc = doc.and_then(leak).unwrap_or(ptr::null());
        let cells = CELLS.0.get();
        let Some(slot) = (*cells).iter().position(|c| c.is_null()) else {
            release();
            return Py_NewRef(function);
        };
        let def = Box::leak(Box::new(PyMethodDef {
            ml_name,
            ml_meth: PyMethodDefPointer {
                PyCFunctionFastWithKeywords: TRAMPOLINES[slot],
            },
            ml_flags: METH_FASTCALL | METH_KEYWORDS,
            ml_doc,
        }));
        let made = PyCFunction_NewEx(def, self_, module);
        release();
        if !made.is_null() {
            (*cells)[slot] = Py_NewRef(function);
        }
        made
    }
}
