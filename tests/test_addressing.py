"""A base's message under codes that are not the config's: `run` and `check` say which file,
which codes it names and which key to fix (exit 3), instead of "no message" and exit 0."""

from __future__ import annotations

import os

import pytest

from tests import factory as f
from tests.conftest import DEFAULT_CONFIG

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
        " and 47 more:" in line
