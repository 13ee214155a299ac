"""Write a realistic EnterpriseData 1.8 message of N objects from an accounting base, and its config.

Usage: python bench/make_message.py --objects 100000 --out DIR [--seed 1] [--shape bench|flat]

DIR gets `onecsync.yaml` and `exchange/accounting/Message_<accounting>_<node>.xml` (MessageNo 1),
with an empty `exchange/crm/` beside it: what a first exchange with a big accounting base looks
like. The body is shaped after fixtures/exchange/accounting/*.xml, indented with tabs as 1C
writes it: counterparties with contact information, their contracts and bank accounts,
nomenclature, and the settlement documents of such a base (sales with 1-8 rows of goods, bank
and cash receipts, returns), after the handful of catalogs every message carries (organization,
banks, currency, units, groups, users, departments).

The same seed gives the same bytes. The message is written as it is generated, one object at a
time: cross-references (a contract's counterparty, a sale's items) are derived from the index of
the object they name, so nothing is kept in memory whatever N.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
from pathlib import Path
from typing import TextIO

NODE = "8d0e3a9c-5b7f-4c1e-9a2d-3f4b5c6d7e8f"
ACCOUNTING = "0b7e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
CRM = "4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
VERSION = "1.8"

# Shares of the objects after the fixed catalogs, per 100: about two thirds catalogs, one third
# documents, as in the first exchange of a trading company's accounting base.
MIX = (("cp", 20), ("contract", 22), ("item", 20), ("cp_account", 3),
       ("sale", 16), ("bank_in", 14), ("cash_in", 4), ("return", 1))
# The second shape (issue 15): catalogs only, as a plain export of reference data might be, and
# written flat (no indentation, no line breaks between tags): the parser's cost per byte differs.
SHAPES = {"bench": MIX, "flat": (("cp", 20), ("contract", 22), ("item", 20), ("cp_account", 3))}
_BETWEEN_TAGS = re.compile(r">\s+<")
N_CP_GROUPS, N_ITEM_GROUPS, N_USERS, N_DEPTS, N_BANKS = 8, 12, 10, 5, 5
ORG_REF = "b1d0fb3b-54ff-421d-99c6-fe2fc40e4d5c"
ORG_ACCOUNT_REF = "b5f9b6ae-55db-4e2d-b2a1-e30a56469849"
RUB_REF = "279ecc8a-c201-4fe1-827a-961f08b16ef1"
PRICE_TYPE_REF = "f16fedf7-5c05-4e32-bb10-946ac7767e9b"
UNITS = (("70199a4a-b74d-4622-a13b-1037ddb63eff", "796", "шт", "Штука"),
         ("0c5f0b6e-4a7b-4f59-9d2a-3f1f3d5a6b01", "166", "кг", "Килограмм"),
         ("1d6a1c7f-5b8c-4a6a-8e3b-4a2a4e6b7c02", "055", "м2", "Квадратный метр"))
ROOTS = ("Вектор", "Альфа", "СтройМонолит", "ТехноПарк", "Меридиан", "Гранит", "Северсталь-Снаб",
         "Интеграл", "Восход", "Кристалл", "Орион", "Полюс", "Радуга", "Сфера", "Трейд-Сервис",
         "Энергия", "Атлант", "Бриз", "Гермес", "Дельта", "Континент", "Логистик", "Магистраль",
         "Никс", "Омега", "Профиль", "Ресурс", "Сигма", "Фаворит", "Эталон")
SURNAMES = ("Петров", "Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов",
            "Новиков", "Морозов", "Волков", "Соловьев")
NAMES = ("Андрей", "Сергей", "Алексей", "Дмитрий", "Игорь", "Олег", "Николай", "Павел")
PATRONYMICS = ("Викторович", "Петрович", "Сергеевич", "Андреевич", "Олегович", "Иванович")
STREETS = ("Ленинградский пр-кт", "Профсоюзная ул", "Речная ул", "Тверская ул", "Садовая ул",
           "Мира пр-кт", "Лесная ул", "Заводская ул", "Строителей ул", "Гагарина ул")
CITIES = (("Москва г", ""), ("Московская обл", "Красногорск г"), ("Московская обл", "Химки г"),
          ("Санкт-Петербург г", ""), ("Тверская обл", "Тверь г"), ("Калужская обл", "Калуга г"))
GOODS = ("Монитор 27\" IPS QHD", "Клавиатура беспроводная K-200", "Мышь оптическая M-15",
         "Ноутбук 15,6\" Core i5", "Кабель HDMI 2 м", "Картридж лазерный 85A", "Бумага А4 500 л.",
         "Сетевой фильтр 5 розеток", "Источник бесперебойного питания 1500 ВА",
         "Коммутатор 24 порта", "Жесткий диск 2 ТБ", "Модуль памяти DDR4 16 ГБ",
         "Кресло офисное", "Стол письменный 1400 мм", "Шкаф архивный")
SERVICES = ("Настройка рабочего места", "Монтаж локальной сети", "Доставка по Москве",
            "Абонентское обслуживание", "Заправка картриджа")


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- templates ----------------------------------------------------------------------------------
# An object is a tree of (name, children-or-text); it is rendered once per kind, with tabs, into
# a format string. "{key}" is a value; "?key" as a leaf's text makes the whole line optional
# (the value None leaves it out). Values are escaped where they are made.
class Template:
    def __init__(self, tree: tuple, depth: int = 2) -> None:
        self.optional: list[tuple[str, str, str]] = []  # (key, tag, indent)
        lines: list[str] = []
        self._render(tree, depth, lines)
        self.text = "\n" + "\n".join(lines)

    def _render(self, node: tuple, depth: int, out: list[str]) -> None:
        name, content = node
        pad = "\t" * depth
        if isinstance(content, str):
            if content.startswith("?"):
                key = content[1:]
                self.optional.append((key, name, pad))
                out.append("{_opt_" + key + "}")
                return
            out.append(f"{pad}<{name}>{content}</{name}>")
            return
        out.append(f"{pad}<{name}>")
        for child in content:
            self._render(child, depth + 1, out)
        out.append(f"{pad}</{name}>")

    def render(self, values: dict) -> str:
        for key, tag, pad in self.optional:
            v = values.get(key)
            values["_opt_" + key] = "" if v is None else f"{pad}<{tag}>{v}</{tag}>"
        text = self.text.format_map(values)
        if self.optional:
            text = text.replace("\n\n", "\n")  # the lines left out
        return text


def org(tag: str = "Организация") -> tuple:
    return (tag, (("Ссылка", ORG_REF), ("Наименование", "ТехноСнаб"),
                  ("НаименованиеСокращенное", "ООО «ТехноСнаб»"),
                  ("НаименованиеПолное", "Общество с ограниченной ответственностью «ТехноСнаб»"),
                  ("ИНН", "7728415638"), ("КПП", "772801001"),
                  ("ЮридическоеФизическоеЛицо", "ЮридическоеЛицо")))


def classifier(tag: str, ref: str, code: str, name: str) -> tuple:
    return (tag, (("Ссылка", ref), ("ДанныеКлассификатора", (("Код", code), ("Наименование", name)))))


def rub(tag: str = "Валюта") -> tuple:
    return classifier(tag, RUB_REF, "643", "руб.")


def bank_key(tag: str, p: str = "bank") -> tuple:
    return (tag, (("Ссылка", f"{{{p}_ref}}"), ("ДанныеКлассификатораБанков", (
        ("Наименование", f"{{{p}_name}}"), ("БИК", f"{{{p}_bik}}"), ("КоррСчет", f"{{{p}_corr}}")))))


def org_account(tag: str = "БанковскийСчетОрганизации") -> tuple:
    return (tag, (("Ссылка", ORG_ACCOUNT_REF), ("НомерСчета", "40702810938000012345"),
                  ("Банк", (("Ссылка", "65f07cb5-586e-4804-b0cf-e10a21a032f2"),
                            ("ДанныеКлассификатораБанков", (
                                ("Наименование", "АО «КБ Меридиан»"), ("БИК", "044525674"),
                                ("КоррСчет", "30101810200000000674"))))),
                  ("Владелец", (org("ОрганизацииСсылка"),))))


def cp_key(tag: str, p: str = "cp") -> tuple:
    return (tag, (("Ссылка", f"{{{p}_ref}}"), ("Наименование", f"{{{p}_name}}"),
                  ("НаименованиеПолное", f"{{{p}_full}}"), ("ИНН", f"{{{p}_inn}}"),
                  ("КПП", f"?{p}_kpp"), ("ЮридическоеФизическоеЛицо", f"{{{p}_kind}}"),
                  ("Группа", (("Ссылка", f"{{{p}_group_ref}}"), ("Наименование", f"{{{p}_group}}")))))


def contract_key(tag: str, p: str = "ct") -> tuple:
    return (tag, (("Ссылка", f"{{{p}_ref}}"), ("ВидДоговора", "СПокупателем"), org(),
                  cp_key("Контрагент", p + "_cp"), rub("ВалютаВзаиморасчетов"),
                  ("РасчетыВУсловныхЕдиницах", "false"), ("Наименование", f"{{{p}_name}}"),
                  ("Дата", f"{{{p}_date}}"), ("Номер", f"{{{p}_no}}")))


def item_key(tag: str, p: str = "it") -> tuple:
    return (tag, (("Ссылка", f"{{{p}_ref}}"), ("НаименованиеПолное", f"{{{p}_full}}"),
                  ("КодВПрограмме", f"{{{p}_code}}"), ("Артикул", f"?{p}_sku"),
                  ("Наименование", f"{{{p}_name}}"),
                  ("Группа", (("Ссылка", f"{{{p}_group_ref}}"), ("Наименование", f"{{{p}_group}}"),
                              ("КодВПрограмме", f"{{{p}_group_code}}")))))


def user_key(tag: str = "Ответственный") -> tuple:
    return (tag, (("Ссылка", "{user_ref}"), ("Наименование", "{user_name}")))


def dept_key() -> tuple:
    return ("Подразделение", (("Ссылка", "{dept_ref}"), ("Наименование", "{dept_name}")))


def doc_keys() -> tuple:
    return ("КлючевыеСвойства", (("Ссылка", "{ref}"), ("Дата", "{date}"), ("Номер", "{no}"), org()))


def settlement_data() -> tuple:
    return ("ДанныеВзаиморасчетов", (contract_key("Договор"), rub("ВалютаВзаиморасчетов"),
                                     ("КурсВзаиморасчетов", "1"), ("КратностьВзаиморасчетов", "1"),
                                     ("РасчетыВУсловныхЕдиницах", "false"),
                                     ("СчетУчетаРасчетовСКонтрагентом", "62.01"),
                                     ("СчетУчетаРасчетовПоАвансам", "62.02")))


def contact_row(kind: str, key: str) -> tuple:
    return ("Строка", (("ВидКонтактнойИнформации", kind), ("ЗначенияПолей", f"{{{key}}}")))


CP = Template(("Справочник.Контрагенты", (
    cp_key("КлючевыеСвойства"), ("ОКПО", "?okpo"), ("ДокументУдЛичность", "?passport"),
    ("КонтактнаяИнформация", (contact_row("ЮридическийАдрес", "address"), contact_row("Телефон", "phone"),
                              contact_row("АдресЭлектроннойПочты", "email"))),
    contract_key("ОсновнойДоговор"))))
CONTRACT = Template(("Справочник.Договоры", (
    contract_key("КлючевыеСвойства"), ("СрокДействия", "{until}"), org_account(),
    ("ТипЦен", (("Ссылка", PRICE_TYPE_REF), ("Наименование", "Основная цена продажи"), rub("ВалютаЦены"))),
    ("СрокКонтроляОплатыВДнях", "{days}"))))
ITEM = Template(("Справочник.Номенклатура", (
    item_key("КлючевыеСвойства"), ("ТипНоменклатуры", "{it_type}"), ("Описание", "?it_descr"),
    classifier("ЕдиницаИзмерения", "{unit_ref}", "{unit_code}", "{unit_name}"),
    ("СтавкаНДС", "{vat}"), ("ПризнакПредметаРасчета", "{it_type}"))))
CP_ACCOUNT = Template(("Справочник.БанковскиеСчета", (
    ("КлючевыеСвойства", (("Ссылка", "{ref}"), ("НомерСчета", "{number}"), bank_key("Банк"),
                          ("Владелец", (cp_key("КонтрагентыСсылка"),)))),
    ("Наименование", "{name}"), rub("ВалютаДенежныхСредств"), ("ВидСчета", "Расчетный"),
    ("ДатаОткрытия", "{opened}"))))
SALE_HEAD = Template(("Документ.РеализацияТоваровУслуг", (
    doc_keys(), user_key(), ("ВидОперации", "РеализацияКлиенту"), rub(), ("Сумма", "{amount}"),
    ("СуммаВключаетНДС", "true"), dept_key(), cp_key("Контрагент"), settlement_data(),
    ("Комментарий", "?comment"), ("Товары", "{rows}"))))
SALE_ROW = Template(("Строка", (
    ("НомерСтрокиДокумента", "{n}"), ("ДанныеНоменклатуры", (item_key("Номенклатура"),)),
    classifier("ЕдиницаИзмерения", "{unit_ref}", "{unit_code}", "{unit_name}"),
    ("Количество", "{qty}"), ("Сумма", "{sum}"), ("Цена", "{price}"), ("СтавкаНДС", "{vat}"),
    ("СуммаНДС", "{vat_sum}"), ("СчетУчета", "41.01"), ("СчетДоходов", "90.01.1"),
    ("СчетРасходов", "90.02.1"))), depth=4)
RETURN_HEAD = Template(("Документ.ВозвратТоваровОтПокупателя", (
    doc_keys(), user_key(), ("ВидОперации", "ВозвратОтКлиента"), rub(), ("Сумма", "{amount}"),
    cp_key("Контрагент"), settlement_data(),
    ("ДокументРеализации", (("РеализацияТоваровУслугСсылка", (
        ("Ссылка", "{sale_ref}"), ("Дата", "{sale_date}"), ("Номер", "{sale_no}"), org())),)),
    ("Товары", "{rows}"))))
RETURN_ROW = Template(("Строка", (
    ("ДанныеНоменклатуры", (item_key("Номенклатура"),)),
    classifier("ЕдиницаИзмерения", "{unit_ref}", "{unit_code}", "{unit_name}"),
    ("Количество", "{qty}"), ("Сумма", "{sum}"), ("ВозвратПодДеятельность", "НеОблагаетсяНДС"))), depth=4)
PAYMENT_ROW = Template(("Строка", (
    ("Заказ", (("ЗаказКлиента", (("Ссылка", "{order_ref}"), ("Дата", "{order_date}"),
                                 ("Номер", "{order_no}"), org())),)),
    ("Сумма", "{amount}"), ("СуммаВзаиморасчетов", "{amount}"), ("СтавкаНДС", "НДС20"),
    settlement_data(), ("СпособПогашенияЗадолженности", "Автоматически"))), depth=4)
PAYMENT_ROW_PLAIN = Template(("Строка", (
    ("Сумма", "{amount}"), ("СуммаВзаиморасчетов", "{amount}"), ("СтавкаНДС", "НДС20"),
    settlement_data(), ("СпособПогашенияЗадолженности", "Автоматически"))), depth=4)
BANK_IN = Template(("Документ.ПБДСРасчетыСКонтрагентами", (
    doc_keys(), ("ОбщиеДанные", (
        ("ДатаВыписки", "{day}"), user_key(), ("ДатаВходящегоДокумента", "{day}"),
        ("НомерВходящегоДокумента", "{in_no}"), ("ТипПлатежногоДокумента", "ПлатежноеПоручение"),
        rub(), ("Сумма", "{amount}"), org_account(), ("НазначениеПлатежа", "{purpose}"), dept_key())),
    ("ВидРасчетов", "СПокупателем"), cp_key("Контрагент"), ("РасшифровкаПлатежа", "{row}"))))
CASH_IN = Template(("Документ.ПКОРасчетыСКонтрагентами", (
    doc_keys(), ("ОбщиеДанные", (
        user_key(), rub(), ("Сумма", "{amount}"), dept_key(), ("Основание", "{purpose}"),
        ("ПринятоОт", "{cp_name}"), ("ВТомЧислеНДС", "{vat_text}"))),
    cp_key("Контрагент"), ("ВидРасчетов", "СПокупателем"), ("РасшифровкаПлатежа", "{row}"))))


# -- deterministic values -----------------------------------------------------------------------
class Values:
    """Every value of the message, derived from (seed, kind, index): nothing to remember."""

    def __init__(self, seed: int, totals: dict[str, int]) -> None:
        self.seed = seed
        self.totals = totals

    def ref(self, kind: str, i: int) -> str:
        h = hashlib.blake2b(f"{self.seed}:{kind}:{i}".encode(), digest_size=16).hexdigest()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def rng(self, kind: str, i: int) -> random.Random:
        return random.Random(f"{self.seed}:{kind}:{i}")

    def counterparty(self, i: int, p: str = "cp") -> dict:
        r = self.rng("cp", i)
        group = r.randrange(N_CP_GROUPS)
        v = {f"{p}_ref": self.ref("cp", i), f"{p}_group_ref": self.ref("cp_group", group),
             f"{p}_group": f"Покупатели {group + 1}"}
        if r.random() < 0.8:
            root = ROOTS[r.randrange(len(ROOTS))]
            form, full = (("ООО", "Общество с ограниченной ответственностью") if r.random() < 0.85
                          else ("АО", "Акционерное общество"))
            v.update({f"{p}_name": f"{root}-{i} {form}", f"{p}_full": f"{full} «{root}-{i}»",
                      f"{p}_inn": f"{r.randrange(10**9, 10**10)}", f"{p}_kpp": f"{r.randrange(10**8, 10**9)}",
                      f"{p}_kind": "ЮридическоеЛицо"})
        else:
            fio = f"{SURNAMES[r.randrange(12)]} {NAMES[r.randrange(8)]} {PATRONYMICS[r.randrange(6)]}"
            v.update({f"{p}_name": f"{fio} ИП", f"{p}_full": f"Индивидуальный предприниматель {fio}",
                      f"{p}_inn": f"{r.randrange(10**11, 10**12)}", f"{p}_kpp": None,
                      f"{p}_kind": "ФизическоеЛицо"})
        return v

    def contract(self, j: int, p: str = "ct") -> dict:
        cp = j % max(self.totals["cp"], 1)
        r = self.rng("contract", j)
        month, day = r.randrange(1, 13), r.randrange(1, 29)
        no = f"{j + 1}/{month:02d}-П"
        v = {f"{p}_ref": self.ref("contract", j), f"{p}_no": no, f"{p}_date": f"2025-{month:02d}-{day:02d}",
             f"{p}_name": f"Договор поставки № {no} от {day:02d}.{month:02d}.2025"}
        v.update(self.counterparty(cp, p + "_cp"))
        return v

    def item(self, k: int, p: str = "it") -> dict:
        r = self.rng("item", k)
        group = r.randrange(N_ITEM_GROUPS)
        service = r.random() < 0.15
        base = SERVICES[r.randrange(len(SERVICES))] if service else GOODS[r.randrange(len(GOODS))]
        name = _x(f"{base} (арт. {k})")
        unit = UNITS[0] if service else UNITS[r.randrange(len(UNITS))]
        return {f"{p}_ref": self.ref("item", k), f"{p}_name": name,
                f"{p}_full": _x(f"{base}, исполнение {r.randrange(1, 40)}, партия {k}"),
                f"{p}_code": f"00-{k + 1:08d}", f"{p}_sku": None if service else f"A{r.randrange(10**6):06d}",
                f"{p}_group_ref": self.ref("item_group", group), f"{p}_group": f"Номенклатурная группа {group + 1}",
                f"{p}_group_code": f"00-{group + 1:08d}", f"{p}_type": "Услуга" if service else "Товар",
                f"{p}_descr": None if r.random() < 0.6 else _x(f"{base}: описание для карточки товара {k}"),
                "unit_ref": unit[0], "unit_code": unit[1], "unit_name": unit[2]}

    @staticmethod
    def contact(kind: str, presentation: str, body: str) -> str:
        return _x(f'<КонтактнаяИнформация xmlns="http://www.v8.1c.ru/ssl/contactinfo" '
                  f'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                  f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                  f'Представление="{presentation}"><Комментарий/>{body}</КонтактнаяИнформация>')

    def common(self, r: random.Random) -> dict:
        user, dept = r.randrange(N_USERS), r.randrange(N_DEPTS)
        return {"user_ref": self.ref("user", user), "user_name": f"Сотрудник {user + 1}",
                "dept_ref": self.ref("dept", dept), "dept_name": f"Отдел продаж {dept + 1}"}

    def bank(self, b: int) -> dict:
        return {"bank_ref": self.ref("bank", b), "bank_name": f"АО «Банк {ROOTS[b]}»",
                "bank_bik": f"0445{25000 + b:05d}", "bank_corr": f"301018100000000{b:05d}"}


def plan(n: int, seed: int, shape: str = "bench") -> tuple[list[str], dict[str, int]]:
    """The kinds of the variable objects in a seeded cycle, and how many of each."""
    mix = SHAPES[shape]
    cycle = random.Random(seed).sample([k for k, w in mix for _ in range(w)], sum(w for _, w in mix))
    full, rest = divmod(max(n - fixed_count(), 0), len(cycle))
    return cycle, {k: full * w + cycle[:rest].count(k) for k, w in mix}


def fixed_count() -> int:
    return 1 + N_BANKS + 1 + N_CP_GROUPS + N_ITEM_GROUPS + len(UNITS) + 1 + 1 + N_USERS + N_DEPTS


# -- the objects --------------------------------------------------------------------------------
def _fixed(v: Values) -> list[str]:
    out = []
    fixed = {
        "org": Template(("Справочник.Организации", (
            ("КлючевыеСвойства", org()[1]), ("Префикс", "ТС"), ("ОКПО", "19243567"),
            ("ОГРН", "1127746123450"), org_account("ОсновнойБанковскийСчет"), ("ОКВЭД2", "46.51"),
            ("ОКОПФ", "12300"), ("ОКФС", "16")))),
        "bank": Template(("Справочник.Банки", (
            bank_key("КлючевыеСвойства"),
            ("Город", "г. Москва"), ("Адрес", "{address}")))),
    }
    out.append(fixed["org"].render({}))
    for b in range(N_BANKS):
        address = f"119017, г. Москва, ул. Большая Ордынка, д. {b + 1}"
        out.append(fixed["bank"].render({**v.bank(b), "address": address}))
    out.append(Template(("Справочник.БанковскиеСчета", (
        org_account("КлючевыеСвойства"), ("Наименование", "40702810938000012345, АО «КБ Меридиан»"),
        rub("ВалютаДенежныхСредств"), ("ВидСчета", "Расчетный")))).render({}))
    group = Template(("Справочник.КонтрагентыГруппа", (("КлючевыеСвойства", (
        ("Ссылка", "{ref}"), ("Наименование", "{name}"))),)))
    for g in range(N_CP_GROUPS):
        out.append(group.render({"ref": v.ref("cp_group", g), "name": f"Покупатели {g + 1}"}))
    igroup = Template(("Справочник.НоменклатураГруппа", (("КлючевыеСвойства", (
        ("Ссылка", "{ref}"), ("Наименование", "{name}"), ("КодВПрограмме", "{code}"))),)))
    for g in range(N_ITEM_GROUPS):
        out.append(igroup.render({"ref": v.ref("item_group", g), "name": f"Номенклатурная группа {g + 1}",
                                  "code": f"00-{g + 1:08d}"}))
    unit = Template(("Справочник.ЕдиницыИзмерения", (
        classifier("КлючевыеСвойства", "{ref}", "{code}", "{name}"),
        ("НаименованиеПолное", "{full}"))))
    for ref, code, name, full in UNITS:
        out.append(unit.render({"ref": ref, "code": code, "name": name, "full": full}))
    out.append(Template(("Справочник.Валюты", (
        classifier("КлючевыеСвойства", RUB_REF, "643", "руб."), ("НаименованиеПолное", "Российский рубль"),
        ("ЗагружаетсяИзИнтернета", "false"),
        ("ПараметрыПрописи", "рубль, рубля, рублей, м, копейка, копейки, копеек, ж, 2")))).render({}))
    out.append(Template(("Справочник.ТипыЦен", (
        ("КлючевыеСвойства", (("Ссылка", PRICE_TYPE_REF), ("Наименование", "Основная цена продажи"),
                              rub("ВалютаЦены"))),
        ("ЦенаВключаетНДС", "true"), ("ОкруглятьВБольшуюСторону", "false"),
        ("ТочностьОкругления", "0.01")))).render({}))
    simple = {"user": "Справочник.Пользователи", "dept": "Справочник.Подразделения"}
    for kind, n, label in (("user", N_USERS, "Сотрудник"), ("dept", N_DEPTS, "Отдел продаж")):
        t = Template((simple[kind], (("КлючевыеСвойства", (("Ссылка", "{ref}"), ("Наименование", "{name}"))),)))
        for i in range(n):
            out.append(t.render({"ref": v.ref(kind, i), "name": f"{label} {i + 1}"}))
    return out


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Generator:
    def __init__(self, n: int, seed: int, shape: str = "bench") -> None:
        self.n = n
        self.cycle, self.totals = plan(n, seed, shape)
        totals = self.totals
        self.v = Values(seed, totals)
        self.next = {k: 0 for k in totals}

    def objects(self):
        fixed = _fixed(self.v)
        yield from fixed[:self.n]
        variable = max(self.n - len(fixed), 0)
        for i in range(variable):
            kind = self.cycle[i % len(self.cycle)]
            j = self.next[kind]
            self.next[kind] += 1
            yield getattr(self, "_" + kind)(j)

    def _cp(self, i: int) -> str:
        v = self.v
        values = v.counterparty(i)
        r = v.rng("cp-card", i)
        region, city = CITIES[r.randrange(len(CITIES))]
        street, house, office = STREETS[r.randrange(len(STREETS))], r.randrange(1, 120), r.randrange(1, 999)
        index = f"{r.randrange(101000, 199999)}"
        town = f"{region}, {city}" if city else region
        presentation = f"{index}, {town}, {street}, дом № {house}, офис {office}"
        city_el = f"<Город>{city}</Город>" if city else ""
        values["address"] = v.contact("Адрес", presentation, (
            f'<Состав xsi:type="Адрес" Страна="РОССИЯ"><Состав xsi:type="АдресРФ"><СубъектРФ>{region}'
            f'</СубъектРФ>{city_el}<Улица>{street}</Улица><ДопАдрЭл ТипАдрЭл="10100000" Значение="{index}"/>'
            f'<ДопАдрЭл><Номер Тип="1010" Значение="{house}"/></ДопАдрЭл><ДопАдрЭл><Номер Тип="2030" '
            f'Значение="{office}"/></ДопАдрЭл></Состав></Состав>'))
        code = r.choice(("495", "499", "812", "916", "903"))
        number = f"{r.randrange(100, 999)}-{r.randrange(10, 99)}-{r.randrange(10, 99)}"
        values["phone"] = v.contact("Телефон", f"+7 ({code}) {number}", (
            f'<Состав xsi:type="НомерТелефона" КодСтраны="7" КодГорода="{code}" Номер="{number}" Добавочный=""/>'))
        email = f"info{i}@{ROOTS[i % len(ROOTS)].lower().replace('-', '')}.example"
        values["email"] = v.contact("АдресЭлектроннойПочты", email, (
            f'<Состав xsi:type="ЭлектроннаяПочта" Значение="{email}"/>'))
        legal = values["cp_kind"] == "ЮридическоеЛицо"
        values["okpo"] = f"{r.randrange(10**7, 10**8)}" if legal else None
        values["passport"] = None if legal else (
            f"Паспорт гражданина РФ, серия: {r.randrange(10, 99)} {r.randrange(10, 99)}, № "
            f"{r.randrange(100000, 999999)}, выдан: 17.05.2012, ОУФМС России по гор. Москве")
        # The main contract is the counterparty's first one (contract j belongs to j mod #cp).
        values.update(v.contract(i if i < max(self.totals["contract"], 1) else 0))
        return CP.render(values)

    def _contract(self, j: int) -> str:
        r = self.v.rng("contract-card", j)
        values = self.v.contract(j)
        values.update(until=f"{2026 + r.randrange(3)}-12-31", days=r.choice((5, 10, 14, 30, 45)))
        return CONTRACT.render(values)

    def _item(self, k: int) -> str:
        values = self.v.item(k)
        values["vat"] = "БезНДС" if values["it_type"] == "Услуга" else "НДС20"
        return ITEM.render(values)

    def _cp_account(self, a: int) -> str:
        v = self.v
        r = v.rng("cp-account", a)
        cp = r.randrange(max(self.totals["cp"], 1))
        b = r.randrange(N_BANKS)
        number = f"40702810{r.randrange(10**11, 10**12)}"
        values = {**v.counterparty(cp), **v.bank(b), "ref": v.ref("cp_account", a), "number": number,
                  "name": f"{number}, АО «Банк {ROOTS[b]}»",
                  "opened": f"20{r.randrange(10, 26)}-0{r.randrange(1, 10)}-15"}
        return CP_ACCOUNT.render(values)

    def _doc(self, kind: str, j: int, r: random.Random, prefix: str) -> dict:
        v = self.v
        month, day = r.randrange(1, 13), r.randrange(1, 29)
        ct = r.randrange(max(self.totals["contract"], 1))
        values = {"ref": v.ref(kind, j), "date": f"2025-{month:02d}-{day:02d}T{r.randrange(8, 20):02d}:"
                  f"{r.randrange(60):02d}:{r.randrange(60):02d}", "day": f"2025-{month:02d}-{day:02d}",
                  "no": f"{prefix}00-{j + 1:06d}", **v.common(r), **v.contract(ct)}
        values.update(v.counterparty(ct % max(self.totals["cp"], 1)))
        return values

    def _rows(self, template: Template, r: random.Random, count: int) -> tuple[str, int]:
        rows, total = [], 0
        for n in range(1, count + 1):
            values = self.v.item(r.randrange(max(self.totals["item"], 1)))
            qty = r.randrange(1, 50)
            price = r.randrange(100_00, 150_000_00)
            amount = qty * price
            total += amount
            values.update(n=n, qty=qty, price=_money(price), sum=_money(amount),
                          vat="БезНДС" if values["it_type"] == "Услуга" else "НДС20",
                          vat_sum=_money(amount // 6))
            rows.append(template.render(values))
        return "".join(rows) + "\n\t\t\t", total

    def _sale(self, j: int) -> str:
        r = self.v.rng("sale", j)
        values = self._doc("sale", j, r, "ТС")
        values["rows"], total = self._rows(SALE_ROW, r, r.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8)))
        values["amount"] = _money(total)
        values["comment"] = None if r.random() < 0.7 else f"Отгрузка по заявке № {r.randrange(1, 9999)}"
        return SALE_HEAD.render(values)

    def _return(self, j: int) -> str:
        r = self.v.rng("return", j)
        values = self._doc("return", j, r, "ТВ")
        sale = r.randrange(max(self.totals["sale"], 1))
        sr = self.v.rng("sale", sale)
        sale_values = self._doc("sale", sale, sr, "ТС")
        values.update(sale_ref=sale_values["ref"], sale_date=sale_values["date"], sale_no=sale_values["no"])
        values["rows"], total = self._rows(RETURN_ROW, r, 1)
        values["amount"] = _money(total)
        return RETURN_HEAD.render(values)

    def _payment(self, kind: str, j: int, prefix: str) -> dict:
        r = self.v.rng(kind, j)
        values = self._doc(kind, j, r, prefix)
        cents = r.randrange(1000_00, 900_000_00)
        values.update(amount=_money(cents), in_no=str(r.randrange(1, 9999)),
                      purpose=f"Оплата по счету № {r.randrange(1, 99999)} от {values['day'][8:10]}."
                              f"{values['day'][5:7]}.2025 за товары и услуги. Сумма {cents // 100}-"
                              f"{cents % 100:02d}, в т.ч. НДС (20%)",
                      vat_text=f"НДС (20%) {_money(cents // 6)}")
        # About one payment in ten names a customer order (the CRM's invoices are such orders).
        if r.random() < 0.1:
            values.update(order_ref=self.v.ref("order", r.randrange(10**6)), order_date=values["date"],
                          order_no=f"ЦР00-{r.randrange(1, 999999):06d}")
            values["row"] = PAYMENT_ROW.render(values) + "\n\t\t\t"
        else:
            values["row"] = PAYMENT_ROW_PLAIN.render(values) + "\n\t\t\t"
        return values

    def _bank_in(self, j: int) -> str:
        return BANK_IN.render(self._payment("bank_in", j, "БВ"))

    def _cash_in(self, j: int) -> str:
        return CASH_IN.render(self._payment("cash_in", j, "КО"))


HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Message xmlns:msg="http://www.1c.ru/SSL/Exchange/Message" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
\t<msg:Header>
\t\t<msg:Format>http://v8.1c.ru/edi/edi_stnd/EnterpriseData/{version}</msg:Format>
\t\t<msg:CreationDate>2026-11-20T09:15:00</msg:CreationDate>
\t\t<msg:Confirmation>
\t\t\t<msg:ExchangePlan>СинхронизацияДанныхЧерезУниверсальныйФормат</msg:ExchangePlan>
\t\t\t<msg:To>{to}</msg:To>
\t\t\t<msg:From>{sender}</msg:From>
\t\t\t<msg:MessageNo>{message_no}</msg:MessageNo>
\t\t\t<msg:ReceivedNo>0</msg:ReceivedNo>
\t\t</msg:Confirmation>
{versions}
\t</msg:Header>
\t<Body xmlns="http://v8.1c.ru/edi/edi_stnd/EnterpriseData/{version}">"""
FOOTER = "\n\t</Body>\n</Message>\n"

CONFIG = """\
node:
  code: {node}
state: state/onecsync.sqlite
bases:
  accounting:
    code: {accounting}
    # a million objects is a 6 GB message, past the default 4096 MiB
    transport: {{kind: directory, path: exchange/accounting, max_message_mib: 65536}}
  crm:
    code: {crm}
    transport: {{kind: directory, path: exchange/crm}}
"""


def write_message(out: TextIO, n: int, seed: int = 1, message_no: int = 1,
                  shape: str = "bench") -> int:
    """Write the message of `n` objects to `out` (a text file); returns the number written."""
    versions = "\n".join(f"\t\t<msg:AvailableVersion>{v}</msg:AvailableVersion>"
                         for v in ("1.17", "1.16", "1.11", "1.10", "1.8", "1.15", "1.12"))
    out.write(HEADER.format(version=VERSION, to=NODE, sender=ACCOUNTING, message_no=message_no,
                            versions=versions))
    count = 0
    for obj in Generator(n, seed, shape).objects():
        out.write(_BETWEEN_TAGS.sub("><", obj).strip() if shape == "flat" else obj)
        count += 1
    out.write(FOOTER)
    return count


def message_path(root: Path) -> Path:
    return root / "exchange" / "accounting" / f"Message_{ACCOUNTING}_{NODE}.xml"


def make(root: Path, n: int, seed: int = 1, shape: str = "bench") -> Path:
    """The config and the accounting base's message of `n` objects under `root`; the message path."""
    (root / "exchange" / "crm").mkdir(parents=True, exist_ok=True)
    path = message_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    (root / "onecsync.yaml").write_text(CONFIG.format(node=NODE, accounting=ACCOUNTING, crm=CRM),
                                        encoding="utf-8")
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        write_message(out, n, seed, shape=shape)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", "-n", type=int, required=True, help="number of body objects")
    ap.add_argument("--out", type=Path, required=True, help="folder for the config and exchange folders")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="bench",
                    help="bench: the mix above, indented; flat: catalogs only, not indented")
    args = ap.parse_args(argv)
    path = make(args.out, args.objects, args.seed, args.shape)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, {args.objects} objects)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
