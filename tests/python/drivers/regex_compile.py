# probe-modules: re._parser re._compiler re._casefix
# probe-self: yes
# re's pure-Python parser and compiler over many varied patterns (cache
# cleared first), then matching, substitution with callables, and a
# match-statement walk over the parsed pattern tree.
import re
import re._parser as sre_parse

PATTERNS = [
    r"a+b*c?", r"(?P<year>\d{4})-(?P<mon>\d\d)-(?P<day>\d\d)", r"[^a-z0-9_\s]+",
    r"(?i)straße|ǅ|ſ", r"(?x) a \  b  # comment\n c", r"(?:ab|cd){2,5}?", r"\bfoo(?=bar)",
    r"(?<!x)y(?!z)", r"(?<=ab)c", r"(a)(b)?\2?\1", r"(?(1)a|b)", r"^\s*#.*$",
    r"[\w.-]+@[\w-]+\.\w{2,}", r"(?s).*?end", r"[\u0400-\u04ff]+", r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?",
    r"(?>a+)b", r"a++b", r"x*+y", r"(?a:\w+)", r"[[:alpha:]]", r"(?m)^$", r"\A\Z", r"[a-cx-z]{3}",
]


def describe(tree, depth=0):
    out = []
    for op, av in tree:
        name = str(op)
        match name:
            case "SUBPATTERN":
                group, add, dele, sub = av
                out.append(f"{'  ' * depth}group {group}")
                out.extend(describe(sub, depth + 1))
            case "MAX_REPEAT" | "MIN_REPEAT" | "POSSESSIVE_REPEAT":
                lo, hi, sub = av
                out.append(f"{'  ' * depth}{name.lower()} {lo}..{'inf' if hi == sre_parse.MAXREPEAT else hi}")
                out.extend(describe(sub, depth + 1))
            case "BRANCH":
                _, alts = av
                for i, alt in enumerate(alts):
                    out.append(f"{'  ' * depth}alt {i}")
                    out.extend(describe(alt, depth + 1))
            case "IN":
                out.append(f"{'  ' * depth}in {[str(o) for o, _ in av]}")
            case "LITERAL" | "NOT_LITERAL" if av < 128:
                out.append(f"{'  ' * depth}{name.lower()} {chr(av)!r}")
            case _:
                out.append(f"{'  ' * depth}{name.lower()}")
    return out


re.purge()
for pat in PATTERNS:
    try:
        rx = re.compile(pat)
    except re.error as e:
        print("error", pat, e.msg, e.pos)
        continue
    print(pat, rx.groups, sorted(rx.groupindex.items()))
    if pat.startswith("(?x)") or pat.startswith("(?P"):
        print("\n".join(describe(sre_parse.parse(pat))))

text = "date 2024-03-15, mail bob@ex.com, 3.5e-2 and 42; Straße ſ ABC abcxyz"
print(re.findall(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", text))
print(re.sub(r"(?P<year>\d{4})-(\d\d)-(\d\d)", lambda m: f"{m[3]}/{m[2]}/{m['year']}", text))
print([m.span() for m in re.finditer(r"(?i)straße|ſ|abc", text)])
print(re.split(r"[,;]\s*", text, maxsplit=2), re.fullmatch(r"(a)(b)?\2?\1", "aba"))
print(re.escape("a.b*c"), re.compile(r"(?i)[k-m]+").findall("KkLl\u212a"))
for bad in [r"(", r"a{3,1}", r"[z-a]", r"(?P<1>x)", r"\k", r"(?<=a+)b"]:
    try:
        re.compile(bad)
    except re.error as e:
        print("bad", bad, e.msg, e.pos)
