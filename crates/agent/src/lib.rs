//! probe's native capture core: the `_probe_native` extension module that
//! `probe record` loads into the traced interpreter (CPython 3.12+; on 3.11
//! the same callback runs from a C trace function, `tracer.rs`, behind the
//! frame gate, `gate.rs`).
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
//! Records go into one binary chunk (`chunk.rs`) — the fast path's as 32
//! bytes each, the Python core's items in order among them — so they take
//! their sequence numbers from one stream. A frame's waiting capture is a
//! `Waiting` object in the manager's `pending` table (`objects.rs`), which
//! the fast path rewrites in place.
//!
//! Everything here runs with the GIL held (abi3 builds refuse free-threaded
//! interpreters, and the agent refuses them before loading this).

mod chunk;
mod clock;
mod frames;
mod gate;
mod guard;
mod headroom;
mod hook;
mod like;
mod objects;
mod paths;
mod sym;
mod table;
mod tracer;
mod values;
mod write;

use core::ffi::{c_char, c_int};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::cell::UnsafeCell;
use std::collections::HashMap;

use pyo3_ffi::*;

use chunk::{compact_int, encode_value, Chunk, Val};
use frames::{
    fast_index, fast_names, frame_get, frame_layout_ok, frame_namespace, frame_slot, iframe_code,
    iframe_frame_object, iframe_local, iframe_namespace, locals_layout_ok, namespace_value_memory,
    read_fast, PyFrame_GetVar, ThreadFrame,
};
use objects::{new_waiting, set_waiting, Types, Waiting};
use sym::{PyErr_GetRaisedException, PyErr_SetRaisedException};

/// The last INSTRUCTION event's table lookup: the tight loop asks for the
/// same code object and offset every time, and converting the offset and
/// hashing the pair cost ~70 of the ~1,190 instructions of a record.
struct Memo {
    /// The code object: kept alive by its table entry while the table's
    /// generation is `gen`, so its address is its own.
    code: *mut PyObject,
    /// The offset's int object (owned, so that its address cannot be
    /// taken by another int while it is compared against), and its value:
    /// CPython makes a new int for each event at an offset beyond the
    /// small ints (256), so those are compared by value.
    offset: *mut PyObject,
    offset_val: i64,
    gen: u64,
    site: Option<u32>,
    quiet: bool,
    /// Borrowed from the entry (alive while the generation holds).
    probe: *mut PyObject,
    unit: *mut PyObject,
}

/// The manager's objects the fast path works on (strong references, set
/// once by `install` and never released: the agent lives as long as the
/// interpreter).
struct State {
    /// The Python core's INSTRUCTION callback: everything but the fast path.
    general: *mut PyObject,
    /// `mgr.pending`: frame -> pending captures.
    pending: *mut PyObject,
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
    /// `deadline[0]` as last read (owned) and its value: the manager
    /// replaces the int at each flush, and converting a 40-bit int on every
    /// record cost ~5% of the fast path.
    deadline_obj: *mut PyObject,
    deadline_ns: i64,
    /// Function locals are read from the interpreter frame (3.12+, the
    /// layout checked on the agent's own frame: `direct_locals`), at the
    /// slot cached for the last code object and name.
    direct_locals: bool,
    idx_code: *mut PyObject,
    idx_name: *mut PyObject,
    idx: Option<usize>,
    /// Every slot looked up so far, by (code, name) address, both kept
    /// alive in `idx_keep` so that the addresses stay theirs: a program
    /// with many probes would otherwise search its locals (linear in their
    /// number) at every capture that changes the probe.
    idx_cache: HashMap<(usize, usize), Option<usize>>,
    idx_keep: Vec<*mut PyObject>,
    /// The frame whose Waiting the fast path made or found last (its
    /// address only) and that Waiting (owned): found again without a dict
    /// lookup while the Python core has not looked at it.
    hot_frame: *mut PyObject,
    hot: *mut Waiting,
    /// 3.12 with the frame layout the agent checked on a live frame
    /// (frames.py): a module or class body's namespace is read from the
    /// interpreter frame, as the Python core's memory reader does.
    frame_memory: bool,
    /// `--max-array-bytes`: an array snapshot keeps at most this much data.
    max_array_bytes: usize,
    /// NumPy's array type (owned) once the program has imported NumPy;
    /// NULL before.
    ndarray: *mut PyObject,
    /// See `Memo`.
    memo: Option<Memo>,
    /// The running frame, read from the thread state without `PyEval_GetFrame`
    /// (3.12+, the layout confirmed with `direct_locals`).
    thread_frame: Option<ThreadFrame>,
    /// See `Hot`.
    hot_path: Option<Hot>,
    /// See `HotComplete`.
    hot_complete: Option<HotComplete>,
    /// The manager (owned), once threads exist (`use_threads`): its lock
    /// is looked at before each event (see `mt_free`). NULL before.
    mgr: *mut PyObject,
    /// Interned "lock" and "locked".
    lock_attr: *mut PyObject,
    locked_attr: *mut PyObject,
    /// The manager's lock (owned) and where its state byte is, with the
    /// mask of its "held" bits, once `lock_layout` confirmed them on a
    /// lock of its own (`use_threads`); (0, 0) before, or where they could
    /// not be confirmed (then `locked()` is called).
    lock_obj: *mut PyObject,
    lock_at: (usize, u8),
    /// The Python idents of the threads registered so far (`K_THREAD`),
    /// index i + 1 each; and the last one asked for with its index.
    threads: Vec<u64>,
    last_thread: (u64, u16),
}

/// The tight loop's event, as the last one the extension completed left
/// it: the same instruction of the same frame, whose one waiting capture
/// is the fast path's `Waiting`. While every one of those still holds
/// (checked in `HotEvent::matches`, ~20 instructions) the event is done
/// without the table, the pending table, `PyEval_GetFrame` or the probe's
/// name — exactly as the general fast path would do it; anything else goes
/// that way.
struct HotEvent {
    /// The code object (alive while the table's generation is `gen`) and
    /// the offset.
    code: *mut PyObject,
    offset: i64,
    gen: u64,
    /// The interpreter frame and its frame object (addresses only: the
    /// frame object is `pending`'s key while `w` is not taken, so its
    /// address is its own).
    iframe: *const u8,
    frame: *mut PyObject,
    /// The frame's Waiting (`st.hot`, which owns it).
    w: *mut Waiting,
}

/// A statement's record (see `HotEvent`): the site, probe and unit of the
/// record (borrowed from the table entry under the event's generation),
/// the Waiting waiting for `probe` — or empty, its capture completed by an
/// action in between (a module-level loop's `for` header, `HotComplete`).
struct Hot {
    event: HotEvent,
    site: u32,
    probe: *mut PyObject,
    unit: *mut PyObject,
    /// The slot of `probe`'s variable among the code's fast locals; None
    /// where it is not one (a module or class body): then only an empty
    /// Waiting is taken here.
    idx: Option<usize>,
}

/// The other event of a module-level tight loop (see `HotEvent`): an
/// action that only completes the frame's waiting capture
/// (`planner.complete_at`: the `for` header), the variable read from the
/// frame's namespace dict.
struct HotComplete {
    event: HotEvent,
    /// The probe whose capture waits, and its variable's name (both kept
    /// alive by the state: `last_probe`, `last_base`).
    probe: *mut PyObject,
    name: *mut PyObject,
    /// The frame's namespace, an exact dict (the frame holds it while it
    /// runs; its address is compared with the frame's on every event).
    ns: *mut PyObject,
}

impl HotEvent {
    /// The event as it is now, after the general path handled it in
    /// `frame` (running `code`, the memo's): None where it cannot be
    /// recognised cheaply next time.
    ///
    /// # Safety
    /// GIL held, at the end of that event; `st.hot` the frame's Waiting.
    unsafe fn now(st: &State, code: *mut PyObject, frame: *mut PyObject) -> Option<HotEvent> {
        // SAFETY: GIL held; the frame is the running one, whose memory the
        // thread-state reader confirmed.
        unsafe {
            let m = st.memo.as_ref()?;
            if m.code != code || st.hot.is_null() || st.hot_frame != frame {
                return None;
            }
            let iframe = st.thread_frame.as_ref()?.current()?;
            if iframe_code(iframe) != code || iframe_frame_object(iframe) != frame {
                return None;
            }
            Some(HotEvent {
                code,
                offset: m.offset_val,
                gen: m.gen,
                iframe,
                frame,
                w: st.hot,
            })
        }
    }

    /// The running interpreter frame if the event at `offset` of `code` is
    /// this event again, in the same frame, with its Waiting still the fast
    /// path's, nothing else changed that the general path would look at.
    ///
    /// # Safety
    /// GIL held, in the INSTRUCTION callback (or 3.11's trace function) of
    /// that event.
    #[inline(always)]
    unsafe fn matches(&self, st: &State, code: *mut PyObject, offset: i64) -> Option<*const u8> {
        // SAFETY: GIL held (caller); the Waiting is dereferenced only once
        // it is found to be `st.hot`, which owns it.
        unsafe {
            if code != self.code || offset != self.offset {
                return None;
            }
            if table()?.generation() != self.gen || !mt_free(st) {
                return None;
            }
            let iframe = st.thread_frame.as_ref()?.current()?;
            (iframe == self.iframe
                && iframe_code(iframe) == self.code
                && iframe_frame_object(iframe) == self.frame
                && st.hot == self.w
                && st.hot_frame == self.frame
                && !(*self.w).taken)
                .then_some(iframe)
        }
    }
}

/// A value as a slot value's parts: the commonest decoded here, in
/// registers (see `encode_value`); None where the Python core decides.
///
/// # Safety
/// GIL held; `v` a live object.
#[inline(always)]
unsafe fn slot_value(v: *mut PyObject) -> Option<(u8, u64, u64)> {
    // SAFETY: as hot_value and encode_value.
    unsafe {
        match hot_value(v) {
            Some(x) => Some(x),
            None => encode_value(v).map(|val| (val.tag, val.a, val.b)),
        }
    }
}

/// Records in a chunk before it is flushed, whatever its age: a 25 ms
/// chunk would hold ~150,000 at this core's rate. 16,384 records are
/// 512 KiB on the wire, half the pipe.
const CHUNK_RECORDS: usize = 16_384;

/// ... or once its array snapshots hold this many bytes: a 25 ms chunk of
/// arrays can be megabytes, more than the pipe holds (1 MiB), and the
/// program would wait for the recorder at every flush; a quarter of the
/// pipe goes on while the recorder works on the one before.
const CHUNK_VALUE_BYTES: usize = 256 << 10;

/// A cell only touched with the GIL held.
struct GilCell<T>(UnsafeCell<Option<T>>);

// SAFETY: every access happens in a function CPython calls with the GIL held
// (module functions, type slots and monitoring callbacks), which serialises
// them; the module refuses free-threaded builds (abi3 cannot load there).
unsafe impl<T> Sync for GilCell<T> {}

static STATE: GilCell<State> = GilCell(UnsafeCell::new(None));
static CHUNK: GilCell<Chunk> = GilCell(UnsafeCell::new(None));
static TYPES: GilCell<Types> = GilCell(UnsafeCell::new(None));
static TABLE: GilCell<table::Table> = GilCell(UnsafeCell::new(None));
static CLOCK: GilCell<clock::Clock> = GilCell(UnsafeCell::new(None));

/// # Safety
/// The GIL must be held, and no other reference to the state may be alive.
unsafe fn state() -> Option<&'static mut State> {
    // SAFETY: the caller holds the GIL (see GilCell) and takes only this
    // reference for the duration of one callback.
    unsafe { (*STATE.0.get()).as_mut() }
}

/// The chunk being filled (made at module initialisation).
///
/// # Safety
/// As `state`: GIL held, no other reference to the chunk alive — no Python
/// code runs while one is held.
unsafe fn chunk() -> Option<&'static mut Chunk> {
    // SAFETY: as state().
    unsafe { (*CHUNK.0.get()).as_mut() }
}

/// The plan's actions by code and offset (made at module initialisation).
///
/// # Safety
/// As `state`.
unsafe fn table() -> Option<&'static mut table::Table> {
    // SAFETY: as state().
    unsafe { (*TABLE.0.get()).as_mut() }
}

/// The fast path's clock (made at module initialisation).
///
/// # Safety
/// As `state`.
unsafe fn clock() -> Option<&'static mut clock::Clock> {
    // SAFETY: as state().
    unsafe { (*CLOCK.0.get()).as_mut() }
}

/// The Waiting and Slot types (made at module initialisation).
///
/// # Safety
/// GIL held.
unsafe fn types() -> Option<&'static Types> {
    // SAFETY: written once at initialisation, only read afterwards.
    unsafe { (*TYPES.0.get()).as_ref() }
}

/// The manager's completions list, once installed.
///
/// # Safety
/// GIL held.
unsafe fn completions() -> Option<*mut PyObject> {
    // SAFETY: as state(); only a pointer is copied out.
    unsafe { (*STATE.0.get()).as_ref().map(|s| s.completions) }
}

/// values.PEND, once installed.
///
/// # Safety
/// GIL held.
unsafe fn pend() -> Option<*mut PyObject> {
    // SAFETY: as state(); only a pointer is copied out.
    unsafe { (*STATE.0.get()).as_ref().map(|s| s.pend) }
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
unsafe fn hand_over(st: &State, args: *mut *mut PyObject, nargs: Py_ssize_t) -> *mut PyObject {
    // SAFETY: forwarding the arguments CPython gave us, as given.
    unsafe {
        headroom::with_headroom(|| {
            PyObject_Vectorcall(st.general, args, nargs as usize, ptr::null_mut())
        })
    }
}

/// An error in our own bookkeeping (a failed allocation): reported as the
/// Python core reports its own (`mgr.internal_error`), never raised into
/// the program — unless it is the program's Ctrl-C or exit, which go on.
///
/// # Safety
/// GIL held, an exception set, no reference to the state alive.
unsafe fn swallow() -> *mut PyObject {
    // SAFETY: GIL held; the exception is fetched and either restored (a
    // BaseException that is not an Exception) or passed to internal_error.
    unsafe {
        if PyErr_ExceptionMatches(PyExc_Exception) == 0 {
            return ptr::null_mut();
        }
        let Some(internal_error) = state().map(|s| s.internal_error) else {
            return ptr::null_mut();
        };
        let exc = PyErr_GetRaisedException();
        let r = headroom::with_headroom(|| {
            PyObject_CallFunctionObjArgs(internal_error, exc, ptr::null_mut::<PyObject>())
        });
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
unsafe fn forget(st: &mut State, frame: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; the exception in flight is kept across the delete.
    unsafe {
        let exc = PyErr_GetRaisedException();
        if PyDict_DelItem(st.pending, frame) != 0 {
            PyErr_Clear();
        }
        if frame == st.hot_frame {
            st.hot_frame = ptr::null_mut();
        }
        if exc.is_null() {
            PyErr_SetString(PyExc_MemoryError, c"_probe_native: out of memory".as_ptr());
        } else {
            PyErr_SetRaisedException(exc);
        }
        swallow()
    }
}

/// The value of `probe`'s local in the running frame as the Python core's
/// fast path reads it: a new reference to a value the chunk keeps as
/// itself, with its binary form (chunk::encode_value) — or to an array's
/// snapshot, without one — or None where the Python core must decide (an
/// unbound or non-local name, a value that needs a snapshot) — nothing
/// changed then.
///
/// # Safety
/// GIL held, inside the monitoring callback of `frame` (running `code`);
/// `probe` a live object.
unsafe fn read_value(
    st: &mut State,
    frame: *mut PyFrameObject,
    code: *mut PyObject,
    probe: *mut PyObject,
) -> Option<(*mut PyObject, Option<Val>)> {
    // SAFETY: GIL held (caller); every call checks its argument's type or
    // fails with an exception, which is cleared.
    unsafe {
        // A probe's variable name never changes: the last one is kept (an
        // attribute lookup is ~150 instructions).
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
            // A function's plain local, from its slot (no name search).
            Some(false) if st.direct_locals && fast_slot(st, code).is_some() => {
                let idx = st.idx.unwrap_or(0);
                match read_fast(frame, code, idx) {
                    Some(v) if !v.is_null() => Py_NewRef(v),
                    // Unbound: the Python core decides (as below).
                    Some(_) => return None,
                    None => PyFrame_GetVar(frame, st.last_base),
                }
            }
            // A function's local (cells and free variables included).
            Some(false) => PyFrame_GetVar(frame, st.last_base),
            // A module or class body: its namespace, as f_locals gives it
            // on 3.13+ (an inlined comprehension's hidden locals included)
            // — where the API for it exists.
            Some(true) => match st.frame_locals {
                Some(get_locals) => namespace_value(get_locals, st.last_base),
                None if st.frame_memory => {
                    namespace_value_memory(st.last_code_fast, frame, code, st.last_base)
                }
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
        if let Some(val) = encode_value(value) {
            return Some((value, Some(val)));
        }
        {
            // A NumPy array the buffer protocol hands over as is: its
            // snapshot, made here (else the Python core decides).
            if st.ndarray.is_null() {
                st.ndarray = values::find_ndarray();
            }
            let snap = if st.ndarray.is_null() {
                None
            } else {
                values::snapshot_array(value, st.ndarray, st.max_array_bytes)
            };
            Py_DECREF(value);
            snap.map(|o| (o, None))
        }
    }
}

/// The slot of the last probe's name among `code`'s plain fast locals
/// (kept for the last code object and name), if it is one.
///
/// # Safety
/// GIL held; `code` live; `st.last_base` set.
unsafe fn fast_slot(st: &mut State, code: *mut PyObject) -> Option<usize> {
    if code != st.idx_code || st.last_base != st.idx_name {
        // SAFETY: GIL held; the cached objects are owned (here and in
        // idx_keep), so that their addresses cannot be reused while they
        // are compared against.
        unsafe {
            let key = (code as usize, st.last_base as usize);
            st.idx = match st.idx_cache.get(&key) {
                Some(&idx) => idx,
                None => {
                    let idx = fast_index(code, st.last_base);
                    st.idx_keep.push(Py_NewRef(code));
                    st.idx_keep.push(Py_NewRef(st.last_base));
                    st.idx_cache.insert(key, idx);
                    idx
                }
            };
            Py_XDECREF(st.idx_code);
            Py_XDECREF(st.idx_name);
            st.idx_code = Py_NewRef(code);
            st.idx_name = Py_NewRef(st.last_base);
        }
    }
    st.idx
}

/// A value the fast path completes a capture with.
enum Snap {
    /// Kept in binary in the record's slot.
    Bin(Val),
    /// A snapshot object (an array's, owned), marshalled with the chunk.
    Obj(*mut PyObject),
}

/// A frame's entry in `pending`, as the fast path found it.
enum Entry {
    /// Nothing waits.
    Nothing,
    /// The fast path's own (borrowed), with the value its capture completes
    /// with now — None when it is empty.
    Native(*mut Waiting, Option<Snap>),
    /// The Python core's `(item, probe, unit, view)` (borrowed), and the
    /// value (a new reference).
    Tuple(*mut PyObject, *mut PyObject),
}

/// The running frame (borrowed: CPython keeps it while it runs) and its
/// entry.
struct Found {
    frame: *mut PyObject,
    entry: Entry,
}

/// The running frame, its one waiting capture and the value it completes
/// with now; None where the Python core must decide (several captures
/// waiting; see read_value). Nothing changes here.
///
/// # Safety
/// GIL held, inside the INSTRUCTION callback of a frame running `code`.
unsafe fn find(st: &mut State, code: *mut PyObject) -> Option<Found> {
    // SAFETY: GIL held (caller); a failed lookup's exception is cleared;
    // an entry of the Waiting type is a Waiting.
    unsafe {
        let frame = PyEval_GetFrame(); // borrowed
        if frame.is_null() {
            return None;
        }
        let frame_obj = frame.cast::<PyObject>();
        // The frame's Waiting, as the fast path left it: while the Python
        // core has not looked at it, it is still `pending[frame]` (only the
        // Python core takes entries out, and it looks at them first), and
        // the dict holds the frame, so its address is still this frame's.
        if frame_obj == st.hot_frame && !st.hot.is_null() && !(*st.hot).taken {
            let entry = native_entry(st, frame, code, st.hot)?;
            return Some(Found {
                frame: frame_obj,
                entry,
            });
        }
        let pl = PyDict_GetItemWithError(st.pending, frame_obj); // borrowed
        if pl.is_null() {
            if !PyErr_Occurred().is_null() {
                PyErr_Clear();
                return None;
            }
            return Some(Found {
                frame: frame_obj,
                entry: Entry::Nothing,
            });
        }
        let waiting_type = types()?.waiting;
        let entry = if Py_TYPE(pl) == waiting_type {
            let w = pl.cast::<Waiting>();
            set_hot(st, frame_obj, w);
            native_entry(st, frame, code, w)?
        } else if Py_TYPE(pl) == &raw mut PyTuple_Type && PyTuple_Size(pl) >= 2 {
            // The Python core's one waiting capture (its fast path made it).
            let (v, _) = read_value(st, frame, code, PyTuple_GetItem(pl, 1))?;
            Entry::Tuple(pl, v)
        } else {
            // A list of captures: the general path's.
            return None;
        };
        Some(Found {
            frame: frame_obj,
            entry,
        })
    }
}

/// The fast path's own entry `w` and the value its capture completes with
/// now (None when it is empty); None where the Python core must decide.
///
/// # Safety
/// As `find`; `w` a live Waiting.
unsafe fn native_entry(
    st: &mut State,
    frame: *mut PyFrameObject,
    code: *mut PyObject,
    w: *mut Waiting,
) -> Option<Entry> {
    // SAFETY: GIL held (caller); the value read is a new reference,
    // released once encoded.
    unsafe {
        if (*w).probe.is_null() {
            return Some(Entry::Native(w, None));
        }
        let snap = match read_value(st, frame, code, (*w).probe)? {
            (v, Some(val)) => {
                Py_DECREF(v);
                Snap::Bin(val)
            }
            (v, None) => Snap::Obj(v),
        };
        Some(Entry::Native(w, Some(snap)))
    }
}

/// Remembers `w` as `frame`'s Waiting (see `find`).
///
/// # Safety
/// GIL held; `w` a live Waiting that is `pending[frame]`.
unsafe fn set_hot(st: &mut State, frame: *mut PyObject, w: *mut Waiting) {
    if st.hot != w {
        // SAFETY: GIL held; the reference kept is a new one, the old one is
        // released (a Waiting's deallocation runs no Python code).
        unsafe {
            let old = st.hot;
            st.hot = Py_NewRef(w.cast::<PyObject>()).cast();
            Py_XDECREF(old.cast());
        }
    }
    st.hot_frame = frame;
}

/// Settles the frame's waiting capture with the value `find` read (the
/// reference it holds is consumed).
///
/// # Safety
/// GIL held; `entry` from `find`, used once.
unsafe fn complete(st: &State, c: &mut Chunk, entry: &Entry) -> bool {
    // SAFETY: GIL held; the borrowed tuple gets a reference of its own for
    // the duration of settle, so it stays alive whatever settle appends.
    unsafe {
        match *entry {
            Entry::Nothing | Entry::Native(_, None) => true,
            Entry::Native(w, Some(ref v)) => complete_native(st, c, (*w).n, v),
            Entry::Tuple(pl, value) => {
                let pl = Py_NewRef(pl);
                let ok = settle(st, pl, value);
                Py_DECREF(pl);
                ok
            }
        }
    }
}

/// Record `n`'s waiting capture takes `v` (an object's reference is
/// consumed): in its slot while the chunk is unsent, else as a completion
/// of the placeholder the flush sent (a binary one, or the manager's
/// completions list for an object, as the Python core's Slot does).
///
/// # Safety
/// GIL held; `v` used once.
unsafe fn complete_native(st: &State, c: &mut Chunk, n: u64, v: &Snap) -> bool {
    // SAFETY: GIL held (caller); the object is live and owned by `v`.
    unsafe {
        match *v {
            Snap::Bin(val) => {
                c.complete(n, val);
                true
            }
            Snap::Obj(o) => {
                let ok = if c.unsent(n) {
                    c.set_object(n, o)
                } else {
                    let t = PyLong_FromLongLong(chunk::token(n));
                    let pair = if t.is_null() {
                        ptr::null_mut()
                    } else {
                        PyTuple_Pack(2, t, o)
                    };
                    Py_XDECREF(t);
                    let r = !pair.is_null() && PyList_Append(st.completions, pair) == 0;
                    Py_XDECREF(pair);
                    r
                };
                Py_DECREF(o);
                ok
            }
        }
    }
}

/// The end of an event the extension handled: a Ctrl-C caught while the
/// Python core read a value earlier is raised now (the manager's reraise),
/// else None.
///
/// # Safety
/// GIL held, at the end of a callback, no reference to the state alive.
unsafe fn event_done() -> *mut PyObject {
    // SAFETY: GIL held; list access is bounds-checked.
    unsafe {
        let Some((intr, reraise)) = state().map(|s| (s.intr, s.reraise)) else {
            return Py_NewRef(Py_None());
        };
        if item0(intr) == Py_True() {
            let r = headroom::with_headroom(|| PyObject_CallNoArgs(reraise));
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
) -> *mut PyObject {
    // SAFETY: as on_instr: GIL held, no Python code runs before `st` is
    // last used except in the calls that end this function.
    unsafe {
        let Some(c) = chunk() else {
            return hand_over(st, args, nargs);
        };
        let Some(f) = find(st, code) else {
            return hand_over(st, args, nargs);
        };
        match f.entry {
            // Nothing waits: the Python core would do nothing either (and
            // keep the event, as here).
            Entry::Nothing | Entry::Native(_, None) => return Py_NewRef(Py_None()),
            Entry::Native(w, Some(ref v)) => {
                let probe = (*w).probe;
                // Emptied, not deleted: the frame's next record fills it
                // again without a dict store.
                let ok = complete_native(st, c, (*w).n, v);
                set_waiting(w, 0, ptr::null_mut(), ptr::null_mut());
                if !ok {
                    return forget(st, f.frame);
                }
                arm_hot_complete(st, code, probe, f.frame, w);
            }
            Entry::Tuple(..) => {
                if !complete(st, c, &f.entry) {
                    return forget(st, f.frame);
                }
                if PyDict_DelItem(st.pending, f.frame) != 0 {
                    return swallow();
                }
            }
        }
        event_done()
    }
}

/// Keeps the completion just done as `st.hot_complete` when the next one
/// can be recognised cheaply (see `HotComplete`): the running frame
/// readable from its thread state, `w` the hot Waiting, the variable read
/// from the frame's namespace — an exact dict, the one the general path
/// reads — by a name that is none of the code's fast locals (a hidden
/// comprehension variable would shadow it). Otherwise it is dropped.
///
/// # Safety
/// GIL held, at the end of `complete_only`'s completion of `w` in `frame`
/// (running `code`) for `probe` (borrowed from the table).
unsafe fn arm_hot_complete(
    st: &mut State,
    code: *mut PyObject,
    probe: *mut PyObject,
    frame: *mut PyObject,
    w: *mut Waiting,
) {
    st.hot_complete = None;
    // SAFETY: GIL held; every pointer compared or read is live (the
    // Waiting is owned by st.hot, the frame is the running one, the
    // namespace is the frame's); the calls made check their arguments.
    unsafe {
        if st.memo.as_ref().is_none_or(|m| m.site.is_some())
            || st.hot != w
            || st.last_probe != probe
            || st.last_base.is_null()
            || st.last_code != code
            || st.last_code_namespace != Some(true)
            || !(st.frame_memory || st.frame_locals.is_some())
        {
            return;
        }
        let Some(event) = HotEvent::now(st, code, frame) else {
            return;
        };
        let ns = iframe_namespace(event.iframe);
        if ns.is_null() || Py_TYPE(ns) != &raw mut PyDict_Type {
            return;
        }
        // The namespace the general path reads (3.13+: the frame's locals
        // as the API gives them, the dict itself for a module or class
        // body without hidden locals).
        if let Some(get_locals) = st.frame_locals {
            let got = get_locals();
            let same = got == ns;
            Py_XDECREF(got);
            if got.is_null() {
                PyErr_Clear();
            }
            if !same {
                return;
            }
        }
        let Some(fast) = fast_names(code) else {
            return;
        };
        let shadowed = !fast.is_null() && PySet_Contains(fast, st.last_base) != 0;
        Py_XDECREF(fast);
        if shadowed {
            PyErr_Clear();
            return;
        }
        st.hot_complete = Some(HotComplete {
            event,
            probe,
            name: st.last_base,
            ns,
        });
    }
}

/// A module-level loop's completing event (at `offset` of `code`) done as
/// `complete_only` would do it, when it is the same as the last one
/// (`HotComplete`); None — nothing changed — otherwise.
///
/// # Safety
/// As `on_instr`, in that event.
#[inline]
unsafe fn hot_complete(st: &mut State, code: *mut PyObject, offset: i64) -> Option<*mut PyObject> {
    // SAFETY: GIL held (caller); each pointer is compared with the state
    // that keeps it alive before it is used (see `HotComplete`); the dict
    // lookup is the one the general path makes.
    unsafe {
        let h = st.hot_complete.as_ref()?;
        let iframe = h.event.matches(st, code, offset)?;
        let w = h.event.w;
        if iframe_namespace(iframe) != h.ns
            || (*w).probe != h.probe
            || st.last_probe != h.probe
            || st.last_base != h.name
        {
            return None;
        }
        let v = PyDict_GetItemWithError(h.ns, h.name); // borrowed
        if v.is_null() {
            // Not there (a global, unbound) or a failed comparison: the
            // general path decides.
            PyErr_Clear();
            return None;
        }
        let (tag, a, b) = slot_value(v)?;
        let c = chunk()?;
        c.complete_parts((*w).n, tag, a, b);
        set_waiting(w, 0, ptr::null_mut(), ptr::null_mut());
        Some(event_done())
    }
}

/// The INSTRUCTION callback: `(code, offset)`.
unsafe extern "C" fn on_instr(
    _slf: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` valid
    // arguments; the state and chunk are ours for the duration of the call
    // (no Python code runs before their last use, except in the calls that
    // end the function: hand_over, flush — after which neither is touched
    // again; swallow and event_done look the state up afresh).
    unsafe {
        let Some(st) = state() else {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: not installed".as_ptr());
            return ptr::null_mut();
        };
        if nargs != 2 {
            return hand_over(st, args, nargs);
        }
        let (code, offset_obj) = (*args, *args.add(1));
        if let Some(offset) = small_int(offset_obj) {
            if let Some(r) = hot(st, code, offset) {
                return r;
            }
            if let Some(r) = hot_complete(st, code, offset) {
                return r;
            }
        }
        let Some(t) = table() else {
            return hand_over(st, args, nargs);
        };
        let gen = t.generation();
        let (site, probe, unit, quiet) = match st.memo {
            Some(ref m)
                if m.code == code
                    && m.gen == gen
                    && (m.offset == offset_obj || small_int(offset_obj) == Some(m.offset_val)) =>
            {
                (m.site, m.probe, m.unit, m.quiet)
            }
            _ => {
                let offset = PyLong_AsLong(offset_obj);
                if offset == -1 && !PyErr_Occurred().is_null() {
                    PyErr_Clear();
                    return hand_over(st, args, nargs);
                }
                // Everything checked before anything changes: whatever the
                // fast path does not take goes to the Python core as if we
                // were not here.
                let Some(entry) = t.get(code, offset as i64) else {
                    return hand_over(st, args, nargs);
                };
                let (site, probe, unit, quiet) = (entry.site, entry.probe, entry.unit, entry.quiet);
                if let Some(old) = st.memo.take() {
                    Py_DECREF(old.offset);
                }
                st.memo = Some(Memo {
                    code,
                    offset: Py_NewRef(offset_obj),
                    offset_val: offset as i64,
                    gen,
                    site,
                    quiet,
                    probe,
                    unit,
                });
                (site, probe, unit, quiet)
            }
        };
        if quiet && item0(st.mt) == Py_False() {
            // Nothing to do while one thread runs: the Python core's
            // callback disables the event.
            return hand_over(st, args, nargs);
        }
        if !mt_free(st) {
            PyErr_Clear();
            return hand_over(st, args, nargs);
        }
        let Some(site) = site else {
            return complete_only(st, args, nargs, code);
        };
        let (Some(c), Some(types)) = (chunk(), types()) else {
            return hand_over(st, args, nargs);
        };
        let Some(f) = find(st, code) else {
            return hand_over(st, args, nargs);
        };
        let Some(tidx) = thread_index(st, c) else {
            return hand_over(st, args, nargs);
        };
        // From here on the event is ours.
        if !complete(st, c, &f.entry) {
            return forget(st, f.frame);
        }
        let ts = match clock() {
            Some(k) => k.now(),
            None => clock::monotonic_ns(),
        };
        let n = c.push_fast(site, ts, tidx);
        if let Entry::Native(w, _) = f.entry {
            // The frame's Waiting takes the new record, in place.
            set_waiting(w, n, probe, unit);
        } else {
            let w = new_waiting(types, n, probe, unit);
            if w.is_null() {
                return forget(st, f.frame);
            }
            // Replaces the Python core's tuple, if there was one.
            let set = PyDict_SetItem(st.pending, f.frame, w);
            if set == 0 {
                set_hot(st, f.frame, w.cast());
            }
            Py_DECREF(w);
            if set != 0 {
                return forget(st, f.frame);
            }
        }
        arm_hot(st, code, site, probe, unit, f.frame);
        record_done(st, c, ts)
    }
}

/// The end of an event that made a record at `ts`: the chunk is flushed
/// when full or due, then as `event_done`.
///
/// # Safety
/// As `on_instr`, at its end: nothing of the state is used afterwards.
#[inline(always)]
unsafe fn record_done(st: &mut State, c: &Chunk, ts: i64) -> *mut PyObject {
    // SAFETY: GIL held (caller); the flush is the manager's, and its
    // failure is reported as the Python core's own.
    unsafe {
        let full = c.items() >= CHUNK_RECORDS || c.value_bytes() >= CHUNK_VALUE_BYTES;
        if full || ts > deadline(st) {
            let r = headroom::with_headroom(|| PyObject_CallNoArgs(st.flush));
            if r.is_null() {
                return swallow();
            }
            Py_DECREF(r);
        }
        event_done()
    }
}

/// A small int or a float as a slot value's parts, else None.
///
/// # Safety
/// GIL held; `v` a live object.
#[inline(always)]
unsafe fn hot_value(v: *mut PyObject) -> Option<(u8, u64, u64)> {
    // SAFETY: only an exact int's or float's memory is read, at layouts
    // confirmed by chunk::check_ints.
    unsafe {
        let t = Py_TYPE(v);
        if t == &raw mut PyLong_Type {
            return compact_int(v).map(|i| (chunk::V_INT, i as u64, 0));
        }
        if t == &raw mut PyFloat_Type {
            return chunk::float_value(v).map(|x| (chunk::V_FLOAT, x, 0));
        }
        None
    }
}

/// A small int's value (see `chunk::compact_int`), for an offset.
///
/// # Safety
/// GIL held; `o` a live object.
#[inline]
unsafe fn small_int(o: *mut PyObject) -> Option<i64> {
    // SAFETY: only an exact int's memory is read.
    unsafe {
        if Py_TYPE(o) != &raw mut PyLong_Type {
            return None;
        }
        compact_int(o)
    }
}

/// Keeps the event just completed as `st.hot_path`, when the next one of
/// the tight loop can be recognised cheaply (see `Hot`): the running
/// frame readable from its thread state, `frame`'s Waiting the hot one and
/// waiting for `probe`, whose variable is a plain fast local of `code` at a
/// slot already found. Otherwise the hot path is dropped.
///
/// # Safety
/// GIL held, at the end of the fast path's event in `frame` (running
/// `code`), after the Waiting took the new record.
unsafe fn arm_hot(
    st: &mut State,
    code: *mut PyObject,
    site: u32,
    probe: *mut PyObject,
    unit: *mut PyObject,
    frame: *mut PyObject,
) {
    st.hot_path = None;
    // SAFETY: GIL held; every pointer compared or read is live (the
    // Waiting is owned by st.hot, the frame is the running one).
    unsafe {
        if !st.direct_locals
            || st.hot.is_null()
            || (*st.hot).probe != probe
            || (*st.hot).unit != unit
        {
            return;
        }
        let Some(event) = HotEvent::now(st, code, frame) else {
            return;
        };
        // The variable's slot, where it is a function's plain local whose
        // slot was found already.
        let idx = if st.last_probe == probe
            && st.last_code == code
            && st.last_code_namespace == Some(false)
            && st.idx_code == code
            && st.idx_name == st.last_base
        {
            st.idx
        } else {
            None
        };
        st.hot_path = Some(Hot {
            event,
            site,
            probe,
            unit,
            idx,
        });
    }
}

/// The tight loop's event (at `offset` of `code`) done as the fast path
/// would do it, when it is the same as the last one (`Hot`); None —
/// nothing changed — otherwise.
///
/// # Safety
/// As `on_instr`, in that event.
#[inline]
unsafe fn hot(st: &mut State, code: *mut PyObject, offset: i64) -> Option<*mut PyObject> {
    // SAFETY: GIL held (caller); each pointer is compared with the state
    // that keeps it alive before it is used (see `Hot`), and the slot read
    // is within the frame of the code whose fast local it is.
    unsafe {
        let h = st.hot_path.as_ref()?;
        let iframe = h.event.matches(st, code, offset)?;
        let w = h.event.w;
        let (site, probe, unit, idx) = (h.site, h.probe, h.unit, h.idx);
        let tidx = thread_index(st, chunk()?)?;
        let c = if (*w).probe.is_null() {
            // Nothing waits (its capture was completed in between).
            chunk()?
        } else {
            let idx = idx?;
            if (*w).probe != probe || (*w).unit != unit {
                return None;
            }
            let v = iframe_local(iframe, idx);
            if v.is_null() {
                return None;
            }
            let (tag, a, b) = slot_value(v)?;
            let c = chunk()?;
            c.complete_parts((*w).n, tag, a, b);
            c
        };
        let ts = match clock() {
            Some(k) => k.now(),
            None => clock::monotonic_ns(),
        };
        let n = c.push_fast(site, ts, tidx);
        set_waiting(w, n, probe, unit);
        Some(record_done(st, c, ts))
    }
}

/// Whether the extension may handle an event now: always while one thread
/// runs; with threads, only while no thread is inside the manager's locked
/// sections — the Python core takes a timestamp and appends its item under
/// the lock, reading values in between (which may run the program's code
/// and switch threads), so a record made meanwhile would come before it
/// in seq with a later timestamp.
///
/// # Safety
/// GIL held.
#[inline(always)]
unsafe fn mt_free(st: &State) -> bool {
    // SAFETY: GIL held (caller).
    unsafe { item0(st.mt) == Py_False() || lock_free(st) }
}

/// `mt_free`'s look at the lock, out of the single-threaded hot path.
///
/// # Safety
/// GIL held.
#[cold]
#[inline(never)]
unsafe fn lock_free(st: &State) -> bool {
    // SAFETY: GIL held (caller); every result is checked and released;
    // `lock_obj` is a live `_thread.lock` we own whose state byte
    // `lock_layout` found at `lock_at.0` (inside the object).
    unsafe {
        if st.lock_at.0 != 0 {
            // ~100 ns less per event than the attribute and the call below.
            return *st.lock_obj.cast::<u8>().add(st.lock_at.0) & st.lock_at.1 == 0;
        }
        if st.mgr.is_null() {
            return false;
        }
        let lock = PyObject_GetAttr(st.mgr, st.lock_attr);
        if lock.is_null() {
            PyErr_Clear();
            return false;
        }
        let r = PyObject_CallMethodObjArgs(lock, st.locked_attr, ptr::null_mut::<PyObject>());
        Py_DECREF(lock);
        if r.is_null() {
            PyErr_Clear();
            return false;
        }
        let free = r == Py_False();
        Py_DECREF(r);
        free
    }
}

/// The running thread's index for its records (`K_THREAD`): 0 while one
/// thread runs (the log's main thread); with threads, the index
/// registered for its Python ident (registered now, in `c`, the first
/// time). None when the indexes are used up: the Python core's items
/// carry the ident then.
///
/// # Safety
/// GIL held.
#[inline(always)]
unsafe fn thread_index(st: &mut State, c: &mut Chunk) -> Option<u16> {
    // SAFETY: GIL held (caller).
    unsafe {
        if item0(st.mt) == Py_False() {
            Some(0)
        } else {
            registered_thread(st, c)
        }
    }
}

/// `thread_index` with threads, out of the single-threaded hot path.
///
/// # Safety
/// GIL held.
#[cold]
#[inline(never)]
unsafe fn registered_thread(st: &mut State, c: &mut Chunk) -> Option<u16> {
    // SAFETY: GIL held (caller).
    unsafe {
        // (c_ulong: 64 bits on every platform the extension builds for.)
        let ident = PyThread_get_thread_ident() as u64;
        if st.last_thread.0 == ident && st.last_thread.1 != 0 {
            return Some(st.last_thread.1);
        }
        let index = match st.threads.iter().position(|&t| t == ident) {
            Some(i) => u16::try_from(i + 1).ok()?,
            None => {
                let index = u16::try_from(st.threads.len() + 1).ok()?;
                st.threads.push(ident);
                c.push_thread(index, ident);
                index
            }
        };
        st.last_thread = (ident, index);
        Some(index)
    }
}

/// `use_threads(mgr)`: threads exist; the extension takes their events
/// too, looking at `mgr.lock` before each (see `mt_free`).
unsafe extern "C" fn use_threads(_module: *mut PyObject, mgr: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held (CPython calls this); the reference kept is new.
    unsafe {
        let Some(st) = state() else {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: not installed".as_ptr());
            return ptr::null_mut();
        };
        let old = st.mgr;
        st.mgr = Py_NewRef(mgr);
        Py_XDECREF(old);
        // The manager's lock, read in place from now on if a lock of our
        // own shows where its state is. (Its `lock` attribute is only
        // rebound in a forked child, which stops tracing.)
        let old = st.lock_obj;
        st.lock_obj = ptr::null_mut();
        st.lock_at = (0, 0);
        Py_XDECREF(old);
        let lock = PyObject_GetAttr(mgr, st.lock_attr);
        if lock.is_null() {
            PyErr_Clear();
        } else if let Some(at) = lock_layout(lock) {
            st.lock_obj = lock;
            st.lock_at = at;
        } else {
            Py_DECREF(lock);
        }
        Py_NewRef(Py_None())
    }
}

/// Where a `_thread.lock` keeps whether it is held: (byte offset, mask of
/// the byte's "held" bits). 3.11-3.13 have a `char locked` after the
/// native lock and the weakref list (offset 32); 3.14+ a `PyMutex` right
/// after the object header (offset 16, bit 0). Which one is confirmed on a
/// fresh lock of the same type - unheld, held, unheld again - never
/// assumed; None when neither behaves so (then `locked()` is called).
///
/// # Safety
/// GIL held; `like` a live object.
unsafe fn lock_layout(like: *mut PyObject) -> Option<(usize, u8)> {
    const CANDIDATES: [(usize, u8); 2] = [(16, 1), (32, 0xff)];
    // SAFETY: GIL held (caller); every result is checked and released; a
    // candidate byte is read only inside the object (`__basicsize__`).
    unsafe {
        let module = PyImport_ImportModule(c"_thread".as_ptr()); // built in, loaded by the agent
        if module.is_null() {
            PyErr_Clear();
            return None;
        }
        let test = PyObject_CallMethod(module, c"allocate_lock".as_ptr(), ptr::null());
        Py_DECREF(module);
        if test.is_null() {
            PyErr_Clear();
            return None;
        }
        let found = lock_layout_of(test, like, &CANDIDATES);
        Py_DECREF(test);
        if found.is_none() {
            PyErr_Clear();
        }
        found
    }
}

/// `lock_layout` on its fresh lock `test`.
///
/// # Safety
/// GIL held; `test` and `like` live objects.
unsafe fn lock_layout_of(
    test: *mut PyObject,
    like: *mut PyObject,
    candidates: &[(usize, u8)],
) -> Option<(usize, u8)> {
    // SAFETY: GIL held (caller); results checked and released; bytes read
    // below `__basicsize__` only.
    unsafe {
        let ty = PyObject_Type(test);
        if ty.is_null() {
            return None;
        }
        let like_ty = PyObject_Type(like);
        let same = like_ty == ty;
        Py_XDECREF(like_ty);
        if !same {
            Py_DECREF(ty);
            return None;
        }
        let basicsize = PyObject_GetAttrString(ty, c"__basicsize__".as_ptr());
        Py_DECREF(ty);
        if basicsize.is_null() {
            return None;
        }
        let size = PyLong_AsSsize_t(basicsize);
        Py_DECREF(basicsize);
        if size < 0 {
            return None;
        }
        let size = size as usize;
        let read = |test: *mut PyObject| -> Vec<u8> {
            candidates
                .iter()
                .map(|&(off, mask)| {
                    if off < size {
                        *test.cast::<u8>().add(off) & mask
                    } else {
                        0xff
                    }
                })
                .collect()
        };
        let before = read(test);
        let r = PyObject_CallMethod(test, c"acquire".as_ptr(), ptr::null());
        if r.is_null() {
            return None;
        }
        Py_DECREF(r);
        let during = read(test);
        let r = PyObject_CallMethod(test, c"release".as_ptr(), ptr::null());
        if r.is_null() {
            return None;
        }
        Py_DECREF(r);
        let after = read(test);
        (0..candidates.len())
            .find(|&i| candidates[i].0 < size && before[i] == 0 && during[i] != 0 && after[i] == 0)
            .map(|i| candidates[i])
    }
}

/// `threads_seen() -> int`: how many threads the extension registered
/// (the threads whose events it took itself; 0 while one thread ran).
unsafe extern "C" fn threads_seen(_module: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held (CPython calls this).
    unsafe {
        let n = state().map_or(0, |st| st.threads.len());
        PyLong_FromSize_t(n)
    }
}

/// `lock_in_place() -> bool`: whether `mt_free` reads the manager's lock
/// in place (`lock_layout` confirmed where its state is).
unsafe extern "C" fn lock_in_place(_module: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held (CPython calls this).
    unsafe { PyBool_FromLong(state().is_some_and(|st| st.lock_at.0 != 0).into()) }
}

/// Whether `item0` may read lists directly (set by `check_lists`).
static LISTS_DIRECT: AtomicBool = AtomicBool::new(false);

/// Item 0 of one of the manager's one-item lists (`mt`, `deadline`,
/// `intr`), read every record: from the list object as CPython lays it out
/// (`ob_size` then `ob_item` after the header) where `check_lists` confirmed
/// that layout, else through `PyList_GetItem` (~9 instructions and a call
/// each). NULL for an empty list (with no exception set on the direct path).
///
/// # Safety
/// GIL held; `list` a live list.
#[inline]
unsafe fn item0(list: *mut PyObject) -> *mut PyObject {
    // SAFETY: the layout was confirmed on these very lists; the size is
    // read before the item array.
    unsafe {
        if LISTS_DIRECT.load(Ordering::Relaxed) {
            let words = list.cast::<usize>();
            if *words.add(2) as isize > 0 {
                return **words.add(3).cast::<*mut *mut PyObject>();
            }
            return ptr::null_mut();
        }
        PyList_GetItem(list, 0)
    }
}

/// Confirms `item0`'s layout on `lists` (each a non-empty list).
///
/// # Safety
/// GIL held; the objects live.
unsafe fn check_lists(lists: &[*mut PyObject]) {
    LISTS_DIRECT.store(true, Ordering::Relaxed);
    // SAFETY: GIL held; every object is checked to be an exact, non-empty
    // list before its memory is read.
    let ok = lists.iter().all(|&l| unsafe {
        Py_TYPE(l) == &raw mut PyList_Type
            && PyList_Size(l) > 0
            && item0(l) == PyList_GetItem(l, 0)
            && *l.cast::<usize>().add(2) as isize == PyList_Size(l)
    });
    LISTS_DIRECT.store(ok, Ordering::Relaxed);
}

/// The manager's flush deadline (monotonic ns); i64::MAX if unreadable.
///
/// # Safety
/// GIL held.
unsafe fn deadline(st: &mut State) -> i64 {
    // SAFETY: GIL held; the list access is bounds-checked, the cached
    // object is kept alive so that its address cannot be reused.
    unsafe {
        let d = item0(st.deadline);
        if d != st.deadline_obj && !d.is_null() {
            let v = PyLong_AsLongLong(d);
            if v == -1 && !PyErr_Occurred().is_null() {
                PyErr_Clear();
                return i64::MAX;
            }
            Py_XDECREF(st.deadline_obj);
            st.deadline_obj = Py_NewRef(d);
            st.deadline_ns = v;
        }
        if d.is_null() {
            PyErr_Clear();
            return i64::MAX;
        }
        st.deadline_ns
    }
}

/// Completes the frame's one waiting capture made by the Python core
/// (`pl`, a tuple whose item is `pl[0]`, a list) with `value` (a new
/// reference, consumed) — manager semantics: the item's slot if it is
/// still unsent, else a completion for the placeholder the flush sent.
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

/// `install(general, pending, completions, mt, deadline, intr, flush,
/// reraise, internal_error, pend, frame_memory, max_array_bytes)` -> the INSTRUCTION
/// callback. The manager's chunk must be this module's (chunk_append and
/// the rest) from then on, and the planner must enter its actions in the
/// table (table_set).
unsafe extern "C" fn install(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` valid
    // arguments; the references kept are new ones (Py_NewRef).
    unsafe {
        if nargs != 12 {
            PyErr_SetString(PyExc_TypeError, c"install() takes 12 arguments".as_ptr());
            return ptr::null_mut();
        }
        // 3.11 runs it under its trace function (tracer.rs).
        if !sym::native_core_ok() && Py_Version >> 16 != 0x030b {
            PyErr_SetString(
                PyExc_RuntimeError,
                c"the native core needs Python 3.11+ (PyFrame_GetVar, PyErr_GetRaisedException)"
                    .as_ptr(),
            );
            return ptr::null_mut();
        }
        let max_array_bytes = PyLong_AsSsize_t(*args.add(11));
        if max_array_bytes < 0 {
            if PyErr_Occurred().is_null() {
                PyErr_SetString(
                    PyExc_ValueError,
                    c"install(): max_array_bytes must be >= 0".as_ptr(),
                );
            }
            return ptr::null_mut();
        }
        let a = |i: usize| Py_NewRef(*args.add(i));
        if PyDict_Check(*args.add(1)) == 0 {
            PyErr_SetString(
                PyExc_TypeError,
                c"install(): pending must be a dict".as_ptr(),
            );
            return ptr::null_mut();
        }
        for (i, what) in [
            (2usize, "completions"),
            (3, "mt"),
            (4, "deadline"),
            (5, "intr"),
        ] {
            if PyList_Check(*args.add(i)) == 0 {
                let msg = format!("install(): {what} must be a list\0");
                PyErr_SetString(PyExc_TypeError, msg.as_ptr().cast::<c_char>());
                return ptr::null_mut();
            }
        }
        let base = PyUnicode_InternFromString(c"base".as_ptr());
        let lock_attr = PyUnicode_InternFromString(c"lock".as_ptr());
        let locked_attr = PyUnicode_InternFromString(c"locked".as_ptr());
        if base.is_null() || lock_attr.is_null() || locked_attr.is_null() {
            return ptr::null_mut();
        }
        let slot = &mut *STATE.0.get();
        *slot = Some(State {
            general: a(0),
            pending: a(1),
            completions: a(2),
            mt: a(3),
            deadline: a(4),
            intr: a(5),
            flush: a(6),
            reraise: a(7),
            internal_error: a(8),
            pend: a(9),
            base_attr: base,
            last_probe: ptr::null_mut(),
            last_base: ptr::null_mut(),
            last_code: ptr::null_mut(),
            last_code_namespace: None,
            last_code_fast: ptr::null_mut(),
            frame_locals: find_frame_locals(),
            deadline_obj: ptr::null_mut(),
            deadline_ns: 0,
            frame_memory: PyObject_IsTrue(*args.add(10)) == 1
                && matches!(Py_Version >> 16, 0x030b | 0x030c),
            direct_locals: false,
            hot_frame: ptr::null_mut(),
            hot: ptr::null_mut(),
            idx_code: ptr::null_mut(),
            idx_name: ptr::null_mut(),
            idx_cache: HashMap::new(),
            idx_keep: Vec::new(),
            idx: None,
            max_array_bytes: max_array_bytes as usize,
            ndarray: ptr::null_mut(),
            memo: None,
            thread_frame: None,
            hot_path: None,
            hot_complete: None,
            mgr: ptr::null_mut(),
            lock_attr,
            locked_attr,
            lock_obj: ptr::null_mut(),
            lock_at: (0, 0),
            threads: Vec::new(),
            last_thread: (0, 0),
        });
        chunk::check_ints();
        if let Some(st) = state() {
            check_lists(&[st.mt, st.deadline, st.intr]);
        }
        PyCFunction_NewEx(&raw mut INSTR_DEF, ptr::null_mut(), ptr::null_mut())
    }
}

/// `table_set(code, offset, site, probe, unit)`: the plan's fast action at
/// `offset` of `code` (site >= 0), or an action that only completes the
/// frame's waiting captures (site -1, probe and unit None).
unsafe extern "C" fn table_set(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // each is converted with its error checked.
    unsafe {
        if nargs != 5 {
            PyErr_SetString(PyExc_TypeError, c"table_set() takes 5 arguments".as_ptr());
            return ptr::null_mut();
        }
        let code = *args;
        let offset = PyLong_AsLong(*args.add(1));
        let site = PyLong_AsLongLong(*args.add(2));
        let site_arg = site;
        if !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        let Some(t) = table() else {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: no table".as_ptr());
            return ptr::null_mut();
        };
        // -1: complete-only; -2: complete-only, nothing while one thread runs.
        let (site, probe, unit) = match u32::try_from(site) {
            Ok(s) => (Some(s), *args.add(3), *args.add(4)),
            Err(_) => (None, ptr::null_mut(), ptr::null_mut()),
        };
        t.set(
            code,
            offset as i64,
            site,
            site.is_none() && site_arg == -2,
            probe,
            unit,
        );
        Py_NewRef(Py_None())
    }
}

/// `table_actions(code, offsets, quiet)`: every offset at which `code`'s
/// plan has an action, and those whose action does nothing while one
/// thread runs (3.11's trace function skips the events at all others, and
/// at these while one thread runs).
unsafe extern "C" fn table_actions(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the tuple's items are read within its size, each converted with its
    // error checked.
    unsafe {
        if nargs != 3 || PyTuple_Check(*args.add(1)) == 0 || PyTuple_Check(*args.add(2)) == 0 {
            PyErr_SetString(
                PyExc_TypeError,
                c"table_actions(code, offsets: tuple, quiet: tuple)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let ints = |t: *mut PyObject| -> Option<Vec<i64>> {
            let mut v = Vec::with_capacity(PyTuple_Size(t).max(0) as usize);
            for i in 0..PyTuple_Size(t) {
                let o = PyLong_AsLongLong(PyTuple_GetItem(t, i));
                if o == -1 && !PyErr_Occurred().is_null() {
                    return None;
                }
                v.push(o);
            }
            Some(v)
        };
        let (Some(offsets), Some(quiet)) = (ints(*args.add(1)), ints(*args.add(2))) else {
            return ptr::null_mut();
        };
        let Some(table) = table() else {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: no table".as_ptr());
            return ptr::null_mut();
        };
        table.set_actions(*args, &offsets, &quiet);
        Py_NewRef(Py_None())
    }
}

/// `use_direct_locals(frame, name, address)`: checks the frame layout on the
/// agent's own frame (locals_layout_ok) and, if it holds, reads function
/// locals from their slots from now on; whether it does.
unsafe extern "C" fn use_direct_locals(
    module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; the check's result is a bool object.
    unsafe {
        let ok = locals_layout_ok(module, args, nargs);
        if ok.is_null() {
            return ok;
        }
        if let Some(st) = state() {
            st.direct_locals = ok == Py_True();
            st.thread_frame = None;
            if st.direct_locals {
                let frame = *args;
                let code = PyFrame_GetCode(frame.cast()).cast::<PyObject>();
                st.thread_frame = ThreadFrame::find(frame, code);
                Py_DECREF(code);
            }
        }
        ok
    }
}

/// `table_clear()`: no action any more (the run is sealed).
unsafe extern "C" fn table_clear(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; dropping the entries releases their references,
    // which runs no Python code (code objects, probes and ints).
    unsafe {
        if let Some(t) = table() {
            t.clear();
        }
        Py_NewRef(Py_None())
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

/// The chunk, or a RuntimeError.
///
/// # Safety
/// GIL held; as `chunk`.
unsafe fn the_chunk() -> Option<&'static mut Chunk> {
    // SAFETY: as chunk().
    unsafe {
        let c = chunk();
        if c.is_none() {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: no chunk".as_ptr());
        }
        c
    }
}

/// `chunk_append(item)`: one of the Python core's items, in order.
unsafe extern "C" fn chunk_append(_m: *mut PyObject, item: *mut PyObject) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and a live argument.
    unsafe {
        match the_chunk().map(|c| c.push_py(item)) {
            Some(true) => Py_NewRef(Py_None()),
            _ => ptr::null_mut(),
        }
    }
}

/// `chunk_len()`: records and completions waiting to be sent.
unsafe extern "C" fn chunk_len(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held (CPython calls module functions with it).
    unsafe {
        match the_chunk() {
            Some(c) => PyLong_FromSize_t(c.items() + c.completions()),
            None => ptr::null_mut(),
        }
    }
}

/// `chunk_items()`: records (batches) in the chunk.
unsafe extern "C" fn chunk_items(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held.
    unsafe {
        match the_chunk() {
            Some(c) => PyLong_FromSize_t(c.items()),
            None => ptr::null_mut(),
        }
    }
}

/// `chunk_encode(completions)`: the CHUNK_BIN payload (docs/WIRE.md), in
/// parts (`Chunk::encode`).
unsafe extern "C" fn chunk_encode(_m: *mut PyObject, comps: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; the argument is type-checked.
    unsafe {
        if PyList_Check(comps) == 0 {
            PyErr_SetString(PyExc_TypeError, c"chunk_encode(list)".as_ptr());
            return ptr::null_mut();
        }
        // Each flush is a calibration point of the fast path's clock.
        if let Some(k) = clock() {
            k.calibrate();
        }
        match the_chunk() {
            Some(c) => c.encode(comps),
            None => ptr::null_mut(),
        }
    }
}

/// `chunk_clear()`: the chunk was sent (or dropped); the next one starts.
unsafe extern "C" fn chunk_clear(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held.
    unsafe {
        match the_chunk() {
            Some(c) => {
                c.clear();
                Py_NewRef(Py_None())
            }
            None => ptr::null_mut(),
        }
    }
}

/// `chunk_map(fd)`: the chunk's records go into the recorder's shared ring
/// (file descriptor `fd`, docs/WIRE.md) from now on; whether it mapped.
unsafe extern "C" fn chunk_map(_m: *mut PyObject, fd: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; the argument is converted with its error checked.
    unsafe {
        let fd = PyLong_AsLong(fd);
        if fd == -1 && !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        let Some(c) = the_chunk() else {
            return ptr::null_mut();
        };
        let ring = i32::try_from(fd).ok().and_then(chunk::Ring::map);
        let mapped = ring.is_some();
        if let Some(r) = ring {
            c.attach(r);
            // A forked child must never write into its parent's ring, not
            // even from an at-fork handler of the program's that runs
            // before the agent's (os.register_at_fork order).
            libc::pthread_atfork(None, None, Some(forget_ring_in_child));
        }
        Py_NewRef(if mapped { Py_True() } else { Py_False() })
    }
}

/// The child side of fork(2) (pthread_atfork), while the forking thread
/// still holds the GIL.
unsafe extern "C" fn forget_ring_in_child() {
    // SAFETY: only the forking thread exists in the child, holding the GIL
    // os.fork took; forgetting the ring is an munmap and freeing memory.
    unsafe {
        if let Some(c) = chunk() {
            c.forget_ring();
        }
        // The thread state's address is the forking thread's, and the
        // hot event's frame may be another thread's: found afresh.
        if let Some(st) = state() {
            st.hot_path = None;
            st.hot_complete = None;
        }
    }
}

/// `chunk_detach()`: a forked child leaves its parent's ring alone.
unsafe extern "C" fn chunk_detach(_m: *mut PyObject, _a: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held.
    unsafe {
        match the_chunk() {
            Some(c) => {
                c.detach();
                Py_NewRef(Py_None())
            }
            None => ptr::null_mut(),
        }
    }
}

const fn method(
    name: &'static core::ffi::CStr,
    meth: PyMethodDefPointer,
    flags: c_int,
    doc: &'static core::ffi::CStr,
) -> PyMethodDef {
    PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: meth,
        ml_flags: flags,
        ml_doc: doc.as_ptr(),
    }
}

static mut METHODS: [PyMethodDef; 37] = [
    method(
        c"realpath",
        PyMethodDefPointer { PyCFunction: paths::realpath },
        METH_O,
        c"realpath(path) -> str | None: realpath(3), None where it fails",
    ),
    method(
        c"like",
        PyMethodDefPointer { PyCFunctionFast: like::like },
        METH_FASTCALL,
        c"like(real, function) -> builtin: named, documented and bound as real, calling function",
    ),
    method(
        c"headroom",
        PyMethodDefPointer { PyCFunction: headroom::headroom },
        METH_O,
        c"headroom(function) -> builtin: function, called with headroom below the program's recursion limit",
    ),
    method(
        c"recursion_locate",
        PyMethodDefPointer { PyCFunction: headroom::recursion_locate },
        METH_O,
        c"recursion_locate(limit) -> tuple: where the thread state may keep its remaining depth",
    ),
    method(
        c"recursion_read",
        PyMethodDefPointer { PyCFunction: headroom::recursion_read },
        METH_O,
        c"recursion_read(offsets) -> tuple: the thread state's ints there",
    ),
    method(
        c"recursion_use",
        PyMethodDefPointer { PyCFunction: headroom::recursion_use },
        METH_O,
        c"recursion_use(offset): the confirmed place of the remaining depth; Python calls get headroom",
    ),
    method(
        c"write_progress",
        PyMethodDefPointer { PyCFunctionFast: write::write_progress },
        METH_FASTCALL,
        c"write_progress(fd, data, box): one write; adds its count to box[1] before returning",
    ),
    method(
        c"guard_set",
        PyMethodDefPointer { PyCFunctionFast: guard::guard_set },
        METH_FASTCALL,
        c"guard_set(set_local_events, get_tool, tool, events, armed): what re-arming after gh-157900 needs",
    ),
    method(
        c"guard_off",
        PyMethodDefPointer { PyCFunction: guard::guard_off },
        METH_NOARGS,
        c"guard_off(): the wrappers only call the originals from now on",
    ),
    method(
        c"guard_wrap",
        PyMethodDefPointer { PyCFunctionFast: guard::guard_wrap },
        METH_FASTCALL,
        c"guard_wrap(name, real) -> builtin: real, then probe's events re-armed",
    ),
    method(
        c"hook_wrap",
        PyMethodDefPointer { PyCFunctionFast: hook::hook_wrap },
        METH_FASTCALL,
        c"hook_wrap(sys, function) -> builtin: sys.excepthook as CPython's, calling function",
    ),
    method(
        c"gate_install",
        PyMethodDefPointer { PyCFunctionFast: gate::gate_install },
        METH_FASTCALL,
        c"gate_install(trace, decide) -> None | str: on 3.11, settrace tracing in probed frames only (None: installed; else why not)",
    ),
    method(
        c"gate_uninstall",
        PyMethodDefPointer { PyCFunction: gate::gate_uninstall },
        METH_NOARGS,
        c"gate_uninstall() -> int: frames are evaluated without the gate again; the depth at which it had stood down, or 0",
    ),
    method(
        c"table_actions",
        PyMethodDefPointer { PyCFunctionFast: table_actions },
        METH_FASTCALL,
        c"table_actions(code, offsets, quiet): every offset with an action, and the quiet ones (3.11's trace function skips the others)",
    ),
    method(
        c"trace_install",
        PyMethodDefPointer { PyCFunctionFast: tracer::trace_install },
        METH_FASTCALL,
        c"trace_install(global, local, frame, marker) -> None | str: on 3.11, the native trace function in place of sys.settrace(global) (None: installed; else why not)",
    ),
    method(
        c"trace_interrupted",
        PyMethodDefPointer { PyCFunction: tracer::trace_interrupted },
        METH_NOARGS,
        c"trace_interrupted() -> bool: tracing stopped on a Ctrl-C raised from an event the native trace function handled",
    ),
    method(
        c"trace_thread",
        PyMethodDefPointer { PyCFunction: tracer::trace_thread },
        METH_O,
        c"trace_thread(global) -> bool: on 3.11, the native trace function for a thread the program started, in place of sys.settrace(global) (False: never installed)",
    ),
    method(
        c"use_threads",
        PyMethodDefPointer { PyCFunction: use_threads },
        METH_O,
        c"use_threads(mgr): threads exist; their events are taken too, mgr.lock looked at before each",
    ),
    method(
        c"threads_seen",
        PyMethodDefPointer { PyCFunction: threads_seen },
        METH_NOARGS,
        c"threads_seen() -> int: the threads whose events the extension took itself",
    ),
    method(
        c"lock_in_place",
        PyMethodDefPointer { PyCFunction: lock_in_place },
        METH_NOARGS,
        c"lock_in_place() -> bool: whether the manager's lock is read in place (its layout confirmed)",
    ),
    method(
        c"use_direct_locals",
        PyMethodDefPointer { PyCFunctionFast: use_direct_locals },
        METH_FASTCALL,
        c"use_direct_locals(frame, name, address) -> bool: read function locals from their slots (3.12+, layout checked)",
    ),
    method(
        c"table_set",
        PyMethodDefPointer { PyCFunctionFast: table_set },
        METH_FASTCALL,
        c"table_set(code, offset, site, probe, unit): a fast (site >= 0) or complete-only (site -1) action",
    ),
    method(
        c"table_clear",
        PyMethodDefPointer { PyCFunction: table_clear },
        METH_NOARGS,
        c"table_clear(): forget every action",
    ),
    method(
        c"chunk_map",
        PyMethodDefPointer { PyCFunction: chunk_map },
        METH_O,
        c"chunk_map(fd) -> bool: the chunk's records go into the recorder's shared ring",
    ),
    method(
        c"chunk_detach",
        PyMethodDefPointer { PyCFunction: chunk_detach },
        METH_NOARGS,
        c"chunk_detach(): a forked child leaves its parent's ring alone",
    ),
    method(
        c"install",
        PyMethodDefPointer { PyCFunctionFast: install },
        METH_FASTCALL,
        c"install(general, pending, completions, mt, deadline, intr, flush, reraise, internal_error, pend, frame_memory) -> callback",
    ),
    method(
        c"chunk_append",
        PyMethodDefPointer { PyCFunction: chunk_append },
        METH_O,
        c"chunk_append(item): one of the Python core's items, in order",
    ),
    method(
        c"chunk_len",
        PyMethodDefPointer { PyCFunction: chunk_len },
        METH_NOARGS,
        c"chunk_len(): records and completions waiting to be sent",
    ),
    method(
        c"chunk_items",
        PyMethodDefPointer { PyCFunction: chunk_items },
        METH_NOARGS,
        c"chunk_items(): records in the chunk",
    ),
    method(
        c"chunk_encode",
        PyMethodDefPointer { PyCFunction: chunk_encode },
        METH_O,
        c"chunk_encode(completions) -> (bytes, bytes, bytes): the CHUNK_BIN payload in parts",
    ),
    method(
        c"chunk_clear",
        PyMethodDefPointer { PyCFunction: chunk_clear },
        METH_NOARGS,
        c"chunk_clear(): the chunk was sent; start the next",
    ),
    method(
        c"frame_get",
        PyMethodDefPointer { PyCFunctionFast: frame_get },
        METH_FASTCALL,
        c"frame_get(frame, name): a local of a running 3.12 frame, as f_locals[name] without its side effects",
    ),
    method(
        c"frame_layout_ok",
        PyMethodDefPointer { PyCFunctionFast: frame_layout_ok },
        METH_FASTCALL,
        c"frame_layout_ok(frame): whether frame_get (3.12), frame_slot (3.11) and frame_namespace can read this frame",
    ),
    method(
        c"pack_numbers",
        PyMethodDefPointer { PyCFunctionFast: values::pack_numbers },
        METH_FASTCALL,
        c"pack_numbers(kind, items): a list or tuple of numbers as little-endian int64 (0), float64 (1) or complex128 (2) bytes; None when one does not fit",
    ),
    method(
        c"frame_slot",
        PyMethodDefPointer { PyCFunctionFast: frame_slot },
        METH_FASTCALL,
        c"frame_slot(frame, index): what locals slot index of a running 3.11 frame holds (ValueError: empty)",
    ),
    method(
        c"frame_namespace",
        PyMethodDefPointer { PyCFunctionFast: frame_namespace },
        METH_FASTCALL,
        c"frame_namespace(frame): the namespace a running 3.11/3.12 module or class body reads, else its globals",
    ),
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
    // MODULE_DEF is a static that outlives the module; the chunk and types
    // are made before anything can use them.
    unsafe {
        sym::resolve();
        frames::set_version(Py_Version);
        let Some(c) = Chunk::new() else {
            return ptr::null_mut();
        };
        let Some(t) = objects::make_types() else {
            return ptr::null_mut();
        };
        *CHUNK.0.get() = Some(c);
        *TYPES.0.get() = Some(t);
        *TABLE.0.get() = Some(table::Table::default());
        *CLOCK.0.get() = Some(clock::Clock::new());
        PyModule_Create(&raw mut MODULE_DEF)
    }
}
