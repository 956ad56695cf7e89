//! The frame gate: on Python 3.11, `sys.settrace` tracing only in frames of
//! code that holds probes.
//!
//! 3.11 has no `sys.monitoring`. Its trace function is per thread, and
//! while one is set every instruction of every frame takes the
//! interpreter's tracing path, so unprobed code ran ~6.5× slower. The gate
//! is a PEP 523 frame-evaluation function: each frame the interpreter
//! evaluates passes through it, and it switches the thread's tracing flag
//! (`_PyCFrame.use_tracing`, which the evaluation of that frame copies) on
//! for code the plan has probes in and off for all other code, restoring
//! the caller's flag when the frame returns. The trace function stays the
//! settrace core's (`pytracer.py`), so what is recorded is unchanged: the
//! events of unprobed frames it no longer sees are the ones it ignored.
//!
//! The decision is the planner's (`Planner.plan_for(code) is not None`),
//! asked (`decide`) the first time a code object is about to run, and kept
//! in the code object's extra slot (PEP 523's `co_extra`). A signal handler that
//! runs inside `decide` and raises (`sys.exit`, a Ctrl-C) raises in the
//! frame about to start, as it would have at that frame's first
//! instruction without probe. The gate stands aside — the frame is evaluated
//! as without it — whenever the thread's trace function is not the
//! settrace core's (the program set its own, or tracing stopped), a
//! profiler is set (it needs every frame), or a trace or profile call is
//! running.
//!
//! The 3.11 structures below are the part of `PyThreadState`,
//! `_PyCFrame` and `_PyInterpreterFrame` the gate reads; `gate_install`
//! checks them on the live thread before installing anything, and refuses
//! (with the reason) on any other layout.

use core::ffi::{c_int, c_void};
use core::ptr;
use std::cell::UnsafeCell;

use pyo3_ffi::*;

use crate::sym::lookup;

/// 3.11's `_PyCFrame`.
#[repr(C)]
#[allow(dead_code)] // fields the gate does not read keep the layout
struct CFrame {
    use_tracing: u8,
    current_frame: *mut IFrame,
    previous: *mut CFrame,
}

/// The head of 3.11's `_PyInterpreterFrame`.
#[repr(C)]
#[allow(dead_code)] // fields the gate does not read keep the layout
struct IFrame {
    f_func: *mut PyObject,
    f_globals: *mut PyObject,
    f_builtins: *mut PyObject,
    f_locals: *mut PyObject,
    f_code: *mut PyObject,
}

/// The head of 3.11's `PyThreadState` (`struct _ts`).
#[repr(C)]
#[allow(dead_code)] // fields the gate does not read keep the layout
struct TState {
    prev: *mut c_void,
    next: *mut c_void,
    interp: *mut PyInterpreterState,
    initialized: c_int,
    is_static: c_int,
    recursion_remaining: c_int,
    recursion_limit: c_int,
    recursion_headroom: c_int,
    tracing: c_int,
    tracing_what: c_int,
    cframe: *mut CFrame,
    c_profilefunc: *mut c_void,
    c_tracefunc: *mut c_void,
    c_profileobj: *mut PyObject,
    c_traceobj: *mut PyObject,
}

type EvalFrame = unsafe extern "C" fn(*mut TState, *mut IFrame, c_int) -> *mut PyObject;
type SetEval = unsafe extern "C" fn(*mut PyInterpreterState, *mut c_void);
type GetEval = unsafe extern "C" fn(*mut PyInterpreterState) -> *mut c_void;
type RequestIndex = unsafe extern "C" fn(*mut c_void) -> isize;
type GetExtra = unsafe extern "C" fn(*mut PyObject, isize, *mut *mut c_void) -> c_int;
type SetExtra = unsafe extern "C" fn(*mut PyObject, isize, *mut c_void) -> c_int;
type ThreadHead = unsafe extern "C" fn(*mut PyInterpreterState) -> *mut TState;
type ThreadNext = unsafe extern "C" fn(*mut TState) -> *mut TState;

/// Frames evaluated through a PEP 523 function nest on the C stack (~540
/// bytes a level on 3.11), where 3.11 itself inlines Python calls. When a
/// thread's stack has less room left than this share of it (at least
/// `MIN_ROOM`), the gate stands down for good: every frame of every thread
/// traced by the interpreter alone from then on, calls inlined again —
/// slower, never a crash. The main thread's 8 MiB end at ~12,000 levels;
/// Python's default recursion limit (1,000) never gets there.
const ROOM_SHARE: usize = 4;
const MIN_ROOM: usize = 64 << 10;

/// Per thread (by `pthread_self`): the lowest address its stack may
/// reach before the gate stands down.
struct StackFloor {
    thread: libc::pthread_t,
    floor: usize,
}

/// The code object's extra slot: not decided yet (null), traced, untraced.
const TRACED: usize = 1;
const UNTRACED: usize = 2;

struct Gate {
    default: EvalFrame,
    set_eval: SetEval,
    get_eval: GetEval,
    get_extra: GetExtra,
    set_extra: SetExtra,
    thread_head: ThreadHead,
    thread_next: ThreadNext,
    index: isize,
    interp: *mut PyInterpreterState,
    /// The settrace core's global trace function (a strong reference).
    trace: *mut PyObject,
    /// `decide(code) -> bool` (a strong reference).
    decide: *mut PyObject,
    /// Cleared by `gate_uninstall`; the gate then stands aside for the
    /// frames still running through it.
    on: bool,
    /// The last code object decided (a strong reference, so that its
    /// address cannot be reused) and its decision: a loop calling one
    /// function asks for the same one every time.
    memo_code: *mut PyObject,
    memo_on: bool,
    /// The call depth at which the gate stood down (short of stack), or 0.
    stood_down_at: c_int,
    /// Stack floors of the threads seen, the last one first.
    floors: Vec<StackFloor>,
}

/// A cell only touched with the GIL held.
struct GateCell(UnsafeCell<Option<Gate>>);

// SAFETY: every access happens with the GIL held (module functions and the
// frame-evaluation function, which CPython calls holding it), which
// serialises them; the module refuses free-threaded builds.
unsafe impl Sync for GateCell {}

static GATE: GateCell = GateCell(UnsafeCell::new(None));

/// The gate, as a raw pointer: the frame-evaluation function re-enters
/// itself (the planner's Python code runs frames), so no reference to the
/// gate may live across a call into Python.
///
/// # Safety
/// GIL held.
unsafe fn gate() -> Option<*mut Gate> {
    // SAFETY: serialised by the GIL (see GateCell).
    unsafe { (*GATE.0.get()).as_mut().map(|g| g as *mut Gate) }
}

/// Whether frames of `code` are traced: the code object's recorded
/// decision (memoised for the last code object), or the planner's, asked
/// now; None when asking raised (the exception is set).
///
/// # Safety
/// GIL held; `ts` the running thread's state, `code` a live code object.
#[inline]
unsafe fn traced(g: *mut Gate, ts: *mut TState, code: *mut PyObject) -> Option<bool> {
    // SAFETY: GIL held; the memo holds a strong reference to its code; the
    // gate is only read through `g` while decision() runs Python.
    unsafe {
        if code == (*g).memo_code {
            return Some((*g).memo_on);
        }
        let (on, known) = decision(g, ts, code)?;
        if !known {
            return Some(on);
        }
        let old = (*g).memo_code;
        (*g).memo_code = Py_NewRef(code);
        (*g).memo_on = on;
        Py_XDECREF(old);
        Some(on)
    }
}

/// [`traced`] without the memo: `(traced, recorded)`, where `recorded`
/// says the answer is the code object's own (else it is a guess: traced).
/// None when `decide` raised: the exception is set, for the frame.
///
/// # Safety
/// As [`traced`].
unsafe fn decision(g: *const Gate, ts: *mut TState, code: *mut PyObject) -> Option<(bool, bool)> {
    // SAFETY: GIL held; the extra slot index was reserved at install; the
    // decision call runs with the thread marked as tracing, as the
    // interpreter marks its own trace calls.
    unsafe {
        let mut slot: *mut c_void = ptr::null_mut();
        if ((*g).get_extra)(code, (*g).index, &mut slot) != 0 {
            PyErr_Clear();
            return Some((true, false));
        }
        match slot as usize {
            TRACED => return Some((true, true)),
            UNTRACED => return Some((false, true)),
            _ => {}
        }
        // An exception is being thrown into the frame (a generator's
        // throw()): no Python code may run now; trace it, decide later.
        if !PyErr_Occurred().is_null() {
            return Some((true, false));
        }
        // The planner's frames pass through the gate untouched (tracing).
        (*ts).tracing += 1;
        let r = crate::headroom::with_headroom(|| {
            PyObject_CallFunctionObjArgs((*g).decide, code, ptr::null_mut::<PyObject>())
        });
        (*ts).tracing -= 1;
        if r.is_null() {
            // decide() reports its own errors: this is a signal handler's
            // (sys.exit, KeyboardInterrupt), the program's to get.
            return None;
        }
        let on = PyObject_IsTrue(r);
        Py_DECREF(r);
        if on < 0 {
            PyErr_Clear();
            return Some((true, false));
        }
        let tag = if on != 0 { TRACED } else { UNTRACED };
        if ((*g).set_extra)(code, (*g).index, tag as *mut c_void) != 0 {
            PyErr_Clear();
            return Some((on != 0, false));
        }
        Some((on != 0, true))
    }
}

/// Whether the gate switches tracing for the thread now.
///
/// # Safety
/// GIL held; `ts` the running thread's state.
#[inline]
unsafe fn active(g: *const Gate, ts: *mut TState) -> bool {
    // SAFETY: reads of the gate and of the running thread's state, whose
    // layout was checked at install.
    unsafe {
        (*ts).c_traceobj == (*g).trace
            && (*ts).tracing == 0
            && (*ts).c_profilefunc.is_null()
            && (*g).on
            && !(*ts).c_tracefunc.is_null()
    }
}

/// The running thread's stack floor (see ROOM_SHARE), found once per
/// thread; 0 (never stand down) where the stack cannot be asked for.
///
/// # Safety
/// GIL held.
#[inline]
unsafe fn floor(g: *mut Gate) -> usize {
    // SAFETY: GIL held; pthread calls on the running thread only.
    unsafe {
        let me = libc::pthread_self();
        let floors = &mut (*g).floors;
        if let Some(f) = floors.first() {
            if f.thread == me {
                return f.floor;
            }
        }
        if let Some(i) = floors.iter().position(|f| f.thread == me) {
            floors.swap(0, i);
            return floors[0].floor;
        }
        let mut floor = 0;
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(me, &mut attr) == 0 {
            let mut low: *mut c_void = ptr::null_mut();
            let mut size: libc::size_t = 0;
            if libc::pthread_attr_getstack(&attr, &mut low, &mut size) == 0 && !low.is_null() {
                floor = low as usize + (size / ROOM_SHARE).max(MIN_ROOM);
            }
            libc::pthread_attr_destroy(&mut attr);
        }
        // Threads come and go; a few dozen entries are plenty, and a thread
        // dropped here is simply measured again.
        floors.truncate(63);
        floors.insert(0, StackFloor { thread: me, floor });
        floor
    }
}

/// The gate stands down for good (short of stack): calls inline again,
/// and every thread running the settrace core's trace function traces
/// every frame, as the interpreter does without the gate.
///
/// # Safety
/// GIL held; `ts` the running thread's state.
unsafe fn stand_down(g: *mut Gate, ts: *mut TState) {
    // SAFETY: GIL held, so no other thread runs Python code; their thread
    // states and current cframes (on their own stacks, below the call
    // they are waiting in) stay valid while they wait.
    unsafe {
        (*g).on = false;
        (*g).stood_down_at = ((*ts).recursion_limit - (*ts).recursion_remaining).max(1);
        ((*g).set_eval)((*g).interp, (*g).default as *mut c_void);
        let mut t = ((*g).thread_head)((*g).interp);
        while !t.is_null() {
            if (*t).c_traceobj == (*g).trace
                && !(*t).c_tracefunc.is_null()
                && !(*t).cframe.is_null()
            {
                (*(*t).cframe).use_tracing = 255;
            }
            t = ((*g).thread_next)(t);
        }
    }
}

/// The frame-evaluation function (PEP 523).
///
/// # Safety
/// Called by CPython 3.11 with the GIL held, for a frame about to run.
unsafe extern "C" fn gate_eval(ts: *mut TState, frame: *mut IFrame, throw: c_int) -> *mut PyObject {
    // SAFETY: the gate exists whenever this function is installed (it is
    // made first and never dropped); the thread state and frame are the
    // interpreter's, of the layout checked at install; the caller's cframe
    // is on the C stack below us for the whole call.
    unsafe {
        let Some(g) = gate() else {
            PyErr_SetString(
                PyExc_SystemError,
                c"_probe_native: frame gate without state".as_ptr(),
            );
            return ptr::null_mut();
        };
        let default = (*g).default;
        if !active(g, ts) {
            return default(ts, frame, throw);
        }
        let cf = (*ts).cframe;
        let here = &raw const throw as usize;
        if here < floor(g) {
            stand_down(g, ts);
            return default(ts, frame, throw);
        }
        let before = (*cf).use_tracing;
        let Some(on) = traced(g, ts, (*frame).f_code) else {
            // Raised in the frame at its start, untraced (no events with an
            // exception set), as a generator's throw() raises in a frame.
            (*cf).use_tracing = 0;
            let r = default(ts, frame, 1);
            (*cf).use_tracing = before;
            return r;
        };
        (*cf).use_tracing = if on { 255 } else { 0 };
        let r = default(ts, frame, throw);
        // The frame's evaluation handed its own flag back to the caller's
        // cframe; the caller goes on with the flag it had — unless tracing
        // changed meanwhile (the program's settrace, the core's uninstall),
        // when the interpreter's own value stands.
        if let Some(g) = gate() {
            if active(g, ts) && (*ts).cframe == cf {
                (*cf).use_tracing = before;
            }
        }
        r
    }
}

/// A Python str with a reason the gate was not installed.
///
/// # Safety
/// GIL held.
unsafe fn refuse(why: &core::ffi::CStr) -> *mut PyObject {
    // SAFETY: GIL held (caller).
    unsafe { PyUnicode_FromString(why.as_ptr()) }
}

/// `gate_install(trace, decide) -> None | str`: installs the gate for the
/// settrace core whose global trace function `trace` this thread runs now;
/// `decide(code)` says whether a code object holds probes. Returns None
/// when installed, else why not (nothing was changed then).
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn gate_install(
    _m: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; every symbol is checked for presence before its
    // cast to the signature it has in 3.11; the thread-state layout is
    // checked against values obtained through the API before any write.
    unsafe {
        if nargs != 2 {
            PyErr_SetString(PyExc_TypeError, c"gate_install(trace, decide)".as_ptr());
            return ptr::null_mut();
        }
        let (trace, decide) = (*args, *args.add(1));
        if gate().is_some() {
            return refuse(c"the frame gate is already installed");
        }
        let version = lookup(c"Py_Version");
        if version.is_null() || (*version.cast::<u32>() >> 16) != 0x030B {
            return refuse(c"the frame gate knows Python 3.11's frames only");
        }
        let names = [
            c"_PyEval_EvalFrameDefault",
            c"_PyInterpreterState_SetEvalFrameFunc",
            c"_PyInterpreterState_GetEvalFrameFunc",
            c"_PyEval_RequestCodeExtraIndex",
            c"_PyCode_GetExtra",
            c"_PyCode_SetExtra",
            c"PyInterpreterState_ThreadHead",
            c"PyThreadState_Next",
        ];
        let mut syms = [ptr::null_mut::<c_void>(); 8];
        for (s, n) in syms.iter_mut().zip(names) {
            *s = lookup(n);
            if s.is_null() {
                return refuse(c"the interpreter does not export PEP 523's functions");
            }
        }
        let default: EvalFrame = core::mem::transmute(syms[0]);
        let set_eval: SetEval = core::mem::transmute(syms[1]);
        let get_eval: GetEval = core::mem::transmute(syms[2]);
        let request: RequestIndex = core::mem::transmute(syms[3]);
        let get_extra: GetExtra = core::mem::transmute(syms[4]);
        let set_extra: SetExtra = core::mem::transmute(syms[5]);
        let thread_head: ThreadHead = core::mem::transmute(syms[6]);
        let thread_next: ThreadNext = core::mem::transmute(syms[7]);

        // The layout, on this thread, which runs `trace` (sys.settrace was
        // just called) from the Python frame calling us.
        let ts = PyThreadState_Get().cast::<TState>();
        let interp = PyInterpreterState_Get();
        if ts.is_null() || (*ts).interp != interp {
            return refuse(c"unknown thread-state layout (interpreter)");
        }
        let limit = Py_GetRecursionLimit();
        if (*ts).recursion_limit != limit
            || (*ts).recursion_remaining <= 0
            || (*ts).recursion_remaining > limit
        {
            return refuse(c"unknown thread-state layout (recursion)");
        }
        if (*ts).c_traceobj != trace || (*ts).c_tracefunc.is_null() || (*ts).tracing != 0 {
            return refuse(c"unknown thread-state layout (trace function)");
        }
        let cf = (*ts).cframe;
        if cf.is_null() || (*cf).use_tracing != 255 || (*cf).current_frame.is_null() {
            return refuse(c"unknown thread-state layout (cframe)");
        }
        let caller = PyEval_GetFrame();
        if caller.is_null() {
            return refuse(c"no calling frame");
        }
        let code = PyFrame_GetCode(caller).cast::<PyObject>();
        let same = (*(*cf).current_frame).f_code == code;
        Py_DECREF(code);
        if !same {
            return refuse(c"unknown frame layout");
        }
        if get_eval(interp) != syms[0] {
            return refuse(c"another frame-evaluation hook is installed (a debugger or JIT)");
        }
        let index = request(ptr::null_mut());
        if index < 0 {
            PyErr_Clear();
            return refuse(c"no code-object extra slot left");
        }
        *GATE.0.get() = Some(Gate {
            default,
            set_eval,
            get_eval,
            get_extra,
            set_extra,
            thread_head,
            thread_next,
            index,
            interp,
            trace: Py_NewRef(trace),
            decide: Py_NewRef(decide),
            on: true,
            memo_code: ptr::null_mut(),
            memo_on: false,
            stood_down_at: 0,
            floors: Vec::new(),
        });
        let hook: EvalFrame = gate_eval;
        set_eval(interp, hook as *mut c_void);
        Py_NewRef(Py_None())
    }
}

/// `gate_uninstall() -> int`: the interpreter evaluates frames itself
/// again; frames still running through the gate finish with it standing
/// aside. Returns the call depth at which the gate had stood down for deep
/// recursion (every frame traced since), -1 when another frame-evaluation
/// function had replaced it (frames of probed code may have run untraced
/// meanwhile), or 0.
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn gate_uninstall(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; the gate's functions were checked at install.
    unsafe {
        let mut stood_down_at = 0;
        if let Some(g) = gate() {
            (*g).on = false;
            stood_down_at = (*g).stood_down_at;
            let hook: EvalFrame = gate_eval;
            let now = ((*g).get_eval)((*g).interp);
            if now == hook as *mut c_void {
                ((*g).set_eval)((*g).interp, (*g).default as *mut c_void);
            } else if stood_down_at == 0 && now != (*g).default as *mut c_void {
                stood_down_at = -1;
            }
        }
        PyLong_FromLong(stood_down_at.into())
    }
}
