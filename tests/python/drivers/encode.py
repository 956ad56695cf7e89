# probe-modules: json.encoder base64 html html.parser
# Encoders: JSON with indent (the pure-Python encoder), base32/85, HTML.
import base64
import html
import json
from html.parser import HTMLParser

obj = {"a": [1, 2.5, None, True], "b": {"c": "é\n", "d": []}, "e": float("inf") if False else -0.0}
print(json.dumps(obj, indent=2, sort_keys=True))
print(json.dumps([1, {"x": (2, 3)}], indent=1, separators=(",", ": ")))
print(base64.b32encode(b"probe!"), base64.b32decode(b"OBZG6YTFEE======"), base64.b85encode(b"\x00\x01abc"))
print(base64.b16encode(b"\xff\x00"), base64.a85encode(b"hello"), base64.urlsafe_b64encode(b"\xfb\xff"))
print(html.escape("<a href='x'>&</a>"), html.unescape("&lt;&amp;&#62;&eacute;&notanentity;"))


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.events = []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, attrs))

    def handle_data(self, data):
        self.events.append(("data", data))


p = Collector()
p.feed("<p class='x'>Hi <b>there</b>&amp; bye</p><!-- c -->")
print(p.events)
