"""The base's folder judged alike over a local folder and over FTP (transport/candidates.py):
one listing per receive, a newest file that hides the base's real message (review 7b m1), what
1C takes for our message, a flood of empty files, another onecsync writing our message, and the
files left beside the base's message said once, not on every run."""

from __future__ import annotations

import os

import pytest

from onecsync.transport import ftpfolder
from tests import factory as f
from tests.conftest import ftp_peer
from tests.conftest import remote_config
from tests.ftp_server import FtpServer
from tests.test_hostile_folder import FIRST
from tests.test_hostile_folder import SECOND

ACC, NODE = f.ACCOUNTING, f.NODE
REAL = f"Message_{ACC}_{NODE}.xml"   # the name the base writes
JUNK = f"Message_X_{ACC}_{NODE}.xml"  # a name 1C's mask takes too, written by no base


@pytest.fixture
def ftp(sandbox, monkeypatch):
    """Both bases over FTP (pyftpdlib) on the sandbox's folders."""
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")
    with FtpServer(sandbox.root / "exchange") as server:
        sandbox.write_config(remote_config({
            name: ftp_peer(name, server.port) for name in ("accounting", "crm")}))
        yield server


def newer(path, than) -> None:
    later = than.stat().st_mtime_ns + 60 * 10**9
    os.utime(path, ns=(later, later))


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if "error: " in ln]


def test_a_receive_lists_the_folder_once(sandbox, monkeypatch):
    """The check for what 1C takes for our message, the choice of the base's message and the
    scan for a wrong code judged three listings of a folder others write to."""
    from onecsync.flows.exchange import Exchange

    folder = os.path.realpath(sandbox.folders["accounting"])
    sandbox.put("accounting", FIRST)
    # 1C takes it for our message (no message under our own name: that one is judged by its
    # content, flows/whose.py)
    (sandbox.folders["accounting"] / f"Message_P_{NODE}_{ACC}.xml").write_bytes(b"<x/>")
    listings: list[str] = []
    receiving = []
    for name in ("listdir", "scandir"):
        real = getattr(os, name)

        def counted(path=".", _real=real, _name=name):
            if receiving and os.path.realpath(path) == folder:
                listings.append(_name)
            return _real(path)
        monkeypatch.setattr(os, name, counted)
    receive = Exchange.receive

    def watched(self, name):
        receiving.append(name)
        try:
            return receive(self, name)
        finally:
            receiving.pop()
    monkeypatch.setattr(Exchange, "receive", watched)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 1
    assert len(listings) == 1, listings


def junk_beside_the_real_message(sandbox):
    real = sandbox.folders["accounting"] / REAL
    real.write_bytes(FIRST.xml())
    junk = sandbox.folders["accounting"] / JUNK
    junk.write_bytes(b"not a message at all\n")
    newer(junk, real)
    return junk


@pytest.mark.parametrize("over", ["folder", "ftp"])
def test_a_junk_newest_file_hiding_the_base_message_is_exit_3_on_every_run(sandbox, request,
                                                                           over):
    """Review 7b m1: the junk is what 1C's rule takes; the first run said exit 5 naming it
    alone, every later one exit 0 while the base's message 1 beside it sat unread."""
    server = request.getfixturevalue("ftp") if over == "ftp" else None
    junk = junk_beside_the_real_message(sandbox)
    retrs = []
    for _ in range(2):
        code, _, err = sandbox.run("pull-catalogs")
        assert code == 3, err
        (line,) = [ln for ln in error_lines(err) if JUNK in ln]
        assert "is the newest file under the name of the base's message, and it is no message " \
            "of the base to us" in line and f"the base's message 1 in {REAL} beside it is not " \
            "read" in line and f"remove {JUNK} if the base does not write it" in line, line
        retrs.append(server.commands.count("RETR") if server else 0)
    assert retrs[0] == retrs[1]  # over FTP, what the two files say is downloaded once
    assert sandbox.numbers("accounting")[1] == 0
    junk.unlink()
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 1


def test_over_ftp_a_stale_newest_file_is_exit_3_naming_both(sandbox, ftp):
    folder = sandbox.folders["accounting"]
    real = sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    real.write_bytes(SECOND.xml())
    stale = folder / JUNK
    stale.write_bytes(FIRST.xml())  # a copy of message 1, newer by its time
    newer(stale, real)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    assert f"{JUNK} is the newest file under the name of the base's message, but it holds " \
           f"message 1, older than message 2 in {real.name} beside it" in err, err


def test_a_junk_newest_beside_a_message_already_taken_is_the_base_message_rejected(sandbox):
    """Beside the message already taken the newest is the base's next message, broken: exit 5
    naming it, as any rejected message (the corpus has every kind of such a file)."""
    real = sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    junk = sandbox.folders["accounting"] / JUNK
    junk.write_bytes(b"not a message at all\n")
    newer(junk, real)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    assert "beside it is not read" not in err


def test_over_ftp_a_file_1c_takes_for_our_message_newer_than_ours_is_exit_3(sandbox, ftp):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    ours = sandbox.outgoing_path("accounting")
    shadow = ours.with_name(f"Message_OS_{NODE}_{ACC}.xml")
    shadow.write_bytes(ours.read_bytes())
    newer(shadow, ours)
    for command in ("run", "check"):
        code, _, err = sandbox.run(command)
        assert code == 3, (command, err)
        assert f"1C reads {shadow.name} instead of our message {ours.name}" in err, err
    os.utime(shadow, ns=(10**18, 10**18))  # 2001: older than ours, 1C reads ours
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert f"{shadow.name} is named like our message" in err, err


def test_over_ftp_empty_files_are_one_warning_however_many(sandbox, ftp):
    for i in range(20):
        (sandbox.folders["accounting"] / f"Message_e{i:02}_{ACC}_{NODE}.xml").write_bytes(b"")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    (line,) = [ln for ln in err.splitlines() if "empty" in ln]
    assert f"Message_e00_{ACC}_{NODE}.xml" in line and "and 17 more" in line, err


def test_over_ftp_without_mlsd_a_flood_of_files_is_exit_3_not_a_round_trip_each(
        sandbox, ftp, monkeypatch):
    monkeypatch.setattr(ftpfolder, "ASKED", 10)
    ftp.no_mlsd = True
    for i in range(11):
        (sandbox.folders["accounting"] / f"Message_e{i:02}_{ACC}_{NODE}.xml").write_bytes(b"")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    assert "11 files under the names of the exchange's messages" in err, err
    assert ftp.commands.count("SIZE") == 0


def test_files_left_beside_the_base_message_are_said_once_per_change(sandbox):
    folder = sandbox.folders["accounting"]
    old = folder / f"Message_{ACC}_{NODE}.xml"
    old.write_bytes(FIRST.xml())
    os.utime(old, (1_700_000_000, 1_700_000_000))
    new = folder / f"Message_БП_{ACC}_{NODE}.xml"
    new.write_bytes(FIRST.xml())

    def said(command="pull-catalogs") -> bool:
        code, _, err = sandbox.run(command)
        assert code == 0, err
        return "left unread as 1C leaves them" in err
    assert [said(), said(), said(), said("check")] == [True, False, False, True]
    other = folder / f"Message_BP_{ACC}_{NODE}.zip"
    other.write_bytes(b"PK")
    os.utime(other, (1_700_000_000, 1_700_000_000))
    assert [said(), said()] == [True, False]  # another file beside it: said again, once


def test_over_ftp_a_tie_by_time_is_said_as_a_tie_not_the_newest(sandbox, ftp):
    """FTP keeps 1C's rule for the tie (the .zip is read; choosing is ftp.py's), but the line
    says the truth: the two have one time, neither is the newest (review R7)."""
    zipped = sandbox.put("accounting", FIRST, ".zip")
    assert sandbox.run("pull-catalogs")[0] == 0
    xml = sandbox.put("accounting", SECOND, ".xml")
    st = xml.stat()
    os.utime(zipped, ns=(st.st_atime_ns, st.st_mtime_ns))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    assert f"{zipped.name} has the same modification time as {xml.name} (a tie, which 1C " \
           "breaks for the .zip), but it holds message 1, older than message 2" in err, err
