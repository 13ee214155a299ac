"""Turn 1C's XDTO package definitions into onecsync's compact per-version format indexes.

Reads every ``<Package>/Package.bin`` under the XDTO folder (default: the shared reference copy next
to the repository) and writes ``onecsync/formats/data/ed-<major.minor>.json.gz`` for each
EnterpriseData package and ``envelope.json.gz`` for the ExchangeMessage package, and
``object-types.json.gz``: each version's body object type names (what every run checks its flows
against, without reading a whole index). The output is
deterministic (package order kept, gzip mtime 0) so that a rerun is byte-identical and a diff of
the committed files shows real format changes only.

Type names in the index are written relative to the package: a bare name for the package's own
namespace, ``xs:`` for XML Schema built-ins and ``msg:`` for the exchange-message envelope.

    python tools/gen_formats.py [--xdto DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

from lxml import etree

XDTO_NS = "http://v8.1c.ru/8.1/xdto"
XS_NS = "http://www.w3.org/2001/XMLSchema"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# The same two URIs as onecsync.formats; repeated so this build tool runs without the package installed.
BASE_URI = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData"
ENVELOPE_NS = "http://www.1c.ru/SSL/Exchange/Message"

SOURCE = {
    "repository": "1c-syntax/ssl_3_1_eng",
    "commit": "5c8e0a862f547dea67862e84df71dbf2ff133488",
    "license": "CC BY 4.0",
    "copyright": "OOO 1C-Soft (1C:Standard Subsystems Library 3.1.12)",
}

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_XDTO = REPO_ROOT.parent / "shared" / "reference" / "enterprisedata" / "xdto"
DEFAULT_OUT = REPO_ROOT / "onecsync" / "formats" / "data"

# Attributes that are structure, not facets; everything else on a value type is a facet.
_VALUE_ATTRS = {"name", "base", "variety", "memberTypes", XSI_TYPE}
_OBJECT_FLAGS = ("abstract", "open", "ordered", "sequenced")


def _x(tag: str) -> str:
    return f"{{{XDTO_NS}}}{tag}"


class _Names:
    """Writes type references relative to one package's namespace."""

    def __init__(self, target_ns: str) -> None:
        # target_ns last: inside the envelope package its own types are bare names too.
        self.prefixes = {XS_NS: "xs:", ENVELOPE_NS: "msg:", target_ns: ""}

    def name(self, ns: str, local: str) -> str:
        try:
            return self.prefixes[ns] + local
        except KeyError:
            raise ValueError(f"type {{{ns}}}{local} is outside the namespaces onecsync knows") from None

    def prefixed(self, el: etree._Element, value: str) -> str:
        prefix, _, local = value.rpartition(":")
        return self.name(el.nsmap[prefix or None], local)

    def clark(self, value: str) -> str:
        ns, local = re.fullmatch(r"\{(.*)\}(.*)", value).groups()
        return self.name(ns, local)


def _value_type(el: etree._Element, names: _Names) -> dict:
    out: dict = {}
    if el.get("base"):
        out["base"] = names.prefixed(el, el.get("base"))
    if el.get("variety"):
        out["variety"] = el.get("variety")
    if el.get("memberTypes"):
        out["memberTypes"] = [names.clark(m) for m in el.get("memberTypes").split()]
    facets = [[k, v] for k, v in el.attrib.items() if k not in _VALUE_ATTRS]
    facets += [["pattern", p.text] for p in el.iterchildren(_x("pattern"))]
    if facets:
        out["facets"] = facets
    enumerations = [e.text or "" for e in el.iterchildren(_x("enumeration"))]
    if enumerations:
        out["enumerations"] = enumerations
    return out


def _object_type(el: etree._Element, names: _Names) -> dict:
    out: dict = {}
    if el.get("base"):
        out["base"] = names.prefixed(el, el.get("base"))
    for flag in _OBJECT_FLAGS:
        if el.get(flag) is not None:
            out[flag] = el.get(flag) == "true"
    out["properties"] = [_property(p, names) for p in el.iterchildren(_x("property"))]
    return out


def _property(el: etree._Element, names: _Names) -> dict:
    out: dict = {"name": el.get("name")}
    type_def = el.find(_x("typeDef"))
    if el.get("type"):
        out["type"] = names.prefixed(el, el.get("type"))
    elif type_def is None:
        # XDTO reads a property without type as "any value" (1.20 has three, in ВыплатыСамозанятым).
        out["type"] = "xs:anyType"
    elif type_def.get(XSI_TYPE) == "ObjectType":
        out["typeDef"] = {"kind": "object", **_object_type(type_def, names)}
    else:
        out["typeDef"] = {"kind": "value", **_value_type(type_def, names)}
    lower, upper = int(el.get("lowerBound", "1")), int(el.get("upperBound", "1"))
    if lower != 1:
        out["lowerBound"] = lower
    if upper != 1:
        out["upperBound"] = upper
    if el.get("nillable") == "true":
        out["nillable"] = True
    if el.get("form"):
        out["form"] = el.get("form")
    return out


def index_package(path: Path) -> tuple[str, dict] | None:
    """(output file name, index) for one Package.bin, or None for a package onecsync does not use."""
    root = etree.parse(str(path)).getroot()
    ns = root.get("targetNamespace")
    package = path.parent.name
    if ns == ENVELOPE_NS:
        file_name = "envelope.json.gz"
    elif ns.startswith(BASE_URI + "/"):
        file_name = f"ed-{ns.rpartition('/')[2]}.json.gz"
    else:
        return None
    names = _Names(ns)
    index = {
        "source": {"package": package, **SOURCE, "path": f"src/cf/XDTOPackages/{package}/Ext/Package.bin"},
        "namespace": ns,
        "valueTypes": [{"name": t.get("name"), **_value_type(t, names)} for t in root.iterchildren(_x("valueType"))],
        "objectTypes": [{"name": t.get("name"), **_object_type(t, names)} for t in root.iterchildren(_x("objectType"))],
    }
    return file_name, index


def generate(xdto_dir: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    bodies: dict[str, list[str]] = {}
    for package in sorted(xdto_dir.glob("*/Package.bin")):
        result = index_package(package)
        if result is None:
            print(f"skipped {package.parent.name}: not an EnterpriseData or envelope package", file=sys.stderr)
            continue
        file_name, index = result
        if any(p.name == file_name for p in written):
            raise ValueError(f"{package.parent.name}: a second package for {file_name}")
        text = json.dumps(index, ensure_ascii=False, separators=(",", ":"))
        target = out_dir / file_name
        # mtime=0 and no file name in the gzip header keep reruns byte-identical.
        target.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
        written.append(target)
        if file_name != "envelope.json.gz":
            bodies[file_name[len("ed-"):-len(".json.gz")]] = body_object_types(index)
    target = out_dir / OBJECT_TYPES_FILE
    text = json.dumps(dict(sorted(bodies.items())), ensure_ascii=False, separators=(",", ":"))
    target.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    written.append(target)
    return written


OBJECT_TYPES_FILE = "object-types.json.gz"


def body_object_types(index: dict) -> list[str]:
    """The body object types of one index, sorted: derived from the envelope's Object, plus the
    deletion notice (as onecsync.formats.FormatIndex.object_types; a test holds the two equal)."""
    names = {t["name"] for t in index["objectTypes"] if t.get("base") == "msg:Object"}
    if any(t["name"] == "УдалениеОбъекта" for t in index["objectTypes"] + index["valueTypes"]):
        names.add("УдалениеОбъекта")
    return sorted(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xdto", type=Path, default=DEFAULT_XDTO, help="folder of <Package>/Package.bin")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .json.gz files")
    args = parser.parse_args(argv)
    if not args.xdto.is_dir():
        parser.error(f"no XDTO folder at {args.xdto}")
    for path in generate(args.xdto, args.out):
        print(f"{path.stat().st_size:>8}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
