//! The two Python-visible objects of the binary chunk.
//!
//! `Waiting` is a frame's one waiting capture in the manager's `pending`
//! table when the fast path made it: it stands where the Python core keeps
//! a tuple `(item, probe, unit, view)` and reads the same (`w[0]`…`w[3]`),
//! but the fast path rewrites it in place for the frame's next record
//! instead of allocating a tuple, a list and an int and storing them in the
//! dict. Once the Python core takes it out of `pending` the fast path never
//! sees it again. An empty one (its capture completed by an action that
//! only completes) is false and holds nothing.
//!
//! `Slot` is what `w[0]` gives the Python core for the item: `slot[2]` is
//! values.PEND while the record's slot waits in the unsent chunk, else the
//! placeholder `(5, token)` the flush sent it as (or the value the Python
//! core wrote); `slot[2] = v` writes the slot — exactly what the manager
//! does with an item list's slot.

use core::ffi::{c_int, c_void};
use core::ptr;

use pyo3_ffi::*;

use crate::chunk::token;

/// A frame's waiting capture, made by the fast path.
#[repr(C)]
pub struct Waiting {
    ob_base: PyObject,
    /// The record's ordinal.
    pub n: u64,
    /// Owned references (NULL when empty).
    pub probe: *mut PyObject,
    pub unit: *mut PyObject,
    /// The Python core has looked at it (its length or an item: every use
    /// the Python core makes of one starts so). Until then the fast path
    /// may find it without a dict lookup (lib.rs `find`): only the Python
    /// core takes one out of `pending`.
    pub taken: bool,
}

/// An item's waiting slot, handed to the Python core.
#[repr(C)]
pub struct Slot {
    ob_base: PyObject,
    n: u64,
    /// What the Python core wrote (owned), or NULL.
    written: *mut PyObject,
}

/// The two types, made when the module is initialised.
pub struct Types {
    pub waiting: *mut PyTypeObject,
    pub slot: *mut PyTypeObject,
}

/// # Safety
/// GIL held; `o` an object of a type made here, being deallocated.
unsafe fn free_object(o: *mut PyObject) {
    // SAFETY: a heap type's instance is freed with its type's tp_free, and
    // the reference it held to its type is released after.
    unsafe {
        let tp = Py_TYPE(o);
        let free = PyType_GetSlot(tp, Py_tp_free);
        if !free.is_null() {
            let free: freefunc = core::mem::transmute::<*mut c_void, freefunc>(free);
            free(o.cast());
        }
        Py_DECREF(tp.cast());
    }
}

unsafe extern "C" fn waiting_dealloc(o: *mut PyObject) {
    // SAFETY: CPython deallocates a Waiting with the GIL held.
    unsafe {
        let w = o.cast::<Waiting>();
        Py_XDECREF((*w).probe);
        Py_XDECREF((*w).unit);
        free_object(o);
    }
}

unsafe extern "C" fn waiting_len(o: *mut PyObject) -> Py_ssize_t {
    // SAFETY: `o` is a live Waiting (CPython calls the slot on its type).
    unsafe { (*o.cast::<Waiting>()).taken = true };
    // SAFETY: as above.
    if unsafe { (*o.cast::<Waiting>()).probe.is_null() } {
        0
    } else {
        4
    }
}

unsafe extern "C" fn waiting_item(o: *mut PyObject, i: Py_ssize_t) -> *mut PyObject {
    // SAFETY: `o` is a live Waiting; GIL held.
    unsafe {
        let w = o.cast::<Waiting>();
        (*w).taken = true;
        if (*w).probe.is_null() || !(0..4).contains(&i) {
            PyErr_SetString(PyExc_IndexError, c"Waiting index out of range".as_ptr());
            return ptr::null_mut();
        }
        match i {
            0 => {
                let Some(types) = crate::types() else {
                    PyErr_SetString(PyExc_RuntimeError, c"_probe_native: no types".as_ptr());
                    return ptr::null_mut();
                };
                new_slot(types, (*w).n)
            }
            1 => Py_NewRef((*w).probe),
            2 => Py_NewRef((*w).unit),
            _ => Py_NewRef(Py_None()),
        }
    }
}

unsafe extern "C" fn slot_dealloc(o: *mut PyObject) {
    // SAFETY: CPython deallocates a Slot with the GIL held.
    unsafe {
        Py_XDECREF((*o.cast::<Slot>()).written);
        free_object(o);
    }
}

unsafe extern "C" fn slot_len(_o: *mut PyObject) -> Py_ssize_t {
    3
}

unsafe extern "C" fn slot_item(o: *mut PyObject, i: Py_ssize_t) -> *mut PyObject {
    // SAFETY: `o` is a live Slot; GIL held; the chunk and state are only
    // read here.
    unsafe {
        let s = o.cast::<Slot>();
        if i != 2 {
            PyErr_SetString(
                PyExc_IndexError,
                c"only a slot's value (index 2) is readable".as_ptr(),
            );
            return ptr::null_mut();
        }
        if !(*s).written.is_null() {
            return Py_NewRef((*s).written);
        }
        let waits = crate::chunk().is_some_and(|c| c.waits((*s).n));
        if waits {
            if let Some(pend) = crate::pend() {
                return Py_NewRef(pend);
            }
        }
        // Sent as the placeholder of its token by a flush.
        let tok = PyLong_FromLongLong(token((*s).n));
        if tok.is_null() {
            return ptr::null_mut();
        }
        let five = PyLong_FromLong(5);
        if five.is_null() {
            Py_DECREF(tok);
            return ptr::null_mut();
        }
        let t = PyTuple_Pack(2, five, tok);
        Py_DECREF(five);
        Py_DECREF(tok);
        t
    }
}

unsafe extern "C" fn slot_ass_item(o: *mut PyObject, i: Py_ssize_t, v: *mut PyObject) -> c_int {
    // SAFETY: `o` is a live Slot, `v` live or NULL (a delete); GIL held.
    unsafe {
        let s = o.cast::<Slot>();
        if i != 2 || v.is_null() {
            PyErr_SetString(
                PyExc_IndexError,
                c"only a slot's value (index 2) is writable".as_ptr(),
            );
            return -1;
        }
        if let Some(c) = crate::chunk() {
            if c.waits((*s).n) {
                if !c.set_object((*s).n, v) {
                    return -1;
                }
            } else if !complete_sent(c, s, v) {
                return -1;
            }
        }
        let old = (*s).written;
        (*s).written = Py_NewRef(v);
        Py_XDECREF(old);
        0
    }
}

/// The Python core settles a slot a flush already sent as a placeholder:
/// the completion goes into the chunk — and the shared ring — when its
/// value is binary, else into the manager's completions (marshalled with
/// the chunk). The token is the one the placeholder went with: the Python
/// core's, if its flush wrote one into the slot, else the record's.
///
/// # Safety
/// GIL held; `s` a live Slot, `v` a live object.
unsafe fn complete_sent(c: &mut crate::chunk::Chunk, s: *mut Slot, v: *mut PyObject) -> bool {
    // SAFETY: GIL held; the written object is type-checked before its
    // items are read; every call's failure is reported.
    unsafe {
        let w = (*s).written;
        let tok = if !w.is_null() && PyTuple_Check(w) != 0 && PyTuple_Size(w) == 2 {
            let t = PyLong_AsLongLong(PyTuple_GetItem(w, 1));
            if t == -1 && !PyErr_Occurred().is_null() {
                return false;
            }
            t
        } else {
            token((*s).n)
        };
        if let Some(val) = crate::chunk::encode_value(v) {
            c.complete_token(tok, val);
            return true;
        }
        let Some(comps) = crate::completions() else {
            PyErr_SetString(PyExc_RuntimeError, c"_probe_native: not installed".as_ptr());
            return false;
        };
        let t = PyLong_FromLongLong(tok);
        if t.is_null() {
            return false;
        }
        let pair = PyTuple_Pack(2, t, v);
        Py_DECREF(t);
        if pair.is_null() {
            return false;
        }
        let r = PyList_Append(comps, pair);
        Py_DECREF(pair);
        r == 0
    }
}

/// A new Slot for record `n`.
///
/// # Safety
/// GIL held.
unsafe fn new_slot(types: &Types, n: u64) -> *mut PyObject {
    // SAFETY: GIL held; GenericAlloc returns zeroed memory of the type's
    // basic size with the header set, or NULL with an exception.
    unsafe {
        let o = PyType_GenericAlloc(types.slot, 0);
        if !o.is_null() {
            (*o.cast::<Slot>()).n = n;
        }
        o
    }
}

/// A new Waiting for record `n` of `probe` in `unit`.
///
/// # Safety
/// GIL held; `probe` and `unit` live objects.
pub unsafe fn new_waiting(
    types: &Types,
    n: u64,
    probe: *mut PyObject,
    unit: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: as new_slot; the references stored are new ones.
    unsafe {
        let o = PyType_GenericAlloc(types.waiting, 0);
        if !o.is_null() {
            let w = o.cast::<Waiting>();
            (*w).n = n;
            (*w).probe = Py_NewRef(probe);
            (*w).unit = Py_NewRef(unit);
        }
        o
    }
}

/// Rewrites `w` for record `n` of `probe` in `unit` (or empties it, with
/// NULLs).
///
/// # Safety
/// GIL held; `w` a live Waiting; `probe`/`unit` live or NULL.
pub unsafe fn set_waiting(w: *mut Waiting, n: u64, probe: *mut PyObject, unit: *mut PyObject) {
    // SAFETY: the old references are released after the new ones are
    // stored (a probe released last could run no code: probes are the
    // planner's, alive for the run, but the order is the safe one anyway).
    unsafe {
        (*w).n = n;
        if (*w).probe != probe {
            let old = (*w).probe;
            (*w).probe = if probe.is_null() {
                probe
            } else {
                Py_NewRef(probe)
            };
            Py_XDECREF(old);
        }
        if (*w).unit != unit {
            let old = (*w).unit;
            (*w).unit = if unit.is_null() {
                unit
            } else {
                Py_NewRef(unit)
            };
            Py_XDECREF(old);
        }
    }
}

/// Makes the two types.
///
/// # Safety
/// GIL held.
pub unsafe fn make_types() -> Option<Types> {
    // SAFETY: GIL held; the specs and slot arrays are statics that outlive
    // the types (PyType_FromSpec copies what it needs from them).
    unsafe {
        let waiting = PyType_FromSpec(&raw mut WAITING_SPEC);
        if waiting.is_null() {
            return None;
        }
        let slot = PyType_FromSpec(&raw mut SLOT_SPEC);
        if slot.is_null() {
            Py_DECREF(waiting);
            return None;
        }
        Some(Types {
            waiting: waiting.cast(),
            slot: slot.cast(),
        })
    }
}

const FLAGS: u32 = (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION) as u32;

static mut WAITING_SLOTS: [PyType_Slot; 4] = [
    PyType_Slot {
        slot: Py_tp_dealloc,
        pfunc: waiting_dealloc as *mut c_void,
    },
    PyType_Slot {
        slot: Py_sq_length,
        pfunc: waiting_len as *mut c_void,
    },
    PyType_Slot {
        slot: Py_sq_item,
        pfunc: waiting_item as *mut c_void,
    },
    PyType_Slot {
        slot: 0,
        pfunc: ptr::null_mut(),
    },
];

static mut WAITING_SPEC: PyType_Spec = PyType_Spec {
    name: c"_probe_native.Waiting".as_ptr(),
    basicsize: core::mem::size_of::<Waiting>() as c_int,
    itemsize: 0,
    flags: FLAGS,
    slots: (&raw mut WAITING_SLOTS).cast(),
};

static mut SLOT_SLOTS: [PyType_Slot; 5] = [
    PyType_Slot {
        slot: Py_tp_dealloc,
        pfunc: slot_dealloc as *mut c_void,
    },
    PyType_Slot {
        slot: Py_sq_length,
        pfunc: slot_len as *mut c_void,
    },
    PyType_Slot {
        slot: Py_sq_item,
        pfunc: slot_item as *mut c_void,
    },
    PyType_Slot {
        slot: Py_sq_ass_item,
        pfunc: slot_ass_item as *mut c_void,
    },
    PyType_Slot {
        slot: 0,
        pfunc: ptr::null_mut(),
    },
];

static mut SLOT_SPEC: PyType_Spec = PyType_Spec {
    name: c"_probe_native.Slot".as_ptr(),
    basicsize: core::mem::size_of::<Slot>() as c_int,
    itemsize: 0,
    flags: FLAGS,
    slots: (&raw mut SLOT_SLOTS).cast(),
};
