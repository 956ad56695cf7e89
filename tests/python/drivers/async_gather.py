# probe-self: yes
# probe-modules: asyncio.queues
# asyncio: gather with results and exceptions, nested tasks, timeouts
# that never fire, async generators.
import asyncio


async def compute(n):
    await asyncio.sleep(0)
    if n == 3:
        raise ValueError(n)
    total = 0
    for i in range(n):
        total += i
        await asyncio.sleep(0)
    return total


async def agen(n):
    for i in range(n):
        got = yield i * 2
        await asyncio.sleep(0)


async def main():
    ok = await asyncio.gather(compute(1), compute(2), compute(4))
    mixed = await asyncio.gather(compute(3), compute(2), return_exceptions=True)
    inner = await asyncio.create_task(asyncio.wait_for(compute(5), timeout=100))
    vals = [v async for v in agen(3)]
    g = agen(5)
    first = await g.__anext__()
    second = await g.asend("x")
    await g.aclose()
    try:
        await compute(3)
    except ValueError as e:
        err = e.args
    return ok, [repr(m) for m in mixed], inner, vals, first, second, err


print(asyncio.run(main()))
