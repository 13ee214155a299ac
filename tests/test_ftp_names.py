"""What an FTP server lists is outside input, name by name (review 7b, #5, #8, spool growth).

A server on a Russian Windows without UTF-8 lists names in cp1251: one such name in the folder
(an unrelated file, or the base's own message under 1C's untransliterated prefix) must not stop
every run as "temporary" for ever. A listed name no file can have ("/", "..", NUL, too long) is
no file of the folder: ignored with one warning, never joined to a local path. The spool names
its files itself and keeps one last download per base, whatever names the server uses.
"""

from __future__ import annotations

import os

import pytest

from tests import factory as f
from tests import test_hostile_servers as hostile

ftp, quick = hostile.ftp, hostile.quick  # its FTP server fixture, and its quick settings

GOOD = f"Message_{f.ACCOUNTING}_{f.NODE}.xml"


def _exchanged(sandbox) -> None:
    """The run received accounting's second message and sent it on to the CRM."""
    assert sandbox.outgoing("crm")["message_no"] == 2


def test_a_name_in_another_encoding_does_not_stop_the_exchange(sandbox, ftp):
    ftp.names_in = "cp1251"
    (sandbox.root / "exchange" / "accounting" / "Отчёт за ноябрь.txt").write_text("x")
    code, _, err = sandbox.run("run")
    assert code == 0, err
    _exchanged(sandbox)


def test_the_base_s_message_under_a_cyrillic_prefix_is_read_from_a_cp1251_server(sandbox, ftp):
    ftp.names_in = "cp1251"
    folder = sandbox.root / "exchange" / "accounting"
    os.rename(folder / GOOD, folder / f"Message_БП_{f.ACCOUNTING}_{f.NODE}.xml")
    code, _, err = sandbox.run("run")
    assert code == 0, err
    _exchanged(sandbox)


@pytest.mark.parametrize("name", [
    f"Message_x/../../../evil_{f.ACCOUNTING}_{f.NODE}.xml",
    f"Message_../evil_{f.ACCOUNTING}_{f.NODE}.xml",
    f"Message_..\\evil_{f.ACCOUNTING}_{f.NODE}.xml",
    f"Message_\0_{f.ACCOUNTING}_{f.NODE}.xml",
    "Message_" + "Ж" * 100 + f"_{f.ACCOUNTING}_{f.NODE}.xml",
], ids=["traversal", "parent", "backslash", "nul", "long"])
def test_a_listed_name_no_file_can_have_is_ignored(sandbox, ftp, name):
    size = (sandbox.root / "exchange" / "accounting" / GOOD).stat().st_size
    # the lie is the newest, so it would be the one taken
    ftp.extra = [f"type=file;size={size};modify=20991231000000; {name}".encode("utf-8")]
    code, _, err = sandbox.run("run")
    assert code == 0, err
    warned = [line for line in err.splitlines() if "names no file can have" in line]
    assert len(warned) == 2, err  # one for each folder the listing served
    assert "RETR" in ftp.commands and not list(sandbox.root.rglob("evil*"))
    _exchanged(sandbox)


def test_the_spool_keeps_one_download_whatever_the_server_names_it(sandbox, ftp):
    folder = sandbox.root / "exchange" / "accounting"
    spool = sandbox.state_path.parent / "onecsync-transfers" / "accounting"
    for i in range(1, 5):
        [current] = [p for p in folder.iterdir() if p.name.endswith(f"_{f.ACCOUNTING}_{f.NODE}.xml")]
        current.rename(folder / f"Message_P{i}_{f.ACCOUNTING}_{f.NODE}.xml")
        sandbox.put("accounting", f.Msg(message_no=2 + i, objects=[
            f.counterparty(f.ref(3), f"ИП {i}")]))
        os.replace(sandbox.incoming("accounting"),
                   folder / f"Message_P{i}_{f.ACCOUNTING}_{f.NODE}.xml")
        code, _, err = sandbox.run("run")
        assert code == 0, err
        assert sorted(p.name for p in spool.iterdir()) == ["delivered.json", "received.xml"], i


def test_text_the_server_keeps_sending_undecodable_is_config_not_temporary():
    """A server's encoding is its setting: no later run reads it better (exit 3, the remedy)."""
    from onecsync.errors import ExitCode
    from onecsync.transport.ftpconn import classify

    exc = UnicodeDecodeError("utf-8", b"\xce", 0, 1, "invalid")
    err = classify(exc, "ftp://host/accounting: listing the folder", None)  # type: ignore[arg-type]
    assert err.exit_code == ExitCode.CONFIG and "another encoding" in err.remedy
