"""Renders the disagreement classes of tests/python/disagreement_classes.json
as Markdown: for each class its minimal program, probes, the records the
reference computes and what `probe record` records on each Python and core
(grouped), so the list in the notes can be regenerated after every engine
change:  python3 tests/python/report_classes.py [CLASSES.json] > out.md
"""
import json
import os
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as D
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.environ.get('PROBE_BIN', ROOT + '/target/release/probe')
pythons = {v: D.find_python(v) for v in D.VERSIONS}

def fmt(recs):
    return "\n".join(f"{r['seq']} {r['probe'].split(':',1)[1]} batch {r['batch']} order {r['order']} {r['status']}"
                     + ("" if r['kind'] == 'absent' else f" {D.canon_value(r['kind'], r['value'])!r}") for r in recs)

def run_case(prog, specs):
    prog = os.path.realpath(os.path.join(ROOT, prog))
    specs = [os.path.realpath(os.path.join(ROOT, s.rsplit(':', 2)[0])) + ':' + ':'.join(s.rsplit(':', 2)[1:]) for s in specs]
    out = {}
    refs = {}
    with tempfile.TemporaryDirectory() as tmp:
        pf = os.path.join(tmp, 'p.txt'); open(pf,'w').write("\n".join(specs)+"\n")
        for v in D.VERSIONS:
            py = pythons[v]
            o = os.path.join(tmp, f'r{v}.jsonl')
            st, _, err = D.run([py, D.REF, 'run', '--out', o, '--probes', pf, '--', prog], tmp)
            if not D.read_jsonl(o):
                raise SystemExit(f'reference produced nothing for {prog}: {err.decode()[-800:]}')
            refs[v] = fmt(D.read_jsonl(o) or [])
            for c in D.default_cores(v):
                log = os.path.join(tmp, f'{v}{c}.probe'); j = log + '.jsonl'
                st, _, err = D.run([PROBE, 'record', '-q', '--core', c, '-o', log, '--probes', pf, '--', py, prog], tmp)
                if st == 2:
                    raise SystemExit(f'probe record refused {prog}: {err.decode()[-800:]}')
                subprocess.run([PROBE, 'export', log, '-o', j, '--force', '--allow-incomplete'], capture_output=True)
                got = fmt(D.read_jsonl(j) or [])
                out.setdefault(got, []).append(f"{v} {c}")
    return refs, out

src_json = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'disagreement_classes.json')
for entry in json.load(open(src_json)):
    prog, specs = entry['program'], entry['specs']
    refs, out = run_case(prog, specs)
    exp = set(refs.values())
    print(f"### {entry['id']}. {entry['title']}\n")
    print(entry.get('text', '') + "\n")
    rel = prog
    src = open(os.path.join(ROOT, prog)).read()
    body = "\n".join(l for l in src.splitlines() if not l.startswith('#'))
    print(f"Program (`{rel}`):\n```python\n{body.strip()}\n```\n")
    print("Probes: " + ", ".join(f"`{os.path.basename(s.rsplit(':',2)[0])}:{s.rsplit(':',2)[1]}:{s.rsplit(':',2)[2]}`" for s in specs) + "\n")
    if len(exp) != 1:
        print("**reference differs between versions!**")
    print("Expected (reference, every version):\n```\n" + list(exp)[0] + "\n```\n")
    exp_text = list(exp)[0]
    bad = [(g, w) for g, w in out.items() if g != exp_text]
    ok = [w for g, w in out.items() if g == exp_text]
    for g, w in bad:
        print(f"Recorded on {', '.join(w)}:\n```\n{g}\n```\n")
    if ok:
        print("Agrees on: " + ", ".join(x for ws in ok for x in ws) + "\n")
    if not bad:
        print("**Agrees everywhere now: the class is fixed.**\n")
