//! Functions of the running interpreter looked up when the module loads
//! instead of linked. The module also loads into Python 3.11 (for the
//! frame gate, `gate.rs`), whose libpython lacks the 3.12 functions below;
//! the dynamic loader refuses a module that names a function it cannot
//! find (CPython opens extensions with `RTLD_NOW`, Rust links them with
//! `-z now`), so these are found by name, and a missing one is an error
//! where it is called, never a failed load.

use core::ffi::{c_void, CStr};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use pyo3_ffi::*;

/// The address of `name` in the running process, or null.
///
/// # Safety
/// Any time; the result must be cast to the symbol's real type.
pub unsafe fn lookup(name: &CStr) -> *mut c_void {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

static FRAME_GET_VAR: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static GET_RAISED: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static SET_RAISED: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// Finds the 3.12 functions (at module load; absent on 3.11).
///
/// # Safety
/// Any time.
pub unsafe fn resolve() {
    // SAFETY: lookups only.
    unsafe {
        FRAME_GET_VAR.store(lookup(c"PyFrame_GetVar"), Ordering::Relaxed);
        GET_RAISED.store(lookup(c"PyErr_GetRaisedException"), Ordering::Relaxed);
        SET_RAISED.store(lookup(c"PyErr_SetRaisedException"), Ordering::Relaxed);
    }
}

/// Whether this interpreter has every function the native core calls
/// (3.12+): 3.11's trace function (`tracer.rs`) does without them — its
/// cells and free variables go to the Python core, and the exception in
/// flight is fetched the 3.11 way.
pub fn native_core_ok() -> bool {
    [&FRAME_GET_VAR, &GET_RAISED, &SET_RAISED]
        .iter()
        .all(|p| !p.load(Ordering::Relaxed).is_null())
}

/// A SystemError naming the missing function; NULL for the caller.
///
/// # Safety
/// GIL held.
unsafe fn missing(what: &CStr) -> *mut PyObject {
    // SAFETY: GIL held (caller).
    unsafe {
        PyErr_Format(
            PyExc_SystemError,
            c"_probe_native: this interpreter has no %s".as_ptr(),
            what.as_ptr(),
        );
    }
    ptr::null_mut()
}

/// 3.12's `PyFrame_GetVar`: one local (cells and free variables
/// dereferenced) without materialising `f_locals` and without side
/// effects; a new reference, or NULL with NameError when unbound.
///
/// # Safety
/// GIL held; live `frame` and `name`.
#[allow(non_snake_case)]
pub unsafe fn PyFrame_GetVar(frame: *mut PyFrameObject, name: *mut PyObject) -> *mut PyObject {
    let f = FRAME_GET_VAR.load(Ordering::Relaxed);
    if f.is_null() {
        // SAFETY: GIL held (caller).
        return unsafe { missing(c"PyFrame_GetVar") };
    }
    // SAFETY: the symbol of that name has this signature in every CPython
    // that exports it (3.12+).
    unsafe {
        let f: unsafe extern "C" fn(*mut PyFrameObject, *mut PyObject) -> *mut PyObject =
            core::mem::transmute(f);
        f(frame, name)
    }
}

/// 3.12's `PyErr_GetRaisedException`: the exception in flight (a new
/// reference, cleared), or NULL when none is.
///
/// # Safety
/// GIL held.
#[allow(non_snake_case)]
#[allow(deprecated)]
pub unsafe fn PyErr_GetRaisedException() -> *mut PyObject {
    let f = GET_RAISED.load(Ordering::Relaxed);
    if f.is_null() {
        // 3.11: the (type, value, traceback) triple, normalised, as one
        // exception object carrying its traceback (the API 3.12 deprecated
        // in favour of the one this replaces).
        // SAFETY: GIL held (caller); each reference fetched is owned here.
        unsafe {
            let (mut t, mut v, mut tb) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
            PyErr_Fetch(&mut t, &mut v, &mut tb);
            if t.is_null() {
                return ptr::null_mut();
            }
            PyErr_NormalizeException(&mut t, &mut v, &mut tb);
            if !tb.is_null() && !v.is_null() {
                PyException_SetTraceback(v, tb);
            }
            Py_XDECREF(t);
            Py_XDECREF(tb);
            return v;
        }
    }
    // SAFETY: the symbol's signature in every CPython exporting it (3.12+).
    unsafe {
        let f: unsafe extern "C" fn() -> *mut PyObject = core::mem::transmute(f);
        f()
    }
}

/// 3.12's `PyErr_SetRaisedException`: sets `exc` (stolen) in flight.
///
/// # Safety
/// GIL held; `exc` a strong reference to an exception or NULL.
#[allow(non_snake_case)]
#[allow(deprecated)]
pub unsafe fn PyErr_SetRaisedException(exc: *mut PyObject) {
    let f = SET_RAISED.load(Ordering::Relaxed);
    if f.is_null() {
        // 3.11: restored as its (type, value, traceback) (deprecated in
        // 3.12, where the function this replaces exists).
        // SAFETY: GIL held; PyErr_Restore steals the three references.
        unsafe {
            if exc.is_null() {
                PyErr_Clear();
                return;
            }
            let t = Py_NewRef(Py_TYPE(exc).cast::<PyObject>());
            let tb = PyException_GetTraceback(exc);
            PyErr_Restore(t, exc, tb);
        }
        return;
    }
    // SAFETY: the symbol's signature in every CPython exporting it (3.12+).
    unsafe {
        let f: unsafe extern "C" fn(*mut PyObject) = core::mem::transmute(f);
        f(exc)
    }
}
