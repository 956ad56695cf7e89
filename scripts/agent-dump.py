#!/usr/bin/env python3
"""Debug helper: run the embedded agent directly and print what it sends.

    scripts/agent-dump.py PYTHON 'spec' ['spec'...] -- script.py ARGS

Prints one line per record (seq, site, ts delta, values) without the Rust
recorder, so capture semantics can be inspected in isolation.
"""
import json, marshal, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
agent = open(os.path.join(here, "..", "src", "capture", "agent.py")).read()
py = sys.argv[1]
sep = sys.argv.index("--")
specs, target = sys.argv[2:sep], sys.argv[sep + 1:]
core = os.environ.get("CORE", "auto")
r, w = os.pipe()
boot = 'import sys\nexec(compile(sys.argv.pop(1), "<probe-agent>", "exec"))\n'
cfg = [core, "64", os.environ.get("MAX_ARRAY_BYTES", "64"), str(len(specs))] + specs
p = subprocess.Popen([py, "-c", boot, agent, str(w)] + cfg + target, pass_fds=(w,))
os.close(w)
f = os.fdopen(r, "rb")
seq = 0
sites = None
pend = {}
while True:
    hdr = f.read(5)
    if len(hdr) < 5:
        break
    n = int.from_bytes(hdr[:4], "little")
    kind = hdr[4]
    body = f.read(n)
    if kind == 2:
        items, comps = marshal.loads(body)
        for it in items:
            sid = it[0]
            tid = None
            vals = it[2:]
            if sid < 0:
                sid = ~sid
                tid = it[2]
                vals = it[3:]
            for order, (pid, v) in enumerate(zip(sites[sid], vals)):
                print(f"seq={seq} probe={pid} order={order} ts={it[1]} tid={tid} v={v!r}")
                if isinstance(v, tuple) and v and v[0] == 5:
                    pend[v[1]] = seq
                seq += 1
        for tok, v in comps:
            print(f"complete seq={pend.get(tok)} v={v!r}")
    else:
        msg = json.loads(body)
        if kind == 1:
            sites = msg["sites"]
            print("HELLO", json.dumps({k: msg[k] for k in ("core", "probes", "sites", "core_note")}))
        else:
            print({3: "END", 4: "FATAL", 5: "WARN"}[kind], msg)
print("exit", p.wait())
