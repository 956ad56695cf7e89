//! Python 3.11's trace function: the native core where there is no
//! `sys.monitoring` (coverage.py's `ctracer` is the model).
//!
//! The settrace core (`pytracer.py`) stays the executor of the plan: its
//! global trace function decides which frames are traced and returns its
//! local trace function for them. This C function takes the place of
//! CPython's `sys.settrace` trampoline (`trace_trampoline` in
//! `Python/sysmodule.c`) and does what it does for every event, except for
//! the line and opcode events of frames whose trace function is the core's
//! local one:
//!
//! * at an offset where the frame's plan has no action, or one that does
//!   nothing while one thread runs (and one does), the local function
//!   would return at once: nothing is called;
//! * at the plan's fast action (one LHS local captured per statement) and
//!   at an action that only completes the frame's waiting capture (such a
//!   quiet one too, once threads exist), the
//!   event is the 3.12+ INSTRUCTION callback's (`on_instr` in `lib.rs`,
//!   hot paths included), which hands every case it does not take to the
//!   local function, unchanged;
//! * every other action goes to the local function through the
//!   trampoline, as before.
//!
//! So the records are the settrace core's, and the semantics stay in the
//! plan. The frame gate (`gate.rs`) keeps tracing off in unprobed frames:
//! it recognises the core by the trace object (`c_traceobj`), which is
//! still the global trace function.
//!
//! `trace_install` checks the one 3.11 field read here that nothing else
//! checks — `PyFrameObject.f_trace` — on a live frame, and refuses on any
//! other layout (the core then keeps CPython's trampoline).

use core::ffi::c_int;
use core::ptr;
use std::cell::UnsafeCell;

use pyo3_ffi::*;

use crate::frames::iframe_code;
use crate::table::ActionAt;
use crate::{hot, hot_complete, item0, on_instr, state, table};

extern "C" {
    // In every CPython since 3.11 (the offset of the instruction running,
    // in bytes); not in pyo3-ffi.
    fn PyFrame_GetLasti(frame: *mut PyFrameObject) -> c_int;
    fn PyEval_SetTrace(func: Option<TraceFunc>, obj: *mut PyObject);
    static mut PyFrame_Type: PyTypeObject;
}

/// CPython's `Py_tracefunc`.
type TraceFunc =
    unsafe extern "C" fn(*mut PyObject, *mut PyFrameObject, c_int, *mut PyObject) -> c_int;

/// CPython's event numbers (`PyTrace_CALL` …), in every version.
const PY_TRACE_CALL: c_int = 0;
const PY_TRACE_LINE: c_int = 2;
const PY_TRACE_OPCODE: c_int = 7;

/// `PyFrameObject.f_frame` and `f_trace` on 3.11: after the object header
/// and `f_back`.
const F_FRAME: usize = 24;
const F_TRACE: usize = 32;

/// `_PyInterpreterFrame.prev_instr` on 3.11: after seven pointers.
const PREV_INSTR: usize = 56;

/// The event names CPython passes to a Python trace function, by event
/// number (`PyTrace_CALL` … `PyTrace_OPCODE`).
const WHAT: [&core::ffi::CStr; 8] = [
    c"call",
    c"exception",
    c"line",
    c"return",
    c"c_call",
    c"c_exception",
    c"c_return",
    c"opcode",
];

struct Tracer {
    /// The settrace core's local trace function (a strong reference): the
    /// frames whose `f_trace` it is are the ones this module serves.
    local: *mut PyObject,
    /// `WHAT`, interned.
    what: [*mut PyObject; 8],
    /// Where a code object's instructions start (`co_code_adaptive`),
    /// from its address: the running instruction's offset is read from the
    /// interpreter frame (`prev_instr`) as `PyFrame_GetLasti` computes it,
    /// without the call. Found on a live frame by `trace_install`.
    code_units_at: usize,
    /// Whether tracing stopped because a Ctrl-C (KeyboardInterrupt) was
    /// raised from an event handled here.
    interrupted: bool,
}

/// A cell only touched with the GIL held.
struct TracerCell(UnsafeCell<Option<Tracer>>);

// SAFETY: only touched from functions CPython calls with the GIL held.
unsafe impl Sync for TracerCell {}

static TRACER: TracerCell = TracerCell(UnsafeCell::new(None));

/// # Safety
/// GIL held; no other reference to the tracer alive.
unsafe fn tracer() -> Option<&'static mut Tracer> {
    // SAFETY: the GIL serialises every access (see TracerCell).
    unsafe { (*TRACER.0.get()).as_mut() }
}

/// A frame object's `f_trace` (borrowed, NULL when none).
///
/// # Safety
/// `frame` a live 3.11 frame object (the layout `trace_install` checked).
#[inline(always)]
unsafe fn f_trace(frame: *mut PyFrameObject) -> *mut PyObject {
    // SAFETY: f_trace lies within every 3.11 frame object.
    unsafe { *frame.cast::<u8>().add(F_TRACE).cast::<*mut PyObject>() }
}

/// Replaces a frame's `f_trace` (`new` is stolen; NULL clears it), as the
/// trampoline does.
///
/// # Safety
/// GIL held; as `f_trace`.
unsafe fn set_f_trace(frame: *mut PyFrameObject, new: *mut PyObject) {
    // SAFETY: as f_trace; the old reference was the frame's, released
    // after the field no longer holds it (its deallocation may run code).
    unsafe {
        let slot = frame.cast::<u8>().add(F_TRACE).cast::<*mut PyObject>();
        let old = *slot;
        *slot = new;
        Py_XDECREF(old);
    }
}

/// The trace function (`Py_tracefunc`) installed in place of CPython's
/// trampoline; `obj` is the core's global trace function.
unsafe extern "C" fn trace(
    obj: *mut PyObject,
    frame: *mut PyFrameObject,
    what: c_int,
    arg: *mut PyObject,
) -> c_int {
    // SAFETY: CPython calls this with the GIL held, a live frame and
    // `arg` NULL or live; nothing of the tracer is kept across the calls
    // into Python below.
    unsafe {
        if what == PY_TRACE_LINE || what == PY_TRACE_OPCODE {
            if let Some(r) = event(frame) {
                return r;
            }
        }
        trampoline(obj, frame, what, arg)
    }
}

/// A line or opcode event of a frame the local trace function serves:
/// its result, or None where the trampoline must call the local function.
///
/// # Safety
/// As `trace`.
#[inline(always)]
unsafe fn event(frame: *mut PyFrameObject) -> Option<c_int> {
    // SAFETY: GIL held (caller); the frame's fields are read at the layout
    // trace_install checked; the interpreter frame is the running one.
    unsafe {
        let tr = tracer()?;
        if f_trace(frame) != tr.local {
            return None;
        }
        let iframe = *frame.cast::<u8>().add(F_FRAME).cast::<*const u8>();
        if iframe.is_null() {
            return None;
        }
        let code = iframe_code(iframe);
        let offset = lasti(iframe, code, tr.code_units_at);
        // The tight loop's event again (each hot path checks that it is,
        // in this very frame, with everything else as it left it).
        let st = state()?;
        if let Some(r) = hot(st, code, offset) {
            return Some(done(frame, r));
        }
        if let Some(r) = hot_complete(st, code, offset) {
            return Some(done(frame, r));
        }
        let t = table()?;
        match t.action_at(code, offset)? {
            // The local function would return at once.
            ActionAt::Nothing => return Some(0),
            // With threads it completes (the table has it as complete-only).
            ActionAt::Quiet => {
                if item0(st.mt) == Py_False() {
                    return Some(0);
                }
            }
            ActionAt::Some => {}
        }
        t.get(code, offset)?;
        let off = PyLong_FromLongLong(offset);
        if off.is_null() {
            PyErr_Clear();
            return None;
        }
        let mut args = [code, off];
        let r = on_instr(ptr::null_mut(), args.as_mut_ptr(), 2);
        Py_DECREF(off);
        Some(done(frame, r))
    }
}

/// The offset (in bytes) of the instruction `iframe` runs, or -1 before
/// the first: `PyFrame_GetLasti`'s result.
///
/// # Safety
/// `iframe` a live 3.11 interpreter frame running `code`; `at` from
/// `trace_install`.
#[inline(always)]
unsafe fn lasti(iframe: *const u8, code: *mut PyObject, at: usize) -> i64 {
    // SAFETY: prev_instr lies within every 3.11 interpreter frame's head.
    let prev = unsafe { *iframe.add(PREV_INSTR).cast::<usize>() };
    let units = (prev.wrapping_sub(code as usize + at) as isize) / 2;
    if units < 0 {
        -1
    } else {
        units as i64 * 2
    }
}

/// The end of an event handled here, `r` its result: an exception ends
/// tracing as the trampoline ends it.
///
/// # Safety
/// GIL held; `r` a new reference or NULL with an exception set.
#[inline]
unsafe fn done(frame: *mut PyFrameObject, r: *mut PyObject) -> c_int {
    // SAFETY: GIL held (caller).
    unsafe {
        if r.is_null() {
            if PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) != 0 {
                if let Some(tr) = tracer() {
                    tr.interrupted = true;
                }
            }
            return stop(frame);
        }
        Py_DECREF(r);
        0
    }
}

/// Tracing off for this thread and this frame: what the trampoline does
/// when a trace function raises.
///
/// # Safety
/// GIL held.
unsafe fn stop(frame: *mut PyFrameObject) -> c_int {
    // SAFETY: GIL held; PyEval_SetTrace(NULL) keeps the exception in flight.
    unsafe {
        PyEval_SetTrace(None, ptr::null_mut());
        set_f_trace(frame, ptr::null_mut());
    }
    -1
}

/// CPython's `trace_trampoline`: the global function for a call event, the
/// frame's own otherwise; a result other than None becomes the frame's
/// trace function.
///
/// # Safety
/// As `trace`.
unsafe fn trampoline(
    obj: *mut PyObject,
    frame: *mut PyFrameObject,
    what: c_int,
    arg: *mut PyObject,
) -> c_int {
    // SAFETY: GIL held (caller); the callback is kept alive across its
    // call by a reference of our own.
    unsafe {
        let callback = if what == PY_TRACE_CALL {
            obj
        } else {
            f_trace(frame)
        };
        if callback.is_null() {
            return 0;
        }
        let Some(name) = usize::try_from(what)
            .ok()
            .and_then(|w| tracer().and_then(|t| t.what.get(w).copied()))
        else {
            return 0;
        };
        let callback = Py_NewRef(callback);
        // CPython 3.11's call_trampoline makes no f_locals copy (a dict
        // kept in the frame would hold objects the program dropped).
        let arg = if arg.is_null() { Py_None() } else { arg };
        let mut stack = [frame.cast::<PyObject>(), name, arg];
        // (The interpreter adds the frame to the traceback of an exception
        // raised here, as it does for the trampoline's.)
        let result = crate::headroom::with_headroom(|| {
            PyObject_Vectorcall(callback, stack.as_mut_ptr(), 3, ptr::null_mut())
        });
        Py_DECREF(callback);
        if result.is_null() {
            return stop(frame);
        }
        if result == Py_None() {
            Py_DECREF(result);
        } else {
            set_f_trace(frame, result);
        }
        0
    }
}

/// `trace_install(global, local, frame, marker) -> None | str`: on 3.11,
/// this trace function in place of `sys.settrace(global)` for the calling
/// thread. `frame` is the caller's own, whose `f_trace` the caller set to
/// `marker`: the layout is checked on it. None when installed, else why
/// not (the caller keeps `sys.settrace`).
pub unsafe extern "C" fn trace_install(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the frame is type-checked before any of its memory is read.
    unsafe {
        if nargs != 4 {
            PyErr_SetString(
                PyExc_TypeError,
                c"trace_install(global, local, frame, marker)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let (global, local, frame, marker) = (*args, *args.add(1), *args.add(2), *args.add(3));
        let why: Option<&core::ffi::CStr> = if Py_Version >> 16 != 0x030b {
            Some(c"the native trace function is for Python 3.11")
        } else if state().is_none() || table().is_none() {
            Some(c"the native core is not installed")
        } else if Py_TYPE(frame) != &raw mut PyFrame_Type {
            Some(c"not a frame")
        } else if f_trace(frame.cast()) != marker {
            Some(c"this Python build's frame objects are not laid out as CPython 3.11's")
        } else {
            let code = PyFrame_GetCode(frame.cast()).cast::<PyObject>();
            let iframe = *frame.cast::<u8>().add(F_FRAME).cast::<*const u8>();
            let ok = !iframe.is_null() && iframe_code(iframe) == code;
            Py_DECREF(code);
            (!ok).then_some(
                c"this Python build's interpreter frames are not laid out as CPython 3.11's",
            )
        };
        if let Some(why) = why {
            return PyUnicode_FromString(why.as_ptr());
        }
        // Where code units start: the running instruction's address less
        // its offset, on this (live, running) frame; a code object's head
        // is a few hundred bytes.
        let iframe = *frame.cast::<u8>().add(F_FRAME).cast::<*const u8>();
        let code = iframe_code(iframe);
        let at = PyFrame_GetLasti(frame.cast());
        let prev = *iframe.add(PREV_INSTR).cast::<usize>();
        let units_at = usize::try_from(at)
            .ok()
            .and_then(|at| prev.checked_sub(code as usize)?.checked_sub(at))
            .filter(|off| (64..=1024).contains(off) && off % 2 == 0);
        let Some(code_units_at) = units_at.filter(|&u| lasti(iframe, code, u) == i64::from(at))
        else {
            return PyUnicode_FromString(
                c"this Python build's code objects are not laid out as CPython 3.11's".as_ptr(),
            );
        };
        if tracer().is_none() {
            let mut what = [ptr::null_mut(); 8];
            for (slot, name) in what.iter_mut().zip(WHAT) {
                *slot = PyUnicode_InternFromString(name.as_ptr());
                if slot.is_null() {
                    return ptr::null_mut();
                }
            }
            *TRACER.0.get() = Some(Tracer {
                local: Py_NewRef(local),
                what,
                code_units_at,
                interrupted: false,
            });
        } else if let Some(tr) = tracer() {
            let old = tr.local;
            tr.local = Py_NewRef(local);
            tr.code_units_at = code_units_at;
            Py_XDECREF(old);
        }
        PyEval_SetTrace(Some(trace), global);
        Py_NewRef(Py_None())
    }
}

/// `trace_interrupted() -> bool`: whether tracing stopped because a Ctrl-C
/// was raised from an event this module handled.
pub unsafe extern "C" fn trace_interrupted(
    _module: *mut PyObject,
    _args: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: GIL held (CPython calls this).
    unsafe {
        let yes = tracer().is_some_and(|t| t.interrupted);
        Py_NewRef(if yes { Py_True() } else { Py_False() })
    }
}

/// `trace_thread(global) -> bool`: this trace function for the calling
/// thread (one the program started), in place of `sys.settrace(global)`.
/// Its frames are CPython 3.11's, as `trace_install` found on the first
/// thread; False when that never happened (the caller keeps
/// `sys.settrace`).
pub unsafe extern "C" fn trace_thread(
    _module: *mut PyObject,
    global: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held; PyEval_SetTrace takes
    // its own reference to `global`.
    unsafe {
        if tracer().is_none() {
            return Py_NewRef(Py_False());
        }
        PyEval_SetTrace(Some(trace), global);
        Py_NewRef(Py_True())
    }
}
