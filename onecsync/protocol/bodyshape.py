"""What a Body may hold, judged as the reader meets it: objects of the message's format only.

Public API: `BodyObject`, `NOT_OBJECTS`, `text_between(prev, body, source)`,
`judge_child(el, header, source)`. Pure functions of
parsed elements, used by protocol.reader (the run and `validate` alike).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.protocol.envelope import XML_SPACE
from onecsync.protocol.envelope import Header
from onecsync.protocol.envelope import local_name
from onecsync.protocol.envelope import shown


@dataclass(frozen=True)
class BodyObject:
    """One object of the body, ready to be staged.

    ``type`` is the object type (for a deletion: the type of the deleted object), ``kind`` is
    "object" or "delete", ``ref`` its Ссылка (or a digest of its key properties when 1C left
    the Ссылка out), ``xml`` the namespace-relative bytes, ``problem`` why it cannot be used
    (then it is parked, not staged for routing).
    """

    type: str
    ref: str
    kind: str
    xml: bytes
    digest: str
    line: int | None
    problem: str | None = None
    # What `trace` finds it by: a document's Номер and Дата, the counterparty's ИНН (or the
    # counterparty's own), read here from the element already parsed.
    number: str | None = None
    date: str | None = None
    inn: str | None = None


# Names that mean the message's own structure, never an object type.
NOT_OBJECTS = frozenset({"Message", "Header", "Body"})


def text_between(prev, body, source: str) -> None:
    """Text directly in the Body (before `prev`'s follower, or before the first object) has no
    place in 1C's schema: the Body is a sequence of objects. Whitespace is layout."""
    text = body.text if prev is None else prev.tail
    if not text or not text.strip(XML_SPACE):
        return
    text = shown(text.strip(XML_SPACE), 40)
    if prev is None:
        line = body.sourceline
        raise MessageRejected(f"text {text} directly in the Body, before its first object (the "
                              f"Body starts at line {line}): the Body holds only objects",
                              source=source)
    line = prev.sourceline
    raise MessageRejected(f"text {text} directly in the Body, after the object that starts at "
                          f"line {line}: the Body holds only objects", source=source)


def judge_child(el, header: Header, source: str) -> None:
    """A Body child that is not in the format's namespace is no object of this message: 1C
    looks its type up by (namespace, name) and skips what it does not find, so a known
    object written in another namespace (urn:evil, or 1.17's inside a 1.8 Body) would be
    dropped and the message confirmed. Refused instead, naming it; only the namespace of
    a format extension named in Format is let through (its objects are parked by
    `_object`). A Message, Header or Body inside the Body is no object in any namespace."""
    name, line = local_name(el, source), el.sourceline
    ns = etree.QName(el).namespace
    if name in NOT_OBJECTS:
        raise MessageRejected(f"the Body holds a <{name}> at line {line}: a message has one "
                              "Header and one Body, and the Body only objects",
                              source=source)
    if ns in tuple(header.format.split()[1:]):
        return
    version = header.version
    assert version is not None, "a Body is read only for a message with a format version"
    own = formats.namespace(version)
    name = name[:80]
    if ns is None:
        raise MessageRejected(
            f"the Body holds <{name}> in no namespace at line {line}, not an object of "
            f"format {version} ({own}): 1C would skip it, and what it carries would be lost",
            source=source)
    ns = shown(ns)
    raise MessageRejected(
        f"the Body holds <{name}> in namespace {ns} at line {line}, not an object of format "
        f"{version} ({own}): 1C would skip it, and what it carries would be lost",
        source=source)
