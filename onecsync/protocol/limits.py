"""The bound on one body object, said once for the reader that enforces it and the state that
relies on it (this module imports nothing, so that `status` can know it without lxml).

Public API: `OBJECT_LIMIT`, `TOO_LARGE`.
"""

from __future__ import annotations

# One body object read from more bytes than this (1C's largest real ones, a document with a
# table of thousands of rows, are a few MB) is parked without its fields: what it held past
# here is dropped while it is parsed (between two chunks of input, protocol.bodyscan), so a
# run's memory stays bounded by this plus one chunk's worth and one text node (libxml2 caps
# those at 10 MB without huge_tree), and its parked copy is its keys alone.
OBJECT_LIMIT = 64 << 20
TOO_LARGE = "the object is larger than"  # its parking reason: a retry cannot send it (store)
