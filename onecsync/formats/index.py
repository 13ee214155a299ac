"""Load the generated per-version format indexes (``data/*.json.gz``) into read-only type tables.

Public API: `load(version)` → `FormatIndex`, `load_envelope()`, `object_types`, `version_key`,
`version_of`, `namespace`, `UnknownVersion`, the type tables `ObjectType`, `ValueType`, `Prop`.

Type names follow the generator's convention: a bare name is a type of the index's own namespace,
``xs:`` an XML Schema built-in, ``msg:`` a type of the exchange-message envelope namespace.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

BASE_URI = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData"
ENVELOPE_NS = "http://www.1c.ru/SSL/Exchange/Message"

# The element of a deletion message that lists one reference element per referenceable type.
_ANY_REF_TYPE, _ANY_REF_PROPERTY = "ЛюбаяСсылка", "СсылкаНаОбъект"
_DELETION_TYPE = "УдалениеОбъекта"
_VERSION_FILE = re.compile(r"ed-(\d+(?:\.\d+)+)\.json\.gz")


class UnknownVersion(ValueError):
    """No format index is shipped for this EnterpriseData version."""


def version_key(version: str) -> tuple[int, ...]:
    """Sort key comparing versions numerically ("1.8" < "1.10")."""
    return tuple(int(part) for part in version.split("."))


def namespace(version: str) -> str:
    return f"{BASE_URI}/{version}"


def version_of(uri: str) -> str | None:
    """The version of a bare EnterpriseData body namespace, whether or not onecsync ships data for it."""
    prefix = BASE_URI + "/"
    if uri.startswith(prefix) and re.fullmatch(r"\d+(\.\d+)+", uri[len(prefix):]):
        return uri[len(prefix):]
    return None


@dataclass(frozen=True)
class ValueType:
    name: str | None  # None for an inline typeDef
    base: str | None
    variety: str | None
    member_types: tuple[str, ...]
    facets: tuple[tuple[str, str], ...]  # in package order; "pattern" may repeat
    enumerations: tuple[str, ...]


@dataclass(frozen=True)
class Prop:
    name: str
    type: str | None  # None when the type is declared inline
    inline: ObjectType | ValueType | None
    min: int
    max: int | None  # None = unbounded
    nillable: bool
    form: str | None = None  # XDTO's Element/Attribute/Text; absent (= Element) in every shipped package


@dataclass(frozen=True)
class ObjectType:
    name: str | None  # None for an inline typeDef
    base: str | None
    open: bool
    ordered: bool  # False: the properties are alternatives (a choice), see schema.py
    sequenced: bool
    abstract: bool
    properties: tuple[Prop, ...]


TypeDef = ObjectType | ValueType


def _value_type(raw: dict, name: str | None = None) -> ValueType:
    return ValueType(
        name=name,
        base=raw.get("base"),
        variety=raw.get("variety"),
        member_types=tuple(raw.get("memberTypes", ())),
        facets=tuple((k, v) for k, v in raw.get("facets", ())),
        enumerations=tuple(raw.get("enumerations", ())),
    )


def _object_type(raw: dict, name: str | None = None) -> ObjectType:
    return ObjectType(
        name=name,
        base=raw.get("base"),
        open=raw.get("open", False),
        ordered=raw.get("ordered", True),  # XDTO's default
        sequenced=raw.get("sequenced", False),
        abstract=raw.get("abstract", False),
        properties=tuple(_prop(p) for p in raw["properties"]),
    )


def _prop(raw: dict) -> Prop:
    inline = raw.get("typeDef")
    if inline is not None:
        inline = _object_type(inline) if inline["kind"] == "object" else _value_type(inline)
    upper = raw.get("upperBound", 1)
    return Prop(
        name=raw["name"],
        type=raw.get("type"),
        inline=inline,
        min=raw.get("lowerBound", 1),
        max=None if upper == -1 else upper,
        nillable=raw.get("nillable", False),
        form=raw.get("form"),
    )


def _ref_target(ref_type: str | None) -> str | None:
    """Reference value type to object type: СправочникСсылка.Контрагенты -> Справочник.Контрагенты."""
    kind, dot, rest = (ref_type or "").partition(".")
    return f"{kind.removesuffix('Ссылка')}.{rest}" if dot and kind.endswith("Ссылка") else None


class FormatIndex:
    """The types of one XDTO package, in package order, with the look-ups onecsync needs."""

    def __init__(self, version: str, raw: dict) -> None:
        self.version = version
        self.namespace: str = raw["namespace"]
        self.source: Mapping[str, str] = MappingProxyType(raw["source"])
        types: dict[str, TypeDef] = {v["name"]: _value_type(v, v["name"]) for v in raw["valueTypes"]}
        types.update((o["name"], _object_type(o, o["name"])) for o in raw["objectTypes"])
        self.types: Mapping[str, TypeDef] = MappingProxyType(types)
        # Body objects are exactly the types derived from the envelope's abstract Object, plus the
        # deletion notice (which SSL writes as a body object although it has no base).
        self.object_types = frozenset(
            name
            for name, t in types.items()
            if (isinstance(t, ObjectType) and t.base == "msg:Object") or name == _DELETION_TYPE
        )
        self._ref_types = self._read_ref_choice()

    def _read_ref_choice(self) -> dict[str, str]:
        any_ref = self.types.get(_ANY_REF_TYPE)
        if not isinstance(any_ref, ObjectType):
            return {}
        choice = next((p.inline for p in any_ref.properties if p.name == _ANY_REF_PROPERTY), None)
        if not isinstance(choice, ObjectType):
            return {}
        # Element names are not a safe guide ("КатегорияДоговораСсылка" refers to КатегорииДоговоров,
        # "РаспоряжениеНаОтгрузку" has no suffix); the reference value type is.
        pairs = ((p.name, _ref_target(p.type)) for p in choice.properties)
        return {element: target for element, target in pairs if target}

    def has_type(self, name: str) -> bool:
        return name in self.types

    def object_type(self, type_name: str) -> ObjectType:
        """The object type of that name; KeyError for a name that is not one."""
        t = self.types[type_name]
        if not isinstance(t, ObjectType):
            raise KeyError(f"{type_name} is a value type")
        return t

    def properties(self, type_name: str) -> list[Prop]:
        """Declared properties of an object type, in order; KeyError for a name that is not one."""
        return list(self.object_type(type_name).properties)

    def resolve(self, p: Prop) -> TypeDef | str:
        """The type of a property: its inline type, the package's type it names, or that name
        (a built-in such as xs:string)."""
        if p.inline is not None:
            return p.inline
        assert p.type is not None, "every shipped property names its type or declares it inline"
        return self.types.get(p.type, p.type)

    def enumeration_in_force(self, t: TypeDef | str | None) -> ValueType | None:
        """The nearest type along `t`'s restriction bases (inside the package) that lists values."""
        while isinstance(t, ValueType):
            if t.enumerations:
                return t
            t = None if t.base is None else self.types.get(t.base, t.base)  # a union has no base
        return None

    def ref_element_to_type(self, element_local_name: str) -> str | None:
        """The object type a reference element of ``ЛюбаяСсылка`` names.

        "КонтрагентыСсылка" -> "Справочник.Контрагенты"; None for a name that is not such an element.
        """
        return self._ref_types.get(element_local_name)

    def ref_element(self, type_name: str) -> str | None:
        """The reference element of ``ЛюбаяСсылка`` that names an object of `type_name` (what a
        deletion notice names it by); None for a type no such element names."""
        return next((e for e, t in self._ref_types.items() if t == type_name), None)

    def __repr__(self) -> str:
        return f"<FormatIndex {self.version} ({len(self.types)} types)>"


def _read(file: Path) -> dict:
    return json.loads(gzip.decompress(file.read_bytes()))


# A plain path: importlib.resources would import tempfile, zipfile and typing at every start,
# and the package is always installed as files (package-data).
_DATA = Path(__file__).with_name("data")
_FILES = {m.group(1): f for f in _DATA.iterdir() if (m := _VERSION_FILE.fullmatch(f.name))}
VERSIONS: tuple[str, ...] = tuple(sorted(_FILES, key=version_key))


@cache
def load(version: str) -> FormatIndex:
    if version not in _FILES:
        raise UnknownVersion(f"no EnterpriseData {version} format data (have {', '.join(VERSIONS)})")
    return FormatIndex(version, _read(_FILES[version]))


@cache
def load_envelope() -> FormatIndex:
    return FormatIndex("envelope", _read(_DATA.joinpath("envelope.json.gz")))


@cache
def object_types(version: str) -> frozenset[str]:
    """`load(version).object_types` without building the index: every run checks its config's
    flow types against every offered version. Read from the generated list of each version's
    body object types (`data/object-types.json.gz`, 4 KB): parsing the 7 whole indexes for it
    was 0.2 s of CPU at every cron start, half of a nothing-new run."""
    if version not in _FILES:
        raise UnknownVersion(f"no EnterpriseData {version} format data (have {', '.join(VERSIONS)})")
    return frozenset(_body_types()[version])


@cache
def _body_types() -> dict[str, list[str]]:
    return _read(_DATA.joinpath("object-types.json.gz"))
