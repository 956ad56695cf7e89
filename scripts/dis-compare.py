#!/usr/bin/env python3
"""What changes, version to version, under a line tracer's feet.

    python3 scripts/dis-compare.py [--pythons 3.11,3.12,3.13,3.14,3.15] [--snippet NAME]...
                                   [--full] [-o REPORT.md]

For a set of small functions covering every construct the capture engine
deals with (for / while / if / with / try / finally / match /
comprehensions / generator expressions / await / yield / lambda /
decorators / multi-line statements / one-line bodies), each interpreter
dumps

  * the instructions (CACHE entries left out) with their positions
    (`co_positions`: line, column, end line, end column), marking the
    offsets that start a line;
  * the events `sys.settrace` reports while the function runs (`line`
    with its line and `f_lasti`, `call`/`return`/`exception`);
  * the events `sys.monitoring` reports (3.12+): PY_START, LINE with its
    offset, BRANCH (3.12/3.13) or BRANCH_LEFT / BRANCH_RIGHT (3.14+),
    JUMP, PY_YIELD, PY_RESUME, PY_RETURN, RAISE, PY_UNWIND, STOP_ITERATION;

then this script prints, per snippet, each event stream per version
(versions with the same stream share a column), and the instruction
listings side by side with --full. The interpreter for version 3.X is found
as the tests find it: $PROBE_TEST_PYTHON_3_X, .ci/venvs/3.X,
/root/.pyenv/versions/3.X.*, $PROBE_PYTHON_ROOT (/opt/probe-python)/3.X,
python3.X on PATH.

Stdlib only; the dumping half runs inside each interpreter (`--dump`).
"""

import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (source, how to run it). The function under study is always `f`.
SNIPPETS = {
    "for_range": ("""
def f():
    x = 0
    for i in range(3):
        x = i
    return x
""", "call"),
    "for_one_line": ("""
def f():
    for i in range(2): x = i
    return x
""", "call"),
    "for_else_break": ("""
def f(xs=(1, 2, 3)):
    for v in xs:
        if v == 2:
            break
    else:
        v = -1
    return v
""", "call"),
    "nested_for": ("""
def f():
    for i in range(2):
        for j in range(2):
            x = i * 10 + j
    return x
""", "call"),
    "while_test": ("""
def f():
    n = 0
    while n < 3:
        n += 1
    return n
""", "call"),
    "while_true_break": ("""
def f():
    n = 0
    while True:
        n += 1
        if n == 2:
            break
    return n
""", "call"),
    "while_one_line": ("""
def f():
    i = 0
    while i < 3: i += 1
    return i
""", "call"),
    "if_elif_else": ("""
def f(a=2):
    if a == 1:
        r = "one"
    elif a == 2:
        r = "two"
    else:
        r = "many"
    return r
""", "call"),
    "bool_ops_chained": ("""
def f(a=1, b=0, c=2):
    x = a and b or c
    y = 0 < a < c
    z = a if b else c
    return x, y, z
""", "call"),
    "with_as": ("""
class CM:
    def __enter__(self): return 7
    def __exit__(self, *e): return False
def f():
    with CM() as v:
        w = v + 1
    return w
""", "call"),
    "try_except": ("""
def f():
    try:
        x = 1 / 0
    except ZeroDivisionError as e:
        x = -1
    return x
""", "call"),
    "try_finally_return": ("""
def f():
    try:
        x = 1
        return x
    finally:
        y = 2
""", "call"),
    "raise_propagates": ("""
def g():
    raise ValueError("no")
def f():
    x = g()
    return x
""", "call_catch"),
    "match": ("""
def f(p=(1, 2)):
    match p:
        case (0, y):
            r = y
        case (x, y) if x > 0:
            r = x + y
        case _:
            r = None
    return r
""", "call"),
    "listcomp": ("""
def f(xs=(1, 2, 3)):
    y = [v * 2 for v in xs]
    return y
""", "call"),
    "listcomp_multiline": ("""
def f(xs=(1, 2, 3)):
    y = [v * 2
         for v in xs
         if v]
    return y
""", "call"),
    "genexpr": ("""
def f(xs=(1, 2, 3)):
    s = sum(v for v in xs)
    return s
""", "call"),
    "generator_send": ("""
def f():
    while True:
        x = yield
        y = x
""", "gen_send"),
    "yield_from": ("""
def inner():
    yield 1
    yield 2
def f():
    r = yield from inner()
    return r
""", "gen_iter"),
    "await": ("""
class Aw:
    def __await__(self):
        v = yield 5
        return v
async def f():
    x = await Aw()
    y = x + 1
    return y
""", "coro"),
    "lambda_decorator": ("""
def deco(fn):
    return fn
@deco
def f(k=lambda a: a + 1):
    z = k(1)
    return z
""", "call"),
    "multi_line_call": ("""
def f():
    x = max(
        1,
        2,
    )
    return x
""", "call"),
    "one_line_def": ("""
def f(): x = 42
""", "call"),
    "augassign_walrus_del": ("""
def f():
    x = 1
    x += 2
    if (n := x) > 2:
        del x
    return n
""", "call"),
    "fstring_attr": ("""
class O:
    g = 3
def f(o=O()):
    s = f"{o.g}-{o.g!r}"
    return s
""", "call"),
}


# ---------------------------------------------------------------------------
# The dumping half, run inside each interpreter
# ---------------------------------------------------------------------------

def _instructions(code):
    import dis
    out = []
    starts = set()
    prev = None
    for ins in dis.get_instructions(code):
        pos = ins.positions
        line = pos.lineno if pos else None
        if line is not None and line != prev:
            starts.add(ins.offset)
        if line is not None:
            prev = line
        out.append({
            "off": ins.offset, "op": ins.opname,
            "arg": None if ins.arg is None else (ins.argrepr or str(ins.arg)),
            "pos": list(pos) if pos else None, "start": ins.offset in starts,
        })
    return out


def _codes(code):
    todo = [code]
    while todo:
        c = todo.pop(0)
        yield c
        todo.extend(k for k in c.co_consts if type(k) is type(c))


def _drive(ns, how):
    f = ns["f"]
    if how == "call":
        f()
    elif how == "call_catch":
        try:
            f()
        except ValueError:
            pass
    elif how == "gen_send":
        g = f()
        next(g)
        g.send(5)
        g.send(6)
        g.close()
    elif how == "gen_iter":
        list(f())
    elif how == "coro":
        c = f()
        try:
            c.send(None)
            c.send(9)
        except StopIteration:
            pass


def _settrace_events(src, how):
    ns = {}
    code = compile(src, "<snippet>", "exec")
    exec(code, ns)
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != "<snippet>":
            return None
        name = frame.f_code.co_name
        if event == "exception":
            events.append(f"{name}:exception {arg[0].__name__} L{frame.f_lineno}@{frame.f_lasti}")
        elif event == "return":
            events.append(f"{name}:return L{frame.f_lineno}@{frame.f_lasti}")
        else:
            events.append(f"{name}:{event} L{frame.f_lineno}@{frame.f_lasti}")
        return tracer

    sys.settrace(tracer)
    try:
        _drive(ns, how)
    finally:
        sys.settrace(None)
    return events


def _monitoring_events(src, how):
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return None
    ns = {}
    code = compile(src, "<snippet>", "exec")
    exec(code, ns)
    E = mon.events
    tool = next(t for t in (5, 4, 3, 2, 1, 0) if mon.get_tool(t) is None)
    mon.use_tool_id(tool, "dis-compare")
    events = []
    names = ["PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "RAISE", "RERAISE",
             "EXCEPTION_HANDLED", "STOP_ITERATION", "LINE", "JUMP", "BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT"]
    mask = 0
    for n in names:
        ev = getattr(E, n, None)
        if ev is None:
            continue
        if n == "BRANCH" and hasattr(E, "BRANCH_LEFT"):
            continue  # 3.14+: BRANCH is LEFT|RIGHT; register those
        mask |= ev

        def cb(*args, _n=n):
            c = args[0]
            if c.co_filename != "<snippet>":
                return mon.DISABLE if _n in ("PY_START", "PY_RESUME", "LINE", "JUMP", "BRANCH",
                                             "BRANCH_LEFT", "BRANCH_RIGHT", "PY_RETURN", "PY_YIELD") else None
            if _n == "LINE":
                events.append(f"{c.co_name}:LINE L{args[1]}@{sys._getframe(1).f_lasti}")
            elif _n in ("JUMP", "BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT"):
                events.append(f"{c.co_name}:{_n} {args[1]}->{args[2]}")
            elif _n in ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "STOP_ITERATION"):
                events.append(f"{c.co_name}:{_n} @{args[1]} {type(args[2]).__name__}")
            else:
                events.append(f"{c.co_name}:{_n} @{args[1]}")
            return None
        mon.register_callback(tool, ev, cb)
    mon.set_events(tool, mask)
    try:
        _drive(ns, how)
    except BaseException as e:  # noqa: BLE001
        events.append(f"driver raised {type(e).__name__}")
    finally:
        mon.set_events(tool, 0)
        mon.free_tool_id(tool)
    return events


def dump(names):
    import dis  # noqa: F401  (imported before tracing, not during)
    out = {"version": "%d.%d.%d" % sys.version_info[:3], "snippets": {}}
    for name in names:
        src, how = SNIPPETS[name]
        code = compile(src, "<snippet>", "exec")
        out["snippets"][name] = {
            "code": {f"{c.co_name}@{c.co_firstlineno}": _instructions(c) for c in _codes(code)},
            "settrace": _settrace_events(src, how),
            "monitoring": _monitoring_events(src, how),
        }
    return out


# ---------------------------------------------------------------------------
# The comparing half
# ---------------------------------------------------------------------------

def find_python(v):
    env = os.environ.get("PROBE_TEST_PYTHON_" + v.replace(".", "_"))
    if env:
        return env
    cands = [os.path.join(ROOT, ".ci", "venvs", v, "bin", "python")]
    cands += sorted(glob.glob(f"/root/.pyenv/versions/{v}.*/bin/python"))[-1:]
    root = os.environ.get("PROBE_PYTHON_ROOT", "/opt/probe-python")
    cands.append(os.path.join(root, v, "usr", "bin", "python" + v))
    for c in cands:
        if os.path.exists(c):
            return c
    for d in os.environ.get("PATH", "").split(os.pathsep):
        c = os.path.join(d, "python" + v)
        if os.path.exists(c):
            return c
    return None


def columns(streams):
    """Groups versions with identical streams: [(versions, stream)]."""
    groups = []
    for v, s in streams:
        for g in groups:
            if g[1] == s:
                g[0].append(v)
                break
        else:
            groups.append(([v], s))
    return groups


def strip_offsets(event):
    import re
    # 3.14 split BRANCH into BRANCH_LEFT / BRANCH_RIGHT (which way is in
    # the event's name); the offsets of either tell the same.
    event = re.sub(r"BRANCH_(LEFT|RIGHT)", r"BRANCH(\1)", event)
    return re.sub(r"(@\d+|\d+->\d+)", "", event).replace("  ", " ").strip()


def side_by_side(groups, width=44):
    heads = [", ".join(vs) for vs, _ in groups]
    n = max(len(s) for _, s in groups)
    lines = ["| " + " | ".join(h.ljust(width) for h in heads) + " |"]
    lines.append("|" + "|".join("-" * (width + 2) for _ in heads) + "|")
    for i in range(n):
        row = [(s[i] if i < len(s) else "") for _, s in groups]
        lines.append("| " + " | ".join(r.ljust(width) for r in row) + " |")
    return lines


def fmt_ins(ins):
    pos = ins["pos"]
    p = "-" if not pos or pos[0] is None else f"{pos[0]}:{pos[2]}-{pos[1]}:{pos[3]}"
    arg = f" {ins['arg']}" if ins["arg"] not in (None, "") else ""
    return f"{'>' if ins['start'] else ' '}{ins['off']:>3} {ins['op']}{arg} [{p}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pythons", default="3.11,3.12,3.13,3.14,3.15")
    ap.add_argument("--snippet", action="append", help="only these snippets (repeatable)")
    ap.add_argument("--full", action="store_true", help="also list every code object's instructions")
    ap.add_argument("-o", "--output", help="write the report here instead of stdout")
    ap.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    names = a.snippet or list(SNIPPETS)
    for n in names:
        if n not in SNIPPETS:
            ap.error(f"no snippet {n!r}; there are: {', '.join(SNIPPETS)}")
    if a.dump:
        json.dump(dump(names), sys.stdout)
        return 0
    data = {}
    for v in a.pythons.split(","):
        py = find_python(v)
        if py is None:
            print(f"dis-compare: Python {v} not found (skipped)", file=sys.stderr)
            continue
        cmd = [py, os.path.abspath(__file__), "--dump"] + [x for n in names for x in ("--snippet", n)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"dis-compare: Python {v} ({py}) failed:\n{r.stderr}", file=sys.stderr)
            return 1
        data[v] = json.loads(r.stdout)
    vers = ", ".join("%s = %s" % (v, d["version"]) for v, d in data.items())
    out = [f"# dis-compare: {vers}", ""]
    for n in names:
        src, how = SNIPPETS[n]
        out += [f"## {n} ({how})", "", "```python"]
        out += [f"{i:>2} {line}" for i, line in enumerate(src.strip("\n").splitlines(), 2)]
        out += ["```", ""]
        for kind in ("settrace", "monitoring"):
            streams = [(v, d["snippets"][n][kind]) for v, d in data.items() if d["snippets"][n][kind] is not None]
            # Offsets differ between every two versions; first compare the
            # events without them (what a line tracer sees), then with them.
            bare = [(v, [strip_offsets(e) for e in s]) for v, s in streams]
            groups = columns(bare)
            out.append(f"{kind} events, offsets left out: " + (
                "the same on " + ", ".join(groups[0][0]) if len(groups) == 1 else f"{len(groups)} variants"))
            out += ["", *side_by_side(groups), ""]
            if a.full:
                out += [f"{kind} events with offsets (line event: L<line>@<f_lasti>):", "",
                        *side_by_side(columns(streams)), ""]
        if a.full:
            keys = []
            for d in data.values():
                for k in d["snippets"][n]["code"]:
                    if k not in keys:
                        keys.append(k)
            for k in keys:
                streams = [(v, [fmt_ins(i) for i in d["snippets"][n]["code"].get(k, [])]) for v, d in data.items()]
                out += [f"instructions of {k}:", "", *side_by_side(columns(streams), 52), ""]
    text = "\n".join(out) + "\n"
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
