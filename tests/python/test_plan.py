"""Unit tests of the capture plan (src/capture/agent/plan.py) on its own.

Run by tests/plan_units.rs with every supported interpreter:
    python tests/python/test_plan.py
The agent's modules are imported as the namespace package `agent` from
src/capture (they use relative imports among themselves).
"""

import dis
import os
import sys
import textwrap
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src", "capture"))

from agent import plan as P  # noqa: E402
from agent.resolve import Resolver  # noqa: E402

PY = sys.version_info[:2]


def code_objects(code):
    todo = [code]
    while todo:
        c = todo.pop()
        yield c
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))


class Snippet:
    """A source file written to a temp dir, resolved with `specs` (LINE:NAME@role)."""

    def __init__(self, tmp, source, specs):
        self.source = textwrap.dedent(source)
        self.path = os.path.join(tmp, f"snip{abs(hash(self.source))}.py")
        with open(self.path, "w") as fh:
            fh.write(self.source)
        full = [f"{self.path}:{s}" for s in specs]
        self.resolver = Resolver(full)
        self.sites, self.models = P.make_sites(self.resolver)
        self.planner = P.Planner(self.sites, self.models)
        self.code = compile(self.source, self.path, "exec", dont_inherit=True)

    def plan(self, name):
        for c in code_objects(self.code):
            if c.co_name == name:
                p = self.planner.plan_for(c)
                if p is not None:
                    return p
        raise AssertionError(f"no plan for {name}:\n" + "\n".join(
            self.planner.plan_for(c).dump() for c in code_objects(self.code) if self.planner.plan_for(c)))

    def line_of(self, offset, code):
        for ins in dis.get_instructions(code):
            if ins.offset == offset:
                return ins.positions.lineno
        return None


class PlanTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp()

    def snip(self, source, specs):
        return Snippet(self.tmp, source, specs)

    def test_tight_loop_is_one_event_per_iteration_in_line_mode(self):
        s = self.snip("""
            def main():
                for i in range(1000):
                    x = i
            main()
        """, ["4:x@lhs"])
        p = s.plan("main")
        loud = [a for a in p.actions.values() if not (a.quiet and a.fire is None and not a.binds)]
        self.assertEqual(len(loud), 1, p.dump())
        (a,) = loud
        self.assertIsNotNone(a.fast, "the loop body takes the inline fast path")
        self.assertEqual(s.line_of(a.offset, p.code), 4)
        quiet = [a for a in p.actions.values() if a.quiet]
        self.assertEqual(len(quiet), 1, "the range header's completion waits while one thread runs")
        self.assertTrue(p.line_mode, p.dump())

    def test_completion_only_where_a_capture_can_be_pending(self):
        s = self.snip("""
            def f(a):
                b = a + 1
                c = b * 2
                d = c - 3
                e = d / 4
                return e
            f(1)
        """, ["4:c@lhs"])
        p = s.plan("f")
        completes = sorted(s.line_of(a.offset, p.code) for a in p.actions.values() if a.complete)
        self.assertEqual(completes, [5], p.dump())
        fires = [s.line_of(a.offset, p.code) for a in p.actions.values() if a.fire is not None]
        self.assertEqual(fires, [4])

    def test_for_target_binding_comes_before_the_body_trigger(self):
        s = self.snip("""
            def f(x):
                for n, xn in enumerate(x):
                    y = xn * 2
            f([1])
        """, ["3:n@lhs", "4:y@lhs"])
        p = s.plan("f")
        (a,) = [a for a in p.actions.values() if a.binds]
        self.assertIsNotNone(a.fire, "binding and body trigger share the body's first instruction")
        self.assertEqual([b[0].probes[0].name for b in a.binds], ["n"])
        self.assertTrue(a.binds[0][2], "a for target's LHS completes at once at the body's start")
        self.assertEqual(a.fire.probes[0].name, "y")

    def test_one_line_loop_body_triggers_per_iteration(self):
        s = self.snip("""
            def f():
                for i in range(3): x = i
            f()
        """, ["3:i@lhs", "3:x@lhs"])
        p = s.plan("f")
        (a,) = [a for a in p.actions.values() if a.fire is not None and a.fire.probes[0].name == "x"]
        self.assertEqual([b[0].probes[0].name for b in a.binds], ["i"])

    def test_enclosing_name_in_a_comprehension_condition_fires_with_the_statement(self):
        s = self.snip("""
            def f(items, maxcount):
                r = [v for v, c in items if c == maxcount]
                return r
            f([(1, 2)], 2)
        """, ["3:maxcount@rhs", "3:v@lhs"])
        site = next(x for x in s.sites if x.probes[0].name == "maxcount")
        self.assertEqual(site.trigger[0], "unit")
        vsite = next(x for x in s.sites if x.probes[0].name == "v")
        self.assertEqual(vsite.trigger[0], "bind")
        # 3.11: the comprehension has its own code object; 3.12+: inlined.
        owner = "<listcomp>" if PY < (3, 12) else "f"
        p = s.plan(owner)
        self.assertTrue(any(b[0] is vsite for a in p.actions.values() for b in a.binds), p.dump())
        self.assertTrue(any(a.complete == P.BIND for a in p.actions.values()),
                        "the comprehension's FOR_ITER completes the target's LHS")

    def test_while_test_triggers_from_body_and_from_before(self):
        s = self.snip("""
            def f(data):
                i = 0
                while i < len(data):
                    try:
                        val = int(data[i])
                    except ValueError:
                        i += 1
                        continue
                    finally:
                        seen = i
                    i += 1
            f(["1"])
        """, ["4:i@rhs"])
        p = s.plan("f")
        fires = [a for a in p.actions.values() if a.fire is not None]
        self.assertGreaterEqual(len(fires), 1)
        for a in fires:
            self.assertEqual(s.line_of(a.offset, p.code), 4, p.dump())

    def test_with_exit_starts_nothing_and_binding_belongs_to_header(self):
        s = self.snip("""
            import contextlib
            def f():
                with contextlib.nullcontext(7) as fh:
                    pass
                return fh
            f()
        """, ["4:fh@lhs", "4:contextlib@rhs"])
        p = s.plan("f")
        fires = [a for a in p.actions.values() if a.fire is not None]
        self.assertEqual(len(fires), 1, p.dump())

    def test_stop_iteration_consumers_are_loop_and_await_instructions(self):
        s = self.snip("""
            async def g(c):
                r = await c
                for x in r:
                    y = x
                return y
        """, ["3:r@lhs"])
        p = s.plan("g")
        ops = {ins.offset: ins.opname for ins in dis.get_instructions(p.code)}
        names = {ops.get(o) for o in p.stop_offsets}
        self.assertIn("FOR_ITER", names)
        self.assertTrue(names & {"SEND", "YIELD_VALUE"}, names)
        self.assertNotIn("CALL", names)

    def test_one_line_def_body_needs_opcode_events(self):
        s = self.snip("""
            def foo(): x = 42
            foo()
        """, ["2:x@lhs"])
        p = s.plan("foo")
        self.assertFalse(p.line_mode, "no line event separates the body from the def line's RESUME")


class BytecodeTests(unittest.TestCase):
    """The plan's own bytecode reader against `dis`, over real code."""

    def modules(self):
        import json.decoder, json.encoder, textwrap as tw, difflib, statistics, fractions, argparse
        return [json.decoder, json.encoder, tw, difflib, statistics, fractions, argparse]

    ASYNC = textwrap.dedent("""
        async def f(aiter, res, xs):
            async for t in aiter:
                last = t
            else:
                last = None
            async with res as r:
                ys = [y async for y in aiter if y]
            try:
                z = await xs
            except* ValueError:
                z = 0
            match last:
                case [a, *b] if a:
                    pass
            return last, r, ys, z
    """)

    def sources(self):
        for mod in self.modules():
            with open(mod.__file__) as fh:
                yield mod.__file__, fh.read()
        yield "<async>", self.ASYNC

    def test_jump_targets_and_exception_handlers_match_dis(self):
        checked = 0
        for path, src in self.sources():
            mod = types.SimpleNamespace(__file__=path)
            for c in code_objects(compile(src, mod.__file__, "exec")):
                bc = P.Bytecode(c)
                real = bc.real_offsets()
                by_real = {r: k for k, r in enumerate(real)}
                for ins in dis.get_instructions(c):
                    if ins.opname in ("CACHE", "EXTENDED_ARG"):
                        continue
                    k = by_real.get(ins.offset)
                    self.assertIsNotNone(k, (c.co_name, ins.offset, ins.opname))
                    target = getattr(ins, "jump_target", None)
                    if target is None and ins.opcode in dis.hasjrel + dis.hasjabs:
                        target = ins.argval
                    if target is not None:
                        succ = {real[t] for t in bc.succ[k]}
                        # A target may land on an EXTENDED_ARG prefix.
                        self.assertTrue(any(abs(t - target) <= 6 and t >= target for t in succ),
                                        (c.co_name, ins.offset, ins.opname, target, succ))
                    checked += 1
                want = sorted((e.start, e.end, e.target) for e in dis.Bytecode(c).exception_entries)
                got = sorted(P._exception_table(c))
                self.assertEqual(got, want, c.co_name)
        self.assertGreater(checked, 10000)


class ScalingTests(unittest.TestCase):
    """Issue 16 item 12: start-up work (resolving the specs, building the
    sites and the plan) grows linearly with the number of probes. Measured
    in Python function calls (sys.setprofile), which are deterministic, not
    in time: 4x the probes must cost well under 16x the calls (quadratic)."""

    @staticmethod
    def calls_for(tmp, n):
        # n probes over n/5 functions of 5 lines: per-probe work that walks
        # every scope (a symbol-table search per probe once did) is O(n^2).
        lines, specs = [], []
        for k in range(n):
            if k % 5 == 0:
                lines.append(f"def f{k // 5}(i):")
            lines.append(f"    v{k} = i + {k}")
            specs.append(f"{len(lines)}:v{k}@lhs")
        source = "\n".join(lines) + "\n"
        count = [0]

        def prof(frame, event, arg):
            if event == "call":
                count[0] += 1
        sys.setprofile(prof)
        try:
            s = Snippet(tmp, source, specs)
            plans = [s.planner.plan_for(c) for c in code_objects(s.code)]
        finally:
            sys.setprofile(None)
        return count[0], [p for p in plans if p is not None]

    def test_start_up_work_is_linear_in_the_number_of_probes(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            small, p1 = self.calls_for(tmp, 150)
            big, p4 = self.calls_for(tmp, 600)
        self.assertEqual((len(p1), len(p4)), (30, 120), "every function planned")
        ratio = big / small
        self.assertLess(ratio, 6.0, f"150 probes: {small} calls, 600 probes: {big} calls "
                                    f"(x{ratio:.1f}; linear is ~x4, quadratic x16)")


if __name__ == "__main__":
    unittest.main(verbosity=1)
