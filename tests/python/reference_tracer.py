"""A small, slow, obviously-correct reference tracer for `probe` (tests only).

It implements SPEC §1-§3 for a deliberately small subset of probes and
nothing else, so that its output can be trusted without trusting the agent
(`src/capture/agent.py`). It shares no code with the agent.

The subset: a probed line holds exactly ONE simple statement (assignment,
augmented / annotated assignment, expression statement or `return`), alone
on its line and on that line only, with no list/set/dict comprehension (3.12+
inlines those into the enclosing frame, which then reports the line again on
every iteration), no walrus, no `yield from` / `await`, and NAME occurring
only outside nested scopes (lambdas, generator expressions). Anything else is
refused with an error, never guessed at. Not modelled either: threads (only
the main thread is traced) and NumPy values (rendered by repr here).

Usage:
  reference_tracer.py run --out OUT.jsonl [--max-value-bytes N]
        [--max-array-bytes N] -p SPEC ... -- SCRIPT ARGS...
      Runs SCRIPT as __main__ under sys.settrace and writes one JSON array
      per record, in seq order: [seq, probe, order, status, shown] where
      `probe` is the index of the spec, `shown` the value rendered exactly as
      tests/common/mod.rs::show() renders a `Value`.
  reference_tracer.py eligible --out OUT.jsonl [--hits] FILE... [-- SCRIPT ARGS...]
      Lists the probes this tracer supports in FILEs: one JSON object per
      (line, name) with the names' Store/Load occurrences. With `--hits`,
      SCRIPT is run and each line's trigger count is added; lines not run
      from SCRIPT's main() on, or run before it (at import), are left out.
"""

import ast
import dis
import os
import sys
import types

# --------------------------------------------------------------------------
# Which lines and names the reference supports (parsing the source).
# --------------------------------------------------------------------------

# Statement types a probe line may hold (the "simple statement" subset).
SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return)
# Nested scopes: their code runs in frames of their own.
NESTED = (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)
# Constructs the reference does not model (see the module docstring).
REFUSED = (ast.ListComp, ast.SetComp, ast.DictComp, ast.NamedExpr, ast.YieldFrom, ast.Await)


def dotted(node):
    """`a.b.c` for a Name / chain of Attributes on a Name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else base + "." + node.attr
    return None


def occurrences(stmt):
    """(name, col, is_store) for every Name / attribute chain in stmt that is
    outside nested scopes, plus the set of names occurring inside them."""
    outer, inner = [], set()

    def walk(node, nested):
        name = dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if name is not None:
            if nested:
                inner.add(name)
            else:
                outer.append((name, node.col_offset, isinstance(node.ctx, ast.Store)))
        for child in ast.iter_child_nodes(node):
            walk(child, nested or isinstance(node, NESTED))

    walk(stmt, False)
    return outer, inner


def owner_scopes(tree):
    """Maps each statement to the scope node (Module / def / class) owning it."""
    owner = {}

    def walk(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                owner[child] = scope
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else scope
            walk(child, inner)

    walk(tree, tree)
    return owner


class Source:
    """One parsed file: its eligible lines and their statements."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as fh:
            raw = fh.read()
        self.lines = raw.split(b"\n")
        tree = ast.parse(raw, path)
        starts = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt):
                starts.setdefault(node.lineno, []).append(node)
        self.eligible = {}  # line -> statement
        for line, stmts in starts.items():
            if len(stmts) != 1:
                continue  # several statements start on this line
            s = stmts[0]
            if not isinstance(s, SIMPLE) or s.end_lineno != line:
                continue  # compound, or spans several lines
            if isinstance(s, ast.AnnAssign) and s.value is None:
                continue  # `x: int` alone executes nothing
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
                continue  # docstrings: no code on 3.11+ in functions
            text = self.lines[line - 1]  # col offsets are UTF-8 byte offsets
            if text[: s.col_offset].strip() or text[s.end_col_offset:].strip()[:1] not in (b"", b"#"):
                continue  # the line holds more than this statement
            if any(isinstance(n, REFUSED) for n in ast.walk(s)):
                continue
            self.eligible[line] = s
        self.owner = owner_scopes(tree)

    def names(self, line):
        """{name: (store_cols, load_cols)} of the names probeable on line."""
        outer, inner = occurrences(self.eligible[line])
        out = {}
        for name, col, store in outer:
            if name in inner:
                continue  # also inside a nested scope: which occurrence is meant is unclear
            st, ld = out.setdefault(name, ([], []))
            (st if store else ld).append(col)
        return out

    def owner_name(self, line):
        """co_name of the code object that runs the statement on line."""
        scope = self.owner[self.eligible[line]]
        return "<module>" if isinstance(scope, ast.Module) else scope.name


# --------------------------------------------------------------------------
# Probes (SPEC §1).
# --------------------------------------------------------------------------


class Probe:
    def __init__(self, index, spec, sources):
        self.index = index
        text = spec
        self.role = None
        if "@" in text:
            text, _, self.role = text.rpartition("@")
        file, line, self.name = text.rsplit(":", 2)
        self.line = int(line)
        self.path = os.path.realpath(file)
        if self.path not in sources:
            sources[self.path] = Source(self.path)
        src = sources[self.path]
        if self.line not in src.eligible:
            raise SystemExit(f"reference: {spec}: line {self.line} is outside the supported subset")
        names = src.names(self.line)
        if self.name not in names:
            raise SystemExit(f"reference: {spec}: {self.name!r} is not a supported name on that line")
        store_cols, load_cols = names[self.name]
        # §1: no suffix -> LHS when NAME is bound on the line, else RHS.
        if self.role is None:
            self.role = "lhs" if store_cols else "rhs"
        # §2 rule 6 orders a batch by column: the occurrence the role refers
        # to (a binding for LHS, a read for RHS), else any occurrence.
        cols = (store_cols if self.role == "lhs" else load_cols) or store_cols + load_cols
        self.col = min(cols)
        self.parts = self.name.split(".")
        self.owner = src.owner_name(self.line)


# --------------------------------------------------------------------------
# Values (SPEC §3), rendered as tests/common/mod.rs::show() renders them.
# --------------------------------------------------------------------------


def rust_float(x):
    """Rust's `{:?}` of an f64: Python's repr digits, Rust's spelling."""
    r = repr(x)
    if r == "nan":
        return "NaN"
    if "e" in r:
        mantissa, exp = r.split("e")
        return f"{mantissa}e{int(exp)}"
    return r


def rust_str(s):
    """Rust's `{:?}` of a str (escape_debug)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append("\\u{%x}" % ord(ch))
    out.append('"')
    return "".join(out)


class Renderer:
    def __init__(self, max_value_bytes, max_array_bytes):
        self.max_value = max_value_bytes
        self.max_array = max_array_bytes

    def show(self, v):
        t = type(v)
        if v is None:
            return "None"
        if t is bool:
            return "True" if v else "False"
        if t is int:
            return str(v)  # §3: exact in 64 bits, else decimal text: both print as decimal
        if t is float:
            return rust_float(v)
        if t is complex:
            return f"({rust_float(v.real)}+{rust_float(v.imag)}j)"
        if t is str:
            return rust_str(v[: self.max_value])
        if t is bytes:
            return "b" + rust_str(v[: self.max_value].decode("utf-8", "replace"))
        if t is list or t is tuple:
            arr = self.array(v, t.__name__)
            if arr is not None:
                return arr
        # §3: subclasses of the base kinds are stored as the base kind, with
        # the type name kept (bool cannot be subclassed).
        for base in (int, float, complex, str, bytes):
            if isinstance(v, base):
                return f"{t.__qualname__}({self.show(base(v))})"
        return repr(v)[: self.max_value]

    def array(self, v, type_name):
        """§3: lists/tuples of numbers are arrays: all bools -> bool, ints ->
        int64, with floats -> float64, any complex -> complex128; empty ->
        float64. Mixed bools and numbers, other elements, or ints beyond
        int64 / floats' range: not an array (None)."""
        types = {type(e) for e in v}
        if not v:
            dtype, size = "float64", 8
        elif types == {bool}:
            dtype, size = "bool", 1
        elif not types <= {int, float, complex}:
            return None
        elif complex in types:
            dtype, size = "complex128", 16
        elif float in types:
            dtype, size = "float64", 8
        else:
            dtype, size = "int64", 8
        kept = v[: self.max_array // size]
        elems = []
        for e in kept:
            if dtype == "bool":
                elems.append("1" if e else "0")
            elif dtype == "int64":
                if not -(2**63) <= e < 2**63:
                    return None
                elems.append(str(e))
            elif dtype == "float64":
                try:
                    elems.append(rust_float(float(e)))
                except OverflowError:
                    return None
            else:
                c = complex(e)
                elems.append(f"({rust_float(c.real)}+{rust_float(c.imag)}j)")
        more = ", …" if len(kept) < len(v) else ""
        return f"{type_name}<{dtype}>[{len(v)}][{', '.join(elems)}{more}]"


def type_label(t):
    mod = getattr(t, "__module__", None)
    return t.__qualname__ if mod in ("builtins", None) else f"{mod}.{t.__qualname__}"


UNBOUND = object()


# --------------------------------------------------------------------------
# The tracer (SPEC §2).
# --------------------------------------------------------------------------

CO_OPTIMIZED = 0x1
SUSPENDABLE = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
FINAL_RETURN = {dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap}


class Pending:
    """An LHS capture whose seq is reserved (rule 2)."""

    def __init__(self, seq, probe, order):
        self.seq, self.probe, self.order = seq, probe, order
        self.waiting = False  # rule 3: its line suspended the frame
        self.at_suspend = None  # what `raised` would read at that suspension


class Tracer:
    def __init__(self, probes, renderer):
        self.render = renderer
        self.seq = 0
        self.records = {}  # seq -> (probe, order, status, shown)
        self.pending = {}  # frame -> [Pending]; each frame keeps its own (rule 10)
        self.sites = {}  # (path, line) -> probes of that statement in batch order (rule 6)
        for p in probes:
            self.sites.setdefault((p.path, p.line), []).append(p)
        for ps in self.sites.values():
            ps.sort(key=lambda p: (p.role != "rhs", p.col, p.index))
        self.paths = {p.path for p in probes}
        self.realpaths = {}
        self.starts = {}  # code -> {(line, offset)} where a line's statement starts

    def read(self, frame, probe):
        """NAME in frame as Python resolves it: (status, shown)."""
        base = probe.parts[0]
        code = frame.f_code
        local = frame.f_locals
        if code.co_flags & CO_OPTIMIZED:
            # A function: a local, cell or free variable never falls back to
            # globals (rule 9); any other name is a global or a builtin.
            if base in code.co_varnames or base in code.co_cellvars or base in code.co_freevars:
                scopes = (local,)
            else:
                scopes = (frame.f_globals, frame.f_builtins)
        else:
            # Module and class bodies look names up in their dict, then
            # globals, then builtins.
            scopes = (local, frame.f_globals, frame.f_builtins)
        for scope in scopes:
            if base in scope:
                v = scope[base]
                break
        else:
            return "unbound", "-"
        try:
            for attr in probe.parts[1:]:
                v = getattr(v, attr)
            return "ok", self.render.show(v)
        except Exception as e:  # rule 9: reading or rendering failed
            return "error", f"<error {type_label(type(e))}>"

    def complete(self, frame, raised, keep_line=None):
        """Rule 2/4: the frame's next event completes its pending LHS
        captures, `raised` on an exception event. Rule 3: when the frame
        suspends at keep_line, captures of that line wait instead."""
        pl = self.pending.pop(frame, None)
        if not pl:
            return
        waiting = []
        for e in pl:
            if keep_line is not None and e.probe.line == keep_line:
                e.waiting = True
                e.at_suspend = self.read(frame, e.probe)
                waiting.append(e)
                continue
            status, shown = self.read(frame, e.probe)
            if raised:
                # Rule 9: `raised` wins over `error`; value read then, if bound.
                status, shown = "raised", ("-" if status == "unbound" else shown)
            self.records[e.seq] = (e.probe.index, e.order, status, shown)
        if waiting:
            self.pending[frame] = waiting

    def trigger(self, frame, probes):
        """Rules 1, 2, 6: one batch, RHS read now, LHS reserved now."""
        batch = []
        for order, p in enumerate(probes):
            if p.role == "rhs":
                status, shown = self.read(frame, p)
                self.records[self.seq] = (p.index, order, status, shown)
            else:
                batch.append(Pending(self.seq, p, order))
            self.seq += 1
        if batch:
            self.pending.setdefault(frame, []).extend(batch)

    def starts_statement(self, frame):
        """Whether this line event is a start of the line's statement (§2:
        "a trigger is a start of an execution of that statement"): its
        instruction opens a run of the line's instructions. Python 3.12's
        settrace also reports a line again at a jump target inside it
        (`a + (b and f())` after f returns), which is no new start."""
        code = frame.f_code
        if code not in self.starts:
            starts, prev = set(), None
            for start, _end, line in code.co_lines():
                if line is None:
                    continue
                if line != prev:
                    starts.add((line, start))
                prev = line
            self.starts[code] = starts
        return (frame.f_lineno, frame.f_lasti) in self.starts[code]

    def path_of(self, code):
        f = code.co_filename
        if f not in self.realpaths:
            self.realpaths[f] = os.path.realpath(f) if os.path.exists(f) else f
        return self.realpaths[f]

    def global_trace(self, frame, event, arg):
        # 'call' (also a generator resuming): trace only frames of probed
        # files; a resume is not an event that completes anything (rule 3).
        if self.path_of(frame.f_code) in self.paths:
            return self.local_trace
        return None

    def local_trace(self, frame, event, arg):
        if event == "line":
            start = self.starts_statement(frame)
            pl = self.pending.get(frame)
            # A line reported again inside its own statement is not "its
            # next line": what is pending there (from that very line) waits.
            if start or not pl or pl[0].probe.line != frame.f_lineno:
                self.complete(frame, raised=False)
            probes = self.sites.get((self.path_of(frame.f_code), frame.f_lineno))
            # Lambdas and generator expressions on the line report it too;
            # only the code object owning the statement triggers.
            if probes and frame.f_code.co_name == probes[0].owner and start:
                self.trigger(frame, probes)
        elif event == "exception":
            # Rule 4. (The StopIteration a `for` loop consumes, which 3.12
            # reports here for iterators written in Python, finds nothing
            # pending: the header's line event came first.)
            self.complete(frame, raised=True)
        elif event == "return":
            op = frame.f_code.co_code[frame.f_lasti]
            if frame.f_code.co_flags & SUSPENDABLE and op not in FINAL_RETURN:
                # A yield (3.13 reports the RESUME after YIELD_VALUE): rule 3.
                self.complete(frame, raised=False, keep_line=frame.f_lineno)
            else:
                self.complete(frame, raised=False)
        return self.local_trace

    def finish(self):
        """End of run: what is still pending is `incomplete` (rule 9) -
        except a capture waiting in a generator that was closed: Python 3.13
        closes a generator suspended outside any handler without running it,
        so no GeneratorExit event ever reaches a tracer; `frame.clear()`
        succeeds only on a frame that is no longer suspended. Nothing ran in
        the frame since it suspended, so the value read then is the value at
        the close (rule 3: completed `raised`)."""
        for frame, pl in list(self.pending.items()):
            closed = False
            if any(e.waiting for e in pl):
                try:
                    frame.clear()
                    closed = True
                except RuntimeError:
                    pass
            for e in pl:
                if closed and e.waiting:
                    status, shown = e.at_suspend
                    shown = "-" if status == "unbound" else shown
                    self.records[e.seq] = (e.probe.index, e.order, "raised", shown)
                else:
                    self.records[e.seq] = (e.probe.index, e.order, "incomplete", "-")
        self.pending.clear()


def run_script(argv, trace):
    """Runs argv[0] as __main__ (as `python SCRIPT ARGS` would) under trace;
    returns the exit status."""
    script = argv[0]
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    with open(script, "rb") as fh:
        code = compile(fh.read(), script, "exec")
    # A fresh __main__: this module's own globals must stay intact.
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __builtins__=__builtins__)
    sys.modules["__main__"] = main
    status = 0
    sys.settrace(trace)
    try:
        exec(code, main.__dict__)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.settrace(None)
    return status


def parse_args(argv):
    opts = {"out": None, "probes": [], "mvb": 4096, "mab": 1 << 20, "hits": False, "files": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return opts, argv[i + 1 :]
        if a in ("--out", "-p", "--max-value-bytes", "--max-array-bytes"):
            val = argv[i + 1]
            i += 1
            if a == "--out":
                opts["out"] = val
            elif a == "-p":
                opts["probes"].append(val)
            elif a == "--max-value-bytes":
                opts["mvb"] = int(val)
            else:
                opts["mab"] = int(val)
        elif a == "--hits":
            opts["hits"] = True
        else:
            opts["files"].append(a)
        i += 1
    return opts, []


def cmd_run(opts, script):
    sources = {}
    probes = [Probe(i, s, sources) for i, s in enumerate(opts["probes"])]
    tracer = Tracer(probes, Renderer(opts["mvb"], opts["mab"]))
    status = run_script(script, tracer.global_trace)
    tracer.finish()
    import json  # only now: the program may import it, under the tracer

    with open(opts["out"], "w") as fh:
        for seq in sorted(tracer.records):
            fh.write(json.dumps([seq, *tracer.records[seq]]) + "\n")
    return status


def cmd_eligible(opts, script):
    import json
    sources = {os.path.realpath(f): Source(os.path.realpath(f)) for f in opts["files"]}
    hits = {}
    if opts["hits"]:
        owners = {(path, line): src.owner_name(line) for path, src in sources.items() for line in src.eligible}

        early = set()

        def local(frame, event, arg):
            if event == "line":
                key = (os.path.realpath(frame.f_code.co_filename), frame.f_lineno)
                if owners.get(key) == frame.f_code.co_name:
                    if started:
                        hits[key] = hits.get(key, 0) + 1
                    else:
                        early.add(key)
            return local

        # Lines that run before the script's main() (at import time) are
        # left out: which modules are imported before the program starts
        # differs between tracers (the agent's own imports).
        script_path = os.path.realpath(script[0])
        started = []

        def glob(frame, event, arg):
            code = frame.f_code
            if not started and code.co_name == "main" and os.path.realpath(code.co_filename) == script_path:
                started.append(True)
            if os.path.realpath(code.co_filename) in sources:
                return local
            return None

        run_script(script, glob)
    with open(opts["out"], "w") as fh:
        for path, src in sources.items():
            for line in sorted(src.eligible):
                if opts["hits"] and ((path, line) not in hits or (path, line) in early):
                    continue
                for name, (st, ld) in src.names(line).items():
                    scope = src.owner[src.eligible[line]]
                    kind = "module" if isinstance(scope, ast.Module) else "class" if isinstance(scope, ast.ClassDef) else "function"
                    row = {"file": path, "line": line, "name": name, "store": bool(st), "load": bool(ld), "scope": kind}
                    if opts["hits"]:
                        row["hits"] = hits[(path, line)]
                    fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    opts, script = parse_args(sys.argv[2:])
    sys.exit({"run": cmd_run, "eligible": cmd_eligible}[cmd](opts, script))
