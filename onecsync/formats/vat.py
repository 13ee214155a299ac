"""VAT rates between their two shapes: an enumeration value up to 1.16, a structure from 1.17.

Public API: `ENUM_TYPE`, `STRUCTURE_TYPE`, `to_structure(code)`, `to_code(values)`, `code_of(element)`.

Up to 1.16 a rate is one value of `СтавкиНДС` (НДС20, НДС10_110, БезНДС …); from 1.17 it is a
`КлючевыеСвойстваСтавкиНДС` (Ставка, РасчетнаяСтавка, НеОблагается, ВидСтавки). Both say the
same thing, so `adapt` carries a rate across instead of dropping it: a relay between a base on
1.17 and one on an older version would otherwise lose the rate of every item and row. Only the
rates whose kind is certain are mapped (general 18/20/22 %, reduced 10 %, zero, exempt, and the
calculated 18/118, 20/120, 10/110); any other rate stays unconvertible, and is dropped as before.
"""

from __future__ import annotations

import re

from lxml import etree

ENUM_TYPE = "СтавкиНДС"
STRUCTURE_TYPE = "КлючевыеСвойстваСтавкиНДС"

_GENERAL = {"18", "20", "22"}
_REDUCED = {"10"}
_CODE = re.compile(r"^НДС(\d+)(?:_(\d+))?$")


def to_structure(code: str) -> list[tuple[str, str]] | None:
    """The 1.17 fields (in order) for an enumeration value, or None when the kind is unknown."""
    if code == "БезНДС":
        return [("РасчетнаяСтавка", "false"), ("НеОблагается", "true"), ("ВидСтавки", "БезНДС")]
    m = _CODE.match(code)
    if m is None:
        return None
    rate, calculated = m.group(1), m.group(2) is not None
    if calculated and m.group(2) != str(100 + int(rate)):
        return None
    if rate == "0" and not calculated:
        kind = "Нулевая"
    elif rate in _GENERAL:
        kind = "ОбщаяРасчетная" if calculated else "Общая"
    elif rate in _REDUCED:
        kind = "ПониженнаяРасчетная" if calculated else "Пониженная"
    else:
        return None
    return [("Ставка", rate), ("РасчетнаяСтавка", "true" if calculated else "false"),
            ("НеОблагается", "false"), ("ВидСтавки", kind)]


def to_code(values: dict[str, str]) -> str | None:
    """The enumeration value for the 1.17 fields, or None when there is none."""
    kind = values.get("ВидСтавки")
    if kind == "БезНДС" or values.get("НеОблагается") == "true":
        return "БезНДС"
    if kind == "Нулевая":
        return "НДС0"
    rate = (values.get("Ставка") or "").strip()
    if "." in rate:
        rate = rate.rstrip("0").rstrip(".")
    if kind in ("Общая", "Пониженная"):
        code = f"НДС{rate}"
    elif kind in ("ОбщаяРасчетная", "ПониженнаяРасчетная"):
        code = f"НДС{rate}_{100 + int(rate)}" if rate.isdigit() else ""
    else:
        return None
    return code if to_structure(code) is not None else None


def code_of(element: etree._Element) -> str | None:
    """The enumeration value for a 1.17 structure element (its child elements' texts)."""
    # The local name by slicing the tag: etree.QName per child was a third of a rate's cost.
    return to_code({c.tag.rpartition("}")[2]: (c.text or "").strip() for c in element
                    if isinstance(c.tag, str)})
