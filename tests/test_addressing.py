"""A base's message under codes that are not the config's: `run` and `check` say which file,
which codes it names and which key to fix (exit 3), instead of "no message" and exit 0."""

from __future__ import annotations

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
