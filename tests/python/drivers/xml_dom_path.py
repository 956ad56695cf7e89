# probe-modules: xml.dom.minidom xml.etree.ElementPath
# xml.dom.minidom: parseString of a document with namespaces, attributes,
# comments, CDATA, processing instructions and entities; walking, editing
# (createElement, setAttribute, insertBefore, removeChild, cloneNode,
# normalize), getElementsByTagName(NS), toxml/toprettyxml; and
# xml.etree.ElementPath: find/findall/findtext/iterfind with every kind of
# predicate ([@a], [@a='v'], [tag], [tag='text'], [n], [last()], ..,
# //, *, {ns}, namespaces= and the default namespace).
import xml.dom.minidom as minidom
import xml.etree.ElementPath as ElementPath
import xml.etree.ElementTree as ET

DOC = """<?xml version="1.0"?>
<?xml-stylesheet href="s.css"?>
<!-- top comment -->
<library xmlns="urn:lib" xmlns:x="urn:extra" name="city">
  <shelf id="a" x:kind="novel">
    <book year="1999" lang="en"><title>First &amp; Last</title><price>12.50</price></book>
    <book year="2005"><title>Second</title><price>8</price><x:note>rare</x:note></book>
  </shelf>
  <shelf id="b">
    <book year="2010" lang="fr"><title>Troisi&#232;me</title><![CDATA[<raw> & stuff]]></book>
    <!-- inner -->
  </shelf>
</library>"""

dom = minidom.parseString(DOC)
root = dom.documentElement
print(root.tagName, root.namespaceURI, root.getAttribute("name"), root.hasAttribute("nope"))
for book in dom.getElementsByTagName("book"):
    title = book.getElementsByTagName("title")[0]
    print(book.getAttribute("year"), repr(book.getAttribute("lang")), title.firstChild.data,
          [n.nodeType for n in book.childNodes])
print([n.localName for n in dom.getElementsByTagNameNS("urn:extra", "*")])
shelf = dom.getElementsByTagName("shelf")[0]
print(shelf.getAttributeNS("urn:extra", "kind"), sorted(shelf.attributes.keys()),
      shelf.attributes.item(0).name, shelf.attributes.length)
print([c.nodeName for c in dom.childNodes], dom.firstChild.target, dom.firstChild.data)

# Editing.
new = dom.createElement("book")
new.setAttribute("year", "2020")
t = dom.createElement("title")
t.appendChild(dom.createTextNode("New"))
t.appendChild(dom.createTextNode(" one"))
new.appendChild(t)
new.appendChild(dom.createComment("added"))
shelf.insertBefore(new, shelf.firstChild)
copy = new.cloneNode(deep=True)
copy.setAttribute("year", "2021")
copy.removeAttribute("year")
copy.setAttributeNS("urn:extra", "x:flag", "1")
shelf.appendChild(copy)
t.normalize()
print(len(t.childNodes), t.firstChild.data, t.firstChild.length)
second = dom.getElementsByTagName("shelf")[1]
removed = second.removeChild(second.getElementsByTagName("book")[0])
print(removed.tagName, removed.parentNode, len(second.childNodes))
second.replaceChild(dom.createElement("empty"), second.childNodes[1])
frag = dom.createDocumentFragment()
for i in range(2):
    e = dom.createElement("item")
    e.setAttribute("n", str(i))
    frag.appendChild(e)
second.appendChild(frag)
print(shelf.toxml()[:120])
pretty = dom.toprettyxml(indent=" ", newl="\n")
print(len(pretty.splitlines()), pretty.splitlines()[:4])
print(second.toprettyxml(indent="\t"))
print(dom.toxml(encoding="utf-8")[:60], copy.isSameNode(copy), new.isEqualNode(new) if hasattr(new, "isEqualNode") else None)
try:
    minidom.parseString("<a><b></a>")
except Exception as e:
    print(type(e).__name__, e)
d2 = minidom.getDOMImplementation().createDocument(None, "root", None)
d2.documentElement.appendChild(d2.createElement("x")).setAttribute("q", 'a"<&>b')
print(d2.toxml())
dom.unlink()

# ElementPath, via ElementTree's Element methods and directly.
ElementPath._cache.clear()
tree = ET.fromstring(DOC)
ns = {"l": "urn:lib", "x": "urn:extra"}
queries = [
    "l:shelf", "l:shelf/l:book", ".//l:book[@lang]", ".//l:book[@year='2005']", ".//l:book[@year!='2005']",
    "l:shelf[@id='b']/l:book/l:title", ".//l:book[l:price]", ".//l:book[l:price='8']",
    ".//l:book[l:price!='8']", "l:shelf/l:book[1]", "l:shelf/l:book[last()]", "l:shelf/l:book[last()-1]",
    ".//l:title/..", "*/*", ".//x:note", ".//{urn:lib}price", ".//{*}note", ".//*[@x:kind]",
    "l:shelf/*[2]", ".//l:book[.='Second']", ".//l:title[.='Second']", ".", "./l:shelf[@id]",
]
for q in queries:
    found = tree.findall(q, ns)
    print(q, [(e.tag.split("}")[1], sorted(e.attrib.items())) for e in found])
print(tree.findtext(".//l:title", namespaces=ns), tree.findtext("l:none", "dflt", ns),
      tree.find(".//l:price", ns).text)
print([e.text for e in ElementPath.iterfind(tree, ".//title", {"": "urn:lib"})])
print([e.text for e in tree.iterfind(".//l:price", namespaces=ns)])
for bad in ["l:shelf[", "/abs", ".//l:book[@year=2005]", "l:book[0]", "unknown:tag"]:
    try:
        print(bad, tree.findall(bad, ns))
    except Exception as e:  # the kind of error differs between versions
        print(bad, "error")
