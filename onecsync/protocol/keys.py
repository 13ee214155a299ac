"""What a body object is known by: its Ссылка, and the Номер, Дата and ИНН `trace` finds it by.

Public API: `read_keys(el, ns, type_name)`, `Keys`.

Read from the element the reader already parsed, with one walk over its КлючевыеСвойства and
the paths made once per namespace: a find per field was a fifth of what turning an element into
a staged object cost.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

from onecsync.protocol.normal import object_ref

KEYS = "КлючевыеСвойства"
# The key properties `_first_children` picks.
_FIELDS = ("Ссылка", "ИНН", "Номер", "Дата", "Контрагент")


class Keys(NamedTuple):  # not a frozen dataclass (a setattr per field): one per object received
    element: object  # the КлючевыеСвойства element
    ref: str | None  # the Ссылка, lowercased; None when 1C left it out
    number: str | None
    date: str | None
    inn: str | None  # the counterparty's own, or that of the counterparty it names


@dataclass(frozen=True)
class _Paths:
    keys: str
    counterparty: str  # Контрагент
    inn: str  # ИНН
    names: dict  # the tag of each of _FIELDS → its local name


@functools.cache
def _paths(ns: str) -> _Paths:
    return _Paths(f"{{{ns}}}{KEYS}", f"{{{ns}}}Контрагент", f"{{{ns}}}ИНН",
                  {f"{{{ns}}}{name}": name for name in _FIELDS})


def _first_children(keys, names: dict) -> dict:
    found: dict = {}
    for child in keys:
        name = names.get(child.tag)
        if name is not None and name not in found:
            found[name] = child
    return found


def _value(node) -> str | None:
    value = (node.text or "").strip() if node is not None else ""
    return value[:200] or None


def _their_inn(el, paths: _Paths):
    """`el.find("Контрагент/ИНН")`, in lxml's C filter rather than ElementPath's Python."""
    for counterparty in el.iterchildren(paths.counterparty):
        for inn in counterparty.iterchildren(paths.inn):
            return inn
    return None


def read_keys(el, ns: str, type_name: str) -> Keys | None:
    """The object's keys; None when it has no КлючевыеСвойства."""
    paths = _paths(ns)
    keys = next(el.iterchildren(paths.keys), None)  # el.find(paths.keys), without ElementPath
    if keys is None:
        return None
    found = _first_children(keys, paths.names)
    ref_el = found.get("Ссылка")
    text = (ref_el.text or "").strip() if ref_el is not None else ""
    # Not in the first КлючевыеСвойства: wherever object_ref finds it (the schema allows one).
    ref = text.lower() if text else object_ref(el, ns)
    inn = _value(found.get("ИНН")) if "Контрагент" in type_name else None
    inn = inn or _value(_their_inn(el, paths)) or (
        _value(_their_inn(keys, paths)) if "Контрагент" in found else None)
    return Keys(keys, ref, _value(found.get("Номер")), _value(found.get("Дата")), inn)
