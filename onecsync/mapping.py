"""The `mapping:` section: per target base and object type, drop fields, set constants, rename values.

Public API: `TypeRules`, `MappingError`, `apply_rules(element, rules, index)`,
`restore_dropped(element, kept, paths, index)`, `path_exists(index, type_name, path)`,
`field_at(index, type_name, path)`, `find_all(element, path)`, `organization_of(element)`.

Paths are element names below the object separated by "/", e.g. `Товары/Строка/СтавкаНДС`; a
path that goes through a table (`Строка`) addresses every row. Rules change a copy of the object
in the version it arrived in; converting to the peer's version comes after, so a rule written
once works whatever versions the bases negotiate. A `values` rule on a VAT rate is written with
the rate's codes (НДС20, БезНДС) and renames the rate in either of its shapes (formats/vat.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from lxml import etree

from onecsync.formats import FormatIndex
from onecsync.formats import ObjectType
from onecsync.formats import vat
from onecsync.topology import ORGANIZATION


class MappingError(ValueError):
    """A rule cannot be applied to this object; the object is parked with this reason."""


@dataclass(frozen=True)
class TypeRules:
    drop: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.drop or self.set or self.values)


def _ns(element) -> str:
    return etree.QName(element).namespace


def find_all(element, path: str) -> list:
    ns = _ns(element)
    return element.findall("/".join(f"{{{ns}}}{part}" for part in path.split("/")))


def first_text(element, path: str) -> str | None:
    found = find_all(element, path)
    return (found[0].text or "").strip() if found else None


# Where an object names the organization it belongs to: a document's or a contract's key
# Организация, and a bank account's owner when the account is an organization's (review R4 #4:
# read as no organization, an excluded organization's account went to the CRM).
_ORG_PATHS = ("КлючевыеСвойства/Организация", "Организация",
              "КлючевыеСвойства/Владелец/ОрганизацииСсылка")


def organization_of(element) -> tuple[str | None, str | None] | None:
    """(ИНН, Ссылка) of the organization an object belongs to (or is), either of them None
    where the object does not say it; None when it names no organization."""
    if etree.QName(element).localname == ORGANIZATION:
        return (first_text(element, "КлючевыеСвойства/ИНН") or None,
                first_text(element, "КлючевыеСвойства/Ссылка") or None)
    for path in _ORG_PATHS:
        if found := find_all(element, path):
            return first_text(found[0], "ИНН") or None, first_text(found[0], "Ссылка") or None
    return None


def _child_type(index: FormatIndex, type_def, name: str):
    """The type of property `name` of `type_def` (a type name or an inline ObjectType)."""
    t = index.types.get(type_def) if isinstance(type_def, str) else type_def
    if not isinstance(t, ObjectType):
        return None, None
    for prop in t.properties:
        if prop.name == name:
            return prop, (prop.inline or prop.type)
    return None, None


def field_at(index: FormatIndex, type_name: str, path: str):
    """The property (`Prop`) the last element of `path` is, in `type_name` of `index`'s version;
    None if the path is no field there."""
    current, prop = type_name, None
    for part in path.split("/"):
        prop, current = _child_type(index, current, part)
        if prop is None:
            return None
    return prop


def path_exists(index: FormatIndex, type_name: str, path: str) -> bool:
    return field_at(index, type_name, path) is not None


def _order_children(parent, type_def, index: FormatIndex) -> None:
    """Put the children back in the order the type declares (1C types are ordered)."""
    t = index.types.get(type_def) if isinstance(type_def, str) else type_def
    if not isinstance(t, ObjectType):
        return
    rank = {p.name: i for i, p in enumerate(t.properties)}
    children = list(parent)
    ordered = sorted(children, key=lambda c: rank.get(etree.QName(c).localname, len(rank)))
    if ordered != children:
        for child in children:
            parent.remove(child)
        parent.extend(ordered)


def _create(element, path: str, index: FormatIndex):
    """Create the missing elements along `path` where the schema puts them; the last one."""
    ns = _ns(element)
    node, type_def = element, etree.QName(element).localname
    for part in path.split("/"):
        prop, child_type = _child_type(index, type_def, part)
        if prop is None:
            raise MappingError(f"{path}: {part} is not a field of this object in "
                               f"EnterpriseData {index.version}")
        found = node.find(f"{{{ns}}}{part}")
        if found is None:
            found = etree.SubElement(node, f"{{{ns}}}{part}")
            _order_children(node, type_def, index)
        node, type_def = found, child_type
    return node


def apply_rules(element, rules: TypeRules, index: FormatIndex):
    """A copy of `element` with the rules applied."""
    out = copy.deepcopy(element)
    for path in rules.drop:
        for el in find_all(out, path):
            el.getparent().remove(el)
    for path, mapping in rules.values:
        table = dict(mapping)
        for el in find_all(out, path):
            if len(el):
                _rename_structure(el, path, table)
                continue
            value = (el.text or "").strip()
            if value in table:
                el.text = table[value]
    for path, value in rules.set:
        targets = find_all(out, path) or [_create(out, path, index)]
        for el in targets:
            if len(el):
                raise MappingError(f"{path}: is a structure; set only applies to a plain value")
            el.text = value
    return out


def restore_dropped(element, kept, paths: tuple[str, ...], index: FormatIndex):
    """A copy of `element` (a base's version of an object we sent it with `paths` dropped) with
    what `kept` (the version the other base holds) has at each path that `element` has nothing
    at: the base never had those fields, so its change must not empty them in the other base.
    A path through a table row is left as it is (rows of two versions do not pair up)."""
    out = copy.deepcopy(element)
    for path in paths:
        *above, _ = path.split("/")
        if any(not _blank(el) for el in find_all(out, path)):
            continue  # the base has a value of its own there: its change carries it
        parents = find_all(kept, "/".join(above)) if above else [kept]
        if len(parents) != 1 or "Строка" in above:
            continue
        found = find_all(kept, path)
        if not found:
            continue
        for el in find_all(out, path):
            el.getparent().remove(el)
        parent = _create(out, "/".join(above), index) if above else out
        parent.extend(copy.deepcopy(el) for el in found)
        _order_children(parent, _type_at(index, etree.QName(out).localname, above), index)
    return out


def _blank(element) -> bool:
    return len(element) == 0 and not (element.text or "").strip()


def _type_at(index: FormatIndex, type_name: str, parts: list[str]):
    current = type_name
    for part in parts:
        _, current = _child_type(index, current, part)
    return current


def _rename_structure(el, path: str, table: dict[str, str]) -> None:
    """A `values` rule on a structure: a VAT rate from 1.17 on (formats/vat.py) is renamed by its
    code (НДС20, БезНДС), as the rule reads in every version; any other structure has no value
    to rename, and a rule silently doing nothing would be worse than the object parked."""
    code = vat.code_of(el)
    if code is None:
        raise MappingError(f"{path}: is a structure; values only applies to a plain value "
                           "or a VAT rate")
    if code not in table:
        return
    fields = vat.to_structure(table[code])
    if fields is None:
        raise MappingError(f"{path}: {table[code]} is no VAT rate of EnterpriseData 1.17 or "
                           "later (like НДС20, НДС10, НДС0, БезНДС)")
    ns = _ns(el)
    for child in list(el):
        el.remove(child)
    for name, text in fields:
        etree.SubElement(el, f"{{{ns}}}{name}").text = text
