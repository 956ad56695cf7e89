# probe-modules: urllib.parse ipaddress
# URL parsing and IP address arithmetic.
import ipaddress
from urllib import parse

u = parse.urlsplit("https://user:pw@example.com:8080/a/b;p?q=1&r=x%20y#frag")
print(u, u.port, u.hostname, parse.urlunsplit(u))
print(parse.parse_qs("a=1&a=2&b=%C3%A9"), parse.urlencode({"k": "v w", "n": [1, 2]}, doseq=True))
print(parse.quote("a b/é"), parse.unquote("%E2%82%AC"), parse.urljoin("http://a/b/c/d", "../e"))
net = ipaddress.ip_network("192.168.0.0/28")
print(list(net.hosts())[:3], net.num_addresses, net.supernet(), list(net.subnets(new_prefix=30)))
a = ipaddress.ip_address("2001:db8::1")
print(a.exploded, a.compressed, a.is_private, ipaddress.ip_address("10.0.0.1") + 5)
print(list(ipaddress.summarize_address_range(ipaddress.IPv4Address("10.0.0.0"), ipaddress.IPv4Address("10.0.0.9"))))
print(ipaddress.ip_interface("10.1.2.3/24").network, ipaddress.collapse_addresses(
    [ipaddress.ip_network("10.0.0.0/25"), ipaddress.ip_network("10.0.0.128/25")]).__next__())
