"""A base's message under codes that are not the config's: `run` and `check` say which file,
which codes it names and which key to fix (exit 3), instead of "no message" and exit 0."""

from __future__ import annotations

import os

import pytest

from onecsync.text import one_line as one_line_of
from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.conftest import ftp_peer
from tests.conftest import http_peer
from tests.ftp_server import FtpServer

OTHER = "11111111-2222-4333-8444-555555555555"


def config(box, node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM) -> None:
    box.write_config(DEFAULT_CONFIG.format(node=node, acc=acc, crm=crm, acc_extra="",
                                           crm_extra=""))


def one_line(err: str) -> str:
    (line,) = [ln for ln in err.splitlines() if "onecsync: error: " in ln]
    return line


# (how the admin gets the config wrong, the file the base really writes, what the line says)
MISTAKES = {
    "wrong node code": (dict(node=OTHER), f"Message_{f.ACCOUNTING}_{f.NODE}.xml",
                        [f"addressed to node code {f.NODE}", f"node.code is {OTHER}",
                         f"set node.code to {f.NODE}"]),
    "base codes swapped": (dict(acc=f.CRM, crm=f.ACCOUNTING), f"Message_{f.ACCOUNTING}_{f.NODE}.xml",
                           [f"comes from the crm base's code {f.ACCOUNTING}",
                            "bases.accounting.code and bases.crm.code look swapped"]),
    "wrong base code": (dict(acc=OTHER), f"Message_{f.ACCOUNTING}_{f.NODE}.xml",
                        [f"from a base with code {f.ACCOUNTING}", f"bases.accounting.code is {OTHER}",
                         "set bases.accounting.code"]),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_message_under_other_codes_is_named_in_run_and_check(sandbox, mistake):
    codes, file, says = MISTAKES[mistake]
    config(sandbox, **codes)
    (sandbox.folders["accounting"] / file).write_bytes(
        f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]).xml())
    for command in ("run", "check"):
        code, out, err = sandbox.human(command)
        assert code == 3, (command, out, err)
        text = one_line(err) if command == "run" else out + err
        assert file in text, (command, text)
        for part in says:
            assert part in text, (command, part, text)
    assert sandbox.dump().get("inbox", []) == []  # nothing of it was taken
    config(sandbox)  # the fix: the same file is now received
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 1


def ftp_config(box, port: int, node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM) -> None:
    codes = {"accounting": acc, "crm": crm}
    box.write_config(f"node:\n  code: {node}\nstate: state/onecsync.sqlite\nbases:\n" + "".join(
        f"  {name}:\n    code: {codes[name]}\n    transport: {{{ftp_peer(name, port)}}}\n"
        for name in codes))


@pytest.mark.parametrize("mistake", MISTAKES)
def test_over_ftp_a_message_under_other_codes_is_named_as_for_a_folder(sandbox, monkeypatch,
                                                                       mistake):
    """review5 F6: the same rule (flows/addressing.py) from the FTP listing: exit 3 naming the
    file and the key, never exit 0 with nothing exchanged."""
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")
    codes, file, says = MISTAKES[mistake]
    (sandbox.folders["accounting"] / file).write_bytes(
        f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]).xml())
    with FtpServer(sandbox.root / "exchange") as server:
        ftp_config(sandbox, server.port, **codes)
        for command in ("run", "check"):
            code, out, err = sandbox.human(command)
            assert code == 3, (command, out, err)
            text = one_line(err) if command == "run" else out + err
            assert file in text and "ftp://127.0.0.1" in text, (command, text)
            for part in says:
                assert part in text, (command, part, text)
        assert sandbox.dump().get("inbox", []) == []
        ftp_config(sandbox, server.port)  # the fix: the same file is now received
        code, report, err = sandbox.run("run")
        assert code == 0, err
        assert report["peers"]["accounting"]["received"]["objects"] == 1
        code, _, err = sandbox.human("run")  # our own messages beside the base's: no mistake
        assert code == 0, err


def test_our_own_message_and_an_empty_folder_are_not_mistakes(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0  # our messages to both now sit in the folders
    code, out, err = sandbox.human("check")
    assert code == 0, err
    code, _, err = sandbox.human("run")
    assert code == 0, err


def test_a_state_made_under_another_node_code_is_refused(sandbox):
    """The admin reruns `init --force` (a new node code) next to the old state: the bases' real
    messages would be skipped as "received earlier"; run and check refuse it instead."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    before = sandbox.dump()
    config(sandbox, node=OTHER)
    for command in ("run", "check"):
        code, out, err = sandbox.human(command)
        assert code == 3, (command, out, err)
        text = one_line(err) if command == "run" else out + err
        assert f"was made for node.code {f.NODE}, but the config names {OTHER}" in text
        assert f"set node.code back to {f.NODE}" in text
    assert sandbox.dump() == before
    config(sandbox)
    assert sandbox.run("run")[0] == 0


def test_a_state_from_before_records_the_node_code_on_its_first_run(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    import sqlite3
    with sqlite3.connect(sandbox.state_path) as c:  # as a state made before this was recorded
        c.execute("DELETE FROM meta WHERE key IN ('node_code', 'exchange_plan')")
    c.close()
    assert sandbox.human("check")[0] == 0
    assert sandbox.run("run")[0] == 0
    with sandbox.db() as c:
        assert dict(c.execute("SELECT key, value FROM meta WHERE key = 'node_code'")) == \
            {"node_code": f.NODE}


# Named like a 1C message, but its codes are no node codes: no 1C base wrote it.
NOT_CODES = {
    "non-UTF-8 bytes": (b"Message_\xff\xfeabc_" + f.NODE.encode() + b".xml",
                        f"Message_\\xff\\xfeabc_{f.NODE}.xml"),
    "not a UUID": (f"Message_backup-old_{f.NODE}.xml".encode(), f"Message_backup-old_{f.NODE}.xml"),
    "a control character": (f"Message_{f.ACCOUNTING}\n_{f.NODE}.xml".encode(),
                            f"Message_{f.ACCOUNTING}\\n_{f.NODE}.xml"),
}


@pytest.mark.parametrize("kind", NOT_CODES)
@pytest.mark.parametrize("with_message", [False, True], ids=["alone", "beside the message"])
def test_a_name_whose_codes_are_not_node_codes_is_ignored_alike_in_run_and_check(
        sandbox, kind, with_message):
    raw, shown = NOT_CODES[kind]
    with open(bytes(sandbox.folders["accounting"]) + b"/" + raw, "wb") as junk:
        junk.write(b"<x/>")
    if with_message:
        sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    warning = (f"onecsync: warning: accounting: ignored in folder {sandbox.folders['accounting']}: "
               f"{shown}: named like a 1C message, but its codes are not node codes (UUIDs); "
               "remove it if nothing of yours needs it")
    for command in ("check", "run"):
        code, out, err = sandbox.human(command)
        assert code == 0, (command, err)
        assert err.count(warning) == 1, (command, err)
        assert "\\udc" not in err and "error" not in err, (command, err)
    assert sandbox.numbers("accounting")[1] == (1 if with_message else 0)
    assert os.path.exists(bytes(sandbox.folders["accounting"]) + b"/" + raw)  # not ours to remove


def test_a_flood_of_such_names_is_one_warning(sandbox):
    for i in range(50):
        (sandbox.folders["crm"] / f"Message_copy{i:02}_{f.NODE}.xml").write_bytes(b"")
    code, _, err = sandbox.human("run")
    assert code == 0
    (line,) = [ln for ln in err.splitlines() if "ignored in folder" in ln]
    assert f"Message_copy00_{f.NODE}.xml, Message_copy01_{f.NODE}.xml, Message_copy02_{f.NODE}.xml" \
        ", and 47 more:" in line


def http_config(box, urls: dict[str, str], node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM) -> None:
    codes = {"accounting": acc, "crm": crm}
    box.write_config(f"node:\n  code: {node}\nstate: state/onecsync.sqlite\nbases:\n" + "".join(
        f"  {name}:\n    code: {codes[name]}\n    transport: {{{http_peer(urls[name])}}}\n"
        for name in codes))


# Over HTTP there is no folder to list: the base exports for the node code we give and the
# header's From and To are judged by the same rule (flows/addressing.judge).
HTTP_MISTAKES = {
    "wrong node code": (dict(node=OTHER), [f"has no node with code {OTHER}",
                                           "with node.code as its code"]),
    "base codes swapped": (dict(acc=f.CRM, crm=f.ACCOUNTING),
                           [f"comes from the crm base's code {f.ACCOUNTING}",
                            "bases.accounting.code and bases.crm.code look swapped"]),
    "wrong base code": (dict(acc=OTHER), [f"from a base with code {f.ACCOUNTING}",
                                          f"bases.accounting.code is {OTHER}",
                                          "set bases.accounting.code"]),
}


@pytest.mark.parametrize("mistake", HTTP_MISTAKES)
def test_over_http_a_wrong_code_is_a_config_problem_too(sandbox, monkeypatch, mistake):
    from onecsync.transport import operations as http_operations
    from tests.emulator.remote import lone
    from tests.exchange_service import ExchangeService

    monkeypatch.setattr(http_operations, "FIRST_POLL", 0.001)
    monkeypatch.setenv("ONECSYNC_TEST_PW", "s3cret")
    codes, says = HTTP_MISTAKES[mistake]
    acc, crm = lone("accounting", f.counterparty(f.ref(1), "ООО Ромашка")), lone("crm")
    with ExchangeService(acc) as sa, ExchangeService(crm, publication="crm") as sc:
        urls = {"accounting": sa.url, "crm": sc.url}
        http_config(sandbox, urls, **codes)
        code, out, err = sandbox.human("run")
        assert code == 3, (out, err)
        text = next(ln for ln in err.splitlines() if "error: " in ln and sa.url in ln)
        for part in says:
            assert part in text, (part, text)
        assert sandbox.dump().get("inbox", []) == []
        assert sandbox.numbers("accounting")[1] == 0
        http_config(sandbox, urls)  # the fix: the base's next export is received
        code, report, err = sandbox.run("run")
        assert code == 0, err
        assert report["peers"]["accounting"]["received"]["objects"] == 1


def test_the_line_and_its_remedy_are_in_russian(sandbox, russian):
    """The remedy carries a value: it is translated as a remedy, not swallowed by the last
    field of the message's template (and then by "{number} of {date}")."""
    config(sandbox, acc=OTHER)
    (sandbox.folders["accounting"] / f"Message_{f.ACCOUNTING}_{f.NODE}.xml").write_bytes(
        f.Msg().xml())
    code, _, err = sandbox.human("run")
    assert code == 3
    line = next(ln for ln in err.splitlines() if "accounting: файл Message_" in ln)
    assert f"но bases.accounting.code равен {OTHER} (задайте в bases.accounting.code код узла " \
           f"базы, которая туда пишет, — вероятно, {f.ACCOUNTING})" in line, line


@pytest.mark.parametrize("spoilt", [
    f"Message_{f.ACCOUNTING}_{f.NODE}.xml ", f"Message_{f.ACCOUNTING}_{f.NODE}.xml\u00a0",
    f"Message_{f.ACCOUNTING}\u200b_{f.NODE}.xml", f"Message_{f.ACCOUNTING}_{f.NODE} .zip"],
    ids=["trailing-space", "trailing-nbsp", "zero-width-space", "space-before-zip"])
def test_a_near_miss_of_the_base_s_name_is_said_naming_the_name_expected(sandbox, spoilt):
    """Not read (nor by 1C), and never a silent "no message" (review R7): the file and the
    name it should have, in run and check alike."""
    (sandbox.folders["accounting"] / spoilt).write_bytes(
        f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]).xml())
    for command in ("check", "run"):
        code, _, err = sandbox.human(command)
        assert code == 0, (command, err)
        (line,) = [ln for ln in err.splitlines() if "named almost like" in ln]
        assert f"warning: accounting: {one_line_of(spoilt)} in folder {sandbox.folders['accounting']} is " \
               f"named almost like the base's message to us, Message_{f.ACCOUNTING}_{f.NODE}" \
               ".xml, but with a space or an invisible character: it is not read" in line, line
    assert sandbox.numbers("accounting")[1] == 0
