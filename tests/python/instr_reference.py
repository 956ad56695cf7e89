"""Instruction-level reference for probe's capture semantics (SPEC §2, §3).

Independent of the product: written from SPEC §2 first principles, sharing no
code with the capture engine (nothing under src/ was read to write it). It is
slow on purpose and tries to be obviously right: every executed instruction
of a probed file is mapped to the statement it belongs to, using `ast` for
statements, names and roles and `co_positions()` + the opcode for the
instruction, and the rules below are applied to that stream.

Usage
-----
  instr_reference.py run [--mode settrace|monitoring] --out OUT.jsonl
        [--probes FILE] [-p SPEC]... [--max-value-bytes N] [--max-array-bytes N]
        -- SCRIPT ARGS...
      Runs SCRIPT as `python SCRIPT ARGS` would (argv, sys.path[0],
      __name__ == "__main__", exit status) and writes one JSON object per
      record in seq order (fields as docs/JSONL.md, plus `probe_index`, the
      index of the spec in the list). Exits with the program's exit status.
      --mode settrace: sys.settrace with f_trace_opcodes on every frame of a
      probed file; --mode monitoring (3.12+): sys.monitoring INSTRUCTION
      events. Both feed the same state machine and must agree.
  instr_reference.py dump FILE [--code NAME]
      Prints, for every code object compiled from FILE, every instruction
      with the unit (statement, part), comprehension chain and role this
      reference gives it: what the reference "thinks" each instruction is.
  instr_reference.py sites --probes FILE
      Prints the sites (trigger points) every probe resolves to.
  instr_reference.py names FILE
      Every probeable (line, name) of FILE with whether the line binds and
      reads it, as this reference finds them (JSON lines).

Model (the rules this file implements)
--------------------------------------
Units. Every instruction of a code object belongs to a *unit*, a (node,
part) pair: a statement and which part of it the instruction evaluates.
Simple statements, `def`/`class` statements (decorators, defaults,
annotations, bases, the binding) and lambda bodies have one part. Compound
statements have several: `if`/`while` -> test; `for` -> iter (evaluated
once per loop start) and target (bound once per iteration); `with` -> items
(context expressions and `as` targets, evaluated once); `match` -> subject;
`except E as n:` -> test (E, evaluated each time the clause is tried) and
bind (n); `case P if G:` -> test (P's non-capturing parts, each attempt),
bind (P's captures, on a successful match) and guard (G). Compiler-generated
code of a compound statement (a `for` loop's FOR_ITER/END_FOR, a `with`
block's `__exit__` call, the `except … as n` clean-up `n = None; del n`,
`RERAISE`, an implicit `return None`, a return value that leaves through a
`finally`/`with` exit) is *glue*: it belongs to no statement execution.
Jumps, RESUME, POP_EXCEPT, NOP-less prologue instructions and instructions
without a position are *neutral*: invisible to the model.

Triggers (SPEC §2 "a start of an execution of that statement"). A unit with
a trigger part starts an execution when the frame executes one of its
instructions and the previous non-neutral instruction of the frame belonged
to another unit (the frame's first instruction included), or when a
backward jump lands on the first instruction of a run of the unit (`while
True: x = f()`). A return instruction never starts an execution. A `case`
test starts only when entered from outside that case. Binding parts (`for`
target, `except … as n`, `case` captures, comprehension targets) trigger
when the binding is complete: at the frame's next instruction after the
last store of the target, so an RHS probe on a target reads the value just
bound and a `for` target's batch precedes the loop body's first batch
(SPEC §2 rules 5 and 7). An unpacking that raises binds nothing: no batch.

Batches (rule 6). One trigger = one batch: the probes whose NAME occurrence
(chosen by role: LHS -> binding occurrences, RHS -> reading occurrences,
either when the role has none) lies in that unit and is owned by that
frame; RHS probes first, then LHS, each group in source order (line, then
column, of the occurrence), ties in spec order. A probe whose NAME occurs in
several units of its line (`a = x; b = x`) triggers in each.

Ownership (SPEC §2 definitions, rule 5 comprehensions). A name a
comprehension or generator expression binds belongs to that comprehension:
it triggers at its clause's binding, once per iteration, with the
comprehension as its frame. A lambda's parameters (and names it binds with
`:=`) belong to the lambda: they trigger when its body starts, once per
call. Every other name belongs to the enclosing statement in the enclosing
frame - also when it is read inside a comprehension, a generator expression
or a lambda: once per execution of that statement (rule 5). Walrus targets
inside a comprehension bind in the enclosing scope, so they belong there.

Completion (rule 2, "the next event of the same frame"). A pending LHS of
a statement execution completes `ok` at the first non-neutral instruction of
the frame that is not part of that execution (another unit, glue, or a new
execution of the same unit), at the frame's return, or `raised` at an
exception event in the frame (rule 4). Consequently a statement's LHS
completes before the glue that follows it runs: before a `for` loop asks
its iterator for the next value, before a `with` block's `__exit__`, before
the `except … as n` clean-up deletes `n`. Binding parts complete at once
(the next instruction is another unit). Inside a comprehension or generator
expression - one statement with the comprehension as its frame, on 3.11 and
on 3.12+ where list/set/dict comprehensions are inlined alike - the target's
LHS completes when the comprehension asks for its next element (its
FOR_ITER), when it finishes, or `raised` on an exception in it.

Suspension (rule 3). A yield/await suspends in the middle of a statement:
all pending LHS captures of the frame belong to that statement (earlier
ones completed at its start), so all of them wait, and complete at the first
boundary after the frame resumes - in a generator expression that is its
next FOR_ITER. A frame closed while suspended (GeneratorExit, or any
exception thrown in at the suspension point) completes them `raised` with
the value they had when the frame suspended (nothing ran in the frame since;
CPython 3.13 closes a generator suspended outside any `try` block without
running it at all, so no event ever reaches a tracer: the reference finds
such frames closed at the end of the run). A frame still suspended at the
end of the run leaves them `incomplete`.

Exceptions (rule 4). An exception event in a frame - raised there, raised
by a callee and passing through, or thrown into it at a suspension point -
completes every pending LHS of the frame (and of its active comprehensions)
`raised`, with the value read then when the name is bound. The
StopIteration the interpreter consumes itself is not one: the one ending a
`for` loop or comprehension (at FOR_ITER / END_FOR), a `yield from` or
`await` (at SEND / END_SEND / CLEANUP_THROW), and the StopAsyncIteration
ending an `async for` (handled by END_ASYNC_FOR). A StopIteration that
reaches the frame through a call (`v = next(it)`, `v = it.__next__()`, a
function raising it) is an exception like any other. SystemExit is one too.

Decisions where SPEC §2 is silent (the product must implement the same):
 D1  LHS completion is statement-level: compiler glue between two
     statements completes the first one's LHS (see Completion).
 D2  `except E as n:`: E triggers each time the clause is tried; `n` is a
     binding like a `for` target (once per caught exception, RHS reads the
     bound exception); the clean-up that deletes `n` is glue.
 D3  `case P if G:`: non-capture names of P trigger per attempt; captures
     once per successful match, after all are bound; G's names when G is
     evaluated (guard names that P captures are captures).
 D4  Decorator lines belong to the decorated `def`/`class` statement: they
     trigger when its first decorator starts being evaluated; the name it
     binds completes after the decorated object is stored.
 D5  Comprehension/genexpr targets are LHS captures deferred like any
     other, with the comprehension as frame (see Completion, Suspension).
 D6  Names read in a lambda body that the lambda does not bind, and a
     lambda's default values, belong to the enclosing statement.
 D7  A GeneratorExit (or other exception) thrown into a suspended frame
     completes waiting LHS captures `raised` with their value at the
     suspension, identically on 3.11-3.13.
 D8  The values that record `raised`: the value if the name is bound, else
     absent; an `error` reading (repr raised) under `raised` keeps the
     error's type and message.
 D9  A probe on a name of a multi-line statement uses (line, column) order
     in its batch.
 D10 str, bytes and repr text are cut at --max-value-bytes UTF-8 bytes (at a
     character boundary), as the option's name says.
 D11 In a comprehension with several `for` clauses, a name triggers once per
     binding of the clause that binds it, wherever it is read (in an inner
     clause, a condition or the element).
 D12 Parameter and return annotations are names read on the `def` line (the
     def statement reads them when it starts), also under `from __future__
     import annotations`, where the probe still reads the name's value.
 D13 PEP 695 (3.12+): the type parameters of `def f[T]`, `class C[T]` and
     `type A[T] = …` are no probe's names in the annotation scope that
     declares them (the header: bounds, constraints, defaults, the def's
     annotations, the class's bases, the alias's value); the other names
     read there belong to the statement, in the enclosing frame, like a
     lambda body's (D6). In the def's or class's body, which reads them as
     free variables, they are names like any other.
 D14 A class body's free variable (a name it reads but does not bind, bound
     in an enclosing function or a type parameter) is read as Python reads
     it there: the class namespace, then the enclosing binding - never
     globals. A name a comprehension or lambda of a class body reads (and
     does not bind) is read, in the class frame when the statement starts,
     as that scope resolves it: the class's names are invisible there, so
     a function's variable around the class (its cell) or a global.

Reading values. Names resolve as Python resolves them where they occur
(locals, cells and free variables never fall back to globals; module and
class bodies look in their namespace, then globals, then builtins). On
3.11 and 3.12 locals are read from the frame's memory, never through
`frame.f_locals` (see LocalReader: that would change the program).
"""

import sys

# Modules this file imports are removed from sys.modules again before the
# program runs (see run_script): the program must import, and execute the
# module-level code of, exactly the modules it would import without us.
_MODULES_BEFORE = set(sys.modules)

import _thread  # noqa: E402
import ast  # noqa: E402
import dis  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

PY = sys.version_info[:2]
INLINED_COMPS = PY >= (3, 12)

COMP_TYPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
SCOPE_TYPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda) + COMP_TYPES
STMTISH = (ast.stmt, ast.ExceptHandler, ast.match_case)

OPS = dis.opname
JUMP_OPS = {i for i, n in enumerate(OPS) if "JUMP" in n and not n.startswith("<")}
NEUTRAL_NAMES = {"RESUME", "EXTENDED_ARG", "CACHE", "POP_EXCEPT", "PUSH_EXC_INFO", "RETURN_GENERATOR",
                 "MAKE_CELL", "COPY_FREE_VARS", "GEN_START", "NOT_TAKEN"}
NEUTRAL_OPS = {dis.opmap[n] for n in NEUTRAL_NAMES if n in dis.opmap} | JUMP_OPS
RETURN_OPS = {dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap}
STORE_NAMES = ("STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL", "STORE_FAST_STORE_FAST",
               "STORE_FAST_LOAD_FAST", "STORE_ATTR", "STORE_SUBSCR")
STORE_OPS = {dis.opmap[n] for n in STORE_NAMES if n in dis.opmap}
YIELD_OP = dis.opmap["YIELD_VALUE"]
FOR_ITER = dis.opmap["FOR_ITER"]
END_FOR = dis.opmap.get("END_FOR", -1)
# LOAD_COMMON_CONSTANT's table (3.14+).
_COMMON_CONSTANTS = getattr(dis, "_common_constants", ())
POP_TOP = dis.opmap["POP_TOP"]
# 3.14 pops a loop's iterator with POP_ITER where 3.12/3.13 used POP_TOP.
POP_ITER = dis.opmap.get("POP_ITER", -1)
GET_ANEXT = dis.opmap["GET_ANEXT"]
END_ASYNC_FOR = dis.opmap["END_ASYNC_FOR"]
RESUME = dis.opmap["RESUME"]
YIELD_VALUE = dis.opmap["YIELD_VALUE"]
CLEANUP_THROW = dis.opmap.get("CLEANUP_THROW", -1)  # 3.12+
LOAD_CONST = dis.opmap["LOAD_CONST"]
CONSUMES_STOPITERATION = {dis.opmap[n] for n in ("FOR_ITER", "SEND", "END_SEND", "END_FOR", "CLEANUP_THROW")
                          if n in dis.opmap}
TRIGGER_PARTS = {"main", "test", "iter", "items", "subject", "htest", "ctest", "guard", "lambda"}


# ---------------------------------------------------------------------------
# Source model: AST, spans, ownership, sites.
# ---------------------------------------------------------------------------

def dotted(node):
    """`a.b.c` for a Name / chain of Attributes on a Name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else base + "." + node.attr
    return None


def target_names(node):
    """Names bound by an assignment target (Name/Tuple/List/Starred)."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
    return out


def type_param_names(node):
    """The names of a generic def's, class's or type alias's PEP 695 type
    parameters (an annotation scope between it and its enclosing scope)."""
    return {tp.name for tp in getattr(node, "type_params", None) or ()}


def type_param_roots(tree):
    """{expression node: names}: the expressions evaluated in a PEP 695
    annotation scope (bounds, constraints, defaults; a generic def's
    annotations, a generic class's bases and keywords, a type alias's
    value), with the type parameters they see. D13: those names are no
    probe's there; every other name in them belongs to the statement."""
    roots = {}
    for n in ast.walk(tree):
        names = type_param_names(n)
        if not names:
            continue
        exprs = [e for tp in n.type_params for e in (getattr(tp, "bound", None), getattr(tp, "default_value", None))]
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args
            exprs += [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]
                      if x is not None] + [n.returns]
        elif isinstance(n, ast.ClassDef):
            exprs += n.bases + [k.value for k in n.keywords]
        else:
            exprs.append(n.value)
        for e in exprs:
            if e is not None:
                roots[e] = names
    return roots


class Occ:
    """One occurrence of a probe's NAME on its line."""
    __slots__ = ("node", "pos", "store", "load", "site")

    def __init__(self, node, pos, store, load, site):
        self.node, self.pos, self.store, self.load, self.site = node, pos, store, load, site


class FileModel:
    """One parsed source file."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as fh:
            self.raw = fh.read()
        self.lines = self.raw.split(b"\n")
        self.tree = ast.parse(self.raw, path)
        self.parent = {}
        self.depth = {}
        self.by_line = {}  # line -> nodes whose span covers it
        self.span = {}
        order = [(self.tree, None, 0)]
        while order:
            node, parent, depth = order.pop()
            self.parent[node] = parent
            self.depth[node] = depth
            for child in ast.iter_child_nodes(node):
                order.append((child, node, depth + 1))
        for node in self.parent:
            sp = self._span(node)
            if sp is not None:
                self.span[node] = sp
                for line in range(sp[0], sp[2] + 1):
                    self.by_line.setdefault(line, []).append(node)
        self.tp_roots = type_param_roots(self.tree)
        # Names of the code objects 3.12+ compiles a type parameter's bound
        # (or constraints, default) and a type alias's value into.
        self.tp_code_names = {nm for n in ast.walk(self.tree) for nm in type_param_names(n)} | {
            n.name.id for n in ast.walk(self.tree) if type(n).__name__ == "TypeAlias"}
        self._locate_cache = {}
        self._bound = {}
        self._scope_decls = {}
        self.codes = {}

    def _span(self, node):
        """(line, col, end_line, end_col) of a node; comprehension clauses and
        match cases have none in the AST: their children's union."""
        if isinstance(node, (ast.comprehension, ast.match_case)):
            spans = [self._span(c) for c in ast.iter_child_nodes(node)]
            spans = [s for s in spans if s is not None]
            if not spans:
                return None
            start = min((s[0], s[1]) for s in spans)
            end = max((s[2], s[3]) for s in spans)
            return (start[0], start[1], end[0], end[1])
        if getattr(node, "lineno", None) is None or getattr(node, "end_lineno", None) is None:
            return None
        return (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)

    # -- locating instructions ----------------------------------------------

    def locate(self, pos):
        """The innermost node whose span contains an instruction's position
        (lineno, end_lineno, col, end_col), or None."""
        key = pos
        if key in self._locate_cache:
            return self._locate_cache[key]
        l1, l2, c1, c2 = pos
        best = None
        if l1 is not None:
            if c1 is None or c2 is None:
                c1, c2 = 0, 1 << 30  # line-only position: the innermost node covering the lines
                whole = True
            else:
                whole = False
            for node in self.by_line.get(l1, ()):
                s = self.span[node]
                if (s[0], s[1]) <= (l1, c1) and (s[2], s[3]) >= (l2, c2) or (
                        whole and s[0] <= l1 and s[2] >= l2 and isinstance(node, STMTISH)):
                    if best is None or self.depth[node] > self.depth[best]:
                        best = node
        self._locate_cache[key] = best
        return best

    _AS = re.compile(rb"(?:[ \t\f]|\\\r?\n)*as(?:[ \t\f]|\\\r?\n)+")

    def handler_name_pos(self, node):
        """(line, column) where NAME of `except T as NAME:` is written: after
        the `as` that follows T, which may be on a later line than the
        `except` (a parenthesised T over several lines, a backslash)."""
        if node.type is None:
            return node.lineno, node.col_offset
        start = sum(len(ln) + 1 for ln in self.lines[:node.type.end_lineno - 1]) + node.type.end_col_offset
        m = self._AS.match(self.raw, start)
        if m is None:
            return node.type.end_lineno, node.type.end_col_offset
        at = m.end()
        return self.raw.count(b"\n", 0, at) + 1, at - (self.raw.rfind(b"\n", 0, at) + 1)

    def type_param_here(self, node, name):
        """D13: `node` reads a type parameter inside the annotation scope
        that declares it."""
        base = name.split(".")[0]
        cur = node
        while cur is not None and not isinstance(cur, STMTISH):
            names = self.tp_roots.get(cur)
            if names is not None and base in names:
                return True
            cur = self.parent[cur]
        return False

    def ancestry(self, node):
        """[(ancestor, child, grandchild)] from node up to the module."""
        out = []
        child, grandchild = None, None
        while node is not None:
            out.append((node, child, grandchild))
            grandchild, child = child, node
            node = self.parent[node]
        return out

    # -- scopes and bindings -------------------------------------------------

    def comp_bound(self, comp):
        if comp not in self._bound:
            names = set()
            for gen in comp.generators:
                names |= target_names(gen.target)
            self._bound[comp] = names
        return self._bound[comp]

    def lambda_bound(self, lam):
        if lam not in self._bound:
            a = lam.args
            names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
            for x in (a.vararg, a.kwarg):
                if x is not None:
                    names.add(x.arg)
            # Walrus targets in the body bind in the lambda (also from inside
            # its comprehensions), not in nested lambdas.
            stack = [lam.body]
            while stack:
                n = stack.pop()
                if isinstance(n, ast.NamedExpr):
                    names.add(n.target.id)
                if isinstance(n, ast.Lambda):
                    continue
                stack.extend(ast.iter_child_nodes(n))
            self._bound[lam] = names
        return self._bound[lam]

    def scope_info(self, scope):
        """(bound names, declared global, declared nonlocal) of a def/class/
        module/lambda/comprehension scope, from the language's rules."""
        if scope in self._scope_decls:
            return self._scope_decls[scope]
        bound, glob, nonloc = set(), set(), set()
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = scope.args
            for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
                if x is not None:
                    bound.add(x.arg)
        if isinstance(scope, COMP_TYPES):
            bound |= self.comp_bound(scope)
            roots = [g for g in scope.generators] + [getattr(scope, f) for f in ("elt", "key", "value")
                                                     if getattr(scope, f, None) is not None]
        elif isinstance(scope, ast.Lambda):
            roots = [scope.body]
        else:
            roots = list(scope.body)

        def visit(n, in_comp):
            if isinstance(n, ast.Global):
                glob.update(n.names)
            elif isinstance(n, ast.Nonlocal):
                nonloc.update(n.names)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)) and not in_comp:
                bound.add(n.id)
            elif isinstance(n, ast.NamedExpr):
                bound.add(n.target.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(n.name)
                for d in n.decorator_list:
                    visit(d, in_comp)
                if not isinstance(n, ast.ClassDef):
                    for d in n.args.defaults + [d for d in n.args.kw_defaults if d is not None]:
                        visit(d, in_comp)
                else:
                    for b in n.bases + [k.value for k in n.keywords]:
                        visit(b, in_comp)
                return
            elif isinstance(n, ast.Lambda):
                for d in n.args.defaults + [d for d in n.args.kw_defaults if d is not None]:
                    visit(d, in_comp)
                return
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for al in n.names:
                    if al.name == "*":
                        continue
                    if al.asname:
                        bound.add(al.asname)
                    elif isinstance(n, ast.Import):
                        bound.add(al.name.split(".")[0])
                    else:
                        bound.add(al.name)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                bound.add(n.name)
            elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
                bound.add(n.name)
            elif isinstance(n, ast.MatchMapping) and n.rest:
                bound.add(n.rest)
            if isinstance(n, COMP_TYPES) and n is not scope:
                # Only the first iterable is evaluated here; walrus targets
                # inside bind here too.
                visit(n.generators[0].iter, in_comp)
                for sub in ast.walk(n):
                    if isinstance(sub, ast.NamedExpr):
                        bound.add(sub.target.id)
                return
            for c in ast.iter_child_nodes(n):
                visit(c, in_comp)

        for r in roots:
            if isinstance(r, ast.comprehension):
                visit(r.target, True)
                for x in r.ifs:
                    visit(x, False)
                if r is not scope.generators[0]:
                    visit(r.iter, False)
            else:
                visit(r, False)
        res = (bound, glob, nonloc)
        self._scope_decls[scope] = res
        return res

    def scope_of(self, node):
        """The innermost scope (node) in which `node` is evaluated."""
        prev2, prev = None, None
        cur = node
        while cur is not None:
            if isinstance(cur, COMP_TYPES) and prev is not None:
                first = cur.generators[0]
                if not (prev is first and prev2 is first.iter):
                    return cur
            elif isinstance(cur, ast.Lambda) and prev is cur.body:
                return cur
            elif isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and prev is not None \
                    and prev in cur.body:
                return cur
            elif isinstance(cur, ast.Module):
                return cur
            prev2, prev = prev, cur
            cur = self.parent[cur]
        return self.tree

    def resolve(self, name, scope):
        """How Python resolves `name` read in `scope`: 'global' (globals,
        then builtins), 'local' (the frame's locals, cells and free
        variables, no fallback), 'class' (the class namespace, then
        globals, then builtins) or 'classfree' (a class body's free
        variable: the namespace, then the enclosing binding)."""
        if isinstance(scope, ast.Module):
            return "global"
        bound, glob, nonloc = self.scope_info(scope)
        if name in glob:
            return "global"
        if name in nonloc and not isinstance(scope, ast.ClassDef):
            return "local"
        if isinstance(scope, ast.ClassDef):
            if name in nonloc:
                return "classfree"  # LOAD_CLASSDEREF: the namespace, then the cell
            if name in bound:
                return "class"
            # D14: a name the class body reads but does not bind, bound in
            # an enclosing function (or a type parameter of this class or
            # of an enclosing generic def/class): its namespace, then that
            # binding's cell - never globals.
            return "classfree" if self.resolve_outer(name, scope) == "local" else "class"
        if name in bound:
            return "local"
        how = self.resolve_outer(name, scope)
        if how == "local" and isinstance(scope, COMP_TYPES + (ast.Lambda,)) \
                and isinstance(self.frame_scope(scope), ast.ClassDef) \
                and not self.nested_binds(scope, name):
            # D14: read in the class frame (the statement owns the name), as
            # the comprehension or lambda sees it: the function's cell, not
            # the class namespace.
            return "classcell"
        return how

    def nested_binds(self, scope, name):
        """Whether a comprehension or lambda enclosing comprehension or
        lambda `scope` (inside the same def/class) binds `name`."""
        cur = self.scope_of(scope)
        while isinstance(cur, COMP_TYPES + (ast.Lambda,)):
            if name in self.scope_info(cur)[0]:
                return True
            cur = self.scope_of(cur)
        return False

    def frame_scope(self, scope):
        """The def/class/module scope around comprehension or lambda `scope`
        (where the names it reads but does not bind are read)."""
        while isinstance(scope, COMP_TYPES + (ast.Lambda,)):
            scope = self.scope_of(scope)
        return scope

    def resolve_outer(self, name, scope):
        """'local' when a function scope enclosing `scope` (or the type
        parameters of `scope` or of a def/class enclosing it, PEP 695) binds
        `name`, else 'global'."""
        if name in type_param_names(scope):
            return "local"
        cur = self.parent[scope]
        while cur is not None:
            if name == "__class__" and isinstance(cur, ast.ClassDef):
                return "local"  # the class's implicit cell (super(), __class__)
            if isinstance(cur, SCOPE_TYPES) and not isinstance(cur, (ast.ClassDef, ast.Module)):
                b, g, _ = self.scope_info(cur)
                if name in g:
                    return "global"
                if name in b:
                    return "local"
            if name in type_param_names(cur):
                return "local"
            if isinstance(cur, ast.Module):
                break
            cur = self.parent[cur]
        return "global"

    # -- statement parts ------------------------------------------------------

    @staticmethod
    def part_of(stmt, child, grandchild):
        """Which part of a statement-like node its child `child` is in."""
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            if child is stmt.target:
                return "bind"
            if child is stmt.iter:
                return "iter"
            return "glue"
        if isinstance(stmt, (ast.While, ast.If)):
            return "test" if child is stmt.test else "glue"
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            return "items" if isinstance(child, ast.withitem) else "glue"
        if isinstance(stmt, ast.Match):
            return "subject" if child is stmt.subject else "glue"
        if isinstance(stmt, (ast.Try,) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())):
            return "glue"
        if isinstance(stmt, ast.ExceptHandler):
            return "htest" if child is stmt.type else "hself"
        if isinstance(stmt, ast.match_case):
            if child is stmt.guard:
                return "guard"
            return "pattern"
        return "main"

    # -- probe occurrences ---------------------------------------------------

    def occurrences(self, line, name):
        """Every occurrence of NAME on LINE with its site."""
        out = []
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else b""
        for node in self.by_line.get(line, ()):
            if getattr(node, "lineno", None) != line and not (
                    isinstance(node, ast.Attribute) and node.end_lineno == line):
                continue
            if isinstance(node, (ast.Name, ast.Attribute)):
                if dotted(node) != name or self.type_param_here(node, name):
                    continue
                store = isinstance(node.ctx, (ast.Store, ast.Del))
                load = not store
                par = self.parent[node]
                if isinstance(par, ast.AugAssign) and par.target is node:
                    store = load = True
                # A chain over several lines occurs on its first and its
                # last line; it is ordered in its batch by its last.
                out.append(Occ(node, (node.end_lineno, node.col_offset), store, load, self.site_of(node, name)))
            elif isinstance(node, ast.alias):
                if node.name == "*":
                    continue
                imp = self.parent[node]
                bound = node.asname or (node.name.split(".")[0] if isinstance(imp, ast.Import) else node.name)
                if bound == name:
                    out.append(Occ(node, (line, node.col_offset), True, False, (imp, "main")))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == name:
                    col = text.find(b" " + name.encode(), node.col_offset) + 1
                    out.append(Occ(node, (line, col), True, False, (node, "main")))
            elif isinstance(node, ast.ExceptHandler):
                pass  # handled below: the name sits on the line where `as n` is
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)):
                if node.name == name:
                    col = node.end_col_offset - len(name.encode())
                    out.append(Occ(node, (line, col), True, False, (self.case_of(node), "bind")))
            elif isinstance(node, ast.MatchMapping):
                if node.rest == name:
                    seg = text[node.col_offset:node.end_col_offset]
                    col = node.col_offset + max(seg.rfind(b"**"), 0)
                    out.append(Occ(node, (line, col), True, False, (self.case_of(node), "bind")))
        # `except … as NAME`: the name is on the line of the `as`.
        for node in self.by_line.get(line, ()):
            if isinstance(node, ast.ExceptHandler) and node.name == name:
                hl, col = self.handler_name_pos(node)
                if hl == line:
                    out.append(Occ(node, (line, col), True, False, (node, "bind")))
        return out

    def all_names(self):
        """{(line, name): [bound, read]} of every probeable name (SPEC §1):
        names and literal attribute chains, import bindings, def/class
        names, `except … as` names, match captures - as this file finds
        them, independently of `probe probes`."""
        out = {}

        def add(line, name, store, load):
            e = out.setdefault((line, name), [False, False])
            e[0] |= store
            e[1] |= load
        for node in self.parent:
            if isinstance(node, (ast.Name, ast.Attribute)):
                name = dotted(node)
                if name is None or self.type_param_here(node, name):
                    continue
                store = isinstance(node.ctx, (ast.Store, ast.Del))
                par = self.parent[node]
                aug = isinstance(par, ast.AugAssign) and par.target is node
                add(node.lineno, name, store or aug, not store or aug)
                if node.end_lineno != node.lineno and isinstance(node, ast.Attribute):
                    add(node.end_lineno, name, store or aug, not store or aug)
            elif isinstance(node, ast.alias) and node.name != "*":
                imp = self.parent[node]
                add(node.lineno, node.asname or (node.name.split(".")[0] if isinstance(imp, ast.Import)
                                                 else node.name), True, False)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                add(node.lineno, node.name, True, False)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                add(self.handler_name_pos(node)[0], node.name, True, False)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                add(node.lineno, node.name, True, False)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                add(node.lineno, node.rest, True, False)
        return out

    def case_of(self, node):
        cur = node
        while not isinstance(cur, ast.match_case):
            cur = self.parent[cur]
        return cur

    def site_of(self, node, name):
        """The site (unit node, part) where an occurrence of `name` triggers:
        its owner (comprehension / lambda binding it, else the enclosing
        statement in the enclosing frame) and the part of it."""
        base = name.split(".")[0]
        for anc, child, grandchild in self.ancestry(node):
            if child is None:
                continue
            if isinstance(anc, COMP_TYPES):
                first = anc.generators[0]
                if child is first and grandchild is first.iter:
                    continue  # the first iterable is evaluated in the enclosing scope
                if base in self.comp_bound(anc):
                    if isinstance(child, ast.comprehension) and grandchild is child.target:
                        return (child, "bind")
                    binding = [g for g in anc.generators if base in target_names(g.target)]
                    return (binding[-1], "bind")
            elif isinstance(anc, ast.Lambda):
                if child is anc.body and base in self.lambda_bound(anc):
                    return (anc, "lambda")
            elif isinstance(anc, STMTISH):
                part = self.part_of(anc, child, grandchild)
                if part == "pattern":
                    return (anc, "ctest")
                if part == "hself":
                    return (anc, "bind")
                return (anc, part)
        raise ValueError("no statement for node")

    # -- code objects ----------------------------------------------------------

    def scope_node_for(self, code):
        """The AST scope node a code object was compiled from."""
        name = code.co_name
        first = code.co_firstlineno
        if name == "<module>":
            return self.tree
        kinds = {"<lambda>": (ast.Lambda,), "<genexpr>": (ast.GeneratorExp,), "<listcomp>": (ast.ListComp,),
                 "<setcomp>": (ast.SetComp,), "<dictcomp>": (ast.DictComp,)}
        cands = []
        for node in self.parent:
            if name in kinds:
                if isinstance(node, kinds[name]) and node.lineno == first:
                    cands.append(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if start == first:
                    cands.append(node)
        if len(cands) == 1:
            return cands[0]
        # Several candidates (two lambdas on one line): the smallest one
        # containing every positioned instruction.
        poss = [p for p in code.co_positions() if p[0] is not None and p[2] is not None]

        def contains(node):
            s = self.span[node]
            return all((s[0], s[1]) <= (p[0], p[2]) and (s[2], s[3]) >= (p[1], p[3]) for p in poss
                       if (p[0], p[2]) != (first, 0))
        good = [c for c in cands if contains(c)]
        good.sort(key=lambda n: -self.depth[n])
        if good:
            return good[0]
        if cands:
            return cands[0]
        raise LookupError(f"no AST scope for code {code.co_qualname if hasattr(code, 'co_qualname') else name}")

    def code_model(self, code):
        cm = self.codes.get(code)
        if cm is None:
            cm = self.codes[code] = CodeModel(self, code)
        return cm


class Ins:
    """What the reference makes of one instruction."""
    __slots__ = ("offset", "op", "opname", "neutral", "jump", "unit", "part", "group", "trigger",
                 "run_start", "chain", "comp_role", "bind", "node")

    def __init__(self, offset, op):
        self.offset, self.op, self.opname = offset, op, OPS[op]
        self.neutral = False
        self.jump = op in JUMP_OPS
        self.unit = None  # (node, part) of the frame's own statements
        self.part = None
        self.group = None
        self.trigger = False
        self.run_start = False
        self.chain = ()  # active inlined comprehensions, outermost first
        self.comp_role = None  # "next", "bind", "body", "glue" for the innermost comprehension
        self.bind = None  # the binding site this instruction stores into
        self.node = None

    def describe(self, fm):
        def nd(n):
            if n is None:
                return "-"
            s = fm.span.get(n)
            return f"{type(n).__name__}@{s[0]}:{s[1]}" if s else type(n).__name__
        if self.neutral:
            return "neutral"
        u = f"{nd(self.unit[0])}/{self.unit[1]}" if self.unit else "-"
        ch = ",".join(nd(c) for c in self.chain)
        b = f" bind={nd(self.bind[0])}" if self.bind else ""
        return (f"unit={u}{' TRIG' if self.trigger else ''}{' run' if self.run_start else ''}"
                f"{' comps=' + ch if ch else ''}{' role=' + self.comp_role if self.comp_role else ''}{b}")


class CodeModel:
    """Every instruction of one code object, classified (see the module
    docstring: units, parts, glue, neutral instructions)."""

    def __init__(self, fm, code):
        self.fm = fm
        self.code = code
        self.root = fm.scope_node_for(code)
        self.own_comp = self.root if isinstance(self.root, COMP_TYPES) else None
        raw = code.co_code
        positions = list(code.co_positions())
        self.table = [None] * (len(raw) // 2)
        instrs = []
        seen_resume = False
        for off in range(0, len(raw), 2):
            op = raw[off]
            if OPS[op] == "CACHE":
                continue
            ins = Ins(off, op)
            pos = positions[off // 2]
            if not seen_resume:
                ins.neutral = True
                if OPS[op] == "RESUME":
                    seen_resume = True
            elif op in NEUTRAL_OPS or pos[0] is None:
                ins.neutral = True
            else:
                if (isinstance(self.root, ast.ClassDef) and pos[0] == pos[1] == code.co_firstlineno
                        and pos[2] == pos[3] == 0):
                    # A class body's prologue (__module__, __qualname__, …)
                    # is positioned at column 0 of the class line: in a
                    # nested class that column lies outside the ClassDef.
                    ins.node = self.root
                else:
                    ins.node = fm.locate(pos)
                if ins.node is None:
                    ins.neutral = True
                else:
                    self.classify(ins)
            self.table[off // 2] = ins
            instrs.append(ins)
        self.instrs = instrs
        self.overrides(instrs)
        # Runs of a unit (in offset order, neutral instructions ignored) and
        # the trigger flag.
        prev = None
        for ins in instrs:
            if ins.neutral:
                continue
            ins.run_start = prev is None or prev.unit != ins.unit
            ins.trigger = ins.part in TRIGGER_PARTS and ins.op not in RETURN_OPS
            ins.group = ins.unit[0] if ins.unit and isinstance(ins.unit[0], ast.match_case) else ins.unit
            prev = ins

    def classify(self, ins):
        """Unit, comprehension chain and role from the instruction's position."""
        fm = self.fm
        chain = []
        role = None
        bind = None
        unit = None
        for anc, child, grandchild in fm.ancestry(ins.node):
            if isinstance(anc, COMP_TYPES):
                own = anc is self.root
                inlined = own or (INLINED_COMPS and not isinstance(anc, ast.GeneratorExp))
                if inlined:
                    first = anc.generators[0]
                    outside = (not own and child is first and grandchild is first.iter)
                    if not outside:
                        chain.append(anc)
                        if role is None:
                            if child is None:
                                role = "glue"
                            elif isinstance(child, ast.comprehension):
                                if grandchild is child.target:
                                    role, bind = "bind", (child, "bind")
                                elif grandchild is child.iter and child is first:
                                    role = "glue"
                                else:
                                    role = "body"
                            else:
                                role = "body"
            if anc is self.root:
                if isinstance(anc, ast.Lambda):
                    unit = (anc, "lambda") if child is anc.body else (anc, "glue")
                elif unit is None and not isinstance(anc, COMP_TYPES):
                    unit = (anc, "glue")  # scope-root positioned: prologue/epilogue
                break
            if unit is None and isinstance(anc, STMTISH):
                part = fm.part_of(anc, child, grandchild)
                unit = (anc, part)
                if part == "bind":
                    bind = bind or (anc, "bind")
                # Statements are never inside comprehensions: only the
                # enclosing scope root is left above.
        chain.reverse()
        ins.chain = tuple(chain)
        ins.comp_role = role
        if self.own_comp is not None and unit is not None and unit[1] == "glue" and unit[0] is self.root:
            unit = None
        ins.unit = unit
        ins.part = unit[1] if unit else None
        ins.bind = bind if (role == "bind" or (unit and unit[1] == "bind")) else None

    def overrides(self, instrs):
        """Opcode-level corrections where positions alone mislead."""
        fm = self.fm
        by_off = {i.offset: i for i in instrs}
        live = [i for i in instrs if not i.neutral]
        handler_names = {n.name for n in fm.parent if isinstance(n, ast.ExceptHandler) and n.name}

        try:
            handler_targets = {e.target for e in dis.Bytecode(self.code).exception_entries}
        except Exception:
            handler_targets = set()
        for k, ins in enumerate(live):
            op = ins.opname
            # The clean-up block `COPY; POP_EXCEPT; RERAISE` an exception
            # reaches from a handler: glue (3.11 positions it on the last
            # statement of a `finally`, which must not trigger again).
            if op == "COPY" and ins.offset in handler_targets:
                self.make_glue(ins)
                continue
            # Returns: part of an explicit `return` (never a trigger), else glue.
            if ins.op in RETURN_OPS:
                if ins.unit and not (isinstance(ins.unit[0], ast.Return) or ins.unit[1] == "lambda"):
                    self.make_glue(ins)
                continue
            if op == "RERAISE":
                self.make_glue(ins)
                continue
            # 3.11: `LOAD_CONST None; RETURN_VALUE` of an implicit return.
            if ins.op == LOAD_CONST and k + 1 < len(live) and live[k + 1].op in RETURN_OPS \
                    and not isinstance(ins.node, ast.Constant) and ins.unit \
                    and not isinstance(ins.unit[0], ast.Return) and ins.unit[1] != "lambda" \
                    and self.code.co_consts[_arg(self.code, ins.offset)] is None:
                self.make_glue(ins)
                continue
            # 3.15: `LOAD_COMMON_CONSTANT None; RETURN_VALUE`, the same
            # implicit return (positioned at column 0 of the def's last
            # line: inside a class, the class statement's span).
            if op == "LOAD_COMMON_CONSTANT" and k + 1 < len(live) and live[k + 1].op in RETURN_OPS \
                    and not isinstance(ins.node, ast.Constant) and ins.unit \
                    and not isinstance(ins.unit[0], ast.Return) and ins.unit[1] != "lambda" \
                    and _COMMON_CONSTANTS[_arg(self.code, ins.offset)] is None:
                self.make_glue(ins)
                continue
            # `except … as n:` clean-up: LOAD_CONST None; STORE n; DELETE n.
            if ins.op == LOAD_CONST and k + 2 < len(live) and not isinstance(ins.node, ast.Constant):
                st, de = live[k + 1], live[k + 2]
                if st.opname.startswith("STORE_") and de.opname.startswith("DELETE_") and \
                        _argname(self.code, st) == _argname(self.code, de) and _argname(self.code, st) in handler_names:
                    for x in (ins, st, de):
                        self.make_glue(x)
                    continue
            # FOR_ITER belongs to the loop whose target its successor stores.
            if ins.op == FOR_ITER or ins.op == GET_ANEXT:
                store = next((x for x in live[k + 1:k + 12] if x.bind is not None), None)
                self.set_loop_glue(ins, store, "next")
                if ins.op == FOR_ITER:
                    tgt = by_off.get(_jump_target(self.code, ins))
                    if tgt is not None and tgt.op == END_FOR:
                        self.set_loop_glue(tgt, store, "glue")
                        j = live.index(tgt)
                        after = live[j + 1] if j + 1 < len(live) else None
                        if after is not None and after.op in (POP_TOP, POP_ITER) and after.node is tgt.node:
                            self.set_loop_glue(after, store, "glue")
                continue
            if ins.op == END_ASYNC_FOR:
                self.make_glue(ins)
                continue
            if ins.unit is None:
                continue
            node, part = ins.unit
            if part == "hself":
                if ins.opname in ("CHECK_EXC_MATCH", "CHECK_EG_MATCH"):
                    ins.unit, ins.part = (node, "htest"), "htest"
                elif ins.op in STORE_OPS and _argname(self.code, ins) == node.name:
                    ins.unit, ins.part = (node, "bind"), "bind"
                    ins.bind = (node, "bind")
                else:
                    self.make_glue(ins)
            elif part == "pattern":
                if ins.op in STORE_OPS:
                    ins.unit, ins.part = (node, "bind"), "bind"
                    ins.bind = (node, "bind")
                else:
                    ins.unit, ins.part = (node, "ctest"), "ctest"
        # `for`: iter-positioned instructions after the loop head are glue
        # (3.13 positions GET_ITER/FOR_ITER/END_FOR at the iterable);
        # `with`: items-positioned instructions after the body start are glue.
        heads, body_start = {}, {}
        for ins in live:
            if ins.unit is None:
                continue
            node, part = ins.unit
            if isinstance(node, (ast.For, ast.AsyncFor)) and ins.op in (FOR_ITER, GET_ANEXT) \
                    and node not in heads:
                heads[node] = ins.offset
        for ins in live:
            if ins.unit is None:
                continue
            for w in self.enclosing_withs(ins.unit[0]):
                if w not in body_start or ins.offset < body_start[w]:
                    body_start[w] = ins.offset
        for k, ins in enumerate(live):
            if ins.unit is None or ins.unit[1] not in ("iter", "glue", "items"):
                continue
            node, part = ins.unit
            if isinstance(node, (ast.For, ast.AsyncFor)) and part in ("iter", "glue") and ins.op not in RETURN_OPS \
                    and ins.opname != "RERAISE":
                head = heads.get(node)
                new = "iter" if (head is None or ins.offset < head or self.starts_copy(live, k, node)) \
                    and ins.op not in (FOR_ITER, GET_ANEXT) \
                    and ins.opname not in ("END_FOR", "END_ASYNC_FOR") else "glue"
                if new == "glue" and part == "iter" and ins.comp_role is None:
                    ins.unit, ins.part = (node, "glue"), "glue"
                elif new == "iter" and part == "glue":
                    ins.unit, ins.part = (node, "iter"), "iter"
            elif isinstance(node, (ast.With, ast.AsyncWith)) and ins.op not in RETURN_OPS \
                    and ins.opname != "RERAISE":
                start = body_start.get(node)
                new = "items" if start is None or ins.offset < start else "glue"
                ins.unit, ins.part = (node, new), new

    @staticmethod
    def starts_copy(live, k, node):
        """Whether live[k], an iterable-positioned instruction of `for` loop
        `node` after its first head, evaluates the iterable of another copy
        of the loop: a `finally` block is compiled twice (the exception
        path's copy has a head of its own), so its loop's iterable is read
        again there. True when the run of the loop's own instructions from
        live[k] reaches the loop's GET_ITER/GET_AITER before any head, end,
        return or instruction of another statement."""
        for x in live[k:]:
            if x.unit is None or x.unit[0] is not node:
                return False
            if x.opname in ("GET_ITER", "GET_AITER"):
                return True
            if x.chain:
                continue  # an inlined comprehension inside the iterable
            if x.op in (FOR_ITER, GET_ANEXT) or x.op in RETURN_OPS or x.opname in (
                    "END_FOR", "END_ASYNC_FOR", "RERAISE"):
                return False
        return False

    def enclosing_withs(self, node):
        """`with` statements whose body contains statement-like `node`."""
        out = []
        cur = node
        par = self.fm.parent.get(cur)
        while par is not None and par is not self.root:
            if isinstance(par, (ast.With, ast.AsyncWith)) and cur in par.body:
                out.append(par)
            cur, par = par, self.fm.parent.get(par)
        return out

    def make_glue(self, ins):
        """Compiler glue. Inside an inlined comprehension it is the
        comprehension's glue and stays part of the enclosing statement."""
        ins.bind = None
        if ins.chain:
            ins.comp_role = "glue"
            return
        if ins.unit is not None:
            ins.unit = (ins.unit[0], "glue")
            ins.part = "glue"

    def _inlined_call(self, node):
        """Whether node is the function of a call `f(genexpr)` (3.14+
        positions its inlined iteration there)."""
        anc = self.fm.parent.get(node)
        return (isinstance(anc, ast.Call) and node is anc.func and len(anc.args) == 1
                and not anc.keywords and isinstance(anc.args[0], ast.GeneratorExp))

    def set_loop_glue(self, ins, store, role):
        """FOR_ITER / GET_ANEXT (role "next") and END_FOR (role "glue") belong
        to the loop whose target `store` (the first binding instruction after
        the FOR_ITER) binds: a comprehension (its chain and enclosing
        statement) or a `for` statement (its glue)."""
        ins.bind = None
        if store is None and not ins.chain and self._inlined_call(ins.node):
            # 3.14+ inlines `any(genexpr)`, `all(…)`, `tuple(…)`: the calling
            # frame iterates the generator itself. That loop is the call's
            # evaluation, not a statement of the source: it stays in the
            # statement's own unit (one execution, whatever it iterates).
            return
        if store is None:
            if ins.unit is not None:
                ins.unit, ins.part = (ins.unit[0], "glue"), "glue"
            if ins.chain:
                ins.comp_role = role
            return
        node = store.bind[0]
        if isinstance(node, ast.comprehension):
            ins.chain = store.chain
            ins.comp_role = role
            ins.unit = store.unit
            ins.part = store.part if store.unit is None else store.unit[1]
            if store.unit is not None and store.unit[1] == "bind":
                ins.unit, ins.part = None, None
        else:
            ins.chain = store.chain
            ins.comp_role = None
            ins.unit, ins.part = (node, "glue"), "glue"



def _frozen_source(name):
    """The file a module python runs from its frozen copy (3.11+: os,
    posixpath, codecs, stat …, whose code says `<frozen NAME>`) was made
    from — when that file compiles to the very same code."""
    m = sys.modules.get(name)
    p = getattr(m, "__file__", None)
    if not isinstance(p, str) or not os.path.exists(p):
        return None
    try:
        with open(p, "rb") as fh:
            same = sys.modules["_imp"].get_frozen_object(name) == compile(
                fh.read(), p, "exec", dont_inherit=True, optimize=0)
    except Exception:
        return None
    return os.path.realpath(p) if same else None

def _arg(code, off):
    """The (extended) oparg of the instruction at `off`."""
    raw = code.co_code
    arg = raw[off + 1]
    shift = 8
    k = off - 2
    while k >= 0 and OPS[raw[k]] == "EXTENDED_ARG":
        arg |= raw[k + 1] << shift
        shift += 8
        k -= 2
    return arg


_INSTR_CACHE = {}


def _instr(code, off):
    cache = _INSTR_CACHE.get(code)
    if cache is None:
        cache = _INSTR_CACHE[code] = {i.offset: i for i in dis.get_instructions(code)}
    return cache.get(off)


def _argname(code, ins):
    """The name a STORE_/DELETE_ instruction stores into (first of a pair)."""
    i = _instr(code, ins.offset)
    if i is None:
        return None
    v = i.argval
    if isinstance(v, tuple):
        return v[0]
    return v


def _jump_target(code, ins):
    i = _instr(code, ins.offset)
    return None if i is None else i.argval


# ---------------------------------------------------------------------------
# Probes.
# ---------------------------------------------------------------------------

class Probe:
    def __init__(self, index, spec, models):
        self.index = index
        self.spec = spec
        text = spec
        role = None
        if "@" in text.rsplit(":", 1)[-1]:
            text, _, role = text.rpartition("@")
        file, line, self.name = text.rsplit(":", 2)
        self.line = int(line)
        self.path = os.path.realpath(file)
        if self.path not in models:
            models[self.path] = FileModel(self.path)
        fm = models[self.path]
        occs = fm.occurrences(self.line, self.name)
        if not occs:
            raise SystemExit(f"reference: {spec}: {self.name!r} does not occur on line {self.line}")
        if role is None:
            role = "lhs" if any(o.store for o in occs) else "rhs"
        self.role = role
        sel = [o for o in occs if (o.store if role == "lhs" else o.load)] or occs
        self.sites = {}
        for o in sel:
            if o.site not in self.sites or o.pos < self.sites[o.site]:
                self.sites[o.site] = o.pos
        self.fm = fm
        self.parts = self.name.split(".")
        # How NAME resolves where it occurs (by its first occurrence).
        self.resolution = {}
        for o in sel:
            scope = fm.scope_of(o.node)
            self.resolution.setdefault(o.site, fm.resolve(self.parts[0], scope))
        self.label = None


# ---------------------------------------------------------------------------
# Values (SPEC §3), rendered as docs/JSONL.md encodes them.
# ---------------------------------------------------------------------------

def jfloat(x):
    if x != x:
        return "nan"
    if x == float("inf"):
        return "inf"
    if x == float("-inf"):
        return "-inf"
    return x


def type_label(t):
    mod = getattr(t, "__module__", None)
    qn = getattr(t, "__qualname__", t.__name__)
    return qn if mod in ("builtins", None) else f"{mod}.{qn}"


class Renderer:
    def __init__(self, max_value_bytes, max_array_bytes):
        self.mvb = max_value_bytes
        self.mab = max_array_bytes

    def cut(self, text):
        """D10: at most max-value-bytes UTF-8 bytes, at a character boundary."""
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= self.mvb:
            return text, False
        return data[: self.mvb].decode("utf-8", "ignore"), True

    def render(self, v):
        """(kind, type_name, value, truncated) of a value, or raises."""
        t = type(v)
        if v is None:
            return ("none", None, None, None)
        if t is bool:
            return ("bool", None, v, None)
        if t is int:
            return ("int", None, v if -(1 << 63) <= v < (1 << 63) else str(v), None)
        if t is float:
            return ("float", None, jfloat(v), None)
        if t is complex:
            return ("complex", None, [jfloat(v.real), jfloat(v.imag)], None)
        if t is str:
            text, cut = self.cut(v)
            return ("str", None, text, cut)
        if t is bytes:
            return ("bytes", None, v[: self.mvb].hex(), len(v) > self.mvb)
        if t is list or t is tuple:
            arr = self.seq_array(v, t.__name__)
            if arr is not None:
                return arr
        np = sys.modules.get("numpy") if getattr(t, "__module__", "").startswith("numpy") else None
        if np is not None:
            r = self.numpy(v, t, np)
            if r is not None:
                return r
        for base, kind in ((int, "int"), (float, "float"), (complex, "complex"), (str, "str"), (bytes, "bytes")):
            if isinstance(v, base):
                k, _, val, tr = self.render(_base_value(v, base))
                return (k, t.__qualname__, val, tr)
        text, cut = self.cut(repr(v))
        return ("other", type_label(t), text, cut)

    def seq_array(self, v, type_name):
        """SPEC §3: a list/tuple of numbers is an array."""
        kinds = {type(e) for e in v}
        if not v:
            dtype, size = "float64", 8
        elif kinds == {bool}:
            dtype, size = "bool", 1
        elif not kinds <= {int, float, complex}:
            return None
        elif complex in kinds:
            dtype, size = "complex128", 16
        elif float in kinds:
            dtype, size = "float64", 8
        else:
            dtype, size = "int64", 8
        keep = self.mab // size
        data = []
        try:
            for e in v[:keep]:
                if dtype == "bool":
                    data.append(e)
                elif dtype == "int64":
                    if not -(1 << 63) <= e < (1 << 63):
                        return None
                    data.append(e)
                elif dtype == "float64":
                    data.append(jfloat(float(e)))
                else:
                    c = complex(e)
                    data.append([jfloat(c.real), jfloat(c.imag)])
            # Elements beyond the kept ones must still be representable.
            for e in v[keep:]:
                if dtype == "int64" and not -(1 << 63) <= e < (1 << 63):
                    return None
                if dtype == "float64":
                    float(e)
                if dtype == "complex128":
                    complex(e)
        except OverflowError:
            return None
        return ("array", type_name, {"dtype": dtype, "shape": [len(v)], "data": data}, len(v) > keep)

    def numpy(self, v, t, np):
        d = object.__getattribute__(np, "__dict__") if isinstance(np, type(sys)) else {}
        if not isinstance(d.get("ndarray"), type):
            return None  # NumPy importing itself: nothing of its is an array or scalar yet
        if t is np.ndarray:
            dt = v.dtype
            if dt.kind not in "biufc" or dt.itemsize > 16 or dt == np.longdouble or dt == np.clongdouble:
                return None
            keep = self.mab // dt.itemsize
            flat = v.reshape(-1)[:keep].tolist()
            if dt.kind == "f":
                flat = [jfloat(x) for x in flat]
            elif dt.kind == "c":
                flat = [[jfloat(x.real), jfloat(x.imag)] for x in flat]
            return ("array", "ndarray", {"dtype": dt.name, "shape": list(v.shape), "data": flat},
                    v.size > keep)
        if isinstance(v, np.generic) and not isinstance(v, (np.longdouble, np.clongdouble)):
            if isinstance(v, np.bool_):
                return ("bool", t.__name__, bool(v), None)
            if isinstance(v, np.integer):
                x = int(v)
                return ("int", t.__name__, x if -(1 << 63) <= x < (1 << 63) else str(x), None)
            if isinstance(v, np.floating):
                return ("float", t.__name__, jfloat(float(v)), None)
            if isinstance(v, np.complexfloating):
                c = complex(v)
                return ("complex", t.__name__, [jfloat(c.real), jfloat(c.imag)], None)
        return None


def _base_value(v, base):
    if base is int:
        return int.__int__(v)
    if base is float:
        return float.__float__(v)
    if base is complex:
        return complex(complex.real.__get__(v), complex.imag.__get__(v))
    if base is str:
        return str.__str__(v)
    return bytes(memoryview(v))


UNBOUND = object()


class LocalReader:
    """Reads a frame's local names without side effects.

    `frame.f_locals` is not harmless on 3.11 and 3.12: it copies the fast
    locals into a dict stored in the frame (FastToLocals). That dict keeps
    references alive - a generator rebound in a loop is then finalized late,
    during a later sync inside the settrace trampoline, where tracing is off
    and its GeneratorExit reaches no tracer - and from then on the settrace
    trampoline writes the dict back into the frame after every trace call.
    On a module or class frame running an inlined comprehension (3.12) it
    even merges the hidden comprehension locals into the namespace, which
    breaks the program (disagreement N6). So on 3.11 and 3.12 locals are
    read from the frame's memory (CPython's _PyInterpreterFrame layout, the
    code pointer checked on every read); 3.13's f_locals (PEP 667) is a
    side-effect-free proxy and is used as is."""

    # (offset of f_code, of f_locals, of localsplus) in _PyInterpreterFrame
    LAYOUT = {(3, 11): (32, 24, 72), (3, 12): (0, 40, 72)}

    def __init__(self):
        self.ctypes = None
        if PY in self.LAYOUT:
            import ctypes
            self.ctypes = ctypes
            self.code_off, self.locals_off, self.plus_off = self.LAYOUT[PY]
            self.names = {}

    def localsplus(self, code):
        """{name: (index, is_cell)} of the frame's fast locals."""
        names = self.names.get(code)
        if names is None:
            names = {}
            cellvars, nvars = set(code.co_cellvars), len(code.co_varnames)
            i = 0
            while True:
                try:
                    n = code._varname_from_oparg(i)
                except Exception:
                    break
                # Cells and free variables follow the fast locals; a 3.12
                # class body may hold a name as both (an inlined
                # comprehension's hidden local and a pass-through free one).
                names.setdefault(n, (i, i >= nvars or n in cellvars))
                i += 1
            self.names[code] = names
        return names

    def lookup(self, frame, name):
        """(found, value) of `name` in the frame's locals; for a module or
        class frame also its namespace."""
        code = frame.f_code
        if self.ctypes is None:
            loc = frame.f_locals
            if name in loc:
                return True, loc[name]
            return False, None
        ct = self.ctypes
        P = ct.c_void_p
        data = P.from_address(id(frame) + 24).value  # PyFrameObject.f_frame
        if not data or P.from_address(data + self.code_off).value != id(code):
            raise RuntimeError("unexpected frame layout")
        entry = self.localsplus(code).get(name)
        if entry is not None and entry[1] and not code.co_flags & 0x1:
            entry = None  # a class body's cells belong to its nested scopes (D14)
        if entry is not None:
            idx, is_cell = entry
            ptr = P.from_address(data + self.plus_off + 8 * idx).value
            if ptr:
                v = ct.cast(ptr, ct.py_object).value
                if is_cell and type(v).__name__ == "cell":
                    try:
                        return True, v.cell_contents
                    except ValueError:
                        return False, None
                return True, v
        if code.co_flags & 0x1:  # CO_OPTIMIZED: no namespace to fall back to
            return False, None
        ns_ptr = P.from_address(data + self.locals_off).value
        ns = ct.cast(ns_ptr, ct.py_object).value if ns_ptr else frame.f_globals
        if name in ns:
            return True, ns[name]
        return False, None


# ---------------------------------------------------------------------------
# The state machine (SPEC §2), fed by either event source.
# ---------------------------------------------------------------------------

class Pending:
    """An LHS capture whose seq is reserved (rule 2)."""
    __slots__ = ("seq", "probe", "order", "batch", "thread", "site", "snapshot")

    def __init__(self, seq, probe, order, batch, thread, site):
        self.seq, self.probe, self.order, self.batch, self.thread = seq, probe, order, batch, thread
        self.site = site
        self.snapshot = None  # (status, rendering) when the frame suspended


class CompState:
    __slots__ = ("node", "pending")

    def __init__(self, node):
        self.node = node
        self.pending = []


class FrameState:
    __slots__ = ("frame", "cm", "prev_unit", "prev_group", "prev_bind", "last_off", "last_jump", "pending",
                 "pending_unit", "comps", "suspended", "snap", "exc", "last_op")

    def __init__(self, frame, cm):
        self.frame = frame
        self.cm = cm
        self.prev_unit = None
        self.prev_group = None
        self.prev_bind = None  # (site, CompState or None)
        self.last_off = -1
        self.last_jump = False
        self.pending = []
        self.pending_unit = None
        self.comps = []
        if cm.own_comp is not None:
            self.comps.append(CompState(cm.own_comp))
        self.suspended = False
        self.snap = False  # pending snapshots taken at the suspension are current
        self.exc = False  # an exception event since the last instruction
        self.last_op = None


class Tracer:
    def __init__(self, probes, renderer):
        self.render = renderer
        self.probes = probes
        self.lock = _thread.RLock()
        self.seq = 0
        self.records = {}
        self.states = {}
        self.paths = {}
        self.models = {}
        self.sites = {}  # (path, site) -> [(probe, ...)] in batch order
        for p in probes:
            self.models[p.path] = p.fm
            for site, pos in p.sites.items():
                self.sites.setdefault(site, []).append((p, pos))
        for site, lst in self.sites.items():
            lst.sort(key=lambda e: (e[0].role != "rhs", e[1], e[0].index))
            self.sites[site] = [e[0] for e in lst]
        self.probed = set(self.models)
        self.code_models = {}
        self.locals = LocalReader()

    # -- helpers ----------------------------------------------------------------

    def model_for(self, code):
        """The CodeModel of a code object of a probed file, else None."""
        # Keyed by identity: code objects compare (and hash) by value without
        # their file name, so two files' identical functions (lzma's and
        # bz2's `tell`) would share one entry. The entry keeps the code alive.
        got = self.code_models.get(id(code))
        if got is not None and got[0] is code:
            return got[1]
        f = code.co_filename
        path = self.paths.get(f)
        if path is None:
            if f.startswith("<frozen ") and f.endswith(">"):
                path = self.paths[f] = _frozen_source(f[8:-1]) or f
            else:
                path = self.paths[f] = os.path.realpath(f) if os.path.exists(f) else f
        cm = None
        if path in self.probed:
            try:
                cm = self.models[path].code_model(code)
            except LookupError:
                # 3.14+ compiles a scope's annotations into a generated
                # `__annotate__` function with no syntax scope of its own;
                # the statements they belong to do not run there (README:
                # lazy annotations), and probe records nothing in it either.
                # (A function the source itself names __annotate__ has one.)
                # So for PEP 695's annotation scopes (D13): the
                # `<generic parameters of f>` function run by the def or
                # class statement, and the lazily evaluated bounds,
                # constraints, defaults and type alias values.
                n = code.co_name
                if not (n == "__annotate__" or n.startswith("<generic parameters of ")
                        or n in self.models[path].tp_code_names):
                    raise
        self.code_models[id(code)] = (code, cm)
        return cm

    def read(self, frame, probe, site):
        """NAME in `frame` as Python resolves it there: (status, rendering)."""
        base = probe.parts[0]
        how = probe.resolution.get(site, "local")
        try:
            if how == "global":
                g = frame.f_globals
                if base in g:
                    v = g[base]
                else:
                    b = frame.f_builtins
                    if base not in b:
                        return ("unbound", None)
                    v = b[base]
            elif how == "classcell":
                found, v = self.class_free(frame, base)
                if not found:
                    return ("unbound", None)
            else:
                found, v = self.locals.lookup(frame, base)
                if found:
                    pass
                elif how == "classfree":
                    found, v = self.class_free(frame, base)
                    if not found:
                        return ("unbound", None)
                elif how == "class" and base in frame.f_globals:
                    v = frame.f_globals[base]
                elif how == "class" and base in frame.f_builtins:
                    v = frame.f_builtins[base]
                else:
                    return ("unbound", None)
        except Exception as e:  # pragma: no cover - reading a frame should not fail
            return ("error", ("error", type_label(type(e)), _msg(e), None))
        try:
            for attr in probe.parts[1:]:
                v = getattr(v, attr)
            return ("ok", self.render.render(v))
        except Exception as e:  # rule 9: reading or rendering failed
            return ("error", ("error", type_label(type(e)), _msg(e), None))

    def class_free(self, frame, name):
        """(found, value) of a class body's free variable `name` that its
        namespace lacks (D14). On 3.11/3.12 LocalReader already read its
        cell from the frame's memory; 3.13+'s f_locals of a class body is
        its namespace only, so the cell is read where it is a local: in the
        frame that runs the class statement (its caller, which must be the
        class code's lexical parent), through classes nested in classes."""
        code, back = frame.f_code, frame.f_back
        while name in code.co_freevars:
            # (a wrapped __build_class__ puts frames in between)
            while back is not None and code not in back.f_code.co_consts:
                back = back.f_back
            if back is None:
                break
            if back.f_code.co_flags & 0x1:  # CO_OPTIMIZED
                return self.locals.lookup(back, name)
            code, back = back.f_code, back.f_back
        return False, None

    def emit(self, seq, probe, order, batch, thread, status, shown):
        if shown is None:
            shown = ("absent", None, None, None)
        self.records[seq] = (probe, order, batch, thread, status, shown)

    def complete(self, frame, pending, raised, use_snapshot=False):
        for p in pending:
            if use_snapshot and p.snapshot is not None:
                status, shown = p.snapshot
            else:
                status, shown = self.read(frame, p.probe, p.site)
            if raised:
                status = "raised"
                if shown is not None and shown[0] == "absent":
                    shown = None
            self.emit(p.seq, p.probe, p.order, p.batch, p.thread, status, shown)
        pending.clear()

    def fire(self, frame, site, pending_list):
        """Rules 1, 2, 6: one batch - RHS read now, LHS reserved now."""
        probes = self.sites.get(site)
        if not probes:
            return
        thread = _thread.get_ident()
        batch = self.seq
        for order, p in enumerate(probes):
            seq = self.seq
            self.seq += 1
            if p.role == "rhs":
                status, shown = self.read(frame, p, site)
                self.emit(seq, p, order, batch, thread, status, shown)
            else:
                pending_list.append(Pending(seq, p, order, batch, thread, site))

    # -- events -------------------------------------------------------------------

    def state(self, frame, cm):
        st = self.states.get(frame)
        if st is None:
            st = self.states[frame] = FrameState(frame, cm)
        return st

    def on_instruction(self, frame, cm, offset):
        with self.lock:
            st = self.state(frame, cm)
            ins = cm.table[offset // 2]
            st.exc = False
            if st.snap:
                st.snap = False
                for p in st.pending:
                    p.snapshot = None
                for cs in st.comps:
                    for p in cs.pending:
                        p.snapshot = None
            st.suspended = False
            if ins is None or ins.neutral:
                st.last_off = offset
                st.last_jump = ins is not None and ins.jump
                if ins is not None:
                    st.last_op = ins.op
                return
            # (a) a binding run just ended: its batch comes first.
            pb = st.prev_bind
            if pb is not None and ins.bind != pb[0]:
                st.prev_bind = None
                site, cs = pb
                if cs is None:
                    self.complete(frame, st.pending, False)
                    self.fire(frame, site, st.pending)
                    st.pending_unit = site
                else:
                    self.fire(frame, site, cs.pending)
            # (b) comprehensions entered and left.
            chain = ins.chain
            comps = st.comps
            base = 1 if st.cm.own_comp is not None else 0
            i = base
            ch = chain[base:] if base and chain and chain[0] is st.cm.own_comp else chain
            while i < len(comps) and i - base < len(ch) and comps[i].node is ch[i - base]:
                i += 1
            if i < len(comps):
                for cs in reversed(comps[i:]):
                    self.complete(frame, cs.pending, False)
                del comps[i:]
            for c in ch[i - base:]:
                comps.append(CompState(c))
            # (c) the frame's own statements: completion, then trigger.
            unit = ins.unit
            if unit is not None:
                trig = False
                if ins.trigger:
                    if ins.part == "ctest":
                        trig = st.prev_group is not ins.group and st.prev_group != ins.group
                    else:
                        trig = st.prev_unit != unit or (ins.run_start and st.last_jump and st.last_off > offset)
                if st.pending and (trig or unit != st.pending_unit):
                    self.complete(frame, st.pending, False)
                if trig:
                    self.fire(frame, unit, st.pending)
                    st.pending_unit = unit
                st.prev_unit = unit
                st.prev_group = ins.group
            # (d) the innermost comprehension's own events.
            if ins.comp_role is not None and comps:
                cs = comps[-1]
                if ins.comp_role == "next":
                    self.complete(frame, cs.pending, False)
            if ins.bind is not None:
                if ins.unit is not None and ins.unit[1] == "bind" and (not ins.chain or ins.comp_role != "bind"):
                    st.prev_bind = (ins.bind, None)
                elif comps:
                    st.prev_bind = (ins.bind, comps[-1])
            st.last_off = offset
            st.last_jump = False
            st.last_op = ins.op

    def on_exception(self, frame, cm, offset, exc):
        with self.lock:
            st = self.states.get(frame)
            if st is None:
                st = self.state(frame, cm)
            raw = frame.f_code.co_code
            op = raw[offset] if 0 <= offset < len(raw) else None
            if isinstance(exc, StopIteration) and (op in CONSUMES_STOPITERATION
                                                   or self.thrown_into_send_loop(frame.f_code, offset)):
                return
            if isinstance(exc, StopAsyncIteration) and self.handled_by_end_async_for(frame.f_code, offset):
                return
            snap = st.snap
            self.complete(frame, st.pending, True, snap)
            for cs in st.comps:
                self.complete(frame, cs.pending, True, snap)
            st.prev_bind = None
            st.exc = True

    @staticmethod
    def thrown_into_send_loop(code, offset):
        """Whether `offset` is a YIELD_VALUE whose handler is CLEANUP_THROW,
        or the RESUME after one: where 3.12 (the yield) and 3.13+ (the
        RESUME) report an exception thrown into a frame suspended in `yield
        from`/`await`; a StopIteration there (the subiterator returned) is
        CLEANUP_THROW's to take."""
        raw = code.co_code
        if not (0 <= offset < len(raw)):
            return False
        if raw[offset] == YIELD_VALUE:
            k = offset  # 3.12 reports it at the yield itself
        elif offset >= 2 and raw[offset] == RESUME and raw[offset - 2] == YIELD_VALUE:
            k = offset - 2
        else:
            return False
        try:
            entries = dis.Bytecode(code).exception_entries
        except Exception:
            return False
        for e in entries:
            if e.start <= k < e.end:
                return raw[e.target] == CLEANUP_THROW
        return False

    @staticmethod
    def handled_by_end_async_for(code, offset):
        try:
            entries = dis.Bytecode(code).exception_entries
        except Exception:
            return False
        raw = code.co_code
        for e in entries:
            if e.start <= offset < e.end:
                return raw[e.target] == END_ASYNC_FOR
        return False

    def on_return(self, frame, kind):
        """kind: 'return', 'yield' or 'unwind'."""
        with self.lock:
            st = self.states.get(frame)
            if st is None:
                return
            if kind == "yield":
                st.suspended = True
                st.snap = True
                for lst in [st.pending] + [cs.pending for cs in st.comps]:
                    for p in lst:
                        p.snapshot = self.read(frame, p.probe, p.site)
                return
            for cs in reversed(st.comps):
                self.complete(frame, cs.pending, kind == "unwind")
            self.complete(frame, st.pending, kind == "unwind")
            del self.states[frame]

    def on_settrace_return(self, frame):
        st = self.states.get(frame)
        if st is None:
            return
        if st.exc:
            kind = "unwind"
        elif st.last_op == YIELD_OP:
            kind = "yield"
        elif st.last_op in RETURN_OPS:
            kind = "return"
        else:
            kind = "unwind"
        self.on_return(frame, kind)

    def finish(self):
        """End of the run: waiting captures of frames closed silently (3.13)
        are `raised` with their value at the suspension; everything else
        still pending is `incomplete`."""
        with self.lock:
            for frame, st in list(self.states.items()):
                lists = [st.pending] + [cs.pending for cs in st.comps]
                if not any(lists):
                    continue
                closed = False
                if st.suspended and st.snap and PY >= (3, 13):
                    # 3.13: clear() raises on a suspended frame and is
                    # harmless on a finished one. (Before 3.13 it would close
                    # a suspended generator - and closing always reached us
                    # as events there.)
                    try:
                        frame.clear()
                        closed = True
                    except RuntimeError:
                        pass
                for lst in lists:
                    for p in lst:
                        if closed:
                            status, shown = p.snapshot
                            if shown is not None and shown[0] == "absent":
                                shown = None
                            self.emit(p.seq, p.probe, p.order, p.batch, p.thread, "raised", shown)
                        else:
                            self.emit(p.seq, p.probe, p.order, p.batch, p.thread, "incomplete", None)
                    lst.clear()
            self.states.clear()


def _msg(e):
    try:
        return str(e)
    except Exception:
        return ""


# ---------------------------------------------------------------------------
# Event sources.
# ---------------------------------------------------------------------------

class SettraceSource:
    """sys.settrace with f_trace_opcodes on every frame of a probed file."""

    def __init__(self, tracer):
        self.t = tracer
        self._local = self.local_trace

    def global_trace(self, frame, event, arg):
        cm = self.t.model_for(frame.f_code)
        if cm is None:
            return None
        # 3.13 drops opcode events when f_trace changes after f_trace_opcodes
        # was set, or when f_trace_lines is False: set f_trace first, keep
        # line events on (and ignore them).
        frame.f_trace = self._local
        frame.f_trace_opcodes = True
        return self._local

    def local_trace(self, frame, event, arg):
        t = self.t
        if event == "opcode":
            cm = t.model_for(frame.f_code)
            t.on_instruction(frame, cm, frame.f_lasti)
        elif event == "exception":
            cm = t.model_for(frame.f_code)
            t.on_exception(frame, cm, frame.f_lasti, arg[1])
        elif event == "return":
            with t.lock:
                t.on_settrace_return(frame)
        return self._local

    def start(self):
        # CPython 3.12.1 only delivers opcode events when some frame had
        # f_trace_opcodes set before sys.settrace() (interp->f_opcode_trace_set).
        if PY == (3, 12):
            f = sys._getframe()
            f.f_trace_opcodes = True
            f.f_trace_opcodes = False
        sys.settrace(self.global_trace)
        self._patch_threads()

    def stop(self):
        sys.settrace(None)

    def _patch_threads(self):
        """New threads trace too: wrap _thread's start functions (threading,
        imported by the program after we start, binds them at import)."""
        trace = self.global_trace

        def wrap(fn):
            def runner(*a, **k):
                sys.settrace(trace)
                return fn(*a, **k)
            return runner
        for name in ("start_new_thread", "start_joinable_thread", "start_new"):
            orig = getattr(_thread, name, None)
            if orig is None:
                continue

            def make(orig):
                def start(function, *args, **kwargs):
                    return orig(wrap(function), *args, **kwargs)
                return start
            setattr(_thread, name, make(orig))


class MonitoringSource:
    """sys.monitoring (3.12+): INSTRUCTION events on the code objects of
    probed files, PY_* and RAISE events for the rest."""

    def __init__(self, tracer):
        self.t = tracer
        M = sys.monitoring
        self.M = M
        for tool in (5, 4, 3, 2, 1, 0):
            try:
                M.use_tool_id(tool, "probe-reference")
                self.tool = tool
                break
            except ValueError:
                continue
        else:
            raise SystemExit("reference: no free sys.monitoring tool id")
        self.instrumented = set()

    def _cm(self, code):
        cm = self.t.model_for(code)
        if cm is not None and code not in self.instrumented:
            self.instrumented.add(code)
            self.M.set_local_events(self.tool, code, self.M.events.INSTRUCTION)
        return cm

    def start(self):
        M, E, T = self.M, self.M.events, self.t
        DISABLE = M.DISABLE

        def py_start(code, off):
            if self._cm(code) is None:
                return DISABLE
        def py_resume(code, off):
            if self._cm(code) is None:
                return DISABLE
        def instruction(code, off):
            cm = T.model_for(code)
            T.on_instruction(sys._getframe(1), cm, off)
        def py_return(code, off, val):
            if T.model_for(code) is None:
                return DISABLE
            T.on_return(sys._getframe(1), "return")
        def py_yield(code, off, val):
            if T.model_for(code) is None:
                return DISABLE
            T.on_return(sys._getframe(1), "yield")
        def py_unwind(code, off, exc):
            if T.model_for(code) is not None:
                T.on_return(sys._getframe(1), "unwind")
        def raise_(code, off, exc):
            cm = T.model_for(code)
            if cm is not None:
                T.on_exception(sys._getframe(1), cm, off, exc)

        M.register_callback(self.tool, E.PY_START, py_start)
        M.register_callback(self.tool, E.PY_RESUME, py_resume)
        M.register_callback(self.tool, E.INSTRUCTION, instruction)
        M.register_callback(self.tool, E.PY_RETURN, py_return)
        M.register_callback(self.tool, E.PY_YIELD, py_yield)
        M.register_callback(self.tool, E.PY_UNWIND, py_unwind)
        M.register_callback(self.tool, E.RAISE, raise_)
        M.set_events(self.tool, E.PY_START | E.PY_RESUME | E.PY_RETURN | E.PY_YIELD | E.PY_UNWIND | E.RAISE)

    def stop(self):
        M = self.M
        M.set_events(self.tool, 0)
        for code in self.instrumented:
            try:
                M.set_local_events(self.tool, code, 0)
            except Exception:
                pass
        M.free_tool_id(self.tool)


# ---------------------------------------------------------------------------
# Running a script as __main__.
# ---------------------------------------------------------------------------

def run_script(argv, source, on_os_exit):
    """Runs `python SCRIPT ARGS` (or `python -m MODULE ARGS`) under
    `source`, as python would: argv, sys.path[0], __main__; returns the exit
    status (130 for an uncaught KeyboardInterrupt, as a shell reports
    Python's death by SIGINT)."""
    import types
    module = None
    if argv[0] == "-m":
        module = argv[1]
        sys.argv = ["-m"] + list(argv[2:])
        sys.path[0] = os.getcwd()
    else:
        script = argv[0]
        with open(script, "rb") as fh:
            code = compile(fh.read(), script, "exec")
        main = types.ModuleType("__main__")
        main.__dict__.update(__file__=script, __builtins__=__builtins__, __cached__=None)
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(script))
    # Forget the modules this file imported (they stay alive through our
    # references): the program imports them afresh, as it would untraced.
    for name in list(sys.modules):
        if name not in _MODULES_BEFORE:
            del sys.modules[name]
    if module is not None:
        import runpy  # as `python -m` does, before the module runs
    else:
        sys.modules["__main__"] = main
    real_exit = os._exit

    def os_exit(n):
        source.stop()
        on_os_exit()
        real_exit(n)
    os._exit = os_exit
    status = 0
    source.start()
    try:
        if module is not None:
            runpy._run_module_as_main(module, alter_argv=True)
        else:
            exec(code, main.__dict__)
    except SystemExit as e:
        source.stop()
        if e.code is None:
            status = 0
        elif isinstance(e.code, int):
            status = e.code
        else:
            sys.stderr.write(f"{e.code}\n")
            status = 1
    except BaseException:
        source.stop()
        etype, value, tb = sys.exc_info()
        sys.excepthook(etype, value, tb.tb_next if tb is not None else None)
        status = 130 if isinstance(value, KeyboardInterrupt) else 1
    else:
        source.stop()
    os._exit = real_exit
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    return status


def read_specs(opts):
    specs = list(opts["probes"])
    for path in opts["probe_files"]:
        with open(path) as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
                if line:
                    specs.append(line)
    return specs


def parse_args(argv):
    opts = {"out": None, "probes": [], "probe_files": [], "mvb": 4096, "mab": 1 << 20, "mode": "settrace",
            "rest": [], "code": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            opts["script"] = argv[i + 1:]
            return opts
        if a in ("--out", "-p", "--probes", "--max-value-bytes", "--max-array-bytes", "--mode", "--code"):
            val = argv[i + 1]
            i += 1
            key = {"--out": "out", "--max-value-bytes": "mvb", "--max-array-bytes": "mab", "--mode": "mode",
                   "--code": "code"}.get(a)
            if a == "-p":
                opts["probes"].append(val)
            elif a == "--probes":
                opts["probe_files"].append(val)
            elif key in ("mvb", "mab"):
                opts[key] = int(val)
            else:
                opts[key] = val
        else:
            opts["rest"].append(a)
        i += 1
    opts["script"] = []
    return opts


def labels_for(probes):
    """probe labels as `probe export` writes them: the file's base name,
    or the full path when two probes would share a label."""
    short = {}
    for p in probes:
        lab = f"{os.path.basename(p.path)}:{p.line}:{p.name}@{p.role}"
        short.setdefault(lab, []).append(p)
    for lab, ps in short.items():
        for p in ps:
            p.label = lab if len(ps) == 1 else f"{p.path}:{p.line}:{p.name}@{p.role}"


def cmd_run(opts):
    models = {}
    specs = read_specs(opts)
    probes = [Probe(i, s, models) for i, s in enumerate(specs)]
    labels_for(probes)
    if opts["mode"] == "monitoring" and PY < (3, 12):
        raise SystemExit("reference: --mode monitoring needs Python 3.12+")
    tracer = Tracer(probes, Renderer(opts["mvb"], opts["mab"]))
    source = SettraceSource(tracer) if opts["mode"] == "settrace" else MonitoringSource(tracer)

    def write():
        tracer.finish()
        write_records(tracer, opts["out"])
    status = run_script(opts["script"], source, write)
    write()
    return status


def write_records(tracer, out):
    import json
    with open(out, "w") as fh:
        for seq in sorted(tracer.records):
            probe, order, batch, thread, status_, shown = tracer.records[seq]
            kind, type_name, value, truncated = shown
            if kind == "absent":
                type_name = value = truncated = None
            fh.write(json.dumps({
                "seq": seq, "probe": probe.label, "probe_index": probe.index, "role": probe.role,
                "batch": batch, "order": order, "thread": thread, "status": status_, "kind": kind,
                "type_name": type_name, "value": value, "truncated": truncated,
            }, ensure_ascii=False) + "\n")
        fh.flush()


def cmd_dump(opts):
    path = os.path.realpath(opts["rest"][0])
    fm = FileModel(path)
    with open(path, "rb") as fh:
        top = compile(fh.read(), path, "exec")

    def walk(code):
        if opts["code"] is None or code.co_name == opts["code"]:
            cm = fm.code_model(code)
            print(f"=== {getattr(code, 'co_qualname', code.co_name)} (scope {type(cm.root).__name__})")
            positions = list(code.co_positions())
            for ins in cm.instrs:
                p = positions[ins.offset // 2]
                print(f"{ins.offset:5d} {ins.opname:26s} {str(p):26s} {ins.describe(fm)}")
        for c in code.co_consts:
            if hasattr(c, "co_code"):
                walk(c)
    walk(top)
    return 0


def cmd_sites(opts):
    models = {}
    specs = read_specs(opts)
    for i, s in enumerate(specs):
        p = Probe(i, s, models)
        desc = []
        for (node, part), pos in p.sites.items():
            sp = p.fm.span.get(node)
            desc.append(f"{type(node).__name__}@{sp[0]}:{sp[1]}/{part} pos={pos} {p.resolution.get((node, part))}")
        print(f"{i} {s} role={p.role}: " + "; ".join(desc))
    return 0


def cmd_names(opts):
    """Every probeable (line, name) of FILE as JSON lines: {"line", "name",
    "bound", "read"}."""
    import json
    fm = FileModel(os.path.realpath(opts["rest"][0]))
    for (line, name), (bound, read) in sorted(fm.all_names().items()):
        print(json.dumps({"line": line, "name": name, "bound": bound, "read": read}))
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    opts = parse_args(sys.argv[2:])
    sys.exit({"run": cmd_run, "dump": cmd_dump, "sites": cmd_sites, "names": cmd_names}[cmd](opts))
