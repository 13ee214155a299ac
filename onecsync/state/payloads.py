"""How the state keeps objects' XML: deflated, in tables of their own beside the small rows.

Public API: `pack(xml)`, `unpack(blob)`, `LEVEL`.

Payloads are nearly all of a state's bytes (6 KB an object, tab-indented, against a few hundred
bytes of row and index), and almost no query wants them: counting, parking, status and the
closing reconcile read only the rows. So each payload sits in `inbox_payloads` (keyed by the
inbox id) or `registration_payloads` (keyed by the registration id, for a mapped copy), where
nothing but routing and sending reads it, and it is deflated there. zlib at level 1: XML this
repetitive shrinks about as well as at the default level 6, for a fraction of the CPU (both
measured in README's Performance section). The digest stays that of the canonical XML, never of
these bytes.
"""

from __future__ import annotations

import zlib

LEVEL = 1


def pack(xml: bytes) -> bytes:
    return zlib.compress(xml, LEVEL)


def unpack(blob: bytes) -> bytes:
    return zlib.decompress(blob)
