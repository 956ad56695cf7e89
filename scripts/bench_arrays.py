#!/usr/bin/env python3
"""Array capture benchmark: whole-process traced ÷ untraced time, in one run.

    python3 scripts/bench_arrays.py [--repeat N] [--pythons 3.11,3.12,3.13,3.14,3.15]

For each Python (the .ci/venvs/3.X interpreters, which have NumPy; run
.ci/run once or create them) and each fixture below, runs the program
untraced and under `probe record` alternately, N times each, and prints the
best-of-N ratio, the log's bytes per record, and whether every array was
stored in full (`probe verify` and `probe info --json` on the last log).

  fixtures/bench/array_loop.py  1,024-sample float64 array, 10,000 iterations
  fixtures/bench/fir.py         64-tap FIR, 2,000 blocks of 1,024 (SPEC §10: <= 1.3x)

Stdlib only; build first (cargo build --profile profiling: release code with
debug info, in target/profiling/) or set PROBE_BIN.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = [("array_loop.py", "block", 10_000), ("fir.py", "out", 2_000)]


def probe_line(path, name):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.rstrip().endswith("# PROBE " + name):
                return n
    raise SystemExit(f"{path}: no line marked '# PROBE {name}'")


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr.decode(errors='replace')}")
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", "-n", type=int, default=5)
    ap.add_argument("--pythons", default="3.11,3.12,3.13,3.14,3.15")
    args = ap.parse_args()
    probe = os.environ.get("PROBE_BIN", os.path.join(ROOT, "target", "profiling", "probe"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minor in args.pythons.split(","):
            py = os.path.join(ROOT, ".ci", "venvs", minor, "bin", "python")
            if not os.path.exists(py):
                raise SystemExit(f"{py} missing: run .ci/run (it creates the venvs with NumPy)")
            for prog, name, n in FIXTURES:
                path = os.path.join(ROOT, "fixtures", "bench", prog)
                spec = f"{path}:{probe_line(path, name)}:{name}"
                log = os.path.join(tmp, "b.probe")
                plain, traced = [], []
                for _ in range(args.repeat):
                    plain.append(timed([py, path]))
                    traced.append(timed([probe, "record", "-q", "--force", "-o", log, "-p", spec, "--", py, path]))
                info = json.loads(subprocess.run([probe, "info", "--json", log], capture_output=True,
                                                 check=True).stdout)
                verify = subprocess.run([probe, "verify", log], capture_output=True).returncode
                records = info["probes"][0]["count"]
                size = os.path.getsize(log)
                row = dict(python=minor, program=prog, untraced_s=min(plain), traced_s=min(traced),
                           ratio=min(traced) / min(plain), records=records, expected=n,
                           bytes_per_record=size / max(records, 1), verify=verify)
                rows.append(row)
                print(f"{minor} {prog:<14} untraced {row['untraced_s']:.3f}s traced {row['traced_s']:.3f}s "
                      f"ratio {row['ratio']:.2f}x  records {records}/{n}  {row['bytes_per_record']:.0f} B/record "
                      f"(raw 8192)  verify {'ok' if verify == 0 else verify}", flush=True)
    return 0 if all(r["records"] == r["expected"] and r["verify"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
