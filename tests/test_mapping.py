"""The mapping section: golden cases (input object + rules → expected object), and what the
flows do with it: mapped objects sent, failing ones parked with exit 7 and retried, the
organization filter, and objects the peer's version cannot carry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from lxml import etree

from onecsync import formats
from onecsync.config import parse_config
from onecsync.mapping import MappingError
from onecsync.mapping import apply_rules
from onecsync.protocol.objects import parse_object
from tests import factory as f

GOLDEN = Path(__file__).parent / "golden" / "mapping"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
UPDATE = os.environ.get("ONECSYNC_UPDATE_GOLDEN") == "1"


def rules_of(case: Path):
    section = yaml.safe_load((case / "rules.yaml").read_text(encoding="utf-8"))
    data = {"node": {"code": f.NODE},
            "bases": {p: {"code": c, "transport": {"kind": "directory", "path": p}}
                      for p, c in (("accounting", f.ACCOUNTING), ("crm", f.CRM))},
            "mapping": {"crm": section}}
    cfg = parse_config(data, case, case / "rules.yaml")
    ((type_name, rules),) = cfg.mapping["crm"].items()
    return type_name, rules


def pretty(element) -> str:
    clean = etree.fromstring(etree.tostring(element, encoding="utf-8"), etree.XMLParser(remove_blank_text=True))
    etree.indent(clean, space="\t")
    return etree.tostring(clean, encoding="unicode").replace(f' xmlns="{formats.namespace("1.8")}"', "")


@pytest.mark.parametrize("name", CASES)
def test_golden(name):
    case = GOLDEN / name
    type_name, rules = rules_of(case)
    source = parse_object((case / "input.xml").read_bytes().strip(), "1.8")
    assert etree.QName(source).localname == type_name
    assert not formats.validate_object("1.8", source)
    if (case / "error.txt").exists():
        with pytest.raises(MappingError) as exc:
            apply_rules(source, rules, formats.load("1.8"))
        assert str(exc.value) == (case / "error.txt").read_text(encoding="utf-8").strip()
        return
    out = apply_rules(source, rules, formats.load("1.8"))
    assert not formats.validate_object("1.8", out), "a mapped object must stay valid"
    expected_file = case / "expected.xml"
    if UPDATE:
        expected_file.write_text(pretty(out) + "\n", encoding="utf-8")
    assert pretty(out) == expected_file.read_text(encoding="utf-8").strip()
    assert pretty(source) != pretty(out)  # every case changes something


MAPPED = """\
mapping:
  crm:
    Справочник.Контрагенты:
      set: {КлючевыеСвойства/НаименованиеПолное: "Клиент из БП"}
    Справочник.Валюты:
      set: {КлючевыеСвойства/ДанныеКлассификатора: "643"}
"""


def config_with(sandbox, extra: str, formats_line: str = "") -> None:
    sandbox.write_config()
    text = sandbox.config.read_text(encoding="utf-8")
    if formats_line:
        text = text.replace("node:\n", f"node:\n  {formats_line}\n")
    sandbox.config.write_text(text + extra, encoding="utf-8")


def test_mapped_objects_are_sent_and_a_failing_one_is_parked_then_retried(sandbox):
    config_with(sandbox, MAPPED)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(2))]))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 7, err
    assert "parked" in err and "ДанныеКлассификатора" in err
    out = sandbox.outgoing("crm")
    assert out["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    assert "<НаименованиеПолное>Клиент из БП</НаименованиеПолное>".encode() in out["path"].read_bytes()
    # A later run with nothing new does not report the same parked object again.
    assert sandbox.run("pull-catalogs")[0] == 0
    # The admin fixes the rule and retries: the currency goes now.
    config_with(sandbox, MAPPED.replace('      set: {КлючевыеСвойства/ДанныеКлассификатора: "643"}\n',
                                        '      drop: [НаименованиеПолное]\n'))
    code, report, err = sandbox.run("retry", "--all")
    assert code == 0, err
    out = sandbox.outgoing("crm")
    assert ("Справочник.Валюты", f.ref(2)) in out["objects"]
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM inbox WHERE status = 'parked'").fetchone()[0] == 0


def test_retry_needs_all_or_refs(sandbox):
    code, _, err = sandbox.run("retry")
    assert code == 2


def test_a_retried_object_is_judged_again_not_sent_blindly(sandbox):
    """Retry makes a parked object staged again, reason kept: routing must look at it once
    more (here: still no КлючевыеСвойства), not register it with the bulk statement."""
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(1), "ООО Ромашка"),
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    assert sandbox.run("pull-catalogs")[0] == 7
    code, report, err = sandbox.run("retry", "--all")
    assert code == 7, err  # parked again, as any run that parks something
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM inbox WHERE status = 'parked'").fetchone()[0] == 1


def test_a_mapped_object_the_target_holds_as_mapped_is_not_echoed(sandbox):
    """The echo check compares what we would send (after the target's mapping), not what the
    source sent: the CRM holds the mapped counterparty, and accounting's edit changes nothing
    of what the mapping leaves."""
    config_with(sandbox, "mapping:\n  crm:\n    Справочник.Контрагенты:\n"
                         '      set: {КлючевыеСвойства/Наименование: "Клиент из БП"}\n')
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1,
                             objects=[f.counterparty(f.ref(1), "Клиент из БП")]))
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(f.ref(1), "ООО Ромашка-2")]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["routed"]["pull-catalogs"] == {"echo": 1}
    assert sandbox.outgoing("crm")["objects"] == []


def test_the_organization_filter_keeps_other_organizations_out(sandbox):
    config_with(sandbox, "flows:\n  pull-catalogs:\n    organizations: ['7728415638']\n"
                         "  pull-settlements:\n    organizations: ['7728415638']\n")
    other = f.ORG.replace("7728415638", "7701000000").replace("b1d0fb3b", "eeeeeeee")
    order_ref = f.ref(1, "c0ffee00")
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.order(order_ref)]))
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(1), "ООО Ромашка"),  # no organization: passes
        f.payment(f.ref(2), order_ref, "1.00"),
        f.payment(f.ref(3), order_ref, "2.00", number="X-3").replace(f.ORG, other, 1)]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    objects = sandbox.outgoing("crm")["objects"]
    assert ("Документ.ПБДСРасчетыСКонтрагентами", f.ref(2)) in objects
    assert ("Справочник.Контрагенты", f.ref(1)) in objects  # no organization of its own
    assert ("Документ.ПБДСРасчетыСКонтрагентами", f.ref(3)) not in objects
    assert report["routed"]["pull-settlements"]["filtered"] == 1


@pytest.mark.parametrize("how", ["we sent it", "it sent us its copy"])
def test_the_organization_filter_never_holds_back_what_the_target_has(sandbox, how):
    """A new version of what the CRM has goes, whatever organization it names now: held back,
    the CRM's copy would stay as it was."""
    config_with(sandbox, "flows:\n  pull-settlements:\n    organizations: ['7728415638']\n")
    other = f.ORG.replace("7728415638", "7701000000").replace("b1d0fb3b", "eeeeeeee")
    order_ref = f.ref(1, "c0ffee00")
    paid = f.payment(f.ref(2), order_ref, "1.00")
    if how == "we sent it":
        sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.order(order_ref)]))
        sandbox.put("accounting", f.Msg(objects=[paid]))
        assert sandbox.run("run")[0] == 0
        assert ("Документ.ПБДСРасчетыСКонтрагентами", f.ref(2)) in sandbox.outgoing("crm")["objects"]
        sandbox.put("crm", f.Msg(sender=f.CRM, message_no=2, received_no=1, objects=[]))
        accounting_no = 2
    else:  # no flow takes a payment from the CRM: its copy is set aside, but it is there
        sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.order(order_ref),
                                                        paid.replace(f.ORG, other, 1)]))
        accounting_no = 1
    sandbox.put("accounting", f.Msg(message_no=accounting_no, received_no=accounting_no - 1,
                                    created="2026-11-21T09:00:00", objects=[
        f.payment(f.ref(2), order_ref, "3.00").replace(f.ORG, other, 1)]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["routed"]["pull-settlements"].get("filtered", 0) == 0
    assert ("Документ.ПБДСРасчетыСКонтрагентами", f.ref(2)) in sandbox.outgoing("crm")["objects"]


def test_what_the_target_holds_is_looked_up_once_per_object_and_no_payload_for_the_filter(
        sandbox, monkeypatch):
    """Under a drop rule and an organization filter, routing an order read what accounting holds
    twice (to restore what the rule dropped, then for the echo) and fetched a whole copy only to
    learn that one existed (whether the filter applies)."""
    from onecsync.state.held import Holdings
    from onecsync.state.inbox import Inbox

    config_with(sandbox, "flows:\n  push-invoices:\n    organizations: ['7728415638']\n"
                         "mapping:\n  crm:\n    Документ.ЗаказКлиента:\n"
                         "      drop: [ОбщиеСвойстваОбъектовФормата/Комментарий]\n")
    calls: list[str] = []
    for cls, name in ((Holdings, "of"), (Inbox, "copy_of")):
        real = getattr(cls, name)
        monkeypatch.setattr(cls, name, lambda self, *a, real=real, name=name:
                            calls.append(name) or real(self, *a))
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.order(f.ref(1, "c0ffee00"))]))
    code, report, err = sandbox.run("push-invoices")
    assert code == 0, err
    assert report["routed"]["push-invoices"] == {"registered": 1}
    # Accounting holds none of it: of() looks for its own copy, once.
    assert calls == ["of", "copy_of"]


def test_an_object_the_peer_version_cannot_carry_is_parked_and_the_rest_goes(sandbox):
    flows = ("flows:\n  pull-catalogs:\n    objects: [Справочник.Контрагенты, Справочник.СтавкиНДС]\n")
    config_with(sandbox, flows, formats_line='formats: ["1.8", "1.17"]')
    rate = (f"<Справочник.СтавкиНДС><КлючевыеСвойства><Ссылка>{f.ref(7)}</Ссылка><Ставка>20</Ставка>"
            "<РасчетнаяСтавка>false</РасчетнаяСтавка><НеОблагается>false</НеОблагается>"
            "<ВидСтавки>Общая</ВидСтавки></КлючевыеСвойства></Справочник.СтавкиНДС>")
    sandbox.put("accounting", f.Msg(version="1.17", objects=[f.counterparty(f.ref(1), "ООО Ромашка"), rate]))
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[], versions=("1.8",)))
    code, report, err = sandbox.run("run")
    assert code == 7, err
    assert "no object type Справочник.СтавкиНДС in EnterpriseData 1.8" in err
    out = sandbox.outgoing("crm")  # valid per 1.8
    assert out["version"] == "1.8"
    assert out["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    with sandbox.db() as c:
        parked = c.execute("SELECT type, parked FROM registrations WHERE parked IS NOT NULL").fetchall()
    assert parked and parked[0][0] == "Справочник.СтавкиНДС"


@pytest.mark.parametrize("snippet, problem", [
    ("mapping:\n  crm:\n    Справочник.Номенклатура:\n      drop: [НетТакогоПоля]\n",
     "mapping.crm.Справочник.Номенклатура.drop[0]: 'НетТакогоПоля' is not a field path"),
    ("mapping:\n  erp:\n    Справочник.Номенклатура: {drop: [Описание]}\n", "mapping.erp: unknown key"),
    ("mapping:\n  crm:\n    Справочник.Номенклатура:\n      values: {СтавкаНДС: []}\n",
     "values.СтавкаНДС: must map old values to new ones"),
    ("flows:\n  pull-settlements:\n    links:\n      Документ.ПБДСРасчетыСКонтрагентами: [Нет/Пути]\n",
     "'Нет/Пути' is not a field path of Документ.ПБДСРасчетыСКонтрагентами"),
    ("flows:\n  pull-catalogs:\n    organizations: ['77-01']\n", "'77-01' is not an ИНН"),
])
def test_mapping_and_link_problems_are_config_errors(sandbox, snippet, problem):
    config_with(sandbox, snippet)
    code, _, err = sandbox.run("run")
    assert code == 3
    assert problem in err


def test_an_added_link_path_links_documents_waiting_for_it(sandbox):
    order_ref = f.ref(1, "c0ffee00")
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.order(order_ref)]))
    # A payment naming the order only in its purpose field, which no default link path reads.
    pay = f.payment(f.ref(2), None, "5.00").replace(
        "</БанковскийСчетОрганизации></ОбщиеДанные>",
        f"</БанковскийСчетОрганизации><НазначениеПлатежа>{order_ref}</НазначениеПлатежа></ОбщиеДанные>")
    sandbox.put("accounting", f.Msg(objects=[pay]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["routed"]["pull-settlements"] == {"waiting": 1}
    config_with(sandbox, "flows:\n  pull-settlements:\n    links:\n"
                         "      Документ.ПБДСРасчетыСКонтрагентами: [ОбщиеДанные/НазначениеПлатежа]\n")
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["routed"]["pull-settlements"] == {"registered": 1}
    assert ("Документ.ПБДСРасчетыСКонтрагентами", f.ref(2)) in sandbox.outgoing("crm")["objects"]


def test_a_mapped_object_1c_would_refuse_is_parked_and_the_rest_sent(sandbox):
    """A rule that drops a field 1C's schema requires: the mapped object is checked before it
    is written, parked with exit 7, and the message to the CRM stays valid with the others."""
    config_with(sandbox, "mapping:\n  crm:\n    Справочник.Контрагенты:\n"
                         "      drop: [КлючевыеСвойства/ЮридическоеФизическоеЛицо]\n")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(2))]))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 7, err
    assert "parked" in err and "ЮридическоеФизическоеЛицо" in err, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Валюты", f.ref(2))]


def test_a_version_parked_on_its_way_does_not_hold_back_the_other_bases_edit(sandbox):
    """The CRM's order could not be written for accounting (parked): accounting's own edit of
    it is not 'superseded' by a version that is not on its way, and goes to the CRM."""
    order = f.ref(1, "c0ffee00")
    config_with(sandbox, "mapping:\n  accounting:\n    Документ.ЗаказКлиента:\n"
                         "      drop: [КлючевыеСвойства/Дата]\n")
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[f.order(order)]))
    code, _, err = sandbox.run("run")
    assert code == 7 and "parked" in err, err
    sandbox.put("accounting", f.Msg(objects=[f.order(order, amount="1.00")]))
    code, report, err = sandbox.run("run")
    assert ("Документ.ЗаказКлиента", order) in sandbox.outgoing("crm")["objects"], (report, err)


def test_retry_of_a_ref_not_parked_is_exit_2_and_changes_nothing(sandbox):
    config_with(sandbox, MAPPED)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(2))]))
    assert sandbox.run("pull-catalogs")[0] == 7
    before, journal = sandbox.dump(), sandbox.journal()
    for refs in (("00000000-0000-0000-0000-000000000000",), ("nonsense",),
                 (f.ref(1),), (f.ref(2), "nonsense")):  # f.ref(1) went: it is not parked
        code, _, err = sandbox.human("-q", "retry", *refs)
        assert code == 2, err
        line = next(ln for ln in err.splitlines() if "error" in ln)
        assert "not parked: " in line and refs[-1] in line, line
        assert sandbox.dump() == before and sandbox.journal() == journal
    code, _, err = sandbox.run("retry", f.ref(2).upper())  # a parked one, in any case, is fine
    assert code == 7, err  # the rule is not fixed: parked again
