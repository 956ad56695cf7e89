# probe-modules: http.cookies plistlib
# HTTP cookies and property lists (XML and binary).
import plistlib
from http import cookies

c = cookies.SimpleCookie()
c.load('sid="abc\\073def"; Path=/; HttpOnly')
c.load('theme=dark; Max-Age=60')
print(sorted(c.keys()), c["sid"].value, c["sid"]["path"], c.output(sep="|"))
m = cookies.Morsel()
m.set("k", "v w", '"v w"')
m["max-age"] = 10
print(m.OutputString())
data = {"name": "probe", "n": [1, 2.5, True], "blob": b"\x00\x01", "d": {"x": -3}}
xml = plistlib.dumps(data)
print(xml.decode(), plistlib.loads(xml) == data)
binary = plistlib.dumps(data, fmt=plistlib.FMT_BINARY, sort_keys=True)
print(len(binary), plistlib.loads(binary))
