"""`flows.*.organizations` on every way an object names its organization (review R4 #4): a bank
account by its owner, a reference that carries no ИНН (told by its Ссылка from the organizations
the base sent), one that cannot be told at all. Built from the fixture's real 1C objects."""

from __future__ import annotations

import re

import pytest

from tests import factory as f
from tests.test_mapping import config_with

THEIRS, OURS = "7728415638", "7707083893"  # ТехноСнаб (the fixture's), and one the filter keeps
THEIRS_REF, OURS_REF = "b1d0fb3b-54ff-421d-99c6-fe2fc40e4d5c", "11111111-2222-4333-8444-555555555555"
ORG, ACCOUNT, CONTRACT = "Справочник.Организации", "Справочник.БанковскиеСчета", "Справочник.Договоры"


def fixture_objects(tag: str) -> list[str]:
    text = next((f.FIXTURES / "accounting").glob("Message_*.xml")).read_text(encoding="utf-8")
    found = re.findall(rf"<{re.escape(tag)}>.*?</{re.escape(tag)}>", text, re.S)
    return [re.sub(r">\s+<", "><", o) for o in found]


def ref_of(obj: str) -> str:
    return re.search(r"<Ссылка>([^<]+)</Ссылка>", obj).group(1)


def without_inn(obj: str, where: str) -> str:
    """The object with the ИНН taken out of its `where` (Организация, ОрганизацииСсылка)."""
    return re.sub(rf"(<{where}><Ссылка>[^<]+</Ссылка>.*?)<ИНН>\d+</ИНН>", r"\1", obj, count=1, flags=re.S)


@pytest.fixture
def objects():
    theirs = fixture_objects(ORG)[0]
    ours = re.sub(r"<ОсновнойБанковскийСчет>.*?</ОсновнойБанковскийСчет>", "",
                  theirs.replace(THEIRS_REF, OURS_REF).replace(THEIRS, OURS), flags=re.S)
    account = fixture_objects(ACCOUNT)[0]
    first, second = fixture_objects(CONTRACT)[:2]
    return {"orgs": [theirs, ours], "account": account, "theirs": first,
            "ours": second.replace(THEIRS_REF, OURS_REF)}


def sent(sandbox, *objects: str):
    config_with(sandbox, f"flows:\n  pull-catalogs:\n    organizations: ['{OURS}']\n")
    sandbox.put("accounting", f.Msg(objects=list(objects)))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    return sandbox.outgoing("crm")["objects"], report


def test_a_bank_account_of_an_excluded_organization_is_held_back(sandbox, objects):
    out, report = sent(sandbox, *objects["orgs"], objects["account"])
    assert (ACCOUNT, ref_of(objects["account"])) not in out
    assert (ORG, OURS_REF) in out and (ORG, THEIRS_REF) not in out
    assert report["routed"]["pull-catalogs"]["filtered"] == 2  # its organization and the account


def test_a_bank_account_of_a_kept_organization_goes(sandbox, objects):
    account = objects["account"].replace(THEIRS_REF, OURS_REF).replace(THEIRS, OURS)
    out, _ = sent(sandbox, *objects["orgs"], account)
    assert (ACCOUNT, ref_of(account)) in out


def test_an_organization_named_without_its_inn_is_told_by_its_ssylka(sandbox, objects):
    theirs, ours = without_inn(objects["theirs"], "Организация"), without_inn(objects["ours"], "Организация")
    assert "<ИНН>" + THEIRS + "</ИНН></КПП>" not in theirs and theirs != objects["theirs"]
    out, _ = sent(sandbox, *objects["orgs"], theirs, ours)
    assert (CONTRACT, ref_of(ours)) in out
    assert (CONTRACT, ref_of(theirs)) not in out


def test_an_organization_that_cannot_be_told_is_not_one_of_the_filter(sandbox, objects):
    stranger = without_inn(objects["theirs"], "Организация").replace(THEIRS_REF, f.ref(9))
    out, _ = sent(sandbox, *objects["orgs"], stranger)
    assert (CONTRACT, ref_of(stranger)) not in out
    with sandbox.db() as c:
        (reason,) = c.execute("SELECT reason FROM inbox WHERE ref = ? AND status = 'filtered'",
                              (ref_of(stranger),)).fetchone()
    assert f"its organization {f.ref(9)} is not among the organizations the accounting base has sent" in reason


def _filter_ours(sandbox):
    config_with(sandbox, f"flows:\n  pull-catalogs:\n    organizations: ['{OURS}']\n")


def test_an_organization_sent_later_lets_its_objects_go(sandbox, objects):
    """Review R5 H2: 1C sends only what changed; a contract naming our organization by Ссылка
    alone came before the organization did. Held back, said, and gone once it comes."""
    _filter_ours(sandbox)
    ours = without_inn(objects["ours"], "Организация")
    sandbox.put("accounting", f.Msg(message_no=1, objects=[ours]))
    code, _, err = sandbox.run("run")
    assert code == 0 and f"1 object held back: its organization {OURS_REF} is not among" in err, err
    code, text, err = sandbox.human("status")  # held back, and why
    assert code == 0 and f"1 of them: its organization {OURS_REF} is not among" in text, text + err
    sandbox.put("accounting", f.Msg(message_no=2, objects=list(objects["orgs"])))
    code, _, err = sandbox.run("run")
    assert code == 0 and "held back: its organization" not in err, err
    out = sandbox.outgoing("crm")["objects"]
    assert (ORG, OURS_REF) in out and (CONTRACT, ref_of(ours)) in out
    with sandbox.db() as c:
        assert c.execute("SELECT status FROM inbox WHERE ref = ?", (ref_of(ours),)).fetchone() == ("routed",)


def test_an_organization_never_sent_holds_its_objects_back_said_each_run(sandbox, objects):
    _filter_ours(sandbox)
    stranger = without_inn(objects["theirs"], "Организация").replace(THEIRS_REF, f.ref(9))
    sandbox.put("accounting", f.Msg(message_no=1, objects=[stranger]))
    assert sandbox.run("run")[0] == 0
    sandbox.put("accounting", f.Msg(message_no=2, objects=[objects["orgs"][1]]))  # ours alone
    for _ in range(2):
        code, report, err = sandbox.run("run")
        assert code == 0 and f"1 object held back: its organization {f.ref(9)} is not among" in err, err
    assert (CONTRACT, ref_of(stranger)) not in sandbox.outgoing("crm")["objects"]
    code, status, _ = sandbox.run("status")
    (reason,) = status["peers"]["accounting"]["untold"]
    assert code == 0 and reason.startswith(f"its organization {f.ref(9)} is not among"), status
    assert status["peers"]["accounting"]["untold"][reason] == 1


def test_an_organization_sent_without_inn_is_not_waited_for(sandbox, objects):
    """A non-resident's organization has no ИНН: the filter, by ИНН, never takes it, and
    nothing waits for it (no warning each run)."""
    _filter_ours(sandbox)
    foreign = re.sub(r"<ИНН>\d+</ИНН>", "", objects["orgs"][0], count=1)
    contract = without_inn(objects["theirs"], "Организация")
    sandbox.put("accounting", f.Msg(message_no=1, objects=[foreign, contract]))
    code, _, err = sandbox.run("run")
    assert code == 0 and "held back: its organization" not in err, err
    with sandbox.db() as c:
        (reason,) = c.execute("SELECT reason FROM inbox WHERE ref = ?", (ref_of(contract),)).fetchone()
    assert reason.startswith(f"its organization {THEIRS_REF} has no ИНН, and"), reason


def test_held_back_by_an_older_onecsync_is_judged_again(sandbox, objects):
    """The reason an older onecsync wrote for an organization not sent yet (held for good)."""
    import sqlite3
    _filter_ours(sandbox)
    ours = without_inn(objects["ours"], "Организация")
    sandbox.put("accounting", f.Msg(message_no=1, objects=[ours]))
    assert sandbox.run("run")[0] == 0
    old = (f"its organization {OURS_REF} has no ИНН the accounting base has sent, and "
           "flows.pull-catalogs.organizations takes organizations by ИНН")
    with sqlite3.connect(sandbox.state_path) as c:
        assert c.execute("UPDATE inbox SET reason = ? WHERE ref = ?", (old, ref_of(ours))).rowcount == 1
    c.close()
    sandbox.put("accounting", f.Msg(message_no=2, objects=list(objects["orgs"])))
    assert sandbox.run("run")[0] == 0
    assert (CONTRACT, ref_of(ours)) in sandbox.outgoing("crm")["objects"]
