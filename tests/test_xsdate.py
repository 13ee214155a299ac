"""xs:dateTime as an instant: exact, for any year, zone and the 24:00 midnight."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onecsync.protocol.xsdate import instant


@given(st.datetimes(timezones=st.just(datetime.timezone.utc)))
def test_what_python_reads_is_read_the_same(moment):
    text = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S")  # strftime: no padding
    expected = int(moment.replace(microsecond=0).timestamp())
    assert instant(text) == expected == instant(text + "Z") == instant(f" {text}+00:00 ")


@pytest.mark.parametrize("a, b", [
    ("2026-11-20T24:00:00", "2026-11-21T00:00:00"),
    ("2026-11-20T12:00:00+03:00", "2026-11-20T09:00:00Z"),
    ("2026-11-20T00:30:00-14:00", "2026-11-20T14:30:00"),
    ("2026-11-20T09:00:00.500", "2026-11-20T09:00:00.5"),
])
def test_the_same_moment_written_two_ways(a, b):
    assert instant(a) == instant(b) is not None


def test_years_past_9999_and_before_1_are_in_order():
    ordered = ["-0001-01-01T00:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59",
               "10000-01-01T00:00:00"]
    assert [instant(x) for x in ordered] == sorted(instant(x) for x in ordered)


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00", "2026-13-01T00:00:00",
                                  "2026-11-20T24:00:01", "2026-11-20T09:60:00",
                                  "2026-11-20T09:00:00+15:00", "2026-11-20 09:00:00", "", None,
                                  "2026-11-20T09:00", "2025-02-29T00:00:00"])
def test_what_is_no_xs_datetime_is_none(text):
    assert instant(text) is None
