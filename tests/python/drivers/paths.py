# probe-modules: fnmatch glob
# Pattern matching and globbing over a fixed directory tree.
import fnmatch
import glob
import os
import tempfile

names = ["a.py", "b.txt", "c.PY", ".hidden", "dir/d.py", "x[1].py"]
print(fnmatch.filter(names, "*.py"), fnmatch.fnmatch("C.PY", "*.py"), fnmatch.fnmatchcase("C.PY", "*.py"))
print(fnmatch.translate("[!a-c]?*.txt"), [n for n in names if fnmatch.fnmatch(n, "x[[]1].py")])
with tempfile.TemporaryDirectory() as tmp:
    for rel in ("a/b/c.txt", "a/d.py", "e.py", "a/b/f.py"):
        os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
        open(os.path.join(tmp, rel), "w").close()
    found = sorted(os.path.relpath(p, tmp) for p in glob.glob(os.path.join(tmp, "**", "*.py"), recursive=True))
    print(found, sorted(os.path.relpath(p, tmp) for p in glob.glob(os.path.join(tmp, "a", "*"))))
    print(glob.escape("x[1]*.py"), glob.has_magic("a*"))
