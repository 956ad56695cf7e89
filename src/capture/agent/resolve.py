# probe agent: resolving probe specs against the source (SPEC §1).
#
# A spec FILE:LINE:NAME[@role] names an occurrence of NAME on LINE. This
# module parses the file (`_ast` + the symbol tables, before the program runs),
# finds every name occurrence with what it belongs to — the statement part
# ("unit") it is evaluated in, the frame that owns the name, a `for` or
# comprehension binding — and turns specs into probes. What a probe's
# occurrence *does* at run time (when it triggers, when it completes) is
# decided by the capture plan (plan.py) from what is recorded here.

import os
import sys
# The C node classes: the `ast` module itself imports `re` and `enum`, about
# 18 ms of start-up; parsing goes through compile(..., PyCF_ONLY_AST).
import _ast as ast

from . import symbols
from .resolved import Probe, ProbeError, Tap, find_source, file_stat

_PY = sys.version_info[:2]

COMP_TYPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# Comprehensions compiled into the enclosing frame (PEP 709, 3.12+).
INLINED_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp) if _PY >= (3, 12) else ()
_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TYPE_ALIAS = getattr(ast, "TypeAlias", None)  # `type X[T] = …` (3.12+)
_MATCH_TYPES = tuple(getattr(ast, n) for n in ("MatchAs", "MatchStar", "MatchMapping") if hasattr(ast, n))
_TRY_TYPES = tuple(getattr(ast, n) for n in ("Try", "TryStar") if hasattr(ast, n))


def parse_source(source, path):
    return compile(source, path, "exec", 0x400, dont_inherit=True)  # PyCF_ONLY_AST


def iter_child_nodes(node):
    for name in node._fields:
        v = getattr(node, name, None)
        if isinstance(v, ast.AST):
            yield v
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, ast.AST):
                    yield item


def walk_nodes(node):
    todo = [node]
    while todo:
        n = todo.pop()
        todo.extend(iter_child_nodes(n))
        yield n


def span(node):
    return (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


def dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def target_names(node):
    """Names a binding target binds (`a, (b, *c)` → a, b, c)."""
    out = set()
    for n in walk_nodes(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
    return out


class Occurrence:
    """One occurrence of a name (or attribute chain) in the source.

    unit:  (id(node), part) of the statement part it is evaluated in, within
           the code scope of `scope` (see plan.ScopeModel).
    scope: the scope node whose frame owns the name here: the function,
           lambda, module or class body — or the comprehension, for names a
           comprehension binds.
    bind:  for a binding that is a trigger of its own — a `for` target (the
           For node), a name a comprehension binds (the generator whose
           target binds it), `except … as n` (the handler), a `case`
           capture (the match_case) — what binds it. The occurrence then
           triggers once per binding, right after it.
    bound: the occurrence binds the name; reads: it reads it (both for
           `x += 1`).
    nested: the outermost comprehension or lambda the occurrence sits in
           when none of them binds the name (it belongs to the statement,
           but Python resolves it from inside that scope), else None.
    """
    __slots__ = ("name", "line", "col", "bound", "reads", "node", "stmt", "unit", "scope", "bind", "in_for_iter",
                 "nested")

    def __init__(self, name, line, col, bound, node, reads=None):
        self.name = name
        self.line = line
        self.col = col
        self.bound = bound
        self.reads = (not bound) if reads is None else reads
        self.node = node
        self.stmt = None
        self.unit = None
        self.scope = None
        self.nested = None
        self.bind = None
        self.in_for_iter = False


class FileModel:
    """A parsed source file: every name occurrence, what it belongs to, and
    the scopes (function, lambda, class, module, comprehension nodes)."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as fh:
                # What the file was when read (resolved.py: a cached
                # resolution is used only while it is still that file).
                try:
                    self.stat = file_stat(os.fstat(fh.fileno()))
                except OSError:
                    self.stat = None
                raw = fh.read()
            self.raw = raw
        except OSError as e:
            raise ProbeError(f"{path}: cannot read: {e.strerror}")
        try:
            self.source = raw.decode("utf-8")
        except UnicodeDecodeError:
            import io
            import tokenize
            try:
                enc, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
                self.source = raw.decode(enc)
            except (SyntaxError, UnicodeDecodeError, LookupError):
                raise ProbeError(f"{path}: not a Python source file (cannot decode it as text)")
        if self.source.startswith("\ufeff"):
            # A UTF-8 byte-order mark: python skips it, and so do the
            # columns of the code it compiles.
            self.source = self.source[1:]
        try:
            self.tree = parse_source(self.source, path)
        except SyntaxError as e:
            raise ProbeError(f"{path} is not a Python source file: line {e.lineno}: {e.msg}; cannot place probes in it")
        except ValueError as e:
            raise ProbeError(f"{path}: not a Python source file ({e})")
        self.nlines = len(self.source.splitlines())
        try:
            self.symtab = symbols.symtable(self.source, path, "exec")
        except SyntaxError:
            self.symtab = None
        self.occ_by_line = {}
        # scope node -> the scope whose frame runs it (itself, or for a
        # comprehension inlined by 3.12+, the enclosing frame's scope).
        self.code_scope = {}
        self.parent_scope = {}
        self._body(self.tree.body, self.tree)
        self.code_scope[self.tree] = self.tree

    # -- walking ------------------------------------------------------------
    def _add(self, occ, stmt, unit, scope, bind=None):
        occ.stmt = stmt
        occ.unit = unit
        occ.scope = scope
        occ.bind = bind
        self.occ_by_line.setdefault(occ.line, []).append(occ)
        if type(occ.node) is ast.Attribute and occ.node.lineno != occ.line:
            # A chain written over lines (`(obj\n .attr)`, method chains)
            # occurs on both its first and its last line: a spec may name
            # either. (Its place in a batch stays the last line's.)
            self.occ_by_line.setdefault(occ.node.lineno, []).append(occ)
        return occ

    def _body(self, stmts, scope):
        for st in stmts:
            self._stmt(st, scope)

    def _stmt(self, st, scope):
        t = type(st)
        sid = id(st)
        if t in (ast.For, ast.AsyncFor):
            for occ in self._expr(st.target, st, (sid, "target"), scope):
                if occ.scope is scope:
                    occ.bind = st
            for occ in self._expr(st.iter, st, (sid, "iter"), scope):
                occ.in_for_iter = True
            self._body(st.body, scope)
            self._body(st.orelse, scope)
        elif t is ast.While or t is ast.If:
            self._expr(st.test, st, (sid, "test"), scope)
            self._body(st.body, scope)
            self._body(st.orelse, scope)
        elif t in (ast.With, ast.AsyncWith):
            for item in st.items:
                self._expr(item.context_expr, st, (sid, "items"), scope)
                if item.optional_vars is not None:
                    self._expr(item.optional_vars, st, (sid, "items"), scope)
            self._body(st.body, scope)
        elif t in _TRY_TYPES:
            self._body(st.body, scope)
            for h in st.handlers:
                hid = (id(h), "handler")
                if h.type is not None:
                    self._expr(h.type, st, hid, scope)
                if h.name:
                    line, col = self._handler_name_at(h)
                    self._add(Occurrence(h.name, line, col, True, h), st, hid, scope, h)
                self._body(h.body, scope)
            self._body(st.orelse, scope)
            self._body(st.finalbody, scope)
        elif hasattr(ast, "Match") and t is ast.Match:
            self._expr(st.subject, st, (sid, "subject"), scope)
            for c in st.cases:
                cid = (id(c), "case")
                for occ in self._expr(c.pattern, st, cid, scope):
                    if occ.bound and isinstance(occ.node, _MATCH_TYPES):
                        occ.bind = c  # a capture: bound once the case matched
                if c.guard is not None:
                    # The guard is evaluated after the captures are bound.
                    self._expr(c.guard, st, (id(c), "guard"), scope)
                self._body(c.body, scope)
        elif t in _DEF_TYPES:
            unit = (sid, "stmt")
            # The name is bound in the enclosing scope, on the def line.
            self._add(Occurrence(st.name, st.lineno, st.col_offset, True, st), st, unit, scope)
            for d in st.decorator_list:
                self._expr(d, st, unit, scope)
            tps = self._type_params(st, unit, scope)
            if t is ast.ClassDef:
                for b in st.bases + [k.value for k in st.keywords]:
                    self._expr(b, st, unit, scope, hidden=tps)
            else:
                a = st.args
                for d in a.defaults + [d for d in a.kw_defaults if d is not None]:
                    self._expr(d, st, unit, scope)
                for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
                    if arg.annotation is not None:
                        self._expr(arg.annotation, st, unit, scope, hidden=tps)
                if st.returns is not None:
                    self._expr(st.returns, st, unit, scope, hidden=tps)
            self.parent_scope[st] = scope
            self.code_scope[st] = st
            self._body(st.body, st)
        else:
            unit = (sid, "stmt")
            if t is ast.AugAssign:
                # `x += 1` reads and binds x: one occurrence, both.
                for occ in self._expr(st.target, st, unit, scope):
                    if occ.node is st.target:
                        occ.reads = True
                self._expr(st.value, st, unit, scope)
            elif t is _TYPE_ALIAS:
                self._expr(st.name, st, unit, scope)
                self._expr(st.value, st, unit, scope, hidden=self._type_params(st, unit, scope))
            else:
                for child in iter_child_nodes(st):
                    self._expr(child, st, unit, scope)

    def _handler_name_at(self, h):
        """(line, column) of NAME in `except T as NAME:`: where the source
        has it, which is not the `except` line when T spans lines
        (`except (A,\n        B) as e:`). Columns in UTF-8 bytes, as the
        AST's."""
        if h.type is None:
            return h.lineno, h.col_offset
        lines = self.__dict__.get("_bytes_lines")
        if lines is None:
            lines = self._bytes_lines = self.source.encode("utf-8", "surrogatepass").split(b"\n")
        end = (h.type.end_lineno, h.type.end_col_offset)

        def skip(i, pos):
            # Blanks and backslash continuations between the tokens.
            while i < len(lines):
                t = lines[i]
                while pos < len(t) and t[pos] in b" \t\f":
                    pos += 1
                if t[pos:].rstrip(b"\r") != b"\\":
                    return i, pos
                i, pos = i + 1, 0
            return i, pos

        i, pos = skip(end[0] - 1, end[1])
        if i < len(lines) and lines[i][pos:pos + 2] == b"as":
            i, pos = skip(i, pos + 2)
            if i < len(lines) and lines[i].startswith(h.name.encode("utf-8"), pos):
                return i + 1, pos
        return end

    def _type_params(self, st, unit, scope):
        """PEP 695 (3.12+): walks the bounds, constraints and defaults of a
        generic def's, class's or type alias's type parameters; returns the
        parameters' names. Those names live in an annotation scope of their
        own (`<generic parameters of f>`), which probe does not trace: they
        are nobody's probe in the header (in the body, where the def's or
        class's own frame reads them as free variables, they are). Like a
        lambda body's (SPEC §2 rule 5), the other names these lazily
        evaluated expressions read belong to the statement, read in the
        enclosing frame when it starts."""
        tps = getattr(st, "type_params", None)
        if not tps:
            return ()
        names = frozenset(tp.name for tp in tps)
        for tp in tps:
            for e in (getattr(tp, "bound", None), getattr(tp, "default_value", None)):
                if e is not None:
                    self._expr(e, st, unit, scope, hidden=names)
        return names

    def _expr(self, node, stmt, unit, scope, comps=(), hidden=()):
        """Walks an expression; returns the occurrences it added. `comps`:
        the comprehensions we are inside, innermost last, each as
        (comp node, generator in whose context we are, names it binds).
        `hidden`: names that are no probe's here (PEP 695 type parameters
        in the header they are declared in: see _type_params)."""
        added = []
        todo = [(node, comps)]
        while todo:
            n, cs = todo.pop()
            if hidden and isinstance(n, (ast.Name, ast.Attribute)):
                base = n
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in hidden:
                    continue
            if isinstance(n, ast.Name):
                bound = isinstance(n.ctx, (ast.Store, ast.Del))
                added.append(self._name(Occurrence(n.id, n.lineno, n.col_offset, bound, n), stmt, unit, scope, cs))
                continue
            if isinstance(n, ast.Attribute):
                chain = dotted(n)
                if chain is not None:
                    bound = isinstance(n.ctx, (ast.Store, ast.Del))
                    added.append(self._name(Occurrence(chain, n.end_lineno, n.col_offset, bound, n),
                                            stmt, unit, scope, cs))
                    if isinstance(n.ctx, ast.Store):
                        # The object part of an attribute store (`self` in
                        # `self.x = 1`) is read.
                        todo.append((n.value, cs))
                        continue
            if isinstance(n, ast.alias):
                name = n.asname or n.name.split(".")[0]
                if name != "*":  # `from m import *` binds no name a probe can spell
                    added.append(self._add(Occurrence(name, n.lineno, n.col_offset, True, n), stmt, unit, scope))
                continue
            if _MATCH_TYPES and isinstance(n, _MATCH_TYPES):
                nm = getattr(n, "name", None) or getattr(n, "rest", None)
                if nm:
                    # Where the name itself is: `P as nm` and `{…, **nm}` end with it.
                    if getattr(n, "rest", None) == nm:
                        line, col = n.end_lineno, n.end_col_offset - 1 - len(nm)
                    elif getattr(n, "pattern", None) is not None:
                        line, col = n.end_lineno, n.end_col_offset - len(nm)
                    else:
                        line, col = n.lineno, n.col_offset + (1 if isinstance(n, ast.MatchStar) else 0)
                    added.append(self._name(Occurrence(nm, line, col, True, n), stmt, unit, scope, cs))
            if isinstance(n, ast.Lambda):
                a = n.args
                for d in a.defaults + [d for d in a.kw_defaults if d is not None]:
                    todo.append((d, cs))
                self.parent_scope[n] = scope
                self.code_scope[n] = n
                # The body runs in the lambda's own frame, once per call: the
                # names the lambda binds (its parameters, its walrus targets)
                # belong to it; every other name to the enclosing statement,
                # as for a comprehension.
                params = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs + [v for v in (a.vararg, a.kwarg) if v]}
                params |= {w.target.id for w in walk_nodes(n.body) if isinstance(w, ast.NamedExpr)
                           and isinstance(w.target, ast.Name)}
                todo.append((n.body, cs + ((n, None, params),)))
                continue
            if isinstance(n, COMP_TYPES):
                gens = n.generators
                # The first iterable is evaluated outside, in the enclosing context.
                todo.append((gens[0].iter, cs))
                self.parent_scope[n] = scope
                self.code_scope[n] = self.code_scope.get(scope, scope) if isinstance(n, INLINED_COMPS) else n
                # name -> the generator whose target binds it (the last one
                # if several do): its binding is the name's trigger.
                bound = {}
                for g in gens:
                    for nm in target_names(g.target):
                        bound[nm] = g
                ctx = cs + ((n, None, bound),)
                for i, g in enumerate(gens):
                    for occ in self._expr(g.target, stmt, unit, scope, cs + ((n, None, {x: g for x in bound}),)):
                        added.append(occ)
                    if i > 0:
                        todo.append((g.iter, ctx))
                    for cond in g.ifs:
                        todo.append((cond, ctx))
                last = ctx
                if isinstance(n, ast.DictComp):
                    todo.append((n.key, last))
                    todo.append((n.value, last))
                else:
                    todo.append((n.elt, last))
                continue
            todo.extend((c, cs) for c in iter_child_nodes(n))
        return added

    def _name(self, occ, stmt, unit, scope, comps):
        base = occ.name.split(".")[0]
        for node, _, bound in reversed(comps):
            if base in bound:
                if isinstance(node, ast.Lambda):
                    # Bound by the lambda: its own frame, at each call.
                    return self._add(occ, stmt, (id(node), "body"), node)
                # A name the comprehension binds: its frame is the
                # comprehension's; it triggers per binding of its generator.
                return self._add(occ, stmt, unit, node, bound[base])
        if comps:
            occ.nested = comps[0][0]
        return self._add(occ, stmt, unit, scope)

    def names_on_line(self, line):
        seen = []
        for o in sorted(self.occ_by_line.get(line, ()), key=lambda o: o.col):
            if o.name not in seen:
                seen.append(o.name)
        return seen

    def table_of(self, scope):
        """The symbol table of `scope`. The file's tables are indexed once
        by (line, name): a file with thousands of probes in hundreds of
        functions asks for each of them, and a search of the whole tree per
        scope made start-up quadratic in the number of functions."""
        index = self.__dict__.get("_table_index")
        if index is None:
            index = self._table_index = _index_tables(self.symtab)
        want_line = scope.lineno
        if isinstance(scope, _DEF_TYPES):
            return index.get((want_line, scope.name))
        if isinstance(scope, ast.Lambda):
            return index.get((want_line, "lambda"))
        return index.get((want_line, None))

    def frame_scope(self, scope):
        """The scope node whose code object runs `scope`'s code."""
        return self.code_scope.get(scope, scope)


def scope_key(scope):
    """(co_name, co_firstlineno) of the code object that runs `scope`."""
    if isinstance(scope, ast.Module):
        return ("<module>", None)
    if isinstance(scope, _DEF_TYPES):
        first = scope.decorator_list[0].lineno if scope.decorator_list else scope.lineno
        return (scope.name, first)
    if isinstance(scope, ast.Lambda):
        return ("<lambda>", scope.lineno)
    names = {ast.ListComp: "<listcomp>", ast.SetComp: "<setcomp>", ast.DictComp: "<dictcomp>",
             ast.GeneratorExp: "<genexpr>"}
    return (names[type(scope)], scope.lineno)


def scope_label(scope):
    return scope_key(scope)[0]


def make_tap(probe, occ, fm):
    """The Tap of `probe` at occurrence `occ` of file model `fm`."""
    return Tap().set(probe, occ.line, occ.col, read_kind(fm, occ, occ.scope),
                     isinstance(fm.frame_scope(occ.scope), (ast.Module, ast.ClassDef)))


def _symbol(fm, scope, name):
    """`name`'s symbol in the table of `scope`, or None."""
    t = fm.table_of(scope)
    if t is None:
        return None
    try:
        return t.lookup(name)
    except KeyError:
        return None


def read_kind(fm, occ, scope):
    """How a name is read in the frame of `scope`: 'local' (f_locals of a
    function frame: fast locals, cells, free variables), 'global' (globals,
    then builtins), 'name' (module and class bodies: their namespace,
    globals, builtins, as LOAD_NAME does), 'classfree' (a class body's free
    variable: its namespace, then the cell of the function around the
    class) or 'classcell' (a function's variable that a comprehension or
    lambda of a class body reads: that cell only, never the namespace)."""
    base = occ.name.split(".")[0]
    if isinstance(scope, ast.ClassDef) and occ.nested is not None and fm.symtab is not None:
        # Read inside a comprehension or lambda of a class body: Python
        # resolves it from there, where the class's names are not visible -
        # a function's variable around the class (its cell) or a global.
        # The class's table says it: DEF_FREE_CLASS marks a name a nested
        # scope reads from a function around the class (every nested scope
        # of the class resolves a name it does not bind alike; one that
        # binds it owns the occurrence). Not the nested scope's own table:
        # two lambdas or comprehensions on one line share its index key,
        # and 3.12+ inlines comprehensions into the class's table.
        s = _symbol(fm, scope, base)
        return "classcell" if s is not None and (s.is_free_class() or s.is_free()) else "global"
    if isinstance(scope, (ast.Module, ast.ClassDef)):
        if isinstance(scope, ast.ClassDef) and fm.symtab is not None:
            s = _symbol(fm, scope, base)
            if s is not None and s.is_global() and s.is_declared_global():
                return "global"
            if s is not None and s.is_free():
                # LOAD_CLASSDEREF / LOAD_FROM_DICT_OR_DEREF: the class
                # namespace, then the enclosing function's cell (a generic
                # class's type parameters too), never globals.
                return "classfree"
        return "name"
    if isinstance(scope, COMP_TYPES):
        # A name a comprehension binds is a local of its frame (3.11), or a
        # hidden fast local of the enclosing frame where it is inlined.
        return "local"
    if fm.symtab is None:
        return "local"
    t = fm.table_of(scope)
    if t is None:
        return "local"
    try:
        s = t.lookup(base)
    except KeyError:
        return "global"
    if s.is_global() or (not s.is_local() and not s.is_free()):
        return "global"
    return "local"


def _index_tables(root):
    """{(line, name): table} over the symbol-table tree (and (line, None)
    for a comprehension's table), the first one a depth-first search from
    the root meets winning, as a search for one scope would find it.
    Only functions' and classes' tables: a generic `def f[T](x)` or `class
    C[T]` is the child of a type-parameter scope of the same line and name,
    whose table would otherwise win and make `x` a global."""
    index = {}
    if root is None:
        return index
    stack = [root]
    while stack:
        t = stack.pop()
        if t.get_type() != "module" and t.is_def():
            line, n = t.get_lineno(), t.get_name()
            index.setdefault((line, n), t)
            if n in ("listcomp", "setcomp", "dictcomp", "genexpr"):
                index.setdefault((line, None), t)
        stack.extend(t.get_children())
    return index


def parse_spec(text):
    s = text.strip()
    role = None
    if "@" in s:
        s, _, r = s.rpartition("@")
        if r not in ("lhs", "rhs"):
            raise ProbeError(f"probe {text!r}: role must be @lhs or @rhs, not @{r}")
        role = r
    parts = s.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise ProbeError(f"probe {text!r}: expected FILE:LINE:NAME[@lhs|@rhs]")
    file, line, name = parts
    try:
        lineno = int(line)
    except ValueError:
        raise ProbeError(f"probe {text!r}: line {line!r} is not a number")
    if lineno < 1:
        raise ProbeError(f"probe {text!r}: line numbers start at 1")
    if not all(p.isidentifier() for p in name.split(".")):
        raise ProbeError(f"probe {text!r}: {name!r} is not a name or attribute chain")
    return file, lineno, name, role


class Resolver:
    """Probe specs → probes, with the file models they were resolved in.

    `roots`: where a FILE that is not a path from the current directory is
    looked for, as the program will import it: the script's directory (or
    the current one for -m), then the interpreter's sys.path."""

    def __init__(self, specs, roots=()):
        self.models = {}
        self.probes = []
        self.found = {}  # FILE as written -> real path
        self.roots = [r for r in roots if r]
        self._resolve(specs)

    def find(self, file):
        """The source file a spec names, or None: a path that exists, else
        the first `root/FILE` that does (`pkg/mod.py` names a module of an
        installed package as well as one beside the script)."""
        return find_source(file, self.roots)

    def model(self, path):
        fm = self.models.get(path)
        if fm is None:
            fm = self.models[path] = FileModel(path)
        return fm

    def _resolve(self, specs):
        merged = set()
        paths = {}  # FILE as written -> real path (thousands of specs name a few files)
        for text in specs:
            file, line, name, role = parse_spec(text)
            path = paths.get(file)
            if path is None:
                found = self.find(file)
                if found is None:
                    raise ProbeError(
                        f"probe {text!r}: no such file {file!r} (looked in {os.getcwd()}, beside the script "
                        f"and on the interpreter's sys.path)")
                if not os.path.isfile(found):
                    raise ProbeError(f"probe {text!r}: {found} is not a file")
                path = paths[file] = self.found[file] = os.path.realpath(found)
            fm = self.model(path)
            if line > fm.nlines:
                raise ProbeError(f"probe {text!r}: {file} has only {fm.nlines} lines")
            # In source order: batches are in column order (SPEC §2 rule 6).
            occs = sorted((o for o in fm.occ_by_line.get(line, ()) if o.name == name), key=lambda o: (o.line, o.col))
            if not occs:
                names = fm.names_on_line(line)
                src = fm.source.splitlines()[line - 1].strip()
                if not src or src.startswith("#"):
                    what = "is blank" if not src else "is a comment"
                    raise ProbeError(f"probe {text!r}: {file}:{line} {what}; nothing can be probed there")
                where = _only_in_text(fm.source, line, name)
                raise ProbeError(
                    f"probe {text!r}: {name!r} does not occur on {file}:{line} ({src!r})"
                    + (f" except inside a {where}, which is not a variable" if where else "") + "; "
                    + (f"names there: {', '.join(names)}" if names else "no names can be probed on that line"))
            if role is None:
                role = "lhs" if any(o.bound for o in occs) else "rhs"
            chosen = [o for o in occs if (o.bound if role == "lhs" else o.reads)] or occs
            key = (path, line, name, role)
            if key in merged:
                continue  # duplicate specs are merged
            merged.add(key)
            p = Probe()
            p.id = len(self.probes)
            p.spec = f"{path}:{line}:{name}@{role}"
            p.file, p.line, p.name, p.role, p.occs = path, line, name, role, chosen
            self.probes.append(p)


def _only_in_text(source, line, name):
    """'string' or 'comment' when NAME (its first part) appears on LINE only
    inside a string literal or a comment; None otherwise. Error path only."""
    import io
    import tokenize
    word = name.split(".")[0]
    found = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.start[0] > line:
                break
            if tok.end[0] < line:
                continue
            if tok.type == tokenize.NAME and tok.string == word:
                return None
            kind = ("comment" if tok.type == tokenize.COMMENT
                    else "string" if tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1)
                    else None)
            if kind and _has_word(tok.string, word):
                found = found or kind
    except (tokenize.TokenError, SyntaxError):
        return None
    return found


def _has_word(text, word):
    i = text.find(word)
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + len(word)] if i + len(word) < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        i = text.find(word, i + 1)
    return False


def module_binds(table, name):
    """Whether the module assigns `name` (so `range` may not be the builtin)."""
    try:
        return table.lookup(name).is_assigned() or table.lookup(name).is_imported()
    except KeyError:
        return False
