# probe-modules: pprint dataclasses copy reprlib
# Pretty printing, dataclasses, copying, abbreviated reprs.
import copy
import dataclasses
import pprint
import reprlib


@dataclasses.dataclass(order=True)
class Item:
    name: str
    qty: int = 0
    tags: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float = 0.0


items = [Item("b", 2, ["x"]), Item("a", 5), Item("c")]
print(sorted(items), dataclasses.asdict(items[0]), dataclasses.astuple(Point(1.5)), dataclasses.replace(Point(1, 2), y=3))
print([f.name for f in dataclasses.fields(Item)], dataclasses.is_dataclass(Point))
nested = {"k%d" % i: list(range(i)) for i in range(6)}
pprint.pprint(nested, width=40)
print(pprint.pformat([{"a": 1, "b": [1, 2, {"c": "d" * 30}]}] * 2, width=50, compact=True))
deep = {"l": [1, [2, 3]], "i": items[0]}
c = copy.deepcopy(deep)
c["l"][1].append(4)
print(deep, c, copy.copy(items[1]))
print(reprlib.repr(list(range(100))), reprlib.repr("x" * 200), reprlib.Repr().repr([1, 2, 3, 4] * 3))
