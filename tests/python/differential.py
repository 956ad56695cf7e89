"""Differential testing of `probe record` against the instruction-level
reference (tests/python/instr_reference.py), issue 11.

For each program: "probe everything" - every (line, name) that `probe
probes FILE --json` lists for the probed file(s), with its default role,
plus the other role where the line both binds and reads the name, all at
once, with explicit roles - is recorded with `probe record --probes` on each
requested core, read back with `probe export -o x.jsonl`, and compared
record by record with what the reference computes on the same interpreter:
seq, probe, batch, order, status, kind, type name, value, truncation flag;
thread ids must map one to one. Programs that run threads are compared per
probe (value sequences) and per batch composition instead of global order.
The program's stdout and exit status must also be the same in both runs.

Programs:
  --seeds A-B            generated programs (tests/python/gen_programs.py SEED)
  --drivers all|a,b      real-code drivers (tests/python/drivers/*.py): each
                         names the modules whose source files are probed;
                         `third_party` names every driver of third-party
                         packages (drivers/third_party/*.py, which need
                         drivers/third_party/requirements.txt installed:
                         scripts/differential.sh --third-party), and
                         `third_party/NAME` one of them
  --program FILE         any program (its own file is probed); repeatable
  --probe SPEC           probe exactly these specs (repeatable) instead of
                         everything; with --show, a quick look at one case
  --show                 print both record lists of every run, compactly

Other options:
  --versions 3.11,3.12   interpreters (default: all of 3.11, 3.12, 3.13,
                         found as tests/common/mod.rs::find_python finds them)
  --cores native,settrace   (default: native and settrace on 3.11, also monitoring on 3.12+)
  --probe-bin PATH       (default: target/release/probe)
  --ref-mode settrace|monitoring   the reference's event source (default settrace)
  --stop-first           stop at the first disagreement
  --keep DIR             keep every program, probe list, log and JSONL in DIR
  --jobs N               programs checked in parallel (default 2)
  --max-shown N          disagreements printed in full (default 10)
  --json FILE            write the counts and disagreements as JSON
  -q                     only the summary and the disagreements
  --brief                each disagreement in a few lines (the differing
                         records and the probes' specs), for triage

The listing itself is checked too: `probe probes` must list the same
(line, name) pairs, with the same bound/read flags, as the reference finds
(`instr_reference.py names`); entries that are not names (`*` of a star
import) are left out of the probes and reported.

Exit status: 0 when every comparison agrees, 1 on any disagreement, 2 when
the harness itself could not run (missing interpreter or binary).
"""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REF = os.path.join(HERE, "instr_reference.py")
GEN = os.path.join(HERE, "gen_programs.py")
DRIVERS = os.path.join(HERE, "drivers")
VERSIONS = ["3.11", "3.12", "3.13"]


def find_python(version):
    """As tests/common/mod.rs::find_python: $PROBE_TEST_PYTHON_3_X, the
    .ci/venvs venv, /root/.pyenv/versions/3.X.*, python3.X on PATH."""
    var = "PROBE_TEST_PYTHON_" + version.replace(".", "_")
    if os.environ.get(var):
        return os.environ[var]
    venv = os.path.join(ROOT, ".ci", "venvs", version, "bin", "python")
    if os.path.exists(venv):
        return venv
    root = "/root/.pyenv/versions"
    if os.path.isdir(root):
        found = sorted(d for d in os.listdir(root)
                       if d.startswith(version + ".") and d[len(version) + 1:].isdigit())
        for d in reversed(found):
            p = os.path.join(root, d, "bin", "python")
            if os.path.exists(p):
                return p
    return shutil.which("python" + version)


def default_cores(version):
    return ["native", "settrace"] if version == "3.11" else ["native", "monitoring", "settrace"]


# ---------------------------------------------------------------------------
# Canonical records.
# ---------------------------------------------------------------------------

HEX = re.compile(r"0x[0-9a-fA-F]+")
# Paths of the interpreter's own library differ between versions (module reprs).
STDLIB = re.compile(r"[^'\"\s]*/lib/python3\.\d+/")
NAME = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*")


def cfloat(x):
    if isinstance(x, str):
        return x  # "nan", "inf", "-inf"
    return repr(float(x))


def canon_value(kind, value, dtype=None):
    if kind in ("absent", "none"):
        return None
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return str(value)
    if kind == "float":
        return cfloat(value)
    if kind == "complex":
        return (cfloat(value[0]), cfloat(value[1]))
    if kind in ("str", "bytes"):
        return value
    if kind in ("other", "error"):
        return HEX.sub("0x?", value or "")
    if kind == "array":
        dt = value["dtype"]
        if dt.startswith("complex"):
            data = tuple((cfloat(a), cfloat(b)) for a, b in value["data"])
        elif dt.startswith("float"):
            data = tuple(cfloat(x) for x in value["data"])
        elif dt == "bool":
            data = tuple(bool(x) for x in value["data"])
        else:
            data = tuple(str(x) for x in value["data"])
        return (dt, tuple(value["shape"]), data)
    return repr(value)


# The value of a record that two runs of the reference disagree on.
VOLATILE = "<differs from run to run>"


def canon_record_value(rec):
    """canon_value, except for a set of objects hashed by address (functions,
    plain instances: their repr has `<...>`): its order differs in every
    process, so only the length of its repr is compared."""
    if rec["value"] is VOLATILE:
        return VOLATILE
    if rec["kind"] == "other" and rec["type_name"] in ("set", "frozenset") and "<" in (rec["value"] or ""):
        return ("set of address-hashed objects", len(rec["value"]))
    if rec["kind"] == "other" and rec["type_name"] == "dict" and "<module '" in (rec["value"] or ""):
        # sys.modules (or a namespace holding modules): which modules are
        # loaded depends on the tracer's own imports.
        return ("module table", rec["value"][:40])
    return canon_value(rec["kind"], rec["value"])


def canon(rec):
    """The comparable content of one record (thread and timestamp aside)."""
    return (rec["seq"], rec["probe"], rec["batch"], rec["order"], rec["status"], rec["kind"],
            rec["type_name"], canon_record_value(rec), rec["truncated"])


def show(rec):
    v = canon_record_value(rec)
    if isinstance(v, str) and len(v) > 70:
        v = v[:67] + "..."
    tn = f" {rec['type_name']}" if rec["type_name"] else ""
    tr = " (truncated)" if rec["truncated"] else ""
    return (f"seq {rec['seq']:>4} batch {rec['batch']:>4} order {rec['order']} "
            f"{rec['probe']:<34} {rec['status']:<10} {rec['kind']}{tn} {v!r}{tr}")


# ---------------------------------------------------------------------------
# Running things.
# ---------------------------------------------------------------------------

class Env:
    def __init__(self, probe_bin, pythons, keep):
        self.probe_bin = probe_bin
        self.pythons = pythons
        self.keep = keep
        self.listings = {}
        self.lock = threading.Lock()
        self.files_cache = {}
        self.fixed_specs = []
        self.show = False

    def listing(self, version, path):
        """`probe probes FILE --json` on `version`: the specs of every
        probeable (line, name, role)."""
        key = (version, path)
        with self.lock:
            if key in self.listings:
                return self.listings[key]
        t0 = time.time()
        p = subprocess.run([self.probe_bin, "probes", path, "--json", "--python", self.pythons[version]],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"probe probes {path} failed ({p.returncode}): {p.stderr}")
        d = json.loads(p.stdout)
        specs, sources, listed = [], {}, {}
        for line in d["lines"]:
            sources[line["line"]] = line["source"]
            for n in line["names"]:
                listed[(line["line"], n["name"])] = (n["bound"], n["read"])
                if not NAME.fullmatch(n["name"]):
                    continue  # not a name (`*` of a star import): record would refuse it
                specs.append(f"{path}:{line['line']}:{n['name']}@{n['default_role']}")
                if n["bound"] and n["read"]:
                    other = "rhs" if n["default_role"] == "lhs" else "lhs"
                    specs.append(f"{path}:{line['line']}:{n['name']}@{other}")
        # The reference's own listing of the same file: both must list the
        # same (line, name) pairs with the same bound/read flags (SPEC §1).
        r = subprocess.run([self.pythons[version], REF, "names", path], capture_output=True, text=True)
        own = {}
        for ln in r.stdout.splitlines():
            x = json.loads(ln)
            own[(x["line"], x["name"])] = (x["bound"], x["read"])
        problems = []
        for key in sorted(set(listed) | set(own)):
            a, b = listed.get(key), own.get(key)
            if a != b:
                line, name = key
                what = ("listed by probe probes only" if b is None else "missing from probe probes" if a is None
                        else f"bound/read {a} by probe probes, {b} by the reference")
                problems.append(f"{os.path.basename(path)}:{line}: {name!r} {what}: {sources.get(line, '').strip()}")
        res = (specs, sources, time.time() - t0, problems)
        with self.lock:
            self.listings[key] = res
        return res


def module_files(python, modules, optional=()):
    """Absolute source paths of modules ("a|b": the first that exists);
    `optional` ones are left out where they do not exist."""
    modules = list(modules) + list(optional)
    code = ("import importlib.util, sys, json\nout = []\n"
            "for alts in sys.argv[1:]:\n"
            "    for m in alts.split('|'):\n"
            "        try:\n            s = importlib.util.find_spec(m)\n"
            "        except Exception:\n            s = None\n"
            "        if s is not None and s.origin == 'frozen':\n"
            "            s = getattr(s.loader_state, 'filename', None)\n"
            "            if s: out.append(s); break\n"
            "        elif s is not None and s.origin and s.origin.endswith('.py'):\n"
            "            out.append(s.origin); break\n"
            "    else:\n        out.append(None)\n"
            "print(json.dumps(out))\n")
    p = subprocess.run([python, "-c", code] + modules, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    paths = json.loads(p.stdout)
    missing = [m for m, f in zip(modules, paths) if f is None and m not in optional]
    paths = [f for f in paths if f is not None]
    if missing:
        raise RuntimeError(f"modules not found on {python}: {missing}")
    return [os.path.realpath(f) for f in paths]


def read_jsonl(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def run(cmd, cwd, timeout=600, extra_env=None):
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
    env.pop("PYTHONSTARTUP", None)
    try:
        p = subprocess.run(cmd, capture_output=True, cwd=cwd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, b"", b"timeout"
    return p.returncode, p.stdout, p.stderr


class Program:
    """One program to check: its argv, the files to probe, threads?"""

    def __init__(self, name, argv, files_fn, threaded=False, cwd=None, same_everywhere=False):
        self.name = name
        self.argv = argv
        self.files_fn = files_fn  # version -> [paths]
        self.threaded = threaded
        self.cwd = cwd
        # The probed file is the same on every Python (not a stdlib file):
        # the reference must then give the same records on every version.
        self.same_everywhere = same_everywhere
        # `FILE:NAME@ROLE` (FILE a base name): probes whose values are read
        # from uninitialized memory; their values are not compared.
        self.volatile = set()


def check_program(env, prog, version, cores, ref_mode, workdir):
    """Reference + each core; returns a result dict."""
    py = env.pythons[version]
    files = prog.files_fn(version)
    specs, sources = [], {}
    listing_time = 0.0
    listing_problems = []
    for f in files:
        s, src, dt, lp = env.listing(version, f)
        specs += s
        sources[f] = src
        listing_time += dt
        listing_problems += lp
    if env.fixed_specs:
        specs = [os.path.realpath(x.rsplit(":", 2)[0]) + ":" + x.rsplit(":", 2)[1] + ":" + x.rsplit(":", 2)[2]
                 for x in env.fixed_specs]
    res = {"program": prog.name, "version": version, "probes": len(specs), "runs": [], "error": None,
           "listing": listing_problems}
    if not specs:
        res["error"] = "no probes"
        return res
    os.makedirs(workdir, exist_ok=True)
    pf = os.path.join(workdir, "probes.txt")
    with open(pf, "w") as fh:
        fh.write("\n".join(specs) + "\n")
    label_index = labels(specs)
    ref_out = os.path.join(workdir, f"ref-{ref_mode}.jsonl")
    t0 = time.time()
    rstatus, rstdout, rstderr = run([py, REF, "run", "--mode", ref_mode, "--out", ref_out, "--probes", pf, "--"]
                                    + prog.argv, prog.cwd or workdir)
    ref_time = time.time() - t0
    ref = read_jsonl(ref_out)
    if ref is None:
        res["error"] = f"reference failed (status {rstatus}):\n{rstderr.decode(errors='replace')[-3000:]}"
        return res
    res["ref_time"] = ref_time
    res["ref_records"] = len(ref)
    if not prog.same_everywhere and not prog.threaded:
        # Real code may record values that differ from run to run (object
        # ids, np.empty's memory, temporary directory names): a second
        # reference run finds them; there only the value is not compared.
        ref2_out = os.path.join(workdir, f"ref2-{ref_mode}.jsonl")
        # glibc fills fresh allocations with this byte: memory the program
        # reads uninitialized (np.empty) then differs from the first run.
        run([py, REF, "run", "--mode", ref_mode, "--out", ref2_out, "--probes", pf, "--"] + prog.argv,
            prog.cwd or workdir, extra_env={"MALLOC_PERTURB_": "165"})
        ref2 = read_jsonl(ref2_out)
        if ref2 is None or len(ref2) != len(ref) or any(
                canon(a)[:7] != canon(b)[:7] or a["truncated"] != b["truncated"] for a, b in zip(ref, ref2)):
            res["error"] = "the program records differently in two runs of the reference (not deterministic)"
            return res
        volatile = [i for i, (a, b) in enumerate(zip(ref, ref2))
                    if canon(a) != canon(b) or volatile_label(a["probe"]) in prog.volatile]
        res["volatile"] = len(volatile)
        ref = list(ref)
        for i in volatile:
            ref[i] = dict(ref[i], value=VOLATILE)
    else:
        volatile = []
    if prog.same_everywhere:
        # Kept to check that the reference gives the same records on every
        # Python (SPEC §2 rule 5: records are identical on every version).
        res["ref_canon"] = (tuple(specs), [tuple(STDLIB.sub("<lib>/", x) if isinstance(x, str) else x
                                                 for x in canon(r)) for r in ref])
    for core in cores:
        log = os.path.join(workdir, f"{core}.probe")
        out = os.path.join(workdir, f"{core}.jsonl")
        for x in (log, out):
            if os.path.exists(x):
                os.remove(x)
        t0 = time.time()
        status, stdout, stderr = run([env.probe_bin, "record", "-q", "--core", core, "-o", log, "--probes", pf,
                                      "--", py] + prog.argv, prog.cwd or workdir)
        rec_time = time.time() - t0
        run_res = {"core": core, "time": rec_time, "status": status}
        if not os.path.exists(log):
            run_res["diff"] = f"probe record wrote no log (status {status}):\n{stderr.decode(errors='replace')[-3000:]}"
            res["runs"].append(run_res)
            continue
        p = subprocess.run([env.probe_bin, "export", log, "-o", out, "--force", "--allow-incomplete"],
                           capture_output=True, text=True)
        got = read_jsonl(out)
        if got is None:
            run_res["diff"] = f"probe export failed: {p.stderr[-2000:]}"
            res["runs"].append(run_res)
            continue
        run_res["records"] = len(got)
        if env.show:
            def compact(recs):
                return "\n".join(f"    {r['seq']} {r['probe'].split(':', 1)[1]} b{r['batch']} o{r['order']} "
                                 f"{r['status']} {canon_record_value(r)!r}" for r in recs)
            print(f"--- {prog.name} Python {version} ({core})\n  reference:\n{compact(ref)}\n"
                  f"  probe record:\n{compact(got)}", flush=True)
        problems = []
        if status != rstatus:
            problems.append(f"exit status: reference {rstatus}, probe record {status}")
        if stdout != rstdout:
            problems.append("stdout differs:\n  reference: " + repr(rstdout[-300:]) + "\n  probe:     "
                            + repr(stdout[-300:]))
        for i in volatile:
            if i < len(got):
                got[i] = dict(got[i], value=VOLATILE)
        d = (compare_threaded if prog.threaded else compare)(ref, got, specs, label_index, sources)
        if d:
            problems.append(d)
        if problems:
            run_res["diff"] = "\n".join(problems)
        res["runs"].append(run_res)
    if not env.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def volatile_label(label):
    """`FILE:LINE:NAME@ROLE` -> `FILE:NAME@ROLE` (FILE's base name)."""
    path, _, rest = label.rsplit(":", 2)
    return f"{os.path.basename(path)}:{rest}"


def labels(specs):
    """label -> spec index, with both label forms `probe export` may use."""
    out = {}
    for i, s in enumerate(specs):
        path, line, rest = s.rsplit(":", 2)
        out[f"{os.path.basename(path)}:{line}:{rest}"] = i
        out[f"{path}:{line}:{rest}"] = i
    return out


def context(recs, i, n=3):
    lo = max(0, i - n)
    return "\n".join(("  > " if k == i else "    ") + show(recs[k]) for k in range(lo, min(len(recs), i + n + 1)))


def probe_note(label, specs, label_index, sources):
    idx = label_index.get(label)
    if idx is None:
        return f"    probe {label} (not one of the specs!)"
    spec = specs[idx]
    path, line, _ = spec.rsplit(":", 2)
    src = sources.get(path, {}).get(int(line), "?")
    return f"    probe {idx}: {spec}\n      line {line}: {src.strip()}"


def compare(ref, got, specs, label_index, sources):
    """First differing record, with context, or None."""
    threads = {}
    n = max(len(ref), len(got))
    for i in range(n):
        a = ref[i] if i < len(ref) else None
        b = got[i] if i < len(got) else None
        if a is not None and b is not None:
            same = canon(a) == canon(b)
            if same:
                t = threads.setdefault(a["thread"], b["thread"])
                if t != b["thread"]:
                    same = False
            if same:
                continue
        out = [f"first difference at seq {i} (reference: {len(ref)} records, probe record: {len(got)})"]
        out.append("  reference:")
        out.append(context(ref, i) if a is not None else "    <no record>\n" + context(ref, len(ref) - 1, 2))
        out.append("  probe record:")
        out.append(context(got, i) if b is not None else "    <no record>\n" + context(got, len(got) - 1, 2))
        labs = {r["probe"] for r in (a, b) if r is not None}
        for lab in sorted(labs):
            out.append(probe_note(lab, specs, label_index, sources))
        # Beyond the first difference: which probes' own record sequences
        # (status and value, order aside) differ at all.
        pa, pb = per_probe(ref), per_probe(got)
        bad = sorted((lab for lab in set(pa) | set(pb) if pa.get(lab) != pb.get(lab)),
                     key=lambda lab: (int(lab.rsplit(":", 2)[-2]) if lab.rsplit(":", 2)[-2].isdigit() else 0, lab))
        out.append(f"  probes whose own records differ: {len(bad)} of {len(set(pa) | set(pb))}: "
                   + ", ".join(f"{lab.rsplit(':', 2)[-2]}:{lab.rsplit(':', 1)[-1]}"
                               f"({len(pa.get(lab, []))}/{len(pb.get(lab, []))})" for lab in bad[:25])
                   + (" …" if len(bad) > 25 else ""))
        return "\n".join(out)
    return None


def per_probe(recs):
    d = {}
    for r in recs:
        d.setdefault(r["probe"], []).append((r["status"], r["kind"], r["type_name"],
                                             canon_record_value(r), r["truncated"]))
    return d


def compare_threaded(ref, got, specs, label_index, sources):
    """Threads interleave freely: per-probe value sequences and the multiset
    of batch compositions must match; each side's seq must be 0..N-1."""
    def per_probe(recs):
        d = {}
        for r in recs:
            d.setdefault(r["probe"], []).append((r["status"], r["kind"], r["type_name"],
                                                 canon_record_value(r), r["truncated"]))
        return d

    def batches(recs):
        d = {}
        for r in recs:
            d.setdefault((r["thread"], r["batch"]), []).append(
                (r["order"], r["probe"], r["status"], canon_record_value(r)))
        # Values of different types (None, str, tuples) meet here: order by
        # their repr, which is total and deterministic.
        return sorted((tuple(sorted(b, key=repr)) for b in d.values()), key=repr)
    for side, recs in (("probe record", got), ("reference", ref)):
        if [r["seq"] for r in recs] != list(range(len(recs))):
            return f"{side}: seq is not 0..N-1"
    a, b = per_probe(ref), per_probe(got)
    for lab in sorted(set(a) | set(b)):
        if a.get(lab) != b.get(lab):
            xa, xb = a.get(lab, []), b.get(lab, [])
            k = next((k for k in range(max(len(xa), len(xb))) if xa[k:k + 1] != xb[k:k + 1]), 0)
            return (f"threaded program: probe {lab} differs at its record {k} "
                    f"(reference {len(xa)} records, probe record {len(xb)})\n"
                    f"  reference:    {xa[max(0, k - 2):k + 3]}\n  probe record: {xb[max(0, k - 2):k + 3]}\n"
                    + probe_note(lab, specs, label_index, sources))
    ba, bb = batches(ref), batches(got)
    if ba != bb:
        only_a = [x for x in ba if x not in bb][:2]
        only_b = [x for x in bb if x not in ba][:2]
        return f"threaded program: batch compositions differ\n  reference only: {only_a}\n  probe only: {only_b}"
    return None


# ---------------------------------------------------------------------------
# Programs.
# ---------------------------------------------------------------------------

def generated(seed, workdir):
    path = os.path.join(workdir, f"gen_{seed}.py")
    os.makedirs(workdir, exist_ok=True)
    p = subprocess.run([sys.executable, GEN, str(seed), "-o", path], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"gen_programs.py {seed}: {p.stderr}")
    with open(path) as fh:
        head = fh.read(400)
    threaded = "# threads: yes" in head
    return Program(f"seed {seed}", [path], lambda v: [os.path.realpath(path)], threaded, same_everywhere=not threaded)


def driver(name, env):
    path = os.path.join(DRIVERS, name + ".py")
    modules, optional, threaded, itself, volatile = [], [], False, False, []
    with open(path) as fh:
        for line in fh:
            if line.startswith("# probe-volatile:"):
                volatile += line.split(":", 1)[1].split()
            if line.startswith("# probe-modules:"):
                modules += line.split(":", 1)[1].split()
            if line.startswith("# probe-optional:"):
                optional += line.split(":", 1)[1].split()
            if line.startswith("# probe-self: yes"):
                itself = True
            if line.startswith("# threads: yes"):
                threaded = True
    if not modules and not itself:
        raise RuntimeError(f"{path}: no `# probe-modules:` line")

    def files(version):
        key = (version, name)
        if key not in env.files_cache:
            found = module_files(env.pythons[version], modules, optional)
            env.files_cache[key] = found + ([os.path.realpath(path)] if itself else [])
        return env.files_cache[key]
    prog = Program(f"driver {name}", [path], files, threaded)
    prog.volatile = set(volatile)
    return prog


def all_drivers(folder=DRIVERS, prefix=""):
    return sorted(prefix + f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_"))


def named_drivers(val):
    """`all` (the standard-library and NumPy drivers), `third_party` (the
    drivers of third-party packages), or names, `third_party/NAME` among
    them."""
    out = []
    for name in val.split(","):
        if name == "all":
            out += all_drivers()
        elif name == "third_party":
            out += all_drivers(os.path.join(DRIVERS, "third_party"), "third_party/")
        else:
            out.append(name)
    return out


def parse_range(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main(argv):
    opts = {"seeds": [], "drivers": [], "programs": [], "versions": VERSIONS, "cores": None,
            "probe_bin": os.path.join(ROOT, "target", "release", "probe"), "ref_mode": "settrace",
            "stop": False, "keep": None, "jobs": 2, "max_shown": 10, "json": None, "quiet": False, "brief": False,
            "specs": [], "show": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        val = argv[i + 1] if i + 1 < len(argv) else None
        if a == "--seeds":
            opts["seeds"] += parse_range(val)
            i += 1
        elif a == "--drivers":
            opts["drivers"] += named_drivers(val)
            i += 1
        elif a == "--program":
            opts["programs"].append(os.path.realpath(val))
            i += 1
        elif a == "--versions":
            opts["versions"] = val.split(",")
            i += 1
        elif a == "--cores":
            opts["cores"] = val.split(",")
            i += 1
        elif a == "--probe-bin":
            opts["probe_bin"] = val
            i += 1
        elif a == "--ref-mode":
            opts["ref_mode"] = val
            i += 1
        elif a == "--stop-first":
            opts["stop"] = True
        elif a == "--keep":
            opts["keep"] = os.path.realpath(val)
            i += 1
        elif a == "--jobs":
            opts["jobs"] = int(val)
            i += 1
        elif a == "--max-shown":
            opts["max_shown"] = int(val)
            i += 1
        elif a == "--json":
            opts["json"] = val
            i += 1
        elif a == "-q":
            opts["quiet"] = True
        elif a == "--probe":
            opts["specs"].append(val)
            i += 1
        elif a == "--show":
            opts["show"] = True
        elif a == "--brief":
            opts["brief"] = True
            opts["quiet"] = True
        else:
            print(__doc__)
            print(f"unknown argument {a!r}")
            return 2
        i += 1
    if not os.path.exists(opts["probe_bin"]):
        print(f"error: probe binary {opts['probe_bin']} not found (cargo build --release)")
        return 2
    pythons = {}
    for v in opts["versions"]:
        p = find_python(v)
        if p is None:
            print(f"error: Python {v} not found; install it or set PROBE_TEST_PYTHON_{v.replace('.', '_')}")
            return 2
        pythons[v] = p
    env = Env(opts["probe_bin"], pythons, opts["keep"])
    env.fixed_specs = opts["specs"]
    env.show = opts["show"]
    base = opts["keep"] or tempfile.mkdtemp(prefix="probe-diff-")
    progs = []
    for s in opts["seeds"]:
        progs.append(generated(s, os.path.join(base, "programs")))
    for d in opts["drivers"]:
        progs.append(driver(d, env))
    for p in opts["programs"]:
        with open(p, encoding="latin-1") as fh:  # any source encoding: only ASCII is looked for
            threaded = "# threads: yes" in fh.read(400)
        progs.append(Program(os.path.relpath(p, ROOT), [p], (lambda path: lambda v: [path])(p),
                             threaded=threaded, same_everywhere=not threaded))
    tasks = []
    for prog in progs:
        for v in opts["versions"]:
            cores = [c for c in (opts["cores"] or default_cores(v)) if c in default_cores(v)]
            tasks.append((prog, v, cores))
    t_start = time.time()
    counts = {}
    failures = []
    errors = []
    listing_failures = []
    all_results = []
    stop = threading.Event()

    def work(k, task):
        if stop.is_set():
            return None
        prog, v, cores = task
        wd = os.path.join(base, "runs", re.sub(r"[^A-Za-z0-9_.-]", "_", f"{prog.name}-{v}").lstrip("._"))
        try:
            return check_program(env, prog, v, cores, opts["ref_mode"], wd)
        except Exception as e:  # a harness error is reported, not swallowed
            import traceback
            return {"program": prog.name, "version": v, "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}", "runs": []}

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts["jobs"])) as ex:
        futs = [ex.submit(work, k, t) for k, t in enumerate(tasks)]
        for fut in concurrent.futures.as_completed(futs):
            res = fut.result()
            if res is None:
                continue
            all_results.append(res)
            if res.get("error"):
                errors.append(res)
                print(f"ERROR {res['program']} on {res['version']}: {res['error']}", flush=True)
                if opts["stop"]:
                    stop.set()
                continue
            if res.get("listing"):
                listing_failures.append(res)
                print(f"LISTING {res['program']} on {res['version']}: {len(res['listing'])} difference(s) between "
                      f"`probe probes` and the reference's listing:\n    " + "\n    ".join(res["listing"][:8])
                      + ("\n    …" if len(res["listing"]) > 8 else ""), flush=True)
            for r in res["runs"]:
                key = (res["version"], r["core"])
                c = counts.setdefault(key, {"programs": 0, "probes": 0, "records": 0, "disagree": 0,
                                            "record_s": 0.0, "ref_s": 0.0})
                c["programs"] += 1
                c["probes"] += res["probes"]
                c["records"] += res.get("ref_records", 0)
                c["record_s"] += r["time"]
                c["ref_s"] += res.get("ref_time", 0.0) / max(1, len(res["runs"]))
                ok = "diff" not in r
                if not ok:
                    c["disagree"] += 1
                    failures.append((res, r))
                    if opts["brief"]:
                        keep = [ln for ln in r["diff"].splitlines()
                                if ln.startswith(("  > ", "    probe", "      line", "first", "exit", "stdout",
                                                  "threaded", "  probes whose"))]
                        print(f"DISAGREE {res['program']} {res['version']}/{r['core']}: " + "\n    ".join(keep),
                              flush=True)
                    elif len(failures) <= opts["max_shown"]:
                        print(f"\nDISAGREE {res['program']} on Python {res['version']} ({r['core']}), "
                              f"{res['probes']} probes:\n{r['diff']}", flush=True)
                        if opts["keep"]:
                            print(f"  files kept in {os.path.join(base, 'runs')}")
                    if opts["stop"]:
                        stop.set()
                elif not opts["quiet"]:
                    print(f"ok   {res['program']} on Python {res['version']} ({r['core']}): "
                          f"{res['probes']} probes, {r.get('records', 0)} records", flush=True)
    # The reference itself: the same records on every Python for programs
    # whose probed files do not depend on the version.
    by_prog = {}
    for res in all_results:
        if "ref_canon" in res:
            by_prog.setdefault(res["program"], []).append(res)
    for name, lst in sorted(by_prog.items()):
        base = lst[0]
        for other in lst[1:]:
            if other["ref_canon"][0] != base["ref_canon"][0]:
                continue  # `probe probes` listed differently: not comparable
            a, b = base["ref_canon"][1], other["ref_canon"][1]
            if a != b:
                k = next((k for k in range(max(len(a), len(b))) if a[k:k + 1] != b[k:k + 1]), 0)
                msg = (f"the reference gives different records on Python {base['version']} and "
                       f"{other['version']} at seq {k}: {a[k:k + 1]} vs {b[k:k + 1]}")
                errors.append({"program": name, "version": f"{base['version']}/{other['version']}", "error": msg})
                print(f"ERROR {name}: {msg}", flush=True)
    wall = time.time() - t_start
    print("\n== differential summary (reference mode: %s)" % opts["ref_mode"])
    print(f"{'python':<8}{'core':<12}{'programs':>9}{'probes':>9}{'records':>10}{'disagree':>10}"
          f"{'record s':>10}{'ref s':>8}")
    tot = {"programs": 0, "probes": 0, "records": 0, "disagree": 0}
    for (v, core) in sorted(counts):
        c = counts[(v, core)]
        print(f"{v:<8}{core:<12}{c['programs']:>9}{c['probes']:>9}{c['records']:>10}{c['disagree']:>10}"
              f"{c['record_s']:>10.1f}{c['ref_s']:>8.1f}")
        for k in tot:
            tot[k] += c[k]
    print(f"{'total':<20}{tot['programs']:>9}{tot['probes']:>9}{tot['records']:>10}{tot['disagree']:>10}")
    print(f"programs: {len(progs)}, harness errors: {len(errors)}, listing differences: "
          f"{sum(len(x['listing']) for x in listing_failures)} in {len(listing_failures)} program runs, "
          f"wall time {wall:.1f}s")
    if failures:
        print("disagreeing runs: " + ", ".join(f"{res['program']} {res['version']}/{r['core']}"
                                               for res, r in failures[:60])
              + (" …" if len(failures) > 60 else ""))
    if opts["json"]:
        with open(opts["json"], "w") as fh:
            json.dump({"counts": {f"{v}/{c}": x for (v, c), x in counts.items()},
                       "failures": [{"program": res["program"], "version": res["version"], "core": r["core"],
                                     "diff": r["diff"]} for res, r in failures],
                       "errors": [{"program": e["program"], "version": e["version"], "error": e["error"]}
                                  for e in errors],
                       "listing": [{"program": x["program"], "version": x["version"], "problems": x["listing"]}
                                   for x in listing_failures], "wall_s": wall}, fh, indent=1)
    if not opts["keep"]:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failures or errors or listing_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
