# probe agent: what resolving the specs leaves behind (probes, taps, the
# scope models and sites of plan.py), and that result kept between runs.
#
# Resolving parses every probed file (`_ast`, whose node types alone cost
# ~11 M instructions to build, and the symbol tables): most of the agent's
# start-up. Its result is plain data, so the agent hands it to the recorder
# (wire message RESOLVED, docs/WIRE.md) and the recorder keeps it in its
# cache (src/capture/cache.rs). A later run with the same interpreter, the
# same specs and the same current directory gets it back in the bundle's
# `resolution` section, but only after the recorder re-hashed every file it
# was computed from and found the same SHA-256. Here it is then used only
# if, besides: it is this interpreter's (cache tag and hexversion), for these
# very specs, every spec's FILE still resolves to the same file (roots may
# differ between runs), each file's size, mtime and inode are those seen
# when it was parsed (a file rewritten since the recorder's check), and it
# decodes to exactly the shapes below. Anything else: resolve from the
# source, as without a cache. Nothing in it is code.
#
# This module must not import `resolve` (nor `_ast`): a cache hit runs
# without them.

import os
import sys

# As manager.MARSHAL_VERSION: every marshal stream the agent hands the
# recorder is version 4, which every supported Python reads (3.14 and 3.15
# default to 5 and 6).
MARSHAL_VERSION = 4

# The layout of the data; a change of layout changes the agent's hash too
# (the recorder's cache is per agent version), this is a second guard.
FORMAT = 1


class ProbeError(Exception):
    """A spec that does not fit the source; reported before the program runs."""


class Probe:
    """A resolved spec: what the probe table lists. `occs` are the
    occurrences it triggers at: those of its role on its line (binding ones
    for LHS, reading ones for RHS, any when the role has none there)."""
    __slots__ = ("id", "spec", "file", "line", "name", "role", "occs")

    def label(self):
        return f"{self.file}:{self.line}:{self.name}@{self.role}"


class Tap:
    """One occurrence of a probe where it triggers, with how to read it in
    that frame (resolve.make_tap). A probe whose name occurs in two
    statements of its line (`a = x; b = x`) has two taps and triggers in
    each."""
    __slots__ = ("id", "probe", "name", "role", "line", "col", "kind", "parts", "base", "fast", "namespace_frame")

    def set(self, probe, line, col, kind, namespace_frame):
        self.id = probe.id
        self.probe = probe
        self.name = probe.name
        self.role = probe.role
        self.line = line
        self.col = col
        self.parts = probe.name.split(".")
        self.base = self.parts[0]
        self.kind = kind
        self.fast = kind == "local" and len(self.parts) == 1
        # Read in a module or class body's frame (see frames.py).
        self.namespace_frame = namespace_frame
        return self

    def label(self):
        return self.probe.label()


def find_source(file, roots):
    """The source file a spec names, or None: a path that exists, else the
    first `root/FILE` that does (`pkg/mod.py` names a module of an
    installed package as well as one beside the script)."""
    if os.path.exists(file):
        return file
    if os.path.isabs(file):
        return None
    for root in roots:
        cand = os.path.join(root, file)
        if os.path.isfile(cand):
            return cand
    return None


def interpreter_key():
    return "%s-%x" % (sys.implementation.cache_tag, sys.hexversion)


def file_stat(st):
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _sha256(data):
    try:
        from _sha2 import sha256  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # 3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# To data (after resolving, on the way to the recorder)
# ---------------------------------------------------------------------------

def dump(specs, found, files, probes, sites, models_by_file):
    """The RESOLVED message's payload for this resolution, or None when it
    cannot be kept. `found`: spec FILE -> real path; `files`: real path ->
    (raw bytes read, stat tuple taken before reading them). Payload:
    u32 LE header length, header lines `SHA256HEX PATH\\n` (the recorder
    checks those files' content before offering the data again), then
    marshal of the data."""
    import marshal
    header = []
    for path, (raw, st) in sorted(files.items()):
        b = os.fsencode(path)
        if b"\n" in b or st is None:
            return None
        header.append(_sha256(raw).encode() + b" " + b + b"\n")
    models = []
    index = {}
    for file in sorted(models_by_file):
        for sm in models_by_file[file]:
            index[id(sm)] = len(models)
            models.append((sm.file, sm.key, sm.span,
                           tuple((u.id, u.kind, u.spans, u.trigger, u.region, u.ancestors, u.depth)
                                 for u in sm.units),
                           tuple((lp.id, lp.kind, lp.spans, lp.unit, lp.range_header, tuple(sorted(lp.names)))
                                 for lp in sm.loops)))
    data = {
        "format": FORMAT,
        "python": interpreter_key(),
        "specs": tuple(specs),
        "found": dict(found),
        "stats": {path: st for path, (raw, st) in files.items()},
        "probes": tuple((p.id, p.spec, p.file, p.line, p.name, p.role) for p in probes),
        "models": tuple(models),
        "sites": tuple((s.id, s.trigger, index[id(s.scope)],
                        tuple((t.id, t.line, t.col, t.kind, t.namespace_frame) for t in s.probes))
                       for s in sites),
    }
    head = b"".join(header)
    return len(head).to_bytes(4, "little") + head + marshal.dumps(data, MARSHAL_VERSION)


# ---------------------------------------------------------------------------
# From data (a cache hit)
# ---------------------------------------------------------------------------

def _ints(x, n=None):
    if type(x) is not tuple or (n is not None and len(x) != n):
        raise ValueError("shape")
    for v in x:
        if type(v) is not int:
            raise ValueError("shape")
    return x


def _spans(x):
    if type(x) is not tuple:
        raise ValueError("shape")
    for s in x:
        _ints(s, 4)
    return x


def load(blob, specs, roots):
    """(probes, sites, scope models by file) from the bundle's `resolution`
    section, or None when it does not hold this run's resolution (see the
    top of this file). Never raises."""
    if not blob:
        return None
    try:
        return _load(blob, specs, roots)
    except Exception:  # noqa: BLE001 - anything amiss: resolve from the source
        return None


def _load(blob, specs, roots):
    import marshal
    from . import plan
    d = marshal.loads(blob)
    if type(d) is not dict or d.get("format") != FORMAT or d.get("python") != interpreter_key():
        return None
    if d.get("specs") != tuple(specs):
        return None
    found = d["found"]
    stats = d["stats"]
    if type(found) is not dict or type(stats) is not dict:
        return None
    for file, path in found.items():
        got = find_source(file, roots)
        if got is None or not os.path.isfile(got) or os.path.realpath(got) != path:
            return None
    for path, st in stats.items():
        if file_stat(os.stat(path)) != st:
            return None
    probes = []
    for i, (pid, spec, file, line, name, role) in enumerate(d["probes"]):
        if pid != i or type(spec) is not str or type(file) is not str or type(name) is not str \
                or type(line) is not int or role not in ("lhs", "rhs") or file not in stats:
            return None
        p = Probe()
        p.id, p.spec, p.file, p.line, p.name, p.role, p.occs = pid, spec, file, line, name, role, None
        probes.append(p)
    models = []
    by_file = {}
    for file, key, span, units, loops in d["models"]:
        if file not in stats or type(key) is not tuple or len(key) != 2 or type(key[0]) is not str \
                or not (key[1] is None or type(key[1]) is int) or not (span is None or _ints(span, 4)):
            return None
        sm = plan.ScopeModel.__new__(plan.ScopeModel)
        sm.file, sm.key, sm.span = file, key, span
        sm.units, sm.loops = [], []
        sm.unit_by_key = sm.loop_by_key = None
        sm._range_ok = None
        for i, (uid, kind, spans, trigger, region, ancestors, depth) in enumerate(units):
            _ints((uid, kind, trigger, region, depth))
            _ints(ancestors)
            if uid != i or not 0 <= region < len(units) or any(not 0 <= a < len(units) for a in ancestors):
                return None
            u = plan.Unit()
            u.id, u.kind, u.spans, u.trigger, u.region = uid, kind, _spans(spans), trigger, region
            u.ancestors, u.depth, u.key = ancestors, depth, None
            sm.units.append(u)
        for i, (lid, kind, spans, unit, range_header, names) in enumerate(loops):
            if lid != i or kind not in ("for", "comp", "except", "case") or type(range_header) is not bool \
                    or not (unit is None or (type(unit) is int and 0 <= unit < len(units))):
                return None
            lp = plan.Loop()
            lp.id, lp.kind, lp.spans, lp.unit, lp.range_header = lid, kind, _spans(spans), unit, range_header
            lp.key, lp.names = None, frozenset(names)
            sm.loops.append(lp)
        sm.by_line = plan.lines_of(sm.units)
        models.append(sm)
        by_file.setdefault(file, []).append(sm)
    sites = []
    for i, (sid, trigger, mi, taps) in enumerate(d["sites"]):
        if sid != i or type(mi) is not int or not 0 <= mi < len(models):
            return None
        sm = models[mi]
        kind, at = trigger
        if kind not in ("unit", "bind") or type(at) is not int \
                or not -1 <= at < len(sm.units if kind == "unit" else sm.loops):
            return None
        s = plan.Site()
        s.id, s.key, s.trigger, s.scope = sid, (sm.file, sm.key), (kind, at), sm
        s.probes = []
        for pid, line, col, kind, ns in taps:
            if type(pid) is not int or not 0 <= pid < len(probes) or kind not in ("local", "global", "name", "classfree", "classcell") \
                    or type(ns) is not bool:
                return None
            s.probes.append(Tap().set(probes[pid], _ints((line,))[0], _ints((col,))[0], kind, ns))
        s.rhs = tuple(t for t in s.probes if t.role == "rhs")
        s.lhs = tuple(t for t in s.probes if t.role == "lhs")
        s.simple = plan.is_simple(s)
        sites.append(s)
    return probes, sites, by_file
