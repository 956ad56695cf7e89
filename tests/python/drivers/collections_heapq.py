# probe-modules: collections heapq
# Counters, named tuples, chain maps, heaps.
import collections
import heapq

c = collections.Counter("abracadabra")
print(c.most_common(3), c["z"], (c + collections.Counter("aaz")).most_common(2), sorted(c.elements())[:5])
P = collections.namedtuple("P", "x y", defaults=[0])
p = P(3)
print(p, p._replace(y=5), p._asdict(), P._make([1, 2]))
cm = collections.ChainMap({"a": 1}, {"a": 2, "b": 3})
print(cm["a"], cm["b"], dict(cm.new_child({"c": 4})), list(cm))
ud = collections.UserDict({"k": 1})
ud["j"] = 2
print(ud, collections.UserList([3, 1, 2]) + [0], collections.UserString("ab") * 2)
print(heapq.nlargest(3, [5, 1, 8, 3, 9, 2]), heapq.nsmallest(2, ["pear", "fig", "apple"], key=len))
print(list(heapq.merge([1, 4, 7], [2, 5], [3, 6, 9])), list(heapq.merge([5, 3], [4, 1], reverse=True)))
