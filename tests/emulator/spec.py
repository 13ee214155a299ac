"""What the emulated bases know about EnterpriseData objects: one declarative spec per type.

Public API: `Field` and its builders (`text`, `ref`, `choice`, `struct`, `table`, `vat`,
`comment`), `TypeSpec`, `SPECS`, `CATALOGS`, `DOCUMENTS`, `VERSIONS`, `exists_in(field, v)`,
`vat_to_structure(code)`, `vat_from_structure(values)`.

Each spec lists, in the schema's order, the fields an emulated base fills and reads — a realistic
subset of the format, written by hand from 1C's XDTO packages (1.8 … 1.17), not derived from
onecsync's format indexes, so that the emulator does not share the code it tests. A field that
exists only from (or up to) some version says so with `since`/`until`; a field that moved between
versions is declared twice, once at each place. The same spec drives writing (`xmlio.render`)
and reading (`xmlio.parse`): a field is always known by its element name.
"""

from __future__ import annotations

from dataclasses import dataclass

# The versions the emulated bases can speak: what БП 3.0 offers from 1.8 on (1.9, 1.13, 1.14 do
# not exist). Every spec below is checked against 1C's schema of each of them (test_emulator).
VERSIONS = ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17")


def vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@dataclass(frozen=True)
class Field:
    """One element: `kind` is text | ref | choice | struct | table | vat | comment.

    ref: `target` is the object type whose key properties are written inline. choice: one of
    `choices` ((element, object type), …) holds the key properties. struct / table: `children`
    are the fields of the structure / of one `Строка`.
    """

    name: str
    kind: str = "text"
    target: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    children: tuple[Field, ...] = ()
    since: str | None = None
    until: str | None = None


def text(name: str, since: str | None = None, until: str | None = None) -> Field:
    return Field(name, since=since, until=until)


def ref(name: str, target: str, since: str | None = None, until: str | None = None) -> Field:
    return Field(name, "ref", target=target, since=since, until=until)


def choice(name: str, **choices: str) -> Field:
    return Field(name, "choice", choices=tuple(choices.items()))


def struct(name: str, *children: Field) -> Field:
    return Field(name, "struct", children=children)


def table(name: str, *children: Field) -> Field:
    return Field(name, "table", children=children)


def vat(name: str = "СтавкаНДС") -> Field:
    """A VAT rate: an enumeration up to 1.16, a structure (КлючевыеСвойстваСтавкиНДС) from 1.17."""
    return Field(name, "vat")


def comment() -> Field:
    """The document comment, as `ОбщиеСвойстваОбъектовФормата/Комментарий` (1.11 on).

    Up to 1.10 the comment is a plain `Комментарий` field declared at its own place.
    """
    return Field("Комментарий", "comment", since="1.11")


def exists_in(f: Field, version: str) -> bool:
    v = vkey(version)
    return (f.since is None or v >= vkey(f.since)) and (f.until is None or v <= vkey(f.until))


@dataclass(frozen=True)
class TypeSpec:
    name: str
    keys: tuple[Field, ...]        # КлючевыеСвойства after Ссылка, which always comes first
    fields: tuple[Field, ...]      # the object's own fields after КлючевыеСвойства
    search: tuple[tuple[str, ...], ...]  # search-field sets, tried in order (dotted paths)

    @property
    def is_document(self) -> bool:
        return self.name.startswith("Документ.")

    def key_names(self) -> set[str]:
        return {f.name for f in self.keys}


# -- VAT ------------------------------------------------------------------------------------
# Up to 1.16 a rate is one enumeration value; from 1.17 it is described by its properties.
_VAT = {
    "НДС20": ("20", "false", "false", "Общая"),
    "НДС20_120": ("20", "true", "false", "ОбщаяРасчетная"),
    "НДС10": ("10", "false", "false", "Пониженная"),
    "НДС10_110": ("10", "true", "false", "ПониженнаяРасчетная"),
    "НДС0": ("0", "false", "false", "Нулевая"),
    "БезНДС": (None, "false", "true", "БезНДС"),
}
VAT_CODES = tuple(_VAT)


def vat_to_structure(code: str) -> list[tuple[str, str]]:
    rate, calculated, exempt, kind = _VAT[code]
    out = [("Ставка", rate)] if rate is not None else []
    return out + [("РасчетнаяСтавка", calculated), ("НеОблагается", exempt), ("ВидСтавки", kind)]


def vat_from_structure(values: dict[str, str]) -> str:
    for code, (_, calculated, exempt, kind) in _VAT.items():
        if values.get("ВидСтавки") == kind and values.get("РасчетнаяСтавка") == calculated \
                and values.get("НеОблагается") == exempt:
            return code
    raise ValueError(f"unknown VAT rate {values}")


# -- shared pieces --------------------------------------------------------------------------
ORG = "Справочник.Организации"
CP = "Справочник.Контрагенты"
CURRENCY = "Справочник.Валюты"
ACCOUNT = "Справочник.БанковскиеСчета"
ITEM = "Справочник.Номенклатура"
UNIT = "Справочник.ЕдиницыИзмерения"
ORDER = "Документ.ЗаказКлиента"
SALE = "Документ.РеализацияТоваровУслуг"


def _settlement() -> Field:
    return struct("ДанныеВзаиморасчетов",
                  ref("Договор", "Справочник.Договоры"), ref("ВалютаВзаиморасчетов", CURRENCY),
                  text("КурсВзаиморасчетов"), text("КратностьВзаиморасчетов"),
                  text("РасчетыВУсловныхЕдиницах"), text("СчетУчетаРасчетовСКонтрагентом"),
                  text("СчетУчетаРасчетовПоАвансам"))


def _item_data() -> Field:
    return struct("ДанныеНоменклатуры", ref("Номенклатура", ITEM))


def _goods(*more: Field) -> Field:
    """A document's Товары rows (a return's carry `more` after the common fields)."""
    return table("Товары", text("НомерСтрокиДокумента"), _item_data(), ref("ЕдиницаИзмерения", UNIT),
                 text("Количество"), text("Сумма"), text("Цена"), vat(), text("СуммаНДС"), *more)


def _services() -> Field:
    """An invoice's or a sale's Услуги rows (an order's name the item as ДанныеНоменклатуры)."""
    return table("Услуги", text("НомерСтрокиДокумента"), ref("Номенклатура", ITEM),
                 text("Количество"), text("Сумма"), text("Цена"), vat(), text("СуммаНДС"),
                 text("Содержание"))


def _payment_rows() -> Field:
    return table("РасшифровкаПлатежа",
                 choice("Заказ", ЗаказКлиента=ORDER), text("Сумма"), text("СуммаВзаиморасчетов"),
                 vat(), _settlement(), text("СпособПогашенияЗадолженности"),
                 choice("ДокументРасчетов", РеализацияТоваровУслугСсылка=SALE))


_DOC_KEYS = (text("Дата"), text("Номер"), ref("Организация", ORG))
_DOC_SEARCH = (("Дата", "Номер"),)
_NAME = (("Наименование",),)


def _spec(name, keys, fields=(), search=_NAME) -> TypeSpec:
    return TypeSpec(name, tuple(keys), tuple(fields), tuple(search))


_ALL = [
    _spec(ORG,
          [text("Наименование"), text("НаименованиеСокращенное"), text("НаименованиеПолное"),
           text("ИНН"), text("КПП"), text("ЮридическоеФизическоеЛицо")],
          [text("Префикс"), text("ОКПО"), text("ОГРН"), text("ОКВЭД2", since="1.17"),
           ref("ОсновнойБанковскийСчет", ACCOUNT), text("ОКВЭД2", until="1.16"),
           text("НаименованиеОКВЭД2")],
          search=[("ИНН", "КПП"), ("Наименование",)]),
    _spec("Справочник.Банки",
          [struct("ДанныеКлассификатораБанков", text("Наименование"), text("БИК"),
                  text("КоррСчет"))],
          [text("Город"), text("Адрес"), text("Телефоны")],
          search=[("ДанныеКлассификатораБанков.БИК",)]),
    _spec(ACCOUNT,
          [text("НомерСчета"), ref("Банк", "Справочник.Банки"),
           choice("Владелец", ОрганизацииСсылка=ORG, КонтрагентыСсылка=CP)],
          [text("Наименование"), ref("ВалютаДенежныхСредств", CURRENCY), text("ВидСчета"),
           text("ДатаОткрытия")],
          search=[("НомерСчета",)]),
    _spec("Справочник.КонтрагентыГруппа",
          [text("Наименование"), ref("Группа", "Справочник.КонтрагентыГруппа")]),
    _spec(CP,
          [text("Наименование"), text("НаименованиеПолное"), text("ИНН"), text("КПП"),
           text("ЮридическоеФизическоеЛицо"), ref("Группа", "Справочник.КонтрагентыГруппа")],
          [text("ОКПО"), text("ДокументУдЛичность"), ref("ОсновнойБанковскийСчет", ACCOUNT),
           ref("ОсновнойДоговор", "Справочник.Договоры")],
          search=[("ИНН", "КПП"), ("Наименование",)]),
    _spec("Справочник.Договоры",
          [text("ВидДоговора"), ref("Организация", ORG), ref("Контрагент", CP),
           ref("ВалютаВзаиморасчетов", CURRENCY), text("РасчетыВУсловныхЕдиницах"),
           text("Наименование"), text("Дата"), text("Номер")],
          [text("СрокДействия"), ref("БанковскийСчетОрганизации", ACCOUNT),
           ref("ТипЦен", "Справочник.ТипыЦен"), text("СрокКонтроляОплатыВДнях")],
          search=[("Контрагент", "Номер", "Дата"), ("Контрагент", "Наименование")]),
    _spec("Справочник.НоменклатураГруппа",
          [text("Наименование"), text("КодВПрограмме"),
           ref("Группа", "Справочник.НоменклатураГруппа")]),
    _spec("Справочник.ГруппыАналитическогоУчетаНоменклатуры",
          [text("КодВПрограмме"), text("Наименование")]),
    _spec(ITEM,
          [text("НаименованиеПолное"), text("КодВПрограмме"), text("Артикул"),
           text("Наименование"), ref("Группа", "Справочник.НоменклатураГруппа")],
          [text("ТипНоменклатуры"), text("Описание"), ref("ЕдиницаИзмерения", UNIT), vat(),
           ref("ГруппаАналитическогоУчета", "Справочник.ГруппыАналитическогоУчетаНоменклатуры"),
           text("ПризнакПредметаРасчета")],
          search=[("Артикул",), ("Наименование",)]),
    _spec(CURRENCY,
          [struct("ДанныеКлассификатора", text("Код"), text("Наименование"))],
          [text("НаименованиеПолное"), text("ЗагружаетсяИзИнтернета"), text("ПараметрыПрописи")],
          search=[("ДанныеКлассификатора.Код",)]),
    _spec("Справочник.ТипыЦен",
          [text("Наименование"), ref("ВалютаЦены", CURRENCY)],
          [text("ЦенаВключаетНДС"), text("ОкруглятьВБольшуюСторону"), text("ТочностьОкругления")]),
    _spec(UNIT,
          [struct("ДанныеКлассификатора", text("Код"), text("Наименование"))],
          [text("НаименованиеПолное")],
          search=[("ДанныеКлассификатора.Код",)]),
    _spec("Справочник.Пользователи", [text("Наименование")]),
    _spec("Справочник.Подразделения",
          [text("Наименование"), ref("ВышестоящееПодразделение", "Справочник.Подразделения")]),
    _spec(ORDER, _DOC_KEYS,
          [ref("Валюта", CURRENCY), text("Сумма"), ref("Подразделение", "Справочник.Подразделения"),
           ref("Контрагент", CP), _settlement(), text("АдресДоставки"),
           ref("ТипЦен", "Справочник.ТипыЦен"), text("СуммаВключаетНДС"),
           ref("БанковскийСчетОрганизации", ACCOUNT),
           _goods(),
           table("Услуги", text("НомерСтрокиДокумента"), _item_data(), text("Количество"),
                 text("Сумма"), text("Цена"), vat(), text("СуммаНДС"), text("Содержание")),
           text("Комментарий", until="1.10"),
           table("ЭтапыОплаты", text("НомерСтрокиДокумента"), text("ВариантОплаты"),
                 text("ФормаОплаты"), text("ДатаПлатежа"), text("ПроцентПлатежа"),
                 text("СуммаПлатежа")),
           text("НалогообложениеНДСПродавца"), text("ОжидаемаяДатаПоставки"), comment()],
          search=_DOC_SEARCH),
    _spec("Документ.СчетПокупателю", _DOC_KEYS,
          [ref("Валюта", CURRENCY), text("Сумма"), ref("Контрагент", CP), _settlement(),
           ref("ТипЦен", "Справочник.ТипыЦен"), text("СуммаВключаетНДС"),
           ref("БанковскийСчетОрганизации", ACCOUNT),
           _goods(),
           _services(),
           comment()],
          search=_DOC_SEARCH),
    _spec(SALE, _DOC_KEYS,
          [text("ВидОперации"), ref("Валюта", CURRENCY), text("Сумма"), text("СуммаВключаетНДС"),
           ref("Подразделение", "Справочник.Подразделения"),
           ref("БанковскийСчетОрганизации", ACCOUNT), ref("Контрагент", CP), _settlement(),
           ref("Заказ", ORDER), ref("СчетПокупателю", "Документ.СчетПокупателю"),
           text("АдресДоставки"), text("Комментарий", until="1.10"),
           _goods(),
           _services(),
           comment()],
          search=_DOC_SEARCH),
    _spec("Документ.ВозвратТоваровОтПокупателя", _DOC_KEYS,
          [text("ВидОперации"), ref("Валюта", CURRENCY), text("Сумма"), text("СуммаВключаетНДС"),
           ref("Контрагент", CP), _settlement(),
           choice("ДокументРеализации", РеализацияТоваровУслугСсылка=SALE),
           text("Комментарий", until="1.10"), ref("Заказ", ORDER),
           _goods(text("Себестоимость"), text("СчетУчета"), text("СчетДоходов"),
                  text("ВозвратПодДеятельность")),
           comment()],
          search=_DOC_SEARCH),
    _spec("Документ.ПБДСРасчетыСКонтрагентами", _DOC_KEYS,
          [struct("ОбщиеДанные", text("ДатаВыписки"), text("ДатаВходящегоДокумента"),
                  text("НомерВходящегоДокумента"), text("ТипПлатежногоДокумента"),
                  ref("Валюта", CURRENCY), text("Сумма"), ref("БанковскийСчетОрганизации", ACCOUNT),
                  text("НазначениеПлатежа"), ref("Подразделение", "Справочник.Подразделения")),
           text("ВидРасчетов"), ref("Контрагент", CP), _payment_rows()],
          search=_DOC_SEARCH),
    _spec("Документ.ПКОРасчетыСКонтрагентами", _DOC_KEYS,
          [struct("ОбщиеДанные", ref("Валюта", CURRENCY), text("Сумма"),
                  ref("Подразделение", "Справочник.Подразделения"), text("Основание"),
                  text("ПринятоОт")),
           ref("Контрагент", CP), text("ВидРасчетов"), _payment_rows()],
          search=_DOC_SEARCH),
]

SPECS: dict[str, TypeSpec] = {s.name: s for s in _ALL}
CATALOGS = tuple(s.name for s in _ALL if not s.is_document)
DOCUMENTS = tuple(s.name for s in _ALL if s.is_document)
# The reference element of УдалениеОбъекта/СсылкаНаОбъект/СсылкаНаОбъект for each type.
DELETION_ELEMENT = {name: name.split(".", 1)[1] + "Ссылка" for name in SPECS}
ELEMENT_TYPE = {element: name for name, element in DELETION_ELEMENT.items()}
