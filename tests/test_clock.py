"""onecsync.clock is the one "now": freezing it freezes every timestamp onecsync writes (the
golden tests rely on that), and no module reads the wall clock past it."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from onecsync import clock
from onecsync.protocol.writer import utc_now_text
from onecsync.state.table import now_text

PACKAGE = Path(__file__).resolve().parents[1] / "onecsync"
AT = datetime.datetime(2026, 12, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)
_NOW = re.compile(r"(?<!clock)\.(?:now|today|utcnow)\(|\btime\.time\(\)")
# Where the wall clock is read directly, and why: the age of a file on disk is judged against
# the file system's own clock (its mtime), not against a frozen one.
ALLOWED = {"clock.py": 1, "transport/directory.py": 1}


def test_no_module_reads_now_past_the_clock():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        hits = len(_NOW.findall(path.read_text(encoding="utf-8")))
        if hits:
            found[str(path.relative_to(PACKAGE))] = hits
    assert found == ALLOWED


def test_a_frozen_clock_is_what_the_state_and_messages_say():
    with clock.frozen(AT):
        assert clock.utc_now() == AT
        assert now_text() == "2026-12-01T09:00:00+00:00"
        assert utc_now_text().startswith("2026-12-01T09:00:00")
        assert clock.local_now() == AT and clock.local_now().tzinfo is not None
        before = clock.monotonic()
        assert clock.monotonic() >= before  # deadlines keep running under a frozen clock
    assert clock.utc_now() != AT  # thawed when the block ends


def test_a_naive_time_cannot_freeze_the_clock():
    with pytest.raises(ValueError):
        with clock.frozen(AT.replace(tzinfo=None)):
            pass
