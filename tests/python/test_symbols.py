"""Unit tests of the agent's symbol tables (src/capture/agent/symbols.py),
which read `_symtable` directly instead of importing `symtable`: every
answer the resolver asks must be the stdlib module's, for every symbol of
every scope of this interpreter's own standard library (~600 files), and
of a few constructs written to cover each kind of name.

Run by tests/plan_units.rs with every supported interpreter.
"""

import os
import sys
import _symtable
import symtable
import sysconfig
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src", "capture"))

from agent import symbols as S  # noqa: E402

QUESTIONS = ("is_global", "is_declared_global", "is_local", "is_free", "is_assigned", "is_imported")

CONSTRUCTS = '''
import os, sys as system
from json import loads
g = 1
def f(a, *args, b=2, **kw):
    global g
    g = a
    c = [x for x in args if x]
    def inner():
        nonlocal c
        c = a
        return b, os
    return inner
class K:
    y = 1
    z = [y for _ in range(2)]
    def m(self):
        return __class__, self.y
    global h
    h = 2
lam = lambda q, r=g: q + r
def outer(z):
    class Inner:
        z2 = [z for _ in range(2)]
        w = lambda: z
    return Inner
async def co():
    async for i in aiter([]):
        yield i
try:
    pass
except Exception as err:
    pass
with open(__file__) as fh:
    pass
match g:
    case [p, *rest]:
        pass
    case {"k": v}:
        pass
if (w := 3):
    pass
'''


def compare(testcase, source, filename):
    """Asserts symbols == symtable on every symbol of every scope; returns
    the number of symbols compared."""
    try:
        want = symtable.symtable(source, filename, "exec")
    except (SyntaxError, ValueError):
        return 0
    got = S.symtable(source, filename, "exec")
    n = 0
    stack = [(want, got)]
    while stack:
        w, g = stack.pop()
        where = f"{filename}: scope {w.get_name()} line {w.get_lineno()}"
        testcase.assertEqual(g.get_name(), w.get_name(), where)
        testcase.assertEqual(g.get_lineno(), w.get_lineno(), where)
        testcase.assertEqual(g.get_type() == "module", w.get_type() == "module", where)
        testcase.assertEqual(g.is_def(), w.get_type() in ("function", "class"), where)
        for name in w.get_identifiers():
            ws, gs = w.lookup(name), g.lookup(name)
            for q in QUESTIONS:
                testcase.assertEqual(bool(getattr(gs, q)()), bool(getattr(ws, q)()), f"{where}: {name}.{q}()")
            # symtable has no question for DEF_FREE_CLASS: its flags.
            testcase.assertEqual(gs.is_free_class(), bool(ws._Symbol__flags & _symtable.DEF_FREE_CLASS),
                                 f"{where}: {name}.is_free_class()")
            n += 1
        with testcase.assertRaises(KeyError):
            g.lookup("\0not a name")
        wc, gc = w.get_children(), g.get_children()
        testcase.assertEqual(len(gc), len(wc), where)
        stack.extend(zip(wc, gc))
    return n


class SameAnswersAsSymtable(unittest.TestCase):
    def test_constructs(self):
        self.assertGreater(compare(self, CONSTRUCTS, "constructs.py"), 40)

    def test_the_whole_standard_library(self):
        root = sysconfig.get_paths()["stdlib"]
        files = n = 0
        for d, subdirs, names in os.walk(root):
            subdirs[:] = [s for s in subdirs if s not in ("site-packages", "__pycache__")]
            for name in names:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(d, name)
                try:
                    with open(path, "rb") as fh:
                        source = fh.read()
                except OSError:
                    continue
                n += compare(self, source, path)
                files += 1
        self.assertGreater(files, 300, root)
        self.assertGreater(n, 50_000)

    def test_a_syntax_error_is_raised_as_symtable_raises_it(self):
        with self.assertRaises(SyntaxError):
            S.symtable("def f(:\n", "bad.py", "exec")


if __name__ == "__main__":
    unittest.main()
