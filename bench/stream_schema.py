"""Whether checking the schema while parsing (one validation over the stream) is cheaper than one check per object.

Usage: python bench/stream_schema.py MESSAGE [--repeat 3]

Builds, from onecsync's schema writer, one schema for a whole EnterpriseData 1.8 message (the
envelope's Header and a Body of any of the version's objects), then times, interleaved, three
passes over MESSAGE: iterparse alone; iterparse with that schema (`iterparse(schema=…)`, libxml2
validating as it parses); iterparse checking each body object against
`formats.object_schema` as the reader does. Prints the least CPU seconds of each and the errors
the stream validation found (none means it accepts the message). Figures only (issue 15).
"""

from __future__ import annotations

import argparse
import time

from lxml import etree

from onecsync.formats import object_schema
from onecsync.formats import schema as S
from onecsync.formats.index import ENVELOPE_NS
from onecsync.formats.index import load

_ED = "onecsync-ed.xsd"


def message_schema(version: str) -> etree.XMLSchema:
    index = load(version)
    w = S._Writer(index, etree.XMLParser())
    w.sub(w.root, "import", namespace=ENVELOPE_NS, schemaLocation=S._ENVELOPE_LOCATION)
    w.types()
    objects = [name for name in index.types if name in index.object_types]
    for name in objects:
        w.sub(w.root, "element", name=name, type=f"tns:{name}")
    body = w.sub(w.sub(w.sub(w.root, "element", name="Body"), "complexType"), "choice",
                 minOccurs="0", maxOccurs="unbounded")
    for name in objects:
        w.sub(body, "element", ref=f"tns:{name}")
    ed = etree.tostring(w.root)

    class Resolver(etree.Resolver):
        def resolve(self, url, pubid, context):
            if url.endswith(_ED):
                return self.resolve_string(ed, context)
            if url.endswith(S._ENVELOPE_LOCATION):
                return self.resolve_string(
                    etree.tostring(S._envelope_schema_tree(etree.XMLParser())), context)
            return None

    parser = etree.XMLParser()
    parser.resolvers.add(Resolver())
    top = etree.fromstring(
        f'<xs:schema xmlns:xs="{S.XS_NS}" xmlns:msg="{ENVELOPE_NS}" xmlns:tns="{index.namespace}">'
        f'<xs:import namespace="{ENVELOPE_NS}" schemaLocation="{S._ENVELOPE_LOCATION}"/>'
        f'<xs:import namespace="{index.namespace}" schemaLocation="{_ED}"/>'
        '<xs:element name="Message"><xs:complexType><xs:sequence><xs:element ref="msg:Header"/>'
        '<xs:element ref="tns:Body" minOccurs="0"/></xs:sequence></xs:complexType></xs:element>'
        '</xs:schema>', parser)
    return etree.XMLSchema(top)


def passes(path: str, whole: etree.XMLSchema, each: etree.XMLSchema) -> dict:
    def run(schema=None, check=None) -> int:
        events = etree.iterparse(path, events=("start", "end"), schema=schema)
        for event, el in events:
            parent = el.getparent() if event == "end" else None
            if parent is not None and parent.tag.endswith("}Body"):
                if check is not None:
                    check(el)
                el.clear()
        return len(events.error_log)

    return {"parse alone": lambda: run(),
            "parse, stream validated": lambda: run(schema=whole),
            "parse, each object checked": lambda: run(check=each.validate)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("message")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    whole, each = message_schema("1.8"), object_schema("1.8")
    best: dict[str, float] = {}
    errors = 0
    for _ in range(args.repeat):
        for label, fn in passes(args.message, whole, each).items():
            started = time.process_time()
            found = fn()
            best[label] = min(best.get(label, float("inf")), time.process_time() - started)
            errors = max(errors, found)
    for label, secs in best.items():
        print(f"{label:28s} {secs:7.2f} CPU s")
    print(f"errors the stream validation logged: {errors}")


if __name__ == "__main__":
    main()
