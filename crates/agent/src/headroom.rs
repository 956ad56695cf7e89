//! Headroom for probe's own Python code at the program's recursion limit.
//!
//! Every Python call the extension makes from an event — the Python core's
//! callbacks, a flush, the 3.11 planner's decision — runs on the program's
//! thread, and CPython counts its frames against the program's recursion
//! limit. A program that recursed to its limit (the infinite recursion
//! being debugged, a test of the limit) then met its RecursionError inside
//! probe's callback instead of its own code: one or two frames earlier than
//! without probe, at another instruction, with probe's frames in the
//! traceback, the records of the deepest frames missing and "internal
//! error" warnings printed. While the extension calls Python code, the
//! thread's remaining depth is raised by `HEADROOM` frames and put back
//! after, so that the program reaches the depth it reaches without probe
//! and fails where it fails without probe.
//!
//! The counter is a field of the thread state whose place differs by
//! version (3.11's `recursion_remaining`, 3.12+'s `py_recursion_remaining`,
//! each followed by the limit). It is found on the live thread
//! (`recursion_locate`: the ints followed by the limit), confirmed by the
//! agent one Python frame deeper (`recursion_read`: exactly one less), and
//! only then used (`recursion_use`); unconfirmed, nothing is changed.
//! `sys.setrecursionlimit` during a callback keeps the balance: CPython
//! moves the remaining depth by the change of the limit, and the headroom
//! taken off after is the headroom given.

use core::ffi::{c_int, c_long};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use pyo3_ffi::*;

/// Frames given to probe's Python code beyond what the program has left:
/// its callbacks are a few frames deep; the rest is for a program's
/// `__repr__` that a value capture calls.
const HEADROOM: c_int = 200;

/// The counter is looked for among the thread state's first bytes (it is
/// at 28 to 44 on 3.11-3.15; every 3.11+ thread state is far longer).
const SEARCHED: usize = 96;

/// The counter's byte offset in the thread state, 0 while unconfirmed.
static AT: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's counter, if its place is confirmed.
///
/// # Safety
/// GIL held.
#[inline]
unsafe fn counter() -> Option<*mut c_int> {
    let at = AT.load(Ordering::Relaxed);
    if at == 0 {
        return None;
    }
    // SAFETY: GIL held, so the thread has a thread state; `at` was
    // confirmed on one and lies within SEARCHED bytes of it.
    unsafe { Some(PyThreadState_Get().cast::<u8>().add(at).cast::<c_int>()) }
}

/// Runs `f` (which calls Python code) with `HEADROOM` more frames of depth.
///
/// # Safety
/// GIL held; `f` returns on the thread that called it.
#[inline]
pub unsafe fn with_headroom<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: GIL held (caller); the field is the thread's own int, read
    // and written only by its thread while it holds the GIL.
    unsafe {
        let Some(p) = counter() else {
            return f();
        };
        // What is added is what is taken off after (a counter near
        // c_int::MAX, after sys.setrecursionlimit(2**31 - 1), gets less).
        let add = HEADROOM.min(c_int::MAX - *p).max(0);
        *p += add;
        let r = f();
        *p -= add;
        r
    }
}

/// The ints of the calling thread's state at `at` (a multiple of 4 within
/// `SEARCHED`).
///
/// # Safety
/// GIL held.
unsafe fn read(at: usize) -> c_int {
    // SAFETY: GIL held; `at + 4 <= SEARCHED`, within every thread state.
    unsafe { *PyThreadState_Get().cast::<u8>().add(at).cast::<c_int>() }
}

/// A Python int as an offset the search could have returned, else a
/// ValueError set.
///
/// # Safety
/// GIL held.
unsafe fn offset_arg(o: *mut PyObject) -> Option<usize> {
    // SAFETY: GIL held (caller).
    unsafe {
        let v = PyLong_AsSsize_t(o);
        match usize::try_from(v) {
            Ok(at) if at > 0 && at % 4 == 0 && at + 8 <= SEARCHED => Some(at),
            _ => {
                if PyErr_Occurred().is_null() {
                    PyErr_SetString(
                        PyExc_ValueError,
                        c"recursion: not a searched offset".as_ptr(),
                    );
                }
                None
            }
        }
    }
}

/// `recursion_locate(limit) -> tuple`: the offsets in the calling thread's
/// state of each int in 1..=limit followed by an int equal to `limit`.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn recursion_locate(_m: *mut PyObject, arg: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; reads stay within SEARCHED bytes of the state.
    unsafe {
        let limit = PyLong_AsLong(arg);
        if limit == -1 && !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        let found: Vec<usize> = (1..SEARCHED / 4 - 1)
            .map(|i| i * 4)
            .filter(|&at| {
                let (v, next) = (c_long::from(read(at)), c_long::from(read(at + 4)));
                next == limit && v > 0 && v <= limit
            })
            .collect();
        let t = PyTuple_New(found.len() as Py_ssize_t);
        if t.is_null() {
            return t;
        }
        for (i, at) in found.into_iter().enumerate() {
            let v = PyLong_FromSize_t(at);
            if v.is_null() {
                Py_DECREF(t);
                return v;
            }
            PyTuple_SetItem(t, i as Py_ssize_t, v);
        }
        t
    }
}

/// `recursion_read(offsets) -> tuple`: the ints at those offsets of the
/// calling thread's state.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn recursion_read(_m: *mut PyObject, arg: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; each offset is checked before it is read.
    unsafe {
        if PyTuple_Check(arg) == 0 {
            PyErr_SetString(PyExc_TypeError, c"recursion_read(offsets: tuple)".as_ptr());
            return ptr::null_mut();
        }
        let n = PyTuple_Size(arg);
        let t = PyTuple_New(n);
        if t.is_null() {
            return t;
        }
        for i in 0..n {
            let Some(at) = offset_arg(PyTuple_GetItem(arg, i)) else {
                Py_DECREF(t);
                return ptr::null_mut();
            };
            let v = PyLong_FromLong(c_long::from(read(at)));
            if v.is_null() {
                Py_DECREF(t);
                return v;
            }
            PyTuple_SetItem(t, i, v);
        }
        t
    }
}

/// `recursion_use(offset)`: the counter's confirmed place; headroom is
/// given from now on.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn recursion_use(_m: *mut PyObject, arg: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held.
    unsafe {
        let Some(at) = offset_arg(arg) else {
            return ptr::null_mut();
        };
        AT.store(at, Ordering::Relaxed);
        Py_NewRef(Py_None())
    }
}

static mut HEADROOM_DEF: PyMethodDef = PyMethodDef {
    ml_name: c"with_headroom".as_ptr(),
    ml_meth: PyMethodDefPointer {
        PyCFunctionFast: call_with_headroom,
    },
    ml_flags: METH_FASTCALL,
    ml_doc: c"probe's callback, given headroom below the recursion limit".as_ptr(),
};

/// The builtin `headroom` makes: calls its `__self__` with the arguments.
///
/// # Safety
/// Called by CPython with the GIL held.
unsafe extern "C" fn call_with_headroom(
    function: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; the arguments are CPython's, passed on as given;
    // `function` is the builtin's self, alive while it is.
    unsafe {
        with_headroom(|| PyObject_Vectorcall(function, args, nargs as usize, ptr::null_mut()))
    }
}

/// `headroom(function) -> builtin`: `function`, called with headroom.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn headroom(_m: *mut PyObject, function: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; HEADROOM_DEF is a static that outlives every
    // builtin made from it, which keeps its own reference to `function`.
    unsafe {
        if PyCallable_Check(function) == 0 {
            PyErr_SetString(PyExc_TypeError, c"headroom(function: callable)".as_ptr());
            return ptr::null_mut();
        }
        PyCFunction_NewEx(&raw mut HEADROOM_DEF, function, ptr::null_mut())
    }
}
