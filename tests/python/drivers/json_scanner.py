# probe-modules: json.decoder json.scanner
# The pure-Python JSON decoder: a JSONDecoder whose scan_once is
# json.scanner.py_make_scanner(decoder) and whose parse_string is
# json.decoder.py_scanstring, on nested documents (objects, arrays,
# escapes, surrogate pairs, numbers of every form, constants), hooks
# (object_hook, object_pairs_hook, parse_float/int/constant), strict=False,
# raw_decode with trailing data, and malformed documents (JSONDecodeError
# with its position). No lone surrogates: the reference cannot write them
# (instr_reference.py's JSON writer raises UnicodeEncodeError).
import decimal
import json
import json.decoder as jd
import json.scanner as js


def make(**kw):
    dec = json.JSONDecoder(**kw)
    dec.parse_string = jd.py_scanstring
    dec.parse_object = jd.JSONObject
    dec.parse_array = jd.JSONArray
    dec.scan_once = js.py_make_scanner(dec)
    return dec


plain = make()
DOCS = [
    '{"a": 1, "b": [1, 2.5, -3e2, 0.0, 1E-2, -0], "c": {"d": null, "e": true, "f": false}}',
    '[[], {}, [[]], [{}], {"x": []}, "", " ", "\\"quoted\\""]',
    '"esc: \\n \\t \\\\ \\/ \\b \\f \\r \\u00e9 \\ud83d\\ude00 \\u20ac"',
    '  {  "spaced"  :  [ 1 ,  2 ,\n 3 ]  ,  "k" : "v"  }  ',
    '[NaN, Infinity, -Infinity, 12345678901234567890, -0.5e+10]',
    '{"dup": 1, "dup": 2, "nested": {"deep": {"deeper": {"deepest": [1, [2, [3, [4]]]]}}}}',
    '"unicode: \u00fc\u4e2d and pair \\uD834\\uDD1E and \\u0000"',
    '123', '-1.5', 'true', 'null', '"s"', '[1,2,3]',
]
for doc in DOCS:
    print(repr(plain.decode(doc)))

pairs = make(object_pairs_hook=list)
print(pairs.decode('{"z": 1, "a": {"y": 2, "b": 3}, "m": []}'))
hooked = make(object_hook=lambda d: sorted(d.items()), parse_float=decimal.Decimal,
              parse_int=lambda s: int(s) * 10, parse_constant=lambda c: "const:" + c)
print(hooked.decode('{"p": 1.10, "q": [2, NaN], "r": {"s": -Infinity, "t": 3}}'))
lax = make(strict=False)
print(repr(lax.decode('"tab\there and newline\nthere"')))
print(plain.raw_decode('{"a": [1, 2]} trailing'), plain.raw_decode('[1]   [2]', 0))
print(repr(jd.py_scanstring('"abc\\u0041def" rest', 1)), repr(jd.py_scanstring('"x\\"y"', 1, False)))

BAD = [
    '', '   ', '{', '[', '{"a"', '{"a":', '{"a": 1', '{"a": 1,', '{"a": 1,}', '[1,]', '[1 2]',
    '{1: 2}', '{"a" 1}', '"unterminated', '"bad \\x escape"', '"bad \\u12g4"', '"ctrl \x01 char"',
    'tru', 'nul', '01', '1.', '-', '[1] x', '{"a": [1, {"b": ]}}', '"\\ud800\\u12"', '[-]',
]
for doc in BAD:
    try:
        print(repr(doc), plain.decode(doc))
    except json.JSONDecodeError as e:
        print(repr(doc), e.msg, e.pos, e.lineno, e.colno)
    except ValueError as e:
        print(repr(doc), "ValueError", e)
try:
    plain.raw_decode('[1, 2', 0)
except json.JSONDecodeError as e:
    print(e)
# A long but shallow document: the memo of object keys is shared.
big = "[" + ",".join('{"key%d": %d, "same": "v%d"}' % (i % 3, i, i % 2) for i in range(12)) + "]"
print(plain.decode(big)[-2:])
