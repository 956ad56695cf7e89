# probe-modules: asyncio.tasks asyncio.taskgroups asyncio.timeouts
# probe-self: yes
# asyncio: TaskGroup (success, failure with sibling cancellation, nested),
# timeouts that fire and that don't, wait/as_completed/shield/wait_for,
# async generators with aclose and athrow, async context managers.
# Sets of tasks iterate in id order: asyncio.wait, as_completed and a
# failing TaskGroup's cancellation of its siblings are given one task (or one
# sibling) at a time. Only timeouts that cannot race, so every run takes the
# same path: a timeout already due when it is entered (asyncio.timeout(0) and
# wait_for(timeout=0) take their "expired on entry" branch; a 0.01 s delay did
# not, when tracing made entering it slower than 10 ms), or 10-100 s against
# work that never sleeps.
import asyncio
import contextlib
import gc

# Task groups and tasks form reference cycles: when the cyclic collector runs
# decides which tasks asyncio.all_tasks() (a WeakSet) still sees at shutdown,
# and the reference allocates differently from probe. No automatic collection.
gc.disable()


async def job(n, fail=None, delay=0):
    for _ in range(n):
        await asyncio.sleep(0)
    if delay:
        await asyncio.sleep(delay)
    if fail is not None:
        raise fail(n)
    return n * n


async def ticker(limit):
    i = 0
    try:
        while i < limit:
            cmd = yield i
            if cmd == "skip":
                i += 2
            else:
                i += 1
            await asyncio.sleep(0)
    except GeneratorExit:
        raise
    except ValueError as e:
        yield f"recovered {e}"
    finally:
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def session(name, log):
    log.append(f"open {name}")
    try:
        yield name
    except LookupError as e:
        log.append(f"lookup {e!r}")
    finally:
        log.append(f"close {name}")


async def main():
    log = []
    await scenario(log)
    # The tasks scenario() made die with its frame (cycles: collected here),
    # so asyncio.run's shutdown finds the same tasks (none) in every run.
    gc.collect()
    return log


async def scenario(log):
    async with asyncio.TaskGroup() as tg:
        ts = [tg.create_task(job(i), name=f"job{i}") for i in range(4)]
    log.append([t.result() for t in ts])

    try:
        async with asyncio.TaskGroup() as tg:
            slow = tg.create_task(job(50, delay=10))
            tg.create_task(job(2, ValueError))
    except* ValueError as eg:
        log.append(("value", [str(e) for e in eg.exceptions]))
    except* KeyError as eg:
        log.append(("key", [str(e) for e in eg.exceptions]))
    log.append(slow.cancelled())

    try:
        async with asyncio.timeout(0):
            await asyncio.sleep(10)
    except TimeoutError:
        log.append("timed out")
    async with asyncio.timeout(None) as cm:
        log.append(await job(2))
        log.append(cm.expired())
    try:
        await asyncio.wait_for(job(1, delay=10), timeout=0)
    except TimeoutError:
        log.append("wait_for timed out")
    log.append(await asyncio.wait_for(job(3), timeout=10))

    gate = asyncio.Event()

    async def gated(k):
        if k != 1:
            await gate.wait()
        return await job(k)

    blocked = asyncio.ensure_future(gated(3))
    done, pending = await asyncio.wait([blocked], timeout=0.01)
    log.append((len(done), len(pending)))
    gate.set()
    done, pending = await asyncio.wait(pending, timeout=100)
    log.append((len(done), len(pending), await gated(1)))
    order = [await f for f in asyncio.as_completed([job(2)])] + [await c for c in [job(k) for k in (0, 1)]]
    log.append(sorted(order))
    inner = asyncio.ensure_future(job(2))
    log.append(await asyncio.shield(inner))

    victim = asyncio.create_task(job(1, delay=10))
    await asyncio.sleep(0)
    victim.cancel("stop")
    try:
        await victim
    except asyncio.CancelledError as e:
        log.append(("cancelled", e.args))

    agen = ticker(6)
    got = [await agen.__anext__(), await agen.asend("skip"), await agen.asend(None)]
    got.append(await agen.athrow(ValueError("bad")))
    await agen.aclose()
    log.append(got)
    log.append([x async for x in ticker(3) if x != 1])

    async with session("s1", log) as s:
        log.append(s)
    async with session("s2", log):
        raise KeyError("k")
    async with contextlib.AsyncExitStack() as stack:
        names = [await stack.enter_async_context(session(f"e{i}", log)) for i in range(2)]
        stack.push_async_callback(job, 1)
        log.append(names)
    results = await asyncio.gather(job(1), job(2, IndexError), return_exceptions=True)
    log.append([type(r).__name__ for r in results])


for item in asyncio.run(main()):
    print(item)
