#!/usr/bin/env python3
"""Threads under probe: fixtures/bench/threads.py (four threads, 1,000,000
records of one LHS probe) run untraced and under each given probe binary,
alternated in one loop, best of N whole-process wall times; prints each
binary's time and its ratio to untraced. Checks that every traced run
exits 0 and holds 1,000,000 records; asserts no time.

    scripts/bench_threads.py -n 5 --python /path/to/python3.12 [--core native] OLD/probe NEW/probe
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROG = os.path.join(ROOT, "fixtures", "bench", "threads.py")


def probe_line():
    with open(PROG, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.rstrip().endswith("# PROBE acc"):
                return i
    sys.exit("bench: no PROBE marker in " + PROG)


def timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit("bench: %s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode()[-600:]))
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5, help="rounds (best of N)")
    ap.add_argument("--python", required=True)
    ap.add_argument("--core", default="auto")
    ap.add_argument("binaries", nargs="+")
    a = ap.parse_args()
    spec = "%s:%d:acc" % (PROG, probe_line())
    best = {"untraced": float("inf")}
    best.update({b: float("inf") for b in a.binaries})
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.n):
            best["untraced"] = min(best["untraced"], timed([a.python, PROG]))
            for i, b in enumerate(a.binaries):
                log = os.path.join(d, "%d.probe" % i)
                best[b] = min(best[b], timed([b, "record", "-q", "--force", "--core", a.core, "-o", log,
                                              "-p", spec, "--", a.python, PROG]))
                info = subprocess.run([b, "info", log], capture_output=True, text=True).stdout
                m = re.search(r"([\d,]+) records", info)
                if not m or int(m.group(1).replace(",", "")) != 1_000_000:
                    sys.exit("bench: %s recorded %s, not 1,000,000 records" % (b, m.group(1) if m else "?"))
            print("round %d/%d done" % (r + 1, a.n), file=sys.stderr)
    u = best["untraced"]
    print("%s, 4 threads x 250,000 records, best of %d, core %s" % (a.python, a.n, a.core))
    print("  %-40s %8.3f s" % ("untraced", u))
    for b in a.binaries:
        print("  %-40s %8.3f s  %6.2fx" % (b, best[b], best[b] / u))


if __name__ == "__main__":
    main()
