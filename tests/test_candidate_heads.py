"""The headers of the base's files beside each other in a local folder are read once, as over
FTP (heads.json): a run with nothing new reads none of them again (task T4 #3: it read up to 9,
a megabyte each, on every run), yet a file rewritten in place (its size and mtime put back) is
read again, and a link is never taken on trust."""

from __future__ import annotations

import os

import pytest

from onecsync.transport import theirs
from tests import factory as f
from tests.test_folder_candidates import JUNK
from tests.test_folder_candidates import REAL
from tests.test_folder_candidates import error_lines
from tests.test_folder_candidates import junk_beside_the_real_message
from tests.test_hostile_folder import FIRST

ACC, NODE = f.ACCOUNTING, f.NODE
OLD = f"Message_B_{ACC}_{NODE}.xml"  # a name the base once wrote (another prefix)


@pytest.fixture
def peeked(monkeypatch) -> list[str]:
    """The names whose header a run reads."""
    names: list[str] = []
    real = theirs.peek

    def counted(name, *args, **kw):
        names.append(name)
        return real(name, *args, **kw)
    monkeypatch.setattr(theirs, "peek", counted)
    return names


def _run(sandbox, code: int = 0) -> str:
    got, _, err = sandbox.run("pull-catalogs")
    assert got == code, err
    return err


def test_a_run_with_nothing_new_reads_no_header_again_and_judges_alike(sandbox, peeked):
    junk_beside_the_real_message(sandbox)  # a junk newest hiding the base's message 1
    lines = []
    for _ in range(3):
        lines.append(error_lines(_run(sandbox, 3)))
    assert sorted(peeked) == sorted([JUNK, REAL])  # the first run read both, the others none
    assert lines[0] == lines[1] == lines[2] and f"{JUNK} is the newest file" in lines[0][0]


def _beside_the_message_taken(sandbox):
    folder = sandbox.folders["accounting"]
    old = folder / OLD
    old.write_bytes(FIRST.xml())
    os.utime(old, ns=(1_700_000_000 * 10**9,) * 2)  # older than the base's message
    sandbox.put("accounting", FIRST)
    _run(sandbox)  # message 1 taken; OLD, a copy of it, said to be left beside
    return old


def test_a_file_rewritten_in_place_with_its_size_and_mtime_put_back_is_read_again(sandbox,
                                                                                   peeked):
    old = _beside_the_message_taken(sandbox)
    _run(sandbox)
    assert peeked.count(OLD) == 1
    st = old.stat()
    data = old.read_bytes()
    later = data.replace(b"<msg:MessageNo>1<", b"<msg:MessageNo>2<")
    assert later != data and len(later) == len(data)
    with open(old, "r+b") as out:  # the same inode, the same size ...
        out.write(later)
    os.utime(old, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... the same mtime
    err = _run(sandbox, 3)  # message 2 beside message 1, which 1C reads: said, not missed
    assert peeked.count(OLD) == 2
    assert f"holds message 1, older than message 2 in {OLD} beside it" in err


def test_a_link_beside_the_base_message_is_read_on_every_run(sandbox, peeked):
    old = _beside_the_message_taken(sandbox)
    target = old.with_name(".kept-copy")
    old.rename(target)
    old.symlink_to(target.name)  # a link to a file in the same folder: followed, as 1C does
    os.utime(old, ns=(1_700_000_000 * 10**9,) * 2, follow_symlinks=False)
    before = peeked.count(OLD)
    for _ in range(2):
        _run(sandbox)
    assert peeked.count(OLD) == before + 2
    assert peeked.count(REAL) == 1  # the base's own file: read once, known since


def tied(sandbox, xml: f.Msg, zipped: bytes | f.Msg) -> None:
    """The base's .xml and .zip with one modification time (a share keeping 2-second times,
    the base switching `compress`): a tie, which 1C's rule breaks for the .zip."""
    x = sandbox.put("accounting", xml, ".xml")
    z = sandbox.put("accounting", zipped, ".zip") if isinstance(zipped, f.Msg) else \
        sandbox.put_raw("accounting", zipped, ".zip")
    st = x.stat()
    os.utime(z, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_of_a_tie_the_file_holding_the_later_message_is_read(sandbox):
    """Review R7: the zip, holding the message already taken, was "the newest" every run (exit
    3) and the .xml's new message was never read."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "Первый")]), ".zip")
    _run(sandbox)
    tied(sandbox, f.Msg(message_no=2, received_no=1, objects=[f.counterparty(f.ref(2), "Второй")]),
         f.Msg(objects=[f.counterparty(f.ref(1), "Первый")]))
    _run(sandbox)
    assert sandbox.numbers("accounting")[1] == 2
    _run(sandbox)  # and stays so: the later message, already taken, is not the zip again
    assert sandbox.numbers("accounting")[1] == 2


def test_a_tie_is_said_as_a_tie_when_the_zip_is_no_message(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "Первый")]), ".xml")
    _run(sandbox)
    tied(sandbox, f.Msg(message_no=2, received_no=1, objects=[]), b"PK\x05\x06" + b"\0" * 18)
    err = _run(sandbox, 3)
    assert f"Message_{ACC}_{NODE}.zip has the same modification time as Message_{ACC}_{NODE}" \
           ".xml (a tie, which 1C breaks for the .zip), and it is no message of the base" in err, err
    assert "is the newest" not in err, err
