# probe-modules: csv email.utils email._parseaddr
# CSV dictionaries and sniffing; email address and date parsing.
import csv
import email.utils
import io

text = "name,qty,price\nwidget,3,2.50\n\"gadget, deluxe\",1,10\n"
rows = list(csv.DictReader(io.StringIO(text)))
print(rows)
out = io.StringIO()
w = csv.DictWriter(out, fieldnames=["name", "qty"], extrasaction="ignore")
w.writeheader()
w.writerows(rows)
print(out.getvalue())
print(csv.Sniffer().sniff("a;b;c\n1;2;3\n").delimiter, csv.Sniffer().has_header(text))
print(email.utils.parseaddr("Jane Doe <jane@example.com>"), email.utils.formataddr(("Émile", "e@x.org")))
print(email.utils.getaddresses(["a@b.c, \"Q, R\" <q@r.s>", "t@u.v"]))
print(email.utils.parsedate_tz("Tue, 5 Mar 2024 10:20:30 +0100"), email.utils.quote('a"b\\c'))
print(email.utils.format_datetime(email.utils.parsedate_to_datetime("Wed, 01 Jan 2020 00:00:00 -0000")))
