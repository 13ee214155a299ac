"""A small stand-in for a 1C base behind a remote transport: its numbering and registrations.

Public API: `StandInBase(code, objects=...)` with `export_message()` and `import_message(data)`
(the interface `tests.exchange_service.ExchangeService` serves), `register(obj)`, and what it
holds: `received` (objects by Ссылка), `imported_numbers`, `pending()`.

It numbers its messages as 1C does (SentNo + 1 on every export), re-sends every registration
not yet confirmed by our ReceivedNo, skips a message numbered at or below what it already
received, and checks every message onecsync delivers against 1C's schemas.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lxml import etree

from onecsync import formats
from tests import factory
from tests.conftest import assert_valid_message
from tests.conftest import parse_message

MSG_NS = {"m": formats.ENVELOPE_NS}


class StandInBase:
    def __init__(self, code: str, objects: list[str] | None = None,
                 node: str = factory.NODE) -> None:
        self.code = code
        self.node = node
        self.sent_no = 0
        self.received_no = 0
        self.registrations: list[list] = []  # [object xml, stamped with message no or None]
        self.received: dict[str, str] = {}   # Ссылка → the object's element name
        self.imported_numbers: list[int] = []
        self.fail_imports = 0
        for obj in objects or []:
            self.register(obj)

    def register(self, obj: str) -> None:
        self.registrations.append([obj, None])

    def pending(self) -> list[str]:
        return [obj for obj, _ in self.registrations]

    def export_message(self) -> bytes | None:
        self.sent_no += 1
        for reg in self.registrations:
            if reg[1] is None:
                reg[1] = self.sent_no
        return factory.Msg(sender=self.code, to=self.node, message_no=self.sent_no,
                           received_no=self.received_no, objects=self.pending(),
                           created=f"2026-11-20T10:{self.sent_no % 60:02d}:00").xml()

    def import_message(self, data: bytes) -> None:
        if self.fail_imports:
            self.fail_imports -= 1
            raise RuntimeError("Не удалось записать объект (stand-in import failure)")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"Message_{self.node}_{self.code}.xml"
            path.write_bytes(data)
            assert_valid_message(path)
            header, version, objects = parse_message(path)
        conf = header.find("m:Confirmation", MSG_NS)
        assert conf.findtext("m:To", namespaces=MSG_NS) == self.code
        assert conf.findtext("m:From", namespaces=MSG_NS) == self.node
        number = int(conf.findtext("m:MessageNo", namespaces=MSG_NS))
        if number <= self.received_no:
            return  # "Сообщение обмена было ранее принято"
        confirmed = int(conf.findtext("m:ReceivedNo", namespaces=MSG_NS) or 0)
        self.registrations = [r for r in self.registrations
                              if r[1] is None or r[1] > confirmed]
        ns = formats.namespace(version)
        for el in objects:
            ref = el.findtext(f"{{{ns}}}КлючевыеСвойства/{{{ns}}}Ссылка")
            self.received[ref] = etree.QName(el).localname
        self.received_no = number
        self.imported_numbers.append(number)
