"""Unit tests of the agent's value snapshots (src/capture/agent/values.py):
every conversion is bounded before it is done.

Run by tests/plan_units.rs with every supported interpreter.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src", "capture"))

from agent import values as V  # noqa: E402


class CutText(unittest.TestCase):
    def test_the_limit_is_in_utf8_bytes_and_cuts_between_characters(self):
        self.assertEqual(V.cut_text("abc", 3), ("abc", False))
        self.assertEqual(V.cut_text("abcd", 3), ("abc", True))
        self.assertEqual(V.cut_text("é" * 4, 8), ("é" * 4, False))
        self.assertEqual(V.cut_text("é" * 4, 7), ("é" * 3, True))  # never half a character
        self.assertEqual(V.cut_text("€€€", 7), ("€€", True))
        self.assertEqual(V.cut_text("", 0), ("", False))

    def test_lone_surrogates_survive(self):
        s = "a\udcff" * 3
        text, cut = V.cut_text(s, 4)
        self.assertTrue(cut)
        self.assertTrue(s.startswith(text))

    def test_a_huge_string_keeps_its_head(self):
        s = "x" * 50_000_000 + "é"
        self.assertEqual(V.cut_text(s, 4096), ("x" * 4096, True))


class BigInts(unittest.TestCase):
    def test_ints_up_to_the_bound_go_whole(self):
        v = 3 ** 5000
        self.assertIs(V.big_int(v, 4096), v)

    def test_beyond_the_bound_only_leading_digits_flagged(self):
        v = 7 * 10 ** 100_000 + 1
        tag, type_name, text, cut = V.big_int(v, 4096)
        self.assertEqual((tag, type_name, cut), (V.T_OTHER, "int", True))
        self.assertTrue(text.startswith("7000"), text[:10])
        self.assertLessEqual(len(text.encode()), 4096)
        neg = V.big_int(-v, 100)
        self.assertTrue(neg[2].startswith("-7000"))
        self.assertLessEqual(len(neg[2]), 100)

    def test_the_leading_digits_are_exact(self):
        v = 10 ** 20_003 - 877  # 999…9123
        text = V.big_int(v, 50)[2]
        self.assertEqual(text, "9" * len(text))
        v = 1234567890 * (10 ** 20_000 - 1) // (10 ** 10 - 1)  # 1234567890 repeated
        text = V.big_int(v, 30)[2]
        self.assertTrue(("1234567890" * 4).startswith(text), text)

    def test_an_enormous_int_is_described_not_divided(self):
        v = 1 << (1 << 25)
        tag, type_name, text, cut = V.big_int(v, 4096)
        self.assertIn("bits", text)
        self.assertTrue(cut)


class Snapshots(unittest.TestCase):
    def setUp(self):
        self.v = V.Values(64, 1 << 20)

    def test_a_huge_list_repr_is_cut_without_building_it_all(self):
        big = [[i, str(i)] for i in range(300_000)]
        tag, type_name, text, cut = self.v.snapshot(big)
        self.assertEqual((tag, type_name, cut), (V.T_OTHER, "list", True))
        self.assertEqual(text, repr(big)[:64])

    def test_container_reprs_match_python_when_they_fit(self):
        for x in ([1, "a", None], (1,), (), {"k": [1.5]}, {1, 2}, set(), frozenset({3})):
            got = V.bounded_repr(x, 1000)
            self.assertEqual(got, (repr(x), False), x)

    def test_stdlib_container_reprs_match_python_when_they_fit(self):
        import collections as c
        dd = c.defaultdict(list)
        dd["a"].append(1)
        cases = [c.deque(), c.deque([1, "x", (2,)]), c.deque([1, 2], maxlen=3), c.deque(maxlen=0),
                 dd, c.defaultdict(None), c.defaultdict(int, {1: 2}), c.OrderedDict(),
                 c.OrderedDict(a=1, b=[2.5]), c.OrderedDict({(1, 2): c.deque([3])}),
                 [c.deque([{"k": c.OrderedDict(z=None)}])]]
        for x in cases:
            self.assertEqual(V.bounded_repr(x, 1000), (repr(x), False), repr(x))
            tag, name, text, cut = self.v.snapshot(x)
            self.assertEqual((tag, text), (V.T_OTHER, repr(x)[:64]), repr(x))

    def test_a_huge_int_inside_a_deque_or_ordered_dict_is_not_converted(self):
        import collections as c
        huge = 7 << 5_000_000  # ~1.5 M digits: converting it would take seconds
        for x in (c.deque([huge]), c.OrderedDict(k=huge), c.defaultdict(int, {0: huge})):
            tag, name, text, cut = V.Values(4096, 1 << 20).snapshot(x)
            self.assertEqual(tag, V.T_OTHER)
            self.assertIn("<int of 5000003 bits>", text)

    def test_a_long_deque_is_cut_without_building_its_repr(self):
        import collections as c
        d = c.deque(range(1_000_000))
        self.assertEqual(V.bounded_repr(d, 20), ("deque([0, 1, 2, 3, 4", True))

    def test_long_text_in_a_container_is_cut_before_its_repr_is_made(self):
        # 10 captures of [s] with a 300 MB s took 6.8 s (repr of the whole
        # string each time); the cost is now that of the limit. 16 MB here,
        # str and bytes, in a list and as a dict value.
        import time
        s = "x" * (16 << 20)
        b = b"\x00" * (16 << 20)
        for x in ([s], {"k": b}, (1, s), {s: 1}):
            t0 = time.perf_counter()
            full = repr(x)
            one_repr = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(10):
                tag, name, text, cut = self.v.snapshot(x)
            took = time.perf_counter() - t0
            self.assertEqual((tag, cut), (V.T_OTHER, True))
            self.assertEqual(text, full[:64])
            # What is left is a memchr scan for the quote repr would choose
            # (see _text_repr_head): ten captures cost less than the one
            # full repr each capture used to make.
            self.assertLess(took, one_repr,
                            f"{type(x).__name__}: {took:.3f} s for 10 captures, "
                            f"{one_repr:.3f} s for one repr")

    def test_cut_text_reprs_are_exactly_the_head_of_the_full_repr(self):
        # repr's quote depends on the whole text (' unless it holds ' and
        # no "), its escapes on every character: the head must match
        # repr(whole) character for character, whatever the cut.
        import random
        rng = random.Random(16)
        alphabet = ["a", "'", '"', "\\", "\n", "\t", "\x00", "\x7f", "é", "\u2028",
                    "\U0001f600", "\ud800", " "]
        balpha = [b"a", b"'", b'"', b"\\", b"\n", b"\xff", b"\x00", b" "]
        cases = ["it's", 'say "hi"', "it's \"both\"", "'" * 40, '"' * 40,
                 "a" * 39 + "'", "a" * 39 + '"', "a" * 30 + "'" + "b" * 30,
                 b"it's", b'a"b', b"'" * 40, b"x" * 39 + b"'", b"\\" * 30]
        for _ in range(150):
            n = rng.randrange(0, 40)
            if rng.random() < 0.5:
                cases.append("".join(rng.choice(alphabet) for _ in range(n)))
            else:
                cases.append(b"".join(rng.choice(balpha) for _ in range(n)))
        for x in cases:
            for c in ([x], {x: x}, [1, x, 2]):
                full = repr(c)
                for limit in range(1, len(full) + 3):
                    # The limit is in UTF-8 bytes (cut_text), as for
                    # every value.
                    want = V.cut_text(full, limit)
                    self.assertEqual(V.bounded_repr(c, limit), want, (c, limit))

    def test_a_repr_that_raises_is_an_error_value(self):
        class Bad:
            def __repr__(self):
                raise RuntimeError("no")
        self.assertEqual(self.v.snapshot(Bad())[:2], (V.T_ERROR, "RuntimeError"))

    def test_number_lists_are_arrays(self):
        self.assertEqual(self.v.snapshot([1, 2])[1:3], ("int64", (2,)))
        self.assertEqual(self.v.snapshot([1, 2.5])[1], "float64")
        self.assertEqual(self.v.snapshot([True, 1])[0], V.T_OTHER)
        self.assertEqual(self.v.snapshot([2 ** 70])[0], V.T_OTHER)


if __name__ == "__main__":
    unittest.main(verbosity=1)
