"""How the state keeps objects' XML: deflated, in tables of their own beside the small rows.

Public API: `pack(xml)`, `unpack(blob)`, `LEVEL`.

Payloads are nearly all of a state's bytes (6–7 KB an object against a few hundred bytes of row
and index), and almost no query wants them: counting, parking, `status` and the closing
reconcile read only the rows. So each payload sits in `inbox_payloads` (keyed by the inbox id)
or `registration_payloads` (keyed by the registration id, for a mapped copy), where only routing
and sending read it, deflated with a preset dictionary of objects as 1C writes them
(tools/make_payload_dictionary.py): the tag names that are most of an object's bytes then cost
little even in the first object of a payload. Level 3 with it is both smaller and cheaper than
level 1 or 6 without (README's Performance section has the figures). The digest stays that of
the canonical XML, never of these bytes.

A zlib stream names its dictionary by Adler-32, so every dictionary ever shipped stays readable
and a new one can be added (the next number) without touching the states made with the old.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

from onecsync.errors import StateError
from onecsync.protocol.limits import OBJECT_LIMIT

LEVEL = 3
# No stored object unpacks to more: the reader parks a larger one by its keys alone, so more is
# not what onecsync stored (a damaged or edited state; the margin is for states made before the
# reader had its limit), and unpacking it whole could take the memory of the host.
LIMIT = 4 * OBJECT_LIMIT
_HERE = Path(__file__).parent
# The dictionary new payloads are deflated with; files are never changed once shipped.
_CURRENT = "payloads-1.zdict"
_FDICT = 0x20  # zlib header: a dictionary's Adler-32 follows the first two bytes


@functools.cache
def _dictionaries() -> dict[int, bytes]:
    return {zlib.adler32(d): d for d in (p.read_bytes() for p in _HERE.glob("payloads-*.zdict"))}


@functools.cache
def _primed():
    # Loading a 32 KiB dictionary costs more than deflating an object: copy a loaded one.
    return zlib.compressobj(LEVEL, zdict=(_HERE / _CURRENT).read_bytes())


def pack(xml: bytes) -> bytes:
    z = _primed().copy()
    return z.compress(xml) + z.flush()


def _damaged(why: str) -> StateError:
    return StateError(f"a payload in the state is damaged ({why})",
                      remedy="restore the state file from a backup")


def unpack(blob: bytes) -> bytes:
    if not isinstance(blob, bytes):  # SQLite gives what was stored: text or a number is not ours
        raise _damaged(f"a {type(blob).__name__} where deflated bytes belong")
    try:
        zdict: bytes | None = b""
        if len(blob) > 6 and blob[1] & _FDICT:
            dictid = int.from_bytes(blob[2:6], "big")
            zdict = _dictionaries().get(dictid)
            if zdict is None:
                raise StateError(f"a payload in the state was deflated with dictionary "
                                 f"{dictid:08x}, which this onecsync does not have",
                                 remedy="upgrade onecsync; do not edit the state file")
        z = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        xml = z.decompress(blob, LIMIT + 1)
        if len(xml) > LIMIT:
            raise _damaged(f"it unpacks to more than {LIMIT >> 20} MiB")
        if not z.eof:
            raise zlib.error("truncated")
        return xml
    except zlib.error as exc:
        raise _damaged(str(exc)) from None
