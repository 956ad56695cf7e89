"""Calls pure-Python functions of the standard library with fixed inputs, so
tests/reference.rs can probe their real source lines and compare `probe
record` with tests/python/reference_tracer.py. Deterministic: no clocks, no
addresses in values (json's circular check keys a dict by id(), so it is
off), fixed seeds; run it with PYTHONHASHSEED=0.

The modules it exercises are listed in MODULES (tests/reference.rs reads it).
"""

import calendar
import colorsys
import difflib
import fnmatch
import fractions
import heapq
import ipaddress
import json
import random
import shlex
import statistics
import textwrap
import urllib.parse

MODULES = ["colorsys", "statistics", "fractions", "textwrap", "heapq", "json.encoder", "difflib", "shlex",
           "urllib.parse", "random", "ipaddress", "calendar", "fnmatch"]


def main():
    out = []
    for rgb in [(0.2, 0.4, 0.6), (1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.0, 0.3, 0.9)]:
        h, l, s = colorsys.rgb_to_hls(*rgb)
        out.append(colorsys.hls_to_rgb(h, l, s))
        out.append(colorsys.rgb_to_hsv(*rgb))
        out.append(colorsys.hsv_to_rgb(*colorsys.rgb_to_hsv(*rgb)))
        out.append(colorsys.yiq_to_rgb(*colorsys.rgb_to_yiq(*rgb)))

    data = [2.5, 3.25, 5.5, 1.0, 7.75, 3.25, 4.0]
    ints = [3, 1, 4, 1, 5, 9, 2, 6]
    out.append(statistics.mean(data))
    out.append(statistics.fmean(ints))
    out.append(statistics.median(ints))
    out.append(statistics.median_grouped(ints))
    out.append(statistics.mode(ints))
    out.append(statistics.variance(data))
    out.append(statistics.pstdev(ints))
    out.append(statistics.harmonic_mean([1.5, 2.0, 4.0]))
    out.append(statistics.quantiles(ints, n=4))
    out.append(statistics.correlation(ints, list(range(len(ints)))))

    f = fractions.Fraction(3, 7)
    for k in range(1, 4):
        f = f + fractions.Fraction(1, k) * f - fractions.Fraction(k, 11)
    out.append(f)
    out.append(fractions.Fraction("2.375").limit_denominator(5))
    out.append(fractions.Fraction(1.1).limit_denominator(100))
    out.append(round(fractions.Fraction(22, 7), 2))

    text = ("The quick brown fox jumps over the lazy dog; probes record every value "
            "of the chosen variables, line by line, in exact order.")
    out.append(textwrap.wrap(text, width=23))
    out.append(textwrap.fill(text, width=31, initial_indent="> ", subsequent_indent="  "))
    out.append(textwrap.shorten(text, width=40))
    out.append(textwrap.indent("a\nb\n\nc", "  "))

    out.append(list(heapq.merge([1, 4, 9], [2, 3, 10], [0, 5])))
    out.append(heapq.nsmallest(3, [5, 1, 8, 3, 9, 2]))
    out.append(heapq.nlargest(2, [5, 1, 8, 3, 9, 2], key=lambda v: -v))

    doc = {"name": "probe", "values": [1, 2.5, None, True], "nested": {"a": [], "b": {"c": "d\n"}}}
    out.append(json.dumps(doc, indent=2, sort_keys=True, check_circular=False))
    out.append(json.dumps([[1, [2]], {"k": [3.5, "x"]}], indent=1, check_circular=False))

    a = ["one\n", "two\n", "three\n", "four\n", "five\n"]
    b = ["one\n", "2\n", "three\n", "four\n", "six\n", "seven\n"]
    out.append("".join(difflib.unified_diff(a, b, "a", "b", n=1)))
    sm = difflib.SequenceMatcher(None, "private probe", "primate probes")
    out.append(sm.ratio())
    out.append(sm.get_opcodes())
    out.append(difflib.get_close_matches("appel", ["ape", "apple", "peach", "puppy"]))

    out.append(shlex.split("cmd -o 'out file' --name=\"a b\" plain\\ text # comment", comments=True))
    out.append(shlex.join(["a b", "c'd", "e"]))

    out.append(urllib.parse.urlsplit("https://user@example.com:8080/p/a;x?q=1&r=two#frag"))
    out.append(urllib.parse.parse_qsl("a=1&b=two+words&c=%2F&a=3"))
    out.append(urllib.parse.urljoin("http://a/b/c/d;p?q", "../g?y#s"))
    out.append(urllib.parse.quote("a b/c?d=é"))

    rng = random.Random(20261125)
    deck = list(range(12))
    rng.shuffle(deck)
    out.append(deck)
    out.append(rng.sample(range(100), 5))
    out.append(rng.choices("abcde", weights=[5, 1, 1, 1, 2], k=6))
    out.append([rng.randrange(3, 90, 7) for _ in range(4)])
    out.append(rng.uniform(1.0, 2.0))

    net = ipaddress.ip_network("192.168.4.0/29")
    out.append([str(h) for h in net.hosts()])
    out.append(list(ipaddress.summarize_address_range(ipaddress.ip_address("10.0.0.3"),
                                                      ipaddress.ip_address("10.0.0.17"))))
    out.append(ipaddress.ip_address("2001:db8::8a2e:370:7334").exploded)
    out.append(list(net.subnets(new_prefix=30)))

    out.append(calendar.monthcalendar(2026, 2))
    out.append(calendar.TextCalendar(firstweekday=6).formatmonth(2026, 11))

    out.append(fnmatch.translate("data_[0-9]*.p?[!x]"))
    out.append(fnmatch.filter(["a.py", "b.txt", "c.py", "d.pyc"], "*.py"))
    return out


if __name__ == "__main__":
    for item in main():
        print(repr(item))
