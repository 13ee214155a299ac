"""`check` and `status` while the base's message in its folder is one a run rejected (review R4
#2): every later run skips it with exit 0, so they must tell — the file, since when, why and the
remedy — and `check` fails (exit 5), for as long as that file is the base's current message."""

from __future__ import annotations

from tests import factory as f
from tests.test_quarantine import FIRST
from tests.test_quarantine import entries
from tests.test_quarantine import rejected_once


def test_check_and_status_tell_of_the_rejected_message_in_the_folder(sandbox):
    path = rejected_once(sandbox)
    assert sandbox.run("pull-catalogs")[0] == 0  # skipped, reported once: cron is silent
    code, report, err = sandbox.run("check")
    assert code == 5, err
    (problem,) = [p for p in report["problems"] if p["peer"] == "accounting"]
    assert problem["code"] == 5
    assert f"accounting: its message {path} is rejected (since " in problem["message"]
    assert str(entries(sandbox)[0]) in problem["message"]
    assert "have it exchange again" in problem["message"]
    assert sandbox.run("check", "--strict")[0] in (3, 5)  # 3 when a warning of the setup comes first
    code, report, _ = sandbox.run("status")
    rejected = report["peers"]["accounting"]["rejected"]
    assert rejected["file"] == str(path) and rejected["quarantine"] == str(entries(sandbox)[0])
    assert "1.21" in rejected["reason"] and rejected["since"]
    assert report["peers"]["crm"]["rejected"] is None
    code, out, _ = sandbox.human("status")
    assert "REJECTED" in out and "is rejected (since" in out


def test_once_the_base_writes_a_new_message_check_and_status_are_fine_again(sandbox):
    rejected_once(sandbox)
    sandbox.put("accounting", f.Msg(message_no=2, objects=FIRST.objects,
                                    created="2026-11-21T09:00:00"))
    code, report, err = sandbox.run("check")
    assert not [p for p in report["problems"] if p.get("code") == 5], err
    assert sandbox.run("status")[1]["peers"]["accounting"]["rejected"] is None
