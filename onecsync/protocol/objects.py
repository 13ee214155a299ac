"""Stored objects as elements again: parse the namespace-relative bytes, convert between versions.

Public API: `parse_object(xml, version)`, `convert(xml, source, target)`.
"""

from __future__ import annotations

from lxml import etree

from onecsync import formats
from onecsync.protocol.envelope import ROOT_NSMAP
from onecsync.protocol.reader import normalize_object

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_blank_text=False, huge_tree=True)
_DECLS = "".join(f' xmlns:{p}="{uri}"' for p, uri in ROOT_NSMAP.items())


def parse_object(xml: bytes, version: str):
    """The element of a stored object, in the namespace of `version`."""
    ns = formats.namespace(version)
    wrapper = etree.fromstring(f'<w xmlns="{ns}"{_DECLS}>'.encode() + xml + b"</w>", _PARSER)
    return wrapper[0]


def convert(xml: bytes, source: str, target: str) -> tuple[bytes, list[str]]:
    """The object rewritten for the `target` version, and the fields that had to be dropped.

    Raises `formats.Unconvertible` when the target version cannot carry it.
    """
    if source == target:
        return xml, []
    adapted = formats.adapt(parse_object(xml, source), formats.load(source),
                            formats.load(target))
    return normalize_object(adapted.element, formats.namespace(target)), list(adapted.dropped)
