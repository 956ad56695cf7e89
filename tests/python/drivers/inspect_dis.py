# probe-modules: inspect dis
# probe-volatile: dis.py:co._co_code_adaptive@rhs
# (_co_code_adaptive shows the instrumentation in force: the reference's and
# probe's sys.monitoring/settrace instrument different instructions.)
# inspect.signature over many callables (binding, defaults, annotations,
# partials, methods, classes), getsource-free helpers, getmembers,
# unwrap; dis.Bytecode / dis.dis / code_info over small functions into a
# StringIO.
import dis
import functools
import inspect
import io


def plain(a, b=2, *args, c, d=4, **kw) -> int:
    return a


def posonly(x, y, /, z=3):
    pass


async def coro(n: "int" = 1):
    return n


def gen(n):
    total = 0
    for i, (a, b) in enumerate(zip(range(n), range(n, 0, -1))):
        if a % 2:
            total += b
        yield total
    with open("x") as f, open("y"):
        yield from f
    try:
        return [x for x in range(n) if x]
    except (ValueError, TypeError) as e:
        raise RuntimeError from e
    finally:
        n = None


def closure(k):
    def add(v):
        nonlocal k
        k += v
        return k
    return add


def matcher(p):
    match p:
        case (0, y):
            return y
        case {"x": x, **rest} if rest:
            return x
        case [*_, last]:
            return last
        case _:
            return None


class K:
    def __init__(self, a, b=1):
        self.a = a

    def method(self, x, *, y=0):
        pass

    @classmethod
    def cm(cls, z):
        pass

    @staticmethod
    def sm(q, r=()):
        pass

    @property
    def prop(self):
        return 1


def deco(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper


wrapped = deco(plain)
part = functools.partial(plain, 1, c=3)

for obj in [plain, posonly, coro, gen, closure(1), K, K(1).method, K.cm, K.sm, wrapped, part, len, lambda *, k: k]:
    try:
        sig = inspect.signature(obj)
    except ValueError as e:
        print("no signature", e)
        continue
    print(sig, [(p.name, p.kind.name, p.default is p.empty) for p in sig.parameters.values()])

sig = inspect.signature(plain)
ba = sig.bind(1, 2, 3, c=4, e=5)
ba.apply_defaults()
print(ba.arguments, ba.args, ba.kwargs)
for args, kwargs in [((), {}), ((1,), {}), ((1, 2), {"b": 3, "c": 1})]:
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        print("bind", e)
print(sig.replace(return_annotation=inspect.Signature.empty), inspect.unwrap(wrapped) is plain)
print(inspect.isgeneratorfunction(gen), inspect.iscoroutinefunction(coro), inspect.getgeneratorstate(gen(2)))
print([n for n, _ in inspect.getmembers(K, inspect.isfunction)], inspect.getfullargspec(plain).kwonlydefaults)
print(inspect.getcallargs(posonly, 1, 2), inspect.cleandoc("  a\n    b\n  c"), inspect.getclosurevars(closure(3)).nonlocals)

for fn in (gen, closure, matcher, closure(1)):
    out = io.StringIO()
    bc = dis.Bytecode(fn)
    ops = [ins.opname for ins in bc]
    dis.dis(fn, file=out)
    print(fn.__name__, len(ops), len(out.getvalue().splitlines()) > 3, sorted({i.opname for i in bc if i.opname.startswith("FOR")}))
    print(len(bc.info().splitlines()) > 3, [l for l in dis.findlinestarts(fn.__code__)][:1] != [])
print(dis.stack_effect(dis.opmap["POP_TOP"]), sorted(dis.findlabels(gen.__code__.co_code))[:0])
