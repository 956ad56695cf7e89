#!/usr/bin/env python3
"""How `probe record`'s cost grows with the number of probes (issue 16 item 12).

For each probe count P (default 10, 100, 1000, 5000) it writes a program
whose loop body is P assignment lines `vK = i` in one function, probes all
of them, and records it twice:

  start    the loop runs 0 times: start-up only (resolving P specs, planning
           the code, META, sealing);
  capture  the loop runs ceil(C / P) times: C captures (default 200,000).

It prints wall time of both, the cost per capture ((capture - start) / C),
and, when `perf` is installed, the CPU time of the recorder process alone
(`perf stat --no-inherit`), so that the Rust side and the agent can be told
apart. Linear cost means: start grows about 10x per 10x probes, and the
per-capture cost stays flat. Never asserts a time.

    scripts/bench_probe_count.py [--python PY] [--counts 10,100,1000,5000]
                                 [--captures 200000] [--probe-bin PATH]

Standard library only. Default binary: $PROBE_BIN, else target/profiling/probe
(cargo build --profile profiling).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def program(path, p):
    lines = ["import sys", "", "def f(n):", "    for i in range(n):"]
    lines += [f"        v{k} = i" for k in range(p)]
    lines += ["", "f(int(sys.argv[1]))", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    return [f"{path}:{5 + k}:v{k}" for k in range(p)]


def run(probe, python, prog, specs_file, n, log, perf):
    cmd = [probe, "record", "-q", "--force", "-o", log, "--probes", specs_file, "--", python, prog, str(n)]
    if perf:
        cmd = ["perf", "stat", "-x,", "-e", "task-clock", "--no-inherit"] + cmd
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"bench: probe record failed ({r.returncode}):\n{r.stderr}")
    cpu = None
    if perf:
        for line in r.stderr.splitlines():
            if "task-clock" in line:
                cpu = float(line.split(",")[0]) / 1000.0
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=shutil.which("python3") or "python3")
    ap.add_argument("--counts", default="10,100,1000,5000")
    ap.add_argument("--captures", type=int, default=200_000)
    ap.add_argument("--probe-bin", default=os.environ.get(
        "PROBE_BIN", os.path.join(ROOT, "target", "profiling", "probe")))
    a = ap.parse_args()
    if not os.path.exists(a.probe_bin):
        sys.exit(f"bench: no binary at {a.probe_bin}: cargo build --profile profiling, or --probe-bin")
    perf = shutil.which("perf") is not None
    print(f"probe-count scaling: {a.probe_bin}, {a.python}, {a.captures:,} captures per run")
    print(f"{'probes':>7} {'start s':>9} {'capture s':>10} {'us/capture':>11} "
          f"{'rec CPU start':>14} {'rec CPU capture':>16} {'rec us/capture':>15}")
    with tempfile.TemporaryDirectory() as d:
        for p in (int(x) for x in a.counts.split(",")):
            prog = os.path.join(d, f"many{p}.py")
            specs = program(prog, p)
            sf = os.path.join(d, f"probes{p}.txt")
            with open(sf, "w") as fh:
                fh.write("\n".join(specs) + "\n")
            n = -(-a.captures // p)
            log = os.path.join(d, "run.probe")
            s_wall, s_cpu = run(a.probe_bin, a.python, prog, sf, 0, log, perf)
            c_wall, c_cpu = run(a.probe_bin, a.python, prog, sf, n, log, perf)
            per = (c_wall - s_wall) / (n * p) * 1e6
            rec = "" if s_cpu is None else f"{s_cpu:>14.3f} {c_cpu:>16.3f} {(c_cpu - s_cpu) / (n * p) * 1e6:>15.3f}"
            print(f"{p:>7} {s_wall:>9.2f} {c_wall:>10.2f} {per:>11.2f} {rec}", flush=True)


if __name__ == "__main__":
    main()
