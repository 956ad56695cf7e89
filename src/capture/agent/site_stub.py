# probe agent: the `sitecustomize` module of `site` mode (see boot.py).
#
# The recorder runs the program as plain `python [flags] script.py …` with
# PYTHONPATH naming an in-memory zip that holds this file, and
# PROBE_AGENT_BOOT = "BUNDLE_FD GO_FD WIRE_FD". Once the recorder has
# written the bundle it writes "BOOT_LEN [OFFSET LENGTH KEY]\n" on the GO_FD
# pipe (the last three: where the bundle holds this interpreter's
# compilation of the agent, boot.py's code with it, when KEY is this
# interpreter's cache key).
# `site` imports us before the program starts: we put the environment and
# sys.path back as the program would have them, start the agent, then
# import the real sitecustomize if there is one, as `site` would have.
# (Python 2 would run this too: the boot code refuses it with a message.)


def _probe_site():
    import os
    import sys
    spec = os.environ.pop('PROBE_AGENT_BOOT', None)
    was = os.environ.pop('PROBE_AGENT_PYTHONPATH', None)
    if spec is None:
        return
    if spec == 'check':
        # The recorder asks whether a wrapper passes the environment on.
        os.write(1, b'probe-site-ok\n')
        os._exit(0)
    if was is None:
        os.environ.pop('PYTHONPATH', None)
    else:
        os.environ['PYTHONPATH'] = was
    here = os.path.dirname(__file__)
    while here in sys.path:
        sys.path.remove(here)
    sys.path_importer_cache.pop(here, None)
    zi = sys.modules.get('zipimport')
    cache = getattr(zi, '_zip_directory_cache', None)
    if isinstance(cache, dict):
        cache.pop(here, None)
    if here.startswith('/proc/self/fd/'):
        try:
            os.close(int(here[len('/proc/self/fd/'):]))  # the zip's descriptor
        except (ValueError, OSError):
            pass
    # Bound before our module leaves sys.modules (Python 2 then clears its
    # globals: the version check must still be reached there).
    start = _probe_start
    del sys.modules[__name__]
    bundle_fd, go_fd, wire_fd = [int(x) for x in spec.split()[:3]]
    # The recorder writes the bundle while python starts, then says on the
    # `go` pipe where its parts are: "BOOT_LEN [OFFSET LENGTH KEY]\n", or
    # "abort\n" when it could not (nothing of the program may run then).
    got = b''
    try:
        while not got.endswith(b'\n'):
            part = os.read(go_fd, 512)
            if not part:
                break
            got += part
    finally:
        os.close(go_fd)
    parts = got.decode('ascii', 'replace').split()
    if parts == ['abort']:
        os._exit(2)
    if got.endswith(b'\n') and parts:
        start(bundle_fd, wire_fd, parts)
    else:
        # The recorder is gone: the program runs untraced, as it would if
        # the recorder died later (the user's own sitecustomize too).
        for fd in (bundle_fd, wire_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        os.write(2, b'probe: warning: the recorder ended before the program started; '
                    b'the program runs untraced\n')
    # The real one, if any, takes our place in sys.modules. If there is
    # none, this import fails as it would have without us: `site` ignores
    # an ImportError named 'sitecustomize', and the import system drops
    # our module (sys.modules then holds no sitecustomize, as without us).
    try:
        import sitecustomize  # noqa: F401
    except ImportError as e:
        if getattr(e, 'name', None) != 'sitecustomize':
            raise
        raise ImportError('no sitecustomize', name='sitecustomize')


def _probe_start(bundle_fd, wire_fd, parts):
    # parts: BOOT_LEN [OFFSET LENGTH KEY], from the recorder's `go` line.
    import os
    import sys
    boot_len = int(parts[0])
    f = os.fdopen(bundle_fd, 'rb')
    # This interpreter's compilation of the agent, if the recorder has one
    # (its content hash checked): boot.py's code is in it, not compiled.
    codes = boot = None
    impl = getattr(sys, 'implementation', None)  # none before 3.3: boot.py refuses those
    if len(parts) == 4 and impl is not None and parts[3] == '%s-%x' % (impl.cache_tag, sys.hexversion):
        import marshal
        try:
            blob = os.pread(bundle_fd, int(parts[2]), int(parts[1]))
            codes = marshal.loads(blob) if len(blob) == int(parts[2]) else None
            boot = codes.get('__boot__') if type(codes) is dict else None
            if type(boot) is bytes:  # each module marshalled apart (boot.py)
                boot = marshal.loads(boot)
        except Exception:
            boot = None
        if boot is None:
            codes = None
    if boot is None:
        boot = compile(f.read(boot_len), '<probe-boot>', 'exec')
    g = {'__name__': '__probe_boot__', '__builtins__': __builtins__}
    exec(boot, g)
    rc = g['_probe_boot'](f, wire_fd, 'site', codes, boot_len)
    if rc is not None:
        os._exit(rc)


_probe_site()
