"""Tests of onecsync.formats: indexes, schemas (checked against 1C's 1.8 XSD export), validation, adapt."""

from __future__ import annotations

import gzip
import importlib.util
import json
from copy import deepcopy
from pathlib import Path

import pytest
from lxml import etree

from onecsync.formats import BASE_URI
from onecsync.formats import ENVELOPE_NS
from onecsync.formats import VERSIONS
from onecsync.formats import Unconvertible
from onecsync.formats import UnknownVersion
from onecsync.formats import ValueType
from onecsync.formats import adapt
from onecsync.formats import load
from onecsync.formats import namespace
from onecsync.formats import object_types
from onecsync.formats import validate_header
from onecsync.formats import validate_object
from onecsync.formats import version_key
from onecsync.formats import version_of
from tests.conftest import SHARED
from tests.conftest import need_shared

REPO = Path(__file__).resolve().parents[1]
REFERENCE = SHARED / "reference" / "enterprisedata"
needs_reference = pytest.mark.usefixtures("enterprisedata_reference")
DATA = REPO / "onecsync" / "formats" / "data"
NS18, NS117 = namespace("1.8"), namespace("1.17")

ORG_18 = """<Организация>
        <Наименование>ООО Наша фирма</Наименование>
        <ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>
      </Организация>"""

# A data message the way SSL lays it out (§1.1 of the protocol notes), format 1.8.
MESSAGE_18 = f"""<?xml version="1.0" encoding="UTF-8"?>
<Message xmlns:msg="{ENVELOPE_NS}" xmlns:xs="http://www.w3.org/2001/XMLSchema"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <msg:Header>
    <msg:Format>{NS18}</msg:Format>
    <msg:CreationDate>2024-03-01T09:00:00</msg:CreationDate>
    <msg:Confirmation>
      <msg:ExchangePlan>СинхронизацияДанныхЧерезУниверсальныйФормат</msg:ExchangePlan>
      <msg:To>3f0c2a4e-8b1d-4c5e-9f6a-7b8c9d0e1f2a</msg:To>
      <msg:From>8d0e3a9c-5b7f-4c1e-9a2d-3f4b5c6d7e8f</msg:From>
      <msg:MessageNo>3</msg:MessageNo>
      <msg:ReceivedNo>2</msg:ReceivedNo>
    </msg:Confirmation>
    <msg:AvailableVersion>1.8</msg:AvailableVersion>
    <msg:AvailableVersion>1.17</msg:AvailableVersion>
  </msg:Header>
  <Body xmlns="{NS18}">
    <Справочник.Контрагенты>
      <КлючевыеСвойства>
        <Ссылка>9f1d2c3a-1111-4a5b-8c9d-0e1f2a3b4c5d</Ссылка>
        <Наименование>Ромашка</Наименование>
        <НаименованиеПолное>ООО "Ромашка"</НаименованиеПолное>
        <ИНН>7701234567</ИНН>
        <КПП>770101001</КПП>
        <ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>
        <РегистрационныйНомерНерезидента>R-17</РегистрационныйНомерНерезидента>
      </КлючевыеСвойства>
      <ДополнительнаяИнформация>Ключевой клиент</ДополнительнаяИнформация>
    </Справочник.Контрагенты>
    <Справочник.Номенклатура>
      <КлючевыеСвойства>
        <Ссылка>9f1d2c3a-2222-4a5b-8c9d-0e1f2a3b4c5d</Ссылка>
        <Артикул>СТ-01</Артикул>
        <Наименование>Стул офисный</Наименование>
      </КлючевыеСвойства>
      <ТипНоменклатуры>Товар</ТипНоменклатуры>
      <ЕдиницаИзмерения>
        <ДанныеКлассификатора><Код>796</Код><Наименование>шт</Наименование></ДанныеКлассификатора>
      </ЕдиницаИзмерения>
      <СтавкаНДС>НДС18</СтавкаНДС>
    </Справочник.Номенклатура>
    <Документ.ПБДСРасчетыСКонтрагентами>
      <КлючевыеСвойства>
        <Ссылка>9f1d2c3a-3333-4a5b-8c9d-0e1f2a3b4c5d</Ссылка>
        <Дата>2024-03-01T12:00:00</Дата>
        <Номер>00-000123</Номер>
        {ORG_18}
      </КлючевыеСвойства>
      <ОбщиеДанные>
        <ДатаВыписки>2024-03-01</ДатаВыписки>
        <Валюта><ДанныеКлассификатора><Код>643</Код></ДанныеКлассификатора></Валюта>
        <Сумма>1500.00</Сумма>
        <Комментарий>из банк-клиента</Комментарий>
        <БанковскийСчетОрганизации>
          <НомерСчета>40702810900000000001</НомерСчета>
          <Владелец><ОрганизацииСсылка>
            <Наименование>ООО Наша фирма</Наименование>
            <ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>
          </ОрганизацииСсылка></Владелец>
        </БанковскийСчетОрганизации>
        <НазначениеПлатежа>Оплата по счету 15</НазначениеПлатежа>
      </ОбщиеДанные>
      <ВидРасчетов>СПокупателем</ВидРасчетов>
      <Контрагент>
        <Наименование>Ромашка</Наименование>
        <ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>
      </Контрагент>
      <РасшифровкаПлатежа>
        <Строка><Сумма>1000.00</Сумма><ДанныеВзаиморасчетов/></Строка>
        <Строка><Сумма>500.00</Сумма><ДанныеВзаиморасчетов/></Строка>
      </РасшифровкаПлатежа>
    </Документ.ПБДСРасчетыСКонтрагентами>
    <УдалениеОбъекта>
      <СсылкаНаОбъект><СсылкаНаОбъект>
        <КонтрагентыСсылка>9f1d2c3a-4444-4a5b-8c9d-0e1f2a3b4c5d</КонтрагентыСсылка>
      </СсылкаНаОбъект></СсылкаНаОбъект>
    </УдалениеОбъекта>
    <Справочник.Организации>
      <КлючевыеСвойства>
        <Наименование>ООО Наша фирма</Наименование>
        <ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>
      </КлючевыеСвойства>
      <ОГРН>1027700000001</ОГРН>
      <ЯвляетсяНерезидентом>false</ЯвляетсяНерезидентом>
      <ОКВЭД2>62.01</ОКВЭД2>
    </Справочник.Организации>
  </Body>
</Message>
"""

BODY_117 = f"""<Body xmlns="{NS117}">
  <Справочник.Контрагенты>
    <КлючевыеСвойства>
      <Наименование>Иванов Иван</Наименование>
      <ЮридическоеФизическоеЛицо>ФизическоеЛицо</ЮридическоеФизическоеЛицо>
      <ИндивидуальныйПредприниматель>false</ИндивидуальныйПредприниматель>
      <Самозанятый>true</Самозанятый>
    </КлючевыеСвойства>
    <ОКПО>0123456789</ОКПО>
    <ОбщиеСвойстваОбъектовФормата><Комментарий>из CRM</Комментарий></ОбщиеСвойстваОбъектовФормата>
  </Справочник.Контрагенты>
  <Справочник.Номенклатура>
    <КлючевыеСвойства><Наименование>Набор стульев</Наименование></КлючевыеСвойства>
    <ТипНоменклатуры>Набор</ТипНоменклатуры>
    <ЕдиницаИзмерения><ДанныеКлассификатора><Код>796</Код></ДанныеКлассификатора></ЕдиницаИзмерения>
  </Справочник.Номенклатура>
  <Документ.РКОРасчетыССотрудниками>
    <КлючевыеСвойства>
      <Дата>2024-03-02T10:00:00</Дата>
      <Номер>00-000007</Номер>
      <Организация>
        <Наименование>ООО Наша фирма</Наименование>
        <ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>
      </Организация>
    </КлючевыеСвойства>
    <ОбщиеДанные>
      <Валюта><ДанныеКлассификатора><Код>643</Код></ДанныеКлассификатора></Валюта>
      <Сумма>300.00</Сумма>
    </ОбщиеДанные>
    <ВидРасчетов>Подотчет</ВидРасчетов>
    <РасшифровкаПлатежа>
      <Строка><Сотрудник><ФИО>Петров Петр</ФИО></Сотрудник><Сумма>300.00</Сумма></Строка>
    </РасшифровкаПлатежа>
  </Документ.РКОРасчетыССотрудниками>
  <УдалениеОбъекта>
    <СсылкаНаОбъект><СсылкаНаОбъект>
      <СтавкиНДССсылка>9f1d2c3a-5555-4a5b-8c9d-0e1f2a3b4c5d</СтавкиНДССсылка>
    </СсылкаНаОбъект></СсылкаНаОбъект>
  </УдалениеОбъекта>
</Body>
"""


@pytest.fixture(scope="module")
def message_18() -> etree._Element:
    return etree.fromstring(MESSAGE_18.encode())


def body_object(root: etree._Element, name: str) -> etree._Element:
    body = root if etree.QName(root).localname == "Body" else root.find("{*}Body")
    return deepcopy(body.find(f"{{{body.nsmap[None]}}}{name}"))


def child(el: etree._Element, *names: str) -> etree._Element:
    for name in names:
        el = el.find(f"{{{etree.QName(el).namespace}}}{name}")
    return el


def body_117(name: str) -> etree._Element:
    return body_object(etree.fromstring(BODY_117.encode()), name)


# --- the 1.8 XSD export, wrapped as docs/validating-with-1c-schemas.md describes -------------------


class _MemoryResolver(etree.Resolver):
    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    def resolve(self, url, pubid, context):
        name = url.rsplit("/", 1)[-1]
        return self.resolve_string(self.files[name], context) if name in self.files else None


def export_object_types(export: etree._Element) -> set[str]:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    derived = {
        t.get("name")
        for t in export.iterchildren(f"{xs}complexType")
        if t.find(f"{xs}complexContent/{xs}extension[@base='ns1:Object']") is not None
    }
    return derived | {"УдалениеОбъекта"}


@pytest.fixture(scope="module")
def reference_18() -> etree.XMLSchema:
    need_shared("reference", "enterprisedata")
    export_bytes = (REFERENCE / "xsd" / "EnterpriseData_1_8_6.xsd").read_bytes()
    export_bytes = export_bytes.replace(b'<xs:any namespace="##any"', b'<xs:any namespace="##other"')
    names = export_object_types(etree.fromstring(export_bytes))
    elements = "".join(f'<xs:element name="{n}" type="tns:{n}"/>' for n in sorted(names))
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{NS18}"
        targetNamespace="{NS18}" elementFormDefault="qualified">
      <xs:import namespace="{ENVELOPE_NS}" schemaLocation="envelope.xsd"/>
      <xs:include schemaLocation="ed18.xsd"/>{elements}</xs:schema>"""
    parser = etree.XMLParser()
    envelope_bytes = (REFERENCE / "xsd" / "ExchangeMessage.full.xsd").read_bytes()
    parser.resolvers.add(_MemoryResolver({"ed18.xsd": export_bytes, "envelope.xsd": envelope_bytes}))
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url="mem:/wrapper.xsd"))


# --- versions and namespaces ----------------------------------------------------------------------


def test_versions_are_the_shipped_ones_in_numeric_order():
    assert VERSIONS == ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17", "1.18", "1.19", "1.20", "1.21")
    assert sorted(VERSIONS, key=version_key) == list(VERSIONS)
    assert version_key("1.8") < version_key("1.10")


def test_namespace_and_version_of_round_trip():
    assert namespace("1.17") == BASE_URI + "/1.17"
    assert all(version_of(namespace(v)) == v for v in VERSIONS)
    assert version_of(BASE_URI) is None
    assert version_of(ENVELOPE_NS) is None
    assert version_of(namespace("1.17") + " http://example.com/ext") is None


def test_unknown_version_is_a_value_error():
    with pytest.raises(UnknownVersion):
        load("1.9")
    assert issubclass(UnknownVersion, ValueError)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_loads_and_its_schema_validates_objects(version):
    index = load(version)
    assert index is load(version)  # cached
    assert index.version == version and index.namespace == namespace(version)
    assert {"Справочник.Контрагенты", "Документ.ПБДСРасчетыСКонтрагентами", "УдалениеОбъекта"} <= index.object_types
    ns = namespace(version)
    good = etree.fromstring(
        f'<Справочник.Контрагенты xmlns="{ns}"><КлючевыеСвойства><Наименование>Ромашка</Наименование>'
        "<ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо></КлючевыеСвойства>"
        "</Справочник.Контрагенты>".encode()
    )
    assert validate_object(version, good) == []
    bad = deepcopy(good)
    child(bad, "КлючевыеСвойства").append(etree.Element(f"{{{ns}}}НетТакогоПоля"))
    assert any("НетТакогоПоля" in p.message for p in validate_object(version, bad))


def test_data_is_small_enough_to_ship():
    assert sum(f.stat().st_size for f in DATA.glob("*.json.gz")) < 2_000_000


def test_data_files_record_their_source():
    # object-types.json.gz is derived from the others (see test_the_light_object_type_list_is_the_index_s).
    for file in set(DATA.glob("*.json.gz")) - {DATA / "object-types.json.gz"}:
        source = json.loads(gzip.decompress(file.read_bytes()))["source"]
        assert source["repository"] == "1c-syntax/ssl_3_1_eng"
        assert source["commit"] == "5c8e0a862f547dea67862e84df71dbf2ff133488"
        assert source["license"] == "CC BY 4.0"
        assert source["path"] == f"src/cf/XDTOPackages/{source['package']}/Ext/Package.bin"


# --- index look-ups -------------------------------------------------------------------------------


def test_properties_keep_order_bounds_and_inline_types():
    index = load("1.8")
    props = index.properties("Справочник.Номенклатура")
    assert [p.name for p in props[:4]] == ["КлючевыеСвойства", "ТипНоменклатуры", "Описание", "ЕдиницаИзмерения"]
    kind = props[1]
    assert (kind.type, kind.min, kind.max, kind.inline) == ("ТипыНоменклатуры", 1, 1, None)
    assert index.types["ТипыНоменклатуры"].enumerations[:2] == ("Товар", "Услуга")
    inn = next(p for p in index.properties("КлючевыеСвойстваКонтрагент") if p.name == "ИНН")
    assert inn.type is None and isinstance(inn.inline, ValueType) and ("maxLength", "12") in inn.inline.facets
    row = index.properties("РасшифровкаПлатежа")[0]
    assert (row.name, row.min, row.max) == ("Строка", 1, None)
    assert any(p.nillable for p in index.properties("ОбщиеСвойстваДанныеАлкогольнойПродукции"))
    assert index.has_type("ЛюбаяСсылка") and not index.has_type("Справочник.НетТакого")
    with pytest.raises(KeyError):
        index.properties("ТипыНоменклатуры")


def test_ref_elements_map_to_object_types_by_their_value_type():
    v18, v117 = load("1.8"), load("1.17")
    assert v18.ref_element_to_type("КонтрагентыСсылка") == "Справочник.Контрагенты"
    assert v18.ref_element_to_type("ПБДСРасчетыСКонтрагентамиСсылка") == "Документ.ПБДСРасчетыСКонтрагентами"
    assert v18.ref_element_to_type("РаспоряжениеНаОтгрузку") == "Документ.РаспоряжениеНаОтгрузку"  # no suffix
    assert v117.ref_element_to_type("КатегорияДоговораСсылка") == "Справочник.КатегорииДоговоров"  # other stem
    assert v18.ref_element_to_type("СтавкиНДССсылка") is None and v117.ref_element_to_type("СтавкиНДССсылка")


@needs_reference
def test_object_types_are_the_exports_object_derived_types():
    export = etree.parse(str(REFERENCE / "xsd" / "EnterpriseData_1_8_6.xsd")).getroot()
    assert load("1.8").object_types == export_object_types(export)
    # The documented naming rule holds too: one dot after Справочник/Документ, plus the deletion.
    assert all(n == "УдалениеОбъекта" or n.count(".") == 1 for n in load("1.8").object_types)


# --- validation: generated schema vs the reference export -----------------------------------------

VALID_SAMPLES = [
    "Справочник.Контрагенты",
    "Справочник.Номенклатура",
    "Документ.ПБДСРасчетыСКонтрагентами",
    "УдалениеОбъекта",
]


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_reference_and_generated_schema_accept_well_formed_objects(name, message_18, reference_18):
    element = body_object(message_18, name)
    assert reference_18.validate(deepcopy(element)), reference_18.error_log
    assert validate_object("1.8", element) == []


def _missing_required(obj):
    obj.remove(child(obj, "ТипНоменклатуры"))
    return "Expected is ( ТипНоменклатуры )"


def _wrong_order(obj):
    obj.insert(1, child(obj, "ЕдиницаИзмерения"))
    return "Element 'ЕдиницаИзмерения': This element is not expected"


def _wrong_enum(obj):
    child(obj, "ТипНоменклатуры").text = "Товары"
    return "Element 'ТипНоменклатуры': [facet 'enumeration'] The value 'Товары'"


def _unknown_field(obj):
    child(obj, "ТипНоменклатуры").addnext(etree.Element(f"{{{NS18}}}Цвет"))
    return "Element 'Цвет': This element is not expected"


@pytest.mark.parametrize("break_it", [_missing_required, _wrong_order, _wrong_enum, _unknown_field])
def test_reference_and_generated_schema_reject_the_same_mistakes(break_it, message_18, reference_18):
    obj = body_object(message_18, "Справочник.Номенклатура")
    expected_message = break_it(obj)
    assert not reference_18.validate(deepcopy(obj))
    problems = validate_object("1.8", obj)
    assert any(expected_message in p.message for p in problems), problems
    assert all("{http" not in p.message for p in problems)


def test_a_foreign_namespace_stays_visible_in_the_message(message_18):
    obj = body_object(message_18, "Справочник.Контрагенты")
    [problem] = validate_object("1.17", obj)  # a 1.8 object checked as 1.17
    assert f"{{{NS18}}}Справочник.Контрагенты" in problem.message


def test_extension_fields_are_allowed_at_the_end_of_open_types_and_kept_by_adapt(message_18):
    obj = body_object(message_18, "Справочник.Контрагенты")
    etree.SubElement(obj, "{urn:example:ext}Сегмент").text = "VIP"
    assert validate_object("1.8", obj) == []
    adapted = adapt(obj, load("1.8"), load("1.17"))
    assert adapted.element[-1].tag == "{urn:example:ext}Сегмент" and adapted.element[-1].text == "VIP"
    assert validate_object("1.17", adapted.element) == []


def test_a_deletion_names_exactly_one_object(message_18, reference_18):
    # СсылкаНаОбъект is an XDTO ordered="false" type: its properties are alternatives (xs:choice).
    deletion = body_object(message_18, "УдалениеОбъекта")
    choice = child(deletion, "СсылкаНаОбъект", "СсылкаНаОбъект")
    etree.SubElement(choice, f"{{{NS18}}}НоменклатураСсылка").text = "9f1d2c3a-6666-4a5b-8c9d-0e1f2a3b4c5d"
    assert not reference_18.validate(deepcopy(deletion))
    [problem] = validate_object("1.8", deletion)
    assert "Element 'НоменклатураСсылка': This element is not expected" in problem.message


def test_problem_points_at_the_line_and_path_in_the_original_document(message_18):
    bad = deepcopy(message_18)
    body = bad.find("{*}Body")
    kind = child(body.find(f"{{{NS18}}}Справочник.Номенклатура"), "ТипНоменклатуры")
    kind.text = "Товары"
    [problem] = validate_object("1.8", kind.getparent())
    original_line = MESSAGE_18.splitlines().index("      <ТипНоменклатуры>Товар</ТипНоменклатуры>") + 1
    assert problem.line == kind.sourceline == original_line
    assert problem.path == "Справочник.Номенклатура/ТипНоменклатуры"
    assert "'Товары'" in problem.message and NS18 not in problem.message


def test_problem_path_numbers_repeated_elements(message_18):
    doc = body_object(message_18, "Документ.ПБДСРасчетыСКонтрагентами")
    child(doc, "РасшифровкаПлатежа")[1].find(f"{{{NS18}}}Сумма").text = "много"
    [problem] = validate_object("1.8", doc)
    assert problem.path == "Документ.ПБДСРасчетыСКонтрагентами/РасшифровкаПлатежа/Строка[2]/Сумма"


def test_validate_header_accepts_ssls_layout_and_reports_wrong_order(message_18):
    header = message_18.find(f"{{{ENVELOPE_NS}}}Header")
    assert validate_header(header) == []
    bad = deepcopy(header)
    bad.insert(1, child(bad, "AvailableVersion"))  # before CreationDate
    problems = validate_header(bad)
    assert problems and problems[0].path.startswith("Header")
    assert "AvailableVersion" in problems[0].message and ENVELOPE_NS not in problems[0].message


# --- adapt -----------------------------------------------------------------------------------------


def test_adapt_to_the_same_version_returns_the_element_untouched(message_18):
    element = body_object(message_18, "Справочник.Контрагенты")
    adapted = adapt(element, load("1.8"), load("1.8"))
    assert adapted.element is element and adapted.dropped == []


def test_adapt_18_to_117_drops_source_only_fields_and_validates(message_18):
    adapted = adapt(body_object(message_18, "Справочник.Контрагенты"), load("1.8"), load("1.17"))
    assert etree.QName(adapted.element).namespace == NS117
    assert adapted.dropped == [
        "Справочник.Контрагенты/КлючевыеСвойства/РегистрационныйНомерНерезидента",
        "Справочник.Контрагенты/ДополнительнаяИнформация",
    ]
    assert child(adapted.element, "КлючевыеСвойства", "ИНН").text == "7701234567"
    assert validate_object("1.17", adapted.element) == []


def test_adapt_carries_a_vat_rate_across_its_change_of_shape(message_18):
    # СтавкаНДС is an enumeration up to 1.16 and a structure from 1.17 on (see formats/vat.py).
    adapted = adapt(body_object(message_18, "Справочник.Номенклатура"), load("1.8"), load("1.17"))
    assert adapted.dropped == []
    rate = child(adapted.element, "СтавкаНДС")
    assert [(etree.QName(c).localname, c.text) for c in rate] == [
        ("Ставка", "18"), ("РасчетнаяСтавка", "false"), ("НеОблагается", "false"),
        ("ВидСтавки", "Общая")]
    assert validate_object("1.17", adapted.element) == []


def test_adapt_drops_a_value_whose_type_changed_when_it_has_no_counterpart(message_18):
    obj = body_object(message_18, "Справочник.Номенклатура")
    child(obj, "СтавкаНДС").text = "НДСИсчисляетсяНалоговымАгентом"
    adapted = adapt(obj, load("1.8"), load("1.17"))
    assert adapted.dropped == ["Справочник.Номенклатура/СтавкаНДС"]
    assert validate_object("1.17", adapted.element) == []


def test_adapt_keeps_rows_in_order_and_drops_nested_fields(message_18):
    adapted = adapt(body_object(message_18, "Документ.ПБДСРасчетыСКонтрагентами"), load("1.8"), load("1.17"))
    assert adapted.dropped == ["Документ.ПБДСРасчетыСКонтрагентами/ОбщиеДанные/Комментарий"]
    rows = child(adapted.element, "РасшифровкаПлатежа")
    assert [r.find(f"{{{NS117}}}Сумма").text for r in rows] == ["1000.00", "500.00"]
    assert validate_object("1.17", adapted.element) == []


def test_adapt_reorders_into_the_target_declaration_order(message_18):
    source = body_object(message_18, "Справочник.Организации")
    relabelled = etree.tostring(source, encoding="utf-8").replace(NS18.encode(), NS117.encode())
    assert validate_object("1.17", etree.fromstring(relabelled)), "the 1.8 order must be wrong for 1.17"
    adapted = adapt(source, load("1.8"), load("1.17"))
    order = [etree.QName(c).localname for c in adapted.element]
    assert order == ["КлючевыеСвойства", "ОГРН", "ОКВЭД2", "ЯвляетсяНерезидентом"]
    assert validate_object("1.17", adapted.element) == []


def test_adapt_keeps_the_chosen_reference_of_a_deletion(message_18):
    adapted = adapt(body_object(message_18, "УдалениеОбъекта"), load("1.8"), load("1.17"))
    ref = child(adapted.element, "СсылкаНаОбъект", "СсылкаНаОбъект", "КонтрагентыСсылка")
    assert ref.text == "9f1d2c3a-4444-4a5b-8c9d-0e1f2a3b4c5d" and adapted.dropped == []
    assert validate_object("1.17", adapted.element) == []


def test_adapt_117_to_18_drops_new_fields_and_validates():
    adapted = adapt(body_117("Справочник.Контрагенты"), load("1.17"), load("1.8"))
    assert adapted.dropped == [
        "Справочник.Контрагенты/КлючевыеСвойства/ИндивидуальныйПредприниматель",
        "Справочник.Контрагенты/КлючевыеСвойства/Самозанятый",
        "Справочник.Контрагенты/ОбщиеСвойстваОбъектовФормата",
    ]
    assert etree.QName(adapted.element).namespace == NS18
    assert validate_object("1.8", adapted.element) == []


def test_adapt_refuses_when_the_target_requires_a_missing_property():
    # 1.8 wants the employee on the document, 1.17 has it on each row.
    with pytest.raises(Unconvertible) as caught:
        adapt(body_117("Документ.РКОРасчетыССотрудниками"), load("1.17"), load("1.8"))
    assert caught.value.path == "Документ.РКОРасчетыССотрудниками/Сотрудник"
    assert "1.8" in caught.value.reason


def test_adapt_refuses_enumeration_values_the_target_lacks(message_18):
    with pytest.raises(Unconvertible, match="'Набор'"):
        adapt(body_117("Справочник.Номенклатура"), load("1.17"), load("1.8"))
    payment = body_object(message_18, "Документ.ПБДСРасчетыСКонтрагентами")
    child(payment, "ВидРасчетов").text = "КредитыИЗаймы"  # split into КредитБанка/КредитКонтрагента/… in 1.17
    with pytest.raises(Unconvertible, match="'КредитыИЗаймы'") as caught:
        adapt(payment, load("1.8"), load("1.17"))
    assert caught.value.path == "Документ.ПБДСРасчетыСКонтрагентами/ВидРасчетов"


def test_adapt_refuses_a_deletion_of_a_type_the_target_lacks():
    with pytest.raises(Unconvertible, match="alternatives") as caught:
        adapt(body_117("УдалениеОбъекта"), load("1.17"), load("1.8"))
    assert caught.value.path == "УдалениеОбъекта/СсылкаНаОбъект/СсылкаНаОбъект"


def test_adapt_refuses_an_object_type_the_target_lacks():
    rate = etree.fromstring(
        f'<Справочник.СтавкиНДС xmlns="{NS117}"><КлючевыеСвойства/></Справочник.СтавкиНДС>'.encode())
    assert "Справочник.СтавкиНДС" in load("1.17").object_types
    with pytest.raises(Unconvertible, match="no object type Справочник.СтавкиНДС"):
        adapt(rate, load("1.17"), load("1.8"))


# --- generator -------------------------------------------------------------------------------------


@needs_reference
def test_generator_reproduces_the_committed_data_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location("gen_formats", REPO / "tools" / "gen_formats.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    written = gen.generate(REFERENCE / "xdto", tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in DATA.glob("*.json.gz"))
    for path in written:
        assert path.read_bytes() == (DATA / path.name).read_bytes(), path.name


def _order(version: str) -> etree._Element:
    """A customer order as an emulated 1C base writes it in `version` (tests/emulator)."""
    from tests.emulator import data as d
    from tests.emulator import xmlio
    from tests.emulator.base import Base

    base = Base("crm", "c", "n")
    s = d.seed_accounting(base)
    r = base.create("Документ.ЗаказКлиента", d.order_fields(s, "ЦР00-000001", "2026-11-20T10:00:00"))
    base.edit(r, Комментарий="Срочно, до пятницы")
    return xmlio.render(base.get(r), version, base.store)


@pytest.mark.parametrize(("old", "new"), [("1.8", "1.17"), ("1.10", "1.11")])
def test_adapt_moves_a_documents_comment_into_and_out_of_the_common_properties(old, new):
    # Up to 1.10 the comment is a property of its own; from 1.11 it is in ОбщиеСвойстваОбъектовФормата.
    source = _order(old)
    up = adapt(source, load(old), load(new))
    assert child(up.element, "ОбщиеСвойстваОбъектовФормата", "Комментарий").text == "Срочно, до пятницы"
    assert child(up.element, "Комментарий") is None
    assert not [p for p in up.dropped if "Комментарий" in p]
    assert validate_object(new, up.element) == []
    down = adapt(_order(new), load(new), load(old))
    assert child(down.element, "Комментарий").text == "Срочно, до пятницы"
    assert child(down.element, "ОбщиеСвойстваОбъектовФормата") is None
    assert down.dropped == [] and validate_object(old, down.element) == []
    assert child(source, "Комментарий").text == "Срочно, до пятницы"  # the source is left as it was


@pytest.mark.parametrize("version", VERSIONS)
def test_the_light_object_type_list_is_the_index_s(version):
    """What a run checks its flow types against, without building the index, is the index's."""
    assert object_types(version) == load(version).object_types
