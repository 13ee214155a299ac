"""The bounds on one body object, said once for the reader that enforces them and the state that
relies on them (this module imports nothing, so that `status` can know them without lxml).

Public API: `OBJECT_LIMIT`, `TAG_LIMIT`, `TOO_LARGE`.
"""

from __future__ import annotations

# One body object read from more bytes than this (1C's largest real ones, a document with a
# table of thousands of rows, are a few MB) is parked without its fields: what it held past
# here is dropped while it is parsed (between two chunks of input, protocol.bodyscan), so a
# run's memory stays bounded by this plus one chunk's worth and one text node (libxml2 caps
# those at 10 MB without huge_tree), and its parked copy is its keys alone.
OBJECT_LIMIT = 64 << 20
# The same for one read from more markup than this (its `<`, counted on the bytes: start and end
# tags): an object under OBJECT_LIMIT is built whole, and lxml builds ~130 bytes an element, so
# 64 MiB of `<a/>` (16 million) took 2.2 GB where a real document of 64 MiB takes 0.5 GB. A row
# of a goods table as 1C writes it is ~40 elements, 80 `<` (its references nest their key
# properties), 27 bytes a `<`: a document of 20,000 such rows is 1.6 million, and the densest
# real markup (16 bytes a `<`: short names, numbers) reaches OBJECT_LIMIT first. Past here,
# tiny elements cost ~550 MB at most, what a real object at OBJECT_LIMIT does (bench/object_memory.py).
TAG_LIMIT = 4 << 20
TOO_LARGE = "the object is larger than"  # its parking reason: a retry cannot send it (store)
