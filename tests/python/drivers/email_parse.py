# probe-modules: email.feedparser email._header_value_parser email.header email.quoprimime email.base64mime quopri
# Parsing MIME messages (multipart, encoded words, quoted-printable and
# base64 bodies) with the modern policy's header parser, and folding.
import email
import email.header
import email.policy
import io
import quopri

RAW = (
    "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\n"
    "To: \"Team, DSP\" <dsp@example.org>, ops@example.net\n"
    "Subject: =?utf-8?b?RklSIGZpbHRlciDDvGJlcnNpY2h0?= and a very long subject line that"
    " has to be folded when it is written out again by the generator\n"
    "Date: Tue, 5 Mar 2024 10:20:30 +0100\n"
    "Message-ID: <abc.123@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"XYZ\"\n"
    "\n"
    "preamble\n"
    "--XYZ\n"
    "Content-Type: text/plain; charset=\"utf-8\"\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=C3=BC=C3=9Fe, the taps are =3D 64 and the gain is 0.5=\n"
    " dB.\n"
    "--XYZ\n"
    "Content-Type: application/octet-stream; name=\"taps.bin\"\n"
    "Content-Disposition: attachment; filename=\"taps.bin\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    "--XYZ--\n"
    "epilogue\n"
)

msg = email.message_from_string(RAW, policy=email.policy.default)
print(msg["subject"])
print([(a.display_name, a.addr_spec) for a in msg["to"].addresses])
print(msg["from"].addresses[0].display_name, msg["date"].datetime.isoformat())
for part in msg.walk():
    print(part.get_content_type(), part.get_filename(), part.get_content_charset())
body = msg.get_body(preferencelist=("plain",))
print(repr(body.get_content()))
att = next(msg.iter_attachments())
print(att.get_content()[:8])
print(msg.as_string(maxheaderlen=40).count("\n"))

legacy = email.message_from_string(RAW)
print(email.header.decode_header(legacy["subject"]))
h = email.header.Header("Grüße aus dem Labor, " * 3, charset="utf-8", header_name="Subject")
print(h.encode(maxlinelen=50))
print(str(email.header.make_header(email.header.decode_header("=?iso-8859-1?q?caf=E9?= ok"))))

data = "line with = sign and trailing space \nzweite Zeile: äöü\n".encode("utf-8")
enc = io.BytesIO()
quopri.encode(io.BytesIO(data), enc, quotetabs=True)
print(enc.getvalue())
dec = io.BytesIO()
quopri.decode(io.BytesIO(enc.getvalue()), dec)
print(dec.getvalue() == data)
print(email.quoprimime.body_encode("x" * 90 + " =\n", maxlinelen=40))
print(email.quoprimime.header_encode(b"caf\xe9 au lait", charset="iso-8859-1"))
print(email.base64mime.body_encode(bytes(range(60)), maxlinelen=30))
