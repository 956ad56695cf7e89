# probe-modules: enum functools
# Enums and functools helpers.
import enum
import functools


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 3


class Perm(enum.IntFlag):
    R = 4
    W = 2
    X = 1


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 10


print(list(Color), Color(2), Color["BLUE"], Perm.R | Perm.W, Perm(7), Level.HIGH > Level.LOW, Level.LOW + 1)


@functools.total_ordering
class Version:
    def __init__(self, s):
        self.parts = tuple(int(x) for x in s.split("."))

    def __eq__(self, other):
        return self.parts == other.parts

    def __lt__(self, other):
        return self.parts < other.parts

    def __repr__(self):
        return "V" + ".".join(map(str, self.parts))


print(sorted([Version("1.10"), Version("1.2"), Version("0.9")]), Version("1.0") >= Version("0.9"))


@functools.singledispatch
def describe(x):
    return "thing"


@describe.register
def _(x: int):
    return f"int {x}"


@describe.register(list)
def _(x):
    return f"list of {len(x)}"


print(describe(3), describe([1, 2]), describe("s"))
pm = functools.partialmethod
print(functools.reduce(lambda a, b: a * b, range(1, 6)), functools.partial(int, base=2)("101"))
print(functools.cmp_to_key(lambda a, b: (a > b) - (a < b))(3) < functools.cmp_to_key(lambda a, b: (a > b) - (a < b))(4))
