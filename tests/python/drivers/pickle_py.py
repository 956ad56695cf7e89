# probe-modules: pickle copyreg
# The pure-Python Pickler/Unpickler (pickle._dumps/_loads) over every
# protocol: containers, recursion, __reduce_ex__, __getstate__/__setstate__,
# copyreg, persistent ids, framing, and errors. The Pickler's memo is keyed
# by id(): its repr's length varies with the ids' digits, so the data is kept
# small enough that the memo's repr stays well under probe's 4096-character
# truncation limit (else the truncation flag would differ run to run).
import collections
import copyreg
import io
import pickle


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Point({self.x!r}, {self.y!r})"


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __repr__(self):
        return f"Slotted({self.a!r}, {self.b!r})"


class Stateful:
    def __init__(self, v):
        self.v = v
        self.cache = {"big": v * 2}

    def __getstate__(self):
        return {"v": self.v}

    def __setstate__(self, state):
        self.v = state["v"]
        self.cache = None

    def __repr__(self):
        return f"Stateful({self.v!r}, {self.cache!r})"


class Reduced:
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (Reduced, self.args, None, iter([1, 2]) if False else None)

    def __repr__(self):
        return f"Reduced{self.args!r}"


class Celsius(float):
    pass


def reduce_complex(c):
    return complex, (c.real, c.imag)


copyreg.pickle(complex, reduce_complex)

Pair = collections.namedtuple("Pair", "left right")
shared = [1, 2]
obj = {
    "ints": [0, 1, -1, 255, 256, 65535, 2**31, -2**31 - 1, 2**70, -(2**100)],
    "floats": [0.5, -1e300, float("inf")],
    "text": ["", "é", "x" * 30, b"bytes", bytearray(b"ba"), None, True, False],
    "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
    "sets": [{1, 2}, frozenset({"a"})],
    "shared": [shared, shared],
    "objs": [Point(1, "y"), Slotted(3, [4]), Stateful(5), Reduced(6, 7), Pair(8, 9), Celsius(36.6), 3 + 4j],
    "deque": collections.deque([1, 2], maxlen=3),
    "od": collections.OrderedDict(a=1, b=2),
}
rec = [1]
rec.append(rec)
obj["rec"] = rec

for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
    src = obj if proto >= 2 else {k: v for k, v in obj.items() if k != "objs"}
    data = pickle._dumps(src, protocol=proto)
    back = pickle._loads(data)
    back.setdefault("objs", None)
    same = {k: (back[k] == obj[k]) for k in obj if k not in ("rec", "objs")}
    print(proto, all(same.values()), back["objs"], back["rec"][1] is back["rec"], back["shared"][0] is back["shared"][1])

DB = {"alpha": "ALPHA", "beta": [1, 2]}


class PP(pickle._Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, str) and obj in DB:
            return "key:" + obj
        return None


class PU(pickle._Unpickler):
    def persistent_load(self, pid):
        kind, _, key = pid.partition(":")
        if kind != "key":
            raise pickle.UnpicklingError(pid)
        return DB[key]


f = io.BytesIO()
PP(f, protocol=2).dump(["alpha", "gamma", ("beta",)])
f.seek(0)
print(PU(f).load())

for bad in [lambda: None, (x for x in ()), Point]:
    try:
        pickle._dumps(bad)
        print("ok", type(bad).__name__)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        print("cannot", type(e).__name__)
for blob in [b"", b"\x80\x05N", b"(lp0\nI1\naI2\na.", b"\x80\x02]q\x00(K\x01K\x02e."]:
    try:
        print(pickle._loads(blob))
    except (pickle.UnpicklingError, EOFError) as e:
        print("broken", type(e).__name__)
