# probe-modules: calendar _strptime
# probe-optional: _pydatetime
# Calendars, strptime, and (3.12+) the pure-Python datetime.
import calendar
import datetime
import sys

print(calendar.monthrange(2024, 2), calendar.isleap(2100), calendar.leapdays(1900, 2024))
print(calendar.TextCalendar(firstweekday=6).formatmonth(2023, 7))
print(calendar.monthcalendar(2025, 1)[:2], calendar.weekday(2000, 1, 1), calendar.timegm((2020, 5, 17, 1, 2, 3)))
print(datetime.datetime.strptime("2023-07-04 12:34:56", "%Y-%m-%d %H:%M:%S"))
print(datetime.datetime.strptime("Tue 5 Mar 2024", "%a %d %b %Y").date(), datetime.date(2024, 3, 5).strftime("%j"))
if sys.version_info >= (3, 12):
    import _pydatetime as pd
    d = pd.datetime(2024, 2, 29, 23, 59, 30) + pd.timedelta(seconds=45)
    print(d, d.isoformat(), d.weekday(), pd.date.fromisoformat("2021-12-31").toordinal())
    print(pd.timedelta(days=1, hours=-3) * 3, pd.datetime(2020, 1, 1).replace(month=6) - pd.datetime(2019, 1, 1))
