//! The plan's fast and complete-only actions, by code object and offset:
//! what the INSTRUCTION callback looks up first on every event. The
//! planner enters each as it plans a code object (plan.py `use_native`);
//! before this table the callback looked the offset up in the planner's
//! `fast_at` dict and unpacked a tuple — ~190 instructions of ~1,050 per
//! record — and offsets two code objects share went the slow way.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3_ffi::*;

/// What an offset of a code object does.
pub struct Entry {
    /// The batch site of the fast action; None for a complete-only action.
    pub site: Option<u32>,
    /// The probe and unit (owned; NULL for complete-only).
    pub probe: *mut PyObject,
    pub unit: *mut PyObject,
    /// The code object (owned): while it is in the table its address
    /// cannot be reused by another.
    code: *mut PyObject,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: entries are only made and dropped with the GIL held (the
        // module's functions), and own these references.
        unsafe {
            Py_XDECREF(self.probe);
            Py_XDECREF(self.unit);
            Py_XDECREF(self.code);
        }
    }
}

/// A multiply-rotate hasher (FxHash's): the keys are a pointer and a
/// small offset, and SipHash would cost more than the lookup saves.
#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
}

/// The table.
#[derive(Default)]
pub struct Table {
    map: HashMap<(usize, i64), Entry, BuildHasherDefault<Fx>>,
    /// Changes at every `set` and `clear`: what was looked up under an
    /// older generation may be gone (see lib.rs `Memo`).
    gen: u64,
}

impl Table {
    /// The action at `offset` of `code`.
    pub fn get(&self, code: *mut PyObject, offset: i64) -> Option<&Entry> {
        self.map.get(&(code as usize, offset))
    }

    /// The table's generation: an entry found under it (its code, probe
    /// and unit) stays alive until it changes.
    pub fn generation(&self) -> u64 {
        self.gen
    }

    /// Enters an action (replacing one there).
    ///
    /// # Safety
    /// GIL held; `code` live; `probe`/`unit` live or NULL.
    pub unsafe fn set(
        &mut self,
        code: *mut PyObject,
        offset: i64,
        site: Option<u32>,
        probe: *mut PyObject,
        unit: *mut PyObject,
    ) {
        // SAFETY: GIL held; new references for the entry to own.
        let entry = unsafe {
            Entry {
                site,
                probe: if probe.is_null() {
                    probe
                } else {
                    Py_NewRef(probe)
                },
                unit: if unit.is_null() {
                    unit
                } else {
                    Py_NewRef(unit)
                },
                code: Py_NewRef(code),
            }
        };
        self.gen += 1;
        self.map.insert((code as usize, offset), entry);
    }

    /// Forgets every action.
    pub fn clear(&mut self) {
        self.gen += 1;
        self.map.clear();
    }
}
