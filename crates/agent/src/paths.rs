//! `realpath(path)`: the planner's file-name resolution in C.
//!
//! The planner maps each new code object's file name to the real path of a
//! probed file while the program runs. `os.path.realpath` looks up
//! `os.path.abspath`, `os.getcwd` and `os.lstat` as it goes, so a program
//! that patches one of them (`mock.patch`) would see the planner's calls
//! and change its answers; libc's realpath(3) reads none of them.

use core::ffi::c_char;
use core::ptr;

use pyo3_ffi::*;

/// `realpath(path: str) -> str | None`: the canonical absolute path of an
/// existing file (relative to the working directory), or None where
/// realpath(3) fails (a missing file: then the caller asks os.path).
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn realpath(_m: *mut PyObject, path: *mut PyObject) -> *mut PyObject {
    // SAFETY: GIL held; the encoded bytes live until released after the
    // call; realpath(3) with a NULL buffer returns a malloc'd string that
    // is decoded, then freed.
    unsafe {
        if PyUnicode_Check(path) == 0 {
            PyErr_SetString(PyExc_TypeError, c"realpath(path: str)".as_ptr());
            return ptr::null_mut();
        }
        let encoded = PyUnicode_EncodeFSDefault(path);
        if encoded.is_null() {
            PyErr_Clear();
            return Py_NewRef(Py_None());
        }
        let mut buf: *mut c_char = ptr::null_mut();
        // A null length pointer makes an embedded NUL an error (no such
        // file), rather than a shorter name realpath(3) would resolve.
        if PyBytes_AsStringAndSize(encoded, &mut buf, ptr::null_mut()) != 0 {
            PyErr_Clear();
            Py_DECREF(encoded);
            return Py_NewRef(Py_None());
        }
        let got = libc::realpath(buf, ptr::null_mut());
        Py_DECREF(encoded);
        if got.is_null() {
            return Py_NewRef(Py_None());
        }
        let len = libc::strlen(got);
        let r = PyUnicode_DecodeFSDefaultAndSize(got, len as Py_ssize_t);
        libc::free(got.cast());
        r
    }
}
