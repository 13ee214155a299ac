"""Realistic data for the emulated bases: what their users would have entered.

Public API: `inn10(seed)`, `inn12(seed)`, `kpp(inn)`, `seed_accounting(base)` → `Seeded`,
`counterparty_fields(...)`, `item_fields(...)`, `order_fields(...)`, `invoice_fields(...)`,
`sale_fields(...)`, `return_fields(...)`, `bank_receipt_fields(...)`, `cash_receipt_fields(...)`.

The accounting base starts with the catalogs of `fixtures/exchange/accounting` (organization
«ТехноСнаб» with its bank and account, customers, contracts, goods and a service, unit, currency,
price type, user, department), entered as a user would. Identifiers with check digits are
computed, so new counterparties made by a test look like real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.emulator.base import Base
from tests.emulator.store import Ref

ORG_INN, ORG_KPP = "7728415638", "772801001"


def _check(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10)


def inn10(seed: int) -> str:
    """A legal entity's ИНН (10 digits, valid check digit)."""
    body = f"77{seed % 10_000_000:07d}"
    return body + _check(body, (2, 4, 10, 3, 5, 9, 4, 6, 8))


def inn12(seed: int) -> str:
    """A sole trader's ИНН (12 digits, both check digits valid)."""
    body = f"77{seed % 100_000_000:08d}"
    body += _check(body, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
    return body + _check(body, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))


def kpp(inn: str) -> str:
    return inn[:4] + "01001"


@dataclass
class Seeded:
    """The refs of what `seed_accounting` created, by role."""

    rub: Ref
    pcs: Ref
    bank: Ref
    org: Ref
    org_account: Ref
    customers: Ref
    vector: Ref
    stroy: Ref
    petrov: Ref
    vector_contract: Ref
    stroy_contract: Ref
    price_type: Ref
    goods_group: Ref
    analytics: Ref
    monitor: Ref
    keyboard: Ref
    setup: Ref
    user: Ref
    department: Ref

    def catalog_refs(self) -> list[Ref]:
        return list(self.__dict__.values())


def counterparty_fields(name: str, inn: str, group: Ref | None = None, full: str | None = None,
                        okpo: str | None = None) -> dict:
    person = len(inn) == 12
    fields = {"Наименование": name, "НаименованиеПолное": full or name, "ИНН": inn,
              "ЮридическоеФизическоеЛицо": "ФизическоеЛицо" if person else "ЮридическоеЛицо"}
    if not person:
        fields["КПП"] = kpp(inn)
    if group is not None:
        fields["Группа"] = group
    if okpo:
        fields["ОКПО"] = okpo
    return fields


def item_fields(name: str, article: str | None, unit: Ref, group: Ref | None = None,
                kind: str = "Товар", vat_code: str = "БезНДС", analytics: Ref | None = None,
                code: str | None = None, description: str | None = None) -> dict:
    fields = {"НаименованиеПолное": name, "Наименование": name, "ТипНоменклатуры": kind,
              "ЕдиницаИзмерения": unit, "СтавкаНДС": vat_code,
              "ПризнакПредметаРасчета": "Услуга" if kind == "Услуга" else "Товар"}
    for key, value in (("КодВПрограмме", code), ("Артикул", article), ("Группа", group),
                       ("Описание", description), ("ГруппаАналитическогоУчета", analytics)):
        if value is not None:
            fields[key] = value
    return fields


def contract_fields(org: Ref, cp: Ref, rub: Ref, number: str, date: str, account: Ref,
                    price_type: Ref) -> dict:
    d = date.split("-")
    return {"ВидДоговора": "СПокупателем", "Организация": org, "Контрагент": cp,
            "ВалютаВзаиморасчетов": rub, "РасчетыВУсловныхЕдиницах": "false",
            "Наименование": f"Договор поставки № {number} от {d[2]}.{d[1]}.{d[0]}",
            "Дата": date, "Номер": number, "СрокДействия": f"{d[0]}-12-31",
            "БанковскийСчетОрганизации": account, "ТипЦен": price_type,
            "СрокКонтроляОплатыВДнях": "10"}


def seed_accounting(base: Base) -> Seeded:
    c = base.create
    rub = c("Справочник.Валюты", {"ДанныеКлассификатора": {"Код": "643", "Наименование": "руб."},
                                  "НаименованиеПолное": "Российский рубль",
                                  "ЗагружаетсяИзИнтернета": "false",
                                  "ПараметрыПрописи": "рубль, рубля, рублей, м, копейка, копейки, "
                                                      "копеек, ж, 2"})
    pcs = c("Справочник.ЕдиницыИзмерения", {"ДанныеКлассификатора": {"Код": "796",
                                                                     "Наименование": "шт"},
                                           "НаименованиеПолное": "Штука"})
    bank = c("Справочник.Банки", {"ДанныеКлассификатораБанков": {
        "Наименование": "АО «КБ Меридиан»", "БИК": "044525674", "КоррСчет": "30101810200000000674"},
        "Город": "г. Москва", "Адрес": "119017, г. Москва, ул. Большая Ордынка, д. 40, стр. 4",
        "Телефоны": "+7 (495) 777-14-20"})
    org = c("Справочник.Организации", {
        "Наименование": "ТехноСнаб", "НаименованиеСокращенное": "ООО «ТехноСнаб»",
        "НаименованиеПолное": "Общество с ограниченной ответственностью «ТехноСнаб»",
        "ИНН": ORG_INN, "КПП": ORG_KPP, "ЮридическоеФизическоеЛицо": "ЮридическоеЛицо",
        "Префикс": "ТС", "ОКПО": "19243567", "ОГРН": "1127746123450", "ОКВЭД2": "46.51",
        "НаименованиеОКВЭД2": "Торговля оптовая компьютерами, периферийными устройствами к "
                              "компьютерам и программным обеспечением"})
    account = c("Справочник.БанковскиеСчета", {
        "НомерСчета": "40702810938000012345", "Банк": bank, "Владелец": org,
        "Наименование": "40702810938000012345, АО «КБ Меридиан»", "ВалютаДенежныхСредств": rub,
        "ВидСчета": "Расчетный", "ДатаОткрытия": "2012-03-14"})
    base.edit(org, ОсновнойБанковскийСчет=account)
    customers = c("Справочник.КонтрагентыГруппа", {"Наименование": "Покупатели"})
    vector = c("Справочник.Контрагенты", counterparty_fields(
        "Вектор ООО", "7705432193", customers, "Общество с ограниченной ответственностью «Вектор»",
        "45872134"))
    stroy = c("Справочник.Контрагенты", counterparty_fields(
        "СтройМонолит АО", "5024087659", customers, "Акционерное общество «СтройМонолит»",
        "60258390"))
    petrov = c("Справочник.Контрагенты", {
        **counterparty_fields("Петров Андрей Викторович ИП", "773412567863", None,
                              "Индивидуальный предприниматель Петров Андрей Викторович"),
        "ДокументУдЛичность": "Паспорт гражданина РФ, серия: 45 12, № 345678"})
    price_type = c("Справочник.ТипыЦен", {"Наименование": "Основная цена продажи",
                                          "ВалютаЦены": rub, "ЦенаВключаетНДС": "true",
                                          "ОкруглятьВБольшуюСторону": "false",
                                          "ТочностьОкругления": "0.01"})
    vector_contract = c("Справочник.Договоры", contract_fields(
        org, vector, rub, "27/26-П", "2026-02-10", account, price_type))
    stroy_contract = c("Справочник.Договоры", contract_fields(
        org, stroy, rub, "41/26-П", "2026-04-03", account, price_type))
    base.edit(vector, ОсновнойДоговор=vector_contract)
    base.edit(stroy, ОсновнойДоговор=stroy_contract)
    goods = c("Справочник.НоменклатураГруппа", {"Наименование": "Компьютерная техника",
                                                "КодВПрограмме": "00-00000003"})
    analytics = c("Справочник.ГруппыАналитическогоУчетаНоменклатуры",
                  {"КодВПрограмме": "00001", "Наименование": "Оргтехника"})
    monitor = c("Справочник.Номенклатура", item_fields(
        'Монитор 27" IPS QHD', "MON-27Q-IPS", pcs, goods, analytics=analytics,
        code="00-00000041", description="Монитор 27 дюймов, матрица IPS, 2560×1440"))
    keyboard = c("Справочник.Номенклатура", item_fields(
        "Клавиатура беспроводная K-200", "KB-200W", pcs, goods, vat_code="НДС20",
        code="00-00000042"))
    setup = c("Справочник.Номенклатура", item_fields(
        "Настройка рабочего места", None, pcs, kind="Услуга", code="00-00000057"))
    user = c("Справочник.Пользователи", {"Наименование": "Смирнова Елена Петровна"})
    department = c("Справочник.Подразделения", {"Наименование": "Отдел продаж"})
    return Seeded(rub, pcs, bank, org, account, customers, vector, stroy, petrov,
                  vector_contract, stroy_contract, price_type, goods, analytics, monitor,
                  keyboard, setup, user, department)


# -- documents ------------------------------------------------------------------------------
def _settlement(contract: Ref, rub: Ref, accounts: bool = False) -> dict:
    out = {"Договор": contract, "ВалютаВзаиморасчетов": rub, "КурсВзаиморасчетов": "1",
           "КратностьВзаиморасчетов": "1", "РасчетыВУсловныхЕдиницах": "false"}
    if accounts:
        out.update(СчетУчетаРасчетовСКонтрагентом="62.01", СчетУчетаРасчетовПоАвансам="62.02")
    return out


def _goods_row(n: int, item: Ref, unit: Ref, qty: int, price: int, vat_code="БезНДС") -> dict:
    return {"НомерСтрокиДокумента": str(n), "ДанныеНоменклатуры": {"Номенклатура": item},
            "ЕдиницаИзмерения": unit, "Количество": str(qty), "Сумма": f"{qty * price}.00",
            "Цена": f"{price}.00", "СтавкаНДС": vat_code}


def order_fields(s: Seeded, number: str, date: str, qty: int = 4) -> dict:
    total = qty * 24900 + qty * 3500
    return {"Дата": date, "Номер": number, "Организация": s.org, "Валюта": s.rub,
            "Сумма": f"{total}.00", "Подразделение": s.department, "Контрагент": s.vector,
            "ДанныеВзаиморасчетов": _settlement(s.vector_contract, s.rub),
            "ТипЦен": s.price_type, "СуммаВключаетНДС": "true",
            "БанковскийСчетОрганизации": s.org_account,
            "Товары": [_goods_row(1, s.monitor, s.pcs, qty, 24900)],
            "Услуги": [{"НомерСтрокиДокумента": "1", "ДанныеНоменклатуры": {"Номенклатура": s.setup},
                        "Количество": str(qty), "Сумма": f"{qty * 3500}.00", "Цена": "3500.00",
                        "СтавкаНДС": "БезНДС", "Содержание": "Настройка рабочего места"}],
            "Комментарий": "Оснащение рабочих мест. Менеджер: Кузнецов Д. С.",
            "ЭтапыОплаты": [{"НомерСтрокиДокумента": "1", "ВариантОплаты": "Предоплата",
                             "ФормаОплаты": "Безналичная", "ДатаПлатежа": date[:10],
                             "ПроцентПлатежа": "100", "СуммаПлатежа": f"{total}.00"}],
            "НалогообложениеНДСПродавца": "НеОблагаетсяНДС"}


def invoice_fields(s: Seeded, number: str, date: str, qty: int = 4) -> dict:
    return {"Дата": date, "Номер": number, "Организация": s.org, "Валюта": s.rub,
            "Сумма": f"{qty * 24900}.00", "Контрагент": s.vector,
            "ДанныеВзаиморасчетов": _settlement(s.vector_contract, s.rub),
            "ТипЦен": s.price_type, "СуммаВключаетНДС": "true",
            "БанковскийСчетОрганизации": s.org_account,
            "Товары": [_goods_row(1, s.monitor, s.pcs, qty, 24900)],
            "Комментарий": "Счет по заказу"}


def sale_fields(s: Seeded, number: str, date: str, order: Ref | None, qty: int = 4) -> dict:
    """A sale; `order` is a Документ.ЗаказКлиента (`Заказ`) or a Документ.СчетПокупателю
    (`СчетПокупателю`)."""
    fields = {"Дата": date, "Номер": number, "Организация": s.org,
              "ВидОперации": "РеализацияКлиенту", "Валюта": s.rub, "Сумма": f"{qty * 24900}.00",
              "СуммаВключаетНДС": "true", "Контрагент": s.vector,
              "ДанныеВзаиморасчетов": _settlement(s.vector_contract, s.rub, accounts=True),
              "Товары": [_goods_row(1, s.monitor, s.pcs, qty, 24900)]}
    if order is not None:
        fields["СчетПокупателю" if order.type == "Документ.СчетПокупателю" else "Заказ"] = order
    return fields


def return_fields(s: Seeded, number: str, date: str, sale: Ref, qty: int = 1) -> dict:
    return {"Дата": date, "Номер": number, "Организация": s.org,
            "ВидОперации": "ВозвратОтКлиента", "Валюта": s.rub, "Сумма": f"{qty * 24900}.00",
            "Контрагент": s.vector,
            "ДанныеВзаиморасчетов": _settlement(s.vector_contract, s.rub, accounts=True),
            "ДокументРеализации": sale,
            "Товары": [{**_goods_row(1, s.monitor, s.pcs, qty, 24900), "Себестоимость": "18750.00",
                        "СчетУчета": "41.01", "СчетДоходов": "90.01.1",
                        "ВозвратПодДеятельность": "НеОблагаетсяНДС"}]}


def _payment_row(s: Seeded, amount: str, order: Ref | None, sale: Ref | None = None) -> dict:
    row = {"Сумма": amount, "СуммаВзаиморасчетов": amount, "СтавкаНДС": "БезНДС",
           "ДанныеВзаиморасчетов": _settlement(s.vector_contract, s.rub, accounts=True),
           "СпособПогашенияЗадолженности": "Автоматически" if sale is None else "ПоДокументу"}
    if order is not None:
        row["Заказ"] = order
    if sale is not None:  # the payment settles a shipment ("по документу")
        row["ДокументРасчетов"] = sale
    return row


def bank_receipt_fields(s: Seeded, number: str, date: str, amount: str,
                        order: Ref | None, sale: Ref | None = None) -> dict:
    return {"Дата": date, "Номер": number, "Организация": s.org,
            "ОбщиеДанные": {"ДатаВыписки": date[:10], "ДатаВходящегоДокумента": date[:10],
                            "НомерВходящегоДокумента": "1873",
                            "ТипПлатежногоДокумента": "ПлатежноеПоручение", "Валюта": s.rub,
                            "Сумма": amount, "БанковскийСчетОрганизации": s.org_account,
                            "НазначениеПлатежа": f"Оплата по заказу. Сумма {amount}, без НДС",
                            "Подразделение": s.department},
            "ВидРасчетов": "СПокупателем", "Контрагент": s.vector,
            "РасшифровкаПлатежа": [_payment_row(s, amount, order, sale)]}


def cash_receipt_fields(s: Seeded, number: str, date: str, amount: str,
                        order: Ref | None, sale: Ref | None = None) -> dict:
    return {"Дата": date, "Номер": number, "Организация": s.org,
            "ОбщиеДанные": {"Валюта": s.rub, "Сумма": amount, "Подразделение": s.department,
                            "Основание": "Оплата по заказу", "ПринятоОт": "Кузнецов Д. С."},
            "Контрагент": s.vector, "ВидРасчетов": "СПокупателем",
            "РасшифровкаПлатежа": [_payment_row(s, amount, order, sale)]}
