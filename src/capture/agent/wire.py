# probe agent: the transport to the recorder.
#
# Wire messages (all little-endian): u32 payload length, u8 type, payload.
#   1 HELLO  JSON  interpreter, chosen core, resolved probe table, batch sites
#   2 CHUNK  marshal((items, completions)), marshal version 4
#   3 END    JSON  how the program ended
#   4 FATAL  JSON  a refusal before the program ran (bad spec, ...)
#   5 WARN   JSON  a warning for the recorder to print at the end
#   6 CACHE  the agent's compiled code, for the recorder to cache (see boot.py)
#   7 CHUNK_BIN  the native core's binary chunk (crates/agent/src/chunk.rs)
#   8 RESOLVED   the resolved specs, for the recorder to cache (resolved.py)
# A CHUNK item is one trigger (one batch):  [site, ts, v0, v1, ...] or, once
# the program has started a thread, [~site, ts, thread_ident, v0, ...].
# Values: see values.py. `completions` is a list of (token, value) for
# placeholders (T_PENDING, token) sent in earlier chunks. docs/WIRE.md is
# the contract.

import os
import sys
import time

# Bound now, before the program runs: a program that patches os.write or
# time.monotonic_ns (a test's mock, freezegun) must not take our calls.
from os import write as _os_write, fstat as _fstat, set_blocking as _set_blocking
from time import monotonic_ns as _monotonic_ns

MSG_HELLO, MSG_CHUNK, MSG_END, MSG_FATAL, MSG_WARN, MSG_CACHE, MSG_CHUNK_BIN, MSG_RESOLVED = 1, 2, 3, 4, 5, 6, 7, 8


class Wire:
    def __init__(self, fd):
        self.fd = fd
        self.ident = None
        self.on_gone = None   # called once if the recorder is gone (EPIPE)
        self.native_write = None  # the extension's write_progress, once loaded
        self.dead = False     # the recorder is gone: nothing is sent any more
        # Back-pressure: how often a message found the pipe full and the
        # program waited for the recorder, and for how long (END says).
        self.waits = 0
        self.waited_ns = 0
        try:
            st = os.fstat(fd)
            self.ident = (st.st_dev, st.st_ino)
            # Non-blocking, so that a full pipe is seen (and counted)
            # before the program waits for it; see send.
            os.set_blocking(fd, False)
        except OSError:
            self.fd = -1

    def usable(self):
        """Whether fd is still our pipe: a program that closes descriptors
        (a daemon, say) may have closed it, or reused the number for a file
        of its own. Then the pipe is opened again (see reopen)."""
        if self.fd < 0:
            return not self.dead and self.reopen()
        try:
            st = _fstat(self.fd)
        except OSError:
            self.fd = -1
            return self.reopen()
        if (st.st_dev, st.st_ino) != self.ident:
            self.fd = -1  # the number is the program's now: never close it
            return self.reopen()
        return True

    def reopen(self):
        """The program closed our descriptor, but the recorder (our parent)
        still holds the pipe's read end: open the same pipe again through
        /proc, on a high descriptor number the program does not expect to
        get from open() (Linux only)."""
        if self.ident is None or self.dead or getattr(self, "_reopening", False):
            return False
        self._reopening = True
        want = "pipe:[%d]" % self.ident[1]
        d = "/proc/%d/fd" % os.getppid()
        try:
            for name in os.listdir(d):
                path = d + "/" + name
                try:
                    if os.readlink(path) != want:
                        continue
                    # Non-blocking open: a pipe with no reader left gives
                    # ENXIO instead of waiting forever.
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    fd = _high_fd(fd)  # non-blocking, as the original (see send)
                    st = os.fstat(fd)
                    if (st.st_dev, st.st_ino) == self.ident:
                        self.fd = fd
                        return True
                    os.close(fd)
                except OSError:
                    pass
        except OSError:
            pass
        finally:
            self._reopening = False
        return False

    def gone(self):
        """The recorder is gone (the pipe has no reader): say so once."""
        self.fd = -1
        if not self.dead:
            self.dead = True
            if self.on_gone is not None:
                try:
                    self.on_gone()
                except Exception:  # noqa: BLE001 - never raise into the program
                    pass

    def send(self, kind, payload):
        # A Ctrl-C turns into KeyboardInterrupt between any two bytecodes,
        # also in here; a message cut short would corrupt the stream, so it
        # is finished first and the exception raised afterwards. Where the
        # native extension is loaded, each write adds its count to `box`
        # itself before it returns, so an exception landing right after a
        # write cannot make its bytes go out twice; without it, the instant
        # between os.write returning and its count being stored is still
        # exposed (the recorder then reports a damaged stream, keeping all
        # that came before).
        pending_exc = None
        parts = box = None  # the header and payload parts; [part, bytes of it sent]
        waited = None
        write = self.native_write
        if write is not None and not _sigpipe_ignored():
            write = None  # _write's SIGPIPE care is needed
        while True:
            try:
                if parts is None:
                    if not self.usable():
                        break  # a forked child, or the pipe is gone: the program goes on
                    # The header, then the payload as it is: a chunk is
                    # ~0.5 MB, and joining them would copy it once more.
                    # A tuple payload (the native chunk's parts) is sent
                    # part after part, as one message.
                    ps = payload if type(payload) is tuple else (payload,)
                    size = 0
                    for p in ps:
                        size += len(p)
                    built = (memoryview(size.to_bytes(4, "little") + bytes((kind,))),) + tuple(map(memoryview, ps))
                    box = [0, 0]
                    parts = built
                while True:
                    i = box[0]
                    if i >= len(parts):
                        break
                    off = box[1]
                    if off >= len(parts[i]):
                        # One store, no call: no KeyboardInterrupt lands
                        # between moving to the next part and its start.
                        box[:] = [i + 1, 0]
                        continue
                    try:
                        if write is not None:
                            write(self.fd, parts[i][off:], box)  # box[1] += count, in C
                        else:
                            box[1] = off + _write(self.fd, parts[i][off:])
                    except BlockingIOError:
                        # The pipe is full: the recorder is behind (a slow
                        # disk, a busy machine). The program waits for it —
                        # back-pressure, never a dropped capture — and the
                        # wait is counted.
                        if waited is None:
                            waited = _monotonic_ns()
                        _set_blocking(self.fd, True)
                        continue
                    except InterruptedError:
                        continue
                    except BrokenPipeError:
                        self.gone()
                        box[:] = [len(parts), 0]
                        break
                    except OSError:
                        # The descriptor was closed under us (by another
                        # thread of the program): the rest of the message
                        # goes through the pipe opened again, so the stream
                        # stays whole.
                        self.fd = -1
                        if not self.reopen():
                            box[:] = [len(parts), 0]
                            break
                        continue
                break
            except BaseException as e:  # noqa: BLE001 - re-raised below
                pending_exc = e
        if waited is not None:
            self.waits += 1
            self.waited_ns += _monotonic_ns() - waited
            try:
                _set_blocking(self.fd, False)
            except OSError:
                pass
        if pending_exc is not None:
            raise pending_exc

    def send_json(self, kind, obj):
        self.send(kind, to_json(obj).encode())


def _sigpipe_ignored():
    """Whether SIGPIPE is ignored (Python's default): then a write to a pipe
    without reader fails with EPIPE and needs no care."""
    import _signal  # imported by every interpreter at start-up
    return _signal.getsignal(_signal.SIGPIPE) == _signal.SIG_IGN


def _write(fd, data):
    """os.write that never kills the program by SIGPIPE: Python ignores
    SIGPIPE, but a program may have restored its default action; then the
    signal a write to a pipe without reader raises is blocked in this thread
    for the write and taken back, so only EPIPE remains."""
    import _signal  # imported by every interpreter at start-up
    if _signal.getsignal(_signal.SIGPIPE) == _signal.SIG_IGN:
        return _os_write(fd, data)
    mask = {_signal.SIGPIPE}
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, mask)
    try:
        return _os_write(fd, data)
    except BrokenPipeError:
        _signal.sigtimedwait(mask, 0)
        raise
    finally:
        if _signal.SIGPIPE not in old:
            _signal.pthread_sigmask(_signal.SIG_UNBLOCK, mask)


def _high_fd(fd):
    """A duplicate of fd numbered 100 or more (close-on-exec), fd closed;
    fd itself if that is not possible."""
    had = "fcntl" in sys.modules
    try:
        import fcntl
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    except Exception:  # noqa: BLE001
        return fd
    finally:
        if not had:
            sys.modules.pop("fcntl", None)
    os.close(fd)
    return high


_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def to_json(obj):
    """JSON for the control messages (the json module's import costs ~20 ms
    of start-up, through `re`; these messages hold only str/int/bool/None,
    lists and dicts)."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(int(obj))
    if isinstance(obj, str):
        out = []
        for ch in obj:
            e = _JSON_ESC.get(ch)
            if e is None:
                o = ord(ch)
                e = ch if 0x20 <= o and not 0xD800 <= o <= 0xDFFF else "\\u%04x" % o
            out.append(e)
        return '"' + "".join(out) + '"'
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(to_json(str(k)) + ":" + to_json(v) for k, v in obj.items()) + "}"
    return to_json(str(obj))
