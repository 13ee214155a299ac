"""Stored objects as elements again: parse the namespace-relative bytes, convert between versions.

Public API: `parse_object(xml, version)`, `convert(xml, source, target)`.
"""

from __future__ import annotations

import hashlib

from lxml import etree

from onecsync import formats
from onecsync.protocol.envelope import ROOT_NSMAP
from onecsync.protocol.reader import normalize_object

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_blank_text=False, huge_tree=True)
_CANONICAL = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_blank_text=True, huge_tree=True)
_DECLS = "".join(f' xmlns:{p}="{uri}"' for p, uri in ROOT_NSMAP.items())


def parse_object(xml: bytes, version: str):
    """The element of a stored object, in the namespace of `version`."""
    ns = formats.namespace(version)
    wrapper = etree.fromstring(f'<w xmlns="{ns}"{_DECLS}>'.encode() + xml + b"</w>", _PARSER)
    return wrapper[0]


def convert(xml: bytes, source: str, target: str, check: bool = False) -> tuple[bytes, list[str]]:
    """The object rewritten for the `target` version, and the fields that had to be dropped.

    Raises `formats.Unconvertible` when the target version cannot carry it, and with `check`
    also when the result is not valid per 1C's schema of the target version.
    """
    if source == target and not check:
        return xml, []
    adapted = formats.adapt(parse_object(xml, source), formats.load(source),
                            formats.load(target))
    if check:
        problems = formats.validate_object(target, adapted.element)
        if problems:
            p = problems[0]
            raise formats.Unconvertible(p.path, f"not valid in EnterpriseData {target}: {p.message}")
    return normalize_object(adapted.element, formats.namespace(target)), list(adapted.dropped)


def canonical_digest(xml: bytes, version: str) -> str:
    """A digest that two serializations of the same object share (whitespace, prefixes aside)."""
    ns = formats.namespace(version)
    wrapper = etree.fromstring(f'<w xmlns="{ns}"{_DECLS}>'.encode() + xml + b"</w>", _CANONICAL)
    return hashlib.sha256(etree.tostring(wrapper[0], method="c14n")).hexdigest()
