"""An xs:dateTime as an instant: what CreationDate says, comparable whatever its year or zone.

Public API: `instant(text)`, `zoned(text)`.

`datetime.fromisoformat` cannot read years past 9999 or before 1, nor 24:00:00, which XML
Schema allows (and 1C's schema for CreationDate is plain xs:dateTime); dropping the zone, as
naive parsing does, puts two dates of the same moment hours apart. Here the text becomes exact
seconds since 1970-01-01T00:00:00Z (a Fraction): a zone is subtracted; a date without one is
taken as UTC, as 1C writes its CreationDate (the current universal date).
"""

from __future__ import annotations

import re
from fractions import Fraction

_XS = re.compile(r"\s*(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?"
                 r"(Z|[+-]\d\d:\d\d)?\s*")
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar, for any year (H. Hinnant)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def instant(text: str | None) -> Fraction | None:
    """Seconds since the epoch (UTC) of an xs:dateTime, or None when it is not one."""
    m = _XS.fullmatch(text or "")
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not 1 <= month <= 12 or not 1 <= day <= (29 if month == 2 and _leap(year)
                                                  else _DAYS[month - 1]):
        return None
    fraction = Fraction(m.group(7) or "0")
    if hour == 24 and (minute or second or fraction):
        return None
    if hour > 24 or minute > 59 or second > 59:
        return None
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    zone = m.group(8)
    if zone and zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 14 or zm > 59 or (zh == 14 and zm):
            return None
        seconds -= (1 if zone[0] == "+" else -1) * (zh * 3600 + zm * 60)
    return seconds + fraction



def zoned(text: str | None) -> bool:
    """Does this xs:dateTime name its zone (`Z` or an offset)? One without is only taken as UTC."""
    m = _XS.fullmatch(text or "")
    return m is not None and m.group(8) is not None
