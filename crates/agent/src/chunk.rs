//! The chunk being filled, in binary form: what the fast path writes
//! instead of three Python objects per record (a list, an int, a dict
//! entry), and what the flush sends as one CHUNK_BIN message (docs/WIRE.md).
//!
//! A record is 32 bytes, addressed by its ordinal `n` over the whole run
//! (`base` + its index in the chunk): a capture waiting for its value keeps
//! `n`, and its slot is patched in place while its chunk is unsent; after
//! that the flush has sent it as a placeholder whose token is derived from
//! `n` (`token`), and the value follows as a completion. The Python core's
//! own items (lists) are kept in order among the binary records and sent
//! marshalled, so one sequence covers both.

use core::ptr;

use pyo3_ffi::*;

extern "C" {
    // Outside the limited API, exported by every CPython: marshal.dumps.
    fn PyMarshal_WriteObjectToString(
        object: *mut PyObject,
        version: core::ffi::c_int,
    ) -> *mut PyObject;
}

/// Bytes per record on the wire.
pub const REC_BYTES: usize = 32;

/// Record kinds.
pub const K_FAST: u8 = 1;
pub const K_PY: u8 = 2;
pub const K_COMP: u8 = 3;

/// Value tags of a record's slot.
pub const V_PEND: u8 = 0;
pub const V_NONE: u8 = 1;
pub const V_FALSE: u8 = 2;
pub const V_TRUE: u8 = 3;
pub const V_INT: u8 = 4;
pub const V_FLOAT: u8 = 5;
pub const V_COMPLEX: u8 = 6;
pub const V_PLACEHOLDER: u8 = 7;
pub const V_PYVAL: u8 = 8;

/// The marshal version the recorder's decoder reads (manager.py pins it).
const MARSHAL_VERSION: core::ffi::c_int = 4;

/// A value as a slot holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Val {
    pub tag: u8,
    pub a: u64,
    pub b: u64,
}

#[derive(Clone, Copy)]
struct Rec {
    kind: u8,
    vtag: u8,
    site: u32,
    /// The timestamp (K_FAST) or the completed placeholder's token (K_COMP).
    ts: i64,
    a: u64,
    b: u64,
}

/// The placeholder token of record `n`: negative, below -1 (the Python
/// core's tokens count up from 0, and values.PEND is `(5, -1)`).
pub fn token(n: u64) -> i64 {
    -2 - n as i64
}

/// `v` as a slot value, if it is one the recorder keeps as itself (an exact
/// int within 64 bits, float, bool, complex, None); None otherwise.
///
/// # Safety
/// GIL held, `v` a live object.
pub unsafe fn encode_value(v: *mut PyObject) -> Option<Val> {
    // SAFETY: `v` is live (caller); the type objects are statics; each
    // conversion is of the exact type it is checked to be.
    unsafe {
        let t = Py_TYPE(v);
        if t == &raw mut PyLong_Type {
            let mut overflow: core::ffi::c_int = 0;
            let i = PyLong_AsLongLongAndOverflow(v, &mut overflow);
            // Beyond 64 bits: the Python path decides (very large ints are
            // snapshotted to their leading digits).
            return (overflow == 0).then_some(Val {
                tag: V_INT,
                a: i as u64,
                b: 0,
            });
        }
        if t == &raw mut PyFloat_Type {
            return Some(Val {
                tag: V_FLOAT,
                a: PyFloat_AsDouble(v).to_bits(),
                b: 0,
            });
        }
        if t == &raw mut PyBool_Type {
            let tag = if v == Py_True() { V_TRUE } else { V_FALSE };
            return Some(Val { tag, a: 0, b: 0 });
        }
        if v == Py_None() {
            return Some(Val {
                tag: V_NONE,
                a: 0,
                b: 0,
            });
        }
        if t == &raw mut PyComplex_Type {
            return Some(Val {
                tag: V_COMPLEX,
                a: PyComplex_RealAsDouble(v).to_bits(),
                b: PyComplex_ImagAsDouble(v).to_bits(),
            });
        }
        None
    }
}

/// The chunk being filled.
pub struct Chunk {
    recs: Vec<Rec>,
    comps: Vec<Rec>,
    /// The ordinal of `recs[0]`.
    base: u64,
    /// The Python core's items, in the order of their K_PY records (a list).
    py_items: *mut PyObject,
    /// Slot values that are not binary (a snapshot the Python core made),
    /// indexed by V_PYVAL slots (a list).
    py_vals: *mut PyObject,
}

impl Chunk {
    /// An empty chunk; None if the lists cannot be made.
    ///
    /// # Safety
    /// GIL held.
    pub unsafe fn new() -> Option<Chunk> {
        // SAFETY: GIL held; both results are checked.
        unsafe {
            let py_items = PyList_New(0);
            let py_vals = PyList_New(0);
            if py_items.is_null() || py_vals.is_null() {
                Py_XDECREF(py_items);
                Py_XDECREF(py_vals);
                return None;
            }
            Some(Chunk {
                recs: Vec::with_capacity(1024),
                comps: Vec::new(),
                base: 0,
                py_items,
                py_vals,
            })
        }
    }

    /// Records in the chunk (binary and the Python core's).
    pub fn items(&self) -> usize {
        self.recs.len()
    }

    /// Native completions in the chunk.
    pub fn completions(&self) -> usize {
        self.comps.len()
    }

    fn live(&self, n: u64) -> Option<usize> {
        let i = usize::try_from(n.checked_sub(self.base)?).ok()?;
        (i < self.recs.len()).then_some(i)
    }

    /// Appends a trigger of `site` at `ts` whose one value waits; its ordinal.
    pub fn push_fast(&mut self, site: u32, ts: i64) -> u64 {
        let n = self.base + self.recs.len() as u64;
        self.recs.push(Rec {
            kind: K_FAST,
            vtag: V_PEND,
            site,
            ts,
            a: 0,
            b: 0,
        });
        n
    }

    /// Appends one of the Python core's items (a list, kept referenced).
    ///
    /// # Safety
    /// GIL held, `item` a live object.
    pub unsafe fn push_py(&mut self, item: *mut PyObject) -> bool {
        // SAFETY: GIL held; the list is ours.
        if unsafe { PyList_Append(self.py_items, item) } != 0 {
            return false;
        }
        self.recs.push(Rec {
            kind: K_PY,
            vtag: 0,
            site: 0,
            ts: 0,
            a: 0,
            b: 0,
        });
        true
    }

    /// Whether record `n`'s slot is still waiting in this chunk.
    pub fn waits(&self, n: u64) -> bool {
        self.live(n)
            .is_some_and(|i| self.recs[i].kind == K_FAST && self.recs[i].vtag == V_PEND)
    }

    /// Record `n`'s waiting capture takes `v`: in its slot while the chunk
    /// is unsent, else as a completion of the placeholder the flush sent.
    pub fn complete(&mut self, n: u64, v: Val) {
        if let Some(i) = self.live(n) {
            let r = &mut self.recs[i];
            if r.kind == K_FAST && r.vtag == V_PEND {
                (r.vtag, r.a, r.b) = (v.tag, v.a, v.b);
            }
            return;
        }
        self.comps.push(Rec {
            kind: K_COMP,
            vtag: v.tag,
            site: 0,
            ts: token(n),
            a: v.a,
            b: v.b,
        });
    }

    /// Record `n`'s waiting slot (still in this chunk) takes any object:
    /// binary if it is a plain value, else kept for marshal.
    ///
    /// # Safety
    /// GIL held, `v` a live object.
    pub unsafe fn set_object(&mut self, n: u64, v: *mut PyObject) -> bool {
        if !self.waits(n) {
            return true;
        }
        // SAFETY: GIL held, `v` live (caller); the list is ours.
        let val = match unsafe { encode_value(v) } {
            Some(val) => val,
            None => {
                let k = unsafe { PyList_Size(self.py_vals) } as u64;
                if unsafe { PyList_Append(self.py_vals, v) } != 0 {
                    return false;
                }
                Val {
                    tag: V_PYVAL,
                    a: k,
                    b: 0,
                }
            }
        };
        self.complete(n, val);
        true
    }

    /// The CHUNK_BIN payload (a new bytes object, or NULL with an
    /// exception): every slot still waiting goes as a placeholder of its
    /// record's token. `py_comps` is the manager's completions list.
    ///
    /// # Safety
    /// GIL held, `py_comps` a live object.
    pub unsafe fn encode(&mut self, py_comps: *mut PyObject) -> *mut PyObject {
        for (i, r) in self.recs.iter_mut().enumerate() {
            if r.kind == K_FAST && r.vtag == V_PEND {
                r.vtag = V_PLACEHOLDER;
                r.a = token(self.base + i as u64) as u64;
            }
        }
        // SAFETY: GIL held; every object made here is checked and released.
        unsafe {
            let tup = PyTuple_Pack(3, self.py_items, self.py_vals, py_comps);
            if tup.is_null() {
                return ptr::null_mut();
            }
            let blob = PyMarshal_WriteObjectToString(tup, MARSHAL_VERSION);
            Py_DECREF(tup);
            if blob.is_null() {
                return ptr::null_mut();
            }
            let blob_len = PyBytes_Size(blob) as usize;
            let size = 12 + blob_len + (self.comps.len() + self.recs.len()) * REC_BYTES;
            let Ok(total) = Py_ssize_t::try_from(size) else {
                Py_DECREF(blob);
                PyErr_SetString(PyExc_OverflowError, c"chunk too large".as_ptr());
                return ptr::null_mut();
            };
            let out = PyBytes_FromStringAndSize(ptr::null(), total);
            if out.is_null() {
                Py_DECREF(blob);
                return ptr::null_mut();
            }
            // A fresh bytes object's buffer is ours to fill before anyone
            // else sees it.
            let buf = core::slice::from_raw_parts_mut(PyBytes_AsString(out).cast::<u8>(), size);
            let mut w = Writer { buf, at: 0 };
            w.u32(blob_len as u32);
            w.bytes(core::slice::from_raw_parts(
                PyBytes_AsString(blob).cast::<u8>(),
                blob_len,
            ));
            Py_DECREF(blob);
            w.u32(self.comps.len() as u32);
            for r in &self.comps {
                w.rec(r);
            }
            w.u32(self.recs.len() as u32);
            for r in &self.recs {
                w.rec(r);
            }
            out
        }
    }

    /// Starts the next chunk (after its predecessor was sent, or dropped).
    ///
    /// # Safety
    /// GIL held.
    pub unsafe fn clear(&mut self) {
        self.base += self.recs.len() as u64;
        self.recs.clear();
        self.comps.clear();
        // SAFETY: GIL held; the lists are ours; deleting a slice of a list
        // cannot fail for in-range bounds.
        unsafe {
            PyList_SetSlice(self.py_items, 0, Py_ssize_t::MAX, ptr::null_mut());
            PyList_SetSlice(self.py_vals, 0, Py_ssize_t::MAX, ptr::null_mut());
        }
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn rec(&mut self, r: &Rec) {
        let mut b = [0u8; REC_BYTES];
        b[0] = r.kind;
        b[1] = r.vtag;
        b[4..8].copy_from_slice(&r.site.to_le_bytes());
        b[8..16].copy_from_slice(&r.ts.to_le_bytes());
        b[16..24].copy_from_slice(&r.a.to_le_bytes());
        b[24..32].copy_from_slice(&r.b.to_le_bytes());
        self.bytes(&b);
    }
}
