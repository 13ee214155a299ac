"""The typed run report (onecsync/runs.py): `to_json` is the --json document, `from_json` reads
it back, and the run journal reads rows written by the previous version (dict reports)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from onecsync.runs import Received
from onecsync.runs import ReceivedKind
from onecsync.runs import RunReport
from onecsync.runs import Sent
from tests import factory as f

GOLDEN = Path(__file__).parent / "golden" / "json"
EXCHANGE_GOLDENS = ("pull-catalogs", "push-invoices", "pull-settlements", "run", "run-idle-drift",
                    "run-dry", "retry-all", "reconcile", "failure-rejected")


@pytest.mark.parametrize("name", EXCHANGE_GOLDENS)
def test_every_pinned_run_document_reads_back_to_itself(name):
    document = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    report = RunReport.from_json(document)
    assert json.dumps(report.to_json(), ensure_ascii=False) == \
        json.dumps(document, ensure_ascii=False)


@pytest.mark.parametrize("received", [
    {"file": None},
    {"file": "M.xml", "unchanged": True, "duplicate": True},
    {"file": "M.xml", "rejected_before": "2026-12-01T09:00:00+00:00", "reason": "bad",
     "quarantine": "/q/M.json"},
    {"file": "M.xml", "message_no": 3, "received_no": 1, "incomplete": True,
     "since": "2026-12-01T09:00:00+00:00", "why": "it ends in NUL bytes", "reason": "cut",
     "settle_minutes": 10.0},
    {"file": "M.xml", "incomplete": True, "since": "s", "why": "w", "reason": "r",
     "settle_minutes": 10.0},
    {"file": "M.xml", "message_no": 2, "received_no": 1, "settings_only": True},
    {"file": "M.xml", "message_no": 2, "received_no": 1, "duplicate": True},
    {"file": "M.xml", "message_no": 2, "received_no": 1, "restored": True, "resent": 4,
     "confirmed": 3, "objects": 5, "deletions": 1, "parked": 2, "duplicate": False,
     "skipped_unknown": {"Справочник.Новое": 2}},
    {"file": "M.xml", "message_no": None, "received_no": None, "objects": 1, "deletions": 0,
     "parked": 0, "duplicate": False},
    {"error": "accounting: no answer", "code": 4},
])
def test_every_shape_of_a_received_message_reads_back_to_itself(received):
    typed = Received.from_json(received)
    assert list(typed.to_json().items()) == list(received.items())
    assert Received.from_json(typed.to_json()) == typed


def test_the_kind_says_what_became_of_the_message():
    assert Received.from_json({"file": None}).kind is ReceivedKind.NONE
    assert Received.from_json({"error": "x", "code": 5}).kind is ReceivedKind.FAILED
    applied = Received.from_json({"file": "M.xml", "message_no": 2, "received_no": 1,
                                  "objects": 5, "deletions": 0, "parked": 1, "duplicate": False})
    assert applied.kind is ReceivedKind.APPLIED and applied.parked == 1
    assert (applied.message_no, applied.received_no) == (2, 1)


@pytest.mark.parametrize("sent", [
    {"message_no": None, "objects": 0, "pending": 3},
    {"skipped": "numbering conflict or setup problem"},
    {"error": "crm: cannot write", "code": 4},
    {"message_no": 4, "version": "1.17", "objects": 1, "by_type": {"Документ.Х": 1},
     "parked": 0, "file": "/x/Message_a_b.xml"},
    {"message_no": 4, "version": "1.17", "objects": 0, "by_type": {}, "parked": 0},
])
def test_every_shape_of_a_sent_message_reads_back_to_itself(sent):
    assert list(Sent.from_json(sent).to_json().items()) == list(sent.items())


def test_the_journal_reads_a_row_the_previous_version_wrote(sandbox):
    """A run journaled by the version before the typed reports (its report a plain dict, the
    drift cut down with drift_summary) and one from further back, with keys missing, are
    both shown by status as they were."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    old = {"command": "run", "exit_code": 9, "dry_run": False,
           "peers": {"accounting": {"received": {"file": "/x/M.xml", "message_no": 7,
                                                 "received_no": 6, "confirmed": 2,
                                                 "objects": 3, "deletions": 1, "parked": 0,
                                                 "duplicate": False},
                                    "sent": {"message_no": None, "objects": 0, "pending": 2}},
                     "crm": {"received": {"error": "crm: no answer", "code": 4},
                             "sent": {"skipped": "numbering conflict or setup problem"}}},
           "routed": {"pull-catalogs": {"registered": 3}, "healed": 1},
           "errors": [{"code": 4, "message": "crm: no answer"}],
           "drift": [{"kind": "parked", "peer": "accounting", "type": "Справочник.Валюты",
                      "ref": "~1", "detail": "parked", "healable": False}],
           "drift_summary": {"total": 1, "by_kind": {"parked": 1}}}
    older = {"command": "pull-catalogs", "exit_code": 0,
             "peers": {"accounting": {"received": {"file": "/x/M.xml", "message_no": 1,
                                                   "objects": 2}}}}
    with sqlite3.connect(sandbox.state_path) as c:
        for report in (older, old):
            c.execute("INSERT INTO runs (command, started_at, ended_at, exit_code, counts) "
                      "VALUES (?, '2026-11-30T09:00:00+00:00', '2026-11-30T09:00:01+00:00', ?, ?)",
                      (report["command"], report["exit_code"],
                       json.dumps(report, ensure_ascii=False)))
    c.close()
    assert RunReport.from_json(old).to_json() == old
    code, status, err = sandbox.run("status")
    assert code == 0, err
    newest, older_run = status["runs"][0], status["runs"][1]
    assert newest["exit_code"] == 9 and newest["peers"] == {
        "accounting": {"received": {"message_no": 7, "objects": 3, "deletions": 1, "parked": 0,
                                    "duplicate": False},
                       "sent": {"message_no": None, "objects": 0}},
        "crm": {"received": {"error": "crm: no answer"},
                "sent": {"skipped": "numbering conflict or setup problem"}}}
    assert older_run["command"] == "pull-catalogs"
    assert older_run["peers"]["accounting"]["received"]["message_no"] == 1
    assert older_run["peers"]["accounting"]["received"]["objects"] == 2
    code, out, err = sandbox.human("status")
    assert code == 0 and "run" in out, err
