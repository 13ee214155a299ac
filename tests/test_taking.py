"""The one decision of whether a base's message is taken (flows/lives.py `taking`), outcome by
outcome: what it says is taken, what the peer's row records when it is not, and the problem the
run reports (raised or not). The scenes that make each one, end to end, are in
test_restored_clock.py, test_restored_again.py, test_received_typed.py and test_e2e.py."""

from __future__ import annotations

import dataclasses
import io

import pytest

from onecsync.errors import NumberingConflict
from onecsync.flows import lives
from onecsync.protocol import numbering
from onecsync.protocol.dating import STALE_RUNS
from onecsync.protocol.dating import Verdict
from onecsync.protocol.envelope import Header
from onecsync.state import open_state
from onecsync.state.peers import FORCED
from onecsync.state.peers import SET
from onecsync.state.peers import PeerState
from onecsync.transport.base import Incoming
from tests import factory as f

T1, T2, T3 = "2026-11-20T10:00:00", "2026-11-20T11:00:00", "2026-11-20T12:00:00"
DAY_BEFORE = "2026-11-19T11:00:00"  # before T2 by more than a zone or DST explains
FILE = "Message_CRM_ACC.xml"
NOT_TAKEN_ALONE = {"in_fingerprint": "fp-new", "stale_since": None, "stale_runs": None}


@pytest.fixture
def state(tmp_path):
    s = open_state(tmp_path / "onecsync.sqlite")
    yield s
    s.close()


def took(state, *headers: tuple[int, str, int], restored_at: int | None = None) -> None:
    """The headers (MessageNo, CreationDate, ReceivedNo) we took from the CRM, in turn;
    `restored_at`: the one of them taken for a restore."""
    with state.atomic():
        for no, created, rn in headers:
            state.headers.take("crm", no, created, rn, no == restored_at)


def crm(**numbers):
    """The CRM's row: it sent us up to message 2 (dated T2), confirming our 1 of 3 sent."""
    return dataclasses.replace(PeerState(
        "crm", f.CRM, sent_no=3, received_no=2, confirmed_no=1, received_created=T2,
        received_high=2, in_fingerprint="fp-old"), **numbers)


def decide(state, peer, message_no: int, created: str, received_no: int):
    h = Header(format="http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.17", creation_date=created,
               message_no=message_no, received_no=received_no)
    numbers = numbering.Numbers(peer.sent_no, peer.received_no, peer.confirmed_no)
    decision = numbering.decide(numbers, message_no, received_no, peer="crm")
    incoming = Incoming(name=FILE, fingerprint="fp-new", open=lambda: io.BytesIO(b""))
    return lives.taking(state, "crm", peer, h, numbers, decision, incoming)


def test_a_next_message_is_taken_new_and_records_nothing_itself(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(), 3, T3, 1)
    assert (t.taken, t.record, t.problem) == (Verdict.NEW, {}, None)


def test_a_number_we_took_with_another_header_is_taken_restored(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(), 2, T3, 1)  # its 2 again, dated after the one we took
    assert (t.taken, t.record, t.problem) == (Verdict.RESTORED, {}, None)


def test_a_second_restore_before_the_base_imported_the_resend_is_held_recording_nothing(state):
    took(state, (1, T1, 0), (2, T2, 1))
    peer = crm(restored_at="2026-11-20T11:30:00", restored_sent=3, confirmed_no=3)
    t = decide(state, peer, 2, T3, 1)
    assert (t.taken, t.record, t.stops) == (None, {}, False)
    assert isinstance(t.problem, NumberingConflict)
    assert "restored from a backup again" in str(t.problem)
    # ... and once the base confirmed the message of the resend, the next restore is taken
    assert decide(state, dataclasses.replace(peer, confirmed_no=4), 2, T3, 1).taken \
        is Verdict.RESTORED


def test_a_file_delivered_again_is_skipped_recording_its_fingerprint_and_ending_a_stall(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(stale_runs=2, stale_since=T1), 2, T2, 1)
    assert (t.taken, t.record, t.problem) == (None, NOT_TAKEN_ALONE, None)


def test_a_file_of_a_life_a_restore_abandoned_is_skipped_stale(state, caplog):
    took(state, (1, T1, 0), (2, T2, 1), (1, T3, 1), restored_at=1)
    t = decide(state, crm(received_no=1, received_created=T3), 2, T2, 1)
    assert (t.taken, t.record, t.problem) == (None, NOT_TAKEN_ALONE, None)
    assert "a file of the life the restore abandoned" in caplog.text


def test_a_duplicate_under_a_typed_number_stops_this_base_recording_nothing(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(received_set=SET), 2, T2, 1)
    assert (t.taken, t.record, t.stops) == (None, {}, True)
    assert isinstance(t.problem, NumberingConflict) and "state set-numbers" in str(t.problem)


def test_the_duplicate_a_forced_typed_number_names_is_skipped_settling_the_numbers(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(received_set=FORCED, received_high=1), 2, T2, 1)
    assert (t.taken, t.problem) == (None, None)
    assert t.record == {"in_fingerprint": "fp-new", "received_set": None,
                        "received_created": T2, "received_high": 2}


def test_a_newer_number_dated_before_is_skipped_counting_the_runs_of_the_stall(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(), 3, DAY_BEFORE, 1)
    assert (t.taken, t.problem) == (None, None)
    assert t.record["stale_runs"] == 1 and t.record["stale_since"]
    assert set(t.record) == {"stale_since", "stale_runs"}  # read again next run: no fingerprint


def test_a_stall_past_its_bound_is_the_runs_problem_not_this_bases_stop(state):
    took(state, (1, T1, 0), (2, T2, 1))
    t = decide(state, crm(stale_runs=STALE_RUNS, stale_since=T1), 3, DAY_BEFORE, 1)
    assert (t.taken, t.stops) == (None, False)
    assert t.record == {"stale_since": T1, "stale_runs": STALE_RUNS + 1}
    assert isinstance(t.problem, NumberingConflict) and "clock of the 1C server" in str(t.problem)
