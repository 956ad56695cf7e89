# probe-modules: more_itertools.more more_itertools.recipes
# more_itertools: generator-heavy recipes and adaptors.
import more_itertools as mi

print(list(mi.chunked(range(10), 3)), list(mi.windowed(range(6), 3, step=2)), list(mi.pairwise("abcd")))
print(list(mi.interleave_longest([1, 2, 3], "ab", [9])), list(mi.roundrobin("ABC", "D", "EF")), list(mi.flatten([[1], [2, 3]])))
print(list(mi.unique_everseen("AAAABBBCCDAABBB")), list(mi.unique_justseen("AAAABBBCCDAABBB")), list(mi.collapse([1, [2, [3, (4, 5)]], "ab"])))
print(mi.first([], default="none"), mi.last(range(5)), mi.nth_or_last(range(3), 10), mi.one([7]), mi.only([], default=0))
print(list(mi.split_at(range(10), lambda n: n % 4 == 0)), list(mi.split_before("aXbcXd", str.isupper)), list(mi.split_after("aXbcXd", str.isupper)))
print(list(mi.split_when([1, 2, 4, 5, 7], lambda a, b: b - a > 1)), [list(g) for g in mi.consecutive_groups([1, 2, 4, 5, 7])])
print(list(mi.distinct_permutations([1, 1, 2])), list(mi.powerset([1, 2, 3])), list(mi.partitions("abc"))[:3])
print(list(mi.set_partitions(range(4), 2))[:3], list(mi.circular_shifts(range(3))), list(mi.sliding_window(range(5), 2)))
p = mi.peekable(iter(range(5)))
print(p.peek(), p[2], next(p), list(p), mi.ilen(x for x in range(7)), mi.quantify([1, 0, 2], bool))
s = mi.seekable(x * x for x in range(6))
print(next(s), next(s), s.seek(0), list(s), list(mi.islice_extended(range(10))[-3:]))
b = mi.bucket(["a1", "b2", "a3"], key=lambda x: x[0])
print(list(b["a"]), list(b["b"]), sorted(b), mi.all_equal("aaa"), mi.is_sorted([1, 2, 2]), list(mi.run_length.encode("aaabcc")))
print(list(mi.spy(range(5), 2)[0]), list(mi.intersperse("!", [1, 2, 3])), list(mi.padded([1, 2], 0, 5)))
print(list(mi.sort_together([(3, 1, 2), "cab"])), list(zip([1, 2], "ab")), mi.minmax([4, 1, 9]), list(mi.locate([0, 1, 1, 0])))
print(list(mi.substrings("abc")), list(mi.stagger([0, 1, 2, 3])), list(mi.divide(3, range(7)))[1:2] and [list(c) for c in mi.divide(3, range(7))])
print(list(mi.batched(range(7), 3)), list(mi.grouper("ABCDEFG", 3, fillvalue="x")), list(mi.partition(lambda x: x > 2, range(5))[1]))
print(list(mi.sieve(30)), mi.factor(360) and list(mi.factor(360)), mi.nth_combination(range(5), 3, 5), mi.totient(36))
print(list(mi.convolve([1, 2, 3], [1, 1])), list(mi.polynomial_from_roots([2, 3])), mi.dotproduct([1, 2], [3, 4]), list(mi.tail(2, range(5))))
try:
    mi.one([1, 2])
except ValueError as e:
    print("error", e)
try:
    list(mi.zip_equal([1], [1, 2])) if hasattr(mi, "zip_equal") else mi.strictly_n([1], 2)
except (ValueError, getattr(mi, "UnequalIterablesError", ValueError)) as e:
    print("error", e)
