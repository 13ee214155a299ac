"""Stored objects as elements again: parse the namespace-relative bytes, convert between versions.

Public API: `parse_object(xml, version)`, `convert(xml, source, target)`, `deletion_of(type_name,
ref, version)`.
"""

from __future__ import annotations

import hashlib
import re

from lxml import etree

from onecsync import formats
from onecsync.errors import StateError
from onecsync.protocol.envelope import ROOT_NSMAP
from onecsync.protocol.normal import normalize_object

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_blank_text=False, huge_tree=True)
_CANONICAL = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_blank_text=True, huge_tree=True)
_DECLS = "".join(f' xmlns:{p}="{uri}"' for p, uri in ROOT_NSMAP.items())
_PLAIN_WRAPPER = '<w xmlns="{ns}">'
# What makes `formats.adapt` write more than the renamed element without its indentation: a
# comment, PI or CDATA (`<!`, `<?`); an attribute or namespace declaration (a `=` in a tag); an
# element of another namespace (a prefix, which `_PLAIN_WRAPPER` leaves undeclared, so that the
# parse refuses it); an element whose text is only blanks (the walk keeps it in a value, drops it
# in a structure: found on what relabel writes by `formats.bytewise.BLANK_TEXT`, as only such a
# text, or one that starts with a blank, follows a `>`). Text never holds a raw "<". This runs
# on every object converted: one-byte scans first (`bytes.find`, memchr: 0.4 µs over a 10 KB
# document, where a regex of the class [=!?] took 21), the full pattern only for the few objects
# whose text has one.
_MAYBE_MARKUP = (b"=", b"!", b"?")
_MARKUP = re.compile(rb"<[!?]|<[^<>=]*+=")


def _parse(xml: bytes, version: str, parser: etree.XMLParser):
    ns = formats.namespace(version)
    try:
        wrapper = etree.fromstring(f'<w xmlns="{ns}"{_DECLS}>'.encode() + xml + b"</w>", parser)
    except etree.XMLSyntaxError as exc:
        # Every object here was judged well-formed when it was stored: the state is damaged.
        raise StateError(f"an object stored in the state is not XML any more ({exc})",
                         remedy="restore the state file from a backup") from None
    if len(wrapper) != 1:
        raise StateError("an object stored in the state is not one element any more",
                         remedy="restore the state file from a backup")
    return wrapper[0]


def parse_object(xml: bytes, version: str):
    """The element of a stored object, in the namespace of `version`."""
    return _parse(xml, version, _PARSER)


def convert(xml: bytes, source: str, target: str, check: bool = False,
            valid: bool = False) -> tuple[bytes, list[str]]:
    """The object rewritten for the `target` version, and the fields that had to be dropped.

    Raises `formats.Unconvertible` when the target version cannot carry it, and with `check`
    also when the result is not valid per 1C's schema of the target version. `valid` says the
    object is valid per 1C's schema of `source` (checked when it was received): where the
    result is valid by construction then (`formats.proof`), the target's schema is not asked.
    """
    if source == target and not check:
        return xml, []
    if source != target and _plain(xml):
        if valid:
            # Where relabel's changes can be placed by tag, they are made on the bytes, without
            # a parse or a serialization (formats.bytewise): half a document's cost.
            done = formats.bytewise(xml, source, target)
            if done is not None:
                return done
        # Most objects only change namespace and lose what the target lacks: read into the
        # target's, checked by its schema, they are what the walk below writes, at a tenth of
        # its cost (formats.relabel).
        ns = formats.namespace(target)
        try:
            wrapper = etree.fromstring(_PLAIN_WRAPPER.format(ns=ns).encode() + xml + b"</w>",
                                       _CANONICAL)
        except etree.XMLSyntaxError:
            wrapper = None  # another namespace's prefix, or not XML: parse_object below says
        if wrapper is not None and len(wrapper) == 1:
            dropped = formats.relabel(wrapper[0], source, target, valid)
            if dropped is not None:
                from onecsync.formats.bytewise import BLANK_TEXT  # (imported by now)

                out = normalize_object(wrapper[0], ns)
                if BLANK_TEXT.search(out) is None:
                    return out, dropped
    adapted = formats.adapt(parse_object(xml, source), formats.load(source),
                            formats.load(target))
    if check:
        problems = formats.validate_object(target, adapted.element)
        if problems:
            p = problems[0]
            raise formats.Unconvertible(p.path, f"not valid in EnterpriseData {target}: {p.message}")
    return normalize_object(adapted.element, formats.namespace(target)), list(adapted.dropped)


def _plain(xml: bytes) -> bool:
    eq, bang, question = _MAYBE_MARKUP
    return eq not in xml and bang not in xml and question not in xml \
        or _MARKUP.search(xml) is None


def canonical_digest(xml: bytes, version: str, empty: bool = True) -> str:
    """A digest that two serializations of the same object share (whitespace, prefixes aside;
    and, unless `empty`, elements with nothing in them: 1C reads an empty value or structure as
    the one left out, and leaves it out when it writes)."""
    element = _parse(xml, version, _CANONICAL)
    if not empty:
        for el in reversed(list(element.iter())):  # children first: a parent may empty out
            parent = el.getparent()
            if parent is not None and len(el) == 0 and not (el.text or "").strip() \
                    and not el.attrib:
                parent.remove(el)
    return hashlib.sha256(etree.tostring(element, method="c14n")).hexdigest()


def deletion_of(type_name: str, ref: str, version: str) -> bytes:
    """The stored bytes of 1C's deletion notice (УдалениеОбъекта) of an object, in `version`.

    A base is sent one for what it got from us and must no longer hold as it is (a settlement
    document that no longer names anything of that base)."""
    element = formats.load(version).ref_element(type_name)
    if element is None:
        raise formats.Unconvertible("УдалениеОбъекта", f"no reference of EnterpriseData {version} "
                                    f"names {type_name}")
    ns = formats.namespace(version)
    notice = etree.Element(f"{{{ns}}}УдалениеОбъекта", nsmap={None: ns})
    named = etree.SubElement(etree.SubElement(notice, f"{{{ns}}}СсылкаНаОбъект"),
                             f"{{{ns}}}СсылкаНаОбъект")
    etree.SubElement(named, f"{{{ns}}}{element}").text = ref
    return normalize_object(notice, ns)
