# probe-modules: textwrap shlex string difflib
# Text utilities: wrapping, shell lexing, templates, diffs.
import difflib
import shlex
import string
import textwrap

para = "The quick brown fox jumps over the lazy dog. " * 3
print(textwrap.wrap(para, width=30))
print(textwrap.fill("a b c d e f g", width=5, initial_indent="> "))
print(textwrap.dedent("    x\n      y\n    z"), textwrap.indent("a\nb", "+ "), textwrap.shorten(para, 25))
print(shlex.split("cmd -a 'quoted arg' \"dq $x\" plain\\ space # comment", comments=True))
print(shlex.quote("it's"), shlex.join(["a b", "c"]))
t = string.Template("$who likes ${what}")
print(t.substitute(who="tim", what="kung pao"), t.safe_substitute(who="x"), string.capwords(" hello   world "))
print(string.Formatter().format("{0:>5}|{name!r}", 42, name="n"))
a = ["one", "two", "three", "four"]
b = ["zero", "one", "tree", "four", "five"]
print(list(difflib.unified_diff(a, b, lineterm="")))
print(difflib.SequenceMatcher(None, "abcd efgh", "abxd efxh").ratio(), difflib.get_close_matches("appel", ["ape", "apple", "peach"]))
print(list(difflib.ndiff(["a\n", "b\n"], ["a\n", "c\n"])))
