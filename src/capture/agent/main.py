# probe agent: entry point, called by boot.py once every module is loaded.
#
# The recorder's configuration comes through the bundle (see boot.py), as
# lines `key<TAB>value` (`probe` repeated, one spec each); the program to
# run is what is left of sys.argv.

import os
import sys

from . import native
from .runner import Runner
from .wire import Wire, to_json


def parse_config(text):
    cfg = {"probes": []}
    for line in text.split("\n"):
        if not line:
            continue
        key, _, value = line.partition("\t")
        if key == "probe":
            cfg["probes"].append(value)
        else:
            cfg[key] = value
    return cfg


def main(wire_fd, config_text, mods_before, how="c", resolution=None):
    cfg = parse_config(config_text)
    if cfg.get("mode") == "check":
        # Resolve the specs as the runner would, run nothing: the recorder
        # asks when an error of its own (an existing output) would
        # otherwise hide a spec's. sys.path[0] is '' under -c; the
        # program's first entry is its script's directory.
        from . import resolve
        ProbeError, Resolver = resolve.ProbeError, resolve.Resolver
        try:
            Resolver(cfg["probes"], [cfg.get("first", "")] + sys.path[1:])
        except ProbeError as e:
            sys.stdout.write(to_json({"error": str(e)}) + "\n")
            return 0
        sys.stdout.write(to_json({"ok": True}) + "\n")
        return 0
    if cfg.get("mode") == "list":
        from . import listing
        roots = [os.getcwd()]
        res = listing.list_probes(cfg.get("file", ""), int(cfg.get("line", "0")), roots, cfg.get("plan") == "1")
        sys.stdout.write(to_json(res) + "\n")
        return 0
    try:
        os.set_inheritable(wire_fd, False)
    except OSError:
        pass
    # The recorder's shared ring (docs/WIRE.md), for the native core: kept
    # from the program's children like the pipe; runner.py maps or closes it.
    try:
        cfg["ring_fd"] = int(cfg.get("ring_fd", "-1"))
        if cfg["ring_fd"] >= 0:
            os.set_inheritable(cfg["ring_fd"], False)
    except (ValueError, OSError):
        cfg["ring_fd"] = -1
    # The native core's extension (native.py loads it, then closes it).
    native.IMAGE_ERROR = cfg.get("native_error")
    try:
        native.IMAGE_FD = int(cfg.get("native_fd", "-1"))
        if native.IMAGE_FD >= 0:
            os.set_inheritable(native.IMAGE_FD, False)
    except (ValueError, OSError):
        native.IMAGE_FD = -1
    cfg["max_value_bytes"] = int(cfg.get("max_value_bytes", "4096"))
    cfg["max_array_bytes"] = int(cfg.get("max_array_bytes", str(1 << 20)))
    cfg["debug_plan"] = cfg.get("debug_plan") == "1"
    # A resolution of these specs from an earlier run (resolved.py).
    cfg["resolution"] = resolution
    # In `site` mode python runs the program itself after this returns:
    # sys.argv is already its argv ([script, …] or ['-m', …]).
    target = list(sys.argv) if how == "site" else sys.argv[1:]
    runner = Runner(Wire(wire_fd), cfg, target, mods_before, native=how == "site")
    return runner.main()
