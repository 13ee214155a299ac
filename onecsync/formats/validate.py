"""Validate one body object or a message header and report each problem with line, path and readable message.

Public API: `validate_object`, `validate_header` → a list of `Problem`.
"""

from __future__ import annotations

import re
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


# Problems located precisely (a field path found by XPath, linear in the siblings); the rest keep
# the line libxml2 gives, so that 30,000 bad entries of a list cost no quadratic time.
LOCATED = 100
# A value quoted in libxml2's message, cut: a base may put megabytes in one field (libxml2 cuts
# its message at 64 KB, closing quote and all). A value follows ': ', a name does not.
_LONG_VALUE = re.compile(r"(?<=: )'([^']{60})[^']{20,}(?:'|$)")


def validate_object(version: str, element: etree._Element) -> list[Problem]:
    """Problems of one body object (an element in ``namespace(version)``) against that version's schema."""
    # A copy: validated in place, the object would carry every declaration in scope (see
    # normal.own_namespaces); deepcopy keeps each node's source line.
    return _validate(object_schema(version), deepcopy(element), (namespace(version), ENVELOPE_NS))


def validate_header(element: etree._Element) -> list[Problem]:
    """Problems of one ``msg:Header`` element against the envelope schema, validated where it is
    (libxml2 validates one element of a larger document as the root): a long header is not
    copied."""
    return _validate(header_schema(), element, (ENVELOPE_NS,))


def _validate(schema: etree.XMLSchema, root: etree._Element, expected: tuple[str, ...]) -> list[Problem]:
    if schema.validate(root):
        return []
    # libxml2 writes prefixed steps ("/msg:Header/msg:Format") with the document's own prefixes.
    prefixes: dict[str, str] = {p: uri for p, uri in root.nsmap.items() if p}
    for el in root.iter(tag=etree.Element):
        for prefix, uri in el.nsmap.items():
            if prefix:
                prefixes.setdefault(prefix, uri)
    problems = []
    for n, entry in enumerate(schema.error_log):
        message = _readable(entry.message, expected)
        if n >= LOCATED:
            problems.append(Problem(entry.line or root.sourceline, _path(root, root), message))
            continue
        # libxml2 writes the path from the validated element ("/msg:Header/msg:Format"), also
        # when that element sits inside a larger document.
        below = entry.path[entry.path.find("/", 1):] if entry.path.count("/") > 1 else ""
        try:
            found = root.xpath("." + below, namespaces=prefixes) if below else []
        except etree.XPathError:  # a prefix libxml2 wrote that the element does not declare
            found = []
        node = found[0] if found and isinstance(found[0], etree._Element) else root
        problems.append(Problem(node.sourceline, _path(node, root), message))
    return problems


def _readable(message: str, expected: tuple[str, ...]) -> str:
    # libxml2 writes every name as {namespace}local. The schema's own namespaces only drown the
    # message; any other namespace stays, because then the namespace is what is wrong.
    for uri in expected:
        message = message.replace(f"{{{uri}}}", "")
    return _LONG_VALUE.sub(r"'\1…'", message)


def _path(node: etree._Element, top: etree._Element) -> str:
    """The path of `node` from `top` (the validated element), e.g. "Header/AvailableVersion[2]"."""
    steps = []
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent() if node is not top else None
        same = list(parent.iterchildren(node.tag)) if parent is not None else [node]
        steps.append(name if len(same) == 1 else f"{name}[{same.index(node) + 1}]")
        node = parent
    return "/".join(reversed(steps))
