"""VAT rates survive a relay between 1.17 (a structure) and older versions (an enumeration).

Found by the end-to-end tests: a base's first message is written in its lowest version, and
onecsync dropped every СтавкаНДС when it relayed it to a peer on 1.17 (and the other way round).
"""

from __future__ import annotations

import pytest
from lxml import etree

from onecsync.formats import adapt
from onecsync.formats import load
from onecsync.formats import namespace
from onecsync.formats import validate_object
from onecsync.formats import vat

ITEM = """<Справочник.Номенклатура xmlns="{ns}"><КлючевыеСвойства>
<Ссылка>0a6e5b1c-1111-4a5b-8c9d-0e1f2a3b4c5d</Ссылка><Наименование>Монитор</Наименование>
</КлючевыеСвойства><ТипНоменклатуры>Товар</ТипНоменклатуры><ЕдиницаИзмерения>
<Ссылка>0a6e5b1c-2222-4a5b-8c9d-0e1f2a3b4c5d</Ссылка><ДанныеКлассификатора><Код>796</Код>
</ДанныеКлассификатора></ЕдиницаИзмерения><СтавкаНДС>{rate}</СтавкаНДС>
</Справочник.Номенклатура>"""


def item(version: str, rate: str):
    return etree.fromstring(ITEM.format(ns=namespace(version), rate=rate).encode())


def rate_of(el) -> str | dict:
    r = el.find("{*}СтавкаНДС")
    if r is None:
        return None
    return {etree.QName(c).localname: c.text for c in r} if len(r) else r.text


@pytest.mark.parametrize("code", ["НДС20", "НДС20_120", "НДС18", "НДС18_118", "НДС10",
                                  "НДС10_110", "НДС0", "БезНДС"])
def test_a_rate_goes_to_1_17_and_back_unchanged(code):
    up = adapt(item("1.16", code), load("1.16"), load("1.17"))
    assert up.dropped == [] and validate_object("1.17", up.element) == []
    down = adapt(up.element, load("1.17"), load("1.8"))
    assert down.dropped == [] and validate_object("1.8", down.element) == []
    assert rate_of(down.element) == code


def test_a_1_17_structure_names_its_rate():
    structure = "".join(f"<{k}>{v}</{k}>" for k, v in [
        ("Ставка", "10.00"), ("РасчетнаяСтавка", "false"), ("НеОблагается", "false"),
        ("ВидСтавки", "Пониженная")])
    down = adapt(item("1.17", structure), load("1.17"), load("1.12"))
    assert rate_of(down.element) == "НДС10"


@pytest.mark.parametrize("code", ["НДС4", "НДС2_102", "НДСИсчисляетсяНалоговымАгентом"])
def test_a_rate_of_unknown_kind_is_dropped_as_before(code):
    assert vat.to_structure(code) is None
    up = adapt(item("1.16", code), load("1.16"), load("1.17"))
    assert up.dropped == ["Справочник.Номенклатура/СтавкаНДС"]


def test_a_rate_the_older_enumeration_lacks_is_dropped():
    structure = ("<Ставка>22</Ставка><РасчетнаяСтавка>false</РасчетнаяСтавка>"
                 "<НеОблагается>false</НеОблагается><ВидСтавки>Общая</ВидСтавки>")
    down = adapt(item("1.17", structure), load("1.17"), load("1.16"))
    assert down.dropped == ["Справочник.Номенклатура/СтавкаНДС"]
    assert validate_object("1.16", down.element) == []


@pytest.mark.parametrize("code,kind", [("НДС22", "Общая"), ("НДС22_122", "ОбщаяРасчетная")])
def test_the_22_percent_rate_in_force_since_2026_is_carried_between_versions(code, kind):
    """НДС22 is a general rate like НДС20: its structure and its code map onto each other, and a
    1.17 structure of it crosses to every later version as it is."""
    fields = vat.to_structure(code)
    assert fields == [("Ставка", "22"), ("РасчетнаяСтавка", "true" if "_" in code else "false"),
                      ("НеОблагается", "false"), ("ВидСтавки", kind)]
    assert vat.to_code(dict(fields)) == code
    structure = "".join(f"<{k}>{v}</{k}>" for k, v in fields)
    for version in ("1.18", "1.21"):
        there = adapt(item("1.17", structure), load("1.17"), load(version))
        assert there.dropped == [] and validate_object(version, there.element) == []
        back = adapt(there.element, load(version), load("1.17"))
        assert rate_of(back.element) == dict(fields)
