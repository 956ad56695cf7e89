# probe agent: `probe probes` — what can be probed where, and (with --plan)
# the capture plan that probing it would execute.

import os
import sys

from . import plan as _plan
from . import resolve  # noqa: F401 - loaded on demand (boot.py): before the line below
from .resolve import FileModel, ProbeError, Resolver, ast, scope_label


def find_source(path, roots):
    """The file `path` names, looked for as `record -p` looks: a path that
    exists, else `root/path` for the script's directory and sys.path."""
    if os.path.exists(path):
        return path
    if not os.path.isabs(path):
        for root in roots:
            cand = os.path.join(root, path)
            if os.path.isfile(cand):
                return cand
    return None


def list_probes(path, line, roots=(), with_plan=False):
    """Per line, the names a probe can name and the role each gets by
    default, from the same FileModel that validates `record`'s specs.
    Returns a JSON-ready dict; errors come back as {"error": message}."""
    try:
        found = find_source(path, list(roots) + sys.path[1:])
        if found is None:
            raise ProbeError(f"{path}: no such file (looked in {os.getcwd()} and on the interpreter's sys.path)")
        if not os.path.isfile(found):
            raise ProbeError(f"{found}: not a file")
        real = os.path.realpath(found)
        fm = FileModel(real)
        if line > fm.nlines:
            raise ProbeError(f"{path} has only {fm.nlines} lines (asked for line {line})")
    except ProbeError as e:
        return {"error": str(e)}
    src_lines = fm.source.splitlines()
    out = []
    specs = []
    for ln in ([line] if line else sorted(fm.occ_by_line)):
        names = {}
        for o in sorted(fm.occ_by_line.get(ln, ()), key=lambda o: o.col):
            e = names.get(o.name)
            if e is None:
                e = names[o.name] = {"name": o.name, "bound": False, "read": False, "scope": scope_label(o.scope)}
            if o.bound:
                e["bound"] = True
                # `x += 1` and `self.n += 1` read the name before binding it.
                if isinstance(o.stmt, ast.AugAssign) and o.node is o.stmt.target:
                    e["read"] = True
            else:
                e["read"] = True
        for e in names.values():
            e["default_role"] = "lhs" if e["bound"] else "rhs"
            specs.append(f"{real}:{ln}:{e['name']}@{e['default_role']}")
            if e["bound"] and e["read"]:
                specs.append(f"{real}:{ln}:{e['name']}@rhs")
        text = src_lines[ln - 1].strip() if ln <= len(src_lines) else ""
        entry = {"line": ln, "source": text, "names": list(names.values())}
        if not names:
            entry["note"] = ("blank line" if not text else "comment" if text.startswith("#")
                             else "no names can be probed on this line")
        out.append(entry)
    result = {"file": real, "python": sys.version.split()[0], "python_executable": sys.executable,
              "lines": out}
    if with_plan:
        result["plans"] = plans_for(real, fm.source, specs)
    return result


def plans_for(path, source, specs):
    """The plans of every code object of `path` that the probes `specs`
    would touch, as text: what `record --debug-plan` prints."""
    try:
        resolver = Resolver(specs)
        sites, models = _plan.make_sites(resolver)
        planner = _plan.Planner(sites, models)
        code = compile(source, path, "exec", dont_inherit=True)
    except (ProbeError, SyntaxError, ValueError) as e:
        return [f"cannot plan: {e}"]
    dumps = []
    todo = [code]
    while todo:
        c = todo.pop(0)
        p = planner.plan_for(c)
        if p is not None:
            dumps.append(p.dump())
        todo.extend(k for k in c.co_consts if type(k) is type(c))
    return dumps
