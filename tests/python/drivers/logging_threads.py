# probe-modules: logging
# threads: yes
# logging from two threads: loggers in a hierarchy, handlers with filters
# and formatters (%-, {- and $-style), LoggerAdapter, exc_info formatting,
# propagation, levels, and a MemoryHandler-like buffering handler.
# Times, thread ids and process ids are fixed or switched off so every run
# formats the same records. The two threads take turns (a condition
# variable hands the turn over after every logging call), so the logging code
# runs in one fixed order on two real threads; handlers are shut down before
# the program ends (the reference does not trace atexit functions).
import atexit
import io
import itertools
import sys
import threading
import time
import types

# Threaded programs are compared per probe, with no run-to-run allowance:
# logging's clock, its locks' reprs (they show the owning thread's id) and
# the iteration order of its weak set of handlers (hash = id) are made
# deterministic. logging gets a `time` module whose clock is frozen.
_frozen = types.ModuleType("time")
_frozen.__dict__.update(time.__dict__)
_frozen.time = lambda: 1700000000.0
_frozen.time_ns = lambda: 1700000000000000000
_ids = itertools.count(1)


class StableRLock(threading._PyRLock):
    def __init__(self):
        super().__init__()
        self.ident = next(_ids)

    def __repr__(self):
        return f"<StableRLock {self.ident}>"


# While logging is imported: the frozen clock, and module-level locks whose
# repr does not show the owning thread.
sys.modules["time"] = _frozen
_real_rlock, threading.RLock = threading.RLock, StableRLock
import logging  # noqa: E402
sys.modules["time"] = time
threading.RLock = _real_rlock


class StableHash:
    def __hash__(self):
        if not hasattr(self, "_hash"):
            self._hash = next(_ids)
        return self._hash

    def createLock(self):
        super().createLock()
        self.lock = StableRLock()


logging._at_fork_reinit_lock_weakset.discard(logging.lastResort)

logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
if hasattr(logging, "logAsyncioTasks"):
    logging.logAsyncioTasks = False


class FixedRecord(logging.LogRecord):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.created = 1700000000.0
        self.msecs = 0.0
        self.relativeCreated = 0.0


logging.setLogRecordFactory(FixedRecord)


class OnlyEven(logging.Filter):
    def filter(self, record):
        return getattr(record, "n", 0) % 2 == 0


class Collect(StableHash, logging.Handler):
    def __init__(self):
        super().__init__()
        self.items = []

    def emit(self, record):
        self.items.append(self.format(record))


class Stream(StableHash, logging.StreamHandler):
    pass


root_stream = io.StringIO()
root = logging.getLogger("app")
root.setLevel(logging.DEBUG)
h1 = Stream(root_stream)
h1.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
root.addHandler(h1)
c_even = Collect()
c_even.addFilter(OnlyEven())
c_even.setFormatter(logging.Formatter("{levelname}|{name}|{message}|{n}", style="{"))
c_brace = Collect()
c_brace.setLevel(logging.WARNING)
c_brace.setFormatter(logging.Formatter("$levelname $message", style="$"))

cond = threading.Condition()
turn = [0]


def take_turn(tid, action, *args, **kwargs):
    with cond:
        cond.wait_for(lambda: turn[0] == tid)
        try:
            return action(*args, **kwargs)
        finally:
            turn[0] = 1 - tid
            cond.notify_all()


def work(tid, count):
    log = take_turn(tid, logging.getLogger, f"app.t{tid}")
    take_turn(tid, log.addHandler, c_even if tid == 0 else c_brace)
    adapter = take_turn(tid, logging.LoggerAdapter, log, {"n": tid})
    for n in range(count):
        level = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)[n % 4]
        take_turn(tid, log.log, level, "step %d of %s", n, tid, extra={"n": n})
        if n % 3 == 0:
            take_turn(tid, adapter.info, "adapter %s", n)
        if n == 2:
            try:
                {}[f"missing{tid}"]
            except KeyError:
                take_turn(tid, log.exception, "lookup failed in %d", tid, extra={"n": 0})
    child = take_turn(tid, log.getChild, "leaf")
    child.propagate = tid == 0
    take_turn(tid, child.warning, "leaf says %r", {"tid": tid}, extra={"n": 2})
    return log  # both threads take the same number of turns




threads = [threading.Thread(target=work, args=(i, 6), name=f"w{i}") for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()

lines = root_stream.getvalue().splitlines()
print(len(lines), sorted(l for l in lines if not l.startswith(("Traceback", " ")))[:12])
print(sorted(c_even.items)[:6], len(c_even.items))
print(sorted(c_brace.items))
print(logging.getLevelName(25), logging.getLevelName("ERROR"), logging.getLogger("app.t0").getEffectiveLevel())
logging.addLevelName(25, "NOTICE")
fmt = logging.Formatter("%(asctime)s %(levelname)-8s %(message)s", datefmt="%Y")
rec = logging.makeLogRecord({"msg": "hi %s", "args": ("x",), "levelno": 25, "levelname": "NOTICE", "created": 0.0})
print(fmt.format(rec)[4:], logging.Formatter("%(message)s %(stack_info)s").format(rec))
logging.disable(logging.INFO)
root.info("hidden")
logging.disable(logging.NOTSET)
for bad in ["%(missing)s", "{", "$"]:
    try:
        logging.Formatter(bad, style={"%": "%", "{": "{", "$": "$"}[bad[0]] if bad[0] in "{$" else "%", validate=True)
        print("ok", bad)
    except (ValueError, KeyError) as e:
        print("invalid", bad, type(e).__name__)
logging.shutdown()
atexit.unregister(logging.shutdown)
