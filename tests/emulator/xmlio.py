"""Write an emulated base's objects as EnterpriseData elements of a version, and read them back.

Public API: `render(obj, version, store)`, `render_deletion(type, pid, version)`,
`parse(el)` → `Parsed | None`, `namespace(version)`, `ENVELOPE_NS`, `BASE_URI`.

Writing follows the type's spec (`spec.py`) in the schema's order and skips what the version
does not have; a reference is written inline as the key properties of the object it points to,
with the Ссылка the peer knows it by. Reading takes any version: fields are found by element
name, references come back as `InRef` (resolved later by the base's matching), and whatever the
spec does not know is ignored, as 1C ignores properties its conversion rules do not read.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from tests.emulator.spec import DELETION_ELEMENT
from tests.emulator.spec import ELEMENT_TYPE
from tests.emulator.spec import SPECS
from tests.emulator.spec import Field
from tests.emulator.spec import exists_in
from tests.emulator.spec import vat_from_structure
from tests.emulator.spec import vat_to_structure
from tests.emulator.spec import vkey
from tests.emulator.store import InRef
from tests.emulator.store import Obj
from tests.emulator.store import Ref
from tests.emulator.store import Store

BASE_URI = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData"
ENVELOPE_NS = "http://www.1c.ru/SSL/Exchange/Message"
DELETION = "УдалениеОбъекта"
COMMON = "ОбщиеСвойстваОбъектовФормата"


def namespace(version: str) -> str:
    return f"{BASE_URI}/{version}"


class DanglingReference(ValueError):
    """An object points at one the base does not hold: 1C would write a broken reference."""


# -- writing ------------------------------------------------------------------------------
class _Writer:
    def __init__(self, version: str, store: Store) -> None:
        self.version = version
        self.ns = namespace(version)
        self.store = store

    def sub(self, parent, name: str, value: str | None = None):
        el = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if value is not None:
            el.text = value
        return el

    def keys(self, parent, obj: Obj) -> None:
        self.sub(parent, "Ссылка", self.store.public_id(obj.ref))
        self.fields(parent, SPECS[obj.type].keys, obj.fields)

    def ref_keys(self, parent, r: Ref) -> None:
        target = self.store.objects.get(r)
        if target is None:
            raise DanglingReference(f"{r!r} is referenced but not in the base")
        self.keys(parent, target)

    def fields(self, parent, fields: tuple[Field, ...], values: dict) -> None:
        for f in fields:
            value = values.get(f.name)
            if not exists_in(f, self.version) or value in (None, "", [], {}):
                continue
            if f.kind == "text":
                self.sub(parent, f.name, value)
            elif f.kind == "ref":
                self.ref_keys(self.sub(parent, f.name), value)
            elif f.kind == "choice":
                element = next(e for e, t in f.choices if t == value.type)
                self.ref_keys(self.sub(self.sub(parent, f.name), element), value)
            elif f.kind == "struct":
                el = self.sub(parent, f.name)
                self.fields(el, f.children, value)
                if len(el) == 0:
                    parent.remove(el)
            elif f.kind == "table":
                el = self.sub(parent, f.name)
                for row in value:
                    self.fields(self.sub(el, "Строка"), f.children, row)
            elif f.kind == "vat":
                if vkey(self.version) < (1, 17):
                    self.sub(parent, f.name, value)
                else:
                    el = self.sub(parent, f.name)
                    for name, text in vat_to_structure(value):
                        self.sub(el, name, text)
            elif f.kind == "comment":
                self.sub(self.sub(parent, COMMON), "Комментарий", value)
            else:  # pragma: no cover - a spec typo
                raise ValueError(f"unknown field kind {f.kind}")


def render(obj: Obj, version: str, store: Store):
    """The body element of `obj` in `version` (its namespace is the Body's default one)."""
    w = _Writer(version, store)
    el = etree.Element(f"{{{w.ns}}}{obj.type}", nsmap={None: w.ns})
    w.keys(w.sub(el, "КлючевыеСвойства"), obj)
    w.fields(el, SPECS[obj.type].fields, obj.fields)
    return el


def render_deletion(type_name: str, pid: str, version: str):
    w = _Writer(version, Store(None))
    el = etree.Element(f"{{{w.ns}}}{DELETION}", nsmap={None: w.ns})
    target = w.sub(w.sub(el, "СсылкаНаОбъект"), "СсылкаНаОбъект")
    w.sub(target, DELETION_ELEMENT[type_name], pid)
    return el


# -- reading ------------------------------------------------------------------------------
@dataclass
class Parsed:
    type: str
    kind: str          # object | delete
    keys: dict         # for a deletion: {"Ссылка": pid}
    fields: dict


def _local(el) -> str:
    return etree.QName(el).localname


def _children(el) -> dict:
    out: dict = {}
    for c in el:
        if isinstance(c.tag, str):
            out.setdefault(_local(c), c)
    return out


def _read(parent, fields: tuple[Field, ...]) -> dict:
    found = _children(parent)
    values: dict = {}
    for f in fields:
        el = found.get(COMMON if f.kind == "comment" else f.name)
        if el is None or f.name in values:
            continue
        if f.kind == "text":
            values[f.name] = el.text or ""
        elif f.kind == "ref":
            values[f.name] = InRef(f.target, read_keys(el, f.target))
        elif f.kind == "choice":
            inner = next(c for c in el if isinstance(c.tag, str))
            target = dict(f.choices)[_local(inner)]
            values[f.name] = InRef(target, read_keys(inner, target))
        elif f.kind == "struct":
            values[f.name] = _read(el, f.children)
        elif f.kind == "table":
            values[f.name] = [_read(row, f.children) for row in el
                              if isinstance(row.tag, str) and _local(row) == "Строка"]
        elif f.kind == "vat":
            parts = _children(el)
            values[f.name] = vat_from_structure({k: v.text for k, v in parts.items()}) \
                if parts else (el.text or "")
        elif f.kind == "comment":
            text_el = _children(el).get("Комментарий")
            if text_el is not None:
                values[f.name] = text_el.text or ""
    return values


def read_keys(el, type_name: str) -> dict:
    keys = _read(el, SPECS[type_name].keys)
    ref_el = _children(el).get("Ссылка")
    if ref_el is not None and (ref_el.text or "").strip():
        keys["Ссылка"] = ref_el.text.strip()
    return keys


def parse(el) -> Parsed | None:
    """An incoming body object; None for a type the base has no rule for (1C skips those)."""
    name = _local(el)
    if name == DELETION:
        target = el.find("{*}СсылкаНаОбъект/{*}СсылкаНаОбъект")
        inner = next((c for c in target if isinstance(c.tag, str)), None) \
            if target is not None else None
        if inner is None or _local(inner) not in ELEMENT_TYPE:
            return None
        return Parsed(ELEMENT_TYPE[_local(inner)], "delete", {"Ссылка": (inner.text or "").strip()},
                      {})
    if name not in SPECS:
        return None
    keys_el = _children(el).get("КлючевыеСвойства")
    if keys_el is None:
        raise ValueError(f"{name} has no КлючевыеСвойства")
    spec = SPECS[name]
    return Parsed(name, "object", read_keys(keys_el, name), _read(el, spec.fields))
