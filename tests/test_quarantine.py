"""The quarantine: a rejected file is kept, reported once, reminded daily, examined again when
what judged it changed; a 2 GB file is refused after reading a little of it."""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import stat
from pathlib import Path

from onecsync import quarantine
from tests import factory as f
from tests.corpus import make

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
BAD = make.FILES / "unsupported-version.xml"  # a 1.21 message; we offer up to 1.17


def errors(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if "onecsync: error: " in ln]


def entries(box) -> list[Path]:
    folder = box.state_path.parent / "quarantine"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def rejected_once(box, bad: Path = BAD) -> Path:
    box.put("accounting", FIRST)
    assert box.run("pull-catalogs")[0] == 0
    path = box.put_raw("accounting", bad)
    code, _, err = box.run("pull-catalogs")
    assert code == 5, err
    assert len(entries(box)) == 1
    return path


def age(entry: Path, hours: float) -> None:
    data = json.loads(entry.read_text(encoding="utf-8"))
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    data["reported_at"] = when.replace(microsecond=0).isoformat()
    entry.write_text(json.dumps(data), encoding="utf-8")


def test_a_stuck_exchange_is_reminded_once_a_day(sandbox):
    path = rejected_once(sandbox)
    (entry,) = entries(sandbox)
    age(entry, 23)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0 and not errors(err), err
    age(entry, 25)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    (line,) = errors(err)
    assert path.name in line and "still rejected since" in line
    assert "version 1.21 is not one we offer" in line and str(entry) in line
    # Reminded: quiet again until tomorrow.
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0 and not errors(err), err


def test_the_same_bytes_touched_again_are_still_skipped(sandbox):
    path = rejected_once(sandbox)
    sandbox.put_raw("accounting", path.read_bytes())  # rewritten: new mtime, same content
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["rejected_before"]
    assert len(entries(sandbox)) == 1


def test_a_new_file_with_the_same_problem_is_reported(sandbox):
    rejected_once(sandbox)
    sandbox.put_raw("accounting", BAD.read_bytes().replace(b"2026-11-20T09:15:00",
                                                           b"2026-11-21T09:05:00"))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5 and len(errors(err)) == 1, err
    assert len(entries(sandbox)) == 2


def test_a_config_change_examines_the_file_again(sandbox):
    rejected_once(sandbox)
    text = sandbox.config.read_text(encoding="utf-8")
    sandbox.config.write_text(text.replace(
        "node:\n", 'node:\n  formats: ["1.8", "1.17", "1.21"]\n'), encoding="utf-8")
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["message_no"] == 2
    assert sandbox.numbers("accounting")[1] == 2


def test_forgetting_a_rejection_examines_the_file_again(sandbox):
    rejected_once(sandbox)
    entries(sandbox)[0].unlink()
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5 and len(errors(err)) == 1, err


def test_dry_run_keeps_nothing(sandbox):
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    sandbox.put_raw("accounting", BAD)
    code, _, err = sandbox.run("--dry-run", "pull-catalogs")
    assert code == 5 and len(errors(err)) == 1, err
    assert not (sandbox.state_path.parent / "quarantine").exists()


def test_a_quarantine_on_a_full_disk_still_rejects_and_reports_again(sandbox, monkeypatch):
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    before = sandbox.dump()
    path = sandbox.put_raw("accounting", BAD)

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", no_space)
    code, _, err = sandbox.run("pull-catalogs")
    monkeypatch.undo()
    assert code == 5, err
    (line,) = errors(err)
    assert path.name in line and "version 1.21" in line
    assert "could not keep a copy" in err and "No space left on device" in err
    assert entries(sandbox) == [] and sandbox.dump() == before
    assert not list((sandbox.state_path.parent / "quarantine").glob(".onecsync-tmp-*"))
    # Not remembered, so not muted: the next run reports it (and now keeps it).
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5 and len(entries(sandbox)) == 1


def test_only_the_newest_entries_are_kept(sandbox, monkeypatch):
    monkeypatch.setattr(quarantine, "MAX_ENTRIES", 2)
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    for minute in range(4):
        sandbox.put_raw("accounting", BAD.read_bytes().replace(
            b"2026-11-20T09:15:00", f"2026-11-21T09:0{minute}:01".encode()))
        assert sandbox.run("pull-catalogs")[0] == 5
    kept = entries(sandbox)
    assert len(kept) == 2
    assert len(list(kept[0].parent.iterdir())) == 4  # each .json with its copy
    current = hashlib.sha256(sandbox.incoming("accounting").read_bytes()).hexdigest()
    assert current in {json.loads(p.read_text())["sha256"] for p in kept}


def test_files_are_private_whatever_the_umask(sandbox):
    old = os.umask(0)
    try:
        rejected_once(sandbox)
    finally:
        os.umask(old)
    folder = sandbox.state_path.parent / "quarantine"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


def test_a_rejected_base_does_not_stop_the_other(sandbox):
    sandbox.put("accounting", FIRST)
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.counterparty(f.ref(5), "ООО Из CRM")]))
    sandbox.put_raw("accounting", BAD)
    code, report, err = sandbox.run("run")
    assert code == 5, err
    assert report["peers"]["crm"]["received"]["message_no"] == 1
    assert sandbox.numbers("crm")[1] == 1 and sandbox.numbers("accounting")[1] == 0


def test_a_reminder_dated_in_the_future_is_due_not_silenced(sandbox):
    """review5 F-minor-2: `reported_at` ahead of the clock (a clock stepped back, a state copied
    from a host whose clock ran ahead) must not keep a stuck exchange quiet until then."""
    path = rejected_once(sandbox)
    (entry,) = entries(sandbox)
    age(entry, -24 * 30)  # a month ahead
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    (line,) = errors(err)
    assert path.name in line and "still rejected since" in line
    code, _, err = sandbox.run("pull-catalogs")  # reminded now: quiet until tomorrow
    assert code == 0 and not errors(err), err


def test_a_reminder_time_without_its_zone_is_taken_as_utc(sandbox):
    rejected_once(sandbox)
    (entry,) = entries(sandbox)
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["reported_at"] = "2001-01-01T00:00:00"  # edited by hand, no zone: long past
    entry.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    assert "still rejected since" in errors(err)[0]
