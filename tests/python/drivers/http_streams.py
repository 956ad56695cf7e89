# probe-modules: http.client _compression|compression._common._streams lzma bz2
# HTTP responses parsed by http.client from in-memory sockets (chunked,
# content-length, HTTP/1.0 close, HEAD, a bad status line, trailers);
# LZMA and bzip2 streams written and read back through their
# DecompressReader in small reads.
import bz2
import http.client
import io
import lzma


class FakeSocket:
    def __init__(self, data):
        self.data = data

    def makefile(self, mode, *a, **k):
        return io.BytesIO(self.data)

    def sendall(self, data):
        pass

    def close(self):
        pass


RESPONSES = [
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n", "GET"),
    (b"HTTP/1.1 201 Created\r\nContent-Length: 11\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello world", "GET"),
    (b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the connection closes", "GET"),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "GET"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nbody of a HEAD is not read", "HEAD"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n", "GET"),
    (b"garbage line\r\n\r\n", "GET"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "GET"),
    (b"", "GET"),
]
for raw, method in RESPONSES:
    r = http.client.HTTPResponse(FakeSocket(raw), method=method)
    try:
        r.begin()
        parts = []
        while True:
            chunk = r.read(4)
            if not chunk:
                break
            parts.append(chunk)
        print(r.status, r.reason, r.version, r.getheader("content-type"), r.msg.get_all("set-cookie"),
              b"".join(parts), r.will_close, r.isclosed())
    except (http.client.HTTPException, ValueError) as e:
        print("error", type(e).__name__, str(e)[:60])
print(http.client.parse_headers(io.BytesIO(b"A: 1\r\nB: two\r\n words\r\n\r\n")).items())

data = (b"0123456789abcdef" * 300) + bytes(range(256)) * 4
for mod, kw in ((lzma, {"preset": 1}), (bz2, {"compresslevel": 3})):
    buf = io.BytesIO()
    with mod.open(buf, "wb", **kw) as f:
        f.write(data[:1000])
        f.write(data[1000:])
    packed = buf.getvalue()
    with mod.open(io.BytesIO(packed + packed), "rb") as f:
        got = []
        while True:
            b = f.read(777)
            if not b:
                break
            got.append(len(b))
        print(mod.__name__, len(packed) > 0, got[:3], sum(got), f.tell())
    with mod.open(io.BytesIO(packed), "rb") as f:
        print(f.read(5), f.seek(100), f.read(3), f.seek(-10, 2), f.read(), f.peek(1)[:0])
    with mod.open(io.BytesIO(packed), "rt", encoding="latin-1") as f:
        print(repr(f.readline()[:20]), len(f.read()))
    try:
        mod.decompress(packed[:40])
    except (EOFError, OSError, ValueError, lzma.LZMAError) as e:
        print("truncated:", type(e).__name__)
