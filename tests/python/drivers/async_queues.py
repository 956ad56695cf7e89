# probe-modules: asyncio.queues asyncio.locks
# probe-self: yes
# asyncio: gather, tasks, cancellation, queues, locks and events.
import asyncio


async def worker(name, q, results, lock):
    while True:
        item = await q.get()
        try:
            if item is None:
                return name
            async with lock:
                results.append((name, item * item))
        finally:
            q.task_done()


async def slow(ev):
    await ev.wait()
    return "woke"


async def forever():
    try:
        while True:
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        raise


async def main():
    q = asyncio.Queue(maxsize=2)
    lock = asyncio.Lock()
    results = []
    workers = [asyncio.create_task(worker(f"w{i}", q, results, lock)) for i in range(2)]
    for item in [1, 2, 3, 4, 5, None, None]:
        await q.put(item)
    await q.join()
    names = await asyncio.gather(*workers)
    ev = asyncio.Event()
    waiter = asyncio.create_task(slow(ev))
    await asyncio.sleep(0)
    ev.set()
    woke = await waiter
    f = asyncio.create_task(forever())
    await asyncio.sleep(0)
    f.cancel()
    try:
        await f
    except asyncio.CancelledError:
        cancelled = True
    sem = asyncio.Semaphore(1)
    async with sem:
        inside = sem.locked()
    lq = asyncio.LifoQueue()
    for i in range(3):
        lq.put_nowait(i)
    popped = [lq.get_nowait() for _ in range(3)]
    return sorted(results), names, woke, cancelled, inside, popped


print(asyncio.run(main()))
