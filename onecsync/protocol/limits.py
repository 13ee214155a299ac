"""The bounds on one body object, said once for the reader that enforces them and the state that
relies on them (this module imports nothing, so that `status` can know them without lxml).

Public API: `OBJECT_LIMIT`, `TAG_LIMIT`, `ATTRIBUTE_WEIGHT`, `TOO_LARGE`.
"""

from __future__ import annotations

# One body object read from more bytes than this (1C's largest real ones, a document with a
# table of thousands of rows, are a few MB) is parked without its fields: what it held past
# here is dropped while it is parsed (between two chunks of input, protocol.bodyscan), so a
# run's memory stays bounded by this plus one chunk's worth and one text node (libxml2 caps
# those at 10 MB without huge_tree), and its parked copy is its keys alone.
OBJECT_LIMIT = 64 << 20
# The same for one read from more markup than this (its `<`, counted on the bytes: start and end
# tags): under OBJECT_LIMIT an object is built whole, at ~130 bytes an element in lxml, so 63 MiB
# of `<a/>` (16 million) took 2.2 GB where a real document of 63 MiB takes 0.5 GB. A row of a
# goods table as 1C writes it (tests/factory.GOODS_ROW: 33 elements, its references nesting their
# key properties) is 66 `<`, 33 bytes a `<`: a document of 20,000 rows is 1.3 million, one of
# OBJECT_LIMIT 2 million. So what 1C writes meets the byte bound first; this one is met first by
# markup under 16 bytes a `<` on average (`<a/>`: 4), which past here costs ~0.55 GB at most,
# what a real object at OBJECT_LIMIT does (bench/object_memory.py).
TAG_LIMIT = 4 << 20
# An attribute (its `=`, counted on the same bytes: namespace declarations are attributes too)
# counts as this many `<` towards TAG_LIMIT: built, one costs what four elements do (~550 bytes
# for `a=""`), and the per-element cap (protocol.markup, 10,000) does not bound an object: 820
# elements of 9,000 empty attributes (58 MB, 2,400 `<`) took 3.8 GB (review R5 H1). So an
# object's markup items, `<` + 4 `=`, are what TAG_LIMIT bounds: a flood of attributes is parked
# past a million of them (~0.55 GB built, as for `<a/>`), while 1C writes almost none in a body
# object (a goods row: 66 `<`, no `=`; an object's namespace declarations, a few): a document
# at OBJECT_LIMIT stays at 2 million as before. An `=` in text counts too, harmlessly: 1C's
# base64 pads with two at most, and a text of millions of `=` is no real field.
ATTRIBUTE_WEIGHT = 4
TOO_LARGE = "the object is larger than"  # its parking reason: a retry cannot send it (store)
