//! Reading 3.11 to 3.15 frames: the interpreter frame behind a frame
//! object, at the layout the agent checks on a live frame at start-up
//! (frames.py), for what 3.12's C API cannot read without side effects — a
//! module or class body's namespace — and, for the hot path, a function's
//! fast locals and the running frame found from the thread state.

use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use pyo3_ffi::*;

pub use crate::sym::PyFrame_GetVar;

extern "C" {
    // The frame type (outside the limited API, exported by every CPython).
    static mut PyFrame_Type: PyTypeObject;
}

/// PyFrameObject.f_frame, after the object header and f_back (3.11+).
const F_FRAME: usize = 24;

/// Where a `_PyInterpreterFrame` keeps its code object, its namespace
/// (`f_locals`) and its frame object: 3.12+ put the code first (0, 40,
/// 48); 3.11 after the function, globals, builtins and locals (32, 24,
/// 40). Set once for the running interpreter (`set_version`) before any
/// frame is read; every use is behind a check on a live frame.
static CODE_AT: AtomicUsize = AtomicUsize::new(0);
static NAMESPACE_AT: AtomicUsize = AtomicUsize::new(40);
static FRAME_OBJ_AT: AtomicUsize = AtomicUsize::new(48);

/// Sets the interpreter-frame offsets for this interpreter's version
/// (`Py_Version`), at module load.
pub fn set_version(version: u64) {
    let (code, ns, obj) = if version >> 16 == 0x030b {
        (32, 24, 40)
    } else {
        (0, 40, 48)
    };
    CODE_AT.store(code, Ordering::Relaxed);
    NAMESPACE_AT.store(ns, Ordering::Relaxed);
    FRAME_OBJ_AT.store(obj, Ordering::Relaxed);
}

/// The names of `code`'s fast locals, cells and free variables, as a
/// frozenset (a new reference), NULL when there are none; None (nothing
/// set) when they cannot be read. A 3.12 module or class body has them
/// for an inlined comprehension (PEP 709), whose hidden variables shadow
/// the namespace while it runs.
///
/// # Safety
/// GIL held, `code` a live object.
pub unsafe fn fast_names(code: *mut PyObject) -> Option<*mut PyObject> {
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

/// `f_locals[name]` of the running 3.11/3.12 module or class frame, read the
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
/// the frame layout checked on a live frame (3.11, 3.12); `fast` the code's
/// fast-local names (fast_names) or NULL.
pub unsafe fn namespace_value_memory(
    fast: *mut PyObject,
    frame: *mut PyFrameObject,
    code: *mut PyObject,
    name: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: GIL held; the frame object is live and at least F_FRAME + 8
    // bytes long on 3.11+; its interpreter frame is live while it runs (we
    // are in its callback) and is only dereferenced once its first word is
    // found to be the running code object, as checked at start-up.
    unsafe {
        if !fast.is_null() {
            match PySet_Contains(fast, name) {
                0 => {}
                1 => return ptr::null_mut(),
                _ => {
                    PyErr_Clear();
                    return ptr::null_mut();
                }
            }
        }
        let Some(data) = interpreter_frame(frame.cast(), code) else {
            return ptr::null_mut();
        };
        let ns = *data
            .add(NAMESPACE_AT.load(Ordering::Relaxed))
            .cast::<*mut PyObject>();
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

/// Whether `frame` is a frame object of a 3.11 or 3.12 interpreter whose
/// layout is the one known (see `interpreter_frame`), and of 3.12 when
/// `only_312`: then its code object (a new reference) and interpreter frame.
///
/// # Safety
/// GIL held; `frame` a live object.
unsafe fn frame_known(frame: *mut PyObject, only_312: bool) -> Option<(*mut PyObject, *const u8)> {
    // SAFETY: GIL held; the type check comes before any frame access, and
    // the code object is a new reference the caller releases.
    unsafe {
        let known = match Py_Version >> 16 {
            0x030b => !only_312,
            0x030c => true,
            _ => false,
        };
        if !known || Py_TYPE(frame) != &raw mut PyFrame_Type {
            return None;
        }
        let code = PyFrame_GetCode(frame.cast()).cast::<PyObject>();
        match interpreter_frame(frame, code) {
            Some(data) => Some((code, data)),
            None => {
                Py_DECREF(code);
                None
            }
        }
    }
}

/// `frame_layout_ok(frame)`: whether `frame` (the agent's own, live) is a
/// 3.11 or 3.12 frame of the layout `frame_get` (3.12), `frame_slot` (3.11)
/// and `frame_namespace` rely on.
pub unsafe extern "C" fn frame_layout_ok(
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
        match frame_known(*args, false) {
            Some((code, _)) => {
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
pub unsafe extern "C" fn frame_get(
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
        let Some((code, _)) = frame_known(frame, true) else {
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
        let data = interpreter_frame(frame, code);
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
        let ns = match data.map(|d| {
            *d.add(NAMESPACE_AT.load(Ordering::Relaxed))
                .cast::<*mut PyObject>()
        }) {
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

/// Where 3.11's interpreter frame keeps its locals (`localsplus`, after
/// seven pointers, `prev_instr`, `stacktop`, `is_entry` and `owner`).
const LOCALS_311: usize = 72;

/// `frame_slot(frame, index)`: what slot `index` of a running 3.11 frame's
/// locals holds (a fast local, a cell, a free variable's cell), as frames.py
/// read it with ctypes, whose import cost ~3 ms of every 3.11 start.
/// ValueError when the slot is empty (unbound), IndexError past the last
/// slot, TypeError for a frame that is not a 3.11 one of the known layout.
pub unsafe extern "C" fn frame_slot(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the frame is type-checked before its code is asked for, the code
    // object confirms that `index` names one of its slots, and then the
    // interpreter frame's code word is compared before the slot is read.
    unsafe {
        if nargs != 2 || PyLong_Check(*args.add(1)) == 0 {
            PyErr_SetString(PyExc_TypeError, c"frame_slot(frame, int)".as_ptr());
            return ptr::null_mut();
        }
        let (frame, index) = (*args, *args.add(1));
        if Py_Version >> 16 != 0x030b {
            PyErr_SetString(PyExc_TypeError, c"frame_slot: not Python 3.11".as_ptr());
            return ptr::null_mut();
        }
        let i = PyLong_AsSsize_t(index);
        if i == -1 && !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        if i < 0 {
            PyErr_SetString(PyExc_IndexError, c"frame_slot: negative index".as_ptr());
            return ptr::null_mut();
        }
        if Py_TYPE(frame) != &raw mut PyFrame_Type {
            PyErr_SetString(PyExc_TypeError, c"frame_slot: not a frame".as_ptr());
            return ptr::null_mut();
        }
        // The code object's own bound: it names slots 0..co_nlocalsplus and
        // raises IndexError past them. Asked first: the call may run the
        // collector, so the interpreter frame is looked at only after it.
        let code = PyFrame_GetCode(frame.cast()).cast::<PyObject>();
        let named = PyObject_CallMethod(
            code,
            c"_varname_from_oparg".as_ptr(),
            c"(O)".as_ptr(),
            index,
        );
        Py_DECREF(code);
        if named.is_null() {
            return ptr::null_mut();
        }
        Py_DECREF(named);
        let Some((code, data)) = frame_known(frame, false) else {
            PyErr_SetString(
                PyExc_TypeError,
                c"frame_slot: not a 3.11 frame of the known layout".as_ptr(),
            );
            return ptr::null_mut();
        };
        Py_DECREF(code);
        let word = *data
            .add(LOCALS_311 + 8 * i as usize)
            .cast::<*mut PyObject>();
        if word.is_null() {
            PyErr_SetString(PyExc_ValueError, c"frame_slot: the slot is empty".as_ptr());
            return ptr::null_mut();
        }
        Py_NewRef(word)
    }
}

/// `frame_namespace(frame)`: the namespace a running 3.11 or 3.12 module or
/// class body reads its names from (the interpreter frame's `f_locals`;
/// a function's is NULL: then its globals), without materialising
/// `frame.f_locals`. TypeError for a frame of another layout.
pub unsafe extern "C" fn frame_namespace(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the frame is type-checked and its code word compared before the
    // namespace word, within the frame's fixed head, is read.
    unsafe {
        if nargs != 1 {
            PyErr_SetString(PyExc_TypeError, c"frame_namespace(frame)".as_ptr());
            return ptr::null_mut();
        }
        let frame = *args;
        let Some((code, data)) = frame_known(frame, false) else {
            PyErr_SetString(
                PyExc_TypeError,
                c"frame_namespace: not a 3.11 or 3.12 frame of the known layout".as_ptr(),
            );
            return ptr::null_mut();
        };
        Py_DECREF(code);
        let ns = *data
            .add(NAMESPACE_AT.load(Ordering::Relaxed))
            .cast::<*mut PyObject>();
        if ns.is_null() {
            PyObject_GetAttrString(frame, c"f_globals".as_ptr())
        } else {
            Py_NewRef(ns)
        }
    }
}

/// Offset of `localsplus` in the interpreter frame once `locals_layout_ok`
/// confirmed it (0 before): 72 on 3.11 to 3.13 (after seven pointers,
/// `stacktop`, `return_offset` and `owner`), found on a live frame on 3.14+.
static LOCALS_AT: AtomicUsize = AtomicUsize::new(0);

/// The tag bits of a stack reference (3.14+: `_PyStackRef`, whose low bit
/// marks a reference not counted — the empty slot is that bit alone — and
/// whose other patterns are no object at all: a tagged int, an invalid
/// one); 0 where slots hold plain pointers (3.12, 3.13).
static TAG_BITS: AtomicUsize = AtomicUsize::new(0);

/// The object a frame word refers to: NULL for an empty slot, and for a
/// word that is no object (the Python core reads those).
#[inline(always)]
fn untag(word: usize) -> *mut PyObject {
    let tags = TAG_BITS.load(Ordering::Relaxed);
    if word & tags > 1 {
        return ptr::null_mut();
    }
    (word & !tags) as *mut PyObject
}

/// The interpreter frame behind `frame` if it runs `code` (its code word,
/// untagged; up to 3.13 words carry no tags).
///
/// # Safety
/// GIL held; `frame` a live frame object of 3.11+ (whose f_frame follows
/// the object header and f_back).
#[inline]
unsafe fn interpreter_frame(frame: *mut PyObject, code: *mut PyObject) -> Option<*const u8> {
    // SAFETY: f_frame lies within every 3.11+ PyFrameObject; the pointer is
    // dereferenced (one word, within the frame's fixed head) only when
    // non-NULL.
    unsafe {
        let data = *frame.cast::<u8>().add(F_FRAME).cast::<*const u8>();
        (!data.is_null() && iframe_code(data) == code).then_some(data)
    }
}

/// The localsplus index of `name` when it is a plain fast local of `code`
/// (in `co_varnames` and not a cell: a cell's slot holds the cell), else
/// None.
///
/// # Safety
/// GIL held; `code` and `name` live objects.
pub unsafe fn fast_index(code: *mut PyObject, name: *mut PyObject) -> Option<usize> {
    // SAFETY: GIL held; each attribute is type-checked, errors cleared.
    unsafe {
        let names = PyObject_GetAttrString(code, c"co_varnames".as_ptr());
        let cells = PyObject_GetAttrString(code, c"co_cellvars".as_ptr());
        let found = if names.is_null()
            || cells.is_null()
            || PyTuple_Check(names) == 0
            || PyTuple_Check(cells) == 0
        {
            None
        } else {
            let is_cell = PySequence_Contains(cells, name);
            let mut found = None;
            if is_cell == 0 {
                for i in 0..PyTuple_Size(names) {
                    let n = PyTuple_GetItem(names, i);
                    if n == name || PyObject_RichCompareBool(n, name, Py_EQ) == 1 {
                        found = usize::try_from(i).ok();
                        break;
                    }
                }
            }
            found
        };
        PyErr_Clear();
        Py_XDECREF(names);
        Py_XDECREF(cells);
        found
    }
}

/// The value in fast-local slot `idx` of the running frame (the layout
/// checked by `locals_layout_ok`): Some(borrowed, NULL when unbound or not
/// an object) when the frame runs `code`; None when it cannot be read so.
///
/// # Safety
/// GIL held, inside a callback of `frame`, which runs `code`; `idx` from
/// `fast_index(code, …)`, so within the frame's locals.
pub unsafe fn read_fast(
    frame: *mut PyFrameObject,
    code: *mut PyObject,
    idx: usize,
) -> Option<*mut PyObject> {
    let at = LOCALS_AT.load(Ordering::Relaxed);
    if at == 0 {
        return None;
    }
    // SAFETY: the interpreter frame is live while its callback runs and is
    // read only once its first word is found to be the running code; slot
    // idx < co_nlocals lies within its localsplus.
    unsafe {
        let data = interpreter_frame(frame.cast(), code)?;
        Some(untag(*data.add(at + idx * 8).cast::<usize>()))
    }
}

/// `locals_layout_ok(frame, name, address)`: whether reading local `name`
/// of `frame` (the agent's own, live) from frame memory gives the object at
/// `address` (its `id`; an object nothing else refers to) — at 3.12/3.13's
/// known offset, or on 3.14/3.15 at the one offset where it is found — and
/// then the fast path reads function locals so.
pub unsafe extern "C" fn locals_layout_ok(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the frame is type-checked before any memory is read, and only words
    // within the frame's first 256 bytes plus its locals are read.
    unsafe {
        if nargs != 3 {
            PyErr_SetString(
                PyExc_TypeError,
                c"locals_layout_ok(frame, name, address)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let (frame, name, address) = (*args, *args.add(1), *args.add(2));
        // The object's address, not the object: passed as an argument it
        // would sit on the frame's evaluation stack too, after the locals,
        // where a wrong offset would find it.
        let value = PyLong_AsVoidPtr(address).cast::<PyObject>();
        if value.is_null() {
            PyErr_Clear();
            return Py_NewRef(Py_False());
        }
        LOCALS_AT.store(0, Ordering::Relaxed);
        let (tags, candidates): (usize, &[usize]) = match Py_Version >> 16 {
            // 3.11: seven pointers, prev_instr, stacktop, is_entry, owner.
            0x030b..=0x030d => (0, &[72]),
            // Seven words, the stack pointer, then small fields: 80 on
            // 3.14; looked for, not assumed.
            0x030e | 0x030f => (3, &[72, 80, 88, 96, 104, 112, 120, 128]),
            _ => (0, &[]),
        };
        TAG_BITS.store(tags, Ordering::Relaxed);
        let mut ok = false;
        if Py_TYPE(frame) == &raw mut PyFrame_Type && !candidates.is_empty() {
            let code = PyFrame_GetCode(frame.cast()).cast::<PyObject>();
            let data = interpreter_frame(frame, code);
            if let (Some(data), Some(idx)) = (data, fast_index(code, name)) {
                let found = candidates
                    .iter()
                    .copied()
                    .filter(|at| untag(*data.add(at + idx * 8).cast::<usize>()) == value)
                    .collect::<Vec<usize>>();
                if let [at] = found[..] {
                    LOCALS_AT.store(at, Ordering::Relaxed);
                    ok = read_fast(frame.cast(), code, idx) == Some(value)
                        && iframe_frame_object(data) == frame;
                }
            }
            Py_DECREF(code);
        }
        if !ok {
            LOCALS_AT.store(0, Ordering::Relaxed);
        }
        Py_NewRef(if ok { Py_True() } else { Py_False() })
    }
}

/// `PyThreadState_GetUnchecked` (3.13+) or `_PyThreadState_UncheckedGet`
/// (3.11, 3.12): the calling thread's current thread state, NULL if none.
type GetTstate = unsafe extern "C" fn() -> *mut PyThreadState;

/// The running interpreter frame, read from the current thread state
/// without `PyEval_GetFrame` (which also makes the frame object, ~85
/// instructions through `__tls_get_addr` in a shared libpython, plus the
/// call). 3.11 and 3.12 keep the frame in `tstate->cframe->current_frame`, 3.13+ in
/// `tstate->current_frame`; the offsets are confirmed on a live frame
/// (`ThreadFrame::find`) before use. The thread state is asked for at every
/// read: C code may run Python under a thread state of its own on the same
/// OS thread (`PyThreadState_Swap`).
pub struct ThreadFrame {
    get_tstate: GetTstate,
    /// 3.11/3.12: `tstate + at` is the `_PyCFrame *`, whose word at
    /// `cframe_at` is the frame; 3.13+: `tstate + at` is the frame.
    via_cframe: bool,
    at: usize,
    cframe_at: usize,
}

impl ThreadFrame {
    /// The reader, if `frame` (the running frame object, running `code`)
    /// is where it finds the running interpreter frame — on 3.11 to 3.15.
    ///
    /// # Safety
    /// GIL held; `frame` the calling thread's running frame object.
    pub unsafe fn find(frame: *mut PyObject, code: *mut PyObject) -> Option<ThreadFrame> {
        let version = Py_Version >> 16;
        // 3.11: `tstate->cframe` after three pointers and seven ints (as
        // gate.rs's TState), its frame after the `use_tracing` byte (padded
        // to a word).
        let (via_cframe, at, cframe_at) = match version {
            0x030b => (true, 56, 8),
            0x030c => (true, 56, 0),
            0x030d..=0x030f => (false, 72, 0),
            _ => return None,
        };
        // SAFETY: dlsym only reads symbol tables; a non-NULL result for
        // these names is CPython's function of this signature. The words
        // read lie within the thread state's first 80 bytes (every 3.11+
        // PyThreadState is far longer); on 3.11/3.12 the cframe pointer is
        // followed only when non-NULL. The frame found is compared with
        // the one the API gives before anything relies on it.
        unsafe {
            if Py_TYPE(frame) != &raw mut PyFrame_Type {
                return None;
            }
            let sym = [
                c"PyThreadState_GetUnchecked",
                c"_PyThreadState_UncheckedGet",
            ]
            .iter()
            .map(|n| libc::dlsym(libc::RTLD_DEFAULT, n.as_ptr()))
            .find(|p| !p.is_null())?;
            let tf = ThreadFrame {
                get_tstate: core::mem::transmute::<*mut libc::c_void, GetTstate>(sym),
                via_cframe,
                at,
                cframe_at,
            };
            if (tf.get_tstate)() != PyThreadState_Get() {
                return None;
            }
            let iframe = tf.current()?;
            let expect = interpreter_frame(frame, code)?;
            (iframe == expect && iframe_frame_object(iframe) == frame).then_some(tf)
        }
    }

    /// The calling thread's running interpreter frame, None without one.
    ///
    /// # Safety
    /// GIL held; `find` confirmed the layout.
    #[inline]
    pub unsafe fn current(&self) -> Option<*const u8> {
        // SAFETY: the current thread state is alive while its thread runs
        // Python (this one, holding the GIL); its words were confirmed by
        // `find`.
        unsafe {
            let tstate = (self.get_tstate)().cast::<u8>().cast_const();
            if tstate.is_null() {
                return None;
            }
            let word = *tstate.add(self.at).cast::<*const u8>();
            let frame = if self.via_cframe && !word.is_null() {
                *word.add(self.cframe_at).cast::<*const u8>()
            } else {
                word
            };
            (!frame.is_null()).then_some(frame)
        }
    }
}

/// The code object an interpreter frame runs (untagged).
///
/// # Safety
/// `iframe` a live interpreter frame of the layout confirmed.
#[inline]
pub unsafe fn iframe_code(iframe: *const u8) -> *mut PyObject {
    // SAFETY: f_code lies within every 3.11+ interpreter frame's head.
    unsafe { untag(*iframe.add(CODE_AT.load(Ordering::Relaxed)).cast::<usize>()) }
}

/// The frame object of an interpreter frame, NULL before one was made.
///
/// # Safety
/// `iframe` a live interpreter frame of the layout confirmed.
#[inline]
pub unsafe fn iframe_frame_object(iframe: *const u8) -> *mut PyObject {
    // SAFETY: frame_obj lies within every 3.11+ interpreter frame's head.
    unsafe {
        *iframe
            .add(FRAME_OBJ_AT.load(Ordering::Relaxed))
            .cast::<*mut PyObject>()
    }
}

/// The namespace of an interpreter frame (`f_locals`, borrowed: a module
/// or class body's dict, NULL for a function), 3.11 to 3.15.
///
/// # Safety
/// `iframe` a live interpreter frame of the layout confirmed.
#[inline]
pub unsafe fn iframe_namespace(iframe: *const u8) -> *mut PyObject {
    // SAFETY: f_locals lies within every 3.11+ interpreter frame's head.
    unsafe {
        *iframe
            .add(NAMESPACE_AT.load(Ordering::Relaxed))
            .cast::<*mut PyObject>()
    }
}

/// Fast-local slot `idx` of an interpreter frame (borrowed, NULL when
/// unbound or not an object).
///
/// # Safety
/// `iframe` a live interpreter frame whose code has more than `idx` fast
/// locals; `locals_layout_ok` confirmed the layout (else NULL).
#[inline]
pub unsafe fn iframe_local(iframe: *const u8, idx: usize) -> *mut PyObject {
    let at = LOCALS_AT.load(Ordering::Relaxed);
    if at == 0 {
        return ptr::null_mut();
    }
    // SAFETY: the caller's bound keeps the slot within localsplus.
    unsafe { untag(*iframe.add(at + idx * 8).cast::<usize>()) }
}
