# probe-modules: tomllib._parser tokenize
# TOML parsing and Python tokenizing.
import io
import tokenize
import tomllib

doc = """
title = "probe"
[owner]
name = "Tom"
dob = 1979-05-27T07:32:00-08:00
[data]
ints = [1, 2, 0x1f, 1_000]
floats = [3.14, -0.0, inf, nan]
nested = { a = [true, false], b = 'lit' }
[[tables]]
n = 1
[[tables]]
n = 2
"""
d = tomllib.loads(doc)
print(d["title"], d["owner"], d["data"]["ints"], d["data"]["floats"], d["tables"], d["data"]["nested"])
src = "def f(x):\n    return x + 1  # c\nprint(f'{f(2)!r}')\n"
for tok in tokenize.generate_tokens(io.StringIO(src).readline):
    print(tokenize.tok_name[tok.type], repr(tok.string))
