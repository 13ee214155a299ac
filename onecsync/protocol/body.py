"""A Body element as a `BodyObject`: its type, identity and kind, and why it cannot be used.

Public API: `BodyObject`, `body_object(el, ns, index, source, oversized, limit, check_schema)`,
`DELETION`, `is_keys(el)`.

Nothing is dropped unseen: an object 1C would skip (a type its format lacks, a format
extension's, a deletion of an unknown reference) or one too large to keep whole becomes a
BodyObject with a `problem`, parked in the state and counted, never confirmed as taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

from onecsync import formats
from onecsync.protocol.envelope import local_name
from onecsync.protocol.keys import KEYS
from onecsync.protocol.keys import read_keys
from onecsync.protocol.limits import OBJECT_LIMIT
from onecsync.protocol.limits import TOO_LARGE
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.normal import object_ref
from onecsync.protocol.normal import own_namespaces

DELETION = "УдалениеОбъекта"


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


def is_keys(el) -> bool:
    return isinstance(el.tag, str) and el.tag.endswith("}" + KEYS)


def body_object(el, ns: str, index, source: str, *, oversized: int = 0, limit: int = OBJECT_LIMIT,
                check_schema: bool = False) -> BodyObject:
    """The BodyObject a Body child `el` of namespace `ns` (format `index`) stands for;
    `oversized`: the bytes it was read from, once past `limit` (then kept by its keys)."""
    local_name(el, source)
    qname = etree.QName(el)
    type_name = qname.localname
    if oversized:
        return _too_large(el, ns, type_name, oversized, limit)
    if qname.namespace != ns:  # a format extension's (`elements` refused any other)
        return _untaken(el, ns, f"{{{qname.namespace}}}{type_name}",
                             f"an object of the format extension {qname.namespace}, "
                             "which onecsync does not know")
    if type_name not in index.object_types:
        return _untaken(el, ns, type_name, f"{type_name} is not an object type of "
                             f"EnterpriseData {index.version}")
    if type_name == DELETION:
        return _deletion(el, ns, index, check_schema)
    el = own_namespaces(el)
    xml = normalize_object(el, ns)
    digest = hashlib.sha256(xml).hexdigest()[:32]
    keys = read_keys(el, ns, type_name)
    if keys is None:
        return BodyObject(type_name, "~" + digest, "object", xml, digest, el.sourceline,
                          problem="the object has no КлючевыеСвойства")
    # 1C may leave Ссылка out and match by search fields; the key properties are then the
    # object's identity for us too.
    ref = keys.ref or "~" + hashlib.sha256(etree.tostring(keys.element)).hexdigest()[:32]
    return BodyObject(type_name, ref, "object", xml, digest, el.sourceline,
                      _schema_problem(el, index, check_schema), keys.number, keys.date, keys.inn)



def _untaken(el, ns: str, type_name: str, what: str, kind: str = "object",
             ref: str | None = None) -> BodyObject:
    """What 1C skips (a type its format lacks) is parked, not dropped: kept in the state
    with its bytes, never sent on, and counted where a human looks (the run's line, exit 7,
    `status`), rather than confirmed to the base as delivered while nobody took it."""
    el = own_namespaces(el)
    xml = normalize_object(el, ns)
    digest = hashlib.sha256(xml).hexdigest()[:32]
    ref = ref or object_ref(el, ns) or "~" + digest
    problem = (f"{what}: 1C skips it, and so does onecsync (kept here, not sent on); "
               "if it matters, have the bases exchange it in a version that has it")
    return BodyObject(type_name, ref, kind, xml, digest, el.sourceline, problem=problem)



def _too_large(el, ns: str, type_name: str, oversized: int, limit: int) -> BodyObject:
    """Parked by its keys alone: the rest of the message goes on."""
    for child in list(el):
        if not is_keys(child):
            el.remove(child)
    el = own_namespaces(el)
    xml = normalize_object(el, ns)
    digest = hashlib.sha256(xml).hexdigest()[:32]
    ref = object_ref(el, ns) if el.find(f"{{{ns}}}{KEYS}") is not None else None
    problem = (f"{TOO_LARGE} {limit >> 20} MiB ({oversized >> 20} MiB in the "
               "message): parked by its key properties alone; make it smaller in the base "
               "(or its attachments), then register it again")
    kind = "delete" if type_name == DELETION else "object"
    return BodyObject(type_name, ref or "~" + digest, kind, xml, digest, el.sourceline,
                      problem=problem)



def _schema_problem(el, index, check_schema: bool) -> str | None:
    if not check_schema or formats.object_schema(index.version).validate(el):
        return None
    first = formats.validate_object(index.version, el)[0]
    return f"not valid per EnterpriseData {index.version}: {first.path}: {first.message}"



def _deletion(el, ns: str, index, check_schema: bool) -> BodyObject:
    el = own_namespaces(el)
    xml = normalize_object(el, ns)
    digest = hashlib.sha256(xml).hexdigest()[:32]
    target = el.find(f"{{{ns}}}СсылкаНаОбъект/{{{ns}}}СсылкаНаОбъект")
    ref_el = next((c for c in target if isinstance(c.tag, str)), None) \
        if target is not None else None
    if ref_el is None or not (ref_el.text or "").strip():
        return BodyObject(DELETION, "~" + digest, "delete", xml, digest, el.sourceline,
                          problem="the deletion names no object")
    ref_name = etree.QName(ref_el)
    target_type = index.ref_element_to_type(ref_name.localname) \
        if ref_name.namespace == ns else None
    if target_type is None:
        what = f"{{{ref_name.namespace}}}{ref_name.localname}" \
            if ref_name.namespace != ns else ref_name.localname
        return _untaken(el, ns, DELETION, f"a deletion of a {what[:120]}, a reference "
                             f"no object type of EnterpriseData {index.version} has",
                             kind="delete", ref=(ref_el.text or "").strip().lower()[:200])
    return BodyObject(target_type, ref_el.text.strip().lower(), "delete", xml, digest,
                      el.sourceline, problem=_schema_problem(el, index, check_schema))
