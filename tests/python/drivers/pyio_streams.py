# probe-modules: _pyio
# The pure-Python io: buffered readers/writers/random over BytesIO, text
# wrappers with newline translation and several encodings, seek/tell
# cookies, readline/readlines iteration, context managers.
import _pyio as io

data = b"line one\r\nline two\nline three\rtail" * 3
raw = io.BytesIO(data)
with io.BufferedReader(raw, buffer_size=16) as br:
    print(br.peek(4)[:4], br.read(5), br.read1(7), br.readline(), br.tell())
    br.seek(3)
    chunks = []
    while chunk := br.read(11):
        chunks.append(len(chunk))
    print(chunks, br.seekable(), br.closed)
print(raw.closed)

for newline in (None, "", "\n", "\r\n"):
    t = io.TextIOWrapper(io.BytesIO(data), encoding="ascii", newline=newline)
    lines = [repr(l) for l in t]
    print(newline and repr(newline), len(lines), lines[:3])

buf = io.BytesIO()
w = io.TextIOWrapper(io.BufferedWriter(buf, buffer_size=8), encoding="utf-16", newline="\r\n", write_through=False)
for word in ["héllo", "wörld\n", "ünïcode", "\n" * 2, "€" * 5]:
    w.write(word)
w.flush()
print(len(buf.getvalue()), buf.getvalue()[:12])

rw = io.BufferedRandom(io.BytesIO(b"0123456789abcdef"), buffer_size=4)
rw.seek(4)
rw.write(b"XY")
print(rw.read(3), rw.tell())
rw.seek(-2, 2)
print(rw.read(), rw.tell())
rw.seek(0)
print(rw.read())

t = io.TextIOWrapper(io.BytesIO("αβγ\nδεζ\nηθι\n".encode("utf-8")), encoding="utf-8")
first = t.readline()
pos = t.tell()
rest = t.read(2)
t.seek(pos)
print(repr(first), repr(rest), repr(t.readline()), t.readlines())
t.seek(0)
print([t.read(1) for _ in range(4)], t.encoding, t.newlines)

s = io.StringIO("a\r\nb\rc\n", newline=None)
print(s.readlines(), s.getvalue() == "a\nb\nc\n")
try:
    with io.TextIOWrapper(io.BytesIO(b"\xff\xfe bad"), encoding="utf-8", errors="strict") as bad:
        bad.read()
except UnicodeDecodeError as e:
    print("decode", e.reason, e.start)
r = io.TextIOWrapper(io.BytesIO(b"\xff ok"), encoding="utf-8", errors="replace")
print(repr(r.read()))
pair = io.BufferedRWPair(io.BytesIO(b"abc"), io.BytesIO())
print(pair.read(2), pair.write(b"zz"), pair.readable(), pair.writable())
