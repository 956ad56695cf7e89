# probe-modules: gettext graphlib
# Plural-forms expressions and topological sorting.
import gettext
import graphlib

f = gettext.c2py("n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2")
print([f(n) for n in (1, 2, 5, 12, 22, 101)])
t = gettext.NullTranslations()
print(t.gettext("hello"), t.ngettext("apple", "apples", 3), gettext.dgettext("nodomain", "x"))
ts = graphlib.TopologicalSorter({"d": {"b", "c"}, "b": {"a"}, "c": {"a"}, "e": {"d"}})
print(list(ts.static_order()))
ts2 = graphlib.TopologicalSorter()
ts2.add("x", "y")
ts2.add("y", "z")
ts2.prepare()
order = []
while ts2.is_active():
    ready = ts2.get_ready()
    order.append(sorted(ready))
    ts2.done(*ready)
print(order)
try:
    graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).prepare()
except graphlib.CycleError as e:
    print("cycle", e.args[1])
