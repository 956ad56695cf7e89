"""Self-test of the instruction-level reference (tests/python/instr_reference.py).

The reference must reproduce, on the interpreter running this script:
  * every hand-checked `fixtures/conformance/*.expected` file (records,
    statuses, kinds, thread numbering, values, and the exit status), the
    same for the issue-11 regressions in `fixtures/regressions/`, and
  * the SPEC §2 canonical table (fixtures/programs/canonical.py),
and on 3.12+ its two event sources (sys.settrace with opcode events, and
sys.monitoring INSTRUCTION events) must produce identical records for all
of them and for the extra programs under fixtures/reference/.

Usage: python ref_selftest.py [--million] [--only NAME]... [--seeds A-B]
  --seeds A-B   also check that both modes agree on generated programs
                (tests/python/gen_programs.py), probed everywhere
Prints one line per check and a summary; exits 1 on any failure.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REF = os.path.join(HERE, "instr_reference.py")
CONFORMANCE = os.path.join(ROOT, "fixtures", "conformance")
REGRESSIONS = os.path.join(ROOT, "fixtures", "regressions")
CANONICAL = os.path.join(ROOT, "fixtures", "programs", "canonical.py")
EXTRA = os.path.join(ROOT, "fixtures", "reference")
PY = sys.version_info[:2]
MODES = ["settrace", "monitoring"] if PY >= (3, 12) else ["settrace"]


def line_of(path, tag):
    marker = f"# P:{tag}"
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.rstrip().endswith(marker):
                return i
    raise SystemExit(f"no line marked {marker} in {path}")


def run_reference(specs, target, mode, cwd=None):
    """Runs the reference; returns (exit status, records, stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ref.jsonl")
        pf = os.path.join(tmp, "probes.txt")
        with open(pf, "w") as fh:
            fh.write("\n".join(specs) + "\n")
        cmd = [sys.executable, REF, "run", "--mode", mode, "--out", out, "--probes", pf, "--"] + target
        env = dict(os.environ, PYTHONHASHSEED="0")
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
        recs = []
        if os.path.exists(out):
            with open(out) as fh:
                recs = [json.loads(line) for line in fh]
        return p.returncode, recs, p.stderr, p.stdout


# -- show(): tests/common/mod.rs::show() in Python --------------------------

def rust_float(x):
    if isinstance(x, str):
        return {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[x]
    r = repr(float(x))
    if "e" in r:
        mantissa, exp = r.split("e")
        return f"{mantissa}e{int(exp)}"
    return r


def rust_str(s):
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


def show_base(kind, value):
    if kind == "absent":
        return "-"
    if kind == "none":
        return "None"
    if kind == "bool":
        return "True" if value else "False"
    if kind == "int":
        return str(value)
    if kind == "float":
        return rust_float(value)
    if kind == "complex":
        return f"({rust_float(value[0])}+{rust_float(value[1])}j)"
    if kind == "str":
        return rust_str(value)
    if kind == "bytes":
        return "b" + rust_str(bytes.fromhex(value).decode("utf-8", "replace"))
    raise ValueError(kind)


def show(rec):
    kind, tn, value = rec["kind"], rec["type_name"], rec["value"]
    if kind == "other":
        return value
    if kind == "error":
        return f"<error {tn}>"
    if kind == "array":
        dtype = value["dtype"]
        elems = []
        for e in value["data"]:
            if dtype.startswith("complex"):
                elems.append(f"({rust_float(e[0])}+{rust_float(e[1])}j)")
            elif dtype.startswith("float"):
                elems.append(rust_float(e))
            elif dtype == "bool":
                elems.append("1" if e else "0")
            else:
                elems.append(str(e))
        more = ", …" if rec["truncated"] else ""
        return f"{tn}<{dtype}>[{', '.join(map(str, value['shape']))}][{', '.join(elems)}{more}]"
    base = show_base(kind, value)
    return f"{tn}({base})" if tn is not None and kind != "absent" else base


# -- the conformance corpus -------------------------------------------------

def conformance_case(name, corpus=CONFORMANCE):
    path = os.path.join(corpus, name + ".py")
    probes, target, exit_code = [], [path], 0
    since = (0, 0)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            key, _, rest = line[1:].strip().partition(":")
            rest = rest.strip()
            if key == "probe":
                tag, name = rest.split(" ", 1)
                src = path
                if ":" in tag:
                    f, tag = tag.rsplit(":", 1)
                    src = os.path.join(corpus, f)
                probes.append((tag, name, f"{src}:{line_of(src, tag)}:{name}"))
            elif key == "run":
                target = rest.split()
            elif key == "exit":
                exit_code = int(rest)
            elif key == "since":
                since = tuple(int(x) for x in rest.split("."))
    return probes, target, exit_code, since


def render_expected(recs, probes):
    threads = {}
    out = []
    for r in recs:
        tag, name, _ = probes[r["probe_index"]]
        label = f"{tag}:{name.split('@')[0]}@{r['role']}"
        t = threads.setdefault(r["thread"], len(threads))
        out.append(f"{r['seq']} {label} {r['order']} {r['status']} {r['kind']} T{t} {show(r)}")
    return out


def check_conformance(only, corpus=CONFORMANCE, what="conformance"):
    failures = []
    names = sorted(f[:-3] for f in os.listdir(corpus) if f.endswith(".py"))
    results = {}
    for name in names:
        if only and name not in only:
            continue
        probes, target, exit_code, since = conformance_case(name, corpus)
        if PY < since:
            print(f"n/a  {what} {name} (its syntax is {since[0]}.{since[1]}+)")
            continue
        with open(os.path.join(corpus, name + ".expected"), encoding="utf-8") as fh:
            want = [ln.rstrip("\n") for ln in fh if ln.strip() and not ln.startswith("#")]
        for mode in MODES:
            specs = [p[2] for p in probes]
            if target[0] == "-m":
                target_run = target
            else:
                target_run = target
            status, recs, err, _ = run_reference(specs, target_run, mode, cwd=corpus)
            got = render_expected(recs, probes)
            ok = got == want and status == exit_code
            results[(name, mode)] = recs
            print(f"{'ok  ' if ok else 'FAIL'} {what} {name} ({mode})")
            if not ok:
                failures.append(f"{what} {name} ({mode}): exit {status} (want {exit_code})\n"
                                + diff_lines(want, got) + (f"\nstderr:\n{err[-2000:]}" if err else ""))
    return failures, results


def diff_lines(want, got):
    out = []
    n = max(len(want), len(got))
    for i in range(n):
        w = want[i] if i < len(want) else "<none>"
        g = got[i] if i < len(got) else "<none>"
        mark = "  " if w == g else "!="
        out.append(f"  {mark} want: {w}\n     got:  {g}" if w != g else f"     {w}")
    return "\n".join(out)


# -- the SPEC §2 canonical table ---------------------------------------------

CANONICAL_CASES = [
    # (case, tag, probes, expected values per probe in seq order: "value" or "status:value")
    ("loop_lhs", "loop_lhs", ["x"], ["9", "8", "7"]),
    ("loop_rhs", "loop_rhs", ["x@rhs"], ["10", "9", "8"]),
    ("batch", "batch", ["a@rhs", "b@rhs", "x"], ["1", "2", "3"]),
    ("nested", "nested", ["x"], ["0", "1", "2", "10", "11", "12"]),
    ("ret", "ret", ["x"], ["42"]),
    ("oneline", "oneline", ["x"], ["42"]),
    ("raises", "raises", ["x"], ["raised:-"]),
    ("for_target", "for_target", ["i"], ["0", "1", "2"]),
    ("gen_send", "gen_send", ["x"], ["5", "6", "raised:6"]),
    ("comprehension", "comprehension", ["y", "v@rhs"], ["list<int64>[3][2, 4, 6]", "1", "2", "3"]),
    ("snapshots", "snapshots", ["buf@rhs"], ["list<float64>[0][]", "list<int64>[1][0]", "list<int64>[2][0, 1]"]),
]


def check_canonical(million):
    failures = []
    results = {}
    cases = list(CANONICAL_CASES)
    if million:
        cases.append(("million", "million", ["x"], None))
    for case, tag, names, want in cases:
        line = line_of(CANONICAL, tag)
        specs = [f"{CANONICAL}:{line}:{n}" for n in names]
        for mode in MODES:
            status, recs, err, _ = run_reference(specs, [CANONICAL, case], mode)
            got = [show(r) if r["status"] == "ok" else f"{r['status']}:{show(r)}" for r in recs]
            ok = status == 0
            if want is None:
                ok = ok and got == [str(i) for i in range(1_000_000)]
            else:
                ok = ok and got == want
            if case == "batch" and ok:
                # One batch: consecutive seq, order 0, 1, 2, one thread.
                ok = [(r["seq"], r["batch"], r["order"]) for r in recs] == [(0, 0, 0), (1, 0, 1), (2, 0, 2)]
            results[(case, mode)] = recs
            print(f"{'ok  ' if ok else 'FAIL'} canonical {case} ({mode})")
            if not ok:
                failures.append(f"canonical {case} ({mode}): exit {status}, got {got[:20]}, want {(want or [])[:20]}"
                                + (f"\nstderr:\n{err[-2000:]}" if err else ""))
    return failures, results


def check_extra(only):
    """fixtures/reference/*.py: programs probed everywhere (every name the
    reference itself finds, both roles where a line binds and reads it) on
    which the two modes must agree (no expected file: the comparison with
    `probe record` is the differential harness's job)."""
    failures, results = [], {}
    if not os.path.isdir(EXTRA):
        return failures, results
    for f in sorted(os.listdir(EXTRA)):
        if not f.endswith(".py"):
            continue
        name = f[:-3]
        if only and name not in only:
            continue
        path = os.path.join(EXTRA, f)
        specs = everything(path)
        for mode in MODES:
            status, recs, err, _ = run_reference(specs, [path], mode)
            results[(name, mode)] = recs
            if status != 0:
                failures.append(f"extra {name} ({mode}): exit {status}\n{err[-2000:]}")
    return failures, results


def everything(path):
    """Specs for every probeable (line, name, role) the reference finds."""
    p = subprocess.run([sys.executable, REF, "names", path], capture_output=True, text=True, check=True)
    specs = []
    for line in p.stdout.splitlines():
        d = json.loads(line)
        if d["bound"]:
            specs.append(f"{path}:{d['line']}:{d['name']}@lhs")
        if d["read"]:
            specs.append(f"{path}:{d['line']}:{d['name']}@rhs")
    return specs


HEX = re.compile(r"0x[0-9a-fA-F]+")


def check_seeds(seeds):
    """Both event sources on generated programs (3.12+ only)."""
    failures, results = [], {}
    if len(MODES) < 2:
        return failures, results
    gen = os.path.join(HERE, "gen_programs.py")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            path = os.path.join(tmp, f"gen_{seed}.py")
            subprocess.run([sys.executable, gen, str(seed), "-o", path], check=True)
            specs = everything(path)
            threaded = "# threads: yes" in open(path).read(300)
            for mode in MODES:
                status, recs, err, _ = run_reference(specs, [path], mode)
                results[(f"seed {seed}" + (" thread" if threaded else ""), mode)] = recs
                if status != 0:
                    failures.append(f"seed {seed} ({mode}): exit {status}\n{err[-2000:]}")
    return failures, results


def check_modes_agree(results):
    """Both event sources give the same records (thread ids aside)."""
    failures = []
    if len(MODES) < 2:
        return failures
    keys = sorted({k[0] for k in results})
    for k in keys:
        a, b = results.get((k, "settrace")), results.get((k, "monitoring"))
        if a is None or b is None:
            continue
        def strip(rs):
            # Thread ids and addresses in reprs differ between two processes.
            return [{x: (HEX.sub("0x?", v) if isinstance(v, str) else v) for x, v in r.items() if x != "thread"}
                    for r in rs]
        if "thread" in k:
            # Threads interleave freely: per-probe sequences and batches.
            def per_probe(rs):
                d = {}
                for r in strip(rs):
                    d.setdefault(r["probe"], []).append((r["status"], r["kind"], r["value"]))
                return d

            def batches(rs):
                d = {}
                for r in rs:
                    d.setdefault((r["thread"], r["batch"]), []).append((r["order"], r["probe"], r["status"]))
                return sorted(tuple(x) for x in d.values())
            ok = per_probe(a) == per_probe(b) and batches(a) == batches(b)
        else:
            ok = strip(a) == strip(b)
        print(f"{'ok  ' if ok else 'FAIL'} modes agree: {k}")
        if not ok:
            sa, sb = strip(a), strip(b)
            i = next((i for i in range(max(len(sa), len(sb))) if (sa[i:i + 1] != sb[i:i + 1])), 0)
            failures.append(f"modes disagree on {k} at record {i}: settrace {sa[i:i + 3]} vs monitoring {sb[i:i + 3]}")
    return failures


def main():
    args = sys.argv[1:]
    million = "--million" in args
    only = set()
    if "--only" in args:
        only = {args[i + 1] for i, a in enumerate(args) if a == "--only"}
    failures = []
    results = {}
    f, r = check_conformance(only)
    failures += f
    results.update(r)
    f, r = check_conformance(only, REGRESSIONS, "regression")
    failures += f
    results.update(r)
    if not only:
        f, r = check_canonical(million)
        failures += f
        results.update(r)
    f, r = check_extra(only)
    failures += f
    results.update(r)
    if "--seeds" in args:
        a, _, b = args[args.index("--seeds") + 1].partition("-")
        f, r = check_seeds(range(int(a), int(b or a) + 1))
        failures += f
        results.update(r)
    failures += check_modes_agree(results)
    print(f"reference self-test on Python {sys.version.split()[0]}: {len(failures)} failure(s), "
          f"{len(results)} runs, modes {', '.join(MODES)}")
    for f in failures:
        print("\n" + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
