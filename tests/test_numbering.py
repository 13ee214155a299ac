"""The numbering decisions of DESIGN.md §2 as a table."""

from __future__ import annotations

import pytest

from onecsync.errors import NumberingConflict
from onecsync.protocol.numbering import Decision
from onecsync.protocol.numbering import Numbers
from onecsync.protocol.numbering import decide
from onecsync.protocol.numbering import negotiate


@pytest.mark.parametrize("numbers, message_no, received_no, expected", [
    (Numbers(0, 0, 0), 1, 0, Decision.APPLY),
    (Numbers(3, 5, 2), 6, 3, Decision.APPLY),
    (Numbers(3, 5, 2), 9, 3, Decision.APPLY),       # no gap check, as 1C
    (Numbers(3, 5, 2), 5, 3, Decision.DUPLICATE),
    (Numbers(3, 5, 2), 4, 99, Decision.DUPLICATE),  # a duplicate's ReceivedNo is ignored
    (Numbers(3, 5, 2), 0, 99, Decision.APPLY_UNNUMBERED),
    (Numbers(3, 5, 2), None, None, Decision.APPLY_UNNUMBERED),
    (Numbers(3, 5, 2), -1, 0, Decision.APPLY_UNNUMBERED),
    (Numbers(3, 5, 2), 6, None, Decision.APPLY),
])
def test_decisions(numbers, message_no, received_no, expected):
    assert decide(numbers, message_no, received_no) is expected


def test_received_no_beyond_sent_no_is_a_conflict():
    with pytest.raises(NumberingConflict, match="confirms our message 4"):
        decide(Numbers(3, 5, 2), 6, 4, peer="accounting")


@pytest.mark.parametrize("ours, theirs, expected", [
    (("1.8", "1.10", "1.17"), None, "1.8"),
    (("1.8", "1.10", "1.17"), ("1.3", "1.8", "1.10", "1.16"), "1.10"),
    (("1.8", "1.10", "1.17"), ("1.17", "1.21"), "1.17"),
    (("1.8", "1.10"), ("1.5",), "1.8"),
])
def test_negotiation(ours, theirs, expected):
    assert negotiate(ours, theirs) == expected


def test_no_remedy_suggests_a_number_whose_next_sqlite_cannot_hold():
    from onecsync.protocol.numbering import LAST_SETTABLE
    from onecsync.protocol.numbering import next_number

    with pytest.raises(NumberingConflict) as caught:
        decide(Numbers(3, 5, 2), 6, LAST_SETTABLE, peer="crm")
    assert "--sent 9223372036854775806`" in caught.value.line()
    with pytest.raises(NumberingConflict, match="past the last number") as caught:
        decide(Numbers(3, 5, 2), 6, LAST_SETTABLE + 1, peer="crm")
    assert "--sent 0 --received 0" in caught.value.line()
    assert next_number(LAST_SETTABLE) == 2**63 - 1
    with pytest.raises(NumberingConflict, match="used up"):
        next_number(2**63 - 1, "crm")
