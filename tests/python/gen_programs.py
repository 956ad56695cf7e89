"""Seeded generator of test programs for the differential harness (issue 11).

    python gen_programs.py SEED [-o FILE]

writes one deterministic Python program (3.11+) that COMBINES constructs:
nested loops with `for` targets and probed bodies, one-line loops and
several statements per line, comprehensions and generator expressions
whose conditions read enclosing names, generators inside loops (send,
close, abandoned), try/except/finally with continue/break inside loops,
while loops with compound conditions and walrus, with-blocks, match
statements, class bodies, closures, recursion, decorators, lambdas,
multi-line statements, asyncio (gather, tasks, cancellation, async
for/with) and - for some seeds - threads (`# threads: yes` header). Values
of many kinds flow through them: small and big ints, floats with NaN, ±inf
and -0.0, strings with quotes and non-ASCII text, bytes, lists and tuples of
numbers (stored as arrays), mixed lists, dicts, None, bools, and objects
with and without a custom repr.

Programs are deterministic (no time, no randomness at run time, no
addresses except in default reprs, which the harness masks; run with
PYTHONHASHSEED=0) and finish in well under a second untraced. The same
SEED always gives the same program.
"""

import random
import sys


class Writer:
    def __init__(self):
        self.lines = []
        self.level = 0

    def __call__(self, text=""):
        for part in text.split("\n"):
            self.lines.append(("    " * self.level + part) if part else "")

    def block(self):
        w = self

        class Block:
            def __enter__(self):
                w.level += 1

            def __exit__(self, *exc):
                w.level -= 1
        return Block()


# Literal values of many kinds (SPEC §3), as source text.
INTS = ["0", "1", "-3", "7", "12", "2 ** 40", "2 ** 70", "-(2 ** 63)", "2 ** 63 - 1", "10 ** 20"]
FLOATS = ["0.5", "-0.0", "2.25", "1e300", "float('inf')", "float('-inf')", "float('nan')", "1e-7", "-1.5"]
STRS = ["'abc'", "\"q'uote\\\"d\"", "'héllo wörld'", "'line\\nbreak'", "''", "'x' * 50", "'€' * 3"]
OTHERS = ["None", "True", "False", "b'\\x00\\xff'", "[1, 2, 3]", "(1.5, -2.0)", "[1, 2.5, 3j]", "[]",
          "[True, False]", "[True, 1]", "[[1], [2]]", "{'k': 1}", "{1, 2}", "Box(3)", "Plain()",
          "(1, 'a')", "[0.1, float('nan')]"]

PRELUDE = '''import functools


G = {g}
SCALE = {scale}
LIMIT = {limit}


class Box:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"Box({{self.v!r}})"


class Plain:
    pass


def helper(a, b):
    if b == 0:
        raise ZeroDivisionError("b is zero")
    if a > LIMIT:
        raise ValueError(a)
    return a // b


def boom(x):
    raise KeyError(x)
'''


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed = seed
        self.w = Writer()
        self.calls = []  # statements main() runs
        self.n = 0
        self.uses_asyncio = False
        self.threads = False

    def pick(self, xs):
        return self.rng.choice(xs)

    def chance(self, p):
        return self.rng.random() < p

    def fresh(self, stem):
        self.n += 1
        return f"{stem}{self.n}"

    def num(self):
        return str(self.rng.randint(-5, 9))

    def value(self):
        kind = self.rng.random()
        if kind < 0.3:
            return self.pick(INTS)
        if kind < 0.55:
            return self.pick(FLOATS)
        if kind < 0.7:
            return self.pick(STRS)
        return self.pick(OTHERS)

    # -- function templates --------------------------------------------------

    def loops(self):
        w, name = self.w, self.fresh("loops")
        w(f"def {name}(xs, k):")
        with w.block():
            w("acc = 0")
            w("out = []")
            if self.chance(0.7):
                w("for n, xn in enumerate(xs):")
                with w.block():
                    w(f"y = xn * {self.num()} + n")
                    if self.chance(0.5):
                        w("if y % 3 == 0: continue")
                    if self.chance(0.5):
                        w("for j in range(n): acc += j; out.append(j * k)")
                    else:
                        w("for j in range(n):")
                        with w.block():
                            w("if j > k:")
                            with w.block():
                                w("break")
                            w("acc += j * y")
                    w("acc += y")
            if self.chance(0.6):
                w("i = 0")
                cond = self.pick(["i < len(xs) and xs[i] != 99", "(m := i * 2) < 8 or i < 2",
                                  "i < k and not (i > 5)", "i < len(xs)"])
                w(f"while {cond}:")
                with w.block():
                    w("i += 1")
                    if self.chance(0.5):
                        w("if i % 2: continue")
                    w("acc -= i")
                    if self.chance(0.3):
                        w("if acc < -50:")
                        with w.block():
                            w("break")
                if self.chance(0.4):
                    w("else:")
                    with w.block():
                        w("acc += 1000")
            if self.chance(0.5):
                w("w = 0")
                w("while w < 3: w += 1")
            if self.chance(0.5):
                w(f"t = {self.value()}; u = t; t, u = u, t")
            if self.chance(0.5):
                w("for a, (b, c) in zip(xs, zip(xs[1:], xs[2:])):")
                with w.block():
                    w("acc += a + b - c")
                w("for q in []:")
                with w.block():
                    w("q = 1")
                w("else:")
                with w.block():
                    w(f"q = {self.value()}")
            w(f"big = {self.pick(['2 ** 70', '10 ** 25', '-(2 ** 65)'])} + acc")
            w(f"f = acc / {self.pick(['7.0', '3', '0.5'])}")
            w("return acc, big, f, out")
        w()
        self.calls.append(f"{name}([{', '.join(self.num() for _ in range(self.rng.randint(2, 6)))}], "
                          f"{self.rng.randint(1, 4)})")

    def comps(self):
        w, name = self.w, self.fresh("comps")
        w(f"def {name}(xs, k):")
        with w.block():
            w("lim = k * SCALE")
            choices = [
                "sq = [x * x for x in xs if x % 2 == 0 and x < lim]",
                "st = {x % (k + 1) for x in xs}",
                "dc = {x: [y for y in range(abs(x) % 4) if y < k] for x in xs if x < lim}",
                "total = sum(x * SCALE for x in xs if x > G)",
                "pairs = [(a, b) for a in range(k) for b in range(a) if a + b > 1]",
                "first = next((u for u in xs if u > k), None)",
                "any_big = any(v > lim for v in xs)",
                "mx = max(xs)\nmodes = [v for v in xs if v == mx]",
                "ys = [\n    x * k\n    for x in xs\n    if x > 1\n]",
                "walrus = [z for x in xs if (z := x * 2) > k]",
                "nested = [[i * j for j in range(3)] for i in range(k)]",
                "strs = [str(x) + '!' for x in xs]",
                "fl = [x / 2 for x in xs]",
                "key = sorted(xs, key=lambda v: (abs(v - k), v))",
            ]
            picked = self.rng.sample(choices, self.rng.randint(3, 7))
            for c in picked:
                w(c)
            names = []
            for c in picked:
                first_line = c.split("\n")[0]
                if " = " in first_line:
                    names.append(first_line.split(" = ")[0].strip())
            if "walrus = [z for x in xs if (z := x * 2) > k]" in picked:
                names.append("z if xs and max(xs) * 2 > k else None")
            w(f"return ({', '.join(names)},)")
        w()
        self.calls.append(f"{name}([{', '.join(self.num() for _ in range(self.rng.randint(1, 7)))}], "
                          f"{self.rng.randint(1, 4)})")

    def gens(self):
        w, name = self.w, self.fresh("gens")
        w(f"def {name}_gen(n):")
        with w.block():
            w("total = 0")
            w("for i in range(n):")
            with w.block():
                w("got = yield i * 2")
                w("if got is not None:")
                with w.block():
                    w("total += got")
            w("return total")
        w()
        w(f"def {name}_echo():")
        with w.block():
            w("while True:")
            with w.block():
                w("x = yield")
                w("if x is None:")
                with w.block():
                    w("return")
        w()
        w(f"def {name}(k):")
        with w.block():
            w("res = []")
            w("for r in range(k):")
            with w.block():
                w(f"g = {name}_gen(r + 2)")
                w("v = next(g)")
                if self.chance(0.5):
                    w("v2 = g.send(r)")
                    w("res.append(v2)")
                kind = self.pick(["close", "abandon", "exhaust"])
                if kind == "close":
                    w("g.close()")
                elif kind == "exhaust":
                    w("try:")
                    with w.block():
                        w("while True:")
                        with w.block():
                            w("item = next(g)")
                            w("res.append(item)")
                    w("except StopIteration as stop:")
                    with w.block():
                        w("res.append(stop.value)")
                w("res.append(v)")
            w(f"e = {name}_echo()")
            w("next(e)")
            sent = self.value()
            while sent == "None":  # None would end the echo generator
                sent = self.value()
            w(f"e.send({sent})")
            if self.chance(0.5):
                w("e.close()")
            w(f"found = next(u for u in range(10) if u > k)")
            w(f"it = iter([{self.num()}, {self.num()}])")
            w("try:")
            with w.block():
                w("a = next(it); b = next(it); c = next(it)")
            w("except StopIteration:")
            with w.block():
                w("c = None")
            if self.chance(0.5):
                w(f"def sub():")
                with w.block():
                    w("yield 1")
                    w("return 'sub-done'")
                w(f"def outer():")
                with w.block():
                    w("r = yield from sub()")
                    w("yield r")
                w("seq = list(outer())")
                w("res.append(seq)")
            w("return res, found, c")
        w()
        self.calls.append(f"{name}({self.rng.randint(1, 4)})")

    def excs(self):
        w, name = self.w, self.fresh("excs")
        w(f"class {name}_Ctx:")
        with w.block():
            w("def __init__(self, tag, swallow):")
            with w.block():
                w("self.tag = tag")
                w("self.swallow = swallow")
            w("def __enter__(self):")
            with w.block():
                w("self.entered = True")
                w("return self")
            w("def __exit__(self, et, ev, tb):")
            with w.block():
                w("self.exited = et is not None")
                w("return self.swallow")
        w()
        w(f"def {name}(data, k):")
        with w.block():
            w("i = 0")
            w("seen = -1")
            w("log = []")
            w("while i < len(data):")
            with w.block():
                w("try:")
                with w.block():
                    w("val = helper(data[i], k - i)")
                w("except ZeroDivisionError:")
                with w.block():
                    w("i += 1")
                    w("continue")
                w("except ValueError as err:")
                with w.block():
                    w("log.append(str(err))")
                    if self.chance(0.5):
                        w("break")
                w("else:")
                with w.block():
                    w("log.append(val)")
                w("finally:")
                with w.block():
                    w("seen = i")
                w("i += 1")
            w("for d in data:")
            with w.block():
                w("try:")
                with w.block():
                    w("r = boom(d) if d > k else d * 2")
                w("except KeyError as ke:")
                with w.block():
                    w("r = -1")
                w("log.append(r)")
            w(f"with {name}_Ctx('a', False) as c1, {name}_Ctx('b', True) as c2:")
            with w.block():
                w("inside = c1.tag + c2.tag")
                if self.chance(0.5):
                    w("helper(1, 0)")
            w("try:")
            with w.block():
                w(f"with {name}_Ctx('c', False) as c3:")
                with w.block():
                    w("bad = helper(LIMIT + 1, 1)")
            w("except ValueError:")
            with w.block():
                w("bad = None")
            w("try:")
            with w.block():
                w("raise SystemExit(3)")
            w("except SystemExit as se:")
            with w.block():
                w("code = se.code")
            w("return seen, log, inside, bad, code")
        w()
        self.calls.append(f"{name}([{', '.join(str(self.rng.randint(0, 12)) for _ in range(self.rng.randint(2, 6)))}], "
                          f"{self.rng.randint(1, 5)})")

    def classes(self):
        w, name = self.w, self.fresh("Cls")
        w(f"class {name}:")
        with w.block():
            w(f"base = [{self.num()}, {self.num()}, {self.num()}]")
            w("doubled = [b * 2 for b in base]")
            w("label = 'cls'; size = len(base)")
            w("def __init__(self, x):")
            with w.block():
                w("self.x = x")
                w("self.hist = []")
            w("@property")
            w("def twice(self):")
            with w.block():
                w("return self.x * 2")
            w("def step(self, d):")
            with w.block():
                w("self.x += d")
                w("self.hist.append(self.x)")
                w("return self")
            w("def __repr__(self):")
            with w.block():
                w(f"return f'{name}({{self.x}})'")
        w()
        w(f"def {name.lower()}_counter(start):")
        with w.block():
            w("count = start")
            w("def inc(step=1):")
            with w.block():
                w("nonlocal count")
                w("count += step")
                w("return count")
            w("return inc")
        w()
        w(f"def {name.lower()}_fib(n):")
        with w.block():
            w(f"return n if n < 2 else {name.lower()}_fib(n - 1) + {name.lower()}_fib(n - 2)")
        w()
        w("def traced(f):")
        with w.block():
            w("@functools.wraps(f)")
            w("def wrapper(*args):")
            with w.block():
                w("res = f(*args)")
                w("return res")
            w("return wrapper")
        w()
        w("@traced")
        w(f"def {name.lower()}_use(n):")
        with w.block():
            w(f"obj = {name}(n)")
            w("obj.step(1).step(-2)")
            w("tw = obj.twice")
            w(f"inc = {name.lower()}_counter(n)")
            w("a = inc(); b = inc(5)")
            w(f"fb = {name.lower()}_fib(n % 6)")
            w(f"pts = sorted([{name}(3), {name}(1), {name}(2)], key=lambda p: (p.x, -p.x))")
            w("return obj, tw, a, b, fb, pts, obj.hist")
        w()
        self.calls.append(f"{name.lower()}_use({self.rng.randint(1, 7)})")

    def multi(self):
        w, name = self.w, self.fresh("multi")
        w(f"def {name}(xs, k):")
        with w.block():
            w("total = (sum(xs) +")
            w("         len(xs) *")
            w("         k)")
            w("parts = dict(")
            w("    a=xs,")
            w("    b=[x * 0.5 for x in xs],")
            w("    c=None,")
            w(")")
            w(f"s = {self.pick(STRS)}; t = s * 2; n = len(t)")
            w("if (m := len(xs)) > 2: total += m")
            w("kinds = []")
            w("for o in (xs, k, 'text', parts['b'], None, 2.5):")
            with w.block():
                w("match o:")
                with w.block():
                    w("case [first, *others] if first > 0:")
                    with w.block():
                        w("kinds.append(('seq', first, len(others)))")
                    w("case int() | float() as num if num > 1:")
                    with w.block():
                        w("kinds.append(('num', num))")
                    w("case {'k': val, **rest}:")
                    with w.block():
                        w("kinds.append(('map', val))")
                    w("case str(text):")
                    with w.block():
                        w("kinds.append(('str', text))")
                    w("case _:")
                    with w.block():
                        w("kinds.append('other')")
            w(f"vals = [{', '.join(self.value() for _ in range(3))}]")
            w(f"mixed = {self.value()}")
            w("return total, parts, s, t, n, kinds, vals, mixed")
        w()
        self.calls.append(f"{name}([{', '.join(self.num() for _ in range(self.rng.randint(0, 5)))}], "
                          f"{self.rng.randint(1, 4)})")

    def asyncs(self):
        self.uses_asyncio = True
        w, name = self.w, self.fresh("aio")
        w(f"async def {name}_work(n):")
        with w.block():
            w("await asyncio.sleep(0)")
            w("value = n * 10")
            w("await asyncio.sleep(0)")
            w("return value")
        w()
        w(f"class {name}_Ticker:")
        with w.block():
            w("def __init__(self, n):")
            with w.block():
                w("self.n = n")
            w("def __aiter__(self):")
            with w.block():
                w("return self")
            w("async def __anext__(self):")
            with w.block():
                w("if self.n <= 0:")
                with w.block():
                    w("raise StopAsyncIteration")
                w("self.n -= 1")
                w("await asyncio.sleep(0)")
                w("return self.n")
        w()
        w(f"async def {name}_forever():")
        with w.block():
            w("try:")
            with w.block():
                w("while True:")
                with w.block():
                    w("await asyncio.sleep(0)")
            w("except asyncio.CancelledError:")
            with w.block():
                w("state = 'cancelled'")
                w("raise")
        w()
        w(f"async def {name}_main(k):")
        with w.block():
            w(f"results = await asyncio.gather(*[{name}_work(i) for i in range(k)])")
            w(f"task = asyncio.create_task({name}_work(k))")
            w("single = await task")
            if self.chance(0.5):
                w(f"ticks = [t async for t in {name}_Ticker(k)]")
            w(f"async for t in {name}_Ticker(2):")
            with w.block():
                w("last = t")
            w(f"f = asyncio.create_task({name}_forever())")
            w("await asyncio.sleep(0)")
            w("f.cancel()")
            w("try:")
            with w.block():
                w("await f")
            w("except asyncio.CancelledError:")
            with w.block():
                w("was = 'cancelled'")
            w("return results, single, last, was")
        w()
        self.calls.append(f"asyncio.run({name}_main({self.rng.randint(1, 4)}))")

    def threaded(self):
        self.threads = True
        w, name = self.w, self.fresh("thr")
        for k in (1, 2):
            w(f"def {name}_worker{k}(n, out):")
            with w.block():
                w("acc = 0")
                w("for i in range(n):")
                with w.block():
                    w(f"acc += i * {k}")
                w("out.append(acc)")
            w()
        w(f"def {name}(n):")
        with w.block():
            # One list per worker: no probe value depends on the interleaving.
            w("outs = ([], [])")
            w(f"ts = Workers(threading.Thread(target=f, args=(n, o)) for f, o in zip(({name}_worker1, {name}_worker2), outs))")
            w("for i in range(len(ts)):")
            with w.block():
                w("ts[i].start()")
            w("for i in range(len(ts)):")
            with w.block():
                w("ts[i].join()")
            w("res = outs[0] + outs[1]")
            w("return res")
        w()
        self.calls.append(f"{name}({self.rng.randint(5, 30)})")

    def program(self):
        r = self.rng
        templates = [self.loops, self.comps, self.gens, self.excs, self.classes, self.multi]
        picks = r.sample(templates, r.randint(3, 5))
        if r.random() < 0.3:
            picks.append(self.asyncs)
        if r.random() < 0.08:
            picks.append(self.threaded)
        for t in picks:
            t()
        body = self.w.lines
        self.w = Writer()
        w = self.w
        w(f"# Generated by tests/python/gen_programs.py {self.seed}")
        if self.threads:
            w("# threads: yes")
        w(PRELUDE.format(g=r.randint(0, 5), scale=self.pick(["2", "3", "0.5"]), limit=r.randint(5, 12)))
        if self.uses_asyncio:
            w("import asyncio")
        if self.threads:
            w("import threading")
            w()
            w()
            w("class Workers(list):")
            with w.block():
                w("def __repr__(self):")
                with w.block():
                    w("return f'<{len(self)} workers>'")
        w()
        w()
        self.w.lines.extend(body)
        w()
        w("def main():")
        with w.block():
            w("results = []")
            for c in self.calls:
                w(f"results.append({c})")
            w("return results")
        w()
        w()
        if r.random() < 0.5:
            w("for rep in range(2):")
            with w.block():
                w("res = main()")
        else:
            w("res = main()")
        w("print(len(res), [type(x).__name__ for x in res])")
        return "\n".join(self.w.lines) + "\n"


def main(argv):
    seed = int(argv[0])
    out = None
    if "-o" in argv:
        out = argv[argv.index("-o") + 1]
    text = Gen(seed).program()
    if out:
        with open(out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
