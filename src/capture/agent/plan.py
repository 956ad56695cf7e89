# probe agent: the capture plan — SPEC §2's semantics as data.
#
# For every code object that holds probes, one plan computed once from its
# source structure (the AST, through resolve.py) and its bytecode: for each
# instruction offset, the ordered actions to take when the frame is about
# to execute that instruction. Every core executes plans and decides
# nothing: the sys.monitoring core gets an INSTRUCTION event at exactly the
# offsets that have actions, the sys.settrace core a line (or opcode) event
# there. Version differences (3.11 comprehension frames, 3.12 inlining,
# where each version positions loop and cleanup instructions) are absorbed
# here.
#
# The model. A scope's statements are cut into *units*: a simple statement,
# or one part of a compound statement's header (an `if`/`while` test, a
# `for` iterable, a `with` header, an `except` clause, a `case`), plus one
# *region* per compound statement for its compiler-made instructions (loop
# jumps, `with` exits, `try` NOPs). Every instruction belongs to the unit
# whose source span holds its position (the innermost one). Then:
#   - a unit *starts* (a trigger, SPEC §2 rule 1–2) at an instruction of it
#     reached from outside it: from any other unit for simple statements,
#     `if`/`while` tests and `case`s (so each evaluation of a `while` test
#     triggers, N+1 times); from outside the whole compound statement for a
#     `for` iterable, a `with` header and an `except` clause (so leaving a
#     `with` body through its `__exit__` call starts nothing);
#   - an *event point* is any instruction reached from a different unit: the
#     frame moved on to another statement. A deferred LHS capture completes
#     at the first event point after its trigger (rule 2), at the frame's
#     return, at an exception event (rule 4), or at a suspension of another
#     statement (rule 3); one of the suspending statement itself waits;
#   - a `for` target or a comprehension target triggers once per binding,
#     at the instruction right after the binding (rule 5); an LHS capture
#     there is deferred like any other, completing at the next event point
#     or at the next iteration's start (a comprehension's FOR_ITER), so that
#     a generator expression suspended at its own `yield` keeps it pending.
# A forward data-flow pass keeps completion actions only where a capture
# may be pending, so that code with no LHS probe pending costs nothing.

import os
import sys


# What os.path and os hold at start-up, for _realpath (the planner maps
# file names while the program runs, and a program may patch them).
_POSIXPATH = dict(vars(sys.modules[os.path.__name__]))
_OS = dict(vars(os))
_c_realpath = None  # the extension's realpath(3) once it is loaded (use_c_realpath)
_py_realpath = []   # posixpath's realpath on the start-up namespaces, made when first needed


def use_c_realpath(f):
    global _c_realpath
    _c_realpath = f


def _realpath(path):
    """os.path.realpath(os.path.abspath(path)) as at start-up, without
    calling anything the program may have patched since (os.path.abspath,
    os.getcwd, os.lstat under mock.patch must neither see our calls nor
    change our answers): realpath(3) through the extension; else, or where
    it fails (a missing file), posixpath's code run on a private copy of
    the start-up namespaces of posixpath and os."""
    if _c_realpath is not None:
        got = _c_realpath(path)
        if got is not None:
            return got
    if not _py_realpath:
        g = dict(_POSIXPATH)
        g["__builtins__"] = __builtins__  # the agent's copy (boot.py)
        g["os"] = type(sys)("os")
        vars(g["os"]).update(_OS)
        function = type(_realpath)
        for name, f in list(g.items()):
            if type(f) is function and f.__module__ == g["__name__"]:
                g[name] = copy = function(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
                copy.__kwdefaults__ = f.__kwdefaults__
        _py_realpath.append(lambda p: g["realpath"](p if g["isabs"](p) else g["abspath"](p)))
    return _py_realpath[0](path)

try:
    from . import optables as _opcode  # opcode's tables, carried by boot.py (no import of opcode)
except ImportError:  # these modules imported on their own (tests/python)
    import opcode as _opcode

# The syntax side (resolve.py, `_ast`) is loaded only to build scope
# models from source: a run that found its resolution cached
# (resolved.py) never imports it.
resolve = ast = None


def _need_syntax():
    global resolve, ast
    if resolve is None:
        from . import resolve as r
        resolve, ast = r, r.ast

_PY = sys.version_info[:2]

# Unit kinds.
SIMPLE, TEST, LOOPTEST, FORSTART, ITER, HEADER, HANDLER, CASE, STRUCT, COMP = range(10)
KIND_NAMES = ("simple", "test", "while-test", "for-iterable", "for-target", "header", "except", "case",
              "region", "comprehension")
# When a unit triggers: never; at an entry from any other unit; at an entry
# from outside its compound statement (`region`).
NEVER, FROM_UNIT, FROM_REGION = 0, 1, 2

# Completion levels of an action and of pending captures.
BIND, STMT = 1, 2

OUTSIDE = -1  # owner of positioned instructions outside every unit (RESUME on the def line)

_OPNAME = _opcode.opname
_EXT = _opcode.EXTENDED_ARG
_HAVE_ARG = _opcode.HAVE_ARGUMENT
_JREL = frozenset(_opcode.hasjrel)
_JABS = frozenset(_opcode.hasjabs)
_CACHES = _opcode._inline_cache_entries
_NO_FALLTHROUGH = frozenset(n for n in (
    "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE", "JUMP", "JUMP_NO_INTERRUPT",
    "RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE", "RETURN_GENERATOR_DONE") if n in _opcode.opmap)
# Instructions at which the interpreter itself consumes a StopIteration (a
# `for` loop ending, `yield from` / `await` returning) or StopAsyncIteration
# (`async for` ending): rule 4's exemption.
_STOP_CONSUMERS = frozenset(_opcode.opmap[n] for n in (
    "FOR_ITER", "SEND", "END_ASYNC_FOR", "CLEANUP_THROW", "YIELD_VALUE", "GET_ANEXT", "END_SEND",
    "FOR_ITER_GEN") if n in _opcode.opmap)
_FOR_ITER = _opcode.opmap["FOR_ITER"]
_YIELD_VALUE = _opcode.opmap["YIELD_VALUE"]
_STORE_OPS = frozenset(_opcode.opmap[n] for n in (
    "STORE_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "STORE_FAST_MAYBE_NULL", "DELETE_FAST",
    "LOAD_FAST_AND_CLEAR") if n in _opcode.opmap)


def _cache_count(op):
    # A list indexed by opcode up to 3.12; a mapping by name since (a dict,
    # 3.15's frozendict).
    if hasattr(_CACHES, "get"):
        return _CACHES.get(_OPNAME[op], 0)
    return _CACHES[op]


# ---------------------------------------------------------------------------
# Bytecode: instructions, positions, control flow
# ---------------------------------------------------------------------------

class Bytecode:
    """The instructions of a code object (CACHE entries skipped, EXTENDED_ARG
    folded into the next instruction's argument) with their positions, jump
    targets and exception handlers. Reads `co_code` directly: the `dis`
    module costs 10–25 ms of start-up."""

    __slots__ = ("code", "offs", "ops", "args", "pos", "index", "succ", "exc_succ", "preds")

    def __init__(self, code):
        self.code = code
        raw = code.co_code
        positions = list(code.co_positions())
        offs, ops, args, pos = [], [], [], []
        i, n, ext = 0, len(raw), 0
        while i < n:
            op = raw[i]
            arg = raw[i + 1] | ext if op >= _HAVE_ARG else 0
            if op == _EXT:
                ext = arg << 8
                i += 2
                continue
            ext = 0
            start = i
            # An EXTENDED_ARG prefix belongs to its instruction: jumps land on
            # the prefix, so the instruction is known by the prefix's offset.
            while start >= 2 and raw[start - 2] == _EXT and (not offs or offs[-1] < start - 2):
                start -= 2
            offs.append(start)
            ops.append(op)
            args.append(arg)
            pos.append(positions[i // 2])
            i += 2 + 2 * _cache_count(op)
        self.offs, self.ops, self.args, self.pos = offs, ops, args, pos
        self.index = {o: k for k, o in enumerate(offs)}
        # Offsets of the instruction itself (after its EXTENDED_ARGs), for
        # jump arithmetic and for the interpreter's f_lasti.
        succ = [[] for _ in offs]
        for k, op in enumerate(ops):
            name = _OPNAME[op]
            real = self._real_offset(k)
            nxt = real + 2 + 2 * _cache_count(op)
            if name not in _NO_FALLTHROUGH and k + 1 < len(offs):
                succ[k].append(k + 1)
            if op in _JREL or op in _JABS:
                arg = args[k]
                if op in _JABS:
                    target = arg * 2
                elif "BACKWARD" in name or name == "END_ASYNC_FOR":  # (3.14's END_ASYNC_FOR jumps back)
                    target = nxt - arg * 2
                else:
                    target = nxt + arg * 2
                t = self._index_at(target)
                if t is not None and t not in succ[k]:
                    succ[k].append(t)
        self.succ = succ
        exc = [[] for _ in offs]
        for start, end, target in _exception_table(code):
            t = self._index_at(target)
            if t is None:
                continue
            for k in range(len(offs)):
                if start <= self._real_offset(k) < end:
                    exc[k].append(t)
        self.exc_succ = exc
        preds = [[] for _ in offs]
        for k in range(len(offs)):
            for t in succ[k]:
                preds[t].append((k, False))
            for t in exc[k]:
                preds[t].append((k, True))
        self.preds = preds

    def _real_offset(self, k):
        """Offset of instruction k itself (past any EXTENDED_ARG prefix)."""
        o = self.offs[k]
        raw = self.code.co_code
        while raw[o] == _EXT:
            o += 2
        return o

    def _index_at(self, offset):
        k = self.index.get(offset)
        if k is not None:
            return k
        # A target inside an EXTENDED_ARG run.
        while offset >= 0 and offset not in self.index:
            offset -= 2
        return self.index.get(offset)

    def extent(self, k):
        """Every code-unit offset of instruction k: its EXTENDED_ARG prefix,
        itself and its inline caches (an event may name any of them: 3.12
        reports a RAISE at SEND on SEND's cache entry)."""
        end = self._real_offset(k) + 2 + 2 * _cache_count(self.ops[k])
        return range(self.offs[k], end, 2)

    def real_offsets(self):
        return [self._real_offset(k) for k in range(len(self.offs))]


def _exception_table(code):
    """(start, end, target) byte offsets of co_exceptiontable (3.11+): varints
    of 6 bits, 0x40 = more follows, 0x80 marks an entry's first byte."""
    table = getattr(code, "co_exceptiontable", b"")
    out = []
    i, n = 0, len(table)

    def varint():
        nonlocal i
        b = table[i]
        i += 1
        val = b & 63
        while b & 64:
            b = table[i]
            i += 1
            val = (val << 6) | (b & 63)
        return val

    try:
        while i < n:
            start = varint() * 2
            length = varint() * 2
            target = varint() * 2
            varint()  # depth and lasti
            out.append((start, start + length, target))
    except IndexError:
        pass
    return out


def _inside(p, s):
    """Whether instruction position p = (l1, l2, c1, c2) lies inside span s = (l1, c1, l2, c2)."""
    l1, l2, c1, c2 = p
    if l1 is None or c1 is None or l2 is None or c2 is None:
        return False
    return (l1, c1) >= (s[0], s[1]) and (l2, c2) <= (s[2], s[3])


# ---------------------------------------------------------------------------
# Scope models: the units of one code scope, from its syntax tree
# ---------------------------------------------------------------------------

class Unit:
    __slots__ = ("id", "kind", "spans", "trigger", "region", "ancestors", "depth", "key")

    def describe(self):
        s = self.spans[0] if self.spans else None
        where = f"{s[0]}:{s[1]}-{s[2]}:{s[3]}" if s else "?"
        return f"{KIND_NAMES[self.kind]}@{where}"


class Loop:
    """A binding that triggers on its own: a `for` statement's or a
    comprehension generator's target (`kind` for/comp: its binding is the
    run of instructions positioned in its target `spans`), an `except … as
    n` (except: the first store of `names` in the handler's span) or a
    `case`'s captures (case: the stores of `names` in the pattern's span)."""
    __slots__ = ("id", "kind", "spans", "unit", "range_header", "key", "names")


class ScopeModel:
    """The units and loops of one code scope (a module, function, lambda,
    class body, or comprehension that has a frame of its own). Compact
    (tuples of ints), so that the syntax tree can go once probes are
    resolved."""

    __slots__ = ("file", "key", "span", "units", "loops", "unit_by_key", "loop_by_key", "by_line", "_range_ok")

    def __init__(self, fm, scope, range_ok):
        _need_syntax()
        self.file = fm.path
        self.key = resolve.scope_key(scope)
        self.span = resolve.span(scope) if not isinstance(scope, ast.Module) else None
        self.units = []
        self.loops = []
        self.unit_by_key = {}
        self.loop_by_key = {}
        self._range_ok = range_ok
        if isinstance(scope, ast.Lambda):
            u = self._unit(SIMPLE, [resolve.span(scope.body)], FROM_UNIT, None, (), 0, (id(scope), "body"))
            self._comps(scope.body, ())
        elif isinstance(scope, resolve.COMP_TYPES):
            self._unit(COMP, [resolve.span(scope)], FROM_UNIT, None, (), 0, (id(scope), "comp"))
            self._comp_loops(scope, ())
        else:
            self._body(scope.body, 0, ())
        self._range_ok = None
        self.by_line = lines_of(self.units)

    def _unit(self, kind, spans, trigger, region, ancestors, depth, key):
        u = Unit()
        u.id = len(self.units)
        u.kind = kind
        u.spans = tuple(spans)
        u.trigger = trigger
        u.region = region if region is not None else u.id
        u.ancestors = ancestors
        u.depth = depth
        u.key = key
        self.units.append(u)
        if key is not None:
            self.unit_by_key[key] = u
        return u

    def _loop(self, kind, spans, unit, range_header, key, names=()):
        lp = Loop()
        lp.id = len(self.loops)
        lp.kind = kind
        lp.spans = tuple(spans)
        lp.unit = unit
        lp.range_header = range_header
        lp.key = key
        lp.names = frozenset(names)
        self.loops.append(lp)
        self.loop_by_key[key] = lp
        return lp

    def _body(self, stmts, depth, anc):
        for st in stmts:
            self._stmt(st, depth, anc)

    def _stmt(self, st, depth, anc):
        t = type(st)
        sid = id(st)
        sp = resolve.span(st)
        if t in (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith) \
                or t in resolve._TRY_TYPES or (hasattr(ast, "Match") and t is ast.Match):
            r = self._unit(STRUCT, [sp], NEVER, None, anc, depth, (sid, "struct"))
            a2 = anc + (r.id,)
            d2 = depth + 1
            if t in (ast.For, ast.AsyncFor):
                self._unit(FORSTART, [resolve.span(st.iter)], FROM_REGION, r.id, a2, d2, (sid, "iter"))
                self._comps(st.iter, a2)
                it = self._unit(ITER, [resolve.span(st.target)], NEVER, None, a2, d2, (sid, "target"))
                rng = (t is ast.For and isinstance(st.iter, ast.Call) and isinstance(st.iter.func, ast.Name)
                       and st.iter.func.id == "range" and self._range_ok)
                self._loop("for", [resolve.span(st.target)], it.id, rng, sid)
                self._body(st.body, d2, a2)
                self._body(st.orelse, d2, a2)
            elif t is ast.While or t is ast.If:
                self._unit(LOOPTEST if t is ast.While else TEST, [resolve.span(st.test)], FROM_UNIT, None, a2, d2,
                           (sid, "test"))
                self._comps(st.test, a2)
                self._body(st.body, d2, a2)
                self._body(st.orelse, d2, a2)
            elif t in (ast.With, ast.AsyncWith):
                spans = []
                for item in st.items:
                    spans.append(resolve.span(item.context_expr))
                    self._comps(item.context_expr, a2)
                    if item.optional_vars is not None:
                        spans.append(resolve.span(item.optional_vars))
                self._unit(HEADER, spans, FROM_REGION, r.id, a2, d2, (sid, "items"))
                self._body(st.body, d2, a2)
            elif t in resolve._TRY_TYPES:
                self._body(st.body, d2, a2)
                for h in st.handlers:
                    hu = self._unit(HANDLER, [resolve.span(h)], FROM_REGION, None, a2, d2, (id(h), "handler"))
                    if h.name:
                        self._loop("except", [resolve.span(h)], hu.id, False, id(h), (h.name,))
                    if h.type is not None:
                        self._comps(h.type, a2)
                    self._body(h.body, d2 + 1, a2 + (hu.id,))
                self._body(st.orelse, d2, a2)
                self._body(st.finalbody, d2, a2)
            else:  # match
                self._unit(HEADER, [resolve.span(st.subject)], FROM_REGION, r.id, a2, d2, (sid, "subject"))
                self._comps(st.subject, a2)
                for c in st.cases:
                    # A case starts when entered from outside it (its guard's
                    # code positioned on the pattern is not a new attempt).
                    cu = self._unit(CASE, [resolve.span(c.pattern)], FROM_REGION, None, a2, d2, (id(c), "case"))
                    caps = {getattr(x, "name", None) or getattr(x, "rest", None)
                            for x in resolve.walk_nodes(c.pattern) if isinstance(x, resolve._MATCH_TYPES)}
                    caps.discard(None)
                    if caps:
                        self._loop("case", [resolve.span(c.pattern)], cu.id, False, id(c), caps)
                    if c.guard is not None:
                        self._unit(TEST, [resolve.span(c.guard)], FROM_UNIT, None, a2 + (cu.id,), d2, (id(c), "guard"))
                        self._comps(c.guard, a2)
                    self._body(c.body, d2, a2)
            return
        spans = [sp]
        if t in resolve._DEF_TYPES:
            spans = [resolve.span(d) for d in st.decorator_list] + spans
        self._unit(SIMPLE, spans, FROM_UNIT, None, anc, depth, (sid, "stmt"))
        if t in resolve._DEF_TYPES:
            for d in st.decorator_list:
                self._comps(d, anc)
            if t is not ast.ClassDef:
                for d in st.args.defaults + [d for d in st.args.kw_defaults if d is not None]:
                    self._comps(d, anc)
        else:
            self._comps(st, anc)

    def _comps(self, node, anc):
        """Loops of the comprehensions compiled into this frame (3.12+
        inlines list/set/dict comprehensions) found under `node`."""
        if not resolve.INLINED_COMPS:
            return
        todo = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, ast.GeneratorExp):
                # A frame of its own, but its first iterable is evaluated here.
                todo.append(n.generators[0].iter)
                continue
            if isinstance(n, ast.Lambda):
                # Likewise its defaults.
                todo.extend(n.args.defaults + [d for d in n.args.kw_defaults if d is not None])
                continue
            if isinstance(n, resolve._DEF_TYPES):
                continue  # frames of their own
            if isinstance(n, resolve.INLINED_COMPS):
                self._comp_loops(n, anc)
                continue
            todo.extend(resolve.iter_child_nodes(n))

    def _comp_loops(self, comp, anc):
        for g in comp.generators:
            self._loop("comp", [resolve.span(g.target)], None, False, id(g))
        # Comprehensions nested in this one's parts are inlined into the
        # same frame — those of the first iterable too (evaluated in the
        # enclosing context, which is this frame).
        for g in comp.generators:
            self._comps(g.iter, anc)
            for c in g.ifs:
                self._comps(c, anc)
        for part in ((comp.key, comp.value) if isinstance(comp, ast.DictComp) else (comp.elt,)):
            self._comps(part, anc)

    def owner(self, p):
        """The innermost unit holding instruction position p, or OUTSIDE."""
        if p[0] is None:
            return None
        best = None
        for u in self.by_line.get(p[0], ()):
            for s in u.spans:
                if _inside(p, s):
                    if best is None or u.depth > best.depth or (
                            u.depth == best.depth and _span_size(s) < best_size):
                        best, best_size = u, _span_size(s)
                    break
        return best.id if best is not None else OUTSIDE

    def matches(self, code):
        """Whether `code` can be this scope's code object: every positioned
        instruction of it lies in the scope's span (several lambdas or
        comprehensions can share a name and first line; of those that
        match, the planner takes the innermost)."""
        if self.span is None:
            return True
        seen = False
        for p in code.co_positions():
            if p[0] is None or p[2] is None or p[2] == p[3] and p[0] == p[1]:
                continue  # no position, or a zero-width one (RESUME on the def line)
            if not _inside(p, self.span):
                return False
            seen = True
        return seen


def lines_of(units):
    """line -> the units whose spans cover it (owner lookup)."""
    by_line = {}
    for u in units:
        for s in u.spans:
            for line in range(s[0], s[2] + 1):
                by_line.setdefault(line, []).append(u)
    return by_line


def _span_size(s):
    return ((s[2] - s[0]) << 20) + (s[3] - s[1])


# ---------------------------------------------------------------------------
# Sites: all probes that fire at one trigger form one batch
# ---------------------------------------------------------------------------

class Site:
    """All probes that fire at one trigger point: one batch (SPEC §2 rule 6)."""
    __slots__ = ("id", "key", "trigger", "probes", "rhs", "lhs", "simple", "scope")

    def describe(self):
        return f"site {self.id} ({', '.join(p.label() for p in self.probes)})"


def make_sites(resolver):
    """Groups the resolver's probes into sites — one per trigger point, a
    probe joining every site where its name occurs with its role — and
    builds the scope model of every code scope that holds one. Returns
    (sites, scope models by file)."""
    _need_syntax()
    models = {}   # (file, id(code scope node)) -> ScopeModel
    by_trigger = {}
    for p in resolver.probes:
        fm = resolver.models[p.file]
        seen = set()
        for occ in p.occs:
            code_scope = fm.frame_scope(occ.scope)
            mk = (p.file, id(code_scope))
            trig = ("bind", id(occ.bind)) if occ.bind is not None else ("unit", occ.unit)
            k = (mk, trig)
            if k in seen:
                continue  # one tap per trigger: the leftmost occurrence
            seen.add(k)
            sm = models.get(mk)
            if sm is None:
                range_ok = not (fm.symtab is not None and resolve.module_binds(fm.symtab, "range"))
                sm = models[mk] = ScopeModel(fm, code_scope, range_ok)
            site = by_trigger.get(k)
            if site is None:
                site = by_trigger[k] = Site()
                site.id = len(by_trigger) - 1
                site.scope = sm
                site.key = (p.file, sm.key)
                site.trigger = trig
                site.probes = []
            site.probes.append(resolve.make_tap(p, occ, fm))
    sites = list(by_trigger.values())
    for s in sites:
        sm = s.scope
        kind, key = s.trigger
        # Resolve the AST key to the model's unit or binding id (trees go next).
        if kind == "bind":
            lp = sm.loop_by_key.get(key)
            s.trigger = ("bind", lp.id if lp is not None else -1)
        else:
            u = sm.unit_by_key.get(key)
            s.trigger = ("unit", u.id if u is not None else -1)
        s.probes.sort(key=lambda t: (t.role != "rhs", t.line, t.col, t.id))
        s.rhs = tuple(t for t in s.probes if t.role == "rhs")
        s.lhs = tuple(t for t in s.probes if t.role == "lhs")
        s.simple = is_simple(s)
    for p in resolver.probes:
        p.occs = None
    for sm in models.values():
        sm.unit_by_key = None
        sm.loop_by_key = None
    by_file = {}
    for sm in models.values():
        by_file.setdefault(sm.file, []).append(sm)
    return sites, by_file


def is_simple(s):
    """One LHS probe of a plain name read through f_locals, nothing else:
    the cores inline this case (the tight loop)."""
    return (not s.rhs and len(s.lhs) == 1 and len(s.lhs[0].parts) == 1
            and s.lhs[0].kind in ("local", "name"))


# ---------------------------------------------------------------------------
# Code plans
# ---------------------------------------------------------------------------

class Action:
    """What to do when a probed frame is about to execute one instruction,
    in this order: complete pending captures (`complete`: BIND = those of
    bindings only, STMT = all), arm guarded bindings, fire the binding
    triggers (`binds`: (site, guard loop or -1, complete at once)), then the
    statement trigger (`fire`). `quiet`: the completion may wait for the
    next event point while one thread runs (a `range` loop header that
    cannot change any pending value); an action that is only that is not
    needed then. `unit`: the unit the instruction belongs to."""
    __slots__ = ("offset", "complete", "quiet", "arm", "binds", "fire", "unit", "fast")

    def __init__(self, offset, unit):
        self.offset = offset
        self.complete = 0
        self.quiet = False
        self.arm = ()
        self.binds = ()
        self.fire = None
        self.unit = unit
        self.fast = None

    def ops(self):
        out = []
        if self.complete:
            out.append(("complete-all" if self.complete == STMT else "complete-bindings")
                       + (" (quiet while one thread runs)" if self.quiet else ""))
        for lp in self.arm:
            out.append(f"arm loop {lp}")
        for site, guard, now in self.binds:
            out.append(f"bind {site.describe()}" + (f" if armed by loop {guard}" if guard >= 0 else "")
                       + (", complete at once" if now else ""))
        if self.fire is not None:
            out.append(f"fire {self.fire.describe()}")
        return out


class CodePlan:
    """The plan of one code object: `actions` by instruction offset (the
    offset the interpreter reports: f_lasti, or the event's offset), the
    offsets where a StopIteration is the interpreter's own, the unit of
    each yield (suspension), and how the settrace core must listen."""
    __slots__ = ("code", "scope", "actions", "stop_offsets", "async_stop_offsets", "resume_offsets", "yield_unit",
                 "line_mode",
                 "has_lhs", "sites",
                 "problems", "loops")

    def dump(self):
        """The plan as text (`--debug-plan`)."""
        c = self.code
        mode = "line" if self.line_mode else "opcode"
        if sys.version_info >= (3, 12):
            how = (f"the sys.monitoring cores (native, monitoring) take INSTRUCTION events at these offsets; "
                   f"the settrace core listens to {mode} events")
        else:
            how = f"the trace function (native and settrace cores) listens to {mode} events"
        lines = [f"plan for {c.co_name} ({c.co_filename}:{c.co_firstlineno}); {how}"]
        for off in sorted(self.actions):
            a = self.actions[off]
            u = self.scope.units[a.unit].describe() if a.unit is not None and a.unit >= 0 else "-"
            lines.append(f"  @{off:<5} [{u}] " + "; ".join(a.ops()))
        for p in self.problems:
            lines.append(f"  note: {p}")
        return "\n".join(lines)


def build_plan(code, sm, sites, threads_quiet=True):
    """The CodePlan of `code` (the code object of scope model `sm`) for its
    `sites`. Pure: depends only on the code, the model and the sites."""
    bc = Bytecode(code)
    n = len(bc.offs)
    real = bc.real_offsets()
    owner = [sm.owner(p) for p in bc.pos]
    ops = bc.ops
    units = sm.units
    problems = []

    # Compiler glue (as instr_reference.py has it): a RERAISE, and the
    # clean-up block `COPY; POP_EXCEPT; RERAISE` an exception reaches from
    # a handler, belong to no statement. 3.11/3.12 position them on the
    # last statement of a `finally`, which must neither start again at the
    # clean-up (3.11 recorded it twice) nor stay pending past the re-raise
    # (the monitoring core called a completed `x = 1` raised): they go to
    # the enclosing compound statement's region. The block ends at its
    # RERAISE: a POP_EXCEPT right after it is another block's (a `try`
    # nested in an `except` leaves the outer handler there, positioned on
    # the try body's last statement, which would otherwise start again
    # when the jump back to the code after the handler leaves the region).
    handler_targets = {t for ex in bc.exc_succ for t in ex}

    def to_region(k):
        o = owner[k]
        if o is not None and o >= 0 and units[o].kind != STRUCT:
            anc = units[o].ancestors
            owner[k] = anc[-1] if anc else OUTSIDE

    for k in range(n):
        name = _OPNAME[ops[k]]
        if name == "RERAISE":
            to_region(k)
        elif name == "COPY" and k in handler_targets:
            to_region(k)
            j = k + 1
            while j < n and _OPNAME[ops[j]] in ("POP_EXCEPT", "RERAISE"):
                to_region(j)
                j += 1
                if _OPNAME[ops[j - 1]] == "RERAISE":
                    break

    # -- loops: binding runs and their FOR_ITERs -------------------------
    # A binding run: consecutive instructions positioned in a loop's target
    # spans. The binding trigger sits on the instruction after the run.
    loop_of = {}          # instruction index -> loop (binding-run instructions)
    runs = []             # (loop, first index, last index)
    targets = [lp for lp in sm.loops if lp.kind in ("for", "comp")]
    for k in range(n):
        p = bc.pos[k]
        if p[0] is None:
            continue
        for lp in targets:
            if any(_inside(p, s) for s in lp.spans):
                loop_of[k] = lp
                break
    k = 0
    while k < n:
        lp = loop_of.get(k)
        if lp is None or (k > 0 and loop_of.get(k - 1) is lp):
            k += 1
            continue
        j = k
        while j + 1 < n and loop_of.get(j + 1) is lp:
            j += 1
        runs.append((lp, k, j))
        k = j + 1
    for lp in sm.loops:
        if lp.kind not in ("except", "case"):
            continue
        stores = [k for k in range(n) if bc.pos[k][0] is not None and any(_inside(bc.pos[k], sp) for sp in lp.spans)
                  and lp.names & _stored_names(code, ops[k], bc.args[k])]
        if stores:
            # except: the first store of the name (the later ones are its
            # clean-up); case: all captures, stored together once matched.
            runs.append((lp, stores[0], stores[0] if lp.kind == "except" else stores[-1]))
    iter_starts = {}      # FOR_ITER (GET_ANEXT for `async for`) index -> loop
    for lp, first, last in runs:
        if lp.kind not in ("for", "comp"):
            continue
        for pk, is_exc in bc.preds[first]:
            if not is_exc and ops[pk] == _FOR_ITER:
                iter_starts[pk] = lp
        if lp.kind == "comp" and any(_OPNAME[ops[pk]] in ("END_SEND", "SEND") for pk, _ in bc.preds[first]):
            # An async comprehension asks for its next item with an await.
            j = first - 1
            while j > 0 and first - j < 12 and _OPNAME[ops[j]] != "GET_ANEXT":
                j -= 1
            if _OPNAME[ops[j]] == "GET_ANEXT":
                iter_starts[j] = lp
    for k, lp in iter_starts.items():
        if lp.kind == "for" and lp.unit is not None:
            # One owner for the loop's machinery: FOR_ITER, the target's
            # binding, and the END_FOR (+ POP_TOP) its exhaustion jumps to
            # (3.12+), which only drop the iterator.
            owner[k] = lp.unit
            for t in bc.succ[k]:
                if t != k + 1 and _OPNAME[ops[t]] == "END_FOR":
                    owner[t] = lp.unit
                    if t + 1 < n and _OPNAME[ops[t + 1]] in ("POP_TOP", "POP_ITER") and bc.pos[t + 1] == bc.pos[t]:
                        owner[t + 1] = lp.unit

    # A header is often evaluated in pieces with compiler-made steps between
    # them positioned on the whole compound statement: BEFORE_WITH and the
    # await of an `async with`; on 3.11 the jump of `elif a and b`. They
    # belong to the header: it is not over (and does not start again) there.
    header_kinds = (TEST, LOOPTEST, HEADER, FORSTART, CASE)
    k = 0
    while k < n:
        o = owner[k]
        if o is not None and o >= 0 and units[o].kind in header_kinds and units[o].ancestors:
            struct = units[o].ancestors[-1]
            j = k + 1
            while j < n and (owner[j] is None or owner[j] == struct):
                j += 1
            if j < n and j > k + 1 and owner[j] == o:
                for m in range(k + 1, j):
                    if owner[m] is not None:
                        owner[m] = o
            k = j if j > k + 1 else k + 1
            continue
        k += 1

    # CLEANUP_THROW (3.12+), where a StopIteration thrown into an await
    # ends it, sits out of line positioned on the whole statement: it is
    # part of that await (its yield's unit), so that jumping back from it
    # neither starts nor ends anything (3.12 completed an `async with …
    # as x` target before its store when `__aenter__` had suspended).
    exc_preds = {}
    for j in range(n):
        for t in bc.exc_succ[j]:
            exc_preds.setdefault(t, []).append(j)
    for k in range(n):
        if _OPNAME[ops[k]] == "CLEANUP_THROW":
            ys = [j for j in exc_preds.get(k, ()) if ops[j] == _YIELD_VALUE and owner[j] is not None]
            if ys and all(owner[j] == owner[ys[0]] for j in ys):
                owner[k] = owner[ys[0]]

    # -- effective predecessor owners (through unpositioned instructions) --
    memo = {}

    def pred_owners(k):
        got = memo.get(k)
        if got is not None:
            return got
        memo[k] = frozenset()  # cycle guard
        out = set()
        if not bc.preds[k]:
            out.add(OUTSIDE)  # the code's first instruction (or one the flow graph cannot reach)
        for pk, _ in bc.preds[k]:
            o = owner[pk]
            if o is None:
                out |= pred_owners(pk)
            else:
                out.add(o)
        res = frozenset(out)
        memo[k] = res
        return res

    def outside_for(u, o):
        if o == u.id:
            return False
        if u.trigger == FROM_UNIT:
            return True
        if o == OUTSIDE:
            return True
        return u.region not in units[o].ancestors and o != u.region

    triggers = {}         # unit id -> [instruction index]
    events = set()        # instruction indices that are statement-level event points
    for k in range(n):
        o = owner[k]
        if o is None or o == OUTSIDE:
            continue
        po = pred_owners(k)
        if any(x != o for x in po):
            events.add(k)
            u = units[o]
            if u.trigger != NEVER and any(outside_for(u, x) for x in po):
                triggers.setdefault(o, []).append(k)

    # -- actions -----------------------------------------------------------
    acts = {}             # instruction index -> Action

    def act(k):
        a = acts.get(k)
        if a is None:
            # Keyed by the offset of the instruction's first EXTENDED_ARG, if
            # any: line events and 3.11's opcode events come there (3.12+
            # also report the instruction itself, which then finds nothing).
            a = acts[k] = Action(bc.offs[k], owner[k])
        return a

    gen_stmt = {}         # index -> bitmask of sites with statement-level LHS reserved there
    gen_bind = {}         # index -> bitmask of binding-level LHS reserved there (not completed at once)
    for s in sites:
        kind, tid = s.trigger
        bit = 1 << s.id
        if kind == "unit":
            ks = triggers.get(tid, ())
            if tid < 0 or not ks:
                problems.append(f"{s.describe()}: no instruction starts its statement; it cannot trigger")
                continue
            for k in ks:
                a = act(k)
                if a.fire is not None:
                    problems.append(f"two sites on one trigger at {bc.offs[k]}")
                a.fire = s
                if s.lhs:
                    gen_stmt[k] = gen_stmt.get(k, 0) | bit
        else:
            lp = sm.loops[tid] if 0 <= tid < len(sm.loops) else None
            lruns = [(f, l) for (x, f, l) in runs if x is lp]
            if lp is None or not lruns:
                problems.append(f"{s.describe()}: no binding instruction found for its target; it cannot trigger")
                continue
            for first, last in lruns:
                x = last + 1
                if x >= n:
                    continue
                others = [pk for pk, _ in bc.preds[x] if pk != last]
                guard = -1
                if others:
                    guard = lp.id
                    a0 = act(first)
                    if lp.id not in a0.arm:
                        a0.arm = a0.arm + (lp.id,)
                now = x in events
                a = act(x)
                a.binds = a.binds + ((s, guard, now),)
                if s.lhs and not now:
                    gen_bind[x] = gen_bind.get(x, 0) | bit

    # -- where pending captures may be live: forward data flow -------------
    comp_iters = {k for k, lp in iter_starts.items() if lp.kind == "comp"}
    stmt_iters = {k: lp for k, lp in iter_starts.items() if lp.kind == "for"}

    def flow(quiet):
        live_s = [0] * n
        live_b = [0] * n
        work = list(range(n))
        in_s = [0] * n
        in_b = [0] * n
        while work:
            k = work.pop()
            s_in, b_in = 0, 0
            for pk, is_exc in bc.preds[k]:
                if not is_exc:  # an exception event completes everything (rule 4)
                    s_in |= live_s[pk]
                    b_in |= live_b[pk]
            in_s[k], in_b[k] = s_in, b_in
            s_out, b_out = s_in, b_in
            if k in events and k not in quiet:
                s_out, b_out = 0, 0
            elif k in comp_iters:
                b_out = 0
            if k in gen_stmt:
                s_out |= gen_stmt[k]
            if k in gen_bind:
                b_out |= gen_bind[k]
            if s_out != live_s[k] or b_out != live_b[k]:
                live_s[k], live_b[k] = s_out, b_out
                work.extend(bc.succ[k])
        return in_s, in_b, [a | b for a, b in zip(live_s, live_b)]

    in_s, in_b, live_out = flow(frozenset())
    quiet = set()
    if threads_quiet:
        for k, lp in stmt_iters.items():
            if not lp.range_header or not (in_s[k] | in_b[k]):
                continue
            if _may_quiet(code, bc, k, lp, runs, in_s[k] | in_b[k], sites):
                quiet.add(k)
        if quiet:
            in_s, in_b, live_out = flow(frozenset(quiet))
    tails = _trivial_tails(bc)
    for k in range(n):
        live = in_s[k] | in_b[k]
        if k in tails:
            continue  # the return event completes them, with nothing run in between
        if k in events and live:
            a = act(k)
            a.complete = STMT
            a.quiet = k in quiet
        elif k in comp_iters and in_b[k]:
            act(k).complete = BIND

    plan = CodePlan()
    plan.code = code
    plan.scope = sm
    plan.sites = sites
    plan.loops = sm.loops
    plan.problems = problems
    plan.has_lhs = bool(gen_stmt or gen_bind)
    plan.actions = {}
    for k, a in acts.items():
        if not (a.complete or a.arm or a.binds or a.fire is not None):
            continue
        if not a.arm and not a.binds and a.fire is not None and a.fire.simple and not a.quiet:
            a.fast = (a.fire, a.fire.lhs[0])
        plan.actions[a.offset] = a
    # Where a RAISE of the interpreter's own StopIteration is reported varies:
    # SEND's cache entry on 3.12, the instruction before SEND on 3.13.
    stop = set()
    for k in range(n):
        if ops[k] in _STOP_CONSUMERS:
            stop.update(bc.extent(k))
            if ops[k] != _FOR_ITER and k > 0:
                stop.update(bc.extent(k - 1))
    # A StopIteration thrown into a frame suspended in `yield from` or
    # `await` (throw() whose subiterator returned): its yield's handler,
    # CLEANUP_THROW, takes the value — the interpreter's own. 3.13+ report
    # it at the RESUME after the yield.
    for k in range(n - 1):
        if (ops[k] == _YIELD_VALUE and _OPNAME[ops[k + 1]] == "RESUME" and bc.exc_succ[k]
                and _OPNAME[ops[bc.exc_succ[k][0]]] == "CLEANUP_THROW"):
            stop.update(bc.extent(k + 1))
    plan.stop_offsets = frozenset(stop)
    # A StopAsyncIteration is the interpreter's own only where an `async
    # for` ends: raised inside the range whose handler is its END_ASYNC_FOR.
    # Out of a plain `await` (x = await it.__anext__()) it is an exception
    # like any other.
    plan.async_stop_offsets = frozenset(
        o for k in range(n) if bc.exc_succ[k] and _OPNAME[ops[bc.exc_succ[k][0]]] == "END_ASYNC_FOR"
        for o in bc.extent(k))
    plan.yield_unit = {o: owner[k] for k in range(n) if ops[k] == _YIELD_VALUE for o in bc.extent(k)}
    # Where settrace reports an exception thrown into the suspended frame.
    plan.resume_offsets = frozenset(
        [o for k in range(n) if ops[k] == _YIELD_VALUE for o in bc.extent(k)]
        + [bc.offs[k + 1] for k in range(n - 1) if ops[k] == _YIELD_VALUE and _OPNAME[ops[k + 1]] == "RESUME"])
    plan.line_mode = _line_mode(bc, [(k, acts[k]) for k in acts if acts[k].offset in plan.actions], live_out)
    return plan


def _stored_names(code, op, arg):
    """The names a store instruction binds (empty for other instructions)."""
    name = _OPNAME[op]
    if not name.startswith("STORE_"):
        return frozenset()
    try:
        if name in ("STORE_NAME", "STORE_GLOBAL"):
            return frozenset((code.co_names[arg],))
        if name in ("STORE_FAST_STORE_FAST",):
            return frozenset((code._varname_from_oparg(arg >> 4), code._varname_from_oparg(arg & 15)))
        if name == "STORE_FAST_LOAD_FAST":
            return frozenset((code._varname_from_oparg(arg >> 4),))
        if name in ("STORE_FAST", "STORE_DEREF", "STORE_FAST_MAYBE_NULL"):
            return frozenset((code._varname_from_oparg(arg),))
    except (AttributeError, IndexError, ValueError):
        pass
    return frozenset()


_RETURNS = frozenset(_opcode.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in _opcode.opmap)
_INERT = frozenset(_opcode.opmap[n] for n in ("LOAD_CONST", "NOP", "POP_TOP", "END_FOR", "LOAD_SMALL_INT",
                                               "NOT_TAKEN", "POP_ITER", "LOAD_COMMON_CONSTANT")
                   if n in _opcode.opmap)


def _trivial_tails(bc):
    """Instructions from which the frame returns without running anything
    that could change a value (`return None` after a loop, 3.11 positions
    it on the loop statement): a completion there equals the return's."""
    out = set()
    n = len(bc.ops)
    for k in range(n - 1, -1, -1):
        op = bc.ops[k]
        if op in _RETURNS:
            out.add(k)
        elif op in _INERT and bc.succ[k] == [k + 1] and k + 1 in out:
            out.add(k)
    return out


def _may_quiet(code, bc, k, lp, runs, live, sites):
    """Whether the completion at a `for … in range(…)` header's FOR_ITER
    (index k) may wait for the next event point: every capture that can be
    pending there is a plain fast local (not a cell) that the loop's
    binding does not write. Between the body's end and the next event point
    only the range iterator and the target's stores run: no code of the
    program, nothing that can change such a value or raise."""
    names = set()
    for s in sites:
        if live >> s.id & 1:
            for p in s.lhs:
                if not p.fast or p.base in code.co_cellvars or p.base in code.co_freevars:
                    return False
                names.add(p.base)
    for x, first, last in runs:
        if x is not lp:
            continue
        for j in range(first, last + 1):
            name = _OPNAME[bc.ops[j]]
            if name in ("NOP", "EXTENDED_ARG"):
                continue
            if bc.ops[j] not in _STORE_OPS or name in ("DELETE_FAST", "LOAD_FAST_AND_CLEAR"):
                return False  # an attribute or item store can run the program's code
            arg = bc.args[j]
            idxs = (arg >> 4, arg & 15) if name in ("STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST") else (arg,)
            for i in idxs:
                try:
                    nm = code._varname_from_oparg(i)
                except (AttributeError, IndexError, ValueError):
                    return False
                if nm in names:
                    return False
    return True


def _line_mode(bc, actions, live_out):
    """Whether sys.settrace's line events reach every action when it matters:
    every version emits a line event at an instruction reached from one on a
    different line (measured: 3.11–3.13; a backward jump within one line
    gives an event on 3.11/3.12 but not on 3.13, so it is not relied on).
    A trigger must see every way in; a completion only the ways along which
    a capture may be pending. Otherwise the settrace core listens to opcode
    events in that code object."""
    for k, a in actions:
        line = bc.pos[k][0]
        if line is None:
            return False
        always = a.fire is not None or a.binds or a.arm
        if always and not bc.preds[k]:
            return False
        for pk, is_exc in bc.preds[k]:
            if (always or (not is_exc and live_out[pk])) and bc.pos[pk][0] == line:
                return False
    return True


# ---------------------------------------------------------------------------
# The planner: code objects → plans, as the program's code objects appear
# ---------------------------------------------------------------------------

class Planner:
    """Finds the scope model of each code object the program runs and
    builds its plan once. `probed` maps id(code) to the plan of every code
    object that holds sites (the cores' hot-path lookup)."""

    def __init__(self, sites, models_by_file, debug=None):
        self.models = models_by_file
        self.sites_of = {}
        for s in sites:
            self.sites_of.setdefault(id(s.scope), []).append(s)
        # id(code) -> (code, plan or None). Keyed by id because hashing a
        # code object hashes its whole contents (nested code included) on
        # every lookup; the entry keeps the code alive so the id stays its own.
        self.plans = {}
        self.probed = {}
        # offset -> (code, site id, probe, unit) of the inline fast path
        # (plan.Action.fast): one dict lookup per event in the tight loop.
        # An offset two code objects share keeps its first; the other takes
        # the general path, which does the same.
        self.fast_at = {}
        # offset -> (code,) of an action that only completes every pending
        # capture (not quiet: a quiet one is disabled while one thread
        # runs); the native core does those itself when the one pending
        # capture is the fast action's.
        self.complete_at = {}
        # The native core's table, when it runs (use_native).
        self.native = None
        self.native_actions = None
        # Scopes whose code object has not been seen yet; the monitoring
        # core stops looking for new code once this is empty.
        self.unfound = {id(sm) for sms in models_by_file.values() for sm in sms if id(sm) in self.sites_of}
        self.debug = debug
        self.warnings = []
        self._real = {}
        self._frozen = {}

    def _models_for(self, filename):
        sms = self.models.get(filename)
        if sms is None and filename:
            if filename.startswith("<"):
                if filename.startswith("<frozen ") and filename.endswith(">"):
                    sms = self._frozen_models(filename)
                return sms
            real = self._real.get(filename)
            if real is None:
                real = self._real[filename] = _realpath(filename)
            sms = self.models.get(real)
        return sms

    def _frozen_models(self, filename):
        """The models of the file a frozen module was made from. Since 3.11
        python runs os, posixpath, codecs, abc, stat, _collections_abc …
        from copies frozen into the interpreter, whose code names
        `<frozen NAME>`, not the file a probe names (a probe there never
        triggered). The file's models apply when it compiles to exactly
        the frozen code (code equality leaves out only the file name);
        checked once per module, else a warning says why nothing runs."""
        got = self._frozen.get(filename)
        if got is None:
            got = self._check_frozen(filename[8:-1])
            if got is None:
                return None  # its module is not there yet: asked again later
            self._frozen[filename] = got
        return got or None

    # The import system's own names for the two modules python always runs
    # frozen (-X frozen_modules=off does not change that).
    _ALWAYS_FROZEN = {"importlib._bootstrap": "_frozen_importlib",
                      "importlib._bootstrap_external": "_frozen_importlib_external"}

    def _check_frozen(self, name):
        """The models for frozen module `name`, () when it has none here,
        None when its module is not loaded yet (then nothing is known)."""
        alias = self._ALWAYS_FROZEN.get(name, name)
        mod = sys.modules.get(alias)
        if mod is None:
            return None
        state = getattr(getattr(mod, "__spec__", None), "loader_state", None)
        path = getattr(state, "filename", None)
        if not isinstance(path, str):
            return ()
        real = _realpath(path)
        sms = self.models.get(real)
        if not sms:
            return ()
        try:
            with open(real, "rb") as f:
                src = f.read()
            same = sys.modules["_imp"].get_frozen_object(alias) == compile(
                src, real, "exec", dont_inherit=True, optimize=0)
        except Exception as e:  # noqa: BLE001 - unreadable, uncompilable: say so below
            same = False
            why = f"{type(e).__name__}: {e}"
        else:
            why = "it does not compile to the same code"
        if not same:
            if len(self.warnings) < 50:
                how = ("the import system always runs frozen" if name in self._ALWAYS_FROZEN else
                       "python -X frozen_modules=off runs it from the file")
                self.warnings.append(
                    f"{real}: python runs module {name} from a copy frozen into the interpreter and cannot be "
                    f"matched with this file ({why}); its probes cannot trigger ({how})")
            return ()
        return sms

    def holds_probes(self, filename):
        """Whether the file a code object was compiled from holds probes."""
        return bool(self._models_for(filename))

    def plan_for(self, code):
        entry = self.plans.get(id(code))
        if entry is not None and entry[0] is code:
            return entry[1]
        plan = None
        sms = self._models_for(code.co_filename)
        if sms:
            name, first = code.co_name, code.co_firstlineno
            # Several scopes can share a name and first line (lambdas, or
            # comprehensions nested in one another on one line): the
            # innermost whose span holds the code's positions is the one.
            best = None
            for sm in sms:
                kname, kfirst = sm.key
                if kname != name or (kfirst is not None and kfirst != first) or not sm.matches(code):
                    continue
                if best is None or (sm.span is not None and (best.span is None or
                                                              _span_size(sm.span) < _span_size(best.span))):
                    best = sm
            sm = best
            sites = self.sites_of.get(id(sm)) if sm is not None else None
            if sites:
                self.unfound.discard(id(sm))
                plan = build_plan(code, sm, sites)
                for p in plan.problems:
                    if len(self.warnings) < 50:
                        self.warnings.append(f"{code.co_filename}:{code.co_firstlineno} ({name}): {p}")
                if self.debug is not None:
                    self.debug(plan.dump())
        if plan is not None:
            self.probed[id(code)] = plan
            self._tables(code, plan)
        self.plans[id(code)] = (code, plan)
        return plan

    def _tables(self, code, plan):
        """Enters a plan's fast and complete-only actions in fast_at and
        complete_at, and in the native core's table (keyed by code and
        offset, so without the collisions of fast_at) when it runs."""
        native = self.native
        if self.native_actions is not None:
            self.native_actions(code, tuple(plan.actions), tuple(
                off for off, a in plan.actions.items()
                if a.quiet and a.fire is None and not a.binds and not a.arm))
        for off, a in plan.actions.items():
            if a.fast is not None:
                if off not in self.fast_at:
                    self.fast_at[off] = (code, a.fast[0].id, a.fast[1], a.unit)
                if native is not None:
                    native(code, off, a.fast[0].id, a.fast[1], a.unit)
            elif a.complete == STMT and not a.quiet and not a.arm and not a.binds and a.fire is None:
                if off not in self.complete_at:
                    self.complete_at[off] = (code,)
                if native is not None:
                    native(code, off, -1, None, None)
            elif a.complete == STMT and a.quiet and not a.arm and not a.binds and a.fire is None:
                if native is not None:
                    # Complete-only once threads exist (-2); nothing before.
                    native(code, off, -2, None, None)

    def use_native(self, enter, actions=None):
        """From now on, every fast and complete-only action (those planned
        already included) goes into the native core's table through
        `enter(code, offset, site id or -1, probe, unit)`, and with
        `actions` every plan's action offsets and its quiet ones (`actions(code,
        offsets, quiet)`:
        3.11's trace function skips events at the others)."""
        self.native = enter
        self.native_actions = actions
        for code, plan in list(self.plans.values()):
            if plan is not None:
                self._tables(code, plan)
