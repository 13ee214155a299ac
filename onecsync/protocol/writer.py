"""Write an EnterpriseData message as a stream, with the header in the order 1C's schema requires.

Public API: `write_message(fp, header, objects, body_version, progress)`, `utc_now_text()`.

The envelope is written with lxml's incremental writer; body objects arrive as the
namespace-relative bytes the reader made (see `protocol.reader`) and are copied straight into
the Body, which declares the target version's namespace as the default one.
"""

from __future__ import annotations

import datetime
from typing import Iterable
from typing import Protocol

from lxml import etree

from onecsync import clock
from onecsync import formats
from onecsync.progress import EVERY
from onecsync.progress import Task
from onecsync.protocol.envelope import MSG_NS
from onecsync.protocol.envelope import ROOT_NSMAP
from onecsync.protocol.envelope import Header

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def utc_now_text(now: datetime.datetime | None = None) -> str:
    """CreationDate as 1C writes it: the current universal date, seconds precision (XS 5315)."""
    now = now or clock.utc_now()
    return now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _leaf(xf, name: str, value) -> None:
    with xf.element(f"{{{MSG_NS}}}{name}"):
        xf.write(str(value))


def _write_header(xf, h: Header) -> None:
    with xf.element(f"{{{MSG_NS}}}Header"):
        _leaf(xf, "Format", h.format)
        _leaf(xf, "CreationDate", h.creation_date)
        with xf.element(f"{{{MSG_NS}}}Confirmation"):
            # All five are written: an older envelope schema makes every one mandatory.
            _leaf(xf, "ExchangePlan", h.exchange_plan or "")
            _leaf(xf, "To", h.to or "")
            _leaf(xf, "From", h.sender or "")
            _leaf(xf, "MessageNo", h.message_no or 0)
            _leaf(xf, "ReceivedNo", h.received_no or 0)
        for version in h.available_versions:
            _leaf(xf, "AvailableVersion", version)
        if h.object_types is not None:
            with xf.element(f"{{{MSG_NS}}}AvailableObjectTypes"):
                for decl in h.object_types:
                    with xf.element(f"{{{MSG_NS}}}ObjectType"):
                        _leaf(xf, "Name", decl.name)
                        _leaf(xf, "Sending", decl.sending)
                        _leaf(xf, "Receiving", decl.receiving)
        if h.prefix:
            _leaf(xf, "Prefix", h.prefix)


class Writable(Protocol):
    """What a message is written to: a binary file, or a dry run's byte counter."""

    def write(self, data: bytes, /) -> int: ...


def write_message(fp: Writable, header: Header, objects: Iterable[bytes] | None,
                  body_version: str | None, progress: Task | None = None) -> int:
    """Write one message to `fp`; returns the number of body objects written.

    `objects` None (or `body_version` None) writes a settings-only message: no Body at all.
    """
    fp.write(_DECLARATION)
    count = 0
    nbytes = 0
    with etree.xmlfile(fp, encoding="UTF-8") as xf:
        with xf.element("Message", nsmap=ROOT_NSMAP):
            _write_header(xf, header)
            if objects is not None and body_version is not None:
                ns = formats.namespace(body_version)
                with xf.element(f"{{{ns}}}Body", nsmap={None: ns}):
                    xf.flush()
                    # The objects are already serialized; bypassing the writer here is what
                    # keeps a relay of a million objects free of re-parsing.
                    for raw in objects:
                        fp.write(raw)
                        count += 1
                        nbytes += len(raw)
                        if progress is not None and count % EVERY == 0:
                            progress.update(count, nbytes)
    if progress is not None:
        progress.update(count, nbytes)
    return count
