# probe agent: the transport to the recorder.
#
# Wire messages (all little-endian): u32 payload length, u8 type, payload.
#   1 HELLO  JSON  interpreter, chosen core, resolved probe table, batch sites
#   2 CHUNK  marshal((items, completions)), marshal version 4
#   3 END    JSON  how the program ended
#   4 FATAL  JSON  a refusal before the program ran (bad spec, ...)
#   5 WARN   JSON  a warning for the recorder to print at the end
#   6 CACHE  the agent's compiled code, for the recorder to cache (see boot.py)
# A CHUNK item is one trigger (one batch):  [site, ts, v0, v1, ...] or, once
# the program has started a thread, [~site, ts, thread_ident, v0, ...].
# Values: see values.py. `completions` is a list of (token, value) for
# placeholders (T_PENDING, token) sent in earlier chunks. docs/WIRE.md is
# the contract.

import os

MSG_HELLO, MSG_CHUNK, MSG_END, MSG_FATAL, MSG_WARN, MSG_CACHE = 1, 2, 3, 4, 5, 6


class Wire:
    def __init__(self, fd):
        self.fd = fd
        try:
            st = os.fstat(fd)
            self.ident = (st.st_dev, st.st_ino)
        except OSError:
            self.fd = -1

    def usable(self):
        """Whether fd is still our pipe: a program that closes descriptors
        (a daemon, say) may have reused the number for a file of its own."""
        if self.fd < 0:
            return False
        try:
            st = os.fstat(self.fd)
        except OSError:
            self.fd = -1
            return False
        if (st.st_dev, st.st_ino) != self.ident:
            self.fd = -1
            return False
        return True

    def send(self, kind, payload):
        # A Ctrl-C turns into KeyboardInterrupt between any two bytecodes,
        # also in here; a message cut short would corrupt the stream, so it
        # is finished first and the exception raised afterwards. (Only the
        # instant between write() returning and its count being stored is
        # still exposed; the recorder reports a damaged stream, keeping all
        # that came before.)
        pending_exc = None
        view = None
        while True:
            try:
                if view is None:
                    if not self.usable():
                        break  # a forked child, or the pipe is gone: the program goes on
                    view = memoryview(len(payload).to_bytes(4, "little") + bytes((kind,)) + payload)
                while view:
                    try:
                        n = os.write(self.fd, view)
                    except InterruptedError:
                        continue
                    except OSError:
                        self.fd = -1  # recorder gone (EPIPE) or descriptor closed
                        view = view[:0]
                        break
                    view = view[n:]
                break
            except BaseException as e:  # noqa: BLE001 - re-raised below
                pending_exc = e
        if pending_exc is not None:
            raise pending_exc

    def send_json(self, kind, obj):
        self.send(kind, to_json(obj).encode())


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
