#!/usr/bin/env python3
"""CPython's own test suite, bare and under `probe record`: probe must not
change what a program does.

For each test module (`test_json`, `test_exceptions`, ...) the module it
tests (`json/encoder.py`, or the test file itself for language tests) gets
probes on the first assignment of each of its functions (up to 40), and
`python -m unittest -q test.MODULE` runs twice: bare, and under
`probe record --probes` with the chosen core. The two runs must end with
the same exit status and the same unittest summary ("Ran N tests", "OK
(skipped=K)"), and the log must pass `probe verify`.

    scripts/cpython_tests.py --python 3.12=/path/to/python3.12 [--core native]
        [--probe target/release/probe] [--only test_json,test_re]

Needs interpreters that ship their `test` package (pyenv builds do;
Debian's need `libpython3.X-testsuite`). Takes 10-15 minutes per Python; not
part of CI. Some tests are timing-sensitive and fail bare on a loaded
machine (test_signal, test_threading, bpo-30039 in test_generators): a
DIFF where the bare run failed says more about the machine than about
probe, and the report says which side failed. Known difference:
test_monitoring asserts that no sys.monitoring tool is active, and probe's
cores hold one (README, "Known limitations")."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (test module, file probed: relative to the standard library)
TESTS = [
    ("test_json", "json/encoder.py"), ("test_difflib", "difflib.py"), ("test_csv", "csv.py"),
    ("test_configparser", "configparser.py"), ("test_argparse", "argparse.py"), ("test_shlex", "shlex.py"),
    ("test_string", "string.py"), ("test_re", "re/_parser.py"), ("test_functools", "functools.py"),
    ("test_collections", "collections/__init__.py"), ("test_dataclasses", "dataclasses.py"),
    ("test_enum", "enum.py"), ("test_typing", "typing.py"), ("test_inspect", "inspect.py"),
    ("test_ast", "ast.py"), ("test_tokenize", "tokenize.py"), ("test_pprint", "pprint.py"),
    ("test_pickle", "pickle.py"), ("test_copy", "copy.py"), ("test_contextlib", "contextlib.py"),
    ("test_contextlib_async", "contextlib.py"), ("test_generators", "test/test_generators.py"),
    ("test_coroutines", "test/test_coroutines.py"), ("test_patma", "test/test_patma.py"),
    ("test_exceptions", "test/test_exceptions.py"), ("test_scope", "test/test_scope.py"),
    ("test_listcomps", "test/test_listcomps.py"), ("test_with", "test/test_with.py"),
    ("test_grammar", "test/test_grammar.py"), ("test_queue", "queue.py"), ("test_calendar", "calendar.py"),
    ("test_tarfile", "tarfile.py"), ("test_gzip", "gzip.py"),
    ("test_email", "email/_header_value_parser.py"), ("test_urlparse", "urllib/parse.py"),
    ("test_ipaddress", "ipaddress.py"), ("test_base64", "base64.py"), ("test_random", "random.py"),
    ("test_sys_settrace", "test/test_sys_settrace.py"), ("test_sys_setprofile", "test/test_sys_setprofile.py"),
    ("test_trace", "trace.py"), ("test_pdb", "pdb.py"), ("test_bdb", "bdb.py"), ("test_cprofile", "profile.py"),
    ("test_traceback", "traceback.py"), ("test_doctest", "doctest.py"), ("test_code_module", "code.py"),
    ("test_gc", "test/test_gc.py"), ("test_weakref", "test/test_weakref.py"), ("test_frame", "test/test_frame.py"),
    ("test_sys", "test/test_sys.py"), ("test_asyncio.test_tasks", "asyncio/tasks.py"),
    ("test_logging", "logging/__init__.py"), ("test_decimal", "_pydecimal.py"),
]

# Run by the interpreter under test (its own grammar): the probe specs.
SPECS = r"""
import ast, sys
path, limit = sys.argv[1], int(sys.argv[2])
seen, out = set(), []
for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for st in ast.walk(node):
            if (isinstance(st, ast.Assign) and len(st.targets) == 1
                    and isinstance(st.targets[0], ast.Name) and st.lineno not in seen):
                seen.add(st.lineno)
                out.append("%s:%d:%s" % (path, st.lineno, st.targets[0].id))
                break
print("\n".join(out[:limit]))
"""


def summary(text):
    ran = re.findall(r"^Ran (\d+) tests?", text, re.M)
    end = re.findall(r"^(OK.*|FAILED.*)$", text, re.M)
    return (ran[-1] if ran else "-", end[-1] if end else "no summary")


def run(cmd, cwd, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout)
        return p.returncode, p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired:
        return None, "", time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", action="append", required=True, metavar="VERSION=PATH")
    ap.add_argument("--probe", default=os.path.join(ROOT, "target", "release", "probe"))
    ap.add_argument("--core", default="auto")
    ap.add_argument("--only", default="", help="comma-separated test modules")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run (default 900)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    tests = [t for t in TESTS if not only or t[0] in only]
    differ = 0
    with tempfile.TemporaryDirectory(prefix="probe-cpython-tests-") as tmp:
        for item in args.python:
            version, py = item.split("=", 1)
            lib = subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                                          text=True).strip()
            print(f"Python {version} ({py}), core {args.core}")
            for test, rel in tests:
                path = os.path.join(lib, rel)
                if not os.path.exists(path) and rel.endswith("/__init__.py"):
                    path = os.path.join(lib, rel[: -len("/__init__.py")] + ".py")
                if not os.path.exists(path):
                    print(f"  {test:24} not in this Python ({rel})")
                    continue
                specs = subprocess.check_output([py, "-c", SPECS, path, "40"], text=True)
                if not specs.strip():
                    print(f"  {test:24} no function with an assignment in {rel}: nothing to probe")
                    continue
                spec_file = os.path.join(tmp, "specs.txt")
                with open(spec_file, "w") as f:
                    f.write(specs)
                cmd = [py, "-m", "unittest", "-q", "test." + test]
                log = os.path.join(tmp, f"{version}-{test}.probe")
                rc_a, err_a, t_a = run(cmd, tmp, args.timeout)
                rc_b, err_b, t_b = run([args.probe, "record", "-q", "--force", "--core", args.core,
                                        "--probes", spec_file, "-o", log, "--"] + cmd, tmp, args.timeout)
                v = subprocess.run([args.probe, "verify", log], capture_output=True, text=True)
                recs = re.search(r"([\d,]+) records?", v.stdout + v.stderr)
                same = rc_a == rc_b and summary(err_a) == summary(err_b) and v.returncode == 0
                if not same:
                    differ += 1
                    for side, text in (("bare", err_a), ("probe", err_b)):
                        with open(os.path.join(ROOT, "target", f"cpython-tests-{version}-{test}.{side}.txt"), "w") as f:
                            f.write(text)
                print(f"  {test:24} {'same' if same else 'DIFF'}  bare: rc {rc_a} {' '.join(summary(err_a))} "
                      f"({t_a:.1f}s)  probe: rc {rc_b} {' '.join(summary(err_b))} ({t_b:.1f}s), "
                      f"verify {'ok' if v.returncode == 0 else 'FAILED'}, {recs.group(1) if recs else '?'} records",
                      flush=True)
    if differ:
        print(f"{differ} differences; both outputs of each are in target/cpython-tests-*.txt")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
