"""Builders of EnterpriseData messages and objects for tests, shaped as 1C writes them.

The objects are small but valid per 1C's schema of their version, so that everything onecsync
relays can be checked against that schema.
"""

from __future__ import annotations

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


def declarations(types: dict[str, tuple[str, str]], prefix: str | None = None) -> str:
    """`AvailableObjectTypes` (name → (Sending, Receiving)) and `Prefix`, for `Msg.header_extra`."""
    items = "".join(f"<msg:ObjectType><msg:Name>{n}</msg:Name><msg:Sending>{s}</msg:Sending>"
                    f"<msg:Receiving>{r}</msg:Receiving></msg:ObjectType>"
                    for n, (s, r) in types.items())
    out = f"<msg:AvailableObjectTypes>{items}</msg:AvailableObjectTypes>"
    return out + (f"<msg:Prefix>{prefix}</msg:Prefix>" if prefix else "")
