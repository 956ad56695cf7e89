# probe-modules: typing
# probe-self: yes
# probe-volatile: typing.py:all_params@lhs typing.py:all_params@rhs typing.py:tvarset@lhs typing.py:tvarset@rhs typing.py:gvarset@lhs typing.py:gvarset@rhs
# typing: get_type_hints (string annotations, Optional defaults, nested
# classes, include_extras, Annotated), get_origin/get_args over generic
# aliases (list[int], Dict[str, List[int]], Callable, Union, Literal,
# Tuple[int, ...], user Generic classes and their subscriptions), TypeVar,
# ParamSpec, Protocol with runtime_checkable, NamedTuple, TypedDict, cast,
# overload; functools.singledispatch with many registrations (ABCs, unions,
# MRO resolution) and singledispatchmethod; isinstance/issubclass against
# collections.abc (registration, __subclasshook__ of Iterable/Sized/...).
# _collections_abc is frozen (its code objects are named "<frozen …>"), so
# it cannot be probed; functools is not probed: singledispatch's
# _compose_mro walks type.__subclasses__() of the ABCs, which includes the
# classes the tracer's own imports created. typing builds sets of TypeVars
# (hashed by id, no `<` in their repr): those values are volatile.
import collections
import collections.abc as cabc
import functools
import typing
from typing import (Annotated, Any, Callable, ClassVar, Dict, Final, Generic, List, Literal, Optional,
                    Protocol, Tuple, TypeVar, Union)

T = TypeVar("T")
K = TypeVar("K", bound=str)
N = TypeVar("N", int, float)
P = typing.ParamSpec("P")


class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    def get(self) -> T:
        return self.item


class Pair(Box[T], Generic[T, K]):
    other: "Optional[K]" = None


class Node:
    value: int
    children: "List[Node]"
    parent: Optional["Node"]
    meta: Annotated[Dict[str, int], "meta-data"]
    limit: ClassVar[int] = 3
    tag: Final = "n"

    def link(self, other: "Node", weight: float = None, *args: int, **kw: str) -> "Tuple[Node, float]":
        return (other, weight)


@typing.runtime_checkable
class SupportsClose(Protocol):
    def close(self) -> None: ...


class Point(typing.NamedTuple):
    x: int
    y: int = 0


class Movie(typing.TypedDict, total=False):
    title: str
    year: int


def describe(tp):
    origin = typing.get_origin(tp)
    return (getattr(origin, "__name__", repr(origin)), typing.get_args(tp))


print(sorted(typing.get_type_hints(Node).items(), key=lambda kv: kv[0]))
print(sorted((k, str(v)) for k, v in typing.get_type_hints(Node, include_extras=True).items()))
print(sorted((k, str(v)) for k, v in typing.get_type_hints(Node.link).items()))
print(typing.get_type_hints(Pair), typing.get_type_hints(Point), typing.get_type_hints(Movie))
for tp in [list[int], Dict[str, List[int]], Callable[[int, str], bool], Callable[..., int], Union[int, str, None],
           Optional[int], Literal["a", 1, True], Tuple[int, ...], tuple[()], Box[int], Pair[int, str],
           Annotated[int, "x", 3], type[Box], cabc.Mapping[str, int], Callable[P, T], int | str]:
    print(describe(tp), repr(tp))
print(Union[int, Union[str, int]], Optional[Union[int, None]], Literal[1, 1, 2], List[T][int])
print(Box[int](3).get(), Pair.__parameters__, Pair[int, str].__origin__ is Pair, Box.__orig_bases__ if hasattr(Box, "__orig_bases__") else None)
print(isinstance(open(__file__), SupportsClose), isinstance(3, SupportsClose), Point(1), Point._fields, Movie.__required_keys__, sorted(Movie.__optional_keys__))
print(typing.cast(int, "x"), K.__bound__, N.__constraints__, T.__name__, typing.get_origin(P.args) is P)
for bad in [lambda: Union[()], lambda: Box[int, str], lambda: Generic[int], lambda: Literal[[1]] and None,
            lambda: isinstance(3, List[int]), lambda: Callable[int, int]]:
    try:
        r = bad()
        print("ok", r)
    except TypeError as e:
        print("TypeError")


@typing.overload
def twice(x: int) -> int: ...
@typing.overload
def twice(x: str) -> str: ...
def twice(x):
    return x * 2


print(twice(2), twice("ab"), len(typing.get_overloads(twice)) if hasattr(typing, "get_overloads") else 2)


# functools.singledispatch
@functools.singledispatch
def show(obj):
    return f"object:{type(obj).__name__}"


@show.register
def _(obj: int):
    return f"int:{obj}"


@show.register(bool)
def _(obj):
    return f"bool:{obj}"


@show.register
def _(obj: float):
    return f"float:{obj:.1f}"


@show.register(cabc.Mapping)
def _(obj):
    return "mapping:" + ",".join(f"{k}={show(v)}" for k, v in obj.items())


@show.register(cabc.Sequence)
def _(obj):
    return "seq[" + ";".join(show(v) for v in obj) + "]"


@show.register(str)
def _(obj):
    return f"str:{obj!r}"


@show.register(cabc.Set)
def _(obj):
    return f"set:{len(obj)}"


@show.register
def _(obj: type(None)):
    return "none"


@show.register(Box)
def _(obj):
    return f"box({show(obj.item)})"


class MyList(collections.UserList):
    pass


class Sized3:
    def __len__(self):
        return 3


for v in [1, True, 2.5, "s", [1, "a"], (2.0, None), {"k": [1]}, frozenset({1, 2}), None, Box(Box(7)),
          MyList([1, 2]), collections.OrderedDict(a=1), range(2), b"xy", object(), Sized3(), {1}.union({2})]:
    print(show(v))
print(show.dispatch(bool).__name__, show.dispatch(collections.deque) is show.registry[cabc.Sequence] if collections.deque in show.registry else show.dispatch(collections.deque).__name__)


class Shape:
    @functools.singledispatchmethod
    def area(self, arg):
        return "generic"

    @area.register
    def _(self, arg: int):
        return arg * arg

    @area.register
    def _(self, arg: tuple):
        return arg[0] * arg[1]


print(Shape().area(3), Shape().area((2, 5)), Shape().area("x"))


# collections.abc
class Reg:
    pass


cabc.Sequence.register(Reg)


class Iter:
    def __iter__(self):
        return iter(())


class NotIter:
    __iter__ = None


class Cont:
    def __contains__(self, x):
        return True


class Full(cabc.MutableMapping):
    def __init__(self):
        self.d = {}

    def __getitem__(self, k):
        return self.d[k]

    def __setitem__(self, k, v):
        self.d[k] = v

    def __delitem__(self, k):
        del self.d[k]

    def __iter__(self):
        return iter(self.d)

    def __len__(self):
        return len(self.d)


abcs = [cabc.Iterable, cabc.Iterator, cabc.Sized, cabc.Container, cabc.Collection, cabc.Sequence, cabc.Mapping,
        cabc.MutableMapping, cabc.Set, cabc.Hashable, cabc.Callable, cabc.Reversible, cabc.Generator,
        cabc.Awaitable, cabc.AsyncIterable, cabc.Buffer if hasattr(cabc, "Buffer") else cabc.ByteString]
things = [[], (), {}, set(), "s", b"b", iter([]), (x for x in ()), Reg(), Iter(), NotIter(), Cont(), Full(),
          Sized3(), len, range(3), memoryview(b"m"), collections.deque(), {}.keys(), {}.items()]
for t in things:
    print(type(t).__name__, "".join("1" if isinstance(t, a) else "0" for a in abcs))
print([issubclass(c, cabc.Hashable) for c in (list, int, Full, Reg)], issubclass(Reg, cabc.Reversible))
f = Full()
f.update({"a": 1}, b=2)
f.setdefault("c", 3)
print(f.pop("a"), f.popitem(), sorted(f.items()), f.get("zz", 0), "b" in f, f == {"b": 2}, list(f.keys()), list(f.values()))
class ListSet(cabc.Set):
    def __init__(self, items=()):
        self.items = []
        for x in items:
            if x not in self.items:
                self.items.append(x)

    def __contains__(self, x):
        return x in self.items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        return f"ListSet({self.items})"


s = ListSet([3, 1])
print(s._hash() == ListSet([1, 3])._hash(), s | [5], s.isdisjoint([7]), s & [1], s <= ListSet([1, 3, 4]),
      s ^ [3, 9], s - [1], s == ListSet([1, 3]), s < ListSet([1, 3]), s >= ListSet([1]))
seq = MyList([5, 6, 5])
print(seq.index(6), seq.count(5), list(reversed(seq)), 6 in seq, cabc.Sequence.index(seq, 5, 1))
