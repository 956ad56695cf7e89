# probe agent boot: stage two of the start-up. It reaches the interpreter
# one of two ways (src/capture/mod.rs):
#   site  (record's default) the program runs as plain `python [flags]
#         script.py …` / `-m mod …`; PYTHONPATH names an in-memory zip
#         holding a `sitecustomize` (SITE_STUB) that reads this code from
#         the bundle and calls _probe_boot(f, WIRE_FD, 'site') while `site`
#         is imported, before the program starts. Nothing of ours is then
#         below the program's frames: tracebacks, traceback.print_stack(),
#         inspect.stack() and warnings' stacklevel see what python shows.
#   c     (interpreter flags -E/-I/-S, which skip PYTHONPATH or site, and
#         `probe probes`) the `-c` bootstrap
#             import os,sys;f=os.fdopen(int(sys.argv[1]),'rb');exec(...)
#         with argv = ['-c', BUNDLE_FD, BOOT_LEN, WIRE_FD, program...]; the
#         agent then runs the program itself (runner.py).
# The bundle (an in-memory file the recorder made; docs/WIRE.md) holds this
# source, then sections [u8 name length][name][u32 LE data length][data]:
#   config        the recorder's settings, lines "key<TAB>value"
#   order         the agent's module names, in load order, one a line
#   src:NAME      each module's source
#   cache:KEY     the modules compiled by this interpreter before, as
#                 marshal({name: code}), with this file ('__boot__') and
#                 the `opcode` tables ('optables'); KEY =
#                 cache_tag-hexversion. The recorder checked its content
#                 hash before putting it here.
# The native core's extension is an in-memory file of its own (config
# `native_fd`). Nothing here is read from the file system.
#
# This file must stay valid Python 2 as well: an old interpreter must get
# to the version check and refuse with a message, not a SyntaxError.

import sys
import os


def _probe_boot(f, wire_fd, how, codes=None, boot_len=None):

    def send(kind, payload):
        head = bytearray(5)
        n = len(payload)
        for i in range(4):
            head[i] = (n >> (8 * i)) & 255
        head[4] = kind
        data = bytes(head) + payload
        while data:
            data = data[os.write(wire_fd, data):]

    def say(kind, text):
        # A FATAL (4) or WARN (5) message: JSON {"message": text}.
        text = text.replace('\\', '\\\\').replace('"', '\\"')
        send(kind, ('{"message": "%s"}' % text).encode('ascii', 'replace'))
        if kind == 4:
            if how == 'site':
                # Inside `import site`: SystemExit would not end it cleanly.
                os._exit(2)
            sys.exit(2)

    if sys.version_info < (3, 11):
        say(4, 'Python %d.%d is not supported: probe needs Python 3.11 or newer (%s)'
            % (sys.version_info[0], sys.version_info[1], sys.executable))
    mods_before = set(sys.modules)
    if how == 'c' and sys.version_info >= (3, 13):
        # 3.13's `-c` imports linecache (to show the command's source in
        # tracebacks); `python script.py` does not, so neither may we.
        mods_before.discard('linecache')
    import marshal
    # Sections are read as they are needed (os.pread), not the whole bundle:
    # with a compilation at hand the ~0.2 MB of sources stay unread.
    fd = f.fileno()
    if boot_len is None:
        boot_len = f.tell()

    def pread(size, at):
        out = []
        while size > 0:
            part = os.pread(fd, size, at)
            if not part:
                raise EOFError('the bundle ends early')
            out.append(part)
            size -= len(part)
            at += len(part)
        return b''.join(out)

    end = os.fstat(fd).st_size
    where = {}
    i = boot_len
    while i < end:
        head = os.pread(fd, 260, i)
        n = head[0]
        name = head[1:1 + n].decode()
        size = int.from_bytes(head[1 + n:5 + n], 'little')
        where[name] = (i + 5 + n, size)
        i += 5 + n + size

    def section(name):
        at = where.get(name)
        return None if at is None else pread(at[1], at[0])

    if how == 'c':
        del sys.argv[1:4]
    # The versions probe is tested on, and what to do with others: `strict`
    # (record's default) refuses newer ones, `allow` (--allow-untested-python)
    # warns, `any` (probe probes, which only parses) accepts all 3.11+. A
    # free-threaded build is refused but by `any`: the tracer's sequence
    # order relies on the GIL serialising its callbacks.
    policy = 'strict'
    config = section('config').decode()
    for line in config.split('\n'):
        if line.startswith('policy\t'):
            policy = line[7:]
    version = '%d.%d.%d' % tuple(sys.version_info[:3])
    if policy != 'any' and 't' in getattr(sys, 'abiflags', ''):
        say(4, 'Python %s is a free-threaded build (%s): probe does not support free-threaded Python, '
            'whose tracer callbacks run in parallel and could record captures out of order; run a '
            'standard build of Python %d.%d' % (version, sys.executable, sys.version_info[0], sys.version_info[1]))
    if sys.version_info[:2] > (3, 15) and policy != 'any':
        if policy != 'allow':
            say(4, 'Python %s (%s) is newer than the versions probe supports (Python 3.11 to 3.15); '
                '--allow-untested-python records with it anyway, untested' % (version, sys.executable))
        say(5, 'Python %s is newer than the versions probe is tested on (3.11 to 3.15): recorded because '
            'of --allow-untested-python; check the records' % version)
    order = section('order').decode().split()
    key = '%s-%x' % (sys.implementation.cache_tag, sys.hexversion)
    # Besides the modules: '__boot__' (this file, compiled: the stub takes
    # it from here) and 'optables' (the `opcode` tables the plan reads,
    # which would cost an import of `opcode`, ~0.9 ms, at every start).
    wanted = set(order) | set(['__boot__', 'optables'])
    if codes is None:
        blob = section('cache:' + key)
        if blob is not None:
            try:
                codes = marshal.loads(blob)
            except Exception:
                codes = None
    if type(codes) is not dict or set(codes) != wanted:
        codes = {}
        for name in order:
            codes[name] = compile(section('src:' + name), '<probe-agent/%s>' % name, 'exec',
                                  dont_inherit=True)
        codes['__boot__'] = compile(pread(boot_len, 0), '<probe-boot>', 'exec', dont_inherit=True)
        import opcode
        tables = {'opname': list(opcode.opname), 'opmap': dict(opcode.opmap),
                  'EXTENDED_ARG': opcode.EXTENDED_ARG, 'HAVE_ARGUMENT': opcode.HAVE_ARGUMENT,
                  'hasjrel': list(opcode.hasjrel), 'hasjabs': list(opcode.hasjabs),
                  '_inline_cache_entries': opcode._inline_cache_entries}
        codes['optables'] = compile(''.join('%s = %r\n' % kv for kv in sorted(tables.items())),
                                    '<probe-agent/optables>', 'exec', dont_inherit=True)
        # Compiling costs ~35 ms: hand the code to the recorder to cache
        # (not in `probe probes`' list mode or `record`'s spec check, whose
        # "wire" is stdout).
        # Each module marshalled on its own, so that a run unmarshals only
        # the modules it loads (see `lazy` below).
        if 'mode\tlist\n' not in config and 'mode\tcheck\n' not in config:
            try:
                send(6, key.encode() + b'\0' + marshal.dumps(dict((k, marshal.dumps(v)) for k, v in codes.items())))
            except OSError:
                pass
    # The resolution of these specs from an earlier run, if the recorder
    # has one (resolved.py checks it before use).
    resolution = section('resolution')
    if how == 'site' and 'site_pyc\twant\n' in config:
        # The recorder has no compiled stub for this interpreter: make it,
        # an unchecked hash-based pyc (zipimport takes it as it is; with
        # --check-hash-based-pycs always, its hash is the source's).
        try:
            import _imp
            ext = sys.modules['_frozen_importlib_external']
            src = section('site')
            code = compile(src, '<probe-site>', 'exec', dont_inherit=True)
            token = getattr(_imp, 'pyc_magic_number_token', None)  # 3.15
            if token is None:
                token = ext._RAW_MAGIC_NUMBER
            pyc = ext.MAGIC_NUMBER + b'\x01\0\0\0' + _imp.source_hash(token, src) + marshal.dumps(code)
            send(9, key.encode() + b'\0' + pyc)
        except Exception:
            pass
    f.close()
    pkg = type(sys)('probe_agent')
    pkg.__path__ = []
    pkg.__package__ = 'probe_agent'
    sys.modules['probe_agent'] = pkg

    # The agent's own builtins: a copy made now, before the program runs,
    # so that a program that replaces one (builtins.len = ..., a test's
    # mock.patch('builtins.open')) neither changes what our code does nor
    # sees our calls.
    import builtins
    own_builtins = dict(vars(builtins))

    def load(name):
        m = type(sys)('probe_agent.' + name)
        m.__package__ = 'probe_agent'
        m.__file__ = '<probe-agent/%s>' % name
        m.__builtins__ = own_builtins
        sys.modules[m.__name__] = m
        setattr(pkg, name, m)
        code = codes[name]
        if type(code) is bytes:
            code = marshal.loads(code)
        exec(code, m.__dict__)
        return m

    # Parsing source (the resolver, `probe probes`) is loaded when first
    # imported (`from . import resolve`): a run whose resolution is cached
    # never needs it, nor `_ast`, whose types cost ~11 M instructions. The
    # settrace core likewise (3.11, or --core settrace).
    lazy = ('symbols', 'resolve', 'listing', 'pytracer')

    def __getattr__(name):
        if name in lazy and name in codes:
            return load(name)
        raise AttributeError(name)
    pkg.__getattr__ = __getattr__
    for name in ['optables'] + order:
        if name not in lazy:
            load(name)
    return sys.modules['probe_agent.main'].main(wire_fd, config, mods_before, how, resolution)


if __name__ == '__main__':
    # The `-c` bootstrap (its `f` is the bundle).
    _probe_rc = _probe_boot(f, int(sys.argv[3]), 'c')
    del f
    if _probe_rc is not None:
        raise SystemExit(_probe_rc)
