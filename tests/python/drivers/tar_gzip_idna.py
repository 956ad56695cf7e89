# probe-modules: tarfile gzip encodings.punycode encodings.idna hmac
# tarfile and gzip in memory (BytesIO): writing ustar, gnu and pax archives
# (long names, links, directories, pax headers with non-ASCII names),
# plain and gzip-compressed, reading them back (getmembers, extractfile,
# iteration, the data filter where it exists), streaming mode, errors;
# gzip.compress/decompress with fixed mtime, GzipFile reading in pieces,
# multi-member streams, bad magic / truncated input; encodings.punycode and
# encodings.idna (ToASCII/ToUnicode, nameprep, errors, incremental codecs);
# hmac with the pure-Python HMAC class (digestmod by name and constructor),
# copy(), compare_digest. All times, uids and names are fixed.
import gc
import gzip
import hashlib
import hmac
import io
import tarfile

# GzipFile objects left in reference cycles (by the error cases' tracebacks)
# are finalized when the cyclic collector runs, and their __del__ evaluates
# `GzipFile.closed` (probed) there: the reference allocates differently from
# probe, so that point differed (seen once on 3.13). No automatic collection.
gc.disable()

# --- gzip -------------------------------------------------------------------
data = b"".join(b"line %d: %s\n" % (i, b"abc" * (i % 5)) for i in range(40))
z = gzip.compress(data, compresslevel=6, mtime=0)
print(len(z), gzip.decompress(z) == data, gzip.decompress(z + gzip.compress(b"tail", mtime=0))[-6:])
buf = io.BytesIO()
with gzip.GzipFile(filename="named.txt", mode="wb", fileobj=buf, mtime=1234567890) as g:
    g.write(data[:100])
    g.write(memoryview(data[100:300]))
    g.flush()
    g.write(data[300:])
raw = buf.getvalue()
print(len(raw), raw[:10].hex())
with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
    print(g.read(17), g.readline(), g.peek(5)[:5], g.tell(), len(g.read()), g.mtime, g.name == "")
    g.seek(5)
    print(g.read(10), g.seekable())
with gzip.open(io.BytesIO(raw), "rt", encoding="ascii", newline="") as t:
    print(t.readlines()[38:])
for bad in [b"", b"\x1f\x8b", b"not gzip at all", z[:-9], z[:-4] + b"\0\0\0\0", z + b"\0" * 3]:
    try:
        print(len(gzip.decompress(bad)))
    except (OSError, EOFError) as e:
        print(type(e).__name__, e)

# --- tarfile ----------------------------------------------------------------
def info(name, size=0, type_=tarfile.REGTYPE, **kw):
    ti = tarfile.TarInfo(name)
    ti.size, ti.type, ti.mtime, ti.mode = size, type_, 1_000_000_000, 0o644
    ti.uid = ti.gid = 1000
    ti.uname, ti.gname = "user", "group"
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def build(fmt, mode="w", enc="utf-8"):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode, format=fmt, encoding=enc) as tf:
        tf.addfile(info("dir", type_=tarfile.DIRTYPE, mode=0o755))
        payload = b"hello tar\n" * 7
        tf.addfile(info("dir/file.txt", len(payload)), io.BytesIO(payload))
        long = "dir/" + "deep/" * 25 + "name.bin"
        tf.addfile(info(long, 3), io.BytesIO(b"xyz"))
        tf.addfile(info("dir/link", type_=tarfile.SYMTYPE, linkname="file.txt"))
        tf.addfile(info("dir/hard", type_=tarfile.LNKTYPE, linkname="dir/file.txt"))
        if fmt == tarfile.PAX_FORMAT:
            tf.addfile(info("dir/ünï.txt", 2, pax_headers={"comment": "ç", "custom.key": "v"}), io.BytesIO(b"ok"))
            tf.addfile(info("dir/big", 1, uid=2**22), io.BytesIO(b"!"))
        tf.addfile(info("empty"), None)
    return out.getvalue()


for fmt, mode in [(tarfile.USTAR_FORMAT, "w"), (tarfile.GNU_FORMAT, "w"), (tarfile.PAX_FORMAT, "w"),
                  (tarfile.PAX_FORMAT, "w:gz")]:
    try:
        blob = build(fmt, mode)
    except ValueError as e:
        print("build failed", fmt, e)
        continue
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tf:
        members = tf.getmembers()
        print(fmt, mode, len(blob) if mode == "w" else "gz", [(m.name[-12:], m.type, m.size, m.linkname) for m in members])
        f = tf.extractfile("dir/file.txt")
        print(f.read(5), f.readline(), f.tell())
        f.seek(-4, io.SEEK_END)
        print(f.read(), tf.extractfile("dir/hard").read()[:5], tf.extractfile("dir") is None)
        last = members[-2]
        print(last.pax_headers.get("comment"), last.uid, last.isreg(), last.isdir(), oct(last.mode))
        print(tf.getnames()[:2], tf.getmember("dir/link").issym())
# ustar cannot hold the long name.
try:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        tf.addfile(info("x" * 120 + "/" + "y" * 120))
except ValueError as e:
    print("ValueError", e)

# Streaming and iteration.
blob = build(tarfile.GNU_FORMAT, "w")
with tarfile.open(fileobj=io.BytesIO(blob), mode="r|") as tf:
    for m in tf:
        if m.isfile():
            print("stream", m.name[-10:], tf.extractfile(m).read(4))
print(tarfile.is_tarfile(io.BytesIO(blob)), tarfile.is_tarfile(io.BytesIO(b"\0" * 100)))
# Header round trip and broken headers.
ti = info("a" * 99, 12345)
hdr = ti.tobuf(tarfile.GNU_FORMAT)
back = tarfile.TarInfo.frombuf(hdr, "utf-8", "surrogateescape")
print(back.name == ti.name, back.size, back.mtime, back.chksum)
for bad in [hdr[:-1] + b"x", b"\0" * 512, hdr[:100] + b"\xff" * 412]:
    try:
        tarfile.TarInfo.frombuf(bad[:512], "utf-8", "strict")
    except tarfile.HeaderError as e:
        print(type(e).__name__)
try:
    tarfile.open(fileobj=io.BytesIO(b"garbage" * 100))
except tarfile.ReadError as e:
    print("ReadError", e)
print(tarfile.itn(10**9, 12, tarfile.GNU_FORMAT), tarfile.nti(tarfile.itn(-5, 8, tarfile.GNU_FORMAT)),
      tarfile.stn("héllo", 8, "utf-8", "strict"), tarfile.nts(b"abc\0def", "ascii", "strict"))
print(tarfile.calc_chksums(hdr), tarfile.TarInfo("x").get_info()["name"])

# --- punycode / idna ----------------------------------------------------------
for label in ["bücher", "mañana", "München-Ost", "ليهمابتكلموشعربي؟", "他们为什么不说中文", "abc", "", "ü" * 10]:
    p = label.encode("punycode")
    print(p, p.decode("punycode") == label)
for name in ["bücher.example", "www.Straße.de", "ÉXAMPLE.com.", "xn--bcher-kva.ch", "a..b", "x" * 64 + ".com",
             "ﬁ.example", "\u200bzero.org", "", "."]:
    try:
        enc = name.encode("idna")
        print(enc, enc.decode("idna"))
    except UnicodeError as e:
        print("UnicodeError", name[:10], str(e)[:60])
for bad in [b"xn--abc-!!", b"xn--a", b"xn--bcher-kva\xff"]:
    try:
        print(bad.decode("idna"))
    except UnicodeError as e:
        print("UnicodeError", bad, str(e)[:60])
enc = io.StringIO()
ie = __import__("codecs").getincrementalencoder("idna")()
print([ie.encode(part) for part in ["bü", "cher.", "exa", "mple", "."]] + [ie.encode("", final=True)])
idd = __import__("codecs").getincrementaldecoder("idna")()
print([idd.decode(part) for part in [b"xn--bc", b"her-kva.", b"ex", b"ample"]] + [idd.decode(b"", final=True)])

# --- hmac ---------------------------------------------------------------------
key = b"secret-key"
for dm in ["sha256", hashlib.sha1, "md5", "sha3_256"]:
    h = hmac.HMAC(key, b"message", digestmod=dm)
    h.update(b" more")
    c = h.copy()
    c.update(b"!")
    print(h.name, h.digest_size, h.block_size, h.hexdigest()[:16], c.hexdigest()[:16])
long_key = hmac.new(b"k" * 200, b"m", "sha256")
print(long_key.hexdigest()[:16], hmac.digest(key, b"message more", "sha256") == hmac.new(key, b"message more", "sha256").digest())
print(hmac.compare_digest(b"abc", b"abc"), hmac.compare_digest("abc", "abd"))
try:
    hmac.new(key)
except TypeError as e:
    print("TypeError", e)
