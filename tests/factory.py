"""Builders of EnterpriseData messages and objects for tests, shaped as 1C writes them.

The objects are small but valid per 1C's schema of their version, so that everything onecsync
relays can be checked against that schema.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

NODE = "8d0e3a9c-5b7f-4c1e-9a2d-3f4b5c6d7e8f"
ACCOUNTING = "0b7e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
CRM = "4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
PLAN = "СинхронизацияДанныхЧерезУниверсальныйФормат"
BASE_VERSIONS = ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17")
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "exchange"


def probe_kb(probe: str, *args: object) -> int:
    """What a probe script, run in a fresh interpreter (its own peak RSS), prints: the KB it grew."""
    proc = subprocess.run([sys.executable, "-c", probe, *map(str, args)], capture_output=True,
                          text=True, cwd=str(REPO), check=True)
    return int(proc.stdout.strip())


def ref(n: int, prefix: str = "aaaaaaaa") -> str:
    return str(uuid.UUID(f"{prefix}-0000-4000-8000-{n:012d}"))


def counterparty(r: str, name: str, inn: str | None = None) -> str:
    inn_el = f"<ИНН>{inn}</ИНН>" if inn else ""
    return (f"<Справочник.Контрагенты><КлючевыеСвойства><Ссылка>{r}</Ссылка>"
            f"<Наименование>{name}</Наименование>{inn_el}"
            "<ЮридическоеФизическоеЛицо>ЮридическоеЛицо</ЮридическоеФизическоеЛицо>"
            "</КлючевыеСвойства></Справочник.Контрагенты>")


def currency(r: str, code: str = "643", name: str = "руб.") -> str:
    return (f"<Справочник.Валюты><КлючевыеСвойства><Ссылка>{r}</Ссылка><ДанныеКлассификатора>"
            f"<Код>{code}</Код><Наименование>{name}</Наименование></ДанныеКлассификатора>"
            "</КлючевыеСвойства></Справочник.Валюты>")


def deletion(element: str, r: str) -> str:
    return (f"<УдалениеОбъекта><СсылкаНаОбъект><СсылкаНаОбъект><{element}>{r}</{element}>"
            "</СсылкаНаОбъект></СсылкаНаОбъект></УдалениеОбъекта>")


@dataclass
class Msg:
    sender: str = ACCOUNTING
    to: str = NODE
    message_no: int | None = 1
    received_no: int | None = 0
    objects: list[str] = field(default_factory=list)
    version: str | None = "1.8"
    versions: tuple[str, ...] = BASE_VERSIONS
    created: str = "2026-11-20T09:15:00"
    plan: str = PLAN
    header_extra: str = ""

    def xml(self) -> bytes:
        fmt = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData" + (f"/{self.version}" if self.version
                                                              else "")
        conf = f"<msg:ExchangePlan>{self.plan}</msg:ExchangePlan>"
        if self.to is not None:
            conf += f"<msg:To>{self.to}</msg:To>"
        conf += f"<msg:From>{self.sender}</msg:From>"
        if self.message_no is not None:
            conf += f"<msg:MessageNo>{self.message_no}</msg:MessageNo>"
        if self.received_no is not None:
            conf += f"<msg:ReceivedNo>{self.received_no}</msg:ReceivedNo>"
        versions = "".join(f"<msg:AvailableVersion>{v}</msg:AvailableVersion>"
                           for v in self.versions)
        body = ""
        if self.version:
            body = (f'<Body xmlns="http://v8.1c.ru/edi/edi_stnd/EnterpriseData/{self.version}">'
                    + "\n".join(self.objects) + "</Body>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<Message xmlns:msg="http://www.1c.ru/SSL/Exchange/Message" '
                'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                f"<msg:Header><msg:Format>{fmt}</msg:Format>"
                f"<msg:CreationDate>{self.created}</msg:CreationDate>"
                f"<msg:Confirmation>{conf}</msg:Confirmation>{versions}{self.header_extra}"
                f"</msg:Header>{body}</Message>").encode("utf-8")


# -- documents (EnterpriseData 1.8), shaped after fixtures/exchange/*.xml -------------------------
ORG = ("<Организация><Ссылка>b1d0fb3b-54ff-421d-99c6-fe2fc40e4d5c</Ссылка><Наименование>ТехноСнаб"
       "</Наименование><ИНН>7728415638</ИНН><КПП>772801001</КПП><ЮридическоеФизическоеЛицо>"
       "ЮридическоеЛицо</ЮридическоеФизическоеЛицо></Организация>")
RUB_KEY = ("<Валюта><Ссылка>279ecc8a-c201-4fe1-827a-961f08b16ef1</Ссылка><ДанныеКлассификатора>"
           "<Код>643</Код><Наименование>руб.</Наименование></ДанныеКлассификатора></Валюта>")
CUSTOMER = "a0cd614a-9e70-49f9-a7dc-b4e75366584b"
CUSTOMER_KEY = (f"<Контрагент><Ссылка>{CUSTOMER}</Ссылка><Наименование>Вектор ООО</Наименование>"
                "<ИНН>7705432193</ИНН><КПП>770501001</КПП><ЮридическоеФизическоеЛицо>ЮридическоеЛицо"
                "</ЮридическоеФизическоеЛицо></Контрагент>")
CONTRACT = "d2fedcee-e24e-4a68-a5be-54c527089e79"
SETTLEMENT = ("<ДанныеВзаиморасчетов><Договор><Ссылка>" + CONTRACT + "</Ссылка>"
              "<ВидДоговора>СПокупателем</ВидДоговора>" + ORG + CUSTOMER_KEY
              + "<ВалютаВзаиморасчетов>" + RUB_KEY[len("<Валюта>"):-len("</Валюта>")] + "</ВалютаВзаиморасчетов>"
              + "<РасчетыВУсловныхЕдиницах>false</РасчетыВУсловныхЕдиницах>"
              "<Наименование>Договор поставки № 27/26-П</Наименование></Договор>"
              "<ВалютаВзаиморасчетов><Ссылка>279ecc8a-c201-4fe1-827a-961f08b16ef1</Ссылка>"
              "<ДанныеКлассификатора><Код>643</Код><Наименование>руб.</Наименование>"
              "</ДанныеКлассификатора></ВалютаВзаиморасчетов><КурсВзаиморасчетов>1</КурсВзаиморасчетов>"
              "<КратностьВзаиморасчетов>1</КратностьВзаиморасчетов>"
              "<РасчетыВУсловныхЕдиницах>false</РасчетыВУсловныхЕдиницах></ДанныеВзаиморасчетов>")


def _keys(r: str, number: str, date: str) -> str:
    return (f"<КлючевыеСвойства><Ссылка>{r}</Ссылка><Дата>{date}</Дата><Номер>{number}</Номер>"
            f"{ORG}</КлючевыеСвойства>")


def order(r: str, number: str = "ЦР00-000153", amount: str = "123000.00",
          date: str = "2026-11-17T11:04:37", comment: str | None = None) -> str:
    extra = f"<Комментарий>{comment}</Комментарий>" if comment else ""
    return (f"<Документ.ЗаказКлиента>{_keys(r, number, date)}{RUB_KEY}<Сумма>{amount}</Сумма>"
            f"{CUSTOMER_KEY}{SETTLEMENT}{extra}</Документ.ЗаказКлиента>")


def payment(r: str, order_ref: str | None, amount: str, number: str = "ТС00-000412",
            date: str = "2026-11-19T10:00:00", sale_ref: str | None = None) -> str:
    link = ""
    if order_ref:
        link += (f"<Заказ><ЗаказКлиента><Ссылка>{order_ref}</Ссылка><Дата>2026-11-17T11:04:37</Дата>"
                 f"<Номер>ЦР00-000153</Номер>{ORG}</ЗаказКлиента></Заказ>")
    row = (f"<Строка>{link}<Сумма>{amount}</Сумма>{SETTLEMENT}")
    if sale_ref:
        row += (f"<ДокументРасчетов><РеализацияТоваровУслугСсылка><Ссылка>{sale_ref}</Ссылка>"
                f"<Дата>2026-11-20T10:00:00</Дата><Номер>ТС00-000001</Номер>{ORG}"
                "</РеализацияТоваровУслугСсылка></ДокументРасчетов>")
    row += "</Строка>"
    return (f"<Документ.ПБДСРасчетыСКонтрагентами>{_keys(r, number, date)}<ОбщиеДанные>"
            f"<ДатаВыписки>{date[:10]}</ДатаВыписки>{RUB_KEY}<Сумма>{amount}</Сумма>"
            "<БанковскийСчетОрганизации><Ссылка>b5f9b6ae-55db-4e2d-b2a1-e30a56469849</Ссылка>"
            "<НомерСчета>40702810938000012345</НомерСчета><Банк><Ссылка>65f07cb5-586e-4804-b0cf-"
            "e10a21a032f2</Ссылка><ДанныеКлассификатораБанков><Наименование>АО «КБ Меридиан»"
            "</Наименование><БИК>044525674</БИК></ДанныеКлассификатораБанков></Банк><Владелец>"
            + ORG.replace("Организация>", "ОрганизацииСсылка>") +
            "</Владелец></БанковскийСчетОрганизации></ОбщиеДанные>"
            f"<ВидРасчетов>СПокупателем</ВидРасчетов>{CUSTOMER_KEY}<РасшифровкаПлатежа>{row}"
            "</РасшифровкаПлатежа></Документ.ПБДСРасчетыСКонтрагентами>")


# A row of a sale's goods table as 1C writes it, valid per 1.8 (33 elements, 66 `<`, 33 bytes a
# `<`): its references nest their key properties. `{i}` numbers the row.
GOODS_ROW = ("<Строка><НомерСтрокиДокумента>{i}</НомерСтрокиДокумента><ДанныеНоменклатуры><Номенклатура>"
             "<Ссылка>87a0454d-7965-4f42-bf7f-703467d9b21c</Ссылка><НаименованиеПолное>Монитор 27\" IPS QHD"
             "</НаименованиеПолное><КодВПрограмме>00000000{i:03d}</КодВПрограмме><Артикул>M27-Q</Артикул>"
             "<Наименование>Монитор 27\"</Наименование></Номенклатура></ДанныеНоменклатуры>"
             "<ЕдиницаИзмерения><Ссылка>70199a4a-b74d-4622-a13b-1037ddb63eff</Ссылка><ДанныеКлассификатора>"
             "<Код>796</Код><Наименование>шт</Наименование></ДанныеКлассификатора></ЕдиницаИзмерения>"
             "<Количество>12</Количество><Сумма>99600.00</Сумма><Цена>8300.00</Цена><СтавкаНДС>НДС20"
             "</СтавкаНДС><СуммаНДС>16600.00</СуммаНДС><Себестоимость>61200.00</Себестоимость>"
             "<ТипЗапасов>СобственныеТовары</ТипЗапасов><Поставщик><Ссылка>"
             "5b0f6c8e-2f1d-4c55-9d34-0c4ae0c2f7a1</Ссылка><Наименование>ООО Поставщик</Наименование>"
             "<НаименованиеПолное>Общество с ограниченной ответственностью \"Поставщик\""
             "</НаименованиеПолное><ИНН>7701234567</ИНН><КПП>770101001</КПП><ЮридическоеФизическоеЛицо>"
             "ЮридическоеЛицо</ЮридическоеФизическоеЛицо></Поставщик><СчетУчета>41.01</СчетУчета>"
             "<СчетДоходов>90.01.1</СчетДоходов><СчетРасходов>90.02.1</СчетРасходов>"
             "<СчетУчетаНДСПоРеализации>90.03</СчетУчетаНДСПоРеализации><ИдентификаторСтроки>"
             "3f2b8c1d-{i:04d}-4e5f-8a9b-0c1d2e3f4a5b</ИдентификаторСтроки></Строка>")


def sale(r: str, order_ref: str | None, number: str = "ТС00-000001",
         date: str = "2026-11-20T10:00:00", services_order: str | None = None) -> str:
    """`services_order`: the order named only in a row of its services table (1.19 on)."""
    link = (f"<Заказ><Ссылка>{order_ref}</Ссылка><Дата>2026-11-17T11:04:37</Дата>"
            f"<Номер>ЦР00-000153</Номер>{ORG}</Заказ>") if order_ref else ""
    services = (f"<Услуги><Строка><Количество>1</Количество><Сумма>99600.00</Сумма><Цена>99600.00"
                f"</Цена><Заказ><Ссылка>{services_order}</Ссылка><Дата>2026-11-17T11:04:37</Дата>"
                f"<Номер>ЦР00-000153</Номер>{ORG}</Заказ></Строка></Услуги>") if services_order else ""
    return (f"<Документ.РеализацияТоваровУслуг>{_keys(r, number, date)}<ВидОперации>РеализацияКлиенту"
            f"</ВидОперации>{RUB_KEY}<Сумма>99600.00</Сумма>{CUSTOMER_KEY}{SETTLEMENT}{link}"
            f"{services}</Документ.РеализацияТоваровУслуг>")


def sale_return(r: str, sale_ref: str, number: str = "ТС00-000002",
                date: str = "2026-11-25T10:00:00") -> str:
    return (f"<Документ.ВозвратТоваровОтПокупателя>{_keys(r, number, date)}<ВидОперации>ВозвратОтКлиента"
            f"</ВидОперации>{RUB_KEY}<Сумма>24900.00</Сумма>{CUSTOMER_KEY}{SETTLEMENT}"
            f"<ДокументРеализации><РеализацияТоваровУслугСсылка><Ссылка>{sale_ref}</Ссылка>"
            f"<Дата>2026-11-20T10:00:00</Дата><Номер>ТС00-000001</Номер>{ORG}"
            "</РеализацияТоваровУслугСсылка></ДокументРеализации><Товары><Строка><ДанныеНоменклатуры>"
            "<Номенклатура><Ссылка>87a0454d-7965-4f42-bf7f-703467d9b21c</Ссылка>"
            "<Наименование>Монитор 27\" IPS QHD</Наименование></Номенклатура></ДанныеНоменклатуры>"
            "<ЕдиницаИзмерения><Ссылка>70199a4a-b74d-4622-a13b-1037ddb63eff</Ссылка>"
            "<ДанныеКлассификатора><Код>796</Код><Наименование>шт</Наименование>"
            "</ДанныеКлассификатора></ЕдиницаИзмерения><Количество>1</Количество>"
            "<ВозвратПодДеятельность>НеОблагаетсяНДС</ВозвратПодДеятельность></Строка></Товары>"
            "</Документ.ВозвратТоваровОтПокупателя>")


def declarations(types: dict[str, tuple[str, str]], prefix: str | None = None) -> str:
    """`AvailableObjectTypes` (name → (Sending, Receiving)) and `Prefix`, for `Msg.header_extra`."""
    items = "".join(f"<msg:ObjectType><msg:Name>{n}</msg:Name><msg:Sending>{s}</msg:Sending>"
                    f"<msg:Receiving>{r}</msg:Receiving></msg:ObjectType>"
                    for n, (s, r) in types.items())
    out = f"<msg:AvailableObjectTypes>{items}</msg:AvailableObjectTypes>"
    return out + (f"<msg:Prefix>{prefix}</msg:Prefix>" if prefix else "")


def before_received_set(conn) -> None:
    """Undo migration 0012 in an open state (sqlite3), as `before_received_headers` does 0011;
    and 0013 and 0014, which come after it."""
    conn.execute("ALTER TABLE inbox DROP COLUMN staging")
    conn.execute("ALTER TABLE peers DROP COLUMN restored_at")
    conn.execute("ALTER TABLE peers DROP COLUMN restored_sent")
    conn.execute("ALTER TABLE peers DROP COLUMN received_set")
    conn.execute("ALTER TABLE peers DROP COLUMN received_high")


def before_received_headers(conn) -> None:
    """Undo migration 0011 in an open state (sqlite3): what a test needs that makes a state
    of an older onecsync by deleting the records of its later migrations."""
    conn.execute("DROP TABLE received_headers")
    conn.execute("ALTER TABLE peers DROP COLUMN stale_since")
    conn.execute("ALTER TABLE peers DROP COLUMN stale_runs")
