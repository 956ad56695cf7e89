# probe agent: the in-process tracer core.
#
# This file is embedded in the `probe` binary and run as
#     python [interpreter options] -c <BOOTSTRAP> <this file> <fd> <core> <max-value-bytes>
#            <n> <spec 1> ... <spec n> <target...>
# where the bootstrap (src/capture/mod.rs) refuses Pythons older than 3.11
# before this file is even compiled.
# where <target...> is `script.py ARGS` or `-m module ARGS`. It resolves the
# probe specs against the source (ast + symtable), reports the result to the
# recorder over the inherited pipe <fd>, installs one of two cores
# (sys.monitoring on 3.12+, sys.settrace otherwise or on request), runs the
# program exactly as `python` would, and reports how it ended.
#
# Wire messages (all little-endian): u32 payload length, u8 type, payload.
#   1 HELLO  JSON  interpreter, chosen core, resolved probe table, batch sites
#   2 CHUNK  marshal((items, completions))
#   3 END    JSON  how the program ended
#   4 FATAL  JSON  a refusal before the program ran (bad spec, ...)
#   5 WARN   JSON  a warning for the recorder to print at the end
# A CHUNK item is one trigger (one batch):  [site, ts, v0, v1, ...] or, once
# the program has started a thread, [~site, ts, thread_ident, v0, ...].
# Values are plain int/float/complex/str/bytes/bool/None, or a tuple tagged
# by its first element (see the T_* constants); user tuples never reach the
# wire untagged. `completions` is a list of (token, value) for placeholders
# (T_PENDING, token) sent in earlier chunks.
#
# Everything here must stay harmless to the program: no exception escapes a
# callback, sys.modules is left as it was, the program's argv, __main__,
# sys.path[0], stdio and exit status are its own.

import sys

_MODS_BEFORE = set(sys.modules)

import os  # noqa: E402  (always imported at start-up)
import marshal  # noqa: E402
# The C node classes: the `ast` module itself imports `re` and `enum`, about
# 18 ms of start-up; parsing goes through compile(..., PyCF_ONLY_AST).
import _ast as ast  # noqa: E402
import symtable  # noqa: E402
import time  # noqa: E402
import _thread  # noqa: E402
import atexit  # noqa: E402
import opcode as _opcode  # noqa: E402

# Value tags (first element of a tagged tuple).
T_UNBOUND = 1      # (1,)
T_RAISED = 2       # (2,) unbound, or (2, value)
T_ERROR = 3        # (3, exc_type, message)
T_INCOMPLETE = 4   # (4,)
T_PENDING = 5      # (5, token)
T_TRUNC = 6        # (6, str_or_bytes)   truncated text
T_SUB = 7          # (7, type_name, base_value)
T_OTHER = 8        # (8, type_name, repr, truncated)
T_ARRAY = 9        # (9, dtype, shape, data, truncated, type_name)  C order, little-endian

MSG_HELLO, MSG_CHUNK, MSG_END, MSG_FATAL, MSG_WARN = 1, 2, 3, 4, 5

_UNBOUND = (T_UNBOUND,)
_INCOMPLETE = (T_INCOMPLETE,)
_RAISED_UNBOUND = (T_RAISED,)
_PEND = (T_PENDING, -1)  # placeholder object, identity-compared

_CO_GEN = 0x20 | 0x80 | 0x200  # GENERATOR | COROUTINE | ASYNC_GENERATOR
# Immutable values stored as they are (str/bytes may need truncating).
_PLAIN_TYPES = frozenset((int, float, bool, complex, type(None)))
_RESUME = _opcode.opmap.get("RESUME", -1)
_PY = sys.version_info[:2]


class ProbeError(Exception):
    """A spec that does not fit the source; reported before the program runs."""


# --------------------------------------------------------------------------
# Wire
# --------------------------------------------------------------------------

class Wire:
    def __init__(self, fd):
        self.fd = fd
        self.ident = None
        self.on_gone = None   # called once if the recorder is gone (EPIPE)
        self.dead = False     # the recorder is gone: nothing is sent any more
        try:
            st = os.fstat(fd)
            self.ident = (st.st_dev, st.st_ino)
        except OSError:
            self.fd = -1

    def usable(self):
        """Whether fd is still our pipe: a program that closes descriptors
        (a daemon, say) may have closed it, or reused the number for a file
        of its own. Then the pipe is opened again (see reopen)."""
        if self.fd < 0:
            return not self.dead and self.reopen()
        try:
            st = os.fstat(self.fd)
        except OSError:
            self.fd = -1
            return self.reopen()
        if (st.st_dev, st.st_ino) != self.ident:
            self.fd = -1  # the number is the program's now: never close it
            return self.reopen()
        return True

    def reopen(self):
        """The program closed our descriptor, but the recorder (our parent)
        still holds the pipe's read end: open the same pipe again through
        /proc, on a high descriptor number the program does not expect to
        get from open() (PROBE-AGENT-PORT: one function, Linux only)."""
        if self.ident is None or self.dead or getattr(self, "_reopening", False):
            return False
        self._reopening = True
        want = "pipe:[%d]" % self.ident[1]
        d = "/proc/%d/fd" % os.getppid()
        try:
            for name in os.listdir(d):
                path = d + "/" + name
                try:
                    if os.readlink(path) != want:
                        continue
                    # Non-blocking open: a pipe with no reader left gives
                    # ENXIO instead of waiting forever.
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    os.set_blocking(fd, True)  # back-pressure, as before
                    fd = _high_fd(fd)
                    st = os.fstat(fd)
                    if (st.st_dev, st.st_ino) == self.ident:
                        self.fd = fd
                        return True
                    os.close(fd)
                except OSError:
                    pass
        except OSError:
            pass
        finally:
            self._reopening = False
        return False

    def gone(self):
        """The recorder is gone (the pipe has no reader): say so once."""
        self.fd = -1
        if not self.dead:
            self.dead = True
            if self.on_gone is not None:
                try:
                    self.on_gone()
                except Exception:  # noqa: BLE001 - never raise into the program
                    pass

    def send(self, kind, payload):
        # A Ctrl-C turns into KeyboardInterrupt between any two bytecodes,
        # also in here; a message cut short would corrupt the stream, so it
        # is finished first and the exception raised afterwards. (Only the
        # instant between write() returning and its count being stored is
        # still exposed; the recorder reports a damaged stream, keeping all
        # that came before.)
        pending_exc = None
        view = None
        while True:
            try:
                if view is None:
                    if not self.usable():
                        break  # a forked child, or the pipe is gone: the program goes on
                    view = memoryview(len(payload).to_bytes(4, "little") + bytes((kind,)) + payload)
                while view:
                    try:
                        n = _write(self.fd, view)
                    except InterruptedError:
                        continue
                    except BrokenPipeError:
                        self.gone()
                        view = view[:0]
                        break
                    except OSError:
                        # The descriptor was closed under us (by another
                        # thread of the program): the rest of the message
                        # goes through the pipe opened again, so the stream
                        # stays whole.
                        self.fd = -1
                        if not self.reopen():
                            view = view[:0]
                            break
                        continue
                    view = view[n:]
                break
            except BaseException as e:  # noqa: BLE001 - re-raised below
                pending_exc = e
        if pending_exc is not None:
            raise pending_exc

    def send_json(self, kind, obj):
        self.send(kind, _to_json(obj).encode())


def _write(fd, data):
    """os.write that never kills the program by SIGPIPE: Python ignores
    SIGPIPE, but a program may have restored its default action; then the
    signal a write to a pipe without reader raises is blocked in this thread
    for the write and taken back, so only EPIPE remains."""
    import _signal  # imported by every interpreter at start-up
    if _signal.getsignal(_signal.SIGPIPE) == _signal.SIG_IGN:
        return os.write(fd, data)
    mask = {_signal.SIGPIPE}
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, mask)
    try:
        return os.write(fd, data)
    except BrokenPipeError:
        _signal.sigtimedwait(mask, 0)
        raise
    finally:
        if _signal.SIGPIPE not in old:
            _signal.pthread_sigmask(_signal.SIG_UNBLOCK, mask)


def _high_fd(fd):
    """A duplicate of fd numbered 100 or more (close-on-exec), fd closed;
    fd itself if that is not possible."""
    had = "fcntl" in sys.modules
    try:
        import fcntl
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    except Exception:  # noqa: BLE001
        return fd
    finally:
        if not had:
            sys.modules.pop("fcntl", None)
    os.close(fd)
    return high


_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _to_json(obj):
    """JSON for the control messages (the json module's import costs ~20 ms
    of start-up, through `re`; these messages hold only str/int/bool/None,
    lists and dicts)."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(int(obj))
    if isinstance(obj, str):
        out = []
        for ch in obj:
            e = _JSON_ESC.get(ch)
            if e is None:
                o = ord(ch)
                e = ch if 0x20 <= o and not 0xD800 <= o <= 0xDFFF else "\\u%04x" % o
            out.append(e)
        return '"' + "".join(out) + '"'
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_to_json(v) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(_to_json(str(k)) + ":" + _to_json(v) for k, v in obj.items()) + "}"
    return _to_json(str(obj))


# --------------------------------------------------------------------------
# Resolution: probe specs -> sites (ast + symtable, before the program runs)
# --------------------------------------------------------------------------

_COMP_TYPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_INLINED_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp) if _PY >= (3, 12) else ()
_SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef) + _COMP_TYPES


def _parse(source, path):
    return compile(source, path, "exec", 0x400, dont_inherit=True)  # PyCF_ONLY_AST


def _iter_child_nodes(node):
    for name in node._fields:
        v = getattr(node, name, None)
        if isinstance(v, ast.AST):
            yield v
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, ast.AST):
                    yield item


def _walk_nodes(node):
    todo = [node]
    while todo:
        n = todo.pop()
        todo.extend(_iter_child_nodes(n))
        yield n


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _span(node):
    return (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


class Span:
    """Where a statement or target is, without its syntax tree: the trees are
    dropped once probes are resolved, so that they cost the program's garbage
    collector nothing for the rest of the run."""
    __slots__ = ("lineno", "col_offset", "end_lineno", "end_col_offset", "test")

    def __init__(self, node):
        self.lineno = node.lineno
        self.col_offset = node.col_offset
        self.end_lineno = node.end_lineno
        self.end_col_offset = node.end_col_offset
        # A `while` keeps where its test is: see CodePlan.line_entries.
        self.test = Span(node.test) if isinstance(node, ast.While) else None


def _inside(pos, span):
    l, el, c, ec = pos
    if l is None or c is None or el is None or ec is None:
        return False
    return (l, c) >= (span[0], span[1]) and (el, ec) <= (span[2], span[3])


class Occurrence:
    __slots__ = ("name", "line", "col", "bound", "stmt", "scope", "comp", "node", "in_for_target", "in_for_iter")

    def __init__(self, name, line, col, bound, node):
        self.name = name
        self.line = line
        self.col = col
        self.bound = bound
        self.node = node
        self.stmt = None
        self.scope = None
        self.comp = None  # the comprehension generator binding this name, if any
        self.in_for_target = False
        self.in_for_iter = False


class FileModel:
    """A parsed source file: every name occurrence with its statement and scope."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as e:
            raise ProbeError(f"{path}: cannot read: {e.strerror}")
        try:
            self.source = raw.decode("utf-8")
        except UnicodeDecodeError:
            import tokenize, io
            try:
                enc, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
                self.source = raw.decode(enc)
            except (SyntaxError, UnicodeDecodeError, LookupError):
                raise ProbeError(f"{path}: not a Python source file (cannot decode it as text)")
        try:
            self.tree = _parse(self.source, path)
        except SyntaxError as e:
            raise ProbeError(f"{path} is not a Python source file: line {e.lineno}: {e.msg}; cannot place probes in it")
        except ValueError as e:
            raise ProbeError(f"{path}: not a Python source file ({e})")
        self.nlines = len(self.source.splitlines())
        try:
            self.symtab = symtable.symtable(self.source, path, "exec")
        except SyntaxError:
            self.symtab = None
        self.occ_by_line = {}
        self.stmts_by_line = {}
        self._walk(self.tree, None, self.tree, None)

    def _add(self, occ, stmt, scope, comp):
        occ.stmt = stmt
        occ.scope = scope
        occ.comp = comp
        self.occ_by_line.setdefault(occ.line, []).append(occ)

    def _walk(self, node, stmt, scope, comp):
        # Records statements and name occurrences with their owning scope.
        if isinstance(node, ast.stmt):
            stmt = node
            self.stmts_by_line.setdefault(node.lineno, []).append((node, scope))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # The name is bound in the enclosing scope, on the def line.
            self._add(Occurrence(node.name, node.lineno, node.col_offset, True, node), stmt, scope, comp)
            for d in node.decorator_list:
                self._walk(d, stmt, scope, comp)
            if isinstance(node, ast.ClassDef):
                for b in node.bases + [k.value for k in node.keywords]:
                    self._walk(b, stmt, scope, comp)
            else:
                for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                    self._walk(d, stmt, scope, comp)
                if node.returns is not None:
                    self._walk(node.returns, stmt, scope, comp)
            for child in node.body:
                self._walk(child, None, node, None)
            return
        if isinstance(node, ast.Lambda):
            for d in node.args.defaults:
                self._walk(d, stmt, scope, comp)
            self._walk(node.body, stmt, node, None)
            return
        if isinstance(node, _COMP_TYPES):
            gens = node.generators
            # The first iterable is evaluated in the enclosing scope.
            self._walk(gens[0].iter, stmt, scope, comp)
            for i, g in enumerate(gens):
                self._walk_target(g.target, stmt, node, g)
                if i > 0:
                    self._walk(g.iter, stmt, node, g)
                for cond in g.ifs:
                    self._walk(cond, stmt, node, g)
            if isinstance(node, ast.DictComp):
                self._walk(node.key, stmt, node, gens[-1])
                self._walk(node.value, stmt, node, gens[-1])
            else:
                self._walk(node.elt, stmt, node, gens[-1])
            return
        if isinstance(node, ast.Name):
            bound = isinstance(node.ctx, (ast.Store, ast.Del))
            self._add(Occurrence(node.id, node.lineno, node.col_offset, bound, node), stmt, scope, comp)
            return
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if chain is not None:
                bound = isinstance(node.ctx, (ast.Store, ast.Del))
                self._add(Occurrence(chain, node.end_lineno, node.col_offset, bound, node), stmt, scope, comp)
                if isinstance(node.ctx, ast.Store):
                    # The object part of an attribute store (`self` in
                    # `self.x = 1`) is read.
                    self._walk(node.value, stmt, scope, comp)
                    return
        if isinstance(node, ast.alias):
            name = node.asname or node.name.split(".")[0]
            self._add(Occurrence(name, node.lineno, node.col_offset, True, node), stmt, scope, comp)
            return
        if isinstance(node, ast.ExceptHandler) and node.name:
            self._add(Occurrence(node.name, node.lineno, node.col_offset, True, node), stmt, scope, comp)
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self._add(Occurrence(node.name, node.lineno, node.col_offset, True, node), stmt, scope, comp)
        if isinstance(node, ast.MatchMapping) and node.rest:
            self._add(Occurrence(node.rest, node.lineno, node.col_offset, True, node), stmt, scope, comp)
        if isinstance(node, (ast.For, ast.AsyncFor)):
            for o in self._collect(node.target, stmt, scope, comp):
                o.in_for_target = True
            for o in self._collect(node.iter, stmt, scope, comp):
                o.in_for_iter = True
            for child in node.body + node.orelse:
                self._walk(child, None, scope, comp)
            return
        if isinstance(node, ast.AugAssign):
            # `x += 1` reads and binds x: one occurrence, bound.
            self._walk(node.target, stmt, scope, comp)
            self._walk(node.value, stmt, scope, comp)
            return
        for child in _iter_child_nodes(node):
            self._walk(child, stmt, scope, comp)

    def _walk_target(self, target, stmt, comp_node, gen):
        for n in _walk_nodes(target):
            if isinstance(n, ast.Name):
                self._add(Occurrence(n.id, n.lineno, n.col_offset, True, n), stmt, comp_node, gen)

    def _collect(self, node, stmt, scope, comp):
        before = {id(o) for occs in self.occ_by_line.values() for o in occs}
        self._walk(node, stmt, scope, comp)
        return [o for occs in self.occ_by_line.values() for o in occs if id(o) not in before]

    def names_on_line(self, line):
        seen = []
        for o in sorted(self.occ_by_line.get(line, ()), key=lambda o: o.col):
            if o.name not in seen:
                seen.append(o.name)
        return seen


def _scope_key(scope):
    """(co_name, co_firstlineno) of the code object that runs `scope`."""
    if isinstance(scope, ast.Module):
        return ("<module>", None)
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        first = scope.decorator_list[0].lineno if scope.decorator_list else scope.lineno
        return (scope.name, first)
    if isinstance(scope, ast.Lambda):
        return ("<lambda>", scope.lineno)
    names = {ast.ListComp: "<listcomp>", ast.SetComp: "<setcomp>", ast.DictComp: "<dictcomp>", ast.GeneratorExp: "<genexpr>"}
    return (names[type(scope)], scope.lineno)


class Probe:
    __slots__ = ("id", "spec", "file", "line", "name", "role", "occ", "kind", "parts", "base", "fast", "stmt",
                 "multi", "cont")


class Site:
    """All probes that fire at one trigger point: one batch."""
    __slots__ = ("id", "key", "trigger", "probes", "rhs", "lhs", "immediate_lhs", "simple")

    def __init__(self, sid, key, trigger):
        self.id = sid
        self.key = key            # scope key
        self.trigger = trigger    # ("line", lineno) | ("stmt", stmt) | ("after", node) | ("iter", node)
        self.probes = []


def _read_kind(fm, occ):
    """How a name is read in its scope: 'local', 'global' or 'name' (dict scopes)."""
    base = occ.name.split(".")[0]
    scope = occ.scope
    if isinstance(scope, (ast.Module, ast.ClassDef)):
        if isinstance(scope, ast.ClassDef) and fm.symtab is not None:
            t = _find_table(fm.symtab, scope)
            if t is not None:
                try:
                    s = t.lookup(base)
                    if s.is_global() and s.is_declared_global():
                        return "global"
                    if s.is_free():
                        return "name"
                except KeyError:
                    pass
        return "name"
    if _PY >= (3, 12) and isinstance(scope, _INLINED_COMPS) and occ.comp is not None:
        return "local"  # inlined: the comprehension's names are fast locals of the outer frame
    if fm.symtab is None:
        return "local"
    t = _find_table(fm.symtab, scope)
    if t is None:
        return "local"
    try:
        s = t.lookup(base)
    except KeyError:
        return "global"
    if s.is_global() or (not s.is_local() and not s.is_free()):
        return "global"
    return "local"


def _find_table(root, scope):
    want_line = scope.lineno
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        want_name = scope.name
    elif isinstance(scope, ast.Lambda):
        want_name = "lambda"
    else:
        want_name = None
    stack = [root]
    while stack:
        t = stack.pop()
        if t.get_lineno() == want_line and t.get_type() != "module":
            n = t.get_name()
            if want_name is None or n == want_name:
                if want_name is not None or n in ("listcomp", "setcomp", "dictcomp", "genexpr"):
                    return t
        stack.extend(t.get_children())
    return None


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


def _find_source(file, roots):
    """The source file a spec (or `probe probes`) names, or None: a path that
    exists, else the first `root/FILE` that does (`pkg/mod.py` names a
    module of an installed package as well as one beside the script).
    `record` and `probe probes` both resolve files here (PROBE-AGENT-PORT)."""
    if os.path.exists(file):
        return file
    if os.path.isabs(file):
        return None
    for root in roots:
        if not root:
            continue
        cand = os.path.join(root, file)
        if os.path.isfile(cand):
            return cand
    return None


class Resolver:
    def __init__(self, specs, roots=()):
        self.models = {}
        self.probes = []
        # Where a FILE that is not a path from the current directory is
        # looked for, as the program will import it: the script's directory
        # (or the current one for -m), then the interpreter's sys.path.
        self.roots = [r for r in roots if r]
        self._resolve(specs)

    def find(self, file):
        return _find_source(file, self.roots)

    def model(self, path):
        fm = self.models.get(path)
        if fm is None:
            fm = self.models[path] = FileModel(path)
        return fm

    def _resolve(self, specs):
        merged = {}
        for text in specs:
            file, line, name, role = parse_spec(text)
            found = self.find(file)
            if found is None:
                raise ProbeError(
                    f"probe {text!r}: no such file {file!r} (looked in {os.getcwd()}, beside the script "
                    f"and on the interpreter's sys.path)")
            if not os.path.isfile(found):
                raise ProbeError(f"probe {text!r}: {found} is not a file")
            path = os.path.realpath(found)
            fm = self.model(path)
            if line > fm.nlines:
                raise ProbeError(f"probe {text!r}: {file} has only {fm.nlines} lines")
            # Leftmost first: the tree's walk order visits `c` before `a` in
            # `a if c else b`, but batches are in column order (SPEC §2 rule 6).
            occs = sorted((o for o in fm.occ_by_line.get(line, ()) if o.name == name), key=lambda o: o.col)
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
                occ = next(o for o in occs if o.bound) if role == "lhs" else occs[0]
            elif role == "lhs":
                occ = next((o for o in occs if o.bound), occs[0])
            else:
                occ = next((o for o in occs if not o.bound), occs[0])
            key = (path, line, name, role)
            if key in merged:
                continue  # duplicate specs are merged
            p = Probe()
            p.id = len(self.probes)
            p.spec = f"{path}:{line}:{name}@{role}"
            p.file, p.line, p.name, p.role, p.occ = path, line, name, role, occ
            p.parts = name.split(".")
            p.base = p.parts[0]
            p.kind = _read_kind(fm, occ)
            p.fast = p.kind == "local" and len(p.parts) == 1
            merged[key] = p
            self.probes.append(p)

    def sites(self):
        """Groups probes into sites (batches), ordered RHS then LHS, by column."""
        by_trigger = {}
        for p in self.probes:
            occ = p.occ
            fm = self.models[p.file]
            stmt = occ.stmt
            scope = occ.scope
            if occ.comp is not None:
                # Bound (or used) inside a comprehension: once per iteration,
                # right after the comprehension's target is bound.
                trig = ("after", occ.comp.target)
                if isinstance(scope, _INLINED_COMPS):
                    scope = _outer_code_scope(fm.tree, scope)
            elif occ.in_for_target:
                trig = ("after", stmt.target)
            elif occ.in_for_iter:
                trig = ("first", stmt.iter)
            elif isinstance(stmt, ast.While) and stmt.body and stmt.body[0].lineno == stmt.end_lineno == stmt.lineno:
                # `while c: i += 1` on one line: neither core reports a new
                # line per turn, so trigger on each evaluation of the test.
                trig = ("first", stmt.test)
            elif _starts_line(fm, stmt, occ.scope):
                trig = ("line", stmt.lineno)
            else:
                trig = ("first", stmt)
            k = (p.file, _scope_key(scope), _trig_key(trig))
            site = by_trigger.get(k)
            if site is None:
                site = by_trigger[k] = Site(len(by_trigger), (p.file, _scope_key(scope)), trig)
            site.probes.append(p)
        sites = list(by_trigger.values())
        for s in sites:
            s.probes.sort(key=lambda p: (p.role != "rhs", p.occ.col, p.id))
            s.rhs = [p for p in s.probes if p.role == "rhs"]
            # LHS on a binding that *is* the trigger (for / comprehension
            # targets) has nothing left to wait for: complete it at once.
            immediate = s.trigger[0] == "after"
            s.immediate_lhs = immediate
            s.lhs = [p for p in s.probes if p.role == "lhs"]
            # One deferred LHS probe of a plain name read through f_locals (a
            # function's local, or a module/class-level name): the cores
            # inline this case.
            # (Not on a multi-line statement: the inline completion does not
            # check whether the statement is still running.)
            s.simple = (not s.rhs and len(s.lhs) == 1 and not immediate
                        and len(s.lhs[0].parts) == 1 and s.lhs[0].kind in ("local", "name")
                        and not _needs_hold(s.lhs[0].occ.stmt))
        # Keep positions only; let the syntax trees go.
        for s in sites:
            if s.trigger[0] != "line":
                s.trigger = (s.trigger[0], Span(s.trigger[1]))
        for p in self.probes:
            st = p.occ.stmt
            p.stmt = Span(st)
            # Line events inside a still-running statement must not
            # complete its pending LHS (see _holds).
            p.multi = _needs_hold(st)
            p.cont = None
            p.occ = None
        # `for … in range(…)` headers: the only lines whose per-iteration
        # LINE event the monitoring core may silence (see CodePlan.quiet_offsets).
        self.range_headers = {}
        for path, fm in self.models.items():
            shadowed = fm.symtab is not None and _module_binds(fm.symtab, "range")
            lines = set()
            if not shadowed:
                for line, stmts in fm.stmts_by_line.items():
                    for st, _scope in stmts:
                        it = getattr(st, "iter", None)
                        if (isinstance(st, ast.For) and isinstance(it, ast.Call)
                                and isinstance(it.func, ast.Name) and it.func.id == "range"):
                            lines.add(line)
            self.range_headers[path] = lines
        self.models = None
        return sites


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


def _module_binds(table, name):
    """Whether the module assigns `name` (so `range` may not be the builtin)."""
    try:
        return table.lookup(name).is_assigned() or table.lookup(name).is_imported()
    except KeyError:
        return False


def _outer_code_scope(tree, comp):
    # The innermost non-inlined scope enclosing `comp`.
    best = tree
    stack = [(tree, tree)]
    while stack:
        node, scope = stack.pop()
        for child in _iter_child_nodes(node):
            if child is comp:
                return scope
            if isinstance(child, _SCOPE_TYPES) and not isinstance(child, _INLINED_COMPS):
                stack.append((child, child))
            else:
                stack.append((child, scope))
    return best


def _starts_line(fm, stmt, scope):
    # True when stmt is the first statement of its scope that begins on its line.
    for other, oscope in fm.stmts_by_line.get(stmt.lineno, ()):
        if oscope is scope and other is not stmt and (other.col_offset < stmt.col_offset):
            return False
    # A compound statement's one-line body shares the header's line.
    return True


def _trig_key(trig):
    kind, what = trig
    if kind == "line":
        return ("line", what)
    return (kind, what.lineno, what.col_offset, what.end_lineno, what.end_col_offset)


# --------------------------------------------------------------------------
# Code objects -> trigger points
# --------------------------------------------------------------------------

def _instructions(code):
    """[(offset, opcode, (lineno, end_lineno, col, end_col))] without CACHE entries."""
    raw = code.co_code
    out = []
    for i, pos in enumerate(code.co_positions()):
        op = raw[2 * i]
        if op == 0:  # CACHE
            continue
        out.append((2 * i, op, pos))
    return out


def _entry_offsets(code, node):
    """Offsets where an execution of `node` can start: its instructions whose
    predecessor (in offset order) lies outside it. A `while` test compiled
    twice (top and bottom of the loop) has two; a comprehension's back-jump
    inside a statement lands on none."""
    span = _span(node)
    out = set()
    prev_inside = False
    for off, op, pos in _instructions(code):
        inside = _inside(pos, span)
        if inside and not prev_inside:
            out.add(off)
        prev_inside = inside
    return out


def _line_starts(code):
    """Offsets whose line differs from the previous instruction's. Python
    3.12+'s settrace also reports a jump back within one line (each turn of an
    inlined comprehension); sys.monitoring and 3.11 do not, and neither do we."""
    out = set()
    prev = None
    for off, op, pos in _instructions(code):
        line = pos[0]
        if op == _RESUME:
            continue  # shares the def line; the first line event comes after it
        if line is not None and line != prev:
            out.add(off)
        if line is not None:
            prev = line
    # A jump from another line also starts a line (a `for` header's FOR_ITER
    # reached from the end of the body: the pending LHS of the body's last
    # line completes there, before the target is rebound).
    import dis
    jumps = set(dis.hasjrel) | set(dis.hasjabs)
    line_at = {}
    instrs = list(dis.get_instructions(code))
    for ins in instrs:
        line_at[ins.offset] = ins.positions.lineno
    for ins in instrs:
        if ins.opcode in jumps and isinstance(ins.argval, int):
            target_line = line_at.get(ins.argval)
            if target_line is not None and target_line != ins.positions.lineno:
                out.add(ins.argval)
    return out


def _first_offset(code, node):
    span = _span(node)
    best = None
    for off, op, pos in _instructions(code):
        if _inside(pos, span):
            if best is None or off < best:
                best = off
    return best


def _after_offset(code, node):
    """Offset of the instruction right after `node` (a target) has been bound."""
    opcode = _opcode
    span = _span(node)
    instrs = _instructions(code)
    binding = ("STORE_", "UNPACK_", "EXTENDED_ARG", "LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF",
               "LOAD_ATTR", "LOAD_CONST", "COPY", "SWAP", "BINARY_SUBSCR", "NOP")
    i = 0
    while i < len(instrs):
        off, op, pos = instrs[i]
        if _inside(pos, span) and opcode.opname[op].startswith(("STORE_", "UNPACK_")):
            break
        i += 1
    else:
        return None
    # Walk over the rest of the binding (tuple targets store several names).
    while i + 1 < len(instrs):
        off, op, pos = instrs[i + 1]
        if _inside(pos, span) and opcode.opname[op].startswith(binding):
            i += 1
            continue
        break
    if i + 1 >= len(instrs):
        return None
    return instrs[i + 1][0]


class CodePlan:
    """What to do in one probed code object."""
    __slots__ = ("line_of", "quiet_offsets",
                 "line_sites", "instr_sites", "has_lhs", "quiet_ok", "line_entries",
                 "keep_lines", "line_starts", "code")

    def __init__(self):
        self.line_sites = {}     # line -> Site (LINE-event triggers)
        self.line_entries = {}   # line -> offsets where that site's statement starts
        self.line_of = None      # offset -> line, built when first needed
        self.keep_lines = set()  # lines hosting instruction triggers: never silence their LINE
        self.line_starts = None  # offsets that begin a new line (settrace filters jumps within a line)
        self.instr_sites = {}    # offset -> Site (instruction triggers)
        self.has_lhs = False     # some deferred LHS capture can be pending in this code
        self.quiet_ok = True     # lines that cannot change a pending name may be silenced
        self.quiet_offsets = frozenset()  # FOR_ITER offsets whose LINE may be silenced


_WRITE_OPS = ("STORE_FAST", "DELETE_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST",
              "LOAD_FAST_AND_CLEAR", "STORE_FAST_MAYBE_NULL")


def _writer_lines(code, names):
    """Lines of `code` whose instructions can rebind or delete one of `names`.

    Only fast locals are considered: a plain local can change only through
    its own frame's STORE/DELETE instructions, so a pending LHS capture of it
    reads the same value at any later event as at the frame's very next line,
    provided no such line ran in between. That lets the monitoring core turn
    off LINE events everywhere else (the tight-loop header, say)."""
    lines = set()
    opname = _opcode.opname
    raw = code.co_code
    ext = 0
    for off, op, pos in _instructions(code):
        name = opname[op]
        arg = raw[off + 1] | ext
        ext = (arg << 8) if name == "EXTENDED_ARG" else 0
        if name not in _WRITE_OPS:
            continue
        if name in ("STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST"):
            idxs = (arg >> 4, arg & 15) if name == "STORE_FAST_STORE_FAST" else (arg >> 4,)
        else:
            idxs = (arg,)
        for i in idxs:
            try:
                n = code._varname_from_oparg(i)
            except (AttributeError, IndexError, ValueError):
                n = None
            if n is None or n in names:  # unknown: be safe, keep the line
                if pos[0] is not None:
                    lines.add(pos[0])
    return lines


# --------------------------------------------------------------------------
# The capture manager (shared by both cores)
# --------------------------------------------------------------------------

class Capture:
    """Reserves sequence positions, reads values, completes deferred captures.

    Records are appended to `chunk` in trigger order (an atomic list append
    under the GIL), so a record's position in the stream *is* its sequence
    number; the recorder counts. A deferred (LHS) capture is a slot in its
    item filled in later; if the chunk is flushed first, the slot goes out as
    a placeholder (T_PENDING, token) and the value follows as a completion."""

    def __init__(self, wire, sites, max_bytes, max_array_bytes):
        self.wire = wire
        self.sites = sites
        self.max_bytes = max_bytes
        self.max_array_bytes = max_array_bytes
        self.pending = {}        # frame -> list of [item, index, probe(, raised_value)]
        self.chunk = []          # never rebound: the cores cache its append
        self.completions = []    # never rebound either
        self.next_token = 0
        self.flush_interval = 25_000_000  # ns
        self.deadline = [time.monotonic_ns() + self.flush_interval]
        self.threaded = False
        self.lock = _thread.allocate_lock()
        self.sent = 0
        self.by_file = {}
        for s in sites:
            self.by_file.setdefault(s.key[0], []).append(s)
        # id(code) -> (code, CodePlan or None). Keyed by id because hashing a
        # code object hashes its whole contents (nested code included) on
        # every lookup; the entry keeps the code alive so the id stays its own.
        self.inflight = []       # pending lists taken out while their values are read
        self.plans = {}
        # Scopes (file, (co_name, first line)) whose code object has not
        # been seen yet; the monitoring core stops looking once it is empty.
        self.unfound = {s.key for s in sites}
        self.probed = {}         # id(code) -> CodePlan, probed code only (hot-path lookup)
        # line -> (code, entry offsets or None, site id, probe) for lines whose
        # only probe is one LHS local (the monitoring core's fast path).
        self.simple_lines = {}
        self.mt = [False]        # threads exist (mirrors `threaded` for closures)
        self.line_starts_needed = False  # the settrace core filters line events by them
        self.range_headers = {}  # file -> lines of `for … in range(…)` headers
        self.warnings = []
        # Set once the run is sealed (or in a forked child): nothing is
        # captured or sent any more (see close()).
        self.closed = False

    def internal_error(self, e):
        if len(self.warnings) < 20:
            self.warnings.append(f"internal error in the tracer (the program was not affected): {e!r}")

    # -- code discovery -----------------------------------------------------
    def plan_for(self, code):
        if self.closed:
            return None
        entry = self.plans.get(id(code))
        if entry is not None and entry[0] is code:
            return entry[1]
        plan = None
        fn = code.co_filename
        sites = self.by_file.get(fn)
        if sites is None and fn and not fn.startswith("<"):
            real = os.path.realpath(fn) if os.path.isabs(fn) else os.path.realpath(os.path.abspath(fn))
            sites = self.by_file.get(real)
        if sites:
            key_name = code.co_name
            deferred = set()
            for s in sites:
                name, first = s.key[1]
                if name != key_name:
                    continue
                if first is not None and first != code.co_firstlineno:
                    continue
                self.unfound.discard(s.key)
                if plan is None:
                    plan = CodePlan()
                kind, what = s.trigger
                if kind == "line" and what == code.co_firstlineno and key_name != "<module>":
                    # The body shares the def line (`def f(): x = 42`): no
                    # LINE event separates it from the frame's RESUME on
                    # 3.13, so trigger on the statement's first instruction.
                    kind, what = "first", s.probes[0].stmt
                if kind == "line":
                    entries = _entry_offsets(code, s.probes[0].stmt)
                    if plan.line_of is None:
                        plan.line_of = {off: pos[0] for off, op, pos in _instructions(code)}
                    if any(plan.line_of.get(off) != what for off in entries):
                        # The statement starts on a later line (3.12+ evaluates
                        # an inlined comprehension's iterable first): no LINE
                        # event for its first line marks the start, so
                        # trigger on its entry instructions.
                        kind, what = "first", s.probes[0].stmt
                if kind == "line":
                    plan.line_sites[what] = s
                    stmt = s.probes[0].stmt
                    plan.line_entries[what] = _entry_offsets(code, stmt)
                    if stmt.test is not None:
                        # The test is compiled twice (top and bottom of the
                        # loop); each evaluation is a trigger (SPEC §2 rule 5).
                        plan.line_entries[what] |= _entry_offsets(code, stmt.test)
                    if s.simple and what not in self.simple_lines:
                        # LINE events never repeat within one line on this
                        # core, so a one-line statement needs no entry check.
                        one_line = stmt.lineno == stmt.end_lineno
                        self.simple_lines[what] = (code, None if one_line else plan.line_entries[what],
                                                   s.id, s.probes[0])
                else:
                    offs = _entry_offsets(code, what) if kind == "first" else [_after_offset(code, what)]
                    offs = [o for o in offs if o is not None]
                    if not offs:
                        self.warnings.append(f"{fn}:{what.lineno}: no bytecode for the probed statement; it cannot trigger")
                        continue
                    for off in offs:
                        plan.instr_sites[off] = s
                    for off, op, pos in _instructions(code):
                        if off in offs and pos[0] is not None:
                            plan.keep_lines.add(pos[0])
                if s.lhs and not s.immediate_lhs:
                    plan.has_lhs = True
                    for p in s.lhs:
                        if p.multi:
                            p.cont = (p.stmt.lineno, p.stmt.end_lineno, frozenset(_entry_offsets(code, p.stmt)))
                        if not p.fast or p.base in code.co_cellvars or p.base in code.co_freevars:
                            plan.quiet_ok = False
                        deferred.add(p.base)
            if plan is not None and plan.has_lhs and plan.quiet_ok:
                # A pending LHS may skip the LINE event of a `for … in
                # range(…)` header that cannot rebind it: between the body's
                # end and its next line only FOR_ITER on a range iterator and
                # the target's STORE run — no user code that could change
                # the value or raise. Every other line completes it at once.
                writers = _writer_lines(code, deferred)
                headers = self.range_headers.get(fn) or self.range_headers.get(
                    os.path.realpath(fn) if fn else fn, ())
                plan.quiet_offsets = {
                    off for off, op, pos in _instructions(code)
                    if _opcode.opname[op] == "FOR_ITER" and pos[0] in headers and pos[0] not in writers}
            if plan is not None:
                if self.line_starts_needed:
                    plan.line_starts = _line_starts(code)
        if plan is not None:
            plan.code = code
            self.probed[id(code)] = plan
        self.plans[id(code)] = (code, plan)
        return plan

    # -- values -----------------------------------------------------------
    def snapshot(self, v):
        t = type(v)
        if t is int or t is float or t is bool or v is None or t is complex:
            return v
        if t is str or t is bytes:
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
                if np is not None:
                    if isinstance(v, np.ndarray) and not t.__module__.startswith("numpy.ma"):
                        # (A masked array's data alone would hide its mask:
                        # it is stored by repr.)
                        a = _ndarray(v, t, self.max_array_bytes)
                        if a is not None:
                            return a
                    elif isinstance(v, np.generic) and not isinstance(v, (float, complex)):
                        # int64, float32, bool_ …: stored as their Python
                        # value with the NumPy type name (float64 and
                        # complex128 are float/complex subclasses already).
                        base = v.item()
                        if type(base) in _PLAIN_TYPES:
                            return (T_SUB, t.__name__, base)
            for base in (bool, int, float, complex, str, bytes):
                if isinstance(v, base):
                    return (T_SUB, t.__qualname__, self.snapshot(base(v)))
            r = repr(v)
            if type(r) is not str:
                r = str(r)
            trunc = len(r) > self.max_bytes
            return (T_OTHER, _type_name(t), r[: self.max_bytes] if trunc else r, trunc)
        except BaseException as e:  # noqa: BLE001 - user code (repr) may raise anything
            return (T_ERROR, _type_name(type(e)), _safe_str(e, self.max_bytes))

    def read(self, frame, probe):
        """The probe's current value in frame, snapshotted, or a status tag."""
        try:
            if probe.kind == "local":
                v = frame.f_locals[probe.base]
            elif probe.kind == "global":
                g = frame.f_globals
                if probe.base in g:
                    v = g[probe.base]
                else:
                    v = frame.f_builtins[probe.base]
            else:
                loc = frame.f_locals
                if probe.base in loc:
                    v = loc[probe.base]
                elif probe.base in frame.f_globals:
                    v = frame.f_globals[probe.base]
                else:
                    v = frame.f_builtins[probe.base]
        except KeyError:
            return _UNBOUND
        except BaseException as e:  # noqa: BLE001
            return (T_ERROR, _type_name(type(e)), _safe_str(e, self.max_bytes))
        if len(probe.parts) > 1:
            try:
                for attr in probe.parts[1:]:
                    v = getattr(v, attr)
            except BaseException as e:  # noqa: BLE001 - a property may raise anything
                return (T_ERROR, _type_name(type(e)), _safe_str(e, self.max_bytes))
        return self.snapshot(v)

    # -- triggers and completion ------------------------------------------
    def fire(self, frame, site):
        """The general trigger path (the cores inline the common one-LHS case)."""
        if self.threaded:
            # Reserving seq (the append) and taking the timestamp must be one
            # step, or two threads could leave timestamps decreasing along seq.
            with self.lock:
                ts = time.monotonic_ns()
                item = [~site.id, ts, _thread.get_ident()]
                self._fill(frame, site, item)
                self.chunk.append(item)
        else:
            ts = time.monotonic_ns()
            item = [site.id, ts]
            self._fill(frame, site, item)
            self.chunk.append(item)
        if ts > self.deadline[0]:
            self.flush()

    def _fill(self, frame, site, item):
        for p in site.rhs:
            item.append(self.read(frame, p))
        if site.lhs:
            if site.immediate_lhs:
                for p in site.lhs:
                    item.append(self.read(frame, p))
            else:
                pl = self.pending.get(frame)
                if pl is None:
                    pl = self.pending[frame] = []
                elif type(pl) is tuple:
                    pl = self.pending[frame] = _as_list(pl)
                for p in site.lhs:
                    pl.append([item, len(item), p])
                    item.append(_PEND)

    def _final(self, frame, entry, raised):
        v = self.read(frame, entry[2])
        if raised:
            v = _RAISED_UNBOUND if v is _UNBOUND else (T_RAISED, v)
        return v

    def _settle(self, entry, v):
        item, idx = entry[0], entry[1]
        if item[idx] is _PEND:
            item[idx] = v
        else:
            self.completions.append((item[idx][1], v))

    def complete(self, frame, pl, raised=False):
        """Completes captures already taken out of `pending` (one thread only)."""
        for e in _as_list(pl):
            self._settle(e, self._final(frame, e, raised))

    def _take(self, frame):
        """Takes a frame's pending captures out of `pending`. With threads, a
        flush in another thread must still see them (it turns unfinished
        slots into placeholders), so they wait in `inflight` meanwhile."""
        with self.lock if self.threaded else _NO_LOCK:
            pl = self.pending.pop(frame, None)
            if pl:
                pl = _as_list(pl)
                self.inflight.append(pl)
            return pl

    def _release(self, pl):
        for i, other in enumerate(self.inflight):
            if other is pl:
                del self.inflight[i]
                return

    def complete_line(self, frame, pl, line):
        """A line event in `frame`: completes `pl` (taken out of `pending`,
        one thread only) except captures whose multi-line statement is still
        running; those go back. Returns whether any went back."""
        keep = [e for e in _as_list(pl) if _holds(e[2].cont, line, frame.f_lasti)]
        if not keep:
            self.complete(frame, pl)
            return False
        self.complete(frame, [e for e in _as_list(pl) if not _holds(e[2].cont, line, frame.f_lasti)])
        self.pending[frame] = keep
        return True

    def complete_frame(self, frame, raised=False, line=None):
        """Completes a frame's pending captures; at a line event (`line`
        given), not those whose multi-line statement is still running."""
        pl = self._take(frame)
        if not pl:
            return
        if line is not None:
            keep = [e for e in pl if _holds(e[2].cont, line, frame.f_lasti)]
            if keep:
                with self.lock if self.threaded else _NO_LOCK:
                    self._release(pl)
                    pl = [e for e in pl if not _holds(e[2].cont, line, frame.f_lasti)]
                    cur = self.pending.get(frame)
                    self.pending[frame] = keep + (_as_list(cur) if cur else [])
                    self.inflight.append(pl)
        # Reading may run the program's code (repr, properties): no lock held.
        vals = [self._final(frame, e, raised) for e in pl]
        with self.lock if self.threaded else _NO_LOCK:
            for e, v in zip(pl, vals):
                self._settle(e, v)
            self._release(pl)

    def suspend_frame(self, frame, line):
        """A generator/coroutine suspends at `line`: complete earlier lines only."""
        pl = self._take(frame)
        if not pl:
            return
        keep = [e for e in pl if _stmt_has_line(e[2], line)]
        done = [e for e in pl if not _stmt_has_line(e[2], line)]
        vals = [self._final(frame, e, False) for e in done]
        for e in keep:
            # Python 3.13 closes a generator suspended outside any handler
            # without raising GeneratorExit in it; keep what `raised` would read.
            v = self.read(frame, e[2])
            e[3:] = [_RAISED_UNBOUND if v is _UNBOUND else (T_RAISED, v)]
        with self.lock if self.threaded else _NO_LOCK:
            for e, v in zip(done, vals):
                self._settle(e, v)
            if keep:
                self.pending[frame] = keep
            self._release(pl)

    def flush(self):
        if self.threaded:
            with self.lock:
                self._flush()
        else:
            self._flush()

    def _flush(self):
        chunk = self.chunk
        if self.closed:
            # After the seal (daemon threads during interpreter shutdown) or
            # in a forked child: END was the last message; nothing follows it.
            del chunk[:]
            del self.completions[:]
            return
        n_inflight = len(self.inflight)
        for frame, pl in list(self.pending.items()):
            if type(pl) is tuple:
                pl = self.pending[frame] = _as_list(pl)
            self.inflight.append(pl)
        for pl in self.inflight:
            for entry in pl:
                item, idx = entry[0], entry[1]
                if item[idx] is _PEND:
                    item[idx] = (T_PENDING, self.next_token)
                    self.next_token += 1
        del self.inflight[n_inflight:]
        comps = self.completions
        self.deadline[0] = time.monotonic_ns() + self.flush_interval
        if chunk or comps:
            self.sent += len(chunk)
            # Dumped in place, not copied: a copy would double every item's
            # refcount and make marshal track each one for back-references.
            data = marshal.dumps((chunk, comps))
            del chunk[:]
            del comps[:]
            self.wire.send(MSG_CHUNK, data)

    def finish(self):
        """End of run: every capture still pending becomes `incomplete`."""
        for frame, pl in list(self.pending.items()):
            pl = _as_list(pl)
            closed = False
            # Only 3.13+ closes a generator without an exception event in
            # its frame, and only there does clear() refuse a suspended
            # frame; before 3.13, clear() would close the program's own
            # generator (running its finally blocks) — never call it there.
            if _PY >= (3, 13) and any(len(e) > 3 for e in pl):
                try:
                    frame.clear()  # refused while the generator is still suspended
                    closed = True
                except RuntimeError:
                    pass
            for e in pl:
                item, idx = e[0], e[1]
                v = e[3] if closed and len(e) > 3 else _INCOMPLETE
                if item[idx] is _PEND:
                    item[idx] = v
                else:
                    self.completions.append((item[idx][1], v))
        self.pending.clear()
        self._flush()

    def close(self):
        """No capture from now on, in any thread, with no cost on the hot
        paths: the cores find no plan for any code and nothing pending, and
        a chunk that still fills up (a callback under way in another thread)
        is dropped at its flush instead of being sent after END."""
        self.closed = True
        self.deadline[0] = 1 << 62
        self.probed.clear()
        self.simple_lines.clear()
        self.pending.clear()
        self.unfound.clear()
        self.plans.clear()


def _at_yield(co_code, lasti, yield_ops):
    """Whether a settrace 'return' event is a suspension (3.13 reports the
    RESUME right after YIELD_VALUE as the current instruction)."""
    op = co_code[lasti]
    if op in yield_ops:
        return True
    return op == _RESUME and lasti >= 2 and co_code[lasti - 2] in yield_ops


class _NoLock:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_NO_LOCK = _NoLock()


def _as_list(pl):
    """Pending captures of a frame as a list of [item, index, probe] entries.

    The hot path stores a single simple LHS capture as a tuple (item, probe),
    which is cheaper to build; everything else uses the list form."""
    if type(pl) is tuple:
        return [[pl[0], 2, pl[1]]]
    return pl


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
    try:
        if name == "bool":
            data = bytes(items)
        else:
            from array import array
            if name == "complex128":
                a = array("d", [p for c in items for p in (c.real, c.imag)])
            else:
                a = array("q" if name == "int64" else "d", items)
            if _BIG_ENDIAN:
                a.byteswap()
            data = a.tobytes()
    except OverflowError:
        return None  # an int beyond 64 bits (or beyond float range)
    return (T_ARRAY, name, (n,), data, trunc, t.__name__)


_NUM_TYPES = frozenset((int, float, complex))


_JUMPY = (ast.BoolOp, ast.IfExp, ast.ListComp, ast.SetComp, ast.DictComp)


def _needs_hold(stmt):
    """A simple (not compound) statement during which its frame can report
    a line event that is not a new start of it: one written over several
    lines, or one with jumps inside (`a and b`, `x if c else y`, chained
    comparisons, 3.12+'s inlined comprehensions), where Python 3.12 reports
    the line again at the jump target."""
    if hasattr(stmt, "body"):
        return False
    if stmt.lineno != stmt.end_lineno:
        return True
    for node in _walk_nodes(stmt):
        if isinstance(node, _JUMPY) or (isinstance(node, ast.Compare) and len(node.ops) > 1):
            return True
    return False


def _holds(cont, line, lasti):
    """Whether a line event at (line, lasti) is inside the still-running
    multi-line statement described by `cont` (first line, last line, entry
    offsets) rather than a new start of it or another statement."""
    return cont is not None and cont[0] <= line <= cont[1] and lasti not in cont[2]


def _stmt_has_line(probe, line):
    st = probe.stmt
    return st.lineno <= line <= st.end_lineno


def _type_name(t):
    try:
        mod = t.__module__
        q = t.__qualname__
        return q if mod in ("builtins", None) else f"{mod}.{q}"
    except BaseException:  # noqa: BLE001
        return "?"


def _safe_str(e, limit):
    try:
        s = str(e)
    except BaseException:  # noqa: BLE001
        s = ""
    return s[:limit]


# --------------------------------------------------------------------------
# Core: sys.monitoring (3.12+)
# --------------------------------------------------------------------------

class MonitoringCore:
    name = "monitoring"

    def __init__(self, cap):
        self.cap = cap
        mon = sys.monitoring
        self.mon = mon
        self.tool = None
        for tid in (4, 3, 2, 1, 0, 5):
            if mon.get_tool(tid) is None:
                mon.use_tool_id(tid, "probe")
                self.tool = tid
                break
        if self.tool is None:
            raise ProbeError("every sys.monitoring tool id is taken by other tools; try --core settrace")

    def install(self):
        mon, E, cap, tool = self.mon, self.mon.events, self.cap, self.tool
        DISABLE = mon.DISABLE
        getframe = sys._getframe
        probed = cap.probed
        simple_lines = cap.simple_lines
        mt = cap.mt
        pending = cap.pending
        set_local = mon.set_local_events
        local_events = E.LINE | E.PY_RETURN | E.PY_YIELD
        pc = time.monotonic_ns
        chunk_append = cap.chunk.append
        comp_append = cap.completions.append
        deadline = cap.deadline
        snapshot = cap.snapshot
        PEND = _PEND
        UNBOUND = _UNBOUND
        plain = _PLAIN_TYPES

        def setup(code):
            plan = cap.plan_for(code)
            if plan is not None:
                ev = local_events
                if plan.instr_sites:
                    ev |= E.INSTRUCTION
                set_local(tool, code, ev)
            return plan

        self.setup = setup

        def on_start(code, offset):
            try:
                setup(code)
                if not cap.unfound:
                    self.maybe_stop_looking()
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)
            return DISABLE

        def on_line(code, line):
            try:
                fast = simple_lines.get(line)
                if fast is None or fast[0] is not code or mt[0]:
                    fast = None
                    plan = probed.get(id(code))
                    if plan is None:
                        return DISABLE
                frame = getframe(1)
                kept = False
                if pending and mt[0]:
                    cap.complete_frame(frame, line=line)
                elif pending:
                    pl = pending.pop(frame, None)
                    if pl is not None:
                        if type(pl) is tuple:
                            # Inline completion of the common single LHS local.
                            try:
                                v = frame.f_locals[pl[1].base]
                            except KeyError:
                                # A local is unbound; a module/class name may still be a global.
                                v = UNBOUND if pl[1].fast else cap.read(frame, pl[1])
                            else:
                                if type(v) not in plain:
                                    v = snapshot(v)
                            item = pl[0]
                            if item[2] is PEND:
                                item[2] = v
                            else:
                                comp_append((item[2][1], v))
                        else:
                            kept = cap.complete_line(frame, pl, line)
                if fast is not None:
                    # The tight-loop case, kept to the fewest operations: a
                    # line whose only probe is one LHS local.
                    if fast[1] is not None and frame.f_lasti not in fast[1]:
                        return None
                    site_id, probe = fast[2], fast[3]
                    if kept:
                        cap.fire(frame, cap.sites[site_id])
                        return None
                else:
                    site = plan.line_sites.get(line)
                    if site is None:
                        if line in plan.keep_lines:
                            return None  # CPython 3.12 can drop an INSTRUCTION event when its LINE is disabled
                        if not plan.has_lhs or (not mt[0] and frame.f_lasti in plan.quiet_offsets):
                            return DISABLE
                        return None
                    if frame.f_lasti not in plan.line_entries[line]:
                        return None  # back into a multi-line statement, not a new start
                    if not site.simple or cap.threaded or kept:
                        cap.fire(frame, site)
                        return None
                    site_id, probe = site.id, site.probes[0]
                ts = pc()
                item = [site_id, ts, PEND]
                chunk_append(item)
                pending[frame] = (item, probe)
                if ts > deadline[0]:
                    cap.flush()
                return None
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)
                return None

        def on_instr(code, offset):
            try:
                plan = probed.get(id(code))
                if plan is None:
                    return DISABLE
                site = plan.instr_sites.get(offset)
                if site is None:
                    return DISABLE
                frame = getframe(1)
                if site.trigger[0] != "after" and pending:
                    cap.complete_frame(frame)
                cap.fire(frame, site)
                return None
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)
                return None

        def on_return(code, offset, retval):
            try:
                if pending and id(code) in probed:
                    cap.complete_frame(getframe(1))
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)

        def on_yield(code, offset, retval):
            try:
                if pending and id(code) in probed:
                    frame = getframe(1)
                    cap.suspend_frame(frame, frame.f_lineno)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)

        def on_raise(code, offset, exc):
            try:
                if pending:
                    frame = getframe(1)
                    if frame in pending:
                        cap.complete_frame(frame, raised=True)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)

        def on_unwind(code, offset, exc):
            try:
                if pending:
                    frame = getframe(1)
                    if frame in pending:
                        cap.complete_frame(frame)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)

        reg = mon.register_callback
        reg(tool, E.PY_START, on_start)
        reg(tool, E.LINE, on_line)
        reg(tool, E.INSTRUCTION, on_instr)
        reg(tool, E.PY_RETURN, on_return)
        reg(tool, E.PY_YIELD, on_yield)
        reg(tool, E.RAISE, on_raise)
        reg(tool, E.PY_UNWIND, on_unwind)
        self.global_events = E.PY_START | E.RAISE | E.PY_UNWIND
        mon.set_events(tool, self.global_events)

    def prepare(self, code):
        # The program's own code objects are all known before it runs: plan
        # them now, so that PY_START (which costs every call a little even
        # where it is disabled) is needed only for probes in other modules.
        todo = [code]
        while todo:
            c = todo.pop()
            self.setup(c)
            todo.extend(k for k in c.co_consts if type(k) is type(c))
        self.maybe_stop_looking()

    def maybe_stop_looking(self):
        E = self.mon.events
        if not self.cap.unfound and self.global_events & E.PY_START:
            self.global_events &= ~E.PY_START
            self.mon.set_events(self.tool, self.global_events)

    def on_new_thread(self):
        pass

    def on_threads(self):
        # Loop headers silenced while one thread ran must report again:
        # another thread may now change a value between the body's end and
        # its next line.
        try:
            sys.monitoring.restart_events()
        except Exception as e:  # noqa: BLE001
            self.cap.internal_error(e)

    def uninstall(self):
        # set_events(tool, 0) clears only the global events, and before 3.14
        # free_tool_id leaves callbacks and per-code events in place: without
        # this, code that already had local events (in daemon threads after
        # the seal, or in a forked child) would go on calling the callbacks.
        mon, tool = self.mon, self.tool
        try:
            mon.set_events(tool, 0)
            E = mon.events
            for ev in (E.PY_START, E.LINE, E.INSTRUCTION, E.PY_RETURN, E.PY_YIELD, E.RAISE, E.PY_UNWIND):
                mon.register_callback(tool, ev, None)
            for code, plan in list(self.cap.plans.values()):
                if plan is not None:
                    mon.set_local_events(tool, code, 0)
            mon.free_tool_id(tool)
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------
# Core: sys.settrace (3.11, or --core settrace)
# --------------------------------------------------------------------------

class SettraceCore:
    name = "settrace"

    def __init__(self, cap):
        self.cap = cap
        self.yield_ops = {_opcode.opmap[n] for n in ("YIELD_VALUE",) if n in _opcode.opmap}

    def install(self):
        cap = self.cap
        plans = cap.plans
        probed = cap.probed
        pending = cap.pending
        yield_ops = self.yield_ops
        pc = time.monotonic_ns
        chunk_append = cap.chunk.append
        comp_append = cap.completions.append
        deadline = cap.deadline
        snapshot = cap.snapshot
        PEND = _PEND
        UNBOUND = _UNBOUND
        plain = _PLAIN_TYPES
        mt = cap.mt
        rearm = _PY >= (3, 12)

        def local(frame, event, arg):
            try:
                if event == "line":
                    plan = probed[id(frame.f_code)]
                    lasti = frame.f_lasti
                    if lasti not in plan.line_starts or (lasti in plan.quiet_offsets and not mt[0]):
                        # Not a new line, or a range-loop header that cannot
                        # change a pending value (see CodePlan.quiet_offsets).
                        return local
                    kept = False
                    if pending:
                        pl = pending.get(frame)
                        if type(pl) is list and len(pl[0]) > 3 and _stmt_has_line(pl[0][2], frame.f_lineno):
                            # The line event some versions emit when a generator
                            # resumes inside `x = yield`: not yet the next line.
                            for e in pl:
                                del e[3:]
                            pl = None
                        elif pl is not None and cap.threaded:
                            cap.complete_frame(frame, line=frame.f_lineno)
                            pl = None
                        elif pl is not None:
                            del pending[frame]
                        if pl is not None:
                            if type(pl) is tuple:
                                try:
                                    v = frame.f_locals[pl[1].base]
                                except KeyError:
                                    # A local is unbound; a module/class name may still be a global.
                                    v = UNBOUND if pl[1].fast else cap.read(frame, pl[1])
                                else:
                                    if type(v) not in plain:
                                        v = snapshot(v)
                                item = pl[0]
                                if item[2] is PEND:
                                    item[2] = v
                                else:
                                    comp_append((item[2][1], v))
                            else:
                                kept = cap.complete_line(frame, pl, frame.f_lineno)
                    line = frame.f_lineno
                    site = plan.line_sites.get(line)
                    if site is not None and frame.f_lasti not in plan.line_entries[line]:
                        site = None  # a jump back inside the statement, not a new start
                    if site is not None:
                        if site.simple and not cap.threaded and not kept:
                            ts = pc()
                            item = [site.id, ts, PEND]
                            chunk_append(item)
                            pending[frame] = (item, site.probes[0])
                            if ts > deadline[0]:
                                cap.flush()
                        else:
                            cap.fire(frame, site)
                elif event == "opcode":
                    site = probed[id(frame.f_code)].instr_sites.get(frame.f_lasti)
                    if site is not None:
                        if site.trigger[0] != "after" and pending:
                            cap.complete_frame(frame)
                        cap.fire(frame, site)
                elif event == "return":
                    if pending and frame in pending:
                        code = frame.f_code
                        if code.co_flags & _CO_GEN and _at_yield(code.co_code, frame.f_lasti, yield_ops):
                            cap.suspend_frame(frame, frame.f_lineno)
                        else:
                            cap.complete_frame(frame)
                elif event == "exception":
                    if pending and frame in pending:
                        exc = arg[0]
                        if not (exc is StopIteration or exc is StopAsyncIteration):
                            cap.complete_frame(frame, raised=True)
            except Exception as e:  # noqa: BLE001 - never raise into the program
                if cap.closed:
                    return None  # sealed, or a forked child: stop tracing this frame
                cap.internal_error(e)
            return local

        def global_trace(frame, event, arg):
            try:
                code = frame.f_code
                entry = plans.get(id(code))
                if entry is not None and entry[0] is code:
                    plan = entry[1]
                else:
                    plan = cap.plan_for(code)
                if plan is None:
                    return None
                if plan.instr_sites:
                    frame.f_trace_opcodes = True
                    if rearm:
                        # 3.12/3.13 ignore f_trace_opcodes set during the call
                        # event until the trace function is installed again.
                        frame.f_trace = local
                        sys.settrace(global_trace)
                return local
            except Exception as e:  # noqa: BLE001 - never raise into the program
                cap.internal_error(e)
                return None

        self.global_trace = global_trace
        sys.settrace(global_trace)

    def prepare(self, code):
        self.cap.plan_for(code)

    def on_new_thread(self):
        sys.settrace(self.global_trace)

    def on_threads(self):
        pass

    def uninstall(self):
        if sys.gettrace() is not self.global_trace:
            self.cap.warnings.append(
                "the program replaced the trace function (sys.settrace) while it ran; captures after "
                "that point are missing (on Python 3.12+ the sys.monitoring core coexists with other tools)")
        sys.settrace(None)


# --------------------------------------------------------------------------
# Threads: one global seq; thread ids once threads exist
# --------------------------------------------------------------------------

def _hook_threads(cap, core):
    def wrap(start):
        def start_thread(function, *args, **kwargs):
            if not cap.threaded:
                cap.threaded = True
                cap.mt[0] = True
                core.on_threads()

            def run(*a, **kw):
                core.on_new_thread()
                return function(*a, **kw)
            return start(run, *args, **kwargs)
        start_thread.__wrapped__ = start
        return start_thread

    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        orig = getattr(_thread, name, None)
        if orig is not None:
            setattr(_thread, name, wrap(orig))
    th = sys.modules.get("threading")
    if th is not None:
        for name in ("_start_new_thread", "_start_joinable_thread"):
            orig = getattr(th, name, None)
            if orig is not None:
                setattr(th, name, wrap(orig))


# --------------------------------------------------------------------------
# Running the program as `python` would
# --------------------------------------------------------------------------

def _strip_agent_frames(e):
    """The exception with our own frames (compiled as "<probe-agent>" or the
    "<string>" bootstrap) dropped from its traceback, as python would show it."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in ("<probe-agent>", "<string>"):
        tb = tb.tb_next
    e.__traceback__ = tb
    return tb


class Runner:
    def __init__(self, wire, cfg, target):
        self.wire = wire
        self.cfg = cfg
        self.target = target
        self.exit = {"kind": "exit", "code": 0}
        self.cap = None
        self.sealed = False
        self.children = 0   # child processes started untraced (see _watch_children)
        self.forks = 0      # of which forks seen by the at-fork hook
        wire.on_gone = self.recorder_gone

    def recorder_gone(self):
        """The recorder died: say so once on the program's stderr, stop
        tracing, and let the program go on (PROBE-AGENT-PORT)."""
        try:
            os.write(2, b"probe: the recorder is gone; recording stopped, the program goes on untraced\n")
        except OSError:
            pass
        self.sealed = True
        if self.cap is not None:
            try:
                self.core.uninstall()
            except Exception:  # noqa: BLE001
                pass
            self.cap.close()

    def forked_parent(self):
        self.forks += 1
        self.children += 1

    def before_exec(self, what):
        """os.exec* is about to replace the program: send what is captured
        and an END saying so, since nothing runs after a successful exec.
        If the exec fails, the program goes on and a later END replaces
        this one (PROBE-AGENT-PORT)."""
        if self.sealed or self.cap is None:
            return
        cap = self.cap
        held = cap.lock.acquire(timeout=10) if cap.threaded else False
        try:
            cap._flush()
            self.wire.send_json(MSG_END, {"kind": "exec", "code": 0, "exec": str(what),
                                          "untraced_children": self.children + 1,
                                          "batches_sent": cap.sent})
        finally:
            if held:
                cap.lock.release()

    def seal(self):
        if self.sealed or self.cap is None:
            return
        self.sealed = True
        cap = self.cap
        # Other threads (daemon threads still running at exit, or the rest
        # of the program when a thread calls os._exit) may be capturing or
        # in the middle of sending a chunk: the last chunk, the warnings and
        # END go out under the lock, so that no message interleaves with
        # theirs, and after them nothing is sent (close()). A thread stuck
        # with the lock for 10 s gets no END rather than a corrupt stream.
        held = False
        if cap.threaded:
            held = cap.lock.acquire(timeout=10)
            if not held:
                self.wire.fd = -1
        try:
            try:
                self.core.uninstall()
            except Exception:  # noqa: BLE001
                pass
            cap.finish()
            cap.close()
            for w in cap.warnings:
                self.wire.send_json(MSG_WARN, {"message": w})
            self.wire.send_json(MSG_END, dict(self.exit, batches_sent=cap.sent,
                                              untraced_children=self.children))
        finally:
            if held:
                cap.lock.release()

    def forked(self):
        """In a forked child: stop tracing and let go of the pipe. The lock
        may have been held by a thread that does not exist here: the child
        gets a fresh one, and nothing in it captures any more."""
        try:
            fd, self.wire.fd = self.wire.fd, -1
            # Never open the parent's pipe again from here (Wire.reopen).
            self.wire.dead = True
            self.wire.ident = None
            self.sealed = True
            self.cap.lock = _thread.allocate_lock()
            self.core.uninstall()
            self.cap.close()
            del self.cap.chunk[:]
            del self.cap.completions[:]
            del self.cap.inflight[:]
            os.close(fd)
        except Exception:  # noqa: BLE001 - the child must go on unharmed
            pass

    def main(self):
        cfg = self.cfg
        try:
            t = self.target
            first = os.getcwd() if t[:1] == ["-m"] or not t else os.path.dirname(os.path.abspath(t[0]))
            resolver = Resolver(cfg["probes"], [first] + sys.path[1:])
            sites = resolver.sites()
            range_headers = resolver.range_headers
            core_name = self.choose_core(cfg.get("core", "auto"))
        except ProbeError as e:
            self.wire.send_json(MSG_FATAL, {"message": str(e)})
            return 2
        cap = self.cap = Capture(self.wire, sites, cfg["max_value_bytes"], cfg["max_array_bytes"])
        core = self.core = MonitoringCore(cap) if core_name == "monitoring" else SettraceCore(cap)
        cap.line_starts_needed = core_name != "monitoring"
        cap.range_headers = range_headers
        hello = {
            "python_version": "%d.%d.%d" % sys.version_info[:3],
            "python_executable": sys.executable,
            "core": core.name,
            "core_note": self.core_note,
            "t0_ns": time.monotonic_ns(),
            "main_thread": _thread.get_ident(),
            "probes": [
                {"id": p.id, "spec": p.spec, "file": p.file, "line": p.line, "name": p.name, "role": p.role}
                for p in resolver.probes
            ],
            "sites": [[p.id for p in s.probes] for s in sites],
        }
        # Leave sys.modules as the program would find it without us.
        for name in set(sys.modules) - _MODS_BEFORE:
            sys.modules.pop(name, None)
        # Set up the program's module and code before tracing starts.
        try:
            code, run = self.prepare_target()
        except SystemExit as e:
            self.wire.send_json(MSG_FATAL, {"message": str(e.code)})
            return 2
        self.wire.send_json(MSG_HELLO, hello)
        atexit.register(self.seal)
        # A forked child (multiprocessing's default on Linux) must not write
        # into the parent's stream: it would duplicate sequence numbers.
        os.register_at_fork(after_in_child=self.forked, after_in_parent=self.forked_parent)
        _hook_threads(cap, core)
        _wrap_os_exit(self)
        _watch_children(self)
        core.install()
        if code is not None:
            core.prepare(code)
        try:
            run()
        except SystemExit as e:
            c = e.code
            self.exit = {"kind": "exit", "code": c if isinstance(c, int) else (0 if c is None else 1),
                         "exception": "SystemExit"}
            raise
        except KeyboardInterrupt as e:
            self.exit = {"kind": "exception", "code": 130, "exception": "KeyboardInterrupt"}
            sys.excepthook(type(e), e, _strip_agent_frames(e))
            # Runs before seal() (atexit is last-in, first-out): seal first.
            atexit.register(lambda: (self.seal(), _die_by_sigint()))
            raise SystemExit(130)
        except BaseException as e:  # noqa: BLE001 - the program's own crash
            self.exit = {"kind": "exception", "code": 1, "exception": _type_name(type(e))}
            sys.excepthook(type(e), e, _strip_agent_frames(e))
            raise SystemExit(1)
        return None

    core_note = None

    def choose_core(self, want):
        has_mon = hasattr(sys, "monitoring")
        if want == "monitoring":
            if not has_mon:
                raise ProbeError(f"--core monitoring needs Python 3.12+ (sys.monitoring); this is Python {sys.version.split()[0]}")
            return "monitoring"
        if want == "settrace":
            return "settrace"
        if has_mon:
            taken = all(sys.monitoring.get_tool(i) is not None for i in range(6))
            if taken:
                self.core_note = "every sys.monitoring tool id is taken; fell back to sys.settrace"
                return "settrace"
            return "monitoring"
        self.core_note = f"Python {sys.version.split()[0]} has no sys.monitoring; using sys.settrace"
        return "settrace"

    def prepare_target(self):
        t = self.target
        if t[0] == "-m":
            if len(t) < 2:
                raise SystemExit("-m needs a module name")
            mod = t[1]
            import runpy
            # As `python -m`: sys.path[0] is the current directory (unless -P/-I).
            if not sys.flags.safe_path:
                sys.path[0] = os.getcwd()
            sys.argv = [t[1]] + t[2:]
            # runpy sets argv[0] to the module's file and runs it as __main__.
            try:
                mod_name, spec, code = runpy._get_module_details(mod)
            except ImportError as e:
                raise SystemExit(f"{sys.executable}: {e}")
            sys.argv[0] = spec.origin

            def run():
                _run_as_main(code, spec.origin, spec, mod_name)
            return code, run
        path = t[0]
        try:
            with open(path, "rb") as fh:
                src = fh.read()
        except OSError as e:
            raise SystemExit(f"{sys.executable}: can't open file {path!r}: [Errno {e.errno}] {e.strerror}")
        if not sys.flags.safe_path:
            sys.path[0] = os.path.dirname(os.path.realpath(path))
        sys.argv = list(t)
        abspath = os.path.realpath(path)
        try:
            code = compile(src, abspath, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            # As python does: the error is the program's own outcome.
            err = e

            def run():
                raise err
            return None, run

        def run():
            _run_as_main(code, path, None, None, abspath)
        return code, run


def _run_as_main(code, argv0_path, spec, pkg_name, filename=None):
    main = type(sys)("__main__")
    main.__file__ = filename or argv0_path
    main.__builtins__ = __builtins__
    main.__cached__ = None
    if spec is not None:
        main.__spec__ = spec
        main.__loader__ = spec.loader
        main.__package__ = pkg_name.rpartition(".")[0]
        main.__file__ = spec.origin
    else:
        main.__spec__ = None
        main.__loader__ = sys.modules["__main__"].__dict__.get("__loader__")
        main.__package__ = None
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _die_by_sigint():
    # As CPython does for an uncaught KeyboardInterrupt: exit by SIGINT.
    import _signal
    sys.stdout.flush() if sys.stdout else None
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGINT)


def _wrap_os_exit(runner):
    real = os._exit

    def _exit(status):
        try:
            runner.exit = {"kind": "os_exit", "code": status}
            runner.seal()
        except BaseException:  # noqa: BLE001
            pass
        real(status)
    _exit.__wrapped__ = real
    _exit.__doc__ = real.__doc__
    os._exit = _exit


# --------------------------------------------------------------------------
# Children: not traced yet, but counted (PROBE-AGENT-PORT: this section)
# --------------------------------------------------------------------------

def _watch_children(runner):
    """Counts the child processes the program starts, which run untraced:
    forks (the at-fork hook: os.fork, multiprocessing's fork, os.spawn*,
    pty), os.posix_spawn/posix_spawnp, os.system, os.exec* (the program
    replaced: its captures are sent first, see Runner.before_exec), and
    subprocess and multiprocessing's spawn/forkserver, which start children
    through _posixsubprocess.fork_exec: that function is wrapped in its
    module and in subprocess as soon as they are imported (a sys.meta_path
    entry that finds nothing itself notices their import and goes away
    once both are seen)."""
    def counted(real):
        def call(*args, **kwargs):
            forks = runner.forks
            r = real(*args, **kwargs)
            if runner.forks == forks:  # a preexec_fn made the at-fork hook count it
                runner.children += 1
            return r
        call.__wrapped__ = real
        call._probe_counted = True
        for a in ("__name__", "__qualname__", "__doc__"):
            try:
                setattr(call, a, getattr(real, a))
            except (AttributeError, TypeError):
                pass
        return call

    for name in ("posix_spawn", "posix_spawnp", "system"):
        real = getattr(os, name, None)
        if real is not None:
            setattr(os, name, counted(real))

    for name in ("execv", "execve"):
        real = getattr(os, name, None)
        if real is None:
            continue

        def make(real):
            def call(path, *args, **kwargs):
                try:
                    runner.before_exec(os.fsdecode(path) if not isinstance(path, int) else path)
                except Exception:  # noqa: BLE001 - never raise into the program
                    pass
                return real(path, *args, **kwargs)
            call.__wrapped__ = real
            call.__name__ = real.__name__
            call.__doc__ = real.__doc__
            return call
        setattr(os, name, make(real))

    def hook_spawners():
        ps = sys.modules.get("_posixsubprocess")
        fe = getattr(ps, "fork_exec", None)
        if fe is not None and not getattr(fe, "_probe_counted", False):
            ps.fork_exec = counted(fe)
        sp = sys.modules.get("subprocess")
        fe = getattr(sp, "_fork_exec", None)
        if fe is not None and not getattr(fe, "_probe_counted", False):
            sp._fork_exec = counted(fe)
        return ps is not None and sp is not None

    watched = ("subprocess", "_posixsubprocess")

    class _SpawnWatch:
        """Finds nothing; notices the import of the modules that start
        children and wraps their spawning function once they are loaded."""
        def find_spec(self, name, path=None, target=None):
            if name not in watched:
                return None
            try:
                at = sys.meta_path.index(self) + 1
            except ValueError:
                return None
            spec = None
            for finder in sys.meta_path[at:]:
                find = getattr(finder, "find_spec", None)
                if find is not None:
                    spec = find(name, path, target)
                    if spec is not None:
                        break
            loader = getattr(spec, "loader", None)
            real = getattr(loader, "exec_module", None)
            if real is None:
                return None  # the usual machinery finds it, or reports it

            def exec_module(module):
                try:
                    real(module)
                finally:
                    try:
                        del loader.exec_module
                    except AttributeError:
                        pass
                    if hook_spawners():
                        try:
                            sys.meta_path.remove(self)
                        except ValueError:
                            pass
            try:
                loader.exec_module = exec_module  # this module's loader only
            except (AttributeError, TypeError):
                return None
            return spec

    if not hook_spawners():
        sys.meta_path.insert(0, _SpawnWatch())


def list_probes(path, line):
    """`probe probes`: per line, the names a probe can name and the role it
    gets by default, from the same FileModel that validates `record`'s specs.
    Returns a JSON-ready dict; errors come back as {"error": message}."""
    try:
        # As `record` finds a spec's FILE: a path, else under the current
        # directory or on this interpreter's sys.path (sys.path[0] is the
        # current directory under -c), so `pkg/mod.py` names an installed
        # package's module here too (PROBE-AGENT-PORT).
        found = _find_source(path, [os.getcwd()] + sys.path[1:])
        if found is None:
            raise ProbeError(f"{path}: no such file (looked in {os.getcwd()} and on {sys.executable}'s sys.path)")
        if not os.path.isfile(found):
            raise ProbeError(f"{path}: not a file")
        path = found
        fm = FileModel(os.path.realpath(path))
        if line > fm.nlines:
            raise ProbeError(f"{path} has only {fm.nlines} lines (asked for line {line})")
    except ProbeError as e:
        return {"error": str(e)}
    src_lines = fm.source.splitlines()
    out = []
    for ln in ([line] if line else sorted(fm.occ_by_line)):
        names = {}
        for o in sorted(fm.occ_by_line.get(ln, ()), key=lambda o: o.col):
            e = names.get(o.name)
            if e is None:
                e = names[o.name] = {"name": o.name, "bound": False, "read": False,
                                     "scope": _scope_key(o.scope)[0]}
            if o.bound:
                e["bound"] = True
                # `x += 1` and `self.n += 1` read the name before binding it.
                if isinstance(o.stmt, ast.AugAssign) and o.node is o.stmt.target:
                    e["read"] = True
            else:
                e["read"] = True
        for e in names.values():
            e["default_role"] = "lhs" if e["bound"] else "rhs"
        text = src_lines[ln - 1].strip() if ln <= len(src_lines) else ""
        entry = {"line": ln, "source": text, "names": list(names.values())}
        if not names:
            entry["note"] = ("blank line" if not text else "comment" if text.startswith("#")
                             else "no names can be probed on this line")
        out.append(entry)
    return {"file": os.path.realpath(path), "python": sys.version.split()[0],
            "python_executable": sys.executable, "lines": out}


def _agent_main():
    argv = sys.argv
    if argv[2:3] == ["--list-probes"]:
        # argv: ['-c', '1', '--list-probes', file, line (0 = all)]
        sys.stdout.write(_to_json(list_probes(argv[3], int(argv[4]))) + "\n")
        return
    # argv: ['-c', fd, core, max_value_bytes, max_array_bytes, n, spec*n,
    # target...] (the bootstrap removed the agent source)
    fd = int(argv[1])
    try:
        os.set_inheritable(fd, False)
    except OSError:
        pass
    n = int(argv[5])
    cfg = {"core": argv[2], "max_value_bytes": int(argv[3]), "max_array_bytes": int(argv[4]),
           "probes": argv[6:6 + n]}
    wire = Wire(fd)
    runner = Runner(wire, cfg, argv[6 + n:])
    rc = runner.main()
    if rc is not None:
        raise SystemExit(rc)


_agent_main()
