#!/usr/bin/env python3
"""The fixed cost of `probe record`: fixtures/bench/startup.py (a program
that does almost nothing, one probe) run bare and under each given probe
binary, alternated in one loop so that every binary sees the same machine
state. Reports best and median wall time and the CPU time of the whole
process tree (user + system, from wait4: the recorder's reaped python
included), and each binary's excess over the bare interpreter.

    scripts/bench_startup.py -n 25 --python 3.12=/path/to/python3.12 \\
        OLD/probe NEW/probe

Each binary records once before the timed runs (its caches warm). Checks
that every run exits 0 and its log holds exactly one record; asserts no
time."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROG = os.path.join(ROOT, "fixtures", "bench", "startup.py")


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.returncode != 0:
        sys.exit("bench: %s exited %d: %s" % (" ".join(cmd), p.returncode, err[-600:]))
    return wall, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bins", nargs="+", metavar="PROBE", help="probe binaries to compare")
    ap.add_argument("-n", type=int, default=25, help="runs of each (default 25)")
    ap.add_argument("--python", action="append", default=[], metavar="MINOR=PATH", required=True)
    args = ap.parse_args()
    line = next(i for i, l in enumerate(open(PROG), 1) if "# PROBE x" in l)
    spec = "%s:%d:x" % (PROG, line)
    with tempfile.TemporaryDirectory(prefix="probe-startup-") as tmp:
        for item in args.python:
            minor, py = item.split("=", 1)
            cmds = {"bare": lambda lp: [py, PROG]}
            for b in args.bins:
                cmds[b] = (lambda b: lambda lp: [b, "record", "-q", "-p", spec, "-o", lp, "--", py, PROG])(b)
            for b in args.bins:
                lp = os.path.join(tmp, "warm.probe")
                run(cmds[b](lp))
                os.unlink(lp)
            wall = {k: [] for k in cmds}
            cpu = {k: [] for k in cmds}
            for i in range(args.n):
                keys = list(cmds) if i % 2 == 0 else list(cmds)[::-1]
                for k in keys:
                    lp = os.path.join(tmp, "run.probe")
                    w, c = run(cmds[k](lp))
                    wall[k].append(w)
                    cpu[k].append(c)
                    if k != "bare":
                        info = subprocess.run([k, "info", "--json", lp], capture_output=True, text=True)
                        got = json.loads(info.stdout) if info.returncode == 0 else {}
                        if got.get("records") != 1 or not got.get("complete", False):
                            sys.exit("bench: %s: the log does not hold exactly 1 record, complete: %s"
                                     % (k, info.stdout[:300]))
                        os.unlink(lp)
            bw, mw = min(wall["bare"]), statistics.median(wall["bare"])
            bc, mc = min(cpu["bare"]), statistics.median(cpu["bare"])
            print("Python %s (%s), %d runs each, alternated" % (minor, py, args.n))
            print("  %-40s %9s %9s %9s %9s   %s" % ("", "best", "median", "cpu best", "cpu med", "excess (best / median wall; median cpu)"))
            for k in cmds:
                w, c = wall[k], cpu[k]
                ex = "" if k == "bare" else "+%.1f / +%.1f ms; +%.1f ms" % (
                    (min(w) - bw) * 1e3, (statistics.median(w) - mw) * 1e3, (statistics.median(c) - mc) * 1e3)
                print("  %-40s %7.1fms %7.1fms %7.1fms %7.1fms   %s" % (
                    k[-40:], min(w) * 1e3, statistics.median(w) * 1e3, min(c) * 1e3,
                    statistics.median(c) * 1e3, ex))
    return 0


if __name__ == "__main__":
    sys.exit(main())
