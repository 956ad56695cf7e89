# probe-modules: xml.sax.expatreader xml.sax.saxutils xml.sax.handler pickletools
# SAX parsing into a handler (namespaces on and off, an error), SAX
# output through XMLGenerator; pickles disassembled and optimized.
import io
import pickle
import pickletools
import xml.sax
import xml.sax.handler
import xml.sax.saxutils

DOC = """<?xml version="1.0"?>
<!DOCTYPE filters [<!ENTITY gain "0.5">]>
<f:filters xmlns:f="urn:fir" xmlns="urn:default">
  <f:filter name="lp" taps="64">&gain; <![CDATA[<raw>&]]></f:filter>
  <filter name="hp" f:taps="32"><!-- c --><?pi data?>text &amp; more</filter>
</f:filters>"""


class Collect(xml.sax.handler.ContentHandler):
    def __init__(self):
        super().__init__()
        self.events = []
        self.depth = 0

    def startElement(self, name, attrs):
        self.depth += 1
        self.events.append(("start", name, sorted(attrs.items())))

    def endElement(self, name):
        self.depth -= 1
        self.events.append(("end", name))

    def startElementNS(self, name, qname, attrs):
        self.depth += 1
        self.events.append(("startNS", name, qname, sorted(attrs.items(), key=repr), sorted(attrs.getQNames(), key=repr)))

    def endElementNS(self, name, qname):
        self.depth -= 1
        self.events.append(("endNS", name))

    def characters(self, content):
        if content.strip():
            self.events.append(("text", content))

    def processingInstruction(self, target, data):
        self.events.append(("pi", target, data))


for ns in (False, True):
    h = Collect()
    p = xml.sax.make_parser()
    p.setFeature(xml.sax.handler.feature_namespaces, ns)
    p.setContentHandler(h)
    p.parse(io.StringIO(DOC))
    print(ns, h.depth, h.events)
h = Collect()
try:
    xml.sax.parseString(b"<a><b></a>", h)
except xml.sax.SAXParseException as e:
    print("error", e.getLineNumber(), e.getColumnNumber(), e.getMessage(), h.events)

out = io.StringIO()
g = xml.sax.saxutils.XMLGenerator(out, "utf-8", short_empty_elements=True)
g.startDocument()
g.startPrefixMapping("f", "urn:fir")
g.startElementNS(("urn:fir", "bank"), "f:bank", xml.sax.xmlreader.AttributesNSImpl(
    {(None, "n"): "2", ("urn:fir", "k"): "x<y"}, {(None, "n"): "n", ("urn:fir", "k"): "f:k"}))
g.characters("a & b < c")
g.ignorableWhitespace("  ")
g.startElementNS((None, "empty"), "empty", xml.sax.xmlreader.AttributesNSImpl({}, {}))
g.endElementNS((None, "empty"), "empty")
g.processingInstruction("go", "now")
g.endElementNS(("urn:fir", "bank"), "f:bank")
g.endPrefixMapping("f")
g.endDocument()
print(out.getvalue())
print(xml.sax.saxutils.escape("a<b>&c", {'"': "&quot;"}), xml.sax.saxutils.unescape("&lt;&amp;&gt;&#38;"),
      xml.sax.saxutils.quoteattr('he said "hi" & \'bye\'\n'))

obj = {"taps": [0.25, 0.5, 0.25], "name": "lp", "n": 3, "nested": ({"a": (1, 2)}, {1, 2}), "b": b"\x00\x01"}
obj["self"] = [obj["taps"], obj["taps"]]
for proto in (0, 2, 4, 5):
    data = pickle.dumps(obj, protocol=proto)
    text = io.StringIO()
    pickletools.dis(data, out=text, annotate=20)
    lines = text.getvalue().splitlines()
    opt = pickletools.optimize(data)
    print(proto, len(data), len(opt), len(lines), lines[-1], pickle.loads(opt) == pickle.loads(data))
    print(sorted({op.name for op, arg, pos in pickletools.genops(data)}))
