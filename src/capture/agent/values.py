# probe agent: values (SPEC §3).
#
# What a capture stores: plain int/float/complex/str/bytes/bool/None go on
# the wire as they are; everything else becomes a tuple tagged by its first
# element (the T_* constants), so no user tuple ever reaches the wire
# untagged. The recorder decodes these in src/wire/mod.rs; docs/WIRE.md is
# the contract.
#
# Every conversion here is bounded before it is done: a huge int is not
# turned into text in full, a huge list is not repr'd in full.

import sys

_ModuleType = type(sys)

T_UNBOUND = 1      # (1,)
T_RAISED = 2       # (2,) unbound, or (2, value)
T_ERROR = 3        # (3, exc_type, message)
T_INCOMPLETE = 4   # (4,)
T_PENDING = 5      # (5, token)
T_TRUNC = 6        # (6, str_or_bytes)   truncated text
T_SUB = 7          # (7, type_name, base_value)
T_OTHER = 8        # (8, type_name, repr, truncated)
T_ARRAY = 9        # (9, dtype, shape, data, truncated, type_name)  C order, little-endian

UNBOUND = (T_UNBOUND,)
INCOMPLETE = (T_INCOMPLETE,)
RAISED_UNBOUND = (T_RAISED,)
PEND = (T_PENDING, -1)  # placeholder object, identity-compared

# Immutable values stored as they are (str/bytes may need truncating; an
# int only below HUGE in magnitude).
PLAIN_TYPES = frozenset((float, bool, complex, type(None)))
_NUM_TYPES = frozenset((int, float, complex))

# An int of more bits than this goes to the recorder as a number (the
# recorder writes its exact decimal text); beyond it only its leading digits
# are kept, as a truncated repr. 4,300 decimal digits is CPython's own
# default limit for int <-> str conversion (sys.int_info.default_max_str_digits).
_EXACT_INT_BITS = 14_000
HUGE = 1 << _EXACT_INT_BITS
# Beyond this many bits even the leading digits are not worth their cost
# (a division of the whole number): only the size is told.
_DIGITS_INT_BITS = 1 << 24
_LOG10_2 = 0.30102999566398120

# Containers whose repr probe builds itself, stopping at the byte limit,
# instead of letting repr() walk (and allocate) the whole thing.
_BOUNDED_REPR = (list, tuple, dict, set, frozenset)


def type_name(t):
    try:
        mod = t.__module__
        q = t.__qualname__
        return q if mod in ("builtins", None) else f"{mod}.{q}"
    except KeyboardInterrupt:
        raise  # Ctrl-C landed in our code: it is the program's, never a value
    except BaseException:  # noqa: BLE001
        return "?"


def cut_text(s, limit):
    """(s, False) when its UTF-8 form fits in `limit` bytes, else (the
    longest prefix that does, cut at a character boundary, True) — the
    limit is in bytes, as --max-value-bytes says. Encodes at most `limit`
    characters, never the whole of a huge string."""
    n = len(s)
    if n * 4 <= limit:
        return s, False
    b = (s if n <= limit else s[:limit]).encode("utf-8", "surrogatepass")
    if len(b) <= limit:
        # All of it fits, or (n > limit) the first `limit` characters do.
        return (s, False) if n <= limit else (s[:limit], True)
    cut = limit
    while cut > 0 and (b[cut] & 0xC0) == 0x80:
        cut -= 1  # not in the middle of a character
    return b[:cut].decode("utf-8", "surrogatepass"), True


def safe_str(e, limit):
    try:
        s = str(e)
        if type(s) is not str:
            s = ""
    except KeyboardInterrupt:
        raise  # Ctrl-C landed in our code: it is the program's, never a value
    except BaseException:  # noqa: BLE001
        s = ""
    return cut_text(s, limit)[0]


def error_value(e, limit):
    return (T_ERROR, type_name(type(e)), safe_str(e, limit))


def big_int(v, limit):
    """An int beyond 64 bits: itself (exact text made by the recorder) when
    its text is short enough, else (T_OTHER, 'int', leading digits, True)."""
    bits = v.bit_length()
    if bits <= _EXACT_INT_BITS:
        return v
    neg = v < 0
    ndigits = int(bits * _LOG10_2) + 1  # exact or one too many
    keep = max(1, min(limit - 1, 4000))
    if bits > _DIGITS_INT_BITS:
        text = f"<int of {bits} bits, about {ndigits} decimal digits>"
        return (T_OTHER, "int", cut_text(text, limit)[0], True)
    a = -v if neg else v
    # The leading `keep` digits: one division by a power of ten, never the
    # quadratic conversion of the whole number (and no int_max_str_digits).
    # (`ndigits` may be one too many: then one digit fewer is kept.)
    lead = a // 10 ** (ndigits - keep)
    text = ("-" if neg else "") + str(lead)
    return (T_OTHER, "int", cut_text(text, limit)[0], True)


class Values:
    """Snapshots of program values under the record's limits."""

    def __init__(self, max_bytes, max_array_bytes):
        self.max_bytes = max_bytes
        self.max_array_bytes = max_array_bytes

    def snapshot(self, v):
        t = type(v)
        if t is int:
            if -0x8000000000000000 <= v <= 0xFFFFFFFFFFFFFFFF:
                return v
            return big_int(v, self.max_bytes)
        if t is float or t is bool or v is None or t is complex:
            return v
        if t is str:
            if len(v) * 4 <= self.max_bytes:
                return v
            text, cut = cut_text(v, self.max_bytes)
            return (T_TRUNC, text) if cut else v
        if t is bytes:
            if len(v) > self.max_bytes:
                return (T_TRUNC, v[: self.max_bytes])
            return v
        try:
            if t is list or t is tuple:
                a = _seq_array(v, t, self.max_array_bytes)
                if a is not None:
                    return a
            else:
                # Never import NumPy: if the program has not, v is not NumPy's.
                np = sys.modules.get("numpy")
                # From the module's dict, as the native core reads them: no
                # module __getattr__, no lazy import runs. Missing while
                # NumPy imports itself (a value captured in its own modules
                # or one they import): nothing is NumPy's then.
                d = object.__getattribute__(np, "__dict__") if isinstance(np, _ModuleType) else None
                nd = d.get("ndarray") if type(d) is dict else None
                if isinstance(nd, type):
                    gen = d.get("generic")
                    if isinstance(v, nd) and not t.__module__.startswith("numpy.ma"):
                        # (A masked array's data alone would hide its mask:
                        # it is stored by repr.)
                        a = _ndarray(v, t, self.max_array_bytes)
                        if a is not None:
                            return a
                    elif isinstance(gen, type) and isinstance(v, gen) and not isinstance(v, (float, complex)):
                        # int64, float32, bool_ …: stored as their Python
                        # value with the NumPy type name (float64 and
                        # complex128 are float/complex subclasses already).
                        base = v.item()
                        if type(base) in PLAIN_TYPES or type(base) is int:
                            return (T_SUB, t.__name__, self.snapshot(base))
            for base in (bool, int, float, complex, str, bytes):
                if isinstance(v, base):
                    return (T_SUB, t.__qualname__, self.snapshot(base(v)))
            if t in _BOUNDED_REPR or t in _stdlib_containers():
                r, trunc = bounded_repr(v, self.max_bytes)
            else:
                r = repr(v)
                if type(r) is not str:
                    r = str(r)
                r, trunc = cut_text(r, self.max_bytes)
            return (T_OTHER, type_name(t), r, trunc)
        except KeyboardInterrupt:
            raise  # Ctrl-C landed in our code: it is the program's, never a value
        except BaseException as e:  # noqa: BLE001 - user code (repr) may raise anything
            return error_value(e, self.max_bytes)


class _Full(Exception):
    pass


_STDLIB = {}


def _stdlib_containers():
    """deque, defaultdict and OrderedDict, once the program has loaded
    them (we never import them): their reprs walk every element like a
    list's, so a huge int or a long deque inside one is bounded the same
    way. Taken from the C module `_collections`, never from `collections`,
    which may be half-initialised while the program imports it. Counter
    (sorted by count) and subclasses keep their own repr."""
    got = _STDLIB.get("types")
    if got is None:
        c = sys.modules.get("_collections")
        try:
            got = (c.deque, c.defaultdict, c.OrderedDict)
        except AttributeError:
            return ()
        _STDLIB["types"] = got
    return got


def _text_repr_head(x, room):
    """repr(x) of an exact str or bytes, or, when that is longer than
    `room` characters, a text longer than `room` whose first `room`
    characters are exactly those of repr(x) — at the cost of `room`
    characters, never of the whole text (a 300 MB string in a list took
    seconds per capture). repr() quotes with ' unless the text holds ' and
    no \" — a property of the whole text, found with two memchr scans
    that stop at the first hit and allocate nothing; the repr of the head
    is then brought to that quote."""
    k = room + 1  # every character is at least one of repr, and the quote
    if len(x) <= k:
        return repr(x)
    b = type(x) is bytes
    sq, dq = (b"'", b'"') if b else ("'", '"')
    quote = '"' if (sq in x and dq not in x) else "'"
    r = repr(x[:k])
    at = 1 if b else 0  # b'…': the quote follows the b
    body = r[at + 1:-1]
    if r[at] != quote:
        if quote == "'":
            # The head holds ' and no ": its repr chose ", leaving every '
            # bare; the whole text's repr escapes them. (A bare ' in a repr
            # is always the character itself: backslashes are doubled.)
            body = body.replace("'", "\\'")
        # quote == '"': the head holds neither ' nor " (the whole text has
        # no "), so only the quote itself changes.
    # No closing quote: the text goes on.
    return ("b" if b else "") + quote + body


def bounded_repr(v, limit):
    """repr(v) of a builtin container (or a deque, defaultdict or
    OrderedDict), cut at `limit` characters without building the rest:
    (text, truncated). Elements that are not such containers use their own
    repr (each cut at the remaining budget)."""
    out = []
    size = [0]
    stdlib = _stdlib_containers()
    # The containers being written (by id): one met again inside itself is
    # written as repr writes it (Py_ReprEnter): `[...]`, `{...}`, ….
    active = set()

    def put(s):
        room = limit - size[0]
        if len(s) > room:
            out.append(s[:room])
            size[0] = limit
            raise _Full
        out.append(s)
        size[0] += len(s)

    def seq(x, depth):
        first = True
        for item in x:
            if not first:
                put(", ")
            first = False
            walk(item, depth)

    def mapping(x, depth, pairs):
        # {k: v, …}, or [(k, v), …] for OrderedDict up to 3.11
        put("[" if pairs else "{")
        first = True
        for k, val in x.items():
            if not first:
                put(", ")
            first = False
            put("(" if pairs else "")
            walk(k, depth)
            put(", " if pairs else ": ")
            walk(val, depth)
            put(")" if pairs else "")
        put("]" if pairs else "}")

    def factory(f, depth):
        # A defaultdict's repr enters its factory's repr guard first, so a
        # factory whose repr guards itself (functools.partial) shows as `...`.
        p = sys.modules.get("_functools")
        p = getattr(p, "partial", None)
        if p is not None and isinstance(f, p) and type(f).__repr__ is p.__repr__:
            put("...")
        else:
            walk(f, depth)

    def walk(x, depth):
        t = type(x)
        if depth > 50:
            t = None
        if (t in _WALKED or (stdlib and t in stdlib)) and id(x) not in active:
            active.add(id(x))
            try:
                walk_container(x, t, depth)
            finally:
                active.discard(id(x))
            return
        if t is not None and id(x) in active:
            # Met inside itself: what repr writes there.
            if stdlib and t is stdlib[1]:  # a defaultdict: its head, then its dict's
                put("defaultdict(")
                factory(x.default_factory, depth + 1)
                put(", {...})")
                return
            marker = _RECURSION.get(t)
            if marker is None and stdlib and t in stdlib:
                marker = "[...]" if t is stdlib[0] else "..."
            if marker is not None:
                put(marker)
                return
        walk_container(x, t, depth)

    def walk_container(x, t, depth):
        if t is dict:
            mapping(x, depth + 1, False)
        elif t is list:
            put("[")
            seq(x, depth + 1)
            put("]")
        elif t is tuple:
            put("(")
            seq(x, depth + 1)
            put(",)" if len(x) == 1 else ")")
        elif t is set or t is frozenset:
            if not x:
                put("set()" if t is set else "frozenset()")
                return
            put("{" if t is set else "frozenset({")
            seq(x, depth + 1)
            put("}" if t is set else "})")
        elif stdlib and t is stdlib[0]:  # deque([…]) / deque([…], maxlen=N)
            put("deque([")
            seq(x, depth + 1)
            put("])" if x.maxlen is None else f"], maxlen={x.maxlen})")
        elif stdlib and t is stdlib[1]:  # defaultdict(factory, {…})
            put("defaultdict(")
            factory(x.default_factory, depth + 1)
            put(", ")
            mapping(x, depth + 1, False)
            put(")")
        elif stdlib and t is stdlib[2]:  # OrderedDict({…}) (3.12+) / ([(k, v), …])
            if not x:
                put("OrderedDict()")
                return
            put("OrderedDict(")
            mapping(x, depth + 1, sys.version_info < (3, 12))
            put(")")
        elif t is str or t is bytes:
            # Never repr a whole long text: its head is enough.
            put(_text_repr_head(x, limit - size[0]))
        else:
            s = repr(x) if type(x) is not int or x.bit_length() <= _EXACT_INT_BITS \
                else f"<int of {x.bit_length()} bits>"
            put(s if type(s) is str else str(s))

    try:
        walk(v, 0)
    except _Full:
        return cut_text("".join(out), limit)[0], True
    text, cut = cut_text("".join(out), limit)
    return text, cut


# What repr writes for a container met inside itself (Py_ReprEnter); a
# deque's is `[...]`, an OrderedDict's `...` (3.12+; 3.11 too, inside its
# pairs), a defaultdict's that of its dict.
_RECURSION = {list: "[...]", dict: "{...}", tuple: "(...)", set: "set(...)", frozenset: "frozenset(...)"}
_WALKED = frozenset(_RECURSION)


# NumPy dtype (kind, itemsize) -> the name the recorder knows. Other dtypes
# (object, str, datetime, longdouble, structured) are stored by repr.
_NP_DTYPES = {
    ("b", 1): "bool", ("i", 1): "int8", ("i", 2): "int16", ("i", 4): "int32", ("i", 8): "int64",
    ("u", 1): "uint8", ("u", 2): "uint16", ("u", 4): "uint32", ("u", 8): "uint64",
    ("f", 2): "float16", ("f", 4): "float32", ("f", 8): "float64",
    ("c", 8): "complex64", ("c", 16): "complex128",
}
_BIG_ENDIAN = sys.byteorder == "big"


def _ndarray(v, t, limit):
    """A NumPy array as (T_ARRAY, …), or None for a dtype kept by repr.
    Copies the data now (snapshot: later in-place writes do not show)."""
    dt = v.dtype
    name = _NP_DTYPES.get((dt.kind, dt.itemsize))
    if name is None:
        return None
    n = v.size
    shape = v.shape
    keep = limit // dt.itemsize
    trunc = n > keep
    if trunc:
        # `flat[:k]` copies only the kept prefix (C order), even for views.
        v = v.flat[:keep]
    if dt.byteorder == ">" or (dt.byteorder == "=" and _BIG_ENDIAN):
        v = v.astype(dt.newbyteorder("<"))
    return (T_ARRAY, name, shape, v.tobytes(), trunc, t.__name__)


def _seq_array(v, t, limit):
    """A list/tuple of numbers as (T_ARRAY, …) per SPEC §3, or None when it
    is not one (nested, mixed bools and numbers, other element types, ints
    beyond 64 bits)."""
    n = len(v)
    if n == 0:
        return (T_ARRAY, "float64", (0,), b"", False, t.__name__)
    types = set(map(type, v))
    if types == {bool}:
        size, name = 1, "bool"
    elif bool in types or not types <= _NUM_TYPES:
        return None
    elif complex in types:
        size, name = 16, "complex128"
    elif float in types:
        size, name = 8, "float64"
    else:
        size, name = 8, "int64"
    keep = limit // size
    trunc = n > keep
    items = v[:keep] if trunc else v
    if name == "bool":
        data = bytes(items)
    else:
        data = (_pack or use_packer())(_PACK_KINDS[name], items)
        if data is None:
            return None  # an int beyond 64 bits (or beyond float range)
    return (T_ARRAY, name, (n,), data, trunc, t.__name__)


_PACK_KINDS = {"int64": 0, "float64": 1, "complex128": 2}
_pack = None  # pack(kind, items) -> bytes, or None when an item does not fit


def use_packer(native=None):
    """Chooses how lists of numbers are packed, before the program runs: the
    native core's `pack_numbers` when its extension is loaded, else
    `_struct`, imported now (never at capture time: SPEC §2 rule 11; not
    `array`, whose import runs `collections`). The extension saves a start
    the import (0.6 ms). Returns the packer."""
    global _pack
    pack = getattr(native, "pack_numbers", None)
    if pack is None:
        import _struct

        def pack(kind, items):
            try:
                if kind == 2:
                    return _struct.pack("<%dd" % (2 * len(items)), *[p for c in items for p in (c.real, c.imag)])
                return _struct.pack("<%d%s" % (len(items), "q" if kind == 0 else "d"), *items)
            except (OverflowError, _struct.error):
                return None
    _pack = pack
    return pack
