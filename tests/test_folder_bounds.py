"""A folder others write to, at its bounds (review #7): a folder that cannot be listed, a file that
1C's mask takes for our message, a file past the size cap, floods of names and of empty files,
a file that keeps changing and never completes. Each is said, bounded, and never a silent exit 0.
"""

from __future__ import annotations

import datetime
import os
import shutil

import pytest

from onecsync import clock
from onecsync import files
from onecsync import messagefiles
from onecsync import settling
from onecsync.flows import addressing
from onecsync.transport import theirs
from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.test_hostile_folder import FIRST
from tests.test_hostile_folder import SECOND
from tests.test_hostile_folder import big_message
from tests.test_hostile_folder import outgoing_name
from tests.test_hostile_folder import received_first

ACC, NODE = f.ACCOUNTING, f.NODE


@pytest.fixture
def unlistable(sandbox, monkeypatch):
    """The accounting folder as mode 0300 shows it to any user (root included): its names can be
    opened, the folder cannot be listed."""
    folder = os.path.realpath(sandbox.folders["accounting"])
    for name in ("listdir", "scandir"):
        real = getattr(os, name)

        def refused(path=".", _real=real):
            if os.path.realpath(path) == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return _real(path)
        monkeypatch.setattr(os, name, refused)
    return sandbox.folders["accounting"]


def test_an_unlistable_folder_without_a_guessable_name_is_said(sandbox, unlistable):
    (unlistable / f"Message_BP_{ACC}_{NODE}.xml").write_bytes(FIRST.xml())
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    (line,) = [ln for ln in err.splitlines() if "may not list the folder" in ln]
    assert "Message_<prefix>_" in line and "right to read the folder's list" in line
    assert ", and " in line and "more" in line  # the names tried, a few of them


def test_an_unlistable_folder_finds_codes_in_upper_case(sandbox, unlistable):
    (unlistable / f"Message_{ACC.upper()}_{NODE.upper()}.xml").write_bytes(FIRST.xml())
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 1
    assert sandbox.numbers("accounting")[1] == 1


def settled(sandbox) -> os.PathLike:
    received_first(sandbox)
    code, _, err = sandbox.run("run")
    assert code == 0, err
    ours = sandbox.folders["accounting"] / outgoing_name("accounting")
    assert ours.exists()
    return ours


def test_a_file_1c_takes_for_our_message_newer_than_ours_is_exit_3(sandbox):
    ours = settled(sandbox)
    shadow = ours.with_name(f"Message_OS_{NODE}_{ACC}.xml")
    shutil.copyfile(ours, shadow)
    later = ours.stat().st_mtime_ns + 86_400 * 10**9
    os.utime(shadow, ns=(later, later))
    for command in ("run", "check"):
        code, _, err = sandbox.run(command)
        assert code == 3, err
        assert f"1C reads Message_OS_{NODE}_{ACC}.xml instead of our message" in err
    os.utime(shadow, ns=(later - 2 * 86_400 * 10**9,) * 2)  # older than ours: 1C reads ours
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert f"Message_OS_{NODE}_{ACC}.xml is named like our message" in err


def test_a_file_over_the_cap_is_refused_unread_and_known_by_its_ends(sandbox, monkeypatch):
    received_first(sandbox)
    path = sandbox.put("accounting", b"")
    with open(path, "r+b") as out:  # sparse: takes no disk
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<Message>')
        out.truncate(messagefiles.MAX_FILE + 1)
    read = []
    real = os.preadv

    def counted(fd, buffers, offset):
        n = real(fd, buffers, offset)
        read.append(n)
        return n
    monkeypatch.setattr(files.os, "preadv", counted)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    assert f"the file is {messagefiles.MAX_FILE + 1} bytes, over the cap of " \
        f"{messagefiles.MAX_FILE} bytes" in err
    assert sum(read) < 8 << 20  # its first and last MiB, never all of it
    read.clear()
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0 and report["peers"]["accounting"]["received"]["rejected_before"], err
    assert sum(read) < 8 << 20
    assert sandbox.numbers("accounting")[1] == 1


def test_a_folder_past_max_names_is_exit_3(sandbox, monkeypatch):
    monkeypatch.setattr(theirs, "MAX_NAMES", 20)
    for i in range(21):
        (sandbox.folders["accounting"] / f"Message_x{i}_{ACC}_{NODE}.txt").write_bytes(b"x")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    assert "holds more than 20 entries" in err


class Counted(str):
    compared = 0

    def __eq__(self, other):
        Counted.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_the_scan_of_names_is_linear(sandbox):
    """Names only 1C-like and names of the base's mask: each is looked up, never compared
    with every other (a list did n² comparisons: 100,000 names took minutes)."""
    from onecsync.config import load_config

    config = load_config(sandbox.config)
    names = [Counted(f"Message_x{i}_a_b.xml") for i in range(500)] + \
        [Counted(f"Message_y{i}_{ACC}_{NODE}.xml") for i in range(500)]

    class Listing:
        description = "folder x"

        def message_names(self):
            return names
    Counted.compared = 0
    result = addressing.scan(config, "accounting", Listing())
    assert "and 497 more" in (result.warning or "")
    assert Counted.compared < 5 * len(names)


def test_empty_files_are_one_warning_however_many(sandbox):
    for i in range(20):
        (sandbox.folders["accounting"] / f"Message_e{i:02}_{ACC}_{NODE}.xml").write_bytes(b"")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    (line,) = [ln for ln in err.splitlines() if "empty" in ln]
    assert f"Message_e00_{ACC}_{NODE}.xml" in line and "and 17 more" in line


def test_a_file_that_keeps_changing_and_never_completes_is_judged(sandbox):
    received_first(sandbox)
    path = sandbox.folders["accounting"] / f"Message_X_{ACC}_{NODE}.xml"
    whole = big_message("Г")
    path.write_bytes(whole[:whole.index(b"<", 200_000)])  # looks like one being written
    start = clock.utc_now()
    codes = []
    for i in range(settling.GROWING_FOR + 2):
        with clock.frozen(start + datetime.timedelta(minutes=11 * i)):
            codes.append(sandbox.run("pull-catalogs")[0])
        with open(path, "ab") as out:  # the other writer goes on
            out.write(b" ")
    assert codes[:settling.GROWING_FOR] == [0] * settling.GROWING_FOR
    assert codes[settling.GROWING_FOR] == 5, codes  # past GROWING_FOR settle times
    assert sandbox.numbers("accounting")[1] == 1


def test_our_own_old_file_under_another_spelling_never_blocks_the_next_message(sandbox):
    """compress turned on: our old .xml is what the folder holds under the mask until the run
    writes the .zip; it is a warning, never exit 3 (the run would never write the .zip)."""
    ours = settled(sandbox)
    sandbox.write_config(compress=True)
    sandbox.put("accounting", SECOND)
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert ours.with_suffix(".zip").exists()
    assert f"{ours.name} is named like our message" in err


def test_compress_switched_back_and_forth_never_stops_the_exchange(sandbox):
    """Review 8 #6: compress on, then off again: our .zip of the earlier setting is newer than
    our old .xml, and was taken for a file 1C reads instead of ours: exit 3 on every run, judged
    before the run could write the new message. Our own name is never a shadow."""
    ours = settled(sandbox)
    sandbox.write_config(compress=True)
    sandbox.put("accounting", SECOND)
    code, _, err = sandbox.run("run")
    assert code == 0, err
    zipped = ours.with_suffix(".zip")
    later = ours.stat().st_mtime_ns + 60 * 10**9
    os.utime(zipped, ns=(later, later))  # written after the .xml, as it was
    sandbox.write_config(compress=False)
    for _ in range(2):
        code, _, err = sandbox.run("run")
        assert code == 0, err
        assert "instead of our message" not in err


def _sparse(sandbox, size: int):
    path = sandbox.put("accounting", b"")
    with open(path, "r+b") as out:  # sparse: takes no disk
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<Message>')
        out.truncate(size)
    return path


def _cap(sandbox, mib: int) -> None:
    sandbox.write_config(DEFAULT_CONFIG.format(node=NODE, acc=ACC, crm=f.CRM,
                                               acc_extra=f", max_message_mib: {mib}",
                                               crm_extra=""))


def test_a_folder_base_takes_its_cap_from_max_message_mib(sandbox):
    """A first exchange of a million objects is a 6 GB file: the cap is the config's, in a
    folder as over FTP and HTTP, and it is said by its key."""
    received_first(sandbox)
    _cap(sandbox, 1)
    _sparse(sandbox, (1 << 20) + 1)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    assert f"the file is {(1 << 20) + 1} bytes, over the cap of {1 << 20} bytes for a message " \
        "file (transport.max_message_mib)" in err


def test_a_raised_cap_reads_a_file_past_the_default(sandbox):
    received_first(sandbox)
    _cap(sandbox, 8192)
    _sparse(sandbox, messagefiles.MAX_FILE + 1)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err  # read, and refused for what it holds: a NUL after <Message>
    assert "over the cap" not in err


def test_a_file_refused_by_the_cap_is_read_once_the_cap_is_raised(sandbox):
    """The remedy the refusal names works on the file at hand (review R5 M1: it stayed
    'rejected before', exit 0, until the base wrote a new message)."""
    received_first(sandbox)
    _cap(sandbox, 1)
    objects = [f.counterparty(f.ref(i), f"ООО Ромашка {i:06d} и партнёры") for i in range(1, 5001)]
    path = sandbox.put("accounting", f.Msg(message_no=2, received_no=1,
                                           created="2026-11-21T09:00:00", objects=objects))
    assert path.stat().st_size > 1 << 20
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5 and "over the cap" in err, err
    _cap(sandbox, 64)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 5000, report
