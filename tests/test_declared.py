"""What onecsync declares in every header (AvailableObjectTypes, Prefix), and the settings message."""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree

from onecsync import formats
from onecsync.config import DEFAULT_FLOWS
from onecsync.config import load_config
from onecsync.flows.declared import declared_types
from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.conftest import assert_valid_message
from tests.conftest import parse_message

NS = {"m": formats.ENVELOPE_NS}
CATALOGS = set(DEFAULT_FLOWS["pull-catalogs"])
INVOICES = set(DEFAULT_FLOWS["push-invoices"])
SETTLEMENTS = set(DEFAULT_FLOWS["pull-settlements"])


def declared(path) -> dict[str, tuple[str, str]]:
    header, _, _ = parse_message(path)
    return {ot.findtext("m:Name", namespaces=NS): (ot.findtext("m:Sending", namespaces=NS),
                                                   ot.findtext("m:Receiving", namespaces=NS))
            for ot in header.findall("m:AvailableObjectTypes/m:ObjectType", NS)}


def header_names(path) -> list[str]:
    header, _, _ = parse_message(path)
    return [etree.QName(el).localname for el in header]


def exchange_once(sandbox) -> None:
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=0))
    code, _, err = sandbox.run("run")
    assert code == 0, err


def test_every_data_message_declares_what_we_send_and_take_per_base(sandbox):
    exchange_once(sandbox)
    to_acc = declared(sandbox.outgoing("accounting")["path"])
    to_crm = declared(sandbox.outgoing("crm")["path"])
    # To accounting we send invoices; from it we take catalogs, settlements and invoices.
    assert {n for n, (s, _) in to_acc.items() if s} == INVOICES
    assert {n for n, (_, r) in to_acc.items() if r} == CATALOGS | SETTLEMENTS | INVOICES
    # To the CRM we send catalogs, settlements and invoices; from it we take invoices.
    assert {n for n, (s, _) in to_crm.items() if s} == CATALOGS | SETTLEMENTS | INVOICES
    assert {n for n, (_, r) in to_crm.items() if r} == INVOICES
    # Every default type exists in every version we offer: "*", or "" for "not this way".
    assert set(to_acc["Справочник.Контрагенты"]) == {"", "*"}
    assert to_acc["Документ.ЗаказКлиента"] == ("*", "*")
    assert to_crm["Справочник.Контрагенты"] == ("*", "")


def test_the_header_keeps_1c_order_with_prefix(sandbox):
    sandbox.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM,
                                               acc_extra="", crm_extra="")
                         .replace(f"  code: {f.NODE}\n", f"  code: {f.NODE}\n  prefix: OS\n", 1))
    exchange_once(sandbox)
    for peer in ("accounting", "crm"):
        path = sandbox.outgoing(peer)["path"]  # checked against 1C's ordered Header type
        names = header_names(path)
        versions = [i for i, n in enumerate(names) if n == "AvailableVersion"]
        assert names.index("AvailableObjectTypes") == versions[-1] + 1
        assert names[-1] == "Prefix" and names.index("Prefix") == names.index("AvailableObjectTypes") + 1
        header, _, _ = parse_message(path)
        assert header.findtext("m:Prefix", namespaces=NS) == "OS"


def test_a_type_missing_from_some_offered_versions_lists_the_versions_it_has(sandbox):
    text = DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM, acc_extra="",
                                 crm_extra="")
    text += ("flows:\n  pull-catalogs:\n    objects: [Справочник.Контрагенты, "
             "Справочник.СтавкиНДС, Справочник.Патенты]\n")
    sandbox.write_config(text)
    exchange_once(sandbox)
    to_crm = declared(sandbox.outgoing("crm")["path"])
    assert to_crm["Справочник.Контрагенты"] == ("*", "")
    assert to_crm["Справочник.СтавкиНДС"] == ("1.17", "")  # 1C's VAT rates catalog came in 1.17
    assert to_crm["Справочник.Патенты"] == ("1.10,1.11,1.12,1.15,1.16,1.17", "")


def test_declarations_are_sorted_and_each_type_appears_once(sandbox):
    cfg = load_config(sandbox.config)
    decls = declared_types(cfg, "accounting")
    names = [d.name for d in decls]
    assert names == sorted(names) and len(names) == len(set(names))
    assert len(names) == len(CATALOGS | SETTLEMENTS | INVOICES)


# -- the settings message ---------------------------------------------------------------------

def settings_file(peer: str):
    code = f.ACCOUNTING if peer == "accounting" else f.CRM
    return f"Message_{f.NODE}_{code}.xml"


@pytest.mark.parametrize("peer", ["accounting", "crm"])
def test_settings_message_is_a_valid_settings_only_message(sandbox, monkeypatch, peer):
    monkeypatch.chdir(sandbox.root)
    code, report, err = sandbox.run("settings-message", peer)
    assert code == 0, err
    path = sandbox.root / settings_file(peer)
    assert report["file"] == settings_file(peer) and path.exists()
    assert_valid_message(path)
    header, version, objects = parse_message(path)
    assert version is None and objects == []
    root = etree.parse(str(path)).getroot()
    assert [etree.QName(el).localname for el in root] == ["Header"]  # no Body at all
    assert header.findtext("m:Format", namespaces=NS) == formats.BASE_URI
    conf = {etree.QName(el).localname: el.text for el in header.find("m:Confirmation", NS)}
    assert conf == {"ExchangePlan": f.PLAN, "To": sandbox.code(peer), "From": f.NODE,
                    "MessageNo": "0", "ReceivedNo": "0"}
    assert [v.text for v in header.findall("m:AvailableVersion", NS)] == list(f.BASE_VERSIONS)
    expected = {d.name: (d.sending, d.receiving)
                for d in declared_types(load_config(sandbox.config), peer)}
    assert {k: (s or "", r or "") for k, (s, r) in declared(path).items()} == expected


def test_settings_message_declares_the_same_as_the_data_messages(sandbox, monkeypatch):
    exchange_once(sandbox)
    monkeypatch.chdir(sandbox.root)
    sandbox.run("settings-message", "crm")
    assert declared(sandbox.root / settings_file("crm")) == declared(
        sandbox.outgoing("crm")["path"])


def test_settings_message_declares_the_types_kept_declared(sandbox, monkeypatch):
    """Review 8 #7: a type declared to a base as received stays declared when the flows drop it
    (flows/declared.py); the settings message dropped it, and 1C, loading it, would stop
    registering for us what the base makes of it."""
    exchange_once(sandbox)  # declares sales as received from accounting
    sale = "Документ.РеализацияТоваровУслуг"
    sandbox.write_config(sandbox.config.read_text(encoding="utf-8") + (
        "flows:\n  pull-settlements:\n    objects: [Документ.ВозвратТоваровОтПокупателя]\n"))
    monkeypatch.chdir(sandbox.root)
    assert sandbox.run("settings-message", "accounting")[0] == 0
    assert declared(sandbox.root / settings_file("accounting"))[sale] == ("", "*")
    assert declared(sandbox.outgoing("accounting")["path"])[sale] == ("", "*")


def test_settings_message_never_replaces_a_data_message(sandbox):
    exchange_once(sandbox)
    ours = sandbox.outgoing("crm")["path"]
    before = ours.read_bytes()
    code, report, err = sandbox.run("settings-message", "crm", "-o", str(sandbox.folders["crm"]))
    assert code == 2
    assert "not a settings-only message" in err and "--force" in err
    assert ours.read_bytes() == before
    assert not [p for p in sandbox.folders["crm"].iterdir() if p.name.startswith(".onecsync")]


def test_settings_message_replaces_an_older_settings_message_in_a_folder(sandbox):
    folder = sandbox.folders["accounting"]
    assert sandbox.run("settings-message", "accounting", "-o", str(folder))[0] == 0
    path = folder / settings_file("accounting")
    old = path.stat().st_ino
    code, report, _ = sandbox.run("settings-message", "accounting", "-o", str(folder))
    assert code == 0 and report["file"] == str(path)
    assert path.stat().st_ino != old  # written anew, through a rename
    assert_valid_message(path)


def test_settings_message_to_stdout(sandbox, capsys):
    from onecsync.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(sandbox.config), "settings-message", "accounting", "-o", "-"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    root = etree.fromstring(out.encode())
    assert root.find("m:Header/m:Format", NS).text == formats.BASE_URI
    assert not formats.validate_header(root[0])


def test_settings_message_dry_run_writes_nothing(sandbox, monkeypatch):
    monkeypatch.chdir(sandbox.root)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sandbox.root.rglob("*")
              if p.is_file()}
    code, report, _ = sandbox.run("--dry-run", "settings-message", "crm")
    assert code == 0 and report["dry_run"] is True
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sandbox.root.rglob("*")
             if p.is_file()}
    assert after == before
