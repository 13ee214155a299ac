"""A crash at any point of a send, followed by a normal run, converges: nothing lost, nothing
applied twice. The crash is a BaseException raised at the boundary, with the clean-up a real
crash would not get (the temporary file stays) switched off."""

from __future__ import annotations

import pytest

from onecsync.state.inbox import Inbox
from onecsync.state.outbox import Outbox
from onecsync.state.peers import Peers
from onecsync.transport import directory
from tests import factory as f
from tests.emulator.crashing import Crash

OBJECTS = [f.counterparty(f.ref(i), f"ООО Клиент {i}") for i in range(1, 6)]


def crash(*_a, **_k):
    raise Crash()


@pytest.fixture
def hard_crash(monkeypatch):
    """A crash leaves temporary files behind: switch off the clean-up of an orderly error."""
    monkeypatch.setattr(directory._TempFile, "discard", lambda self: None)
    return monkeypatch


def run_crashing(sandbox, *args):
    with pytest.raises(Crash):
        from onecsync.cli import main
        main(["--config", str(sandbox.config), "--json", *args])


def test_crash_after_writing_the_file_before_the_commit(sandbox, hard_crash):
    sandbox.put("accounting", f.Msg(objects=OBJECTS))
    hard_crash.setattr(Outbox, "stamp", crash)
    run_crashing(sandbox, "pull-catalogs")
    hard_crash.undo()
    # The state was not committed; the peer sees no message of ours yet.
    assert sandbox.numbers("crm") == (0, 0, 0)
    assert sandbox.outgoing_path("crm") is None
    assert list(sandbox.folders["crm"].glob(".onecsync-tmp-*"))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    crm = sandbox.outgoing("crm")
    # The number is reused for the same (or a larger) content: harmless, the peer never saw it.
    assert crm["message_no"] == 1
    assert sorted(r for _, r in crm["objects"]) == sorted(f.ref(i) for i in range(1, 6))
    assert not list(sandbox.folders["crm"].glob(".onecsync-tmp-*"))


def test_crash_after_the_commit_before_the_rename(sandbox, hard_crash):
    sandbox.put("accounting", f.Msg(objects=OBJECTS))
    hard_crash.setattr(directory._TempFile, "publish", crash)
    run_crashing(sandbox, "pull-catalogs")
    hard_crash.undo()
    # The state says message 1 went out, but it never reached the folder.
    assert sandbox.numbers("crm")[0] == 1
    assert sandbox.outgoing_path("crm") is None
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    crm = sandbox.outgoing("crm")
    assert crm["message_no"] == 2
    assert sorted(r for _, r in crm["objects"]) == sorted(f.ref(i) for i in range(1, 6))
    # The CRM confirms message 2: everything is confirmed, nothing is left pending.
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=2))
    assert sandbox.run("run")[0] == 0
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM registrations WHERE peer='crm' "
                         "AND confirmed_no IS NULL").fetchone()[0] == 0


def test_crash_while_staging_leaves_nothing_staged_and_nothing_confirmed(sandbox, hard_crash):
    sandbox.put("accounting", f.Msg(objects=OBJECTS))
    calls = {"n": 0}
    real = Peers.update

    def update_then_crash(self, name, **values):
        real(self, name, **values)
        if "received_no" in values:
            raise Crash()
    hard_crash.setattr(Peers, "update", update_then_crash)
    run_crashing(sandbox, "pull-catalogs")
    hard_crash.undo()
    assert calls["n"] == 0
    dump = sandbox.dump()
    assert dump["inbox"] == [] and sandbox.numbers("accounting") == (0, 0, 0)
    assert sandbox.outgoing_path("accounting") is None
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("accounting") == (1, 1, 0)
    assert len(sandbox.outgoing("crm")["objects"]) == 5


def test_our_message_deleted_from_the_folder_is_written_again(sandbox):
    sandbox.put("accounting", f.Msg(objects=OBJECTS))
    sandbox.run("pull-catalogs")
    sandbox.outgoing_path("crm").unlink()
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    assert sandbox.outgoing("crm")["message_no"] == 2
    assert len(sandbox.outgoing("crm")["objects"]) == 5


def test_crash_while_staging_a_received_message_takes_it_again(sandbox, hard_crash):
    """Nothing of a message (its number above all: that is what we confirm to the base) is
    committed before what it carried is staged: a crash in between and the rerun takes it."""
    sandbox.put("accounting", f.Msg(objects=OBJECTS))
    hard_crash.setattr(Inbox, "stage", crash)
    run_crashing(sandbox, "pull-catalogs")
    hard_crash.undo()
    assert sandbox.numbers("accounting") == (0, 0, 0)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("accounting")[1] == 1
    crm = sandbox.outgoing("crm")
    assert crm["received_no"] == 0 and sorted(r for _, r in crm["objects"]) == sorted(
        f.ref(i) for i in range(1, 6))
