# probe-modules: posixpath genericpath stat codecs
# Modules python runs from copies frozen into the interpreter (3.11+:
# their code says `<frozen posixpath>`): probes in their files must
# trigger as in any other. Path arithmetic, file modes, incremental
# codecs; the collections ABCs' mixins on classes of our own (not probed:
# their caches are shared with whatever ran before in the process).
import codecs
import io
import os.path
import stat
from collections.abc import Mapping, MutableSequence, Set

print(os.path.join("a", "b", "/c", "d"), os.path.join(b"x", b"y"), os.path.split("/a/b/c.txt"))
print(os.path.normpath("a//b/./c/../d/"), os.path.normpath("/../x"), os.path.splitext("arch.tar.gz"))
print(os.path.relpath("/a/b/c", "/a/d"), os.path.commonpath(["/a/b/c", "/a/b/d"]), os.path.commonprefix(["abc", "abd"]))
print(os.path.basename("/x/y/"), os.path.dirname("/x/y/z"), os.path.isabs("x/y"), os.path.expanduser("~nosuchuser/q"))
print(os.path.splitroot("//a/b") if hasattr(os.path, "splitroot") else None, os.path.abspath("/a/./b/../c"))
print(os.path.expandvars("$NOPE_NOT_SET/${NOPE_ALSO}/x"), os.path.exists("/definitely/not/here"), os.path.isdir("/"))
for mode in (0o100644, 0o040755, 0o120777, 0o104755, 0o020600, 0o010644, 0o140700, 0o060660, 0o001777 | 0o040000):
    print(oct(mode), stat.filemode(mode), stat.S_ISDIR(mode), stat.S_IMODE(mode), stat.S_IFMT(mode))
enc = codecs.getincrementalencoder("utf-16")()
print(enc.encode("Grüße "), enc.encode("τ", final=True))
dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
print([dec.decode(b) for b in (b"\xc3", b"\xbc\xe2\x82", b"\xac\xff", b"")], dec.decode(b"", final=True))
print(list(codecs.iterdecode([b"ab", b"\xc3", b"\xa9"], "utf-8")), b"".join(codecs.iterencode(["x", "é"], "latin-1")))
r = codecs.getreader("utf-8")(io.BytesIO("line one\nline twö\n\nlast".encode()))
print(r.readline(), r.readlines(), r.read())
w = io.BytesIO()
sw = codecs.getwriter("utf-16-le")(w)
sw.writelines(["a", "ß"])
sw.write("\n")
print(w.getvalue(), codecs.encode("hi", "rot13"), codecs.decode(b"68656c6c6f", "hex"))
srw = codecs.StreamRecoder(io.BytesIO("é".encode("latin-1")), codecs.getencoder("utf-8"), codecs.getdecoder("utf-8"),
                           codecs.getreader("latin-1"), codecs.getwriter("latin-1"))
print(srw.read())
try:
    codecs.lookup("no-such-codec")
except LookupError as e:
    print("error", e)


class Taps(Mapping):
    def __init__(self, d):
        self._d = dict(d)

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


class Block(MutableSequence):
    def __init__(self):
        self._v = []

    def __getitem__(self, i):
        return self._v[i]

    def __setitem__(self, i, v):
        self._v[i] = v

    def __delitem__(self, i):
        del self._v[i]

    def __len__(self):
        return len(self._v)

    def insert(self, i, v):
        self._v.insert(i, v)


class Bins(Set):
    def __init__(self, it):
        self._s = frozenset(it)

    def __contains__(self, x):
        return x in self._s

    def __iter__(self):
        return iter(sorted(self._s))

    def __len__(self):
        return len(self._s)


t = Taps({"a": 0.25, "b": 0.5})
print(t.get("a"), t.get("z", -1), "b" in t, list(t.keys()), list(t.items()), list(t.values()), t == {"a": 0.25, "b": 0.5})
b = Block()
b.extend([3, 1, 2])
b.append(9)
b += [7]
b.reverse()
print(list(b), b.pop(), b.pop(0), b.index(1), b.count(3), 2 in b, list(reversed(b)))
b.remove(1)
b.clear()
print(len(b), b._v)
s1, s2 = Bins([1, 2, 3, 4]), Bins([3, 4, 5])
print(list(s1 & s2), list(s1 | s2), list(s1 - s2), list(s1 ^ s2), s1.isdisjoint(Bins([9])), s1 <= s2, s1 == Bins([4, 3, 2, 1]))
print(isinstance(t, Mapping), issubclass(Block, MutableSequence), isinstance([], Set), issubclass(dict, Mapping))
