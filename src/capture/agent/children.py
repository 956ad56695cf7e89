# probe agent: child processes — not traced yet, but counted
#
# The recorder reports how many child processes ran untraced (END's
# `untraced_children`, the summary), and os.exec* sends what was captured
# before the program is replaced (Runner.before_exec).

import os
import sys


def watch(runner, like=None):
    """Counts the child processes the program starts, which run untraced:
    forks (the at-fork hook: os.fork, multiprocessing's fork, os.spawn*,
    pty), os.posix_spawn/posix_spawnp, os.system, os.exec* (the program
    replaced: its captures are sent first, see Runner.before_exec), and
    subprocess and multiprocessing's spawn/forkserver, which start children
    through _posixsubprocess.fork_exec: that function is wrapped in its
    module and in subprocess as soon as they are imported (a sys.meta_path
    entry that finds nothing itself notices their import and goes away
    once both are seen). `like(real, function)`, the extension's, makes
    each wrapper a builtin that looks like the original (crates/agent/src/
    like.rs); without it they are Python functions named as the original."""
    made = {}  # id(original) -> (original, its wrapper): a builtin takes no marker attribute

    def dress(real, function):
        got = made.get(id(real))
        if got is None:
            got = made[id(real)] = (real, like(real, function) if like is not None else function)
        return got[1]

    def ours(f):
        return any(f is w for _, w in made.values())

    def counted(real):
        def call(*args, **kwargs):
            forks = runner.forks
            r = real(*args, **kwargs)
            if runner.forks == forks:  # a preexec_fn made the at-fork hook count it
                runner.children += 1
            return r
        call.__wrapped__ = real
        for a in ("__name__", "__qualname__", "__doc__"):
            try:
                setattr(call, a, getattr(real, a))
            except (AttributeError, TypeError):
                pass
        return call

    for name in ("posix_spawn", "posix_spawnp", "system"):
        real = getattr(os, name, None)
        if real is not None:
            setattr(os, name, dress(real, counted(real)))

    for name in ("execv", "execve"):
        real = getattr(os, name, None)
        if real is None:
            continue

        def make(real):
            def call(path, *args, **kwargs):
                try:
                    # Not os.fsdecode: os.py is probed like any file, and
                    # this call is ours, not the program's.
                    p = path if isinstance(path, int) else os.fspath(path)
                    if isinstance(p, bytes):
                        p = p.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
                    runner.before_exec(p)
                except Exception:  # noqa: BLE001 - never raise into the program
                    pass
                return real(path, *args, **kwargs)
            call.__wrapped__ = real
            call.__name__ = real.__name__
            call.__doc__ = real.__doc__
            return call
        setattr(os, name, dress(real, make(real)))

    def hook_spawners():
        ps = sys.modules.get("_posixsubprocess")
        fe = getattr(ps, "fork_exec", None)
        if fe is not None and not ours(fe):
            ps.fork_exec = dress(fe, counted(fe))
        sp = sys.modules.get("subprocess")
        fe = getattr(sp, "_fork_exec", None)
        if fe is not None and not ours(fe):
            sp._fork_exec = dress(fe, counted(fe))
        return ps is not None and sp is not None

    watched = ("subprocess", "_posixsubprocess")

    class _Watched:
        """A module's real loader, wrapped for its first execution."""
        def __init__(self, real, watch):
            self.real = real
            self.watch = watch

        def create_module(self, spec):
            return self.real.create_module(spec)

        def exec_module(self, module):
            spec = getattr(module, "__spec__", None)
            try:
                if spec is not None:
                    spec.loader = self.real
                if getattr(module, "__loader__", None) is self:
                    module.__loader__ = self.real
            except (AttributeError, TypeError):
                pass
            try:
                self.real.exec_module(module)
            finally:
                if hook_spawners():
                    try:
                        sys.meta_path.remove(self.watch)
                    except ValueError:
                        pass

    class _SpawnWatch:
        """Finds nothing; notices the import of the modules that start
        children and wraps their spawning function once they are loaded."""
        def find_spec(self, name, path=None, target=None):
            if name not in watched:
                return None
            try:
                at = sys.meta_path.index(self) + 1
            except ValueError:
                return None
            spec = None
            for finder in sys.meta_path[at:]:
                find = getattr(finder, "find_spec", None)
                if find is not None:
                    spec = find(name, path, target)
                    if spec is not None:
                        break
            loader = getattr(spec, "loader", None)
            if getattr(loader, "exec_module", None) is None or getattr(loader, "create_module", None) is None:
                return None  # the usual machinery finds it, or reports it
            # The spec gets a loader of ours for this one import, which
            # hands the real loader back to the module once it has run. The
            # real loader itself is never touched: for a built-in module it
            # is the BuiltinImporter class, shared by every built-in module.
            spec.loader = _Watched(loader, self)
            return spec

    if not hook_spawners():
        sys.meta_path.insert(0, _SpawnWatch())
