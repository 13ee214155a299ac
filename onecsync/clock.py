"""The one clock onecsync reads "now" from, so that a test freezes time in one place.

Public API: `utc_now()` (an aware datetime in UTC), `local_now()` (aware, in the host's zone),
`today()` (the host's date), `monotonic()` (seconds for durations), `frozen(at)`.

Every timestamp onecsync writes or judges by (the state's, the journal's, a message's
CreationDate, the lock's "started", the ages `status` shows) comes from `utc_now`. Deadlines
and durations use `monotonic`, which a frozen clock leaves running: a frozen test must still
time out. The ages of files on disk are judged against their own mtimes, by `time.time`.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from typing import Iterator

_frozen: datetime.datetime | None = None


def utc_now() -> datetime.datetime:
    return _frozen if _frozen is not None else datetime.datetime.now(datetime.timezone.utc)


def local_now() -> datetime.datetime:
    return utc_now().astimezone()


def today() -> datetime.date:
    return local_now().date()


def monotonic() -> float:
    return time.monotonic()


@contextlib.contextmanager
def frozen(at: datetime.datetime) -> Iterator[None]:
    """Every `utc_now()` inside says `at` (an aware datetime)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("a frozen clock needs an aware datetime")
    saved, _frozen = _frozen, at.astimezone(datetime.timezone.utc)
    try:
        yield
    finally:
        _frozen = saved
