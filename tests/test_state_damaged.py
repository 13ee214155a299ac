"""A state file damaged by hand, by a bad restore or by the disk: every value read back is
checked. The run journal (history) shows the rest and names the damaged row; a value the
exchange depends on (a message number, a peer's versions, reconcile's memo) is exit 3 naming the
table, the row and the remedy. Never exit 1, never a traceback."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onecsync.runs import RunReport
from onecsync.stored import BadValue
from tests import factory as f

ACCOUNTING_MESSAGE = f.FIXTURES / "accounting" / f"Message_{f.ACCOUNTING}_{f.NODE}.xml"
# The readers of the run journal (`state show` reads only the numbers).
READERS = [("status",), ("status", "--runs", "50"), ("state", "export")]


@pytest.fixture
def exchanged(sandbox):
    """A state after two runs: two journal rows, both peers met."""
    sandbox.put("accounting", ACCOUNTING_MESSAGE.read_bytes())
    sandbox.run("run")
    sandbox.run("run")
    return sandbox


def damage(sandbox, sql: str, *args) -> None:
    c = sqlite3.connect(sandbox.state_path)
    c.execute(sql, args)
    c.commit()
    c.close()


def read_everywhere(sandbox) -> list[tuple[int, str]]:
    """(exit code, stderr) of every reader, in text and in --json; none is exit 1."""
    out = []
    for args in READERS:
        code, _, err = sandbox.human(*args)
        jcode, report, jerr = sandbox.run(*args)
        assert code == jcode, (args, err, jerr)
        assert code != 1 and "Traceback" not in err + jerr, (args, err, jerr)
        assert report is not None, (args, jerr)
        out.append((code, err))
    return out


JOURNAL_DAMAGE = [
    "{not json",
    "[1, 2]",
    '"a string"',
    "null",
    '{"peers": [1]}',
    '{"peers": {"crm": {"sent": {"objects": "many"}}}}',
    '{"peers": {"crm": {"received": {"file": 5, "message_no": "z", "objects": 1}}}}',
    '{"errors": [1]}',
    '{"exit_code": "x", "routed": {"catalogs": {"registered": "q"}}}',
    '{"routed": {"retry": [1]}}',
    '{"a": 1, "a": 2}',
    "[" * 100_000,
    '{"exit_code": ' + "9" * 5000 + "}",
    '{"peers": {"crm": {"sent": {"objects": 1e400}}}}',
    "x" * (5 << 20),
]


@pytest.mark.parametrize("counts", JOURNAL_DAMAGE, ids=lambda c: c[:30])
def test_a_damaged_journal_row_is_left_out_and_named_exit_code_unchanged(exchanged, counts):
    damage(exchanged, "UPDATE runs SET counts = ? WHERE id = 1", counts)
    for code, err in read_everywhere(exchanged):
        assert code == 0, err
        assert "run journal row 1 is damaged: " in err, err
    _, report, _ = exchanged.run("status")
    assert [r["id"] for r in report["runs"]] == [2]  # the sound row is still shown
    _, export, _ = exchanged.run("state", "export")
    assert [r["id"] for r in export["runs"]] == [2]


@pytest.mark.parametrize("sql", [
    "UPDATE runs SET started_at = x'00' WHERE id = 1",  # TEXT columns make 5 into '5'
    "UPDATE runs SET exit_code = 99999999999999999999 WHERE id = 1",  # past 64 bits: a REAL
    "UPDATE runs SET exit_code = 'x' WHERE id = 1",
    "UPDATE runs SET command = x'00ff' WHERE id = 1",
    "UPDATE runs SET error = x'ff' WHERE id = 1",
])
def test_a_journal_column_of_the_wrong_kind_is_left_out_too(exchanged, sql):
    damage(exchanged, sql)
    for code, err in read_everywhere(exchanged):
        assert code == 0 and "run journal row 1 is damaged: " in err, err


@given(text=st.text(max_size=300))
def test_any_text_in_the_journal_is_never_exit_1(exchanged, text):
    damage(exchanged, "UPDATE runs SET counts = ? WHERE id = 1", text)
    for args in READERS:
        code, report, err = exchanged.run(*args)
        assert code == 0 and report is not None and "Traceback" not in err, err


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["peers", "crm", "sent", "received",
                                                       "routed", "errors", "drift", "objects",
                                                       "message_no", "file", "code", "by_type",
                                                       "retry", "command", "exit_code", "x"]),
                                      inner, max_size=5), max_leaves=20)


@given(value=JSON)
def test_any_json_in_a_report_is_read_or_refused_as_bad_value(value):
    """What status then shows of a report it read is of the kinds it formats."""
    try:
        report = RunReport.from_json(value)
    except BadValue:
        return
    for peer in report.peers.values():
        if peer.sent is not None:
            assert isinstance(peer.sent.objects, int) and not isinstance(peer.sent.objects, bool)
        if peer.received is not None:
            assert peer.received.file is None or isinstance(peer.received.file, str)
    json.dumps(report.to_json())


@pytest.mark.parametrize("column, value, words", [
    ("sent_no", "abc", "sent_no is 'abc'"),
    ("received_no", b"7", "received_no is b'7'"),
    ("confirmed_no", 1.5, "confirmed_no is 1.5"),
    ("versions", "{bad", "versions is not valid JSON"),
    ("versions", "5", "versions is 5"),
    ("versions", '["1.8", 7]', "versions[] is 7"),
    ("object_types", '[{"sending": true}]', "object_types[].name is None"),
    ("out_no", "x", "out_no is 'x'"),
    ("format_version", b"\xff", "format_version is b'\\xff'"),
])
def test_a_damaged_number_or_version_is_exit_3_naming_table_row_and_remedy(exchanged, column,
                                                                            value, words):
    damage(exchanged, f"UPDATE peers SET {column} = ? WHERE name = 'crm'", value)
    before = exchanged.dump()
    for args in (("status",), ("state", "show"), ("run",)):
        code, report, err = exchanged.run(*args)
        assert code == 3, (args, err)
        assert f"is damaged: table peers, row 'crm': {words}" in report["error"], report
        assert "restore the state file from backup" in report["error"]
        assert "Traceback" not in err
    assert exchanged.dump() == before  # the run stopped before it changed anything


def test_a_lock_file_that_names_no_one_readable_is_no_holder(exchanged):
    lock = exchanged.state_path.with_name("onecsync.sqlite.lock")
    for text in ("[1]", '{"started": 5}', "{" * 10_000):
        lock.write_text(text)
        for code, err in read_everywhere(exchanged):
            assert code == 0, err


@pytest.mark.parametrize("value", ["{bad", "[]", '{"amount x y": "3"}'])
def test_reconciles_memo_damaged_is_exit_3_naming_it(tmp_path, value):
    from onecsync.flows.reconcile_odata import SEEN_KEY
    from onecsync.flows.reconcile_odata import _first_seen
    from onecsync.state import open_state
    from onecsync.stored import Damaged

    state = open_state(tmp_path / "s.sqlite")
    try:
        with state.atomic():
            state.meta.set(SEEN_KEY, value)
        with pytest.raises(Damaged) as exc:
            _first_seen(state)
    finally:
        state.close()
    assert exc.value.exit_code == 3
    assert f"table meta, row {SEEN_KEY!r}: " in exc.value.line()


@pytest.mark.parametrize("sql, what", [
    ("UPDATE inbox SET type = x'ff'", "inbox"),
    ("UPDATE registrations SET parked = x'ff'", "parked objects"),
])
def test_export_leaves_a_damaged_row_out_and_names_its_table(exchanged, sql, what):
    damage(exchanged, "UPDATE registrations SET parked = 'no such type' WHERE id = 1")
    damage(exchanged, sql)
    code, report, err = exchanged.run("state", "export")
    assert code == 0 and f"state export: a row of {what} is damaged: " in err, err
    assert report["exists"] is True


@pytest.mark.parametrize("value", ["{bad", '{"a": 1}', "[1]", '["Документ.X", null]'])
def test_the_kept_declarations_damaged_are_exit_3_naming_them(tmp_path, value):
    """A damaged meta value of the types declared before (flows/declared.py, read whenever a
    message to the base is written) is exit 3 naming the row, never exit 1 (a bare json.loads was)."""
    from onecsync.flows.declared import KEPT_KEY
    from onecsync.flows.declared import kept_receiving
    from onecsync.state import open_state
    from onecsync.stored import Damaged

    state = open_state(tmp_path / "s.sqlite")
    key = KEPT_KEY.format(peer="accounting")
    try:
        with state.atomic():
            state.meta.set(key, value)
        with pytest.raises(Damaged) as exc:
            kept_receiving(state, "accounting")
    finally:
        state.close()
    assert exc.value.exit_code == 3
    assert f"table meta, row {key!r}: " in exc.value.line()
