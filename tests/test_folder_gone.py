"""Our message gone from a base's folder is never a silent exit 0 (review R7 H1).

1C never deletes our message: gone from the same folder, someone removed it (said, written
again); gone because the path is now another folder (a share unmounted leaves its empty mount
point; a link to another folder), exit 4 on every run, owed or not, and nothing is written
where the base never looks."""

from __future__ import annotations

import os
from types import SimpleNamespace

from onecsync.errors import ExitCode
from onecsync.transport import whereabouts
from tests import factory as f

OURS = f"Message_{f.NODE}_{f.ACCOUNTING}.xml"


def exchanged(sandbox):
    """One exchange: our message 1 to accounting is in its folder, nothing owed to it."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "Первый")]))
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[]))
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert (sandbox.folders["accounting"] / OURS).exists()


def unmount(sandbox, tmp_path, monkeypatch):
    """What an unmounted share leaves: the same path, another (empty) folder, of another device
    (this host's disk): any folder there but the share's own is of another device."""
    acc = sandbox.folders["accounting"]
    share = acc.stat().st_ino
    real = whereabouts._stat

    def stat(path):
        st = real(path)
        if os.fspath(path) == os.fspath(acc) and st.st_ino != share:
            return SimpleNamespace(st_dev=st.st_dev + 1, st_ino=st.st_ino)
        return st
    monkeypatch.setattr(whereabouts, "_stat", stat)
    acc.rename(tmp_path / "share")
    acc.mkdir()
    return tmp_path / "share"


def said_gone(sandbox, runs=3):
    for _ in range(runs):
        code, _, err = sandbox.run("run")
        assert code == ExitCode.TEMPORARY, err
        assert f"accounting: our message 1 is gone from folder {sandbox.folders['accounting']}" \
            in err and "is the share mounted?" in err, err
        assert not any(sandbox.folders["accounting"].iterdir())  # nothing on the wrong disk


def test_an_unmounted_share_is_exit_4_every_run_though_nothing_is_owed(sandbox, tmp_path,
                                                                     monkeypatch):
    exchanged(sandbox)
    share = unmount(sandbox, tmp_path, monkeypatch)
    said_gone(sandbox)
    acc = sandbox.folders["accounting"]
    acc.rmdir()
    share.rename(acc)  # mounted again: the exchange goes on where it was
    code, _, err = sandbox.run("run")
    assert code == 0 and "warning" not in err, err
    assert sandbox.outgoing("accounting")["message_no"] == 1


def test_with_something_owed_it_is_exit_4_at_once_not_stuck_runs_later(sandbox, tmp_path,
                                                                    monkeypatch):
    exchanged(sandbox)
    unmount(sandbox, tmp_path, monkeypatch)
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=2, objects=[f.order(f.ref(7))]))
    said_gone(sandbox, runs=1)
    assert sandbox.numbers("accounting")[0] == 1  # nothing stamped as sent
    assert sandbox.numbers("crm")[1] == 2  # the other base's exchange went on


def test_a_folder_made_a_link_to_another_folder_is_exit_4(sandbox, tmp_path):
    exchanged(sandbox)
    acc = sandbox.folders["accounting"]
    acc.rename(tmp_path / "share")
    (tmp_path / "elsewhere").mkdir()
    acc.symlink_to(tmp_path / "elsewhere")
    said_gone(sandbox)


def test_set_numbers_says_the_folder_is_the_base_s_now(sandbox, tmp_path, monkeypatch):
    exchanged(sandbox)
    unmount(sandbox, tmp_path, monkeypatch)
    code, _, err = sandbox.run("run")
    assert "`onecsync state set-numbers accounting --sent 1 --yes`" in err, err
    code, _, err = sandbox.run("state", "set-numbers", "accounting", "--sent", "1", "--yes")
    assert code == 0, err
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sandbox.outgoing("accounting")["message_no"] == 2


def test_our_message_removed_from_the_same_folder_is_said_and_written_again(sandbox):
    exchanged(sandbox)
    (sandbox.folders["accounting"] / OURS).unlink()  # nothing is owed: written again all the same
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert "warning: accounting: our message 1 is gone from folder" in err \
        and "it is written again" in err, err
    assert sandbox.outgoing("accounting")["message_no"] == 2
    code, _, err = sandbox.run("run")
    assert code == 0 and "gone" not in err, err


def test_a_folder_made_again_at_the_same_path_is_the_same_folder(sandbox, tmp_path):
    """Removed and made again where it was (a cleanup job, an admin resetting the exchange):
    the base reads that path, so our message is written again there with a warning, never
    exit 4 every run (review R9: the inode had told the two folders apart)."""
    exchanged(sandbox)
    acc = sandbox.folders["accounting"]
    acc.rename(tmp_path / "old")  # kept while the new one is made: another inode for certain
    acc.mkdir()
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1,
                                    objects=[f.counterparty(f.ref(2), "Второй")]))
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert "is gone from folder" in err and "it is written again" in err, err
    assert (acc / OURS).exists()
    code, _, err = sandbox.run("run")
    assert code == 0 and "gone" not in err, err
