"""The state file: created private, upgraded by migrations, refused when newer than the code."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import zlib

import pytest

from onecsync.errors import StateError
from onecsync.state import open_state
from onecsync.state import payloads
from onecsync.state.migrations import known_migrations
from tests import factory as f


def test_a_new_state_file_is_private_and_fully_migrated(tmp_path):
    path = tmp_path / "sub" / "state.sqlite"
    state = open_state(path)
    state.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as c:
        applied = [r[0] for r in c.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert applied == known_migrations()
    assert {"peers", "inbox", "registrations", "runs"} <= tables


def test_a_new_state_has_16k_pages_and_an_old_one_keeps_its_own(tmp_path, monkeypatch):
    """Whole payload rows fit a 16 KiB page with less left over (issue 15: state per object);
    a state made with 4 KiB pages (before) is opened as it is, never rewritten."""
    import onecsync.state

    new, old = tmp_path / "new.sqlite", tmp_path / "old.sqlite"
    open_state(new).close()
    with monkeypatch.context() as m:
        m.setattr(onecsync.state, "PAGE_SIZE", 4096)
        open_state(old).close()
    open_state(old).close()
    sizes = {}
    for path in (new, old):
        with contextlib.closing(sqlite3.connect(path)) as c:
            sizes[path.name] = c.execute("PRAGMA page_size").fetchone()[0]
    assert onecsync.state.PAGE_SIZE == 16384
    assert sizes == {"new.sqlite": 16384, "old.sqlite": 4096}


def test_a_new_state_is_linked_in_then_its_folder_synced(tmp_path, monkeypatch):
    """A power cut after the first run must not lose the state's name: the folder is synced
    after the link (the file itself is on disk before: synchronous FULL)."""
    import os

    calls, real_fsync, real_link = [], os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "link", lambda a, b: (calls.append("link"), real_link(a, b))[1])
    path = tmp_path / "state" / "onecsync.sqlite"
    open_state(path).close()
    assert str(path.parent) in calls[calls.index("link") + 1:], calls


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "state.sqlite"
    open_state(path).close()
    open_state(path).close()
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == \
            len(known_migrations())


def test_a_state_file_from_a_newer_onecsync_is_refused(tmp_path):
    path = tmp_path / "state.sqlite"
    open_state(path).close()
    with sqlite3.connect(path) as c:
        c.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                  "VALUES ('onecsync', '0099_from_the_future', '2030-01-01')")
    with pytest.raises(StateError, match="newer onecsync"):
        open_state(path)


def test_a_newer_state_file_makes_the_cli_exit_3_without_touching_it(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    with sqlite3.connect(sandbox.state_path) as c:
        c.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                  "VALUES ('onecsync', '0099_from_the_future', '2030-01-01')")
    before = sandbox.state_path.read_bytes()
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3
    assert "newer onecsync" in err and "upgrade onecsync" in err
    assert sandbox.state_path.read_bytes() == before


def test_a_state_file_of_another_base_is_refused(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    other = "99999999-8888-4777-8666-555555555555"
    sandbox.config.write_text(sandbox.config.read_text().replace(f.CRM, other))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3
    assert f"belongs to a crm base with code {f.CRM}" in err


def test_a_corrupt_state_file_is_a_clear_error(sandbox):
    sandbox.state_path.parent.mkdir()
    sandbox.state_path.write_bytes(b"this is not sqlite" * 100)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3
    assert "cannot be used" in err and "Traceback" not in err


def test_the_run_journal_records_each_run(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    sandbox.put("accounting", b"<broken/>")
    sandbox.run("pull-catalogs")
    with sandbox.db() as c:
        rows = c.execute("SELECT command, exit_code, ended_at IS NOT NULL, error FROM runs "
                         "ORDER BY id").fetchall()
    assert [r[:3] for r in rows] == [("pull-catalogs", 0, 1), ("pull-catalogs", 5, 1)]
    assert "the root element is 'broken'" in rows[1][3]


BOMB = zlib.compress(b"<a>" + b" " * (payloads.LIMIT + 1) + b"</a>", 9)


@pytest.mark.parametrize("damage, says", [
    (zlib.compress(b"<not xml"), "is not the object that was received (its digest differs)"),
    (zlib.compress(b"<a/><b/>"), "is not the object that was received (its digest differs)"),
    (payloads.pack(b"<not xml"), "is not the object that was received (its digest differs)"),
    ("abc", "a payload in the state is damaged (a str where compressed bytes belong)"),
    (7, "a payload in the state is damaged (a int where compressed bytes belong)"),
    (b"\x78\x9c" + b"\x00" * 30, "a payload in the state is damaged"),
    (payloads.pack(b"<a>" + b" " * 5000 + b"</a>")[:-6], "a payload in the state is damaged "
                                                        "(decompression error"),
    (b"\x82" + b"\x00" * 30, "a payload in the state is damaged (neither a zlib stream nor a zstd "
                             "frame)"),
    (BOMB, f"a payload in the state is damaged (it unpacks to more than "
           f"{payloads.LIMIT >> 20} MiB)"),
], ids=["not-xml", "two-elements", "zstd-not-xml", "text", "integer", "truncated", "zstd-truncated",
        "zstd-garbage", "bomb"])
def test_a_damaged_payload_in_the_state_is_exit_3_restore_from_backup(sandbox, damage, says):
    """Whatever a stored payload became (edited, a disk's bit rot, another program's value), a
    run that reads it says so in one line with the remedy and commits nothing of that run."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    with contextlib.closing(sqlite3.connect(sandbox.state_path)) as c, c:
        c.execute("UPDATE inbox_payloads SET xml = ?", (damage,))
    assert sandbox.run("state", "resend", "crm", "--yes")[0] == 0
    before = sandbox.dump()
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in err, err
    assert "(restore the state file from a backup)" in lines[0]
    assert sandbox.dump() == before


@pytest.mark.parametrize("xml, says", [(b"<not xml", "is not XML any more"),
                                       (b"<a/><b/>", "is not one element any more"),
                                       (b"", "is not one element any more")])
def test_a_stored_object_that_routing_cannot_parse_is_a_state_error(xml, says):
    from onecsync.protocol.objects import convert
    from onecsync.protocol.objects import parse_object

    with pytest.raises(StateError, match=says) as exc:
        parse_object(xml, "1.8")
    assert exc.value.remedy == "restore the state file from a backup"
    with pytest.raises(StateError, match=says):
        convert(xml, "1.8", "1.17", check=True)
