#!/usr/bin/env python3
"""Install a CPython the tests need (3.14, 3.15) into a machine-wide prefix,
from Debian's unstable suite, and reuse it when it is already there.

    python3 scripts/install-python.py 3.14      # prints the interpreter's path last

Environment:
    PROBE_PYTHON_JOBS  parallel byte-compilation jobs (default 2)
    PROBE_PYTHON_ROOT  where interpreters go (default /opt/probe-python):
                       VERSION lands in $PROBE_PYTHON_ROOT/VERSION, downloaded
                       packages are kept in $PROBE_PYTHON_ROOT/debs
    DEBIAN_MIRROR      default http://deb.debian.org/debian
    DEBIAN_SUITE       default sid (the suite that carries python3.14 / 3.15)

Why binary packages: these machines reach package registries only. Debian's
unstable suite lists `python3.14` (3.14.10) and `python3.15` (3.15.2) source
packages, but the archive serves neither their `.dsc` nor their upstream
`.orig.tar.xz` (HTTP 404 for every version, in sid, forky and experimental),
while it does serve the binary packages built from them. So the interpreter
is Debian's own build: its packages and the libraries they link are
extracted (`dpkg-deb -x`, nothing is installed into the system) into the
prefix, and the interpreter's ELF loader and library path are pointed at the
extracted C library and libraries (`patchelf --set-interpreter
--force-rpath --set-rpath`), because sid's interpreter needs glibc 2.42 and
this machine has bookworm's 2.36. A DT_RPATH on the executable also serves
the libraries of the extension modules it loads (`_ssl` → libssl).

Chain of trust: the suite's InRelease is checked with gpgv against the
installed debian-archive-keyring, the Packages index against InRelease's
SHA-256 (fetched by hash, so a mirror update between the two downloads
cannot mix versions), every .deb against the index's SHA-256.

A prefix is reused when its `.probe-complete` stamp is there and its
interpreter imports what the tests need; a second run for the same version
waits on a lock instead of installing twice.
"""

import fcntl
import hashlib
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

NEEDED = "import ssl, zlib, ctypes, bz2, lzma, venv, sqlite3, decimal, hashlib, json"
ARCH = "amd64"
TRIPLET = "x86_64-linux-gnu"
# Dependencies not followed: data and tools, not libraries the interpreter loads.
NOT_FOLLOWED = {"tzdata", "media-types", "mime-support", "netbase", "debconf", "dpkg", "perl-base",
                "install-info", "ca-certificates", "readline-common", "sensible-utils", "libc-bin",
                "python3-setuptools-whl", "ncurses-base"}


def say(version, msg):
    print(f"install-python {version}: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


def fetch(url, dest=None, tries=3):
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                data = r.read()
            break
        except OSError as e:
            if attempt == tries - 1 or getattr(e, "code", None) == 404:
                raise Failure(f"cannot download {url}: {e}")
            time.sleep(2 * (attempt + 1))
    if dest is not None:
        with open(dest, "wb") as f:
            f.write(data)
    return data


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def parse_stanzas(text):
    out = []
    cur = {}
    key = None
    for line in text.splitlines():
        if not line:
            if cur:
                out.append(cur)
            cur, key = {}, None
        elif line[0] in " \t":
            if key:
                cur[key] += "\n" + line.strip()
        else:
            key, _, val = line.partition(":")
            cur[key] = val.strip()
    if cur:
        out.append(cur)
    return out


def version_gt(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def dep_names(field):
    """Package names of a Depends field: the first alternative of each."""
    names = []
    for clause in field.split(","):
        clause = clause.strip()
        if not clause:
            continue
        alts = [a.strip().split()[0].split(":")[0] for a in clause.split("|")]
        names.append(alts)
    return names


def index(version, mirror, suite, work):
    dists = f"{mirror}/dists/{suite}"
    inrel = os.path.join(work, "InRelease")
    fetch(f"{dists}/InRelease", inrel)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    release = os.path.join(work, "Release")
    r = subprocess.run(["gpgv", "--keyring", keyring, "--output", release, inrel],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"the signature of {dists}/InRelease does not verify with {keyring}: {r.stderr.strip()[-400:]}")
    want = f"main/binary-{ARCH}/Packages.xz"
    digest = None
    in_sha = False
    with open(release) as f:
        for line in f:
            if line.startswith("SHA256:"):
                in_sha = True
                continue
            if not line.startswith(" "):
                in_sha = False
            parts = line.split()
            if in_sha and len(parts) == 3 and parts[2] == want:
                digest = parts[0]
    if digest is None:
        raise Failure(f"{dists}/InRelease lists no {want}")
    data = fetch(f"{dists}/main/binary-{ARCH}/by-hash/SHA256/{digest}")
    if sha256(data) != digest:
        raise Failure(f"{want} does not match its SHA-256 in InRelease")
    pkgs = {}
    for st in parse_stanzas(lzma.decompress(data).decode("utf-8", "replace")):
        name = st.get("Package")
        if not name or st.get("Architecture") not in (ARCH, "all"):
            continue
        old = pkgs.get(name)
        if old is None or version_gt(st["Version"], old["Version"]):
            pkgs[name] = st
    # Virtual packages: the first real package that provides one.
    provides = {}
    for name, st in pkgs.items():
        for alts in dep_names(st.get("Provides", "")):
            provides.setdefault(alts[0], name)
    return pkgs, provides


def closure(version, pkgs, provides):
    roots = [f"python{version}-minimal", f"libpython{version}-minimal", f"libpython{version}-stdlib",
             f"python{version}", "python3-pip-whl"]
    for r in roots:
        if r not in pkgs:
            raise Failure(f"Debian's {os.environ.get('DEBIAN_SUITE', 'sid')} has no package {r}")
    seen = []
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        st = pkgs[name]
        for field in ("Pre-Depends", "Depends"):
            for alts in dep_names(st.get(field, "")):
                pick = next((a for a in alts if a in pkgs), None)
                if pick is None:
                    pick = next((provides[a] for a in alts if a in provides), None)
                if pick is None or pick in NOT_FOLLOWED:
                    continue
                # Libraries only (and the roots): no tools, no data.
                if pick.startswith("lib") or pick.startswith("zlib") or pick in roots:
                    todo.append(pick)
    return [pkgs[n] for n in seen]


def usable(py, stamp):
    if not (os.path.isfile(stamp) and os.access(py, os.X_OK)):
        return False
    return subprocess.run([py, "-c", NEEDED], capture_output=True).returncode == 0


def install(version):
    root = os.environ.get("PROBE_PYTHON_ROOT", "/opt/probe-python")
    mirror = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
    suite = os.environ.get("DEBIAN_SUITE", "sid")
    prefix = os.path.join(root, version)
    py = os.path.join(prefix, "usr", "bin", f"python{version}")
    stamp = os.path.join(prefix, ".probe-complete")
    if usable(py, stamp):
        say(version, f"already installed: {py} ({open(stamp).read().strip()})")
        return py
    os.makedirs(os.path.join(root, "debs"), exist_ok=True)
    lock = open(os.path.join(root, f".lock-{version}"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(version, "another install of this version is running; waiting for it")
        fcntl.flock(lock, fcntl.LOCK_EX)
        if usable(py, stamp):
            return py
    for tool, pkg in (("gpgv", "gpgv"), ("dpkg-deb", "dpkg"), ("patchelf", "patchelf")):
        if shutil.which(tool) is None:
            if os.geteuid() != 0:
                raise Failure(f"{tool} is missing (Debian package {pkg}); install it as root")
            say(version, f"installing {pkg} (for {tool})")
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            # (waits for another apt-get, e.g. CI's own, instead of failing on dpkg's lock)
            subprocess.run(["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600",
                            "--no-install-recommends", pkg], check=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"install-python-{version}.") as work:
        pkgs, provides = index(version, mirror, suite, work)
        debs = closure(version, pkgs, provides)
        main = pkgs[f"python{version}"]
        say(version, f"Debian {suite} has python{version} {main['Version']}; "
                     f"{len(debs)} packages: {', '.join(sorted(d['Package'] for d in debs))}")
        files = []
        for st in debs:
            path = os.path.join(root, "debs", os.path.basename(st["Filename"]))
            ok = False
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    ok = sha256(f.read()) == st["SHA256"]
            if not ok:
                data = fetch(f"{mirror}/{st['Filename']}")
                if sha256(data) != st["SHA256"]:
                    raise Failure(f"{st['Filename']} does not match its SHA-256 in the Packages index")
                with open(path + ".part", "wb") as f:
                    f.write(data)
                os.replace(path + ".part", path)
            files.append(path)
        shutil.rmtree(prefix, ignore_errors=True)
        os.makedirs(prefix)
        for path in files:
            subprocess.run(["dpkg-deb", "-x", path, prefix], check=True)
    libdir = os.path.join(prefix, "usr", "lib", TRIPLET)
    loader = os.path.join(libdir, "ld-linux-x86-64.so.2")
    if not os.path.exists(loader):
        raise Failure(f"no ELF loader at {loader} after extracting libc6")
    libdirs = [libdir, os.path.join(prefix, "lib", TRIPLET)]
    subprocess.run(["patchelf", "--set-interpreter", loader, "--force-rpath", "--set-rpath",
                    ":".join(d for d in libdirs if os.path.isdir(d)), os.path.realpath(py)], check=True)
    r = subprocess.run([py, "-c", NEEDED + "; import sys; print(sys.version.split()[0])"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"the installed {py} cannot import what the tests need: {r.stderr.strip()[-600:]}")
    # Debian byte-compiles the stdlib when a package is installed (py3compile
    # in postinst); extracting skips that, and an environment with
    # PYTHONDONTWRITEBYTECODE set would then compile every module at every
    # start (+20 ms for `import enum` alone). Compile once here.
    stdlib = os.path.join(prefix, "usr", "lib", f"python{version}")
    r2 = subprocess.run([py, "-E", "-m", "compileall", "-q", "-j", os.environ.get("PROBE_PYTHON_JOBS", "2"),
                         stdlib], capture_output=True, text=True)
    if r2.returncode != 0:
        raise Failure(f"byte-compiling {stdlib} failed: {(r2.stdout + r2.stderr).strip()[-600:]}")
    wheels = os.path.join(prefix, "usr", "share", "python-wheels")
    took = time.monotonic() - start
    with open(stamp, "w") as f:
        f.write(f"Python {r.stdout.strip()} from Debian {suite} python{version} {main['Version']}, "
                f"installed {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} in {took:.0f} s; "
                f"pip wheel in {wheels}\n")
    say(version, f"installed in {took:.0f} s: {py} (Python {r.stdout.strip()})")
    return py


def main():
    if len(sys.argv) != 2 or not sys.argv[1].count(".") == 1 or not sys.argv[1].replace(".", "").isdigit():
        print(f"usage: {sys.argv[0]} VERSION   (e.g. 3.14)", file=sys.stderr)
        return 2
    version = sys.argv[1]
    try:
        print(install(version))
    except (Failure, subprocess.CalledProcessError) as e:
        say(version, f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
