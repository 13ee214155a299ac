"""The EnterpriseData message header: its model, how it is read and checked, and the order 1C needs.

Public API: `Header`, `ObjectTypeDecl`, `judge_header(el)`, `problem_text(p)`,
`too_many(where, name, count)`, `header_from_element(el)`, `parse_integer(text, what)`,
`schema_value(text, xs_type)`, `apply_whitespace(el)`,
`check_envelope(header)`, `check_incoming(...)`, `HEADER_ORDER`, `MSG_NS`. The header is 1C's XDTO type `Header` of the
``msg`` namespace (PKG-MSG): an *ordered* type, so a header out of order is rejected here as 1C's
schema would reject it. `judge_header` is the one judgement of a header: `run` refuses a message on
its first problem, `validate` lists them all, so the two agree on every header by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field

from lxml import etree

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.formats import Problem
from onecsync.formats.index import ObjectType
from onecsync.formats.index import load_envelope

MSG_NS = formats.ENVELOPE_NS
XS_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# What 1C declares on the root element (XS 5306-5309); objects may use these prefixes freely.
ROOT_NSMAP = {"msg": MSG_NS, "xs": XS_NS, "xsi": XSI_NS}

# Order and occurrence limits come from 1C's package, as the schema `validate` checks against does.
_TYPES = load_envelope()
HEADER_ORDER = tuple(p.name for p in _TYPES.object_type("Header").properties)
CONFIRMATION_ORDER = tuple(p.name for p in _TYPES.object_type("Confirmation").properties)
_MAX_OCCURS = {(t, p.name): p.max for t in ("Header", "Confirmation")
               for p in _TYPES.object_type(t).properties}


@dataclass(frozen=True)
class ObjectTypeDecl:
    """One `AvailableObjectTypes/ObjectType`: directions from the author's point of view."""

    name: str
    sending: str = ""
    receiving: str = ""


@dataclass(frozen=True)
class Header:
    format: str
    creation_date: str = ""
    exchange_plan: str | None = None
    to: str | None = None
    sender: str | None = None
    message_no: int | None = None
    received_no: int | None = None
    available_versions: tuple[str, ...] = ()
    new_from: str | None = None
    object_types: tuple[ObjectTypeDecl, ...] | None = None
    prefix: str | None = None
    has_confirmation: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def format_uri(self) -> str:
        # Extension URIs may follow the format, space-separated (XS 2281-2288).
        return self.format.split()[0] if self.format.split() else ""

    @property
    def version(self) -> str | None:
        """The body's format version, or None for a settings-only message (bare base URI)."""
        return formats.version_of(self.format_uri)

    @property
    def settings_only(self) -> bool:
        return self.format_uri.rstrip("/") == formats.BASE_URI


def local_name(el, source: str = "") -> str:
    """The element's local name; an undeclared prefix is malformed XML, not a crash."""
    tag = el.tag
    if tag.startswith("{"):
        return tag.rpartition("}")[2]
    if ":" in tag:
        raise MessageRejected(f"malformed XML at line {el.sourceline}: the namespace prefix of "
                              f"<{tag[:60]}> is not declared", source=source)
    return tag



def _msg_name(el, source: str) -> str | None:
    """The local name of a child in the ``msg`` namespace; None for one in another namespace (open
    content, which the schema admits as ``##other`` and 1C ignores)."""
    name = local_name(el, source)
    return name if el.tag == f"{{{MSG_NS}}}{name}" else None


def _text(el) -> str:
    # The value as `apply_whitespace` left it: a Unicode blank (NBSP, U+3000) is part of it.
    return el.text or ""


# XML's own whitespace (production S): what the schema's whiteSpace facet removes. A
# non-breaking space and the other Unicode blanks are text, in 1C's schema as in ours.
XML_SPACE = " \t\n\r"
_RUNS = re.compile(f"[{XML_SPACE}]+")


def schema_value(text: str | None, xs_type: str | None) -> str:
    """A header field's text as 1C's schema reads it. Every built-in type but xs:string has
    whiteSpace=collapse (xs:dateTime, xs:integer, xs:boolean): runs of XML whitespace become one
    space, none is left around the value. xs:string preserves them; but no code, version, URI,
    plan name or prefix 1C writes begins or ends with a blank, so those are only trimmed (a
    header written over several lines reads as 1C's own). libxml2 does not collapse an
    xs:dateTime itself ('2026-11-20T09:20:00 ' fails its check): hence one rule, applied here
    for onecsync's reading and the schema's check alike."""
    text = text or ""
    if xs_type == "xs:string":
        return text.strip(XML_SPACE)
    return _RUNS.sub(" ", text).strip(" ")


def apply_whitespace(el, type_name: str = "Header") -> None:
    """Set every field of a parsed ``msg:Header`` (Confirmation, AvailableObjectTypes, … below
    it) to its `schema_value`, in place, by the types of 1C's envelope package."""
    props = {p.name: p.type for p in _TYPES.object_type(type_name).properties}
    for child in el:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{MSG_NS}}}"):
            continue  # open content: not ours to read
        xs_type = props.get(child.tag.rpartition("}")[2])
        if xs_type is None:
            continue
        if isinstance(_TYPES.types.get(xs_type), ObjectType):
            apply_whitespace(child, xs_type)
        elif len(child) == 0:
            child.text = schema_value(child.text, xs_type)


def shown(text: str | None, limit: int = 80) -> str:
    """A value from the header as an error line shows it: quoted, and cut when long (a base may
    put megabytes in a field)."""
    text = text if text is None else (text[:limit] + "…" if len(text) > limit else text)
    return repr(text)


def too_many(where: str, name: str, count: int, source: str = "") -> None:
    """MessageRejected once `count` occurrences of `name` in `where` exceed 1C's schema."""
    limit = _MAX_OCCURS.get((where, name))
    if limit is not None and count > limit:
        if limit == 1:
            raise MessageRejected(f"{where} has {name} twice", source=source)
        raise MessageRejected(f"{where} has more than {limit} {name} (1C's schema allows "
                              f"{limit})", source=source)


# xs:integer as 1C writes it, once collapsed: ASCII digits, an optional sign. Python's
# int() also takes other scripts' digits (٢, ２), underscores (0_2) and any Unicode blank.
_INTEGER = re.compile(r"[+-]?[0-9]+")


def parse_integer(text: str | None, what: str, source: str = "") -> int:
    """A header number (MessageNo, ReceivedNo), or MessageRejected: the one reading of it that
    `receive` and `validate` share."""
    text = text or ""
    if not text:
        raise MessageRejected(f"{what} is empty", source=source)
    if not _INTEGER.fullmatch(text):
        raise MessageRejected(f"{what} {text[:40]!r} is not a number", source=source)
    # Counted before int(): 5,000 digits would stop int() itself with another error.
    if len(text.lstrip("+-").lstrip("0")) > 19 or abs(value := int(text)) > 2**63 - 1:
        raise MessageRejected(f"{what} {text[:40]} is out of range", source=source)
    return value


def _check_order(children, order: tuple[str, ...], where: str, source: str) -> None:
    last, count = -1, 0
    for child in children:
        name = _msg_name(child, source)
        if name not in order:
            continue  # open type: other elements are allowed and ignored
        pos = order.index(name)
        try:
            if pos < last:
                raise MessageRejected(f"{where} is out of order: {name} after {order[last]}",
                                      source=source)
            # Two MessageNo (or two From …) leave the message's meaning to a guess; 1C's XDTO
            # reader refuses them too. Only AvailableVersion is a list, of at most 100.
            count = count + 1 if pos == last else 1
            too_many(where, name, count, source)
        except MessageRejected as exc:
            exc.sourceline = child.sourceline
            raise
        last = pos


def judge_header(el, source: str = "") -> tuple[Header | None, list[Problem]]:
    """The header, or its problems: what onecsync reads from it (in its own words) or, when that
    reads fine, what 1C's schema of the envelope says (namespaces, types, attributes, dates).
    `run` refuses on the first problem, `validate` lists them all."""
    apply_whitespace(el)
    try:
        header = header_from_element(el, source)
    except MessageRejected as exc:
        line = exc.sourceline if exc.sourceline is not None else el.sourceline
        return None, [Problem(line, "Header", str(exc).removeprefix(f"{source}: "))]
    problems = formats.validate_header(el)
    return (None if problems else header), problems


def problem_text(p: Problem) -> str:
    """One header problem as `run` reports it and `validate` lists it."""
    where = p.path.removeprefix("Header").lstrip("/")
    return f"Header: {where}: {p.message}" if where else p.message


def header_from_element(el, source: str = "") -> Header:
    """Read a parsed `msg:Header`, rejecting what 1C would reject."""
    children = [c for c in el if isinstance(c.tag, str)]
    _check_order(children, HEADER_ORDER, "Header", source)
    _no_objects(el, source)
    values: dict = {"available_versions": []}
    seen_conf = False
    for child in children:
        name = _msg_name(child, source)
        if name == "Format":
            values["format"] = _text(child)
        elif name == "CreationDate":
            values["creation_date"] = _text(child)
            if not values["creation_date"]:  # a clearer line than the schema's
                raise MessageRejected("Header: CreationDate is empty", source=source)
        elif name == "Confirmation":
            seen_conf = True
            _read_confirmation(child, values, source)
        elif name == "AvailableVersion":
            values["available_versions"].append(_text(child))
        elif name == "NewFrom":
            values["new_from"] = _text(child)
        elif name == "AvailableObjectTypes":
            values["object_types"] = tuple(
                ObjectTypeDecl(name=_child_text(ot, "Name"), sending=_child_text(ot, "Sending"),
                               receiving=_child_text(ot, "Receiving"))
                for ot in child if isinstance(ot.tag, str) and _msg_name(ot, source) == "ObjectType")
        elif name == "Prefix":
            values["prefix"] = _text(child)
    if not values.get("format"):
        raise MessageRejected("Header has no Format", source=source)
    if not values["available_versions"]:
        raise MessageRejected("Header has no AvailableVersion", source=source)
    values["available_versions"] = tuple(values["available_versions"])
    return Header(has_confirmation=seen_conf, **values)


_BODY_NS = "{" + formats.BASE_URI + "/"


def _no_objects(el, source: str) -> None:
    """The Header is open (1C ignores what it does not know), but an element of an
    EnterpriseData body namespace in it is an object out of place: ignored, it would be lost
    with the message confirmed."""
    for child in el.iter(tag=etree.Element):
        if child.tag.startswith(_BODY_NS):
            name, line = etree.QName(child), child.sourceline
            exc = MessageRejected(f"the Header holds <{name.localname[:80]}> of namespace "
                                  f"{name.namespace} at line {line}: objects belong in the Body",
                                  source=source)
            exc.sourceline = line
            raise exc


def _child_text(el, name: str) -> str:
    for c in el:
        if isinstance(c.tag, str) and _msg_name(c, "") == name:
            return _text(c)
    return ""


def _read_confirmation(el, values: dict, source: str) -> None:
    children = [c for c in el if isinstance(c.tag, str)]
    _check_order(children, CONFIRMATION_ORDER, "Confirmation", source)
    for child in children:
        name = _msg_name(child, source)
        if name == "ExchangePlan":
            values["exchange_plan"] = _text(child)
        elif name == "To":
            values["to"] = _text(child)
        elif name == "From":
            values["sender"] = _text(child)
        elif name == "MessageNo":
            values["message_no"] = parse_integer(child.text, "MessageNo", source)
        elif name == "ReceivedNo":
            received = parse_integer(child.text, "ReceivedNo", source)
            if received < 0:  # a base that has received nothing says 0; below is no number
                exc = MessageRejected(f"ReceivedNo {received} is below 0: no message of ours "
                                      "has a number below 1", source=source)
                exc.sourceline = child.sourceline
                raise exc
            values["received_no"] = received


def check_envelope(header: Header, source: str = "") -> None:
    """What makes a header unusable whoever sent it and whoever reads it (`run` and `validate`
    alike): a Format that is not EnterpriseData, no Confirmation (XS 2292-2295)."""
    if header.format_uri.rstrip("/") != formats.BASE_URI and header.version is None:
        raise MessageRejected(f"Format {shown(header.format_uri)} is not EnterpriseData",
                              source=source)
    if not header.has_confirmation:
        raise MessageRejected("Header has no Confirmation (a message without exchange plan "
                              "cannot be confirmed)", source=source)


def check_incoming(header: Header, *, our_code: str, peer_code: str, peer_name: str,
                   offered: tuple[str, ...], source: str) -> None:
    """The checks 1C makes before touching anything (XS 2292-2385), as MessageRejected."""
    check_envelope(header, source)
    if not header.settings_only and header.version not in offered:
        raise MessageRejected(
            f"format version {header.version} is not one we offer ({', '.join(offered)})",
            source=source, remedy="add the version to node.formats, or lower the base's version")
    sender = (header.sender or "").lower()
    if sender != peer_code and (header.new_from or "").lower() != peer_code:
        raise MessageRejected(f"From is {shown(header.sender)}, not the {peer_name} base's code "
                              f"{peer_code}", source=source,
                              remedy=f"check bases.{peer_name}.code and the exchange folder")
    # To is optional in 1C's schema, and a base that does not know our code yet leaves it
    # empty; only a To naming another node is a wrong recipient.
    if header.to and header.to.lower() != our_code:
        raise MessageRejected(f"To is {shown(header.to)}, not our node code {our_code}",
                              source=source, remedy="check node.code in the config and in 1C")
