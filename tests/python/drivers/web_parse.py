# probe-modules: http.server http.cookiejar wsgiref.headers wsgiref.util
# HTTP requests parsed by http.server's handler from in-memory streams
# (good, malformed, too long, HTTP/0.9, keep-alive); cookie header words
# and dates parsed by http.cookiejar's helpers; WSGI headers and URLs.
import http.cookiejar as cj
import http.server
import io
import wsgiref.headers
import wsgiref.util


class Handler(http.server.BaseHTTPRequestHandler):
    # No socket: the request comes from rfile, the answer goes to wfile.
    def __init__(self, raw):
        self.rfile = io.BytesIO(raw)
        self.wfile = io.BytesIO()
        self.client_address = ("127.0.0.1", 4242)
        self.server = None
        self.request_version = self.default_request_version
        self.close_connection = True

    def log_message(self, format, *args):
        pass

    def date_time_string(self, timestamp=None):
        return "Tue, 05 Mar 2024 10:20:30 GMT"

    def version_string(self):
        return "probe-test/1.0"

    def do_GET(self):
        body = ("path=%s agent=%s" % (self.path, self.headers.get("User-Agent"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n)
        self.send_response(201, "Made")
        self.send_header("X-Len", str(len(data)))
        self.end_headers()


REQUESTS = [
    b"GET /fir?taps=64 HTTP/1.1\r\nHost: x\r\nUser-Agent: probe\r\nConnection: keep-alive\r\n\r\n",
    b"POST /upload HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /old\r\n",
    b"BREW /pot HTTP/1.1\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET / HTTP/1.x\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad header line\r\n\r\n",
    b"GET / HTTP/1.1\r\nExpect: 100-continue\r\nHost: y\r\n\r\n",
]
for raw in REQUESTS:
    h = Handler(raw)
    h.handle_one_request()
    print(h.wfile.getvalue()[:120], h.close_connection)

print(cj.split_header_words(['foo="bar"; port="80,81"; discard, bar=baz', 'a=b; c="d\\"e"; f']))
print(cj.join_header_words([[("foo", None), ("bar", "baz")], [("quoted", 'a "b" c')]]))
print(cj.parse_ns_headers(["foo=bar; path=/; Expires=Wed, 09 Jun 2021 10:18:14 GMT; secure; version=1",
                           "spam=eggs; max-age=100; domain=.example.com"]))
for text in ["Wed, 09 Jun 2021 10:18:14 GMT", "09-Jun-2021 10:18:14 GMT", "Wednesday, 09-Jun-21 10:18:14",
             "1994-02-03 14:15:29 -0100", "08-Feb-94", "garbage"]:
    print(cj.http2time(text), cj.iso2time(text))
print(cj.reach("www.acme.com"), cj.reach("acme.local"), cj.is_HDN("1.2.3.4"), cj.domain_match("x.a.com", ".a.com"))
print(cj.escape_path("/foo%2f/bar baz/ü"), cj.lwp_cookie_str(cj.Cookie(
    0, "n", "v", None, False, ".a.com", True, True, "/", False, True, None, False, "c", None, {"HttpOnly": None})))

h = wsgiref.headers.Headers([("Content-Type", "text/plain")])
h.add_header("Content-Disposition", "attachment", filename="taps.bin")
h.add_header("X-Flags", None, a=None, b="two words")
h.setdefault("Cache-Control", "no-cache")
h["X-Replace"] = "1"
h["X-Replace"] = "2"
del h["content-type"]
print(str(h), h.get_all("x-replace"), len(h), h.keys())
env = {"wsgi.url_scheme": "https", "HTTP_HOST": "ex.org:443", "SCRIPT_NAME": "/app", "PATH_INFO": "/a b/c",
       "QUERY_STRING": "x=1", "SERVER_NAME": "ex.org", "SERVER_PORT": "443"}
print(wsgiref.util.request_uri(env), wsgiref.util.application_uri(env), wsgiref.util.guess_scheme(env))
for k in range(3):
    print(wsgiref.util.shift_path_info(env), env["SCRIPT_NAME"], env["PATH_INFO"])
print(wsgiref.util.is_hop_by_hop("Keep-Alive"), wsgiref.util.is_hop_by_hop("X-Other"))
