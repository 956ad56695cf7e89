# probe-modules: uuid
# probe-self: yes
# itertools recipes (written here, probed in this file) and uuid3/uuid5.
import collections
import itertools
import operator
import uuid


def take(n, iterable):
    return list(itertools.islice(iterable, n))


def pairwise(iterable):
    a, b = itertools.tee(iterable)
    next(b, None)
    return zip(a, b)


def grouper(iterable, n, fillvalue=None):
    args = [iter(iterable)] * n
    return itertools.zip_longest(*args, fillvalue=fillvalue)


def roundrobin(*iterables):
    num_active = len(iterables)
    nexts = itertools.cycle(iter(it).__next__ for it in iterables)
    while num_active:
        try:
            for nxt in nexts:
                yield nxt()
        except StopIteration:
            num_active -= 1
            nexts = itertools.cycle(itertools.islice(nexts, num_active))


def unique_everseen(iterable, key=None):
    seen = set()
    for element in iterable:
        k = element if key is None else key(element)
        if k not in seen:
            seen.add(k)
            yield element


def sliding_window(iterable, n):
    it = iter(iterable)
    window = collections.deque(itertools.islice(it, n - 1), maxlen=n)
    for x in it:
        window.append(x)
        yield tuple(window)


def powerset(iterable):
    s = list(iterable)
    return itertools.chain.from_iterable(itertools.combinations(s, r) for r in range(len(s) + 1))


def partition(pred, iterable):
    t1, t2 = itertools.tee(iterable)
    return list(itertools.filterfalse(pred, t1)), list(filter(pred, t2))


print(take(3, itertools.count(5, 2)), list(pairwise("abcd")), list(grouper("abcdefg", 3, "x")))
print(list(roundrobin("abc", "d", "ef")), list(unique_everseen("AAAABBBCCDAABBB")), list(sliding_window(range(6), 3)))
print(list(powerset([1, 2, 3])), partition(lambda x: x % 2, range(10)))
print(list(itertools.accumulate([1, 2, 3, 4], operator.mul)), list(itertools.starmap(pow, [(2, 5), (3, 2)])))
print(uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"), uuid.uuid3(uuid.NAMESPACE_URL, "http://x"), uuid.UUID(int=12345).hex)
