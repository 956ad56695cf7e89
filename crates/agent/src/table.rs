//! The plan's fast and complete-only actions, by code object and offset:
//! what the INSTRUCTION callback looks up first on every event. The
//! planner enters each as it plans a code object (plan.py `use_native`);
//! before this table the callback looked the offset up in the planner's
//! `fast_at` dict and unpacked a tuple — ~190 instructions of ~1,050 per
//! record — and offsets two code objects share went the slow way.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3_ffi::*;

/// What an offset of a code object does.
pub struct Entry {
    /// The batch site of the fast action; None for a complete-only action.
    pub site: Option<u32>,
    /// A complete-only action that does nothing while one thread runs (a
    /// `for` header's): the Python core's then (see plan.py `_may_quiet`).
    pub quiet: bool,
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

/// Every offset of a probed code object at which its plan has an action
/// (3.11's trace function, `tracer.rs`, skips the events at all others
/// without calling Python), one bit per code unit.
struct Actions {
    bits: Vec<u64>,
    /// Of those, the actions that do nothing while one thread runs (the
    /// plan's `quiet` ones that fire, bind and arm nothing).
    quiet: Vec<u64>,
    /// The code object (owned, as `Entry::code`).
    code: *mut PyObject,
}

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: as Entry's drop: made and dropped with the GIL held.
        unsafe { Py_XDECREF(self.code) }
    }
}

/// What a plan does at an offset (`Table::action_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionAt {
    /// No action.
    Nothing,
    /// An action that does nothing while one thread runs.
    Quiet,
    /// Any other action.
    Some,
}

/// One bit per code unit (two bytes) of the given byte offsets.
fn bitmap(offsets: &[i64]) -> Vec<u64> {
    let mut bits: Vec<u64> = Vec::new();
    let units = offsets
        .iter()
        .filter(|&&o| o >= 0 && o % 2 == 0)
        .filter_map(|&o| usize::try_from(o / 2).ok());
    for u in units {
        if bits.len() <= u / 64 {
            bits.resize(u / 64 + 1, 0);
        }
        bits[u / 64] |= 1u64 << (u % 64);
    }
    bits
}

/// The table.
#[derive(Default)]
pub struct Table {
    map: HashMap<(usize, i64), Entry, BuildHasherDefault<Fx>>,
    /// Boxed: `last_actions` points into one, which no insertion moves.
    actions: HashMap<usize, Box<Actions>, BuildHasherDefault<Fx>>,
    /// The code object `action_at` looked up last, and its actions (a
    /// frame's events all ask for the same one).
    last_actions: Cell<(usize, usize)>,
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
        quiet: bool,
        probe: *mut PyObject,
        unit: *mut PyObject,
    ) {
        // SAFETY: GIL held; new references for the entry to own.
        let entry = unsafe {
            Entry {
                site,
                quiet,
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

    /// What `code`'s plan does at `offset`: None when its actions were
    /// never entered (then the plan's own lookup decides).
    #[inline]
    pub fn action_at(&self, code: *mut PyObject, offset: i64) -> Option<ActionAt> {
        let (last, ptr) = self.last_actions.get();
        let a: &Actions = if last == code as usize && ptr != 0 {
            // SAFETY: the box at that address is still in `actions`: every
            // change to it (set_actions, clear) resets the memo.
            unsafe { &*(ptr as *const Actions) }
        } else {
            let a = self.actions.get(&(code as usize))?;
            self.last_actions
                .set((code as usize, &**a as *const Actions as usize));
            a
        };
        let unit = usize::try_from(offset / 2).ok()?;
        let bit = |v: &[u64]| {
            offset % 2 == 0
                && v.get(unit / 64)
                    .is_some_and(|w| w & (1u64 << (unit % 64)) != 0)
        };
        Some(if !bit(&a.bits) {
            ActionAt::Nothing
        } else if bit(&a.quiet) {
            ActionAt::Quiet
        } else {
            ActionAt::Some
        })
    }

    /// Enters `code`'s action offsets, and of those the quiet ones
    /// (replacing those entered before). Offsets that are negative or odd
    /// are ignored (no instruction starts there).
    ///
    /// # Safety
    /// GIL held; `code` live.
    pub unsafe fn set_actions(&mut self, code: *mut PyObject, offsets: &[i64], quiet: &[i64]) {
        // SAFETY: GIL held; a new reference for the entry to own.
        let code_ref = unsafe { Py_NewRef(code) };
        self.last_actions.set((0, 0));
        self.actions.insert(
            code as usize,
            Box::new(Actions {
                bits: bitmap(offsets),
                quiet: bitmap(quiet),
                code: code_ref,
            }),
        );
    }

    /// Forgets every action.
    pub fn clear(&mut self) {
        self.gen += 1;
        self.map.clear();
        self.last_actions.set((0, 0));
        self.actions.clear();
    }
}
