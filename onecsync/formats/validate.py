"""Validate one body object or a message header and report each problem with line, path and readable message."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass

from lxml import etree

from .index import ENVELOPE_NS
from .index import namespace
from .schema import header_schema
from .schema import object_schema


@dataclass(frozen=True)
class Problem:
    line: int | None  # line in the document the element was parsed from, when known
    path: str  # e.g. "Документ.РеализацияТоваровУслуг/Товары/Строка[2]/Количество"
    message: str


def validate_object(version: str, element: etree._Element) -> list[Problem]:
    """Problems of one body object (an element in ``namespace(version)``) against that version's schema."""
    return _validate(object_schema(version), element, (namespace(version), ENVELOPE_NS))


def validate_header(element: etree._Element) -> list[Problem]:
    """Problems of one ``msg:Header`` element against the envelope schema."""
    return _validate(header_schema(), element, (ENVELOPE_NS,))


def _validate(schema: etree.XMLSchema, element: etree._Element, expected: tuple[str, ...]) -> list[Problem]:
    # The element may sit inside a whole message; the schemas only declare it as a root.
    # deepcopy keeps each node's source line, so lines still point into the original document.
    root = deepcopy(element)
    if schema.validate(root):
        return []
    tree = root.getroottree()
    # libxml2 writes prefixed steps ("/msg:Header/msg:Format") with the document's own prefixes.
    prefixes: dict[str, str] = {}
    for el in root.iter(tag=etree.Element):
        for prefix, uri in el.nsmap.items():
            if prefix:
                prefixes.setdefault(prefix, uri)
    problems = []
    for entry in schema.error_log:
        found = tree.xpath(entry.path, namespaces=prefixes) if entry.path else []
        node = found[0] if found and isinstance(found[0], etree._Element) else root
        problems.append(Problem(node.sourceline, _path(node), _readable(entry.message, expected)))
    return problems


def _readable(message: str, expected: tuple[str, ...]) -> str:
    # libxml2 writes every name as {namespace}local. The schema's own namespaces only drown the
    # message; any other namespace stays, because then the namespace is what is wrong.
    for uri in expected:
        message = message.replace(f"{{{uri}}}", "")
    return message


def _path(node: etree._Element) -> str:
    steps = []
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        same = list(parent.iterchildren(node.tag)) if parent is not None else [node]
        steps.append(name if len(same) == 1 else f"{name}[{same.index(node) + 1}]")
        node = parent
    return "/".join(reversed(steps))
