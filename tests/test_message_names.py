"""The base's message is read under every name 1C writes it (review 6, findings 4, 5, m5, m9).

SSL names a base's message `Message_<infobase prefix>_<its code>_<our code>` once the base has a
prefix (every BP/CRM with data synchronization), transliterated `Message_BP_…`, and reads with
the mask `Message*_<peer>_<own>.*`; codes are the strings the admin typed, in either case. Each
name below was "no message from the base", exit 0 on every run, while nothing was exchanged.
"""

from __future__ import annotations

import os
import unicodedata

import pytest

from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.conftest import ftp_peer
from tests.ftp_server import FtpServer

UPPER_NODE = f.NODE.upper()
UPPER_ACC = f.ACCOUNTING.upper()


def message(sender=f.ACCOUNTING, to=f.NODE, no=1, extra="") -> bytes:
    return f.Msg(sender=sender, to=to, message_no=no, header_extra=extra,
                 objects=[f.counterparty(f.ref(no), f"ООО Ромашка {no}")]).xml()


def folder_config(box, node=f.NODE, acc=f.ACCOUNTING, acc_extra="") -> None:
    box.write_config(DEFAULT_CONFIG.format(node=node, acc=acc, crm=f.CRM, acc_extra=acc_extra,
                                           crm_extra=""))


def ftp_config(box, port: int, node=f.NODE, acc=f.ACCOUNTING) -> None:
    codes = {"accounting": acc, "crm": f.CRM}
    box.write_config(f"node:\n  code: {node}\nstate: state/onecsync.sqlite\nbases:\n" + "".join(
        f"  {name}:\n    code: {codes[name]}\n    transport: {{{ftp_peer(name, port)}}}\n"
        for name in codes))


def received(box) -> int:
    code, report, err = box.run("run")
    assert code == 0, err
    return report["peers"]["accounting"]["received"]["objects"]


# (config codes, the name the base writes, the header's codes, the name 1C looks for ours under)
NAMES = {
    "prefix": ({}, f"Message_БП_{f.ACCOUNTING}_{f.NODE}.xml", {},
               f"Message_{f.NODE}_{f.ACCOUNTING}.xml"),
    "transliterated prefix, zipped": ({}, f"Message_BP_{f.ACCOUNTING}_{f.NODE}.zip", {},
                                      f"Message_{f.NODE}_{f.ACCOUNTING}.xml"),
    "a name in another case, as Windows 1C reads it": (
        {}, f"message_{f.ACCOUNTING}_{f.NODE}.XML", {}, f"Message_{f.NODE}_{f.ACCOUNTING}.xml"),
    "our code in upper case": (dict(node=UPPER_NODE), f"Message_{f.ACCOUNTING}_{UPPER_NODE}.xml",
                               dict(to=UPPER_NODE), f"Message_{UPPER_NODE}_{f.ACCOUNTING}.xml"),
    "the base's code in upper case, and a prefix": (
        dict(acc=UPPER_ACC), f"Message_БП_{UPPER_ACC}_{f.NODE}.xml", dict(sender=UPPER_ACC),
        f"Message_{f.NODE}_{UPPER_ACC}.xml"),
}


def leave(folder, name: str, data: bytes) -> None:
    if name.endswith(".zip"):
        import zipfile
        with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name.replace(".zip", ".xml"), data)
    else:
        (folder / name).write_bytes(data)


@pytest.mark.parametrize("kind", NAMES)
def test_the_base_message_is_read_under_each_name_1c_gives_it(sandbox, kind):
    codes, name, header, ours = NAMES[kind]
    folder_config(sandbox, **codes)
    leave(sandbox.folders["accounting"], name, message(**header))
    code, out, err = sandbox.human("check")
    assert code == 0, err
    assert f"the base's message {name} is there" in err, err
    assert received(sandbox) == 1
    assert (sandbox.folders["accounting"] / ours).is_file()  # the spelling the base looks for
    from onecsync.protocol.reader import MessageReader
    with open(sandbox.folders["accounting"] / ours, "rb") as stream:
        h = MessageReader(stream, ours).header  # and its header spells the codes alike
    assert f"Message_{h.sender}_{h.to}.xml" == ours
    assert sorted(os.listdir(sandbox.folders["accounting"])) == sorted([name, ours])
    code, out, err = sandbox.human("run")  # the next run: the same file, unchanged
    assert code == 0 and "unchanged since the last run" in err, err


@pytest.mark.parametrize("kind", NAMES)
def test_over_ftp_the_base_message_is_read_under_each_name_1c_gives_it(sandbox, monkeypatch,
                                                                       kind):
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")
    codes, name, header, ours = NAMES[kind]
    leave(sandbox.folders["accounting"], name, message(**header))
    with FtpServer(sandbox.root / "exchange") as server:
        ftp_config(sandbox, server.port, **codes)
        code, out, err = sandbox.human("check")
        assert code == 0, err
        assert f"the base's message {name} is there" in err, err
        assert received(sandbox) == 1
        assert (sandbox.folders["accounting"] / ours).is_file()
        code, out, err = sandbox.human("run")
        assert code == 0, err


def test_of_an_old_and_a_new_name_the_newest_is_read_and_the_other_named(sandbox):
    """The admin set the prefix after the first exchange: the old unprefixed file stays."""
    folder = sandbox.folders["accounting"]
    old, new = f"Message_{f.ACCOUNTING}_{f.NODE}.xml", f"Message_БП_{f.ACCOUNTING}_{f.NODE}.xml"
    (folder / old).write_bytes(message(no=1))
    assert received(sandbox) == 1
    (folder / new).write_bytes(message(no=2))
    os.utime(folder / old, (1_700_000_000, 1_700_000_000))
    code, out, err = sandbox.human("run")
    assert code == 0, err
    assert "received message 2" in err, err
    assert f"{folder / new} is read as the base's newest message; older beside it, left unread " \
           f"as 1C leaves them: {old}" in err, err
    code, _, err = sandbox.human("check")  # check says it as the run does
    assert code == 0 and f"left unread as 1C leaves them: {old}" in err, err
    code, out, err = sandbox.human("run")  # the same two files: said once, not every run
    assert code == 0 and "left unread" not in err, err
    (folder / old).write_bytes(message(no=3))  # the base writes its old name again
    code, out, err = sandbox.human("run")
    assert code == 0 and "received message 3" in err, err
    assert f"{folder / old} is read as the base's newest message" in err and new in err, err


def test_a_stale_newest_file_hiding_the_base_message_is_exit_3_naming_both(sandbox):
    """Review 7b m1: a copy of an old message under a name of the mask, newer by its time than
    the base's message (touched, copied without -p): 1C takes only the newest, so the base's
    real message beside it would sit unread while every run exits 0."""
    folder = sandbox.folders["accounting"]
    old, new = f"Message_{f.ACCOUNTING}_{f.NODE}.xml", f"Message_БП_{f.ACCOUNTING}_{f.NODE}.xml"
    (folder / old).write_bytes(message(no=1))
    assert received(sandbox) == 1
    (folder / new).write_bytes(message(no=2))
    later = (folder / new).stat().st_mtime + 60
    os.utime(folder / old, (later, later))  # the old one is now the newer by its time
    for command in ("run", "run", "check"):
        code, out, err = sandbox.human(command)
        assert code == 3, (command, err)
        assert f"{old} is the newest file under the name of the base's message, but it holds " \
               f"message 1, older than message 2 in {new} beside it" in err, err
        assert f"remove the file the base no longer writes: {old}" in err, err
    assert sandbox.numbers("accounting")[1] == 1
    (folder / old).unlink()
    code, out, err = sandbox.human("run")
    assert code == 0 and "received message 2" in err, err


def test_over_ftp_of_two_names_the_newest_is_read_and_the_other_named(sandbox, monkeypatch):
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")
    folder = sandbox.folders["accounting"]
    old, new = f"Message_{f.ACCOUNTING}_{f.NODE}.xml", f"Message_BP_{f.ACCOUNTING}_{f.NODE}.xml"
    (folder / old).write_bytes(message(no=1))
    os.utime(folder / old, (1_700_000_000, 1_700_000_000))
    (folder / new).write_bytes(message(no=2))
    with FtpServer(sandbox.root / "exchange") as server:
        ftp_config(sandbox, server.port)
        code, out, err = sandbox.human("run")
        assert code == 0, err
        assert "received message 2" in err, err
        assert f"/accounting/{new} is read as the base's newest message" in err, err
        assert f"left unread as 1C leaves them: {old}" in err, err
        code, _, err = sandbox.human("check")
        assert code == 0 and f"left unread as 1C leaves them: {old}" in err, err


def test_a_prefixed_name_under_other_codes_is_a_config_error_naming_it(sandbox):
    other = "11111111-2222-4333-8444-555555555555"
    folder_config(sandbox, acc=other)
    name = f"Message_БП_{f.ACCOUNTING}_{f.NODE}.xml"
    (sandbox.folders["accounting"] / name).write_bytes(message())
    for command in ("run", "check"):
        code, out, err = sandbox.human(command)
        assert code == 3, (command, out, err)
        assert name in out + err and f"bases.accounting.code is {other}" in out + err
    assert sandbox.dump().get("inbox", []) == []


@pytest.mark.parametrize("entry", ["link outside", "fifo"])
def test_a_prefixed_name_is_opened_as_safely_as_the_plain_one(sandbox, tmp_path, entry):
    folder = sandbox.folders["accounting"]
    path = folder / f"Message_БП_{f.ACCOUNTING}_{f.NODE}.xml"
    if entry == "fifo":
        os.mkfifo(path)
    else:
        outside = tmp_path / "elsewhere.xml"
        outside.write_bytes(message())
        path.symlink_to(outside)
    for command in ("run", "check"):
        code, out, err = sandbox.human(command)
        assert code == 3, (command, out, err)
        assert path.name in out + err, (command, out, err)
    assert sandbox.numbers("accounting")[1] == 0


def test_the_base_predefined_node_alias_is_read_when_configured(sandbox):
    """m9: a base that still writes under its old code (SSL PredefinedNodeAlias): From is the
    alias, NewFrom its code, the name `Message_<alias>_<our code>`."""
    name = f"Message_БП01_{f.NODE}.xml"
    (sandbox.folders["accounting"] / name).write_bytes(
        message(sender="БП01", extra=f"<msg:NewFrom>{f.ACCOUNTING}</msg:NewFrom>"))
    code, _, err = sandbox.human("run")
    assert code == 0 and "not node codes" in err, err  # unknown: named, not read
    assert sandbox.numbers("accounting")[1] == 0
    sandbox.write_config(sandbox.config.read_text().replace(
        f"code: {f.ACCOUNTING}", f"code: {f.ACCOUNTING}\n    alias: БП01"))
    code, out, err = sandbox.human("check")
    assert code == 0 and f"the base's message {name} is there" in err, err
    assert received(sandbox) == 1


def test_a_folder_spelled_in_another_normalization_is_named(sandbox):
    """m5: made over SMB or on macOS the folder's name is NFD; the config has it NFC."""
    nfc = unicodedata.normalize("NFC", "Бухгалтерий")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    real = sandbox.root / "exchange" / nfd
    os.rename(sandbox.folders["accounting"], real)
    folder_config(sandbox, acc_extra="")
    text = sandbox.config.read_text(encoding="utf-8")
    sandbox.write_config(text.replace("path: exchange/accounting", f"path: exchange/{nfc}"))
    assert sandbox.config.read_text(encoding="utf-8") != text
    for command in ("run", "check"):
        code, out, err = sandbox.human(command)
        assert code == 3, (command, out, err)
        assert f"but {real} does: the names differ only in letter case or in Unicode " \
               "normalization (NFC/NFD)" in out + err, (command, out, err)
