//! One write(2) to the recorder's pipe that records its progress itself.
//!
//! The agent's message loop (`wire.py`) advances through a message by the
//! count each write returns. A Ctrl-C can turn into KeyboardInterrupt right
//! after a Python-level `os.write` returns, before that count is stored:
//! the bytes were sent, the loop sends them again, and the stream is
//! corrupt from there (seen as "agent message 9 announces 4278189824
//! bytes"). Here the count is added to the caller's progress box before
//! the call returns, so wherever the exception lands the loop knows what
//! went out.

use core::ptr;

use pyo3_ffi::*;

/// `write_progress(fd, data, box)`: one write of `data` (a buffer) to
/// `fd`, retried on EINTR after the signal handlers ran; adds the count
/// written to `box[1]` (a list) before returning it. OSError as
/// `os.write` raises it (BlockingIOError when the pipe is full).
///
/// # Safety
/// Called by CPython with the GIL held.
pub unsafe extern "C" fn write_progress(
    _m: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    // SAFETY: GIL held; the buffer is held (and released) around the write;
    // the box is type-checked; write(2) only reads the buffer.
    unsafe {
        if nargs != 3 || PyList_Check(*args.add(2)) == 0 || PyList_Size(*args.add(2)) < 2 {
            PyErr_SetString(
                PyExc_TypeError,
                c"write_progress(fd, data, box: list of 2)".as_ptr(),
            );
            return ptr::null_mut();
        }
        let fd = PyLong_AsLong(*args);
        if fd == -1 && !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        let Ok(fd) = i32::try_from(fd) else {
            PyErr_SetString(PyExc_ValueError, c"write_progress: bad fd".as_ptr());
            return ptr::null_mut();
        };
        let bx = *args.add(2);
        let before = PyLong_AsSsize_t(PyList_GetItem(bx, 1));
        if before == -1 && !PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        let mut view: Py_buffer = core::mem::zeroed();
        if PyObject_GetBuffer(*args.add(1), &mut view, PyBUF_SIMPLE) != 0 {
            return ptr::null_mut();
        }
        let n = loop {
            let len = usize::try_from(view.len).unwrap_or(0);
            let n = libc::write(fd, view.buf.cast_const(), len);
            if n >= 0 {
                break n;
            }
            if *libc::__errno_location() == libc::EINTR {
                // As os.write (PEP 475): the handlers run; one that raises
                // ends the call with nothing written by this attempt.
                if PyErr_CheckSignals() != 0 {
                    PyBuffer_Release(&mut view);
                    return ptr::null_mut();
                }
                continue;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            PyBuffer_Release(&mut view);
            return ptr::null_mut();
        };
        PyBuffer_Release(&mut view);
        let total = PyLong_FromSsize_t(before + n);
        if total.is_null() || PyList_SetItem(bx, 1, total) != 0 {
            return ptr::null_mut();
        }
        PyLong_FromSsize_t(n)
    }
}
