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
use core::sync::atomic::{AtomicBool, Ordering};

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
/// A thread's registration: its index (in the site field) and Python
/// ident (first value word), before the first K_FAST record of that
/// thread's index (which sits in bytes 2..4 of a K_FAST record; 0 is the
/// main thread's, all records' before threads exist).
pub const K_THREAD: u8 = 4;

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

/// A record as it goes on the wire (docs/WIRE.md, CHUNK_BIN): kind,
/// value tag, 2 bytes zero, u32 site, i64 timestamp (a completion: the
/// token), 16 bytes of value.
type Rec = [u8; REC_BYTES];

/// Writes a record at `p`, a word at a time.
///
/// # Safety
/// `p` points to 32 writable bytes.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn write_rec(
    p: *mut u8,
    kind: u8,
    vtag: u8,
    thread: u16,
    site: u32,
    ts: i64,
    a: u64,
    b: u64,
) {
    let head =
        u64::from(kind) | u64::from(vtag) << 8 | u64::from(thread) << 16 | u64::from(site) << 32;
    // SAFETY: 32 bytes at p are writable (caller).
    unsafe {
        let q = p.cast::<u64>();
        q.write_unaligned(head.to_le());
        q.add(1).write_unaligned((ts as u64).to_le());
        q.add(2).write_unaligned(a.to_le());
        q.add(3).write_unaligned(b.to_le());
    }
}

fn make_rec(kind: u8, vtag: u8, thread: u16, site: u32, ts: i64, a: u64, b: u64) -> Rec {
    let mut r = [0u8; REC_BYTES];
    r[0] = kind;
    r[1] = vtag;
    r[2..4].copy_from_slice(&thread.to_le_bytes());
    r[4..8].copy_from_slice(&site.to_le_bytes());
    r[8..16].copy_from_slice(&ts.to_le_bytes());
    r[16..24].copy_from_slice(&a.to_le_bytes());
    r[24..32].copy_from_slice(&b.to_le_bytes());
    r
}

/// The shared ring (docs/WIRE.md): a file the recorder created and maps
/// too, holding the records of the chunk being filled, so that those a
/// SIGKILL cuts off before the flush still reach the log, and its
/// completions. Header, u64 each: magic, record capacity (the recorder's),
/// this side's `base` (the chunk's first ordinal) and `count` (records
/// written), completion capacity (the recorder's) and count, and the
/// chunk's records beyond the ring (`overflow`); then the records, then the
/// completions.
pub struct Ring {
    map: *mut u8,
    len: usize,
    cap: usize,
    ccap: usize,
}

/// The ring's header size and magic.
pub const RING_HEADER: usize = 64;
pub const RING_MAGIC: &[u8; 8] = b"PROBERNG";

impl Ring {
    /// Maps the ring file `fd` (the recorder's); None if it is not one.
    pub fn map(fd: i32) -> Option<Ring> {
        // SAFETY: fstat fills a stat buffer for any descriptor number (an
        // invalid one fails); the mapping is only used within its length,
        // which is checked against the header before use.
        unsafe {
            let mut st: libc::stat = core::mem::zeroed();
            if libc::fstat(fd, &mut st) != 0 {
                return None;
            }
            let len = usize::try_from(st.st_size).ok()?;
            if len < RING_HEADER {
                return None;
            }
            let map = libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            if map == libc::MAP_FAILED {
                return None;
            }
            let map = map.cast::<u8>();
            let head = core::slice::from_raw_parts(map, 48);
            let word = |at: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&head[at..at + 8]);
                u64::from_le_bytes(b) as usize
            };
            let (cap, ccap) = (word(8), word(32));
            let fits = cap
                .checked_add(ccap)
                .and_then(|n| n.checked_mul(REC_BYTES))
                .and_then(|b| b.checked_add(RING_HEADER))
                .is_some_and(|need| need <= len);
            if &head[..8] != RING_MAGIC || !fits {
                libc::munmap(map.cast(), len);
                return None;
            }
            Some(Ring {
                map,
                len,
                cap,
                ccap,
            })
        }
    }

    fn slot(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.cap);
        // SAFETY: i < cap, and the mapping holds RING_HEADER + cap records
        // (checked in map).
        unsafe { self.map.add(RING_HEADER + i * REC_BYTES) }
    }

    fn comp_slot(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.ccap);
        // SAFETY: i < ccap, and the mapping holds RING_HEADER + (cap +
        // ccap) records (checked in map).
        unsafe { self.map.add(RING_HEADER + (self.cap + i) * REC_BYTES) }
    }

    fn set_comp_count(&self, n: usize) {
        self.header(40).store(
            n.min(self.ccap) as u64,
            core::sync::atomic::Ordering::Release,
        );
    }

    fn header(&self, at: usize) -> &core::sync::atomic::AtomicU64 {
        // SAFETY: at is 16, 24 or 40, 8-aligned within the page-aligned header;
        // the recorder only reads these words after this process is gone.
        unsafe { &*self.map.add(at).cast::<core::sync::atomic::AtomicU64>() }
    }

    fn set_count(&self, n: usize) {
        self.header(24).store(
            n.min(self.cap) as u64,
            core::sync::atomic::Ordering::Release,
        );
    }

    fn set_overflow(&self, n: usize) {
        self.header(48)
            .store(n as u64, core::sync::atomic::Ordering::Release);
    }

    fn set_base(&self, base: u64) {
        self.header(16)
            .store(base, core::sync::atomic::Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in map, unmapped once.
        unsafe { libc::munmap(self.map.cast(), self.len) };
    }
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
#[inline(always)]
pub unsafe fn encode_value(v: *mut PyObject) -> Option<Val> {
    // SAFETY: `v` is live (caller); the layouts read were confirmed by
    // check_ints on live objects.
    unsafe {
        let t = Py_TYPE(v);
        // Inline, the two commonest: returned through memory from a call,
        // the value's load stalled on the stores that wrote it (~5 ns).
        if t == &raw mut PyLong_Type {
            if let Some(i) = compact_int(v) {
                return Some(Val {
                    tag: V_INT,
                    a: i as u64,
                    b: 0,
                });
            }
        } else if t == &raw mut PyFloat_Type && FLOATS_DIRECT.load(Ordering::Relaxed) {
            return Some(Val {
                tag: V_FLOAT,
                a: float_bits(v),
                b: 0,
            });
        }
        encode_other(v)
    }
}

/// The bits of an exact float's value, read from the object (`ob_fval`
/// after the object header, as in every CPython 3.11+).
///
/// # Safety
/// `v` a live exact float.
#[inline(always)]
unsafe fn float_bits(v: *mut PyObject) -> u64 {
    // SAFETY: a float object holds its double right after the header.
    unsafe {
        (*v.cast::<u8>()
            .add(core::mem::size_of::<PyObject>())
            .cast::<f64>())
        .to_bits()
    }
}

/// The bits of an exact float's value where `check_ints` confirmed the
/// layout, else None.
///
/// # Safety
/// `v` a live exact float.
#[inline(always)]
pub unsafe fn float_value(v: *mut PyObject) -> Option<u64> {
    // SAFETY: as float_bits, whose layout the flag confirms.
    FLOATS_DIRECT
        .load(Ordering::Relaxed)
        .then(|| unsafe { float_bits(v) })
}

/// Whether `float_bits` may be used (set by `check_ints`).
static FLOATS_DIRECT: AtomicBool = AtomicBool::new(false);

/// `encode_value` beyond a small int or a float read directly.
///
/// # Safety
/// As `encode_value`.
#[inline(never)]
unsafe fn encode_other(v: *mut PyObject) -> Option<Val> {
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

/// Whether `compact_int` may read ints directly (set by `check_ints`).
static INTS_DIRECT: AtomicBool = AtomicBool::new(false);

/// Whether ints are laid out as in 3.11 (a signed digit count, `ob_size`,
/// where 3.12+ has `lv_tag`), set by `check_ints` for this interpreter.
static INTS_311: AtomicBool = AtomicBool::new(false);

/// The value of an exact int that fits one 30-bit digit, read from the
/// object as CPython lays it out — 3.12+: `lv_tag` after the object header
/// (the digit count above 3 flag bits, the sign in the low 2), 3.11: the
/// signed digit count; then the digits — `PyLong_AsLongLongAndOverflow`
/// costs ~40 instructions of a record. None where the layout was not
/// confirmed or the int is larger.
///
/// # Safety
/// `v` a live exact int.
#[inline(always)]
pub unsafe fn compact_int(v: *mut PyObject) -> Option<i64> {
    if !INTS_DIRECT.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: every int object has at least the header, the tag and one
    // digit (checked on live ints by check_ints before this is enabled).
    unsafe {
        let base = v.cast::<u8>().add(core::mem::size_of::<PyObject>());
        if INTS_311.load(Ordering::Relaxed) {
            // 0 digits (zero), or one with its sign.
            let size = *base.cast::<isize>();
            if !(-1..=1).contains(&size) {
                return None;
            }
            let digit = i64::from(*base.add(core::mem::size_of::<usize>()).cast::<u32>());
            return Some(size as i64 * digit);
        }
        let tag = *base.cast::<usize>();
        if tag >= 16 {
            return None;
        }
        let digit = i64::from(*base.add(core::mem::size_of::<usize>()).cast::<u32>());
        Some((1 - (tag & 3) as i64) * digit)
    }
}

/// Confirms the int layout `compact_int` reads on ints made here (both
/// signs, zero, one digit's limits, and a two-digit int it must refuse),
/// and enables it if every one reads back right; whether it did. Likewise
/// the float layout `float_bits` reads (enabled on its own).
///
/// # Safety
/// GIL held.
pub unsafe fn check_ints() -> bool {
    INTS_DIRECT.store(true, Ordering::Relaxed);
    INTS_311.store(Py_Version >> 16 == 0x030b, Ordering::Relaxed);
    let values: [i64; 12] = [
        0,
        1,
        -1,
        5,
        -5,
        255,
        256,
        -257,
        123_456_789,
        -123_456_789,
        (1 << 30) - 1,
        -((1 << 30) - 1),
    ];
    let mut ok = true;
    // SAFETY: GIL held; each int is made and released here.
    unsafe {
        for v in values {
            let o = PyLong_FromLongLong(v);
            if o.is_null() {
                PyErr_Clear();
                ok = false;
                break;
            }
            ok &= compact_int(o) == Some(v);
            Py_DECREF(o);
        }
        for v in [1i64 << 30, -(1i64 << 30), i64::MAX, i64::MIN] {
            let o = PyLong_FromLongLong(v);
            if o.is_null() {
                PyErr_Clear();
                ok = false;
                break;
            }
            ok &= compact_int(o).is_none();
            Py_DECREF(o);
        }
    }
    INTS_DIRECT.store(ok, Ordering::Relaxed);
    // Floats: the double read from the object must be the API's.
    let mut floats = true;
    // SAFETY: GIL held; each float is made and released here.
    unsafe {
        for x in [0.0, -0.0, 1.5, -2.25e300, f64::INFINITY, f64::MIN_POSITIVE] {
            let o = PyFloat_FromDouble(x);
            if o.is_null() {
                PyErr_Clear();
                floats = false;
                break;
            }
            floats &=
                float_bits(o) == PyFloat_AsDouble(o).to_bits() && float_bits(o) == x.to_bits();
            Py_DECREF(o);
        }
    }
    FLOATS_DIRECT.store(floats, Ordering::Relaxed);
    ok
}

/// The chunk being filled.
pub struct Chunk {
    /// Records in the chunk.
    n: usize,
    /// The shared ring holds the first `ring.cap` of them; the heap the
    /// rest (all of them without a ring).
    ring: Option<Ring>,
    heap: Vec<Rec>,
    comps: Vec<Rec>,
    /// The ordinal of the chunk's first record.
    base: u64,
    /// The Python core's items, in the order of their K_PY records (a list).
    py_items: *mut PyObject,
    /// Slot values that are not binary (a snapshot the Python core made),
    /// indexed by V_PYVAL slots (a list).
    py_vals: *mut PyObject,
    /// Bytes of array data among `py_vals` (the snapshots' `data`).
    value_bytes: usize,
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
                n: 0,
                ring: None,
                heap: Vec::with_capacity(1024),
                comps: Vec::new(),
                base: 0,
                py_items,
                py_vals,
                value_bytes: 0,
            })
        }
    }

    /// Records in the chunk (binary and the Python core's).
    pub fn items(&self) -> usize {
        self.n
    }

    /// Bytes of array data the chunk's slots hold (see `set_object`).
    pub fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    /// Native completions in the chunk.
    pub fn completions(&self) -> usize {
        self.comps.len()
    }

    /// Puts the chunk's records in the shared ring from now on (before the
    /// first record).
    pub fn attach(&mut self, ring: Ring) {
        ring.set_count(0);
        ring.set_comp_count(0);
        ring.set_overflow(0);
        ring.set_base(self.base);
        self.ring = Some(ring);
    }

    /// In a forked child, at the fork itself (before any Python code can
    /// capture): the ring is the parent's, and so are the chunk's records —
    /// the child never sends them. Only unmaps and forgets.
    pub fn forget_ring(&mut self) {
        if self.ring.take().is_some() {
            self.n = 0;
            self.heap.clear();
            self.comps.clear();
            self.value_bytes = 0;
        }
    }

    /// Stops using the ring, keeping the chunk's records (copied to the
    /// heap, in order).
    pub fn detach(&mut self) {
        if let Some(r) = self.ring.take() {
            // Records already in it are copied to the heap, in order.
            let keep = self.n.min(r.cap);
            let mut heap = Vec::with_capacity(self.n);
            for i in 0..keep {
                let mut rec = [0u8; REC_BYTES];
                // SAFETY: slot i < cap is within the mapping.
                unsafe { ptr::copy_nonoverlapping(r.slot(i), rec.as_mut_ptr(), REC_BYTES) };
                heap.push(rec);
            }
            heap.append(&mut self.heap);
            self.heap = heap;
        }
    }

    #[inline]
    fn slot(&mut self, i: usize) -> *mut u8 {
        match &self.ring {
            Some(r) if i < r.cap => r.slot(i),
            Some(r) => self.heap[i - r.cap].as_mut_ptr(),
            None => self.heap[i].as_mut_ptr(),
        }
    }

    #[inline]
    fn push(&mut self, rec: Rec) {
        let i = self.n;
        match &self.ring {
            Some(r) if i < r.cap => {
                // SAFETY: slot i < cap is within the mapping; the count is
                // published after the record is written.
                unsafe { ptr::copy_nonoverlapping(rec.as_ptr(), r.slot(i), REC_BYTES) };
                r.set_count(i + 1);
            }
            Some(r) => {
                // Beyond the ring (only when no flush could send the
                // chunk): counted there, so that the recorder knows how
                // many a SIGKILL or a closed pipe lost.
                r.set_overflow(i + 1 - r.cap);
                self.heap.push(rec);
            }
            None => self.heap.push(rec),
        }
        self.n += 1;
    }

    #[inline]
    fn live(&self, n: u64) -> Option<usize> {
        let i = usize::try_from(n.checked_sub(self.base)?).ok()?;
        (i < self.n).then_some(i)
    }

    /// Appends a trigger of `site` at `ts` by thread index `thread` (see
    /// `K_THREAD`) whose one value waits; its ordinal.
    #[inline(always)]
    pub fn push_fast(&mut self, site: u32, ts: i64, thread: u16) -> u64 {
        let i = self.n;
        let n = self.base + i as u64;
        match &self.ring {
            Some(r) if i < r.cap => {
                // Written in place, a word at a time: a record assembled
                // on the stack and copied stalled on its own byte stores.
                // SAFETY: slot i < cap is within the mapping; the count is
                // published after the record is written.
                unsafe { write_rec(r.slot(i), K_FAST, V_PEND, thread, site, ts, 0, 0) };
                r.set_count(i + 1);
                self.n += 1;
            }
            _ => self.push(make_rec(K_FAST, V_PEND, thread, site, ts, 0, 0)),
        }
        n
    }

    /// Registers thread index `index` as the thread of Python ident `ident`
    /// (a `K_THREAD` record).
    pub fn push_thread(&mut self, index: u16, ident: u64) {
        self.push(make_rec(K_THREAD, 0, 0, u32::from(index), 0, ident, 0));
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
        self.push(make_rec(K_PY, 0, 0, 0, 0, 0, 0));
        true
    }

    /// Whether record `n` is in this chunk (not yet sent).
    pub fn unsent(&self, n: u64) -> bool {
        self.live(n).is_some()
    }

    /// Whether record `n`'s slot is still waiting in this chunk.
    pub fn waits(&mut self, n: u64) -> bool {
        match self.live(n) {
            // SAFETY: the slot of a live record is 32 valid bytes.
            Some(i) => unsafe {
                let p = self.slot(i);
                *p == K_FAST && *p.add(1) == V_PEND
            },
            None => false,
        }
    }

    /// Record `n`'s waiting capture takes `v`: in its slot while the chunk
    /// is unsent, else as a completion of the placeholder the flush sent.
    #[inline]
    pub fn complete(&mut self, n: u64, v: Val) {
        self.complete_parts(n, v.tag, v.a, v.b);
    }

    /// `complete` with the value's parts.
    #[inline(always)]
    pub fn complete_parts(&mut self, n: u64, tag: u8, a: u64, b: u64) {
        if let Some(i) = self.live(n) {
            let p = self.slot(i);
            // SAFETY: the slot of a live record is 32 valid bytes (written
            // unaligned: the heap's records are byte arrays). The value
            // is written before its tag, so that a SIGKILL between the two
            // leaves the slot waiting, never a tag over a value not yet
            // there.
            unsafe {
                if *p == K_FAST && *p.add(1) == V_PEND {
                    p.add(16).cast::<u64>().write_unaligned(a.to_le());
                    p.add(24).cast::<u64>().write_unaligned(b.to_le());
                    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Release);
                    core::ptr::write_volatile(p.add(1), tag);
                }
            }
            return;
        }
        self.complete_token(token(n), Val { tag, a, b });
    }

    /// A completion of the placeholder `token` (sent in an earlier chunk)
    /// with `v`: in the chunk and, for a SIGKILL, in the ring.
    pub fn complete_token(&mut self, token: i64, v: Val) {
        let rec = make_rec(K_COMP, v.tag, 0, 0, token, v.a, v.b);
        if let Some(r) = &self.ring {
            let i = self.comps.len();
            if i < r.ccap {
                // SAFETY: slot i < ccap is within the mapping; the count is
                // published after the completion is written.
                unsafe { ptr::copy_nonoverlapping(rec.as_ptr(), r.comp_slot(i), REC_BYTES) };
                r.set_comp_count(i + 1);
            }
        }
        self.comps.push(rec);
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
                // An array snapshot `(9, dtype, shape, data, …)`: its data
                // counts towards the chunk's size (the flush comes sooner).
                // SAFETY: GIL held; the tuple's items are checked.
                unsafe {
                    if PyTuple_CheckExact(v) != 0 && PyTuple_Size(v) >= 4 {
                        let data = PyTuple_GetItem(v, 3);
                        if !data.is_null() && PyBytes_CheckExact(data) != 0 {
                            self.value_bytes += PyBytes_Size(data) as usize;
                        }
                    }
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

    /// The CHUNK_BIN payload in three parts, a new tuple of bytes objects
    /// `(u32 L, the L bytes of marshal, the rest)` whose concatenation is
    /// the payload (sent one after the other: the marshalled part is most
    /// of a chunk of arrays, and joining would copy it once more), or NULL
    /// with an exception. Every slot still waiting goes as a placeholder of
    /// its record's token. `py_comps` is the manager's completions list.
    ///
    /// # Safety
    /// GIL held, `py_comps` a live object.
    pub unsafe fn encode(&mut self, py_comps: *mut PyObject) -> *mut PyObject {
        for i in 0..self.n {
            let tok = token(self.base + i as u64) as u64;
            let p = self.slot(i);
            // SAFETY: the slot of a live record is 32 valid bytes; the
            // token goes in before the tag, as in complete.
            unsafe {
                if *p == K_FAST && *p.add(1) == V_PEND {
                    ptr::copy_nonoverlapping(tok.to_le_bytes().as_ptr(), p.add(16), 8);
                    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Release);
                    core::ptr::write_volatile(p.add(1), V_PLACEHOLDER);
                }
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
            let Ok(blob_len) = u32::try_from(PyBytes_Size(blob)) else {
                Py_DECREF(blob);
                PyErr_SetString(PyExc_OverflowError, c"chunk too large".as_ptr());
                return ptr::null_mut();
            };
            let len = blob_len.to_le_bytes();
            let head = PyBytes_FromStringAndSize(len.as_ptr().cast(), 4);
            let size = 8 + (self.comps.len() + self.n) * REC_BYTES;
            let rest = match Py_ssize_t::try_from(size) {
                Ok(total) => PyBytes_FromStringAndSize(ptr::null(), total),
                Err(_) => {
                    PyErr_SetString(PyExc_OverflowError, c"chunk too large".as_ptr());
                    ptr::null_mut()
                }
            };
            if head.is_null() || rest.is_null() {
                for o in [head, rest, blob] {
                    Py_XDECREF(o);
                }
                return ptr::null_mut();
            }
            // A fresh bytes object's buffer is ours to fill before anyone
            // else sees it.
            let buf = core::slice::from_raw_parts_mut(PyBytes_AsString(rest).cast::<u8>(), size);
            let mut w = Writer { buf, at: 0 };
            w.u32(self.comps.len() as u32);
            for r in &self.comps {
                w.bytes(r);
            }
            w.u32(self.n as u32);
            let in_ring = match &self.ring {
                Some(r) => {
                    let k = self.n.min(r.cap);
                    w.bytes(core::slice::from_raw_parts(r.slot(0), k * REC_BYTES));
                    k
                }
                None => 0,
            };
            for r in &self.heap[..self.n - in_ring] {
                w.bytes(r);
            }
            let out = PyTuple_Pack(3, head, blob, rest);
            for o in [head, blob, rest] {
                Py_DECREF(o);
            }
            out
        }
    }

    /// Starts the next chunk (after its predecessor was sent, or dropped).
    ///
    /// # Safety
    /// GIL held.
    pub unsafe fn clear(&mut self) {
        self.base += self.n as u64;
        self.n = 0;
        if let Some(r) = &self.ring {
            // The counts first: a SIGKILL between them and the base leaves
            // an empty ring, never the sent records under the next chunk's.
            r.set_count(0);
            r.set_comp_count(0);
            r.set_overflow(0);
            r.set_base(self.base);
        }
        self.heap.clear();
        self.comps.clear();
        self.value_bytes = 0;
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
}
