"""A run whose journal record cannot be written as it ends (the state's disk full at that
moment, review R6 L1) ended with its line, exit 4: `status` says so, not "died: ended without a
word (killed with SIGKILL…)". Its lock file is what tells the two apart: a run that ends leaves
its journal row and end there, one that is killed leaves its holder's text (a real SIGKILL:
tests/test_killed.py, still "died")."""

from __future__ import annotations

import sqlite3

from onecsync.state import journal
from tests import factory as f


def test_a_run_that_could_not_be_recorded_shows_as_ended_not_died(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    end = journal.Journal.end

    def full(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal.Journal, "end", full)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 4, err
    monkeypatch.setattr(journal.Journal, "end", end)  # space freed
    [before] = sandbox.run("status")[1]["runs"]  # from what the run left in its lock file
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    code, report, err = sandbox.run("status")
    first = report["runs"][-1]  # now in its journal row, which the next run closed
    assert first == before, (first, before)
    assert first["state"] == "ended" and first["exit_code"] is None, first
    assert first["error"] == journal.UNRECORDED and first["ended_at"] >= first["started_at"]
    assert report["runs"][0]["exit_code"] == 0

