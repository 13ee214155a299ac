"""Serialize a body object as namespace-relative bytes (see protocol.reader's docstring).

Public API: `normalize_object(el, body_ns)`, `own_namespaces(el)`, `serialize(el, body_ns)`,
`object_ref(el, ns)`.
"""

from __future__ import annotations

import functools
from copy import deepcopy

from lxml import etree

from onecsync.protocol.envelope import ROOT_NSMAP

_STANDARD_DECLS = [f' xmlns:{p}="{uri}"'.encode() for p, uri in ROOT_NSMAP.items()]
# What an object of a message as 1C writes it has in scope: the root's three and the Body's own.
_STANDARD_PREFIXES = frozenset({None, *ROOT_NSMAP})
_XSI_TYPE = f"{{{ROOT_NSMAP['xsi']}}}type"


def object_ref(el, ns: str) -> str | None:
    ref = el.find(f"{{{ns}}}КлючевыеСвойства/{{{ns}}}Ссылка")
    if ref is not None and (ref.text or "").strip():
        return ref.text.strip().lower()
    return None


def normalize_object(el, body_ns: str) -> bytes:
    """The namespace-relative bytes of a body object (see the module docstring)."""
    return serialize(own_namespaces(el), body_ns)


@functools.cache
def _body_decls(body_ns: str) -> tuple[bytes, bytes]:
    return f' xmlns="{body_ns}"'.encode(), f'="{body_ns}"'.encode()


def serialize(el, body_ns: str) -> bytes:
    """`normalize_object` of what `own_namespaces` returned (the reader has it already)."""
    relative, plain = _relative(el, body_ns)
    # The body namespace bound to a prefix, or a prefixed tag: rare, the slow path, once.
    return relative if plain else _relative(_rebuild(el, body_ns), body_ns)[0]


def _relative(el, body_ns: str) -> tuple[bytes, bool]:
    """`el`'s bytes less the declarations a Body and its root make, and whether that is all it
    declares of them. A rebuilt copy is taken as it is, never rebuilt again: its tag may keep
    a prefix (an extension's object, an attribute in the body namespace), and a second copy
    would be the same, forever."""
    raw = etree.tostring(el, encoding="utf-8", with_tail=False)
    end = raw.index(b">")
    decl, bound = _body_decls(body_ns)
    start_tag = raw[:end].replace(decl, b"", 1)
    for decl in _STANDARD_DECLS:
        start_tag = start_tag.replace(decl, b"", 1)
    # Joined from a view: the object's bytes are copied once, not sliced and then concatenated.
    return b"".join((start_tag, memoryview(raw)[end:])), bound not in start_tag and el.prefix is None


def own_namespaces(el):
    """`el`, or a copy declaring only the namespaces it uses when more are in scope than 1C
    declares. Serialized (or validated) in place, an element carries every declaration in
    scope: 4,000 unused ones on the root would go into every staged object and every message
    relayed (a 0.5 MB message, an 80 MB state), and make each schema check copy them."""
    if el.getparent() is None or _STANDARD_PREFIXES.issuperset(el.nsmap):
        return el
    # A copy declares what its names use; a prefix named only in an xsi:type value is used too.
    named, outer, typed = _typed(el)
    copy = deepcopy(el)
    if named:
        etree.cleanup_namespaces(copy, top_nsmap=outer, keep_ns_prefixes=sorted(named))
    if typed:
        _retype(el, copy)
    return copy


def _typed(el) -> tuple[set[str], dict[str, str], bool]:
    """The prefixes xsi:type values in `el` name, those of them bound there as in `el`'s scope
    (declared around it: a copy declares them on its top) with their namespace, and whether it
    has an xsi:type at all. A value's prefix means what is in scope where the value is, XML's
    rule for a QName in a value, which 1C's XDTO reads it by: one declared below the object
    alone must keep its declaration too."""
    scope = el.nsmap
    named: set[str] = set()
    outer: dict[str, str] = {}
    typed = False
    for e in el.iter(etree.Element):
        value = e.get(_XSI_TYPE)
        if value is None:
            continue
        typed = True
        prefix, colon, _ = value.partition(":")
        uri = e.nsmap.get(prefix) if colon else None
        if uri is not None:
            named.add(prefix)
            if scope.get(prefix) == uri:
                outer[prefix] = uri
    return named, outer, typed


def _retype(src, copy) -> None:
    """Where `copy` binds a prefix an xsi:type value of `src` names otherwise (lxml drops a
    declaration whose namespace an ancestor declares under another prefix), the value names the
    same type by a prefix `copy` binds to its namespace there (none: the default one's)."""
    for a, b in zip(src.iter(etree.Element), copy.iter(etree.Element), strict=True):
        prefix, colon, local = a.get(_XSI_TYPE, "").rpartition(":")
        uri = a.nsmap.get(prefix if colon else None) if local else None
        if uri is not None and (scope := b.nsmap).get(prefix if colon else None) != uri:
            alias = min((p or "" for p, u in scope.items() if u == uri), key=lambda p: p == "",
                        default=None)
            if alias is None:  # nothing binds it there: an attribute in it makes lxml declare it
                b.set(f"{{{uri}}}_", "")
                del b.attrib[f"{{{uri}}}_"]
                alias = next(p for p, u in b.nsmap.items() if u == uri and p)
            b.set(_XSI_TYPE, f"{alias}:{local}" if alias else local)


def _rebuild(el, body_ns: str):
    """A copy of `el` whose body-namespace names are unprefixed, with the declarations 1C makes
    on the root and the Body, and the other prefixes `el` has: an extension's keeps its own, and
    one an xsi:type value names stays bound (as `el`'s scope binds it, a root's prefix too)."""
    typed, outer, retype = _typed(el)
    nsmap: dict[str | None, str] = {None: body_ns}
    nsmap.update(ROOT_NSMAP)
    nsmap.update(outer)

    def kept(p, uri) -> bool:  # the body namespace's prefix goes, unless a value names it
        return p is not None and (uri != body_ns or p in typed)

    nsmap.update({p: uri for p, uri in el.nsmap.items() if p not in nsmap and kept(p, uri)})

    def copy(src, parent):
        tag = etree.QName(src)
        name = f"{{{body_ns}}}{tag.localname}" if tag.namespace == body_ns else src.tag
        # A prefix redeclared inside stays so where it is (an xsi:type value may name it).
        dst = etree.Element(name, nsmap=nsmap) if parent is None else etree.SubElement(
            parent, name, nsmap={p: uri for p, uri in src.nsmap.items()
                                 if kept(p, uri) and parent.nsmap.get(p) != uri})
        dst.attrib.update(src.attrib)
        dst.text = src.text
        dst.tail = src.tail if parent is not None else None
        for child in src:
            if isinstance(child.tag, str):
                copy(child, dst)
        return dst

    out = copy(el, None)
    if retype:
        _retype(el, out)
    return out

