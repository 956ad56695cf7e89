//! NumPy arrays snapshotted without running Python code: the fast path's
//! value when a probed local holds one (SPEC §3, docs/WIRE.md tag 9).
//!
//! The result is the very tuple the Python core's `values._ndarray` makes —
//! `(9, dtype name, shape, data, truncated, "ndarray")`, data in C order and
//! little-endian, cut to the leading elements that fit the array byte
//! limit — so that the recorder cannot tell which core took it. Only what
//! the buffer protocol hands over as is gets here: an exact `numpy.ndarray`
//! (a subclass, a masked array, goes to the Python core), C-contiguous, in
//! this machine's byte order (little-endian), of a dtype the recorder
//! knows. Anything else is left to `values.py`.

use core::ffi::{c_char, CStr};
use core::ptr;

use pyo3_ffi::*;

/// Value tag of an array snapshot (values.py `T_ARRAY`).
const T_ARRAY: i64 = 9;

/// The dtype name the recorder knows for a buffer format and item size
/// (values.py `_NP_DTYPES`), if the format is this machine's byte order.
pub fn dtype_name(format: &[u8], itemsize: isize) -> Option<&'static CStr> {
    if cfg!(target_endian = "big") {
        return None;
    }
    // '@' and '=' are native order, '<' little-endian; '>' and '!' would
    // need a byte swap, which the Python core does.
    let f = match format.first() {
        Some(b'@' | b'=' | b'<') => &format[1..],
        _ => format,
    };
    let signed = |n: isize| match n {
        1 => Some(c"int8"),
        2 => Some(c"int16"),
        4 => Some(c"int32"),
        8 => Some(c"int64"),
        _ => None,
    };
    let unsigned = |n: isize| match n {
        1 => Some(c"uint8"),
        2 => Some(c"uint16"),
        4 => Some(c"uint32"),
        8 => Some(c"uint64"),
        _ => None,
    };
    match (f, itemsize) {
        (b"?", 1) => Some(c"bool"),
        (b"b" | b"h" | b"i" | b"l" | b"q", n) => signed(n),
        (b"B" | b"H" | b"I" | b"L" | b"Q", n) => unsigned(n),
        (b"e", 2) => Some(c"float16"),
        (b"f", 4) => Some(c"float32"),
        (b"d", 8) => Some(c"float64"),
        (b"Zf", 8) => Some(c"complex64"),
        (b"Zd", 16) => Some(c"complex128"),
        _ => None,
    }
}

/// NumPy's array type, once the program has imported NumPy: looked up in
/// `sys.modules` and the module's dict only (no import, no module
/// `__getattr__`, no Python code). NULL until then.
///
/// # Safety
/// GIL held.
pub unsafe fn find_ndarray() -> *mut PyObject {
    // SAFETY: GIL held (caller); every result is checked; the borrowed
    // references are used before any Python code could run.
    unsafe {
        let modules = PyImport_GetModuleDict(); // borrowed
        if modules.is_null() || PyDict_Check(modules) == 0 {
            return ptr::null_mut();
        }
        let np = PyDict_GetItemString(modules, c"numpy".as_ptr()); // borrowed
        if np.is_null() || PyModule_Check(np) == 0 {
            return ptr::null_mut();
        }
        let d = PyModule_GetDict(np); // borrowed
        if d.is_null() {
            PyErr_Clear();
            return ptr::null_mut();
        }
        let t = PyDict_GetItemString(d, c"ndarray".as_ptr()); // borrowed
        if t.is_null() || PyType_Check(t) == 0 {
            return ptr::null_mut();
        }
        Py_NewRef(t)
    }
}

/// The snapshot tuple of `v` if it is an exact `ndarray` (`ndarray` NumPy's
/// array type) the fast path can copy as is (see the module comment), with
/// at most `limit` bytes of data; None otherwise (no exception set).
///
/// # Safety
/// GIL held; `v` and `ndarray` live objects.
pub unsafe fn snapshot_array(
    v: *mut PyObject,
    ndarray: *mut PyObject,
    limit: usize,
) -> Option<*mut PyObject> {
    // SAFETY: GIL held (caller). The buffer is released on every path
    // after its last use; its shape array has `ndim` entries while it is
    // held (the buffer protocol's contract); every object made is checked.
    unsafe {
        if Py_TYPE(v).cast::<PyObject>() != ndarray {
            return None;
        }
        let mut view = Py_buffer::new();
        if PyObject_GetBuffer(v, &mut view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0 {
            PyErr_Clear(); // a dtype the buffer protocol cannot export
            return None;
        }
        let out = snapshot_view(&view, limit);
        PyBuffer_Release(&mut view);
        out
    }
}

/// # Safety
/// GIL held; `view` a held buffer, C-contiguous, with format and shape.
unsafe fn snapshot_view(view: &Py_buffer, limit: usize) -> Option<*mut PyObject> {
    // SAFETY: as snapshot_array; `format` is a NUL-terminated string and
    // `buf` holds `len` bytes while the buffer is held.
    unsafe {
        if view.format.is_null() || view.itemsize <= 0 || view.len < 0 || view.ndim < 0 {
            return None;
        }
        let name = dtype_name(CStr::from_ptr(view.format).to_bytes(), view.itemsize)?;
        let itemsize = view.itemsize as usize;
        let ndim = view.ndim as usize;
        if ndim > 0 && view.shape.is_null() {
            return None;
        }
        let count = view.len as usize / itemsize;
        let keep = limit / itemsize;
        let truncated = count > keep;
        let nbytes = count.min(keep) * itemsize;
        let shape = PyTuple_New(ndim as Py_ssize_t);
        if shape.is_null() {
            PyErr_Clear();
            return None;
        }
        for i in 0..ndim {
            let n = PyLong_FromSsize_t(*view.shape.add(i));
            if n.is_null() || PyTuple_SetItem(shape, i as Py_ssize_t, n) != 0 {
                PyErr_Clear();
                Py_DECREF(shape);
                return None;
            }
        }
        let data = PyBytes_FromStringAndSize(view.buf.cast::<c_char>(), nbytes as Py_ssize_t);
        let tag = PyLong_FromLongLong(T_ARRAY);
        let dtype = PyUnicode_InternFromString(name.as_ptr());
        let type_name = PyUnicode_InternFromString(c"ndarray".as_ptr());
        let trunc = if truncated { Py_True() } else { Py_False() };
        let tuple = if data.is_null() || tag.is_null() || dtype.is_null() || type_name.is_null() {
            ptr::null_mut()
        } else {
            PyTuple_Pack(6, tag, dtype, shape, data, trunc, type_name)
        };
        for o in [data, tag, dtype, type_name, shape] {
            Py_XDECREF(o);
        }
        if tuple.is_null() {
            PyErr_Clear();
            return None;
        }
        Some(tuple)
    }
}

/// `pack_numbers(kind, items)`: a list or tuple of exact ints, floats or
/// complex numbers as the bytes `values._seq_array` stores (little-endian
/// `int64` for kind 0, `float64` for 1, `complex128` as real, imag pairs
/// for 2), as `_struct.pack("<…q/d", …)` makes them — so that a start need
/// not import `_struct` (0.6 ms) when the extension is loaded. None when
/// an item does not fit (an int beyond 64 bits, or beyond a float's range),
/// as `_struct` would raise, or is of another type.
pub unsafe extern "C" fn pack_numbers(
    _module: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: CPython calls this with the GIL held and `nargs` arguments;
    // the sequence's items are borrowed from a list or tuple that stays
    // alive (and, with the GIL held and no Python code run, unchanged)
    // until the loop ends.
    unsafe {
        if nargs != 2 {
            PyErr_SetString(PyExc_TypeError, c"pack_numbers(kind, items)".as_ptr());
            return ptr::null_mut();
        }
        let (kind, items) = (PyLong_AsLong(*args), *args.add(1));
        if kind == -1 && !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        if PyList_CheckExact(items) == 0 && PyTuple_CheckExact(items) == 0 {
            PyErr_SetString(PyExc_TypeError, c"pack_numbers: a list or tuple".as_ptr());
            return ptr::null_mut();
        }
        let n = PySequence_Size(items);
        if n < 0 {
            return ptr::null_mut();
        }
        if !(0..=2).contains(&kind) {
            PyErr_SetString(
                PyExc_ValueError,
                c"pack_numbers: kind is 0 (int64), 1 (float64) or 2 (complex128)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let per = if kind == 2 { 16 } else { 8 };
        let mut out: Vec<u8> = Vec::with_capacity(n as usize * per);
        for i in 0..n {
            let item = if PyList_CheckExact(items) != 0 {
                PyList_GetItem(items, i)
            } else {
                PyTuple_GetItem(items, i)
            };
            if item.is_null() {
                return ptr::null_mut();
            }
            let t = Py_TYPE(item);
            let pair = if t == &raw mut PyFloat_Type && kind != 0 {
                Some((PyFloat_AsDouble(item), 0.0))
            } else if t == &raw mut PyLong_Type {
                None
            } else if t == &raw mut PyComplex_Type && kind == 2 {
                Some((PyComplex_RealAsDouble(item), PyComplex_ImagAsDouble(item)))
            } else {
                // Not a list of such numbers (any more: another thread can
                // change it between the caller's look and this one): no
                // array, the value is stored as its repr.
                return Py_NewRef(Py_None());
            };
            match (kind, pair) {
                (0, None) => {
                    let mut overflow = 0;
                    let v = PyLong_AsLongLongAndOverflow(item, &mut overflow);
                    if overflow != 0 {
                        return Py_NewRef(Py_None());
                    }
                    if v == -1 && !PyErr_Occurred().is_null() {
                        return ptr::null_mut();
                    }
                    out.extend_from_slice(&v.to_le_bytes());
                }
                (1 | 2, _) => {
                    let (re, im) = match pair {
                        Some(p) => p,
                        None => {
                            let d = PyLong_AsDouble(item);
                            if d == -1.0 && !PyErr_Occurred().is_null() {
                                if PyErr_ExceptionMatches(PyExc_OverflowError) != 0 {
                                    PyErr_Clear();
                                    return Py_NewRef(Py_None());
                                }
                                return ptr::null_mut();
                            }
                            (d, 0.0)
                        }
                    };
                    out.extend_from_slice(&re.to_le_bytes());
                    if kind == 2 {
                        out.extend_from_slice(&im.to_le_bytes());
                    }
                }
                _ => {
                    PyErr_SetString(
                        PyExc_ValueError,
                        c"pack_numbers: kind is 0 (int64), 1 (float64) or 2 (complex128)".as_ptr(),
                    );
                    return ptr::null_mut();
                }
            }
        }
        PyBytes_FromStringAndSize(out.as_ptr().cast::<c_char>(), out.len() as Py_ssize_t)
    }
}

#[cfg(test)]
mod tests {
    use super::dtype_name;

    #[test]
    fn formats_map_to_the_python_cores_dtype_names() {
        let name = |f: &str, n| dtype_name(f.as_bytes(), n).map(|c| c.to_str().unwrap());
        assert_eq!(name("d", 8), Some("float64"));
        assert_eq!(name("<d", 8), Some("float64"));
        assert_eq!(name("=f", 4), Some("float32"));
        assert_eq!(name("e", 2), Some("float16"));
        assert_eq!(name("Zd", 16), Some("complex128"));
        assert_eq!(name("Zf", 8), Some("complex64"));
        assert_eq!(name("?", 1), Some("bool"));
        assert_eq!(name("l", 8), Some("int64"));
        assert_eq!(name("q", 8), Some("int64"));
        assert_eq!(name("i", 4), Some("int32"));
        assert_eq!(name("b", 1), Some("int8"));
        assert_eq!(name("L", 8), Some("uint64"));
        assert_eq!(name("H", 2), Some("uint16"));
        // Big-endian data, long double, objects, structured: the Python core.
        assert_eq!(name(">d", 8), None);
        assert_eq!(name("!i", 4), None);
        assert_eq!(name("g", 16), None);
        assert_eq!(name("O", 8), None);
        assert_eq!(name("T{d:x:}", 8), None);
        // A format whose size disagrees is not trusted.
        assert_eq!(name("d", 4), None);
    }
}
