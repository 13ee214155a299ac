"""Admin mistakes that used to end in exit 0 while nothing was exchanged: each is one line and a
non-zero exit now, in run as in check (the class of issue 17)."""

from __future__ import annotations

import os

import pytest

from onecsync.config import ConfigError
from onecsync.config import parse_config
from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.test_cli import tree_digest


def both_in(box, crm_path: str) -> None:
    box.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM, acc_extra="",
                                           crm_extra="").replace("path: exchange/crm",
                                                                 f"path: {crm_path}"))


@pytest.mark.parametrize("spelled", ["exchange/accounting", "./exchange/../exchange/accounting/",
                                     "{root}/exchange/accounting", "link-to-accounting"])
def test_one_folder_for_both_bases_is_refused(sandbox, spelled):
    (sandbox.root / "link-to-accounting").symlink_to(sandbox.folders["accounting"])
    both_in(sandbox, spelled.format(root=sandbox.root))
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    before = tree_digest(sandbox.root)
    for command in ("run", "check"):
        code, _, err = sandbox.human(command)
        assert code == 3, (command, err)
        assert (f"bases.crm.transport: the same folder as bases.accounting.transport "
                f"({sandbox.folders['accounting']}): give each base its own folder, the one set "
                "in that base's exchange settings") in err, (command, err)
    assert tree_digest(sandbox.root) == before  # nothing sent, no state made


def test_one_folder_mounted_twice_is_refused(sandbox, monkeypatch):
    """A bind mount (or a second share of one folder) resolves to two paths: only the file
    system can tell they are one folder."""
    real = os.path.samefile
    monkeypatch.setattr(os.path, "samefile", lambda a, b: True if {str(a), str(b)} == {
        str(sandbox.folders["accounting"]), str(sandbox.folders["crm"])} else real(a, b))
    code, _, err = sandbox.human("run")
    assert code == 3 and "the same folder as bases.accounting.transport" in err


def _config(acc: dict, crm: dict) -> dict:
    return {"node": {"code": f.NODE},
            "bases": {"accounting": {"code": f.ACCOUNTING, "transport": acc},
                      "crm": {"code": f.CRM, "transport": crm}}}


FTP = {"kind": "ftp", "host": "ftp.example", "user": "u", "password_env": "P"}
HTTP = {"kind": "http", "user": "sync", "password_env": "P"}


@pytest.mark.parametrize("acc, crm, same", [
    ({**FTP, "folder": "/exchange/bp"}, {**FTP, "host": "FTP.example", "folder": "exchange/bp/"},
     "the same FTP folder"),
    ({**HTTP, "url": "https://1c.example/bp"}, {**HTTP, "url": "https://1C.example/bp/"},
     "the same web publication"),
    ({**FTP, "folder": "/exchange/bp"}, {**FTP, "folder": "/exchange/crm"}, None),
    ({**FTP, "folder": "/x"}, {**FTP, "host": "other.example", "folder": "/x"}, None),
    ({**HTTP, "url": "https://1c.example/bp"}, {**HTTP, "url": "https://1c.example/crm"}, None),
], ids=["ftp same", "http same", "ftp two folders", "ftp two hosts", "http two publications"])
def test_one_server_place_for_both_bases_is_refused(tmp_path, acc, crm, same):
    data = _config(acc, crm)
    if same is None:
        parse_config(data, tmp_path, tmp_path / "c.yaml")
        return
    with pytest.raises(ConfigError) as exc:
        parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert [p for p in exc.value.problems if f"bases.crm.transport: {same} as bases.accounting" in p]


def organization(ref: str, inn: str, name: str = "ТехноСнаб") -> str:
    return (f"<Справочник.Организации><КлючевыеСвойства><Ссылка>{ref}</Ссылка>"
            f"<Наименование>{name}</Наименование><ИНН>{inn}</ИНН><КПП>772801001</КПП>"
            "<ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>"
            "</КлючевыеСвойства></Справочник.Организации>")


def with_organizations(box, inns: str) -> None:
    box.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM, acc_extra="",
                                           crm_extra="")
                     + f"flows:\n  pull-settlements:\n    organizations: [{inns}]\n")


def test_an_organization_filter_on_an_inn_the_base_has_not_is_refused(sandbox):
    """A typo in flows.*.organizations let nothing of that organization through, exit 0."""
    with_organizations(sandbox, "'7728415683'")  # two digits swapped: ТехноСнаб is 7728415638
    sandbox.put("accounting", f.Msg(objects=[organization(f.ref(1, "b1d0fb3b"), "7728415638")]))
    line = ("flows.pull-settlements.organizations: 7728415683 is the ИНН of no organization the "
            "accounting base has sent (its organizations: 7728415638), so nothing of it is "
            "exchanged (correct the ИНН in flows.pull-settlements.organizations)")
    code, _, err = sandbox.human("run")
    assert code == 3 and f"onecsync: error: {line}" in err, err
    assert sandbox.outgoing("crm")["objects"]  # the rest of the exchange went on
    code, _, err = sandbox.human("check")
    assert code == 3 and f"onecsync: problem: {line}" in err, err
    with_organizations(sandbox, "'7728415638'")  # corrected
    assert sandbox.human("run")[0] == 0
    assert sandbox.human("check")[0] == 0


def test_an_organization_filter_is_not_judged_before_the_base_sent_its_organizations(sandbox):
    with_organizations(sandbox, "'7728415683'")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.human("run")[0] == 0
    assert sandbox.human("check")[0] == 0


def test_retry_of_a_ref_no_parked_object_has_is_refused(sandbox):
    """A typo in the Ссылка (or one retried already) retried nothing and ended in exit 0."""
    from tests.test_mapping import MAPPED
    from tests.test_mapping import config_with

    config_with(sandbox, MAPPED)
    sandbox.put("accounting", f.Msg(objects=[f.currency(f.ref(2))]))
    assert sandbox.run("pull-catalogs")[0] == 7
    config_with(sandbox, MAPPED.replace('      set: {КлючевыеСвойства/ДанныеКлассификатора: "643"}\n',
                                        '      drop: [НаименованиеПолное]\n'))  # the fix
    typo = f.ref(3)
    dump, journal = sandbox.dump(), sandbox.journal()
    for args in (("retry", typo), ("retry", f.ref(2), typo), ("--dry-run", "retry", typo)):
        code, _, err = sandbox.human(*args)
        assert code == 2, (args, err)
        assert f"onecsync: error: not parked: {typo}; nothing was retried" in err
        assert sandbox.dump() == dump and sandbox.journal() == journal
    code, report, err = sandbox.run("retry", f.ref(2).upper())  # a Ссылка in any case
    assert code == 0, err
    assert ("Справочник.Валюты", f.ref(2)) in sandbox.outgoing("crm")["objects"]
    assert sandbox.human("retry", f.ref(2))[0] == 2  # retried already: no longer parked
