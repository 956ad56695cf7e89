# probe-modules: pyparsing.core pyparsing.helpers dateutil.parser._parser dateutil.rrule dateutil.relativedelta
# pyparsing (class-heavy recursive descent, exceptions for control flow)
# and dateutil (a hand-written date parser, recurrence rules as generators).
import datetime
import pyparsing as pp
from dateutil import parser as dparser, rrule, relativedelta

integer = pp.Word(pp.nums).set_parse_action(lambda t: int(t[0]))
ident = pp.Word(pp.alphas + "_", pp.alphanums + "_")
expr = pp.infix_notation(integer | ident, [(pp.one_of("* /"), 2, pp.OpAssoc.LEFT), (pp.one_of("+ -"), 2, pp.OpAssoc.LEFT)])
for s in ("1 + 2 * 3", "(a + 4) * b - 7", "x"):
    print(expr.parse_string(s, parse_all=True).as_list())
kv = pp.Dict(pp.OneOrMore(pp.Group(ident + pp.Suppress("=") + (integer | pp.QuotedString('"')))))
r = kv.parse_string('alpha=1 beta="two" gamma=3')
print(r.as_dict(), r["beta"], list(r.keys()))
csv = pp.DelimitedList(pp.Word(pp.alphanums) | pp.quoted_string)
print(csv.parse_string('a, "b c", d1').as_list(), pp.common.number.parse_string("-1.5e3")[0])
try:
    expr.parse_string("1 + + 2", parse_all=True)
except pp.ParseException as e:
    print("error", e.line, e.col)
print([t[0] for t, s, e in ident.scan_string("foo 12 bar_9 7x")], pp.Literal("x").search_string("axbxc").as_list())
nested = pp.nested_expr()
print(nested.parse_string("(a (b c) (d (e)))").as_list(), pp.Word(pp.nums).transform_string("a1b22"))
for s in ("2024-03-05 14:30", "March 5, 2024 2:30pm", "5 Mar 2024", "Tue, 05 Mar 2024 14:30:00 +0100", "20240305T1430", "yesterday 10am"):
    try:
        print(dparser.parse(s, default=datetime.datetime(2024, 1, 1)))
    except (ValueError, OverflowError) as e:
        print("error", type(e).__name__)
print(dparser.parse("Today is 25 of September of 2003, exactly at 10:49:41", fuzzy_with_tokens=True))
print(dparser.isoparse("2024-03-05T14:30:00.5+02:00"), dparser.parse("10/11/12", dayfirst=True, yearfirst=False))
start = datetime.datetime(2024, 1, 31, 9)
print(list(rrule.rrule(rrule.MONTHLY, count=4, dtstart=start, bymonthday=-1)))
print(list(rrule.rrule(rrule.WEEKLY, count=3, byweekday=(rrule.MO, rrule.FR), dtstart=start)))
rs = rrule.rruleset()
rs.rrule(rrule.rrule(rrule.DAILY, count=6, dtstart=start))
rs.exdate(start + datetime.timedelta(days=2))
print(list(rs), rrule.rrulestr("FREQ=YEARLY;COUNT=3;BYMONTH=2;BYMONTHDAY=29", dtstart=start)[1])
rd = relativedelta.relativedelta(months=+1, weekday=relativedelta.FR(-1))
print(start + rd, relativedelta.relativedelta(datetime.date(2024, 3, 1), datetime.date(2020, 2, 29)), -rd, rd * 2)
