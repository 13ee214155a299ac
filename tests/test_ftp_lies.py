"""An FTP server whose word about a rename or a listing is not the truth (tests/ftp_server.py):
a "250" to a rename that renamed nothing or put another file there is exit 4 with a line
saying so, nothing taken for sent, and the next good run sends again; a refused rename never
costs the base our previous message, whichever of the renames is refused, nor does a run
killed between them; a listing naming the base's file twice with other facts is said, and
the file read by what SIZE and MDTM say of it (exit 4 when the server tells neither), never
"the download was cut" forever."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pyftpdlib.handlers import FTPHandler

from tests import factory as f
from tests import test_hostile_servers as hostile

ftp, quick = hostile.ftp, hostile.quick
OURS = f"Message_{f.NODE}_{f.CRM}.xml"
BASES = f"Message_{f.ACCOUNTING}_{f.NODE}.xml"
UPLOAD = ".onecsync-tmp-"


def crm(sandbox) -> Path:
    return sandbox.folders["crm"]


def leftovers(sandbox) -> list[str]:
    return [p.name for folder in sandbox.folders.values() for p in folder.iterdir()
            if p.name.startswith(UPLOAD)]


def rename_refused(when):
    """An RNTO answering 550 when `when(source, target)`, else renaming."""
    def rnto(self, path):
        if when(os.path.basename(self._rnfr), path):
            self._rnfr = None
            self.respond("550 Cannot create a file when that file already exists.")
        else:
            FTPHandler.ftp_RNTO(self, path)
    return rnto


def sent_the_counterparty(sandbox) -> bool:
    """Does the CRM hold our message carrying accounting's message 2 (its counterparty)?"""
    out = sandbox.outgoing("crm")
    return out["message_no"] > 1 and ("Справочник.Контрагенты", f.ref(3)) in out["objects"]


def lie_untouched(self, path):
    self.respond("250 Renaming ok.")  # and nothing renamed


def lie_deleting(self, path):
    os.unlink(self._rnfr)  # a quota-bound server dropping what it could not place
    self.respond("250 Renaming ok.")


@pytest.mark.parametrize("rnto, why", [
    (lie_untouched, "but our upload is still under its temporary name"),
    (lie_deleting, "but the file there has "),
], ids=["renames-nothing", "deletes-the-upload"])
def test_a_rename_the_server_only_claims_is_exit_4_and_the_next_run_sends_again(
        sandbox, ftp, rnto, why):
    before = (crm(sandbox) / OURS).read_bytes()
    ftp.handler.ftp_RNTO = rnto
    code, _, err = sandbox.run("run")
    assert code == 4, err
    assert f"crm: the server answered that it renamed our upload to {OURS}, {why}" in err, err
    assert "Traceback" not in err
    assert (crm(sandbox) / OURS).read_bytes() == before  # the CRM still has our message 1
    assert leftovers(sandbox) == []
    del ftp.handler.ftp_RNTO
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sent_the_counterparty(sandbox)  # nothing was taken for sent


def test_a_file_of_our_size_and_time_put_in_our_place_is_told_by_its_bytes(sandbox, ftp):
    """The server stores our upload, then gives our previous message (padded) its very size
    and time and drops the upload on RNTO: listing facts cannot tell them apart, so the file
    is read back."""
    previous = (crm(sandbox) / OURS).read_bytes()

    def swap(self, file):
        if os.path.basename(file).startswith(UPLOAD) and Path(file).parent == crm(sandbox):
            size = os.path.getsize(file)
            assert size > len(previous)
            (crm(sandbox) / OURS).write_bytes(previous + b" " * (size - len(previous)))
            st = os.stat(file)
            os.utime(crm(sandbox) / OURS, ns=(st.st_atime_ns, st.st_mtime_ns))
    ftp.handler.on_file_received = swap
    ftp.handler.ftp_RNTO = lie_deleting
    code, _, err = sandbox.run("run")
    assert code == 4, err
    assert f"renamed our upload to {OURS}, but the file there has other bytes than ours" in err
    del ftp.handler.ftp_RNTO, ftp.handler.on_file_received
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sent_the_counterparty(sandbox)


def test_a_server_renaming_by_copy_is_proved_by_the_bytes_read_back(sandbox, ftp):
    """A rename that gives the file a new time (a copy, then a delete) is no lie: the file is
    read back, found ours, and the receipt spares the next run that download."""
    def copying(self, path):
        FTPHandler.ftp_RNTO(self, path)
        later = time.time() + 3600
        os.utime(path, (later, later))
    ftp.handler.ftp_RNTO = copying
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sent_the_counterparty(sandbox)
    retrieved = ftp.commands.count("RETR")
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert ftp.commands.count("RETR") == retrieved  # in place, said by the receipt


def test_a_refused_rename_keeps_our_previous_message(sandbox, ftp):
    before = (crm(sandbox) / OURS).read_bytes()
    ftp.handler.ftp_RNTO = rename_refused(lambda source, target: True)
    code, _, err = sandbox.run("run")
    assert code == 3, err
    assert f"uploading {OURS}: 550 " in err
    assert (crm(sandbox) / OURS).read_bytes() == before
    assert leftovers(sandbox) == []
    del ftp.handler.ftp_RNTO
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sent_the_counterparty(sandbox)


def test_a_server_that_renames_onto_no_file_gets_our_message(sandbox, ftp):
    """IIS refuses to rename over a file: ours is moved aside, and deleted once the new one
    is in its place."""
    ftp.handler.ftp_RNTO = rename_refused(lambda source, target: os.path.exists(target))
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sent_the_counterparty(sandbox)
    assert leftovers(sandbox) == []


def test_our_previous_message_moved_aside_is_put_back_when_the_upload_is_refused(sandbox, ftp):
    """IIS again, now refusing our upload its rename even onto no file: the previous message
    goes back where it was."""
    before = (crm(sandbox) / OURS).read_bytes()
    ftp.handler.ftp_RNTO = rename_refused(
        lambda source, target: os.path.exists(target) or not source.startswith(UPLOAD + "old-"))
    code, _, err = sandbox.run("run")
    assert code == 3, err
    assert (crm(sandbox) / OURS).read_bytes() == before
    assert leftovers(sandbox) == []


def test_a_killed_runs_previous_message_left_aside_is_put_back(sandbox, ftp):
    """A run killed between moving our message aside and renaming the new one into place:
    the next upload puts the previous one back before anything else, so it is there even when
    that upload fails too; the killed run's upload is deleted."""
    before = (crm(sandbox) / OURS).read_bytes()
    killed = [f"{UPLOAD}old-{'a' * 16}-{OURS}", f"{UPLOAD}{'b' * 16}-{OURS}"]
    (crm(sandbox) / OURS).rename(crm(sandbox) / killed[0])
    (crm(sandbox) / killed[1]).write_bytes(b"<half a message")
    for _ in sandbox.folders:
        ftp.fail("drop-write", UPLOAD)
    code, _, err = sandbox.run("run")
    assert code == 4, err
    assert (crm(sandbox) / OURS).read_bytes() == before
    assert not set(killed) & set(leftovers(sandbox))  # this run's cut uploads: the next's
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sent_the_counterparty(sandbox)
    assert not [p for p in crm(sandbox).iterdir() if p.name.startswith(UPLOAD)]


def stamp(st: os.stat_result) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime))


TWICE = {  # the second line MLSD gives the base's file, after its own
    "newer-smaller": lambda st: "type=file;size=12;modify=20300101000000;",
    "older-smaller": lambda st: "type=file;size=12;modify=20000101000000;",
    "same-time-bigger": lambda st: f"type=file;size={st.st_size + 100};modify={stamp(st)};",
}


@pytest.mark.parametrize("second", TWICE.values(), ids=TWICE.keys())
def test_a_file_listed_twice_is_said_and_read_by_size_and_mdtm(sandbox, ftp, second):
    ftp.relisted = {BASES: second((sandbox.folders["accounting"] / BASES).stat())}
    for _ in range(2):  # the second: the file unchanged by what SIZE and MDTM say
        code, _, err = sandbox.run("run")
        assert code == 0, err
        assert f"accounting: the server lists {BASES} more than once, saying other things " \
               "of it" in err, err
        assert "download was cut" not in err
        assert sandbox.numbers("accounting")[1] == 2  # its message 2, read
    assert sent_the_counterparty(sandbox)


def test_a_file_listed_twice_by_a_server_without_size_is_exit_4_saying_so(sandbox, ftp):
    before = hostile.held(sandbox)
    ftp.relisted = {BASES: TWICE["newer-smaller"](None)}
    ftp.size_reply = "502 Command not implemented."
    line = hostile.failed_run(sandbox, before)
    assert f"accounting: the server lists {BASES} more than once, saying other things of it, " \
           "and answers no SIZE or MDTM to tell which is true (502 Command" in line, line


def test_a_second_rename_that_only_claims_puts_our_previous_message_back(sandbox, ftp):
    """Over a server refusing to rename over a file, our previous message moved aside is
    deleted only once the listing proved the new one in its place: a '250' to the second
    rename that did nothing leaves the previous message where it was (review R8)."""
    before = (crm(sandbox) / OURS).read_bytes()

    def rnto(self, path):
        src = os.path.basename(self._rnfr)
        if os.path.exists(path):  # IIS: refuses to rename over a file
            self._rnfr = None
            self.respond("550 Cannot create a file when that file already exists.")
        elif src.startswith(UPLOAD) and not src.startswith(UPLOAD + "old-"):
            self._rnfr = None
            self.respond("250 Renaming ok.")  # the lie: our upload stays where it is
        else:
            FTPHandler.ftp_RNTO(self, path)
    ftp.handler.ftp_RNTO = rnto
    code, _, err = sandbox.run("run")
    assert code == 4 and "still under its temporary name" in err
    assert sorted(p.name for p in crm(sandbox).iterdir()) == [OURS]
    assert (crm(sandbox) / OURS).read_bytes() == before
