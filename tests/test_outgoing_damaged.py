"""A file under our message's name that is no message onecsync can read (a broken zip, a zip
under another archive password, XML cut short) is damage or another writer's: exit 3 with one
line naming the file and the remedy, nothing written over it, the base's state untouched, the
other base's exchange done; once the admin deletes it, the next run sends again (task T4 #1: a
broken zip was exit 5 "look at the message file … nothing of it was applied", over FTP and for
XML it was written over silently)."""

from __future__ import annotations

import io

import pytest
import pyzipper

from tests import factory as f
from tests.conftest import ftp_peer
from tests.conftest import remote_config
from tests.ftp_server import FtpServer

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
SECOND = f.Msg(message_no=2, received_no=0, created="2026-11-22T09:00:00",
               objects=[f.counterparty(f.ref(2), "АО Василек")])


def _broken_zip(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _other_password(data: bytes) -> bytes:
    """Our own message, zipped by a onecsync with another archive password."""
    with pyzipper.ZipFile(io.BytesIO(data)) as zf:
        entry = zf.infolist()[0]
        xml = zf.read(entry)
    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(b"another")
        zf.writestr(entry.filename, xml)
    return out.getvalue()


def _xml_cut_short(data: bytes) -> bytes:
    return data[: len(data) // 2]


DAMAGE = {"broken-zip": (True, _broken_zip, "not a readable zip"),
          "another-password": (True, _other_password, "archive password"),
          "xml-cut-short": (False, _xml_cut_short, "")}


def _crm_row(sandbox):
    with sandbox.db() as c:
        return c.execute("SELECT * FROM peers WHERE name='crm'").fetchone()


def _damage_and_run(sandbox, damage, description: str):
    sandbox.put("accounting", FIRST)
    code, _, err = sandbox.run("run")
    assert code == 0, err
    path = sandbox.outgoing_path("crm")
    path.write_bytes(damage(path.read_bytes()))
    placed, row = path.read_bytes(), _crm_row(sandbox)
    sandbox.put("accounting", SECOND)
    code, report, err = sandbox.run("run")
    assert code == 3, err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    assert f"crm: {path.name} in {description}, where onecsync puts its message to crm, is " \
        "no message onecsync can read (" in lines[0]
    assert "nothing is written over it (if no other onecsync writes there, delete that " \
        "file: the next run sends crm all it has not confirmed)" in lines[0]
    assert "Traceback" not in err and "nothing of it was applied" not in err
    assert path.read_bytes() == placed and _crm_row(sandbox) == row  # untouched
    # The other base's exchange went on: its message 2 was taken, its receipt written.
    assert report["peers"]["accounting"]["received"]["message_no"] == 2
    assert sandbox.outgoing("accounting")["received_no"] == 2
    return path, lines[0]


@pytest.mark.parametrize("kind", DAMAGE)
def test_an_unreadable_file_under_our_name_stops_that_send_with_exit_3(sandbox, kind):
    compress, damage, why = DAMAGE[kind]
    if compress:
        sandbox.write_config(compress=True)
    path, line = _damage_and_run(sandbox, damage, f"folder {sandbox.folders['crm']}")
    assert why in line
    code, _, err = sandbox.run("run")  # every run, while it is there
    assert code == 3 and "is no message onecsync can read" in err
    path.unlink()  # the admin's remedy
    code, _, err = sandbox.run("run")
    assert code == 0, err
    sent = sandbox.outgoing("crm")
    assert sent["message_no"] == 2 and len(sent["objects"]) == 2


def test_over_ftp_a_broken_zip_under_our_name_is_the_same_exit_3(sandbox, monkeypatch):
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")
    with FtpServer(sandbox.root / "exchange") as server:
        sandbox.write_config(remote_config({
            name: ftp_peer(name, server.port, extra=", compress: true")
            for name in ("accounting", "crm")}))
        path, line = _damage_and_run(sandbox, _broken_zip, f"ftp://127.0.0.1:{server.port}/crm")
        assert "not a readable zip" in line
        path.unlink()
        code, _, err = sandbox.run("run")
        assert code == 0, err
        assert sandbox.outgoing("crm")["message_no"] == 2
